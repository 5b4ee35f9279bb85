/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_BUNDLE_H
#define KW_BUNDLE_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/value.h"
#include "crypto/err.h"

/*
 * The bundle: the plaintext payload of one feed entry, a list of indicators with STIX 2.1
 * Indicator semantics. A bundle owns all the strings its indicators point to (an arena), so
 * freeing the bundle frees everything. Wire form: docs/protocol.md, "Payload".
 */

/* Upper bounds, checked by the decoder before anything is allocated. */
#define KW_BUNDLE_MAX_INDICATORS 100000u
#define KW_BUNDLE_MAX_LIST 64u     /* labels, indicator_types, kill chain phases, recipients */
#define KW_BUNDLE_MAX_TEXT 65536u  /* description and other free text */
#define KW_BUNDLE_DEFAULT_SIZE 1000u /* indicators per entry when publishing a list */
#define KW_BUNDLE_MAX_RECIPIENTS 1024u
#define KW_PAYLOAD_MAX (16u * 1024u * 1024u) /* payload bytes, plain or sealed */
/* What a publisher puts in one entry at most, by kw_indicator_size_bound: half the payload
 * limit leaves room for the bundle's recipients and a seal's slots. A list of indicators with
 * long texts then takes fewer than KW_BUNDLE_DEFAULT_SIZE per entry. */
#define KW_BUNDLE_TARGET_BYTES (KW_PAYLOAD_MAX / 2u)

typedef struct kw_kill_chain_phase {
    const char *kill_chain_name;
    const char *phase_name;
} kw_kill_chain_phase;

typedef struct kw_indicator {
    uint8_t id[16];           /* the UUID of "indicator--<uuid>" */
    kw_obs_type type;
    const char *value;        /* normalised value, NUL-terminated */
    uint32_t value_len;
    int64_t created;          /* ms since the epoch, UTC */
    int64_t modified;
    int64_t valid_from;
    int64_t valid_until;      /* 0: no end */
    int confidence;           /* 0-100, or -1 when not set */
    bool revoked;
    const char *name;         /* optional, NULL when absent */
    const char *description;  /* optional */
    const char **labels;
    uint32_t n_labels;
    const char **indicator_types;
    uint32_t n_indicator_types;
    kw_kill_chain_phase *kill_chain_phases;
    uint32_t n_kill_chain_phases;
    /* Set by kw_bundle_decode: where this indicator's encoding lies in the payload it was
     * decoded from (enc_len 0 when it was not decoded from one). */
    uint32_t enc_off;
    uint32_t enc_len;
} kw_indicator;

typedef struct kw_bundle {
    kw_indicator *items;
    uint32_t n;
    uint32_t cap;
    const char *description; /* optional bundle-level text */
    /* For sealed entries: the recipients' node ids (32-byte Ed25519 keys), inside the
     * encrypted plaintext so only recipients learn who else received it. */
    uint8_t (*recipients)[32];
    uint32_t n_recipients;
    struct kw__arena *arena;
} kw_bundle;

/* Creates an empty bundle. */
kw_err kw_bundle_new(kw_bundle **out);

/* Frees b, its indicators and every string they hold. Accepts NULL. */
void kw_bundle_free(kw_bundle *b);

/* Removes every indicator (keeping the allocations for reuse). */
void kw_bundle_reset(kw_bundle *b);

/*
 * Appends a zeroed indicator (confidence -1) and returns it in *out; valid until the next
 * kw_bundle_add or kw_bundle_free. KW_ERR_TOOBIG past KW_BUNDLE_MAX_INDICATORS.
 */
kw_err kw_bundle_add(kw_bundle *b, kw_indicator **out);

/* Copies len bytes of s (plus a NUL) into the bundle's arena. NULL when out of memory. */
const char *kw_bundle_strdup(kw_bundle *b, const char *s, size_t len);

/* Allocates n zeroed bytes in the bundle's arena (aligned for pointers). */
void *kw_bundle_alloc(kw_bundle *b, size_t n);

/*
 * Appends a deep copy of src (its strings copied into b's arena). *out (may be NULL) gets the
 * copy.
 */
kw_err kw_bundle_copy_indicator(kw_bundle *b, const kw_indicator *src, kw_indicator **out);

/* Sets the recipients list (copied). */
kw_err kw_bundle_set_recipients(kw_bundle *b, const uint8_t (*ids)[32], size_t n);

/*
 * Encodes b as a msgpack payload into a malloc'd buffer (*out, *out_len; the caller frees
 * it). Indicator ids must be set.
 */
kw_err kw_bundle_encode(const kw_bundle *b, uint8_t **out, size_t *out_len);

/*
 * The same, and item_off (n + 1 entries) gets where each indicator's encoding starts in
 * *out, and where the last ends: indicator i is the bytes [item_off[i], item_off[i + 1]),
 * exactly what kw_indicator_encode writes for it.
 */
kw_err kw_bundle_encode_at(const kw_bundle *b, uint8_t **out, size_t *out_len, size_t *item_off);

/*
 * Decodes a payload. Every length and count is bounded before use; values are checked
 * to be in normalised form for their type. KW_ERR_DECODE on anything malformed.
 */
kw_err kw_bundle_decode(kw_bundle **out, const uint8_t *buf, size_t len);

/* A growable byte buffer (malloc'd p; the owner frees it with kw_buf_free). */
typedef struct kw_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} kw_buf;

void kw_buf_free(kw_buf *b);

/* Makes room for extra more bytes after len (the capacity doubles from 256). */
kw_err kw_buf_reserve(kw_buf *b, size_t extra);

/*
 * Room for element n of the array p (*cap elements of size bytes, n <= *cap): p itself while
 * n < *cap; otherwise p reallocated to twice *cap elements (first when empty) and *cap
 * updated. NULL when out of memory, and p is then untouched (still the caller's to free).
 */
void *kw_grow(void *p, size_t *cap, size_t n, size_t size, size_t first);

/* A msgpack-c packer's write callback appending to the kw_buf in data; -1 when out of
 * memory (the packer itself ignores that: reserve first, or check). */
int kw_buf_write(void *data, const char *buf, size_t len);

/* Appends one indicator in its payload encoding (a msgpack map) to out. */
kw_err kw_indicator_encode(const kw_indicator *d, kw_buf *out);

/* At least the number of bytes kw_indicator_encode writes for d (cheap: string lengths). */
size_t kw_indicator_size_bound(const kw_indicator *d);

/*
 * Decodes one indicator encoded by kw_indicator_encode and appends it to b (strings in b's
 * arena). The same checks as kw_bundle_decode apply. *out gets the new indicator.
 */
kw_err kw_indicator_decode(kw_bundle *b, const uint8_t *buf, size_t len, kw_indicator **out);

/* Fills a random (version 4) UUID. */
void kw_uuid_random(uint8_t uuid[static 16]);

/*
 * Mints the id of a new indicator: an RFC 4122 version 4 UUID (so STIX tools accept it)
 * whose first 60 bits, instead of being random, count up from the current time in ms
 * (48 bits) and a 12-bit counter within the ms; the other 58 bits are random. Ids minted
 * by one process are strictly increasing, so new indicators append to the store's index
 * instead of landing at random places in it (docs/storage.md). Not thread-safe.
 */
void kw_uuid_new(uint8_t uuid[static 16], int64_t now_ms);

/* Formats "indicator--xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (buf at least 48 bytes). */
void kw_indicator_id_format(char *buf, const uint8_t uuid[static 16]);

/* Parses an "indicator--<uuid>" id, or a bare UUID. KW_ERR_INVAL otherwise. */
kw_err kw_indicator_id_parse(const char *s, uint8_t uuid[static 16]);

/* Formats a STIX id "<prefix>--<uuid>" (buf at least strlen(prefix) + 39 bytes). */
void kw_stix_id_format(char *buf, size_t cap, const char *prefix, const uint8_t uuid[static 16]);

/* Parses "<anything>--<uuid>" into its uuid and writes the prefix length to *prefix_len. */
kw_err kw_stix_id_parse(const char *s, uint8_t uuid[static 16], size_t *prefix_len);

#endif
