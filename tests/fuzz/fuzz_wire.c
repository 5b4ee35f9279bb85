/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the application message decoder (everything a peer can send after the handshake),
 * and the entry checks on what ENTRIES carries.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/entry.h"
#include "node/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kw_msg m;
    if (kw_msg_decode(&m, data, size) != KW_ERR_OK) {
        return 0;
    }
    if (m.type > KW_MSG_TYPE_MAX) {
        abort();
    }
    for (size_t i = 0; i < m.n_entries; i++) {
        const kw_wire_entry *e = &m.entries[i];
        kw_header h;
        if (e->hdr_len > KW_HEADER_MAX || (e->payload == NULL && e->payload_len != 0)) {
            abort();
        }
        (void)kw_entry_check(&h, e->hdr, e->hdr_len, e->sig, e->payload, e->payload_len);
    }
    kw_msg_clear(&m);
    return 0;
}
