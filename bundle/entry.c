/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/entry.h"

#include <msgpack.h>
#include <sodium.h>
#include <string.h>

#include "bundle/bundle.h"
#include "bundle/mpcheck.h"
#include "bundle/tlp.h"

/* A tiny writer over a fixed buffer: headers are small and this avoids any allocation. */
typedef struct fixed_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    int overflow;
} fixed_buf;

static int fixed_write(void *data, const char *buf, size_t len)
{
    fixed_buf *f = data;
    if (f->cap - f->len < len) {
        f->overflow = 1;
        return -1;
    }
    memcpy(f->p + f->len, buf, len);
    f->len += len;
    return 0;
}

kw_err kw_header_encode(const kw_header *h, uint8_t out[static KW_HEADER_MAX], size_t *len)
{
    fixed_buf f = { out, 0, KW_HEADER_MAX, 0 };
    msgpack_packer pk;

    msgpack_packer_init(&pk, &f, fixed_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint64(&pk, KW_ENTRY_VERSION);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, h->origin, 32);
    msgpack_pack_uint64(&pk, h->seq);
    if (h->has_prev) {
        msgpack_pack_bin(&pk, 32);
        msgpack_pack_bin_body(&pk, h->prev, 32);
    } else {
        msgpack_pack_nil(&pk);
    }
    msgpack_pack_uint64(&pk, h->time_ms);
    msgpack_pack_uint64(&pk, h->tlp);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, h->payload_hash, 32);
    msgpack_pack_uint64(&pk, h->payload_len);
    msgpack_pack_uint64(&pk, h->flags);
    if (f.overflow) {
        return KW_ERR_TOOBIG;
    }
    *len = f.len;
    return KW_ERR_OK;
}

static int get_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return -1;
    }
    *v = o->via.u64;
    return 0;
}

static int get_bin32(const msgpack_object *o, uint8_t out[static 32])
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32) {
        return -1;
    }
    memcpy(out, o->via.bin.ptr, 32);
    return 0;
}

kw_err kw_header_decode(kw_header *h, const uint8_t *buf, size_t len)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t off = 0;
    kw_err rc = KW_ERR_DECODE;
    uint64_t version, tlp;

    memset(h, 0, sizeof(*h));
    if (len == 0 || len > KW_HEADER_MAX || kw_msgpack_check(buf, len, 2) != KW_ERR_OK) {
        return KW_ERR_DECODE;
    }
    /* The header is small, so one zone chunk holds every object of it. */
    msgpack_zone_init(&zone, 1024);
    if (msgpack_unpack((const char *)buf, len, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS
        || off != len) {
        goto out;
    }
    if (obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 9) {
        goto out;
    }
    const msgpack_object *a = obj.via.array.ptr;
    if (get_uint(&a[0], &version) || version != KW_ENTRY_VERSION || get_bin32(&a[1], h->origin)
        || get_uint(&a[2], &h->seq) || h->seq == 0 || get_uint(&a[4], &h->time_ms)
        || get_uint(&a[5], &tlp) || tlp > KW_TLP_MAX || get_bin32(&a[6], h->payload_hash)
        || get_uint(&a[7], &h->payload_len) || h->payload_len > KW_PAYLOAD_MAX
        || get_uint(&a[8], &h->flags) || (h->flags & ~(uint64_t)KW_ENTRY_FLAGS_KNOWN) != 0) {
        goto out;
    }
    h->tlp = (uint8_t)tlp;
    if (a[3].type == MSGPACK_OBJECT_NIL) {
        h->has_prev = false;
    } else if (get_bin32(&a[3], h->prev) == 0) {
        h->has_prev = true;
    } else {
        goto out;
    }
    if (h->has_prev != (h->seq > 1)) {
        goto out;
    }
    if (((h->flags & KW_ENTRY_FLAG_SEALED) != 0) != kw_tlp_sealed((kw_tlp)h->tlp)) {
        goto out;
    }
    /* Canonical form only: re-encoding must give the same bytes. */
    uint8_t re[KW_HEADER_MAX];
    size_t relen;
    if (kw_header_encode(h, re, &relen) != KW_ERR_OK || relen != len
        || memcmp(re, buf, len) != 0) {
        goto out;
    }
    rc = KW_ERR_OK;
out:
    msgpack_zone_destroy(&zone);
    return rc;
}

void kw_payload_hash(uint8_t out[static 32], const uint8_t *payload, size_t len)
{
    crypto_generichash(out, 32, payload, len, NULL, 0);
}

void kw_entry_id(uint8_t out[static 32], const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static KW_SIG_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, hdr, hdr_len);
    crypto_generichash_update(&st, sig, KW_SIG_LEN);
    crypto_generichash_final(&st, out, 32);
}

void kw_entry_sign(const kw_identity *id, uint8_t sig[static KW_SIG_LEN], const uint8_t *hdr,
    size_t hdr_len)
{
    kw_identity_sign(id, sig, KW_ENTRY_SIG_CTX, hdr, hdr_len);
}

kw_err kw_entry_check(kw_header *h, const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static KW_SIG_LEN], const uint8_t *payload, size_t payload_len)
{
    kw_err rc;

    if ((rc = kw_header_decode(h, hdr, hdr_len)) != KW_ERR_OK) {
        return rc;
    }
    if (kw_sig_verify(h->origin, sig, KW_ENTRY_SIG_CTX, hdr, hdr_len) != KW_ERR_OK) {
        return KW_ERR_BADSIG;
    }
    if (payload != NULL) {
        uint8_t hash[32];
        if (payload_len != h->payload_len) {
            return KW_ERR_HASH;
        }
        kw_payload_hash(hash, payload, payload_len);
        if (sodium_memcmp(hash, h->payload_hash, 32) != 0) {
            return KW_ERR_HASH;
        }
    }
    return KW_ERR_OK;
}
