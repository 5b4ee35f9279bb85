/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_STIX_H
#define KW_BUNDLE_STIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bundle/bundle.h"
#include "bundle/import.h"
#include "bundle/tlp.h"
#include "crypto/err.h"

/*
 * STIX 2.1 JSON: import of indicators and a streaming export. The mapping in both directions
 * (patterns, TLP marking ids, what is skipped) is in docs/interop.md.
 */

/*
 * Imports the indicators of a STIX 2.1 document: a bundle ({"type":"bundle","objects":[...]}),
 * a TAXII 2.1 envelope ({"more":false,"objects":[...]}, objects may be absent), a single
 * object, or a JSON array of objects (a bundle in such an array is read in its place).
 * json/len need not be NUL-terminated; the caller bounds len. file_label names the input in
 * messages (NULL: "<input>").
 *
 * Each valid indicator is passed to sink once (only the newest version of an id), with its TLP
 * level taken from its object_marking_refs and granular markings (the most restrictive TLP
 * marking wins; unmarked: default_tlp), raised to the level of every container (an object
 * with object_refs: report, grouping, ...) that references it when that is stricter.
 * Objects of other types are counted and skipped; indicators with a pattern_type other than
 * "stix" are counted and listed as unsupported.
 *
 * Errors:
 *  - KW_ERR_DECODE: malformed JSON or not a STIX document; rep->first_error holds
 *    "<file>:<line>:<column>: <reason>" for JSON syntax errors.
 *  - KW_ERR_INVAL: an indicator breaks the rules (missing property, bad id or timestamp,
 *    confidence out of range, a value that does not normalise, a list or text over the
 *    bundle.h limits). Without skip_invalid the whole import fails and the sink has not been
 *    called at all (everything is checked first). With skip_invalid the valid indicators go
 *    to the sink, each invalid one is counted and listed in rep, and the result is KW_ERR_OK.
 *  - whatever the sink returns, when it is not KW_ERR_OK (the import stops there).
 * rep must not be NULL; it is zeroed first.
 */
kw_err kw_stix_import(const char *json, size_t len, const char *file_label, kw_tlp default_tlp,
    bool skip_invalid, kw_import_sink sink, void *ctx, kw_import_report *rep);

/* What kw_stix_import_marks tells its sink about the TLP of one indicator. */
typedef struct kw_stix_marks {
    /* A marking ref of the indicator, or of a container that references it, is neither a TLP
     * marking kawan knows nor defined in the input (say, its marking-definition came in an
     * earlier file or TAXII page): the level handed over may be laxer than the producer's. */
    bool unresolved;
    /* A container (an object with object_refs: report, grouping, note, ...) that references
     * the indicator is marked stricter than the indicator itself: its level was raised. */
    bool by_container;
} kw_stix_marks;

/* As kw_import_sink, with marks (borrowed for the call). */
typedef kw_err (*kw_stix_sink)(
    void *ctx, const kw_indicator *ind, kw_tlp tlp, const kw_stix_marks *marks);

/* As kw_stix_import, for a sink that also learns how each indicator's level was found. */
kw_err kw_stix_import_marks(const char *json, size_t len, const char *file_label,
    kw_tlp default_tlp, bool skip_invalid, kw_stix_sink sink, void *ctx, kw_import_report *rep);

/*
 * The STIX pattern of one typed indicator: "[ipv4-addr:value = '198.51.100.7']", with ' and \
 * in the value escaped as \' and \\; a stix-pattern value is returned as it is. Writes at most
 * cap bytes including the NUL. KW_ERR_INVAL for an unknown type, KW_ERR_TOOBIG when cap is
 * too small (2 * KW_VALUE_MAX + 64 always suffices).
 */
kw_err kw_stix_pattern_build(char *buf, size_t cap, kw_obs_type type, const char *value);

/*
 * Parses a STIX pattern: a single comparison "[<path> = '<value>']" on a supported object path
 * (see docs/interop.md) gives the typed indicator, its value normalised into out (which must
 * hold KW_VALUE_MAX + 1 bytes). Anything else that is a plausible pattern gives
 * KW_OBS_STIX_PATTERN with the trimmed pattern text in out. KW_ERR_INVAL (with *why) when a
 * supported comparison holds a value that does not normalise, or the pattern is empty or too
 * long.
 */
kw_err kw_stix_pattern_parse(const char *pattern, size_t len, kw_obs_type *type, char *out,
    size_t *out_len, const char **why);

/*
 * Whether p[0..n) is a pattern by the STIX 2.1 patterning grammar (section 9): observations
 * in '[' ']' joined by AND, OR and FOLLOWEDBY, with START/STOP, WITHIN and REPEATS
 * qualifiers (numbers of 0 or more); comparisons of an object path with a literal (=, ==,
 * !=, <>, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS, NOT); string
 * literals with only \' and \\ as escapes; t'...', h'...' and b'...' literals checked;
 * comments and Unicode white space skipped. Nesting deeper than 64 levels is refused. When
 * it is not a pattern, *why (may be NULL) names the first problem.
 */
bool kw__stix_pattern_valid(const char *p, size_t n, const char **why);

/* The length of the white space s[0..n) starts with, in the pattern grammar's sense (ASCII
 * blanks and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000,
 * in UTF-8), or 0. */
size_t kw__stix_ws_len(const char *s, size_t n);

/*
 * Streaming STIX 2.1 writer. The output is one bundle
 *   {"type":"bundle","id":"bundle--<uuid4>","objects":[ ... ]}
 * written object by object (one per line), so exports of millions of indicators never sit in
 * memory. For each indicator the writer first emits, once per bundle, the identity object of
 * its origin (a deterministic id derived from the origin key, so re-exports agree) and the
 * TLP 2.0 marking-definition object of its level, then the indicator.
 *
 * The writer does not decide TLP policy: it writes whatever it is given. The caller filters
 * out what may not leave the node (kw_tlp_may_export_plain, docs/tlp.md) before calling
 * kw_stix_writer_add.
 */
typedef struct kw_stix_writer kw_stix_writer;

/* Starts a bundle on f (borrowed: the writer never closes it). KW_ERR_IO on write errors. */
kw_err kw_stix_writer_new(kw_stix_writer **out, FILE *f);

/*
 * Writes one indicator with its TLP level, origin key and the origin's display name
 * (origin_name may be NULL: the node id "kw1..." is used). ind is borrowed for the call.
 * KW_ERR_INVAL for an indicator that cannot be written (unknown type, text that is not
 * UTF-8), KW_ERR_IO on write errors, KW_ERR_NOMEM.
 */
kw_err kw_stix_writer_add(kw_stix_writer *w, const kw_indicator *ind, kw_tlp tlp,
    const uint8_t origin[static 32], const char *origin_name);

/* Closes the bundle and flushes f. KW_ERR_IO on write errors. No add after finish. */
kw_err kw_stix_writer_finish(kw_stix_writer *w);

/* Frees the writer (without finishing the bundle). Accepts NULL. */
void kw_stix_writer_free(kw_stix_writer *w);

/* The TLP 2.0 marking-definition id of a level, "marking-definition--...". */
const char *kw_stix_tlp_marking_id(kw_tlp tlp);

/*
 * Maps a marking-definition id to a TLP level: the TLP 2.0 ids, the TLP 1.0 ids and the
 * OpenCTI AMBER+STRICT id (exact matches only). KW_ERR_NOTFOUND for any other id.
 */
kw_err kw_stix_tlp_from_marking_id(const char *id, kw_tlp *out);

/*
 * The STIX identity id of an origin, "identity--<uuid>", where the uuid is a version 5 UUID
 * over the 32 key bytes in kawan's namespace (docs/interop.md). buf must hold 48 bytes.
 */
void kw_stix_identity_id(char *buf, const uint8_t origin[static 32]);

#endif
