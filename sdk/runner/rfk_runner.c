/*  rfk_runner: runs one trial of a model template in a child process; this
    file is the parent's side (start, watch, answer, reap). The child's side
    is rfk_runner_child.c, the exec form rfk_runner_exec.c.

    Parent and child share a socket pair (one end each, both close-on-exec).
    The child sends records: a 4-byte big-endian length, then one msgpack
    array whose first element is the record type:

        [LOG, message]                       a log line
        [METRICS, [names], [values]]         one point of metrics
        [PLOT, title, [metrics], x | nil]    a plot definition
        [PROGRESS, step, score]              answered by one byte: 'c' or 'p'
        [RESULT, status, score, error]       the trial's outcome, sent last
        [MEMORY]                             the trial ran out of its memory limit

    The parent reads without blocking, answers progress on the same socket
    (MSG_NOSIGNAL, so a dead child cannot raise SIGPIPE in the caller), and
    learns that the child ended from end-of-file, then reaps it with wait4
    for its exit status and resource usage. The child runs in its own process
    group, which is what the parent signals, so a template's helper processes
    go with it.

    The memory limit is RLIMIT_AS set to the address space the child had at
    fork plus memory_mb: a forked child already maps what its parent mapped
    (thread stacks, sanitizer shadow), so an absolute limit would be either
    useless or fatal. When the template fails or dies after an allocation
    failed (errno ENOMEM, or its peak address space reached the limit) the
    reason is "memory limit N MiB reached".

    With a sandbox (spec->sandbox) the child is bwrap's process: the trial
    runs in its own namespaces, writes only its work folder, and the
    parent measures that folder's disk use every second, moves the
    parameters it wrote to params_path and removes the folder at the end.
    bwrap reports a command killed by signal N as exit status 128 + N.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "rfk_runner_private.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RFK_STOP_GRACE_DEFAULT_S 2.0 /* SIGTERM to SIGKILL when the spec says 0 */
#define RFK_DISK_CHECK_MS 1000       /* how often a sandboxed trial's folder is measured */
#define RFK_SANDBOX_GONE_MS 2000     /* how long a killed sandbox may take to end */

struct rfk_runner_trial {
    pid_t pid;                       /* the child, also its process group; 0 once reaped */
    int fd;                          /* our end of the socket pair; -1 once closed */
    rfk_trial_callbacks_t callbacks; /* the caller's, copied */
    rfk_trial_result_t result;       /* filled when the trial finishes */
    bool finished;                   /* result is final */
    int64_t start_ms;                /* monotonic start time */
    int64_t deadline_ms;             /* wall-clock timeout, 0: none */
    int64_t kill_at_ms;              /* SIGKILL after a stop or prune, 0: none */
    double timeout_s;                /* the spec's limits, for messages */
    double cpu_limit_s;
    size_t memory_mb;
    double grace_s;
    bool stop_requested; /* rfk_runner_trial_stop was called */
    bool timed_out;      /* the wall-clock deadline passed */
    bool prune_sent;     /* we answered a progress report with prune */
    bool memory_hit;     /* the child reported a MEMORY record */
    bool malformed;      /* the child sent something we could not read */
    bool got_result;     /* the child sent its RESULT */
    int child_status;    /* its RESULT: status, score and error */
    double child_score;
    char child_error[sizeof ((rfk_trial_result_t *)0)->error];
    double last_score;        /* the last progress score */
    bool sandboxed;           /* the child is bwrap's process (exit 128 + N: signal N) */
    char *work_dir;           /* sandboxed: the trial's folder, removed at the end */
    char *params_path;        /* sandboxed: where its parameters go from work_dir */
    rfk_sandbox_limits_t box; /* sandboxed: its limits, for reasons and the disk */
    int64_t disk_at_ms;       /* next disk measure, 0: none */
    bool disk_hit;            /* the folder grew past limits.disk_mb */
    uint8_t *buf;             /* bytes received, not yet a whole record */
    size_t len, cap;
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make path and the folders above it (mode 0700). */
static int
s_make_dirs (const char *path)
{
    char buf[PATH_MAX];
    if (snprintf (buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (buf, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir (buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir (path);
    else
        unlink (path);
    return 0;
}

/* Remove a trial's folder and everything in it (links not followed). */
static void
s_remove_tree (const char *path)
{
    struct stat st;
    for (int tries = 0; tries < 5 && lstat (path, &st) == 0; tries++)
        nftw (path, s_remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* A sandboxed trial's folder made, its path made absolute; -1 with err. */
static int
s_sandbox_prepare (rfk_runner_trial_t *self, const rfk_trial_spec_t *spec, char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (!spec->exec || !spec->work_dir || !*spec->work_dir) {
        snprintf (err, errlen, "a sandboxed trial runs in a fresh process and needs a folder");
        return -1;
    }
    if (s_make_dirs (spec->work_dir) != 0 || !realpath (spec->work_dir, real)) {
        snprintf (err, errlen, "cannot make the trial's folder %s: %s", spec->work_dir,
                  strerror (errno));
        return -1;
    }
    self->sandboxed = true;
    self->box = spec->sandbox->limits;
    self->work_dir = strdup (real);
    self->params_path = spec->params_path ? strdup (spec->params_path) : NULL;
    if (!self->work_dir || (spec->params_path && !self->params_path)) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    if (self->box.disk_mb)
        self->disk_at_ms = s_now_ms () + RFK_DISK_CHECK_MS;
    return 0;
}

/* After a sandboxed trial: its parameters (a regular file, no link) moved
   to params_path when it completed, then its folder removed. */
static void
s_sandbox_settle (rfk_runner_trial_t *self)
{
    if (!self->work_dir)
        return;
    rfk_trial_result_t *r = &self->result;
    if (r->status == RFK_TRIAL_COMPLETED && self->params_path) {
        char from[PATH_MAX + 32];
        snprintf (from, sizeof from, "%s/" RFK_RUNNER_PARAMS_FILE, self->work_dir);
        struct stat st;
        errno = 0;
        if (lstat (from, &st) != 0 || !S_ISREG (st.st_mode) || st.st_nlink != 1 ||
            rename (from, self->params_path) != 0) {
            r->status = RFK_TRIAL_ERRORED;
            snprintf (r->error, sizeof r->error, "cannot move the trial's parameters to %s: %s",
                      self->params_path, errno ? strerror (errno) : "not a regular file");
        }
    }
    s_remove_tree (self->work_dir);
    free (self->work_dir);
    self->work_dir = NULL;
    free (self->params_path);
    self->params_path = NULL;
}

rfk_runner_trial_t *
rfk_runner_trial_start (const rfk_trial_spec_t *spec, const rfk_trial_callbacks_t *callbacks,
                        char *err, size_t errlen)
{
    if (!spec || (!spec->api && !(spec->exec && spec->template_path))) {
        snprintf (err, errlen, "the trial names no template");
        return NULL;
    }
    if (spec->exec && (!spec->template_path || spec->body)) {
        snprintf (err, errlen, "a trial in a fresh process needs its template's path and no body");
        return NULL;
    }
    if (spec->knobs_json && (!spec->exec || spec->knobs)) {
        snprintf (err, errlen,
                  "knob values as JSON need a trial in a fresh process and no typed knobs");
        return NULL;
    }
    if (!spec->body && (!spec->train_path || !spec->val_path)) {
        snprintf (err, errlen, "the trial needs a train and a validation dataset");
        return NULL;
    }
    if (spec->timeout_s < 0 || spec->cpu_s < 0 || spec->stop_grace_s < 0 ||
        !isfinite (spec->timeout_s) || !isfinite (spec->cpu_s)) {
        snprintf (err, errlen, "the trial's limits must be zero or positive");
        return NULL;
    }
    rfk_runner_trial_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    if (callbacks)
        self->callbacks = *callbacks;
    self->timeout_s = spec->timeout_s;
    self->cpu_limit_s = spec->cpu_s;
    self->memory_mb = spec->memory_mb;
    self->grace_s = spec->stop_grace_s > 0 ? spec->stop_grace_s : RFK_STOP_GRACE_DEFAULT_S;
    self->result.status = RFK_TRIAL_RUNNING;
    if (spec->sandbox && s_sandbox_prepare (self, spec, err, errlen) != 0) {
        s_sandbox_settle (self);
        free (self);
        return NULL;
    }

    int sv[2];
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf (err, errlen, "cannot create the trial's socket pair: %s", strerror (errno));
        s_sandbox_settle (self);
        free (self);
        return NULL;
    }
    fflush (NULL); /* or the child would print what the parent buffered */
    pid_t parent = getpid ();
    self->start_ms = s_now_ms ();
    pid_t pid;
    rfk_trial_spec_t view = *spec;
    view.work_dir = self->work_dir; /* absolute */
    if (spec->exec)
        pid = rfk_runner_exec_spawn (&view, sv[1], err, errlen);
    else {
        pid = fork ();
        if (pid < 0)
            snprintf (err, errlen, "cannot fork the trial: %s", strerror (errno));
    }
    if (pid < 0) {
        close (sv[0]);
        close (sv[1]);
        s_sandbox_settle (self);
        free (self);
        return NULL;
    }
    if (pid == 0) {
        close (sv[0]);
        rfk_runner_child_main (spec, sv[1], parent); /* never returns */
    }
    close (sv[1]);
    setpgid (pid, pid); /* as the child does: whichever runs first */
    self->pid = pid;
    self->fd = sv[0];
    fcntl (self->fd, F_SETFL, fcntl (self->fd, F_GETFL) | O_NONBLOCK);
    if (spec->timeout_s > 0)
        self->deadline_ms = self->start_ms + (int64_t)ceil (spec->timeout_s * 1000);
    return self;
}

int
rfk_runner_trial_fd (rfk_runner_trial_t *self)
{
    return self && !self->finished ? self->fd : -1;
}

int
rfk_runner_trial_pid (rfk_runner_trial_t *self)
{
    return self ? (int)self->pid : 0;
}

const rfk_trial_result_t *
rfk_runner_trial_result (rfk_runner_trial_t *self)
{
    return self ? &self->result : NULL;
}

int64_t
rfk_runner_trial_timeout_ms (rfk_runner_trial_t *self)
{
    if (!self || self->finished)
        return -1;
    int64_t next = 0;
    if (self->deadline_ms)
        next = self->deadline_ms;
    if (self->kill_at_ms && (!next || self->kill_at_ms < next))
        next = self->kill_at_ms;
    if (self->disk_at_ms && (!next || self->disk_at_ms < next))
        next = self->disk_at_ms;
    if (!next)
        return -1;
    int64_t left = next - s_now_ms ();
    return left > 0 ? left : 0;
}

/* Send a signal to the child's process group (or the child alone when the
   group is not there yet). */
static void
s_signal (rfk_runner_trial_t *self, int sig)
{
    if (self->pid <= 0)
        return;
    if (kill (-self->pid, sig) != 0)
        kill (self->pid, sig);
}

void
rfk_runner_trial_stop (rfk_runner_trial_t *self)
{
    if (!self || self->finished || self->stop_requested)
        return;
    self->stop_requested = true;
    s_signal (self, SIGTERM);
    int64_t kill_at = s_now_ms () + (int64_t)(self->grace_s * 1000);
    if (!self->kill_at_ms || kill_at < self->kill_at_ms)
        self->kill_at_ms = kill_at;
}

/* Copy a msgpack string into a new C string; NULL if it is not one. */
char *
rfk_runner_obj_strdup (const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return NULL;
    char *s = malloc (o->via.str.size + 1);
    if (!s)
        return NULL;
    memcpy (s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = 0;
    return s;
}

bool
rfk_runner_obj_number (const msgpack_object *o, double *out)
{
    switch (o->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            *out = o->via.f64;
            return true;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            *out = (double)o->via.u64;
            return true;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            *out = (double)o->via.i64;
            return true;
        default:
            return false;
    }
}

/* An array of strings, as a NULL-safe array of C strings (freed with
   s_strings_free). */
static char **
s_obj_strings (const msgpack_object *o, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    *n = o->via.array.size;
    char **v = calloc (*n + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        v[i] = rfk_runner_obj_strdup (&o->via.array.ptr[i]);
        if (!v[i]) {
            for (size_t j = 0; j < i; j++)
                free (v[j]);
            free (v);
            return NULL;
        }
    }
    return v;
}

static void
s_strings_free (char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free (v[i]);
    free (v);
}

/* Answer a progress report: prune when the caller says so or the trial is
   being stopped. */
static void
s_answer_progress (rfk_runner_trial_t *self, int64_t step, double score)
{
    self->result.steps++;
    self->last_score = score;
    bool prune = self->stop_requested || self->prune_sent;
    if (!prune && self->callbacks.on_progress)
        prune = self->callbacks.on_progress (self->callbacks.arg, step, score);
    char answer = prune ? 'p' : 'c';
    if (send (self->fd, &answer, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
        return; /* the child is gone or not reading: its end will tell */
    if (prune && !self->prune_sent && !self->stop_requested) {
        self->prune_sent = true;
        self->kill_at_ms = s_now_ms () + (int64_t)(self->grace_s * 1000);
    }
}

/* [LOG, message] */
static int
s_on_log_record (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf)
{
    char *msg = nf == 2 ? rfk_runner_obj_strdup (&f[1]) : NULL;
    if (!msg)
        return -1;
    if (self->callbacks.on_log)
        self->callbacks.on_log (self->callbacks.arg, msg);
    free (msg);
    return 0;
}

/* [METRICS, [names], [values]] */
static int
s_on_metrics_record (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf)
{
    if (nf != 3 || f[2].type != MSGPACK_OBJECT_ARRAY)
        return -1;
    size_t n = 0;
    char **names = s_obj_strings (&f[1], &n);
    if (!names || f[2].via.array.size != n) {
        s_strings_free (names, n);
        return -1;
    }
    double *values = calloc (n + 1, sizeof *values);
    bool ok = values != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = rfk_runner_obj_number (&f[2].via.array.ptr[i], &values[i]);
    if (ok && self->callbacks.on_metrics)
        self->callbacks.on_metrics (self->callbacks.arg, n, (const char *const *)names, values);
    free (values);
    s_strings_free (names, n);
    return ok ? 0 : -1;
}

/* [PLOT, title, [metrics], x | nil] */
static int
s_on_plot_record (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf)
{
    if (nf != 4 || (f[3].type != MSGPACK_OBJECT_NIL && f[3].type != MSGPACK_OBJECT_STR))
        return -1;
    char *title = rfk_runner_obj_strdup (&f[1]);
    size_t n = 0;
    char **metrics = s_obj_strings (&f[2], &n);
    char *x = rfk_runner_obj_strdup (&f[3]);
    bool ok = title && metrics;
    if (ok && self->callbacks.on_plot)
        self->callbacks.on_plot (self->callbacks.arg, title, n, (const char *const *)metrics, x);
    free (title);
    free (x);
    s_strings_free (metrics, n);
    return ok ? 0 : -1;
}

/* [PROGRESS, step, score] */
static int
s_on_progress_record (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf)
{
    double score;
    if (nf != 3 || !rfk_runner_obj_number (&f[2], &score) ||
        (f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
         f[1].type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
        return -1;
    s_answer_progress (self, f[1].via.i64, score);
    return 0;
}

/* [RESULT, status, score, error] */
static int
s_on_result_record (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf)
{
    double score;
    if (nf != 4 || f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        !rfk_runner_obj_number (&f[2], &score) || f[3].type != MSGPACK_OBJECT_STR ||
        f[1].via.u64 < RFK_TRIAL_COMPLETED || f[1].via.u64 > RFK_TRIAL_PRUNED)
        return -1;
    self->got_result = true;
    self->child_status = (int)f[1].via.u64;
    self->child_score = score;
    size_t len = f[3].via.str.size;
    if (len >= sizeof self->child_error)
        len = sizeof self->child_error - 1;
    memcpy (self->child_error, f[3].via.str.ptr, len);
    self->child_error[len] = 0;
    return 0;
}

/* [MEMORY] */
static int
s_on_memory_record (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf)
{
    (void)f;
    (void)nf;
    self->memory_hit = true;
    return 0;
}

/* One handler per record type, indexed by the type. */
typedef int (s_record_fn) (rfk_runner_trial_t *self, const msgpack_object *f, size_t nf);
static s_record_fn *const s_record_handlers[] = {
    [RFK_REC_LOG] = s_on_log_record,       [RFK_REC_METRICS] = s_on_metrics_record,
    [RFK_REC_PLOT] = s_on_plot_record,     [RFK_REC_PROGRESS] = s_on_progress_record,
    [RFK_REC_RESULT] = s_on_result_record, [RFK_REC_MEMORY] = s_on_memory_record,
};

/* Act on one record; -1 when it is malformed. */
static int
s_handle_record (rfk_runner_trial_t *self, const uint8_t *data, size_t size)
{
    msgpack_unpacked rec;
    msgpack_unpacked_init (&rec);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next (&rec, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == size && rec.data.type == MSGPACK_OBJECT_ARRAY && rec.data.via.array.size >= 1 &&
        rec.data.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        const msgpack_object *f = rec.data.via.array.ptr;
        uint64_t type = f[0].via.u64;
        size_t n_types = sizeof s_record_handlers / sizeof s_record_handlers[0];
        if (type < n_types && s_record_handlers[type])
            rc = s_record_handlers[type](self, f, rec.data.via.array.size);
    }
    msgpack_unpacked_destroy (&rec);
    return rc;
}

/* Handle every whole record in the buffer; -1 on a malformed one. */
static int
s_drain_records (rfk_runner_trial_t *self)
{
    size_t pos = 0;
    int rc = 0;
    while (self->len - pos >= 4) {
        const uint8_t *h = self->buf + pos;
        uint32_t size = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (size == 0 || size > RFK_RECORD_MAX) {
            rc = -1;
            break;
        }
        if (self->len - pos - 4 < size)
            break;
        if (s_handle_record (self, h + 4, size) != 0) {
            rc = -1;
            break;
        }
        pos += 4 + size;
    }
    memmove (self->buf, self->buf + pos, self->len - pos);
    self->len -= pos;
    return rc;
}

/* The reason a child that died without a result died. A SIGKILL we did
   not send (timeouts, stops and prunes are settled before this) with the
   CPU time near the limit is the hard RLIMIT_CPU: the kernel enforces it on
   tick-sampled time, which runs ahead of the precise time wait4 reports.
   A sandboxed child's status is bwrap's: 128 + N for signal N, and its
   usage is bwrap's alone (bwrap does not wait for what ran inside), so
   there a SIGKILL we did not send after at least the CPU limit in wall
   time is taken for the hard RLIMIT_CPU. */
static void
s_explain_death (rfk_runner_trial_t *self, int status, double cpu_s)
{
    rfk_trial_result_t *r = &self->result;
    int sig = self->sandboxed        ? rfk_sandbox_exit_signal (status)
              : WIFSIGNALED (status) ? WTERMSIG (status)
                                     : 0;
    if (self->memory_hit)
        snprintf (r->error, sizeof r->error, "memory limit %zu MiB reached", self->memory_mb);
    else if (sig && self->cpu_limit_s > 0 &&
             (sig == SIGXCPU || (sig == SIGKILL && cpu_s >= self->cpu_limit_s / 2) ||
              (sig == SIGKILL && self->sandboxed && self->result.duration_s >= self->cpu_limit_s)))
        snprintf (r->error, sizeof r->error, "CPU limit %g s reached", self->cpu_limit_s);
    else if (sig == SIGXFSZ)
        snprintf (r->error, sizeof r->error, "file size limit %zu MiB reached", self->box.fsize_mb);
    else if (sig)
        snprintf (r->error, sizeof r->error, "killed by signal %d (%s)", sig, strsignal (sig));
    else if (WIFEXITED (status) && WEXITSTATUS (status) != 0)
        snprintf (r->error, sizeof r->error, "exited with status %d before reporting a result",
                  WEXITSTATUS (status));
    else
        snprintf (r->error, sizeof r->error, "exited before reporting a result");
}

/* Give bwrap up to RFK_SANDBOX_GONE_MS to report how its command ended. */
static void
s_sandbox_wait_exit (rfk_runner_trial_t *self)
{
    int64_t until = s_now_ms () + RFK_SANDBOX_GONE_MS;
    while (s_now_ms () < until) {
        siginfo_t info;
        memset (&info, 0, sizeof info);
        if (waitid (P_PID, (id_t)self->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid != 0)
            return; /* ended (still to be reaped) or not ours to wait for */
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep (&pause, NULL);
    }
}

/* A sandboxed trial's processes die with bwrap, but after it: wait (at
   most RFK_SANDBOX_GONE_MS) until none holds its socket any more, so that
   its folder is not written while it is removed. */
static void
s_sandbox_wait_gone (rfk_runner_trial_t *self)
{
    int64_t until = s_now_ms () + RFK_SANDBOX_GONE_MS;
    char sink[4096];
    while (self->fd >= 0) {
        int64_t left = until - s_now_ms ();
        struct pollfd pfd = {.fd = self->fd, .events = POLLIN};
        if (left <= 0 || poll (&pfd, 1, (int)left) == 0)
            break;
        ssize_t n = recv (self->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
    }
}

/* The child ended or must: kill what is left of its group, reap it and
   settle the result. */
static void
s_finish (rfk_runner_trial_t *self)
{
    int status = 0;
    struct rusage ru;
    memset (&ru, 0, sizeof ru);
    if (self->pid > 0) {
        /* A child that closed its end is exiting: SIGKILL cannot change its
           exit status, and it takes any process it left behind. bwrap
           though reports its command's end only after it: let it. */
        if (self->sandboxed && !self->timed_out && !self->disk_hit && !self->stop_requested &&
            !self->prune_sent && !self->malformed)
            s_sandbox_wait_exit (self);
        s_signal (self, SIGKILL);
        while (wait4 (self->pid, &status, 0, &ru) < 0 && errno == EINTR)
            ;
        self->pid = 0;
    }
    if (self->sandboxed)
        s_sandbox_wait_gone (self);
    if (self->fd >= 0) {
        close (self->fd);
        self->fd = -1;
    }
    rfk_trial_result_t *r = &self->result;
    r->duration_s = (double)(s_now_ms () - self->start_ms) / 1000.0;
    r->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
    r->peak_rss_kb = ru.ru_maxrss;
    r->score = 0;
    r->error[0] = 0;
    if (self->stop_requested) {
        r->status = RFK_TRIAL_ERRORED;
        snprintf (r->error, sizeof r->error, "stopped");
    } else if (self->got_result) {
        r->status = (rfk_trial_status_t)self->child_status;
        r->score = self->child_score;
        if (r->status != RFK_TRIAL_COMPLETED)
            snprintf (r->error, sizeof r->error, "%s", self->child_error);
    } else if (self->disk_hit) {
        r->status = RFK_TRIAL_ERRORED;
        snprintf (r->error, sizeof r->error, "disk limit %zu MiB reached", self->box.disk_mb);
    } else if (self->timed_out) {
        r->status = RFK_TRIAL_ERRORED;
        snprintf (r->error, sizeof r->error, "timed out after %g s", self->timeout_s);
    } else if (self->prune_sent) {
        r->status = RFK_TRIAL_PRUNED;
        r->score = self->last_score;
        snprintf (r->error, sizeof r->error, "pruned");
    } else if (self->malformed) {
        r->status = RFK_TRIAL_ERRORED;
        snprintf (r->error, sizeof r->error, "the trial's process sent a malformed record");
    } else {
        r->status = RFK_TRIAL_ERRORED;
        s_explain_death (self, status, r->cpu_s);
    }
    s_sandbox_settle (self);
    free (self->buf);
    self->buf = NULL;
    self->len = self->cap = 0;
    self->finished = true;
}

/* A sandboxed trial's folder measured when due; true when it grew past
   its disk limit. */
static bool
s_disk_over (rfk_runner_trial_t *self, int64_t now)
{
    if (!self->disk_at_ms || now < self->disk_at_ms)
        return false;
    self->disk_at_ms = now + RFK_DISK_CHECK_MS;
    int64_t kb = rfk_sandbox_disk_usage_kb (self->work_dir);
    if (kb < 0 || kb <= (int64_t)self->box.disk_mb * 1024)
        return false;
    self->disk_hit = true;
    return true;
}

int
rfk_runner_trial_step (rfk_runner_trial_t *self)
{
    if (!self)
        return 1;
    if (self->finished)
        return 1;
    bool eof = false;
    for (;;) {
        if (self->cap - self->len < 65536) {
            size_t cap = self->cap ? self->cap * 2 : 131072;
            uint8_t *buf = realloc (self->buf, cap);
            if (!buf) {
                eof = true;
                self->malformed = true;
                break;
            }
            self->buf = buf;
            self->cap = cap;
        }
        ssize_t n = recv (self->fd, self->buf + self->len, self->cap - self->len, MSG_DONTWAIT);
        if (n > 0) {
            self->len += (size_t)n;
            if (s_drain_records (self) != 0) {
                self->malformed = true;
                eof = true;
                break;
            }
            /* Keep the buffer bounded: a record may not exceed the maximum. */
            if (self->cap > 4 * RFK_RECORD_MAX && self->len < RFK_RECORD_MAX) {
                uint8_t *buf = realloc (self->buf, RFK_RECORD_MAX + 65536);
                if (buf) {
                    self->buf = buf;
                    self->cap = RFK_RECORD_MAX + 65536;
                }
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        eof = true; /* 0: the child closed its end; other errors end it too */
        break;
    }
    if (!eof && !self->got_result) {
        int64_t now = s_now_ms ();
        if (self->deadline_ms && now >= self->deadline_ms) {
            self->timed_out = true;
            eof = true;
        } else if (s_disk_over (self, now))
            eof = true;
        else if (self->kill_at_ms && now >= self->kill_at_ms)
            eof = true;
    }
    if (!eof)
        return 0;
    s_finish (self);
    return 1;
}

void
rfk_runner_trial_destroy (rfk_runner_trial_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_runner_trial_t *self = *self_p;
    if (!self->finished)
        s_finish (self);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

int
rfk_runner_trial_run (const rfk_trial_spec_t *spec, const rfk_trial_callbacks_t *callbacks,
                      rfk_trial_result_t *result)
{
    memset (result, 0, sizeof *result);
    rfk_runner_trial_t *trial =
        rfk_runner_trial_start (spec, callbacks, result->error, sizeof result->error);
    if (!trial) {
        result->status = RFK_TRIAL_ERRORED;
        return -1;
    }
    while (rfk_runner_trial_step (trial) == 0) {
        struct pollfd pfd = {.fd = rfk_runner_trial_fd (trial), .events = POLLIN};
        int64_t timeout = rfk_runner_trial_timeout_ms (trial);
        if (timeout > 60000 || timeout < 0)
            timeout = 60000;
        if (poll (&pfd, 1, (int)timeout) < 0 && errno != EINTR) {
            s_finish (trial); /* cannot wait for it: end it */
            break;
        }
    }
    *result = *rfk_runner_trial_result (trial);
    rfk_runner_trial_destroy (&trial);
    return 0;
}
