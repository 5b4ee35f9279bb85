/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/kwx.h"
#include "bundle/outfile.h"
#include "bundle/stix.h"
#include "bundle/timefmt.h"
#include "cli/xfer.h"

static const char usage[]
    = "Usage: kawan export --out FILE [--format kwx|stix] [--since TIME] [--origin NODE]...\n"
      "                    [--for NODE]\n"
      "\n"
      "Writes what this node holds to FILE: for another kawan node across an air gap (kwx,\n"
      "the default: the signed feed entries, checked again by kawan import on the other\n"
      "side), or for other platforms (stix: a STIX 2.1 bundle of the current indicators).\n"
      "FILE appears under its name only once it is complete (an existing FILE is replaced).\n"
      "\n"
      "  --out FILE       the file to write\n"
      "  --format F       kwx (default) or stix\n"
      "  --since TIME     only what this node received or published at or after TIME (RFC\n"
      "                   3339, or a duration back: 24h, 7d); kwx writes each feed from its\n"
      "                   first such entry to its head\n"
      "  --origin NODE    only the feed of NODE: a roster name, this node's name or a node id\n"
      "                   (repeatable; default: every feed, own and received)\n"
      "  --for NODE       the roster member the file is for: kwx then includes the sealed\n"
      "                   payloads of this node's TLP:RED entries addressed to NODE; stix\n"
      "                   includes the AMBER indicators NODE is a recipient of\n"
      "\n"
      "TLP (docs/tlp.md): kwx carries CLEAR and GREEN payloads, AMBER and AMBER+STRICT\n"
      "payloads sealed (only their recipients can open them), and of RED entries the header\n"
      "only unless --for a recipient. stix exports CLEAR and GREEN, AMBER only --for a\n"
      "recipient, AMBER+STRICT and RED never; the summary says what was held back.\n"
      "A progress bar is shown when stderr is a terminal.\n";

typedef enum { FMT_KWX, FMT_STIX } export_format;

typedef struct export_opts {
    const char *out;
    export_format format;
    int64_t since;
    const char *origins[KW_XFER_MAX_NODES];
    size_t n_origins;
    const char *for_node;
} export_opts;

/* What both formats need while they walk the store. */
typedef struct export_ctx {
    kw_cli_node *n;
    const export_opts *o;
    bool have_for;
    uint8_t for_id[32];
    uint8_t (*origins)[32]; /* --origin, resolved; NULL: every feed */
    size_t n_origins;
    kw_cli_progress prog;
    uint64_t done;
    kw_err err; /* a write error that stopped the walk */
    /* kwx */
    kw_kwx_writer *kwx;
    uint64_t with_payload;
    uint64_t red_left_out;
    uint64_t payload_bytes;
    /* stix */
    kw_stix_writer *stix;
    uint64_t written;
    uint64_t held[KW_TLP_MAX + 1];
    uint64_t unwritable;
    char first_unwritable[64];
} export_ctx;

/* ---- kwx ---- */

/* Whether the payload of e goes into the file, by the TLP rules for its receiver. */
static bool kwx_may_send(export_ctx *c, const kw_stored_entry *e)
{
    kw_tlp t = (kw_tlp)e->h.tlp;
    bool from_origin = memcmp(e->h.origin, c->n->self, 32) == 0;
    kw_tlp_party party = KW_PARTY_MEMBER;

    /* Only RED depends on who the receiver is: it goes from its origin to its recipients. */
    if (t == KW_TLP_RED && c->have_for && from_origin) {
        uint8_t(*rcpt)[32] = NULL;
        size_t nr = 0;
        if (kw_store_entry_recipients(c->n->store, e->h.origin, e->h.seq, &rcpt, &nr) == KW_ERR_OK
            && kw__xfer_has_id((const uint8_t(*)[32])rcpt, nr, c->for_id)) {
            party = KW_PARTY_RECIPIENT;
        }
        free(rcpt);
    }
    return kw_tlp_may_send_payload(t, party, from_origin);
}

static int kwx_entry(void *ctx, const kw_stored_entry *e)
{
    export_ctx *c = ctx;
    const uint8_t *payload = e->payload;

    if (payload != NULL && !kwx_may_send(c, e)) {
        payload = NULL;
        c->red_left_out++;
    }
    c->err = kw_kwx_writer_add(c->kwx, e->hdr, e->hdr_len, e->sig, payload, e->payload_len);
    if (c->err != KW_ERR_OK) {
        return 1;
    }
    if (payload != NULL) {
        c->with_payload++;
        c->payload_bytes += e->payload_len;
    }
    c->done++;
    kw_cli_progress_update(&c->prog, c->done, c->done);
    return 0;
}

typedef struct first_since {
    int64_t since;
    uint64_t seq; /* 0: none */
} first_since;

static int find_since(void *ctx, const kw_stored_entry *e)
{
    first_since *f = ctx;

    if ((int64_t)e->recv_ms >= f->since) {
        f->seq = e->h.seq;
        return 1;
    }
    return 0;
}

/* A feed to export: its origin and the seq range [from, to]. */
typedef struct feed_span {
    uint8_t origin[32];
    uint64_t from, to;
} feed_span;

/* The feeds to export, each from its first entry at or after --since up to its head. */
static int plan_feeds(export_ctx *c, feed_span **out, size_t *count, uint64_t *entries)
{
    kw_head *heads = NULL;
    size_t nh = 0, k = 0;
    feed_span *spans = NULL;
    kw_err rc;
    int ret = KW_CLI_FAIL;

    *out = NULL;
    *count = 0;
    *entries = 0;
    if ((rc = kw_store_heads(c->n->store, &heads, &nh)) != KW_ERR_OK) {
        return kw_cli_error("cannot read the feeds in %s: %s", c->n->dir, kw_strerror(rc));
    }
    if ((spans = calloc(nh ? nh : 1, sizeof(*spans))) == NULL) {
        kw_cli_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < nh; i++) {
        first_since f = { c->o->since, 1 };
        if (heads[i].seq == 0
            || (c->origins != NULL
                && !kw__xfer_has_id(
                    (const uint8_t(*)[32])c->origins, c->n_origins, heads[i].origin))) {
            continue;
        }
        if (c->o->since > 0) {
            f.seq = 0;
            rc = kw_store_feed_range(
                c->n->store, heads[i].origin, 1, heads[i].seq, false, find_since, &f);
            if (rc != KW_ERR_OK) {
                kw_cli_error("cannot read the feeds in %s: %s", c->n->dir, kw_strerror(rc));
                goto out;
            }
            if (f.seq == 0) {
                continue;
            }
        }
        memcpy(spans[k].origin, heads[i].origin, 32);
        spans[k].from = f.seq;
        spans[k].to = heads[i].seq;
        *entries += heads[i].seq - f.seq + 1;
        k++;
    }
    *out = spans;
    *count = k;
    spans = NULL;
    ret = 0;
out:
    free(spans);
    free(heads);
    return ret;
}

static int write_error(const char *path, kw_err rc)
{
    if (rc == KW_ERR_NOSPACE) {
        return kw_cli_error("cannot write %s: no space left on the device; nothing written", path);
    }
    return kw_cli_error("cannot write %s: %s; nothing written", path,
        rc == KW_ERR_IO ? strerror(errno) : kw_strerror(rc));
}

static int open_error(const char *path, kw_err rc)
{
    switch (rc) {
    case KW_ERR_INVAL:
        return kw_cli_usage_error("--out: '%s' does not name a file", path);
    case KW_ERR_NOTFOUND:
        return kw_cli_error("cannot write %s: no such directory", path);
    case KW_ERR_PERM:
        return kw_cli_error("cannot write %s: permission denied", path);
    default:
        return write_error(path, rc);
    }
}

static int export_kwx(export_ctx *c)
{
    feed_span *spans = NULL;
    size_t nspans = 0;
    uint64_t total = 0;
    char size[32];
    kw_err rc;
    int ret;

    if ((ret = plan_feeds(c, &spans, &nspans, &total)) != 0) {
        return ret;
    }
    ret = KW_CLI_FAIL;
    if ((rc = kw_kwx_writer_new(&c->kwx, c->o->out)) != KW_ERR_OK) {
        ret = open_error(c->o->out, rc);
        goto out;
    }
    kw_cli_progress_start(&c->prog, "exporting", total);
    for (size_t i = 0; i < nspans && c->err == KW_ERR_OK; i++) {
        rc = kw_store_feed_range(
            c->n->store, spans[i].origin, spans[i].from, spans[i].to, true, kwx_entry, c);
        if (rc != KW_ERR_OK) {
            kw_cli_progress_end(&c->prog);
            kw_cli_error(
                "cannot read the feeds in %s: %s; nothing written", c->n->dir, kw_strerror(rc));
            goto out;
        }
    }
    if (c->err == KW_ERR_OK) {
        c->err = kw_kwx_writer_finish(c->kwx);
    }
    kw_cli_progress_end(&c->prog);
    if (c->err != KW_ERR_OK) {
        ret = write_error(c->o->out, c->err);
        goto out;
    }
    snprintf(size, sizeof(size), "%llu", (unsigned long long)kw_kwx_writer_bytes(c->kwx));
    printf("exported %llu entr%s of %zu feed%s to %s (%s bytes): %llu with payload (%llu "
           "payload bytes), %llu header only",
        (unsigned long long)c->done, c->done == 1 ? "y" : "ies", nspans, kw__xfer_plural(nspans),
        c->o->out, size, (unsigned long long)c->with_payload, (unsigned long long)c->payload_bytes,
        (unsigned long long)(c->done - c->with_payload));
    if (c->red_left_out > 0) {
        printf(" (%llu TLP:RED payload%s left out%s)", (unsigned long long)c->red_left_out,
            kw__xfer_plural(c->red_left_out),
            c->have_for ? ": not this node's, or not addressed to the --for node"
                        : ": RED goes only --for a recipient");
    }
    putchar('\n');
    ret = KW_CLI_OK;
out:
    kw_kwx_writer_free(c->kwx);
    c->kwx = NULL;
    free(spans);
    return ret;
}

/* ---- STIX ---- */

static int stix_result(void *ctx, const kw_result *r)
{
    export_ctx *c = ctx;
    bool for_recipient;
    kw_err rc;

    if ((c->origins != NULL
            && !kw__xfer_has_id((const uint8_t(*)[32])c->origins, c->n_origins, r->origin))
        || (int64_t)r->recv_ms < c->o->since) {
        return 0;
    }
    c->done++;
    kw_cli_progress_update(&c->prog, c->done, c->written);
    for_recipient = c->have_for && kw__xfer_has_id(r->recipients, r->n_recipients, c->for_id);
    if (!kw_tlp_may_export_plain(r->tlp, for_recipient)) {
        c->held[r->tlp]++;
        return 0;
    }
    rc = kw_stix_writer_add(c->stix, r->ind, r->tlp, r->origin, kw_cli_name_of(c->n, r->origin));
    if (rc == KW_ERR_INVAL) {
        /* Cannot be expressed in STIX (e.g. text that is not UTF-8): listed, not fatal. */
        if (c->unwritable++ == 0) {
            kw_indicator_id_format(c->first_unwritable, r->ind->id);
        }
        return 0;
    }
    if (rc != KW_ERR_OK) {
        c->err = rc;
        return 1;
    }
    c->written++;
    return 0;
}

static void print_held_back(const export_ctx *c)
{
    static const char *const why[KW_TLP_MAX + 1] = {
        [KW_TLP_AMBER] = "only --for a recipient of them",
        [KW_TLP_AMBER_STRICT] = "never in plaintext",
        [KW_TLP_RED] = "never in plaintext",
    };
    uint64_t total = 0;
    const char *sep = "";

    for (int t = 0; t <= KW_TLP_MAX; t++) {
        total += c->held[t];
    }
    if (total == 0) {
        return;
    }
    printf("held back %llu indicator%s that may not leave this node in plaintext (TLP):",
        (unsigned long long)total, kw__xfer_plural(total));
    for (int t = 0; t <= KW_TLP_MAX; t++) {
        if (c->held[t] > 0) {
            printf("%s %llu %s (%s)", sep, (unsigned long long)c->held[t], kw_tlp_name((kw_tlp)t),
                why[t] != NULL ? why[t] : "held back");
            sep = ",";
        }
    }
    if (c->held[KW_TLP_AMBER] > 0 && c->have_for) {
        printf("; the --for node is not a recipient of those AMBER ones");
    }
    putchar('\n');
}

static int export_stix(export_ctx *c)
{
    kw_outfile *of = NULL;
    FILE *fp = NULL;
    kw_store_stats st;
    kw_query q;
    kw_err rc;
    int fd = -1, ret = KW_CLI_FAIL;
    long size;

    memset(&st, 0, sizeof(st));
    (void)kw_store_stats_get(c->n->store, &st);
    if ((rc = kw_outfile_new(&of, c->o->out)) != KW_ERR_OK) {
        return open_error(c->o->out, rc);
    }
    if ((fd = dup(kw_outfile_fd(of))) < 0 || (fp = fdopen(fd, "w")) == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        ret = write_error(c->o->out, KW_ERR_IO);
        goto out;
    }
    if ((rc = kw_stix_writer_new(&c->stix, fp)) != KW_ERR_OK) {
        ret = write_error(c->o->out, rc);
        goto out;
    }
    memset(&q, 0, sizeof(q));
    q.tlp = -1;
    /* Revoked and expired indicators too: a consumer fed by exports learns of a revocation
     * only from the revoked version ("revoked": true), and valid_until says when one
     * expired. */
    q.all = true;
    if (c->n_origins == 1) {
        q.origin = c->origins[0];
    }
    kw_cli_progress_start(&c->prog, "exporting", st.indicators);
    rc = kw_store_query(c->n->store, &q, stix_result, c, NULL);
    kw_cli_progress_end(&c->prog);
    if (rc != KW_ERR_OK) {
        ret = kw_cli_error(
            "cannot read the store in %s: %s; nothing written", c->n->dir, kw_strerror(rc));
        goto out;
    }
    if (c->err == KW_ERR_OK) {
        c->err = kw_stix_writer_finish(c->stix);
    }
    size = c->err == KW_ERR_OK ? ftell(fp) : -1;
    if (c->err == KW_ERR_OK && fclose(fp) != 0) {
        c->err = kw_outfile_errno();
    }
    fp = NULL;
    if (c->err == KW_ERR_OK) {
        c->err = kw_outfile_commit(of);
    }
    if (c->err != KW_ERR_OK) {
        ret = write_error(c->o->out, c->err);
        goto out;
    }
    printf("exported %llu indicator%s to %s (STIX 2.1, %ld bytes)\n",
        (unsigned long long)c->written, kw__xfer_plural(c->written), c->o->out, size);
    print_held_back(c);
    if (c->unwritable > 0) {
        kw_cli_warn("left out %llu indicator%s that STIX cannot express (the first: %s)",
            (unsigned long long)c->unwritable, kw__xfer_plural(c->unwritable), c->first_unwritable);
    }
    ret = KW_CLI_OK;
out:
    kw_stix_writer_free(c->stix);
    c->stix = NULL;
    if (fp != NULL) {
        fclose(fp);
    }
    kw_outfile_free(of);
    return ret;
}

/* ---- Command ---- */

static int parse_options(int argc, char **argv, export_opts *o)
{
    enum { O_OUT = KW_OPT_LOCAL, O_FORMAT, O_SINCE, O_ORIGIN, O_FOR };
    static const struct option opts[] = {
        { "out", required_argument, NULL, O_OUT },
        { "format", required_argument, NULL, O_FORMAT },
        { "since", required_argument, NULL, O_SINCE },
        { "origin", required_argument, NULL, O_ORIGIN },
        { "for", required_argument, NULL, O_FOR },
        KW_CLI_COMMON_OPTS,
    };
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case O_OUT:
            if (optarg[0] == '\0') {
                return kw_cli_usage_error("--out needs a file name");
            }
            o->out = optarg;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "kwx") == 0) {
                o->format = FMT_KWX;
            } else if (strcmp(optarg, "stix") == 0) {
                o->format = FMT_STIX;
            } else {
                char bad[64];
                return kw_cli_usage_error("--format: unknown format '%s' (kwx or stix)",
                    kw_cli_printable(bad, sizeof(bad), optarg, strlen(optarg), 40));
            }
            break;
        case O_SINCE:
            if ((ret = kw_cli_parse_time("--since", optarg, kw_time_now_ms(), &o->since)) != 0) {
                return ret;
            }
            break;
        case O_ORIGIN:
            if (o->n_origins == KW_XFER_MAX_NODES) {
                return kw_cli_usage_error("--origin: at most %u feeds", KW_XFER_MAX_NODES);
            }
            o->origins[o->n_origins++] = optarg;
            break;
        case O_FOR:
            o->for_node = optarg;
            break;
        case KW_CLI_OPT_HELP:
            return -1;
        default:
            return KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    if (o->out == NULL) {
        return kw_cli_usage_error("export: --out FILE is required");
    }
    return 0;
}

int export_main(int argc, char **argv)
{
    export_opts o;
    export_ctx c;
    kw_cli_node n;
    int ret;

    memset(&o, 0, sizeof(o));
    memset(&c, 0, sizeof(c));
    memset(&n, 0, sizeof(n));
    if ((ret = parse_options(argc, argv, &o)) != 0) {
        return ret < 0 ? KW_CLI_OK : ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) != 0) {
        goto out;
    }
    c.n = &n;
    c.o = &o;
    if (o.for_node != NULL) {
        if ((ret = kw_cli_resolve_node(&n, o.for_node, true, c.for_id, "--for node")) != 0) {
            goto out;
        }
        if (memcmp(c.for_id, n.self, 32) == 0) {
            ret = kw_cli_usage_error("--for: '%s' is this node; name the roster member the file "
                                     "is for",
                o.for_node);
            goto out;
        }
        c.have_for = true;
    }
    if (o.n_origins > 0) {
        if ((ret = kw__xfer_resolve_nodes(
                 &n, o.origins, o.n_origins, false, false, "origin", &c.origins, &c.n_origins))
            != 0) {
            goto out;
        }
    }
    ret = o.format == FMT_KWX ? export_kwx(&c) : export_stix(&c);
out:
    free(c.origins);
    kw_cli_node_close(&n);
    return ret;
}
