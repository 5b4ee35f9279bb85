/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stix-sample FILE: writes a STIX 2.1 export holding one indicator of every observable type at
 * every TLP level, from two origins (one named, one known only by its node id), with every
 * optional field exercised somewhere. tests/e2e/test_stix_schema.sh validates the result
 * against the OASIS schemas.
 */
#include <stdio.h>
#include <string.h>

#include "bundle/bundle.h"
#include "bundle/stix.h"
#include "bundle/timefmt.h"
#include "bundle/value.h"

static const struct {
    kw_obs_type type;
    const char *value;
} samples[] = {
    { KW_OBS_IPV4, "198.51.100.7" },
    { KW_OBS_IPV6, "2001:db8::7" },
    { KW_OBS_CIDR, "198.51.100.0/24" },
    { KW_OBS_CIDR, "2001:db8::/48" },
    { KW_OBS_DOMAIN, "bad.example" },
    { KW_OBS_URL, "http://bad.example/path?q='x'" },
    { KW_OBS_EMAIL, "phish@bad.example" },
    { KW_OBS_MD5, "d41d8cd98f00b204e9800998ecf8427e" },
    { KW_OBS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
    { KW_OBS_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { KW_OBS_SHA512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
    { KW_OBS_FILENAME, "C:\\Users\\it's.exe" },
    { KW_OBS_STIX_PATTERN, "[process:name = 'a.exe' OR process:name = 'b.exe']" },
};

int main(int argc, char **argv)
{
    static const char *labels[] = { "apt", "sample" };
    static const char *types[] = { "malicious-activity" };
    static kw_kill_chain_phase phases[] = { { "lockheed-martin-cyber-kill-chain", "delivery" } };
    uint8_t origin_a[32], origin_b[32];
    kw_stix_writer *w = NULL;
    unsigned n = 0;
    FILE *f;
    kw_err rc = KW_ERR_OK;

    if (argc != 2) {
        fprintf(stderr, "usage: stix-sample FILE\n");
        return 2;
    }
    for (int i = 0; i < 32; i++) {
        origin_a[i] = (uint8_t)(i * 7 + 1);
        origin_b[i] = (uint8_t)(255 - i);
    }
    if ((f = fopen(argv[1], "w")) == NULL) {
        perror(argv[1]);
        return 1;
    }
    if ((rc = kw_stix_writer_new(&w, f)) != KW_ERR_OK) {
        goto out;
    }
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        for (int t = 0; t <= KW_TLP_MAX; t++) {
            kw_indicator ind;
            bool odd = (n % 2) == 1;

            memset(&ind, 0, sizeof(ind));
            kw_uuid_random(ind.id);
            ind.type = samples[s].type;
            ind.value = samples[s].value;
            ind.value_len = (uint32_t)strlen(ind.value);
            ind.created = 1767225600000 + (int64_t)n * 1001;
            ind.modified = ind.created + 60000;
            ind.valid_from = odd ? 0 : ind.created; /* 0: written as created */
            /* Every third has a valid_until, one of them not after valid_from (left out). */
            ind.valid_until = n % 3 == 0 ? ind.created + 86400000 : n % 3 == 1 ? ind.created : 0;
            ind.confidence = odd ? -1 : (int)(n % 101);
            ind.revoked = n % 7 == 0;
            ind.name = n % 4 == 0 ? "Sample indicator" : NULL;
            ind.description = odd ? "Line one\nline \"two\" \xc3\xa9" : NULL;
            if (!odd) {
                ind.labels = labels;
                ind.n_labels = 2;
                ind.indicator_types = types;
                ind.n_indicator_types = 1;
                ind.kill_chain_phases = phases;
                ind.n_kill_chain_phases = 1;
            }
            rc = kw_stix_writer_add(
                w, &ind, (kw_tlp)t, odd ? origin_a : origin_b, odd ? "CERT-SAMPLE" : NULL);
            if (rc != KW_ERR_OK) {
                goto out;
            }
            n++;
        }
    }
    rc = kw_stix_writer_finish(w);
out:
    kw_stix_writer_free(w);
    if (fclose(f) != 0 && rc == KW_ERR_OK) {
        rc = KW_ERR_IO;
    }
    if (rc != KW_ERR_OK) {
        fprintf(stderr, "stix-sample: %s\n", kw_strerror(rc));
        return 1;
    }
    printf("stix-sample: %u indicators written to %s\n", n, argv[1]);
    return 0;
}
