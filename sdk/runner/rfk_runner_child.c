/*  rfk_runner_child: the child's side of a trial.

    Runs in the process the parent forked (or spawned, see rfk_runner_exec.c):
    puts itself in its own process group, closes what it inherited, applies
    the limits (RLIMIT_AS relative to the address space it has now,
    RLIMIT_CPU), then calls the template (create -> train -> evaluate ->
    dump_params, or the spec's body) with a context whose log, metrics, plot
    and progress calls become records to the parent (the wire is described in
    rfk_runner.c). It leaves with _exit: no atexit handler of the parent, no
    stdio flushed twice.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rfk_runner_private.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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

void
rfk_runner_pack_str (msgpack_packer *pk, const char *s, size_t max)
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
    rfk_runner_pack_str (&pk, message, RFK_LOG_MAX);
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
        rfk_runner_pack_str (&pk, names[i], 256);
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
    rfk_runner_pack_str (&pk, title, 256);
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++)
        rfk_runner_pack_str (&pk, metrics[i], 256);
    if (x_metric)
        rfk_runner_pack_str (&pk, x_metric, 256);
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
    rfk_runner_pack_str (&pk, error, 511);
    s_child_send (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
}

void
rfk_runner_child_result (int fd, rfk_trial_status_t status, double score, const char *error)
{
    s_child_fd = fd;
    s_child_send_result (status, score, error);
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

/* A sandboxed trial's own limits: processes (of its uid), file size, open
   descriptors, no core files. Set before the template runs. */
static void
s_child_box_limits (const rfk_sandbox_limits_t *l)
{
    struct rlimit rl = {0, 0};
    setrlimit (RLIMIT_CORE, &rl);
    if (l->nproc) {
        rl = (struct rlimit){l->nproc, l->nproc};
        setrlimit (RLIMIT_NPROC, &rl);
    }
    if (l->fsize_mb) {
        rl = (struct rlimit){(rlim_t)l->fsize_mb << 20, (rlim_t)l->fsize_mb << 20};
        setrlimit (RLIMIT_FSIZE, &rl);
    }
    if (l->nofile) {
        rl = (struct rlimit){l->nofile, l->nofile};
        setrlimit (RLIMIT_NOFILE, &rl);
    }
}

/* Limits, signals and descriptors of a fresh child. */
static void
s_child_setup (const rfk_trial_spec_t *spec, pid_t parent)
{
    setpgid (0, 0);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (parent != 0 && getppid () != parent)
        _exit (3); /* parent 0: sandboxed, bwrap's process is the parent */

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

    rfk_runner_child_limits (spec);
}

void
rfk_runner_child_limits (const rfk_trial_spec_t *spec)
{
    static bool applied; /* once: a second memory limit would count the template's maps */
    if (applied)
        return;
    applied = true;
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
    if (spec->sandbox)
        s_child_box_limits (&spec->sandbox->limits);
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
        snprintf (reason, sizeof reason, "memory limit %zu MiB reached (%s%s%s)", s_child_memory_mb,
                  phase ? phase : "", phase ? ": " : "", msg);
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

void
rfk_runner_child_main (const rfk_trial_spec_t *spec, int fd, pid_t parent)
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
