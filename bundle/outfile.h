/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_OUTFILE_H
#define KW_BUNDLE_OUTFILE_H

#include <stddef.h>

#include "crypto/err.h"

/*
 * An output file that appears under its final name only when it is complete: the bytes go
 * to a temporary file ".<name>.part-XXXXXX" (mode 0600) in the same directory, which
 * kw_outfile_commit fsyncs and renames over the final name (atomically replacing any file
 * there) before it fsyncs the directory. A crash or an error leaves at most the .part file,
 * never a partial file under the final name. Used for exports (.kwx and STIX).
 */
typedef struct kw_outfile kw_outfile;

/* Creates the temporary file for path. KW_ERR_INVAL for a path that names no file ("dir/"),
 * KW_ERR_PERM, KW_ERR_NOTFOUND (no such directory) or KW_ERR_IO otherwise (errno kept). */
kw_err kw_outfile_new(kw_outfile **out, const char *path);

/* The descriptor to write to (owned by the outfile: do not close it). */
int kw_outfile_fd(const kw_outfile *f);

/* fsyncs and closes the file, renames it to its final name and fsyncs the directory.
 * KW_ERR_NOSPACE or KW_ERR_IO (errno kept). */
kw_err kw_outfile_commit(kw_outfile *f);

/* Closes the file; when it was not committed, removes the temporary file. Accepts NULL. */
void kw_outfile_free(kw_outfile *f);

/* KW_ERR_NOSPACE for a full disk or quota, KW_ERR_IO for any other errno after a failed
 * write. */
kw_err kw_outfile_errno(void);

/* Writes all n bytes of p to fd, again after short writes and EINTR. KW_ERR_OK, or as
 * kw_outfile_errno (errno kept). */
kw_err kw_write_all(int fd, const void *p, size_t n);

#endif
