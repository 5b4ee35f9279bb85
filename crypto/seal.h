/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CRYPTO_SEAL_H
#define KW_CRYPTO_SEAL_H

/*
 * Multi-recipient sealing of payloads (TLP AMBER, AMBER+STRICT and RED; design section 4).
 *
 * A random 32-byte content key encrypts the plaintext with XChaCha20-Poly1305 under a random
 * 24-byte nonce. The content key is wrapped for each recipient with crypto_box_seal to the
 * recipient's X25519 public key, which is derived from its node id (Ed25519 public key) by
 * crypto_sign_ed25519_pk_to_curve25519.
 *
 * Binary format, version 1 (all integers big-endian; N is the slot count):
 *
 *   offset        size      field
 *   0             1         version, 0x01
 *   1             24        nonce (random per seal; XChaCha20-Poly1305 nonce)
 *   25            2         N, the number of slots, 1..KW_SEAL_MAX_RECIPIENTS
 *   27            88 * N    slots, each: hint (8) || wrapped content key (80)
 *   27 + 88 * N   L + 16    ciphertext of the L plaintext bytes, then the Poly1305 tag
 *
 * The plaintext length L is implied by the total length: L = len - 27 - 88 * N - 16, and
 * must be at most KW_SEAL_MAX_PLAIN. The first 27 + 88 * N bytes are the "header".
 *
 * - hint = the first 8 bytes of BLAKE2b-256 (unkeyed) of nonce (24) || recipient X25519
 *   public key (32). It lets a recipient find its slot with one hash and no public-key
 *   operation. It is a hash output, not key material: computing or testing it needs the
 *   recipient's public key, and without that key the hint is 8 pseudo-random bytes that say
 *   nothing about who the recipient is. Because the nonce is fresh per seal, the hints of
 *   one recipient differ from message to message, so an observer who does not know the
 *   recipient's key cannot link its slots across messages. Note what it does NOT hide:
 *   whoever knows a candidate's public key (every roster member knows every node id) can
 *   test whether that candidate is a recipient, as kw_seal_is_recipient does. The recipient
 *   list of a sealed payload is therefore visible to members, as it is by design.
 * - wrapped content key = crypto_box_seal(content key, recipient X25519 pk): an ephemeral
 *   X25519 public key (32), then the 32-byte key encrypted and authenticated (48), so that
 *   crypto_box_seal_open opens it. The slots of one seal share one ephemeral key pair (fresh
 *   per seal): each slot's box still has its own shared secret and its own nonce
 *   (BLAKE2b-192 of ephemeral pk || recipient pk), and a seal costs one X25519 operation per
 *   recipient instead of two.
 * - Slots are written sorted by hint. As hints are pseudo-random per message, slot positions
 *   do not reveal the order in which the caller listed the recipients (e.g. publisher
 *   first). Readers do not rely on the order.
 * - Associated data of the AEAD: BLAKE2b-256 (unkeyed, 32 bytes) of
 *       ad_len (8, big-endian) || ad || header
 *   where ad is the caller's associated data (see kw_seal_ad). The header (version, nonce,
 *   slot count and every slot) is thus authenticated too: changing any byte of any slot,
 *   even another recipient's, makes the open fail for everyone.
 *
 * Memory: content keys live in sodium_malloc memory and are wiped; opened plaintexts are
 * returned in sodium_malloc memory. The sealed output is not secret and is plain malloc.
 * The functions that use libsodium call sodium_init() themselves. Nothing here keeps state;
 * all functions may be called from several threads at once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"

#define KW_SEAL_VERSION 1
#define KW_SEAL_MAX_RECIPIENTS 1024
#define KW_SEAL_MAX_PLAIN (16u * 1024u * 1024u)

#define KW_SEAL_NONCE_LEN 24
#define KW_SEAL_HINT_LEN 8
#define KW_SEAL_WRAPPED_LEN 80 /* crypto_box_SEALBYTES + 32 */
#define KW_SEAL_SLOT_LEN (KW_SEAL_HINT_LEN + KW_SEAL_WRAPPED_LEN)
#define KW_SEAL_FIXED_LEN (1 + KW_SEAL_NONCE_LEN + 2) /* version, nonce, slot count */
#define KW_SEAL_TAG_LEN 16

/* Total sealed size for n slots and plain_len plaintext bytes. */
#define KW_SEAL_LEN(n, plain_len)                                                                  \
    ((size_t)KW_SEAL_FIXED_LEN + (size_t)KW_SEAL_SLOT_LEN * (n) + (plain_len) + KW_SEAL_TAG_LEN)

/* Length of the associated data built by kw_seal_ad: 12 + 32 + 8 + 1. */
#define KW_SEAL_AD_LEN 53

/*
 * Builds the associated data that binds a sealed payload to its feed entry:
 *   "kawan/seal/1" (12 ASCII bytes, no NUL) || origin (32) || seq (8, big-endian) || tlp (1)
 * The domain string keeps this AD from ever matching a byte string signed or hashed for
 * another purpose.
 * Errors: KW_ERR_INVAL when tlp does not fit in a byte (out is then zeroed; a silently
 * truncated level would bind the wrong TLP).
 */
kw_err kw_seal_ad(uint8_t out[static KW_SEAL_AD_LEN], const uint8_t origin[static 32], uint64_t seq,
    unsigned tlp);

/*
 * Derives the X25519 public key of a node id (Ed25519 public key), as used for sealing.
 * Errors: KW_ERR_INVAL when the id is not a valid Ed25519 public key of the main subgroup
 * (libsodium refuses to convert it), KW_ERR_CRYPTO when libsodium fails to initialise; out is
 * then zeroed.
 */
kw_err kw_seal_recipient_key(uint8_t out[static 32], const uint8_t node_id[static 32]);

/*
 * Seals plain (plain_len bytes, at most KW_SEAL_MAX_PLAIN; plain may be NULL when plain_len
 * is 0) for the n node ids in recipients (Ed25519 public keys), binding ad (ad_len bytes; may
 * be NULL when ad_len is 0; normally from kw_seal_ad). Ids that map to the same X25519 key
 * (duplicates, also an id and its sign-flipped twin) are collapsed into one slot. The
 * publisher that wants to read its own payload lists itself among the recipients.
 *
 * On success *out is a malloc'd buffer of *out_len bytes that the caller frees with free().
 * The plaintext is only read, never copied; the caller keeps it and wipes it as it sees fit.
 *
 * Errors (*out is NULL and *out_len 0 on every error):
 *   KW_ERR_INVAL   n is 0, a pointer is NULL where it may not be, or a recipient id does not
 *                  convert to an X25519 key
 *   KW_ERR_TOOBIG  plain_len > KW_SEAL_MAX_PLAIN, or more than KW_SEAL_MAX_RECIPIENTS
 *                  distinct recipients (n itself may be larger when ids repeat)
 *   KW_ERR_NOMEM   allocation failed
 *   KW_ERR_CRYPTO  libsodium failed (initialisation or encryption)
 */
kw_err kw_seal_encrypt(const uint8_t *plain, size_t plain_len, const uint8_t *ad, size_t ad_len,
    const uint8_t (*recipients)[32], size_t n, uint8_t **out, size_t *out_len);

/*
 * Opens a sealed payload (sealed, len bytes: hostile input, every length is checked) with
 * the same ad as at sealing and the node's own X25519 key pair: my_x25519_pk as returned by
 * kw_seal_recipient_key for the node's id, and my_x25519_sk derived by the caller with
 * crypto_sign_ed25519_sk_to_curve25519 (keep it in sodium_malloc memory). Only slots whose
 * hint matches are tried; a slot that unwraps is used, and if the ciphertext then fails to
 * authenticate no other slot is tried (a genuine seal has one slot per recipient, so that is
 * tampering, and trying more would let a forged blob cost one 16 MiB decryption per slot).
 * Cost: one hash for a non-recipient; for a recipient one X25519 operation per matching slot
 * plus the decryption. A forged blob whose 1024 hints all match costs 1024 failed unwraps
 * (about 40 ms on a 2-core test machine; see tests/bench/bench_seal.c).
 *
 * On success *plain is a sodium_malloc'd buffer of *plain_len bytes (also when *plain_len is
 * 0), owned by the caller, who must release it with sodium_free() (which wipes it), never
 * with free().
 *
 * Errors (*plain is NULL and *plain_len 0 on every error):
 *   KW_ERR_INVAL   a pointer is NULL where it may not be
 *   KW_ERR_DECODE  structurally malformed: too short, unknown version, slot count 0 or above
 *                  KW_SEAL_MAX_RECIPIENTS, or the slots do not fit
 *   KW_ERR_TOOBIG  the implied plaintext is longer than KW_SEAL_MAX_PLAIN
 *   KW_ERR_NOKEY   no slot's hint matches this key: not a recipient. A blob whose nonce or
 *                  whose hint for this key was damaged also ends here, since a damaged hint
 *                  cannot be told from an absent one without trying every slot.
 *   KW_ERR_CRYPTO  a hint matches but no such slot unwraps with this key, or the ciphertext,
 *                  the header or ad fail to authenticate: tampered, or the wrong ad
 *   KW_ERR_NOMEM   allocation failed
 */
kw_err kw_seal_open(const uint8_t *sealed, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t my_x25519_pk[static 32], const uint8_t my_x25519_sk[static 32], uint8_t **plain,
    size_t *plain_len);

/*
 * Validates the structure of a sealed payload (as kw_seal_open does before any
 * cryptography) and stores its slot count in *n. Authenticity is not checked.
 * Errors: KW_ERR_INVAL (NULL pointer), KW_ERR_DECODE, KW_ERR_TOOBIG as for kw_seal_open;
 * *n is 0 on error.
 */
kw_err kw_seal_count_slots(const uint8_t *sealed, size_t len, size_t *n);

/*
 * Cheap test, by hint only (one hash, no public-key operation, no decryption): true when the
 * payload is structurally valid and one of its slots carries the hint of my_x25519_pk. A
 * true answer does not promise that kw_seal_open will succeed (the blob may be forged or the
 * hint may collide); false for malformed input or when no hint matches.
 */
bool kw_seal_is_recipient(const uint8_t *sealed, size_t len, const uint8_t my_x25519_pk[static 32]);

#endif
