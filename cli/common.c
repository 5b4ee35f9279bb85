/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "bundle/stix.h"
#include "bundle/timefmt.h"
#include "bundle/value.h"
#include "crypto/id.h"

/* ---- Messages ---- */

/* A progress bar is on the terminal's last line: a message first clears it (the next update
 * draws it again below the message). */
static bool g_bar_drawn;

static void vmessage(const char *fmt, va_list ap)
{
    fflush(stdout);
    if (g_bar_drawn) {
        fputs("\r\033[K", stderr);
        g_bar_drawn = false;
    }
    fputs("kawan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int kw_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return KW_CLI_FAIL;
}

int kw_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    return KW_CLI_USAGE;
}

void kw_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

/* Text copied from web pages and office documents brings these along around a value. */
size_t kw_cli_unicode_space(const char *s, size_t n, bool at_end)
{
    /* Each is a multi-byte character: a value that starts (ends) in ASCII has none. */
    if (n < 2 || (unsigned char)(at_end ? s[n - 1] : s[0]) < 0x80) {
        return 0;
    }
    static const char *const spaces[] = { "\xc2\xa0", "\xe2\x80\x8b", "\xe2\x80\xaf",
        "\xe2\x80\x8c", "\xe2\x80\x8d", "\xe2\x81\xa0", "\xe3\x80\x80", "\xef\xbb\xbf" };

    for (size_t k = 0; k < sizeof(spaces) / sizeof(spaces[0]); k++) {
        size_t l = strlen(spaces[k]);
        if (n >= l && memcmp(at_end ? s + n - l : s, spaces[k], l) == 0) {
            return l;
        }
    }
    return 0;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

void kw_cli_trim(const char **p, size_t *len)
{
    size_t l;

    for (;;) {
        while (*len > 0 && blank(**p)) {
            (*p)++;
            (*len)--;
        }
        while (*len > 0 && blank((*p)[*len - 1])) {
            (*len)--;
        }
        if ((l = kw_cli_unicode_space(*p, *len, false)) > 0) {
            *p += l;
            *len -= l;
        } else if ((l = kw_cli_unicode_space(*p, *len, true)) > 0) {
            *len -= l;
        } else {
            return;
        }
    }
}

kw_err kw_cli_value(kw_obs_type *type, const char *raw, size_t len, char *out, size_t cap,
    size_t *out_len, const char **why, bool *refanged)
{
    char fang[KW_VALUE_MAX + 64];
    size_t flen = 0;

    kw_cli_trim(&raw, &len);
    /* Not in a STIX pattern, given as one or detected ('[' first): its brackets are its own. */
    *refanged = *type != KW_OBS_STIX_PATTERN && *type != KW_OBS_FILENAME && len < sizeof(fang)
        && !(*type == KW_OBS_NONE && len > 0 && raw[0] == '[')
        && kw_value_refang(raw, len, fang, sizeof(fang), &flen) > 0;
    if (*refanged) {
        raw = fang;
        len = flen;
    }
    kw_err rc = *type != KW_OBS_NONE ? kw_value_normalise(*type, raw, len, out, cap, out_len, why)
                                     : kw_value_detect(raw, len, type, out, cap, out_len, why);
    if (rc != KW_ERR_OK) {
        return rc;
    }
    /* A new value must pass what stored ones need not (the normaliser also reads what older
     * nodes published): a pattern the STIX grammar, xn-- labels valid Punycode. */
    const char *bad = NULL;
    if (*type == KW_OBS_STIX_PATTERN) {
        (void)kw__stix_pattern_valid(out, *out_len, &bad);
    } else {
        bad = kw_value_new_check(*type, out, *out_len);
    }
    if (bad != NULL) {
        if (why != NULL) {
            *why = bad;
        }
        out[0] = '\0';
        *out_len = 0;
        return KW_ERR_INVAL;
    }
    return KW_ERR_OK;
}

const char *kw_cli_printable(char *buf, size_t cap, const char *s, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    size_t i = 0;

    if (cap < 8) {
        if (cap > 0) {
            buf[0] = '\0';
        }
        return buf;
    }
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : kw_utf8_len(s + i, len - i);
        /* The bidirectional controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) would
         * reorder the terminal line around them: shown as their bytes. */
        const unsigned char *u = (const unsigned char *)s + i;
        bool bidi = k == 3 && u[0] == 0xE2
            && ((u[1] == 0x80 && (u[2] == 0x8E || u[2] == 0x8F || (u[2] >= 0xAA && u[2] <= 0xAE)))
                || (u[1] == 0x81 && u[2] >= 0xA6 && u[2] <= 0xA9));
        bool esc = c < 0x20 || c == 0x7f || k == 0 || bidi;
        size_t need = esc ? 4 * (bidi ? 3 : 1) : k;

        if (o + need + 4 > cap || o >= max) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (esc) {
            for (size_t b = 0; b < (bidi ? 3u : 1u); b++, i++) {
                buf[o++] = '\\';
                buf[o++] = 'x';
                buf[o++] = hex[(unsigned char)s[i] >> 4];
                buf[o++] = hex[(unsigned char)s[i] & 15];
            }
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- Options ---- */

static char g_dir[PATH_MAX];
static size_t g_dir_too_long; /* the length of a --dir or KAWAN_DIR too long to use, or 0 */
static bool g_dir_set;
static int g_passfd = -1;
/* The command being run ("publish", "peer add"), for messages. */
static char g_cmd[64];

void kw_cli_set_dir(const char *dir)
{
    size_t len = strlen(dir);

    /* Trailing slashes only make messages ugly ("DIR//identity.key"). */
    while (len > 1 && dir[len - 1] == '/') {
        len--;
    }
    g_dir_too_long = 0;
    if (len >= sizeof(g_dir)) {
        g_dir_too_long = len; /* reported when the directory is used */
        len = 0;
    }
    memcpy(g_dir, dir, len);
    g_dir[len] = '\0';
    g_dir_set = true;
}

const char *kw_cli_dir(void)
{
    if (!g_dir_set) {
        const char *env = getenv("KAWAN_DIR");
        if (env != NULL && env[0] != '\0') {
            kw_cli_set_dir(env);
        } else {
            const char *home = getenv("HOME");
            struct passwd *pw;
            if ((home == NULL || home[0] == '\0') && (pw = getpwuid(getuid())) != NULL) {
                home = pw->pw_dir;
            }
            if (home != NULL && home[0] != '\0'
                && (size_t)snprintf(g_dir, sizeof(g_dir), "%s/.local/share/kawan", home)
                    < sizeof(g_dir)) {
                g_dir_set = true;
            } else {
                g_dir[0] = '\0';
            }
        }
    }
    return g_dir[0] != '\0' ? g_dir : NULL;
}

int kw_cli_path(char *buf, size_t cap, const char *file)
{
    const char *dir = kw_cli_dir();

    if (dir == NULL && g_dir_too_long > 0) {
        return kw_cli_error("the data directory path is %zu bytes long; at most %zu",
            g_dir_too_long, sizeof(g_dir) - 1);
    }
    if (dir == NULL) {
        return kw_cli_error("no data directory: use --dir DIR or set KAWAN_DIR");
    }
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, file) >= cap) {
        return kw_cli_error(
            "the data directory path is %zu bytes long; too long for %s in it", strlen(dir), file);
    }
    return 0;
}

static const char *cmd_hint(void)
{
    return g_cmd[0] != '\0' ? g_cmd : "";
}

static int getopt_common(
    int argc, char **argv, const char *optstring, const struct option *longopts, const char *usage)
{
    for (;;) {
        int c;
        uint64_t fd;
        const char *sp = g_cmd[0] != '\0' ? " " : "";

        opterr = 0;
        c = getopt_long(argc, argv, optstring, longopts, NULL);
        switch (c) {
        case KW_OPT_DIR:
            if (optarg[0] == '\0') {
                kw_cli_usage_error("--dir needs a directory");
                return KW_CLI_OPT_BAD;
            }
            kw_cli_set_dir(optarg);
            continue;
        case KW_OPT_PASSFD:
            if (kw_cli_parse_u64("--passphrase-fd", optarg, 0, INT_MAX, &fd) != 0) {
                return KW_CLI_OPT_BAD;
            }
            g_passfd = (int)fd;
            continue;
        case 'h':
            fputs(usage, stdout);
            return KW_CLI_OPT_HELP;
        case '?': {
            char name[64];
            const char *arg = argv[optind - 1];
            bool is_long = arg[0] == '-' && arg[1] == '-';
            if (!is_long) {
                snprintf(name, sizeof(name), "-%c", optopt);
            } else {
                size_t len = strcspn(arg, "=");
                kw_cli_printable(name, sizeof(name), arg, len, 40);
            }
            if (is_long && strchr(arg, '=') != NULL) {
                const struct option *o;
                for (o = longopts; o->name != NULL; o++) {
                    if (strncmp(arg + 2, o->name, strlen(o->name)) == 0
                        && arg[2 + strlen(o->name)] == '=' && o->has_arg == no_argument) {
                        kw_cli_usage_error("option '%s' takes no value (see kawan %s%s--help)",
                            name, cmd_hint(), sp);
                        return KW_CLI_OPT_BAD;
                    }
                }
            }
            kw_cli_usage_error("unknown option '%s' (see kawan %s%s--help)", name, cmd_hint(), sp);
            return KW_CLI_OPT_BAD;
        }
        case ':': {
            char name[64];
            kw_cli_printable(name, sizeof(name), argv[optind - 1], strlen(argv[optind - 1]), 40);
            kw_cli_usage_error(
                "option '%s' needs a value (see kawan %s%s--help)", name, cmd_hint(), sp);
            return KW_CLI_OPT_BAD;
        }
        default:
            return c;
        }
    }
}

int kw_cli_getopt(int argc, char **argv, const struct option *longopts, const char *usage)
{
    return getopt_common(argc, argv, ":h", longopts, usage);
}

int kw_cli_dispatch(
    int argc, char **argv, const kw_cli_command *table, const char *usage, const char *what)
{
    static const struct option opts[] = { KW_CLI_COMMON_OPTS };
    const kw_cli_command *c;
    char names[256];
    size_t o = 0;
    int rc;

    optind = 0;
    /* The table holds only common options, so this returns at the first operand. */
    if ((rc = getopt_common(argc, argv, "+:h", opts, usage)) != -1) {
        return rc == KW_CLI_OPT_HELP ? KW_CLI_OK : KW_CLI_USAGE;
    }
    names[0] = '\0';
    for (c = table; c->name != NULL && o < sizeof(names); c++) {
        o += (size_t)snprintf(
            names + o, sizeof(names) - o, "%s%s", c == table ? "" : ", ", c->name);
    }
    if (optind >= argc) {
        if (what == NULL) {
            return kw_cli_usage_error("missing command (see kawan help)");
        }
        return kw_cli_usage_error("%s: missing subcommand (%s)", what, names);
    }
    for (c = table; c->name != NULL; c++) {
        if (strcmp(c->name, argv[optind]) == 0) {
            size_t len = strlen(g_cmd);
            snprintf(g_cmd + len, sizeof(g_cmd) - len, "%s%s", len > 0 ? " " : "", c->name);
            argc -= optind;
            argv += optind;
            optind = 0; /* GNU getopt: start afresh on the subcommand's argv */
            return c->fn(argc, argv);
        }
    }
    {
        char bad[64];
        kw_cli_printable(bad, sizeof(bad), argv[optind], strlen(argv[optind]), 40);
        if (what == NULL) {
            return kw_cli_usage_error("unknown command '%s' (see kawan help)", bad);
        }
        return kw_cli_usage_error("unknown %s subcommand '%s' (%s)", what, bad, names);
    }
}

int kw_cli_operands(int argc, char **argv, int min, int max, const char *what)
{
    int n = argc - optind;

    if (n < min) {
        return kw_cli_usage_error("%s: missing %s (see kawan %s --help)", g_cmd, what, g_cmd);
    }
    if (n > max) {
        char bad[64];
        kw_cli_printable(bad, sizeof(bad), argv[optind + max], strlen(argv[optind + max]), 40);
        return kw_cli_usage_error(
            "%s: unexpected argument '%s' (see kawan %s --help)", g_cmd, bad, g_cmd);
    }
    return 0;
}

bool kw_cli_simple_args(int argc, char **argv, const char *usage, bool *json, int min, int max,
    const char *what, int *exit_code)
{
    static const struct option with_json[] = {
        { "json", no_argument, NULL, 'j' },
        KW_CLI_COMMON_OPTS,
    };
    int c;

    while ((c = kw_cli_getopt(argc, argv, json != NULL ? with_json : with_json + 1, usage)) != -1) {
        if (c == 'j') {
            *json = true;
            continue;
        }
        *exit_code = c == KW_CLI_OPT_HELP ? KW_CLI_OK : KW_CLI_USAGE;
        return false;
    }
    return (*exit_code = kw_cli_operands(argc, argv, min, max, what)) == 0;
}

int kw_cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    char bad[64];

    if (*p == '\0') {
        goto bad;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
            goto bad;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max) {
        goto bad;
    }
    *out = v;
    return 0;
bad:
    return kw_cli_usage_error("%s: '%s' is not a number from %llu to %llu", opt,
        kw_cli_printable(bad, sizeof(bad), s, strlen(s), 40), (unsigned long long)min,
        (unsigned long long)max);
}

int kw_cli_parse_tlp(const char *opt, const char *s, kw_tlp *out)
{
    char bad[64];

    if (kw_tlp_parse(s, out) == KW_ERR_OK) {
        return 0;
    }
    return kw_cli_usage_error(
        "%s: unknown TLP level '%s' (clear, green, amber, amber+strict or red)", opt,
        kw_cli_printable(bad, sizeof(bad), s, strlen(s), 40));
}

int kw_cli_parse_type(const char *opt, const char *s, kw_obs_type *out)
{
    char bad[64];

    if (kw_obs_type_parse(s, out) == KW_ERR_OK) {
        return 0;
    }
    return kw_cli_usage_error("%s: unknown type '%s' (ipv4, ipv6, cidr, domain, url, email, md5, "
                              "sha1, sha256, sha512, filename or stix-pattern)",
        opt, kw_cli_printable(bad, sizeof(bad), s, strlen(s), 40));
}

int kw_cli_parse_time(const char *opt, const char *s, int64_t now_ms, int64_t *out)
{
    char bad[64];

    if (kw_time_parse_cli(s, now_ms, out) == KW_ERR_OK) {
        return 0;
    }
    return kw_cli_usage_error("%s: '%s' is not a time (RFC 3339 like 2026-11-28T07:20:00Z, or a "
                              "duration like 24h, 7d, +30d)",
        opt, kw_cli_printable(bad, sizeof(bad), s, strlen(s), 40));
}

int kw_cli_check_name(const char *what, const char *name)
{
    size_t len = strlen(name);
    char bad[80];

    if (len >= 1 && len <= 63
        && strspn(name,
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789._-")
            == len) {
        return 0;
    }
    return kw_cli_usage_error("%s '%s' is not valid (1-63 letters, digits, '.', '_' or '-')", what,
        kw_cli_printable(bad, sizeof(bad), name, len, 64));
}

int kw_cli_parse_node_id(const char *s, uint8_t out[static 32])
{
    char bad[80];

    if (kw_id_decode(out, s) == KW_ERR_OK && kw_id_check(out) == KW_ERR_OK) {
        return 0;
    }
    return kw_cli_usage_error("'%s' is not a node id (kw1... or 64 hex digits)",
        kw_cli_printable(bad, sizeof(bad), s, strlen(s), 64));
}

/* ---- The node ---- */

static int no_node(const char *dir)
{
    return kw_cli_error("no node in %s (run kawan init --name NAME first)", dir);
}

static int key_file_error(const char *path, kw_err rc)
{
    switch (rc) {
    case KW_ERR_DECODE:
        return kw_cli_error("%s is damaged or not a kawan key file", path);
    case KW_ERR_PERM:
        return kw_cli_error("%s: permission denied, or readable by others than its owner "
                            "(it must be mode 0600)",
            path);
    case KW_ERR_PASSPHRASE:
        return kw_cli_error("wrong passphrase for %s", path);
    default:
        return kw_cli_error("cannot read %s: %s", path, kw_strerror(rc));
    }
}

int kw_cli_identity_load(kw_cli_node *n)
{
    char *pass = NULL;
    bool sealed = false;
    kw_err rc;
    int ret = KW_CLI_FAIL;

    if ((rc = kw_identity_file_sealed(n->key_path, &sealed)) != KW_ERR_OK) {
        ret = key_file_error(n->key_path, rc);
        goto out;
    }
    if (sealed) {
        char prompt[PATH_MAX + 32];
        snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", n->key_path);
        if ((ret = kw_cli_passphrase_read(&pass, prompt, false)) != 0) {
            goto out;
        }
    }
    if ((rc = kw_identity_load(&n->id, n->key_path, pass)) != KW_ERR_OK) {
        ret = key_file_error(n->key_path, rc);
        goto out;
    }
    if (n->store != NULL && memcmp(kw_identity_pk(n->id), n->self, 32) != 0) {
        ret = kw_cli_error(
            "%s does not belong to the store in %s (another node's key?)", n->key_path, n->dir);
        goto out;
    }
    ret = 0;
out:
    kw_cli_passphrase_free(pass);
    return ret;
}

static int no_access(const char *dir)
{
    return kw_cli_error("permission denied: cannot read %s (it belongs to another user?)", dir);
}

int kw_cli_node_open(kw_cli_node *n, unsigned what)
{
    struct stat st;
    bool sealed;
    kw_err rc;
    int ret;

    memset(n, 0, sizeof(*n));
    if ((ret = kw_cli_path(n->key_path, sizeof(n->key_path), KW_CLI_KEY_FILE)) != 0) {
        return ret;
    }
    snprintf(n->dir, sizeof(n->dir), "%s", kw_cli_dir());
    /*
     * Check for the key file before touching the store, so that a command run against the
     * wrong directory never creates anything there.
     */
    if (stat(n->dir, &st) != 0) {
        return errno == EACCES ? no_access(n->dir) : no_node(n->dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        return no_node(n->dir);
    }
    if (lstat(n->key_path, &st) != 0) {
        if (errno == EACCES) {
            return no_access(n->dir);
        }
        return errno == ENOENT ? no_node(n->dir) : key_file_error(n->key_path, KW_ERR_IO);
    }
    if ((rc = kw_identity_file_sealed(n->key_path, &sealed)) != KW_ERR_OK) {
        return key_file_error(n->key_path, rc);
    }
    if (what & (KW_CLI_READ | KW_CLI_WRITE)) {
        rc = kw_store_open(&n->store, n->dir, (what & KW_CLI_WRITE) ? 0 : KW_STORE_RDONLY);
        if (rc == KW_ERR_NOINIT || rc == KW_ERR_NOTFOUND) {
            n->store = NULL;
            return no_node(n->dir);
        }
        if (rc != KW_ERR_OK) {
            n->store = NULL;
            return kw_cli_error("cannot open the store in %s: %s", n->dir, kw_strerror(rc));
        }
        /* A store an older kawan wrote keeps its forms while an older daemon may run. */
        if ((what & KW_CLI_WRITE) && kw_store_upgrade_due(n->store)
            && kw_control_request(n->dir, "stats", NULL, NULL) != KW_ERR_OK) {
            (void)kw_store_upgrade(n->store); /* on failure it stays readable as it was */
        }
        kw_store_self(n->store, n->self);
        if (kw_store_name(n->store, n->name, sizeof(n->name)) != KW_ERR_OK) {
            n->name[0] = '\0';
        }
    }
    if (what & KW_CLI_IDENTITY) {
        return kw_cli_identity_load(n);
    }
    return 0;
}

void kw_cli_node_close(kw_cli_node *n)
{
    kw_identity_free(n->id);
    n->id = NULL;
    kw_store_close(n->store);
    n->store = NULL;
    free(n->peers);
    n->peers = NULL;
    n->n_peers = 0;
    n->peers_loaded = false;
}

const char *kw_cli_name_of(kw_cli_node *n, const uint8_t id[static 32])
{
    if (n->store == NULL) {
        return NULL;
    }
    if (memcmp(id, n->self, 32) == 0) {
        return n->name[0] != '\0' ? n->name : NULL;
    }
    if (!n->peers_loaded) {
        n->peers_loaded = true;
        if (kw_store_peer_list(n->store, &n->peers, &n->n_peers) != KW_ERR_OK) {
            n->peers = NULL;
            n->n_peers = 0;
        }
    }
    for (size_t i = 0; i < n->n_peers; i++) {
        if (memcmp(n->peers[i].id, id, 32) == 0) {
            return n->peers[i].name;
        }
    }
    return NULL;
}

const char *kw_cli_node_label(kw_cli_node *n, const uint8_t id[static 32], char buf[static 64])
{
    const char *name = kw_cli_name_of(n, id);

    if (name != NULL) {
        snprintf(buf, 64, "%s", name);
    } else {
        kw_id_short(buf, id);
    }
    return buf;
}

int kw_cli_resolve_node(
    kw_cli_node *n, const char *ref, bool roster_only, uint8_t out[static 32], const char *what)
{
    kw_peer p;
    char bad[80];

    kw_cli_printable(bad, sizeof(bad), ref, strlen(ref), 64);
    if (n->name[0] != '\0' && strcmp(ref, n->name) == 0) {
        memcpy(out, n->self, 32);
        return 0;
    }
    if (kw_store_peer_find(n->store, ref, &p) == KW_ERR_OK) {
        memcpy(out, p.id, 32);
        return 0;
    }
    if (kw_id_decode(out, ref) == KW_ERR_OK) {
        if (!roster_only || kw_store_is_member(n->store, out)) {
            return 0;
        }
        return kw_cli_error(
            "unknown %s '%s': that node is not in the roster (see kawan peer list)", what, bad);
    }
    return kw_cli_error(
        "unknown %s '%s': not a roster name or node id (see kawan peer list)", what, bad);
}

/* ---- Indicators ---- */

static int found_cb(void *ctx, const kw_result *r)
{
    kw_cli_found *f = ctx;
    kw_indicator *copy = NULL;

    if (kw_bundle_new(&f->b) != KW_ERR_OK
        || kw_bundle_copy_indicator(f->b, r->ind, &copy) != KW_ERR_OK
        || kw_bundle_set_recipients(f->b, r->recipients, r->n_recipients) != KW_ERR_OK) {
        kw_bundle_free(f->b);
        f->b = NULL;
        return 1;
    }
    f->r = *r;
    f->r.ind = &f->b->items[0];
    f->r.recipients = (const uint8_t(*)[32])f->b->recipients;
    return 1;
}

int kw_cli_find_indicator(kw_cli_node *n, const char *text, kw_cli_found *f)
{
    uint8_t uuid[16];
    char bad[80];
    kw_query q;
    kw_err rc;

    memset(f, 0, sizeof(*f));
    kw_cli_printable(bad, sizeof(bad), text, strlen(text), 64);
    if (kw_indicator_id_parse(text, uuid) != KW_ERR_OK) {
        return kw_cli_usage_error("'%s' is not an indicator id (indicator--<uuid>)", bad);
    }
    memset(&q, 0, sizeof(q));
    q.tlp = -1;
    q.all = true;
    q.limit = 1;
    q.id = uuid;
    if ((rc = kw_store_query(n->store, &q, found_cb, f, NULL)) != KW_ERR_OK) {
        return kw_cli_error("cannot read the store in %s: %s", n->dir, kw_strerror(rc));
    }
    if (f->b == NULL) {
        char id[48];
        kw_indicator_id_format(id, uuid);
        return kw_cli_error("no indicator %s in the store in %s", id, n->dir);
    }
    return 0;
}

kw_err kw_cli_same_audience(const uint8_t self[static 32], kw_tlp tlp, const uint8_t (*rc)[32],
    uint32_t n, kw_publish_opts *po, uint8_t (**rcpt)[32])
{
    size_t k = 0;

    memset(po, 0, sizeof(*po));
    *rcpt = NULL;
    po->tlp = tlp;
    if (!kw_tlp_sealed(tlp)) {
        return KW_ERR_OK;
    }
    if ((*rcpt = calloc((size_t)n + 1, 32)) == NULL) {
        return KW_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (memcmp(rc[i], self, 32) != 0) {
            memcpy((*rcpt)[k++], rc[i], 32);
        }
    }
    if (k == 0) {
        memcpy((*rcpt)[k++], self, 32);
    }
    po->recipients = (const uint8_t(*)[32]) * rcpt;
    po->n_recipients = k;
    return KW_ERR_OK;
}

void kw_cli_found_free(kw_cli_found *f)
{
    kw_bundle_free(f->b);
    f->b = NULL;
}

/* ---- Passphrases ---- */

#define PASS_MAX 1024

static struct termios g_saved_tty;
static int g_tty_fd = -1;

static void tty_restore(void)
{
    if (g_tty_fd >= 0) {
        tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_tty);
    }
}

/* Restores the terminal's echo when the user interrupts the prompt, then dies as asked. */
static void tty_signal(int sig)
{
    tty_restore();
    raise(sig);
}

/* Reads one line byte by byte, so that nothing after it is taken from the descriptor. */
static int read_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t o = 0;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0 || c == '\n') {
            break;
        }
        if (o + 1 >= cap) {
            errno = EMSGSIZE;
            return -1;
        }
        buf[o++] = c;
    }
    if (o > 0 && buf[o - 1] == '\r') {
        o--;
    }
    buf[o] = '\0';
    *len = o;
    return 0;
}

static int tty_read(int fd, const char *prompt, char *buf, size_t cap, size_t *len)
{
    struct termios noecho;
    struct sigaction sa, old_int, old_term, old_hup;
    int r;

    if (tcgetattr(fd, &g_saved_tty) != 0) {
        return -1;
    }
    noecho = g_saved_tty;
    noecho.c_lflag &= (tcflag_t)~ECHO;
    noecho.c_lflag |= ICANON;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tty_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    g_tty_fd = fd;
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &noecho) != 0) {
        r = -1;
    } else {
        r = read_line(fd, buf, cap, len);
        tty_restore();
        if (write(fd, "\n", 1) < 0) {
            r = -1;
        }
    }
    g_tty_fd = -1;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    return r;
}

int kw_cli_passphrase_read(char **out, const char *prompt, bool confirm)
{
    char *a = sodium_malloc(PASS_MAX + 1);
    char *b = sodium_malloc(PASS_MAX + 1);
    size_t alen = 0, blen = 0;
    int fd = -1;
    int ret = KW_CLI_FAIL;

    *out = NULL;
    if (a == NULL || b == NULL) {
        kw_cli_error("out of memory");
        goto out;
    }
    if (g_passfd >= 0) {
        kw_cli_passphrase_free(a);
        a = NULL;
        if (kw_cli_secret_line(g_passfd, "the passphrase", &a) != 0) {
            goto out;
        }
        alen = strlen(a);
    } else {
        if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0) {
            kw_cli_error("no terminal to ask for the passphrase (use --passphrase-fd N)");
            goto out;
        }
        if (tty_read(fd, prompt, a, PASS_MAX + 1, &alen) != 0) {
            kw_cli_error("cannot read the passphrase from the terminal: %s",
                errno == EMSGSIZE ? "longer than 1024 bytes" : strerror(errno));
            goto out;
        }
        if (confirm && alen > 0) {
            if (tty_read(fd, "Repeat the passphrase: ", b, PASS_MAX + 1, &blen) != 0) {
                kw_cli_error("cannot read the passphrase from the terminal: %s", strerror(errno));
                goto out;
            }
            if (alen != blen || sodium_memcmp(a, b, alen) != 0) {
                kw_cli_error("the passphrases do not match; nothing changed");
                goto out;
            }
        }
    }
    if (alen == 0) {
        kw_cli_error("empty passphrase; nothing changed");
        goto out;
    }
    *out = a;
    a = NULL;
    ret = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    kw_cli_passphrase_free(a);
    kw_cli_passphrase_free(b);
    return ret;
}

int kw_cli_secret_line(int fd, const char *what, char **out)
{
    char *buf = sodium_malloc(PASS_MAX + 1);
    size_t len;

    *out = NULL;
    if (buf == NULL) {
        return kw_cli_error("out of memory");
    }
    if (read_line(fd, buf, PASS_MAX + 1, &len) != 0) {
        int e = errno;
        kw_cli_passphrase_free(buf);
        return kw_cli_error("cannot read %s from descriptor %d: %s", what, fd,
            e == EMSGSIZE ? "longer than 1024 bytes" : strerror(e));
    }
    *out = buf;
    return 0;
}

void kw_cli_passphrase_free(char *p)
{
    if (p != NULL) {
        sodium_memzero(p, PASS_MAX + 1);
        sodium_free(p);
    }
}

/* ---- Output ---- */

const char *kw_cli_time(char *buf, int64_t ms)
{
    if (ms == 0) {
        snprintf(buf, 32, "-");
    } else {
        kw_time_format(buf, 32, ms);
    }
    return buf;
}

json_t *kw_cli_json_str(const char *s)
{
    size_t len = strlen(s);
    json_t *j = json_stringn(s, len);
    char *fixed;
    size_t o = 0;

    if (j != NULL) {
        return j;
    }
    /* Invalid UTF-8: show what is there rather than failing the whole line. */
    if ((fixed = malloc(len * 3 + 1)) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        size_t k = kw_utf8_len(s + i, len - i);
        if (k == 0) {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        }
    }
    j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

json_t *kw_cli_json_time(int64_t ms)
{
    char buf[32];

    if (ms == 0) {
        return json_null();
    }
    kw_time_format(buf, sizeof(buf), ms);
    return json_string(buf);
}

json_t *kw_cli_json_node_id(const uint8_t id[static 32])
{
    char text[KW_ID_TEXT_LEN];

    kw_id_encode(text, id);
    return json_string(text);
}

int kw_cli_json_print(json_t *o)
{
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(o);
    if (s == NULL) {
        return kw_cli_error("out of memory");
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

static json_t *str_array(const char **v, uint32_t n)
{
    json_t *a = json_array();

    for (uint32_t i = 0; i < n && a != NULL; i++) {
        json_array_append_new(a, kw_cli_json_str(v[i]));
    }
    return a;
}

json_t *kw_cli_result_json(kw_cli_node *n, const kw_result *r)
{
    const kw_indicator *d = r->ind;
    json_t *o = json_object();
    char id[48];
    const char *origin_name = kw_cli_name_of(n, r->origin);

    if (o == NULL) {
        return NULL;
    }
    kw_indicator_id_format(id, d->id);
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "type", json_string(kw_obs_type_name(d->type)));
    json_object_set_new(o, "value", kw_cli_json_str(d->value));
    json_object_set_new(o, "tlp", json_string(kw_tlp_name(r->tlp)));
    json_object_set_new(o, "origin", kw_cli_json_node_id(r->origin));
    if (origin_name != NULL) {
        json_object_set_new(o, "origin_name", kw_cli_json_str(origin_name));
    }
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(
        o, "confidence", d->confidence >= 0 ? json_integer(d->confidence) : json_null());
    json_object_set_new(o, "created", kw_cli_json_time(d->created));
    json_object_set_new(o, "modified", kw_cli_json_time(d->modified));
    json_object_set_new(o, "valid_from", kw_cli_json_time(d->valid_from));
    json_object_set_new(o, "valid_until", kw_cli_json_time(d->valid_until));
    json_object_set_new(o, "labels", str_array(d->labels, d->n_labels));
    json_object_set_new(o, "indicator_types", str_array(d->indicator_types, d->n_indicator_types));
    if (d->name != NULL) {
        json_object_set_new(o, "name", kw_cli_json_str(d->name));
    }
    if (d->description != NULL) {
        json_object_set_new(o, "description", kw_cli_json_str(d->description));
    }
    if (d->n_kill_chain_phases > 0) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < d->n_kill_chain_phases; i++) {
            json_t *k = json_object();
            json_object_set_new(
                k, "kill_chain_name", kw_cli_json_str(d->kill_chain_phases[i].kill_chain_name));
            json_object_set_new(
                k, "phase_name", kw_cli_json_str(d->kill_chain_phases[i].phase_name));
            json_array_append_new(a, k);
        }
        json_object_set_new(o, "kill_chain_phases", a);
    }
    json_object_set_new(o, "revoked", json_boolean(d->revoked));
    if (kw_tlp_sealed(r->tlp)) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < r->n_recipients; i++) {
            const char *name = kw_cli_name_of(n, r->recipients[i]);
            json_array_append_new(
                a, name != NULL ? kw_cli_json_str(name) : kw_cli_json_node_id(r->recipients[i]));
        }
        json_object_set_new(o, "recipients", a);
    }
    return o;
}

/* ---- Tables ---- */

/* Columns wider than this do not widen the table further; their cells just run over. */
#define TABLE_COL_MAX 64

static size_t display_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

static void table_row(const kw_cli_table *t, char *const *cells)
{
    size_t last = t->ncols;

    /* No padding after the last non-empty cell. */
    while (last > 1 && cells[last - 1][0] == '\0') {
        last--;
    }
    for (size_t c = 0; c < last; c++) {
        fputs(cells[c], stdout);
        if (c + 1 < last) {
            size_t w = display_width(cells[c]);
            for (; w < t->width[c] + 2; w++) {
                fputc(' ', stdout);
            }
        }
    }
    fputc('\n', stdout);
}

static void table_flush(kw_cli_table *t, bool print)
{
    for (size_t r = 0; r < t->rows; r++) {
        if (print) {
            table_row(t, t->cells + r * t->ncols);
        }
        for (size_t c = 0; c < t->ncols; c++) {
            free(t->cells[r * t->ncols + c]);
        }
    }
    free(t->cells);
    t->cells = NULL;
    t->rows = 0;
}

void kw_cli_table_init(kw_cli_table *t, size_t ncols, const char *const *header)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols > KW_CLI_TABLE_MAX_COLS ? KW_CLI_TABLE_MAX_COLS : ncols;
    t->header = header != NULL;
    if (header != NULL) {
        kw_cli_table_add(t, header);
    }
}

int kw_cli_table_add(kw_cli_table *t, const char *const *cells)
{
    if (t->streaming) {
        table_row(t, (char *const *)cells);
        return 0;
    }
    if (t->cells == NULL
        && (t->cells = calloc((size_t)KW_CLI_TABLE_BUFFER * t->ncols, sizeof(char *))) == NULL) {
        return kw_cli_error("out of memory");
    }
    for (size_t c = 0; c < t->ncols; c++) {
        size_t w = display_width(cells[c]);
        if ((t->cells[t->rows * t->ncols + c] = strdup(cells[c])) == NULL) {
            return kw_cli_error("out of memory");
        }
        if (w > t->width[c]) {
            t->width[c] = w > TABLE_COL_MAX ? TABLE_COL_MAX : w;
        }
    }
    if (++t->rows == KW_CLI_TABLE_BUFFER) {
        table_flush(t, true);
        t->streaming = true;
    }
    return 0;
}

void kw_cli_table_finish(kw_cli_table *t)
{
    /* A header with no rows under it is not printed. */
    table_flush(t, t->streaming || t->rows > (t->header ? 1u : 0u));
}

/* ---- Progress ---- */

void kw_cli_progress_start(kw_cli_progress *p, const char *label, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->on = total > 0 && isatty(STDERR_FILENO);
    p->label = label;
    p->total = total;
    p->start_ms = kw_time_now_ms();
}

void kw_cli_progress_update(kw_cli_progress *p, uint64_t done, uint64_t items)
{
    char bar[31];
    int64_t now;
    unsigned pct, fill;
    double rate;

    if (!p->on) {
        return;
    }
    now = kw_time_now_ms();
    if (now - p->last_ms < 100 && done < p->total) {
        return;
    }
    p->last_ms = now;
    if (done > p->total) {
        done = p->total;
    }
    pct = (unsigned)(done * 100 / p->total);
    fill = (unsigned)(done * 30 / p->total);
    memset(bar, '#', fill);
    memset(bar + fill, '.', 30 - fill);
    bar[30] = '\0';
    rate = now > p->start_ms ? (double)items * 1000.0 / (double)(now - p->start_ms) : 0.0;
    fprintf(stderr, "\r%-10s [%s] %3u%%  %llu  (%.0f/s)\033[K", p->label, bar, pct,
        (unsigned long long)items, rate);
    g_bar_drawn = true;
}

void kw_cli_progress_end(kw_cli_progress *p)
{
    if (p->on) {
        fputs("\r\033[K", stderr);
        p->on = false;
        g_bar_drawn = false;
    }
}

void kw_cli_notify_daemon(const kw_cli_node *n)
{
    /* Best effort: the daemon also polls the feed heads, so a lost notice costs latency. */
    (void)kw_control_request(n->dir, "notify", NULL, NULL);
}
