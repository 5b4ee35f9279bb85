/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CRYPTO_NOISE_H
#define KW_CRYPTO_NOISE_H

/*
 * The Noise Protocol Framework (revision 34) for the single suite 25519 / ChaChaPoly /
 * SHA256, built from libsodium primitives.
 *
 * A kw_noise_hs runs one handshake. It is table-driven: the handshake pattern is parsed
 * from the protocol name, so every fundamental pattern (N, K, X, NN, NK, NX, KN, KK, KX,
 * XN, XK, XX, IN, IK, IX), every deferred pattern (NK1, X1K1, I1X1, ...) and any
 * combination of psk modifiers ("IKpsk2", "NNpsk0+psk2") runs through the same code. The
 * fallback and hfs modifiers and other suites are not supported.
 *
 * kawan itself uses KW_NOISE_PROTOCOL with KW_NOISE_PROLOGUE (design section 7).
 *
 * Typical use by an IKpsk2 responder:
 *
 *     kw_noise_hs_new(&hs, KW_NOISE_PROTOCOL, false, prologue, prologue_len);
 *     kw_noise_hs_set_static(hs, my_sk);
 *     kw_noise_hs_add_psk(hs, community_key);
 *     kw_noise_hs_read_message(hs, msg1, msg1_len, payload, cap, &payload_len);
 *     kw_noise_hs_remote_static(hs, peer_pk);   (check it against the roster here)
 *     kw_noise_hs_write_message(hs, NULL, 0, msg2, sizeof(msg2), &msg2_len);
 *     kw_noise_hs_split(hs, &send, &recv);
 *     kw_noise_hs_free(hs);
 *
 * Every secret (static and ephemeral private keys, chaining key, cipher keys, PSKs) lives in
 * sodium_malloc memory and is wiped when it is no longer needed; nothing here logs. The
 * objects are not thread-safe: use one from one thread at a time.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

/* The protocol and prologue kawan speaks on every connection. */
#define KW_NOISE_PROTOCOL "Noise_IKpsk2_25519_ChaChaPoly_SHA256"
#define KW_NOISE_PROLOGUE "kawan/1"

/* Sizes of keys, hashes and the AEAD tag, in bytes. */
#define KW_NOISE_KEYLEN 32
#define KW_NOISE_HASHLEN 32
#define KW_NOISE_TAGLEN 16

/* The largest Noise message, handshake or transport, in bytes. */
#define KW_NOISE_MAX_MSG 65535
/* The largest transport payload, so that payload plus tag fits in one message. */
#define KW_NOISE_MAX_PAYLOAD (KW_NOISE_MAX_MSG - KW_NOISE_TAGLEN)

typedef struct kw_noise_hs kw_noise_hs;
typedef struct kw_noise_cipher kw_noise_cipher;

/*
 * Handshake state
 * ---------------
 * A handshake goes through: created, keys set, messages written and read in turn, done,
 * split. Any error that arises after a message has started to change the state (a failed
 * decryption, a DH with an invalid public key) leaves the handshake failed: every later
 * call returns KW_ERR_INVAL, and the caller should free it and drop the connection. Errors
 * found before anything changed (a buffer too small, a message over the limit, a missing
 * key, not this side's turn) leave the state as it was.
 */

/*
 * Creates a handshake for protocol_name (e.g. KW_NOISE_PROTOCOL) as the initiator or the
 * responder, and mixes the prologue into it. The name and the prologue are only read during
 * the call; prologue may be NULL when prologue_len is 0.
 * Errors: KW_ERR_INVAL if out or protocol_name is NULL or the name is not a well-formed Noise
 * protocol name (including a pskN modifier beyond the pattern's messages or repeated);
 * KW_ERR_UNSUPPORTED for a well-formed name this code does not implement (another DH, cipher
 * or hash, an unknown pattern, or a modifier other than pskN); KW_ERR_NOMEM; KW_ERR_CRYPTO if
 * libsodium cannot be initialised. On success the caller owns *out (kw_noise_hs_free).
 */
kw_err kw_noise_hs_new(kw_noise_hs **out, const char *protocol_name, bool initiator,
    const uint8_t *prologue, size_t prologue_len);

/*
 * Sets this side's static private key (the public key is derived from it). The key is copied
 * into protected memory. A key the pattern does not use is accepted and ignored.
 * Errors: KW_ERR_INVAL if an argument is NULL or the first message has already been written
 * or read.
 */
kw_err kw_noise_hs_set_static(kw_noise_hs *hs, const uint8_t sk[static KW_NOISE_KEYLEN]);

/*
 * Sets the peer's static public key for patterns in which this side knows it in advance
 * (the responder's key for an NK, KK, XK or IK initiator; the initiator's key for a KN, KK or
 * KX responder; and so on).
 * Errors: KW_ERR_INVAL if an argument is NULL, the first message has already been written or
 * read, or the pattern does not have this side know the peer's static key in advance (the
 * key would otherwise be silently ignored and the peer never checked against it).
 */
kw_err kw_noise_hs_set_remote_static(kw_noise_hs *hs, const uint8_t pk[static KW_NOISE_KEYLEN]);

/*
 * Static keys recur on every handshake of a node, so the engine memoises what depends on
 * them alone (a static public key, the static-static DH) in guarded memory. This wipes that
 * memo; a node calls it when it shuts down. Safe to call at any time.
 */
void kw_noise_forget(void);

/*
 * For tests and test vectors only: fixes this side's ephemeral private key instead of drawing
 * one from randombytes_buf. Using a fixed ephemeral key in production destroys forward
 * secrecy. A key the pattern does not use is accepted and ignored.
 * Errors: KW_ERR_INVAL if an argument is NULL or the first message has already been written
 * or read.
 */
kw_err kw_noise_hs_set_ephemeral(kw_noise_hs *hs, const uint8_t sk[static KW_NOISE_KEYLEN]);

/*
 * Appends a 32-byte pre-shared key; the pattern's psk tokens use them in the order they were
 * added. A PSK may be added at any time before the message holding its psk token, so a
 * responder may pick it after learning the initiator's static key.
 * Errors: KW_ERR_INVAL if an argument is NULL, the handshake is done or failed, or the
 * pattern has no psk token left for it.
 */
kw_err kw_noise_hs_add_psk(kw_noise_hs *hs, const uint8_t psk[static KW_NOISE_KEYLEN]);

/*
 * Writes this side's next handshake message carrying payload (which may be NULL when len is
 * 0) into out, of which cap bytes are available, and sets *out_len. A cap of
 * KW_NOISE_MAX_MSG always suffices. payload and out must not overlap.
 * Errors: KW_ERR_INVAL if an argument is NULL, it is not this side's turn, the handshake is
 * done or failed, a key the message needs has not been set (static key, PSK), or cap is too
 * small for the message; KW_ERR_TOOBIG if the message would exceed KW_NOISE_MAX_MSG;
 * KW_ERR_CRYPTO if a DH fails (invalid public key), after which the handshake is failed.
 */
kw_err kw_noise_hs_write_message(kw_noise_hs *hs, const uint8_t *payload, size_t len,
    uint8_t *out, size_t cap, size_t *out_len);

/*
 * Reads the peer's next handshake message msg of len bytes, writes its payload to
 * payload_out (cap bytes available; it may be NULL when cap is 0) and sets *payload_len.
 * A cap of KW_NOISE_MAX_MSG always suffices. msg and payload_out must not overlap.
 * Errors: KW_ERR_INVAL if an argument is NULL, it is this side's turn to write, the handshake
 * is done or failed, a key the message needs has not been set, or cap is smaller than the
 * payload; KW_ERR_TOOBIG if len exceeds KW_NOISE_MAX_MSG; KW_ERR_DECODE if the message is too
 * short for the pattern; KW_ERR_CRYPTO if it fails to authenticate (wrong keys, wrong PSK,
 * tampering) or carries an invalid public key, after which the handshake is failed.
 */
kw_err kw_noise_hs_read_message(kw_noise_hs *hs, const uint8_t *msg, size_t len,
    uint8_t *payload_out, size_t cap, size_t *payload_len);

/* True once the last handshake message has been written or read (false for NULL). */
bool kw_noise_hs_is_done(const kw_noise_hs *hs);

/* True if the next handshake message is this side's to write (false when done or failed). */
bool kw_noise_hs_needs_write(const kw_noise_hs *hs);

/*
 * Copies the peer's static public key to pk_out once it is known: set in advance, or read
 * from a handshake message. An IK responder knows it after reading message 1 and must check
 * it (against the roster) before writing message 2. It is authenticated only as far as the
 * handshake has got: in IKpsk2 message 1 the sender has shown it holds the matching private
 * key (the payload tag covers ss), but the PSK is not checked until message 2 and message 1
 * may be a replay, so the peer is confirmed only once its first transport message decrypts.
 * Errors: KW_ERR_INVAL if an argument is NULL or the handshake failed; KW_ERR_NOTFOUND if
 * the key is not known yet (or the pattern never sends it).
 */
kw_err kw_noise_hs_remote_static(const kw_noise_hs *hs, uint8_t pk_out[static KW_NOISE_KEYLEN]);

/*
 * Copies the handshake hash h, which identifies the session (channel binding), to out.
 * Errors: KW_ERR_INVAL if an argument is NULL or the handshake is not done.
 */
kw_err kw_noise_hs_handshake_hash(const kw_noise_hs *hs, uint8_t out[static KW_NOISE_HASHLEN]);

/*
 * Splits a finished handshake into the two transport ciphers: *send encrypts this side's
 * messages and *recv decrypts the peer's. In one-way patterns (N, K, X and their psk forms)
 * only the initiator sends: the initiator gets *recv = NULL and the responder *send = NULL.
 * The caller owns both ciphers (kw_noise_cipher_free). Afterwards the handshake's secrets are
 * wiped; only kw_noise_hs_handshake_hash, kw_noise_hs_remote_static and kw_noise_hs_free
 * remain useful, and split may not be called again.
 * Errors: KW_ERR_INVAL if an argument is NULL, the handshake is not done, or it was split
 * already; KW_ERR_NOMEM (nothing is returned then, and split may be retried).
 */
kw_err kw_noise_hs_split(kw_noise_hs *hs, kw_noise_cipher **send, kw_noise_cipher **recv);

/* Wipes and frees hs. Accepts NULL. */
void kw_noise_hs_free(kw_noise_hs *hs);

/*
 * Transport cipher
 * ----------------
 * A Noise CipherState: ChaCha20-Poly1305 (IETF) with a key and a 64-bit message counter n
 * used as the nonce (4 zero bytes then n little-endian). n goes up by one for every message
 * encrypted or successfully decrypted; once n reaches 2^64-1 the cipher refuses to work.
 */

/*
 * Creates a cipher with key and n = 0. Transport ciphers normally come from
 * kw_noise_hs_split; this exists for tests and benchmarks. The key is copied into protected
 * memory. Errors: KW_ERR_INVAL if an argument is NULL; KW_ERR_NOMEM; KW_ERR_CRYPTO if
 * libsodium cannot be initialised. The caller owns *out.
 */
kw_err kw_noise_cipher_new(kw_noise_cipher **out, const uint8_t key[static KW_NOISE_KEYLEN]);

/*
 * Encrypts pt (len bytes; NULL allowed when len is 0) with associated data ad (adlen bytes;
 * NULL allowed when adlen is 0) into out, which has cap bytes, and sets *out_len to
 * len + KW_NOISE_TAGLEN. out may be the same buffer as pt; no other overlap is allowed.
 * Errors: KW_ERR_INVAL if an argument is NULL or cap is too small; KW_ERR_TOOBIG if the
 * result would exceed KW_NOISE_MAX_MSG (len > KW_NOISE_MAX_PAYLOAD); KW_ERR_CRYPTO if the
 * nonce is exhausted (the cipher must be replaced by a new handshake).
 */
kw_err kw_noise_cipher_encrypt(kw_noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *pt, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Decrypts and authenticates ct (len bytes) with associated data ad into out (cap bytes) and
 * sets *out_len to len - KW_NOISE_TAGLEN. out may be the same buffer as ct; no other overlap
 * is allowed. A failed decryption does not advance n, so the caller may drop the message and
 * carry on (Noise leaves that choice to the application; kawan closes the session).
 * Errors: KW_ERR_INVAL if an argument is NULL or cap is too small; KW_ERR_TOOBIG if len
 * exceeds KW_NOISE_MAX_MSG; KW_ERR_DECODE if len is below KW_NOISE_TAGLEN; KW_ERR_CRYPTO if
 * authentication fails or the nonce is exhausted.
 */
kw_err kw_noise_cipher_decrypt(kw_noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *ct, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Noise Rekey: replaces the key by the first 32 bytes of the encryption of 32 zero bytes
 * under the current key with nonce 2^64-1. n is unchanged. Both sides must rekey at the same
 * point in the message stream. Errors: KW_ERR_INVAL if c is NULL.
 */
kw_err kw_noise_cipher_rekey(kw_noise_cipher *c);

/* The nonce n the next message will use (0 for NULL). */
uint64_t kw_noise_cipher_nonce(const kw_noise_cipher *c);

/*
 * For tests only: sets the nonce n (e.g. close to 2^64-1 to test exhaustion). Reusing a nonce
 * with the same key destroys confidentiality and integrity. Errors: KW_ERR_INVAL if c is NULL.
 */
kw_err kw_noise_cipher_set_nonce(kw_noise_cipher *c, uint64_t n);

/* Wipes and frees c. Accepts NULL. */
void kw_noise_cipher_free(kw_noise_cipher *c);

#endif
