/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for node/framer: application messages sealed into Noise transport messages
 * and read back through the receive buffers, with the stream cut into reads of every kind
 * of size; the limits (zero lengths, oversized messages, a prefix that promises more than
 * arrives); tampering; and sealing in pieces giving the same bytes as sealing at once.
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

#include "node/framer.h"

#define MSG_MAX (4u * 1024u * 1024u)

/* A sending and a receiving cipher under the same key, as the two ends of a session. */
static void cipher_pair(kw_noise_cipher **tx, kw_noise_cipher **rx)
{
    uint8_t key[KW_NOISE_KEYLEN];

    randombytes_buf(key, sizeof(key));
    assert_int_equal(kw_noise_cipher_new(tx, key), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_new(rx, key), KW_ERR_OK);
}

/* Seals every message into one wire stream. */
static uint8_t *seal_all(kw_noise_cipher *tx, uint8_t **msgs, const size_t *lens, int n,
    size_t *wire_len)
{
    size_t total = 0, o = 0;
    uint8_t *wire;

    for (int i = 0; i < n; i++) {
        total += kw_tx_sealed_size(lens[i]);
    }
    wire = malloc(total);
    assert_non_null(wire);
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        assert_int_equal(kw_tx_seal(tx, msgs[i], lens[i], wire + o, total - o, &len), KW_ERR_OK);
        assert_int_equal(len, kw_tx_sealed_size(lens[i]));
        o += len;
    }
    *wire_len = o;
    return wire;
}

/* Feeds wire to r in reads of the sizes cycling through steps; checks that the messages come
 * out equal to msgs, in order. Returns the number of messages received. */
static int receive_all(kw_rx *r, kw_noise_cipher *rx, const uint8_t *wire, size_t wire_len,
    const size_t *steps, int nsteps, uint8_t **msgs, const size_t *lens, int n)
{
    size_t off = 0;
    int got = 0, s = 0;

    while (off < wire_len) {
        uint8_t *p;
        size_t room = 0, piece = steps[s++ % nsteps];
        assert_int_equal(kw_rx_space(r, &p, &room), KW_ERR_OK);
        assert_true(room > 0);
        if (piece > room) {
            piece = room;
        }
        if (piece > wire_len - off) {
            piece = wire_len - off;
        }
        memcpy(p, wire + off, piece);
        kw_rx_landed(r, piece);
        off += piece;
        for (;;) {
            const uint8_t *f, *m;
            size_t fl = 0, ml = 0;
            kw_err rc = kw_rx_frame(r, &f, &fl);
            if (rc == KW_ERR_AGAIN) {
                break;
            }
            assert_int_equal(rc, KW_ERR_OK);
            assert_int_equal(kw_rx_open(r, rx, f, fl), KW_ERR_OK);
            while ((rc = kw_rx_message(r, &m, &ml)) == KW_ERR_OK) {
                assert_true(got < n);
                assert_int_equal(ml, lens[got]);
                assert_memory_equal(m, msgs[got], ml);
                got++;
            }
            assert_int_equal(rc, KW_ERR_AGAIN);
        }
    }
    assert_false(kw_rx_frame_partial(r));
    assert_false(kw_rx_message_partial(r));
    return got;
}

static void test_round_trips(void **state)
{
    /* Tiny messages many to a frame, messages of exactly one and two frames' worth, one of
     * 3 MiB across many frames, and sizes around the chunk boundaries. */
    size_t lens[] = { 1, 7, 100, KW_NOISE_MAX_PAYLOAD - 4, KW_NOISE_MAX_PAYLOAD - 3,
        KW_NOISE_MAX_PAYLOAD, 2 * KW_NOISE_MAX_PAYLOAD - 4, 3u * 1024u * 1024u, 5, 65536,
        1024u * 1024u, 2 };
    const int n = (int)(sizeof(lens) / sizeof(lens[0]));
    uint8_t *msgs[sizeof(lens) / sizeof(lens[0])];
    size_t steps_a[] = { 1, 2, 3, 65537 };
    size_t steps_b[] = { 1u << 20 };
    size_t steps_c[] = { 4093, 17, 70000, 131072, 5 };
    const size_t *steps[] = { steps_a, steps_b, steps_c };
    const int nsteps[] = { 4, 1, 5 };
    (void)state;

    for (int i = 0; i < n; i++) {
        msgs[i] = malloc(lens[i]);
        assert_non_null(msgs[i]);
        randombytes_buf(msgs[i], lens[i]);
    }
    for (int k = 0; k < 3; k++) {
        kw_noise_cipher *tx, *rx;
        kw_rx r;
        size_t wire_len = 0;
        cipher_pair(&tx, &rx);
        uint8_t *wire = seal_all(tx, msgs, lens, n, &wire_len);
        kw_rx_init(&r, MSG_MAX);
        assert_int_equal(receive_all(&r, rx, wire, wire_len, steps[k], nsteps[k], msgs, lens, n), n);
        /* Both sides used the same number of nonces. */
        assert_int_equal(kw_noise_cipher_nonce(tx), kw_noise_cipher_nonce(rx));
        kw_rx_free(&r);
        free(wire);
        kw_noise_cipher_free(tx);
        kw_noise_cipher_free(rx);
    }
    for (int i = 0; i < n; i++) {
        free(msgs[i]);
    }
}

static void test_pieces_equal_whole(void **state)
{
    size_t len = 300000, whole_len = 0, o = 0;
    uint8_t *msg = malloc(len), *whole = malloc(kw_tx_sealed_size(len)),
            *pieced = malloc(kw_tx_sealed_size(len)), key[KW_NOISE_KEYLEN];
    kw_noise_cipher *a, *b;
    kw_tx t;
    int pieces = 0;
    (void)state;

    assert_non_null(msg);
    assert_non_null(whole);
    assert_non_null(pieced);
    randombytes_buf(msg, len);
    randombytes_buf(key, sizeof(key));
    assert_int_equal(kw_noise_cipher_new(&a, key), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_new(&b, key), KW_ERR_OK);
    assert_int_equal(kw_tx_seal(a, msg, len, whole, kw_tx_sealed_size(len), &whole_len), KW_ERR_OK);
    assert_int_equal(kw_tx_begin(&t, msg, len), KW_ERR_OK);
    while (!kw_tx_done(&t)) {
        size_t got = 0;
        assert_int_equal(kw_tx_seal_some(&t, b, pieced + o, KW_TX_PIECE_MIN, &got), KW_ERR_OK);
        assert_true(got > 0 && got <= KW_TX_PIECE_MIN);
        o += got;
        pieces++;
    }
    assert_int_equal(o, whole_len);
    assert_memory_equal(pieced, whole, whole_len);
    assert_int_equal(pieces, (int)((len + 4 + KW_NOISE_MAX_PAYLOAD - 1) / KW_NOISE_MAX_PAYLOAD));
    /* Too little room for even one Noise message, and empty messages, are refused. */
    {
        size_t got = 0;
        uint8_t small[64];
        assert_int_equal(kw_tx_begin(&t, msg, len), KW_ERR_OK);
        assert_int_equal(kw_tx_seal_some(&t, b, small, sizeof(small), &got), KW_ERR_INVAL);
        assert_int_equal(kw_tx_seal(b, msg, 0, whole, kw_tx_sealed_size(len), &got), KW_ERR_INVAL);
        assert_int_equal(kw_tx_seal(b, msg, len, whole, kw_tx_sealed_size(len) - 1, &got),
            KW_ERR_INVAL);
    }
    kw_noise_cipher_free(a);
    kw_noise_cipher_free(b);
    free(msg);
    free(whole);
    free(pieced);
}

/* Puts raw bytes into the frame buffer. */
static void land(kw_rx *r, const uint8_t *p, size_t len)
{
    uint8_t *dst;
    size_t room = 0;

    assert_int_equal(kw_rx_space(r, &dst, &room), KW_ERR_OK);
    assert_true(room >= len);
    memcpy(dst, p, len);
    kw_rx_landed(r, len);
}

/* Puts decrypted-stream bytes straight into the message buffer. */
static void plain(kw_rx *r, const uint8_t *p, size_t len)
{
    uint8_t *dst;

    assert_int_equal(kw_rx_plain_reserve(r, len, &dst), KW_ERR_OK);
    memcpy(dst, p, len);
    kw_rx_plain_commit(r, len);
}

static void test_limits(void **state)
{
    kw_rx r;
    const uint8_t *f, *m;
    size_t fl = 0, ml = 0;
    (void)state;

    /* A zero-length frame. */
    kw_rx_init(&r, 1000);
    land(&r, (const uint8_t[]){ 0, 0, 1 }, 3);
    assert_int_equal(kw_rx_frame(&r, &f, &fl), KW_ERR_DECODE);
    kw_rx_free(&r);

    /* A frame announced but not all there: nothing yet, and it counts as begun. */
    kw_rx_init(&r, 1000);
    land(&r, (const uint8_t[]){ 0xff, 0xff, 1, 2, 3 }, 5);
    assert_int_equal(kw_rx_frame(&r, &f, &fl), KW_ERR_AGAIN);
    assert_true(kw_rx_frame_partial(&r));
    kw_rx_free(&r);

    /* Zero and oversized message lengths are refused as soon as the prefix is complete,
     * and a prefix promising a large message reserves nothing beyond what arrived. */
    kw_rx_init(&r, 1000);
    plain(&r, (const uint8_t[]){ 0, 0, 0 }, 3);
    assert_int_equal(kw_rx_message(&r, &m, &ml), KW_ERR_AGAIN);
    plain(&r, (const uint8_t[]){ 0 }, 1);
    assert_int_equal(kw_rx_message(&r, &m, &ml), KW_ERR_DECODE);
    kw_rx_free(&r);
    kw_rx_init(&r, 1000);
    plain(&r, (const uint8_t[]){ 0, 0, 0x03, 0xe9, 'x' }, 5);
    assert_int_equal(kw_rx_message(&r, &m, &ml), KW_ERR_TOOBIG);
    kw_rx_free(&r);
    kw_rx_init(&r, MSG_MAX);
    plain(&r, (const uint8_t[]){ 0, 0x3f, 0xff, 0xff, 'x' }, 5);
    assert_int_equal(kw_rx_message(&r, &m, &ml), KW_ERR_AGAIN);
    assert_true(kw_rx_message_partial(&r));
    assert_true(r.pt_cap <= 128u * 1024u);
    kw_rx_free(&r);

    /* A message near the maximum: the buffer grows to what it needs, not to the next power
     * of two beyond it. */
    kw_rx_init(&r, 1100000);
    {
        static uint8_t chunk[KW_NOISE_MAX_PAYLOAD];
        size_t left = 4 + 1100000;
        chunk[0] = 0;
        chunk[1] = 0x10;
        chunk[2] = 0xc8;
        chunk[3] = 0xe0; /* 1,100,000 */
        while (left > 0) {
            size_t take = left < sizeof(chunk) ? left : sizeof(chunk);
            plain(&r, chunk, take);
            left -= take;
            if (left > 0) {
                assert_int_equal(kw_rx_message(&r, &m, &ml), KW_ERR_AGAIN);
            }
            chunk[0] = chunk[1] = chunk[2] = chunk[3] = 0x61;
        }
        assert_int_equal(kw_rx_message(&r, &m, &ml), KW_ERR_OK);
        assert_int_equal(ml, 1100000);
        assert_true(r.pt_cap <= 4 + 1100000 + KW_NOISE_MAX_MSG);
    }
    kw_rx_free(&r);

    /* The undelivered stream is bounded even for a caller that never drains it. */
    kw_rx_init(&r, 100);
    {
        uint8_t *dst;
        assert_int_equal(kw_rx_plain_reserve(&r, 4 + 100 + KW_NOISE_MAX_MSG + 1, &dst),
            KW_ERR_TOOBIG);
    }
    kw_rx_free(&r);
}

static void test_rekey_in_step(void **state)
{
    kw_noise_cipher *tx, *rx, *plain_rx;
    kw_rx r;
    uint8_t key[KW_NOISE_KEYLEN];
    size_t lens[] = { 300000, 10 }, wire_len = 0;
    uint8_t *msgs[2];
    size_t steps[] = { 9999 };
    (void)state;

    randombytes_buf(key, sizeof(key));
    assert_int_equal(kw_noise_cipher_new(&tx, key), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_new(&rx, key), KW_ERR_OK);
    assert_int_equal(kw_noise_cipher_new(&plain_rx, key), KW_ERR_OK);
    /* Two Noise messages before the rekey point; the 300,000-byte message crosses it. */
    kw_noise_cipher_set_nonce(tx, KW_REKEY_EVERY - 2);
    kw_noise_cipher_set_nonce(rx, KW_REKEY_EVERY - 2);
    kw_noise_cipher_set_nonce(plain_rx, KW_REKEY_EVERY - 2);
    for (int i = 0; i < 2; i++) {
        msgs[i] = malloc(lens[i]);
        assert_non_null(msgs[i]);
        randombytes_buf(msgs[i], lens[i]);
    }
    uint8_t *wire = seal_all(tx, msgs, lens, 2, &wire_len);
    kw_rx_init(&r, MSG_MAX);
    assert_int_equal(receive_all(&r, rx, wire, wire_len, steps, 1, msgs, lens, 2), 2);
    kw_rx_free(&r);
    /* A receiver that did not rekey fails at the third Noise message. */
    {
        uint8_t out[KW_NOISE_MAX_MSG];
        size_t o = 0, fl, plen = 0;
        for (int i = 0; i < 3; i++) {
            fl = (size_t)wire[o] << 8 | wire[o + 1];
            kw_err rc = kw_noise_cipher_decrypt(plain_rx, NULL, 0, wire + o + 2, fl, out,
                sizeof(out), &plen);
            assert_int_equal(rc, i < 2 ? KW_ERR_OK : KW_ERR_CRYPTO);
            o += 2 + fl;
        }
    }
    free(wire);
    free(msgs[0]);
    free(msgs[1]);
    kw_noise_cipher_free(tx);
    kw_noise_cipher_free(rx);
    kw_noise_cipher_free(plain_rx);
}

static void test_tampering(void **state)
{
    kw_noise_cipher *tx, *rx;
    kw_rx r;
    uint8_t msg[1000], wire[1100];
    size_t len = 0;
    const uint8_t *f;
    size_t fl = 0;
    (void)state;

    randombytes_buf(msg, sizeof(msg));
    cipher_pair(&tx, &rx);
    assert_int_equal(kw_tx_seal(tx, msg, sizeof(msg), wire, sizeof(wire), &len), KW_ERR_OK);
    wire[len / 2] ^= 0x20;
    kw_rx_init(&r, MSG_MAX);
    land(&r, wire, len);
    assert_int_equal(kw_rx_frame(&r, &f, &fl), KW_ERR_OK);
    assert_int_equal(kw_rx_open(&r, rx, f, fl), KW_ERR_CRYPTO);
    /* Nothing reached the message stream, and the nonce did not move. */
    assert_false(kw_rx_message_partial(&r));
    assert_int_equal(kw_noise_cipher_nonce(rx), 0);
    /* Shorter than a tag. */
    assert_int_equal(kw_rx_open(&r, rx, f, KW_NOISE_TAGLEN - 1), KW_ERR_DECODE);
    kw_rx_free(&r);
    kw_noise_cipher_free(tx);
    kw_noise_cipher_free(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_pieces_equal_whole),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_rekey_in_step),
        cmocka_unit_test(test_tampering),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
