/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CRYPTO_IDENTITY_H
#define KW_CRYPTO_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

/*
 * A node's identity: its Ed25519 key pair, and the X25519 pair derived from it (used for
 * Noise and for opening sealed payloads). Secret halves live in sodium_malloc memory,
 * guarded and wiped on free. Opaque.
 */
typedef struct kw_identity kw_identity;

/* Generates a fresh identity. */
kw_err kw_identity_generate(kw_identity **out);

/* Builds an identity from a 32-byte Ed25519 seed (tests and fixtures). */
kw_err kw_identity_from_seed(kw_identity **out, const uint8_t seed[static 32]);

/* Wipes and frees. Accepts NULL. */
void kw_identity_free(kw_identity *id);

/* The Ed25519 public key (the node id), 32 bytes, valid while id lives. */
const uint8_t *kw_identity_pk(const kw_identity *id);

/* The X25519 public key, and the X25519 secret key (sodium_malloc memory; never copy it). */
const uint8_t *kw_identity_x25519_pk(const kw_identity *id);
const uint8_t *kw_identity_x25519_sk(const kw_identity *id);

/* Ed25519 signature of msg with domain-separation prefix ctx (may be NULL). */
void kw_identity_sign(const kw_identity *id, uint8_t sig[static 64], const char *ctx,
    const uint8_t *msg, size_t len);

/* Verifies an Ed25519 signature made by kw_identity_sign. KW_ERR_BADSIG on failure. */
kw_err kw_sig_verify(const uint8_t pk[static 32], const uint8_t sig[static 64], const char *ctx,
    const uint8_t *msg, size_t len);

/*
 * Key file (docs/security.md): written atomically (temp file + rename) with mode 0600.
 * With a passphrase, the seed is sealed with Argon2id (crypto_pwhash, moderate limits) and
 * XChaCha20-Poly1305. KW_ERR_EXISTS if path exists and overwrite is false.
 */
kw_err kw_identity_save(const kw_identity *id, const char *path, const char *passphrase,
    bool overwrite);

/*
 * Loads a key file. A sealed file needs passphrase (KW_ERR_PASSPHRASE when it is NULL or
 * wrong); a corrupted file is KW_ERR_DECODE; a file readable by others than the owner is
 * refused with KW_ERR_PERM.
 */
kw_err kw_identity_load(kw_identity **out, const char *path, const char *passphrase);

/* Whether the key file at path is passphrase-protected (KW_ERR_DECODE if not a key file). */
kw_err kw_identity_file_sealed(const char *path, bool *sealed);

/*
 * Writes len bytes to path atomically with mode 0600 (temp file in the same directory,
 * fsync, rename). Used for every secret file.
 */
kw_err kw_secret_file_write(const char *path, const uint8_t *data, size_t len, bool overwrite);

/*
 * Reads a secret file of at most cap bytes into buf (sodium_malloc'd by the caller). Refuses
 * files that group or others can read (KW_ERR_PERM).
 */
kw_err kw_secret_file_read(const char *path, uint8_t *buf, size_t cap, size_t *len);

#endif
