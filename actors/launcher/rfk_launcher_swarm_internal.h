/*  rfk_launcher_swarm_internal.h: what the swarm backend's files share (not installed, not for
    callers: they use rfk_launcher_swarm.h).

    The backend is split along its seams:
    - rfk_launcher_swarm.c: configuration, the backend operations, creation and reconcile;
    - rfk_launcher_swarm_engine.c: the Docker Engine API client over the unix socket (libcurl);
    - rfk_launcher_swarm_spec.c: the Docker service spec and secret of a Rafiki service;
    - rfk_launcher_swarm_follow.c: polling the tasks and turning them into launcher states;
    - rfk_launcher_swarm_logs.c: Docker logs, the saved log file, retiring a finished service.
*/
#ifndef RFK_LAUNCHER_SWARM_INTERNAL_H_INCLUDED
#define RFK_LAUNCHER_SWARM_INTERNAL_H_INCLUDED

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rfk_launcher_swarm.h"

//  The log component of every swarm line.
#define RFK_SWARM_LOG "launcher"
//  Largest Engine API answer read (a task list of a big cluster stays far below).
#define RFK_SWARM_RESPONSE_MAX (64u * 1024u * 1024u)
//  Where the secret appears in a service's container.
#define RFK_SWARM_SECRET_TARGET "rafiki-secret"
//  Swarm service names are DNS labels.
#define RFK_SWARM_NAME_MAX 63
//  Lines of a finished service's Docker log saved to <data_dir>/logs/<id>.log.
#define RFK_SWARM_SAVED_LINES 2000
//  Failed task ids remembered per service (each failure is counted once).
#define RFK_SWARM_FAILED_MAX 64

//  One Rafiki service run as a Docker service.
typedef struct {
    char id[RFK_LAUNCHER_ID_MAX + 1];      //  Rafiki's service id
    char role[33];                         //  rafikid role
    char name[RFK_SWARM_NAME_MAX + 1];     //  Docker service name (also the secret's)
    char docker_id[80];                    //  Docker service ID, "" once removed
    rfk_launcher_state_t state;            //  see rfk_launcher.h
    int restarts;                          //  failed tasks seen since the last stable run
    int exit_code;                         //  last task's exit code, -1 if none
    char reason[256];                      //  why it stopped or failed, or what its task waits for
    char failed[RFK_SWARM_FAILED_MAX][32]; //  ids of failed tasks already counted
    int n_failed;                          //  how many of them
    int64_t running_since;                 //  when we first saw its current task running, 0: not
    int64_t stop_deadline;                 //  STOPPING: remove it anyway after this
    bool secret_left;                      //  its secret could not be removed yet
} rfk_swarm_service_t;

//  The backend's state.
typedef struct {
    rfk_launcher_t *launcher; //  where events and errors go
    CURL *curl;               //  one easy handle, reused (keeps the connection)
    char *docker_socket;      //  copies of the configuration strings
    char *image;
    char *rafikid_path;
    char *service_config;
    char *network;
    char *data_dir;
    char *data_source;
    char *data_target;
    char *admin_host;
    char *name_prefix;
    char *instance;
    char *constraints;
    char *gpu_resource;
    char *gpu_constraint;
    char *train_constraints;
    char *serve_constraints;
    char *service_user;
    rfk_launcher_swarm_config_t config; //  the numbers (strings point to the copies above)
    rfk_swarm_service_t **services;     //  every service started and not forgotten
    size_t count;                       //  services in use
    size_t capacity;                    //  services allocated
    int64_t next_poll;                  //  when tick polls the engine next
    char error[512];                    //  why the last engine call failed (creation)
} rfk_swarm_t;

//  An Engine API answer.
typedef struct {
    long status;   //  HTTP status, 0 if the call failed
    char *body;    //  the body, NUL-terminated
    size_t length; //  its length
    bool too_big;  //  the body was cut at RFK_SWARM_RESPONSE_MAX
} rfk_swarm_response_t;

/* ---- rfk_launcher_swarm_engine.c: the Engine API ------------------------------------------ */

//  Record why something failed, on the launcher (after attach) and in self->error.
void
rfk_swarm_fail (rfk_swarm_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Free an answer's body and clear it.
void
rfk_swarm_response_free (rfk_swarm_response_t *response);

//  One Engine API call: method, path (with its query), optional JSON body. Returns 0 when the
//  engine answered (any HTTP status, in response->status), -1 when it could not be reached
//  (the error is set). The caller frees the response.
int
rfk_swarm_call (rfk_swarm_t *self, const char *method, const char *path, const json_t *body,
                rfk_swarm_response_t *response);

//  The engine's message in an error answer ({"message": "..."}), or its raw body.
void
rfk_swarm_engine_message (const rfk_swarm_response_t *response, char *message, size_t size);

//  A call whose answer is JSON: returns the parsed body (new reference) when the status is
//  2xx, NULL otherwise with the error set (the status in *status if not NULL).
json_t *
rfk_swarm_call_json (rfk_swarm_t *self, const char *method, const char *path, const json_t *body,
                     long *status);

//  A path with a filters query: filters is {key: [values]}, URL-encoded. 0 or -1 (error set).
int
rfk_swarm_filtered_path (rfk_swarm_t *self, const char *base, json_t *filters, char *path,
                         size_t size);

//  The Docker services labelled with this instance (a new JSON array), or NULL (error set).
json_t *
rfk_swarm_list_ours (rfk_swarm_t *self);

//  Remove a Docker object (services/NAME, secrets/NAME). 0 when gone (also if it was not
//  there), -1 otherwise.
int
rfk_swarm_remove (rfk_swarm_t *self, const char *kind, const char *name);

//  Check the engine: reachable, a swarm manager, the network there. 0 or -1 (error set).
int
rfk_swarm_check_engine (rfk_swarm_t *self);

/* ---- rfk_launcher_swarm_spec.c: what is created for a service ----------------------------- */

//  The spec of a Docker service for a Rafiki service (a new JSON object), or NULL when out of
//  memory.
json_t *
rfk_swarm_service_spec (rfk_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name,
                        const char *secret_id);

//  Create the service's Docker secret; returns its ID (the caller frees) or NULL (error set).
char *
rfk_swarm_create_secret (rfk_swarm_t *self, const rfk_launcher_spec_t *spec, const char *name);

//  The swarm backend's state of a launcher, or NULL when it runs another backend.
rfk_swarm_t *
rfk_swarm_of (rfk_launcher_t *launcher);

/* ---- rfk_launcher_swarm_follow.c: states from tasks --------------------------------------- */

//  True while a service is RUNNING, RESTARTING or STOPPING.
bool
rfk_swarm_live (const rfk_swarm_service_t *service);

//  Report a state change (and keep the reason for status).
void
rfk_swarm_set_state (rfk_swarm_t *self, rfk_swarm_service_t *service, rfk_launcher_state_t state,
                     const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  One poll: the Docker services labelled ours and the tasks of every live service.
void
rfk_swarm_poll (rfk_swarm_t *self, int64_t now);

/* ---- rfk_launcher_swarm_logs.c: logs and retirement --------------------------------------- */

//  A live Docker service's log (stdout and stderr), or NULL with the error set.
char *
rfk_swarm_docker_logs (rfk_swarm_t *self, const char *name, size_t max_lines);

//  A service reached STOPPED or ERRORED: save its logs, remove its Docker service and secret.
void
rfk_swarm_retire (rfk_swarm_t *self, rfk_swarm_service_t *service);

#endif
