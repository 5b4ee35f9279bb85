/* SPDX-License-Identifier: Apache-2.0 */
/* Identity, node ids, key files and signatures (crypto/identity, crypto/id). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/id.h"
#include "crypto/identity.h"
#include "support/support.h"

static void test_id_text(void **state)
{
    (void)state;
    uint8_t key[32], back[32];
    char text[KW_ID_TEXT_LEN], hex[65];

    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)(i * 7 + 1);
    }
    kw_id_encode(text, key);
    assert_int_equal(strlen(text), 55);
    assert_memory_equal(text, "kw1", 3);
    assert_int_equal(kw_id_decode(back, text), KW_ERR_OK);
    assert_memory_equal(back, key, 32);
    /* Upper case is accepted, hex too. */
    for (char *p = text; *p; p++) {
        if (*p >= 'a' && *p <= 'z') {
            *p = (char)(*p - 32);
        }
    }
    assert_int_equal(kw_id_decode(back, text), KW_ERR_OK);
    kw_hex_encode(hex, key, 32);
    assert_int_equal(kw_id_decode(back, hex), KW_ERR_OK);
    assert_memory_equal(back, key, 32);
    /* Wrong length, wrong alphabet, non-zero padding bits. */
    assert_int_equal(kw_id_decode(back, "kw1abc"), KW_ERR_INVAL);
    kw_id_encode(text, key);
    text[10] = '1';
    assert_int_equal(kw_id_decode(back, text), KW_ERR_INVAL);
    kw_id_encode(text, key);
    text[54] = 'z'; /* the last character carries 1 data bit and 4 padding bits */
    assert_int_equal(kw_id_decode(back, text), KW_ERR_INVAL);
    assert_int_equal(kw_id_decode(back, "xx1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        KW_ERR_INVAL);
}

static void test_sign_verify(void **state)
{
    (void)state;
    kw_identity *a = kw_test_identity(1), *b = kw_test_identity(2);
    uint8_t sig[64];
    const uint8_t msg[] = "indicator bundle";

    kw_identity_sign(a, sig, "kawan/test/1", msg, sizeof(msg));
    assert_int_equal(kw_sig_verify(kw_identity_pk(a), sig, "kawan/test/1", msg, sizeof(msg)),
        KW_ERR_OK);
    /* Wrong key, wrong context, tampered message, tampered signature. */
    assert_int_equal(kw_sig_verify(kw_identity_pk(b), sig, "kawan/test/1", msg, sizeof(msg)),
        KW_ERR_BADSIG);
    assert_int_equal(kw_sig_verify(kw_identity_pk(a), sig, "kawan/test/2", msg, sizeof(msg)),
        KW_ERR_BADSIG);
    uint8_t m2[sizeof(msg)];
    memcpy(m2, msg, sizeof(msg));
    m2[0] ^= 1;
    assert_int_equal(kw_sig_verify(kw_identity_pk(a), sig, "kawan/test/1", m2, sizeof(m2)),
        KW_ERR_BADSIG);
    sig[5] ^= 0x10;
    assert_int_equal(kw_sig_verify(kw_identity_pk(a), sig, "kawan/test/1", msg, sizeof(msg)),
        KW_ERR_BADSIG);
    /* Large messages take the heap path. */
    size_t big = 100000;
    uint8_t *bm = calloc(1, big);
    kw_identity_sign(a, sig, "ctx", bm, big);
    assert_int_equal(kw_sig_verify(kw_identity_pk(a), sig, "ctx", bm, big), KW_ERR_OK);
    free(bm);
    /* The derived X25519 keys agree with libsodium's conversion. */
    uint8_t x[32];
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(x, kw_identity_pk(a)), 0);
    assert_memory_equal(x, kw_identity_x25519_pk(a), 32);
    kw_identity_free(a);
    kw_identity_free(b);
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[256], path[300];
    kw_identity *a = kw_test_identity(3), *b = NULL;
    struct stat st;
    bool sealed;

    assert_int_equal(kw_test_tmpdir(dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/identity.key", dir);
    assert_int_equal(kw_identity_save(a, path, NULL, false), KW_ERR_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kw_identity_save(a, path, NULL, false), KW_ERR_EXISTS);
    assert_int_equal(kw_identity_load(&b, path, NULL), KW_ERR_OK);
    assert_memory_equal(kw_identity_pk(a), kw_identity_pk(b), 32);
    kw_identity_free(b);
    assert_int_equal(kw_identity_file_sealed(path, &sealed), KW_ERR_OK);
    assert_false(sealed);

    /* A damaged file is refused, not read as another key. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 10, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    assert_int_equal(kw_identity_load(&b, path, NULL), KW_ERR_DECODE);
    assert_null(b);

    /* Readable by others: refused. */
    assert_int_equal(kw_identity_save(a, path, NULL, true), KW_ERR_OK);
    chmod(path, 0644);
    assert_int_equal(kw_identity_load(&b, path, NULL), KW_ERR_PERM);
    chmod(path, 0600);

    /* Passphrase-sealed. */
    assert_int_equal(kw_identity_save(a, path, "correct horse", true), KW_ERR_OK);
    assert_int_equal(kw_identity_file_sealed(path, &sealed), KW_ERR_OK);
    assert_true(sealed);
    assert_int_equal(kw_identity_load(&b, path, NULL), KW_ERR_PASSPHRASE);
    assert_int_equal(kw_identity_load(&b, path, "wrong"), KW_ERR_PASSPHRASE);
    assert_int_equal(kw_identity_load(&b, path, "correct horse"), KW_ERR_OK);
    assert_memory_equal(kw_identity_pk(a), kw_identity_pk(b), 32);
    kw_identity_free(b);
    /* The sealed file does not contain the seed. */
    size_t len = 0;
    char *raw = kw_test_read_file(path, &len);
    uint8_t seed[32];
    memset(seed, 3, 32);
    assert_null(memmem(raw, len, seed, 32));
    free(raw);

    kw_identity_free(a);
    kw_test_rmrf(dir);
}

static void test_community_text(void **state)
{
    (void)state;
    uint8_t k[32], back[32];
    char text[KW_COMMUNITY_TEXT_LEN];
    randombytes_buf(k, 32);
    kw_community_encode(text, k);
    assert_memory_equal(text, "kwc1", 4);
    assert_int_equal(kw_community_decode(back, text), KW_ERR_OK);
    assert_memory_equal(k, back, 32);
    assert_int_equal(kw_community_decode(back, text + 1), KW_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_text),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_community_text),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
