/* SPDX-License-Identifier: Apache-2.0 */
#include "node/framer.h"

#include <stdlib.h>
#include <string.h>

/* The frame buffer: socket reads land here. Larger reads mean fewer system calls; it holds
 * at least one whole frame after any incomplete one. */
#define IN_CAP (256u * 1024u)
#define FRAME_WIRE_MAX (2u + KW_NOISE_MAX_MSG)
/* The message buffer is kept between messages up to this size: replication sends batches
 * of about 1 MiB, and regrowing for each of them cost more than the decryption. A larger
 * one (a single 16 MiB payload) is released once empty, so one big message does not pin
 * its memory for the life of the session. */
#define KEEP_CAP (2u * 1024u * 1024u)
#define PT_MIN_CAP (128u * 1024u)

void kw_rx_init(kw_rx *r, size_t msg_max)
{
    memset(r, 0, sizeof(*r));
    r->msg_max = msg_max;
}

void kw_rx_free(kw_rx *r)
{
    free(r->in);
    free(r->pt);
    kw_rx_init(r, r->msg_max);
}

kw_err kw_rx_space(kw_rx *r, uint8_t **p, size_t *len)
{
    if (r->in == NULL) {
        if ((r->in = malloc(IN_CAP)) == NULL) {
            return KW_ERR_NOMEM;
        }
        r->in_cap = IN_CAP;
    }
    if (r->in_off == r->in_len) {
        r->in_off = r->in_len = 0;
    } else if (r->in_cap - r->in_len < FRAME_WIRE_MAX) {
        /* An incomplete frame (under FRAME_WIRE_MAX bytes) moves to the front only when
         * the room behind it could not take a whole frame. */
        memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
        r->in_len -= r->in_off;
        r->in_off = 0;
    }
    *p = r->in + r->in_len;
    *len = r->in_cap - r->in_len;
    return KW_ERR_OK;
}

void kw_rx_landed(kw_rx *r, size_t n)
{
    r->in_len += n <= r->in_cap - r->in_len ? n : r->in_cap - r->in_len;
}

kw_err kw_rx_frame(kw_rx *r, const uint8_t **frame, size_t *len)
{
    size_t avail = r->in_len - r->in_off, fl;
    const uint8_t *p = r->in + r->in_off;

    if (avail < 2) {
        return KW_ERR_AGAIN;
    }
    fl = (size_t)p[0] << 8 | p[1];
    if (fl == 0) {
        return KW_ERR_DECODE;
    }
    if (avail < 2 + fl) {
        return KW_ERR_AGAIN;
    }
    *frame = p + 2;
    *len = fl;
    r->in_off += 2 + fl;
    return KW_ERR_OK;
}

kw_err kw_rx_plain_reserve(kw_rx *r, size_t n, uint8_t **p)
{
    size_t pending, need;

    if (r->pt_off == r->pt_len) {
        r->pt_off = r->pt_len = 0;
        if (r->pt_cap > KEEP_CAP) {
            free(r->pt);
            r->pt = NULL;
            r->pt_cap = 0;
        }
    } else if (r->pt_off > 0) {
        /* The start of the next message (delivered messages drained, so it began within
         * the last frame) moves to the front, so the message grows contiguously. */
        memmove(r->pt, r->pt + r->pt_off, r->pt_len - r->pt_off);
        r->pt_len -= r->pt_off;
        r->pt_off = 0;
    }
    pending = r->pt_len;
    if (n > SIZE_MAX / 2 || pending + n > 4 + r->msg_max + KW_NOISE_MAX_MSG) {
        return KW_ERR_TOOBIG;
    }
    need = pending + n;
    if (need > r->pt_cap) {
        size_t cap = r->pt_cap ? r->pt_cap : PT_MIN_CAP, limit = 4 + r->msg_max + KW_NOISE_MAX_MSG;
        while (cap < need) {
            cap *= 2;
        }
        /* Doubling must not overshoot what one message and one frame can take. */
        if (cap > limit) {
            cap = limit;
        }
        uint8_t *nb = realloc(r->pt, cap);
        if (nb == NULL) {
            return KW_ERR_NOMEM;
        }
        r->pt = nb;
        r->pt_cap = cap;
    }
    *p = r->pt + r->pt_len;
    return KW_ERR_OK;
}

void kw_rx_plain_commit(kw_rx *r, size_t n)
{
    r->pt_len += n <= r->pt_cap - r->pt_len ? n : r->pt_cap - r->pt_len;
}

kw_err kw_rx_open(kw_rx *r, kw_noise_cipher *cipher, const uint8_t *frame, size_t len)
{
    uint8_t *p;
    size_t plen = 0;
    kw_err rc;

    if (len < KW_NOISE_TAGLEN) {
        return KW_ERR_DECODE;
    }
    if ((rc = kw_rx_plain_reserve(r, len - KW_NOISE_TAGLEN, &p)) != KW_ERR_OK) {
        return rc;
    }
    rc = kw_noise_cipher_decrypt(cipher, NULL, 0, frame, len, p, len - KW_NOISE_TAGLEN, &plen);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    kw_rx_plain_commit(r, plen);
    if (kw_noise_cipher_nonce(cipher) % KW_REKEY_EVERY == 0) {
        kw_noise_cipher_rekey(cipher);
    }
    return KW_ERR_OK;
}

kw_err kw_rx_message(kw_rx *r, const uint8_t **msg, size_t *len)
{
    size_t avail = r->pt_len - r->pt_off, ml;
    const uint8_t *p = r->pt + r->pt_off;

    if (avail < 4) {
        return KW_ERR_AGAIN;
    }
    ml = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (ml == 0) {
        return KW_ERR_DECODE;
    }
    if (ml > r->msg_max) {
        return KW_ERR_TOOBIG;
    }
    if (avail < 4 + ml) {
        return KW_ERR_AGAIN;
    }
    *msg = p + 4;
    *len = ml;
    r->pt_off += 4 + ml;
    return KW_ERR_OK;
}

bool kw_rx_frame_partial(const kw_rx *r)
{
    return r->in_len > r->in_off;
}

bool kw_rx_message_partial(const kw_rx *r)
{
    return r->pt_len > r->pt_off;
}

size_t kw_tx_sealed_size(size_t len)
{
    size_t stream = 4 + len;
    size_t chunks = (stream + KW_NOISE_MAX_PAYLOAD - 1) / KW_NOISE_MAX_PAYLOAD;
    return stream + chunks * (2 + KW_NOISE_TAGLEN);
}

kw_err kw_tx_begin(kw_tx *t, const uint8_t *msg, size_t len)
{
    t->msg = msg;
    t->len = len;
    t->off = 0;
    return len == 0 || len > UINT32_MAX || msg == NULL ? KW_ERR_INVAL : KW_ERR_OK;
}

bool kw_tx_done(const kw_tx *t)
{
    return t->off >= t->len;
}

kw_err kw_tx_seal_some(kw_tx *t, kw_noise_cipher *cipher, uint8_t *out, size_t cap,
    size_t *out_len)
{
    size_t o = 0;

    *out_len = 0;
    while (t->off < t->len) {
        /* The first chunk holds the 4-byte length and is gathered in place in out, then
         * encrypted in place; every other chunk is encrypted straight from the message. */
        size_t room = t->off == 0 ? KW_NOISE_MAX_PAYLOAD - 4 : KW_NOISE_MAX_PAYLOAD;
        size_t take = t->len - t->off < room ? t->len - t->off : room;
        const uint8_t *pt = t->msg + t->off;
        size_t pt_len = take, ct_len = 0;
        if (cap - o < 2 + (t->off == 0 ? 4 : 0) + take + KW_NOISE_TAGLEN) {
            if (o == 0) {
                return KW_ERR_INVAL;
            }
            break;
        }
        if (t->off == 0) {
            uint8_t *g = out + o + 2;
            g[0] = (uint8_t)(t->len >> 24);
            g[1] = (uint8_t)(t->len >> 16);
            g[2] = (uint8_t)(t->len >> 8);
            g[3] = (uint8_t)t->len;
            memcpy(g + 4, t->msg, take);
            pt = g;
            pt_len = 4 + take;
        }
        kw_err rc = kw_noise_cipher_encrypt(
            cipher, NULL, 0, pt, pt_len, out + o + 2, cap - o - 2, &ct_len);
        if (rc != KW_ERR_OK) {
            return rc;
        }
        out[o] = (uint8_t)(ct_len >> 8);
        out[o + 1] = (uint8_t)ct_len;
        o += 2 + ct_len;
        t->off += take;
        if (kw_noise_cipher_nonce(cipher) % KW_REKEY_EVERY == 0) {
            kw_noise_cipher_rekey(cipher);
        }
    }
    *out_len = o;
    return KW_ERR_OK;
}

kw_err kw_tx_seal(kw_noise_cipher *cipher, const uint8_t *msg, size_t len, uint8_t *out,
    size_t cap, size_t *out_len)
{
    kw_tx t;
    kw_err rc = kw_tx_begin(&t, msg, len);

    *out_len = 0;
    if (rc != KW_ERR_OK || cap < kw_tx_sealed_size(len)) {
        return KW_ERR_INVAL;
    }
    return kw_tx_seal_some(&t, cipher, out, cap, out_len);
}
