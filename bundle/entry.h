/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_ENTRY_H
#define KW_BUNDLE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"
#include "crypto/identity.h"

/*
 * The feed entry (design section 4, docs/protocol.md): header, signature, payload. The
 * signature covers "kawan/entry/1" || header bytes; the header commits to the payload by
 * BLAKE2b-256 hash and length, so a payload can be withheld while the chain still verifies.
 */

#define KW_ENTRY_VERSION 1
#define KW_HEADER_MAX 192       /* an encoded header is at most about 140 bytes */
#define KW_SIG_LEN 64
#define KW_ENTRY_SIG_CTX "kawan/entry/1"
#define KW_ENTRY_FLAG_SEALED 1u
#define KW_ENTRY_FLAGS_KNOWN 1u

typedef struct kw_header {
    uint8_t origin[32];
    uint64_t seq;
    bool has_prev;
    uint8_t prev[32];
    uint64_t time_ms;
    uint8_t tlp;
    uint8_t payload_hash[32];
    uint64_t payload_len;
    uint64_t flags;
} kw_header;

/* Encodes h in its one canonical msgpack form. *len gets the size (<= KW_HEADER_MAX). */
kw_err kw_header_encode(const kw_header *h, uint8_t out[static KW_HEADER_MAX], size_t *len);

/*
 * Decodes a header and checks it: version 1, seq >= 1, prev nil exactly when seq is 1, tlp
 * known, payload_len <= KW_PAYLOAD_MAX, known flags, sealed flag set exactly for sealed TLP
 * levels, and the bytes are the canonical encoding (so one header has one entry id).
 * KW_ERR_DECODE otherwise.
 */
kw_err kw_header_decode(kw_header *h, const uint8_t *buf, size_t len);

/* BLAKE2b-256 of the payload bytes. */
void kw_payload_hash(uint8_t out[static 32], const uint8_t *payload, size_t len);

/* Entry id: BLAKE2b-256 of header bytes || signature. */
void kw_entry_id(uint8_t out[static 32], const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static KW_SIG_LEN]);

/* Signs header bytes as the entry signature. */
void kw_entry_sign(const kw_identity *id, uint8_t sig[static KW_SIG_LEN], const uint8_t *hdr,
    size_t hdr_len);

/*
 * Checks one entry on its own: header decodes, the signature by the header's origin is
 * valid, and, when payload is not NULL, its length and hash match the header. The chain
 * (prev) needs the store and is checked there. *h receives the decoded header.
 * KW_ERR_DECODE, KW_ERR_BADSIG or KW_ERR_HASH.
 */
kw_err kw_entry_check(kw_header *h, const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static KW_SIG_LEN], const uint8_t *payload, size_t payload_len);

#endif
