/*  rfk_io: small file descriptor helpers shared by modules that read files
    whole or in part (admin's file replies, the launcher's log tails).
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

#ifdef __cplusplus
}
#endif

#endif
