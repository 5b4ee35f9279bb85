/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz harness for crypto/noise, as kawan's transport uses it (Noise_IKpsk2, prologue
 * "kawan/1"). Every input is given to both sides of the handshake:
 *
 *   - a responder reads it as message 1 (and, if it is accepted, reports the initiator's
 *     static key, writes message 2 and splits);
 *   - an initiator that has written its message 1 reads it as message 2 (and, if it is
 *     accepted, splits and decrypts the input once more as a transport message).
 *
 * All keys, ephemeral ones included, are fixed, so an input always takes the same path: the
 * seed corpus holds a valid message 1 and a valid message 2 for exactly these keys, from
 * which the fuzzer mutates. Nothing here may crash, leak or read out of bounds, whatever the
 * input.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t g_msg[KW_NOISE_MAX_MSG];
static uint8_t g_payload[KW_NOISE_MAX_MSG];

/* Fixed test keys; the seed corpus was made with these and must be remade if they change. */
static void fill(uint8_t out[static 32], uint8_t start)
{
    for (int i = 0; i < 32; i++) {
        out[i] = (uint8_t)(start + i);
    }
}

static kw_noise_hs *make_party(bool initiator)
{
    uint8_t init_sk[32], resp_sk[32], resp_pk[32], psk[32], e[32];
    kw_noise_hs *hs = NULL;
    bool ok;

    fill(init_sk, 0x01);
    fill(resp_sk, 0x41);
    fill(psk, 0x81);
    fill(e, initiator ? 0xa1 : 0xc1);
    if (kw_noise_hs_new(&hs, KW_NOISE_PROTOCOL, initiator, (const uint8_t *)KW_NOISE_PROLOGUE,
            strlen(KW_NOISE_PROLOGUE))
        != KW_ERR_OK) {
        return NULL;
    }
    ok = kw_noise_hs_set_static(hs, initiator ? init_sk : resp_sk) == KW_ERR_OK
        && kw_noise_hs_set_ephemeral(hs, e) == KW_ERR_OK
        && kw_noise_hs_add_psk(hs, psk) == KW_ERR_OK;
    if (ok && initiator) {
        /* The responder's public key, as the initiator would find it in the roster. */
        ok = crypto_scalarmult_base(resp_pk, resp_sk) == 0
            && kw_noise_hs_set_remote_static(hs, resp_pk) == KW_ERR_OK;
    }
    if (!ok) {
        kw_noise_hs_free(hs);
        hs = NULL;
    }
    return hs;
}

static void as_responder(const uint8_t *data, size_t size)
{
    kw_noise_hs *hs = make_party(false);
    kw_noise_cipher *send = NULL, *recv = NULL;
    uint8_t pk[32];
    size_t len = 0;

    if (hs == NULL) {
        return;
    }
    if (kw_noise_hs_read_message(hs, data, size, g_payload, sizeof(g_payload), &len)
        == KW_ERR_OK) {
        /* Where kawan checks the roster. */
        if (kw_noise_hs_remote_static(hs, pk) == KW_ERR_OK
            && kw_noise_hs_write_message(hs, g_payload, len < 64 ? len : 64, g_msg,
                   sizeof(g_msg), &len)
                == KW_ERR_OK) {
            (void)kw_noise_hs_split(hs, &send, &recv);
        }
    }
    kw_noise_cipher_free(send);
    kw_noise_cipher_free(recv);
    kw_noise_hs_free(hs);
}

static void as_initiator(const uint8_t *data, size_t size)
{
    kw_noise_hs *hs = make_party(true);
    kw_noise_cipher *send = NULL, *recv = NULL;
    size_t len = 0;

    if (hs == NULL) {
        return;
    }
    if (kw_noise_hs_write_message(hs, NULL, 0, g_msg, sizeof(g_msg), &len) == KW_ERR_OK
        && kw_noise_hs_read_message(hs, data, size, g_payload, sizeof(g_payload), &len)
            == KW_ERR_OK
        && kw_noise_hs_split(hs, &send, &recv) == KW_ERR_OK) {
        (void)kw_noise_cipher_decrypt(recv, NULL, 0, data, size, g_payload, sizeof(g_payload),
            &len);
    }
    kw_noise_cipher_free(send);
    kw_noise_cipher_free(recv);
    kw_noise_hs_free(hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_responder(data, size);
    as_initiator(data, size);
    return 0;
}
