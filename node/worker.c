/* SPDX-License-Identifier: Apache-2.0 */
#include "node/worker.h"

#include <time.h>

kw_err kw__worker_start(kw__worker *w, uv_loop_t *loop, uv_async_cb on_async,
    void *(*fn)(void *), void *arg)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->quit = false;
    w->async_open = false;
    /* The thread waits for mu until the handle is open (or the start failed). */
    pthread_mutex_lock(&w->mu);
    if (pthread_create(&w->th, NULL, fn, arg) != 0) {
        pthread_mutex_unlock(&w->mu);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return KW_ERR_NOMEM;
    }
    if (uv_async_init(loop, &w->async, on_async) != 0) {
        w->quit = true;
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return KW_ERR_NET;
    }
    w->async.data = arg;
    w->async_open = true;
    pthread_mutex_unlock(&w->mu);
    return KW_ERR_OK;
}

void kw__worker_stop(kw__worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    if (w->async_open) {
        w->async_open = false;
        uv_close((uv_handle_t *)&w->async, NULL);
    }
    pthread_mutex_unlock(&w->mu);
}

void kw__worker_join(kw__worker *w)
{
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

void kw__worker_notify(kw__worker *w)
{
    if (w->async_open) {
        uv_async_send(&w->async);
    }
}
