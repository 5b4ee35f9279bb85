/* SPDX-License-Identifier: Apache-2.0 */
#include "bundle/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct kw_outfile {
    int fd;
    char *path;
    char *dir;
    char *tmp;
    bool committed;
};

kw_err kw_outfile_errno(void)
{
    return errno == ENOSPC || errno == EDQUOT ? KW_ERR_NOSPACE : KW_ERR_IO;
}

kw_err kw_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return kw_outfile_errno();
        }
        b += w;
        n -= (size_t)w;
    }
    return KW_ERR_OK;
}

/* Removes the temporary files of earlier writers of the same name that are gone (killed,
 * crashed): a writer holds an exclusive flock on its file for as long as it lives, so a
 * file that can be locked has no writer left. Best effort: what cannot be checked stays. */
static void remove_stale(const char *dir, const char *base, const char *own)
{
    char prefix[300], path[4400];
    size_t plen;
    DIR *d;
    struct dirent *e;

    if (snprintf(prefix, sizeof(prefix), ".%s.part-", base) >= (int)sizeof(prefix)
        || (d = opendir(dir)) == NULL) {
        return;
    }
    plen = strlen(prefix);
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int fd;
        if (strncmp(e->d_name, prefix, plen) != 0 || strlen(e->d_name) != plen + 6
            || snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)
            || strcmp(path, own) == 0) {
            continue;
        }
        if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
            continue;
        }
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()
            && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            unlink(path);
        }
        close(fd);
    }
    closedir(d);
}

kw_err kw_outfile_new(kw_outfile **out, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    size_t dlen = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    kw_outfile *f = NULL;
    kw_err rc = KW_ERR_NOMEM;

    *out = NULL;
    if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        return KW_ERR_INVAL;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL) {
        return KW_ERR_NOMEM;
    }
    f->fd = -1;
    if ((f->path = strdup(path)) == NULL || (f->dir = malloc(dlen + 1)) == NULL
        || (f->tmp = malloc(dlen + strlen(base) + 16)) == NULL) {
        goto out;
    }
    memcpy(f->dir, slash != NULL ? path : ".", dlen);
    f->dir[dlen] = '\0';
    /* Created, then locked: another writer's remove_stale may take the file in between
     * (it was not locked yet), so it must still be there, under its name, once locked. */
    for (int attempt = 0;; attempt++) {
        struct stat held, named;
        snprintf(f->tmp, dlen + strlen(base) + 16, "%s/.%s.part-XXXXXX", f->dir, base);
        if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
            rc = errno == EACCES || errno == EROFS    ? KW_ERR_PERM
                : errno == ENOENT || errno == ENOTDIR ? KW_ERR_NOTFOUND
                                                      : kw_outfile_errno();
            f->tmp[0] = '\0';
            goto out;
        }
        /* Ours, for as long as this process lives or until commit (see remove_stale). */
        if (flock(f->fd, LOCK_EX | LOCK_NB) == 0 && fstat(f->fd, &held) == 0
            && stat(f->tmp, &named) == 0 && held.st_ino == named.st_ino
            && held.st_dev == named.st_dev) {
            break;
        }
        close(f->fd);
        f->fd = -1;
        if (attempt == 4) {
            f->tmp[0] = '\0';
            rc = KW_ERR_IO;
            goto out;
        }
    }
    remove_stale(f->dir, base, f->tmp);
    *out = f;
    f = NULL;
    rc = KW_ERR_OK;
out:
    kw_outfile_free(f);
    return rc;
}

int kw_outfile_fd(const kw_outfile *f)
{
    return f->fd;
}

kw_err kw_outfile_commit(kw_outfile *f)
{
    int dfd, r;

    if (f->committed || f->fd < 0) {
        return KW_ERR_INVAL;
    }
    if (fsync(f->fd) != 0) {
        return kw_outfile_errno();
    }
    /* Renamed while still locked: once unlocked, the file no longer bears a .part name
     * that another writer's remove_stale would look at. */
    if (rename(f->tmp, f->path) != 0) {
        return kw_outfile_errno();
    }
    f->committed = true;
    r = close(f->fd);
    f->fd = -1;
    if (r != 0) {
        return kw_outfile_errno();
    }
    /* The new name is durable only once the directory is. */
    if ((dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return KW_ERR_OK;
}

void kw_outfile_free(kw_outfile *f)
{
    if (f == NULL) {
        return;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    if (!f->committed && f->tmp != NULL && f->tmp[0] != '\0') {
        unlink(f->tmp);
    }
    free(f->path);
    free(f->dir);
    free(f->tmp);
    free(f);
}
