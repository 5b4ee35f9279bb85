/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_NODE_INT_H
#define KW_NODE_NODE_INT_H

/* Internal to node/: the daemon's state, shared by its files. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/noise.h"
#include "node/backoff.h"
#include "node/framer.h"
#include "node/node.h"
#include "node/wire.h"
#include "store/store.h"

#define KW__HANDSHAKE_TIMEOUT_MS 10000
#define KW__PING_INTERVAL_MS 15000
#define KW__DEAD_AFTER_MS 45000
#define KW__PARTIAL_MSG_TIMEOUT_MS 30000 /* a message begun must finish within this */
#define KW__HIGH_WATER (4u * 1024u * 1024u)   /* stop pumping above this many queued bytes */
#define KW__QUEUE_LIMIT (64u * 1024u * 1024u) /* a peer that lets more pile up is stalled */
#define KW__BATCH_BYTES (1024u * 1024u)       /* target size of one ENTRIES message */
#define KW__MAX_PENDING_HANDSHAKES 64
#define KW__FLOOD_MSGS_PER_SEC 2000
#define KW__TICK_MS 50

struct kw_node;
struct kw_peer_state;
typedef struct kw__indexer kw__indexer;
typedef struct kw__storer kw__storer;

/* A received ENTRIES message, copied, on its way to the store and back (node/storer.c). */
typedef struct kw__ingest_job {
    struct kw__ingest_job *next;
    struct kw_peer_state *peer; /* who sent it */
    bool push;                  /* an eager push, not a catch-up answer */
    bool defer;                 /* stored unindexed (kw_store_ingest_checked) */
    bool counted;               /* in kw_node.catchup_jobs */
    size_t n;
    kw_wire_entry *entries;     /* pointing into buf */
    uint8_t *buf;
    size_t bytes;               /* of buf */
    kw_ingest_result *res;      /* once stored: one per entry */
    kw_err rc;                  /* once stored: the transaction's result */
    kw_entry_verdict *verdicts; /* the checks made on the loop thread, one per entry */
} kw__ingest_job;

typedef enum conn_state {
    CONN_CONNECTING = 0,
    CONN_HANDSHAKE = 1, /* Noise messages 1 and 2 */
    CONN_CONFIRM = 2,   /* responder: waiting for the first transport message */
    CONN_UP = 3,
    CONN_CLOSING = 4,
} conn_state;

typedef struct kw__conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_getaddrinfo_t gai_req;
    struct kw_node *node;
    struct kw_peer_state *peer; /* known after message 1 (responder) or from the start */
    struct kw__conn *next;      /* node's list of every connection */
    conn_state state;
    bool initiator;
    bool tcp_open;       /* tcp handle initialised: freed from its close callback */
    bool resolving;      /* a getaddrinfo request is in flight */
    uint64_t created_ms;
    kw_noise_hs *hs;
    kw_noise_cipher *tx;
    kw_noise_cipher *rx;
    /* Receive side: Noise frames, then the application byte stream. */
    kw_rx rx_stream;
    uint64_t frame_started_ms;
    uint64_t app_started_ms;
    uint64_t last_rx_ms;
    uint64_t last_tx_ms;
    uint64_t flood_window_ms;
    uint32_t flood_count;
    size_t queued;  /* bytes handed to uv_write and not yet written */
    uint64_t ping_nonce;
    char remote[160];
    bool hello_received;
    bool hello_sent;
} kw__conn;

typedef struct kw__origin_state {
    uint8_t origin[32];
    uint64_t known;      /* the peer holds up to this seq (as far as we know) */
    uint64_t want_until; /* the peer asked for entries up to this seq */
    uint64_t graft_seq;  /* IHAVE received for this seq; graft if still missing at deadline */
    uint64_t graft_deadline_ms;
    uint64_t want_sent_for; /* our head when we last sent WANT for a gap */
} kw__origin_state;

typedef struct kw_peer_state {
    kw_peer info;
    uint8_t xpk[32];
    bool in_roster;
    kw_backoff backoff;
    uint64_t next_dial_ms;
    uint64_t banned_until_ms;
    kw__conn *session;  /* the established session, if any */
    kw__conn *dialing;  /* an outgoing connection in progress */
    char last_error[160];
    int64_t since_ms;   /* session up since */
    bool eager;
    kw__origin_state *os;
    size_t n_os;
    size_t cap_os;
    uint64_t payload_bytes_rx; /* payload bytes received from this peer (redundancy) */
} kw_peer_state;

typedef struct kw__ctl_client {
    uv_pipe_t pipe;
    struct kw_node *node;
    struct kw__ctl_client *next;
    char line[256];
    size_t line_len;
    bool tail;
    bool tail_json;
    bool closing;
} kw__ctl_client;

typedef struct kw_node {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_pipe_t control;
    uv_timer_t tick;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    kw_store *store;
    const kw_identity *id;
    uint8_t self[32];
    uint8_t *psk; /* sodium_malloc */
    char name[64];
    char dir[4096];
    char listen_addr[128];
    kw_node_opts opts;
    kw_peer_state **peers; /* each allocated alone: connections keep pointers to them */
    size_t n_peers;
    size_t cap_peers;
    kw__conn *conns;
    size_t n_pending;
    kw__ctl_client *ctl;
    kw_head *heads; /* our version vector as last seen */
    size_t n_heads;
    bool heads_known; /* heads were read once (what is newer since is new) */
    uint64_t next_anti_entropy_ms;
    uint64_t next_roster_ms;
    uint64_t next_heads_ms;
    uint64_t payload_bytes_rx;
    uint64_t payload_bytes_new;
    /* The last failure to store what peers sent (the disk full, ...), until a store works
     * again: `kawan status` shows it, since replication stalls meanwhile. */
    char store_error[160];
    uint64_t store_error_ms;
    struct kw__indexer *indexer; /* NULL: received entries are indexed as they are stored */
    struct kw__storer *storer;   /* NULL: received entries are stored on the loop thread */
    _Atomic size_t catchup_jobs; /* catch-up messages handed to the store thread, not yet acted on */
    bool stopping;
} kw_node;

/* node.c */
uint64_t kw__now_ms(kw_node *n);
kw_peer_state *kw__peer_by_id(kw_node *n, const uint8_t id[static 32]);
kw_peer_state *kw__peer_by_xpk(kw_node *n, const uint8_t xpk[static 32]);
void kw__heads_refresh(kw_node *n, kw_peer_state *from);
uint64_t kw__head_seq(kw_node *n, const uint8_t origin[static 32]);

/* conn.c */
kw_err kw__conn_dial(kw_node *n, kw_peer_state *p);
void kw__conn_accept(kw_node *n);
/* Sends one application message (plaintext msg/len). KW_ERR_CLOSED if the session is gone.
 * done (may be NULL) is called once the bytes are written (ok true) or dropped. */
typedef void (*kw__sent_cb)(kw_node *n, void *ctx, bool ok);
kw_err kw__conn_send(kw__conn *c, const uint8_t *msg, size_t len, kw__sent_cb done, void *ctx);
/* Closes a connection; reason is logged. penalty > 0 backs the peer off for longer. */
void kw__conn_close(kw__conn *c, const char *reason, uint32_t penalty);
void kw__conn_tick(kw__conn *c, uint64_t now);

/* sync.c */
void kw__sync_session_up(kw__conn *c);
void kw__sync_session_down(kw_peer_state *p);
kw_err kw__sync_on_message(kw__conn *c, const uint8_t *msg, size_t len);
void kw__sync_pump(kw__conn *c);
void kw__sync_new_entries(kw_node *n, const uint8_t origin[static 32], uint64_t head,
    kw_peer_state *from);
void kw__sync_anti_entropy(kw_node *n);
void kw__sync_tick(kw_node *n, uint64_t now);
kw__origin_state *kw__origin_state_get(kw_peer_state *p, const uint8_t origin[static 32]);
/* Acts on a stored ENTRIES message (loop thread): counts, records what the sender holds,
 * asks for gaps. True when it stored something new: the caller then refreshes the heads
 * (kw__heads_refresh), which passes it on; after the results of every message stored in
 * the same transaction are in, so nothing goes back to a peer that sent it. */
bool kw__sync_entries_stored(kw_node *n, const kw__ingest_job *j);

/* indexer.c: the thread that indexes what the loop thread stored unindexed. */
kw_err kw__indexer_start(kw_node *n);
/* Entries were queued; catching_up: by a batch we asked for, so indexing waits a little. */
void kw__indexer_kick(kw_node *n, bool catching_up);
void kw__indexer_stop(kw_node *n);      /* from the loop thread, as the daemon stops */
void kw__indexer_free(kw_node *n);      /* once the loop has run its close callbacks */

/* storer.c: the thread that checks and stores what peers send. */
kw__ingest_job *kw__ingest_job_new(struct kw_peer_state *p, const kw_msg *m, bool defer);
void kw__ingest_job_free(kw__ingest_job *j);
/* Stores j on the calling thread. */
void kw__ingest_job_run(kw_node *n, kw__ingest_job *j);
/* Hands j to the store thread (waiting while too much waits); false when there is none or
 * it is stopping, and j is still the caller's. */
bool kw__storer_put(kw_node *n, kw__ingest_job *j);
kw_err kw__storer_start(kw_node *n);
void kw__storer_stop(kw_node *n);
void kw__storer_free(kw_node *n);

/* control.c */
kw_err kw__control_listen(kw_node *n);
void kw__control_close_all(kw_node *n);
void kw__control_tail_entry(kw_node *n, const uint8_t origin[static 32], uint64_t seq);

#endif
