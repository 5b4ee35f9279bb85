/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replication (docs/protocol.md, "Sync"): HELLO and HAVE on connect; ENTRIES batches in seq
 * order per origin pumped while the send queue has room; eager push along Plumtree's eager
 * links with IHAVE/GRAFT/PRUNE on the others; an anti-entropy digest of the version vector
 * every round; the RED outbox delivered when a recipient is connected.
 */
#include "node/node_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/timefmt.h"
#include "crypto/id.h"
#include "crypto/log.h"

#define PUMP_MAX_ENTRIES 512

kw__origin_state *kw__origin_state_get(kw_peer_state *p, const uint8_t origin[static 32])
{
    for (size_t i = 0; i < p->n_os; i++) {
        if (memcmp(p->os[i].origin, origin, 32) == 0) {
            return &p->os[i];
        }
    }
    return NULL;
}

static kw__origin_state *origin_state_add(kw_peer_state *p, const uint8_t origin[static 32])
{
    kw__origin_state *os = kw__origin_state_get(p, origin);
    if (os != NULL) {
        return os;
    }
    kw__origin_state *n = kw_grow(p->os, &p->cap_os, p->n_os, sizeof(*n), 16);
    if (n == NULL) {
        return NULL;
    }
    p->os = n;
    os = &p->os[p->n_os++];
    memset(os, 0, sizeof(*os));
    memcpy(os->origin, origin, 32);
    return os;
}

/* Origins we replicate: ourselves and every roster member. */
static bool origin_wanted(kw_node *n, const uint8_t origin[static 32])
{
    if (memcmp(origin, n->self, 32) == 0) {
        return true;
    }
    kw_peer_state *p = kw__peer_by_id(n, origin);
    return p != NULL && p->in_roster;
}

static void send_msg(kw__conn *c, kw_buf *b)
{
    if (c->state == CONN_UP) {
        kw__conn_send(c, b->p, b->len, NULL, NULL);
    }
}

/*
 * Fork evidence travels as an ENTRIES message of exactly the two conflicting entries,
 * header and signature only, one after the other (an ordinary batch never holds one seq
 * twice). Any member can check it on its own: two valid signatures of one origin over two
 * different entries for one seq.
 */
typedef struct evidence_ctx {
    kw_node *n;
    kw_peer_state *skip; /* to every connected peer but this one ... */
    kw__conn *only;      /* ... or to this session alone */
} evidence_ctx;

static int evidence_cb(void *ctx, const kw_stored_entry *x, const kw_stored_entry *y)
{
    evidence_ctx *e = ctx;
    kw_buf b = { 0 };

    if (kw_msg_encode_entries_begin(&b, false, 2) == KW_ERR_OK
        && kw_msg_encode_entry(&b, x->hdr, x->hdr_len, x->sig, NULL, 0) == KW_ERR_OK
        && kw_msg_encode_entry(&b, y->hdr, y->hdr_len, y->sig, NULL, 0) == KW_ERR_OK) {
        if (e->only != NULL) {
            send_msg(e->only, &b);
        }
        for (size_t i = 0; e->only == NULL && i < e->n->n_peers; i++) {
            kw__conn *q = e->n->peers[i]->session;
            if (e->n->peers[i] != e->skip && q != NULL && q->hello_received) {
                send_msg(q, &b);
            }
        }
    }
    kw_buf_free(&b);
    return 0;
}

/* Our version vector as sent in HAVE: every wanted origin, held or not, in origin order. */
static kw_err our_vector(kw_node *n, kw_head **out, size_t *count)
{
    size_t cap = n->n_peers + 1, k = 0;
    kw_head *v = calloc(cap, sizeof(*v));
    if (v == NULL) {
        return KW_ERR_NOMEM;
    }
    memcpy(v[k++].origin, n->self, 32);
    for (size_t i = 0; i < n->n_peers; i++) {
        if (n->peers[i]->in_roster) {
            memcpy(v[k++].origin, n->peers[i]->info.id, 32);
        }
    }
    for (size_t i = 0; i < k; i++) {
        v[i].seq = kw__head_seq(n, v[i].origin);
    }
    /* Sort by origin so both sides hash the same sequence. */
    for (size_t i = 1; i < k; i++) {
        kw_head t = v[i];
        size_t j = i;
        while (j > 0 && memcmp(v[j - 1].origin, t.origin, 32) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
    *out = v;
    *count = k;
    return KW_ERR_OK;
}

static void send_have(kw__conn *c)
{
    kw_head *v = NULL;
    size_t k = 0;
    kw_buf b = { 0 };
    if (our_vector(c->node, &v, &k) == KW_ERR_OK && kw_msg_encode_have(&b, v, k) == KW_ERR_OK) {
        send_msg(c, &b);
    }
    kw_buf_free(&b);
    free(v);
}

static void send_digest(kw__conn *c)
{
    kw_head *v = NULL;
    size_t k = 0;
    kw_buf b = { 0 };
    uint8_t d[16];
    if (our_vector(c->node, &v, &k) == KW_ERR_OK) {
        kw_have_digest(d, v, k);
        if (kw_msg_encode_digest(&b, d) == KW_ERR_OK) {
            send_msg(c, &b);
        }
    }
    kw_buf_free(&b);
    free(v);
}

static void send_ref(kw__conn *c, kw_msg_type t, const uint8_t origin[static 32], uint64_t seq)
{
    kw_buf b = { 0 };
    if (kw_msg_encode_ref(&b, t, origin, seq) == KW_ERR_OK) {
        send_msg(c, &b);
    }
    kw_buf_free(&b);
}

void kw__sync_session_up(kw__conn *c)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;

    if (p->session != NULL && p->session != c) {
        /* Two sessions with one peer (both dialled at once, or a reconnect): keep the one
         * dialled by the node with the smaller id, so both sides keep the same one; between
         * two dialled by the same side, keep the newer. */
        kw__conn *old = p->session;
        const uint8_t *old_init = old->initiator ? n->self : p->info.id;
        const uint8_t *new_init = c->initiator ? n->self : p->info.id;
        int cmp = memcmp(new_init, old_init, 32);
        if (cmp > 0) {
            kw__conn_close(c, "duplicate session (keeping the other one)", 0);
            return;
        }
        p->session = NULL;
        kw__sync_session_down(p);
        kw__conn_close(old, "duplicate session (replaced)", 0);
    }
    if (n->n_pending > 0) {
        n->n_pending--;
    }
    c->hello_received = true;
    p->session = c;
    if (p->dialing == c) {
        p->dialing = NULL;
    }
    p->since_ms = kw_time_now_ms(); /* wall clock, for humans */
    p->last_error[0] = '\0';
    p->eager = true;
    p->n_os = 0;
    kw_backoff_reset(&p->backoff);
    kw_log_info("session up", "peer=%s remote=%s dir=%s", p->info.name, c->remote,
        c->initiator ? "out" : "in");
    if (!c->hello_sent) {
        kw_buf b = { 0 };
        if (kw_msg_encode_hello(&b, n->name, n->self) == KW_ERR_OK) {
            send_msg(c, &b);
            c->hello_sent = true;
        }
        kw_buf_free(&b);
    }
    send_have(c);
    /* Every fork this node knows of, so a member that was away learns it too. */
    evidence_ctx e = { n, NULL, c };
    (void)kw_store_forks(n->store, evidence_cb, &e);
}

void kw__sync_session_down(kw_peer_state *p)
{
    p->n_os = 0;
    p->since_ms = 0;
}

/* ---- Sending entries ---- */

typedef struct batch {
    kw_stored_entry e[PUMP_MAX_ENTRIES];
    size_t n;
    size_t bytes;
} batch;

static int collect_cb(void *ctx, const kw_stored_entry *e)
{
    batch *b = ctx;
    kw_stored_entry *d = &b->e[b->n];
    *d = *e;
    d->payload = NULL;
    if (e->payload != NULL) {
        d->payload = malloc(e->payload_len ? e->payload_len : 1);
        if (d->payload == NULL) {
            return 1;
        }
        memcpy(d->payload, e->payload, e->payload_len);
    }
    b->n++;
    b->bytes += e->hdr_len + 64 + e->payload_len;
    return b->n == PUMP_MAX_ENTRIES || b->bytes >= KW__BATCH_BYTES;
}

typedef struct outbox_done {
    uint8_t recipient[32];
    uint8_t origin[32];
    size_t n;
    uint64_t seqs[];
} outbox_done;

static void on_red_sent(kw_node *n, void *ctx, bool ok)
{
    outbox_done *d = ctx;
    if (ok && !n->stopping) {
        for (size_t i = 0; i < d->n; i++) {
            kw_store_outbox_done(n->store, d->recipient, d->origin, d->seqs[i]);
            kw_log_info("RED entry delivered", "seq=%llu", (unsigned long long)d->seqs[i]);
        }
    }
    free(d);
}

static bool is_recipient(kw_node *n, const kw_stored_entry *e, const uint8_t id[static 32])
{
    uint8_t(*r)[32] = NULL;
    size_t k = 0;
    bool yes = false;
    if (kw_store_entry_recipients(n->store, e->h.origin, e->h.seq, &r, &k) == KW_ERR_OK) {
        for (size_t i = 0; i < k && !yes; i++) {
            yes = memcmp(r[i], id, 32) == 0;
        }
    }
    free(r);
    return yes;
}

/* Sends the collected entries as one ENTRIES message, applying the TLP rules per entry. */
static kw_err send_batch(kw__conn *c, batch *b, bool push)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;
    kw_buf out = { 0 };
    outbox_done *red = NULL;
    kw_err rc;

    if ((rc = kw_msg_encode_entries_begin(&out, push, b->n)) != KW_ERR_OK) {
        return rc;
    }
    for (size_t i = 0; i < b->n && rc == KW_ERR_OK; i++) {
        const kw_stored_entry *e = &b->e[i];
        const uint8_t *payload = e->payload;
        bool from_origin = memcmp(e->h.origin, n->self, 32) == 0;
        kw_tlp_party party = KW_PARTY_MEMBER;
        if (e->h.tlp == KW_TLP_RED && payload != NULL) {
            if (from_origin && is_recipient(n, e, p->info.id)) {
                party = KW_PARTY_RECIPIENT;
            }
        }
        if (payload != NULL && !kw_tlp_may_send_payload((kw_tlp)e->h.tlp, party, from_origin)) {
            payload = NULL; /* the header alone */
        }
        if (payload != NULL && e->h.tlp == KW_TLP_RED) {
            if (red == NULL) {
                red = calloc(1, sizeof(*red) + b->n * sizeof(uint64_t));
                if (red == NULL) {
                    rc = KW_ERR_NOMEM;
                    break;
                }
                memcpy(red->recipient, p->info.id, 32);
                memcpy(red->origin, n->self, 32);
            }
            red->seqs[red->n++] = e->h.seq;
        }
        rc = kw_msg_encode_entry(&out, e->hdr, e->hdr_len, e->sig, payload, e->payload_len);
    }
    if (rc == KW_ERR_OK) {
        rc = kw__conn_send(c, out.p, out.len, red ? on_red_sent : NULL, red);
        red = NULL;
    }
    free(red);
    kw_buf_free(&out);
    return rc;
}

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        kw_stored_entry_clear(&b->e[i]);
    }
    b->n = 0;
    b->bytes = 0;
}

void kw__sync_pump(kw__conn *c)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;
    batch *b = NULL;
    bool progress = true;

    if (c->state != CONN_UP || !c->hello_received || p == NULL || p->session != c) {
        return;
    }
    while (progress && c->queued < KW__HIGH_WATER && c->state == CONN_UP) {
        progress = false;
        /* One batch per origin per round, so one long feed does not starve the others. */
        for (size_t i = 0; i < p->n_os && c->queued < KW__HIGH_WATER; i++) {
            kw__origin_state *os = &p->os[i];
            uint64_t head = kw__head_seq(n, os->origin);
            uint64_t limit = p->eager ? head : (os->want_until < head ? os->want_until : head);
            if (os->known >= limit) {
                continue;
            }
            if (b == NULL && (b = calloc(1, sizeof(*b))) == NULL) {
                return;
            }
            uint8_t origin[32];
            memcpy(origin, os->origin, 32);
            bool push = os->known + 1 > os->want_until;
            if (kw_store_feed_range(n->store, origin, os->known + 1, limit, true, collect_cb, b)
                    != KW_ERR_OK
                || b->n == 0) {
                batch_clear(b);
                continue;
            }
            uint64_t last = b->e[b->n - 1].h.seq;
            kw_err rc = send_batch(c, b, push);
            batch_clear(b);
            if (rc != KW_ERR_OK || c->state != CONN_UP) {
                free(b);
                return;
            }
            /* p->os may have moved if a callback added origins; look it up again. */
            kw__origin_state *again = kw__origin_state_get(p, origin);
            if (again != NULL && again->known < last) {
                again->known = last;
            }
            progress = true;
        }
    }
    free(b);
}

void kw__sync_new_entries(kw_node *n, const uint8_t origin[static 32], uint64_t head,
    kw_peer_state *from)
{
    for (size_t i = 0; i < n->n_peers; i++) {
        kw_peer_state *q = n->peers[i];
        kw__conn *c = q->session;
        if (q == from || c == NULL || c->state != CONN_UP || !c->hello_received) {
            continue;
        }
        kw__origin_state *os = kw__origin_state_get(q, origin);
        if (os == NULL || os->known >= head) {
            continue;
        }
        if (q->eager) {
            kw__sync_pump(c);
        } else {
            send_ref(c, KW_MSG_IHAVE, origin, head);
        }
    }
}

/* ---- Receiving ---- */

static void misbehaved(kw__conn *c, const char *what)
{
    kw__conn_close(c, what, 3);
}

static int outbox_cb(void *ctx, const kw_stored_entry *e)
{
    batch *b = ctx;
    return collect_cb(b, e);
}

/* Delivers RED entries owed to this peer whose headers it already holds. */
static void deliver_outbox(kw__conn *c)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;
    kw__origin_state *os = kw__origin_state_get(p, n->self);
    batch *b = calloc(1, sizeof(*b));

    if (b == NULL || os == NULL) {
        free(b);
        return;
    }
    kw_store_outbox_list(n->store, p->info.id, outbox_cb, b);
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        /* Entries the peer does not hold yet go out with the feed itself. */
        if (b->e[i].h.seq <= os->known && b->e[i].payload != NULL) {
            b->e[w++] = b->e[i];
        } else {
            kw_stored_entry_clear(&b->e[i]);
        }
    }
    b->n = w;
    if (b->n > 0) {
        send_batch(c, b, false);
    }
    batch_clear(b);
    free(b);
}

static void on_have(kw__conn *c, const kw_msg *m)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;
    for (size_t i = 0; i < m->n_have; i++) {
        const kw_have_item *it = &m->have[i];
        if (!origin_wanted(n, it->origin)) {
            continue;
        }
        kw__origin_state *os = origin_state_add(p, it->origin);
        if (os == NULL) {
            return;
        }
        /* HAVE is the peer's own word on what it holds; believe a lower figure only when
         * nothing is in flight, or in-flight entries would be sent twice. */
        if (it->seq > os->known || c->queued == 0) {
            os->known = it->seq;
        }
        uint64_t head = kw__head_seq(n, it->origin);
        if (head > it->seq) {
            os->want_until = head;
        }
    }
    kw__sync_pump(c);
    deliver_outbox(c);
}

/* Passes the evidence of a fork new to this node to every other peer, so the whole
 * community freezes the origin, including nodes that hold neither side yet. */
static void forward_fork(kw_node *n, kw_peer_state *from, const uint8_t origin[static 32],
    uint64_t seq)
{
    evidence_ctx e = { n, from, NULL };
    (void)kw_store_fork_get(n->store, origin, seq, evidence_cb, &e);
}

/*
 * Fork evidence is an ENTRIES message of exactly two entries for one origin and seq, header
 * only. True when m is one; then it has been checked and recorded (and passed on when new),
 * and *bad names what is wrong with it when the peer sent evidence that does not hold.
 * Evidence about an origin outside this node's roster is none of its business: ignored.
 */
static bool take_evidence(kw__conn *c, const kw_msg *m, const char **bad, char *why, size_t cap)
{
    kw_node *n = c->node;
    const kw_wire_entry *x = &m->entries[0], *y = &m->entries[1];
    kw_header hx, hy;
    bool fresh = false;
    char who[13];

    *bad = NULL;
    if (m->n_entries != 2 || x->payload != NULL || y->payload != NULL
        || kw_header_decode(&hx, x->hdr, x->hdr_len) != KW_ERR_OK
        || kw_header_decode(&hy, y->hdr, y->hdr_len) != KW_ERR_OK
        || memcmp(hx.origin, hy.origin, 32) != 0 || hx.seq != hy.seq
        || (x->hdr_len == y->hdr_len && memcmp(x->hdr, y->hdr, x->hdr_len) == 0
            && memcmp(x->sig, y->sig, KW_SIG_LEN) == 0)) {
        return false;
    }
    kw_id_short(who, hx.origin);
    kw_err rc = kw_store_fork_evidence(n->store, x, y, &fresh);
    if (rc == KW_ERR_DECODE || rc == KW_ERR_BADSIG || rc == KW_ERR_INVAL) {
        snprintf(why, cap, "sent fork evidence that does not hold (origin %s seq %llu: %s)", who,
            (unsigned long long)hx.seq, kw_strerror(rc));
        *bad = why;
    } else if (rc == KW_ERR_ROSTER) {
        kw_log_info("fork evidence about an origin not in the roster ignored",
            "peer=%s origin=%s seq=%llu", c->peer->info.name, who, (unsigned long long)hx.seq);
    } else if (rc != KW_ERR_OK) {
        kw_log_error("storing fork evidence failed", "peer=%s err=\"%s\"", c->peer->info.name,
            kw_strerror(rc));
    } else if (fresh) {
        kw_log_error("fork evidence received", "peer=%s origin=%s seq=%llu", c->peer->info.name,
            who, (unsigned long long)hx.seq);
        kw__heads_refresh(n, c->peer);
        forward_fork(n, c->peer, hx.origin, hx.seq);
    }
    return true;
}

static void on_entries(kw__conn *c, const kw_msg *m)
{
    kw_node *n = c->node;
    const char *bad = NULL;
    char why[160];

    if (m->n_entries == 0) {
        return;
    }
    if (take_evidence(c, m, &bad, why, sizeof(why))) {
        if (bad != NULL) {
            misbehaved(c, bad);
        }
        return;
    }
    /* What a peer pushes as it is published is indexed at once, so it can be found (and
     * `kawan tail` shows it) as soon as it is here. What we asked for (a catch-up) is stored
     * first and indexed by the index thread behind it: see node/indexer.c. */
    kw__ingest_job *j = kw__ingest_job_new(c->peer, m, n->indexer != NULL && !m->push);
    if (j == NULL) {
        kw_log_error("out of memory for received entries; dropped", "peer=%s",
            c->peer->info.name);
        return;
    }
    /* Checked and stored on the store thread (node/storer.c), or here without one. */
    if (!kw__storer_put(n, j)) {
        kw__ingest_job_run(n, j);
        if (kw__sync_entries_stored(n, j)) {
            kw__heads_refresh(n, j->peer);
        }
        kw__ingest_job_free(j);
    }
}

bool kw__sync_entries_stored(kw_node *n, const kw__ingest_job *j)
{
    kw_peer_state *p = j->peer;
    /* The session the entries came on, or the peer's session since: what we answer goes
     * there, if there is one. */
    kw__conn *c = p->session != NULL && p->session->state == CONN_UP ? p->session : NULL;
    const kw_ingest_result *r = j->res;
    const char *bad = NULL;
    char why[160];
    size_t fresh = 0;

    if (j->counted) {
        atomic_fetch_sub(&n->catchup_jobs, 1);
    }
    if (j->rc != KW_ERR_OK) {
        kw_log_error("storing received entries failed", "peer=%s err=\"%s\"", p->info.name,
            kw_strerror(j->rc));
        if (n->store_error[0] == '\0') {
            n->store_error_ms = (uint64_t)kw_time_now_ms(); /* since the first failure */
        }
        snprintf(n->store_error, sizeof(n->store_error), "storing received entries failed: %s",
            kw_strerror(j->rc));
        return false;
    }
    for (size_t i = 0; i < j->n; i++) {
        const kw_wire_entry *w = &j->entries[i];
        char who[13];
        if (w->payload != NULL) {
            p->payload_bytes_rx += w->payload_len;
            n->payload_bytes_rx += w->payload_len;
        }
        kw__origin_state *os = NULL;
        switch (r[i].status) {
        case KW_INGEST_STORED:
        case KW_INGEST_UPGRADED:
            fresh++;
            if (w->payload != NULL) {
                n->payload_bytes_new += w->payload_len;
            }
            if (r[i].indicators > 0) {
                kw__control_tail_entry(n, r[i].origin, r[i].seq);
            }
            /* fall through */
        case KW_INGEST_HELD:
            if ((os = origin_state_add(p, r[i].origin)) != NULL && os->known < r[i].seq) {
                os->known = r[i].seq;
            }
            break;
        case KW_INGEST_GAP:
            /* Ahead of what we hold: ask this peer to fill the gap from our head. */
            if (c != NULL && (os = origin_state_add(p, r[i].origin)) != NULL) {
                /* From the store: the cached heads are refreshed once all results are in. */
                kw_head h;
                uint64_t head = kw_store_head(n->store, r[i].origin, &h) == KW_ERR_OK
                    ? h.seq
                    : kw__head_seq(n, r[i].origin);
                if (os->want_sent_for != head + 1) {
                    os->want_sent_for = head + 1;
                    send_ref(c, KW_MSG_WANT, r[i].origin, head + 1);
                }
            }
            break;
        case KW_INGEST_FORK:
            kw_id_short(who, r[i].origin);
            kw_log_error("fork detected in received entries", "peer=%s origin=%s seq=%llu",
                p->info.name, who, (unsigned long long)r[i].seq);
            forward_fork(n, p, r[i].origin, r[i].seq);
            break;
        case KW_INGEST_FROZEN:
            break;
        case KW_INGEST_REJECTED:
            kw_id_short(who, r[i].origin);
            kw_log_warn("entry rejected", "peer=%s origin=%s seq=%llu err=%s", p->info.name,
                who, (unsigned long long)r[i].seq, kw_errname(r[i].err));
            if (bad == NULL) {
                /* The close reason names the first bad entry, not the last. */
                snprintf(why, sizeof(why), "sent a bad entry (origin %s seq %llu: %s)", who,
                    (unsigned long long)r[i].seq, kw_strerror(r[i].err));
                bad = why;
            }
            break;
        }
    }
    kw_log_debug("entries received", "peer=%s entries=%zu new=%zu push=%d", p->info.name,
        j->n, fresh, j->push ? 1 : 0);
    if (fresh > 0) {
        if (j->defer) {
            kw__indexer_kick(n, true);
        }
        n->store_error[0] = '\0'; /* storing works again */
    } else if (j->push && bad == NULL && p->eager && c != NULL) {
        kw_log_debug("pruning a duplicate eager link", "peer=%s", p->info.name);
        /* A pushed batch that brought nothing new: this link duplicates another path.
         * Make it lazy on both sides (Plumtree's prune). */
        kw_buf b = { 0 };
        p->eager = false;
        if (kw_msg_encode_prune(&b) == KW_ERR_OK) {
            send_msg(c, &b);
        }
        kw_buf_free(&b);
    }
    if (bad != NULL && c != NULL) {
        misbehaved(c, bad);
    }
    return fresh > 0;
}

kw_err kw__sync_on_message(kw__conn *c, const uint8_t *buf, size_t len)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;
    kw_msg m;
    kw__origin_state *os;

    if (kw_msg_decode(&m, buf, len) != KW_ERR_OK) {
        misbehaved(c, "malformed or unknown message");
        return KW_ERR_DECODE;
    }
    if (!c->hello_received && m.type != KW_MSG_HELLO) {
        kw_msg_clear(&m);
        misbehaved(c, "message before HELLO");
        return KW_ERR_DECODE;
    }
    switch (m.type) {
    case KW_MSG_HELLO:
        if (c->hello_received) {
            misbehaved(c, "second HELLO");
            break;
        }
        if (m.version != KW_WIRE_VERSION) {
            kw__conn_close(c, "unsupported protocol version", 1);
            break;
        }
        if (memcmp(m.node_id, p->info.id, 32) != 0) {
            misbehaved(c, "HELLO names another node id");
            break;
        }
        kw__sync_session_up(c);
        break;
    case KW_MSG_PING: {
        kw_buf b = { 0 };
        if (kw_msg_encode_ping(&b, KW_MSG_PONG, m.nonce) == KW_ERR_OK) {
            send_msg(c, &b);
        }
        kw_buf_free(&b);
        break;
    }
    case KW_MSG_PONG:
        break;
    case KW_MSG_HAVE:
        on_have(c, &m);
        break;
    case KW_MSG_DIGEST: {
        kw_head *v = NULL;
        size_t k = 0;
        uint8_t d[16];
        if (our_vector(n, &v, &k) == KW_ERR_OK) {
            kw_have_digest(d, v, k);
            if (sodium_memcmp(d, m.digest, 16) != 0) {
                kw_log_debug("digest differs: exchanging version vectors", "peer=%s",
                    p->info.name);
                send_have(c); /* out of sync: exchange full vectors */
            }
        }
        free(v);
        break;
    }
    case KW_MSG_ENTRIES:
        on_entries(c, &m);
        break;
    case KW_MSG_IHAVE:
        if (origin_wanted(n, m.origin) && (os = origin_state_add(p, m.origin)) != NULL) {
            if (os->known < m.seq) {
                os->known = m.seq;
            }
            if (kw__head_seq(n, m.origin) < m.seq && os->graft_deadline_ms == 0) {
                os->graft_seq = m.seq;
                os->graft_deadline_ms = kw__now_ms(n) + n->opts.graft_timeout_ms;
            }
        }
        break;
    case KW_MSG_GRAFT:
    case KW_MSG_WANT:
        if (origin_wanted(n, m.origin) && (os = origin_state_add(p, m.origin)) != NULL) {
            char who[13];
            kw_id_short(who, m.origin);
            kw_log_debug(m.type == KW_MSG_GRAFT ? "graft received" : "want received",
                "peer=%s origin=%s from_seq=%llu", p->info.name, who, (unsigned long long)m.seq);
            if (m.type == KW_MSG_GRAFT) {
                p->eager = true;
            }
            if (m.seq > 0 && os->known >= m.seq) {
                os->known = m.seq - 1;
            }
            os->want_until = kw__head_seq(n, m.origin);
            kw__sync_pump(c);
        }
        break;
    case KW_MSG_PRUNE:
        kw_log_debug("prune received", "peer=%s", p->info.name);
        p->eager = false;
        break;
    }
    kw_msg_clear(&m);
    return KW_ERR_OK;
}

void kw__sync_anti_entropy(kw_node *n)
{
    for (size_t i = 0; i < n->n_peers; i++) {
        kw__conn *c = n->peers[i]->session;
        if (c != NULL && c->state == CONN_UP && c->hello_received) {
            send_digest(c);
        }
    }
}

void kw__sync_tick(kw_node *n, uint64_t now)
{
    for (size_t i = 0; i < n->n_peers; i++) {
        kw_peer_state *p = n->peers[i];
        kw__conn *c = p->session;
        if (c == NULL || c->state != CONN_UP) {
            continue;
        }
        for (size_t j = 0; j < p->n_os; j++) {
            kw__origin_state *os = &p->os[j];
            if (os->graft_deadline_ms == 0 || now < os->graft_deadline_ms) {
                continue;
            }
            os->graft_deadline_ms = 0;
            uint64_t head = kw__head_seq(n, os->origin);
            if (head < os->graft_seq) {
                /* The eager path did not deliver in time: pull from the announcer. */
                p->eager = true;
                send_ref(c, KW_MSG_GRAFT, os->origin, head + 1);
            }
        }
    }
}
