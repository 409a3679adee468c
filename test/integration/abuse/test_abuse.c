/*  test_abuse.c: admin (and the predictor's HTTP front) under abuse, through
    the real sockets (issue 14).

    Admin runs in this process on port 0 everywhere, with a temporary data
    directory (SQLite). The cases:
    - a login flood: 20 connections (16 HTTP POST /tokens, 4 ZeroMQ Login)
      send wrong passwords for RAFIKI_ABUSE_FLOOD_S seconds (10 by default,
      as the issue measured) while a second user lists datasets and uploads
      small files over HTTP and a service's DEALER heartbeats on `service`:
      every one of the second user's requests succeeds with p99 under 200
      ms, or under four times its p99 without the flood on a machine slow by
      itself (p50/p99 printed), and every heartbeat is answered well within the
      heartbeat timeout, so no service can be expired;
    - failed logins limited per address and per e-mail: 429 RATE_LIMITED
      with Retry-After over HTTP, Error RATE_LIMITED with retry_after_s over
      ZeroMQ (the address from libzmq's Peer-Address);
    - a full hashing queue answers 503 with Retry-After;
    - per-user caps: a user's fifth open upload and ninth event stream are
      429 naming the key;
    - a large frame from a peer that never sent a valid token is TOO_LARGE
      and not decoded; after a token, the same frame is decoded;
    - slowloris on admin's HTTP front and on the predictor's: connections
      trickling one header byte a second are cut within the read timeout,
      a sixth connection from the same address is refused, and a normal
      client (from 127.0.0.2) is answered at once meanwhile.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rfk_admin.h"
#include "rfk_broker.h"
#include "rfk_config.h"
#include "rfk_predictor.h"
#include "rfk_test.h"
#include "rfk_test_real_admin.h"

#define S_PASSWORD "Abuse-Test-Pw-9182"
#define S_USER "second@rafiki.test"
#define S_USER_PASSWORD "second-user-pw-1"
#define S_FLOODERS_HTTP 16
#define S_FLOODERS_ZMQ 4

/* The admin under test. */
typedef rfk_test_real_admin_t s_admin_t;

/* What a case started, which its teardown stops. */
typedef struct {
    s_admin_t admin;     /* the admin under test (zeroed when none) */
    zsock_t *dealer;     /* a client of its command socket, or NULL */
    zactor_t *predictor; /* the predictor under test, or NULL */
    char *token;         /* the second user's token, or NULL */
    CURL *curl;          /* an HTTP client of the case, or NULL */
} s_case_t;

/* Start admin (embedded: SQLite in its data dir) with the test's settings
   plus extra {section, key, value} rows (NULL-terminated). What is measured
   is admin's loop under a flood, through plain sockets (a fake service's
   DEALER, ZeroMQ logins); CURVE on the bus is tested by admin_curve and e2e. */
static void
s_admin_start (s_admin_t *admin, const char *const (*extra)[3])
{
    const char *settings[16][3] = {
        {"admin", "jwt_secret", "abuse-test-jwt-secret-0123456789abcdef"}};
    size_t count = 1;
    for (size_t i = 0; extra && extra[i][1] && count < 15; i++, count++)
        memcpy (settings[count], extra[i], sizeof settings[count]);
    rfk_admin_args_t args = {.embedded = true};
    char err[512];
    if (rfk_test_real_admin_start (admin, "abuse", S_PASSWORD, (const char *const(*)[3])settings,
                                   &args, err, sizeof err))
        fail_msg ("%s", err);
    zsock_set_rcvtimeo (zactor_sock (admin->actor), 30000);
}

static void
s_admin_stop (s_admin_t *admin)
{
    rfk_test_real_admin_stop (admin);
}

//  --------------------------------------------------------------------------
//  HTTP

/* One answer. */
typedef struct {
    long status;      /* HTTP status, 0 when the transfer failed */
    char body[4096];  /* the body's start */
    size_t size;      /* bytes in body */
    long retry_after; /* the Retry-After header, -1 without one */
    double seconds;   /* how long it took */
} s_reply_t;

static size_t
s_on_body (char *data, size_t size, size_t n, void *arg)
{
    s_reply_t *reply = (s_reply_t *)arg;
    size_t length = size * n;
    size_t room = sizeof reply->body - 1 - reply->size;
    memcpy (reply->body + reply->size, data, length < room ? length : room);
    reply->size += length < room ? length : room;
    reply->body[reply->size] = 0;
    return length;
}

static size_t
s_on_header (char *data, size_t size, size_t n, void *arg)
{
    s_reply_t *reply = (s_reply_t *)arg;
    if (size * n > 12 && strncasecmp (data, "Retry-After:", 12) == 0)
        reply->retry_after = strtol (data + 12, NULL, 10);
    return size * n;
}

/* A request (body JSON text or NULL; mime a form or NULL) on curl. */
static s_reply_t
s_http (CURL *curl, const char *base, const char *method, const char *path, const char *token,
        const char *body, curl_mime *mime)
{
    s_reply_t reply = {.retry_after = -1};
    char url[512], auth[1200];
    snprintf (url, sizeof url, "%s%s", base, path);
    curl_easy_reset (curl);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &reply);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *headers = NULL;
    if (token) {
        snprintf (auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, auth);
    }
    if (body) {
        headers = curl_slist_append (headers, "Content-Type: application/json");
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    }
    if (mime)
        curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    int64_t start = zclock_usecs ();
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &reply.status);
    reply.seconds = (double)(zclock_usecs () - start) / 1e6;
    curl_slist_free_all (headers);
    return reply;
}

/* Log in over HTTP: the token (yours), or NULL (the answer printed). A 503
   is tried again after its Retry-After, as a client does (admin replaced a
   stuck hashing child). */
static char *
s_login (const char *base, const char *email, const char *password)
{
    CURL *curl = curl_easy_init ();
    char body[256];
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    s_reply_t reply = s_http (curl, base, "POST", "/tokens", NULL, body, NULL);
    for (int again = 0; again < 3 && reply.status == 503; again++) {
        poll (NULL, 0,
              (int)(reply.retry_after > 0 && reply.retry_after < 10 ? reply.retry_after : 1) *
                  1000);
        reply = s_http (curl, base, "POST", "/tokens", NULL, body, NULL);
    }
    curl_easy_cleanup (curl);
    if (reply.status != 200)
        print_message ("# login of %s: HTTP %ld after %.1f s: %.*s\n", email, reply.status,
                       reply.seconds, (int)(reply.size < 300 ? reply.size : 300), reply.body);
    json_t *json = reply.status == 200 ? json_loads (reply.body, 0, NULL) : NULL;
    const char *token = json_string_value (json_object_get (json, "token"));
    char *copy = token ? strdup (token) : NULL;
    json_decref (json);
    return copy;
}

/* The superadmin creates the second user (MODEL_DEVELOPER) and logs it in. */
static char *
s_second_user (const char *base)
{
    char *super = s_login (base, "superadmin@rafiki", S_PASSWORD);
    assert_non_null (super);
    CURL *curl = curl_easy_init ();
    s_reply_t reply = s_http (curl, base, "POST", "/users", super,
                              "{\"email\":\"" S_USER "\",\"password\":\"" S_USER_PASSWORD
                              "\",\"user_type\":\"MODEL_DEVELOPER\"}",
                              NULL);
    curl_easy_cleanup (curl);
    free (super);
    if (reply.status != 200)
        fail_msg ("create user: %ld %s", reply.status, reply.body);
    char *token = s_login (base, S_USER, S_USER_PASSWORD);
    assert_non_null (token);
    return token;
}

/* Upload a small CSV dataset as the user of token. */
static s_reply_t
s_upload (CURL *curl, const char *base, const char *token, const char *name)
{
    curl_mime *mime = curl_mime_init (curl);
    curl_mimepart *part = curl_mime_addpart (mime);
    curl_mime_name (part, "name");
    curl_mime_data (part, name, CURL_ZERO_TERMINATED);
    part = curl_mime_addpart (mime);
    curl_mime_name (part, "task");
    curl_mime_data (part, "TABULAR_CLASSIFICATION", CURL_ZERO_TERMINATED);
    part = curl_mime_addpart (mime);
    curl_mime_name (part, "dataset");
    curl_mime_filename (part, "small.csv");
    curl_mime_data (part, "a,b,label\n1,2,0\n3,4,1\n", CURL_ZERO_TERMINATED);
    s_reply_t reply = s_http (curl, base, "POST", "/datasets", token, NULL, mime);
    curl_mime_free (mime);
    return reply;
}

//  --------------------------------------------------------------------------
//  ZeroMQ

/* Send a Login on a DEALER and wait for its answer (NULL on timeout). */
static rfk_msg_t *
s_zmq_login (zsock_t *dealer, const char *email, const char *password, uint64_t correlation)
{
    rfk_msg_t *login = rfk_msg_new (&rfk_admin_family, "Login", correlation);
    json_object_set_new (login->body, "email", json_string (email));
    json_object_set_new (login->body, "password", json_string (password));
    assert_int_equal (rfk_envelope_send (dealer, login, 64 * 1024 * 1024), 0);
    rfk_msg_destroy (&login);
    rfk_msg_t *reply = NULL;
    rfk_code_t code;
    if (rfk_envelope_recv (dealer, &rfk_admin_family, 64 * 1024 * 1024, &reply, &code) != 0)
        rfk_msg_destroy (&reply);
    return reply;
}

static const char *
s_error_code (const rfk_msg_t *reply)
{
    return reply && rfk_msg_is (reply, "Error")
               ? json_string_value (json_object_get (reply->body, "code"))
               : NULL;
}

//  --------------------------------------------------------------------------
//  The login flood

/* What the flood shares. */
typedef struct {
    const s_admin_t *admin; /* where */
    volatile bool stop;     /* end now */
    pthread_mutex_t lock;   /* guards the counts */
    size_t answered[600];   /* answers by HTTP status */
} s_flood_t;

static void *
s_flood_http (void *arg)
{
    s_flood_t *flood = (s_flood_t *)arg;
    CURL *curl = curl_easy_init ();
    unsigned round = 0;
    while (!flood->stop) {
        char body[200];
        //  Half guess the second user's password, half made-up e-mails.
        snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"guess-%u\"}",
                  round % 2 ? S_USER : "nobody@rafiki.test", round);
        s_reply_t reply = s_http (curl, flood->admin->base, "POST", "/tokens", NULL, body, NULL);
        round++;
        pthread_mutex_lock (&flood->lock);
        flood->answered[reply.status < 600 && reply.status > 0 ? reply.status : 0]++;
        pthread_mutex_unlock (&flood->lock);
    }
    curl_easy_cleanup (curl);
    return NULL;
}

static void *
s_flood_zmq (void *arg)
{
    s_flood_t *flood = (s_flood_t *)arg;
    zsock_t *dealer = zsock_new_dealer (flood->admin->command);
    zsock_set_rcvtimeo (dealer, 10000);
    uint64_t correlation = 0;
    while (!flood->stop) {
        rfk_msg_t *reply = s_zmq_login (dealer, S_USER, "wrong-guess", ++correlation);
        const char *code = s_error_code (reply);
        long status = !reply ? 0 : !code ? 200 : strcmp (code, "UNAUTHORIZED") == 0 ? 401 : 500;
        pthread_mutex_lock (&flood->lock);
        flood->answered[status]++;
        pthread_mutex_unlock (&flood->lock);
        rfk_msg_destroy (&reply);
    }
    zsock_destroy (&dealer);
    return NULL;
}

/* What the service's DEALER saw of its heartbeats. */
typedef struct {
    const s_admin_t *admin; /* where */
    volatile bool stop;     /* end now */
    size_t sent;            /* heartbeats sent */
    size_t answered;        /* answered */
    int64_t worst_ms;       /* the longest wait for an answer */
} s_beat_t;

/* A service heartbeating on `service` every 200 ms, timing the answers. */
static void *
s_heartbeat (void *arg)
{
    s_beat_t *beat = (s_beat_t *)arg;
    zsock_t *dealer = zsock_new_dealer (beat->admin->service);
    zsock_set_rcvtimeo (dealer, 5000);
    while (!beat->stop) {
        rfk_msg_t *ping = rfk_msg_new (&rfk_service_family, "Heartbeat", 0);
        int64_t sent = zclock_mono ();
        rfk_envelope_send (dealer, ping, 1024 * 1024);
        rfk_msg_destroy (&ping);
        beat->sent++;
        rfk_msg_t *pong = NULL;
        rfk_code_t code;
        if (rfk_envelope_recv (dealer, &rfk_service_family, 1024 * 1024, &pong, &code) == 0 &&
            rfk_msg_is (pong, "Heartbeat")) {
            beat->answered++;
            int64_t waited = zclock_mono () - sent;
            if (waited > beat->worst_ms)
                beat->worst_ms = waited;
        }
        rfk_msg_destroy (&pong);
        zpoller_t *pause = zpoller_new (NULL);
        zpoller_wait (pause, 200); //  the heartbeat interval
        zpoller_destroy (&pause);
    }
    zsock_destroy (&dealer);
    return NULL;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* What the second user saw. */
typedef struct {
    size_t count;  /* requests */
    size_t failed; /* not 200 */
    double p50;    /* milliseconds */
    double p99;    /* milliseconds */
    double max;    /* milliseconds */
} s_work_t;

/* The second user for `seconds`: list, list, list, list, upload, one
   request every 50 ms; the latencies. */
static s_work_t
s_work (const s_admin_t *admin, const char *token, int seconds, const char *phase)
{
    s_work_t work = {0};
    size_t capacity = (size_t)seconds * 40 + 16;
    double *latency = (double *)calloc (capacity, sizeof (double));
    assert_non_null (latency);
    CURL *curl = curl_easy_init ();
    int64_t until = zclock_mono () + (int64_t)seconds * 1000;
    while (zclock_mono () < until && work.count < capacity) {
        char name[64];
        snprintf (name, sizeof name, "%s-%zu", phase, work.count);
        bool upload = work.count % 5 == 4;
        s_reply_t reply = upload
                              ? s_upload (curl, admin->base, token, name)
                              : s_http (curl, admin->base, "GET", "/datasets", token, NULL, NULL);
        if (reply.status != 200) {
            work.failed++;
            print_message ("# second user: %ld %s\n", reply.status, reply.body);
        }
        if (reply.seconds > 0.1)
            print_message ("# %s: request %zu (%s) took %.0f ms\n", phase, work.count,
                           upload ? "upload" : "list", reply.seconds * 1000);
        latency[work.count++] = reply.seconds;
        poll (NULL, 0, 50); //  the next request 50 ms after this one ended
    }
    curl_easy_cleanup (curl);
    qsort (latency, work.count, sizeof (double), s_compare);
    work.p50 = latency[work.count / 2] * 1000;
    work.p99 = latency[(work.count * 99) / 100] * 1000;
    work.max = latency[work.count - 1] * 1000;
    free (latency);
    return work;
}

/* 20 connections guess passwords while the second user works: all its
   requests succeed, p99 < 200 ms (RAFIKI_ABUSE_P99_MS), or under four times
   the p99 of a short run without the flood (before it, or, when the flood's
   p99 is over that, also after it), when the machine is that slow by itself;
   heartbeats are answered in time. */
static void
test_login_flood (void **state)
{
    const char *const extra[][3] = {{"admin", "login_failures_per_minute", "0"},
                                    {"bus", "heartbeat_timeout_ms", "5000"},
                                    {NULL, NULL, NULL}};
    s_case_t *self = (s_case_t *)*state;
    s_admin_t *admin = &self->admin;
    s_admin_start (admin, extra);
    char *token = self->token = s_second_user (admin->base);
    const char *flood_s = getenv ("RAFIKI_ABUSE_FLOOD_S");
    int seconds = flood_s && atoi (flood_s) > 0 ? atoi (flood_s) : 10;
    const char *p99_env = getenv ("RAFIKI_ABUSE_P99_MS");
    double p99_max = p99_env && atof (p99_env) > 0 ? atof (p99_env) : 200.0;
    s_work_t quiet = s_work (admin, token, seconds < 3 ? seconds : 3, "quiet");
    print_message ("# without the flood: %zu requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                   quiet.count, quiet.p50, quiet.p99, quiet.max);

    s_flood_t flood = {.admin = admin};
    pthread_mutex_init (&flood.lock, NULL);
    s_beat_t beat = {.admin = admin};
    pthread_t threads[S_FLOODERS_HTTP + S_FLOODERS_ZMQ], beater;
    for (int i = 0; i < S_FLOODERS_HTTP + S_FLOODERS_ZMQ; i++)
        assert_int_equal (pthread_create (&threads[i], NULL,
                                          i < S_FLOODERS_HTTP ? s_flood_http : s_flood_zmq, &flood),
                          0);
    assert_int_equal (pthread_create (&beater, NULL, s_heartbeat, &beat), 0);
    s_work_t work = s_work (admin, token, seconds, "flood");
    flood.stop = true;
    beat.stop = true;
    for (int i = 0; i < S_FLOODERS_HTTP + S_FLOODERS_ZMQ; i++)
        pthread_join (threads[i], NULL);
    pthread_join (beater, NULL);

    print_message ("# login flood %d s: %zu guesses answered 401, %zu 503, %zu 500, %zu no answer; "
                   "second user: %zu requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
                   "heartbeats %zu/%zu answered, worst %lld ms\n",
                   seconds, flood.answered[401], flood.answered[503], flood.answered[500],
                   flood.answered[0], work.count, work.p50, work.p99, work.max, beat.answered,
                   beat.sent, (long long)beat.worst_ms);
    assert_true (flood.answered[401] > 0); //  the flood really ran
    assert_int_equal (flood.answered[200], 0);
    assert_int_equal (flood.answered[500], 0);
    assert_int_equal (quiet.failed + work.failed, 0);
    //  The goal is p99 < 200 ms; a machine already slow without the flood (other builds
    //  on two cores) gets four times its own quiet p99, so the test measures the flood's
    //  effect, not the machine. Before hashing left admin's loop the flood made it 2.95 s.
    double bound = quiet.p99 * 4 > p99_max ? quiet.p99 * 4 : p99_max;
    if (work.p99 >= bound) {
        //  Over it: was the machine slower during the flood than before it? A second quiet
        //  run, right after, tells (a stall the flood causes does not outlive it).
        s_work_t after = s_work (admin, token, seconds < 3 ? seconds : 3, "quiet after");
        print_message ("# without the flood, after it: %zu requests, p99 %.1f ms\n", after.count,
                       after.p99);
        assert_int_equal (after.failed, 0);
        if (after.p99 * 4 > bound)
            bound = after.p99 * 4;
    }
    print_message ("# p99 bound: %.1f ms (max of %.0f ms and 4 x the quiet p99)\n", bound, p99_max);
    assert_true (work.count >= (size_t)seconds);
    assert_true (work.p99 < bound);
    //  A service is expired after heartbeat_timeout_ms (5 s here) of silence: every
    //  heartbeat came back in under half of it.
    assert_int_equal (beat.answered, beat.sent);
    assert_true (beat.worst_ms < 2500);
    zstr_free (&self->token);
    pthread_mutex_destroy (&flood.lock);
    s_admin_stop (admin);
}

//  --------------------------------------------------------------------------
//  Limits

/* Failed logins: 401 until the limit, then 429 with Retry-After, for the
   address and the e-mail, on both fronts. */
static void
test_login_rate_limit (void **state)
{
    const char *const extra[][3] = {{"admin", "login_failures_per_minute", "3"},
                                    {NULL, NULL, NULL}};
    s_case_t *self = (s_case_t *)*state;
    s_admin_t *admin = &self->admin;
    s_admin_start (admin, extra);
    char *token = self->token = s_second_user (admin->base); //  two good logins: no failure counted
    CURL *curl = self->curl = curl_easy_init ();
    const char *wrong = "{\"email\":\"" S_USER "\",\"password\":\"not-it\"}";
    for (int i = 0; i < 3; i++) {
        s_reply_t reply = s_http (curl, admin->base, "POST", "/tokens", NULL, wrong, NULL);
        assert_int_equal (reply.status, 401);
        assert_int_equal (reply.retry_after, -1);
    }
    s_reply_t reply = s_http (curl, admin->base, "POST", "/tokens", NULL, wrong, NULL);
    assert_int_equal (reply.status, 429);
    assert_true (reply.retry_after >= 1 && reply.retry_after <= 60);
    assert_non_null (strstr (reply.body, "RATE_LIMITED"));
    assert_non_null (strstr (reply.body, "admin.login_failures_per_minute"));
    //  Even the right password waits now (the e-mail and the address).
    reply = s_http (curl, admin->base, "POST", "/tokens", NULL,
                    "{\"email\":\"" S_USER "\",\"password\":\"" S_USER_PASSWORD "\"}", NULL);
    assert_int_equal (reply.status, 429);
    //  Another e-mail from this address waits too.
    reply = s_http (curl, admin->base, "POST", "/tokens", NULL,
                    "{\"email\":\"superadmin@rafiki\",\"password\":\"" S_PASSWORD "\"}", NULL);
    assert_int_equal (reply.status, 429);
    //  Over ZeroMQ: the same address (Peer-Address), the same answer.
    zsock_t *dealer = self->dealer = zsock_new_dealer (admin->command);
    zsock_set_rcvtimeo (dealer, 10000);
    rfk_msg_t *answer = s_zmq_login (dealer, "superadmin@rafiki", S_PASSWORD, 1);
    assert_non_null (answer);
    assert_string_equal (s_error_code (answer), "RATE_LIMITED");
    json_int_t retry = json_integer_value (json_object_get (answer->body, "retry_after_s"));
    assert_true (retry >= 1 && retry <= 60);
    rfk_msg_destroy (&answer);
    //  A user already logged in is not affected.
    reply = s_http (curl, admin->base, "GET", "/datasets", token, NULL, NULL);
    assert_int_equal (reply.status, 200);
    zsock_destroy (&self->dealer);
    curl_easy_cleanup (self->curl);
    self->curl = NULL;
    zstr_free (&self->token);
    s_admin_stop (admin);
}

/* One hashing thread with a queue of one: of many logins at once, some
   are answered 503 with Retry-After. */
static void
test_hash_queue_full (void **state)
{
    const char *const extra[][3] = {{"admin", "login_failures_per_minute", "0"},
                                    {"admin", "hash_workers", "1"},
                                    {"admin", "hash_queue", "1"},
                                    {NULL, NULL, NULL}};
    s_case_t *self = (s_case_t *)*state;
    s_admin_t *admin = &self->admin;
    s_admin_start (admin, extra);
    //  Eight Logins sent at once on one DEALER, then their answers.
    zsock_t *dealer = self->dealer = zsock_new_dealer (admin->command);
    zsock_set_rcvtimeo (dealer, 15000);
    for (uint64_t i = 1; i <= 8; i++) {
        rfk_msg_t *login = rfk_msg_new (&rfk_admin_family, "Login", i);
        json_object_set_new (login->body, "email", json_string ("nobody@rafiki.test"));
        json_object_set_new (login->body, "password", json_string ("wrong"));
        assert_int_equal (rfk_envelope_send (dealer, login, 1024 * 1024), 0);
        rfk_msg_destroy (&login);
    }
    size_t busy = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        rfk_msg_t *reply = NULL;
        rfk_code_t code;
        assert_int_equal (rfk_envelope_recv (dealer, &rfk_admin_family, 1024 * 1024, &reply, &code),
                          0);
        const char *name = s_error_code (reply);
        assert_non_null (name);
        if (strcmp (name, "UNAVAILABLE") == 0) {
            busy++;
            assert_int_equal (json_integer_value (json_object_get (reply->body, "retry_after_s")),
                              1);
        } else
            refused += strcmp (name, "UNAUTHORIZED") == 0;
        rfk_msg_destroy (&reply);
    }
    print_message ("# 8 logins at once, 1 thread, queue 1: %zu answered 401, %zu 503\n", refused,
                   busy);
    assert_true (busy >= 1);
    assert_true (refused >= 2); //  one running, one queued
    assert_int_equal (busy + refused, 8);
    zsock_destroy (&self->dealer);
    s_admin_stop (admin);
}

/* Per-user caps: open uploads (ZeroMQ UploadStart) and event streams. */
static void
test_user_caps (void **state)
{
    const char *const extra[][3] = {{"admin", "user_max_uploads", "4"},
                                    {"admin", "user_max_event_streams", "2"},
                                    {NULL, NULL, NULL}};
    s_case_t *self = (s_case_t *)*state;
    s_admin_t *admin = &self->admin;
    s_admin_start (admin, extra);
    char *token = self->token = s_second_user (admin->base);
    zsock_t *dealer = self->dealer = zsock_new_dealer (admin->command);
    zsock_set_rcvtimeo (dealer, 10000);
    for (uint64_t i = 1; i <= 5; i++) {
        rfk_msg_t *start = rfk_msg_new (&rfk_admin_family, "UploadStart", i);
        rfk_msg_set_token (start, token);
        json_object_set_new (start->body, "kind", json_string ("DATASET"));
        json_object_set_new (start->body, "name", json_string ("capped"));
        json_object_set_new (start->body, "task", json_string ("TABULAR_CLASSIFICATION"));
        assert_int_equal (rfk_envelope_send (dealer, start, 1024 * 1024), 0);
        rfk_msg_destroy (&start);
        rfk_msg_t *reply = NULL;
        rfk_code_t code;
        assert_int_equal (rfk_envelope_recv (dealer, &rfk_admin_family, 1024 * 1024, &reply, &code),
                          0);
        if (i <= 4)
            assert_true (rfk_msg_is (reply, "UploadReady"));
        else {
            assert_string_equal (s_error_code (reply), "RATE_LIMITED");
            const char *message = json_string_value (json_object_get (reply->body, "message"));
            assert_non_null (strstr (message, "admin.user_max_uploads"));
        }
        rfk_msg_destroy (&reply);
    }
    //  Event streams: two open, the third refused with 429.
    CURLM *multi = curl_multi_init ();
    CURL *streams[2];
    char url[600];
    snprintf (url, sizeof url, "%s/events?token=%s", admin->base, token);
    for (int i = 0; i < 2; i++) {
        streams[i] = curl_easy_init ();
        curl_easy_setopt (streams[i], CURLOPT_URL, url);
        curl_easy_setopt (streams[i], CURLOPT_WRITEFUNCTION, s_on_body);
        static s_reply_t sink[2];
        curl_easy_setopt (streams[i], CURLOPT_WRITEDATA, &sink[i]);
        curl_multi_add_handle (multi, streams[i]);
    }
    //  Until both streams said hello.
    int64_t until = zclock_mono () + 10000;
    int running = 0;
    size_t open = 0;
    while (zclock_mono () < until && open < 2) {
        curl_multi_perform (multi, &running);
        curl_multi_poll (multi, NULL, 0, 100, NULL);
        zstr_send (admin->actor, "STORE-CALLS"); //  any round trip: admin served a turn
        char *calls = zstr_recv (admin->actor);
        zstr_free (&calls);
        open = 0;
        for (int i = 0; i < 2; i++) {
            long code = 0;
            curl_easy_getinfo (streams[i], CURLINFO_RESPONSE_CODE, &code);
            open += code == 200;
        }
    }
    assert_int_equal (open, 2);
    CURL *curl = self->curl = curl_easy_init ();
    s_reply_t reply = s_http (curl, admin->base, "GET", "/events", token, NULL, NULL);
    assert_int_equal (reply.status, 429);
    assert_non_null (strstr (reply.body, "admin.user_max_event_streams"));
    assert_true (reply.retry_after >= 1);
    for (int i = 0; i < 2; i++) {
        curl_multi_remove_handle (multi, streams[i]);
        curl_easy_cleanup (streams[i]);
    }
    curl_multi_cleanup (multi);
    curl_easy_cleanup (self->curl);
    self->curl = NULL;
    zsock_destroy (&self->dealer);
    zstr_free (&self->token);
    s_admin_stop (admin);
}

/* A 200 KiB frame from a peer that never sent a valid token is TOO_LARGE
   (admin.untrusted_frame_bytes 64KiB); after a request with a token, the
   same frame is decoded (and answered NOT_FOUND: no such upload). */
static void
test_untrusted_frames (void **state)
{
    const char *const extra[][3] = {{"admin", "untrusted_frame_bytes", "64KiB"},
                                    {NULL, NULL, NULL}};
    s_case_t *self = (s_case_t *)*state;
    s_admin_t *admin = &self->admin;
    s_admin_start (admin, extra);
    char *token = self->token = s_second_user (admin->base);
    zsock_t *dealer = self->dealer = zsock_new_dealer (admin->command);
    zsock_set_rcvtimeo (dealer, 10000);
    size_t size = 200 * 1024;
    char *bytes = (char *)calloc (1, size);
    for (int round = 0; round < 2; round++) {
        if (round == 1) { //  vouch: one request with a valid token
            rfk_msg_t *me = rfk_msg_new (&rfk_admin_family, "GetMe", 10);
            rfk_msg_set_token (me, token);
            assert_int_equal (rfk_envelope_send (dealer, me, 1024 * 1024), 0);
            rfk_msg_destroy (&me);
            rfk_msg_t *reply = NULL;
            rfk_code_t code;
            assert_int_equal (
                rfk_envelope_recv (dealer, &rfk_admin_family, 1024 * 1024, &reply, &code), 0);
            assert_true (rfk_msg_is (reply, "User"));
            rfk_msg_destroy (&reply);
        }
        rfk_msg_t *chunk = rfk_msg_new (&rfk_admin_family, "UploadChunk", 20 + (uint64_t)round);
        rfk_msg_set_token (chunk, round ? token : "not-a-token");
        json_object_set_new (chunk->body, "upload_id", json_string ("no-such-upload"));
        chunk->data = zchunk_new (bytes, size);
        assert_int_equal (rfk_envelope_send (dealer, chunk, 1024 * 1024), 0);
        rfk_msg_destroy (&chunk);
        rfk_msg_t *reply = NULL;
        rfk_code_t code;
        assert_int_equal (rfk_envelope_recv (dealer, &rfk_admin_family, 1024 * 1024, &reply, &code),
                          0);
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        print_message ("# round %d: %s %s\n", round, s_error_code (reply), message);
        assert_string_equal (s_error_code (reply), round ? "NOT_FOUND" : "TOO_LARGE");
        if (!round)
            assert_non_null (strstr (message, "not authenticated"));
        rfk_msg_destroy (&reply);
    }
    free (bytes);
    zsock_destroy (&self->dealer);
    zstr_free (&self->token);
    s_admin_stop (admin);
}

//  --------------------------------------------------------------------------
//  Slowloris

/* A TCP connection to 127.0.0.1:port from source (NULL: any). */
static int
s_connect (int port, const char *source)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    if (source) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        inet_pton (AF_INET, source, &from.sin_addr);
        assert_int_equal (bind (fd, (struct sockaddr *)&from, sizeof from), 0);
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    inet_pton (AF_INET, "127.0.0.1", &to.sin_addr);
    assert_int_equal (connect (fd, (struct sockaddr *)&to, sizeof to), 0);
    return fd;
}

/* True when the server closed fd (EOF or reset), waiting up to wait_ms. */
static bool
s_closed (int fd, int wait_ms)
{
    struct pollfd item = {.fd = fd, .events = POLLIN};
    if (poll (&item, 1, wait_ms) <= 0)
        return false;
    char byte;
    ssize_t n = recv (fd, &byte, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN);
}

/* A GET from 127.0.0.2 (another address than the slow clients'): its
   status, and its time in *seconds. */
static long
s_normal_get (int port, const char *path, double *seconds)
{
    CURL *curl = curl_easy_init ();
    char base[64];
    snprintf (base, sizeof base, "http://127.0.0.1:%d", port);
    s_reply_t reply = {.retry_after = -1};
    char url[128];
    snprintf (url, sizeof url, "%s%s", base, path);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_INTERFACE, "host!127.0.0.2");
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 10L);
    int64_t start = zclock_usecs ();
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &reply.status);
    *seconds = (double)(zclock_usecs () - start) / 1e6;
    curl_easy_cleanup (curl);
    return reply.status;
}

/* Five slow clients trickle a header byte a second; a sixth from the same
   address is refused; a normal client is answered meanwhile; the slow ones
   are cut within the read timeout (2 s) plus a second's look. */
static void
s_slowloris (int port, const char *path)
{
    const char *request = "GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa";
    int slow[5];
    for (int i = 0; i < 5; i++)
        slow[i] = s_connect (port, NULL);
    int extra = s_connect (port, NULL);
    assert_true (s_closed (extra, 2000)); //  over http_max_per_address
    close (extra);
    int64_t start = zclock_mono ();
    bool cut[5] = {false};
    int cut_count = 0;
    int64_t cut_at = 0;
    for (size_t sent = 0; sent < strlen (request) && cut_count < 5; sent++) {
        for (int i = 0; i < 5; i++)
            if (!cut[i] && send (slow[i], request + sent, 1, MSG_NOSIGNAL) != 1)
                cut[i] = true;
        double seconds = 0;
        assert_int_equal (s_normal_get (port, path, &seconds), 200);
        //  Not held up by the slow ones: held, it would wait for their 2 s timeout.
        assert_true (seconds < 1.5);
        //  A byte a second, whichever clients are cut meanwhile (the server may cut
        //  them at different turns on a loaded machine).
        for (int64_t next = zclock_mono () + 1000; cut_count < 5 && zclock_mono () < next;) {
            //  Wait for any open one to be closed (or the second to end), then look.
            struct pollfd open[5];
            nfds_t n_open = 0;
            for (int i = 0; i < 5; i++)
                if (!cut[i])
                    open[n_open++] = (struct pollfd){.fd = slow[i], .events = POLLIN};
            int64_t left = next - zclock_mono ();
            poll (open, n_open, left > 0 ? (int)left : 0);
            for (int i = 0; i < 5; i++)
                if (!cut[i] && s_closed (slow[i], 0))
                    cut[i] = true;
            cut_count = 0;
            for (int i = 0; i < 5; i++)
                cut_count += cut[i];
        }
        if (cut_count == 5 && !cut_at)
            cut_at = zclock_mono ();
    }
    print_message ("# slowloris on %s: 5 slow clients cut after %.1f s\n", path,
                   cut_at ? (double)(cut_at - start) / 1000 : -1.0);
    assert_int_equal (cut_count, 5);
    //  2 s timeout, with room for a loaded machine: never cut would take the whole
    //  request, a byte a second (about a minute).
    assert_true (cut_at - start <= 8000);
    for (int i = 0; i < 5; i++)
        close (slow[i]);
}

static void
test_slowloris_admin (void **state)
{
    const char *const extra[][3] = {{"admin", "http_max_per_address", "5"},
                                    {"admin", "http_read_timeout_s", "2"},
                                    {NULL, NULL, NULL}};
    s_case_t *self = (s_case_t *)*state;
    s_admin_t *admin = &self->admin;
    s_admin_start (admin, extra);
    s_slowloris (atoi (strrchr (admin->base, ':') + 1), "/healthz");
    s_admin_stop (admin);
}

static void
test_slowloris_predictor (void **state)
{
    s_case_t *self = (s_case_t *)*state;
    rfk_predictor_args_t args = {.http = "127.0.0.1:0",
                                 .query_endpoint = "tcp://127.0.0.1:*",
                                 .workers_endpoint = "tcp://127.0.0.1:*",
                                 .http_per_address = 5,
                                 .http_read_timeout_s = 2};
    rfk_scatter_opts_defaults (&args.scatter);
    zactor_t *predictor = self->predictor = zactor_new (rfk_predictor_direct_actor, &args);
    assert_non_null (predictor);
    char *http = NULL, *query = NULL, *workers = NULL;
    zstr_send (predictor, "ENDPOINTS");
    zstr_recvx (predictor, &http, &query, &workers, NULL);
    assert_non_null (http);
    s_slowloris (atoi (strrchr (http, ':') + 1), "/healthz");
    zstr_free (&http);
    zstr_free (&query);
    zstr_free (&workers);
    zactor_destroy (&self->predictor);
}

/* Each case's state: what it started, stopped by its teardown also after
   a failed assertion (admin's actors left running abort the exit). */
static int
s_setup (void **state)
{
    *state = calloc (1, sizeof (s_case_t));
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    s_case_t *self = (s_case_t *)*state;
    zsock_destroy (&self->dealer);
    curl_easy_cleanup (self->curl);
    zstr_free (&self->token);
    zactor_destroy (&self->predictor);
    s_admin_stop (&self->admin);
    free (self);
    return 0;
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_login_rate_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_hash_queue_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_user_caps, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_untrusted_frames, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_slowloris_admin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_slowloris_predictor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_login_flood, s_setup, s_teardown),
    };
    if (getenv ("RAFIKI_TEST_FILTER")) //  e.g. test_login_flood
        cmocka_set_test_filter (getenv ("RAFIKI_TEST_FILTER"));
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}
