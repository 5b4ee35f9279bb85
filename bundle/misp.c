/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/misp.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "bundle/stix.h"
#include "bundle/timefmt.h"
#include "bundle/value.h"

/* What a to_ids attribute of a given MISP type turns into (docs/interop.md). */
typedef enum misp_kind {
    MK_UNSUPPORTED = 0,
    MK_ADDR, /* ip-src, ip-dst: an address or a network */
    MK_ADDR_PORT, /* ip-src|port, ip-dst|port: the address part */
    MK_DOMAIN, /* domain, hostname */
    MK_HOST_PORT, /* hostname|port: the host part */
    MK_DOMAIN_IP, /* domain|ip: two indicators */
    MK_URL, /* url */
    MK_EMAIL, /* email, email-src, email-dst */
    MK_HASH, /* md5, sha1, sha256, sha512 */
    MK_FILE_HASH, /* filename|md5 ..., malware-sample: the hash, the file name as the name */
    MK_FILENAME, /* filename */
    MK_PATTERN, /* stix2-pattern: typed when it is one comparison kawan knows, else kept whole */
} misp_kind;

static const struct {
    const char *type;
    misp_kind kind;
    kw_obs_type obs;
} misp_types[] = {
    { "ip-src", MK_ADDR, KW_OBS_NONE },
    { "ip-dst", MK_ADDR, KW_OBS_NONE },
    { "ip-src|port", MK_ADDR_PORT, KW_OBS_NONE },
    { "ip-dst|port", MK_ADDR_PORT, KW_OBS_NONE },
    { "domain", MK_DOMAIN, KW_OBS_DOMAIN },
    { "hostname", MK_DOMAIN, KW_OBS_DOMAIN },
    { "hostname|port", MK_HOST_PORT, KW_OBS_DOMAIN },
    { "domain|ip", MK_DOMAIN_IP, KW_OBS_DOMAIN },
    { "url", MK_URL, KW_OBS_URL },
    { "email", MK_EMAIL, KW_OBS_EMAIL },
    { "email-src", MK_EMAIL, KW_OBS_EMAIL },
    { "email-dst", MK_EMAIL, KW_OBS_EMAIL },
    { "md5", MK_HASH, KW_OBS_MD5 },
    { "sha1", MK_HASH, KW_OBS_SHA1 },
    { "sha256", MK_HASH, KW_OBS_SHA256 },
    { "sha512", MK_HASH, KW_OBS_SHA512 },
    { "filename|md5", MK_FILE_HASH, KW_OBS_MD5 },
    { "filename|sha1", MK_FILE_HASH, KW_OBS_SHA1 },
    { "filename|sha256", MK_FILE_HASH, KW_OBS_SHA256 },
    { "filename|sha512", MK_FILE_HASH, KW_OBS_SHA512 },
    /* The value of a malware-sample is filename|md5; the sample itself travels apart. */
    { "malware-sample", MK_FILE_HASH, KW_OBS_MD5 },
    { "filename", MK_FILENAME, KW_OBS_FILENAME },
    { "stix2-pattern", MK_PATTERN, KW_OBS_STIX_PATTERN },
};

/* The string limits kw_bundle_decode applies to names and labels (bundle/bundle.c). */
#define MAX_NAME 1024u
#define MAX_LABEL 1024u

/* The second indicator of a domain|ip attribute gets uuid5(attribute uuid, "ip"). */
#define SECOND_ID_NAME "ip"

typedef struct mevent {
    const char *info;
    int64_t ts; /* 0: none */
    kw_tlp tlp;
    bool has_tlp;
    const char *labels[KW_BUNDLE_MAX_LIST];
    uint32_t n_labels;
    const char *bad_tlp; /* a tlp: tag that names no level, or NULL */
    int distribution; /* distribution(): the event file's */
    int feed_distribution; /* distribution(): the manifest's for this event (5: none) */
    /* Attribute search results: what is wrong with the attribute's Event or Object summary
     * (a phrase to follow "attribute <uuid>: "), or NULL. */
    const char *bad_summary;
} mevent;

/* Scratch space for one attribute. */
typedef struct mconv {
    kw_indicator ind;
    kw_misp_value conv;
    char name[KW_VALUE_MAX + 1];
    const char *labels[KW_BUNDLE_MAX_LIST];
} mconv;

typedef struct mrun {
    const char *label; /* the file, for messages */
    kw_tlp default_tlp;
    bool emit; /* false: check and count; true: hand to the sink */
    kw_import_sink sink;
    void *ctx;
    kw_import_report *rep;
    json_t *extra_tags; /* the event's Tag list from the manifest, or NULL */
    json_t *extra_distribution; /* the event's distribution from the manifest, or NULL */
    mconv *c;
    uint64_t attr_index;
} mrun;

static void set_error(kw_import_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(kw_import_report *rep, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rep->first_error, sizeof(rep->first_error), fmt, ap);
    va_end(ap);
}


/* A MISP timestamp: unix seconds as a string of digits or a JSON integer. */
static bool unix_ms(json_t *v, int64_t *out)
{
    int64_t s = 0;

    if (json_is_integer(v)) {
        s = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *p = json_string_value(v);
        size_t n = strlen(p);
        if (n == 0 || n > 12) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (p[i] < '0' || p[i] > '9') {
                return false;
            }
            s = s * 10 + (p[i] - '0');
        }
    } else {
        return false;
    }
    /* Up to the year 9999, like RFC 3339. */
    if (s <= 0 || s > 253402300799) {
        return false;
    }
    *out = s * 1000;
    return true;
}

/* A MISP boolean (to_ids, deleted): true, 1, "1" or "true"; anything else is false. */
static bool flag(json_t *v)
{
    if (json_is_boolean(v)) {
        return json_is_true(v);
    }
    if (json_is_integer(v)) {
        return json_integer_value(v) != 0;
    }
    if (json_is_string(v)) {
        return strcmp(json_string_value(v), "1") == 0
            || strcasecmp(json_string_value(v), "true") == 0;
    }
    return false;
}

/* A distribution that is there but is none of MISP's 0-5. */
#define DIST_BAD (-1)

/*
 * A MISP distribution: 0-5, a number or a string of one digit. An absent one counts as 5
 * ("inherit"), which restricts nothing by itself. Anything else is DIST_BAD: the attributes it
 * governs are invalid, as a guess could be laxer than the source meant.
 */
static int distribution(json_t *v)
{
    if (v == NULL) {
        return 5;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 5) {
        return (int)json_integer_value(v);
    }
    if (json_is_string(v) && json_string_length(v) == 1 && json_string_value(v)[0] >= '0'
        && json_string_value(v)[0] <= '5') {
        return json_string_value(v)[0] - '0';
    }
    return DIST_BAD;
}

/*
 * The least TLP of a distribution of 1-5 (0 is never shared). A distribution is a sharing
 * restriction just as TLP is, and kawan must not share more widely than MISP would: 1 ("this
 * community only") and 2 ("connected communities") reach a bounded set of organisations, so
 * at least GREEN; 4 (a sharing group) a closed list of them, so at least AMBER; 3 ("all
 * communities") sets no floor, nor does 5 ("inherit"), which leaves it to the next level.
 */
static kw_tlp distribution_floor(int d)
{
    switch (d) {
    case 1:
    case 2:
        return KW_TLP_GREEN;
    case 4:
        return KW_TLP_AMBER;
    default:
        return KW_TLP_CLEAR;
    }
}

static bool add_label(const char **labels, uint32_t *n, const char *s)
{
    if (strlen(s) == 0 || strlen(s) > MAX_LABEL) {
        return true;
    }
    for (uint32_t i = 0; i < *n; i++) {
        if (strcmp(labels[i], s) == 0) {
            return true;
        }
    }
    /* Tags past the bundle limit are dropped (documented in docs/interop.md). */
    if (*n >= KW_BUNDLE_MAX_LIST) {
        return false;
    }
    labels[(*n)++] = s;
    return true;
}

/*
 * Splits a Tag list into the TLP (most restrictive tlp: tag) and labels (the other tags).
 * *unknown (when not already set) gets the first tlp: tag that is not a level: a misspelt
 * "tlp:amber-strict" must not fall back to a laxer default. Only the MISP taxonomy's
 * tlp:unclear and its tlp:ex:... extensions (e.g. tlp:ex:chr) name no level and are allowed.
 */
static void read_tags(json_t *tags, kw_tlp *tlp, bool *has_tlp, const char **labels,
    uint32_t *n_labels, const char **unknown)
{
    size_t i;
    json_t *t;

    if (!json_is_array(tags)) {
        return;
    }
    json_array_foreach(tags, i, t)
    {
        json_t *nm = json_is_object(t) ? json_object_get(t, "name") : t;
        const char *name;
        kw_tlp level;

        if (!json_is_string(nm)) {
            continue;
        }
        name = json_string_value(nm);
        if (strncasecmp(name, "tlp:", 4) == 0) {
            if (kw_tlp_parse(name + 4, &level) == KW_ERR_OK) {
                *tlp = *has_tlp && *tlp > level ? *tlp : level;
                *has_tlp = true;
            } else if (strcasecmp(name + 4, "unclear") != 0
                && strncasecmp(name + 4, "ex:", 3) != 0 && *unknown == NULL) {
                *unknown = name;
            }
            continue;
        }
        add_label(labels, n_labels, name);
    }
}

static misp_kind lookup_kind(const char *type, kw_obs_type *obs)
{
    for (size_t i = 0; i < sizeof(misp_types) / sizeof(misp_types[0]); i++) {
        if (strcmp(type, misp_types[i].type) == 0) {
            *obs = misp_types[i].obs;
            return misp_types[i].kind;
        }
    }
    return MK_UNSUPPORTED;
}

static kw_err emit(mrun *r, kw_tlp tlp, const char *uuid_text)
{
    kw_import_report *rep = r->rep;
    kw_err rc;

    if (!r->emit) {
        rep->indicators++;
        if (r->c->ind.type == KW_OBS_STIX_PATTERN) {
            rep->raw++;
        } else {
            rep->typed++;
        }
        rep->by_tlp[tlp]++;
        return KW_ERR_OK;
    }
    if ((rc = r->sink(r->ctx, &r->c->ind, tlp)) != KW_ERR_OK) {
        set_error(rep, "%s: attribute %s: %s", r->label, uuid_text, kw_strerror(rc));
    }
    return rc;
}

kw_err kw_misp_convert(const char *type, const char *value, kw_misp_value *v, const char **why)
{
    misp_kind kind;
    const char *sep = NULL;
    kw_err rc;

    memset(v, 0, sizeof(*v));
    v->part = value;
    v->part_len = strlen(value);
    kind = lookup_kind(type, &v->type);
    if (kind == MK_UNSUPPORTED) {
        *why = "is of a type kawan does not carry";
        return KW_ERR_NOTFOUND;
    }
    /* Composite values are "<left>|<right>". */
    if (kind == MK_ADDR_PORT || kind == MK_HOST_PORT || kind == MK_DOMAIN_IP) {
        sep = strchr(value, '|');
    } else if (kind == MK_FILE_HASH) {
        sep = strrchr(value, '|'); /* a hash holds no '|', a file name might */
    }
    if ((kind == MK_ADDR_PORT || kind == MK_HOST_PORT || kind == MK_DOMAIN_IP
            || kind == MK_FILE_HASH)
        && sep == NULL) {
        *why = "has no '|' between its two parts";
        return KW_ERR_INVAL;
    }
    if (sep != NULL && kind != MK_FILE_HASH) {
        v->part_len = (size_t)(sep - value); /* the left part is the indicator */
    } else if (sep != NULL) {
        v->part = sep + 1;
        v->part_len = strlen(sep + 1);
    }
    switch (kind) {
    case MK_ADDR:
    case MK_ADDR_PORT:
        rc = kw__import_addr(v->part, v->part_len, 0, &v->type, v->value, &v->len, why);
        break;
    case MK_PATTERN:
        rc = kw_stix_pattern_parse(v->part, v->part_len, &v->type, v->value, &v->len, why);
        break;
    default:
        rc = kw_value_normalise(
            v->type, v->part, v->part_len, v->value, sizeof(v->value), &v->len, why);
        break;
    }
    if (rc != KW_ERR_OK) {
        return rc;
    }
    if (kind == MK_DOMAIN_IP) {
        v->part = sep + 1;
        v->part_len = strlen(sep + 1);
        if ((rc = kw__import_addr(v->part, v->part_len, 0, &v->type2, v->value2, &v->len2, why))
            != KW_ERR_OK) {
            return rc;
        }
    }
    if ((*why = kw_value_new_check(v->type, v->value, v->len)) != NULL) {
        return KW_ERR_INVAL;
    }
    if (kind == MK_FILE_HASH && sep > value) {
        v->name = value;
        v->name_len = (size_t)(sep - value);
    }
    v->part = value;
    v->part_len = strlen(value);
    return KW_ERR_OK;
}

/*
 * A deleted attribute (or one in a deleted object), or one no longer for detection: MISP's
 * way of withdrawing an indicator. In the importing pass it goes to the sink as a withdrawal
 * (bundle/import.h), for each id the attribute would have made; one without a usable uuid
 * or timestamp names nothing to withdraw.
 */
static kw_err withdraw(mrun *r, const mevent *ev, json_t *a, bool org_only)
{
    kw_indicator *ind = &r->c->ind;
    json_t *v = json_object_get(a, "uuid");
    const char *unknown = NULL;
    uint32_t n_labels = 0;
    kw_tlp tlp = ev->tlp;
    bool has_tlp = ev->has_tlp;
    uint8_t uuid[16];
    kw_err rc;

    if (!r->emit) {
        if (org_only) {
            r->rep->org_only++;
        } else {
            r->rep->non_indicators++;
        }
        return KW_ERR_OK;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != 36
        || kw_indicator_id_parse(json_string_value(v), uuid) != KW_ERR_OK) {
        return KW_ERR_OK;
    }
    memset(ind, 0, sizeof(*ind));
    ind->confidence = -1;
    ind->revoked = true;
    memcpy(ind->id, uuid, 16);
    v = json_object_get(a, "timestamp");
    if (v != NULL ? !unix_ms(v, &ind->modified) : (ind->modified = ev->ts) == 0) {
        return KW_ERR_OK;
    }
    ind->created = ind->valid_from = ind->modified;
    read_tags(json_object_get(a, "Tag"), &tlp, &has_tlp, r->c->labels, &n_labels, &unknown);
    if (!has_tlp) {
        tlp = r->default_tlp;
    }
    if ((rc = r->sink(r->ctx, ind, tlp)) == KW_ERR_OK) {
        v = json_object_get(a, "type");
        if (json_is_string(v) && strcmp(json_string_value(v), "domain|ip") == 0) {
            kw__uuid_v5(ind->id, uuid, SECOND_ID_NAME, strlen(SECOND_ID_NAME));
            rc = r->sink(r->ctx, ind, tlp);
        }
    }
    if (rc != KW_ERR_OK) {
        set_error(r->rep, "%s: attribute %s: %s", r->label, json_string_value(json_object_get(a,
            "uuid")), kw_strerror(rc));
    }
    return rc;
}

/*
 * Handles one attribute. object_distribution is that of the Object holding it (distribution();
 * 5 when it is in none). Returns an error only for what stops the import (the sink).
 */
static kw_err attribute(
    mrun *r, const mevent *ev, json_t *a, bool in_deleted_object, int object_distribution)
{
    kw_import_report *rep = r->rep;
    mconv *c = r->c;
    kw_indicator *ind = &c->ind;
    json_t *v;
    const char *uuid_text, *type, *value, *why = "is not valid";
    const char *comment = NULL;
    char tmp[160], tmp2[160];
    uint8_t uuid[16];
    kw_tlp tlp = ev->tlp;
    bool has_tlp = ev->has_tlp;
    bool counting = !r->emit;
    kw_err rc;
    /* From the narrowest to the widest, as MISP inherits them. */
    const int dists[] = { distribution(json_object_get(a, "distribution")), object_distribution,
        ev->distribution, ev->feed_distribution };
    static const char *const dist_of[] = { "its distribution", "its object's distribution",
        "its event's distribution", "the manifest's distribution for its event" };
    kw_tlp floor = KW_TLP_CLEAR;

    r->attr_index++;
    if (counting) {
        rep->objects++;
    }
    if (!json_is_object(a)) {
        if (counting) {
            rep->invalid++;
            kw__import_issue(rep, true, "%s: attribute #%llu is not an object", r->label,
                (unsigned long long)r->attr_index);
        }
        return KW_ERR_OK;
    }
    if (in_deleted_object || flag(json_object_get(a, "deleted"))
        || !flag(json_object_get(a, "to_ids"))) {
        return withdraw(r, ev, a, false);
    }
    /* Distribution 0 is "your organisation only": not for sharing, whatever its TLP. MISP
     * shares an attribute no further than the narrowest of its own distribution, its Object's
     * and its event's (an event or Object of 0 is never synced, whatever its attributes say),
     * so a 0 at any level keeps it here, even where another level is malformed. */
    for (size_t i = 0; i < sizeof(dists) / sizeof(dists[0]); i++) {
        if (dists[i] == 0) {
            return withdraw(r, ev, a, true);
        }
    }
    v = json_object_get(a, "uuid");
    if (!json_is_string(v) || strlen(json_string_value(v)) != 36
        || kw_indicator_id_parse(json_string_value(v), uuid) != KW_ERR_OK) {
        if (counting) {
            rep->invalid++;
            kw__import_issue(rep, true, "%s: attribute #%llu: uuid is missing or not a UUID",
                r->label, (unsigned long long)r->attr_index);
        }
        return KW_ERR_OK;
    }
    uuid_text = json_string_value(v);
#define INVALID(...)                                  \
    do {                                              \
        if (counting) {                               \
            rep->invalid++;                           \
            kw__import_issue(rep, true, __VA_ARGS__); \
        }                                             \
        return KW_ERR_OK;                             \
    } while (0)
    /* Without its Event summary (or with a malformed one) the event's distribution and tags
     * are unknown, and a guess could be laxer than the source meant. */
    if (ev->bad_summary != NULL) {
        INVALID("%s: attribute %s: %s", r->label, uuid_text, ev->bad_summary);
    }
    /* The narrowest distribution has the strictest floor, so the strictest floor is the one. */
    for (size_t i = 0; i < sizeof(dists) / sizeof(dists[0]); i++) {
        if (dists[i] == DIST_BAD) {
            INVALID("%s: attribute %s: %s is not a MISP distribution (0-5)", r->label, uuid_text,
                dist_of[i]);
        }
        if (distribution_floor(dists[i]) > floor) {
            floor = distribution_floor(dists[i]);
        }
    }
    v = json_object_get(a, "type");
    if (!json_is_string(v)) {
        INVALID("%s: attribute %s: type is missing", r->label, uuid_text);
    }
    type = json_string_value(v);
    v = json_object_get(a, "value");
    if (!json_is_string(v)) {
        INVALID("%s: attribute %s: value is missing", r->label, uuid_text);
    }
    value = json_string_value(v);
    memset(ind, 0, sizeof(*ind));
    rc = kw_misp_convert(type, value, &c->conv, &why);
    if (rc == KW_ERR_NOTFOUND) {
        if (counting) {
            rep->unsupported++;
            kw__import_count_type(rep, type);
            kw__import_issue(rep, false, "%s: attribute %s: type '%s' is not supported", r->label,
                uuid_text, kw__import_clip(tmp, 64, type));
        }
        return KW_ERR_OK;
    }
    if (rc != KW_ERR_OK) {
        snprintf(tmp2, sizeof(tmp2), "%.*s",
            (int)(c->conv.part_len < 150 ? c->conv.part_len : 150), c->conv.part);
        INVALID("%s: attribute %s: %s '%s' %s", r->label, uuid_text, type,
            kw__import_clip(tmp, 120, tmp2), why);
    }
    /* The file name of a filename|<hash> (unless longer than a name may be). */
    if (c->conv.name != NULL && c->conv.name_len <= MAX_NAME) {
        memcpy(c->name, c->conv.name, c->conv.name_len);
        c->name[c->conv.name_len] = '\0';
        ind->name = c->name;
    }

    ind->confidence = -1;
    memcpy(ind->id, uuid, 16);
    v = json_object_get(a, "timestamp");
    if (v != NULL) {
        if (!unix_ms(v, &ind->created)) {
            INVALID("%s: attribute %s: timestamp is not unix seconds", r->label, uuid_text);
        }
    } else if (ev->ts != 0) {
        ind->created = ev->ts;
    } else {
        INVALID(
            "%s: attribute %s: no timestamp on the attribute or its event", r->label, uuid_text);
    }
    ind->modified = ind->created;
    ind->valid_from = ind->created;
    v = json_object_get(a, "first_seen");
    if (json_is_string(v) && json_string_length(v) > 0) {
        if (kw_time_parse(json_string_value(v), &ind->valid_from) != KW_ERR_OK) {
            INVALID("%s: attribute %s: first_seen '%s' is not a timestamp", r->label, uuid_text,
                kw__import_clip(tmp, 64, json_string_value(v)));
        }
    }
    v = json_object_get(a, "comment");
    if (json_is_string(v) && json_string_length(v) > 0) {
        comment = json_string_value(v);
    } else if (ev->info != NULL && ev->info[0] != '\0') {
        comment = ev->info;
    }
    if (comment != NULL && strlen(comment) > KW_BUNDLE_MAX_TEXT) {
        INVALID("%s: attribute %s: %s (its description) is longer than %u bytes", r->label,
            uuid_text, comment == ev->info ? "the event's info" : "the comment",
            KW_BUNDLE_MAX_TEXT);
    }
    ind->description = comment;
    memcpy(c->labels, ev->labels, ev->n_labels * sizeof(c->labels[0]));
    ind->n_labels = ev->n_labels;
    const char *unknown = ev->bad_tlp;
    read_tags(json_object_get(a, "Tag"), &tlp, &has_tlp, c->labels, &ind->n_labels, &unknown);
    if (unknown != NULL) {
        INVALID("%s: attribute %s: tag '%s' is not a TLP level (clear, green, amber, "
                "amber+strict, red)",
            r->label, uuid_text, kw__import_clip(tmp, 64, unknown));
    }
    ind->labels = c->labels;
    if (!has_tlp) {
        tlp = r->default_tlp;
    }
    if (tlp < floor) {
        tlp = floor;
    }

#undef INVALID

    ind->type = c->conv.type;
    ind->value = c->conv.value;
    ind->value_len = (uint32_t)c->conv.len;
    if ((rc = emit(r, tlp, uuid_text)) != KW_ERR_OK) {
        return rc;
    }
    if (c->conv.type2 != KW_OBS_NONE) {
        /* domain|ip: the address is a second indicator. */
        kw__uuid_v5(ind->id, uuid, SECOND_ID_NAME, strlen(SECOND_ID_NAME));
        ind->type = c->conv.type2;
        ind->value = c->conv.value2;
        ind->value_len = (uint32_t)c->conv.len2;
        if ((rc = emit(r, tlp, uuid_text)) != KW_ERR_OK) {
            return rc;
        }
    }
    return KW_ERR_OK;
}

static kw_err attributes(
    mrun *r, const mevent *ev, json_t *list, bool deleted_object, int object_distribution)
{
    size_t i;
    json_t *a;
    kw_err rc;

    if (list == NULL) {
        return KW_ERR_OK;
    }
    if (!json_is_array(list)) {
        set_error(r->rep, "%s: an Attribute list is not a list", r->label);
        return KW_ERR_DECODE;
    }
    json_array_foreach(list, i, a)
    {
        if ((rc = attribute(r, ev, a, deleted_object, object_distribution)) != KW_ERR_OK) {
            return rc;
        }
    }
    return KW_ERR_OK;
}

/*
 * What an event gives its attributes (info, distribution, time, tags), from e: an event, or
 * the Event summary of an attribute search result (NULL: nothing), with the manifest's
 * additions of a feed.
 */
static void event_context(const mrun *r, json_t *e, mevent *ev)
{
    json_t *v;

    memset(ev, 0, sizeof(*ev));
    ev->tlp = KW_TLP_CLEAR;
    v = json_object_get(e, "info");
    ev->info = json_is_string(v) ? json_string_value(v) : NULL;
    ev->distribution = distribution(json_object_get(e, "distribution"));
    ev->feed_distribution = distribution(r->extra_distribution);
    if (!unix_ms(json_object_get(e, "timestamp"), &ev->ts)) {
        ev->ts = 0;
        v = json_object_get(e, "date");
        /* A date before 1970 is as good as none (unix_ms refuses those too). */
        if (!json_is_string(v) || kw_time_parse(json_string_value(v), &ev->ts) != KW_ERR_OK
            || ev->ts <= 0) {
            ev->ts = 0;
        }
    }
    read_tags(
        json_object_get(e, "Tag"), &ev->tlp, &ev->has_tlp, ev->labels, &ev->n_labels, &ev->bad_tlp);
    read_tags(r->extra_tags, &ev->tlp, &ev->has_tlp, ev->labels, &ev->n_labels, &ev->bad_tlp);
}

static kw_err event(mrun *r, json_t *e)
{
    mevent ev;
    json_t *objects, *o;
    size_t i;
    kw_err rc;

    if (!json_is_object(e)) {
        set_error(r->rep, "%s: Event is not an object", r->label);
        return KW_ERR_DECODE;
    }
    if (!r->emit) {
        r->rep->events++;
    }
    event_context(r, e, &ev);
    r->attr_index = 0;
    if ((rc = attributes(r, &ev, json_object_get(e, "Attribute"), false, 5)) != KW_ERR_OK) {
        return rc;
    }
    objects = json_object_get(e, "Object");
    if (objects == NULL) {
        return KW_ERR_OK;
    }
    if (!json_is_array(objects)) {
        set_error(r->rep, "%s: Object is not a list", r->label);
        return KW_ERR_DECODE;
    }
    json_array_foreach(objects, i, o)
    {
        if (!json_is_object(o)) {
            set_error(r->rep, "%s: Object #%zu is not an object", r->label, i + 1);
            return KW_ERR_DECODE;
        }
        /* A deleted object withdraws every attribute in it. */
        rc = attributes(r, &ev, json_object_get(o, "Attribute"),
            flag(json_object_get(o, "deleted")), distribution(json_object_get(o, "distribution")));
        if (rc != KW_ERR_OK) {
            return rc;
        }
    }
    return KW_ERR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Attribute search results (POST /attributes/restSearch).                                    */

/*
 * One element of an attribute search result: an attribute as in an event, with an Event
 * summary ({"org_id", "distribution", "id", "info", "orgc_id", "uuid"}, or the whole event
 * with includeContext) and, for an attribute in an object, an Object summary ({"id",
 * "distribution", "sharing_group_id"}). The summaries stand for the event and the Object of
 * the event import, so the attribute goes through the same attribute() under the same rules.
 * seen (counting pass only) collects the distinct Event uuids.
 */
static kw_err search_attribute(mrun *r, json_t *a, json_t *seen)
{
    json_t *e = json_object_get(a, "Event");
    json_t *o = json_object_get(a, "Object");
    int object_distribution = 5;
    bool deleted_object = false;
    mevent ev;

    event_context(r, json_is_object(e) ? e : NULL, &ev);
    if (e == NULL) {
        ev.bad_summary = "it has no Event summary";
    } else if (!json_is_object(e)) {
        ev.bad_summary = "its Event is not an object";
    } else if (o != NULL && !json_is_null(o) && !json_is_object(o)) {
        ev.bad_summary = "its Object is not an object";
    }
    /* An Object whose id and distribution are both null is the empty row of a join: the
     * attribute is in no object. */
    if (json_is_object(o)
        && !(json_is_null(json_object_get(o, "id"))
            && json_is_null(json_object_get(o, "distribution")))) {
        object_distribution = distribution(json_object_get(o, "distribution"));
        deleted_object = flag(json_object_get(o, "deleted"));
    }
    if (seen != NULL && json_is_object(e) && json_is_string(json_object_get(e, "uuid"))) {
        char key[64];
        snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(e, "uuid")));
        for (char *p = key; *p != '\0'; p++) {
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        }
        if (json_object_get(seen, key) == NULL
            && json_object_set_new(seen, key, json_true()) != 0) {
            return KW_ERR_NOMEM;
        }
    }
    return attribute(r, &ev, a, deleted_object, object_distribution);
}

/*
 * True for an attribute search result: {"response": {...}} (a list of events comes as
 * {"response": [...]}), or, when nothing else could be meant, the bare {"Attribute": [...]}
 * that clients save (PyMISP's search(controller="attributes")): an object with no other key,
 * whose first attribute holds an Event summary. An empty bare list could as well be an event
 * that lost its uuid, and is not taken.
 */
static bool is_search_doc(json_t *root)
{
    json_t *list, *first;

    if (!json_is_object(root)) {
        return false;
    }
    if (json_is_object(json_object_get(root, "response"))) {
        return true;
    }
    list = json_object_get(root, "Attribute");
    first = json_array_get(list, 0);
    return json_object_size(root) == 1 && json_is_array(list) && json_is_object(first)
        && json_is_object(json_object_get(first, "Event"));
}

static kw_err search_doc(mrun *r, json_t *root)
{
    json_t *resp = json_object_get(root, "response");
    json_t *list = json_object_get(json_is_object(resp) ? resp : root, "Attribute");
    json_t *seen = NULL, *a;
    size_t i;
    kw_err rc = KW_ERR_DECODE;

    if (list == NULL) {
        set_error(r->rep,
            "%s: response holds neither a list of events nor an Attribute list (an attribute "
            "search result)",
            r->label);
        return KW_ERR_DECODE;
    }
    if (!json_is_array(list)) {
        set_error(r->rep, "%s: the Attribute list of the attribute search result is not a list",
            r->label);
        return KW_ERR_DECODE;
    }
    if (json_array_size(list) > KW_MISP_MAX_ATTRIBUTES) {
        set_error(r->rep, "%s: %zu attributes, more than the limit of %u", r->label,
            json_array_size(list), KW_MISP_MAX_ATTRIBUTES);
        return KW_ERR_TOOBIG;
    }
    if (!r->emit && (seen = json_object()) == NULL) {
        return KW_ERR_NOMEM;
    }
    r->attr_index = 0;
    json_array_foreach(list, i, a)
    {
        if ((rc = search_attribute(r, a, seen)) != KW_ERR_OK) {
            goto out;
        }
    }
    if (seen != NULL) {
        r->rep->events += json_object_size(seen);
    }
    rc = KW_ERR_OK;
out:
    json_decref(seen);
    return rc;
}

/* True for an event object without its {"Event": ...} envelope (PyMISP's to_json()). */
static bool is_bare_event(json_t *root)
{
    return json_is_object(root) && json_object_get(root, "Event") == NULL
        && json_is_string(json_object_get(root, "uuid"))
        && (json_is_array(json_object_get(root, "Attribute"))
            || json_is_array(json_object_get(root, "Object")));
}

/* True for a document that is one of the event envelopes, a bare event, or an attribute
 * search result. */
static bool is_event_doc(json_t *root)
{
    if (is_search_doc(root)) {
        return true;
    }
    if (json_is_object(root)) {
        return json_object_get(root, "Event") != NULL
            || json_is_array(json_object_get(root, "response")) || is_bare_event(root);
    }
    return json_is_array(root);
}

static kw_err event_doc(mrun *r, json_t *root)
{
    json_t *list = NULL, *item;
    size_t i;
    kw_err rc;

    if (json_is_object(root) && json_object_get(root, "Event") != NULL) {
        return event(r, json_object_get(root, "Event"));
    }
    if (is_search_doc(root)) {
        return search_doc(r, root);
    }
    if (is_bare_event(root)) {
        return event(r, root);
    }
    if (json_is_object(root)) {
        list = json_object_get(root, "response");
    } else if (json_is_array(root)) {
        list = root;
    }
    if (!json_is_array(list)) {
        set_error(r->rep,
            "%s: not a MISP event or attribute search result ({\"Event\": ...}, "
            "{\"response\": [...]} or {\"response\": {\"Attribute\": [...]}})",
            r->label);
        return KW_ERR_DECODE;
    }
    json_array_foreach(list, i, item)
    {
        json_t *e = is_bare_event(item) ? item : json_object_get(item, "Event");
        if (e == NULL) {
            set_error(r->rep, "%s: item #%zu holds no Event", r->label, i + 1);
            return KW_ERR_DECODE;
        }
        if ((rc = event(r, e)) != KW_ERR_OK) {
            return rc;
        }
    }
    return KW_ERR_OK;
}

static json_t *parse(const char *json, size_t len, const char *label, kw_import_report *rep)
{
    json_error_t jerr;
    /* Duplicate keys are refused, as in the STIX importer. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        kw__import_json_error(rep, label, &jerr);
    }
    return root;
}

/* Checks then (when everything passed, or skip_invalid) imports one parsed document. */
static kw_err run_doc(mrun *r, json_t *root, bool skip_invalid)
{
    kw_err rc;

    r->emit = false;
    if ((rc = event_doc(r, root)) != KW_ERR_OK) {
        return rc;
    }
    if (r->rep->invalid > 0 && !skip_invalid) {
        return KW_ERR_INVAL;
    }
    r->emit = true;
    return event_doc(r, root);
}

kw_err kw_misp_import_event_json(const char *json, size_t len, const char *file_label,
    kw_tlp default_tlp, bool skip_invalid, kw_import_sink sink, void *ctx, kw_import_report *rep)
{
    kw_err rc = KW_ERR_DECODE;
    json_t *root = NULL;
    mrun r = { .label = file_label != NULL ? file_label : "<input>",
        .default_tlp = default_tlp,
        .sink = sink,
        .ctx = ctx,
        .rep = rep };

    if (rep == NULL) {
        return KW_ERR_INVAL;
    }
    memset(rep, 0, sizeof(*rep));
    if (json == NULL || sink == NULL || (unsigned)default_tlp > KW_TLP_MAX) {
        set_error(rep, "%s: invalid arguments", r.label);
        return KW_ERR_INVAL;
    }
    if ((root = parse(json, len, r.label, rep)) == NULL) {
        goto out;
    }
    if ((r.c = malloc(sizeof(*r.c))) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    rc = run_doc(&r, root, skip_invalid);
out:
    free(r.c);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Files.                                                                                     */

/* Reads a whole regular file of at most KW_MISP_MAX_FILE bytes. */
static kw_err read_file(const char *path, char **out, size_t *out_len, kw_import_report *rep)
{
    kw_err rc = KW_ERR_IO;
    char *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = errno == ENOENT ? KW_ERR_NOTFOUND : KW_ERR_IO;
        set_error(rep, "%s: %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        set_error(rep, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_error(rep, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > KW_MISP_MAX_FILE) {
        rc = KW_ERR_TOOBIG;
        set_error(rep, "%s: %lld bytes, more than the limit of %u", path, (long long)st.st_size,
            KW_MISP_MAX_FILE);
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            set_error(rep, "%s: %s", path, n < 0 ? strerror(errno) : "file shrank while read");
            goto out;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    buf = NULL;
    rc = KW_ERR_OK;
out:
    free(buf);
    close(fd);
    return rc;
}

static bool is_uuid_text(const char *s)
{
    if (strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char ch = s[i];
        if (dash ? ch != '-'
                 : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')
                     || (ch >= 'A' && ch <= 'F'))) {
            return false;
        }
    }
    return true;
}

typedef struct feed_event {
    char uuid[37];
    uint8_t hash[32];
    json_t *tags; /* borrowed from the manifest tree */
    json_t *distribution; /* likewise */
} feed_event;

/* One event file of a feed: check (pass 1, records its hash) or import (pass 2, verifies
 * the hash, so a file changed in between is not half trusted). */
static kw_err feed_file(mrun *r, const char *dir, feed_event *fe, bool second)
{
    kw_err rc;
    char path[4096];
    char *buf = NULL;
    size_t len = 0;
    json_t *root = NULL;
    uint8_t h[32];

    if (snprintf(path, sizeof(path), "%s/%s.json", dir, fe->uuid) >= (int)sizeof(path)) {
        set_error(r->rep, "%s: path too long", dir);
        return KW_ERR_INVAL;
    }
    if ((rc = read_file(path, &buf, &len, r->rep)) != KW_ERR_OK) {
        return rc;
    }
    crypto_generichash(h, sizeof(h), (const unsigned char *)buf, len, NULL, 0);
    if (!second) {
        memcpy(fe->hash, h, sizeof(h));
    } else if (sodium_memcmp(fe->hash, h, sizeof(h)) != 0) {
        set_error(r->rep, "%s: the file changed during the import", path);
        rc = KW_ERR_IO;
        goto out;
    }
    rc = KW_ERR_DECODE;
    if ((root = parse(buf, len, path, r->rep)) == NULL) {
        goto out;
    }
    r->label = path;
    r->extra_tags = fe->tags;
    r->extra_distribution = fe->distribution;
    r->emit = second;
    rc = event_doc(r, root);
    /* path lives on this stack frame only. */
    r->label = NULL;
    r->extra_tags = NULL;
    r->extra_distribution = NULL;
out:
    json_decref(root);
    free(buf);
    return rc;
}

static kw_err import_feed(mrun *r, const char *dir, const char *manifest_path, bool skip_invalid)
{
    kw_err rc;
    char *buf = NULL;
    size_t len = 0, n = 0, k = 0;
    json_t *manifest = NULL, *info;
    feed_event *events = NULL;
    const char *key;

    if ((rc = read_file(manifest_path, &buf, &len, r->rep)) != KW_ERR_OK) {
        goto out;
    }
    rc = KW_ERR_DECODE;
    if ((manifest = parse(buf, len, manifest_path, r->rep)) == NULL) {
        goto out;
    }
    if (!json_is_object(manifest)) {
        set_error(
            r->rep, "%s: not a MISP feed manifest (an object keyed by event uuid)", manifest_path);
        goto out;
    }
    n = json_object_size(manifest);
    if (n > KW_MISP_MAX_EVENTS) {
        rc = KW_ERR_TOOBIG;
        set_error(r->rep, "%s: %zu events, more than the limit of %u", manifest_path, n,
            KW_MISP_MAX_EVENTS);
        goto out;
    }
    rc = KW_ERR_NOMEM;
    if (n > 0 && (events = calloc(n, sizeof(*events))) == NULL) {
        goto out;
    }
    rc = KW_ERR_DECODE;
    json_object_foreach(manifest, key, info)
    {
        /* The key becomes a file name: only a UUID may, so nothing escapes the feed folder. */
        if (!is_uuid_text(key)) {
            char tmp[80];
            set_error(r->rep, "%s: '%s' is not an event uuid", manifest_path,
                kw__import_clip(tmp, sizeof(tmp), key));
            goto out;
        }
        memcpy(events[k].uuid, key, sizeof(events[k].uuid));
        events[k].tags = json_object_get(info, "Tag");
        /* MISP's manifest repeats each event's distribution; it bounds the event as the
         * event file's own does, in case the two differ. */
        events[k].distribution = json_object_get(info, "distribution");
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        if ((rc = feed_file(r, dir, &events[i], false)) != KW_ERR_OK) {
            goto out;
        }
    }
    if (r->rep->invalid > 0 && !skip_invalid) {
        rc = KW_ERR_INVAL;
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        if ((rc = feed_file(r, dir, &events[i], true)) != KW_ERR_OK) {
            goto out;
        }
    }
    rc = KW_ERR_OK;
out:
    free(events);
    json_decref(manifest);
    free(buf);
    return rc;
}

kw_err kw_misp_import(const char *path, kw_tlp default_tlp, bool skip_invalid, kw_import_sink sink,
    void *ctx, kw_import_report *rep)
{
    kw_err rc = KW_ERR_IO;
    mrun r = { .label = path, .default_tlp = default_tlp, .sink = sink, .ctx = ctx, .rep = rep };
    char *dir = NULL, *manifest = NULL, *buf = NULL;
    const char *base;
    json_t *root = NULL;
    struct stat st;
    size_t len = 0;

    if (rep == NULL) {
        return KW_ERR_INVAL;
    }
    memset(rep, 0, sizeof(*rep));
    if (path == NULL || sink == NULL || (unsigned)default_tlp > KW_TLP_MAX) {
        set_error(rep, "invalid arguments");
        return KW_ERR_INVAL;
    }
    if (sodium_init() < 0) {
        set_error(rep, "libsodium failed to initialise");
        return KW_ERR_CRYPTO;
    }
    if ((r.c = malloc(sizeof(*r.c))) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    if (stat(path, &st) != 0) {
        rc = errno == ENOENT ? KW_ERR_NOTFOUND : KW_ERR_IO;
        set_error(rep, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = KW_ERR_NOMEM;
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        if ((dir = strdup(path)) == NULL || (manifest = malloc(n + 16)) == NULL) {
            goto out;
        }
        while (n > 1 && dir[n - 1] == '/') {
            dir[--n] = '\0';
        }
        snprintf(manifest, n + 16, "%s/manifest.json", dir);
        rc = import_feed(&r, dir, manifest, skip_invalid);
        goto out;
    }
    base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strcmp(base, "manifest.json") == 0) {
        if ((dir = strdup(path)) == NULL) {
            goto out;
        }
        if (base == path) {
            strcpy(dir, ".");
        } else {
            dir[base - path - 1] = '\0';
            if (dir[0] == '\0') {
                strcpy(dir, "/");
            }
        }
        rc = import_feed(&r, dir, path, skip_invalid);
        goto out;
    }
    if ((rc = read_file(path, &buf, &len, rep)) != KW_ERR_OK) {
        goto out;
    }
    rc = KW_ERR_DECODE;
    if ((root = parse(buf, len, path, rep)) == NULL) {
        goto out;
    }
    if (!is_event_doc(root)) {
        set_error(rep,
            "%s: not a MISP event or attribute search result ({\"Event\": ...}, "
            "{\"response\": [...]} or {\"response\": {\"Attribute\": [...]}})",
            path);
        goto out;
    }
    rc = run_doc(&r, root, skip_invalid);
out:
    json_decref(root);
    free(buf);
    free(manifest);
    free(dir);
    free(r.c);
    return rc;
}
