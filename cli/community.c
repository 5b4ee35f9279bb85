/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/id.h"

static const char usage[]
    = "Usage: kawan community create [--force]\n"
      "       kawan community show\n"
      "       kawan community set KEY\n"
      "\n"
      "The community key is 32 random bytes every member holds (DIR/community.key, mode\n"
      "0600): without it no connection to another member completes. One member creates it\n"
      "and gives it to the others out of band; they adopt it with set.\n"
      "\n"
      "  create     generate a new key and print it (alone, one line); --force replaces an\n"
      "             existing key\n"
      "  show       print the key in the same form\n"
      "  set KEY    adopt a key (kwc1... or 64 hex digits; '-' reads it from standard\n"
      "             input, which keeps it out of the process list)\n";

static int key_path(char *path, size_t cap)
{
    kw_cli_node n;
    int ret = kw_cli_node_open(&n, KW_CLI_NODE_ONLY);

    kw_cli_node_close(&n);
    return ret != 0 ? ret : kw_cli_path(path, cap, KW_CLI_COMMUNITY_FILE);
}

/* Prints the key as kw_community_encode gives it; the text is a secret too. */
static int print_key(const uint8_t *key)
{
    char *text = sodium_malloc(KW_COMMUNITY_TEXT_LEN);

    if (text == NULL) {
        return kw_cli_error("out of memory");
    }
    kw_community_encode(text, key);
    printf("%s\n", text);
    sodium_memzero(text, KW_COMMUNITY_TEXT_LEN);
    sodium_free(text);
    return 0;
}

static int write_key(const char *path, const uint8_t *key, bool overwrite)
{
    kw_err rc = kw_secret_file_write(path, key, 32, overwrite);

    if (rc == KW_ERR_EXISTS) {
        return kw_cli_error("%s already exists (use --force to replace it); nothing changed", path);
    }
    if (rc != KW_ERR_OK) {
        return kw_cli_error("cannot write %s: %s", path, kw_strerror(rc));
    }
    return 0;
}

static int create_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "force", no_argument, NULL, 'f' },
        KW_CLI_COMMON_OPTS,
    };
    char path[PATH_MAX];
    uint8_t *key = NULL;
    bool force = false;
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case KW_CLI_OPT_HELP:
            return KW_CLI_OK;
        default:
            return KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0
        || (ret = key_path(path, sizeof(path))) != 0) {
        return ret;
    }
    if (!force && access(path, F_OK) == 0) {
        return kw_cli_error("%s already exists (use --force to replace it); nothing changed", path);
    }
    if ((key = sodium_malloc(32)) == NULL) {
        return kw_cli_error("out of memory");
    }
    randombytes_buf(key, 32);
    if ((ret = write_key(path, key, force)) == 0) {
        ret = print_key(key);
    }
    sodium_memzero(key, 32);
    sodium_free(key);
    return ret;
}

static int show_key_main(int argc, char **argv)
{
    char path[PATH_MAX];
    uint8_t *key = NULL;
    size_t len = 0;
    kw_err rc;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 0, 0, "", &ret)
        || (ret = key_path(path, sizeof(path))) != 0) {
        return ret;
    }
    if ((key = sodium_malloc(33)) == NULL) {
        return kw_cli_error("out of memory");
    }
    rc = kw_secret_file_read(path, key, 33, &len);
    if (rc == KW_ERR_NOTFOUND) {
        ret = kw_cli_error("no community key in %s (run kawan community create, or kawan "
                           "community set KEY with the key a member gave you)",
            kw_cli_dir());
    } else if (rc == KW_ERR_PERM) {
        ret = kw_cli_error("%s: permission denied, or readable by others than its owner (it "
                           "must be mode 0600)",
            path);
    } else if (rc != KW_ERR_OK || len != 32) {
        ret = kw_cli_error("%s is damaged (a community key file holds exactly 32 bytes)", path);
    } else {
        ret = print_key(key);
    }
    sodium_memzero(key, 33);
    sodium_free(key);
    return ret;
}

static int set_main(int argc, char **argv)
{
    char path[PATH_MAX];
    char *line = NULL;
    const char *text;
    uint8_t *key = NULL;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 1, 1, "KEY", &ret)
        || (ret = key_path(path, sizeof(path))) != 0) {
        return ret;
    }
    text = argv[optind];
    if (strcmp(text, "-") == 0) {
        if ((ret = kw_cli_secret_line(STDIN_FILENO, "the community key", &line)) != 0) {
            return ret;
        }
        text = line;
    }
    if ((key = sodium_malloc(32)) == NULL) {
        ret = kw_cli_error("out of memory");
        goto out;
    }
    /* The rejected text is not echoed: it may be a real key with a typo. */
    if (kw_community_decode(key, text) != KW_ERR_OK) {
        ret = kw_cli_usage_error("community set: not a community key (kwc1 and 52 base32 "
                                 "characters, or 64 hex digits); nothing changed");
        goto out;
    }
    if ((ret = write_key(path, key, true)) == 0) {
        printf("community key saved in %s\n", path);
    }
out:
    if (key != NULL) {
        sodium_memzero(key, 32);
        sodium_free(key);
    }
    kw_cli_passphrase_free(line);
    return ret;
}

int community_main(int argc, char **argv)
{
    static const kw_cli_command sub[] = {
        { "create", create_main, "generate a new community key" },
        { "show", show_key_main, "print the community key" },
        { "set", set_main, "adopt a community key" },
        { NULL, NULL, NULL },
    };

    return kw_cli_dispatch(argc, argv, sub, usage, "community");
}
