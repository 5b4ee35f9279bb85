/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/bundle.h"
#include "bundle/mpcheck.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Strings of a bundle live in a chunked arena: a published list of a thousand indicators
 * costs a handful of allocations instead of several thousand, and freeing is one walk.
 */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t cap;
    max_align_t data[];
} arena_chunk;

struct kw__arena {
    arena_chunk *head;
};

#define ARENA_CHUNK 65536u

static void *arena_alloc(struct kw__arena *a, size_t n)
{
    arena_chunk *c = a->head;
    size_t need = (n + 7u) & ~(size_t)7u;

    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        arena_chunk *nc = malloc(sizeof(*nc) + cap);
        if (nc == NULL) {
            return NULL;
        }
        nc->used = 0;
        nc->cap = cap;
        nc->next = a->head;
        a->head = nc;
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    return p;
}

static void arena_clear(struct kw__arena *a)
{
    arena_chunk *c = a->head;
    while (c != NULL) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

kw_err kw_bundle_new(kw_bundle **out)
{
    kw_bundle *b = calloc(1, sizeof(*b));

    *out = NULL;
    if (b == NULL) {
        return KW_ERR_NOMEM;
    }
    if ((b->arena = calloc(1, sizeof(*b->arena))) == NULL) {
        free(b);
        return KW_ERR_NOMEM;
    }
    *out = b;
    return KW_ERR_OK;
}

void kw_bundle_free(kw_bundle *b)
{
    if (b == NULL) {
        return;
    }
    arena_clear(b->arena);
    free(b->arena);
    free(b->items);
    free(b);
}

void kw_bundle_reset(kw_bundle *b)
{
    arena_clear(b->arena);
    b->n = 0;
    b->description = NULL;
    b->recipients = NULL;
    b->n_recipients = 0;
}

kw_err kw_bundle_add(kw_bundle *b, kw_indicator **out)
{
    if (b->n >= KW_BUNDLE_MAX_INDICATORS) {
        return KW_ERR_TOOBIG;
    }
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > KW_BUNDLE_MAX_INDICATORS) {
            cap = KW_BUNDLE_MAX_INDICATORS;
        }
        kw_indicator *items = realloc(b->items, (size_t)cap * sizeof(*items));
        if (items == NULL) {
            return KW_ERR_NOMEM;
        }
        b->items = items;
        b->cap = cap;
    }
    kw_indicator *ind = &b->items[b->n++];
    memset(ind, 0, sizeof(*ind));
    ind->confidence = -1;
    *out = ind;
    return KW_ERR_OK;
}

const char *kw_bundle_strdup(kw_bundle *b, const char *s, size_t len)
{
    char *p = arena_alloc(b->arena, len + 1);
    if (p == NULL) {
        return NULL;
    }
    if (len > 0) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    return p;
}

void *kw_bundle_alloc(kw_bundle *b, size_t n)
{
    void *p = arena_alloc(b->arena, n == 0 ? 1 : n);
    if (p != NULL) {
        memset(p, 0, n);
    }
    return p;
}

kw_err kw_bundle_set_recipients(kw_bundle *b, const uint8_t (*ids)[32], size_t n)
{
    if (n > KW_BUNDLE_MAX_RECIPIENTS) {
        return KW_ERR_TOOBIG;
    }
    uint8_t(*r)[32] = kw_bundle_alloc(b, n * 32);
    if (r == NULL) {
        return KW_ERR_NOMEM;
    }
    if (n > 0) {
        memcpy(r, ids, n * 32);
    }
    b->recipients = r;
    b->n_recipients = (uint32_t)n;
    return KW_ERR_OK;
}

kw_err kw_bundle_copy_indicator(kw_bundle *b, const kw_indicator *src, kw_indicator **out)
{
    kw_indicator *d = NULL;
    kw_err rc;

    if ((rc = kw_bundle_add(b, &d)) != KW_ERR_OK) {
        return rc;
    }
    *d = *src;
    d->value = kw_bundle_strdup(b, src->value, src->value_len);
    d->name = src->name ? kw_bundle_strdup(b, src->name, strlen(src->name)) : NULL;
    d->description
        = src->description ? kw_bundle_strdup(b, src->description, strlen(src->description)) : NULL;
    d->labels = kw_bundle_alloc(b, sizeof(char *) * src->n_labels);
    d->indicator_types = kw_bundle_alloc(b, sizeof(char *) * src->n_indicator_types);
    d->kill_chain_phases = kw_bundle_alloc(b, sizeof(kw_kill_chain_phase) * src->n_kill_chain_phases);
    if (d->value == NULL || d->labels == NULL || d->indicator_types == NULL
        || d->kill_chain_phases == NULL) {
        b->n--;
        return KW_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < src->n_labels; i++) {
        d->labels[i] = kw_bundle_strdup(b, src->labels[i], strlen(src->labels[i]));
    }
    for (uint32_t i = 0; i < src->n_indicator_types; i++) {
        d->indicator_types[i]
            = kw_bundle_strdup(b, src->indicator_types[i], strlen(src->indicator_types[i]));
    }
    for (uint32_t i = 0; i < src->n_kill_chain_phases; i++) {
        const kw_kill_chain_phase *k = &src->kill_chain_phases[i];
        d->kill_chain_phases[i].kill_chain_name
            = kw_bundle_strdup(b, k->kill_chain_name, strlen(k->kill_chain_name));
        d->kill_chain_phases[i].phase_name = kw_bundle_strdup(b, k->phase_name, strlen(k->phase_name));
    }
    if (out != NULL) {
        *out = d;
    }
    return KW_ERR_OK;
}

/* ---- UUIDs and STIX ids ---- */

void kw_uuid_random(uint8_t uuid[static 16])
{
    randombytes_buf(uuid, 16);
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

void kw_uuid_new(uint8_t uuid[static 16], int64_t now_ms)
{
    static uint64_t last;
    static uint8_t pool[8192];
    static size_t left;
    uint64_t v = (uint64_t)(now_ms > 0 ? now_ms : 0) << 12;

    if (v <= last) {
        v = last + 1; /* more than 4096 in one ms, or the clock stepped back */
    }
    last = v;
    if (left < 8) {
        randombytes_buf(pool, sizeof(pool));
        left = sizeof(pool);
    }
    left -= 8;
    /* 48 bits of ms, then the version nibble, then the 12-bit counter. */
    uuid[0] = (uint8_t)(v >> 52);
    uuid[1] = (uint8_t)(v >> 44);
    uuid[2] = (uint8_t)(v >> 36);
    uuid[3] = (uint8_t)(v >> 28);
    uuid[4] = (uint8_t)(v >> 20);
    uuid[5] = (uint8_t)(v >> 12);
    uuid[6] = (uint8_t)(0x40 | ((v >> 8) & 0x0f));
    uuid[7] = (uint8_t)v;
    uuid[8] = (uint8_t)(0x80 | (pool[left] & 0x3f));
    memcpy(uuid + 9, pool + left + 1, 7);
}

static const char hexd[] = "0123456789abcdef";

void kw_stix_id_format(char *buf, size_t cap, const char *prefix, const uint8_t uuid[static 16])
{
    char u[37];
    size_t o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            u[o++] = '-';
        }
        u[o++] = hexd[uuid[i] >> 4];
        u[o++] = hexd[uuid[i] & 15];
    }
    u[o] = '\0';
    snprintf(buf, cap, "%s--%s", prefix, u);
}

void kw_indicator_id_format(char *buf, const uint8_t uuid[static 16])
{
    kw_stix_id_format(buf, 48, "indicator", uuid);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static kw_err uuid_parse(const char *s, size_t len, uint8_t uuid[static 16])
{
    size_t j = 0;

    if (len != 36) {
        return KW_ERR_INVAL;
    }
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return KW_ERR_INVAL;
            }
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) {
            return KW_ERR_INVAL;
        }
        uuid[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return KW_ERR_OK;
}

kw_err kw_stix_id_parse(const char *s, uint8_t uuid[static 16], size_t *prefix_len)
{
    const char *sep = strstr(s, "--");
    if (sep == NULL || sep == s) {
        return KW_ERR_INVAL;
    }
    if (prefix_len != NULL) {
        *prefix_len = (size_t)(sep - s);
    }
    return uuid_parse(sep + 2, strlen(sep + 2), uuid);
}

kw_err kw_indicator_id_parse(const char *s, uint8_t uuid[static 16])
{
    if (strncmp(s, "indicator--", 11) == 0) {
        s += 11;
    }
    return uuid_parse(s, strlen(s), uuid);
}

/* ---- msgpack codec ----
 * Payload: map { "v": 1, "i": [indicator...], "d"?: str, "r"?: [bin32...] }
 * Indicator: map with short keys (docs/protocol.md lists them); absent keys take defaults.
 */

#define PAYLOAD_VERSION 1

static void pack_key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, k, n);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_str_list(msgpack_packer *pk, const char *key, const char **v, uint32_t n)
{
    pack_key(pk, key);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        pack_str(pk, v[i]);
    }
}

/* How many fields kawan's encoding of d has. */
static uint32_t indicator_fields(const kw_indicator *d)
{
    uint32_t fields = 6; /* id t v c m vf */

    fields += d->valid_until != 0;
    fields += d->confidence >= 0;
    fields += d->revoked;
    fields += d->name != NULL;
    fields += d->description != NULL;
    fields += d->n_labels > 0;
    fields += d->n_indicator_types > 0;
    fields += d->n_kill_chain_phases > 0;
    return fields;
}

static void pack_indicator(msgpack_packer *pk, const kw_indicator *d)
{
    msgpack_pack_map(pk, indicator_fields(d));
    pack_key(pk, "id");
    msgpack_pack_bin(pk, 16);
    msgpack_pack_bin_body(pk, d->id, 16);
    pack_key(pk, "t");
    msgpack_pack_uint8(pk, (uint8_t)d->type);
    pack_key(pk, "v");
    msgpack_pack_str(pk, d->value_len);
    msgpack_pack_str_body(pk, d->value, d->value_len);
    pack_key(pk, "c");
    msgpack_pack_int64(pk, d->created);
    pack_key(pk, "m");
    msgpack_pack_int64(pk, d->modified);
    pack_key(pk, "vf");
    msgpack_pack_int64(pk, d->valid_from);
    if (d->valid_until != 0) {
        pack_key(pk, "vu");
        msgpack_pack_int64(pk, d->valid_until);
    }
    if (d->confidence >= 0) {
        pack_key(pk, "cf");
        msgpack_pack_uint8(pk, (uint8_t)d->confidence);
    }
    if (d->revoked) {
        pack_key(pk, "rv");
        msgpack_pack_true(pk);
    }
    if (d->name != NULL) {
        pack_key(pk, "n");
        pack_str(pk, d->name);
    }
    if (d->description != NULL) {
        pack_key(pk, "ds");
        pack_str(pk, d->description);
    }
    if (d->n_labels > 0) {
        pack_str_list(pk, "lb", d->labels, d->n_labels);
    }
    if (d->n_indicator_types > 0) {
        pack_str_list(pk, "it", d->indicator_types, d->n_indicator_types);
    }
    if (d->n_kill_chain_phases > 0) {
        pack_key(pk, "kc");
        msgpack_pack_array(pk, d->n_kill_chain_phases);
        for (uint32_t i = 0; i < d->n_kill_chain_phases; i++) {
            msgpack_pack_array(pk, 2);
            pack_str(pk, d->kill_chain_phases[i].kill_chain_name);
            pack_str(pk, d->kill_chain_phases[i].phase_name);
        }
    }
}

void *kw_grow(void *p, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap) {
        return p;
    }
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap <= n) {
        ncap = n + 1;
    }
    if (ncap > SIZE_MAX / size) {
        return NULL;
    }
    void *np = realloc(p, ncap * size);
    if (np != NULL) {
        *cap = ncap;
    }
    return np;
}

kw_err kw_buf_reserve(kw_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return KW_ERR_OK;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        return KW_ERR_NOMEM;
    }
    b->p = p;
    b->cap = cap;
    return KW_ERR_OK;
}

int kw_buf_write(void *data, const char *buf, size_t len)
{
    kw_buf *b = data;
    if (kw_buf_reserve(b, len) != KW_ERR_OK) {
        return -1;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    return 0;
}

/* A kw_buf the packer writes into; the packer ignores write errors, so a failed append is
 * remembered here and the encoding refused. */
typedef struct enc_sink {
    kw_buf *buf;
    bool failed;
} enc_sink;

static int enc_sink_write(void *data, const char *buf, size_t len)
{
    enc_sink *k = data;

    if (!k->failed && kw_buf_write(k->buf, buf, len) != 0) {
        k->failed = true;
    }
    return k->failed ? -1 : 0;
}

kw_err kw_bundle_encode(const kw_bundle *b, uint8_t **out, size_t *out_len)
{
    return kw_bundle_encode_at(b, out, out_len, NULL);
}

kw_err kw_bundle_encode_at(const kw_bundle *b, uint8_t **out, size_t *out_len, size_t *item_off)
{
    kw_buf buf = { 0 };
    enc_sink sink = { &buf, false };
    msgpack_packer pk;
    size_t fields = 2;

    *out = NULL;
    *out_len = 0;
    /* Room for a typical indicator each up front: the buffer then rarely grows. */
    buf.cap = 256 + (size_t)b->n * 128;
    if ((buf.p = malloc(buf.cap)) == NULL) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, &sink, enc_sink_write);
    fields += b->description != NULL;
    fields += b->n_recipients > 0;
    msgpack_pack_map(&pk, fields);
    pack_key(&pk, "v");
    msgpack_pack_uint8(&pk, PAYLOAD_VERSION);
    if (b->description != NULL) {
        pack_key(&pk, "d");
        pack_str(&pk, b->description);
    }
    if (b->n_recipients > 0) {
        pack_key(&pk, "r");
        msgpack_pack_array(&pk, b->n_recipients);
        for (uint32_t i = 0; i < b->n_recipients; i++) {
            msgpack_pack_bin(&pk, 32);
            msgpack_pack_bin_body(&pk, b->recipients[i], 32);
        }
    }
    pack_key(&pk, "i");
    msgpack_pack_array(&pk, b->n);
    for (uint32_t i = 0; i < b->n; i++) {
        if (item_off != NULL) {
            item_off[i] = buf.len;
        }
        pack_indicator(&pk, &b->items[i]);
    }
    if (item_off != NULL) {
        item_off[b->n] = buf.len;
    }
    if (sink.failed || buf.p == NULL) {
        kw_buf_free(&buf);
        return KW_ERR_NOMEM;
    }
    *out = buf.p;
    *out_len = buf.len;
    return KW_ERR_OK;
}

static int key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n
        && memcmp(k->via.str.ptr, s, n) == 0;
}

static kw_err get_int(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            return KW_ERR_DECODE;
        }
        *out = (int64_t)o->via.u64;
        return KW_ERR_OK;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return KW_ERR_OK;
    }
    return KW_ERR_DECODE;
}

/* A string of at most max bytes without NUL, copied into b: KW_ERR_DECODE when o is not
 * one, KW_ERR_NOMEM when the copy fails (not the payload's fault). */
static kw_err get_str(kw_bundle *b, const msgpack_object *o, size_t max, const char **out)
{
    *out = NULL;
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max
        || memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL) {
        return KW_ERR_DECODE;
    }
    *out = kw_bundle_strdup(b, o->via.str.ptr, o->via.str.size);
    return *out != NULL ? KW_ERR_OK : KW_ERR_NOMEM;
}

static kw_err get_str_list(kw_bundle *b, const msgpack_object *o, const char ***out, uint32_t *n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > KW_BUNDLE_MAX_LIST) {
        return KW_ERR_DECODE;
    }
    const char **v = kw_bundle_alloc(b, sizeof(char *) * o->via.array.size);
    if (v == NULL) {
        return KW_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        kw_err rc = get_str(b, &o->via.array.ptr[i], 1024, &v[i]);
        if (rc != KW_ERR_OK) {
            return rc;
        }
    }
    *out = v;
    *n = o->via.array.size;
    return KW_ERR_OK;
}

static kw_err decode_fields(kw_bundle *b, const msgpack_object *o, char *norm)
{
    kw_indicator *d = NULL;
    kw_err rc;
    unsigned seen = 0;
    int64_t v;

    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > 32) {
        return KW_ERR_DECODE;
    }
    if ((rc = kw_bundle_add(b, &d)) != KW_ERR_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *val = &o->via.map.ptr[i].val;
        rc = KW_ERR_DECODE;
        if (key_is(k, "id")) {
            if (val->type != MSGPACK_OBJECT_BIN || val->via.bin.size != 16) {
                return KW_ERR_DECODE;
            }
            memcpy(d->id, val->via.bin.ptr, 16);
            seen |= 1;
        } else if (key_is(k, "t")) {
            if (get_int(val, &v) != KW_ERR_OK || v < 1 || v > KW_OBS_MAX) {
                return KW_ERR_DECODE;
            }
            d->type = (kw_obs_type)v;
            seen |= 2;
        } else if (key_is(k, "v")) {
            if (val->type != MSGPACK_OBJECT_STR || val->via.str.size == 0
                || val->via.str.size > KW_VALUE_MAX) {
                return KW_ERR_DECODE;
            }
            d->value = kw_bundle_strdup(b, val->via.str.ptr, val->via.str.size);
            if (d->value == NULL) {
                return KW_ERR_NOMEM;
            }
            d->value_len = val->via.str.size;
            seen |= 4;
        } else if (key_is(k, "c")) {
            if (get_int(val, &d->created) != KW_ERR_OK) {
                return KW_ERR_DECODE;
            }
            seen |= 8;
        } else if (key_is(k, "m")) {
            if (get_int(val, &d->modified) != KW_ERR_OK) {
                return KW_ERR_DECODE;
            }
            seen |= 16;
        } else if (key_is(k, "vf")) {
            if (get_int(val, &d->valid_from) != KW_ERR_OK) {
                return KW_ERR_DECODE;
            }
            seen |= 32;
        } else if (key_is(k, "vu")) {
            if (get_int(val, &d->valid_until) != KW_ERR_OK) {
                return KW_ERR_DECODE;
            }
        } else if (key_is(k, "cf")) {
            if (get_int(val, &v) != KW_ERR_OK || v < 0 || v > 100) {
                return KW_ERR_DECODE;
            }
            d->confidence = (int)v;
        } else if (key_is(k, "rv")) {
            if (val->type != MSGPACK_OBJECT_BOOLEAN) {
                return KW_ERR_DECODE;
            }
            d->revoked = val->via.boolean;
        } else if (key_is(k, "n")) {
            if ((rc = get_str(b, val, 1024, &d->name)) != KW_ERR_OK) {
                return rc;
            }
        } else if (key_is(k, "ds")) {
            if ((rc = get_str(b, val, KW_BUNDLE_MAX_TEXT, &d->description)) != KW_ERR_OK) {
                return rc;
            }
        } else if (key_is(k, "lb")) {
            if ((rc = get_str_list(b, val, &d->labels, &d->n_labels)) != KW_ERR_OK) {
                return rc;
            }
        } else if (key_is(k, "it")) {
            if ((rc = get_str_list(b, val, &d->indicator_types, &d->n_indicator_types))
                != KW_ERR_OK) {
                return rc;
            }
        } else if (key_is(k, "kc")) {
            if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size > KW_BUNDLE_MAX_LIST) {
                return KW_ERR_DECODE;
            }
            d->n_kill_chain_phases = val->via.array.size;
            d->kill_chain_phases
                = kw_bundle_alloc(b, sizeof(kw_kill_chain_phase) * val->via.array.size);
            if (d->kill_chain_phases == NULL) {
                return KW_ERR_NOMEM;
            }
            for (uint32_t j = 0; j < val->via.array.size; j++) {
                const msgpack_object *p = &val->via.array.ptr[j];
                if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2) {
                    return KW_ERR_DECODE;
                }
                if ((rc = get_str(b, &p->via.array.ptr[0], 256,
                         &d->kill_chain_phases[j].kill_chain_name))
                        != KW_ERR_OK
                    || (rc = get_str(b, &p->via.array.ptr[1], 256,
                            &d->kill_chain_phases[j].phase_name))
                        != KW_ERR_OK) {
                    return rc;
                }
            }
        }
        /* Unknown keys are ignored so newer publishers can add fields. */
    }
    if (seen != 63 || d->value == NULL) {
        return KW_ERR_DECODE;
    }
    /* A payload must carry values in normalised form; anything else is a broken or hostile
     * publisher, and would poison the value index. */
    size_t nlen = 0;
    if (kw_value_normalise(d->type, d->value, d->value_len, norm, KW_VALUE_MAX + 1, &nlen, NULL)
            != KW_ERR_OK
        || nlen != d->value_len || memcmp(norm, d->value, nlen) != 0) {
        return KW_ERR_DECODE;
    }
    return KW_ERR_OK;
}

static kw_err decode_indicator(kw_bundle *b, const msgpack_object *o, char *norm);

void kw_buf_free(kw_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}


/* A string's bytes and its msgpack header (at most 5 bytes). */
static size_t str_bound(const char *s)
{
    return 5 + strlen(s);
}

size_t kw_indicator_size_bound(const kw_indicator *d)
{
    /* The map header, 14 keys of at most 3 bytes, the id (18), type (2), four times (9 each),
     * confidence (2) and revoked (1): under 128 bytes; then the strings, and a header of at
     * most 5 bytes for each list. */
    size_t n = 128 + 5 + d->value_len;

    n += d->name != NULL ? str_bound(d->name) : 0;
    n += d->description != NULL ? str_bound(d->description) : 0;
    n += 3 * 5;
    for (uint32_t i = 0; i < d->n_labels; i++) {
        n += str_bound(d->labels[i]);
    }
    for (uint32_t i = 0; i < d->n_indicator_types; i++) {
        n += str_bound(d->indicator_types[i]);
    }
    for (uint32_t i = 0; i < d->n_kill_chain_phases; i++) {
        n += 1 + str_bound(d->kill_chain_phases[i].kill_chain_name)
            + str_bound(d->kill_chain_phases[i].phase_name);
    }
    return n;
}

kw_err kw_indicator_encode(const kw_indicator *d, kw_buf *out)
{
    enc_sink sink = { out, false };
    msgpack_packer pk;
    size_t before = out->len;

    msgpack_packer_init(&pk, &sink, enc_sink_write);
    pack_indicator(&pk, d);
    if (sink.failed) {
        out->len = before;
        return KW_ERR_NOMEM;
    }
    return KW_ERR_OK;
}

kw_err kw_indicator_decode(kw_bundle *b, const uint8_t *buf, size_t len, kw_indicator **out)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t off = 0;
    char *norm = NULL;
    kw_err rc = KW_ERR_DECODE;

    *out = NULL;
    if (len == 0 || len > KW_PAYLOAD_MAX || kw_msgpack_check(buf, len, 4) != KW_ERR_OK) {
        return KW_ERR_DECODE;
    }
    if ((norm = malloc(KW_VALUE_MAX + 1)) == NULL) {
        return KW_ERR_NOMEM;
    }
    msgpack_zone_init(&zone, 2048);
    if (msgpack_unpack((const char *)buf, len, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS
        || off != len) {
        goto out;
    }
    if ((rc = decode_indicator(b, &obj, norm)) != KW_ERR_OK) {
        goto out;
    }
    *out = &b->items[b->n - 1];
out:
    msgpack_zone_destroy(&zone);
    free(norm);
    return rc;
}

/* Decodes one indicator into b; on failure b is left as it was. */
static kw_err decode_indicator(kw_bundle *b, const msgpack_object *o, char *norm)
{
    uint32_t n0 = b->n;
    kw_err rc = decode_fields(b, o, norm);
    if (rc != KW_ERR_OK) {
        b->n = n0;
    }
    return rc;
}

/* Is the msgpack object at buf[a..e) the string "i"? (Any of the str encodings.) */
static bool raw_key_is_i(const uint8_t *buf, size_t a, size_t e)
{
    static const uint8_t forms[4][6] = {
        { 0xa1, 'i' }, { 0xd9, 1, 'i' }, { 0xda, 0, 1, 'i' }, { 0xdb, 0, 0, 0, 1, 'i' }
    };
    static const size_t lens[4] = { 2, 3, 4, 6 };

    for (int f = 0; f < 4; f++) {
        if (e - a == lens[f] && memcmp(buf + a, forms[f], lens[f]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Records where each decoded indicator's bytes lie in buf (a payload kw_bundle_decode has
 * just accepted): the elements of every "i" array, in map order, which is the order they
 * were decoded in. Leaves every span unset if the walk does not match b item for item.
 * An element with more fields than kawan's encoding of what was decoded from it (a field
 * kawan does not know, a field twice, a field at its default) gets no span either: the
 * store keeps such an indicator in its own encoding rather than the publisher's bytes,
 * which could be any size.
 */
static void item_spans(kw_bundle *b, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    uint32_t pairs, n = 0;

    if (kw_msgpack_container(buf, len, &off, true, &pairs) != KW_ERR_OK) {
        return;
    }
    for (uint32_t p = 0; p < pairs; p++) {
        size_t k = off;
        uint32_t elems;
        if (kw_msgpack_skip(buf, len, &off, 6) != KW_ERR_OK) {
            goto fail;
        }
        if (!raw_key_is_i(buf, k, off)) {
            if (kw_msgpack_skip(buf, len, &off, 6) != KW_ERR_OK) {
                goto fail;
            }
            continue;
        }
        if (kw_msgpack_container(buf, len, &off, false, &elems) != KW_ERR_OK) {
            goto fail;
        }
        for (uint32_t j = 0; j < elems; j++, n++) {
            size_t start = off, at = off;
            uint32_t fields;
            if (n >= b->n || kw_msgpack_container(buf, len, &at, true, &fields) != KW_ERR_OK
                || kw_msgpack_skip(buf, len, &off, 5) != KW_ERR_OK) {
                goto fail;
            }
            if (fields == indicator_fields(&b->items[n])) {
                b->items[n].enc_off = (uint32_t)start;
                b->items[n].enc_len = (uint32_t)(off - start);
            }
        }
    }
    if (n == b->n) {
        return;
    }
fail:
    for (uint32_t i = 0; i < b->n; i++) {
        b->items[i].enc_off = b->items[i].enc_len = 0;
    }
}

kw_err kw_bundle_decode(kw_bundle **out, const uint8_t *buf, size_t len)
{
    kw_err rc = KW_ERR_DECODE;
    kw_bundle *b = NULL;
    msgpack_unpacked up;
    size_t off = 0;
    char *norm = NULL;
    int have_items = 0;

    *out = NULL;
    msgpack_unpacked_init(&up);
    if (len == 0 || len > KW_PAYLOAD_MAX || kw_msgpack_check(buf, len, 6) != KW_ERR_OK) {
        goto out;
    }
    if (msgpack_unpack_next(&up, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS
        || off != len) {
        goto out;
    }
    if ((rc = kw_bundle_new(&b)) != KW_ERR_OK) {
        goto out;
    }
    if ((norm = malloc(KW_VALUE_MAX + 1)) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    rc = KW_ERR_DECODE;
    const msgpack_object *root = &up.data;
    if (root->type != MSGPACK_OBJECT_MAP || root->via.map.size > 16) {
        goto out;
    }
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        const msgpack_object *v = &root->via.map.ptr[i].val;
        if (key_is(k, "v")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != PAYLOAD_VERSION) {
                goto out;
            }
        } else if (key_is(k, "d")) {
            if ((rc = get_str(b, v, KW_BUNDLE_MAX_TEXT, &b->description)) != KW_ERR_OK) {
                goto out;
            }
            rc = KW_ERR_DECODE;
        } else if (key_is(k, "r")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > KW_BUNDLE_MAX_RECIPIENTS) {
                goto out;
            }
            b->recipients = kw_bundle_alloc(b, 32u * v->via.array.size);
            if (b->recipients == NULL) {
                rc = KW_ERR_NOMEM;
                goto out;
            }
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                const msgpack_object *r = &v->via.array.ptr[j];
                if (r->type != MSGPACK_OBJECT_BIN || r->via.bin.size != 32) {
                    goto out;
                }
                memcpy(b->recipients[j], r->via.bin.ptr, 32);
            }
            b->n_recipients = v->via.array.size;
        } else if (key_is(k, "i")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > KW_BUNDLE_MAX_INDICATORS) {
                goto out;
            }
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                if ((rc = decode_indicator(b, &v->via.array.ptr[j], norm)) != KW_ERR_OK) {
                    goto out;
                }
            }
            rc = KW_ERR_DECODE;
            have_items = 1;
        }
    }
    if (!have_items) {
        goto out;
    }
    item_spans(b, buf, len);
    *out = b;
    b = NULL;
    rc = KW_ERR_OK;
out:
    free(norm);
    kw_bundle_free(b);
    msgpack_unpacked_destroy(&up);
    return rc;
}
