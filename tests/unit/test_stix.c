/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "bundle/bundle.h"
#include "bundle/import.h"
#include "bundle/stix.h"
#include "bundle/timefmt.h"
#include "bundle/value.h"

/* ---- helpers --------------------------------------------------------------------------- */

/* Keeps a copy of everything the importer hands over. */
typedef struct collect {
    kw_bundle *b;
    kw_tlp tlps[256];
    unsigned calls;
    kw_err fail_at_call; /* when non-zero: the error returned on call number fail_after */
    unsigned fail_after;
} collect;

static kw_err collect_sink(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    collect *c = ctx;

    c->calls++;
    if (c->fail_at_call != KW_ERR_OK && c->calls == c->fail_after) {
        return c->fail_at_call;
    }
    if (c->calls <= 256) {
        c->tlps[c->calls - 1] = tlp;
    }
    return kw_bundle_copy_indicator(c->b, ind, NULL);
}

static void collect_init(collect *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(kw_bundle_new(&c->b), KW_ERR_OK);
}

static void collect_done(collect *c)
{
    kw_bundle_free(c->b);
    c->b = NULL;
}

/* Inline JSON is written with ` for " so that it stays readable. */
static char *jq(const char *tmpl)
{
    char *s = strdup(tmpl);

    assert_non_null(s);
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '`') {
            *p = '"';
        }
    }
    return s;
}

static kw_err import_text(
    const char *tmpl, kw_tlp def, bool skip, collect *c, kw_import_report *rep)
{
    char *s = jq(tmpl);
    kw_err rc = kw_stix_import(s, strlen(s), "t.json", def, skip, collect_sink, c, rep);
    free(s);
    return rc;
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
#define IND_HEAD(uuid)                                                                       \
    "{`type`:`indicator`,`spec_version`:`2.1`,`id`:`indicator--" uuid "`,"                   \
    "`created`:`2026-01-02T03:04:05.678Z`,`modified`:`2026-01-02T03:04:05.678Z`,"             \
    "`valid_from`:`2026-01-02T00:00:00Z`,`pattern_type`:`stix`,"

/* clang-format on */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The corpora folder, or NULL (test skipped) when KW_CORPORA is unset. A set but missing
 * folder is a failure: the tests would silently check nothing. */
static const char *corpora(void)
{
    const char *dir = getenv("KW_CORPORA");
    struct stat st;

    if (dir == NULL || dir[0] == '\0') {
        return NULL;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fail_msg("KW_CORPORA=%s is not a folder", dir);
    }
    return dir;
}

/* ---- pattern parsing --------------------------------------------------------------------- */

static void expect_pattern(const char *pattern, kw_obs_type type, const char *value)
{
    char out[KW_VALUE_MAX + 1];
    size_t len = 0;
    const char *why = NULL;
    kw_obs_type t = KW_OBS_NONE;
    kw_err rc = kw_stix_pattern_parse(pattern, strlen(pattern), &t, out, &len, &why);

    if (rc != KW_ERR_OK) {
        fail_msg("%s: %s", pattern, why != NULL ? why : "?");
    }
    if (t != type || strcmp(out, value) != 0) {
        fail_msg("%s: got %s '%s', expected %s '%s'", pattern, kw_obs_type_name(t), out,
            kw_obs_type_name(type), value);
    }
    assert_int_equal(len, strlen(value));
}

static void expect_pattern_invalid(const char *pattern)
{
    char out[KW_VALUE_MAX + 1];
    size_t len = 0;
    const char *why = NULL;
    kw_obs_type t = KW_OBS_NONE;

    if (kw_stix_pattern_parse(pattern, strlen(pattern), &t, out, &len, &why) != KW_ERR_INVAL) {
        fail_msg("%s: accepted as %s '%s'", pattern, kw_obs_type_name(t), out);
    }
    assert_non_null(why);
}

static void test_pattern_typed(void **state)
{
    (void)state;
    expect_pattern("[ipv4-addr:value = '198.51.100.7']", KW_OBS_IPV4, "198.51.100.7");
    expect_pattern("  [ ipv4-addr:value='198.51.100.7' ]  ", KW_OBS_IPV4, "198.51.100.7");
    expect_pattern("[ipv4-addr:value = '198.51.100.7/32']", KW_OBS_IPV4, "198.51.100.7");
    expect_pattern("[ipv4-addr:value = '198.51.100.0/24']", KW_OBS_CIDR, "198.51.100.0/24");
    expect_pattern("[ipv6-addr:value = '2001:DB8::1']", KW_OBS_IPV6, "2001:db8::1");
    expect_pattern("[ipv6-addr:value = '2001:db8::1/128']", KW_OBS_IPV6, "2001:db8::1");
    expect_pattern("[ipv6-addr:value = '2001:db8::/32']", KW_OBS_CIDR, "2001:db8::/32");
    expect_pattern("[domain-name:value = 'Example.COM']", KW_OBS_DOMAIN, "example.com");
    expect_pattern("[url:value = 'http://example.com/a']", KW_OBS_URL, "http://example.com/a");
    expect_pattern("[email-addr:value = 'x@example.com']", KW_OBS_EMAIL, "x@example.com");
    expect_pattern("[file:name = 'evil.exe']", KW_OBS_FILENAME, "evil.exe");
    expect_pattern("[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']", KW_OBS_MD5,
        "d41d8cd98f00b204e9800998ecf8427e");
    expect_pattern("[file:hashes.md5 = 'd41d8cd98f00b204e9800998ecf8427e']", KW_OBS_MD5,
        "d41d8cd98f00b204e9800998ecf8427e");
    expect_pattern("[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']", KW_OBS_MD5,
        "d41d8cd98f00b204e9800998ecf8427e");
    expect_pattern("[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
        KW_OBS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect_pattern("[file:hashes.SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']", KW_OBS_SHA1,
        "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect_pattern("[file:hashes.'SHA-256' = "
                   "'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']",
        KW_OBS_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_pattern("[file:hashes.SHA256 = "
                   "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
        KW_OBS_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_pattern("[file:hashes.'SHA-512' = "
                   "'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                   "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e']",
        KW_OBS_SHA512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
}

static void test_pattern_escaping(void **state)
{
    (void)state;
    /* \' and \\ are the only escapes of a STIX string literal. */
    expect_pattern("[file:name = 'it\\'s.exe']", KW_OBS_FILENAME, "it's.exe");
    expect_pattern(
        "[file:name = 'C:\\\\Windows\\\\evil.exe']", KW_OBS_FILENAME, "C:\\Windows\\evil.exe");
    expect_pattern(
        "[url:value = 'http://example.com/?q=\\'x\\'']", KW_OBS_URL, "http://example.com/?q='x'");
    /* Any other backslash sequence is not STIX (the grammar's StringLiteral). */
    expect_pattern_invalid("[file:name = 'a\\nb']");
}

static void test_pattern_raw(void **state)
{
    (void)state;
    expect_pattern("[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
        KW_OBS_STIX_PATTERN,
        "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']");
    expect_pattern("  [file:hashes.MD5 = 'x' AND file:name = 'y']\n", KW_OBS_STIX_PATTERN,
        "[file:hashes.MD5 = 'x' AND file:name = 'y']");
    expect_pattern(
        "[ipv4-addr:value != '10.0.0.1']", KW_OBS_STIX_PATTERN, "[ipv4-addr:value != '10.0.0.1']");
    expect_pattern("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", KW_OBS_STIX_PATTERN,
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']");
    expect_pattern("[email-message:subject MATCHES '^Hi']", KW_OBS_STIX_PATTERN,
        "[email-message:subject MATCHES '^Hi']");
    expect_pattern(
        "[file:hashes.'SHA3-256' = 'ab']", KW_OBS_STIX_PATTERN, "[file:hashes.'SHA3-256' = 'ab']");
    expect_pattern("[network-traffic:dst_ref.value = '10.0.0.1']", KW_OBS_STIX_PATTERN,
        "[network-traffic:dst_ref.value = '10.0.0.1']");
    /* A ']' inside a literal does not end the comparison. */
    expect_pattern("[url:value = 'http://example.com/]x']", KW_OBS_URL, "http://example.com/]x");
}

static void test_pattern_qualifiers(void **state)
{
    char out[KW_VALUE_MAX + 1];
    size_t len;
    const char *p1 = "[file:name = 'x.exe'] WITHIN 300 SECONDS";

    (void)state;
    /* Qualified and parenthesised patterns are valid STIX and must be kept whole. The value
     * normaliser (bundle/value.c) decides what a stix-pattern value may look like; until it
     * accepts these forms, this case is reported as skipped rather than silently passing. */
    if (kw_value_normalise(KW_OBS_STIX_PATTERN, p1, strlen(p1), out, sizeof(out), &len, NULL)
        != KW_ERR_OK) {
        print_message("SKIP: kw_value_normalise rejects the STIX pattern \"%s\"\n", p1);
        skip();
    }
    expect_pattern(p1, KW_OBS_STIX_PATTERN, p1);
    expect_pattern("([file:name = 'a'] AND [file:name = 'b']) START t'2026-01-01T00:00:00Z' "
                   "STOP t'2026-02-01T00:00:00Z'",
        KW_OBS_STIX_PATTERN,
        "([file:name = 'a'] AND [file:name = 'b']) START t'2026-01-01T00:00:00Z' "
        "STOP t'2026-02-01T00:00:00Z'");
}

static void test_pattern_invalid(void **state)
{
    (void)state;
    expect_pattern_invalid("");
    expect_pattern_invalid("   ");
    expect_pattern_invalid("[ipv4-addr:value = '999.1.1.1']");
    expect_pattern_invalid("[ipv4-addr:value = '2001:db8::1']");
    expect_pattern_invalid("[ipv6-addr:value = '10.0.0.1']");
    expect_pattern_invalid("[ipv4-addr:value = '10.0.0.1/24']"); /* host bits set */
    expect_pattern_invalid("[file:hashes.'SHA-256' = 'abc']");
    expect_pattern_invalid("[domain-name:value = 'not a domain']");
    expect_pattern_invalid("ipv4-addr:value = '10.0.0.1'");
    expect_pattern_invalid("[file:name = 'x' AND [");
}

/* Patterns kept whole must be STIX 2.1 patterns (section 9), or strict consumers of an
 * export refuse them. */
static void test_pattern_grammar(void **state)
{
    static const char *const valid[] = {
        "[ipv4-addr:value == '10.0.0.1' OR ipv4-addr:value <> '10.0.0.2']",
        "[file:size > 1024 AND file:size <= 2048.5 AND file:size >= -1]",
        "[network-traffic:dst_port IN (80, 443, 8080)]",
        "[network-traffic:protocols[*] = 'tcp' AND network-traffic:extensions."
        "'http-request-ext'.request_header.'Accept-Encoding' = 'gzip']",
        "[file:extensions.'windows-pebinary-ext'.sections[0].entropy > 7.0]",
        "[x-custom_thing:flag = true] FOLLOWEDBY [x-custom_thing:flag = false]",
        "[file:name LIKE 'a%'] REPEATS 5 TIMES WITHIN 3.5 SECONDS",
        "[file:hashes.MD5 NOT = '0cc175b9c0f1b6a831c399e269772661']",
        "[EXISTS windows-registry-key:values]",
        "[(file:name = 'a' OR file:name = 'b') AND file:size = 0]",
        "[artifact:payload_bin = b'ZXZpbA==' AND artifact:hashes.'SHA-256' = h'0a1B']",
        "[file:created > t'2026-01-01T00:00:00.123Z']",
        "((([file:name = 'a']) OR [file:name = 'b']) AND [file:name = 'c'])",
        "[process:name = 'x'] START t'2026-01-01T00:00:00Z' STOP t'2026-01-02T00:00:00Z'",
        "[network-traffic:dst_port NOT IN ()]",
        /* The grammar skips comments and Unicode white space, and takes 0 in qualifiers. */
        "[file:name = 'a'] /* a comment */ AND // to the end of the line\n[file:name = 'b']",
        "[file:size\xc2\xa0=\xe3\x80\x80" "1]",
        "[file:name = 'a'] WITHIN 0 SECONDS",
        "[file:name = 'a'] REPEATS 0 TIMES",
    };
    static const char *const invalid[] = {
        "[]",
        "[hello world]",
        "[ipv4-addr:value = 1.2.3.4]",
        "[ipv4-addr:value = '1.2.3.4'] garbage",
        "[ipv4-addr:value = '1.2.3.4' OR]",
        "[ipv4-addr:value === '1.2.3.4']",
        "[ipv4-addr:value = '1.2.3.4'",
        "[file:name = 'a'] WITHIN -1 SECONDS",
        "[file:name = 'a'] WITHIN 5",
        "[file:name = 'a'] REPEATS -2 TIMES",
        "[file:name = 'a'] /* never closed",
        "[artifact:payload_bin = b'']",
        "[file:name = 'a'] START t'2026-13-01T00:00:00Z' STOP t'2026-01-02T00:00:00Z'",
        "[file:created > t'2026-01-01']",
        "[artifact:payload_bin = b'ZXZpbA=']",
        "[artifact:hashes.MD5 = h'abc']",
        "[file:size = 007]",
        "[file:name LIKE 5]",
        "[network-traffic:dst_port IN (80 443)]",
        "[file:name = 'a'] [file:name = 'b']",
        "[file-name = 'a']",
        "[file:name = 'a'] AND",
        "[file:AND = 'a']",
    };
    char deep[400];
    size_t k = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        expect_pattern(valid[i], KW_OBS_STIX_PATTERN, valid[i]);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        expect_pattern_invalid(invalid[i]);
    }
    /* Nesting is bounded: 65 levels of '(' are refused, 60 are fine. */
    for (int d = 0; d < 65; d++) {
        deep[k++] = '(';
    }
    memcpy(deep + k, "[file:name = 'a']", 17);
    k += 17;
    for (int d = 0; d < 65; d++) {
        deep[k++] = ')';
    }
    deep[k] = '\0';
    expect_pattern_invalid(deep);
    memmove(deep, deep + 5, k - 5);
    deep[k - 10] = '\0';
    expect_pattern(deep, KW_OBS_STIX_PATTERN, deep);
}

/* Unicode white space (the grammar's WS) is skipped around a pattern and between the tokens of
 * a simple comparison, as ASCII white space is. */
static void test_pattern_unicode_space(void **state)
{
    (void)state;
    expect_pattern("\xc2\xa0[ipv4-addr:value = '10.0.0.1']", KW_OBS_IPV4, "10.0.0.1");
    expect_pattern("[ipv4-addr:value = '10.0.0.2']\xe3\x80\x80\xe2\x80\xa8", KW_OBS_IPV4,
        "10.0.0.2");
    expect_pattern("[\xe2\x80\x8aipv4-addr:value\xc2\xa0=\xe3\x80\x80'10.0.0.3'\xc2\x85]",
        KW_OBS_IPV4, "10.0.0.3");
    expect_pattern("\xc2\xa0[file:size > 1]\xc2\xa0", KW_OBS_STIX_PATTERN, "[file:size > 1]");
    /* A lone lead byte is not white space. */
    expect_pattern_invalid("\xc2\xa0\xc2\xa0");
    expect_pattern_invalid("\xc2[ipv4-addr:value = '10.0.0.4']");
}

static void test_pattern_build(void **state)
{
    char buf[2 * KW_VALUE_MAX + 64];

    (void)state;
    assert_int_equal(kw_stix_pattern_build(buf, sizeof(buf), KW_OBS_IPV4, "10.0.0.1"), KW_ERR_OK);
    assert_string_equal(buf, "[ipv4-addr:value = '10.0.0.1']");
    assert_int_equal(
        kw_stix_pattern_build(buf, sizeof(buf), KW_OBS_CIDR, "2001:db8::/32"), KW_ERR_OK);
    assert_string_equal(buf, "[ipv6-addr:value = '2001:db8::/32']");
    assert_int_equal(kw_stix_pattern_build(buf, sizeof(buf), KW_OBS_CIDR, "10.0.0.0/8"), KW_ERR_OK);
    assert_string_equal(buf, "[ipv4-addr:value = '10.0.0.0/8']");
    assert_int_equal(
        kw_stix_pattern_build(buf, sizeof(buf), KW_OBS_FILENAME, "it's\\x"), KW_ERR_OK);
    assert_string_equal(buf, "[file:name = 'it\\'s\\\\x']");
    assert_int_equal(kw_stix_pattern_build(buf, sizeof(buf), KW_OBS_SHA1, "aa"), KW_ERR_OK);
    assert_string_equal(buf, "[file:hashes.'SHA-1' = 'aa']");
    assert_int_equal(kw_stix_pattern_build(buf, 10, KW_OBS_URL, "http://x"), KW_ERR_TOOBIG);
    assert_int_equal(kw_stix_pattern_build(buf, sizeof(buf), KW_OBS_NONE, "x"), KW_ERR_INVAL);
}

/* ---- TLP --------------------------------------------------------------------------------- */

static void test_tlp_ids(void **state)
{
    kw_tlp t;

    (void)state;
    for (int i = 0; i <= KW_TLP_MAX; i++) {
        assert_int_equal(
            kw_stix_tlp_from_marking_id(kw_stix_tlp_marking_id((kw_tlp)i), &t), KW_ERR_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(
        kw_stix_tlp_from_marking_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", &t),
        KW_ERR_OK);
    assert_int_equal(t, KW_TLP_CLEAR);
    assert_int_equal(
        kw_stix_tlp_from_marking_id("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", &t),
        KW_ERR_OK);
    assert_int_equal(t, KW_TLP_RED);
    assert_int_equal(
        kw_stix_tlp_from_marking_id("marking-definition--826578e1-40ad-459f-bc73-ede076f81f37", &t),
        KW_ERR_OK);
    assert_int_equal(t, KW_TLP_AMBER_STRICT);
    /* A look-alike id that circulates in third-party code must not match. */
    assert_int_equal(
        kw_stix_tlp_from_marking_id("marking-definition--939a9414-2ddd-4d32-a254-099d340a1628", &t),
        KW_ERR_NOTFOUND);
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
static void test_tlp_markings(void **state)
{
    collect c;
    kw_import_report rep;
    const char *doc
        = "{`type`:`bundle`,`id`:`bundle--11111111-1111-4111-8111-111111111111`,`objects`:["
          /* A TLP 1.0 style definition under a private id. */
          "{`type`:`marking-definition`,`spec_version`:`2.1`,"
          "`id`:`marking-definition--22222222-2222-4222-8222-222222222222`,"
          "`created`:`2017-01-20T00:00:00.000Z`,`definition_type`:`tlp`,"
          "`definition`:{`tlp`:`red`}},"
          /* A TLP 2.0 extension under a private id. */
          "{`type`:`marking-definition`,`spec_version`:`2.1`,"
          "`id`:`marking-definition--33333333-3333-4333-8333-333333333333`,"
          "`created`:`2022-10-01T00:00:00.000Z`,`name`:`whatever`,`extensions`:{"
          "`extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`:"
          "{`extension_type`:`property-extension`,`tlp_2_0`:`amber+strict`}}},"
          /* Only a name. */
          "{`type`:`marking-definition`,`spec_version`:`2.1`,"
          "`id`:`marking-definition--44444444-4444-4444-8444-444444444444`,"
          "`created`:`2022-10-01T00:00:00.000Z`,`name`:`TLP:GREEN`,"
          "`definition_type`:`statement`,`definition`:{`statement`:`x`}},"
          /* A statement that is no TLP. */
          "{`type`:`marking-definition`,`spec_version`:`2.1`,"
          "`id`:`marking-definition--55555555-5555-4555-8555-555555555555`,"
          "`created`:`2022-10-01T00:00:00.000Z`,"
          "`definition_type`:`statement`,`definition`:{`statement`:`TLP:RED in text`}},"
        IND_HEAD("00000000-0000-4000-8000-000000000001")
          "`pattern`:`[ipv4-addr:value = '10.0.0.1']`,`object_marking_refs`:["
          "`marking-definition--22222222-2222-4222-8222-222222222222`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000002")
          "`pattern`:`[ipv4-addr:value = '10.0.0.2']`,`object_marking_refs`:["
          "`marking-definition--33333333-3333-4333-8333-333333333333`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000003")
          "`pattern`:`[ipv4-addr:value = '10.0.0.3']`,`object_marking_refs`:["
          "`marking-definition--44444444-4444-4444-8444-444444444444`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000004")
          "`pattern`:`[ipv4-addr:value = '10.0.0.4']`,`object_marking_refs`:["
          "`marking-definition--55555555-5555-4555-8555-555555555555`]},"
          /* Several: the most restrictive wins. */
        IND_HEAD("00000000-0000-4000-8000-000000000005")
          "`pattern`:`[ipv4-addr:value = '10.0.0.5']`,`object_marking_refs`:["
          "`marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487`,"
          "`marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421`,"
          "`marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da`]},"
          /* Unmarked, and marked with an unknown id: the default. */
        IND_HEAD("00000000-0000-4000-8000-000000000006")
          "`pattern`:`[ipv4-addr:value = '10.0.0.6']`},"
        IND_HEAD("00000000-0000-4000-8000-000000000007")
          "`pattern`:`[ipv4-addr:value = '10.0.0.7']`,`object_marking_refs`:["
          "`marking-definition--939a9414-2ddd-4d32-a254-099d340a1628`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000008")
          "`pattern`:`[ipv4-addr:value = '10.0.0.8']`,`object_marking_refs`:["
          "`marking-definition--826578e1-40ad-459f-bc73-ede076f81f37`]}"
          "]}";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 8);
    assert_int_equal(rep.objects, 12);
    assert_int_equal(rep.non_indicators, 4);
    assert_int_equal(c.tlps[0], KW_TLP_RED);
    assert_int_equal(c.tlps[1], KW_TLP_AMBER_STRICT);
    assert_int_equal(c.tlps[2], KW_TLP_GREEN);
    assert_int_equal(c.tlps[3], KW_TLP_GREEN); /* statement only: default */
    assert_int_equal(c.tlps[4], KW_TLP_AMBER);
    assert_int_equal(c.tlps[5], KW_TLP_GREEN);
    assert_int_equal(c.tlps[6], KW_TLP_GREEN);
    assert_int_equal(c.tlps[7], KW_TLP_AMBER_STRICT);
    assert_int_equal(rep.by_tlp[KW_TLP_GREEN], 4);
    /* Only the made-up AMBER+STRICT id names nothing kawan knows; the statement is defined. */
    assert_int_equal(rep.unknown_markings, 1);
    assert_string_equal(
        rep.unknown_marking, "marking-definition--939a9414-2ddd-4d32-a254-099d340a1628");
    collect_done(&c);

    /* A different default shows which ones were defaulted. */
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_RED, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.tlps[2], KW_TLP_GREEN);
    assert_int_equal(c.tlps[3], KW_TLP_RED);
    assert_int_equal(c.tlps[5], KW_TLP_RED);
    assert_int_equal(c.tlps[6], KW_TLP_RED);
    collect_done(&c);
}

/* clang-format on */

/* ---- import: fields, shapes, errors ------------------------------------------------------ */

/* The inline JSON below is laid out by hand. */
/* clang-format off */
/* Nothing may come out less restricted than its source marked it. */
static void test_tlp_never_laxer(void **state)
{
    collect c;
    kw_import_report rep;
    const char *doc
        = "{`type`:`bundle`,`id`:`bundle--11111111-1111-4111-8111-111111111111`,`objects`:["
          /* A definition that contradicts itself: the most restrictive level it states. */
          "{`type`:`marking-definition`,`spec_version`:`2.1`,"
          "`id`:`marking-definition--66666666-6666-4666-8666-666666666666`,"
          "`created`:`2017-01-20T00:00:00.000Z`,`name`:`TLP:RED`,`definition_type`:`tlp`,"
          "`definition`:{`tlp`:`white`}},"
          /* A TLP id in upper case is the same id. */
        IND_HEAD("00000000-0000-4000-8000-000000000011")
          "`pattern`:`[ipv4-addr:value = '10.0.1.1']`,`object_marking_refs`:["
          "`marking-definition--E828B379-4E03-4974-9AC4-E53A884C97C1`]},"
          /* A granular marking counts, whatever its selectors. */
        IND_HEAD("00000000-0000-4000-8000-000000000012")
          "`pattern`:`[ipv4-addr:value = '10.0.1.2']`,`object_marking_refs`:["
          "`marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487`],`granular_markings`:["
          "{`lang`:`en`,`selectors`:[`name`]},"
          "{`marking_ref`:`marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421`,"
          "`selectors`:[`description`]}],`description`:`AMBER part`},"
        IND_HEAD("00000000-0000-4000-8000-000000000013")
          "`pattern`:`[ipv4-addr:value = '10.0.1.3']`,`object_marking_refs`:["
          "`marking-definition--66666666-6666-4666-8666-666666666666`]}"
          "]}";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_CLEAR, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.tlps[0], KW_TLP_RED);
    assert_int_equal(c.tlps[1], KW_TLP_AMBER);
    assert_int_equal(c.tlps[2], KW_TLP_RED);
    assert_int_equal(rep.unknown_markings, 0);
    collect_done(&c);
    /* A malformed granular marking is an error, like a malformed object_marking_refs. */
    collect_init(&c);
    assert_int_equal(import_text("[" IND_HEAD("00000000-0000-4000-8000-000000000014")
                                 "`pattern`:`[ipv4-addr:value = '10.0.1.4']`,"
                                 "`granular_markings`:[{`marking_ref`:7}]}]",
                         KW_TLP_CLEAR, false, &c, &rep),
        KW_ERR_INVAL);
    assert_non_null(strstr(rep.first_error, "granular_markings[0].marking_ref is not a string"));
    collect_done(&c);
}

/* What kw_stix_import_marks hands over, besides the indicators. */
typedef struct marks_seen {
    collect c;
    kw_stix_marks m[16];
} marks_seen;

static kw_err marks_sink(void *ctx, const kw_indicator *ind, kw_tlp tlp, const kw_stix_marks *m)
{
    marks_seen *s = ctx;

    if (s->c.calls < 16) {
        s->m[s->c.calls] = *m;
    }
    return collect_sink(&s->c, ind, tlp);
}

static kw_err import_marks(const char *tmpl, kw_tlp def, marks_seen *s, kw_import_report *rep)
{
    char *doc = jq(tmpl);
    kw_err rc = kw_stix_import_marks(doc, strlen(doc), "t.json", def, false, marks_sink, s, rep);
    free(doc);
    return rc;
}

/* A report, grouping or other object with object_refs passes its marking on to the indicators
 * it lists (misp-stix marks only the report): never below it, resolved like any marking. */
static void test_container_markings(void **state)
{
    marks_seen s;
    kw_import_report rep;
    const char *doc
        = "{`type`:`bundle`,`id`:`bundle--11111111-1111-4111-8111-111111111111`,`objects`:["
          "{`type`:`marking-definition`,`spec_version`:`2.1`,"
          "`id`:`marking-definition--77777777-7777-4777-8777-777777777777`,"
          "`created`:`2017-01-20T00:00:00.000Z`,`definition_type`:`tlp`,"
          "`definition`:{`tlp`:`red`}},"
          /* AMBER by its TLP 1.0 id, in upper case. */
          "{`type`:`report`,`id`:`report--00000000-0000-4000-8000-0000000000a1`,"
          "`object_marking_refs`:[`marking-definition--F88D31F6-486F-44DA-B317-01333BDE0B82`],"
          "`object_refs`:[`indicator--00000000-0000-4000-8000-000000000041`,"
          "`grouping--00000000-0000-4000-8000-0000000000a2`,"
          "`indicator--00000000-0000-4000-8000-000000000043`]},"
          /* A grouping the report lists: GREEN itself, AMBER from the report. */
          "{`type`:`grouping`,`id`:`grouping--00000000-0000-4000-8000-0000000000a2`,"
          "`object_marking_refs`:[`marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb`],"
          "`object_refs`:[`INDICATOR--00000000-0000-4000-8000-000000000042`]},"
          /* A note marked by an in-bundle definition (RED). */
          "{`type`:`note`,`id`:`note--00000000-0000-4000-8000-0000000000a3`,"
          "`content`:`x`,`granular_markings`:[{`marking_ref`:"
          "`marking-definition--77777777-7777-4777-8777-777777777777`,`selectors`:[`content`]}],"
          "`object_refs`:[`indicator--00000000-0000-4000-8000-000000000044`]},"
          /* An opinion whose marking is not in the input. */
          "{`type`:`opinion`,`id`:`opinion--00000000-0000-4000-8000-0000000000a4`,"
          "`opinion`:`agree`,`object_marking_refs`:["
          "`marking-definition--88888888-8888-4888-8888-888888888888`],"
          "`object_refs`:[`indicator--00000000-0000-4000-8000-000000000045`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000041")
          "`pattern`:`[ipv4-addr:value = '10.0.4.1']`},"
        IND_HEAD("00000000-0000-4000-8000-000000000042")
          "`pattern`:`[ipv4-addr:value = '10.0.4.2']`},"
          /* Its own RED stays: a container never lowers a level. */
        IND_HEAD("00000000-0000-4000-8000-000000000043")
          "`pattern`:`[ipv4-addr:value = '10.0.4.3']`,`object_marking_refs`:["
          "`marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000044")
          "`pattern`:`[ipv4-addr:value = '10.0.4.4']`},"
        IND_HEAD("00000000-0000-4000-8000-000000000045")
          "`pattern`:`[ipv4-addr:value = '10.0.4.5']`},"
        IND_HEAD("00000000-0000-4000-8000-000000000046")
          "`pattern`:`[ipv4-addr:value = '10.0.4.6']`}"
          "]}";

    (void)state;
    memset(&s, 0, sizeof(s));
    collect_init(&s.c);
    assert_int_equal(import_marks(doc, KW_TLP_CLEAR, &s, &rep), KW_ERR_OK);
    assert_int_equal(s.c.calls, 6);
    assert_int_equal(s.c.tlps[0], KW_TLP_AMBER);
    assert_true(s.m[0].by_container && !s.m[0].unresolved);
    assert_int_equal(s.c.tlps[1], KW_TLP_AMBER);
    assert_true(s.m[1].by_container);
    assert_int_equal(s.c.tlps[2], KW_TLP_RED);
    assert_false(s.m[2].by_container);
    assert_int_equal(s.c.tlps[3], KW_TLP_RED);
    assert_true(s.m[3].by_container);
    /* The opinion's marking does not resolve: the indicator takes the default, and says so. */
    assert_int_equal(s.c.tlps[4], KW_TLP_CLEAR);
    assert_true(s.m[4].unresolved && !s.m[4].by_container);
    assert_int_equal(s.c.tlps[5], KW_TLP_CLEAR);
    assert_false(s.m[5].unresolved || s.m[5].by_container);
    assert_int_equal(rep.unknown_markings, 1);
    assert_string_equal(
        rep.unknown_marking, "marking-definition--88888888-8888-4888-8888-888888888888");
    assert_int_equal(rep.by_tlp[KW_TLP_AMBER], 2);
    assert_int_equal(rep.by_tlp[KW_TLP_RED], 2);
    collect_done(&s.c);

    /* A container marked laxer than the default does not lower it; the plain sink sees the
     * same levels. */
    collect c;
    collect_init(&c);
    assert_int_equal(
        import_text("[{`type`:`report`,`id`:`report--00000000-0000-4000-8000-0000000000b1`,"
                    "`object_marking_refs`:["
                    "`marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487`],"
                    "`object_refs`:[`indicator--00000000-0000-4000-8000-000000000047`]},"
                    "{`type`:`report`,`id`:`report--00000000-0000-4000-8000-0000000000b2`,"
                    "`object_marking_refs`:["
                    "`marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1`],"
                    "`object_refs`:[`indicator--00000000-0000-4000-8000-000000000048`]},"
            IND_HEAD("00000000-0000-4000-8000-000000000047")
                    "`pattern`:`[ipv4-addr:value = '10.0.4.7']`},"
            IND_HEAD("00000000-0000-4000-8000-000000000048")
                    "`pattern`:`[ipv4-addr:value = '10.0.4.8']`}]",
            KW_TLP_AMBER, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.tlps[0], KW_TLP_AMBER);
    assert_int_equal(c.tlps[1], KW_TLP_RED);
    collect_done(&c);

    /* Two versions: the newer one is listed by an AMBER report, the older one is marked GREEN;
     * keep_newest compares the raised level. */
    memset(&s, 0, sizeof(s));
    collect_init(&s.c);
    assert_int_equal(
        import_marks("[{`type`:`grouping`,`id`:`grouping--00000000-0000-4000-8000-0000000000c1`,"
                     "`object_marking_refs`:["
                     "`marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421`],"
                     "`object_refs`:[`indicator--00000000-0000-4000-8000-000000000049`]},"
            IND_HEAD("00000000-0000-4000-8000-000000000049")
                     "`pattern`:`[ipv4-addr:value = '10.0.4.9']`},"
            IND_HEAD("00000000-0000-4000-8000-000000000049")
                     "`pattern`:`[ipv4-addr:value = '10.0.4.10']`,`object_marking_refs`:["
                     "`marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb`]}]",
            KW_TLP_CLEAR, &s, &rep),
        KW_ERR_OK);
    assert_int_equal(s.c.calls, 1);
    assert_int_equal(s.c.tlps[0], KW_TLP_AMBER);
    assert_string_equal(s.c.b->items[0].value, "10.0.4.9");
    collect_done(&s.c);
}

/* Containers nested thousands deep, listed so that each hands its marking down one level per
 * pass of the array (the outermost, marked RED, comes last): the indicator at the bottom is
 * RED, and an unresolved marking at the top of another chain reaches its indicator too. */
static void test_container_chain(void **state)
{
    enum { DEPTH = 3000 };
    marks_seen s;
    kw_import_report rep;
    kw_buf b = { 0 };
    char one[512];

    (void)state;
    assert_int_equal(kw_buf_write(&b, "[", 1), KW_ERR_OK);
    for (int chain = 0; chain < 2; chain++) {
        for (int i = 0; i < DEPTH; i++) {
            char ref[80];
            if (i == 0) {
                snprintf(ref, sizeof(ref), "indicator--00000000-0000-4000-8000-0000000000%s",
                    chain == 0 ? "d1" : "d2");
            } else {
                snprintf(ref, sizeof(ref), "grouping--%08x-0000-4000-8000-%012x", i - 1, chain);
            }
            const char *mark = i < DEPTH - 1 ? ""
                : chain == 0 ? ",`object_marking_refs`:["
                               "`marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1`]"
                             : ",`object_marking_refs`:["
                               "`marking-definition--99999999-9999-4999-8999-999999999999`]";
            int n = snprintf(one, sizeof(one),
                "{`type`:`grouping`,`id`:`grouping--%08x-0000-4000-8000-%012x`,"
                "`context`:`x`,`object_refs`:[`%s`]%s},",
                i, chain, ref, mark);
            assert_int_equal(kw_buf_write(&b, one, (size_t)n), KW_ERR_OK);
        }
    }
    const char *inds = IND_HEAD("00000000-0000-4000-8000-0000000000d1")
        "`pattern`:`[ipv4-addr:value = '10.0.6.1']`},"
        IND_HEAD("00000000-0000-4000-8000-0000000000d2")
        "`pattern`:`[ipv4-addr:value = '10.0.6.2']`}]";
    assert_int_equal(kw_buf_write(&b, inds, strlen(inds) + 1), KW_ERR_OK);
    memset(&s, 0, sizeof(s));
    collect_init(&s.c);
    assert_int_equal(import_marks((const char *)b.p, KW_TLP_CLEAR, &s, &rep), KW_ERR_OK);
    assert_int_equal(s.c.calls, 2);
    assert_int_equal(s.c.tlps[0], KW_TLP_RED);
    assert_true(s.m[0].by_container);
    assert_int_equal(s.c.tlps[1], KW_TLP_CLEAR);
    assert_true(s.m[1].unresolved);
    collect_done(&s.c);
    kw_buf_free(&b);

    /* Two versions of one report (GREEN, then AMBER) listing one indicator each, and a
     * grouping that lists itself and the report: each indicator gets the stricter AMBER, and
     * the cycle ends. */
    memset(&s, 0, sizeof(s));
    collect_init(&s.c);
    assert_int_equal(
        import_marks("[{`type`:`report`,`id`:`report--00000000-0000-4000-8000-0000000000e1`,"
                     "`modified`:`2026-01-01T00:00:00Z`,`object_marking_refs`:["
                     "`marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb`],"
                     "`object_refs`:[`indicator--00000000-0000-4000-8000-0000000000e3`]},"
                     "{`type`:`report`,`id`:`REPORT--00000000-0000-4000-8000-0000000000E1`,"
                     "`modified`:`2026-02-01T00:00:00Z`,`object_marking_refs`:["
                     "`marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421`],"
                     "`object_refs`:[`indicator--00000000-0000-4000-8000-0000000000e4`]},"
                     "{`type`:`grouping`,`id`:`grouping--00000000-0000-4000-8000-0000000000e2`,"
                     "`context`:`x`,`object_refs`:["
                     "`grouping--00000000-0000-4000-8000-0000000000e2`,"
                     "`report--00000000-0000-4000-8000-0000000000e1`]},"
            IND_HEAD("00000000-0000-4000-8000-0000000000e3")
                     "`pattern`:`[ipv4-addr:value = '10.0.6.3']`},"
            IND_HEAD("00000000-0000-4000-8000-0000000000e4")
                     "`pattern`:`[ipv4-addr:value = '10.0.6.4']`}]",
            KW_TLP_CLEAR, &s, &rep),
        KW_ERR_OK);
    assert_int_equal(s.c.calls, 2);
    assert_int_equal(s.c.tlps[0], KW_TLP_AMBER);
    assert_int_equal(s.c.tlps[1], KW_TLP_AMBER);
    collect_done(&s.c);
}

/* TAXII 2.1 envelopes, an empty page among them; an array that wraps a bundle; documents that
 * are not STIX are refused with a message that says what they are. */
static void test_import_envelopes(void **state)
{
    collect c;
    kw_import_report rep;
    char deep[1024];
    size_t k = 0;

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text("{`more`:false}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.objects, 0);
    assert_int_equal(rep.invalid, 0);
    assert_int_equal(import_text("{`more`:true,`next`:`2`,`objects`:["
                                 IND_HEAD("00000000-0000-4000-8000-000000000051")
                                 "`pattern`:`[ipv4-addr:value = '10.0.5.1']`}]}",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(import_text("{`more`:false,`objects`:7}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "objects is not a list"));
    /* The same after objects were read: nothing of them is kept (the sanitizer build would
     * see a leak). */
    assert_int_equal(import_text("[" IND_HEAD("00000000-0000-4000-8000-000000000059")
                                 "`pattern`:`[ipv4-addr:value = '10.0.5.9']`},"
                                 "{`type`:`bundle`,`objects`:5}]",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "objects is not a list"));
    assert_int_equal(import_text("{}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_string_equal(rep.first_error,
        "t.json: an empty JSON object, not a STIX bundle, TAXII envelope or object");
    assert_int_equal(import_text("{`id`:`x`}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "a JSON object without type or objects"));

    /* An array that wraps a bundle, next to a loose object; a 2.0 bundle inside keeps its
     * spec_version. */
    assert_int_equal(import_text("[{`type`:`bundle`,`id`:`bundle--11111111-1111-4111-8111-"
                                 "111111111111`,`objects`:["
                                 IND_HEAD("00000000-0000-4000-8000-000000000052")
                                 "`pattern`:`[ipv4-addr:value = '10.0.5.2']`}]},"
                                 "{`type`:`bundle`,`spec_version`:`2.0`,`objects`:["
                                 "{`type`:`indicator`,"
                                 "`id`:`indicator--00000000-0000-4000-8000-000000000053`,"
                                 "`created`:`2017-01-01T00:00:00Z`,"
                                 "`modified`:`2017-01-01T00:00:00Z`,"
                                 "`valid_from`:`2017-01-01T00:00:00Z`,`pattern_type`:`stix`,"
                                 "`pattern`:`[ipv4-addr:value = '10.0.5.3']`}]},"
                                 "{`type`:`malware`,`id`:`malware--00000000-0000-4000-8000-"
                                 "000000000054`}]",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.b->items[1].value, "10.0.5.2");
    assert_int_equal(rep.objects, 3);
    assert_int_equal(rep.indicators, 1);
    assert_int_equal(rep.unsupported, 1);
    assert_int_equal(rep.non_indicators, 1);
    assert_int_equal(import_text("[{`type`:`bundle`,`objects`:{}}]", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "not a list"));
    /* Bundles nested without end are refused. */
    for (int d = 0; d < 12; d++) {
        k += (size_t)snprintf(deep + k, sizeof(deep) - k, "[{`type`:`bundle`,`objects`:");
    }
    k += (size_t)snprintf(deep + k, sizeof(deep) - k, "[]");
    for (int d = 0; d < 12; d++) {
        k += (size_t)snprintf(deep + k, sizeof(deep) - k, "}]");
    }
    assert_int_equal(import_text(deep, KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "bundles nested more than"));
    collect_done(&c);
}

/* Several versions of one id in the input: only the newest goes to the sink; for one
 * version given twice, the copy marked most restrictively. */
static void test_versions_in_input(void **state)
{
    collect c;
    kw_import_report rep;
    const char *doc
        = "[{`type`:`indicator`,`spec_version`:`2.1`,"
          "`id`:`indicator--00000000-0000-4000-8000-000000000021`,"
          "`created`:`2024-01-01T00:00:00Z`,`modified`:`2024-06-01T00:00:00Z`,"
          "`valid_from`:`2024-01-01T00:00:00Z`,`pattern_type`:`stix`,"
          "`pattern`:`[domain-name:value = 'new.example']`,`object_marking_refs`:["
          "`marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1`]},"
          "{`type`:`indicator`,`spec_version`:`2.1`,"
          "`id`:`indicator--00000000-0000-4000-8000-000000000021`,"
          "`created`:`2024-01-01T00:00:00Z`,`modified`:`2024-01-01T00:00:00Z`,"
          "`valid_from`:`2024-01-01T00:00:00Z`,`pattern_type`:`stix`,"
          "`pattern`:`[domain-name:value = 'old.example']`,`object_marking_refs`:["
          "`marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000022")
          "`pattern`:`[domain-name:value = 'same-clear.example']`,`object_marking_refs`:["
          "`marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487`]},"
        IND_HEAD("00000000-0000-4000-8000-000000000022")
          "`pattern`:`[domain-name:value = 'same-amber.example']`,`object_marking_refs`:["
          "`marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421`]}]";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.superseded, 2);
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(rep.typed, 2);
    assert_int_equal(rep.by_tlp[KW_TLP_CLEAR], 0);
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.b->items[0].value, "new.example");
    assert_int_equal(c.tlps[0], KW_TLP_RED);
    assert_string_equal(c.b->items[1].value, "same-amber.example");
    assert_int_equal(c.tlps[1], KW_TLP_AMBER);
    collect_done(&c);

    /* The newest version is not one kawan can take (a Sigma rule): the older one, CLEAR, must
     * not stand in for it. */
    collect_init(&c);
    assert_int_equal(
        import_text("[{`type`:`indicator`,`spec_version`:`2.1`,"
                    "`id`:`indicator--00000000-0000-4000-8000-000000000023`,"
                    "`created`:`2024-01-01T00:00:00Z`,`modified`:`2024-01-01T00:00:00Z`,"
                    "`valid_from`:`2024-01-01T00:00:00Z`,`pattern_type`:`stix`,"
                    "`pattern`:`[domain-name:value = 'old-clear.example']`},"
                    "{`type`:`indicator`,`spec_version`:`2.1`,"
                    "`id`:`indicator--00000000-0000-4000-8000-000000000023`,"
                    "`created`:`2024-01-01T00:00:00Z`,`modified`:`2024-06-01T00:00:00Z`,"
                    "`valid_from`:`2024-01-01T00:00:00Z`,`pattern_type`:`sigma`,"
                    "`pattern`:`title: x`,`object_marking_refs`:["
                    "`marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1`]}]",
            KW_TLP_CLEAR, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.unsupported, 1);
    assert_int_equal(rep.superseded, 1);
    assert_int_equal(rep.indicators, 0);
    assert_int_equal(c.calls, 0);
    collect_done(&c);
}

/* STIX 2.0 content is unsupported, not invalid; bundles without "type", and a UTF-8 byte
 * order mark, are read. */
static void test_import_variants(void **state)
{
    collect c;
    kw_import_report rep;
    char name[1200];

    (void)state;
    collect_init(&c);
    assert_int_equal(
        import_text("{`type`:`bundle`,`id`:`bundle--11111111-1111-4111-8111-111111111111`,"
                    "`spec_version`:`2.0`,`objects`:[{`type`:`indicator`,"
                    "`id`:`indicator--00000000-0000-4000-8000-000000000031`,"
                    "`created`:`2017-01-01T00:00:00Z`,`modified`:`2017-01-01T00:00:00Z`,"
                    "`valid_from`:`2017-01-01T00:00:00Z`,`labels`:[`malicious-activity`],"
                    "`pattern`:`[ipv4-addr:value = '10.0.2.1']`}]}",
            KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.unsupported, 1);
    assert_int_equal(rep.invalid, 0);
    assert_non_null(strstr(rep.issues[0].text, "is STIX 2.0"));
    /* Counted by a type name that says so (the summary shows only the counts). */
    assert_int_equal(rep.n_types, 1);
    assert_string_equal(rep.types[0].type, "STIX 2.0");
    /* spec_version 2.0 on the object itself, and another version. */
    assert_int_equal(import_text("[{`type`:`indicator`,`spec_version`:`2.0`,"
                                 "`id`:`indicator--00000000-0000-4000-8000-000000000036`,"
                                 "`created`:`2017-01-01T00:00:00Z`,"
                                 "`modified`:`2017-01-01T00:00:00Z`,"
                                 "`valid_from`:`2017-01-01T00:00:00Z`,`pattern_type`:`stix`,"
                                 "`pattern`:`[ipv4-addr:value = '10.0.2.6']`},"
                                 "{`type`:`indicator`,`spec_version`:`2.2`,"
                                 "`id`:`indicator--00000000-0000-4000-8000-000000000037`,"
                                 "`created`:`2017-01-01T00:00:00Z`,"
                                 "`modified`:`2017-01-01T00:00:00Z`,"
                                 "`valid_from`:`2017-01-01T00:00:00Z`,`pattern_type`:`stix`,"
                                 "`pattern`:`[ipv4-addr:value = '10.0.2.7']`}]",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.unsupported, 2);
    assert_non_null(strstr(rep.issues[0].text, "is STIX 2.0"));
    assert_int_equal(rep.n_types, 2);
    assert_string_equal(rep.types[0].type, "STIX 2.0");
    assert_string_equal(rep.types[1].type, "spec_version 2.2");
    /* Without spec_version and pattern_type, outside a 2.0 bundle: 2.0 too. */
    assert_int_equal(import_text("[{`type`:`indicator`,"
                                 "`id`:`indicator--00000000-0000-4000-8000-000000000032`,"
                                 "`created`:`2017-01-01T00:00:00Z`,"
                                 "`modified`:`2017-01-01T00:00:00Z`,"
                                 "`valid_from`:`2017-01-01T00:00:00Z`,"
                                 "`pattern`:`[ipv4-addr:value = '10.0.2.2']`}]",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.unsupported, 1);
    assert_int_equal(c.calls, 0);
    /* No "type" on the bundle. */
    assert_int_equal(import_text("{`id`:`bundle--11111111-1111-4111-8111-111111111111`,"
                                 "`objects`:[" IND_HEAD("00000000-0000-4000-8000-000000000033")
                                 "`pattern`:`[ipv4-addr:value = '10.0.2.3']`}]}",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    /* A byte order mark. */
    const char *bom = "\xef\xbb\xbf[{\"type\":\"identity\"}]";
    assert_int_equal(kw_stix_import(bom, strlen(bom), "b.json", KW_TLP_GREEN, false,
                         collect_sink, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.non_indicators, 1);
    /* A name that only repeats a long value (as kawan's export writes it) is dropped, not
     * refused for its length; another name that long is refused. */
    char *doc = malloc(4096);
    assert_non_null(doc);
    memset(name, 'a', 1100);
    name[1100] = '\0';
    snprintf(doc, 4096,
        "[" IND_HEAD("00000000-0000-4000-8000-000000000034")
        "`pattern`:`[url:value = 'http://long.example/%s']`,`name`:`http://long.example/%s`}]",
        name, name);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    assert_null(c.b->items[1].name);
    snprintf(doc, 4096,
        "[" IND_HEAD("00000000-0000-4000-8000-000000000035")
        "`pattern`:`[url:value = 'http://long.example/b']`,`name`:`%s`}]", name);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_non_null(strstr(rep.first_error, "name is longer than 1024 bytes"));
    free(doc);
    collect_done(&c);
}

static void test_import_fields(void **state)
{
    collect c;
    kw_import_report rep;
    kw_indicator *ind;
    int64_t t;
    uint8_t uuid[16];
    const char *doc = IND_HEAD("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        "`pattern`:`[url:value = 'http://example.com/x']`,`name`:`Bad URL`,"
        "`description`:`Seen in a phish`,`confidence`:85,`revoked`:true,"
        "`valid_until`:`2027-01-01T00:00:00.000Z`,`labels`:[`phish`,`crime`],"
        "`indicator_types`:[`malicious-activity`],"
        "`kill_chain_phases`:[{`kill_chain_name`:`lockheed-martin-cyber-kill-chain`,"
        "`phase_name`:`delivery`}]}";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_CLEAR, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.b->n, 1);
    ind = &c.b->items[0];
    assert_int_equal(kw_indicator_id_parse("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", uuid),
        KW_ERR_OK);
    assert_memory_equal(ind->id, uuid, 16);
    assert_int_equal(ind->type, KW_OBS_URL);
    assert_string_equal(ind->value, "http://example.com/x");
    assert_int_equal(kw_time_parse("2026-01-02T03:04:05.678Z", &t), KW_ERR_OK);
    assert_true(ind->created == t && ind->modified == t);
    assert_int_equal(kw_time_parse("2026-01-02T00:00:00Z", &t), KW_ERR_OK);
    assert_true(ind->valid_from == t);
    assert_int_equal(kw_time_parse("2027-01-01T00:00:00Z", &t), KW_ERR_OK);
    assert_true(ind->valid_until == t);
    assert_int_equal(ind->confidence, 85);
    assert_true(ind->revoked);
    assert_string_equal(ind->name, "Bad URL");
    assert_string_equal(ind->description, "Seen in a phish");
    assert_int_equal(ind->n_labels, 2);
    assert_string_equal(ind->labels[1], "crime");
    assert_int_equal(ind->n_indicator_types, 1);
    assert_string_equal(ind->indicator_types[0], "malicious-activity");
    assert_int_equal(ind->n_kill_chain_phases, 1);
    assert_string_equal(ind->kill_chain_phases[0].phase_name, "delivery");
    assert_int_equal(rep.typed, 1);
    assert_int_equal(rep.raw, 0);
    collect_done(&c);
}

static void test_import_shapes(void **state)
{
    collect c;
    kw_import_report rep;

    (void)state;
    /* A single object. */
    collect_init(&c);
    assert_int_equal(import_text(IND_HEAD("00000000-0000-4000-8000-000000000001")
                                     "`pattern`:`[domain-name:value = 'example.org']`}",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(rep.objects, 1);
    collect_done(&c);
    /* A list of objects. */
    collect_init(&c);
    assert_int_equal(import_text("[" IND_HEAD("00000000-0000-4000-8000-000000000001")
                                 "`pattern`:`[domain-name:value = 'example.org']`},"
                                 "{`type`:`malware`,`id`:`malware--00000000-0000-4000-8000-"
                                 "000000000002`}]",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(rep.objects, 2);
    assert_int_equal(rep.non_indicators, 1);
    collect_done(&c);
    /* An empty bundle, and one without objects. */
    collect_init(&c);
    assert_int_equal(import_text("{`type`:`bundle`,`id`:`bundle--00000000-0000-4000-8000-"
                                 "000000000001`,`objects`:[]}",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(import_text("{`type`:`bundle`,`id`:`bundle--00000000-0000-4000-8000-"
                                 "000000000001`}",
                         KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(c.calls, 0);
    /* Not STIX at all. */
    assert_int_equal(import_text("42", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_int_equal(import_text("{`type`:`bundle`,`objects`:{}}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "not a list"));
    collect_done(&c);
}

static void test_import_malformed(void **state)
{
    collect c;
    kw_import_report rep;
    const char *doc = "{\n  `type`: `bundle`,\n  `objects`: [\n    {`type`: `indicator`,,}\n  ]\n}";
    unsigned line = 0, col = 0;

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_int_equal(sscanf(rep.first_error, "t.json:%u:%u: ", &line, &col), 2);
    assert_int_equal(line, 4);
    assert_true(col > 0);
    assert_int_equal(c.calls, 0);
    /* Truncated input. */
    assert_int_equal(kw_stix_import("{\"type\":\"bun", 12, "cut.json", KW_TLP_GREEN, false,
                         collect_sink, &c, &rep),
        KW_ERR_DECODE);
    assert_int_equal(strncmp(rep.first_error, "cut.json:1:", 11), 0);
    /* Duplicate keys are refused. */
    assert_int_equal(import_text("{`type`:`bundle`,`type`:`x`}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    collect_done(&c);
}

/* Each invalid indicator is named with what is wrong with it. */
static void expect_invalid(const char *obj, const char *needle)
{
    collect c;
    kw_import_report rep;

    collect_init(&c);
    assert_int_equal(import_text(obj, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_int_equal(c.calls, 0);
    assert_int_equal(rep.invalid, 1);
    if (strstr(rep.first_error, needle) == NULL) {
        fail_msg("message '%s' lacks '%s'", rep.first_error, needle);
    }
    collect_done(&c);
}

static void test_import_invalid(void **state)
{
    (void)state;
    expect_invalid("{`type`:`indicator`,`spec_version`:`2.1`,"
                   "`id`:`indicator--00000000-0000-4000-8000-000000000009`,"
                   "`created`:`2026-01-02T03:04:05.678Z`,`modified`:`2026-01-02T03:04:05.678Z`,"
                   "`pattern`:`[ipv4-addr:value = '10.0.0.1']`,`pattern_type`:`stix`}",
        "indicator--00000000-0000-4000-8000-000000000009: valid_from is missing");
    expect_invalid("{`type`:`indicator`,`created`:`2026-01-02T03:04:05.678Z`}",
        "id is missing");
    expect_invalid(IND_HEAD("not-a-uuid") "`pattern`:`[ipv4-addr:value = '10.0.0.1']`}",
        "id is not indicator--<uuid>");
    expect_invalid("{`type`:`indicator`,`id`:`malware--00000000-0000-4000-8000-000000000009`,"
                   "`created`:`2026-01-02T03:04:05.678Z`}",
        "id is not indicator--<uuid>");
    expect_invalid(IND_HEAD("00000000-0000-4000-8000-000000000009") "`pattern`:`[x]`,"
                                                                    "`confidence`:101}",
        "confidence 101 is out of 0-100");
    expect_invalid(IND_HEAD("00000000-0000-4000-8000-000000000009") "`pattern`:`[x]`,"
                                                                    "`confidence`:`high`}",
        "confidence is not an integer");
    expect_invalid("{`type`:`indicator`,`spec_version`:`2.1`,"
                   "`id`:`indicator--00000000-0000-4000-8000-000000000009`,"
                   "`created`:`yesterday`,`modified`:`2026-01-02T03:04:05.678Z`,"
                   "`valid_from`:`2026-01-02T00:00:00Z`,`pattern_type`:`stix`,"
                   "`pattern`:`[ipv4-addr:value = '10.0.0.1']`}",
        "created 'yesterday' is not an RFC 3339 timestamp");
    expect_invalid(IND_HEAD("00000000-0000-4000-8000-000000000009")
        "`pattern`:`[ipv4-addr:value = '999.1.1.1']`}",
        "pattern value '999.1.1.1' is not");
    expect_invalid(IND_HEAD("00000000-0000-4000-8000-000000000009") "`name`:`x`}",
        "pattern is missing");
    expect_invalid("{`type`:`indicator`,`spec_version`:`2.1`,"
                   "`id`:`indicator--00000000-0000-4000-8000-000000000009`,"
                   "`created`:`2026-01-02T03:04:05.678Z`,`modified`:`2026-01-02T03:04:05.678Z`,"
                   "`valid_from`:`2026-01-02T00:00:00Z`,"
                   "`pattern`:`[ipv4-addr:value = '10.0.0.1']`}",
        "pattern_type is missing");
    expect_invalid(IND_HEAD("00000000-0000-4000-8000-000000000009")
        "`pattern`:`[ipv4-addr:value = '10.0.0.1']`,`valid_until`:`2025-01-01T00:00:00Z`}",
        "valid_until is not later than valid_from");
    expect_invalid(IND_HEAD("00000000-0000-4000-8000-000000000009")
        "`pattern`:`[ipv4-addr:value = '10.0.0.1']`,`labels`:`x`}",
        "labels is not a list");
    expect_invalid("[1]", "object #1 is not a JSON object");
    expect_invalid("[{`id`:`x`}]", "object #1 has no type");
}

static void test_import_limits(void **state)
{
    char *doc, *p;
    size_t cap = 64 * 1024;
    collect c;
    kw_import_report rep;

    (void)state;
    /* 65 labels: one more than a bundle may carry. */
    doc = malloc(cap);
    assert_non_null(doc);
    p = doc + sprintf(doc, IND_HEAD("00000000-0000-4000-8000-000000000009")
                               "`pattern`:`[ipv4-addr:value = '10.0.0.1']`,`labels`:[");
    for (unsigned i = 0; i <= KW_BUNDLE_MAX_LIST; i++) {
        p += sprintf(p, "%s`l%u`", i > 0 ? "," : "", i);
    }
    strcpy(p, "]}");
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_non_null(strstr(rep.first_error, "labels has 65 entries"));
    /* A description over the text limit. */
    free(doc);
    doc = malloc(KW_BUNDLE_MAX_TEXT + 1024);
    assert_non_null(doc);
    p = doc + sprintf(doc, IND_HEAD("00000000-0000-4000-8000-000000000009")
                               "`pattern`:`[ipv4-addr:value = '10.0.0.1']`,`description`:`");
    memset(p, 'a', KW_BUNDLE_MAX_TEXT + 1);
    strcpy(p + KW_BUNDLE_MAX_TEXT + 1, "`}");
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_non_null(strstr(rep.first_error, "description is longer than"));
    collect_done(&c);
    free(doc);
}

static const char *mixed_doc
    = "{`type`:`bundle`,`id`:`bundle--11111111-1111-4111-8111-111111111111`,`objects`:["
    IND_HEAD("00000000-0000-4000-8000-000000000001")
      "`pattern`:`[ipv4-addr:value = '10.0.0.1']`},"
    IND_HEAD("00000000-0000-4000-8000-000000000002")
      "`pattern`:`[ipv4-addr:value = '10.0.0.256']`},"
    "{`type`:`indicator`,`spec_version`:`2.1`,`id`:`indicator--00000000-0000-4000-8000-"
      "000000000003`,`created`:`2026-01-02T03:04:05.678Z`,`modified`:`2026-01-02T03:04:05.678Z`,"
      "`valid_from`:`2026-01-02T00:00:00Z`,`pattern_type`:`snort`,"
      "`pattern`:`alert tcp any any -> any any (msg:\\`x\\`;)`},"
    IND_HEAD("00000000-0000-4000-8000-000000000004")
      "`pattern`:`[domain-name:value = 'example.net']`}"
    "]}";

static void test_all_or_nothing(void **state)
{
    collect c;
    kw_import_report rep;

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(mixed_doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_int_equal(c.calls, 0); /* nothing reached the sink */
    assert_int_equal(rep.invalid, 1);
    assert_int_equal(rep.unsupported, 1);
    assert_non_null(strstr(rep.first_error,
        "t.json: indicator--00000000-0000-4000-8000-000000000002: pattern value '10.0.0.256'"));
    collect_done(&c);

    collect_init(&c);
    assert_int_equal(import_text(mixed_doc, KW_TLP_GREEN, true, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(rep.invalid, 1);
    assert_int_equal(rep.unsupported, 1);
    assert_int_equal(rep.n_issues, 2);
    assert_true(rep.issues[0].invalid);
    assert_false(rep.issues[1].invalid);
    assert_non_null(strstr(rep.issues[1].text, "pattern_type 'snort' is not supported"));
    assert_int_equal(rep.n_types, 1);
    assert_string_equal(rep.types[0].type, "snort");
    assert_string_equal(c.b->items[1].value, "example.net");
    collect_done(&c);

    /* A sink error stops the import and is returned. */
    collect_init(&c);
    c.fail_at_call = KW_ERR_STORE;
    c.fail_after = 2;
    assert_int_equal(import_text(mixed_doc, KW_TLP_GREEN, true, &c, &rep), KW_ERR_STORE);
    assert_int_equal(c.calls, 2);
    collect_done(&c);
}

static void test_issue_list_bounded(void **state)
{
    size_t cap = 200 * 400;
    char *doc = malloc(cap), *p;
    collect c;
    kw_import_report rep;

    (void)state;
    assert_non_null(doc);
    p = doc + sprintf(doc, "[");
    for (int i = 0; i < 100; i++) {
        p += sprintf(p, "%s" IND_HEAD("00000000-0000-4000-8000-%012d")
                        "`pattern`:`[ipv4-addr:value = '10.0.0.%d']`}",
            i > 0 ? "," : "", i, 200 + i); /* 256 and up are invalid */
    }
    strcpy(p, "]");
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, true, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.indicators, 56);
    assert_int_equal(rep.invalid, 44);
    assert_int_equal(rep.n_issues, KW_IMPORT_MAX_ISSUES);
    assert_int_equal(c.calls, 56);
    collect_done(&c);
    free(doc);
}

/* clang-format on */

/* ---- corpus ------------------------------------------------------------------------------ */

static const struct {
    const char *path;
    unsigned objects, typed, raw, non_indicators;
} corpus_expect[] = {
    { "cti-documentation/indicator-for-malicious-url.json", 3, 1, 0, 2 },
    { "cti-documentation/malware-indicator-for-file-hash.json", 3, 1, 0, 2 },
    { "cti-documentation/sighting-of-an-indicator.json", 4, 1, 0, 3 },
    { "cti-documentation/sighting-of-observed-data.json", 8, 0, 0, 8 },
    { "cti-stix-elevator/141-TLP-marking-structures.json", 4, 3, 1, 0 },
    { "cti-stix-elevator/file-hash-reputation.json", 1, 1, 0, 0 },
    { "cti-stix-elevator/issue-271.json", 40, 10, 7, 23 },
    { "cti-stix-validator/tlp-amber.json", 1, 0, 0, 1 },
    { "cti-stix2-json-schemas/apt1.json", 76, 10, 2, 64 },
    { "cti-stix2-json-schemas/indicator-for-c2-ip-address.json", 1, 1, 0, 0 },
    { "cti-stix2-json-schemas/indicator-to-campaign-relationship.json", 3, 1, 0, 2 },
    { "cti-stix2-json-schemas/indicators-for-C2-with-COA.json", 8, 2, 0, 6 },
    { "cti-stix2-json-schemas/malicious-email-indicator-with-attachment.json", 6, 0, 2, 4 },
};

static kw_err import_file(const char *path, kw_tlp def, collect *c, kw_import_report *rep)
{
    size_t len;
    char *buf = read_all(path, &len);
    kw_err rc = kw_stix_import(buf, len, path, def, false, collect_sink, c, rep);
    free(buf);
    return rc;
}

static void test_corpus_all(void **state)
{
    const char *dir = corpora();
    char path[4096];
    unsigned seen = 0;

    (void)state;
    if (dir == NULL) {
        skip();
    }
    for (size_t i = 0; i < sizeof(corpus_expect) / sizeof(corpus_expect[0]); i++) {
        collect c;
        kw_import_report rep;
        kw_err rc;

        snprintf(path, sizeof(path), "%s/stix-examples/%s", dir, corpus_expect[i].path);
        collect_init(&c);
        rc = import_file(path, KW_TLP_AMBER, &c, &rep);
        if (rc != KW_ERR_OK) {
            fail_msg("%s: %s (%s)", path, kw_strerror(rc), rep.first_error);
        }
        if (rep.objects != corpus_expect[i].objects || rep.typed != corpus_expect[i].typed
            || rep.raw != corpus_expect[i].raw
            || rep.non_indicators != corpus_expect[i].non_indicators || rep.invalid != 0
            || rep.unsupported != 0 || c.calls != rep.indicators) {
            fail_msg("%s: objects %llu typed %llu raw %llu non-indicators %llu invalid %llu", path,
                (unsigned long long)rep.objects, (unsigned long long)rep.typed,
                (unsigned long long)rep.raw, (unsigned long long)rep.non_indicators,
                (unsigned long long)rep.invalid);
        }
        collect_done(&c);
        seen++;
    }
    /* Every file of the folder is in the table: a new example must be added above. */
    {
        const char *subs[] = { "cti-documentation", "cti-stix-elevator", "cti-stix-validator",
            "cti-stix2-json-schemas" };
        unsigned files = 0;
        for (size_t s = 0; s < 4; s++) {
            DIR *d;
            struct dirent *de;
            snprintf(path, sizeof(path), "%s/stix-examples/%s", dir, subs[s]);
            assert_non_null(d = opendir(path));
            while ((de = readdir(d)) != NULL) {
                files += strstr(de->d_name, ".json") != NULL;
            }
            closedir(d);
        }
        assert_int_equal(files, seen);
    }
}

static void test_corpus_tlp(void **state)
{
    const char *dir = corpora();
    char path[4096];
    collect c;
    kw_import_report rep;
    unsigned typed_by_type[KW_OBS_MAX + 1] = { 0 };

    (void)state;
    if (dir == NULL) {
        skip();
    }
    /* 141: one indicator per TLP 1.0 marking (white, green, amber, red), none defaulted. */
    snprintf(path, sizeof(path),
        "%s/stix-examples/cti-stix-elevator/141-TLP-marking-structures.json", dir);
    collect_init(&c);
    assert_int_equal(import_file(path, KW_TLP_AMBER_STRICT, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 4);
    assert_int_equal(rep.by_tlp[KW_TLP_CLEAR], 1);
    assert_int_equal(rep.by_tlp[KW_TLP_GREEN], 1);
    assert_int_equal(rep.by_tlp[KW_TLP_AMBER], 1);
    assert_int_equal(rep.by_tlp[KW_TLP_AMBER_STRICT], 0);
    assert_int_equal(rep.by_tlp[KW_TLP_RED], 1);
    for (unsigned i = 0; i < c.b->n; i++) {
        typed_by_type[c.b->items[i].type]++;
    }
    assert_int_equal(typed_by_type[KW_OBS_URL], 1);
    assert_int_equal(typed_by_type[KW_OBS_IPV4], 1);
    assert_int_equal(typed_by_type[KW_OBS_SHA256], 1);
    assert_int_equal(typed_by_type[KW_OBS_STIX_PATTERN], 1);
    assert_int_equal(c.tlps[0], KW_TLP_CLEAR);
    assert_string_equal(c.b->items[0].value, "http://x4z9arb.cn/4712");
    assert_int_equal(c.tlps[3], KW_TLP_RED);
    collect_done(&c);

    /* issue-271: 17 indicators, every one TLP:GREEN (1.0 id beside a statement marking). */
    snprintf(path, sizeof(path), "%s/stix-examples/cti-stix-elevator/issue-271.json", dir);
    collect_init(&c);
    memset(typed_by_type, 0, sizeof(typed_by_type));
    assert_int_equal(import_file(path, KW_TLP_RED, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 17);
    assert_int_equal(rep.by_tlp[KW_TLP_GREEN], 17);
    for (unsigned i = 0; i < c.b->n; i++) {
        typed_by_type[c.b->items[i].type]++;
    }
    assert_int_equal(typed_by_type[KW_OBS_DOMAIN], 6);
    assert_int_equal(typed_by_type[KW_OBS_URL], 2);
    assert_int_equal(typed_by_type[KW_OBS_IPV4], 2);
    assert_int_equal(typed_by_type[KW_OBS_STIX_PATTERN], 7);
    collect_done(&c);
}

/* ---- export ------------------------------------------------------------------------------ */

static const struct {
    kw_obs_type type;
    const char *value;
} every_type[] = {
    { KW_OBS_IPV4, "198.51.100.7" },
    { KW_OBS_IPV6, "2001:db8::7" },
    { KW_OBS_CIDR, "198.51.100.0/24" },
    { KW_OBS_CIDR, "2001:db8::/48" },
    { KW_OBS_DOMAIN, "bad.example" },
    { KW_OBS_URL, "http://bad.example/it's" },
    { KW_OBS_EMAIL, "phish@bad.example" },
    { KW_OBS_MD5, "d41d8cd98f00b204e9800998ecf8427e" },
    { KW_OBS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
    { KW_OBS_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { KW_OBS_SHA512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
    { KW_OBS_FILENAME, "C:\\Users\\it's.exe" },
    { KW_OBS_STIX_PATTERN, "[process:name = 'a' OR process:name = 'b']" },
};

static const char *labels2[] = { "apt", "crime" };
static const char *types1[] = { "malicious-activity" };
static kw_kill_chain_phase phase1[] = { { "mitre-attack", "command-and-control" } };

static void fill(kw_indicator *ind, size_t i)
{
    memset(ind, 0, sizeof(*ind));
    kw_uuid_random(ind->id);
    ind->type = every_type[i].type;
    ind->value = every_type[i].value;
    ind->value_len = (uint32_t)strlen(ind->value);
    ind->created = 1767225600123 + (int64_t)i;
    ind->modified = ind->created + 1000;
    ind->valid_from = ind->created;
    ind->valid_until = i % 2 == 0 ? ind->created + 86400000 : 0;
    ind->confidence = i % 3 == 0 ? -1 : (int)(i * 7);
    ind->revoked = i == 4;
    ind->name = i % 2 == 0 ? NULL : "A name";
    ind->description = i % 4 == 0 ? NULL : "Line one\nline \"two\" \xc3\xa9";
    if (i % 2 == 1) {
        ind->labels = labels2;
        ind->n_labels = 2;
        ind->indicator_types = types1;
        ind->n_indicator_types = 1;
        ind->kill_chain_phases = phase1;
        ind->n_kill_chain_phases = 1;
    }
}

static void assert_same(const kw_indicator *a, const kw_indicator *b)
{
    assert_memory_equal(a->id, b->id, 16);
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->value, b->value);
    assert_int_equal(a->value_len, b->value_len);
    assert_true(a->created == b->created);
    assert_true(a->modified == b->modified);
    assert_true(a->valid_from == b->valid_from);
    assert_true(a->valid_until == b->valid_until);
    assert_int_equal(a->confidence, b->confidence);
    assert_int_equal(a->revoked, b->revoked);
    if (a->name == NULL || b->name == NULL) {
        assert_null(a->name);
        assert_null(b->name);
    } else {
        assert_string_equal(a->name, b->name);
    }
    if (a->description == NULL || b->description == NULL) {
        assert_null(a->description);
        assert_null(b->description);
    } else {
        assert_string_equal(a->description, b->description);
    }
    assert_int_equal(a->n_labels, b->n_labels);
    for (uint32_t i = 0; i < a->n_labels; i++) {
        assert_string_equal(a->labels[i], b->labels[i]);
    }
    assert_int_equal(a->n_indicator_types, b->n_indicator_types);
    for (uint32_t i = 0; i < a->n_indicator_types; i++) {
        assert_string_equal(a->indicator_types[i], b->indicator_types[i]);
    }
    assert_int_equal(a->n_kill_chain_phases, b->n_kill_chain_phases);
    for (uint32_t i = 0; i < a->n_kill_chain_phases; i++) {
        assert_string_equal(
            a->kill_chain_phases[i].kill_chain_name, b->kill_chain_phases[i].kill_chain_name);
        assert_string_equal(a->kill_chain_phases[i].phase_name, b->kill_chain_phases[i].phase_name);
    }
}

static void test_round_trip(void **state)
{
    const size_t n = sizeof(every_type) / sizeof(every_type[0]);
    kw_indicator inds[sizeof(every_type) / sizeof(every_type[0])];
    uint8_t origin_a[32], origin_b[32];
    kw_stix_writer *w = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    collect c;
    kw_import_report rep;

    (void)state;
    memset(origin_a, 0xa1, sizeof(origin_a));
    memset(origin_b, 0xb2, sizeof(origin_b));
    assert_non_null(f = open_memstream(&buf, &len));
    assert_int_equal(kw_stix_writer_new(&w, f), KW_ERR_OK);
    for (size_t i = 0; i < n; i++) {
        fill(&inds[i], i);
        assert_int_equal(kw_stix_writer_add(w, &inds[i], (kw_tlp)(i % (KW_TLP_MAX + 1)),
                             i % 2 ? origin_a : origin_b, i % 2 ? "CERT-A" : NULL),
            KW_ERR_OK);
    }
    assert_int_equal(kw_stix_writer_finish(w), KW_ERR_OK);
    kw_stix_writer_free(w);
    fclose(f);

    collect_init(&c);
    assert_int_equal(
        kw_stix_import(buf, len, "export.json", KW_TLP_RED, false, collect_sink, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.indicators, n);
    /* Two identities and five markings beside the indicators. */
    assert_int_equal(rep.non_indicators, 2 + 5);
    assert_int_equal(c.b->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_same(&inds[i], &c.b->items[i]);
        assert_int_equal(c.tlps[i], (kw_tlp)(i % (KW_TLP_MAX + 1)));
    }
    collect_done(&c);
    free(buf);
}

/* Finds the position of needle in hay, or -1. */
static long pos(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    return p != NULL ? (long)(p - hay) : -1;
}

static void test_writer_output(void **state)
{
    kw_indicator ind;
    uint8_t origin[32];
    kw_stix_writer *w = NULL;
    char *buf = NULL;
    size_t len = 0;
    char identity[48], node_desc[128];
    FILE *f;

    (void)state;
    for (int i = 0; i < 32; i++) {
        origin[i] = (uint8_t)i;
    }
    /* The identity id is a deterministic function of the origin key. */
    kw_stix_identity_id(identity, origin);
    {
        char again[48];
        kw_stix_identity_id(again, origin);
        assert_string_equal(identity, again);
        assert_int_equal(strncmp(identity, "identity--", 10), 0);
        assert_int_equal(identity[10 + 14], '5'); /* version 5 */
    }

    assert_non_null(f = open_memstream(&buf, &len));
    assert_int_equal(kw_stix_writer_new(&w, f), KW_ERR_OK);
    fill(&ind, 0);
    ind.valid_until = ind.valid_from; /* not later: must be left out */
    assert_int_equal(kw_stix_writer_add(w, &ind, KW_TLP_GREEN, origin, NULL), KW_ERR_OK);
    fill(&ind, 1);
    assert_int_equal(kw_stix_writer_add(w, &ind, KW_TLP_GREEN, origin, "ignored"), KW_ERR_OK);
    /* Text that is not UTF-8 is refused, and the bundle stays usable. */
    ind.description = "\xff\xfe";
    assert_int_equal(kw_stix_writer_add(w, &ind, KW_TLP_GREEN, origin, NULL), KW_ERR_INVAL);
    assert_int_equal(kw_stix_writer_finish(w), KW_ERR_OK);
    assert_int_equal(kw_stix_writer_add(w, &ind, KW_TLP_GREEN, origin, NULL), KW_ERR_INVAL);
    kw_stix_writer_free(w);
    fclose(f);

    assert_int_equal(strncmp(buf, "{\"type\":\"bundle\",\"id\":\"bundle--", 31), 0);
    assert_true(pos(buf, identity) > 0);
    /* One identity (named after the node id), one marking, each before the indicators. */
    snprintf(node_desc, sizeof(node_desc), "\"name\":\"kw1");
    assert_true(pos(buf, node_desc) > 0);
    assert_true(pos(buf, "\"type\":\"identity\"") < pos(buf, "\"type\":\"indicator\""));
    assert_true(pos(buf, "\"type\":\"marking-definition\"") < pos(buf, "\"type\":\"indicator\""));
    assert_null(strstr(strstr(buf, "\"type\":\"identity\"") + 1, "\"type\":\"identity\""));
    assert_null(strstr(
        strstr(buf, "\"type\":\"marking-definition\"") + 1, "\"type\":\"marking-definition\""));
    assert_true(pos(buf,
                    "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\","
                    "\"id\":\"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb\","
                    "\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:GREEN\","
                    "\"extensions\":{\"extension-definition--60a3c5c5-0d10-413e-aab3-"
                    "9e08dde9e88d\":{\"extension_type\":\"property-extension\","
                    "\"tlp_2_0\":\"green\"}}}")
        > 0);
    assert_null(strstr(buf, "valid_until"));
    assert_true(pos(buf, "\"created_by_ref\":\"identity--") > 0);
    assert_true(pos(buf, "\"object_marking_refs\":[\"marking-definition--bab4a63c") > 0);
    assert_string_equal(buf + len - 3, "]}\n");
    free(buf);

    /* An empty export has no "objects" (the schema wants at least one). */
    buf = NULL;
    assert_non_null(f = open_memstream(&buf, &len));
    assert_int_equal(kw_stix_writer_new(&w, f), KW_ERR_OK);
    assert_int_equal(kw_stix_writer_finish(w), KW_ERR_OK);
    kw_stix_writer_free(w);
    fclose(f);
    assert_null(strstr(buf, "objects"));
    free(buf);
}

static void test_uuid_v5(void **state)
{
    /* RFC 4122 DNS namespace, "www.example.com" (Python's uuid.uuid5 agrees). */
    static const uint8_t dns_ns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4,
        0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
    uint8_t u[16], want[16];

    (void)state;
    kw__uuid_v5(u, dns_ns, "www.example.com", 15);
    assert_int_equal(
        kw_indicator_id_parse("2ed6657d-e927-568b-95e1-2665a8aea6a2", want), KW_ERR_OK);
    assert_memory_equal(u, want, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_typed),
        cmocka_unit_test(test_pattern_escaping),
        cmocka_unit_test(test_pattern_raw),
        cmocka_unit_test(test_pattern_qualifiers),
        cmocka_unit_test(test_pattern_invalid),
        cmocka_unit_test(test_pattern_grammar),
        cmocka_unit_test(test_pattern_unicode_space),
        cmocka_unit_test(test_pattern_build),
        cmocka_unit_test(test_tlp_ids),
        cmocka_unit_test(test_tlp_markings),
        cmocka_unit_test(test_tlp_never_laxer),
        cmocka_unit_test(test_container_markings),
        cmocka_unit_test(test_container_chain),
        cmocka_unit_test(test_import_envelopes),
        cmocka_unit_test(test_versions_in_input),
        cmocka_unit_test(test_import_variants),
        cmocka_unit_test(test_import_fields),
        cmocka_unit_test(test_import_shapes),
        cmocka_unit_test(test_import_malformed),
        cmocka_unit_test(test_import_invalid),
        cmocka_unit_test(test_import_limits),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_issue_list_bounded),
        cmocka_unit_test(test_corpus_all),
        cmocka_unit_test(test_corpus_tlp),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writer_output),
        cmocka_unit_test(test_uuid_v5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
