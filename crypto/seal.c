/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/seal.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>

/* The format constants in seal.h are written out so that readers of the header see numbers;
 * these checks keep them true to libsodium. */
_Static_assert(KW_SEAL_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(KW_SEAL_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32, "content key");
_Static_assert(KW_SEAL_WRAPPED_LEN == crypto_box_SEALBYTES + 32, "wrapped key");
_Static_assert(crypto_box_PUBLICKEYBYTES == 32 && crypto_box_SECRETKEYBYTES == 32, "x25519");
_Static_assert(KW_SEAL_MAX_RECIPIENTS <= 0xffff, "slot count is 16 bits");
_Static_assert(KW_SEAL_AD_LEN == 12 + 32 + 8 + 1, "ad length");

static const char ad_domain[12] = { 'k', 'a', 'w', 'a', 'n', '/', 's', 'e', 'a', 'l', '/', '1' };

/* A structurally checked view into sealed bytes; the pointers borrow from the input. */
typedef struct sealed_view {
    const uint8_t *nonce;
    const uint8_t *slots;
    size_t nslots;
    size_t header_len;
    const uint8_t *ct;
    size_t ct_len; /* ciphertext including the tag */
} sealed_view;

static void put_be64(uint8_t out[static 8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/*
 * Every length is checked here, before anything reads past the fixed prefix, and in an order
 * that cannot overflow: the slot count is at most 1024, so 27 + 88 * N is small, and it is
 * compared with len before len is reduced by it.
 */
static kw_err parse(const uint8_t *sealed, size_t len, sealed_view *v)
{
    size_t nslots;
    size_t header_len;

    memset(v, 0, sizeof(*v));
    if (len < KW_SEAL_FIXED_LEN) {
        return KW_ERR_DECODE;
    }
    if (sealed[0] != KW_SEAL_VERSION) {
        return KW_ERR_DECODE;
    }
    nslots = ((size_t)sealed[1 + KW_SEAL_NONCE_LEN] << 8) | sealed[2 + KW_SEAL_NONCE_LEN];
    if (nslots == 0 || nslots > KW_SEAL_MAX_RECIPIENTS) {
        return KW_ERR_DECODE;
    }
    header_len = KW_SEAL_FIXED_LEN + nslots * KW_SEAL_SLOT_LEN;
    if (len < header_len || len - header_len < KW_SEAL_TAG_LEN) {
        return KW_ERR_DECODE;
    }
    if (len - header_len - KW_SEAL_TAG_LEN > KW_SEAL_MAX_PLAIN) {
        return KW_ERR_TOOBIG;
    }
    v->nonce = sealed + 1;
    v->slots = sealed + KW_SEAL_FIXED_LEN;
    v->nslots = nslots;
    v->header_len = header_len;
    v->ct = sealed + header_len;
    v->ct_len = len - header_len;
    return KW_ERR_OK;
}

static void compute_hint(uint8_t hint[static KW_SEAL_HINT_LEN],
    const uint8_t nonce[static KW_SEAL_NONCE_LEN], const uint8_t x25519_pk[static 32])
{
    uint8_t in[KW_SEAL_NONCE_LEN + 32];
    uint8_t h[32];

    /* libsodium's BLAKE2b outputs at least 16 bytes, so the hint is a truncated BLAKE2b-256. */
    memcpy(in, nonce, KW_SEAL_NONCE_LEN);
    memcpy(in + KW_SEAL_NONCE_LEN, x25519_pk, 32);
    crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
    memcpy(hint, h, KW_SEAL_HINT_LEN);
}

/*
 * The AEAD's associated data. The length prefix keeps the split between ad and header
 * unambiguous; hashing keeps the AEAD input small and needs no copy of up to 90 KB of slots.
 */
static void compute_bind(uint8_t out[static 32], const uint8_t *ad, size_t ad_len,
    const uint8_t *header, size_t header_len)
{
    crypto_generichash_state st;
    uint8_t len_be[8];

    put_be64(len_be, (uint64_t)ad_len);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, len_be, sizeof(len_be));
    if (ad_len > 0) {
        crypto_generichash_update(&st, ad, ad_len);
    }
    crypto_generichash_update(&st, header, header_len);
    crypto_generichash_final(&st, out, 32);
}

kw_err kw_seal_ad(
    uint8_t out[static KW_SEAL_AD_LEN], const uint8_t origin[static 32], uint64_t seq, unsigned tlp)
{
    if (tlp > 0xff) {
        memset(out, 0, KW_SEAL_AD_LEN);
        return KW_ERR_INVAL;
    }
    memcpy(out, ad_domain, sizeof(ad_domain));
    memcpy(out + 12, origin, 32);
    put_be64(out + 44, seq);
    out[52] = (uint8_t)tlp;
    return KW_ERR_OK;
}

kw_err kw_seal_recipient_key(uint8_t out[static 32], const uint8_t node_id[static 32])
{
    if (sodium_init() < 0) {
        memset(out, 0, 32);
        return KW_ERR_CRYPTO;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(out, node_id) != 0) {
        memset(out, 0, 32);
        return KW_ERR_INVAL;
    }
    return KW_ERR_OK;
}

static int cmp_slot(const void *a, const void *b) { return memcmp(a, b, KW_SEAL_SLOT_LEN); }

/*
 * The Ed25519 -> X25519 conversion costs about as much as a signature, and a publish seals
 * every bundle of a batch for the same recipients; so the conversions of public keys (no
 * secret here) are remembered in a small direct-mapped cache.
 */
#define XCACHE_SLOTS 256

static struct {
    atomic_flag lock;
    struct {
        bool valid;
        uint8_t id[32];
        uint8_t x[32];
    } e[XCACHE_SLOTS];
} g_xcache = { ATOMIC_FLAG_INIT, { { false, { 0 }, { 0 } } } };

static kw_err recipient_key_cached(uint8_t out[static 32], const uint8_t node_id[static 32])
{
    size_t i = ((size_t)node_id[0] << 8 | node_id[1]) % XCACHE_SLOTS;
    bool hit = false;

    while (atomic_flag_test_and_set_explicit(&g_xcache.lock, memory_order_acquire)) {
    }
    if (g_xcache.e[i].valid && memcmp(g_xcache.e[i].id, node_id, 32) == 0) {
        memcpy(out, g_xcache.e[i].x, 32);
        hit = true;
    }
    atomic_flag_clear_explicit(&g_xcache.lock, memory_order_release);
    if (hit) {
        return KW_ERR_OK;
    }
    kw_err rc = kw_seal_recipient_key(out, node_id);
    if (rc == KW_ERR_OK) {
        while (atomic_flag_test_and_set_explicit(&g_xcache.lock, memory_order_acquire)) {
        }
        g_xcache.e[i].valid = true;
        memcpy(g_xcache.e[i].id, node_id, 32);
        memcpy(g_xcache.e[i].x, out, 32);
        atomic_flag_clear_explicit(&g_xcache.lock, memory_order_release);
    }
    return rc;
}

/*
 * Converts the recipients and collapses duplicates into keys[], kept sorted so that a binary
 * search finds a repeat. Collapsing on the X25519 key rather than the node id also merges an
 * id with its sign-flipped twin, which maps to the same X25519 key.
 */
static kw_err collect_recipients(
    const uint8_t (*recipients)[32], size_t n, uint8_t (*keys)[32], size_t *count)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t x[32];
        size_t lo = 0;
        size_t hi = m;
        int found = 0;

        if (recipient_key_cached(x, recipients[i]) != KW_ERR_OK) {
            return KW_ERR_INVAL;
        }
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = memcmp(keys[mid], x, 32);
            if (c == 0) {
                found = 1;
                break;
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (found) {
            continue;
        }
        if (m == KW_SEAL_MAX_RECIPIENTS) {
            return KW_ERR_TOOBIG;
        }
        memmove(keys[lo + 1], keys[lo], (m - lo) * 32);
        memcpy(keys[lo], x, 32);
        m++;
    }
    *count = m;
    return KW_ERR_OK;
}

kw_err kw_seal_encrypt(const uint8_t *plain, size_t plain_len, const uint8_t *ad, size_t ad_len,
    const uint8_t (*recipients)[32], size_t n, uint8_t **out, size_t *out_len)
{
    kw_err rc = KW_ERR_INVAL;
    uint8_t(*keys)[32] = NULL;
    uint8_t *content_key = NULL;
    uint8_t *buf = NULL;
    size_t nkeys = 0;
    size_t header_len;
    size_t total;
    uint8_t bind[32];
    static const uint8_t empty[1] = { 0 };

    if (out == NULL || out_len == NULL) {
        return KW_ERR_INVAL;
    }
    *out = NULL;
    *out_len = 0;
    if ((plain == NULL && plain_len > 0) || (ad == NULL && ad_len > 0) || recipients == NULL
        || n == 0) {
        return KW_ERR_INVAL;
    }
    if (plain_len > KW_SEAL_MAX_PLAIN) {
        return KW_ERR_TOOBIG;
    }
    if (sodium_init() < 0) {
        return KW_ERR_CRYPTO;
    }

    rc = KW_ERR_NOMEM;
    if ((keys = malloc((n < KW_SEAL_MAX_RECIPIENTS ? n : KW_SEAL_MAX_RECIPIENTS) * 32)) == NULL) {
        goto out;
    }
    if ((rc = collect_recipients(recipients, n, keys, &nkeys)) != KW_ERR_OK) {
        goto out;
    }

    rc = KW_ERR_NOMEM;
    header_len = KW_SEAL_FIXED_LEN + nkeys * KW_SEAL_SLOT_LEN;
    total = KW_SEAL_LEN(nkeys, plain_len);
    /* One guarded block: the content key, then the ephemeral X25519 secret key. */
    if ((content_key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES
             + crypto_box_SECRETKEYBYTES))
        == NULL) {
        goto out;
    }
    uint8_t *esk = content_key + crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
    uint8_t epk[crypto_box_PUBLICKEYBYTES];
    if ((buf = malloc(total)) == NULL) {
        goto out;
    }
    crypto_aead_xchacha20poly1305_ietf_keygen(content_key);

    buf[0] = KW_SEAL_VERSION;
    randombytes_buf(buf + 1, KW_SEAL_NONCE_LEN);
    buf[1 + KW_SEAL_NONCE_LEN] = (uint8_t)(nkeys >> 8);
    buf[2 + KW_SEAL_NONCE_LEN] = (uint8_t)(nkeys & 0xff);

    /*
     * Each slot is what crypto_box_seal makes (ephemeral public key, then the key boxed with
     * the nonce BLAKE2b-192(epk || recipient pk)), and crypto_box_seal_open opens it. One
     * ephemeral key pair serves every slot of this seal: each recipient's box still has its
     * own shared secret and nonce, and reusing the ephemeral randomness across the
     * recipients of one message is what multi-recipient DH encryption does (Bellare,
     * Boldyreva and Staddon, PKC 2003). It halves the X25519 operations of a seal.
     */
    rc = KW_ERR_CRYPTO;
    if (crypto_box_keypair(epk, esk) != 0) {
        goto out;
    }
    for (size_t i = 0; i < nkeys; i++) {
        uint8_t *slot = buf + KW_SEAL_FIXED_LEN + i * KW_SEAL_SLOT_LEN;
        uint8_t nonce[crypto_box_NONCEBYTES];
        crypto_generichash_state st;
        compute_hint(slot, buf + 1, keys[i]);
        memcpy(slot + KW_SEAL_HINT_LEN, epk, sizeof(epk));
        if (crypto_generichash_init(&st, NULL, 0, sizeof(nonce)) != 0
            || crypto_generichash_update(&st, epk, sizeof(epk)) != 0
            || crypto_generichash_update(&st, keys[i], 32) != 0
            || crypto_generichash_final(&st, nonce, sizeof(nonce)) != 0
            || crypto_box_easy(slot + KW_SEAL_HINT_LEN + sizeof(epk), content_key,
                   crypto_aead_xchacha20poly1305_ietf_KEYBYTES, nonce, keys[i], esk)
                != 0) {
            goto out;
        }
    }
    /* Sorting by the per-message hints shuffles the slots, so their order does not echo the
     * caller's list of recipients. */
    qsort(buf + KW_SEAL_FIXED_LEN, nkeys, KW_SEAL_SLOT_LEN, cmp_slot);

    compute_bind(bind, ad, ad_len, buf, header_len);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(buf + header_len, NULL,
            plain_len > 0 ? plain : empty, plain_len, bind, sizeof(bind), NULL, buf + 1,
            content_key)
        != 0) {
        goto out;
    }

    *out = buf;
    *out_len = total;
    buf = NULL; /* The caller owns it now. */
    rc = KW_ERR_OK;
out:
    sodium_free(content_key);
    free(buf);
    free(keys);
    return rc;
}

kw_err kw_seal_open(const uint8_t *sealed, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t my_x25519_pk[static 32], const uint8_t my_x25519_sk[static 32], uint8_t **plain,
    size_t *plain_len)
{
    kw_err rc = KW_ERR_INVAL;
    uint8_t *content_key = NULL;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    sealed_view v;
    uint8_t hint[KW_SEAL_HINT_LEN];
    uint8_t bind[32];
    bool matched = false;
    bool unwrapped = false;

    if (plain == NULL || plain_len == NULL) {
        return KW_ERR_INVAL;
    }
    *plain = NULL;
    *plain_len = 0;
    if ((sealed == NULL && len > 0) || (ad == NULL && ad_len > 0)) {
        return KW_ERR_INVAL;
    }
    if (len == 0) {
        return KW_ERR_DECODE;
    }
    if ((rc = parse(sealed, len, &v)) != KW_ERR_OK) {
        return rc;
    }
    if (sodium_init() < 0) {
        return KW_ERR_CRYPTO;
    }

    compute_hint(hint, v.nonce, my_x25519_pk);
    rc = KW_ERR_NOKEY;
    for (size_t i = 0; i < v.nslots; i++) {
        const uint8_t *slot = v.slots + i * KW_SEAL_SLOT_LEN;
        if (memcmp(slot, hint, KW_SEAL_HINT_LEN) != 0) {
            continue;
        }
        /* A hint that matches but does not unwrap is either a collision or a forgery; keep
         * looking, and report CRYPTO if nothing else unwraps. */
        matched = true;
        if (content_key == NULL
            && (content_key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)) == NULL) {
            rc = KW_ERR_NOMEM;
            goto out;
        }
        if (crypto_box_seal_open(content_key, slot + KW_SEAL_HINT_LEN, KW_SEAL_WRAPPED_LEN,
                my_x25519_pk, my_x25519_sk)
            == 0) {
            unwrapped = true;
            break;
        }
        sodium_memzero(content_key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    }
    if (!matched) {
        goto out; /* KW_ERR_NOKEY */
    }
    rc = KW_ERR_CRYPTO;
    if (!unwrapped) {
        goto out;
    }

    pt_len = v.ct_len - KW_SEAL_TAG_LEN;
    if ((pt = sodium_malloc(pt_len)) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    compute_bind(bind, ad, ad_len, sealed, v.header_len);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, NULL, NULL, v.ct, v.ct_len, bind, sizeof(bind), v.nonce, content_key)
        != 0) {
        goto out;
    }
    *plain = pt;
    *plain_len = pt_len;
    pt = NULL; /* The caller owns it now. */
    rc = KW_ERR_OK;
out:
    sodium_free(pt);
    sodium_free(content_key);
    return rc;
}

kw_err kw_seal_count_slots(const uint8_t *sealed, size_t len, size_t *n)
{
    sealed_view v;
    kw_err rc;

    if (n == NULL) {
        return KW_ERR_INVAL;
    }
    *n = 0;
    if (sealed == NULL && len > 0) {
        return KW_ERR_INVAL;
    }
    if (len == 0) {
        return KW_ERR_DECODE;
    }
    if ((rc = parse(sealed, len, &v)) != KW_ERR_OK) {
        return rc;
    }
    *n = v.nslots;
    return KW_ERR_OK;
}

bool kw_seal_is_recipient(const uint8_t *sealed, size_t len, const uint8_t my_x25519_pk[static 32])
{
    sealed_view v;
    uint8_t hint[KW_SEAL_HINT_LEN];

    if (sealed == NULL || parse(sealed, len, &v) != KW_ERR_OK || sodium_init() < 0) {
        return false;
    }
    compute_hint(hint, v.nonce, my_x25519_pk);
    for (size_t i = 0; i < v.nslots; i++) {
        if (memcmp(v.slots + i * KW_SEAL_SLOT_LEN, hint, KW_SEAL_HINT_LEN) == 0) {
            return true;
        }
    }
    return false;
}
