/* SPDX-License-Identifier: Apache-2.0 */
/* The .kwx export file (bundle/kwx.h): round trip, truncation, tampering, trailer, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/entry.h"
#include "bundle/kwx.h"
#include "bundle/tlp.h"
#include "support/support.h"

#define MAX_ENTRIES 8

/* A feed of signed entries and the file they make. */
typedef struct fixture {
    char dir[256];
    char path[512];
    kw_identity *id;
    size_t n;
    uint8_t hdr[MAX_ENTRIES][KW_HEADER_MAX];
    size_t hdr_len[MAX_ENTRIES];
    uint8_t sig[MAX_ENTRIES][KW_SIG_LEN];
    uint8_t *payload[MAX_ENTRIES]; /* NULL: withheld */
    size_t payload_len[MAX_ENTRIES];
    uint8_t *file;
    size_t file_len;
} fixture;

/* Appends entry seq (1-based) with a payload of len bytes, sent or withheld. */
static void add_entry(fixture *f, size_t len, bool send, kw_tlp tlp)
{
    size_t i = f->n++;
    kw_header h;
    uint8_t *p = malloc(len ? len : 1);

    assert_non_null(p);
    for (size_t k = 0; k < len; k++) {
        p[k] = (uint8_t)(k * 7 + i);
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.origin, kw_identity_pk(f->id), 32);
    h.seq = i + 1;
    h.has_prev = i > 0;
    if (i > 0) {
        kw_entry_id(h.prev, f->hdr[i - 1], f->hdr_len[i - 1], f->sig[i - 1]);
    }
    h.time_ms = 1700000000000ull + i;
    h.tlp = (uint8_t)tlp;
    h.flags = kw_tlp_sealed(tlp) ? KW_ENTRY_FLAG_SEALED : 0;
    h.payload_len = len;
    kw_payload_hash(h.payload_hash, p, len);
    assert_int_equal(kw_header_encode(&h, f->hdr[i], &f->hdr_len[i]), KW_ERR_OK);
    kw_entry_sign(f->id, f->sig[i], f->hdr[i], f->hdr_len[i]);
    f->payload[i] = send ? p : NULL;
    f->payload_len[i] = len;
    if (!send) {
        free(p);
    }
}

static void write_file(fixture *f)
{
    kw_kwx_writer *w = NULL;

    assert_int_equal(kw_kwx_writer_new(&w, f->path), KW_ERR_OK);
    for (size_t i = 0; i < f->n; i++) {
        assert_int_equal(kw_kwx_writer_add(w, f->hdr[i], f->hdr_len[i], f->sig[i], f->payload[i],
                             f->payload_len[i]),
            KW_ERR_OK);
    }
    assert_int_equal(kw_kwx_writer_finish(w), KW_ERR_OK);
    assert_int_equal(kw_kwx_writer_count(w), f->n);
    free(f->file);
    f->file = (uint8_t *)kw_test_read_file(f->path, &f->file_len);
    assert_non_null(f->file);
    assert_int_equal(kw_kwx_writer_bytes(w), f->file_len);
    kw_kwx_writer_free(w);
}

/* A small feed: every payload form (withheld, empty, bin 8, bin 16) and a sealed level. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || kw_test_tmpdir(f->dir, sizeof(f->dir)) != 0) {
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/out.kwx", f->dir);
    f->id = kw_test_identity(3);
    add_entry(f, 40, true, KW_TLP_CLEAR);
    add_entry(f, 0, true, KW_TLP_GREEN);
    add_entry(f, 300, false, KW_TLP_RED);
    add_entry(f, 260, true, KW_TLP_AMBER);
    add_entry(f, 1, true, KW_TLP_GREEN);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < f->n; i++) {
        free(f->payload[i]);
    }
    free(f->file);
    kw_identity_free(f->id);
    kw_test_rmrf(f->dir);
    free(f);
    return 0;
}

/* Reads buf[0..len) to the end; returns the error (KW_ERR_OK when the file is whole) and the
 * bad offset. Entries read from the fixture's own file are checked against the fixture. */
static kw_err read_all(
    fixture *f, const uint8_t *buf, size_t len, unsigned flags, uint64_t *bad_off, size_t *entries)
{
    kw_kwx_reader *r = NULL;
    kw_kwx_entry e;
    bool done = false;
    kw_err rc;
    size_t n = 0;

    assert_int_equal(kw_kwx_reader_new_mem(&r, buf, len, flags), KW_ERR_OK);
    while ((rc = kw_kwx_reader_next(r, &e, &done)) == KW_ERR_OK && !done) {
        assert_int_equal(e.index, n);
        if (buf == f->file) { /* an unaltered file gives back what was written */
            assert_true(n < f->n);
            assert_int_equal(e.hdr_len, f->hdr_len[n]);
            assert_memory_equal(e.hdr, f->hdr[n], e.hdr_len);
            assert_memory_equal(e.sig, f->sig[n], KW_SIG_LEN);
            assert_int_equal(e.h.seq, n + 1);
        }
        n++;
    }
    *bad_off = 0;
    if (rc != KW_ERR_OK) {
        const char *why = kw_kwx_reader_error(r, bad_off);
        assert_true(why[0] != '\0');
        /* A failed reader stays failed. */
        assert_int_equal(kw_kwx_reader_next(r, &e, &done), rc);
    }
    if (entries != NULL) {
        *entries = n;
    }
    kw_kwx_reader_free(r);
    return rc;
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    kw_kwx_reader *r = NULL;
    kw_kwx_entry e;
    bool done = false;
    uint64_t expect = KW_KWX_MAGIC_LEN;

    write_file(f);
    assert_memory_equal(f->file, KW_KWX_MAGIC, KW_KWX_MAGIC_LEN);
    assert_int_equal(kw_kwx_reader_new_mem(&r, f->file, f->file_len, KW_KWX_VERIFY), KW_ERR_OK);
    for (size_t i = 0; i < f->n; i++) {
        assert_int_equal(kw_kwx_reader_next(r, &e, &done), KW_ERR_OK);
        assert_false(done);
        assert_int_equal(e.offset, expect);
        assert_int_equal(e.hdr_len, f->hdr_len[i]);
        assert_memory_equal(e.hdr, f->hdr[i], f->hdr_len[i]);
        assert_memory_equal(e.sig, f->sig[i], KW_SIG_LEN);
        if (f->payload[i] == NULL) {
            assert_null(e.payload);
        } else {
            assert_non_null(e.payload);
            assert_int_equal(e.payload_len, f->payload_len[i]);
            assert_memory_equal(e.payload, f->payload[i], f->payload_len[i]);
        }
        expect += e.size;
    }
    assert_int_equal(kw_kwx_reader_next(r, &e, &done), KW_ERR_OK);
    assert_true(done);
    assert_int_equal(kw_kwx_reader_count(r), f->n);
    assert_int_equal(kw_kwx_reader_offset(r), f->file_len);
    assert_int_equal(expect + KW_KWX_TRAILER_LEN, f->file_len);
    /* Done stays done. */
    assert_int_equal(kw_kwx_reader_next(r, &e, &done), KW_ERR_OK);
    assert_true(done);
    kw_kwx_reader_free(r);

    /* The same through a file descriptor. */
    {
        FILE *fp = fopen(f->path, "rb");
        size_t n = 0;
        assert_non_null(fp);
        assert_int_equal(kw_kwx_reader_new_fd(&r, fileno(fp), KW_KWX_VERIFY), KW_ERR_OK);
        while (kw_kwx_reader_next(r, &e, &done) == KW_ERR_OK && !done) {
            n++;
        }
        assert_true(done);
        assert_int_equal(n, f->n);
        kw_kwx_reader_free(r);
        fclose(fp);
    }
}

/* A payload large enough for bin 32, and an empty file. */
static void test_big_payload_and_empty(void **state)
{
    fixture *f = *state;
    uint64_t off;
    size_t n;

    add_entry(f, 70000, true, KW_TLP_CLEAR);
    write_file(f);
    assert_int_equal(read_all(f, f->file, f->file_len, KW_KWX_VERIFY, &off, &n), KW_ERR_OK);
    assert_int_equal(n, f->n);
    /* Truncations inside the big payload and in its length. */
    for (size_t cut = f->file_len - KW_KWX_TRAILER_LEN - 1;
         cut > f->file_len - KW_KWX_TRAILER_LEN - 70010; cut -= 997) {
        assert_int_equal(read_all(f, f->file, cut, KW_KWX_VERIFY, &off, NULL), KW_ERR_DECODE);
        assert_int_equal(off, cut);
    }
    {
        size_t keep = f->n; /* teardown frees the payloads */
        f->n = 0;
        write_file(f);
        assert_int_equal(f->file_len, KW_KWX_MAGIC_LEN + KW_KWX_TRAILER_LEN);
        assert_int_equal(read_all(f, f->file, f->file_len, KW_KWX_VERIFY, &off, &n), KW_ERR_OK);
        assert_int_equal(n, 0);
        f->n = keep;
    }
}

static void test_every_truncation(void **state)
{
    fixture *f = *state;

    write_file(f);
    for (size_t cut = 0; cut < f->file_len; cut++) {
        uint64_t off = 0;
        size_t n = 0;
        kw_err rc = read_all(f, f->file, cut, KW_KWX_VERIFY, &off, &n);
        if (rc != KW_ERR_DECODE || off != cut) {
            fail_msg("truncated to %zu bytes: got %s at offset %llu", cut, kw_errname(rc),
                (unsigned long long)off);
        }
        rc = read_all(f, f->file, cut, 0, &off, NULL);
        assert_int_equal(rc, KW_ERR_DECODE);
        assert_int_equal(off, cut);
    }
}

/* The start of the part of the file (magic, entry i, trailer) that holds byte pos. */
static uint64_t region_start(const fixture *f, uint64_t pos)
{
    uint64_t start = 0, o = KW_KWX_MAGIC_LEN;

    for (size_t i = 0; i < f->n && pos >= o; i++) {
        start = o;
        o += 1 + 2 + f->hdr_len[i] + 2 + KW_SIG_LEN;
        if (f->payload[i] == NULL) {
            o += 1;
        } else {
            o += (f->payload_len[i] <= 0xff            ? 2
                         : f->payload_len[i] <= 0xffff ? 3
                                                       : 5)
                + f->payload_len[i];
        }
    }
    return pos >= o ? o : start;
}

static void test_flipped_bytes(void **state)
{
    fixture *f = *state;
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    uint8_t *copy;

    write_file(f);
    copy = malloc(f->file_len);
    assert_non_null(copy);
    for (size_t m = 0; m < sizeof(masks); m++) {
        for (size_t pos = 0; pos < f->file_len; pos++) {
            uint64_t off = 0;
            kw_err rc;
            memcpy(copy, f->file, f->file_len);
            copy[pos] ^= masks[m];
            rc = read_all(f, copy, f->file_len, KW_KWX_VERIFY, &off, NULL);
            if (rc == KW_ERR_OK || off > pos || off < region_start(f, pos)) {
                fail_msg("byte %zu ^ 0x%02x: %s at offset %llu (region starts at %llu)", pos,
                    masks[m], kw_errname(rc), (unsigned long long)off,
                    (unsigned long long)region_start(f, pos));
            }
            /* Without per-entry checks the trailer still catches every change. */
            assert_int_not_equal(read_all(f, copy, f->file_len, 0, &off, NULL), KW_ERR_OK);
        }
    }
    /* A byte in the middle of a payload: located at that payload, the entries before kept. */
    {
        uint64_t entry3 = region_start(f, f->file_len - KW_KWX_TRAILER_LEN - 200);
        size_t pos = (size_t)entry3 + 1 + 2 + f->hdr_len[3] + 2 + KW_SIG_LEN + 3 + 130;
        uint64_t off = 0;
        size_t n = 0;
        assert_int_equal(region_start(f, pos), entry3);
        memcpy(copy, f->file, f->file_len);
        copy[pos] ^= 0x10;
        assert_int_equal(read_all(f, copy, f->file_len, KW_KWX_VERIFY, &off, &n), KW_ERR_HASH);
        assert_int_equal(off, pos - 130 - 3);
        assert_int_equal(n, 3);
        /* Without verification the reader hands out the entry and the trailer objects. */
        assert_int_equal(read_all(f, copy, f->file_len, 0, &off, &n), KW_ERR_HASH);
        assert_int_equal(off, f->file_len - 32);
        assert_int_equal(n, f->n);
    }
    free(copy);
}

static void test_trailer(void **state)
{
    fixture *f = *state;
    uint8_t *copy;
    uint64_t off;
    size_t t;

    write_file(f);
    t = f->file_len - KW_KWX_TRAILER_LEN;
    copy = malloc(f->file_len + 1);
    assert_non_null(copy);

    /* A count that disagrees with the entries. */
    memcpy(copy, f->file, f->file_len);
    copy[t + 9]++;
    assert_int_equal(read_all(f, copy, f->file_len, KW_KWX_VERIFY, &off, NULL), KW_ERR_DECODE);
    assert_int_equal(off, t + 1);

    /* A checksum that disagrees with the bytes. */
    memcpy(copy, f->file, f->file_len);
    copy[f->file_len - 1] ^= 1;
    assert_int_equal(read_all(f, copy, f->file_len, KW_KWX_VERIFY, &off, NULL), KW_ERR_HASH);
    assert_int_equal(off, t + 12);

    /* Bytes after the trailer. */
    memcpy(copy, f->file, f->file_len);
    copy[f->file_len] = 0;
    assert_int_equal(read_all(f, copy, f->file_len + 1, KW_KWX_VERIFY, &off, NULL), KW_ERR_DECODE);
    assert_int_equal(off, f->file_len);

    /* A whole entry removed: every entry verifies, the trailer does not. */
    {
        uint64_t e1 = region_start(f, KW_KWX_MAGIC_LEN);
        uint64_t e2 = region_start(f, e1 + 200);
        size_t n = 0;
        assert_true(e2 > e1);
        memcpy(copy, f->file, e1);
        memcpy(copy + e1, f->file + e2, f->file_len - e2);
        assert_int_not_equal(
            read_all(f, copy, f->file_len - (e2 - e1), KW_KWX_VERIFY, &off, &n), KW_ERR_OK);
        (void)n;
    }
    free(copy);
}

/* Hand-made files that break the bounds: nothing is read or allocated past them. */
static void test_bounds(void **state)
{
    fixture *f = *state;
    uint8_t buf[512];
    uint64_t off;
    size_t o;

    memset(buf, 0, sizeof(buf));
    memcpy(buf, KW_KWX_MAGIC, KW_KWX_MAGIC_LEN);
    o = KW_KWX_MAGIC_LEN;
    buf[o++] = 0x93;
    buf[o++] = 0xc4;
    buf[o++] = KW_HEADER_MAX + 1;
    assert_int_equal(read_all(f, buf, sizeof(buf), 0, &off, NULL), KW_ERR_TOOBIG);
    assert_int_equal(off, KW_KWX_MAGIC_LEN + 1);

    /* A header as bin 16 is not the shortest form. */
    buf[KW_KWX_MAGIC_LEN + 1] = 0xc5;
    assert_int_equal(read_all(f, buf, sizeof(buf), 0, &off, NULL), KW_ERR_DECODE);
    assert_int_equal(off, KW_KWX_MAGIC_LEN + 1);

    /* A payload length of 4 GiB - 1 is refused from its five bytes alone. */
    write_file(f);
    {
        uint8_t *copy = malloc(f->file_len);
        size_t p = KW_KWX_MAGIC_LEN + 1 + 2 + f->hdr_len[0] + 2 + KW_SIG_LEN;
        assert_non_null(copy);
        memcpy(copy, f->file, f->file_len);
        assert_int_equal(copy[p], 0xc4);
        copy[p] = 0xc6;
        memset(copy + p + 1, 0xff, 4);
        assert_int_equal(read_all(f, copy, f->file_len, 0, &off, NULL), KW_ERR_TOOBIG);
        assert_int_equal(off, p);
        /* The same length in a longer form than needed. */
        copy[p] = 0xc5;
        copy[p + 1] = 0;
        copy[p + 2] = (uint8_t)f->payload_len[0];
        assert_int_equal(read_all(f, copy, f->file_len, 0, &off, NULL), KW_ERR_DECODE);
        assert_int_equal(off, p);
        free(copy);
    }

    /* Another version of the format, and another file altogether. */
    memcpy(buf, "KAWAN-KWX 2\n", 12);
    assert_int_equal(read_all(f, buf, sizeof(buf), 0, &off, NULL), KW_ERR_UNSUPPORTED);
    assert_int_equal(off, 10);
    memcpy(buf, "{\"type\":\"bundle\"}", 17);
    assert_int_equal(read_all(f, buf, 17, 0, &off, NULL), KW_ERR_DECODE);
    assert_int_equal(off, 0);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.' || (de->d_name[1] != '\0' && strcmp(de->d_name, "..") != 0);
    }
    closedir(d);
    return n;
}

/* Nothing appears under the final name before finish; an abandoned writer leaves nothing. */
static void test_writer_atomic(void **state)
{
    fixture *f = *state;
    kw_kwx_writer *w = NULL;
    struct stat st;

    assert_int_equal(kw_kwx_writer_new(&w, f->path), KW_ERR_OK);
    assert_int_equal(
        kw_kwx_writer_add(w, f->hdr[0], f->hdr_len[0], f->sig[0], f->payload[0], f->payload_len[0]),
        KW_ERR_OK);
    /* A payload that is not the one the header describes is refused. */
    assert_int_equal(kw_kwx_writer_add(w, f->hdr[0], f->hdr_len[0], f->sig[0], f->payload[0],
                         f->payload_len[0] - 1),
        KW_ERR_INVAL);
    assert_int_equal(kw_kwx_writer_add(w, f->sig[0], 10, f->sig[0], NULL, 0), KW_ERR_DECODE);
    assert_int_not_equal(stat(f->path, &st), 0);
    assert_int_equal(count_files(f->dir), 1); /* the .part file */
    kw_kwx_writer_free(w);
    assert_int_equal(count_files(f->dir), 0);

    write_file(f);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_files(f->dir), 1);
    /* A directory that does not exist. */
    {
        char bad[600];
        snprintf(bad, sizeof(bad), "%s/missing/out.kwx", f->dir);
        assert_int_equal(kw_kwx_writer_new(&w, bad), KW_ERR_NOTFOUND);
        assert_null(w);
        assert_int_equal(kw_kwx_writer_new(&w, "dir/"), KW_ERR_INVAL);
    }
}

/* Leftover .part files of the same name: one whose writer is gone is removed by the next
 * writer, one still locked by a live writer is left alone. */
static void test_stale_parts(void **state)
{
    fixture *f = *state;
    char stale[700], live[700], other[700];
    const char *base = strrchr(f->path, '/') + 1;
    struct stat st;
    int fd;

    snprintf(stale, sizeof(stale), "%s/.%s.part-AAAAAA", f->dir, base);
    snprintf(live, sizeof(live), "%s/.%s.part-BBBBBB", f->dir, base);
    snprintf(other, sizeof(other), "%s/.other.kwx.part-CCCCCC", f->dir);
    for (int i = 0; i < 3; i++) {
        const char *p = i == 0 ? stale : i == 1 ? live : other;
        int w = open(p, O_CREAT | O_WRONLY, 0600);
        assert_true(w >= 0);
        close(w);
    }
    fd = open(live, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    write_file(f);
    assert_int_not_equal(stat(stale, &st), 0);
    assert_int_equal(stat(live, &st), 0);
    assert_int_equal(stat(other, &st), 0);
    assert_int_equal(stat(f->path, &st), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_payload_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_parts, setup, teardown),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
