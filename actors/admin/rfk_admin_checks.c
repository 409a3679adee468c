/*  rfk_admin_checks.c: model checks in short-lived child processes.

    A model upload is a template .so (DESIGN.md §4). It is checked in a
    child process: the child dlopens it with rfk_template_open (ABI version,
    rafiki_model, the declared task, a sound knob table) and writes the
    verdict as JSON into a pipe. A template that crashes, hangs
    (S_CHECK_TIMEOUT_MS) or exits in its constructors is a clear rejection;
    admin's own process never loads user code.

    A check is a child process and two descriptors in admin's loop: the read
    end of the pipe it writes its verdict into (non-blocking), and its pidfd,
    readable once it exited (without pidfds, Linux < 5.3, the loop looks
    every S_CHECK_POLL_MS). Both sit in one epoll set (rfk_admin_checks_fd);
    rfk_admin_checks_tick reads what came, reaps children that ended, kills
    those past their deadline, concludes their uploads
    (rfk_admin_upload_conclude) and hands each reply to whoever finished the
    upload. At most S_CHECKS_MAX run at once; the others wait their turn
    (their deadline counts from their start).
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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rafiki/model.h"
#include "rafiki/template.h"

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

/* The child side of the model check: load, report, exit. Never returns. */
static void
s_check_child (int fd, const char *path, const char *task)
{
    //  A crash kills the child by its signal, so admin can say which one
    //  (and a sanitizer's handler does not report the copy of admin's heap
    //  as leaked).
    const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    for (size_t index = 0; index < sizeof fatal / sizeof fatal[0]; index++)
        signal (fatal[index], SIG_DFL);
    //  Bound what a broken template can do to the machine while it loads.
    struct rlimit cpu = {10, 11};
    setrlimit (RLIMIT_CPU, &cpu);
    char err[512] = "";
    rfk_template_t *tpl = rfk_template_open (path, task, err, sizeof err);
    json_t *verdict = json_object ();
    if (!tpl) {
        json_object_set_new (verdict, "ok", json_false ());
        json_object_set_new (verdict, "error", json_string (err[0] ? err : "cannot load"));
    } else {
        const rafiki_model_api_t *api = rfk_template_api (tpl);
        json_object_set_new (verdict, "ok", json_true ());
        json_object_set_new (verdict, "name", json_string (api->name ? api->name : ""));
        json_object_set_new (verdict, "task", json_string (api->task ? api->task : ""));
        json_t *knobs = rfk_knob_table_to_json (api->knobs, api->n_knobs);
        json_object_set_new (verdict, "knobs", knobs ? knobs : json_null ());
    }
    char *text = json_dumps (verdict, JSON_COMPACT);
    if (text) {
        size_t length = strlen (text), done = 0;
        while (done < length) {
            ssize_t wrote = write (fd, text + done, length - done);
            if (wrote <= 0)
                break;
            done += (size_t)wrote;
        }
    }
    _exit (0);
}

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

/* Fork the child that checks the template; 0, or -1 with the reason. */
static int
s_check_start (rfk_admin_t *self, s_check_t *check, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) != 0) {
        snprintf (err, errlen, "cannot check the model: %s", strerror (errno));
        return -1;
    }
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0) {
        close (fds[0]);
        close (fds[1]);
        snprintf (err, errlen, "cannot check the model: fork: %s", strerror (errno));
        return -1;
    }
    if (pid == 0) {
        close (fds[0]);
        s_check_child (fds[1], rfk_admin_upload_part_path (check->up),
                       rfk_admin_upload_task (check->up));
    }
    close (fds[1]);
    fcntl (fds[0], F_SETFL, fcntl (fds[0], F_GETFL) | O_NONBLOCK);
    check->pid = pid;
    check->out_fd = fds[0];
    check->pid_fd = pidfd_open (pid, 0); //  close-on-exec by itself
    if (check->pid_fd < 0)
        check->pid_fd = -1;
    s_check_watch (self, check->out_fd);
    if (check->pid_fd >= 0)
        s_check_watch (self, check->pid_fd);
    check->deadline = zclock_mono () + S_CHECK_TIMEOUT_MS;
    rfk_log_debug (RFK_ADMIN_LOG, "model-check-started name=%s pid=%d",
                   rfk_admin_upload_name (check->up), (int)pid);
    return 0;
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

/* The verdict of an ended child: 0 with it in *verdict_p, or -1 with the
   reason in err. */
static int
s_check_verdict (s_check_t *check, int status, bool timed_out, json_t **verdict_p, char *err,
                 size_t errlen)
{
    if (timed_out)
        snprintf (err, errlen, "the template did not finish loading within %d s",
                  S_CHECK_TIMEOUT_MS / 1000);
    else if (WIFSIGNALED (status))
        snprintf (err, errlen, "the template crashed while loading (signal %d, SIG%s)",
                  WTERMSIG (status), s_signal_name (WTERMSIG (status)));
    else if (WIFEXITED (status) && WEXITSTATUS (status) != 0)
        //  Under a sanitizer a crash is an exit with its exit code.
        snprintf (err, errlen,
                  "the template crashed or ended the process while loading (exit "
                  "code %d)",
                  WEXITSTATUS (status));
    else if (!check->output || check->length == S_CHECK_OUTPUT_MAX)
        snprintf (err, errlen, "the template's check gave no usable answer");
    else {
        check->output[check->length] = 0;
        json_t *verdict = json_loads (check->output, 0, NULL);
        if (!json_is_object (verdict)) {
            snprintf (err, errlen, "the template's check gave no answer");
            json_decref (verdict);
        } else if (!json_is_true (json_object_get (verdict, "ok"))) {
            snprintf (err, errlen, "%s",
                      json_string_value (json_object_get (verdict, "error"))
                          ? json_string_value (json_object_get (verdict, "error"))
                          : "the template does not load");
            json_decref (verdict);
        } else {
            *verdict_p = verdict;
            return 0;
        }
    }
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
        if (check->pid > 0) {
            kill (check->pid, SIGKILL);
            while (waitpid (check->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
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
        int status = 0;
        pid_t got = waitpid (check->pid, &status, WNOHANG);
        bool timed_out = got == 0 && now >= check->deadline;
        if (timed_out) {
            kill (check->pid, SIGKILL);
            while (waitpid (check->pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        if (got == check->pid || got < 0 || timed_out) {
            //  got < 0: not our child any more (someone reaped it); no
            //  verdict can come.
            if (got < 0)
                status = 0;
            s_check_end (self, check, status, timed_out);
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
