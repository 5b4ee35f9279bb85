/* SPDX-License-Identifier: Apache-2.0 */
#include "store/store_int.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/timefmt.h"
#include "crypto/id.h"
#include "crypto/log.h"
#include "crypto/seal.h"

/* A heads value into h (origin aside); false when it is malformed. */
static bool head_decode(kw_head *h, const uint8_t *v, size_t len)
{
    if (len != KW__HEAD_LEN && len != KW__HEAD_LEN_V1) {
        return false;
    }
    h->seq = kw__get64(v);
    memcpy(h->id, v + 8, 32);
    h->forked = v[40] != 0;
    h->fork_seq = !h->forked ? 0 : len == KW__HEAD_LEN ? kw__get64(v + 41) : h->seq + 1;
    return true;
}

kw_err kw__head_get(kw_store *s, MDB_txn *txn, const uint8_t origin[static 32], kw_head *out)
{
    MDB_val k = { 32, (void *)origin }, v;
    int mrc = mdb_get(txn, s->heads, &k, &v);

    memset(out, 0, sizeof(*out));
    memcpy(out->origin, origin, 32);
    if (mrc == MDB_NOTFOUND) {
        return KW_ERR_OK;
    }
    if (mrc != 0) {
        return kw__mdb_err(mrc, "heads_get");
    }
    if (!head_decode(out, v.mv_data, v.mv_size)) {
        return KW_ERR_STORE;
    }
    return KW_ERR_OK;
}

kw_err kw__head_put(kw_store *s, MDB_txn *txn, const kw_head *h)
{
    uint8_t buf[KW__HEAD_LEN];
    /* The fork seq only when forked: an unforked head keeps the 41-byte form, which every
     * version of kawan reads. */
    MDB_val k = { 32, (void *)h->origin },
            v = { h->forked ? KW__HEAD_LEN : KW__HEAD_LEN_V1, buf };
    kw__put64(buf, h->seq);
    memcpy(buf + 8, h->id, 32);
    buf[40] = h->forked ? 1 : 0;
    kw__put64(buf + 41, h->forked ? h->fork_seq : 0);
    return kw__mdb_err(mdb_put(txn, s->heads, &k, &v, 0), "heads_put");
}

/* Marks the origin's feed frozen from seq on (the earliest fork wins). */
static void head_freeze(kw_head *h, uint64_t seq)
{
    if (!h->forked || seq < h->fork_seq) {
        h->fork_seq = seq;
    }
    h->forked = true;
}

static kw_err put_entry(kw_store *s, MDB_txn *txn, const kw_header *h, const uint8_t *hdr,
    size_t hdr_len, const uint8_t sig[static 64], const uint8_t id[static 32], uint8_t flags,
    uint64_t recv_ms, const uint8_t *payload, size_t payload_len)
{
    uint8_t key[40];
    uint8_t val[KW__ENT_HDR_OFF + KW_HEADER_MAX];
    uint8_t tkey[48];
    MDB_val k = { 40, key }, v = { KW__ENT_HDR_OFF + hdr_len, val };
    MDB_val tk = { 48, tkey }, tv = { 0, NULL };
    int mrc;

    kw__feed_key(key, h->origin, h->seq);
    val[0] = flags;
    kw__put64(val + 1, recv_ms);
    memcpy(val + 9, id, 32);
    memcpy(val + 41, sig, 64);
    memcpy(val + KW__ENT_HDR_OFF, hdr, hdr_len);
    if ((mrc = mdb_put(txn, s->entries, &k, &v, 0)) != 0) {
        return kw__mdb_err(mrc, "entries_put");
    }
    if (payload != NULL) {
        MDB_val pv = { payload_len, (void *)payload };
        if ((mrc = mdb_put(txn, s->payloads, &k, &pv, 0)) != 0) {
            return kw__mdb_err(mrc, "payloads_put");
        }
    }
    kw__put64(tkey, recv_ms);
    memcpy(tkey + 8, key, 40);
    if ((mrc = mdb_put(txn, s->by_time, &tk, &tv, 0)) != 0) {
        return kw__mdb_err(mrc, "by_time_put");
    }
    return KW_ERR_OK;
}

/* Collects every roster member's id plus self (for AMBER defaults). */
static kw_err roster_ids(kw_store *s, MDB_txn *txn, uint8_t (**out)[32], size_t *n)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t(*ids)[32] = NULL;
    size_t count = 0, cap = 0;
    int mrc;
    kw_err rc = kw__mdb_err(mdb_cursor_open(txn, s->peer_ids, &cur), "cursor");

    if (rc != KW_ERR_OK) {
        return rc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 32) {
            continue;
        }
        uint8_t(*nl)[32] = kw_grow(ids, &cap, count, 32, 16);
        if (nl == NULL) {
            free(ids);
            mdb_cursor_close(cur);
            return KW_ERR_NOMEM;
        }
        ids = nl;
        memcpy(ids[count++], k.mv_data, 32);
    }
    mdb_cursor_close(cur);
    *out = ids;
    *n = count;
    return KW_ERR_OK;
}

/* Builds the recipient list: the given ids (or the roster) plus self, without duplicates. */
static kw_err recipients_for(kw_store *s, MDB_txn *txn, const kw_publish_opts *o,
    uint8_t (**out)[32], size_t *n)
{
    uint8_t(*ids)[32] = NULL;
    size_t count = 0;
    kw_err rc;

    if (o->n_recipients == 0) {
        if (o->tlp == KW_TLP_RED) {
            return KW_ERR_INVAL;
        }
        if ((rc = roster_ids(s, txn, &ids, &count)) != KW_ERR_OK) {
            return rc;
        }
    } else {
        if (o->n_recipients > KW_BUNDLE_MAX_RECIPIENTS - 1) {
            return KW_ERR_TOOBIG;
        }
        if ((ids = malloc(o->n_recipients * 32)) == NULL) {
            return KW_ERR_NOMEM;
        }
        memcpy(ids, o->recipients, o->n_recipients * 32);
        count = o->n_recipients;
    }
    uint8_t(*all)[32] = realloc(ids, (count + 1) * 32);
    if (all == NULL) {
        free(ids);
        return KW_ERR_NOMEM;
    }
    ids = all;
    memcpy(ids[count++], s->self, 32);
    /* Drop duplicates (quadratic, but recipient lists are short). */
    size_t w = 0;
    for (size_t i = 0; i < count; i++) {
        bool dup = false;
        for (size_t j = 0; j < w; j++) {
            if (memcmp(ids[i], ids[j], 32) == 0) {
                dup = true;
                break;
            }
        }
        if (!dup) {
            memmove(ids[w++], ids[i], 32);
        }
    }
    *out = ids;
    *n = w;
    return KW_ERR_OK;
}

/* ---- Publishing ---- */

static bool ref_same_key(const uint8_t *keys, const kw__pref *x, const kw__pref *y)
{
    return x->klen == y->klen && memcmp(keys + x->koff, keys + y->koff, x->klen) == 0;
}

/* Puts refs in the order of their keys (in keys): equal keys side by side, and the value
 * index walked in order. */
static kw_err sort_refs(kw__pref *refs, size_t n, const uint8_t *keys)
{
    kw__skey *sk = malloc(n * sizeof(*sk));
    kw__pref *sorted = malloc(n * sizeof(*sorted));
    kw_err rc = KW_ERR_NOMEM;

    if (sk != NULL && sorted != NULL) {
        for (size_t i = 0; i < n; i++) {
            sk[i] = (kw__skey) { keys + refs[i].koff, refs[i].klen, (uint32_t)i };
        }
        if ((rc = kw__sort_keys(sk, n)) == KW_ERR_OK) {
            for (size_t i = 0; i < n; i++) {
                sorted[i] = refs[sk[i].tag];
            }
            memcpy(refs, sorted, n * sizeof(*refs));
        }
    }
    free(sk);
    free(sorted);
    return rc;
}

/* True when this node already publishes a current indicator with this key (other id); *tlp
 * gets its level. */
static kw_err has_current_own(kw_store *s, MDB_txn *txn, MDB_cursor *cur, const uint8_t *key,
    size_t klen, const uint8_t uuid[static 16], bool *found, kw_tlp *tlp)
{
    MDB_val k = { klen, (void *)key }, d;
    int mrc;

    *found = false;
    for (mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
        const uint8_t *dv = d.mv_data;
        if (d.mv_size != 16 || memcmp(dv, uuid, 16) == 0) {
            continue;
        }
        /* The value index holds ids only; the record says whose it is and if it is current. */
        MDB_val ok = { 16, (void *)dv }, ov;
        if (mdb_get(txn, s->objects, &ok, &ov) == 0 && ov.mv_size >= KW__OBJ_HDR
            && memcmp(ov.mv_data, s->self, 32) == 0
            && !(((const uint8_t *)ov.mv_data)[57] & KW__OBJ_REVOKED)) {
            *found = true;
            *tlp = (kw_tlp)((const uint8_t *)ov.mv_data)[56];
            return KW_ERR_OK;
        }
    }
    return mrc == MDB_NOTFOUND ? KW_ERR_OK : kw__mdb_err(mrc, "by_value_get");
}

void kw__prekeys_clear(kw__prekeys *pk)
{
    free(pk->refs);
    free(pk->keys);
    memset(pk, 0, sizeof(*pk));
}

kw_err kw__prekeys_make(kw_bundle *const *bundles, size_t n, kw__prekeys *out)
{
    size_t total = 0, kcap = 0, koff = 0, r = 0;
    kw_err rc;

    memset(out, 0, sizeof(*out));
    for (size_t b = 0; b < n; b++) {
        total += bundles[b]->n;
        for (uint32_t i = 0; i < bundles[b]->n; i++) {
            kcap += 1 + (bundles[b]->items[i].value_len < KW__VKEY_MAX
                            ? bundles[b]->items[i].value_len
                            : KW__VKEY_MAX);
        }
    }
    out->refs = malloc((total ? total : 1) * sizeof(*out->refs));
    out->keys = malloc(kcap ? kcap : 1);
    if (out->refs == NULL || out->keys == NULL) {
        kw__prekeys_clear(out);
        return KW_ERR_NOMEM;
    }
    for (size_t b = 0; b < n; b++) {
        for (uint32_t i = 0; i < bundles[b]->n; i++) {
            const kw_indicator *d = &bundles[b]->items[i];
            uint8_t tmp[KW__VKEY_MAX];
            size_t kl = kw__vkey(tmp, d->type, d->value, d->value_len);
            memcpy(out->keys + koff, tmp, kl);
            out->refs[r++] = (kw__pref) { (uint32_t)b, i, (uint32_t)koff, (uint16_t)kl, 0 };
            koff += kl;
        }
    }
    out->n = total;
    if ((rc = sort_refs(out->refs, total, out->keys)) != KW_ERR_OK) {
        kw__prekeys_clear(out);
    }
    return rc;
}

/*
 * Drops from the bundles what this node already publishes (and ids of other origins), with
 * pk (the batch's keys in order, made before or here) marking each indicator it dropped.
 */
static kw_err drop_duplicates(kw_store *s, MDB_txn *txn, kw_bundle *const *bundles, size_t n,
    kw_tlp tlp, kw_publish_result *res, kw__prekeys *pk)
{
    kw__pref *refs;
    const uint8_t *keys;
    size_t total;
    MDB_cursor *cur = NULL;
    kw_err rc;

    if (pk->refs == NULL && (rc = kw__prekeys_make(bundles, n, pk)) != KW_ERR_OK) {
        return rc;
    }
    refs = pk->refs;
    keys = pk->keys;
    total = pk->n;
    if (total == 0) {
        return KW_ERR_OK;
    }
    if ((rc = kw__mdb_err(mdb_cursor_open(txn, s->by_value, &cur), "cursor")) != KW_ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < total;) {
        size_t j = i + 1;
        while (j < total && ref_same_key(keys, &refs[i], &refs[j])) {
            j++;
        }
        /* Versions of existing indicators (revocations, re-marking) are never duplicates. */
        for (size_t x = i; x < j; x++) {
            const kw_indicator *d = &bundles[refs[x].b]->items[refs[x].i];
            MDB_val ok = { 16, (void *)d->id }, ov;
            if (kw__object_may_exist(s, txn, d->id) && mdb_get(txn, s->objects, &ok, &ov) == 0) {
                /* An id another origin owns (e.g. the same STIX bundle imported by two
                 * members) is not ours to version: leave it out. */
                if (ov.mv_size >= KW__OBJ_HDR && memcmp(ov.mv_data, s->self, 32) != 0) {
                    refs[x].drop = 2;
                }
                continue;
            }
            if (d->revoked) {
                continue;
            }
            bool found = false;
            kw_tlp held = tlp;
            if ((rc = has_current_own(s, txn, cur, keys + refs[x].koff, refs[x].klen, d->id,
                     &found, &held))
                != KW_ERR_OK) {
                goto out;
            }
            res->duplicates_other_tlp += found && held != tlp;
            /* Later copies of a value within one publish are duplicates of the first. */
            bool earlier = false;
            for (size_t y = i; y < x; y++) {
                if (!refs[y].drop) {
                    earlier = true;
                    break;
                }
            }
            if (found || earlier) {
                refs[x].drop = 1;
            }
        }
        i = j;
    }
    /* Compact each bundle, keeping the original order of what stays. */
    uint8_t **dropmask = calloc(n, sizeof(uint8_t *));
    if (dropmask == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    for (size_t b = 0; b < n; b++) {
        dropmask[b] = calloc(bundles[b]->n ? bundles[b]->n : 1, 1);
        if (dropmask[b] == NULL) {
            rc = KW_ERR_NOMEM;
            for (size_t x = 0; x < b; x++) {
                free(dropmask[x]);
            }
            free(dropmask);
            goto out;
        }
    }
    for (size_t i = 0; i < total; i++) {
        if (refs[i].drop) {
            dropmask[refs[i].b][refs[i].i] = 1;
            if (refs[i].drop == 2) {
                res->foreign++;
            } else {
                res->duplicates++;
            }
        }
    }
    for (size_t b = 0; b < n; b++) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < bundles[b]->n; i++) {
            if (!dropmask[b][i]) {
                bundles[b]->items[w++] = bundles[b]->items[i];
            }
        }
        bundles[b]->n = w;
        free(dropmask[b]);
    }
    free(dropmask);
    rc = KW_ERR_OK;
out:
    mdb_cursor_close(cur);
    return rc;
}

typedef struct idx_ref {
    const kw_indicator *ind;
    uint64_t seq;
    kw__enc enc; /* its encoding in the bundle's plaintext payload */
} idx_ref;

/* True when the n items of size sz at base are already in order (ids minted here are). */
static bool sorted_by(const void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
    const char *p = base;
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + (i - 1) * sz, p + i * sz) > 0) {
            return false;
        }
    }
    return true;
}

static int idx_cmp(const void *a, const void *b)
{
    const idx_ref *x = a, *y = b;
    return memcmp(x->ind->id, y->ind->id, 16);
}

/* One bundle's sealing: the plaintext in, the sealed payload out (done: sealed before). */
typedef struct seal_job {
    bool done;
    const uint8_t *plain;
    size_t plain_len;
    uint8_t ad[KW_SEAL_AD_LEN];
    const uint8_t (*recips)[32];
    size_t n_recips;
    uint8_t *out;
    size_t out_len;
    kw_err rc;
} seal_job;

/* A publish in the making: its bundles, their encodings, and the feed as it grows. */
typedef struct pub_ctx {
    kw_store *s;
    MDB_txn *txn;
    const kw_identity *id;
    const kw_publish_opts *opts;
    kw_bundle *const *bundles;
    size_t n;
    bool sealed;
    uint8_t (*recips)[32];
    size_t n_recips;
    /* Per bundle: its plaintext payload (kept until its indicators are indexed: their
     * objects records take their bytes from it), the seq it gets, and where its indicators
     * lie in item_off (from off_base[b], n + 1 offsets). */
    uint8_t **plains;
    size_t *plain_lens;
    kw__precoded *pre; /* NULL, or one per bundle: encodings made before the publish */
    bool pre_recips; /* pre was sealed for the recipients this publish has */
    kw__prekeys keys; /* the batch's keys in order: made before the publish, or by it */
    bool keys_mine; /* made here: freed with the publish */
    const uint8_t **known_hash; /* per bundle: the hash of the payload it stores, when known */
    uint64_t *seqs;
    size_t *off_base;
    size_t *item_off;
    seal_job *jobs; /* one per bundle that kept indicators, in order */
    size_t n_jobs;
    atomic_size_t next_job; /* the next job nobody has taken */
    pthread_t sealer;
    bool sealing;
    kw_head head;
    uint64_t now;
    kw_publish_result r;
} pub_ctx;

/* Takes jobs until none is left: run by the sealing thread and, once it has indexed, by the
 * caller too. */
static void *seal_all(void *arg)
{
    pub_ctx *pc = arg;
    for (size_t i; (i = atomic_fetch_add(&pc->next_job, 1)) < pc->n_jobs;) {
        seal_job *j = &pc->jobs[i];
        if (j->done) {
            continue;
        }
        j->rc = kw_seal_encrypt(j->plain, j->plain_len, j->ad, sizeof(j->ad), j->recips,
            j->n_recips, &j->out, &j->out_len);
    }
    return NULL;
}

/*
 * Seals every bundle. Sealing for many recipients costs two X25519 operations per
 * recipient and entry, about as much as indexing the entry's indicators: with a second
 * core a thread seals while the caller indexes, and seal_finish has the caller take the
 * jobs still left before it waits for the thread.
 */
static void seal_start(pub_ctx *pc)
{
    atomic_store(&pc->next_job, 0);
    if (pc->n_jobs > 0 && sysconf(_SC_NPROCESSORS_ONLN) > 1
        && pthread_create(&pc->sealer, NULL, seal_all, pc) == 0) {
        pc->sealing = true;
    } else {
        seal_all(pc);
    }
}

static kw_err seal_finish(pub_ctx *pc)
{
    if (pc->sealing) {
        seal_all(pc);
        pthread_join(pc->sealer, NULL);
        pc->sealing = false;
    }
    for (size_t i = 0; i < pc->n_jobs; i++) {
        if (pc->jobs[i].rc != KW_ERR_OK) {
            return pc->jobs[i].rc;
        }
    }
    return KW_ERR_OK;
}

/* Encodes every bundle that kept indicators, gives it its seq and, for sealed TLPs, sets
 * its recipients and prepares its seal job. */
static kw_err pub_encode(pub_ctx *pc)
{
    size_t total = 0, base = 0;
    uint64_t seq = pc->head.seq;
    kw_err rc;

    for (size_t b = 0; b < pc->n; b++) {
        total += pc->bundles[b]->n + 1;
    }
    if ((pc->item_off = malloc((total ? total : 1) * sizeof(*pc->item_off))) == NULL) {
        return KW_ERR_NOMEM;
    }
    for (size_t b = 0; b < pc->n; b++) {
        kw_bundle *bd = pc->bundles[b];
        if (bd->n == 0) {
            continue;
        }
        pc->seqs[b] = ++seq;
        /* Encoded (and sealed, for the same recipients, set in the bundle then) before, and
         * nothing has changed since. */
        kw__precoded *pre = pc->pre != NULL ? &pc->pre[b] : NULL;
        bool reuse = pre != NULL && pre->plain != NULL && pre->n == bd->n
            && (!pc->sealed || (pre->sealed != NULL && pre->seq == seq && pc->pre_recips));
        if (pc->sealed && !reuse
            && (rc = kw_bundle_set_recipients(bd, (const uint8_t(*)[32])pc->recips,
                    pc->n_recips))
                != KW_ERR_OK) {
            return rc;
        }
        if (reuse) {
            pc->plains[b] = pre->plain;
            pc->plain_lens[b] = pre->plain_len;
            pre->plain = NULL;
            memcpy(pc->item_off + base, pre->item_off, (bd->n + 1) * sizeof(size_t));
            pc->known_hash[b] = pre->hash;
        } else if ((rc = kw_bundle_encode_at(bd, &pc->plains[b], &pc->plain_lens[b],
                        pc->item_off + base))
            != KW_ERR_OK) {
            return rc;
        }
        pc->off_base[b] = base;
        base += bd->n + 1;
        if (pc->sealed) {
            seal_job *j = &pc->jobs[pc->n_jobs++];
            if (reuse) {
                j->done = true;
                j->out = pre->sealed;
                j->out_len = pre->sealed_len;
                pre->sealed = NULL;
                continue;
            }
            j->plain = pc->plains[b];
            j->plain_len = pc->plain_lens[b];
            (void)kw_seal_ad(j->ad, pc->s->self, seq, (unsigned)pc->opts->tlp);
            j->recips = (const uint8_t(*)[32])pc->recips;
            j->n_recips = pc->n_recips;
        }
    }
    return KW_ERR_OK;
}

/* Remembers the deliveries of a RED entry owed to each recipient but us. */
static kw_err owe_red(pub_ctx *pc, uint64_t seq)
{
    for (size_t i = 0; i < pc->n_recips; i++) {
        uint8_t okey[72];
        MDB_val ok = { 72, okey }, ov = { 0, NULL };
        kw_err rc;
        if (memcmp(pc->recips[i], pc->s->self, 32) == 0) {
            continue;
        }
        memcpy(okey, pc->recips[i], 32);
        kw__feed_key(okey + 32, pc->s->self, seq);
        if ((rc = kw__mdb_err(mdb_put(pc->txn, pc->s->outbox, &ok, &ov, 0), "outbox_put"))
            != KW_ERR_OK) {
            return rc;
        }
    }
    return KW_ERR_OK;
}

/* Signs and stores one entry per encoded bundle, chaining each to the one before. */
static kw_err pub_entries(pub_ctx *pc)
{
    kw_store *s = pc->s;
    kw_err rc;

    for (size_t b = 0, job = 0; b < pc->n; b++) {
        const uint8_t *payload = pc->plains[b];
        size_t payload_len = pc->plain_lens[b];
        kw_header h;
        uint8_t hdr[KW_HEADER_MAX], sig[KW_SIG_LEN], eid[32];
        size_t hdr_len;

        if (pc->bundles[b]->n == 0) {
            continue;
        }
        memset(&h, 0, sizeof(h));
        memcpy(h.origin, s->self, 32);
        h.seq = pc->seqs[b]; /* pc->head.seq + 1: pub_encode counted the same way */
        h.has_prev = pc->head.seq > 0;
        memcpy(h.prev, pc->head.id, 32);
        h.time_ms = pc->now;
        h.tlp = (uint8_t)pc->opts->tlp;
        if (pc->sealed) {
            payload = pc->jobs[job].out;
            payload_len = pc->jobs[job].out_len;
            h.flags = KW_ENTRY_FLAG_SEALED;
        }
        if (payload_len > KW_PAYLOAD_MAX) {
            return KW_ERR_TOOBIG;
        }
        if (pc->known_hash[b] != NULL) {
            memcpy(h.payload_hash, pc->known_hash[b], 32);
        } else {
            kw_payload_hash(h.payload_hash, payload, payload_len);
        }
        h.payload_len = payload_len;
        if ((rc = kw_header_encode(&h, hdr, &hdr_len)) != KW_ERR_OK) {
            return rc;
        }
        kw_entry_sign(pc->id, sig, hdr, hdr_len);
        kw_entry_id(eid, hdr, hdr_len, sig);
        rc = put_entry(s, pc->txn, &h, hdr, hdr_len, sig, eid, KW__ENT_HELD | KW__ENT_INDEXED,
            pc->now, payload, payload_len);
        if (pc->sealed) {
            free(pc->jobs[job].out);
            pc->jobs[job++].out = NULL;
        }
        if (rc != KW_ERR_OK) {
            return rc;
        }
        if (pc->sealed) {
            uint8_t key[40];
            MDB_val k = { 40, key }, v = { pc->n_recips * 32, pc->recips };
            kw__feed_key(key, s->self, h.seq);
            if ((rc = kw__mdb_err(mdb_put(pc->txn, s->recipients, &k, &v, 0), "recipients_put"))
                != KW_ERR_OK) {
                return rc;
            }
        }
        /* RED goes only from us, directly: remember every delivery we owe. */
        if (pc->opts->tlp == KW_TLP_RED && (rc = owe_red(pc, h.seq)) != KW_ERR_OK) {
            return rc;
        }
        pc->head.seq = h.seq;
        memcpy(pc->head.id, eid, 32);
        if (pc->r.entries == 0) {
            pc->r.first_seq = h.seq;
        }
        pc->r.last_seq = h.seq;
        pc->r.entries++;
    }
    return pc->r.entries > 0 ? kw__head_put(s, pc->txn, &pc->head) : KW_ERR_OK;
}

/*
 * Puts the publish's held by_value inserts. When every indicator of the batch was indexed,
 * in the order of the bundles, the inserts are the batch's keys, whose order drop_duplicates
 * had: that order is used instead of sorting them again.
 */
static kw_err value_index_flush(pub_ctx *pc, bool in_order, size_t n_refs)
{
    kw_store *s = pc->s;
    const kw__prekeys *pk = &pc->keys;

    if (!in_order || pk->refs == NULL || pk->n != n_refs || s->vb_n != n_refs
        || pc->r.indicators != n_refs) {
        return kw__vbatch_flush(s, pc->txn);
    }
    uint32_t *order = malloc((n_refs ? n_refs : 1) * sizeof(*order));
    size_t *base = malloc((pc->n ? pc->n : 1) * sizeof(*base));
    kw_err rc = KW_ERR_NOMEM;
    if (order != NULL && base != NULL) {
        for (size_t b = 0, at = 0; b < pc->n; b++) {
            base[b] = at;
            at += pc->bundles[b]->n;
        }
        for (size_t k = 0; k < n_refs; k++) {
            order[k] = (uint32_t)(base[pk->refs[k].b] + pk->refs[k].i);
        }
        rc = kw__vbatch_flush_order(s, pc->txn, order);
    }
    free(order);
    free(base);
    return rc;
}

/* Indexes every indicator of the encoded bundles, in id order. */
static kw_err pub_index(pub_ctx *pc)
{
    idx_ref *refs;
    size_t n_refs = 0;
    kw_buf scratch = { 0 };
    kw_err rc = KW_ERR_OK;

    for (size_t b = 0; b < pc->n; b++) {
        n_refs += pc->bundles[b]->n;
    }
    if ((refs = malloc((n_refs ? n_refs : 1) * sizeof(*refs))) == NULL) {
        return KW_ERR_NOMEM;
    }
    n_refs = 0;
    for (size_t b = 0; b < pc->n; b++) {
        const kw_bundle *bd = pc->bundles[b];
        const size_t *off = pc->item_off + pc->off_base[b];
        for (uint32_t i = 0; i < bd->n; i++) {
            /* A CLEAR..GREEN payload is stored as it is: the record refers to its bytes. */
            kw__enc enc = { pc->plains[b] + off[i], (uint32_t)(off[i + 1] - off[i]),
                (uint32_t)off[i], !pc->sealed };
            refs[n_refs++] = (idx_ref) { &bd->items[i], pc->seqs[b], enc };
        }
    }
    /* Index in key order: LMDB inserts are far cheaper when they walk the tree in order. */
    bool in_order = sorted_by(refs, n_refs, sizeof(*refs), idx_cmp);
    if (!in_order) {
        qsort(refs, n_refs, sizeof(*refs), idx_cmp);
    }
    for (size_t i = 0; i < n_refs && rc == KW_ERR_OK; i++) {
        bool indexed;
        rc = kw__index_indicator(pc->s, pc->txn, refs[i].ind, &refs[i].enc, pc->s->self,
            refs[i].seq, pc->now, pc->opts->tlp, &scratch, &indexed);
        if (rc == KW_ERR_PERM) {
            /* The id (e.g. from an imported STIX bundle) is another origin's: ours must
             * not version it. The entry still carries it; receivers ignore it too. */
            pc->r.foreign++;
            rc = KW_ERR_OK;
        } else if (rc == KW_ERR_OK) {
            pc->r.indicators++;
        }
    }
    if (rc == KW_ERR_OK) {
        rc = value_index_flush(pc, in_order, n_refs);
    }
    free(refs);
    if (scratch.p != NULL) {
        sodium_memzero(scratch.p, scratch.cap); /* may hold sealed indicators */
    }
    kw_buf_free(&scratch);
    return rc;
}

static void pub_free(pub_ctx *pc)
{
    if (pc->sealing) {
        atomic_store(&pc->next_job, pc->n_jobs); /* failed: seal nothing more */
        (void)seal_finish(pc);
    }
    for (size_t b = 0; pc->plains != NULL && b < pc->n; b++) {
        if (pc->plains[b] != NULL) {
            sodium_memzero(pc->plains[b], pc->plain_lens[b]); /* sealed plaintext, or harmless */
            free(pc->plains[b]);
        }
    }
    for (size_t j = 0; pc->jobs != NULL && j < pc->n_jobs; j++) {
        free(pc->jobs[j].out);
    }
    free(pc->plains);
    free(pc->plain_lens);
    free(pc->known_hash);
    if (pc->keys_mine) {
        kw__prekeys_clear(&pc->keys);
    }
    free(pc->seqs);
    free(pc->off_base);
    free(pc->item_off);
    free(pc->jobs);
    free(pc->recips);
}

void kw_publish_result_add(kw_publish_result *res, const kw_publish_result *r)
{
    if (res->entries == 0) {
        res->first_seq = r->first_seq;
    }
    if (r->entries > 0) {
        res->last_seq = r->last_seq;
        if (res->first_seq == 0) {
            res->first_seq = r->first_seq;
        }
    }
    res->entries += r->entries;
    res->indicators += r->indicators;
    res->duplicates += r->duplicates;
    res->duplicates_other_tlp += r->duplicates_other_tlp;
    res->foreign += r->foreign;
}

kw_err kw__precode(kw_bundle *b, const uint8_t (*recips)[32], size_t n_recips, uint64_t seq,
    kw__precoded *pre)
{
    kw_err rc;

    kw__precoded_clear(pre);
    if (recips != NULL && (rc = kw_bundle_set_recipients(b, recips, n_recips)) != KW_ERR_OK) {
        return rc;
    }
    if ((pre->item_off = malloc((b->n + 1) * sizeof(size_t))) == NULL) {
        return KW_ERR_NOMEM;
    }
    if ((rc = kw_bundle_encode_at(b, &pre->plain, &pre->plain_len, pre->item_off))
        != KW_ERR_OK) {
        kw__precoded_clear(pre);
        return rc;
    }
    pre->n = b->n;
    pre->seq = seq;
    if (recips == NULL) {
        kw_payload_hash(pre->hash, pre->plain, pre->plain_len);
    }
    return KW_ERR_OK;
}

kw_err kw__preseal(kw__precoded *pre, const uint8_t (*recips)[32], size_t n_recips,
    const uint8_t origin[static 32], kw_tlp tlp)
{
    uint8_t ad[KW_SEAL_AD_LEN];
    kw_err rc;

    if ((rc = kw_seal_ad(ad, origin, pre->seq, (unsigned)tlp)) != KW_ERR_OK
        || (rc = kw_seal_encrypt(pre->plain, pre->plain_len, ad, sizeof(ad), recips, n_recips,
                &pre->sealed, &pre->sealed_len))
            != KW_ERR_OK) {
        return rc;
    }
    kw_payload_hash(pre->hash, pre->sealed, pre->sealed_len);
    return KW_ERR_OK;
}

void kw__precoded_clear(kw__precoded *pre)
{
    if (pre->plain != NULL) {
        sodium_memzero(pre->plain, pre->plain_len); /* sealed plaintext, or harmless */
    }
    free(pre->plain);
    free(pre->item_off);
    free(pre->sealed);
    memset(pre, 0, sizeof(*pre));
}

kw_err kw__publish_plan(kw_store *s, const kw_publish_opts *opts, uint64_t *next_seq,
    uint8_t (**recips)[32], size_t *n_recips)
{
    MDB_txn *txn;
    kw_head head;
    kw_err rc;

    *recips = NULL;
    *n_recips = 0;
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    rc = kw__head_get(s, txn, s->self, &head);
    if (rc == KW_ERR_OK) {
        *next_seq = head.seq + 1;
        if (kw_tlp_sealed(opts->tlp)
            && recipients_for(s, txn, opts, recips, n_recips) != KW_ERR_OK) {
            *recips = NULL; /* the publish itself will say what is wrong */
            *n_recips = 0;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

kw_err kw_store_publish(kw_store *s, const kw_identity *id, const kw_publish_opts *opts,
    kw_bundle *const *bundles, size_t n, kw_publish_result *res)
{
    return kw__publish(s, id, opts, bundles, n, NULL, res);
}

kw_err kw__publish(kw_store *s, const kw_identity *id, const kw_publish_opts *opts,
    kw_bundle *const *bundles, size_t n, kw__prebatch *pb, kw_publish_result *res)
{
    pub_ctx pc = { .s = s, .id = id, .opts = opts, .bundles = bundles, .n = n,
        .pre = pb != NULL ? pb->pre : NULL, .keys_mine = pb == NULL || pb->keys.refs == NULL,
        .sealed = kw_tlp_sealed(opts->tlp), .now = (uint64_t)kw_time_now_ms() };
    size_t nb = n ? n : 1;
    kw_err rc;

    if (sodium_memcmp(kw_identity_pk(id), s->self, 32) != 0) {
        return KW_ERR_INVAL;
    }
    if ((pc.plains = calloc(nb, sizeof(*pc.plains))) == NULL
        || (pc.plain_lens = calloc(nb, sizeof(*pc.plain_lens))) == NULL
        || (pc.known_hash = calloc(nb, sizeof(*pc.known_hash))) == NULL
        || (pc.seqs = calloc(nb, sizeof(*pc.seqs))) == NULL
        || (pc.off_base = calloc(nb, sizeof(*pc.off_base))) == NULL
        || (pc.jobs = calloc(nb, sizeof(*pc.jobs))) == NULL) {
        pub_free(&pc);
        return KW_ERR_NOMEM;
    }
    if ((rc = kw__wtxn_begin(s, &pc.txn)) != KW_ERR_OK) {
        pub_free(&pc);
        return rc;
    }
    if ((rc = kw__head_get(s, pc.txn, s->self, &pc.head)) != KW_ERR_OK) {
        goto out;
    }
    if (pc.head.forked) {
        rc = KW_ERR_FORK;
        goto out;
    }
    if (pc.sealed
        && (rc = recipients_for(s, pc.txn, opts, &pc.recips, &pc.n_recips)) != KW_ERR_OK) {
        goto out;
    }
    pc.pre_recips = pb != NULL && pb->recips != NULL && pb->n_recips == pc.n_recips
        && memcmp(pb->recips, pc.recips, pc.n_recips * 32) == 0;
    if (!pc.keys_mine) {
        pc.keys = pb->keys; /* pb keeps them: freed by its maker */
    }
    if ((rc = drop_duplicates(s, pc.txn, bundles, n, opts->tlp, &pc.r, &pc.keys)) != KW_ERR_OK
        || (rc = pub_encode(&pc)) != KW_ERR_OK) {
        goto out;
    }
    if (pc.sealed) {
        /* Sealed records hold their own bytes, so indexing needs no payload: it runs while
         * the payloads are sealed. */
        seal_start(&pc);
        rc = pub_index(&pc);
        kw_err src = seal_finish(&pc);
        if (rc == KW_ERR_OK && (rc = src) == KW_ERR_OK) {
            rc = pub_entries(&pc);
        }
    } else if ((rc = pub_entries(&pc)) == KW_ERR_OK) {
        /* Records refer to the payloads: those go first, since a new version indexed here
         * reads the version before, which may be in this very publish. */
        rc = pub_index(&pc);
    }
    if (rc != KW_ERR_OK) {
        goto out;
    }
    rc = kw__commit(s, pc.txn);
    pc.txn = NULL;
    if (rc == KW_ERR_OK) {
        kw_publish_result_add(res, &pc.r);
    }
out:
    if (pc.txn != NULL) {
        mdb_txn_abort(pc.txn);
    }
    pub_free(&pc);
    return rc;
}

/* ---- Receiving ---- */

/* Stores the two conflicting entries (header and signature each) under key. */
static kw_err put_fork_pair(kw_store *s, MDB_txn *txn, const uint8_t key[static 40],
    const uint8_t *a_hdr, size_t a_len, const uint8_t *a_sig, const uint8_t *b_hdr,
    size_t b_len, const uint8_t *b_sig)
{
    uint8_t buf[2 * (2 + KW_HEADER_MAX + KW_SIG_LEN)];
    const uint8_t *hdrs[2] = { a_hdr, b_hdr }, *sigs[2] = { a_sig, b_sig };
    size_t lens[2] = { a_len, b_len }, o = 0;
    MDB_val k = { 40, (void *)key }, v;

    for (int i = 0; i < 2; i++) {
        if (lens[i] > KW_HEADER_MAX) {
            return KW_ERR_DECODE;
        }
        buf[o++] = (uint8_t)(lens[i] >> 8);
        buf[o++] = (uint8_t)lens[i];
        memcpy(buf + o, hdrs[i], lens[i]);
        o += lens[i];
        memcpy(buf + o, sigs[i], KW_SIG_LEN);
        o += KW_SIG_LEN;
    }
    v.mv_size = o;
    v.mv_data = buf;
    return kw__mdb_err(mdb_put(txn, s->forks, &k, &v, 0), "forks_put");
}

/* The held entry (an `entries` value) and the conflicting one received. */
static kw_err put_fork(kw_store *s, MDB_txn *txn, const uint8_t key[static 40],
    const MDB_val *held, const kw_wire_entry *w)
{
    const uint8_t *hv = held->mv_data;
    return put_fork_pair(s, txn, key, hv + KW__ENT_HDR_OFF, held->mv_size - KW__ENT_HDR_OFF,
        hv + 41, w->hdr, w->hdr_len, w->sig);
}

kw_err kw_store_fork_evidence(kw_store *s, const kw_wire_entry *a, const kw_wire_entry *b,
    bool *fresh)
{
    kw_header ha, hb;
    uint8_t ida[32], idb[32], key[40];
    MDB_txn *txn = NULL;
    MDB_val k = { 40, key }, v;
    kw_head head;
    kw_err rc;

    *fresh = false;
    if (a->hdr_len > KW_HEADER_MAX || b->hdr_len > KW_HEADER_MAX) {
        return KW_ERR_DECODE;
    }
    if ((rc = kw_entry_check(&ha, a->hdr, a->hdr_len, a->sig, NULL, 0)) != KW_ERR_OK
        || (rc = kw_entry_check(&hb, b->hdr, b->hdr_len, b->sig, NULL, 0)) != KW_ERR_OK) {
        return rc;
    }
    kw_entry_id(ida, a->hdr, a->hdr_len, a->sig);
    kw_entry_id(idb, b->hdr, b->hdr_len, b->sig);
    if (memcmp(ha.origin, hb.origin, 32) != 0 || ha.seq != hb.seq || memcmp(ida, idb, 32) == 0) {
        return KW_ERR_INVAL;
    }
    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    if (memcmp(ha.origin, s->self, 32) != 0) {
        MDB_val ik = { 32, ha.origin }, iv;
        if (mdb_get(txn, s->peer_ids, &ik, &iv) != 0) {
            rc = KW_ERR_ROSTER;
            goto out;
        }
    }
    kw__feed_key(key, ha.origin, ha.seq);
    if (mdb_get(txn, s->forks, &k, &v) == 0) {
        rc = KW_ERR_OK; /* known already */
        goto out;
    }
    if ((rc = kw__head_get(s, txn, ha.origin, &head)) != KW_ERR_OK
        || (rc = put_fork_pair(s, txn, key, a->hdr, a->hdr_len, a->sig, b->hdr, b->hdr_len,
                b->sig))
            != KW_ERR_OK) {
        goto out;
    }
    head_freeze(&head, ha.seq);
    if ((rc = kw__head_put(s, txn, &head)) != KW_ERR_OK) {
        goto out;
    }
    rc = kw__commit(s, txn);
    txn = NULL;
    if (rc == KW_ERR_OK) {
        char who[13];
        kw_id_short(who, ha.origin);
        kw_log_error("FORK evidence: two signed entries for one seq; feed frozen from it",
            "origin=%s seq=%llu", who, (unsigned long long)ha.seq);
        *fresh = true;
    }
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* Opens (when sealed and addressed to us) and decodes a payload. *b is NULL when the payload
 * is sealed and not for us. *unreadable: the payload is plaintext or opened, but does not
 * decode (the error is then not the machine's, as running out of memory would be). */
static kw_err payload_bundle(const kw_header *h, const uint8_t *payload, size_t len,
    const kw_identity *me, kw_bundle **b, bool *unreadable)
{
    kw_err rc;

    *b = NULL;
    *unreadable = false;
    if (!(h->flags & KW_ENTRY_FLAG_SEALED)) {
        rc = kw_bundle_decode(b, payload, len);
        *unreadable = rc != KW_ERR_OK && rc != KW_ERR_NOMEM;
        return rc;
    }
    if (me == NULL) {
        return KW_ERR_NOKEY;
    }
    uint8_t ad[KW_SEAL_AD_LEN];
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    (void)kw_seal_ad(ad, h->origin, h->seq, h->tlp);
    rc = kw_seal_open(payload, len, ad, sizeof(ad), kw_identity_x25519_pk(me),
        kw_identity_x25519_sk(me), &plain, &plain_len);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    rc = kw_bundle_decode(b, plain, plain_len);
    sodium_free(plain);
    *unreadable = rc != KW_ERR_OK && rc != KW_ERR_NOMEM;
    return rc;
}

/* payload: the stored payload b was decoded from when it is plaintext, NULL when sealed. */
static kw_err index_bundle(kw_store *s, MDB_txn *txn, const kw_header *h, const kw_bundle *b,
    const uint8_t *payload, uint64_t recv_ms, kw_buf *scratch, uint32_t *count)
{
    char idtxt[48];
    kw_err rc;

    *count = 0;
    if (kw_tlp_sealed((kw_tlp)h->tlp) && b->n_recipients > 0) {
        uint8_t key[40];
        MDB_val k = { 40, key }, v = { (size_t)b->n_recipients * 32, b->recipients };
        kw__feed_key(key, h->origin, h->seq);
        if ((rc = kw__mdb_err(mdb_put(txn, s->recipients, &k, &v, 0), "recipients_put"))
            != KW_ERR_OK) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < b->n; i++) {
        bool indexed = false;
        const kw_indicator *d = &b->items[i];
        kw__enc enc = { NULL, d->enc_len, d->enc_off, true };
        bool ref = payload != NULL && d->enc_len > 0;
        if (ref) {
            enc.p = payload + d->enc_off;
        }
        rc = kw__index_indicator(s, txn, d, ref ? &enc : NULL, h->origin, h->seq, recv_ms,
            (kw_tlp)h->tlp, scratch, &indexed);
        if (rc == KW_ERR_PERM) {
            /* Another origin reuses an id it does not own: the entry stays (its chain is
             * valid) but this indicator is ignored, so nobody can revoke others' data. */
            char who[13];
            kw_indicator_id_format(idtxt, b->items[i].id);
            kw_id_short(who, h->origin);
            kw_log_warn("indicator id owned by another origin ignored", "origin=%s seq=%llu id=%s",
                who, (unsigned long long)h->seq, idtxt);
            continue;
        }
        if (rc != KW_ERR_OK) {
            return rc;
        }
        *count += indexed;
    }
    return KW_ERR_OK;
}

static const uint8_t *plain_payload(const kw_header *h, const uint8_t *payload)
{
    return (h->flags & KW_ENTRY_FLAG_SEALED) ? NULL : payload;
}

/* The work of receiving one entry that needs no store: the entry's checks, and decoding a
 * plaintext payload. A sealed payload is opened later, and only for an origin of the
 * roster: opening one with many slots is dear, and anyone can sign an entry. */
typedef struct ingest_prep {
    kw_err check; /* kw_entry_check */
    kw_header h;
    bool decoded; /* a plaintext payload came, the check passed, and it is indexed now: */
    kw_err decode; /* payload_bundle's result */
    bool unreadable;
    kw_bundle *b;
} ingest_prep;

/* kw_entry_check, refusing an oversized header first. */
static kw_err check_entry(const kw_wire_entry *w, kw_header *h)
{
    if (w->hdr_len > KW_HEADER_MAX) {
        memset(h, 0, sizeof(*h));
        return KW_ERR_DECODE;
    }
    return kw_entry_check(h, w->hdr, w->hdr_len, w->sig, w->payload, w->payload_len);
}

/* pre: the entry's checks done beforehand (kw_store_check_entries), or NULL. */
static void prepare_entry(const kw_wire_entry *w, const kw_identity *me, bool defer,
    const kw_entry_verdict *pre, ingest_prep *pp)
{
    memset(pp, 0, sizeof(*pp));
    if (pre != NULL) {
        pp->check = pre->check;
        pp->h = pre->h;
    } else {
        pp->check = check_entry(w, &pp->h);
    }
    if (!defer && pp->check == KW_ERR_OK && w->payload != NULL
        && !(pp->h.flags & KW_ENTRY_FLAG_SEALED)) {
        pp->decode = payload_bundle(&pp->h, w->payload, w->payload_len, me, &pp->b,
            &pp->unreadable);
        pp->decoded = true;
    }
}

/*
 * Entries of a batch prepared on two cores: a thread and the storing thread take the next
 * entry nobody has taken, in order; the storing thread, needing entry i, prepares entries
 * itself until i is done, then waits for it. The thread stays at most PREP_AHEAD entries
 * ahead of the one being stored, so a batch's decoded payloads are not all held at once.
 */
#define PREP_AHEAD 2u

typedef struct prep_pool {
    const kw_wire_entry *entries;
    const kw_entry_verdict *pre; /* may be NULL */
    const kw_identity *me;
    bool defer;
    ingest_prep *preps;
    bool *done;
    size_t n;
    size_t storing; /* the entry the storing thread is at (under mu) */
    atomic_size_t next;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool threaded;
} prep_pool;

/* Prepares the next entry nobody has taken; false when none is left. */
static bool prep_take(prep_pool *pl)
{
    size_t i = atomic_fetch_add(&pl->next, 1);
    if (i >= pl->n) {
        return false;
    }
    prepare_entry(&pl->entries[i], pl->me, pl->defer, pl->pre ? &pl->pre[i] : NULL,
        &pl->preps[i]);
    pthread_mutex_lock(&pl->mu);
    pl->done[i] = true;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return true;
}

static void *prep_worker(void *arg)
{
    prep_pool *pl = arg;
    do {
        pthread_mutex_lock(&pl->mu);
        while (atomic_load(&pl->next) < pl->n
            && atomic_load(&pl->next) >= pl->storing + PREP_AHEAD) {
            pthread_cond_wait(&pl->cv, &pl->mu);
        }
        pthread_mutex_unlock(&pl->mu);
    } while (prep_take(pl));
    return NULL;
}

static kw_err prep_start(prep_pool *pl, const kw_wire_entry *entries,
    const kw_entry_verdict *pre, size_t n, const kw_identity *me, bool defer)
{
    memset(pl, 0, sizeof(*pl));
    pl->entries = entries;
    pl->pre = pre;
    pl->me = me;
    pl->defer = defer;
    pl->n = n;
    atomic_init(&pl->next, 0);
    if ((pl->preps = calloc(n ? n : 1, sizeof(*pl->preps))) == NULL
        || (pl->done = calloc(n ? n : 1, sizeof(*pl->done))) == NULL) {
        free(pl->preps);
        return KW_ERR_NOMEM;
    }
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv, NULL);
    /* Checked beforehand and stored without decoding, an entry needs no preparing. */
    pl->threaded = (pre == NULL || !defer) && n > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1
        && pthread_create(&pl->th, NULL, prep_worker, pl) == 0;
    return KW_ERR_OK;
}

/* Entry i, prepared. */
static ingest_prep *prep_get(prep_pool *pl, size_t i)
{
    pthread_mutex_lock(&pl->mu);
    pl->storing = i;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        bool ready = pl->done[i];
        pthread_mutex_unlock(&pl->mu);
        if (ready) {
            return &pl->preps[i];
        }
        /* Take the next entry: i itself if nobody has, or, while the thread prepares i, one
         * after it, up to the limit. */
        if (atomic_load(&pl->next) > i + PREP_AHEAD || !prep_take(pl)) {
            break;
        }
    }
    pthread_mutex_lock(&pl->mu);
    while (!pl->done[i]) {
        pthread_cond_wait(&pl->cv, &pl->mu);
    }
    pthread_mutex_unlock(&pl->mu);
    return &pl->preps[i];
}

static void prep_end(prep_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    atomic_store(&pl->next, pl->n); /* nothing more is taken */
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    if (pl->threaded) {
        pthread_join(pl->th, NULL);
    }
    for (size_t i = 0; pl->preps != NULL && i < pl->n; i++) {
        kw_bundle_free(pl->preps[i].b);
    }
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->cv);
    free(pl->preps);
    free(pl->done);
}

/* The entry's payload, opened and decoded (taken from pp when it was decoded beforehand). */
static kw_err entry_bundle(const kw_wire_entry *w, const kw_identity *me, ingest_prep *pp,
    kw_bundle **b, bool *unreadable)
{
    if (!pp->decoded) {
        return payload_bundle(&pp->h, w->payload, w->payload_len, me, b, unreadable);
    }
    *b = pp->b;
    pp->b = NULL;
    *unreadable = pp->unreadable;
    return pp->decode;
}

static void warn_unreadable(const kw_header *h)
{
    char who[13];
    kw_id_short(who, h->origin);
    kw_log_warn("entry kept unreadable: its payload does not decode", "origin=%s seq=%llu",
        who, (unsigned long long)h->seq);
}

/*
 * What a received payload (w->payload, not NULL) makes of its entry: the entry's flags, and
 * the bundle to index now (*b; NULL when there is none to index now). defer: a plaintext
 * payload is stored and queued for kw_store_index_queued (*queue) instead of decoded here.
 * A payload that is plaintext or opens, but does not decode, is kept unreadable: its entry
 * is signed and chained, so refusing it would stall the feed behind it for everyone.
 * Returns the error that rejects the entry, or KW_ERR_OK.
 */
static kw_err payload_take(const kw_wire_entry *w, const kw_identity *me, ingest_prep *pp,
    bool defer, uint8_t *flags, kw_bundle **b, bool *queue)
{
    const kw_header *h = &pp->h;
    bool unreadable = false;

    *b = NULL;
    *queue = false;
    if (defer && !(h->flags & KW_ENTRY_FLAG_SEALED)) {
        *flags = KW__ENT_HELD;
        *queue = true;
        return KW_ERR_OK;
    }
    kw_err rc = entry_bundle(w, me, pp, b, &unreadable);
    if (rc == KW_ERR_OK) {
        *flags = KW__ENT_HELD | KW__ENT_INDEXED;
        return KW_ERR_OK;
    }
    if (unreadable) {
        warn_unreadable(h);
        *flags = KW__ENT_HELD | KW__ENT_UNREADABLE;
        return KW_ERR_OK;
    }
    if (rc == KW_ERR_NOKEY || (rc == KW_ERR_CRYPTO && h->tlp != KW_TLP_RED && me != NULL)) {
        /* Not addressed to us. RED must never rest here, not even as ciphertext; AMBER
         * ciphertext is kept so we can relay it. A payload that does not open with a slot
         * of ours is treated as not ours: the ciphertext is all we can check. */
        if (rc == KW_ERR_CRYPTO) {
            kw_log_warn("sealed payload failed to open with our slot", NULL);
        }
        *flags = h->tlp == KW_TLP_RED ? KW__ENT_WITHHELD : KW__ENT_HELD | KW__ENT_SEALED;
        return KW_ERR_OK;
    }
    return rc;
}

/* The counters an entry's flags change, as it is stored (sign 1) or stops being so (-1). */
static void count_flags(kw_store *s, MDB_txn *txn, uint8_t flags, int sign)
{
    if (flags & KW__ENT_WITHHELD) {
        kw__counter_add(s, txn, "n_withheld", sign);
    }
    if (flags & KW__ENT_SEALED) {
        kw__counter_add(s, txn, "n_sealed", sign);
    }
    if (flags & KW__ENT_UNREADABLE) {
        kw__counter_add(s, txn, "n_unreadable", sign);
    }
}

/* Puts the entry under key on the index queue, after every entry queued before. */
static kw_err queue_put(kw_store *s, MDB_txn *txn, const uint8_t key[static 40])
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t qk[8];
    uint64_t next = 1;
    kw_err rc = kw__mdb_err(mdb_cursor_open(txn, s->index_queue, &cur), "cursor");

    if (rc != KW_ERR_OK) {
        return rc;
    }
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
        next = kw__get64(k.mv_data) + 1;
    }
    kw__put64(qk, next);
    k = (MDB_val){ 8, qk };
    v = (MDB_val){ 40, (void *)key };
    rc = kw__mdb_err(mdb_cursor_put(cur, &k, &v, MDB_APPEND), "index_queue_put");
    mdb_cursor_close(cur);
    return rc;
}

static kw_err ingest_one(kw_store *s, MDB_txn *txn, const kw_identity *me, bool defer,
    const kw_wire_entry *w, ingest_prep *pp, uint64_t now, kw_buf *scratch,
    kw_ingest_result *r)
{
    bool queue = false;
    kw_header h;
    kw_head head;
    uint8_t key[40], eid[32];
    MDB_val k = { 40, key }, v;
    kw_bundle *b = NULL;
    kw_err rc;
    int mrc;

    memset(r, 0, sizeof(*r));
    r->status = KW_INGEST_REJECTED;
    if ((r->err = pp->check) != KW_ERR_OK) {
        /* The header may still say whose it was, for the log. */
        kw_header tmp;
        if (w->hdr_len <= KW_HEADER_MAX
            && kw_header_decode(&tmp, w->hdr, w->hdr_len) == KW_ERR_OK) {
            memcpy(r->origin, tmp.origin, 32);
            r->seq = tmp.seq;
        }
        return KW_ERR_OK;
    }
    h = pp->h;
    memcpy(r->origin, h.origin, 32);
    r->seq = h.seq;
    if (memcmp(h.origin, s->self, 32) != 0) {
        MDB_val ik = { 32, h.origin }, iv;
        if (mdb_get(txn, s->peer_ids, &ik, &iv) != 0) {
            r->err = KW_ERR_ROSTER;
            return KW_ERR_OK;
        }
    }
    kw_entry_id(eid, w->hdr, w->hdr_len, w->sig);
    kw__feed_key(key, h.origin, h.seq);
    if ((rc = kw__head_get(s, txn, h.origin, &head)) != KW_ERR_OK) {
        return rc;
    }
    mrc = mdb_get(txn, s->entries, &k, &v);
    if (mrc == 0) {
        const uint8_t *held = v.mv_data;
        if (v.mv_size < KW__ENT_HDR_OFF) {
            return KW_ERR_STORE;
        }
        if (memcmp(held + 9, eid, 32) != 0) {
            char who[13];
            MDB_val fv;
            if (mdb_get(txn, s->forks, &k, &fv) == 0) {
                /* This fork is known already: the evidence is held, nothing new. */
                r->status = KW_INGEST_HELD;
                r->err = KW_ERR_OK;
                return KW_ERR_OK;
            }
            kw_id_short(who, h.origin);
            kw_log_error("FORK detected: two signed entries for one seq; feed frozen",
                "origin=%s seq=%llu", who, (unsigned long long)h.seq);
            if ((rc = put_fork(s, txn, key, &v, w)) != KW_ERR_OK) {
                return rc;
            }
            if (!head.forked || h.seq < head.fork_seq) {
                head_freeze(&head, h.seq);
                if ((rc = kw__head_put(s, txn, &head)) != KW_ERR_OK) {
                    return rc;
                }
            }
            r->status = KW_INGEST_FORK;
            r->err = KW_ERR_FORK;
            return KW_ERR_OK;
        }
        /* Held already. A payload we lacked may arrive later (anti-entropy), unless the
         * feed is frozen from this seq: a frozen feed takes nothing new at or above it. */
        uint8_t flags = held[0];
        uint64_t held_recv_ms = kw__get64(held + 1);
        if ((flags & KW__ENT_HELD) || w->payload == NULL
            || (head.forked && h.seq >= head.fork_seq)
            || (h.tlp == KW_TLP_RED && !(flags & KW__ENT_HELD) && me == NULL)) {
            r->status = KW_INGEST_HELD;
            r->err = KW_ERR_OK;
            return KW_ERR_OK;
        }
        uint8_t got = 0;
        if ((rc = payload_take(w, me, pp, defer, &got, &b, &queue)) != KW_ERR_OK) {
            r->err = rc;
            return KW_ERR_OK;
        }
        if (got & KW__ENT_WITHHELD) {
            /* RED not addressed to us: nothing here may change. */
            r->status = KW_INGEST_HELD;
            r->err = KW_ERR_OK;
            return KW_ERR_OK;
        }
        uint8_t nv[KW__ENT_HDR_OFF + KW_HEADER_MAX];
        memcpy(nv, held, v.mv_size);
        nv[0] = (uint8_t)((flags & ~KW__ENT_WITHHELD) | got);
        MDB_val vv = { v.mv_size, nv }, pv = { w->payload_len, (void *)w->payload };
        if ((rc = kw__mdb_err(mdb_put(txn, s->entries, &k, &vv, 0), "entries_put"))
                != KW_ERR_OK
            || (rc = kw__mdb_err(mdb_put(txn, s->payloads, &k, &pv, 0), "payloads_put"))
                != KW_ERR_OK
            || (queue && (rc = queue_put(s, txn, key)) != KW_ERR_OK)) {
            kw_bundle_free(b);
            return rc;
        }
        count_flags(s, txn, flags & KW__ENT_WITHHELD, -1);
        count_flags(s, txn, got, 1);
        r->unreadable = (got & KW__ENT_UNREADABLE) != 0;
        if (b != NULL) {
            rc = index_bundle(s, txn, &h, b, plain_payload(&h, w->payload), held_recv_ms,
                scratch, &r->indicators);
            kw_bundle_free(b);
            if (rc != KW_ERR_OK) {
                return rc;
            }
        }
        r->status = KW_INGEST_UPGRADED;
        r->err = KW_ERR_OK;
        return KW_ERR_OK;
    } else if (mrc != MDB_NOTFOUND) {
        return kw__mdb_err(mrc, "entries_get");
    }
    if (head.forked && h.seq >= head.fork_seq) {
        r->status = KW_INGEST_FROZEN;
        r->err = KW_ERR_FORK;
        return KW_ERR_OK;
    }
    if (h.seq > head.seq + 1) {
        r->status = KW_INGEST_GAP;
        r->err = KW_ERR_GAP;
        return KW_ERR_OK;
    }
    if (h.seq != head.seq + 1 || (h.has_prev && memcmp(h.prev, head.id, 32) != 0)) {
        r->err = KW_ERR_CHAIN;
        return KW_ERR_OK;
    }
    uint8_t flags = KW__ENT_WITHHELD;
    const uint8_t *payload = w->payload;
    if (payload != NULL) {
        if ((rc = payload_take(w, me, pp, defer, &flags, &b, &queue)) != KW_ERR_OK) {
            r->err = rc;
            return KW_ERR_OK;
        }
        if (flags & KW__ENT_WITHHELD) {
            payload = NULL;
        }
    }
    rc = put_entry(s, txn, &h, w->hdr, w->hdr_len, w->sig, eid, flags, now, payload,
        w->payload_len);
    if (rc == KW_ERR_OK && b != NULL) {
        rc = index_bundle(s, txn, &h, b, plain_payload(&h, payload), now, scratch,
            &r->indicators);
    }
    if (rc == KW_ERR_OK && queue) {
        rc = queue_put(s, txn, key);
    }
    kw_bundle_free(b);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    count_flags(s, txn, flags, 1);
    r->unreadable = (flags & KW__ENT_UNREADABLE) != 0;
    head.seq = h.seq;
    memcpy(head.id, eid, 32);
    if ((rc = kw__head_put(s, txn, &head)) != KW_ERR_OK) {
        return rc;
    }
    r->status = KW_INGEST_STORED;
    r->err = KW_ERR_OK;
    return KW_ERR_OK;
}

static kw_err ingest_batch(kw_store *s, const kw_identity *me, bool defer,
    const kw_wire_entry *entries, const kw_entry_verdict *pre, size_t n,
    kw_ingest_result *results)
{
    MDB_txn *txn = NULL;
    kw_buf scratch = { 0 };
    kw_err rc;
    uint64_t now = (uint64_t)kw_time_now_ms();

    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    prep_pool pl;
    if ((rc = prep_start(&pl, entries, pre, n, me, defer)) != KW_ERR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = ingest_one(s, txn, me, defer, &entries[i], prep_get(&pl, i), now, &scratch,
                 &results[i]))
            != KW_ERR_OK) {
            prep_end(&pl);
            mdb_txn_abort(txn);
            kw_buf_free(&scratch);
            return rc;
        }
        kw_bundle_free(pl.preps[i].b); /* decoded for an entry held already */
        pl.preps[i].b = NULL;
    }
    prep_end(&pl);
    kw_buf_free(&scratch);
    if ((rc = kw__vbatch_flush(s, txn)) != KW_ERR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return kw__commit(s, txn);
}

kw_err kw_store_ingest(kw_store *s, const kw_identity *me, const kw_wire_entry *entries,
    size_t n, kw_ingest_result *results)
{
    return ingest_batch(s, me, false, entries, NULL, n, results);
}

kw_err kw_store_ingest_checked(kw_store *s, const kw_identity *me,
    const kw_wire_entry *entries, const kw_entry_verdict *verdicts, size_t n, bool defer,
    kw_ingest_result *results)
{
    return ingest_batch(s, me, defer, entries, verdicts, n, results);
}

/* Half of kw_store_check_entries: entries from, from + step, ... */
typedef struct check_part {
    const kw_wire_entry *entries;
    kw_entry_verdict *out;
    size_t n, from, step;
} check_part;

static void *check_some(void *arg)
{
    const check_part *c = arg;
    for (size_t i = c->from; i < c->n; i += c->step) {
        c->out[i].check = check_entry(&c->entries[i], &c->out[i].h);
    }
    return NULL;
}

void kw_store_check_entries(const kw_wire_entry *entries, size_t n, kw_entry_verdict *out)
{
    check_part mine = { entries, out, n, 0, 2 }, other = { entries, out, n, 1, 2 };
    pthread_t th;
    bool two = n > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1
        && pthread_create(&th, NULL, check_some, &other) == 0;
    if (!two) {
        mine.step = 1;
    }
    check_some(&mine);
    if (two) {
        pthread_join(th, NULL);
    }
}

/* ---- The index queue ---- */

/* One queued entry, read and decoded before the write transaction. */
typedef struct queued {
    uint8_t qkey[8];
    uint8_t key[40]; /* feed key */
    kw_header h;
    bool index;      /* held, not indexed yet, and its header decodes */
    kw_err decode;   /* payload_bundle's result, when index */
    bool unreadable;
    kw_bundle *b;
} queued;

/* Entries of the queue indexed in one write transaction, at most, and the payload bytes
 * read for one at most (bounding the decoded bundles held at once). */
#define QUEUE_BATCH 32u
#define QUEUE_BYTES (8u << 20)

/* A batch of the queue, read and decoded. */
typedef struct qbatch {
    queued q[QUEUE_BATCH];
    size_t n;
    kw_err rc;
    /* what to read: */
    kw_store *s;
    const kw_identity *me;
    uint8_t after[8]; /* the queue key to read after (with has_after) */
    bool has_after;
    size_t max;
} qbatch;

static void qbatch_clear(qbatch *qb)
{
    for (size_t i = 0; i < qb->n; i++) {
        kw_bundle_free(qb->q[i].b);
    }
    qb->n = 0;
}

/* Reads qb->max queued entries at most, oldest first (after qb->after), and decodes their
 * payloads, in a read transaction: nothing of this needs the write lock. */
static void queue_read(qbatch *qb)
{
    kw_store *s = qb->s;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t bytes = 0;
    int mrc;

    qb->n = 0;
    if ((qb->rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return;
    }
    if ((qb->rc = kw__mdb_err(mdb_cursor_open(txn, s->index_queue, &cur), "cursor"))
        != KW_ERR_OK) {
        mdb_txn_abort(txn);
        return;
    }
    k = (MDB_val){ 8, qb->after };
    if (!qb->has_after) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    } else if ((mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0 && k.mv_size == 8
        && memcmp(k.mv_data, qb->after, 8) == 0) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    for (; mrc == 0 && qb->n < qb->max && bytes < QUEUE_BYTES;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        queued *e = &qb->q[qb->n];
        MDB_val ek, ev, pv;
        memset(e, 0, sizeof(*e));
        if (k.mv_size != 8 || v.mv_size != 40) {
            qb->rc = KW_ERR_STORE;
            break;
        }
        memcpy(e->qkey, k.mv_data, 8);
        memcpy(e->key, v.mv_data, 40);
        qb->n++;
        ek = (MDB_val){ 40, e->key };
        if (mdb_get(txn, s->entries, &ek, &ev) != 0 || ev.mv_size < KW__ENT_HDR_OFF) {
            continue; /* gone or damaged: the write transaction drops it from the queue */
        }
        const uint8_t *rec = ev.mv_data;
        if (!kw__ent_awaits_index(rec[0])
            || kw_header_decode(&e->h, rec + KW__ENT_HDR_OFF, ev.mv_size - KW__ENT_HDR_OFF)
                != KW_ERR_OK
            || mdb_get(txn, s->payloads, &ek, &pv) != 0) {
            continue;
        }
        e->index = true;
        bytes += pv.mv_size;
        e->decode = payload_bundle(&e->h, pv.mv_data, pv.mv_size, qb->me, &e->b,
            &e->unreadable);
        if (e->decode == KW_ERR_NOMEM) {
            qb->rc = KW_ERR_NOMEM;
            break;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
}

static void *queue_read_thread(void *arg)
{
    queue_read(arg);
    return NULL;
}

/* Indexes one queued entry (read by queue_read) and takes it off the queue. */
static kw_err queue_index_one(kw_store *s, MDB_txn *txn, queued *e, kw_buf *scratch,
    kw_indexed *out)
{
    MDB_val qk = { 8, e->qkey }, qv, ek = { 40, e->key }, ev, pv;
    kw_err rc;

    memset(out, 0, sizeof(*out));
    memcpy(out->origin, e->key, 32);
    out->seq = kw__get64(e->key + 32);
    if (mdb_get(txn, s->index_queue, &qk, &qv) != 0 || qv.mv_size != 40
        || memcmp(qv.mv_data, e->key, 40) != 0) {
        /* Taken off the queue since it was read (keys start again at 1 once the queue is
         * empty, so the key may now name another entry): nothing to do for this one. */
        return KW_ERR_OK;
    }
    if ((rc = kw__mdb_err(mdb_del(txn, s->index_queue, &qk, NULL), "index_queue_del"))
        != KW_ERR_OK) {
        return rc;
    }
    /* Read again: only the write transaction's view counts. */
    if (!e->index || mdb_get(txn, s->entries, &ek, &ev) != 0 || ev.mv_size < KW__ENT_HDR_OFF
        || ev.mv_size > KW__ENT_HDR_OFF + KW_HEADER_MAX
        || !kw__ent_awaits_index(((const uint8_t *)ev.mv_data)[0])
        || mdb_get(txn, s->payloads, &ek, &pv) != 0) {
        return KW_ERR_OK;
    }
    uint8_t nv[KW__ENT_HDR_OFF + KW_HEADER_MAX];
    memcpy(nv, ev.mv_data, ev.mv_size);
    /* pv points into the map at a payload committed before this transaction, which this
     * transaction never writes: the puts below dirty other pages only, so it stays valid
     * (the environment has no MDB_WRITEMAP). */
    if (e->decode != KW_ERR_OK) {
        /* A sealed payload is never queued; one that is not ours stays as it is. */
        if (!e->unreadable) {
            return KW_ERR_OK;
        }
        warn_unreadable(&e->h);
        nv[0] |= KW__ENT_UNREADABLE;
        count_flags(s, txn, KW__ENT_UNREADABLE, 1);
        out->unreadable = true;
    } else {
        rc = index_bundle(s, txn, &e->h, e->b, plain_payload(&e->h, pv.mv_data),
            kw__get64(nv + 1), scratch, &out->indicators);
        if (rc != KW_ERR_OK) {
            return rc;
        }
        nv[0] |= KW__ENT_INDEXED;
    }
    MDB_val vv = { ev.mv_size, nv };
    return kw__mdb_err(mdb_put(txn, s->entries, &ek, &vv, 0), "entries_put");
}

/* Indexes a batch in one write transaction; out[i] for qb->q[i]. */
static kw_err queue_write(kw_store *s, qbatch *qb, kw_indexed *out)
{
    MDB_txn *txn = NULL;
    kw_buf scratch = { 0 };
    kw_err rc;

    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    for (size_t i = 0; i < qb->n && rc == KW_ERR_OK; i++) {
        rc = queue_index_one(s, txn, &qb->q[i], &scratch, &out[i]);
    }
    kw_buf_free(&scratch);
    if (rc == KW_ERR_OK) {
        rc = kw__vbatch_flush(s, txn);
    }
    if (rc != KW_ERR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return kw__commit(s, txn);
}

kw_err kw_store_index_queued(kw_store *s, const kw_identity *me, size_t max, kw_indexed_cb cb,
    void *ctx, size_t *done)
{
    qbatch *qb[2] = { NULL, NULL };
    kw_indexed out[QUEUE_BATCH];
    size_t left = max;
    kw_err rc = KW_ERR_OK;

    *done = 0;
    if (s->rdonly) {
        return KW_ERR_PERM;
    }
    if (!s->has_queue || max == 0) {
        return KW_ERR_OK;
    }
    if ((qb[0] = calloc(1, sizeof(*qb[0]))) == NULL
        || (qb[1] = calloc(1, sizeof(*qb[1]))) == NULL) {
        free(qb[0]);
        return KW_ERR_NOMEM;
    }
    qb[0]->s = qb[1]->s = s;
    qb[0]->me = qb[1]->me = me;
    qb[0]->max = left < QUEUE_BATCH ? left : QUEUE_BATCH;
    queue_read(qb[0]);
    /* The next batch is read and decoded on a second thread while this one is written. */
    for (int cur = 0; qb[cur]->rc == KW_ERR_OK && qb[cur]->n > 0; cur ^= 1) {
        qbatch *now = qb[cur], *next = qb[cur ^ 1];
        pthread_t th;
        bool ahead = false;
        left -= now->n;
        if (left > 0 && now->n == now->max) {
            memcpy(next->after, now->q[now->n - 1].qkey, 8);
            next->has_after = true;
            next->max = left < QUEUE_BATCH ? left : QUEUE_BATCH;
            next->n = 0;
            next->rc = KW_ERR_OK;
            ahead = pthread_create(&th, NULL, queue_read_thread, next) == 0;
        }
        rc = queue_write(s, now, out);
        if (ahead) {
            pthread_join(th, NULL);
        }
        if (rc != KW_ERR_OK) {
            break;
        }
        *done += now->n;
        bool go_on = cb == NULL || cb(ctx, out, now->n);
        qbatch_clear(now);
        if (!ahead || !go_on) {
            break;
        }
    }
    if (rc == KW_ERR_OK) {
        rc = qb[0]->rc != KW_ERR_OK ? qb[0]->rc : qb[1]->rc;
    }
    qbatch_clear(qb[0]);
    qbatch_clear(qb[1]);
    free(qb[0]);
    free(qb[1]);
    return rc;
}

/* ---- Reading feeds ---- */

void kw_stored_entry_clear(kw_stored_entry *e)
{
    free(e->payload);
    e->payload = NULL;
    e->payload_len = 0;
}

kw_err kw__entry_load(kw_store *s, MDB_txn *txn, const MDB_val *key, const MDB_val *val,
    bool want_payload, kw_stored_entry *e)
{
    const uint8_t *v = val->mv_data;
    kw_err rc;

    memset(e, 0, sizeof(*e));
    if (val->mv_size < KW__ENT_HDR_OFF || val->mv_size - KW__ENT_HDR_OFF > KW_HEADER_MAX) {
        return KW_ERR_STORE;
    }
    e->hdr_len = val->mv_size - KW__ENT_HDR_OFF;
    memcpy(e->hdr, v + KW__ENT_HDR_OFF, e->hdr_len);
    memcpy(e->sig, v + 41, KW_SIG_LEN);
    memcpy(e->id, v + 9, 32);
    e->recv_ms = kw__get64(v + 1);
    if ((rc = kw_header_decode(&e->h, e->hdr, e->hdr_len)) != KW_ERR_OK) {
        return KW_ERR_STORE;
    }
    if (want_payload && (v[0] & KW__ENT_HELD)) {
        MDB_val pv;
        int mrc = mdb_get(txn, s->payloads, (MDB_val *)key, &pv);
        if (mrc == 0) {
            if ((e->payload = malloc(pv.mv_size ? pv.mv_size : 1)) == NULL) {
                return KW_ERR_NOMEM;
            }
            memcpy(e->payload, pv.mv_data, pv.mv_size);
            e->payload_len = pv.mv_size;
        } else if (mrc != MDB_NOTFOUND) {
            return kw__mdb_err(mrc, "payloads_get");
        }
    }
    return KW_ERR_OK;
}

kw_err kw_store_head(kw_store *s, const uint8_t origin[static 32], kw_head *out)
{
    MDB_txn *txn = NULL;
    kw_err rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin");
    if (rc != KW_ERR_OK) {
        return rc;
    }
    rc = kw__head_get(s, txn, origin, out);
    mdb_txn_abort(txn);
    return rc;
}

static bool head_fill(void *elem, const MDB_val *k, const MDB_val *v)
{
    kw_head *h = elem;
    if (k->mv_size != 32 || !head_decode(h, v->mv_data, v->mv_size)) {
        return false;
    }
    memcpy(h->origin, k->mv_data, 32);
    return true;
}

kw_err kw_store_heads(kw_store *s, kw_head **out, size_t *n)
{
    return kw__collect(s, s->heads, sizeof(kw_head), head_fill, (void **)out, n);
}

/*
 * Walks `dbi` from the key `start` (start_len bytes) in key order. Keys of another size, or
 * whose first prefix_len bytes differ from start, end the walk. Each key holds a feed key
 * (origin || seq) at ref_off; the entry it names is loaded and passed to cb, until cb
 * returns non-zero or the seq passes to_seq (0: no bound). One read transaction.
 */
static kw_err walk_entries(kw_store *s, MDB_dbi dbi, const uint8_t *start, size_t start_len,
    size_t key_len, size_t prefix_len, size_t ref_off, uint64_t to_seq, bool want_payload,
    kw_entry_cb cb, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k = { start_len, (void *)start }, v;
    kw_err rc;
    int mrc;

    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw__mdb_err(mdb_cursor_open(txn, dbi, &cur), "cursor")) != KW_ERR_OK) {
        goto out;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        MDB_val ek = { 40, (uint8_t *)k.mv_data + ref_off }, ev = v;
        kw_stored_entry e;
        if (k.mv_size != key_len || memcmp(k.mv_data, start, prefix_len) != 0) {
            break;
        }
        if (to_seq != 0 && kw__get64((const uint8_t *)ek.mv_data + 32) > to_seq) {
            break;
        }
        /* Index keys point to the entry; the feed itself holds it as the value. */
        if (dbi != s->entries && mdb_get(txn, s->entries, &ek, &ev) != 0) {
            continue;
        }
        if ((rc = kw__entry_load(s, txn, &ek, &ev, want_payload, &e)) != KW_ERR_OK) {
            goto out;
        }
        int stop = cb(ctx, &e);
        kw_stored_entry_clear(&e);
        if (stop) {
            break;
        }
    }
    rc = KW_ERR_OK;
out:
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

kw_err kw_store_feed_range(kw_store *s, const uint8_t origin[static 32], uint64_t from,
    uint64_t to, bool want_payload, kw_entry_cb cb, void *ctx)
{
    uint8_t key[40];
    kw__feed_key(key, origin, from ? from : 1);
    return walk_entries(s, s->entries, key, 40, 40, 32, 0, to, want_payload, cb, ctx);
}

kw_err kw_store_entries_since(kw_store *s, int64_t since_ms, bool want_payload, kw_entry_cb cb,
    void *ctx)
{
    uint8_t key[8];
    kw__put64(key, (uint64_t)(since_ms > 0 ? since_ms : 0));
    return walk_entries(s, s->by_time, key, 8, 48, 0, 8, 0, want_payload, cb, ctx);
}

static kw_err fork_side(const uint8_t *p, size_t len, size_t *off, kw_stored_entry *e)
{
    size_t hl;
    memset(e, 0, sizeof(*e));
    if (len - *off < 2) {
        return KW_ERR_STORE;
    }
    hl = (size_t)p[*off] << 8 | p[*off + 1];
    *off += 2;
    if (hl > KW_HEADER_MAX || len - *off < hl + KW_SIG_LEN) {
        return KW_ERR_STORE;
    }
    memcpy(e->hdr, p + *off, hl);
    e->hdr_len = hl;
    *off += hl;
    memcpy(e->sig, p + *off, KW_SIG_LEN);
    *off += KW_SIG_LEN;
    kw_entry_id(e->id, e->hdr, e->hdr_len, e->sig);
    return kw_header_decode(&e->h, e->hdr, e->hdr_len) == KW_ERR_OK ? KW_ERR_OK : KW_ERR_STORE;
}

kw_err kw_store_forks(kw_store *s, kw_fork_cb cb, void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    kw_err rc;
    int mrc;

    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw__mdb_err(mdb_cursor_open(txn, s->forks, &cur), "cursor")) != KW_ERR_OK) {
        goto out;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        kw_stored_entry a, b;
        size_t off = 0;
        if (fork_side(v.mv_data, v.mv_size, &off, &a) != KW_ERR_OK
            || fork_side(v.mv_data, v.mv_size, &off, &b) != KW_ERR_OK) {
            continue;
        }
        if (cb(ctx, &a, &b)) {
            break;
        }
    }
    rc = KW_ERR_OK;
out:
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

kw_err kw_store_fork_get(kw_store *s, const uint8_t origin[static 32], uint64_t seq,
    kw_fork_cb cb, void *ctx)
{
    MDB_txn *txn = NULL;
    uint8_t key[40];
    MDB_val k = { 40, key }, v;
    kw_stored_entry a, b;
    size_t off = 0;
    kw_err rc;

    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    kw__feed_key(key, origin, seq);
    int mrc = mdb_get(txn, s->forks, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        rc = KW_ERR_NOTFOUND;
    } else if (mrc != 0) {
        rc = kw__mdb_err(mrc, "forks_get");
    } else if (fork_side(v.mv_data, v.mv_size, &off, &a) != KW_ERR_OK
        || fork_side(v.mv_data, v.mv_size, &off, &b) != KW_ERR_OK) {
        rc = KW_ERR_STORE;
    } else {
        cb(ctx, &a, &b);
        rc = KW_ERR_OK;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* ---- RED outbox ---- */

kw_err kw_store_outbox_list(kw_store *s, const uint8_t recipient[static 32], kw_entry_cb cb,
    void *ctx)
{
    return walk_entries(s, s->outbox, recipient, 32, 72, 32, 32, 0, true, cb, ctx);
}

kw_err kw_store_outbox_done(kw_store *s, const uint8_t recipient[static 32],
    const uint8_t origin[static 32], uint64_t seq)
{
    MDB_txn *txn = NULL;
    uint8_t key[72];
    MDB_val k = { 72, key };
    kw_err rc;
    int mrc;

    memcpy(key, recipient, 32);
    kw__feed_key(key + 32, origin, seq);
    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    mrc = mdb_del(txn, s->outbox, &k, NULL);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return kw__mdb_err(mrc, "outbox_del");
    }
    return kw__commit(s, txn);
}

kw_err kw_store_entry_recipients(kw_store *s, const uint8_t origin[static 32], uint64_t seq,
    uint8_t (**out)[32], size_t *n)
{
    MDB_txn *txn = NULL;
    uint8_t key[40];
    MDB_val k = { 40, key }, v;
    kw_err rc;
    int mrc;

    *out = NULL;
    *n = 0;
    kw__feed_key(key, origin, seq);
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    mrc = mdb_get(txn, s->recipients, &k, &v);
    if (mrc == 0 && v.mv_size % 32 == 0 && v.mv_size > 0) {
        if ((*out = malloc(v.mv_size)) == NULL) {
            rc = KW_ERR_NOMEM;
        } else {
            memcpy(*out, v.mv_data, v.mv_size);
            *n = v.mv_size / 32;
        }
    } else if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = kw__mdb_err(mrc, "recipients_get");
    }
    mdb_txn_abort(txn);
    return rc;
}
