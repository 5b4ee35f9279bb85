/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_NODE_NODE_H
#define KW_NODE_NODE_H

#include <stdint.h>

#include "crypto/err.h"
#include "crypto/identity.h"

/*
 * The node daemon (`kawan run`): a libuv loop that listens on TCP, dials every roster
 * member, runs Noise IKpsk2 sessions, replicates feeds (docs/protocol.md) and answers the
 * control socket. Runs in the foreground until SIGINT or SIGTERM.
 */

#define KW_NODE_DEFAULT_LISTEN "127.0.0.1:7400"
#define KW_CONTROL_SOCKET "control.sock"
#define KW_COMMUNITY_FILE "community.key"

typedef struct kw_node_opts {
    const char *dir;            /* data directory */
    const char *listen;         /* host:port, or NULL for the stored setting or the default */
    uint32_t anti_entropy_ms;   /* 0: 30000 */
    uint32_t graft_timeout_ms;  /* 0: 100 */
} kw_node_opts;

/*
 * Runs the daemon. Takes the identity (borrowed; it must outlive the call). Returns when the
 * node is stopped by a signal (KW_ERR_OK), or an error if it cannot start: KW_ERR_NOINIT
 * (no store), KW_ERR_NOTFOUND (no community key), KW_ERR_NET (cannot listen).
 */
kw_err kw_node_run(const kw_node_opts *opts, const kw_identity *id);

/*
 * Control socket client: sends one request line to a running daemon in dir and calls
 * line_cb for each line of the answer until the daemon closes it (or line_cb returns
 * non-zero). KW_ERR_NOTFOUND when no daemon runs.
 */
typedef int (*kw_control_line_cb)(void *ctx, const char *line);
kw_err kw_control_request(const char *dir, const char *request, kw_control_line_cb line_cb,
    void *ctx);

/* Splits "host:port" (IPv4, [IPv6] or a name) into host and port. KW_ERR_INVAL if malformed. */
kw_err kw_hostport_parse(const char *s, char *host, size_t host_cap, uint16_t *port);

#endif
