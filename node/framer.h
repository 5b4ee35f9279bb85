/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_FRAMER_H
#define KW_NODE_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/err.h"
#include "crypto/noise.h"

/*
 * The framing of a session's byte stream, without the I/O (docs/protocol.md, "Transport").
 * On the wire, Noise messages travel behind a 2-byte big-endian length; the decrypted
 * stream carries application messages behind a 4-byte big-endian length, cut across as many
 * Noise messages as they need.
 *
 * Receiving (kw_rx) copies nothing it need not: socket reads land in the frame buffer
 * (kw_rx_space, kw_rx_landed); frames are returned where they lie (kw_rx_frame); each is
 * decrypted straight into the message buffer (kw_rx_open, or kw_rx_plain_reserve and
 * kw_rx_plain_commit); and messages are returned where they lie (kw_rx_message). Bytes of
 * an incomplete frame or message move to the front of their buffer at most once per record
 * boundary. The message buffer grows only as decrypted bytes arrive, so a length prefix
 * alone never reserves memory, and a length of zero or over the maximum is refused as soon
 * as its prefix is complete.
 *
 * Sending (kw_tx_seal) encrypts each chunk of a message straight into the wire buffer.
 *
 * Both sides rekey (Noise Rekey) after every KW_REKEY_EVERY transport messages.
 */
#define KW_REKEY_EVERY (1u << 20)

typedef struct kw_rx {
    uint8_t *in;    /* received bytes: [in_off, in_len) not yet framed */
    size_t in_off, in_len, in_cap;
    uint8_t *pt;    /* decrypted stream: [pt_off, pt_len) not yet delivered */
    size_t pt_off, pt_len, pt_cap;
    size_t msg_max; /* largest application message accepted */
} kw_rx;

void kw_rx_init(kw_rx *r, size_t msg_max);
void kw_rx_free(kw_rx *r);

/* Where the next read should land: *p, with room for *len bytes (never 0 on success).
 * Frames and messages returned before are no longer valid. Errors: KW_ERR_NOMEM. */
kw_err kw_rx_space(kw_rx *r, uint8_t **p, size_t *len);
/* n bytes (at most the room given) landed at the place kw_rx_space gave. */
void kw_rx_landed(kw_rx *r, size_t n);

/* The next complete Noise frame, in place (valid until kw_rx_space). KW_ERR_AGAIN when no
 * frame is complete; KW_ERR_DECODE for a zero length (after which r must not be used). */
kw_err kw_rx_frame(kw_rx *r, const uint8_t **frame, size_t *len);

/* Room for n more bytes of decrypted stream at *p. Messages returned before are no longer
 * valid. Errors: KW_ERR_NOMEM; KW_ERR_TOOBIG when the undelivered stream would exceed one
 * maximal message and one frame (a caller that does not drain kw_rx_message). */
kw_err kw_rx_plain_reserve(kw_rx *r, size_t n, uint8_t **p);
/* n bytes (at most those reserved) of decrypted stream were written there. */
void kw_rx_plain_commit(kw_rx *r, size_t n);

/* Decrypts one transport frame with cipher into the stream and rekeys on schedule.
 * Errors: those of kw_rx_plain_reserve and kw_noise_cipher_decrypt (KW_ERR_CRYPTO: the
 * frame failed to authenticate, nothing was added). */
kw_err kw_rx_open(kw_rx *r, kw_noise_cipher *cipher, const uint8_t *frame, size_t len);

/* The next complete application message, in place (valid until kw_rx_plain_reserve,
 * kw_rx_open or kw_rx_free). KW_ERR_AGAIN when none is complete; KW_ERR_DECODE for a zero
 * length and KW_ERR_TOOBIG for one over msg_max (after which r must not be used). */
kw_err kw_rx_message(kw_rx *r, const uint8_t **msg, size_t *len);

/* True while a frame, or a message, has begun but not completed. */
bool kw_rx_frame_partial(const kw_rx *r);
bool kw_rx_message_partial(const kw_rx *r);

/* Wire bytes kw_tx_seal writes for a message of len bytes. */
size_t kw_tx_sealed_size(size_t len);

/* Writes msg (len bytes, 1 to 2^32-1) to out (cap bytes, at least kw_tx_sealed_size(len))
 * as its 4-byte length and the message, cut into Noise transport messages of at most
 * KW_NOISE_MAX_PAYLOAD plaintext bytes, each encrypted with cipher behind its 2-byte length;
 * rekeys on schedule. Sets *out_len. Errors: KW_ERR_INVAL (cap too small, len 0 or too
 * long), KW_ERR_CRYPTO (nonce exhausted: the session must end). */
kw_err kw_tx_seal(kw_noise_cipher *cipher, const uint8_t *msg, size_t len, uint8_t *out,
    size_t cap, size_t *out_len);

/* The same in pieces, so that each piece can be written while it is still in the cache:
 * kw_tx_begin, then kw_tx_seal_some until kw_tx_done. Each call seals as many whole Noise
 * messages as fit in cap; KW_ERR_INVAL when not even one does (KW_TX_PIECE_MIN always
 * suffices). */
typedef struct kw_tx {
    const uint8_t *msg;
    size_t len, off;
} kw_tx;
#define KW_TX_PIECE_MIN (2u + KW_NOISE_MAX_MSG)

kw_err kw_tx_begin(kw_tx *t, const uint8_t *msg, size_t len);
kw_err kw_tx_seal_some(kw_tx *t, kw_noise_cipher *cipher, uint8_t *out, size_t cap,
    size_t *out_len);
bool kw_tx_done(const kw_tx *t);

#endif
