/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_VALUE_H
#define KW_BUNDLE_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/err.h"

/* Observable types of an indicator. The numbers are stored on disk and sent on the wire. */
#define KW_OBS_MAP(X)                 \
    X(IPV4, 1, "ipv4")                \
    X(IPV6, 2, "ipv6")                \
    X(CIDR, 3, "cidr")                \
    X(DOMAIN, 4, "domain")            \
    X(URL, 5, "url")                  \
    X(EMAIL, 6, "email")              \
    X(MD5, 7, "md5")                  \
    X(SHA1, 8, "sha1")                \
    X(SHA256, 9, "sha256")            \
    X(SHA512, 10, "sha512")           \
    X(FILENAME, 11, "filename")       \
    X(STIX_PATTERN, 12, "stix-pattern")

typedef enum kw_obs_type {
    KW_OBS_NONE = 0,
#define KW__OBS_ENUM(name, value, text) KW_OBS_##name = (value),
    KW_OBS_MAP(KW__OBS_ENUM)
#undef KW__OBS_ENUM
} kw_obs_type;

#define KW_OBS_MAX KW_OBS_STIX_PATTERN

/* Longest normalised value in bytes (without the NUL). Longer input is rejected. */
#define KW_VALUE_MAX 4096

/* The lower-case name of t ("ipv4", ...), or "unknown". */
const char *kw_obs_type_name(kw_obs_type t);

/* Parses a type name (case-insensitive). KW_ERR_INVAL for unknown names. */
kw_err kw_obs_type_parse(const char *s, kw_obs_type *out);

/*
 * Validates and normalises one value of the given type.
 * in/len: the raw value (not necessarily NUL-terminated; surrounding ASCII whitespace is
 * trimmed). out/cap: receives the normalised, NUL-terminated value; cap must be at least
 * KW_VALUE_MAX + 1. *out_len gets its length. On failure returns KW_ERR_INVAL and sets *why
 * to a phrase naming what is wrong, fit to follow the value in a message, e.g.
 * "is not an IPv4 address (octet 999 out of range)"; it stays valid until the next call on
 * the same thread (most are static; one naming a character is per thread). why may be NULL.
 */
kw_err kw_value_normalise(kw_obs_type type, const char *in, size_t len, char *out, size_t cap,
    size_t *out_len, const char **why);

/*
 * Detects the type of a raw value and normalises it (same contract as kw_value_normalise).
 * Detection order: ipv4, ipv6, cidr, hashes by length (32 md5, 40 sha1, 64 sha256,
 * 128 sha512 hex digits), email (has '@'), url (has "://"), domain. filename and
 * stix-pattern are never detected. A block with a host prefix (/32, /128) is detected as
 * the address itself. A value that fits no type is KW_ERR_INVAL.
 */
kw_err kw_value_detect(const char *in, size_t len, kw_obs_type *type, char *out, size_t cap,
    size_t *out_len, const char **why);

/*
 * Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): values end up in
 * JSON (STIX, MISP), and jansson refuses anything else. kw_utf8_len gives the length of the
 * valid sequence at s (1-4), or 0 when there is none; kw_utf8_valid whether s[0..n) is
 * valid, with the first bad offset in *bad_at (may be NULL).
 */
size_t kw_utf8_len(const char *s, size_t n);
bool kw_utf8_valid(const char *s, size_t n, size_t *bad_at);

/*
 * Undoes the usual ways reports "defang" indicators so that nobody follows them by
 * accident: a scheme written hxxp, hxxps, hxtp, fxp or sfxp (any case, at the start), and
 * the bracketed stand-ins [.] (.) {.} [dot] (dot) {dot} for '.', [:] for ':', [://] and
 * [:]// for "://", [at] (at) {at} [@] for '@' and [/] for '/' (any case). In a URL's
 * path, query and fragment (after the first '/', '?' or '#' past "://") the forms with
 * parentheses are left alone: parentheses are valid there ("/a(.)b" is a real path), while
 * brackets and braces are not. Nothing else is touched: an IPv6 address in brackets
 * ("http://[2001:db8::1]/") stays as it is. Writes
 * the result (never longer than the input) NUL-terminated to out, which must hold len + 1
 * bytes (else nothing is written and 0 returned), sets *out_len, and returns the number of
 * stand-ins replaced (0: the value was not defanged). For values typed by a person or read
 * from a report; values in received payloads are never refanged.
 */
size_t kw_value_refang(const char *in, size_t len, char *out, size_t cap, size_t *out_len);

/*
 * A domain name with non-ASCII labels (U-labels) in ASCII: each such label lower-cased and
 * written as "xn--" + Punycode (RFC 3492; bundle/idna.c says what is lower-cased), ASCII
 * labels as they are, the IDNA label separators (U+3002, U+FF0E, U+FF61) as '.'. out (cap
 * bytes) gets the NUL-terminated result, *out_len its length. Returns NULL, or what is wrong
 * (not UTF-8, an invisible or space character, too long), fit to follow the value in a
 * message. The result still needs the checks of an ASCII name.
 */
const char *kw__idna_to_ascii(const char *s, size_t n, char *out, size_t cap, size_t *out_len);

/* Whether s[0..n) (what follows "xn--" in a label) is valid, canonical Punycode (RFC 3492)
 * of at most 63 code points. */
bool kw__idna_alabel_ok(const char *s, size_t n);

/*
 * Checks a value new to kawan (published, imported) beyond its normal form: every xn-- label
 * of a domain, URL host or e-mail domain must be valid Punycode. NULL, or what is wrong (fit
 * to follow the value in a message). Stored and received values are not held to it, so that
 * what was published before stays readable.
 */
const char *kw_value_new_check(kw_obs_type type, const char *v, size_t n);

#endif
