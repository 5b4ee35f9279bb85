/* SPDX-License-Identifier: Apache-2.0 */
#include "support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kw_test_tmpdir(char *buf, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0') {
        base = "/tmp";
    }
    if ((size_t)snprintf(buf, cap, "%s/kawan-test-XXXXXX", base) >= cap) {
        return -1;
    }
    return mkdtemp(buf) == NULL ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void kw_test_rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

kw_identity *kw_test_identity(uint8_t seed_byte)
{
    uint8_t seed[32];
    kw_identity *id = NULL;
    memset(seed, seed_byte, sizeof(seed));
    if (kw_identity_from_seed(&id, seed) != KW_ERR_OK) {
        return NULL;
    }
    return id;
}

const char *kw_test_corpora(void)
{
    const char *c = getenv("KW_CORPORA");
    struct stat st;
    if (c == NULL || stat(c, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return NULL;
    }
    return c;
}

char *kw_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
            if (len != NULL) {
                *len = (size_t)n;
            }
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}
