/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the entry header decoder and the single-entry check. Input: one byte giving the
 * header length n, then n header bytes, 64 signature bytes, and the rest as the payload.
 * Invariant: a header that decodes re-encodes to exactly its input bytes (one canonical
 * form, so one entry id per header).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kw_header h;
    uint8_t sig[KW_SIG_LEN] = { 0 };
    size_t n;

    if (size < 1) {
        return 0;
    }
    n = data[0];
    data++;
    size--;
    if (n > size) {
        n = size;
    }
    if (kw_header_decode(&h, data, n) == KW_ERR_OK) {
        uint8_t re[KW_HEADER_MAX];
        size_t len = 0;
        if (kw_header_encode(&h, re, &len) != KW_ERR_OK || len != n || memcmp(re, data, n) != 0) {
            abort();
        }
    }
    size_t rest = size - n;
    if (rest >= KW_SIG_LEN) {
        memcpy(sig, data + n, KW_SIG_LEN);
        (void)kw_entry_check(&h, data, n, sig, data + n + KW_SIG_LEN, rest - KW_SIG_LEN);
    }
    return 0;
}
