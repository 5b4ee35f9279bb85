/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/stix.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bundle/timefmt.h"
#include "bundle/value.h"
#include "crypto/id.h"

/* ------------------------------------------------------------------------------------------ */
/* Report helpers shared with the MISP importer.                                              */

void kw__import_issue(kw_import_report *rep, bool invalid, const char *fmt, ...)
{
    char line[KW_IMPORT_ISSUE_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* The line quotes foreign input; control characters would let a file forge extra lines
     * in a terminal or a log. */
    for (char *p = line; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    if (invalid && rep->first_error[0] == '\0') {
        snprintf(rep->first_error, sizeof(rep->first_error), "%s", line);
    }
    if (rep->n_issues < KW_IMPORT_MAX_ISSUES) {
        kw_import_issue *is = &rep->issues[rep->n_issues++];
        is->invalid = invalid;
        snprintf(is->text, sizeof(is->text), "%s", line);
    }
}

const char *kw__import_clip(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(s);

    if (n < cap) {
        return s;
    }
    snprintf(buf, cap, "%.*s...", (int)(cap - 4), s);
    return buf;
}

void kw__import_json_error(kw_import_report *rep, const char *label, const json_error_t *e)
{
    const char *what = e->text;
    char buf[160];

    if (strstr(what, "JSON_ALLOW_NUL") != NULL) {
        what = "a string holds \\u0000 (NUL), which kawan does not accept";
    } else if (strncmp(what, "unable to decode byte 0x", 24) == 0) {
        snprintf(buf, sizeof(buf), "not UTF-8 text (byte 0x%.2s)", what + 24);
        what = buf;
    } else if (strstr(what, "duplicate object key") != NULL) {
        what = "an object has the same key twice";
    }
    snprintf(rep->first_error, sizeof(rep->first_error), "%s:%d:%d: %s", label, e->line,
        e->column, what);
}

void kw__import_count_type(kw_import_report *rep, const char *type)
{
    for (uint32_t i = 0; i < rep->n_types; i++) {
        if (strcmp(rep->types[i].type, type) == 0) {
            rep->types[i].n++;
            return;
        }
    }
    if (rep->n_types < KW_IMPORT_MAX_TYPES && strlen(type) < sizeof(rep->types[0].type)) {
        kw_import_type_count *t = &rep->types[rep->n_types++];
        snprintf(t->type, sizeof(t->type), "%s", type);
        t->n = 1;
        return;
    }
    rep->types_other++;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ws(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_ws((*s)[*len - 1])) {
        (*len)--;
    }
}

/* The length of the Unicode white space that ends s[0..n), or 0. */
static size_t uws_len_back(const char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        if (kw__stix_ws_len(s + n - k, k) == k) {
            return k;
        }
    }
    return 0;
}

/* trim for pattern text: Unicode white space, as the pattern grammar skips it. */
static void trim_unicode(const char **s, size_t *len)
{
    size_t k;

    while ((k = kw__stix_ws_len(*s, *len)) > 0) {
        *s += k;
        *len -= k;
    }
    while ((k = uws_len_back(*s, *len)) > 0) {
        *len -= k;
    }
}

kw_err kw__import_addr(const char *in, size_t len, int want_family, kw_obs_type *type, char *out,
    size_t *out_len, const char **why)
{
    const char *slash;
    int family;

    trim(&in, &len);
    /* One ':' after a dotted address is a port ("192.0.2.5:8080"): IPv4, so that the message
     * says to leave the port out rather than call it a broken IPv6 address. */
    const char *colon = memchr(in, ':', len);
    family = colon == NULL || (memchr(in, '.', (size_t)(colon - in)) != NULL
                                  && memchr(colon + 1, ':', len - (size_t)(colon - in) - 1) == NULL)
        ? 4
        : 6;
    if (want_family != 0 && family != want_family) {
        if (why != NULL) {
            *why = want_family == 4 ? "is not an IPv4 address or network"
                                    : "is not an IPv6 address or network";
        }
        return KW_ERR_INVAL;
    }
    slash = memchr(in, '/', len);
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t rest = len - (size_t)(p - in);
        unsigned prefix = 0;
        size_t i;

        for (i = 0; i < rest && i < 4 && isdigit((unsigned char)p[i]); i++) {
            prefix = prefix * 10u + (unsigned)(p[i] - '0');
        }
        /* A host prefix is an address, not a network: "192.0.2.1/32" is the ipv4 192.0.2.1. */
        if (i == rest && i > 0 && p[0] != '0' && prefix == (family == 4 ? 32u : 128u)) {
            *type = family == 4 ? KW_OBS_IPV4 : KW_OBS_IPV6;
            return kw_value_normalise(
                *type, in, (size_t)(slash - in), out, KW_VALUE_MAX + 1, out_len, why);
        }
        *type = KW_OBS_CIDR;
        return kw_value_normalise(KW_OBS_CIDR, in, len, out, KW_VALUE_MAX + 1, out_len, why);
    }
    *type = family == 4 ? KW_OBS_IPV4 : KW_OBS_IPV6;
    return kw_value_normalise(*type, in, len, out, KW_VALUE_MAX + 1, out_len, why);
}

/* ------------------------------------------------------------------------------------------ */
/* SHA-1, only for version 5 UUIDs (RFC 4122 fixes the hash; nothing here relies on SHA-1     */
/* being collision resistant).                                                                */

typedef struct sha1_ctx {
    uint32_t h[5];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} sha1_ctx;

static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

static void sha1_block(sha1_ctx *c, const uint8_t *p)
{
    uint32_t w[80];
    uint32_t a = c->h[0], b = c->h[1], d = c->h[3], e = c->h[4], cc = c->h[2];

    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8
            | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 80; i++) {
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    for (int i = 0; i < 80; i++) {
        uint32_t f, k, t;
        if (i < 20) {
            f = (b & cc) | (~b & d);
            k = 0x5a827999u;
        } else if (i < 40) {
            f = b ^ cc ^ d;
            k = 0x6ed9eba1u;
        } else if (i < 60) {
            f = (b & cc) | (b & d) | (cc & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ cc ^ d;
            k = 0xca62c1d6u;
        }
        t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = cc;
        cc = rol32(b, 30);
        b = a;
        a = t;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

static void sha1_init(sha1_ctx *c)
{
    static const uint32_t iv[5]
        = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u };
    memcpy(c->h, iv, sizeof(iv));
    c->len = 0;
    c->fill = 0;
}

static void sha1_update(sha1_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;

    c->len += n;
    while (n > 0) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->buf + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill == 64) {
            sha1_block(c, c->buf);
            c->fill = 0;
        }
    }
}

static void sha1_final(sha1_ctx *c, uint8_t out[20])
{
    uint64_t bits = c->len * 8u;
    uint8_t pad = 0x80, zero = 0, lenbuf[8];

    sha1_update(c, &pad, 1);
    while (c->fill != 56) {
        sha1_update(c, &zero, 1);
    }
    for (int i = 0; i < 8; i++) {
        lenbuf[i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha1_update(c, lenbuf, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void kw__uuid_v5(uint8_t out[static 16], const uint8_t ns[static 16], const void *name, size_t len)
{
    sha1_ctx c;
    uint8_t digest[20];

    sha1_init(&c);
    sha1_update(&c, ns, 16);
    sha1_update(&c, name, len);
    sha1_final(&c, digest);
    memcpy(out, digest, 16);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

/* ------------------------------------------------------------------------------------------ */
/* TLP marking definitions.                                                                   */

#define TLP2_EXTENSION "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

/* Indexed by kw_tlp. */
static const char *const tlp2_ids[KW_TLP_MAX + 1] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
};
static const char *const tlp2_words[KW_TLP_MAX + 1]
    = { "clear", "green", "amber", "amber+strict", "red" };

/* Only exact ids: look-alike ids circulate (see the corpora README), and a wrong match would
 * put a wrong TLP on shared data. */
static const struct {
    const char *id;
    kw_tlp tlp;
} tlp_other_ids[] = {
    { "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", KW_TLP_CLEAR }, /* 1.0 white */
    { "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", KW_TLP_GREEN }, /* 1.0 */
    { "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", KW_TLP_AMBER }, /* 1.0 */
    { "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", KW_TLP_RED }, /* 1.0 */
    { "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37",
        KW_TLP_AMBER_STRICT }, /* OpenCTI */
};

const char *kw_stix_tlp_marking_id(kw_tlp tlp)
{
    if ((unsigned)tlp > KW_TLP_MAX) {
        return NULL;
    }
    return tlp2_ids[tlp];
}

kw_err kw_stix_tlp_from_marking_id(const char *id, kw_tlp *out)
{
    if (id == NULL) {
        return KW_ERR_INVAL;
    }
    /* UUID hex digits are case-insensitive on input (RFC 4122 section 3; the STIX identifier
     * schema allows both): "...E828B379-..." is TLP:RED as much as "...e828b379-...". */
    for (int i = 0; i <= KW_TLP_MAX; i++) {
        if (strcasecmp(id, tlp2_ids[i]) == 0) {
            *out = (kw_tlp)i;
            return KW_ERR_OK;
        }
    }
    for (size_t i = 0; i < sizeof(tlp_other_ids) / sizeof(tlp_other_ids[0]); i++) {
        if (strcasecmp(id, tlp_other_ids[i].id) == 0) {
            *out = tlp_other_ids[i].tlp;
            return KW_ERR_OK;
        }
    }
    return KW_ERR_NOTFOUND;
}

/* The kawan namespace for identity ids: idenity--uuid5(ns, origin key). */
static const uint8_t identity_ns[16] = { 0x2b, 0xd0, 0xfc, 0x29, 0x0a, 0xc0, 0x4e, 0x16, 0x93, 0xf8,
    0x53, 0x37, 0xcd, 0xea, 0x52, 0xa5 };

void kw_stix_identity_id(char *buf, const uint8_t origin[static 32])
{
    uint8_t u[16];

    kw__uuid_v5(u, identity_ns, origin, 32);
    kw_stix_id_format(buf, 48, "identity", u);
}

/* ------------------------------------------------------------------------------------------ */
/* Patterns.                                                                                  */

static const char *pattern_path(kw_obs_type type, const char *value)
{
    switch (type) {
    case KW_OBS_IPV4:
        return "ipv4-addr:value";
    case KW_OBS_IPV6:
        return "ipv6-addr:value";
    case KW_OBS_CIDR:
        return strchr(value, ':') != NULL ? "ipv6-addr:value" : "ipv4-addr:value";
    case KW_OBS_DOMAIN:
        return "domain-name:value";
    case KW_OBS_URL:
        return "url:value";
    case KW_OBS_EMAIL:
        return "email-addr:value";
    case KW_OBS_MD5:
        return "file:hashes.MD5";
    case KW_OBS_SHA1:
        return "file:hashes.'SHA-1'";
    case KW_OBS_SHA256:
        return "file:hashes.'SHA-256'";
    case KW_OBS_SHA512:
        return "file:hashes.'SHA-512'";
    case KW_OBS_FILENAME:
        return "file:name";
    default:
        return NULL;
    }
}

kw_err kw_stix_pattern_build(char *buf, size_t cap, kw_obs_type type, const char *value)
{
    const char *path;
    size_t n = 0;

    if (buf == NULL || value == NULL || cap == 0) {
        return KW_ERR_INVAL;
    }
    if (type == KW_OBS_STIX_PATTERN) {
        size_t len = strlen(value);
        if (len + 1 > cap) {
            return KW_ERR_TOOBIG;
        }
        memcpy(buf, value, len + 1);
        return KW_ERR_OK;
    }
    if ((path = pattern_path(type, value)) == NULL) {
        return KW_ERR_INVAL;
    }
    int w = snprintf(buf, cap, "[%s = '", path);
    if (w < 0 || (size_t)w >= cap) {
        return KW_ERR_TOOBIG;
    }
    n = (size_t)w;
    for (const char *p = value; *p != '\0'; p++) {
        bool esc = *p == '\'' || *p == '\\';
        if (n + (esc ? 2u : 1u) >= cap) {
            return KW_ERR_TOOBIG;
        }
        if (esc) {
            buf[n++] = '\\';
        }
        buf[n++] = *p;
    }
    if (n + 3 > cap) {
        return KW_ERR_TOOBIG;
    }
    memcpy(buf + n, "']", 3);
    return KW_ERR_OK;
}

typedef enum path_kind {
    PATH_NONE = 0,
    PATH_IPV4,
    PATH_IPV6,
    PATH_DOMAIN,
    PATH_URL,
    PATH_EMAIL,
    PATH_FILENAME,
    PATH_MD5,
    PATH_SHA1,
    PATH_SHA256,
    PATH_SHA512,
} path_kind;

static bool token_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static path_kind hash_key(const char *k, size_t n)
{
    static const struct {
        const char *name;
        path_kind kind;
    } keys[] = { { "MD5", PATH_MD5 }, { "SHA-1", PATH_SHA1 }, { "SHA1", PATH_SHA1 },
        { "SHA-256", PATH_SHA256 }, { "SHA256", PATH_SHA256 }, { "SHA-512", PATH_SHA512 },
        { "SHA512", PATH_SHA512 } };

    if (n >= 2 && k[0] == '\'' && k[n - 1] == '\'') {
        k++;
        n -= 2;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        /* The vocabulary is upper-case, but "file:hashes.md5" is common in the wild. */
        if (strlen(keys[i].name) == n && strncasecmp(k, keys[i].name, n) == 0) {
            return keys[i].kind;
        }
    }
    return PATH_NONE;
}

static path_kind path_classify(const char *s, size_t n)
{
    if (token_is(s, n, "ipv4-addr:value")) {
        return PATH_IPV4;
    }
    if (token_is(s, n, "ipv6-addr:value")) {
        return PATH_IPV6;
    }
    if (token_is(s, n, "domain-name:value")) {
        return PATH_DOMAIN;
    }
    if (token_is(s, n, "url:value")) {
        return PATH_URL;
    }
    if (token_is(s, n, "email-addr:value")) {
        return PATH_EMAIL;
    }
    if (token_is(s, n, "file:name")) {
        return PATH_FILENAME;
    }
    if (n > 12 && memcmp(s, "file:hashes.", 12) == 0) {
        return hash_key(s + 12, n - 12);
    }
    return PATH_NONE;
}

/*
 * Recognises "[ <path> = '<literal>' ]" (whitespace optional around every token) with a
 * supported path. The literal is unescaped into lit (cap KW_VALUE_MAX + 1). Returns
 * PATH_NONE for anything else, which is then kept as a whole pattern. *too_long is set when
 * the comparison is supported but its literal does not fit.
 */
static size_t skip_uws(const char *p, size_t n, size_t i)
{
    size_t k;

    while (i < n && (k = kw__stix_ws_len(p + i, n - i)) > 0) {
        i += k;
    }
    return i;
}

static path_kind simple_comparison(
    const char *p, size_t n, char *lit, size_t *lit_len, bool *too_long)
{
    size_t i = 0, start, out = 0;
    path_kind kind;

    *too_long = false;
    if (n < 2 || p[0] != '[') {
        return PATH_NONE;
    }
    i = 1;
    i = skip_uws(p, n, i);
    start = i;
    /* A path ends at whitespace or '='; quoted hash names hold no such characters. */
    while (i < n && kw__stix_ws_len(p + i, n - i) == 0 && p[i] != '=' && p[i] != ']') {
        i++;
    }
    if ((kind = path_classify(p + start, i - start)) == PATH_NONE) {
        return PATH_NONE;
    }
    i = skip_uws(p, n, i);
    if (i >= n || p[i] != '=') {
        return PATH_NONE;
    }
    i++;
    i = skip_uws(p, n, i);
    if (i >= n || p[i] != '\'') {
        return PATH_NONE;
    }
    i++;
    for (;;) {
        char c;
        if (i >= n) {
            return PATH_NONE;
        }
        c = p[i++];
        if (c == '\'') {
            break;
        }
        if (c == '\\') {
            /* STIX string literals know only \' and \\; anything else is not a plain value. */
            if (i >= n || (p[i] != '\'' && p[i] != '\\')) {
                return PATH_NONE;
            }
            c = p[i++];
        }
        if (out >= KW_VALUE_MAX) {
            *too_long = true;
            return kind;
        }
        lit[out++] = c;
    }
    lit[out] = '\0';
    *lit_len = out;
    i = skip_uws(p, n, i);
    if (i >= n || p[i] != ']') {
        return PATH_NONE;
    }
    i++;
    i = skip_uws(p, n, i);
    return i == n ? kind : PATH_NONE;
}

/* As kw_stix_pattern_parse, and lit receives the unescaped literal for messages ("" when
 * the pattern is kept whole). */
static kw_err pattern_parse(const char *pattern, size_t len, kw_obs_type *type, char *out,
    size_t *out_len, const char **why, char *lit)
{
    static const kw_obs_type hash_types[] = { [PATH_MD5] = KW_OBS_MD5,
        [PATH_SHA1] = KW_OBS_SHA1,
        [PATH_SHA256] = KW_OBS_SHA256,
        [PATH_SHA512] = KW_OBS_SHA512 };
    size_t lit_len = 0;
    bool too_long;
    path_kind kind;

    lit[0] = '\0';
    trim_unicode(&pattern, &len);
    if (len == 0) {
        *why = "is empty";
        return KW_ERR_INVAL;
    }
    kind = simple_comparison(pattern, len, lit, &lit_len, &too_long);
    if (too_long) {
        lit[0] = '\0';
        *why = "holds a value longer than 4096 bytes";
        return KW_ERR_INVAL;
    }
    if (kind != PATH_NONE && lit_len == 0) {
        lit[0] = '\0';
        *why = "compares with an empty value";
        return KW_ERR_INVAL;
    }
    switch (kind) {
    case PATH_NONE:
        break;
    case PATH_IPV4:
        return kw__import_addr(lit, lit_len, 4, type, out, out_len, why);
    case PATH_IPV6:
        return kw__import_addr(lit, lit_len, 6, type, out, out_len, why);
    case PATH_DOMAIN:
        *type = KW_OBS_DOMAIN;
        return kw_value_normalise(*type, lit, lit_len, out, KW_VALUE_MAX + 1, out_len, why);
    case PATH_URL:
        *type = KW_OBS_URL;
        return kw_value_normalise(*type, lit, lit_len, out, KW_VALUE_MAX + 1, out_len, why);
    case PATH_EMAIL:
        *type = KW_OBS_EMAIL;
        return kw_value_normalise(*type, lit, lit_len, out, KW_VALUE_MAX + 1, out_len, why);
    case PATH_FILENAME:
        *type = KW_OBS_FILENAME;
        return kw_value_normalise(*type, lit, lit_len, out, KW_VALUE_MAX + 1, out_len, why);
    case PATH_MD5:
    case PATH_SHA1:
    case PATH_SHA256:
    case PATH_SHA512:
        *type = hash_types[kind];
        return kw_value_normalise(*type, lit, lit_len, out, KW_VALUE_MAX + 1, out_len, why);
    }
    lit[0] = '\0';
    if (len > KW_VALUE_MAX) {
        *why = "is longer than 4096 bytes";
        return KW_ERR_INVAL;
    }
    if (!kw__stix_pattern_valid(pattern, len, why)) {
        return KW_ERR_INVAL;
    }
    *type = KW_OBS_STIX_PATTERN;
    return kw_value_normalise(
        KW_OBS_STIX_PATTERN, pattern, len, out, KW_VALUE_MAX + 1, out_len, why);
}

kw_err kw_stix_pattern_parse(const char *pattern, size_t len, kw_obs_type *type, char *out,
    size_t *out_len, const char **why)
{
    char *lit;
    const char *dummy;
    kw_err rc;

    if (why == NULL) {
        why = &dummy;
    }
    if ((lit = malloc(KW_VALUE_MAX + 1)) == NULL) {
        return KW_ERR_NOMEM;
    }
    rc = pattern_parse(pattern, len, type, out, out_len, why, lit);
    free(lit);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Import.                                                                                    */

/* The string limits kw_bundle_decode applies (bundle/bundle.c); an import must not accept what
 * the payload decoder would later refuse. */
#define MAX_NAME 1024u
#define MAX_LIST_ITEM 1024u
#define MAX_PHASE 256u

typedef struct marking {
    const char *id; /* points into the JSON tree */
    kw_tlp tlp;
    bool is_tlp; /* false: a marking of another kind (a statement, ...) */
} marking;

/* An object with object_refs (a report, grouping, note, opinion, observed-data, ...) and the
 * markings it carries, its own and those of the containers that reference it. */
typedef struct container {
    const char *id; /* NULL: the object has no id (nothing can reference it) */
    json_t *refs; /* its object_refs list */
    kw_tlp tlp;
    bool marked; /* tlp holds a TLP level */
    const char *unknown; /* a marking ref neither TLP nor defined in the input, or NULL */
} container;

/* One entry of a container's object_refs: the id it names and the container. */
typedef struct container_ref {
    const char *ref;
    size_t container;
} container_ref;

typedef struct import_ctx {
    const char *label;
    kw_tlp default_tlp;
    bool v20_bundle; /* the bundle of the object being read says spec_version "2.0" */
    marking *markings; /* sorted by id, unique */
    size_t n_markings;
    container *containers;
    size_t n_containers;
    container_ref *refs; /* sorted by ref */
    size_t n_refs;
    struct listed *listed; /* every id a container lists, sorted, with their markings */
    size_t n_listed;
} import_ctx;

/* Scratch space for converting one indicator object; the strings point into the JSON tree. */
typedef struct conv {
    kw_indicator ind;
    kw_tlp tlp;
    char value[KW_VALUE_MAX + 1];
    char lit[KW_VALUE_MAX + 1];
    const char *labels[KW_BUNDLE_MAX_LIST];
    const char *types[KW_BUNDLE_MAX_LIST];
    kw_kill_chain_phase phases[KW_BUNDLE_MAX_LIST];
    char ref[192]; /* how messages name the object */
    char msg[400]; /* what is wrong */
    const char *unsupported; /* the source type, for an unsupported indicator */
    char unsupported_buf[64];
    const char *unknown_marking; /* a marking ref neither TLP nor defined in the input */
    bool by_container; /* a container's marking made the level stricter */
} conv;

typedef enum conv_result {
    CONV_OK = 0,
    CONV_INVALID,
    CONV_UNSUPPORTED,
} conv_result;

/* Ids compare without regard to case (see kw_stix_tlp_from_marking_id). */
static int marking_cmp(const void *a, const void *b)
{
    return strcasecmp(((const marking *)a)->id, ((const marking *)b)->id);
}

static kw_tlp tlp_max(kw_tlp a, kw_tlp b)
{
    return a > b ? a : b;
}

/* Takes level t into *out, keeping the more restrictive one. */
static void stricter(bool *found, kw_tlp *out, kw_tlp t)
{
    *out = *found ? tlp_max(*out, t) : t;
    *found = true;
}

/*
 * The TLP level a marking-definition object in the bundle stands for, if any: its TLP 1.0
 * definition, its TLP 2.0 extension, or a name "TLP:<level>". An object that states more
 * than one level (contradicting itself) stands for the most restrictive of them.
 */
static bool marking_object_tlp(json_t *o, kw_tlp *out)
{
    json_t *v;
    const char *s;
    bool found = false;
    kw_tlp t;

    v = json_object_get(o, "definition_type");
    if (json_is_string(v) && strcasecmp(json_string_value(v), "tlp") == 0) {
        v = json_object_get(json_object_get(o, "definition"), "tlp");
        if (json_is_string(v) && kw_tlp_parse(json_string_value(v), &t) == KW_ERR_OK) {
            stricter(&found, out, t);
        }
    }
    v = json_object_get(
        json_object_get(json_object_get(o, "extensions"), TLP2_EXTENSION), "tlp_2_0");
    if (json_is_string(v) && kw_tlp_parse(json_string_value(v), &t) == KW_ERR_OK) {
        stricter(&found, out, t);
    }
    v = json_object_get(o, "name");
    if (json_is_string(v) && strncasecmp((s = json_string_value(v)), "TLP:", 4) == 0
        && kw_tlp_parse(s, &t) == KW_ERR_OK) {
        stricter(&found, out, t);
    }
    return found;
}

static kw_err collect_markings(import_ctx *ic, json_t *const *objs, size_t n)
{
    size_t k = 0, w = 0;

    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object_get(objs[i], "type");
        if (json_is_string(t) && strcmp(json_string_value(t), "marking-definition") == 0
            && json_is_string(json_object_get(objs[i], "id"))) {
            k++;
        }
    }
    if (k == 0) {
        return KW_ERR_OK;
    }
    if ((ic->markings = calloc(k, sizeof(*ic->markings))) == NULL) {
        return KW_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object_get(objs[i], "type");
        if (json_is_string(t) && strcmp(json_string_value(t), "marking-definition") == 0
            && json_is_string(json_object_get(objs[i], "id"))) {
            ic->markings[w].id = json_string_value(json_object_get(objs[i], "id"));
            ic->markings[w].is_tlp = marking_object_tlp(objs[i], &ic->markings[w].tlp);
            w++;
        }
    }
    qsort(ic->markings, w, sizeof(*ic->markings), marking_cmp);
    /* One id defined twice with different levels: the more restrictive one counts. */
    k = 0;
    for (size_t i = 0; i < w; i++) {
        marking *prev = k > 0 ? &ic->markings[k - 1] : NULL;
        if (prev != NULL && strcasecmp(prev->id, ic->markings[i].id) == 0) {
            if (ic->markings[i].is_tlp) {
                prev->tlp = prev->is_tlp ? tlp_max(prev->tlp, ic->markings[i].tlp)
                                         : ic->markings[i].tlp;
                prev->is_tlp = true;
            }
        } else {
            ic->markings[k++] = ic->markings[i];
        }
    }
    ic->n_markings = k;
    return KW_ERR_OK;
}

typedef enum marking_kind { MARK_UNKNOWN, MARK_TLP, MARK_OTHER } marking_kind;

/* What the marking id refers to: a TLP level (*out), another marking of the bundle, or
 * nothing known. */
static marking_kind lookup_tlp(const import_ctx *ic, const char *id, kw_tlp *out)
{
    marking key = { .id = id };
    const marking *m;

    if (kw_stix_tlp_from_marking_id(id, out) == KW_ERR_OK) {
        return MARK_TLP;
    }
    if (ic->n_markings == 0) {
        return MARK_UNKNOWN;
    }
    m = bsearch(&key, ic->markings, ic->n_markings, sizeof(*ic->markings), marking_cmp);
    if (m == NULL) {
        return MARK_UNKNOWN;
    }
    if (!m->is_tlp) {
        return MARK_OTHER;
    }
    *out = m->tlp;
    return MARK_TLP;
}

static conv_result fail(conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static conv_result fail(conv *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    return CONV_INVALID;
}


static conv_result get_time(conv *c, json_t *o, const char *key, bool required, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    char tmp[64];

    if (v == NULL) {
        if (required) {
            return fail(c, "%s is missing", key);
        }
        return CONV_OK;
    }
    if (!json_is_string(v)) {
        return fail(c, "%s is not a string", key);
    }
    if (kw_time_parse(json_string_value(v), out) != KW_ERR_OK) {
        return fail(c, "%s '%s' is not an RFC 3339 timestamp", key,
            kw__import_clip(tmp, sizeof(tmp), json_string_value(v)));
    }
    return CONV_OK;
}

static conv_result get_text(conv *c, json_t *o, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL) {
        return CONV_OK;
    }
    if (!json_is_string(v)) {
        return fail(c, "%s is not a string", key);
    }
    if (json_string_length(v) > max) {
        return fail(c, "%s is longer than %zu bytes", key, max);
    }
    *out = json_string_value(v);
    return CONV_OK;
}

static conv_result get_list(conv *c, json_t *o, const char *key, const char **items, uint32_t *n)
{
    json_t *v = json_object_get(o, key);
    size_t i;
    json_t *e;

    *n = 0;
    if (v == NULL) {
        return CONV_OK;
    }
    if (!json_is_array(v)) {
        return fail(c, "%s is not a list", key);
    }
    if (json_array_size(v) > KW_BUNDLE_MAX_LIST) {
        return fail(
            c, "%s has %zu entries, more than %u", key, json_array_size(v), KW_BUNDLE_MAX_LIST);
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            return fail(c, "%s[%zu] is not a string", key, i);
        }
        if (json_string_length(e) > MAX_LIST_ITEM) {
            return fail(c, "%s[%zu] is longer than %u bytes", key, i, MAX_LIST_ITEM);
        }
        items[(*n)++] = json_string_value(e);
    }
    return CONV_OK;
}

static conv_result get_phases(conv *c, json_t *o)
{
    json_t *v = json_object_get(o, "kill_chain_phases");
    size_t i;
    json_t *e;

    c->ind.kill_chain_phases = c->phases;
    c->ind.n_kill_chain_phases = 0;
    if (v == NULL) {
        return CONV_OK;
    }
    if (!json_is_array(v)) {
        return fail(c, "kill_chain_phases is not a list");
    }
    if (json_array_size(v) > KW_BUNDLE_MAX_LIST) {
        return fail(c, "kill_chain_phases has %zu entries, more than %u", json_array_size(v),
            KW_BUNDLE_MAX_LIST);
    }
    json_array_foreach(v, i, e)
    {
        json_t *kc = json_object_get(e, "kill_chain_name");
        json_t *ph = json_object_get(e, "phase_name");
        if (!json_is_string(kc) || !json_is_string(ph)) {
            return fail(c, "kill_chain_phases[%zu] lacks kill_chain_name or phase_name", i);
        }
        if (json_string_length(kc) > MAX_PHASE || json_string_length(ph) > MAX_PHASE) {
            return fail(c, "kill_chain_phases[%zu] has a name longer than %u bytes", i, MAX_PHASE);
        }
        c->phases[c->ind.n_kill_chain_phases].kill_chain_name = json_string_value(kc);
        c->phases[c->ind.n_kill_chain_phases].phase_name = json_string_value(ph);
        c->ind.n_kill_chain_phases++;
    }
    return CONV_OK;
}

/* Takes the level of one marking ref into *tlp (the most restrictive one wins). */
static void mark(const import_ctx *ic, const char *ref, bool *marked, kw_tlp *tlp,
    const char **unknown)
{
    kw_tlp t;
    marking_kind k = lookup_tlp(ic, ref, &t);

    if (k == MARK_TLP) {
        stricter(marked, tlp, t);
    } else if (k == MARK_UNKNOWN && *unknown == NULL) {
        *unknown = ref;
    }
}

/*
 * The most restrictive TLP marking among the object_marking_refs of o and the marking_ref of
 * every granular marking (whatever its selectors: kawan keeps the pattern, name, description
 * and the rest together, so a part marked RED makes the whole RED) into *tlp, *marked and
 * *unknown. CONV_INVALID, with what is wrong in c->msg, for malformed markings.
 */
static conv_result object_marks(conv *c, const import_ctx *ic, json_t *o, bool *marked,
    kw_tlp *tlp, const char **unknown)
{
    json_t *v = json_object_get(o, "object_marking_refs");
    size_t i;
    json_t *e;

    if (v != NULL && !json_is_array(v)) {
        return fail(c, "object_marking_refs is not a list");
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            return fail(c, "object_marking_refs[%zu] is not a string", i);
        }
        mark(ic, json_string_value(e), marked, tlp, unknown);
    }
    v = json_object_get(o, "granular_markings");
    if (v != NULL && !json_is_array(v)) {
        return fail(c, "granular_markings is not a list");
    }
    json_array_foreach(v, i, e)
    {
        json_t *ref = json_object_get(e, "marking_ref");
        if (!json_is_object(e)) {
            return fail(c, "granular_markings[%zu] is not an object", i);
        }
        if (ref != NULL && !json_is_string(ref)) {
            return fail(c, "granular_markings[%zu].marking_ref is not a string", i);
        }
        if (ref != NULL) {
            mark(ic, json_string_value(ref), marked, tlp, unknown);
        }
    }
    return CONV_OK;
}

static int container_ref_cmp(const void *a, const void *b)
{
    return strcasecmp(((const container_ref *)a)->ref, ((const container_ref *)b)->ref);
}

/* A container's markings: a TLP level (when marked) and an unresolved marking. */
typedef struct marks {
    kw_tlp tlp;
    bool marked;
    const char *unknown;
} marks;

/* An id some container lists, and the markings of all containers listing it. */
struct listed {
    const char *id;
    marks m;
};

/* Merges x into *y; true when y changed. */
static bool merge_marks(const marks *x, marks *y)
{
    bool changed = false;

    if (x->marked && (!y->marked || x->tlp > y->tlp)) {
        stricter(&y->marked, &y->tlp, x->tlp);
        changed = true;
    }
    if (x->unknown != NULL && y->unknown == NULL) {
        y->unknown = x->unknown;
        changed = true;
    }
    return changed;
}

/* Adds the markings of the containers that list id (ic->listed, see spread_container_marks)
 * to *marked, *tlp and *unknown: one binary search. */
static void container_marks(
    const import_ctx *ic, const char *id, bool *marked, kw_tlp *tlp, const char **unknown)
{
    size_t lo = 0, hi = ic->n_listed;

    if (id == NULL) {
        return;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcasecmp(ic->listed[mid].id, id);
        if (d == 0) {
            marks m = { *tlp, *marked, *unknown };
            merge_marks(&ic->listed[mid].m, &m);
            *tlp = m.tlp;
            *marked = m.marked;
            *unknown = m.unknown;
            return;
        }
        if (d < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
}

/* A container's id and its index, to find containers by id. */
typedef struct container_id {
    const char *id;
    size_t i;
} container_id;

static int container_id_cmp(const void *a, const void *b)
{
    return strcasecmp(((const container_id *)a)->id, ((const container_id *)b)->id);
}

/*
 * Hands each container's markings down to what it lists, to any depth, then sums up, for
 * every id some container lists, the markings of all containers listing it (ic->listed).
 * Containers sharing an id (versions of one report) are one node here, carrying the
 * strictest markings of them all: what lists that id marks every version. The nodes go on
 * a work list, and back on it each time their markings change; levels only rise and an
 * unknown marking is only ever set, so each node changes a few times at most, and the work
 * is a few passes over the object_refs of the input (times a binary search), however the
 * containers nest or repeat ids.
 */
static kw_err spread_container_marks(import_ctx *ic)
{
    size_t n = ic->n_containers, nid = 0, ng = 0, head = 0, len;
    container_id *byid = malloc(n * sizeof(*byid)), *gid = malloc(n * sizeof(*gid));
    size_t *member = malloc(n * sizeof(*member)), *first = malloc((n + 1) * sizeof(*first));
    size_t *group = malloc(n * sizeof(*group)), *queue = malloc(n * sizeof(*queue));
    marks *gm = calloc(n, sizeof(*gm));
    bool *queued = calloc(n, sizeof(*queued));
    kw_err rc = KW_ERR_NOMEM;

    if (byid == NULL || gid == NULL || member == NULL || first == NULL || group == NULL
        || queue == NULL || gm == NULL || queued == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ic->containers[i].id != NULL) {
            byid[nid++] = (container_id) { ic->containers[i].id, i };
        }
    }
    qsort(byid, nid, sizeof(*byid), container_id_cmp);
    /* Nodes: a run of one id in byid, or a container without an id on its own. */
    size_t nm = 0, ngid = 0;
    for (size_t i = 0; i < nid; i++) {
        if (i == 0 || strcasecmp(byid[i - 1].id, byid[i].id) != 0) {
            gid[ngid++] = (container_id) { byid[i].id, ng };
            first[ng++] = nm;
        }
        group[byid[i].i] = ng - 1;
        member[nm++] = byid[i].i;
    }
    for (size_t i = 0; i < n; i++) {
        if (ic->containers[i].id == NULL) {
            group[i] = ng;
            first[ng++] = nm;
            member[nm++] = i;
        }
    }
    first[ng] = nm;
    for (size_t i = 0; i < n; i++) {
        const container *ct = &ic->containers[i];
        marks own = { ct->tlp, ct->marked, ct->unknown };
        merge_marks(&own, &gm[group[i]]);
    }
    for (size_t g = 0; g < ng; g++) {
        queue[g] = g;
        queued[g] = true;
    }
    len = ng;
    while (len > 0) {
        size_t g = queue[head];
        queued[g] = false;
        head = (head + 1) % ng;
        len--;
        for (size_t k = first[g]; k < first[g + 1]; k++) {
            size_t j;
            json_t *e;
            json_array_foreach(ic->containers[member[k]].refs, j, e)
            {
                container_id key = { json_is_string(e) ? json_string_value(e) : NULL, 0 };
                const container_id *t = key.id == NULL || ngid == 0
                    ? NULL
                    : bsearch(&key, gid, ngid, sizeof(*gid), container_id_cmp);
                if (t != NULL && merge_marks(&gm[g], &gm[t->i]) && !queued[t->i]) {
                    queue[(head + len) % ng] = t->i;
                    queued[t->i] = true;
                    len++;
                }
            }
        }
    }
    /* What lists each id, summed up (ic->refs is sorted by the id listed). */
    if (ic->n_refs > 0 && (ic->listed = calloc(ic->n_refs, sizeof(*ic->listed))) == NULL) {
        goto out;
    }
    for (size_t i = 0; i < ic->n_refs; i++) {
        if (ic->n_listed == 0 || strcasecmp(ic->listed[ic->n_listed - 1].id, ic->refs[i].ref) != 0) {
            ic->listed[ic->n_listed++].id = ic->refs[i].ref;
        }
        merge_marks(&gm[group[ic->refs[i].container]], &ic->listed[ic->n_listed - 1].m);
    }
    rc = KW_ERR_OK;
out:
    free(byid);
    free(gid);
    free(member);
    free(first);
    free(group);
    free(queue);
    free(gm);
    free(queued);
    return rc;
}

/*
 * Finds the containers of the input (every object with an object_refs list, whatever its
 * type: report, grouping, note, opinion, observed-data, ...) and their markings. Producers
 * such as misp-stix mark only the report that lists the indicators; without this, those
 * indicators would take the caller's default. A container referenced by another takes that
 * one's markings too, so a report that lists a grouping marks what the grouping lists.
 * Malformed markings on a container (it is not checked otherwise) count as an unknown
 * marking, which fails closed where that matters.
 */
static kw_err collect_containers(import_ctx *ic, conv *c, json_t *const *objs, size_t n)
{
    size_t k = 0, r = 0;

    for (size_t i = 0; i < n; i++) {
        json_t *refs = json_object_get(objs[i], "object_refs");
        if (json_is_array(refs) && json_array_size(refs) > 0) {
            k++;
            r += json_array_size(refs);
        }
    }
    if (k == 0) {
        return KW_ERR_OK;
    }
    if ((ic->containers = calloc(k, sizeof(*ic->containers))) == NULL
        || (ic->refs = calloc(r, sizeof(*ic->refs))) == NULL) {
        return KW_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *refs = json_object_get(objs[i], "object_refs");
        json_t *id = json_object_get(objs[i], "id");
        container *ct;
        size_t j;
        json_t *e;

        if (!json_is_array(refs) || json_array_size(refs) == 0) {
            continue;
        }
        ct = &ic->containers[ic->n_containers];
        ct->id = json_is_string(id) ? json_string_value(id) : NULL;
        ct->refs = refs;
        if (object_marks(c, ic, objs[i], &ct->marked, &ct->tlp, &ct->unknown) != CONV_OK
            && ct->unknown == NULL) {
            ct->unknown = "(a malformed marking list)";
        }
        json_array_foreach(refs, j, e)
        {
            if (json_is_string(e)) {
                ic->refs[ic->n_refs].ref = json_string_value(e);
                ic->refs[ic->n_refs].container = ic->n_containers;
                ic->n_refs++;
            }
        }
        ic->n_containers++;
    }
    qsort(ic->refs, ic->n_refs, sizeof(*ic->refs), container_ref_cmp);
    return spread_container_marks(ic);
}

/*
 * The TLP level: the most restrictive TLP marking of the object (object_marks); no TLP
 * marking: the caller's default. Then the level of every container that references the
 * indicator, when stricter: a container's marking can only raise the level, never lower it
 * below the indicator's own or the default.
 */
static conv_result get_tlp(conv *c, const import_ctx *ic, json_t *o)
{
    bool marked = false, in_marked = false;
    kw_tlp in_tlp = KW_TLP_CLEAR;
    json_t *id = json_object_get(o, "id");

    c->unknown_marking = NULL;
    c->by_container = false;
    if (object_marks(c, ic, o, &marked, &c->tlp, &c->unknown_marking) != CONV_OK) {
        return CONV_INVALID;
    }
    if (!marked) {
        c->tlp = ic->default_tlp;
    }
    container_marks(
        ic, json_is_string(id) ? json_string_value(id) : NULL, &in_marked, &in_tlp,
        &c->unknown_marking);
    if (in_marked && in_tlp > c->tlp) {
        c->tlp = in_tlp;
        c->by_container = true;
    }
    return CONV_OK;
}

/* Converts one indicator object into c (strings borrowed from the tree). */
static conv_result convert(conv *c, const import_ctx *ic, json_t *o, size_t index)
{
    kw_indicator *ind = &c->ind;
    json_t *v;
    const char *why = "is not valid";
    const char *pattern_text;
    size_t value_len = 0;
    conv_result r;
    char tmp[160];

    memset(ind, 0, sizeof(*ind));
    ind->confidence = -1;
    c->msg[0] = '\0';
    c->unsupported = NULL;
    v = json_object_get(o, "id");
    if (json_is_string(v)) {
        snprintf(c->ref, sizeof(c->ref), "%s", kw__import_clip(tmp, 100, json_string_value(v)));
    } else {
        snprintf(c->ref, sizeof(c->ref), "object #%zu", index + 1);
    }
    if (v == NULL) {
        return fail(c, "id is missing");
    }
    if (!json_is_string(v) || strncmp(json_string_value(v), "indicator--", 11) != 0
        || kw_indicator_id_parse(json_string_value(v), ind->id) != KW_ERR_OK) {
        return fail(c, "id is not indicator--<uuid>");
    }
    v = json_object_get(o, "spec_version");
    if (v != NULL && !json_is_string(v)) {
        return fail(c, "spec_version is not a string");
    }
    /* Without spec_version an object is STIX 2.0 (STIX 2.1 section 3.2); kawan still takes
     * it as 2.1 when it has 2.1's pattern_type, unless its bundle says 2.0. 2.0 indicators
     * follow other rules (no pattern_type, labels required): they are unsupported, not
     * invalid. */
    if (v == NULL && (ic->v20_bundle || json_object_get(o, "pattern_type") == NULL)) {
        snprintf(c->msg, sizeof(c->msg), "is STIX 2.0 (no spec_version%s); only 2.1 is supported",
            ic->v20_bundle ? ", in a 2.0 bundle" : ", no pattern_type");
        c->unsupported = "STIX 2.0";
        return CONV_UNSUPPORTED;
    }
    if ((r = get_time(c, o, "created", true, &ind->created)) != CONV_OK
        || (r = get_time(c, o, "modified", true, &ind->modified)) != CONV_OK
        || (r = get_time(c, o, "valid_from", true, &ind->valid_from)) != CONV_OK
        || (r = get_time(c, o, "valid_until", false, &ind->valid_until)) != CONV_OK) {
        return r;
    }
    if (ind->modified < ind->created) {
        return fail(c, "modified is earlier than created");
    }
    if (json_object_get(o, "valid_until") != NULL && ind->valid_until <= ind->valid_from) {
        return fail(c, "valid_until is not later than valid_from");
    }
    if ((v = json_object_get(o, "pattern")) == NULL) {
        return fail(c, "pattern is missing");
    }
    if (!json_is_string(v)) {
        return fail(c, "pattern is not a string");
    }
    pattern_text = json_string_value(v);
    if ((v = json_object_get(o, "pattern_type")) == NULL) {
        return fail(c, "pattern_type is missing");
    }
    if (!json_is_string(v)) {
        return fail(c, "pattern_type is not a string");
    }
    if ((v = json_object_get(o, "confidence")) != NULL) {
        if (!json_is_integer(v)) {
            return fail(c, "confidence is not an integer");
        }
        if (json_integer_value(v) < 0 || json_integer_value(v) > 100) {
            return fail(
                c, "confidence %" JSON_INTEGER_FORMAT " is out of 0-100", json_integer_value(v));
        }
        ind->confidence = (int)json_integer_value(v);
    }
    if ((v = json_object_get(o, "revoked")) != NULL) {
        if (!json_is_boolean(v)) {
            return fail(c, "revoked is not true or false");
        }
        ind->revoked = json_is_true(v);
    }
    if ((r = get_text(c, o, "name", KW_VALUE_MAX, &ind->name)) != CONV_OK
        || (r = get_text(c, o, "description", KW_BUNDLE_MAX_TEXT, &ind->description)) != CONV_OK
        || (r = get_list(c, o, "labels", c->labels, &ind->n_labels)) != CONV_OK
        || (r = get_list(c, o, "indicator_types", c->types, &ind->n_indicator_types)) != CONV_OK
        || (r = get_phases(c, o)) != CONV_OK || (r = get_tlp(c, ic, o)) != CONV_OK) {
        return r;
    }
    ind->labels = c->labels;
    ind->indicator_types = c->types;

    /* Unsupported comes after the rule checks: a broken object is an error whatever it is. */
    v = json_object_get(o, "spec_version");
    if (v != NULL && strcmp(json_string_value(v), "2.0") == 0) {
        snprintf(c->msg, sizeof(c->msg), "is STIX 2.0 (spec_version 2.0); only 2.1 is supported");
        c->unsupported = "STIX 2.0";
        return CONV_UNSUPPORTED;
    }
    if (v != NULL && strcmp(json_string_value(v), "2.1") != 0) {
        snprintf(c->msg, sizeof(c->msg), "spec_version '%s' is not supported (only 2.1)",
            kw__import_clip(tmp, 40, json_string_value(v)));
        snprintf(c->unsupported_buf, sizeof(c->unsupported_buf), "spec_version %s",
            kw__import_clip(tmp, 40, json_string_value(v)));
        c->unsupported = c->unsupported_buf;
        return CONV_UNSUPPORTED;
    }
    v = json_object_get(o, "pattern_type");
    if (strcmp(json_string_value(v), "stix") != 0) {
        snprintf(c->msg, sizeof(c->msg), "pattern_type '%s' is not supported (only stix)",
            kw__import_clip(tmp, 40, json_string_value(v)));
        c->unsupported = json_string_value(v);
        return CONV_UNSUPPORTED;
    }
    if (pattern_parse(
            pattern_text, strlen(pattern_text), &ind->type, c->value, &value_len, &why, c->lit)
        != KW_ERR_OK) {
        if (c->lit[0] != '\0') {
            return fail(c, "pattern value '%s' %s", kw__import_clip(tmp, 120, c->lit), why);
        }
        return fail(c, "pattern '%s' %s", kw__import_clip(tmp, 120, pattern_text), why);
    }
    ind->value = c->value;
    ind->value_len = (uint32_t)value_len;
    if ((why = kw_value_new_check(ind->type, c->value, value_len)) != NULL) {
        return fail(c, "pattern value '%s' %s", kw__import_clip(tmp, 120, c->value), why);
    }
    /* kawan's own export names a nameless indicator after its value; dropping such a name
     * here makes an export/import round trip exact. */
    if (ind->name != NULL && strcmp(ind->name, ind->value) == 0) {
        ind->name = NULL;
    }
    if (ind->name != NULL && strlen(ind->name) > MAX_NAME) {
        return fail(c, "name is longer than %u bytes", MAX_NAME);
    }
    return CONV_OK;
}

enum { ST_SKIP = 0, ST_OK = 1 };

/* One indicator object of the first pass with a readable id and modified time, for finding
 * the versions of one id. ok: it was accepted (the others are invalid or unsupported). */
typedef struct version {
    uint8_t id[16];
    int64_t modified;
    kw_tlp tlp;
    bool raw;
    bool ok;
    size_t index;
} version;

/* Newest first within an id; for one version, one that was not accepted first (its marking is
 * unknown: it counts as the most restrictive), then the most restrictive marking. */
static int version_cmp(const void *a, const void *b)
{
    const version *x = a, *y = b;
    int c = memcmp(x->id, y->id, 16);

    if (c != 0) {
        return c;
    }
    if (x->modified != y->modified) {
        return x->modified > y->modified ? -1 : 1;
    }
    if (x->ok != y->ok) {
        return x->ok ? 1 : -1;
    }
    if (x->tlp != y->tlp) {
        return x->tlp > y->tlp ? -1 : 1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The id and modified time of an indicator object, when both read. */
static bool version_of(json_t *o, version *v)
{
    json_t *id = json_object_get(o, "id"), *m = json_object_get(o, "modified");

    return json_is_string(id) && strncmp(json_string_value(id), "indicator--", 11) == 0
        && kw_indicator_id_parse(json_string_value(id), v->id) == KW_ERR_OK && json_is_string(m)
        && kw_time_parse(json_string_value(m), &v->modified) == KW_ERR_OK;
}

/*
 * Keeps one object per indicator id: the newest version (STIX 2.1 section 3.6: id and
 * modified name a version) and, for two objects of the same version, the one marked most
 * restrictively. Publishing a superseded version too would send out what its producer
 * replaced, possibly under a laxer marking than the current one. A newest version that was
 * not accepted (invalid, or unsupported) still supersedes the older ones: none is imported.
 */
static void keep_newest(version *v, size_t n, uint8_t *status, kw_import_report *rep)
{
    if (n < 2) {
        return;
    }
    qsort(v, n, sizeof(*v), version_cmp);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(v[i].id, v[i - 1].id, 16) != 0 || !v[i].ok) {
            continue;
        }
        status[v[i].index] = ST_SKIP;
        rep->superseded++;
        rep->indicators--;
        if (v[i].raw) {
            rep->raw--;
        } else {
            rep->typed--;
        }
        rep->by_tlp[v[i].tlp]--;
    }
}

/* The objects of a document in order, and for each whether its bundle says spec_version
 * "2.0". */
typedef struct doc_objects {
    json_t **o;
    bool *v20;
    size_t n, cap;
} doc_objects;

/* Bundles inside lists or bundles are read to this depth; deeper ones are refused. */
#define MAX_BUNDLE_DEPTH 8

static bool is_bundle(json_t *o)
{
    json_t *t = json_object_get(o, "type");
    return json_is_string(t) && strcmp(json_string_value(t), "bundle") == 0;
}

static kw_err doc_add(doc_objects *d, json_t *o, bool v20)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        json_t **no = realloc(d->o, cap * sizeof(*no));
        bool *nv;
        if (no == NULL) {
            return KW_ERR_NOMEM;
        }
        d->o = no;
        if ((nv = realloc(d->v20, cap * sizeof(*nv))) == NULL) {
            return KW_ERR_NOMEM;
        }
        d->v20 = nv;
        d->cap = cap;
    }
    d->o[d->n] = o;
    d->v20[d->n] = v20;
    d->n++;
    return KW_ERR_OK;
}

static kw_err doc_list(doc_objects *d, json_t *list, bool v20, int depth, const char *label,
    kw_import_report *rep);

/* Adds the objects of a bundle. */
static kw_err doc_bundle(
    doc_objects *d, json_t *b, int depth, const char *label, kw_import_report *rep)
{
    json_t *sv = json_object_get(b, "spec_version");
    json_t *objects = json_object_get(b, "objects");

    if (objects == NULL) {
        return KW_ERR_OK;
    }
    if (!json_is_array(objects)) {
        snprintf(rep->first_error, sizeof(rep->first_error), "%s: the bundle's objects is not a list",
            label);
        return KW_ERR_DECODE;
    }
    return doc_list(d, objects, json_is_string(sv) && strcmp(json_string_value(sv), "2.0") == 0,
        depth, label, rep);
}

/*
 * Adds the elements of a list of objects (a bundle's objects, a TAXII envelope's, or a JSON
 * list). A bundle among them is read in its place: an array that wraps a bundle, as some tools
 * write it, would otherwise import nothing and say only "1 not indicator".
 */
static kw_err doc_list(doc_objects *d, json_t *list, bool v20, int depth, const char *label,
    kw_import_report *rep)
{
    size_t i;
    json_t *e;
    kw_err rc;

    json_array_foreach(list, i, e)
    {
        if (!is_bundle(e)) {
            rc = doc_add(d, e, v20);
        } else if (depth >= MAX_BUNDLE_DEPTH) {
            snprintf(rep->first_error, sizeof(rep->first_error),
                "%s: bundles nested more than %d deep", label, MAX_BUNDLE_DEPTH);
            rc = KW_ERR_DECODE;
        } else {
            rc = doc_bundle(d, e, depth + 1, label, rep);
        }
        if (rc != KW_ERR_OK) {
            return rc;
        }
    }
    return KW_ERR_OK;
}

/*
 * The objects of a document: a bundle's (or those of an object without "type" that has an
 * objects list, as some published examples write a bundle, or of a TAXII 2.1 envelope, whose
 * objects may be absent on an empty page), each element of a list, or a single object.
 */
static kw_err doc_read(doc_objects *d, json_t *root, const char *label, kw_import_report *rep)
{
    json_t *objects;

    if (json_is_array(root)) {
        return doc_list(d, root, false, 0, label, rep);
    }
    if (!json_is_object(root)) {
        snprintf(rep->first_error, sizeof(rep->first_error),
            "%s: not a STIX bundle, TAXII envelope, object or list of objects", label);
        return KW_ERR_DECODE;
    }
    if (json_object_get(root, "type") != NULL) {
        return is_bundle(root) ? doc_bundle(d, root, 0, label, rep) : doc_add(d, root, false);
    }
    objects = json_object_get(root, "objects");
    if (objects == NULL && json_object_get(root, "more") == NULL
        && json_object_get(root, "next") == NULL) {
        snprintf(rep->first_error, sizeof(rep->first_error),
            json_object_size(root) == 0
                ? "%s: an empty JSON object, not a STIX bundle, TAXII envelope or object"
                : "%s: a JSON object without type or objects, not a STIX bundle, TAXII "
                  "envelope or object",
            label);
        return KW_ERR_DECODE;
    }
    if (objects != NULL && !json_is_array(objects)) {
        snprintf(rep->first_error, sizeof(rep->first_error), "%s: objects is not a list", label);
        return KW_ERR_DECODE;
    }
    return objects == NULL ? KW_ERR_OK : doc_list(d, objects, false, 0, label, rep);
}

/* Imports into sink or, when it is NULL, into xsink. */
static kw_err stix_import(const char *json, size_t len, const char *file_label,
    kw_tlp default_tlp, bool skip_invalid, kw_import_sink sink, kw_stix_sink xsink, void *ctx,
    kw_import_report *rep)
{
    kw_err rc = KW_ERR_DECODE;
    json_t *root = NULL;
    json_t **objs = NULL;
    doc_objects d = { 0 };
    uint8_t *status = NULL;
    version *versions = NULL;
    size_t n_versions = 0;
    conv *c = NULL;
    import_ctx ic
        = { .label = file_label != NULL ? file_label : "<input>", .default_tlp = default_tlp };
    json_error_t jerr;
    size_t n = 0;

    if (rep == NULL) {
        return KW_ERR_INVAL;
    }
    memset(rep, 0, sizeof(*rep));
    if (json == NULL || (sink == NULL && xsink == NULL) || (unsigned)default_tlp > KW_TLP_MAX) {
        rc = KW_ERR_INVAL;
        snprintf(rep->first_error, sizeof(rep->first_error), "%s: invalid arguments", ic.label);
        goto out;
    }
    /* A UTF-8 byte order mark, which RFC 8259 section 8.1 lets a parser ignore. */
    if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0) {
        json += 3;
        len -= 3;
    }
    /* Duplicate keys are refused: two readers could otherwise disagree on what an object
     * says (e.g. which marking applies). */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        kw__import_json_error(rep, ic.label, &jerr);
        goto out;
    }
    rc = doc_read(&d, root, ic.label, rep);
    n = d.n;
    objs = d.o; /* freed at out, also when doc_read failed part-way */
    if (rc != KW_ERR_OK) {
        goto out;
    }
    rc = KW_ERR_NOMEM;
    if (n > 0) {
        if ((status = calloc(n, 1)) == NULL || (versions = calloc(n, sizeof(*versions))) == NULL) {
            goto out;
        }
    }
    if ((c = malloc(sizeof(*c))) == NULL) {
        goto out;
    }
    if ((rc = collect_markings(&ic, objs, n)) != KW_ERR_OK
        || (rc = collect_containers(&ic, c, objs, n)) != KW_ERR_OK) {
        goto out;
    }

    /* First pass: check everything, so that without skip_invalid an error is found before
     * the sink has seen anything. */
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object_get(objs[i], "type");
        conv_result r;

        rep->objects++;
        if (!json_is_object(objs[i])) {
            rep->invalid++;
            kw__import_issue(rep, true, "%s: object #%zu is not a JSON object", ic.label, i + 1);
            continue;
        }
        if (!json_is_string(t)) {
            rep->invalid++;
            kw__import_issue(rep, true, "%s: object #%zu has no type", ic.label, i + 1);
            continue;
        }
        if (strcmp(json_string_value(t), "indicator") != 0) {
            rep->non_indicators++;
            continue;
        }
        ic.v20_bundle = d.v20[i];
        r = convert(c, &ic, objs[i], i);
        version *ver = &versions[n_versions];
        if (version_of(objs[i], ver)) {
            ver->ok = r == CONV_OK;
            ver->tlp = c->tlp;
            ver->raw = c->ind.type == KW_OBS_STIX_PATTERN;
            ver->index = i;
            n_versions++;
        }
        if (r == CONV_INVALID) {
            rep->invalid++;
            kw__import_issue(rep, true, "%s: %s: %s", ic.label, c->ref, c->msg);
        } else if (r == CONV_UNSUPPORTED) {
            rep->unsupported++;
            kw__import_count_type(rep, c->unsupported);
            kw__import_issue(rep, false, "%s: %s: %s", ic.label, c->ref, c->msg);
        } else {
            status[i] = ST_OK;
            rep->indicators++;
            if (c->ind.type == KW_OBS_STIX_PATTERN) {
                rep->raw++;
            } else {
                rep->typed++;
            }
            rep->by_tlp[c->tlp]++;
            if (c->unknown_marking != NULL && rep->unknown_markings++ == 0) {
                char tmp[sizeof(rep->unknown_marking)];
                snprintf(rep->unknown_marking, sizeof(rep->unknown_marking), "%s",
                    kw__import_clip(tmp, sizeof(tmp), c->unknown_marking));
            }
        }
    }
    if (rep->invalid > 0 && !skip_invalid) {
        rc = KW_ERR_INVAL;
        goto out;
    }
    keep_newest(versions, n_versions, status, rep);

    /* Second pass: the same conversion again, now handed to the sink. */
    for (size_t i = 0; i < n; i++) {
        if (status[i] != ST_OK) {
            continue;
        }
        ic.v20_bundle = d.v20[i];
        if (convert(c, &ic, objs[i], i) != CONV_OK) {
            rc = KW_ERR_INVAL; /* Cannot happen: the conversion is deterministic. */
            goto out;
        }
        if (sink != NULL) {
            rc = sink(ctx, &c->ind, c->tlp);
        } else {
            kw_stix_marks m = { .unresolved = c->unknown_marking != NULL,
                .by_container = c->by_container };
            rc = xsink(ctx, &c->ind, c->tlp, &m);
        }
        if (rc != KW_ERR_OK) {
            snprintf(rep->first_error, sizeof(rep->first_error), "%s: %s: %s", ic.label, c->ref,
                kw_strerror(rc));
            goto out;
        }
    }
    rc = KW_ERR_OK;
out:
    free(c);
    free(status);
    free(versions);
    free(objs);
    free(d.v20);
    free(ic.markings);
    free(ic.containers);
    free(ic.refs);
    free(ic.listed);
    json_decref(root);
    return rc;
}

kw_err kw_stix_import(const char *json, size_t len, const char *file_label, kw_tlp default_tlp,
    bool skip_invalid, kw_import_sink sink, void *ctx, kw_import_report *rep)
{
    if (sink == NULL && rep != NULL) {
        memset(rep, 0, sizeof(*rep));
        return KW_ERR_INVAL;
    }
    return stix_import(json, len, file_label, default_tlp, skip_invalid, sink, NULL, ctx, rep);
}

kw_err kw_stix_import_marks(const char *json, size_t len, const char *file_label,
    kw_tlp default_tlp, bool skip_invalid, kw_stix_sink sink, void *ctx, kw_import_report *rep)
{
    if (sink == NULL && rep != NULL) {
        memset(rep, 0, sizeof(*rep));
        return KW_ERR_INVAL;
    }
    return stix_import(json, len, file_label, default_tlp, skip_invalid, NULL, sink, ctx, rep);
}

/* ------------------------------------------------------------------------------------------ */
/* Export.                                                                                    */

/* A fixed date for the identity objects, so that every export of an origin writes the same
 * identity object (same id, same content, same version). */
#define IDENTITY_TIME "2020-01-01T00:00:00.000Z"
/* The created date of the official TLP 2.0 marking-definition objects. */
#define TLP2_TIME "2022-10-01T00:00:00.000Z"

struct kw_stix_writer {
    FILE *f;
    bool any; /* an object has been written */
    bool finished;
    bool failed;
    unsigned markings; /* bit t: the TLP 2.0 marking of level t has been written */
    /* Origins whose identity object has been written: open addressing over the key. */
    uint8_t (*keys)[32];
    uint8_t *used;
    size_t cap;
    size_t n;
};

static kw_err write_raw(kw_stix_writer *w, const char *s)
{
    size_t n = strlen(s);

    if (fwrite(s, 1, n, w->f) != n) {
        w->failed = true;
        return KW_ERR_IO;
    }
    return KW_ERR_OK;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    FILE *f = data;
    return fwrite(buf, 1, size, f) == size ? 0 : -1;
}

static kw_err write_object(kw_stix_writer *w, json_t *o)
{
    kw_err rc;

    if ((rc = write_raw(w, w->any ? ",\n" : ",\"objects\":[\n")) != KW_ERR_OK) {
        return rc;
    }
    w->any = true;
    if (json_dump_callback(o, dump_cb, w->f, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
        w->failed = true;
        return KW_ERR_IO;
    }
    return KW_ERR_OK;
}

kw_err kw_stix_writer_new(kw_stix_writer **out, FILE *f)
{
    kw_err rc = KW_ERR_NOMEM;
    kw_stix_writer *w = NULL;
    uint8_t uuid[16];
    char id[64], head[128];

    *out = NULL;
    if (f == NULL) {
        return KW_ERR_INVAL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        goto out;
    }
    w->f = f;
    w->cap = 16;
    if ((w->keys = calloc(w->cap, sizeof(*w->keys))) == NULL
        || (w->used = calloc(w->cap, 1)) == NULL) {
        goto out;
    }
    kw_uuid_random(uuid);
    kw_stix_id_format(id, sizeof(id), "bundle", uuid);
    snprintf(head, sizeof(head), "{\"type\":\"bundle\",\"id\":\"%s\"", id);
    if ((rc = write_raw(w, head)) != KW_ERR_OK) {
        goto out;
    }
    *out = w;
    w = NULL;
    rc = KW_ERR_OK;
out:
    kw_stix_writer_free(w);
    return rc;
}

void kw_stix_writer_free(kw_stix_writer *w)
{
    if (w == NULL) {
        return;
    }
    free(w->keys);
    free(w->used);
    free(w);
}

static size_t key_slot(const uint8_t key[32], size_t cap)
{
    uint64_t h;

    /* Keys are public keys: their bytes are already uniformly spread. */
    memcpy(&h, key, sizeof(h));
    return (size_t)(h & (cap - 1));
}

/* Returns true when key was not in the set (and adds it). */
static kw_err origin_add(kw_stix_writer *w, const uint8_t key[32], bool *added)
{
    size_t i = key_slot(key, w->cap);

    while (w->used[i]) {
        if (memcmp(w->keys[i], key, 32) == 0) {
            *added = false;
            return KW_ERR_OK;
        }
        i = (i + 1) & (w->cap - 1);
    }
    if ((w->n + 1) * 2 > w->cap) {
        size_t ncap = w->cap * 2;
        uint8_t(*nkeys)[32] = calloc(ncap, sizeof(*nkeys));
        uint8_t *nused = calloc(ncap, 1);
        if (nkeys == NULL || nused == NULL) {
            free(nkeys);
            free(nused);
            return KW_ERR_NOMEM;
        }
        for (size_t j = 0; j < w->cap; j++) {
            if (w->used[j]) {
                size_t k = key_slot(w->keys[j], ncap);
                while (nused[k]) {
                    k = (k + 1) & (ncap - 1);
                }
                memcpy(nkeys[k], w->keys[j], 32);
                nused[k] = 1;
            }
        }
        free(w->keys);
        free(w->used);
        w->keys = nkeys;
        w->used = nused;
        w->cap = ncap;
        i = key_slot(key, w->cap);
        while (w->used[i]) {
            i = (i + 1) & (w->cap - 1);
        }
    }
    memcpy(w->keys[i], key, 32);
    w->used[i] = 1;
    w->n++;
    *added = true;
    return KW_ERR_OK;
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), as jansson wants. */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL) {
        return false;
    }
    while (*p != 0) {
        unsigned c = *p, n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        p += n + 1;
    }
    return true;
}

static bool list_ok(const char *const *items, uint32_t n)
{
    if (n > 0 && items == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!utf8_ok(items[i])) {
            return false;
        }
    }
    return true;
}

/* Every string of ind is present where its count says so and is UTF-8. */
static bool indicator_writable(const kw_indicator *ind)
{
    if (!utf8_ok(ind->value) || (ind->name != NULL && !utf8_ok(ind->name))
        || (ind->description != NULL && !utf8_ok(ind->description))
        || !list_ok(ind->labels, ind->n_labels)
        || !list_ok(ind->indicator_types, ind->n_indicator_types)) {
        return false;
    }
    if (ind->n_kill_chain_phases > 0 && ind->kill_chain_phases == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < ind->n_kill_chain_phases; i++) {
        if (!utf8_ok(ind->kill_chain_phases[i].kill_chain_name)
            || !utf8_ok(ind->kill_chain_phases[i].phase_name)) {
            return false;
        }
    }
    return true;
}

/* json_object_set_new that remembers a failure (a NULL value: out of memory or not UTF-8). */
static void put(json_t *o, const char *key, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0) {
        *ok = false;
    }
}

static json_t *str_list(const char *const *items, uint32_t n)
{
    json_t *a = json_array();

    for (uint32_t i = 0; a != NULL && i < n; i++) {
        if (items[i] == NULL || json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static kw_err write_identity(kw_stix_writer *w, const uint8_t origin[32], const char *name)
{
    char id[64], node[KW_ID_TEXT_LEN], desc[96];
    json_t *o = json_object();
    bool ok = o != NULL;
    kw_err rc;

    kw_stix_identity_id(id, origin);
    kw_id_encode(node, origin);
    snprintf(desc, sizeof(desc), "kawan node %s", node);
    put(o, "type", json_string("identity"), &ok);
    put(o, "spec_version", json_string("2.1"), &ok);
    put(o, "id", json_string(id), &ok);
    put(o, "created", json_string(IDENTITY_TIME), &ok);
    put(o, "modified", json_string(IDENTITY_TIME), &ok);
    put(o, "name", json_string(name != NULL ? name : node), &ok);
    put(o, "description", json_string(desc), &ok);
    put(o, "identity_class", json_string("organization"), &ok);
    rc = ok ? write_object(w, o) : KW_ERR_NOMEM;
    json_decref(o);
    return rc;
}

static kw_err write_marking(kw_stix_writer *w, kw_tlp tlp)
{
    char name[32];
    json_t *o = json_object(), *ext = json_object(), *def = json_object();
    bool ok = o != NULL && ext != NULL && def != NULL;
    kw_err rc;

    snprintf(name, sizeof(name), "TLP:%s", kw_tlp_name(tlp));
    put(o, "type", json_string("marking-definition"), &ok);
    put(o, "spec_version", json_string("2.1"), &ok);
    put(o, "id", json_string(tlp2_ids[tlp]), &ok);
    put(o, "created", json_string(TLP2_TIME), &ok);
    put(o, "name", json_string(name), &ok);
    put(def, "extension_type", json_string("property-extension"), &ok);
    put(def, "tlp_2_0", json_string(tlp2_words[tlp]), &ok);
    put(ext, TLP2_EXTENSION, json_incref(def), &ok);
    put(o, "extensions", json_incref(ext), &ok);
    rc = ok ? write_object(w, o) : KW_ERR_NOMEM;
    json_decref(def);
    json_decref(ext);
    json_decref(o);
    return rc;
}

static json_t *time_str(int64_t ms)
{
    char buf[40];

    kw_time_format(buf, sizeof(buf), ms);
    return json_string(buf);
}

kw_err kw_stix_writer_add(kw_stix_writer *w, const kw_indicator *ind, kw_tlp tlp,
    const uint8_t origin[static 32], const char *origin_name)
{
    kw_err rc = KW_ERR_NOMEM;
    json_t *o = NULL, *refs = NULL;
    char *pattern = NULL;
    char id[64], identity[64];
    size_t cap = 2u * KW_VALUE_MAX + 64u;
    bool ok = true, added;
    int64_t valid_from;

    if (w == NULL || ind == NULL || w->finished || (unsigned)tlp > KW_TLP_MAX) {
        return KW_ERR_INVAL;
    }
    if (w->failed) {
        return KW_ERR_IO;
    }
    if (ind->value == NULL || ind->type < KW_OBS_IPV4 || ind->type > KW_OBS_MAX
        || !indicator_writable(ind) || (origin_name != NULL && !utf8_ok(origin_name))) {
        return KW_ERR_INVAL;
    }
    if ((pattern = malloc(cap)) == NULL) {
        goto out;
    }
    if ((rc = kw_stix_pattern_build(pattern, cap, ind->type, ind->value)) != KW_ERR_OK) {
        goto out;
    }
    rc = KW_ERR_NOMEM;
    if ((o = json_object()) == NULL) {
        goto out;
    }
    kw_indicator_id_format(id, ind->id);
    kw_stix_identity_id(identity, origin);
    put(o, "type", json_string("indicator"), &ok);
    put(o, "spec_version", json_string("2.1"), &ok);
    put(o, "id", json_string(id), &ok);
    put(o, "created_by_ref", json_string(identity), &ok);
    put(o, "created", time_str(ind->created), &ok);
    put(o, "modified", time_str(ind->modified), &ok);
    put(o, "name", json_string(ind->name != NULL ? ind->name : ind->value), &ok);
    if (ind->description != NULL) {
        put(o, "description", json_string(ind->description), &ok);
    }
    if (ind->n_indicator_types > 0) {
        put(o, "indicator_types", str_list(ind->indicator_types, ind->n_indicator_types), &ok);
    }
    put(o, "pattern", json_string(pattern), &ok);
    put(o, "pattern_type", json_string("stix"), &ok);
    /* valid_from is required in STIX; an indicator without one is valid from its creation. */
    valid_from = ind->valid_from != 0 ? ind->valid_from : ind->created;
    put(o, "valid_from", time_str(valid_from), &ok);
    /* STIX requires valid_until to be later than valid_from; otherwise it is left out. */
    if (ind->valid_until != 0 && ind->valid_until > valid_from) {
        put(o, "valid_until", time_str(ind->valid_until), &ok);
    }
    if (ind->n_kill_chain_phases > 0) {
        json_t *a = json_array();
        for (uint32_t i = 0; a != NULL && i < ind->n_kill_chain_phases; i++) {
            const kw_kill_chain_phase *p = &ind->kill_chain_phases[i];
            json_t *e = json_object();
            bool eok = e != NULL && p->kill_chain_name != NULL && p->phase_name != NULL;
            if (eok) {
                put(e, "kill_chain_name", json_string(p->kill_chain_name), &eok);
                put(e, "phase_name", json_string(p->phase_name), &eok);
            }
            if (!eok || json_array_append_new(a, e) != 0) {
                if (eok) {
                    e = NULL; /* append_new consumed it even on failure */
                }
                json_decref(e);
                json_decref(a);
                a = NULL;
            }
        }
        put(o, "kill_chain_phases", a, &ok);
    }
    if (ind->confidence >= 0 && ind->confidence <= 100) {
        put(o, "confidence", json_integer(ind->confidence), &ok);
    }
    if (ind->n_labels > 0) {
        put(o, "labels", str_list(ind->labels, ind->n_labels), &ok);
    }
    if (ind->revoked) {
        put(o, "revoked", json_true(), &ok);
    }
    refs = json_array();
    if (refs == NULL || json_array_append_new(refs, json_string(tlp2_ids[tlp])) != 0) {
        ok = false;
    }
    put(o, "object_marking_refs", json_incref(refs), &ok);
    if (!ok) {
        goto out; /* The text was checked above, so this is out of memory. */
    }

    /* Referenced objects go first, so a reader meets every reference after its target. */
    if ((rc = origin_add(w, origin, &added)) != KW_ERR_OK) {
        goto out;
    }
    if (added && (rc = write_identity(w, origin, origin_name)) != KW_ERR_OK) {
        goto out;
    }
    if ((w->markings & (1u << tlp)) == 0) {
        if ((rc = write_marking(w, tlp)) != KW_ERR_OK) {
            goto out;
        }
        w->markings |= 1u << tlp;
    }
    rc = write_object(w, o);
out:
    json_decref(refs);
    json_decref(o);
    free(pattern);
    return rc;
}

kw_err kw_stix_writer_finish(kw_stix_writer *w)
{
    kw_err rc;

    if (w == NULL || w->finished) {
        return KW_ERR_INVAL;
    }
    if (w->failed) {
        return KW_ERR_IO;
    }
    w->finished = true;
    /* "objects" must not be an empty list (the bundle schema says minItems 1). */
    if ((rc = write_raw(w, w->any ? "\n]}\n" : "}\n")) != KW_ERR_OK) {
        return rc;
    }
    if (fflush(w->f) != 0 || ferror(w->f)) {
        w->failed = true;
        return KW_ERR_IO;
    }
    return KW_ERR_OK;
}
