/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_transport: bulk throughput of a kawan session on loopback TCP, beside the two limits
 * it is bounded by, measured in the same run.
 *
 *     bench_transport [--mb N] [--runs R] [--kv FILE]
 *
 *  - ChaCha20-Poly1305-IETF: one core encrypting 64 KiB messages (libsodium), MB/s.
 *  - Raw loopback TCP: one process writes 256 KiB chunks, another reads them, MB/s.
 *  - kawan session: a Noise_IKpsk2 handshake over a loopback TCP connection, then N MB of
 *    1 MiB application messages (the size of an ENTRIES batch) sent as node/conn.c sends
 *    them: sealed by node/framer.c one Noise message at a time (kw_tx_seal_some), each into
 *    a fresh buffer written at once; received as conn.c receives them: reads into node/framer.c's
 *    buffer (kw_rx_space), frames in place, each decrypted straight into the message buffer
 *    (kw_rx_open), messages in place (kw_rx_message). MB/s of application bytes delivered.
 *    The libuv loop and the sync code around conn.c are not part of it.
 * MB is 10^6 bytes. Each figure is the median of R runs (default 5) of N MB (default 400).
 * Sender and receiver are two processes, as two kawan daemons are (so on a 2-core machine
 * each has a core when the machine is otherwise idle, and neither waits on the other's
 * memory-map lock). Prints figures; never fails on speed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/noise.h"
#include "node/framer.h"
#include "node/wire.h"

#define MAX_RUNS 15
#define RAW_CHUNK (256 * 1024)
#define APP_MSG (1024 * 1024)

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_transport: %s: %s\n", what, why);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A connected pair of loopback TCP sockets. */
static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 1) != 0
        || getsockname(l, (struct sockaddr *)&sa, &sl) != 0) {
        die("listen", strerror(errno));
    }
    if ((*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
        || connect(*a, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || (*b = accept(l, NULL, NULL)) < 0) {
        die("connect", strerror(errno));
    }
    /* libuv sets TCP_NODELAY on kawan's connections too (uv_tcp_nodelay). */
    setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    close(l);
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("write", strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
}

static void read_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            die("read", r == 0 ? "closed" : strerror(errno));
        }
        p += r;
        len -= (size_t)r;
    }
}

/* ---- ChaCha20-Poly1305, one core ---- */

static double chacha_rate(size_t total)
{
    static uint8_t in[65536], out[65536 + 16];
    uint8_t key[32], nonce[12] = { 0 };
    unsigned long long clen;
    size_t n = total / sizeof(in);

    randombytes_buf(key, sizeof(key));
    randombytes_buf(in, sizeof(in));
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        memcpy(nonce + 4, &i, sizeof(i) < 8 ? sizeof(i) : 8);
        crypto_aead_chacha20poly1305_ietf_encrypt(
            out, &clen, in, sizeof(in), NULL, 0, NULL, nonce, key);
    }
    return (double)(n * sizeof(in)) / 1e6 / (now() - t0);
}

/* ---- Raw TCP ---- */

typedef struct raw_ctx {
    int fd;
    size_t total;
} raw_ctx;

static void raw_sender(raw_ctx *c)
{
    uint8_t *buf = malloc(RAW_CHUNK);

    if (buf == NULL) {
        die("raw", "out of memory");
    }
    memset(buf, 0x5a, RAW_CHUNK);
    for (size_t sent = 0; sent < c->total; sent += RAW_CHUNK) {
        write_all(c->fd, buf, RAW_CHUNK);
    }
    free(buf);
}

/* Runs fn(arg) in a child process and returns its pid; the child exits when fn returns. */
static pid_t spawn(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();

    if (pid < 0) {
        die("fork", strerror(errno));
    }
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    return pid;
}

static void join(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        die("sender", "failed");
    }
}

static void raw_sender_main(void *arg)
{
    raw_sender(arg);
}

static double raw_rate(size_t total)
{
    int a, b;
    pid_t pid;
    raw_ctx c;
    uint8_t *buf = malloc(RAW_CHUNK);
    size_t got = 0;

    total = (total / RAW_CHUNK) * RAW_CHUNK;
    tcp_pair(&a, &b);
    c.fd = a;
    c.total = total;
    if (buf == NULL) {
        die("raw", "out of memory");
    }
    double t0 = now();
    pid = spawn(raw_sender_main, &c);
    while (got < total) {
        ssize_t r = read(b, buf, RAW_CHUNK);
        if (r <= 0) {
            die("raw read", r == 0 ? "closed" : strerror(errno));
        }
        got += (size_t)r;
    }
    double t = now() - t0;
    join(pid);
    close(a);
    close(b);
    free(buf);
    return (double)total / 1e6 / t;
}

/* ---- kawan session ---- */

typedef struct session_ctx {
    int fd;
    size_t msgs;
    kw_noise_cipher *tx;
} session_ctx;

static void send_frame(int fd, const uint8_t *msg, size_t len)
{
    uint8_t pre[2] = { (uint8_t)(len >> 8), (uint8_t)len };

    write_all(fd, pre, 2);
    write_all(fd, msg, len);
}

/* Reads one handshake frame (2-byte length, then the message). */
static size_t recv_frame(int fd, uint8_t *msg, size_t cap)
{
    uint8_t pre[2];
    size_t len;

    read_all(fd, pre, 2);
    len = (size_t)pre[0] << 8 | pre[1];
    if (len > cap) {
        die("handshake", "frame too long");
    }
    read_all(fd, msg, len);
    return len;
}

static void session_sender(void *arg)
{
    session_ctx *c = arg;
    size_t piece = KW_TX_PIECE_MIN;
    uint8_t *msg = malloc(APP_MSG);

    if (msg == NULL) {
        die("session", "out of memory");
    }
    randombytes_buf(msg, APP_MSG);
    for (size_t i = 0; i < c->msgs; i++) {
        kw_tx t;
        kw_tx_begin(&t, msg, APP_MSG);
        while (!kw_tx_done(&t)) {
            size_t len = 0;
            /* conn.c allocates each piece's buffer for its own write; so does this. */
            uint8_t *wire = malloc(piece);
            if (wire == NULL || kw_tx_seal_some(&t, c->tx, wire, piece, &len) != KW_ERR_OK) {
                die("session", "sealing failed");
            }
            write_all(c->fd, wire, len);
            free(wire);
        }
    }
    free(msg);
}

/* Noise IKpsk2 over the socket pair, as kawan runs it; initiator on a, responder on b. */
static void handshake(int a, int b, kw_noise_cipher **a_tx, kw_noise_cipher **b_rx)
{
    uint8_t isk[32], rsk[32], rpk[32], psk[32];
    uint8_t msg[KW_NOISE_MAX_MSG], payload[KW_NOISE_MAX_MSG];
    kw_noise_hs *init = NULL, *resp = NULL;
    kw_noise_cipher *a_rx = NULL, *b_tx = NULL;
    size_t len = 0, plen = 0;

    randombytes_buf(isk, sizeof(isk));
    randombytes_buf(rsk, sizeof(rsk));
    randombytes_buf(psk, sizeof(psk));
    crypto_scalarmult_base(rpk, rsk);
    if (kw_noise_hs_new(&init, KW_NOISE_PROTOCOL, true, (const uint8_t *)KW_NOISE_PROLOGUE,
            strlen(KW_NOISE_PROLOGUE))
            != KW_ERR_OK
        || kw_noise_hs_new(&resp, KW_NOISE_PROTOCOL, false, (const uint8_t *)KW_NOISE_PROLOGUE,
               strlen(KW_NOISE_PROLOGUE))
            != KW_ERR_OK
        || kw_noise_hs_set_static(init, isk) != KW_ERR_OK
        || kw_noise_hs_set_remote_static(init, rpk) != KW_ERR_OK
        || kw_noise_hs_add_psk(init, psk) != KW_ERR_OK
        || kw_noise_hs_set_static(resp, rsk) != KW_ERR_OK
        || kw_noise_hs_add_psk(resp, psk) != KW_ERR_OK
        || kw_noise_hs_write_message(init, NULL, 0, msg, sizeof(msg), &len) != KW_ERR_OK) {
        die("handshake", "setup failed");
    }
    send_frame(a, msg, len);
    len = recv_frame(b, msg, sizeof(msg));
    if (kw_noise_hs_read_message(resp, msg, len, payload, sizeof(payload), &plen) != KW_ERR_OK
        || kw_noise_hs_write_message(resp, NULL, 0, msg, sizeof(msg), &len) != KW_ERR_OK) {
        die("handshake", "message 1 failed");
    }
    send_frame(b, msg, len);
    len = recv_frame(a, msg, sizeof(msg));
    if (kw_noise_hs_read_message(init, msg, len, payload, sizeof(payload), &plen) != KW_ERR_OK
        || kw_noise_hs_split(init, a_tx, &a_rx) != KW_ERR_OK
        || kw_noise_hs_split(resp, &b_tx, b_rx) != KW_ERR_OK) {
        die("handshake", "message 2 failed");
    }
    kw_noise_cipher_free(a_rx);
    kw_noise_cipher_free(b_tx);
    kw_noise_hs_free(init);
    kw_noise_hs_free(resp);
    sodium_memzero(isk, sizeof(isk));
    sodium_memzero(rsk, sizeof(rsk));
    sodium_memzero(psk, sizeof(psk));
}

static double session_rate(size_t total)
{
    int a, b;
    pid_t pid;
    session_ctx c;
    kw_noise_cipher *rx = NULL;
    kw_rx r;
    size_t msgs = total / APP_MSG, got = 0, app_bytes = 0;

    tcp_pair(&a, &b);
    memset(&c, 0, sizeof(c));
    handshake(a, b, &c.tx, &rx);
    c.fd = a;
    c.msgs = msgs;
    kw_rx_init(&r, KW_APP_MSG_MAX);
    double t0 = now();
    pid = spawn(session_sender, &c);
    while (got < msgs) {
        uint8_t *space;
        size_t room = 0;
        if (kw_rx_space(&r, &space, &room) != KW_ERR_OK) {
            die("session", "out of memory");
        }
        ssize_t n = read(b, space, room);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("session read", n == 0 ? "closed" : strerror(errno));
        }
        kw_rx_landed(&r, (size_t)n);
        for (;;) {
            const uint8_t *frame, *m;
            size_t flen = 0, mlen = 0;
            kw_err rc = kw_rx_frame(&r, &frame, &flen);
            if (rc == KW_ERR_AGAIN) {
                break;
            }
            if (rc != KW_ERR_OK || kw_rx_open(&r, rx, frame, flen) != KW_ERR_OK) {
                die("session", "bad frame");
            }
            while ((rc = kw_rx_message(&r, &m, &mlen)) == KW_ERR_OK) {
                got++;
                app_bytes += mlen;
            }
            if (rc != KW_ERR_AGAIN) {
                die("session", "bad application message");
            }
        }
    }
    double t = now() - t0;
    join(pid);
    kw_rx_free(&r);
    kw_noise_cipher_free(c.tx);
    kw_noise_cipher_free(rx);
    close(a);
    close(b);
    return (double)app_bytes / 1e6 / t;
}

int main(int argc, char **argv)
{
    int runs = 5;
    size_t mb = 400;
    const char *kv = NULL;
    double chacha[MAX_RUNS], raw[MAX_RUNS], sess[MAX_RUNS];

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--mb") == 0) {
            mb = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--kv") == 0) {
            kv = argv[i + 1];
        } else {
            break;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || mb < 8 || argc % 2 == 0) {
        fprintf(stderr, "usage: bench_transport [--mb N] [--runs R] [--kv FILE]\n");
        return 2;
    }
    if (sodium_init() < 0) {
        die("libsodium", "cannot be initialised");
    }
    /* Interleaved, so that every figure sees the same machine (load, frequency). */
    for (int r = 0; r < runs; r++) {
        chacha[r] = chacha_rate(mb * 1000000 / 2);
        raw[r] = raw_rate(mb * 1000000 * 2);
        sess[r] = session_rate(mb * 1000000);
    }
    double c = median(chacha, runs), t = median(raw, runs), s = median(sess, runs);
    printf("bench_transport: median of %d runs (%zu MB per session run)\n", runs, mb);
    printf("%-56s %10s  %s\n", "figure", "median", "unit");
    printf("%-56s %10.0f  %s\n", "ChaCha20-Poly1305 encrypt, one core, 64 KiB", c, "MB/s");
    printf("%-56s %10.0f  %s\n", "raw loopback TCP, 256 KiB writes", t, "MB/s");
    printf("%-56s %10.0f  %s\n", "kawan session (Noise, node/framer.c), 1 MiB messages", s,
        "MB/s");
    printf("%-56s %10.2f\n", "ratio session / ChaCha20-Poly1305", s / c);
    printf("%-56s %10.2f\n", "ratio session / raw TCP", s / t);
    if (kv != NULL) {
        FILE *f = fopen(kv, "a");
        if (f == NULL) {
            die(kv, "cannot open");
        }
        fprintf(f,
            "transport.runs %d\ntransport.chacha %.0f\ntransport.tcp %.0f\n"
            "transport.session %.0f\n",
            runs, c, t, s);
        fclose(f);
    }
    return 0;
}
