/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] = "Usage: kawan show INDICATOR-ID [--json]\n"
                            "\n"
                            "Shows every field of the current version of one indicator "
                            "(revoked ones too).\n"
                            "\n"
                            "  --json    one JSON object, as kawan query --json prints it\n";

static void print_value(const json_t *v)
{
    size_t i;
    const json_t *e;

    switch (json_typeof(v)) {
    case JSON_STRING: {
        /* Free text may hold control characters: never let them reach the terminal. */
        const char *str = json_string_value(v);
        size_t len = json_string_length(v);
        for (size_t k = 0; k < len; k++) {
            unsigned char ch = (unsigned char)str[k];
            if (ch < 0x20 || ch == 0x7f) {
                printf("\\x%02x", ch);
            } else {
                fputc(ch, stdout);
            }
        }
        break;
    }
    case JSON_INTEGER:
        printf("%lld", (long long)json_integer_value(v));
        break;
    case JSON_TRUE:
        fputs("yes", stdout);
        break;
    case JSON_FALSE:
        fputs("no", stdout);
        break;
    case JSON_NULL:
        fputs("-", stdout);
        break;
    case JSON_ARRAY:
        if (json_array_size(v) == 0) {
            fputs("-", stdout);
        }
        json_array_foreach(v, i, e)
        {
            if (i > 0) {
                fputs(", ", stdout);
            }
            print_value(e);
        }
        break;
    case JSON_OBJECT: {
        const char *k;
        const json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x)
        {
            fputs(first ? "" : ":", stdout);
            print_value(x);
            first = 0;
        }
        break;
    }
    default:
        break;
    }
}

/* The JSON object as "key   value" lines, the origin's name beside its id. */
static void print_text(const json_t *o)
{
    const char *key;
    const json_t *v;
    const json_t *name = json_object_get(o, "origin_name");

    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "origin_name") == 0) {
            continue;
        }
        printf("%-17s ", key);
        print_value(v);
        if (strcmp(key, "origin") == 0 && name != NULL) {
            printf(" (%s)", json_string_value(name));
        }
        fputc('\n', stdout);
    }
}

int show_main(int argc, char **argv)
{
    bool json = false;
    kw_cli_node n;
    kw_cli_found f;
    json_t *o;
    int ret;

    memset(&f, 0, sizeof(f));
    if (!kw_cli_simple_args(argc, argv, usage, &json, 1, 1, "INDICATOR-ID", &ret)) {
        return ret;
    }
    if ((ret = kw_cli_node_open(&n, KW_CLI_READ)) != 0
        || (ret = kw_cli_find_indicator(&n, argv[optind], &f)) != 0) {
        goto out;
    }
    if ((o = kw_cli_result_json(&n, &f.r)) == NULL) {
        ret = kw_cli_error("out of memory");
        goto out;
    }
    if (json) {
        ret = kw_cli_json_print(o);
    } else {
        print_text(o);
        json_decref(o);
    }
out:
    kw_cli_found_free(&f);
    kw_cli_node_close(&n);
    return ret;
}
