/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>

#include "crypto/id.h"

static const char usage[] = "Usage: kawan id\n"
                            "\n"
                            "Prints this node's id (kw1...), the public key members put in their "
                            "roster.\n";

int id_main(int argc, char **argv)
{
    static const struct option opts[] = { KW_CLI_COMMON_OPTS };
    kw_cli_node n;
    char text[KW_ID_TEXT_LEN];
    int c, ret;

    if ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        return c == KW_CLI_OPT_HELP ? KW_CLI_OK : KW_CLI_USAGE;
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) == 0) {
        kw_id_encode(text, n.self);
        printf("%s\n", text);
    }
    kw_cli_node_close(&n);
    return ret;
}
