/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CRYPTO_ID_H
#define KW_CRYPTO_ID_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

/* "kw1" + 52 base32 characters + NUL. */
#define KW_ID_TEXT_LEN 56
/* "kwc1" + 52 base32 characters + NUL: the printed community key. */
#define KW_COMMUNITY_TEXT_LEN 57

/* Writes a node id (32-byte Ed25519 public key) as "kw1" + lower-case unpadded base32. */
void kw_id_encode(char out[static KW_ID_TEXT_LEN], const uint8_t key[static 32]);

/*
 * Parses a node id: the "kw1..." form (any case) or 64 hex digits. KW_ERR_INVAL otherwise.
 * It does not check that the key is a valid curve point (kw_id_check does).
 */
kw_err kw_id_decode(uint8_t key[static 32], const char *text);

/* KW_ERR_OK when key is a usable Ed25519 public key (converts to X25519). */
kw_err kw_id_check(const uint8_t key[static 32]);

/* Community key text: "kwc1" + base32, and its parser (also accepts 64 hex digits). */
void kw_community_encode(char out[static KW_COMMUNITY_TEXT_LEN], const uint8_t key[static 32]);
kw_err kw_community_decode(uint8_t key[static 32], const char *text);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void kw_hex_encode(char *out, const uint8_t *in, size_t n);

/* Parses exactly 2n hex digits. KW_ERR_INVAL otherwise. */
kw_err kw_hex_decode(uint8_t *out, size_t n, const char *text, size_t text_len);

/* A short printable form of a node id for logs: the first 12 characters of the kw1 text. */
void kw_id_short(char out[static 13], const uint8_t key[static 32]);

#endif
