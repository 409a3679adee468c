/*  rfk_advisor.h: the advisor actor, one per sub train job.

    The advisor proposes the knobs of every trial of one model of a train
    job (with the tuning library rfk_tune: random search, a Gaussian
    process, TPE, or the one trial of a template whose knobs are all fixed), hands the proposals to
   that sub job's trainers, decides when a trial is pruned (ASHA, with the EARLY_STOP policy), where
   a trial's initial parameters come from (SHARE_PARAMS) and when the budget is spent. It binds a
   ROUTER (`advice`, the `train` family) that its trainers' DEALERs connect to:

        Ready             -> Proposal {trial_no, trial_id, knobs, policies,
                             params_source, params_path} | Done {reason}
        Progress          -> Continue | Prune {reason}
        Result            -> (the trial is observed) Proposal | Done

    Two ways to start it:
    - as the `advisor` role of rafikid (rfk_advisor_actor, args an
      rfk_role_args_t *): it says Hello to admin's `service` socket with its
      service id and secret, gets its ServiceConfig (knobs, model_name, budget,
      train_args, sub_train_job_id, bind_endpoints), records each trial
      through admin (TrialCreate -> TrialCreated gives the trial id), reports
      RUNNING / STOPPED / ERRORED with StatusReport (RUNNING's message says
      "advice=<endpoint it bound>"), marks the trial of a trainer that went
      silent ERRORED with TrialFinished, and sends SubTrainJobDone when the
      budget is spent and no trial is outstanding. An advisor that starts
      again (restarted by the launcher, moved by swarm) resumes its sub job
      from the ServiceConfig's past_trials (rfk_advisor_resume.c): the
      finished trials teach its tuner and count against the budget, trial
      numbers go on after the highest, and the open ones stay in flight,
      their trainers' Progress and Result accepted and counted once;
    - directly (rfk_advisor_direct_actor, args an rfk_advisor_args_t *),
      without admin: trial ids are made locally. For tests and benchmarks.

    Pipe protocol (both forms; see config/rfk_role.h): the actor signals
    once, stops on "$TERM", answers "ENDPOINT" with the endpoint it bound
    ("" before it bound), "TUNER" with the tuner it runs (fixed, random, gp,
    tpe; "" before it is configured) and "TRIALS" with a JSON array of its
    trials
    ({no, id, status, score, knobs, policies, worker, error, params_path,
    steps, last_step, last_score}), sends "DONE" and returns once the budget
    is spent and every trainer was told Done, or "FAILED" <reason> and
    returns when it cannot go on.
    The direct form stays after DONE or FAILED, answering "TRIALS", until
    "$TERM".
*/
#ifndef RFK_ADVISOR_H_INCLUDED
#define RFK_ADVISOR_H_INCLUDED

#include <czmq.h>
#include <jansson.h>

#include "rfk_broker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the direct form needs; everything borrowed until the actor signals. */
typedef struct {
    const char *bind;             /* endpoints to bind; NULL: "tcp://127.0.0.1:*" */
    const char *model_name;       /* the model's name, for messages, or NULL */
    const json_t *knobs;          /* its knob table (rfk_knob_table_to_json's array) */
    const json_t *budget;         /* {"MODEL_TRIAL_COUNT": n, "TIME_HOURS": h}; NULL: 0.1 h */
    const json_t *train_args;     /* the job's train args (see README: advisor, seed, ...) */
    const json_t *fixed_knobs;    /* knob values every proposal keeps, or NULL */
    const char *sub_train_job_id; /* for the log lines, or NULL */
    const rfk_bus_opts_t *bus;    /* NULL: the defaults */
    const json_t *past_trials;    /* trials to resume (ServiceConfig's past_trials), or NULL */
    uint32_t last_trial_no;       /* the highest trial number in use, or 0 */
    double elapsed_s;             /* with past_trials: the sub job's age in seconds, or 0 */
    int64_t claim_ms;             /* how long a resumed open trial waits for its trainer; 0:
                                     a trial's default timeout and the bus's retries */
} rfk_advisor_args_t;

/* The `advisor` role of rafikid; args is an rfk_role_args_t *. */
void
rfk_advisor_actor (zsock_t *pipe, void *args);

/* The advisor without admin; args is an rfk_advisor_args_t *. */
void
rfk_advisor_direct_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
