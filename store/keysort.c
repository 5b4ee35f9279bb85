/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sorting index keys into LMDB's order before they are put or looked up: a most-significant-
 * byte-first radix sort. Values of one type share long prefixes ("\x05https://www."), which
 * make a comparison sort compare the same bytes again and again; the radix sort reads each
 * byte of the distinguishing prefix about once.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* Below this many keys a bucket is finished by insertion sort. */
#define SMALL 24u

/* LMDB's default key order: bytes compared as unsigned, then the shorter key first. */
static int key_cmp(const kw__skey *x, const kw__skey *y, size_t depth)
{
    size_t xl = x->len - depth, yl = y->len - depth;
    int c = memcmp(x->p + depth, y->p + depth, xl < yl ? xl : yl);

    if (c != 0) {
        return c;
    }
    return (xl > yl) - (xl < yl);
}

static void insertion(kw__skey *a, size_t n, size_t depth)
{
    for (size_t i = 1; i < n; i++) {
        kw__skey t = a[i];
        size_t j = i;
        while (j > 0 && key_cmp(&a[j - 1], &t, depth) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = t;
    }
}

typedef struct span {
    size_t at, n, depth;
} span;

kw_err kw__sort_keys(kw__skey *a, size_t n)
{
    kw__skey *tmp;
    span *spans;
    size_t top = 0;

    if (n < 2) {
        return KW_ERR_OK;
    }
    /* Spans waiting are disjoint and hold two keys or more: at most n / 2 of them. */
    tmp = malloc(n * sizeof(*tmp));
    spans = malloc((n / 2 + 1) * sizeof(*spans));
    if (tmp == NULL || spans == NULL) {
        free(tmp);
        free(spans);
        return KW_ERR_NOMEM;
    }
    spans[top++] = (span) { 0, n, 0 };
    while (top > 0) {
        span sp = spans[--top];
        kw__skey *k = a + sp.at;
        size_t count[257] = { 0 }, end[257], most = 0;

        if (sp.n < SMALL) {
            insertion(k, sp.n, sp.depth);
            continue;
        }
        /* Bucket 0: keys that end here, which come first; bucket 1 + b: next byte b. */
        for (size_t i = 0; i < sp.n; i++) {
            count[k[i].len > sp.depth ? 1u + k[i].p[sp.depth] : 0u]++;
        }
        for (size_t b = 1; b < 257; b++) {
            most = count[b] > most ? count[b] : most;
        }
        if (most == sp.n) {
            /* One byte shared by all: look at the next. */
            spans[top++] = (span) { sp.at, sp.n, sp.depth + 1 };
            continue;
        }
        end[0] = count[0];
        for (size_t b = 1; b < 257; b++) {
            end[b] = end[b - 1] + count[b];
        }
        for (size_t i = sp.n; i-- > 0;) {
            tmp[--end[k[i].len > sp.depth ? 1u + k[i].p[sp.depth] : 0u]] = k[i];
        }
        memcpy(k, tmp, sp.n * sizeof(*k));
        /* end[b] is now where bucket b starts. Bucket 0's keys are equal: done. */
        for (size_t b = 1; b < 257; b++) {
            if (count[b] > 1) {
                spans[top++] = (span) { sp.at + end[b], count[b], sp.depth + 1 };
            }
        }
    }
    free(tmp);
    free(spans);
    return KW_ERR_OK;
}
