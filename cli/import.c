/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/kwx.h"
#include "bundle/misp.h"
#include "bundle/stix.h"
#include "cli/xfer.h"

static const char usage[]
    = "Usage: kawan import FILE\n"
      "       kawan import --format stix FILE --tlp LEVEL [--skip-invalid] [--to NODE]...\n"
      "       kawan import --format misp DIR-OR-FILE --tlp LEVEL [--skip-invalid] [--to NODE]...\n"
      "\n"
      "kwx (the default) reads a file written by kawan export on another node and stores its\n"
      "entries after the same checks as entries from the network: roster, signature, hash\n"
      "chain, payload hash, TLP. Entries already held are skipped, so a second import adds\n"
      "nothing and an interrupted import completes when it is run again. A damaged file is\n"
      "reported with the position of its first bad byte; the entries before it are kept.\n"
      "\n"
      "stix and misp read indicators from other platforms and publish them as this node's\n"
      "own entries, grouped by TLP, keeping their ids and timestamps. Everything is checked\n"
      "before anything is written: an invalid indicator fails the whole import unless\n"
      "--skip-invalid. misp takes a feed directory (manifest.json), its manifest, one event\n"
      "file (with or without its {\"Event\": ...} envelope), a directory of event files, a\n"
      "restSearch result of events ({\"response\": [...]}) or of attributes\n"
      "({\"response\": {\"Attribute\": [...]}}, best with includeEventTags).\n"
      "For stix and misp, FILE '-' reads one document from standard input.\n"
      "A newer version of an indicator this node imported earlier updates it: revoked in STIX,\n"
      "or deleted or no longer to_ids in MISP, it is revoked here; marked stricter at the\n"
      "source, it is re-marked. A TLP is never loosened without a newer version.\n"
      "\n"
      "  --format F       kwx (default), stix or misp\n"
      "  --tlp LEVEL      stix, misp: the TLP of indicators without a TLP marking or tag\n"
      "                   (clear or white, green, amber, amber+strict, red)\n"
      "  --to NODE        stix, misp: a recipient of the AMBER, AMBER+STRICT and RED ones\n"
      "                   (repeatable); AMBER levels default to every roster member, and RED\n"
      "                   indicators are held back without --to (the summary counts them)\n"
      "  --skip-invalid   stix, misp: import the valid indicators and list the invalid ones\n"
      "\n"
      "The exit code is 0 when the input was read and everything in it was imported, already\n"
      "held, or left out as the summary says (unsupported, or with --skip-invalid invalid, or\n"
      "RED without --to); 1 when the input could not be read or, without --skip-invalid,\n"
      "holds an invalid item (then nothing is imported).\n"
      "A progress bar is shown when stderr is a terminal.\n";

typedef enum { FMT_KWX, FMT_STIX, FMT_MISP } import_format;

typedef struct import_opts {
    import_format format;
    bool have_tlp;
    kw_tlp tlp;
    bool skip_invalid;
    const char *to[KW_XFER_MAX_NODES];
    size_t n_to;
    const char *path;
} import_opts;

/* ---- kwx ---- */

/* Entries per write transaction, and the bytes they may hold. */
#define BATCH_ENTRIES 16u
#define BATCH_BYTES (16u * 1024u * 1024u)
/* Rejected entries described one by one; the rest are only counted. */
#define MAX_DETAILED 5u

typedef struct batch_item {
    size_t hdr, sig, payload; /* offsets into data */
    size_t hdr_len, payload_len;
    bool has_payload;
    uint64_t index, offset;
} batch_item;

typedef struct kwx_import {
    kw_cli_node *n;
    const char *path;
    uint8_t *data; /* BATCH_CAP bytes */
    size_t len;
    batch_item items[BATCH_ENTRIES];
    kw_wire_entry wire[BATCH_ENTRIES];
    kw_ingest_result res[BATCH_ENTRIES];
    size_t count;
    /* The tally. */
    uint64_t read, stored, upgraded, held, indicators, rejected;
    uint64_t unreadable; /* stored, but the payload does not decode */
    uint64_t gap, fork, frozen;
    uint64_t by_err[32]; /* other rejections, by -kw_err */
    uint64_t detailed;
} kwx_import;

/* The batch buffer holds BATCH_BYTES plus one entry of the largest size, so it never grows:
 * a batch is flushed as soon as it passes BATCH_BYTES. */
#define BATCH_CAP (BATCH_BYTES + KW_KWX_ENTRY_MAX)

static void batch_append(kwx_import *x, const uint8_t *p, size_t n, size_t *at)
{
    memcpy(x->data + x->len, p, n);
    *at = x->len;
    x->len += n;
}

static const char *reject_reason(kw_err err)
{
    switch (err) {
    case KW_ERR_ROSTER:
        return "not in the roster";
    case KW_ERR_BADSIG:
        return "bad signature";
    case KW_ERR_CHAIN:
        return "broken hash chain";
    case KW_ERR_HASH:
        return "payload does not match its hash";
    case KW_ERR_DECODE:
        return "malformed header or sealed payload";
    case KW_ERR_TLP:
        return "not allowed by the TLP rules";
    case KW_ERR_CRYPTO:
        return "sealed payload does not open";
    default:
        return kw_strerror(err);
    }
}

/* Counts one outcome; describes the first few rejections. */
static void tally(kwx_import *x, const batch_item *it, const kw_ingest_result *r)
{
    const char *why = NULL;

    switch (r->status) {
    case KW_INGEST_STORED:
        x->stored++;
        x->indicators += r->indicators;
        x->unreadable += r->unreadable;
        return;
    case KW_INGEST_UPGRADED:
        x->upgraded++;
        x->indicators += r->indicators;
        x->unreadable += r->unreadable;
        return;
    case KW_INGEST_HELD:
        x->held++;
        return;
    case KW_INGEST_GAP:
        x->gap++;
        why = "ahead of a gap in its feed (import the earlier entries first)";
        break;
    case KW_INGEST_FORK:
        x->fork++;
        why = "a second entry for a seq this node holds: a fork, kept as evidence";
        break;
    case KW_INGEST_FROZEN:
        x->frozen++;
        why = "its feed is frozen by an earlier fork";
        break;
    case KW_INGEST_REJECTED:
    default:
        x->by_err[(unsigned)-r->err % 32]++;
        why = reject_reason(r->err);
        break;
    }
    x->rejected++;
    if (x->detailed++ < MAX_DETAILED) {
        char who[64];
        kw_cli_warn("%s: entry %llu (byte %llu), %s seq %llu: %s", x->path,
            (unsigned long long)it->index, (unsigned long long)it->offset,
            kw_cli_node_label(x->n, r->origin, who), (unsigned long long)r->seq, why);
    }
}

static int batch_flush(kwx_import *x)
{
    kw_err rc;

    if (x->count == 0) {
        return 0;
    }
    for (size_t i = 0; i < x->count; i++) {
        const batch_item *it = &x->items[i];
        x->wire[i].hdr = x->data + it->hdr;
        x->wire[i].hdr_len = it->hdr_len;
        x->wire[i].sig = x->data + it->sig;
        x->wire[i].payload = it->has_payload ? x->data + it->payload : NULL;
        x->wire[i].payload_len = it->payload_len;
    }
    rc = kw_store_ingest(x->n->store, x->n->id, x->wire, x->count, x->res);
    if (rc != KW_ERR_OK) {
        return kw_cli_error("cannot store the entries of %s in %s: %s (%llu entries stored "
                            "before this batch)",
            x->path, x->n->dir, kw_strerror(rc), (unsigned long long)(x->stored + x->upgraded));
    }
    for (size_t i = 0; i < x->count; i++) {
        tally(x, &x->items[i], &x->res[i]);
    }
    x->count = 0;
    x->len = 0;
    return 0;
}

static int batch_add(kwx_import *x, const kw_kwx_entry *e)
{
    batch_item *it = &x->items[x->count];

    batch_append(x, e->hdr, e->hdr_len, &it->hdr);
    batch_append(x, e->sig, KW_SIG_LEN, &it->sig);
    if (e->payload != NULL) {
        batch_append(x, e->payload, e->payload_len, &it->payload);
    }
    it->hdr_len = e->hdr_len;
    it->has_payload = e->payload != NULL;
    it->payload_len = e->payload_len;
    it->index = e->index;
    it->offset = e->offset;
    x->read++;
    if (++x->count == BATCH_ENTRIES || x->len >= BATCH_BYTES) {
        return batch_flush(x);
    }
    return 0;
}

static void print_kwx_summary(const kwx_import *x, bool complete)
{
    const char *sep = "";

    if (complete && x->read == 0) {
        printf("imported %s: the file holds no entries\n", x->path);
        return;
    }
    if (complete && x->stored + x->upgraded + x->rejected == 0) {
        printf("imported %s: nothing new: all %llu entr%s already held\n", x->path,
            (unsigned long long)x->held, x->held == 1 ? "y was" : "ies were");
        return;
    }
    printf("imported %s: %llu entr%s stored", x->path, (unsigned long long)x->stored,
        x->stored == 1 ? "y" : "ies");
    if (x->upgraded > 0) {
        printf(", %llu payload%s added to entries held as header only",
            (unsigned long long)x->upgraded, kw__xfer_plural(x->upgraded));
    }
    printf(" (%llu indicator%s", (unsigned long long)x->indicators,
        kw__xfer_plural(x->indicators));
    if (x->unreadable > 0) {
        printf("; %llu kept unreadable: signed and chained, but the payload does not decode",
            (unsigned long long)x->unreadable);
    }
    printf("), %llu skipped as already held, %llu rejected", (unsigned long long)x->held,
        (unsigned long long)x->rejected);
    if (x->rejected == 0) {
        putchar('\n');
        return;
    }
    printf(" (");
    if (x->gap > 0) {
        printf("%s%llu ahead of a gap: import the earlier entries first", sep,
            (unsigned long long)x->gap);
        sep = ", ";
    }
    if (x->fork > 0) {
        printf("%s%llu fork%s kept as evidence", sep, (unsigned long long)x->fork,
            kw__xfer_plural(x->fork));
        sep = ", ";
    }
    if (x->frozen > 0) {
        printf("%s%llu in feeds frozen by a fork", sep, (unsigned long long)x->frozen);
        sep = ", ";
    }
    for (unsigned i = 0; i < 32; i++) {
        if (x->by_err[i] > 0) {
            printf("%s%llu %s", sep, (unsigned long long)x->by_err[i],
                reject_reason((kw_err)(-(int)i)));
            sep = ", ";
        }
    }
    printf(")\n");
}

static int import_kwx(kw_cli_node *n, const char *path)
{
    kwx_import *x = NULL;
    kw_kwx_reader *r = NULL;
    kw_cli_progress prog;
    struct stat st;
    kw_kwx_entry e;
    bool done = false;
    kw_err rc = KW_ERR_OK;
    int fd = -1, ret = KW_CLI_FAIL;

    memset(&prog, 0, sizeof(prog));
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return kw_cli_error("cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        kw_cli_error("cannot read %s: %s", path,
            S_ISDIR(st.st_mode) ? "is a directory (kwx files are single files)" : strerror(errno));
        goto out;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL || (x->data = malloc(BATCH_CAP)) == NULL
        || kw_kwx_reader_new_fd(&r, fd, KW_KWX_VERIFY) != KW_ERR_OK) {
        kw_cli_error("out of memory");
        goto out;
    }
    x->n = n;
    x->path = path;
    kw_cli_progress_start(&prog, "importing", S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
    while ((rc = kw_kwx_reader_next(r, &e, &done)) == KW_ERR_OK && !done) {
        if ((ret = batch_add(x, &e)) != 0) {
            kw_cli_progress_end(&prog);
            goto out;
        }
        kw_cli_progress_update(&prog, kw_kwx_reader_offset(r), x->read);
    }
    /* The entries read before a damaged spot verified one by one: they are kept. */
    if ((ret = batch_flush(x)) != 0) {
        kw_cli_progress_end(&prog);
        goto out;
    }
    kw_cli_progress_end(&prog);
    if (rc == KW_ERR_OK || x->read > 0) {
        print_kwx_summary(x, rc == KW_ERR_OK);
    }
    if (x->stored + x->upgraded > 0) {
        kw_cli_notify_daemon(n);
    }
    if (rc != KW_ERR_OK) {
        uint64_t off = 0;
        const char *why = kw_kwx_reader_error(r, &off);
        const char *hint = rc == KW_ERR_DECODE && off == 0 && x->read == 0
            ? " (for STIX or MISP JSON use --format stix or --format misp)"
            : "";
        ret = kw_cli_error("%s: byte %llu: %s%s; %s", path, (unsigned long long)off, why, hint,
            x->read > 0 ? "the entries before it were checked one by one and kept"
                        : "nothing imported");
        goto out;
    }
    ret = x->rejected > 0 ? KW_CLI_FAIL : KW_CLI_OK;
out:
    kw_kwx_reader_free(r);
    if (x != NULL) {
        free(x->data);
        free(x);
    }
    close(fd);
    return ret;
}

/* ---- STIX and MISP ---- */

/* The largest STIX document read (it is parsed whole). */
#define STIX_MAX_FILE (1024u * 1024u * 1024u)
/* Bundles per publish transaction, as kawan publish does. */
#define PUBLISH_BATCH 10u

/* One indicator the importer handed over, kept until the whole input has been read: only then
 * is it known which copy of an id is the newest. */
typedef struct pending {
    uint8_t id[16];
    int64_t modified;
    size_t seq; /* arrival order; the copy is item seq % KW_BUNDLE_DEFAULT_SIZE of bundle
                 * seq / KW_BUNDLE_DEFAULT_SIZE */
    kw_tlp tlp;
    bool withdrawn; /* revoked at the source, or a withdrawal (type KW_OBS_NONE) */
    bool unresolved; /* STIX: a marking ref did not resolve (kw_stix_marks) */
    bool by_container; /* STIX: raised to a container's level */
    bool newest; /* the copy of its id that counts */
} pending;

/* Indicators collected per TLP level; published only once the whole input checked out. */
typedef struct collector {
    kw_cli_node *n;
    kw_bundle **b[KW_TLP_MAX + 1];
    size_t nb[KW_TLP_MAX + 1];
    size_t capb[KW_TLP_MAX + 1];
    size_t bbytes[KW_TLP_MAX + 1]; /* kw_indicator_size_bound of the last bundle's items */
    uint64_t count[KW_TLP_MAX + 1];
    uint64_t held; /* this node holds the same or a newer version */
    uint64_t foreign; /* the id belongs to another origin */
    uint64_t revoked; /* revocations published: revoked or withdrawn at the source */
    uint64_t not_held; /* revoked or withdrawn at the source, and never held here */
    uint64_t remarked[KW_TLP_MAX + 1]; /* held versions re-marked to the source's stricter TLP,
                                         * by the new level */
    uint64_t ahead; /* held versions revoked ahead of a version for a smaller audience */
    bool red_ok; /* --to named recipients: RED is published, not held back */
    uint64_t superseded; /* copies of an id left out for a newer one in the same run */
    uint64_t floored; /* unresolved markings: raised to the level this node holds */
    uint64_t by_container; /* STIX: raised to the level of a container that lists them */
    kw_bundle *scratch; /* the held version of the id being collected */
    /* What the importer handed over, in order (pending.seq), before any of it is collected. */
    kw_bundle **pb;
    size_t n_pb, cap_pb;
    pending *pend;
    size_t n_pend, cap_pend;
    /* Revocations of held versions, each published to the audience of the version it
     * revokes (its level and recipients), before anything else. */
    struct revocation {
        kw_bundle *b;
        kw_tlp tlp;
        uint8_t (*rcpt)[32];
        uint32_t n_rcpt;
    } *revs;
    size_t n_revs, cap_revs;
} collector;

typedef struct held_check {
    bool found;
    bool revoked;
    uint8_t origin[32];
    int64_t modified;
    kw_tlp tlp;
    uint8_t (*rcpt)[32]; /* a sealed version's recipients (allocated) */
    uint32_t n_rcpt;
    kw_bundle *copy;
    kw_err rc;
} held_check;

static int held_cb(void *ctx, const kw_result *r)
{
    held_check *h = ctx;

    h->found = true;
    h->revoked = r->ind->revoked;
    memcpy(h->origin, r->origin, 32);
    h->modified = r->ind->modified;
    h->tlp = r->tlp;
    kw_bundle_reset(h->copy);
    h->rc = kw_bundle_copy_indicator(h->copy, r->ind, NULL);
    if (h->rc == KW_ERR_OK && r->n_recipients > 0) {
        if ((h->rcpt = malloc((size_t)r->n_recipients * 32)) == NULL) {
            h->rc = KW_ERR_NOMEM;
        } else {
            memcpy(h->rcpt, r->recipients, (size_t)r->n_recipients * 32);
            h->n_rcpt = r->n_recipients;
        }
    }
    return 1;
}

/* Adds a copy of ind to the bundles of level tlp. */
static kw_err collect_add(collector *c, const kw_indicator *ind, kw_tlp tlp)
{
    kw_bundle *b;
    kw_err rc;
    size_t need = kw_indicator_size_bound(ind);

    /* An entry takes fewer than KW_BUNDLE_DEFAULT_SIZE indicators when long texts would make
     * it too big. */
    if (c->nb[tlp] == 0 || c->b[tlp][c->nb[tlp] - 1]->n >= KW_BUNDLE_DEFAULT_SIZE
        || c->bbytes[tlp] + need > KW_BUNDLE_TARGET_BYTES) {
        kw_bundle **nl = kw_grow(c->b[tlp], &c->capb[tlp], c->nb[tlp], sizeof(*nl), 16);
        if (nl == NULL) {
            return KW_ERR_NOMEM;
        }
        c->b[tlp] = nl;
        if ((rc = kw_bundle_new(&c->b[tlp][c->nb[tlp]])) != KW_ERR_OK) {
            return rc;
        }
        c->nb[tlp]++;
        c->bbytes[tlp] = 0;
    }
    c->bbytes[tlp] += need;
    b = c->b[tlp][c->nb[tlp] - 1];
    if ((rc = kw_bundle_copy_indicator(b, ind, NULL)) != KW_ERR_OK) {
        return rc;
    }
    c->count[tlp]++;
    return KW_ERR_OK;
}

/* Publishes the held version again under level tlp (a re-mark), as of modified. */
static kw_err collect_version(collector *c, int64_t modified, kw_tlp tlp)
{
    kw_indicator *held = &c->scratch->items[0];

    held->modified = modified;
    return collect_add(c, held, tlp);
}

/* Revokes the held version (in c->scratch, its audience in h), as of modified: to the members
 * that could read it, whatever this import's levels and --to. */
static kw_err collect_revocation(collector *c, held_check *h, int64_t modified)
{
    struct revocation *r;
    kw_err rc;

    struct revocation *nr = kw_grow(c->revs, &c->cap_revs, c->n_revs, sizeof(*nr), 16);
    if (nr == NULL) {
        return KW_ERR_NOMEM;
    }
    c->revs = nr;
    r = &c->revs[c->n_revs];
    memset(r, 0, sizeof(*r));
    if ((rc = kw_bundle_new(&r->b)) != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw_bundle_copy_indicator(r->b, &c->scratch->items[0], NULL)) != KW_ERR_OK) {
        kw_bundle_free(r->b);
        return rc;
    }
    r->b->items[0].modified = modified;
    r->b->items[0].revoked = true;
    r->tlp = h->tlp;
    r->rcpt = h->rcpt; /* taken over */
    r->n_rcpt = h->n_rcpt;
    h->rcpt = NULL;
    h->n_rcpt = 0;
    c->n_revs++;
    return KW_ERR_OK;
}

/*
 * The import sink (bundle/import.h). A version this node already holds (say, from a second
 * import of the same file) would only add an entry that changes nothing, and an id another
 * origin owns is not ours to version. A revocation or withdrawal revokes what is held (and
 * names nothing otherwise); a held version whose source now marks it stricter is re-marked,
 * never the other way round. A revocation goes to the audience of the version it revokes.
 * When the new version's audience may be smaller than the held one's (a stricter level, or a
 * sealed one, whose recipients may differ), the held version is first revoked to its own
 * audience, as kawan remark does, so that members who cannot read the new version stop
 * holding the old one as current. Each new version's modified time is the source's, or past
 * the held version's (and its revocation's) when that is not later, so a later edit at the
 * source still wins.
 */
static kw_err collect_one(collector *c, const kw_indicator *ind, kw_tlp tlp, held_check *h);

/*
 * Collects the newest copy of an id in the input. unresolved: a marking of the source did
 * not resolve, so tlp (the default's or another marking's) may be laxer than the producer
 * meant; it is then never below the level of the version this node holds (fail closed: a
 * TAXII page or earlier file that carried the marking-definition set that level).
 */
static kw_err collect_held(collector *c, const kw_indicator *ind, kw_tlp tlp, bool unresolved)
{
    held_check h;
    kw_query q;
    kw_err rc;

    memset(&h, 0, sizeof(h));
    memset(&q, 0, sizeof(q));
    h.copy = c->scratch;
    q.tlp = -1;
    q.all = true;
    q.limit = 1;
    q.id = ind->id;
    if ((rc = kw_store_query(c->n->store, &q, held_cb, &h, NULL)) == KW_ERR_OK) {
        if (unresolved && h.found && memcmp(h.origin, c->n->self, 32) == 0 && h.tlp > tlp) {
            tlp = h.tlp;
            c->floored++;
        }
        rc = h.rc == KW_ERR_OK ? collect_one(c, ind, tlp, &h) : h.rc;
    }
    free(h.rcpt);
    return rc;
}

/* Keeps a copy of what the importer hands over, for collect_finish. */
static kw_err pend_add(collector *c, const kw_indicator *ind, kw_tlp tlp, bool unresolved,
    bool by_container)
{
    pending *p;
    kw_err rc;

    if (c->n_pend % KW_BUNDLE_DEFAULT_SIZE == 0) {
        kw_bundle **nl = kw_grow(c->pb, &c->cap_pb, c->n_pb, sizeof(*nl), 16);
        if (nl == NULL) {
            return KW_ERR_NOMEM;
        }
        c->pb = nl;
        if ((rc = kw_bundle_new(&c->pb[c->n_pb])) != KW_ERR_OK) {
            return rc;
        }
        c->n_pb++;
    }
    pending *np = kw_grow(c->pend, &c->cap_pend, c->n_pend, sizeof(*np), 1024);
    if (np == NULL) {
        return KW_ERR_NOMEM;
    }
    c->pend = np;
    if ((rc = kw_bundle_copy_indicator(c->pb[c->n_pb - 1], ind, NULL)) != KW_ERR_OK) {
        return rc;
    }
    p = &c->pend[c->n_pend];
    memset(p, 0, sizeof(*p));
    memcpy(p->id, ind->id, 16);
    p->modified = ind->modified;
    p->seq = c->n_pend;
    p->tlp = tlp;
    p->withdrawn = ind->revoked || ind->type == KW_OBS_NONE;
    p->unresolved = unresolved;
    p->by_container = by_container;
    c->n_pend++;
    return KW_ERR_OK;
}

/* The import sink for MISP (bundle/import.h). */
static kw_err collect(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    return pend_add(ctx, ind, tlp, false, false);
}

/* The import sink for STIX (bundle/stix.h). */
static kw_err collect_stix(void *ctx, const kw_indicator *ind, kw_tlp tlp, const kw_stix_marks *m)
{
    return pend_add(ctx, ind, tlp, m->unresolved, m->by_container);
}

/* Newest first within an id; for one version, a withdrawal first (the safe side), then the
 * most restrictive level, then one whose marking did not resolve, then the first read. */
static int pending_newest_cmp(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    int d = memcmp(x->id, y->id, 16);

    if (d != 0) {
        return d;
    }
    if (x->modified != y->modified) {
        return x->modified > y->modified ? -1 : 1;
    }
    if (x->withdrawn != y->withdrawn) {
        return x->withdrawn ? -1 : 1;
    }
    if (x->tlp != y->tlp) {
        return x->tlp > y->tlp ? -1 : 1;
    }
    if (x->unresolved != y->unresolved) {
        return x->unresolved ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int pending_seq_cmp(const void *a, const void *b)
{
    const pending *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Collects, once the whole input has been read, only the newest copy of each id (by modified;
 * MISP's converter puts the attribute's timestamp there): one id may come several times in a
 * run (files of a directory, two copies of an attribute in a MISP response), and an older copy
 * published as current would undo what its producer did since, a withdrawal above all. A
 * newest copy that is a withdrawal (revoked, or type KW_OBS_NONE) supersedes the older ones
 * like any other. The rest keep the order they came in, which decides which of two ids with
 * one value the store keeps.
 */
static kw_err collect_finish(collector *c)
{
    kw_err rc = KW_ERR_OK;

    if (c->n_pend > 1) {
        qsort(c->pend, c->n_pend, sizeof(*c->pend), pending_newest_cmp);
    }
    for (size_t i = 0; i < c->n_pend; i++) {
        c->pend[i].newest = i == 0 || memcmp(c->pend[i].id, c->pend[i - 1].id, 16) != 0;
        c->superseded += !c->pend[i].newest;
    }
    if (c->n_pend > 1) {
        qsort(c->pend, c->n_pend, sizeof(*c->pend), pending_seq_cmp);
    }
    for (size_t i = 0; i < c->n_pend && rc == KW_ERR_OK; i++) {
        const pending *p = &c->pend[i];
        if (!p->newest) {
            continue;
        }
        c->by_container += p->by_container;
        rc = collect_held(c,
            &c->pb[p->seq / KW_BUNDLE_DEFAULT_SIZE]->items[p->seq % KW_BUNDLE_DEFAULT_SIZE],
            p->tlp, p->unresolved);
    }
    return rc;
}

static kw_err collect_one(collector *c, const kw_indicator *ind, kw_tlp tlp, held_check *h)
{
    kw_err rc;

    if (h->found && memcmp(h->origin, c->n->self, 32) != 0) {
        c->foreign++;
        return KW_ERR_OK;
    }
    if (ind->revoked || ind->type == KW_OBS_NONE) {
        if (!h->found) {
            /* (A MISP withdrawal of what was never held is counted as not an indicator.) */
            c->not_held += ind->type != KW_OBS_NONE;
            return KW_ERR_OK;
        }
        if (h->revoked || h->modified > ind->modified) {
            c->held++;
            return KW_ERR_OK;
        }
        c->revoked++;
        return collect_revocation(
            c, h, ind->modified > h->modified ? ind->modified : h->modified + 1);
    }
    /* RED without recipients is held back whole: the held version stays as it is, not
     * revoked ahead of a version that is not published. */
    bool held_back = tlp == KW_TLP_RED && !c->red_ok;
    if (h->found && h->modified >= ind->modified) {
        if (h->modified == ind->modified && tlp > h->tlp && !h->revoked && held_back) {
            c->remarked[tlp]++;
            return collect_version(c, h->modified + 2, tlp);
        }
        if (h->modified == ind->modified && tlp > h->tlp && !h->revoked) {
            c->remarked[tlp]++;
            c->ahead++;
            if ((rc = collect_revocation(c, h, h->modified + 1)) != KW_ERR_OK) {
                return rc;
            }
            return collect_version(c, h->modified + 2, tlp);
        }
        c->held++;
        return KW_ERR_OK;
    }
    if (h->found && !h->revoked && (tlp > h->tlp || kw_tlp_sealed(tlp)) && !held_back) {
        /* A newer version for a possibly smaller audience: revoke the held one first. */
        c->ahead++;
        if ((rc = collect_revocation(c, h, h->modified + 1)) != KW_ERR_OK) {
            return rc;
        }
        if (ind->modified <= h->modified + 1) {
            kw_indicator later = *ind;
            later.modified = h->modified + 2;
            return collect_add(c, &later, tlp);
        }
    }
    return collect_add(c, ind, tlp);
}

static void collector_free(collector *c)
{
    kw_bundle_free(c->scratch);
    for (size_t i = 0; i < c->n_pb; i++) {
        kw_bundle_free(c->pb[i]);
    }
    free(c->pb);
    free(c->pend);
    for (size_t i = 0; i < c->n_revs; i++) {
        kw_bundle_free(c->revs[i].b);
        free(c->revs[i].rcpt);
    }
    free(c->revs);
    for (int t = 0; t <= KW_TLP_MAX; t++) {
        for (size_t i = 0; i < c->nb[t]; i++) {
            kw_bundle_free(c->b[t][i]);
        }
        free(c->b[t]);
    }
}

/* Adds the counts and issues of one file's report to the total (MISP directories). */
static void report_merge(kw_import_report *dst, const kw_import_report *src)
{
    dst->objects += src->objects;
    dst->indicators += src->indicators;
    dst->non_indicators += src->non_indicators;
    dst->org_only += src->org_only;
    dst->invalid += src->invalid;
    dst->unsupported += src->unsupported;
    dst->events += src->events;
    dst->typed += src->typed;
    dst->raw += src->raw;
    for (int t = 0; t <= KW_TLP_MAX; t++) {
        dst->by_tlp[t] += src->by_tlp[t];
    }
    if (dst->first_error[0] == '\0') {
        memcpy(dst->first_error, src->first_error, sizeof(dst->first_error));
    }
    for (uint32_t i = 0; i < src->n_issues && dst->n_issues < KW_IMPORT_MAX_ISSUES; i++) {
        dst->issues[dst->n_issues++] = src->issues[i];
    }
    for (uint32_t i = 0; i < src->n_types; i++) {
        uint32_t j = 0;
        while (j < dst->n_types && strcmp(dst->types[j].type, src->types[i].type) != 0) {
            j++;
        }
        if (j == dst->n_types && dst->n_types == KW_IMPORT_MAX_TYPES) {
            dst->types_other += src->types[i].n;
            continue;
        }
        if (j == dst->n_types) {
            dst->types[dst->n_types++] = src->types[i];
        } else {
            dst->types[j].n += src->types[i].n;
        }
    }
    dst->types_other += src->types_other;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int json_file(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

/* Reads standard input ('-': what a TAXII or MISP client pipes in) whole, up to max bytes. */
static kw_err read_stdin(size_t max, char **out, size_t *out_len, kw_import_report *rep)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;

    for (;;) {
        if (len == cap) {
            /* Room for one byte past max, so that too much input shows as len > max. */
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb;
            if (ncap > max + 1) {
                ncap = max + 1;
            }
            if (len > max) {
                break;
            }
            if ((nb = realloc(buf, ncap)) == NULL) {
                free(buf);
                return KW_ERR_NOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(rep->first_error, sizeof(rep->first_error),
                "cannot read standard input: %s", strerror(errno));
            free(buf);
            return KW_ERR_IO;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > max) {
        snprintf(rep->first_error, sizeof(rep->first_error),
            "standard input holds more than %zu bytes", max);
        free(buf);
        return KW_ERR_TOOBIG;
    }
    if (len == 0) {
        snprintf(rep->first_error, sizeof(rep->first_error), "standard input is empty");
        free(buf);
        return KW_ERR_DECODE;
    }
    *out = buf;
    *out_len = len;
    return KW_ERR_OK;
}

/*
 * MISP: a feed directory, its manifest or one event file go to kw_misp_import as they are; a
 * directory without manifest.json is taken as a set of event files (*.json, in name order);
 * '-' is one event document on standard input.
 */
static kw_err read_misp(const import_opts *o, collector *c, kw_import_report *rep)
{
    char manifest[PATH_MAX];
    struct dirent **list = NULL;
    kw_import_report *one = NULL;
    struct stat st;
    kw_err rc = KW_ERR_OK;
    int n;

    if (strcmp(o->path, "-") == 0) {
        char *buf = NULL;
        size_t len = 0;
        memset(rep, 0, sizeof(*rep));
        if ((rc = read_stdin(KW_MISP_MAX_FILE, &buf, &len, rep)) == KW_ERR_OK) {
            rc = kw_misp_import_event_json(buf, len, "standard input", o->tlp, o->skip_invalid,
                collect, c, rep);
            free(buf);
        }
        return rc;
    }
    if (stat(o->path, &st) != 0 || !S_ISDIR(st.st_mode)
        || ((size_t)snprintf(manifest, sizeof(manifest), "%s/manifest.json", o->path)
                < sizeof(manifest)
            && stat(manifest, &st) == 0)) {
        return kw_misp_import(o->path, o->tlp, o->skip_invalid, collect, c, rep);
    }
    memset(rep, 0, sizeof(*rep));
    if ((n = scandir(o->path, &list, json_file, by_name)) < 0) {
        snprintf(rep->first_error, sizeof(rep->first_error), "cannot read the directory %s: %s",
            o->path, strerror(errno));
        return KW_ERR_IO;
    }
    if (n == 0) {
        snprintf(rep->first_error, sizeof(rep->first_error),
            "%s holds neither manifest.json nor any .json event file", o->path);
        rc = KW_ERR_NOTFOUND;
    }
    if ((one = malloc(sizeof(*one))) == NULL) {
        rc = KW_ERR_NOMEM;
    }
    /* Nothing is published before every file has been read, so a file that fails fails
     * them all, as one feed would. */
    for (int i = 0; i < n && rc == KW_ERR_OK; i++) {
        char file[PATH_MAX];
        snprintf(file, sizeof(file), "%s/%s", o->path, list[i]->d_name);
        rc = kw_misp_import(file, o->tlp, o->skip_invalid, collect, c, one);
        if (rc != KW_ERR_OK && one->first_error[0] != '\0') {
            memcpy(rep->first_error, one->first_error, sizeof(rep->first_error));
        }
        report_merge(rep, one);
    }
    for (int i = 0; i < n; i++) {
        free(list[i]);
    }
    free(list);
    free(one);
    return rc;
}

/* The STIX document is mapped rather than read: it is parsed whole, and may be large. */
static kw_err read_stix(const import_opts *o, collector *c, kw_import_report *rep)
{
    struct stat st;
    void *map = MAP_FAILED;
    size_t len = 0;
    kw_err rc = KW_ERR_IO;
    int fd;

    memset(rep, 0, sizeof(*rep));
    if (strcmp(o->path, "-") == 0) {
        char *buf = NULL;
        if ((rc = read_stdin(STIX_MAX_FILE, &buf, &len, rep)) == KW_ERR_OK) {
            rc = kw_stix_import_marks(buf, len, "standard input", o->tlp, o->skip_invalid,
                collect_stix, c, rep);
            free(buf);
        }
        return rc;
    }
    if ((fd = open(o->path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(rep->first_error, sizeof(rep->first_error), "cannot open %s: %s", o->path,
            strerror(errno));
        return errno == ENOENT ? KW_ERR_NOTFOUND : KW_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(rep->first_error, sizeof(rep->first_error), "cannot read %s: %s", o->path,
            S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
        goto out;
    }
    if ((uint64_t)st.st_size > STIX_MAX_FILE) {
        snprintf(rep->first_error, sizeof(rep->first_error),
            "%s is %lld bytes; a STIX file may be at most %u bytes", o->path, (long long)st.st_size,
            STIX_MAX_FILE);
        rc = KW_ERR_TOOBIG;
        goto out;
    }
    len = (size_t)st.st_size;
    if (len > 0 && (map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        snprintf(rep->first_error, sizeof(rep->first_error), "cannot read %s: %s", o->path,
            strerror(errno));
        goto out;
    }
    rc = kw_stix_import_marks(
        len > 0 ? map : "", len, o->path, o->tlp, o->skip_invalid, collect_stix, c, rep);
out:
    if (map != MAP_FAILED) {
        munmap(map, len);
    }
    close(fd);
    return rc;
}

/* Orders revocations by audience: level, then recipients. */
static int revocation_cmp(const void *a, const void *b)
{
    const struct revocation *x = a, *y = b;

    if (x->tlp != y->tlp) {
        return x->tlp < y->tlp ? -1 : 1;
    }
    if (x->n_rcpt != y->n_rcpt) {
        return x->n_rcpt < y->n_rcpt ? -1 : 1;
    }
    return x->n_rcpt == 0 ? 0 : memcmp(x->rcpt, y->rcpt, (size_t)x->n_rcpt * 32);
}

/*
 * Publishes the collected indicators, level by level, the most restrictive first: when two
 * objects of the input carry the same value under different levels, the store keeps the
 * first as this node's and drops the other as a duplicate, so the stricter one is kept.
 */
static int publish_collected(kw_cli_node *n, collector *c, const uint8_t (*to)[32], size_t n_to,
    kw_publish_result *total, uint64_t published[static KW_TLP_MAX + 1])
{
    kw_cli_progress prog;
    uint64_t all = 0, done = 0;
    int ret = 0;

    for (int t = 0; t <= KW_TLP_MAX; t++) {
        all += c->count[t];
    }
    all += c->n_revs;
    kw_cli_progress_start(&prog, "publishing", all);
    /* Revocations first, each to the audience of what it revokes (those of one audience in
     * shared entries): should the rest fail, what was withdrawn is withdrawn (the safe side). */
    if (c->n_revs > 1) {
        qsort(c->revs, c->n_revs, sizeof(*c->revs), revocation_cmp);
    }
    for (size_t i = 0, j; i < c->n_revs && ret == 0; i = j) {
        struct revocation *r = &c->revs[i];
        kw_publish_opts po;
        uint8_t(*rcpt)[32] = NULL;
        uint64_t before = total->indicators;
        kw_err rc = KW_ERR_OK;
        size_t bytes = kw_indicator_size_bound(&r->b->items[0]);
        for (j = i + 1; j < c->n_revs && revocation_cmp(r, &c->revs[j]) == 0
             && r->b->n < KW_BUNDLE_DEFAULT_SIZE
             && bytes + kw_indicator_size_bound(&c->revs[j].b->items[0]) <= KW_BUNDLE_TARGET_BYTES
             && rc == KW_ERR_OK;
             j++) {
            bytes += kw_indicator_size_bound(&c->revs[j].b->items[0]);
            rc = kw_bundle_copy_indicator(r->b, &c->revs[j].b->items[0], NULL);
        }
        if (rc == KW_ERR_OK) {
            rc = kw_cli_same_audience(
                n->self, r->tlp, (const uint8_t(*)[32])r->rcpt, r->n_rcpt, &po, &rcpt);
        }
        if (rc == KW_ERR_OK) {
            rc = kw_store_publish(n->store, n->id, &po, &r->b, 1, total);
        }
        free(rcpt);
        if (rc != KW_ERR_OK) {
            ret = kw_cli_error("publishing failed after %llu indicators were published: %s",
                (unsigned long long)total->indicators, kw_strerror(rc));
            break;
        }
        published[r->tlp] += total->indicators - before;
        done += j - i;
        kw_cli_progress_update(&prog, done, done);
    }
    for (int t = KW_TLP_MAX; t >= 0 && ret == 0; t--) {
        kw_publish_opts po = { .tlp = (kw_tlp)t };
        if (t == KW_TLP_RED && n_to == 0) {
            continue; /* refused or skipped before: RED needs recipients */
        }
        if (kw_tlp_sealed((kw_tlp)t)) {
            po.recipients = to;
            po.n_recipients = n_to;
        }
        uint64_t before = total->indicators;
        for (size_t i = 0; i < c->nb[t]; i += PUBLISH_BATCH) {
            size_t k = c->nb[t] - i < PUBLISH_BATCH ? c->nb[t] - i : PUBLISH_BATCH;
            kw_err rc = kw_store_publish(n->store, n->id, &po, c->b[t] + i, k, total);
            if (rc != KW_ERR_OK) {
                ret = kw_cli_error("publishing failed after %llu indicators were published: %s",
                    (unsigned long long)total->indicators, kw_strerror(rc));
                break;
            }
            for (size_t j = i; j < i + k; j++) {
                done += c->b[t][j]->n;
            }
            kw_cli_progress_update(&prog, done, done);
        }
        published[t] += total->indicators - before;
    }
    kw_cli_progress_end(&prog);
    return ret;
}

/* Lists the invalid items --skip-invalid left out (unsupported ones are counted by type in
 * the summary: a feed may hold thousands of them). */
static void print_skipped(const kw_import_report *rep)
{
    uint64_t listed = 0;

    for (uint32_t i = 0; i < rep->n_issues; i++) {
        if (rep->issues[i].invalid) {
            kw_cli_warn("skipped invalid: %s", rep->issues[i].text);
            listed++;
        }
    }
    if (rep->invalid > listed) {
        kw_cli_warn("... and %llu more invalid indicators skipped",
            (unsigned long long)(rep->invalid - listed));
    }
}

static int import_foreign(kw_cli_node *n, const import_opts *o)
{
    const char *fmt = o->format == FMT_STIX ? "STIX 2.1" : "MISP";
    collector c;
    kw_import_report *rep = NULL;
    kw_publish_result total;
    uint8_t(*to)[32] = NULL;
    size_t n_to = 0;
    uint64_t red_held = 0;
    uint64_t published[KW_TLP_MAX + 1] = { 0 };
    kw_err rc;
    int ret = KW_CLI_FAIL;

    memset(&c, 0, sizeof(c));
    memset(&total, 0, sizeof(total));
    c.n = n;
    if (kw_bundle_new(&c.scratch) != KW_ERR_OK) {
        kw_cli_error("out of memory");
        goto out;
    }
    if ((ret = kw__xfer_resolve_nodes(n, o->to, o->n_to, true, true, "recipient", &to, &n_to))
        != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    c.red_ok = n_to > 0;
    if ((rep = calloc(1, sizeof(*rep))) == NULL) {
        kw_cli_error("out of memory");
        goto out;
    }
    rc = o->format == FMT_STIX ? read_stix(o, &c, rep) : read_misp(o, &c, rep);
    if (rc == KW_ERR_OK && (rc = collect_finish(&c)) != KW_ERR_OK) {
        snprintf(rep->first_error, sizeof(rep->first_error),
            "cannot compare %s with what this node holds: %s", o->path, kw_strerror(rc));
    }
    if (rc != KW_ERR_OK) {
        if (rc == KW_ERR_INVAL) {
            kw_cli_error("%s; nothing imported (%llu invalid indicator%s; --skip-invalid "
                         "imports the %llu valid one%s)",
                rep->first_error, (unsigned long long)rep->invalid, kw__xfer_plural(rep->invalid),
                (unsigned long long)rep->indicators, kw__xfer_plural(rep->indicators));
        } else if (rep->first_error[0] != '\0') {
            kw_cli_error("%s; nothing imported", rep->first_error);
        } else {
            kw_cli_error("cannot import %s: %s; nothing imported", o->path, kw_strerror(rc));
        }
        goto out;
    }
    /* RED goes only to named recipients: without --to it stays out, and the summary and a
     * warning say so. */
    red_held = n_to == 0 ? c.count[KW_TLP_RED] : 0;
    print_skipped(rep);
    if ((ret = publish_collected(
             n, &c, (const uint8_t(*)[32])to, n_to, &total, published))
        != 0) {
        goto out;
    }
    if (total.entries > 0) {
        kw_cli_notify_daemon(n);
    }
    printf("imported %s (%s): %llu indicator%s published in %llu entr%s",
        strcmp(o->path, "-") == 0 ? "standard input" : o->path, fmt,
        (unsigned long long)total.indicators, kw__xfer_plural(total.indicators),
        (unsigned long long)total.entries, total.entries == 1 ? "y" : "ies");
    for (int t = 0, first = 1; t <= KW_TLP_MAX; t++) {
        uint64_t v = published[t];
        if (v > 0) {
            printf("%s%llu %s", first ? " (" : ", ", (unsigned long long)v, kw_tlp_name((kw_tlp)t));
            first = 0;
        }
        if (t == KW_TLP_MAX && !first) {
            putchar(')');
        }
    }
    uint64_t remarked = 0;
    for (int t = 0; t <= KW_TLP_MAX; t++) {
        remarked += t == KW_TLP_RED && red_held > 0 ? 0 : c.remarked[t];
    }
    if (c.revoked > 0 || remarked > 0 || c.ahead > 0) {
        printf(", of them %llu revocation%s (revoked or withdrawn at the source), %llu re-marked "
               "to the source's stricter TLP and %llu revoked ahead of a version for a smaller "
               "audience",
            (unsigned long long)c.revoked, kw__xfer_plural(c.revoked),
            (unsigned long long)remarked, (unsigned long long)c.ahead);
    }
    printf("; skipped: %llu already held, %llu duplicate value%s, %llu owned by another "
           "origin, %llu not indicator%s, %llu unsupported",
        (unsigned long long)c.held, (unsigned long long)total.duplicates,
        kw__xfer_plural(total.duplicates), (unsigned long long)(c.foreign + total.foreign),
        (unsigned long long)rep->non_indicators, kw__xfer_plural(rep->non_indicators),
        (unsigned long long)rep->unsupported);
    for (uint32_t i = 0; i < rep->n_types; i++) {
        printf("%s%s: %llu", i == 0 ? " (" : ", ", rep->types[i].type,
            (unsigned long long)rep->types[i].n);
        if (i + 1 == rep->n_types) {
            putchar(')');
        }
    }
    if (rep->org_only > 0) {
        printf(", %llu your organisation only (distribution 0)", (unsigned long long)rep->org_only);
    }
    if (c.not_held > 0) {
        printf(", %llu revoked at the source and never held here",
            (unsigned long long)c.not_held);
    }
    if (rep->superseded + c.superseded > 0) {
        printf(", %llu older version%s of an indicator in the input",
            (unsigned long long)(rep->superseded + c.superseded),
            kw__xfer_plural(rep->superseded + c.superseded));
    }
    if (red_held > 0) {
        printf(", %llu TLP:RED held back", (unsigned long long)red_held);
    }
    if (rep->invalid > 0) {
        printf(", %llu invalid", (unsigned long long)rep->invalid);
    }
    if (c.by_container > 0) {
        printf("; %llu indicator%s raised to the TLP of a report or other container that "
               "lists %s",
            (unsigned long long)c.by_container, kw__xfer_plural(c.by_container),
            c.by_container == 1 ? "it" : "them");
    }
    putchar('\n');
    if (red_held > 0) {
        kw_cli_warn("held back %llu TLP:RED indicator%s: RED needs recipients (--to NODE); none "
                    "of them was published",
            (unsigned long long)red_held, kw__xfer_plural(red_held));
    }
    if (total.duplicates_other_tlp > 0) {
        kw_cli_warn("%llu of the duplicate values %s already published by this node under "
                    "another TLP level (kawan remark ID --tlp LEVEL changes the level)",
            (unsigned long long)total.duplicates_other_tlp,
            total.duplicates_other_tlp == 1 ? "is" : "are");
    }
    if (rep->unknown_markings > 0) {
        kw_cli_warn("%llu indicator%s reference%s (or a report or other container that lists "
                    "them does) a marking that is neither a TLP marking nor defined in the input "
                    "(first: %s): it sets no TLP level, and where no other "
                    "marking does, --tlp %s applied, but never a level laxer than the one this "
                    "node holds for the indicator (%llu kept at that level)",
            (unsigned long long)rep->unknown_markings, kw__xfer_plural(rep->unknown_markings),
            rep->unknown_markings == 1 ? "s" : "", rep->unknown_marking, kw_tlp_name(o->tlp),
            (unsigned long long)c.floored);
    }
    ret = KW_CLI_OK;
out:
    collector_free(&c);
    free(rep);
    free(to);
    return ret;
}

/* ---- Command ---- */

static int parse_options(int argc, char **argv, import_opts *o)
{
    enum { O_FORMAT = KW_OPT_LOCAL, O_TLP, O_SKIP, O_TO };
    static const struct option opts[] = {
        { "format", required_argument, NULL, O_FORMAT },
        { "tlp", required_argument, NULL, O_TLP },
        { "skip-invalid", no_argument, NULL, O_SKIP },
        { "to", required_argument, NULL, O_TO },
        KW_CLI_COMMON_OPTS,
    };
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case O_FORMAT:
            if (strcmp(optarg, "kwx") == 0) {
                o->format = FMT_KWX;
            } else if (strcmp(optarg, "stix") == 0) {
                o->format = FMT_STIX;
            } else if (strcmp(optarg, "misp") == 0) {
                o->format = FMT_MISP;
            } else {
                char bad[64];
                return kw_cli_usage_error("--format: unknown format '%s' (kwx, stix or misp)",
                    kw_cli_printable(bad, sizeof(bad), optarg, strlen(optarg), 40));
            }
            break;
        case O_TLP:
            if ((ret = kw_cli_parse_tlp("--tlp", optarg, &o->tlp)) != 0) {
                return ret;
            }
            o->have_tlp = true;
            break;
        case O_SKIP:
            o->skip_invalid = true;
            break;
        case O_TO:
            if (o->n_to == KW_XFER_MAX_NODES) {
                return kw_cli_usage_error("--to: at most %u recipients", KW_XFER_MAX_NODES);
            }
            o->to[o->n_to++] = optarg;
            break;
        case KW_CLI_OPT_HELP:
            return -1;
        default:
            return KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 1, 1, "FILE")) != 0) {
        return ret;
    }
    o->path = argv[optind];
    if (o->format == FMT_KWX) {
        if (o->have_tlp || o->skip_invalid || o->n_to > 0) {
            return kw_cli_usage_error("import: --tlp, --to and --skip-invalid apply to --format "
                                      "stix and misp; a kwx file's entries keep their own TLP");
        }
    } else if (!o->have_tlp) {
        return kw_cli_usage_error("import: --format %s needs --tlp LEVEL for indicators without "
                                  "a TLP marking (clear, green, amber, amber+strict or red)",
            o->format == FMT_STIX ? "stix" : "misp");
    }
    return 0;
}

int import_main(int argc, char **argv)
{
    import_opts o;
    kw_cli_node n;
    int ret;

    memset(&o, 0, sizeof(o));
    memset(&n, 0, sizeof(n));
    if ((ret = parse_options(argc, argv, &o)) != 0) {
        return ret < 0 ? KW_CLI_OK : ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_WRITE | KW_CLI_IDENTITY)) != 0) {
        goto out;
    }
    ret = o.format == FMT_KWX ? import_kwx(&n, o.path) : import_foreign(&n, &o);
out:
    kw_cli_node_close(&n);
    return ret;
}
