/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "bundle/bundle.h"
#include "bundle/mpcheck.h"
#include "bundle/timefmt.h"
#include "bundle/tlp.h"

static kw_indicator *add(kw_bundle *b, kw_obs_type t, const char *v)
{
    kw_indicator *d = NULL;
    assert_int_equal(kw_bundle_add(b, &d), KW_ERR_OK);
    kw_uuid_random(d->id);
    d->type = t;
    d->value = kw_bundle_strdup(b, v, strlen(v));
    d->value_len = (uint32_t)strlen(v);
    d->created = d->modified = d->valid_from = 1764300000123;
    return d;
}

static void test_roundtrip(void **state)
{
    (void)state;
    kw_bundle *b = NULL, *c = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(kw_bundle_new(&b), KW_ERR_OK);
    kw_indicator *d = add(b, KW_OBS_IPV4, "192.0.2.1");
    d->confidence = 80;
    d->valid_until = 1764300999000;
    d->revoked = true;
    d->description = kw_bundle_strdup(b, "c2 server", 9);
    d->labels = kw_bundle_alloc(b, 2 * sizeof(char *));
    d->labels[0] = kw_bundle_strdup(b, "apt", 3);
    d->labels[1] = kw_bundle_strdup(b, "c2", 2);
    d->n_labels = 2;
    d->kill_chain_phases = kw_bundle_alloc(b, sizeof(kw_kill_chain_phase));
    d->kill_chain_phases[0].kill_chain_name = "lockheed-martin-cyber-kill-chain";
    d->kill_chain_phases[0].phase_name = "command-and-control";
    d->n_kill_chain_phases = 1;
    add(b, KW_OBS_DOMAIN, "example.com");
    b->description = "test bundle";
    assert_int_equal(kw_bundle_encode(b, &buf, &len), KW_ERR_OK);
    assert_int_equal(kw_bundle_decode(&c, buf, len), KW_ERR_OK);
    assert_int_equal(c->n, 2);
    assert_string_equal(c->description, "test bundle");
    const kw_indicator *e = &c->items[0];
    assert_memory_equal(e->id, d->id, 16);
    assert_int_equal(e->type, KW_OBS_IPV4);
    assert_string_equal(e->value, "192.0.2.1");
    assert_int_equal(e->confidence, 80);
    assert_true(e->revoked);
    assert_int_equal(e->valid_until, 1764300999000);
    assert_int_equal(e->n_labels, 2);
    assert_string_equal(e->labels[1], "c2");
    assert_string_equal(e->description, "c2 server");
    assert_int_equal(e->n_kill_chain_phases, 1);
    assert_string_equal(e->kill_chain_phases[0].phase_name, "command-and-control");
    assert_int_equal(c->items[1].confidence, -1);
    assert_false(c->items[1].revoked);
    free(buf);
    kw_bundle_free(b);
    kw_bundle_free(c);
}

/* Decoding records where each indicator's bytes lie in the payload, whatever form the
 * payload's "i" key takes; the spans are exactly what kw_bundle_encode_at reports. */
static void test_item_spans(void **state)
{
    (void)state;
    kw_bundle *b = NULL, *c = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, off[4];

    assert_int_equal(kw_bundle_new(&b), KW_ERR_OK);
    kw_indicator *d = add(b, KW_OBS_IPV4, "192.0.2.9");
    d->labels = kw_bundle_alloc(b, sizeof(char *));
    d->labels[0] = kw_bundle_strdup(b, "c2", 2);
    d->n_labels = 1;
    add(b, KW_OBS_DOMAIN, "spans.example");
    add(b, KW_OBS_URL, "http://spans.example/x");
    b->description = "d";
    assert_int_equal(kw_bundle_encode_at(b, &buf, &len, off), KW_ERR_OK);
    assert_int_equal(off[3], len);
    assert_int_equal(kw_bundle_decode(&c, buf, len), KW_ERR_OK);
    for (uint32_t i = 0; i < 3; i++) {
        kw_bundle *one = NULL;
        kw_indicator *e = NULL;
        assert_int_equal(c->items[i].enc_off, off[i]);
        assert_int_equal(c->items[i].enc_len, off[i + 1] - off[i]);
        assert_int_equal(kw_bundle_new(&one), KW_ERR_OK);
        assert_int_equal(
            kw_indicator_decode(one, buf + c->items[i].enc_off, c->items[i].enc_len, &e),
            KW_ERR_OK);
        assert_memory_equal(e->id, b->items[i].id, 16);
        assert_string_equal(e->value, b->items[i].value);
        kw_bundle_free(one);
    }
    kw_bundle_free(c);

    /* The same payload with the key "i" written as str8: every span moves by one byte. */
    size_t at = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == 0xa1 && buf[i + 1] == 'i' && (i + 2 < len) && (buf[i + 2] & 0xf0) == 0x90) {
            at = i;
            break;
        }
    }
    assert_true(at > 0);
    uint8_t *wide = malloc(len + 1);
    memcpy(wide, buf, at);
    wide[at] = 0xd9;
    wide[at + 1] = 1;
    memcpy(wide + at + 2, buf + at + 1, len - at - 1);
    assert_int_equal(kw_bundle_decode(&c, wide, len + 1), KW_ERR_OK);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(c->items[i].enc_off, off[i] + 1);
        assert_memory_equal(wide + c->items[i].enc_off, buf + off[i], off[i + 1] - off[i]);
    }
    kw_bundle_free(c);
    free(wide);
    free(buf);

    /* An element with a field kawan does not know decodes, but gets no span: the store
     * keeps its own encoding of it rather than bytes a publisher could pad at will. */
    kw_bundle *one = NULL;
    kw_buf it1 = { 0 }, it2 = { 0 };
    assert_int_equal(kw_bundle_new(&one), KW_ERR_OK);
    kw_indicator *p1 = add(one, KW_OBS_DOMAIN, "plain.example");
    kw_indicator *p2 = add(one, KW_OBS_DOMAIN, "padded.example");
    assert_int_equal(kw_indicator_encode(p1, &it1), KW_ERR_OK);
    assert_int_equal(kw_indicator_encode(p2, &it2), KW_ERR_OK);
    assert_int_equal(it2.p[0] & 0xf0, 0x80); /* a fixmap: one more field fits */
    it2.p[0]++;
    static const uint8_t extra[] = { 0xa2, 'z', 'z', 0xc0 }; /* "zz": nil */
    uint8_t pl[512];
    size_t n = 0;
    static const uint8_t head[] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 'i', 0x92 };
    memcpy(pl + n, head, sizeof(head));
    n += sizeof(head);
    memcpy(pl + n, it1.p, it1.len);
    n += it1.len;
    memcpy(pl + n, it2.p, it2.len);
    n += it2.len;
    memcpy(pl + n, extra, sizeof(extra));
    n += sizeof(extra);
    assert_int_equal(kw_bundle_decode(&c, pl, n), KW_ERR_OK);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->items[0].enc_off, sizeof(head));
    assert_int_equal(c->items[0].enc_len, it1.len);
    assert_string_equal(c->items[1].value, "padded.example");
    assert_int_equal(c->items[1].enc_len, 0);
    kw_bundle_free(c);
    kw_buf_free(&it1);
    kw_buf_free(&it2);
    kw_bundle_free(one);
    kw_bundle_free(b);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    kw_bundle *b = NULL, *c = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    /* A value that is not in normalised form is refused. */
    assert_int_equal(kw_bundle_new(&b), KW_ERR_OK);
    add(b, KW_OBS_DOMAIN, "Example.COM");
    assert_int_equal(kw_bundle_encode(b, &buf, &len), KW_ERR_OK);
    assert_int_equal(kw_bundle_decode(&c, buf, len), KW_ERR_DECODE);
    assert_null(c);
    free(buf);
    kw_bundle_reset(b);

    /* Every truncation of a valid payload is refused. */
    add(b, KW_OBS_SHA256, "0000002a10959ec38b808d8252eed2e814294fbb25d2cd016b24bf853a44857e");
    assert_int_equal(kw_bundle_encode(b, &buf, &len), KW_ERR_OK);
    for (size_t i = 0; i < len; i++) {
        assert_int_not_equal(kw_bundle_decode(&c, buf, i), KW_ERR_OK);
    }
    /* Trailing bytes are refused too. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0xc0;
    assert_int_equal(kw_bundle_decode(&c, longer, len + 1), KW_ERR_DECODE);
    free(longer);
    free(buf);
    kw_bundle_free(b);
}

static void test_mpcheck(void **state)
{
    (void)state;
    /* An array header announcing 2^32-1 elements in five bytes. */
    const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    assert_int_equal(kw_msgpack_check(huge, sizeof(huge), 8), KW_ERR_DECODE);
    /* Nesting deeper than allowed. */
    uint8_t deep[40];
    memset(deep, 0x91, sizeof(deep));
    deep[39] = 0xc0;
    assert_int_equal(kw_msgpack_check(deep, sizeof(deep), 8), KW_ERR_DECODE);
    assert_int_equal(kw_msgpack_check(deep + 34, 6, 8), KW_ERR_OK);
    /* The reserved byte 0xc1. */
    const uint8_t bad[] = { 0xc1 };
    assert_int_equal(kw_msgpack_check(bad, 1, 8), KW_ERR_DECODE);
    /* A string that promises more than is there. */
    const uint8_t str[] = { 0xd9, 0x10, 'a' };
    assert_int_equal(kw_msgpack_check(str, sizeof(str), 8), KW_ERR_DECODE);
    const uint8_t map[] = { 0x81, 0xa1, 'k', 0x2a };
    assert_int_equal(kw_msgpack_check(map, sizeof(map), 8), KW_ERR_OK);
    assert_int_equal(kw_msgpack_check(map, sizeof(map) - 1, 8), KW_ERR_DECODE);
}

static void test_time(void **state)
{
    (void)state;
    char buf[32];
    int64_t ms;

    kw_time_format(buf, sizeof(buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    assert_int_equal(kw_time_parse("2026-11-28T07:20:00.123Z", &ms), KW_ERR_OK);
    kw_time_format(buf, sizeof(buf), ms);
    assert_string_equal(buf, "2026-11-28T07:20:00.123Z");
    assert_int_equal(kw_time_parse("2026-11-28T08:20:00+01:00", &ms), KW_ERR_OK);
    kw_time_format(buf, sizeof(buf), ms);
    assert_string_equal(buf, "2026-11-28T07:20:00.000Z");
    assert_int_equal(kw_time_parse("2024-02-29", &ms), KW_ERR_OK);
    assert_int_equal(kw_time_parse("2023-02-29", &ms), KW_ERR_INVAL);
    assert_int_equal(kw_time_parse("2026-13-01", &ms), KW_ERR_INVAL);
    assert_int_equal(kw_time_parse("2026-11-28T25:00:00Z", &ms), KW_ERR_INVAL);
    assert_int_equal(kw_time_parse("2026-11-28T07:20:00", &ms), KW_ERR_INVAL);
    assert_int_equal(kw_time_parse("yesterday", &ms), KW_ERR_INVAL);
    assert_int_equal(kw_time_parse_cli("7d", 1000000000000, &ms), KW_ERR_OK);
    assert_int_equal(ms, 1000000000000 - 7 * 86400000LL);
    assert_int_equal(kw_time_parse_cli("+30m", 0, &ms), KW_ERR_OK);
    assert_int_equal(ms, 30 * 60000);
    assert_int_equal(kw_time_parse_cli("7x", 0, &ms), KW_ERR_INVAL);
}

static void test_ids(void **state)
{
    (void)state;
    uint8_t u[16], v[16];
    char buf[64];

    kw_uuid_random(u);
    assert_int_equal(u[6] >> 4, 4);
    assert_int_equal(u[8] & 0xc0, 0x80);
    kw_indicator_id_format(buf, u);
    assert_int_equal(strlen(buf), 47);
    assert_int_equal(kw_indicator_id_parse(buf, v), KW_ERR_OK);
    assert_memory_equal(u, v, 16);
    assert_int_equal(kw_indicator_id_parse(buf + 11, v), KW_ERR_OK);
    assert_int_equal(kw_indicator_id_parse("indicator--xyz", v), KW_ERR_INVAL);
    buf[20] = 'g';
    assert_int_equal(kw_indicator_id_parse(buf, v), KW_ERR_INVAL);
}

static void test_tlp(void **state)
{
    (void)state;
    kw_tlp t;
    assert_int_equal(kw_tlp_parse("TLP:AMBER+STRICT", &t), KW_ERR_OK);
    assert_int_equal(t, KW_TLP_AMBER_STRICT);
    assert_int_equal(kw_tlp_parse("white", &t), KW_ERR_OK);
    assert_int_equal(t, KW_TLP_CLEAR);
    assert_int_equal(kw_tlp_parse("tlp:red", &t), KW_ERR_OK);
    assert_int_equal(t, KW_TLP_RED);
    assert_int_equal(kw_tlp_parse("purple", &t), KW_ERR_INVAL);
    assert_true(kw_tlp_may_send_payload(KW_TLP_CLEAR, KW_PARTY_STRANGER, false));
    assert_false(kw_tlp_may_send_payload(KW_TLP_GREEN, KW_PARTY_STRANGER, false));
    assert_true(kw_tlp_may_send_payload(KW_TLP_AMBER, KW_PARTY_MEMBER, false));
    assert_false(kw_tlp_may_send_payload(KW_TLP_RED, KW_PARTY_MEMBER, true));
    assert_false(kw_tlp_may_send_payload(KW_TLP_RED, KW_PARTY_RECIPIENT, false));
    assert_true(kw_tlp_may_send_payload(KW_TLP_RED, KW_PARTY_RECIPIENT, true));
    assert_false(kw_tlp_may_export_plain(KW_TLP_AMBER_STRICT, true));
    assert_true(kw_tlp_may_export_plain(KW_TLP_AMBER, true));
    assert_false(kw_tlp_may_export_plain(KW_TLP_AMBER, false));
}

/* kw_indicator_size_bound never falls below the encoding, whatever fields are set. */
static void test_size_bound(void **state)
{
    (void)state;
    kw_bundle *b = NULL;
    static char text[KW_BUNDLE_MAX_TEXT + 1];
    kw_buf out = { 0 };

    memset(text, 'x', KW_BUNDLE_MAX_TEXT);
    assert_int_equal(kw_bundle_new(&b), KW_ERR_OK);
    for (unsigned k = 0; k < 64; k++) {
        kw_indicator *d = add(b, KW_OBS_URL, "http://bound.example/a");
        size_t tl = (size_t)(k * 1031u) % (KW_BUNDLE_MAX_TEXT + 1);
        d->created = d->modified = d->valid_from = (k & 1) ? INT64_MAX : INT64_MIN + 1;
        d->valid_until = (k & 2) ? INT64_MAX : 0;
        d->confidence = (k & 4) ? 100 : -1;
        d->revoked = (k & 8) != 0;
        d->name = (k & 16) ? kw_bundle_strdup(b, text, tl) : NULL;
        d->description = (k & 32) ? kw_bundle_strdup(b, text, KW_BUNDLE_MAX_TEXT - tl) : NULL;
        uint32_t nl = k % (KW_BUNDLE_MAX_LIST + 1);
        d->labels = kw_bundle_alloc(b, (nl + 1) * sizeof(char *));
        d->indicator_types = kw_bundle_alloc(b, (nl + 1) * sizeof(char *));
        d->kill_chain_phases = kw_bundle_alloc(b, (nl + 1) * sizeof(kw_kill_chain_phase));
        for (uint32_t i = 0; i < nl; i++) {
            d->labels[i] = kw_bundle_strdup(b, text, i * 7u % 300u);
            d->indicator_types[i] = kw_bundle_strdup(b, text, i % 40u);
            d->kill_chain_phases[i].kill_chain_name = kw_bundle_strdup(b, text, i % 3u);
            d->kill_chain_phases[i].phase_name = kw_bundle_strdup(b, text, 1 + i % 50u);
        }
        d->n_labels = d->n_indicator_types = d->n_kill_chain_phases = nl;
        out.len = 0;
        assert_int_equal(kw_indicator_encode(d, &out), KW_ERR_OK);
        assert_true(kw_indicator_size_bound(d) >= out.len);
        /* ... and is not wildly above it. */
        assert_true(kw_indicator_size_bound(d) <= out.len + 128 + 15 * (3 * nl + 6));
    }
    kw_buf_free(&out);
    kw_bundle_free(b);
}

/* kw_grow: the array as it is while there is room, twice as large when full, NULL (and the
 * array untouched) when the size cannot be had. */
static void test_grow(void **state)
{
    (void)state;
    size_t cap = 0, n = 0;
    int *a = NULL;

    for (int i = 0; i < 100; i++) {
        int *g = kw_grow(a, &cap, n, sizeof(*a), 4);
        assert_non_null(g);
        a = g;
        assert_true(cap > n);
        a[n++] = i;
    }
    assert_int_equal(cap, 128);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(a[i], i);
    }
    assert_ptr_equal(kw_grow(a, &cap, 99, sizeof(*a), 4), a); /* room left: as it is */
    size_t before = cap;
    assert_null(kw_grow(a, &cap, cap, SIZE_MAX / 64, 4));
    assert_int_equal(cap, before);
    assert_int_equal(a[99], 99);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_mpcheck),
        cmocka_unit_test(test_item_spans),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_tlp),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_grow),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
