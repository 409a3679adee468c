/*  rfk_io: small file descriptor helpers shared by modules that read files
    whole or in part (admin's file replies, the launcher's log tails), and
    the two ways admin touches files it must not be tricked about: opening a
    file only inside its folder, never through a symbolic link, and writing
    a private file atomically.
*/
#ifndef RFK_IO_H_INCLUDED
#define RFK_IO_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Read up to want bytes of fd from offset from into buffer (pread: the
   descriptor's position does not move), retrying after signals. Returns the
   bytes read: want, or fewer at the end of the file or on an error (errno
   then says which). */
size_t
rfk_io_read_at (int fd, void *buffer, size_t want, off_t from);

/* Open path read-only, only when it lies inside the folder dir and no part
   of it below dir is a symbolic link (openat2 RESOLVE_BENEATH |
   RESOLVE_NO_SYMLINKS; where the kernel lacks openat2, ".." is refused and
   the last part opened with O_NOFOLLOW). path is absolute under dir or
   relative to it. Returns the descriptor (O_CLOEXEC), or -1 with errno:
   ELOOP for a symbolic link, EXDEV for a path outside dir, ENOENT, ... */
int
rfk_io_open_beneath (const char *dir, const char *path);

/* Write size bytes to dir_fd/name atomically and privately: a temporary
   file created 0600 with O_EXCL | O_NOFOLLOW, written, fsync'd, renamed
   over name, then the folder fsync'd. Returns 0, or -1 with errno. */
int
rfk_io_write_private (int dir_fd, const char *name, const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
