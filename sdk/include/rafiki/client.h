/*  rafiki/client.h: librafiki, the C client of Rafiki-C's admin (and of a
    predictor's query socket).

    A session talks to admin's ZeroMQ `command` socket with the `admin`
    message family (DESIGN.md 2, API.md): one request, one reply, with a
    timeout per try and bounded retries. Replies are jansson objects shaped as
    API.md's JSON (the reply body's fields: {"users": [...]}, {"id": ...,
    "name": ...}); they are yours to json_decref. Every call that fails
    returns -1 or NULL and leaves the reason in rfk_sdk_error (): a code
    (RFK_SDK_NOT_FOUND, ...) and the server's message, or a local one
    ("admin isn't reachable at 127.0.0.1:3001 ...").

        rfk_sdk_options_t opts;
        rfk_sdk_options_init (&opts);            // host from $RAFIKI_ADMIN, ports from config
        rfk_sdk_t *sdk = rfk_sdk_new (&opts);
        if (!sdk || rfk_sdk_login (sdk, "superadmin@rafiki", password, NULL))
            fprintf (stderr, "%s\n", rfk_sdk_error (sdk)->message);
        json_t *list = rfk_sdk_datasets_list (sdk, NULL);
        ...
        json_decref (list);
        rfk_sdk_destroy (&sdk);

    Files (datasets, model templates) are uploaded in chunks read from the
    file as they go (UploadStart, then UploadChunk until the last), never
    held whole in memory; a progress callback hears of every chunk.

    A session is not thread-safe: use one per thread. Link with
    `pkg-config --cflags --libs rafiki` (meson: rfk_sdk_dep).
*/
#ifndef RAFIKI_CLIENT_H_INCLUDED
#define RAFIKI_CLIENT_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: the same numbers and names as the bus's Error codes. */
typedef enum {
    RFK_SDK_OK = 0,
    RFK_SDK_BAD_REQUEST = 1,     /* a field is missing or wrong (or a local argument) */
    RFK_SDK_UNAUTHORIZED = 2,    /* not logged in, bad or expired token, wrong password */
    RFK_SDK_FORBIDDEN = 3,       /* role or ownership */
    RFK_SDK_NOT_FOUND = 4,       /* unknown id, app or file */
    RFK_SDK_CONFLICT = 5,        /* conflicting state */
    RFK_SDK_TOO_LARGE = 6,       /* over a configured cap */
    RFK_SDK_UNAVAILABLE = 7,     /* admin (or a predictor) cannot take it now, or is not there */
    RFK_SDK_MALFORMED = 8,       /* a frame the other side could not read */
    RFK_SDK_UNKNOWN_MESSAGE = 9, /* a request the other side does not take */
    RFK_SDK_TIMEOUT = 10,        /* no answer in time */
    RFK_SDK_INTERNAL = 11,       /* the server's fault, or out of memory here */
    RFK_SDK_INTERRUPTED = 100,   /* SIGINT while waiting (local only) */
    RFK_SDK_IO = 101             /* a local file could not be read or written */
} rfk_sdk_code_t;

/* What went wrong with the last call. */
typedef struct {
    rfk_sdk_code_t code; /* RFK_SDK_OK after a call that succeeded */
    char message[512];   /* the server's message, or a local one */
} rfk_sdk_error_t;

/* The code's name ("NOT_FOUND"), static. */
const char *
rfk_sdk_code_name (rfk_sdk_code_t code);

/* Where admin is and how long to wait for it. Every field has a default:
   call rfk_sdk_options_init, then change what you need. */
typedef struct {
    const char *config_path; /* a Rafiki config file (rafikid --config), or NULL */
    const char *admin;       /* "host", "host:port" or "tcp://host:port" of the command socket;
                                NULL: $RAFIKI_ADMIN, else admin.host from the config if it is
                                not 0.0.0.0, else 127.0.0.1 */
    int command_port;        /* 0: admin.command_port from the config (or env) */
    int events_port;         /* 0: admin.events_port from the config (or env) */
    int timeout_ms;          /* per try; 0: bus.request_timeout_ms */
    int retries;             /* -1: bus.request_retries */
    const char *token;       /* a token to start with (e.g. from a token file), or NULL */
    const char *bus_key;     /* admin's public bus key (Z85, 40 characters) to pin; NULL:
                                $RAFIKI_PINNED_KEY, else <data_dir>/keys/bus.pub of a local
                                admin (the config's data_dir); one is needed while the
                                config's bus.curve is on (`rafiki login` stores it) */
} rfk_sdk_options_t;

typedef struct _rfk_sdk_t rfk_sdk_t;

/* Called after every chunk of an upload: sent bytes of total. Return 0 to go
   on, non-zero to cancel (the call then fails with INTERRUPTED). */
typedef int (rfk_sdk_progress_fn) (uint64_t sent, uint64_t total, void *arg);

/* Fills opts with the defaults. */
void
rfk_sdk_options_init (rfk_sdk_options_t *opts);

/* A session with admin. It checks that something listens at the command
   port (within the timeout) and fails fast otherwise. NULL on error, with
   the reason in *error if error is not NULL. */
rfk_sdk_t *
rfk_sdk_new (const rfk_sdk_options_t *opts, rfk_sdk_error_t *error);
/* Safe on NULL and twice. */
void
rfk_sdk_destroy (rfk_sdk_t **self_p);

/* The last call's error (code RFK_SDK_OK after a success). Borrowed; a
   NULL session gives a static "no session" error. */
const rfk_sdk_error_t *
rfk_sdk_error (const rfk_sdk_t *self);
/* "host:port" of admin's command socket, as used. */
const char *
rfk_sdk_admin_address (const rfk_sdk_t *self);
/* The events endpoint ("tcp://host:port"). */
const char *
rfk_sdk_events_endpoint (const rfk_sdk_t *self);

/* Admin's public bus key the session pinned (Z85), or NULL when the bus is
   plaintext (bus.curve off). Borrowed. */
const char *
rfk_sdk_bus_key (const rfk_sdk_t *self);

/* The token sent with every request (NULL: none). Copied. */
void
rfk_sdk_set_token (rfk_sdk_t *self, const char *token);
/* Borrowed; NULL when not logged in. */
const char *
rfk_sdk_token (const rfk_sdk_t *self);

/* Any admin request by body type ("GetMe", "ListTrials", ...) with a body
   (NULL: empty; borrowed): the reply's body, or NULL when the reply is an
   Error or the call failed. The escape hatch for what has no wrapper. */
json_t *
rfk_sdk_request (rfk_sdk_t *self, const char *type, json_t *body);

/* ---- users ---------------------------------------------------------------- */

/* Logs in and keeps the token for later calls. Returns {user_id, user_type,
   token}, or NULL. */
json_t *
rfk_sdk_login (rfk_sdk_t *self, const char *email, const char *password);
/* {"users": [...]} */
json_t *
rfk_sdk_users_list (rfk_sdk_t *self);
/* user_type: SUPERADMIN, ADMIN, MODEL_DEVELOPER or APP_DEVELOPER. The user. */
json_t *
rfk_sdk_user_create (rfk_sdk_t *self, const char *email, const char *password,
                     const char *user_type);
/* Bans the user; the user's record. */
json_t *
rfk_sdk_user_ban (rfk_sdk_t *self, const char *email);
/* The calling user. */
json_t *
rfk_sdk_me (rfk_sdk_t *self);

/* ---- datasets --------------------------------------------------------------- */

/* Uploads the file at path as a dataset: {id, name, task, size_bytes}.
   progress may be NULL. */
json_t *
rfk_sdk_dataset_upload (rfk_sdk_t *self, const char *path, const char *name, const char *task,
                        rfk_sdk_progress_fn *progress, void *arg);
/* A dataset admin downloads from url (http, https, or file beneath
   admin.dataset_url_file_root) and checks as an uploaded file: the record,
   or NULL with the reason naming the URL. The call waits for the download
   (within the session's timeout_ms). */
json_t *
rfk_sdk_dataset_from_url (rfk_sdk_t *self, const char *url, const char *name, const char *task);
/* {"datasets": [...]}, of a task when task is not NULL. */
json_t *
rfk_sdk_datasets_list (rfk_sdk_t *self, const char *task);
json_t *
rfk_sdk_dataset_get (rfk_sdk_t *self, const char *id);
/* {"id": ...} */
json_t *
rfk_sdk_dataset_delete (rfk_sdk_t *self, const char *id);

/* ---- models ----------------------------------------------------------------- */

/* What a model upload says besides the file. */
typedef struct {
    const char *name;         /* required */
    const char *task;         /* required */
    const char *model_class;  /* the template's class name; NULL: name */
    json_t *dependencies;     /* an object, or NULL; borrowed */
    const char *docker_image; /* or NULL */
    const char *access_right; /* "PRIVATE" (NULL) or "PUBLIC" */
} rfk_sdk_model_info_t;

/* Uploads a model template (.so): {id, user_id, name, ...}. */
json_t *
rfk_sdk_model_upload (rfk_sdk_t *self, const char *path, const rfk_sdk_model_info_t *info,
                      rfk_sdk_progress_fn *progress, void *arg);
/* {"models": [...]}: your models and the public ones, of a task if given. */
json_t *
rfk_sdk_models_list (rfk_sdk_t *self, const char *task);
json_t *
rfk_sdk_model_get (rfk_sdk_t *self, const char *id);
json_t *
rfk_sdk_model_delete (rfk_sdk_t *self, const char *id);
/* Writes the model's template file to out_path (mode 0644). 0 or -1. */
int
rfk_sdk_model_download (rfk_sdk_t *self, const char *id, const char *out_path);

/* ---- train jobs and trials ---------------------------------------------------- */

/* Creates a train job from a CreateTrainJob body (API.md's POST /train_jobs
   fields; borrowed): {id, app, app_version, ...}. */
json_t *
rfk_sdk_train_job_create (rfk_sdk_t *self, json_t *body);
/* Creates a train job from a YAML manifest (sdk/client/rfk_manifest.h):
   datasets given by name are looked up (the newest of that name and task),
   datasets given as files are uploaded first (progress may be NULL), model
   names are looked up among the available models of the task. A manifest
   error names the file, line and field. */
json_t *
rfk_sdk_train_job_create_from_manifest (rfk_sdk_t *self, const char *path,
                                        rfk_sdk_progress_fn *progress, void *arg);
/* {"train_jobs": [...]}: of user_id (NULL: yours). */
json_t *
rfk_sdk_train_jobs_list (rfk_sdk_t *self, const char *user_id);
/* {"train_jobs": [...]}: every version of app. */
json_t *
rfk_sdk_train_jobs_of_app (rfk_sdk_t *self, const char *app);
/* app_version -1: the latest. */
json_t *
rfk_sdk_train_job_get (rfk_sdk_t *self, const char *app, int app_version);
json_t *
rfk_sdk_train_job_stop (rfk_sdk_t *self, const char *app, int app_version);
/* {"trials": [...]}: limit/offset paging (0: server defaults); with best,
   the max_count best trials. */
json_t *
rfk_sdk_train_job_trials (rfk_sdk_t *self, const char *app, int app_version, unsigned limit,
                          unsigned offset, bool best, unsigned max_count);
json_t *
rfk_sdk_trial_get (rfk_sdk_t *self, const char *id);
/* {plots, metrics, messages} */
json_t *
rfk_sdk_trial_logs (rfk_sdk_t *self, const char *id);
/* Writes the trial's parameters (msgpack) to out_path. 0 or -1. */
int
rfk_sdk_trial_params_download (rfk_sdk_t *self, const char *id, const char *out_path);

/* ---- inference jobs ---------------------------------------------------------- */

/* From a CreateInferenceJob body {app, app_version, budget, max_trials,
   replicas, auth} (borrowed; auth "token": queries need a serving key):
   {id, train_job_id, app, app_version, predictor_host, auth}. */
json_t *
rfk_sdk_inference_job_create (rfk_sdk_t *self, json_t *body);
/* From an inference manifest. */
json_t *
rfk_sdk_inference_job_create_from_manifest (rfk_sdk_t *self, const char *path);
json_t *
rfk_sdk_inference_jobs_list (rfk_sdk_t *self, const char *user_id);
/* Every inference job of app, oldest first, in any state. */
json_t *
rfk_sdk_inference_jobs_of_app (rfk_sdk_t *self, const char *app);
/* The deployed (STARTED or RUNNING) inference job of app at app_version
   (-1: the latest version), as the original Rafiki answers it; NULL with
   RFK_SDK_NOT_FOUND when none is deployed (a stopped job is
   found through rfk_sdk_inference_jobs_of_app). */
json_t *
rfk_sdk_inference_job_get (rfk_sdk_t *self, const char *app, int app_version);
json_t *
rfk_sdk_inference_job_stop (rfk_sdk_t *self, const char *app, int app_version);

/* Serving keys of the deployed inference job of app at app_version, one
   created with `auth: token` (CONFLICT for an open one). create answers
   {id, label, datetime_created, key}: the key is shown this once (admin
   keeps its hash); list answers {keys: [{id, label, datetime_created}]};
   revoke {id}. The predictor refuses a revoked key at once. */
json_t *
rfk_sdk_serving_key_create (rfk_sdk_t *self, const char *app, int app_version, const char *label);
json_t *
rfk_sdk_serving_keys_list (rfk_sdk_t *self, const char *app, int app_version);
json_t *
rfk_sdk_serving_key_revoke (rfk_sdk_t *self, const char *app, int app_version, const char *id);

/* Stops every job (superadmin): {train_jobs: [ids], inference_jobs: [ids]}. */
json_t *
rfk_sdk_stop_all (rfk_sdk_t *self);

/* ---- events --------------------------------------------------------------- */

typedef struct _rfk_sdk_watch_t rfk_sdk_watch_t;

/* Subscribes to admin's events (topic prefixes such as "job.", "trial.<id>";
   NULL or "" for everything): those of the logged-in user's own jobs, or
   all of them for SUPERADMIN and ADMIN, as GET /events (admin checks the
   session's token with each subscription). NULL on error (in the session's
   error; UNAUTHORIZED without a token). */
rfk_sdk_watch_t *
rfk_sdk_watch_new (rfk_sdk_t *self, const char *topic);
/* Adds a topic prefix. */
void
rfk_sdk_watch_subscribe (rfk_sdk_watch_t *self, const char *topic);
/* The next event within timeout_ms (-1: wait until one comes or SIGINT):
   {"topic": ..., "type": "JobStatus", "event": {fields}}; NULL when none
   came in time or the wait was interrupted. Malformed events are skipped. */
json_t *
rfk_sdk_watch_next (rfk_sdk_watch_t *self, int timeout_ms);
void
rfk_sdk_watch_destroy (rfk_sdk_watch_t **self_p);

/* ---- predictions ------------------------------------------------------------ */

/* The ZeroMQ query endpoint of the running inference job of app
   (app_version -1: latest), from its predictor_host: "tcp://HOST:PORT+1"
   where predictor_host is "HOST:PORT" (the predictor's HTTP port; its
   `query` socket is the next port), or the job's query_endpoint field when
   admin reports one. Yours to free; NULL on error. */
char *
rfk_sdk_predictor_endpoint (rfk_sdk_t *self, const char *app, int app_version);
/* Sends queries (a JSON array; borrowed) to a predictor's query socket
   (endpoint as above) as one PredictRequest (msgpack), with a deadline
   (0: the predictor's default). Returns {"predictions": [...], "members": n,
   "members_answered": m}, or NULL. */
json_t *
rfk_sdk_predict (rfk_sdk_t *self, const char *endpoint, json_t *queries, unsigned deadline_ms);
/* The serving key rfk_sdk_predict sends from now on (a job with `auth:
   token` refuses queries without a valid one: UNAUTHORIZED); NULL: none.
   0, or -1 out of memory. */
int
rfk_sdk_set_serving_key (rfk_sdk_t *self, const char *key);

/* ---- JSON and msgpack ---------------------------------------------------------- */

/* A JSON value as msgpack bytes (malloc'd, *size_p set), or NULL. Integers
   stay integers, reals become float64, objects maps with string keys (the
   predictor's HTTP front converts the same way: proto/rfk_mpjson). */
void *
rfk_sdk_json_to_msgpack (const json_t *value, size_t *size_p);
/* msgpack bytes as JSON, or NULL when malformed (one whole object is
   expected). Binary and extension objects become null; map keys that are not
   strings are written as their JSON text. */
json_t *
rfk_sdk_msgpack_to_json (const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
