/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_CRYPTO_ERR_H
#define KW_CRYPTO_ERR_H

/*
 * One error enum for the whole project. Every fallible function returns a kw_err; results
 * go through out-parameters. LMDB, libuv and msgpack codes are translated at the module
 * boundary (and the original is logged there).
 */
#define KW_ERR_MAP(X)                                              \
    X(OK, 0, "success")                                            \
    X(NOMEM, -1, "out of memory")                                  \
    X(INVAL, -2, "invalid argument")                               \
    X(BADSIG, -3, "signature verification failed")                 \
    X(DECODE, -4, "malformed data")                                \
    X(STORE, -5, "storage error")                                  \
    X(NET, -6, "network error")                                    \
    X(IO, -7, "input/output error")                                \
    X(NOTFOUND, -8, "not found")                                   \
    X(EXISTS, -9, "already exists")                                \
    X(CRYPTO, -10, "cryptographic operation failed")               \
    X(TOOBIG, -11, "size limit exceeded")                          \
    X(CHAIN, -12, "hash chain broken")                             \
    X(HASH, -13, "payload does not match its hash")                \
    X(FORK, -14, "feed fork detected")                             \
    X(ROSTER, -15, "not a roster member")                          \
    X(TLP, -16, "not allowed by the TLP rules")                    \
    X(AGAIN, -17, "try again")                                     \
    X(PERM, -18, "permission denied")                              \
    X(UNSUPPORTED, -19, "not supported")                           \
    X(NOSPACE, -20, "no space left on device")                     \
    X(CLOSED, -21, "closed")                                       \
    X(NOKEY, -22, "not a recipient")                               \
    X(GAP, -23, "entry ahead of a gap in the feed")                \
    X(DUP, -24, "already held")                                    \
    X(PASSPHRASE, -25, "wrong passphrase")                         \
    X(NOINIT, -26, "node not initialised")

typedef enum kw_err {
#define KW__ERR_ENUM(name, value, text) KW_ERR_##name = (value),
    KW_ERR_MAP(KW__ERR_ENUM)
#undef KW__ERR_ENUM
} kw_err;

/* A static, human-readable description of err ("unknown error" for values not in the map). */
const char *kw_strerror(kw_err err);

/* The symbolic name of err without the prefix, e.g. "BADSIG", for logs. */
const char *kw_errname(kw_err err);

#endif
