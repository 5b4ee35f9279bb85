/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The STIX 2.1 patterning grammar (STIX 2.1 section 9; the OASIS grammar STIXPattern.g4), as
 * a checker: patterns kawan keeps whole are stored and exported as they are, so they must be
 * patterns a strict consumer accepts. Recursive descent over a small tokenizer; nesting is
 * bounded, so no input can exhaust the stack.
 */
#include "bundle/stix.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define MAX_NESTING 64

typedef enum tok_kind {
    T_END,
    T_LBRACKET,
    T_RBRACKET,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_COLON,
    T_DOT,
    T_STAR,
    T_OP_EQ, /* = == != <> */
    T_OP_ORDER, /* < <= > >= */
    T_WORD, /* keyword or identifier */
    T_INT, /* an integer, with its sign */
    T_FLOAT,
    T_STRING, /* '...' */
    T_TIMESTAMP, /* t'...' */
    T_BINARY, /* b'...' */
    T_HEX, /* h'...' */
    T_BAD,
} tok_kind;

typedef struct lexer {
    const char *p;
    size_t n, i;
    tok_kind kind;
    size_t start, len; /* the current token */
    bool positive; /* T_INT, T_FLOAT: no '-' */
    int depth;
    const char *why;
} lexer;

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t kw__stix_ws_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    if (n >= 1
        && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n' || s[0] == '\f'
            || s[0] == '\v')) {
        return 1;
    }
    if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) {
        return 2;
    }
    if (n >= 3
        && ((u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80)
            || (u[0] == 0xE2 && u[1] == 0x80
                && ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9
                    || u[2] == 0xAF))
            || (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F)
            || (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80))) {
        return 3;
    }
    return 0;
}

/* The length of the white space (kw__stix_ws_len) or comment ("/" "* ... *" "/", "//" to the
 * end of the line) at p[i], or 0. An unterminated comment is not skipped (and so not a
 * token: the pattern is refused). */
static size_t space_at(const char *p, size_t n, size_t i)
{
    size_t left = n - i, w = kw__stix_ws_len(p + i, left);

    if (w > 0) {
        return w;
    }
    if (left >= 2 && p[i] == '/' && p[i + 1] == '*') {
        for (size_t k = i + 2; k + 1 < n; k++) {
            if (p[k] == '*' && p[k + 1] == '/') {
                return k + 2 - i;
            }
        }
        return 0;
    }
    if (left >= 2 && p[i] == '/' && p[i + 1] == '/') {
        size_t k = i + 2;
        while (k < n && p[k] != '\n' && p[k] != '\r') {
            k++;
        }
        return k - i;
    }
    return 0;
}

/* A quoted literal from p[i] (the quote): only \' and \\ are escapes. Returns its end, or 0. */
static size_t quoted_end(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\') {
            if (i + 1 >= n || (p[i + 1] != '\'' && p[i + 1] != '\\')) {
                return 0;
            }
            i++;
        } else if (p[i] == '\'') {
            return i + 1;
        }
    }
    return 0;
}

static bool timestamp_ok(const char *s, size_t n)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac]Z */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t k;

    if (n < 20) {
        return false;
    }
    for (k = 0; k < 19; k++) {
        if (shape[k] == 'd' ? !is_digit(s[k]) : s[k] != shape[k]) {
            return false;
        }
    }
    if (s[k] == '.') {
        size_t f = ++k;
        while (k < n && is_digit(s[k])) {
            k++;
        }
        if (k == f) {
            return false;
        }
    }
    int month = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    int hour = (s[11] - '0') * 10 + (s[12] - '0'), min = (s[14] - '0') * 10 + (s[15] - '0');
    int sec = (s[17] - '0') * 10 + (s[18] - '0');
    return k + 1 == n && s[k] == 'Z' && month >= 1 && month <= 12 && day >= 1 && day <= 31
        && hour <= 23 && min <= 59 && sec <= 60;
}

static bool hex_ok(const char *s, size_t n)
{
    if (n % 2 != 0) {
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (!is_digit(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

static bool base64_ok(const char *s, size_t n)
{
    size_t pad = 0;

    if (n == 0 || n % 4 != 0) {
        return false; /* the grammar's BinaryLiteral ends with a group of four */
    }
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (c == '=') {
            pad++;
        } else if (pad > 0 || !(is_alpha(c) || is_digit(c) || c == '+' || c == '/') || c == '_') {
            return false;
        }
    }
    return pad <= 2;
}

/* Reads the next token into l. */
static void next(lexer *l)
{
    const char *p = l->p;
    size_t i = l->i, n = l->n;

    for (size_t w; i < n && (w = space_at(p, n, i)) > 0;) {
        i += w;
    }
    l->start = i;
    l->len = 1;
    if (i >= n) {
        l->kind = T_END;
        l->len = 0;
        l->i = i;
        return;
    }
    char c = p[i];
    switch (c) {
    case '[': l->kind = T_LBRACKET; break;
    case ']': l->kind = T_RBRACKET; break;
    case '(': l->kind = T_LPAREN; break;
    case ')': l->kind = T_RPAREN; break;
    case ',': l->kind = T_COMMA; break;
    case ':': l->kind = T_COLON; break;
    case '*': l->kind = T_STAR; break;
    case '=':
        l->kind = T_OP_EQ;
        l->len = i + 1 < n && p[i + 1] == '=' ? 2 : 1;
        break;
    case '!':
        l->kind = i + 1 < n && p[i + 1] == '=' ? T_OP_EQ : T_BAD;
        l->len = 2;
        break;
    case '<':
        l->kind = i + 1 < n && p[i + 1] == '>' ? T_OP_EQ : T_OP_ORDER;
        l->len = i + 1 < n && (p[i + 1] == '>' || p[i + 1] == '=') ? 2 : 1;
        break;
    case '>':
        l->kind = T_OP_ORDER;
        l->len = i + 1 < n && p[i + 1] == '=' ? 2 : 1;
        break;
    case '\'': {
        size_t e = quoted_end(p, n, i);
        l->kind = e ? T_STRING : T_BAD;
        l->len = e ? e - i : 1;
        break;
    }
    default:
        if ((c == 't' || c == 'b' || c == 'h') && i + 1 < n && p[i + 1] == '\'') {
            size_t e = quoted_end(p, n, i + 1);
            const char *body = p + i + 2;
            size_t blen = e ? e - i - 3 : 0;
            bool ok = e != 0
                && (c == 't' ? timestamp_ok(body, blen)
                        : c == 'h' ? hex_ok(body, blen) : base64_ok(body, blen));
            l->kind = !ok ? T_BAD : c == 't' ? T_TIMESTAMP : c == 'h' ? T_HEX : T_BINARY;
            l->len = e ? e - i : 1;
        } else if (is_digit(c) || ((c == '-' || c == '+' || c == '.') && i + 1 < n
                                      && (is_digit(p[i + 1]) || p[i + 1] == '.'))) {
            size_t k = i + (c == '-' || c == '+');
            size_t int_start = k;
            bool dot = false;
            while (k < n && is_digit(p[k])) {
                k++;
            }
            size_t int_len = k - int_start;
            if (k < n && p[k] == '.') {
                size_t f = ++k;
                while (k < n && is_digit(p[k])) {
                    k++;
                }
                dot = true;
                if (k == f) {
                    l->kind = T_BAD;
                    l->len = k - i;
                    break;
                }
            }
            /* Integers have no leading zero ("0" itself is fine). */
            bool lead0 = !dot && int_len > 1 && p[int_start] == '0';
            l->kind = lead0 || (!dot && int_len == 0) ? T_BAD : dot ? T_FLOAT : T_INT;
            l->positive = c != '-';
            l->len = k - i;
        } else if (c == '.') {
            l->kind = T_DOT;
        } else if (is_alpha(c)) {
            size_t k = i + 1;
            while (k < n && (is_alpha(p[k]) || is_digit(p[k]) || p[k] == '-')) {
                k++;
            }
            l->kind = T_WORD;
            l->len = k - i;
        } else {
            l->kind = T_BAD;
        }
        break;
    }
    l->i = i + l->len;
}

static bool word_is(const lexer *l, const char *w)
{
    return l->kind == T_WORD && l->len == strlen(w) && memcmp(l->p + l->start, w, l->len) == 0;
}

static bool fail(lexer *l, const char *why)
{
    if (l->why == NULL) {
        l->why = why;
    }
    return false;
}

static bool is_keyword(const lexer *l)
{
    static const char *const kw[] = { "AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES",
        "ISSUPERSET", "ISSUBSET", "EXISTS", "LAST", "IN", "START", "STOP", "SECONDS", "true",
        "false", "WITHIN", "REPEATS", "TIMES" };
    for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
        if (word_is(l, kw[k])) {
            return true;
        }
    }
    return false;
}

/* An identifier without '-' (a property name). */
static bool plain_identifier(const lexer *l)
{
    return l->kind == T_WORD && memchr(l->p + l->start, '-', l->len) == NULL && !is_keyword(l);
}

/* objectType ':' firstPathComponent objectPathComponent* */
static bool object_path(lexer *l)
{
    if (l->kind != T_WORD || is_keyword(l)) {
        return fail(l, "has a comparison that does not start with an object path (type:property)");
    }
    next(l);
    if (l->kind != T_COLON) {
        return fail(l, "has an object path without ':' after the object type");
    }
    next(l);
    if (!plain_identifier(l) && l->kind != T_STRING) {
        return fail(l, "has an object path without a property after ':'");
    }
    next(l);
    for (;;) {
        if (l->kind == T_DOT) {
            next(l);
            if (!plain_identifier(l) && l->kind != T_STRING) {
                return fail(l, "has an object path with nothing after a '.'");
            }
            next(l);
        } else if (l->kind == T_LBRACKET && l->i < l->n) {
            /* An index or '*' after a list property: "[0]", "[*]". A '[' of anything else is
             * the next observation, which cannot follow a path, so it is an error below. */
            next(l);
            if (l->kind != T_STAR && l->kind != T_INT) {
                return fail(l, "has a list index that is not a number or '*'");
            }
            next(l);
            if (l->kind != T_RBRACKET) {
                return fail(l, "has a list index without ']'");
            }
            next(l);
        } else {
            return true;
        }
    }
}

static bool orderable_literal(const lexer *l)
{
    return l->kind == T_INT || l->kind == T_FLOAT || l->kind == T_STRING || l->kind == T_BINARY
        || l->kind == T_HEX || l->kind == T_TIMESTAMP;
}

static bool primitive_literal(const lexer *l)
{
    return orderable_literal(l) || word_is(l, "true") || word_is(l, "false");
}

static bool comparison_or(lexer *l);

/* A '(' inner ')' group, at the '(': comparisons or observations, nesting bounded. */
static bool group(lexer *l, bool (*inner)(lexer *))
{
    if (++l->depth > MAX_NESTING) {
        return fail(l, "nests deeper than 64 levels");
    }
    next(l);
    if (!inner(l)) {
        return false;
    }
    if (l->kind != T_RPAREN) {
        return fail(l, "has a '(' without its ')'");
    }
    l->depth--;
    next(l);
    return true;
}

/* One property test, or a parenthesised comparison expression. */
static bool prop_test(lexer *l)
{
    if (l->kind == T_LPAREN) {
        return group(l, comparison_or);
    }
    if (word_is(l, "EXISTS")) {
        next(l);
        return object_path(l);
    }
    if (!object_path(l)) {
        return false;
    }
    if (word_is(l, "NOT")) {
        next(l);
    }
    if (l->kind == T_OP_EQ) {
        next(l);
        if (!primitive_literal(l)) {
            return fail(l, "compares with something that is not a literal (a string needs quotes)");
        }
    } else if (l->kind == T_OP_ORDER) {
        next(l);
        if (!orderable_literal(l)) {
            return fail(l, "orders by something that is not a number, string, time or bytes");
        }
    } else if (word_is(l, "IN")) {
        next(l);
        if (l->kind != T_LPAREN) {
            return fail(l, "has IN without a '(' set");
        }
        next(l);
        if (l->kind != T_RPAREN) {
            for (;;) {
                if (!primitive_literal(l)) {
                    return fail(l, "has a set member that is not a literal");
                }
                next(l);
                if (l->kind == T_RPAREN) {
                    break;
                }
                if (l->kind != T_COMMA) {
                    return fail(l, "has a set without ',' between its members");
                }
                next(l);
            }
        }
    } else if (word_is(l, "LIKE") || word_is(l, "MATCHES") || word_is(l, "ISSUBSET")
        || word_is(l, "ISSUPERSET")) {
        next(l);
        if (l->kind != T_STRING) {
            return fail(l, "has LIKE, MATCHES, ISSUBSET or ISSUPERSET without a quoted string");
        }
    } else {
        return fail(l, "has a comparison without an operator (=, !=, <, >, IN, LIKE, ...)");
    }
    next(l);
    return true;
}

static bool comparison_or(lexer *l)
{
    for (;;) {
        if (!prop_test(l)) {
            return false;
        }
        if (!word_is(l, "AND") && !word_is(l, "OR")) {
            return true;
        }
        next(l);
    }
}

static bool observation_seq(lexer *l);

/* One observation expression with its qualifiers. */
static bool observation(lexer *l)
{
    if (l->kind == T_LBRACKET) {
        next(l);
        if (!comparison_or(l)) {
            return false;
        }
        if (l->kind != T_RBRACKET) {
            return fail(l, l->kind == T_END ? "has a '[' observation without its ']'"
                                            : "has text where an observation's ']' belongs (a "
                                              "value without quotes, or two values?)");
        }
        next(l);
    } else if (l->kind == T_LPAREN) {
        if (!group(l, observation_seq)) {
            return false;
        }
    } else {
        return fail(l, "has something other than a '[' observation where one belongs");
    }
    for (;;) {
        if (word_is(l, "START")) {
            next(l);
            if (l->kind != T_TIMESTAMP) {
                return fail(l, "has START without a valid t'YYYY-MM-DDTHH:MM:SSZ' timestamp");
            }
            next(l);
            if (!word_is(l, "STOP")) {
                return fail(l, "has START without STOP");
            }
            next(l);
            if (l->kind != T_TIMESTAMP) {
                return fail(l, "has STOP without a valid t'YYYY-MM-DDTHH:MM:SSZ' timestamp");
            }
            next(l);
        } else if (word_is(l, "WITHIN")) {
            next(l);
            if (!((l->kind == T_INT || l->kind == T_FLOAT) && l->positive)) {
                return fail(l, "has WITHIN without a number of seconds (0 or more)");
            }
            next(l);
            if (!word_is(l, "SECONDS")) {
                return fail(l, "has WITHIN without SECONDS");
            }
            next(l);
        } else if (word_is(l, "REPEATS")) {
            next(l);
            if (l->kind != T_INT || !l->positive) {
                return fail(l, "has REPEATS without a whole number (0 or more)");
            }
            next(l);
            if (!word_is(l, "TIMES")) {
                return fail(l, "has REPEATS without TIMES");
            }
            next(l);
        } else {
            return true;
        }
    }
}

/* Observations joined by AND, OR and FOLLOWEDBY. */
static bool observation_seq(lexer *l)
{
    for (;;) {
        if (!observation(l)) {
            return false;
        }
        if (!word_is(l, "AND") && !word_is(l, "OR") && !word_is(l, "FOLLOWEDBY")) {
            return true;
        }
        next(l);
    }
}

bool kw__stix_pattern_valid(const char *p, size_t n, const char **why)
{
    lexer l = { .p = p, .n = n };

    next(&l);
    bool ok = observation_seq(&l);
    if (ok && l.kind != T_END) {
        ok = fail(&l, l.kind == T_BAD ? "has a token that is not STIX (an unquoted value?)"
                                      : "has text after the end of the pattern");
    }
    if (!ok && l.kind == T_BAD && l.why != NULL && strstr(l.why, "literal") != NULL) {
        l.why = "compares with a malformed literal (quotes, escapes other than \\' and \\\\, "
                "a timestamp, hex or base64)";
    }
    if (why != NULL) {
        *why = ok ? NULL : l.why;
    }
    return ok;
}
