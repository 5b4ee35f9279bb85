/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes kw_misp_import_event_json with one MISP event document. The first byte picks the
 * mode (bit 0: skip_invalid; bits 1-3: the default TLP), the rest is the JSON. Invariants,
 * each an abort() when broken:
 *   - every indicator handed to the sink has a known observable type (stix-pattern only for
 *     stix2-pattern attributes, counted as raw), a value in normalised form, lists within the
 *     bundle limits and a TLP level in range;
 *   - every withdrawal (bundle/import.h) has no type and no value, is revoked and has a time,
 *     and there are at most two per attribute that is not an indicator or not to be shared;
 *   - without skip_invalid, an error means the sink was never called;
 *   - on success the sink saw exactly rep.indicators indicators; the report adds up.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "bundle/misp.h"
#include "bundle/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

typedef struct calls {
    uint64_t indicators;
    uint64_t withdrawals;
} calls;

static kw_err sink(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    calls *n = ctx;
    char norm[KW_VALUE_MAX + 1];
    size_t len = 0;

    check((unsigned)tlp <= KW_TLP_MAX);
    if (ind->type == KW_OBS_NONE) {
        check(ind->revoked && ind->value == NULL && ind->value_len == 0);
        check(ind->modified > 0 && ind->created == ind->modified);
        n->withdrawals++;
        return KW_ERR_OK;
    }
    check(ind->type >= KW_OBS_IPV4 && ind->type <= KW_OBS_STIX_PATTERN);
    check(ind->value != NULL && strlen(ind->value) == ind->value_len);
    check(kw_value_normalise(ind->type, ind->value, ind->value_len, norm, sizeof(norm), &len, NULL)
        == KW_ERR_OK);
    check(len == ind->value_len && memcmp(norm, ind->value, len) == 0);
    check(ind->n_labels <= KW_BUNDLE_MAX_LIST);
    for (uint32_t i = 0; i < ind->n_labels; i++) {
        check(ind->labels[i] != NULL && strlen(ind->labels[i]) <= 1024);
    }
    check(ind->name == NULL || strlen(ind->name) <= 1024);
    check(ind->description == NULL || strlen(ind->description) <= KW_BUNDLE_MAX_TEXT);
    check(ind->created > 0 && ind->modified == ind->created);
    n->indicators++;
    return KW_ERR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kw_import_report rep;
    calls n = { 0, 0 };
    bool skip;
    kw_tlp def;
    kw_err rc;

    if (size < 1) {
        return 0;
    }
    skip = (data[0] & 1) != 0;
    def = (kw_tlp)(((data[0] >> 1) & 7) % (KW_TLP_MAX + 1));
    rc = kw_misp_import_event_json(
        (const char *)data + 1, size - 1, "fuzz", def, skip, sink, &n, &rep);
    check(rep.n_issues <= KW_IMPORT_MAX_ISSUES);
    check(rep.typed + rep.raw == rep.indicators);
    check(rep.non_indicators + rep.org_only + rep.invalid + rep.unsupported <= rep.objects);
    check(memchr(rep.first_error, '\0', sizeof(rep.first_error)) != NULL);
    if (rc != KW_ERR_OK) {
        check(n.indicators == 0 && n.withdrawals == 0); /* checks run before the sink */
        check(rep.first_error[0] != '\0');
    } else {
        check(n.indicators == rep.indicators);
        check(n.withdrawals <= 2 * (rep.non_indicators + rep.org_only));
        check(skip || rep.invalid == 0);
    }
    return 0;
}
