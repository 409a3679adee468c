/*  test/lib/rfk_test_admin.c: a fake admin `service` socket; see rfk_test_admin.h. */
#include "rfk_test_admin.h"
#include "rfk_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct rfk_test_admin {
    rfk_server_t *server; /* the `service` ROUTER */
    rfk_bus_opts_t bus;   /* the options given to services too */
    json_t *services;     /* id -> {secret, config, status} */
    json_t *trials;       /* trial id -> record */
    json_t *counts;       /* message type -> count */
    char *advice;         /* the advisor's endpoint */
    zhash_t *peers;       /* service id -> its routing id (zframe_t), from Hello */
};

static void
s_count (rfk_test_admin_t *self, const char *type)
{
    json_t *count = json_object_get (self->counts, type);
    json_object_set_new (self->counts, type,
                         json_integer (count ? json_integer_value (count) + 1 : 1));
}

static void
s_frame_free (void *data)
{
    zframe_t *frame = data;
    zframe_destroy (&frame);
}

static int
s_ack (rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg)
{
    rfk_msg_t *ack = rfk_msg_new (&rfk_service_family, "Ack", msg->correlation);
    int rc = rfk_server_send (server, peer, ack);
    rfk_msg_destroy (&ack);
    return rc;
}

static int
s_hello (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_test_admin_t *self = ctx;
    rfk_msg_t *msg = *msg_p;
    s_count (self, "Hello");
    const char *id = json_string_value (json_object_get (msg->body, "service_id"));
    const char *secret = json_string_value (json_object_get (msg->body, "secret"));
    json_t *service = id ? json_object_get (self->services, id) : NULL;
    if (!service || !secret ||
        !streq (secret, json_string_value (json_object_get (service, "secret"))))
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAUTHORIZED,
                                      "unknown service or wrong secret");
    char err[256];
    rfk_msg_t *config =
        rfk_msg_new_from_json (&rfk_service_family, "ServiceConfig", msg->correlation,
                               json_object_get (service, "config"), err, sizeof err);
    if (!config) {
        fprintf (stderr, "fake admin: bad ServiceConfig for %s: %s\n", id, err);
        return -1;
    }
    int rc = rfk_server_send (server, peer, config);
    rfk_msg_destroy (&config);
    zframe_t *copy = zframe_dup (peer);
    zhash_update (self->peers, id, copy);
    zhash_freefn (self->peers, id, s_frame_free);
    return rc;
}

static int
s_status_report (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_test_admin_t *self = ctx;
    rfk_msg_t *msg = *msg_p;
    s_count (self, "StatusReport");
    const char *id = json_string_value (json_object_get (msg->body, "service_id"));
    const char *status = json_string_value (json_object_get (msg->body, "status"));
    const char *message = json_string_value (json_object_get (msg->body, "message"));
    json_t *service = id ? json_object_get (self->services, id) : NULL;
    if (service && status) {
        json_object_set_new (service, "status", json_string (status));
        json_object_set_new (service, "message", json_string (message ? message : ""));
    }
    //  As admin: where the advisor listens is StatusReport.endpoints[0] of
    //  its RUNNING report, with the port the kernel gave.
    const char *advice =
        json_string_value (json_array_get (json_object_get (msg->body, "endpoints"), 0));
    if (advice && status && streq (status, "RUNNING") && !strchr (advice, '*')) {
        free (self->advice);
        self->advice = strdup (advice);
    }
    return s_ack (server, peer, msg);
}

static int
s_trial_create (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_test_admin_t *self = ctx;
    rfk_msg_t *msg = *msg_p;
    s_count (self, "TrialCreate");
    /* A repeated request gets the same trial. */
    const char *key;
    json_t *trial;
    json_int_t no = json_integer_value (json_object_get (msg->body, "trial_no"));
    const char *id = NULL;
    json_object_foreach (self->trials, key,
                         trial) if (json_integer_value (json_object_get (trial, "no")) == no) id =
        key;
    zuuid_t *uuid = zuuid_new ();
    if (!id) {
        id = zuuid_str_canonical (uuid);
        json_object_set_new (self->trials, id,
                             json_pack ("{s:I, s:s, s:O, s:i, s:i, s:i}", "no", no, "status",
                                        "PENDING", "knobs", json_object_get (msg->body, "knobs"),
                                        "logs", 0, "metrics", 0, "plots", 0));
    }
    rfk_msg_t *created = rfk_msg_new (&rfk_service_family, "TrialCreated", msg->correlation);
    json_object_set_new (created->body, "trial_id", json_string (id));
    json_object_set_new (created->body, "trial_no", json_integer (no));
    int rc = rfk_server_send (server, peer, created);
    rfk_msg_destroy (&created);
    zuuid_destroy (&uuid);
    return rc;
}

/* Trial reports: update the record, Ack. */
static int
s_trial_report (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_test_admin_t *self = ctx;
    rfk_msg_t *msg = *msg_p;
    s_count (self, msg->type);
    const char *id = json_string_value (json_object_get (msg->body, "trial_id"));
    json_t *trial = id ? json_object_get (self->trials, id) : NULL;
    if (!trial)
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_NOT_FOUND,
                                      "no such trial");
    const char *status = json_string_value (json_object_get (trial, "status"));
    bool terminal = !streq (status, "PENDING") && !streq (status, "RUNNING");
    if (rfk_msg_is (msg, "TrialStarted")) {
        if (!terminal)
            json_object_set_new (trial, "status", json_string ("RUNNING"));
        json_object_set (trial, "worker", json_object_get (msg->body, "worker_id"));
    } else if (rfk_msg_is (msg, "TrialFinished")) {
        /* The first end counts, as admin's would. */
        if (!terminal) {
            json_object_set (trial, "status", json_object_get (msg->body, "status"));
            json_object_set (trial, "score", json_object_get (msg->body, "score"));
            json_object_set (trial, "error", json_object_get (msg->body, "error"));
            json_object_set (trial, "params_path", json_object_get (msg->body, "params_path"));
        }
    } else {
        const char *field = rfk_msg_is (msg, "TrialLog")       ? "logs"
                            : rfk_msg_is (msg, "TrialMetrics") ? "metrics"
                                                               : "plots";
        json_object_set_new (
            trial, field, json_integer (json_integer_value (json_object_get (trial, field)) + 1));
    }
    return s_ack (server, peer, msg);
}

static int
s_other (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    rfk_test_admin_t *self = ctx;
    s_count (self, (*msg_p)->type);
    return s_ack (server, peer, *msg_p);
}

/* A service's Ack of our Stop: counted, not answered. */
static int
s_ack_in (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    (void)server;
    (void)peer;
    rfk_test_admin_t *self = ctx;
    s_count (self, (*msg_p)->type);
    return 0;
}

static const rfk_server_route_t s_routes[] = {
    {"Ack", s_ack_in},
    {"Hello", s_hello},
    {"StatusReport", s_status_report},
    {"TrialCreate", s_trial_create},
    {"TrialStarted", s_trial_report},
    {"TrialFinished", s_trial_report},
    {"TrialLog", s_trial_report},
    {"TrialMetrics", s_trial_report},
    {"TrialPlot", s_trial_report},
    {"SubTrainJobDone", s_other},
    {NULL, NULL},
};

rfk_test_admin_t *
rfk_test_admin_new (const rfk_bus_opts_t *bus)
{
    rfk_test_admin_t *self = calloc (1, sizeof *self);
    self->bus = *bus;
    self->server = rfk_server_new ("tcp://127.0.0.1:*", &rfk_service_family, s_routes, self, bus);
    self->services = json_object ();
    self->trials = json_object ();
    self->counts = json_object ();
    self->peers = zhash_new ();
    return self;
}

void
rfk_test_admin_destroy (rfk_test_admin_t **self_p)
{
    rfk_test_admin_t *self = *self_p;
    if (!self)
        return;
    rfk_server_destroy (&self->server);
    json_decref (self->services);
    json_decref (self->trials);
    json_decref (self->counts);
    zhash_destroy (&self->peers);
    free (self->advice);
    free (self);
    *self_p = NULL;
}

int
rfk_test_admin_stop (rfk_test_admin_t *self, const char *service_id)
{
    zframe_t *peer = zhash_lookup (self->peers, service_id);
    if (!peer)
        return -1;
    rfk_msg_t *stop = rfk_msg_new (&rfk_service_family, "Stop", 0);
    int rc = rfk_server_send (self->server, peer, stop);
    rfk_msg_destroy (&stop);
    return rc;
}

int
rfk_test_admin_port (rfk_test_admin_t *self)
{
    const char *endpoint = rfk_server_endpoint (self->server);
    return atoi (strrchr (endpoint, ':') + 1);
}

void
rfk_test_admin_add_service (rfk_test_admin_t *self, const char *service_id, const char *secret,
                            json_t *config)
{
    json_object_set_new (self->services, service_id,
                         json_pack ("{s:s, s:o}", "secret", secret, "config", config));
}

bool
rfk_test_admin_wait (rfk_test_admin_t *self, bool (*fn) (rfk_test_admin_t *self, void *arg),
                     void *arg, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (rfk_server_sock (self->server), NULL);
    bool answer = fn (self, arg);
    while (!answer && zclock_mono () < until) {
        int64_t left = until - zclock_mono ();
        if (zpoller_wait (poller, (int)(left < 20 ? left : 20)))
            rfk_server_recv (self->server);
        rfk_server_tick (self->server);
        answer = fn (self, arg);
    }
    zpoller_destroy (&poller);
    return answer;
}

const char *
rfk_test_admin_status (rfk_test_admin_t *self, const char *service_id)
{
    return json_string_value (
        json_object_get (json_object_get (self->services, service_id), "status"));
}

const char *
rfk_test_admin_advice (rfk_test_admin_t *self)
{
    return self->advice;
}

json_t *
rfk_test_admin_trials (rfk_test_admin_t *self)
{
    return self->trials;
}

int
rfk_test_admin_count (rfk_test_admin_t *self, const char *type)
{
    return (int)json_integer_value (json_object_get (self->counts, type));
}

int
rfk_test_admin_trials_with (rfk_test_admin_t *self, const char *status)
{
    int count = 0;
    const char *key;
    json_t *trial;
    json_object_foreach (
        self->trials, key,
        trial) if (streq (json_string_value (json_object_get (trial, "status")), status)) count++;
    return count;
}

pid_t
rfk_test_admin_spawn (rfk_test_admin_t *self, const char *role, const char *service_id,
                      const char *secret, const char *data_dir)
{
    char secret_path[512];
    snprintf (secret_path, sizeof secret_path, "%s/secret-%s", data_dir, service_id);
    FILE *file = fopen (secret_path, "w");
    if (!file)
        return -1;
    fputs (secret, file);
    fclose (file);
    char vars[8][600];
    snprintf (vars[0], sizeof vars[0], "RAFIKI_SECRET_FILE=%s", secret_path);
    snprintf (vars[1], sizeof vars[1], "RAFIKI_DATA_DIR=%s", data_dir);
    snprintf (vars[2], sizeof vars[2], "RAFIKI_ADMIN_SERVICE_PORT=%d", rfk_test_admin_port (self));
    snprintf (vars[3], sizeof vars[3], "RAFIKI_BUS_HEARTBEAT_INTERVAL_MS=%d",
              self->bus.heartbeat_interval_ms);
    snprintf (vars[4], sizeof vars[4], "RAFIKI_BUS_HEARTBEAT_TIMEOUT_MS=%d",
              self->bus.heartbeat_timeout_ms);
    snprintf (vars[5], sizeof vars[5], "RAFIKI_BUS_REQUEST_TIMEOUT_MS=%d",
              self->bus.request_timeout_ms);
    snprintf (vars[6], sizeof vars[6], "RAFIKI_LOG_STDERR=false");
    snprintf (vars[7], sizeof vars[7], "RAFIKI_BUS_REQUEST_RETRIES=%d", self->bus.request_retries);
    const char *env[] = {vars[0], vars[1], vars[2], vars[3], vars[4],
                         vars[5], vars[6], vars[7], NULL};
    const char *args[] = {role, "--service-id", service_id, NULL};
    return rfk_test_rafikid_spawn (args, env, false);
}

typedef struct {
    pid_t pid;
    int status;
    bool ended;
} s_reap_t;

static bool
s_ended (rfk_test_admin_t *self, void *arg)
{
    (void)self;
    s_reap_t *reap = arg;
    if (!reap->ended && waitpid (reap->pid, &reap->status, WNOHANG) == reap->pid)
        reap->ended = true;
    return reap->ended;
}

int
rfk_test_admin_reap (rfk_test_admin_t *self, pid_t pid, int timeout_ms)
{
    s_reap_t reap = {pid, 0, false};
    if (!rfk_test_admin_wait (self, s_ended, &reap, timeout_ms)) {
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
        return -1;
    }
    return WIFEXITED (reap.status) ? WEXITSTATUS (reap.status) : 128 + WTERMSIG (reap.status);
}
