/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/timefmt.h"

static const char usage[]
    = "Usage: kawan revoke INDICATOR-ID\n"
      "\n"
      "Publishes a new version of an indicator this node published, marked revoked, under\n"
      "the same TLP level and recipients. Queries then hide it (kawan query --all shows it).\n"
      "Only the node that published an indicator may revoke it. Prints the new entry's seq.\n";

/*
 * Publishes a new version of the indicator in f (already edited by the caller) under po:
 * STIX versioning, so `modified` must grow. Prints what happened with `verb` (quiet: not).
 */
static int publish_version(kw_cli_node *n, kw_cli_found *f, const kw_publish_opts *po,
    int64_t old_modified, const char *verb, bool quiet)
{
    kw_indicator *d = &f->b->items[0];
    kw_publish_result res;
    char id[48];
    kw_err rc;

    kw_indicator_id_format(id, d->id);
    d->modified = kw_time_now_ms();
    if (d->modified <= old_modified) {
        d->modified = old_modified + 1;
    }
    /* Only the indicator goes into the new entry, not the old entry's recipient list. */
    f->b->recipients = NULL;
    f->b->n_recipients = 0;
    memset(&res, 0, sizeof(res));
    if ((rc = kw_store_publish(n->store, n->id, po, &f->b, 1, &res)) != KW_ERR_OK) {
        return kw_cli_error("cannot %s %s: %s", verb, id, kw_strerror(rc));
    }
    if (res.entries != 1) {
        return kw_cli_error("cannot %s %s: the store wrote no entry for it", verb, id);
    }
    kw_cli_notify_daemon(n);
    if (!quiet) {
        printf("%s %s in entry seq %llu\n", strcmp(verb, "revoke") == 0 ? "revoked" : "re-marked",
            id, (unsigned long long)res.last_seq);
    }
    return KW_CLI_OK;
}

/* Sets po to the level and recipients of the version found in f (kw_cli_same_audience). */
static int same_audience(kw_cli_node *n, const kw_cli_found *f, kw_publish_opts *po,
    uint8_t (**rcpt)[32])
{
    if (kw_cli_same_audience(n->self, f->r.tlp, f->r.recipients, f->r.n_recipients, po, rcpt)
        != KW_ERR_OK) {
        return kw_cli_error("out of memory");
    }
    return 0;
}

/* Opens the node and finds an indicator this node published (the only ones it may version). */
static int find_own(kw_cli_node *n, const char *ref, kw_cli_found *f, const char *verb)
{
    char id[48], who[64];
    int ret;

    if ((ret = kw_cli_node_open(n, KW_CLI_WRITE | KW_CLI_IDENTITY)) != 0
        || (ret = kw_cli_find_indicator(n, ref, f)) != 0) {
        return ret;
    }
    kw_indicator_id_format(id, f->b->items[0].id);
    if (memcmp(f->r.origin, n->self, 32) != 0) {
        return kw_cli_error("%s was published by %s: only the origin may %s it", id,
            kw_cli_node_label(n, f->r.origin, who), verb);
    }
    return 0;
}

int revoke_main(int argc, char **argv)
{
    kw_cli_node n;
    kw_cli_found f;
    kw_publish_opts po;
    uint8_t(*rcpt)[32] = NULL;
    kw_indicator *d;
    char id[48];
    int ret;

    memset(&f, 0, sizeof(f));
    memset(&n, 0, sizeof(n));
    if (!kw_cli_simple_args(argc, argv, usage, NULL, 1, 1, "INDICATOR-ID", &ret)) {
        return ret;
    }
    if ((ret = find_own(&n, argv[optind], &f, "revoke")) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    d = &f.b->items[0];
    kw_indicator_id_format(id, d->id);
    if (d->revoked) {
        kw_cli_error("%s is already revoked", id);
        goto out;
    }
    d->revoked = true;
    /* The same level and recipients as before. */
    if (same_audience(&n, &f, &po, &rcpt) != 0) {
        goto out;
    }
    ret = publish_version(&n, &f, &po, d->modified, "revoke", false);
out:
    free(rcpt);
    kw_cli_found_free(&f);
    kw_cli_node_close(&n);
    return ret;
}

static const char remark_usage[]
    = "Usage: kawan remark INDICATOR-ID --tlp LEVEL [--to NODE-OR-NAME]...\n"
      "\n"
      "Publishes a new version of an indicator this node published under another TLP level\n"
      "(STIX versioning: the newest version's TLP governs queries, replication and exports).\n"
      "AMBER and AMBER+STRICT go to every roster member unless --to names the recipients;\n"
      "RED requires --to. Earlier versions stay in the feed, which is append-only.\n"
      "\n"
      "Members that cannot read the new version (not among its recipients) could not tell\n"
      "that it replaces the one they hold. So a stricter level, or any sealed one (whose\n"
      "recipients may differ), first revokes the indicator under its old level and recipients:\n"
      "they hide it, while the recipients of the new version see that version, which is newer.\n";

int remark_main(int argc, char **argv)
{
    enum { OPT_TLP = KW_OPT_LOCAL, OPT_TO };
    static const struct option opts[] = {
        { "tlp", required_argument, NULL, OPT_TLP },
        { "to", required_argument, NULL, OPT_TO },
        KW_CLI_COMMON_OPTS,
    };
    kw_cli_node n;
    kw_cli_found f;
    kw_publish_opts po;
    const char *to[64];
    uint8_t rcpt[64][32];
    size_t n_to = 0;
    bool have_tlp = false;
    kw_tlp tlp = KW_TLP_CLEAR;
    int c, ret;

    memset(&f, 0, sizeof(f));
    memset(&n, 0, sizeof(n));
    while ((c = kw_cli_getopt(argc, argv, opts, remark_usage)) != -1) {
        switch (c) {
        case OPT_TLP:
            if ((ret = kw_cli_parse_tlp("--tlp", optarg, &tlp)) != 0) {
                return ret;
            }
            have_tlp = true;
            break;
        case OPT_TO:
            if (n_to == 64) {
                return kw_cli_usage_error("--to: at most 64 recipients");
            }
            to[n_to++] = optarg;
            break;
        default:
            return c == KW_CLI_OPT_HELP ? KW_CLI_OK : KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 1, 1, "INDICATOR-ID")) != 0) {
        return ret;
    }
    if (!have_tlp) {
        return kw_cli_usage_error("remark: --tlp LEVEL is required");
    }
    if (n_to > 0 && !kw_tlp_sealed(tlp)) {
        return kw_cli_usage_error("--to applies to amber, amber+strict and red only");
    }
    if (tlp == KW_TLP_RED && n_to == 0) {
        return kw_cli_usage_error("--tlp red requires --to NODE (RED has no default recipients)");
    }
    if ((ret = find_own(&n, argv[optind], &f, "re-mark")) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    for (size_t i = 0; i < n_to; i++) {
        if ((ret = kw_cli_resolve_node(&n, to[i], true, rcpt[i], "--to")) != 0) {
            goto out;
        }
    }
    kw_indicator *d = &f.b->items[0];
    char id[48];
    kw_indicator_id_format(id, d->id);
    if (tlp == f.r.tlp && !kw_tlp_sealed(tlp)) {
        kw_cli_error("%s is already TLP:%s; nothing to do", id, kw_tlp_name(tlp));
        goto out;
    }
    int64_t modified = d->modified;
    if ((tlp >= f.r.tlp || kw_tlp_sealed(tlp)) && !d->revoked) {
        /* Withdrawn first from those who may not read the new version (see the usage). */
        kw_publish_opts old;
        uint8_t(*old_rcpt)[32] = NULL;
        d->revoked = true;
        ret = same_audience(&n, &f, &old, &old_rcpt);
        if (ret == 0) {
            ret = publish_version(&n, &f, &old, modified, "re-mark", true);
        }
        free(old_rcpt);
        if (ret != 0) {
            goto out;
        }
        d->revoked = false;
        modified = d->modified;
    }
    memset(&po, 0, sizeof(po));
    po.tlp = tlp;
    po.recipients = (const uint8_t(*)[32])rcpt;
    po.n_recipients = n_to;
    ret = publish_version(&n, &f, &po, modified, "re-mark", false);
out:
    kw_cli_found_free(&f);
    kw_cli_node_close(&n);
    return ret;
}
