/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Noise Protocol Framework, revision 34, suite 25519 / ChaChaPoly / SHA256.
 *
 * The code follows the specification's own structure: a CipherState (struct cstate), the
 * SymmetricState functions (mix_key, mix_hash, mix_key_and_hash, encrypt_and_hash,
 * decrypt_and_hash, split) and a HandshakeState that walks token lists. The token lists come
 * from a table of the patterns in the specification, written in its own notation, so that
 * the table can be checked against the specification by eye, and the pskN modifiers are
 * applied to the parsed lists.
 */
#include "crypto/noise.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DHLEN 32
#define KEYLEN 32
#define HASHLEN 32
#define TAGLEN 16
#define NONCE_MAX UINT64_MAX

/* The largest table pattern has 4 messages and 5 tokens in one message. */
#define MAX_MESSAGES 4
#define MAX_TOKENS 8
#define MAX_PSKS (MAX_MESSAGES + 1)
#define MAX_NAME 255

enum token { TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS, TOK_PSK };

/*
 * One row per pattern of the specification (sections 7.4, 7.5 and 7.6). pre_i and pre_r are
 * the initiator's and the responder's pre-messages; the messages alternate between initiator
 * and responder, starting with the initiator.
 */
struct pattern_def {
    const char *name;
    const char *pre_i;
    const char *pre_r;
    const char *msgs[MAX_MESSAGES];
};

static const struct pattern_def patterns[] = {
    /* One-way patterns. */
    { "N", "", "s", { "e, es" } },
    { "K", "s", "s", { "e, es, ss" } },
    { "X", "", "s", { "e, es, s, ss" } },
    /* Fundamental interactive patterns. */
    { "NN", "", "", { "e", "e, ee" } },
    { "NK", "", "s", { "e, es", "e, ee" } },
    { "NX", "", "", { "e", "e, ee, s, es" } },
    { "KN", "s", "", { "e", "e, ee, se" } },
    { "KK", "s", "s", { "e, es, ss", "e, ee, se" } },
    { "KX", "s", "", { "e", "e, ee, se, s, es" } },
    { "XN", "", "", { "e", "e, ee", "s, se" } },
    { "XK", "", "s", { "e, es", "e, ee", "s, se" } },
    { "XX", "", "", { "e", "e, ee, s, es", "s, se" } },
    { "IN", "", "", { "e, s", "e, ee, se" } },
    { "IK", "", "s", { "e, es, s, ss", "e, ee, se" } },
    { "IX", "", "", { "e, s", "e, ee, se, s, es" } },
    /* Deferred patterns. */
    { "NK1", "", "s", { "e", "e, ee, es" } },
    { "NX1", "", "", { "e", "e, ee, s", "es" } },
    { "X1N", "", "", { "e", "e, ee", "s", "se" } },
    { "X1K", "", "s", { "e, es", "e, ee", "s", "se" } },
    { "XK1", "", "s", { "e", "e, ee, es", "s, se" } },
    { "X1K1", "", "s", { "e", "e, ee, es", "s", "se" } },
    { "X1X", "", "", { "e", "e, ee, s, es", "s", "se" } },
    { "XX1", "", "", { "e", "e, ee, s", "es, s, se" } },
    { "X1X1", "", "", { "e", "e, ee, s", "es, s", "se" } },
    { "K1N", "s", "", { "e", "e, ee", "se" } },
    { "K1K", "s", "s", { "e, es", "e, ee", "se" } },
    { "KK1", "s", "s", { "e", "e, ee, se, es" } },
    { "K1K1", "s", "s", { "e", "e, ee, es", "se" } },
    { "K1X", "s", "", { "e", "e, ee, s, es", "se" } },
    { "KX1", "s", "", { "e", "e, ee, se, s", "es" } },
    { "K1X1", "s", "", { "e", "e, ee, s", "se, es" } },
    { "I1N", "", "", { "e, s", "e, ee", "se" } },
    { "I1K", "", "s", { "e, es, s", "e, ee", "se" } },
    { "IK1", "", "s", { "e, s", "e, ee, se, es" } },
    { "I1K1", "", "s", { "e, s", "e, ee, es", "se" } },
    { "I1X", "", "", { "e, s", "e, ee, s, es", "se" } },
    { "IX1", "", "", { "e, s", "e, ee, se, s", "es" } },
    { "I1X1", "", "", { "e, s", "e, ee, s", "se, es" } },
};

/* A Noise CipherState. */
struct cstate {
    uint8_t k[KEYLEN];
    uint64_t n;
    bool has_key;
};

struct kw_noise_cipher {
    struct cstate cs;
};

enum hs_state { HS_NEW, HS_RUNNING, HS_DONE, HS_SPLIT, HS_FAILED };

struct kw_noise_hs {
    /* SymmetricState. */
    struct cstate cs;
    uint8_t ck[HASHLEN];
    uint8_t h[HASHLEN];
    /* Keys. */
    uint8_t s_sk[DHLEN];
    uint8_t s_pk[DHLEN];
    uint8_t e_sk[DHLEN];
    uint8_t e_pk[DHLEN];
    uint8_t rs[DHLEN];
    uint8_t re[DHLEN];
    uint8_t psks[MAX_PSKS][KEYLEN];
    size_t npsks;
    size_t psk_next;
    size_t psk_tokens;
    bool has_s;
    bool has_e;
    bool has_rs;
    bool has_re;
    /* The pattern, with modifiers applied. */
    uint8_t tokens[MAX_MESSAGES][MAX_TOKENS];
    size_t ntokens[MAX_MESSAGES];
    size_t nmessages;
    bool pre_s_initiator;
    bool pre_s_responder;
    bool one_way;
    bool psk_mode;
    /* Progress. */
    bool initiator;
    size_t msg_index;
    enum hs_state state;
};

/*
 * Secret state lives in sodium_malloc memory (guard pages, mlock, wiped on release). One
 * sodium_malloc costs about 30 us (mmap, mprotect, mlock), as much as a whole X25519
 * operation, and a session needs three blocks; so blocks are carved from slabs that are
 * themselves sodium_malloc'd, and recycled. A released block is wiped at once. Slots are
 * sized for the largest struct; each slab keeps its own guard pages.
 */
#define SLAB_SLOTS 64

typedef struct slab {
    struct slab *next;
    uint8_t *mem;          /* sodium_malloc: SLAB_SLOTS * slot_size bytes */
    uint64_t used;         /* bit i: slot i in use */
} slab;

static struct {
    atomic_flag lock;
    slab *slabs;
    size_t slot_size;
} g_secure = { ATOMIC_FLAG_INIT, NULL, 0 };

static size_t slot_size(void);

static void secure_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&g_secure.lock, memory_order_acquire)) {
    }
}

static void secure_unlock(void)
{
    atomic_flag_clear_explicit(&g_secure.lock, memory_order_release);
}

static void *secure_alloc(size_t size)
{
    void *p = NULL;

    secure_lock();
    if (g_secure.slot_size == 0) {
        g_secure.slot_size = slot_size();
    }
    if (size <= g_secure.slot_size) {
        slab *sl = g_secure.slabs;
        while (sl != NULL && sl->used == UINT64_MAX) {
            sl = sl->next;
        }
        if (sl == NULL && (sl = calloc(1, sizeof(*sl))) != NULL) {
            if ((sl->mem = sodium_malloc(SLAB_SLOTS * g_secure.slot_size)) == NULL) {
                free(sl);
                sl = NULL;
            } else {
                sl->next = g_secure.slabs;
                g_secure.slabs = sl;
            }
        }
        if (sl != NULL) {
            int i = __builtin_ctzll(~sl->used);
            sl->used |= (uint64_t)1 << i;
            p = sl->mem + (size_t)i * g_secure.slot_size;
        }
    }
    secure_unlock();
    if (p != NULL) {
        memset(p, 0, size);
    }
    return p;
}

static void secure_free(void *p)
{
    if (p == NULL) {
        return;
    }
    secure_lock();
    for (slab *sl = g_secure.slabs; sl != NULL; sl = sl->next) {
        uint8_t *b = p;
        if (b >= sl->mem && b < sl->mem + SLAB_SLOTS * g_secure.slot_size) {
            size_t i = (size_t)(b - sl->mem) / g_secure.slot_size;
            sodium_memzero(b, g_secure.slot_size);
            sl->used &= ~((uint64_t)1 << i);
            break;
        }
    }
    secure_unlock();
}

/*
 * Results that depend on long-term keys only: a static public key from its secret half,
 * and the static-static DH ("ss"). A node keeps one static key and talks to a small roster,
 * so both recur on every handshake, and each is a whole X25519 operation (about a tenth of
 * a handshake). They are memoised in sodium_malloc memory, under a BLAKE2b tag of the
 * inputs (so a hit means the very same inputs), compared with sodium_memcmp; a small table,
 * replaced round robin; wiped by kw_noise_forget. Ephemeral keys are never memoised.
 */
#define MEMO_SLOTS 64

typedef struct memo_entry {
    uint8_t tag[32];
    uint8_t out[DHLEN];
    uint8_t used;
} memo_entry;

static struct {
    memo_entry *e; /* MEMO_SLOTS entries */
    unsigned next;
} g_memo;

static void memo_tag(uint8_t tag[static 32], uint8_t kind, const uint8_t sk[static DHLEN],
    const uint8_t *pk)
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, &kind, 1);
    crypto_generichash_update(&st, sk, DHLEN);
    if (pk != NULL) {
        crypto_generichash_update(&st, pk, DHLEN);
    }
    crypto_generichash_final(&st, tag, 32);
    sodium_memzero(&st, sizeof(st));
}

static bool memo_get(const uint8_t tag[static 32], uint8_t out[static DHLEN])
{
    bool hit = false;

    secure_lock();
    for (unsigned i = 0; g_memo.e != NULL && i < MEMO_SLOTS && !hit; i++) {
        if (g_memo.e[i].used && sodium_memcmp(g_memo.e[i].tag, tag, 32) == 0) {
            memcpy(out, g_memo.e[i].out, DHLEN);
            hit = true;
        }
    }
    secure_unlock();
    return hit;
}

static void memo_put(const uint8_t tag[static 32], const uint8_t out[static DHLEN])
{
    secure_lock();
    if (g_memo.e == NULL && (g_memo.e = sodium_malloc(MEMO_SLOTS * sizeof(memo_entry))) != NULL) {
        sodium_memzero(g_memo.e, MEMO_SLOTS * sizeof(memo_entry));
    }
    if (g_memo.e != NULL) {
        memo_entry *m = &g_memo.e[g_memo.next++ % MEMO_SLOTS];
        memcpy(m->tag, tag, 32);
        memcpy(m->out, out, DHLEN);
        m->used = 1;
    }
    secure_unlock();
}

void kw_noise_forget(void)
{
    secure_lock();
    if (g_memo.e != NULL) {
        sodium_free(g_memo.e); /* wipes */
        g_memo.e = NULL;
    }
    secure_unlock();
}

/* X25519(sk, pk), or X25519(sk, base) when pk is NULL, memoised: for static keys only. */
static int static_x25519(uint8_t out[static DHLEN], const uint8_t sk[static DHLEN],
    const uint8_t *pk)
{
    uint8_t tag[32];

    memo_tag(tag, pk == NULL ? 'P' : 'S', sk, pk);
    if (memo_get(tag, out)) {
        return 0;
    }
    if ((pk == NULL ? crypto_scalarmult_base(out, sk) : crypto_scalarmult(out, sk, pk)) != 0) {
        return -1;
    }
    memo_put(tag, out);
    return 0;
}

/* ---------------------------------------------------------------- CipherState */

static void make_nonce(uint8_t nonce[static crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
    uint64_t n)
{
    memset(nonce, 0, 4);
    for (size_t i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
    }
}

static void cs_init_key(struct cstate *cs, const uint8_t k[static KEYLEN])
{
    memcpy(cs->k, k, KEYLEN);
    cs->n = 0;
    cs->has_key = true;
}

/*
 * EncryptWithAd. The caller has checked that out has room for len + TAGLEN bytes when the
 * cipher has a key, and len bytes otherwise; out may equal pt.
 */
static kw_err cs_encrypt(struct cstate *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
    size_t len, uint8_t *out, size_t *out_len)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    unsigned long long clen = 0;

    if (!cs->has_key) {
        if (len > 0 && out != pt) {
            memmove(out, pt, len);
        }
        *out_len = len;
        return KW_ERR_OK;
    }
    if (cs->n == NONCE_MAX) {
        return KW_ERR_CRYPTO;
    }
    make_nonce(nonce, cs->n);
    if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, ad, adlen, NULL, nonce,
            cs->k)
        != 0) {
        return KW_ERR_CRYPTO;
    }
    cs->n++;
    *out_len = (size_t)clen;
    return KW_ERR_OK;
}

/* DecryptWithAd. n is advanced only on success, as the specification requires. */
static kw_err cs_decrypt(struct cstate *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
    size_t len, uint8_t *out, size_t *out_len)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    unsigned long long mlen = 0;

    if (!cs->has_key) {
        if (len > 0 && out != ct) {
            memmove(out, ct, len);
        }
        *out_len = len;
        return KW_ERR_OK;
    }
    if (len < TAGLEN) {
        return KW_ERR_DECODE;
    }
    if (cs->n == NONCE_MAX) {
        return KW_ERR_CRYPTO;
    }
    make_nonce(nonce, cs->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, len, ad, adlen, nonce,
            cs->k)
        != 0) {
        return KW_ERR_CRYPTO;
    }
    cs->n++;
    *out_len = (size_t)mlen;
    return KW_ERR_OK;
}

static void cs_rekey(struct cstate *cs)
{
    static const uint8_t zeros[KEYLEN];
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    uint8_t tmp[KEYLEN + TAGLEN];

    make_nonce(nonce, NONCE_MAX);
    crypto_aead_chacha20poly1305_ietf_encrypt(tmp, NULL, zeros, KEYLEN, NULL, 0, NULL, nonce,
        cs->k);
    memcpy(cs->k, tmp, KEYLEN);
    sodium_memzero(tmp, sizeof(tmp));
}

/* ---------------------------------------------------------------- SymmetricState */

static void hmac(uint8_t out[static HASHLEN], const uint8_t key[static HASHLEN],
    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, HASHLEN);
    crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen > 0) {
        crypto_auth_hmacsha256_update(&st, b, blen);
    }
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

/*
 * HKDF as the specification defines it (section 4.3): the chaining key is the HMAC key, and
 * out3 may be NULL when only two outputs are wanted.
 */
static void hkdf(const uint8_t ck[static HASHLEN], const uint8_t *ikm, size_t ikm_len,
    uint8_t out1[static HASHLEN], uint8_t out2[static HASHLEN], uint8_t *out3)
{
    static const uint8_t one = 1, two = 2, three = 3;
    uint8_t temp_key[HASHLEN];
    uint8_t o1[HASHLEN];
    uint8_t o2[HASHLEN];

    hmac(temp_key, ck, ikm, ikm_len, NULL, 0);
    hmac(o1, temp_key, &one, 1, NULL, 0);
    hmac(o2, temp_key, o1, HASHLEN, &two, 1);
    if (out3 != NULL) {
        hmac(out3, temp_key, o2, HASHLEN, &three, 1);
    }
    memcpy(out1, o1, HASHLEN);
    memcpy(out2, o2, HASHLEN);
    sodium_memzero(temp_key, sizeof(temp_key));
    sodium_memzero(o1, sizeof(o1));
    sodium_memzero(o2, sizeof(o2));
}

static void mix_hash(kw_noise_hs *hs, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, HASHLEN);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, hs->h);
}

static void mix_key(kw_noise_hs *hs, const uint8_t *ikm, size_t len)
{
    uint8_t temp_k[HASHLEN];

    hkdf(hs->ck, ikm, len, hs->ck, temp_k, NULL);
    cs_init_key(&hs->cs, temp_k);
    sodium_memzero(temp_k, sizeof(temp_k));
}

static void mix_key_and_hash(kw_noise_hs *hs, const uint8_t ikm[static KEYLEN])
{
    uint8_t temp_h[HASHLEN];
    uint8_t temp_k[HASHLEN];

    hkdf(hs->ck, ikm, KEYLEN, hs->ck, temp_h, temp_k);
    mix_hash(hs, temp_h, HASHLEN);
    cs_init_key(&hs->cs, temp_k);
    sodium_memzero(temp_h, sizeof(temp_h));
    sodium_memzero(temp_k, sizeof(temp_k));
}

/* out has room for len (+ TAGLEN once keyed); the caller has checked. */
static kw_err encrypt_and_hash(kw_noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out,
    size_t *out_len)
{
    kw_err rc;

    if ((rc = cs_encrypt(&hs->cs, hs->h, HASHLEN, pt, len, out, out_len)) != KW_ERR_OK) {
        return rc;
    }
    mix_hash(hs, out, *out_len);
    return KW_ERR_OK;
}

/*
 * The hash of the ciphertext is computed before decrypting, so that it is right even if out
 * overlaps ct, and h changes only if the ciphertext authenticates.
 */
static kw_err decrypt_and_hash(kw_noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out,
    size_t *out_len)
{
    crypto_hash_sha256_state st;
    uint8_t next_h[HASHLEN];
    kw_err rc;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, HASHLEN);
    crypto_hash_sha256_update(&st, ct, len);
    crypto_hash_sha256_final(&st, next_h);
    if ((rc = cs_decrypt(&hs->cs, hs->h, HASHLEN, ct, len, out, out_len)) != KW_ERR_OK) {
        return rc;
    }
    memcpy(hs->h, next_h, HASHLEN);
    return KW_ERR_OK;
}

/* ---------------------------------------------------------------- Protocol names */

static int parse_token(const char *s, size_t len)
{
    static const struct {
        const char *text;
        enum token tok;
    } names[] = {
        { "e", TOK_E }, { "s", TOK_S }, { "ee", TOK_EE }, { "es", TOK_ES },
        { "se", TOK_SE }, { "ss", TOK_SS }, { "psk", TOK_PSK },
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].text) == len && memcmp(names[i].text, s, len) == 0) {
            return (int)names[i].tok;
        }
    }
    return -1;
}

/* Parses a token list in the specification's notation, "e, es, s, ss". */
static kw_err parse_tokens(const char *s, uint8_t tokens[static MAX_TOKENS], size_t *ntokens)
{
    size_t n = 0;

    while (*s != '\0') {
        size_t len;
        int tok;

        while (*s == ' ' || *s == ',') {
            s++;
        }
        len = strcspn(s, ", ");
        if (len == 0) {
            break;
        }
        if (n == MAX_TOKENS || (tok = parse_token(s, len)) < 0) {
            return KW_ERR_INVAL;
        }
        tokens[n++] = (uint8_t)tok;
        s += len;
    }
    *ntokens = n;
    return KW_ERR_OK;
}

/* Parses "pskN" into N. Leading zeros and absurd numbers are not well-formed. */
static kw_err parse_psk_modifier(const char *s, size_t len, size_t *n)
{
    size_t v = 0;

    if (len < 4 || len > 6 || memcmp(s, "psk", 3) != 0 || (s[3] == '0' && len > 4)) {
        return KW_ERR_INVAL;
    }
    for (size_t i = 3; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return KW_ERR_INVAL;
        }
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *n = v;
    return KW_ERR_OK;
}

/* Inserts a psk token into message m: at the front for psk0, else at the end. */
static kw_err add_psk_token(kw_noise_hs *hs, size_t m, bool front)
{
    uint8_t *t = hs->tokens[m];

    if (hs->ntokens[m] == MAX_TOKENS) {
        return KW_ERR_INVAL;
    }
    if (front) {
        memmove(t + 1, t, hs->ntokens[m]);
        t[0] = TOK_PSK;
    } else {
        t[hs->ntokens[m]] = TOK_PSK;
    }
    hs->ntokens[m]++;
    hs->psk_tokens++;
    return KW_ERR_OK;
}

/*
 * Applies the modifiers after the base pattern name, e.g. "psk0+psk2". A repeated pskN is
 * rejected because it would make a second psk token at the same place, which no
 * specification defines. Anything other than pskN (fallback, hfs) is a valid modifier this
 * code does not implement.
 */
static kw_err apply_modifiers(kw_noise_hs *hs, const char *mods, size_t len)
{
    bool seen[MAX_MESSAGES + 1] = { false };
    bool unsupported = false;
    size_t pos = 0;

    if (len == 0) {
        return KW_ERR_OK;
    }
    while (pos <= len) {
        const char *m = mods + pos;
        const char *plus = memchr(m, '+', len - pos);
        size_t mlen = plus != NULL ? (size_t)(plus - m) : len - pos;
        size_t n;

        if (mlen == 0) {
            return KW_ERR_INVAL;
        }
        if (mlen >= 3 && memcmp(m, "psk", 3) == 0) {
            if (parse_psk_modifier(m, mlen, &n) != KW_ERR_OK || n > hs->nmessages || seen[n]) {
                return KW_ERR_INVAL;
            }
            seen[n] = true;
        } else {
            unsupported = true;
        }
        pos += mlen + 1;
    }
    if (unsupported) {
        return KW_ERR_UNSUPPORTED;
    }
    for (size_t n = 0; n <= hs->nmessages; n++) {
        kw_err rc;
        if (!seen[n]) {
            continue;
        }
        if ((rc = add_psk_token(hs, n == 0 ? 0 : n - 1, n == 0)) != KW_ERR_OK) {
            return rc;
        }
        hs->psk_mode = true;
    }
    return KW_ERR_OK;
}

/*
 * Splits "Noise_<pattern>_<dh>_<cipher>_<hash>" and fills in hs's pattern. A name of that
 * shape with parts this code lacks is KW_ERR_UNSUPPORTED; anything else is KW_ERR_INVAL.
 */
static kw_err parse_protocol(kw_noise_hs *hs, const char *name)
{
    const char *parts[5];
    size_t lens[5];
    size_t nparts = 0;
    const char *p = name;
    const struct pattern_def *def = NULL;
    size_t base_len;
    kw_err rc;

    if (strlen(name) > MAX_NAME) {
        return KW_ERR_INVAL;
    }
    for (;;) {
        size_t len = strcspn(p, "_");
        if (nparts == 5 || len == 0) {
            return KW_ERR_INVAL;
        }
        parts[nparts] = p;
        lens[nparts] = len;
        nparts++;
        if (p[len] == '\0') {
            break;
        }
        p += len + 1;
    }
    if (nparts != 5) {
        return KW_ERR_INVAL;
    }
    /* The pattern part is upper-case letters and digits, then the modifiers. */
    base_len = 0;
    while (base_len < lens[1]
        && ((parts[1][base_len] >= 'A' && parts[1][base_len] <= 'Z')
            || (parts[1][base_len] >= '0' && parts[1][base_len] <= '9'))) {
        base_len++;
    }
    if (base_len == 0) {
        return KW_ERR_INVAL;
    }
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (strlen(patterns[i].name) == base_len
            && memcmp(patterns[i].name, parts[1], base_len) == 0) {
            def = &patterns[i];
            break;
        }
    }
    hs->nmessages = 0;
    if (def != NULL) {
        for (size_t m = 0; m < MAX_MESSAGES && def->msgs[m] != NULL; m++) {
            if ((rc = parse_tokens(def->msgs[m], hs->tokens[m], &hs->ntokens[m])) != KW_ERR_OK) {
                return rc;
            }
            hs->nmessages++;
        }
        hs->pre_s_initiator = strcmp(def->pre_i, "s") == 0;
        hs->pre_s_responder = strcmp(def->pre_r, "s") == 0;
        hs->one_way = hs->nmessages == 1;
    } else {
        /* The modifiers are still checked, so that a malformed one reads as malformed. */
        hs->nmessages = MAX_MESSAGES;
    }
    rc = apply_modifiers(hs, parts[1] + base_len, lens[1] - base_len);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    if (def == NULL || lens[0] != 5 || memcmp(parts[0], "Noise", 5) != 0
        || lens[2] != 5 || memcmp(parts[2], "25519", 5) != 0
        || lens[3] != 10 || memcmp(parts[3], "ChaChaPoly", 10) != 0
        || lens[4] != 6 || memcmp(parts[4], "SHA256", 6) != 0) {
        return KW_ERR_UNSUPPORTED;
    }
    return KW_ERR_OK;
}

/* ---------------------------------------------------------------- HandshakeState */

kw_err kw_noise_hs_new(kw_noise_hs **out, const char *protocol_name, bool initiator,
    const uint8_t *prologue, size_t prologue_len)
{
    kw_err rc = KW_ERR_INVAL;
    kw_noise_hs *hs = NULL;
    size_t name_len;

    if (out == NULL) {
        return KW_ERR_INVAL;
    }
    *out = NULL;
    if (protocol_name == NULL || (prologue == NULL && prologue_len > 0)) {
        goto out;
    }
    if (sodium_init() < 0) {
        rc = KW_ERR_CRYPTO;
        goto out;
    }
    if ((hs = secure_alloc(sizeof(*hs))) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    if ((rc = parse_protocol(hs, protocol_name)) != KW_ERR_OK) {
        goto out;
    }
    hs->initiator = initiator;
    hs->state = HS_NEW;

    /* InitializeSymmetric: short names are padded with zeros, long ones hashed. */
    name_len = strlen(protocol_name);
    if (name_len <= HASHLEN) {
        memcpy(hs->h, protocol_name, name_len);
    } else {
        crypto_hash_sha256(hs->h, (const uint8_t *)protocol_name, name_len);
    }
    memcpy(hs->ck, hs->h, HASHLEN);
    mix_hash(hs, prologue_len > 0 ? prologue : (const uint8_t *)"", prologue_len);

    *out = hs;
    hs = NULL; /* The caller owns it now. */
    rc = KW_ERR_OK;
out:
    kw_noise_hs_free(hs);
    return rc;
}

static bool hs_accepts_keys(const kw_noise_hs *hs)
{
    return hs != NULL && hs->state == HS_NEW;
}

/* Installs a key pair from its secret half (static or ephemeral). */
static kw_err set_keypair(uint8_t sk_out[static DHLEN], uint8_t pk_out[static DHLEN], bool *has,
    const uint8_t sk[static DHLEN], bool is_static)
{
    memcpy(sk_out, sk, DHLEN);
    if ((is_static ? static_x25519(pk_out, sk_out, NULL) : crypto_scalarmult_base(pk_out, sk_out))
        != 0) {
        sodium_memzero(sk_out, DHLEN);
        *has = false;
        return KW_ERR_CRYPTO;
    }
    *has = true;
    return KW_ERR_OK;
}

kw_err kw_noise_hs_set_static(kw_noise_hs *hs, const uint8_t sk[static KW_NOISE_KEYLEN])
{
    if (!hs_accepts_keys(hs) || sk == NULL) {
        return KW_ERR_INVAL;
    }
    return set_keypair(hs->s_sk, hs->s_pk, &hs->has_s, sk, true);
}

kw_err kw_noise_hs_set_remote_static(kw_noise_hs *hs, const uint8_t pk[static KW_NOISE_KEYLEN])
{
    bool known = hs != NULL && (hs->initiator ? hs->pre_s_responder : hs->pre_s_initiator);

    if (!hs_accepts_keys(hs) || pk == NULL || !known) {
        return KW_ERR_INVAL;
    }
    memcpy(hs->rs, pk, DHLEN);
    hs->has_rs = true;
    return KW_ERR_OK;
}

kw_err kw_noise_hs_set_ephemeral(kw_noise_hs *hs, const uint8_t sk[static KW_NOISE_KEYLEN])
{
    if (!hs_accepts_keys(hs) || sk == NULL) {
        return KW_ERR_INVAL;
    }
    return set_keypair(hs->e_sk, hs->e_pk, &hs->has_e, sk, false);
}

kw_err kw_noise_hs_add_psk(kw_noise_hs *hs, const uint8_t psk[static KW_NOISE_KEYLEN])
{
    if (hs == NULL || psk == NULL || (hs->state != HS_NEW && hs->state != HS_RUNNING)
        || hs->npsks >= hs->psk_tokens) {
        return KW_ERR_INVAL;
    }
    memcpy(hs->psks[hs->npsks], psk, KEYLEN);
    hs->npsks++;
    return KW_ERR_OK;
}

/* Whether message m is written by the initiator. */
static bool initiator_sends(const kw_noise_hs *hs, size_t m)
{
    return hs->one_way || m % 2 == 0;
}

bool kw_noise_hs_is_done(const kw_noise_hs *hs)
{
    return hs != NULL && (hs->state == HS_DONE || hs->state == HS_SPLIT);
}

bool kw_noise_hs_needs_write(const kw_noise_hs *hs)
{
    return hs != NULL && (hs->state == HS_NEW || hs->state == HS_RUNNING)
        && initiator_sends(hs, hs->msg_index) == hs->initiator;
}

/*
 * Checks, before anything changes, that every key the next message needs is there: the
 * pre-message keys before the first message, the local static key for the tokens that use
 * it, and a PSK for each psk token.
 */
static kw_err check_ready(const kw_noise_hs *hs, bool writing)
{
    const uint8_t *t = hs->tokens[hs->msg_index];
    size_t psks = hs->psk_next;

    if (hs->state == HS_NEW) {
        bool need_s = hs->initiator ? hs->pre_s_initiator : hs->pre_s_responder;
        bool need_rs = hs->initiator ? hs->pre_s_responder : hs->pre_s_initiator;
        if ((need_s && !hs->has_s) || (need_rs && !hs->has_rs)) {
            return KW_ERR_INVAL;
        }
    }
    for (size_t i = 0; i < hs->ntokens[hs->msg_index]; i++) {
        bool uses_s = (t[i] == TOK_S && writing) || t[i] == TOK_SS
            || (t[i] == TOK_ES && !hs->initiator) || (t[i] == TOK_SE && hs->initiator);
        if (uses_s && !hs->has_s) {
            return KW_ERR_INVAL;
        }
        if (t[i] == TOK_PSK && ++psks > hs->npsks) {
            return KW_ERR_INVAL;
        }
    }
    return KW_ERR_OK;
}

/*
 * The bytes of the next message that come before the payload, and whether the payload will
 * be encrypted (and so carry a tag). This must mirror the token processing below exactly:
 * the DH tokens and 'psk' always set a key, 'e' does so only when PSKs are in use, and 's'
 * never does.
 */
static size_t message_prefix_len(const kw_noise_hs *hs, bool *keyed)
{
    const uint8_t *t = hs->tokens[hs->msg_index];
    bool has_key = hs->cs.has_key;
    size_t len = 0;

    for (size_t i = 0; i < hs->ntokens[hs->msg_index]; i++) {
        switch (t[i]) {
        case TOK_E:
            len += DHLEN;
            has_key = has_key || hs->psk_mode;
            break;
        case TOK_S:
            len += DHLEN + (has_key ? TAGLEN : 0);
            break;
        default:
            has_key = true;
            break;
        }
    }
    *keyed = has_key;
    return len;
}

/* Mixes the pre-message public keys into h: the initiator's first, then the responder's. */
static void mix_pre_messages(kw_noise_hs *hs)
{
    if (hs->pre_s_initiator) {
        mix_hash(hs, hs->initiator ? hs->s_pk : hs->rs, DHLEN);
    }
    if (hs->pre_s_responder) {
        mix_hash(hs, hs->initiator ? hs->rs : hs->s_pk, DHLEN);
    }
}

static kw_err dh_mix(kw_noise_hs *hs, const uint8_t *sk, bool have_sk, const uint8_t *pk,
    bool have_pk, bool both_static)
{
    uint8_t shared[DHLEN];
    kw_err rc = KW_ERR_INVAL;

    if (!have_sk || !have_pk) {
        goto out;
    }
    /* libsodium refuses low-order points (an all-zero result); Noise allows refusing them. */
    if ((both_static ? static_x25519(shared, sk, pk) : crypto_scalarmult(shared, sk, pk)) != 0) {
        rc = KW_ERR_CRYPTO;
        goto out;
    }
    mix_key(hs, shared, DHLEN);
    rc = KW_ERR_OK;
out:
    sodium_memzero(shared, sizeof(shared));
    return rc;
}

/* The DH tokens, from this side's point of view (section 5.3). */
static kw_err process_dh(kw_noise_hs *hs, enum token tok)
{
    switch (tok) {
    case TOK_EE:
        return dh_mix(hs, hs->e_sk, hs->has_e, hs->re, hs->has_re, false);
    case TOK_ES:
        return hs->initiator ? dh_mix(hs, hs->e_sk, hs->has_e, hs->rs, hs->has_rs, false)
                             : dh_mix(hs, hs->s_sk, hs->has_s, hs->re, hs->has_re, false);
    case TOK_SE:
        return hs->initiator ? dh_mix(hs, hs->s_sk, hs->has_s, hs->re, hs->has_re, false)
                             : dh_mix(hs, hs->e_sk, hs->has_e, hs->rs, hs->has_rs, false);
    case TOK_SS:
        return dh_mix(hs, hs->s_sk, hs->has_s, hs->rs, hs->has_rs, true);
    default:
        return KW_ERR_INVAL;
    }
}

static kw_err process_psk(kw_noise_hs *hs)
{
    if (hs->psk_next >= hs->npsks) {
        return KW_ERR_INVAL;
    }
    mix_key_and_hash(hs, hs->psks[hs->psk_next]);
    sodium_memzero(hs->psks[hs->psk_next], KEYLEN);
    hs->psk_next++;
    return KW_ERR_OK;
}

/* Moves to the next message, and to HS_DONE after the last one. */
static void advance(kw_noise_hs *hs)
{
    hs->msg_index++;
    hs->state = hs->msg_index == hs->nmessages ? HS_DONE : HS_RUNNING;
}

/* Leaves a handshake that went wrong half-way unusable, and wipes what it held. */
static void fail(kw_noise_hs *hs)
{
    hs->state = HS_FAILED;
    sodium_memzero(&hs->cs, sizeof(hs->cs));
    sodium_memzero(hs->ck, sizeof(hs->ck));
    sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
    sodium_memzero(hs->s_sk, sizeof(hs->s_sk));
    sodium_memzero(hs->psks, sizeof(hs->psks));
    hs->has_e = false;
    hs->has_s = false;
}

kw_err kw_noise_hs_write_message(kw_noise_hs *hs, const uint8_t *payload, size_t len,
    uint8_t *out, size_t cap, size_t *out_len)
{
    kw_err rc = KW_ERR_INVAL;
    const uint8_t *t;
    size_t prefix, total, pos = 0, n;
    bool keyed;

    if (hs == NULL || out == NULL || out_len == NULL || (payload == NULL && len > 0)
        || !kw_noise_hs_needs_write(hs)) {
        return KW_ERR_INVAL;
    }
    *out_len = 0;
    if ((rc = check_ready(hs, true)) != KW_ERR_OK) {
        return rc;
    }
    prefix = message_prefix_len(hs, &keyed);
    if (len > KW_NOISE_MAX_MSG) {
        return KW_ERR_TOOBIG;
    }
    total = prefix + len + (keyed ? TAGLEN : 0);
    if (total > KW_NOISE_MAX_MSG) {
        return KW_ERR_TOOBIG;
    }
    if (total > cap) {
        return KW_ERR_INVAL;
    }

    if (hs->state == HS_NEW) {
        mix_pre_messages(hs);
        hs->state = HS_RUNNING;
    }
    t = hs->tokens[hs->msg_index];
    for (size_t i = 0; i < hs->ntokens[hs->msg_index]; i++) {
        switch (t[i]) {
        case TOK_E:
            if (!hs->has_e) {
                randombytes_buf(hs->e_sk, DHLEN);
                if (crypto_scalarmult_base(hs->e_pk, hs->e_sk) != 0) {
                    rc = KW_ERR_CRYPTO;
                    goto out;
                }
                hs->has_e = true;
            }
            memcpy(out + pos, hs->e_pk, DHLEN);
            pos += DHLEN;
            mix_hash(hs, hs->e_pk, DHLEN);
            if (hs->psk_mode) {
                mix_key(hs, hs->e_pk, DHLEN);
            }
            break;
        case TOK_S:
            if ((rc = encrypt_and_hash(hs, hs->s_pk, DHLEN, out + pos, &n)) != KW_ERR_OK) {
                goto out;
            }
            pos += n;
            break;
        case TOK_PSK:
            if ((rc = process_psk(hs)) != KW_ERR_OK) {
                goto out;
            }
            break;
        default:
            if ((rc = process_dh(hs, (enum token)t[i])) != KW_ERR_OK) {
                goto out;
            }
            break;
        }
    }
    if ((rc = encrypt_and_hash(hs, payload, len, out + pos, &n)) != KW_ERR_OK) {
        goto out;
    }
    pos += n;
    *out_len = pos;
    advance(hs);
    rc = KW_ERR_OK;
out:
    if (rc != KW_ERR_OK) {
        sodium_memzero(out, total);
        fail(hs);
    }
    return rc;
}

kw_err kw_noise_hs_read_message(kw_noise_hs *hs, const uint8_t *msg, size_t len,
    uint8_t *payload_out, size_t cap, size_t *payload_len)
{
    kw_err rc = KW_ERR_INVAL;
    uint8_t rs[DHLEN];
    const uint8_t *t;
    size_t prefix, body, clen, pos = 0, n;
    bool keyed;

    if (hs == NULL || msg == NULL || payload_len == NULL || (payload_out == NULL && cap > 0)
        || hs->state == HS_DONE || hs->state == HS_SPLIT || hs->state == HS_FAILED
        || kw_noise_hs_needs_write(hs)) {
        return KW_ERR_INVAL;
    }
    *payload_len = 0;
    if ((rc = check_ready(hs, false)) != KW_ERR_OK) {
        return rc;
    }
    if (len > KW_NOISE_MAX_MSG) {
        return KW_ERR_TOOBIG;
    }
    prefix = message_prefix_len(hs, &keyed);
    if (len < prefix + (keyed ? TAGLEN : 0)) {
        return KW_ERR_DECODE;
    }
    body = len - prefix - (keyed ? TAGLEN : 0);
    if (body > cap) {
        return KW_ERR_INVAL;
    }

    if (hs->state == HS_NEW) {
        mix_pre_messages(hs);
        hs->state = HS_RUNNING;
    }
    t = hs->tokens[hs->msg_index];
    for (size_t i = 0; i < hs->ntokens[hs->msg_index]; i++) {
        switch (t[i]) {
        case TOK_E:
            memcpy(hs->re, msg + pos, DHLEN);
            hs->has_re = true;
            pos += DHLEN;
            mix_hash(hs, hs->re, DHLEN);
            if (hs->psk_mode) {
                mix_key(hs, hs->re, DHLEN);
            }
            break;
        case TOK_S:
            clen = DHLEN + (hs->cs.has_key ? TAGLEN : 0);
            if ((rc = decrypt_and_hash(hs, msg + pos, clen, rs, &n)) != KW_ERR_OK) {
                goto out;
            }
            memcpy(hs->rs, rs, DHLEN);
            hs->has_rs = true;
            pos += clen;
            break;
        case TOK_PSK:
            if ((rc = process_psk(hs)) != KW_ERR_OK) {
                goto out;
            }
            break;
        default:
            if ((rc = process_dh(hs, (enum token)t[i])) != KW_ERR_OK) {
                goto out;
            }
            break;
        }
    }
    if ((rc = decrypt_and_hash(hs, msg + pos, len - pos, payload_out, &n)) != KW_ERR_OK) {
        goto out;
    }
    *payload_len = n;
    advance(hs);
    rc = KW_ERR_OK;
out:
    if (rc != KW_ERR_OK) {
        fail(hs);
    }
    sodium_memzero(rs, sizeof(rs));
    return rc;
}

kw_err kw_noise_hs_remote_static(const kw_noise_hs *hs, uint8_t pk_out[static KW_NOISE_KEYLEN])
{
    if (hs == NULL || pk_out == NULL || hs->state == HS_FAILED) {
        return KW_ERR_INVAL;
    }
    if (!hs->has_rs) {
        return KW_ERR_NOTFOUND;
    }
    memcpy(pk_out, hs->rs, DHLEN);
    return KW_ERR_OK;
}

kw_err kw_noise_hs_handshake_hash(const kw_noise_hs *hs, uint8_t out[static KW_NOISE_HASHLEN])
{
    if (!kw_noise_hs_is_done(hs) || out == NULL) {
        return KW_ERR_INVAL;
    }
    memcpy(out, hs->h, HASHLEN);
    return KW_ERR_OK;
}

static kw_err cipher_alloc(kw_noise_cipher **out, const uint8_t key[static KEYLEN])
{
    kw_noise_cipher *c;

    if ((c = secure_alloc(sizeof(*c))) == NULL) {
        return KW_ERR_NOMEM;
    }
    cs_init_key(&c->cs, key);
    *out = c;
    return KW_ERR_OK;
}

kw_err kw_noise_hs_split(kw_noise_hs *hs, kw_noise_cipher **send, kw_noise_cipher **recv)
{
    kw_err rc = KW_ERR_INVAL;
    uint8_t k1[HASHLEN];
    uint8_t k2[HASHLEN];
    kw_noise_cipher *c1 = NULL;
    kw_noise_cipher *c2 = NULL;

    if (send == NULL || recv == NULL) {
        return KW_ERR_INVAL;
    }
    *send = NULL;
    *recv = NULL;
    if (hs == NULL || hs->state != HS_DONE) {
        return KW_ERR_INVAL;
    }
    hkdf(hs->ck, NULL, 0, k1, k2, NULL);
    if ((rc = cipher_alloc(&c1, k1)) != KW_ERR_OK) {
        goto out;
    }
    /* In one-way patterns the second cipher is never used, so it is not handed out. */
    if (!hs->one_way && (rc = cipher_alloc(&c2, k2)) != KW_ERR_OK) {
        goto out;
    }
    if (hs->initiator) {
        *send = c1;
        *recv = c2;
    } else {
        *send = c2;
        *recv = c1;
    }
    c1 = NULL; /* The caller owns both now. */
    c2 = NULL;
    hs->state = HS_SPLIT;
    sodium_memzero(&hs->cs, sizeof(hs->cs));
    sodium_memzero(hs->ck, sizeof(hs->ck));
    sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
    sodium_memzero(hs->s_sk, sizeof(hs->s_sk));
    sodium_memzero(hs->psks, sizeof(hs->psks));
    rc = KW_ERR_OK;
out:
    kw_noise_cipher_free(c1);
    kw_noise_cipher_free(c2);
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    return rc;
}

void kw_noise_hs_free(kw_noise_hs *hs)
{
    /* secure_free wipes the whole block before it is reused. */
    secure_free(hs);
}

/* ---------------------------------------------------------------- Transport cipher */

kw_err kw_noise_cipher_new(kw_noise_cipher **out, const uint8_t key[static KW_NOISE_KEYLEN])
{
    if (out == NULL) {
        return KW_ERR_INVAL;
    }
    *out = NULL;
    if (key == NULL) {
        return KW_ERR_INVAL;
    }
    if (sodium_init() < 0) {
        return KW_ERR_CRYPTO;
    }
    return cipher_alloc(out, key);
}

kw_err kw_noise_cipher_encrypt(kw_noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *pt, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (c == NULL || out == NULL || out_len == NULL || (ad == NULL && adlen > 0)
        || (pt == NULL && len > 0)) {
        return KW_ERR_INVAL;
    }
    *out_len = 0;
    if (len > KW_NOISE_MAX_PAYLOAD) {
        return KW_ERR_TOOBIG;
    }
    if (cap < len + TAGLEN) {
        return KW_ERR_INVAL;
    }
    return cs_encrypt(&c->cs, ad, adlen, pt, len, out, out_len);
}

kw_err kw_noise_cipher_decrypt(kw_noise_cipher *c, const uint8_t *ad, size_t adlen,
    const uint8_t *ct, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (c == NULL || ct == NULL || out_len == NULL || (ad == NULL && adlen > 0)
        || (out == NULL && cap > 0)) {
        return KW_ERR_INVAL;
    }
    *out_len = 0;
    if (len > KW_NOISE_MAX_MSG) {
        return KW_ERR_TOOBIG;
    }
    if (len < TAGLEN) {
        return KW_ERR_DECODE;
    }
    if (cap < len - TAGLEN) {
        return KW_ERR_INVAL;
    }
    return cs_decrypt(&c->cs, ad, adlen, ct, len, out, out_len);
}

kw_err kw_noise_cipher_rekey(kw_noise_cipher *c)
{
    if (c == NULL) {
        return KW_ERR_INVAL;
    }
    cs_rekey(&c->cs);
    return KW_ERR_OK;
}

uint64_t kw_noise_cipher_nonce(const kw_noise_cipher *c)
{
    return c != NULL ? c->cs.n : 0;
}

kw_err kw_noise_cipher_set_nonce(kw_noise_cipher *c, uint64_t n)
{
    if (c == NULL) {
        return KW_ERR_INVAL;
    }
    c->cs.n = n;
    return KW_ERR_OK;
}

void kw_noise_cipher_free(kw_noise_cipher *c)
{
    secure_free(c);
}

/* The largest secret struct decides the slot size (rounded for alignment). */
static size_t slot_size(void)
{
    size_t a = alignof(max_align_t);
    size_t n = sizeof(struct kw_noise_hs) > sizeof(struct kw_noise_cipher)
        ? sizeof(struct kw_noise_hs)
        : sizeof(struct kw_noise_cipher);
    return (n + a - 1) / a * a;
}
