/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes kw_stix_import. The first byte picks the mode (bit 0: skip_invalid; bits 1-3: the
 * default TLP), the rest is the document. Invariants, each an abort() when broken:
 *   - every indicator handed to the sink has a known type, a value of value_len bytes that is
 *     in normalised form (normalising it again gives it back), lists within the bundle
 *     limits, and a TLP level in range;
 *   - without skip_invalid, an error means the sink was never called;
 *   - the report adds up (typed + raw == indicators == sink calls on success; the issue list
 *     is bounded);
 *   - whatever was imported can be exported with the STIX writer and imported again, giving
 *     the same number of indicators of the same types and values.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "bundle/stix.h"
#include "bundle/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

typedef struct sink_state {
    kw_bundle *b;
    kw_tlp tlps[64];
    uint64_t calls;
} sink_state;

static kw_err sink(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    sink_state *s = ctx;
    char norm[KW_VALUE_MAX + 1];
    size_t len = 0;

    check(ind->type >= KW_OBS_IPV4 && ind->type <= KW_OBS_MAX);
    check(ind->value != NULL && strlen(ind->value) == ind->value_len);
    check(kw_value_normalise(ind->type, ind->value, ind->value_len, norm, sizeof(norm), &len, NULL)
        == KW_ERR_OK);
    check(len == ind->value_len && memcmp(norm, ind->value, len) == 0);
    check(ind->n_labels <= KW_BUNDLE_MAX_LIST && ind->n_indicator_types <= KW_BUNDLE_MAX_LIST
        && ind->n_kill_chain_phases <= KW_BUNDLE_MAX_LIST);
    check(ind->confidence >= -1 && ind->confidence <= 100);
    check((unsigned)tlp <= KW_TLP_MAX);
    if (s->calls < 64) {
        s->tlps[s->calls] = tlp;
    }
    s->calls++;
    /* Only the first 64 are kept for the round trip: enough, and bounded. */
    if (s->b->n < 64) {
        check(kw_bundle_copy_indicator(s->b, ind, NULL) == KW_ERR_OK);
    }
    return KW_ERR_OK;
}

static void round_trip(sink_state *s)
{
    static const uint8_t origin[32] = { 1, 2, 3 };
    kw_stix_writer *w = NULL;
    kw_import_report rep;
    sink_state again = { 0 };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    check(f != NULL);
    check(kw_stix_writer_new(&w, f) == KW_ERR_OK);
    for (uint32_t i = 0; i < s->b->n; i++) {
        check(kw_stix_writer_add(w, &s->b->items[i], s->tlps[i], origin, "fuzz") == KW_ERR_OK);
    }
    check(kw_stix_writer_finish(w) == KW_ERR_OK);
    kw_stix_writer_free(w);
    check(fclose(f) == 0);
    check(kw_bundle_new(&again.b) == KW_ERR_OK);
    if (kw_stix_import(buf, len, "again", KW_TLP_CLEAR, false, sink, &again, &rep) != KW_ERR_OK) {
        fprintf(stderr, "re-import failed: %s\n", rep.first_error);
        abort();
    }
    check(again.b->n == s->b->n);
    for (uint32_t i = 0; i < s->b->n; i++) {
        check(again.b->items[i].type == s->b->items[i].type);
        check(strcmp(again.b->items[i].value, s->b->items[i].value) == 0);
        check(memcmp(again.b->items[i].id, s->b->items[i].id, 16) == 0);
        check(again.tlps[i] == s->tlps[i]);
    }
    kw_bundle_free(again.b);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kw_import_report rep;
    sink_state s = { 0 };
    bool skip;
    kw_tlp def;
    kw_err rc;

    if (size < 1) {
        return 0;
    }
    skip = (data[0] & 1) != 0;
    def = (kw_tlp)(((data[0] >> 1) & 7) % (KW_TLP_MAX + 1));
    check(kw_bundle_new(&s.b) == KW_ERR_OK);
    rc = kw_stix_import((const char *)data + 1, size - 1, "fuzz", def, skip, sink, &s, &rep);
    check(rep.n_issues <= KW_IMPORT_MAX_ISSUES);
    check(rep.typed + rep.raw == rep.indicators);
    check(memchr(rep.first_error, '\0', sizeof(rep.first_error)) != NULL);
    if (rc != KW_ERR_OK) {
        check(s.calls == 0); /* the checks run before the sink in both modes */
        check(rep.first_error[0] != '\0');
    } else {
        check(s.calls == rep.indicators);
        check(skip || rep.invalid == 0);
        round_trip(&s);
    }
    kw_bundle_free(s.b);
    return 0;
}
