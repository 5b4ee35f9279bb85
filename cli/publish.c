/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/misp.h"
#include "bundle/outfile.h"
#include "bundle/timefmt.h"
#include "bundle/value.h"

static const char usage[]
    = "Usage: kawan publish --tlp LEVEL [OPTIONS] (VALUE... | --file FILE | --file -)\n"
      "\n"
      "Publishes indicators into this node's feed: each value is validated and normalised\n"
      "(its type detected unless --type is given), then written as signed feed entries of up\n"
      "to 1,000 indicators each. If any value is invalid nothing is published (unless\n"
      "--skip-invalid), and each bad value is reported with its line number. Values written\n"
      "defanged, as reports write them (hxxp://evil[.]example, 192.0.2[.]1,\n"
      "user[at]example.org), are refanged first.\n"
      "\n"
      "  --tlp LEVEL          clear (or white), green, amber, amber+strict or red (required)\n"
      "  --to NODE-OR-NAME    a recipient for amber, amber+strict and red (repeatable);\n"
      "                       amber levels default to every roster member, red needs --to\n"
      "  --type T             the type of every value: ipv4, ipv6, cidr, domain, url, email,\n"
      "                       md5, sha1, sha256, sha512, filename, stix-pattern; or ip:\n"
      "                       an IPv4 or IPv6 address or a CIDR block (also in a CSV\n"
      "                       'type' column)\n"
      "  --confidence N       0-100\n"
      "  --valid-until TIME   RFC 3339 time or +DURATION (e.g. +30d); must be in the future\n"
      "  --label L            a label (repeatable)\n"
      "  --description TEXT   a description for every indicator\n"
      "  --file FILE          read values from FILE, one per line ('-': standard input);\n"
      "                       blank lines and lines starting with '#' or ';' are ignored,\n"
      "                       as is a '#' or ';' comment after white space, and a list\n"
      "                       marker ('- ', '1. '), quotes, backticks or <> around a value\n"
      "                       and a comma after it (not with --type filename or\n"
      "                       stix-pattern); in hosts-file lines\n"
      "                       ('0.0.0.0 NAME...', '127.0.0.1 NAME...', '::1 NAME...') each\n"
      "                       name is a value, and localhost and its kin are skipped\n"
      "  --csv                FILE is CSV: a header row naming a 'value' column (else the\n"
      "                       first column is the value) and optionally a 'type' column;\n"
      "                       quoted fields may hold commas, quotes and line breaks; a\n"
      "                       MISP CSV export (a 'to_ids' column) takes MISP type names,\n"
      "                       skips to_ids 0 rows, and refuses rows whose tlp: tag (in\n"
      "                       'attribute_tag', 'event_tag' or 'tags') is stricter than --tlp\n"
      "  --column N|NAME      with --csv (implied): the value is column N (from 1), or the\n"
      "                       column the header row names NAME; a '#' comment line naming\n"
      "                       NAME counts as the header (abuse.ch exports: --column url)\n"
      "  --skip-invalid       publish the valid values and report the invalid ones\n"
      "\n"
      "The input is read twice: once to check every value, once to publish. The first\n"
      "reading copies it to an unnamed temporary file in the data directory, and the second\n"
      "reads that copy, so what is published is what was checked, and memory stays small\n"
      "for any input size; a file that changes while it is checked (a feed downloaded\n"
      "again into its path) is refused. Lines may end in LF, CRLF or CR. Checksum lists\n"
      "(md5sum, sha256sum) and named hashes (sha256:HASH) give their hashes. A progress bar\n"
      "is shown when stderr is a terminal. docs/operations.md lists the feed formats read.\n";

#define MAX_REPORTED 20
/* Indicators handed to the store per write transaction. */
#define BATCH_BUNDLES 10u
/* Lines longer than this are reported as invalid without being parsed. */
#define LINE_MAX_BYTES (256u * 1024u)
#define CSV_MAX_FIELDS 64

typedef struct pub_opts {
    bool have_tlp;
    kw_tlp tlp;
    kw_obs_type type;
    bool any_ip; /* --type ip: IPv4, IPv6 or CIDR, as detected */
    int confidence;
    int64_t now;
    int64_t valid_until;
    const char *labels[KW_BUNDLE_MAX_LIST];
    uint32_t n_labels;
    const char *description;
    const char *to[KW_BUNDLE_MAX_RECIPIENTS];
    size_t n_to;
    const char *file;
    bool csv;
    const char *column; /* --column: a number (column_no > 0) or a header's name */
    int column_no;
    bool skip_invalid;
} pub_opts;

/* Where values come from: the command line, or a file read line by line. */
typedef struct source {
    char **values; /* command-line values, when fd < 0 */
    int n_values;
    int fd;
    int copy_fd; /* the private copy the first reading writes, and the second reads */
    bool regular; /* fd is a regular file, which st describes as it was when opened */
    struct stat st;
    const char *name;
    off_t start_off; /* where the input starts in fd */
    uint64_t size;
    uint64_t bytes; /* read so far, for the progress bar */
    char *buf;
    size_t start, end;
    bool eof;
    bool skipping; /* discarding the rest of an over-long line */
    bool cr_pending; /* the last line ended in a CR: an LF next is part of its end */
    uint64_t line;
    /* CSV state */
    bool header_seen;
    bool column_found; /* a header named --column */
    uint64_t first_row; /* the line of the first row that is no comment */
    int value_col;
    int type_col;
    /* A MISP CSV export (its header names a to_ids column): MISP type names, to_ids and
     * the tlp: tags of its tag columns are honoured. */
    int to_ids_col;
    int tag_cols[4];
    int n_tag_cols;
    uint64_t not_ids; /* rows with to_ids 0 */
    uint64_t unsupported; /* rows of a MISP type kawan does not carry */
    /* The last MISP row converted (allocated with the first); a domain|ip row's second
     * value in it is given by the next call while pending is set. */
    kw_misp_value *misp;
    bool pending;
    uint64_t pending_line;
    char *scratch;
    char *rec; /* a CSV record whose quoted field spans lines, joined */
    const char *hosts_at, *hosts_end; /* the names of a hosts-file line not yet taken */
} source;

typedef enum item_kind { ITEM_OK, ITEM_BAD } item_kind;

typedef struct item {
    item_kind kind;
    uint64_t line;
    kw_obs_type type;
    char value[KW_VALUE_MAX + 1];
    size_t len;
    const char *raw;
    size_t raw_len;
    const char *why;
    char why_buf[160];
    bool refanged; /* written defanged ("hxxp://evil[.]example") */
} item;

/* ---- Reading ---- */

static int source_rewind(source *s)
{
    bool started = s->bytes > 0 || s->eof;
    if (s->copy_fd >= 0 && s->eof) {
        /* Read to its end once (check_pass made sure it held still): from now on the copy
         * is the input. */
        close(s->fd);
        s->fd = s->copy_fd;
        s->copy_fd = -1;
        s->start_off = 0;
        s->size = s->bytes;
    }
    s->start = s->end = 0;
    s->eof = s->skipping = s->cr_pending = false;
    s->line = 0;
    s->bytes = 0;
    s->header_seen = s->column_found = false;
    s->value_col = 0;
    s->type_col = -1;
    s->to_ids_col = -1;
    s->n_tag_cols = 0;
    s->not_ids = s->unsupported = 0;
    s->pending = false;
    s->hosts_at = s->hosts_end = NULL;
    if (started && s->fd >= 0 && lseek(s->fd, s->start_off, SEEK_SET) != s->start_off) {
        return kw_cli_error("cannot rewind %s: %s", s->name, strerror(errno));
    }
    return 0;
}

/*
 * The next physical line (without its end of line) of the file. Returns 1 with a line,
 * 0 at the end, -1 on a read error (reported). A line longer than LINE_MAX_BYTES comes back
 * cut, with *toolong set; the rest of it is skipped.
 */
static int read_line(source *s, char **line, size_t *len, bool *toolong)
{
    *toolong = false;
    for (;;) {
        /* A line ends at LF, CRLF or a lone CR (old Mac files). A CR ends its line at once;
         * an LF right after it, maybe only in the next read, goes with it (cr_pending), so
         * where a read stops never changes where lines end. */
        if (s->cr_pending && s->start < s->end) {
            s->start += s->buf[s->start] == '\n';
            s->cr_pending = false;
        }
        char *b = s->buf + s->start, *e = s->buf + s->end;
        char *nl = memchr(b, '\n', (size_t)(e - b));
        char *cr = memchr(b, '\r', (size_t)((nl != NULL ? nl : e) - b));
        char *eol = cr != NULL ? cr : nl;
        size_t eol_len = 1;
        if (cr != NULL && cr + 1 < e) {
            eol_len = cr[1] == '\n' ? 2 : 1;
        } else if (cr != NULL) {
            s->cr_pending = true;
        }
        if (eol != NULL) {
            size_t at = (size_t)(eol - s->buf);
            if (s->skipping) {
                s->skipping = false;
                s->start = at + eol_len;
                continue;
            }
            *line = b;
            *len = at - s->start;
            s->start = at + eol_len;
            s->line++;
            return 1;
        }
        if (s->skipping) {
            s->start = s->end = 0;
        }
        if (s->eof) {
            if (s->start < s->end) {
                *line = s->buf + s->start;
                *len = s->end - s->start;
                s->start = s->end;
                s->line++;
                return 1;
            }
            return 0;
        }
        if (s->start > 0) {
            memmove(s->buf, s->buf + s->start, s->end - s->start);
            s->end -= s->start;
            s->start = 0;
        }
        if (s->end == LINE_MAX_BYTES) {
            *line = s->buf;
            *len = s->end;
            *toolong = true;
            s->skipping = true;
            s->start = s->end;
            s->line++;
            return 1;
        }
        ssize_t n = read(s->fd, s->buf + s->end, LINE_MAX_BYTES - s->end);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            kw_cli_error("cannot read %s: %s", s->name, strerror(errno));
            return -1;
        }
        if (n == 0) {
            s->eof = true;
        }
        if (s->copy_fd >= 0
            && kw_write_all(s->copy_fd, s->buf + s->end, (size_t)n) != KW_ERR_OK) {
            kw_cli_error("cannot copy %s into the data directory: %s", s->name, strerror(errno));
            return -1;
        }
        s->end += (size_t)n;
        s->bytes += (uint64_t)n;
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **p, size_t *len)
{
    while (*len > 0 && is_blank(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*p)[*len - 1])) {
        (*len)--;
    }
}

typedef struct field {
    const char *p;
    size_t len;
} field;

/*
 * Splits one CSV record into fields (RFC 4180 quoting: "a,b" and "" for a quote; a quoted
 * field may hold line breaks, see join_record). Unquoted fields are trimmed. Quoted fields
 * are copied unescaped into scratch (at least len bytes). Returns NULL or what is wrong.
 */
static const char *csv_split(const char *line, size_t len, char *scratch, field *f, int *nf)
{
    size_t i = 0, o = 0;
    int n = 0;

    for (;;) {
        const char *start;
        size_t flen;
        while (i < len && is_blank(line[i])) {
            i++;
        }
        if (i < len && line[i] == '"') {
            start = scratch + o;
            i++;
            for (;;) {
                if (i >= len) {
                    return "has a quoted field that is never closed";
                }
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        scratch[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                scratch[o++] = line[i++];
            }
            flen = (size_t)(scratch + o - start);
            while (i < len && is_blank(line[i])) {
                i++;
            }
            if (i < len && line[i] != ',') {
                return "has text after a closing quote";
            }
        } else {
            start = line + i;
            while (i < len && line[i] != ',') {
                i++;
            }
            flen = (size_t)(line + i - start);
            trim(&start, &flen);
        }
        if (n < CSV_MAX_FIELDS) {
            f[n].p = start;
            f[n].len = flen;
            n++;
        }
        if (i >= len) {
            break;
        }
        i++; /* the comma */
    }
    *nf = n;
    return NULL;
}

static bool field_is(const field *f, const char *name)
{
    return f->len == strlen(name) && strncasecmp(f->p, name, f->len) == 0;
}

/* The names hosts files map for the machine itself, which name no indicator. */
static bool is_local_name(const char *w, size_t len)
{
    static const char *const names[] = { "localhost", "localhost.localdomain", "local",
        "broadcasthost", "ip6-localhost", "ip6-loopback", "ip6-localnet", "ip6-mcastprefix",
        "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0" };

    for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
        if (strlen(names[j]) == len && strncasecmp(w, names[j], len) == 0) {
            return true;
        }
    }
    return false;
}

/* For a hosts-file line ("0.0.0.0 NAME...", "127.0.0.1 ...", "::1 ..."): where its names
 * start. NULL when the line is not a hosts-file line. */
static const char *hosts_names(const char *s, size_t n)
{
    /* The addresses of the usual hosts files, StevenBlack's header included. */
    static const char *const sinks[] = { "0.0.0.0", "127.0.0.1", "::1", "::", "fe00::0",
        "ff00::0", "ff02::1", "ff02::2", "ff02::3", "fe80::1%lo0", "255.255.255.255" };

    /* What every sink starts with: most lines are no hosts lines, and are done here. */
    if (n == 0 || (s[0] != '0' && s[0] != '1' && s[0] != '2' && s[0] != ':' && s[0] != 'f')) {
        return NULL;
    }
    for (size_t k = 0; k < sizeof(sinks) / sizeof(sinks[0]); k++) {
        size_t l = strlen(sinks[k]);
        if (n > l + 1 && memcmp(s, sinks[k], l) == 0 && is_blank(s[l])) {
            return s + l;
        }
    }
    return NULL;
}

/* The next name of a hosts-file line from *q (before end) that is not a local one, and
 * *q past it; false when there is none. */
static bool hosts_next(const char **q, const char *end, const char **name, size_t *len)
{
    while (*q < end) {
        while (*q < end && is_blank(**q)) {
            (*q)++;
        }
        const char *w = *q;
        while (*q < end && !is_blank(**q)) {
            (*q)++;
        }
        if (*q > w && !is_local_name(w, (size_t)(*q - w))) {
            *name = w;
            *len = (size_t)(*q - w);
            return true;
        }
    }
    return false;
}

/* The length of a list marker s[0..n) starts with ("- ", "* ", "+ ", "• ", "– ",
 * "12. ", "3) "), the blank after it included; 0 when there is none. */
static size_t list_marker(const char *s, size_t n)
{
    static const char *const bullets[] = { "-", "*", "+", "\xe2\x80\xa2", "\xe2\x80\x93",
        "\xe2\x80\x94", "\xc2\xb7" };
    size_t m = 0;

    /* Every marker starts with one of these: most lines are done here. */
    if (n < 2 || (s[0] != '-' && s[0] != '*' && s[0] != '+' && (s[0] < '0' || s[0] > '9')
                     && (unsigned char)s[0] != 0xe2 && (unsigned char)s[0] != 0xc2)) {
        return 0;
    }
    for (size_t k = 0; k < sizeof(bullets) / sizeof(bullets[0]) && m == 0; k++) {
        size_t l = strlen(bullets[k]);
        if (n > l && memcmp(s, bullets[k], l) == 0) {
            m = l;
        }
    }
    if (m == 0) {
        while (m < n && m < 4 && s[m] >= '0' && s[m] <= '9') {
            m++;
        }
        if (m == 0 || m >= n || (s[m] != '.' && s[m] != ')')) {
            return 0;
        }
        m++;
    }
    return m < n && is_blank(s[m]) ? m + 1 : 0;
}

/*
 * A value as a report or a chat lists it: without a list marker before it, the quotes,
 * backticks or angle brackets around it, or a comma or semicolon after it
 * ("- `evil[.]example`," is evil[.]example). None of these can start or end a value.
 */
static void as_listed(const char **p, size_t *len)
{
    static const char *const pairs[][2] = { { "`", "`" }, { "\"", "\"" }, { "'", "'" },
        { "<", ">" }, { "\xe2\x80\x9c", "\xe2\x80\x9d" }, { "\xe2\x80\x98", "\xe2\x80\x99" } };
    const char *s = *p;
    size_t n = *len, m;

    if ((m = list_marker(s, n)) > 0) {
        s += m;
        n -= m;
        trim(&s, &n);
    }
    while (n > 1 && (s[n - 1] == ',' || s[n - 1] == ';')) {
        n--;
    }
    trim(&s, &n);
    bool quoted = n > 1 && (s[0] == '`' || s[0] == '"' || s[0] == '\'' || s[0] == '<'
                               || (unsigned char)s[0] == 0xe2);
    for (size_t k = 0; quoted && k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        size_t a = strlen(pairs[k][0]), b = strlen(pairs[k][1]);
        if (n > a + b && memcmp(s, pairs[k][0], a) == 0 && memcmp(s + n - b, pairs[k][1], b) == 0) {
            s += a;
            n -= a + b;
            trim(&s, &n);
            while (n > 1 && (s[n - 1] == ',' || s[n - 1] == ';')) {
                n--;
            }
            break;
        }
    }
    *p = s;
    *len = n;
}

/* The length of the run of hex digits s[0..n) starts with. */
static size_t hex_run(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n
        && ((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f'))) {
        i++;
    }
    return i;
}

static bool hash_length(size_t n)
{
    return n == 32 || n == 40 || n == 64 || n == 128;
}

/*
 * A hash as checksum tools and reports write it: md5sum/sha256sum output ("HASH  name",
 * "HASH *name", the name dropped) and a name before it ("sha256:HASH", "SHA-1: HASH").
 */
static void hash_listed(const char **p, size_t *len)
{
    static const struct {
        const char *name;
        size_t hex;
    } names[] = { { "md5", 32 }, { "sha1", 40 }, { "sha-1", 40 }, { "sha256", 64 },
        { "sha-256", 64 }, { "sha512", 128 }, { "sha-512", 128 } };
    const char *s = *p;
    size_t n = *len, h;
    bool named = n > 4 && ((s[0] | 0x20) == 'm' || (s[0] | 0x20) == 's');

    for (size_t k = 0; named && k < sizeof(names) / sizeof(names[0]); k++) {
        size_t l = strlen(names[k].name);
        if (n > l + 1 && strncasecmp(s, names[k].name, l) == 0 && s[l] == ':') {
            const char *v = s + l + 1;
            size_t vn = n - l - 1;
            trim(&v, &vn);
            /* A hash of another length than its name says stays as written, and fails. */
            if (hex_run(v, vn) == names[k].hex && vn == names[k].hex) {
                *p = v;
                *len = vn;
                return;
            }
        }
    }
    /* "HASH  name": a blank right after a hash's length, before anything is scanned. */
    bool after = (n > 34 && is_blank(s[32])) || (n > 42 && is_blank(s[40]))
        || (n > 66 && is_blank(s[64])) || (n > 130 && is_blank(s[128]));
    h = after ? hex_run(s, n) : 0;
    if (hash_length(h) && h + 2 < n && is_blank(s[h])
        && (is_blank(s[h + 1]) || s[h + 1] == '*')) {
        *len = h;
    }
}

/*
 * A line of a plain list (already trimmed), without a comment that follows it after white
 * space ("evil.example  # C2"). A hosts-file line is not a value itself: its names become
 * the source's pending ones (next_item takes them one by one; the local ones, such as
 * "127.0.0.1 localhost", name nothing). Returns false when the line holds no value of its own.
 */
static bool plain_value(source *src, kw_obs_type type, const char **p, size_t *len)
{
    const char *s = *p, *names;
    size_t n = *len;

    /* A file name ("Order #4471.pdf.exe") or a STIX pattern ("[file:name = 'a #1']") may
     * hold " #" or " ;" itself. */
    bool comments = type != KW_OBS_FILENAME && type != KW_OBS_STIX_PATTERN && s[0] != '[';
    for (size_t i = 1; comments && i < n; i++) {
        if ((s[i] == '#' || s[i] == ';')
            && (is_blank(s[i - 1]) || kw_cli_unicode_space(s, i, true) > 0)) {
            n = i;
            break;
        }
    }
    kw_cli_trim(&s, &n);
    if ((names = hosts_names(s, n)) != NULL) {
        src->hosts_at = names;
        src->hosts_end = s + n;
        return false;
    }
    if (comments) {
        as_listed(&s, &n);
        hash_listed(&s, &n);
    }
    *p = s;
    *len = n;
    return true;
}

static void set_bad(item *it, const char *raw, size_t raw_len, const char *why)
{
    it->kind = ITEM_BAD;
    it->raw = raw;
    it->raw_len = raw_len;
    it->why = why;
}

/* any_ip: the type given was "ip", an IPv4 or IPv6 address or a CIDR block. */
static void normalise(item *it, kw_obs_type type, bool any_ip, const char *raw, size_t raw_len)
{
    const char *why = NULL;
    kw_err rc;

    trim(&raw, &raw_len);
    /* Errors quote what was written, not the refanged form. */
    it->type = type;
    rc = kw_cli_value(
        &it->type, raw, raw_len, it->value, sizeof(it->value), &it->len, &why, &it->refanged);
    if (rc != KW_ERR_OK) {
        set_bad(it, raw, raw_len, why != NULL ? why : "is not a valid value");
        return;
    }
    if (any_ip && it->type != KW_OBS_IPV4 && it->type != KW_OBS_IPV6 && it->type != KW_OBS_CIDR) {
        set_bad(it, raw, raw_len, "is not an IP address or CIDR block (type ip)");
        return;
    }
    it->kind = ITEM_OK;
    it->raw = raw;
    it->raw_len = raw_len;
}

/*
 * The TLP of a MISP CSV row: the most restrictive tlp: tag of its tag columns (a tag list
 * "tlp:amber,osint:..."). Returns false, with it set bad, for a tlp: tag that is no level
 * or a level stricter than --tlp (the row would be shared more widely than it is marked).
 */
static bool csv_row_tlp(const source *s, const pub_opts *o, item *it, const field *f, int nf)
{
    for (int c = 0; c < s->n_tag_cols; c++) {
        const field *t = &f[s->tag_cols[c]];
        if (s->tag_cols[c] >= nf) {
            continue;
        }
        for (size_t i = 0; i + 4 <= t->len; i++) {
            if (strncasecmp(t->p + i, "tlp:", 4) != 0 || (i > 0 && t->p[i - 1] != ','
                                                             && !is_blank(t->p[i - 1]))) {
                continue;
            }
            size_t e = i;
            while (e < t->len && t->p[e] != ',' && !is_blank(t->p[e])) {
                e++;
            }
            char tag[40];
            kw_tlp level;
            snprintf(tag, sizeof(tag), "%.*s", (int)(e - i < 39 ? e - i : 39), t->p + i);
            if (kw_tlp_parse(tag + 4, &level) != KW_ERR_OK) {
                if (strcasecmp(tag + 4, "unclear") == 0 || strncasecmp(tag + 4, "ex:", 3) == 0) {
                    continue;
                }
                snprintf(it->why_buf, sizeof(it->why_buf),
                    "is tagged '%s', which is not a TLP level", tag);
                return false;
            }
            if (level > o->tlp) {
                snprintf(it->why_buf, sizeof(it->why_buf),
                    "is tagged %s, stricter than --tlp %s (import the MISP event to keep each "
                    "attribute's TLP)",
                    tag, kw_tlp_name(o->tlp));
                return false;
            }
        }
    }
    return true;
}

/* A MISP CSV row whose type is a MISP type name: its value converted as the MISP importer
 * would. Returns false for a type kawan does not carry (the row is skipped). */
static bool csv_misp_value(source *s, item *it, const field *type, const field *value)
{
    char name[64], raw[2 * KW_VALUE_MAX + 2];
    const char *why = NULL;

    it->kind = ITEM_BAD;
    it->raw = value->p;
    it->raw_len = value->len;
    it->refanged = false; /* MISP values are never defanged */
    if (s->misp == NULL && (s->misp = malloc(sizeof(*s->misp))) == NULL) {
        it->why = "could not be read (out of memory)";
        return true;
    }
    snprintf(name, sizeof(name), "%.*s", (int)(type->len < 63 ? type->len : 63), type->p);
    if (value->len >= sizeof(raw)) {
        it->why = "is too long";
        return true;
    }
    memcpy(raw, value->p, value->len);
    raw[value->len] = '\0';
    kw_misp_value *v = s->misp;
    kw_err rc = kw_misp_convert(name, raw, v, &why);
    if (rc == KW_ERR_NOTFOUND) {
        return false;
    }
    if (rc != KW_ERR_OK) {
        it->why = why != NULL ? why : "is not a valid value";
        return true;
    }
    it->kind = ITEM_OK;
    it->type = v->type;
    memcpy(it->value, v->value, v->len + 1);
    it->len = v->len;
    s->pending = v->type2 != KW_OBS_NONE;
    s->pending_line = it->line;
    return true;
}

/* A MISP to_ids cell that is true: 1 or true (MISP writes 0 or 1; empty is not true, as a
 * missing to_ids is not in the JSON import). */
static bool true_word(const field *f)
{
    return (f->len == 1 && f->p[0] == '1') || (f->len == 4 && strncasecmp(f->p, "true", 4) == 0);
}

/* Whether every cell of a row is a name (letters, digits, '_', '-', '.', spaces): what a
 * header row looks like ("first_seen_utc,dst_ip,dst_port"). */
static bool row_of_names(const field *f, int nf)
{
    for (int i = 0; i < nf; i++) {
        if (f[i].len == 0) {
            return false;
        }
        for (size_t k = 0; k < f[i].len; k++) {
            char c = f[i].p[k];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '-' || c == '.' || c == ' ')) {
                return false;
            }
        }
    }
    return nf > 1;
}

/* A CSV data line: picks the value and type columns. Returns false for a row that names no
 * value to publish (a MISP row with to_ids 0, or of a type kawan does not carry). */
static bool csv_item(source *s, const pub_opts *o, item *it, const char *line, size_t len)
{
    field f[CSV_MAX_FIELDS];
    int nf = 0;
    const char *why = csv_split(line, len, s->scratch, f, &nf);
    kw_obs_type type = o->type;
    bool any_ip = o->any_ip;

    if (why != NULL) {
        set_bad(it, line, len, why);
        return true;
    }
    if (s->value_col >= nf) {
        snprintf(it->why_buf, sizeof(it->why_buf), "has no column %d (the value column)",
            s->value_col + 1);
        set_bad(it, line, len, it->why_buf);
        return true;
    }
    if (s->to_ids_col >= 0 && (s->to_ids_col >= nf || !true_word(&f[s->to_ids_col]))) {
        s->not_ids++;
        return false;
    }
    if (!csv_row_tlp(s, o, it, f, nf)) {
        set_bad(it, f[s->value_col].p, f[s->value_col].len, it->why_buf);
        return true;
    }
    if (s->type_col >= 0 && s->type_col < nf && field_is(&f[s->type_col], "ip")
        && s->to_ids_col < 0) {
        type = KW_OBS_NONE;
        any_ip = true;
    } else if (s->type_col >= 0 && s->type_col < nf && f[s->type_col].len > 0) {
        any_ip = false;
        char name[32];
        size_t tl = f[s->type_col].len;
        if (tl >= sizeof(name)
            || (memcpy(name, f[s->type_col].p, tl), name[tl] = '\0',
                kw_obs_type_parse(name, &type) != KW_ERR_OK)) {
            if (s->to_ids_col >= 0) {
                if (!csv_misp_value(s, it, &f[s->type_col], &f[s->value_col])) {
                    s->unsupported++;
                    return false;
                }
                return true;
            }
            char shown[48];
            snprintf(it->why_buf, sizeof(it->why_buf), "has an unknown type '%s'",
                kw_cli_printable(shown, sizeof(shown), f[s->type_col].p, tl, 32));
            set_bad(it, f[s->value_col].p, f[s->value_col].len, it->why_buf);
            return true;
        }
    }
    normalise(it, type, any_ip, f[s->value_col].p, f[s->value_col].len);
    if (it->kind == ITEM_BAD && s->line == s->first_row && o->column_no > 0
        && row_of_names(f, nf)) {
        /* A header row that names neither 'value' nor 'type' is data to --column N: say how
         * to have it read as a header. */
        char shown[48];
        snprintf(it->why_buf, sizeof(it->why_buf),
            "%s (a header row? give the column by its name: --column %s)", it->why,
            kw_cli_printable(shown, sizeof(shown), f[s->value_col].p, f[s->value_col].len, 32));
        it->why = it->why_buf;
    }
    return true;
}

/*
 * The first CSV row is a header when it names a 'value' or a 'type' column, or the column
 * --column names. commented: the row is a '#' comment, which is a header only when it names
 * --column's name (and is otherwise ignored).
 */
static bool csv_header(source *s, const pub_opts *o, const char *line, size_t len, bool commented)
{
    field f[CSV_MAX_FIELDS];
    int nf = 0, named = -1;
    bool header = false;

    if (csv_split(line, len, s->scratch, f, &nf) != NULL) {
        nf = 0;
    }
    for (int i = 0; o->column != NULL && o->column_no == 0 && i < nf; i++) {
        if (field_is(&f[i], o->column)) {
            named = i;
            break;
        }
    }
    if (commented && named < 0) {
        return false;
    }
    s->header_seen = true;
    s->value_col = o->column_no > 0 ? o->column_no - 1 : 0;
    s->type_col = -1;
    for (int i = 0; i < nf; i++) {
        if (i == named) {
            s->value_col = i;
            s->column_found = header = true;
        } else if (field_is(&f[i], "value") && !header) {
            /* A header all the same; --column says where the value is. */
            if (named < 0 && o->column_no == 0) {
                s->value_col = i;
            }
            header = true;
        } else if (field_is(&f[i], "type") && s->type_col < 0) {
            s->type_col = i;
        } else if (field_is(&f[i], "to_ids") && s->to_ids_col < 0) {
            s->to_ids_col = i;
        } else if ((field_is(&f[i], "attribute_tag") || field_is(&f[i], "event_tag")
                       || field_is(&f[i], "tags") || field_is(&f[i], "tag"))
            && s->n_tag_cols < 4) {
            s->tag_cols[s->n_tag_cols++] = i;
        }
    }
    if (s->type_col >= 0) {
        header = true;
    }
    if (!header) {
        s->type_col = s->to_ids_col = -1;
        s->n_tag_cols = 0;
    }
    return header;
}

/*
 * True when a CSV line leaves a quoted field open, read as csv_split reads it: a quote opens
 * a quoted field only at the start of a field (after blanks); inside one, "" is a quote and
 * a lone '"' closes it; anywhere else a quote is an ordinary character ('5" floppy'). open:
 * the line starts inside a quoted field (the previous line left one open).
 */
static bool quote_open(const char *line, size_t len, bool open)
{
    bool field_start = !open;

    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (open) {
            if (c == '"') {
                if (i + 1 < len && line[i + 1] == '"') {
                    i++;
                } else {
                    open = false;
                }
            }
        } else if (c == ',') {
            field_start = true;
        } else if (field_start && c == '"') {
            open = true;
            field_start = false;
        } else if (!is_blank(c)) {
            field_start = false;
        }
    }
    return open;
}

/*
 * A CSV record whose quoted field holds line breaks (RFC 4180 section 2.6, as in the comments
 * of MISP exports): joins its lines, with '\n', into s->rec. *why is set when the record
 * never closes its quote, or is longer than LINE_MAX_BYTES (its remaining lines are read
 * and dropped, so none of them is taken for a record of its own). Returns 0, or -1 on a
 * read error (reported).
 */
static int join_record(source *s, char **line, size_t *len, const char **why)
{
    size_t n = *len;
    bool open = true, fits = true;

    memcpy(s->rec, *line, n);
    while (open) {
        char *next;
        size_t nlen;
        bool toolong;
        int r = read_line(s, &next, &nlen, &toolong);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            *why = "has a quoted field that is never closed";
            break;
        }
        if (nlen > 0 && next[nlen - 1] == '\r') {
            nlen--;
        }
        open = quote_open(next, nlen, open);
        if (fits && !toolong && n + 1 + nlen <= LINE_MAX_BYTES) {
            s->rec[n++] = '\n';
            memcpy(s->rec + n, next, nlen);
            n += nlen;
        } else {
            fits = false;
            *why = "is a CSV record longer than 256 KiB";
        }
    }
    *line = s->rec;
    *len = n;
    return 0;
}

/*
 * The encoding of a first line in UTF-16 or UTF-32 ("UTF-16LE", ...), by its byte order mark,
 * or, without one, by NULs exactly where ASCII text in that encoding has them and printable
 * ASCII everywhere else (over the first 64 bytes); NULL for anything else, binary data
 * included.
 */
static const char *wide_encoding(const char *line, size_t len)
{
    static const struct {
        const char *name;
        size_t unit;
        size_t at; /* where in a unit the ASCII byte is */
        const char *bom;
    } encs[] = { { "UTF-32LE", 4, 0, "\xff\xfe\0\0" }, { "UTF-32BE", 4, 3, "\0\0\xfe\xff" },
        { "UTF-16LE", 2, 0, "\xff\xfe" }, { "UTF-16BE", 2, 1, "\xfe\xff" } };
    const unsigned char *u = (const unsigned char *)line;

    for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
        if (len >= encs[e].unit && memcmp(line, encs[e].bom, encs[e].unit) == 0) {
            return encs[e].name;
        }
    }
    for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
        size_t n = len < 64 ? len : 64, text = 0;
        bool fits = n >= encs[e].unit;
        for (size_t i = 0; i < n && fits; i++) {
            if (i % encs[e].unit != encs[e].at) {
                fits = u[i] == 0;
            } else {
                fits = u[i] == '\t' || u[i] == '\r' || (u[i] >= 0x20 && u[i] < 0x7f);
                text++;
            }
        }
        if (fits && text > 0) {
            return encs[e].name;
        }
    }
    return NULL;
}

/*
 * The next value. Returns 1 with *it filled (ITEM_OK or ITEM_BAD), 0 at the end, or -1 when
 * the input cannot be read as text (reported: binary data, or a read error).
 */
static int next_item(source *s, const pub_opts *o, item *it)
{
    char *line;
    size_t len;
    bool toolong;
    int r;

    if (s->fd < 0) {
        if (s->line >= (uint64_t)s->n_values) {
            return 0;
        }
        line = s->values[s->line++];
        it->line = s->line;
        const char *v = line;
        size_t vlen = strlen(line);
        if (o->type == KW_OBS_NONE || o->type == KW_OBS_MD5 || o->type == KW_OBS_SHA1
            || o->type == KW_OBS_SHA256 || o->type == KW_OBS_SHA512) {
            hash_listed(&v, &vlen); /* "sha256:HASH" typed or pasted */
        }
        normalise(it, o->type, o->any_ip, v, vlen);
        return 1;
    }
    for (;;) {
        const char *p;
        size_t plen, bad_at;
        if (s->pending) {
            /* The address of a MISP domain|ip row. */
            s->pending = false;
            it->kind = ITEM_OK;
            it->line = s->pending_line;
            it->type = s->misp->type2;
            memcpy(it->value, s->misp->value2, s->misp->len2 + 1);
            it->len = s->misp->len2;
            it->raw = it->value;
            it->raw_len = it->len;
            it->refanged = false;
            return 1;
        }
        /* The names of a hosts-file line, each a value (the line stays in the buffer until
         * the next read). */
        if (s->hosts_at != NULL) {
            if (hosts_next(&s->hosts_at, s->hosts_end, &p, &plen)) {
                /* A hosts file maps names: an address or a URL there is a broken line. */
                it->line = s->line;
                normalise(it, o->type != KW_OBS_NONE ? o->type : KW_OBS_DOMAIN, o->any_ip, p,
                    plen);
                return 1;
            }
            s->hosts_at = NULL;
        }
        if ((r = read_line(s, &line, &len, &toolong)) <= 0) {
            return r;
        }
        it->line = s->line;
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        if (s->line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
            line += 3; /* a UTF-8 byte order mark */
            len -= 3;
        }
        if (s->line == 1 && len >= 2 && (unsigned char)line[0] == 0x1f
            && (unsigned char)line[1] == 0x8b) {
            kw_cli_error("%s is gzip-compressed; decompress it first (zcat FILE | kawan "
                         "publish ... --file -); nothing published",
                s->name);
            return -1;
        }
        /* UTF-16 (Windows PowerShell's default output) and UTF-32 put NULs beside every
         * ASCII character: named, with the conversion, rather than called binary. */
        const char *wide = s->line == 1 && memchr(line, '\0', len) != NULL
            ? wide_encoding(line, len)
            : NULL;
        if (wide != NULL) {
            kw_cli_error("%s is %s text, not UTF-8; convert it first (iconv -f %s -t UTF-8); "
                         "nothing published",
                s->name, wide, wide);
            return -1;
        }
        /* Comments first: a comment may be in another encoding, quote anything, hold a NUL
         * or run on past 256 KiB (its rest is skipped with it). */
        p = line;
        plen = len;
        kw_cli_trim(&p, &plen);
        if (plen == 0 || p[0] == '#' || p[0] == ';') {
            if (o->csv && !s->header_seen && plen > 0 && p[0] == '#' && o->column != NULL
                && !toolong) {
                /* A commented header ("# id,dateadded,url,..." in abuse.ch exports) counts
                 * when it names --column. */
                (void)csv_header(s, o, p + 1, plen - 1, true);
            }
            continue;
        }
        if (memchr(line, '\0', len) != NULL) {
            kw_cli_error("%s line %llu: binary data (a NUL byte), not text; nothing published",
                s->name, (unsigned long long)s->line);
            return -1;
        }
        if (toolong) {
            /* Cut at 256 KiB, possibly inside a character: quote only its start. */
            set_bad(it, line, 64, "is on a line longer than 256 KiB");
            return 1;
        }
        const char *why = NULL;
        if (o->csv && quote_open(line, len, false)) {
            if (join_record(s, &line, &len, &why) != 0) {
                return -1;
            }
            if (why != NULL) {
                set_bad(it, line, len < 64 ? len : 64, why);
                return 1;
            }
        }
        if (!kw_utf8_valid(line, len, &bad_at)) {
            /* One line in another encoding (a Latin-1 comment) is one bad value. */
            snprintf(it->why_buf, sizeof(it->why_buf),
                "is not UTF-8 text (invalid byte 0x%02x at column %zu)",
                (unsigned char)line[bad_at], bad_at + 1);
            set_bad(it, line, len, it->why_buf);
            return 1;
        }
        p = line;
        plen = len;
        trim(&p, &plen);
        if (o->csv) {
            if (!s->header_seen) {
                s->first_row = s->line;
                bool header = csv_header(s, o, line, len, false);
                if (o->column != NULL && o->column_no == 0 && !s->column_found) {
                    char shown[80];
                    kw_cli_error("%s line %llu: the header row names no column '%s' "
                                 "(--column); nothing published",
                        s->name, (unsigned long long)s->line,
                        kw_cli_printable(shown, sizeof(shown), o->column, strlen(o->column), 64));
                    return -1;
                }
                if (header) {
                    continue;
                }
            }
            if (!csv_item(s, o, it, line, len)) {
                continue;
            }
        } else {
            if (!plain_value(s, o->type, &p, &plen)) {
                continue;
            }
            normalise(it, o->type, o->any_ip, p, plen);
        }
        return 1;
    }
}

/*
 * Opens --file, and an unnamed file in the data directory (private like the store, gone
 * when we exit) that the first reading copies it into: the second reading takes the copy,
 * so what is published is what was checked, even from a pipe or a file rewritten meanwhile.
 */
static int open_input(source *s, const pub_opts *o, const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    int fd;
    int ret;

    if (strcmp(o->file, "-") == 0) {
        s->name = "standard input";
        fd = dup(STDIN_FILENO);
    } else {
        s->name = o->file;
        fd = open(o->file, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        return kw_cli_error("cannot open %s: %s", s->name, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        ret = kw_cli_error("cannot read %s: %s", s->name,
            S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
        close(fd);
        return ret;
    }
    s->start_off = 0;
    if (S_ISREG(st.st_mode) && (s->start_off = lseek(fd, 0, SEEK_CUR)) >= 0
        && st.st_size >= s->start_off) {
        s->size = (uint64_t)(st.st_size - s->start_off);
        s->regular = true;
        s->st = st;
    } else {
        s->start_off = 0;
    }
    s->copy_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->copy_fd < 0) {
        if ((size_t)snprintf(path, sizeof(path), "%s/.publish-input.XXXXXX", dir) < sizeof(path)
            && (s->copy_fd = mkstemp(path)) >= 0) {
            unlink(path);
        } else {
            ret = kw_cli_error("cannot create a temporary file in %s: %s", dir, strerror(errno));
            close(fd);
            return ret;
        }
    }
    s->fd = fd;
    return 0;
}

/* ---- Messages about invalid values ---- */

static void format_bad(char *buf, size_t cap, const source *s, const item *it)
{
    char shown[160];

    kw_cli_printable(shown, sizeof(shown), it->raw, it->raw_len, 100);
    snprintf(buf, cap, "%s %llu: '%s' %s", s->fd >= 0 ? "line" : "argument",
        (unsigned long long)it->line, shown, it->why);
}

/* ---- Publishing ---- */

/*
 * Values seen in the current batch, so that a list repeating a value publishes it once.
 * (The store drops values this node already publishes; this catches repeats that land in
 * the same write transaction.)
 */
#define SEEN_SLOTS 32768u
_Static_assert(SEEN_SLOTS >= 2 * BATCH_BUNDLES * KW_BUNDLE_DEFAULT_SIZE,
    "the seen set must stay at most half full");

typedef struct seen_set {
    uint64_t hash[SEEN_SLOTS];
    uint32_t ref[SEEN_SLOTS]; /* bundle << 16 | item: items move when a bundle grows */
} seen_set;

static uint64_t value_hash(kw_obs_type t, const char *v, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)t;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)v[i]) * 1099511628211ull;
    }
    return h | 1; /* 0 marks an empty slot */
}

typedef struct publisher {
    kw_cli_node *node;
    const pub_opts *o;
    kw_publish_opts popts;
    /* Batches are written on the pipe's thread while the next is read and filled. */
    kw_publish_pipe *pipe;
    kw_bundle *bundles[BATCH_BUNDLES];
    size_t cur; /* bundle being filled */
    size_t in_batch; /* indicators in the batch */
    seen_set *seen;
    kw_publish_result total;
    uint64_t batch_dups;
    uint64_t refanged; /* values given defanged */
    bool said_total; /* a failure message already gave what was published */
    size_t bundle_bytes; /* kw_indicator_size_bound of what the bundle being filled holds */
    size_t text_bytes; /* the same for an empty value with this publish's texts; 0: not yet */
} publisher;

/* True when the value is already in this batch; otherwise *slot is where it goes. */
static bool seen_check(const publisher *p, const item *it, uint64_t h, size_t *slot)
{
    const seen_set *ss = p->seen;
    size_t i = (size_t)h & (SEEN_SLOTS - 1);

    while (ss->hash[i] != 0) {
        if (ss->hash[i] == h) {
            const kw_indicator *d = &p->bundles[ss->ref[i] >> 16]->items[ss->ref[i] & 0xffff];
            if (d->type == it->type && d->value_len == it->len
                && memcmp(d->value, it->value, it->len) == 0) {
                return true;
            }
        }
        i = (i + 1) & (SEEN_SLOTS - 1);
    }
    *slot = i;
    return false;
}

/* Counts the batches the pipe has written, and tells the daemon there is news. */
static void count_written(publisher *p, const kw_publish_result *r)
{
    kw_publish_result_add(&p->total, r);
    if (r->entries > 0) {
        kw_cli_notify_daemon(p->node);
    }
}

static int publish_failed(publisher *p, kw_err rc)
{
    p->said_total = true;
    if (p->total.indicators > 0) {
        return kw_cli_error("publishing failed after %llu indicators were published "
                            "(seq %llu-%llu): %s",
            (unsigned long long)p->total.indicators, (unsigned long long)p->total.first_seq,
            (unsigned long long)p->total.last_seq, kw_strerror(rc));
    }
    return kw_cli_error("publishing failed, nothing published: %s", kw_strerror(rc));
}

/* Hands the batch to the pipe, which gives empty bundles back in its place. */
static int flush_batch(publisher *p)
{
    kw_publish_result r;
    size_t nb = p->cur + (p->bundles[p->cur]->n > 0);
    kw_err rc;

    if (p->in_batch == 0) {
        return 0;
    }
    rc = kw_publish_pipe_put(p->pipe, p->bundles, nb, &r);
    count_written(p, &r);
    if (rc != KW_ERR_OK) {
        return publish_failed(p, rc);
    }
    p->total.duplicates += p->batch_dups;
    memset(p->seen->hash, 0, sizeof(p->seen->hash));
    p->cur = 0;
    p->in_batch = 0;
    p->batch_dups = 0;
    return 0;
}

/*
 * After a failure: waits for the batches already handed over, which are written all the same
 * (an error of theirs was said already), and says what they published.
 */
static void stopped(publisher *p)
{
    kw_publish_result r;
    uint64_t before = p->total.indicators;

    (void)kw_publish_pipe_finish(p->pipe, &r);
    count_written(p, &r);
    if (p->total.indicators > 0 && (!p->said_total || p->total.indicators > before)) {
        kw_cli_warn("%llu indicators were published before it stopped (seq %llu-%llu)",
            (unsigned long long)p->total.indicators, (unsigned long long)p->total.first_seq,
            (unsigned long long)p->total.last_seq);
    }
}

/* Waits until every batch handed over is written. */
static int finish_batches(publisher *p)
{
    kw_publish_result r;
    kw_err rc = kw_publish_pipe_finish(p->pipe, &r);

    count_written(p, &r);
    return rc == KW_ERR_OK ? 0 : publish_failed(p, rc);
}

static int add_item(publisher *p, const item *it)
{
    const pub_opts *o = p->o;
    uint64_t h = value_hash(it->type, it->value, it->len);
    kw_indicator *d;
    kw_bundle *b;
    size_t slot = 0;
    int ret;

    if (seen_check(p, it, h, &slot)) {
        p->batch_dups++;
        return 0;
    }
    /* The same texts go with every value, so only the value's length varies: an entry takes
     * fewer than KW_BUNDLE_DEFAULT_SIZE values when long texts would make it too big. */
    if (p->text_bytes == 0) {
        kw_indicator est = { .description = o->description,
            .labels = (const char **)o->labels, .n_labels = o->n_labels };
        p->text_bytes = kw_indicator_size_bound(&est);
    }
    size_t need = p->text_bytes + it->len;
    if (p->bundles[p->cur]->n >= KW_BUNDLE_DEFAULT_SIZE
        || (p->bundles[p->cur]->n > 0 && p->bundle_bytes + need > KW_BUNDLE_TARGET_BYTES)) {
        if (p->cur + 1 == BATCH_BUNDLES) {
            if ((ret = flush_batch(p)) != 0) {
                return ret;
            }
            slot = (size_t)h & (SEEN_SLOTS - 1); /* the set is empty again */
        } else {
            p->cur++;
        }
        p->bundle_bytes = 0;
    }
    p->bundle_bytes += need;
    b = p->bundles[p->cur];
    if (kw_bundle_add(b, &d) != KW_ERR_OK
        || (d->value = kw_bundle_strdup(b, it->value, it->len)) == NULL) {
        return kw_cli_error("out of memory");
    }
    kw_uuid_new(d->id, o->now);
    d->type = it->type;
    d->value_len = (uint32_t)it->len;
    d->created = d->modified = d->valid_from = o->now;
    d->valid_until = o->valid_until;
    d->confidence = o->confidence;
    d->description = o->description;
    /* Options live as long as the process; the encoder only reads them. */
    d->labels = (const char **)o->labels;
    d->n_labels = o->n_labels;
    p->seen->hash[slot] = h;
    p->seen->ref[slot] = (uint32_t)(p->cur << 16 | (b->n - 1));
    p->in_batch++;
    return 0;
}

static int parse_options(int argc, char **argv, pub_opts *o)
{
    enum {
        O_TLP = KW_OPT_LOCAL,
        O_TYPE,
        O_CONF,
        O_UNTIL,
        O_LABEL,
        O_DESC,
        O_SKIP,
        O_TO,
        O_FILE,
        O_CSV,
        O_COLUMN
    };
    static const struct option opts[] = {
        { "tlp", required_argument, NULL, O_TLP },
        { "type", required_argument, NULL, O_TYPE },
        { "confidence", required_argument, NULL, O_CONF },
        { "valid-until", required_argument, NULL, O_UNTIL },
        { "label", required_argument, NULL, O_LABEL },
        { "description", required_argument, NULL, O_DESC },
        { "skip-invalid", no_argument, NULL, O_SKIP },
        { "to", required_argument, NULL, O_TO },
        { "file", required_argument, NULL, O_FILE },
        { "csv", no_argument, NULL, O_CSV },
        { "column", required_argument, NULL, O_COLUMN },
        KW_CLI_COMMON_OPTS,
    };
    uint64_t v;
    int c, ret;

    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case O_TLP:
            if ((ret = kw_cli_parse_tlp("--tlp", optarg, &o->tlp)) != 0) {
                return ret;
            }
            o->have_tlp = true;
            break;
        case O_TYPE:
            o->any_ip = strcasecmp(optarg, "ip") == 0;
            if (o->any_ip) {
                o->type = KW_OBS_NONE;
            } else if ((ret = kw_cli_parse_type("--type", optarg, &o->type)) != 0) {
                return ret;
            }
            break;
        case O_CONF:
            if ((ret = kw_cli_parse_u64("--confidence", optarg, 0, 100, &v)) != 0) {
                return ret;
            }
            o->confidence = (int)v;
            break;
        case O_UNTIL:
            if ((ret = kw_cli_parse_time("--valid-until", optarg, o->now, &o->valid_until)) != 0) {
                return ret;
            }
            if (o->valid_until <= o->now) {
                return kw_cli_usage_error("--valid-until: %s is not in the future", optarg);
            }
            break;
        case O_LABEL:
            if (o->n_labels == KW_BUNDLE_MAX_LIST) {
                return kw_cli_usage_error("--label: at most %u labels", KW_BUNDLE_MAX_LIST);
            }
            if (optarg[0] == '\0' || strlen(optarg) > 256
                || !kw_utf8_valid(optarg, strlen(optarg), NULL)) {
                return kw_cli_usage_error("--label: a label is 1-256 bytes of UTF-8 text");
            }
            o->labels[o->n_labels++] = optarg;
            break;
        case O_DESC:
            if (strlen(optarg) > KW_BUNDLE_MAX_TEXT
                || !kw_utf8_valid(optarg, strlen(optarg), NULL)) {
                return kw_cli_usage_error(
                    "--description: at most %u bytes of UTF-8 text", KW_BUNDLE_MAX_TEXT);
            }
            o->description = optarg[0] != '\0' ? optarg : NULL;
            break;
        case O_SKIP:
            o->skip_invalid = true;
            break;
        case O_TO:
            if (o->n_to == KW_BUNDLE_MAX_RECIPIENTS) {
                return kw_cli_usage_error("--to: at most %u recipients", KW_BUNDLE_MAX_RECIPIENTS);
            }
            o->to[o->n_to++] = optarg;
            break;
        case O_FILE:
            if (o->file != NULL) {
                return kw_cli_usage_error("publish: --file given twice");
            }
            o->file = optarg;
            break;
        case O_CSV:
            o->csv = true;
            break;
        case O_COLUMN:
            /* Digits count from 1; anything else names a header's column. */
            if (optarg[0] != '\0' && strspn(optarg, "0123456789") == strlen(optarg)) {
                if ((ret = kw_cli_parse_u64("--column", optarg, 1, CSV_MAX_FIELDS, &v)) != 0) {
                    return ret;
                }
                o->column_no = (int)v;
            } else if (optarg[0] == '\0' || strlen(optarg) > 64) {
                return kw_cli_usage_error("--column: a column number (1-%d) or a header's "
                                          "name (at most 64 bytes)",
                    CSV_MAX_FIELDS);
            }
            o->column = optarg;
            o->csv = true;
            break;
        case KW_CLI_OPT_HELP:
            return -1;
        default:
            return KW_CLI_USAGE;
        }
    }
    if (!o->have_tlp) {
        return kw_cli_usage_error("publish: --tlp LEVEL is required (clear, green, amber, "
                                  "amber+strict or red)");
    }
    if (o->file != NULL && optind < argc) {
        return kw_cli_usage_error("publish: give values or --file, not both");
    }
    if (o->file == NULL && optind >= argc) {
        return kw_cli_usage_error("publish: nothing to publish (give VALUE... or --file FILE)");
    }
    if (o->csv && o->file == NULL) {
        return kw_cli_usage_error("publish: %s needs --file", o->column ? "--column" : "--csv");
    }
    if (o->tlp == KW_TLP_RED && o->n_to == 0) {
        return kw_cli_usage_error("publish: TLP:RED needs at least one recipient (--to "
                                  "NODE-OR-NAME)");
    }
    if (!kw_tlp_sealed(o->tlp) && o->n_to > 0) {
        return kw_cli_usage_error("publish: --to applies only to amber, amber+strict and red "
                                  "(TLP:%s is not encrypted)",
            kw_tlp_name(o->tlp));
    }
    return 0;
}

/* Resolves --to into node ids: roster members only, without duplicates or this node. */
static int resolve_recipients(kw_cli_node *n, const pub_opts *o, uint8_t (*ids)[32], size_t *count)
{
    size_t k = 0;

    for (size_t i = 0; i < o->n_to; i++) {
        uint8_t id[32];
        bool dup = false;
        if (kw_cli_resolve_node(n, o->to[i], true, id, "recipient") != 0) {
            return KW_CLI_FAIL;
        }
        if (memcmp(id, n->self, 32) == 0) {
            continue; /* the publisher is always a recipient */
        }
        for (size_t j = 0; j < k && !dup; j++) {
            dup = memcmp(ids[j], id, 32) == 0;
        }
        if (!dup) {
            memcpy(ids[k++], id, 32);
        }
    }
    if (o->tlp == KW_TLP_RED && k == 0) {
        return kw_cli_error("TLP:RED needs a recipient other than this node; nothing published");
    }
    *count = k;
    return 0;
}

/* Pass 1: checks every value, keeping only the first error messages and the counts. */
/*
 * A regular file cut short or rewritten while it was read (a feed downloaded again into its
 * path) gave a part, or a mix, of two versions: refused rather than published. Its change
 * time catches a rewrite that kept the size and put the modification time back.
 */
static int source_held_still(source *s)
{
    struct stat st;

    if (s->regular
        && (fstat(s->fd, &st) != 0 || st.st_size != s->st.st_size
            || st.st_mtim.tv_sec != s->st.st_mtim.tv_sec
            || st.st_mtim.tv_nsec != s->st.st_mtim.tv_nsec
            || st.st_ctim.tv_sec != s->st.st_ctim.tv_sec
            || st.st_ctim.tv_nsec != s->st.st_ctim.tv_nsec
            || s->bytes != (uint64_t)(s->st.st_size - s->start_off))) {
        return kw_cli_error("%s changed while it was being read; nothing published (publish a "
                            "copy that stays put, or the new file once it is complete)",
            s->name);
    }
    return 0;
}

static int check_pass(
    source *s, const pub_opts *o, item *it, char (*errors)[256], uint64_t *valid, uint64_t *invalid)
{
    kw_cli_progress prog;
    int r;

    kw_cli_progress_start(&prog, "checking", s->fd >= 0 ? s->size : 0);
    while ((r = next_item(s, o, it)) > 0) {
        if (it->kind == ITEM_OK) {
            (*valid)++;
        } else {
            if (*invalid < MAX_REPORTED) {
                format_bad(errors[*invalid], sizeof(errors[0]), s, it);
            }
            (*invalid)++;
        }
        if ((s->line & 4095) == 0) {
            kw_cli_progress_update(&prog, s->bytes, *valid + *invalid);
        }
    }
    kw_cli_progress_end(&prog);
    if (r < 0 || source_held_still(s) != 0) {
        return KW_CLI_FAIL;
    }
    return 0;
}

/* Pass 2: reads the values again and publishes them batch by batch. */
static int publish_pass(publisher *p, source *s, item *it, uint64_t expect_valid)
{
    kw_cli_progress prog;
    uint64_t valid = 0;
    int r, ret;

    kw_cli_progress_start(&prog, "publishing", s->fd >= 0 ? s->size : 0);
    while ((r = next_item(s, p->o, it)) > 0) {
        if (it->kind != ITEM_OK) {
            if (!p->o->skip_invalid) {
                kw_cli_progress_end(&prog);
                (void)flush_batch(p); /* what was read before it is valid */
                ret = kw_cli_error("%s changed while it was being published (line %llu is "
                                   "now invalid); stopped",
                    s->name, (unsigned long long)it->line);
                stopped(p);
                return ret;
            }
            continue;
        }
        valid++;
        p->refanged += it->refanged;
        if ((ret = add_item(p, it)) != 0) {
            kw_cli_progress_end(&prog);
            stopped(p);
            return ret;
        }
        if ((s->line & 4095) == 0) {
            kw_cli_progress_update(&prog, s->bytes, valid);
        }
    }
    ret = r < 0 ? KW_CLI_FAIL : flush_batch(p);
    kw_cli_progress_end(&prog);
    if (ret == 0) {
        ret = finish_batches(p);
    } else {
        stopped(p);
    }
    if (ret == 0 && valid != expect_valid) {
        kw_cli_warn("%s changed while it was being published (%llu valid values at first, "
                    "%llu now)",
            s->name, (unsigned long long)expect_valid, (unsigned long long)valid);
    }
    return ret;
}

int publish_main(int argc, char **argv)
{
    pub_opts o;
    source s;
    publisher p;
    kw_cli_node n;
    item *it = NULL;
    uint8_t(*rcpt)[32] = NULL;
    size_t n_rcpt = 0;
    char(*errors)[256] = NULL;
    uint64_t valid = 0, invalid = 0;
    int ret;

    memset(&o, 0, sizeof(o));
    memset(&s, 0, sizeof(s));
    memset(&p, 0, sizeof(p));
    memset(&n, 0, sizeof(n));
    s.fd = s.copy_fd = -1;
    o.confidence = -1;
    o.now = kw_time_now_ms();
    if ((ret = parse_options(argc, argv, &o)) != 0) {
        return ret < 0 ? KW_CLI_OK : ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_WRITE | KW_CLI_IDENTITY)) != 0) {
        goto out;
    }
    ret = KW_CLI_FAIL;
    if (o.n_to > 0) {
        if ((rcpt = calloc(o.n_to, 32)) == NULL) {
            kw_cli_error("out of memory");
            goto out;
        }
        if (resolve_recipients(&n, &o, rcpt, &n_rcpt) != 0) {
            goto out;
        }
    }
    it = malloc(sizeof(*it));
    errors = calloc(MAX_REPORTED, sizeof(*errors));
    p.seen = calloc(1, sizeof(*p.seen));
    if (it == NULL || errors == NULL || p.seen == NULL) {
        kw_cli_error("out of memory");
        goto out;
    }
    if (o.file == NULL) {
        s.values = argv + optind;
        s.n_values = argc - optind;
        s.name = "arguments";
    } else if ((ret = open_input(&s, &o, n.dir)) != 0) {
        goto out;
    } else {
        ret = KW_CLI_FAIL;
        if ((s.buf = malloc(LINE_MAX_BYTES)) == NULL
            || (s.scratch = malloc(LINE_MAX_BYTES)) == NULL
            || (o.csv && (s.rec = malloc(LINE_MAX_BYTES)) == NULL)) {
            kw_cli_error("out of memory");
            goto out;
        }
    }
    if (source_rewind(&s) != 0 || check_pass(&s, &o, it, errors, &valid, &invalid) != 0) {
        goto out;
    }
    for (uint64_t i = 0; i < invalid && i < MAX_REPORTED; i++) {
        if (o.skip_invalid) {
            kw_cli_warn("skipped %s", errors[i]);
        } else {
            kw_cli_warn("%s", errors[i]);
        }
    }
    if (invalid > MAX_REPORTED) {
        kw_cli_warn("... and %llu more invalid values%s",
            (unsigned long long)(invalid - MAX_REPORTED), o.skip_invalid ? " skipped" : "");
    }
    if (invalid > 0 && !o.skip_invalid) {
        kw_cli_error("nothing published: %llu invalid value%s (--skip-invalid publishes the "
                     "%llu valid one%s)",
            (unsigned long long)invalid, invalid == 1 ? "" : "s", (unsigned long long)valid,
            valid == 1 ? "" : "s");
        goto out;
    }
    if (valid == 0) {
        if (invalid > 0) {
            kw_cli_error(
                "nothing published: all %llu values are invalid", (unsigned long long)invalid);
        } else if (s.not_ids + s.unsupported > 0) {
            kw_cli_error("nothing published: %s holds no values to publish (%llu not for "
                         "detection, %llu of MISP types kawan does not carry)",
                s.name, (unsigned long long)s.not_ids, (unsigned long long)s.unsupported);
        } else {
            kw_cli_error("nothing published: %s holds no values", s.name);
        }
        goto out;
    }
    p.node = &n;
    p.o = &o;
    p.popts.tlp = o.tlp;
    p.popts.recipients = n_rcpt > 0 ? (const uint8_t(*)[32])rcpt : NULL;
    p.popts.n_recipients = n_rcpt;
    for (size_t i = 0; i < BATCH_BUNDLES; i++) {
        if (kw_bundle_new(&p.bundles[i]) != KW_ERR_OK) {
            kw_cli_error("out of memory");
            goto out;
        }
    }
    kw_err prc = kw_publish_pipe_new(&p.pipe, n.store, n.id, &p.popts, BATCH_BUNDLES);
    if (prc != KW_ERR_OK) {
        kw_cli_error("cannot start publishing: %s", kw_strerror(prc));
        goto out;
    }
    if (source_rewind(&s) != 0 || publish_pass(&p, &s, it, valid) != 0) {
        goto out;
    }
    char refanged[64] = "", misp[160] = "";
    if (p.refanged > 0) {
        snprintf(refanged, sizeof(refanged), " (%llu given defanged, refanged)",
            (unsigned long long)p.refanged);
    }
    if (s.to_ids_col >= 0) {
        snprintf(misp, sizeof(misp), ", %llu not for detection (to_ids 0) skipped, %llu of MISP "
                 "types kawan does not carry skipped",
            (unsigned long long)s.not_ids, (unsigned long long)s.unsupported);
    }
    if (p.total.entries > 0) {
        printf("published %llu indicators%s in %llu entries (seq %llu-%llu), %llu duplicates "
               "skipped, %llu invalid skipped%s\n",
            (unsigned long long)p.total.indicators, refanged,
            (unsigned long long)p.total.entries, (unsigned long long)p.total.first_seq,
            (unsigned long long)p.total.last_seq, (unsigned long long)p.total.duplicates,
            (unsigned long long)invalid, misp);
    } else {
        printf("published 0 indicators in 0 entries, %llu duplicates skipped, %llu invalid "
               "skipped%s\n",
            (unsigned long long)p.total.duplicates, (unsigned long long)invalid, misp);
    }
    if (p.total.duplicates_other_tlp > 0) {
        kw_cli_warn("%llu of the duplicates %s already published by this node under another TLP "
                    "level (kawan remark ID --tlp LEVEL changes the level)",
            (unsigned long long)p.total.duplicates_other_tlp,
            p.total.duplicates_other_tlp == 1 ? "is" : "are");
    }
    ret = KW_CLI_OK;
out:
    kw_publish_pipe_free(p.pipe);
    for (size_t i = 0; i < BATCH_BUNDLES; i++) {
        kw_bundle_free(p.bundles[i]);
    }
    if (s.fd >= 0) {
        close(s.fd);
    }
    if (s.copy_fd >= 0) {
        close(s.copy_fd);
    }
    free(s.buf);
    free(s.scratch);
    free(s.rec);
    free(s.misp);
    free(p.seen);
    free(errors);
    free(it);
    free(rcpt);
    kw_cli_node_close(&n);
    return ret;
}
