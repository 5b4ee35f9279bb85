/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for crypto/seal: multi-recipient sealing of AMBER, AMBER+STRICT and RED payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/seal.h"

/* A node as the tests need it: its id and its X25519 key pair, the secret in sodium memory. */
typedef struct node {
    uint8_t ed_pk[32];
    uint8_t x_pk[32];
    uint8_t *x_sk; /* sodium_malloc'd, 32 bytes */
} node;

static void node_init(node *nd)
{
    uint8_t *ed_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    uint8_t check[32];

    assert_non_null(ed_sk);
    assert_non_null(nd->x_sk = sodium_malloc(32));
    assert_int_equal(crypto_sign_keypair(nd->ed_pk, ed_sk), 0);
    /* The secret is derived by the caller, as kawan does with its identity key. */
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(nd->x_sk, ed_sk), 0);
    assert_int_equal(kw_seal_recipient_key(nd->x_pk, nd->ed_pk), KW_ERR_OK);
    assert_int_equal(crypto_scalarmult_base(check, nd->x_sk), 0);
    assert_memory_equal(check, nd->x_pk, 32);
    sodium_free(ed_sk);
}

static void node_fini(node *nd)
{
    sodium_free(nd->x_sk);
    nd->x_sk = NULL;
}

static node *nodes_new(size_t n)
{
    node *nodes = calloc(n, sizeof(*nodes));
    assert_non_null(nodes);
    for (size_t i = 0; i < n; i++) {
        node_init(&nodes[i]);
    }
    return nodes;
}

static void nodes_free(node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        node_fini(&nodes[i]);
    }
    free(nodes);
}

static uint8_t (*ids_of(const node *nodes, size_t n))[32]
{
    uint8_t(*ids)[32] = malloc(n * 32);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        memcpy(ids[i], nodes[i].ed_pk, 32);
    }
    return ids;
}

static void make_ad(
    uint8_t ad[static KW_SEAL_AD_LEN], const uint8_t origin[static 32], uint64_t seq, unsigned tlp)
{
    assert_int_equal(kw_seal_ad(ad, origin, seq, tlp), KW_ERR_OK);
}

/* Opens and checks that it worked and returned exactly msg. */
static void expect_open_ok(const uint8_t *sealed, size_t len, const uint8_t *ad, size_t ad_len,
    const node *me, const uint8_t *msg, size_t msg_len)
{
    uint8_t *plain = NULL;
    size_t plain_len = 12345;

    assert_int_equal(
        kw_seal_open(sealed, len, ad, ad_len, me->x_pk, me->x_sk, &plain, &plain_len), KW_ERR_OK);
    assert_non_null(plain);
    assert_int_equal(plain_len, msg_len);
    if (msg_len > 0) {
        assert_memory_equal(plain, msg, msg_len);
    }
    sodium_free(plain);
}

/* Opens a copy of exactly len bytes (so ASan sees any overread) and returns the error. */
static kw_err open_copy(
    const uint8_t *sealed, size_t len, const uint8_t *ad, size_t ad_len, const node *me)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    uint8_t *plain = (uint8_t *)"sentinel";
    size_t plain_len = 99;
    kw_err rc;

    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, sealed, len);
    }
    rc = kw_seal_open(copy, len, ad, ad_len, me->x_pk, me->x_sk, &plain, &plain_len);
    if (rc != KW_ERR_OK) {
        assert_null(plain);
        assert_int_equal(plain_len, 0);
    } else {
        sodium_free(plain);
    }
    free(copy);
    return rc;
}

static void hint_of(uint8_t hint[static 8], const uint8_t *sealed, const uint8_t x_pk[static 32])
{
    uint8_t in[KW_SEAL_NONCE_LEN + 32];
    uint8_t h[32];

    /* Written from the format description in seal.h, not from seal.c. */
    memcpy(in, sealed + 1, KW_SEAL_NONCE_LEN);
    memcpy(in + KW_SEAL_NONCE_LEN, x_pk, 32);
    crypto_generichash(h, 32, in, sizeof(in), NULL, 0);
    memcpy(hint, h, 8);
}

/* Index of the slot carrying x_pk's hint, or -1. */
static long slot_of(const uint8_t *sealed, size_t nslots, const uint8_t x_pk[static 32])
{
    uint8_t hint[8];

    hint_of(hint, sealed, x_pk);
    for (size_t i = 0; i < nslots; i++) {
        if (memcmp(sealed + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN, hint, 8) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static int contains(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static const uint8_t origin_a[32] = { 0xa1, 0xa2, 0xa3 };

static void test_ad_layout(void **state)
{
    uint8_t origin[32];
    uint8_t ad[KW_SEAL_AD_LEN];
    static const uint8_t seq_be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

    (void)state;
    for (int i = 0; i < 32; i++) {
        origin[i] = (uint8_t)(0x40 + i);
    }
    assert_int_equal(kw_seal_ad(ad, origin, 0x0102030405060708ull, 4), KW_ERR_OK);
    assert_memory_equal(ad, "kawan/seal/1", 12);
    assert_memory_equal(ad + 12, origin, 32);
    assert_memory_equal(ad + 44, seq_be, 8);
    assert_int_equal(ad[52], 4);
    assert_int_equal(kw_seal_ad(ad, origin, 1, 256), KW_ERR_INVAL);
    assert_int_equal(ad[0], 0);
}

static void test_roundtrip_one(void **state)
{
    static const uint8_t msg[] = "indicator--0b3f: ipv4 198.51.100.7, confidence 80";
    node a;
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *sealed = NULL;
    size_t len = 0;
    size_t n = 0;

    (void)state;
    node_init(&a);
    make_ad(ad, origin_a, 1, 2);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad),
                         (const uint8_t(*)[32])a.ed_pk, 1, &sealed, &len),
        KW_ERR_OK);
    assert_non_null(sealed);
    /* The documented layout. */
    assert_int_equal(len, 27 + 88 + sizeof(msg) + 16);
    assert_int_equal(len, KW_SEAL_LEN(1, sizeof(msg)));
    assert_int_equal(sealed[0], 1);
    assert_int_equal(sealed[25], 0);
    assert_int_equal(sealed[26], 1);
    assert_int_equal(slot_of(sealed, 1, a.x_pk), 0);
    assert_false(contains(sealed, len, msg, 8));
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_OK);
    assert_int_equal(n, 1);
    assert_true(kw_seal_is_recipient(sealed, len, a.x_pk));
    expect_open_ok(sealed, len, ad, sizeof(ad), &a, msg, sizeof(msg));
    free(sealed);
    node_fini(&a);
}

static void test_roundtrip_200(void **state)
{
    enum { N = 200 };
    node *nodes = nodes_new(N);
    uint8_t(*ids)[32] = ids_of(nodes, N);
    uint8_t msg[1000];
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *sealed = NULL;
    size_t len = 0;
    size_t n = 0;
    unsigned char seen[N] = { 0 };

    (void)state;
    randombytes_buf(msg, sizeof(msg));
    make_ad(ad, nodes[0].ed_pk, 42, 2);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, N,
                         &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(len, KW_SEAL_LEN(N, sizeof(msg)));
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_OK);
    assert_int_equal(n, N);
    for (size_t i = 0; i < N; i++) {
        long s = slot_of(sealed, N, nodes[i].x_pk);
        assert_true(s >= 0);
        assert_false(seen[s]); /* One slot per recipient. */
        seen[s] = 1;
        assert_true(kw_seal_is_recipient(sealed, len, nodes[i].x_pk));
        expect_open_ok(sealed, len, ad, sizeof(ad), &nodes[i], msg, sizeof(msg));
    }
    /* Slots are sorted by hint, so their order does not follow the list of recipients. */
    for (size_t i = 1; i < N; i++) {
        assert_true(memcmp(sealed + KW_SEAL_FIXED_LEN + (i - 1) * KW_SEAL_SLOT_LEN,
                        sealed + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN, KW_SEAL_HINT_LEN)
            <= 0);
    }
    free(sealed);
    free(ids);
    nodes_free(nodes, N);
}

static void test_non_recipient(void **state)
{
    node *nodes = nodes_new(3);
    uint8_t(*ids)[32] = ids_of(nodes, 2);
    static const uint8_t msg[] = "RED: only for A and B";
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *sealed = NULL;
    size_t len = 0;

    (void)state;
    make_ad(ad, nodes[0].ed_pk, 9, 4);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, 2,
                         &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(open_copy(sealed, len, ad, sizeof(ad), &nodes[2]), KW_ERR_NOKEY);
    assert_false(kw_seal_is_recipient(sealed, len, nodes[2].x_pk));
    assert_true(kw_seal_is_recipient(sealed, len, nodes[1].x_pk));
    /* Right public key, wrong secret: the hint matches but the slot does not unwrap. */
    {
        node mixed = { .x_sk = nodes[2].x_sk };
        memcpy(mixed.x_pk, nodes[1].x_pk, 32);
        assert_int_equal(open_copy(sealed, len, ad, sizeof(ad), &mixed), KW_ERR_CRYPTO);
    }
    free(sealed);
    free(ids);
    nodes_free(nodes, 3);
}

static void test_flip_every_byte(void **state)
{
    node *nodes = nodes_new(3);
    uint8_t(*ids)[32] = ids_of(nodes, 3);
    static const uint8_t msg[] = "domain evil.example, sha256 of the dropper";
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *sealed = NULL;
    size_t len = 0;
    const node *me = &nodes[1];
    size_t mine;
    size_t header_len = KW_SEAL_FIXED_LEN + 3 * KW_SEAL_SLOT_LEN;

    (void)state;
    make_ad(ad, nodes[0].ed_pk, 3, 3);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, 3,
                         &sealed, &len),
        KW_ERR_OK);
    expect_open_ok(sealed, len, ad, sizeof(ad), me, msg, sizeof(msg));
    assert_true(slot_of(sealed, 3, me->x_pk) >= 0);
    mine = (size_t)slot_of(sealed, 3, me->x_pk);

    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            kw_err rc;
            sealed[i] ^= masks[m];
            rc = open_copy(sealed, len, ad, sizeof(ad), me);
            sealed[i] ^= masks[m];
            assert_int_not_equal(rc, KW_ERR_OK);
            if (i == 0) {
                assert_int_equal(rc, KW_ERR_DECODE);
            } else if (i < 1 + KW_SEAL_NONCE_LEN) {
                /* The hints are bound to the nonce, so none matches any more. */
                assert_int_equal(rc, KW_ERR_NOKEY);
            } else if (i < KW_SEAL_FIXED_LEN) {
                /* The slot count: any failure, the exact one depends on the new count. */
            } else if (i < header_len) {
                size_t slot = (i - KW_SEAL_FIXED_LEN) / KW_SEAL_SLOT_LEN;
                size_t off = (i - KW_SEAL_FIXED_LEN) % KW_SEAL_SLOT_LEN;
                if (slot == mine && off < KW_SEAL_HINT_LEN) {
                    assert_int_equal(rc, KW_ERR_NOKEY);
                } else {
                    /* My wrapped key, or another recipient's slot: the header is bound. */
                    assert_int_equal(rc, KW_ERR_CRYPTO);
                }
            } else {
                assert_int_equal(rc, KW_ERR_CRYPTO);
            }
        }
    }
    /* Untouched, it still opens. */
    expect_open_ok(sealed, len, ad, sizeof(ad), me, msg, sizeof(msg));
    free(sealed);
    free(ids);
    nodes_free(nodes, 3);
}

static void test_ad_tamper(void **state)
{
    node a;
    static const uint8_t msg[] = "url http://203.0.113.9/x";
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t other[KW_SEAL_AD_LEN];
    uint8_t longer[KW_SEAL_AD_LEN + 1];
    uint8_t *sealed = NULL;
    size_t len = 0;

    (void)state;
    node_init(&a);
    make_ad(ad, a.ed_pk, 77, 2);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad),
                         (const uint8_t(*)[32])a.ed_pk, 1, &sealed, &len),
        KW_ERR_OK);
    for (size_t i = 0; i < sizeof(ad); i++) {
        ad[i] ^= 0x01;
        assert_int_equal(open_copy(sealed, len, ad, sizeof(ad), &a), KW_ERR_CRYPTO);
        ad[i] ^= 0x01;
    }
    assert_int_equal(open_copy(sealed, len, ad, sizeof(ad) - 1, &a), KW_ERR_CRYPTO);
    memcpy(longer, ad, sizeof(ad));
    longer[sizeof(ad)] = 0;
    assert_int_equal(open_copy(sealed, len, longer, sizeof(longer), &a), KW_ERR_CRYPTO);
    assert_int_equal(open_copy(sealed, len, NULL, 0, &a), KW_ERR_CRYPTO);
    /* The fields that kawan binds: seq, tlp and origin. */
    make_ad(other, a.ed_pk, 78, 2);
    assert_int_equal(open_copy(sealed, len, other, sizeof(other), &a), KW_ERR_CRYPTO);
    make_ad(other, a.ed_pk, 77, 4);
    assert_int_equal(open_copy(sealed, len, other, sizeof(other), &a), KW_ERR_CRYPTO);
    make_ad(other, origin_a, 77, 2);
    assert_int_equal(open_copy(sealed, len, other, sizeof(other), &a), KW_ERR_CRYPTO);
    expect_open_ok(sealed, len, ad, sizeof(ad), &a, msg, sizeof(msg));
    free(sealed);

    /* No associated data at all is allowed and must match on open as well. */
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])a.ed_pk, 1, &sealed, &len),
        KW_ERR_OK);
    expect_open_ok(sealed, len, NULL, 0, &a, msg, sizeof(msg));
    assert_int_equal(open_copy(sealed, len, ad, sizeof(ad), &a), KW_ERR_CRYPTO);
    free(sealed);
    node_fini(&a);
}

static void test_hints(void **state)
{
    node *nodes = nodes_new(2);
    uint8_t(*ids)[32] = ids_of(nodes, 2);
    static const uint8_t msg[] = "same message twice";
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *s1 = NULL;
    uint8_t *s2 = NULL;
    size_t l1 = 0;
    size_t l2 = 0;

    (void)state;
    make_ad(ad, origin_a, 5, 2);
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, 2, &s1, &l1),
        KW_ERR_OK);
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, 2, &s2, &l2),
        KW_ERR_OK);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(s1 + 1, s2 + 1, KW_SEAL_NONCE_LEN);
    for (size_t r = 0; r < 2; r++) {
        long i1 = slot_of(s1, 2, nodes[r].x_pk);
        long i2 = slot_of(s2, 2, nodes[r].x_pk);
        const uint8_t *h1;
        const uint8_t *h2;

        assert_true(i1 >= 0 && i2 >= 0);
        h1 = s1 + KW_SEAL_FIXED_LEN + (size_t)i1 * KW_SEAL_SLOT_LEN;
        h2 = s2 + KW_SEAL_FIXED_LEN + (size_t)i2 * KW_SEAL_SLOT_LEN;
        /* The same recipient's hints differ between two seals... */
        assert_memory_not_equal(h1, h2, KW_SEAL_HINT_LEN);
        /* ...and no part of its keys appears anywhere in either blob, hints included. */
        for (size_t k = 0; k + 8 <= 32; k++) {
            assert_false(contains(s1, l1, nodes[r].ed_pk + k, 8));
            assert_false(contains(s1, l1, nodes[r].x_pk + k, 8));
            assert_false(contains(s2, l2, nodes[r].ed_pk + k, 8));
            assert_false(contains(s2, l2, nodes[r].x_pk + k, 8));
            assert_false(contains(h1, KW_SEAL_HINT_LEN, nodes[r].x_pk + k, 4));
            assert_false(contains(h1, KW_SEAL_HINT_LEN, nodes[r].ed_pk + k, 4));
        }
    }
    /* Another recipient's hint is not this one's. */
    {
        uint8_t ha[8];
        uint8_t hb[8];
        hint_of(ha, s1, nodes[0].x_pk);
        hint_of(hb, s1, nodes[1].x_pk);
        assert_memory_not_equal(ha, hb, 8);
    }
    free(s1);
    free(s2);
    free(ids);
    nodes_free(nodes, 2);
}

static void test_duplicates_collapsed(void **state)
{
    node *nodes = nodes_new(2);
    static const uint8_t msg[] = "duplicates";
    uint8_t ids[6][32];
    uint8_t twin[2][32];
    uint8_t x_twin[32];
    uint8_t *sealed = NULL;
    size_t len = 0;
    size_t n = 0;

    (void)state;
    memcpy(ids[0], nodes[0].ed_pk, 32);
    memcpy(ids[1], nodes[1].ed_pk, 32);
    memcpy(ids[2], nodes[0].ed_pk, 32);
    memcpy(ids[3], nodes[0].ed_pk, 32);
    memcpy(ids[4], nodes[1].ed_pk, 32);
    memcpy(ids[5], nodes[0].ed_pk, 32);
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids, 6, &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(len, KW_SEAL_LEN(2, sizeof(msg)));
    expect_open_ok(sealed, len, NULL, 0, &nodes[0], msg, sizeof(msg));
    expect_open_ok(sealed, len, NULL, 0, &nodes[1], msg, sizeof(msg));
    free(sealed);

    /* An id with the sign bit flipped is the negated point, which has the same X25519 key. */
    memcpy(twin[0], nodes[0].ed_pk, 32);
    memcpy(twin[1], nodes[0].ed_pk, 32);
    twin[1][31] ^= 0x80;
    assert_int_equal(kw_seal_recipient_key(x_twin, twin[1]), KW_ERR_OK);
    assert_memory_equal(x_twin, nodes[0].x_pk, 32);
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])twin, 2, &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_OK);
    assert_int_equal(n, 1);
    expect_open_ok(sealed, len, NULL, 0, &nodes[0], msg, sizeof(msg));
    free(sealed);
    nodes_free(nodes, 2);
}

static void test_recipient_limits(void **state)
{
    enum { N = KW_SEAL_MAX_RECIPIENTS + 1 };
    node last;
    uint8_t(*ids)[32] = malloc(2 * N * 32);
    static const uint8_t msg[] = "limits";
    uint8_t *sealed = (uint8_t *)"sentinel";
    size_t len = 7;
    size_t n = 0;

    (void)state;
    assert_non_null(ids);
    /* Zero recipients. */
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids, 0, &sealed, &len),
        KW_ERR_INVAL);
    assert_null(sealed);
    assert_int_equal(len, 0);
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, NULL, 1, &sealed, &len), KW_ERR_INVAL);

    node_init(&last);
    for (size_t i = 0; i + 1 < N; i++) {
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair(ids[i], sk);
        sodium_memzero(sk, sizeof(sk));
    }
    memcpy(ids[N - 1], last.ed_pk, 32);
    /* 1025 distinct recipients: too many. */
    sealed = (uint8_t *)"sentinel";
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids, N, &sealed, &len),
        KW_ERR_TOOBIG);
    assert_null(sealed);
    /* 1024 distinct (the last 1024), listed twice over: allowed, 1024 slots. */
    memcpy(ids[N], ids[1], (N - 1) * 32);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids + 1,
                         2 * (N - 1), &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_OK);
    assert_int_equal(n, KW_SEAL_MAX_RECIPIENTS);
    expect_open_ok(sealed, len, NULL, 0, &last, msg, sizeof(msg));
    free(sealed);
    node_fini(&last);
    free(ids);
}

static void test_bad_recipient(void **state)
{
    node a;
    static const uint8_t msg[] = "x";
    uint8_t ids[2][32] = { { 0 } };
    uint8_t x[32];
    uint8_t *sealed = (uint8_t *)"sentinel";
    size_t len = 3;

    (void)state;
    node_init(&a);
    /* All zero, and the identity point (small order). */
    assert_int_equal(kw_seal_recipient_key(x, ids[1]), KW_ERR_INVAL);
    ids[1][0] = 1;
    assert_int_equal(kw_seal_recipient_key(x, ids[1]), KW_ERR_INVAL);
    memcpy(ids[0], a.ed_pk, 32);
    assert_int_equal(
        kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids, 2, &sealed, &len),
        KW_ERR_INVAL);
    assert_null(sealed);
    assert_int_equal(len, 0);
    node_fini(&a);
}

static void test_truncated(void **state)
{
    node *nodes = nodes_new(2);
    uint8_t(*ids)[32] = ids_of(nodes, 2);
    static const uint8_t msg[] = "cidr 192.0.2.0/24 scanning";
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *sealed = NULL;
    uint8_t *longer = NULL;
    size_t len = 0;
    size_t header_len = KW_SEAL_FIXED_LEN + 2 * KW_SEAL_SLOT_LEN;

    (void)state;
    make_ad(ad, origin_a, 11, 2);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, 2,
                         &sealed, &len),
        KW_ERR_OK);
    for (size_t k = 0; k < len; k++) {
        uint8_t *copy = malloc(k > 0 ? k : 1);
        size_t n = 99;
        kw_err rc;

        assert_non_null(copy);
        memcpy(copy, sealed, k);
        rc = open_copy(sealed, k, ad, sizeof(ad), &nodes[0]);
        if (k < header_len + KW_SEAL_TAG_LEN) {
            assert_int_equal(rc, KW_ERR_DECODE);
            assert_int_equal(kw_seal_count_slots(copy, k, &n), KW_ERR_DECODE);
            assert_int_equal(n, 0);
            assert_false(kw_seal_is_recipient(copy, k, nodes[0].x_pk));
        } else {
            /* Structurally fine, a shorter plaintext: the tag catches it. */
            assert_int_equal(rc, KW_ERR_CRYPTO);
            assert_int_equal(kw_seal_count_slots(copy, k, &n), KW_ERR_OK);
            assert_int_equal(n, 2);
        }
        free(copy);
    }
    /* One byte too many fails as well. */
    assert_non_null(longer = malloc(len + 1));
    memcpy(longer, sealed, len);
    longer[len] = 0;
    assert_int_equal(open_copy(longer, len + 1, ad, sizeof(ad), &nodes[0]), KW_ERR_CRYPTO);
    free(longer);
    /* NULL input. */
    {
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        size_t n = 0;
        assert_int_equal(
            kw_seal_open(NULL, 0, ad, sizeof(ad), nodes[0].x_pk, nodes[0].x_sk, &plain, &plain_len),
            KW_ERR_DECODE);
        assert_int_equal(
            kw_seal_open(NULL, 5, ad, sizeof(ad), nodes[0].x_pk, nodes[0].x_sk, &plain, &plain_len),
            KW_ERR_INVAL);
        assert_int_equal(kw_seal_count_slots(NULL, 0, &n), KW_ERR_DECODE);
        assert_false(kw_seal_is_recipient(NULL, 0, nodes[0].x_pk));
    }
    free(sealed);
    free(ids);
    nodes_free(nodes, 2);
}

static void test_publisher_as_recipient(void **state)
{
    node *nodes = nodes_new(4); /* 0 publishes; 1 and 2 are named; 3 is not */
    static const uint8_t msg[] = "RED bundle, publisher keeps a readable copy";
    uint8_t ids[4][32];
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *sealed = NULL;
    size_t len = 0;
    size_t n = 0;

    (void)state;
    /* kawan lists the publisher too; here first and again last, so it is also collapsed. */
    memcpy(ids[0], nodes[0].ed_pk, 32);
    memcpy(ids[1], nodes[1].ed_pk, 32);
    memcpy(ids[2], nodes[2].ed_pk, 32);
    memcpy(ids[3], nodes[0].ed_pk, 32);
    make_ad(ad, nodes[0].ed_pk, 1, 4);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), ad, sizeof(ad), (const uint8_t(*)[32])ids, 4,
                         &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_OK);
    assert_int_equal(n, 3);
    expect_open_ok(sealed, len, ad, sizeof(ad), &nodes[0], msg, sizeof(msg));
    expect_open_ok(sealed, len, ad, sizeof(ad), &nodes[1], msg, sizeof(msg));
    expect_open_ok(sealed, len, ad, sizeof(ad), &nodes[2], msg, sizeof(msg));
    assert_int_equal(open_copy(sealed, len, ad, sizeof(ad), &nodes[3]), KW_ERR_NOKEY);
    free(sealed);
    nodes_free(nodes, 4);
}

static void test_empty_plaintext(void **state)
{
    node a;
    uint8_t *sealed = NULL;
    size_t len = 0;

    (void)state;
    node_init(&a);
    assert_int_equal(
        kw_seal_encrypt(NULL, 0, NULL, 0, (const uint8_t(*)[32])a.ed_pk, 1, &sealed, &len),
        KW_ERR_OK);
    assert_int_equal(len, KW_SEAL_LEN(1, 0));
    expect_open_ok(sealed, len, NULL, 0, &a, NULL, 0);
    free(sealed);
    assert_int_equal(
        kw_seal_encrypt(NULL, 1, NULL, 0, (const uint8_t(*)[32])a.ed_pk, 1, &sealed, &len),
        KW_ERR_INVAL);
    node_fini(&a);
}

static void test_size_limits(void **state)
{
    node a;
    uint8_t *big = malloc((size_t)KW_SEAL_MAX_PLAIN + 1);
    uint8_t *sealed = NULL;
    uint8_t *forged = NULL;
    size_t len = 0;
    size_t n = 0;

    (void)state;
    assert_non_null(big);
    node_init(&a);
    memset(big, 0x5a, (size_t)KW_SEAL_MAX_PLAIN + 1);
    assert_int_equal(kw_seal_encrypt(big, (size_t)KW_SEAL_MAX_PLAIN + 1, NULL, 0,
                         (const uint8_t(*)[32])a.ed_pk, 1, &sealed, &len),
        KW_ERR_TOOBIG);
    assert_null(sealed);
    assert_int_equal(kw_seal_encrypt(big, KW_SEAL_MAX_PLAIN, NULL, 0, (const uint8_t(*)[32])a.ed_pk,
                         1, &sealed, &len),
        KW_ERR_OK);
    expect_open_ok(sealed, len, NULL, 0, &a, big, KW_SEAL_MAX_PLAIN);

    /* A blob whose implied plaintext is one byte over the limit. */
    assert_non_null(forged = malloc(len + 1));
    memcpy(forged, sealed, len);
    forged[len] = 0;
    assert_int_equal(kw_seal_count_slots(forged, len + 1, &n), KW_ERR_TOOBIG);
    assert_int_equal(open_copy(forged, len + 1, NULL, 0, &a), KW_ERR_TOOBIG);
    assert_false(kw_seal_is_recipient(forged, len + 1, a.x_pk));
    free(forged);

    /* Bad version, slot count 0, slot count over the limit. */
    sealed[0] = 2;
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_DECODE);
    sealed[0] = 0;
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_DECODE);
    sealed[0] = 1;
    sealed[25] = 0;
    sealed[26] = 0;
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_DECODE);
    assert_int_equal(open_copy(sealed, len, NULL, 0, &a), KW_ERR_DECODE);
    sealed[25] = 0x04;
    sealed[26] = 0x01;
    assert_int_equal(kw_seal_count_slots(sealed, len, &n), KW_ERR_DECODE);
    assert_int_equal(open_copy(sealed, len, NULL, 0, &a), KW_ERR_DECODE);
    sealed[25] = 0xff;
    sealed[26] = 0xff;
    assert_int_equal(open_copy(sealed, len, NULL, 0, &a), KW_ERR_DECODE);
    free(sealed);
    free(big);
    node_fini(&a);
}

/*
 * Builds a blob by hand from the format description in seal.h (not with seal.c), with
 * `decoys` extra slots that carry my hint but a wrapped key that does not open, placed
 * before my genuine slot. kw_seal_open must try every matching slot.
 */
static uint8_t *build_by_hand(const node *me, size_t decoys, const uint8_t *msg, size_t msg_len,
    const uint8_t *ad, size_t ad_len, int genuine, size_t *len_out)
{
    size_t nslots = decoys + (genuine ? 1 : 0);
    size_t header_len = 27 + 88 * nslots;
    size_t len = header_len + msg_len + 16;
    uint8_t *b = malloc(len);
    uint8_t key[32];
    uint8_t hint[8];
    uint8_t bind[32];
    uint8_t len_be[8] = { 0 };
    crypto_generichash_state st;

    assert_non_null(b);
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    b[0] = 1;
    randombytes_buf(b + 1, 24);
    b[25] = (uint8_t)(nslots >> 8);
    b[26] = (uint8_t)nslots;
    hint_of(hint, b, me->x_pk);
    for (size_t i = 0; i < nslots; i++) {
        uint8_t *slot = b + 27 + 88 * i;
        memcpy(slot, hint, 8);
        if (genuine && i == nslots - 1) {
            assert_int_equal(crypto_box_seal(slot + 8, key, 32, me->x_pk), 0);
        } else {
            randombytes_buf(slot + 8, 80);
        }
    }
    for (int i = 0; i < 8; i++) {
        len_be[7 - i] = (uint8_t)((uint64_t)ad_len >> (8 * i));
    }
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, len_be, 8);
    crypto_generichash_update(&st, ad, ad_len);
    crypto_generichash_update(&st, b, header_len);
    crypto_generichash_final(&st, bind, 32);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(
                         b + header_len, NULL, msg, msg_len, bind, 32, NULL, b + 1, key),
        0);
    sodium_memzero(key, sizeof(key));
    *len_out = len;
    return b;
}

static void test_hint_collisions(void **state)
{
    node a;
    static const uint8_t msg[] = "hand-built blob";
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *b;
    size_t len = 0;

    (void)state;
    node_init(&a);
    make_ad(ad, origin_a, 2, 2);
    /* The format as documented opens, also with colliding hints before the genuine slot. */
    b = build_by_hand(&a, 0, msg, sizeof(msg), ad, sizeof(ad), 1, &len);
    expect_open_ok(b, len, ad, sizeof(ad), &a, msg, sizeof(msg));
    free(b);
    b = build_by_hand(&a, 5, msg, sizeof(msg), ad, sizeof(ad), 1, &len);
    expect_open_ok(b, len, ad, sizeof(ad), &a, msg, sizeof(msg));
    free(b);
    /* Matching hints that never unwrap: CRYPTO, not NOKEY. */
    b = build_by_hand(&a, 3, msg, sizeof(msg), ad, sizeof(ad), 0, &len);
    assert_true(kw_seal_is_recipient(b, len, a.x_pk));
    assert_int_equal(open_copy(b, len, ad, sizeof(ad), &a), KW_ERR_CRYPTO);
    free(b);
    node_fini(&a);
}

/*
 * Every slot is a libsodium sealed box of the content key for its recipient, as the format
 * says, and the slots of one seal share one ephemeral key (each box still has its own
 * shared secret and nonce); two seals never share one.
 */
static void test_slots_are_sealed_boxes(void **state)
{
    (void)state;
    enum { N = 5 };
    node *nodes = nodes_new(N);
    uint8_t(*ids)[32] = ids_of(nodes, N);
    static const uint8_t msg[] = "slot format";
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;

    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids, N, &a, &alen), KW_ERR_OK);
    assert_int_equal(kw_seal_encrypt(msg, sizeof(msg), NULL, 0, (const uint8_t(*)[32])ids, N, &b, &blen), KW_ERR_OK);
    uint8_t keys[N][32];
    for (size_t r = 0; r < N; r++) {
        bool opened = false;
        for (size_t i = 0; i < N && !opened; i++) {
            const uint8_t *slot = a + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN;
            opened = crypto_box_seal_open(keys[r], slot + KW_SEAL_HINT_LEN,
                         KW_SEAL_WRAPPED_LEN, nodes[r].x_pk, nodes[r].x_sk)
                == 0;
        }
        assert_true(opened);
        /* Everyone unwraps the same content key. */
        assert_memory_equal(keys[r], keys[0], 32);
    }
    const uint8_t *epk = a + KW_SEAL_FIXED_LEN + KW_SEAL_HINT_LEN;
    for (size_t i = 1; i < N; i++) {
        assert_memory_equal(a + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN + KW_SEAL_HINT_LEN, epk,
            crypto_box_PUBLICKEYBYTES);
        assert_memory_not_equal(a + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN + KW_SEAL_HINT_LEN
                + crypto_box_PUBLICKEYBYTES,
            a + KW_SEAL_FIXED_LEN + KW_SEAL_HINT_LEN + crypto_box_PUBLICKEYBYTES, 48);
    }
    assert_memory_not_equal(b + KW_SEAL_FIXED_LEN + KW_SEAL_HINT_LEN, epk,
        crypto_box_PUBLICKEYBYTES);
    sodium_memzero(keys, sizeof(keys));
    free(a);
    free(b);
    free(ids);
    nodes_free(nodes, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ad_layout),
        cmocka_unit_test(test_roundtrip_one),
        cmocka_unit_test(test_roundtrip_200),
        cmocka_unit_test(test_non_recipient),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_ad_tamper),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_duplicates_collapsed),
        cmocka_unit_test(test_recipient_limits),
        cmocka_unit_test(test_bad_recipient),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_publisher_as_recipient),
        cmocka_unit_test(test_empty_plaintext),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_hint_collisions),
        cmocka_unit_test(test_slots_are_sealed_boxes),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
