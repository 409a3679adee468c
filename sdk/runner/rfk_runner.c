/*  rfk_runner: runs one trial of a model template in a child process.

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
    reason is "exceeded memory limit of N MiB".
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "rfk_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <rafiki/template.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Record types on the wire. */
enum {
    RFK_REC_LOG = 1,
    RFK_REC_METRICS = 2,
    RFK_REC_PLOT = 3,
    RFK_REC_PROGRESS = 4,
    RFK_REC_RESULT = 5,
    RFK_REC_MEMORY = 6
};

#define RFK_RECORD_MAX (1u << 20)    /* the largest record the parent accepts */
#define RFK_LOG_MAX (16u << 10)      /* the child truncates longer log lines */
#define RFK_METRICS_MAX 256          /* the child drops metrics beyond this many */
#define RFK_STOP_GRACE_DEFAULT_S 2.0 /* SIGTERM to SIGKILL when the spec says 0 */

struct rfk_trial {
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
    bool stop_requested; /* rfk_trial_stop was called */
    bool timed_out;      /* the wall-clock deadline passed */
    bool prune_sent;     /* we answered a progress report with prune */
    bool memory_hit;     /* the child reported a MEMORY record */
    bool malformed;      /* the child sent something we could not read */
    bool got_result;     /* the child sent its RESULT */
    int child_status;    /* its RESULT: status, score and error */
    double child_score;
    char child_error[sizeof ((rfk_trial_result_t *)0)->error];
    double last_score; /* the last progress score */
    uint8_t *buf;      /* bytes received, not yet a whole record */
    size_t len, cap;
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
rfk_trial_status_name (rfk_trial_status_t status)
{
    switch (status) {
        case RFK_TRIAL_COMPLETED:
            return "COMPLETED";
        case RFK_TRIAL_ERRORED:
            return "ERRORED";
        case RFK_TRIAL_PRUNED:
            return "PRUNED";
        default:
            return "RUNNING";
    }
}

/* ------------------------------------------------------------------------
   The child
   ------------------------------------------------------------------------ */

/* Child-side state; a forked child has one trial only. */
static int s_child_fd = -1;
static volatile sig_atomic_t s_child_stop;
static bool s_child_pruned;
static int64_t s_child_steps;
static double s_child_last_score;
static uint64_t s_child_memory_limit; /* the RLIMIT_AS we set, 0: none */
static size_t s_child_memory_mb;      /* the spec's memory limit */
static char s_child_altstack[64 * 1024];

/* Write all of buf, or exit: without the parent the trial is pointless. */
static void
s_child_write (const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send (s_child_fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit (3);
        p += n;
        len -= (size_t)n;
    }
}

/* Send one record: the packer's buffer with its length in front. */
static void
s_child_send (msgpack_sbuffer *sbuf)
{
    uint8_t head[4] = {(uint8_t)(sbuf->size >> 24), (uint8_t)(sbuf->size >> 16),
                       (uint8_t)(sbuf->size >> 8), (uint8_t)sbuf->size};
    s_child_write (head, 4);
    s_child_write (sbuf->data, sbuf->size);
}

static void
s_pack_str (msgpack_packer *pk, const char *s, size_t max)
{
    size_t len = s ? strnlen (s, max) : 0;
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s ? s : "", len);
}

static void
s_child_log (rafiki_context_t *ctx, const char *message)
{
    (void)ctx;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_int (&pk, RFK_REC_LOG);
    s_pack_str (&pk, message, RFK_LOG_MAX);
    s_child_send (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
s_child_log_metrics (rafiki_context_t *ctx, size_t n, const char *const *names,
                     const double *values)
{
    (void)ctx;
    if (n > RFK_METRICS_MAX)
        n = RFK_METRICS_MAX;
    if (n > 0 && (!names || !values))
        return;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_int (&pk, RFK_REC_METRICS);
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++)
        s_pack_str (&pk, names[i], 256);
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_double (&pk, values[i]);
    s_child_send (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
s_child_define_plot (rafiki_context_t *ctx, const char *title, size_t n, const char *const *metrics,
                     const char *x_metric)
{
    (void)ctx;
    if (n > RFK_METRICS_MAX)
        n = RFK_METRICS_MAX;
    if (n > 0 && !metrics)
        return;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_int (&pk, RFK_REC_PLOT);
    s_pack_str (&pk, title, 256);
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++)
        s_pack_str (&pk, metrics[i], 256);
    if (x_metric)
        s_pack_str (&pk, x_metric, 256);
    else
        msgpack_pack_nil (&pk);
    s_child_send (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
}

/* Report progress and wait for the parent's verdict. */
static bool
s_child_progress (rafiki_context_t *ctx, int64_t step, double score)
{
    (void)ctx;
    if (s_child_pruned || s_child_stop)
        return true;
    s_child_steps++;
    s_child_last_score = score;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_int (&pk, RFK_REC_PROGRESS);
    msgpack_pack_int64 (&pk, step);
    msgpack_pack_double (&pk, score);
    s_child_send (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
    char answer = 0;
    ssize_t n;
    do
        n = recv (s_child_fd, &answer, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit (3); /* the parent is gone */
    if (answer == 'p')
        s_child_pruned = true;
    return s_child_pruned || s_child_stop;
}

static bool
s_child_should_stop (rafiki_context_t *ctx)
{
    (void)ctx;
    return s_child_pruned || s_child_stop;
}

static void
s_child_send_result (rfk_trial_status_t status, double score, const char *error)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_int (&pk, RFK_REC_RESULT);
    msgpack_pack_int (&pk, (int)status);
    msgpack_pack_double (&pk, score);
    s_pack_str (&pk, error, 511);
    s_child_send (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
}

/* The peak address space of this process in bytes, read the
   async-signal-safe way; 0 when unknown. */
static uint64_t
s_vm_kb (const char *field)
{
    char buf[4096];
    int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read (fd, buf, sizeof buf - 1);
    close (fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    size_t flen = strlen (field);
    for (char *line = buf; line && *line;) {
        if (strncmp (line, field, flen) == 0 && line[flen] == ':') {
            uint64_t kb = 0;
            for (char *p = line + flen + 1; *p && *p != '\n'; p++)
                if (*p >= '0' && *p <= '9')
                    kb = kb * 10 + (uint64_t)(*p - '0');
            return kb;
        }
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return 0;
}

/* True when the last failure looks like the memory limit: an allocation
   failed (errno) or the address space the trial added came within 5% of
   the limit. */
static bool
s_child_out_of_memory (int saved_errno)
{
    if (!s_child_memory_limit)
        return false;
    if (saved_errno == ENOMEM)
        return true;
    uint64_t peak = s_vm_kb ("VmPeak") * 1024;
    uint64_t slack = (uint64_t)s_child_memory_mb * 1024 * 1024 / 20;
    return peak >= s_child_memory_limit - slack;
}

/* A fatal signal: tell the parent when memory ran out, then die of it. */
static void
s_child_fatal (int sig)
{
    int saved_errno = errno;
    if (s_child_out_of_memory (saved_errno)) {
        static const uint8_t record[] = {0, 0, 0, 2, 0x91, RFK_REC_MEMORY};
        (void)!send (s_child_fd, record, sizeof record, MSG_NOSIGNAL);
    }
    signal (sig, SIG_DFL);
    raise (sig);
}

static void
s_child_on_term (int sig)
{
    (void)sig;
    s_child_stop = 1;
}

/* Limits, signals and descriptors of a fresh child. */
static void
s_child_setup (const rfk_trial_spec_t *spec, pid_t parent)
{
    setpgid (0, 0);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (3);

    /* Descriptors: nothing of the parent's but our socket and stdio. */
    int fd = s_child_fd;
    if (fd > 3)
        syscall (SYS_close_range, 3u, (unsigned)fd - 1, 0u);
    syscall (SYS_close_range, (unsigned)fd + 1, ~0u, 0u);
    int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2 (devnull, 0);
        if (devnull != 0)
            close (devnull);
    }
    if (spec->output_path) {
        int out = open (spec->output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out >= 0) {
            dup2 (out, 1);
            dup2 (out, 2);
            if (out > 2)
                close (out);
        }
    }

    /* Signals: default dispositions, nothing blocked, ours for TERM and
       the fatal ones. */
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    signal (SIGINT, SIG_IGN);
    signal (SIGPIPE, SIG_DFL);
    signal (SIGCHLD, SIG_DFL);
    signal (SIGHUP, SIG_DFL);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_child_on_term;
    sa.sa_flags = SA_RESTART;
    sigaction (SIGTERM, &sa, NULL);
    stack_t ss = {.ss_sp = s_child_altstack, .ss_size = sizeof s_child_altstack};
    sigaltstack (&ss, NULL);
    sa.sa_handler = s_child_fatal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
    const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction (fatal[i], &sa, NULL);

    if (spec->memory_mb > 0) {
        uint64_t base = s_vm_kb ("VmSize") * 1024;
        s_child_memory_limit = base + (uint64_t)spec->memory_mb * 1024 * 1024;
        s_child_memory_mb = spec->memory_mb;
        struct rlimit rl = {s_child_memory_limit, s_child_memory_limit};
        if (setrlimit (RLIMIT_AS, &rl) != 0)
            s_child_memory_limit = 0;
    }
    if (spec->cpu_s > 0) {
        rlim_t soft = (rlim_t)ceil (spec->cpu_s);
        struct rlimit rl = {soft, soft + 1};
        setrlimit (RLIMIT_CPU, &rl);
    }
}

/* Write the file atomically: a temporary beside it, then rename. */
static int
s_write_file (const char *path, const void *data, size_t size, char *err, size_t errlen)
{
    size_t plen = strlen (path);
    char *tmp = malloc (plen + 16);
    if (!tmp) {
        snprintf (err, errlen, "out of memory writing %s", path);
        return -1;
    }
    snprintf (tmp, plen + 16, "%s.tmp%d", path, (int)getpid ());
    FILE *f = fopen (tmp, "wb");
    if (!f) {
        snprintf (err, errlen, "cannot write parameters to %s: %s", path, strerror (errno));
        free (tmp);
        return -1;
    }
    bool ok = fwrite (data, 1, size, f) == size;
    ok = (fclose (f) == 0) && ok;
    if (!ok || rename (tmp, path) != 0) {
        snprintf (err, errlen, "cannot write parameters to %s: %s", path, strerror (errno));
        unlink (tmp);
        free (tmp);
        return -1;
    }
    free (tmp);
    return 0;
}

/* Prefix a template's message with the phase that failed, and say so when
   the memory limit is the likely cause. */
static void
s_child_fail (const char *phase, const char *message, int saved_errno)
{
    char reason[512];
    const char *msg = message && *message ? message : "failed without a message";
    if (s_child_out_of_memory (saved_errno))
        snprintf (reason, sizeof reason, "exceeded memory limit of %zu MiB (%s%s%s)",
                  s_child_memory_mb, phase ? phase : "", phase ? ": " : "", msg);
    else
        snprintf (reason, sizeof reason, "%s%s%s", phase ? phase : "", phase ? ": " : "", msg);
    s_child_send_result (RFK_TRIAL_ERRORED, 0, reason);
}

/* The standard trial: create, train, evaluate, dump. */
static void
s_child_trial (const rafiki_model_api_t *api, const rfk_trial_spec_t *spec, rafiki_context_t *ctx)
{
    char err[512] = "";
    static const rafiki_knobs_t no_knobs = {NULL, 0};
    if (!api->create || !api->train || !api->evaluate || !api->dump_params) {
        s_child_send_result (RFK_TRIAL_ERRORED, 0,
                             "template lacks create, train, evaluate or dump_params");
        return;
    }
    errno = 0;
    void *model = api->create (spec->knobs ? spec->knobs : &no_knobs, err, sizeof err);
    if (!model) {
        s_child_fail ("create", err, errno);
        return;
    }
    msgpack_unpacked shared;
    msgpack_unpacked_init (&shared);
    const msgpack_object *shared_obj = NULL;
    if (spec->shared_params && spec->shared_params_size > 0) {
        size_t off = 0;
        if (msgpack_unpack_next (&shared, spec->shared_params, spec->shared_params_size, &off) !=
            MSGPACK_UNPACK_SUCCESS) {
            s_child_send_result (RFK_TRIAL_ERRORED, 0, "shared parameters are not msgpack");
            return;
        }
        shared_obj = &shared.data;
    }
    static const rafiki_args_t no_args = {NULL, 0};
    errno = 0;
    int rc = api->train (model, spec->train_path, spec->args ? spec->args : &no_args, shared_obj,
                         ctx, err, sizeof err);
    int saved_errno = errno;
    if (s_child_stop) {
        s_child_send_result (RFK_TRIAL_ERRORED, 0, "stopped");
        return;
    }
    if (s_child_pruned) {
        s_child_send_result (RFK_TRIAL_PRUNED, s_child_last_score, "pruned");
        return;
    }
    if (rc != 0) {
        s_child_fail ("train", err, saved_errno);
        return;
    }
    double score = 0;
    errno = 0;
    if (api->evaluate (model, spec->val_path, &score, err, sizeof err) != 0) {
        s_child_fail ("evaluate", err, errno);
        return;
    }
    if (!isfinite (score)) {
        s_child_send_result (RFK_TRIAL_ERRORED, 0, "evaluate: the score is not a finite number");
        return;
    }
    if (spec->params_path) {
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        errno = 0;
        if (api->dump_params (model, &pk, err, sizeof err) != 0) {
            s_child_fail ("dump_params", err, errno);
            return;
        }
        if (sbuf.size == 0) {
            s_child_send_result (RFK_TRIAL_ERRORED, 0, "dump_params: packed nothing");
            return;
        }
        if (s_write_file (spec->params_path, sbuf.data, sbuf.size, err, sizeof err) != 0) {
            s_child_send_result (RFK_TRIAL_ERRORED, 0, err);
            return;
        }
        msgpack_sbuffer_destroy (&sbuf);
    }
    s_child_send_result (RFK_TRIAL_COMPLETED, score, "");
    /* The model is not destroyed: _exit frees it, and a template that
       crashes in destroy cannot spoil a finished trial. */
}

static void
s_child_main (const rfk_trial_spec_t *spec, int fd, pid_t parent)
{
    s_child_fd = fd;
    s_child_setup (spec, parent);
    rafiki_context_t ctx = {.host = NULL,
                            .log = s_child_log,
                            .log_metrics = s_child_log_metrics,
                            .define_plot = s_child_define_plot,
                            .progress = s_child_progress,
                            .should_stop = s_child_should_stop};
    const rafiki_model_api_t *api = spec->api;
    if (spec->body) {
        char err[512] = "";
        double score = 0;
        errno = 0;
        if (spec->body (api, &ctx, spec->body_arg, &score, err, sizeof err) == 0)
            s_child_send_result (RFK_TRIAL_COMPLETED, score, "");
        else if (s_child_stop)
            s_child_send_result (RFK_TRIAL_ERRORED, 0, "stopped");
        else
            s_child_fail (NULL, err, errno);
    } else
        s_child_trial (api, spec, &ctx);
    fflush (NULL);
    _exit (0);
}

/* ------------------------------------------------------------------------
   The exec form: the trial in a fresh process
   ------------------------------------------------------------------------

   The parent packs the spec into a sealed memory file (msgpack map), then
   posix_spawns /proc/self/exe with RAFIKI_TRIAL_CHILD=<socket>:<spec>:<pid>
   in its environment. Every program that links the runner carries the
   constructor below: in such a process it reads the spec, opens the
   template and runs the child's side exactly as a forked child would,
   before main () ever runs. */

#define RFK_EXEC_ENV "RAFIKI_TRIAL_CHILD"

static char *
s_obj_strdup (const msgpack_object *o);
static bool
s_obj_number (const msgpack_object *o, double *out);

static void
s_pack_cstr (msgpack_packer *pk, const char *key, const char *value)
{
    s_pack_str (pk, key, 64);
    if (value)
        s_pack_str (pk, value, 65536);
    else
        msgpack_pack_nil (pk);
}

static void
s_pack_value (msgpack_packer *pk, const rafiki_value_t *value)
{
    switch (value->type) {
        case RAFIKI_VALUE_INT:
            msgpack_pack_int64 (pk, value->u.i);
            break;
        case RAFIKI_VALUE_FLOAT:
            msgpack_pack_double (pk, value->u.f);
            break;
        case RAFIKI_VALUE_STRING:
            s_pack_str (pk, value->u.s, 65536);
            break;
        default:
            if (value->u.b)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
    }
}

/* The spec as a sealed memory file (close-on-exec), or -1 with err. */
static int
s_exec_spec_fd (const rfk_trial_spec_t *spec, char *err, size_t errlen)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 11);
    s_pack_cstr (&pk, "template", spec->template_path);
    s_pack_cstr (&pk, "task", spec->task);
    s_pack_cstr (&pk, "train", spec->train_path);
    s_pack_cstr (&pk, "val", spec->val_path);
    s_pack_cstr (&pk, "params", spec->params_path);
    s_pack_cstr (&pk, "output", spec->output_path);
    s_pack_str (&pk, "cpu_s", 64);
    msgpack_pack_double (&pk, spec->cpu_s);
    s_pack_str (&pk, "memory_mb", 64);
    msgpack_pack_uint64 (&pk, spec->memory_mb);
    s_pack_str (&pk, "knobs", 64);
    size_t n_knobs = spec->knobs ? spec->knobs->n : 0;
    msgpack_pack_array (&pk, n_knobs);
    for (size_t i = 0; i < n_knobs; i++) {
        const rafiki_knob_value_t *item = &spec->knobs->items[i];
        msgpack_pack_array (&pk, 3);
        s_pack_str (&pk, item->name, 1024);
        msgpack_pack_int (&pk, (int)item->value.type);
        s_pack_value (&pk, &item->value);
    }
    s_pack_str (&pk, "args", 64);
    size_t n_args = spec->args ? spec->args->n : 0;
    msgpack_pack_array (&pk, n_args);
    for (size_t i = 0; i < n_args; i++) {
        msgpack_pack_array (&pk, 2);
        s_pack_str (&pk, spec->args->items[i].name, 65536);
        s_pack_str (&pk, spec->args->items[i].value, 1u << 24);
    }
    s_pack_str (&pk, "shared", 64);
    if (spec->shared_params && spec->shared_params_size > 0) {
        msgpack_pack_bin (&pk, spec->shared_params_size);
        msgpack_pack_bin_body (&pk, spec->shared_params, spec->shared_params_size);
    } else
        msgpack_pack_nil (&pk);

    int fd = memfd_create ("rafiki-trial-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        snprintf (err, errlen, "cannot hand the trial its spec: memfd_create: %s",
                  strerror (errno));
        msgpack_sbuffer_destroy (&sbuf);
        return -1;
    }
    const char *p = sbuf.data;
    size_t left = sbuf.size;
    while (left > 0) {
        ssize_t n = write (fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf (err, errlen, "cannot hand the trial its spec: %s", strerror (errno));
            msgpack_sbuffer_destroy (&sbuf);
            close (fd);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    msgpack_sbuffer_destroy (&sbuf);
    fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

/* Spawn this program as the trial's process; its pid, or -1 with err. */
static pid_t
s_exec_spawn (int sock, int spec_fd, char *err, size_t errlen)
{
    extern char **environ;
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = calloc (n_env + 2, sizeof *envp);
    char mine[96];
    if (!envp) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp (environ[i], RFK_EXEC_ENV "=", sizeof RFK_EXEC_ENV) != 0)
            envp[at++] = environ[i];
    snprintf (mine, sizeof mine, RFK_EXEC_ENV "=%d:%d:%d", sock, spec_fd, (int)getpid ());
    envp[at++] = mine;
    envp[at] = NULL;

    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_init (&attr);
    posix_spawn_file_actions_init (&actions);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    /* dup2 of a descriptor onto itself clears its close-on-exec flag. */
    posix_spawn_file_actions_adddup2 (&actions, sock, sock);
    posix_spawn_file_actions_adddup2 (&actions, spec_fd, spec_fd);
    char *argv[] = {(char *)"rafiki-trial", NULL};
    pid_t pid = -1;
    int rc = posix_spawn (&pid, "/proc/self/exe", &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    free (envp);
    if (rc != 0) {
        snprintf (err, errlen, "cannot start the trial's process: %s", strerror (rc));
        return -1;
    }
    return pid;
}

/* The child's side of the exec form: fail the trial with a reason. */
static void
s_exec_fail (int sock, const char *reason)
{
    s_child_fd = sock;
    s_child_send_result (RFK_TRIAL_ERRORED, 0, reason);
    _exit (0);
}

/* A msgpack string as a new C string; NULL for nil or anything else. */
static char *
s_exec_str (const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_STR ? s_obj_strdup (o) : NULL;
}

/* The value of key in a msgpack map, or NULL. */
static const msgpack_object *
s_exec_get (const msgpack_object *map, const char *key)
{
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp (k->via.str.ptr, key, len) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Knob values from the spec's [name, type, value] rows; strings are copies
   the process keeps until it exits. -1 when a row makes no sense. */
static int
s_exec_knobs (const msgpack_object *rows, rafiki_knobs_t *out)
{
    out->items = NULL;
    out->n = 0;
    if (!rows || rows->type != MSGPACK_OBJECT_ARRAY)
        return rows ? -1 : 0;
    size_t n = rows->via.array.size;
    rafiki_knob_value_t *items = calloc (n + 1, sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 3 ||
            row->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return -1;
        const msgpack_object *value = &row->via.array.ptr[2];
        items[i].name = s_exec_str (&row->via.array.ptr[0]);
        items[i].value.type = (rafiki_value_type_t)row->via.array.ptr[1].via.u64;
        double number = 0;
        switch (items[i].value.type) {
            case RAFIKI_VALUE_INT:
                if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                    items[i].value.u.i = (int64_t)value->via.u64;
                else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                    items[i].value.u.i = value->via.i64;
                else
                    return -1;
                break;
            case RAFIKI_VALUE_FLOAT:
                if (!s_obj_number (value, &number))
                    return -1;
                items[i].value.u.f = number;
                break;
            case RAFIKI_VALUE_STRING:
                items[i].value.u.s = s_exec_str (value);
                if (!items[i].value.u.s)
                    return -1;
                break;
            case RAFIKI_VALUE_BOOL:
                if (value->type != MSGPACK_OBJECT_BOOLEAN)
                    return -1;
                items[i].value.u.b = value->via.boolean;
                break;
            default:
                return -1;
        }
        if (!items[i].name)
            return -1;
    }
    out->items = items;
    out->n = n;
    return 0;
}

/* Train args from the spec's [name, value] rows. */
static int
s_exec_args (const msgpack_object *rows, rafiki_args_t *out)
{
    out->items = NULL;
    out->n = 0;
    if (!rows || rows->type != MSGPACK_OBJECT_ARRAY)
        return rows ? -1 : 0;
    size_t n = rows->via.array.size;
    rafiki_arg_t *items = calloc (n + 1, sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 2)
            return -1;
        items[i].name = s_exec_str (&row->via.array.ptr[0]);
        items[i].value = s_exec_str (&row->via.array.ptr[1]);
        if (!items[i].name || !items[i].value)
            return -1;
    }
    out->items = items;
    out->n = n;
    return 0;
}

/* Runs before main () in every program that links the runner; acts only in
   a process spawned by s_exec_spawn, which it never leaves. */
__attribute__ ((constructor)) static void
s_exec_entry (void)
{
    const char *env = getenv (RFK_EXEC_ENV);
    if (!env)
        return;
    int sock = -1, spec_fd = -1, parent = 0;
    if (sscanf (env, "%d:%d:%d", &sock, &spec_fd, &parent) != 3 || sock < 0 || spec_fd < 0)
        return; /* not ours to make sense of: carry on as the program */
    unsetenv (RFK_EXEC_ENV);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != (pid_t)parent)
        _exit (3);

    struct stat st;
    char *data = NULL;
    size_t size = 0;
    if (fstat (spec_fd, &st) == 0 && st.st_size > 0) {
        size = (size_t)st.st_size;
        data = malloc (size);
        size_t got = 0;
        while (data && got < size) {
            ssize_t n = pread (spec_fd, data + got, size - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got != size) {
            free (data);
            data = NULL;
        }
    }
    close (spec_fd);
    msgpack_unpacked spec_msg;
    msgpack_unpacked_init (&spec_msg);
    size_t off = 0;
    if (!data || msgpack_unpack_next (&spec_msg, data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
        spec_msg.data.type != MSGPACK_OBJECT_MAP)
        s_exec_fail (sock, "the trial's process could not read its spec");
    const msgpack_object *map = &spec_msg.data;

    rafiki_knobs_t knobs;
    rafiki_args_t args;
    if (s_exec_knobs (s_exec_get (map, "knobs"), &knobs) != 0 ||
        s_exec_args (s_exec_get (map, "args"), &args) != 0)
        s_exec_fail (sock, "the trial's process got malformed knobs or train args");
    rfk_trial_spec_t spec = {
        .knobs = &knobs,
        .args = &args,
        .template_path = s_exec_str (s_exec_get (map, "template")),
        .task = s_exec_str (s_exec_get (map, "task")),
        .train_path = s_exec_str (s_exec_get (map, "train")),
        .val_path = s_exec_str (s_exec_get (map, "val")),
        .params_path = s_exec_str (s_exec_get (map, "params")),
        .output_path = s_exec_str (s_exec_get (map, "output")),
    };
    const msgpack_object *value = s_exec_get (map, "cpu_s");
    double number = 0;
    if (value && s_obj_number (value, &number) && number > 0)
        spec.cpu_s = number;
    value = s_exec_get (map, "memory_mb");
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        spec.memory_mb = (size_t)value->via.u64;
    value = s_exec_get (map, "shared");
    if (value && value->type == MSGPACK_OBJECT_BIN && value->via.bin.size > 0) {
        spec.shared_params = value->via.bin.ptr;
        spec.shared_params_size = value->via.bin.size;
    }
    if (!spec.template_path)
        s_exec_fail (sock, "the trial's process got no template path");

    char err[512] = "";
    rfk_template_t *template = rfk_template_open (spec.template_path, spec.task, err, sizeof err);
    if (!template) {
        char reason[600];
        snprintf (reason, sizeof reason, "cannot open the template: %s", err);
        s_exec_fail (sock, reason);
    }
    spec.api = rfk_template_api (template);
    s_child_main (&spec, sock, (pid_t)parent); /* never returns */
    _exit (0);
}

/* ------------------------------------------------------------------------
   The parent
   ------------------------------------------------------------------------ */

rfk_trial_t *
rfk_trial_start (const rfk_trial_spec_t *spec, const rfk_trial_callbacks_t *callbacks, char *err,
                 size_t errlen)
{
    if (!spec || (!spec->api && !(spec->exec && spec->template_path))) {
        snprintf (err, errlen, "the trial names no template");
        return NULL;
    }
    if (spec->exec && (!spec->template_path || spec->body)) {
        snprintf (err, errlen, "a trial in a fresh process needs its template's path and no body");
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
    rfk_trial_t *self = calloc (1, sizeof *self);
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

    int sv[2];
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf (err, errlen, "cannot create the trial's socket pair: %s", strerror (errno));
        free (self);
        return NULL;
    }
    fflush (NULL); /* or the child would print what the parent buffered */
    pid_t parent = getpid ();
    self->start_ms = s_now_ms ();
    pid_t pid;
    if (spec->exec) {
        int spec_fd = s_exec_spec_fd (spec, err, errlen);
        pid = spec_fd >= 0 ? s_exec_spawn (sv[1], spec_fd, err, errlen) : -1;
        if (spec_fd >= 0)
            close (spec_fd);
    } else {
        pid = fork ();
        if (pid < 0)
            snprintf (err, errlen, "cannot fork the trial: %s", strerror (errno));
    }
    if (pid < 0) {
        close (sv[0]);
        close (sv[1]);
        free (self);
        return NULL;
    }
    if (pid == 0) {
        close (sv[0]);
        s_child_main (spec, sv[1], parent);
        _exit (0);
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
rfk_trial_fd (rfk_trial_t *self)
{
    return self && !self->finished ? self->fd : -1;
}

int
rfk_trial_pid (rfk_trial_t *self)
{
    return self ? (int)self->pid : 0;
}

const rfk_trial_result_t *
rfk_trial_result (rfk_trial_t *self)
{
    return self ? &self->result : NULL;
}

int64_t
rfk_trial_timeout_ms (rfk_trial_t *self)
{
    if (!self || self->finished)
        return -1;
    int64_t next = 0;
    if (self->deadline_ms)
        next = self->deadline_ms;
    if (self->kill_at_ms && (!next || self->kill_at_ms < next))
        next = self->kill_at_ms;
    if (!next)
        return -1;
    int64_t left = next - s_now_ms ();
    return left > 0 ? left : 0;
}

/* Send a signal to the child's process group (or the child alone when the
   group is not there yet). */
static void
s_signal (rfk_trial_t *self, int sig)
{
    if (self->pid <= 0)
        return;
    if (kill (-self->pid, sig) != 0)
        kill (self->pid, sig);
}

void
rfk_trial_stop (rfk_trial_t *self)
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
static char *
s_obj_strdup (const msgpack_object *o)
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

static bool
s_obj_number (const msgpack_object *o, double *out)
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
        v[i] = s_obj_strdup (&o->via.array.ptr[i]);
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
s_answer_progress (rfk_trial_t *self, int64_t step, double score)
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

/* Act on one record; -1 when it is malformed. */
static int
s_handle_record (rfk_trial_t *self, const uint8_t *data, size_t size)
{
    msgpack_unpacked rec;
    msgpack_unpacked_init (&rec);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next (&rec, (const char *)data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != size || rec.data.type != MSGPACK_OBJECT_ARRAY || rec.data.via.array.size < 1 ||
        rec.data.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        goto done;
    const msgpack_object *f = rec.data.via.array.ptr;
    size_t nf = rec.data.via.array.size;
    switch (f[0].via.u64) {
        case RFK_REC_LOG: {
            char *msg = nf == 2 ? s_obj_strdup (&f[1]) : NULL;
            if (!msg)
                goto done;
            if (self->callbacks.on_log)
                self->callbacks.on_log (self->callbacks.arg, msg);
            free (msg);
            break;
        }
        case RFK_REC_METRICS: {
            if (nf != 3 || f[2].type != MSGPACK_OBJECT_ARRAY)
                goto done;
            size_t n = 0;
            char **names = s_obj_strings (&f[1], &n);
            if (!names || f[2].via.array.size != n) {
                s_strings_free (names, n);
                goto done;
            }
            double *values = calloc (n + 1, sizeof *values);
            bool ok = values != NULL;
            for (size_t i = 0; ok && i < n; i++)
                ok = s_obj_number (&f[2].via.array.ptr[i], &values[i]);
            if (ok && self->callbacks.on_metrics)
                self->callbacks.on_metrics (self->callbacks.arg, n, (const char *const *)names,
                                            values);
            free (values);
            s_strings_free (names, n);
            if (!ok)
                goto done;
            break;
        }
        case RFK_REC_PLOT: {
            if (nf != 4 || (f[3].type != MSGPACK_OBJECT_NIL && f[3].type != MSGPACK_OBJECT_STR))
                goto done;
            char *title = s_obj_strdup (&f[1]);
            size_t n = 0;
            char **metrics = s_obj_strings (&f[2], &n);
            char *x = s_obj_strdup (&f[3]);
            bool ok = title && metrics;
            if (ok && self->callbacks.on_plot)
                self->callbacks.on_plot (self->callbacks.arg, title, n,
                                         (const char *const *)metrics, x);
            free (title);
            free (x);
            s_strings_free (metrics, n);
            if (!ok)
                goto done;
            break;
        }
        case RFK_REC_PROGRESS: {
            double score;
            if (nf != 3 || !s_obj_number (&f[2], &score) ||
                (f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                 f[1].type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
                goto done;
            s_answer_progress (self, f[1].via.i64, score);
            break;
        }
        case RFK_REC_RESULT: {
            double score;
            if (nf != 4 || f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                !s_obj_number (&f[2], &score) || f[3].type != MSGPACK_OBJECT_STR ||
                f[1].via.u64 < RFK_TRIAL_COMPLETED || f[1].via.u64 > RFK_TRIAL_PRUNED)
                goto done;
            self->got_result = true;
            self->child_status = (int)f[1].via.u64;
            self->child_score = score;
            size_t len = f[3].via.str.size;
            if (len >= sizeof self->child_error)
                len = sizeof self->child_error - 1;
            memcpy (self->child_error, f[3].via.str.ptr, len);
            self->child_error[len] = 0;
            break;
        }
        case RFK_REC_MEMORY:
            self->memory_hit = true;
            break;
        default:
            goto done;
    }
    rc = 0;
done:
    msgpack_unpacked_destroy (&rec);
    return rc;
}

/* Handle every whole record in the buffer; -1 on a malformed one. */
static int
s_drain_records (rfk_trial_t *self)
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
   tick-sampled time, which runs ahead of the precise time wait4 reports. */
static void
s_explain_death (rfk_trial_t *self, int status, double cpu_s)
{
    rfk_trial_result_t *r = &self->result;
    if (WIFSIGNALED (status)) {
        int sig = WTERMSIG (status);
        if (self->memory_hit)
            snprintf (r->error, sizeof r->error, "exceeded memory limit of %zu MiB",
                      self->memory_mb);
        else if (self->cpu_limit_s > 0 &&
                 (sig == SIGXCPU || (sig == SIGKILL && cpu_s >= self->cpu_limit_s / 2)))
            snprintf (r->error, sizeof r->error, "exceeded CPU time limit of %g s",
                      self->cpu_limit_s);
        else
            snprintf (r->error, sizeof r->error, "killed by signal %d (%s)", sig, strsignal (sig));
    } else if (self->memory_hit)
        snprintf (r->error, sizeof r->error, "exceeded memory limit of %zu MiB", self->memory_mb);
    else if (WIFEXITED (status) && WEXITSTATUS (status) != 0)
        snprintf (r->error, sizeof r->error, "exited with status %d before reporting a result",
                  WEXITSTATUS (status));
    else
        snprintf (r->error, sizeof r->error, "exited before reporting a result");
}

/* The child ended or must: kill what is left of its group, reap it and
   settle the result. */
static void
s_finish (rfk_trial_t *self)
{
    int status = 0;
    struct rusage ru;
    memset (&ru, 0, sizeof ru);
    if (self->pid > 0) {
        /* A child that closed its end is exiting: SIGKILL cannot change its
           exit status, and it takes any process it left behind. */
        s_signal (self, SIGKILL);
        while (wait4 (self->pid, &status, 0, &ru) < 0 && errno == EINTR)
            ;
        self->pid = 0;
    }
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
    free (self->buf);
    self->buf = NULL;
    self->len = self->cap = 0;
    self->finished = true;
}

int
rfk_trial_step (rfk_trial_t *self)
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
        } else if (self->kill_at_ms && now >= self->kill_at_ms)
            eof = true;
    }
    if (!eof)
        return 0;
    s_finish (self);
    return 1;
}

void
rfk_trial_destroy (rfk_trial_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_trial_t *self = *self_p;
    if (!self->finished)
        s_finish (self);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

int
rfk_trial_run (const rfk_trial_spec_t *spec, const rfk_trial_callbacks_t *callbacks,
               rfk_trial_result_t *result)
{
    memset (result, 0, sizeof *result);
    rfk_trial_t *trial = rfk_trial_start (spec, callbacks, result->error, sizeof result->error);
    if (!trial) {
        result->status = RFK_TRIAL_ERRORED;
        return -1;
    }
    while (rfk_trial_step (trial) == 0) {
        struct pollfd pfd = {.fd = rfk_trial_fd (trial), .events = POLLIN};
        int64_t timeout = rfk_trial_timeout_ms (trial);
        if (timeout > 60000 || timeout < 0)
            timeout = 60000;
        if (poll (&pfd, 1, (int)timeout) < 0 && errno != EINTR) {
            s_finish (trial); /* cannot wait for it: end it */
            break;
        }
    }
    *result = *rfk_trial_result (trial);
    rfk_trial_destroy (&trial);
    return 0;
}
