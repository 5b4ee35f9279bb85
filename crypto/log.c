/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int g_level = -1;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

int kw_log_parse_level(const char *s, kw_log_level *out)
{
    for (int i = 0; i <= KW_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (kw_log_level)i;
            return 0;
        }
    }
    return -1;
}

kw_log_level kw_log_get_level(void)
{
    if (g_level < 0) {
        kw_log_level l = KW_LOG_INFO;
        const char *env = getenv("KAWAN_LOG");
        if (env != NULL) {
            (void)kw_log_parse_level(env, &l);
        }
        g_level = (int)l;
    }
    return (kw_log_level)g_level;
}

void kw_log_set_level(kw_log_level level)
{
    g_level = (int)level;
}

const char *kw_log_quote(char *buf, unsigned long cap, const char *s)
{
    size_t o = 0;
    int needs = (*s == '\0');

    for (const char *p = s; *p != '\0'; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20) {
            needs = 1;
            break;
        }
    }
    if (cap == 0) {
        return buf;
    }
    if (!needs) {
        snprintf(buf, cap, "%s", s);
        return buf;
    }
    if (o + 1 < cap) {
        buf[o++] = '"';
    }
    for (const char *p = s; *p != '\0' && o + 3 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            buf[o++] = '?';
        } else {
            buf[o++] = (char)c;
        }
    }
    if (o + 1 < cap) {
        buf[o++] = '"';
    }
    buf[o < cap ? o : cap - 1] = '\0';
    return buf;
}

void kw_log(kw_log_level level, const char *msg, const char *kv_fmt, ...)
{
    char line[2048];
    char qmsg[512];
    struct timespec ts;
    struct tm tm;
    int n;

    if (level < kw_log_get_level() || level >= KW_LOG_OFF) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        ts.tv_nsec / 1000000, level_names[level], kw_log_quote(qmsg, sizeof(qmsg), msg));
    if (n < 0) {
        return;
    }
    if (kv_fmt != NULL && (size_t)n + 2 < sizeof(line)) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, kv_fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, kv_fmt, ap);
        va_end(ap);
        if (m > 0) {
            n += m;
        }
    }
    if ((size_t)n >= sizeof(line) - 1) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}
