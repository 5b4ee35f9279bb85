/* SPDX-License-Identifier: Apache-2.0 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The pipe owns max bundles. When idle they are empty and wait in own[]; put swaps them with
 * the caller's filled ones, which are then the batch own[0..n_work) until the writer has
 * written and emptied them.
 */
struct kw_publish_pipe {
    kw_store *s;
    const kw_identity *id;
    const kw_publish_opts *opts;
    size_t max;
    kw_bundle **own;
    kw__precoded *pre; /* one per bundle of the batch; none for sealed levels */
    kw__prekeys keys; /* the batch's keys, in order */
    size_t n_work;
    bool synced; /* mu and cv were made */
    bool threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool pending; /* a batch waits or is being written */
    bool stop;
    kw_err rc; /* the first error; sticks */
    kw_publish_result res; /* of the batches written and not yet reported */
};

/* Writes the batch in own[0..n_work) and empties it; called with mu not held. */
static void write_batch(kw_publish_pipe *p, kw_err *rc, kw_publish_result *r)
{
    memset(r, 0, sizeof(*r));
    kw__prebatch pb = { kw_tlp_sealed(p->opts->tlp) ? NULL : p->pre, p->keys };
    *rc = kw__publish(p->s, p->id, p->opts, p->own, p->n_work, &pb, r);
    kw__prekeys_clear(&p->keys);
    for (size_t i = 0; i < p->n_work; i++) {
        kw__precoded_clear(&p->pre[i]);
        kw_bundle_reset(p->own[i]);
    }
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
        if (rc == KW_ERR_OK) {
            kw__result_add(&p->res, &r);
        } else if (p->rc == KW_ERR_OK) {
            p->rc = rc;
        }
        p->pending = false;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

kw_err kw_publish_pipe_new(kw_publish_pipe **out, kw_store *s, const kw_identity *id,
    const kw_publish_opts *opts, size_t max_bundles)
{
    kw_publish_pipe *p;

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
    if ((p->own = calloc(max_bundles, sizeof(*p->own))) == NULL
        || (p->pre = calloc(max_bundles, sizeof(*p->pre))) == NULL) {
        free(p->own);
        free(p);
        return KW_ERR_NOMEM;
    }
    for (size_t i = 0; i < max_bundles; i++) {
        if (kw_bundle_new(&p->own[i]) != KW_ERR_OK) {
            kw_publish_pipe_free(p);
            return KW_ERR_NOMEM;
        }
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

kw_err kw_publish_pipe_put(kw_publish_pipe *p, kw_bundle **bundles, size_t n,
    kw_publish_result *done)
{
    kw__precoded *pre = NULL;
    kw__prekeys keys;
    kw_err rc;

    memset(done, 0, sizeof(*done));
    if (n > p->max) {
        return KW_ERR_INVAL;
    }
    /* Sort the batch's keys, and encode its bundles, on this thread, while the writer works
     * on the batch before. */
    if ((rc = kw__prekeys_make(bundles, n, &keys)) != KW_ERR_OK) {
        return rc;
    }
    if (!kw_tlp_sealed(p->opts->tlp) && n > 0) {
        if ((pre = calloc(n, sizeof(*pre))) == NULL) {
            kw__prekeys_clear(&keys);
            return KW_ERR_NOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            if (bundles[i]->n > 0 && (rc = kw__precode(bundles[i], &pre[i])) != KW_ERR_OK) {
                for (size_t j = 0; j < i; j++) {
                    kw__precoded_clear(&pre[j]);
                }
                free(pre);
                kw__prekeys_clear(&keys);
                return rc;
            }
        }
    }
    rc = wait_idle(p, done);
    if (rc == KW_ERR_OK) {
        for (size_t i = 0; i < n; i++) {
            kw_bundle *t = p->own[i];
            p->own[i] = bundles[i];
            bundles[i] = t;
            if (pre != NULL) {
                p->pre[i] = pre[i];
                memset(&pre[i], 0, sizeof(pre[i]));
            }
        }
        p->n_work = n;
        p->keys = keys;
    } else {
        kw__prekeys_clear(&keys);
    }
    for (size_t i = 0; pre != NULL && i < n; i++) {
        kw__precoded_clear(&pre[i]); /* left only when the batch was not taken */
    }
    free(pre);
    if (rc != KW_ERR_OK || n == 0) {
        return rc;
    }
    if (!p->threaded) {
        kw_publish_result r;
        write_batch(p, &rc, &r);
        if (rc == KW_ERR_OK) {
            kw__result_add(done, &r);
        } else {
            p->rc = rc;
        }
        return rc;
    }
    pthread_mutex_lock(&p->mu);
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
    for (size_t i = 0; p->own != NULL && i < p->max; i++) {
        if (p->pre != NULL) {
            kw__precoded_clear(&p->pre[i]);
        }
        kw_bundle_free(p->own[i]);
    }
    kw__prekeys_clear(&p->keys);
    free(p->pre);
    free(p->own);
    free(p);
}
