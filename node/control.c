/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket: a Unix socket in the data directory (mode 0600) through which the
 * CLI talks to a running daemon. One request line per connection:
 *   status   one JSON object with live session state, then close
 *   notify   the store has new local entries: push them now; answers "ok"
 *   tail     stays open; one line per newly received indicator id
 *   stats    one JSON object with replication counters (for benchmarks)
 */
#include "node/node_int.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bundle/timefmt.h"
#include "crypto/id.h"
#include "crypto/log.h"
#include "crypto/seal.h"

static void ctl_closed(uv_handle_t *h)
{
    kw__ctl_client *cl = h->data;
    kw_node *n = cl->node;
    for (kw__ctl_client **pp = &n->ctl; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    free(cl);
}

static void ctl_close(kw__ctl_client *cl)
{
    if (!cl->closing) {
        cl->closing = true;
        uv_close((uv_handle_t *)&cl->pipe, ctl_closed);
    }
}

typedef struct ctl_write {
    uv_write_t req;
    kw__ctl_client *cl;
    bool close_after;
    char data[];
} ctl_write;

static void ctl_written(uv_write_t *req, int status)
{
    ctl_write *w = (ctl_write *)req;
    if ((status != 0 || w->close_after) && !w->cl->closing) {
        ctl_close(w->cl);
    }
    free(w);
}

static void ctl_send(kw__ctl_client *cl, const char *text, bool close_after)
{
    size_t len = strlen(text);
    ctl_write *w;

    if (cl->closing) {
        return;
    }
    /* A tail client that stops reading is dropped rather than buffered without bound. */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) > 8u * 1024u * 1024u) {
        ctl_close(cl);
        return;
    }
    if ((w = malloc(sizeof(*w) + len + 1)) == NULL) {
        ctl_close(cl);
        return;
    }
    memcpy(w->data, text, len);
    w->data[len] = '\n';
    w->cl = cl;
    w->close_after = close_after;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)(len + 1));
    if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &b, 1, ctl_written) != 0) {
        free(w);
        ctl_close(cl);
    }
}

static json_t *id_json(const uint8_t id[static 32])
{
    char t[KW_ID_TEXT_LEN];
    kw_id_encode(t, id);
    return json_string(t);
}

static json_t *time_json(int64_t ms)
{
    char t[40];
    if (ms <= 0) {
        return json_null();
    }
    kw_time_format(t, sizeof(t), ms);
    return json_string(t);
}

static int count_entry(void *ctx, const kw_stored_entry *e)
{
    (void)e;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void answer_status(kw__ctl_client *cl)
{
    kw_node *n = cl->node;
    json_t *o = json_object();
    json_t *peers = json_array();

    json_object_set_new(o, "daemon", json_true());
    json_object_set_new(o, "node_id", id_json(n->self));
    json_object_set_new(o, "name", json_string(n->name));
    json_object_set_new(o, "listen", json_string(n->listen_addr));
    if (n->store_error[0] != '\0') {
        json_t *e = json_object();
        json_object_set_new(e, "message", json_string(n->store_error));
        json_object_set_new(e, "at", time_json(n->store_error_ms));
        json_object_set_new(o, "store_error", e);
    } else {
        json_object_set_new(o, "store_error", json_null());
    }
    for (size_t i = 0; i < n->n_peers; i++) {
        kw_peer_state *p = n->peers[i];
        if (!p->in_roster) {
            continue;
        }
        json_t *po = json_object();
        json_t *lag = json_object();
        uint64_t total_lag = 0;
        bool up = p->session != NULL && p->session->state == CONN_UP
            && p->session->hello_received;
        json_object_set_new(po, "name", json_string(p->info.name));
        json_object_set_new(po, "node_id", id_json(p->info.id));
        json_object_set_new(po, "address", json_string(p->info.address));
        json_object_set_new(po, "connected", json_boolean(up));
        json_object_set_new(po, "since", up ? time_json(p->since_ms) : json_null());
        json_object_set_new(po, "last_error",
            p->last_error[0] ? json_string(p->last_error) : json_null());
        json_object_set_new(po, "eager", json_boolean(up && p->eager));
        for (size_t h = 0; up && h < n->n_heads; h++) {
            kw__origin_state *os = kw__origin_state_get(p, n->heads[h].origin);
            uint64_t known = os ? os->known : 0;
            uint64_t l = n->heads[h].seq > known ? n->heads[h].seq - known : 0;
            char t[KW_ID_TEXT_LEN];
            kw_id_encode(t, n->heads[h].origin);
            json_object_set_new(lag, t, json_integer((json_int_t)l));
            total_lag += l;
        }
        json_object_set_new(po, "lag", up ? lag : (json_decref(lag), json_null()));
        json_object_set_new(po, "lag_total", json_integer((json_int_t)total_lag));
        json_object_set_new(po, "payload_bytes_received",
            json_integer((json_int_t)p->payload_bytes_rx));
        /* RED entries this node published for the peer and has not delivered yet. */
        uint64_t owed = 0;
        (void)kw_store_outbox_list(n->store, p->info.id, count_entry, &owed);
        json_object_set_new(po, "red_owed", json_integer((json_int_t)owed));
        json_array_append_new(peers, po);
    }
    json_object_set_new(o, "peers", peers);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ctl_send(cl, text ? text : "{}", true);
    free(text);
}

static void answer_stats(kw__ctl_client *cl)
{
    kw_node *n = cl->node;
    char text[256];
    snprintf(text, sizeof(text),
        "{\"payload_bytes_received\":%llu,\"payload_bytes_new\":%llu}",
        (unsigned long long)n->payload_bytes_rx, (unsigned long long)n->payload_bytes_new);
    ctl_send(cl, text, true);
}

static void on_request(kw__ctl_client *cl, const char *line)
{
    if (strcmp(line, "status") == 0) {
        answer_status(cl);
    } else if (strcmp(line, "stats") == 0) {
        answer_stats(cl);
    } else if (strcmp(line, "notify") == 0) {
        kw__heads_refresh(cl->node, NULL);
        ctl_send(cl, "ok", true);
    } else if (strcmp(line, "tail") == 0) {
        cl->tail = true;
        ctl_send(cl, "ok", false);
    } else {
        ctl_send(cl, "error unknown request", true);
    }
}

static void ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char b[512];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(b, sizeof(b));
}

static void ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    kw__ctl_client *cl = s->data;
    if (nread < 0) {
        ctl_close(cl);
        return;
    }
    for (ssize_t i = 0; i < nread && !cl->closing; i++) {
        char ch = buf->base[i];
        if (ch == '\n') {
            cl->line[cl->line_len] = '\0';
            cl->line_len = 0;
            uv_read_stop(s); /* one request per connection */
            on_request(cl, cl->line);
            return;
        }
        if (cl->line_len + 1 >= sizeof(cl->line)) {
            ctl_close(cl);
            return;
        }
        cl->line[cl->line_len++] = ch;
    }
}

static void on_ctl_connection(uv_stream_t *server, int status)
{
    kw_node *n = server->data;
    kw__ctl_client *cl;
    if (status != 0 || (cl = calloc(1, sizeof(*cl))) == NULL) {
        return;
    }
    cl->node = n;
    uv_pipe_init(&n->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    cl->next = n->ctl;
    n->ctl = cl;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
        ctl_close(cl);
        return;
    }
    uv_read_start((uv_stream_t *)&cl->pipe, ctl_alloc, ctl_read);
}

/*
 * The address of the control socket of the data directory dir, in out (the size of
 * sun_path). A Unix socket address holds at most 107 bytes: for a longer directory path the
 * socket is named through the descriptor *dirfd opened on the directory
 * ("/proc/self/fd/N/control.sock"), which the caller closes once it has bound or connected;
 * otherwise *dirfd is -1. KW_ERR_IO when the directory cannot be opened.
 */
static kw_err control_addr(char *out, size_t cap, const char *dir, int *dirfd)
{
    *dirfd = -1;
    if ((size_t)snprintf(out, cap, "%s/%s", dir, KW_CONTROL_SOCKET) < cap) {
        return KW_ERR_OK;
    }
    if ((*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        return KW_ERR_IO;
    }
    snprintf(out, cap, "/proc/self/fd/%d/%s", *dirfd, KW_CONTROL_SOCKET);
    return KW_ERR_OK;
}

kw_err kw__control_listen(kw_node *n)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int dirfd;
    if (control_addr(path, sizeof(path), n->dir, &dirfd) != KW_ERR_OK) {
        kw_log_error("cannot open the data directory for the control socket", "dir=%s", n->dir);
        return KW_ERR_IO;
    }
    /* A socket file left by a daemon that died is removed; a live one means another
     * daemon serves this directory. */
    if (kw_control_request(n->dir, "stats", NULL, NULL) == KW_ERR_OK) {
        kw_log_error("another daemon already runs for this data directory", "dir=%s", n->dir);
        if (dirfd >= 0) {
            close(dirfd);
        }
        return KW_ERR_EXISTS;
    }
    unlink(path);
    uv_pipe_init(&n->loop, &n->control, 0);
    n->control.data = n;
    mode_t old = umask(077);
    int rc = uv_pipe_bind(&n->control, path);
    umask(old);
    if (rc == 0) {
        chmod(path, 0600);
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    if (rc != 0) {
        kw_log_error("cannot bind control socket", "dir=%s err=\"%s\"", n->dir, uv_strerror(rc));
        return KW_ERR_IO;
    }
    if ((rc = uv_listen((uv_stream_t *)&n->control, 16, on_ctl_connection)) != 0) {
        return KW_ERR_IO;
    }
    return KW_ERR_OK;
}

void kw__control_close_all(kw_node *n)
{
    char path[4200];
    for (kw__ctl_client *cl = n->ctl; cl != NULL; cl = cl->next) {
        ctl_close(cl);
    }
    if (!uv_is_closing((uv_handle_t *)&n->control)) {
        uv_close((uv_handle_t *)&n->control, NULL);
    }
    snprintf(path, sizeof(path), "%s/%s", n->dir, KW_CONTROL_SOCKET);
    unlink(path);
}

static int copy_one(void *ctx, const kw_stored_entry *e)
{
    kw_stored_entry *d = ctx;
    *d = *e;
    d->payload = NULL;
    if (e->payload != NULL && (d->payload = malloc(e->payload_len ? e->payload_len : 1)) != NULL) {
        memcpy(d->payload, e->payload, e->payload_len);
    }
    return 1;
}

void kw__control_tail_entry(kw_node *n, const uint8_t origin[static 32], uint64_t seq)
{
    kw_stored_entry e;
    kw_bundle *b = NULL;
    bool any = false;

    for (kw__ctl_client *cl = n->ctl; cl != NULL; cl = cl->next) {
        any |= cl->tail && !cl->closing;
    }
    if (!any) {
        return;
    }
    /* Announce the ids; the CLI reads each indicator from the store and prints it as
     * `kawan query` would, so both outputs have one format. */
    memset(&e, 0, sizeof(e));
    if (kw_store_feed_range(n->store, origin, seq, seq, true, copy_one, &e) != KW_ERR_OK
        || e.payload == NULL) {
        kw_stored_entry_clear(&e);
        return;
    }
    if (e.h.flags & KW_ENTRY_FLAG_SEALED) {
        uint8_t ad[KW_SEAL_AD_LEN];
        uint8_t *plain = NULL;
        size_t plen = 0;
        (void)kw_seal_ad(ad, e.h.origin, e.h.seq, e.h.tlp);
        if (kw_seal_open(e.payload, e.payload_len, ad, sizeof(ad), kw_identity_x25519_pk(n->id),
                kw_identity_x25519_sk(n->id), &plain, &plen)
            == KW_ERR_OK) {
            (void)kw_bundle_decode(&b, plain, plen);
            sodium_free(plain);
        }
    } else {
        (void)kw_bundle_decode(&b, e.payload, e.payload_len);
    }
    kw_stored_entry_clear(&e);
    for (uint32_t i = 0; b != NULL && i < b->n; i++) {
        char id[48];
        kw_indicator_id_format(id, b->items[i].id);
        for (kw__ctl_client *cl = n->ctl; cl != NULL; cl = cl->next) {
            if (cl->tail && !cl->closing) {
                ctl_send(cl, id, false);
            }
        }
    }
    kw_bundle_free(b);
}

/* ---- Client side ---- */

kw_err kw_control_request(const char *dir, const char *request, kw_control_line_cb line_cb,
    void *ctx)
{
    struct sockaddr_un sa;
    char *line = NULL;
    size_t ll = 0, cap = 0;
    kw_err rc = KW_ERR_OK;
    int fd, dirfd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (control_addr(sa.sun_path, sizeof(sa.sun_path), dir, &dirfd) != KW_ERR_OK) {
        return KW_ERR_NOTFOUND;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        if (dirfd >= 0) {
            close(dirfd);
        }
        return KW_ERR_IO;
    }
    int cr = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (dirfd >= 0) {
        close(dirfd);
    }
    if (cr != 0) {
        close(fd);
        return KW_ERR_NOTFOUND;
    }
    size_t rl = strlen(request);
    if (write(fd, request, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1) {
        close(fd);
        return KW_ERR_IO;
    }
    for (;;) {
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        for (ssize_t i = 0; i < r; i++) {
            /* Lines (a status answer grows with peers x origins) are bounded at 16 MiB. */
            if (ll + 1 >= cap) {
                size_t ncap = cap ? cap * 2 : 4096;
                char *nl = ncap <= 16u * 1024u * 1024u ? realloc(line, ncap) : NULL;
                if (nl == NULL) {
                    rc = KW_ERR_TOOBIG;
                    goto out;
                }
                line = nl;
                cap = ncap;
            }
            if (buf[i] != '\n') {
                line[ll++] = buf[i];
                continue;
            }
            line[ll] = '\0';
            ll = 0;
            if (line_cb != NULL && line_cb(ctx, line) != 0) {
                goto out;
            }
        }
    }
out:
    free(line);
    close(fd);
    return rc;
}
