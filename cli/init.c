/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/id.h"

static const char usage[]
    = "Usage: kawan init --name NAME [--passphrase]\n"
      "\n"
      "Creates a node in the data directory: the directory itself (mode 0700), the identity\n"
      "key identity.key (mode 0600) and the store. Prints the new node id. Refuses to touch a\n"
      "directory that already holds a node.\n"
      "\n"
      "  --name NAME      this node's name, e.g. CERT-XX (1-63 of A-Z a-z 0-9 . _ -)\n"
      "  --passphrase     protect the identity key with a passphrase (asked twice on the\n"
      "                   terminal, or read from --passphrase-fd N)\n";

/* Creates dir and any missing parents (mode 0700). *created says whether dir itself was
 * made here, so a failed init can take it away again. */
static int make_dir(const char *dir, bool *created)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(dir);

    *created = false;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return kw_cli_error("%s exists and is not a directory", dir);
        }
        return 0;
    }
    if (len >= sizeof(path)) {
        return kw_cli_error(
            "the data directory path is %zu bytes long; at most %zu", len, sizeof(path) - 1);
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            return kw_cli_error("cannot create %s: %s", path, strerror(errno));
        }
        path[i] = dir[i];
    }
    *created = true;
    return 0;
}

int init_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "name", required_argument, NULL, 'n' },
        { "passphrase", no_argument, NULL, 'p' },
        KW_CLI_COMMON_OPTS,
    };
    const char *name = NULL;
    bool want_pass = false, created = false, key_written = false;
    char key_path[PATH_MAX];
    char text[KW_ID_TEXT_LEN];
    char *pass = NULL;
    kw_identity *id = NULL;
    const char *dir;
    kw_err rc;
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 'p':
            want_pass = true;
            break;
        case KW_CLI_OPT_HELP:
            return KW_CLI_OK;
        default:
            return KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    if (name == NULL) {
        return kw_cli_usage_error("init: --name NAME is required (see kawan init --help)");
    }
    if ((ret = kw_cli_check_name("node name", name)) != 0) {
        return ret;
    }
    if ((ret = kw_cli_path(key_path, sizeof(key_path), KW_CLI_KEY_FILE)) != 0) {
        return ret;
    }
    dir = kw_cli_dir();
    ret = KW_CLI_FAIL;
    if (access(key_path, F_OK) == 0) {
        return kw_cli_error("a node already exists in %s (kawan id prints its id); nothing "
                            "changed",
            dir);
    }
    if (want_pass
        && kw_cli_passphrase_read(&pass, "New passphrase for the identity key: ", true) != 0) {
        goto out;
    }
    if (make_dir(dir, &created) != 0) {
        goto out;
    }
    if ((rc = kw_identity_generate(&id)) != KW_ERR_OK) {
        kw_cli_error("cannot generate the identity key: %s", kw_strerror(rc));
        goto out;
    }
    if ((rc = kw_identity_save(id, key_path, pass, false)) != KW_ERR_OK) {
        if (rc == KW_ERR_EXISTS) {
            kw_cli_error("a node already exists in %s; nothing changed", dir);
        } else {
            kw_cli_error("cannot write %s: %s", key_path, kw_strerror(rc));
        }
        goto out;
    }
    key_written = true;
    if ((rc = kw_store_create(dir, kw_identity_pk(id), name)) != KW_ERR_OK) {
        if (rc == KW_ERR_EXISTS) {
            kw_cli_error(
                "a store already exists in %s (but no identity key); nothing changed", dir);
        } else {
            kw_cli_error("cannot create the store in %s: %s", dir, kw_strerror(rc));
        }
        goto out;
    }
    if (!created && chmod(dir, 0700) != 0) {
        kw_cli_warn("cannot make %s private (mode 0700): %s", dir, strerror(errno));
    }
    kw_id_encode(text, kw_identity_pk(id));
    printf("%s\n", text);
    ret = KW_CLI_OK;
out:
    if (ret != KW_CLI_OK) {
        /* Leave the directory as it was found. */
        if (key_written) {
            unlink(key_path);
        }
        if (created) {
            rmdir(dir);
        }
    }
    kw_identity_free(id);
    kw_cli_passphrase_free(pass);
    return ret;
}
