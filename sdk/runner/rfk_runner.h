/*  rfk_runner: runs one trial of a model template in a child process.

    The parent forks a child that applies the limits (RLIMIT_AS for memory,
    RLIMIT_CPU for CPU time), then calls the template: create (knobs) ->
    train (train path, args, shared params) -> evaluate (val path) ->
    dump_params (to a msgpack file). The child relays what the template logs
    (messages, metrics, plot definitions) and its progress reports to the
    parent over a socket pair, in length-prefixed msgpack records; the parent
    answers each progress report with continue or prune. The parent enforces
    the wall-clock timeout with SIGKILL, so a template that crashes, hangs or
    eats memory costs one ERRORED trial and never the caller.

    Two ways to drive it:
    - pollable, for an actor: rfk_runner_trial_start, put rfk_runner_trial_fd in the poll
      set with a timeout of rfk_runner_trial_timeout_ms, call rfk_runner_trial_step when the
      fd is readable or the timeout passed, until it returns 1;
    - blocking: rfk_runner_trial_run.

    Callbacks run in the parent, inside rfk_runner_trial_step.
*/
#ifndef RFK_RUNNER_H_INCLUDED
#define RFK_RUNNER_H_INCLUDED

#include "rfk_sandbox.h"
#include "rfk_states.h"

#include <msgpack.h>
#include <rafiki/model.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a finished trial gives back. Its status is one of the trial family's
   (rfk_states.h): RUNNING until it ends, then COMPLETED (trained, evaluated,
   parameters saved), ERRORED (failed; reason in error) or PRUNED (stopped
   early by the progress callback); rfk_trial_status_name names it. */
typedef struct {
    rfk_trial_status_t status;
    double score;        /* COMPLETED: evaluate's score; PRUNED: the last progress score */
    double duration_s;   /* wall time from start to the child's end */
    double cpu_s;        /* user + system CPU time of the child */
    int64_t peak_rss_kb; /* the child's peak resident memory, in KiB */
    int64_t steps;       /* progress reports received */
    char error[512];     /* ERRORED: why, e.g. "killed by signal 11 (Segmentation fault)" */
} rfk_trial_result_t;

/* Code run in the child instead of the standard trial (create, train,
   evaluate, dump). It reports through ctx (log, metrics, progress) and
   returns 0 with a score (COMPLETED) or -1 with a message in err (ERRORED).
   `rafiki model test` uses it to check predictions in a child too. */
typedef int (rfk_trial_body_fn) (const rafiki_model_api_t *api, rafiki_context_t *ctx, void *arg,
                                 double *score, char *err, size_t errlen);

/* What to run and with which limits. Everything is borrowed for the
   duration of rfk_runner_trial_start (the child gets its own copy by fork). */
typedef struct {
    const rafiki_model_api_t *api; /* the template, opened with rfk_template_open;
                                      NULL with exec (the new process opens it) */
    const rafiki_knobs_t *knobs;   /* knob values for create */
    /* exec, when knobs is NULL: the knob values as a JSON object's text
       ({"name": value, ...}, e.g. an advisor's proposal). The new process
       converts it with its own template's knob table (rfk_knobs_from_json,
       every knob required), after its limits are set, so that the caller
       never has to open the template; values that do not fit end the trial
       ERRORED, "the proposal's knobs do not fit the template: <why, naming
       the knob>". Refused without exec. */
    const char *knobs_json;
    const char *train_path;    /* dataset file for train */
    const char *val_path;      /* dataset file for evaluate */
    const rafiki_args_t *args; /* train arguments, may be NULL */
    const void *shared_params; /* msgpack bytes of parameters to start from, or NULL */
    size_t shared_params_size;
    const char *params_path; /* where to write the dumped msgpack parameters; NULL: don't */
    const char *output_path; /* the child's stdout and stderr go here (appended); NULL: inherit */
    double timeout_s;        /* wall-clock limit; 0: none */
    double cpu_s;            /* CPU time limit; 0: none */
    size_t memory_mb;        /* address space the trial may add; 0: none */
    double stop_grace_s;     /* from SIGTERM (stop, prune) to SIGKILL; 0: 2 s */
    rfk_trial_body_fn *body; /* NULL: the standard trial */
    void *body_arg;
    /* exec: run the trial in a fresh process (posix_spawn of this program,
       /proc/self/exe) rather than a plain fork. A fork of a multithreaded
       program copies locks other threads held (the sanitizers' allocator,
       libraries' own) and the child can hang on one; a fresh process has
       none. The new process opens the template at template_path (for task,
       may be NULL; a template of another task ends the trial ERRORED) itself;
       the spec travels to it in a sealed memory file.
       Not with body. Costs an exec per trial (a few ms). */
    bool exec;
    const char *template_path; /* exec: the template's file */
    const char *task;          /* exec: the task it must have, or NULL */
    /* sandbox (with exec): run the trial's process inside bubblewrap
       (rfk_sandbox.h). It sees the system read-only, its template, datasets
       and sandbox->ro_paths read-only, work_dir read-write, nothing else,
       and has no network. sandbox->limits give the processes, file size,
       open files and disk use of work_dir; memory_mb and cpu_s above stay
       the memory and CPU limits. NULL: no sandbox. */
    const rfk_sandbox_spec_t *sandbox;
    /* sandbox: the trial's own folder, made if missing and removed when the
       trial ends; the child writes its parameters there and the parent
       moves them to params_path. */
    const char *work_dir;
    /* exec without sandbox, where no bwrap can run (inside a container): the
       trial's process confines itself before it opens the template
       (rfk_sandbox_confine): it reads the system, its template and datasets,
       writes the folder of params_path and output_path (not /tmp), opens no
       socket, starts no process and signals none but itself. A failure to
       confine ends the trial ERRORED with why. */
    bool confine;
} rfk_trial_spec_t;

/* What the parent hears from the child, in the order the template said it. */
typedef struct {
    void *arg; /* passed to every callback */
    void (*on_log) (void *arg, const char *message);
    void (*on_metrics) (void *arg, size_t n, const char *const *names, const double *values);
    void (*on_plot) (void *arg, const char *title, size_t n, const char *const *metrics,
                     const char *x_metric);
    /* Return true to prune the trial. NULL: never prune. */
    bool (*on_progress) (void *arg, int64_t step, double score);
} rfk_trial_callbacks_t;

/* A running trial (not the store's trial record, rfk_trial_t). */
typedef struct rfk_runner_trial rfk_runner_trial_t;

/* Fork (or, with spec->exec, spawn) the child and start the trial.
   callbacks may be NULL. Returns NULL with a message in err when the trial
   could not start (bad spec, no fork). */
rfk_runner_trial_t *
rfk_runner_trial_start (const rfk_trial_spec_t *spec, const rfk_trial_callbacks_t *callbacks,
                        char *err, size_t errlen);

/* The descriptor to poll for input (POLLIN, or ZMQ_POLLIN in a zmq_pollitem_t
   with socket NULL). It becomes readable when the child says something or
   ends. -1 once the trial finished. */
int
rfk_runner_trial_fd (rfk_runner_trial_t *self);

/* Milliseconds until the next deadline the runner must act on (the timeout,
   the end of a stop's grace period), 0 when one passed, -1 when none. Use it
   as (or to shorten) the poll timeout. */
int64_t
rfk_runner_trial_timeout_ms (rfk_runner_trial_t *self);

/* Read whatever the child sent without blocking, run the callbacks, answer
   progress, enforce deadlines, and reap the child when it ended. Returns 1
   when the trial finished (see rfk_runner_trial_result), 0 while it runs. */
int
rfk_runner_trial_step (rfk_runner_trial_t *self);

/* Ask the trial to stop: SIGTERM to the child now, SIGKILL after the grace
   period. The result will be ERRORED with reason "stopped". Call
   rfk_runner_trial_step until it returns 1, or destroy the trial. */
void
rfk_runner_trial_stop (rfk_runner_trial_t *self);

/* The child's process id (its process group too), 0 once reaped. */
int
rfk_runner_trial_pid (rfk_runner_trial_t *self);

/* The result; status RUNNING while the trial runs. Borrowed. */
const rfk_trial_result_t *
rfk_runner_trial_result (rfk_runner_trial_t *self);

/* Kill the child if it still runs, reap it and free everything. Safe with
   NULL and twice. */
void
rfk_runner_trial_destroy (rfk_runner_trial_t **self_p);

/* Run a trial to completion, blocking. Returns 0 when the trial ran (its
   outcome, good or bad, is in result) and -1 when it could not start
   (result->error says why). */
int
rfk_runner_trial_run (const rfk_trial_spec_t *spec, const rfk_trial_callbacks_t *callbacks,
                      rfk_trial_result_t *result);

/* A msgpack integer or float as a double; false if it is neither. Shared
   with `rafiki model test`, which checks predictions with it. */
bool
rfk_runner_obj_number (const msgpack_object *o, double *out);

#ifdef __cplusplus
}
#endif

#endif
