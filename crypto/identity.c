/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kw_identity {
    uint8_t *sk;   /* 64 bytes, sodium_malloc */
    uint8_t *xsk;  /* 32 bytes, sodium_malloc */
    uint8_t pk[32];
    uint8_t xpk[32];
};

/*
 * Key file layout, all fixed size:
 *   plain:  "KWID" 0x01 0x00 | seed[32] | pk[32] | BLAKE2b-128(prefix..pk)
 *   sealed: "KWID" 0x01 0x01 | salt[16] | opslimit u64 BE | memlimit u64 BE | nonce[24]
 *           | XChaCha20-Poly1305(seed || pk)[64 + 16], with the header as associated data
 * The checksum of the plain form turns a damaged file into a clear error instead of a
 * different identity.
 */
#define KEY_MAGIC "KWID"
#define PLAIN_LEN (6 + 32 + 32 + 16)
#define SEALED_HDR (6 + 16 + 8 + 8 + 24)
#define SEALED_LEN (SEALED_HDR + 64 + 16)

static kw_err identity_alloc(kw_identity **out)
{
    kw_identity *id = calloc(1, sizeof(*id));
    if (id == NULL) {
        return KW_ERR_NOMEM;
    }
    id->sk = sodium_malloc(64);
    id->xsk = sodium_malloc(32);
    if (id->sk == NULL || id->xsk == NULL) {
        kw_identity_free(id);
        return KW_ERR_NOMEM;
    }
    *out = id;
    return KW_ERR_OK;
}

static kw_err identity_derive(kw_identity *id)
{
    if (crypto_sign_ed25519_sk_to_curve25519(id->xsk, id->sk) != 0
        || crypto_sign_ed25519_pk_to_curve25519(id->xpk, id->pk) != 0) {
        return KW_ERR_CRYPTO;
    }
    return KW_ERR_OK;
}

kw_err kw_identity_from_seed(kw_identity **out, const uint8_t seed[static 32])
{
    kw_identity *id = NULL;
    kw_err rc;

    *out = NULL;
    if ((rc = identity_alloc(&id)) != KW_ERR_OK) {
        return rc;
    }
    crypto_sign_seed_keypair(id->pk, id->sk, seed);
    if ((rc = identity_derive(id)) != KW_ERR_OK) {
        kw_identity_free(id);
        return rc;
    }
    *out = id;
    return KW_ERR_OK;
}

kw_err kw_identity_generate(kw_identity **out)
{
    uint8_t *seed = sodium_malloc(32);
    kw_err rc;

    if (seed == NULL) {
        return KW_ERR_NOMEM;
    }
    randombytes_buf(seed, 32);
    rc = kw_identity_from_seed(out, seed);
    sodium_free(seed);
    return rc;
}

void kw_identity_free(kw_identity *id)
{
    if (id == NULL) {
        return;
    }
    sodium_free(id->sk);
    sodium_free(id->xsk);
    free(id);
}

const uint8_t *kw_identity_pk(const kw_identity *id)
{
    return id->pk;
}

const uint8_t *kw_identity_x25519_pk(const kw_identity *id)
{
    return id->xpk;
}

const uint8_t *kw_identity_x25519_sk(const kw_identity *id)
{
    return id->xsk;
}

/*
 * The signature covers ctx || msg. Hashing into a state avoids copying large messages; with
 * Ed25519 (not Ed25519ph) libsodium needs the whole message, so small messages are copied
 * onto the stack and large ones into the heap.
 */
static uint8_t *join(const char *ctx, const uint8_t *msg, size_t len, size_t *total,
    uint8_t *stackbuf, size_t stackcap)
{
    size_t clen = ctx ? strlen(ctx) : 0;
    uint8_t *buf = stackbuf;

    *total = clen + len;
    if (*total > stackcap && (buf = malloc(*total)) == NULL) {
        return NULL;
    }
    if (clen > 0) {
        memcpy(buf, ctx, clen);
    }
    if (len > 0) {
        memcpy(buf + clen, msg, len);
    }
    return buf;
}

void kw_identity_sign(const kw_identity *id, uint8_t sig[static 64], const char *ctx,
    const uint8_t *msg, size_t len)
{
    uint8_t stackbuf[512];
    size_t total;
    uint8_t *buf = join(ctx, msg, len, &total, stackbuf, sizeof(stackbuf));

    if (buf == NULL) {
        /* Out of memory: produce an all-zero signature, which never verifies. */
        memset(sig, 0, 64);
        return;
    }
    crypto_sign_detached(sig, NULL, buf, total, id->sk);
    if (buf != stackbuf) {
        free(buf);
    }
}

kw_err kw_sig_verify(const uint8_t pk[static 32], const uint8_t sig[static 64], const char *ctx,
    const uint8_t *msg, size_t len)
{
    uint8_t stackbuf[512];
    size_t total;
    uint8_t *buf = join(ctx, msg, len, &total, stackbuf, sizeof(stackbuf));
    int ok;

    if (buf == NULL) {
        return KW_ERR_NOMEM;
    }
    ok = crypto_sign_verify_detached(sig, buf, total, pk) == 0;
    if (buf != stackbuf) {
        free(buf);
    }
    return ok ? KW_ERR_OK : KW_ERR_BADSIG;
}

kw_err kw_secret_file_write(const char *path, const uint8_t *data, size_t len, bool overwrite)
{
    char tmp[4096];
    int fd = -1;
    kw_err rc = KW_ERR_IO;
    size_t off = 0;

    if (!overwrite && access(path, F_OK) == 0) {
        return KW_ERR_EXISTS;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        return KW_ERR_INVAL;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EACCES ? KW_ERR_PERM : errno == ENOSPC ? KW_ERR_NOSPACE : KW_ERR_IO;
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = errno == ENOSPC ? KW_ERR_NOSPACE : KW_ERR_IO;
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (!overwrite) {
        /* link() fails if the name exists, so two concurrent inits cannot both win. */
        if (link(tmp, path) != 0) {
            rc = errno == EEXIST ? KW_ERR_EXISTS : KW_ERR_IO;
            goto out;
        }
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        goto out;
    }
    return KW_ERR_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return rc;
}

kw_err kw_secret_file_read(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t off = 0;

    if (fd < 0) {
        return errno == ENOENT ? KW_ERR_NOTFOUND : errno == EACCES ? KW_ERR_PERM : KW_ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return KW_ERR_IO;
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return KW_ERR_PERM;
    }
    if ((size_t)st.st_size > cap) {
        close(fd);
        return KW_ERR_DECODE;
    }
    for (;;) {
        ssize_t n = read(fd, buf + off, cap - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            close(fd);
            return KW_ERR_IO;
        }
        if (n == 0) {
            break;
        }
        off += (size_t)n;
        if (off == cap) {
            break;
        }
    }
    close(fd);
    *len = off;
    return KW_ERR_OK;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

kw_err kw_identity_save(const kw_identity *id, const char *path, const char *passphrase,
    bool overwrite)
{
    uint8_t *buf = sodium_malloc(SEALED_LEN);
    uint8_t *key = sodium_malloc(32);
    kw_err rc = KW_ERR_NOMEM;
    size_t len;

    if (buf == NULL || key == NULL) {
        goto out;
    }
    memcpy(buf, KEY_MAGIC, 4);
    buf[4] = 1;
    if (passphrase == NULL) {
        buf[5] = 0;
        memcpy(buf + 6, id->sk, 32); /* libsodium's sk is seed || pk */
        memcpy(buf + 38, id->pk, 32);
        crypto_generichash(buf + 70, 16, buf, 70, NULL, 0);
        len = PLAIN_LEN;
    } else {
        uint8_t *salt = buf + 6;
        uint64_t ops = crypto_pwhash_OPSLIMIT_MODERATE;
        uint64_t mem = crypto_pwhash_MEMLIMIT_MODERATE;
        buf[5] = 1;
        randombytes_buf(salt, 16);
        put64(buf + 22, ops);
        put64(buf + 30, mem);
        randombytes_buf(buf + 38, 24);
        if (crypto_pwhash(key, 32, passphrase, strlen(passphrase), salt, ops, (size_t)mem,
                crypto_pwhash_ALG_ARGON2ID13)
            != 0) {
            goto out;
        }
        uint8_t *plain = sodium_malloc(64);
        if (plain == NULL) {
            goto out;
        }
        memcpy(plain, id->sk, 32);
        memcpy(plain + 32, id->pk, 32);
        crypto_aead_xchacha20poly1305_ietf_encrypt(buf + SEALED_HDR, NULL, plain, 64, buf,
            SEALED_HDR, NULL, buf + 38, key);
        sodium_free(plain);
        len = SEALED_LEN;
    }
    rc = kw_secret_file_write(path, buf, len, overwrite);
out:
    sodium_free(buf);
    sodium_free(key);
    return rc;
}

kw_err kw_identity_file_sealed(const char *path, bool *sealed)
{
    uint8_t *buf = sodium_malloc(SEALED_LEN + 1);
    size_t len = 0;
    kw_err rc;

    if (buf == NULL) {
        return KW_ERR_NOMEM;
    }
    rc = kw_secret_file_read(path, buf, SEALED_LEN + 1, &len);
    if (rc == KW_ERR_OK) {
        if (len < 6 || memcmp(buf, KEY_MAGIC, 4) != 0 || buf[4] != 1 || buf[5] > 1) {
            rc = KW_ERR_DECODE;
        } else {
            *sealed = buf[5] == 1;
        }
    }
    sodium_free(buf);
    return rc;
}

kw_err kw_identity_load(kw_identity **out, const char *path, const char *passphrase)
{
    uint8_t *buf = sodium_malloc(SEALED_LEN + 1);
    uint8_t *key = sodium_malloc(32);
    uint8_t *plain = sodium_malloc(64);
    kw_identity *id = NULL;
    size_t len = 0;
    kw_err rc = KW_ERR_NOMEM;

    *out = NULL;
    if (buf == NULL || key == NULL || plain == NULL) {
        goto out;
    }
    if ((rc = kw_secret_file_read(path, buf, SEALED_LEN + 1, &len)) != KW_ERR_OK) {
        goto out;
    }
    rc = KW_ERR_DECODE;
    if (len < 6 || memcmp(buf, KEY_MAGIC, 4) != 0 || buf[4] != 1) {
        goto out;
    }
    if (buf[5] == 0) {
        uint8_t sum[16];
        if (len != PLAIN_LEN) {
            goto out;
        }
        crypto_generichash(sum, 16, buf, 70, NULL, 0);
        if (sodium_memcmp(sum, buf + 70, 16) != 0) {
            goto out;
        }
        memcpy(plain, buf + 6, 64);
    } else if (buf[5] == 1) {
        uint64_t ops, mem;
        if (len != SEALED_LEN) {
            goto out;
        }
        if (passphrase == NULL) {
            rc = KW_ERR_PASSPHRASE;
            goto out;
        }
        ops = get64(buf + 22);
        mem = get64(buf + 30);
        /* Limits from the file are bounded so a crafted file cannot make us spin or swap. */
        if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE
            || mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE) {
            goto out;
        }
        if (crypto_pwhash(key, 32, passphrase, strlen(passphrase), buf + 6, ops, (size_t)mem,
                crypto_pwhash_ALG_ARGON2ID13)
            != 0) {
            rc = KW_ERR_NOMEM;
            goto out;
        }
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, buf + SEALED_HDR,
                64 + 16, buf, SEALED_HDR, buf + 38, key)
            != 0) {
            rc = KW_ERR_PASSPHRASE;
            goto out;
        }
    } else {
        goto out;
    }
    if ((rc = kw_identity_from_seed(&id, plain)) != KW_ERR_OK) {
        goto out;
    }
    if (sodium_memcmp(id->pk, plain + 32, 32) != 0) {
        rc = KW_ERR_DECODE;
        goto out;
    }
    *out = id;
    id = NULL;
    rc = KW_ERR_OK;
out:
    kw_identity_free(id);
    sodium_free(buf);
    sodium_free(key);
    sodium_free(plain);
    return rc;
}
