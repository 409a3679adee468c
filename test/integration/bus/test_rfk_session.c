/*  test_rfk_session.c: a service's session with admin, through real sockets.

    The admin here is a bare ROUTER on tcp://127.0.0.1:* (port 0, read back)
    served from the test's own thread, so each case decides what admin says
    and when it stays silent: it answers Hello with a ServiceConfig or an
    Error, every StatusReport with Ack, Heartbeat with Heartbeat, sends Stop
    when told, and keeps what it heard. The session runs in the same thread,
    the way an actor's loop runs it.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "rfk_broker.h"
#include "rfk_config.h"

/* ---- the fake admin ----------------------------------------------------- */

typedef struct {
    zsock_t *router; /* admin's `service` socket */
    int port;        /* the port it got */
    bool refuse;     /* answer Hello with Error UNAUTHORIZED */
    bool silent;     /* read nothing, answer nothing */
    zframe_t *peer;  /* the last peer heard */
    int hellos;      /* Hellos heard */
    char secret[64]; /* the last Hello's secret */
    json_t *reports; /* every StatusReport body, in order */
    int acks;        /* Acks heard (answers to our Stop) */
    uint64_t ack_of; /* the last Ack's correlation */
    json_t *results; /* every TrialFinished body, in order (each answered Ack) */
    bool restarted;  /* a new admin: a peer of the old one may be gone when answered */
} s_admin_t;

static s_admin_t *
s_admin_new (void)
{
    s_admin_t *admin = (s_admin_t *)calloc (1, sizeof (s_admin_t));
    assert_non_null (admin);
    admin->router = rfk_bus_socket_new (ZMQ_ROUTER, NULL, true, NULL);
    assert_non_null (admin->router);
    admin->port = zsock_bind (admin->router, "tcp://127.0.0.1:*");
    assert_true (admin->port > 0);
    admin->reports = json_array ();
    admin->results = json_array ();
    return admin;
}

/* admin dies and a new one binds the same port: what the old one had
   queued is gone, and it has heard nothing yet. */
static void
s_admin_restart (s_admin_t *admin)
{
    zsock_destroy (&admin->router);
    admin->router = rfk_bus_socket_new (ZMQ_ROUTER, NULL, true, NULL);
    assert_non_null (admin->router);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", admin->port);
    //  The old socket's listener closes in ZeroMQ's I/O thread: bind once it has.
    int64_t until = zclock_mono () + 5000;
    int port = -1;
    while ((port = zsock_bind (admin->router, "%s", endpoint)) < 0 && zclock_mono () < until)
        zmq_poll (NULL, 0, 10);
    assert_int_equal (port, admin->port);
    zframe_destroy (&admin->peer);
    admin->silent = false;
    admin->restarted = true;
}

static void
s_admin_destroy (s_admin_t **admin_p)
{
    s_admin_t *admin = *admin_p;
    zsock_destroy (&admin->router);
    zframe_destroy (&admin->peer);
    json_decref (admin->reports);
    json_decref (admin->results);
    free (admin);
    *admin_p = NULL;
}

static void
s_admin_answer (s_admin_t *admin, rfk_msg_t *answer)
{
    int rc = rfk_envelope_send_to (admin->router, admin->peer, answer, 1 << 20);
    if (!admin->restarted)
        assert_int_equal (rc, 0);
    rfk_msg_destroy (&answer);
}

/* Reads and answers one message. */
static void
s_admin_serve (s_admin_t *admin)
{
    zframe_t *peer = NULL;
    rfk_msg_t *msg = NULL;
    rfk_code_t code;
    if (rfk_envelope_recv_from (admin->router, &rfk_service_family, 1 << 20, &peer, &msg, &code) !=
        0) {
        zframe_destroy (&peer);
        return;
    }
    zframe_destroy (&admin->peer);
    admin->peer = peer;
    if (rfk_msg_is (msg, "Heartbeat"))
        s_admin_answer (admin, rfk_msg_new (&rfk_service_family, "Heartbeat", msg->correlation));
    else if (rfk_msg_is (msg, "Hello")) {
        admin->hellos++;
        snprintf (admin->secret, sizeof admin->secret, "%s",
                  json_string_value (json_object_get (msg->body, "secret")));
        rfk_msg_t *answer =
            admin->refuse
                ? rfk_msg_new_error (&rfk_service_family, msg->correlation, RFK_CODE_UNAUTHORIZED,
                                     "unknown service or wrong secret")
                : rfk_msg_new (&rfk_service_family, "ServiceConfig", msg->correlation);
        if (!admin->refuse) {
            json_object_set_new (answer->body, "service_id",
                                 json_object_get (msg->body, "service_id")
                                     ? json_copy (json_object_get (msg->body, "service_id"))
                                     : json_string (""));
            json_object_set_new (answer->body, "task", json_string ("IMAGE_CLASSIFICATION"));
            json_object_set_new (answer->body, "bind_endpoints",
                                 json_pack ("[s]", "tcp://127.0.0.1:*"));
        }
        s_admin_answer (admin, answer);
    } else if (rfk_msg_is (msg, "StatusReport")) {
        json_array_append (admin->reports, msg->body);
        s_admin_answer (admin, rfk_msg_new (&rfk_service_family, "Ack", msg->correlation));
    } else if (rfk_msg_is (msg, "TrialFinished")) {
        json_array_append (admin->results, msg->body);
        s_admin_answer (admin, rfk_msg_new (&rfk_service_family, "Ack", msg->correlation));
    } else if (rfk_msg_is (msg, "Ack")) {
        admin->acks++;
        admin->ack_of = msg->correlation;
    }
    rfk_msg_destroy (&msg);
}

static void
s_admin_stop (s_admin_t *admin, uint64_t correlation, const char *reason)
{
    rfk_msg_t *stop = rfk_msg_new (&rfk_service_family, "Stop", correlation);
    if (reason)
        json_object_set_new (stop->body, "reason", json_string (reason));
    s_admin_answer (admin, stop);
}

/* The status of report index (0 first), or NULL. */
static const char *
s_report_status (s_admin_t *admin, size_t index)
{
    return json_string_value (json_object_get (json_array_get (admin->reports, index), "status"));
}

static size_t
s_reports_with (s_admin_t *admin, const char *status)
{
    size_t count = 0;
    for (size_t index = 0; index < json_array_size (admin->reports); index++)
        count += s_report_status (admin, index) && streq (s_report_status (admin, index), status);
    return count;
}

/* ---- the service -------------------------------------------------------- */

typedef struct {
    int configs;          /* on_config calls */
    char task[64];        /* the ServiceConfig's task */
    bool fail_config;     /* on_config fails */
    int stops;            /* on_stop calls */
    char stop_reason[64]; /* its reason */
    int failures;         /* on_failed calls */
    char failure[256];    /* its reason */
} s_service_t;

static int
s_on_config (rfk_session_t *session, const rfk_service_config_t *config, void *ctx, char *err,
             size_t errlen)
{
    s_service_t *service = (s_service_t *)ctx;
    service->configs++;
    snprintf (service->task, sizeof service->task, "%s", config->task ? config->task : "(null)");
    if (service->fail_config) {
        snprintf (err, errlen, "the template would not open");
        return -1;
    }
    const char *endpoints[] = {"tcp://127.0.0.1:40001", NULL};
    rfk_session_running (session, "advice=tcp://127.0.0.1:40001", endpoints);
    return 0;
}

static void
s_on_stop (rfk_session_t *session, const char *reason, void *ctx)
{
    s_service_t *service = (s_service_t *)ctx;
    service->stops++;
    snprintf (service->stop_reason, sizeof service->stop_reason, "%s", reason);
    /*  Twice on purpose: only the first goes out. */
    rfk_session_final (session, RFK_SERVICE_STOPPED, reason);
    rfk_session_final (session, RFK_SERVICE_STOPPED, reason);
}

static void
s_on_failed (rfk_session_t *session, const char *reason, void *ctx)
{
    (void)session;
    s_service_t *service = (s_service_t *)ctx;
    service->failures++;
    snprintf (service->failure, sizeof service->failure, "%s", reason);
}

/* Runs admin and the session until done (admin, service) or limit_ms. */
static bool
s_pump (s_admin_t *admin, rfk_session_t *session, s_service_t *service,
        bool (*done) (s_admin_t *, s_service_t *), int limit_ms)
{
    zpoller_t *poller = admin->silent
                            ? zpoller_new (rfk_session_sock (session), NULL)
                            : zpoller_new (admin->router, rfk_session_sock (session), NULL);
    int64_t limit = zclock_mono () + limit_ms;
    bool ok = false;
    while (!(ok = done (admin, service)) && zclock_mono () < limit) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_session_deadline (session));
        rfk_deadline_add (&deadline, limit);
        void *which = zpoller_wait (poller, rfk_deadline_timeout (&deadline));
        if (which == admin->router)
            s_admin_serve (admin);
        else if (which == rfk_session_sock (session))
            rfk_session_recv (session);
        rfk_session_tick (session);
    }
    zpoller_destroy (&poller);
    return ok;
}

static bool
s_running (s_admin_t *admin, s_service_t *service)
{
    (void)service;
    return s_reports_with (admin, "RUNNING") > 0;
}

static bool
s_stopped (s_admin_t *admin, s_service_t *service)
{
    (void)service;
    return s_reports_with (admin, "STOPPED") > 0;
}

static bool
s_failed (s_admin_t *admin, s_service_t *service)
{
    (void)admin;
    return service->failures > 0;
}

/* A configuration pointing at admin's port, with short heartbeats. */
static rfk_config_t *
s_config (s_admin_t *admin)
{
    rfk_config_t *config = rfk_config_new ();
    assert_non_null (config);
    char port[16];
    snprintf (port, sizeof port, "%d", admin->port);
    assert_int_equal (rfk_config_set (config, "admin", "host", "0.0.0.0", "test"), 0);
    assert_int_equal (rfk_config_set (config, "admin", "service_port", port, "test"), 0);
    assert_int_equal (rfk_config_set (config, "bus", "heartbeat_interval_ms", "50", "test"), 0);
    assert_int_equal (rfk_config_set (config, "bus", "heartbeat_timeout_ms", "300", "test"), 0);
    assert_int_equal (rfk_config_set (config, "bus", "request_timeout_ms", "300", "test"), 0);
    assert_int_equal (rfk_config_set (config, "bus", "request_retries", "1", "test"), 0);
    return config;
}

typedef struct {
    s_admin_t *admin;
    rfk_config_t *config;
    rfk_role_args_t role;
    s_service_t service;
    rfk_session_t *session;
} s_fixture_t;

/* Admin, a configuration and a session said Hello to it. */
static void
s_start (s_fixture_t *fx, bool refuse, bool fail_config)
{
    memset (fx, 0, sizeof *fx);
    fx->admin = s_admin_new ();
    fx->admin->refuse = refuse;
    fx->config = s_config (fx->admin);
    fx->role = (rfk_role_args_t){
        .config = fx->config, .role = "advisor", .service_id = "svc-1", .secret = "s3cr3t"};
    fx->service.fail_config = fail_config;
    rfk_session_args_t args = {.name = "advisor",
                               .role = &fx->role,
                               .flush_ms = 500,
                               .on_config = s_on_config,
                               .on_stop = s_on_stop,
                               .on_failed = s_on_failed,
                               .ctx = &fx->service};
    char err[256] = "";
    fx->session = rfk_session_new (&args, err, sizeof err);
    assert_non_null (fx->session);
    assert_string_equal (err, "");
}

static void
s_finish (s_fixture_t *fx)
{
    rfk_session_destroy (&fx->session);
    rfk_session_destroy (&fx->session);
    rfk_config_destroy (&fx->config);
    s_admin_destroy (&fx->admin);
}

/* ---- cases -------------------------------------------------------------- */

/*  The usage example: Hello, ServiceConfig to the callback, RUNNING with
    the endpoints bound, and STOPPED at the end. */
static void
test_usage (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, false, false);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_running, 5000));
    assert_int_equal (fx.admin->hellos, 1);
    assert_string_equal (fx.admin->secret, "s3cr3t");
    assert_int_equal (fx.service.configs, 1);
    assert_string_equal (fx.service.task, "IMAGE_CLASSIFICATION");
    json_t *running = json_array_get (fx.admin->reports, 0);
    assert_string_equal (json_string_value (json_object_get (running, "service_id")), "svc-1");
    assert_string_equal (json_string_value (json_object_get (running, "message")),
                         "advice=tcp://127.0.0.1:40001");
    json_t *endpoints = json_object_get (running, "endpoints");
    assert_int_equal (json_array_size (endpoints), 1);
    assert_string_equal (json_string_value (json_array_get (endpoints, 0)),
                         "tcp://127.0.0.1:40001");
    /*  A request of the service's own goes through the session too. */
    rfk_msg_t *log = rfk_msg_new (&rfk_service_family, "TrialLog", 0);
    json_object_set_new (log->body, "trial_id", json_string ("t-1"));
    assert_int_equal (rfk_session_send (fx.session, log), 0);
    rfk_msg_destroy (&log);
    assert_string_equal (rfk_session_service_id (fx.session), "svc-1");
    assert_non_null (rfk_session_client (fx.session));

    /*  The end, with admin served from another pass of the pump. */
    assert_false (rfk_session_final_sent (fx.session));
    rfk_session_final (fx.session, RFK_SERVICE_STOPPED, "budget spent");
    assert_true (rfk_session_final_sent (fx.session));
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_stopped, 5000));
    assert_string_equal (
        json_string_value (json_object_get (json_array_get (fx.admin->reports, 1), "message")),
        "budget spent");
    rfk_session_end (fx.session, NULL, "stopped (SIGTERM)"); /* nothing more to say */
    assert_int_equal (json_array_size (fx.admin->reports), 2);
    s_finish (&fx);
}

static bool
s_stopped_and_acked (s_admin_t *admin, s_service_t *service)
{
    return service->stops == 1 && admin->acks >= 2 && s_reports_with (admin, "STOPPED") == 1;
}

/*  Stop -> Ack (for each Stop) and on_stop once; the final report goes out
    once although the service asks for it four times. */
static void
test_stop_acked_final_once (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, false, false);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_running, 5000));
    s_admin_stop (fx.admin, 77, "the job was stopped");
    s_admin_stop (fx.admin, 78, NULL);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_stopped_and_acked, 5000));
    assert_int_equal (fx.admin->ack_of, 78);
    assert_string_equal (fx.service.stop_reason, "the job was stopped");
    rfk_session_end (fx.session, NULL, "stopped (SIGTERM)");
    rfk_session_end (fx.session, "too late", NULL);
    /*  Whatever the session sent before the end is in by now: serve it. */
    assert_false (s_pump (fx.admin, fx.session, &fx.service, s_failed, 300));
    assert_int_equal (s_reports_with (fx.admin, "STOPPED"), 1);
    assert_int_equal (s_reports_with (fx.admin, "ERRORED"), 0);
    assert_int_equal (json_array_size (fx.admin->reports), 2); /* RUNNING, STOPPED */
    assert_int_equal (fx.service.failures, 0);
    s_finish (&fx);
}

/*  A refused Hello reaches the service as a failure with admin's reason;
    nothing more is reported to an admin that does not know us. */
static void
test_hello_refused (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, true, false);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_failed, 5000));
    assert_string_equal (fx.service.failure,
                         "admin refused our Hello: unknown service or wrong secret");
    assert_int_equal (fx.service.configs, 0);
    assert_true (rfk_session_final_sent (fx.session));
    rfk_session_end (fx.session, fx.service.failure, NULL);
    assert_false (s_pump (fx.admin, fx.session, &fx.service, s_running, 300));
    assert_int_equal (json_array_size (fx.admin->reports), 0);
    s_finish (&fx);
}

static bool
s_errored (s_admin_t *admin, s_service_t *service)
{
    return service->failures > 0 && s_reports_with (admin, "ERRORED") > 0;
}

/*  A ServiceConfig the service cannot apply: ERRORED with its reason, and
    the service hears of it. */
static void
test_config_fails (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, false, true);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_errored, 5000));
    assert_string_equal (fx.service.failure, "the template would not open");
    assert_string_equal (
        json_string_value (json_object_get (json_array_get (fx.admin->reports, 0), "message")),
        "the template would not open");
    rfk_session_end (fx.session, fx.service.failure, NULL);
    assert_int_equal (s_reports_with (fx.admin, "ERRORED"), 1);
    s_finish (&fx);
}

static bool
s_hello_again (s_admin_t *admin, s_service_t *service)
{
    (void)service;
    return admin->hellos == 2 && s_reports_with (admin, "RUNNING") == 2;
}

/*  Admin silent for longer than heartbeat_timeout_ms, then back (as after
    a restart): the session says Hello again with the same id and secret,
    and sends its RUNNING report again; the service is not configured
    twice. */
static void
test_rehello_after_silence (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, false, false);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_running, 5000));
    fx.admin->silent = true;
    s_pump (fx.admin, fx.session, &fx.service, s_failed, 700); /* > heartbeat_timeout_ms */
    fx.admin->silent = false;
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_hello_again, 5000));
    assert_string_equal (fx.admin->secret, "s3cr3t");
    assert_int_equal (fx.service.configs, 1);
    json_t *again = json_array_get (fx.admin->reports, 1);
    assert_int_equal (json_array_size (json_object_get (again, "endpoints")), 1);
    assert_int_equal (fx.service.failures, 0);
    s_finish (&fx);
}

static bool
s_stopped_itself (s_admin_t *admin, s_service_t *service)
{
    (void)admin;
    return service->stops > 0;
}

/*  Admin gone for service.orphan_timeout_s: the service stops itself, as if
    admin had asked, and says why. */
static void
test_orphan_stops_itself (void **state)
{
    (void)state;
    s_fixture_t fx;
    memset (&fx, 0, sizeof fx);
    fx.admin = s_admin_new ();
    fx.config = s_config (fx.admin);
    assert_int_equal (rfk_config_set (fx.config, "service", "orphan_timeout_s", "1", "test"), 0);
    fx.role = (rfk_role_args_t){
        .config = fx.config, .role = "advisor", .service_id = "svc-1", .secret = "s3cr3t"};
    rfk_session_args_t args = {.name = "advisor",
                               .role = &fx.role,
                               .flush_ms = 200,
                               .on_config = s_on_config,
                               .on_stop = s_on_stop,
                               .ctx = &fx.service};
    fx.session = rfk_session_new (&args, NULL, 0);
    assert_non_null (fx.session);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_running, 5000));
    //  Back within the timeout: nothing happens.
    fx.admin->silent = true;
    s_pump (fx.admin, fx.session, &fx.service, s_stopped_itself, 600);
    assert_int_equal (fx.service.stops, 0);
    fx.admin->silent = false;
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_hello_again, 5000));
    assert_int_equal (fx.service.stops, 0);
    //  Away for longer: the service stops on its own.
    fx.admin->silent = true;
    int64_t silent_at = zclock_mono ();
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_stopped_itself, 5000));
    assert_true (zclock_mono () - silent_at >= 1000);
    assert_int_equal (fx.service.stops, 1);
    assert_non_null (strstr (fx.service.stop_reason, "service.orphan_timeout_s"));
    assert_true (rfk_session_stop_asked (fx.session));
    s_finish (&fx);
}

static bool
s_one_result (s_admin_t *admin, s_service_t *service)
{
    (void)service;
    return json_array_size (admin->results) == 1;
}

/*  A kept report (a trial's result) sent while admin is away reaches the
    admin that comes back after its re-Hello, once; then it is forgotten. */
static void
test_kept_report_reaches_new_admin (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, false, false);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_running, 5000));
    fx.admin->silent = true;
    rfk_msg_t *result = rfk_msg_new (&rfk_service_family, "TrialFinished", 0);
    json_object_set_new (result->body, "trial_id", json_string ("trial-7"));
    json_object_set_new (result->body, "status", json_string ("COMPLETED"));
    assert_int_equal (rfk_session_send_kept (fx.session, result), 0);
    rfk_msg_destroy (&result);
    //  Its tries time out (300 ms, one retry): it is kept.
    s_pump (fx.admin, fx.session, &fx.service, s_failed, 1200);
    assert_int_equal (rfk_session_kept (fx.session), 1);
    s_admin_restart (fx.admin);
    assert_true (s_pump (fx.admin, fx.session, &fx.service, s_one_result, 5000));
    assert_string_equal (
        json_string_value (json_object_get (json_array_get (fx.admin->results, 0), "trial_id")),
        "trial-7");
    assert_true (fx.admin->hellos >= 1);
    //  Acked: forgotten, and never sent again.
    s_pump (fx.admin, fx.session, &fx.service, s_failed, 700);
    assert_int_equal (rfk_session_kept (fx.session), 0);
    assert_int_equal (json_array_size (fx.admin->results), 1);
    assert_int_equal (fx.service.failures, 0);
    s_finish (&fx);
}

/*  Arguments a session cannot start from are answered with a sentence. */
static void
test_bad_arguments (void **state)
{
    (void)state;
    char err[256] = "";
    assert_null (rfk_session_new (NULL, err, sizeof err));
    assert_string_equal (err, "no session arguments");
    rfk_role_args_t role = {.role = "trainer", .service_id = "svc-1"};
    rfk_session_args_t args = {.name = "trainer", .role = &role, .on_config = s_on_config};
    assert_null (rfk_session_new (&args, err, sizeof err));
    assert_string_equal (err, "no configuration");
    rfk_config_t *config = rfk_config_new ();
    role.config = config;
    assert_null (rfk_session_new (&args, err, sizeof err));
    assert_non_null (strstr (err, "the trainer runs as a service: rafikid trainer --service-id"));
    role.secret = "s";
    args.endpoint = "nonsense://here";
    assert_null (rfk_session_new (&args, err, sizeof err));
    assert_string_equal (err, "cannot connect to admin at nonsense://here");
    char endpoint[64];
    assert_int_equal (rfk_config_set (config, "admin", "host", "*", "test"), 0);
    assert_string_equal (rfk_session_admin_endpoint (config, endpoint, sizeof endpoint),
                         "tcp://127.0.0.1:3002");
    rfk_config_destroy (&config);
}

/*  The one config -> bus options function. */
static void
test_bus_opts_from_config (void **state)
{
    (void)state;
    rfk_config_t *config = rfk_config_new ();
    assert_int_equal (rfk_config_set (config, "bus", "sndhwm", "17", "test"), 0);
    assert_int_equal (rfk_config_set (config, "bus", "max_frame_bytes", "2MiB", "test"), 0);
    assert_int_equal (rfk_config_set (config, "bus", "request_retries", "0", "test"), 0);
    rfk_bus_opts_t opts;
    rfk_bus_opts_from_config (&opts, config);
    assert_int_equal (opts.sndhwm, 17);
    assert_int_equal (opts.rcvhwm, RFK_BUS_RCVHWM);
    assert_int_equal (opts.max_frame_bytes, 2u << 20);
    assert_int_equal (opts.request_retries, 0);
    assert_int_equal (opts.linger_ms, RFK_BUS_LINGER_MS);
    assert_int_equal (opts.malformed_limit, RFK_BUS_MALFORMED_LIMIT);
    rfk_config_destroy (&config);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_stop_acked_final_once),
        cmocka_unit_test (test_hello_refused),
        cmocka_unit_test (test_config_fails),
        cmocka_unit_test (test_rehello_after_silence),
        cmocka_unit_test (test_orphan_stops_itself),
        cmocka_unit_test (test_kept_report_reaches_new_admin),
        cmocka_unit_test (test_bad_arguments),
        cmocka_unit_test (test_bus_opts_from_config),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
