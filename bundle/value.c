/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/value.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "bundle/stix.h"

/*
 * Every value that enters kawan passes through here, at up to a few hundred thousand values
 * a second, and much of it is hostile. So: no regex, no allocation, no locale (isalpha and
 * tolower change with LC_CTYPE, which would make the stored form depend on the environment),
 * and every read is bounded by the given length rather than by a NUL.
 *
 * The leaf parsers return NULL on success or the static phrase that says what is wrong. They
 * hold no resources, so they return at the point of detection; the public functions keep the
 * single exit.
 */

/* ---- Type names ---------------------------------------------------------------------- */

const char *kw_obs_type_name(kw_obs_type t)
{
    switch (t) {
#define KW__OBS_NAME(name, value, text) \
    case KW_OBS_##name:                 \
        return text;
        KW_OBS_MAP(KW__OBS_NAME)
#undef KW__OBS_NAME
    case KW_OBS_NONE:
        break;
    }
    return "unknown";
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_eq_nocase(const char *a, const char *b)
{
    while (*a != '\0' && *b != '\0') {
        if (ascii_lower(*a) != ascii_lower(*b)) {
            return false;
        }
        a++;
        b++;
    }
    return *a == *b;
}

/* Names other tools use for the same types (STIX object names, MISP-style spellings). */
static const struct {
    const char *name;
    kw_obs_type type;
} obs_aliases[] = {
    { "ip", KW_OBS_IPV4 },
    { "ipv4-addr", KW_OBS_IPV4 },
    { "ipv6-addr", KW_OBS_IPV6 },
    { "domain-name", KW_OBS_DOMAIN },
    { "hostname", KW_OBS_DOMAIN },
    { "email-addr", KW_OBS_EMAIL },
    { "md-5", KW_OBS_MD5 },
    { "sha-1", KW_OBS_SHA1 },
    { "sha-256", KW_OBS_SHA256 },
    { "sha-512", KW_OBS_SHA512 },
    { "pattern", KW_OBS_STIX_PATTERN },
};

kw_err kw_obs_type_parse(const char *s, kw_obs_type *out)
{
    kw_err rc = KW_ERR_INVAL;

    if (s == NULL || out == NULL) {
        goto out;
    }
    for (int t = 1; t <= KW_OBS_MAX; t++) {
        if (ascii_eq_nocase(s, kw_obs_type_name((kw_obs_type)t))) {
            *out = (kw_obs_type)t;
            rc = KW_ERR_OK;
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof(obs_aliases) / sizeof(obs_aliases[0]); i++) {
        if (ascii_eq_nocase(s, obs_aliases[i].name)) {
            *out = obs_aliases[i].type;
            rc = KW_ERR_OK;
            goto out;
        }
    }
out:
    return rc;
}

/* ---- Character classes (ASCII only, on purpose) ------------------------------------- */

enum {
    C_DIGIT = 1u << 0,  /* 0-9 */
    C_HEX = 1u << 1,    /* 0-9 a-f A-F */
    C_ALPHA = 1u << 2,  /* a-z A-Z */
    C_LDH = 1u << 3,    /* inside a DNS label: letters, digits, '-', '_' */
    C_ATEXT = 1u << 4,  /* RFC 5322 atext */
    C_SCHEME = 1u << 5, /* inside a URI scheme: letters, digits, '+', '-', '.' */
    C_TRIM = 1u << 6,   /* trimmed from both ends: space, tab, CR, LF */
    C_SPACE = 1u << 7,  /* C_TRIM and VT, FF */
    C_CTL = 1u << 8,    /* C0 controls and DEL */
    C_HIGH = 1u << 9,   /* not ASCII */
    C_V6 = 1u << 10,    /* in IPv6 text: hex digits, ':', '.' */
    C_V4 = 1u << 11,    /* in a dotted quad: digits, '.' */
    C_V4P = 1u << 12,   /* in a dotted quad with a port: digits, '.', ':' */
    C_DOT = 1u << 13,
    C_COLON = 1u << 14,
    C_SLASH = 1u << 15,
    C_AT = 1u << 16,
};

#define CT C_CTL
#define TW (C_TRIM | C_SPACE | C_CTL)
#define VW (C_SPACE | C_CTL)
#define SP (C_TRIM | C_SPACE)
#define DG (C_DIGIT | C_HEX | C_LDH | C_ATEXT | C_SCHEME | C_V6 | C_V4 | C_V4P)
#define HX (C_HEX | C_ALPHA | C_LDH | C_ATEXT | C_SCHEME | C_V6)
#define LT (C_ALPHA | C_LDH | C_ATEXT | C_SCHEME)
#define AX C_ATEXT
#define PL (C_ATEXT | C_SCHEME)
#define HY (C_LDH | C_ATEXT | C_SCHEME)
#define US (C_LDH | C_ATEXT)
#define DT (C_SCHEME | C_V6 | C_V4 | C_V4P | C_DOT)
#define SL (C_ATEXT | C_SLASH)
#define CL (C_V6 | C_V4P | C_COLON)
#define AM C_AT
#define HI C_HIGH
#define HI16 HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI, HI

/* One lookup per byte instead of a chain of comparisons; the values are hot in every loop. */
/* clang-format off */
static const uint32_t cclass[256] = {
    CT, CT, CT, CT, CT, CT, CT, CT, CT, TW, TW, VW, VW, TW, CT, CT, /* 0x00 */
    CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, CT, /* 0x10 */
    SP, AX, 0,  AX, AX, AX, AX, AX, 0,  0,  AX, PL, 0,  HY, DT, SL, /* 0x20 */
    DG, DG, DG, DG, DG, DG, DG, DG, DG, DG, CL, 0,  0,  AX, 0,  AX, /* 0x30 */
    AM, HX, HX, HX, HX, HX, HX, LT, LT, LT, LT, LT, LT, LT, LT, LT, /* 0x40 */
    LT, LT, LT, LT, LT, LT, LT, LT, LT, LT, LT, 0,  0,  0,  AX, US, /* 0x50 */
    AX, HX, HX, HX, HX, HX, HX, LT, LT, LT, LT, LT, LT, LT, LT, LT, /* 0x60 */
    LT, LT, LT, LT, LT, LT, LT, LT, LT, LT, LT, AX, AX, AX, AX, CT, /* 0x70 */
    HI16, HI16, HI16, HI16, HI16, HI16, HI16, HI16,                  /* 0x80-0xff */
};
/* clang-format on */

#undef CT
#undef TW
#undef VW
#undef SP
#undef DG
#undef HX
#undef LT
#undef AX
#undef PL
#undef HY
#undef US
#undef DT
#undef SL
#undef CL
#undef AM
#undef HI
#undef HI16

static bool is_class(char c, uint32_t cls)
{
    return (cclass[(unsigned char)c] & cls) != 0;
}

/* The union and the intersection of the classes of all bytes of s. */
static void class_summary(const char *s, size_t n, uint32_t *any, uint32_t *all)
{
    uint32_t or_ = 0, and_ = ~(uint32_t)0;

    for (size_t i = 0; i < n; i++) {
        uint32_t c = cclass[(unsigned char)s[i]];
        or_ |= c;
        and_ &= c;
    }
    *any = or_;
    *all = and_;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_class(c, C_HEX);
}

static unsigned hex_value(char c)
{
    /* Only called on hex digits: 'a' and 'A' differ in bit 0x20 only. */
    return is_digit(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static bool is_non_ascii(char c)
{
    return (unsigned char)c >= 0x80;
}

static bool has_byte(const char *s, size_t n, char c)
{
    return n > 0 && memchr(s, c, n) != NULL;
}

static const char *find_url_sep(const char *s, size_t n)
{
    const char *p = s;
    const char *end = s + n;

    while ((p = memchr(p, ':', (size_t)(end - p))) != NULL) {
        if (end - p >= 3 && p[1] == '/' && p[2] == '/') {
            return p;
        }
        p++;
    }
    return NULL;
}

size_t kw_utf8_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t need;

    if (n == 0) {
        return 0;
    }
    unsigned c = s[0];
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
    } else {
        return 0;
    }
    if (n - 1 < need) {
        return 0;
    }
    unsigned c1 = s[1];
    /* No overlong forms, no surrogates, nothing above U+10FFFF. */
    if ((c1 & 0xc0) != 0x80 || (c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f)
        || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)) {
        return 0;
    }
    for (size_t k = 2; k <= need; k++) {
        if ((s[k] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return need + 1;
}

bool kw_utf8_valid(const char *s, size_t n, size_t *bad_at)
{
    size_t i = 0;

    while (i < n) {
        size_t k = (unsigned char)s[i] < 0x80 ? 1 : kw_utf8_len(s + i, n - i);
        if (k == 0) {
            if (bad_at != NULL) {
                *bad_at = i;
            }
            return false;
        }
        i += k;
    }
    return true;
}

/* ---- Output ------------------------------------------------------------------------- */

/*
 * Bounded writer: the normalised form can be longer than the input (IPv6 compression moves
 * to the longest run). Hot loops reserve room once and write through a local pointer, since
 * stores through a char pointer would otherwise force len to be reloaded on every byte.
 */
typedef struct obuf {
    char *p;
    size_t len;
    size_t max; /* longest content, not counting the NUL */
    bool overflow;
} obuf;

static char *reserve(obuf *o, size_t n)
{
    if (n > o->max - o->len) {
        o->overflow = true;
        return NULL;
    }
    return o->p + o->len;
}

static void put_bytes(obuf *o, const char *s, size_t n)
{
    char *w = reserve(o, n);

    if (w != NULL) {
        memcpy(w, s, n);
        o->len += n;
    }
}

static void put_byte(obuf *o, char c)
{
    put_bytes(o, &c, 1);
}

/* Writes v in decimal to buf; returns the length. */
static size_t fmt_uint(char *buf, unsigned v)
{
    char tmp[10];
    size_t n = 0, len = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        buf[len++] = tmp[--n];
    }
    return len;
}

static void put_uint(obuf *o, unsigned v)
{
    char buf[10];

    put_bytes(o, buf, fmt_uint(buf, v));
}

/* ---- IPv4 ---------------------------------------------------------------------------- */

/*
 * The standalone IPv4 phrase names the octet ("octet 999 out of range"). *why must be static,
 * so the phrases for 200..999 are generated here; the first 56 are never used. Longer octets
 * get the generic phrase.
 */
#define V4_RANGE_WHY(n) "is not an IPv4 address (octet " #n " out of range)"
#define V4_RANGE_WHY10(t)                                                               \
    V4_RANGE_WHY(t##0), V4_RANGE_WHY(t##1), V4_RANGE_WHY(t##2), V4_RANGE_WHY(t##3),     \
        V4_RANGE_WHY(t##4), V4_RANGE_WHY(t##5), V4_RANGE_WHY(t##6), V4_RANGE_WHY(t##7), \
        V4_RANGE_WHY(t##8), V4_RANGE_WHY(t##9)
#define V4_RANGE_WHY100(h)                                                                      \
    V4_RANGE_WHY10(h##0), V4_RANGE_WHY10(h##1), V4_RANGE_WHY10(h##2), V4_RANGE_WHY10(h##3),     \
        V4_RANGE_WHY10(h##4), V4_RANGE_WHY10(h##5), V4_RANGE_WHY10(h##6), V4_RANGE_WHY10(h##7), \
        V4_RANGE_WHY10(h##8), V4_RANGE_WHY10(h##9)
static const char *const v4_range_why[]
    = { V4_RANGE_WHY100(2), V4_RANGE_WHY100(3), V4_RANGE_WHY100(4), V4_RANGE_WHY100(5),
          V4_RANGE_WHY100(6), V4_RANGE_WHY100(7), V4_RANGE_WHY100(8), V4_RANGE_WHY100(9) };
_Static_assert(sizeof(v4_range_why) / sizeof(v4_range_why[0]) == 800, "octets 200..999");

/*
 * IPv4 problems, with the detail each context puts in its own phrase: a bare IPv4 address,
 * the address of a CIDR block, and the host of a URL.
 */
#define V4_ERR_MAP(X)                                        \
    X(FEW, "fewer than 4 octets")                            \
    X(MANY, "more than 4 octets")                            \
    X(EMPTY, "empty octet")                                  \
    X(TRAILDOT, "trailing dot")                              \
    X(LEADZERO, "leading zero in octet")                     \
    X(RANGE, "octet out of range")                           \
    X(HEX, "hex octets are not allowed")                     \
    X(SPACE, "contains whitespace")                          \
    X(SIGN, "signs are not allowed")                         \
    X(PORT, "contains ':'; give the address without a port") \
    X(SLASH, "contains '/'; a CIDR block is not an address") \
    X(CHAR, "unexpected character")

typedef enum v4_err {
    V4_OK = 0,
#define V4_ERR_ENUM(name, text) V4_##name,
    V4_ERR_MAP(V4_ERR_ENUM)
#undef V4_ERR_ENUM
} v4_err;

static const char *const v4_why[] = { NULL,
#define V4_ERR_TEXT(name, text) "is not an IPv4 address (" text ")",
    V4_ERR_MAP(V4_ERR_TEXT)
#undef V4_ERR_TEXT
};
static const char *const v4_cidr_why[] = { NULL,
#define V4_ERR_TEXT(name, text) "has an invalid IPv4 address (" text ")",
    V4_ERR_MAP(V4_ERR_TEXT)
#undef V4_ERR_TEXT
};
static const char *const v4_host_why[] = { NULL,
#define V4_ERR_TEXT(name, text) "has an invalid IPv4 host (" text ")",
    V4_ERR_MAP(V4_ERR_TEXT)
#undef V4_ERR_TEXT
};

static v4_err v4_bad_char(const char *s, size_t start, size_t i, int part)
{
    char c = s[i];
    /* The port and CIDR hints only make sense after a whole dotted quad. */
    bool after_quad = part == 3 && i > start;

    if ((c == 'x' || c == 'X') && i - start == 1 && s[start] == '0') {
        return V4_HEX;
    }
    if (is_class(c, C_SPACE)) {
        return V4_SPACE;
    }
    if (c == '+' || c == '-') {
        return V4_SIGN;
    }
    if (c == ':' && after_quad) {
        return V4_PORT;
    }
    if (c == '/' && after_quad) {
        return V4_SLASH;
    }
    return V4_CHAR;
}

/*
 * Strict dotted quad: exactly four decimal octets without leading zeros. inet_aton's other
 * forms (octal, hex, fewer parts) are rejected: an indicator must mean the same address to
 * every tool that reads it. *bad gets the out-of-range octet value for the phrase.
 */
static v4_err parse_ipv4(const char *s, size_t n, uint8_t a[4], unsigned *bad)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i == n) {
                return V4_FEW;
            }
            i++; /* The previous octet stopped at a dot. */
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(s[i])) {
            if (i - start < 3) {
                v = v * 10 + (unsigned)(s[i] - '0');
            }
            i++;
        }
        if (i < n && s[i] != '.') {
            return v4_bad_char(s, start, i, part);
        }
        size_t len = i - start;
        if (len == 0) {
            return V4_EMPTY;
        }
        if (len > 1 && s[start] == '0') {
            return V4_LEADZERO;
        }
        if (len > 3) {
            *bad = 0;
            return V4_RANGE;
        }
        if (v > 255) {
            *bad = v;
            return V4_RANGE;
        }
        a[part] = (uint8_t)v;
    }
    if (i < n) {
        return i + 1 == n ? V4_TRAILDOT : V4_MANY;
    }
    return V4_OK;
}

static size_t fmt_ipv4(char *buf, const uint8_t a[4])
{
    size_t len = 0;

    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            buf[len++] = '.';
        }
        len += fmt_uint(buf + len, a[k]);
    }
    return len;
}

static void put_ipv4(obuf *o, const uint8_t a[4])
{
    char buf[16];

    put_bytes(o, buf, fmt_ipv4(buf, a));
}

static const char *norm_ipv4(const char *s, size_t n, obuf *o)
{
    uint8_t a[4];
    unsigned bad = 0;
    v4_err e = parse_ipv4(s, n, a, &bad);

    if (e == V4_RANGE && bad > 255 && bad < 1000) {
        return v4_range_why[bad - 200];
    }
    if (e != V4_OK) {
        return v4_why[e];
    }
    put_ipv4(o, a);
    return NULL;
}

/* ---- IPv6 ---------------------------------------------------------------------------- */

#define V6_ERR_MAP(X)                                            \
    X(ZONE, "zone ids such as %eth0 are not allowed")            \
    X(TOOLONG, "too long")                                       \
    X(LEADCOLON, "starts with a single ':'")                     \
    X(TRAILCOLON, "ends with a single ':'")                      \
    X(DOUBLE, "more than one '::'")                              \
    X(EMPTYGROUP, "empty group")                                 \
    X(LONGGROUP, "group longer than 4 hex digits")               \
    X(CHAR, "unexpected character")                              \
    X(MANY, "more than 8 groups")                                \
    X(FEW, "fewer than 8 groups and no '::'")                    \
    X(NOZERO, "'::' must stand for at least one zero group")     \
    X(V4PLACE, "embedded IPv4 address must be the last 32 bits") \
    X(V4, "invalid embedded IPv4 address")

typedef enum v6_err {
    V6_OK = 0,
#define V6_ERR_ENUM(name, text) V6_##name,
    V6_ERR_MAP(V6_ERR_ENUM)
#undef V6_ERR_ENUM
} v6_err;

static const char *const v6_why[] = { NULL,
#define V6_ERR_TEXT(name, text) "is not an IPv6 address (" text ")",
    V6_ERR_MAP(V6_ERR_TEXT)
#undef V6_ERR_TEXT
};
static const char *const v6_cidr_why[] = { NULL,
#define V6_ERR_TEXT(name, text) "has an invalid IPv6 address (" text ")",
    V6_ERR_MAP(V6_ERR_TEXT)
#undef V6_ERR_TEXT
};
static const char *const v6_host_why[] = { NULL,
#define V6_ERR_TEXT(name, text) "has an invalid IPv6 host (" text ")",
    V6_ERR_MAP(V6_ERR_TEXT)
#undef V6_ERR_TEXT
};

/* The longest RFC 4291 text form: six 4-digit groups and a 15-character dotted quad. */
#define V6_TEXT_MAX 45

/* Any RFC 4291 text form (section 2.2), without zone ids. */
static v6_err parse_ipv6(const char *s, size_t n, uint8_t a[16])
{
    uint16_t g[8];
    size_t ng = 0;
    size_t i = 0;
    int dc = -1; /* group index where "::" stands */

    if (has_byte(s, n, '%')) {
        return V6_ZONE;
    }
    if (n > V6_TEXT_MAX) {
        return V6_TOOLONG;
    }
    if (n >= 1 && s[0] == ':') {
        if (n < 2 || s[1] != ':') {
            return V6_LEADCOLON;
        }
        dc = 0;
        i = 2;
    }
    while (i < n) {
        size_t j = i;
        bool dot = false;
        while (j < n && s[j] != ':') {
            if (s[j] == '.') {
                dot = true;
            } else if (!is_hex(s[j])) {
                return V6_CHAR;
            }
            j++;
        }
        if (j == i) {
            return V6_EMPTYGROUP;
        }
        if (dot) {
            uint8_t v4[4];
            unsigned bad = 0;
            if (j != n || ng > 6) {
                return V6_V4PLACE;
            }
            if (parse_ipv4(s + i, j - i, v4, &bad) != V4_OK) {
                return V6_V4;
            }
            g[ng++] = (uint16_t)(v4[0] << 8 | v4[1]);
            g[ng++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = j;
            break;
        }
        if (j - i > 4) {
            return V6_LONGGROUP;
        }
        if (ng == 8) {
            return V6_MANY;
        }
        unsigned v = 0;
        for (size_t k = i; k < j; k++) {
            v = v << 4 | hex_value(s[k]);
        }
        g[ng++] = (uint16_t)v;
        if (j == n) {
            i = j;
            break;
        }
        /* s[j] is ':' */
        if (j + 1 < n && s[j + 1] == ':') {
            if (dc >= 0) {
                return V6_DOUBLE;
            }
            dc = (int)ng;
            i = j + 2;
        } else {
            i = j + 1;
            if (i == n) {
                return V6_TRAILCOLON;
            }
        }
    }
    if (dc >= 0) {
        size_t fill = 8 - ng;
        if (ng > 7) {
            return V6_NOZERO;
        }
        /* Shift the groups after "::" to the end and zero the gap. */
        memmove(g + dc + fill, g + dc, (ng - (size_t)dc) * sizeof(g[0]));
        for (size_t k = 0; k < fill; k++) {
            g[(size_t)dc + k] = 0;
        }
    } else if (ng != 8) {
        return V6_FEW;
    }
    for (size_t k = 0; k < 8; k++) {
        a[2 * k] = (uint8_t)(g[k] >> 8);
        a[2 * k + 1] = (uint8_t)(g[k] & 0xff);
    }
    return V6_OK;
}

/* Lower-case hex without leading zeros; returns the length. */
static size_t fmt_hex16(char *buf, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    size_t len = 0;

    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xf;
        if (d != 0 || len > 0 || shift == 0) {
            buf[len++] = digits[d];
        }
    }
    return len;
}

/*
 * RFC 5952 section 4: lower case, no leading zeros, the longest run of two or more zero
 * groups as "::" (the first such run on a tie). Section 5's mixed notation is used for
 * IPv4-mapped addresses only; the deprecated IPv4-compatible form (which glibc's inet_ntop
 * still prints as ::a.b.c.d) is written in hex like any other address.
 */
static void put_ipv6(obuf *o, const uint8_t a[16])
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char buf[48];
    size_t len = 0;
    unsigned g[8];
    int best = -1, best_len = 0;

    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        memcpy(buf, "::ffff:", 7);
        len = 7 + fmt_ipv4(buf + 7, a + 12);
        put_bytes(o, buf, len);
        return;
    }
    for (int k = 0; k < 8; k++) {
        g[k] = (unsigned)a[2 * k] << 8 | a[2 * k + 1];
    }
    for (int k = 0; k < 8;) {
        if (g[k] != 0) {
            k++;
            continue;
        }
        int start = k;
        while (k < 8 && g[k] == 0) {
            k++;
        }
        if (k - start > best_len) {
            best = start;
            best_len = k - start;
        }
    }
    if (best_len < 2) {
        best = -1;
        best_len = 0;
    }
    for (int k = 0; k < 8; k++) {
        if (k == best) {
            buf[len++] = ':';
            buf[len++] = ':';
            k += best_len - 1;
            continue;
        }
        if (k > 0 && k != best + best_len) {
            buf[len++] = ':';
        }
        len += fmt_hex16(buf + len, g[k]);
    }
    put_bytes(o, buf, len);
}

static const char *norm_ipv6(const char *s, size_t n, obuf *o)
{
    uint8_t a[16];
    v6_err e = parse_ipv6(s, n, a);

    if (e != V6_OK) {
        return v6_why[e];
    }
    put_ipv6(o, a);
    return NULL;
}

/* ---- CIDR ---------------------------------------------------------------------------- */

#define HB_WHY(n) "has host bits set for prefix /" #n
#define HB_WHY10(t)                                                                     \
    HB_WHY(t##0), HB_WHY(t##1), HB_WHY(t##2), HB_WHY(t##3), HB_WHY(t##4), HB_WHY(t##5), \
        HB_WHY(t##6), HB_WHY(t##7), HB_WHY(t##8), HB_WHY(t##9)
static const char *const host_bits_why[] = { HB_WHY(0), HB_WHY(1), HB_WHY(2), HB_WHY(3), HB_WHY(4),
    HB_WHY(5), HB_WHY(6), HB_WHY(7), HB_WHY(8), HB_WHY(9), HB_WHY10(1), HB_WHY10(2), HB_WHY10(3),
    HB_WHY10(4), HB_WHY10(5), HB_WHY10(6), HB_WHY10(7), HB_WHY10(8), HB_WHY10(9), HB_WHY10(10),
    HB_WHY10(11), HB_WHY10(12) };
_Static_assert(sizeof(host_bits_why) / sizeof(host_bits_why[0]) > 128, "prefixes 0..128");

static bool host_bits_clear(const uint8_t *a, size_t nbytes, unsigned prefix)
{
    for (size_t i = 0; i < nbytes; i++) {
        unsigned first = (unsigned)(8 * i);
        unsigned net = prefix >= first + 8 ? 8 : (prefix > first ? prefix - first : 0);
        unsigned host_mask = 0xffu >> net;
        if ((a[i] & host_mask) != 0) {
            return false;
        }
    }
    return true;
}

static const char *norm_cidr(const char *s, size_t n, obuf *o)
{
    const char *slash = memchr(s, '/', n);
    uint8_t a[16];
    unsigned prefix = 0;

    if (slash == NULL) {
        return "is not a CIDR block (no '/prefix')";
    }
    size_t alen = (size_t)(slash - s);
    const char *p = slash + 1;
    size_t plen = n - alen - 1;
    bool v6 = has_byte(s, alen, ':');
    unsigned max = v6 ? 128 : 32;

    if (plen == 0) {
        return "is not a CIDR block (empty prefix length)";
    }
    for (size_t k = 0; k < plen; k++) {
        if (!is_digit(p[k])) {
            return p[k] == '/' ? "is not a CIDR block (more than one '/')"
                               : "is not a CIDR block (prefix length is not a number)";
        }
    }
    if (plen > 1 && p[0] == '0') {
        return "is not a CIDR block (leading zero in prefix length)";
    }
    if (plen > 3) {
        prefix = 1000;
    } else {
        for (size_t k = 0; k < plen; k++) {
            prefix = prefix * 10 + (unsigned)(p[k] - '0');
        }
    }
    if (alen == 0) {
        return "is not a CIDR block (empty address)";
    }
    if (v6) {
        v6_err e = parse_ipv6(s, alen, a);
        if (e != V6_OK) {
            return v6_cidr_why[e];
        }
    } else {
        unsigned bad = 0;
        v4_err e = parse_ipv4(s, alen, a, &bad);
        if (e != V4_OK) {
            return v4_cidr_why[e];
        }
    }
    if (prefix > max) {
        return v6 ? "is not a CIDR block (IPv6 prefix length must be 0-128)"
                  : "is not a CIDR block (IPv4 prefix length must be 0-32)";
    }
    if (!host_bits_clear(a, v6 ? 16 : 4, prefix)) {
        return host_bits_why[prefix];
    }
    if (prefix == 0) {
        return "is not an indicator (a /0 block is every address)";
    }
    if (v6) {
        put_ipv6(o, a);
    } else {
        put_ipv4(o, a);
    }
    put_byte(o, '/');
    put_uint(o, prefix);
    return NULL;
}

/* ---- Domain names -------------------------------------------------------------------- */

static const char *domain_bad_char(char c)
{
    if (is_class(c, C_SPACE)) {
        return "contains whitespace";
    }
    switch (c) {
    case '*':
        return "contains a '*' wildcard; give the domain without it";
    case ':':
        return "contains ':' (a port or an IPv6 address is not a domain)";
    case '/':
        return "contains '/' (a URL or path is not a domain)";
    case '@':
        return "contains '@' (an e-mail address is not a domain)";
    default:
        return "contains a character not allowed in a domain name";
    }
}


/*
 * Lower-cases and checks a host name. single_label allows hosts like "localhost", which a
 * URL may have but which mean nothing as a domain indicator on their own.
 */
static const char *norm_domain(const char *s, size_t n, obuf *o, bool single_label)
{
    char ascii[2 * 253];
    bool converted = false;
    /* An internationalised name is checked and kept in its ASCII (xn--) form. */
    for (size_t i = 0; i < n; i++) {
        if (is_non_ascii(s[i])) {
            size_t alen = 0;
            const char *why = kw__idna_to_ascii(s, n, ascii, sizeof(ascii), &alen);
            if (why != NULL) {
                return why;
            }
            s = ascii;
            n = alen;
            converted = true;
            break;
        }
    }
    size_t labels = 0;
    size_t lstart = 0;
    bool numeric = true;
    const char *why = NULL;
    char *w;

    if (n > 0 && s[n - 1] == '.') {
        n--; /* The root label: "example.com." and "example.com" are the same name. */
    }
    if (n == 0) {
        why = "has an empty label";
        goto fail;
    }
    if (n > 253) {
        why = "is longer than 253 characters";
        goto fail;
    }
    if ((w = reserve(o, n)) == NULL) {
        return NULL; /* The caller reports the overflow. */
    }
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t len = i - lstart;
            if (len == 0) {
                why = "has an empty label";
                goto fail;
            }
            if (len > 63) {
                why = "has a label longer than 63 characters";
                goto fail;
            }
            if (s[lstart] == '-') {
                why = "has a label that starts with '-'";
                goto fail;
            }
            if (s[i - 1] == '-') {
                why = "has a label that ends with '-'";
                goto fail;
            }
            labels++;
            if (i < n) {
                w[i] = '.';
                lstart = i + 1;
                numeric = true;
            }
            continue;
        }
        uint32_t cls = cclass[(unsigned char)s[i]];
        if (!(cls & C_LDH)) {
            why = domain_bad_char(s[i]);
            goto fail;
        }
        numeric = numeric && (cls & C_DIGIT);
        w[i] = ascii_lower(s[i]);
    }
    if (labels < 2 && !single_label) {
        why = "has only one label (a bare host name is not a domain indicator)";
        goto fail;
    }
    if (numeric) {
        why = "has an all-numeric top-level label (not a domain name)";
        goto fail;
    }
    o->len += n;
    return NULL;
fail:
    /* The limits apply to the xn-- form, which may be longer than what was written. */
    if (converted && strcmp(why, "has a label longer than 63 characters") == 0) {
        return "has a label longer than 63 characters in its xn-- form";
    }
    if (converted && strcmp(why, "is longer than 253 characters") == 0) {
        return "is longer than 253 characters in its xn-- form";
    }
    return why;
}

/* ---- URLs ---------------------------------------------------------------------------- */

static bool all_digits_dots(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_class(s[i], C_V4)) {
            return false;
        }
    }
    return true;
}

static const char *url_text_check(const char *s, size_t n)
{
    uint32_t any = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t cls = cclass[(unsigned char)s[i]];
        if (cls & (C_CTL | C_SPACE)) {
            return s[i] == ' ' ? "contains a space" : "contains a control character";
        }
        any |= cls;
    }
    if ((any & C_HIGH) && !kw_utf8_valid(s, n, NULL)) {
        return "contains invalid UTF-8";
    }
    return NULL;
}

/*
 * scheme://[userinfo@]host[:port][path][?query][#fragment] (RFC 3986). The scheme, host and
 * port are normalised; everything after the authority is kept byte for byte, because the
 * exact path is what a proxy or sandbox matches on.
 */
static const char *norm_url(const char *s, size_t n, obuf *o)
{
    const char *why = url_text_check(s, n);
    const char *sep = find_url_sep(s, n);
    char *w;

    if (why != NULL) {
        return why;
    }
    if (sep == NULL) {
        return "is not a URL (no scheme://)";
    }
    size_t slen = (size_t)(sep - s);
    if (slen == 0) {
        return "is not a URL (empty scheme)";
    }
    if (!is_class(s[0], C_ALPHA)) {
        return "is not a URL (scheme must start with a letter)";
    }
    if ((w = reserve(o, slen + 3)) == NULL) {
        return NULL;
    }
    for (size_t k = 0; k < slen; k++) {
        if (!is_class(s[k], C_SCHEME)) {
            return "is not a URL (invalid character in the scheme)";
        }
        w[k] = ascii_lower(s[k]);
    }
    memcpy(w + slen, "://", 3);
    o->len += slen + 3;

    size_t a = slen + 3; /* authority start */
    size_t e = a;        /* authority end */
    while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#') {
        e++;
    }
    /*
     * WHATWG parsers treat '\' as '/' in http(s) authorities while RFC 3986 parsers do not,
     * so "http://evil.example\@good.example/" names a different host to a browser than to
     * a proxy log. An indicator must not be ambiguous, so such authorities are refused.
     */
    if (has_byte(s + a, e - a, '\\')) {
        return "has '\\' in the authority (parsers disagree on its host)";
    }
    size_t h = a;
    for (size_t k = e; k > a; k--) {
        if (s[k - 1] == '@') {
            h = k; /* The last '@' ends the userinfo, as in browsers. */
            break;
        }
    }
    put_bytes(o, s + a, h - a);

    size_t hend; /* end of the host, start of ":port" if any */
    if (h < e && s[h] == '[') {
        const char *close = memchr(s + h, ']', e - h);
        uint8_t addr[16];
        if (close == NULL) {
            return "has an unterminated '[' in the host";
        }
        size_t inner = (size_t)(close - s) - h - 1;
        v6_err v6 = parse_ipv6(s + h + 1, inner, addr);
        if (v6 != V6_OK) {
            return v6_host_why[v6];
        }
        hend = (size_t)(close - s) + 1;
        if (hend < e && s[hend] != ':') {
            return "has characters after the ']' of the host";
        }
        put_byte(o, '[');
        put_ipv6(o, addr);
        put_byte(o, ']');
    } else {
        const char *colon = memchr(s + h, ':', e - h);
        hend = colon != NULL ? (size_t)(colon - s) : e;
        if (hend == h) {
            return "has an empty host";
        }
        if (all_digits_dots(s + h, hend - h)) {
            /* Digits and dots only: an address, never a name (WHATWG agrees). */
            uint8_t addr[4];
            unsigned bad = 0;
            v4_err v4 = parse_ipv4(s + h, hend - h, addr, &bad);
            if (v4 != V4_OK) {
                return v4_host_why[v4];
            }
            put_ipv4(o, addr);
        } else if ((why = norm_domain(s + h, hend - h, o, true)) != NULL) {
            return why;
        }
    }
    if (hend < e) {
        /* s[hend] is ':' */
        size_t p = hend + 1;
        unsigned port = 0;
        if (p == e) {
            return "has an empty port";
        }
        for (size_t k = p; k < e; k++) {
            if (!is_digit(s[k])) {
                return "has a port that is not a number";
            }
        }
        while (p < e && s[p] == '0') {
            p++;
        }
        if (e - p > 5) {
            return "has a port out of range (1-65535)";
        }
        for (size_t k = p; k < e; k++) {
            port = port * 10 + (unsigned)(s[k] - '0');
        }
        if (port == 0 || port > 65535) {
            return "has a port out of range (1-65535)";
        }
        /* o->p starts with the lower-cased scheme. */
        bool dflt = (slen == 4 && memcmp(o->p, "http", 4) == 0 && port == 80)
            || (slen == 5 && memcmp(o->p, "https", 5) == 0 && port == 443);
        if (!dflt) {
            put_byte(o, ':');
            put_uint(o, port);
        }
    }
    put_bytes(o, s + e, n - e);
    return NULL;
}

/* ---- E-mail addresses ---------------------------------------------------------------- */

/*
 * local@domain with an RFC 5322 dot-atom local part. Quoted local parts and address literals
 * are not accepted: they are vanishingly rare in indicator feeds and easy to abuse.
 */
static const char *norm_email(const char *s, size_t n, obuf *o)
{
    const char *at = memchr(s, '@', n);
    const char *why;

    if (at == NULL) {
        return "is not an e-mail address (no '@')";
    }
    size_t llen = (size_t)(at - s);
    if (has_byte(at + 1, n - llen - 1, '@')) {
        return "is not an e-mail address (more than one '@')";
    }
    if (llen == 0) {
        return "has an empty local part";
    }
    if (llen > 64) {
        return "has a local part longer than 64 characters";
    }
    for (size_t k = 0; k < llen; k++) {
        char c = s[k];
        if (c == '.') {
            if (k == 0 || k + 1 == llen) {
                return "has a local part that starts or ends with a dot";
            }
            if (s[k - 1] == '.') {
                return "has two dots in a row in the local part";
            }
        } else if (is_non_ascii(c)) {
            return "has non-ASCII characters in the local part";
        } else if (!is_class(c, C_ATEXT)) {
            return "has a character not allowed in the local part";
        }
    }
    if (llen + 1 == n) {
        return "has an empty domain";
    }
    put_bytes(o, s, llen + 1);
    if ((why = norm_domain(at + 1, n - llen - 1, o, false)) != NULL) {
        return why;
    }
    if (o->len > 254) {
        return "is longer than 254 characters";
    }
    return NULL;
}

/* ---- Hashes, file names, STIX patterns ----------------------------------------------- */

static const char *norm_hash(
    const char *s, size_t n, obuf *o, size_t want, const char *why_hex, const char *why_len)
{
    char *w = reserve(o, n);

    if (w == NULL) {
        return NULL;
    }
    for (size_t k = 0; k < n; k++) {
        if (!is_hex(s[k])) {
            return why_hex;
        }
        w[k] = ascii_lower(s[k]);
    }
    if (n != want) {
        return why_len;
    }
    o->len += n;
    return NULL;
}

static const char *norm_filename(const char *s, size_t n, obuf *o)
{
    uint32_t any = 0;

    if (n > 255) {
        return "is longer than 255 bytes";
    }
    for (size_t k = 0; k < n; k++) {
        uint32_t cls = cclass[(unsigned char)s[k]];
        if (s[k] == '\0') {
            return "contains a NUL byte";
        }
        if (s[k] == '/') {
            return "contains '/'; give the file name without its directory";
        }
        if (cls & C_CTL) {
            return "contains a control character";
        }
        any |= cls;
    }
    if ((any & C_HIGH) && !kw_utf8_valid(s, n, NULL)) {
        return "contains invalid UTF-8";
    }
    put_bytes(o, s, n);
    return NULL;
}

static const char *norm_stix(const char *s, size_t n, obuf *o)
{
    /* A STIX pattern starts with an observation expression, '[' or a '(' grouping, and
     * holds at least one complete "[...]"; qualifiers (WITHIN, START/STOP) may follow the
     * last bracket, so the end is not fixed. */
    const char *open = memchr(s, '[', n);
    if (n < 2 || (s[0] != '[' && s[0] != '(') || open == NULL
        || memchr(open, ']', n - (size_t)(open - s)) == NULL) {
        return "is not a STIX pattern (must start with '[' or '(' and hold a [...] comparison)";
    }
    if (has_byte(s, n, '\0')) {
        return "contains a NUL byte";
    }
    if (!kw_utf8_valid(s, n, NULL)) {
        return "contains invalid UTF-8";
    }
    put_bytes(o, s, n);
    return NULL;
}

/* ---- Dispatch ------------------------------------------------------------------------ */

static const char *norm_typed(kw_obs_type type, const char *s, size_t n, obuf *o)
{
    switch (type) {
    case KW_OBS_IPV4:
        return norm_ipv4(s, n, o);
    case KW_OBS_IPV6:
        return norm_ipv6(s, n, o);
    case KW_OBS_CIDR:
        return norm_cidr(s, n, o);
    case KW_OBS_DOMAIN:
        return norm_domain(s, n, o, false);
    case KW_OBS_URL:
        return norm_url(s, n, o);
    case KW_OBS_EMAIL:
        return norm_email(s, n, o);
    case KW_OBS_MD5:
        return norm_hash(s, n, o, 32, "is not an MD5 hash (contains a non-hex character)",
            "is not an MD5 hash (needs exactly 32 hex digits)");
    case KW_OBS_SHA1:
        return norm_hash(s, n, o, 40, "is not a SHA-1 hash (contains a non-hex character)",
            "is not a SHA-1 hash (needs exactly 40 hex digits)");
    case KW_OBS_SHA256:
        return norm_hash(s, n, o, 64, "is not a SHA-256 hash (contains a non-hex character)",
            "is not a SHA-256 hash (needs exactly 64 hex digits)");
    case KW_OBS_SHA512:
        return norm_hash(s, n, o, 128, "is not a SHA-512 hash (contains a non-hex character)",
            "is not a SHA-512 hash (needs exactly 128 hex digits)");
    case KW_OBS_FILENAME:
        return norm_filename(s, n, o);
    case KW_OBS_STIX_PATTERN:
        return norm_stix(s, n, o);
    case KW_OBS_NONE:
        break;
    }
    return "has an unknown indicator type";
}

/* "1.2.3.4:80": a dotted quad with a port, reported as an IPv4 address with a port. */
static bool looks_ipv4_port(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t alen = colon != NULL ? (size_t)(colon - s) : n;

    return colon != NULL && has_byte(s, alen, '.') && alen + 1 < n
        && all_digits_dots(colon + 1, n - alen - 1) && !has_byte(colon + 1, n - alen - 1, '.')
        && all_digits_dots(s, alen);
}

/* Hex digits, colons and dots with at least one colon, up to a zone id. */
static bool looks_ipv6_zoned(const char *s, size_t n)
{
    const char *pct = memchr(s, '%', n);
    size_t alen = pct != NULL ? (size_t)(pct - s) : n;

    for (size_t i = 0; i < alen; i++) {
        if (!is_class(s[i], C_V6)) {
            return false;
        }
    }
    return has_byte(s, alen, ':');
}

static bool looks_cidr(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash != NULL ? (size_t)(slash - s) : n;

    if (slash == NULL || alen == 0) {
        return false;
    }
    for (size_t k = alen + 1; k < n; k++) {
        if (!is_digit(s[k])) {
            return false;
        }
    }
    return all_digits_dots(s, alen) || looks_ipv6_zoned(s, alen);
}

/*
 * Has '@' and no '/' after it, and does not start with '/'. '/' is valid in a local part,
 * but "/a@b.example" and "host/@dir/" in a feed are paths, not addresses.
 */
static bool looks_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);

    return at != NULL && s[0] != '/' && !has_byte(at, n - (size_t)(at - s), '/');
}

static kw_obs_type hash_type_by_len(size_t n)
{
    switch (n) {
    case 32:
        return KW_OBS_MD5;
    case 40:
        return KW_OBS_SHA1;
    case 64:
        return KW_OBS_SHA256;
    case 128:
        return KW_OBS_SHA512;
    default:
        return KW_OBS_NONE;
    }
}

#define WHY_UNRECOGNISED "is not a recognised indicator (IP, CIDR, domain, URL, e-mail or hash)"

/* Why a value that fits no type was refused, naming the two near misses feeds often send. */
static const char *unrecognised(const char *s, size_t n, obuf *o)
{
    const char *slash = memchr(s, '/', n);

    if (s[0] == '/') {
        return "is a path without a host (not a URL)";
    }
    if (slash != NULL) {
        /* "evil.example/x.php": a URL with the scheme left off, as some feeds write them. */
        obuf scratch = *o;
        size_t hlen = (size_t)(slash - s);
        const char *colon = memchr(s, ':', hlen);
        uint8_t addr[4];
        unsigned bad = 0;
        if (colon != NULL) {
            hlen = (size_t)(colon - s);
        }
        if (hlen > 0
            && (parse_ipv4(s, hlen, addr, &bad) == V4_OK
                || norm_domain(s, hlen, &scratch, false) == NULL)) {
            return "is a URL without a scheme (add http:// or similar)";
        }
    }
    /* "sha256:<40 hex digits>": a hash named for another length. */
    static const struct {
        const char *name;
        size_t hex;
    } hashes[] = { { "md5", 32 }, { "sha1", 40 }, { "sha-1", 40 }, { "sha256", 64 },
        { "sha-256", 64 }, { "sha512", 128 }, { "sha-512", 128 } };
    for (size_t k = 0; k < sizeof(hashes) / sizeof(hashes[0]); k++) {
        size_t l = strlen(hashes[k].name), h = l + 1;
        if (n <= h || strncasecmp(s, hashes[k].name, l) != 0 || s[l] != ':') {
            continue;
        }
        while (h < n && s[h] == ' ') {
            h++;
        }
        size_t digits = 0;
        while (h + digits < n && is_class(s[h + digits], C_HEX)) {
            digits++;
        }
        if (digits > 0 && h + digits == n && digits != hashes[k].hex) {
            return "is named for a hash of another length (count its hex digits)";
        }
    }
    /* "[2001:db8::1]", "[192.0.2.1]": an address in URL brackets. */
    if (n > 2 && s[0] == '[' && s[n - 1] == ']') {
        obuf scratch = *o;
        if (norm_ipv6(s + 1, n - 2, &scratch) == NULL
            || norm_ipv4(s + 1, n - 2, &scratch) == NULL) {
            return "is an address in brackets; give it without them";
        }
    }
    /* "evil.example:443", "[2001:db8::1]:8443": a host and port, as ThreatFox lists them. */
    const char *colon = NULL;
    for (size_t i = n; i > 0 && colon == NULL; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
        }
    }
    if (slash == NULL && colon != NULL && colon > s && (size_t)(s + n - colon) > 1
        && (size_t)(s + n - colon) <= 6) {
        bool port = true;
        for (const char *c = colon + 1; c < s + n; c++) {
            port = port && *c >= '0' && *c <= '9';
        }
        obuf scratch = *o;
        size_t hlen = (size_t)(colon - s);
        bool host = s[0] == '[' ? hlen > 2 && s[hlen - 1] == ']'
                                : norm_domain(s, hlen, &scratch, false) == NULL;
        if (port && host) {
            return "is a host and port; give the address or domain without the port";
        }
    }
    return WHY_UNRECOGNISED;
}

/*
 * Picks the type the value was meant to be, so that a broken value gets the reason for that
 * type ("1.2.3.999" is a bad IPv4 address, not "unrecognised"). *type is that type even when
 * the value is then rejected, and KW_OBS_NONE when nothing fits. One pass over the bytes
 * gives the classes present in all and in any of them, which settles most values at once.
 */
/*
 * Whether a dotted name ends in a file extension that is no top-level domain ("invoice.exe",
 * "Payment_Advice.pdf"): IOC lists mix file names in with domains, and such a name can
 * never resolve. Extensions that are also TLDs (.zip, .mov, .sh, .py, .pl, .rs, .md, .com,
 * .one, .so, .dot, .cab) stay domains.
 */
static bool file_extension_name(const char *s, size_t n)
{
    /* Lower case, by length: exts[L] holds the extensions of L letters back to back. */
    static const char *const exts[6] = { "", "",
        "js7zgzxz",
        "exedllscrbatcmdvbsvbejsewsfhtaps1lnkmsimspjarapkdmgisoimgvhddocpptxlspdfrtftxtcsvhtm"
        "phpaspjsprartgztarbz2chmcplsysdrvocxelfbindattmpinicfgxmlpifreginfemlmsgjpgpnggif"
        "bmpsvgicomp3mp4wavavi",
        "psm1vhdxdocxdocmdotmxlsxxlsmxlsbpptxpptmhtmlaspxjsonjpeg", "dylib" };
    char ext[5];
    size_t el = 0;

    /* "invoice.exe." too: a domain's trailing dot goes when it is normalised, and the result
     * must detect as what the input did. */
    while (n > 0 && s[n - 1] == '.') {
        n--;
    }
    while (el < n && el < 6 && s[n - 1 - el] != '.') {
        el++;
    }
    if (el < 2 || el > 5 || el == n || s[n - 1 - el] != '.' || n - el < 2) {
        return false;
    }
    for (size_t i = 0; i < el; i++) {
        ext[i] = ascii_lower(s[n - el + i]);
    }
    for (const char *e = exts[el]; *e != '\0'; e += el) {
        if (e[0] == ext[0] && e[1] == ext[1] && memcmp(e, ext, el) == 0) {
            return true;
        }
    }
    return false;
}

static const char *detect_typed(const char *s, size_t n, obuf *o, kw_obs_type *type)
{
    uint32_t any, all;
    bool url_sep;

    class_summary(s, n, &any, &all);
    url_sep = (any & C_COLON) && find_url_sep(s, n) != NULL;
    const char *pattern_why = NULL;
    if ((s[0] == '[' || s[0] == '(') && kw__stix_pattern_valid(s, n, &pattern_why)) {
        /* A whole STIX pattern, by the grammar ("[::1]" is none). */
        *type = KW_OBS_STIX_PATTERN;
    } else if (n > 2 && s[0] == '[' && s[n - 1] == ']') {
        *type = KW_OBS_NONE;
        return unrecognised(s, n, o);
    } else if (((all & C_V4) && (any & C_DOT)) || ((all & C_V4P) && looks_ipv4_port(s, n))) {
        *type = KW_OBS_IPV4;
    } else if ((any & C_COLON) && !(any & C_SLASH)
        && ((all & C_V6) || (has_byte(s, n, '%') && looks_ipv6_zoned(s, n)))) {
        *type = KW_OBS_IPV6;
    } else if ((any & C_SLASH) && looks_cidr(s, n)) {
        /* A host prefix names one address: "192.0.2.1/32" is the ipv4 192.0.2.1, as the
         * STIX and MISP importers have it, so the same host is one indicator. */
        size_t alen = (size_t)((const char *)memchr(s, '/', n) - s);
        bool v6 = has_byte(s, alen, ':');
        const char *host = v6 ? "/128" : "/32";
        if (n - alen == strlen(host) && memcmp(s + alen, host, n - alen) == 0) {
            *type = v6 ? KW_OBS_IPV6 : KW_OBS_IPV4;
            return norm_typed(*type, s, alen, o);
        }
        *type = KW_OBS_CIDR;
    } else if ((all & C_HEX) && hash_type_by_len(n) != KW_OBS_NONE) {
        *type = hash_type_by_len(n);
    } else if ((any & C_AT) && !url_sep && looks_email(s, n)) {
        *type = KW_OBS_EMAIL;
    } else if (url_sep) {
        *type = KW_OBS_URL;
    } else if ((any & (C_DOT | C_HIGH)) && !(any & (C_SPACE | C_CTL | C_SLASH | C_COLON | C_AT))) {
        /* A file name when the name, read as a domain, ends in a file extension (so
         * "invoice.ｅｘｅ" and "a。exe" count, as their normal forms would), or, when it is no
         * domain at all, when it ends in one as written. A file name is kept as written, so
         * it detects the same way again. */
        obuf o0 = *o;
        const char *w = norm_typed(KW_OBS_DOMAIN, s, n, o);
        bool file = w == NULL ? file_extension_name(o->p, o->len) : file_extension_name(s, n);
        if (!file) {
            *type = KW_OBS_DOMAIN;
            return w;
        }
        *o = o0;
        *type = KW_OBS_FILENAME;
    } else {
        *type = KW_OBS_NONE;
        return unrecognised(s, n, o);
    }
    return norm_typed(*type, s, n, o);
}

/* ---- Public entry points ------------------------------------------------------------- */

static kw_err normalise(kw_obs_type type, bool detect, const char *in, size_t len, char *out,
    size_t cap, size_t *out_len, const char **why, kw_obs_type *detected)
{
    kw_err rc = KW_ERR_INVAL;
    const char *w = NULL;
    obuf o = { out, 0, KW_VALUE_MAX, false };

    if (detected != NULL) {
        *detected = KW_OBS_NONE;
    }
    if (out == NULL || cap < KW_VALUE_MAX + 1) {
        w = "cannot be normalised (output buffer smaller than KW_VALUE_MAX + 1)";
        out = NULL;
        goto out;
    }
    if (in == NULL && len > 0) {
        w = "cannot be normalised (no input)";
        goto out;
    }
    while (len > 0 && is_class(in[0], C_TRIM)) {
        in++;
        len--;
    }
    while (len > 0 && is_class(in[len - 1], C_TRIM)) {
        len--;
    }
    if (len == 0) {
        w = "is empty";
        goto out;
    }
    if (len > KW_VALUE_MAX) {
        w = "is longer than 4096 bytes";
        goto out;
    }
    if (detect) {
        kw_obs_type t = KW_OBS_NONE;
        w = detect_typed(in, len, &o, &t);
        if (detected != NULL) {
            *detected = t;
        }
    } else {
        w = norm_typed(type, in, len, &o);
    }
    if (w == NULL && o.overflow) {
        w = "is longer than 4096 bytes once normalised";
    }
    if (w == NULL) {
        rc = KW_ERR_OK;
    }
out:
    if (rc != KW_ERR_OK) {
        o.len = 0;
    }
    if (out != NULL) {
        out[o.len] = '\0';
    }
    if (out_len != NULL) {
        *out_len = o.len;
    }
    if (why != NULL) {
        *why = w;
    }
    return rc;
}

kw_err kw_value_normalise(kw_obs_type type, const char *in, size_t len, char *out, size_t cap,
    size_t *out_len, const char **why)
{
    return normalise(type, false, in, len, out, cap, out_len, why, NULL);
}

kw_err kw_value_detect(const char *in, size_t len, kw_obs_type *type, char *out, size_t cap,
    size_t *out_len, const char **why)
{
    return normalise(KW_OBS_NONE, true, in, len, out, cap, out_len, why, type);
}

/* ---- Refanging ---- */

/* Case-insensitive prefix test against a lower-case literal. */
static bool starts_nocase(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n < l) {
        return false;
    }
    for (size_t i = 0; i < l; i++) {
        if (ascii_lower(s[i]) != lit[i]) {
            return false;
        }
    }
    return true;
}

size_t kw_value_refang(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    /* Bracketed stand-ins, longest first where one is a prefix of another. */
    static const struct {
        const char *from;
        const char *to;
    } marks[] = {
        { "[://]", "://" }, { "[:]//", "://" }, { "[.]", "." }, { "(.)", "." }, { "{.}", "." },
        { "[dot]", "." }, { "(dot)", "." }, { "{dot}", "." }, { "[:]", ":" }, { "[at]", "@" },
        { "(at)", "@" }, { "{at}", "@" }, { "[@]", "@" }, { "[/]", "/" },
    };
    static const struct {
        const char *from;
        const char *to;
    } schemes[] = {
        { "hxxps", "https" }, { "hxxp", "http" }, { "hxtps", "https" }, { "hxtp", "http" },
        { "fxp", "ftp" }, { "sfxp", "sftp" },
    };
    size_t i = 0, o = 0, changes = 0;

    *out_len = 0;
    if (cap < len + 1) {
        return 0;
    }
    /* A defanged scheme: only at the very start, and only before ':' or a bracket. Each
     * starts with an 'h', 'f' or 's'. */
    char c0 = len > 0 ? ascii_lower(in[0]) : '\0';
    bool may = c0 == 'h' || c0 == 'f' || c0 == 's';
    for (size_t k = 0; may && k < sizeof(schemes) / sizeof(schemes[0]); k++) {
        size_t l = strlen(schemes[k].from);
        /* "hxxp:", "hxxp[:]", "hxxps[://]"; not "fxp[.]example", a host name. */
        if (starts_nocase(in, len, schemes[k].from) && len > l
            && (in[l] == ':' || (in[l] == '[' && len > l + 1 && in[l + 1] == ':'))) {
            memcpy(out, schemes[k].to, l);
            i = o = l;
            changes++;
            break;
        }
    }
    /* Every stand-in opens with a bracket, brace or parenthesis: without one, the rest is
     * copied as it is (nearly every value a feed holds). */
    size_t j = i;
    while (j < len && in[j] != '[' && in[j] != '{' && in[j] != '(') {
        j++;
    }
    if (j == len) {
        memcpy(out + o, in + i, len - i);
        o += len - i;
        out[o] = '\0';
        *out_len = o;
        return changes;
    }
    /* After a URL's authority, '(' and ')' are characters a path or query may hold, so only
     * the bracket and brace forms (never valid there) are stand-ins. */
    bool seen_sep = false, in_path = false;
    while (i < len) {
        bool hit = false;
        if (in[i] == '[' || in[i] == '{' || (in[i] == '(' && !in_path)) {
            for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
                if (starts_nocase(in + i, len - i, marks[k].from)) {
                    size_t tl = strlen(marks[k].to);
                    memcpy(out + o, marks[k].to, tl);
                    o += tl;
                    i += strlen(marks[k].from);
                    changes++;
                    hit = true;
                    break;
                }
            }
        }
        if (!hit) {
            out[o++] = in[i++];
        }
        if (!seen_sep) {
            seen_sep = o >= 3 && memcmp(out + o - 3, "://", 3) == 0;
        } else if (out[o - 1] == '/' || out[o - 1] == '?' || out[o - 1] == '#') {
            in_path = true;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return changes;
}

/* Each xn-- label of the host name s[0..n) must be valid Punycode. */
static const char *alabels_check(const char *s, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            continue;
        }
        size_t len = i - start;
        if (len > 4 && strncasecmp(s + start, "xn--", 4) == 0
            && !kw__idna_alabel_ok(s + start + 4, len - 4)) {
            return "has an xn-- label that is not valid Punycode";
        }
        start = i + 1;
    }
    return NULL;
}

const char *kw_value_new_check(kw_obs_type type, const char *v, size_t n)
{
    const char *host = v, *at;
    size_t hlen = n;

    if (type == KW_OBS_EMAIL && (at = memchr(v, '@', n)) != NULL) {
        host = at + 1;
        hlen = n - (size_t)(host - v);
    } else if (type == KW_OBS_URL) {
        const char *sep = find_url_sep(v, n);
        if (sep == NULL) {
            return NULL;
        }
        host = sep + 3;
        size_t e = 0;
        while (host + e < v + n && host[e] != '/' && host[e] != '?' && host[e] != '#') {
            e++;
        }
        for (size_t k = e; k > 0; k--) {
            if (host[k - 1] == '@') { /* the last '@' ends the userinfo */
                host += k;
                e -= k;
                break;
            }
        }
        const char *colon = host[0] == '[' ? NULL : memchr(host, ':', e);
        hlen = colon != NULL ? (size_t)(colon - host) : e;
    } else if (type != KW_OBS_DOMAIN) {
        return NULL;
    }
    return alabels_check(host, hlen);
}
