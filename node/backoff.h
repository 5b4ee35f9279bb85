/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_BACKOFF_H
#define KW_NODE_BACKOFF_H

#include <stdint.h>

/*
 * Redial delays: exponential from base_ms, doubling per failure up to max_ms, with "full
 * jitter" (a uniform draw in [d/2, d]) so that nodes restarted together do not redial in
 * lockstep. A penalty (misbehaving peer) starts the sequence further up.
 */
typedef struct kw_backoff {
    uint32_t base_ms;
    uint32_t max_ms;
    uint32_t failures;
} kw_backoff;

void kw_backoff_init(kw_backoff *b, uint32_t base_ms, uint32_t max_ms);

/* Records a failure and returns the delay before the next attempt. rnd is a random value. */
uint32_t kw_backoff_next(kw_backoff *b, uint32_t rnd);

/* Records misbehaviour: skips ahead by `steps` doublings. */
void kw_backoff_penalise(kw_backoff *b, uint32_t steps);

/* A successful session resets the sequence. */
void kw_backoff_reset(kw_backoff *b);

#endif
