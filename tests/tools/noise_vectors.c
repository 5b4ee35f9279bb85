/* SPDX-License-Identifier: Apache-2.0 */
/*
 * noise-vectors: runs Noise test vectors (the cacophony / snow JSON format) against
 * crypto/noise.
 *
 *     noise-vectors [-v] FILE_OR_DIRECTORY...
 *
 * Directories are searched recursively for *.json and *.txt files (cacophony and snow ship
 * their JSON as .txt). For every vector whose protocol kw_noise_hs_new supports, the
 * handshake messages, the transport messages after Split and the handshake hash (when the
 * vector has one) must match byte for byte, and each message must decrypt back to its
 * payload. Vectors of other suites or modifiers are skipped.
 *
 * Output: one line per failing vector, then "N passed, M failed, K skipped". The exit status
 * is 1 if any vector failed or any file could not be read or parsed, 2 on bad usage.
 */
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/noise.h"

enum outcome { PASSED, FAILED, SKIPPED };

struct totals {
    unsigned long passed;
    unsigned long failed;
    unsigned long skipped;
    bool file_error;
    bool verbose;
};

/* A side of a vector: its handshake and, after Split, its transport ciphers. */
struct party {
    kw_noise_hs *hs;
    kw_noise_cipher *send;
    kw_noise_cipher *recv;
    const char *role;
};

/* Scratch buffers big enough for any Noise message. */
static uint8_t g_msg[KW_NOISE_MAX_MSG];
static uint8_t g_payload[KW_NOISE_MAX_MSG];

static void set_why(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* Decodes a JSON hex string into a new buffer. Returns 1, or -1 if it is not valid hex. */
static int get_hex_str(const json_t *str, uint8_t **out, size_t *out_len)
{
    const char *hex;
    size_t hex_len, bin_len = 0;
    const char *end = NULL;
    uint8_t *bin;

    *out = NULL;
    *out_len = 0;
    if (!json_is_string(str)) {
        return -1;
    }
    hex = json_string_value(str);
    hex_len = json_string_length(str);
    if (hex_len % 2 != 0) {
        return -1;
    }
    if ((bin = malloc(hex_len / 2 + 1)) == NULL) {
        return -1;
    }
    if (sodium_hex2bin(bin, hex_len / 2 + 1, hex, hex_len, NULL, &bin_len, &end) != 0
        || end != hex + hex_len) {
        free(bin);
        return -1;
    }
    *out = bin;
    *out_len = bin_len;
    return 1;
}

/*
 * Decodes the hex string field key of obj into a new buffer. Returns 1 if the field is
 * there, 0 if it is absent (or JSON null), -1 if it is not a valid hex string.
 */
static int get_hex(const json_t *obj, const char *key, uint8_t **out, size_t *out_len)
{
    const json_t *v = json_object_get(obj, key);

    *out = NULL;
    *out_len = 0;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    return get_hex_str(v, out, out_len);
}

/*
 * Applies the optional keys of one side from fields named prefix + "static" and so on.
 * Returns false (with a reason) on a malformed field or a key the handshake refuses.
 */
static bool setup_party(struct party *p, const json_t *v, const char *prefix, char *why,
    size_t why_cap)
{
    static const char *const fields[] = { "static", "ephemeral", "remote_static" };
    char key[64];
    uint8_t *bin = NULL;
    size_t len;
    bool ok = false;
    const json_t *psks;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        kw_err rc;
        int got;

        snprintf(key, sizeof(key), "%s%s", prefix, fields[i]);
        if ((got = get_hex(v, key, &bin, &len)) == 0) {
            continue;
        }
        if (got < 0 || len != KW_NOISE_KEYLEN) {
            set_why(why, why_cap, "%s is not a 32-byte hex key", key);
            goto out;
        }
        if (i == 0) {
            rc = kw_noise_hs_set_static(p->hs, bin);
        } else if (i == 1) {
            rc = kw_noise_hs_set_ephemeral(p->hs, bin);
        } else {
            rc = kw_noise_hs_set_remote_static(p->hs, bin);
            /*
             * Some generators fill in every key for every pattern. A remote static key the
             * pattern does not know in advance is refused by the library and meaningless
             * here; a key the pattern does need and lacks makes the handshake fail anyway.
             */
            if (rc == KW_ERR_INVAL) {
                rc = KW_ERR_OK;
            }
        }
        free(bin);
        bin = NULL;
        if (rc != KW_ERR_OK) {
            set_why(why, why_cap, "%s refused: %s", key, kw_strerror(rc));
            goto out;
        }
    }

    snprintf(key, sizeof(key), "%spsks", prefix);
    psks = json_object_get(v, key);
    if (psks == NULL) {
        /* The older single-PSK field. */
        snprintf(key, sizeof(key), "%spsk", prefix);
        psks = json_object_get(v, key);
    }
    if (psks != NULL && !json_is_null(psks)) {
        size_t n = json_is_array(psks) ? json_array_size(psks) : 1;
        for (size_t i = 0; i < n; i++) {
            const json_t *item = json_is_array(psks) ? json_array_get(psks, i) : psks;
            if (get_hex_str(item, &bin, &len) < 0 || len != KW_NOISE_KEYLEN) {
                set_why(why, why_cap, "%s[%zu] is not a 32-byte hex key", key, i);
                goto out;
            }
            /* As above: PSKs beyond the pattern's psk tokens are ignored. */
            (void)kw_noise_hs_add_psk(p->hs, bin);
            free(bin);
            bin = NULL;
        }
    }
    ok = true;
out:
    free(bin);
    return ok;
}

static void hex_short(char *buf, size_t cap, const uint8_t *b, size_t len)
{
    size_t n = len > 24 ? 24 : len;

    if (cap < 2 * n + 4) {
        buf[0] = '\0';
        return;
    }
    sodium_bin2hex(buf, cap, b, n);
    if (n < len) {
        strcat(buf, "...");
    }
}

/* Sends message i from `from` to `to`, checking ciphertext and payload. */
static bool run_message(size_t i, const json_t *m, struct party *from, struct party *to,
    bool handshake, char *why, size_t why_cap)
{
    uint8_t *payload = NULL, *expect = NULL;
    size_t payload_len, expect_len, out_len = 0, got_len = 0;
    char got_hex[64], want_hex[64];
    bool ok = false;
    kw_err rc;

    if (get_hex(m, "payload", &payload, &payload_len) < 0
        || get_hex(m, "ciphertext", &expect, &expect_len) != 1) {
        set_why(why, why_cap, "message %zu: payload or ciphertext is not hex", i);
        goto out;
    }
    if (handshake) {
        rc = kw_noise_hs_write_message(from->hs, payload, payload_len, g_msg, sizeof(g_msg),
            &out_len);
    } else {
        rc = kw_noise_cipher_encrypt(from->send, NULL, 0, payload, payload_len, g_msg,
            sizeof(g_msg), &out_len);
    }
    if (rc != KW_ERR_OK) {
        set_why(why, why_cap, "message %zu (%s, %s): write failed: %s", i,
            handshake ? "handshake" : "transport", from->role, kw_strerror(rc));
        goto out;
    }
    if (out_len != expect_len || memcmp(g_msg, expect, out_len) != 0) {
        hex_short(got_hex, sizeof(got_hex), g_msg, out_len);
        hex_short(want_hex, sizeof(want_hex), expect, expect_len);
        set_why(why, why_cap,
            "message %zu (%s, %s): ciphertext differs: got %zu bytes %s, want %zu bytes %s", i,
            handshake ? "handshake" : "transport", from->role, out_len, got_hex, expect_len,
            want_hex);
        goto out;
    }
    if (handshake) {
        rc = kw_noise_hs_read_message(to->hs, expect, expect_len, g_payload, sizeof(g_payload),
            &got_len);
    } else {
        rc = kw_noise_cipher_decrypt(to->recv, NULL, 0, expect, expect_len, g_payload,
            sizeof(g_payload), &got_len);
    }
    if (rc != KW_ERR_OK) {
        set_why(why, why_cap, "message %zu (%s, %s): read failed: %s", i,
            handshake ? "handshake" : "transport", to->role, kw_strerror(rc));
        goto out;
    }
    if (got_len != payload_len || (got_len > 0 && memcmp(g_payload, payload, got_len) != 0)) {
        set_why(why, why_cap, "message %zu (%s, %s): decrypted payload differs", i,
            handshake ? "handshake" : "transport", to->role);
        goto out;
    }
    ok = true;
out:
    free(payload);
    free(expect);
    return ok;
}

static bool check_hash(const json_t *v, struct party *p, char *why, size_t why_cap)
{
    uint8_t *want = NULL;
    size_t want_len;
    uint8_t got[KW_NOISE_HASHLEN];
    int present = get_hex(v, "handshake_hash", &want, &want_len);
    bool ok = false;

    if (present == 0) {
        return true;
    }
    if (present < 0) {
        set_why(why, why_cap, "handshake_hash is not hex");
        goto out;
    }
    if (kw_noise_hs_handshake_hash(p->hs, got) != KW_ERR_OK) {
        set_why(why, why_cap, "the handshake did not finish, so handshake_hash cannot be checked");
        goto out;
    }
    if (want_len != sizeof(got) || memcmp(got, want, sizeof(got)) != 0) {
        set_why(why, why_cap, "handshake hash of the %s differs", p->role);
        goto out;
    }
    ok = true;
out:
    free(want);
    return ok;
}

static enum outcome run_vector(const json_t *v, const char *name, char *why, size_t why_cap)
{
    enum outcome res = FAILED;
    struct party init = { .role = "initiator" }, resp = { .role = "responder" };
    uint8_t *ipro = NULL, *rpro = NULL;
    size_t ipro_len = 0, rpro_len = 0, i = 0, nmsg;
    const json_t *messages = json_object_get(v, "messages");
    kw_err rc;

    if (get_hex(v, "init_prologue", &ipro, &ipro_len) < 0
        || get_hex(v, "resp_prologue", &rpro, &rpro_len) < 0) {
        set_why(why, why_cap, "a prologue is not hex");
        goto out;
    }
    if (!json_is_array(messages)) {
        set_why(why, why_cap, "no messages array");
        goto out;
    }
    nmsg = json_array_size(messages);
    /*
     * noise-c's format marks a handshake that falls back to XXfallback with "fallback"; the
     * protocol name is then the first pattern's, so running it plainly would report a bogus
     * failure. Fallback is not supported.
     */
    if (json_is_true(json_object_get(v, "fallback"))
        || json_object_get(v, "fallback_pattern") != NULL) {
        res = SKIPPED;
        goto out;
    }
    rc = kw_noise_hs_new(&init.hs, name, true, ipro, ipro_len);
    if (rc == KW_ERR_UNSUPPORTED) {
        res = SKIPPED;
        goto out;
    }
    if (rc != KW_ERR_OK
        || (rc = kw_noise_hs_new(&resp.hs, name, false, rpro, rpro_len)) != KW_ERR_OK) {
        set_why(why, why_cap, "kw_noise_hs_new: %s", kw_strerror(rc));
        goto out;
    }
    if (!setup_party(&init, v, "init_", why, why_cap)
        || !setup_party(&resp, v, "resp_", why, why_cap)) {
        goto out;
    }

    /* Handshake messages go in whichever direction the pattern says. */
    while (!(kw_noise_hs_is_done(init.hs) && kw_noise_hs_is_done(resp.hs)) && i < nmsg) {
        struct party *from = kw_noise_hs_needs_write(init.hs) ? &init : &resp;
        struct party *to = from == &init ? &resp : &init;
        if (!kw_noise_hs_needs_write(from->hs)) {
            set_why(why, why_cap, "message %zu: neither side can write", i);
            goto out;
        }
        if (!run_message(i, json_array_get(messages, i), from, to, true, why, why_cap)) {
            goto out;
        }
        i++;
    }
    if (!check_hash(v, &init, why, why_cap) || !check_hash(v, &resp, why, why_cap)) {
        goto out;
    }
    if (i < nmsg) {
        if ((rc = kw_noise_hs_split(init.hs, &init.send, &init.recv)) != KW_ERR_OK
            || (rc = kw_noise_hs_split(resp.hs, &resp.send, &resp.recv)) != KW_ERR_OK) {
            set_why(why, why_cap, "split: %s", kw_strerror(rc));
            goto out;
        }
    }
    /*
     * Transport messages: message i goes from the initiator when i is even and from the
     * responder when it is odd, except in one-way patterns (the initiator has no receiving
     * cipher), where the initiator sends them all.
     */
    for (; i < nmsg; i++) {
        bool from_init = init.recv == NULL || i % 2 == 0;
        struct party *from = from_init ? &init : &resp;
        struct party *to = from_init ? &resp : &init;
        if (from->send == NULL || to->recv == NULL) {
            set_why(why, why_cap, "message %zu: no transport cipher for this direction", i);
            goto out;
        }
        if (!run_message(i, json_array_get(messages, i), from, to, false, why, why_cap)) {
            goto out;
        }
    }
    res = PASSED;
out:
    kw_noise_cipher_free(init.send);
    kw_noise_cipher_free(init.recv);
    kw_noise_cipher_free(resp.send);
    kw_noise_cipher_free(resp.recv);
    kw_noise_hs_free(init.hs);
    kw_noise_hs_free(resp.hs);
    free(ipro);
    free(rpro);
    return res;
}

static void run_file(const char *path, struct totals *t)
{
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    const json_t *vectors;
    char why[512];

    if (root == NULL) {
        fprintf(stderr, "noise-vectors: %s: line %d: %s\n", path, err.line, err.text);
        t->file_error = true;
        return;
    }
    vectors = json_is_array(root) ? root : json_object_get(root, "vectors");
    if (!json_is_array(vectors)) {
        fprintf(stderr, "noise-vectors: %s: no \"vectors\" array\n", path);
        t->file_error = true;
        json_decref(root);
        return;
    }
    for (size_t i = 0; i < json_array_size(vectors); i++) {
        const json_t *v = json_array_get(vectors, i);
        const json_t *jname = json_object_get(v, "protocol_name");
        const char *name;
        if (jname == NULL) {
            jname = json_object_get(v, "name");
        }
        name = json_string_value(jname);
        why[0] = '\0';
        if (!json_is_object(v) || name == NULL) {
            printf("FAIL %s vector %zu: no protocol_name\n", path, i);
            t->failed++;
            continue;
        }
        switch (run_vector(v, name, why, sizeof(why))) {
        case PASSED:
            t->passed++;
            if (t->verbose) {
                printf("pass %s vector %zu %s\n", path, i, name);
            }
            break;
        case SKIPPED:
            t->skipped++;
            if (t->verbose) {
                printf("skip %s vector %zu %s\n", path, i, name);
            }
            break;
        case FAILED:
            t->failed++;
            printf("FAIL %s vector %zu %s: %s\n", path, i, name, why);
            break;
        }
    }
    json_decref(root);
}

static bool is_vector_file(const char *name)
{
    size_t n = strlen(name);

    return (n > 5 && strcmp(name + n - 5, ".json") == 0)
        || (n > 4 && strcmp(name + n - 4, ".txt") == 0);
}

/* Runs every vector file under dir; returns how many files it found. */
static unsigned long run_dir(const char *dir, struct totals *t)
{
    struct dirent **list = NULL;
    unsigned long found = 0;
    int n = scandir(dir, &list, NULL, alphasort);

    if (n < 0) {
        fprintf(stderr, "noise-vectors: %s: cannot read the directory\n", dir);
        t->file_error = true;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (list[i]->d_name[0] != '.'
            && snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) < (int)sizeof(path)
            && stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                found += run_dir(path, t);
            } else if (S_ISREG(st.st_mode) && is_vector_file(list[i]->d_name)) {
                run_file(path, t);
                found++;
            }
        }
        free(list[i]);
    }
    free(list);
    return found;
}

int main(int argc, char **argv)
{
    struct totals t = { 0 };
    int first = 1;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        t.verbose = true;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: noise-vectors [-v] FILE_OR_DIRECTORY...\n");
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "noise-vectors: libsodium cannot be initialised\n");
        return 1;
    }
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "noise-vectors: %s: no such file or directory\n", argv[i]);
            t.file_error = true;
        } else if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &t) == 0) {
                fprintf(stderr, "noise-vectors: %s: no *.json or *.txt vector files in it\n",
                    argv[i]);
                t.file_error = true;
            }
        } else {
            run_file(argv[i], &t);
        }
    }
    printf("%lu passed, %lu failed, %lu skipped\n", t.passed, t.failed, t.skipped);
    return t.failed > 0 || t.file_error ? 1 : 0;
}
