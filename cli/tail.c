/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bundle/value.h"
#include "node/node.h"

static const char usage[] = "Usage: kawan tail [--json]\n"
                            "\n"
                            "Follows new indicators as the running node receives them (and\n"
                            "those this node publishes), like tail -F: it goes on following\n"
                            "when the node restarts (what arrives meanwhile is not shown;\n"
                            "kawan query --since finds it).\n"
                            "Needs a running 'kawan run'. --json prints JSON Lines as "
                            "'kawan query --json' does.\n";

typedef struct tail_ctx {
    kw_cli_node *n;
    bool json;
    bool started;
    bool announce; /* say so once following again after the node restarted */
} tail_ctx;

static int print_one(void *ctx, const kw_result *r)
{
    tail_ctx *t = ctx;
    if (t->json) {
        kw_cli_json_print(kw_cli_result_json(t->n, r));
    } else {
        char id[48], tm[32], who[64];
        kw_indicator_id_format(id, r->ind->id);
        printf("%s  %-12s %-8s %-12s %s  %s%s\n", kw_cli_time(tm, (int64_t)r->recv_ms),
            kw_tlp_name(r->tlp), kw_obs_type_name(r->ind->type),
            kw_cli_node_label(t->n, r->origin, who), r->ind->value, id,
            r->ind->revoked ? "  REVOKED" : "");
    }
    fflush(stdout);
    return 0;
}

static int on_line(void *ctx, const char *line)
{
    tail_ctx *t = ctx;
    uint8_t uuid[16];
    if (!t->started) {
        t->started = strcmp(line, "ok") == 0;
        if (t->started && t->announce) {
            /* (What arrived in between is not shown: kawan query --since finds it.) */
            kw_cli_warn("the node is back; following again");
            t->announce = false;
        }
        return t->started ? 0 : 1;
    }
    if (kw_indicator_id_parse(line, uuid) != KW_ERR_OK) {
        return 0;
    }
    kw_query q = { .id = uuid, .tlp = -1, .all = true };
    kw_store_query(t->n->store, &q, print_one, t, NULL);
    return 0;
}

int tail_main(int argc, char **argv)
{
    enum { OPT_JSON = KW_OPT_LOCAL };
    static const struct option opts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        KW_CLI_COMMON_OPTS,
    };
    tail_ctx t = { 0 };
    kw_cli_node n;
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        if (c == OPT_JSON) {
            t.json = true;
        } else {
            return c == KW_CLI_OPT_HELP ? KW_CLI_OK : KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) != 0) {
        kw_cli_node_close(&n);
        return ret;
    }
    t.n = &n;
    kw_err rc = kw_control_request(n.dir, "tail", on_line, &t);
    if (rc == KW_ERR_NOTFOUND || (rc == KW_ERR_OK && !t.started)) {
        ret = kw_cli_error("no running node for %s (start it with kawan run)", n.dir);
    } else if (rc != KW_ERR_OK) {
        ret = kw_cli_error("control socket: %s", kw_strerror(rc));
    } else {
        /* Like tail -F: the node restarting (an upgrade, a reboot) does not end the watch. */
        kw_cli_warn("the node stopped; following again when it is back (Ctrl-C ends)");
        for (;;) {
            struct timespec pause = { 0, 200000000L };
            nanosleep(&pause, NULL);
            t.started = false;
            t.announce = true;
            rc = kw_control_request(n.dir, "tail", on_line, &t);
            if (rc == KW_ERR_OK && t.started) {
                kw_cli_warn("the node stopped; following again when it is back (Ctrl-C ends)");
            }
        }
    }
    kw_cli_node_close(&n);
    return ret;
}
