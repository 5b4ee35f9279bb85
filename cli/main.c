/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto/log.h"

/* The command table: each command is run by its <name>_main. */
const kw_cli_command kw_cli_commands[] = {
    { "init", init_main, "create a node: identity key and store, print its id" },
    { "id", id_main, "print this node's id" },
    { "publish", publish_main, "publish indicators from arguments, a file or stdin" },
    { "query", query_main, "search the indicators in the store" },
    { "show", show_main, "show one indicator in full" },
    { "revoke", revoke_main, "revoke an indicator this node published" },
    { "remark", remark_main, "publish a new version of an indicator under another TLP" },
    { "verify", verify_main, "re-check every stored entry and the indexes" },
    { "status", status_main, "node, store and feed summary" },
    { "community", community_main, "create, show or set the community key" },
    { "peer", peer_main, "add, list or remove roster members" },
    { "key", key_main, "protect the identity key with a passphrase, or remove it" },
    { "run", run_main, "run the node: connect to members and replicate feeds" },
    { "tail", tail_main, "follow new indicators as the running node receives or publishes them" },
    { "export", export_main, "write feeds to a .kwx file (air gap) or indicators to STIX 2.1" },
    { "import", import_main, "read a .kwx file, or STIX 2.1 or MISP indicators" },
    { "help", help_main, "show help for kawan or for one command" },
    { NULL, NULL, NULL },
};

static char g_usage[4096];

static const char *usage(void)
{
    size_t o;

    if (g_usage[0] != '\0') {
        return g_usage;
    }
    o = (size_t)snprintf(g_usage, sizeof(g_usage),
        "Usage: kawan [--dir DIR] COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "kawan shares threat indicators between the members of a CERT community: signed,\n"
        "hash-chained feeds replicated between nodes, with TLP enforced by encryption.\n"
        "\n"
        "Commands:\n");
    for (const kw_cli_command *c = kw_cli_commands; c->name != NULL && o < sizeof(g_usage); c++) {
        o += (size_t)snprintf(g_usage + o, sizeof(g_usage) - o, "  %-10s %s\n", c->name, c->help);
    }
    if (o < sizeof(g_usage)) {
        snprintf(g_usage + o, sizeof(g_usage) - o,
            "\n"
            "Options for every command:\n"
            "  --dir DIR            data directory (default $KAWAN_DIR, else "
            "~/.local/share/kawan)\n"
            "  --passphrase-fd N    read the key passphrase from descriptor N, not the "
            "terminal\n"
            "  --help               help for the command\n"
            "\n"
            "Run 'kawan help COMMAND' for the options of a command.\n");
    }
    return g_usage;
}

int help_main(int argc, char **argv)
{
    char *sub[4];
    int n = 0;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage(), stdout);
        return KW_CLI_OK;
    }
    if (argc > 3) {
        return kw_cli_usage_error("help: too many arguments (kawan help [COMMAND [SUBCOMMAND]])");
    }
    for (const kw_cli_command *c = kw_cli_commands; c->name != NULL; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            sub[n++] = argv[1];
            if (argc == 3) {
                sub[n++] = argv[2];
            }
            sub[n++] = (char *)"--help";
            sub[n] = NULL;
            optind = 0;
            return c->fn(n, sub);
        }
    }
    {
        char bad[64];
        return kw_cli_usage_error("help: unknown command '%s' (see kawan help)",
            kw_cli_printable(bad, sizeof(bad), argv[1], strlen(argv[1]), 40));
    }
}

/*
 * Started with descriptor 0, 1 or 2 closed (by a supervisor or a script), the next files
 * opened would take those numbers, and the store's files would receive what is written to
 * stdout or stderr. Each one closed is opened on /dev/null first.
 */
static int std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) {
            continue;
        }
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd != fd) {
            /* Cannot say so on stderr, which may be the one missing. */
            if (nfd >= 0) {
                close(nfd);
            }
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct rlimit no_core = { 0, 0 };
    int ret;

    /* The CLI holds the identity key in memory: never leave it in a core file. */
    setrlimit(RLIMIT_CORE, &no_core);
    if (std_fds_open() != 0) {
        return KW_CLI_FAIL;
    }
    if (sodium_init() < 0) {
        fputs("kawan: cannot initialise libsodium\n", stderr);
        return KW_CLI_FAIL;
    }
    /* Commands report failures themselves, in one line; the store's logs are for the
     * daemon. KAWAN_LOG still turns them on. */
    if (getenv("KAWAN_LOG") == NULL) {
        kw_log_set_level(KW_LOG_OFF);
    }
    ret = kw_cli_dispatch(argc, argv, kw_cli_commands, usage(), NULL);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        kw_cli_warn("cannot write the output: %s", strerror(errno));
        if (ret == KW_CLI_OK) {
            ret = KW_CLI_FAIL;
        }
    }
    return ret;
}
