/*  rfk_launcher_local.c: the local launcher backend. Services are child processes of admin,
    `rafikid <role> --service-id <id> [--config FILE]`, each in a session of its own (setsid:
    nothing ties its life to admin's, so it outlives an admin that crashed), with the
    secret handed over through a pipe (the contract is in rfk_launcher.h) and stdout/stderr
    appended to <data_dir>/logs/<id>.log.

    Supervision without threads or signals: every child has a pidfd (Linux >= 5.3) in one
    epoll set, whose descriptor is rfk_launcher_fd; it turns readable when a child exits. The
    owner then calls tick, which reaps with waitpid (only our own pids, so children forked by
    other code in the process are left alone), restarts failures after an exponential backoff
    up to max_restarts, and sends SIGKILL to services still alive grace_ms after SIGTERM. If
    pidfds are not available (old kernel, seccomp), tick is asked for every 100 ms instead.

    Adoption: a service a previous admin started is taken over by pid and start time
    (rfk_launcher_adopt). It is not our child, so waitpid cannot reap it nor say how it ended:
    its pidfd (pidfd_open works on any process) turning readable, or else kill (pid, 0) failing
    or the pid's start time changing, is how we learn that it exited.
*/
#define _GNU_SOURCE
#include "rfk_launcher.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

//  How often tick is wanted when a child has no pidfd to wake the owner.
#define S_POLL_FALLBACK_MS 100
//  The descriptor number the child finds its secret on.
#define S_SECRET_FD 3

extern char **environ;

//  Variables passed from admin's environment to its services, when set.
static const char *s_passed_env[] = {
    "PATH",         "HOME",          "LANG",         "LC_ALL", "TZ", "TMPDIR", "LD_LIBRARY_PATH",
    "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};

//  One supervised service.
typedef struct {
    char id[RFK_LAUNCHER_ID_MAX + 1]; //  service id, names the log file
    char *role;                       //  rafikid role
    char *secret;                     //  kept to hand over again on restart; zeroed on free
    char *config_path;                //  --config FILE, or NULL
    char *data_dir;                   //  data directory of this service
    char *log_path;                   //  <data_dir>/logs/<id>.log
    char **env;                       //  the spec's NAME=value entries, NULL-terminated
    rfk_launcher_state_t state;       //  see rfk_launcher.h
    pid_t pid;                        //  the running process, 0 when none
    int64_t start_time;               //  pid's start time (/proc/<pid>/stat field 22), 0: none
    bool adopted;                     //  started by a previous admin: not our child, no secret
    int pidfd;                        //  pidfd of pid in the epoll set, -1 when none
    int restarts;                     //  restarts since the last stable run
    int exit_code;                    //  last exit code, -1 if none
    int signal;                       //  last fatal signal, 0 if none
    bool killed;                      //  we sent SIGKILL after the grace period
    int64_t started_at;               //  when the current process started
    int64_t deadline;                 //  RESTARTING: start again; STOPPING: kill; 0: none
    char reason[256];                 //  why it stopped or failed
    rfk_sandbox_spec_t *box;          //  the sandbox it runs in (copy), or NULL
    char **box_ro;                    //  its read-only paths (copies), NULL-terminated
    char **box_rw;                    //  its read-write paths (copies), NULL-terminated
} s_service_t;

//  The backend's state.
typedef struct {
    rfk_launcher_t *launcher;           //  where events and errors go
    rfk_launcher_local_config_t config; //  settings; the strings are the copies below
    char *rafikid_path;                 //  copy of config.rafikid_path
    char *data_dir;                     //  copy of config.data_dir
    int epoll_fd;                       //  epoll set of every live child's pidfd
    s_service_t **services;             //  every service started and not forgotten
    size_t count;                       //  services in use
    size_t capacity;                    //  services allocated
} s_local_t;

void
rfk_launcher_local_config_defaults (rfk_launcher_local_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof *config);
    config->max_restarts = 3;
    config->backoff_ms = 200;
    config->backoff_max_ms = 10000;
    config->grace_ms = 5000;
    config->stable_ms = 60000;
}

//  A copy of a string, or NULL for NULL.
static char *
s_strdup_or_null (const char *string)
{
    return string ? strdup (string) : NULL;
}

//  A newly allocated printf'd string.
static char *
s_format (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
static char *
s_format (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *string = NULL;
    if (vasprintf (&string, format, args) < 0)
        string = NULL;
    va_end (args);
    return string;
}

static void
s_service_destroy (s_service_t **service_p)
{
    s_service_t *service = *service_p;
    if (!service)
        return;
    if (service->secret) {
        explicit_bzero (service->secret, strlen (service->secret));
        free (service->secret);
    }
    free (service->role);
    free (service->config_path);
    free (service->data_dir);
    free (service->log_path);
    for (size_t i = 0; service->env && service->env[i]; i++)
        free (service->env[i]);
    free (service->env);
    if (service->pidfd >= 0)
        close (service->pidfd);
    for (size_t i = 0; service->box_ro && service->box_ro[i]; i++)
        free (service->box_ro[i]);
    free (service->box_ro);
    for (size_t i = 0; service->box_rw && service->box_rw[i]; i++)
        free (service->box_rw[i]);
    free (service->box_rw);
    free (service->box);
    free (service);
    *service_p = NULL;
}

//  Copy the sandbox a spec asks for, with room for rafikid and --config FILE among its
//  read-only paths; -1 when out of memory.
static int
s_box_copy (s_service_t *service, const rfk_sandbox_spec_t *box)
{
    service->box = malloc (sizeof *box);
    service->box_ro = calloc (box->n_ro + 3, sizeof (char *));
    if (!service->box || !service->box_ro)
        return -1;
    *service->box = *box;
    for (size_t i = 0; i < box->n_ro; i++)
        if (!(service->box_ro[i] = strdup (box->ro_paths[i])))
            return -1;
    service->box_rw = calloc (box->n_rw + 1, sizeof (char *));
    if (!service->box_rw)
        return -1;
    for (size_t i = 0; i < box->n_rw; i++)
        if (!(service->box_rw[i] = strdup (box->rw_paths[i])))
            return -1;
    service->box->rw_paths = (const char *const *)service->box_rw;
    service->box->share_net = true;
    service->box->chdir = "/tmp";
    //  The child closes every descriptor but its few: bind by name, the filter at this one.
    service->box->filter_fd_at = S_SECRET_FD + 2;
    return 0;
}

//  Copy what a spec says into a new service record; NULL when out of memory.
static s_service_t *
s_service_new (s_local_t *self, const rfk_launcher_spec_t *spec)
{
    s_service_t *service = calloc (1, sizeof *service);
    if (!service)
        return NULL;
    snprintf (service->id, sizeof service->id, "%s", spec->id);
    service->pidfd = -1;
    service->exit_code = -1;
    service->role = strdup (spec->role);
    service->secret = strdup (spec->secret);
    service->config_path = s_strdup_or_null (spec->config_path);
    service->data_dir = strdup (spec->data_dir ? spec->data_dir : self->data_dir);
    size_t env_count = 0;
    while (spec->env && spec->env[env_count])
        env_count++;
    service->env = calloc (env_count + 1, sizeof (char *));
    bool ok = service->role && service->secret && service->data_dir && service->env &&
              (!spec->config_path || service->config_path);
    for (size_t i = 0; ok && i < env_count; i++)
        ok = (service->env[i] = strdup (spec->env[i])) != NULL;
    if (ok)
        ok = (service->log_path = s_format ("%s/logs/%s.log", service->data_dir, spec->id)) != NULL;
    if (ok && spec->sandbox)
        ok = s_box_copy (service, spec->sandbox) == 0;
    if (!ok)
        s_service_destroy (&service);
    return service;
}

static s_service_t *
s_find (s_local_t *self, const char *service_id)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp (self->services[i]->id, service_id))
            return self->services[i];
    return NULL;
}

//  Append one line, prefixed "rafiki-launcher:", to a service's log; failures are ignored
//  because the log is a convenience and the events carry the same news.
static void
s_log_line (s_service_t *service, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_log_line (s_service_t *service, const char *format, ...)
{
    char line[512];
    int length = snprintf (line, sizeof line, "rafiki-launcher: ");
    va_list args;
    va_start (args, format);
    vsnprintf (line + length, sizeof line - (size_t)length - 1, format, args);
    va_end (args);
    strcat (line, "\n");
    int fd = open (service->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    ssize_t written = write (fd, line, strlen (line));
    (void)written;
    close (fd);
}

//  Create a directory unless it exists.
static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0750) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

//  Build the child's environment (see rfk_launcher.h); NULL when out of memory.
static char **
s_child_env (s_service_t *service)
{
    size_t count = 0;
    while (service->env[count])
        count++;
    size_t passed = sizeof s_passed_env / sizeof s_passed_env[0];
    char **env = calloc (passed + 4 + count + 1, sizeof (char *));
    if (!env)
        return NULL;
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; s_passed_env[i]; i++) {
        const char *value = getenv (s_passed_env[i]);
        if (value && ok)
            ok = (env[n++] = s_format ("%s=%s", s_passed_env[i], value)) != NULL;
    }
    if (ok)
        ok = (env[n++] = s_format ("RAFIKI_SERVICE_ID=%s", service->id)) != NULL;
    if (ok)
        ok = (env[n++] = s_format ("RAFIKI_SERVICE_ROLE=%s", service->role)) != NULL;
    if (ok)
        ok = (env[n++] = s_format ("RAFIKI_DATA_DIR=%s", service->data_dir)) != NULL;
    if (ok)
        ok = (env[n++] = s_format ("RAFIKI_SECRET_FD=%d", S_SECRET_FD)) != NULL;
    for (size_t i = 0; ok && i < count; i++)
        ok = (env[n++] = strdup (service->env[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free (env[i]);
        free (env);
        return NULL;
    }
    return env;
}

static void
s_free_strings (char **strings)
{
    for (size_t i = 0; strings && strings[i]; i++)
        free (strings[i]);
    free (strings);
}

//  Close every descriptor from `first` up, in the child after fork: close_range if the kernel
//  has it, else one by one up to the limit computed before fork.
static void
s_child_close_from (int first, int limit)
{
    if (close_range ((unsigned)first, ~0U, 0) == 0)
        return;
    for (int fd = first; fd < limit; fd++)
        close (fd);
}

//  What the child does between fork and exec. Only async-signal-safe calls: admin is
//  multithreaded (czmq actors), so the child has a copy of memory other threads may have
//  been changing.
static void
s_child (int devnull, int log_fd, int secret_fd, int error_fd, int fd_limit, pid_t parent,
         const char *path, char *const argv[], char *const envp[], const rfk_sandbox_cmd_t *box)
{
    //  A session (and process group) of its own, and no parent-death signal: a service outlives
    //  an admin that crashed, and the next admin adopts it. It is never left unowned for good:
    //  it stops itself when no admin came back within service.orphan_timeout_s (rfk_session).
    (void)parent;
    if (setsid () < 0)
        _exit (127);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &dfl, NULL); //  fails harmlessly for SIGKILL, SIGSTOP, RT signals
    //  Move every source above the targets first, so no dup2 overwrites another source.
    int high = S_SECRET_FD + 8;
    int sources[4] = {devnull, log_fd, secret_fd, error_fd};
    for (int i = 0; i < 4; i++) {
        sources[i] = fcntl (sources[i], F_DUPFD_CLOEXEC, high);
        if (sources[i] < 0)
            _exit (127);
    }
    int filter = box ? fcntl (rfk_sandbox_cmd_filter_fd (box), F_DUPFD_CLOEXEC, high) : -1;
    if (dup2 (sources[0], 0) < 0 || dup2 (sources[1], 1) < 0 || dup2 (sources[1], 2) < 0 ||
        dup2 (sources[2], S_SECRET_FD) < 0 || dup3 (sources[3], S_SECRET_FD + 1, O_CLOEXEC) < 0)
        _exit (127);
    //  Sandboxed: bwrap reads the seccomp filter at S_SECRET_FD + 2 (s_box_copy).
    if (box && (filter < 0 || dup2 (filter, S_SECRET_FD + 2) < 0 || rfk_sandbox_cmd_limits (box)))
        _exit (127);
    s_child_close_from (box ? S_SECRET_FD + 3 : S_SECRET_FD + 2, fd_limit);
    execve (path, argv, envp);
    int code = errno;
    ssize_t written = write (S_SECRET_FD + 1, &code, sizeof code);
    (void)written;
    _exit (127);
}

//  Make the service's log directory and open its log for appending. Returns the descriptor,
//  or -1 with the launcher's error set.
static int
s_open_log (s_local_t *self, s_service_t *service)
{
    char *logs_dir = s_format ("%s/logs", service->data_dir);
    if (!logs_dir) {
        rfk_launcher_set_error (self->launcher, "service %s: out of memory", service->id);
        return -1;
    }
    if (s_mkdir (service->data_dir) || s_mkdir (logs_dir)) {
        rfk_launcher_set_error (self->launcher, "service %s: cannot create log directory %s: %s",
                                service->id, logs_dir, strerror (errno));
        free (logs_dir);
        return -1;
    }
    free (logs_dir);
    int log_fd = open (service->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0)
        rfk_launcher_set_error (self->launcher, "service %s: cannot open log %s: %s", service->id,
                                service->log_path, strerror (errno));
    return log_fd;
}

//  Make the secret pipe, holding the secret with the write end closed (the child reads it to
//  end of file), and the exec error pipe. 0, or -1 with the launcher's error set (the caller
//  closes what is open).
static int
s_make_pipes (s_local_t *self, s_service_t *service, int secret_pipe[2], int error_pipe[2])
{
    if (pipe2 (secret_pipe, O_CLOEXEC) || pipe2 (error_pipe, O_CLOEXEC)) {
        rfk_launcher_set_error (self->launcher, "service %s: cannot make pipes: %s", service->id,
                                strerror (errno));
        return -1;
    }
    //  The secret is at most RFK_LAUNCHER_SECRET_MAX < PIPE_BUF bytes, so this write is whole
    //  and never blocks; closing our end lets the child read to end of file.
    size_t secret_length = strlen (service->secret);
    if (write (secret_pipe[1], service->secret, secret_length) != (ssize_t)secret_length) {
        rfk_launcher_set_error (self->launcher, "service %s: cannot write the secret pipe: %s",
                                service->id, strerror (errno));
        return -1;
    }
    close (secret_pipe[1]);
    secret_pipe[1] = -1;
    return 0;
}

//  The descriptors a child starts from (the parent's copies, closed after the fork).
typedef struct {
    int devnull;        //  becomes stdin
    int log_fd;         //  becomes stdout and stderr
    int secret_pipe[2]; //  read end becomes S_SECRET_FD
    int error_pipe[2];  //  write end carries errno if exec fails
} s_child_fds_t;

//  Fork and exec rafikid with argv and envp. Returns the child's pid once exec succeeded, or -1
//  with the launcher's error set (a child whose exec failed is reaped).
static pid_t
s_fork_exec (s_local_t *self, s_service_t *service, s_child_fds_t *fds, char *const argv[],
             char *const envp[], const rfk_sandbox_cmd_t *box)
{
    struct rlimit nofile;
    int fd_limit = 1024;
    if (getrlimit (RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
        fd_limit = nofile.rlim_cur > 65536 ? 65536 : (int)nofile.rlim_cur;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        rfk_launcher_set_error (self->launcher, "service %s: fork failed: %s", service->id,
                                strerror (errno));
        return -1;
    }
    if (pid == 0)
        s_child (fds->devnull, fds->log_fd, fds->secret_pipe[0], fds->error_pipe[1], fd_limit,
                 parent, box ? argv[0] : self->rafikid_path, argv, envp, box);
    //  No setpgid here (it would race the child's setsid): the wait below ends after exec, by
    //  when the child leads its own session and group, so a stop right after start reaches it.
    close (fds->error_pipe[1]);
    fds->error_pipe[1] = -1;
    //  The pipe closes on exec (success) or carries errno (failure): a wait of the order
    //  of a fork, like posix_spawn's.
    int code = 0;
    ssize_t got;
    do
        got = read (fds->error_pipe[0], &code, sizeof code);
    while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof code) {
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        rfk_launcher_set_error (self->launcher, "service %s: cannot run %s: %s", service->id,
                                self->rafikid_path, strerror (code));
        return -1;
    }
    return pid;
}

//  Note a started process and watch its exit through a pidfd in the epoll set (or by polling
//  where there is none).
static void
s_watch (s_local_t *self, s_service_t *service, pid_t pid)
{
    service->pid = pid;
    service->start_time = rfk_launcher_pid_start_time (pid);
    if (service->start_time < 0)
        service->start_time = 0;
    service->started_at = rfk_launcher_now ();
    service->killed = false;
    service->pidfd = self->config.use_polling ? -1 : pidfd_open (pid, 0);
    if (service->pidfd >= 0) {
        struct epoll_event event = {.events = EPOLLIN, .data.fd = service->pidfd};
        if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, service->pidfd, &event)) {
            close (service->pidfd);
            service->pidfd = -1;
        }
    }
}

//  The sandbox command around argv: the service's read-only paths plus rafikid and its
//  --config FILE; NULL with the launcher's error set.
static rfk_sandbox_cmd_t *
s_box_cmd (s_local_t *self, s_service_t *service, char *const argv[])
{
    size_t n = service->box->n_ro;
    service->box_ro[n] = NULL;
    if (service->config_path)
        service->box_ro[n++] = service->config_path;
    service->box->ro_paths = (const char *const *)service->box_ro;
    service->box->n_ro = n;
    char err[512] = "";
    rfk_sandbox_cmd_t *box =
        rfk_sandbox_cmd_new (service->box, (const char *const *)argv, err, sizeof err);
    if (service->config_path)
        service->box_ro[--service->box->n_ro] = NULL; //  borrowed: not ours to free
    if (!box)
        rfk_launcher_set_error (self->launcher, "service %s: no sandbox: %s", service->id, err);
    return box;
}

//  Start a service's process. Returns 0 and sets pid and pidfd, or -1 with the launcher's
//  error set.
static int
s_spawn (s_local_t *self, s_service_t *service)
{
    s_child_fds_t fds = {-1, -1, {-1, -1}, {-1, -1}};
    char **envp = NULL;
    rfk_sandbox_cmd_t *box = NULL;
    char *argv[7] = {
        self->rafikid_path, service->role, "--service-id", service->id, NULL, NULL, NULL};
    if (service->config_path) {
        argv[4] = "--config";
        argv[5] = service->config_path;
    }
    int rc = -1;
    fds.log_fd = s_open_log (self, service);
    if (fds.log_fd < 0)
        goto done;
    fds.devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fds.devnull < 0) {
        rfk_launcher_set_error (self->launcher, "service %s: cannot make pipes: %s", service->id,
                                strerror (errno));
        goto done;
    }
    if (s_make_pipes (self, service, fds.secret_pipe, fds.error_pipe))
        goto done;
    envp = s_child_env (service);
    if (!envp) {
        rfk_launcher_set_error (self->launcher, "service %s: out of memory", service->id);
        goto done;
    }
    //  The sandbox wraps rafikid's argv: bwrap ... -- rafikid ROLE --service-id ID ...
    if (service->box && !(box = s_box_cmd (self, service, argv)))
        goto done;
    pid_t pid =
        s_fork_exec (self, service, &fds, box ? rfk_sandbox_cmd_argv (box) : argv, envp, box);
    if (pid < 0)
        goto done;
    s_watch (self, service, pid);
    rc = 0;
done:
    if (fds.log_fd >= 0)
        close (fds.log_fd);
    if (fds.devnull >= 0)
        close (fds.devnull);
    for (int i = 0; i < 2; i++) {
        if (fds.secret_pipe[i] >= 0)
            close (fds.secret_pipe[i]);
        if (fds.error_pipe[i] >= 0)
            close (fds.error_pipe[i]);
    }
    s_free_strings (envp);
    rfk_sandbox_cmd_destroy (&box);
    return rc;
}

//  Change a service's state, note why, and tell the owner.
static void
s_set_state (s_local_t *self, s_service_t *service, rfk_launcher_state_t state, const char *reason)
{
    service->state = state;
    snprintf (service->reason, sizeof service->reason, "%s", reason);
    s_log_line (service, "%s: %s", rfk_launcher_state_name (state), reason);
    rfk_launcher_emit (self->launcher, service->id, state, reason);
}

//  A failed run (or a failed start): restart after a backoff, or give up.
static void
s_failed (s_local_t *self, s_service_t *service, const char *what, int64_t now)
{
    char reason[256];
    int max = self->config.max_restarts;
    if (service->adopted) {
        //  Its secret went with the admin that started it: it cannot be started again as it.
        service->deadline = 0;
        snprintf (reason, sizeof reason, "%s; not restarted (adopted from a previous admin)", what);
        s_set_state (self, service, RFK_LAUNCHER_ERRORED, reason);
        return;
    }
    if (service->restarts < max) {
        service->restarts++;
        int64_t delay = self->config.backoff_ms;
        for (int i = 1; i < service->restarts && delay < self->config.backoff_max_ms; i++)
            delay *= 2;
        if (delay > self->config.backoff_max_ms)
            delay = self->config.backoff_max_ms;
        service->deadline = now + delay;
        snprintf (reason, sizeof reason, "%s; restarting in %lld ms (restart %d of %d)", what,
                  (long long)delay, service->restarts, max);
        s_set_state (self, service, RFK_LAUNCHER_RESTARTING, reason);
    } else {
        service->deadline = 0;
        if (max == 0)
            snprintf (reason, sizeof reason, "%s; not restarted (max_restarts is 0)", what);
        else
            snprintf (reason, sizeof reason, "%s; gave up after %d restart%s", what, max,
                      max == 1 ? "" : "s");
        s_set_state (self, service, RFK_LAUNCHER_ERRORED, reason);
    }
}

//  Start a service's process again after a failure and report it.
static int
s_restart (s_local_t *self, s_service_t *service)
{
    if (s_spawn (self, service))
        return -1;
    char reason[128];
    snprintf (reason, sizeof reason, "started pid %d (restart %d of %d)", (int)service->pid,
              service->restarts, self->config.max_restarts);
    service->deadline = 0;
    s_set_state (self, service, RFK_LAUNCHER_RUNNING, reason);
    return 0;
}

//  A service's process ended with wait status `status`.
static void
s_exited (s_local_t *self, s_service_t *service, int status, int64_t now)
{
    if (service->pidfd >= 0) {
        epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, service->pidfd, NULL);
        close (service->pidfd);
        service->pidfd = -1;
    }
    //  Whatever the service left behind in its process group goes with it.
    kill (-service->pid, SIGKILL);
    service->pid = 0;
    char what[128];
    if (WIFEXITED (status)) {
        service->exit_code = WEXITSTATUS (status);
        service->signal = 0;
        snprintf (what, sizeof what, "exited with code %d", service->exit_code);
    } else {
        service->exit_code = -1;
        service->signal = WIFSIGNALED (status) ? WTERMSIG (status) : 0;
        const char *name = sigabbrev_np (service->signal);
        snprintf (what, sizeof what, "killed by signal %d (SIG%s)", service->signal,
                  name ? name : "?");
    }
    if (service->state == RFK_LAUNCHER_STOPPING) {
        char reason[256];
        if (service->killed)
            snprintf (reason, sizeof reason, "stopped on request: %s after %d ms grace", what,
                      self->config.grace_ms);
        else
            snprintf (reason, sizeof reason, "stopped on request: %s", what);
        service->deadline = 0;
        s_set_state (self, service, RFK_LAUNCHER_STOPPED, reason);
        return;
    }
    if (WIFEXITED (status) && service->exit_code == 0) {
        service->deadline = 0;
        s_set_state (self, service, RFK_LAUNCHER_STOPPED, what);
        return;
    }
    if (now - service->started_at >= self->config.stable_ms)
        service->restarts = 0;
    s_failed (self, service, what, now);
}

//  Make room in the table for a service that will replace old (NULL: a new one). 0, or -1 with
//  the error set.
static int
s_table_room (s_local_t *self, s_service_t *old, const char *service_id)
{
    if (old || self->count < self->capacity)
        return 0;
    size_t capacity = self->capacity ? self->capacity * 2 : 16;
    s_service_t **services = realloc (self->services, capacity * sizeof *services);
    if (!services) {
        rfk_launcher_set_error (self->launcher, "service %s: out of memory", service_id);
        return -1;
    }
    self->services = services;
    self->capacity = capacity;
    return 0;
}

//  Put service in the table, in old's place (old is freed) or at the end.
static void
s_table_put (s_local_t *self, s_service_t *old, s_service_t *service)
{
    if (old) {
        for (size_t i = 0; i < self->count; i++)
            if (self->services[i] == old)
                self->services[i] = service;
        s_service_destroy (&old);
    } else
        self->services[self->count++] = service;
}

static int
s_start (void *impl, const rfk_launcher_spec_t *spec)
{
    s_local_t *self = (s_local_t *)impl;
    if (rfk_launcher_spec_check (self->launcher, spec))
        return -1;
    s_service_t *old = s_find (self, spec->id);
    if (old && rfk_launcher_state_live (old->state)) {
        rfk_launcher_set_error (self->launcher, "service %s is already %s", spec->id,
                                rfk_launcher_state_name (old->state));
        return -1;
    }
    s_service_t *service = s_service_new (self, spec);
    if (!service) {
        rfk_launcher_set_error (self->launcher, "service %s: out of memory", spec->id);
        return -1;
    }
    if (s_table_room (self, old, spec->id)) {
        s_service_destroy (&service);
        return -1;
    }
    //  A first start that cannot run at all is the caller's error, not a supervised failure.
    if (s_spawn (self, service)) {
        s_service_destroy (&service);
        return -1;
    }
    s_table_put (self, old, service);
    char reason[64];
    snprintf (reason, sizeof reason, "started pid %d", (int)service->pid);
    s_set_state (self, service, RFK_LAUNCHER_RUNNING, reason);
    return 0;
}

//  A record for a process a previous admin started; NULL when out of memory.
static s_service_t *
s_adopted_new (s_local_t *self, const char *service_id, const char *role)
{
    s_service_t *service = calloc (1, sizeof *service);
    if (!service)
        return NULL;
    snprintf (service->id, sizeof service->id, "%s", service_id);
    service->pidfd = -1;
    service->exit_code = -1;
    service->adopted = true;
    service->role = strdup (role);
    service->data_dir = strdup (self->data_dir);
    service->env = calloc (1, sizeof (char *));
    service->log_path = s_format ("%s/logs/%s.log", self->data_dir, service_id);
    if (!service->role || !service->data_dir || !service->env || !service->log_path)
        s_service_destroy (&service);
    return service;
}

static int
s_adopt (void *impl, const char *service_id, const char *role, int pid, int64_t start_time)
{
    s_local_t *self = (s_local_t *)impl;
    s_service_t *old = s_find (self, service_id);
    if (old && rfk_launcher_state_live (old->state)) {
        rfk_launcher_set_error (self->launcher, "service %s is already %s", service_id,
                                rfk_launcher_state_name (old->state));
        return -1;
    }
    //  The pid must still name the process that was started: pids are reused.
    int64_t now_start = rfk_launcher_pid_start_time (pid);
    if (now_start < 0) {
        rfk_launcher_set_error (self->launcher, "service %s: process %d is gone", service_id, pid);
        return -1;
    }
    if (now_start != start_time) {
        rfk_launcher_set_error (self->launcher,
                                "service %s: pid %d is another process now (it started at tick "
                                "%lld, the service at %lld)",
                                service_id, pid, (long long)now_start, (long long)start_time);
        return -1;
    }
    s_service_t *service = s_adopted_new (self, service_id, role);
    if (!service || s_table_room (self, old, service_id)) {
        if (!service)
            rfk_launcher_set_error (self->launcher, "service %s: out of memory", service_id);
        s_service_destroy (&service);
        return -1;
    }
    s_table_put (self, old, service);
    s_watch (self, service, pid);
    service->state = RFK_LAUNCHER_RUNNING;
    snprintf (service->reason, sizeof service->reason, "adopted pid %d", pid);
    s_log_line (service, "adopted pid %d from a previous admin", pid);
    return 0;
}

//  Whether an adopted process ended: its pidfd is readable, or, without one, the pid is gone
//  or names another process.
static bool
s_adopted_gone (s_service_t *service)
{
    if (service->pidfd >= 0) {
        struct pollfd item = {.fd = service->pidfd, .events = POLLIN};
        return poll (&item, 1, 0) > 0;
    }
    if (kill (service->pid, 0) < 0 && errno == ESRCH)
        return true;
    return rfk_launcher_pid_start_time (service->pid) != service->start_time;
}

//  An adopted process ended: how, nobody can say (it was not our child).
static void
s_adopted_exited (s_local_t *self, s_service_t *service, int64_t now)
{
    if (service->pidfd >= 0) {
        epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, service->pidfd, NULL);
        close (service->pidfd);
        service->pidfd = -1;
    }
    kill (-service->pid, SIGKILL);
    service->pid = 0;
    const char *what = "exited (adopted, not admin's child: its exit status cannot be known)";
    if (service->state == RFK_LAUNCHER_STOPPING) {
        char reason[256];
        snprintf (reason, sizeof reason, "stopped on request: %s", what);
        service->deadline = 0;
        s_set_state (self, service, RFK_LAUNCHER_STOPPED, reason);
    } else
        s_failed (self, service, what, now);
}

//  Ask one service to stop.
static void
s_stop_service (s_local_t *self, s_service_t *service)
{
    if (service->state == RFK_LAUNCHER_RUNNING) {
        //  A sandboxed service: to the command; bwrap would die of it alone.
        if (service->box)
            rfk_sandbox_signal (service->pid, SIGTERM);
        else
            kill (service->pid, SIGTERM);
        service->deadline = rfk_launcher_now () + self->config.grace_ms;
        s_set_state (self, service, RFK_LAUNCHER_STOPPING, "stop requested: sent SIGTERM");
    } else if (service->state == RFK_LAUNCHER_RESTARTING) {
        service->deadline = 0;
        s_set_state (self, service, RFK_LAUNCHER_STOPPED,
                     "stopped on request while waiting to restart");
    }
}

static int
s_stop (void *impl, const char *service_id)
{
    s_local_t *self = (s_local_t *)impl;
    s_service_t *service = s_find (self, service_id);
    if (!service) {
        rfk_launcher_set_error (self->launcher, "no service %s", service_id);
        return -1;
    }
    s_stop_service (self, service);
    return 0;
}

static int
s_stop_all (void *impl)
{
    s_local_t *self = (s_local_t *)impl;
    //  The callback may start services (growing the table), so index, never cache pointers.
    for (size_t i = 0; i < self->count; i++)
        s_stop_service (self, self->services[i]);
    return 0;
}

static int
s_status (void *impl, const char *service_id, rfk_launcher_status_t *status)
{
    s_local_t *self = (s_local_t *)impl;
    s_service_t *service = s_find (self, service_id);
    if (!service) {
        rfk_launcher_set_error (self->launcher, "no service %s", service_id);
        return -1;
    }
    memset (status, 0, sizeof *status);
    status->state = service->state;
    status->pid = (int)service->pid;
    status->start_time = service->pid > 0 ? service->start_time : 0;
    status->adopted = service->adopted;
    status->restarts = service->restarts;
    status->exit_code = service->exit_code;
    status->signal = service->signal;
    if (service->state != RFK_LAUNCHER_RUNNING)
        snprintf (status->reason, sizeof status->reason, "%s", service->reason);
    return 0;
}

static char *
s_logs (void *impl, const char *service_id, size_t max_lines)
{
    s_local_t *self = (s_local_t *)impl;
    s_service_t *service = s_find (self, service_id);
    char *path;
    if (service)
        path = strdup (service->log_path);
    else {
        //  Logs outlive the launcher's table (admin restarts): find them by id, once the id
        //  is known not to climb out of the logs directory.
        rfk_launcher_spec_t probe = {.id = service_id, .role = "probe", .secret = "x"};
        if (rfk_launcher_spec_check (self->launcher, &probe))
            return NULL;
        path = s_format ("%s/logs/%s.log", self->data_dir, service_id);
    }
    if (!path) {
        rfk_launcher_set_error (self->launcher, "out of memory");
        return NULL;
    }
    char *tail = rfk_launcher_tail_file (path, max_lines);
    if (!tail)
        rfk_launcher_set_error (self->launcher, "service %s has no log at %s", service_id, path);
    free (path);
    return tail;
}

static int
s_forget (void *impl, const char *service_id)
{
    s_local_t *self = (s_local_t *)impl;
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        if (strcmp (service->id, service_id))
            continue;
        if (rfk_launcher_state_live (service->state)) {
            rfk_launcher_set_error (self->launcher, "service %s is still %s", service_id,
                                    rfk_launcher_state_name (service->state));
            return -1;
        }
        s_service_destroy (&service);
        self->services[i] = self->services[--self->count];
        return 0;
    }
    rfk_launcher_set_error (self->launcher, "no service %s", service_id);
    return -1;
}

static int
s_live_count (void *impl)
{
    s_local_t *self = (s_local_t *)impl;
    int live = 0;
    for (size_t i = 0; i < self->count; i++)
        live += rfk_launcher_state_live (self->services[i]->state);
    return live;
}

static int
s_fd (void *impl)
{
    return ((s_local_t *)impl)->epoll_fd;
}

static int64_t
s_next_deadline (void *impl)
{
    s_local_t *self = (s_local_t *)impl;
    int64_t next = -1;
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        int64_t deadline = service->deadline;
        if (service->pid > 0 && service->pidfd < 0) {
            int64_t poll_at = rfk_launcher_now () + S_POLL_FALLBACK_MS;
            if (!deadline || poll_at < deadline)
                deadline = poll_at;
        }
        if (deadline && (next < 0 || deadline < next))
            next = deadline;
    }
    return next;
}

//  Empty the epoll set's ready list; the waitpid calls below are what count.
static void
s_drain_epoll (s_local_t *self)
{
    struct epoll_event events[16];
    while (epoll_wait (self->epoll_fd, events, 16, 0) == 16)
        ;
}

static int
s_tick (void *impl, int64_t now)
{
    s_local_t *self = (s_local_t *)impl;
    s_drain_epoll (self);
    //  The callback may start services (growing the table), so index, never cache pointers.
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        if (service->pid > 0 && service->adopted) {
            if (s_adopted_gone (service)) {
                s_adopted_exited (self, service, now);
                continue;
            }
        } else if (service->pid > 0) {
            int status;
            pid_t pid = waitpid (service->pid, &status, WNOHANG);
            if (pid == service->pid) {
                s_exited (self, service, status, now);
                continue;
            }
            if (pid < 0 && errno == ECHILD) {
                //  Someone else reaped it (SIGCHLD ignored, or a stray waitpid(-1)).
                service->pid = 0;
                if (service->pidfd >= 0) {
                    close (service->pidfd);
                    service->pidfd = -1;
                }
                s_failed (self, service, "vanished (reaped by someone else)", now);
                continue;
            }
        }
        if (!service->deadline || now < service->deadline)
            continue;
        if (service->state == RFK_LAUNCHER_STOPPING && !service->killed) {
            if (service->box) //  the whole sandbox, not bwrap alone
                rfk_sandbox_signal (service->pid, SIGKILL);
            kill (-service->pid, SIGKILL);
            kill (service->pid, SIGKILL);
            service->killed = true;
            service->deadline = 0;
        } else if (service->state == RFK_LAUNCHER_RESTARTING) {
            service->deadline = 0;
            if (s_restart (self, service)) {
                char what[300];
                snprintf (what, sizeof what, "cannot restart: %s",
                          rfk_launcher_error (self->launcher));
                s_failed (self, service, what, now);
            }
        }
    }
    return 0;
}

static void
s_attach (void *impl, rfk_launcher_t *launcher)
{
    ((s_local_t *)impl)->launcher = launcher;
}

static void
s_destroy (void *impl)
{
    s_local_t *self = (s_local_t *)impl;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        s_service_t *service = self->services[i];
        if (service->pid > 0) {
            if (service->box)
                rfk_sandbox_signal (service->pid, SIGKILL);
            kill (-service->pid, SIGKILL);
            kill (service->pid, SIGKILL);
            //  An adopted process is not ours to reap (its parent now is init or a subreaper).
            while (!service->adopted && waitpid (service->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        s_service_destroy (&service);
    }
    free (self->services);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    free (self->rafikid_path);
    free (self->data_dir);
    free (self);
}

static const rfk_launcher_backend_t s_local_backend = {
    .name = "local",
    .attach = s_attach,
    .start = s_start,
    .stop = s_stop,
    .stop_all = s_stop_all,
    .status = s_status,
    .logs = s_logs,
    .forget = s_forget,
    .live = s_live_count,
    .fd = s_fd,
    .next_deadline = s_next_deadline,
    .tick = s_tick,
    .destroy = s_destroy,
    .adopt = s_adopt,
};

rfk_launcher_t *
rfk_launcher_new_local (const rfk_launcher_local_config_t *config, rfk_launcher_event_fn *on_event,
                        void *arg)
{
    assert (config);
    const char *problem = NULL;
    if (!config->rafikid_path || config->rafikid_path[0] != '/')
        problem = "rafikid_path must be an absolute path";
    else if (access (config->rafikid_path, X_OK))
        problem = "rafikid_path is not an executable file";
    else if (!config->data_dir || !*config->data_dir)
        problem = "data_dir is required";
    else if (config->max_restarts < 0 || config->backoff_ms < 0 ||
             config->backoff_max_ms < config->backoff_ms || config->grace_ms < 0 ||
             config->stable_ms < 0)
        problem = "max_restarts, backoff_ms, grace_ms and stable_ms must not be negative and "
                  "backoff_max_ms not below backoff_ms";
    if (problem) {
        fprintf (stderr, "RFK-LAUNCHER: local launcher: %s (rafikid_path '%s')\n", problem,
                 config->rafikid_path ? config->rafikid_path : "");
        return NULL;
    }
    s_local_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->rafikid_path = strdup (config->rafikid_path);
    self->data_dir = strdup (config->data_dir);
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (!self->rafikid_path || !self->data_dir || self->epoll_fd < 0) {
        fprintf (stderr, "RFK-LAUNCHER: local launcher: cannot allocate: %s\n", strerror (errno));
        s_destroy (self);
        return NULL;
    }
    self->config.rafikid_path = self->rafikid_path;
    self->config.data_dir = self->data_dir;
    return rfk_launcher_new (&s_local_backend, self, on_event, arg);
}
