/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the .kwx reader (bundle/kwx.h). The first byte picks the mode: bit 0 turns on
 * KW_KWX_VERIFY, bits 1-7 the size of each read (0: as much as fits), so that the reader's
 * buffering is exercised with every split of the input. The rest is the file. Invariants,
 * each an abort() when broken:
 *   - every entry lies inside the input, right after the previous one, and its pointers show
 *     the bytes at its offset; lengths are within their bounds and a payload has the length
 *     its header states; with KW_KWX_VERIFY each entry passes kw_entry_check;
 *   - the end is reported only when the whole input was consumed;
 *   - an error has a message and an offset inside the input (at its end when it is cut).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/entry.h"
#include "bundle/kwx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct source {
    const uint8_t *p;
    size_t len, off, chunk;
} source;

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static kw_err chunked_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
    source *s = ctx;
    size_t n = s->len - s->off;

    if (n > cap) {
        n = cap;
    }
    if (s->chunk > 0 && n > s->chunk) {
        n = s->chunk;
    }
    memcpy(buf, s->p + s->off, n);
    s->off += n;
    *got = n;
    return KW_ERR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kw_kwx_reader *r = NULL;
    kw_kwx_entry e;
    source src;
    unsigned flags;
    uint64_t next = KW_KWX_MAGIC_LEN, n = 0;
    bool done = false;
    kw_err rc;

    if (size < 1) {
        return 0;
    }
    flags = (data[0] & 1) ? KW_KWX_VERIFY : 0;
    src.p = data + 1;
    src.len = size - 1;
    src.off = 0;
    src.chunk = data[0] >> 1;
    if (kw_kwx_reader_new(&r, chunked_read, &src, flags) != KW_ERR_OK) {
        return 0;
    }
    while ((rc = kw_kwx_reader_next(r, &e, &done)) == KW_ERR_OK && !done) {
        kw_header h;
        check(e.index == n++);
        check(e.offset == next && e.offset + e.size <= src.len);
        check(e.hdr_len >= 1 && e.hdr_len <= KW_HEADER_MAX);
        check(memcmp(e.hdr, src.p + e.offset + 3, e.hdr_len) == 0);
        check(memcmp(e.sig, src.p + e.offset + 3 + e.hdr_len + 2, KW_SIG_LEN) == 0);
        check(kw_header_decode(&h, e.hdr, e.hdr_len) == KW_ERR_OK && h.seq == e.h.seq);
        if (e.payload != NULL) {
            check(e.payload_len <= KW_PAYLOAD_MAX && e.payload_len == e.h.payload_len);
            check(memcmp(e.payload, src.p + e.offset + e.size - e.payload_len, e.payload_len) == 0);
        } else {
            check(e.payload_len == 0);
        }
        if (flags & KW_KWX_VERIFY) {
            check(
                kw_entry_check(&h, e.hdr, e.hdr_len, e.sig, e.payload, e.payload_len) == KW_ERR_OK);
        }
        next = e.offset + e.size;
    }
    if (rc == KW_ERR_OK) {
        check(done && kw_kwx_reader_offset(r) == src.len && kw_kwx_reader_count(r) == n);
    } else {
        uint64_t off = 0;
        const char *why = kw_kwx_reader_error(r, &off);
        check(why != NULL && why[0] != '\0');
        check(off <= src.len);
        check(rc != KW_ERR_IO && rc != KW_ERR_NOMEM);
    }
    kw_kwx_reader_free(r);
    return 0;
}
