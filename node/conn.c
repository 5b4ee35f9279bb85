/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connections: TCP, the Noise IKpsk2 handshake, and the framed transport (docs/protocol.md).
 * Every Noise message travels behind a 2-byte big-endian length; the decrypted transport
 * stream carries application messages behind a 4-byte big-endian length.
 */
#include "node/node_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/id.h"
#include "crypto/log.h"

static void conn_log(kw__conn *c, kw_log_level lvl, const char *msg, const char *detail)
{
    char q[200];
    const char *who = c->peer ? c->peer->info.name : "-";
    kw_log(lvl, msg, "peer=%s remote=%s dir=%s%s%s", who, c->remote[0] ? c->remote : "-",
        c->initiator ? "out" : "in", detail ? " reason=" : "",
        detail ? kw_log_quote(q, sizeof(q), detail) : "");
}

static kw_err conn_new(kw_node *n, bool initiator, kw__conn **out)
{
    kw__conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return KW_ERR_NOMEM;
    }
    /* The application stream carries entries (plaintext indicators, sealed payloads), not
     * keys: ordinary memory serves, and spares an mlock per buffer. */
    kw_rx_init(&c->rx_stream, KW_APP_MSG_MAX);
    c->node = n;
    c->initiator = initiator;
    c->state = initiator ? CONN_CONNECTING : CONN_HANDSHAKE;
    c->created_ms = kw__now_ms(n);
    c->last_rx_ms = c->created_ms;
    c->last_tx_ms = c->created_ms;
    c->next = n->conns;
    n->conns = c;
    n->n_pending++;
    *out = c;
    return KW_ERR_OK;
}

static void conn_free(kw__conn *c)
{
    kw_node *n = c->node;
    for (kw__conn **pp = &n->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    kw_noise_hs_free(c->hs);
    kw_noise_cipher_free(c->tx);
    kw_noise_cipher_free(c->rx);
    kw_rx_free(&c->rx_stream);
    free(c);
}

static void on_tcp_closed(uv_handle_t *h)
{
    conn_free(h->data);
}

void kw__conn_close(kw__conn *c, const char *reason, uint32_t penalty)
{
    kw_node *n = c->node;
    kw_peer_state *p = c->peer;

    if (c->state == CONN_CLOSING) {
        return;
    }
    if (c->state != CONN_UP || !c->hello_received) {
        if (n->n_pending > 0) {
            n->n_pending--;
        }
    }
    c->state = CONN_CLOSING;
    if (reason != NULL) {
        conn_log(c, penalty ? KW_LOG_WARN : KW_LOG_INFO, "connection closed", reason);
    }
    if (p != NULL) {
        if (p->session == c) {
            p->session = NULL;
            kw__sync_session_down(p);
            kw_log_info("session down", "peer=%s", p->info.name);
        }
        if (p->dialing == c) {
            p->dialing = NULL;
        }
        if (reason != NULL && (penalty || p->session == NULL)) {
            snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
        }
        if (penalty) {
            kw_backoff_penalise(&p->backoff, penalty);
            uint32_t d = kw_backoff_next(&p->backoff, randombytes_random());
            p->banned_until_ms = kw__now_ms(n) + d;
            p->next_dial_ms = p->banned_until_ms;
        } else if (c->initiator && p->next_dial_ms <= kw__now_ms(n)) {
            p->next_dial_ms = kw__now_ms(n) + kw_backoff_next(&p->backoff, randombytes_random());
        }
    }
    if (c->tcp_open) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    } else if (!c->resolving) {
        conn_free(c);
    }
}

/* ---- Writing ---- */

typedef struct wreq {
    uv_write_t req;
    kw__conn *c;
    size_t len;
    kw__sent_cb done;
    void *ctx;
    uint8_t data[];
} wreq;

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    kw__conn *c = w->c;
    c->queued -= w->len;
    if (w->done != NULL) {
        w->done(c->node, w->ctx, status == 0);
    }
    free(w);
    if (status != 0 && c->state != CONN_CLOSING) {
        kw__conn_close(c, uv_strerror(status), 0);
        return;
    }
    if (c->state == CONN_UP && c->hello_received && c->queued < KW__HIGH_WATER / 2) {
        kw__sync_pump(c);
    }
}

static kw_err write_raw(kw__conn *c, wreq *w)
{
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    w->c = c;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0) {
        if (w->done) {
            w->done(c->node, w->ctx, false);
        }
        free(w);
        kw__conn_close(c, uv_strerror(rc), 0);
        return KW_ERR_NET;
    }
    c->queued += w->len;
    c->last_tx_ms = kw__now_ms(c->node);
    if (c->queued > KW__QUEUE_LIMIT) {
        kw__conn_close(c, "peer does not read (send queue over limit)", 2);
        return KW_ERR_CLOSED;
    }
    return KW_ERR_OK;
}

static kw_err send_handshake(kw__conn *c, const uint8_t *msg, size_t len)
{
    wreq *w = malloc(sizeof(*w) + 2 + len);
    if (w == NULL) {
        return KW_ERR_NOMEM;
    }
    memset(w, 0, sizeof(*w));
    w->len = 2 + len;
    w->data[0] = (uint8_t)(len >> 8);
    w->data[1] = (uint8_t)len;
    memcpy(w->data + 2, msg, len);
    return write_raw(c, w);
}

kw_err kw__conn_send(kw__conn *c, const uint8_t *msg, size_t len, kw__sent_cb done, void *ctx)
{
    kw_tx t = { 0 };
    kw_err rc = KW_ERR_OK;
    bool started = false;

    if (c->state != CONN_UP || c->tx == NULL) {
        rc = KW_ERR_CLOSED;
    } else if (len > KW_APP_MSG_MAX) {
        rc = KW_ERR_TOOBIG;
    } else {
        rc = kw_tx_begin(&t, msg, len);
    }
    /* One write per Noise message, each handed to the socket while it is still in the
     * cache (docs/performance.md); done is told when the last one is written. */
    size_t cap = kw_tx_sealed_size(len) < KW_TX_PIECE_MIN ? kw_tx_sealed_size(len)
                                                          : KW_TX_PIECE_MIN;
    while (rc == KW_ERR_OK && !kw_tx_done(&t)) {
        wreq *w = malloc(sizeof(*w) + cap);
        if (w == NULL) {
            rc = KW_ERR_NOMEM;
            break;
        }
        memset(w, 0, sizeof(*w));
        if ((rc = kw_tx_seal_some(&t, c->tx, w->data, cap, &w->len)) != KW_ERR_OK) {
            free(w);
            break;
        }
        bool last = kw_tx_done(&t);
        if (last) {
            w->done = done;
            w->ctx = ctx;
        }
        started = true;
        if ((rc = write_raw(c, w)) != KW_ERR_OK) {
            if (!last && done) {
                done(c->node, ctx, false);
            }
            return rc;
        }
    }
    if (rc != KW_ERR_OK) {
        if (done) {
            done(c->node, ctx, false);
        }
        if (rc == KW_ERR_CRYPTO || started) {
            /* Nonce exhausted, or part of the message is on its way: the stream cannot
             * go on. */
            kw__conn_close(c, rc == KW_ERR_CRYPTO ? "encryption failed (nonce exhausted)"
                                                  : "out of memory while sending",
                0);
        }
    }
    return rc;
}

/* ---- Handshake ---- */

static kw_err hs_start(kw__conn *c)
{
    kw_node *n = c->node;
    kw_err rc = kw_noise_hs_new(&c->hs, KW_NOISE_PROTOCOL, c->initiator,
        (const uint8_t *)KW_NOISE_PROLOGUE, strlen(KW_NOISE_PROLOGUE));
    if (rc != KW_ERR_OK) {
        return rc;
    }
    if ((rc = kw_noise_hs_set_static(c->hs, kw_identity_x25519_sk(n->id))) != KW_ERR_OK
        || (rc = kw_noise_hs_add_psk(c->hs, n->psk)) != KW_ERR_OK) {
        return rc;
    }
    if (c->initiator && (rc = kw_noise_hs_set_remote_static(c->hs, c->peer->xpk)) != KW_ERR_OK) {
        return rc;
    }
    return KW_ERR_OK;
}

static void session_crypto_ready(kw__conn *c)
{
    kw_err rc = kw_noise_hs_split(c->hs, &c->tx, &c->rx);
    kw_noise_hs_free(c->hs);
    c->hs = NULL;
    if (rc != KW_ERR_OK) {
        kw__conn_close(c, "handshake split failed", 0);
    }
}

static void send_hello(kw__conn *c)
{
    kw_buf b = { 0 };
    if (kw_msg_encode_hello(&b, c->node->name, c->node->self) == KW_ERR_OK) {
        kw__conn_send(c, b.p, b.len, NULL, NULL);
        c->hello_sent = true;
    }
    kw_buf_free(&b);
}

static void on_handshake_frame(kw__conn *c, const uint8_t *msg, size_t len)
{
    kw_node *n = c->node;
    uint8_t out[256];
    size_t out_len = 0;
    uint8_t payload[64];
    size_t plen = 0;

    if (!c->initiator) {
        /* Message 1: learn who is calling, and refuse strangers before answering. */
        uint8_t rs[32];
        if (kw_noise_hs_read_message(c->hs, msg, len, payload, sizeof(payload), &plen)
            != KW_ERR_OK) {
            kw__conn_close(c, "handshake failed: malformed or wrong responder key", 0);
            return;
        }
        if (kw_noise_hs_remote_static(c->hs, rs) != KW_ERR_OK) {
            kw__conn_close(c, "handshake failed", 0);
            return;
        }
        kw_peer_state *p = kw__peer_by_xpk(n, rs);
        if (p == NULL) {
            char key[65];
            kw_hex_encode(key, rs, 8);
            kw_log_warn("rejected connection: not a roster member", "remote=%s x25519=%s",
                c->remote, key);
            kw__conn_close(c, NULL, 0);
            return;
        }
        c->peer = p;
        if (p->banned_until_ms > kw__now_ms(n)) {
            kw__conn_close(c, "rejected: peer is backed off after misbehaving", 0);
            return;
        }
        if (kw_noise_hs_write_message(c->hs, NULL, 0, out, sizeof(out), &out_len) != KW_ERR_OK) {
            kw__conn_close(c, "handshake failed writing message 2", 0);
            return;
        }
        if (send_handshake(c, out, out_len) != KW_ERR_OK) {
            return;
        }
        session_crypto_ready(c);
        if (c->state != CONN_CLOSING) {
            /* The initiator proves it holds the community key with its first transport
             * message; until then nothing is sent. */
            c->state = CONN_CONFIRM;
        }
        return;
    }
    if (kw_noise_hs_read_message(c->hs, msg, len, payload, sizeof(payload), &plen) != KW_ERR_OK) {
        kw__conn_close(c, "handshake failed: wrong community key, or the peer is not who the roster says", 1);
        return;
    }
    session_crypto_ready(c);
    if (c->state == CONN_CLOSING) {
        return;
    }
    c->state = CONN_UP;
    send_hello(c);
}

/* ---- Reading ---- */

/* Counts one message against the flood limit; true when the connection was closed for it. */
static bool flood_exceeded(kw__conn *c, uint64_t now)
{
    if (now - c->flood_window_ms >= 1000) {
        c->flood_window_ms = now;
        c->flood_count = 0;
    }
    if (++c->flood_count > KW__FLOOD_MSGS_PER_SEC) {
        kw__conn_close(c, "message flood", 3);
        return true;
    }
    return false;
}

/*
 * The slow-sender clock of a frame or message: *started is when the incomplete one began
 * (0: none is incomplete). completed: one or more completed just now, so an incomplete one
 * left over began now.
 */
static void partial_clock(uint64_t *started, bool partial, bool completed, uint64_t now)
{
    if (!partial) {
        *started = 0;
    } else if (completed || *started == 0) {
        *started = now;
    }
}

/* Hands every complete application message of the decrypted stream to the sync layer. */
static void deliver_messages(kw__conn *c)
{
    uint64_t now = kw__now_ms(c->node);
    bool delivered = false;

    while (c->state != CONN_CLOSING) {
        const uint8_t *msg;
        size_t mlen = 0;
        kw_err rc = kw_rx_message(&c->rx_stream, &msg, &mlen);
        if (rc == KW_ERR_AGAIN) {
            break;
        }
        if (rc != KW_ERR_OK) {
            kw__conn_close(c, "message length over the limit", 3);
            return;
        }
        if (flood_exceeded(c, now)) {
            return;
        }
        if (kw__sync_on_message(c, msg, mlen) != KW_ERR_OK) {
            return;
        }
        delivered = true;
    }
    partial_clock(&c->app_started_ms, kw_rx_message_partial(&c->rx_stream), delivered, now);
}

static void on_transport_frame(kw__conn *c, const uint8_t *msg, size_t len)
{
    size_t before = c->rx_stream.pt_len - c->rx_stream.pt_off;
    kw_err rc = kw_rx_open(&c->rx_stream, c->rx, msg, len);

    if (rc == KW_ERR_NOMEM || rc == KW_ERR_TOOBIG) {
        kw__conn_close(c, rc == KW_ERR_NOMEM ? "out of memory" : "message length over the limit",
            rc == KW_ERR_NOMEM ? 0 : 3);
        return;
    }
    if (rc != KW_ERR_OK) {
        if (c->state == CONN_CONFIRM) {
            kw__conn_close(c, "handshake failed: the initiator does not hold the community key", 1);
        } else {
            kw__conn_close(c, "transport message failed to authenticate (tampered, replayed or reordered)", 3);
        }
        return;
    }
    if (c->state == CONN_CONFIRM) {
        c->state = CONN_UP;
    }
    /* kawan never sends an empty transport message; a stream of them carries no message
     * and would otherwise escape the flood limit. */
    if (c->rx_stream.pt_len - c->rx_stream.pt_off == before
        && flood_exceeded(c, kw__now_ms(c->node))) {
        return;
    }
    deliver_messages(c);
}

static void on_frame(kw__conn *c, const uint8_t *msg, size_t len)
{
    if (c->state == CONN_HANDSHAKE) {
        on_handshake_frame(c, msg, len);
    } else if (c->state == CONN_CONFIRM || c->state == CONN_UP) {
        on_transport_frame(c, msg, len);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    kw__conn *c = h->data;
    uint8_t *p = NULL;
    size_t room = 0;

    (void)suggested;
    /* Reads land where the frames are parsed; no room makes libuv report UV_ENOBUFS. */
    if (kw_rx_space(&c->rx_stream, &p, &room) != KW_ERR_OK) {
        p = NULL;
        room = 0;
    }
    *buf = uv_buf_init((char *)p, (unsigned int)room);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    kw__conn *c = s->data;

    (void)buf;
    if (nread < 0) {
        if (c->state == CONN_CONFIRM) {
            kw__conn_close(c,
                "handshake failed: the initiator left after message 2 (wrong community key?)", 1);
        } else {
            kw__conn_close(c, nread == UV_EOF ? "closed by peer"
                    : nread == UV_ENOBUFS    ? "out of memory"
                                             : uv_strerror((int)nread),
                0);
        }
        return;
    }
    c->last_rx_ms = kw__now_ms(c->node);
    kw_rx_landed(&c->rx_stream, (size_t)nread);
    bool framed = false;
    while (c->state != CONN_CLOSING) {
        const uint8_t *frame;
        size_t flen = 0;
        kw_err rc = kw_rx_frame(&c->rx_stream, &frame, &flen);
        if (rc == KW_ERR_AGAIN) {
            break;
        }
        if (rc != KW_ERR_OK) {
            kw__conn_close(c, "empty frame", 3);
            return;
        }
        on_frame(c, frame, flen);
        framed = true;
    }
    partial_clock(
        &c->frame_started_ms, kw_rx_frame_partial(&c->rx_stream), framed, c->last_rx_ms);
}

/* ---- Connecting ---- */

static void start_reading(kw__conn *c)
{
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connected(uv_connect_t *req, int status)
{
    kw__conn *c = req->data;
    uint8_t out[256];
    size_t out_len = 0;

    if (c->state == CONN_CLOSING) {
        return;
    }
    if (status != 0) {
        kw__conn_close(c, uv_strerror(status), 0);
        return;
    }
    c->state = CONN_HANDSHAKE;
    start_reading(c);
    if (hs_start(c) != KW_ERR_OK
        || kw_noise_hs_write_message(c->hs, NULL, 0, out, sizeof(out), &out_len) != KW_ERR_OK) {
        kw__conn_close(c, "handshake setup failed", 0);
        return;
    }
    send_handshake(c, out, out_len);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    kw__conn *c = req->data;
    kw_node *n = c->node;
    c->resolving = false;
    if (c->state == CONN_CLOSING) {
        uv_freeaddrinfo(res);
        conn_free(c);
        return;
    }
    if (status != 0 || res == NULL) {
        uv_freeaddrinfo(res);
        kw__conn_close(c, "cannot resolve address", 0);
        return;
    }
    uv_tcp_init(&n->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = true;
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc != 0) {
        kw__conn_close(c, uv_strerror(rc), 0);
    }
}

kw_err kw__conn_dial(kw_node *n, kw_peer_state *p)
{
    char host[128], port[8];
    uint16_t portn;
    kw__conn *c = NULL;
    struct addrinfo hints;
    kw_err rc;

    if (kw_hostport_parse(p->info.address, host, sizeof(host), &portn) != KW_ERR_OK) {
        snprintf(p->last_error, sizeof(p->last_error), "bad address '%s'", p->info.address);
        return KW_ERR_INVAL;
    }
    if ((rc = conn_new(n, true, &c)) != KW_ERR_OK) {
        return rc;
    }
    c->peer = p;
    p->dialing = c;
    snprintf(c->remote, sizeof(c->remote), "%s", p->info.address);
    snprintf(port, sizeof(port), "%u", portn);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai_req.data = c;
    c->resolving = true;
    if (uv_getaddrinfo(&n->loop, &c->gai_req, on_resolved, host, port, &hints) != 0) {
        c->resolving = false;
        kw__conn_close(c, "cannot resolve address", 0);
        return KW_ERR_NET;
    }
    return KW_ERR_OK;
}

void kw__conn_accept(kw_node *n)
{
    kw__conn *c = NULL;
    struct sockaddr_storage ss;
    int sl = sizeof(ss);

    if (conn_new(n, false, &c) != KW_ERR_OK) {
        return;
    }
    uv_tcp_init(&n->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = true;
    if (uv_accept((uv_stream_t *)&n->listener, (uv_stream_t *)&c->tcp) != 0) {
        kw__conn_close(c, NULL, 0);
        return;
    }
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[64];
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            snprintf(c->remote, sizeof(c->remote), "%s:%u", ip,
                ntohs(((struct sockaddr_in *)&ss)->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            snprintf(c->remote, sizeof(c->remote), "[%s]:%u", ip,
                ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        }
    }
    if (n->n_pending > KW__MAX_PENDING_HANDSHAKES) {
        kw_log_warn("rejected connection: too many handshakes in progress", "remote=%s",
            c->remote);
        kw__conn_close(c, NULL, 0);
        return;
    }
    if (hs_start(c) != KW_ERR_OK) {
        kw__conn_close(c, "handshake setup failed", 0);
        return;
    }
    start_reading(c);
}

void kw__conn_tick(kw__conn *c, uint64_t now)
{
    if (c->state == CONN_CLOSING) {
        return;
    }
    if ((c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE || c->state == CONN_CONFIRM
            || !c->hello_received)
        && now - c->created_ms > KW__HANDSHAKE_TIMEOUT_MS) {
        kw__conn_close(c, "handshake timeout", c->peer != NULL && c->state != CONN_CONNECTING ? 1 : 0);
        return;
    }
    if (c->state != CONN_UP) {
        return;
    }
    if (now - c->last_rx_ms > KW__DEAD_AFTER_MS) {
        kw__conn_close(c, "peer silent (keep-alive timeout)", 0);
        return;
    }
    if (kw_rx_message_partial(&c->rx_stream) && now - c->app_started_ms > KW__PARTIAL_MSG_TIMEOUT_MS) {
        kw__conn_close(c, "message not completed in time (slow sender)", 2);
        return;
    }
    /* The same one level down: a Noise frame begun must finish, or a peer could hold the
     * session open forever by trickling one frame a byte at a time. */
    if (kw_rx_frame_partial(&c->rx_stream) && now - c->frame_started_ms > KW__PARTIAL_MSG_TIMEOUT_MS) {
        kw__conn_close(c, "transport frame not completed in time (slow sender)", 2);
        return;
    }
    if (c->hello_received && now - c->last_tx_ms > KW__PING_INTERVAL_MS) {
        kw_buf b = { 0 };
        if (kw_msg_encode_ping(&b, KW_MSG_PING, ++c->ping_nonce) == KW_ERR_OK) {
            kw__conn_send(c, b.p, b.len, NULL, NULL);
        }
        kw_buf_free(&b);
    }
}

