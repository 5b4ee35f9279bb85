/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_store: the local store against the limits of the machine it runs on.
 *
 *     bench_store [--count N] [--runs R] [--queries Q] [--corpus DIR] [--sealed M]
 *                 [--kv FILE]
 *
 * Each run, in a fresh temporary store:
 *   1. publish N values end to end (read lines from the IOC corpus, detect and normalise,
 *      build bundles of 1,000 indicators, kw_store_publish ten bundles per call, as
 *      `kawan publish` does) -> indicators/s, store bytes per indicator, and the peak
 *      RssAnon of this process during the publish (sampled every 2 ms by a thread);
 *   2. Q random point queries by value (kw_store_query, type and value) -> p50/p99 us,
 *      from a second pass over the same values (hot; the first pass, cold, is printed too);
 *   3. the limits, on the same machine in the same run: raw LMDB puts of as many records as
 *      indicators were published (16-byte keys, the same environment flags as the store, one
 *      write transaction per 10,000 puts): with sequential keys, records as large as all of
 *      kawan's records per indicator (keys and values of every record publishing wrote, over
 *      the indicators), and, with sequential keys and with keys in random order, records of
 *      the mean `objects` value size; raw LMDB point gets (a read transaction and one
 *      mdb_get each, as a query has; two passes likewise) -> p50/p99 us;
 *      Ed25519 sign and verify of a 160-byte message (about an entry header);
 *   4. with --sealed M: the first M values published as CLEAR and as AMBER sealed for 10
 *      recipients, each into a new store -> the ratio of the times (issue 5's target).
 * Every figure printed is the median over the R runs (default 3). The values are every
 * file of DIR (default $KW_CORPORA/iocs) interleaved in proportion to the files' sizes, so
 * any N gets the corpus's mix of types; lines kawan refuses are skipped; past the end of
 * the corpus the values are IPv4 addresses from 10/8. N defaults to 1,000,000.
 * It prints figures and never fails on speed. --kv appends "key value" lines for the
 * table that `make bench` prints.
 */
#include <dirent.h>
#include <lmdb.h>
#include <malloc.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bundle/bundle.h"
#include "bundle/timefmt.h"
#include "bundle/value.h"
#include "crypto/identity.h"
#include "store/store.h"
#include "store/store_int.h"
#include "tests/support/support.h"

#define MAX_RUNS 15
#define MAX_FILES 64
#define MAX_BATCH 200u
/* Bundles of 1,000 per write transaction, for kawan and the raw limits alike. */
static size_t g_batch = 10;
#define BATCH_BUNDLES g_batch
#define RAW_BATCH (g_batch * 1000u)
#define SAMPLE 10000u
#define SIGN_MSG 160u
#define SIGN_SECONDS 0.25

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, why);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    double t[MAX_RUNS];

    memcpy(t, v, (size_t)n * sizeof(*v));
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* The p-th percentile (0-100) of n sorted values, nearest rank. */
static double percentile(const double *sorted, size_t n, double p)
{
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);

    if (rank < 1) {
        rank = 1;
    }
    return sorted[(rank > n ? n : rank) - 1];
}

/* A small fast PRNG (splitmix64), so the runs are repeatable and cheap. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- RssAnon sampler ---- */

static atomic_bool g_sampling;
static atomic_long g_peak_kb;

static long rss_anon_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "RssAnon:", 8) == 0) {
            kb = strtol(line + 8, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static void sample_peak(void)
{
    long kb = rss_anon_kb();

    if (kb > atomic_load(&g_peak_kb)) {
        atomic_store(&g_peak_kb, kb);
    }
}

static void *sampler(void *arg)
{
    struct timespec d = { 0, 2 * 1000 * 1000 };

    (void)arg;
    while (atomic_load(&g_sampling)) {
        sample_peak();
        nanosleep(&d, NULL);
    }
    return NULL;
}

/* ---- The corpus, read line by line, files interleaved in proportion to their size ---- */

typedef struct corpus_file {
    FILE *f;
    uint64_t lines;
    uint64_t read;
} corpus_file;

typedef struct corpus {
    corpus_file files[MAX_FILES];
    int n;
    char *line;
    size_t cap;
    uint64_t pad; /* values made up past the end */
} corpus;

static uint64_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[65536];
    uint64_t n = 0;
    size_t r;
    int last = '\n';

    if (f == NULL) {
        die(path, "cannot open");
    }
    while ((r = fread(buf, 1, sizeof(buf), f)) > 0) {
        for (size_t i = 0; i < r; i++) {
            n += buf[i] == '\n';
        }
        last = buf[r - 1];
    }
    fclose(f);
    return n + (last != '\n');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void corpus_open(corpus *c, const char *dir)
{
    static const char *const subs[] = { "malicious", "benign" };
    char *names[MAX_FILES];
    int k = 0;

    memset(c, 0, sizeof(*c));
    for (size_t s = 0; s < sizeof(subs) / sizeof(subs[0]); s++) {
        char sub[4096];
        DIR *d;
        struct dirent *e;
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[s]);
        if ((d = opendir(sub)) == NULL) {
            continue;
        }
        while ((e = readdir(d)) != NULL && k < MAX_FILES) {
            size_t l = strlen(e->d_name);
            if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0) {
                char *p = malloc(strlen(sub) + l + 2);
                if (p == NULL) {
                    die("corpus", "out of memory");
                }
                sprintf(p, "%s/%s", sub, e->d_name);
                names[k++] = p;
            }
        }
        closedir(d);
    }
    qsort(names, (size_t)k, sizeof(names[0]), cmp_str);
    for (int i = 0; i < k; i++) {
        corpus_file *cf = &c->files[c->n];
        cf->lines = count_lines(names[i]);
        if (cf->lines > 0 && (cf->f = fopen(names[i], "r")) != NULL) {
            c->n++;
        }
        free(names[i]);
    }
}

static void corpus_close(corpus *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->files[i].f != NULL) {
            fclose(c->files[i].f);
        }
    }
    free(c->line);
}

/* The next raw value: from the file furthest behind its share, then made-up addresses. */
static const char *corpus_next(corpus *c, size_t *len)
{
    for (;;) {
        int best = -1;
        double best_frac = 2.0;
        for (int i = 0; i < c->n; i++) {
            corpus_file *cf = &c->files[i];
            double frac = (double)cf->read / (double)cf->lines;
            if (cf->f != NULL && frac < best_frac) {
                best = i;
                best_frac = frac;
            }
        }
        if (best < 0) {
            break;
        }
        corpus_file *cf = &c->files[best];
        ssize_t r = getline(&c->line, &c->cap, cf->f);
        if (r < 0) {
            fclose(cf->f);
            cf->f = NULL;
            continue;
        }
        cf->read++;
        while (r > 0 && (c->line[r - 1] == '\n' || c->line[r - 1] == '\r')) {
            r--;
        }
        c->line[r] = '\0';
        *len = (size_t)r;
        return c->line;
    }
    if (c->cap < 32) {
        free(c->line);
        c->cap = 32;
        if ((c->line = malloc(c->cap)) == NULL) {
            die("corpus", "out of memory");
        }
    }
    uint64_t i = c->pad++;
    *len = (size_t)snprintf(c->line, c->cap, "10.%u.%u.%u", (unsigned)(i >> 16) & 255u,
        (unsigned)(i >> 8) & 255u, (unsigned)i & 255u);
    return c->line;
}

/* ---- One run ---- */

typedef struct sample_val {
    kw_obs_type type;
    char *value;
} sample_val;

typedef struct run_result {
    double publish_rate; /* indicators/s */
    uint64_t indicators;
    uint64_t entries;
    uint64_t invalid;
    uint64_t padded;
    double bytes_per_ind;
    double peak_anon_mib;
    double q_p50, q_p99; /* us, hot: the second pass */
    double q_cold_p99; /* us, the first pass */
    uint64_t q_missing;
    double obj_bytes; /* mean objects value size */
    double rec_bytes; /* keys and values of all records written, per indicator */
    double raw_same_rate; /* puts/s: one record per indicator of rec_bytes */
    double raw_seq_rate, raw_rand_rate; /* puts/s: records of obj_bytes */
    double get_p50, get_p99; /* us, hot */
    double get_cold_p99;
    double sign_rate, verify_rate;
    double seal_ratio, clear_rate, amber_rate; /* --sealed */
} run_result;

static int count_cb(void *ctx, const kw_result *r)
{
    (void)r;
    (*(uint64_t *)ctx)++;
    return 0;
}

/*
 * Walks the store's records (not timed): the mean size of an `objects` value, and the bytes
 * (keys and values) of every record publishing wrote, all databases but the node's own
 * settings and roster.
 */
static void record_sizes(kw_store *s, double *obj_mean, double *rec_bytes)
{
    const MDB_dbi dbis[] = { s->entries, s->payloads, s->heads, s->forks, s->objects,
        s->by_value, s->by_time, s->recipients, s->outbox };
    MDB_txn *txn;
    uint64_t total = 0, obj_total = 0, obj_n = 0;

    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
        die("record sizes", "cannot begin a read transaction");
    }
    for (size_t d = 0; d < sizeof(dbis) / sizeof(dbis[0]); d++) {
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_cursor_open(txn, dbis[d], &cur) != 0) {
            die("record sizes", "cannot open a cursor");
        }
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            total += k.mv_size + v.mv_size;
            if (dbis[d] == s->objects) {
                obj_total += v.mv_size;
                obj_n++;
            }
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    *obj_mean = obj_n ? (double)obj_total / (double)obj_n : 0;
    *rec_bytes = (double)total;
}

/*
 * Publishes count values into a new store in dir with popts. With sample (SAMPLE slots),
 * also keeps a reservoir sample of the values and measures the rest of run_result's
 * publish figures; without, only publish_rate and indicators.
 */
static void publish_phase(const char *dir, const char *corpus_dir, uint64_t count,
    const kw_publish_opts *popts, sample_val *sample, size_t *n_sample, run_result *out)
{
    kw_identity *id = kw_test_identity(42);
    kw_store *s = NULL;
    kw_bundle *bundles[MAX_BATCH];
    kw_publish_result res = { 0 }, done;
    kw_publish_pipe *pipe = NULL;
    kw_store_stats st;
    corpus c;
    char value[KW_VALUE_MAX + 1];
    uint64_t valid = 0, seen = 0;
    size_t cur = 0;
    pthread_t th;
    kw_err rc;

    if (id == NULL) {
        die("identity", "cannot make one");
    }
    if ((rc = kw_store_create(dir, kw_identity_pk(id), "BENCH")) != KW_ERR_OK
        || (rc = kw_store_open(&s, dir, 0)) != KW_ERR_OK) {
        die("store", kw_strerror(rc));
    }
    for (size_t b = 0; b < BATCH_BUNDLES; b++) {
        if (kw_bundle_new(&bundles[b]) != KW_ERR_OK) {
            die("bundle", "out of memory");
        }
    }
    corpus_open(&c, corpus_dir);
    if ((rc = kw_publish_pipe_new(&pipe, s, id, popts, BATCH_BUNDLES)) != KW_ERR_OK) {
        die("kw_publish_pipe_new", kw_strerror(rc));
    }

    malloc_trim(0);
    atomic_store(&g_peak_kb, 0);
    atomic_store(&g_sampling, true);
    if (pthread_create(&th, NULL, sampler, NULL) != 0) {
        die("sampler", "cannot start a thread");
    }
    double t0 = now();
    int64_t ms = kw_time_now_ms();
    while (valid < count) {
        size_t len, vlen = 0;
        const char *raw = corpus_next(&c, &len);
        kw_obs_type type;
        kw_indicator *d;
        kw_bundle *b;

        if (kw_value_detect(raw, len, &type, value, sizeof(value), &vlen, NULL) != KW_ERR_OK) {
            out->invalid++;
            continue;
        }
        valid++;
        /* Reservoir sample of published values for the queries. */
        seen++;
        if (sample != NULL && (*n_sample < SAMPLE || mix64(seen) % seen < SAMPLE)) {
            size_t at = *n_sample < SAMPLE ? (*n_sample)++ : (size_t)(mix64(seen) % seen);
            free(sample[at].value);
            sample[at].type = type;
            if ((sample[at].value = strdup(value)) == NULL) {
                die("sample", "out of memory");
            }
        }
        if (bundles[cur]->n == KW_BUNDLE_DEFAULT_SIZE && ++cur == BATCH_BUNDLES) {
            if ((rc = kw_publish_pipe_put(pipe, bundles, BATCH_BUNDLES, &done)) != KW_ERR_OK) {
                die("kw_publish_pipe_put", kw_strerror(rc));
            }
            kw_publish_result_add(&res, &done);
            cur = 0;
        }
        b = bundles[cur];
        if (kw_bundle_add(b, &d) != KW_ERR_OK
            || (d->value = kw_bundle_strdup(b, value, vlen)) == NULL) {
            die("bundle", "out of memory");
        }
        kw_uuid_new(d->id, ms);
        d->type = type;
        d->value_len = (uint32_t)vlen;
        d->created = d->modified = d->valid_from = ms;
    }
    if ((rc = kw_publish_pipe_put(pipe, bundles, cur + 1, &done)) != KW_ERR_OK) {
        die("kw_publish_pipe_put", kw_strerror(rc));
    }
    kw_publish_result_add(&res, &done);
    if ((rc = kw_publish_pipe_finish(pipe, &done)) != KW_ERR_OK) {
        die("kw_publish_pipe_finish", kw_strerror(rc));
    }
    kw_publish_result_add(&res, &done);
    double t1 = now();
    kw_publish_pipe_free(pipe);
    atomic_store(&g_sampling, false);
    pthread_join(th, NULL);
    sample_peak();

    out->padded = c.pad;
    out->indicators = res.indicators;
    out->entries = res.entries;
    out->publish_rate = (double)res.indicators / (t1 - t0);
    if (sample == NULL) {
        goto done;
    }
    out->peak_anon_mib = (double)atomic_load(&g_peak_kb) / 1024.0;
    if ((rc = kw_store_stats_get(s, &st)) != KW_ERR_OK) {
        die("stats", kw_strerror(rc));
    }
    out->bytes_per_ind = st.indicators ? (double)st.store_bytes / (double)st.indicators : 0;

    double rec_bytes;
    record_sizes(s, &out->obj_bytes, &rec_bytes);
    out->rec_bytes = st.indicators ? rec_bytes / (double)st.indicators : 0;

done:
    for (size_t b = 0; b < BATCH_BUNDLES; b++) {
        kw_bundle_free(bundles[b]);
    }
    corpus_close(&c);
    kw_store_close(s);
    kw_identity_free(id);
}

static void query_phase(
    const char *dir, const sample_val *sample, size_t n_sample, uint64_t queries, run_result *out)
{
    kw_store *s = NULL;
    double *lat = malloc(queries * sizeof(*lat));
    kw_err rc;

    if (lat == NULL || n_sample == 0) {
        die("queries", "nothing to query");
    }
    if ((rc = kw_store_open(&s, dir, KW_STORE_RDONLY)) != KW_ERR_OK) {
        die("store", kw_strerror(rc));
    }
    /* Two passes over the same random values: the first finds the pages cold (just
     * written, not yet mapped in this process), the second hot. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < queries; i++) {
            const sample_val *v = &sample[mix64(i ^ 0x51ed) % n_sample];
            kw_query q = { .value = v->value, .type = v->type, .tlp = -1 };
            uint64_t hits = 0;
            double t0 = now();
            rc = kw_store_query(s, &q, count_cb, &hits, NULL);
            lat[i] = (now() - t0) * 1e6;
            if (pass == 1 && (rc != KW_ERR_OK || hits == 0)) {
                out->q_missing++;
            }
        }
        qsort(lat, queries, sizeof(*lat), cmp_double);
        if (pass == 0) {
            out->q_cold_p99 = percentile(lat, queries, 99);
        }
    }
    out->q_p50 = percentile(lat, queries, 50);
    out->q_p99 = percentile(lat, queries, 99);
    kw_store_close(s);
    free(lat);
}

/* ---- Raw LMDB ---- */

static void raw_key(uint8_t key[16], uint64_t i, bool random)
{
    uint64_t a = random ? mix64(2 * i) : 0, b = random ? mix64(2 * i + 1) : i;

    for (int k = 0; k < 8; k++) {
        key[k] = (uint8_t)(a >> (56 - 8 * k));
        key[8 + k] = (uint8_t)(b >> (56 - 8 * k));
    }
}

static void mdb_check(int rc, const char *what)
{
    if (rc != 0) {
        die(what, mdb_strerror(rc));
    }
}

/* Opens an environment as the store does (docs/storage.md): default sync, MDB_NOTLS. */
static void raw_open(const char *dir, MDB_env **env, MDB_dbi *dbi)
{
    MDB_txn *txn;

    mdb_check(mdb_env_create(env), "mdb_env_create");
    mdb_env_set_maxdbs(*env, 16);
    mdb_check(mdb_env_set_mapsize(*env, (size_t)1 << 40), "mdb_env_set_mapsize");
    mdb_check(mdb_env_open(*env, dir, MDB_NOTLS, 0600), "mdb_env_open");
    mdb_check(mdb_txn_begin(*env, NULL, 0, &txn), "mdb_txn_begin");
    mdb_check(mdb_dbi_open(txn, "objects", MDB_CREATE, dbi), "mdb_dbi_open");
    mdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
}

/* The value size that makes a raw record (16-byte key) hold bytes in all. */
static size_t raw_value_size(double bytes)
{
    return bytes > 32 ? (size_t)(bytes + 0.5) - 16 : 16;
}

/* Puts n records in write transactions of RAW_BATCH; returns puts/s. */
static double raw_put(const char *dir, uint64_t n, size_t vsize, bool random)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn = NULL;
    uint8_t key[16];
    uint8_t *val = malloc(vsize);

    if (val == NULL) {
        die("raw", "out of memory");
    }
    randombytes_buf(val, vsize);
    raw_open(dir, &env, &dbi);
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        if (txn == NULL) {
            mdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        }
        raw_key(key, i, random);
        memcpy(val, &i, sizeof(i));
        MDB_val k = { 16, key }, v = { vsize, val };
        mdb_check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put");
        if ((i + 1) % RAW_BATCH == 0 || i + 1 == n) {
            mdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
            txn = NULL;
        }
    }
    double rate = (double)n / (now() - t0);
    mdb_env_close(env);
    free(val);
    return rate;
}

/* Point gets of existing random keys in dir, each in its own read transaction; two passes
 * over the same keys (cold, then hot), as query_phase does. */
static void raw_get(
    const char *dir, uint64_t n, uint64_t gets, double *p50, double *p99, double *cold_p99)
{
    MDB_env *env;
    MDB_dbi dbi;
    uint8_t key[16];
    double *lat = malloc(gets * sizeof(*lat));
    uint64_t missing = 0;

    if (lat == NULL) {
        die("raw", "out of memory");
    }
    raw_open(dir, &env, &dbi);
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < gets; i++) {
            MDB_txn *txn;
            MDB_val k = { 16, key }, v;
            raw_key(key, mix64(i ^ 0xabcdef) % n, true);
            double t0 = now();
            mdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
            missing += mdb_get(txn, dbi, &k, &v) != 0;
            mdb_txn_abort(txn);
            lat[i] = (now() - t0) * 1e6;
        }
        qsort(lat, gets, sizeof(*lat), cmp_double);
        if (pass == 0) {
            *cold_p99 = percentile(lat, gets, 99);
        }
    }
    if (missing > 0) {
        die("raw get", "keys missing");
    }
    *p50 = percentile(lat, gets, 50);
    *p99 = percentile(lat, gets, 99);
    mdb_env_close(env);
    free(lat);
}

static void sign_phase(run_result *out)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t msg[SIGN_MSG], sig[crypto_sign_BYTES];
    long n = 0;
    double t0;

    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    t0 = now();
    do {
        for (int i = 0; i < 100; i++, n++) {
            msg[0] = (uint8_t)n;
            crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
        }
    } while (now() - t0 < SIGN_SECONDS);
    out->sign_rate = (double)n / (now() - t0);
    n = 0;
    t0 = now();
    do {
        for (int i = 0; i < 100; i++, n++) {
            if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0) {
                die("verify", "a valid signature failed");
            }
        }
    } while (now() - t0 < SIGN_SECONDS);
    out->verify_rate = (double)n / (now() - t0);
    sodium_memzero(sk, sizeof(sk));
}

/*
 * Issue 5's comparison: the first n values published as CLEAR, and as AMBER sealed for 10
 * recipients (plus the publisher), each into a new store. Returns time(AMBER) / time(CLEAR).
 */
static double sealed_phase(
    const char *corpus_dir, uint64_t n, double *clear_rate, double *amber_rate)
{
    uint8_t ids[10][32];
    char dir[4096], sub[4200];
    run_result r;

    for (int i = 0; i < 10; i++) {
        kw_identity *rid = kw_test_identity((uint8_t)(100 + i));
        if (rid == NULL) {
            die("identity", "cannot make one");
        }
        memcpy(ids[i], kw_identity_pk(rid), 32);
        kw_identity_free(rid);
    }
    if (kw_test_tmpdir(dir, sizeof(dir)) != 0) {
        die("tmpdir", "cannot create one");
    }
    kw_publish_opts clear = { .tlp = KW_TLP_CLEAR };
    kw_publish_opts amber
        = { .tlp = KW_TLP_AMBER, .recipients = (const uint8_t(*)[32])ids, .n_recipients = 10 };
    snprintf(sub, sizeof(sub), "%s/clear", dir);
    if (mkdir(sub, 0700) != 0) {
        die(sub, "cannot create");
    }
    memset(&r, 0, sizeof(r));
    publish_phase(sub, corpus_dir, n, &clear, NULL, NULL, &r);
    *clear_rate = r.publish_rate;
    snprintf(sub, sizeof(sub), "%s/amber", dir);
    if (mkdir(sub, 0700) != 0) {
        die(sub, "cannot create");
    }
    memset(&r, 0, sizeof(r));
    publish_phase(sub, corpus_dir, n, &amber, NULL, NULL, &r);
    *amber_rate = r.publish_rate;
    kw_test_rmrf(dir);
    return *clear_rate / *amber_rate;
}

static void one_run(const char *corpus_dir, uint64_t count, uint64_t queries, run_result *out)
{
    char dir[4096], sub[4200];
    sample_val *sample = calloc(SAMPLE, sizeof(*sample));
    size_t n_sample = 0;

    if (sample == NULL) {
        die("sample", "out of memory");
    }
    memset(out, 0, sizeof(*out));
    if (kw_test_tmpdir(dir, sizeof(dir)) != 0) {
        die("tmpdir", "cannot create one");
    }
    snprintf(sub, sizeof(sub), "%s/node", dir);
    if (mkdir(sub, 0700) != 0) {
        die(sub, "cannot create");
    }
    {
        kw_publish_opts popts = { .tlp = KW_TLP_GREEN };
        publish_phase(sub, corpus_dir, count, &popts, sample, &n_sample, out);
    }
    query_phase(sub, sample, n_sample, queries, out);
    kw_test_rmrf(sub);

    snprintf(sub, sizeof(sub), "%s/seq", dir);
    if (mkdir(sub, 0700) != 0) {
        die(sub, "cannot create");
    }
    out->raw_same_rate = raw_put(sub, out->indicators, raw_value_size(out->rec_bytes), false);
    kw_test_rmrf(sub);
    if (mkdir(sub, 0700) != 0) {
        die(sub, "cannot create");
    }
    out->raw_seq_rate = raw_put(sub, out->indicators, (size_t)out->obj_bytes, false);
    kw_test_rmrf(sub);
    snprintf(sub, sizeof(sub), "%s/rand", dir);
    if (mkdir(sub, 0700) != 0) {
        die(sub, "cannot create");
    }
    out->raw_rand_rate = raw_put(sub, out->indicators, (size_t)out->obj_bytes, true);
    raw_get(sub, out->indicators, queries, &out->get_p50, &out->get_p99, &out->get_cold_p99);
    kw_test_rmrf(dir);
    sign_phase(out);

    for (size_t i = 0; i < n_sample; i++) {
        free(sample[i].value);
    }
    free(sample);
}

/* ---- Output ---- */

#define FIELD(name) (offsetof(run_result, name))

static double med_field(const run_result *r, int runs, size_t off)
{
    double v[MAX_RUNS];

    for (int i = 0; i < runs; i++) {
        v[i] = *(const double *)((const char *)&r[i] + off);
    }
    return median(v, runs);
}

static void usage(void)
{
    fprintf(stderr,
        "usage: bench_store [--count N] [--runs R] [--queries Q] [--corpus DIR] "
        "[--sealed M] [--kv FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t count = 1000000, queries = 20000, sealed = 0;
    int runs = 3;
    const char *kv_path = NULL;
    char corpus_dir[4096] = "";
    run_result r[MAX_RUNS];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
        }
        if (strcmp(a, "--count") == 0) {
            count = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--runs") == 0) {
            runs = atoi(v);
        } else if (strcmp(a, "--queries") == 0) {
            queries = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--corpus") == 0) {
            snprintf(corpus_dir, sizeof(corpus_dir), "%s", v);
        } else if (strcmp(a, "--sealed") == 0) {
            sealed = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--batch") == 0) {
            g_batch = strtoul(v, NULL, 10);
            if (g_batch < 1 || g_batch > MAX_BATCH) {
                usage();
            }
        } else if (strcmp(a, "--kv") == 0) {
            kv_path = v;
        } else {
            usage();
        }
        i++;
    }
    if (count < 1 || runs < 1 || runs > MAX_RUNS || queries < 100) {
        usage();
    }
    if (corpus_dir[0] == '\0') {
        const char *c = kw_test_corpora();
        snprintf(corpus_dir, sizeof(corpus_dir), "%s/iocs", c ? c : "../shared/corpora");
    }
    if (sodium_init() < 0) {
        die("libsodium", "cannot be initialised");
    }

    for (int i = 0; i < runs; i++) {
        one_run(corpus_dir, count, queries, &r[i]);
        if (sealed > 0) {
            r[i].seal_ratio = sealed_phase(corpus_dir, sealed, &r[i].clear_rate, &r[i].amber_rate);
        }
        fprintf(stderr,
            "bench_store: run %d/%d: %llu indicators, publish %.0f/s, query p99 %.1f us\n", i + 1,
            runs, (unsigned long long)r[i].indicators, r[i].publish_rate, r[i].q_p99);
    }

    double pub = med_field(r, runs, FIELD(publish_rate));
    double qp50 = med_field(r, runs, FIELD(q_p50)), qp99 = med_field(r, runs, FIELD(q_p99));
    double bpi = med_field(r, runs, FIELD(bytes_per_ind));
    double anon = med_field(r, runs, FIELD(peak_anon_mib));
    double obj = med_field(r, runs, FIELD(obj_bytes));
    double seq = med_field(r, runs, FIELD(raw_seq_rate));
    double same = med_field(r, runs, FIELD(raw_same_rate));
    double recb = med_field(r, runs, FIELD(rec_bytes));
    double rnd = med_field(r, runs, FIELD(raw_rand_rate));
    double gp50 = med_field(r, runs, FIELD(get_p50)), gp99 = med_field(r, runs, FIELD(get_p99));
    double qcold = med_field(r, runs, FIELD(q_cold_p99));
    double gcold = med_field(r, runs, FIELD(get_cold_p99));
    double sign = med_field(r, runs, FIELD(sign_rate));
    double verify = med_field(r, runs, FIELD(verify_rate));
    double seal = med_field(r, runs, FIELD(seal_ratio));
    double clear_rate = med_field(r, runs, FIELD(clear_rate));
    double amber_rate = med_field(r, runs, FIELD(amber_rate));
    uint64_t missing = 0;
    for (int i = 0; i < runs; i++) {
        missing += r[i].q_missing;
    }

    printf("bench_store: %llu indicators (%llu entries; %llu corpus lines refused, %llu made-up "
           "10/8 addresses), median of %d runs, %llu queries per run\n",
        (unsigned long long)r[0].indicators, (unsigned long long)r[0].entries,
        (unsigned long long)r[0].invalid, (unsigned long long)r[0].padded, runs,
        (unsigned long long)queries);
    printf("%-52s %14s  %s\n", "figure", "median", "unit");
    printf("%-52s %14.0f  %s\n", "kawan publish, end to end", pub, "indicators/s");
    printf("%-52s %14.1f  %s\n", "kawan point query (kw_store_query) p50, hot", qp50, "us");
    printf("%-52s %14.1f  %s\n", "kawan point query (kw_store_query) p99, hot", qp99, "us");
    printf("%-52s %14.1f  %s\n", "kawan point query p99, cold (first pass)", qcold, "us");
    printf("%-52s %14.1f  %s\n", "store bytes per indicator", bpi, "bytes");
    printf("%-52s %14.1f  %s\n", "peak RssAnon during publish", anon, "MiB");
    printf("%-52s %14.0f  %s\n", "raw LMDB put, kawan's bytes per record, sequential", same,
        "puts/s");
    printf("%-52s %14.0f  %s\n", "raw LMDB put, sequential keys, batches of 10,000", seq, "puts/s");
    printf("%-52s %14.0f  %s\n", "raw LMDB put, random keys, batches of 10,000", rnd, "puts/s");
    printf("%-52s %14.1f  %s\n", "raw LMDB point get p50 (read txn + mdb_get), hot", gp50, "us");
    printf("%-52s %14.1f  %s\n", "raw LMDB point get p99 (read txn + mdb_get), hot", gp99, "us");
    printf("%-52s %14.1f  %s\n", "raw LMDB point get p99, cold (first pass)", gcold, "us");
    printf("%-52s %14.0f  %s\n", "Ed25519 sign, 160-byte message", sign, "signatures/s");
    printf("%-52s %14.0f  %s\n", "Ed25519 verify, 160-byte message", verify, "verifies/s");
    printf("%-52s %14.2f\n", "ratio publish / raw random-key put", pub / rnd);
    printf("%-52s %14.2f\n", "ratio publish / raw put of kawan's bytes", pub / same);
    printf("%-52s %14.2f\n", "ratio publish / raw sequential put", pub / seq);
    printf("%-52s %14.2f\n", "ratio query p99 / raw get p99", qp99 / gp99);
    if (sealed > 0) {
        printf("%-52s %14.0f  %s\n", "publish CLEAR (first --sealed values)", clear_rate,
            "indicators/s");
        printf("%-52s %14.0f  %s\n", "publish AMBER sealed for 10 recipients", amber_rate,
            "indicators/s");
        printf("%-52s %14.2f\n", "time AMBER(10) / time CLEAR (median of ratios)", seal);
    }
    printf("kawan's records: %.1f bytes (keys and values) per indicator in all\n", recb);
    printf("raw records: 16-byte keys; %zu-byte values (kawan's bytes per indicator), and "
           "%.0f-byte values (the mean objects value) for the sequential and random puts\n",
        raw_value_size(recb), obj);
    if (missing > 0) {
        printf("WARNING: %llu queries found nothing\n", (unsigned long long)missing);
    }

    if (kv_path != NULL) {
        FILE *f = fopen(kv_path, "a");
        unsigned long long n = (unsigned long long)count;
        if (f == NULL) {
            die(kv_path, "cannot open");
        }
        fprintf(f, "store.%llu.runs %d\n", n, runs);
        fprintf(f, "store.%llu.indicators %llu\n", n, (unsigned long long)r[0].indicators);
        fprintf(f, "store.%llu.publish %.0f\n", n, pub);
        fprintf(f, "store.%llu.query_p50 %.2f\n", n, qp50);
        fprintf(f, "store.%llu.query_p99 %.2f\n", n, qp99);
        fprintf(f, "store.%llu.bytes_per_ind %.1f\n", n, bpi);
        fprintf(f, "store.%llu.peak_anon_mib %.1f\n", n, anon);
        fprintf(f, "store.%llu.obj_bytes %.0f\n", n, obj);
        fprintf(f, "store.%llu.raw_seq %.0f\n", n, seq);
        fprintf(f, "store.%llu.raw_same %.0f\n", n, same);
        fprintf(f, "store.%llu.rec_bytes %.1f\n", n, recb);
        fprintf(f, "store.%llu.raw_rand %.0f\n", n, rnd);
        fprintf(f, "store.%llu.get_p50 %.2f\n", n, gp50);
        fprintf(f, "store.%llu.get_p99 %.2f\n", n, gp99);
        fprintf(f, "store.%llu.query_cold_p99 %.2f\n", n, qcold);
        fprintf(f, "store.%llu.get_cold_p99 %.2f\n", n, gcold);
        fprintf(f, "store.%llu.sign %.0f\n", n, sign);
        fprintf(f, "store.%llu.verify %.0f\n", n, verify);
        fprintf(f, "store.%llu.query_missing %llu\n", n, (unsigned long long)missing);
        if (sealed > 0) {
            fprintf(f,
                "seal.count %llu\nseal.runs %d\nseal.clear %.0f\nseal.amber10 %.0f\n"
                "seal.ratio %.3f\n",
                (unsigned long long)sealed, runs, clear_rate, amber_rate, seal);
        }
        fclose(f);
    }
    return 0;
}
