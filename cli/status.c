/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/id.h"
#include "node/node.h"

static const char usage[]
    = "Usage: kawan status [--json]\n"
      "\n"
      "Shows this node (id, name, data directory), the store (current indicators, entries,\n"
      "size), each feed held (origin and highest seq), detected forks and the roster size.\n"
      "\n"
      "  --json    one JSON object: node_id, name, dir, indicators, versions, entries,\n"
      "            withheld, sealed_unread, unreadable (payloads ours to read that do\n"
      "            not decode), queued (entries stored but not indexed yet: the daemon\n"
      "            indexes them), feeds (node id -> highest seq), feed_names\n"
      "            (node id -> name), forks, forked (node ids), store_bytes, roster,\n"
      "            daemon (whether kawan run is up), listen, and peers: name, node_id,\n"
      "            address, connected, since, last_error, lag (entries the peer is known\n"
      "            to lack, per origin) and lag_total\n";

/* The running daemon's answer to "status" (NULL when no daemon runs). */
static int take_line(void *ctx, const char *line)
{
    json_t **out = ctx;
    *out = json_loads(line, 0, NULL);
    return 1;
}

static json_t *daemon_status(const char *dir)
{
    json_t *o = NULL;
    if (kw_control_request(dir, "status", take_line, &o) != KW_ERR_OK) {
        return NULL;
    }
    return o;
}

/* Without a daemon, the roster with every peer disconnected. */
static json_t *offline_peers(const kw_peer *peers, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "name", kw_cli_json_str(peers[i].name));
        json_object_set_new(p, "node_id", kw_cli_json_node_id(peers[i].id));
        json_object_set_new(p, "address", kw_cli_json_str(peers[i].address));
        json_object_set_new(p, "connected", json_false());
        json_object_set_new(p, "since", json_null());
        json_object_set_new(p, "last_error", json_null());
        json_object_set_new(p, "lag", json_null());
        json_object_set_new(p, "lag_total", json_null());
        json_array_append_new(a, p);
    }
    return a;
}

static void human_size(char *buf, size_t cap, uint64_t bytes)
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) {
        snprintf(buf, cap, "%llu bytes", (unsigned long long)bytes);
    } else {
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    }
}

static int print_json(kw_cli_node *n, const kw_store_stats *st, const kw_head *heads,
    size_t n_heads, size_t roster, json_t *daemon, json_t *peers)
{
    json_t *o = json_object();
    json_t *feeds = json_object();
    json_t *names = json_object();
    json_t *forked = json_array();
    char text[KW_ID_TEXT_LEN];

    json_object_set_new(o, "node_id", kw_cli_json_node_id(n->self));
    json_object_set_new(o, "name", kw_cli_json_str(n->name));
    json_object_set_new(o, "dir", kw_cli_json_str(n->dir));
    json_object_set_new(o, "indicators", json_integer((json_int_t)st->indicators));
    json_object_set_new(o, "versions", json_integer((json_int_t)st->versions));
    json_object_set_new(o, "entries", json_integer((json_int_t)st->entries));
    json_object_set_new(o, "withheld", json_integer((json_int_t)st->withheld));
    json_object_set_new(o, "sealed_unread", json_integer((json_int_t)st->sealed_unread));
    json_object_set_new(o, "unreadable", json_integer((json_int_t)st->unreadable));
    json_object_set_new(o, "queued", json_integer((json_int_t)st->queued));
    for (size_t i = 0; i < n_heads; i++) {
        const char *name = kw_cli_name_of(n, heads[i].origin);
        kw_id_encode(text, heads[i].origin);
        json_object_set_new(feeds, text, json_integer((json_int_t)heads[i].seq));
        if (name != NULL) {
            json_object_set_new(names, text, kw_cli_json_str(name));
        }
        if (heads[i].forked) {
            json_array_append_new(forked, json_string(text));
        }
    }
    json_object_set_new(o, "feeds", feeds);
    json_object_set_new(o, "feed_names", names);
    json_object_set_new(o, "forks", json_integer((json_int_t)st->forks));
    json_object_set_new(o, "forked", forked);
    json_object_set_new(o, "store_bytes", json_integer((json_int_t)st->store_bytes));
    json_object_set_new(o, "roster", json_integer((json_int_t)roster));
    json_object_set_new(o, "daemon", json_boolean(daemon != NULL));
    json_object_set(o, "listen", daemon ? json_object_get(daemon, "listen") : json_null());
    json_object_set(o, "store_error", daemon ? json_object_get(daemon, "store_error") : json_null());
    json_object_set(o, "peers", peers);
    return kw_cli_json_print(o);
}

static void print_peers(json_t *daemon, json_t *peers)
{
    static const char *const header[] = { "  PEER", "ADDRESS", "STATE", "LAG", "LAST ERROR" };
    kw_cli_table t;
    size_t i;
    json_t *p;

    if (daemon == NULL) {
        printf("daemon       not running (start it with kawan run)\n");
    } else {
        json_t *se = json_object_get(daemon, "store_error");
        printf("daemon       running, listening on %s\n",
            json_string_value(json_object_get(daemon, "listen")));
        if (json_is_object(se)) {
            printf("STORE ERROR  %s (since %s): replication is stalled\n",
                json_string_value(json_object_get(se, "message")),
                json_string_value(json_object_get(se, "at")));
        }
    }
    kw_cli_table_init(&t, 5, header);
    json_array_foreach(peers, i, p)
    {
        char name[80], state[64], lag[24];
        const char *since = json_string_value(json_object_get(p, "since"));
        const char *err = json_string_value(json_object_get(p, "last_error"));
        json_t *lt = json_object_get(p, "lag_total");
        const char *cells[5];
        snprintf(name, sizeof(name), "  %s", json_string_value(json_object_get(p, "name")));
        json_t *owed = json_object_get(p, "red_owed");
        if (json_is_true(json_object_get(p, "connected"))) {
            snprintf(state, sizeof(state), "connected since %s", since ? since : "?");
        } else {
            snprintf(state, sizeof(state), "disconnected");
        }
        if (json_is_integer(owed) && json_integer_value(owed) > 0) {
            size_t l = strlen(state);
            snprintf(state + l, sizeof(state) - l, ", %lld RED owed",
                (long long)json_integer_value(owed));
        }
        snprintf(lag, sizeof(lag), "%s", json_is_integer(lt) ? "" : "-");
        if (json_is_integer(lt)) {
            snprintf(lag, sizeof(lag), "%lld", (long long)json_integer_value(lt));
        }
        cells[0] = name;
        cells[1] = json_string_value(json_object_get(p, "address"));
        cells[2] = state;
        cells[3] = lag;
        cells[4] = err ? err : "";
        kw_cli_table_add(&t, cells);
    }
    kw_cli_table_finish(&t);
}

static void print_text(kw_cli_node *n, const kw_store_stats *st, const kw_head *heads,
    size_t n_heads, size_t roster)
{
    static const char *const header[] = { "  FEED", "NODE ID", "SEQ", "" };
    char text[KW_ID_TEXT_LEN], size[32];
    kw_cli_table t;

    kw_id_encode(text, n->self);
    human_size(size, sizeof(size), st->store_bytes);
    printf("node id      %s\n", text);
    printf("name         %s\n", n->name);
    printf("directory    %s\n", n->dir);
    printf("indicators   %llu current (%llu versions)\n", (unsigned long long)st->indicators,
        (unsigned long long)st->versions);
    printf("entries      %llu (%llu withheld, %llu sealed and unreadable here",
        (unsigned long long)st->entries, (unsigned long long)st->withheld,
        (unsigned long long)st->sealed_unread);
    if (st->unreadable > 0) {
        printf(", %llu not decodable", (unsigned long long)st->unreadable);
    }
    if (st->queued > 0) {
        printf(", %llu waiting for the index", (unsigned long long)st->queued);
    }
    printf(")\n");
    printf("store        %s\n", size);
    printf("roster       %zu member%s\n", roster, roster == 1 ? "" : "s");
    printf("forks        %llu\n", (unsigned long long)st->forks);
    printf("feeds        %zu\n", n_heads);
    kw_cli_table_init(&t, 4, header);
    for (size_t i = 0; i < n_heads; i++) {
        char label[64], name[72], seq[24], frozen[48];
        const char *cells[4];
        snprintf(name, sizeof(name), "  %s", kw_cli_node_label(n, heads[i].origin, label));
        kw_id_encode(text, heads[i].origin);
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)heads[i].seq);
        cells[0] = name;
        cells[1] = text;
        cells[2] = seq;
        snprintf(frozen, sizeof(frozen), "FORKED: frozen from seq %llu",
            (unsigned long long)heads[i].fork_seq);
        cells[3] = heads[i].forked ? frozen : "";
        kw_cli_table_add(&t, cells);
    }
    kw_cli_table_finish(&t);
}

int status_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        KW_CLI_COMMON_OPTS,
    };
    kw_store_stats st;
    kw_head *heads = NULL;
    kw_peer *peers = NULL;
    size_t n_heads = 0, n_peers = 0;
    json_t *daemon = NULL, *peers_json = NULL;
    bool json = false;
    kw_cli_node n;
    kw_err rc;
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case KW_CLI_OPT_HELP: return KW_CLI_OK;
        default: return KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) != 0) {
        goto out;
    }
    memset(&st, 0, sizeof(st));
    if ((rc = kw_store_stats_get(n.store, &st)) != KW_ERR_OK
        || (rc = kw_store_heads(n.store, &heads, &n_heads)) != KW_ERR_OK
        || (rc = kw_store_peer_list(n.store, &peers, &n_peers)) != KW_ERR_OK) {
        ret = kw_cli_error("cannot read the store in %s: %s", n.dir, kw_strerror(rc));
        goto out;
    }
    daemon = daemon_status(n.dir);
    peers_json = daemon ? json_incref(json_object_get(daemon, "peers")) : NULL;
    if (!json_is_array(peers_json)) {
        json_decref(peers_json);
        peers_json = offline_peers(peers, n_peers);
    }
    if (json) {
        ret = print_json(&n, &st, heads, n_heads, n_peers, daemon, peers_json);
    } else {
        print_text(&n, &st, heads, n_heads, n_peers);
        print_peers(daemon, peers_json);
        ret = KW_CLI_OK;
    }
out:
    json_decref(daemon);
    json_decref(peers_json);
    free(heads);
    free(peers);
    kw_cli_node_close(&n);
    return ret;
}
