/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark of crypto/seal: seal and open of a 60 KB plaintext (about 1,000 indicators) for
 * 1, 10, 200 and 1024 recipients, beside plain XChaCha20-Poly1305 of the same plaintext and an
 * Ed25519 signature of a 200-byte header, plus the costs a hostile or foreign blob can impose
 * on an opener. Each figure is the median of 5 runs; a run repeats the operation for about
 * 0.2 s. Prints figures only; never fails on speed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crypto/seal.h"

#define PLAIN_LEN (60u * 1024u)
#define RUNS 5
#define RUN_SECONDS 0.2

typedef struct node {
    uint8_t ed_pk[32];
    uint8_t x_pk[32];
    uint8_t *x_sk;
} node;

/* What one timed operation needs; op() returns 0 on the expected outcome. */
typedef struct bench_ctx {
    const uint8_t *plain;
    const uint8_t *ad;
    const uint8_t (*ids)[32];
    size_t n;
    const uint8_t *sealed;
    size_t sealed_len;
    const node *me;
    kw_err expect;
    const uint8_t *key;
    uint8_t *scratch;
    const uint8_t *sign_sk;
} bench_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int op_seal(const bench_ctx *c)
{
    uint8_t *out = NULL;
    size_t len = 0;
    kw_err rc
        = kw_seal_encrypt(c->plain, PLAIN_LEN, c->ad, KW_SEAL_AD_LEN, c->ids, c->n, &out, &len);
    free(out);
    return rc == KW_ERR_OK ? 0 : -1;
}

static int op_open(const bench_ctx *c)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    kw_err rc = kw_seal_open(c->sealed, c->sealed_len, c->ad, KW_SEAL_AD_LEN, c->me->x_pk,
        c->me->x_sk, &plain, &plain_len);
    sodium_free(plain);
    return rc == c->expect ? 0 : -1;
}

static int op_is_recipient(const bench_ctx *c)
{
    return kw_seal_is_recipient(c->sealed, c->sealed_len, c->me->x_pk) ? 0 : -1;
}

static int op_aead(const bench_ctx *c)
{
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    randombytes_buf(nonce, sizeof(nonce));
    return crypto_aead_xchacha20poly1305_ietf_encrypt(
        c->scratch, NULL, c->plain, PLAIN_LEN, c->ad, KW_SEAL_AD_LEN, NULL, nonce, c->key);
}

static int op_sign(const bench_ctx *c)
{
    uint8_t sig[crypto_sign_BYTES];
    return crypto_sign_detached(sig, NULL, c->plain, 200, c->sign_sk);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per operation over RUNS runs. */
static double measure(int (*op)(const bench_ctx *), const bench_ctx *c)
{
    double per_op[RUNS];
    double t0 = now();
    long iters;

    if (op(c) != 0) {
        fprintf(stderr, "bench_seal: operation failed\n");
        exit(1);
    }
    iters = (long)(RUN_SECONDS / (now() - t0 + 1e-9));
    if (iters < 3) {
        iters = 3;
    }
    for (int r = 0; r < RUNS; r++) {
        double start = now();
        for (long i = 0; i < iters; i++) {
            if (op(c) != 0) {
                fprintf(stderr, "bench_seal: operation failed\n");
                exit(1);
            }
        }
        per_op[r] = (now() - start) / (double)iters;
    }
    qsort(per_op, RUNS, sizeof(per_op[0]), cmp_double);
    return per_op[RUNS / 2];
}

static void row(const char *what, const char *recipients, size_t bytes, double sec)
{
    printf("%-34s %10s %10zu %12.1f %12.0f %10.1f\n", what, recipients, bytes, sec * 1e6, 1.0 / sec,
        (double)PLAIN_LEN / sec / 1e6);
}

static void node_init(node *nd)
{
    uint8_t ed_sk[crypto_sign_SECRETKEYBYTES];

    if ((nd->x_sk = sodium_malloc(32)) == NULL) {
        exit(1);
    }
    crypto_sign_keypair(nd->ed_pk, ed_sk);
    if (crypto_sign_ed25519_sk_to_curve25519(nd->x_sk, ed_sk) != 0
        || kw_seal_recipient_key(nd->x_pk, nd->ed_pk) != KW_ERR_OK) {
        exit(1);
    }
    sodium_memzero(ed_sk, sizeof(ed_sk));
}

/* A structurally valid blob of 1024 slots that all carry me's hint and never unwrap. */
static uint8_t *hostile_blob(const node *me, size_t *len_out)
{
    size_t n = KW_SEAL_MAX_RECIPIENTS;
    size_t len = KW_SEAL_LEN(n, PLAIN_LEN);
    uint8_t *b = malloc(len);
    uint8_t in[KW_SEAL_NONCE_LEN + 32];
    uint8_t h[32];

    if (b == NULL) {
        exit(1);
    }
    randombytes_buf(b, len);
    b[0] = KW_SEAL_VERSION;
    b[25] = (uint8_t)(n >> 8);
    b[26] = (uint8_t)(n & 0xff);
    memcpy(in, b + 1, KW_SEAL_NONCE_LEN);
    memcpy(in + KW_SEAL_NONCE_LEN, me->x_pk, 32);
    crypto_generichash(h, 32, in, sizeof(in), NULL, 0);
    for (size_t i = 0; i < n; i++) {
        memcpy(b + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN, h, KW_SEAL_HINT_LEN);
    }
    *len_out = len;
    return b;
}

int main(void)
{
    static const size_t counts[] = { 1, 10, 200, KW_SEAL_MAX_RECIPIENTS };
    enum { NODES = KW_SEAL_MAX_RECIPIENTS + 1 };
    node *nodes = calloc(NODES, sizeof(*nodes));
    uint8_t(*ids)[32] = malloc(NODES * 32);
    uint8_t *plain = malloc(PLAIN_LEN);
    uint8_t *scratch = malloc(PLAIN_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    uint8_t *key = NULL;
    uint8_t *sign_sk = NULL;
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t ad[KW_SEAL_AD_LEN];
    char label[16];
    bench_ctx c;

    if (sodium_init() < 0 || nodes == NULL || ids == NULL || plain == NULL || scratch == NULL
        || (key = sodium_malloc(32)) == NULL
        || (sign_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
        return 1;
    }
    for (size_t i = 0; i < NODES; i++) {
        node_init(&nodes[i]);
        memcpy(ids[i], nodes[i].ed_pk, 32);
    }
    randombytes_buf(plain, PLAIN_LEN);
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    crypto_sign_keypair(sign_pk, sign_sk);
    kw_seal_ad(ad, nodes[0].ed_pk, 1, 2);

    memset(&c, 0, sizeof(c));
    c.plain = plain;
    c.ad = ad;
    c.ids = (const uint8_t(*)[32])ids;
    c.key = key;
    c.scratch = scratch;
    c.sign_sk = sign_sk;

    printf(
        "plaintext %u bytes; median of %d runs of ~%.1f s each\n\n", PLAIN_LEN, RUNS, RUN_SECONDS);
    printf("%-34s %10s %10s %12s %12s %10s\n", "operation", "recipients", "bytes", "us/op", "ops/s",
        "MB/s");
    row("xchacha20poly1305 encrypt", "-", PLAIN_LEN + 16, measure(op_aead, &c));
    row("ed25519 sign, 200-byte header", "-", 64, measure(op_sign, &c));

    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        uint8_t *sealed = NULL;
        size_t len = 0;

        c.n = counts[k];
        snprintf(label, sizeof(label), "%zu", counts[k]);
        row("kw_seal_encrypt", label, KW_SEAL_LEN(counts[k], PLAIN_LEN), measure(op_seal, &c));
        if (kw_seal_encrypt(plain, PLAIN_LEN, ad, sizeof(ad), c.ids, c.n, &sealed, &len)
            != KW_ERR_OK) {
            return 1;
        }
        c.sealed = sealed;
        c.sealed_len = len;
        c.me = &nodes[counts[k] - 1]; /* the last listed; its slot is anywhere */
        c.expect = KW_ERR_OK;
        row("kw_seal_open (recipient)", label, len, measure(op_open, &c));
        if (counts[k] == 200) {
            row("kw_seal_is_recipient", label, len, measure(op_is_recipient, &c));
            c.me = &nodes[NODES - 1];
            c.expect = KW_ERR_NOKEY;
            row("kw_seal_open (not a recipient)", label, len, measure(op_open, &c));
        }
        free(sealed);
    }

    /* Worst case an opener can be made to pay: every slot claims to be its own. */
    {
        size_t len = 0;
        uint8_t *b = hostile_blob(&nodes[0], &len);
        c.sealed = b;
        c.sealed_len = len;
        c.me = &nodes[0];
        c.expect = KW_ERR_CRYPTO;
        row("kw_seal_open (hostile: 1024 hints)", "1024", len, measure(op_open, &c));
        free(b);
    }
    printf("\nMB/s is plaintext bytes (%u) per second; bytes is the output size.\n", PLAIN_LEN);

    for (size_t i = 0; i < NODES; i++) {
        sodium_free(nodes[i].x_sk);
    }
    free(nodes);
    free(ids);
    free(plain);
    free(scratch);
    sodium_free(key);
    sodium_free(sign_sk);
    return 0;
}
