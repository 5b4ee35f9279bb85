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

static bool invisible(uint32_t c);

/* The value of a Punycode digit (either case), or PC_BASE when c is none. */
static uint32_t pc_value(char c)
{
    if (c >= 'a' && c <= 'z') {
        return (uint32_t)(c - 'a');
    }
    if (c >= 'A' && c <= 'Z') {
        return (uint32_t)(c - 'A');
    }
    if (c >= '0' && c <= '9') {
        return (uint32_t)(c - '0') + 26;
    }
    return PC_BASE;
}

bool kw__idna_alabel_ok(const char *s, size_t n)
{
    uint32_t cp[MAX_LABEL_CP];
    uint32_t code = 0x80, i = 0, bias = 72;
    size_t out = 0, in = 0, basic = 0;
    char again[64];

    /* The basic code points come before the last '-'. */
    for (size_t k = n; k > 0; k--) {
        if (s[k - 1] == '-') {
            basic = k - 1;
            break;
        }
    }
    if (basic >= MAX_LABEL_CP) {
        return false;
    }
    for (size_t k = 0; k < basic; k++) {
        cp[out++] = (unsigned char)s[k];
    }
    in = basic > 0 ? basic + 1 : 0;
    if (in >= n) {
        return false; /* nothing encoded: not an A-label */
    }
    while (in < n) {
        uint32_t oldi = i, w = 1;
        for (uint32_t k = PC_BASE;; k += PC_BASE) {
            uint32_t digit, t;
            if (in >= n || (digit = pc_value(s[in++])) >= PC_BASE
                || digit > (UINT32_MAX - i) / w) {
                return false;
            }
            i += digit * w;
            t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
            if (digit < t) {
                break;
            }
            if (w > UINT32_MAX / (PC_BASE - t)) {
                return false;
            }
            w *= PC_BASE - t;
        }
        if (out + 1 >= MAX_LABEL_CP) {
            return false;
        }
        bias = adapt(i - oldi, (uint32_t)out + 1, oldi == 0);
        if (i / (out + 1) > 0x10FFFF - code) {
            return false;
        }
        code += i / (uint32_t)(out + 1);
        i %= (uint32_t)(out + 1);
        if (code < 0x80 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return false;
        }
        memmove(cp + i + 1, cp + i, (out - i) * sizeof(cp[0]));
        cp[i++] = code;
        out++;
    }
    for (size_t k = 0; k < out; k++) {
        if (invisible(cp[k])) {
            return false; /* a control or invisible character no name holds */
        }
    }
    /* Only the canonical form: encoding the code points again gives the label back. */
    size_t w = punycode(cp, out, again, sizeof(again));
    if (w != n) {
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        char c = s[k] >= 'A' && s[k] <= 'Z' ? (char)(s[k] + 32) : s[k];
        if (again[k] != c) {
            return false;
        }
    }
    return true;
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
    if (c == 0x1E9E) {
        return 0xDF; /* capital sharp s */
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
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177) || (c >= 0x1DE && c <= 0x1EF)
        || (c >= 0x1F8 && c <= 0x21F) || (c >= 0x222 && c <= 0x233) || (c >= 0x460 && c <= 0x481)
        || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)
        || (c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) {
        return c % 2 == 0 ? c + 1 : c;
    }
    /* Pairs where the capital is odd. */
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E) || (c >= 0x1CD && c <= 0x1DC)
        || (c >= 0x4C1 && c <= 0x4CE)) {
        return c % 2 == 1 ? c + 1 : c;
    }
    return c;
}

/* Characters that never belong in a name: controls, spaces, invisible formatting. */
static bool invisible(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || (c >= 0x2000 && c <= 0x200F)
        || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F) || c == 0x3000
        || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || (c >= 0xFFF0 && c <= 0xFFFF)
        || (c >= 0xE000 && c <= 0xF8FF) || c >= 0xE0000;
}

/*
 * The code points kawan takes in a U-label, after lower-casing: the letters, marks and digits
 * of the scripts IDNs are written in, in the forms IDNA2008 allows. Others (symbols, emoji,
 * compatibility forms such as U+FB00 or U+216B, title-case digraphs, letters whose lower case
 * this file does not know) are refused rather than turned into an A-label that is not the
 * name's: a browser's A-label for them (UTS 46) may differ.
 */
static bool allowed(uint32_t c)
{
    static const uint32_t ranges[][2] = {
        { 0x00B7, 0x00B7 }, /* middle dot (Catalan) */
        { 0x00DF, 0x00F6 }, { 0x00F8, 0x00FF }, /* Latin-1 lower case */
        { 0x0101, 0x0148 }, { 0x014A, 0x017E }, /* Latin Extended-A (not U+0149, U+017F) */
        { 0x0180, 0x0180 }, { 0x01CE, 0x01DC }, { 0x01DD, 0x01EF }, { 0x01F9, 0x021F },
        { 0x0223, 0x0233 }, { 0x0250, 0x02AF }, /* Latin Extended-B (pairs), IPA */
        { 0x0307, 0x0307 }, /* the dot of a lower-cased U+0130 (checked below) */
        { 0x03AC, 0x03CE }, /* Greek */
        { 0x0430, 0x045F }, { 0x0461, 0x0481 }, { 0x048B, 0x04BF }, { 0x04C2, 0x04CE },
        { 0x04D1, 0x04FF }, { 0x0501, 0x052F }, /* Cyrillic */
        { 0x0561, 0x0586 }, /* Armenian */
        { 0x0591, 0x05BD }, { 0x05BF, 0x05BF }, { 0x05C1, 0x05C2 }, { 0x05C4, 0x05C5 },
        { 0x05C7, 0x05C7 }, { 0x05D0, 0x05EA }, { 0x05F0, 0x05F2 }, /* Hebrew */
        { 0x0620, 0x065F }, { 0x0660, 0x0669 }, { 0x066E, 0x06D3 }, { 0x06D5, 0x06D5 },
        { 0x06F0, 0x06FF }, /* Arabic */
        { 0x0900, 0x0DFF }, /* Indic scripts and Sinhala */
        { 0x0E01, 0x0E3A }, { 0x0E40, 0x0E4E }, { 0x0E50, 0x0E59 }, /* Thai */
        { 0x0E81, 0x0EDF }, /* Lao */
        { 0x0F00, 0x0FFF }, /* Tibetan */
        { 0x1000, 0x109F }, /* Myanmar */
        { 0x10D0, 0x10FA }, /* Georgian */
        { 0x1200, 0x137F }, /* Ethiopic */
        { 0x1780, 0x17DD }, { 0x17E0, 0x17E9 }, /* Khmer */
        { 0x1E01, 0x1E95 }, { 0x1EA1, 0x1EFF }, /* Latin Extended Additional (lower case) */
        { 0x3041, 0x3096 }, { 0x3099, 0x309A }, { 0x309D, 0x309E }, /* Hiragana */
        { 0x30A1, 0x30FA }, { 0x30FC, 0x30FE }, /* Katakana */
        { 0x3105, 0x312F }, /* Bopomofo */
        { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, /* CJK */
        { 0xAC00, 0xD7A3 }, /* Hangul */
        { 0x20000, 0x2A6DF },
    };
    for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
        if (c >= ranges[k][0] && c <= ranges[k][1]) {
            /* The paired blocks hold their capitals too: only the lower case passes. */
            if ((c >= 0x0100 && c <= 0x0137 && c % 2 == 0) || (c >= 0x0139 && c <= 0x0148 && c % 2)
                || (c >= 0x014A && c <= 0x0177 && c % 2 == 0) || (c >= 0x0179 && c <= 0x017E && c % 2)
                || (c >= 0x01CD && c <= 0x01DC && c % 2) || (c >= 0x01DE && c <= 0x01EF && c % 2 == 0)
                || (c >= 0x01F8 && c <= 0x021F && c % 2 == 0) || (c >= 0x0222 && c <= 0x0233 && c % 2 == 0)
                || (c >= 0x0460 && c <= 0x0481 && c % 2 == 0) || (c >= 0x048A && c <= 0x04BF && c % 2 == 0)
                || (c >= 0x04C1 && c <= 0x04CE && c % 2) || (c >= 0x04D0 && c <= 0x052F && c % 2 == 0)
                || (c >= 0x1E00 && c <= 0x1E95 && c % 2 == 0) || (c >= 0x1EA0 && c <= 0x1EFF && c % 2 == 0)) {
                return false;
            }
            return true;
        }
    }
    return false;
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
    static _Thread_local char why_buf[160];
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
        if (invisible(c)) {
            snprintf(why_buf, sizeof(why_buf),
                "contains U+%04X, an invisible, space or control character no name holds", c);
            return why_buf;
        }
        if (ncp + 1 >= MAX_LABEL_CP) {
            return "has a label longer than 63 characters";
        }
        if (c == 0x130) {
            cp[ncp++] = 'i'; /* capital I with dot: its lower case is i and a combining dot */
            c = 0x307;
        } else if (c >= 0x300 && c <= 0x36F && !(c == 0x307 && ncp > 0 && cp[ncp - 1] == 'i')) {
            return "is not in Unicode NFC form (a letter and a separate combining accent); "
                   "write it composed, or in its xn-- form";
        } else {
            c = lower(c);
        }
        if (c >= 0x80 && !allowed(c)) {
            snprintf(why_buf, sizeof(why_buf),
                "contains U+%04X, which kawan does not take in a domain name (give its xn-- form "
                "if it is a real one)",
                c);
            return why_buf;
        }
        wide = wide || c >= 0x80;
        cp[ncp++] = c;
        i += len;
    }
    out[o] = '\0';
    *out_len = o;
    return NULL;
}
