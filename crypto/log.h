/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CRYPTO_LOG_H
#define KW_CRYPTO_LOG_H

/*
 * Logging: one logfmt line per event on stderr, e.g.
 *   ts=2026-11-28T07:20:00.123Z level=info msg="session up" peer=CERT-B
 * The caller writes the key=value pairs after the message with a printf format; values that
 * may hold spaces must be quoted by the caller (kw_log_quote helps). Nothing secret is ever
 * passed here.
 */
typedef enum kw_log_level {
    KW_LOG_DEBUG = 0,
    KW_LOG_INFO = 1,
    KW_LOG_WARN = 2,
    KW_LOG_ERROR = 3,
    KW_LOG_OFF = 4,
} kw_log_level;

/* Sets the lowest level that is printed (default KW_LOG_INFO, or $KAWAN_LOG). */
void kw_log_set_level(kw_log_level level);
kw_log_level kw_log_get_level(void);

/* Parses "debug", "info", "warn", "error" or "off". Returns 0 on success, -1 otherwise. */
int kw_log_parse_level(const char *s, kw_log_level *out);

/* Writes one line: ts, level, msg="msg", then the formatted key=value pairs (may be NULL). */
void kw_log(kw_log_level level, const char *msg, const char *kv_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Formats s as a logfmt value into buf (quoted and escaped when needed). Returns buf, which
 * is always NUL-terminated.
 */
const char *kw_log_quote(char *buf, unsigned long cap, const char *s);

#define kw_log_debug(...) kw_log(KW_LOG_DEBUG, __VA_ARGS__)
#define kw_log_info(...) kw_log(KW_LOG_INFO, __VA_ARGS__)
#define kw_log_warn(...) kw_log(KW_LOG_WARN, __VA_ARGS__)
#define kw_log_error(...) kw_log(KW_LOG_ERROR, __VA_ARGS__)

#endif
