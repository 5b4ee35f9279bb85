/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_TIMEFMT_H
#define KW_BUNDLE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

/* Wall-clock time now, ms since the epoch. */
int64_t kw_time_now_ms(void);

/* Formats ms as RFC 3339 UTC with milliseconds, "2026-11-28T07:20:00.123Z" (cap >= 25). */
void kw_time_format(char *buf, size_t cap, int64_t ms);

/*
 * Parses an RFC 3339 timestamp ("2026-11-28T07:20:00Z", fractions and +hh:mm offsets
 * allowed; a bare date "2026-11-28" means midnight UTC) into ms since the epoch.
 * KW_ERR_INVAL otherwise.
 */
kw_err kw_time_parse(const char *s, int64_t *out);

/*
 * Parses a time as the CLI takes it: RFC 3339 as above, or a duration back from now
 * ("30m", "24h", "7d", "2w"), or forward with a leading '+' ("+30d", for --valid-until).
 */
kw_err kw_time_parse_cli(const char *s, int64_t now_ms, int64_t *out);

#endif
