/*  rfk_sandbox: the bwrap command line, the spawn, the probe and the disk
    measure (the seccomp filter is rfk_sandbox_seccomp.c; the contract is in
    rfk_sandbox.h).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, AT_EMPTY_PATH, pipe2 */
#endif
#include "rfk_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#define S_ARGV_MAX 256 /* room for the bwrap argv: the system view, binds, argv */
#define S_FDS_MAX 64   /* bound paths plus the filter */

struct rfk_sandbox_cmd {
    char *argv[S_ARGV_MAX];      /* bwrap's argv, NULL-terminated; the strings are ours */
    size_t argc;                 /* entries used */
    int fds[S_FDS_MAX];          /* descriptors bwrap must inherit (binds, the filter) */
    size_t n_fds;                /* how many */
    rfk_sandbox_limits_t limits; /* applied in the child */
    uid_t uid;                   /* the uid (and gid) to become in the child; 0: stay */
    gid_t gid;
    bool root;     /* we are root and uid != 0: bwrap runs privileged without a user
                      namespace and setpriv becomes uid just before the command */
    bool overflow; /* argv or fds ran out of room */
    int filter;    /* the seccomp filter's descriptor (also in fds) */
    bool by_name;  /* paths bound by name, the filter at a fixed number */
};

/* The folders of the read-only system view; a symbolic link among them
   (merged /usr) is recreated as one. */
static const char *const s_system[] = {"/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin"};

/* Append a copy of s to the argv. */
static void
s_arg (rfk_sandbox_cmd_t *self, const char *s)
{
    if (self->argc + 1 >= S_ARGV_MAX) {
        self->overflow = true;
        return;
    }
    char *copy = strdup (s);
    if (!copy)
        self->overflow = true;
    else
        self->argv[self->argc++] = copy;
}

/* Append a descriptor's number to the argv and keep it for the child. */
static void
s_arg_fd (rfk_sandbox_cmd_t *self, int fd)
{
    char num[16];
    snprintf (num, sizeof num, "%d", fd);
    s_arg (self, num);
    if (self->n_fds >= S_FDS_MAX)
        self->overflow = true;
    else
        self->fds[self->n_fds++] = fd;
}

/* bwrap's path, or NULL. */
static const char *
s_bwrap (void)
{
    const char *env = getenv ("RAFIKI_BWRAP");
    if (env && *env == '/')
        return env;
    static const char *const known[] = {"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (access (known[i], X_OK) == 0)
            return known[i];
    return NULL;
}

/* Give the sandbox uid what it needs of an opened path: a rw folder
   becomes its own; a ro file or folder readable (and searchable) by its
   group when "others" cannot read it. */
static int
s_grant (const rfk_sandbox_cmd_t *self, int fd, bool rw, char *err, size_t errlen, const char *path)
{
    struct stat st;
    if (self->uid == 0 || fstat (fd, &st) != 0)
        return 0;
    int rc = 0;
    char proc[64];
    snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (rw)
        rc = fchownat (fd, "", self->uid, self->gid, AT_EMPTY_PATH);
    else if (!(st.st_mode & S_IROTH) && !(st.st_gid == self->gid && (st.st_mode & S_IRGRP))) {
        mode_t mode = st.st_mode & 07777;
        mode |= S_IRGRP | (S_ISDIR (st.st_mode) || (st.st_mode & S_IXUSR) ? S_IXGRP : 0);
        rc = fchownat (fd, "", (uid_t)-1, self->gid, AT_EMPTY_PATH);
        if (rc == 0)
            rc = chmod (proc, mode);
    }
    if (rc != 0)
        snprintf (err, errlen, "cannot hand %s to the sandbox's uid %d: %s", path, (int)self->uid,
                  strerror (errno));
    return rc;
}

/* Whether the argv already has "--dir path". */
static bool
s_has_dir (const rfk_sandbox_cmd_t *self, const char *path)
{
    for (size_t i = 0; i + 1 < self->argc; i++)
        if (strcmp (self->argv[i], "--dir") == 0 && strcmp (self->argv[i + 1], path) == 0)
            return true;
    return false;
}

/* The folders above path, made searchable (0755) in the sandbox's root:
   privileged bwrap would make them 0700, closed to the sandbox uid. */
static void
s_parents (rfk_sandbox_cmd_t *self, const char *path)
{
    char buf[PATH_MAX];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        bool system = false;
        for (size_t i = 0; i < sizeof s_system / sizeof s_system[0]; i++)
            system = system || strncmp (buf, s_system[i], strlen (s_system[i])) == 0;
        if (!system && strcmp (buf, "/tmp") != 0 && !s_has_dir (self, buf)) {
            s_arg (self, "--perms");
            s_arg (self, "0755");
            s_arg (self, "--dir");
            s_arg (self, buf);
        }
        *p = '/';
    }
}

/* Bind path (read-only unless rw) at the same place, through a descriptor
   opened here. */
static int
s_bind (rfk_sandbox_cmd_t *self, const char *path, bool rw, char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (!path || !realpath (path, real)) {
        snprintf (err, errlen, "cannot bind %s into the sandbox: %s", path ? path : "(null)",
                  path ? strerror (errno) : "no path");
        return -1;
    }
    int fd = open (real, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, errlen, "cannot bind %s into the sandbox: %s", real, strerror (errno));
        return -1;
    }
    s_parents (self, real);
    int rc = s_grant (self, fd, rw, err, errlen, real);
    if (self->by_name) {
        s_arg (self, rw ? "--bind" : "--ro-bind");
        s_arg (self, real);
        close (fd);
    } else {
        s_arg (self, rw ? "--bind-fd" : "--ro-bind-fd");
        s_arg_fd (self, fd);
    }
    s_arg (self, real);
    return rc;
}

/* The namespaces, the system view, /proc, /dev and /tmp. */
static void
s_base (rfk_sandbox_cmd_t *self, const rfk_sandbox_spec_t *spec)
{
    const char *head[] = {"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                          "--new-session"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        s_arg (self, head[i]);
    /* bwrap's --die-with-parent kills the sandbox when bwrap's parent dies:
       right for a trial (its trainer) and a check (admin), wrong for a
       service that must outlive a crashed admin (an inference worker). */
    if (!spec->outlive_parent)
        s_arg (self, "--die-with-parent");
    /* Such a service has nobody to clean up after it, so the command itself
       is pid 1 of the sandbox: when it ends, however it ends (its watchdog,
       a crash), the kernel ends every process left in it. With bwrap's own
       init as pid 1, a template's forked or double-forked processes kept
       that init, and so the sandbox, alive after the worker ended. */
    else
        s_arg (self, "--as-pid-1");
    /* As root, a user namespace would map uid 0 alone and keep the process
       uid 0, which RLIMIT_NPROC ignores: stay in ours, and let setpriv
       (given just these two capabilities) become the sandbox uid. */
    const char *user[] = {"--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"};
    if (!self->root)
        s_arg (self, "--unshare-user");
    else
        for (size_t i = 0; i < sizeof user / sizeof user[0]; i++)
            s_arg (self, user[i]);
    if (!spec->share_net)
        s_arg (self, "--unshare-net");
    for (size_t i = 0; i < sizeof s_system / sizeof s_system[0]; i++) {
        struct stat st;
        char target[PATH_MAX];
        if (lstat (s_system[i], &st) != 0)
            continue;
        if (S_ISLNK (st.st_mode)) {
            ssize_t n = readlink (s_system[i], target, sizeof target - 1);
            if (n <= 0)
                continue;
            target[n] = 0;
            s_arg (self, "--symlink");
            s_arg (self, target);
        } else if (S_ISDIR (st.st_mode)) {
            s_arg (self, "--ro-bind");
            s_arg (self, s_system[i]);
        } else
            continue;
        s_arg (self, s_system[i]);
    }
    char size[32];
    snprintf (size, sizeof size, "%zu", (spec->tmp_mb ? spec->tmp_mb : 64) * 1024 * 1024);
    const char *tail[] = {"--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        s_arg (self, tail[i]);
}

rfk_sandbox_cmd_t *
rfk_sandbox_cmd_new (const rfk_sandbox_spec_t *spec, const char *const *argv, char *err,
                     size_t errlen)
{
    const char *bwrap = s_bwrap ();
    if (!spec || !argv || !argv[0] || argv[0][0] != '/') {
        snprintf (err, errlen, "the sandbox needs a program named by an absolute path");
        return NULL;
    }
    if (!bwrap) {
        snprintf (err, errlen, "bwrap is not installed (apt-get install bubblewrap)");
        return NULL;
    }
    rfk_sandbox_cmd_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->limits = spec->limits;
    self->filter = -1;
    self->by_name = spec->filter_fd_at > 0;
    if (geteuid () == 0 && spec->uid != 0) {
        self->uid = spec->uid;
        self->gid = spec->gid;
        self->root = true;
    }
    s_arg (self, bwrap);
    s_base (self, spec);
    int rc = s_bind (self, argv[0], false, err, errlen);
    for (size_t i = 0; rc == 0 && i < spec->n_ro; i++)
        rc = s_bind (self, spec->ro_paths[i], false, err, errlen);
    for (size_t i = 0; rc == 0 && i < spec->n_rw; i++)
        rc = s_bind (self, spec->rw_paths[i], true, err, errlen);
    if (rc == 0) {
        s_arg (self, "--chdir");
        s_arg (self, spec->chdir ? spec->chdir : spec->n_rw ? spec->rw_paths[0] : "/");
        int filter = rfk_sandbox_seccomp_fd (err, errlen);
        self->filter = filter;
        if (filter < 0)
            rc = -1;
        else if (self->by_name) {
            char at[16];
            snprintf (at, sizeof at, "%d", spec->filter_fd_at);
            s_arg (self, "--seccomp");
            s_arg (self, at);
            self->fds[self->n_fds++] = filter; /* closed with the command */
        } else {
            s_arg (self, "--seccomp");
            s_arg_fd (self, filter);
        }
    }
    s_arg (self, "--");
    if (self->root && !spec->self_drop) {
        char id[64];
        s_arg (self, "/usr/bin/setpriv");
        snprintf (id, sizeof id, "--reuid=%u", (unsigned)self->uid);
        s_arg (self, id);
        snprintf (id, sizeof id, "--regid=%u", (unsigned)self->gid);
        s_arg (self, id);
        s_arg (self, "--clear-groups");
        s_arg (self, "--inh-caps=-all");
        s_arg (self, "--");
    }
    for (size_t i = 0; argv[i]; i++)
        s_arg (self, argv[i]);
    if (rc == 0 && self->overflow) {
        snprintf (err, errlen, "the sandbox's command is too long");
        rc = -1;
    }
    if (rc != 0)
        rfk_sandbox_cmd_destroy (&self);
    return self;
}

char *const *
rfk_sandbox_cmd_argv (const rfk_sandbox_cmd_t *self)
{
    return self ? self->argv : NULL;
}

/* Set one limit, soft and hard. */
static int
s_limit (int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    return setrlimit (resource, &rl);
}

int
rfk_sandbox_cmd_filter_fd (const rfk_sandbox_cmd_t *self)
{
    return self ? self->filter : -1;
}

int
rfk_sandbox_cmd_enter (const rfk_sandbox_cmd_t *self)
{
    for (size_t i = 0; i < self->n_fds; i++)
        if (fcntl (self->fds[i], F_SETFD, 0) != 0)
            return -1;
    return rfk_sandbox_cmd_limits (self);
}

int
rfk_sandbox_cmd_limits (const rfk_sandbox_cmd_t *self)
{
    const rfk_sandbox_limits_t *l = &self->limits;
    int rc = s_limit (RLIMIT_CORE, 0, 0);
    if (rc == 0 && l->memory_mb)
        rc = s_limit (RLIMIT_AS, (rlim_t)l->memory_mb << 20, (rlim_t)l->memory_mb << 20);
    if (rc == 0 && l->cpu_s > 0)
        rc = s_limit (RLIMIT_CPU, (rlim_t)ceil (l->cpu_s), (rlim_t)ceil (l->cpu_s) + 1);
    if (rc == 0 && l->nproc)
        rc = s_limit (RLIMIT_NPROC, l->nproc, l->nproc);
    if (rc == 0 && l->fsize_mb)
        rc = s_limit (RLIMIT_FSIZE, (rlim_t)l->fsize_mb << 20, (rlim_t)l->fsize_mb << 20);
    if (rc == 0 && l->nofile)
        rc = s_limit (RLIMIT_NOFILE, l->nofile, l->nofile);
    return rc;
}

/* The child's side of the spawn: never returns. Reports errno on report
   (close-on-exec) when it cannot exec. */
static void
s_child (const rfk_sandbox_cmd_t *self, char *const *envp, const int *keep, size_t n_keep,
         int out_fd, bool new_pgroup, int report, int devnull)
{
    if (new_pgroup)
        setpgid (0, 0);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal (sig, SIG_DFL);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_keep; i++)
        rc = fcntl (keep[i], F_SETFD, 0);
    if (rc == 0 && devnull >= 0)
        rc = dup2 (devnull, 0) < 0 ? -1 : 0;
    if (rc == 0 && out_fd >= 0)
        rc = dup2 (out_fd, 1) < 0 || dup2 (out_fd, 2) < 0 ? -1 : 0;
    if (rc == 0)
        rc = rfk_sandbox_cmd_enter (self);
    if (rc == 0)
        execve (self->argv[0], self->argv, envp);
    int e = errno;
    ssize_t n = write (report, &e, sizeof e);
    (void)n;
    _exit (127);
}

/* Whether the command has limits to set between fork and exec. */
static bool
s_has_limits (const rfk_sandbox_limits_t *l)
{
    return l->memory_mb || l->cpu_s > 0 || l->nproc || l->fsize_mb || l->nofile;
}

/* The spawn without limits to set: posix_spawn (a vfork, no copy of a large
   caller's page tables). */
static pid_t
s_posix_spawn (const rfk_sandbox_cmd_t *self, char *const *envp, const int *keep, size_t n_keep,
               int out_fd, bool new_pgroup, char *err, size_t errlen)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_init (&attr);
    posix_spawn_file_actions_init (&actions);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setflags (&attr, (short)(flags | (new_pgroup ? POSIX_SPAWN_SETPGROUP : 0)));
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    /* dup2 of a descriptor onto itself clears its close-on-exec flag. */
    for (size_t i = 0; i < n_keep; i++)
        posix_spawn_file_actions_adddup2 (&actions, keep[i], keep[i]);
    for (size_t i = 0; i < self->n_fds; i++)
        posix_spawn_file_actions_adddup2 (&actions, self->fds[i], self->fds[i]);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2 (&actions, out_fd, 1);
        posix_spawn_file_actions_adddup2 (&actions, out_fd, 2);
    }
    pid_t pid = -1;
    int rc = posix_spawn (&pid, self->argv[0], &actions, &attr, self->argv, envp);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    if (rc != 0) {
        snprintf (err, errlen, "cannot start the sandbox (%s): %s", self->argv[0], strerror (rc));
        return -1;
    }
    return pid;
}

pid_t
rfk_sandbox_cmd_spawn (const rfk_sandbox_cmd_t *self, char *const *envp, const int *keep,
                       size_t n_keep, int out_fd, bool new_pgroup, char *err, size_t errlen)
{
    if (!s_has_limits (&self->limits))
        return s_posix_spawn (self, envp, keep, n_keep, out_fd, new_pgroup, err, errlen);
    int report[2];
    if (pipe2 (report, O_CLOEXEC) != 0) {
        snprintf (err, errlen, "cannot start the sandbox: pipe: %s", strerror (errno));
        return -1;
    }
    int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = fork ();
    if (pid == 0)
        s_child (self, envp, keep, n_keep, out_fd, new_pgroup, report[1], devnull);
    int fork_errno = errno;
    close (report[1]);
    if (devnull >= 0)
        close (devnull);
    int child_errno = 0;
    ssize_t n = -1;
    if (pid > 0)
        while ((n = read (report[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
            ;
    close (report[0]);
    if (pid < 0) {
        snprintf (err, errlen, "cannot start the sandbox: fork: %s", strerror (fork_errno));
        return -1;
    }
    if (n == (ssize_t)sizeof child_errno) {
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        snprintf (err, errlen, "cannot start the sandbox (%s): %s", self->argv[0],
                  strerror (child_errno));
        return -1;
    }
    return pid;
}

void
rfk_sandbox_cmd_destroy (rfk_sandbox_cmd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_sandbox_cmd_t *self = *self_p;
    for (size_t i = 0; i < self->argc; i++)
        free (self->argv[i]);
    for (size_t i = 0; i < self->n_fds; i++)
        close (self->fds[i]);
    free (self);
    *self_p = NULL;
}

int
rfk_sandbox_exit_signal (int wait_status)
{
    if (WIFSIGNALED (wait_status))
        return WTERMSIG (wait_status);
    if (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) > 128 &&
        WEXITSTATUS (wait_status) < 128 + NSIG)
        return WEXITSTATUS (wait_status) - 128;
    return 0;
}

/* ---- the probe ---------------------------------------------------------- */

static pthread_mutex_t s_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_probe_state;        /* 0: not yet, 1: works, -1: does not */
static char s_probe_error[1024]; /* why not */

/* Run `true` in a sandbox once; 0, or -1 with err (bwrap's own message). */
static int
s_probe (uid_t uid, gid_t gid, char *err, size_t errlen)
{
    const char *truth = access ("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true";
    const char *argv[] = {truth, NULL};
    rfk_sandbox_spec_t spec = {.uid = uid, .gid = gid, .limits = {.nproc = 64}};
    char said[400] = "";
    rfk_sandbox_cmd_t *cmd = rfk_sandbox_cmd_new (&spec, argv, said, sizeof said);
    int out[2] = {-1, -1};
    pid_t pid = -1;
    if (cmd && pipe2 (out, O_CLOEXEC) != 0)
        snprintf (said, sizeof said, "pipe: %s", strerror (errno));
    else if (cmd) {
        char *envp[] = {NULL};
        pid = rfk_sandbox_cmd_spawn (cmd, envp, NULL, 0, out[1], false, said, sizeof said);
        close (out[1]);
        size_t got = 0;
        ssize_t n;
        while (pid > 0 && got < sizeof said - 1 &&
               ((n = read (out[0], said + got, sizeof said - 1 - got)) > 0 ||
                (n < 0 && errno == EINTR)))
            got += n > 0 ? (size_t)n : 0;
        if (pid > 0)
            said[got] = 0;
        close (out[0]);
    }
    rfk_sandbox_cmd_destroy (&cmd);
    int status = 0;
    while (pid > 0 && waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    said[strcspn (said, "\n")] = 0;
    snprintf (err, errlen,
              "bwrap cannot make a sandbox here (%s); install bubblewrap and allow unprivileged "
              "user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
              "user.max_user_namespaces > 0, kernel.apparmor_restrict_unprivileged_userns=0), "
              "or set launcher.sandbox: off",
              *said ? said : "it failed");
    return -1;
}

bool
rfk_sandbox_available (uid_t uid, gid_t gid, char *err, size_t errlen)
{
    pthread_mutex_lock (&s_probe_lock);
    if (s_probe_state == 0)
        s_probe_state = s_probe (uid, gid, s_probe_error, sizeof s_probe_error) == 0 ? 1 : -1;
    bool ok = s_probe_state == 1;
    if (!ok && err)
        snprintf (err, errlen, "%s", s_probe_error);
    pthread_mutex_unlock (&s_probe_lock);
    return ok;
}

void
rfk_sandbox_available_reset (void)
{
    pthread_mutex_lock (&s_probe_lock);
    s_probe_state = 0;
    s_probe_error[0] = 0;
    pthread_mutex_unlock (&s_probe_lock);
}

/* ---- leaving root -------------------------------------------------------- */

int
rfk_sandbox_drop (uid_t uid, gid_t gid)
{
    if (uid == 0 || gid == 0) {
        errno = EINVAL;
        return -1;
    }
    if (setgroups (0, NULL) != 0 || setresgid (gid, gid, gid) != 0 ||
        setresuid (uid, uid, uid) != 0)
        return -1;
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid (&r, &e, &s) != 0 || getresgid (&rg, &eg, &sg) != 0 || r != uid || e != uid ||
        s != uid || rg != gid || eg != gid || sg != gid || setuid (0) == 0) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

/* ---- signals ----------------------------------------------------------- */

#define S_TREE_MAX 4096 /* processes looked at: a fork bomb stays within its limit */

/* The parent of every process: pids[i]'s parent is ppids[i]. How many. */
static size_t
s_process_table (pid_t *pids, pid_t *ppids, size_t max)
{
    size_t n = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    while (proc && n < max && (entry = readdir (proc))) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        char path[300], line[512];
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t got = fread (line, 1, sizeof line - 1, file);
        fclose (file);
        line[got] = 0;
        const char *after = strrchr (line, ')'); /* the name may hold anything */
        int ppid = 0;
        if (after && sscanf (after, ") %*c %d", &ppid) == 1) {
            pids[n] = (pid_t)atoi (entry->d_name);
            ppids[n++] = (pid_t)ppid;
        }
    }
    if (proc)
        closedir (proc);
    return n;
}

int
rfk_sandbox_signal (pid_t bwrap_pid, int sig)
{
    if (bwrap_pid <= 0)
        return 0;
    static pid_t pids[S_TREE_MAX], ppids[S_TREE_MAX], tree[S_TREE_MAX];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock (&lock);
    size_t n = s_process_table (pids, ppids, S_TREE_MAX), n_tree = 1, signalled = 0;
    tree[0] = bwrap_pid;
    for (size_t at = 0; at < n_tree; at++) /* breadth first: bwrap's descendants */
        for (size_t i = 0; i < n && n_tree < S_TREE_MAX; i++)
            if (ppids[i] == tree[at])
                tree[n_tree++] = pids[i];
    for (size_t i = 1; i < n_tree; i++)
        signalled += kill (tree[i], sig) == 0;
    if (sig == SIGKILL)
        signalled += kill (bwrap_pid, SIGKILL) == 0;
    pthread_mutex_unlock (&lock);
    return (int)signalled;
}

/* ---- memory ------------------------------------------------------------ */

int
rfk_sandbox_memory_cap (size_t mb)
{
    FILE *status = fopen ("/proc/self/status", "r");
    if (!status)
        return -1;
    char line[256];
    unsigned long long kb = 0;
    while (fgets (line, sizeof line, status))
        if (sscanf (line, "VmSize: %llu kB", &kb) == 1)
            break;
    fclose (status);
    if (kb == 0) {
        errno = EINVAL;
        return -1;
    }
    rlim_t cap = (rlim_t)kb * 1024 + ((rlim_t)mb << 20);
    struct rlimit rl = {cap, cap};
    return setrlimit (RLIMIT_AS, &rl);
}

/* ---- disk use ----------------------------------------------------------- */

static __thread int64_t s_du_blocks; /* 512-byte blocks counted by s_du_one */

static int
s_du_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    s_du_blocks += st->st_blocks;
    return 0;
}

int64_t
rfk_sandbox_disk_usage_kb (const char *path)
{
    s_du_blocks = 0;
    if (nftw (path, s_du_one, 16, FTW_PHYS | FTW_MOUNT) != 0)
        return -1;
    return s_du_blocks / 2;
}
