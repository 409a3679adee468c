/*  rfk_admin_checks.c: model checks in short-lived processes.

    A model upload is a template .so (DESIGN.md §4). Admin never loads it,
    not even in a fork of itself (issue 13): it execs a separate program,
    `rafikid check-template FILE TASK` (rfk_template_report.h), and only that
    process opens the template and writes one JSON report (ABI version,
    task, name, knob table, policies) into a pipe. The program starts from an empty environment,
    with stdin and stderr on /dev/null, its stdout the pipe and no other
    descriptor (closefrom), in a process group of its own; s_check_spawn
    builds its argv and environment and spawns it, through
    s_check_spawn_sandboxed (bubblewrap, sdk/sandbox) wherever trials are
    sandboxed; elsewhere (under swarm, in admin's container) the program
    confines itself (--confine: Landlock and seccomp, rfk_sandbox_confine)
    unless launcher.sandbox is off. A template that crashes, hangs
    (S_CHECK_TIMEOUT_MS) or exits in its constructors is a clear rejection;
    so is a report that breaks its caps (rfk_template_report_check: admin
    checks what it reads, since the process that wrote it ran the template).

    A check is a child process and two descriptors in admin's loop: the read
    end of the pipe it writes its verdict into (non-blocking), and its pidfd,
    readable once it exited (without pidfds, Linux < 5.3, the loop looks
    every S_CHECK_POLL_MS). Both sit in one epoll set (rfk_admin_checks_fd);
    rfk_admin_checks_tick reads what came, reaps children that ended, kills
    those past their deadline, concludes their uploads
    (rfk_admin_upload_conclude) and hands each reply to whoever finished the
    upload. The whole process group is killed on timeout and after the
    child ended, before it is reaped (so the group's id cannot be reused in
    between): a grandchild the template left does not survive its check.
    At most S_CHECKS_MAX run at once; the others wait their turn (their
    deadline counts from their start).
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_sandbox.h"
#include "rfk_template_report.h"

#define S_CHECK_TIMEOUT_MS 15000
#define S_CHECK_OUTPUT_MAX (256 * 1024)
#define S_CHECKS_MAX 4      /* model checks running at once; more wait their turn */
#define S_CHECK_POLL_MS 100 /* how often a child without a pidfd is looked at */

typedef struct {
    rfk_upload_t *up;               /* the upload, closed, waiting for its verdict */
    rfk_admin_upload_done_fn *done; /* who hears the reply */
    void *arg;                      /* its argument */
    uint64_t ticket;                /* and ticket */
    pid_t pid;                      /* the child, 0 while waiting its turn */
    int out_fd;                     /* read end of the verdict pipe, -1 once closed */
    int pid_fd;                     /* the child's pidfd, -1 without one */
    int64_t deadline;               /* zclock_mono () when the child is killed */
    char *output;                   /* what the child wrote */
    size_t length;                  /* bytes in output */
} s_check_t;

static const char *
s_signal_name (int signo)
{
    const char *name = sigabbrev_np (signo);
    return name ? name : "?";
}

/* Close one of a check's descriptors and take it out of the epoll set. */
static void
s_check_close_fd (rfk_admin_t *self, int *fd_p)
{
    if (*fd_p < 0)
        return;
    if (self->checks_fd >= 0)
        epoll_ctl (self->checks_fd, EPOLL_CTL_DEL, *fd_p, NULL);
    close (*fd_p);
    *fd_p = -1;
}

static void
s_check_destroy (rfk_admin_t *self, s_check_t **check_p)
{
    s_check_t *check = *check_p;
    if (!check)
        return;
    s_check_close_fd (self, &check->out_fd);
    s_check_close_fd (self, &check->pid_fd);
    rfk_admin_upload_destroy (&check->up);
    free (check->output);
    free (check);
    *check_p = NULL;
}

static void
s_check_watch (rfk_admin_t *self, int fd)
{
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    if (self->checks_fd >= 0)
        epoll_ctl (self->checks_fd, EPOLL_CTL_ADD, fd, &event);
}

/* Spawn the check program on the check's template with its stdout on
   out_fd: the one place its argv, environment, descriptors and process
   group are made. 0 with check->pid set, or -1 with the reason. */
static int
s_check_spawn_sandboxed (rfk_admin_t *self, s_check_t *check, char *const argv[], int out_fd,
                         char *err, size_t errlen);

static int
s_check_spawn (rfk_admin_t *self, s_check_t *check, int out_fd, char *err, size_t errlen)
{
    char *file = (char *)rfk_admin_upload_part_path (check->up);
    char *task = (char *)rfk_admin_upload_task (check->up);
    //  Outside bwrap (under swarm) the check confines itself, unless the sandbox is off.
    bool confine = !self->sandboxed && self->confine_checks;
    char *argv[] = {self->check_path,      "check-template",      confine ? "--confine" : file,
                    confine ? file : task, confine ? task : NULL, NULL};
    if (self->sandboxed)
        return s_check_spawn_sandboxed (self, check, argv, out_fd, err, errlen);
    char *envp[] = {NULL};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init (&actions);
    posix_spawnattr_init (&attr);
    posix_spawn_file_actions_addopen (&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_addopen (&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np (&actions, STDERR_FILENO + 1);
    //  Its own process group (killed as a whole), no signal blocked, every
    //  signal at its default (rafikid ignores SIGPIPE and blocks SIGTERM).
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = posix_spawn (&pid, self->check_path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    if (rc != 0) {
        snprintf (err, errlen, "cannot check the model: cannot run %s: %s", self->check_path,
                  strerror (rc));
        return -1;
    }
    check->pid = pid;
    return 0;
}

/* The same in the sandbox (sdk/sandbox) wherever trials run in one: the
   uploaded file and rafikid read-only, no network, no data dir, its own
   process group (bwrap's, and bwrap takes what runs inside with it). */
static int
s_check_spawn_sandboxed (rfk_admin_t *self, s_check_t *check, char *const argv[], int out_fd,
                         char *err, size_t errlen)
{
    const char *ro[] = {rfk_admin_upload_part_path (check->up)};
    uid_t uid = (uid_t)rfk_config_int (self->config, "launcher", "sandbox_uid");
    rfk_sandbox_spec_t spec = {
        .ro_paths = ro,
        .n_ro = 1,
        .chdir = "/",
        .uid = uid,
        .gid = (gid_t)uid,
        .limits = {
            .cpu_s = S_CHECK_TIMEOUT_MS / 1000.0, .nproc = 64, .fsize_mb = 16, .nofile = 256}};
    char why[512] = "";
    rfk_sandbox_cmd_t *cmd =
        rfk_sandbox_cmd_new (&spec, (const char *const *)argv, why, sizeof why);
    char *envp[] = {NULL};
    pid_t pid =
        cmd ? rfk_sandbox_cmd_spawn (cmd, envp, NULL, 0, out_fd, true, why, sizeof why) : -1;
    rfk_sandbox_cmd_destroy (&cmd);
    if (pid < 0) {
        snprintf (err, errlen, "cannot check the model in the sandbox: %s", why);
        return -1;
    }
    check->pid = pid;
    return 0;
}

/* Start the program that checks the template; 0, or -1 with the reason. */
static int
s_check_start (rfk_admin_t *self, s_check_t *check, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) != 0) {
        snprintf (err, errlen, "cannot check the model: %s", strerror (errno));
        return -1;
    }
    int rc = s_check_spawn (self, check, fds[1], err, errlen);
    close (fds[1]);
    if (rc != 0) {
        close (fds[0]);
        return -1;
    }
    fcntl (fds[0], F_SETFL, fcntl (fds[0], F_GETFL) | O_NONBLOCK);
    check->out_fd = fds[0];
    check->pid_fd = pidfd_open (check->pid, 0); //  close-on-exec by itself
    if (check->pid_fd < 0)
        check->pid_fd = -1;
    s_check_watch (self, check->out_fd);
    if (check->pid_fd >= 0)
        s_check_watch (self, check->pid_fd);
    check->deadline = zclock_mono () + S_CHECK_TIMEOUT_MS;
    rfk_log_debug (RFK_ADMIN_LOG, "model-check-started name=%s pid=%d",
                   rfk_admin_upload_name (check->up), (int)check->pid);
    return 0;
}

/* Kill the check's process group and reap its child (status in *status_p,
   NULL: not wanted). The child is still a zombie when the group is killed,
   so the group's id is still its own. */
static void
s_check_kill_group (s_check_t *check, int *status_p)
{
    int status = 0;
    kill (-check->pid, SIGKILL);
    while (waitpid (check->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (status_p)
        *status_p = status;
}

/* Read what the child wrote so far; at the end of the pipe (or past
   S_CHECK_OUTPUT_MAX, which makes the child's write fail) close it. */
static void
s_check_read (rfk_admin_t *self, s_check_t *check)
{
    while (check->out_fd >= 0) {
        if (!check->output)
            check->output = (char *)malloc (S_CHECK_OUTPUT_MAX + 1);
        if (!check->output || check->length == S_CHECK_OUTPUT_MAX) {
            s_check_close_fd (self, &check->out_fd);
            break;
        }
        ssize_t got =
            read (check->out_fd, check->output + check->length, S_CHECK_OUTPUT_MAX - check->length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got <= 0) {
            s_check_close_fd (self, &check->out_fd);
            break;
        }
        check->length += (size_t)got;
    }
}

/* The report the check program wrote, parsed (NULL: none usable). */
static json_t *
s_check_report (s_check_t *check)
{
    if (!check->output || check->length == S_CHECK_OUTPUT_MAX)
        return NULL;
    check->output[check->length] = 0;
    json_t *report = json_loads (check->output, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object (report))
        return report;
    json_decref (report);
    return NULL;
}

/* The verdict of an ended child: 0 with it in *verdict_p, or -1 with the
   reason in err. A refusal the program wrote (exit 1, ok false) is taken
   as it says; an accepting report only with exit 0 and within its caps. */
static int
s_check_verdict (s_check_t *check, int status, bool timed_out, json_t **verdict_p, char *err,
                 size_t errlen)
{
    json_t *report = timed_out || WIFSIGNALED (status) ? NULL : s_check_report (check);
    const char *said = json_string_value (json_object_get (report, "error"));
    bool refused = report && json_is_false (json_object_get (report, "ok")) && said;
    bool exit_ok = !timed_out && WIFEXITED (status) && WEXITSTATUS (status) == 0;
    if (timed_out)
        snprintf (err, errlen, "the template did not finish loading within %d s",
                  S_CHECK_TIMEOUT_MS / 1000);
    else if (WIFSIGNALED (status))
        snprintf (err, errlen, "the template crashed while loading (signal %d, SIG%s)",
                  WTERMSIG (status), s_signal_name (WTERMSIG (status)));
    else if (refused)
        snprintf (err, errlen, "%s", said);
    else if (!exit_ok)
        //  Under a sanitizer a crash is an exit with its exit code.
        snprintf (err, errlen,
                  "the template crashed or ended the process while loading (exit "
                  "code %d)",
                  WEXITSTATUS (status));
    else if (!report)
        snprintf (err, errlen, "the template's check gave no usable answer");
    else if (rfk_template_report_check (report, rfk_admin_upload_task (check->up), err, errlen) ==
             0) {
        *verdict_p = report;
        return 0;
    }
    //  What the template's process said, as text that is safe to show.
    if (errlen > RFK_REPORT_ERROR_MAX)
        err[RFK_REPORT_ERROR_MAX - 1] = 0;
    rfk_template_text_scrub (err);
    json_decref (report);
    return -1;
}

/* Conclude a check's upload (rc, verdict and err as for
   rfk_admin_upload_conclude), forget the check and hand the reply over. */
static void
s_check_conclude (rfk_admin_t *self, s_check_t *check, int rc, json_t *verdict, char *err,
                  size_t errlen)
{
    rfk_upload_t *up = check->up;
    check->up = NULL;
    rfk_msg_t *reply = rfk_admin_upload_conclude (self, up, rc, verdict, err, errlen);
    rfk_admin_upload_done_fn *done = check->done;
    void *arg = check->arg;
    uint64_t ticket = check->ticket;
    void *handle = zlistx_find (self->checks, check);
    if (handle)
        zlistx_delete (self->checks, handle);
    s_check_destroy (self, &check);
    done (arg, ticket, reply);
}

/* The check's child ended (or was killed): conclude its upload. */
static void
s_check_end (rfk_admin_t *self, s_check_t *check, int status, bool timed_out)
{
    s_check_read (self, check);
    char err[1024] = "";
    json_t *verdict = NULL;
    int rc = s_check_verdict (check, status, timed_out, &verdict, err, sizeof err);
    s_check_conclude (self, check, rc, verdict, err, sizeof err);
}

static size_t
s_checks_running (rfk_admin_t *self)
{
    size_t running = 0;
    for (s_check_t *check = (s_check_t *)zlistx_first (self->checks); check;
         check = (s_check_t *)zlistx_next (self->checks))
        if (check->pid > 0)
            running++;
    return running;
}

int
rfk_admin_checks_setup (rfk_admin_t *self)
{
    self->checks = zlistx_new ();
    self->checks_fd = epoll_create1 (EPOLL_CLOEXEC);
    return self->checks && self->checks_fd >= 0 ? 0 : -1;
}

void
rfk_admin_checks_destroy (rfk_admin_t *self)
{
    s_check_t *check;
    while (self->checks && (check = (s_check_t *)zlistx_first (self->checks))) {
        zlistx_delete (self->checks, zlistx_cursor (self->checks));
        if (check->pid > 0)
            s_check_kill_group (check, NULL);
        rfk_log_info (RFK_ADMIN_LOG, "model-check-cancelled name=%s",
                      rfk_admin_upload_name (check->up));
        rfk_admin_upload_done_fn *done = check->done;
        void *arg = check->arg;
        uint64_t ticket = check->ticket;
        s_check_destroy (self, &check);
        done (arg, ticket, NULL);
    }
    zlistx_destroy (&self->checks);
    if (self->checks_fd >= 0)
        close (self->checks_fd);
    self->checks_fd = -1;
}

int
rfk_admin_checks_fd (rfk_admin_t *self)
{
    return self->checks_fd;
}

int64_t
rfk_admin_checks_deadline (rfk_admin_t *self)
{
    int64_t nearest = -1;
    for (s_check_t *check = self->checks ? (s_check_t *)zlistx_first (self->checks) : NULL; check;
         check = (s_check_t *)zlistx_next (self->checks)) {
        if (check->pid <= 0)
            continue;
        int64_t when = check->deadline;
        if (check->pid_fd < 0 && zclock_mono () + S_CHECK_POLL_MS < when)
            when = zclock_mono () + S_CHECK_POLL_MS;
        if (nearest < 0 || when < nearest)
            nearest = when;
    }
    return nearest;
}

/* End one check whose child ended or ran out of time; false when none did. */
static bool
s_checks_reap_one (rfk_admin_t *self)
{
    int64_t now = zclock_mono ();
    for (s_check_t *check = (s_check_t *)zlistx_first (self->checks); check;
         check = (s_check_t *)zlistx_next (self->checks)) {
        if (check->pid <= 0)
            continue;
        s_check_read (self, check);
        //  Ended (still a zombie: WNOWAIT), or past its deadline: kill its
        //  group, then reap it.
        siginfo_t info = {0};
        int got = waitid (P_PID, (id_t)check->pid, &info, WEXITED | WNOHANG | WNOWAIT);
        bool ended = got == 0 && info.si_pid == check->pid;
        bool timed_out = got == 0 && !ended && now >= check->deadline;
        if (ended || timed_out) {
            int status = 0;
            s_check_kill_group (check, &status);
            s_check_end (self, check, status, timed_out);
            return true;
        }
        if (got < 0) {
            //  Not our child any more (someone reaped it); no verdict can
            //  come.
            kill (-check->pid, SIGKILL);
            s_check_end (self, check, 0, false);
            return true;
        }
    }
    return false;
}

/* Start one check waiting its turn (or conclude it when it cannot start);
   false when none waits. */
static bool
s_checks_start_one (rfk_admin_t *self, size_t *running)
{
    for (s_check_t *check = (s_check_t *)zlistx_first (self->checks); check;
         check = (s_check_t *)zlistx_next (self->checks)) {
        if (check->pid > 0)
            continue;
        char err[512] = "";
        if (s_check_start (self, check, err, sizeof err) != 0)
            s_check_conclude (self, check, -1, NULL, err, sizeof err);
        else
            (*running)++;
        return true;
    }
    return false;
}

void
rfk_admin_checks_tick (rfk_admin_t *self)
{
    if (!self->checks || zlistx_size (self->checks) == 0)
        return;
    //  Children that ended, or ran out of time. s_check_end takes the check
    //  off the list (and calls out), so start over after each.
    while (s_checks_reap_one (self))
        ;
    size_t running = s_checks_running (self);
    while (running < S_CHECKS_MAX && s_checks_start_one (self, &running))
        ;
}

int
rfk_admin_checks_add (rfk_admin_t *self, rfk_upload_t **up_p, rfk_admin_upload_done_fn *done,
                      void *arg, uint64_t ticket, char *err, size_t errlen)
{
    s_check_t *check = (s_check_t *)calloc (1, sizeof *check);
    if (!check) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    check->up = *up_p;
    check->done = done;
    check->arg = arg;
    check->ticket = ticket;
    check->out_fd = -1;
    check->pid_fd = -1;
    if (s_checks_running (self) < S_CHECKS_MAX && s_check_start (self, check, err, errlen) != 0) {
        check->up = NULL;
        s_check_destroy (self, &check);
        return -1;
    }
    if (check->pid == 0)
        rfk_log_info (RFK_ADMIN_LOG, "model-check-queued name=%s running=%d",
                      rfk_admin_upload_name (*up_p), S_CHECKS_MAX);
    zlistx_add_end (self->checks, check);
    *up_p = NULL;
    return 0;
}

/* rfk_admin_upload_finish's callback: keep the reply. */
static void
s_finish_sync_done (void *arg, uint64_t ticket, rfk_msg_t *reply)
{
    (void)ticket;
    rfk_msg_t **reply_p = (rfk_msg_t **)arg;
    *reply_p = reply ? reply
                     : rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE,
                                        "admin stopped before the check ended");
}

/* Finish an upload without admin's loop: the checks are driven here until
   its reply came. */
rfk_msg_t *
rfk_admin_upload_finish (rfk_admin_t *self, rfk_upload_t **up_p)
{
    rfk_msg_t *later = NULL;
    rfk_msg_t *reply = rfk_admin_upload_finish_async (self, up_p, s_finish_sync_done, &later, 0);
    while (!reply && !later) {
        int64_t deadline = rfk_admin_checks_deadline (self);
        int64_t timeout = deadline < 0 ? S_CHECK_POLL_MS : deadline - zclock_mono ();
        struct pollfd items[2] = {{self->checks_fd, POLLIN, 0},
                                  {rfk_admin_fetch_fd (self), POLLIN, 0}};
        poll (items, 2, timeout < 0 ? 0 : (int)timeout);
        rfk_admin_checks_tick (self);
        rfk_admin_fetch_tick (self); //  a dataset_url download
    }
    return reply ? reply : later;
}
