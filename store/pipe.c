/* SPDX-License-Identifier: Apache-2.0 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The pipe owns max bundles. When idle they are empty and wait in own[]; put swaps them with
 * the caller's filled ones, which are then the batch own[0..n_work) until the writer has
 * written and emptied them.
 *
 * put encodes a batch (and seals it, for a sealed level) before handing it over, betting that
 * the publish will drop nothing and give its entries the seqs that follow the feed's head.
 * A bundle that loses the bet is encoded and sealed again by the publish: correct, only
 * slower. A few duplicates cost a few bundles; but after a batch that was mostly
 * duplicates (a list published again, held already), the next batches are not encoded
 * ahead, until one is mostly new again.
 */
struct kw_publish_pipe {
    kw_store *s;
    const kw_identity *id;
    const kw_publish_opts *opts;
    size_t max;
    kw_bundle **own;
    kw__precoded *pre; /* one per bundle of the batch, or NULL */
    kw__prekeys keys; /* the batch's keys, in order */
    size_t n_work;
    uint8_t (*recips)[32]; /* sealed levels: as the publish will resolve them, or NULL */
    size_t n_recips;
    bool synced; /* mu and cv were made */
    bool threaded;
    pthread_t th;
    /* mu guards what follows */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool pending; /* a batch waits or is being written */
    bool stop;
    size_t work_entries; /* entries the pending batch should make */
    uint64_t next_seq; /* the seq after the last batch written */
    bool dropped; /* the last batch written was mostly duplicates */
    kw_err rc; /* the first error; sticks */
    kw_publish_result res; /* of the batches written and not yet reported */
};

static void precoded_free(kw__precoded *pre, size_t n)
{
    for (size_t i = 0; pre != NULL && i < n; i++) {
        kw__precoded_clear(&pre[i]);
    }
    free(pre);
}

/* Writes the batch in own[0..n_work) and empties it; called with mu not held. */
static void write_batch(kw_publish_pipe *p, kw_err *rc, kw_publish_result *r)
{
    kw__prebatch pb = { p->pre, (const uint8_t(*)[32])p->recips, p->n_recips, p->keys };

    memset(r, 0, sizeof(*r));
    *rc = kw__publish(p->s, p->id, p->opts, p->own, p->n_work, p->pre != NULL ? &pb : NULL, r);
    kw__prekeys_clear(&p->keys);
    precoded_free(p->pre, p->n_work);
    p->pre = NULL;
    for (size_t i = 0; i < p->n_work; i++) {
        kw_bundle_reset(p->own[i]);
    }
}

/* Records a written batch; called with mu held. */
static void batch_done(kw_publish_pipe *p, kw_err rc, const kw_publish_result *r)
{
    if (rc == KW_ERR_OK) {
        kw_publish_result_add(&p->res, r);
        if (r->entries > 0) {
            p->next_seq = r->last_seq + 1;
        }
        p->dropped = r->duplicates + r->foreign > r->indicators;
    } else if (p->rc == KW_ERR_OK) {
        p->rc = rc;
    }
    p->pending = false;
}

static void *writer(void *arg)
{
    kw_publish_pipe *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->pending && !p->stop) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (!p->pending) {
            break;
        }
        pthread_mutex_unlock(&p->mu);
        kw_err rc;
        kw_publish_result r;
        write_batch(p, &rc, &r);
        pthread_mutex_lock(&p->mu);
        batch_done(p, rc, &r);
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

kw_err kw_publish_pipe_new(kw_publish_pipe **out, kw_store *s, const kw_identity *id,
    const kw_publish_opts *opts, size_t max_bundles)
{
    kw_publish_pipe *p;
    kw_err rc;

    *out = NULL;
    if (max_bundles == 0 || s->rdonly) {
        return KW_ERR_INVAL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        return KW_ERR_NOMEM;
    }
    p->s = s;
    p->id = id;
    p->opts = opts;
    p->max = max_bundles;
    if ((p->own = calloc(max_bundles, sizeof(*p->own))) == NULL) {
        free(p);
        return KW_ERR_NOMEM;
    }
    for (size_t i = 0; i < max_bundles; i++) {
        if (kw_bundle_new(&p->own[i]) != KW_ERR_OK) {
            kw_publish_pipe_free(p);
            return KW_ERR_NOMEM;
        }
    }
    if ((rc = kw__publish_plan(s, opts, &p->next_seq, &p->recips, &p->n_recips)) != KW_ERR_OK) {
        kw_publish_pipe_free(p);
        return rc;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        kw_publish_pipe_free(p);
        return KW_ERR_NOMEM;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        kw_publish_pipe_free(p);
        return KW_ERR_NOMEM;
    }
    p->synced = true;
    p->threaded = sysconf(_SC_NPROCESSORS_ONLN) > 1 && pthread_create(&p->th, NULL, writer, p) == 0;
    *out = p;
    return KW_ERR_OK;
}

/* Waits until no batch is pending; gives (and clears) what was written. Takes mu. */
static kw_err wait_idle(kw_publish_pipe *p, kw_publish_result *done)
{
    kw_err rc;

    pthread_mutex_lock(&p->mu);
    while (p->pending) {
        pthread_cond_wait(&p->cv, &p->mu);
    }
    rc = p->rc;
    if (done != NULL) {
        *done = p->res;
    }
    memset(&p->res, 0, sizeof(p->res));
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* The sealing of a batch encoded ahead, shared by put's thread and a helper. */
typedef struct seal_ahead {
    kw_publish_pipe *p;
    kw__precoded *pre;
    size_t n;
    atomic_size_t next;
    kw_err *rc;
} seal_ahead;

static void *seal_some(void *arg)
{
    seal_ahead *sa = arg;
    for (size_t i; (i = atomic_fetch_add(&sa->next, 1)) < sa->n;) {
        if (sa->pre[i].plain != NULL) {
            sa->rc[i] = kw__preseal(&sa->pre[i], (const uint8_t(*)[32])sa->p->recips,
                sa->p->n_recips, sa->p->s->self, sa->p->opts->tlp);
        }
    }
    return NULL;
}

/*
 * Seals the encoded bundles. Sealing costs two X25519 operations per recipient and entry,
 * more than reading and encoding the batch: a helper thread shares it, so that the
 * sealing, this thread's reading and the writer's transaction keep both cores busy.
 */
static kw_err seal_batch(kw_publish_pipe *p, kw__precoded *pre, size_t n)
{
    seal_ahead sa = { .p = p, .pre = pre, .n = n };
    pthread_t th;
    bool helped;
    kw_err rc = KW_ERR_OK;

    if ((sa.rc = calloc(n, sizeof(*sa.rc))) == NULL) {
        return KW_ERR_NOMEM;
    }
    atomic_init(&sa.next, 0);
    helped = n > 1 && p->threaded && pthread_create(&th, NULL, seal_some, &sa) == 0;
    seal_some(&sa);
    if (helped) {
        pthread_join(th, NULL);
    }
    for (size_t i = 0; i < n && rc == KW_ERR_OK; i++) {
        rc = sa.rc[i];
    }
    free(sa.rc);
    return rc;
}

/*
 * Encodes (and seals) bundles[0..n) ahead, for the seqs that should follow what is written
 * and pending; *out stays NULL when the bet is off. A failure here is a lost bet too: the
 * publish does the work again and is the one to say what is wrong (a bundle that only fits
 * once its duplicates are dropped is no error at all).
 */
static void precode_batch(kw_publish_pipe *p, kw_bundle **bundles, size_t n,
    kw__precoded **out)
{
    bool sealed = kw_tlp_sealed(p->opts->tlp);
    kw__precoded *pre;
    uint64_t seq;
    bool skip;
    kw_err rc = KW_ERR_OK;

    *out = NULL;
    pthread_mutex_lock(&p->mu);
    seq = p->next_seq + (p->pending ? p->work_entries : 0);
    skip = p->dropped;
    pthread_mutex_unlock(&p->mu);
    if (skip || n == 0 || (sealed && p->recips == NULL)) {
        return;
    }
    if ((pre = calloc(n, sizeof(*pre))) == NULL) {
        return;
    }
    for (size_t i = 0; i < n && rc == KW_ERR_OK; i++) {
        if (bundles[i]->n > 0) {
            rc = kw__precode(bundles[i], sealed ? (const uint8_t(*)[32])p->recips : NULL,
                p->n_recips, seq++, &pre[i]);
        }
    }
    if (rc == KW_ERR_OK && sealed) {
        rc = seal_batch(p, pre, n);
    }
    if (rc != KW_ERR_OK) {
        precoded_free(pre, n);
        return;
    }
    *out = pre;
}

kw_err kw_publish_pipe_put(kw_publish_pipe *p, kw_bundle **bundles, size_t n,
    kw_publish_result *done)
{
    kw__precoded *pre = NULL;
    kw__prekeys keys;
    size_t entries = 0;
    kw_err rc;

    memset(done, 0, sizeof(*done));
    if (n > p->max) {
        return KW_ERR_INVAL;
    }
    /* Sort the batch's keys and encode its bundles on this thread, while the writer works
     * on the batch before. Either may fail (memory): the publish then does it itself. */
    (void)kw__prekeys_make(bundles, n, &keys);
    precode_batch(p, bundles, n, &pre);
    if ((rc = wait_idle(p, done)) != KW_ERR_OK || n == 0) {
        precoded_free(pre, n);
        kw__prekeys_clear(&keys);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        kw_bundle *t = p->own[i];
        p->own[i] = bundles[i];
        bundles[i] = t;
        entries += p->own[i]->n > 0;
    }
    p->n_work = n;
    p->pre = pre;
    p->keys = keys;
    if (!p->threaded) {
        kw_publish_result r;
        write_batch(p, &rc, &r);
        pthread_mutex_lock(&p->mu);
        batch_done(p, rc, &r);
        pthread_mutex_unlock(&p->mu);
        return wait_idle(p, done);
    }
    pthread_mutex_lock(&p->mu);
    p->work_entries = entries;
    p->pending = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return KW_ERR_OK;
}

kw_err kw_publish_pipe_finish(kw_publish_pipe *p, kw_publish_result *done)
{
    memset(done, 0, sizeof(*done));
    return wait_idle(p, done);
}

void kw_publish_pipe_free(kw_publish_pipe *p)
{
    if (p == NULL) {
        return;
    }
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    if (p->synced) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    precoded_free(p->pre, p->n_work);
    kw__prekeys_clear(&p->keys);
    for (size_t i = 0; p->own != NULL && i < p->max; i++) {
        kw_bundle_free(p->own[i]);
    }
    free(p->recips);
    free(p->own);
    free(p);
}
