/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's lifecycle: start-up, the roster, the tick that dials and keeps time, and a
 * clean shutdown on SIGINT/SIGTERM. */
#include "node/node_int.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "bundle/timefmt.h"
#include "crypto/id.h"
#include "crypto/log.h"

#define ROSTER_RELOAD_MS 2000
#define HEADS_POLL_MS 500

uint64_t kw__now_ms(kw_node *n)
{
    return uv_now(&n->loop);
}

kw_err kw_hostport_parse(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon;
    size_t hl;
    char *end;
    unsigned long p;

    if (s == NULL || *s == '\0') {
        return KW_ERR_INVAL;
    }
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            return KW_ERR_INVAL;
        }
        hl = (size_t)(close - s - 1);
        if (hl == 0 || hl >= host_cap) {
            return KW_ERR_INVAL;
        }
        memcpy(host, s + 1, hl);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL) {
            return KW_ERR_INVAL;
        }
        hl = (size_t)(colon - s);
        if (hl == 0 || hl >= host_cap) {
            return KW_ERR_INVAL;
        }
        memcpy(host, s, hl);
    }
    host[hl] = '\0';
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '-' || c == ':' || c == '_')) {
            return KW_ERR_INVAL;
        }
    }
    if (colon[1] < '0' || colon[1] > '9' || (colon[1] == '0' && colon[2] != '\0')) {
        return KW_ERR_INVAL;
    }
    p = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || p == 0 || p > 65535) {
        return KW_ERR_INVAL;
    }
    *port = (uint16_t)p;
    return KW_ERR_OK;
}

kw_peer_state *kw__peer_by_id(kw_node *n, const uint8_t id[static 32])
{
    for (size_t i = 0; i < n->n_peers; i++) {
        if (memcmp(n->peers[i]->info.id, id, 32) == 0) {
            return n->peers[i];
        }
    }
    return NULL;
}

kw_peer_state *kw__peer_by_xpk(kw_node *n, const uint8_t xpk[static 32])
{
    for (size_t i = 0; i < n->n_peers; i++) {
        if (n->peers[i]->in_roster && sodium_memcmp(n->peers[i]->xpk, xpk, 32) == 0) {
            return n->peers[i];
        }
    }
    return NULL;
}

uint64_t kw__head_seq(kw_node *n, const uint8_t origin[static 32])
{
    for (size_t i = 0; i < n->n_heads; i++) {
        if (memcmp(n->heads[i].origin, origin, 32) == 0) {
            return n->heads[i].seq;
        }
    }
    return 0;
}

void kw__heads_refresh(kw_node *n, kw_peer_state *from)
{
    kw_head *h = NULL;
    size_t k = 0;
    if (kw_store_heads(n->store, &h, &k) != KW_ERR_OK) {
        return;
    }
    kw_head *old = n->heads;
    size_t n_old = n->n_heads;
    n->heads = h;
    n->n_heads = k;
    for (size_t i = 0; i < k; i++) {
        uint64_t before = 0;
        for (size_t j = 0; j < n_old; j++) {
            if (memcmp(old[j].origin, h[i].origin, 32) == 0) {
                before = old[j].seq;
                break;
            }
        }
        if (h[i].seq > before) {
            kw__sync_new_entries(n, h[i].origin, h[i].seq, from);
            /* This node's own publishes (the CLI wrote them): `kawan tail` shows them as it
             * shows what arrives. A first look at the heads (at start) shows nothing. */
            if (memcmp(h[i].origin, n->self, 32) == 0 && n->heads_known) {
                for (uint64_t seq = before + 1; seq <= h[i].seq; seq++) {
                    kw__control_tail_entry(n, n->self, seq);
                }
            }
        }
        if (h[i].forked) {
            bool was = false;
            for (size_t j = 0; j < n_old; j++) {
                if (memcmp(old[j].origin, h[i].origin, 32) == 0) {
                    was = old[j].forked;
                }
            }
            if (!was) {
                char who[KW_ID_TEXT_LEN];
                kw_id_encode(who, h[i].origin);
                kw_log_error("FORK: feed frozen from the fork; see kawan status",
                    "origin=%s fork_seq=%llu head=%llu", who, (unsigned long long)h[i].fork_seq,
                    (unsigned long long)h[i].seq);
            }
        }
    }
    free(old);
    n->heads_known = true;
}

/* Reloads the roster from the store: new members are added, removed ones disconnected. */
static void roster_reload(kw_node *n)
{
    kw_peer *list = NULL;
    size_t k = 0;

    if (kw_store_peer_list(n->store, &list, &k) != KW_ERR_OK) {
        return;
    }
    for (size_t i = 0; i < n->n_peers; i++) {
        kw_peer_state *p = n->peers[i];
        bool still = false;
        for (size_t j = 0; j < k; j++) {
            if (memcmp(list[j].id, p->info.id, 32) == 0) {
                still = true;
                p->info = list[j]; /* the address may have changed */
            }
        }
        if (p->in_roster && !still) {
            kw_log_info("peer removed from roster", "peer=%s", p->info.name);
            p->in_roster = false;
            if (p->session) {
                kw__conn_close(p->session, "removed from roster", 0);
            }
            if (p->dialing) {
                kw__conn_close(p->dialing, "removed from roster", 0);
            }
        } else if (!p->in_roster && still) {
            p->in_roster = true;
        }
    }
    for (size_t j = 0; j < k; j++) {
        if (kw__peer_by_id(n, list[j].id) != NULL) {
            continue;
        }
        /* A peer, once known, stays (connections point to it; a removed member is only
         * marked out of the roster), so the table of pointers only grows. */
        kw_peer_state **grown = kw_grow(n->peers, &n->cap_peers, n->n_peers, sizeof(*grown), 16);
        if (grown == NULL) {
            kw_log_warn("out of memory for the roster; retrying", NULL);
            break;
        }
        n->peers = grown;
        kw_peer_state *p = calloc(1, sizeof(*p));
        if (p == NULL) {
            kw_log_warn("out of memory for the roster; retrying", NULL);
            break;
        }
        p->info = list[j];
        if (crypto_sign_ed25519_pk_to_curve25519(p->xpk, p->info.id) != 0) {
            free(p);
            continue;
        }
        p->in_roster = true;
        kw_backoff_init(&p->backoff, 500, 60000);
        n->peers[n->n_peers++] = p;
    }
    free(list);
}

static void dial_due(kw_node *n, uint64_t now)
{
    for (size_t i = 0; i < n->n_peers; i++) {
        kw_peer_state *p = n->peers[i];
        if (!p->in_roster || p->session != NULL || p->dialing != NULL || p->info.address[0] == '\0'
            || now < p->next_dial_ms) {
            continue;
        }
        /* Set the next attempt first: a failure reports back through the close path. */
        p->next_dial_ms = now + kw_backoff_next(&p->backoff, randombytes_random());
        kw__conn_dial(n, p);
    }
}

static void on_tick(uv_timer_t *t)
{
    kw_node *n = t->data;
    uint64_t now = kw__now_ms(n);

    if (n->stopping) {
        return;
    }
    if (now >= n->next_roster_ms) {
        n->next_roster_ms = now + ROSTER_RELOAD_MS;
        roster_reload(n);
    }
    if (now >= n->next_heads_ms) {
        /* Publishes and imports by other processes: the CLI also notifies us through the
         * control socket, this catches what it could not. */
        n->next_heads_ms = now + HEADS_POLL_MS;
        kw__heads_refresh(n, NULL);
    }
    dial_due(n, now);
    for (kw__conn *c = n->conns, *next; c != NULL; c = next) {
        next = c->next;
        kw__conn_tick(c, now);
    }
    kw__sync_tick(n, now);
    if (now >= n->next_anti_entropy_ms) {
        n->next_anti_entropy_ms = now + n->opts.anti_entropy_ms;
        kw__sync_anti_entropy(n);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    kw_node *n = server->data;
    if (status != 0 || n->stopping) {
        return;
    }
    kw__conn_accept(n);
}

static void stop(kw_node *n, const char *why)
{
    if (n->stopping) {
        return;
    }
    n->stopping = true;
    kw_log_info("stopping", "reason=%s", why);
    for (kw__conn *c = n->conns; c != NULL; c = c->next) {
        kw__conn_close(c, NULL, 0);
    }
    kw__control_close_all(n);
    kw__indexer_stop(n);
    kw__storer_stop(n);
    uv_close((uv_handle_t *)&n->listener, NULL);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    stop(s->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static kw_err load_psk(kw_node *n)
{
    char path[4200];
    uint8_t *raw = sodium_malloc(129);
    size_t len = 0;
    kw_err rc;

    if (raw == NULL || (n->psk = sodium_malloc(32)) == NULL) {
        sodium_free(raw);
        return KW_ERR_NOMEM;
    }
    snprintf(path, sizeof(path), "%s/%s", n->dir, KW_COMMUNITY_FILE);
    rc = kw_secret_file_read(path, raw, 128, &len);
    if (rc == KW_ERR_OK && len == 32) {
        memcpy(n->psk, raw, 32); /* the raw form `kawan community` writes */
    } else if (rc == KW_ERR_OK) {
        while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r' || raw[len - 1] == ' ')) {
            len--;
        }
        raw[len] = '\0';
        rc = kw_community_decode(n->psk, (const char *)raw) == KW_ERR_OK ? KW_ERR_OK
                                                                          : KW_ERR_DECODE;
    }
    sodium_free(raw);
    return rc;
}

static kw_err start_listening(kw_node *n)
{
    char host[128];
    uint16_t port;
    struct sockaddr_storage ss;
    int rc;

    if (kw_hostport_parse(n->listen_addr, host, sizeof(host), &port) != KW_ERR_OK) {
        kw_log_error("bad listen address", "listen=%s", n->listen_addr);
        return KW_ERR_INVAL;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0
        && uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        kw_log_error("listen address must be an IP address", "listen=%s", n->listen_addr);
        return KW_ERR_INVAL;
    }
    uv_tcp_init(&n->loop, &n->listener);
    n->listener.data = n;
    if ((rc = uv_tcp_bind(&n->listener, (struct sockaddr *)&ss, 0)) != 0
        || (rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection)) != 0) {
        kw_log_error("cannot listen", "listen=%s err=\"%s\"", n->listen_addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&n->listener, NULL);
        return KW_ERR_NET;
    }
    return KW_ERR_OK;
}

kw_err kw_node_run(const kw_node_opts *opts, const kw_identity *id)
{
    kw_node *n = calloc(1, sizeof(*n));
    kw_err rc = KW_ERR_NOMEM;
    bool loop_open = false;
    struct rlimit nocore = { 0, 0 };

    if (n == NULL) {
        return KW_ERR_NOMEM;
    }
    /* A crash must not leave the key in a core file. */
    setrlimit(RLIMIT_CORE, &nocore);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    n->opts = *opts;
    if (n->opts.anti_entropy_ms == 0) {
        n->opts.anti_entropy_ms = 30000;
    }
    if (n->opts.graft_timeout_ms == 0) {
        n->opts.graft_timeout_ms = 100;
    }
    n->id = id;
    snprintf(n->dir, sizeof(n->dir), "%s", opts->dir);
    if ((rc = kw_store_open(&n->store, opts->dir, 0)) != KW_ERR_OK) {
        goto out;
    }

    kw_store_self(n->store, n->self);
    if (memcmp(n->self, kw_identity_pk(id), 32) != 0) {
        rc = KW_ERR_INVAL;
        goto out;
    }
    if (kw_store_name(n->store, n->name, sizeof(n->name)) != KW_ERR_OK) {
        snprintf(n->name, sizeof(n->name), "kawan");
    }
    if ((rc = load_psk(n)) != KW_ERR_OK) {
        /* The caller reports it (kawan run prints one line naming the fix). */
        goto out;
    }
    if (opts->listen != NULL) {
        snprintf(n->listen_addr, sizeof(n->listen_addr), "%s", opts->listen);
    } else if (kw_store_setting_get(n->store, "listen", n->listen_addr, sizeof(n->listen_addr))
        != KW_ERR_OK) {
        snprintf(n->listen_addr, sizeof(n->listen_addr), "%s", KW_NODE_DEFAULT_LISTEN);
    }
    if (uv_loop_init(&n->loop) != 0) {
        rc = KW_ERR_NET;
        goto out;
    }
    loop_open = true;
    if ((rc = start_listening(n)) != KW_ERR_OK) {
        goto out;
    }
    if ((rc = kw__control_listen(n)) != KW_ERR_OK) {
        uv_close((uv_handle_t *)&n->listener, NULL);
        goto out;
    }
    /* Kept for the next run only now that this daemon owns the data directory: a second
     * `kawan run`, refused above, must not change where the running one is reached. */
    if (opts->listen != NULL) {
        kw_store_setting_set(n->store, "listen", n->listen_addr);
    }
    /* This daemon now owns the data directory: no older one runs on the store. */
    if (kw_store_upgrade(n->store) != KW_ERR_OK) {
        kw_log_warn("store schema not raised; it is written in its older forms", NULL);
    }
    /* From here on, everything this daemon writes can be had again (see
     * kw_store_defer_meta_sync); the setting and the schema above were synced in full. */
    if (kw_store_defer_meta_sync(n->store) != KW_ERR_OK) {
        kw_log_warn("store commits stay fully synced", NULL);
    }
    roster_reload(n);
    kw__heads_refresh(n, NULL);
    uv_timer_init(&n->loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, on_tick, 0, KW__TICK_MS);
    uv_signal_init(&n->loop, &n->sigint);
    uv_signal_init(&n->loop, &n->sigterm);
    n->sigint.data = n;
    n->sigterm.data = n;
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    n->next_anti_entropy_ms = kw__now_ms(n) + n->opts.anti_entropy_ms;
    if (kw__indexer_start(n) != KW_ERR_OK) {
        kw_log_warn("no index thread: received entries are indexed as they are stored", NULL);
    }
    if (kw__storer_start(n) != KW_ERR_OK) {
        kw_log_warn("no store thread: received entries are stored on the loop thread", NULL);
    }
    {
        char idt[KW_ID_TEXT_LEN];
        kw_id_encode(idt, n->self);
        kw_log_info("node running", "name=%s node_id=%s listen=%s peers=%zu", n->name, idt,
            n->listen_addr, n->n_peers);
    }
    uv_run(&n->loop, UV_RUN_DEFAULT);
    kw_log_info("stopped", NULL);
    rc = KW_ERR_OK;
out:
    if (loop_open) {
        /* Let close callbacks run, then release the loop. */
        uv_run(&n->loop, UV_RUN_DEFAULT);
        kw__storer_free(n);
        kw__indexer_free(n);
        uv_loop_close(&n->loop);
    }
    for (size_t i = 0; i < n->n_peers; i++) {
        free(n->peers[i]->os);
        free(n->peers[i]);
    }
    free(n->peers);
    free(n->heads);
    kw_store_close(n->store);
    sodium_free(n->psk);
    kw_noise_forget();
    free(n);
    return rc;
}
