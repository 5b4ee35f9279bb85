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

int revoke_main(int argc, char **argv)
{
    kw_cli_node n;
    kw_cli_found f;
    kw_publish_opts po;
    kw_publish_result res;
    uint8_t(*rcpt)[32] = NULL;
    kw_indicator *d;
    int64_t old_modified;
    char id[48], who[64];
    kw_err rc;
    int ret;

    memset(&f, 0, sizeof(f));
    if (!kw_cli_simple_args(argc, argv, usage, NULL, 1, 1, "INDICATOR-ID", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_WRITE | KW_CLI_IDENTITY)) != 0
        || (ret = kw_cli_find_indicator(&n, argv[optind], &f)) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    d = &f.b->items[0];
    kw_indicator_id_format(id, d->id);
    if (memcmp(f.r.origin, n.self, 32) != 0) {
        kw_cli_error("%s was published by %s: only the origin may revoke it", id,
            kw_cli_node_label(&n, f.r.origin, who));
        goto out;
    }
    if (d->revoked) {
        kw_cli_error("%s is already revoked", id);
        goto out;
    }
    /* STIX versioning: the new version must be strictly newer. */
    old_modified = d->modified;
    d->revoked = true;
    d->modified = kw_time_now_ms();
    if (d->modified <= old_modified) {
        d->modified = old_modified + 1;
    }
    memset(&po, 0, sizeof(po));
    po.tlp = f.r.tlp;
    if (kw_tlp_sealed(f.r.tlp)) {
        /* The same recipients as before (the publisher is added by the store). */
        size_t k = 0;
        if ((rcpt = calloc(f.r.n_recipients + 1, 32)) == NULL) {
            kw_cli_error("out of memory");
            goto out;
        }
        for (uint32_t i = 0; i < f.r.n_recipients; i++) {
            if (memcmp(f.r.recipients[i], n.self, 32) != 0) {
                memcpy(rcpt[k++], f.r.recipients[i], 32);
            }
        }
        po.recipients = (const uint8_t(*)[32])rcpt;
        po.n_recipients = k;
        if (k == 0 && f.r.tlp == KW_TLP_RED) {
            kw_cli_error("%s is TLP:RED but its entry names no recipient besides this node", id);
            goto out;
        }
        if (k == 0) {
            /* No recipients would mean "the whole roster": name this node alone instead. */
            memcpy(rcpt[k++], n.self, 32);
        }
    }
    /* Only the indicator goes into the new entry, not the bundle's recipient list. */
    f.b->recipients = NULL;
    f.b->n_recipients = 0;
    memset(&res, 0, sizeof(res));
    if ((rc = kw_store_publish(n.store, n.id, &po, &f.b, 1, &res)) != KW_ERR_OK) {
        kw_cli_error("cannot revoke %s: %s", id, kw_strerror(rc));
        goto out;
    }
    if (res.entries != 1) {
        kw_cli_error("cannot revoke %s: the store wrote no entry for it", id);
        goto out;
    }
    kw_cli_notify_daemon(&n);
    printf("revoked %s in entry seq %llu\n", id, (unsigned long long)res.last_seq);
    ret = KW_CLI_OK;
out:
    free(rcpt);
    kw_cli_found_free(&f);
    kw_cli_node_close(&n);
    return ret;
}
