/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internationalised domain names: a name written with Unicode labels (U-labels, as STIX 2.1
 * domain-name values may be, RFC 5890) becomes its ASCII form (A-labels, "xn--" + Punycode,
 * RFC 3492), the form DNS, proxies and logs use, so that one name is one indicator.
 *
 * Lower-casing covers the scripts with case that IDNs use in practice (Latin, Greek,
 * Cyrillic, Armenian, fullwidth ASCII); Unicode normalisation (NFC) is not done, so a name
 * must come composed, as text normally is. Invisible and space characters are refused: they
 * only ever hide what a name is.
 */
#include "bundle/value.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PC_BASE 36u
#define PC_TMIN 1u
#define PC_TMAX 26u
#define PC_SKEW 38u
#define PC_DAMP 700u

/* At most this many code points in one label (its A-label is longer still, and is checked
 * for the 63-byte limit afterwards). */
#define MAX_LABEL_CP 63u

static uint32_t adapt(uint32_t delta, uint32_t points, int first)
{
    uint32_t k = 0;

    delta = first ? delta / PC_DAMP : delta / 2;
    delta += delta / points;
    while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
        delta /= PC_BASE - PC_TMIN;
        k += PC_BASE;
    }
    return k + (((PC_BASE - PC_TMIN + 1) * delta) / (delta + PC_SKEW));
}

static char pc_digit(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* RFC 3492 section 6.3. Returns the length written to out, or 0 when it does not fit. */
static size_t punycode(const uint32_t *cp, size_t n, char *out, size_t cap)
{
    uint32_t code = 0x80, delta = 0, bias = 72, h, b = 0;
    size_t o = 0;

    for (size_t j = 0; j < n; j++) {
        if (cp[j] < 0x80) {
            if (o + 1 >= cap) {
                return 0;
            }
            out[o++] = (char)cp[j];
            b++;
        }
    }
    h = b;
    if (b > 0) {
        if (o + 1 >= cap) {
            return 0;
        }
        out[o++] = '-';
    }
    while (h < n) {
        uint32_t m = UINT32_MAX;
        for (size_t j = 0; j < n; j++) {
            if (cp[j] >= code && cp[j] < m) {
                m = cp[j];
            }
        }
        /* The bounds (64 code points, each at most 0x10FFFF) keep these sums in range. */
        delta += (m - code) * (h + 1);
        code = m;
        for (size_t j = 0; j < n; j++) {
            if (cp[j] < code) {
                delta++;
            }
            if (cp[j] == code) {
                uint32_t q = delta;
                for (uint32_t k = PC_BASE;; k += PC_BASE) {
                    uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
                    if (q < t) {
                        break;
                    }
                    if (o + 1 >= cap) {
                        return 0;
                    }
                    out[o++] = pc_digit(t + (q - t) % (PC_BASE - t));
                    q = (q - t) / (PC_BASE - t);
                }
                if (o + 1 >= cap) {
                    return 0;
                }
                out[o++] = pc_digit(q);
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                h++;
            }
        }
        delta++;
        code++;
    }
    return o;
}

/* The lower-case form of a code point, for the scripts named at the top. */
static uint32_t lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') {
        return c + 0x20;
    }
    if (c >= 0xFF21 && c <= 0xFF3A) {
        return c - 0xFF21 + 'a'; /* fullwidth A-Z */
    }
    if (c >= 0xFF41 && c <= 0xFF5A) {
        return c - 0xFF41 + 'a';
    }
    if (c >= 0xFF10 && c <= 0xFF19) {
        return c - 0xFF10 + '0';
    }
    if (c == 0xFF0D) {
        return '-';
    }
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        || (c >= 0x410 && c <= 0x42F)) {
        return c + 0x20;
    }
    if (c >= 0x400 && c <= 0x40F) {
        return c + 0x50;
    }
    if (c >= 0x531 && c <= 0x556) {
        return c + 0x30;
    }
    if (c == 0x178) {
        return 0xFF;
    }
    if (c == 0x386) {
        return 0x3AC;
    }
    if (c >= 0x388 && c <= 0x38A) {
        return c + 0x25;
    }
    if (c == 0x38C) {
        return 0x3CC;
    }
    if (c == 0x38E || c == 0x38F) {
        return c + 0x3F;
    }
    /* Pairs where the capital is even. */
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177) || (c >= 0x460 && c <= 0x481)
        || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)
        || (c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) {
        return c % 2 == 0 ? c + 1 : c;
    }
    /* Pairs where the capital is odd. */
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E) || (c >= 0x4C1 && c <= 0x4CE)) {
        return c % 2 == 1 ? c + 1 : c;
    }
    return c;
}

/* Characters that never belong in a name: controls, spaces, invisible formatting. */
static bool refused(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || (c >= 0x2000 && c <= 0x200F)
        || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F) || c == 0x3000
        || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || (c >= 0xFFF0 && c <= 0xFFFF)
        || (c >= 0xE000 && c <= 0xF8FF) || c >= 0xE0000;
}

/* Decodes one UTF-8 sequence of len bytes (already known valid). */
static uint32_t decode(const unsigned char *s, size_t len)
{
    if (len == 1) {
        return s[0];
    }
    uint32_t c = s[0] & (0xFFu >> (len + 1));
    for (size_t k = 1; k < len; k++) {
        c = c << 6 | (s[k] & 0x3Fu);
    }
    return c;
}

static bool is_dot(uint32_t c)
{
    /* IDNA label separators: full stop, ideographic, fullwidth and halfwidth full stops. */
    return c == '.' || c == 0x3002 || c == 0xFF0E || c == 0xFF61;
}

const char *kw__idna_to_ascii(const char *s, size_t n, char *out, size_t cap, size_t *out_len)
{
    /* Per thread: values are normalised on the ingest helper thread too. */
    static _Thread_local char why_buf[96];
    uint32_t cp[MAX_LABEL_CP];
    size_t ncp = 0, o = 0, i = 0;
    bool wide = false;

    if (!kw_utf8_valid(s, n, NULL)) {
        return "contains bytes that are not UTF-8";
    }
    while (i <= n) {
        uint32_t c = '.';
        size_t len = 1;
        if (i < n) {
            len = kw_utf8_len(s + i, n - i);
            c = decode((const unsigned char *)s + i, len);
        }
        if (is_dot(c)) {
            /* The end of a label: as it is when ASCII, else its A-label (whose U-label may
             * not start or end with '-', RFC 5891 section 4.2.3.1). */
            if (wide && cp[0] == '-') {
                return "has a label that starts with '-'";
            }
            if (wide && cp[ncp - 1] == '-') {
                return "has a label that ends with '-'";
            }
            if (wide) {
                if (o + 4 >= cap) {
                    return "is too long";
                }
                memcpy(out + o, "xn--", 4);
                size_t w = punycode(cp, ncp, out + o + 4, cap - o - 4);
                if (w == 0) {
                    return "is too long";
                }
                o += 4 + w;
            } else {
                for (size_t k = 0; k < ncp; k++) {
                    if (o + 1 >= cap) {
                        return "is too long";
                    }
                    out[o++] = (char)cp[k];
                }
            }
            if (i < n) {
                if (o + 1 >= cap) {
                    return "is too long";
                }
                out[o++] = '.';
            }
            ncp = 0;
            wide = false;
            i += len;
            continue;
        }
        if (refused(c)) {
            snprintf(why_buf, sizeof(why_buf),
                "contains U+%04X, an invisible, space or control character no name holds", c);
            return why_buf;
        }
        if (ncp == MAX_LABEL_CP) {
            return "has a label longer than 63 characters";
        }
        c = lower(c);
        wide = wide || c >= 0x80;
        cp[ncp++] = c;
        i += len;
    }
    out[o] = '\0';
    *out_len = o;
    return NULL;
}
