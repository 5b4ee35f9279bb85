/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CLI_CLI_H
#define KW_CLI_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "bundle/tlp.h"
#include "crypto/identity.h"
#include "store/store.h"

/*
 * The kawan command line. Each subcommand lives in its own file with a <name>_main(argc,
 * argv) (argv[0] is the command name), dispatched from the table in main.c. Everything the
 * subcommands share is here and in common.c. Only this module calls exit(); the *_main
 * functions return the process exit code.
 */

/* Exit codes. */
#define KW_CLI_OK 0
#define KW_CLI_FAIL 1 /* the command could not do its work */
#define KW_CLI_USAGE 2 /* the command line was wrong */

/* ---- Subcommands ---- */

typedef int (*kw_cli_fn)(int argc, char **argv);

typedef struct kw_cli_command {
    const char *name;
    kw_cli_fn fn;
    const char *help; /* one line for the command list */
} kw_cli_command;

int init_main(int argc, char **argv);
int id_main(int argc, char **argv);
int publish_main(int argc, char **argv);
int query_main(int argc, char **argv);
int show_main(int argc, char **argv);
int revoke_main(int argc, char **argv);
int remark_main(int argc, char **argv);
int verify_main(int argc, char **argv);
int status_main(int argc, char **argv);
int community_main(int argc, char **argv);
int peer_main(int argc, char **argv);
int key_main(int argc, char **argv);
int run_main(int argc, char **argv);
int tail_main(int argc, char **argv);
int export_main(int argc, char **argv);
int import_main(int argc, char **argv);
int help_main(int argc, char **argv);

/* The top-level table (main.c), for `kawan help`. */
extern const kw_cli_command kw_cli_commands[];

/*
 * Runs the subcommand of a command family (argv[0] is the family, e.g. "peer"): takes the
 * common options, then dispatches argv[optind] through table (terminated by a NULL name).
 * usage is printed for --help; what names the family in messages.
 */
int kw_cli_dispatch(
    int argc, char **argv, const kw_cli_command *table, const char *usage, const char *what);

/* ---- Messages ---- */

/* Prints "kawan: <message>" on stderr. kw_cli_error returns KW_CLI_FAIL and
 * kw_cli_usage_error KW_CLI_USAGE, so a command can `return kw_cli_error(...)`. */
int kw_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kw_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kw_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes s for a one-line message into buf: control bytes escaped as \xNN, and cut to about
 * max bytes with "..." when longer. Returns buf.
 */
const char *kw_cli_printable(char *buf, size_t cap, const char *s, size_t len, size_t max);

/* The length of the Unicode space (no-break, zero-width, narrow, ideographic; a byte order
 * mark) that s[0..n) starts with (at_end: ends with), or 0. */
size_t kw_cli_unicode_space(const char *s, size_t n, bool at_end);

/* Trims blanks (space, tab, CR, VT, FF) and those Unicode spaces from both ends of p[0..len). */
void kw_cli_trim(const char **p, size_t *len);

/*
 * Validates and normalises a value typed by a person or read from a list, as
 * kw_value_normalise (*type given) or kw_value_detect (*type KW_OBS_NONE; *type gets the
 * type found). A defanged value ("hxxp://evil[.]example") is refanged first, except for
 * STIX patterns and file names, where brackets and "(at)" can be meant literally;
 * *refanged says whether it was.
 */
kw_err kw_cli_value(kw_obs_type *type, const char *raw, size_t len, char *out, size_t cap,
    size_t *out_len, const char **why, bool *refanged);


/* ---- Options ---- */

/* Values of the options every command accepts (KW_CLI_COMMON_OPTS). */
enum {
    KW_OPT_DIR = 0x1000,
    KW_OPT_PASSFD,
    KW_OPT_LOCAL = 0x1100, /* first value free for a command's long-only options */
};

/* Closes a command's long option table: --dir, --passphrase-fd, --help and the end mark. */
#define KW_CLI_COMMON_OPTS                                           \
    { "dir", required_argument, NULL, KW_OPT_DIR },                  \
        { "passphrase-fd", required_argument, NULL, KW_OPT_PASSFD }, \
        { "help", no_argument, NULL, 'h' },                          \
    {                                                                \
        NULL, 0, NULL, 0                                             \
    }

/* Returned by kw_cli_getopt besides the command's own option values and -1 (end). */
#define KW_CLI_OPT_HELP (-2) /* usage printed on stdout: return KW_CLI_OK */
#define KW_CLI_OPT_BAD (-3) /* error printed: return KW_CLI_USAGE */

/*
 * getopt_long over a command's argv (argv[0] = command name, options may follow operands)
 * that handles the common options itself and prints one clear line for a bad option.
 * Call with the same arguments until it returns -1; then operands start at optind.
 */
int kw_cli_getopt(int argc, char **argv, const struct option *longopts, const char *usage);

/* Checks the operand count (argc - optind) is within [min, max]; prints the error if not. */
int kw_cli_operands(int argc, char **argv, int min, int max, const char *what);

/*
 * All the option parsing of a command whose only option of its own is --json (when json is
 * not NULL) and that takes min..max operands, named what in messages. Returns true when the
 * command should go on (operands at optind); otherwise *exit_code says what to return
 * (KW_CLI_OK after --help, KW_CLI_USAGE after a reported error).
 */
bool kw_cli_simple_args(int argc, char **argv, const char *usage, bool *json, int min, int max,
    const char *what, int *exit_code);

/* Parsers for option values; each returns 0, or prints the error and returns KW_CLI_USAGE. */
int kw_cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
int kw_cli_parse_tlp(const char *opt, const char *s, kw_tlp *out);
int kw_cli_parse_type(const char *opt, const char *s, kw_obs_type *out);
/* RFC 3339 or a duration (24h, 7d; "+30d" forward) relative to now. */
int kw_cli_parse_time(const char *opt, const char *s, int64_t now_ms, int64_t *out);
/* A node name as the roster takes it: 1-63 of [A-Za-z0-9._-]. */
int kw_cli_check_name(const char *what, const char *name);
/* A node id (kw1... or hex) that is a usable key. */
int kw_cli_parse_node_id(const char *s, uint8_t out[static 32]);

/* ---- The node: data directory, store, identity ---- */

/* The data directory: --dir, else $KAWAN_DIR, else ~/.local/share/kawan. */
const char *kw_cli_dir(void);
void kw_cli_set_dir(const char *dir);

/* Builds DIR/file into buf. Returns 0, or prints an error and returns KW_CLI_FAIL. */
int kw_cli_path(char *buf, size_t cap, const char *file);

#define KW_CLI_KEY_FILE "identity.key"
#define KW_CLI_COMMUNITY_FILE "community.key"

typedef struct kw_cli_node {
    char dir[PATH_MAX];
    char key_path[PATH_MAX];
    kw_store *store;
    kw_identity *id; /* with KW_CLI_IDENTITY */
    uint8_t self[32];
    char name[64];
    kw_peer *peers; /* the roster, loaded on first use by kw_cli_name_of */
    size_t n_peers;
    bool peers_loaded;
} kw_cli_node;

#define KW_CLI_NODE_ONLY 0u /* check that a node exists, open nothing */
#define KW_CLI_READ 1u /* open the store read-only */
#define KW_CLI_WRITE 2u /* open the store for writing */
#define KW_CLI_IDENTITY 4u /* also load the identity key (asks for its passphrase) */

/*
 * Opens the node in kw_cli_dir(). Every failure is reported as one line naming the
 * directory ("no node in DIR (run kawan init --name NAME first)", a damaged key file, a
 * wrong passphrase). Returns 0 or KW_CLI_FAIL; kw_cli_node_close is safe in both cases.
 */
int kw_cli_node_open(kw_cli_node *n, unsigned what);
void kw_cli_node_close(kw_cli_node *n);

/*
 * Tells a running daemon (if any) that the store has new local entries, so it pushes them
 * at once. Without a daemon this does nothing: the entries go out when it starts.
 */
void kw_cli_notify_daemon(const kw_cli_node *n);

/* The roster name of id (the node's own name for itself), or NULL. */
const char *kw_cli_name_of(kw_cli_node *n, const uint8_t id[static 32]);

/* The name of id, else its short form ("kw1abcdefghi"), into buf. */
const char *kw_cli_node_label(kw_cli_node *n, const uint8_t id[static 32], char buf[static 64]);

/*
 * Resolves a roster name, the node's own name, or a node id. With roster_only, an id must
 * be the node itself or a roster member. Returns 0, or prints the error and returns
 * KW_CLI_FAIL.
 */
int kw_cli_resolve_node(
    kw_cli_node *n, const char *ref, bool roster_only, uint8_t out[static 32], const char *what);

/*
 * Loads DIR/identity.key into n->id, asking for the passphrase when the key is protected.
 * Called by kw_cli_node_open with KW_CLI_IDENTITY.
 */
int kw_cli_identity_load(kw_cli_node *n);

/* ---- Indicators ---- */

/* One indicator copied out of the store, with where it came from. */
typedef struct kw_cli_found {
    kw_bundle *b; /* items[0] is the indicator; b->recipients its entry's recipients */
    kw_result r; /* r.ind and r.recipients point into b */
} kw_cli_found;

/*
 * Finds the current version of the indicator named by text ("indicator--<uuid>" or a bare
 * uuid), revoked or not. Returns 0, KW_CLI_USAGE for a malformed id or KW_CLI_FAIL when the
 * store does not hold it (reported). Free f with kw_cli_found_free in every case.
 */
int kw_cli_find_indicator(kw_cli_node *n, const char *text, kw_cli_found *f);
void kw_cli_found_free(kw_cli_found *f);

/*
 * Sets po to the audience of a version this node holds: its level tlp and, for a sealed
 * level, its entry's recipients rc[0..n) but self (the store adds self; with none left, self
 * alone, never "the whole roster"). *rcpt is allocated for them (free it after the publish).
 * Returns KW_ERR_OK or KW_ERR_NOMEM.
 */
kw_err kw_cli_same_audience(const uint8_t self[static 32], kw_tlp tlp, const uint8_t (*rc)[32],
    uint32_t n, kw_publish_opts *po, uint8_t (**rcpt)[32]);

/* ---- Passphrases ---- */

/*
 * Reads a passphrase into sodium_malloc memory (*out; free with kw_cli_passphrase_free):
 * from --passphrase-fd N when given (one line), else from the terminal without echo, asking
 * twice when confirm is set. Returns 0 or prints the error and returns KW_CLI_FAIL.
 */
int kw_cli_passphrase_read(char **out, const char *prompt, bool confirm);
void kw_cli_passphrase_free(char *p);

/* Reads one line (at most 1024 bytes) from fd into sodium_malloc memory, for secrets given
 * on a descriptor; free with kw_cli_passphrase_free. Returns 0 or KW_CLI_FAIL (reported). */
int kw_cli_secret_line(int fd, const char *what, char **out);

/* ---- Output ---- */

/* RFC 3339 UTC with ms, or "-" for 0. buf at least 32 bytes. */
const char *kw_cli_time(char *buf, int64_t ms);

/* JSON values; none returns NULL except on out of memory. */
json_t *kw_cli_json_str(const char *s); /* invalid UTF-8 replaced by U+FFFD */
json_t *kw_cli_json_time(int64_t ms); /* null for 0 */
json_t *kw_cli_json_node_id(const uint8_t id[static 32]);
/* Prints o as one compact line on stdout and releases it. Returns 0 or KW_CLI_FAIL. */
int kw_cli_json_print(json_t *o);

/* An indicator as the JSON object of `query --json` and `show --json`. */
json_t *kw_cli_result_json(kw_cli_node *n, const kw_result *r);

/*
 * An aligned text table for terminals. Rows are buffered so column widths fit the content;
 * past KW_CLI_TABLE_BUFFER rows the widths are fixed and rows stream out, so memory stays
 * bounded on huge results.
 */
#define KW_CLI_TABLE_MAX_COLS 8
#define KW_CLI_TABLE_BUFFER 1000
typedef struct kw_cli_table {
    size_t ncols;
    size_t width[KW_CLI_TABLE_MAX_COLS];
    char **cells; /* buffered rows, ncols cells each */
    size_t rows;
    bool header;
    bool streaming;
} kw_cli_table;

/* header (may be NULL) is the first row; it is printed only when rows follow it. */
void kw_cli_table_init(kw_cli_table *t, size_t ncols, const char *const *header);
int kw_cli_table_add(kw_cli_table *t, const char *const *cells);
/* Prints what is buffered and frees the table. */
void kw_cli_table_finish(kw_cli_table *t);

/* A progress bar on stderr, shown only when stderr is a terminal. */
typedef struct kw_cli_progress {
    bool on;
    const char *label;
    uint64_t total;
    int64_t start_ms;
    int64_t last_ms;
} kw_cli_progress;

void kw_cli_progress_start(kw_cli_progress *p, const char *label, uint64_t total);
/* done: units of total (bytes); items: what to show as count (indicators). */
void kw_cli_progress_update(kw_cli_progress *p, uint64_t done, uint64_t items);
void kw_cli_progress_end(kw_cli_progress *p);

#endif
