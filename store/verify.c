/* SPDX-License-Identifier: Apache-2.0 */
#include "store/store_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crypto/id.h"

static void problem(kw_verify_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(kw_verify_report *rep, const char *fmt, ...)
{
    if (rep->problems++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->first_problem, sizeof(rep->first_problem), fmt, ap);
        va_end(ap);
    }
}

/* Walks every feed in key order (origin, then seq), checking each entry against the one
 * before it, and each held payload against its header. */
static kw_err verify_entries(kw_store *s, MDB_txn *txn, kw_verify_report *rep)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t origin[32] = { 0 }, prev_id[32] = { 0 };
    uint64_t prev_seq = 0;
    int mrc;
    kw_err rc = kw__mdb_err(mdb_cursor_open(txn, s->entries, &cur), "cursor");

    if (rc != KW_ERR_OK) {
        return rc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        kw_stored_entry e;
        char who[13];
        kw_header h;
        uint8_t id[32];

        rep->entries++;
        if (k.mv_size != 40 || kw__entry_load(s, txn, &k, &v, true, &e) != KW_ERR_OK) {
            problem(rep, "entry record %llu is unreadable", (unsigned long long)rep->entries);
            continue;
        }
        kw_id_short(who, e.h.origin);
        if (memcmp(origin, e.h.origin, 32) != 0) {
            memcpy(origin, e.h.origin, 32);
            prev_seq = 0;
        }
        rc = kw_entry_check(&h, e.hdr, e.hdr_len, e.sig, e.payload, e.payload_len);
        if (rc != KW_ERR_OK) {
            problem(rep, "origin %s seq %llu: %s", who, (unsigned long long)e.h.seq,
                kw_strerror(rc));
        }
        kw_entry_id(id, e.hdr, e.hdr_len, e.sig);
        if (sodium_memcmp(id, e.id, 32) != 0) {
            problem(rep, "origin %s seq %llu: stored entry id does not match", who,
                (unsigned long long)e.h.seq);
        }
        if (memcmp(k.mv_data, e.h.origin, 32) != 0
            || kw__get64((const uint8_t *)k.mv_data + 32) != e.h.seq) {
            problem(rep, "origin %s seq %llu: stored under the wrong key", who,
                (unsigned long long)e.h.seq);
        }
        if (e.h.seq != prev_seq + 1) {
            problem(rep, "origin %s: gap before seq %llu", who, (unsigned long long)e.h.seq);
        } else if (e.h.has_prev && memcmp(e.h.prev, prev_id, 32) != 0) {
            problem(rep, "origin %s seq %llu: prev does not match the previous entry", who,
                (unsigned long long)e.h.seq);
        }
        if (e.payload != NULL) {
            rep->payloads++;
        }
        prev_seq = e.h.seq;
        memcpy(prev_id, id, 32);
        kw_stored_entry_clear(&e);
    }
    mdb_cursor_close(cur);
    return KW_ERR_OK;
}

/* Every indicator record must point at a held entry, and be findable by its value. */
static kw_err verify_index(kw_store *s, MDB_txn *txn, kw_verify_report *rep)
{
    MDB_cursor *cur = NULL, *vcur = NULL;
    MDB_val k, v;
    kw_bundle *b = NULL;
    uint64_t current = 0;
    kw__pcache pc = { .valid = false };
    int mrc;
    kw_err rc;

    if ((rc = kw_bundle_new(&b)) != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw__mdb_err(mdb_cursor_open(txn, s->objects, &cur), "cursor")) != KW_ERR_OK
        || (rc = kw__mdb_err(mdb_cursor_open(txn, s->by_value, &vcur), "cursor"))
            != KW_ERR_OK) {
        goto out;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *rec = v.mv_data, *enc;
        size_t enc_len;
        kw_indicator *ind = NULL;
        char idtxt[48];

        rep->indicators++;
        if (k.mv_size != 16 || v.mv_size < KW__OBJ_HDR) {
            problem(rep, "indicator record %llu is damaged", (unsigned long long)rep->indicators);
            continue;
        }
        kw_indicator_id_format(idtxt, k.mv_data);
        kw_bundle_reset(b);
        if (kw__object_bytes(s, txn, rec, v.mv_size, &pc, &enc, &enc_len) != KW_ERR_OK
            || kw_indicator_decode(b, enc, enc_len, &ind) != KW_ERR_OK
            || memcmp(ind->id, k.mv_data, 16) != 0) {
            problem(rep, "%s: record does not decode", idtxt);
            continue;
        }
        if (!(rec[57] & KW__OBJ_REVOKED)) {
            current++;
        }
        uint8_t ekey[40];
        MDB_val ek = { 40, ekey }, ev;
        memcpy(ekey, rec, 40);
        if (mdb_get(txn, s->entries, &ek, &ev) != 0) {
            problem(rep, "%s: points to an entry that is not stored", idtxt);
        }
        uint8_t vkey[KW__VKEY_MAX];
        MDB_val vk = { kw__vkey(vkey, ind->type, ind->value, ind->value_len), vkey };
        MDB_val vd = { 16, k.mv_data };
        if (mdb_cursor_get(vcur, &vk, &vd, MDB_GET_BOTH) != 0) {
            problem(rep, "%s: missing from the value index", idtxt);
        }
    }
    MDB_stat st;
    if (mdb_stat(txn, s->by_value, &st) == 0 && st.ms_entries != rep->indicators) {
        problem(rep, "value index holds %llu entries for %llu indicators",
            (unsigned long long)st.ms_entries, (unsigned long long)rep->indicators);
    }
    if (current != kw__counter_get(s, txn, "n_current")) {
        problem(rep, "current-indicator counter is %llu, counted %llu",
            (unsigned long long)kw__counter_get(s, txn, "n_current"),
            (unsigned long long)current);
    }
    rc = KW_ERR_OK;
out:
    mdb_cursor_close(vcur);
    mdb_cursor_close(cur);
    kw_bundle_free(b);
    return rc;
}

/* Every index queue record must name a held entry that waits for the index. */
static kw_err verify_queue(kw_store *s, MDB_txn *txn, kw_verify_report *rep)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int mrc;
    kw_err rc;

    if (!s->has_queue) {
        return KW_ERR_OK;
    }
    if ((rc = kw__mdb_err(mdb_cursor_open(txn, s->index_queue, &cur), "cursor")) != KW_ERR_OK) {
        return rc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        MDB_val ev;
        char who[13];
        rep->queued++;
        if (k.mv_size != 8 || v.mv_size != 40) {
            problem(rep, "index queue record %llu is damaged", (unsigned long long)rep->queued);
            continue;
        }
        kw_id_short(who, v.mv_data);
        unsigned long long seq = (unsigned long long)kw__get64((const uint8_t *)v.mv_data + 32);
        if (mdb_get(txn, s->entries, &v, &ev) != 0 || ev.mv_size < 1) {
            problem(rep, "index queue names origin %s seq %llu, which is not stored", who, seq);
        } else if ((((const uint8_t *)ev.mv_data)[0] & (KW__ENT_HELD | KW__ENT_INDEXED))
            != KW__ENT_HELD) {
            problem(rep, "index queue names origin %s seq %llu, which is %s", who, seq,
                (((const uint8_t *)ev.mv_data)[0] & KW__ENT_HELD) ? "indexed already"
                                                                  : "not held");
        }
    }
    mdb_cursor_close(cur);
    return KW_ERR_OK;
}

kw_err kw_store_verify(kw_store *s, const kw_identity *me, kw_verify_report *rep)
{
    MDB_txn *txn = NULL;
    kw_err rc;

    (void)me;
    memset(rep, 0, sizeof(*rep));
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    if ((rc = verify_entries(s, txn, rep)) == KW_ERR_OK
        && (rc = verify_index(s, txn, rep)) == KW_ERR_OK) {
        rc = verify_queue(s, txn, rep);
    }
    mdb_txn_abort(txn);
    return rc;
}
