/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the payload decoder (the plaintext bundle) and the single-indicator decoder.
 * Invariants: what decodes re-encodes to something that decodes to the same indicators;
 * every indicator's recorded span (enc_off, enc_len) lies in the input and decodes alone to
 * that indicator (the two encode to the same bytes), as the store reads it back through an
 * objects record's reference.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"

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
    kw_bundle *b = NULL, *c = NULL, *one = NULL;
    kw_indicator *ind = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (kw_bundle_decode(&b, data, size) == KW_ERR_OK) {
        if (kw_bundle_encode(b, &buf, &len) != KW_ERR_OK || kw_bundle_decode(&c, buf, len) != KW_ERR_OK
            || c->n != b->n) {
            abort();
        }
        for (uint32_t i = 0; i < b->n; i++) {
            if (memcmp(b->items[i].id, c->items[i].id, 16) != 0
                || strcmp(b->items[i].value, c->items[i].value) != 0
                || b->items[i].modified != c->items[i].modified) {
                abort();
            }
            const kw_indicator *d = &b->items[i];
            kw_bundle *span = NULL;
            kw_indicator *e = NULL;
            uint8_t *x = NULL, *y = NULL;
            size_t xl = 0, yl = 0;
            if (d->enc_len == 0) {
                continue; /* not kawan's field set: the store encodes it itself */
            }
            /* The span decodes alone to the very same indicator: both encode alike. */
            if (d->enc_off > size || d->enc_len > size - d->enc_off
                || kw_bundle_new(&span) != KW_ERR_OK
                || kw_indicator_decode(span, data + d->enc_off, d->enc_len, &e) != KW_ERR_OK
                || kw_bundle_encode(span, &x, &xl) != KW_ERR_OK) {
                abort();
            }
            kw_bundle *alone = NULL;
            kw_indicator *f = NULL;
            if (kw_bundle_new(&alone) != KW_ERR_OK || kw_bundle_add(alone, &f) != KW_ERR_OK) {
                abort();
            }
            *f = *d;
            if (kw_bundle_encode(alone, &y, &yl) != KW_ERR_OK || xl != yl
                || memcmp(x, y, xl) != 0) {
                abort();
            }
            free(x);
            free(y);
            kw_bundle_free(alone);
            kw_bundle_free(span);
        }
    }
    if (kw_bundle_new(&one) == KW_ERR_OK) {
        (void)kw_indicator_decode(one, data, size, &ind);
    }
    free(buf);
    kw_bundle_free(b);
    kw_bundle_free(c);
    kw_bundle_free(one);
    return 0;
}
