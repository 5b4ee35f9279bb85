/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for crypto/seal: arbitrary bytes go to kw_seal_count_slots,
 * kw_seal_is_recipient and kw_seal_open with one fixed key pair and fixed associated data,
 * and the three must agree with each other (abort() otherwise, so the fuzzer reports it).
 *
 * The key pair is derived from a fixed seed, so the seeds in tests/fuzz/corpus/seal/ can hold
 * valid sealed blobs that this harness opens. They were written by this same file built with
 * -DKW_SEAL_FUZZ_GEN (see gen_main below):
 *   cc -std=c11 -D_GNU_SOURCE -DKW_SEAL_FUZZ_GEN -I. crypto/err.c crypto/seal.c \
 *      tests/fuzz/fuzz_seal.c $(pkg-config --cflags --libs libsodium) -o gen && ./gen DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed seeds of the harness's own identity and of a second member. Test keys, not secrets. */
static const uint8_t me_seed[32] = "kawan fuzz_seal recipient seed!";

static struct {
    int ready;
    uint8_t ed_pk[32];
    uint8_t x_pk[32];
    uint8_t *x_sk; /* sodium_malloc'd */
    uint8_t ad[KW_SEAL_AD_LEN];
} fx;

static void fixture(void)
{
    uint8_t *ed_sk;

    if (fx.ready) {
        return;
    }
    if (sodium_init() < 0 || (ed_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL
        || (fx.x_sk = sodium_malloc(32)) == NULL) {
        abort();
    }
    if (crypto_sign_seed_keypair(fx.ed_pk, ed_sk, me_seed) != 0
        || crypto_sign_ed25519_sk_to_curve25519(fx.x_sk, ed_sk) != 0
        || kw_seal_recipient_key(fx.x_pk, fx.ed_pk) != KW_ERR_OK
        || kw_seal_ad(fx.ad, fx.ed_pk, 1, 2) != KW_ERR_OK) {
        abort();
    }
    sodium_free(ed_sk);
    fx.ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 7;
    uint8_t *plain = (uint8_t *)"sentinel";
    size_t plain_len = 7;
    kw_err rc_count;
    kw_err rc_open;
    bool mine;

    fixture();
    rc_count = kw_seal_count_slots(data, size, &n);
    mine = kw_seal_is_recipient(data, size, fx.x_pk);
    rc_open = kw_seal_open(data, size, fx.ad, sizeof(fx.ad), fx.x_pk, fx.x_sk, &plain, &plain_len);

    if (rc_open != KW_ERR_OK && (plain != NULL || plain_len != 0)) {
        abort();
    }
    if (rc_count != KW_ERR_OK) {
        /* Structural errors come from the one parser both use. */
        if ((rc_count != KW_ERR_DECODE && rc_count != KW_ERR_TOOBIG) || rc_open != rc_count
            || n != 0 || mine) {
            abort();
        }
        return 0;
    }
    if (n == 0 || n > KW_SEAL_MAX_RECIPIENTS || size < KW_SEAL_LEN(n, 0)) {
        abort();
    }
    switch (rc_open) {
    case KW_ERR_OK:
        if (!mine || plain == NULL || plain_len != size - KW_SEAL_LEN(n, 0)) {
            abort();
        }
        sodium_free(plain);
        break;
    case KW_ERR_NOKEY:
        if (mine) {
            abort();
        }
        break;
    case KW_ERR_CRYPTO:
        /* CRYPTO only once a hint matched. */
        if (!mine) {
            abort();
        }
        break;
    default:
        abort();
    }
    return 0;
}

#ifdef KW_SEAL_FUZZ_GEN
int main(int argc, char **argv);

static const uint8_t other_seed[32] = "kawan fuzz_seal other node seed";

/* Writes one seed after checking that the harness's key opens it with the expected result. */
static void put(const char *dir, const char *name, const uint8_t *b, size_t len, kw_err expect)
{
    char path[4096];
    FILE *f;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    kw_err rc = kw_seal_open(b, len, fx.ad, sizeof(fx.ad), fx.x_pk, fx.x_sk, &plain, &plain_len);

    sodium_free(plain);
    if (rc != expect) {
        fprintf(stderr, "%s: %s, expected %s\n", name, kw_errname(rc), kw_errname(expect));
        exit(1);
    }

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    /* Every seed must behave as its name says when replayed. */
    LLVMFuzzerTestOneInput(b, len);
}

int main(int argc, char **argv)
{
    static const uint8_t msg[]
        = "{\"indicators\":[{\"type\":\"ipv4\",\"value\":\"198.51.100.7\"}]}";
    uint8_t other_pk[32];
    uint8_t other_sk[64];
    uint8_t ids[3][32];
    uint8_t *s = NULL;
    size_t len = 0;
    uint8_t *plain = NULL;
    size_t plain_len = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    fixture();
    crypto_sign_seed_keypair(other_pk, other_sk, other_seed);
    sodium_memzero(other_sk, sizeof(other_sk));
    memcpy(ids[0], other_pk, 32);
    memcpy(ids[1], fx.ed_pk, 32);
    memcpy(ids[2], other_pk, 32);

    /* Valid, for the harness's key: one recipient, two recipients, empty plaintext. */
    if (kw_seal_encrypt(
            msg, sizeof(msg) - 1, fx.ad, sizeof(fx.ad), (const uint8_t(*)[32])fx.ed_pk, 1, &s, &len)
        != KW_ERR_OK) {
        return 1;
    }
    if (kw_seal_open(s, len, fx.ad, sizeof(fx.ad), fx.x_pk, fx.x_sk, &plain, &plain_len)
        != KW_ERR_OK) {
        return 1;
    }
    sodium_free(plain);
    put(argv[1], "valid-1", s, len, KW_ERR_OK);

    /* Broken variants of the one-recipient blob. */
    put(argv[1], "trunc-header", s, 20, KW_ERR_DECODE);
    put(argv[1], "trunc-slot", s, KW_SEAL_FIXED_LEN + 40, KW_ERR_DECODE);
    put(argv[1], "trunc-tag", s, len - 3, KW_ERR_CRYPTO);
    s[len - 1] ^= 1;
    put(argv[1], "bad-tag", s, len, KW_ERR_CRYPTO);
    s[len - 1] ^= 1;
    s[KW_SEAL_FIXED_LEN + 20] ^= 1;
    put(argv[1], "bad-wrap", s, len, KW_ERR_CRYPTO);
    s[KW_SEAL_FIXED_LEN + 20] ^= 1;
    s[0] = 2;
    put(argv[1], "bad-version", s, len, KW_ERR_DECODE);
    s[0] = 1;
    s[26] = 0;
    put(argv[1], "zero-slots", s, len, KW_ERR_DECODE);
    s[25] = 4;
    s[26] = 1;
    put(argv[1], "too-many-slots", s, len, KW_ERR_DECODE);
    free(s);

    if (kw_seal_encrypt(
            msg, sizeof(msg) - 1, fx.ad, sizeof(fx.ad), (const uint8_t(*)[32])ids, 3, &s, &len)
        != KW_ERR_OK) {
        return 1;
    }
    put(argv[1], "valid-2-dup", s, len, KW_ERR_OK);
    free(s);

    if (kw_seal_encrypt(NULL, 0, fx.ad, sizeof(fx.ad), (const uint8_t(*)[32])fx.ed_pk, 1, &s, &len)
        != KW_ERR_OK) {
        return 1;
    }
    put(argv[1], "valid-empty", s, len, KW_ERR_OK);
    free(s);

    /* Valid but not for the harness's key. */
    if (kw_seal_encrypt(
            msg, sizeof(msg) - 1, fx.ad, sizeof(fx.ad), (const uint8_t(*)[32])other_pk, 1, &s, &len)
        != KW_ERR_OK) {
        return 1;
    }
    put(argv[1], "not-mine", s, len, KW_ERR_NOKEY);
    free(s);
    put(argv[1], "empty", (const uint8_t *)"", 0, KW_ERR_DECODE);
    return 0;
}
#endif
