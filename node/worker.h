/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_WORKER_H
#define KW_NODE_WORKER_H

/*
 * A thread of the daemon beside its libuv loop, with what both of its uses (node/storer.c,
 * node/indexer.c) need to start it, hand results back to the loop, and stop it.
 */

#include <pthread.h>
#include <stdbool.h>
#include <uv.h>

#include "crypto/err.h"

typedef struct kw__worker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* the thread's wake-up, on CLOCK_MONOTONIC */
    uv_async_t async;   /* wakes the loop; async.data is the arg of kw__worker_start */
    /* under mu: */
    bool quit;          /* the thread is to end */
    bool async_open;    /* async may be sent to */
} kw__worker;

/*
 * Starts fn(arg) on a new thread and opens w->async on loop, calling on_async on the loop
 * thread. fn starts once this returns (it begins by taking w->mu). On failure nothing is
 * left open or running.
 */
kw_err kw__worker_start(kw__worker *w, uv_loop_t *loop, uv_async_cb on_async,
    void *(*fn)(void *), void *arg);

/* Loop thread: tells the thread to end and closes w->async (freed memory must wait for the
 * loop to run its close callbacks). */
void kw__worker_stop(kw__worker *w);

/* Once the loop has run its close callbacks: waits for the thread to end, frees the rest. */
void kw__worker_join(kw__worker *w);

/* Under w->mu: wakes the loop unless the worker is stopping. */
void kw__worker_notify(kw__worker *w);

#endif
