/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[]
    = "Usage: kawan key protect\n"
      "       kawan key unprotect\n"
      "\n"
      "Protects the identity key (DIR/identity.key) with a passphrase (Argon2id and\n"
      "XChaCha20-Poly1305), or removes the protection. The passphrase is read from the\n"
      "terminal without echo (a new one twice), or from --passphrase-fd N. A wrong\n"
      "passphrase changes nothing. Every command that signs then asks for it.\n";

/* Rewrites the key file with or without a passphrase. */
static int run(int argc, char **argv, bool protect)
{
    kw_cli_node n;
    char *pass = NULL;
    bool sealed = false;
    kw_err rc;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 0, 0, "", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_NODE_ONLY)) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    if (kw_identity_file_sealed(n.key_path, &sealed) != KW_ERR_OK) {
        kw_cli_error("%s is damaged or not a kawan key file", n.key_path);
        goto out;
    }
    if (sealed == protect) {
        kw_cli_error("%s is %s protected by a passphrase; nothing changed", n.key_path,
            protect ? "already" : "not");
        goto out;
    }
    /* Unprotecting asks for the current passphrase here; protecting needs none to load. */
    if (kw_cli_identity_load(&n) != 0) {
        goto out;
    }
    if (protect
        && kw_cli_passphrase_read(&pass, "New passphrase for the identity key: ", true) != 0) {
        goto out;
    }
    if ((rc = kw_identity_save(n.id, n.key_path, pass, true)) != KW_ERR_OK) {
        kw_cli_error("cannot rewrite %s: %s", n.key_path, kw_strerror(rc));
        goto out;
    }
    printf("%s %s\n", n.key_path,
        protect ? "is now protected by a passphrase" : "is no longer protected by a passphrase");
    ret = KW_CLI_OK;
out:
    kw_cli_passphrase_free(pass);
    kw_cli_node_close(&n);
    return ret;
}

static int protect_main(int argc, char **argv)
{
    return run(argc, argv, true);
}

static int unprotect_main(int argc, char **argv)
{
    return run(argc, argv, false);
}

int key_main(int argc, char **argv)
{
    static const kw_cli_command sub[] = {
        { "protect", protect_main, "protect the identity key with a passphrase" },
        { "unprotect", unprotect_main, "remove the passphrase from the identity key" },
        { NULL, NULL, NULL },
    };

    return kw_cli_dispatch(argc, argv, sub, usage, "key");
}
