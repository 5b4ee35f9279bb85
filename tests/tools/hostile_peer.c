/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile-peer: a roster member that holds a valid key and the community key but sends
 * crafted traffic to a running `kawan run` on 127.0.0.1 (issue 7, "Hostile peers").
 *
 *   hostile-peer --dir MEMBER_DIR --connect 127.0.0.1:PORT --target-id kw1... SCENARIO
 *                [--origin-dir DIR] [--quick] [--wait SECONDS] [--retry SECONDS]
 *
 * It does a real Noise IKpsk2 handshake and HELLO, reads the node's HELLO and HAVE, runs the
 * scenario and reports on stdout what the node did ("closed by node after 0.01 s", "still
 * open after 3.0 s"). When the node closed the session it tries once more at once and reports
 * whether that reconnect was refused (the node backs misbehaving peers off). Exit status: 0
 * when the scenario ran, 1 on a usage or setup error, 2 when no session could be opened.
 *
 * Valid entries come from the member's own store or are built with the real encoders
 * (kw_bundle_encode, kw_payload_hash, kw_header_encode, kw_entry_sign), so each crafted
 * entry carries only its intended defect. A valid entry that is sent to a node is first
 * stored in the member's own feed, so later runs extend that feed instead of forking it;
 * the fork scenario is the one exception, on purpose.
 *
 * Only addresses in 127.0.0.0/8 are accepted: this is a test tool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "bundle/entry.h"
#include "bundle/timefmt.h"
#include "bundle/tlp.h"
#include "bundle/value.h"
#include "crypto/id.h"
#include "crypto/identity.h"
#include "crypto/noise.h"
#include "node/node.h"
#include "node/wire.h"
#include "store/store.h"

#define MAX_TARGETS 4
#define FRAME_CAP (2 + KW_NOISE_MAX_MSG)
#define REKEY_EVERY (1u << 20)
#define OPEN_TIMEOUT_S 5.0

enum { EXIT_RAN = 0, EXIT_SETUP = 1, EXIT_NOSESSION = 2 };
enum { OPEN_OK = 0, OPEN_REFUSED = 1, OPEN_FAIL = -1 };

typedef struct member {
    kw_identity *id;
    uint8_t *psk; /* sodium_malloc, 32 bytes */
    kw_store *store;
    char name[64];
    char dir[4096];
} member;

typedef struct opts {
    const char *dir;
    const char *origin_dir;
    const char *connect[MAX_TARGETS];
    uint8_t target[MAX_TARGETS][32];
    size_t n_connect;
    size_t n_target;
    const char *scenario;
    bool quick;
    double wait_s; /* how long to wait for the node to close a session */
    double retry_s; /* keep retrying a refused handshake this long (waits out a ban) */
} opts;

/* What a session saw arrive from the node. */
typedef struct rx_stats {
    uint64_t messages;
    uint64_t pongs;
    uint64_t entries; /* entries of the watched origin */
    uint64_t red_headers; /* RED entries of the watched origin */
    uint64_t red_payloads; /* ... of which came with a payload */
    uint64_t max_seq; /* highest seq of the watched origin */
    uint64_t prunes;
} rx_stats;

typedef struct sess {
    int fd;
    bool closed;
    double t_closed;
    kw_noise_cipher *tx;
    kw_noise_cipher *rx;
    uint8_t *frame; /* one incoming Noise frame, being assembled */
    size_t frame_len;
    uint8_t *hs_msg; /* a complete handshake message (before split) */
    size_t hs_len;
    bool hs_ready;
    kw_buf in; /* decrypted application stream not yet cut into messages */
    bool got_hello;
    bool got_have;
    uint64_t target_head; /* the node's own feed head, from its HAVE */
    uint8_t target[32];
    uint8_t watch[32]; /* origin whose entries are counted in st */
    char node_name[64];
    rx_stats st;
} sess;

/* An entry as sent on the wire. */
typedef struct entry {
    uint8_t hdr[KW_HEADER_MAX];
    size_t hdr_len;
    uint8_t sig[KW_SIG_LEN];
    uint8_t *payload; /* malloc'd, or NULL when withheld */
    size_t payload_len;
} entry;

typedef struct entry_list {
    entry *e;
    size_t n;
    size_t cap;
} entry_list;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    if (s <= 0) {
        return;
    }
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static int setup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int setup_error(const char *fmt, ...)
{
    va_list ap;
    fputs("hostile-peer: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_SETUP;
}

/* ---- Entries ---- */

static void entry_list_free(entry_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].payload);
    }
    free(l->e);
    memset(l, 0, sizeof(*l));
}

static entry *entry_list_add(entry_list *l)
{
    entry *ne = kw_grow(l->e, &l->cap, l->n, sizeof(*ne), 16);
    if (ne == NULL) {
        return NULL;
    }
    l->e = ne;
    entry *e = &l->e[l->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

static int feed_cb(void *ctx, const kw_stored_entry *se)
{
    entry_list *l = ctx;
    entry *e = entry_list_add(l);
    if (e == NULL) {
        return 1;
    }
    memcpy(e->hdr, se->hdr, se->hdr_len);
    e->hdr_len = se->hdr_len;
    memcpy(e->sig, se->sig, KW_SIG_LEN);
    if (se->payload != NULL) {
        e->payload = malloc(se->payload_len ? se->payload_len : 1);
        if (e->payload == NULL) {
            l->n--;
            return 1;
        }
        memcpy(e->payload, se->payload, se->payload_len);
        e->payload_len = se->payload_len;
    }
    return 0;
}

/* The whole stored feed of origin, seq 1 to its head, payloads included. */
static kw_err feed_load(kw_store *s, const uint8_t origin[static 32], entry_list *out)
{
    kw_head h;
    kw_err rc = kw_store_head(s, origin, &h);
    if (rc != KW_ERR_OK || h.seq == 0) {
        return rc;
    }
    if ((rc = kw_store_feed_range(s, origin, 1, h.seq, true, feed_cb, out)) != KW_ERR_OK) {
        return rc;
    }
    return out->n == h.seq ? KW_ERR_OK : KW_ERR_STORE;
}

enum { DEFECT_NONE = 0, DEFECT_HASH = 1, DEFECT_UNDECODABLE = 2 };

/*
 * Builds one entry of signer's feed at seq (prev is the previous entry id, NULL for seq 1)
 * carrying one GREEN domain indicator. DEFECT_HASH makes the header commit to other bytes
 * than the payload sent.
 */
static kw_err build_entry(entry *e, const kw_identity *signer, uint64_t seq, const uint8_t *prev,
    const char *value, int defect)
{
    kw_bundle *b = NULL;
    kw_indicator *d = NULL;
    kw_header h;
    char norm[KW_VALUE_MAX + 1];
    size_t norm_len = 0;
    const char *why = NULL;
    kw_err rc;

    memset(e, 0, sizeof(*e));
    if ((rc = kw_value_normalise(
             KW_OBS_DOMAIN, value, strlen(value), norm, sizeof(norm), &norm_len, &why))
        != KW_ERR_OK) {
        fprintf(stderr, "hostile-peer: '%s': %s\n", value, why ? why : "bad value");
        return rc;
    }
    if ((rc = kw_bundle_new(&b)) != KW_ERR_OK || (rc = kw_bundle_add(b, &d)) != KW_ERR_OK) {
        goto out;
    }
    kw_uuid_random(d->id);
    d->type = KW_OBS_DOMAIN;
    if ((d->value = kw_bundle_strdup(b, norm, norm_len)) == NULL) {
        rc = KW_ERR_NOMEM;
        goto out;
    }
    d->value_len = (uint32_t)norm_len;
    d->created = d->modified = d->valid_from = kw_time_now_ms();
    if ((rc = kw_bundle_encode(b, &e->payload, &e->payload_len)) != KW_ERR_OK) {
        goto out;
    }
    if (defect == DEFECT_UNDECODABLE) {
        /* Well-formed msgpack, but no bundle: the array [1, 2, 3]. */
        static const uint8_t junk[] = { 0x93, 0x01, 0x02, 0x03 };
        memcpy(e->payload, junk, sizeof(junk));
        e->payload_len = sizeof(junk);
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.origin, kw_identity_pk(signer), 32);
    h.seq = seq;
    h.has_prev = prev != NULL;
    if (prev != NULL) {
        memcpy(h.prev, prev, 32);
    }
    h.time_ms = (uint64_t)kw_time_now_ms();
    h.tlp = KW_TLP_GREEN;
    h.payload_len = e->payload_len;
    h.flags = 0;
    if (defect == DEFECT_HASH) {
        /* The header commits to the payload with its last byte changed. */
        e->payload[e->payload_len - 1] ^= 0x01;
        kw_payload_hash(h.payload_hash, e->payload, e->payload_len);
        e->payload[e->payload_len - 1] ^= 0x01;
    } else {
        kw_payload_hash(h.payload_hash, e->payload, e->payload_len);
    }
    if ((rc = kw_header_encode(&h, e->hdr, &e->hdr_len)) != KW_ERR_OK) {
        goto out;
    }
    kw_entry_sign(signer, e->sig, e->hdr, e->hdr_len);
    rc = KW_ERR_OK;
out:
    kw_bundle_free(b);
    if (rc != KW_ERR_OK) {
        free(e->payload);
        e->payload = NULL;
    }
    return rc;
}

static void entry_id_of(uint8_t out[static 32], const entry *e)
{
    kw_entry_id(out, e->hdr, e->hdr_len, e->sig);
}

/* Stores a valid entry in the member's own feed (so the feed stays one chain). */
static kw_err own_store(member *m, const entry *e)
{
    kw_wire_entry w = { e->hdr, e->hdr_len, e->sig, e->payload, e->payload_len };
    kw_ingest_result r;
    kw_err rc = kw_store_ingest(m->store, m->id, &w, 1, &r);
    if (rc == KW_ERR_OK && r.status != KW_INGEST_STORED) {
        fprintf(stderr, "hostile-peer: own entry not stored (%s)\n", kw_strerror(r.err));
        rc = KW_ERR_STORE;
    }
    return rc;
}

/* Appends a new valid entry with value to the member's own feed and to list. */
static kw_err own_append(member *m, entry_list *list, const char *value)
{
    kw_head head;
    entry *e;
    kw_err rc = kw_store_head(m->store, kw_identity_pk(m->id), &head);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    if ((e = entry_list_add(list)) == NULL) {
        return KW_ERR_NOMEM;
    }
    if ((rc = build_entry(e, m->id, head.seq + 1, head.seq ? head.id : NULL, value, DEFECT_NONE))
            != KW_ERR_OK
        || (rc = own_store(m, e)) != KW_ERR_OK) {
        free(e->payload);
        list->n--;
        return rc;
    }
    return KW_ERR_OK;
}

/* ---- Member files ---- */

static kw_err read_psk(const char *dir, uint8_t psk[static 32])
{
    char path[4200];
    uint8_t *raw = sodium_malloc(129);
    size_t len = 0;
    kw_err rc;

    if (raw == NULL) {
        return KW_ERR_NOMEM;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, KW_COMMUNITY_FILE);
    rc = kw_secret_file_read(path, raw, 128, &len);
    if (rc == KW_ERR_OK && len == 32) {
        memcpy(psk, raw, 32);
    } else if (rc == KW_ERR_OK) {
        while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r' || raw[len - 1] == ' ')) {
            len--;
        }
        raw[len] = '\0';
        rc = kw_community_decode(psk, (const char *)raw);
    }
    sodium_free(raw);
    return rc;
}

static void member_close(member *m)
{
    kw_store_close(m->store);
    kw_identity_free(m->id);
    sodium_free(m->psk);
    memset(m, 0, sizeof(*m));
}

static int member_open(member *m, const char *dir, bool need_psk)
{
    char path[4200];
    kw_err rc;

    memset(m, 0, sizeof(*m));
    snprintf(m->dir, sizeof(m->dir), "%s", dir);
    snprintf(path, sizeof(path), "%s/identity.key", dir);
    if ((rc = kw_identity_load(&m->id, path, NULL)) != KW_ERR_OK) {
        return setup_error("%s: %s", path, kw_strerror(rc));
    }
    if ((m->psk = sodium_malloc(32)) == NULL) {
        return setup_error("out of memory");
    }
    if (need_psk && (rc = read_psk(dir, m->psk)) != KW_ERR_OK) {
        return setup_error("%s/%s: %s", dir, KW_COMMUNITY_FILE, kw_strerror(rc));
    }
    if ((rc = kw_store_open(&m->store, dir, 0)) != KW_ERR_OK) {
        return setup_error("%s: cannot open the store: %s", dir, kw_strerror(rc));
    }
    if (kw_store_name(m->store, m->name, sizeof(m->name)) != KW_ERR_OK) {
        snprintf(m->name, sizeof(m->name), "hostile");
    }
    return 0;
}

/* ---- Session: framing and Noise ---- */

static void sess_free(sess *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    kw_noise_cipher_free(s->tx);
    kw_noise_cipher_free(s->rx);
    free(s->frame);
    free(s->hs_msg);
    kw_buf_free(&s->in);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

static void mark_closed(sess *s)
{
    if (!s->closed) {
        s->closed = true;
        s->t_closed = now_s();
    }
}

static kw_err buf_append(kw_buf *b, const void *p, size_t len)
{
    if (kw_buf_reserve(b, len) != KW_ERR_OK) {
        return KW_ERR_NOMEM;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return KW_ERR_OK;
}

static int write_all(sess *s, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(s->fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            mark_closed(s);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Appends one encrypted Noise transport frame (2-byte length + ciphertext) to out. */
static kw_err encrypt_frame(sess *s, const uint8_t *plain, size_t len, kw_buf *out)
{
    uint8_t ct[KW_NOISE_MAX_MSG];
    size_t ct_len = 0;
    kw_err rc = kw_noise_cipher_encrypt(s->tx, NULL, 0, plain, len, ct, sizeof(ct), &ct_len);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    if ((kw_noise_cipher_nonce(s->tx) % REKEY_EVERY) == 0) {
        kw_noise_cipher_rekey(s->tx);
    }
    uint8_t pre[2] = { (uint8_t)(ct_len >> 8), (uint8_t)ct_len };
    if ((rc = buf_append(out, pre, 2)) != KW_ERR_OK) {
        return rc;
    }
    return buf_append(out, ct, ct_len);
}

/* Encrypts a piece of the application byte stream, cut into transport frames, and sends it. */
static int send_stream(sess *s, const uint8_t *data, size_t len)
{
    kw_buf out = { 0 };
    size_t off = 0;
    int ret = -1;

    while (off < len) {
        size_t take = len - off < KW_NOISE_MAX_PAYLOAD ? len - off : KW_NOISE_MAX_PAYLOAD;
        if (encrypt_frame(s, data + off, take, &out) != KW_ERR_OK) {
            goto out;
        }
        off += take;
    }
    ret = write_all(s, out.p, out.len);
out:
    kw_buf_free(&out);
    return ret;
}

/* Appends one application message (4-byte length + msg) to a stream buffer. */
static kw_err app_frame(kw_buf *stream, const uint8_t *msg, size_t len)
{
    uint8_t pre[4]
        = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    kw_err rc = buf_append(stream, pre, 4);
    return rc == KW_ERR_OK ? buf_append(stream, msg, len) : rc;
}

static int send_app(sess *s, const uint8_t *msg, size_t len)
{
    kw_buf stream = { 0 };
    int ret = -1;
    if (app_frame(&stream, msg, len) == KW_ERR_OK) {
        ret = send_stream(s, stream.p, stream.len);
    }
    kw_buf_free(&stream);
    return ret;
}

/* Takes one whole application message from the stream, if there is one (caller frees). */
static bool next_msg(sess *s, uint8_t **msg, size_t *len)
{
    if (s->in.len < 4) {
        return false;
    }
    size_t mlen = (size_t)s->in.p[0] << 24 | (size_t)s->in.p[1] << 16 | (size_t)s->in.p[2] << 8
        | s->in.p[3];
    if (s->in.len < 4 + mlen) {
        return false;
    }
    *msg = malloc(mlen ? mlen : 1);
    if (*msg == NULL) {
        return false;
    }
    memcpy(*msg, s->in.p + 4, mlen);
    *len = mlen;
    memmove(s->in.p, s->in.p + 4 + mlen, s->in.len - 4 - mlen);
    s->in.len -= 4 + mlen;
    return true;
}

static void on_frame(sess *s, const uint8_t *msg, size_t len)
{
    if (s->rx == NULL) {
        memcpy(s->hs_msg, msg, len);
        s->hs_len = len;
        s->hs_ready = true;
        return;
    }
    uint8_t plain[KW_NOISE_MAX_MSG];
    size_t plen = 0;
    if (kw_noise_cipher_decrypt(s->rx, NULL, 0, msg, len, plain, sizeof(plain), &plen)
        != KW_ERR_OK) {
        say("error: a transport frame from the node failed to authenticate");
        mark_closed(s);
        return;
    }
    if ((kw_noise_cipher_nonce(s->rx) % REKEY_EVERY) == 0) {
        kw_noise_cipher_rekey(s->rx);
    }
    buf_append(&s->in, plain, plen);
}

/* Reads what arrives within timeout_s. 1: bytes read, 0: nothing, -1: closed. */
static int read_some(sess *s, double timeout_s)
{
    static uint8_t rbuf[65536];
    struct pollfd pfd = { s->fd, POLLIN, 0 };
    int ms = timeout_s <= 0 ? 0 : (int)(timeout_s * 1000.0) + 1;

    if (s->closed) {
        return -1;
    }
    int pr = poll(&pfd, 1, ms);
    if (pr <= 0) {
        return 0;
    }
    ssize_t n = recv(s->fd, rbuf, sizeof(rbuf), 0);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            return 0;
        }
        mark_closed(s);
        return -1;
    }
    for (size_t off = 0; off < (size_t)n && !s->closed;) {
        if (s->frame_len < 2) {
            s->frame[s->frame_len++] = rbuf[off++];
            continue;
        }
        size_t flen = (size_t)s->frame[0] << 8 | s->frame[1];
        size_t take = flen + 2 - s->frame_len;
        if (take > (size_t)n - off) {
            take = (size_t)n - off;
        }
        memcpy(s->frame + s->frame_len, rbuf + off, take);
        s->frame_len += take;
        off += take;
        if (s->frame_len == flen + 2) {
            s->frame_len = 0;
            on_frame(s, s->frame + 2, flen);
        }
    }
    return 1;
}

/* Notes what one message from the node says. */
static void note_msg(sess *s, const uint8_t *buf, size_t len)
{
    kw_msg m;
    s->st.messages++;
    if (kw_msg_decode(&m, buf, len) != KW_ERR_OK) {
        say("warning: the node sent a message this tool cannot decode (%zu bytes)", len);
        return;
    }
    switch (m.type) {
    case KW_MSG_HELLO:
        s->got_hello = true;
        snprintf(s->node_name, sizeof(s->node_name), "%s", m.name);
        break;
    case KW_MSG_HAVE:
        s->got_have = true;
        for (size_t i = 0; i < m.n_have; i++) {
            if (memcmp(m.have[i].origin, s->target, 32) == 0) {
                s->target_head = m.have[i].seq;
            }
        }
        break;
    case KW_MSG_PONG:
        s->st.pongs++;
        break;
    case KW_MSG_PRUNE:
        s->st.prunes++;
        break;
    case KW_MSG_ENTRIES:
        for (size_t i = 0; i < m.n_entries; i++) {
            kw_header h;
            if (kw_header_decode(&h, m.entries[i].hdr, m.entries[i].hdr_len) != KW_ERR_OK
                || memcmp(h.origin, s->watch, 32) != 0) {
                continue;
            }
            s->st.entries++;
            if (h.seq > s->st.max_seq) {
                s->st.max_seq = h.seq;
            }
            if (h.tlp == KW_TLP_RED) {
                s->st.red_headers++;
                if (m.entries[i].payload != NULL) {
                    s->st.red_payloads++;
                }
            }
        }
        break;
    default:
        break;
    }
    kw_msg_clear(&m);
}

/* Reads and notes messages for up to seconds (stops early once the node has closed). */
static void drain(sess *s, double seconds)
{
    double end = now_s() + seconds;
    do {
        uint8_t *msg;
        size_t len;
        while (next_msg(s, &msg, &len)) {
            note_msg(s, msg, len);
            free(msg);
        }
        if (s->closed) {
            return;
        }
        read_some(s, end - now_s());
    } while (now_s() < end);
    uint8_t *msg;
    size_t len;
    while (next_msg(s, &msg, &len)) {
        note_msg(s, msg, len);
        free(msg);
    }
}

/* Waits up to seconds for the node to close the session. True when it did. */
static bool wait_closed(sess *s, double seconds)
{
    drain(s, seconds);
    return s->closed;
}

static kw_err parse_loopback(const char *addr, struct sockaddr_in *sa)
{
    char host[128];
    uint16_t port;
    memset(sa, 0, sizeof(*sa));
    if (kw_hostport_parse(addr, host, sizeof(host), &port) != KW_ERR_OK
        || inet_pton(AF_INET, host, &sa->sin_addr) != 1
        || (ntohl(sa->sin_addr.s_addr) >> 24) != 127) {
        return KW_ERR_INVAL;
    }
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    return KW_ERR_OK;
}

/*
 * Connects, runs the handshake as initiator, sends HELLO and waits for the node's HELLO and
 * HAVE. OPEN_REFUSED when the node closed the connection during the handshake (it does so
 * for a backed-off peer), OPEN_FAIL on anything else that went wrong (why says what).
 */
static int sess_open1(sess *s, const char *addr, const uint8_t target[static 32], const member *m,
    char *why, size_t why_cap)
{
    struct sockaddr_in sa;
    kw_noise_hs *hs = NULL;
    uint8_t xpk[32], out[256];
    size_t out_len = 0;
    kw_buf hello = { 0 };
    int one = 1, ret = OPEN_FAIL;
    double end;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    memcpy(s->target, target, 32);
    memcpy(s->watch, target, 32);
    if ((s->frame = malloc(FRAME_CAP)) == NULL || (s->hs_msg = malloc(FRAME_CAP)) == NULL) {
        snprintf(why, why_cap, "out of memory");
        goto out;
    }
    if (parse_loopback(addr, &sa) != KW_ERR_OK) {
        snprintf(
            why, why_cap, "'%s' is not 127.x.x.x:PORT (this tool only talks to loopback)", addr);
        goto out;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, target) != 0) {
        snprintf(why, why_cap, "the target id is not a usable key");
        goto out;
    }
    if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0
        || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(why, why_cap, "cannot connect to %s: %s", addr, strerror(errno));
        goto out;
    }
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (kw_noise_hs_new(&hs, KW_NOISE_PROTOCOL, true, (const uint8_t *)KW_NOISE_PROLOGUE,
            strlen(KW_NOISE_PROLOGUE))
            != KW_ERR_OK
        || kw_noise_hs_set_static(hs, kw_identity_x25519_sk(m->id)) != KW_ERR_OK
        || kw_noise_hs_add_psk(hs, m->psk) != KW_ERR_OK
        || kw_noise_hs_set_remote_static(hs, xpk) != KW_ERR_OK
        || kw_noise_hs_write_message(hs, NULL, 0, out + 2, sizeof(out) - 2, &out_len)
            != KW_ERR_OK) {
        snprintf(why, why_cap, "handshake setup failed");
        goto out;
    }
    out[0] = (uint8_t)(out_len >> 8);
    out[1] = (uint8_t)out_len;
    if (write_all(s, out, out_len + 2) != 0) {
        ret = OPEN_REFUSED;
        snprintf(why, why_cap, "the node closed the connection during the handshake");
        goto out;
    }
    end = now_s() + OPEN_TIMEOUT_S;
    while (!s->hs_ready && !s->closed && now_s() < end) {
        read_some(s, end - now_s());
    }
    if (!s->hs_ready) {
        ret = s->closed ? OPEN_REFUSED : OPEN_FAIL;
        snprintf(why, why_cap,
            s->closed ? "the node closed the connection during the handshake"
                      : "no handshake answer in time");
        goto out;
    }
    if (kw_noise_hs_read_message(hs, s->hs_msg, s->hs_len, NULL, 0, &out_len) != KW_ERR_OK
        || kw_noise_hs_split(hs, &s->tx, &s->rx) != KW_ERR_OK) {
        snprintf(why, why_cap, "handshake message 2 did not authenticate");
        goto out;
    }
    if (kw_msg_encode_hello(&hello, m->name, kw_identity_pk(m->id)) != KW_ERR_OK
        || send_app(s, hello.p, hello.len) != 0) {
        snprintf(why, why_cap, "cannot send HELLO");
        goto out;
    }
    end = now_s() + OPEN_TIMEOUT_S;
    while (!(s->got_hello && s->got_have) && !s->closed && now_s() < end) {
        drain(s, 0.05);
    }
    if (!(s->got_hello && s->got_have)) {
        snprintf(why, why_cap,
            s->closed ? "the node closed the session after HELLO"
                      : "no HELLO and HAVE from the node in time");
        goto out;
    }
    ret = OPEN_OK;
out:
    kw_noise_hs_free(hs);
    kw_buf_free(&hello);
    return ret;
}

/* Opens a session, retrying a refused handshake for up to retry_s (to wait out a ban). */
static int sess_open(sess *s, const char *addr, const uint8_t target[static 32], const member *m,
    double retry_s, bool quiet)
{
    char why[200] = "";
    double t0 = now_s(), end = t0 + retry_s;
    int refusals = 0, ret;

    for (;;) {
        ret = sess_open1(s, addr, target, m, why, sizeof(why));
        if (ret == OPEN_OK || ret == OPEN_FAIL || now_s() >= end) {
            break;
        }
        refusals++;
        sess_free(s);
        sleep_s(0.2);
    }
    if (ret == OPEN_OK) {
        if (!quiet) {
            say("session up with %s (%s) after %.1f s%s%s", s->node_name, addr, now_s() - t0,
                refusals ? ", having been refused while backed off " : "",
                refusals ? "(waited out)" : "");
        }
    } else {
        if (!quiet) {
            say("no session with %s: %s", addr, why);
        }
        sess_free(s);
    }
    return ret;
}

/* After the node closed a session: is a reconnect right away refused? */
static void check_reconnect(const char *addr, const uint8_t target[static 32], const member *m)
{
    sess s;
    char why[200] = "";
    int ret = sess_open1(&s, addr, target, m, why, sizeof(why));
    if (ret == OPEN_OK) {
        say("reconnect right after: accepted (not backed off)");
    } else if (ret == OPEN_REFUSED) {
        say("reconnect right after: refused (%s)", why);
    } else {
        say("reconnect right after: failed (%s)", why);
    }
    sess_free(&s);
}

/* Reports whether the node closed the session within wait_s, and checks the backoff. */
static void report_close(sess *s, double t_sent, double wait_s, const char *addr, const member *m)
{
    if (wait_closed(s, wait_s)) {
        say("closed by node after %.2f s", s->t_closed - t_sent);
        check_reconnect(addr, s->target, m);
    } else {
        say("still open after %.1f s", now_s() - t_sent);
    }
}

/* ---- Messages ---- */

static int send_entries(sess *s, const entry *e, size_t n, bool push)
{
    kw_buf b = { 0 };
    int ret = -1;
    if (kw_msg_encode_entries_begin(&b, push, n) != KW_ERR_OK) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (kw_msg_encode_entry(
                &b, e[i].hdr, e[i].hdr_len, e[i].sig, e[i].payload, e[i].payload_len)
            != KW_ERR_OK) {
            goto out;
        }
    }
    ret = send_app(s, b.p, b.len);
out:
    kw_buf_free(&b);
    return ret;
}

/* Sends a whole feed as catch-up ENTRIES (not a push) in batches, so the node holds it. */
static int send_feed(sess *s, const entry_list *l)
{
    for (size_t off = 0; off < l->n; off += 512) {
        size_t n = l->n - off < 512 ? l->n - off : 512;
        if (send_entries(s, l->e + off, n, false) != 0) {
            return -1;
        }
    }
    return 0;
}

static int send_ping(sess *s, uint64_t nonce)
{
    kw_buf b = { 0 };
    int ret = -1;
    if (kw_msg_encode_ping(&b, KW_MSG_PING, nonce) == KW_ERR_OK) {
        ret = send_app(s, b.p, b.len);
    }
    kw_buf_free(&b);
    return ret;
}

/* Does the session still answer? Sends a PING and waits for its PONG. */
static bool still_serves(sess *s, double seconds)
{
    uint64_t before = s->st.pongs;
    if (send_ping(s, 424242) != 0) {
        return false;
    }
    double end = now_s() + seconds;
    while (s->st.pongs == before && !s->closed && now_s() < end) {
        drain(s, 0.05);
    }
    return s->st.pongs > before;
}

/* ---- Scenarios ---- */

typedef struct ctx {
    const opts *o;
    member m;
    sess s;
} ctx;

/* The member's own feed, with at least one entry (one is appended if it is empty). */
static int own_feed(ctx *c, entry_list *feed, const char *seed_value)
{
    entry_list added = { 0 };
    kw_err rc = feed_load(c->m.store, kw_identity_pk(c->m.id), feed);
    if (rc == KW_ERR_OK && feed->n == 0) {
        rc = own_append(&c->m, &added, seed_value);
        entry_list_free(&added);
        if (rc == KW_ERR_OK) {
            rc = feed_load(c->m.store, kw_identity_pk(c->m.id), feed);
        }
    }
    if (rc != KW_ERR_OK) {
        return setup_error("cannot read the member's own feed: %s", kw_strerror(rc));
    }
    return 0;
}

/* forged-sig, broken-chain, bad-hash: the member's feed, then one crafted next entry. */
static int sc_bad_entry(ctx *c)
{
    const char *sc = c->o->scenario;
    entry_list feed = { 0 };
    entry bad;
    uint8_t prev[32];
    char value[128];
    int ret;

    snprintf(value, sizeof(value), "%s.hostile.example", sc);
    if ((ret = own_feed(c, &feed, "member-feed.hostile.example")) != 0) {
        return ret;
    }
    const entry *last = &feed.e[feed.n - 1];
    entry_id_of(prev, last);
    uint64_t seq = feed.n + 1;
    int defect = DEFECT_NONE;
    if (strcmp(sc, "broken-chain") == 0) {
        randombytes_buf(prev, sizeof(prev)); /* a prev that is no entry of this feed */
    } else if (strcmp(sc, "bad-hash") == 0) {
        defect = DEFECT_HASH;
    }
    if (build_entry(&bad, c->m.id, seq, prev, value, defect) != KW_ERR_OK) {
        entry_list_free(&feed);
        return setup_error("cannot build the entry");
    }
    if (strcmp(sc, "forged-sig") == 0) {
        bad.sig[17] ^= 0x01;
    }
    say("sending the member's feed (seq 1-%zu), then seq %llu (%s) with indicator %s", feed.n,
        (unsigned long long)seq,
        strcmp(sc, "forged-sig") == 0         ? "signature byte 17 flipped"
            : strcmp(sc, "broken-chain") == 0 ? "validly signed, prev is random"
                                              : "validly signed, payload not matching its hash",
        value);
    send_feed(&c->s, &feed);
    double t = now_s();
    send_entries(&c->s, &bad, 1, true);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    free(bad.payload);
    entry_list_free(&feed);
    return 0;
}

/* undecodable: the member's feed, then an entry validly signed and chained whose payload
 * matches its hash but is no bundle, then a valid entry chained to it. A member may sign
 * what this version cannot read (a newer payload form, or a bug): the node keeps it as
 * unreadable, keeps the session, and the feed goes on. */
static int sc_undecodable(ctx *c)
{
    entry_list feed = { 0 };
    entry two[2];
    uint8_t prev[32];
    int ret;

    if ((ret = own_feed(c, &feed, "member2-feed.hostile.example")) != 0) {
        return ret;
    }
    entry_id_of(prev, &feed.e[feed.n - 1]);
    uint64_t seq = feed.n + 1;
    if (build_entry(&two[0], c->m.id, seq, prev, "undecodable.hostile.example",
            DEFECT_UNDECODABLE)
        != KW_ERR_OK) {
        entry_list_free(&feed);
        return setup_error("cannot build the entry");
    }
    entry_id_of(prev, &two[0]);
    if (build_entry(&two[1], c->m.id, seq + 1, prev, "after-undecodable.hostile.example",
            DEFECT_NONE)
        != KW_ERR_OK) {
        free(two[0].payload);
        entry_list_free(&feed);
        return setup_error("cannot build the entry");
    }
    say("sending the member's feed (seq 1-%zu), then seq %llu (validly signed, payload [1,2,3])"
        " and seq %llu with indicator after-undecodable.hostile.example",
        feed.n, (unsigned long long)seq, (unsigned long long)seq + 1);
    send_feed(&c->s, &feed);
    double t = now_s();
    send_entries(&c->s, two, 2, true);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    free(two[0].payload);
    free(two[1].payload);
    entry_list_free(&feed);
    return 0;
}

/* false-fork: the member's feed, then "fork evidence" for its last seq whose second entry
 * is a different header with a signature that does not verify. */
static int sc_false_fork(ctx *c)
{
    entry_list feed = { 0 };
    entry pair[2];
    int ret;

    if ((ret = own_feed(c, &feed, "member-feed.hostile.example")) != 0) {
        return ret;
    }
    const entry *last = &feed.e[feed.n - 1];
    uint8_t prev[32];
    if (feed.n > 1) {
        entry_id_of(prev, &feed.e[feed.n - 2]);
    }
    if (build_entry(&pair[1], c->m.id, feed.n, feed.n > 1 ? prev : NULL,
            "false-fork.hostile.example", DEFECT_NONE)
        != KW_ERR_OK) {
        entry_list_free(&feed);
        return setup_error("cannot build the entry");
    }
    pair[1].sig[9] ^= 0x01;
    free(pair[1].payload);
    pair[1].payload = NULL;
    pair[1].payload_len = 0;
    pair[0] = *last;
    pair[0].payload = NULL;
    pair[0].payload_len = 0;
    say("sending the member's feed (seq 1-%zu), then fork evidence for seq %zu whose second "
        "entry's signature does not verify",
        feed.n, feed.n);
    send_feed(&c->s, &feed);
    double t = now_s();
    send_entries(&c->s, pair, 2, false);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    entry_list_free(&feed);
    return 0;
}

static int sc_unknown_origin(ctx *c)
{
    kw_identity *stranger = NULL;
    entry e[2];
    uint8_t prev[32];
    char idt[KW_ID_TEXT_LEN];

    if (kw_identity_generate(&stranger) != KW_ERR_OK
        || build_entry(&e[0], stranger, 1, NULL, "unknown-origin.hostile.example", DEFECT_NONE)
            != KW_ERR_OK) {
        kw_identity_free(stranger);
        return setup_error("cannot build the entries");
    }
    entry_id_of(prev, &e[0]);
    if (build_entry(&e[1], stranger, 2, prev, "unknown-origin-2.hostile.example", DEFECT_NONE)
        != KW_ERR_OK) {
        free(e[0].payload);
        kw_identity_free(stranger);
        return setup_error("cannot build the entries");
    }
    kw_id_encode(idt, kw_identity_pk(stranger));
    say("sending seq 1-2 of a fresh origin not in the roster: origin=%s", idt);
    double t = now_s();
    send_entries(&c->s, e, 2, true);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    free(e[0].payload);
    free(e[1].payload);
    kw_identity_free(stranger);
    return 0;
}

/* replay and reorder: two PINGs in their own transport frames, resent or swapped. */
static int sc_replay_reorder(ctx *c, bool reorder)
{
    kw_buf p1 = { 0 }, p2 = { 0 }, s1 = { 0 }, s2 = { 0 }, f1 = { 0 }, f2 = { 0 };
    int ret = EXIT_RAN;

    if (kw_msg_encode_ping(&p1, KW_MSG_PING, 1) != KW_ERR_OK
        || kw_msg_encode_ping(&p2, KW_MSG_PING, 2) != KW_ERR_OK
        || app_frame(&s1, p1.p, p1.len) != KW_ERR_OK || app_frame(&s2, p2.p, p2.len) != KW_ERR_OK
        || encrypt_frame(&c->s, s1.p, s1.len, &f1) != KW_ERR_OK
        || encrypt_frame(&c->s, s2.p, s2.len, &f2) != KW_ERR_OK) {
        ret = setup_error("cannot build frames");
        goto out;
    }
    double t;
    if (reorder) {
        say("sending two PING transport frames (nonces n, n+1) in swapped order");
        t = now_s();
        write_all(&c->s, f2.p, f2.len);
        write_all(&c->s, f1.p, f1.len);
    } else {
        say("sending a PING transport frame, waiting for its PONG, then the same frame again");
        write_all(&c->s, f1.p, f1.len);
        double end = now_s() + 2;
        while (c->s.st.pongs == 0 && !c->s.closed && now_s() < end) {
            drain(&c->s, 0.05);
        }
        say("first copy answered: %s", c->s.st.pongs > 0 ? "yes (PONG)" : "no");
        t = now_s();
        write_all(&c->s, f1.p, f1.len);
    }
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
out:
    kw_buf_free(&p1);
    kw_buf_free(&p2);
    kw_buf_free(&s1);
    kw_buf_free(&s2);
    kw_buf_free(&f1);
    kw_buf_free(&f2);
    return ret;
}

static int sc_duplicate(ctx *c)
{
    entry_list feed = { 0 }, added = { 0 };
    int ret;

    if (own_append(&c->m, &added, "duplicate.hostile.example") != KW_ERR_OK) {
        return setup_error("cannot append to the member's feed");
    }
    entry_list_free(&added);
    if ((ret = own_feed(c, &feed, "member-feed.hostile.example")) != 0) {
        return ret;
    }
    say("sending the member's feed (seq 1-%zu, last one new: duplicate.hostile.example) as a "
        "pushed ENTRIES message, twice",
        feed.n);
    double t = now_s();
    send_entries(&c->s, feed.e, feed.n, true);
    send_entries(&c->s, feed.e, feed.n, true);
    bool pong = still_serves(&c->s, 3);
    say("PING after the duplicate: %s", pong ? "answered" : "not answered");
    if (c->s.st.prunes > 0) {
        say("the node answered the duplicate push with PRUNE (link made lazy)");
    }
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    entry_list_free(&feed);
    return 0;
}

static int sc_oversize(ctx *c)
{
    uint32_t len = KW_APP_MSG_MAX + 1;
    uint8_t pre[4]
        = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    say("sending an application length prefix of %u bytes (limit %u)", len, KW_APP_MSG_MAX);
    double t = now_s();
    send_stream(&c->s, pre, sizeof(pre));
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    return 0;
}

/*
 * slow-drip: announces a 1 MiB application message and sends one byte of it every 0.3 s,
 * each byte in its own transport frame. slow-frame does the same one level down: a Noise
 * frame length of 60000 followed by one byte every 0.3 s (plain TCP bytes, nothing to
 * decrypt until the frame is whole).
 */
static int sc_slow(ctx *c, bool frame_level)
{
    double limit = c->o->quick ? 5.0 : 45.0;
    uint64_t sent = 0;

    if (frame_level) {
        say("announcing a 60000-byte transport frame, then trickling 1 byte per 0.3 s for up "
            "to %.0f s",
            limit);
        uint8_t pre[2] = { 60000 >> 8, 60000 & 0xff };
        write_all(&c->s, pre, 2);
    } else {
        uint32_t len = 1u << 20;
        uint8_t pre[5] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
            (uint8_t)len, 0xc4 };
        say("announcing a %u-byte message, then trickling 1 byte per 0.3 s for up to %.0f s", len,
            limit);
        send_stream(&c->s, pre, sizeof(pre));
    }
    double t = now_s();
    while (!c->s.closed && now_s() - t < limit) {
        uint8_t byte = 0x00;
        if (frame_level) {
            write_all(&c->s, &byte, 1);
        } else {
            send_stream(&c->s, &byte, 1);
        }
        sent++;
        drain(&c->s, 0.3);
    }
    if (c->s.closed) {
        say("closed by node after %.2f s (%llu bytes trickled)", c->s.t_closed - t,
            (unsigned long long)sent);
        check_reconnect(c->o->connect[0], c->s.target, &c->m);
    } else {
        say("still open after %.1f s (%llu bytes trickled)%s", now_s() - t,
            (unsigned long long)sent,
            c->o->quick ? "; --quick does not wait for the 30 s partial-message timeout" : "");
    }
    return 0;
}

/* flood: 10,000 PINGs per second for 2 seconds, 100 per transport frame every 10 ms. */
static int sc_flood(ctx *c)
{
    uint64_t sent = 0, nonce = 0;
    double t = now_s();

    say("sending 10000 PING messages per second for 2 s");
    while (!c->s.closed && now_s() - t < 2.0) {
        kw_buf stream = { 0 };
        for (int i = 0; i < 100; i++) {
            kw_buf p = { 0 };
            kw_msg_encode_ping(&p, KW_MSG_PING, ++nonce);
            app_frame(&stream, p.p, p.len);
            kw_buf_free(&p);
        }
        if (send_stream(&c->s, stream.p, stream.len) == 0) {
            sent += 100;
        }
        kw_buf_free(&stream);
        double next = t + (double)sent / 10000.0;
        drain(&c->s, next - now_s() > 0 ? next - now_s() : 0);
    }
    say("sent %llu PINGs, %llu PONGs came back", (unsigned long long)sent,
        (unsigned long long)c->s.st.pongs);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    return 0;
}

/* empty-frames: 10,000 empty transport frames (tag only) per second for 2 seconds. */
static int sc_empty_frames(ctx *c)
{
    uint64_t sent = 0;
    double t = now_s();

    say("sending 10000 empty transport frames per second for 2 s");
    while (!c->s.closed && now_s() - t < 2.0) {
        kw_buf out = { 0 };
        for (int i = 0; i < 100; i++) {
            encrypt_frame(&c->s, NULL, 0, &out);
        }
        if (write_all(&c->s, out.p, out.len) == 0) {
            sent += 100;
        }
        kw_buf_free(&out);
        double next = t + (double)sent / 10000.0;
        drain(&c->s, next - now_s() > 0 ? next - now_s() : 0);
    }
    say("sent %llu empty frames", (unsigned long long)sent);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    return 0;
}

static int sc_unknown_type(ctx *c)
{
    static const uint8_t msg[] = { 0x92, 0xcc, 200, 0x01 }; /* [200, 1] */
    say("sending a message of type 200");
    double t = now_s();
    send_app(&c->s, msg, sizeof(msg));
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    return 0;
}

static int sc_deep_nesting(ctx *c)
{
    enum { DEPTH = 10000 };
    uint8_t *msg = malloc(DEPTH + 2);
    size_t o = 0;
    if (msg == NULL) {
        return setup_error("out of memory");
    }
    /* [1, [[[ ... nil ... ]]]]: a PING whose nonce is an array nested 10,000 deep in all. */
    msg[o++] = 0x92;
    msg[o++] = 0x01;
    for (int i = 0; i < DEPTH - 1; i++) {
        msg[o++] = 0x91;
    }
    msg[o++] = 0xc0;
    say("sending a message with arrays nested %d deep (%zu bytes)", DEPTH, o);
    double t = now_s();
    send_app(&c->s, msg, o);
    free(msg);
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    return 0;
}

static int sc_red_request(ctx *c)
{
    kw_buf want = { 0 }, graft = { 0 };
    char idt[KW_ID_TEXT_LEN];

    kw_id_encode(idt, c->s.target);
    if (kw_msg_encode_ref(&want, KW_MSG_WANT, c->s.target, 1) != KW_ERR_OK
        || kw_msg_encode_ref(&graft, KW_MSG_GRAFT, c->s.target, 1) != KW_ERR_OK) {
        kw_buf_free(&want);
        kw_buf_free(&graft);
        return setup_error("out of memory");
    }
    say("asking for the node's own feed (origin=%s, head %llu) with WANT from 1 and GRAFT "
        "from 1",
        idt, (unsigned long long)c->s.target_head);
    double t = now_s();
    send_app(&c->s, want.p, want.len);
    send_app(&c->s, graft.p, graft.len);
    kw_buf_free(&want);
    kw_buf_free(&graft);
    double end = t + 5;
    while (!c->s.closed && now_s() < end && c->s.st.max_seq < c->s.target_head) {
        drain(&c->s, 0.1);
    }
    drain(&c->s, 0.5); /* the GRAFT answer may follow the WANT answer */
    say("answer: %llu entries of that feed (up to seq %llu), %llu RED headers, %llu RED "
        "payloads",
        (unsigned long long)c->s.st.entries, (unsigned long long)c->s.st.max_seq,
        (unsigned long long)c->s.st.red_headers, (unsigned long long)c->s.st.red_payloads);
    if (c->s.st.red_headers == 0) {
        say("RED check: no RED entry in the answer (nothing to check)");
    } else if (c->s.st.red_payloads == 0) {
        say("RED check: headers only, no RED payload sent");
    } else {
        say("RED check: RED PAYLOAD LEAKED to a non-recipient");
    }
    report_close(&c->s, t, c->o->wait_s, c->o->connect[0], &c->m);
    return 0;
}

static int sc_second_session(ctx *c)
{
    sess s2;
    say("opening a second session with the same key while the first is open");
    double t = now_s();
    if (sess_open(&s2, c->o->connect[0], c->o->target[0], &c->m, 0, true) != OPEN_OK) {
        say("second session: refused");
        say("first session: %s",
            still_serves(&c->s, 2) ? "still open and answering" : "no longer answering");
        return 0;
    }
    say("second session: up");
    bool closed1 = wait_closed(&c->s, c->o->wait_s);
    if (closed1) {
        say("first session: closed by node after %.2f s", c->s.t_closed - t);
    } else {
        say("first session: still open after %.1f s", now_s() - t);
    }
    say("second session: %s",
        still_serves(&s2, 2) ? "open and answering PING"
                             : (s2.closed ? "closed by node" : "not answering"));
    if (!closed1 && !s2.closed) {
        say("both sessions open");
    }
    sess_free(&s2);
    return 0;
}

static int sc_connect(ctx *c)
{
    say("session answers PING: %s", still_serves(&c->s, 2) ? "yes" : "no");
    return 0;
}

/*
 * fork: signs two different valid entries with the same seq (the origin's head + 1) and sends
 * one to each of two nodes, at the same moment, after the origin's feed up to its head.
 */
static int run_fork(const opts *o, member *session_m)
{
    member om;
    entry_list feed = { 0 };
    entry x[2];
    uint8_t prev[32];
    sess s[2];
    int ret;

    if (o->n_connect != 2 || o->n_target != 2) {
        return setup_error("fork needs two --connect and two --target-id");
    }
    if ((ret = member_open(&om, o->origin_dir ? o->origin_dir : o->dir, false)) != 0) {
        return ret;
    }
    if (feed_load(om.store, kw_identity_pk(om.id), &feed) != KW_ERR_OK) {
        member_close(&om);
        return setup_error("cannot read the origin's feed");
    }
    uint64_t seq = feed.n + 1;
    if (feed.n > 0) {
        entry_id_of(prev, &feed.e[feed.n - 1]);
    }
    if (build_entry(&x[0], om.id, seq, feed.n ? prev : NULL, "fork-a.hostile.example", DEFECT_NONE)
            != KW_ERR_OK
        || build_entry(
               &x[1], om.id, seq, feed.n ? prev : NULL, "fork-b.hostile.example", DEFECT_NONE)
            != KW_ERR_OK) {
        entry_list_free(&feed);
        member_close(&om);
        return setup_error("cannot build the entries");
    }
    for (size_t i = 0; i < 2; i++) {
        if (sess_open(&s[i], o->connect[i], o->target[i], session_m, o->retry_s, false)
            != OPEN_OK) {
            if (i == 1) {
                sess_free(&s[0]);
            }
            free(x[0].payload);
            free(x[1].payload);
            entry_list_free(&feed);
            member_close(&om);
            return EXIT_NOSESSION;
        }
        memcpy(s[i].watch, kw_identity_pk(om.id), 32);
        send_feed(&s[i], &feed);
    }
    char idt[KW_ID_TEXT_LEN];
    kw_id_encode(idt, kw_identity_pk(om.id));
    say("origin=%s: sending seq %llu with fork-a.hostile.example to %s and seq %llu with "
        "fork-b.hostile.example to %s",
        idt, (unsigned long long)seq, o->connect[0], (unsigned long long)seq, o->connect[1]);
    double t = now_s();
    send_entries(&s[0], &x[0], 1, true);
    send_entries(&s[1], &x[1], 1, true);
    for (size_t i = 0; i < 2; i++) {
        if (wait_closed(&s[i], o->wait_s)) {
            say("%s: closed by node after %.2f s", o->connect[i], s[i].t_closed - t);
        } else {
            say("%s: still open after %.1f s", o->connect[i], now_s() - t);
        }
        sess_free(&s[i]);
    }
    free(x[0].payload);
    free(x[1].payload);
    entry_list_free(&feed);
    member_close(&om);
    return EXIT_RAN;
}

static const struct {
    const char *name;
    const char *help;
} scenarios[] = {
    { "connect", "handshake, HELLO, PING/PONG, close (is the member backed off?)" },
    { "forged-sig", "next entry of the member's feed with one signature byte flipped" },
    { "broken-chain", "next entry validly signed, prev wrong" },
    { "bad-hash", "next entry validly signed, payload not matching the header hash" },
    { "undecodable", "next entry validly signed and hashed, payload no bundle; one after it" },
    { "unknown-origin", "entries signed by a fresh key not in the roster" },
    { "replay", "a transport frame sent twice, byte for byte" },
    { "reorder", "two transport frames in swapped order" },
    { "duplicate", "the same valid ENTRIES twice (harmless: the session stays)" },
    { "oversize", "an application length prefix over the limit" },
    { "slow-drip", "a 1 MiB message announced and trickled (--quick: 5 s only)" },
    { "slow-frame", "a 60000-byte transport frame announced and trickled (--quick: 5 s)" },
    { "flood", "10,000 PINGs per second for 2 s" },
    { "empty-frames", "10,000 empty transport frames per second for 2 s" },
    { "unknown-type", "a message of type 200" },
    { "deep-nesting", "msgpack arrays nested 10,000 deep" },
    { "red-request", "WANT and GRAFT the node's own feed holding RED not for this member" },
    { "second-session", "a second session with the same key while the first is open" },
    { "fork", "two entries with one seq to two nodes (--origin-dir: whose key signs)" },
    { "false-fork", "fork evidence for the member's last seq with a forged second entry" },
};

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: hostile-peer --dir MEMBER_DIR --connect 127.0.0.1:PORT --target-id kw1... "
        "SCENARIO\n"
        "                    [--origin-dir DIR] [--quick] [--wait SECONDS] "
        "[--retry SECONDS]\n\n"
        "  --connect/--target-id  repeat both for fork (two nodes)\n"
        "  --wait SECONDS         how long to wait for the node to close (default 3)\n"
        "  --retry SECONDS        retry a refused handshake this long (default 0)\n\n"
        "Scenarios:\n");
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        fprintf(f, "  %-15s %s\n", scenarios[i].name, scenarios[i].help);
    }
}

static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof(*o));
    o->wait_s = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--quick") == 0) {
            o->quick = true;
            continue;
        } else if (a[0] != '-' || a[1] != '-') {
            if (o->scenario != NULL) {
                return setup_error("one scenario at a time ('%s' and '%s')", o->scenario, a);
            }
            o->scenario = a;
            continue;
        }
        if (v == NULL) {
            return setup_error("%s needs a value", a);
        }
        i++;
        if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--origin-dir") == 0) {
            o->origin_dir = v;
        } else if (strcmp(a, "--connect") == 0) {
            struct sockaddr_in sa;
            if (o->n_connect == MAX_TARGETS) {
                return setup_error("too many --connect");
            }
            if (parse_loopback(v, &sa) != KW_ERR_OK) {
                return setup_error("--connect: '%s' is not 127.x.x.x:PORT (loopback only)", v);
            }
            o->connect[o->n_connect++] = v;
        } else if (strcmp(a, "--target-id") == 0) {
            if (o->n_target == MAX_TARGETS) {
                return setup_error("too many --target-id");
            }
            if (kw_id_decode(o->target[o->n_target], v) != KW_ERR_OK
                || kw_id_check(o->target[o->n_target]) != KW_ERR_OK) {
                return setup_error("--target-id: '%s' is not a node id", v);
            }
            o->n_target++;
        } else if (strcmp(a, "--wait") == 0 || strcmp(a, "--retry") == 0) {
            char *end;
            double d = strtod(v, &end);
            if (*end != '\0' || d < 0 || d > 600) {
                return setup_error("%s: '%s' is not a number of seconds (0-600)", a, v);
            }
            *(strcmp(a, "--wait") == 0 ? &o->wait_s : &o->retry_s) = d;
        } else {
            usage(stderr);
            return setup_error("unknown option %s", a);
        }
    }
    if (o->dir == NULL || o->n_connect == 0 || o->n_connect != o->n_target || o->scenario == NULL) {
        usage(stderr);
        return setup_error("--dir, --connect, --target-id (as many as --connect) and a "
                           "scenario are required");
    }
    bool known = false;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        known = known || strcmp(scenarios[i].name, o->scenario) == 0;
    }
    if (!known) {
        usage(stderr);
        return setup_error("unknown scenario '%s'", o->scenario);
    }
    return 0;
}

int main(int argc, char **argv)
{
    ctx c;
    opts o;
    int ret;

    memset(&c, 0, sizeof(c));
    c.s.fd = -1;
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        return setup_error("libsodium failed to initialise");
    }
    if ((ret = parse_args(argc, argv, &o)) != 0) {
        return ret;
    }
    c.o = &o;
    if ((ret = member_open(&c.m, o.dir, true)) != 0) {
        member_close(&c.m);
        return ret;
    }
    say("scenario=%s member=%s", o.scenario, c.m.name);
    if (strcmp(o.scenario, "fork") == 0) {
        ret = run_fork(&o, &c.m);
        member_close(&c.m);
        return ret;
    }
    if (sess_open(&c.s, o.connect[0], o.target[0], &c.m, o.retry_s, false) != OPEN_OK) {
        member_close(&c.m);
        return EXIT_NOSESSION;
    }
    const char *sc = o.scenario;
    if (strcmp(sc, "forged-sig") == 0 || strcmp(sc, "broken-chain") == 0
        || strcmp(sc, "bad-hash") == 0) {
        ret = sc_bad_entry(&c);
    } else if (strcmp(sc, "undecodable") == 0) {
        ret = sc_undecodable(&c);
    } else if (strcmp(sc, "false-fork") == 0) {
        ret = sc_false_fork(&c);
    } else if (strcmp(sc, "unknown-origin") == 0) {
        ret = sc_unknown_origin(&c);
    } else if (strcmp(sc, "replay") == 0 || strcmp(sc, "reorder") == 0) {
        ret = sc_replay_reorder(&c, strcmp(sc, "reorder") == 0);
    } else if (strcmp(sc, "duplicate") == 0) {
        ret = sc_duplicate(&c);
    } else if (strcmp(sc, "oversize") == 0) {
        ret = sc_oversize(&c);
    } else if (strcmp(sc, "slow-drip") == 0 || strcmp(sc, "slow-frame") == 0) {
        ret = sc_slow(&c, strcmp(sc, "slow-frame") == 0);
    } else if (strcmp(sc, "flood") == 0) {
        ret = sc_flood(&c);
    } else if (strcmp(sc, "empty-frames") == 0) {
        ret = sc_empty_frames(&c);
    } else if (strcmp(sc, "unknown-type") == 0) {
        ret = sc_unknown_type(&c);
    } else if (strcmp(sc, "deep-nesting") == 0) {
        ret = sc_deep_nesting(&c);
    } else if (strcmp(sc, "red-request") == 0) {
        ret = sc_red_request(&c);
    } else if (strcmp(sc, "second-session") == 0) {
        ret = sc_second_session(&c);
    } else {
        ret = sc_connect(&c);
    }
    sess_free(&c.s);
    member_close(&c.m);
    return ret;
}
