/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's index thread. Entries a peer sends because we asked for them (a catch-up)
 * are stored without their index (kw_store_ingest_checked with defer, on the store thread:
 * node/storer.c) and wait on the store's index queue; this thread decodes and indexes them (kw_store_index_queued) while the loop thread
 * goes on receiving, checking, storing and relaying. What it indexed goes back to the loop
 * thread through an async handle, for `kawan tail`. The queue is in the store, so entries a
 * stopped or killed daemon had not indexed are indexed by the next one.
 */
#include "node/node_int.h"
#include "node/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bundle/bundle.h"
#include "crypto/log.h"

/* Entries indexed per call of kw_store_index_queued (several transactions; after each the
 * thread sees whether it is told to stop or to give way). */
#define INDEX_MAX 1024u
/* While the loop thread stores a catch-up, the index waits: the two would take turns at the
 * store's one write lock, and the catch-up would slow to the index's pace. The index starts
 * this long after the last batch of the catch-up was stored. */
#define QUIET_MS 20u
/* But a catch-up that goes on (a long backlog over a link just fast enough) does not keep
 * the index waiting longer than this: then the index runs one transaction, and waits again. */
#define QUIET_MAX_MS 1000u
/* After a failed index transaction (a full disk, ...), wait this long before trying again. */
#define RETRY_MS 1000u

struct kw__indexer {
    kw_node *n;
    kw__worker w;      /* w.async announces what was indexed */
    /* under w.mu: */
    bool kicked;       /* entries may have been queued since the last look */
    uint64_t quiet_until_ms;
    uint64_t held_since_ms; /* when the index began to wait for a catch-up (0: it does not) */
    kw_indexed *ready; /* indexed, not yet announced on the loop thread */
    size_t n_ready;
    size_t cap_ready;
};

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Loop thread: announces what the index thread indexed. */
static void on_done(uv_async_t *a)
{
    kw__indexer *x = a->data;
    kw_indexed *got;
    size_t n;

    pthread_mutex_lock(&x->w.mu);
    got = x->ready;
    n = x->n_ready;
    x->ready = NULL;
    x->n_ready = x->cap_ready = 0;
    pthread_mutex_unlock(&x->w.mu);
    for (size_t i = 0; i < n; i++) {
        kw__control_tail_entry(x->n, got[i].origin, got[i].seq);
    }
    free(got);
}

/* Index thread: hands what one transaction indexed to the loop thread; false when the index
 * should give way (a catch-up is being stored, or the daemon stops). */
static bool hand_over(void *ctx, const kw_indexed *done, size_t n)
{
    kw__indexer *x = ctx;
    bool go_on;
    pthread_mutex_lock(&x->w.mu);
    for (size_t i = 0; i < n && x->w.async_open; i++) {
        if (done[i].indicators == 0) {
            continue;
        }
        kw_indexed *r = kw_grow(x->ready, &x->cap_ready, x->n_ready, sizeof(*r), 64);
        if (r == NULL) {
            break; /* `kawan tail` misses these; the index has them */
        }
        x->ready = r;
        x->ready[x->n_ready++] = done[i];
    }
    if (x->n_ready > 0) {
        kw__worker_notify(&x->w);
    }
    go_on = !x->w.quit && mono_ms() >= x->quiet_until_ms && atomic_load(&x->n->catchup_jobs) == 0;
    pthread_mutex_unlock(&x->w.mu);
    return go_on;
}

/*
 * Waits, under mu, until there is work (kicked, and no catch-up being stored, or one has held
 * the index back for QUIET_MAX_MS) or the thread is told to quit. retry_ms > 0: after a failure, look again after that long even if
 * nothing new came.
 */
static void wait_work(kw__indexer *x, unsigned retry_ms)
{
    uint64_t retry_at = retry_ms > 0 ? mono_ms() + retry_ms : 0;
    while (!x->w.quit) {
        uint64_t now = mono_ms(), until = 0;
        if (x->kicked || (retry_at > 0 && now >= retry_at)) {
            if (now >= x->quiet_until_ms && atomic_load(&x->n->catchup_jobs) == 0) {
                return;
            }
            if (x->held_since_ms == 0) {
                x->held_since_ms = now;
            }
            if (now - x->held_since_ms >= QUIET_MAX_MS) {
                return;
            }
            until = x->quiet_until_ms > now ? x->quiet_until_ms : now + 5;
            if (until > x->held_since_ms + QUIET_MAX_MS) {
                until = x->held_since_ms + QUIET_MAX_MS;
            }
        } else if (retry_at > 0) {
            until = retry_at;
        }
        if (until == 0) {
            pthread_cond_wait(&x->w.cv, &x->w.mu);
            continue;
        }
        struct timespec ts;
        uint64_t wait_ms = until - now;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(wait_ms / 1000u);
        ts.tv_nsec += (long)(wait_ms % 1000u) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&x->w.cv, &x->w.mu, &ts);
    }
}

static void *index_main(void *arg)
{
    kw__indexer *x = arg;
    unsigned retry_ms = 0;

    pthread_mutex_lock(&x->w.mu);
    for (;;) {
        wait_work(x, retry_ms);
        if (x->w.quit) {
            break;
        }
        x->kicked = false;
        x->held_since_ms = 0;
        pthread_mutex_unlock(&x->w.mu);
        size_t done = 0;
        kw_err rc = kw_store_index_queued(x->n->store, x->n->id, INDEX_MAX, hand_over, x, &done);
        if (rc != KW_ERR_OK) {
            kw_log_error("indexing received entries failed; trying again", "err=\"%s\"",
                kw_strerror(rc));
        }
        pthread_mutex_lock(&x->w.mu);
        retry_ms = rc != KW_ERR_OK ? RETRY_MS : 0;
        if (rc == KW_ERR_OK && done > 0) {
            x->kicked = true; /* there may be more */
        }
    }
    pthread_mutex_unlock(&x->w.mu);
    return NULL;
}

kw_err kw__indexer_start(kw_node *n)
{
    kw__indexer *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return KW_ERR_NOMEM;
    }
    x->n = n;
    x->kicked = true; /* entries a previous daemon left queued */
    kw_err rc = kw__worker_start(&x->w, &n->loop, on_done, index_main, x);
    if (rc != KW_ERR_OK) {
        free(x);
        return rc;
    }
    n->indexer = x;
    return KW_ERR_OK;
}

void kw__indexer_kick(kw_node *n, bool catching_up)
{
    kw__indexer *x = n->indexer;
    if (x == NULL) {
        return;
    }
    pthread_mutex_lock(&x->w.mu);
    x->kicked = true;
    if (catching_up) {
        x->quiet_until_ms = mono_ms() + QUIET_MS;
    }
    pthread_cond_signal(&x->w.cv);
    pthread_mutex_unlock(&x->w.mu);
}

void kw__indexer_stop(kw_node *n)
{
    if (n->indexer != NULL) {
        kw__worker_stop(&n->indexer->w);
    }
}

void kw__indexer_free(kw_node *n)
{
    kw__indexer *x = n->indexer;
    if (x == NULL) {
        return;
    }
    kw__worker_stop(&x->w);
    kw__worker_join(&x->w); /* after its current transaction */
    free(x->ready);
    free(x);
    n->indexer = NULL;
}
