/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the parsers of values typed on the command line and read from settings: times,
 * TLP levels, node ids, community keys, indicator ids, HOST:PORT and observable types.
 * Invariants: ids that parse print back to an equivalent text; times that parse format
 * and parse back to the same instant.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "bundle/timefmt.h"
#include "bundle/tlp.h"
#include "crypto/id.h"
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[300];
    int64_t t, t2;
    kw_tlp tlp;
    kw_obs_type type;
    uint8_t key[32], key2[32], uuid[16];
    char host[128];
    uint16_t port;

    if (size >= sizeof(s)) {
        size = sizeof(s) - 1;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (kw_time_parse(s, &t) == KW_ERR_OK && t > -62135596800000LL && t < 253402300799000LL) {
        char out[40];
        kw_time_format(out, sizeof(out), t);
        if (kw_time_parse(out, &t2) != KW_ERR_OK || t2 != t) {
            abort();
        }
    }
    (void)kw_time_parse_cli(s, 1764300000000LL, &t);
    (void)kw_tlp_parse(s, &tlp);
    (void)kw_obs_type_parse(s, &type);
    if (kw_id_decode(key, s) == KW_ERR_OK) {
        char out[KW_ID_TEXT_LEN];
        kw_id_encode(out, key);
        if (kw_id_decode(key2, out) != KW_ERR_OK || memcmp(key, key2, 32) != 0) {
            abort();
        }
    }
    (void)kw_community_decode(key, s);
    if (kw_indicator_id_parse(s, uuid) == KW_ERR_OK) {
        char out[48];
        uint8_t u2[16];
        kw_indicator_id_format(out, uuid);
        if (kw_indicator_id_parse(out, u2) != KW_ERR_OK || memcmp(uuid, u2, 16) != 0) {
            abort();
        }
    }
    (void)kw_hostport_parse(s, host, sizeof(host), &port);
    return 0;
}
