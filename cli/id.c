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
    kw_cli_node n;
    char text[KW_ID_TEXT_LEN];
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 0, 0, "", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) == 0) {
        kw_id_encode(text, n.self);
        printf("%s\n", text);
    }
    kw_cli_node_close(&n);
    return ret;
}
