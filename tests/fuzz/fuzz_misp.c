/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes kw_misp_import_event_json with one MISP event document. The first byte picks the
 * mode (bit 0: skip_invalid; bits 1-3: the default TLP), the rest is the JSON. Invariants,
 * each an abort() when broken:
 *   - every indicator handed to the sink has a known typed observable (MISP never yields raw
 *     patterns), a value in normalised form, lists within the bundle limits and a TLP level
 *     in range;
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

static kw_err sink(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    uint64_t *calls = ctx;
    char norm[KW_VALUE_MAX + 1];
    size_t len = 0;

    check(ind->type >= KW_OBS_IPV4 && ind->type < KW_OBS_STIX_PATTERN);
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
    check((unsigned)tlp <= KW_TLP_MAX);
    (*calls)++;
    return KW_ERR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kw_import_report rep;
    uint64_t calls = 0;
    bool skip;
    kw_tlp def;
    kw_err rc;

    if (size < 1) {
        return 0;
    }
    skip = (data[0] & 1) != 0;
    def = (kw_tlp)(((data[0] >> 1) & 7) % (KW_TLP_MAX + 1));
    rc = kw_misp_import_event_json(
        (const char *)data + 1, size - 1, "fuzz", def, skip, sink, &calls, &rep);
    check(rep.n_issues <= KW_IMPORT_MAX_ISSUES);
    check(rep.typed == rep.indicators && rep.raw == 0);
    check(rep.non_indicators + rep.invalid + rep.unsupported <= rep.objects);
    check(memchr(rep.first_error, '\0', sizeof(rep.first_error)) != NULL);
    if (rc != KW_ERR_OK) {
        check(calls == 0); /* the checks run before the sink in both modes */
        check(rep.first_error[0] != '\0');
    } else {
        check(calls == rep.indicators);
        check(skip || rep.invalid == 0);
    }
    return 0;
}
