/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/err.h"

const char *kw_strerror(kw_err err)
{
    switch (err) {
#define KW__ERR_TEXT(name, value, text) \
    case KW_ERR_##name:                 \
        return text;
        KW_ERR_MAP(KW__ERR_TEXT)
#undef KW__ERR_TEXT
    }
    return "unknown error";
}

const char *kw_errname(kw_err err)
{
    switch (err) {
#define KW__ERR_NAME(name, value, text) \
    case KW_ERR_##name:                 \
        return #name;
        KW_ERR_MAP(KW__ERR_NAME)
#undef KW__ERR_NAME
    }
    return "UNKNOWN";
}
