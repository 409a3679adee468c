/*  rfk_sandbox_confine: a process confines itself, for good, before it
    loads template code where no bubblewrap sandbox can be made: inside a
    container (the swarm launcher's admin and trainers: Docker's seccomp
    profile forbids the namespaces bwrap needs, and services run without
    capabilities). The upload check and trials use it.

    Two kernel mechanisms that need no privilege, both kept across exec:
    - Landlock (Linux 5.13+): the file system shrinks to reading (and
      executing) beneath the system folders (/usr, /lib*, /bin, /sbin,
      /etc, /opt, /sys), the process's own /proc entry, a few /proc files
      and /dev/{urandom,random,zero}, reading the caller's read paths, writing (making and removing
      files and folders) beneath its write paths, and writing /dev/null. Nothing else
      can be opened: not the data dir, /run/secrets, /tmp or the Docker
      socket's folder. Where Landlock knows more rights (REFER,
      TRUNCATE, IOCTL_DEV), they are denied too.
    - seccomp (rfk_sandbox_seccomp_confine): the sandbox filter's denials,
      plus no socket at all (no network, and no unix socket: connecting to
      a socket file is not a Landlock right), no new process (fork, vfork, clone
      without CLONE_THREAD: threads stay possible), and signals to itself
      only.
    no_new_privs is set first (both need it without privilege).
*/
#define _GNU_SOURCE
#include "rfk_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The rights of ABI 1 (execute .. make_sym), then those later ABIs add. */
#define S_FS_ABI1 ((1ULL << 13) - 1)
#define S_FS_REFER (1ULL << 13)     /* ABI 2 */
#define S_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define S_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define S_READ                                                                                     \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* The system folders read (those that exist), and the /proc and /dev files. */
static const char *const s_system[] = {"/usr", "/lib",  "/lib32", "/lib64", "/libx32",
                                       "/bin", "/sbin", "/etc",   "/opt",   "/sys"};
static const char *const s_proc_files[] = {"/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
                                           "/dev/urandom",  "/dev/random",   "/dev/zero"};

/* Allow rights beneath path (a folder) or on it (a file: only the rights a
   file can have). A path that does not exist is skipped: 0. */
static int
s_allow (int ruleset, const char *path, __u64 rights, char *err, size_t errlen)
{
    int fd = open (path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : (snprintf (err, errlen, "landlock: cannot open %s: %s", path,
                                            strerror (errno)),
                                  -1);
    struct stat st;
    if (fstat (fd, &st) == 0 && !S_ISDIR (st.st_mode))
        rights &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
                  LANDLOCK_ACCESS_FS_WRITE_FILE | S_FS_TRUNCATE;
    struct landlock_path_beneath_attr beneath = {.allowed_access = rights, .parent_fd = fd};
    long rc = syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
    int saved = errno;
    close (fd);
    if (rc != 0) {
        snprintf (err, errlen, "landlock: cannot allow %s: %s", path, strerror (saved));
        return -1;
    }
    return 0;
}

/* The Landlock part; -1 with err (no Landlock: says what the kernel lacks). */
static int
s_landlock (const char *const *read_paths, size_t n_read, const char *const *write_paths,
            size_t n_write, char *err, size_t errlen)
{
    long abi = syscall (SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        snprintf (err, errlen,
                  "this kernel has no Landlock (%s): it needs Linux 5.13 or later with "
                  "landlock in its LSM list (lsm=...,landlock)",
                  strerror (errno));
        return -1;
    }
    __u64 handled = S_FS_ABI1 | (abi >= 2 ? S_FS_REFER : 0) | (abi >= 3 ? S_FS_TRUNCATE : 0) |
                    (abi >= 5 ? S_FS_IOCTL_DEV : 0);
    struct landlock_ruleset_attr attr = {.handled_access_fs = handled};
    int ruleset = (int)syscall (SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        snprintf (err, errlen, "landlock: cannot make a ruleset: %s", strerror (errno));
        return -1;
    }
    char own[64];
    snprintf (own, sizeof own, "/proc/%d", (int)getpid ());
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof s_system / sizeof s_system[0]; i++)
        rc = s_allow (ruleset, s_system[i], S_READ, err, errlen);
    for (size_t i = 0; rc == 0 && i < sizeof s_proc_files / sizeof s_proc_files[0]; i++)
        rc = s_allow (ruleset, s_proc_files[i], S_READ, err, errlen);
    if (rc == 0)
        rc = s_allow (ruleset, own, S_READ, err, errlen);
    if (rc == 0)
        rc = s_allow (ruleset, "/dev/null",
                      LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE, err, errlen);
    for (size_t i = 0; rc == 0 && i < n_read; i++)
        rc = s_allow (ruleset, read_paths[i], S_READ, err, errlen);
    __u64 write = S_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
                  LANDLOCK_ACCESS_FS_MAKE_REG | (abi >= 3 ? S_FS_TRUNCATE : 0);
    for (size_t i = 0; rc == 0 && i < n_write; i++)
        rc = s_allow (ruleset, write_paths[i], write, err, errlen);
    if (rc == 0 && syscall (SYS_landlock_restrict_self, ruleset, 0) != 0) {
        snprintf (err, errlen, "landlock: cannot restrict this process: %s", strerror (errno));
        rc = -1;
    }
    close (ruleset);
    return rc;
}

int
rfk_sandbox_confine (const char *const *read_paths, size_t n_read, const char *const *write_paths,
                     size_t n_write, char *err, size_t errlen)
{
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf (err, errlen, "cannot set no_new_privs: %s", strerror (errno));
        return -1;
    }
    if (s_landlock (read_paths, n_read, write_paths, n_write, err, errlen) != 0)
        return -1;
    return rfk_sandbox_seccomp_confine (err, errlen);
}
