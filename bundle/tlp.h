/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_TLP_H
#define KW_BUNDLE_TLP_H

#include <stdbool.h>

#include "crypto/err.h"

/* TLP 2.0 levels; the numbers are the header's tlp field (docs/tlp.md). */
typedef enum kw_tlp {
    KW_TLP_CLEAR = 0,
    KW_TLP_GREEN = 1,
    KW_TLP_AMBER = 2,
    KW_TLP_AMBER_STRICT = 3,
    KW_TLP_RED = 4,
} kw_tlp;

#define KW_TLP_MAX KW_TLP_RED

/* "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED" (or "INVALID"). */
const char *kw_tlp_name(kw_tlp t);

/*
 * Parses clear, white (TLP 1.0 alias), green, amber, amber+strict, red in any case, with or
 * without a "TLP:" prefix. KW_ERR_INVAL otherwise.
 */
kw_err kw_tlp_parse(const char *s, kw_tlp *out);

/* True when payloads of this level are sealed (AMBER, AMBER+STRICT, RED). */
bool kw_tlp_sealed(kw_tlp t);

/* The relationship of a receiving node to an entry, for the policy questions below. */
typedef enum kw_tlp_party {
    KW_PARTY_STRANGER = 0,  /* not in the roster */
    KW_PARTY_MEMBER = 1,    /* roster member, not a recipient */
    KW_PARTY_RECIPIENT = 2, /* a named recipient of a sealed entry */
} kw_tlp_party;

/*
 * Whether a node may send the payload bytes (plaintext for CLEAR/GREEN, ciphertext for
 * sealed levels) of an entry of level t to a receiver of kind party. from_origin is true
 * when the sender is the entry's origin (RED goes only from the origin to its recipients).
 */
bool kw_tlp_may_send_payload(kw_tlp t, kw_tlp_party party, bool from_origin);

/* Whether indicators of level t may be exported in plaintext (STIX or --for) at all. */
bool kw_tlp_may_export_plain(kw_tlp t, bool for_recipient);

#endif
