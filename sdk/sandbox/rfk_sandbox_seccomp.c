/*  rfk_sandbox_seccomp: the seccomp filter bwrap loads before it execs
    template code, built with libseccomp and exported as BPF; and the
    stricter one a process confines itself with (rfk_sandbox_confine).

    (In a build with AddressSanitizer ptrace stays allowed: LeakSanitizer
    needs it at exit; the kernel's checks then decide.)
    Everything is allowed but what lets a process reach beyond its sandbox
    or attack the kernel's rarer parts; those fail with EPERM: ptrace and
    process_vm_*, mount and friends, bpf, the key ring, kexec,
    perf_event_open, userfaultfd, io_uring, new namespaces (unshare, setns,
    clone with a CLONE_NEW* flag) and personality changes (the query,
    personality (0xffffffff), and PER_LINUX stay allowed). clone3 answers
    ENOSYS: its flags sit in memory a filter cannot read, and glibc then
    falls back to clone. Calls of another architecture (int 0x80 on x86_64)
    kill the process (libseccomp's default for a foreign architecture).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "rfk_sandbox.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The calls denied outright. */
static const char *const s_denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "unshare",
    "setns",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "quotactl",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
};

/* The clone flags that make a new namespace. */
static const unsigned long s_clone_new[] = {CLONE_NEWNS,    CLONE_NEWUSER, CLONE_NEWPID,
                                            CLONE_NEWNET,   CLONE_NEWIPC,  CLONE_NEWUTS,
                                            CLONE_NEWCGROUP};

/* Adds the rules to ctx; -1 with err when one does not take. */
static int
s_rules (scmp_filter_ctx ctx, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof s_denied / sizeof s_denied[0]; i++) {
#ifdef __SANITIZE_ADDRESS__
        /* LeakSanitizer stops the world with ptrace at exit: a sanitizer
           build (tests, CI) lets the sandboxed process trace what its uid
           may trace, which the kernel's own checks still bound. */
        if (strcmp (s_denied[i], "ptrace") == 0)
            continue;
#endif
        int nr = seccomp_syscall_resolve_name (s_denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        if (seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0) != 0) {
            snprintf (err, errlen, "seccomp: cannot deny %s", s_denied[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof s_clone_new / sizeof s_clone_new[0]; i++) {
        scmp_datum_t flag = s_clone_new[i];
        if (seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                              SCMP_A0 (SCMP_CMP_MASKED_EQ, flag, flag)) != 0) {
            snprintf (err, errlen, "seccomp: cannot filter clone's flags");
            return -1;
        }
    }
    int rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
    /* personality: 0 (PER_LINUX) and 0xffffffff (the query) change nothing;
       anything else is denied. Per bit b below the top one: "b set, top
       clear" catches every other value with the top bit clear, "b clear,
       top set" every other value with it set. */
    for (uint32_t bit = 0; bit < 31 && rc == 0; bit++) {
        scmp_datum_t mask = (1u << bit) | 0x80000000u;
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (personality), 1,
                               SCMP_A0 (SCMP_CMP_MASKED_EQ, mask, 1u << bit));
        if (rc == 0)
            rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (personality), 1,
                                   SCMP_A0 (SCMP_CMP_MASKED_EQ, mask, 0x80000000u));
    }
    if (rc != 0) {
        snprintf (err, errlen, "seccomp: cannot filter clone3 or personality: %s", strerror (-rc));
        return -1;
    }
    return 0;
}

int
rfk_sandbox_seccomp_confine (char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
    if (!ctx) {
        snprintf (err, errlen, "seccomp: cannot make a filter");
        return -1;
    }
    int rc = s_rules (ctx, err, errlen);
    scmp_datum_t self = (scmp_datum_t)getpid ();
    //  No socket; no new process (clone without CLONE_THREAD); signals to itself only.
    const char *const denied[] = {
        "socket", "fork", "vfork", "tkill", "pidfd_open", "pidfd_send_signal", "pidfd_getfd"};
    for (size_t i = 0; rc == 0 && i < sizeof denied / sizeof denied[0]; i++) {
        int nr = seccomp_syscall_resolve_name (denied[i]);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0);
    }
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                               SCMP_A0 (SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    const int to_pid[] = {SCMP_SYS (kill), SCMP_SYS (tgkill), SCMP_SYS (rt_sigqueueinfo),
                          SCMP_SYS (rt_tgsigqueueinfo)};
    for (size_t i = 0; rc == 0 && i < sizeof to_pid / sizeof to_pid[0]; i++)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), to_pid[i], 1,
                               SCMP_A0 (SCMP_CMP_NE, self));
    if (rc == 0 && (rc = seccomp_load (ctx)) != 0)
        snprintf (err, errlen, "seccomp: cannot load the filter: %s", strerror (-rc));
    else if (rc != 0 && !*err)
        snprintf (err, errlen, "seccomp: cannot add the confinement's rules: %s", strerror (-rc));
    seccomp_release (ctx);
    return rc == 0 ? 0 : -1;
}

/* The filter as BPF, built once per process (s_bpf_build under s_bpf_lock). */
static pthread_mutex_t s_bpf_lock = PTHREAD_MUTEX_INITIALIZER;
static char *s_bpf;           /* the exported program, or NULL */
static size_t s_bpf_size;     /* its bytes */
static char s_bpf_error[256]; /* why it could not be built */

/* Build the filter and keep its BPF; -1 with s_bpf_error. */
static int
s_bpf_build (void)
{
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
    if (!ctx) {
        snprintf (s_bpf_error, sizeof s_bpf_error, "seccomp: cannot make a filter");
        return -1;
    }
    int rc = s_rules (ctx, s_bpf_error, sizeof s_bpf_error);
    int fd = rc == 0 ? memfd_create ("rafiki-seccomp-build", MFD_CLOEXEC) : -1;
    struct stat st;
    if (rc == 0 && (fd < 0 || seccomp_export_bpf (ctx, fd) != 0 || fstat (fd, &st) != 0 ||
                    st.st_size <= 0 || !(s_bpf = malloc ((size_t)st.st_size)) ||
                    pread (fd, s_bpf, (size_t)st.st_size, 0) != st.st_size)) {
        snprintf (s_bpf_error, sizeof s_bpf_error, "seccomp: cannot export the filter");
        free (s_bpf);
        s_bpf = NULL;
        rc = -1;
    }
    if (rc == 0)
        s_bpf_size = (size_t)st.st_size;
    if (fd >= 0)
        close (fd);
    seccomp_release (ctx);
    return rc;
}

int
rfk_sandbox_seccomp_fd (char *err, size_t errlen)
{
    pthread_mutex_lock (&s_bpf_lock);
    if (!s_bpf && !*s_bpf_error)
        s_bpf_build ();
    pthread_mutex_unlock (&s_bpf_lock);
    if (!s_bpf) {
        snprintf (err, errlen, "%s", s_bpf_error);
        return -1;
    }
    int fd = memfd_create ("rafiki-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf (err, errlen, "seccomp: memfd_create: %s", strerror (errno));
        return -1;
    }
    if (write (fd, s_bpf, s_bpf_size) != (ssize_t)s_bpf_size || lseek (fd, 0, SEEK_SET) != 0) {
        snprintf (err, errlen, "seccomp: cannot write the filter: %s", strerror (errno));
        close (fd);
        return -1;
    }
    return fd;
}
