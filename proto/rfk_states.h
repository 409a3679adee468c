/*  rfk_states.h: the status machines of common.proto as C enums.

    One enum per state family, numbered as the .proto numbers them, with one
    name table each (rfk_states.c). The names are the .proto value names,
    which are also what JSON bodies, the store's rows and the HTTP API carry:
    code compares and switches on the enum, and turns it into text only at
    an edge (a message body, a row, a log line).

    | C enum                 | common.proto              | used by                              |
    |------------------------|---------------------------|--------------------------------------|
    | rfk_job_status_t       | rfk.JobState.Status       | train jobs, sub train jobs, inference
   jobs | | rfk_service_status_t   | rfk.ServiceState.Status   | services | | rfk_trial_status_t |
   rfk.TrialState.Status     | trials (the store's, the runner's)   | | rfk_params_source_t    |
   rfk.ParamsSource.Source   | where a trial's parameters come from |

    Value 0 is "not set" in every family (the .proto has no 0): a record
    created with it takes its default, a name lookup that fails returns it.
    rfk_states_check compares every table with the descriptors protoc-c
    generated from common.proto, both ways; test/unit/codec runs it, so a
    value added to one and not the other fails the build's tests.

    This header and rfk_states.c need nothing generated and link nothing
    else (rfk_states_dep), so the runner and the tuner use them too; the
    check lives in rfk_proto_dep.
*/
#ifndef RFK_STATES_H_INCLUDED
#define RFK_STATES_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Train jobs, sub train jobs and inference jobs (rfk.JobState.Status). */
typedef enum {
    RFK_JOB_UNSET = 0,   /* not set: a new record is STARTED */
    RFK_JOB_STARTED = 1, /* created, services launching */
    RFK_JOB_RUNNING = 2, /* its services run */
    RFK_JOB_STOPPED = 3, /* ended: budget spent or stopped by a user */
    RFK_JOB_ERRORED = 4  /* ended by a failure */
} rfk_job_status_t;

/* Dynamic services (rfk.ServiceState.Status). */
typedef enum {
    RFK_SERVICE_UNSET = 0,     /* not set: a new record is STARTED */
    RFK_SERVICE_STARTED = 1,   /* launched, not yet heard from */
    RFK_SERVICE_DEPLOYING = 2, /* said Hello, setting up */
    RFK_SERVICE_RUNNING = 3,   /* serving */
    RFK_SERVICE_STOPPED = 4,   /* ended cleanly */
    RFK_SERVICE_ERRORED = 5    /* ended by a failure, or lost */
} rfk_service_status_t;

/* Trials (rfk.TrialState.Status). */
typedef enum {
    RFK_TRIAL_UNSET = 0,     /* not set: a new record is PENDING */
    RFK_TRIAL_PENDING = 1,   /* proposed, not started */
    RFK_TRIAL_RUNNING = 2,   /* a trainer runs it */
    RFK_TRIAL_COMPLETED = 3, /* trained, evaluated, parameters saved */
    RFK_TRIAL_ERRORED = 4,   /* failed */
    RFK_TRIAL_PRUNED = 5     /* stopped early by the advisor */
} rfk_trial_status_t;

/* Where a trial's initial parameters come from (rfk.ParamsSource.Source). */
typedef enum {
    RFK_PARAMS_UNSET = 0,  /* not set: as NONE */
    RFK_PARAMS_NONE = 1,   /* train from scratch */
    RFK_PARAMS_BEST = 2,   /* the best-scoring trial of this sub job so far */
    RFK_PARAMS_LATEST = 3, /* the latest completed trial of this sub job */
} rfk_params_source_t;

/* The .proto name of a value ("RUNNING"), NULL for 0 and values out of
   range. Static strings. */
const char *
rfk_job_status_name (rfk_job_status_t status);
const char *
rfk_service_status_name (rfk_service_status_t status);
const char *
rfk_trial_status_name (rfk_trial_status_t status);
const char *
rfk_params_source_name (rfk_params_source_t source);

/* The value of a .proto name (exact, upper case), 0 (UNSET) for NULL or a
   name the family does not have. */
rfk_job_status_t
rfk_job_status_from_name (const char *name);
rfk_service_status_t
rfk_service_status_from_name (const char *name);
rfk_trial_status_t
rfk_trial_status_from_name (const char *name);
rfk_params_source_t
rfk_params_source_from_name (const char *name);

/* Whether a status is final: STOPPED or ERRORED for jobs and services,
   COMPLETED, ERRORED or PRUNED for trials. */
int
rfk_job_status_is_final (rfk_job_status_t status);
int
rfk_service_status_is_final (rfk_service_status_t status);
int
rfk_trial_status_is_final (rfk_trial_status_t status);

/* Checks every table above against common.proto's generated enum
   descriptors, both ways: each .proto value has the same name here and
   parses back to itself, each value here is in the .proto under the same
   name. 0 when they agree; -1 with the first difference in err. In
   rfk_proto_dep (it needs the generated code). */
int
rfk_states_check (char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
