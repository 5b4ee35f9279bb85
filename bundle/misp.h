/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_MISP_H
#define KW_BUNDLE_MISP_H

#include <stdbool.h>
#include <stddef.h>

#include "bundle/import.h"
#include "bundle/tlp.h"
#include "bundle/value.h"
#include "crypto/err.h"

/*
 * MISP import: a MISP feed directory (manifest.json and one <event uuid>.json per event), a
 * single MISP event export, or the result of an attribute search (POST /attributes/restSearch).
 * Attributes with to_ids set become indicators; the type mapping is in docs/interop.md.
 */

/* Largest event or manifest file read, checked before reading. */
#define KW_MISP_MAX_FILE (64u * 1024u * 1024u)
/* Most events one manifest may list. */
#define KW_MISP_MAX_EVENTS 1000000u
/* Most attributes one attribute search result may hold. */
#define KW_MISP_MAX_ATTRIBUTES 1000000u

/*
 * Imports from path, which is a feed directory, its manifest.json, or a single event file
 * ({"Event": {...}}, {"response": [{"Event": {...}}, ...]} or a JSON array of {"Event"}), or
 * an attribute search result ({"response": {"Attribute": [...]}}, or the bare
 * {"Attribute": [...]} when it is the only key and its first attribute holds an Event
 * summary). A search result's attribute is imported as it would be in its event: its Event
 * summary ({"distribution", "info", "uuid", ...}) stands for the event and its Object summary
 * for the Object; one without an Event summary, or with a summary that is not an object, is
 * invalid. rep->events counts the distinct Event uuids of a search result.
 *
 * Every indicator goes to sink with the TLP of the event's (or attribute's) tlp: tag, the
 * most restrictive one when there are several; default_tlp when there is none; raised, when
 * stricter, to the floor of the MISP distribution (the narrowest of the attribute's, its
 * Object's, its event's and the manifest's: 1 and 2 GREEN, 4 AMBER; docs/interop.md). An
 * attribute with distribution 0 at any of those levels is not imported (rep->org_only); one
 * with a distribution that is not 0-5 is invalid.
 *
 * Errors: KW_ERR_IO / KW_ERR_NOTFOUND for unreadable files, KW_ERR_TOOBIG for a file over
 * KW_MISP_MAX_FILE, a manifest over KW_MISP_MAX_EVENTS or a search result over
 * KW_MISP_MAX_ATTRIBUTES, KW_ERR_DECODE for malformed JSON
 * ("<file>:<line>:<column>: <reason>") or a file that is not a MISP event, manifest or
 * attribute search result (or whose Attribute list is not a list),
 * KW_ERR_INVAL for invalid to_ids attributes (the message names the file and the attribute
 * uuid). Without skip_invalid every file is checked before the first sink call, so on an
 * invalid attribute the sink has not been called at all; with skip_invalid invalid attributes
 * are counted and listed and the rest is imported. The files are read twice (check, then
 * import); a file that changes in between fails the import with KW_ERR_IO, possibly after
 * earlier events reached the sink, so a caller discards what it got on any error.
 * Unsupported to_ids types are counted per type in rep and are not an error.
 * rep must not be NULL; it is zeroed first.
 */
kw_err kw_misp_import(const char *path, kw_tlp default_tlp, bool skip_invalid, kw_import_sink sink,
    void *ctx, kw_import_report *rep);

/*
 * Imports one MISP event document or attribute search result held in memory (same forms and
 * rules as a single file above). file_label names it in messages (NULL: "<input>"). This is also the fuzzing
 * entry point.
 */
kw_err kw_misp_import_event_json(const char *json, size_t len, const char *file_label,
    kw_tlp default_tlp, bool skip_invalid, kw_import_sink sink, void *ctx, kw_import_report *rep);

/* One MISP attribute value as kawan indicator values (kw_misp_convert). */
typedef struct kw_misp_value {
    kw_obs_type type; /* the indicator */
    char value[KW_VALUE_MAX + 1];
    size_t len;
    kw_obs_type type2; /* domain|ip: the address, a second indicator; else KW_OBS_NONE */
    char value2[KW_VALUE_MAX + 1];
    size_t len2;
    const char *name; /* filename|<hash>, malware-sample: the file name (in the input), else NULL */
    size_t name_len;
    const char *part; /* on KW_ERR_INVAL: the part of the input that is wrong */
    size_t part_len;
} kw_misp_value;

/*
 * Converts the value of a MISP attribute of the given type (docs/interop.md, section 4, has
 * the mapping; composite types "<left>|<right>" give their indicator part). KW_ERR_OK;
 * KW_ERR_NOTFOUND for a type kawan does not carry; KW_ERR_INVAL (with *why, a phrase to
 * follow the part in a message) for a value that does not fit its type.
 */
kw_err kw_misp_convert(const char *type, const char *value, kw_misp_value *v, const char **why);

#endif
