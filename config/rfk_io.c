/*  rfk_io.c: small file descriptor helpers (see rfk_io.h). */
#define _GNU_SOURCE
#include "rfk_io.h"

#include <errno.h>
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
