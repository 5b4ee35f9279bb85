/* SPDX-License-Identifier: Apache-2.0 */
/* Store: publish, index, query, ingest checks, forks, verify (store/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bundle/entry.h"
#include "bundle/timefmt.h"
#include "crypto/seal.h"
#include "store/store.h"
#include "store/store_int.h"
#include "support/support.h"

typedef struct fixture {
    char dir[256];
    kw_identity *id;
    kw_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (kw_test_tmpdir(f->dir, sizeof(f->dir)) != 0) {
        return -1;
    }
    f->id = kw_test_identity(7);
    if (kw_store_create(f->dir, kw_identity_pk(f->id), "CERT-A") != KW_ERR_OK
        || kw_store_open(&f->s, f->dir, 0) != KW_ERR_OK) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    kw_store_close(f->s);
    kw_identity_free(f->id);
    kw_test_rmrf(f->dir);
    free(f);
    return 0;
}

static kw_bundle *make_bundle(const char *const *values, kw_obs_type type, size_t n)
{
    kw_bundle *b = NULL;
    int64_t now = kw_time_now_ms();
    assert_int_equal(kw_bundle_new(&b), KW_ERR_OK);
    for (size_t i = 0; i < n; i++) {
        kw_indicator *d = NULL;
        assert_int_equal(kw_bundle_add(b, &d), KW_ERR_OK);
        kw_uuid_random(d->id);
        d->type = type;
        d->value = kw_bundle_strdup(b, values[i], strlen(values[i]));
        d->value_len = (uint32_t)strlen(values[i]);
        d->created = d->modified = d->valid_from = now;
    }
    return b;
}

/* A second node's store, created and opened in a new temporary directory dir (256 bytes). */
static kw_store *node_store(char *dir, const kw_identity *self, const char *name)
{
    kw_store *s = NULL;
    assert_int_equal(kw_test_tmpdir(dir, 256), 0);
    assert_int_equal(kw_store_create(dir, kw_identity_pk(self), name), KW_ERR_OK);
    assert_int_equal(kw_store_open(&s, dir, 0), KW_ERR_OK);
    return s;
}

/* Puts a member in s's roster. */
static void roster_add(kw_store *s, const char *name, const kw_identity *id)
{
    kw_peer p = { 0 };
    snprintf(p.name, sizeof(p.name), "%s", name);
    memcpy(p.id, kw_identity_pk(id), 32);
    assert_int_equal(kw_store_peer_add(s, &p), KW_ERR_OK);
}

static int count_cb(void *ctx, const kw_result *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static int query_value(kw_store *s, const char *v, bool all)
{
    kw_query q = { .value = v, .tlp = -1, .all = all };
    int n = 0;
    assert_int_equal(kw_store_query(s, &q, count_cb, &n, NULL), KW_ERR_OK);
    return n;
}

static void publish(fixture *f, kw_bundle *b, kw_tlp tlp, kw_publish_result *res)
{
    kw_publish_opts o = { .tlp = tlp };
    kw_bundle *list[1] = { b };
    assert_int_equal(kw_store_publish(f->s, f->id, &o, list, 1, res), KW_ERR_OK);
}

/* f's store holds that many current indicators and entries, and verifies clean. */
static void expect_sound(fixture *f, uint64_t indicators, uint64_t entries)
{
    kw_store_stats st;
    kw_verify_report rep;
    assert_int_equal(kw_store_stats_get(f->s, &st), KW_ERR_OK);
    assert_int_equal(st.indicators, indicators);
    assert_int_equal(st.entries, entries);
    assert_int_equal(kw_store_verify(f->s, f->id, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);
    assert_int_equal(rep.entries, entries);
}

static void test_publish_query(void **state)
{
    fixture *f = *state;
    const char *vals[] = { "example.com", "evil.example.org", "example.com" };
    kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, 3);
    kw_publish_result res = { 0 };

    publish(f, b, KW_TLP_GREEN, &res);
    assert_int_equal(res.entries, 1);
    assert_int_equal(res.first_seq, 1);
    assert_int_equal(res.indicators, 2);
    assert_int_equal(res.duplicates, 1);
    assert_int_equal(query_value(f->s, "example.com", false), 1);
    assert_int_equal(query_value(f->s, "nothere.example", false), 0);
    kw_bundle_free(b);

    /* Publishing the same value again is a duplicate: no new entry. */
    b = make_bundle(vals, KW_OBS_DOMAIN, 1);
    memset(&res, 0, sizeof(res));
    publish(f, b, KW_TLP_GREEN, &res);
    assert_int_equal(res.entries, 0);
    assert_int_equal(res.duplicates, 1);
    kw_bundle_free(b);

    expect_sound(f, 2, 1);
}

static void test_revoke(void **state)
{
    fixture *f = *state;
    const char *vals[] = { "198.51.100.7" };
    kw_bundle *b = make_bundle(vals, KW_OBS_IPV4, 1);
    kw_publish_result res = { 0 };
    uint8_t id[16];

    publish(f, b, KW_TLP_CLEAR, &res);
    memcpy(id, b->items[0].id, 16);
    /* A new version with revoked set, a later modified time. */
    b->items[0].revoked = true;
    b->items[0].modified += 1000;
    memset(&res, 0, sizeof(res));
    publish(f, b, KW_TLP_CLEAR, &res);
    assert_int_equal(res.entries, 1);
    assert_int_equal(query_value(f->s, "198.51.100.7", false), 0);
    assert_int_equal(query_value(f->s, "198.51.100.7", true), 1);
    kw_store_stats st;
    kw_store_stats_get(f->s, &st);
    assert_int_equal(st.indicators, 0);
    assert_int_equal(st.versions, 1);
    /* An older version arriving later does not win. */
    b->items[0].revoked = false;
    b->items[0].modified -= 500;
    memset(&res, 0, sizeof(res));
    publish(f, b, KW_TLP_CLEAR, &res);
    assert_int_equal(query_value(f->s, "198.51.100.7", false), 0);
    kw_verify_report rep;
    assert_int_equal(kw_store_verify(f->s, f->id, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);
    kw_bundle_free(b);
}

/* Two versions of one id with different values in one write transaction: the value index
 * inserts are held back and put in key order at commit, so the second version must still
 * find and remove the first version's entry. */
static void test_versions_in_one_transaction(void **state)
{
    fixture *f = *state;
    const char *v1[] = { "first-value.example", "zz-other.example" };
    const char *v2[] = { "second-value.example" };
    kw_bundle *a = make_bundle(v1, KW_OBS_DOMAIN, 2), *b = make_bundle(v2, KW_OBS_DOMAIN, 1);
    kw_bundle *list[2] = { a, b };
    kw_publish_opts o = { .tlp = KW_TLP_GREEN };
    kw_publish_result res = { 0 };

    memcpy(b->items[0].id, a->items[0].id, 16);
    b->items[0].modified = a->items[0].modified + 1000;
    assert_int_equal(kw_store_publish(f->s, f->id, &o, list, 2, &res), KW_ERR_OK);
    assert_int_equal(res.entries, 2);
    assert_int_equal(query_value(f->s, "first-value.example", true), 0);
    assert_int_equal(query_value(f->s, "second-value.example", false), 1);
    assert_int_equal(query_value(f->s, "zz-other.example", false), 1);
    kw_store_stats st;
    assert_int_equal(kw_store_stats_get(f->s, &st), KW_ERR_OK);
    assert_int_equal(st.indicators, 2);
    kw_verify_report rep;
    assert_int_equal(kw_store_verify(f->s, f->id, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);
    kw_bundle_free(a);
    kw_bundle_free(b);
}

/* Collects the wire form of an origin's feed from one store. */
#define WIRE_COPY_MAX 128
typedef struct wire_copy {
    kw_stored_entry e[WIRE_COPY_MAX];
    size_t n;
} wire_copy;

static int copy_cb(void *ctx, const kw_stored_entry *e)
{
    wire_copy *w = ctx;
    w->e[w->n] = *e;
    if (e->payload != NULL) {
        w->e[w->n].payload = malloc(e->payload_len);
        memcpy(w->e[w->n].payload, e->payload, e->payload_len);
    }
    w->n++;
    return w->n == WIRE_COPY_MAX;
}

static kw_wire_entry wire_of(const kw_stored_entry *e)
{
    kw_wire_entry w = { e->hdr, e->hdr_len, e->sig, e->payload, e->payload_len };
    return w;
}

static void test_ingest_checks(void **state)
{
    fixture *f = *state;
    char dir2[256];
    kw_store *s2 = NULL;
    kw_identity *other = kw_test_identity(9);
    kw_publish_result res = { 0 };
    wire_copy w = { 0 };
    kw_ingest_result r[4];

    /* Publish three entries on A. */
    for (int i = 0; i < 3; i++) {
        char v[32];
        snprintf(v, sizeof(v), "host%d.example.net", i);
        const char *vals[] = { v };
        kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, 1);
        publish(f, b, KW_TLP_GREEN, &res);
        kw_bundle_free(b);
    }
    assert_int_equal(kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w),
        KW_ERR_OK);
    assert_int_equal(w.n, 3);

    /* B does not know A yet: roster rejection. */
    s2 = node_store(dir2, other, "CERT-B");
    kw_wire_entry we = wire_of(&w.e[0]);
    assert_int_equal(kw_store_ingest(s2, other, &we, 1, r), KW_ERR_OK);
    assert_int_equal(r[0].status, KW_INGEST_REJECTED);
    assert_int_equal(r[0].err, KW_ERR_ROSTER);

    roster_add(s2, "CERT-A", f->id);

    /* A gap: seq 2 before seq 1. */
    we = wire_of(&w.e[1]);
    assert_int_equal(kw_store_ingest(s2, other, &we, 1, r), KW_ERR_OK);
    assert_int_equal(r[0].status, KW_INGEST_GAP);

    /* Forged signature. */
    kw_stored_entry bad = w.e[0];
    bad.sig[3] ^= 1;
    we = wire_of(&bad);
    assert_int_equal(kw_store_ingest(s2, other, &we, 1, r), KW_ERR_OK);
    assert_int_equal(r[0].err, KW_ERR_BADSIG);

    /* Payload not matching its hash. */
    bad = w.e[0];
    uint8_t *pl = malloc(bad.payload_len);
    memcpy(pl, bad.payload, bad.payload_len);
    pl[bad.payload_len - 1] ^= 1;
    bad.payload = pl;
    we = wire_of(&bad);
    assert_int_equal(kw_store_ingest(s2, other, &we, 1, r), KW_ERR_OK);
    assert_int_equal(r[0].err, KW_ERR_HASH);
    free(pl);

    /* A valid batch of all three, in order, in one transaction. */
    kw_wire_entry batch[3] = { wire_of(&w.e[0]), wire_of(&w.e[1]), wire_of(&w.e[2]) };
    assert_int_equal(kw_store_ingest(s2, other, batch, 3, r), KW_ERR_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].status, KW_INGEST_STORED);
        assert_int_equal(r[i].indicators, 1);
    }
    assert_int_equal(query_value(s2, "host2.example.net", false), 1);
    /* Again: held. */
    assert_int_equal(kw_store_ingest(s2, other, batch, 3, r), KW_ERR_OK);
    assert_int_equal(r[2].status, KW_INGEST_HELD);

    /* A fork: a different valid entry for seq 3 signed by A. */
    kw_header h = w.e[2].h;
    h.time_ms += 1;
    uint8_t hdr[KW_HEADER_MAX], sig[64];
    size_t hl;
    assert_int_equal(kw_header_encode(&h, hdr, &hl), KW_ERR_OK);
    kw_entry_sign(f->id, sig, hdr, hl);
    kw_wire_entry fw = { hdr, hl, sig, w.e[2].payload, w.e[2].payload_len };
    assert_int_equal(kw_store_ingest(s2, other, &fw, 1, r), KW_ERR_OK);
    assert_int_equal(r[0].status, KW_INGEST_FORK);
    kw_head head;
    assert_int_equal(kw_store_head(s2, kw_identity_pk(f->id), &head), KW_ERR_OK);
    assert_true(head.forked);
    kw_store_stats st;
    kw_store_stats_get(s2, &st);
    assert_int_equal(st.forks, 1);

    kw_verify_report rep;
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    for (size_t i = 0; i < w.n; i++) {
        kw_stored_entry_clear(&w.e[i]);
    }
    kw_store_close(s2);
    kw_identity_free(other);
    kw_test_rmrf(dir2);
}

/* What kw_store_index_queued's callback heard, in order. */
typedef struct heard {
    uint64_t seq[128];
    uint32_t indicators;
    size_t n, calls, unreadable;
    size_t stop_after; /* calls, when not 0 */
} heard;

static bool heard_cb(void *ctx, const kw_indexed *done, size_t n)
{
    heard *h = ctx;
    h->calls++;
    for (size_t i = 0; i < n; i++) {
        assert_true(h->n < 128);
        h->seq[h->n++] = done[i].seq;
        h->indicators += done[i].indicators;
        h->unreadable += done[i].unreadable;
    }
    return h->stop_after == 0 || h->calls < h->stop_after;
}

/* Stores n received entries unindexed, as the daemon stores a catch-up. */
static kw_err ingest_deferred(kw_store *s, const kw_identity *me, const kw_wire_entry *we,
    size_t n, kw_ingest_result *r)
{
    kw_entry_verdict v[WIRE_COPY_MAX];
    assert_true(n <= WIRE_COPY_MAX);
    kw_store_check_entries(we, n, v);
    return kw_store_ingest_checked(s, me, we, v, n, true, r);
}

/* The entry after last in f's feed, signed by f, whose payload is not a bundle. */
static kw_stored_entry undecodable_entry(fixture *f, const kw_stored_entry *last)
{
    static const uint8_t junk[] = { 0x93, 0x01, 0x02, 0x03 }; /* msgpack [1,2,3] */
    kw_stored_entry e = *last;
    e.h.seq = last->h.seq + 1;
    e.h.has_prev = true;
    memcpy(e.h.prev, last->id, 32);
    e.h.payload_len = sizeof(junk);
    kw_payload_hash(e.h.payload_hash, junk, sizeof(junk));
    assert_int_equal(kw_header_encode(&e.h, e.hdr, &e.hdr_len), KW_ERR_OK);
    kw_entry_sign(f->id, e.sig, e.hdr, e.hdr_len);
    kw_entry_id(e.id, e.hdr, e.hdr_len, e.sig);
    e.payload = malloc(sizeof(junk));
    memcpy(e.payload, junk, sizeof(junk));
    e.payload_len = sizeof(junk);
    return e;
}

/*
 * A catch-up stored first and indexed behind: entries ingested deferred hold nothing in the
 * index until kw_store_index_queued takes them off the queue, oldest first, in batches read
 * ahead; then the store is what indexing at once makes it. A validly signed entry whose
 * payload is not a bundle is kept, marked unreadable, both ways.
 */
static void test_index_queue(void **state)
{
    fixture *f = *state;
    char dir2[256], dir3[256];
    kw_identity *other = kw_test_identity(9);
    kw_publish_result res = { 0 };
    wire_copy w = { 0 };
    kw_ingest_result r[WIRE_COPY_MAX];
    kw_store_stats st, st3;
    kw_verify_report rep;
    heard h = { 0 };
    size_t done = 0;
    enum { N = 80 };

    /* 80 entries; the 80th holds a new version of the first entry's indicator, with a new
     * value, so the old value must leave the value index. */
    kw_bundle *first = NULL;
    for (int i = 0; i < N; i++) {
        char v1[48], v2[48];
        snprintf(v1, sizeof(v1), "queue%d-a.example.net", i);
        snprintf(v2, sizeof(v2), "queue%d-b.example.net", i);
        const char *vals[] = { v1, v2 };
        kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, i == N - 1 ? 1 : 2);
        if (i == 0) {
            first = b;
            publish(f, b, KW_TLP_GREEN, &res);
            continue;
        }
        if (i == N - 1) {
            memcpy(b->items[0].id, first->items[0].id, 16);
            b->items[0].modified = first->items[0].modified + 1000;
            b->items[0].value = kw_bundle_strdup(b, "queue-renamed.example.net", 25);
            b->items[0].value_len = 25;
        }
        publish(f, b, KW_TLP_GREEN, &res);
        kw_bundle_free(b);
    }
    kw_bundle_free(first);
    assert_int_equal(kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w),
        KW_ERR_OK);
    assert_int_equal(w.n, N);
    w.e[N] = undecodable_entry(f, &w.e[N - 1]);
    w.n = N + 1;
    assert_int_equal(kw_store_stats_get(f->s, &st), KW_ERR_OK);
    assert_int_equal(st.indicators, 2 * (N - 1));

    /* Deferred, in batches of 7: every entry stored, nothing indexed. */
    kw_store *s2 = node_store(dir2, other, "CERT-B");
    roster_add(s2, "CERT-A", f->id);
    kw_wire_entry we[WIRE_COPY_MAX];
    for (size_t i = 0; i < w.n; i++) {
        we[i] = wire_of(&w.e[i]);
    }
    for (size_t i = 0; i < w.n; i += 7) {
        size_t k = w.n - i < 7 ? w.n - i : 7;
        assert_int_equal(ingest_deferred(s2, other, we + i, k, r), KW_ERR_OK);
        for (size_t j = 0; j < k; j++) {
            assert_int_equal(r[j].status, KW_INGEST_STORED);
            assert_int_equal(r[j].indicators, 0);
        }
    }
    assert_int_equal(kw_store_stats_get(s2, &st), KW_ERR_OK);
    assert_int_equal(st.entries, N + 1);
    assert_int_equal(st.queued, N + 1);
    assert_int_equal(st.indicators, 0);
    assert_int_equal(query_value(s2, "queue5-a.example.net", true), 0);
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);
    assert_int_equal(rep.queued, N + 1);
    /* Held entries sent again change nothing. */
    assert_int_equal(ingest_deferred(s2, other, we, 3, r), KW_ERR_OK);
    assert_int_equal(r[2].status, KW_INGEST_HELD);

    /* The queue outlives the process: reopened, it is all still there. */
    kw_store_close(s2);
    assert_int_equal(kw_store_open(&s2, dir2, KW_STORE_RDONLY), KW_ERR_OK);
    assert_int_equal(kw_store_index_queued(s2, other, 100, heard_cb, &h, &done), KW_ERR_PERM);
    kw_store_close(s2);
    assert_int_equal(kw_store_open(&s2, dir2, 0), KW_ERR_OK);

    /* Five, oldest first. */
    assert_int_equal(kw_store_index_queued(s2, other, 5, heard_cb, &h, &done), KW_ERR_OK);
    assert_int_equal(done, 5);
    assert_int_equal(h.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(h.seq[i], i + 1);
    }
    assert_int_equal(kw_store_stats_get(s2, &st), KW_ERR_OK);
    assert_int_equal(st.queued, N + 1 - 5);
    assert_int_equal(st.indicators, 10);
    assert_int_equal(query_value(s2, "queue4-b.example.net", false), 1);
    assert_int_equal(query_value(s2, "queue5-a.example.net", false), 0);

    /* Stopped by the callback after the first transaction of a call. */
    h.stop_after = h.calls + 1;
    assert_int_equal(kw_store_index_queued(s2, other, 1000, heard_cb, &h, &done), KW_ERR_OK);
    assert_true(done > 0 && done < N + 1 - 5);
    assert_int_equal(h.calls, h.stop_after);
    assert_int_equal(kw_store_stats_get(s2, &st), KW_ERR_OK);
    assert_int_equal(st.queued, N + 1 - 5 - done);
    h.stop_after = 0;

    /* The rest: more than one batch, so the next is read while one is written. */
    size_t before = h.n;
    assert_int_equal(kw_store_index_queued(s2, other, 1000, heard_cb, &h, &done), KW_ERR_OK);
    assert_int_equal(done, N + 1 - before);
    assert_true(h.calls >= 4);
    assert_int_equal(h.n, N + 1);
    for (size_t i = 0; i < h.n; i++) {
        assert_int_equal(h.seq[i], i + 1);
    }
    assert_int_equal(h.unreadable, 1);
    assert_int_equal(h.indicators, 2 * (N - 1) + 1);
    assert_int_equal(kw_store_index_queued(s2, other, 1000, heard_cb, &h, &done), KW_ERR_OK);
    assert_int_equal(done, 0);

    assert_int_equal(kw_store_stats_get(s2, &st), KW_ERR_OK);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.unreadable, 1);
    assert_int_equal(st.entries, N + 1);
    assert_int_equal(st.indicators, 2 * (N - 1));
    assert_int_equal(query_value(s2, "queue-renamed.example.net", false), 1);
    assert_int_equal(query_value(s2, "queue0-a.example.net", true), 0);
    assert_int_equal(query_value(s2, "queue38-b.example.net", false), 1);
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);
    assert_int_equal(rep.queued, 0);
    kw_head head;
    assert_int_equal(kw_store_head(s2, kw_identity_pk(f->id), &head), KW_ERR_OK);
    assert_int_equal(head.seq, N + 1);

    /* Indexed at once, the same store results; the unreadable entry is kept there too. */
    kw_store *s3 = node_store(dir3, other, "CERT-C");
    roster_add(s3, "CERT-A", f->id);
    assert_int_equal(kw_store_ingest(s3, other, we, w.n, r), KW_ERR_OK);
    assert_int_equal(r[N].status, KW_INGEST_STORED);
    assert_int_equal(r[N].indicators, 0);
    assert_true(r[N].unreadable);
    assert_false(r[N - 1].unreadable);
    assert_int_equal(kw_store_stats_get(s3, &st3), KW_ERR_OK);
    assert_int_equal(st3.indicators, st.indicators);
    assert_int_equal(st3.versions, st.versions);
    assert_int_equal(st3.unreadable, 1);
    assert_int_equal(st3.queued, 0);
    assert_int_equal(kw_store_verify(s3, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    for (size_t i = 0; i < w.n; i++) {
        kw_stored_entry_clear(&w.e[i]);
    }
    kw_store_close(s3);
    kw_store_close(s2);
    kw_identity_free(other);
    kw_test_rmrf(dir3);
    kw_test_rmrf(dir2);
}

static int fork_get_cb(void *ctx, const kw_stored_entry *a, const kw_stored_entry *b)
{
    (void)a;
    (void)b;
    (*(int *)ctx)++;
    return 0;
}

/* Fork evidence reaching a node that holds neither side, nor yet the entries before it. */
static void test_fork_evidence(void **state)
{
    fixture *f = *state;
    char dir2[256];
    kw_store *s2 = NULL;
    kw_identity *other = kw_test_identity(11);
    kw_publish_result res = { 0 };
    wire_copy w = { 0 };
    kw_ingest_result r[2];
    bool fresh = false;

    for (int i = 0; i < 3; i++) {
        char v[32];
        snprintf(v, sizeof(v), "ev%d.example.net", i);
        const char *vals[] = { v };
        kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, 1);
        publish(f, b, KW_TLP_GREEN, &res);
        kw_bundle_free(b);
    }
    assert_int_equal(kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w),
        KW_ERR_OK);
    assert_int_equal(w.n, 3);
    /* A second valid entry for seq 3, signed by A. */
    kw_header h = w.e[2].h;
    h.time_ms += 1;
    uint8_t hdr[KW_HEADER_MAX], sig[64];
    size_t hl;
    assert_int_equal(kw_header_encode(&h, hdr, &hl), KW_ERR_OK);
    kw_entry_sign(f->id, sig, hdr, hl);
    kw_wire_entry x = { w.e[2].hdr, w.e[2].hdr_len, w.e[2].sig, NULL, 0 };
    kw_wire_entry y = { hdr, hl, sig, NULL, 0 };

    s2 = node_store(dir2, other, "CERT-C");
    /* A stranger's fork is not evidence here. */
    assert_int_equal(kw_store_fork_evidence(s2, &x, &y, &fresh), KW_ERR_ROSTER);
    roster_add(s2, "CERT-A", f->id);
    /* Forged, or not a fork: refused, nothing recorded. */
    uint8_t forged[64];
    memcpy(forged, sig, 64);
    forged[5] ^= 1;
    kw_wire_entry yf = { hdr, hl, forged, NULL, 0 };
    assert_int_equal(kw_store_fork_evidence(s2, &x, &yf, &fresh), KW_ERR_BADSIG);
    assert_int_equal(kw_store_fork_evidence(s2, &x, &x, &fresh), KW_ERR_INVAL);
    kw_wire_entry z = { w.e[1].hdr, w.e[1].hdr_len, w.e[1].sig, NULL, 0 };
    assert_int_equal(kw_store_fork_evidence(s2, &x, &z, &fresh), KW_ERR_INVAL);
    kw_store_stats st;
    kw_store_stats_get(s2, &st);
    assert_int_equal(st.forks, 0);
    /* The real thing: recorded once, the feed frozen from seq 3. */
    assert_int_equal(kw_store_fork_evidence(s2, &x, &y, &fresh), KW_ERR_OK);
    assert_true(fresh);
    assert_int_equal(kw_store_fork_evidence(s2, &y, &x, &fresh), KW_ERR_OK);
    assert_false(fresh);
    int calls = 0;
    assert_int_equal(kw_store_fork_get(s2, kw_identity_pk(f->id), 3, fork_get_cb, &calls),
        KW_ERR_OK);
    assert_int_equal(calls, 1);
    assert_int_equal(kw_store_fork_get(s2, kw_identity_pk(f->id), 2, fork_get_cb, &calls),
        KW_ERR_NOTFOUND);
    kw_head head;
    assert_int_equal(kw_store_head(s2, kw_identity_pk(f->id), &head), KW_ERR_OK);
    assert_true(head.forked);
    assert_int_equal(head.fork_seq, 3);
    assert_int_equal(head.seq, 0);
    /* Entries before the fork still arrive; the fork's seq does not. */
    kw_wire_entry batch[2] = { wire_of(&w.e[0]), wire_of(&w.e[1]) };
    assert_int_equal(kw_store_ingest(s2, other, batch, 2, r), KW_ERR_OK);
    assert_int_equal(r[0].status, KW_INGEST_STORED);
    assert_int_equal(r[1].status, KW_INGEST_STORED);
    kw_wire_entry third = wire_of(&w.e[2]);
    assert_int_equal(kw_store_ingest(s2, other, &third, 1, r), KW_ERR_OK);
    assert_int_equal(r[0].status, KW_INGEST_FROZEN);
    assert_int_equal(query_value(s2, "ev1.example.net", false), 1);
    assert_int_equal(query_value(s2, "ev2.example.net", false), 0);
    assert_int_equal(kw_store_head(s2, kw_identity_pk(f->id), &head), KW_ERR_OK);
    assert_int_equal(head.seq, 2);
    assert_true(head.forked);
    assert_int_equal(head.fork_seq, 3);
    kw_verify_report rep;
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    for (size_t i = 0; i < w.n; i++) {
        kw_stored_entry_clear(&w.e[i]);
    }
    kw_store_close(s2);
    kw_identity_free(other);
    kw_test_rmrf(dir2);
}

static void test_broken_chain(void **state)
{
    fixture *f = *state;
    char dir2[256];
    kw_store *s2 = NULL;
    kw_identity *other = kw_test_identity(10);
    kw_ingest_result r;
    const char *vals[] = { "chain.example" };
    kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, 1);
    uint8_t *payload = NULL;
    size_t plen = 0;

    assert_int_equal(kw_bundle_encode(b, &payload, &plen), KW_ERR_OK);
    s2 = node_store(dir2, other, "CERT-B");
    roster_add(s2, "CERT-A", f->id);

    /* seq 1 is fine; seq 2 validly signed but with a prev that is not seq 1's id. */
    kw_header h = { 0 };
    memcpy(h.origin, kw_identity_pk(f->id), 32);
    h.seq = 1;
    h.time_ms = 1;
    h.tlp = KW_TLP_CLEAR;
    h.payload_len = plen;
    kw_payload_hash(h.payload_hash, payload, plen);
    uint8_t hdr[KW_HEADER_MAX], sig[64];
    size_t hl;
    kw_header_encode(&h, hdr, &hl);
    kw_entry_sign(f->id, sig, hdr, hl);
    kw_wire_entry w1 = { hdr, hl, sig, payload, plen };
    assert_int_equal(kw_store_ingest(s2, other, &w1, 1, &r), KW_ERR_OK);
    assert_int_equal(r.status, KW_INGEST_STORED);

    h.seq = 2;
    h.has_prev = true;
    memset(h.prev, 0xab, 32);
    uint8_t hdr2[KW_HEADER_MAX], sig2[64];
    size_t hl2;
    kw_header_encode(&h, hdr2, &hl2);
    kw_entry_sign(f->id, sig2, hdr2, hl2);
    kw_wire_entry w2 = { hdr2, hl2, sig2, payload, plen };
    assert_int_equal(kw_store_ingest(s2, other, &w2, 1, &r), KW_ERR_OK);
    assert_int_equal(r.status, KW_INGEST_REJECTED);
    assert_int_equal(r.err, KW_ERR_CHAIN);
    kw_head head;
    kw_store_head(s2, kw_identity_pk(f->id), &head);
    assert_int_equal(head.seq, 1);

    free(payload);
    kw_bundle_free(b);
    kw_store_close(s2);
    kw_identity_free(other);
    kw_test_rmrf(dir2);
}

/* Counts the objects records that refer to their payload and those that hold their bytes. */
static void count_records(kw_store *s, int *refs, int *inline_)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;

    *refs = *inline_ = 0;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, s->objects, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *rec = v.mv_data;
        if (rec[57] & KW__OBJ_REF) {
            assert_int_equal(v.mv_size, KW__OBJ_REF_LEN);
            (*refs)++;
        } else {
            assert_true(v.mv_size > KW__OBJ_HDR);
            (*inline_)++;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
}

/* Sets the stored schema number. */
static void set_schema(kw_store *s, uint64_t v)
{
    MDB_txn *txn;
    uint8_t b[8];
    MDB_val k = { 6, (void *)"schema" }, d = { 8, b };

    kw__put64(b, v);
    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_put(txn, s->meta, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static uint64_t get_schema(kw_store *s)
{
    MDB_txn *txn;
    MDB_val k = { 6, (void *)"schema" }, d;
    uint64_t v;

    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, s->meta, &k, &d), 0);
    v = kw__get64(d.mv_data);
    mdb_txn_abort(txn);
    return v;
}

typedef struct seen_value {
    char value[64];
    int n;
} seen_value;

static int value_cb(void *ctx, const kw_result *r)
{
    seen_value *sv = ctx;
    snprintf(sv->value, sizeof(sv->value), "%s", r->ind->value);
    sv->n++;
    return 0;
}

/*
 * An unsealed indicator's objects record refers to its bytes in the stored payload (on the
 * publisher and on a receiver); queries and verify read them there; a damaged reference is
 * an error, never a wrong answer; an older store's schema is upgraded on a writable open.
 */
static void test_objects_refer_to_payloads(void **state)
{
    fixture *f = *state;
    const char *vals[] = { "alpha.example", "bravo.example", "charlie.example" };
    kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, 3);
    kw_publish_result res = { 0 };
    int refs, inl;

    publish(f, b, KW_TLP_GREEN, &res);
    assert_int_equal(res.indicators, 3);
    count_records(f->s, &refs, &inl);
    assert_int_equal(refs, 3);
    assert_int_equal(inl, 0);
    for (int i = 0; i < 3; i++) {
        kw_query q = { .value = vals[i], .tlp = -1 };
        seen_value sv = { .n = 0 };
        assert_int_equal(kw_store_query(f->s, &q, value_cb, &sv, NULL), KW_ERR_OK);
        assert_int_equal(sv.n, 1);
        assert_string_equal(sv.value, vals[i]);
    }
    /* A scan reads all three through the payload too. */
    kw_query all = { .tlp = -1 };
    int n = 0;
    assert_int_equal(kw_store_query(f->s, &all, count_cb, &n, NULL), KW_ERR_OK);
    assert_int_equal(n, 3);

    /* A receiver's records refer to the payload it stored. */
    char dir2[256];
    kw_store *s2 = NULL;
    kw_identity *other = kw_test_identity(21);
    wire_copy w = { 0 };
    kw_ingest_result r;
    s2 = node_store(dir2, other, "CERT-B");
    roster_add(s2, "CERT-A", f->id);
    kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w);
    assert_int_equal(w.n, 1);
    kw_wire_entry we = wire_of(&w.e[0]);
    assert_int_equal(kw_store_ingest(s2, other, &we, 1, &r), KW_ERR_OK);
    assert_int_equal(r.status, KW_INGEST_STORED);
    assert_int_equal(r.indicators, 3);
    count_records(s2, &refs, &inl);
    assert_int_equal(refs, 3);
    assert_int_equal(query_value(s2, "bravo.example", false), 1);
    kw_verify_report rep;
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    /* A reference past the end of its payload: verify says so, a query fails. */
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(s2->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, s2->objects, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    uint8_t bad[KW__OBJ_REF_LEN], key[16];
    memcpy(bad, v.mv_data, sizeof(bad));
    memcpy(key, k.mv_data, 16);
    memset(bad + KW__OBJ_HDR, 0x7f, 4);
    mdb_cursor_close(cur);
    MDB_val bk = { 16, key }, bv = { sizeof(bad), bad };
    assert_int_equal(mdb_put(txn, s2->objects, &bk, &bv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_true(rep.problems >= 1); /* the record, and the count it left out */
    kw_query byid = { .id = key, .tlp = -1 };
    n = 0;
    assert_int_equal(kw_store_query(s2, &byid, count_cb, &n, NULL), KW_ERR_STORE);
    assert_int_equal(n, 0);

    /* A store of schema 1 opens; written to, it keeps schema 1's records (an older binary
     * may still use it) until kw_store_upgrade raises it. */
    set_schema(s2, 1);
    kw_store_close(s2);
    assert_int_equal(kw_store_open(&s2, dir2, KW_STORE_RDONLY), KW_ERR_OK);
    assert_false(kw_store_upgrade_due(s2)); /* read-only: nothing to do */
    assert_int_equal(kw_store_upgrade(s2), KW_ERR_OK);
    assert_int_equal(get_schema(s2), 1);
    kw_store_close(s2);
    assert_int_equal(kw_store_open(&s2, dir2, 0), KW_ERR_OK);
    assert_true(kw_store_upgrade_due(s2));
    assert_int_equal(get_schema(s2), 1);
    const char *b_vals[] = { "b-one.example" }, *b_more[] = { "b-two.example" };
    kw_bundle *bb = make_bundle(b_vals, KW_OBS_DOMAIN, 1);
    kw_bundle *blist[1] = { bb };
    kw_publish_opts green = { .tlp = KW_TLP_GREEN };
    assert_int_equal(kw_store_publish(s2, other, &green, blist, 1, &res), KW_ERR_OK);
    count_records(s2, &refs, &inl);
    assert_int_equal(inl, 1); /* b-one, in schema 1's form */
    assert_int_equal(kw_store_upgrade(s2), KW_ERR_OK);
    assert_false(kw_store_upgrade_due(s2));
    assert_int_equal(get_schema(s2), 2);
    kw_bundle_free(bb);
    bb = make_bundle(b_more, KW_OBS_DOMAIN, 1);
    blist[0] = bb;
    assert_int_equal(kw_store_publish(s2, other, &green, blist, 1, &res), KW_ERR_OK);
    kw_bundle_free(bb);
    int refs2, inl2;
    count_records(s2, &refs2, &inl2);
    assert_int_equal(refs2, refs + 1);
    assert_int_equal(inl2, 1);
    assert_int_equal(query_value(s2, "b-one.example", false), 1);
    assert_int_equal(query_value(s2, "b-two.example", false), 1);
    /* A newer schema than this binary knows is refused. */
    set_schema(s2, 3);
    kw_store_close(s2);
    assert_int_equal(kw_store_open(&s2, dir2, 0), KW_ERR_UNSUPPORTED);
    assert_null(s2);

    kw_stored_entry_clear(&w.e[0]);
    kw_identity_free(other);
    kw_test_rmrf(dir2);
    kw_bundle_free(b);
}

/* The value an indicator id has in a store ("" when none). */
static void value_of(kw_store *s, const uint8_t id[16], char *out, size_t cap)
{
    kw_query q = { .id = id, .tlp = -1 };
    seen_value sv = { .n = 0 };
    assert_int_equal(kw_store_query(s, &q, value_cb, &sv, NULL), KW_ERR_OK);
    snprintf(out, cap, "%s", sv.n ? sv.value : "");
}

/*
 * References across versions: an id twice in one publish, a later version in another
 * entry; a receiver that gets the headers first and the payloads later, many entries per
 * batch (its second thread at work); and a peer's indicator with a field kawan does not
 * know, which the receiver keeps in its own encoding.
 */
static void test_refs_across_versions(void **state)
{
    fixture *f = *state;
    const char *v1[] = { "first.example" }, *v2[] = { "second.example" };
    kw_bundle *a = make_bundle(v1, KW_OBS_DOMAIN, 1), *b = make_bundle(v2, KW_OBS_DOMAIN, 1);
    kw_publish_opts green = { .tlp = KW_TLP_GREEN };
    kw_publish_result res = { 0 };
    kw_verify_report rep;
    char got[64];
    uint8_t id[16];

    memcpy(id, a->items[0].id, 16);
    memcpy(b->items[0].id, id, 16);
    b->items[0].modified = a->items[0].modified + 5;
    kw_bundle *two[2] = { b, a }; /* the newer version first */
    assert_int_equal(kw_store_publish(f->s, f->id, &green, two, 2, &res), KW_ERR_OK);
    value_of(f->s, id, got, sizeof(got));
    assert_string_equal(got, "second.example");
    assert_int_equal(query_value(f->s, "first.example", false), 0);
    b->items[0].modified += 100;
    b->items[0].value = "third.example";
    b->items[0].value_len = 13;
    kw_bundle *one[1] = { b };
    assert_int_equal(kw_store_publish(f->s, f->id, &green, one, 1, &res), KW_ERR_OK);
    value_of(f->s, id, got, sizeof(got));
    assert_string_equal(got, "third.example");
    assert_int_equal(query_value(f->s, "second.example", false), 0);
    for (int i = 0; i < 6; i++) {
        char v[32];
        snprintf(v, sizeof(v), "h%d.example.net", i);
        const char *vals[] = { v };
        kw_bundle *x = make_bundle(vals, KW_OBS_DOMAIN, 1);
        one[0] = x;
        assert_int_equal(kw_store_publish(f->s, f->id, &green, one, 1, &res), KW_ERR_OK);
        kw_bundle_free(x);
    }
    assert_int_equal(kw_store_verify(f->s, f->id, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    /* B: every header first, then every entry again with its payload, in one batch each. */
    char dir2[256];
    kw_store *s2 = NULL;
    kw_identity *other = kw_test_identity(31), *third = kw_test_identity(32);
    wire_copy w = { 0 };
    kw_wire_entry we[16];
    kw_ingest_result rr[16];
    s2 = node_store(dir2, other, "CERT-B");
    roster_add(s2, "CERT-A", f->id);
    roster_add(s2, "CERT-C", third);
    kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w);
    assert_int_equal(w.n, 9);
    for (size_t i = 0; i < w.n; i++) {
        we[i] = wire_of(&w.e[i]);
        we[i].payload = NULL;
    }
    assert_int_equal(kw_store_ingest(s2, other, we, w.n, rr), KW_ERR_OK);
    for (size_t i = 0; i < w.n; i++) {
        assert_int_equal(rr[i].status, KW_INGEST_STORED);
        we[i] = wire_of(&w.e[i]);
    }
    assert_int_equal(kw_store_ingest(s2, other, we, w.n, rr), KW_ERR_OK);
    for (size_t i = 0; i < w.n; i++) {
        assert_int_equal(rr[i].status, KW_INGEST_UPGRADED);
        kw_stored_entry_clear(&w.e[i]);
    }
    value_of(s2, id, got, sizeof(got));
    assert_string_equal(got, "third.example");
    assert_int_equal(query_value(s2, "second.example", false), 0);
    assert_int_equal(query_value(s2, "h5.example.net", false), 1);
    int refs, inl;
    count_records(s2, &refs, &inl);
    assert_int_equal(refs, 7);
    assert_int_equal(inl, 0);
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    /* C's indicator carries a field kawan does not know ("zz"): B keeps its own encoding. */
    kw_bundle *cb = NULL;
    kw_buf item = { 0 };
    kw_indicator *d = NULL;
    assert_int_equal(kw_bundle_new(&cb), KW_ERR_OK);
    assert_int_equal(kw_bundle_add(cb, &d), KW_ERR_OK);
    kw_uuid_random(d->id);
    d->type = KW_OBS_DOMAIN;
    d->value = "padded.example";
    d->value_len = 14;
    d->created = d->modified = d->valid_from = kw_time_now_ms();
    assert_int_equal(kw_indicator_encode(d, &item), KW_ERR_OK);
    item.p[0]++; /* a fixmap: one more field */
    uint8_t pl[256];
    size_t pn = 0;
    static const uint8_t head[] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 'i', 0x91 };
    static const uint8_t extra[] = { 0xa2, 'z', 'z', 0xc0 };
    memcpy(pl, head, sizeof(head));
    pn = sizeof(head);
    memcpy(pl + pn, item.p, item.len);
    pn += item.len;
    memcpy(pl + pn, extra, sizeof(extra));
    pn += sizeof(extra);
    kw_header h = { 0 };
    memcpy(h.origin, kw_identity_pk(third), 32);
    h.seq = 1;
    h.time_ms = 1;
    h.tlp = KW_TLP_GREEN;
    h.payload_len = pn;
    kw_payload_hash(h.payload_hash, pl, pn);
    uint8_t hdr[KW_HEADER_MAX], sig[64];
    size_t hl;
    assert_int_equal(kw_header_encode(&h, hdr, &hl), KW_ERR_OK);
    kw_entry_sign(third, sig, hdr, hl);
    kw_wire_entry wc = { hdr, hl, sig, pl, pn };
    assert_int_equal(kw_store_ingest(s2, other, &wc, 1, rr), KW_ERR_OK);
    assert_int_equal(rr[0].status, KW_INGEST_STORED);
    assert_int_equal(rr[0].indicators, 1);
    count_records(s2, &refs, &inl);
    assert_int_equal(refs, 7);
    assert_int_equal(inl, 1);
    assert_int_equal(query_value(s2, "padded.example", false), 1);
    assert_int_equal(kw_store_verify(s2, other, &rep), KW_ERR_OK);
    assert_int_equal(rep.problems, 0);

    kw_buf_free(&item);
    kw_bundle_free(cb);
    kw_store_close(s2);
    kw_identity_free(other);
    kw_identity_free(third);
    kw_test_rmrf(dir2);
    b->items[0].value = NULL;
    kw_bundle_free(a);
    kw_bundle_free(b);
}

static void test_sealed(void **state)
{
    fixture *f = *state;
    char dir2[256], dir3[256];
    kw_store *s2 = NULL, *s3 = NULL;
    kw_identity *b_id = kw_test_identity(11), *c_id = kw_test_identity(12);
    kw_publish_result res = { 0 };
    kw_ingest_result r;
    wire_copy w = { 0 };

    kw_peer p = { 0 };
    snprintf(p.name, sizeof(p.name), "CERT-B");
    memcpy(p.id, kw_identity_pk(b_id), 32);
    assert_int_equal(kw_store_peer_add(f->s, &p), KW_ERR_OK);
    snprintf(p.name, sizeof(p.name), "CERT-C");
    memcpy(p.id, kw_identity_pk(c_id), 32);
    assert_int_equal(kw_store_peer_add(f->s, &p), KW_ERR_OK);

    /* RED without recipients is refused. */
    const char *vals[] = { "secret.example" };
    kw_bundle *b = make_bundle(vals, KW_OBS_DOMAIN, 1);
    kw_publish_opts o = { .tlp = KW_TLP_RED };
    kw_bundle *list[1] = { b };
    assert_int_equal(kw_store_publish(f->s, f->id, &o, list, 1, &res), KW_ERR_INVAL);
    /* RED for B only. */
    o.recipients = (const uint8_t(*)[32])kw_identity_pk(b_id);
    o.n_recipients = 1;
    assert_int_equal(kw_store_publish(f->s, f->id, &o, list, 1, &res), KW_ERR_OK);
    assert_int_equal(query_value(f->s, "secret.example", false), 1);
    kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w);
    assert_int_equal(w.n, 1);
    assert_true(w.e[0].h.flags & KW_ENTRY_FLAG_SEALED);

    /* B (recipient) opens and indexes it; C (member, not recipient) keeps the header only. */
    assert_int_equal(kw_test_tmpdir(dir2, sizeof(dir2)), 0);
    assert_int_equal(kw_test_tmpdir(dir3, sizeof(dir3)), 0);
    kw_store_create(dir2, kw_identity_pk(b_id), "CERT-B");
    kw_store_create(dir3, kw_identity_pk(c_id), "CERT-C");
    kw_store_open(&s2, dir2, 0);
    kw_store_open(&s3, dir3, 0);
    snprintf(p.name, sizeof(p.name), "CERT-A");
    memcpy(p.id, kw_identity_pk(f->id), 32);
    kw_store_peer_add(s2, &p);
    kw_store_peer_add(s3, &p);
    kw_wire_entry we = wire_of(&w.e[0]);
    assert_int_equal(kw_store_ingest(s2, b_id, &we, 1, &r), KW_ERR_OK);
    assert_int_equal(r.status, KW_INGEST_STORED);
    assert_int_equal(r.indicators, 1);
    assert_int_equal(query_value(s2, "secret.example", false), 1);
    /* A sealed payload is stored as ciphertext: the records hold their own bytes. */
    int refs, inl;
    count_records(s2, &refs, &inl);
    assert_int_equal(refs, 0);
    assert_int_equal(inl, 1);
    count_records(f->s, &refs, &inl);
    assert_int_equal(refs, 0);
    assert_int_equal(inl, 1);
    assert_int_equal(kw_store_ingest(s3, c_id, &we, 1, &r), KW_ERR_OK);
    assert_int_equal(r.status, KW_INGEST_STORED);
    assert_int_equal(r.indicators, 0);
    assert_int_equal(query_value(s3, "secret.example", false), 0);
    kw_store_stats st;
    kw_store_stats_get(s3, &st);
    assert_int_equal(st.withheld, 1);
    /* C's store holds no byte of the RED payload. */
    wire_copy w3 = { 0 };
    kw_store_feed_range(s3, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w3);
    assert_int_equal(w3.n, 1);
    assert_null(w3.e[0].payload);
    kw_stored_entry_clear(&w3.e[0]);

    /* The outbox remembers the delivery owed to B. */
    int owed = 0;
    kw_store_outbox_list(f->s, kw_identity_pk(b_id), (kw_entry_cb)count_cb, &owed);
    assert_int_equal(owed, 1);
    kw_store_outbox_done(f->s, kw_identity_pk(b_id), kw_identity_pk(f->id), 1);
    owed = 0;
    kw_store_outbox_list(f->s, kw_identity_pk(b_id), (kw_entry_cb)count_cb, &owed);
    assert_int_equal(owed, 0);

    kw_stored_entry_clear(&w.e[0]);
    kw_bundle_free(b);

    /* Several AMBER bundles in one publish are sealed side by side, each for its own seq:
     * B opens every one of them. */
    const char *v1[] = { "one.amber.example", "two.amber.example" };
    const char *v2[] = { "three.amber.example" };
    const char *v3[] = { "four.amber.example", "five.amber.example" };
    kw_bundle *many[3] = { make_bundle(v1, KW_OBS_DOMAIN, 2), make_bundle(v2, KW_OBS_DOMAIN, 1),
        make_bundle(v3, KW_OBS_DOMAIN, 2) };
    kw_publish_opts amber = { .tlp = KW_TLP_AMBER };
    amber.recipients = (const uint8_t(*)[32])kw_identity_pk(b_id);
    amber.n_recipients = 1;
    memset(&res, 0, sizeof(res));
    assert_int_equal(kw_store_publish(f->s, f->id, &amber, many, 3, &res), KW_ERR_OK);
    assert_int_equal(res.entries, 3);
    assert_int_equal(res.indicators, 5);
    wire_copy wm = { 0 };
    kw_store_feed_range(f->s, kw_identity_pk(f->id), 2, 0, true, copy_cb, &wm);
    assert_int_equal(wm.n, 3);
    for (size_t i = 0; i < 3; i++) {
        kw_wire_entry wi = wire_of(&wm.e[i]);
        assert_int_equal(kw_store_ingest(s2, b_id, &wi, 1, &r), KW_ERR_OK);
        assert_int_equal(r.status, KW_INGEST_STORED);
        assert_int_equal(r.indicators, many[i]->n);
        kw_stored_entry_clear(&wm.e[i]);
    }
    assert_int_equal(query_value(s2, "five.amber.example", false), 1);
    for (size_t i = 0; i < 3; i++) {
        kw_bundle_free(many[i]);
    }
    kw_store_close(s2);
    kw_store_close(s3);
    kw_identity_free(b_id);
    kw_identity_free(c_id);
    kw_test_rmrf(dir2);
    kw_test_rmrf(dir3);
}

static void test_roster(void **state)
{
    fixture *f = *state;
    kw_identity *b = kw_test_identity(20);
    kw_peer p = { 0 }, q;
    kw_peer *list = NULL;
    size_t n = 0;

    snprintf(p.name, sizeof(p.name), "CERT-B");
    memcpy(p.id, kw_identity_pk(b), 32);
    snprintf(p.address, sizeof(p.address), "127.0.0.1:7401");
    assert_int_equal(kw_store_peer_add(f->s, &p), KW_ERR_OK);
    assert_int_equal(kw_store_peer_add(f->s, &p), KW_ERR_EXISTS);
    snprintf(p.name, sizeof(p.name), "bad name");
    assert_int_equal(kw_store_peer_add(f->s, &p), KW_ERR_INVAL);
    snprintf(p.name, sizeof(p.name), "SELF");
    memcpy(p.id, kw_identity_pk(f->id), 32);
    assert_int_equal(kw_store_peer_add(f->s, &p), KW_ERR_INVAL);
    assert_int_equal(kw_store_peer_find(f->s, "CERT-B", &q), KW_ERR_OK);
    assert_string_equal(q.address, "127.0.0.1:7401");
    assert_true(kw_store_is_member(f->s, kw_identity_pk(b)));
    assert_int_equal(kw_store_peer_list(f->s, &list, &n), KW_ERR_OK);
    assert_int_equal(n, 1);
    free(list);
    assert_int_equal(kw_store_peer_remove(f->s, "CERT-B"), KW_ERR_OK);
    assert_int_equal(kw_store_peer_remove(f->s, "CERT-B"), KW_ERR_NOTFOUND);
    assert_false(kw_store_is_member(f->s, kw_identity_pk(b)));
    kw_identity_free(b);
}

static void test_reopen_and_create_twice(void **state)
{
    fixture *f = *state;
    kw_store *again = NULL;
    assert_int_equal(kw_store_create(f->dir, kw_identity_pk(f->id), "X"), KW_ERR_EXISTS);
    assert_int_equal(kw_store_open(&again, f->dir, KW_STORE_RDONLY), KW_ERR_OK);
    char name[64];
    assert_int_equal(kw_store_name(again, name, sizeof(name)), KW_ERR_OK);
    assert_string_equal(name, "CERT-A");
    kw_store_close(again);
    char empty[256];
    kw_test_tmpdir(empty, sizeof(empty));
    assert_int_equal(kw_store_open(&again, empty, 0), KW_ERR_NOINIT);
    kw_test_rmrf(empty);
}


/* LMDB's default order, written the plain way, to check the radix sort against. */
static int plain_key_cmp(const void *a, const void *b)
{
    const kw__skey *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static void test_key_sort(void **state)
{
    (void)state;
    enum { N = 6000 };
    static uint8_t pool[N][64];
    kw__skey *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
    uint32_t seed = 12345;

    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < N; i++) {
        size_t len;
        seed = seed * 1103515245u + 12345u;
        switch (i % 5) {
        case 0: /* one shared prefix, then a few varying bytes */
            len = (size_t)snprintf((char *)pool[i], 64, "\x05https://www.%u.example/",
                seed % 997u);
            break;
        case 1: /* prefixes of one another: "a", "aa", ... and empty */
            len = (seed >> 8) % 40u;
            memset(pool[i], 'a', len);
            break;
        case 2: /* bytes above 0x7f, which must sort as unsigned */
            len = 1 + (seed >> 4) % 8u;
            for (size_t j = 0; j < len; j++) {
                pool[i][j] = (uint8_t)(0xf0u + ((seed >> j) & 0x0fu));
            }
            break;
        default: /* random bytes, random lengths, zeros included */
            len = (seed >> 3) % 64u;
            for (size_t j = 0; j < len; j++) {
                seed = seed * 1103515245u + 12345u;
                pool[i][j] = (uint8_t)(seed >> 16) & ((seed & 1u) ? 0xffu : 0x01u);
            }
            break;
        }
        a[i] = b[i] = (kw__skey) { pool[i], (uint32_t)len, (uint32_t)i };
    }
    /* Sizes around the insertion-sort cutoff (24) and up to every key. */
    static const size_t sizes[] = { 0, 1, 2, 3, 23, 24, 25, 100, 1000, 2187, N };
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t n = sizes[si];
        memcpy(b, a, n * sizeof(*a));
        assert_int_equal(kw__sort_keys(b, n), KW_ERR_OK);
        for (size_t i = 1; i < n; i++) {
            assert_true(plain_key_cmp(&b[i - 1], &b[i]) <= 0);
        }
        /* A permutation: every key is there once. */
        uint8_t *seen = calloc(N, 1);
        for (size_t i = 0; i < n; i++) {
            assert_true(b[i].tag < n);
            assert_int_equal(seen[b[i].tag]++, 0);
        }
        free(seen);
    }
    free(a);
    free(b);
}

/* A bundle of n domains "<prefix>-<i>.example", ids minted in order or at random. */
static kw_bundle *domains(const char *prefix, size_t from, size_t n, bool ordered)
{
    kw_bundle *b = NULL;
    int64_t now = kw_time_now_ms();
    assert_int_equal(kw_bundle_new(&b), KW_ERR_OK);
    for (size_t i = from; i < from + n; i++) {
        kw_indicator *d = NULL;
        char v[64];
        int len = snprintf(v, sizeof(v), "%s-%zu.example", prefix, (i * 7919u) % 100003u);
        assert_int_equal(kw_bundle_add(b, &d), KW_ERR_OK);
        if (ordered) {
            kw_uuid_new(d->id, now);
        } else {
            kw_uuid_random(d->id);
        }
        d->type = KW_OBS_DOMAIN;
        d->value = kw_bundle_strdup(b, v, (size_t)len);
        d->value_len = (uint32_t)len;
        d->created = d->modified = d->valid_from = now;
    }
    return b;
}

typedef struct value_check {
    const char *want;
    int found;
} value_check;

static int value_check_cb(void *ctx, const kw_result *r)
{
    value_check *c = ctx;
    assert_int_equal(r->ind->value_len, strlen(c->want));
    assert_memory_equal(r->ind->value, c->want, r->ind->value_len);
    c->found++;
    return 0;
}

/* Every value of the prefix is found once, as itself (the index points at the right id). */
static void expect_values(kw_store *s, const char *prefix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char v[64];
        snprintf(v, sizeof(v), "%s-%zu.example", prefix, (i * 7919u) % 100003u);
        value_check c = { v, 0 };
        kw_query q = { .value = v, .tlp = -1 };
        assert_int_equal(kw_store_query(s, &q, value_check_cb, &c, NULL), KW_ERR_OK);
        assert_int_equal(c.found, 1);
    }
}

/* A new store of member who (in dir, 256 bytes) that has received all n entries of f's feed. */
static kw_store *replica_of(fixture *f, char *dir, const kw_identity *who, const char *name,
    size_t n)
{
    kw_store *s = node_store(dir, who, name);
    wire_copy w = { 0 };
    roster_add(s, "CERT-A", f->id);
    assert_int_equal(
        kw_store_feed_range(f->s, kw_identity_pk(f->id), 1, 0, true, copy_cb, &w), KW_ERR_OK);
    assert_int_equal(w.n, n);
    for (size_t i = 0; i < w.n; i++) {
        kw_wire_entry we = wire_of(&w.e[i]);
        kw_ingest_result ir;
        assert_int_equal(kw_store_ingest(s, who, &we, 1, &ir), KW_ERR_OK);
        assert_int_equal(ir.status, KW_INGEST_STORED);
        kw_stored_entry_clear(&w.e[i]);
    }
    return s;
}

/* Fills the caller's array of the pipe and hands it over. */
static void pipe_put(kw_publish_pipe *p, kw_bundle **arr, kw_bundle *const *src, size_t n,
    kw_publish_result *total)
{
    kw_publish_result done;
    for (size_t i = 0; i < n; i++) {
        kw_bundle_free(arr[i]);
        arr[i] = src[i];
    }
    assert_int_equal(kw_publish_pipe_put(p, arr, n, &done), KW_ERR_OK);
    /* The array now holds the pipe's empty bundles, none of those handed over. */
    for (size_t i = 0; i < n; i++) {
        assert_non_null(arr[i]);
        assert_int_equal(arr[i]->n, 0);
        for (size_t j = 0; j < n; j++) {
            assert_ptr_not_equal(arr[i], src[j]);
        }
    }
    kw_publish_result_add(total, &done);
}

/* Waits for what the pipe holds, adds its results, and frees it. */
static void pipe_close(kw_publish_pipe *p, kw_publish_result *total)
{
    kw_publish_result done;
    assert_int_equal(kw_publish_pipe_finish(p, &done), KW_ERR_OK);
    kw_publish_result_add(total, &done);
    kw_publish_pipe_free(p);
}

/* kw_publish_pipe stores what kw_store_publish would, in every path of a batch. */
static void test_publish_pipe(void **state)
{
    fixture *f = *state;
    kw_publish_opts green = { .tlp = KW_TLP_GREEN };
    kw_publish_pipe *p = NULL;
    kw_publish_result total = { 0 }, done;
    kw_bundle *arr[2] = { NULL, NULL };

    assert_int_equal(kw_bundle_new(&arr[0]), KW_ERR_OK);
    assert_int_equal(kw_bundle_new(&arr[1]), KW_ERR_OK);
    assert_int_equal(kw_publish_pipe_new(&p, f->s, f->id, &green, 2), KW_ERR_OK);

    /* New values, ids in order: encoded and sorted before the transaction. */
    kw_bundle *b1[2] = { domains("a", 0, 700, true), domains("a", 700, 600, true) };
    pipe_put(p, arr, b1, 2, &total);
    /* Ids at random: indexed in id order, value index sorted again. */
    kw_bundle *b2[2] = { domains("r", 0, 500, false), domains("r", 500, 500, false) };
    pipe_put(p, arr, b2, 2, &total);
    /* Values already published, and a value twice: dropped, the rest encoded anew. */
    kw_bundle *b3[2] = { domains("a", 650, 100, true), domains("n", 0, 300, true) };
    pipe_put(p, arr, b3, 2, &total);
    kw_bundle *dup = domains("n", 0, 2, true);
    kw_bundle *b4[1] = { dup };
    pipe_put(p, arr, b4, 1, &total);
    pipe_close(p, &total);

    assert_int_equal(total.entries, 5);
    assert_int_equal(total.first_seq, 1);
    assert_int_equal(total.last_seq, 5);
    assert_int_equal(total.indicators, 1300 + 1000 + 300);
    assert_int_equal(total.duplicates, 100 + 2);
    expect_values(f->s, "a", 1300);
    expect_values(f->s, "r", 1000);
    expect_values(f->s, "n", 300);
    expect_sound(f, 2600, 5);

    /* Sealed levels are sealed ahead too, for the seqs that should come. */
    kw_identity *b_id = kw_test_identity(11);
    roster_add(f->s, "CERT-B", b_id);
    kw_publish_opts amber = { .tlp = KW_TLP_AMBER };
    assert_int_equal(kw_publish_pipe_new(&p, f->s, f->id, &amber, 2), KW_ERR_OK);
    memset(&total, 0, sizeof(total));
    kw_bundle *b5[2] = { domains("s", 0, 400, true), domains("s", 400, 400, true) };
    pipe_put(p, arr, b5, 2, &total);
    /* A bundle dropped whole as duplicates: the next entry gets the seq it would have had,
     * so what was sealed ahead for it is sealed again. */
    kw_bundle *b6[2] = { domains("s", 0, 10, true), domains("t", 0, 300, true) };
    pipe_put(p, arr, b6, 2, &total);
    kw_bundle *b7[1] = { domains("u", 0, 200, true) };
    pipe_put(p, arr, b7, 1, &total);
    pipe_close(p, &total);
    assert_int_equal(total.indicators, 1300);
    assert_int_equal(total.duplicates, 10);
    assert_int_equal(total.first_seq, 6);
    assert_int_equal(total.last_seq, 9);
    expect_values(f->s, "s", 800);
    expect_values(f->s, "t", 300);
    expect_values(f->s, "u", 200);
    expect_sound(f, 2600 + 1300, 9);
    /* B, a recipient, opens every sealed entry: each was sealed for its own seq. */
    char dir2[256];
    kw_store *s2 = replica_of(f, dir2, b_id, "CERT-B", 9);
    expect_values(s2, "s", 800);
    expect_values(s2, "t", 300);
    expect_values(s2, "u", 200);
    kw_store_close(s2);
    kw_test_rmrf(dir2);

    /* A member added after the pipe read the roster: the publish seals for the roster it
     * reads, so what was sealed ahead for the old one is sealed again. */
    kw_identity *c_id = kw_test_identity(12);
    assert_int_equal(kw_publish_pipe_new(&p, f->s, f->id, &amber, 2), KW_ERR_OK);
    roster_add(f->s, "CERT-C", c_id);
    kw_bundle *b9[1] = { domains("v", 0, 100, true) };
    memset(&total, 0, sizeof(total));
    pipe_put(p, arr, b9, 1, &total);
    pipe_close(p, &total);
    assert_int_equal(total.last_seq, 10);
    kw_store *s3 = replica_of(f, dir2, c_id, "CERT-C", 10);
    expect_values(s3, "v", 100);
    assert_int_equal(query_value(s3, "u-0.example", true), 0); /* not sealed for C */
    kw_store_close(s3);
    kw_test_rmrf(dir2);
    kw_identity_free(c_id);
    kw_identity_free(b_id);

    /* A batch that fails (another node's identity) stops the pipe: it and every later
     * batch are refused, and nothing of them is stored. */
    kw_identity *other = kw_test_identity(8);
    assert_int_equal(kw_publish_pipe_new(&p, f->s, other, &green, 2), KW_ERR_OK);
    kw_bundle *b8[1] = { domains("x", 0, 10, true) };
    kw_bundle_free(arr[0]);
    arr[0] = b8[0];
    kw_err first = kw_publish_pipe_put(p, arr, 1, &done);
    kw_err later = kw_publish_pipe_finish(p, &done);
    /* With a writer thread the error comes with the next call; without, at once. */
    assert_true(first == KW_ERR_INVAL || (first == KW_ERR_OK && later == KW_ERR_INVAL));
    assert_int_equal(later, KW_ERR_INVAL);
    assert_int_equal(kw_publish_pipe_put(p, arr, 1, &done), KW_ERR_INVAL);
    assert_int_equal(done.entries, 0);
    kw_publish_pipe_free(p);
    kw_identity_free(other);
    assert_int_equal(query_value(f->s, "x-0.example", true), 0);
    expect_sound(f, 2600 + 1300 + 100, 10);

    kw_bundle_free(arr[0]);
    kw_bundle_free(arr[1]);
}

/* A batch too big to seal before its duplicates are dropped, and fine after: the sealing
 * ahead fails, and the publish, which needs no seal, succeeds. */
static void test_pipe_seal_ahead_fails(void **state)
{
    fixture *f = *state;
    kw_identity *b_id = kw_test_identity(11);
    kw_publish_opts amber = { .tlp = KW_TLP_AMBER };
    kw_publish_result total = { 0 }, res = { 0 };
    kw_publish_pipe *p = NULL;
    kw_bundle *arr[1] = { NULL };
    size_t dlen = 20000;
    char *desc = malloc(dlen + 1);

    roster_add(f->s, "CERT-B", b_id);
    kw_bundle *first = domains("big", 0, 1000, true);
    kw_bundle *list[1] = { first };
    assert_int_equal(kw_store_publish(f->s, f->id, &amber, list, 1, &res), KW_ERR_OK);
    assert_int_equal(res.indicators, 1000);
    kw_bundle_free(first);

    memset(desc, 'd', dlen);
    desc[dlen] = '\0';
    kw_bundle *again = domains("big", 0, 1000, true);
    for (uint32_t i = 0; i < again->n; i++) {
        again->items[i].description = desc; /* 20 MB in all: more than a seal takes */
    }
    assert_int_equal(kw_bundle_new(&arr[0]), KW_ERR_OK);
    assert_int_equal(kw_publish_pipe_new(&p, f->s, f->id, &amber, 1), KW_ERR_OK);
    kw_bundle *b1[1] = { again };
    pipe_put(p, arr, b1, 1, &total);
    pipe_close(p, &total);
    assert_int_equal(total.duplicates, 1000);
    assert_int_equal(total.entries, 0);
    expect_sound(f, 1000, 1);
    kw_bundle_free(arr[0]);
    kw_identity_free(b_id);
    free(desc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_in_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects_refer_to_payloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refs_across_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_create_twice, setup, teardown),
        cmocka_unit_test(test_key_sort),
        cmocka_unit_test_setup_teardown(test_publish_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_seal_ahead_fails, setup, teardown),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
