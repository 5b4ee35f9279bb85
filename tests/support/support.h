/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TESTS_SUPPORT_H
#define KW_TESTS_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

/* Creates a fresh temporary directory (under $TMPDIR or /tmp) and returns its path in buf. */
int kw_test_tmpdir(char *buf, size_t cap);

/* Removes a directory tree. */
void kw_test_rmrf(const char *path);

/* A deterministic identity from one seed byte, for fixtures. */
kw_identity *kw_test_identity(uint8_t seed_byte);

/* Path of the shared corpora (KW_CORPORA), or NULL when absent. */
const char *kw_test_corpora(void);

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
char *kw_test_read_file(const char *path, size_t *len);

#endif
