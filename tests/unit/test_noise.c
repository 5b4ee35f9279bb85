/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for crypto/noise: the transport cipher on its own, the IKpsk2 handshake kawan
 * uses (including the ways it must fail), size limits, protocol-name parsing, state rules,
 * and an in-process handshake over every supported pattern and psk position. Conformance to
 * other implementations is checked separately by noise-vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/noise.h"

#define PROLOGUE ((const uint8_t *)KW_NOISE_PROLOGUE)
#define PROLOGUE_LEN (sizeof(KW_NOISE_PROLOGUE) - 1)

/* Message buffers are static: two full-size Noise messages do not belong on the stack. */
static uint8_t g_msg[KW_NOISE_MAX_MSG + 64];
static uint8_t g_out[KW_NOISE_MAX_MSG + 64];

struct keys {
    uint8_t init_sk[32], init_pk[32];
    uint8_t resp_sk[32], resp_pk[32];
    uint8_t psk[32];
};

static void make_keys(struct keys *k)
{
    randombytes_buf(k->init_sk, 32);
    randombytes_buf(k->resp_sk, 32);
    randombytes_buf(k->psk, 32);
    assert_int_equal(crypto_scalarmult_base(k->init_pk, k->init_sk), 0);
    assert_int_equal(crypto_scalarmult_base(k->resp_pk, k->resp_sk), 0);
}

/* An IKpsk2 initiator and responder as kawan sets them up. */
static void ik_pair(const struct keys *k, kw_noise_hs **init, kw_noise_hs **resp)
{
    assert_int_equal(kw_noise_hs_new(init, KW_NOISE_PROTOCOL, true, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_new(resp, KW_NOISE_PROTOCOL, false, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(*init, k->init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_remote_static(*init, k->resp_pk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(*init, k->psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(*resp, k->resp_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(*resp, k->psk), KW_ERR_OK);
}

/* Writes one handshake message from `from` and returns what `to` makes of it. */
static kw_err hs_transfer(kw_noise_hs *from, kw_noise_hs *to, const char *payload)
{
    size_t len = 0, plen = 0;
    size_t n = payload != NULL ? strlen(payload) : 0;
    kw_err rc;

    assert_int_equal(kw_noise_hs_write_message(from, (const uint8_t *)payload, n, g_msg,
                         sizeof(g_msg), &len),
        KW_ERR_OK);
    rc = kw_noise_hs_read_message(to, g_msg, len, g_out, sizeof(g_out), &plen);
    if (rc == KW_ERR_OK) {
        assert_int_equal(plen, n);
        assert_memory_equal(g_out, payload != NULL ? payload : "", n);
    }
    return rc;
}

/* Encrypts with `send` and checks that `recv` gets the same bytes back. */
static void transport_roundtrip(kw_noise_cipher *send, kw_noise_cipher *recv, const char *text)
{
    size_t n = strlen(text), clen = 0, plen = 0;

    assert_int_equal(kw_noise_cipher_encrypt(send, NULL, 0, (const uint8_t *)text, n, g_msg,
                         sizeof(g_msg), &clen),
        KW_ERR_OK);
    assert_int_equal(clen, n + KW_NOISE_TAGLEN);
    assert_int_equal(kw_noise_cipher_decrypt(recv, NULL, 0, g_msg, clen, g_out, sizeof(g_out),
                         &plen),
        KW_ERR_OK);
    assert_int_equal(plen, n);
    assert_memory_equal(g_out, text, n);
}

static void cipher_pair(kw_noise_cipher **a, kw_noise_cipher **b, uint8_t key[32])
{
    randombytes_buf(key, 32);
    assert_int_equal(kw_noise_cipher_new(a, key), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_new(b, key), KW_ERR_OK);
}

/* ---------------------------------------------------------------- Cipher */

static void test_cipher_roundtrip(void **state)
{
    kw_noise_cipher *a = NULL, *b = NULL;
    uint8_t key[32], buf[64];
    const uint8_t ad[] = "header";
    size_t clen = 0, plen = 0;

    (void)state;
    cipher_pair(&a, &b, key);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(kw_noise_cipher_encrypt(a, ad, sizeof(ad), (const uint8_t *)"hello",
                             5, g_msg, sizeof(g_msg), &clen),
            KW_ERR_OK);
        assert_int_equal(clen, 5 + KW_NOISE_TAGLEN);
        assert_int_equal(kw_noise_cipher_decrypt(b, ad, sizeof(ad), g_msg, clen, g_out,
                             sizeof(g_out), &plen),
            KW_ERR_OK);
        assert_int_equal(plen, 5);
        assert_memory_equal(g_out, "hello", 5);
    }
    assert_int_equal(kw_noise_cipher_nonce(a), 5);
    assert_int_equal(kw_noise_cipher_nonce(b), 5);

    /* An empty payload and in-place operation both work. */
    transport_roundtrip(a, b, "");
    memcpy(buf, "in place", 8);
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, buf, 8, buf, sizeof(buf), &clen),
        KW_ERR_OK);
    assert_memory_not_equal(buf, "in place", 8);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, buf, clen, buf, sizeof(buf), &plen),
        KW_ERR_OK);
    assert_int_equal(plen, 8);
    assert_memory_equal(buf, "in place", 8);

    /* The same plaintext never encrypts to the same bytes twice (the nonce moves). */
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, (const uint8_t *)"x", 1, g_msg,
                         sizeof(g_msg), &clen),
        KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, (const uint8_t *)"x", 1, g_out,
                         sizeof(g_out), &clen),
        KW_ERR_OK);
    assert_memory_not_equal(g_msg, g_out, clen);

    /* Too small an output buffer is refused without touching the nonce. */
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, (const uint8_t *)"hello", 5, buf, 20,
                         &clen),
        KW_ERR_INVAL);
    assert_int_equal(kw_noise_cipher_nonce(a), 9);
    kw_noise_cipher_free(a);
    kw_noise_cipher_free(b);
}

static void test_cipher_tamper(void **state)
{
    kw_noise_cipher *a = NULL, *b = NULL;
    uint8_t key[32];
    size_t clen = 0, plen = 0;

    (void)state;
    cipher_pair(&a, &b, key);
    assert_int_equal(kw_noise_cipher_encrypt(a, (const uint8_t *)"ad", 2,
                         (const uint8_t *)"secret", 6, g_msg, sizeof(g_msg), &clen),
        KW_ERR_OK);

    /* A flipped bit in the ciphertext, in the tag, or a different AD all fail. */
    g_msg[0] ^= 1;
    assert_int_equal(kw_noise_cipher_decrypt(b, (const uint8_t *)"ad", 2, g_msg, clen, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_CRYPTO);
    g_msg[0] ^= 1;
    g_msg[clen - 1] ^= 0x80;
    assert_int_equal(kw_noise_cipher_decrypt(b, (const uint8_t *)"ad", 2, g_msg, clen, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_CRYPTO);
    g_msg[clen - 1] ^= 0x80;
    assert_int_equal(kw_noise_cipher_decrypt(b, (const uint8_t *)"aD", 2, g_msg, clen, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_CRYPTO);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, g_msg, clen, g_out, sizeof(g_out),
                         &plen),
        KW_ERR_CRYPTO);
    /* Too short to hold a tag. */
    assert_int_equal(kw_noise_cipher_decrypt(b, (const uint8_t *)"ad", 2, g_msg, 15, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_DECODE);

    /* Failures do not advance the nonce, so the genuine message still decrypts. */
    assert_int_equal(kw_noise_cipher_nonce(b), 0);
    assert_int_equal(kw_noise_cipher_decrypt(b, (const uint8_t *)"ad", 2, g_msg, clen, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_OK);
    assert_memory_equal(g_out, "secret", 6);

    /* Replaying it fails: the receiver has moved on to nonce 1. */
    assert_int_equal(kw_noise_cipher_decrypt(b, (const uint8_t *)"ad", 2, g_msg, clen, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_CRYPTO);
    kw_noise_cipher_free(a);
    kw_noise_cipher_free(b);
}

static void test_cipher_nonce_exhaustion(void **state)
{
    kw_noise_cipher *a = NULL, *b = NULL;
    uint8_t key[32], nonce[12] = { 0 }, expect[32];
    unsigned long long elen = 0;
    size_t clen = 0, plen = 0;

    (void)state;
    cipher_pair(&a, &b, key);
    assert_int_equal(kw_noise_cipher_set_nonce(a, UINT64_MAX - 1), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_set_nonce(b, UINT64_MAX - 1), KW_ERR_OK);

    /* The last usable nonce, 2^64-2, works, and is laid out as 4 zero bytes + LE64. */
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, (const uint8_t *)"last", 4, g_msg,
                         sizeof(g_msg), &clen),
        KW_ERR_OK);
    memset(nonce + 4, 0xff, 8);
    nonce[4] = 0xfe;
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(expect, &elen,
                         (const uint8_t *)"last", 4, NULL, 0, NULL, nonce, key),
        0);
    assert_int_equal(clen, (size_t)elen);
    assert_memory_equal(g_msg, expect, clen);
    assert_int_equal(kw_noise_cipher_nonce(a), UINT64_MAX);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, g_msg, clen, g_out, sizeof(g_out),
                         &plen),
        KW_ERR_OK);

    /* 2^64-1 is reserved: both directions now refuse. */
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, (const uint8_t *)"more", 4, g_msg,
                         sizeof(g_msg), &clen),
        KW_ERR_CRYPTO);
    assert_int_equal(kw_noise_cipher_nonce(a), UINT64_MAX);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, expect, (size_t)elen, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_CRYPTO);
    kw_noise_cipher_free(a);
    kw_noise_cipher_free(b);
}

static void test_cipher_rekey(void **state)
{
    kw_noise_cipher *a = NULL, *b = NULL, *fresh = NULL, *manual = NULL;
    uint8_t key[32], zeros[32] = { 0 }, nonce[12] = { 0 }, tmp[48], newkey[32];
    uint8_t before[64], after[64];
    size_t blen = 0, alen = 0;

    (void)state;
    cipher_pair(&a, &b, key);
    transport_roundtrip(a, b, "before rekey");
    assert_int_equal(kw_noise_cipher_new(&fresh, key), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_set_nonce(fresh, 1), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_encrypt(fresh, NULL, 0, (const uint8_t *)"probe", 5, before,
                         sizeof(before), &blen),
        KW_ERR_OK);

    assert_int_equal(kw_noise_cipher_rekey(a), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_nonce(a), 1); /* Rekey leaves n alone. */

    /* The key changed: the same plaintext at the same nonce encrypts differently... */
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, (const uint8_t *)"probe", 5, after,
                         sizeof(after), &alen),
        KW_ERR_OK);
    assert_int_equal(alen, blen);
    assert_memory_not_equal(before, after, alen);

    /* ...and to exactly what the specification's REKEY(k) gives. */
    memset(nonce + 4, 0xff, 8);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(tmp, NULL, zeros, 32, NULL, 0,
                         NULL, nonce, key),
        0);
    memcpy(newkey, tmp, 32);
    assert_int_equal(kw_noise_cipher_new(&manual, newkey), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_set_nonce(manual, 1), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_encrypt(manual, NULL, 0, (const uint8_t *)"probe", 5,
                         before, sizeof(before), &blen),
        KW_ERR_OK);
    assert_memory_equal(before, after, alen);

    /* The receiver, not yet rekeyed, cannot read it; once rekeyed it can, and stays in sync. */
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, after, alen, g_out, sizeof(g_out),
                         &blen),
        KW_ERR_CRYPTO);
    assert_int_equal(kw_noise_cipher_rekey(b), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, after, alen, g_out, sizeof(g_out),
                         &blen),
        KW_ERR_OK);
    assert_memory_equal(g_out, "probe", 5);
    transport_roundtrip(a, b, "after rekey");
    assert_int_equal(kw_noise_cipher_rekey(a), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_rekey(b), KW_ERR_OK);
    transport_roundtrip(a, b, "after a second rekey");
    kw_noise_cipher_free(a);
    kw_noise_cipher_free(b);
    kw_noise_cipher_free(fresh);
    kw_noise_cipher_free(manual);
}

/* ---------------------------------------------------------------- IKpsk2 */

static void test_ikpsk2_handshake(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    kw_noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
    uint8_t hi[32], hr[32], pk[32];

    (void)state;
    make_keys(&k);
    ik_pair(&k, &init, &resp);
    assert_true(kw_noise_hs_needs_write(init));
    assert_false(kw_noise_hs_needs_write(resp));
    assert_int_equal(hs_transfer(init, resp, "hello from the initiator"), KW_ERR_OK);
    assert_false(kw_noise_hs_is_done(resp));
    assert_true(kw_noise_hs_needs_write(resp));
    assert_int_equal(hs_transfer(resp, init, "hello from the responder"), KW_ERR_OK);
    assert_true(kw_noise_hs_is_done(init));
    assert_true(kw_noise_hs_is_done(resp));
    assert_false(kw_noise_hs_needs_write(init));

    assert_int_equal(kw_noise_hs_handshake_hash(init, hi), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_handshake_hash(resp, hr), KW_ERR_OK);
    assert_memory_equal(hi, hr, 32);
    assert_int_equal(kw_noise_hs_remote_static(init, pk), KW_ERR_OK);
    assert_memory_equal(pk, k.resp_pk, 32);

    assert_int_equal(kw_noise_hs_split(init, &is, &ir), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_split(resp, &rs, &rr), KW_ERR_OK);
    assert_non_null(is);
    assert_non_null(ir);
    assert_non_null(rs);
    assert_non_null(rr);
    for (int i = 0; i < 3; i++) {
        transport_roundtrip(is, rr, "indicator bundle from A");
        transport_roundtrip(rs, ir, "indicator bundle from B");
    }
    /* Each direction has its own key: A's cipher cannot read what A sent. */
    {
        size_t clen = 0, plen = 0;
        assert_int_equal(kw_noise_cipher_encrypt(is, NULL, 0, (const uint8_t *)"x", 1, g_msg,
                             sizeof(g_msg), &clen),
            KW_ERR_OK);
        assert_int_equal(kw_noise_cipher_set_nonce(ir, kw_noise_cipher_nonce(is) - 1),
            KW_ERR_OK);
        assert_int_equal(kw_noise_cipher_decrypt(ir, NULL, 0, g_msg, clen, g_out,
                             sizeof(g_out), &plen),
            KW_ERR_CRYPTO);
    }
    /* The handshake hash outlives the split; a second split does not happen. */
    assert_int_equal(kw_noise_hs_handshake_hash(init, hi), KW_ERR_OK);
    assert_memory_equal(hi, hr, 32);
    {
        kw_noise_cipher *x = NULL, *y = NULL;
        assert_int_equal(kw_noise_hs_split(init, &x, &y), KW_ERR_INVAL);
        assert_null(x);
        assert_null(y);
    }
    kw_noise_cipher_free(is);
    kw_noise_cipher_free(ir);
    kw_noise_cipher_free(rs);
    kw_noise_cipher_free(rr);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

static void test_ikpsk2_responder_learns_static(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    uint8_t pk[32];

    (void)state;
    make_keys(&k);
    ik_pair(&k, &init, &resp);
    assert_int_equal(kw_noise_hs_remote_static(resp, pk), KW_ERR_NOTFOUND);
    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_OK);

    /* After message 1, before writing message 2: the roster check happens here. */
    assert_int_equal(kw_noise_hs_remote_static(resp, pk), KW_ERR_OK);
    assert_memory_equal(pk, k.init_pk, 32);
    assert_false(kw_noise_hs_is_done(resp));
    assert_true(kw_noise_hs_needs_write(resp));

    /* A caller that rejects the peer just frees the handshake; nothing was sent. */
    kw_noise_hs_free(resp);
    kw_noise_hs_free(init);
}

/* The responder may also choose the PSK after seeing who the initiator is. */
static void test_ikpsk2_late_psk(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    uint8_t pk[32];
    size_t len = 0;

    (void)state;
    make_keys(&k);
    assert_int_equal(kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_remote_static(init, k.resp_pk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(init, k.psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(resp, k.resp_sk), KW_ERR_OK);
    assert_int_equal(hs_transfer(init, resp, "m1"), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_remote_static(resp, pk), KW_ERR_OK);

    /* Without its PSK, message 2 cannot be written, and the state is left as it was. */
    assert_int_equal(kw_noise_hs_write_message(resp, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_INVAL);
    assert_true(kw_noise_hs_needs_write(resp));
    assert_int_equal(kw_noise_hs_add_psk(resp, k.psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(resp, k.psk), KW_ERR_INVAL); /* Only one psk token. */
    assert_int_equal(hs_transfer(resp, init, "m2"), KW_ERR_OK);
    assert_true(kw_noise_hs_is_done(init));
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

static void test_ikpsk2_wrong_psk(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    uint8_t other[32], pk[32];
    size_t len = 0;

    (void)state;
    make_keys(&k);
    randombytes_buf(other, sizeof(other));

    /* A stranger without the community key: message 1 still reads (psk2 comes later)... */
    assert_int_equal(kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_remote_static(init, k.resp_pk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(init, other), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(resp, k.resp_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(resp, k.psk), KW_ERR_OK);
    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_OK);
    /* ...but the initiator cannot read message 2, and is then unusable. */
    assert_int_equal(hs_transfer(resp, init, "welcome"), KW_ERR_CRYPTO);
    assert_false(kw_noise_hs_is_done(init));
    assert_int_equal(kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_read_message(init, g_msg, 48, g_out, sizeof(g_out), &len),
        KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_remote_static(init, pk), KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_handshake_hash(init, pk), KW_ERR_INVAL);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);

    /* The same with the roles' keys swapped: the responder holds the wrong key. */
    ik_pair(&k, &init, &resp);
    kw_noise_hs_free(resp);
    assert_int_equal(kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(resp, k.resp_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(resp, other), KW_ERR_OK);
    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_OK);
    assert_int_equal(hs_transfer(resp, init, NULL), KW_ERR_CRYPTO);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);

    /* With psk0 the responder is the one that notices, on message 1. */
    assert_int_equal(kw_noise_hs_new(&init, "Noise_NNpsk0_25519_ChaChaPoly_SHA256", true,
                         PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_new(&resp, "Noise_NNpsk0_25519_ChaChaPoly_SHA256", false,
                         PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(init, k.psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(resp, other), KW_ERR_OK);
    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_CRYPTO);
    assert_false(kw_noise_hs_needs_write(resp));
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

static void test_ikpsk2_wrong_responder_static(void **state)
{
    struct keys k, wrong;
    kw_noise_hs *init = NULL, *resp = NULL;
    uint8_t pk[32];

    (void)state;
    make_keys(&k);
    make_keys(&wrong);
    assert_int_equal(kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_remote_static(init, wrong.resp_pk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(init, k.psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false, PROLOGUE, PROLOGUE_LEN),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(resp, k.resp_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(resp, k.psk), KW_ERR_OK);

    /* The initiator encrypted its static key to someone else: message 1 fails to open. */
    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_CRYPTO);
    assert_int_equal(kw_noise_hs_remote_static(resp, pk), KW_ERR_INVAL);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);

    /* A different prologue fails the same way. */
    ik_pair(&k, &init, &resp);
    kw_noise_hs_free(resp);
    assert_int_equal(kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false, (const uint8_t *)"kawan/2",
                         7),
        KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(resp, k.resp_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(resp, k.psk), KW_ERR_OK);
    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_CRYPTO);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

static void test_ikpsk2_damaged_message(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    size_t len = 0, plen = 0;

    (void)state;
    make_keys(&k);
    ik_pair(&k, &init, &resp);
    assert_int_equal(kw_noise_hs_write_message(init, (const uint8_t *)"abc", 3, g_msg,
                         sizeof(g_msg), &len),
        KW_ERR_OK);
    assert_int_equal(len, 32 + 48 + 3 + 16);

    /* Too short for e, the encrypted s and a tag: rejected before anything changes... */
    assert_int_equal(kw_noise_hs_read_message(resp, g_msg, 95, g_out, sizeof(g_out), &plen),
        KW_ERR_DECODE);
    /* ...as is a payload buffer that is too small... */
    assert_int_equal(kw_noise_hs_read_message(resp, g_msg, len, g_out, 2, &plen),
        KW_ERR_INVAL);
    /* ...so the real message still reads. */
    assert_int_equal(kw_noise_hs_read_message(resp, g_msg, len, g_out, sizeof(g_out), &plen),
        KW_ERR_OK);
    assert_int_equal(plen, 3);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);

    /* Any flipped byte in message 1 is caught. */
    for (size_t i = 0; i < 32 + 48 + 3 + 16; i += 7) {
        ik_pair(&k, &init, &resp);
        assert_int_equal(kw_noise_hs_write_message(init, (const uint8_t *)"abc", 3, g_msg,
                             sizeof(g_msg), &len),
            KW_ERR_OK);
        g_msg[i] ^= 0x10;
        assert_int_equal(kw_noise_hs_read_message(resp, g_msg, len, g_out, sizeof(g_out),
                             &plen),
            KW_ERR_CRYPTO);
        kw_noise_hs_free(init);
        kw_noise_hs_free(resp);
    }

    /* A low-order ephemeral key (all zeros) makes the DH fail. */
    ik_pair(&k, &init, &resp);
    assert_int_equal(kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_OK);
    memset(g_msg, 0, 32);
    assert_int_equal(kw_noise_hs_read_message(resp, g_msg, len, g_out, sizeof(g_out), &plen),
        KW_ERR_CRYPTO);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

/* ---------------------------------------------------------------- Limits */

static void test_message_limits(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    kw_noise_cipher *a = NULL, *b = NULL;
    uint8_t key[32];
    uint8_t *big = NULL;
    size_t len = 0, plen = 0;
    /* IKpsk2 message 1 carries e (32), s (32 + 16) and the payload's tag (16). */
    const size_t max_payload1 = KW_NOISE_MAX_MSG - 96;

    (void)state;
    big = calloc(1, KW_NOISE_MAX_MSG + 2);
    assert_non_null(big);
    make_keys(&k);
    ik_pair(&k, &init, &resp);

    /* One byte too many for message 1 is refused, and nothing changes... */
    assert_int_equal(kw_noise_hs_write_message(init, big, max_payload1 + 1, g_msg,
                         sizeof(g_msg), &len),
        KW_ERR_TOOBIG);
    assert_int_equal(kw_noise_hs_write_message(init, big, SIZE_MAX, g_msg, sizeof(g_msg), &len),
        KW_ERR_TOOBIG);
    /* ...as is an output buffer one byte short... */
    assert_int_equal(kw_noise_hs_write_message(init, big, max_payload1, g_msg,
                         KW_NOISE_MAX_MSG - 1, &len),
        KW_ERR_INVAL);
    /* ...so exactly 65535 bytes then works. */
    assert_int_equal(kw_noise_hs_write_message(init, big, max_payload1, g_msg, sizeof(g_msg),
                         &len),
        KW_ERR_OK);
    assert_int_equal(len, KW_NOISE_MAX_MSG);

    /* A received message over 65535 bytes is refused before it is looked at. */
    assert_int_equal(kw_noise_hs_read_message(resp, big, KW_NOISE_MAX_MSG + 1, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_TOOBIG);
    assert_int_equal(kw_noise_hs_read_message(resp, g_msg, len, g_out, sizeof(g_out), &plen),
        KW_ERR_OK);
    assert_int_equal(plen, max_payload1);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);

    /* Transport: 65519 bytes of payload is the most that fits. */
    cipher_pair(&a, &b, key);
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, big, KW_NOISE_MAX_PAYLOAD + 1, g_msg,
                         sizeof(g_msg), &len),
        KW_ERR_TOOBIG);
    assert_int_equal(kw_noise_cipher_nonce(a), 0);
    assert_int_equal(kw_noise_cipher_encrypt(a, NULL, 0, big, KW_NOISE_MAX_PAYLOAD, g_msg,
                         sizeof(g_msg), &len),
        KW_ERR_OK);
    assert_int_equal(len, KW_NOISE_MAX_MSG);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, big, KW_NOISE_MAX_MSG + 1, g_out,
                         sizeof(g_out), &plen),
        KW_ERR_TOOBIG);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, g_msg, len, g_out,
                         KW_NOISE_MAX_PAYLOAD - 1, &plen),
        KW_ERR_INVAL);
    assert_int_equal(kw_noise_cipher_decrypt(b, NULL, 0, g_msg, len, g_out, sizeof(g_out),
                         &plen),
        KW_ERR_OK);
    assert_int_equal(plen, KW_NOISE_MAX_PAYLOAD);
    kw_noise_cipher_free(a);
    kw_noise_cipher_free(b);
    free(big);
}

/* ---------------------------------------------------------------- Names and states */

static void test_protocol_names(void **state)
{
    static const struct {
        const char *name;
        kw_err rc;
    } cases[] = {
        { "Noise_IKpsk2_25519_ChaChaPoly_SHA256", KW_ERR_OK },
        { "Noise_XX_25519_ChaChaPoly_SHA256", KW_ERR_OK },
        { "Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA256", KW_ERR_OK },
        { "Noise_XXpsk0+psk1+psk2+psk3_25519_ChaChaPoly_SHA256", KW_ERR_OK },
        { "Noise_Npsk1_25519_ChaChaPoly_SHA256", KW_ERR_OK },
        { "Noise_X1K1_25519_ChaChaPoly_SHA256", KW_ERR_OK },
        { "Noise_IK_25519_AESGCM_SHA256", KW_ERR_UNSUPPORTED },
        { "Noise_IK_448_ChaChaPoly_SHA256", KW_ERR_UNSUPPORTED },
        { "Noise_IK_25519_ChaChaPoly_BLAKE2s", KW_ERR_UNSUPPORTED },
        { "Noise_XXfallback_25519_ChaChaPoly_SHA256", KW_ERR_UNSUPPORTED },
        { "Noise_XXfallback+psk0_25519_ChaChaPoly_SHA256", KW_ERR_UNSUPPORTED },
        { "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_SHA256", KW_ERR_UNSUPPORTED },
        { "Noise_QQ_25519_ChaChaPoly_SHA256", KW_ERR_UNSUPPORTED },
        { "NoisePSK_IK_25519_ChaChaPoly_SHA256", KW_ERR_UNSUPPORTED },
        { "Noise_NNpsk3_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_Npsk2_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_NNpsk0+psk0_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_NNpsk_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_NNpsk01_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_NNpsk0+_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_psk0_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "Noise_IK_25519_ChaChaPoly", KW_ERR_INVAL },
        { "Noise_IK_25519_ChaChaPoly_SHA256_", KW_ERR_INVAL },
        { "Noise__IK_25519_ChaChaPoly_SHA256", KW_ERR_INVAL },
        { "", KW_ERR_INVAL },
    };
    kw_noise_hs *hs = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kw_err rc = kw_noise_hs_new(&hs, cases[i].name, true, NULL, 0);
        if (rc != cases[i].rc) {
            fail_msg("%s: got %s, want %s", cases[i].name, kw_errname(rc),
                kw_errname(cases[i].rc));
        }
        assert_true((rc == KW_ERR_OK) == (hs != NULL));
        kw_noise_hs_free(hs);
        hs = NULL;
    }
    assert_int_equal(kw_noise_hs_new(&hs, NULL, true, NULL, 0), KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_new(&hs, KW_NOISE_PROTOCOL, true, NULL, 3), KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_new(NULL, KW_NOISE_PROTOCOL, true, NULL, 0), KW_ERR_INVAL);
}

static void test_state_rules(void **state)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    kw_noise_cipher *s = NULL, *r = NULL;
    uint8_t h[32];
    size_t len = 0;

    (void)state;
    make_keys(&k);
    ik_pair(&k, &init, &resp);

    /* Out of turn, in either direction. */
    assert_int_equal(kw_noise_hs_write_message(resp, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_read_message(init, g_msg, 100, g_out, sizeof(g_out), &len),
        KW_ERR_INVAL);
    /* Nothing to hash or split yet. */
    assert_int_equal(kw_noise_hs_handshake_hash(init, h), KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_split(init, &s, &r), KW_ERR_INVAL);
    /* IK's initiator sends its static key, so the responder cannot be told it in advance. */
    assert_int_equal(kw_noise_hs_set_remote_static(resp, k.init_pk), KW_ERR_INVAL);
    /* One psk token, so one PSK. */
    assert_int_equal(kw_noise_hs_add_psk(init, k.psk), KW_ERR_INVAL);

    assert_int_equal(hs_transfer(init, resp, NULL), KW_ERR_OK);
    /* Keys are fixed once the handshake has started. */
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_set_ephemeral(resp, k.resp_sk), KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_set_remote_static(init, k.resp_pk), KW_ERR_INVAL);
    assert_int_equal(hs_transfer(resp, init, NULL), KW_ERR_OK);
    /* Done: no more handshake messages. */
    assert_int_equal(kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_INVAL);
    assert_int_equal(kw_noise_hs_read_message(resp, g_msg, 48, g_out, sizeof(g_out), &len),
        KW_ERR_INVAL);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);

    /* A missing static key is reported before anything is written. */
    assert_int_equal(kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true, NULL, 0), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_remote_static(init, k.resp_pk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(init, k.psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_INVAL);
    assert_true(kw_noise_hs_needs_write(init));
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_OK);
    kw_noise_hs_free(init);

    /* So is a missing remote static key. */
    assert_int_equal(kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true, NULL, 0), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_add_psk(init, k.psk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len),
        KW_ERR_INVAL);
    kw_noise_hs_free(init);

    /* NULL is harmless where the header says so. */
    kw_noise_hs_free(NULL);
    kw_noise_cipher_free(NULL);
    assert_false(kw_noise_hs_is_done(NULL));
    assert_false(kw_noise_hs_needs_write(NULL));
    assert_int_equal(kw_noise_cipher_nonce(NULL), 0);
}

/* ---------------------------------------------------------------- Every pattern */

/*
 * Runs a whole handshake in process for name, giving each side every key it could need, then
 * checks both hashes agree and the transport ciphers work in every direction there is.
 */
static void run_pattern(const char *name, bool one_way)
{
    struct keys k;
    kw_noise_hs *init = NULL, *resp = NULL;
    kw_noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
    uint8_t psk2[32], hi[32], hr[32];
    kw_err rc;
    int messages = 0;

    make_keys(&k);
    randombytes_buf(psk2, sizeof(psk2));
    if (kw_noise_hs_new(&init, name, true, PROLOGUE, PROLOGUE_LEN) != KW_ERR_OK
        || kw_noise_hs_new(&resp, name, false, PROLOGUE, PROLOGUE_LEN) != KW_ERR_OK) {
        fail_msg("%s: kw_noise_hs_new failed", name);
    }
    assert_int_equal(kw_noise_hs_set_static(init, k.init_sk), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_set_static(resp, k.resp_sk), KW_ERR_OK);
    /* Refused (INVAL) where the pattern sends the key instead; that is the point. */
    rc = kw_noise_hs_set_remote_static(init, k.resp_pk);
    assert_true(rc == KW_ERR_OK || rc == KW_ERR_INVAL);
    rc = kw_noise_hs_set_remote_static(resp, k.init_pk);
    assert_true(rc == KW_ERR_OK || rc == KW_ERR_INVAL);
    for (int i = 0; i < 5; i++) {
        const uint8_t *p = i % 2 == 0 ? k.psk : psk2;
        if (kw_noise_hs_add_psk(init, p) != KW_ERR_OK) {
            assert_int_equal(kw_noise_hs_add_psk(resp, p), KW_ERR_INVAL);
            break;
        }
        assert_int_equal(kw_noise_hs_add_psk(resp, p), KW_ERR_OK);
    }

    while (!kw_noise_hs_is_done(init) || !kw_noise_hs_is_done(resp)) {
        kw_noise_hs *from = kw_noise_hs_needs_write(init) ? init : resp;
        kw_noise_hs *to = from == init ? resp : init;
        if (!kw_noise_hs_needs_write(from) || messages++ > 4) {
            fail_msg("%s: stuck after %d messages", name, messages);
        }
        rc = hs_transfer(from, to, "payload");
        if (rc != KW_ERR_OK) {
            fail_msg("%s: message %d: %s", name, messages, kw_errname(rc));
        }
    }
    assert_int_equal(kw_noise_hs_handshake_hash(init, hi), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_handshake_hash(resp, hr), KW_ERR_OK);
    assert_memory_equal(hi, hr, 32);
    assert_int_equal(kw_noise_hs_split(init, &is, &ir), KW_ERR_OK);
    assert_int_equal(kw_noise_hs_split(resp, &rs, &rr), KW_ERR_OK);
    assert_non_null(is);
    assert_non_null(rr);
    transport_roundtrip(is, rr, "to the responder");
    if (one_way) {
        /* Only the initiator sends in a one-way pattern. */
        assert_null(ir);
        assert_null(rs);
    } else {
        assert_non_null(ir);
        assert_non_null(rs);
        transport_roundtrip(rs, ir, "to the initiator");
    }
    kw_noise_cipher_free(is);
    kw_noise_cipher_free(ir);
    kw_noise_cipher_free(rs);
    kw_noise_cipher_free(rr);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

static void test_all_patterns(void **state)
{
    static const struct {
        const char *base;
        int messages;
    } bases[] = {
        { "N", 1 }, { "K", 1 }, { "X", 1 }, { "NN", 2 }, { "NK", 2 }, { "NX", 2 },
        { "KN", 2 }, { "KK", 2 }, { "KX", 2 }, { "XN", 3 }, { "XK", 3 }, { "XX", 3 },
        { "IN", 2 }, { "IK", 2 }, { "IX", 2 }, { "NK1", 2 }, { "NX1", 3 }, { "X1N", 4 },
        { "X1K", 4 }, { "XK1", 3 }, { "X1K1", 4 }, { "X1X", 4 }, { "XX1", 3 }, { "X1X1", 4 },
        { "K1N", 3 }, { "K1K", 3 }, { "KK1", 2 }, { "K1K1", 3 }, { "K1X", 3 }, { "KX1", 3 },
        { "K1X1", 3 }, { "I1N", 3 }, { "I1K", 3 }, { "IK1", 2 }, { "I1K1", 3 }, { "I1X", 3 },
        { "IX1", 3 }, { "I1X1", 3 },
    };
    char name[128];
    int count = 0;

    (void)state;
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
        char mods[64] = "";
        /* No psk, each single pskN, and all of them at once. */
        snprintf(name, sizeof(name), "Noise_%s_25519_ChaChaPoly_SHA256", bases[b].base);
        run_pattern(name, bases[b].messages == 1);
        count++;
        for (int n = 0; n <= bases[b].messages; n++) {
            char one[16];
            snprintf(name, sizeof(name), "Noise_%spsk%d_25519_ChaChaPoly_SHA256", bases[b].base,
                n);
            run_pattern(name, bases[b].messages == 1);
            count++;
            snprintf(one, sizeof(one), "%spsk%d", n == 0 ? "" : "+", n);
            strcat(mods, one);
        }
        snprintf(name, sizeof(name), "Noise_%s%s_25519_ChaChaPoly_SHA256", bases[b].base, mods);
        run_pattern(name, bases[b].messages == 1);
        count++;
    }
    assert_true(count > 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cipher_roundtrip),
        cmocka_unit_test(test_cipher_tamper),
        cmocka_unit_test(test_cipher_nonce_exhaustion),
        cmocka_unit_test(test_cipher_rekey),
        cmocka_unit_test(test_ikpsk2_handshake),
        cmocka_unit_test(test_ikpsk2_responder_learns_static),
        cmocka_unit_test(test_ikpsk2_late_psk),
        cmocka_unit_test(test_ikpsk2_wrong_psk),
        cmocka_unit_test(test_ikpsk2_wrong_responder_static),
        cmocka_unit_test(test_ikpsk2_damaged_message),
        cmocka_unit_test(test_message_limits),
        cmocka_unit_test(test_protocol_names),
        cmocka_unit_test(test_state_rules),
        cmocka_unit_test(test_all_patterns),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("noise", tests, NULL, NULL);
}
