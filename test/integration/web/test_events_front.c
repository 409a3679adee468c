/*  test_events_front.c: GET /events on admin's HTTP front, over real HTTP.

    The front runs with a fake handler table whose GetMe knows a few tokens
    (alice and bob are app developers, root a superadmin, boss an admin,
    "temp" is valid until the test revokes it), on 127.0.0.1 and a free
    port, driven by a thread of the test that polls rfk_http_front_fd as the
    admin actor does. The test hands that thread events through a pipe (the
    thread calls rfk_http_front_event, as admin's loop does) and reads the
    streams with sse_client.h: who sees what, the SSE framing, refusals,
    keepalive comments, a revoked token ending its stream, a client that
    stops reading being dropped while another keeps up, and the cap on
    streams.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rfk_http_front.h"
#include "rfk_test.h"
#include "sse_client.h"

#define S_WAIT_MS 10000

//  --------------------------------------------------------------------------
//  The fake admin: GetMe by token, nothing else.

typedef struct {
    pthread_mutex_t lock; /* guards temp_valid */
    bool temp_valid;      /* the token "temp" is accepted */
} fake_t;

static rfk_msg_t *
s_handle (void *ctx, const rfk_msg_t *request)
{
    fake_t *fake = ctx;
    if (!rfk_msg_is (request, "GetMe"))
        return rfk_msg_new_error (&rfk_admin_family, request->correlation, RFK_CODE_BAD_REQUEST,
                                  "only GetMe here");
    static const struct {
        const char *token, *id, *type;
    } users[] = {{"alice", "u-alice", "APP_DEVELOPER"},
                 {"bob", "u-bob", "APP_DEVELOPER"},
                 {"root", "u-root", "SUPERADMIN"},
                 {"boss", "u-boss", "ADMIN"},
                 {"temp", "u-temp", "MODEL_DEVELOPER"}};
    const char *token = request->token;
    pthread_mutex_lock (&fake->lock);
    bool temp_valid = fake->temp_valid;
    pthread_mutex_unlock (&fake->lock);
    for (size_t i = 0; token && i < sizeof users / sizeof users[0]; i++)
        if (strcmp (token, users[i].token) == 0 && (strcmp (token, "temp") || temp_valid)) {
            rfk_msg_t *reply = rfk_msg_new (&rfk_admin_family, "User", request->correlation);
            json_object_set_new (reply->body, "id", json_string (users[i].id));
            json_object_set_new (reply->body, "user_type", json_string (users[i].type));
            return reply;
        }
    return rfk_msg_new_error (&rfk_admin_family, request->correlation, RFK_CODE_UNAUTHORIZED,
                              token ? "the token is not valid" : "no token: log in first");
}

//  --------------------------------------------------------------------------
//  The server thread

typedef struct {
    fake_t fake;
    rfk_http_front_t *front;
    int port;
    int inject[2];          /* test -> loop: "owner\tname\tdata\n" lines; "stop\n" */
    pthread_t thread;       /* the loop */
    pthread_mutex_t lock;   /* guards streams */
    pthread_cond_t changed; /* streams changed */
    size_t streams;         /* rfk_http_front_event_streams after the last step */
    char pending[1 << 20];  /* partial inject input */
    size_t pending_len;
} server_t;

/* "\\n" in the test's names and data stands for a newline. */
static void
s_unescape (char *text)
{
    for (char *p = text; (p = strstr (p, "\\n"));) {
        *p = '\n';
        memmove (p + 1, p + 2, strlen (p + 2) + 1);
    }
}

/* Hand the complete lines of the inject pipe to the front; false on stop. */
static bool
s_server_inject (server_t *server)
{
    ssize_t n = read (server->inject[0], server->pending + server->pending_len,
                      sizeof server->pending - 1 - server->pending_len);
    if (n <= 0)
        return n < 0 && errno == EINTR;
    server->pending_len += (size_t)n;
    server->pending[server->pending_len] = 0;
    char *line = server->pending;
    char *eol;
    while ((eol = strchr (line, '\n'))) {
        *eol = 0;
        if (strcmp (line, "stop") == 0)
            return false;
        char *name = strchr (line, '\t');
        char *data = name ? strchr (name + 1, '\t') : NULL;
        if (data) {
            *name++ = 0;
            *data++ = 0;
            s_unescape (name);
            s_unescape (data);
            rfk_http_front_event (server->front, *line ? line : NULL, name, data);
        }
        line = eol + 1;
    }
    server->pending_len = strlen (line);
    memmove (server->pending, line, server->pending_len + 1);
    return true;
}

static void *
s_server_loop (void *arg)
{
    server_t *server = arg;
    bool running = true;
    while (running) {
        struct pollfd items[2] = {{rfk_http_front_fd (server->front), POLLIN, 0},
                                  {server->inject[0], POLLIN, 0}};
        long timeout = rfk_http_front_timeout_ms (server->front);
        poll (items, 2, timeout < 0 || timeout > 1000 ? 1000 : (int)timeout);
        if (items[1].revents & (POLLIN | POLLHUP))
            running = s_server_inject (server);
        rfk_http_front_step (server->front);
        pthread_mutex_lock (&server->lock);
        size_t streams = rfk_http_front_event_streams (server->front);
        if (streams != server->streams) {
            server->streams = streams;
            pthread_cond_broadcast (&server->changed);
        }
        pthread_mutex_unlock (&server->lock);
    }
    return NULL;
}

static server_t *
s_server_start (unsigned keepalive_ms, size_t buffer_bytes, unsigned max_streams)
{
    server_t *server = calloc (1, sizeof *server);
    assert_non_null (server);
    pthread_mutex_init (&server->fake.lock, NULL);
    server->fake.temp_valid = true;
    pthread_mutex_init (&server->lock, NULL);
    pthread_cond_init (&server->changed, NULL);
    rfk_http_front_config_t config = {.host = "127.0.0.1",
                                      .port = 0,
                                      .events_keepalive_ms = keepalive_ms,
                                      .events_buffer_bytes = buffer_bytes,
                                      .events_max_streams = max_streams};
    rfk_http_handlers_t handlers = {.ctx = &server->fake, .handle = s_handle};
    char err[256];
    server->front = rfk_http_front_new (&config, &handlers, err, sizeof err);
    if (!server->front)
        fail_msg ("the front did not start: %s", err);
    server->port = rfk_http_front_port (server->front);
    assert_int_equal (pipe (server->inject), 0);
    assert_int_equal (pthread_create (&server->thread, NULL, s_server_loop, server), 0);
    return server;
}

static void
s_server_stop (server_t **server_p)
{
    server_t *server = *server_p;
    assert_int_equal (write (server->inject[1], "stop\n", 5), 5);
    pthread_join (server->thread, NULL);
    rfk_http_front_destroy (&server->front);
    close (server->inject[0]);
    close (server->inject[1]);
    pthread_cond_destroy (&server->changed);
    pthread_mutex_destroy (&server->lock);
    pthread_mutex_destroy (&server->fake.lock);
    free (server);
    *server_p = NULL;
}

/* Publish an event as admin would: owner (NULL: admins only), name, data. */
static void
s_event (server_t *server, const char *owner, const char *name, const char *data)
{
    char line[70000];
    int n = snprintf (line, sizeof line, "%s\t%s\t%s\n", owner ? owner : "", name, data);
    assert_true (n > 0 && (size_t)n < sizeof line);
    assert_int_equal (write (server->inject[1], line, (size_t)n), n);
}

typedef struct {
    server_t *server; /* the front's test server */
    size_t count;     /* the streams wanted */
} s_streams_wait_t;

/* Whether count streams are open (lock held). */
static bool
s_streams_open (void *arg)
{
    s_streams_wait_t *wait = arg;
    return wait->server->streams == wait->count;
}

/* Wait until the front has `count` streams open. */
static void
s_wait_streams (server_t *server, size_t count)
{
    s_streams_wait_t wait = {server, count};
    if (!rfk_test_wait_locked (&server->lock, &server->changed, s_streams_open, &wait, S_WAIT_MS))
        fail_msg ("%zu event streams are open, expected %zu", server->streams, count);
}

/* Open a stream with ?token= and expect 200 and the first comment. */
static sse_t *
s_stream (server_t *server, const char *token)
{
    char path[256];
    snprintf (path, sizeof path, "/events?token=%s", token);
    sse_t *sse = sse_open (server->port, path, NULL, 0);
    assert_non_null (sse);
    assert_int_equal (sse_status (sse, S_WAIT_MS), 200);
    char *hello = sse_next (sse, S_WAIT_MS);
    assert_non_null (hello);
    assert_non_null (strstr (hello, ": connected"));
    free (hello);
    return sse;
}

/* The next event's name and data must be these. */
static void
s_expect_event (sse_t *sse, const char *name, const char *data)
{
    char *message = sse_next_event (sse, S_WAIT_MS);
    if (!message)
        fail_msg ("no event came (expected %s %s)", name, data);
    char *got_name = sse_field (message, "event");
    char *got_data = sse_field (message, "data");
    if (!got_name || strcmp (got_name, name) || !got_data || strcmp (got_data, data))
        fail_msg ("expected event %s %s, got \"%s\"", name, data, message);
    free (got_name);
    free (got_data);
    free (message);
}

//  --------------------------------------------------------------------------
//  Tests

/* Usage: a user opens the stream with the token in the query string and
   receives the events of her jobs as `event:` and `data:` lines. */
static void
test_usage (void **state)
{
    (void)state;
    server_t *server = s_server_start (0, 0, 0);
    sse_t *sse = s_stream (server, "alice");
    assert_string_equal (sse_header (sse, "Content-Type"), "text/event-stream");
    assert_string_equal (sse_header (sse, "Cache-Control"), "no-cache");
    s_wait_streams (server, 1);
    s_event (server, "u-alice", "TrialUpdate",
             "{\"trial_id\":\"t1\",\"job\":\"j1\",\"trial_no\":1,\"status\":\"COMPLETED\","
             "\"score\":0.95}");
    s_expect_event (sse, "TrialUpdate",
                    "{\"trial_id\":\"t1\",\"job\":\"j1\",\"trial_no\":1,\"status\":\"COMPLETED\","
                    "\"score\":0.95}");
    sse_close (&sse);
    s_server_stop (&server);
}

/* No token, a bad token, another scheme: 401 with the JSON error; the
   Authorization header works like the query string; wrong methods 405. */
static void
test_refusals (void **state)
{
    (void)state;
    server_t *server = s_server_start (0, 0, 0);
    struct {
        const char *path, *authorization;
    } refused[] = {{"/events", NULL},
                   {"/events?token=", NULL},
                   {"/events?token=mallory", NULL},
                   {"/events", "Bearer mallory"},
                   {"/events", "Basic YWxpY2U6eA=="}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        sse_t *sse = sse_open (server->port, refused[i].path, refused[i].authorization, 0);
        assert_non_null (sse);
        assert_int_equal (sse_status (sse, S_WAIT_MS), 401);
        assert_string_equal (sse_header (sse, "Content-Type"), "application/json");
        assert_true (sse_wait_end (sse, S_WAIT_MS));
        json_t *body = json_loads (sse_body (sse), 0, NULL);
        assert_non_null (body);
        assert_string_equal (
            json_string_value (json_object_get (json_object_get (body, "error"), "code")),
            "UNAUTHORIZED");
        json_decref (body);
        sse_close (&sse);
    }
    sse_t *sse = sse_open (server->port, "/events", "Bearer bob", 0);
    assert_int_equal (sse_status (sse, S_WAIT_MS), 200);
    s_wait_streams (server, 1);
    s_event (server, "u-bob", "JobStatus", "{\"id\":\"j2\",\"status\":\"RUNNING\"}");
    s_expect_event (sse, "JobStatus", "{\"id\":\"j2\",\"status\":\"RUNNING\"}");
    sse_close (&sse);
    s_wait_streams (server, 0);

    //  POST is not served; /events/x is no static file.
    sse = sse_open (server->port, "/events/x?token=bob", NULL, 0);
    assert_int_equal (sse_status (sse, S_WAIT_MS), 404);
    sse_close (&sse);
    s_server_stop (&server);
}

/* Each stream gets its user's events; admins (SUPERADMIN, ADMIN) get every
   event, including those of nobody in particular. Events keep their order,
   so when a stream sees its own marker, anything meant for others would
   have come before it. */
static void
test_owners (void **state)
{
    (void)state;
    server_t *server = s_server_start (0, 0, 0);
    sse_t *alice = s_stream (server, "alice");
    sse_t *bob = s_stream (server, "bob");
    sse_t *root = s_stream (server, "root");
    sse_t *boss = s_stream (server, "boss");
    s_wait_streams (server, 4);
    s_event (server, "u-alice", "JobStatus", "{\"id\":\"a\"}");
    s_event (server, "u-bob", "JobStatus", "{\"id\":\"b\"}");
    s_event (server, NULL, "ServiceStatus", "{\"service_id\":\"s\"}");
    s_event (server, "u-carol", "LogLine", "{\"trial_id\":\"c\"}");
    s_event (server, "u-alice", "LogLine", "{\"trial_id\":\"a-end\"}");
    s_event (server, "u-bob", "LogLine", "{\"trial_id\":\"b-end\"}");

    s_expect_event (alice, "JobStatus", "{\"id\":\"a\"}");
    s_expect_event (alice, "LogLine", "{\"trial_id\":\"a-end\"}");
    s_expect_event (bob, "JobStatus", "{\"id\":\"b\"}");
    s_expect_event (bob, "LogLine", "{\"trial_id\":\"b-end\"}");
    sse_t *admins[] = {root, boss};
    for (int i = 0; i < 2; i++) {
        s_expect_event (admins[i], "JobStatus", "{\"id\":\"a\"}");
        s_expect_event (admins[i], "JobStatus", "{\"id\":\"b\"}");
        s_expect_event (admins[i], "ServiceStatus", "{\"service_id\":\"s\"}");
        s_expect_event (admins[i], "LogLine", "{\"trial_id\":\"c\"}");
        s_expect_event (admins[i], "LogLine", "{\"trial_id\":\"a-end\"}");
        s_expect_event (admins[i], "LogLine", "{\"trial_id\":\"b-end\"}");
    }
    //  A newline in the data becomes a second data line; a name with a
    //  newline is refused (it would forge fields).
    s_event (server, "u-alice", "Bad\\nevent: Forged", "{}");
    s_event (server, "u-alice", "LogLine", "{\"message\":1,\\n\"more\":2}");
    char *message = sse_next_event (alice, S_WAIT_MS);
    assert_non_null (message);
    assert_string_equal (message, "event: LogLine\ndata: {\"message\":1,\ndata: \"more\":2}");
    free (message);

    sse_close (&alice);
    sse_close (&bob);
    sse_close (&root);
    sse_close (&boss);
    s_server_stop (&server);
}

/* A keepalive comment comes every events_keepalive_ms; a stream whose token
   stops being valid ends at the next round (the browser's EventSource then
   gets a 401 and stops). */
static void
test_keepalive_and_revocation (void **state)
{
    (void)state;
    server_t *server = s_server_start (100, 0, 0);
    sse_t *alice = s_stream (server, "alice");
    sse_t *temp = s_stream (server, "temp");
    s_wait_streams (server, 2);
    for (int i = 0; i < 2; i++) {
        char *message = sse_next (alice, S_WAIT_MS);
        assert_non_null (message);
        assert_string_equal (message, ": keepalive");
        free (message);
    }
    pthread_mutex_lock (&server->fake.lock);
    server->fake.temp_valid = false;
    pthread_mutex_unlock (&server->fake.lock);
    assert_true (sse_wait_end (temp, S_WAIT_MS));
    s_wait_streams (server, 1);
    //  Alice's stream goes on.
    s_event (server, "u-alice", "JobStatus", "{\"id\":\"a\"}");
    s_expect_event (alice, "JobStatus", "{\"id\":\"a\"}");
    sse_close (&temp);
    sse_close (&alice);
    s_server_stop (&server);
}

/* A client that stops reading is dropped once more than events_buffer_bytes
   wait for it, and its connection is closed; a client that keeps up gets
   every event meanwhile. */
static void
test_slow_client_dropped (void **state)
{
    (void)state;
    const size_t buffer = 64 * 1024;
    server_t *server = s_server_start (0, buffer, 0);
    sse_t *fast = s_stream (server, "alice");
    sse_t *slow = sse_open (server->port, "/events?token=root", NULL, 4096);
    assert_int_equal (sse_status (slow, S_WAIT_MS), 200);
    s_wait_streams (server, 2);

    //  Batches smaller than the buffer, each read whole by the fast client
    //  before the next, until the slow one is gone (the kernel's socket
    //  buffers take a few MiB first).
    static char data[8 * 1024 + 64];
    int batches = 0;
    size_t streams = 2;
    while (streams == 2) {
        assert_true (batches < 4000);
        for (int i = 0; i < 4; i++) {
            snprintf (data, sizeof data, "{\"batch\":%d,\"i\":%d,\"pad\":\"%0*d\"}", batches, i,
                      8 * 1024, 0);
            s_event (server, "u-alice", "LogLine", data);
        }
        for (int i = 0; i < 4; i++) {
            snprintf (data, sizeof data, "{\"batch\":%d,\"i\":%d,\"pad\":\"%0*d\"}", batches, i,
                      8 * 1024, 0);
            s_expect_event (fast, "LogLine", data);
        }
        batches++;
        pthread_mutex_lock (&server->lock);
        streams = server->streams;
        pthread_mutex_unlock (&server->lock);
    }
    s_wait_streams (server, 1);
    //  The slow client finds its stream closed after what was in flight.
    assert_true (sse_wait_end (slow, S_WAIT_MS));
    //  The fast one goes on, and /metrics counts the drop.
    s_event (server, "u-alice", "JobStatus", "{\"id\":\"after\"}");
    s_expect_event (fast, "JobStatus", "{\"id\":\"after\"}");
    sse_t *metrics = sse_open (server->port, "/metrics", NULL, 0);
    assert_int_equal (sse_status (metrics, S_WAIT_MS), 200);
    assert_true (sse_wait_end (metrics, S_WAIT_MS));
    assert_non_null (strstr (sse_body (metrics), "\nrfk_http_event_streams 1\n"));
    assert_non_null (strstr (sse_body (metrics), "\nrfk_http_event_streams_dropped_total 1\n"));
    sse_close (&metrics);
    print_message ("# the slow client was dropped after %d batches of 32 KiB\n", batches);
    sse_close (&slow);
    sse_close (&fast);
    s_server_stop (&server);
}

/* At most events_max_streams streams: the next is 503; a client that hangs
   up frees its place at once (its stream is suspended, and the keepalive
   is 15 s away: the front's own epoll set notices). Stopping the front
   with streams open (suspended) is clean. */
static void
test_stream_cap_and_stop (void **state)
{
    (void)state;
    server_t *server = s_server_start (0, 0, 2);
    sse_t *one = s_stream (server, "alice");
    sse_t *two = s_stream (server, "bob");
    s_wait_streams (server, 2);
    sse_t *three = sse_open (server->port, "/events?token=root", NULL, 0);
    assert_int_equal (sse_status (three, S_WAIT_MS), 503);
    sse_close (&three);
    sse_close (&one);
    s_wait_streams (server, 1);
    three = s_stream (server, "root");
    s_wait_streams (server, 2);
    s_server_stop (&server);
    assert_true (sse_wait_end (two, S_WAIT_MS));
    assert_true (sse_wait_end (three, S_WAIT_MS));
    sse_close (&two);
    sse_close (&three);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_owners),
        cmocka_unit_test (test_keepalive_and_revocation),
        cmocka_unit_test (test_slow_client_dropped),
        cmocka_unit_test (test_stream_cap_and_stop),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
