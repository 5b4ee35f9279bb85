/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_IMPORT_H
#define KW_BUNDLE_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "bundle/tlp.h"
#include "crypto/err.h"

/*
 * What the importers of foreign formats (STIX 2.1 JSON: bundle/stix.h, MISP: bundle/misp.h)
 * share: the sink that receives each indicator and the report of what was read.
 */

/*
 * Receives one imported indicator and its TLP level. The indicator and every string it points
 * to are borrowed: they are valid only during the call, so the sink copies what it keeps
 * (kw_bundle_add + kw_bundle_strdup). A sink that returns anything but KW_ERR_OK stops the
 * import, which then returns that error.
 *
 * An indicator with revoked set is one the source has revoked (STIX "revoked": true). One
 * with type KW_OBS_NONE is a withdrawal: only its id, modified (= created = valid_from) and
 * revoked (true) are set, no value. The MISP importer gives one for each attribute that is
 * deleted, in a deleted object, or not for detection (to_ids false): that is how MISP takes
 * an indicator back. A sink that holds an earlier version of such an id revokes it;
 * otherwise there is nothing to take back.
 */
typedef kw_err (*kw_import_sink)(void *ctx, const kw_indicator *ind, kw_tlp tlp);

/* How many problem lines a report keeps; later ones are only counted. */
#define KW_IMPORT_MAX_ISSUES 20u
#define KW_IMPORT_ISSUE_LEN 512u
/* How many distinct unsupported source types a report counts one by one. */
#define KW_IMPORT_MAX_TYPES 32u

typedef struct kw_import_issue {
    bool invalid; /* true: an invalid item (an error); false: an unsupported one (skipped) */
    char text[KW_IMPORT_ISSUE_LEN]; /* "<file>: <object id>: <what is wrong>" */
} kw_import_issue;

typedef struct kw_import_type_count {
    char type[64]; /* the source's type name, e.g. "yara" (MISP) or "snort" (STIX pattern_type) */
    uint64_t n;
} kw_import_type_count;

/*
 * Filled by every import call (zeroed first). Items are counted as follows:
 *   STIX: objects = objects read; indicators = indicator objects accepted (given to the sink
 *         when the import succeeds); non_indicators = objects of any other type;
 *         invalid = indicator objects that break the rules; unsupported = indicators whose
 *         pattern_type is not "stix" (or whose spec_version is not 2.1).
 *   MISP: events = events read (for an attribute search result: the distinct events of its
 *         attributes' Event summaries); objects = attributes read (Object attributes included);
 *         non_indicators = attributes without to_ids, deleted, or in a deleted object (each
 *         also given to the sink as a withdrawal when the import runs); indicators = indicators
 *         made (a domain|ip attribute makes two); invalid = to_ids attributes whose value
 *         does not normalise, that lack a uuid, or whose distribution (or their Object's,
 *         event's or manifest entry's) is not 0-5; unsupported = to_ids attributes of a type
 *         kawan does not carry (counted per type in types[]).
 * typed + raw == indicators: raw ones are kept as a whole STIX pattern (type stix-pattern).
 */
typedef struct kw_import_report {
    uint64_t objects;
    uint64_t indicators;
    uint64_t non_indicators;
    uint64_t invalid;
    uint64_t unsupported;
    uint64_t events; /* MISP only */
    uint64_t typed; /* indicators of a typed observable (ipv4, url, ...) */
    uint64_t raw; /* indicators kept as stix-pattern */
    uint64_t by_tlp[KW_TLP_MAX + 1]; /* accepted indicators per TLP level */
    char first_error[512]; /* the first invalid item or the fatal error, or "" */
    kw_import_issue issues[KW_IMPORT_MAX_ISSUES]; /* the first invalid/unsupported items */
    uint32_t n_issues;
    kw_import_type_count types[KW_IMPORT_MAX_TYPES]; /* unsupported items per source type */
    uint32_t n_types;
    uint64_t types_other; /* unsupported items whose type did not fit in types[] */
    /* STIX: valid indicator objects left out because the input also holds a newer version
     * of the same id (or, for the same version, one marked more restrictively); they are
     * not in indicators. */
    uint64_t superseded;
    /* STIX: accepted indicators that reference a marking that is neither a TLP marking kawan
     * knows nor a marking-definition in the input, and the first such reference. */
    uint64_t unknown_markings;
    char unknown_marking[128];
    /* MISP: to_ids attributes of distribution 0 ("your organisation only") in the
     * attribute, its Object, its event or the feed manifest: not shared, and withdrawn like
     * non-indicators (docs/interop.md, "MISP distribution"). */
    uint64_t org_only;
} kw_import_report;

/*
 * Internal helpers shared by the importers (bundle/stix.c). Not for other modules.
 */

/* Adds an issue line (printf format) and, for an invalid one, sets first_error if unset. */
void kw__import_issue(kw_import_report *rep, bool invalid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets rep->first_error to "<label>:<line>:<column>: <what>" for a document jansson refused,
 * in words that name the problem rather than jansson's flags. */
struct json_error_t;
void kw__import_json_error(kw_import_report *rep, const char *label, const struct json_error_t *e);

/* Counts one unsupported item of the given source type. */
void kw__import_count_type(kw_import_report *rep, const char *type);

/*
 * Parses an IPv4/IPv6 address or CIDR (the STIX ipv4-addr/ipv6-addr value and MISP ip-*
 * forms) and normalises it: a host prefix (/32, /128) gives the address type, other prefixes
 * cidr. want_family is 4, 6 or 0 (either). out must hold KW_VALUE_MAX + 1 bytes.
 */
kw_err kw__import_addr(const char *in, size_t len, int want_family, kw_obs_type *type, char *out,
    size_t *out_len, const char **why);

/* s for a message: s itself when shorter than cap, else its start and "..." in buf. */
const char *kw__import_clip(char *buf, size_t cap, const char *s);

/* Fills a version 5 (SHA-1, RFC 4122) UUID of name in namespace ns. */
void kw__uuid_v5(uint8_t out[static 16], const uint8_t ns[static 16], const void *name, size_t len);

#endif
