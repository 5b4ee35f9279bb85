/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/mpcheck.h"

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/*
 * Iterative walk with an explicit count of items still owed: every container adds its
 * element count (maps twice), every item consumes one. Depth is tracked with a small stack
 * of remaining counts per level.
 */
kw_err kw_msgpack_check(const uint8_t *buf, size_t len, int max_depth)
{
    size_t off = 0;
    kw_err rc = kw_msgpack_skip(buf, len, &off, max_depth);

    return rc == KW_ERR_OK && off != len ? KW_ERR_DECODE : rc;
}

kw_err kw_msgpack_skip(const uint8_t *buf, size_t len, size_t *at, int max_depth)
{
    uint64_t stack[KW_MSGPACK_MAX_DEPTH + 2];
    int depth = 0;
    size_t off = *at;

    if (max_depth > KW_MSGPACK_MAX_DEPTH) {
        max_depth = KW_MSGPACK_MAX_DEPTH;
    }
    stack[0] = 1;
    while (depth >= 0) {
        if (stack[depth] == 0) {
            depth--;
            continue;
        }
        stack[depth]--;
        if (off >= len) {
            return KW_ERR_DECODE;
        }
        uint8_t t = buf[off++];
        uint64_t skip = 0;
        uint64_t children = 0;
        int container = 0;
        int lenbytes = 0;

        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
            continue;
        } else if ((t & 0xe0) == 0xa0) {
            skip = t & 0x1f;
        } else if ((t & 0xf0) == 0x90) {
            children = t & 0x0f;
            container = 1;
        } else if ((t & 0xf0) == 0x80) {
            children = (uint64_t)(t & 0x0f) * 2;
            container = 1;
        } else {
            switch (t) {
            case 0xc4: case 0xd9: lenbytes = 1; break;
            case 0xc5: case 0xda: lenbytes = 2; break;
            case 0xc6: case 0xdb: lenbytes = 4; break;
            case 0xc7: lenbytes = 1; skip = 1; break;
            case 0xc8: lenbytes = 2; skip = 1; break;
            case 0xc9: lenbytes = 4; skip = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: lenbytes = 2; container = 1; break;
            case 0xdd: lenbytes = 4; container = 1; break;
            case 0xde: lenbytes = 2; container = 2; break;
            case 0xdf: lenbytes = 4; container = 2; break;
            default: return KW_ERR_DECODE; /* 0xc1 is never used */
            }
            if (lenbytes > 0) {
                if (len - off < (size_t)lenbytes) {
                    return KW_ERR_DECODE;
                }
                uint64_t n = be(buf + off, lenbytes);
                off += (size_t)lenbytes;
                if (container) {
                    children = n * (uint64_t)container;
                } else {
                    skip += n;
                }
            }
        }
        if (container) {
            if (children > len - off) {
                return KW_ERR_DECODE;
            }
            if (depth + 1 > max_depth) {
                return KW_ERR_DECODE;
            }
            stack[++depth] = children;
        } else {
            if (skip > len - off) {
                return KW_ERR_DECODE;
            }
            off += (size_t)skip;
        }
    }
    *at = off;
    return KW_ERR_OK;
}

kw_err kw_msgpack_container(const uint8_t *buf, size_t len, size_t *at, bool map, uint32_t *n)
{
    size_t off = *at;
    int lenbytes;
    uint8_t t;

    if (off >= len) {
        return KW_ERR_DECODE;
    }
    t = buf[off++];
    if ((t & 0xf0) == (map ? 0x80 : 0x90)) {
        *n = t & 0x0f;
        *at = off;
        return KW_ERR_OK;
    }
    if (t == (map ? 0xde : 0xdc)) {
        lenbytes = 2;
    } else if (t == (map ? 0xdf : 0xdd)) {
        lenbytes = 4;
    } else {
        return KW_ERR_DECODE;
    }
    if (len - off < (size_t)lenbytes) {
        return KW_ERR_DECODE;
    }
    *n = (uint32_t)be(buf + off, lenbytes);
    *at = off + (size_t)lenbytes;
    return KW_ERR_OK;
}
