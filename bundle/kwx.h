/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_BUNDLE_KWX_H
#define KW_BUNDLE_KWX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "bundle/entry.h"
#include "crypto/err.h"

/*
 * The .kwx export file (design section 9, docs/kwx.md): the magic line "KAWAN-KWX 1\n",
 * then feed entries in their wire form, each the msgpack array
 * [header bin, signature bin, payload bin | nil], then a trailer
 * [entry count uint64, BLAKE2b-256 bin] whose hash covers every byte before it. Files move
 * entries between nodes that have no network link; the receiver runs them through the same
 * verification as the network (kw_store_ingest), so the file itself is not trusted.
 */

#define KW_KWX_MAGIC "KAWAN-KWX 1\n"
#define KW_KWX_MAGIC_LEN 12u
#define KW_KWX_VERSION 1
/* Trailer: 0x92, 0xcf + count (8 bytes), 0xc4 0x20 + hash (32 bytes). */
#define KW_KWX_TRAILER_LEN 44u
/* Most entries one file may hold; the reader stops past it. */
#define KW_KWX_MAX_ENTRIES 0xffffffffu
/* Largest encoded entry: array byte, header and signature with their bin headers, and a
 * payload of KW_PAYLOAD_MAX with a bin32 header. */
#define KW_KWX_ENTRY_MAX (1u + 2u + KW_HEADER_MAX + 2u + KW_SIG_LEN + 5u + KW_PAYLOAD_MAX)

/* ---- Writer ---- */

typedef struct kw_kwx_writer kw_kwx_writer;

/*
 * Starts a file that will be named path once kw_kwx_writer_finish succeeds. Until then the
 * bytes go to a temporary file (mode 0600) in path's directory (bundle/outfile.h), so a crash
 * or an error never leaves a partial file under the final name. Writes the magic line.
 * Errors as kw_outfile_new: KW_ERR_INVAL, KW_ERR_PERM, KW_ERR_NOTFOUND, KW_ERR_IO.
 */
kw_err kw_kwx_writer_new(kw_kwx_writer **out, const char *path);

/*
 * Appends one entry: hdr (the signed header bytes, 1..KW_HEADER_MAX), sig, and the payload,
 * or NULL to withhold it (header only). A payload must have the length the header states.
 * Borrowed for the call. KW_ERR_DECODE for a header that does not decode, KW_ERR_INVAL for a
 * payload whose length disagrees with the header, KW_ERR_TOOBIG past KW_KWX_MAX_ENTRIES,
 * KW_ERR_IO / KW_ERR_NOSPACE on write errors. After an error the writer only accepts
 * kw_kwx_writer_free.
 */
kw_err kw_kwx_writer_add(kw_kwx_writer *w, const uint8_t *hdr, size_t hdr_len,
    const uint8_t sig[static KW_SIG_LEN], const uint8_t *payload, size_t payload_len);

/*
 * Writes the trailer, flushes, fsyncs, renames the temporary file to its final name (an
 * existing file there is replaced atomically) and fsyncs the directory. KW_ERR_IO or
 * KW_ERR_NOSPACE on failure, when the temporary file is removed by kw_kwx_writer_free.
 */
kw_err kw_kwx_writer_finish(kw_kwx_writer *w);

/* Entries written so far, and bytes (the whole file once finished). */
uint64_t kw_kwx_writer_count(const kw_kwx_writer *w);
uint64_t kw_kwx_writer_bytes(const kw_kwx_writer *w);

/* Frees the writer; an unfinished file is closed and its temporary file removed. Accepts
 * NULL. */
void kw_kwx_writer_free(kw_kwx_writer *w);

/* ---- Reader ---- */

typedef struct kw_kwx_reader kw_kwx_reader;

/* Also check each entry on its own (signature by its origin, payload hash; kw_entry_check),
 * so that damage is located at the entry it hits rather than only by the trailer. */
#define KW_KWX_VERIFY 1u

/*
 * The source of the bytes: reads up to cap bytes into buf, sets *got (0 at the end of the
 * input). KW_ERR_IO on failure.
 */
typedef kw_err (*kw_kwx_read_fn)(void *ctx, uint8_t *buf, size_t cap, size_t *got);

/* A reader over a read function (ctx borrowed), a file descriptor (borrowed, not closed), or
 * a memory buffer (borrowed; must outlive the reader). flags: 0 or KW_KWX_VERIFY. */
kw_err kw_kwx_reader_new(kw_kwx_reader **out, kw_kwx_read_fn read, void *ctx, unsigned flags);
kw_err kw_kwx_reader_new_fd(kw_kwx_reader **out, int fd, unsigned flags);
kw_err kw_kwx_reader_new_mem(kw_kwx_reader **out, const uint8_t *buf, size_t len, unsigned flags);

/* One entry as read. The pointers are valid until the next kw_kwx_reader_next or
 * kw_kwx_reader_free. */
typedef struct kw_kwx_entry {
    kw_header h; /* the decoded header */
    const uint8_t *hdr;
    size_t hdr_len;
    const uint8_t *sig; /* KW_SIG_LEN bytes */
    const uint8_t *payload; /* NULL when withheld */
    size_t payload_len;
    uint64_t offset; /* where the entry starts in the file */
    uint64_t size; /* its encoded size */
    uint64_t index; /* 0 for the first entry */
} kw_kwx_entry;

/*
 * Reads the next entry. Every length is checked against its bound (header <= KW_HEADER_MAX,
 * payload <= KW_PAYLOAD_MAX and equal to the header's payload_len, KW_KWX_MAX_ENTRIES) before
 * any byte it announces is read or any memory is sized by it, and only the shortest msgpack
 * form of each length is accepted (one entry, one encoding).
 *
 * Returns KW_ERR_OK with *e filled and *done false; KW_ERR_OK with *done true once the trailer
 * has been read, its count and checksum match and nothing follows it. On any problem returns
 * an error and the reader stays failed:
 *   KW_ERR_DECODE       malformed or truncated file, or a header that does not decode
 *   KW_ERR_UNSUPPORTED  a kwx file of another version
 *   KW_ERR_TOOBIG       a length or the entry count over its bound
 *   KW_ERR_BADSIG       (KW_KWX_VERIFY) a signature that does not verify
 *   KW_ERR_HASH         a payload that does not match its header (KW_KWX_VERIFY), or the
 *                       trailer's checksum
 *   KW_ERR_IO           the read function failed
 *   KW_ERR_NOMEM
 * kw_kwx_reader_error then tells the byte offset of the first bad byte and what is wrong.
 * For a truncated file the offset is the file's length (the first missing byte).
 */
kw_err kw_kwx_reader_next(kw_kwx_reader *r, kw_kwx_entry *e, bool *done);

/* After an error: the offset of the first bad byte (its field's start when the damage is
 * known only to lie inside a field) and a sentence naming it ("entry 17 (byte 20480):
 * payload does not match its hash"). The text is valid until kw_kwx_reader_free. */
const char *kw_kwx_reader_error(const kw_kwx_reader *r, uint64_t *offset);

/* Bytes consumed so far (for progress), and entries returned. */
uint64_t kw_kwx_reader_offset(const kw_kwx_reader *r);
uint64_t kw_kwx_reader_count(const kw_kwx_reader *r);

/* Frees the reader. Accepts NULL. */
void kw_kwx_reader_free(kw_kwx_reader *r);

#endif
