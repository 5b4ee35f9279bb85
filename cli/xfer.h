/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CLI_XFER_H
#define KW_CLI_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

/* Helpers shared by `kawan export` (export.c) and `kawan import` (import.c). */

/* Most --origin / --to options one command takes. */
#define KW_XFER_MAX_NODES KW_BUNDLE_MAX_RECIPIENTS

/*
 * Resolves node references (roster names, this node's name, node ids) into a malloc'd list of
 * distinct ids (*out, *count; the caller frees *out). roster_only: every id must be this node
 * or a roster member; drop_self: this node is left out of the list. what names the option in
 * messages. Returns 0, or prints the error and returns KW_CLI_FAIL.
 */
int kw__xfer_resolve_nodes(kw_cli_node *n, const char *const *refs, size_t nrefs, bool roster_only,
    bool drop_self, const char *what, uint8_t (**out)[32], size_t *count);

/* Whether id is among ids[0..n). */
bool kw__xfer_has_id(const uint8_t (*ids)[32], size_t n, const uint8_t id[static 32]);

/* "s" unless v is 1, for messages. */
const char *kw__xfer_plural(uint64_t v);

#endif
