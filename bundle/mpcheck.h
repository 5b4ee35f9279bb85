/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_MPCHECK_H
#define KW_BUNDLE_MPCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

/* Deepest container nesting any kawan message uses, with room to spare. */
#define KW_MSGPACK_MAX_DEPTH 16

/*
 * Walks the msgpack bytes of exactly one object without allocating and checks that it is
 * well formed, that it ends exactly at len, that no container nests deeper than max_depth,
 * and that no container announces more elements than there are bytes left. Run before
 * msgpack_unpack_next on untrusted input: the unpacker allocates what a header announces,
 * so a five-byte array header would otherwise ask for gigabytes.
 * KW_ERR_DECODE if any check fails.
 */
kw_err kw_msgpack_check(const uint8_t *buf, size_t len, int max_depth);

/*
 * The same checks for the one object that starts at *at (it need not end at len); on
 * success *at is where it ends.
 */
kw_err kw_msgpack_skip(const uint8_t *buf, size_t len, size_t *at, int max_depth);

/* Reads the header of a map (map true) or an array at *at: *n its pairs or elements, and *at
 * moves past the header. KW_ERR_DECODE when something else is there. */
kw_err kw_msgpack_container(const uint8_t *buf, size_t len, size_t *at, bool map, uint32_t *n);

#endif
