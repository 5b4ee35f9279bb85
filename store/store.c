/* SPDX-License-Identifier: Apache-2.0 */
#include "store/store_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bundle/timefmt.h"
#include "crypto/id.h"
#include "crypto/log.h"

/* Virtual size of the map; the data file only grows as data arrives. A ThreadSanitizer
 * build sets a smaller one (-DKW_STORE_MAP_SIZE=...): TSan cannot shadow 1 TiB. */
#ifdef KW_STORE_MAP_SIZE
#define MAP_SIZE ((size_t)(KW_STORE_MAP_SIZE))
#else
#define MAP_SIZE ((size_t)1 << 40)
#endif

kw_err kw__mdb_err(int rc, const char *what)
{
    if (rc == 0) {
        return KW_ERR_OK;
    }
    kw_log_error("lmdb error", "op=%s code=%d err=\"%s\"", what, rc, mdb_strerror(rc));
    switch (rc) {
    case MDB_NOTFOUND:
        return KW_ERR_NOTFOUND;
    case MDB_KEYEXIST:
        return KW_ERR_EXISTS;
    case MDB_MAP_FULL:
    case ENOSPC:
        return KW_ERR_NOSPACE;
    case ENOMEM:
        return KW_ERR_NOMEM;
    case EACCES:
    case EPERM:
    case EROFS:
        return KW_ERR_PERM;
    default:
        return KW_ERR_STORE;
    }
}

kw_err kw__commit(kw_store *s, MDB_txn *txn)
{
    struct statvfs vfs;
    char path[4200];
    int rc;

    if (s->pending_current != 0) {
        kw_err crc = kw__counter_add(s, txn, "n_current", s->pending_current);
        s->pending_current = 0;
        if (crc != KW_ERR_OK) {
            mdb_txn_abort(txn);
            return crc;
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc == EIO) {
        snprintf(path, sizeof(path), "%s/store", s->dir);
        if (statvfs(path, &vfs) == 0
            && (uint64_t)vfs.f_bavail * vfs.f_frsize < 4u * 1024u * 1024u) {
            kw_log_error("lmdb commit failed: the disk is full", "dir=%s", s->dir);
            return KW_ERR_NOSPACE;
        }
    }
    return kw__mdb_err(rc, "commit");
}

void kw__put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t kw__get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

void kw__feed_key(uint8_t key[static 40], const uint8_t origin[static 32], uint64_t seq)
{
    memcpy(key, origin, 32);
    kw__put64(key + 32, seq);
}

size_t kw__vkey(uint8_t key[static KW__VKEY_MAX], kw_obs_type type, const char *value,
    size_t len)
{
    key[0] = (uint8_t)type;
    if (len <= KW__VKEY_MAX - 1) {
        memcpy(key + 1, value, len);
        return 1 + len;
    }
    memcpy(key + 1, value, 440);
    crypto_generichash(key + 441, 16, (const uint8_t *)value, len, NULL, 0);
    return 457;
}

static kw_err meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *val)
{
    MDB_val k = { strlen(key), (void *)key };
    int rc = mdb_get(txn, dbi, &k, val);
    if (rc == MDB_NOTFOUND) {
        return KW_ERR_NOTFOUND;
    }
    return kw__mdb_err(rc, "meta_get");
}

static kw_err meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *data, size_t len)
{
    MDB_val k = { strlen(key), (void *)key };
    MDB_val v = { len, (void *)data };
    return kw__mdb_err(mdb_put(txn, dbi, &k, &v, 0), "meta_put");
}

kw_err kw__counter_add(kw_store *s, MDB_txn *txn, const char *name, int64_t delta)
{
    uint8_t buf[8];
    uint64_t v = kw__counter_get(s, txn, name);
    v = (uint64_t)((int64_t)v + delta);
    kw__put64(buf, v);
    return meta_put(txn, s->meta, name, buf, 8);
}

uint64_t kw__counter_get(kw_store *s, MDB_txn *txn, const char *name)
{
    MDB_val v;
    if (meta_get(txn, s->meta, name, &v) != KW_ERR_OK || v.mv_size != 8) {
        return 0;
    }
    return kw__get64(v.mv_data);
}

static kw_err env_open(kw_store *s, const char *dir, bool create, bool rdonly)
{
    char path[4200];
    MDB_txn *txn = NULL;
    int rc;
    unsigned txn_flags = rdonly ? MDB_RDONLY : 0;
    struct stat st;

    snprintf(path, sizeof(path), "%s/store", dir);
    if (stat(path, &st) != 0) {
        if (!create) {
            return KW_ERR_NOINIT;
        }
        if (mkdir(path, 0700) != 0) {
            return errno == EACCES ? KW_ERR_PERM : KW_ERR_IO;
        }
    }
    if ((rc = mdb_env_create(&s->env)) != 0) {
        return kw__mdb_err(rc, "env_create");
    }
    mdb_env_set_maxdbs(s->env, 16);
    mdb_env_set_mapsize(s->env, MAP_SIZE);
    mdb_env_set_maxreaders(s->env, 126);
    /* MDB_NOTLS: read transactions are tied to our handles, not to threads, so a verifier
     * thread and the loop thread never share a reader slot by accident. */
    rc = mdb_env_open(s->env, path, MDB_NOTLS | (rdonly ? MDB_RDONLY : 0), 0600);
    if (rc != 0) {
        return kw__mdb_err(rc, "env_open");
    }
    /* Clear reader slots left by processes that died (kill -9) so they do not pin pages. */
    int dead = 0;
    mdb_reader_check(s->env, &dead);
    if ((rc = mdb_txn_begin(s->env, NULL, txn_flags, &txn)) != 0) {
        return kw__mdb_err(rc, "txn_begin");
    }
    unsigned f = rdonly ? 0 : MDB_CREATE;
    struct {
        const char *name;
        MDB_dbi *dbi;
        unsigned flags;
    } dbs[] = {
        { "meta", &s->meta, 0 },
        { "entries", &s->entries, 0 },
        { "payloads", &s->payloads, 0 },
        { "objects", &s->objects, 0 },
        { "by_value", &s->by_value, MDB_DUPSORT },
        { "by_time", &s->by_time, 0 },
        { "heads", &s->heads, 0 },
        { "forks", &s->forks, 0 },
        { "peers", &s->peers, 0 },
        { "peer_ids", &s->peer_ids, 0 },
        { "outbox", &s->outbox, 0 },
        { "recipients", &s->recipients, 0 },
        { "index_queue", &s->index_queue, 0 },
    };
    s->has_queue = true;
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, f | dbs[i].flags, dbs[i].dbi);
        if (rc == MDB_NOTFOUND && dbs[i].dbi == &s->index_queue) {
            s->has_queue = false;
            continue; /* read-only, and no entry was ever queued: none is */
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND ? KW_ERR_NOINIT : kw__mdb_err(rc, "dbi_open");
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        return kw__mdb_err(rc, "commit");
    }
    return KW_ERR_OK;
}

kw_err kw_store_defer_meta_sync(kw_store *s)
{
    return kw__mdb_err(mdb_env_set_flags(s->env, MDB_NOMETASYNC, 1), "env_set_flags");
}

kw_err kw_store_create(const char *dir, const uint8_t self[static 32], const char *name)
{
    kw_store *s = calloc(1, sizeof(*s));
    MDB_txn *txn = NULL;
    MDB_val v;
    kw_err rc = KW_ERR_NOMEM;
    uint8_t schema[8];

    if (s == NULL) {
        return KW_ERR_NOMEM;
    }
    if ((rc = env_open(s, dir, true, false)) != KW_ERR_OK) {
        goto out;
    }
    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        goto out;
    }
    if (meta_get(txn, s->meta, "self", &v) == KW_ERR_OK) {
        rc = KW_ERR_EXISTS;
        goto out;
    }
    kw__put64(schema, KW__SCHEMA_VERSION);
    if ((rc = meta_put(txn, s->meta, "schema", schema, 8)) != KW_ERR_OK
        || (rc = meta_put(txn, s->meta, "self", self, 32)) != KW_ERR_OK
        || (rc = meta_put(txn, s->meta, "name", name, strlen(name))) != KW_ERR_OK) {
        goto out;
    }
    rc = kw__commit(s, txn);
    txn = NULL;
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    kw_store_close(s);
    return rc;
}

bool kw_store_upgrade_due(const kw_store *s)
{
    return !s->rdonly && s->schema < KW__SCHEMA_VERSION;
}

kw_err kw_store_upgrade(kw_store *s)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    uint8_t schema[8];
    kw_err rc;

    if (!kw_store_upgrade_due(s)) {
        return KW_ERR_OK;
    }
    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    /* Read again inside the write transaction: another process may have raised it. */
    if (meta_get(txn, s->meta, "schema", &v) != KW_ERR_OK || v.mv_size != 8) {
        mdb_txn_abort(txn);
        return KW_ERR_STORE;
    }
    if (kw__get64(v.mv_data) >= KW__SCHEMA_VERSION) {
        mdb_txn_abort(txn);
        s->schema = KW__SCHEMA_VERSION;
        return KW_ERR_OK;
    }
    kw__put64(schema, KW__SCHEMA_VERSION);
    if ((rc = meta_put(txn, s->meta, "schema", schema, 8)) != KW_ERR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = kw__commit(s, txn)) == KW_ERR_OK) {
        kw_log_info("store schema raised", "dir=%s schema=%d", s->dir, KW__SCHEMA_VERSION);
        s->schema = KW__SCHEMA_VERSION;
    }
    return rc;
}

kw_err kw_store_open(kw_store **out, const char *dir, unsigned flags)
{
    kw_store *s = calloc(1, sizeof(*s));
    MDB_txn *txn = NULL;
    MDB_val v;
    kw_err rc = KW_ERR_NOMEM;

    *out = NULL;
    if (s == NULL) {
        return KW_ERR_NOMEM;
    }
    s->rdonly = (flags & KW_STORE_RDONLY) != 0;
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    if ((rc = env_open(s, dir, false, s->rdonly)) != KW_ERR_OK) {
        goto out;
    }
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        goto out;
    }
    if (meta_get(txn, s->meta, "self", &v) != KW_ERR_OK || v.mv_size != 32) {
        rc = KW_ERR_NOINIT;
        goto out;
    }
    memcpy(s->self, v.mv_data, 32);
    uint64_t schema = 0;
    if (meta_get(txn, s->meta, "schema", &v) != KW_ERR_OK || v.mv_size != 8
        || (schema = kw__get64(v.mv_data)) < KW__SCHEMA_OLDEST
        || schema > KW__SCHEMA_VERSION) {
        kw_log_error("unsupported store schema", "dir=%s schema=%llu supported=%d-%d", dir,
            (unsigned long long)schema, KW__SCHEMA_OLDEST, KW__SCHEMA_VERSION);
        rc = KW_ERR_UNSUPPORTED;
        goto out;
    }
    s->schema = (int)schema;
    *out = s;
    s = NULL;
    rc = KW_ERR_OK;
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    kw_store_close(s);
    return rc;
}

void kw_store_close(kw_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->env != NULL) {
        mdb_env_close(s->env);
    }
    kw_buf_free(&s->vb);
    free(s);
}

void kw_store_self(const kw_store *s, uint8_t self[static 32])
{
    memcpy(self, s->self, 32);
}

static kw_err meta_string(kw_store *s, const char *key, char *buf, size_t cap)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    kw_err rc;

    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    rc = meta_get(txn, s->meta, key, &v);
    if (rc == KW_ERR_OK) {
        if (v.mv_size >= cap) {
            rc = KW_ERR_TOOBIG;
        } else {
            memcpy(buf, v.mv_data, v.mv_size);
            buf[v.mv_size] = '\0';
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

kw_err kw_store_name(kw_store *s, char *buf, size_t cap)
{
    return meta_string(s, "name", buf, cap);
}

kw_err kw_store_setting_get(kw_store *s, const char *key, char *buf, size_t cap)
{
    char k[128];
    snprintf(k, sizeof(k), "set:%s", key);
    return meta_string(s, k, buf, cap);
}

kw_err kw_store_setting_set(kw_store *s, const char *key, const char *value)
{
    char k[128];
    MDB_txn *txn = NULL;
    kw_err rc;

    snprintf(k, sizeof(k), "set:%s", key);
    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    if ((rc = meta_put(txn, s->meta, k, value, strlen(value))) != KW_ERR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return kw__commit(s, txn);
}

/* ---- Roster ---- */

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* peers value: id(32) | added(8) | address */
static void peer_from_val(kw_peer *p, const MDB_val *k, const MDB_val *v)
{
    memset(p, 0, sizeof(*p));
    size_t nl = k->mv_size < sizeof(p->name) - 1 ? k->mv_size : sizeof(p->name) - 1;
    memcpy(p->name, k->mv_data, nl);
    memcpy(p->id, v->mv_data, 32);
    p->added_ms = (int64_t)kw__get64((const uint8_t *)v->mv_data + 32);
    size_t al = v->mv_size - 40;
    if (al > sizeof(p->address) - 1) {
        al = sizeof(p->address) - 1;
    }
    memcpy(p->address, (const uint8_t *)v->mv_data + 40, al);
}

kw_err kw_store_peer_add(kw_store *s, const kw_peer *p)
{
    MDB_txn *txn = NULL;
    uint8_t buf[40 + sizeof(p->address)];
    size_t al = strnlen(p->address, sizeof(p->address));
    kw_err rc;

    if (!name_ok(p->name) || kw_id_check(p->id) != KW_ERR_OK || al >= sizeof(p->address)
        || sodium_memcmp(p->id, s->self, 32) == 0) {
        return KW_ERR_INVAL;
    }
    memcpy(buf, p->id, 32);
    kw__put64(buf + 32, (uint64_t)(p->added_ms ? p->added_ms : kw_time_now_ms()));
    memcpy(buf + 40, p->address, al);
    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    MDB_val k = { strlen(p->name), (void *)p->name };
    MDB_val v = { 40 + al, buf };
    MDB_val ik = { 32, (void *)p->id };
    MDB_val iv = { strlen(p->name), (void *)p->name };
    int mrc = mdb_put(txn, s->peers, &k, &v, MDB_NOOVERWRITE);
    if (mrc == 0) {
        mrc = mdb_put(txn, s->peer_ids, &ik, &iv, MDB_NOOVERWRITE);
    }
    if (mrc != 0) {
        mdb_txn_abort(txn);
        return mrc == MDB_KEYEXIST ? KW_ERR_EXISTS : kw__mdb_err(mrc, "peer_add");
    }
    return kw__commit(s, txn);
}

kw_err kw_store_peer_remove(kw_store *s, const char *name)
{
    MDB_txn *txn = NULL;
    MDB_val k = { strlen(name), (void *)name };
    MDB_val v;
    kw_err rc;
    int mrc;

    if ((rc = kw__wtxn_begin(s, &txn)) != KW_ERR_OK) {
        return rc;
    }
    if ((mrc = mdb_get(txn, s->peers, &k, &v)) != 0) {
        mdb_txn_abort(txn);
        return mrc == MDB_NOTFOUND ? KW_ERR_NOTFOUND : kw__mdb_err(mrc, "peer_get");
    }
    MDB_val ik = { 32, v.mv_data };
    mrc = mdb_del(txn, s->peer_ids, &ik, NULL);
    if (mrc == 0 || mrc == MDB_NOTFOUND) {
        mrc = mdb_del(txn, s->peers, &k, NULL);
    }
    if (mrc != 0) {
        mdb_txn_abort(txn);
        return kw__mdb_err(mrc, "peer_remove");
    }
    return kw__commit(s, txn);
}

kw_err kw__collect(kw_store *s, MDB_dbi dbi, size_t elem, kw__collect_fn fill, void **out,
    size_t *n)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t *list = NULL;
    size_t count = 0, cap = 0;
    kw_err rc;
    int mrc;

    *out = NULL;
    *n = 0;
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw__mdb_err(mdb_cursor_open(txn, dbi, &cur), "cursor")) != KW_ERR_OK) {
        goto out;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t *nl = kw_grow(list, &cap, count, elem, 16);
        if (nl == NULL) {
            rc = KW_ERR_NOMEM;
            goto out;
        }
        list = nl;
        count += fill(list + count * elem, &k, &v) ? 1 : 0;
    }
    *out = list;
    *n = count;
    list = NULL;
    rc = KW_ERR_OK;
out:
    free(list);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

static bool peer_fill(void *elem, const MDB_val *k, const MDB_val *v)
{
    if (v->mv_size < 40) {
        return false;
    }
    peer_from_val(elem, k, v);
    return true;
}

kw_err kw_store_peer_list(kw_store *s, kw_peer **out, size_t *n)
{
    return kw__collect(s, s->peers, sizeof(kw_peer), peer_fill, (void **)out, n);
}

static kw_err peer_get_name(MDB_txn *txn, kw_store *s, const char *name, size_t nl, kw_peer *out)
{
    MDB_val k = { nl, (void *)name };
    MDB_val v;
    int mrc = mdb_get(txn, s->peers, &k, &v);
    if (mrc != 0 || v.mv_size < 40) {
        return KW_ERR_NOTFOUND;
    }
    peer_from_val(out, &k, &v);
    return KW_ERR_OK;
}

static kw_err peer_get_id(MDB_txn *txn, kw_store *s, const uint8_t id[static 32], kw_peer *out)
{
    MDB_val k = { 32, (void *)id };
    MDB_val v;
    if (mdb_get(txn, s->peer_ids, &k, &v) != 0) {
        return KW_ERR_NOTFOUND;
    }
    return peer_get_name(txn, s, v.mv_data, v.mv_size, out);
}

kw_err kw_store_peer_find(kw_store *s, const char *name_or_id, kw_peer *out)
{
    MDB_txn *txn = NULL;
    uint8_t id[32];
    kw_err rc;

    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    rc = peer_get_name(txn, s, name_or_id, strlen(name_or_id), out);
    if (rc != KW_ERR_OK && kw_id_decode(id, name_or_id) == KW_ERR_OK) {
        rc = peer_get_id(txn, s, id, out);
    }
    mdb_txn_abort(txn);
    return rc;
}

kw_err kw_store_peer_by_id(kw_store *s, const uint8_t id[static 32], kw_peer *out)
{
    MDB_txn *txn = NULL;
    kw_err rc;

    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    rc = peer_get_id(txn, s, id, out);
    mdb_txn_abort(txn);
    return rc;
}

bool kw_store_is_member(kw_store *s, const uint8_t id[static 32])
{
    kw_peer p;
    if (sodium_memcmp(id, s->self, 32) == 0) {
        return true;
    }
    return kw_store_peer_by_id(s, id, &p) == KW_ERR_OK;
}

/* ---- Stats ---- */

kw_err kw_store_stats_get(kw_store *s, kw_store_stats *out)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    char path[4200];
    struct stat fst;
    kw_err rc;

    memset(out, 0, sizeof(*out));
    if ((rc = kw__mdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), "txn_begin"))
        != KW_ERR_OK) {
        return rc;
    }
    out->indicators = kw__counter_get(s, txn, "n_current");
    if (mdb_stat(txn, s->objects, &st) == 0) {
        out->versions = st.ms_entries;
    }
    if (mdb_stat(txn, s->entries, &st) == 0) {
        out->entries = st.ms_entries;
    }
    if (mdb_stat(txn, s->heads, &st) == 0) {
        out->feeds = st.ms_entries;
    }
    if (mdb_stat(txn, s->forks, &st) == 0) {
        out->forks = st.ms_entries;
    }
    out->withheld = kw__counter_get(s, txn, "n_withheld");
    out->sealed_unread = kw__counter_get(s, txn, "n_sealed");
    out->unreadable = kw__counter_get(s, txn, "n_unreadable");
    if (s->has_queue && mdb_stat(txn, s->index_queue, &st) == 0) {
        out->queued = st.ms_entries;
    }
    mdb_txn_abort(txn);
    snprintf(path, sizeof(path), "%s/store/data.mdb", s->dir);
    if (stat(path, &fst) == 0) {
        out->store_bytes = (uint64_t)fst.st_blocks * 512u;
    }
    return KW_ERR_OK;
}
