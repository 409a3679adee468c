/*  rfk_test_admin (test/lib): a stand-in for admin's `service` socket,
    and a way to start rafikid services against it.

    The fake admin is an rfk_server on tcp://127.0.0.1:* served from the
    test's own thread (rfk_test_admin_wait pumps it). It answers Hello with the
    ServiceConfig registered for the service id (after checking the secret),
    TrialCreate with TrialCreated (a new id), and every report with Ack, and
    keeps what it heard: the last status of each service, the advisor's
    endpoint (from its RUNNING report), and each trial's record as admin
    would store it (no, status PENDING -> RUNNING -> COMPLETED / ERRORED /
    PRUNED, worker, knobs, score, error, params_path, logs, metrics, plots).
*/
#ifndef RFK_TEST_ADMIN_H_INCLUDED
#define RFK_TEST_ADMIN_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "rfk_broker.h"

typedef struct rfk_test_admin rfk_test_admin_t;

rfk_test_admin_t *
rfk_test_admin_new (const rfk_bus_opts_t *bus);
void
rfk_test_admin_destroy (rfk_test_admin_t **self_p);
/* Send Stop to a service that said Hello: 0, or -1 when it never did. */
int
rfk_test_admin_stop (rfk_test_admin_t *self, const char *service_id);
/* The port of its `service` socket. */
int
rfk_test_admin_port (rfk_test_admin_t *self);
/* Register a service: its secret and its ServiceConfig body (taken). */
void
rfk_test_admin_add_service (rfk_test_admin_t *self, const char *service_id, const char *secret,
                            json_t *config);
/* Serves until fn (self, arg) is true or timeout_ms passed; returns fn's last answer. */
bool
rfk_test_admin_wait (rfk_test_admin_t *self, bool (*fn) (rfk_test_admin_t *self, void *arg),
                     void *arg, int timeout_ms);
/* The last status a service reported, or NULL. */
const char *
rfk_test_admin_status (rfk_test_admin_t *self, const char *service_id);
/* The advisor's `advice` endpoint (StatusReport.endpoints[0] of its RUNNING report), or NULL. */
const char *
rfk_test_admin_advice (rfk_test_admin_t *self);
/* The trials, an object trial id -> record (borrowed). */
json_t *
rfk_test_admin_trials (rfk_test_admin_t *self);
/* How many messages of a type it took. */
int
rfk_test_admin_count (rfk_test_admin_t *self, const char *type);
/* How many trials have this status. */
int
rfk_test_admin_trials_with (rfk_test_admin_t *self, const char *status);

/* Starts `rafikid ROLE --service-id ID` with its secret in a file
   (RAFIKI_SECRET_FILE), data_dir, admin's service port and short
   heartbeats in the environment. */
pid_t
rfk_test_admin_spawn (rfk_test_admin_t *self, const char *role, const char *service_id,
                      const char *secret, const char *data_dir);
/* Serves until the process ended or timeout_ms passed; its exit status, or
   -1 if it has not ended (then it is killed). */
int
rfk_test_admin_reap (rfk_test_admin_t *self, pid_t pid, int timeout_ms);

#endif
