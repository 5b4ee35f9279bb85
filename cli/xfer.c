/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/xfer.h"

#include <stdlib.h>
#include <string.h>

bool kw__xfer_has_id(const uint8_t (*ids)[32], size_t n, const uint8_t id[static 32])
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(ids[i], id, 32) == 0) {
            return true;
        }
    }
    return false;
}

int kw__xfer_resolve_nodes(kw_cli_node *n, const char *const *refs, size_t nrefs, bool roster_only,
    bool drop_self, const char *what, uint8_t (**out)[32], size_t *count)
{
    uint8_t(*ids)[32] = NULL;
    size_t k = 0;

    *out = NULL;
    *count = 0;
    if (nrefs == 0) {
        return 0;
    }
    if ((ids = calloc(nrefs, 32)) == NULL) {
        return kw_cli_error("out of memory");
    }
    for (size_t i = 0; i < nrefs; i++) {
        uint8_t id[32];
        if (kw_cli_resolve_node(n, refs[i], roster_only, id, what) != 0) {
            free(ids);
            return KW_CLI_FAIL;
        }
        if ((drop_self && memcmp(id, n->self, 32) == 0)
            || kw__xfer_has_id((const uint8_t(*)[32])ids, k, id)) {
            continue;
        }
        memcpy(ids[k++], id, 32);
    }
    *out = ids;
    *count = k;
    return 0;
}

const char *kw__xfer_plural(uint64_t v)
{
    return v == 1 ? "" : "s";
}
