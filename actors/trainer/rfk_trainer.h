/*  rfk_trainer.h: the trainer actor, N per sub train job.

    A trainer runs the trials its advisor proposes, one at a time, each in a
    child process (sdk/runner: a fresh exec'd process, sandboxed where
    launcher.sandbox says so, memory and CPU limits, a wall-clock timeout),
    whose pipe sits in the actor's poll set. It never opens the template
    itself (its constructors would run in the trainer, unsandboxed): it
    checks model_path is a regular file, and each trial's process opens it
    and makes the proposal's knobs (handed over as JSON text) into values
    with its knob table; knobs that do not fit, or a template that does not
    load or is of another task, cost that trial ERRORED. Its DEALER talks to
    the advisor's ROUTER `advice` (the `train` family):

        Ready -> Proposal | Done; Progress -> Continue | Prune;
        Result -> Proposal | Done

    and, in the role form, its DEALER to admin's `service` socket carries
    Hello -> ServiceConfig, StatusReport (RUNNING, STOPPED, ERRORED),
    TrialStarted, TrialLog, TrialMetrics, TrialPlot, TrialFinished (each
    answered Ack); admin may send Stop.

    For every trial it relays the template's log lines, metrics and plots to
    admin and its progress to the advisor (a Prune answer prunes the trial at
    its next progress report), saves the parameters under
    <params dir>/<trial id>.msgpack, reports TrialFinished to admin and the
    Result to the advisor. A template that crashes, runs out of memory, burns
    its CPU limit or hangs past the timeout costs one ERRORED trial with the
    reason; the trainer goes on. On $TERM (rafikid's SIGTERM) or admin's Stop
    the running trial is stopped and reported ERRORED ("stopped"). On Done it
    reports STOPPED and ends.

    Two ways to start it:
    - as the `trainer` role of rafikid (rfk_trainer_actor, args an
      rfk_role_args_t *): Hello to admin with its service id and secret, its
      ServiceConfig gives model_path, task, train_dataset_path,
      val_dataset_path, train_args, advisor_endpoint, worker_id and in config
      optionally memory_limit_mb, cpu_limit_s, trial_timeout_s (else its own
      trainer.* configuration); parameters go to <data_dir>/params/;
    - directly (rfk_trainer_direct_actor, args an rfk_trainer_args_t *),
      without admin: only the advisor hears about trials.

    Pipe protocol (see config/rfk_role.h): signals once, stops on "$TERM",
    answers "STATS" with a JSON object {trials, completed, errored, pruned,
    logs, metrics, plots, progress, pid} (pid: the running trial's process,
    0 when none), sends "DONE" and returns after Done, or "FAILED" <reason>.
    The direct form stays after DONE or FAILED, answering "STATS", until
    "$TERM".
*/
#ifndef RFK_TRAINER_H_INCLUDED
#define RFK_TRAINER_H_INCLUDED

#include <czmq.h>
#include <jansson.h>

#include "rfk_broker.h"
#include "rfk_sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the direct form needs; everything borrowed until the actor signals. */
typedef struct {
    const char *advisor_endpoint; /* the advisor's ROUTER `advice` */
    const char *model_path;       /* the template */
    const char *task;             /* the task the template must have, or NULL */
    const char *train_path;       /* train dataset file */
    const char *val_path;         /* validation dataset file */
    const json_t *train_args;     /* the job's train args, or NULL */
    const char *params_dir;       /* where <trial id>.msgpack files go */
    const char *worker_id;        /* how the trainer names itself, or NULL */
    double timeout_s;             /* a trial's wall-clock limit (0: none) */
    double cpu_s;                 /* a trial's CPU limit (0: none) */
    size_t memory_mb;             /* a trial's memory limit (0: none) */
    const rfk_bus_opts_t *bus;    /* NULL: the defaults */
    /* trials run in this sandbox (its uid, gid and limits; the trainer adds
       the paths), or NULL: unsandboxed */
    const rfk_sandbox_spec_t *sandbox;
} rfk_trainer_args_t;

/* The `trainer` role of rafikid; args is an rfk_role_args_t *. */
void
rfk_trainer_actor (zsock_t *pipe, void *args);

/* The trainer without admin; args is an rfk_trainer_args_t *. */
void
rfk_trainer_direct_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
