/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/timefmt.h"
#include "crypto/id.h"

static const char usage[]
    = "Usage: kawan peer add NAME NODE-ID [HOST:PORT]\n"
      "       kawan peer list [--json]\n"
      "       kawan peer remove NAME\n"
      "\n"
      "The roster: the member nodes this node trusts. Only members may connect, and only\n"
      "entries that members published are accepted.\n"
      "\n"
      "  add       add a member: its name (1-63 of A-Z a-z 0-9 . _ -), its node id (kw1...\n"
      "            or 64 hex digits, as kawan id prints it) and its address (host:port,\n"
      "            [ipv6]:port); without an address this node never dials it (a member\n"
      "            that dials in, or one reached only through .kwx files)\n"
      "  list      list the members; --json prints one JSON object per line\n"
      "  remove    remove a member (by name or node id)\n";

/* host:port, [v6]:port; the host is a name or an address, without spaces. */
static int check_address(const char *s)
{
    const char *colon = strrchr(s, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - s) : 0;
    unsigned long port = 0;
    char bad[80];
    const char *p;

    if (colon == NULL || hlen == 0 || strlen(s) >= sizeof(((kw_peer *)0)->address)) {
        goto bad;
    }
    if (s[0] == '[') {
        if (hlen < 3 || s[hlen - 1] != ']'
            || strspn(s + 1, "0123456789abcdefABCDEF:.") != hlen - 2) {
            goto bad;
        }
    } else if (memchr(s, ':', hlen) != NULL
        || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != hlen) {
        goto bad;
    }
    for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++) {
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (*p != '\0' || p == colon + 1 || port == 0 || port > 65535) {
        goto bad;
    }
    return 0;
bad:
    return kw_cli_usage_error("'%s' is not an address (HOST:PORT, e.g. 192.0.2.7:7400 or "
                              "[2001:db8::7]:7400)",
        kw_cli_printable(bad, sizeof(bad), s, strlen(s), 64));
}

static int add_main(int argc, char **argv)
{
    kw_cli_node n;
    kw_peer p, other;
    char text[KW_ID_TEXT_LEN];
    kw_err rc;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 2, 3, "NAME NODE-ID", &ret)) {
        return ret;
    }
    memset(&p, 0, sizeof(p));
    if ((ret = kw_cli_check_name("peer name", argv[optind])) != 0
        || (ret = kw_cli_parse_node_id(argv[optind + 1], p.id)) != 0
        || (optind + 2 < argc && (ret = check_address(argv[optind + 2])) != 0)) {
        return ret;
    }
    snprintf(p.name, sizeof(p.name), "%s", argv[optind]);
    snprintf(p.address, sizeof(p.address), "%s", optind + 2 < argc ? argv[optind + 2] : "");
    p.added_ms = kw_time_now_ms();
    if ((ret = kw_cli_node_open(&n, KW_CLI_WRITE)) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    kw_id_encode(text, p.id);
    if (memcmp(p.id, n.self, 32) == 0) {
        kw_cli_error("%s is this node's own id; nothing changed", text);
        goto out;
    }
    if (kw_store_peer_find(n.store, p.name, &other) == KW_ERR_OK) {
        kw_cli_error("a peer named '%s' is already in the roster; nothing changed", p.name);
        goto out;
    }
    if (kw_store_peer_by_id(n.store, p.id, &other) == KW_ERR_OK) {
        kw_cli_error("node %s is already in the roster as '%s'; nothing changed", text, other.name);
        goto out;
    }
    if ((rc = kw_store_peer_add(n.store, &p)) != KW_ERR_OK) {
        kw_cli_error("cannot add peer '%s': %s", p.name, kw_strerror(rc));
        goto out;
    }
    printf("added %s %s %s\n", p.name, text, p.address[0] != '\0' ? p.address : "(no address)");
    ret = KW_CLI_OK;
out:
    kw_cli_node_close(&n);
    return ret;
}

static int list_main(int argc, char **argv)
{
    static const char *const header[] = { "NAME", "NODE ID", "ADDRESS", "ADDED" };
    kw_peer *peers = NULL;
    size_t count = 0;
    bool json = false;
    kw_cli_node n;
    kw_cli_table t;
    kw_err rc;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, &json, 0, 0, "", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) != 0) {
        goto out;
    }
    if ((rc = kw_store_peer_list(n.store, &peers, &count)) != KW_ERR_OK) {
        ret = kw_cli_error("cannot read the roster in %s: %s", n.dir, kw_strerror(rc));
        goto out;
    }
    kw_cli_table_init(&t, 4, json ? NULL : header);
    for (size_t i = 0; i < count && ret == 0; i++) {
        char text[KW_ID_TEXT_LEN], added[32];
        kw_id_encode(text, peers[i].id);
        kw_cli_time(added, peers[i].added_ms);
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "name", kw_cli_json_str(peers[i].name));
            json_object_set_new(o, "node_id", json_string(text));
            json_object_set_new(o, "address", kw_cli_json_str(peers[i].address));
            json_object_set_new(o, "added", kw_cli_json_time(peers[i].added_ms));
            ret = kw_cli_json_print(o);
        } else {
            const char *cells[4] = { peers[i].name, text, peers[i].address, added };
            ret = kw_cli_table_add(&t, cells);
        }
    }
    kw_cli_table_finish(&t);
    if (ret == 0 && count == 0 && !json) {
        kw_cli_warn("no peers in the roster (kawan peer add NAME NODE-ID [HOST:PORT])");
    }
out:
    free(peers);
    kw_cli_node_close(&n);
    return ret;
}

static int remove_main(int argc, char **argv)
{
    kw_cli_node n;
    kw_peer p;
    char text[KW_ID_TEXT_LEN], bad[80];
    kw_err rc;
    int ret;

    if (!kw_cli_simple_args(argc, argv, usage, NULL, 1, 1, "NAME", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_WRITE)) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    if (kw_store_peer_find(n.store, argv[optind], &p) != KW_ERR_OK) {
        kw_cli_error("no peer '%s' in the roster (see kawan peer list)",
            kw_cli_printable(bad, sizeof(bad), argv[optind], strlen(argv[optind]), 64));
        goto out;
    }
    if ((rc = kw_store_peer_remove(n.store, p.name)) != KW_ERR_OK) {
        kw_cli_error("cannot remove peer '%s': %s", p.name, kw_strerror(rc));
        goto out;
    }
    kw_id_encode(text, p.id);
    printf("removed %s %s\n", p.name, text);
    ret = KW_CLI_OK;
out:
    kw_cli_node_close(&n);
    return ret;
}

int peer_main(int argc, char **argv)
{
    static const kw_cli_command sub[] = {
        { "add", add_main, "add a roster member" },
        { "list", list_main, "list the roster" },
        { "remove", remove_main, "remove a roster member" },
        { NULL, NULL, NULL },
    };

    return kw_cli_dispatch(argc, argv, sub, usage, "peer");
}
