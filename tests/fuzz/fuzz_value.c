/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes kw_value_normalise and kw_value_detect. The first byte picks the type (0 = detect,
 * 1..12 = the kw_obs_type with that number); the rest is the value. Invariants, each an
 * abort() when broken:
 *   - an accepted value gives a NUL-terminated output of at most KW_VALUE_MAX bytes with no
 *     NUL inside, and normalising that output again gives it back unchanged (idempotence);
 *   - detection agrees with normalising as the detected type (for an address detected from a
 *     block with a host prefix, "192.0.2.1/32", normalising what precedes the '/');
 *   - a rejected value gets a non-empty reason and an empty output;
 *   - for ipv4 and ipv6 the verdict matches glibc's inet_pton, the address is the same, and
 *     the IPv6 text matches inet_ntop except where glibc prints the deprecated
 *     IPv4-compatible form (::a.b.c.d), which RFC 5952 does not ask for.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static kw_err run(bool detect, kw_obs_type *type, const char *in, size_t n, char *out, size_t *len,
    const char **why)
{
    if (detect) {
        return kw_value_detect(in, n, type, out, KW_VALUE_MAX + 1, len, why);
    }
    return kw_value_normalise(*type, in, n, out, KW_VALUE_MAX + 1, len, why);
}

static bool is_trim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Compares our ipv4/ipv6 verdict and output with glibc's. */
static void check_against_libc(
    kw_obs_type type, const char *in, size_t n, kw_err rc, const char *out)
{
    char text[128];
    char ntop[INET6_ADDRSTRLEN];
    uint8_t a[16], b[16];
    int af = type == KW_OBS_IPV4 ? AF_INET : AF_INET6;

    while (n > 0 && is_trim(in[0])) {
        in++;
        n--;
    }
    while (n > 0 && is_trim(in[n - 1])) {
        n--;
    }
    if (n >= sizeof(text) || memchr(in, '\0', n) != NULL) {
        return; /* inet_pton cannot see such input the way we do. */
    }
    memcpy(text, in, n);
    text[n] = '\0';
    int libc_ok = inet_pton(af, text, a) == 1;
    check(libc_ok == (rc == KW_ERR_OK));
    if (!libc_ok) {
        return;
    }
    check(inet_pton(af, out, b) == 1);
    check(memcmp(a, b, af == AF_INET ? 4 : 16) == 0);
    check(inet_ntop(af, a, ntop, sizeof(ntop)) != NULL);
    if (af == AF_INET || strchr(ntop, '.') == NULL || strncmp(ntop, "::ffff:", 7) == 0) {
        check(strcmp(ntop, out) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[KW_VALUE_MAX + 1], again[KW_VALUE_MAX + 1], typed[KW_VALUE_MAX + 1];
    const char *why = NULL, *why2 = NULL;
    size_t len = 0, len2 = 0;
    kw_obs_type type, type2;
    char *in = NULL;
    bool detect;
    kw_err rc;

    if (size == 0) {
        return 0;
    }
    detect = data[0] % (KW_OBS_MAX + 1) == 0;
    type = (kw_obs_type)(data[0] % (KW_OBS_MAX + 1));
    /* An exact-size heap copy, so the sanitizer sees any read past the end. */
    if ((in = malloc(size - 1)) == NULL && size > 1) {
        return 0;
    }
    if (size > 1) {
        memcpy(in, data + 1, size - 1);
    }
    memset(out, 0x5a, sizeof(out));

    rc = run(detect, &type, in, size - 1, out, &len, &why);
    if (rc != KW_ERR_OK) {
        check(rc == KW_ERR_INVAL);
        check(why != NULL && why[0] != '\0');
        check(len == 0 && out[0] == '\0');
        goto done;
    }
    check(len <= KW_VALUE_MAX);
    check(out[len] == '\0');
    check(strlen(out) == len);
    check(len > 0);
    check(type >= 1 && type <= KW_OBS_MAX);

    /* Idempotence: the normalised form is its own normal form, and detects the same way. */
    type2 = type;
    check(run(detect, &type2, out, len, again, &len2, &why2) == KW_ERR_OK);
    check(type2 == type && len2 == len && memcmp(out, again, len + 1) == 0);

    if (detect) {
        const char *slash = memchr(in, '/', size - 1);
        size_t n = size - 1;
        if (slash != NULL && (type == KW_OBS_IPV4 || type == KW_OBS_IPV6)) {
            n = (size_t)(slash - in);
        }
        type2 = type;
        check(run(false, &type2, in, n, typed, &len2, &why2) == KW_ERR_OK);
        check(len2 == len && memcmp(out, typed, len + 1) == 0);
    }
done:
    /* Refanging never lengthens a value, and a value it leaves alone comes out unchanged. */
    {
        static char fang[KW_VALUE_MAX * 4];
        size_t flen = 0;
        if (size - 1 < sizeof(fang)) {
            size_t changes = kw_value_refang(in, size - 1, fang, sizeof(fang), &flen);
            check(flen <= size - 1 && fang[flen] == '\0');
            check(changes > 0 || (flen == size - 1 && memcmp(fang, in, flen) == 0));
        }
    }
    if (!detect && (type == KW_OBS_IPV4 || type == KW_OBS_IPV6)) {
        check_against_libc(type, in, size - 1, rc, out);
    }
    free(in);
    return 0;
}
