/*  test_rfk_admin.c: the admin actor through its real sockets.

    Each test starts the admin actor on tcp://127.0.0.1:* with a fresh data
    directory and SQLite (PostgreSQL when RAFIKI_TEST_ADMIN_PG_URL names an empty database), and
    talks to it as the SDK does: an rfk_client DEALER on `command`, DEALERs
    on `service` playing the workers, a SUB on `events`. The services admin
    launches run FAKE_SERVICE, a script that hands the test each service's
    secret (<data_dir>/secrets/<id>) and waits to be stopped, so the test can
    say Hello with it. The last tests run the real `rafikid up`.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rfk_sandbox.h"
#include "rfk_admin.h"
#include "rfk_auth.h"
#include "rfk_broker.h"
#include "rfk_config.h"
#include "rfk_msg.h"
#include "rfk_test.h"

extern char **environ;

#define S_PASSWORD "correct horse battery"
#define S_JWT_SECRET "0123456789abcdef0123456789abcdef-test-key"
#define S_UPLOAD_MAX (1024 * 1024)
#define S_WAIT_MS 20000

typedef struct {
    char dir[256];        /* the data directory */
    rfk_config_t *config; /* admin's configuration */
    zactor_t *admin;      /* the actor */
    char *command;        /* endpoints as bound */
    char *service;
    char *events;
    int http_port;
    rfk_bus_opts_t bus;   /* the clients' options */
    rfk_client_t *client; /* on `command` */
    zsock_t *sub;         /* on `events`, subscribed to everything the superadmin sees */
    char *token;          /* the superadmin's */
    int emails;           /* counter for unique addresses */
} s_env_t;

static char *
s_getenv_path (const char *name)
{
    const char *value = getenv (name);
    assert_non_null (value);
    return strdup (value);
}

/* ---- setup --------------------------------------------------------------- */

static void
s_set (rfk_config_t *config, const char *section, const char *key, const char *value)
{
    int rc = rfk_config_set (config, section, key, value, "test");
    if (rc != 0)
        fail_msg ("config %s.%s: %s", section, key, rfk_config_error (config));
}

static const char *s_sandbox_mode = "off"; /* launcher.sandbox of the next start */

static s_env_t *
s_start_with (const char *rafikid, bool dev, const char *password, char *failure, size_t size)
{
    s_env_t *env = (s_env_t *)calloc (1, sizeof *env);
    snprintf (env->dir, sizeof env->dir, "/tmp/rfk-admin-test-XXXXXX");
    assert_non_null (mkdtemp (env->dir));
    env->config = rfk_config_new ();
    s_set (env->config, "", "data_dir", env->dir);
    s_set (env->config, "", "log_level", "warning");
    s_set (env->config, "admin", "http_port", "0");
    s_set (env->config, "admin", "command_port", "0");
    s_set (env->config, "admin", "service_port", "0");
    //  The clients here are plain bus clients and fake services: CURVE is
    //  tested on its own (test/integration/bus/test_curve.c).
    s_set (env->config, "bus", "curve", "false");
    s_set (env->config, "admin", "events_port", "0");
    s_set (env->config, "admin", "superadmin_password", password);
    s_set (env->config, "admin", "jwt_secret", S_JWT_SECRET);
    s_set (env->config, "admin", "upload_max_bytes", "1MiB");
    s_set (env->config, "launcher", "max_restarts", "0");
    //  fake_service stands in for rafikid and writes into the data dir; no
    //  template code runs here, so no sandbox unless a case asks for one.
    s_set (env->config, "launcher", "sandbox", s_sandbox_mode);
    //  The store suite covers both backends on fresh databases; these cases
    //  reuse one store per start, so they run on PostgreSQL only when asked
    //  for a database of their own.
    const char *pg = getenv ("RAFIKI_TEST_ADMIN_PG_URL");
    if (pg && *pg)
        s_set (env->config, "store", "url", pg);
    rfk_admin_args_t args = {.config = env->config,
                             .dev = dev,
                             .rafikid_path = rafikid,
                             .check_path = getenv ("RAFIKID")};
    env->admin = zactor_new (rfk_admin_actor_with, &args);
    assert_non_null (env->admin);
    //  An actor that failed has already sent FAILED and may be gone, so the
    //  request must not wait for it forever.
    zsock_set_sndtimeo (zactor_sock (env->admin), 2000);
    zstr_send (env->admin, "ENDPOINTS");
    char *first = zstr_recv (env->admin);
    assert_non_null (first);
    if (streq (first, "FAILED")) {
        char *reason = zstr_recv (env->admin);
        snprintf (failure, size, "%s", reason ? reason : "");
        zstr_free (&reason);
        zstr_free (&first);
        //  The actor returned: its last signal, then nobody listens.
        zsock_wait (zactor_sock (env->admin));
        zsock_set_sndtimeo (zactor_sock (env->admin), 0);
        zsock_set_rcvtimeo (zactor_sock (env->admin), 0);
        zactor_destroy (&env->admin);
        rfk_config_destroy (&env->config);
        free (env);
        return NULL;
    }
    env->command = first;
    env->service = zstr_recv (env->admin);
    env->events = zstr_recv (env->admin);
    char *port = zstr_recv (env->admin);
    env->http_port = atoi (port);
    zstr_free (&port);
    rfk_bus_opts_defaults (&env->bus);
    env->bus.request_timeout_ms = 20000;
    env->bus.request_retries = 0;
    env->client = rfk_client_new (env->command, &rfk_admin_family, &env->bus);
    assert_non_null (env->client);
    env->sub = rfk_subscriber_new (env->events, &env->bus);
    assert_non_null (env->sub);
    rfk_subscriber_subscribe (env->sub, "");
    return env;
}

static rfk_msg_t *
s_call (s_env_t *env, const char *type, const char *token, json_t *body);

static s_env_t *
s_start (void)
{
    char *fake = s_getenv_path ("FAKE_SERVICE");
    char failure[512] = "";
    s_env_t *env = s_start_with (fake, false, S_PASSWORD, failure, sizeof failure);
    free (fake);
    if (!env)
        fail_msg ("admin did not start: %s", failure);
    rfk_msg_t *reply =
        s_call (env, "Login", NULL,
                json_pack ("{s:s, s:s}", "email", "superadmin@rafiki", "password", S_PASSWORD));
    assert_string_equal (reply->type, "Token");
    env->token = strdup (json_string_value (json_object_get (reply->body, "token")));
    rfk_msg_destroy (&reply);
    //  Admin applies a subscription to `events` only with a token.
    char auth[2100];
    snprintf (auth, sizeof auth, "auth %s ", env->token);
    rfk_subscriber_subscribe (env->sub, auth);
    return env;
}

static void
s_stop (s_env_t **env_p)
{
    s_env_t *env = *env_p;
    rfk_client_destroy (&env->client);
    zsock_destroy (&env->sub);
    zactor_destroy (&env->admin);
    rfk_config_destroy (&env->config);
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", env->dir);
    assert_int_equal (system (command), 0);
    zstr_free (&env->command);
    zstr_free (&env->service);
    zstr_free (&env->events);
    free (env->token);
    free (env);
    *env_p = NULL;
}

/* ---- requests ------------------------------------------------------------ */

/* Send a request (body stolen) with a token; the reply (never NULL). */
static rfk_msg_t *
s_call (s_env_t *env, const char *type, const char *token, json_t *body)
{
    rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, type, 0);
    assert_non_null (request);
    if (body) {
        json_decref (request->body);
        request->body = body;
    }
    if (token)
        rfk_msg_set_token (request, token);
    rfk_msg_t *reply = rfk_client_call (env->client, request);
    rfk_msg_destroy (&request);
    assert_non_null (reply);
    return reply;
}

/* The error code of a reply, RFK_CODE_OK when it is not an Error. */
static rfk_code_t
s_code (const rfk_msg_t *reply)
{
    return rfk_envelope_error_code (reply);
}

static const char *
s_message (const rfk_msg_t *reply)
{
    const char *message = json_string_value (json_object_get (reply->body, "message"));
    return message ? message : "";
}

/* Assert a reply is an Error of code whose message contains `words`. */
static void
s_expect_error (rfk_msg_t **reply_p, rfk_code_t code, const char *words)
{
    rfk_msg_t *reply = *reply_p;
    if (s_code (reply) != code)
        fail_msg ("expected %s, got %s: %s", rfk_code_name (code), reply->type, s_message (reply));
    if (words && !strstr (s_message (reply), words))
        fail_msg ("message \"%s\" does not say \"%s\"", s_message (reply), words);
    rfk_msg_destroy (reply_p);
}

/* Assert a reply is of type; return its body's string field (copy). */
static char *
s_expect (rfk_msg_t **reply_p, const char *type, const char *field)
{
    rfk_msg_t *reply = *reply_p;
    if (!streq (reply->type, type))
        fail_msg ("expected %s, got %s: %s", type, reply->type, s_message (reply));
    char *value = NULL;
    if (field) {
        const char *text = json_string_value (json_object_get (reply->body, field));
        assert_non_null (text);
        value = strdup (text);
    }
    rfk_msg_destroy (reply_p);
    return value;
}

/* A new user of type; returns its token (and id in *id_p when asked). */
static char *
s_user (s_env_t *env, const char *type, char **id_p)
{
    char email[64];
    snprintf (email, sizeof email, "user%d@example.org", ++env->emails);
    rfk_msg_t *reply = s_call (env, "CreateUser", env->token,
                               json_pack ("{s:s, s:s, s:s}", "email", email, "password",
                                          "password-123", "user_type", type));
    char *id = s_expect (&reply, "User", "id");
    if (id_p)
        *id_p = id;
    else
        free (id);
    reply = s_call (env, "Login", NULL,
                    json_pack ("{s:s, s:s}", "email", email, "password", "password-123"));
    return s_expect (&reply, "Token", "token");
}

/* Upload bytes in chunks; the final reply. */
static rfk_msg_t *
s_upload (s_env_t *env, const char *token, json_t *fields, const void *data, size_t size,
          size_t chunk)
{
    rfk_msg_t *reply = s_call (env, "UploadStart", token, fields);
    if (!rfk_msg_is (reply, "UploadReady"))
        return reply;
    char *upload_id = strdup (json_string_value (json_object_get (reply->body, "upload_id")));
    rfk_msg_destroy (&reply);
    size_t sent = 0;
    while (true) {
        size_t n = size - sent < chunk ? size - sent : chunk;
        bool last = sent + n >= size;
        rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
        json_object_set_new (request->body, "upload_id", json_string (upload_id));
        json_object_set_new (request->body, "last", json_boolean (last));
        rfk_msg_set_data (request, (const char *)data + sent, n);
        rfk_msg_set_token (request, token);
        reply = rfk_client_call (env->client, request);
        rfk_msg_destroy (&request);
        sent += n;
        if (last || !rfk_msg_is (reply, "UploadProgress"))
            break;
        assert_int_equal (json_integer_value (json_object_get (reply->body, "received")), sent);
        rfk_msg_destroy (&reply);
    }
    free (upload_id);
    return reply;
}

static const char s_csv[] = "a,b,target\n1,2,0\n3,4,1\n5,6,0\n";

static char *
s_dataset (s_env_t *env, const char *token, const char *name)
{
    rfk_msg_t *reply = s_upload (env, token,
                                 json_pack ("{s:s, s:s, s:s}", "kind", "DATASET", "name", name,
                                            "task", "TABULAR_CLASSIFICATION"),
                                 s_csv, strlen (s_csv), 8);
    return s_expect (&reply, "Dataset", "id");
}

/* The bytes of a file (size in *size_p). */
static char *
s_read_file (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    assert_non_null (file);
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *data = (char *)malloc ((size_t)size + 1);
    assert_int_equal (fread (data, 1, (size_t)size, file), (size_t)size);
    fclose (file);
    *size_p = (size_t)size;
    return data;
}

/* Upload a template .so from the TPL_<name> variable. */
static rfk_msg_t *
s_model_upload (s_env_t *env, const char *token, const char *variable, const char *name,
                const char *access)
{
    char *path = s_getenv_path (variable);
    size_t size;
    char *data = s_read_file (path, &size);
    rfk_msg_t *reply =
        s_upload (env, token,
                  json_pack ("{s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "kind", "MODEL", "name", name,
                             "task", "TABULAR_CLASSIFICATION", "model_class", "TestGood",
                             "access_right", access, "dependencies", "numpy", "1.0"),
                  data, size, 4096);
    free (data);
    free (path);
    return reply;
}

/* ---- events and fake services -------------------------------------------- */

/* Wait for an event of type whose field equals value; its body (yours). */
static json_t *
s_wait_event (s_env_t *env, const char *type, const char *field, const char *value,
              const char *field2, const char *value2)
{
    int64_t until = zclock_mono () + S_WAIT_MS;
    while (zclock_mono () < until) {
        zsock_set_rcvtimeo (env->sub, (int)(until - zclock_mono ()));
        char *topic = NULL;
        rfk_msg_t *event = NULL;
        rfk_code_t code;
        if (rfk_envelope_recv_topic (env->sub, &rfk_event_family, env->bus.max_frame_bytes, &topic,
                                     &event, &code) != 0) {
            zstr_free (&topic);
            continue;
        }
        bool match = streq (event->type, type);
        const char *got = json_string_value (json_object_get (event->body, field));
        match = match && got && streq (got, value);
        if (match && field2) {
            got = json_string_value (json_object_get (event->body, field2));
            match = got && streq (got, value2);
        }
        json_t *body = match ? json_incref (event->body) : NULL;
        zstr_free (&topic);
        rfk_msg_destroy (&event);
        if (body)
            return body;
    }
    fail_msg ("no %s event with %s=%s", type, field, value);
    return NULL;
}

/* Wait until n secrets were handed to fake services; their ids, roles and
   secrets in the arrays (yours). */
static void
s_wait_secrets (s_env_t *env, size_t n, char **ids, char **roles, char **secrets)
{
    char dir[300];
    snprintf (dir, sizeof dir, "%s/secrets", env->dir);
    mkdir (dir, 0750);
    int fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
    assert_true (fd >= 0);
    assert_true (inotify_add_watch (fd, dir, IN_MOVED_TO) >= 0);
    int64_t until = zclock_mono () + S_WAIT_MS;
    size_t found = 0;
    while (true) {
        zdir_t *listing = zdir_new (dir, NULL);
        zfile_t **files = listing ? zdir_flatten (listing) : NULL;
        for (size_t index = 0; files && files[index]; index++) {
            const char *path = zfile_filename (files[index], NULL);
            const char *base = strrchr (path, '/') + 1;
            if (strchr (base, '.'))
                continue;
            bool known = false;
            for (size_t other = 0; other < found; other++)
                known = known || streq (ids[other], base);
            if (known || found == n)
                continue;
            size_t size;
            ids[found] = strdup (base);
            secrets[found] = s_read_file (path, &size);
            secrets[found][size] = 0;
            char role_path[600];
            snprintf (role_path, sizeof role_path, "%s.role", path);
            roles[found] = s_read_file (role_path, &size);
            roles[found][size > 0 ? size - 1 : 0] = 0;
            found++;
        }
        zdir_flatten_free (&files);
        zdir_destroy (&listing);
        if (found == n || zclock_mono () >= until)
            break;
        struct pollfd item = {fd, POLLIN, 0};
        poll (&item, 1, (int)(until - zclock_mono ()));
        char buffer[4096];
        while (read (fd, buffer, sizeof buffer) > 0)
            ;
    }
    close (fd);
    if (found != n)
        fail_msg ("only %zu of %zu services started", found, n);
}

/* Forget the secrets handed out so far. */
static void
s_clear_secrets (s_env_t *env)
{
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s/secrets'", env->dir);
    assert_int_equal (system (command), 0);
}

/* A worker's DEALER on `service`; says Hello with the secret. */
static rfk_client_t *
s_worker (s_env_t *env, const char *id, const char *secret, rfk_msg_t **config_p)
{
    rfk_client_t *worker = rfk_client_new (env->service, &rfk_service_family, &env->bus);
    assert_non_null (worker);
    rfk_msg_t *hello = rfk_msg_new (&rfk_service_family, "Hello", 0);
    json_object_set_new (hello->body, "service_id", json_string (id));
    json_object_set_new (hello->body, "secret", json_string (secret));
    *config_p = rfk_client_call (worker, hello);
    rfk_msg_destroy (&hello);
    return worker;
}

static rfk_msg_t *
s_report (rfk_client_t *worker, const char *type, json_t *body)
{
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, type, 0);
    json_decref (msg->body);
    msg->body = body;
    rfk_msg_t *reply = rfk_client_call (worker, msg);
    rfk_msg_destroy (&msg);
    return reply;
}

static void
s_ack (rfk_client_t *worker, const char *type, json_t *body)
{
    rfk_msg_t *reply = s_report (worker, type, body);
    if (!rfk_msg_is (reply, "Ack"))
        fail_msg ("%s: expected Ack, got %s %s", type, reply->type, s_message (reply));
    rfk_msg_destroy (&reply);
}

/* Plays a provider (advisor or predictor) that said Hello: binds each of
   its bind_endpoints for real (port 0, so the kernel picks) and reports
   RUNNING with what it got. The sockets are the caller's (n of them). */
static void
s_report_running (rfk_client_t *worker, const rfk_msg_t *config, zsock_t **bound, size_t n)
{
    json_t *binds = json_object_get (config->body, "bind_endpoints");
    assert_int_equal (json_array_size (binds), n);
    json_t *endpoints = json_array ();
    for (size_t index = 0; index < n; index++) {
        const char *bind = json_string_value (json_array_get (binds, index));
        assert_non_null (bind);
        bool http = strncmp (bind, "http://", 7) == 0;
        char zmq_bind[300];
        //  An HTTP front is played by a ZMQ_STREAM socket: a TCP port.
        snprintf (zmq_bind, sizeof zmq_bind, "tcp://%s", http ? bind + 7 : bind + 6);
        char *star = http ? strrchr (zmq_bind, ':') : NULL;
        if (star && streq (star, ":0"))
            strcpy (star, ":*");
        bound[index] = zsock_new (http ? ZMQ_STREAM : ZMQ_ROUTER);
        assert_true (zsock_bind (bound[index], "%s", zmq_bind) > 0);
        const char *got = zsock_endpoint (bound[index]);
        char reported[300];
        snprintf (reported, sizeof reported, "%s%s", http ? "http://" : "tcp://", got + 6);
        json_array_append_new (endpoints, json_string (reported));
    }
    s_ack (worker, "StatusReport",
           json_pack ("{s:s, s:o}", "status", "RUNNING", "endpoints", endpoints));
}

/* The port of "scheme://HOST:PORT" or "HOST:PORT". */
static int
s_port_of (const char *endpoint)
{
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    return colon ? atoi (colon + 1) : 0;
}

/* ---- tests --------------------------------------------------------------- */

/* Usage: start admin, log in as the superadmin, ask who we are. */
static void
test_usage (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    rfk_msg_t *reply = s_call (env, "GetMe", env->token, NULL);
    assert_string_equal (reply->type, "User");
    assert_string_equal (json_string_value (json_object_get (reply->body, "email")),
                         "superadmin@rafiki");
    assert_string_equal (json_string_value (json_object_get (reply->body, "user_type")),
                         "SUPERADMIN");
    rfk_msg_destroy (&reply);
    assert_true (env->http_port > 0);
    s_stop (&env);
}

static void
test_start_refuses_default_password (void **state)
{
    (void)state;
    char *fake = s_getenv_path ("FAKE_SERVICE");
    char failure[512] = "";
    s_env_t *env = s_start_with (fake, false, "", failure, sizeof failure);
    assert_null (env);
    assert_non_null (strstr (failure, "RAFIKI_SUPERADMIN_PASSWORD"));
    env = s_start_with (fake, false, "rafiki", failure, sizeof failure);
    assert_null (env);
    assert_non_null (strstr (failure, "default"));
    //  --dev starts with the development password, and says so in the log.
    env = s_start_with (fake, true, "", failure, sizeof failure);
    assert_non_null (env);
    rfk_msg_t *reply =
        s_call (env, "Login", NULL,
                json_pack ("{s:s, s:s}", "email", "superadmin@rafiki", "password", "rafiki"));
    free (s_expect (&reply, "Token", "token"));
    s_stop (&env);
    free (fake);
}

static void
test_login_and_tokens (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    rfk_msg_t *reply =
        s_call (env, "Login", NULL,
                json_pack ("{s:s, s:s}", "email", "superadmin@rafiki", "password", "wrong"));
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "wrong email or password");
    reply = s_call (env, "Login", NULL, json_pack ("{s:s}", "email", "superadmin@rafiki"));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "`password`");
    reply = s_call (env, "GetMe", NULL, NULL);
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "no token");
    reply = s_call (env, "GetMe", "not.a.token", NULL);
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "malformed");
    //  A token signed with another key, and one that expired.
    rfk_auth_t *other = rfk_auth_new ("another key, 32 bytes or longer!!", 33, 3600);
    char *forged = rfk_auth_token_issue (other, "x", RFK_AUTH_SUPERADMIN, time (NULL));
    reply = s_call (env, "GetMe", forged, NULL);
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "signature");
    free (forged);
    rfk_auth_destroy (&other);
    char *user_id = NULL;
    char *token = s_user (env, "APP_DEVELOPER", &user_id);
    rfk_auth_t *same = rfk_auth_new (S_JWT_SECRET, strlen (S_JWT_SECRET), 60);
    char *expired = rfk_auth_token_issue (same, user_id, RFK_AUTH_APP_DEVELOPER, time (NULL) - 600);
    reply = s_call (env, "GetMe", expired, NULL);
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "expired");
    free (expired);
    rfk_auth_destroy (&same);
    //  A ban works at once, also for the token issued before it.
    reply = s_call (env, "GetMe", token, NULL);
    free (s_expect (&reply, "User", "id"));
    reply = s_call (env, "GetMe", env->token, NULL);
    char *email = NULL;
    rfk_msg_destroy (&reply);
    reply = s_call (env, "ListUsers", env->token, NULL);
    json_t *users = json_object_get (reply->body, "users");
    for (size_t index = 0; index < json_array_size (users); index++)
        if (streq (json_string_value (json_object_get (json_array_get (users, index), "id")),
                   user_id))
            email = strdup (
                json_string_value (json_object_get (json_array_get (users, index), "email")));
    rfk_msg_destroy (&reply);
    assert_non_null (email);
    reply = s_call (env, "BanUser", env->token, json_pack ("{s:s}", "email", email));
    assert_string_equal (reply->type, "User");
    assert_true (json_is_true (json_object_get (reply->body, "banned")));
    rfk_msg_destroy (&reply);
    reply = s_call (env, "GetMe", token, NULL);
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "banned");
    reply = s_call (env, "Login", NULL,
                    json_pack ("{s:s, s:s}", "email", email, "password", "password-123"));
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "banned");
    reply = s_call (env, "BanUser", env->token, json_pack ("{s:s}", "email", "nobody@x.org"));
    s_expect_error (&reply, RFK_CODE_NOT_FOUND, "nobody@x.org");
    //  Bad user fields name the field.
    reply = s_call (env, "CreateUser", env->token,
                    json_pack ("{s:s, s:s, s:s}", "email", "a@b.c", "password", "password-123",
                               "user_type", "KING"));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "`user_type`");
    reply = s_call (env, "CreateUser", env->token,
                    json_pack ("{s:s, s:s, s:s}", "email", "nope", "password", "password-123",
                               "user_type", "ADMIN"));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "`email`");
    reply = s_call (env, "CreateUser", env->token,
                    json_pack ("{s:s, s:s, s:s}", "email", email, "password", "password-123",
                               "user_type", "ADMIN"));
    s_expect_error (&reply, RFK_CODE_CONFLICT, email);
    free (email);
    free (user_id);
    free (token);
    s_stop (&env);
}

/* One row of the roles matrix: a request, and the answer each user type
   gets (OK or an error code): superadmin, admin, model dev, app dev. */
typedef struct {
    const char *what;
    rfk_code_t expected[4];
} s_row_t;

static void
test_roles_matrix (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    const char *types[4] = {"SUPERADMIN", "ADMIN", "MODEL_DEVELOPER", "APP_DEVELOPER"};
    char *tokens[4];
    tokens[0] = strdup (env->token);
    for (int index = 1; index < 4; index++)
        tokens[index] = s_user (env, types[index], NULL);
    //  Things owned by the model developer and the app developer.
    rfk_msg_t *reply = s_model_upload (env, tokens[2], "TPL_GOOD", "private-model", "PRIVATE");
    char *model = s_expect (&reply, "Model", "id");
    char *dataset = s_dataset (env, tokens[3], "app-data");
    const rfk_code_t OK = RFK_CODE_OK, NO = RFK_CODE_FORBIDDEN;
    const s_row_t rows[] = {
        {"ListUsers", {OK, OK, NO, NO}},
        {"CreateUser APP_DEVELOPER", {OK, OK, NO, NO}},
        {"CreateUser ADMIN", {OK, NO, NO, NO}},
        {"UploadStart MODEL", {OK, OK, OK, NO}},
        {"UploadStart DATASET", {OK, OK, OK, OK}},
        {"GetModel private", {OK, OK, OK, NO}},
        {"GetModelFile private", {OK, OK, OK, NO}},
        {"GetDataset of app dev", {OK, OK, NO, OK}},
        {"StopAllJobs", {OK, NO, NO, NO}},
        {"GetMe", {OK, OK, OK, OK}},
    };
    for (size_t row = 0; row < sizeof rows / sizeof rows[0]; row++)
        for (int who = 0; who < 4; who++) {
            const char *what = rows[row].what;
            json_t *body = NULL;
            const char *type = what;
            char email[64];
            snprintf (email, sizeof email, "matrix%zu-%d@example.org", row, who);
            if (strncmp (what, "CreateUser", 10) == 0) {
                type = "CreateUser";
                body = json_pack ("{s:s, s:s, s:s}", "email", email, "password", "password-123",
                                  "user_type", strchr (what, ' ') + 1);
            } else if (strncmp (what, "UploadStart", 11) == 0) {
                type = "UploadStart";
                body = json_pack ("{s:s, s:s, s:s}", "kind", strchr (what, ' ') + 1, "name", email,
                                  "task", "TABULAR_CLASSIFICATION");
            } else if (strncmp (what, "GetModel", 8) == 0) {
                type = strncmp (what, "GetModelFile", 12) == 0 ? "GetModelFile" : "GetModel";
                body = json_pack ("{s:s}", "id", model);
            } else if (strncmp (what, "GetDataset", 10) == 0) {
                type = "GetDataset";
                body = json_pack ("{s:s}", "id", dataset);
            }
            reply = s_call (env, type, tokens[who], body);
            rfk_code_t code = s_code (reply);
            if (code != rows[row].expected[who])
                fail_msg ("%s as %s: expected %s, got %s (%s)", what, types[who],
                          rfk_code_name (rows[row].expected[who]), rfk_code_name (code),
                          s_message (reply));
            rfk_msg_destroy (&reply);
        }
    //  The model file comes back byte for byte.
    reply = s_call (env, "GetModelFile", tokens[2], json_pack ("{s:s}", "id", model));
    assert_string_equal (reply->type, "FileData");
    char *path = s_getenv_path ("TPL_GOOD");
    size_t size;
    char *bytes = s_read_file (path, &size);
    assert_int_equal (zchunk_size (reply->data), size);
    assert_memory_equal (zchunk_data (reply->data), bytes, size);
    free (bytes);
    free (path);
    rfk_msg_destroy (&reply);
    for (int index = 0; index < 4; index++)
        free (tokens[index]);
    free (model);
    free (dataset);
    s_stop (&env);
}

static void
test_datasets_and_models (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    char *token = s_user (env, "MODEL_DEVELOPER", NULL);
    char *dataset = s_dataset (env, token, "iris-train");
    //  The file and its digest are under data_dir/datasets.
    rfk_msg_t *reply = s_call (env, "GetDataset", token, json_pack ("{s:s}", "id", dataset));
    assert_string_equal (reply->type, "Dataset");
    assert_int_equal (json_integer_value (json_object_get (reply->body, "size_bytes")),
                      strlen (s_csv));
    assert_string_equal (json_string_value (json_object_get (reply->body, "task")),
                         "TABULAR_CLASSIFICATION");
    rfk_msg_destroy (&reply);
    reply =
        s_call (env, "ListDatasets", token, json_pack ("{s:s}", "task", "TABULAR_CLASSIFICATION"));
    assert_int_equal (json_array_size (json_object_get (reply->body, "datasets")), 1);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "ListDatasets", token, json_pack ("{s:s}", "task", "POS_TAGGING"));
    assert_int_equal (json_array_size (json_object_get (reply->body, "datasets")), 0);
    rfk_msg_destroy (&reply);
    char command[600];
    snprintf (command, sizeof command,
              "cd '%s/datasets' && test \"$(cat *.sha256 | cut -d' ' -f1)\" = "
              "\"$(printf '%%s' '%s' | sha256sum | cut -d' ' -f1)\"",
              env->dir, "a,b,target\n1,2,0\n3,4,1\n5,6,0\n");
    assert_int_equal (system (command), 0);

    //  Bad uploads: oversize (declared and streamed), not a zip, missing fields.
    reply = s_call (env, "UploadStart", token,
                    json_pack ("{s:s, s:s, s:s, s:I}", "kind", "DATASET", "name", "big", "task",
                               "TABULAR_REGRESSION", "size", (json_int_t)S_UPLOAD_MAX + 1));
    s_expect_error (&reply, RFK_CODE_TOO_LARGE, "upload_max_bytes");
    char *big = (char *)calloc (1, S_UPLOAD_MAX + 1);
    reply = s_upload (env, token,
                      json_pack ("{s:s, s:s, s:s}", "kind", "DATASET", "name", "big", "task",
                                 "TABULAR_REGRESSION"),
                      big, S_UPLOAD_MAX + 1, 256 * 1024);
    s_expect_error (&reply, RFK_CODE_TOO_LARGE, "upload_max_bytes");
    free (big);
    reply = s_upload (env, token,
                      json_pack ("{s:s, s:s, s:s}", "kind", "DATASET", "name", "imgs", "task",
                                 "IMAGE_CLASSIFICATION"),
                      s_csv, strlen (s_csv), 1024);
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "zip");
    //  A dataset named by URL (as the SDK sends it): admin downloads it.
    static char served[256];
    snprintf (served, sizeof served, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
              strlen (s_csv), s_csv);
    rfk_test_http_once_t server;
    assert_int_equal (rfk_test_http_once_start (&server, served, false), 0);
    char url[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/by-url.csv", server.port);
    reply = s_upload (env, token,
                      json_pack ("{s:s, s:s, s:s, s:s}", "kind", "DATASET", "name", "by-url",
                                 "task", "TABULAR_REGRESSION", "dataset_url", url),
                      s_csv, 0, 1024);
    rfk_test_http_once_join (&server);
    assert_string_equal (reply->type, "Dataset");
    assert_int_equal (json_integer_value (json_object_get (reply->body, "size_bytes")),
                      strlen (s_csv));
    rfk_msg_destroy (&reply);
    reply = s_call (env, "UploadStart", token,
                    json_pack ("{s:s, s:s, s:s, s:s}", "kind", "MODEL", "name", "m", "task",
                               "TABULAR_REGRESSION", "dataset_url", url));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "dataset_url");
    reply = s_call (env, "UploadStart", token,
                    json_pack ("{s:s, s:s}", "kind", "DATASET", "name", "x"));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "`task`");
    reply = s_call (env, "UploadStart", token,
                    json_pack ("{s:s, s:s, s:s}", "kind", "DATASET", "name", "x", "task", "SING"));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "`task`");
    reply =
        s_call (env, "UploadStart", token, json_pack ("{s:s, s:i}", "kind", "DATASET", "name", 3));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "name");
    rfk_msg_t *chunk = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
    json_object_set_new (chunk->body, "upload_id", json_string ("no-such-upload"));
    rfk_msg_set_token (chunk, token);
    reply = rfk_client_call (env->client, chunk);
    rfk_msg_destroy (&chunk);
    s_expect_error (&reply, RFK_CODE_NOT_FOUND, "no-such-upload");

    //  Models: a good template, one that is not a model, one that crashes.
    reply = s_model_upload (env, token, "TPL_GOOD", "good", "PUBLIC");
    assert_string_equal (reply->type, "Model");
    char *model = strdup (json_string_value (json_object_get (reply->body, "id")));
    assert_string_equal (json_string_value (json_object_get (reply->body, "access_right")),
                         "PUBLIC");
    assert_string_equal (json_string_value (json_object_get (
                             json_object_get (reply->body, "dependencies"), "numpy")),
                         "1.0");
    rfk_msg_destroy (&reply);
    reply = s_model_upload (env, token, "TPL_GOOD", "good", "PUBLIC");
    s_expect_error (&reply, RFK_CODE_CONFLICT, "good");
    reply = s_model_upload (env, token, "TPL_NONE", "none", "PRIVATE");
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "rafiki_model");
    reply = s_model_upload (env, token, "TPL_CRASH", "crash", "PRIVATE");
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "crashed");
    reply = s_upload (env, token,
                      json_pack ("{s:s, s:s, s:s}", "kind", "MODEL", "name", "text", "task",
                                 "TABULAR_CLASSIFICATION"),
                      s_csv, strlen (s_csv), 1024);
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "not a usable model template");
    //  Admin keeps serving, and only the good model is listed.
    reply = s_call (env, "ListAvailableModels", token,
                    json_pack ("{s:s}", "task", "TABULAR_CLASSIFICATION"));
    assert_string_equal (reply->type, "ModelList");
    assert_int_equal (json_array_size (json_object_get (reply->body, "models")), 1);
    rfk_msg_destroy (&reply);
    //  An app developer sees the public model too, but may not delete it.
    char *app = s_user (env, "APP_DEVELOPER", NULL);
    reply = s_call (env, "ListAvailableModels", app, NULL);
    assert_int_equal (json_array_size (json_object_get (reply->body, "models")), 1);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "DeleteModel", app, json_pack ("{s:s}", "id", model));
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, NULL);
    reply = s_call (env, "GetDataset", app, json_pack ("{s:s}", "id", dataset));
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, NULL);
    reply = s_call (env, "GetDataset", app,
                    json_pack ("{s:s}", "id", "00000000-0000-4000-8000-000000000000"));
    s_expect_error (&reply, RFK_CODE_NOT_FOUND, NULL);
    reply = s_call (env, "GetDataset", app, NULL);
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "`id`");
    reply = s_call (env, "DeleteModel", token, json_pack ("{s:s}", "id", model));
    free (s_expect (&reply, "Deleted", "id"));
    reply = s_call (env, "DeleteDataset", token, json_pack ("{s:s}", "id", dataset));
    free (s_expect (&reply, "Deleted", "id"));
    reply = s_call (env, "GetDataset", token, json_pack ("{s:s}", "id", dataset));
    s_expect_error (&reply, RFK_CODE_NOT_FOUND, NULL);
    free (app);
    free (model);
    free (dataset);
    free (token);
    s_stop (&env);
}

static void
test_bad_frames (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    //  Garbage on `command` is answered MALFORMED; a reply type as a request
    //  is refused; admin goes on serving.
    zsock_t *raw = zsock_new_dealer (env->command);
    zsock_set_rcvtimeo (raw, S_WAIT_MS);
    zstr_send (raw, "this is not an envelope");
    rfk_msg_t *reply = NULL;
    rfk_code_t code;
    assert_int_equal (
        rfk_envelope_recv (raw, &rfk_admin_family, env->bus.max_frame_bytes, &reply, &code), 0);
    s_expect_error (&reply, RFK_CODE_MALFORMED, NULL);
    zsock_destroy (&raw);
    reply = s_call (env, "User", env->token, NULL);
    assert_int_equal (s_code (reply), RFK_CODE_UNKNOWN_MESSAGE);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "GetMe", env->token, NULL);
    free (s_expect (&reply, "User", "id"));
    //  The service socket refuses unknown services and wrong secrets.
    rfk_msg_t *config = NULL;
    rfk_client_t *worker = s_worker (env, "no-such-service", "secret", &config);
    s_expect_error (&config, RFK_CODE_UNAUTHORIZED, "secret");
    reply = s_report (worker, "StatusReport", json_pack ("{s:s}", "status", "RUNNING"));
    s_expect_error (&reply, RFK_CODE_UNAUTHORIZED, "Hello");
    rfk_client_destroy (&worker);
    s_stop (&env);
}

/* A train job whose services are played by the test, then an inference job. */
static void
test_train_and_inference_jobs (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    char *developer = s_user (env, "MODEL_DEVELOPER", NULL);
    char *app_dev = s_user (env, "APP_DEVELOPER", NULL);
    rfk_msg_t *reply = s_model_upload (env, developer, "TPL_GOOD", "public-good", "PUBLIC");
    char *model = s_expect (&reply, "Model", "id");
    reply = s_model_upload (env, developer, "TPL_GOOD", "private-good", "PRIVATE");
    char *private_model = s_expect (&reply, "Model", "id");
    char *train = s_dataset (env, app_dev, "train");
    char *val = s_dataset (env, app_dev, "val");
    char *other = s_dataset (env, developer, "not-yours");

    //  Validation, each answer naming the field.
    struct {
        json_t *body;
        rfk_code_t code;
        const char *words;
    } bad[] = {
        {json_pack ("{s:s, s:s, s:s, s:[s]}", "task", "TABULAR_CLASSIFICATION", "train_dataset_id",
                    train, "val_dataset_id", val, "model_ids", model),
         RFK_CODE_BAD_REQUEST, "`app`"},
        {json_pack ("{s:s, s:s, s:s, s:[s]}", "app", "a", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", train, "model_ids", model),
         RFK_CODE_BAD_REQUEST, "`val_dataset_id`"},
        {json_pack ("{s:s, s:s, s:s, s:s}", "app", "a", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", train, "val_dataset_id", val),
         RFK_CODE_BAD_REQUEST, "`model_ids`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "a b", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", train, "val_dataset_id", val, "model_ids", model),
         RFK_CODE_BAD_REQUEST, "`app`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "a", "task", "TABULAR_REGRESSION",
                    "train_dataset_id", train, "val_dataset_id", val, "model_ids", model),
         RFK_CODE_BAD_REQUEST, "`train_dataset_id`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "a", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", "00000000-0000-4000-8000-000000000000", "val_dataset_id",
                    val, "model_ids", model),
         RFK_CODE_NOT_FOUND, "`train_dataset_id`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "a", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", other, "val_dataset_id", val, "model_ids", model),
         RFK_CODE_FORBIDDEN, "`train_dataset_id`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "a", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", train, "val_dataset_id", val, "model_ids",
                    "00000000-0000-4000-8000-000000000000"),
         RFK_CODE_NOT_FOUND, "`model_ids[0]`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "a", "task", "TABULAR_CLASSIFICATION",
                    "train_dataset_id", train, "val_dataset_id", val, "model_ids", private_model),
         RFK_CODE_FORBIDDEN, "`model_ids[0]`"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i}}", "app", "a", "task",
                    "TABULAR_CLASSIFICATION", "train_dataset_id", train, "val_dataset_id", val,
                    "model_ids", model, "budget", "MODEL_TRIAL_CUONT", 3),
         RFK_CODE_BAD_REQUEST, "MODEL_TRIAL_CUONT"},
        {json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i}}", "app", "a", "task",
                    "TABULAR_CLASSIFICATION", "train_dataset_id", train, "val_dataset_id", val,
                    "model_ids", model, "budget", "MODEL_TRIAL_COUNT", 0),
         RFK_CODE_BAD_REQUEST, "budget.MODEL_TRIAL_COUNT"},
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        reply = s_call (env, "CreateTrainJob", app_dev, bad[index].body);
        s_expect_error (&reply, bad[index].code, bad[index].words);
    }
    //  A mistyped field is refused by the codec before it reaches admin.
    char err[256];
    json_t *mistyped = json_pack ("{s:s, s:i}", "app", "a", "budget", 3);
    assert_null (
        rfk_msg_new_from_json (&rfk_admin_family, "CreateTrainJob", 0, mistyped, err, sizeof err));
    assert_non_null (strstr (err, "budget"));
    json_decref (mistyped);

    //  The job: one advisor and two trainers for the one model.
    reply =
        s_call (env, "CreateTrainJob", app_dev,
                json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i, s:i}, s:{s:s}}", "app", "iris",
                           "task", "TABULAR_CLASSIFICATION", "train_dataset_id", train,
                           "val_dataset_id", val, "model_ids", model, "budget", "MODEL_TRIAL_COUNT",
                           5, "TRAINER_COUNT", 2, "train_args", "target", "target"));
    assert_string_equal (reply->type, "TrainJob");
    char *job = strdup (json_string_value (json_object_get (reply->body, "id")));
    assert_int_equal (json_integer_value (json_object_get (reply->body, "app_version")), 1);
    json_t *subs = json_object_get (reply->body, "sub_train_jobs");
    assert_int_equal (json_array_size (subs), 1);
    char *sub = strdup (json_string_value (json_object_get (json_array_get (subs, 0), "id")));
    assert_string_equal (
        json_string_value (json_object_get (json_array_get (subs, 0), "model_name")),
        "public-good");
    rfk_msg_destroy (&reply);
    json_decref (s_wait_event (env, "JobStatus", "id", job, "status", "STARTED"));
    //  One live job per app.
    reply = s_call (env, "CreateTrainJob", app_dev,
                    json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "iris", "task",
                               "TABULAR_CLASSIFICATION", "train_dataset_id", train,
                               "val_dataset_id", val, "model_ids", model));
    s_expect_error (&reply, RFK_CODE_CONFLICT, "live train job");

    //  The advisor starts first, binds any port and reports the one it got;
    //  then its two trainers start, told where it listens.
    char *ids[3], *roles[3], *secrets[3];
    s_wait_secrets (env, 1, ids, roles, secrets);
    assert_string_equal (roles[0], "advisor");
    s_clear_secrets (env);
    rfk_client_t *workers[3];
    zsock_t *advice = NULL;
    for (int index = 0; index < 3; index++) {
        if (index == 1)
            s_wait_secrets (env, 2, ids + 1, roles + 1, secrets + 1);
        rfk_msg_t *config = NULL;
        //  A wrong secret first.
        workers[index] = s_worker (env, ids[index], "0000", &config);
        s_expect_error (&config, RFK_CODE_UNAUTHORIZED, NULL);
        rfk_client_destroy (&workers[index]);
        workers[index] = s_worker (env, ids[index], secrets[index], &config);
        assert_string_equal (config->type, "ServiceConfig");
        assert_string_equal (json_string_value (json_object_get (config->body, "sub_train_job_id")),
                             sub);
        const char *model_path = json_string_value (json_object_get (config->body, "model_path"));
        assert_non_null (model_path);
        assert_int_equal (access (model_path, R_OK), 0);
        assert_int_equal (
            access (json_string_value (json_object_get (config->body, "train_dataset_path")), R_OK),
            0);
        if (index == 0) {
            assert_string_equal (json_string_value (json_array_get (
                                     json_object_get (config->body, "bind_endpoints"), 0)),
                                 "tcp://127.0.0.1:*");
            s_report_running (workers[0], config, &advice, 1);
        } else {
            //  The advisor's endpoint with the port the kernel gave it: a
            //  trainer reaches it there.
            assert_string_equal (roles[index], "trainer");
            const char *endpoint =
                json_string_value (json_object_get (config->body, "advisor_endpoint"));
            assert_string_equal (endpoint, zsock_endpoint (advice));
            assert_true (s_port_of (endpoint) > 0);
            zsock_t *dealer = zsock_new_dealer (endpoint);
            zstr_send (dealer, "hi");
            zsock_set_rcvtimeo (advice, S_WAIT_MS);
            zmsg_t *got = zmsg_recv (advice);
            assert_non_null (got);
            zmsg_destroy (&got);
            zsock_destroy (&dealer);
        }
        rfk_msg_destroy (&config);
    }
    int advisor = 0, trainer = 1;
    //  Everyone RUNNING: the sub job and the job roll up to RUNNING.
    for (int index = 1; index < 3; index++)
        s_ack (workers[index], "StatusReport",
               json_pack ("{s:s, s:s}", "service_id", ids[index], "status", "RUNNING"));
    json_decref (s_wait_event (env, "JobStatus", "id", job, "status", "RUNNING"));
    reply = s_call (env, "GetTrainJob", app_dev,
                    json_pack ("{s:s, s:i}", "app", "iris", "app_version", -1));
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "RUNNING");
    rfk_msg_destroy (&reply);
    //  A service may not report for another.
    reply = s_report (workers[trainer], "StatusReport",
                      json_pack ("{s:s, s:s}", "service_id", ids[advisor], "status", "ERRORED"));
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, NULL);

    //  A trial: created by the advisor, run by a trainer, with logs.
    reply = s_report (workers[trainer], "TrialCreate",
                      json_pack ("{s:s, s:i, s:{s:i}}", "sub_train_job_id", sub, "trial_no", 1,
                                 "knobs", "depth", 3));
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, "advisor");
    reply = s_report (workers[advisor], "TrialCreate",
                      json_pack ("{s:s, s:i, s:{s:i}}", "sub_train_job_id", sub, "trial_no", 1,
                                 "knobs", "depth", 3));
    assert_string_equal (reply->type, "TrialCreated");
    char *trial = strdup (json_string_value (json_object_get (reply->body, "trial_id")));
    rfk_msg_destroy (&reply);
    json_decref (s_wait_event (env, "TrialUpdate", "trial_id", trial, "status", "PENDING"));
    s_ack (workers[trainer], "TrialStarted",
           json_pack ("{s:s, s:s}", "trial_id", trial, "worker_id", ids[trainer]));
    s_ack (workers[trainer], "TrialLog",
           json_pack ("{s:s, s:f, s:s}", "trial_id", trial, "time", 1700000000.5, "message",
                      "epoch 1"));
    json_decref (s_wait_event (env, "LogLine", "trial_id", trial, "message", "epoch 1"));
    s_ack (
        workers[trainer], "TrialMetrics",
        json_pack ("{s:s, s:{s:i, s:f}}", "trial_id", trial, "metrics", "epoch", 1, "loss", 0.5));
    s_ack (workers[trainer], "TrialPlot",
           json_pack ("{s:s, s:s, s:[s], s:s}", "trial_id", trial, "title", "Loss", "metrics",
                      "loss", "x_axis", "epoch"));
    char params[400];
    snprintf (params, sizeof params, "%s/params/%s.msgpack", env->dir, trial);
    FILE *file = fopen (params, "wb");
    fwrite ("\x93\x01\x02\x03", 1, 4, file);
    fclose (file);
    s_ack (workers[trainer], "TrialFinished",
           json_pack ("{s:s, s:s, s:f, s:s}", "trial_id", trial, "status", "COMPLETED", "score",
                      0.75, "params_path", params));
    json_decref (s_wait_event (env, "TrialUpdate", "trial_id", trial, "status", "COMPLETED"));
    reply = s_call (env, "GetTrial", app_dev, json_pack ("{s:s}", "id", trial));
    assert_string_equal (reply->type, "Trial");
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "COMPLETED");
    assert_true (json_real_value (json_object_get (reply->body, "score")) == 0.75);
    assert_true (json_is_true (json_object_get (reply->body, "has_params")));
    assert_string_equal (json_string_value (json_object_get (reply->body, "app")), "iris");
    rfk_msg_destroy (&reply);
    reply = s_call (env, "GetTrial", developer, json_pack ("{s:s}", "id", trial));
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, NULL);
    reply = s_call (env, "GetTrialLogs", app_dev, json_pack ("{s:s}", "id", trial));
    assert_string_equal (reply->type, "TrialLogs");
    assert_int_equal (json_array_size (json_object_get (reply->body, "messages")), 1);
    assert_int_equal (json_array_size (json_object_get (reply->body, "metrics")), 1);
    assert_int_equal (json_array_size (json_object_get (reply->body, "plots")), 1);
    assert_true (json_real_value (json_object_get (
                     json_array_get (json_object_get (reply->body, "metrics"), 0), "loss")) == 0.5);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "GetTrialParameters", app_dev, json_pack ("{s:s}", "id", trial));
    assert_string_equal (reply->type, "FileData");
    assert_int_equal (zchunk_size (reply->data), 4);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "ListTrials", app_dev,
                    json_pack ("{s:s, s:i, s:s, s:i}", "app", "iris", "app_version", 1, "type",
                               "best", "max_count", 1));
    assert_int_equal (json_array_size (json_object_get (reply->body, "trials")), 1);
    rfk_msg_destroy (&reply);

    //  Deploying needs the job stopped.
    reply = s_call (env, "CreateInferenceJob", app_dev, json_pack ("{s:s}", "app", "iris"));
    s_expect_error (&reply, RFK_CODE_CONFLICT, "stop it");
    reply = s_call (env, "StopTrainJob", app_dev,
                    json_pack ("{s:s, s:i}", "app", "iris", "app_version", 1));
    assert_string_equal (reply->type, "TrainJob");
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "STOPPED");
    rfk_msg_destroy (&reply);
    json_decref (s_wait_event (env, "JobStatus", "id", job, "status", "STOPPED"));
    for (int index = 0; index < 3; index++) {
        rfk_client_destroy (&workers[index]);
        free (ids[index]);
        free (roles[index]);
        free (secrets[index]);
    }
    zsock_destroy (&advice);
    s_clear_secrets (env);

    //  The inference job: a predictor and one worker for the one trial.
    //  Where the predictor answers is known once it reported RUNNING.
    reply = s_call (env, "CreateInferenceJob", app_dev,
                    json_pack ("{s:s, s:i, s:i}", "app", "iris", "app_version", 1, "replicas", 1));
    assert_string_equal (reply->type, "InferenceJob");
    char *inference = strdup (json_string_value (json_object_get (reply->body, "id")));
    assert_null (json_object_get (reply->body, "predictor_host"));
    rfk_msg_destroy (&reply);
    reply = s_call (env, "CreateInferenceJob", app_dev, json_pack ("{s:s}", "app", "iris"));
    s_expect_error (&reply, RFK_CODE_CONFLICT, "deployed already");
    zsock_t *fronts[3] = {NULL, NULL, NULL};
    for (int index = 0; index < 2; index++) {
        //  The predictor first; its worker once the predictor is RUNNING.
        s_wait_secrets (env, 1, ids + index, roles + index, secrets + index);
        s_clear_secrets (env);
        assert_string_equal (roles[index], index == 0 ? "predictor" : "inference");
        rfk_msg_t *config = NULL;
        workers[index] = s_worker (env, ids[index], secrets[index], &config);
        assert_string_equal (config->type, "ServiceConfig");
        json_t *trials = json_object_get (config->body, "trials");
        assert_int_equal (json_array_size (trials), 1);
        assert_string_equal (
            json_string_value (json_object_get (json_array_get (trials, 0), "trial_id")), trial);
        assert_string_equal (
            json_string_value (json_object_get (json_array_get (trials, 0), "params_path")),
            params);
        if (index == 0) {
            json_t *binds = json_object_get (config->body, "bind_endpoints");
            assert_string_equal (json_string_value (json_array_get (binds, 0)),
                                 "http://127.0.0.1:0");
            assert_string_equal (json_string_value (json_array_get (binds, 1)),
                                 "tcp://127.0.0.1:*");
            assert_string_equal (json_string_value (json_array_get (binds, 2)),
                                 "tcp://127.0.0.1:*");
            s_report_running (workers[0], config, fronts, 3);
        } else {
            //  Told the predictor's `workers` endpoint as bound.
            assert_string_equal (
                json_string_value (json_object_get (config->body, "predictor_endpoint")),
                zsock_endpoint (fronts[2]));
            json_t *knobs = json_object_get (json_object_get (config->body, "config"), "knobs");
            assert_int_equal (json_integer_value (json_object_get (knobs, "depth")), 3);
            s_ack (workers[index], "StatusReport", json_pack ("{s:s}", "status", "RUNNING"));
        }
        rfk_msg_destroy (&config);
    }
    //  predictor_host and query_endpoint carry the ports the kernel gave.
    reply = s_call (env, "GetInferenceJob", app_dev, json_pack ("{s:s}", "app", "iris"));
    char host[64];
    snprintf (host, sizeof host, "127.0.0.1:%d", s_port_of (zsock_endpoint (fronts[0])));
    assert_string_equal (json_string_value (json_object_get (reply->body, "predictor_host")), host);
    assert_string_equal (json_string_value (json_object_get (reply->body, "query_endpoint")),
                         zsock_endpoint (fronts[1]));
    rfk_msg_destroy (&reply);
    json_decref (s_wait_event (env, "JobStatus", "id", inference, "status", "RUNNING"));
    reply = s_call (env, "ListInferenceJobs", app_dev, NULL);
    assert_int_equal (json_array_size (json_object_get (reply->body, "inference_jobs")), 1);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "StopInferenceJob", app_dev, json_pack ("{s:s}", "app", "iris"));
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "STOPPED");
    rfk_msg_destroy (&reply);
    for (int index = 0; index < 2; index++) {
        rfk_client_destroy (&workers[index]);
        free (ids[index]);
        free (roles[index]);
        free (secrets[index]);
    }
    for (int index = 0; index < 3; index++)
        zsock_destroy (&fronts[index]);
    //  A second version counts up.
    reply = s_call (env, "CreateTrainJob", app_dev,
                    json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "iris", "task",
                               "TABULAR_CLASSIFICATION", "train_dataset_id", train,
                               "val_dataset_id", val, "model_ids", model));
    assert_int_equal (json_integer_value (json_object_get (reply->body, "app_version")), 2);
    rfk_msg_destroy (&reply);
    //  Stop-all: only the superadmin; it names what it stopped.
    reply = s_call (env, "StopAllJobs", app_dev, NULL);
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, NULL);
    reply = s_call (env, "StopAllJobs", env->token, NULL);
    assert_string_equal (reply->type, "StoppedJobs");
    assert_int_equal (json_array_size (json_object_get (reply->body, "train_jobs")), 1);
    rfk_msg_destroy (&reply);
    reply = s_call (env, "ListTrainJobs", app_dev, NULL);
    json_t *jobs = json_object_get (reply->body, "train_jobs");
    assert_int_equal (json_array_size (jobs), 2);
    for (size_t index = 0; index < 2; index++)
        assert_string_equal (
            json_string_value (json_object_get (json_array_get (jobs, index), "status")),
            "STOPPED");
    rfk_msg_destroy (&reply);
    reply =
        s_call (env, "ListTrainJobs", developer, json_pack ("{s:s}", "user_id", "someone-else"));
    s_expect_error (&reply, RFK_CODE_FORBIDDEN, "user_id");
    free (inference);
    free (trial);
    free (job);
    free (sub);
    free (train);
    free (val);
    free (other);
    free (model);
    free (private_model);
    free (developer);
    free (app_dev);
    s_stop (&env);
}

/* Services that cannot start end ERRORED, and so does their job. */
static void
test_failing_services (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    char marker[300];
    snprintf (marker, sizeof marker, "%s/fail-next", env->dir);
    FILE *file = fopen (marker, "w");
    fclose (file);
    char *token = s_user (env, "MODEL_DEVELOPER", NULL);
    rfk_msg_t *reply = s_model_upload (env, token, "TPL_GOOD", "m", "PRIVATE");
    char *model = s_expect (&reply, "Model", "id");
    char *dataset = s_dataset (env, token, "d");
    reply = s_call (env, "CreateTrainJob", token,
                    json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "doomed", "task",
                               "TABULAR_CLASSIFICATION", "train_dataset_id", dataset,
                               "val_dataset_id", dataset, "model_ids", model));
    char *job = s_expect (&reply, "TrainJob", "id");
    json_t *event = s_wait_event (env, "ServiceStatus", "status", "ERRORED", NULL, NULL);
    json_decref (event);
    json_decref (s_wait_event (env, "JobStatus", "id", job, "status", "ERRORED"));
    reply = s_call (env, "GetTrainJob", token, json_pack ("{s:s}", "app", "doomed"));
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "ERRORED");
    rfk_msg_destroy (&reply);
    unlink (marker);
    //  Admin is unharmed.
    reply = s_call (env, "GetMe", token, NULL);
    free (s_expect (&reply, "User", "id"));
    free (job);
    free (model);
    free (dataset);
    free (token);
    s_stop (&env);
}

/* Where no sandbox can be made (here: bwrap missing), admin refuses train
   jobs with the reason and the fix, and still answers everything else. */
static void
test_refuses_jobs_without_sandbox (void **state)
{
    (void)state;
    setenv ("RAFIKI_BWRAP", "/nonexistent/bwrap", 1);
    rfk_sandbox_available_reset ();
    s_sandbox_mode = "auto";
    s_env_t *env = s_start ();
    s_sandbox_mode = "off";
    char *token = s_user (env, "MODEL_DEVELOPER", NULL);
    rfk_msg_t *reply = s_model_upload (env, token, "TPL_GOOD", "m", "PRIVATE");
    char *model = s_expect (&reply, "Model", "id");
    char *dataset = s_dataset (env, token, "d");
    reply = s_call (env, "CreateTrainJob", token,
                    json_pack ("{s:s, s:s, s:s, s:s, s:[s]}", "app", "boxless", "task",
                               "TABULAR_CLASSIFICATION", "train_dataset_id", dataset,
                               "val_dataset_id", dataset, "model_ids", model));
    s_expect_error (&reply, RFK_CODE_CONFLICT, "launcher.sandbox: off");
    free (model);
    free (dataset);
    free (token);
    s_stop (&env);
    unsetenv ("RAFIKI_BWRAP");
    rfk_sandbox_available_reset ();
}

/* An advisor that says RUNNING without the endpoint it bound is refused,
   and its job ends ERRORED with the reason; its trainers never start. */
static void
test_provider_without_endpoints (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    char *token = s_user (env, "MODEL_DEVELOPER", NULL);
    rfk_msg_t *reply = s_model_upload (env, token, "TPL_GOOD", "m", "PRIVATE");
    char *model = s_expect (&reply, "Model", "id");
    char *dataset = s_dataset (env, token, "d");
    reply =
        s_call (env, "CreateTrainJob", token,
                json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:{s:i}}", "app", "mute", "task",
                           "TABULAR_CLASSIFICATION", "train_dataset_id", dataset, "val_dataset_id",
                           dataset, "model_ids", model, "budget", "TRAINER_COUNT", 2));
    char *job = s_expect (&reply, "TrainJob", "id");
    char *id, *role, *secret;
    s_wait_secrets (env, 1, &id, &role, &secret);
    assert_string_equal (role, "advisor");
    rfk_msg_t *config = NULL;
    rfk_client_t *advisor = s_worker (env, id, secret, &config);
    assert_string_equal (config->type, "ServiceConfig");
    rfk_msg_destroy (&config);
    reply = s_report (advisor, "StatusReport", json_pack ("{s:s}", "status", "RUNNING"));
    s_expect_error (&reply, RFK_CODE_BAD_REQUEST, "endpoint");
    json_t *event = s_wait_event (env, "ServiceStatus", "service_id", id, "status", "ERRORED");
    assert_non_null (strstr (json_string_value (json_object_get (event, "message")), "endpoint"));
    json_decref (event);
    json_decref (s_wait_event (env, "JobStatus", "id", job, "status", "ERRORED"));
    //  Only the advisor was ever started.
    char path[400];
    snprintf (path, sizeof path, "%s/secrets", env->dir);
    zdir_t *dir = zdir_new (path, NULL);
    assert_int_equal (zdir_count (dir), 2); //  its secret and its .role
    zdir_destroy (&dir);
    rfk_client_destroy (&advisor);
    free (id);
    free (role);
    free (secret);
    free (job);
    free (model);
    free (dataset);
    free (token);
    s_stop (&env);
}

/* The store calls admin made so far (its pipe answers STORE-CALLS). */
static long long
s_store_calls (s_env_t *env)
{
    zstr_send (env->admin, "STORE-CALLS");
    char *text = zstr_recv (env->admin);
    assert_non_null (text);
    long long calls = atoll (text);
    zstr_free (&text);
    return calls;
}

/* Wait until n services were reported STOPPED. */
static void
s_wait_stopped (s_env_t *env, size_t n)
{
    zhashx_t *seen = zhashx_new ();
    int64_t until = zclock_mono () + S_WAIT_MS;
    while (zhashx_size (seen) < n && zclock_mono () < until) {
        zsock_set_rcvtimeo (env->sub, (int)(until - zclock_mono ()));
        char *topic = NULL;
        rfk_msg_t *event = NULL;
        rfk_code_t code;
        if (rfk_envelope_recv_topic (env->sub, &rfk_event_family, env->bus.max_frame_bytes, &topic,
                                     &event, &code) == 0 &&
            streq (event->type, "ServiceStatus")) {
            const char *id = json_string_value (json_object_get (event->body, "service_id"));
            const char *status = json_string_value (json_object_get (event->body, "status"));
            if (id && status && streq (status, "STOPPED"))
                zhashx_update (seen, id, (void *)1);
        }
        zstr_free (&topic);
        rfk_msg_destroy (&event);
    }
    size_t stopped = zhashx_size (seen);
    zhashx_destroy (&seen);
    if (stopped < n)
        fail_msg ("only %zu of %zu services stopped", stopped, n);
}

/*  Stopping a train job of 2 models x 2 trainers (6 services, all RUNNING)
    costs admin this many store calls, from StopTrainJob until every
    service's process has ended and rolled up. Before the roll-ups loaded
    their job once (one store call per service status, sub train job, job
    and trial, each roll-up reading the same rows again) it took 28. */
#define S_STOP_CALLS_BEFORE 28
#define S_STOP_CALLS_MAX 16

static void
test_stop_store_calls (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    char *developer = s_user (env, "MODEL_DEVELOPER", NULL);
    rfk_msg_t *reply = s_model_upload (env, developer, "TPL_GOOD", "first", "PUBLIC");
    char *first = s_expect (&reply, "Model", "id");
    reply = s_model_upload (env, developer, "TPL_GOOD", "second", "PUBLIC");
    char *second = s_expect (&reply, "Model", "id");
    char *dataset = s_dataset (env, developer, "d");
    reply =
        s_call (env, "CreateTrainJob", developer,
                json_pack ("{s:s, s:s, s:s, s:s, s:[s, s], s:{s:i}}", "app", "counted", "task",
                           "TABULAR_CLASSIFICATION", "train_dataset_id", dataset, "val_dataset_id",
                           dataset, "model_ids", first, second, "budget", "TRAINER_COUNT", 2));
    char *job = s_expect (&reply, "TrainJob", "id");
    //  Two advisors, RUNNING where the kernel put them; then their trainers.
    char *ids[6], *roles[6], *secrets[6];
    rfk_client_t *workers[6];
    zsock_t *advice[2] = {NULL, NULL};
    s_wait_secrets (env, 2, ids, roles, secrets);
    s_clear_secrets (env);
    for (int index = 0; index < 6; index++) {
        if (index == 2)
            s_wait_secrets (env, 4, ids + 2, roles + 2, secrets + 2);
        assert_string_equal (roles[index], index < 2 ? "advisor" : "trainer");
        rfk_msg_t *config = NULL;
        workers[index] = s_worker (env, ids[index], secrets[index], &config);
        assert_string_equal (config->type, "ServiceConfig");
        if (index < 2)
            s_report_running (workers[index], config, &advice[index], 1);
        else
            s_ack (workers[index], "StatusReport",
                   json_pack ("{s:s, s:s}", "service_id", ids[index], "status", "RUNNING"));
        rfk_msg_destroy (&config);
    }
    json_decref (s_wait_event (env, "JobStatus", "id", job, "status", "RUNNING"));

    long long before = s_store_calls (env);
    reply = s_call (env, "StopTrainJob", developer, json_pack ("{s:s}", "app", "counted"));
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "STOPPED");
    rfk_msg_destroy (&reply);
    s_wait_stopped (env, 6);
    long long calls = s_store_calls (env) - before;
    print_message ("# store calls to stop a train job of 2 models x 2 trainers: %d before, %lld "
                   "now\n",
                   S_STOP_CALLS_BEFORE, calls);
    assert_true (calls <= S_STOP_CALLS_MAX);
    reply = s_call (env, "GetTrainJob", developer, json_pack ("{s:s}", "app", "counted"));
    assert_string_equal (json_string_value (json_object_get (reply->body, "status")), "STOPPED");
    json_t *subs = json_object_get (reply->body, "sub_train_jobs");
    for (size_t index = 0; index < json_array_size (subs); index++)
        assert_string_equal (
            json_string_value (json_object_get (json_array_get (subs, index), "status")),
            "STOPPED");
    rfk_msg_destroy (&reply);
    for (int index = 0; index < 6; index++) {
        rfk_client_destroy (&workers[index]);
        free (ids[index]);
        free (roles[index]);
        free (secrets[index]);
    }
    zsock_destroy (&advice[0]);
    zsock_destroy (&advice[1]);
    free (job);
    free (dataset);
    free (first);
    free (second);
    free (developer);
    s_stop (&env);
}

/* ---- the real rafikid up -------------------------------------------------- */

/* `rafikid up` on data directory dir with every port 0 (it writes those it
   got to dir/rafikid.ports); asan_extra, when not NULL, is appended to
   ASAN_OPTIONS. */
static pid_t
s_spawn_up_with (const char *dir, const char *password, bool dev, const char *asan_extra)
{
    char *rafikid = s_getenv_path ("RAFIKID");
    char data_dir[300], pass[128];
    snprintf (data_dir, sizeof data_dir, "RAFIKI_DATA_DIR=%s", dir);
    snprintf (pass, sizeof pass, "RAFIKI_SUPERADMIN_PASSWORD=%s", password);
    const char *asan = getenv ("ASAN_OPTIONS");
    char asan_env[512];
    snprintf (asan_env, sizeof asan_env, "ASAN_OPTIONS=%s%s%s", asan ? asan : "",
              asan && *asan && asan_extra ? ":" : "", asan_extra ? asan_extra : "");
    char *envp[] = {data_dir,
                    "RAFIKI_ADMIN_COMMAND_PORT=0",
                    "RAFIKI_ADMIN_SERVICE_PORT=0",
                    "RAFIKI_ADMIN_EVENTS_PORT=0",
                    "RAFIKI_ADMIN_HTTP_PORT=0",
                    pass,
                    asan_env,
                    "RAFIKI_LOG_STDERR=false",
                    "RAFIKI_BUS_CURVE=false", /* plain clients here; CURVE: test_curve_sockets */
                    NULL};
    char *argv[] = {rafikid, "up", dev ? "--dev" : NULL, NULL};
    posix_spawnattr_t attr;
    posix_spawnattr_init (&attr);
    sigset_t none;
    sigemptyset (&none);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    assert_int_equal (posix_spawn (&pid, rafikid, NULL, &attr, argv, envp), 0);
    posix_spawnattr_destroy (&attr);
    free (rafikid);
    return pid;
}

static pid_t
s_spawn_up (const char *dir, const char *password, bool dev)
{
    return s_spawn_up_with (dir, password, dev, NULL);
}

/* The endpoint of the command socket of a `rafikid up` on dir, from the
   ports file it writes once ready. */
static void
s_up_command_endpoint (const char *dir, pid_t pid, char *endpoint, size_t size)
{
    rfk_test_ports_t ports;
    if (rfk_test_wait_ports (dir, pid, S_WAIT_MS, &ports) != 0)
        fail_msg ("rafikid up wrote no ports file in %s", dir);
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", ports.command);
}

static void
test_rafikid_up (void **state)
{
    (void)state;
    char dir[] = "/tmp/rfk-admin-up-XXXXXX";
    assert_non_null (mkdtemp (dir));
    //  Without a password `rafikid up` refuses to start, saying why.
    pid_t pid = s_spawn_up (dir, "", false);
    assert_int_equal (rfk_test_wait_child (pid, S_WAIT_MS), 1);
    //  With one it serves until SIGTERM, then exits 0.
    pid = s_spawn_up (dir, S_PASSWORD, false);
    char endpoint[64];
    s_up_command_endpoint (dir, pid, endpoint, sizeof endpoint);
    rfk_bus_opts_t bus;
    rfk_bus_opts_defaults (&bus);
    bus.request_timeout_ms = 30000;
    bus.request_retries = 0;
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_admin_family, &bus);
    rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, "Login", 0);
    json_object_set_new (request->body, "email", json_string ("superadmin@rafiki"));
    json_object_set_new (request->body, "password", json_string (S_PASSWORD));
    rfk_msg_t *reply = rfk_client_call (client, request);
    rfk_msg_destroy (&request);
    assert_non_null (reply);
    if (!rfk_msg_is (reply, "Token"))
        fail_msg ("rafikid up answered %s: %s", reply->type, s_message (reply));
    rfk_msg_destroy (&reply);
    rfk_client_destroy (&client);
    kill (pid, SIGTERM);
    assert_int_equal (rfk_test_wait_child (pid, S_WAIT_MS), 0);
    char path[400];
    snprintf (path, sizeof path, "%s/rafiki.db", dir);
    assert_int_equal (access (path, R_OK), 0);
    //  A clean stop removes the ports file.
    snprintf (path, sizeof path, "%s/rafikid.ports", dir);
    assert_int_equal (access (path, F_OK), -1);
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
}

/* ---- a slow model check -------------------------------------------------- */

typedef struct {
    rfk_msg_t *reply; /* the answer, once it came */
    int64_t at;       /* zclock_mono () when it came */
} s_slot_t;

static void
s_on_reply (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    s_slot_t *slot = (s_slot_t *)arg;
    slot->reply = *reply_p;
    *reply_p = NULL;
    slot->at = zclock_mono ();
}

/* Run a client's loop until slot has its answer or until (zclock_mono ()). */
static void
s_pump (rfk_client_t *client, s_slot_t *slot, int64_t until)
{
    while (!slot->reply && zclock_mono () < until) {
        zmq_pollitem_t item = {zsock_resolve (rfk_client_sock (client)), 0, ZMQ_POLLIN, 0};
        int64_t wake = rfk_client_deadline (client);
        if (wake < 0 || wake > until)
            wake = until;
        int64_t timeout = wake - zclock_mono ();
        zmq_poll (&item, 1, timeout < 0 ? 0 : (long)timeout);
        rfk_client_recv (client);
        rfk_client_tick (client);
    }
}

/* A template whose check takes 3 s (TPL_SLOW): admin serves other requests
   (the uploader's own and another client's) while it runs, answers the
   upload when it ends, and answers it once however often the last chunk is
   re-sent meanwhile. */
static void
test_slow_model_check (void **state)
{
    (void)state;
    s_env_t *env = s_start ();
    char *token = s_user (env, "MODEL_DEVELOPER", NULL);
    char *path = s_getenv_path ("TPL_SLOW");
    size_t size;
    char *data = s_read_file (path, &size);
    rfk_client_t *uploader = rfk_client_new (env->command, &rfk_admin_family, &env->bus);
    assert_non_null (uploader);
    rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, "UploadStart", 0);
    json_decref (request->body);
    request->body = json_pack ("{s:s, s:s, s:s}", "kind", "MODEL", "name", "slow", "task",
                               "TABULAR_CLASSIFICATION");
    rfk_msg_set_token (request, token);
    rfk_msg_t *reply = rfk_client_call (uploader, request);
    rfk_msg_destroy (&request);
    char *upload_id = s_expect (&reply, "UploadReady", "upload_id");

    //  The whole file as the last chunk, re-sent every 500 ms until answered.
    request = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
    json_object_set_new (request->body, "upload_id", json_string (upload_id));
    json_object_set_new (request->body, "last", json_true ());
    rfk_msg_set_data (request, data, size);
    rfk_msg_set_token (request, token);
    s_slot_t model = {NULL, 0};
    int64_t sent = zclock_mono ();
    assert_true (rfk_client_send_with (uploader, request, 500, 40, s_on_reply, &model) > 0);
    rfk_msg_destroy (&request);
    //  On the same connection, so admin reads it after the chunk (the check
    //  has started): answered first.
    request = rfk_msg_new (&rfk_admin_family, "ListAvailableModels", 0);
    rfk_msg_set_token (request, token);
    s_slot_t list = {NULL, 0};
    assert_true (rfk_client_send_with (uploader, request, 20000, 0, s_on_reply, &list) > 0);
    rfk_msg_destroy (&request);
    s_pump (uploader, &list, sent + S_WAIT_MS);
    assert_non_null (list.reply);
    assert_string_equal (list.reply->type, "ModelList");
    assert_int_equal (json_array_size (json_object_get (list.reply->body, "models")), 0);
    rfk_msg_destroy (&list.reply);
    assert_null (model.reply);
    //  Another client is answered promptly too.
    int64_t asked = zclock_mono ();
    reply = s_call (env, "GetMe", token, NULL);
    int64_t took = zclock_mono () - asked;
    free (s_expect (&reply, "User", "id"));
    print_message ("# GetMe answered in %lld ms while the check ran\n", (long long)took);
    assert_true (took < 1000);
    s_pump (uploader, &model, asked + 1); //  read what came meanwhile
    assert_null (model.reply);

    //  The check's result still arrives, once.
    s_pump (uploader, &model, sent + S_WAIT_MS);
    assert_non_null (model.reply);
    if (!rfk_msg_is (model.reply, "Model"))
        fail_msg ("expected Model, got %s: %s", model.reply->type, s_message (model.reply));
    print_message ("# the slow check answered after %lld ms\n", (long long)(model.at - sent));
    assert_true (model.at - sent >= 2500);
    rfk_msg_destroy (&model.reply);
    reply = s_call (env, "ListAvailableModels", token, NULL);
    assert_int_equal (json_array_size (json_object_get (reply->body, "models")), 1);
    rfk_msg_destroy (&reply);

    //  Admin stops while a check runs: the child is killed, the upload
    //  dropped, nothing leaks.
    request = rfk_msg_new (&rfk_admin_family, "UploadStart", 0);
    json_decref (request->body);
    request->body = json_pack ("{s:s, s:s, s:s}", "kind", "MODEL", "name", "slow-2", "task",
                               "TABULAR_CLASSIFICATION");
    rfk_msg_set_token (request, token);
    reply = rfk_client_call (uploader, request);
    rfk_msg_destroy (&request);
    free (upload_id);
    upload_id = s_expect (&reply, "UploadReady", "upload_id");
    request = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
    json_object_set_new (request->body, "upload_id", json_string (upload_id));
    json_object_set_new (request->body, "last", json_true ());
    rfk_msg_set_data (request, data, size);
    rfk_msg_set_token (request, token);
    model.reply = NULL;
    assert_true (rfk_client_send_with (uploader, request, 20000, 0, s_on_reply, &model) > 0);
    rfk_msg_destroy (&request);
    request = rfk_msg_new (&rfk_admin_family, "GetMe", 0);
    rfk_msg_set_token (request, token);
    list.reply = NULL;
    assert_true (rfk_client_send_with (uploader, request, 20000, 0, s_on_reply, &list) > 0);
    rfk_msg_destroy (&request);
    s_pump (uploader, &list, zclock_mono () + S_WAIT_MS);
    assert_non_null (list.reply);
    rfk_msg_destroy (&list.reply);
    assert_null (model.reply);
    rfk_client_destroy (&uploader);
    char parts[600];
    snprintf (parts, sizeof parts, "ls -A '%s/models' | grep -q '^.part-'", env->dir);
    assert_int_equal (system (parts), 0); //  being checked
    free (data);
    free (path);
    free (token);
    free (upload_id);
    zactor_destroy (&env->admin);
    //  The check's partial file went with it.
    snprintf (parts, sizeof parts, "ls -A '%s/models' | grep -q '^.part-'", env->dir);
    assert_int_not_equal (system (parts), 0);
    s_stop (&env);
}

/* ---- a 512 MiB upload over ZeroMQ ---------------------------------------- */

/* VmRSS of a process, KiB. */
static long
s_rss_kb (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    char line[256];
    long kb = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = strtol (line + 6, NULL, 10);
    if (file)
        fclose (file);
    return kb;
}

#define S_CSV_HEADER "a,b,c,y\n"
#define S_CSV_ROW "1.5,2.25,3.0,1\n"

/* A 512 MiB CSV dataset in UploadChunks of max_chunk_size grows the admin
   process's RSS (`rafikid up`, measured from /proc) by under 64 MiB. */
static void
test_upload_512mib (void **state)
{
    (void)state;
    char dir[] = "/tmp/rfk-admin-big-XXXXXX";
    assert_non_null (mkdtemp (dir));
    //  AddressSanitizer keeps freed blocks in a quarantine (256 MiB by
    //  default) that would count as growth; admin's own memory is what is
    //  measured, so the quarantine is kept small in that process.
    pid_t pid = s_spawn_up_with (dir, S_PASSWORD, false, "quarantine_size_mb=8");
    char endpoint[64];
    s_up_command_endpoint (dir, pid, endpoint, sizeof endpoint);
    rfk_bus_opts_t bus;
    rfk_bus_opts_defaults (&bus);
    bus.request_timeout_ms = 30000;
    bus.request_retries = 0;
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_admin_family, &bus);
    rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, "Login", 0);
    json_object_set_new (request->body, "email", json_string ("superadmin@rafiki"));
    json_object_set_new (request->body, "password", json_string (S_PASSWORD));
    rfk_msg_t *reply = rfk_client_call (client, request);
    rfk_msg_destroy (&request);
    char *token = s_expect (&reply, "Token", "token");

    const size_t header = sizeof S_CSV_HEADER - 1, row = sizeof S_CSV_ROW - 1;
    const uint64_t size = header + (512ULL * 1024 * 1024 - header) / row * row;
    request = rfk_msg_new (&rfk_admin_family, "UploadStart", 0);
    json_decref (request->body);
    request->body = json_pack ("{s:s, s:s, s:s, s:I}", "kind", "DATASET", "name", "huge", "task",
                               "TABULAR_CLASSIFICATION", "size", (json_int_t)size);
    rfk_msg_set_token (request, token);
    reply = rfk_client_call (client, request);
    rfk_msg_destroy (&request);
    assert_string_equal (reply->type, "UploadReady");
    char *upload_id = strdup (json_string_value (json_object_get (reply->body, "upload_id")));
    size_t chunk = (size_t)json_integer_value (json_object_get (reply->body, "max_chunk_size"));
    rfk_msg_destroy (&reply);
    assert_true (chunk >= 64 * 1024);
    //  Rows over and over: a chunk at file offset o starts at row offset
    //  (o - header) % row of this buffer.
    char *rows = (char *)malloc (chunk + row);
    for (size_t at = 0; at < chunk + row; at++)
        rows[at] = S_CSV_ROW[at % row];
    char *first = (char *)malloc (chunk);
    memcpy (first, S_CSV_HEADER, header);
    memcpy (first + header, rows, chunk - header);

    long before = s_rss_kb (pid), peak = before;
    assert_true (before > 0);
    uint64_t sent = 0;
    while (true) {
        size_t n = size - sent < chunk ? (size_t)(size - sent) : chunk;
        bool last = sent + n >= size;
        const char *bytes = sent == 0 ? first : rows + (sent - header) % row;
        request = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
        json_object_set_new (request->body, "upload_id", json_string (upload_id));
        json_object_set_new (request->body, "last", json_boolean (last));
        rfk_msg_set_data (request, bytes, n);
        rfk_msg_set_token (request, token);
        reply = rfk_client_call (client, request);
        rfk_msg_destroy (&request);
        sent += n;
        long kb = s_rss_kb (pid);
        if (kb > peak)
            peak = kb;
        if (last)
            break;
        if (!rfk_msg_is (reply, "UploadProgress") && kill (pid, SIGKILL) == 0)
            fail_msg ("chunk at %llu: %s %s", (unsigned long long)sent, reply->type,
                      s_message (reply));
        rfk_msg_destroy (&reply);
    }
    if (!rfk_msg_is (reply, "Dataset") && kill (pid, SIGKILL) == 0)
        fail_msg ("expected Dataset, got %s: %s", reply->type, s_message (reply));
    assert_int_equal (json_integer_value (json_object_get (reply->body, "size_bytes")), size);
    char *id = s_expect (&reply, "Dataset", "id");
    print_message ("# admin's RSS before %ld KiB, peak %ld KiB (chunks of %zu bytes)\n", before,
                   peak, chunk);
    request = rfk_msg_new (&rfk_admin_family, "DeleteDataset", 0);
    json_object_set_new (request->body, "id", json_string (id));
    rfk_msg_set_token (request, token);
    reply = rfk_client_call (client, request);
    rfk_msg_destroy (&request);
    free (s_expect (&reply, "Deleted", "id"));
    rfk_client_destroy (&client);
    kill (pid, SIGTERM);
    assert_int_equal (rfk_test_wait_child (pid, S_WAIT_MS), 0);
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
    assert_true (peak - before < 64 * 1024);
    free (id);
    free (rows);
    free (first);
    free (upload_id);
    free (token);
}

int
main (void)
{
    //  RFK_TEST_FILTER=test_name runs one case (cmocka's pattern).
    if (getenv ("RFK_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("RFK_TEST_FILTER"));
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_start_refuses_default_password),
        cmocka_unit_test (test_login_and_tokens),
        cmocka_unit_test (test_roles_matrix),
        cmocka_unit_test (test_datasets_and_models),
        cmocka_unit_test (test_bad_frames),
        cmocka_unit_test (test_train_and_inference_jobs),
        cmocka_unit_test (test_failing_services),
        cmocka_unit_test (test_refuses_jobs_without_sandbox),
        cmocka_unit_test (test_provider_without_endpoints),
        cmocka_unit_test (test_stop_store_calls),
        cmocka_unit_test (test_rafikid_up),
        cmocka_unit_test (test_slow_model_check),
        cmocka_unit_test (test_upload_512mib),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
