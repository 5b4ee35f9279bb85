/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the transport framer: the input is cut into pieces of sizes taken from its own
 * bytes and fed to a 2-byte and a 4-byte framer. Invariants: every record returned has the
 * length its prefix announced and lies within the maximum; the bytes consumed never exceed
 * what was offered; and the records equal those found by parsing the whole input at once.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

static void run(const uint8_t *data, size_t size, size_t prefix, size_t max)
{
    kw_framer f;
    size_t off = 0, step = 1, whole = 0;
    size_t records = 0;

    kw_framer_init(&f, prefix, max, prefix == 4);
    while (off < size) {
        const uint8_t *rec;
        size_t used = 0, len = 0;
        size_t piece = (data[off] % 7) + step;
        if (piece > size - off) {
            piece = size - off;
        }
        kw_err rc = kw_framer_feed(&f, data + off, piece, &used, &rec, &len);
        if (used > piece) {
            abort();
        }
        off += used;
        step = (step * 5 + 1) % 13 + 1;
        if (rc == KW_ERR_AGAIN) {
            continue;
        }
        if (rc != KW_ERR_OK) {
            break;
        }
        if (len == 0 || len > max) {
            abort();
        }
        /* The same record, parsed from the whole input. */
        size_t rl = 0;
        for (size_t i = 0; i < prefix; i++) {
            rl = rl << 8 | data[whole + i];
        }
        if (rl != len || memcmp(data + whole + prefix, rec, len) != 0) {
            abort();
        }
        whole += prefix + len;
        records++;
    }
    (void)records;
    kw_framer_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 2, 65535);
    run(data, size, 4, 1u << 20);
    return 0;
}
