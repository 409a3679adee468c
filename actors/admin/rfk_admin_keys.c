/*  rfk_admin_keys.c: admin's own keys under <data_dir>/keys/.

    A key is made once, at the first start that needs it, and read again at
    every later start, so that what it signs (the tokens) outlives a restart.
    The folder is 0700 and each file 0600, written atomically (a temporary
    file, then rename) and opened with O_NOFOLLOW. A file in place that is
    not what admin wrote (a link, the wrong size, not hex, readable by
    others) stops the start with its path: replacing it silently would log
    every user out without a word.

    A key file holds the key in lower-case hex and a newline.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include "rfk_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#define S_KEYS_DIR "keys"
#define S_HEX_MAX (2 * 64 + 1)

/* The keys folder, made 0700 when missing; a descriptor, or -1 with err. */
static int
s_keys_dir (const char *data_dir, char *err, size_t errlen)
{
    char *path = zsys_sprintf ("%s/%s", data_dir, S_KEYS_DIR);
    if (!path) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    if (mkdir (path, 0700) != 0 && errno != EEXIST) {
        snprintf (err, errlen, "cannot create %s: %s", path, strerror (errno));
        zstr_free (&path);
        return -1;
    }
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat (fd, &info) != 0) {
        snprintf (err, errlen, "cannot open the keys folder %s: %s", path,
                  errno == ENOTDIR || errno == ELOOP ? "not a folder (a link?)" : strerror (errno));
        if (fd >= 0)
            close (fd);
        zstr_free (&path);
        return -1;
    }
    if ((info.st_mode & 077) && fchmod (fd, 0700) != 0) {
        snprintf (err, errlen, "cannot make %s private (0700): %s", path, strerror (errno));
        close (fd);
        zstr_free (&path);
        return -1;
    }
    zstr_free (&path);
    return fd;
}

/* Read the key file on fd into key; 0, or -1 with err naming path. */
static int
s_key_read (int fd, const char *path, unsigned char *key, size_t size, char *err, size_t errlen)
{
    struct stat info;
    if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
        snprintf (err, errlen, "the key file %s is not a regular file", path);
        return -1;
    }
    if (info.st_mode & 077) {
        snprintf (err, errlen, "the key file %s has mode %04o; it must be 0600 (chmod 600 %s)",
                  path, (unsigned)(info.st_mode & 07777), path);
        return -1;
    }
    char hex[S_HEX_MAX + 1];
    size_t want = 2 * size + 1;
    if ((size_t)info.st_size != want) {
        snprintf (err, errlen,
                  "the key file %s is %lld bytes, not %zu: it is damaged; restore it, or remove "
                  "it to make a new key (every token issued so far is then refused)",
                  path, (long long)info.st_size, want);
        return -1;
    }
    size_t have = rfk_io_read_at (fd, hex, want, 0);
    size_t decoded = 0;
    const char *end = NULL;
    if (have != want || hex[want - 1] != '\n' ||
        sodium_hex2bin (key, size, hex, want - 1, NULL, &decoded, &end) != 0 || decoded != size ||
        end != hex + want - 1) {
        sodium_memzero (hex, sizeof hex);
        snprintf (err, errlen,
                  "the key file %s is not %zu bytes in hex: it is damaged; restore it, or "
                  "remove it to make a new key (every token issued so far is then refused)",
                  path, size);
        return -1;
    }
    sodium_memzero (hex, sizeof hex);
    return 0;
}

int
rfk_admin_key_load (const char *data_dir, const char *name, unsigned char *key, size_t size,
                    bool *created, char *err, size_t errlen)
{
    assert (size > 0 && 2 * size + 1 <= S_HEX_MAX);
    *created = false;
    int dir_fd = s_keys_dir (data_dir, err, errlen);
    if (dir_fd < 0)
        return -1;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s/%s", data_dir, S_KEYS_DIR, name);
    int rc = -1;
    int fd = openat (dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        rc = s_key_read (fd, path, key, size, err, errlen);
        close (fd);
    } else if (errno == ENOENT) {
        char hex[S_HEX_MAX + 1];
        randombytes_buf (key, size);
        sodium_bin2hex (hex, sizeof hex, key, size);
        hex[2 * size] = '\n';
        rc = rfk_io_write_private (dir_fd, name, hex, 2 * size + 1);
        sodium_memzero (hex, sizeof hex);
        if (rc != 0)
            snprintf (err, errlen, "cannot write the key file %s: %s", path, strerror (errno));
        *created = rc == 0;
    } else
        snprintf (err, errlen, "cannot open the key file %s: %s", path,
                  errno == ELOOP ? "it is a symbolic link" : strerror (errno));
    close (dir_fd);
    if (rc != 0)
        sodium_memzero (key, size);
    return rc;
}
