/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_noise: how fast crypto/noise is, on one core.
 *
 *     bench_noise [SCALE]
 *
 * Prints the median of 5 runs of: complete IKpsk2 handshakes per second with both sides in
 * this process (including creating, keying, splitting and freeing both handshakes), raw
 * libsodium ChaCha20-Poly1305-IETF encryption of 64 KiB messages, and kw_noise_cipher_encrypt
 * of 65519-byte payloads (the largest that fit a Noise message), with the ratio of the last
 * two. MB is 10^6 bytes. SCALE (default 1) multiplies the work per run. It never fails on
 * speed; the figures are for reading.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/noise.h"

#define RUNS 5
#define RAW_MSG (64 * 1024)
#define BLOCK 50

static uint8_t g_in[RAW_MSG];
static uint8_t g_out[RAW_MSG + 64];
static uint8_t g_msg[KW_NOISE_MAX_MSG];
static uint8_t g_payload[KW_NOISE_MAX_MSG];

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double v[static RUNS])
{
    qsort(v, RUNS, sizeof(v[0]), cmp_double);
    return v[RUNS / 2];
}

static void die(const char *what, kw_err rc)
{
    fprintf(stderr, "bench_noise: %s: %s\n", what, kw_strerror(rc));
    exit(1);
}

/* One complete IKpsk2 handshake, both sides, as a kawan node would run it. */
static void handshake(const uint8_t isk[32], const uint8_t rsk[32], const uint8_t rpk[32],
    const uint8_t psk[32])
{
    kw_noise_hs *init = NULL, *resp = NULL;
    kw_noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
    size_t len = 0, plen = 0;
    kw_err rc;

    if ((rc = kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true,
             (const uint8_t *)KW_NOISE_PROLOGUE, strlen(KW_NOISE_PROLOGUE)))
            != KW_ERR_OK
        || (rc = kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false,
                (const uint8_t *)KW_NOISE_PROLOGUE, strlen(KW_NOISE_PROLOGUE)))
            != KW_ERR_OK
        || (rc = kw_noise_hs_set_static(init, isk)) != KW_ERR_OK
        || (rc = kw_noise_hs_set_remote_static(init, rpk)) != KW_ERR_OK
        || (rc = kw_noise_hs_add_psk(init, psk)) != KW_ERR_OK
        || (rc = kw_noise_hs_set_static(resp, rsk)) != KW_ERR_OK
        || (rc = kw_noise_hs_add_psk(resp, psk)) != KW_ERR_OK
        || (rc = kw_noise_hs_write_message(init, NULL, 0, g_msg, sizeof(g_msg), &len))
            != KW_ERR_OK
        || (rc = kw_noise_hs_read_message(resp, g_msg, len, g_payload, sizeof(g_payload),
                &plen))
            != KW_ERR_OK
        || (rc = kw_noise_hs_write_message(resp, NULL, 0, g_msg, sizeof(g_msg), &len))
            != KW_ERR_OK
        || (rc = kw_noise_hs_read_message(init, g_msg, len, g_payload, sizeof(g_payload),
                &plen))
            != KW_ERR_OK
        || (rc = kw_noise_hs_split(init, &is, &ir)) != KW_ERR_OK
        || (rc = kw_noise_hs_split(resp, &rs, &rr)) != KW_ERR_OK) {
        die("handshake", rc);
    }
    kw_noise_cipher_free(is);
    kw_noise_cipher_free(ir);
    kw_noise_cipher_free(rs);
    kw_noise_cipher_free(rr);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
}

int main(int argc, char **argv)
{
    uint8_t isk[32], rsk[32], rpk[32], psk[32], key[32];
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = { 0 };
    double hs_rate[RUNS], raw_rate[RUNS], kw_rate[RUNS];
    long scale = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
    long handshakes, messages;
    kw_noise_cipher *c = NULL;
    kw_err rc;

    if (sodium_init() < 0) {
        fprintf(stderr, "bench_noise: libsodium cannot be initialised\n");
        return 1;
    }
    if (scale < 1) {
        scale = 1;
    }
    handshakes = 400 * scale;
    messages = 2000 * scale;
    randombytes_buf(isk, sizeof(isk));
    randombytes_buf(rsk, sizeof(rsk));
    randombytes_buf(psk, sizeof(psk));
    randombytes_buf(key, sizeof(key));
    randombytes_buf(g_in, sizeof(g_in));
    crypto_scalarmult_base(rpk, rsk);
    if ((rc = kw_noise_cipher_new(&c, key)) != KW_ERR_OK) {
        die("kw_noise_cipher_new", rc);
    }

    for (int r = 0; r < RUNS; r++) {
        double t0, t1, raw_time, kw_time;
        unsigned long long clen = 0;
        size_t out_len = 0;

        t0 = now();
        for (long i = 0; i < handshakes; i++) {
            handshake(isk, rsk, rpk, psk);
        }
        hs_rate[r] = (double)handshakes / (now() - t0);

        /*
         * The two encryption loops alternate in blocks, so that both see the same machine
         * (frequency changes, other processes) and their ratio stays meaningful.
         */
        raw_time = 0;
        kw_time = 0;
        for (long done = 0; done < messages; done += BLOCK) {
            t0 = now();
            for (long i = done; i < done + BLOCK; i++) {
                /* A fresh nonce per message, as a real sender would use. */
                for (int b = 0; b < 8; b++) {
                    nonce[4 + b] = (uint8_t)((uint64_t)i >> (8 * b));
                }
                crypto_aead_chacha20poly1305_ietf_encrypt(g_out, &clen, g_in, RAW_MSG, NULL, 0,
                    NULL, nonce, key);
            }
            t1 = now();
            for (long i = done; i < done + BLOCK; i++) {
                if ((rc = kw_noise_cipher_encrypt(c, NULL, 0, g_in, KW_NOISE_MAX_PAYLOAD, g_out,
                         sizeof(g_out), &out_len))
                    != KW_ERR_OK) {
                    die("kw_noise_cipher_encrypt", rc);
                }
            }
            kw_time += now() - t1;
            raw_time += t1 - t0;
        }
        raw_rate[r] = (double)messages * RAW_MSG / 1e6 / raw_time;
        kw_rate[r] = (double)messages * KW_NOISE_MAX_PAYLOAD / 1e6 / kw_time;
    }
    kw_noise_cipher_free(c);

    {
        double hs = median(hs_rate), raw = median(raw_rate), kw = median(kw_rate);
        printf("crypto/noise, median of %d runs (%ld handshakes, %ld messages per run)\n", RUNS,
            handshakes, messages);
        printf("%-48s %12s  %s\n", "benchmark", "median", "unit");
        printf("%-48s %12.1f  %s\n", "IKpsk2 handshake, both sides, one thread", hs,
            "handshakes/s");
        printf("%-48s %12.1f  %s\n", "chacha20-poly1305-ietf encrypt, 64 KiB", raw, "MB/s");
        printf("%-48s %12.1f  %s\n", "kw_noise_cipher_encrypt, 65519 B payload", kw, "MB/s");
        printf("%-48s %12.3f  %s\n", "ratio kw_noise_cipher / raw", kw / raw, "");
    }
    return 0;
}
