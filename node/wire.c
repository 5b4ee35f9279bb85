/* SPDX-License-Identifier: Apache-2.0 */
#include "node/wire.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/entry.h"
#include "bundle/mpcheck.h"

kw_err kw_msg_encode_hello(kw_buf *out, const char *name, const uint8_t id[static 32])
{
    msgpack_packer pk;
    size_t nl = strnlen(name, 63);
    if (kw_buf_reserve(out, 128) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, KW_MSG_HELLO);
    msgpack_pack_uint8(&pk, KW_WIRE_VERSION);
    msgpack_pack_str(&pk, nl);
    msgpack_pack_str_body(&pk, name, nl);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, id, 32);
    return KW_ERR_OK;
}

kw_err kw_msg_encode_ping(kw_buf *out, kw_msg_type type, uint64_t nonce)
{
    msgpack_packer pk;
    if (kw_buf_reserve(out, 16) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint8(&pk, (uint8_t)type);
    msgpack_pack_uint64(&pk, nonce);
    return KW_ERR_OK;
}

kw_err kw_msg_encode_have(kw_buf *out, const kw_head *heads, size_t n)
{
    msgpack_packer pk;
    if (n > KW_WIRE_MAX_HAVE) {
        n = KW_WIRE_MAX_HAVE;
    }
    if (kw_buf_reserve(out, 16 + n * 48) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint8(&pk, KW_MSG_HAVE);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_bin(&pk, 32);
        msgpack_pack_bin_body(&pk, heads[i].origin, 32);
        msgpack_pack_uint64(&pk, heads[i].seq);
    }
    return KW_ERR_OK;
}

kw_err kw_msg_encode_ref(kw_buf *out, kw_msg_type type, const uint8_t origin[static 32],
    uint64_t seq)
{
    msgpack_packer pk;
    if (kw_buf_reserve(out, 64) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint8(&pk, (uint8_t)type);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, origin, 32);
    msgpack_pack_uint64(&pk, seq);
    return KW_ERR_OK;
}

kw_err kw_msg_encode_prune(kw_buf *out)
{
    msgpack_packer pk;
    if (kw_buf_reserve(out, 4) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint8(&pk, KW_MSG_PRUNE);
    return KW_ERR_OK;
}

kw_err kw_msg_encode_digest(kw_buf *out, const uint8_t digest[static 16])
{
    msgpack_packer pk;
    if (kw_buf_reserve(out, 24) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint8(&pk, KW_MSG_DIGEST);
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, digest, 16);
    return KW_ERR_OK;
}

void kw_have_digest(uint8_t out[static 16], const kw_head *heads, size_t n)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, (const uint8_t *)"kawan/have/1", 12, 16);
    for (size_t i = 0; i < n; i++) {
        uint8_t seq[8];
        for (int b = 0; b < 8; b++) {
            seq[b] = (uint8_t)(heads[i].seq >> (56 - 8 * b));
        }
        crypto_generichash_update(&st, heads[i].origin, 32);
        crypto_generichash_update(&st, seq, 8);
    }
    crypto_generichash_final(&st, out, 16);
}

kw_err kw_msg_encode_entries_begin(kw_buf *out, bool push, size_t n)
{
    msgpack_packer pk;
    if (n > KW_WIRE_MAX_ENTRIES || kw_buf_reserve(out, 16) != KW_ERR_OK) {
        return n > KW_WIRE_MAX_ENTRIES ? KW_ERR_TOOBIG : KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint8(&pk, KW_MSG_ENTRIES);
    if (push) {
        msgpack_pack_true(&pk);
    } else {
        msgpack_pack_false(&pk);
    }
    msgpack_pack_array(&pk, n);
    return KW_ERR_OK;
}

kw_err kw_msg_encode_entry(kw_buf *out, const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static 64], const uint8_t *payload, size_t payload_len)
{
    msgpack_packer pk;
    if (kw_buf_reserve(out, 32 + hdr_len + 64 + (payload ? payload_len : 0)) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    msgpack_packer_init(&pk, out, kw_buf_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_bin(&pk, hdr_len);
    msgpack_pack_bin_body(&pk, hdr, hdr_len);
    msgpack_pack_bin(&pk, 64);
    msgpack_pack_bin_body(&pk, sig, 64);
    if (payload != NULL) {
        msgpack_pack_bin(&pk, payload_len);
        msgpack_pack_bin_body(&pk, payload, payload_len);
    } else {
        msgpack_pack_nil(&pk);
    }
    return KW_ERR_OK;
}

/* ---- Decoding ---- */

static int get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return -1;
    }
    *v = o->via.u64;
    return 0;
}

static int get_bin(const msgpack_object *o, const uint8_t **p, size_t *len, size_t max)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > max) {
        return -1;
    }
    *p = (const uint8_t *)o->via.bin.ptr;
    *len = o->via.bin.size;
    return 0;
}

static int get_bin32(const msgpack_object *o, uint8_t out[static 32])
{
    const uint8_t *p;
    size_t len;
    if (get_bin(o, &p, &len, 32) != 0 || len != 32) {
        return -1;
    }
    memcpy(out, p, 32);
    return 0;
}

void kw_msg_clear(kw_msg *m)
{
    free(m->have);
    free(m->entries);
    memset(m, 0, sizeof(*m));
}

kw_err kw_msg_decode(kw_msg *m, const uint8_t *buf, size_t len)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t off = 0;
    uint64_t type;
    kw_err rc = KW_ERR_DECODE;

    memset(m, 0, sizeof(*m));
    if (len == 0 || len > KW_APP_MSG_MAX || kw_msgpack_check(buf, len, 4) != KW_ERR_OK) {
        return KW_ERR_DECODE;
    }
    msgpack_zone_init(&zone, 4096);
    if (msgpack_unpack((const char *)buf, len, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS
        || off != len || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size < 1) {
        goto out;
    }
    const msgpack_object *a = obj.via.array.ptr;
    uint32_t n = obj.via.array.size;
    if (get_u64(&a[0], &type) != 0 || type > KW_MSG_TYPE_MAX) {
        goto out;
    }
    m->type = (kw_msg_type)type;
    switch (m->type) {
    case KW_MSG_HELLO: {
        if (n != 4 || get_u64(&a[1], &m->version) != 0 || a[2].type != MSGPACK_OBJECT_STR
            || a[2].via.str.size > 63 || get_bin32(&a[3], m->node_id) != 0) {
            goto out;
        }
        memcpy(m->name, a[2].via.str.ptr, a[2].via.str.size);
        m->name[a[2].via.str.size] = '\0';
        break;
    }
    case KW_MSG_PING:
    case KW_MSG_PONG:
        if (n != 2 || get_u64(&a[1], &m->nonce) != 0) {
            goto out;
        }
        break;
    case KW_MSG_HAVE: {
        if (n != 2 || a[1].type != MSGPACK_OBJECT_ARRAY
            || a[1].via.array.size > KW_WIRE_MAX_HAVE) {
            goto out;
        }
        uint32_t k = a[1].via.array.size;
        if (k > 0 && (m->have = calloc(k, sizeof(*m->have))) == NULL) {
            rc = KW_ERR_NOMEM;
            goto out;
        }
        for (uint32_t i = 0; i < k; i++) {
            const msgpack_object *it = &a[1].via.array.ptr[i];
            if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size != 2
                || get_bin32(&it->via.array.ptr[0], m->have[i].origin) != 0
                || get_u64(&it->via.array.ptr[1], &m->have[i].seq) != 0) {
                goto out;
            }
        }
        m->n_have = k;
        break;
    }
    case KW_MSG_ENTRIES: {
        if (n != 3 || a[1].type != MSGPACK_OBJECT_BOOLEAN || a[2].type != MSGPACK_OBJECT_ARRAY
            || a[2].via.array.size > KW_WIRE_MAX_ENTRIES) {
            goto out;
        }
        m->push = a[1].via.boolean;
        uint32_t k = a[2].via.array.size;
        if (k > 0 && (m->entries = calloc(k, sizeof(*m->entries))) == NULL) {
            rc = KW_ERR_NOMEM;
            goto out;
        }
        for (uint32_t i = 0; i < k; i++) {
            const msgpack_object *it = &a[2].via.array.ptr[i];
            kw_wire_entry *e = &m->entries[i];
            size_t siglen;
            if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size != 3
                || get_bin(&it->via.array.ptr[0], &e->hdr, &e->hdr_len, KW_HEADER_MAX) != 0
                || get_bin(&it->via.array.ptr[1], &e->sig, &siglen, 64) != 0 || siglen != 64) {
                goto out;
            }
            if (it->via.array.ptr[2].type == MSGPACK_OBJECT_NIL) {
                e->payload = NULL;
                e->payload_len = 0;
            } else if (get_bin(&it->via.array.ptr[2], &e->payload, &e->payload_len,
                           KW_PAYLOAD_MAX)
                != 0) {
                goto out;
            }
        }
        m->n_entries = k;
        break;
    }
    case KW_MSG_IHAVE:
    case KW_MSG_GRAFT:
    case KW_MSG_WANT:
        if (n != 3 || get_bin32(&a[1], m->origin) != 0 || get_u64(&a[2], &m->seq) != 0) {
            goto out;
        }
        break;
    case KW_MSG_PRUNE:
        if (n != 1) {
            goto out;
        }
        break;
    case KW_MSG_DIGEST: {
        const uint8_t *d;
        size_t dl;
        if (n != 2 || get_bin(&a[1], &d, &dl, 16) != 0 || dl != 16) {
            goto out;
        }
        memcpy(m->digest, d, 16);
        break;
    }
    }
    rc = KW_ERR_OK;
out:
    msgpack_zone_destroy(&zone);
    if (rc != KW_ERR_OK) {
        kw_msg_clear(m);
    }
    return rc;
}
