/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/tlp.h"

#include <string.h>
#include <strings.h>

static const char *const tlp_names[] = { "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED" };

const char *kw_tlp_name(kw_tlp t)
{
    if ((unsigned)t > KW_TLP_MAX) {
        return "INVALID";
    }
    return tlp_names[t];
}

kw_err kw_tlp_parse(const char *s, kw_tlp *out)
{
    if (s == NULL) {
        return KW_ERR_INVAL;
    }
    if (strncasecmp(s, "TLP:", 4) == 0) {
        s += 4;
    }
    for (int i = 0; i <= KW_TLP_MAX; i++) {
        if (strcasecmp(s, tlp_names[i]) == 0) {
            *out = (kw_tlp)i;
            return KW_ERR_OK;
        }
    }
    if (strcasecmp(s, "WHITE") == 0) {
        *out = KW_TLP_CLEAR;
        return KW_ERR_OK;
    }
    return KW_ERR_INVAL;
}

bool kw_tlp_sealed(kw_tlp t)
{
    return t >= KW_TLP_AMBER && t <= KW_TLP_RED;
}

bool kw_tlp_may_send_payload(kw_tlp t, kw_tlp_party party, bool from_origin)
{
    switch (t) {
    case KW_TLP_CLEAR:
        return true;
    case KW_TLP_GREEN:
    case KW_TLP_AMBER:
    case KW_TLP_AMBER_STRICT:
        /* Members relay AMBER ciphertext; only recipients can open it. */
        return party != KW_PARTY_STRANGER;
    case KW_TLP_RED:
        return from_origin && party == KW_PARTY_RECIPIENT;
    }
    return false;
}

bool kw_tlp_may_export_plain(kw_tlp t, bool for_recipient)
{
    switch (t) {
    case KW_TLP_CLEAR:
    case KW_TLP_GREEN:
        return true;
    case KW_TLP_AMBER:
        return for_recipient;
    case KW_TLP_AMBER_STRICT:
    case KW_TLP_RED:
        return false;
    }
    return false;
}
