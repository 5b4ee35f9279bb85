/* SPDX-License-Identifier: Apache-2.0 */
#include "node/framer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Buffers up to this size are kept between records: replication sends batches of about
 * 1 MiB, and regrowing the buffer for each of them cost more than the decryption. Larger
 * ones (a single 16 MiB payload) are released, so one big message does not pin its memory
 * for the life of the session. */
#define KEEP_CAP (2u * 1024u * 1024u)

static void buf_free(kw_framer *f)
{
    if (f->secret) {
        sodium_free(f->buf);
    } else {
        free(f->buf);
    }
    f->buf = NULL;
    f->cap = 0;
}

void kw_framer_init(kw_framer *f, size_t prefix_bytes, size_t max_record, bool secret)
{
    memset(f, 0, sizeof(*f));
    f->prefix = prefix_bytes == 2 ? 2 : 4;
    f->max = max_record;
    f->secret = secret;
}

void kw_framer_free(kw_framer *f)
{
    buf_free(f);
    f->len = 0;
}

bool kw_framer_partial(const kw_framer *f)
{
    return !f->done && f->len > 0;
}

static kw_err grow(kw_framer *f, size_t want)
{
    uint8_t *nb;
    if (want <= f->cap) {
        return KW_ERR_OK;
    }
    nb = f->secret ? sodium_malloc(want) : malloc(want);
    if (nb == NULL) {
        return KW_ERR_NOMEM;
    }
    if (f->len > 0) {
        memcpy(nb, f->buf, f->len);
    }
    buf_free(f);
    f->buf = nb;
    f->cap = want;
    return KW_ERR_OK;
}

kw_err kw_framer_feed(kw_framer *f, const uint8_t *p, size_t len, size_t *used,
    const uint8_t **rec, size_t *rec_len)
{
    size_t off = 0;
    uint8_t pre[4];

    *used = 0;
    if (f->done) {
        f->done = false;
        f->len = 0;
        if (f->cap > KEEP_CAP) {
            buf_free(f);
        }
    }
    while (off < len) {
        size_t need = f->prefix;
        if (f->len >= f->prefix) {
            size_t rl = 0;
            for (size_t i = 0; i < f->prefix; i++) {
                rl = rl << 8 | f->buf[i];
            }
            need = f->prefix + rl;
        }
        if (f->len < need) {
            /* Grow to what the input at hand can fill, never straight to a claimed size. */
            size_t avail = len - off;
            size_t want = need - f->len < avail ? need : f->len + avail;
            if (want > f->cap) {
                size_t cap = f->cap ? f->cap : 4096;
                while (cap < want) {
                    cap *= 2;
                }
                if (cap > need) {
                    cap = need;
                }
                kw_err rc = grow(f, cap);
                if (rc != KW_ERR_OK) {
                    return rc;
                }
            }
            size_t take = want - f->len;
            memcpy(f->buf + f->len, p + off, take);
            f->len += take;
            off += take;
        }
        if (f->len == f->prefix) {
            size_t rl = 0;
            memcpy(pre, f->buf, f->prefix);
            for (size_t i = 0; i < f->prefix; i++) {
                rl = rl << 8 | pre[i];
            }
            if (rl == 0) {
                *used = off;
                return KW_ERR_DECODE;
            }
            if (rl > f->max) {
                *used = off;
                return KW_ERR_TOOBIG;
            }
            continue;
        }
        if (f->len > f->prefix && f->len == need) {
            *used = off;
            *rec = f->buf + f->prefix;
            *rec_len = need - f->prefix;
            f->done = true;
            return KW_ERR_OK;
        }
    }
    *used = off;
    return KW_ERR_AGAIN;
}
