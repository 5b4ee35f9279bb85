/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for bundle/value.c: every acceptance rule and every rejection phrase per type, the
 * canonical IPv6 forms of RFC 5952, detection, idempotence, and (when KW_CORPORA points at
 * the shared corpora) a sample of real indicator lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* cmocka.h needs the headers above first. */
#include <cmocka.h>

#include "bundle/value.h"

static char out[KW_VALUE_MAX + 1];

static void expect_ok_at(
    kw_obs_type t, const char *in, size_t len, const char *want, const char *file, int line)
{
    size_t n = 12345;
    const char *why = "unset";
    kw_err rc = kw_value_normalise(t, in, len, out, sizeof(out), &n, &why);

    if (rc != KW_ERR_OK || strcmp(out, want) != 0 || n != strlen(want) || why != NULL) {
        fail_msg("%s:%d: %s '%s': got rc %d '%s' (%s), want '%s'", file, line, kw_obs_type_name(t),
            in, rc, out, why != NULL ? why : "-", want);
    }
}

static void expect_bad_at(
    kw_obs_type t, const char *in, size_t len, const char *want_why, const char *file, int line)
{
    size_t n = 12345;
    const char *why = NULL;
    kw_err rc;

    memset(out, 'x', sizeof(out));
    rc = kw_value_normalise(t, in, len, out, sizeof(out), &n, &why);
    if (rc != KW_ERR_INVAL || why == NULL || strcmp(why, want_why) != 0 || n != 0
        || out[0] != '\0') {
        fail_msg("%s:%d: %s '%s': got rc %d '%s' (%s), want rejection (%s)", file, line,
            kw_obs_type_name(t), in, rc, rc == KW_ERR_OK ? out : "", why != NULL ? why : "-",
            want_why);
    }
}

static void expect_detect_at(const char *in, kw_obs_type want_type, const char *want,
    const char *want_why, const char *file, int line)
{
    size_t n = 12345;
    const char *why = "unset";
    kw_obs_type t = (kw_obs_type)99;
    kw_err rc = kw_value_detect(in, strlen(in), &t, out, sizeof(out), &n, &why);
    bool ok = want != NULL ? (rc == KW_ERR_OK && strcmp(out, want) == 0 && why == NULL)
                           : (rc == KW_ERR_INVAL && why != NULL && strcmp(why, want_why) == 0);

    if (!ok || t != want_type) {
        fail_msg("%s:%d: detect '%s': got rc %d type %s '%s' (%s), want type %s '%s' (%s)", file,
            line, in, rc, kw_obs_type_name(t), out, why != NULL ? why : "-",
            kw_obs_type_name(want_type), want != NULL ? want : "",
            want_why != NULL ? want_why : "-");
    }
}

#define OK(t, in, want) expect_ok_at(KW_OBS_##t, in, strlen(in), want, __FILE__, __LINE__)
#define OK_SAME(t, in) OK(t, in, in)
#define BAD(t, in, why) expect_bad_at(KW_OBS_##t, in, strlen(in), why, __FILE__, __LINE__)
/* For inputs with NUL bytes: the length of the literal, without its terminator. */
#define BADN(t, lit, why) expect_bad_at(KW_OBS_##t, lit, sizeof(lit) - 1, why, __FILE__, __LINE__)
#define DET(in, t, want) expect_detect_at(in, KW_OBS_##t, want, NULL, __FILE__, __LINE__)
#define DET_BAD(in, t, why) expect_detect_at(in, KW_OBS_##t, NULL, why, __FILE__, __LINE__)

/* A string of n copies of c (n < sizeof buf). */
static char *rep(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- Type names ---------------------------------------------------------------------- */

static void test_type_names(void **state)
{
    static const char *const names[] = { "ipv4", "ipv6", "cidr", "domain", "url", "email", "md5",
        "sha1", "sha256", "sha512", "filename", "stix-pattern" };
    static const struct {
        const char *name;
        kw_obs_type type;
    } aliases[] = {
        { "IPv4", KW_OBS_IPV4 },
        { "ip", KW_OBS_IPV4 },
        { "ipv4-addr", KW_OBS_IPV4 },
        { "IPV6-ADDR", KW_OBS_IPV6 },
        { "domain-name", KW_OBS_DOMAIN },
        { "Hostname", KW_OBS_DOMAIN },
        { "email-addr", KW_OBS_EMAIL },
        { "MD5", KW_OBS_MD5 },
        { "SHA-1", KW_OBS_SHA1 },
        { "sha-256", KW_OBS_SHA256 },
        { "SHA-512", KW_OBS_SHA512 },
        { "pattern", KW_OBS_STIX_PATTERN },
        { "STIX-Pattern", KW_OBS_STIX_PATTERN },
    };
    kw_obs_type t;

    (void)state;
    for (int i = 1; i <= KW_OBS_MAX; i++) {
        assert_string_equal(kw_obs_type_name((kw_obs_type)i), names[i - 1]);
        t = KW_OBS_NONE;
        assert_int_equal(kw_obs_type_parse(names[i - 1], &t), KW_ERR_OK);
        assert_int_equal(t, i);
    }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        t = KW_OBS_NONE;
        assert_int_equal(kw_obs_type_parse(aliases[i].name, &t), KW_ERR_OK);
        assert_int_equal(t, aliases[i].type);
    }
    assert_string_equal(kw_obs_type_name(KW_OBS_NONE), "unknown");
    assert_string_equal(kw_obs_type_name((kw_obs_type)99), "unknown");
    assert_int_equal(kw_obs_type_parse("unknown", &t), KW_ERR_INVAL);
    assert_int_equal(kw_obs_type_parse("", &t), KW_ERR_INVAL);
    assert_int_equal(kw_obs_type_parse("ipv5", &t), KW_ERR_INVAL);
    assert_int_equal(kw_obs_type_parse("ipv4 ", &t), KW_ERR_INVAL);
    assert_int_equal(kw_obs_type_parse(NULL, &t), KW_ERR_INVAL);
}

/* ---- Rules shared by all types ------------------------------------------------------- */

static void test_common(void **state)
{
    static char big[KW_VALUE_MAX + 16];
    char small[64];
    const char *why = NULL;
    size_t n = 0;

    (void)state;
    OK(IPV4, " \t1.2.3.4\r\n", "1.2.3.4");
    OK(DOMAIN, "\n\nexample.com \t", "example.com");
    /* Only space, tab, CR and LF are trimmed. */
    BAD(IPV4, "\v1.2.3.4", "is not an IPv4 address (contains whitespace)");
    BAD(IPV4, "", "is empty");
    BAD(DOMAIN, " \t\r\n ", "is empty");
    BAD(STIX_PATTERN, "   ", "is empty");

    /* The input need not be NUL-terminated; only len bytes are read. */
    expect_ok_at(KW_OBS_IPV4, "1.2.3.4999", 7, "1.2.3.4", __FILE__, __LINE__);
    expect_ok_at(KW_OBS_MD5, "d41d8cd98f00b204e9800998ecf8427eXX", 32,
        "d41d8cd98f00b204e9800998ecf8427e", __FILE__, __LINE__);
    expect_bad_at(KW_OBS_IPV4, NULL, 0, "is empty", __FILE__, __LINE__);

    /* Length limit: KW_VALUE_MAX bytes after trimming. */
    big[0] = '[';
    memset(big + 1, 'a', KW_VALUE_MAX - 2);
    big[KW_VALUE_MAX - 1] = ']';
    big[KW_VALUE_MAX] = '\0';
    expect_ok_at(KW_OBS_STIX_PATTERN, big, KW_VALUE_MAX, big, __FILE__, __LINE__);
    memmove(big + 2, big, KW_VALUE_MAX + 1);
    memcpy(big, "  ", 2);
    memcpy(big + KW_VALUE_MAX + 2, "\n\n", 3);
    assert_int_equal(
        kw_value_normalise(KW_OBS_STIX_PATTERN, big, strlen(big), out, sizeof(out), &n, &why),
        KW_ERR_OK);
    assert_int_equal(n, KW_VALUE_MAX);
    memset(big, 'a', KW_VALUE_MAX + 1);
    big[KW_VALUE_MAX + 1] = '\0';
    BAD(FILENAME, big, "is longer than 4096 bytes");
    BAD(URL, big, "is longer than 4096 bytes");

    /* The normalised form may be longer than the input (the longest zero run is the one
     * compressed); it must still fit in KW_VALUE_MAX. */
    strcpy(big, "http://[0:0:0:1::8]/");
    memset(big + 20, 'p', KW_VALUE_MAX - 20);
    big[KW_VALUE_MAX] = '\0';
    BAD(URL, big, "is longer than 4096 bytes once normalised");
    big[KW_VALUE_MAX - 1] = '\0';
    assert_int_equal(
        kw_value_normalise(KW_OBS_URL, big, strlen(big), out, sizeof(out), &n, &why), KW_ERR_OK);
    assert_int_equal(n, KW_VALUE_MAX);
    assert_memory_equal(out, "http://[::1:0:0:0:8]/ppp", 24);

    /* Unknown types. */
    BAD(NONE, "1.2.3.4", "has an unknown indicator type");
    expect_bad_at(
        (kw_obs_type)99, "1.2.3.4", 7, "has an unknown indicator type", __FILE__, __LINE__);

    /* The output buffer must hold KW_VALUE_MAX + 1 bytes, whatever the value. */
    memset(small, 'x', sizeof(small));
    assert_int_equal(kw_value_normalise(KW_OBS_IPV4, "1.2.3.4", 7, small, sizeof(small), &n, &why),
        KW_ERR_INVAL);
    assert_non_null(why);
    assert_int_equal(small[0], 'x');
    assert_int_equal(
        kw_value_normalise(KW_OBS_IPV4, "1.2.3.4", 7, NULL, 0, &n, &why), KW_ERR_INVAL);

    /* why and out_len may be NULL. */
    assert_int_equal(
        kw_value_normalise(KW_OBS_IPV4, "1.2.3.4", 7, out, sizeof(out), NULL, NULL), KW_ERR_OK);
    assert_string_equal(out, "1.2.3.4");
    assert_int_equal(
        kw_value_normalise(KW_OBS_IPV4, "1.2.3", 5, out, sizeof(out), NULL, NULL), KW_ERR_INVAL);
    assert_string_equal(out, "");

    /* why is static: it stays valid after later calls. */
    const char *first = NULL, *second = NULL;
    kw_value_normalise(KW_OBS_IPV4, "1.2.3.999", 9, out, sizeof(out), &n, &first);
    kw_value_normalise(KW_OBS_IPV4, "1.2.3.256", 9, out, sizeof(out), &n, &second);
    assert_string_equal(first, "is not an IPv4 address (octet 999 out of range)");
    assert_string_equal(second, "is not an IPv4 address (octet 256 out of range)");
}

/* ---- IPv4 ---------------------------------------------------------------------------- */

static void test_ipv4(void **state)
{
    (void)state;
    OK_SAME(IPV4, "1.2.3.4");
    OK_SAME(IPV4, "0.0.0.0");
    OK_SAME(IPV4, "255.255.255.255");
    OK_SAME(IPV4, "10.0.0.1");
    OK_SAME(IPV4, "192.168.100.200");
    OK(IPV4, " 8.8.8.8\n", "8.8.8.8");

    BAD(IPV4, "1.2.3.999", "is not an IPv4 address (octet 999 out of range)");
    BAD(IPV4, "256.1.1.1", "is not an IPv4 address (octet 256 out of range)");
    BAD(IPV4, "1.300.1.1", "is not an IPv4 address (octet 300 out of range)");
    for (unsigned v = 256; v < 1000; v++) {
        char in[32], want[64];
        snprintf(in, sizeof(in), "1.%u.3.4", v);
        snprintf(want, sizeof(want), "is not an IPv4 address (octet %u out of range)", v);
        BAD(IPV4, in, want);
    }
    BAD(IPV4, "1.2.3.1000", "is not an IPv4 address (octet out of range)");
    BAD(IPV4, "1.2.3.99999999999999999999", "is not an IPv4 address (octet out of range)");
    BAD(IPV4, "01.2.3.4", "is not an IPv4 address (leading zero in octet)");
    BAD(IPV4, "1.2.3.00", "is not an IPv4 address (leading zero in octet)");
    BAD(IPV4, "017.0.0.1", "is not an IPv4 address (leading zero in octet)");
    BAD(IPV4, "1.2.3.0999", "is not an IPv4 address (leading zero in octet)");
    BAD(IPV4, "1..2.3", "is not an IPv4 address (empty octet)");
    BAD(IPV4, ".1.2.3", "is not an IPv4 address (empty octet)");
    BAD(IPV4, "1.2.3.", "is not an IPv4 address (empty octet)");
    BAD(IPV4, "1.2.3", "is not an IPv4 address (fewer than 4 octets)");
    BAD(IPV4, "127.1", "is not an IPv4 address (fewer than 4 octets)");
    BAD(IPV4, "2130706433", "is not an IPv4 address (octet out of range)");
    BAD(IPV4, "16909060", "is not an IPv4 address (octet out of range)");
    BAD(IPV4, "255", "is not an IPv4 address (fewer than 4 octets)");
    BAD(IPV4, "1.2.3.4.5", "is not an IPv4 address (more than 4 octets)");
    BAD(IPV4, "1.2.3.4.", "is not an IPv4 address (trailing dot)");
    BAD(IPV4, "0x7f.0.0.1", "is not an IPv4 address (hex octets are not allowed)");
    BAD(IPV4, "1.0X2.3.4", "is not an IPv4 address (hex octets are not allowed)");
    BAD(IPV4, "+1.2.3.4", "is not an IPv4 address (signs are not allowed)");
    BAD(IPV4, "1.2.-3.4", "is not an IPv4 address (signs are not allowed)");
    BAD(IPV4, "1.2. 3.4", "is not an IPv4 address (contains whitespace)");
    BAD(IPV4, "1.2.3 .4", "is not an IPv4 address (contains whitespace)");
    BAD(IPV4, "1.2.3.4:80",
        "is not an IPv4 address (contains ':'; give the address without a port)");
    BAD(IPV4, "10.0.0.0/8",
        "is not an IPv4 address (contains '/'; a CIDR block is not an address)");
    BAD(IPV4, "1.2.3.a", "is not an IPv4 address (unexpected character)");
    BAD(IPV4, "::1", "is not an IPv4 address (unexpected character)");
    BAD(IPV4, "\xef\xbc\x91.2.3.4", "is not an IPv4 address (unexpected character)");
    BADN(IPV4, "1.2.3.4\0", "is not an IPv4 address (unexpected character)");
    BADN(IPV4, "1.2\0.3.4", "is not an IPv4 address (unexpected character)");
}

/* ---- IPv6 ---------------------------------------------------------------------------- */

static void test_ipv6_rfc5952(void **state)
{
    (void)state;
    /* Section 4.1: leading zeros are suppressed; a group of zeros is "0". */
    OK(IPV6, "2001:0db8::0001", "2001:db8::1");
    OK(IPV6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    OK(IPV6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    OK(IPV6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:01", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    OK(IPV6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    OK(IPV6, "2001:db8:0000:0:1:0:0:1", "2001:db8::1:0:0:1");
    /* Section 4.2.1: "::" is used to its maximum capability. */
    OK(IPV6, "2001:db8:0:0:0:0:2:1", "2001:db8::2:1");
    OK(IPV6, "2001:db8::0:1", "2001:db8::1");
    OK(IPV6, "2001:db8:0:0:0::1", "2001:db8::1");
    OK(IPV6, "2001:db8:0:0::1", "2001:db8::1");
    OK(IPV6, "2001:db8:0::1", "2001:db8::1");
    /* Section 4.2.2: "::" never stands for a single 16-bit zero field. */
    OK(IPV6, "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    OK(IPV6, "2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    /* Section 4.2.3: the longest run is compressed; on a tie, the first. */
    OK(IPV6, "2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
    OK(IPV6, "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    OK(IPV6, "2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1");
    OK(IPV6, "2001:db8:0:0:aaaa::1", "2001:db8::aaaa:0:0:1");
    OK(IPV6, "0:0:1:0:0:1:0:0", "::1:0:0:1:0:0");
    OK(IPV6, "0:0:0:1::8", "::1:0:0:0:8");
    /* Section 4.3: lower case. */
    OK(IPV6, "2001:DB8::1", "2001:db8::1");
    OK(IPV6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:AaAa", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa");
    OK(IPV6, "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    /* Ends and extremes. */
    OK_SAME(IPV6, "::");
    OK(IPV6, "0:0:0:0:0:0:0:0", "::");
    OK(IPV6, "0000:0000:0000:0000:0000:0000:0000:0000", "::");
    OK_SAME(IPV6, "::1");
    OK(IPV6, "0:0:0:0:0:0:0:1", "::1");
    OK_SAME(IPV6, "1::");
    OK(IPV6, "1:0:0:0:0:0:0:0", "1::");
    OK_SAME(IPV6, "1:2:3:4:5:6:7:8");
    OK(IPV6, "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
    OK(IPV6, "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8");
    OK_SAME(IPV6, "1:0:2:3:4:5:6:7");
    OK(IPV6, "1:0:0:2:0:0:0:3", "1:0:0:2::3");
    OK(IPV6, "fe80:0000:0000:0000:0204:61ff:fe9d:f156", "fe80::204:61ff:fe9d:f156");
    OK(IPV6, " 2001:db8::1 \n", "2001:db8::1");
}

static void test_ipv6_embedded_ipv4(void **state)
{
    (void)state;
    /* Section 5: IPv4-mapped addresses keep the dotted quad. */
    OK_SAME(IPV6, "::ffff:1.2.3.4");
    OK(IPV6, "::FFFF:1.2.3.4", "::ffff:1.2.3.4");
    OK(IPV6, "::ffff:0102:0304", "::ffff:1.2.3.4");
    OK(IPV6, "0:0:0:0:0:ffff:1.2.3.4", "::ffff:1.2.3.4");
    OK(IPV6, "0000:0000:0000:0000:0000:ffff:255.255.255.255", "::ffff:255.255.255.255");
    OK_SAME(IPV6, "::ffff:0.0.0.0");
    /* Everything else is plain hex, including the deprecated IPv4-compatible form, which
     * glibc's inet_ntop would print as ::1.2.3.4. */
    OK(IPV6, "::1.2.3.4", "::102:304");
    OK(IPV6, "::0.0.0.1", "::1");
    OK(IPV6, "::0.0.0.0", "::");
    OK(IPV6, "64:ff9b::192.0.2.33", "64:ff9b::c000:221");
    OK(IPV6, "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304");
    OK(IPV6, "::fffe:1.2.3.4", "::fffe:102:304");
    OK(IPV6, "1::ffff:1.2.3.4", "1::ffff:102:304");

    BAD(IPV6, "::1.2.3.04", "is not an IPv6 address (invalid embedded IPv4 address)");
    BAD(IPV6, "::1.2.3.256", "is not an IPv6 address (invalid embedded IPv4 address)");
    BAD(IPV6, "::1.2.3", "is not an IPv6 address (invalid embedded IPv4 address)");
    BAD(IPV6, "::1.2.3.4:1",
        "is not an IPv6 address (embedded IPv4 address must be the last 32 bits)");
    BAD(IPV6, "1:2:3:4:5:6:7:1.2.3.4",
        "is not an IPv6 address (embedded IPv4 address must be the last 32 bits)");
    BAD(IPV6, "1.2.3.4", "is not an IPv6 address (fewer than 8 groups and no '::')");
}

static void test_ipv6_rejects(void **state)
{
    (void)state;
    BAD(IPV6, "fe80::1%eth0", "is not an IPv6 address (zone ids such as %eth0 are not allowed)");
    BAD(IPV6, "fe80::1%25eth0", "is not an IPv6 address (zone ids such as %eth0 are not allowed)");
    BAD(IPV6, "fe80::1%", "is not an IPv6 address (zone ids such as %eth0 are not allowed)");
    BAD(IPV6, "1:2:3:4:5:6:7:8:9", "is not an IPv6 address (more than 8 groups)");
    BAD(IPV6, "1:2:3:4:5:6:7", "is not an IPv6 address (fewer than 8 groups and no '::')");
    BAD(IPV6, "1", "is not an IPv6 address (fewer than 8 groups and no '::')");
    BAD(IPV6, "1::2::3", "is not an IPv6 address (more than one '::')");
    BAD(IPV6, "::1::", "is not an IPv6 address (more than one '::')");
    BAD(IPV6, ":1::", "is not an IPv6 address (starts with a single ':')");
    BAD(IPV6, ":", "is not an IPv6 address (starts with a single ':')");
    BAD(IPV6, "1::2:", "is not an IPv6 address (ends with a single ':')");
    BAD(IPV6, "1:2:3:4:5:6:7:8:", "is not an IPv6 address (ends with a single ':')");
    BAD(IPV6, "1:::2", "is not an IPv6 address (empty group)");
    BAD(IPV6, ":::", "is not an IPv6 address (empty group)");
    BAD(IPV6, "12345::", "is not an IPv6 address (group longer than 4 hex digits)");
    BAD(IPV6, "00001::", "is not an IPv6 address (group longer than 4 hex digits)");
    BAD(IPV6, "g::1", "is not an IPv6 address (unexpected character)");
    BAD(IPV6, "[::1]", "is not an IPv6 address (unexpected character)");
    BAD(IPV6, ":: 1", "is not an IPv6 address (unexpected character)");
    BAD(IPV6, "::1/128", "is not an IPv6 address (unexpected character)");
    BAD(IPV6, "::-1", "is not an IPv6 address (unexpected character)");
    BADN(IPV6, "::1\0", "is not an IPv6 address (unexpected character)");
    BAD(IPV6, "1::2:3:4:5:6:7:8",
        "is not an IPv6 address ('::' must stand for at least one zero group)");
    BAD(IPV6, "::1:2:3:4:5:6:7:8",
        "is not an IPv6 address ('::' must stand for at least one zero group)");
    BAD(IPV6, "::1:2:3:4:5:6:1.2.3.4",
        "is not an IPv6 address ('::' must stand for at least one zero group)");
    BAD(IPV6, "00000000000000000000000000000000000000000000000",
        "is not an IPv6 address (too long)");
}

/* ---- CIDR ---------------------------------------------------------------------------- */

static void test_cidr(void **state)
{
    (void)state;
    OK_SAME(CIDR, "10.0.0.0/8");
    BAD(CIDR, "0.0.0.0/0", "is not an indicator (a /0 block is every address)");
    OK_SAME(CIDR, "128.0.0.0/1");
    OK_SAME(CIDR, "1.2.3.4/32");
    OK_SAME(CIDR, "10.0.0.128/25");
    OK_SAME(CIDR, "192.168.0.0/16");
    OK(CIDR, " 172.16.0.0/12\n", "172.16.0.0/12");
    OK(CIDR, "2001:DB8::/32", "2001:db8::/32");
    OK(CIDR, "2001:0db8:0000::/48", "2001:db8::/48");
    OK(CIDR, "2001:db8::/33", "2001:db8::/33");
    BAD(CIDR, "::/0", "is not an indicator (a /0 block is every address)");
    OK_SAME(CIDR, "8000::/1");
    OK_SAME(CIDR, "::1/128");
    OK_SAME(CIDR, "2001:db8:0:0:1::/80");
    OK(CIDR, "2001:db8:0:0:1:0:0:0/80", "2001:db8:0:0:1::/80");
    OK_SAME(CIDR, "::ffff:10.0.0.0/104");
    OK(CIDR, "fe80:0:0:0:0:0:0:0/10", "fe80::/10");

    BAD(CIDR, "10.0.0.1/8", "has host bits set for prefix /8");
    BAD(CIDR, "0.0.0.1/0", "has host bits set for prefix /0");
    BAD(CIDR, "10.0.0.1/31", "has host bits set for prefix /31");
    BAD(CIDR, "192.168.1.0/16", "has host bits set for prefix /16");
    BAD(CIDR, "2001:db8::1/64", "has host bits set for prefix /64");
    BAD(CIDR, "2001:db9::/31", "has host bits set for prefix /31");
    BAD(CIDR, "::3/127", "has host bits set for prefix /127");
    BAD(CIDR, "::1/0", "has host bits set for prefix /0");
    BAD(CIDR, "10.0.0.0/33", "is not a CIDR block (IPv4 prefix length must be 0-32)");
    BAD(CIDR, "10.0.0.0/999", "is not a CIDR block (IPv4 prefix length must be 0-32)");
    BAD(CIDR, "2001:db8::/129", "is not a CIDR block (IPv6 prefix length must be 0-128)");
    BAD(CIDR, "2001:db8::/1000", "is not a CIDR block (IPv6 prefix length must be 0-128)");
    BAD(CIDR, "10.0.0.0/08", "is not a CIDR block (leading zero in prefix length)");
    BAD(CIDR, "::/00", "is not a CIDR block (leading zero in prefix length)");
    BAD(CIDR, "10.0.0.0/", "is not a CIDR block (empty prefix length)");
    BAD(CIDR, "10.0.0.0", "is not a CIDR block (no '/prefix')");
    BAD(CIDR, "10.0.0.0/8/8", "is not a CIDR block (more than one '/')");
    BAD(CIDR, "10.0.0.0/a", "is not a CIDR block (prefix length is not a number)");
    BAD(CIDR, "10.0.0.0/-1", "is not a CIDR block (prefix length is not a number)");
    BAD(CIDR, "10.0.0.0/ 8", "is not a CIDR block (prefix length is not a number)");
    BAD(CIDR, "/8", "is not a CIDR block (empty address)");
    BAD(CIDR, "10.0.0/8", "has an invalid IPv4 address (fewer than 4 octets)");
    BAD(CIDR, "10.0.0.256/8", "has an invalid IPv4 address (octet out of range)");
    BAD(CIDR, "010.0.0.0/8", "has an invalid IPv4 address (leading zero in octet)");
    BAD(CIDR, "fe80::%eth0/64",
        "has an invalid IPv6 address (zone ids such as %eth0 are not allowed)");
    BAD(CIDR, "1::2::/64", "has an invalid IPv6 address (more than one '::')");
}

/* ---- Domains ------------------------------------------------------------------------- */

static void test_domain(void **state)
{
    char label63[64], label64[65], name[300], dotted[310];

    (void)state;
    OK_SAME(DOMAIN, "example.com");
    OK(DOMAIN, "EXAMPLE.Com", "example.com");
    OK(DOMAIN, "example.com.", "example.com");
    OK_SAME(DOMAIN, "a.b");
    OK_SAME(DOMAIN, "_dmarc.example.com");
    OK_SAME(DOMAIN, "bad_host_.example.com");
    OK_SAME(DOMAIN, "xn--bcher-kva.de");
    OK_SAME(DOMAIN, "a-b.c--d.com");
    OK_SAME(DOMAIN, "123.com");
    OK_SAME(DOMAIN, "1.2.3.4.example");
    OK_SAME(DOMAIN, "example.123a");
    OK_SAME(DOMAIN, "0-0.x0");

    /* Label and name lengths: 63 and 253 are the limits. */
    rep(label63, 'a', 63);
    rep(label64, 'a', 64);
    snprintf(name, sizeof(name), "%s.com", label63);
    OK(DOMAIN, name, name);
    snprintf(name, sizeof(name), "%s.com", label64);
    BAD(DOMAIN, name, "has a label longer than 63 characters");
    snprintf(name, sizeof(name), "%s.%s.%s.%s", label63, label63, label63, label63);
    name[253] = '\0'; /* 63.63.63.61 */
    OK(DOMAIN, name, name);
    snprintf(dotted, sizeof(dotted), "%s.", name);
    OK(DOMAIN, dotted, name); /* the root label's dot does not count */
    snprintf(name, sizeof(name), "%s.%s.%s.%s", label63, label63, label63, label63);
    name[254] = '\0';
    BAD(DOMAIN, name, "is longer than 253 characters");

    BAD(DOMAIN, "localhost", "has only one label (a bare host name is not a domain indicator)");
    BAD(DOMAIN, "localhost.", "has only one label (a bare host name is not a domain indicator)");
    BAD(DOMAIN, "1.2.3.4", "has an all-numeric top-level label (not a domain name)");
    BAD(DOMAIN, "example.123", "has an all-numeric top-level label (not a domain name)");
    /* Internationalised names are kept in their ASCII form (RFC 5890/3492). */
    OK(DOMAIN,
        "b\xc3\xbc"
        "cher.de",
        "xn--bcher-kva.de");
    OK(DOMAIN, "M\xc3\x9c" "NCHEN.De", "xn--mnchen-3ya.de");
    OK(DOMAIN, "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84",
        "xn--e1afmkfd.xn--p1ai"); /* пример.рф */
    OK(DOMAIN, "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.\xd1\x80\xd1\x84",
        "xn--e1afmkfd.xn--p1ai"); /* ПРИМЕР.рф */
    OK(DOMAIN, "\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
        "xn--r8jz45g.xn--zckzah"); /* 例え.テスト */
    OK(DOMAIN, "\xe4\xbe\x8b\xe3\x81\x88\xe3\x80\x82\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
        "xn--r8jz45g.xn--zckzah"); /* 例え。テスト: the ideographic full stop */
    OK(DOMAIN, "stra\xc3\x9f" "e.example", "xn--strae-oqa.example");
    /* IANA's IDN test names (Arabic, Chinese, Greek, Russian, Hindi, Korean, Yiddish, Tamil),
     * whose A-labels are published. */
    static const char *const iana[][2] = {
        { "\u0645\u062b\u0627\u0644.\u0625\u062e\u062a\u0628\u0627\u0631",
            "xn--mgbh0fb.xn--kgbechtv" },
        { "\u4f8b\u5b50.\u6d4b\u8bd5", "xn--fsqu00a.xn--0zwm56d" },
        { "\u03c0\u03b1\u03c1\u03ac\u03b4\u03b5\u03b9\u03b3\u03bc\u03b1."
          "\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae",
            "xn--hxajbheg2az3al.xn--jxalpdlp" },
        { "\u043f\u0440\u0438\u043c\u0435\u0440."
          "\u0438\u0441\u043f\u044b\u0442\u0430\u043d\u0438\u0435",
            "xn--e1afmkfd.xn--80akhbyknj4f" },
        { "\u0909\u0926\u093e\u0939\u0930\u0923.\u092a\u0930\u0940\u0915\u094d"
          "\u0937\u093e",
            "xn--p1b6ci4b4b3a.xn--11b5bs3a9aj6g" },
        { "\uc2e4\ub840.\ud14c\uc2a4\ud2b8", "xn--9n2bp8q.xn--9t4b11yi5a" },
        { "\u05d1\u05f2\u05b7\u05e9\u05e4\u05bc\u05d9\u05dc.\u05d8\u05e2\u05e1\u05d8",
            "xn--fdbk5d8ap9b8a8d.xn--deba0ad" },
        { "\u0b89\u0ba4\u0bbe\u0bb0\u0ba3\u0bae\u0bcd."
          "\u0baa\u0bb0\u0bbf\u0b9f\u0bcd\u0b9a\u0bc8",
            "xn--zkc6cc5bi7f6e.xn--hlcj6aya9esc7a" },
    };
    for (size_t i = 0; i < sizeof(iana) / sizeof(iana[0]); i++) {
        OK(DOMAIN, iana[i][0], iana[i][1]);
    }
    /* RFC 3492 section 7.1 sample (B), Chinese, as a label. */
    OK(DOMAIN,
        "\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9\x88\xe4\xb8\x8d"
        "\xe8\xaf\xb4\xe4\xb8\xad\xe6\x96\x87.example",
        "xn--ihqwcrb4cv8a8dqg056pqjye.example");
    /* A-labels must be valid, canonical Punycode of visible characters. */
    OK(DOMAIN, "XN--BCHER-KVA.example", "xn--bcher-kva.example");
    OK(DOMAIN, "xn--e28h.ws", "xn--e28h.ws"); /* an emoji name, as registries sell them */
    /* ... checked for values new to kawan; stored ones are read as they are. */
    OK_SAME(DOMAIN, "xn--zz.example");
    assert_string_equal(kw_value_new_check(KW_OBS_DOMAIN, "xn--zz.example", 14),
        "has an xn-- label that is not valid Punycode");
    assert_string_equal(kw_value_new_check(KW_OBS_DOMAIN, "a.xn--a.example", 15),
        "has an xn-- label that is not valid Punycode"); /* U+0080 */
    assert_null(kw_value_new_check(KW_OBS_DOMAIN, "xn--bcher-kva.example", 21));
    assert_non_null(kw_value_new_check(KW_OBS_URL, "http://u@xn--zz.example:8080/x", 30));
    assert_null(kw_value_new_check(KW_OBS_URL, "http://xn--zz@xn--bcher-kva.example/", 36));
    assert_non_null(kw_value_new_check(KW_OBS_EMAIL, "a@xn--zz.example", 16));
    assert_null(kw_value_new_check(KW_OBS_IPV4, "192.0.2.1", 9));
    /* Capital I with dot is i and a combining dot, as UTS 46 has it. */
    OK(DOMAIN, "\u0130stanbul.tr", "xn--istanbul-o0e.tr");
    OK(DOMAIN, "\u1e9e.example", "xn--zca.example"); /* capital sharp s */
    /* Refused rather than turned into an A-label that is not the name's. */
    BAD(DOMAIN, "bu\u0308cher.example",
        "is not in Unicode NFC form (a letter and a separate combining accent); write it "
        "composed, or in its xn-- form");
    BAD(DOMAIN, "\u216b.example",
        "contains U+216B, which kawan does not take in a domain name (give its xn-- form if it "
        "is a real one)");
    BAD(DOMAIN, "\ufb00.example",
        "contains U+FB00, which kawan does not take in a domain name (give its xn-- form if it "
        "is a real one)");
    BAD(DOMAIN, "\U0001f600.example",
        "contains U+1F600, which kawan does not take in a domain name (give its xn-- form if it "
        "is a real one)");
    BAD(DOMAIN, "-b\xc3\xbc.example", "has a label that starts with '-'");
    BAD(DOMAIN, "a..\xff", "contains bytes that are not UTF-8");
    BAD(DOMAIN, "zero\xe2\x80\x8bwidth.example",
        "contains U+200B, an invisible, space or control character no name holds");
    BAD(DOMAIN, "nb\xc2\xa0sp.example",
        "contains U+00A0, an invisible, space or control character no name holds");
    BAD(DOMAIN, "-example.com", "has a label that starts with '-'");
    BAD(DOMAIN, "www.-example.com", "has a label that starts with '-'");
    BAD(DOMAIN, "example-.com", "has a label that ends with '-'");
    BAD(DOMAIN, "example.com-", "has a label that ends with '-'");
    BAD(DOMAIN, "a..b", "has an empty label");
    BAD(DOMAIN, ".example.com", "has an empty label");
    BAD(DOMAIN, "example.com..", "has an empty label");
    BAD(DOMAIN, ".", "has an empty label");
    BAD(DOMAIN, "exa mple.com", "contains whitespace");
    BAD(DOMAIN, "exa\tmple.com", "contains whitespace");
    BAD(DOMAIN, "*.example.com", "contains a '*' wildcard; give the domain without it");
    BAD(DOMAIN, "example.com:80", "contains ':' (a port or an IPv6 address is not a domain)");
    BAD(DOMAIN, "example.com/x", "contains '/' (a URL or path is not a domain)");
    BAD(DOMAIN, "a@example.com", "contains '@' (an e-mail address is not a domain)");
    BAD(DOMAIN, "exa!mple.com", "contains a character not allowed in a domain name");
    BAD(DOMAIN, "ex%41mple.com", "contains a character not allowed in a domain name");
    BADN(DOMAIN, "ex\0ample.com", "contains a character not allowed in a domain name");
}

/* ---- URLs ---------------------------------------------------------------------------- */

static void test_url(void **state)
{
    (void)state;
    OK_SAME(URL, "http://example.com");
    OK_SAME(URL, "http://example.com/");
    OK(URL, "HTTP://EXAMPLE.COM/Path/To?Q=1&R=%7E#Frag",
        "http://example.com/Path/To?Q=1&R=%7E#Frag");
    OK(URL, "http://example.com:80/", "http://example.com/");
    OK(URL, "http://example.com:80", "http://example.com");
    OK(URL, "https://example.com:443/x", "https://example.com/x");
    OK(URL, "HTTPS://example.com:0443/x", "https://example.com/x");
    OK(URL, "http://example.com:0080/", "http://example.com/");
    OK_SAME(URL, "http://example.com:443/");
    OK_SAME(URL, "https://example.com:80/");
    OK(URL, "http://example.com:08080/", "http://example.com:8080/");
    OK_SAME(URL, "http://example.com:65535/");
    OK_SAME(URL, "http://example.com:1/");
    OK_SAME(URL, "ftp://ftp.example.com:21/pub");
    OK(URL, "http://User:Pass@Example.com:8080/x", "http://User:Pass@example.com:8080/x");
    OK(URL, "http://a@b@Example.com/", "http://a@b@example.com/");
    OK(URL, "http://[2001:DB8:0::1]:8080/", "http://[2001:db8::1]:8080/");
    OK(URL, "https://[2001:db8::1]:443", "https://[2001:db8::1]");
    OK_SAME(URL, "http://[::ffff:1.2.3.4]/");
    OK_SAME(URL, "http://1.2.3.4/x.exe");
    OK_SAME(URL, "http://1.2.3.4:8080");
    OK_SAME(URL, "http://localhost:3000/");
    OK(URL, "http://LOCALHOST/", "http://localhost/");
    OK(URL, "http://example.com./", "http://example.com/");
    OK_SAME(URL, "http://exa_mple.com/");
    OK_SAME(URL, "http://xn--bcher-kva.de/");
    OK_SAME(URL, "http://example.com?q=1");
    OK_SAME(URL, "http://example.com#top");
    OK_SAME(URL, "svn+ssh://host.example/repo");
    OK(URL, "Web+Cal.1://h.example/", "web+cal.1://h.example/");
    OK_SAME(URL, "hxxp://example.com/");
    OK_SAME(URL, "http://example.com/\xd0\xbf\xd1\x83\xd1\x82\xd1\x8c?\xc3\xa9#\xf0\x9f\x98\x80");
    OK_SAME(URL, "http://example.com/a\\b");
    OK(URL, "  http://example.com/x  \r\n", "http://example.com/x");

    BAD(URL, "example.com/x", "is not a URL (no scheme://)");
    BAD(URL, "mailto:a@example.com", "is not a URL (no scheme://)");
    BAD(URL, "http:/example.com", "is not a URL (no scheme://)");
    BAD(URL, "://example.com", "is not a URL (empty scheme)");
    BAD(URL, "1http://example.com", "is not a URL (scheme must start with a letter)");
    BAD(URL, "ht_tp://example.com", "is not a URL (invalid character in the scheme)");
    BAD(URL, "http://", "has an empty host");
    BAD(URL, "http:///etc/passwd", "has an empty host");
    BAD(URL, "file:///etc/passwd", "has an empty host");
    BAD(URL, "http://:80/", "has an empty host");
    BAD(URL, "http://user@/", "has an empty host");
    BAD(URL, "http://?q", "has an empty host");
    BAD(URL, "http://exa mple.com/", "contains a space");
    BAD(URL, "http://example.com/a b", "contains a space");
    BAD(URL, "http://example.com/\x01", "contains a control character");
    BAD(URL, "http://example.com/a\tb", "contains a control character");
    BAD(URL, "http://example.com/a\nb", "contains a control character");
    BAD(URL, "http://example.com/\x7f", "contains a control character");
    BADN(URL, "http://example.com/\0", "contains a control character");
    BAD(URL, "http://example.com/\xc3", "contains invalid UTF-8");
    BAD(URL, "http://example.com/\xc0\xaf", "contains invalid UTF-8");
    BAD(URL, "http://example.com/\xed\xa0\x80", "contains invalid UTF-8");
    BAD(URL, "http://example.com/\xf4\x90\x80\x80", "contains invalid UTF-8");
    BAD(URL, "http://example.com/\xe9t\xe9", "contains invalid UTF-8");
    BAD(URL, "http://example.com:0/", "has a port out of range (1-65535)");
    BAD(URL, "http://example.com:000/", "has a port out of range (1-65535)");
    BAD(URL, "http://example.com:65536/", "has a port out of range (1-65535)");
    BAD(URL, "http://example.com:99999999999999999999/", "has a port out of range (1-65535)");
    BAD(URL, "http://example.com:/", "has an empty port");
    BAD(URL, "http://example.com:8a/", "has a port that is not a number");
    BAD(URL, "http://example.com:80:80/", "has a port that is not a number");
    BAD(URL, "http://[::1/", "has an unterminated '[' in the host");
    BAD(URL, "http://[::1]x/", "has characters after the ']' of the host");
    BAD(URL, "http://[fe80::1%25eth0]/",
        "has an invalid IPv6 host (zone ids such as %eth0 are not allowed)");
    BAD(URL, "http://[1.2.3.4]/", "has an invalid IPv6 host (fewer than 8 groups and no '::')");
    BAD(URL, "http://[]/", "has an invalid IPv6 host (fewer than 8 groups and no '::')");
    BAD(URL, "http://1.2.3.999/", "has an invalid IPv4 host (octet out of range)");
    BAD(URL, "http://1.2.3/", "has an invalid IPv4 host (fewer than 4 octets)");
    BAD(URL, "http://2130706433/", "has an invalid IPv4 host (octet out of range)");
    BAD(URL, "http://127/", "has an invalid IPv4 host (fewer than 4 octets)");
    BAD(URL, "http://01.2.3.4/", "has an invalid IPv4 host (leading zero in octet)");
    BAD(URL, "http://0x7f.0.0.1/", "has an all-numeric top-level label (not a domain name)");
    BAD(URL, "http://a.123/", "has an all-numeric top-level label (not a domain name)");
    OK(URL,
        "http://b\xc3\xbc"
        "cher.de/",
        "http://xn--bcher-kva.de/");
    BAD(URL, "http://-x.example/", "has a label that starts with '-'");
    BAD(URL, "http://a..example/", "has an empty label");
    BAD(URL, "http://%65xample.com/", "contains a character not allowed in a domain name");
    BAD(URL, "http://evil.example\\@good.example/",
        "has '\\' in the authority (parsers disagree on its host)");
}

/* ---- E-mail -------------------------------------------------------------------------- */

static void test_email(void **state)
{
    char local64[65], local65[66], label63[64], addr[400];

    (void)state;
    OK_SAME(EMAIL, "user@example.com");
    OK(EMAIL, "User.Name+tag@Example.COM.", "User.Name+tag@example.com");
    OK_SAME(EMAIL, "a!#$%&'*+/=?^_`{|}~-@example.com");
    OK_SAME(EMAIL, "x@xn--bcher-kva.de");
    OK_SAME(EMAIL, "x@sub_domain.example.com");
    rep(local64, 'a', 64);
    snprintf(addr, sizeof(addr), "%s@example.com", local64);
    OK(EMAIL, addr, addr);
    /* 64 + 1 + 189 = 254 bytes, the limit. */
    rep(label63, 'b', 63);
    snprintf(addr, sizeof(addr), "%s@%s.%s.%s", local64, label63, label63, label63);
    assert_int_equal(strlen(addr), 256);
    addr[254] = '\0';
    OK(EMAIL, addr, addr);
    snprintf(addr, sizeof(addr), "%s@%s.%s.%s", local64, label63, label63, label63);
    addr[255] = '\0';
    BAD(EMAIL, addr, "is longer than 254 characters");

    BAD(EMAIL, "userexample.com", "is not an e-mail address (no '@')");
    BAD(EMAIL, "a@b@example.com", "is not an e-mail address (more than one '@')");
    BAD(EMAIL, "@example.com", "has an empty local part");
    BAD(EMAIL, "user@", "has an empty domain");
    rep(local65, 'a', 65);
    snprintf(addr, sizeof(addr), "%s@example.com", local65);
    BAD(EMAIL, addr, "has a local part longer than 64 characters");
    BAD(EMAIL, ".user@example.com", "has a local part that starts or ends with a dot");
    BAD(EMAIL, "user.@example.com", "has a local part that starts or ends with a dot");
    BAD(EMAIL, ".@example.com", "has a local part that starts or ends with a dot");
    BAD(EMAIL, "us..er@example.com", "has two dots in a row in the local part");
    BAD(EMAIL, "us er@example.com", "has a character not allowed in the local part");
    BAD(EMAIL, "\"quoted\"@example.com", "has a character not allowed in the local part");
    BAD(EMAIL, "a(b)@example.com", "has a character not allowed in the local part");
    BADN(EMAIL, "a\0b@example.com", "has a character not allowed in the local part");
    BAD(EMAIL, "\xc3\xbcser@example.com", "has non-ASCII characters in the local part");
    BAD(EMAIL, "user@localhost", "has only one label (a bare host name is not a domain indicator)");
    BAD(EMAIL, "user@[1.2.3.4]", "contains a character not allowed in a domain name");
    BAD(EMAIL, "user@1.2.3.4", "has an all-numeric top-level label (not a domain name)");
    OK(EMAIL,
        "user@b\xc3\xbc"
        "cher.de",
        "user@xn--bcher-kva.de");
    BAD(EMAIL, "user@-example.com", "has a label that starts with '-'");
    BAD(EMAIL, "user@example..com", "has an empty label");
}

/* ---- Hashes -------------------------------------------------------------------------- */

static void test_hashes(void **state)
{
    static const char sha512[] = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                                 "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
    char up[200];

    (void)state;
    OK_SAME(MD5, "d41d8cd98f00b204e9800998ecf8427e");
    OK(MD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e");
    OK_SAME(SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    OK(SHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709 ",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    OK_SAME(SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    OK(SHA256, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    OK_SAME(SHA512, sha512);
    for (size_t i = 0; i < sizeof(sha512); i++) {
        up[i] = (sha512[i] >= 'a' && sha512[i] <= 'f') ? (char)(sha512[i] - 32) : sha512[i];
    }
    OK(SHA512, up, sha512);

    BAD(MD5, "d41d8cd98f00b204e9800998ecf8427", "is not an MD5 hash (needs exactly 32 hex digits)");
    BAD(MD5, "d41d8cd98f00b204e9800998ecf8427e0",
        "is not an MD5 hash (needs exactly 32 hex digits)");
    BAD(MD5, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "is not an MD5 hash (needs exactly 32 hex digits)");
    BAD(MD5, "g41d8cd98f00b204e9800998ecf8427e",
        "is not an MD5 hash (contains a non-hex character)");
    BAD(MD5, "0xd41d8cd98f00b204e9800998ecf8427e",
        "is not an MD5 hash (contains a non-hex character)");
    BAD(MD5, "d41d8cd98f00b204 e9800998ecf8427e",
        "is not an MD5 hash (contains a non-hex character)");
    BAD(SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd8070",
        "is not a SHA-1 hash (needs exactly 40 hex digits)");
    BAD(SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd8070z",
        "is not a SHA-1 hash (contains a non-hex character)");
    BAD(SHA256, "d41d8cd98f00b204e9800998ecf8427e",
        "is not a SHA-256 hash (needs exactly 64 hex digits)");
    BAD(SHA256, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "is not a SHA-256 hash (contains a non-hex character)");
    BAD(SHA512, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "is not a SHA-512 hash (needs exactly 128 hex digits)");
    BAD(SHA512, "\xc3\xa9", "is not a SHA-512 hash (contains a non-hex character)");
}

/* ---- File names and STIX patterns ---------------------------------------------------- */

static void test_filename(void **state)
{
    char name[300];

    (void)state;
    OK_SAME(FILENAME, "evil.exe");
    OK_SAME(FILENAME, "Invoice 2024 (copy).PDF.exe");
    OK_SAME(FILENAME, "r\xc3\xa9sum\xc3\xa9.docm");
    OK_SAME(FILENAME, "C:\\Users\\x\\evil.exe");
    OK_SAME(FILENAME, "..");
    OK(FILENAME, "  payload.bin\r\n", "payload.bin");
    OK(FILENAME, rep(name, 'f', 255), name);
    BAD(FILENAME, rep(name, 'f', 256), "is longer than 255 bytes");
    BAD(FILENAME, "tmp/evil.sh", "contains '/'; give the file name without its directory");
    BAD(FILENAME, "/", "contains '/'; give the file name without its directory");
    BADN(FILENAME, "a\0b.exe", "contains a NUL byte");
    BAD(FILENAME, "a\tb.exe", "contains a control character");
    BAD(FILENAME, "a\nb.exe", "contains a control character");
    BAD(FILENAME, "a\x7f.exe", "contains a control character");
    BAD(FILENAME, "\xff.exe", "contains invalid UTF-8");
    BAD(FILENAME, "\xe9t\xe9.exe", "contains invalid UTF-8");
}

static void test_stix_pattern(void **state)
{
    (void)state;
    OK_SAME(STIX_PATTERN, "[file:name = 'x']");
    OK_SAME(STIX_PATTERN, "[file:hashes.'SHA-256' = 'e3b0'] AND [ipv4-addr:value = '1.2.3.4']");
    OK(STIX_PATTERN, "  [a:b = 'c']\r\n", "[a:b = 'c']");
    OK_SAME(STIX_PATTERN, "[a:b = 'x'\n  AND c:d = 'y']");
    OK_SAME(STIX_PATTERN, "[]");
    OK_SAME(STIX_PATTERN, "[file:name = 'r\xc3\xa9sum\xc3\xa9']");

#define NOT_STIX "is not a STIX pattern (must start with '[' or '(' and hold a [...] comparison)"
    BAD(STIX_PATTERN, "file:name = 'x'", NOT_STIX);
    BAD(STIX_PATTERN, "[a", NOT_STIX);
    BAD(STIX_PATTERN, "a]", NOT_STIX);
    BAD(STIX_PATTERN, "[", NOT_STIX);
    BAD(STIX_PATTERN, "]", NOT_STIX);
    BAD(STIX_PATTERN, "(a OR b)", NOT_STIX);
    /* Grouped patterns and trailing qualifiers are valid STIX. */
    OK_SAME(STIX_PATTERN, "([a:b = 'x'] OR [c:d = 'y'])");
    OK_SAME(STIX_PATTERN, "[a:b = 'x'] WITHIN 300 SECONDS");
    BADN(STIX_PATTERN, "[a\0]", "contains a NUL byte");
    BAD(STIX_PATTERN, "[a = '\xff']", "contains invalid UTF-8");
}

/* ---- Detection ----------------------------------------------------------------------- */

static void test_detect(void **state)
{
    (void)state;
    DET("1.2.3.4", IPV4, "1.2.3.4");
    DET(" 8.8.8.8\n", IPV4, "8.8.8.8");
    DET("::1", IPV6, "::1");
    DET("2001:DB8:0:0:1:0:0:1", IPV6, "2001:db8::1:0:0:1");
    DET("::ffff:1.2.3.4", IPV6, "::ffff:1.2.3.4");
    DET("::", IPV6, "::");
    DET("10.0.0.0/8", CIDR, "10.0.0.0/8");
    DET("2001:DB8::/32", CIDR, "2001:db8::/32");
    /* A host prefix is the address itself, as the importers have it. */
    DET("198.51.100.7/32", IPV4, "198.51.100.7");
    DET("2001:DB8::1/128", IPV6, "2001:db8::1");
    DET("198.51.100.0/31", CIDR, "198.51.100.0/31");
    DET("d41d8cd98f00b204e9800998ecf8427e", MD5, "d41d8cd98f00b204e9800998ecf8427e");
    DET("12345678901234567890123456789012", MD5, "12345678901234567890123456789012");
    DET("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", SHA1,
        "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    DET("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", SHA256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    DET("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        SHA512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    DET("User@Example.COM", EMAIL, "User@example.com");
    DET("http://user@example.com/", URL, "http://user@example.com/");
    DET("HTTPS://Example.com:443/a@b", URL, "https://example.com/a@b");
    DET("ftp://[::1]:21/", URL, "ftp://[::1]:21/");
    DET("Example.COM.", DOMAIN, "example.com");
    DET("1.2.3.4.example", DOMAIN, "1.2.3.4.example");
    DET("deadbeef.com", DOMAIN, "deadbeef.com");
    DET("xn--bcher-kva.de", DOMAIN, "xn--bcher-kva.de");
    /* A file extension that is no TLD names a file, kept as written; one that is a TLD
     * (.zip, .mov, .py) leaves a domain. */
    DET("invoice.exe", FILENAME, "invoice.exe");
    DET("Payment_Advice.PDF", FILENAME, "Payment_Advice.PDF");
    DET("update.dll", FILENAME, "update.dll");
    DET("readme.txt", FILENAME, "readme.txt");
    DET("Suape.ini.", FILENAME, "Suape.ini.");
    /* A whole STIX pattern, by its grammar. */
    DET("[file:name = 'x']", STIX_PATTERN, "[file:name = 'x']");
    DET("([ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example']) WITHIN 5 "
        "SECONDS",
        STIX_PATTERN,
        "([ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'a.example']) WITHIN 5 "
        "SECONDS");
    /* Read as a domain, the name ends in .jpg once the ideographic full stop is a dot. */
    DET("\xef\xbc\x91\xef\xbc\x93.\xc7\x91\xe3\x80\x82jpg", FILENAME,
        "\xef\xbc\x91\xef\xbc\x93.\xc7\x91\xe3\x80\x82jpg");
    DET("a..exe", FILENAME, "a..exe");
    DET("archive.zip", DOMAIN, "archive.zip");
    DET("clip.mov", DOMAIN, "clip.mov");
    DET("exe.example", DOMAIN, "exe.example");

    /* Broken values get the reason for the type they were meant to be. */
    DET_BAD("1.2.3.999", IPV4, "is not an IPv4 address (octet 999 out of range)");
    DET_BAD("01.2.3.4", IPV4, "is not an IPv4 address (leading zero in octet)");
    DET_BAD("1.2.3", IPV4, "is not an IPv4 address (fewer than 4 octets)");
    DET_BAD("1.2.3.4.", IPV4, "is not an IPv4 address (trailing dot)");
    DET_BAD("evil.example:443", NONE,
        "is a host and port; give the address or domain without the port");
    DET_BAD("[2001:db8::66]:8443", NONE,
        "is a host and port; give the address or domain without the port");
    DET_BAD("1.2.3.4:80", IPV4,
        "is not an IPv4 address (contains ':'; give the address without a port)");
    DET_BAD(
        "fe80::1%eth0", IPV6, "is not an IPv6 address (zone ids such as %eth0 are not allowed)");
    DET_BAD("1::2::3", IPV6, "is not an IPv6 address (more than one '::')");
    DET_BAD("10.0.0.1/8", CIDR, "has host bits set for prefix /8");
    DET_BAD("198.51.100.7/032", CIDR, "is not a CIDR block (leading zero in prefix length)");
    DET_BAD("999.1.1.1/32", IPV4, "is not an IPv4 address (octet 999 out of range)");
    DET_BAD("0.0.0.0/0", CIDR, "is not an indicator (a /0 block is every address)");
    DET_BAD("10.0.0.0/33", CIDR, "is not a CIDR block (IPv4 prefix length must be 0-32)");
    DET_BAD("2001:db8::1/32", CIDR, "has host bits set for prefix /32");
    DET_BAD("a..b@example.com", EMAIL, "has two dots in a row in the local part");
    DET_BAD(
        "user@localhost", EMAIL, "has only one label (a bare host name is not a domain indicator)");
    DET_BAD("http://1.2.3.999/", URL, "has an invalid IPv4 host (octet out of range)");
    DET_BAD("http://exa mple.com/", URL, "contains a space");
    DET("b\xc3\xbc"
        "cher.de",
        DOMAIN, "xn--bcher-kva.de");
    DET_BAD("-evil.com", DOMAIN, "has a label that starts with '-'");
    DET_BAD("evil..com", DOMAIN, "has an empty label");
    DET_BAD("*.evil.com", DOMAIN, "contains a '*' wildcard; give the domain without it");
    DET_BAD("example.123", DOMAIN, "has an all-numeric top-level label (not a domain name)");

    /* Nothing fits. */
#define UNREC "is not a recognised indicator (IP, CIDR, domain, URL, e-mail or hash)"
    DET_BAD("localhost", NONE, UNREC);
    DET_BAD("hello world", NONE, UNREC);
    DET_BAD("deadbeef", NONE, UNREC);
    DET_BAD("d41d8cd98f00b204e9800998ecf8427e0", NONE, UNREC);
    DET_BAD("evil.com:8080", NONE, "is a host and port; give the address or domain without the port");
    DET_BAD("evil.com:", NONE, UNREC);
    DET_BAD("evil.com:80a", NONE, UNREC);
    DET_BAD("C:\\evil.exe", NONE, UNREC);
    DET_BAD("[::1]", NONE, "is an address in brackets; give it without them");
    DET_BAD("sha256:d41d8cd98f00b204e9800998ecf8427e", NONE,
        "is named for a hash of another length (count its hex digits)");
    DET_BAD("SHA-1: d41d8cd98f00b204e9800998ecf8427e", NONE,
        "is named for a hash of another length (count its hex digits)");
    DET_BAD("[198.51.100.1]", NONE, "is an address in brackets; give it without them");
    DET_BAD("[evil.example]", NONE, UNREC);
    DET_BAD("[file:name = ]", NONE, UNREC);
    DET_BAD("evil.com/x.php", NONE, "is a URL without a scheme (add http:// or similar)");
    DET_BAD("evil.com:8080/x.php", NONE, "is a URL without a scheme (add http:// or similar)");
    DET_BAD("1.2.3.4/x.php", NONE, "is a URL without a scheme (add http:// or similar)");
    DET_BAD("/wp-admin/x.php", NONE, "is a path without a host (not a URL)");
    DET_BAD("/a@evil.com", NONE, "is a path without a host (not a URL)");
    DET_BAD("evil.example/@eaDir/x/", NONE, "is a URL without a scheme (add http:// or similar)");
    DET_BAD("user@evil.example/x", NONE, UNREC);
    DET_BAD("", NONE, "is empty");
    DET_BAD(" \r\n", NONE, "is empty");
#undef UNREC
}

/* ---- Idempotence --------------------------------------------------------------------- */

static void test_idempotence(void **state)
{
    static const struct {
        kw_obs_type type;
        const char *in;
    } cases[] = {
        { KW_OBS_IPV4, " 1.2.3.4 " },
        { KW_OBS_IPV6, "2001:0DB8:0:0:1:0:0:1" },
        { KW_OBS_IPV6, "0:0:0:1::8" },
        { KW_OBS_IPV6, "::FFFF:0102:0304" },
        { KW_OBS_IPV6, "::1.2.3.4" },
        { KW_OBS_CIDR, "2001:0db8:0000::/48" },
        { KW_OBS_CIDR, "::ffff:10.0.0.0/104" },
        { KW_OBS_DOMAIN, "Example.COM." },
        { KW_OBS_URL, "HTTP://User@Example.COM.:0080/a?b#c" },
        { KW_OBS_URL, "https://[0:0:0:1::8]:00443" },
        { KW_OBS_URL, "http://a@b@LOCALHOST:8080" },
        { KW_OBS_EMAIL, "Mixed.Case@Example.COM." },
        { KW_OBS_MD5, "D41D8CD98F00B204E9800998ECF8427E" },
        { KW_OBS_FILENAME, " r\xc3\xa9sum\xc3\xa9.exe " },
        { KW_OBS_STIX_PATTERN, "\t[a:b = 'c']\n" },
    };
    char first[KW_VALUE_MAX + 1];
    size_t n1, n2;
    kw_obs_type t1, t2;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(kw_value_normalise(cases[i].type, cases[i].in, strlen(cases[i].in), first,
                             sizeof(first), &n1, NULL),
            KW_ERR_OK);
        assert_int_equal(
            kw_value_normalise(cases[i].type, first, n1, out, sizeof(out), &n2, NULL), KW_ERR_OK);
        assert_string_equal(first, out);
        if (cases[i].type <= KW_OBS_SHA512) {
            assert_int_equal(kw_value_detect(cases[i].in, strlen(cases[i].in), &t1, first,
                                 sizeof(first), &n1, NULL),
                KW_ERR_OK);
            assert_int_equal(
                kw_value_detect(first, n1, &t2, out, sizeof(out), &n2, NULL), KW_ERR_OK);
            assert_int_equal(t1, t2);
            assert_string_equal(first, out);
        }
    }
}

/* ---- Real indicator lists ------------------------------------------------------------ */

#define CORPUS_SAMPLE 3000

typedef struct corpus_case {
    const char *file;
    kw_obs_type type;
    double min_ok;       /* share that must normalise as type */
    double min_detected; /* share that detection must give as type */
} corpus_case;

/*
 * Reads about CORPUS_SAMPLE lines spread evenly over the file (the files are sorted, so the
 * first lines alone would be a poor sample) and checks how many normalise.
 */
static void run_corpus(const char *root, const corpus_case *c)
{
    char path[1024], line[8192], norm[KW_VALUE_MAX + 1];
    struct stat st;
    size_t total = 0, ok = 0, detected = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/iocs/%s", root, c->file);
    if (stat(path, &st) != 0 || (f = fopen(path, "r")) == NULL) {
        fail_msg("cannot open %s", path);
        return;
    }
    for (size_t i = 0; i < CORPUS_SAMPLE; i++) {
        long off = (long)((double)st.st_size * (double)i / CORPUS_SAMPLE);
        if (fseek(f, off, SEEK_SET) != 0) {
            break;
        }
        if (off > 0 && fgets(line, sizeof(line), f) == NULL) { /* skip to a line start */
            break;
        }
        if (fgets(line, sizeof(line), f) == NULL) {
            break;
        }
        size_t len = strcspn(line, "\n");
        const char *why = NULL;
        kw_obs_type t = KW_OBS_NONE;
        size_t n = 0;
        total++;
        if (kw_value_normalise(c->type, line, len, norm, sizeof(norm), &n, &why) == KW_ERR_OK) {
            ok++;
            /* Idempotence on real data too. */
            char again[KW_VALUE_MAX + 1];
            assert_int_equal(
                kw_value_normalise(c->type, norm, n, again, sizeof(again), &n, NULL), KW_ERR_OK);
            assert_string_equal(norm, again);
        }
        if (kw_value_detect(line, len, &t, norm, sizeof(norm), &n, &why) == KW_ERR_OK
            && t == c->type) {
            detected++;
        }
    }
    fclose(f);
    assert_true(total > 0);
    print_message("  %-40s %5zu sampled, %6.2f%% normalise as %s, %6.2f%% detected as such\n",
        c->file, total, 100.0 * (double)ok / (double)total, kw_obs_type_name(c->type),
        100.0 * (double)detected / (double)total);
    if ((double)ok < c->min_ok * (double)total
        || (double)detected < c->min_detected * (double)total) {
        fail_msg("%s: too few values accepted", c->file);
    }
    if (c->min_ok == 0.0 && ok > total / 100) {
        fail_msg("%s: values that should be rejected were accepted", c->file);
    }
}

static void test_corpora(void **state)
{
    static const corpus_case cases[] = {
        { "malicious/domains.txt", KW_OBS_DOMAIN, 0.999, 0.999 },
        { "malicious/ipv4.txt", KW_OBS_IPV4, 1.0, 1.0 },
        { "malicious/urls.txt", KW_OBS_URL, 0.999, 0.999 },
        { "malicious/md5.txt", KW_OBS_MD5, 1.0, 1.0 },
        { "malicious/sha1.txt", KW_OBS_SHA1, 1.0, 1.0 },
        { "malicious/sha256.txt", KW_OBS_SHA256, 1.0, 1.0 },
        { "benign/tranco-top10k-domains.txt", KW_OBS_DOMAIN, 1.0, 1.0 },
        { "benign/public-dns-resolvers-ipv4.txt", KW_OBS_IPV4, 1.0, 1.0 },
        { "benign/false-positive-md5.txt", KW_OBS_MD5, 1.0, 1.0 },
        { "benign/false-positive-sha1.txt", KW_OBS_SHA1, 1.0, 1.0 },
        { "benign/false-positive-sha256.txt", KW_OBS_SHA256, 1.0, 1.0 },
        /* Maltrail's scheme-less and path-only trails are not URLs as they stand. */
        { "malicious/urls-noscheme.txt", KW_OBS_URL, 0.0, 0.0 },
        { "malicious/url-paths.txt", KW_OBS_URL, 0.0, 0.0 },
    };
    const char *root = getenv("KW_CORPORA");
    char probe[1024];
    struct stat st;

    (void)state;
    if (root == NULL || root[0] == '\0') {
        print_message("KW_CORPORA is not set; skipping the corpus sample\n");
        skip();
    }
    snprintf(probe, sizeof(probe), "%s/iocs", root);
    if (stat(probe, &st) != 0) {
        print_message("%s does not exist; skipping the corpus sample\n", probe);
        skip();
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_corpus(root, &cases[i]);
    }
}

static void expect_refang(const char *in, const char *want, size_t changes)
{
    char res[256];
    size_t len = 0;

    assert_int_equal(kw_value_refang(in, strlen(in), res, sizeof(res), &len), changes);
    assert_string_equal(res, want);
    assert_int_equal(len, strlen(want));
}

static void test_refang(void **state)
{
    char small[4];
    size_t len = 99;
    (void)state;

    expect_refang("hxxp://evil[.]example/a", "http://evil.example/a", 2);
    expect_refang("HXXPS[://]evil(.)example", "https://evil.example", 3);
    expect_refang("hXXp[:]//a{.}b[DOT]c", "http://a.b.c", 4);
    expect_refang("fxp://files[.]example", "ftp://files.example", 2);
    expect_refang("192.0.2[.]1", "192.0.2.1", 1);
    expect_refang("user[at]example(dot)org", "user@example.org", 2);
    expect_refang("user[@]example.org", "user@example.org", 1);
    expect_refang("2001:db8[:]:1", "2001:db8::1", 1);
    /* Left alone: plain values, IPv6 hosts in brackets, "hxxp" that is not a scheme. */
    /* Past a URL's authority, parentheses are path characters; brackets never are. */
    expect_refang("http://evil.example/a(.)b", "http://evil.example/a(.)b", 0);
    expect_refang("hxxp://evil(.)example/x(.)y?q=a[at]b", "http://evil.example/x(.)y?q=a@b", 3);
    expect_refang("hxxps[://]evil[.]example[/]p(.)q", "https://evil.example/p(.)q", 4);
    expect_refang("http://e(.)x?a(at)b", "http://e.x?a(at)b", 1);
    expect_refang("evil.example", "evil.example", 0);
    expect_refang("hxxps://evil.example/a", "https://evil.example/a", 1);
    expect_refang("fxp:files.example", "ftp:files.example", 1);
    /* A scheme stand-in needs a colon after it: these are host names, defanged. */
    expect_refang("fxp[.]example[.]net", "fxp.example.net", 2);
    expect_refang("hxxps[.]example[.]org", "hxxps.example.org", 2);
    expect_refang("sfxp[at]example.org", "sfxp@example.org", 1);
    expect_refang("hxtp[.]evil[.]example", "hxtp.evil.example", 2);
    expect_refang("http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x", 0);
    expect_refang("[::1]", "[::1]", 0);
    expect_refang("hxxpfoo.example", "hxxpfoo.example", 0);
    expect_refang("a.hxxp://b", "a.hxxp://b", 0);
    expect_refang("", "", 0);
    /* The result is then validated as usual. */
    {
        char fang[64], norm[KW_VALUE_MAX + 1];
        size_t flen = 0, olen = 0;
        kw_obs_type t;
        assert_int_equal(kw_value_refang("hxxps://Evil[.]Example/P", 24, fang, sizeof(fang), &flen), 2);
        assert_int_equal(kw_value_detect(fang, flen, &t, norm, sizeof(norm), &olen, NULL), KW_ERR_OK);
        assert_int_equal(t, KW_OBS_URL);
        assert_string_equal(norm, "https://evil.example/P");
    }
    /* No room for the value and its NUL: nothing written. */
    assert_int_equal(kw_value_refang("a[.]b", 5, small, sizeof(small), &len), 0);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_common),
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6_rfc5952),
        cmocka_unit_test(test_ipv6_embedded_ipv4),
        cmocka_unit_test(test_ipv6_rejects),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_domain),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_filename),
        cmocka_unit_test(test_stix_pattern),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_refang),
        cmocka_unit_test(test_idempotence),
        cmocka_unit_test(test_corpora),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
