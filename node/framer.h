/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_FRAMER_H
#define KW_NODE_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

/*
 * Reassembles length-prefixed records from a byte stream that arrives in arbitrary pieces:
 * the transport's Noise frames (2-byte big-endian length) and the application messages in
 * the decrypted stream (4-byte big-endian length). The buffer grows only as bytes arrive,
 * so a length prefix alone never reserves memory, and a length over the maximum or of zero
 * is refused before anything is stored.
 */
typedef struct kw_framer {
    uint8_t *buf;
    size_t len;      /* bytes held (prefix included) */
    size_t cap;
    size_t prefix;   /* 2 or 4 */
    size_t max;      /* largest record accepted */
    bool secret;     /* plaintext: buffer in sodium_malloc memory, wiped */
    bool done;       /* the last call returned a record: drop it on the next call */
} kw_framer;

void kw_framer_init(kw_framer *f, size_t prefix_bytes, size_t max_record, bool secret);
void kw_framer_free(kw_framer *f);

/*
 * Consumes bytes from p (len bytes) until one record completes or the input runs out.
 * *used gets the bytes consumed. Returns KW_ERR_OK with the record in *rec / *rec_len
 * (valid until the next call), KW_ERR_AGAIN when all input was consumed without completing
 * a record, KW_ERR_TOOBIG for a length over the maximum, KW_ERR_DECODE for a zero length,
 * KW_ERR_NOMEM. After an error the framer must not be fed again.
 */
kw_err kw_framer_feed(kw_framer *f, const uint8_t *p, size_t len, size_t *used,
    const uint8_t **rec, size_t *rec_len);

/* True while a record has begun but not completed. */
bool kw_framer_partial(const kw_framer *f);

#endif
