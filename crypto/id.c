/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/id.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static void base32_encode(char *out, const uint8_t *in, size_t n)
{
    uint32_t buf = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        buf = buf << 8 | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out[o++] = b32[(buf << (5 - bits)) & 31];
    }
    out[o] = '\0';
}

static int b32val(char c)
{
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }
    return -1;
}

/* Decodes exactly n bytes from unpadded base32; the unused trailing bits must be zero. */
static kw_err base32_decode(uint8_t *out, size_t n, const char *in, size_t len)
{
    uint32_t buf = 0;
    int bits = 0;
    size_t o = 0;

    if (len != (n * 8 + 4) / 5) {
        return KW_ERR_INVAL;
    }
    for (size_t i = 0; i < len; i++) {
        int v = b32val(in[i]);
        if (v < 0) {
            return KW_ERR_INVAL;
        }
        buf = buf << 5 | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            out[o++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    if (o != n || (buf & ((1u << bits) - 1)) != 0) {
        return KW_ERR_INVAL;
    }
    return KW_ERR_OK;
}

void kw_hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

kw_err kw_hex_decode(uint8_t *out, size_t n, const char *text, size_t text_len)
{
    if (text_len != 2 * n) {
        return KW_ERR_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexv(text[2 * i]), lo = hexv(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return KW_ERR_INVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return KW_ERR_OK;
}

void kw_id_encode(char out[static KW_ID_TEXT_LEN], const uint8_t key[static 32])
{
    memcpy(out, "kw1", 3);
    base32_encode(out + 3, key, 32);
}

static kw_err prefixed_decode(uint8_t key[static 32], const char *text, const char *prefix)
{
    size_t plen = strlen(prefix);
    size_t len = strlen(text);

    if (len == 64) {
        return kw_hex_decode(key, 32, text, len);
    }
    if (len <= plen || strncasecmp(text, prefix, plen) != 0) {
        return KW_ERR_INVAL;
    }
    return base32_decode(key, 32, text + plen, len - plen);
}

kw_err kw_id_decode(uint8_t key[static 32], const char *text)
{
    return prefixed_decode(key, text, "kw1");
}

kw_err kw_id_check(const uint8_t key[static 32])
{
    uint8_t x[32];
    if (crypto_sign_ed25519_pk_to_curve25519(x, key) != 0) {
        return KW_ERR_INVAL;
    }
    return KW_ERR_OK;
}

void kw_community_encode(char out[static KW_COMMUNITY_TEXT_LEN], const uint8_t key[static 32])
{
    memcpy(out, "kwc1", 4);
    base32_encode(out + 4, key, 32);
}

kw_err kw_community_decode(uint8_t key[static 32], const char *text)
{
    return prefixed_decode(key, text, "kwc1");
}

void kw_id_short(char out[static 13], const uint8_t key[static 32])
{
    char full[KW_ID_TEXT_LEN];
    kw_id_encode(full, key);
    memcpy(out, full, 12);
    out[12] = '\0';
}
