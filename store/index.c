/* SPDX-License-Identifier: Apache-2.0 */
#include "store/store_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/timefmt.h"

static kw_err by_value_del(kw_store *s, MDB_txn *txn, kw_obs_type type, const char *value,
    size_t len, const uint8_t uuid[static 16])
{
    uint8_t key[KW__VKEY_MAX];
    MDB_val k = { kw__vkey(key, type, value, len), key };
    MDB_val d = { 16, (void *)uuid };
    int rc = mdb_del(txn, s->by_value, &k, &d);
    return rc == MDB_NOTFOUND ? KW_ERR_OK : kw__mdb_err(rc, "by_value_del");
}

kw_err kw__vbatch_add(kw_store *s, const uint8_t *key, size_t klen, const uint8_t uuid[static 16])
{
    if (kw_buf_reserve(&s->vb, 2 + klen + 16) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    uint8_t *p = s->vb.p + s->vb.len;
    p[0] = (uint8_t)(klen >> 8);
    p[1] = (uint8_t)klen;
    memcpy(p + 2, key, klen);
    memcpy(p + 2 + klen, uuid, 16);
    s->vb.len += 2 + klen + 16;
    s->vb_n++;
    return KW_ERR_OK;
}

void kw__vbatch_reset(kw_store *s)
{
    s->vb.len = 0;
    s->vb_n = 0;
}

void kw__wtxn_reset(kw_store *s)
{
    s->pending_current = 0;
    s->obj_max_state = 0;
    kw__vbatch_reset(s);
}

kw_err kw__wtxn_begin(kw_store *s, MDB_txn **txn)
{
    kw_err rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, 0, txn), "txn_begin");
    if (rc == KW_ERR_OK) {
        kw__wtxn_reset(s);
    }
    return rc;
}

bool kw__object_may_exist(kw_store *s, MDB_txn *txn, const uint8_t id[static 16])
{
    if (s->obj_max_state == 0) {
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_cursor_open(txn, s->objects, &cur) != 0) {
            return true;
        }
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (mrc == 0 && k.mv_size == 16) {
            memcpy(s->obj_max, k.mv_data, 16);
            s->obj_max_state = 1;
        } else if (mrc == MDB_NOTFOUND) {
            s->obj_max_state = 2;
        }
        mdb_cursor_close(cur);
        if (s->obj_max_state == 0) {
            return true;
        }
    }
    return s->obj_max_state == 1 && memcmp(id, s->obj_max, 16) <= 0;
}

/* Records that id is now in `objects`. */
static void object_added(kw_store *s, const uint8_t id[static 16])
{
    if (s->obj_max_state == 2 || (s->obj_max_state == 1 && memcmp(id, s->obj_max, 16) > 0)) {
        memcpy(s->obj_max, id, 16);
        s->obj_max_state = 1;
    }
}

static kw_err vbatch_put(kw_store *s, MDB_txn *txn, const uint32_t *order)
{
    kw__skey *keys;
    MDB_cursor *cur = NULL;
    kw_err rc = KW_ERR_OK;
    size_t off = 0;

    if (s->vb_n == 0) {
        return KW_ERR_OK;
    }
    if ((keys = malloc(s->vb_n * sizeof(*keys))) == NULL) {
        return KW_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->vb_n; i++) {
        const uint8_t *rec = s->vb.p + off;
        size_t kl = (size_t)rec[0] << 8 | rec[1];
        keys[i] = (kw__skey) { rec + 2, (uint32_t)kl, 0 };
        off += 2 + kl + 16;
    }
    /* The ids under one value may come in any order: LMDB places each. */
    if (order == NULL) {
        rc = kw__sort_keys(keys, s->vb_n);
    }
    if (rc == KW_ERR_OK) {
        rc = kw__mdb_err(mdb_cursor_open(txn, s->by_value, &cur), "cursor");
    }
    for (size_t i = 0; i < s->vb_n && rc == KW_ERR_OK; i++) {
        const kw__skey *sk = &keys[order != NULL ? order[i] : i];
        MDB_val k = { sk->len, (void *)sk->p };
        MDB_val d = { 16, (void *)(sk->p + sk->len) };
        int mrc = mdb_cursor_put(cur, &k, &d, MDB_NODUPDATA);
        if (mrc != 0 && mrc != MDB_KEYEXIST) {
            rc = kw__mdb_err(mrc, "by_value_put");
        }
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    free(keys);
    kw__vbatch_reset(s);
    return rc;
}

kw_err kw__vbatch_flush(kw_store *s, MDB_txn *txn)
{
    return vbatch_put(s, txn, NULL);
}

kw_err kw__vbatch_flush_order(kw_store *s, MDB_txn *txn, const uint32_t *order)
{
    return vbatch_put(s, txn, order);
}

kw_err kw__object_bytes(kw_store *s, MDB_txn *txn, const uint8_t *rec, size_t len,
    kw__pcache *pc, const uint8_t **p, size_t *n)
{
    if (len < KW__OBJ_HDR) {
        return KW_ERR_STORE;
    }
    if (!(rec[57] & KW__OBJ_REF)) {
        *p = rec + KW__OBJ_HDR;
        *n = len - KW__OBJ_HDR;
        return KW_ERR_OK;
    }
    if (len != KW__OBJ_REF_LEN) {
        return KW_ERR_STORE;
    }
    kw__pcache local = { .valid = false };
    if (pc == NULL) {
        pc = &local;
    }
    /* origin(32) | seq(8), big-endian: the record starts with its entry's key. */
    if (!pc->valid || memcmp(pc->key, rec, 40) != 0) {
        MDB_val k = { 40, (void *)rec }, v;
        int mrc = mdb_get(txn, s->payloads, &k, &v);
        if (mrc != 0) {
            pc->valid = false;
            return mrc == MDB_NOTFOUND ? KW_ERR_STORE : kw__mdb_err(mrc, "payloads_get");
        }
        memcpy(pc->key, rec, 40);
        pc->p = v.mv_data;
        pc->len = v.mv_size;
        pc->valid = true;
    }
    const uint8_t *r = rec + KW__OBJ_HDR;
    size_t off = (size_t)r[0] << 24 | (size_t)r[1] << 16 | (size_t)r[2] << 8 | r[3];
    size_t elen = (size_t)r[4] << 24 | (size_t)r[5] << 16 | (size_t)r[6] << 8 | r[7];
    if (elen == 0 || off > pc->len || elen > pc->len - off) {
        return KW_ERR_STORE;
    }
    *p = pc->p + off;
    *n = elen;
    return KW_ERR_OK;
}

kw_err kw__index_indicator(kw_store *s, MDB_txn *txn, const kw_indicator *ind,
    const kw__enc *enc, const uint8_t origin[static 32], uint64_t seq, uint64_t recv_ms,
    kw_tlp tlp, kw_buf *scratch, bool *indexed)
{
    MDB_val k = { 16, (void *)ind->id };
    MDB_val v;
    kw_err rc;
    int mrc;
    bool had_old = false, old_revoked = false;

    *indexed = false;
    mrc = kw__object_may_exist(s, txn, ind->id) ? mdb_get(txn, s->objects, &k, &v)
                                                 : MDB_NOTFOUND;
    if (mrc == 0) {
        const uint8_t *old = v.mv_data, *ob;
        size_t olen;
        if (v.mv_size < KW__OBJ_HDR) {
            return KW_ERR_STORE;
        }
        /* Only the origin that created an indicator may version it. */
        if (sodium_memcmp(old, origin, 32) != 0) {
            return KW_ERR_PERM;
        }
        int64_t old_mod = (int64_t)kw__get64(old + 48);
        if (old_mod > ind->modified
            || (old_mod == ind->modified && kw__get64(old + 32) >= seq)) {
            return KW_ERR_OK; /* We already hold this version or a newer one. */
        }
        had_old = true;
        old_revoked = (old[57] & KW__OBJ_REVOKED) != 0;
        /* The old value's index entry may still be held back: put what is held first, so
         * the delete below finds it; the puts invalidate old, so it is read again. */
        if (s->vb_n > 0) {
            if ((rc = kw__vbatch_flush(s, txn)) != KW_ERR_OK) {
                return rc;
            }
            if (mdb_get(txn, s->objects, &k, &v) != 0 || v.mv_size < KW__OBJ_HDR) {
                return KW_ERR_STORE;
            }
            old = v.mv_data;
        }
        /* The value may change between versions: drop the old value's index entry. The old
         * record is decoded only for that, so read its type and value straight from it. */
        kw_bundle *tmp = NULL;
        kw_indicator *oi = NULL;
        if ((rc = kw_bundle_new(&tmp)) != KW_ERR_OK) {
            return rc;
        }
        rc = kw__object_bytes(s, txn, old, v.mv_size, NULL, &ob, &olen);
        if (rc == KW_ERR_OK) {
            rc = kw_indicator_decode(tmp, ob, olen, &oi);
        }
        if (rc == KW_ERR_OK) {
            rc = by_value_del(s, txn, oi->type, oi->value, oi->value_len, ind->id);
        }
        kw_bundle_free(tmp);
        if (rc != KW_ERR_OK) {
            return rc;
        }
    } else if (mrc != MDB_NOTFOUND) {
        return kw__mdb_err(mrc, "objects_get");
    }
    scratch->len = 0;
    uint8_t hdr[KW__OBJ_HDR] = { 0 };
    memcpy(hdr, origin, 32);
    kw__put64(hdr + 32, seq);
    kw__put64(hdr + 40, recv_ms);
    kw__put64(hdr + 48, (uint64_t)ind->modified);
    hdr[56] = (uint8_t)tlp;
    /* A store of schema 1 may still be read by a binary that knows no references. */
    bool ref = enc != NULL && enc->in_payload && s->schema >= 2;
    hdr[57] = (uint8_t)((ind->revoked ? KW__OBJ_REVOKED : 0) | (ref ? KW__OBJ_REF : 0));
    hdr[58] = (uint8_t)ind->type;
    size_t need = ref ? KW__OBJ_REF_LEN : KW__OBJ_HDR + (enc != NULL ? enc->len : 0);
    if (kw_buf_reserve(scratch, need) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    memcpy(scratch->p, hdr, KW__OBJ_HDR);
    scratch->len = KW__OBJ_HDR;
    if (ref) {
        const uint32_t span[2] = { enc->off, enc->len };
        for (int i = 0; i < 8; i++) {
            scratch->p[KW__OBJ_HDR + i] = (uint8_t)(span[i / 4] >> (24 - 8 * (i % 4)));
        }
        scratch->len = KW__OBJ_REF_LEN;
    } else if (enc != NULL) {
        memcpy(scratch->p + KW__OBJ_HDR, enc->p, enc->len);
        scratch->len = KW__OBJ_HDR + enc->len;
    } else if ((rc = kw_indicator_encode(ind, scratch)) != KW_ERR_OK) {
        return rc;
    }
    MDB_val nv = { scratch->len, scratch->p };
    /* New ids minted by kawan grow with time, so a new record usually belongs at the end:
     * MDB_APPEND then fills pages completely instead of splitting them in half. When the id
     * is not the largest (imported STIX ids, another origin's older ids) LMDB says
     * KEYEXIST and the record goes in the ordinary way. */
    mrc = had_old ? MDB_KEYEXIST : mdb_put(txn, s->objects, &k, &nv, MDB_APPEND);
    if (mrc == MDB_KEYEXIST) {
        mrc = mdb_put(txn, s->objects, &k, &nv, 0);
    }
    if (mrc != 0) {
        return kw__mdb_err(mrc, "objects_put");
    }
    object_added(s, ind->id);
    uint8_t vkey[KW__VKEY_MAX];
    size_t vkey_len = kw__vkey(vkey, ind->type, ind->value, ind->value_len);
    if ((rc = kw__vbatch_add(s, vkey, vkey_len, ind->id)) != KW_ERR_OK) {
        return rc;
    }
    s->pending_current += (ind->revoked ? 0 : 1) - (had_old && !old_revoked ? 1 : 0);
    *indexed = true;
    return KW_ERR_OK;
}

/* ---- Queries ---- */

typedef struct query_ctx {
    kw_store *s;
    MDB_txn *txn;
    const kw_query *q;
    kw_result_cb cb;
    void *cb_ctx;
    uint64_t count;
    kw_bundle *scratch;
    kw__pcache payload;
    int64_t now_ms; /* for valid_until */
    int stop;
} query_ctx;

static bool contains(const char *hay, size_t hlen, const char *needle)
{
    size_t nlen = strlen(needle);
    if (nlen == 0) {
        return true;
    }
    if (nlen > hlen) {
        return false;
    }
    return memmem(hay, hlen, needle, nlen) != NULL;
}

/* Checks an objects record against the query and delivers it. Returns a kw_err. */
static kw_err deliver(query_ctx *c, const uint8_t *rec, size_t len)
{
    const kw_query *q = c->q;
    kw_indicator *ind = NULL;
    kw_result r;
    kw_err rc;

    if (len < KW__OBJ_HDR) {
        return KW_ERR_STORE;
    }
    if (!q->all && (rec[57] & KW__OBJ_REVOKED)) {
        return KW_ERR_OK;
    }
    if (q->type != KW_OBS_NONE && rec[58] != (uint8_t)q->type) {
        return KW_ERR_OK;
    }
    if (q->tlp >= 0 && rec[56] != (uint8_t)q->tlp) {
        return KW_ERR_OK;
    }
    if (q->origin != NULL && memcmp(rec, q->origin, 32) != 0) {
        return KW_ERR_OK;
    }
    if (q->since_ms > 0 && (int64_t)kw__get64(rec + 40) < q->since_ms
        && (int64_t)kw__get64(rec + 48) < q->since_ms) {
        return KW_ERR_OK;
    }
    const uint8_t *enc;
    size_t enc_len;
    kw_bundle_reset(c->scratch);
    if ((rc = kw__object_bytes(c->s, c->txn, rec, len, &c->payload, &enc, &enc_len))
            != KW_ERR_OK
        || (rc = kw_indicator_decode(c->scratch, enc, enc_len, &ind)) != KW_ERR_OK) {
        return rc;
    }
    if (q->value != NULL && strcmp(ind->value, q->value) != 0) {
        return KW_ERR_OK;
    }
    if (q->substring != NULL && !contains(ind->value, ind->value_len, q->substring)) {
        return KW_ERR_OK;
    }
    if (!q->all && ind->valid_until > 0 && ind->valid_until <= c->now_ms) {
        return KW_ERR_OK; /* expired */
    }
    memset(&r, 0, sizeof(r));
    r.ind = ind;
    r.tlp = (kw_tlp)rec[56];
    memcpy(r.origin, rec, 32);
    r.seq = kw__get64(rec + 32);
    r.recv_ms = kw__get64(rec + 40);
    if (kw_tlp_sealed(r.tlp)) {
        uint8_t key[40];
        MDB_val k = { 40, key }, v;
        kw__feed_key(key, r.origin, r.seq);
        if (mdb_get(c->txn, c->s->recipients, &k, &v) == 0 && v.mv_size % 32 == 0) {
            r.recipients = (const uint8_t(*)[32])v.mv_data;
            r.n_recipients = (uint32_t)(v.mv_size / 32);
        }
    }
    c->count++;
    if (c->cb(c->cb_ctx, &r) != 0 || (q->limit > 0 && c->count >= q->limit)) {
        c->stop = 1;
    }
    return KW_ERR_OK;
}

static kw_err query_by_id(query_ctx *c, const uint8_t uuid[static 16])
{
    MDB_val k = { 16, (void *)uuid }, v;
    int mrc = mdb_get(c->txn, c->s->objects, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        return KW_ERR_OK;
    }
    if (mrc != 0) {
        return kw__mdb_err(mrc, "objects_get");
    }
    return deliver(c, v.mv_data, v.mv_size);
}

static kw_err query_by_value(query_ctx *c, kw_obs_type type)
{
    uint8_t key[KW__VKEY_MAX];
    MDB_cursor *cur = NULL;
    MDB_val k = { kw__vkey(key, type, c->q->value, strlen(c->q->value)), key }, d;
    kw_err rc = KW_ERR_OK;
    int mrc;

    if ((rc = kw__mdb_err(mdb_cursor_open(c->txn, c->s->by_value, &cur), "cursor"))
        != KW_ERR_OK) {
        return rc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); mrc == 0 && !c->stop;
         mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
        if (d.mv_size != 16) {
            continue;
        }
        if ((rc = query_by_id(c, d.mv_data)) != KW_ERR_OK) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

static kw_err query_scan(query_ctx *c)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    kw_err rc;
    int mrc;

    if ((rc = kw__mdb_err(mdb_cursor_open(c->txn, c->s->objects, &cur), "cursor"))
        != KW_ERR_OK) {
        return rc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && !c->stop;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((rc = deliver(c, v.mv_data, v.mv_size)) != KW_ERR_OK) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

kw_err kw_store_query(kw_store *s, const kw_query *q, kw_result_cb cb, void *ctx,
    uint64_t *count)
{
    query_ctx c = { .s = s, .q = q, .cb = cb, .cb_ctx = ctx, .now_ms = kw_time_now_ms() };
    kw_err rc;

    if (count != NULL) {
        *count = 0;
    }
    if ((rc = kw_bundle_new(&c.scratch)) != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &c.txn), "txn_begin"))
        != KW_ERR_OK) {
        kw_bundle_free(c.scratch);
        return rc;
    }
    if (q->id != NULL) {
        rc = query_by_id(&c, q->id);
    } else if (q->value != NULL && q->type != KW_OBS_NONE) {
        rc = query_by_value(&c, q->type);
    } else if (q->value != NULL) {
        /* A value without a type: look it up under every type it could be stored as. */
        rc = KW_ERR_OK;
        for (int t = 1; t <= KW_OBS_MAX && rc == KW_ERR_OK && !c.stop; t++) {
            rc = query_by_value(&c, (kw_obs_type)t);
        }
    } else {
        rc = query_scan(&c);
    }
    mdb_txn_abort(c.txn);
    kw_bundle_free(c.scratch);
    if (count != NULL) {
        *count = c.count;
    }
    return rc;
}
