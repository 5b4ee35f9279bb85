/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/kwx.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/outfile.h"
#include "crypto/identity.h"

/* msgpack type bytes of the format (docs/kwx.md). */
#define T_ENTRY 0x93u /* fixarray of 3 */
#define T_TRAILER 0x92u /* fixarray of 2 */
#define T_NIL 0xc0u
#define T_BIN8 0xc4u
#define T_BIN16 0xc5u
#define T_BIN32 0xc6u
#define T_UINT64 0xcfu

#define WRITE_BUF (1u << 20)
#define READ_BUF (256u * 1024u)

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* The shortest msgpack bin header for len; returns its size. */
static size_t bin_header(uint8_t out[static 5], size_t len)
{
    if (len <= 0xff) {
        out[0] = T_BIN8;
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[0] = T_BIN16;
        put_be(out + 1, len, 2);
        return 3;
    }
    out[0] = T_BIN32;
    put_be(out + 1, len, 4);
    return 5;
}

/* ---- Writer ---- */

struct kw_kwx_writer {
    kw_outfile *file;
    uint8_t *buf;
    size_t len;
    crypto_generichash_state hs;
    uint64_t count;
    uint64_t bytes;
    kw_err err; /* sticky: after a failure only free is allowed */
    bool finished;
};

static kw_err writer_flush(kw_kwx_writer *w)
{
    kw_err rc = kw_write_all(kw_outfile_fd(w->file), w->buf, w->len);

    w->len = 0;
    return rc;
}

/* Appends bytes to the file and to the checksum. */
static kw_err writer_put(kw_kwx_writer *w, const uint8_t *p, size_t n)
{
    kw_err rc;

    crypto_generichash_update(&w->hs, p, n);
    w->bytes += n;
    if (WRITE_BUF - w->len >= n) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        return KW_ERR_OK;
    }
    if ((rc = writer_flush(w)) != KW_ERR_OK) {
        return rc;
    }
    if (n >= WRITE_BUF) {
        return kw_write_all(kw_outfile_fd(w->file), p, n);
    }
    memcpy(w->buf, p, n);
    w->len = n;
    return KW_ERR_OK;
}

kw_err kw_kwx_writer_new(kw_kwx_writer **out, const char *path)
{
    kw_kwx_writer *w = NULL;
    kw_err rc = KW_ERR_NOMEM;

    *out = NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        return KW_ERR_NOMEM;
    }
    if ((w->buf = malloc(WRITE_BUF)) == NULL
        || (rc = kw_outfile_new(&w->file, path)) != KW_ERR_OK) {
        goto out;
    }
    crypto_generichash_init(&w->hs, NULL, 0, 32);
    if ((rc = writer_put(w, (const uint8_t *)KW_KWX_MAGIC, KW_KWX_MAGIC_LEN)) != KW_ERR_OK) {
        goto out;
    }
    *out = w;
    w = NULL;
out:
    kw_kwx_writer_free(w);
    return rc;
}

kw_err kw_kwx_writer_add(kw_kwx_writer *w, const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static KW_SIG_LEN], const uint8_t *payload, size_t payload_len)
{
    uint8_t frame[1 + 2 + KW_HEADER_MAX + 2 + KW_SIG_LEN + 5];
    size_t o = 0;
    kw_header h;
    kw_err rc;

    if (w->err != KW_ERR_OK || w->finished) {
        return w->err != KW_ERR_OK ? w->err : KW_ERR_INVAL;
    }
    if (hdr_len == 0 || hdr_len > KW_HEADER_MAX
        || kw_header_decode(&h, hdr, hdr_len) != KW_ERR_OK) {
        return KW_ERR_DECODE;
    }
    if (payload != NULL && payload_len != h.payload_len) {
        return KW_ERR_INVAL;
    }
    if (w->count >= KW_KWX_MAX_ENTRIES) {
        return KW_ERR_TOOBIG;
    }
    frame[o++] = T_ENTRY;
    o += bin_header(frame + o, hdr_len);
    memcpy(frame + o, hdr, hdr_len);
    o += hdr_len;
    o += bin_header(frame + o, KW_SIG_LEN);
    memcpy(frame + o, sig, KW_SIG_LEN);
    o += KW_SIG_LEN;
    if (payload == NULL) {
        frame[o++] = T_NIL;
    } else {
        o += bin_header(frame + o, payload_len);
    }
    if ((rc = writer_put(w, frame, o)) != KW_ERR_OK
        || (payload != NULL && (rc = writer_put(w, payload, payload_len)) != KW_ERR_OK)) {
        w->err = rc;
        return rc;
    }
    w->count++;
    return KW_ERR_OK;
}

kw_err kw_kwx_writer_finish(kw_kwx_writer *w)
{
    uint8_t t[KW_KWX_TRAILER_LEN];
    kw_err rc;

    if (w->err != KW_ERR_OK || w->finished) {
        return w->err != KW_ERR_OK ? w->err : KW_ERR_INVAL;
    }
    t[0] = T_TRAILER;
    t[1] = T_UINT64;
    put_be(t + 2, w->count, 8);
    t[10] = T_BIN8;
    t[11] = 32;
    crypto_generichash_update(&w->hs, t, 12);
    crypto_generichash_final(&w->hs, t + 12, 32);
    if (WRITE_BUF - w->len < sizeof(t) && (rc = writer_flush(w)) != KW_ERR_OK) {
        goto fail;
    }
    memcpy(w->buf + w->len, t, sizeof(t));
    w->len += sizeof(t);
    w->bytes += sizeof(t);
    if ((rc = writer_flush(w)) != KW_ERR_OK || (rc = kw_outfile_commit(w->file)) != KW_ERR_OK) {
        goto fail;
    }
    w->finished = true;
    return KW_ERR_OK;
fail:
    w->err = rc;
    return rc;
}

uint64_t kw_kwx_writer_count(const kw_kwx_writer *w)
{
    return w->count;
}

uint64_t kw_kwx_writer_bytes(const kw_kwx_writer *w)
{
    return w->bytes;
}

void kw_kwx_writer_free(kw_kwx_writer *w)
{
    if (w == NULL) {
        return;
    }
    kw_outfile_free(w->file);
    free(w->buf);
    free(w);
}

/* ---- Reader ---- */

enum { R_MAGIC, R_ENTRIES, R_DONE, R_FAILED };

struct kw_kwx_reader {
    kw_kwx_read_fn read;
    void *ctx;
    int fd;
    const uint8_t *mem;
    size_t mem_len, mem_off;
    unsigned flags;
    uint8_t *buf;
    size_t cap, start, end; /* buf[start..end) is read and not yet consumed */
    uint64_t pos; /* the file offset of buf[start] */
    bool eof;
    int state;
    uint64_t count;
    crypto_generichash_state hs;
    kw_err err;
    uint64_t err_off;
    char why[256];
};

static kw_err read_fd(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    kw_kwx_reader *r = ctx;

    for (;;) {
        ssize_t n = read(r->fd, buf, cap);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return KW_ERR_IO;
        }
        *got = (size_t)n;
        return KW_ERR_OK;
    }
}

static kw_err read_mem(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    kw_kwx_reader *r = ctx;
    size_t n = r->mem_len - r->mem_off;

    if (n > cap) {
        n = cap;
    }
    memcpy(buf, r->mem + r->mem_off, n);
    r->mem_off += n;
    *got = n;
    return KW_ERR_OK;
}

kw_err kw_kwx_reader_new(kw_kwx_reader **out, kw_kwx_read_fn read, void *ctx, unsigned flags)
{
    kw_kwx_reader *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL || (r->buf = malloc(READ_BUF)) == NULL) {
        free(r);
        return KW_ERR_NOMEM;
    }
    r->cap = READ_BUF;
    r->read = read;
    r->ctx = ctx;
    r->fd = -1;
    r->flags = flags;
    r->state = R_MAGIC;
    crypto_generichash_init(&r->hs, NULL, 0, 32);
    *out = r;
    return KW_ERR_OK;
}

kw_err kw_kwx_reader_new_fd(kw_kwx_reader **out, int fd, unsigned flags)
{
    kw_err rc = kw_kwx_reader_new(out, read_fd, NULL, flags);

    if (rc == KW_ERR_OK) {
        (*out)->ctx = *out;
        (*out)->fd = fd;
    }
    return rc;
}

kw_err kw_kwx_reader_new_mem(kw_kwx_reader **out, const uint8_t *buf, size_t len, unsigned flags)
{
    kw_err rc = kw_kwx_reader_new(out, read_mem, NULL, flags);

    if (rc == KW_ERR_OK) {
        (*out)->ctx = *out;
        (*out)->mem = buf;
        (*out)->mem_len = len;
    }
    return rc;
}

void kw_kwx_reader_free(kw_kwx_reader *r)
{
    if (r != NULL) {
        free(r->buf);
        free(r);
    }
}

static kw_err fail(kw_kwx_reader *r, kw_err err, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static kw_err fail(kw_kwx_reader *r, kw_err err, uint64_t off, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->err = err;
    r->err_off = off;
    r->state = R_FAILED;
    return err;
}

/*
 * Makes at least need unconsumed bytes available at buf + start; *have says whether the
 * input held that many. need is always bounded by the caller (at most KW_KWX_ENTRY_MAX).
 */
static kw_err fill(kw_kwx_reader *r, size_t need, bool *have)
{
    kw_err rc;

    *have = r->end - r->start >= need;
    if (*have || r->eof) {
        return KW_ERR_OK;
    }
    if (r->cap - r->start < need) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap < need) {
        size_t cap = r->cap * 2 > need ? r->cap * 2 : need;
        uint8_t *nb;
        if (cap > KW_KWX_ENTRY_MAX + KW_KWX_TRAILER_LEN) {
            cap = need;
        }
        if ((nb = realloc(r->buf, cap)) == NULL) {
            return fail(r, KW_ERR_NOMEM, r->pos, "out of memory");
        }
        r->buf = nb;
        r->cap = cap;
    }
    while (r->end - r->start < need && !r->eof) {
        size_t got = 0;
        if ((rc = r->read(r->ctx, r->buf + r->end, r->cap - r->end, &got)) != KW_ERR_OK) {
            return fail(r, KW_ERR_IO, r->pos + (r->end - r->start), "cannot read byte %llu: %s",
                (unsigned long long)(r->pos + (r->end - r->start)), strerror(errno));
        }
        if (got == 0) {
            r->eof = true;
        }
        r->end += got;
    }
    *have = r->end - r->start >= need;
    return KW_ERR_OK;
}

/* The input ended early: the first missing byte is the file's length. */
static kw_err truncated(kw_kwx_reader *r, const char *where)
{
    uint64_t len = r->pos + (r->end - r->start);

    return fail(r, KW_ERR_DECODE, len, "the file ends at byte %llu %s: it is truncated",
        (unsigned long long)len, where);
}

/* Consumes n bytes, adding them to the checksum. */
static void consume(kw_kwx_reader *r, size_t n)
{
    crypto_generichash_update(&r->hs, r->buf + r->start, n);
    r->start += n;
    r->pos += n;
}

static kw_err read_magic(kw_kwx_reader *r)
{
    static const char prefix[] = "KAWAN-KWX ";
    const size_t plen = sizeof(prefix) - 1;
    size_t avail, n;
    const uint8_t *p;
    bool have;
    kw_err rc;

    if ((rc = fill(r, KW_KWX_MAGIC_LEN, &have)) != KW_ERR_OK) {
        return rc;
    }
    p = r->buf + r->start;
    avail = r->end - r->start;
    n = avail < KW_KWX_MAGIC_LEN ? avail : KW_KWX_MAGIC_LEN;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == (uint8_t)KW_KWX_MAGIC[i]) {
            continue;
        }
        if (i >= plen && have && memcmp(p, prefix, plen) == 0) {
            /* "KAWAN-KWX <digits>\n" with other digits: a later version of the format. */
            char ver[8];
            size_t k = 0;
            while (k + 1 < sizeof(ver) && plen + k < avail && p[plen + k] >= '0'
                && p[plen + k] <= '9') {
                ver[k] = (char)p[plen + k];
                k++;
            }
            ver[k] = '\0';
            if (k > 0 && plen + k < avail && p[plen + k] == '\n' && strcmp(ver, "1") != 0) {
                return fail(r, KW_ERR_UNSUPPORTED, i,
                    "a kwx file of version %s; this kawan reads version %d", ver, KW_KWX_VERSION);
            }
        }
        return fail(r, KW_ERR_DECODE, i,
            "not a kwx file: byte %zu differs from the magic line \"KAWAN-KWX 1\"", i);
    }
    if (!have) {
        return truncated(r, "inside the magic line");
    }
    consume(r, KW_KWX_MAGIC_LEN);
    r->state = R_ENTRIES;
    return KW_ERR_OK;
}

static kw_err read_trailer(kw_kwx_reader *r, bool *done)
{
    uint64_t at = r->pos;
    uint8_t hash[32];
    const uint8_t *p;
    uint64_t count;
    bool have;
    kw_err rc;

    if ((rc = fill(r, KW_KWX_TRAILER_LEN, &have)) != KW_ERR_OK) {
        return rc;
    }
    if (!have) {
        return truncated(r, "inside the trailer");
    }
    p = r->buf + r->start;
    if (p[1] != T_UINT64) {
        return fail(r, KW_ERR_DECODE, at, "malformed trailer at byte %llu", (unsigned long long)at);
    }
    if ((count = get_be(p + 2, 8)) != r->count) {
        return fail(r, KW_ERR_DECODE, at + 1,
            "the trailer (byte %llu) counts %llu entries but the file holds %llu",
            (unsigned long long)at, (unsigned long long)count, (unsigned long long)r->count);
    }
    if (p[10] != T_BIN8 || p[11] != 32) {
        return fail(r, KW_ERR_DECODE, at + 10, "malformed trailer checksum at byte %llu",
            (unsigned long long)(at + 10));
    }
    crypto_generichash_update(&r->hs, p, 12);
    crypto_generichash_final(&r->hs, hash, 32);
    if (sodium_memcmp(hash, p + 12, 32) != 0) {
        return fail(r, KW_ERR_HASH, at + 12,
            "the checksum in the trailer (byte %llu) does not match the file: it was altered "
            "or damaged",
            (unsigned long long)(at + 12));
    }
    r->start += KW_KWX_TRAILER_LEN;
    r->pos += KW_KWX_TRAILER_LEN;
    if ((rc = fill(r, 1, &have)) != KW_ERR_OK) {
        return rc;
    }
    if (have) {
        return fail(r, KW_ERR_DECODE, r->pos, "unexpected data after the trailer, at byte %llu",
            (unsigned long long)r->pos);
    }
    r->state = R_DONE;
    *done = true;
    return KW_ERR_OK;
}

static kw_err read_entry(kw_kwx_reader *r, kw_kwx_entry *e)
{
    const uint64_t at = r->pos;
    const unsigned long long idx = (unsigned long long)r->count;
    char where[96];
    const uint8_t *p;
    size_t hl, off, lh, len;
    kw_header h;
    bool have;
    kw_err rc;

    snprintf(where, sizeof(where), "inside entry %llu (which starts at byte %llu)", idx,
        (unsigned long long)at);
    if (r->count >= KW_KWX_MAX_ENTRIES) {
        return fail(r, KW_ERR_TOOBIG, at, "entry %llu (byte %llu): more than %u entries", idx,
            (unsigned long long)at, KW_KWX_MAX_ENTRIES);
    }
    /* The header: bin 8 (it is at most KW_HEADER_MAX bytes). */
    if ((rc = fill(r, 3, &have)) != KW_ERR_OK) {
        return rc;
    }
    if (!have) {
        return truncated(r, where);
    }
    p = r->buf + r->start;
    if (p[1] != T_BIN8) {
        /* 0xcf here means a trailer whose first byte was altered: blame that byte. */
        return fail(r, KW_ERR_DECODE, at + (p[1] == T_UINT64 ? 0 : 1),
            "entry %llu (byte %llu): byte %llu should start the header (a bin 8)", idx,
            (unsigned long long)at, (unsigned long long)(at + 1));
    }
    if ((hl = p[2]) == 0 || hl > KW_HEADER_MAX) {
        return fail(r, hl == 0 ? KW_ERR_DECODE : KW_ERR_TOOBIG, at + 1,
            "entry %llu (byte %llu): a header of %zu bytes (1 to %u allowed)", idx,
            (unsigned long long)at, hl, KW_HEADER_MAX);
    }
    if ((rc = fill(r, 3 + hl, &have)) != KW_ERR_OK) {
        return rc;
    }
    if (!have) {
        return truncated(r, where);
    }
    p = r->buf + r->start;
    if (kw_header_decode(&h, p + 3, hl) != KW_ERR_OK) {
        return fail(r, KW_ERR_DECODE, at + 1,
            "entry %llu (byte %llu): the header (byte %llu) does not decode", idx,
            (unsigned long long)at, (unsigned long long)(at + 1));
    }
    /* The signature: bin 8 of 64 bytes, then the payload's type byte. */
    off = 3 + hl;
    if ((rc = fill(r, off + 2 + KW_SIG_LEN + 1, &have)) != KW_ERR_OK) {
        return rc;
    }
    if (!have) {
        return truncated(r, where);
    }
    p = r->buf + r->start;
    if (p[off] != T_BIN8 || p[off + 1] != KW_SIG_LEN) {
        return fail(r, KW_ERR_DECODE, at + off + (p[off] == T_BIN8),
            "entry %llu (byte %llu): byte %llu should start the 64-byte signature", idx,
            (unsigned long long)at, (unsigned long long)(at + off));
    }
    if ((r->flags & KW_KWX_VERIFY)
        && kw_sig_verify(h.origin, p + off + 2, KW_ENTRY_SIG_CTX, p + 3, hl) != KW_ERR_OK) {
        return fail(r, KW_ERR_BADSIG, at + 1,
            "entry %llu (byte %llu): the signature does not verify (header or signature "
            "altered)",
            idx, (unsigned long long)at);
    }
    off += 2 + KW_SIG_LEN;
    /* The payload: nil, or the shortest bin form of exactly the header's payload_len. */
    switch (p[off]) {
    case T_NIL:
        lh = 1;
        break;
    case T_BIN8:
        lh = 2;
        break;
    case T_BIN16:
        lh = 3;
        break;
    case T_BIN32:
        lh = 5;
        break;
    default:
        return fail(r, KW_ERR_DECODE, at + off,
            "entry %llu (byte %llu): byte %llu should start the payload (bin or nil)", idx,
            (unsigned long long)at, (unsigned long long)(at + off));
    }
    len = 0;
    if (lh > 1) {
        uint8_t canon[5];
        if ((rc = fill(r, off + lh, &have)) != KW_ERR_OK) {
            return rc;
        }
        if (!have) {
            return truncated(r, where);
        }
        p = r->buf + r->start;
        uint64_t l64 = get_be(p + off + 1, (int)lh - 1);
        if (l64 > KW_PAYLOAD_MAX) {
            return fail(r, KW_ERR_TOOBIG, at + off,
                "entry %llu (byte %llu): a payload of %llu bytes (at most %u allowed)", idx,
                (unsigned long long)at, (unsigned long long)l64, KW_PAYLOAD_MAX);
        }
        len = (size_t)l64;
        if (bin_header(canon, len) != lh) {
            return fail(r, KW_ERR_DECODE, at + off,
                "entry %llu (byte %llu): the payload length at byte %llu is not in its "
                "shortest form",
                idx, (unsigned long long)at, (unsigned long long)(at + off));
        }
        if (len != h.payload_len) {
            return fail(r, KW_ERR_DECODE, at + off,
                "entry %llu (byte %llu): the payload at byte %llu is %zu bytes but its header "
                "says %llu",
                idx, (unsigned long long)at, (unsigned long long)(at + off), len,
                (unsigned long long)h.payload_len);
        }
        if ((rc = fill(r, off + lh + len, &have)) != KW_ERR_OK) {
            return rc;
        }
        if (!have) {
            return truncated(r, where);
        }
        p = r->buf + r->start;
        if (r->flags & KW_KWX_VERIFY) {
            uint8_t hash[32];
            kw_payload_hash(hash, p + off + lh, len);
            if (sodium_memcmp(hash, h.payload_hash, 32) != 0) {
                return fail(r, KW_ERR_HASH, at + off,
                    "entry %llu (byte %llu): the payload at byte %llu does not match its "
                    "hash",
                    idx, (unsigned long long)at, (unsigned long long)(at + off));
            }
        }
    }
    memset(e, 0, sizeof(*e));
    e->h = h;
    e->hdr = p + 3;
    e->hdr_len = hl;
    e->sig = p + 3 + hl + 2;
    e->payload = lh > 1 ? p + off + lh : NULL;
    e->payload_len = len;
    e->offset = at;
    e->size = off + lh + len;
    e->index = r->count;
    consume(r, (size_t)e->size);
    r->count++;
    return KW_ERR_OK;
}

kw_err kw_kwx_reader_next(kw_kwx_reader *r, kw_kwx_entry *e, bool *done)
{
    bool have;
    kw_err rc;

    *done = false;
    if (r->state == R_FAILED) {
        return r->err;
    }
    if (r->state == R_DONE) {
        *done = true;
        return KW_ERR_OK;
    }
    if (r->state == R_MAGIC && (rc = read_magic(r)) != KW_ERR_OK) {
        return rc;
    }
    if ((rc = fill(r, 1, &have)) != KW_ERR_OK) {
        return rc;
    }
    if (!have) {
        return truncated(r, "where an entry or the trailer should start");
    }
    switch (r->buf[r->start]) {
    case T_ENTRY:
        return read_entry(r, e);
    case T_TRAILER:
        return read_trailer(r, done);
    default:
        return fail(r, KW_ERR_DECODE, r->pos,
            "byte %llu (0x%02x) starts neither an entry nor the trailer",
            (unsigned long long)r->pos, r->buf[r->start]);
    }
}

const char *kw_kwx_reader_error(const kw_kwx_reader *r, uint64_t *offset)
{
    if (offset != NULL) {
        *offset = r->err_off;
    }
    return r->state == R_FAILED ? r->why : "";
}

uint64_t kw_kwx_reader_offset(const kw_kwx_reader *r)
{
    return r->pos;
}

uint64_t kw_kwx_reader_count(const kw_kwx_reader *r)
{
    return r->count;
}
