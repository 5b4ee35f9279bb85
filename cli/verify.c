/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[]
    = "Usage: kawan verify\n"
      "\n"
      "Re-checks every stored entry (signature, hash chain, payload hash) and the indexes\n"
      "against the payloads. Exits non-zero on any problem, naming the first one.\n";

int verify_main(int argc, char **argv)
{
    kw_verify_report rep;
    kw_cli_node n;
    kw_err rc;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 0, 0, "", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ | KW_CLI_IDENTITY)) != 0) {
        goto out;
    }
    memset(&rep, 0, sizeof(rep));
    if ((rc = kw_store_verify(n.store, n.id, &rep)) != KW_ERR_OK) {
        ret = kw_cli_error("verify could not check the store in %s: %s", n.dir, kw_strerror(rc));
        goto out;
    }
    printf("checked %llu entries, %llu payloads, %llu indicators", (unsigned long long)rep.entries,
        (unsigned long long)rep.payloads, (unsigned long long)rep.indicators);
    if (rep.queued > 0) {
        printf(" (%llu entries waiting for the index)", (unsigned long long)rep.queued);
    }
    printf(": %llu problem%s\n", (unsigned long long)rep.problems, rep.problems == 1 ? "" : "s");
    if (rep.problems > 0) {
        rep.first_problem[sizeof(rep.first_problem) - 1] = '\0';
        ret = kw_cli_error("verify found %llu problem%s in %s; the first: %s",
            (unsigned long long)rep.problems, rep.problems == 1 ? "" : "s", n.dir,
            rep.first_problem);
        goto out;
    }
    ret = KW_CLI_OK;
out:
    kw_cli_node_close(&n);
    return ret;
}
