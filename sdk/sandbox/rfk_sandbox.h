/*  rfk_sandbox: runs a program that executes template code inside bubblewrap.

    A sandbox spec names what the process may see (a read-only system view,
    read-only paths, read-write paths, the network or not) and its limits.
    rfk_sandbox_cmd_new turns (spec, argv) into a command: the bwrap argv to
    exec, a seccomp filter in a memory file, and descriptors of the bound
    paths. rfk_sandbox_cmd_spawn forks, applies the limits in the child and
    execs bwrap.

    bwrap unshares the user, mount, pid, ipc and uts namespaces (and the
    network unless share_net), dies with its parent (unless outlive_parent:
    a service admin adopts after a crash), starts a new session
    and loads the seccomp filter (ptrace, mount, bpf, keyctl, kexec,
    perf_event_open, new namespaces, personality changes... fail with EPERM)
    just before it execs argv.

    The kernel does not count processes of uid 0 against RLIMIT_NPROC (and
    a user namespace made by root maps uid 0 alone), so when the caller runs
    as root bwrap runs privileged without a user namespace, and setpriv,
    given CAP_SETUID and CAP_SETGID only, becomes spec->uid (65534 unless
    configured) just before the command; the kernel drops its capabilities
    with the uid. The read-write folders are chowned to that uid and the
    read-only files made readable by its group; the folders above the bound
    paths exist only inside the sandbox (0755), so it needs no access to
    the real ones. All sandboxes of one uid share its process limit.
*/
#ifndef RFK_SANDBOX_H_INCLUDED
#define RFK_SANDBOX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits set with setrlimit in the child before bwrap; 0: leave as is. */
typedef struct {
    size_t memory_mb; /* RLIMIT_AS, absolute (callers with a relative limit set it themselves) */
    double cpu_s;     /* RLIMIT_CPU soft; the hard limit is one second later */
    unsigned nproc;   /* RLIMIT_NPROC: processes and threads of the sandbox's uid */
    size_t fsize_mb;  /* RLIMIT_FSIZE: the largest file it may write */
    unsigned nofile;  /* RLIMIT_NOFILE: open descriptors */
    size_t disk_mb;   /* disk use of the read-write folders: measured by the caller
                         with rfk_sandbox_disk_usage_kb, not by the kernel */
} rfk_sandbox_limits_t;

/* What the sandboxed process sees and may do. Borrowed during
   rfk_sandbox_cmd_new. */
typedef struct {
    const char *const *ro_paths; /* files or folders bound read-only at the same path */
    size_t n_ro;
    const char *const *rw_paths; /* folders bound read-write at the same path */
    size_t n_rw;
    const char *chdir;   /* working folder inside; NULL: the first rw path, else / */
    bool share_net;      /* keep the network namespace (inference workers) */
    bool outlive_parent; /* no --die-with-parent: a service that outlives its launcher
                            (admin) and is adopted after a crash (inference workers);
                            it runs as pid 1 of the sandbox (--as-pid-1), so that every
                            process left in it ends with it */
    bool self_drop;      /* as root: the command becomes uid:gid itself, first thing
                            (rfk_sandbox_drop; the trial runner does), so bwrap execs it
                            directly instead of through setpriv: one exec less per start */
    uid_t uid;           /* as root: run as this uid (0: stay root, no process limit) */
    gid_t gid;           /* as root: and this gid */
    size_t tmp_mb;       /* size of the private /tmp (tmpfs); 0: 64 MiB */
    /* > 0: bind the paths by name and expect the filter at this descriptor,
       for a caller whose child closes every descriptor above its own few
       and then moves the filter there (rfk_sandbox_cmd_filter_fd); 0: bind
       through descriptors and let rfk_sandbox_cmd_enter keep them */
    int filter_fd_at;
    rfk_sandbox_limits_t limits;
} rfk_sandbox_spec_t;

/* A command ready to spawn: the bwrap argv, the seccomp memory file, the
   bound paths' descriptors. One spawn each. */
typedef struct rfk_sandbox_cmd rfk_sandbox_cmd_t;

/* The command that runs argv (argv[0] an absolute path, bound read-only
   automatically) in the sandbox; NULL with err when a path cannot be
   opened, bwrap is missing, or the filter cannot be built. As root with
   spec->uid, chowns the rw folders and grants the ro files to spec->gid. */
rfk_sandbox_cmd_t *
rfk_sandbox_cmd_new (const rfk_sandbox_spec_t *spec, const char *const *argv, char *err,
                     size_t errlen);

/* The argv to exec (bwrap ... -- argv...), NULL-terminated. Borrowed. */
char *const *
rfk_sandbox_cmd_argv (const rfk_sandbox_cmd_t *self);

/* In a child between fork and exec: make the command's descriptors
   inheritable and apply the limits. Only async-signal-safe calls (safe
   after fork of a threaded program). 0, or -1 (errno set). */
int
rfk_sandbox_cmd_enter (const rfk_sandbox_cmd_t *self);

/* The seccomp filter's descriptor (for a spec with filter_fd_at: dup2
   it there in the child). */
int
rfk_sandbox_cmd_filter_fd (const rfk_sandbox_cmd_t *self);

/* In a child between fork and exec: the limits alone (async-signal-safe).
   0, or -1 (errno set). */
int
rfk_sandbox_cmd_limits (const rfk_sandbox_cmd_t *self);

/* Start the command. Without limits to set, by posix_spawn; else fork, and
   in the child: its own process group when new_pgroup, keep[i]
   descriptors dup2'ed onto themselves (inherited), stdin from /dev/null,
   stdout and stderr to out_fd (-1: inherit), rfk_sandbox_cmd_enter, then
   exec bwrap with envp. The child's pid (bwrap's), or -1 with err. */
pid_t
rfk_sandbox_cmd_spawn (const rfk_sandbox_cmd_t *self, char *const *envp, const int *keep,
                       size_t n_keep, int out_fd, bool new_pgroup, char *err, size_t errlen);

/* Free the command and close its descriptors. Safe with NULL and twice. */
void
rfk_sandbox_cmd_destroy (rfk_sandbox_cmd_t **self_p);

/* Whether a sandbox can be made here: really runs bwrap once (as uid when
   root and uid != 0), with the seccomp filter. Cached after the first
   call. false with the reason and the fix in err. */
bool
rfk_sandbox_available (uid_t uid, gid_t gid, char *err, size_t errlen);

/* Forget the cached answer of rfk_sandbox_available, so that the next call
   runs bwrap again (tests; RAFIKI_BWRAP names another bwrap). */
void
rfk_sandbox_available_reset (void);

/* The disk space used under path (its blocks, symbolic links not
   followed, other file systems not entered), in KiB; -1 when path cannot
   be read. */
int64_t
rfk_sandbox_disk_usage_kb (const char *path);

/* The exit status bwrap reports for a command killed by a signal is 128 +
   the signal: the signal, or 0 for a plain exit status. */
int
rfk_sandbox_exit_signal (int wait_status);

/* In a command started with spec.self_drop, before anything else: leave
   root for uid:gid for good (no supplementary groups; the kernel drops
   the capabilities bwrap left it with the uid). 0, or -1 (errno set):
   the caller must then exit, never go on as root. */
int
rfk_sandbox_drop (uid_t uid, gid_t gid);

/* Signal the processes of the sandbox bwrap_pid started (spawned by
   rfk_sandbox_cmd_spawn): its descendants, found through /proc. SIGTERM
   reaches the command (the namespace's init ignores it, and bwrap itself,
   which would die of it and orphan a sandbox without --die-with-parent, is
   spared); SIGKILL ends the namespace's init, hence everything in it, and
   bwrap. For a sandbox that outlives its parent (an inference worker)
   signalling bwrap alone leaves the command running. The number of
   processes signalled. */
int
rfk_sandbox_signal (pid_t bwrap_pid, int sig);

/* In a process about to load template code: RLIMIT_AS set to the address
   space it has now plus mb MiB (relative: a sanitizer build maps terabytes
   of shadow). For what has no trial runner to do it: the upload check, an
   inference worker. 0, or -1 (errno set). */
int
rfk_sandbox_memory_cap (size_t mb);

/* The seccomp filter as BPF in a memory file (close-on-exec, offset 0),
   or -1 with err. (rfk_sandbox_seccomp.c) */
int
rfk_sandbox_seccomp_fd (char *err, size_t errlen);

/* Confine this process for good, before it loads template code where no
   sandbox can be made (inside a container; rfk_sandbox_confine.c): no_new_privs;
   Landlock lets it read only the system folders, its own /proc entry and
   read_paths, and write only beneath write_paths (files or folders) and
   /dev/null; seccomp adds to the sandbox filter's denials no socket, no new
   process (threads stay) and signals to itself only. Paths that do not
   exist are skipped. 0, or -1 with err (a kernel without Landlock says so). */
int
rfk_sandbox_confine (const char *const *read_paths, size_t n_read, const char *const *write_paths,
                     size_t n_write, char *err, size_t errlen);

/* The seccomp part of rfk_sandbox_confine, loaded into this process.
   (rfk_sandbox_seccomp.c) */
int
rfk_sandbox_seccomp_confine (char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
