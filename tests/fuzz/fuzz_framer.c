/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the transport framing (node/framer.c): the input is the received byte stream, cut
 * into reads of sizes taken from its own bytes. Every frame is taken as the plaintext of a
 * transport message and appended to the application stream. Invariants: a read never gets
 * more room than the buffer has; every frame and every message returned equals the one
 * found by parsing the whole input at once (2-byte frames, then 4-byte messages in the
 * concatenated frames); a zero or oversized length stops the stream exactly where the
 * whole-input parse finds it.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

typedef struct ref {
    const uint8_t *data; /* the whole input */
    size_t size, frame;  /* next frame's offset in data */
    uint8_t *stream;     /* concatenated frame bodies */
    size_t slen, msg;    /* next message's offset in stream */
    size_t msg_max;
} ref;

/* Checks a message (or an error) from the framer against the whole-stream parse. */
static bool check_message(ref *w, kw_err rc, const uint8_t *m, size_t ml)
{
    size_t avail = w->slen - w->msg, want;

    if (rc == KW_ERR_AGAIN) {
        if (avail >= 4) {
            want = (size_t)w->stream[w->msg] << 24 | (size_t)w->stream[w->msg + 1] << 16
                | (size_t)w->stream[w->msg + 2] << 8 | w->stream[w->msg + 3];
            if (want == 0 || want > w->msg_max || avail >= 4 + want) {
                abort();
            }
        }
        return false;
    }
    if (avail < 4) {
        abort();
    }
    want = (size_t)w->stream[w->msg] << 24 | (size_t)w->stream[w->msg + 1] << 16
        | (size_t)w->stream[w->msg + 2] << 8 | w->stream[w->msg + 3];
    if (rc == KW_ERR_DECODE || rc == KW_ERR_TOOBIG) {
        if ((rc == KW_ERR_DECODE) != (want == 0) || (rc == KW_ERR_TOOBIG && want <= w->msg_max)) {
            abort();
        }
        return false;
    }
    if (rc != KW_ERR_OK || ml != want || avail < 4 + want
        || memcmp(m, w->stream + w->msg + 4, ml) != 0) {
        abort();
    }
    w->msg += 4 + want;
    return true;
}

/* Checks a frame from the framer against the whole-input parse and feeds it on; false when
 * the stream ends here. */
static bool take_frame(kw_rx *r, ref *w, const uint8_t *f, size_t fl)
{
    uint8_t *p;
    const uint8_t *m = NULL;
    size_t ml = 0;
    kw_err rc;

    if (w->frame + 2 + fl > w->size
        || ((size_t)w->data[w->frame] << 8 | w->data[w->frame + 1]) != fl
        || memcmp(w->data + w->frame + 2, f, fl) != 0) {
        abort();
    }
    w->frame += 2 + fl;
    if (kw_rx_plain_reserve(r, fl, &p) != KW_ERR_OK) {
        abort(); /* drained after every frame: the bound is never reached */
    }
    memcpy(p, f, fl);
    kw_rx_plain_commit(r, fl);
    memcpy(w->stream + w->slen, f, fl);
    w->slen += fl;
    do {
        rc = kw_rx_message(r, &m, &ml);
    } while (check_message(w, rc, m, ml));
    return rc == KW_ERR_AGAIN;
}

static void run(const uint8_t *data, size_t size, size_t msg_max, size_t scale)
{
    kw_rx r;
    ref w = { .data = data, .size = size, .msg_max = msg_max };
    size_t off = 0, step = 1;
    bool go = true;

    if ((w.stream = malloc(size + 1)) == NULL) {
        return;
    }
    kw_rx_init(&r, msg_max);
    while (off < size && go) {
        uint8_t *p;
        const uint8_t *f;
        size_t room = 0, fl = 0;
        if (kw_rx_space(&r, &p, &room) != KW_ERR_OK || room == 0) {
            abort();
        }
        size_t piece = (data[off] % 7) * scale + step;
        if (piece > size - off) {
            piece = size - off;
        }
        if (piece > room) {
            piece = room;
        }
        memcpy(p, data + off, piece);
        kw_rx_landed(&r, piece);
        off += piece;
        step = (step * 5 + 1) % 13 + 1;
        for (;;) {
            kw_err rc = kw_rx_frame(&r, &f, &fl);
            if (rc == KW_ERR_AGAIN) {
                break;
            }
            if (rc != KW_ERR_OK) {
                if (rc != KW_ERR_DECODE || w.frame + 2 > size || data[w.frame] != 0
                    || data[w.frame + 1] != 0) {
                    abort();
                }
                go = false;
                break;
            }
            if (!take_frame(&r, &w, f, fl)) {
                go = false;
                break;
            }
        }
    }
    kw_rx_free(&r);
    free(w.stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 1u << 20, 1);
    run(data, size, 300, 1);
    run(data, size, 1u << 20, 9973);
    return 0;
}
