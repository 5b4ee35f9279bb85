/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_STORE_STORE_INT_H
#define KW_STORE_STORE_INT_H

/* Internal to store/: the LMDB handles and the record layouts of docs/storage.md. */

#include <lmdb.h>

#include "store/store.h"

/* 2: objects records may refer to their bytes in the payload (KW__OBJ_REF). A store of
 * schema 1 is read as it is, and written with schema 1's records until kw_store_upgrade. */
#define KW__SCHEMA_VERSION 2
#define KW__SCHEMA_OLDEST 1

struct kw_store {
    MDB_env *env;
    MDB_dbi meta, entries, payloads, objects, by_value, by_time, heads, forks, peers, peer_ids,
        outbox, recipients, index_queue;
    uint8_t self[32];
    /* Change to the current-indicator counter in the open write transaction; written once
     * by kw__commit rather than once per indicator. Reset when a write transaction begins. */
    int64_t pending_current;
    /* The by_value inserts of the open write transaction, held back and put in key order by
     * kw__vbatch_flush: a batch's values are random, and walking the tree in order touches
     * each page once. Records: key length (2) | key | uuid (16). Reset when a publish or
     * ingest transaction begins. */
    kw_buf vb;
    size_t vb_n;
    /* The largest key in `objects` as seen by the open write transaction: ids minted by
     * kawan grow with time, so a new id above it cannot exist yet and needs no lookup.
     * obj_max_state: 0 not read yet, 1 obj_max holds it, 2 objects is empty. */
    uint8_t obj_max[16];
    int obj_max_state;
    bool rdonly;
    bool has_queue; /* index_queue exists (a store opened read-only may predate it) */
    int schema; /* as read at open, or raised by kw_store_upgrade */
    char dir[4096];
};

/* entries value: flags(1) | recv_ms(8) | id(32) | sig(64) | header bytes */
#define KW__ENT_HELD 0x01u     /* payload bytes are in `payloads` */
#define KW__ENT_WITHHELD 0x02u /* header only: payload not ours to hold (RED) or not sent */
#define KW__ENT_SEALED 0x04u   /* sealed payload this node cannot open */
#define KW__ENT_INDEXED 0x08u  /* its indicators went through the index */
#define KW__ENT_UNREADABLE 0x10u /* payload held and readable to us, but it does not decode */

/* An entry record's flags say its payload is held and waits for the index. */
static inline bool kw__ent_awaits_index(uint8_t flags)
{
    return (flags & (KW__ENT_HELD | KW__ENT_INDEXED | KW__ENT_UNREADABLE)) == KW__ENT_HELD;
}
#define KW__ENT_HDR_OFF (1 + 8 + 32 + 64)

/* objects value: origin(32) | seq(8) | recv_ms(8) | modified(8) | tlp(1) | flags(1) |
 * type(1) | pad(1) | then either the indicator (msgpack map, as in payloads) or, with
 * KW__OBJ_REF, offset(4) | length(4) of its bytes in the entry's plaintext payload. */
#define KW__OBJ_REVOKED 0x01u
#define KW__OBJ_REF 0x02u
#define KW__OBJ_HDR 60
#define KW__OBJ_REF_LEN (KW__OBJ_HDR + 8)

/* heads value: seq(8) | id(32) | forked(1), and for a forked feed | fork seq(8): entries
 * from the fork seq on are refused. A forked head of 41 bytes (written before the fork seq
 * existed) froze the feed just after its head. */
#define KW__HEAD_LEN 49
#define KW__HEAD_LEN_V1 41

/* index_queue key: n(8 BE), one more than the last key when queued; value: the entry's
 * feed key origin(32) | seq(8). An entry on the queue is held (KW__ENT_HELD) and waits for
 * kw_store_index_queued; the queue is taken oldest first. */

/* by_value key: type(1) | value, or, for values too long for an LMDB key,
 * type(1) | first 440 bytes | BLAKE2b-128(value) */
#define KW__VKEY_MAX 460
/* by_value data (dupsort): uuid(16); the objects record says whose it is */

/* Translates an LMDB return code, logging the original. */
kw_err kw__mdb_err(int rc, const char *what);

/*
 * Commits txn. LMDB reports a write cut short by a full disk as EIO, so an I/O error is
 * turned into KW_ERR_NOSPACE when the store's file system has (nearly) no space left.
 */
kw_err kw__commit(kw_store *s, MDB_txn *txn);

void kw__put64(uint8_t *p, uint64_t v);
uint64_t kw__get64(const uint8_t *p);

/* origin(32) | seq(8 BE) */
void kw__feed_key(uint8_t key[static 40], const uint8_t origin[static 32], uint64_t seq);

/* Builds the by_value key for a value; returns its length. */
size_t kw__vkey(uint8_t key[static KW__VKEY_MAX], kw_obs_type type, const char *value,
    size_t len);

/* Meta counters kept transactionally: "n_current" (current, not revoked), "n_objects". */
kw_err kw__counter_add(kw_store *s, MDB_txn *txn, const char *name, int64_t delta);
uint64_t kw__counter_get(kw_store *s, MDB_txn *txn, const char *name);

/* An indicator's encoding (as kw_indicator_encode writes it, or as another node did) when
 * the caller has it. in_payload: the bytes are at off in the entry's plaintext payload,
 * stored in this transaction or before, and the objects record refers to them there. */
typedef struct kw__enc {
    const uint8_t *p;
    uint32_t len;
    uint32_t off;
    bool in_payload;
} kw__enc;

/*
 * A bundle encoded (and, for a sealed level, sealed) before its publish began
 * (store/pipe.c), so that the work runs beside the previous transaction. It holds while the
 * bundle still has the n indicators it had when encoded (a publish only ever drops
 * indicators, duplicates) and, sealed, when the entry gets the seq the seal's associated
 * data names and the publish seals for the same recipients; otherwise the publish encodes
 * and seals the bundle again. plain and sealed are taken by the publish that uses them.
 */
typedef struct kw__precoded {
    uint8_t *plain;
    size_t plain_len;
    size_t *item_off; /* n + 1 offsets, as kw_bundle_encode_at gives them */
    uint32_t n;
    uint8_t *sealed; /* sealed levels: plain sealed for seq, else NULL */
    size_t sealed_len;
    uint64_t seq;
    uint8_t hash[32]; /* kw_payload_hash of the payload: sealed, or else plain */
} kw__precoded;

/*
 * Encodes b into pre, for the entry seq. For a sealed level (recips not NULL) sets b's
 * recipients first, and leaves the sealing to kw__preseal.
 */
kw_err kw__precode(kw_bundle *b, const uint8_t (*recips)[32], size_t n_recips, uint64_t seq,
    kw__precoded *pre);
/* Seals pre's plaintext for recips, bound to origin's entry pre->seq at level tlp. Touches
 * only pre: bundles may be sealed on several threads at once. */
kw_err kw__preseal(kw__precoded *pre, const uint8_t (*recips)[32], size_t n_recips,
    const uint8_t origin[static 32], kw_tlp tlp);
void kw__precoded_clear(kw__precoded *pre);

/*
 * What a publish by s with opts would start from, read now: the seq its first entry would
 * get and, for a sealed level, the recipients (malloc'd; NULL when they cannot be told, e.g.
 * RED without any).
 */
kw_err kw__publish_plan(kw_store *s, const kw_publish_opts *opts, uint64_t *next_seq,
    uint8_t (**recips)[32], size_t *n_recips);


/* One indicator of a publish's batch (bundle b, item i) and where its by_value key lies. */
typedef struct kw__pref {
    uint32_t b;
    uint32_t i;
    uint32_t koff;
    uint16_t klen;
    uint8_t drop; /* 1 duplicate, 2 another origin's id */
} kw__pref;

/* The by_value keys of a batch, and its indicators in key order. */
typedef struct kw__prekeys {
    kw__pref *refs;
    uint8_t *keys;
    size_t n;
} kw__prekeys;

kw_err kw__prekeys_make(kw_bundle *const *bundles, size_t n, kw__prekeys *out);
void kw__prekeys_clear(kw__prekeys *pk);

/* What store/pipe.c prepares for a batch before its transaction: every bundle's encoding
 * (pre: may be NULL), the recipients it sealed for, and the batch's sorted keys (keys.refs
 * NULL: none). */
typedef struct kw__prebatch {
    kw__precoded *pre;
    const uint8_t (*recips)[32];
    size_t n_recips;
    kw__prekeys keys;
} kw__prebatch;

/* kw_store_publish, with pb (may be NULL) holding what was prepared for this batch. */
kw_err kw__publish(kw_store *s, const kw_identity *id, const kw_publish_opts *opts,
    kw_bundle *const *bundles, size_t n, kw__prebatch *pb, kw_publish_result *res);

/* Starts the store's per-transaction state for a new write transaction. */
void kw__wtxn_reset(kw_store *s);

/* Begins a write transaction, with the per-transaction state reset: what an aborted
 * transaction left there (a partial current-indicator delta, held inserts) must not reach
 * the next commit. Every write transaction of the store begins here. */
kw_err kw__wtxn_begin(kw_store *s, MDB_txn **txn);

/*
 * False when no objects record can exist for id (it is above every key in `objects`), so
 * the caller may skip the lookup; true when it may exist or that cannot be told.
 */
bool kw__object_may_exist(kw_store *s, MDB_txn *txn, const uint8_t id[static 16]);

/* An index key to sort, and whose it is. */
typedef struct kw__skey {
    const uint8_t *p;
    uint32_t len;
    uint32_t tag;
} kw__skey;

/* Sorts keys into LMDB's default order (bytes, then shorter first); equal keys end up in no
 * particular order. KW_ERR_NOMEM leaves a in some order. */
kw_err kw__sort_keys(kw__skey *a, size_t n);

/* Holds a by_value insert back for kw__vbatch_flush; forgets all held inserts. */
kw_err kw__vbatch_add(kw_store *s, const uint8_t *key, size_t klen, const uint8_t uuid[static 16]);
void kw__vbatch_reset(kw_store *s);
/* Puts the held inserts in key order into by_value (within txn), then forgets them. */
kw_err kw__vbatch_flush(kw_store *s, MDB_txn *txn);
/* The same, when the order is known: order[k] is the k-th insert to put, in key order. */
kw_err kw__vbatch_flush_order(kw_store *s, MDB_txn *txn, const uint32_t *order);

/*
 * Indexes one version of an indicator (the newest wins; an id owned by another origin is
 * ignored). Returns KW_ERR_OK when indexed or skipped as older, KW_ERR_PERM when the id
 * belongs to another origin. *indexed tells which. Its by_value insert is held back
 * (kw__vbatch_add): the caller flushes before it commits. enc, when not NULL, is the
 * indicator's encoding, already at hand; otherwise the indicator is encoded here.
 */
kw_err kw__index_indicator(kw_store *s, MDB_txn *txn, const kw_indicator *ind,
    const kw__enc *enc, const uint8_t origin[static 32], uint64_t seq, uint64_t recv_ms,
    kw_tlp tlp, kw_buf *scratch, bool *indexed);

/* The payload last read for an objects record, kept for the next record of the same entry
 * within one transaction. */
typedef struct kw__pcache {
    uint8_t key[40];
    const uint8_t *p;
    size_t len;
    bool valid;
} kw__pcache;

/*
 * The encoded indicator of an objects record (rec, len): in the record, or in its entry's
 * payload, which must hold the whole span. pc (may be NULL) saves payload lookups.
 * KW_ERR_STORE when the record or its span is damaged.
 */
kw_err kw__object_bytes(kw_store *s, MDB_txn *txn, const uint8_t *rec, size_t len,
    kw__pcache *pc, const uint8_t **p, size_t *n);

/*
 * Reads every record of dbi in key order into a malloc'd array of elem-sized items (*out,
 * *n; the caller frees it). fill converts one record and returns false to skip it.
 */
typedef bool (*kw__collect_fn)(void *elem, const MDB_val *k, const MDB_val *v);
kw_err kw__collect(kw_store *s, MDB_dbi dbi, size_t elem, kw__collect_fn fill, void **out,
    size_t *n);

/* Reads a head inside txn. */
kw_err kw__head_get(kw_store *s, MDB_txn *txn, const uint8_t origin[static 32], kw_head *out);
kw_err kw__head_put(kw_store *s, MDB_txn *txn, const kw_head *h);

/* Copies a stored entry record (and its payload when want_payload) into e. */
kw_err kw__entry_load(kw_store *s, MDB_txn *txn, const MDB_val *key, const MDB_val *val,
    bool want_payload, kw_stored_entry *e);

#endif
