/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/log.h"
#include "node/node.h"

static const char usage[]
    = "Usage: kawan run [--listen HOST:PORT] [--anti-entropy SECONDS] [--log LEVEL]\n"
      "\n"
      "Runs the node in the foreground: listens for members, dials every roster member,\n"
      "replicates feeds and serves the control socket for the CLI. Logs are logfmt lines on\n"
      "stderr. Stop it with Ctrl-C or SIGTERM.\n"
      "\n"
      "  --listen HOST:PORT      address to listen on (default: the one used last, else\n"
      "                          127.0.0.1:7400); kept for the next run\n"
      "  --anti-entropy SECONDS  seconds between version-vector checks with peers (default 30)\n"
      "  --log LEVEL             debug, info, warn or error (default info, or $KAWAN_LOG)\n";

int run_main(int argc, char **argv)
{
    enum { OPT_LISTEN = KW_OPT_LOCAL, OPT_AE, OPT_LOG };
    static const struct option opts[] = {
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "anti-entropy", required_argument, NULL, OPT_AE },
        { "log", required_argument, NULL, OPT_LOG },
        KW_CLI_COMMON_OPTS,
    };
    kw_node_opts o;
    kw_cli_node n;
    uint64_t ae = 30;
    int c, ret;

    memset(&o, 0, sizeof(o));
    /* The daemon logs its events (the CLI's other commands keep quiet). */
    if (getenv("KAWAN_LOG") == NULL) {
        kw_log_set_level(KW_LOG_INFO);
    }
    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case OPT_LISTEN: {
            char host[128];
            uint16_t port;
            if (kw_hostport_parse(optarg, host, sizeof(host), &port) != KW_ERR_OK) {
                return kw_cli_usage_error("--listen: '%s' is not HOST:PORT", optarg);
            }
            o.listen = optarg;
            break;
        }
        case OPT_AE:
            if ((ret = kw_cli_parse_u64("--anti-entropy", optarg, 1, 86400, &ae)) != 0) {
                return ret;
            }
            break;
        case OPT_LOG: {
            kw_log_level l;
            if (kw_log_parse_level(optarg, &l) != 0) {
                return kw_cli_usage_error("--log: '%s' is not debug, info, warn or error",
                    optarg);
            }
            kw_log_set_level(l);
            break;
        }
        default:
            return c == KW_CLI_OPT_HELP ? KW_CLI_OK : KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_NODE_ONLY | KW_CLI_IDENTITY)) != 0) {
        kw_cli_node_close(&n);
        return ret;
    }
    /* init makes the directory 0700; a wider mode set since is worth a word, not a refusal
     * (every file in it is 0600 still). */
    struct stat st;
    if (stat(n.dir, &st) == 0 && (st.st_mode & 077) != 0) {
        kw_log_warn("the data directory is open to other users; chmod 700 it",
            "dir=%s mode=%04o", n.dir, (unsigned)(st.st_mode & 07777));
    }
    o.dir = n.dir;
    o.anti_entropy_ms = (uint32_t)(ae * 1000);
    kw_err rc = kw_node_run(&o, n.id);
    switch (rc) {
    case KW_ERR_OK:
        ret = KW_CLI_OK;
        break;
    case KW_ERR_NOTFOUND:
    case KW_ERR_DECODE:
        ret = kw_cli_error("no usable community key in %s (run kawan community create, or "
                           "kawan community set KEY)",
            n.dir);
        break;
    case KW_ERR_EXISTS:
        ret = kw_cli_error("a daemon is already running for %s", n.dir);
        break;
    case KW_ERR_NET:
        ret = kw_cli_error("cannot listen on %s (address in use or not local?)",
            o.listen ? o.listen : "the configured address");
        break;
    default:
        ret = kw_cli_error("the node stopped: %s", kw_strerror(rc));
        break;
    }
    kw_cli_node_close(&n);
    return ret;
}
