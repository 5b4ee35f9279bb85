/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_STORE_STORE_H
#define KW_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "bundle/entry.h"
#include "bundle/tlp.h"
#include "crypto/err.h"
#include "crypto/identity.h"

/*
 * The store: one LMDB environment in the data directory holding every feed (own and
 * received), the indicator indexes, the roster and node settings. Layout: docs/storage.md.
 * Several processes may open one store (the CLI and the daemon); LMDB serialises writers.
 * Nothing returned by these functions points into LMDB memory: results are copied, or are
 * valid only inside a callback, as each function says.
 */
typedef struct kw_store kw_store;

#define KW_STORE_RDONLY 1u

/* Opens the store in dir (which must hold an initialised node). KW_ERR_NOINIT if not. */
kw_err kw_store_open(kw_store **out, const char *dir, unsigned flags);

/*
 * A store written by an older kawan is read as it is and written in the forms that kawan
 * reads, until kw_store_upgrade raises its schema to this binary's (docs/storage.md); an
 * older binary then refuses the store instead of misreading it. kw_store_upgrade_due says
 * whether that is still to do. Call kw_store_upgrade only when no older binary uses the
 * store: the daemon does once it owns the data directory, the CLI when no daemon runs.
 */
bool kw_store_upgrade_due(const kw_store *s);
kw_err kw_store_upgrade(kw_store *s);

/* Creates a new store in dir for the node `self` named name. KW_ERR_EXISTS if one exists. */
kw_err kw_store_create(const char *dir, const uint8_t self[static 32], const char *name);

void kw_store_close(kw_store *s);

/*
 * From now on, this handle's commits sync the data they write but not the page that makes
 * them current (LMDB's MDB_NOMETASYNC): the next commit of any process, or the system,
 * flushes it. The store stays consistent, but a power loss may undo the last transaction.
 * Only for writers whose every transaction can be had again, as the daemon's can: what it
 * stores came from peers (and comes again), its index is rebuilt from its queue, and it
 * never writes the node's own feed, which `kawan publish` writes with full syncs (an own
 * entry undone after it was sent out would come back as a fork).
 */
kw_err kw_store_defer_meta_sync(kw_store *s);

/* Own node id and name (copied). */
void kw_store_self(const kw_store *s, uint8_t self[static 32]);
kw_err kw_store_name(kw_store *s, char *buf, size_t cap);

/* Small string settings in the meta table ("listen", ...). KW_ERR_NOTFOUND if unset. */
kw_err kw_store_setting_get(kw_store *s, const char *key, char *buf, size_t cap);
kw_err kw_store_setting_set(kw_store *s, const char *key, const char *value);

/* ---- Roster ---- */

typedef struct kw_peer {
    char name[64];
    uint8_t id[32];
    char address[128]; /* host:port, may be empty */
    int64_t added_ms;
} kw_peer;

/* Adds a roster member. KW_ERR_EXISTS when the name or the id is taken; KW_ERR_INVAL for a
 * bad name (1-63 of [A-Za-z0-9._-]), a bad id, the node's own id, or a bad address. */
kw_err kw_store_peer_add(kw_store *s, const kw_peer *p);
kw_err kw_store_peer_remove(kw_store *s, const char *name);
/* Lists the roster in name order into a malloc'd array (*out, *n); the caller frees it. */
kw_err kw_store_peer_list(kw_store *s, kw_peer **out, size_t *n);
/* Finds a member by name or by id text (kw1.../hex). KW_ERR_NOTFOUND if none. */
kw_err kw_store_peer_find(kw_store *s, const char *name_or_id, kw_peer *out);
kw_err kw_store_peer_by_id(kw_store *s, const uint8_t id[static 32], kw_peer *out);
/* True when id is the node itself or a roster member. */
bool kw_store_is_member(kw_store *s, const uint8_t id[static 32]);

/* ---- Publishing ---- */

typedef struct kw_publish_opts {
    kw_tlp tlp;
    /* Recipients of sealed levels (Ed25519 ids); the publisher is always added. NULL/0 with
     * AMBER and AMBER+STRICT means every roster member; RED requires at least one. */
    const uint8_t (*recipients)[32];
    size_t n_recipients;
} kw_publish_opts;

typedef struct kw_publish_result {
    uint64_t entries;     /* feed entries written */
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t indicators;  /* indicators written */
    uint64_t duplicates;  /* skipped: this node already holds a current identical indicator */
    uint64_t duplicates_other_tlp; /* of those, held under another TLP level */
    uint64_t foreign;     /* skipped: the indicator id belongs to another origin */
} kw_publish_result;

/* Adds the counts of r, a later publish, to res: first_seq stays the first, last_seq becomes
 * r's when r wrote entries. */
void kw_publish_result_add(kw_publish_result *res, const kw_publish_result *r);

/*
 * Appends bundles[0..n) to the node's own feed as n entries (one per bundle) in ONE write
 * transaction: each gets the next seq, the previous entry's id as prev, is sealed when the
 * TLP says so, signed with id, stored and indexed. Indicators whose type and value this
 * node already publishes as a current indicator are dropped from the bundle first
 * (counted as duplicates); a bundle left empty writes no entry. Either all n are stored
 * or none (on any error the transaction is aborted). Results are added to *res.
 */
kw_err kw_store_publish(kw_store *s, const kw_identity *id, const kw_publish_opts *opts,
    kw_bundle *const *bundles, size_t n, kw_publish_result *res);

/*
 * A long publish as a pipeline: while one batch of bundles is written (deduplicated, signed,
 * stored and indexed, exactly as by kw_store_publish) on a thread of the pipe's own, the
 * caller reads and fills the next, and kw_publish_pipe_put sorts its keys and encodes (for a
 * sealed level: seals) its bundles before handing it over. With one CPU everything runs on
 * the caller's thread. Between new and finish the store must not be used by anything else
 * in this process; other processes may publish meanwhile (LMDB orders the transactions).
 */
typedef struct kw_publish_pipe kw_publish_pipe;

/* Batches of at most max_bundles; opts (and its recipients) must outlive the pipe and stay
 * as they are while it is open. */
kw_err kw_publish_pipe_new(kw_publish_pipe **out, kw_store *s, const kw_identity *id,
    const kw_publish_opts *opts, size_t max_bundles);

/*
 * Hands bundles[0..n) over as one batch (one transaction) and puts empty bundles of the
 * pipe's in their place in the array. *done gets the results of the batches written since
 * the last call (zero when none was). An error is that of a batch written before (or
 * KW_ERR_INVAL for n > max_bundles); after an error nothing more is written (the batch in
 * hand stays with the caller) and every later call fails with it.
 */
kw_err kw_publish_pipe_put(kw_publish_pipe *p, kw_bundle **bundles, size_t n,
    kw_publish_result *done);

/* Waits for the batch being written; *done and the result as for put. */
kw_err kw_publish_pipe_finish(kw_publish_pipe *p, kw_publish_result *done);

/* Finishes (results dropped) and frees; NULL is fine. */
void kw_publish_pipe_free(kw_publish_pipe *p);

/* ---- Receiving (network and import share this path) ---- */

typedef struct kw_wire_entry {
    const uint8_t *hdr;
    size_t hdr_len;
    const uint8_t *sig;     /* KW_SIG_LEN bytes */
    const uint8_t *payload; /* NULL when withheld */
    size_t payload_len;
} kw_wire_entry;

/* Per-entry outcome of kw_store_ingest. */
typedef enum kw_ingest_status {
    KW_INGEST_STORED = 0,   /* new entry stored (and indexed when readable, or queued) */
    KW_INGEST_HELD = 1,     /* already held (same entry id): nothing to do */
    KW_INGEST_UPGRADED = 2, /* held as header only before; payload added now */
    KW_INGEST_REJECTED = 3, /* failed a check: see err */
    KW_INGEST_GAP = 4,      /* seq is ahead of the local head + 1: not stored, retry later */
    KW_INGEST_FORK = 5,     /* a second valid entry for an existing seq: kept as evidence */
    KW_INGEST_FROZEN = 6,   /* the origin's feed is frozen by an earlier fork */
} kw_ingest_status;

typedef struct kw_ingest_result {
    kw_ingest_status status;
    kw_err err;             /* for REJECTED: BADSIG, CHAIN, HASH, DECODE, ROSTER, TLP, ... */
    uint8_t origin[32];
    uint64_t seq;
    uint32_t indicators;    /* indicators indexed from this entry */
    bool unreadable;        /* STORED or UPGRADED, but its payload does not decode */
} kw_ingest_result;

/*
 * Verifies, stores and indexes a batch of received entries in ONE write transaction. Each
 * entry is checked before it is stored: origin in the roster (or the node itself), header,
 * signature, prev chain against the stored feed (entries of one batch may chain to each
 * other), payload length and hash. A failing entry is not stored and does not stop the
 * others; results[i] says what happened to entries[i]. The payload is then opened (when
 * sealed and this node is a recipient) and decoded: a payload this node may read that does
 * not decode is kept, marked unreadable (kw_store_stats unreadable), and indexes nothing,
 * since its entry is signed and chained, and refusing it would stall the origin's feed
 * behind it. Returns an error only when the transaction itself fails (then nothing of the
 * batch is stored).
 * me: the node's identity, to open sealed payloads addressed to it (may be NULL: then
 * sealed payloads are stored unopened).
 */
kw_err kw_store_ingest(kw_store *s, const kw_identity *me, const kw_wire_entry *entries,
    size_t n, kw_ingest_result *results);

/* The checks of one received entry that need no store (header, signature by its origin,
 * payload length and hash), made ahead of storing it: kw_entry_check's result and header. */
typedef struct kw_entry_verdict {
    kw_err check;
    kw_header h;
} kw_entry_verdict;

/* Makes out[i] for entries[i], on two threads when there are two cores. Needs no store, so a
 * receiver can check the next batch while the one before is being stored. */
void kw_store_check_entries(const kw_wire_entry *entries, size_t n, kw_entry_verdict *out);

/*
 * kw_store_ingest of entries whose store-free checks were made ahead: verdicts[i] must be
 * kw_store_check_entries' verdict on exactly entries[i]. The checks that need the store
 * (roster, chain, fork, held) are made here as always.
 * defer: store without indexing. An entry with a plaintext payload is checked and stored
 * as above, but its payload is neither decoded nor indexed here; the entry goes on the
 * index queue instead, for kw_store_index_queued (its result's indicators is 0). This is
 * what the daemon does with a catch-up: a transaction then holds little more than the
 * payload bytes, and the network is not held up by the index. Sealed payloads are opened
 * and indexed at once, as kw_store_ingest does.
 */
kw_err kw_store_ingest_checked(kw_store *s, const kw_identity *me,
    const kw_wire_entry *entries, const kw_entry_verdict *verdicts, size_t n, bool defer,
    kw_ingest_result *results);

/* What kw_store_index_queued made of one queued entry. */
typedef struct kw_indexed {
    uint8_t origin[32];
    uint64_t seq;
    uint32_t indicators; /* indicators indexed from it */
    bool unreadable;     /* its payload did not decode: kept, and indexes nothing */
} kw_indexed;

/* Called after each index transaction commits, with what it indexed; returning false stops
 * the indexing there (the rest stays queued). */
typedef bool (*kw_indexed_cb)(void *ctx, const kw_indexed *done, size_t n);

/*
 * Indexes up to max entries of the index queue, oldest first, and takes them off the queue:
 * a few dozen per write transaction, each batch read and decoded on a second thread while
 * the one before is written. cb (may be NULL) hears what each transaction indexed, and may
 * stop the indexing after any transaction. *done
 * counts the entries taken off the queue (0 when it was empty). An entry whose payload does
 * not decode is kept and marked unreadable, as kw_store_ingest keeps one. On an error, what
 * was committed before it stays. A store opened read-only gives KW_ERR_PERM.
 */
kw_err kw_store_index_queued(kw_store *s, const kw_identity *me, size_t max, kw_indexed_cb cb,
    void *ctx, size_t *done);

/* ---- Feeds ---- */

typedef struct kw_head {
    uint8_t origin[32];
    uint64_t seq;        /* highest contiguous seq held (0: none) */
    uint8_t id[32];      /* entry id of that entry */
    bool forked;         /* frozen by a detected fork */
    uint64_t fork_seq;   /* when forked: entries from this seq on are refused */
} kw_head;

/* The head of one origin's feed (seq 0 when nothing is held). */
kw_err kw_store_head(kw_store *s, const uint8_t origin[static 32], kw_head *out);

/* Every head (the version vector), malloc'd (*out, *n); the caller frees it. */
kw_err kw_store_heads(kw_store *s, kw_head **out, size_t *n);

/* A stored entry, copied out of the store. payload is NULL when it is not held. */
typedef struct kw_stored_entry {
    kw_header h;
    uint8_t hdr[KW_HEADER_MAX];
    size_t hdr_len;
    uint8_t sig[KW_SIG_LEN];
    uint8_t id[32];
    uint64_t recv_ms;
    uint8_t *payload; /* malloc'd, or NULL */
    size_t payload_len;
} kw_stored_entry;

void kw_stored_entry_clear(kw_stored_entry *e);

/*
 * Calls cb for entries of origin with seq in [from, to] in order (to = 0: up to the head),
 * with payloads when want_payload. Stops early when cb returns non-zero. The entry is valid
 * only during the call. Reads in one read transaction.
 */
typedef int (*kw_entry_cb)(void *ctx, const kw_stored_entry *e);
kw_err kw_store_feed_range(kw_store *s, const uint8_t origin[static 32], uint64_t from,
    uint64_t to, bool want_payload, kw_entry_cb cb, void *ctx);

/* Calls cb for every entry received at or after since_ms (0: all), oldest first. */
kw_err kw_store_entries_since(kw_store *s, int64_t since_ms, bool want_payload, kw_entry_cb cb,
    void *ctx);

/*
 * Fork evidence from a peer: two entries of one origin with one seq and different ids (the
 * headers and signatures; payloads are not needed). Checks both signatures and that the
 * origin is in the roster (or is this node), records the pair unless this fork is known,
 * and freezes the origin's feed from that seq: entries below it are still accepted. *fresh
 * says whether the fork was new here. KW_ERR_INVAL when the two are not a fork of one
 * origin and seq; KW_ERR_DECODE or KW_ERR_BADSIG for an entry that does not verify;
 * KW_ERR_ROSTER.
 */
kw_err kw_store_fork_evidence(kw_store *s, const kw_wire_entry *a, const kw_wire_entry *b,
    bool *fresh);

/* Forks detected: calls cb with the two conflicting entries (valid only during the call). */
typedef int (*kw_fork_cb)(void *ctx, const kw_stored_entry *a, const kw_stored_entry *b);
kw_err kw_store_forks(kw_store *s, kw_fork_cb cb, void *ctx);
/* The evidence of one fork: cb once with both entries; KW_ERR_NOTFOUND when none is held. */
kw_err kw_store_fork_get(kw_store *s, const uint8_t origin[static 32], uint64_t seq,
    kw_fork_cb cb, void *ctx);

/* ---- Queries ---- */

typedef struct kw_query {
    const char *value;      /* exact value (normalised by the caller), or NULL */
    kw_obs_type type;       /* KW_OBS_NONE: any */
    const char *substring;  /* value contains this (scan), or NULL */
    const uint8_t *origin;  /* 32 bytes or NULL */
    int tlp;                /* -1: any */
    int64_t since_ms;       /* modified at or after (0: any) */
    uint64_t limit;         /* 0: no limit */
    bool all;               /* include revoked and expired (valid_until passed) ones */
    const uint8_t *id;      /* 16-byte uuid, or NULL */
} kw_query;

typedef struct kw_result {
    const kw_indicator *ind; /* valid only during the callback */
    kw_tlp tlp;
    uint8_t origin[32];
    uint64_t seq;
    uint64_t recv_ms;
    const uint8_t (*recipients)[32]; /* sealed entries: who may read it */
    uint32_t n_recipients;
} kw_result;

typedef int (*kw_result_cb)(void *ctx, const kw_result *r);

/* Runs a query; cb gets each current indicator that matches. Stops when cb returns non-zero
 * or after limit results. *count (may be NULL) gets the number delivered. */
kw_err kw_store_query(kw_store *s, const kw_query *q, kw_result_cb cb, void *ctx,
    uint64_t *count);

/* ---- Status and checks ---- */

typedef struct kw_store_stats {
    uint64_t indicators;   /* current (newest version, not revoked) */
    uint64_t versions;     /* all indicator records */
    uint64_t entries;
    uint64_t feeds;
    uint64_t forks;
    uint64_t withheld;     /* entries held as header only */
    uint64_t sealed_unread;/* sealed payloads this node cannot open */
    uint64_t unreadable;   /* payloads held and ours to read that do not decode */
    uint64_t queued;       /* entries stored, their indicators not indexed yet */
    uint64_t store_bytes;  /* size of the data file */
} kw_store_stats;

kw_err kw_store_stats_get(kw_store *s, kw_store_stats *out);

typedef struct kw_verify_report {
    uint64_t entries;
    uint64_t payloads;
    uint64_t indicators;
    uint64_t queued;     /* entries waiting for the index */
    uint64_t problems;
    char first_problem[256];
} kw_verify_report;

/* Re-checks every stored entry (signature, chain, payload hash) and the indexes against the
 * payloads. KW_ERR_OK with problems == 0 when all is well. */
kw_err kw_store_verify(kw_store *s, const kw_identity *me, kw_verify_report *rep);

/*
 * The recipients of a sealed entry, as far as this node knows them (its own sealed
 * entries, and those it could open). Malloc'd list (*out, *n; *n is 0 when unknown).
 */
kw_err kw_store_entry_recipients(kw_store *s, const uint8_t origin[static 32], uint64_t seq,
    uint8_t (**out)[32], size_t *n);

/* ---- RED outbox ---- */

/* Calls cb for each RED entry of this node still owed to recipient. */
kw_err kw_store_outbox_list(kw_store *s, const uint8_t recipient[static 32], kw_entry_cb cb,
    void *ctx);
/* Marks one delivery done. */
kw_err kw_store_outbox_done(kw_store *s, const uint8_t recipient[static 32],
    const uint8_t origin[static 32], uint64_t seq);

#endif
