/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "bundle/timefmt.h"
#include "bundle/value.h"

static const char usage[]
    = "Usage: kawan query [OPTIONS]\n"
      "\n"
      "Lists the current indicators that match every option given (all of them without\n"
      "options), newest version of each, revoked and expired ones only with --all.\n"
      "\n"
      "  --value V       this value, normalised as publish does (Example.COM. finds\n"
      "                  example.com, evil[.]example finds evil.example); its type is\n"
      "                  detected unless --type is given\n"
      "  --type T        only this type (ipv4, ipv6, cidr, domain, url, email, md5, sha1,\n"
      "                  sha256, sha512, filename, stix-pattern)\n"
      "  --contains S    values containing S (also inside STIX patterns)\n"
      "  --origin NODE   published by NODE (a roster name or a node id)\n"
      "  --tlp LEVEL     only this TLP level\n"
      "  --since TIME    modified at or after TIME (RFC 3339, or a duration back: 24h, 7d)\n"
      "  --limit N       at most N results\n"
      "  --all           include revoked and expired indicators\n"
      "  --json          JSON Lines: one indicator object per line\n";

typedef struct query_ctx {
    kw_cli_node *n;
    bool json;
    bool all;
    kw_cli_table table;
    uint64_t count;
    int ret;
} query_ctx;

static int on_result(void *ctx, const kw_result *r)
{
    query_ctx *q = ctx;
    const kw_indicator *d = r->ind;

    if (q->json) {
        q->ret = kw_cli_json_print(kw_cli_result_json(q->n, r));
    } else {
        char id[48], origin[64], modified[32];
        char value[KW_VALUE_MAX * 4 + 8]; /* room to escape every byte */
        const char *cells[7];
        kw_indicator_id_format(id, d->id);
        cells[0] = id;
        cells[1] = kw_obs_type_name(d->type);
        cells[2] = kw_cli_printable(value, sizeof(value), d->value, d->value_len, sizeof(value));
        cells[3] = kw_tlp_name(r->tlp);
        cells[4] = kw_cli_node_label(q->n, r->origin, origin);
        cells[5] = kw_cli_time(modified, d->modified);
        cells[6] = d->revoked ? "revoked" : "";
        q->ret = kw_cli_table_add(&q->table, cells);
    }
    q->count++;
    return q->ret != 0;
}

int query_main(int argc, char **argv)
{
    enum {
        O_VALUE = KW_OPT_LOCAL,
        O_TYPE,
        O_CONTAINS,
        O_ORIGIN,
        O_TLP,
        O_SINCE,
        O_LIMIT,
        O_ALL,
        O_JSON
    };
    static const struct option opts[] = {
        { "value", required_argument, NULL, O_VALUE },
        { "type", required_argument, NULL, O_TYPE },
        { "contains", required_argument, NULL, O_CONTAINS },
        { "origin", required_argument, NULL, O_ORIGIN },
        { "tlp", required_argument, NULL, O_TLP },
        { "since", required_argument, NULL, O_SINCE },
        { "limit", required_argument, NULL, O_LIMIT },
        { "all", no_argument, NULL, O_ALL },
        { "json", no_argument, NULL, O_JSON },
        KW_CLI_COMMON_OPTS,
    };
    static const char *const header[] = { "ID", "TYPE", "VALUE", "TLP", "ORIGIN", "MODIFIED", "" };
    const char *value = NULL, *origin = NULL;
    char norm[KW_VALUE_MAX + 1];
    uint8_t origin_id[32];
    kw_obs_type type = KW_OBS_NONE;
    kw_cli_node n;
    query_ctx ctx;
    kw_query q;
    kw_tlp tlp;
    kw_err rc;
    int c, ret;

    memset(&q, 0, sizeof(q));
    memset(&ctx, 0, sizeof(ctx));
    memset(&n, 0, sizeof(n));
    q.tlp = -1;
    while ((c = kw_cli_getopt(argc, argv, opts, usage)) != -1) {
        switch (c) {
        case O_VALUE:
            value = optarg;
            break;
        case O_TYPE:
            if ((ret = kw_cli_parse_type("--type", optarg, &type)) != 0) {
                return ret;
            }
            break;
        case O_CONTAINS:
            if (optarg[0] == '\0') {
                return kw_cli_usage_error("--contains needs some text");
            }
            q.substring = optarg;
            break;
        case O_ORIGIN:
            origin = optarg;
            break;
        case O_TLP:
            if ((ret = kw_cli_parse_tlp("--tlp", optarg, &tlp)) != 0) {
                return ret;
            }
            q.tlp = (int)tlp;
            break;
        case O_SINCE:
            if ((ret = kw_cli_parse_time("--since", optarg, kw_time_now_ms(), &q.since_ms)) != 0) {
                return ret;
            }
            break;
        case O_LIMIT:
            if ((ret = kw_cli_parse_u64("--limit", optarg, 1, UINT32_MAX, &q.limit)) != 0) {
                return ret;
            }
            break;
        case O_ALL:
            q.all = true;
            break;
        case O_JSON:
            ctx.json = true;
            break;
        case KW_CLI_OPT_HELP:
            return KW_CLI_OK;
        default:
            return KW_CLI_USAGE;
        }
    }
    if ((ret = kw_cli_operands(argc, argv, 0, 0, "")) != 0) {
        return ret;
    }
    q.type = type;
    if (value != NULL) {
        const char *why = NULL;
        char shown[128];
        size_t len;
        bool refanged; /* a value pasted from a report may be defanged */
        kw_err vr = kw_cli_value(&q.type, value, strlen(value), norm, sizeof(norm), &len, &why,
            &refanged);
        if (vr != KW_ERR_OK) {
            return kw_cli_usage_error("--value: '%s' %s",
                kw_cli_printable(shown, sizeof(shown), value, strlen(value), 100),
                why != NULL ? why : "is not a valid value");
        }
        q.value = norm;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) != 0) {
        goto out;
    }
    if (origin != NULL) {
        if ((ret = kw_cli_resolve_node(&n, origin, false, origin_id, "origin")) != 0) {
            goto out;
        }
        q.origin = origin_id;
    }
    ctx.n = &n;
    ctx.all = q.all;
    if (!ctx.json) {
        kw_cli_table_init(&ctx.table, q.all ? 7 : 6, header);
    }
    rc = kw_store_query(n.store, &q, on_result, &ctx, NULL);
    if (!ctx.json) {
        kw_cli_table_finish(&ctx.table);
    }
    if ((ret = ctx.ret) != 0) {
        goto out;
    }
    if (rc != KW_ERR_OK) {
        ret = kw_cli_error("query failed: %s", kw_strerror(rc));
        goto out;
    }
    if (ctx.count == 0 && !ctx.json) {
        kw_cli_warn("no indicators found");
    }
    kw_store_stats st;
    if (kw_store_stats_get(n.store, &st) == KW_ERR_OK && st.queued > 0) {
        kw_cli_warn("%llu received entr%s not indexed yet and not searched (kawan run indexes "
                    "them)",
            (unsigned long long)st.queued, st.queued == 1 ? "y is" : "ies are");
    }
    ret = KW_CLI_OK;
out:
    kw_cli_node_close(&n);
    return ret;
}
