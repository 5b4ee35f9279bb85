/* SPDX-License-Identifier: Apache-2.0 */
#include "node/backoff.h"

void kw_backoff_init(kw_backoff *b, uint32_t base_ms, uint32_t max_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
    b->failures = 0;
}

uint32_t kw_backoff_next(kw_backoff *b, uint32_t rnd)
{
    uint64_t d = b->base_ms;
    for (uint32_t i = 0; i < b->failures && d < b->max_ms; i++) {
        d *= 2;
    }
    if (d > b->max_ms) {
        d = b->max_ms;
    }
    if (b->failures < 64) {
        b->failures++;
    }
    uint64_t half = d / 2;
    return (uint32_t)(half + (half ? rnd % (half + 1) : 0));
}

void kw_backoff_penalise(kw_backoff *b, uint32_t steps)
{
    b->failures += steps;
    if (b->failures > 64) {
        b->failures = 64;
    }
}

void kw_backoff_reset(kw_backoff *b)
{
    b->failures = 0;
}
