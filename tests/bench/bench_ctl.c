/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ctl: the small probes that tests/bench/bench_net.sh needs around real `kawan run`
 * processes. It prints figures and never fails on speed.
 *
 *   bench_ctl stats DIR...
 *       Asks each running daemon for its `stats` (control socket) and prints the sums:
 *       "payload_bytes_received N" and "payload_bytes_new M".
 *   bench_ctl wait DIR COUNT TIMEOUT_S [ENTRIES]
 *       Polls the store in DIR (read-only, every 5 ms) until it holds COUNT current
 *       indicators, then prints "seconds S" (from this program's start). With ENTRIES, first
 *       prints "entries S" when the store holds ENTRIES entries (every one verified and
 *       committed; their indicators may still wait for the index). Exit 1 on timeout.
 *   bench_ctl prop KAWAN PUBDIR N TIMEOUT_S WATCHDIR...
 *       Follows every WATCHDIR daemon with `tail` on its control socket, then N times:
 *       starts `KAWAN --dir PUBDIR publish --tlp green VALUE` with a fresh value and waits
 *       until every watcher has announced a new indicator. The propagation time of one
 *       publish is from just before the publish process starts to the announcement on the
 *       last watcher (so it includes the CLI's own start, store write and notify). Prints
 *       one "sample I MS" line per publish and then "p50_ms", "p99_ms", "max_ms", "missed"
 *       (a publish that does not arrive everywhere within TIMEOUT_S counts as missed, with
 *       TIMEOUT_S as its time; when the first 3 all miss, it stops there).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "node/node.h"
#include "store/store.h"

#define MAX_WATCH 256

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- stats ---- */

typedef struct stats_sum {
    unsigned long long rx, fresh;
    int answered;
} stats_sum;

static int stats_line(void *ctx, const char *line)
{
    stats_sum *s = ctx;
    json_t *o = json_loads(line, 0, NULL);

    if (o != NULL) {
        s->rx
            += (unsigned long long)json_integer_value(json_object_get(o, "payload_bytes_received"));
        s->fresh += (unsigned long long)json_integer_value(json_object_get(o, "payload_bytes_new"));
        s->answered++;
        json_decref(o);
    }
    return 1;
}

static int cmd_stats(int argc, char **argv)
{
    stats_sum s = { 0 };

    for (int i = 0; i < argc; i++) {
        if (kw_control_request(argv[i], "stats", stats_line, &s) != KW_ERR_OK) {
            fprintf(stderr, "bench_ctl: no daemon answers in %s\n", argv[i]);
        }
    }
    printf("payload_bytes_received %llu\npayload_bytes_new %llu\nnodes %d\n", s.rx, s.fresh,
        s.answered);
    return s.answered == argc ? 0 : 1;
}

/* ---- wait ---- */

static int cmd_wait(int argc, char **argv)
{
    double t0 = now();
    struct timespec d = { 0, 5 * 1000 * 1000 };
    unsigned long long want, want_entries = 0;
    bool entries_seen;
    double limit;
    kw_store *s = NULL;

    if (argc != 3 && argc != 4) {
        return 2;
    }
    want = strtoull(argv[1], NULL, 10);
    limit = atof(argv[2]);
    if (argc == 4) {
        want_entries = strtoull(argv[3], NULL, 10);
    }
    entries_seen = want_entries == 0;
    while (now() - t0 < limit) {
        kw_store_stats st;
        if (s == NULL && kw_store_open(&s, argv[0], KW_STORE_RDONLY) != KW_ERR_OK) {
            s = NULL;
        }
        if (s != NULL && kw_store_stats_get(s, &st) == KW_ERR_OK) {
            if (!entries_seen && st.entries >= want_entries) {
                printf("entries %.4f\n", now() - t0);
                fflush(stdout);
                entries_seen = true;
            }
            if (entries_seen && st.indicators >= want) {
                printf("seconds %.4f\n", now() - t0);
                kw_store_close(s);
                return 0;
            }
        }
        nanosleep(&d, NULL);
    }
    kw_store_close(s);
    printf("seconds timeout\n");
    return 1;
}

/* ---- prop ---- */

typedef struct watcher {
    int fd;
    char buf[8192];
    size_t len;
    bool ok; /* "ok" seen: following */
    unsigned long lines;
} watcher;

static int tail_open(const char *dir)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, KW_CONTROL_SOCKET)
        >= sizeof(sa.sun_path)) {
        return -1;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || write(fd, "tail\n", 5) != 5) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads what is there; counts complete lines after "ok". -1 when the daemon closed it. */
static int watcher_read(watcher *w)
{
    ssize_t r = read(w->fd, w->buf + w->len, sizeof(w->buf) - w->len);

    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (r <= 0) {
        return -1;
    }
    w->len += (size_t)r;
    size_t start = 0;
    for (size_t i = 0; i < w->len; i++) {
        if (w->buf[i] == '\n') {
            if (!w->ok) {
                w->ok = i - start == 2 && memcmp(w->buf + start, "ok", 2) == 0;
            } else {
                w->lines++;
            }
            start = i + 1;
        }
    }
    memmove(w->buf, w->buf + start, w->len - start);
    w->len -= start;
    return 0;
}

/* Polls the watchers for up to ms milliseconds. */
static void watchers_poll(watcher *w, int n, int ms)
{
    struct pollfd p[MAX_WATCH];

    for (int i = 0; i < n; i++) {
        p[i].fd = w[i].fd;
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    if (poll(p, (nfds_t)n, ms) <= 0) {
        return;
    }
    for (int i = 0; i < n; i++) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && w[i].fd >= 0
            && watcher_read(&w[i]) < 0) {
            fprintf(stderr, "bench_ctl: watcher %d closed\n", i);
            close(w[i].fd);
            w[i].fd = -1;
        }
    }
}

static pid_t spawn_publish(const char *kawan, const char *dir, const char *value)
{
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execl(kawan, kawan, "--dir", dir, "publish", "--tlp", "green", value, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p)
{
    int rank = (int)(p / 100.0 * n + 0.999999);

    if (rank < 1) {
        rank = 1;
    }
    return sorted[(rank > n ? n : rank) - 1];
}

static int cmd_prop(int argc, char **argv)
{
    static watcher w[MAX_WATCH];
    const char *kawan, *pub;
    int count, nw, missed = 0;
    double limit, *lat;
    uint32_t nonce = randombytes_random();

    if (argc < 5 || argc - 4 > MAX_WATCH) {
        return 2;
    }
    kawan = argv[0];
    pub = argv[1];
    count = atoi(argv[2]);
    limit = atof(argv[3]);
    nw = argc - 4;
    if (count < 1 || (lat = calloc((size_t)count, sizeof(*lat))) == NULL) {
        return 2;
    }
    for (int i = 0; i < nw; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        if ((w[i].fd = tail_open(argv[4 + i])) < 0) {
            fprintf(stderr, "bench_ctl: no daemon answers in %s\n", argv[4 + i]);
            return 1;
        }
    }
    /* Every watcher must be following before the first publish. */
    for (double t0 = now(); now() - t0 < 10;) {
        int ready = 0;
        for (int i = 0; i < nw; i++) {
            ready += w[i].ok;
        }
        if (ready == nw) {
            break;
        }
        watchers_poll(w, nw, 50);
    }
    for (int k = 0; k < count; k++) {
        unsigned long before[MAX_WATCH];
        char value[96];
        int status;
        bool reaped = false;

        for (int i = 0; i < nw; i++) {
            before[i] = w[i].lines;
        }
        snprintf(value, sizeof(value), "p%d-%08x.bench-prop.example", k, nonce);
        double t0 = now(), t_last = 0;
        pid_t pid = spawn_publish(kawan, pub, value);
        if (pid < 0) {
            fprintf(stderr, "bench_ctl: fork: %s\n", strerror(errno));
            return 1;
        }
        for (;;) {
            int arrived = 0;
            if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
                reaped = true;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                    fprintf(stderr, "bench_ctl: publish %d failed\n", k);
                }
            }
            for (int i = 0; i < nw; i++) {
                arrived += w[i].lines > before[i] || w[i].fd < 0;
            }
            if (arrived == nw) {
                t_last = now();
                break;
            }
            if (now() - t0 > limit) {
                break;
            }
            watchers_poll(w, nw, 5);
        }
        if (!reaped) {
            waitpid(pid, &status, 0);
        }
        if (t_last == 0) {
            missed++;
            lat[k] = limit * 1000;
            if (missed == k + 1 && missed == 3) {
                /* Nothing arrives at all: the network is broken, not slow. Stop here. */
                fprintf(stderr,
                    "bench_ctl: the first 3 publishes never arrived everywhere; "
                    "stopping\n");
                printf("sample %d %.2f\n", k, lat[k]);
                count = k + 1;
                break;
            }
        } else {
            lat[k] = (t_last - t0) * 1000;
        }
        printf("sample %d %.2f\n", k, lat[k]);
        fflush(stdout);
        /* Let stragglers (duplicate pushes, IHAVE) settle before the next publish. */
        {
            struct timespec d = { 0, 30 * 1000 * 1000 };
            nanosleep(&d, NULL);
        }
        watchers_poll(w, nw, 0);
    }
    qsort(lat, (size_t)count, sizeof(*lat), cmp_double);
    printf("p50_ms %.2f\np99_ms %.2f\nmax_ms %.2f\nmissed %d\n", percentile(lat, count, 50),
        percentile(lat, count, 99), lat[count - 1], missed);
    for (int i = 0; i < nw; i++) {
        if (w[i].fd >= 0) {
            close(w[i].fd);
        }
    }
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "stats") == 0) {
        return cmd_stats(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "wait") == 0) {
        return cmd_wait(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "prop") == 0) {
        return cmd_prop(argc - 2, argv + 2);
    }
    fprintf(stderr,
        "usage: bench_ctl stats DIR... | wait DIR COUNT TIMEOUT_S | "
        "prop KAWAN PUBDIR N TIMEOUT_S WATCHDIR...\n");
    return 2;
}
