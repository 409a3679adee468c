/*  rfk_bodies.h: typed views of the bodies the services read most.

    A message's body is JSON keyed by the .proto field names (rfk_msg.h).
    Reading it key by key spreads those names over every reader, and a
    field renamed in the .proto reads as a silent NULL. These functions read
    (and, for the train family, write) the busiest bodies once, into structs
    with one member per field:

    - rfk_service_config_t: service.ServiceConfig, read by the advisor, the
      trainer, the predictor and the inference worker;
    - rfk_trial_to_load_t: service.TrialToLoad, read by the inference worker;
    - rfk_past_trial_t: service.PastTrial, read by the advisor (admin writes);
    - rfk_proposal_t: train.Proposal, read by the trainer (the advisor writes);
    - rfk_result_t: train.Result, read by the advisor (the trainer writes).

    rfk_bodies.c names each key through the protoc-c struct of its message,
    so a field renamed or removed in the .proto fails to compile there, and
    nowhere else needs to change.

    Ownership: a view borrows from the message it was read from (strings,
    json_t values); it is valid while the message lives and unchanged. A
    writer's struct is borrowed too; the new message is the caller's.
*/
#ifndef RFK_BODIES_H_INCLUDED
#define RFK_BODIES_H_INCLUDED

#include "rfk_msg.h"
#include "rfk_states.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most bind endpoints a ServiceConfig carries (a predictor's three). */
#define RFK_SERVICE_CONFIG_BINDS 4

/* admin's ServiceConfig: everything a service needs; fields that do not
   apply to the service's type are NULL. */
typedef struct {
    const char *service_id;         /* the service's store id */
    const char *service_type;       /* ADVISOR, TRAIN, PREDICT, INFERENCE */
    const char *task;               /* the job's task */
    const char *train_job_id;       /* train side: the train job */
    const char *sub_train_job_id;   /* its sub train job */
    const char *model_id;           /* the model of the sub train job */
    const char *model_name;         /* its name */
    const char *model_path;         /* the template .so */
    const char *train_dataset_path; /* the train dataset's file */
    const char *val_dataset_path;   /* the validation dataset's file */
    json_t *train_args;             /* the job's train args (object), or NULL */
    json_t *budget;                 /* the job's budget (object), or NULL */
    const char *advisor_endpoint;   /* a trainer's advisor */
    const char *worker_id;          /* the id a trainer gives itself */
    const char *inference_job_id;   /* inference side: the inference job */
    const char *predictor_endpoint; /* an inference worker's predictor `workers` */
    size_t bind_endpoint_count;     /* how many of bind_endpoints are set */
    const char *bind_endpoints[RFK_SERVICE_CONFIG_BINDS]; /* what an advisor or predictor binds */
    json_t *trials;         /* array of TrialToLoad objects, or NULL */
    json_t *config;         /* anything else (limits, knobs, ...) (object), or NULL */
    json_t *knobs;          /* an advisor's knob table (array of knobs), or NULL */
    json_t *past_trials;    /* an advisor's: its sub job's trials (PastTrial objects), or NULL */
    uint32_t last_trial_no; /* the highest trial number in use (0: none) */
    double elapsed_s;       /* seconds since the sub job started (NAN when absent) */
} rfk_service_config_t;

/* The most trials of a sub train job a ServiceConfig carries besides the
   open ones and the best (the latest by number; the tuner fits on fewer). */
#define RFK_PAST_TRIALS_MAX 1000

/* One entry of an advisor's ServiceConfig past_trials (service.PastTrial). */
typedef struct {
    uint32_t trial_no;         /* its number in the sub train job (0 when absent) */
    const char *trial_id;      /* admin's id */
    rfk_trial_status_t status; /* UNSET when absent or unknown */
    json_t *knobs;             /* the knob values (object), or NULL */
    json_t *policies;          /* the policies on (array of names), or NULL */
    double score;              /* NAN when absent */
    const char *worker_id;     /* the trainer that holds or held it, or NULL */
    const char *params_path;   /* its saved parameters, or NULL */
} rfk_past_trial_t;

/* One entry of ServiceConfig's trials (service.TrialToLoad). */
typedef struct {
    const char *trial_id;    /* the trained trial */
    const char *model_id;    /* its model */
    const char *model_name;  /* the model's name */
    const char *model_path;  /* the template .so */
    const char *params_path; /* the trial's saved parameters */
    uint32_t replicas;       /* workers serving it (0 when absent) */
} rfk_trial_to_load_t;

/* An advisor's Proposal of a trial to a trainer. */
typedef struct {
    uint32_t trial_no;                 /* its number in the sub train job */
    const char *trial_id;              /* admin's id of the trial, or NULL */
    json_t *knobs;                     /* the knob values (object), or NULL */
    json_t *policies;                  /* the policies on (array of names), or NULL */
    rfk_params_source_t params_source; /* UNSET when absent */
    const char *params_path;           /* the parameters to start from, or NULL */
} rfk_proposal_t;

/* A trainer's Result of a trial to its advisor. */
typedef struct {
    uint32_t trial_no;         /* the trial's number */
    const char *trial_id;      /* its id, or NULL */
    rfk_trial_status_t status; /* COMPLETED, ERRORED or PRUNED (UNSET when absent) */
    double score;              /* NAN when absent */
    const char *error;         /* why it ERRORED or was PRUNED, or NULL */
    const char *params_path;   /* the parameters saved, or NULL */
} rfk_result_t;

/* Reads msg's body into *view (zeroed first). 0, or -1 when msg is NULL or
   not of that type, or (ServiceConfig) has more than
   RFK_SERVICE_CONFIG_BINDS bind endpoints. */
int
rfk_service_config_read (const rfk_msg_t *msg, rfk_service_config_t *view);
int
rfk_proposal_read (const rfk_msg_t *msg, rfk_proposal_t *view);
/* Entry `index` of a ServiceConfig's trials; -1 when there is none. */
int
rfk_trial_to_load_read (const rfk_service_config_t *config, size_t index,
                        rfk_trial_to_load_t *view);
int
rfk_result_read (const rfk_msg_t *msg, rfk_result_t *view);
/* Entry `index` of a ServiceConfig's past_trials; -1 when there is none. */
int
rfk_past_trial_read (const rfk_service_config_t *config, size_t index, rfk_past_trial_t *view);

/* A new train-family message with the struct's fields as its body
   (NULL/UNSET/NAN fields are left out); NULL without memory. */
rfk_msg_t *
rfk_proposal_new (const rfk_proposal_t *proposal, uint64_t correlation);
rfk_msg_t *
rfk_result_new (const rfk_result_t *result, uint64_t correlation);

#ifdef __cplusplus
}
#endif

#endif
