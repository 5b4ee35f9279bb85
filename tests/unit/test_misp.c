/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bundle/bundle.h"
#include "bundle/import.h"
#include "bundle/misp.h"
#include "bundle/value.h"

/* ---- helpers --------------------------------------------------------------------------- */

typedef struct collect {
    kw_bundle *b;
    kw_tlp tlps[512];
    unsigned calls;
    uint8_t withdrawn[64][16]; /* the ids of the withdrawals (bundle/import.h), in order */
    int64_t withdrawn_at[64];
    unsigned withdrawals;
} collect;

static kw_err collect_sink(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    collect *c = ctx;

    if (ind->type == KW_OBS_NONE) {
        assert_true(ind->revoked);
        assert_null(ind->value);
        if (c->withdrawals < 64) {
            memcpy(c->withdrawn[c->withdrawals], ind->id, 16);
            c->withdrawn_at[c->withdrawals] = ind->modified;
        }
        c->withdrawals++;
        return KW_ERR_OK;
    }

    if (c->calls < 512) {
        c->tlps[c->calls] = tlp;
    }
    c->calls++;
    return kw_bundle_copy_indicator(c->b, ind, NULL);
}

static void collect_init(collect *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(kw_bundle_new(&c->b), KW_ERR_OK);
}

static void collect_done(collect *c)
{
    kw_bundle_free(c->b);
    c->b = NULL;
}

/* Inline JSON is written with ` for ". */
static char *jq(const char *tmpl)
{
    char *s = strdup(tmpl);

    assert_non_null(s);
    for (char *p = s; *p != '\0'; p++) {
        if (*p == '`') {
            *p = '"';
        }
    }
    return s;
}

static kw_err import_text(
    const char *tmpl, kw_tlp def, bool skip, collect *c, kw_import_report *rep)
{
    char *s = jq(tmpl);
    kw_err rc = kw_misp_import_event_json(s, strlen(s), "ev.json", def, skip, collect_sink, c, rep);
    free(s);
    return rc;
}

static const kw_indicator *find(const collect *c, const char *value, kw_tlp *tlp)
{
    for (uint32_t i = 0; i < c->b->n; i++) {
        if (strcmp(c->b->items[i].value, value) == 0) {
            if (tlp != NULL) {
                *tlp = c->tlps[i];
            }
            return &c->b->items[i];
        }
    }
    fail_msg("no indicator with value %s", value);
    return NULL;
}

static bool has_label(const kw_indicator *ind, const char *label)
{
    for (uint32_t i = 0; i < ind->n_labels; i++) {
        if (strcmp(ind->labels[i], label) == 0) {
            return true;
        }
    }
    return false;
}

static uint64_t type_count(const kw_import_report *rep, const char *type)
{
    for (uint32_t i = 0; i < rep->n_types; i++) {
        if (strcmp(rep->types[i].type, type) == 0) {
            return rep->types[i].n;
        }
    }
    return 0;
}

static const char *corpora(void)
{
    const char *dir = getenv("KW_CORPORA");
    struct stat st;

    if (dir == NULL || dir[0] == '\0') {
        return NULL;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fail_msg("KW_CORPORA=%s is not a folder", dir);
    }
    return dir;
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
#define ATTR(uuid, type, value, ids) \
    "{`uuid`:`" uuid "`,`type`:`" type "`,`value`:`" value "`,`to_ids`:" ids \
    ",`timestamp`:`1700000000`}"

/* clang-format on */

/* ---- one event --------------------------------------------------------------------------- */

/* The inline JSON below is laid out by hand. */
/* clang-format off */
/* Kept in pieces: ISO C compilers need not take string literals over 4095 bytes. */
static const char *const big_event_parts[] = {
    "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,`info`:`Test event`,"
      "`timestamp`:`1700000500`,"
      "`Tag`:[{`name`:`tlp:amber`},{`name`:`misp-galaxy:threat-actor=\\`Sofacy\\``},"
      "{`name`:`type:OSINT`}],"
      "`Attribute`:["
      ATTR("00000000-0000-4000-8000-000000000001", "ip-dst", "198.51.100.1", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000002", "ip-src", "2001:db8::2", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000003", "ip-dst|port", "198.51.100.3|443", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000004", "ip-src", "198.51.100.0/24", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000005", "ip-dst", "198.51.100.5/32", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000006", "domain", "Bad.Example", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000007", "hostname", "www.bad.example", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000008", "hostname|port", "c2.bad.example|8080",
          "true") ",",
      ATTR("00000000-0000-4000-8000-000000000009", "domain|ip", "dual.bad.example|192.0.2.9",
          "true") ",",
      ATTR("00000000-0000-4000-8000-000000000010", "url", "http://bad.example/a", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000011", "link", "https://bad.example/b", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000012", "email-src", "from@bad.example", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000013", "email-dst", "to@bad.example", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000014", "email", "any@bad.example", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000015", "md5", "D41D8CD98F00B204E9800998ECF8427E",
          "true") ",",
      ATTR("00000000-0000-4000-8000-000000000016", "sha1",
          "da39a3ee5e6b4b0d3255bfef95601890afd80709", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000017", "sha256",
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000018", "sha512",
          "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
          "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000019", "filename|md5",
          "drop.exe|0cc175b9c0f1b6a831c399e269772661", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000020", "filename|sha1",
          "a|b.exe|86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000021", "filename|sha256",
          "c.dll|ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000022", "filename|sha512",
          "d.bin|1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f53"
          "02860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000023", "filename", "evil.ps1", "true") ",",
      /* Unsupported with to_ids: counted per type, not an error. */
      ATTR("00000000-0000-4000-8000-000000000024", "uri", "/admin.php", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000025", "yara", "rule x { condition: true }",
          "true") ",",
      ATTR("00000000-0000-4000-8000-000000000026", "snort", "alert tcp any any", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000027", "regkey", "HKLM\\\\Software\\\\x", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000028", "mutex", "Global\\\\x", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000029", "AS", "AS64496", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000030", "yara", "rule y { condition: false }",
          "true") ",",
      /* Not for IDS, or deleted: not indicators. */
      ATTR("00000000-0000-4000-8000-000000000031", "ip-dst", "198.51.100.31", "false") ",",
      "{`uuid`:`00000000-0000-4000-8000-000000000032`,`type`:`ip-dst`,`value`:`198.51.100.32`,"
      "`to_ids`:true,`deleted`:true,`timestamp`:`1700000000`},"
      /* to_ids as MISP's older string form, a comment, attribute tags, first_seen. */
      "{`uuid`:`00000000-0000-4000-8000-000000000033`,`type`:`ip-dst`,`value`:`198.51.100.33`,"
      "`to_ids`:`1`,`timestamp`:1700000033,`comment`:`C2 server`,"
      "`first_seen`:`2023-11-01T00:00:00.000000+00:00`,"
      "`Tag`:[{`name`:`tlp:red`},{`name`:`kill-chain:command-and-control`}]}"
      "],"
      "`Object`:[{`name`:`file`,`Attribute`:["
      ATTR("00000000-0000-4000-8000-000000000034", "sha1",
          "0000000000000000000000000000000000000034", "true") ",",
      ATTR("00000000-0000-4000-8000-000000000035", "text", "notes", "false")
      "]}]}}",
};

/* clang-format on */

static char *big_event(void)
{
    size_t n = 1;
    char *s;

    for (size_t i = 0; i < sizeof(big_event_parts) / sizeof(big_event_parts[0]); i++) {
        n += strlen(big_event_parts[i]);
    }
    assert_non_null(s = calloc(1, n));
    for (size_t i = 0; i < sizeof(big_event_parts) / sizeof(big_event_parts[0]); i++) {
        strcat(s, big_event_parts[i]);
    }
    return s;
}

static void test_event_types(void **state)
{
    char *doc = big_event();
    collect c;
    kw_import_report rep;
    const kw_indicator *ind;
    kw_tlp tlp;
    uint8_t uuid[16], second[16];

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 1);
    assert_int_equal(rep.objects, 35);
    assert_int_equal(rep.non_indicators, 3);
    assert_int_equal(rep.unsupported, 8);
    assert_int_equal(rep.invalid, 0);
    /* 24 supported to_ids attributes (one inside an Object); domain|ip gives two. */
    assert_int_equal(rep.indicators, 25);
    assert_int_equal(c.calls, 25);
    assert_int_equal(rep.typed, 25);
    /* The three that are not indicators (to_ids false, deleted) are withdrawals. */
    assert_int_equal(c.withdrawals, 3);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-000000000031", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[0], uuid, 16);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-000000000032", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[1], uuid, 16);
    assert_true(c.withdrawn_at[1] == 1700000000000);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-000000000035", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[2], uuid, 16);
    /* A link is a reference (a report, a blog post), not something to block. */
    assert_int_equal(type_count(&rep, "link"), 1);
    assert_int_equal(type_count(&rep, "yara"), 2);
    assert_int_equal(type_count(&rep, "uri"), 1);
    assert_int_equal(type_count(&rep, "snort"), 1);
    assert_int_equal(type_count(&rep, "regkey"), 1);
    assert_int_equal(type_count(&rep, "mutex"), 1);
    assert_int_equal(type_count(&rep, "AS"), 1);
    assert_false(rep.issues[0].invalid);
    assert_non_null(strstr(rep.issues[0].text,
        "ev.json: attribute 00000000-0000-4000-8000-000000000011: type 'link' is not supported"));

    ind = find(&c, "198.51.100.1", &tlp);
    assert_int_equal(ind->type, KW_OBS_IPV4);
    assert_int_equal(tlp, KW_TLP_AMBER);
    assert_int_equal(
        kw_indicator_id_parse("00000000-0000-4000-8000-000000000001", uuid), KW_ERR_OK);
    assert_memory_equal(ind->id, uuid, 16);
    assert_true(ind->created == 1700000000000 && ind->modified == ind->created);
    assert_true(ind->valid_from == ind->created);
    assert_int_equal(ind->confidence, -1);
    assert_string_equal(ind->description, "Test event");
    assert_true(has_label(ind, "misp-galaxy:threat-actor=\"Sofacy\""));
    assert_true(has_label(ind, "type:OSINT"));
    assert_false(has_label(ind, "tlp:amber"));

    assert_int_equal(find(&c, "2001:db8::2", NULL)->type, KW_OBS_IPV6);
    assert_int_equal(find(&c, "198.51.100.3", NULL)->type, KW_OBS_IPV4);
    assert_int_equal(find(&c, "198.51.100.0/24", NULL)->type, KW_OBS_CIDR);
    assert_int_equal(find(&c, "198.51.100.5", NULL)->type, KW_OBS_IPV4);
    assert_int_equal(find(&c, "bad.example", NULL)->type, KW_OBS_DOMAIN);
    assert_int_equal(find(&c, "www.bad.example", NULL)->type, KW_OBS_DOMAIN);
    assert_int_equal(find(&c, "c2.bad.example", NULL)->type, KW_OBS_DOMAIN);
    assert_int_equal(find(&c, "http://bad.example/a", NULL)->type, KW_OBS_URL);
    assert_int_equal(find(&c, "from@bad.example", NULL)->type, KW_OBS_EMAIL);
    assert_int_equal(find(&c, "to@bad.example", NULL)->type, KW_OBS_EMAIL);
    assert_int_equal(find(&c, "any@bad.example", NULL)->type, KW_OBS_EMAIL);
    assert_int_equal(find(&c, "d41d8cd98f00b204e9800998ecf8427e", NULL)->type, KW_OBS_MD5);
    assert_int_equal(find(&c, "da39a3ee5e6b4b0d3255bfef95601890afd80709", NULL)->type, KW_OBS_SHA1);
    assert_int_equal(
        find(&c, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL)->type,
        KW_OBS_SHA256);
    assert_int_equal(find(&c, "evil.ps1", NULL)->type, KW_OBS_FILENAME);

    /* domain|ip: the domain keeps the attribute uuid, the address gets uuid5(uuid, "ip"). */
    ind = find(&c, "dual.bad.example", NULL);
    assert_int_equal(ind->type, KW_OBS_DOMAIN);
    assert_int_equal(
        kw_indicator_id_parse("00000000-0000-4000-8000-000000000009", uuid), KW_ERR_OK);
    assert_memory_equal(ind->id, uuid, 16);
    ind = find(&c, "192.0.2.9", NULL);
    assert_int_equal(ind->type, KW_OBS_IPV4);
    kw__uuid_v5(second, uuid, "ip", 2);
    assert_memory_equal(ind->id, second, 16);

    /* filename|hash: the hash, named after the file (split at the last '|'). */
    ind = find(&c, "0cc175b9c0f1b6a831c399e269772661", NULL);
    assert_int_equal(ind->type, KW_OBS_MD5);
    assert_string_equal(ind->name, "drop.exe");
    ind = find(&c, "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", NULL);
    assert_int_equal(ind->type, KW_OBS_SHA1);
    assert_string_equal(ind->name, "a|b.exe");
    assert_int_equal(
        find(&c, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", NULL)->type,
        KW_OBS_SHA256);

    /* Attribute details: the comment, the attribute's own TLP tag, first_seen. */
    ind = find(&c, "198.51.100.33", &tlp);
    assert_int_equal(tlp, KW_TLP_RED);
    assert_string_equal(ind->description, "C2 server");
    assert_true(ind->created == 1700000033000);
    assert_true(ind->valid_from == 1698796800000);
    assert_true(has_label(ind, "kill-chain:command-and-control"));
    assert_false(has_label(ind, "tlp:red"));

    /* From a MISP Object. */
    assert_int_equal(find(&c, "0000000000000000000000000000000000000034", NULL)->type, KW_OBS_SHA1);
    collect_done(&c);
    free(doc);
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
static void test_event_envelopes(void **state)
{
    collect c;
    kw_import_report rep;
    const char *one = "{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,`info`:`x`,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000001", "ip-dst", "198.51.100.1", "true") "]}";
    char doc[1024];

    (void)state;
    collect_init(&c);
    snprintf(doc, sizeof(doc), "{`response`:[{`Event`:%s},{`Event`:%s}]}", one, one);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 2);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.tlps[0], KW_TLP_GREEN); /* no tlp: tag: the default */
    snprintf(doc, sizeof(doc), "[{`Event`:%s}]", one);
    assert_int_equal(import_text(doc, KW_TLP_CLEAR, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 1);
    assert_int_equal(c.tlps[2], KW_TLP_CLEAR);
    /* Not an event. */
    assert_int_equal(import_text("{`foo`:1}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "ev.json: not a MISP event"));
    assert_int_equal(import_text("{`Event`:[]}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_int_equal(import_text("{`Event`:{`Attribute`:{}}}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    assert_int_equal(c.calls, 3);
    /* A bare event (PyMISP's to_json()), alone or in a list. */
    assert_int_equal(import_text(one, KW_TLP_AMBER, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 1);
    assert_int_equal(c.calls, 4);
    assert_int_equal(c.tlps[3], KW_TLP_AMBER);
    snprintf(doc, sizeof(doc), "[%s,{`Event`:%s}]", one, one);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 2);
    assert_int_equal(c.calls, 6);
    /* An object with an Attribute list but no uuid is still not an event. */
    assert_int_equal(import_text("{`Attribute`:[]}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    collect_done(&c);
}

/* How MISP takes an indicator back: deleted (in any of the forms to_ids takes), in a deleted
 * object, or no longer to_ids. Each is a withdrawal, never an indicator. */
static void test_withdrawals(void **state)
{
    collect c;
    kw_import_report rep;
    uint8_t uuid[16], second[16];
    const char *doc =
        "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,`info`:`x`,"
        "`timestamp`:`1700000500`,`Attribute`:["
        "{`uuid`:`00000000-0000-4000-8000-000000000041`,`type`:`ip-dst`,`value`:`192.0.2.41`,"
        "`to_ids`:true,`deleted`:`1`,`timestamp`:`1700000041`},"
        "{`uuid`:`00000000-0000-4000-8000-000000000042`,`type`:`ip-dst`,`value`:`192.0.2.42`,"
        "`to_ids`:true,`deleted`:1},"
        "{`uuid`:`00000000-0000-4000-8000-000000000043`,`type`:`domain|ip`,"
        "`value`:`w.example|192.0.2.43`,`to_ids`:`0`,`timestamp`:`1700000043`},"
        "{`uuid`:`not-a-uuid`,`type`:`ip-dst`,`value`:`192.0.2.44`,`to_ids`:false},"
        ATTR("00000000-0000-4000-8000-000000000045", "ip-dst", "192.0.2.45", "`true`") "],"
        "`Object`:[{`name`:`file`,`deleted`:true,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000046", "md5", "0cc175b9c0f1b6a831c399e269772661",
            "true") "]},"
        "{`name`:`file`,`deleted`:false,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000047", "md5", "92eb5ffee6ae2fec3ad71c777531578f",
            "true") "]}]}}";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.objects, 7);
    assert_int_equal(rep.non_indicators, 5);
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(c.calls, 2);
    (void)find(&c, "192.0.2.45", NULL);
    (void)find(&c, "92eb5ffee6ae2fec3ad71c777531578f", NULL);
    /* 41, 42 (the event's time), 43 and its address's id, 46; not the one without a uuid. */
    assert_int_equal(c.withdrawals, 5);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-000000000041", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[0], uuid, 16);
    assert_true(c.withdrawn_at[0] == 1700000041000);
    assert_true(c.withdrawn_at[1] == 1700000500000);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-000000000043", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[2], uuid, 16);
    kw__uuid_v5(second, uuid, "ip", 2);
    assert_memory_equal(c.withdrawn[3], second, 16);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-000000000046", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[4], uuid, 16);
    collect_done(&c);
}

/* Distribution 0 ("your organisation only"), the attribute's or inherited (5) from its event,
 * is not shared: withdrawn, never an indicator, whatever the TLP. */
static void test_org_only(void **state)
{
    collect c;
    kw_import_report rep;
    const char *doc =
        "{`response`:[{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000001`,`distribution`:`0`,"
        "`timestamp`:`1700000500`,`Tag`:[{`name`:`tlp:clear`}],`Attribute`:["
        "{`uuid`:`00000000-0000-4000-8000-000000000081`,`type`:`ip-dst`,`value`:`192.0.2.81`,"
        "`to_ids`:true,`distribution`:`5`},"
        "{`uuid`:`00000000-0000-4000-8000-000000000082`,`type`:`ip-dst`,`value`:`192.0.2.82`,"
        "`to_ids`:true,`distribution`:`3`}]}},"
        "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000002`,`distribution`:3,"
        "`timestamp`:`1700000500`,`Attribute`:["
        "{`uuid`:`00000000-0000-4000-8000-000000000083`,`type`:`ip-dst`,`value`:`192.0.2.83`,"
        "`to_ids`:true,`distribution`:0},"
        "{`uuid`:`00000000-0000-4000-8000-000000000084`,`type`:`ip-dst`,`value`:`192.0.2.84`,"
        "`to_ids`:true}]}}]}";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    /* 82 says 3 ("all communities"), but its event is 0: MISP never syncs that event at all. */
    assert_int_equal(rep.org_only, 3);
    assert_int_equal(rep.indicators, 1);
    assert_int_equal(c.calls, 1);
    (void)find(&c, "192.0.2.84", NULL);
    assert_int_equal(c.withdrawals, 3);
    collect_done(&c);
}

/* One to_ids ip-dst attribute (192.0.2.90), inside an Object when obj is not NULL. Each
 * distribution is a JSON value as written (with ` for "), or NULL for none; tag is a tlp: tag
 * of the event, or NULL. */
static kw_err import_dist(const char *ev, const char *obj, const char *attr, const char *tag,
    kw_tlp def, bool skip, collect *c, kw_import_report *rep)
{
    char ev_d[64] = "", obj_d[64] = "", attr_d[64] = "", tags[64] = "", list[512], doc[1024];

    if (ev != NULL) {
        snprintf(ev_d, sizeof(ev_d), "`distribution`:%s,", ev);
    }
    if (obj != NULL) {
        snprintf(obj_d, sizeof(obj_d), "`distribution`:%s,", obj);
    }
    if (attr != NULL) {
        snprintf(attr_d, sizeof(attr_d), ",`distribution`:%s", attr);
    }
    if (tag != NULL) {
        snprintf(tags, sizeof(tags), "`Tag`:[{`name`:`%s`}],", tag);
    }
    snprintf(list, sizeof(list),
        "`Attribute`:[{`uuid`:`00000000-0000-4000-8000-000000000090`,`type`:`ip-dst`,"
        "`value`:`192.0.2.90`,`to_ids`:true,`timestamp`:`1700000090`%s}]",
        attr_d);
    if (obj != NULL) {
        snprintf(doc, sizeof(doc),
            "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000009`,`timestamp`:`1700000000`,"
            "%s%s`Object`:[{`name`:`ip-port`,%s%s}]}}",
            ev_d, tags, obj_d, list);
    } else {
        snprintf(doc, sizeof(doc),
            "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000009`,`timestamp`:`1700000000`,"
            "%s%s%s}}",
            ev_d, tags, list);
    }
    return import_text(doc, def, skip, c, rep);
}

/* An Object of distribution 0 is never synced by MISP, nor any attribute in it, whatever the
 * attribute says: not imported, counted and withdrawn as organisation only. */
static void test_org_only_object(void **state)
{
    static const char *const attr_dists[] = { "`5`", "5", "`3`", "`1`", "`4`", NULL };

    (void)state;
    for (size_t i = 0; i < sizeof(attr_dists) / sizeof(attr_dists[0]); i++) {
        collect c;
        kw_import_report rep;

        collect_init(&c);
        assert_int_equal(
            import_dist("`1`", "`0`", attr_dists[i], "tlp:amber", KW_TLP_GREEN, false, &c, &rep),
            KW_ERR_OK);
        if (rep.org_only != 1 || rep.indicators != 0 || c.calls != 0 || c.withdrawals != 1) {
            fail_msg("attribute distribution %s in an object of 0: org_only %llu indicators %llu",
                attr_dists[i] != NULL ? attr_dists[i] : "(none)",
                (unsigned long long)rep.org_only, (unsigned long long)rep.indicators);
        }
        collect_done(&c);
    }
    /* The reported case: an object of 0, an attribute inheriting (5), an event of 1. */
    {
        collect c;
        kw_import_report rep;
        const char *doc =
            "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000010`,`distribution`:`1`,"
            "`timestamp`:`1700000000`,`Tag`:[{`name`:`tlp:amber`}],`Object`:[{`name`:`domain-ip`,"
            "`distribution`:`0`,`Attribute`:[{`uuid`:`5f0c0029-0000-4000-8000-000000000041`,"
            "`type`:`domain`,`to_ids`:true,`distribution`:`5`,`timestamp`:`1700000041`,"
            "`value`:`orgonly.bad.example`}]}]}}";

        collect_init(&c);
        assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
        assert_int_equal(rep.org_only, 1);
        assert_int_equal(rep.indicators, 0);
        assert_int_equal(c.calls, 0);
        collect_done(&c);
    }
}

/* MISP's distribution is a sharing restriction like TLP: the narrowest of the attribute's, its
 * object's and its event's sets a TLP floor, and the stricter of it and the TLP applies. */
static void test_distribution_floor(void **state)
{
    static const struct {
        const char *ev, *obj, *attr, *tag;
        kw_tlp def, want;
    } cases[] = {
        /* The event's distribution alone. */
        { "`1`", NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "1", NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`2`", NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`3`", NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_CLEAR },
        { "`4`", NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_AMBER },
        { "4", NULL, NULL, "tlp:green", KW_TLP_CLEAR, KW_TLP_AMBER },
        { "`5`", NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_CLEAR },
        { NULL, NULL, NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_CLEAR },
        /* No tlp: tag: the floor applies to the default too. */
        { "`1`", NULL, NULL, NULL, KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`4`", NULL, NULL, NULL, KW_TLP_GREEN, KW_TLP_AMBER },
        /* A floor never lowers a stricter TLP. */
        { "`1`", NULL, NULL, "tlp:red", KW_TLP_CLEAR, KW_TLP_RED },
        { "`4`", NULL, NULL, "tlp:amber+strict", KW_TLP_CLEAR, KW_TLP_AMBER_STRICT },
        { "`1`", NULL, NULL, NULL, KW_TLP_AMBER, KW_TLP_AMBER },
        /* The attribute's own distribution, and the narrowest of attribute and event. */
        { "`3`", NULL, "`1`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`3`", NULL, "`4`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_AMBER },
        { "`3`", NULL, "2", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`4`", NULL, "`3`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_AMBER },
        { "`1`", NULL, "`3`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`1`", NULL, "`5`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`3`", NULL, "`5`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_CLEAR },
        /* An object's: the attribute inherits it (5), the event still bounds it. */
        { "`3`", "`1`", "`5`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`3`", "`4`", NULL, "tlp:clear", KW_TLP_CLEAR, KW_TLP_AMBER },
        { "`3`", "`5`", "`5`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_CLEAR },
        { "`1`", "`5`", "`5`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`1`", "`3`", "`3`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_GREEN },
        { "`3`", "`3`", "`4`", "tlp:clear", KW_TLP_CLEAR, KW_TLP_AMBER },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collect c;
        kw_import_report rep;
        kw_err rc;

        collect_init(&c);
        rc = import_dist(cases[i].ev, cases[i].obj, cases[i].attr, cases[i].tag, cases[i].def,
            false, &c, &rep);
        if (rc != KW_ERR_OK || c.calls != 1 || c.tlps[0] != cases[i].want
            || rep.by_tlp[cases[i].want] != 1) {
            fail_msg("case %zu (event %s, object %s, attribute %s, tag %s): rc %d, %u indicators, "
                     "TLP %s, want %s (%s)",
                i, cases[i].ev ? cases[i].ev : "-", cases[i].obj ? cases[i].obj : "-",
                cases[i].attr ? cases[i].attr : "-", cases[i].tag ? cases[i].tag : "-", rc,
                c.calls, c.calls > 0 ? kw_tlp_name(c.tlps[0]) : "-",
                kw_tlp_name(cases[i].want), rep.first_error);
        }
        collect_done(&c);
    }
}

/* A distribution that is not one of MISP's 0-5 makes the attribute invalid: guessing could
 * only make it laxer than the source meant. */
static void test_distribution_malformed(void **state)
{
    static const struct {
        const char *ev, *obj, *attr;
        const char *says;
    } cases[] = {
        { "`3`", NULL, "`7`", "its distribution is not" },
        { "`3`", NULL, "6", "its distribution is not" },
        { "`3`", NULL, "-1", "its distribution is not" },
        { "`3`", NULL, "``", "its distribution is not" },
        { "`3`", NULL, "` 1`", "its distribution is not" },
        { "`3`", NULL, "`01`", "its distribution is not" },
        { "`3`", NULL, "1.0", "its distribution is not" },
        { "`3`", NULL, "null", "its distribution is not" },
        { "`3`", NULL, "true", "its distribution is not" },
        { "`3`", "`x`", "`5`", "its object's distribution is not" },
        { "`3`", "9", "`3`", "its object's distribution is not" },
        { "`all`", NULL, "`3`", "its event's distribution is not" },
        { "null", "`5`", "`5`", "its event's distribution is not" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collect c;
        kw_import_report rep;
        kw_err rc;

        collect_init(&c);
        rc = import_dist(cases[i].ev, cases[i].obj, cases[i].attr, "tlp:clear", KW_TLP_CLEAR,
            false, &c, &rep);
        if (rc != KW_ERR_INVAL || rep.invalid != 1 || c.calls != 0
            || strstr(rep.first_error, cases[i].says) == NULL
            || strstr(rep.first_error, "00000000-0000-4000-8000-000000000090") == NULL) {
            fail_msg("case %zu (event %s, object %s, attribute %s): rc %d, invalid %llu, '%s'", i,
                cases[i].ev, cases[i].obj ? cases[i].obj : "-", cases[i].attr, rc,
                (unsigned long long)rep.invalid, rep.first_error);
        }
        /* Skipped, not imported, with --skip-invalid. */
        rc = import_dist(cases[i].ev, cases[i].obj, cases[i].attr, "tlp:clear", KW_TLP_CLEAR,
            true, &c, &rep);
        assert_int_equal(rc, KW_ERR_OK);
        assert_int_equal(rep.invalid, 1);
        assert_int_equal(c.calls, 0);
        collect_done(&c);
    }
    /* Distribution 0 anywhere wins over a malformed one elsewhere: never shared either way. */
    {
        collect c;
        kw_import_report rep;

        collect_init(&c);
        assert_int_equal(
            import_dist("`0`", NULL, "`7`", NULL, KW_TLP_CLEAR, false, &c, &rep), KW_ERR_OK);
        assert_int_equal(rep.org_only, 1);
        assert_int_equal(c.calls, 0);
        collect_done(&c);
    }
}

/* The bare event forms (PyMISP's to_json(), alone or in a list) and the REST envelope go
 * through the same rule. */
static void test_distribution_envelopes(void **state)
{
    collect c;
    kw_import_report rep;
    /* clang-format off */
    const char *one = "{`uuid`:`5b8b0c6e-0000-4000-8000-000000000011`,`distribution`:`4`,"
        "`timestamp`:`1700000000`,`Attribute`:[" ATTR("00000000-0000-4000-8000-000000000091",
            "ip-dst", "192.0.2.91", "true") "],"
        "`Object`:[{`name`:`x`,`distribution`:0,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000092", "ip-dst", "192.0.2.92", "true") "]}]}";
    /* clang-format on */
    char doc[2048];

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(one, KW_TLP_CLEAR, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.tlps[0], KW_TLP_AMBER);
    assert_int_equal(rep.org_only, 1);
    snprintf(doc, sizeof(doc), "[%s,{`Event`:%s}]", one, one);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.tlps[1], KW_TLP_AMBER);
    assert_int_equal(c.tlps[2], KW_TLP_AMBER);
    assert_int_equal(rep.org_only, 2);
    snprintf(doc, sizeof(doc), "{`response`:[{`Event`:%s}]}", one);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 4);
    assert_int_equal(c.tlps[3], KW_TLP_AMBER);
    assert_int_equal(rep.org_only, 1);
    collect_done(&c);
}

/* A tlp: tag that names no level must not fall back to the (laxer) default. */
static void test_unknown_tlp_tags(void **state)
{
    collect c;
    kw_import_report rep;
    char doc[1024];
    const char *attrs = "`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000051", "ip-dst", "192.0.2.51", "true") ","
        "{`uuid`:`00000000-0000-4000-8000-000000000052`,`type`:`ip-dst`,`value`:`192.0.2.52`,"
        "`to_ids`:true,`timestamp`:`1700000000`,`Tag`:[{`name`:`TLP:Amber-Strict`}]}]";

    (void)state;
    collect_init(&c);
    /* On an attribute: that attribute is invalid. */
    snprintf(doc, sizeof(doc), "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,%s}}",
        attrs);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_int_equal(rep.invalid, 1);
    assert_non_null(strstr(rep.first_error, "attribute 00000000-0000-4000-8000-000000000052: "
                                            "tag 'TLP:Amber-Strict' is not a TLP level"));
    assert_int_equal(c.calls, 0);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, true, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    (void)find(&c, "192.0.2.51", NULL);
    /* On the event: every attribute is. */
    snprintf(doc, sizeof(doc), "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,"
        "`Tag`:[{`name`:`tlp:amber-strict`}],%s}}", attrs);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_int_equal(rep.invalid, 2);
    /* tlp:unclear and the tlp:ex: extensions name no level and are allowed. */
    snprintf(doc, sizeof(doc), "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,"
        "`Tag`:[{`name`:`tlp:ex:chr`},{`name`:`tlp:unclear`}],`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000053", "ip-dst", "192.0.2.53", "true") "]}}");
    assert_int_equal(import_text(doc, KW_TLP_AMBER, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.tlps[1], KW_TLP_AMBER);
    collect_done(&c);
}

/* stix2-pattern attributes: typed when the pattern is one comparison kawan knows. */
static void test_stix2_pattern(void **state)
{
    collect c;
    kw_import_report rep;
    const char *doc =
        "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000061", "stix2-pattern",
            "[domain-name:value = 'Evil.Example']", "true") ","
        ATTR("00000000-0000-4000-8000-000000000062", "stix2-pattern",
            "[ipv4-addr:value = '192.0.2.62'] OR [ipv4-addr:value = '192.0.2.63']", "true")
        "]}}";

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(rep.typed, 1);
    assert_int_equal(rep.raw, 1);
    assert_int_equal(find(&c, "evil.example", NULL)->type, KW_OBS_DOMAIN);
    assert_int_equal(find(&c, "[ipv4-addr:value = '192.0.2.62'] OR [ipv4-addr:value = "
                              "'192.0.2.63']", NULL)->type, KW_OBS_STIX_PATTERN);
    collect_done(&c);
}

/* malware-sample is filename|md5 (the sample itself is not in the value): the md5, named after
 * the file, as for filename|md5. */
static void test_malware_sample(void **state)
{
    collect c;
    kw_import_report rep;
    kw_misp_value v;
    const char *why = NULL;
    const kw_indicator *ind;
    /* clang-format off */
    const char *doc =
        "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,`timestamp`:`1700000000`,"
        "`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000071", "malware-sample",
            "dropper.exe|0CC175B9C0F1B6A831C399E269772661", "true") ","
        ATTR("00000000-0000-4000-8000-000000000072", "malware-sample", "dropper.exe", "true")
        "]}}";
    /* clang-format on */

    (void)state;
    assert_int_equal(kw_misp_convert("malware-sample", "a|b.zip|0cc175b9c0f1b6a831c399e269772661",
                         &v, &why),
        KW_ERR_OK);
    assert_int_equal(v.type, KW_OBS_MD5);
    assert_string_equal(v.value, "0cc175b9c0f1b6a831c399e269772661");
    assert_int_equal(v.name_len, 7);
    assert_memory_equal(v.name, "a|b.zip", 7);
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, true, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.unsupported, 0);
    assert_int_equal(rep.invalid, 1); /* no '|' */
    assert_int_equal(rep.indicators, 1);
    ind = find(&c, "0cc175b9c0f1b6a831c399e269772661", NULL);
    assert_int_equal(ind->type, KW_OBS_MD5);
    assert_string_equal(ind->name, "dropper.exe");
    assert_non_null(strstr(rep.issues[0].text, "has no '|' between its two parts"));
    collect_done(&c);
}

static void test_event_malformed(void **state)
{
    collect c;
    kw_import_report rep;
    unsigned line = 0, col = 0;

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text("{`Event`:{\n`Attribute`:[\n{`uuid`:}]}}", KW_TLP_GREEN, false,
                         &c, &rep),
        KW_ERR_DECODE);
    assert_int_equal(sscanf(rep.first_error, "ev.json:%u:%u: ", &line, &col), 2);
    assert_int_equal(line, 3);
    assert_true(col > 0);
    collect_done(&c);
}

static const char *mixed_event
    = "{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-000000000000`,`info`:`x`,`Attribute`:["
    ATTR("00000000-0000-4000-8000-000000000001", "ip-dst", "198.51.100.1", "true") ","
    ATTR("00000000-0000-4000-8000-000000000002", "ip-dst", "198.51.100.300", "true") ","
    ATTR("00000000-0000-4000-8000-000000000003", "sha256", "abc", "true") ","
    ATTR("00000000-0000-4000-8000-000000000004", "domain|ip", "ok.example|not-an-ip", "true") ","
    ATTR("00000000-0000-4000-8000-000000000005", "filename|md5", "no-separator", "true") ","
    "{`type`:`ip-dst`,`value`:`198.51.100.6`,`to_ids`:true,`timestamp`:`1700000000`},"
    "{`uuid`:`00000000-0000-4000-8000-000000000007`,`type`:`ip-dst`,`value`:`198.51.100.7`,"
    "`to_ids`:true,`timestamp`:`soon`},"
    ATTR("00000000-0000-4000-8000-000000000008", "domain", "fine.example", "true")
    "]}}";

/* clang-format on */

static void test_event_invalid(void **state)
{
    collect c;
    kw_import_report rep;

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(mixed_event, KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    assert_int_equal(c.calls, 0); /* all or nothing */
    assert_int_equal(rep.invalid, 6);
    assert_non_null(strstr(rep.first_error,
        "ev.json: attribute 00000000-0000-4000-8000-000000000002: ip-dst '198.51.100.300'"));
    assert_non_null(
        strstr(rep.issues[1].text, "00000000-0000-4000-8000-000000000003: sha256 'abc'"));
    assert_non_null(strstr(rep.issues[2].text, "domain|ip 'not-an-ip'"));
    assert_non_null(strstr(rep.issues[3].text, "has no '|' between its two parts"));
    assert_non_null(strstr(rep.issues[4].text, "attribute #6: uuid is missing"));
    assert_non_null(strstr(rep.issues[5].text, "timestamp is not unix seconds"));
    collect_done(&c);

    collect_init(&c);
    assert_int_equal(import_text(mixed_event, KW_TLP_GREEN, true, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(rep.invalid, 6);
    assert_string_equal(c.b->items[0].value, "198.51.100.1");
    assert_string_equal(c.b->items[1].value, "fine.example");
    collect_done(&c);
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
static void test_tlp_tags(void **state)
{
    static const struct {
        const char *tag;
        kw_tlp tlp;
    } cases[] = {
        { "tlp:white", KW_TLP_CLEAR },
        { "tlp:clear", KW_TLP_CLEAR },
        { "TLP:GREEN", KW_TLP_GREEN },
        { "tlp:amber", KW_TLP_AMBER },
        { "tlp:amber+strict", KW_TLP_AMBER_STRICT },
        { "tlp:red", KW_TLP_RED },
        { "tlp:ex:chr", KW_TLP_AMBER_STRICT }, /* not a level: the default */
    };
    char doc[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collect c;
        kw_import_report rep;

        snprintf(doc, sizeof(doc),
            "{`Event`:{`info`:`x`,`Tag`:[{`name`:`%s`}],`Attribute`:[" ATTR(
                "00000000-0000-4000-8000-000000000001", "ip-dst", "198.51.100.1", "true") "]}}",
            cases[i].tag);
        collect_init(&c);
        assert_int_equal(import_text(doc, KW_TLP_AMBER_STRICT, false, &c, &rep), KW_ERR_OK);
        assert_int_equal(c.calls, 1);
        if (c.tlps[0] != cases[i].tlp) {
            fail_msg("%s gave %s", cases[i].tag, kw_tlp_name(c.tlps[0]));
        }
        assert_int_equal(c.b->items[0].n_labels, 0);
        collect_done(&c);
    }
    /* Two tags: the more restrictive one. */
    {
        collect c;
        kw_import_report rep;
        collect_init(&c);
        assert_int_equal(import_text("{`Event`:{`Tag`:[{`name`:`tlp:red`},{`name`:`tlp:green`}],"
                                     "`Attribute`:[" ATTR("00000000-0000-4000-8000-000000000001",
                                         "ip-dst", "198.51.100.1", "true") "]}}",
                             KW_TLP_CLEAR, false, &c, &rep),
            KW_ERR_OK);
        assert_int_equal(c.tlps[0], KW_TLP_RED);
        collect_done(&c);
    }
}

/* ---- feeds on disk ----------------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *tmpl)
{
    char path[4096];
    char *s = jq(tmpl);
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "w"));
    assert_int_equal(fputs(s, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    free(s);
}

static void make_feed(char *dir, size_t cap, bool bad_second)
{
    snprintf(dir, cap, "/tmp/kw-test-misp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file(dir, "manifest.json",
        "{`11111111-1111-4111-8111-111111111111`:{`info`:`one`,`Tag`:[{`name`:`tlp:green`}]},"
        "`22222222-2222-4222-8222-222222222222`:{`info`:`two`,`Tag`:[{`name`:`tlp:red`},"
        "{`name`:`from-manifest`}]}}");
    write_file(dir, "11111111-1111-4111-8111-111111111111.json",
        "{`Event`:{`uuid`:`11111111-1111-4111-8111-111111111111`,`info`:`one`,"
        "`Tag`:[{`name`:`tlp:green`}],`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000001", "domain", "one.example", "true") "]}}");
    write_file(dir, "22222222-2222-4222-8222-222222222222.json",
        bad_second ? "{`Event`:{`info`:`two`,`Attribute`:[" ATTR(
                         "00000000-0000-4000-8000-000000000002", "ip-dst", "1.2.3", "true") "]}}"
                   : "{`Event`:{`info`:`two`,`Attribute`:[" ATTR(
                         "00000000-0000-4000-8000-000000000002", "ip-dst", "192.0.2.2",
                         "true") "," ATTR("00000000-0000-4000-8000-000000000003", "url",
                         "http://two.example/", "false") "]}}");
}

/* clang-format on */

static void remove_feed(const char *dir)
{
    char cmd[4200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_feed_dir(void **state)
{
    char dir[64], path[256];
    collect c;
    kw_import_report rep;
    const kw_indicator *ind;
    kw_tlp tlp;

    (void)state;
    make_feed(dir, sizeof(dir), false);
    collect_init(&c);
    assert_int_equal(kw_misp_import(dir, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 2);
    assert_int_equal(rep.objects, 3);
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(rep.non_indicators, 1);
    ind = find(&c, "one.example", &tlp);
    assert_int_equal(tlp, KW_TLP_GREEN);
    /* The second event has no tags of its own: the manifest's count. */
    ind = find(&c, "192.0.2.2", &tlp);
    assert_int_equal(tlp, KW_TLP_RED);
    assert_true(has_label(ind, "from-manifest"));
    collect_done(&c);

    /* The manifest path works as well as the folder. */
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    collect_init(&c);
    assert_int_equal(kw_misp_import(path, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 2);
    collect_done(&c);

    /* So does one event file. */
    snprintf(path, sizeof(path), "%s/11111111-1111-4111-8111-111111111111.json", dir);
    collect_init(&c);
    assert_int_equal(kw_misp_import(path, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    collect_done(&c);

    /* A missing event file. */
    snprintf(path, sizeof(path), "%s/22222222-2222-4222-8222-222222222222.json", dir);
    assert_int_equal(unlink(path), 0);
    collect_init(&c);
    assert_int_equal(
        kw_misp_import(dir, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_NOTFOUND);
    assert_int_equal(c.calls, 0);
    assert_non_null(strstr(rep.first_error, "22222222-2222-4222-8222-222222222222.json"));
    collect_done(&c);
    remove_feed(dir);
}

/* ---- attribute search results ------------------------------------------------------------ */

/* The inline JSON below is laid out by hand. */
/* clang-format off */
/* One element of an attribute search result: an attribute with its Event summary. rest holds
 * the attribute's other fields, each with a leading comma, or is "". */
#define SATTR(uuid, type, value, ids, rest, event) \
    "{`uuid`:`" uuid "`,`type`:`" type "`,`category`:`Network activity`,`value`:`" value \
    "`,`to_ids`:" ids ",`timestamp`:`1700000000`,`deleted`:false,`comment`:``" rest \
    ",`Event`:" event "}"
#define SEVENT(uuid, dist, info) \
    "{`org_id`:`1`,`distribution`:" dist ",`id`:`12`,`info`:`" info "`,`orgc_id`:`1`," \
    "`uuid`:`" uuid "`}"
#define EV1 SEVENT("5b8b0c6e-0000-4000-8000-0000000000e1", "`3`", "Campaign one")
#define EV2 SEVENT("5b8b0c6e-0000-4000-8000-0000000000e2", "`0`", "Internal only")
#define EV3 SEVENT("5b8b0c6e-0000-4000-8000-0000000000e3", "3", "Campaign three")

static const char *const search_parts[] = {
    "{`response`:{`Attribute`:[",
    /* The event's tags merged in (includeEventTags): AMBER, a label, the event's info. */
    SATTR("00000000-0000-4000-8000-0000000000a1", "ip-dst", "198.51.100.1", "true",
        ",`object_id`:`0`,`Tag`:[{`id`:`3`,`name`:`tlp:amber`,`inherited`:1},"
        "{`name`:`misp-galaxy:threat-actor=\\`Sofacy\\``}]", EV1) ",",
    /* Not for detection, deleted: withdrawals. */
    SATTR("00000000-0000-4000-8000-0000000000a2", "domain", "nolonger.example", "false", "",
        EV1) ",",
    "{`uuid`:`00000000-0000-4000-8000-0000000000a3`,`type`:`url`,`value`:`http://gone.example/`,"
      "`to_ids`:true,`deleted`:true,`timestamp`:`1700000003`,`Event`:" EV3 "},",
    /* Its event is organisation only. */
    SATTR("00000000-0000-4000-8000-0000000000a4", "ip-dst", "192.0.2.4", "true",
        ",`distribution`:`5`", EV2) ",",
    /* In an Object shared with a sharing group: at least AMBER over tlp:green. */
    SATTR("00000000-0000-4000-8000-0000000000a5", "md5", "0cc175b9c0f1b6a831c399e269772661",
        "true", ",`object_id`:`7`,`object_relation`:`md5`,`Tag`:[{`name`:`tlp:green`}],"
        "`Object`:{`id`:`7`,`distribution`:`4`,`sharing_group_id`:`2`}", EV3) ",",
    SATTR("00000000-0000-4000-8000-0000000000a6", "domain|ip", "dual.bad.example|192.0.2.6",
        "true", ",`first_seen`:`2023-11-01T00:00:00.000000+00:00`", EV3) ",",
    SATTR("00000000-0000-4000-8000-0000000000a7", "yara", "rule x { condition: true }", "true",
        "", EV1) ",",
    "{`uuid`:`00000000-0000-4000-8000-0000000000a8`,`type`:`sha1`,`to_ids`:`1`,"
      "`value`:`da39a3ee5e6b4b0d3255bfef95601890afd80709`,`timestamp`:1700000008,"
      "`comment`:`own comment`,`Tag`:[{`name`:`tlp:clear`},{`name`:`tlp:red`}],`Event`:" EV3 "}",
    "]}}",
};

/* clang-format on */

static char *search_doc(void)
{
    size_t n = 1;
    char *doc;

    for (size_t i = 0; i < sizeof(search_parts) / sizeof(search_parts[0]); i++) {
        n += strlen(search_parts[i]);
    }
    assert_non_null(doc = malloc(n));
    doc[0] = '\0';
    for (size_t i = 0; i < sizeof(search_parts) / sizeof(search_parts[0]); i++) {
        strcat(doc, search_parts[i]);
    }
    return doc;
}

/* MISP's POST /attributes/restSearch result: each attribute under the rules of the event
 * import, its Event and Object summaries standing for its event and object. */
static void test_search_result(void **state)
{
    collect c;
    kw_import_report rep;
    const kw_indicator *ind;
    kw_tlp tlp;
    uint8_t uuid[16], second[16];
    char *doc = search_doc();

    (void)state;
    collect_init(&c);
    assert_int_equal(import_text(doc, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_string_equal(rep.first_error, "");
    assert_int_equal(rep.events, 3); /* distinct Event uuids */
    assert_int_equal(rep.objects, 8);
    assert_int_equal(rep.indicators, 5);
    assert_int_equal(rep.non_indicators, 2);
    assert_int_equal(rep.org_only, 1);
    assert_int_equal(rep.unsupported, 1);
    assert_int_equal(type_count(&rep, "yara"), 1);
    assert_int_equal(rep.invalid, 0);
    assert_int_equal(c.calls, 5);

    ind = find(&c, "198.51.100.1", &tlp);
    assert_int_equal(tlp, KW_TLP_AMBER);
    assert_string_equal(ind->description, "Campaign one");
    assert_true(has_label(ind, "misp-galaxy:threat-actor=\"Sofacy\""));
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-0000000000a1", uuid), KW_ERR_OK);
    assert_memory_equal(ind->id, uuid, 16);
    assert_true(ind->created == 1700000000000);

    ind = find(&c, "0cc175b9c0f1b6a831c399e269772661", &tlp);
    assert_int_equal(tlp, KW_TLP_AMBER); /* the Object's distribution 4 */

    ind = find(&c, "dual.bad.example", &tlp);
    assert_int_equal(tlp, KW_TLP_GREEN); /* the default */
    assert_string_equal(ind->description, "Campaign three");
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-0000000000a6", uuid), KW_ERR_OK);
    assert_memory_equal(ind->id, uuid, 16);
    ind = find(&c, "192.0.2.6", NULL);
    kw__uuid_v5(second, uuid, "ip", 2);
    assert_memory_equal(ind->id, second, 16);
    assert_true(ind->valid_from == 1698796800000);

    ind = find(&c, "da39a3ee5e6b4b0d3255bfef95601890afd80709", &tlp);
    assert_int_equal(tlp, KW_TLP_RED);
    assert_string_equal(ind->description, "own comment");
    assert_true(ind->created == 1700000008000);

    /* a2 (to_ids false), a3 (deleted), a4 (its event is 0). */
    assert_int_equal(c.withdrawals, 3);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-0000000000a2", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[0], uuid, 16);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-0000000000a3", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[1], uuid, 16);
    assert_true(c.withdrawn_at[1] == 1700000003000);
    assert_int_equal(kw_indicator_id_parse("00000000-0000-4000-8000-0000000000a4", uuid), KW_ERR_OK);
    assert_memory_equal(c.withdrawn[2], uuid, 16);
    collect_done(&c);

    /* The bare form clients save ({"Attribute": [...]}, PyMISP's search result) reads alike. */
    {
        size_t n = strlen(doc);
        char *bare = strdup(doc + strlen("{`response`:"));
        assert_non_null(bare);
        bare[n - strlen("{`response`:") - 1] = '\0'; /* the outer } */
        collect_init(&c);
        assert_int_equal(import_text(bare, KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
        assert_int_equal(rep.events, 3);
        assert_int_equal(rep.indicators, 5);
        assert_int_equal(rep.org_only, 1);
        assert_int_equal(c.withdrawals, 3);
        collect_done(&c);
        free(bare);
    }
    free(doc);
}

/* clang-format off */
/* The same attribute through an event export and through an attribute search (with the
 * event's tags merged into its own, as includeEventTags gives them). */
static const char *const same_event =
    "{`response`:[{`Event`:{`uuid`:`5b8b0c6e-0000-4000-8000-0000000000e5`,`info`:`Shared`,"
    "`distribution`:`4`,`timestamp`:`1700000900`,`Tag`:[{`name`:`tlp:green`},{`name`:`ev-tag`}],"
    "`Attribute`:[{`uuid`:`00000000-0000-4000-8000-0000000000b1`,`type`:`domain|ip`,"
    "`value`:`same.example|192.0.2.77`,`to_ids`:true,`timestamp`:`1700000100`,"
    "`distribution`:`5`,`comment`:``,`Tag`:[{`name`:`attr-tag`}]}]}}]}";
static const char *const same_search =
    "{`response`:{`Attribute`:[{`uuid`:`00000000-0000-4000-8000-0000000000b1`,"
    "`type`:`domain|ip`,`value`:`same.example|192.0.2.77`,`to_ids`:true,"
    "`timestamp`:`1700000100`,`distribution`:`5`,`comment`:``,`object_id`:`0`,"
    "`Tag`:[{`name`:`attr-tag`},{`name`:`tlp:green`,`inherited`:1},{`name`:`ev-tag`,"
    "`inherited`:1}],`Event`:{`org_id`:`1`,`distribution`:`4`,`id`:`5`,`info`:`Shared`,"
    "`orgc_id`:`1`,`uuid`:`5b8b0c6e-0000-4000-8000-0000000000e5`}}]}}";
/* clang-format on */

static void test_search_same_as_event(void **state)
{
    collect a, b;
    kw_import_report rep;

    (void)state;
    collect_init(&a);
    collect_init(&b);
    assert_int_equal(import_text(same_event, KW_TLP_CLEAR, false, &a, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 1);
    assert_int_equal(import_text(same_search, KW_TLP_CLEAR, false, &b, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 1);
    assert_int_equal(a.calls, 2);
    assert_int_equal(b.calls, 2);
    for (uint32_t i = 0; i < 2; i++) {
        const kw_indicator *x = &a.b->items[i], *y = &b.b->items[i];
        assert_memory_equal(x->id, y->id, 16);
        assert_int_equal(x->type, y->type);
        assert_string_equal(x->value, y->value);
        assert_string_equal(x->description, "Shared");
        assert_string_equal(y->description, "Shared");
        assert_true(x->created == y->created && x->modified == y->modified);
        assert_int_equal(x->n_labels, 2);
        assert_int_equal(y->n_labels, 2);
        assert_true(has_label(y, "ev-tag") && has_label(y, "attr-tag"));
        /* tlp:green raised to AMBER by the event's distribution 4, both ways. */
        assert_int_equal(a.tlps[i], KW_TLP_AMBER);
        assert_int_equal(b.tlps[i], KW_TLP_AMBER);
    }
    collect_done(&a);
    collect_done(&b);
}

static void test_search_empty(void **state)
{
    collect c;
    kw_import_report rep;

    (void)state;
    collect_init(&c);
    assert_int_equal(
        import_text("{`response`:{`Attribute`:[]}}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 0);
    assert_int_equal(rep.objects, 0);
    assert_int_equal(rep.indicators, 0);
    assert_int_equal(rep.invalid, 0);
    assert_string_equal(rep.first_error, "");
    assert_int_equal(c.calls + c.withdrawals, 0);
    collect_done(&c);
}

/* clang-format off */
#define GOOD_SATTR SATTR("00000000-0000-4000-8000-0000000000c9", "ip-dst", "192.0.2.99", "true", \
    "", EV3)
/* clang-format on */

static void test_search_malformed(void **state)
{
    collect c;
    kw_import_report rep;

    (void)state;
    collect_init(&c);
    /* The shape of the document: fatal. */
    assert_int_equal(
        import_text("{`response`:{`Attribute`:{}}}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "ev.json: the Attribute list of the attribute search "
                                            "result is not a list"));
    assert_int_equal(import_text("{`response`:{}}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "ev.json: response holds neither a list of events nor"));
    assert_int_equal(
        import_text("{`response`:{`Attribute`:null}}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    /* A bare list is read only when nothing else could be meant. */
    assert_int_equal(import_text("{`Attribute`:[" GOOD_SATTR "],`info`:`x`}", KW_TLP_GREEN, false,
                         &c, &rep),
        KW_ERR_DECODE);
    assert_int_equal(
        import_text("{`Attribute`:[" ATTR("00000000-0000-4000-8000-000000000001", "ip-dst",
                        "198.51.100.1", "true") "]}",
            KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "not a MISP event or attribute search result"));
    assert_int_equal(c.calls, 0);

    /* The shape of one element: that attribute is invalid, named by its uuid. */
    assert_int_equal(
        import_text("{`response`:{`Attribute`:[1," GOOD_SATTR "]}}", KW_TLP_GREEN, false, &c, &rep),
        KW_ERR_INVAL);
    assert_int_equal(c.calls, 0);
    assert_non_null(strstr(rep.first_error, "ev.json: attribute #1 is not an object"));
    assert_int_equal(
        import_text("{`response`:{`Attribute`:[1," GOOD_SATTR "]}}", KW_TLP_GREEN, true, &c, &rep),
        KW_ERR_OK);
    assert_int_equal(rep.invalid, 1);
    assert_int_equal(rep.indicators, 1);
    assert_int_equal(c.calls, 1);
    /* clang-format off */
    assert_int_equal(import_text("{`response`:{`Attribute`:["
        "{`uuid`:`00000000-0000-4000-8000-0000000000d1`,`type`:`ip-dst`,`value`:`192.0.2.1`,"
        "`to_ids`:true,`timestamp`:`1700000000`},"
        "{`uuid`:`00000000-0000-4000-8000-0000000000d2`,`type`:`ip-dst`,`value`:`192.0.2.2`,"
        "`to_ids`:true,`timestamp`:`1700000000`,`Event`:[]},"
        SATTR("00000000-0000-4000-8000-0000000000d3", "ip-dst", "192.0.2.3", "true",
            ",`Object`:[]", EV3) ","
        SATTR("00000000-0000-4000-8000-0000000000d4", "ip-dst", "192.0.2.4", "true", "",
            SEVENT("5b8b0c6e-0000-4000-8000-0000000000e9", "`9`", "x")) ","
        SATTR("00000000-0000-4000-8000-0000000000d5", "ip-dst", "192.0.2.5", "true",
            ",`Object`:{`id`:`3`,`distribution`:null}", EV3) ","
        SATTR("00000000-0000-4000-8000-0000000000d6", "ip-dst", "192.0.2.6", "true",
            ",`Tag`:[{`name`:`tlp:amber-strict`}]", EV3)
        "]}}", KW_TLP_GREEN, false, &c, &rep), KW_ERR_INVAL);
    /* clang-format on */
    assert_int_equal(rep.invalid, 6);
    assert_non_null(strstr(rep.issues[0].text,
        "ev.json: attribute 00000000-0000-4000-8000-0000000000d1: it has no Event summary"));
    assert_non_null(strstr(rep.issues[1].text,
        "ev.json: attribute 00000000-0000-4000-8000-0000000000d2: its Event is not an object"));
    assert_non_null(strstr(rep.issues[2].text,
        "ev.json: attribute 00000000-0000-4000-8000-0000000000d3: its Object is not an object"));
    assert_non_null(strstr(rep.issues[3].text, "0000000000d4: its event's distribution is not"));
    assert_non_null(strstr(rep.issues[4].text, "0000000000d5: its object's distribution is not"));
    assert_non_null(strstr(rep.issues[5].text, "0000000000d6: tag 'tlp:amber-strict'"));
    assert_int_equal(c.calls, 1);

    /* An Object of null, or the empty row of a join, is no object: no distribution of its own. */
    /* clang-format off */
    assert_int_equal(import_text("{`response`:{`Attribute`:["
        SATTR("00000000-0000-4000-8000-0000000000d7", "ip-dst", "192.0.2.7", "true",
            ",`object_id`:`0`,`Object`:null", EV3) ","
        SATTR("00000000-0000-4000-8000-0000000000d8", "ip-dst", "192.0.2.8", "true",
            ",`object_id`:`0`,`Object`:{`id`:null,`distribution`:null,`sharing_group_id`:null}",
            EV3)
        "]}}", KW_TLP_CLEAR, false, &c, &rep), KW_ERR_OK);
    /* clang-format on */
    assert_int_equal(rep.indicators, 2);
    assert_int_equal(rep.by_tlp[KW_TLP_CLEAR], 2);
    assert_int_equal(rep.events, 1);
    collect_done(&c);
}

/* A search result saved to a file, read through kw_misp_import as kawan import does. */
static void test_search_file(void **state)
{
    char dir[64], path[128];
    collect c;
    kw_import_report rep;
    char *doc = search_doc();

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/kw-test-misp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file(dir, "search.json", doc);
    snprintf(path, sizeof(path), "%s/search.json", dir);
    collect_init(&c);
    assert_int_equal(kw_misp_import(path, KW_TLP_GREEN, false, collect_sink, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.events, 3);
    assert_int_equal(rep.indicators, 5);
    assert_int_equal(c.calls, 5);
    assert_int_equal(c.withdrawals, 3);
    collect_done(&c);
    remove_feed(dir);
    free(doc);
}

static void test_feed_all_or_nothing(void **state)
{
    char dir[64];
    collect c;
    kw_import_report rep;

    (void)state;
    make_feed(dir, sizeof(dir), true);
    collect_init(&c);
    assert_int_equal(
        kw_misp_import(dir, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_INVAL);
    assert_int_equal(c.calls, 0); /* the first event was fine, yet nothing went out */
    assert_non_null(strstr(rep.first_error,
        "22222222-2222-4222-8222-222222222222.json: "
        "attribute 00000000-0000-4000-8000-000000000002"));
    collect_done(&c);
    collect_init(&c);
    assert_int_equal(kw_misp_import(dir, KW_TLP_AMBER, true, collect_sink, &c, &rep), KW_ERR_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(rep.invalid, 1);
    collect_done(&c);
    remove_feed(dir);
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
/* A feed's events go through the same distribution rule, and the manifest's distribution for
 * an event (MISP writes one) bounds it as the event file's own does. */
static void test_feed_distribution(void **state)
{
    char dir[64];
    collect c;
    kw_import_report rep;
    kw_tlp tlp;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/kw-test-misp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file(dir, "manifest.json",
        "{`11111111-1111-4111-8111-111111111111`:{`info`:`one`,`distribution`:`3`},"
        "`22222222-2222-4222-8222-222222222222`:{`info`:`two`,`distribution`:`1`},"
        "`33333333-3333-4333-8333-333333333333`:{`info`:`three`,`distribution`:`0`}}");
    write_file(dir, "11111111-1111-4111-8111-111111111111.json",
        "{`Event`:{`uuid`:`11111111-1111-4111-8111-111111111111`,`distribution`:`3`,"
        "`Tag`:[{`name`:`tlp:clear`}],`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000001", "domain", "one.example", "true") "],"
        "`Object`:[{`name`:`domain-ip`,`distribution`:`0`,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000011", "domain", "one-org.example", "true") "]},"
        "{`name`:`domain-ip`,`distribution`:`4`,`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000012", "domain", "one-group.example", "true")
        "]}]}}");
    write_file(dir, "22222222-2222-4222-8222-222222222222.json",
        "{`Event`:{`uuid`:`22222222-2222-4222-8222-222222222222`,`distribution`:`3`,"
        "`Tag`:[{`name`:`tlp:clear`}],`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000002", "domain", "two.example", "true") "]}}");
    write_file(dir, "33333333-3333-4333-8333-333333333333.json",
        "{`Event`:{`uuid`:`33333333-3333-4333-8333-333333333333`,`distribution`:`3`,"
        "`Tag`:[{`name`:`tlp:clear`}],`Attribute`:["
        ATTR("00000000-0000-4000-8000-000000000003", "domain", "three.example", "true") "]}}");
    collect_init(&c);
    assert_int_equal(kw_misp_import(dir, KW_TLP_CLEAR, false, collect_sink, &c, &rep), KW_ERR_OK);
    assert_int_equal(rep.org_only, 2);
    assert_int_equal(rep.indicators, 3);
    (void)find(&c, "one.example", &tlp);
    assert_int_equal(tlp, KW_TLP_CLEAR);
    (void)find(&c, "one-group.example", &tlp);
    assert_int_equal(tlp, KW_TLP_AMBER);
    (void)find(&c, "two.example", &tlp);
    assert_int_equal(tlp, KW_TLP_GREEN);
    collect_done(&c);
    /* A manifest distribution that is not 0-5 makes its event's attributes invalid. */
    write_file(dir, "manifest.json",
        "{`22222222-2222-4222-8222-222222222222`:{`info`:`two`,`distribution`:`7`}}");
    collect_init(&c);
    assert_int_equal(
        kw_misp_import(dir, KW_TLP_CLEAR, false, collect_sink, &c, &rep), KW_ERR_INVAL);
    assert_non_null(strstr(rep.first_error, "the manifest's distribution"));
    assert_int_equal(c.calls, 0);
    collect_done(&c);
    remove_feed(dir);
}

/* The inline JSON below is laid out by hand. */
/* clang-format off */
/* A sink that rewrites the second event file while the first one is being imported. */
typedef struct tamper {
    collect c;
    const char *dir;
} tamper;

static kw_err tamper_sink(void *ctx, const kw_indicator *ind, kw_tlp tlp)
{
    tamper *t = ctx;

    write_file(t->dir, "22222222-2222-4222-8222-222222222222.json",
        "{`Event`:{`info`:`two`,`Attribute`:[" ATTR("00000000-0000-4000-8000-000000000002",
            "ip-dst", "192.0.2.99", "true") "]}}");
    return collect_sink(&t->c, ind, tlp);
}

static void test_feed_changed(void **state)
{
    char dir[64];
    tamper t;
    kw_import_report rep;

    (void)state;
    make_feed(dir, sizeof(dir), false);
    collect_init(&t.c);
    t.dir = dir;
    assert_int_equal(kw_misp_import(dir, KW_TLP_AMBER, false, tamper_sink, &t, &rep), KW_ERR_IO);
    assert_non_null(strstr(rep.first_error, "changed during the import"));
    /* The first event had gone out; the changed one did not. */
    assert_int_equal(t.c.calls, 1);
    collect_done(&t.c);
    remove_feed(dir);
}

/* clang-format on */

static void test_feed_hostile(void **state)
{
    char dir[64], path[256];
    collect c;
    kw_import_report rep;
    int fd;

    (void)state;
    make_feed(dir, sizeof(dir), false);
    collect_init(&c);
    /* A manifest key is a file name: only a UUID is accepted. */
    write_file(dir, "manifest.json", "{`../../etc/passwd`:{}}");
    assert_int_equal(
        kw_misp_import(dir, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_DECODE);
    assert_non_null(strstr(rep.first_error, "is not an event uuid"));
    write_file(dir, "manifest.json", "[]");
    assert_int_equal(
        kw_misp_import(dir, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_DECODE);
    /* Files over the size limit are refused before they are read (a sparse file here). */
    snprintf(path, sizeof(path), "%s/big.json", dir);
    assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
    assert_int_equal(ftruncate(fd, (off_t)KW_MISP_MAX_FILE + 1), 0);
    close(fd);
    assert_int_equal(
        kw_misp_import(path, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_TOOBIG);
    /* Not there at all. */
    snprintf(path, sizeof(path), "%s/nothing.json", dir);
    assert_int_equal(
        kw_misp_import(path, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_NOTFOUND);
    assert_int_equal(c.calls, 0);
    collect_done(&c);
    remove_feed(dir);
}

/* ---- corpus ------------------------------------------------------------------------------ */

static void test_corpus_feed(void **state)
{
    const char *dir = corpora();
    char path[4096];
    collect c;
    kw_import_report rep;

    (void)state;
    if (dir == NULL) {
        skip();
    }
    snprintf(path, sizeof(path), "%s/misp-feed/chrome-mal-ids-feed", dir);
    collect_init(&c);
    assert_int_equal(kw_misp_import(path, KW_TLP_AMBER, false, collect_sink, &c, &rep), KW_ERR_OK);
    /* 79 events, 5,188 attributes: 2,663 url without to_ids, 2,525 text (extension ids)
     * with to_ids, which kawan has no type for. */
    assert_int_equal(rep.events, 79);
    assert_int_equal(rep.objects, 5188);
    assert_int_equal(rep.non_indicators, 2663);
    assert_int_equal(rep.unsupported, 2525);
    assert_int_equal(type_count(&rep, "text"), 2525);
    assert_int_equal(rep.indicators, 0);
    assert_int_equal(rep.invalid, 0);
    assert_int_equal(c.calls, 0);
    collect_done(&c);
}

static void test_corpus_eset(void **state)
{
    static const struct {
        const char *file;
        unsigned objects, indicators, non_indicators, unsupported;
        kw_tlp tlp;
    } cases[] = {
        { "telebots_misp-telebots.json", 95, 69, 26, 0, KW_TLP_CLEAR }, /* tlp:white */
        { "cloudmensis_cloudmensis.misp.json", 22, 9, 11, 2, KW_TLP_AMBER },
        { "sednit_2018-11-20_Zebrocy.json", 32, 0, 32, 0, KW_TLP_AMBER },
        { "oceanlotus_oceanlotus-macOS.misp.event.json", 9, 0, 9, 0, KW_TLP_AMBER },
        { "sshdoor_misp-events_akiva.json", 5, 0, 5, 0, KW_TLP_AMBER },
    };
    const char *dir = corpora();
    char path[4096];

    (void)state;
    if (dir == NULL) {
        skip();
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        collect c;
        kw_import_report rep;
        kw_err rc;

        snprintf(path, sizeof(path), "%s/misp-feed/eset-event-exports/%s", dir, cases[i].file);
        collect_init(&c);
        rc = kw_misp_import(path, KW_TLP_AMBER, false, collect_sink, &c, &rep);
        if (rc != KW_ERR_OK || rep.objects != cases[i].objects
            || rep.indicators != cases[i].indicators
            || rep.non_indicators != cases[i].non_indicators
            || rep.unsupported != cases[i].unsupported || rep.invalid != 0
            || rep.by_tlp[cases[i].tlp] != rep.indicators) {
            fail_msg("%s: rc %d objects %llu indicators %llu non %llu unsupported %llu (%s)",
                cases[i].file, rc, (unsigned long long)rep.objects,
                (unsigned long long)rep.indicators, (unsigned long long)rep.non_indicators,
                (unsigned long long)rep.unsupported, rep.first_error);
        }
        assert_int_equal(c.calls, rep.indicators);
        collect_done(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_types),
        cmocka_unit_test(test_event_envelopes),
        cmocka_unit_test(test_withdrawals),
        cmocka_unit_test(test_org_only),
        cmocka_unit_test(test_org_only_object),
        cmocka_unit_test(test_distribution_floor),
        cmocka_unit_test(test_distribution_malformed),
        cmocka_unit_test(test_distribution_envelopes),
        cmocka_unit_test(test_unknown_tlp_tags),
        cmocka_unit_test(test_stix2_pattern),
        cmocka_unit_test(test_malware_sample),
        cmocka_unit_test(test_event_malformed),
        cmocka_unit_test(test_event_invalid),
        cmocka_unit_test(test_tlp_tags),
        cmocka_unit_test(test_search_result),
        cmocka_unit_test(test_search_same_as_event),
        cmocka_unit_test(test_search_empty),
        cmocka_unit_test(test_search_malformed),
        cmocka_unit_test(test_search_file),
        cmocka_unit_test(test_feed_dir),
        cmocka_unit_test(test_feed_all_or_nothing),
        cmocka_unit_test(test_feed_changed),
        cmocka_unit_test(test_feed_distribution),
        cmocka_unit_test(test_feed_hostile),
        cmocka_unit_test(test_corpus_feed),
        cmocka_unit_test(test_corpus_eset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
