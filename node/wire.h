/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_WIRE_H
#define KW_NODE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "crypto/err.h"
#include "store/store.h"

/*
 * Application messages carried inside a Noise session (docs/protocol.md): each is a
 * msgpack array [type, ...] behind a 4-byte big-endian length. Decoding bounds every count
 * and length before it allocates anything.
 */

#define KW_WIRE_VERSION 1
/* Largest application message: one maximal payload plus its header, signature, framing. */
#define KW_APP_MSG_MAX (KW_PAYLOAD_MAX + 64u * 1024u)
#define KW_WIRE_MAX_ENTRIES 4096u
#define KW_WIRE_MAX_HAVE 8192u

typedef enum kw_msg_type {
    KW_MSG_HELLO = 0,   /* [0, version, name, node id] */
    KW_MSG_PING = 1,    /* [1, nonce] */
    KW_MSG_PONG = 2,    /* [2, nonce] */
    KW_MSG_HAVE = 3,    /* [3, [[origin, seq], ...]] the sender's version vector */
    KW_MSG_ENTRIES = 4, /* [4, push, [[header, signature, payload or nil], ...]] */
    KW_MSG_IHAVE = 5,   /* [5, origin, seq] lazy push: "I hold up to seq" */
    KW_MSG_GRAFT = 6,   /* [6, origin, from] make this link eager and send from `from` */
    KW_MSG_PRUNE = 7,   /* [7] make this link lazy */
    KW_MSG_WANT = 8,    /* [8, origin, from] send this origin's entries from `from` */
    KW_MSG_DIGEST = 9,  /* [9, digest16] anti-entropy: hash of the sender's version vector */
} kw_msg_type;

#define KW_MSG_TYPE_MAX KW_MSG_DIGEST

typedef struct kw_have_item {
    uint8_t origin[32];
    uint64_t seq;
} kw_have_item;

/* A decoded message. Byte fields point into the buffer given to kw_msg_decode, which must
 * outlive the message. */
typedef struct kw_msg {
    kw_msg_type type;
    uint64_t version;      /* HELLO */
    char name[64];         /* HELLO */
    uint8_t node_id[32];   /* HELLO */
    uint64_t nonce;        /* PING, PONG */
    kw_have_item *have;    /* HAVE (malloc'd) */
    size_t n_have;
    kw_wire_entry *entries;/* ENTRIES (malloc'd) */
    size_t n_entries;
    bool push;             /* ENTRIES: an eager push rather than a catch-up answer */
    uint8_t origin[32];    /* IHAVE, GRAFT, WANT */
    uint64_t seq;          /* IHAVE: held up to; GRAFT, WANT: from */
    uint8_t digest[16];    /* DIGEST */
} kw_msg;

/* Decodes one application message. KW_ERR_DECODE for anything malformed or unknown
 * (including message types this version does not know). Free with kw_msg_clear. */
kw_err kw_msg_decode(kw_msg *m, const uint8_t *buf, size_t len);
void kw_msg_clear(kw_msg *m);

/* Encoders: each appends one message (without the length prefix) to out. */
kw_err kw_msg_encode_hello(kw_buf *out, const char *name, const uint8_t id[static 32]);
kw_err kw_msg_encode_ping(kw_buf *out, kw_msg_type type, uint64_t nonce);
kw_err kw_msg_encode_have(kw_buf *out, const kw_head *heads, size_t n);
kw_err kw_msg_encode_ref(kw_buf *out, kw_msg_type type, const uint8_t origin[static 32],
    uint64_t seq);
kw_err kw_msg_encode_prune(kw_buf *out);
kw_err kw_msg_encode_digest(kw_buf *out, const uint8_t digest[static 16]);

/* The anti-entropy digest of a version vector (BLAKE2b-128 over its items in origin order). */
void kw_have_digest(uint8_t out[static 16], const kw_head *heads, size_t n);

/* ENTRIES is built incrementally: begin with the count, then add each entry. */
kw_err kw_msg_encode_entries_begin(kw_buf *out, bool push, size_t n);
kw_err kw_msg_encode_entry(kw_buf *out, const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static 64], const uint8_t *payload, size_t payload_len);

#endif
