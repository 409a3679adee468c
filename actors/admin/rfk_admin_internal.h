/*  rfk_admin_internal.h: the admin actor's state and the helpers its modules
    share. Not a public header: only actors/admin/rfk_admin*.c include it.

    - rfk_admin.c          the actor: setup, loop, dispatcher, events
    - rfk_admin_command.c  ROUTER `command`: reply cache, chunked uploads
    - rfk_admin_users.c    tokens, users, the superadmin
    - rfk_admin_files.c    datasets, models, their files
    - rfk_admin_uploads.c  streaming uploads: fields, file, digest, record
    - rfk_admin_checks.c   model checks in child processes
    - rfk_admin_jobs.c     train jobs, their trials' list, inference jobs, stop-all
    - rfk_admin_trials.c   one trial: GetTrial, its logs, its parameters
    - rfk_admin_launch.c   services: launching, tracking, stopping
    - rfk_admin_rollup.c   service states and the job states they roll up to,
                           stopping a job
    - rfk_admin_recover.c  what a previous run left live, at start: adopted
                           (either launcher) or ERRORED
    - rfk_admin_service_socket.c  ROUTER `service`: Hello, reports, trials
    - rfk_admin_endpoints.c  what advisors and predictors bound; their
                           dependents started once it is known
    - rfk_admin_records.c  store records as admin.proto JSON bodies
    - rfk_admin_events.c   events for the web admin (GET /events), its folder
    - rfk_admin_login.c    Login, CreateUser with their hash off the loop
    - rfk_admin_hash.c     the password hashing child process
    - rfk_admin_limits.c   failed logins per address and e-mail, per-user counters
*/
#ifndef RFK_ADMIN_INTERNAL_H_INCLUDED
#define RFK_ADMIN_INTERNAL_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_admin.h"
#include "rfk_admin_hash.h"
#include "rfk_admin_limits.h"
#include "rfk_admin_handlers.h"
#include "rfk_auth.h"
#include "rfk_broker.h"
#include "rfk_config.h"
#include "rfk_http_front.h"
#include "rfk_launcher.h"
#include "rfk_log.h"
#include "rfk_msg.h"
#include "rfk_store.h"

#define RFK_ADMIN_LOG "admin"

/* A dynamic service admin started and still tracks (live jobs only). */
typedef struct {
    char *id;               /* store id, also the launcher's handle */
    char *role;             /* rafikid role: advisor, trainer, predictor, inference */
    char *service_type;     /* store type: ADVISOR, TRAIN, PREDICT, INFERENCE */
    char *train_job_id;     /* the train job it serves, or NULL */
    char *sub_train_job_id; /* the sub train job it serves, or NULL */
    char *inference_job_id; /* the inference job it serves, or NULL */
    char *trial_id;         /* inference workers: the trial they hold */
    zframe_t *peer;         /* routing id on `service` once it said Hello, or NULL */
    bool job_ended;         /* admin stopped its job: its end rolls nothing up */
    bool held;              /* stored, not launched: waits for its provider's endpoints */
    bool deps_launched;     /* an advisor or predictor: its trainers or workers started */
    int relaunches;         /* adopted and died: started anew this many times */
    /* its status, as last set (rfk_admin_set_service_status) */
    rfk_service_status_t status;
} rfk_admin_service_t;

/* Which tracked services rfk_admin_stop_services stops (fields left NULL
   match any; services already STOPPED or ERRORED are left alone). */
typedef struct {
    const char *job_id;           /* of this train or inference job */
    const char *sub_train_job_id; /* of this sub train job */
    const char *except_id;        /* but not this service */
    bool job_ended;               /* admin stops their job: their ends roll nothing up */
} rfk_admin_services_of_t;

/* How many sockets and descriptors admin's loop polls, at most. */
#define RFK_ADMIN_POLL_MAX 12
/* Reads what woke a polled socket (NULL: its owner is handled every turn). */
typedef void (rfk_admin_reader_fn) (rfk_admin_t *self);

/* Admin's CurveZMQ state (rfk_admin_curve.c); all zero with bus.curve off. */
typedef struct {
    rfk_curve_pair_t pair; /* admin's keypair (<data_dir>/keys/bus.key) */
    uint8_t master[32];    /* derives the keys admin issues */
    rfk_zap_t *clients;    /* `command`: any client key */
    rfk_zap_t *services;   /* `service`, `events`: the tracked services' keys */
} rfk_admin_curve_t;

struct rfk_admin {
    const rfk_config_t *config; /* effective configuration (borrowed) */
    bool dev;                   /* --dev given */
    bool embedded;              /* rafikid up */
    bool terminated;            /* $TERM received */
    char *data_dir;             /* absolute */
    char *datasets_dir;         /* <data_dir>/datasets */
    char *models_dir;           /* <data_dir>/models */
    char *params_dir;           /* <data_dir>/params */
    char *logs_dir;             /* <data_dir>/logs */
    char *rafikid_path;         /* what services run */
    char *check_path;           /* the rafikid exec'd as `check-template` on uploads */
    char *env_password;         /* RAFIKI_SUPERADMIN_PASSWORD as it was at start, or NULL */
    char *connect_host;         /* how local services reach admin (127.0.0.1 for 0.0.0.0) */
    rfk_bus_opts_t bus;         /* the config's bus.* keys */
    rfk_admin_curve_t curve;    /* bus keys and ZAP policies (rfk_admin_curve.c) */
    uint64_t upload_max;        /* admin.upload_max_bytes */
    rfk_store_t *store;         /* the metadata store */
    rfk_auth_t *auth;           /* tokens, passwords, service secrets */
    rfk_launcher_t *launcher;   /* runs the dynamic services */
    rfk_server_t *command;      /* ROUTER `command` (admin family) */
    rfk_server_t *service;      /* ROUTER `service` (service family) */
    zsock_t *events;            /* XPUB `events`, subscriptions by token (rfk_admin_bus_events.c) */
    zhashx_t *channels;         /* its authenticated subscriptions, by channel id */
    char *events_endpoint;      /* the XPUB as bound */
    rfk_http_front_t *http;     /* the HTTP front, or NULL */
    int http_port;              /* as bound, 0 without a front */
    char *web_dir;              /* the web admin's files (rfk_admin_web_dir), or NULL */
    zhashx_t *event_owners;     /* "<kind>:<id>" -> owner user id, for GET /events */
    zhashx_t *services;         /* service id -> rfk_admin_service_t (tracked) */
    zlistx_t *to_forget;        /* ids of ended services the launcher may forget */
    zlistx_t *to_relaunch;      /* ids of adopted services that died, started anew next turn */
    zhashx_t *peers;            /* peer routing id (hex) -> service id */
    zhashx_t *uploads;          /* ZeroMQ upload id -> s_zupload_t (rfk_admin_command.c) */
    zhashx_t *replies;          /* "<peer>/<correlation>" -> rfk_msg_t (answered) */
    zhashx_t *answering;        /* "<peer>/<correlation>" of requests answered later */
    zlistx_t *checks;           /* model checks running or waiting (rfk_admin_checks.c) */
    int checks_fd;              /* epoll set of the checks' pipes and pidfds */
    zlistx_t *fetches;          /* dataset_url downloads (rfk_admin_fetch.c) */
    int fetch_fd;               /* eventfd the downloads write as they end */
    zlistx_t *reply_keys;       /* the keys of replies, oldest first */
    size_t requests;            /* requests answered, for the log */
    bool swarm;                 /* launcher.backend swarm (rfk_admin_swarm.c) */
    bool sandboxed;             /* local services running template code are sandboxed */
    bool confine_checks;        /* the check confines itself (--confine): no bwrap, not off */
    char *sandbox_refusal;      /* why train and inference jobs are refused, or NULL */
    zsock_t *pipe;              /* the actor's pipe (borrowed), once the loop runs */
    zmq_pollitem_t poll[RFK_ADMIN_POLL_MAX];          /* the loop's sockets and fds, added once */
    rfk_admin_reader_fn *readers[RFK_ADMIN_POLL_MAX]; /* what reads each item of poll */
    int poll_count;                                   /* items in poll */
    struct rfk_admin_swarm *swarm_state;              /* rfk_admin_swarm.c's, NULL under local */
    rfk_admin_hash_t *hash;     /* the password hashing child (rfk_admin_hash.c) */
    rfk_admin_limits_t *limits; /* failed logins, per-user counters */
    size_t user_max_uploads;    /* admin.user_max_uploads (0: no cap) */
    uint64_t logins_limited;    /* logins answered 429 */
    uint64_t logins_busy;       /* logins answered 503 (hash queue full) */
    zlistx_t *adopted;          /* ids of the services adopted at start (rfk_admin_recover.c) */
    int64_t hello_deadline;     /* when adopted services must have said Hello, or -1 */
    int64_t store_down_since;   /* when the store was found unreachable (zclock_mono), 0: up */
    int64_t store_retry_at;     /* while it is down: when the next request may try it */
    int64_t store_backoff_ms;   /* the wait between tries, doubled up to 5 s */
};

/* ---- replies and request fields (rfk_admin.c) ---------------------------- */

/* A new reply of type for request (its correlation id). */
rfk_msg_t *
rfk_admin_reply (const rfk_msg_t *request, const char *type);
/* An Error reply; the message is a printf format. */
rfk_msg_t *
rfk_admin_error (const rfk_msg_t *request, rfk_code_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
/* A new reply of type for request, body (stolen) its whole body. */
rfk_msg_t *
rfk_admin_reply_with (const rfk_msg_t *request, const char *type, json_t *body);
/* An Error reply for the store's last failure, prefixed with what we did. */
rfk_msg_t *
rfk_admin_store_error (rfk_admin_t *self, const rfk_msg_t *request, const char *doing);

/* ---- the store's outages (rfk_admin_outage.c) ---------------------------- */

/* While the store is down and its next try is not due: an UNAVAILABLE
   Error with retry_after_s for request (yours), else NULL (go ahead). */
rfk_msg_t *
rfk_admin_outage_gate (rfk_admin_t *self, const rfk_msg_t *request);
/* After work that may have used the store (rfk_store_calls was
   calls_before): the store found down starts or extends an outage, found
   up ends it. */
void
rfk_admin_outage_note (rfk_admin_t *self, uint64_t calls_before);
/* rfk_admin_outage_note, then an Error *reply_p that failed because the
   store was unreachable becomes UNAVAILABLE with retry_after_s. */
void
rfk_admin_outage_answer (rfk_admin_t *self, uint64_t calls_before, rfk_msg_t **reply_p);
/* The string field `name` of the request body, or NULL when absent. */
const char *
rfk_admin_field (const rfk_msg_t *request, const char *name);
/* The string field `name`, required and non-empty: returns it, or NULL with
 *error set to BAD_REQUEST naming the field. */
const char *
rfk_admin_require (const rfk_msg_t *request, const char *name, rfk_msg_t **error);
/* An integer field, or fallback when absent. */
int64_t
rfk_admin_int_field (const rfk_msg_t *request, const char *name, int64_t fallback);
/* Publish an event (event family type, body stolen) on topic "<prefix>.<id>". */
void
rfk_admin_publish (rfk_admin_t *self, const char *prefix, const char *id, const char *type,
                   json_t *body);
/* True for a task admin knows (RAFIKI_TASK_*). */
bool
rfk_admin_task_known (const char *task);
/* A new UUID v4 string (lower case, with dashes). */
char *
rfk_admin_uuid (void);
/* The time now as ISO-8601 UTC. */
void
rfk_admin_now_iso (char *buffer, size_t size);

/* ---- the ZeroMQ front (rfk_admin_command.c) ------------------------------- */
/* ROUTER `command` bound on endpoint, with its reply cache and upload
   tables (in self); NULL when it cannot bind. */
rfk_server_t *
rfk_admin_command_new (rfk_admin_t *self, const char *endpoint);
/* Forget uploads idle for too long (called now and then by the loop). */
void
rfk_admin_command_expire (rfk_admin_t *self);

/* ---- the web admin (rfk_admin_events.c) ----------------------------------- */
/* Hand an event admin publishes (type, its body) to the HTTP front's
   GET /events streams of the user owning its job (admins get every event). */
void
rfk_admin_events_forward (rfk_admin_t *self, const char *owner, const char *type,
                          const json_t *body);
/* The user id owning the job of an event (type, its body), from the store
   and cached; NULL for an event of no job (admins only). Borrowed. */
const char *
rfk_admin_event_owner (rfk_admin_t *self, const char *type, const json_t *body);

/* ---- the `events` socket (rfk_admin_bus_events.c) ------------------------- */
/* Binds `events` on endpoint (CURVE any client key, manual XPUB); 0, or -1
   with err. */
int
rfk_admin_bus_events_new (rfk_admin_t *self, const char *endpoint, char *err, size_t errlen);
void
rfk_admin_bus_events_destroy (rfk_admin_t *self);
/* Reads a subscription: "auth <token> <topic>" opens a channel. */
void
rfk_admin_bus_events_read (rfk_admin_t *self);
/* Channels open (nothing is looked up for events while there are none). */
size_t
rfk_admin_bus_events_channels (rfk_admin_t *self);
/* Sends event (topic "<prefix>.<id>", owned by owner) to each channel that
   may see it. */
void
rfk_admin_bus_events_publish (rfk_admin_t *self, const char *owner, const char *topic,
                              const rfk_msg_t *event);

/* The web admin's folder (admin.web_dir, else the build's, else the
   installed one; see rfk_admin_events.c), or NULL for the placeholder. */
char *
rfk_admin_web_dir (const rfk_config_t *config);

/* ---- keys under <data_dir>/keys/ (rfk_admin_keys.c) ----------------------- */
/* The key <data_dir>/keys/<name> of size bytes: read, or made once (0600,
   atomically) when missing, then *created is true. -1 with err naming the
   file when it is damaged, a link, or readable by others. */
int
rfk_admin_key_load (const char *data_dir, const char *name, unsigned char *key, size_t size,
                    bool *created, char *err, size_t errlen);

/* ---- CurveZMQ on the bus (rfk_admin_curve.c) ---------------------------- */
/* Loads (or makes once) admin's keypair and starts its ZAP policies; with
   bus.curve off only warns. 0, or -1 with err. */
int
rfk_admin_curve_start (rfk_admin_t *self, char *err, size_t errlen);
void
rfk_admin_curve_stop (rfk_admin_t *self);
/* opts: admin's bus options for a server socket admitting any client key
   (any_client) or only the tracked services' keys. */
void
rfk_admin_curve_opts (const rfk_admin_t *self, rfk_bus_opts_t *opts, bool any_client);
/* What the launcher hands service: its secret, then (curve on) its keys,
   "SECRET OWN GROUP ADMIN" (rfk_curve.h). 0, or -1 when text is too short. */
int
rfk_admin_curve_issue (const rfk_admin_t *self, const rfk_admin_service_t *service,
                       const char *secret, char *text, size_t size);
/* Admits (admit) or forgets a service's key on `service` and `events`. */
void
rfk_admin_curve_admit (rfk_admin_t *self, const char *service_id, bool admit);
/* The public key of a job group (sub train job or inference job id): what
   its advisor or predictor serves with. 0, or -1 with curve off. */
int
rfk_admin_curve_group_public (const rfk_admin_t *self, const char *group_id,
                              char public_key[RFK_CURVE_KEY_LEN + 1]);

/* ---- users and tokens (rfk_admin_users.c) --------------------------------- */
int
rfk_admin_auth_setup (rfk_admin_t *self, char *err, size_t errlen);
int
rfk_admin_seed_superadmin (rfk_admin_t *self, char *err, size_t errlen);
/* Verify a request's token: 0 with the claims, or -1 with *error
   (UNAUTHORIZED with the reason). */
int
rfk_admin_authenticate (rfk_admin_t *self, const rfk_msg_t *request, const char *token,
                        rfk_auth_claims_t *claims, rfk_msg_t **error);
rfk_msg_t *
rfk_admin_on_login (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
/* The answer to a Login for user once its password was checked (verified
   or not): a Token, or UNAUTHORIZED (wrong password, banned). */
rfk_msg_t *
rfk_admin_login_reply (rfk_admin_t *self, const rfk_msg_t *req, const rfk_user_t *user,
                       bool verified);
/* CreateUser's checks before the hash (fields, role, a free e-mail): NULL
   when it may go on, else the Error. */
rfk_msg_t *
rfk_admin_create_user_check (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller);
/* CreateUser's end once its password was hashed: the user stored. */
rfk_msg_t *
rfk_admin_create_user_store (rfk_admin_t *self, const rfk_msg_t *req, const char *caller_id,
                             const char *hash);
/* Password hashing off the loop (rfk_admin_login.c): the pool and the
   limits from the config (0, or -1 with err); s_self_destroy ends them. */
int
rfk_admin_login_setup (rfk_admin_t *self, char *err, size_t errlen);
rfk_msg_t *
rfk_admin_on_list_users (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_create_user (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_ban_user (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_me (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);

/* ---- uploads (rfk_admin_uploads.c) ---------------------------------------- */
/* The user id that began an upload. */
const char *
rfk_admin_upload_user (const rfk_upload_t *up);
/* Bytes received so far, and the most it may take (admin.upload_max_bytes). */
uint64_t
rfk_admin_upload_received (const rfk_upload_t *up);
uint64_t
rfk_admin_upload_cap (const rfk_upload_t *up);
/* Its dataset_url is being downloaded into it: once done it is finished as
   a file sent by the client. */
void
rfk_admin_upload_fetching (rfk_upload_t *up);
/* The upload's name, declared task, and partial file (for its check). */
const char *
rfk_admin_upload_name (const rfk_upload_t *up);
const char *
rfk_admin_upload_task (const rfk_upload_t *up);
const char *
rfk_admin_upload_part_path (const rfk_upload_t *up);
/* Remove partial upload files left by an earlier run. */
void
rfk_admin_clean_partial_uploads (rfk_admin_t *self);
/* The end of an upload once its file was checked (rc 0, with the template's
   verdict for a model, stolen) or refused (rc -1, the reason in err): the
   file renamed, its digest written and the record stored, or the file
   removed. Consumes the upload; the reply (never NULL). */
rfk_msg_t *
rfk_admin_upload_conclude (rfk_admin_t *self, rfk_upload_t *up, int rc, json_t *verdict, char *err,
                           size_t errlen);
/* Free an upload and remove its partial file, silently. Safe twice. */
void
rfk_admin_upload_destroy (rfk_upload_t **up_p);

/* ---- datasets by URL (rfk_admin_fetch.c) ---------------------------------- */
/* Downloads off admin's loop: poll rfk_admin_fetch_fd (an eventfd) for
   input and call rfk_admin_fetch_tick every turn. 0, or -1. */
int
rfk_admin_fetch_setup (rfk_admin_t *self);
int
rfk_admin_fetch_fd (rfk_admin_t *self);
/* Fetch url into the dataset upload *up_p (taken): NULL, and done hears the
   reply when the download and the dataset's check end; or the Error reply
   now (the URL refused, too many downloads at once). */
rfk_msg_t *
rfk_admin_fetch_start (rfk_admin_t *self, rfk_upload_t **up_p, const char *url,
                       rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket);
/* Conclude the downloads that ended. */
void
rfk_admin_fetch_tick (rfk_admin_t *self);
/* Stop every download (cancelled, joined, their files removed). */
void
rfk_admin_fetch_destroy (rfk_admin_t *self);
/* ---- secrets in the environment (rfk_admin_secrets.c) ------------------ */
/* At start: PR_SET_DUMPABLE 0, keep RAFIKI_SUPERADMIN_PASSWORD in
   self->env_password, then overwrite and unset every variable that may carry
   a secret. 0, or -1 out of memory. */
int
rfk_admin_secrets_take (rfk_admin_t *self);
/* Zero and free self->env_password. */
void
rfk_admin_secrets_forget (rfk_admin_t *self);

/* ---- model checks (rfk_admin_checks.c) ------------------------------------ */
/* The model checks in child processes, driven by admin's loop: poll
   rfk_admin_checks_fd for input, add rfk_admin_checks_deadline (-1: none) to
   the loop's deadline, call rfk_admin_checks_tick every turn (it ends the
   checks that finished or timed out and calls their done functions).
   rfk_admin_checks_destroy kills the children still running, removes their
   files and calls their done functions with a NULL reply. */
int
rfk_admin_checks_setup (rfk_admin_t *self);
void
rfk_admin_checks_destroy (rfk_admin_t *self);
int
rfk_admin_checks_fd (rfk_admin_t *self);
int64_t
rfk_admin_checks_deadline (rfk_admin_t *self);
void
rfk_admin_checks_tick (rfk_admin_t *self);
/* Check a closed model upload (started now, or when a turn is free); done
   hears the reply. 0 and *up_p taken, or -1 with the reason in err (the
   upload still the caller's). */
int
rfk_admin_checks_add (rfk_admin_t *self, rfk_upload_t **up_p, rfk_admin_upload_done_fn *done,
                      void *arg, uint64_t ticket, char *err, size_t errlen);

/* ---- datasets and models (rfk_admin_files.c) ------------------------------ */
rfk_msg_t *
rfk_admin_on_list_datasets (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_dataset (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_delete_dataset (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_list_available_models (rfk_admin_t *self, const rfk_msg_t *req,
                                    const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_model (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_delete_model (rfk_admin_t *self, const rfk_msg_t *req,
                           const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_model_file (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller);
/* A FileData reply with the whole file at path, which must lie in the
   folder dir with no symbolic link on the way (FORBIDDEN otherwise;
   NOT_FOUND, TOO_LARGE over one frame). */
rfk_msg_t *
rfk_admin_file_reply (rfk_admin_t *self, const rfk_msg_t *req, const char *dir, const char *path,
                      const char *name);
/* Remove a stored file and its .sha256 digest (path NULL: nothing). */
void
rfk_admin_unlink_with_digest (const char *path);
/* The absolute path of a stored dataset / model file (yours to free). */
char *
rfk_admin_dataset_path (rfk_admin_t *self, const rfk_dataset_t *dataset);
char *
rfk_admin_model_path (rfk_admin_t *self, const rfk_model_t *model);

/* ---- jobs and trials (rfk_admin_jobs.c, rfk_admin_trials.c) ------------- */
rfk_msg_t *
rfk_admin_on_create_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                               const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_list_train_jobs (rfk_admin_t *self, const rfk_msg_t *req,
                              const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_train_jobs_of_app (rfk_admin_t *self, const rfk_msg_t *req,
                                    const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_stop_train_job (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_list_trials (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_trial (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_trial_logs (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_trial_parameters (rfk_admin_t *self, const rfk_msg_t *req,
                                   const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_create_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                   const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_list_inference_jobs (rfk_admin_t *self, const rfk_msg_t *req,
                                  const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_inference_jobs_of_app (rfk_admin_t *self, const rfk_msg_t *req,
                                        const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_get_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_stop_inference_job (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_stop_all_jobs (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller);
/* The caller's newest inference job of the request's app / app_version
   (only a STARTED or RUNNING one when live_only); NULL with *error. */
rfk_inference_job_t *
rfk_admin_inference_job_of (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller, bool live_only, rfk_msg_t **error);

/* ---- serving keys (rfk_admin_serving_keys.c) ------------------------------ */

/* CreateServingKey, ListServingKeys, RevokeServingKey of an inference job
   with auth "token". */
rfk_msg_t *
rfk_admin_on_create_serving_key (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_list_serving_keys (rfk_admin_t *self, const rfk_msg_t *req,
                                const rfk_auth_claims_t *caller);
rfk_msg_t *
rfk_admin_on_revoke_serving_key (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller);
/* Sets "auth" and, for "token", "serving_keys" (the valid keys' hashes) in
   a predictor's ServiceConfig.config. */
void
rfk_admin_serving_keys_config (rfk_admin_t *self, const rfk_inference_job_t *job, json_t *config);
/* Sends the predictor of a job with auth "token" its valid keys
   (ServingKeys), if it is connected. */
void
rfk_admin_serving_keys_push (rfk_admin_t *self, const rfk_inference_job_t *job);
/* Stop a train job / an inference job: services, statuses, trials
   (rfk_admin_rollup.c). */
void
rfk_admin_stop_train_job (rfk_admin_t *self, const char *train_job_id, const char *reason);
void
rfk_admin_stop_inference_job (rfk_admin_t *self, const char *inference_job_id, const char *reason);

/* ---- endpoints (rfk_admin_endpoints.c) ------------------------------------ */
/* An advisor or a predictor reported RUNNING with the endpoints it bound
   (StatusReport.endpoints, in the order of its bind_endpoints): record them
   (the advisor's endpoint; the predictor's predictor_host, query, workers)
   before its job rolls up. 0, or -1 with err when they are missing or
   malformed (or the store failed). */
int
rfk_admin_provider_running (rfk_admin_t *self, const char *service_id, const json_t *endpoints,
                            char *err, size_t errlen);
/* Start, once, what waited for a RUNNING provider's endpoints: an advisor's
   trainers, a predictor's held workers. */
void
rfk_admin_launch_dependents (rfk_admin_t *self, const char *service_id);
/* The service_info of a new predictor: what it binds (port 0 under the
   local launcher; under swarm a fixed HTTP port, set in *http_port, to
   publish), with http_host; NULL when no port is left (swarm). */
json_t *
rfk_admin_predictor_info (rfk_admin_t *self, const char *http_host, int *http_port);
/* True when endpoint is "scheme://HOST:PORT" with a real port (not 0, *). */
bool
rfk_admin_endpoint_known (const char *endpoint);

/* ---- services (rfk_admin_launch.c) ---------------------------------------- */
/* The launcher's event callback (arg is the admin). */
void
rfk_admin_on_launcher_event (void *arg, const char *service_id, rfk_launcher_state_t state,
                             const char *reason);
/* Create (in the store, in one transaction with its link) and launch one
   service. kind: "advisor" (link = sub train job; it binds
   tcp://127.0.0.1:* and reports its endpoint), "trainer" (sub train job).
   Returns the service id (yours) or NULL when the store refused; a launch
   failure leaves the service ERRORED and rolled up. */
char *
rfk_admin_launch_train_service (rfk_admin_t *self, const char *role, const char *train_job_id,
                                const char *sub_train_job_id);
/* Launch a held service (rfk_admin_service_t.held) with a new secret, its
   hash stored first. */
void
rfk_admin_launch_held (rfk_admin_t *self, const char *service_id);
/* An adopted local service died without being asked to (the launcher
   cannot restart it: its secret went with the old admin): true when it
   will be started anew, with a new secret, after this turn
   (rfk_admin_relaunch_due). */
bool
rfk_admin_relaunch_adopted (rfk_admin_t *self, const char *service_id, const char *reason);
/* Starts anew the services rfk_admin_relaunch_adopted took (outside the
   launcher's callbacks). */
void
rfk_admin_relaunch_due (rfk_admin_t *self);

/* Track and launch an already stored service (inference jobs). */
void
rfk_admin_launch_stored_service (rfk_admin_t *self, const char *service_id, const char *role,
                                 const char *secret, const char *train_job_id,
                                 const char *sub_train_job_id, const char *inference_job_id,
                                 const char *trial_id);
/* Track a service (status STARTED) under its store id; NULL without memory. */
rfk_admin_service_t *
rfk_admin_track (rfk_admin_t *self, const char *id, const char *role, const char *train_job_id,
                 const char *sub_train_job_id, const char *inference_job_id, const char *trial_id);
/* Stop one tracked service (Stop message, then the launcher). */
void
rfk_admin_stop_service (rfk_admin_t *self, const char *service_id, const char *reason);
/* Stop the tracked services `which` names (all of them for {0}): the one
   way admin stops the services of a job, a sub train job, or everything. */
void
rfk_admin_stop_services (rfk_admin_t *self, const rfk_admin_services_of_t *which,
                         const char *reason);
void
rfk_admin_service_destroy (rfk_admin_service_t **self_p);
/* The rafikid role of a store service type ("advisor" for ADVISOR ...). */
const char *
rfk_admin_role_of (const char *service_type);

/* ---- states and roll-ups (rfk_admin_rollup.c) ------------------------------ */
/* Set a service's status (store, memory, event) and roll its job up: the
   job is read once, and every status that changed is written at once. */
void
rfk_admin_set_service_status (rfk_admin_t *self, const char *service_id,
                              rfk_service_status_t status, const char *message);
/* Publish a JobStatus event (kind TRAIN or INFERENCE; sub_id for a sub
   train job's, else NULL). */
void
rfk_admin_publish_job (rfk_admin_t *self, const char *kind, const char *id, const char *app,
                       int64_t version, rfk_job_status_t status, const char *sub_id);

/* ---- start (rfk_admin_recover.c) ------------------------------------------- */
/* At start: services a previous run left live that may still run are
   tracked for the launcher to adopt (self->adopted), and their jobs stay
   live; the others, and jobs with none adopted, are ERRORED. */
void
rfk_admin_recover (rfk_admin_t *self);
/* Under the local launcher, once admin's sockets are up: hand the adopted
   services to the launcher by pid and start time; one it cannot take (gone,
   or its pid is another process now) is ERRORED. */
void
rfk_admin_adopt_local (rfk_admin_t *self);
/* When rfk_admin_adopted_tick has work (zclock_mono time), -1 for none. */
int64_t
rfk_admin_adopted_deadline (rfk_admin_t *self);
/* Stop the jobs of adopted services that did not say Hello again in time. */
void
rfk_admin_adopted_tick (rfk_admin_t *self, int64_t now);

/* A service adopted at start that its launcher now restarts: it leaves the
   adoption deadline's list (its new process's Hello, or the launcher's
   verdict, decides). */
void
rfk_admin_adopted_forget (rfk_admin_t *self, const char *service_id);

/* ---- the service socket (rfk_admin_service_socket.c) ----------------------- */
extern const rfk_server_route_t rfk_admin_service_routes[];
void
rfk_admin_service_expired (rfk_server_t *server, zframe_t *peer, void *ctx);

/* ---- records (rfk_admin_records.c) ---------------------------------------- */
json_t *
rfk_admin_user_json (const rfk_user_t *user);
json_t *
rfk_admin_dataset_json (const rfk_dataset_t *dataset);
json_t *
rfk_admin_model_json (rfk_admin_t *self, const rfk_model_t *model);
json_t *
rfk_admin_train_job_json (rfk_admin_t *self, const rfk_train_job_t *job);
json_t *
rfk_admin_trial_json (rfk_admin_t *self, const rfk_trial_t *trial, const rfk_train_job_t *job);
json_t *
rfk_admin_inference_job_json (rfk_admin_t *self, const rfk_inference_job_t *job);

/* ---- placement (rfk_admin_placement.c) ------------------------------------ */
/* What rfk_admin_placement_spec fills besides the spec: the parts of the data
   dir a swarm service mounts (box.ro_paths, box.rw_paths point into paths). */
typedef struct {
    rfk_sandbox_spec_t box; /* spec->sandbox under swarm: only its paths are used */
    char *paths[4];         /* the paths themselves, freed by rfk_admin_placement_free */
} rfk_admin_placement_t;
/* Refuse (409, *error) a budget whose GPU_COUNT is above what one node
   offers: under swarm the most any node advertises, under the local launcher
   launcher.gpus. 0 when it fits or asks for none. */
int
rfk_admin_check_gpus (rfk_admin_t *self, const rfk_msg_t *req, const json_t *budget,
                      rfk_msg_t **error);
/* Fill spec's cpus, memory_bytes and gpus (config per role, the job's
   budget) and, under swarm, spec->sandbox with the parts of the data dir the
   service mounts. Free placement with rfk_admin_placement_free after the
   start. */
void
rfk_admin_placement_spec (rfk_admin_t *self, const rfk_admin_service_t *service,
                          rfk_launcher_spec_t *spec, rfk_admin_placement_t *placement);
void
rfk_admin_placement_free (rfk_admin_placement_t *placement);
/* Under swarm: the address of the node the predictor's task runs on, into
   host (returned); NULL under local or when unknown. */
const char *
rfk_admin_predictor_host (rfk_admin_t *self, const char *service_id, char *host, size_t size);

/* ---- the swarm launcher (rfk_admin_swarm.c) ------------------------------- */
/* Create self->launcher with the swarm backend, adopting the tracked
   services. Returns 0, or -1 with err set. */
int
rfk_admin_swarm_launcher_new (rfk_admin_t *self, char *err, size_t errlen);
/* Replay the launcher events held during its creation (once admin's
   sockets are up). */
void
rfk_admin_swarm_replay (rfk_admin_t *self);
/* Free what rfk_admin_swarm_launcher_new kept. */
void
rfk_admin_swarm_destroy (rfk_admin_t *self);
/* The endpoint a service binds (bind true) or its peers connect to, from
   the endpoint admin chose ("scheme://host:port"): unchanged under the local
   launcher; under swarm scheme://0.0.0.0:port to bind and
   scheme://<Docker service name of service_id>:port to connect. */
void
rfk_admin_service_endpoint (rfk_admin_t *self, const char *endpoint, const char *service_id,
                            bool bind, char *out, size_t size);

/* Write <data_dir>/rafikid.ports (http=, command=, service=, events= the
   ports admin bound, one a line), atomically, mode 0600; -1 with err.
   (rfk_admin_ports.c) */
int
rfk_admin_ports_write (const char *data_dir, int http_port, const char *command,
                       const char *service, const char *events, char *err, size_t errlen);
/* The `service` port a previous admin left in <data_dir>/rafikid.ports (it
   was killed: a clean stop removes the file), or 0. */
int
rfk_admin_ports_last_service (const char *data_dir);
/* Remove <data_dir>/rafikid.ports (on a clean stop). */
void
rfk_admin_ports_remove (const char *data_dir);

#endif
