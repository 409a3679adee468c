/*  rfk_test_platform.h: a real `rafikid up` for the tests that kill and
    restart parts of the platform (test_admin_restart, test_store_restart,
    test_chaos, bench_recovery).

    One platform is one data dir under a temporary folder and the `rafikid
    up` running on it, with an SDK session logged in as the superadmin.
    Every pid the test sees (admin, and each service found by the
    RAFIKI_DATA_DIR in its environment) is recorded, and
    rfk_test_platform_teardown kills whatever of them still runs, also
    when a case failed half way (call it from the case's cmocka teardown).
    A second PostgreSQL server of the test's own (rfk_test_pg_*) can be
    stopped and started again under a running admin without touching the
    server the rest of the suite shares.
*/
#ifndef RFK_TEST_PLATFORM_H_INCLUDED
#define RFK_TEST_PLATFORM_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <limits.h>
#include <rafiki/client.h>
#include <stdbool.h>
#include <sys/types.h>

#define RFK_TEST_PLATFORM_PIDS 256 /* pids a platform records */

/* One `rafikid up` on a test's data dir. */
typedef struct {
    char *dir;                          /* the test's temporary folder */
    char var[PATH_MAX];                 /* the data dir (dir/var, resolved) */
    const char *password;               /* the superadmin's */
    const char *const *vars;            /* more NAME=value for rafikid up, NULL-ended, or NULL */
    pid_t pid;                          /* rafikid up, 0 when none runs */
    char http[64];                      /* admin's REST API: http://127.0.0.1:PORT */
    int command_port;                   /* admin's `command` socket */
    int events_port;                    /* admin's `events` socket */
    int service_port;                   /* admin's `service` socket, the same across restarts */
    rfk_sdk_t *sdk;                     /* logged in as the superadmin, or NULL */
    pid_t pids[RFK_TEST_PLATFORM_PIDS]; /* every pid seen, for the teardown */
    size_t pid_count;                   /* how many */
    long up_log_at;                     /* the size of <data_dir>/logs/up.log when the
                                           running `rafikid up` started */
    char train_id[64];                  /* the iris-train dataset's id, "" before uploaded */
    char val_id[64];                    /* the iris-val dataset's id */
} rfk_test_platform_t;

/* Makes the folder (/tmp/rfk-<name>-XXXXXX) and its data dir. 0 or -1. */
int
rfk_test_platform_init (rfk_test_platform_t *self, const char *name);
/* Starts `rafikid up` (every port 0 but `service`, which stays the same
   across restarts; heartbeats of 200 ms, so services notice admin's absence
   within a second), waits for its ports and logs in. 0, or -1 with why in err. */
int
rfk_test_platform_up (rfk_test_platform_t *self, char *err, size_t errlen);
/* SIGKILL to `rafikid up` and wait for it (the SDK session is dropped). 0 or -1. */
int
rfk_test_platform_kill (rfk_test_platform_t *self);
/* SIGTERM to `rafikid up` and wait for its clean exit; its status. */
int
rfk_test_platform_stop (rfk_test_platform_t *self, int timeout_ms);
/* Kills every recorded pid and every service of the data dir that still
   runs, drops the SDK session, removes the folder (kept with
   RAFIKI_TEST_KEEP=1). Safe twice. */
void
rfk_test_platform_teardown (rfk_test_platform_t *self);
/* A cmocka setup for a case that runs one platform: *state is a new,
   zeroed rfk_test_platform_t (init it in the case). 0 or -1. */
int
rfk_test_platform_case_setup (void **state);
/* Its teardown: rfk_test_platform_teardown, then frees *state. 0. */
int
rfk_test_platform_case_teardown (void **state);
/* A cmocka case with that setup and teardown (where <cmocka.h> is included). */
#define RFK_TEST_PLATFORM_CASE(fn)                                                                 \
    cmocka_unit_test_setup_teardown (fn, rfk_test_platform_case_setup,                             \
                                     rfk_test_platform_case_teardown)
/* Records a pid for the teardown. */
void
rfk_test_platform_record (rfk_test_platform_t *self, pid_t pid);

/* The services of the platform that run: service id -> pid (text), found
   by RAFIKI_DATA_DIR and RAFIKI_SERVICE_ID in their environment; each is
   recorded. With role non-NULL, only those whose RAFIKI_SERVICE_ROLE is role. */
zhashx_t *
rfk_test_platform_services (rfk_test_platform_t *self, const char *role);
/* Sends signum to every process of the service (its sandbox's wrapper
   too), 0 only counts them; how many there were. */
int
rfk_test_platform_signal_service (rfk_test_platform_t *self, const char *service_id, int signum);
/* Whether none of the pids (the values of services) runs any more. */
bool
rfk_test_pids_gone (void *services);
/* Whether every service (id -> pid) logged that a new admin adopted it
   and took its Hello again. */
bool
rfk_test_platform_rehelloed (rfk_test_platform_t *self, zhashx_t *services);
/* Whether the running admin took a Hello (a first one or one said again)
   from every service (id -> pid) since it started: its up.log says
   `service-hello id=<id>` after up_log_at. */
bool
rfk_test_platform_hellos (rfk_test_platform_t *self, zhashx_t *services);
/* Whether some file under <data_dir>/logs holds what. */
bool
rfk_test_platform_log_says (rfk_test_platform_t *self, const char *what);

/* The newest job of app as admin lists it (a train or an inference job),
   or NULL. */
json_t *
rfk_test_platform_job (rfk_test_platform_t *self, const char *app, bool inference);
/* Waits until the newest job of app is wanted (or ERRORED); the job as last
   read (yours), NULL if it never was. */
json_t *
rfk_test_platform_wait_job (rfk_test_platform_t *self, const char *app, bool inference,
                            const char *wanted, int timeout_ms);

/* Uploads iris-train.csv and iris-val.csv of the folder $RAFIKI_TEST_IRIS
   as TABULAR_CLASSIFICATION datasets iris-train and iris-val, their ids in
   train_id and val_id; once per platform (later calls keep the ids). 0, or
   -1 with why in err. */
int
rfk_test_platform_iris (rfk_test_platform_t *self, char *err, size_t errlen);
/* Uploads the template at path as a PUBLIC TABULAR_CLASSIFICATION model
   called name: its id (yours), or NULL with why in err. */
char *
rfk_test_platform_model (rfk_test_platform_t *self, const char *path, const char *name, char *err,
                         size_t errlen);

/* A train job on iris (rfk_test_platform_train). */
typedef struct {
    const char *app;        /* the app */
    const char *model_path; /* the template to upload */
    const char *model_name; /* the model's name */
    int trials;             /* MODEL_TRIAL_COUNT */
    const char *sleepy_ms;  /* train_args {sleepy_ms, sleepy_steps: 1} (the test's Sleepy
                               template), or NULL for none */
} rfk_test_train_t;

/* Uploads iris (rfk_test_platform_iris) and the job's model, and creates
   the train job. 0, or -1 with why in err. */
int
rfk_test_platform_train (rfk_test_platform_t *self, const rfk_test_train_t *train, char *err,
                         size_t errlen);

/* method url [token] [body] -> HTTP status (0 when no connection); *json_p the
   answer's JSON (NULL if none), *retry_after_p its Retry-After (0: none);
   either may be NULL. */
long
rfk_test_http (const char *method, const char *url, const char *token, const char *body,
               json_t **json_p, long *retry_after_p);

/* A PostgreSQL server of the test's own (initdb + pg_ctl in a temporary
   folder, 127.0.0.1 on a free port, as the `postgres` user when root). */
typedef struct {
    char *dir;     /* its folder */
    char bin[512]; /* the PostgreSQL programs' folder */
    int port;      /* where it listens */
    char url[256]; /* postgresql://rafiki@127.0.0.1:PORT/rafiki */
    bool running;  /* started and not stopped */
} rfk_test_pg_t;

/* Whether PostgreSQL tests run here: RAFIKI_TEST_PG_URL is set (test/run
   starts a server) and initdb is installed. */
bool
rfk_test_pg_wanted (void);
/* initdb, start, createdb rafiki. 0, or -1 with why in err. */
int
rfk_test_pg_start (rfk_test_pg_t *self, char *err, size_t errlen);
/* pg_ctl stop -m fast (clients are cut off). 0 or -1. */
int
rfk_test_pg_halt (rfk_test_pg_t *self);
/* Starts it again on the same port. 0 or -1. */
int
rfk_test_pg_resume (rfk_test_pg_t *self);
/* Stops it (immediate) and removes its folder. Safe twice. */
void
rfk_test_pg_destroy (rfk_test_pg_t *self);

#endif
