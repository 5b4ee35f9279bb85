/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's store thread. Every ENTRIES message a peer sends is copied on the loop thread,
 * which also makes the checks that need no store (signature, payload hash: a helper thread
 * takes half), and handed to this thread, which makes the checks that need the store
 * (roster, chain, forks) and stores it (kw_store_ingest_checked; deferred for a catch-up)
 * while the loop thread reads, decrypts and checks the next messages. Messages of one kind
 * that wait together are stored in one write transaction, one sync to disk for all, in the
 * order they came. The results go back to the loop thread through an async handle, in the
 * same order, where node/sync.c acts on them. The loop thread waits while more than
 * STORE_QUEUE_MAX bytes wait to be stored, so a fast sender cannot make the daemon hold much
 * more than that (what is stored waits only for the loop thread to act on it).
 * Stopping drops what was not stored yet: nothing of it was committed, and peers send it
 * again.
 */
#include "node/node_int.h"
#include "node/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/log.h"

/* Bytes of received entries waiting to be stored, at most; and stored in one transaction,
 * at most (a single larger message is stored alone). */
#define STORE_QUEUE_MAX (8u << 20)
#define STORE_TXN_MAX (4u << 20)

struct kw__storer {
    kw_node *n;
    kw__worker w;           /* w.async: stored jobs are in done */
    pthread_cond_t room;    /* room in the queue, for the loop thread */
    /* under w.mu: */
    kw__ingest_job *waiting; /* FIFO: to be stored */
    kw__ingest_job **waiting_tail;
    kw__ingest_job *done;   /* FIFO, for the loop thread */
    kw__ingest_job **done_tail;
    size_t queued_bytes;     /* of waiting and the jobs being stored */
};

void kw__ingest_job_free(kw__ingest_job *j)
{
    if (j != NULL) {
        free(j->buf);
        free(j->entries);
        free(j->res);
        free(j->verdicts);
        free(j);
    }
}

kw__ingest_job *kw__ingest_job_new(kw_peer_state *p, const kw_msg *m, bool defer)
{
    kw__ingest_job *j = calloc(1, sizeof(*j));
    size_t bytes = 0, off = 0;

    if (j == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        bytes += m->entries[i].hdr_len + KW_SIG_LEN + m->entries[i].payload_len;
    }
    j->entries = calloc(m->n_entries, sizeof(*j->entries));
    j->verdicts = calloc(m->n_entries, sizeof(*j->verdicts));
    j->res = calloc(m->n_entries, sizeof(*j->res));
    j->buf = malloc(bytes > 0 ? bytes : 1);
    if (j->entries == NULL || j->verdicts == NULL || j->res == NULL || j->buf == NULL) {
        kw__ingest_job_free(j);
        return NULL;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        const kw_wire_entry *w = &m->entries[i];
        kw_wire_entry *c = &j->entries[i];
        c->hdr = j->buf + off;
        memcpy(j->buf + off, w->hdr, w->hdr_len);
        c->hdr_len = w->hdr_len;
        off += w->hdr_len;
        c->sig = j->buf + off;
        memcpy(j->buf + off, w->sig, KW_SIG_LEN);
        off += KW_SIG_LEN;
        if (w->payload != NULL) {
            c->payload = j->buf + off;
            if (w->payload_len > 0) {
                memcpy(j->buf + off, w->payload, w->payload_len);
            }
            c->payload_len = w->payload_len;
            off += w->payload_len;
        }
    }
    /* The checks that need no store, made here while the store thread stores what came
     * before. */
    kw_store_check_entries(j->entries, m->n_entries, j->verdicts);
    j->peer = p;
    j->n = m->n_entries;
    j->push = m->push;
    j->defer = defer;
    j->bytes = bytes;
    return j;
}

void kw__ingest_job_run(kw_node *n, kw__ingest_job *j)
{
    j->rc = kw_store_ingest_checked(n->store, n->id, j->entries, j->verdicts, j->n, j->defer,
        j->res);
}

/*
 * Stores jobs (a FIFO run of the same kind, entries in all) in one transaction. Each job
 * alone when there is one, when there is no memory to join them, or when the joint
 * transaction failed: one message's failure must not cost the others theirs.
 */
static void store_run(kw_node *n, kw__ingest_job *first, size_t count, size_t entries)
{
    kw_wire_entry *all = NULL;
    kw_entry_verdict *verdicts = NULL;
    kw_ingest_result *res = NULL;
    kw__ingest_job *j;
    kw_err rc = KW_ERR_NOMEM;
    size_t k = 0;

    if (count > 1) {
        all = malloc(entries * sizeof(*all));
        verdicts = malloc(entries * sizeof(*verdicts));
        res = malloc(entries * sizeof(*res));
    }
    if (all != NULL && verdicts != NULL && res != NULL) {
        for (j = first; j != NULL; j = j->next) {
            memcpy(all + k, j->entries, j->n * sizeof(*all));
            memcpy(verdicts + k, j->verdicts, j->n * sizeof(*verdicts));
            k += j->n;
        }
        rc = kw_store_ingest_checked(n->store, n->id, all, verdicts, entries, first->defer,
            res);
    }
    k = 0;
    for (j = first; j != NULL; j = j->next) {
        if (rc != KW_ERR_OK) {
            kw__ingest_job_run(n, j);
            continue;
        }
        j->rc = KW_ERR_OK;
        memcpy(j->res, res + k, j->n * sizeof(*res));
        k += j->n;
    }
    free(all);
    free(verdicts);
    free(res);
}

/* Frees a list of jobs. */
static void jobs_free(kw__ingest_job *j)
{
    while (j != NULL) {
        kw__ingest_job *next = j->next;
        kw__ingest_job_free(j);
        j = next;
    }
}

static void *store_main(void *arg)
{
    kw__storer *x = arg;

    pthread_mutex_lock(&x->w.mu);
    for (;;) {
        while (x->waiting == NULL && !x->w.quit) {
            pthread_cond_wait(&x->w.cv, &x->w.mu);
        }
        if (x->w.quit) {
            break;
        }
        /* Take the run of jobs of one kind at the head of the queue, up to STORE_TXN_MAX. */
        kw__ingest_job *first = x->waiting, *last = first;
        size_t count = 1, entries = first->n, bytes = first->bytes;
        while (last->next != NULL && last->next->defer == first->defer
            && bytes + last->next->bytes <= STORE_TXN_MAX) {
            last = last->next;
            count++;
            entries += last->n;
            bytes += last->bytes;
        }
        x->waiting = last->next;
        if (x->waiting == NULL) {
            x->waiting_tail = &x->waiting;
        }
        last->next = NULL;
        pthread_mutex_unlock(&x->w.mu);

        store_run(x->n, first, count, entries);

        pthread_mutex_lock(&x->w.mu);
        x->queued_bytes -= bytes;
        pthread_cond_broadcast(&x->room);
        if (x->w.async_open) {
            *x->done_tail = first;
            x->done_tail = &last->next;
            kw__worker_notify(&x->w);
        } else {
            jobs_free(first); /* stopping: nobody will act on them */
        }
    }
    pthread_mutex_unlock(&x->w.mu);
    return NULL;
}

/* Loop thread: acts on what was stored, in order. */
static void on_wake(uv_async_t *a)
{
    kw__storer *x = a->data;
    kw__ingest_job *j;

    pthread_mutex_lock(&x->w.mu);
    j = x->done;
    x->done = NULL;
    x->done_tail = &x->done;
    pthread_mutex_unlock(&x->w.mu);
    /* Every result first, then the heads once: a message's sender is known to hold what
     * it sent before anything new is passed on. */
    bool fresh = false;
    kw_peer_state *from = NULL;
    while (j != NULL) {
        kw__ingest_job *next = j->next;
        if (kw__sync_entries_stored(x->n, j)) {
            from = !fresh || from == j->peer ? j->peer : NULL;
            fresh = true;
        }
        kw__ingest_job_free(j);
        j = next;
    }
    if (fresh) {
        kw__heads_refresh(x->n, from);
    }
}

bool kw__storer_put(kw_node *n, kw__ingest_job *j)
{
    kw__storer *x = n->storer;
    if (x == NULL) {
        return false;
    }
    pthread_mutex_lock(&x->w.mu);
    while (x->queued_bytes > 0 && x->queued_bytes + j->bytes > STORE_QUEUE_MAX && !x->w.quit) {
        pthread_cond_wait(&x->room, &x->w.mu);
    }
    if (x->w.quit) {
        pthread_mutex_unlock(&x->w.mu);
        return false;
    }
    if (j->defer) {
        /* The index thread gives way until this is acted on (node/indexer.c). */
        atomic_fetch_add(&n->catchup_jobs, 1);
        j->counted = true;
    }
    j->next = NULL;
    *x->waiting_tail = j;
    x->waiting_tail = &j->next;
    x->queued_bytes += j->bytes;
    pthread_cond_signal(&x->w.cv);
    pthread_mutex_unlock(&x->w.mu);
    return true;
}

kw_err kw__storer_start(kw_node *n)
{
    kw__storer *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return KW_ERR_NOMEM;
    }
    x->n = n;
    x->waiting_tail = &x->waiting;
    x->done_tail = &x->done;
    pthread_cond_init(&x->room, NULL);
    kw_err rc = kw__worker_start(&x->w, &n->loop, on_wake, store_main, x);
    if (rc != KW_ERR_OK) {
        pthread_cond_destroy(&x->room);
        free(x);
        return rc;
    }
    n->storer = x;
    return KW_ERR_OK;
}

void kw__storer_stop(kw_node *n)
{
    kw__storer *x = n->storer;
    if (x == NULL) {
        return;
    }
    kw__worker_stop(&x->w);
    pthread_mutex_lock(&x->w.mu);
    pthread_cond_broadcast(&x->room);
    pthread_mutex_unlock(&x->w.mu);
}

void kw__storer_free(kw_node *n)
{
    kw__storer *x = n->storer;
    if (x == NULL) {
        return;
    }
    kw__storer_stop(n);
    kw__worker_join(&x->w); /* after its current transaction */
    /* What was not stored yet is dropped: nothing of it was committed, and peers send it
     * again. */
    jobs_free(x->waiting);
    jobs_free(x->done);
    pthread_cond_destroy(&x->room);
    free(x);
    n->storer = NULL;
}
