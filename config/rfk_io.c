/*  rfk_io.c: small file descriptor helpers (see rfk_io.h). */
#define _GNU_SOURCE
#include "rfk_io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

size_t
rfk_io_read_at (int fd, void *buffer, size_t want, off_t from)
{
    char *bytes = (char *)buffer;
    size_t have = 0;
    while (have < want) {
        ssize_t got = pread (fd, bytes + have, want - have, from + (off_t)have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    return have;
}

/* Where openat2 is missing: no "..", and the last part not a link (the
   folders between are ours: admin made them). */
static int
s_open_nofollow (int dir_fd, const char *relative)
{
    for (const char *part = relative; part; part = strchr (part, '/')) {
        part += *part == '/';
        if (strncmp (part, "..", 2) == 0 && (part[2] == '/' || !part[2])) {
            errno = EXDEV;
            return -1;
        }
    }
    return openat (dir_fd, relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
}

int
rfk_io_open_beneath (const char *dir, const char *path)
{
    if (!dir || !path || !*path) {
        errno = EINVAL;
        return -1;
    }
    const char *relative = path;
    if (path[0] == '/') {
        size_t length = strlen (dir);
        while (length > 1 && dir[length - 1] == '/')
            length--;
        if (strncmp (path, dir, length) != 0 || path[length] != '/') {
            errno = EXDEV;
            return -1;
        }
        relative = path + length + 1;
    }
    int dir_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return -1;
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall (SYS_openat2, dir_fd, relative, &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM))
        fd = s_open_nofollow (dir_fd, relative);
    int saved = errno;
    close (dir_fd);
    errno = saved;
    return fd;
}

/* Write all of data to fd, retrying after signals and short writes. */
static int
s_write_all (int fd, const void *data, size_t size)
{
    const char *bytes = (const char *)data;
    while (size > 0) {
        ssize_t wrote = write (fd, bytes, size);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0)
            return -1;
        bytes += wrote;
        size -= (size_t)wrote;
    }
    return 0;
}

int
rfk_io_write_private (int dir_fd, const char *name, const void *data, size_t size)
{
    char temporary[256];
    int n = snprintf (temporary, sizeof temporary, ".%s.tmp%d", name, (int)getpid ());
    if (n < 0 || (size_t)n >= sizeof temporary) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = openat (dir_fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = s_write_all (fd, data, size) == 0 && fsync (fd) == 0 ? 0 : -1;
    int saved = errno;
    if (close (fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && renameat (dir_fd, temporary, dir_fd, name) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        unlinkat (dir_fd, temporary, 0);
    else
        fsync (dir_fd);
    errno = saved;
    return rc;
}
