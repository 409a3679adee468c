/*  test_admin_curve.c: admin's bus sockets with CurveZMQ on (the default).

    The real admin actor on port 0 with its own data directory. What a client
    sees: admin's public key in <data_dir>/keys/bus.pub and on GET /bus_key,
    the same after a restart; the command socket answers a CURVE client with
    any key that pins admin's key, and refuses at the handshake a plaintext
    client or one pinning another key; the service socket refuses a key
    admin did not issue; the events socket gives nothing to a subscriber
    without a token.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <sys/stat.h>

#include "rfk_admin.h"
#include "rfk_broker.h"
#include "rfk_config.h"
#include "rfk_test.h"

#define S_PASSWORD "correct horse battery staple"

typedef struct {
    char *dir;                        /* the data directory */
    rfk_config_t *config;             /* admin's configuration */
    zactor_t *admin;                  /* the actor */
    char *command, *service, *events; /* its sockets, as bound */
    int port;                         /* its HTTP port */
    char key[RFK_CURVE_KEY_LEN + 1];  /* bus.pub */
} s_env_t;

static void
s_start (s_env_t *env)
{
    env->config = rfk_config_new ();
    const char *settings[][3] = {
        {"", "data_dir", env->dir},     {"", "log_stderr", "true"},
        {"", "log_level", "warning"},   {"admin", "http_port", "0"},
        {"admin", "command_port", "0"}, {"admin", "service_port", "0"},
        {"admin", "events_port", "0"},  {"admin", "superadmin_password", S_PASSWORD},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        assert_int_equal (
            rfk_config_set (env->config, settings[i][0], settings[i][1], settings[i][2], "test"),
            0);
    rfk_admin_args_t args = {.config = env->config, .rafikid_path = "/bin/false"};
    env->admin = zactor_new (rfk_admin_actor_with, &args);
    assert_non_null (env->admin);
    zsock_set_rcvtimeo (zactor_sock (env->admin), 20000);
    zstr_send (env->admin, "ENDPOINTS");
    env->command = zstr_recv (env->admin);
    assert_non_null (env->command);
    assert_string_not_equal (env->command, "FAILED");
    env->service = zstr_recv (env->admin);
    env->events = zstr_recv (env->admin);
    char *port = zstr_recv (env->admin);
    env->port = atoi (port);
    zstr_free (&port);
    char path[600];
    snprintf (path, sizeof path, "%s/keys/bus.pub", env->dir);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    assert_non_null (fgets (env->key, sizeof env->key, file));
    fclose (file);
    assert_true (rfk_curve_key_valid (env->key));
}

static void
s_stop (s_env_t *env)
{
    zactor_destroy (&env->admin);
    rfk_config_destroy (&env->config);
    zstr_free (&env->command);
    zstr_free (&env->service);
    zstr_free (&env->events);
}

/* Collects a response body. */
static size_t
s_write (char *data, size_t size, size_t count, void *arg)
{
    char **body = (char **)arg;
    size_t old = *body ? strlen (*body) : 0;
    char *grown = realloc (*body, old + size * count + 1);
    assert_non_null (grown);
    memcpy (grown + old, data, size * count);
    grown[old + size * count] = 0;
    *body = grown;
    return size * count;
}

/* GET /bus_key: its body. */
static json_t *
s_get_bus_key (s_env_t *env)
{
    CURL *curl = curl_easy_init ();
    char url[128], *body = NULL;
    snprintf (url, sizeof url, "http://127.0.0.1:%d/bus_key", env->port);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body);
    assert_int_equal (curl_easy_perform (curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal (status, 200);
    curl_easy_cleanup (curl);
    json_t *doc = json_loads (body, 0, NULL);
    free (body);
    assert_non_null (doc);
    return doc;
}

/* A Login over a client with opts: the reply's type, or "TIMEOUT". */
static char *
s_login (const char *endpoint, const rfk_bus_opts_t *opts)
{
    rfk_bus_opts_t client_opts = *opts;
    client_opts.request_timeout_ms = 1500;
    client_opts.request_retries = 0;
    rfk_client_t *client = rfk_client_new (endpoint, &rfk_admin_family, &client_opts);
    assert_non_null (client);
    rfk_msg_t *login = rfk_msg_new (&rfk_admin_family, "Login", 0);
    json_object_set_new (login->body, "email", json_string ("superadmin@rafiki"));
    json_object_set_new (login->body, "password", json_string (S_PASSWORD));
    rfk_msg_t *reply = rfk_client_call (client, login);
    char *type = strdup (reply && streq (reply->type, "Error") &&
                                 rfk_envelope_error_code (reply) == RFK_CODE_TIMEOUT
                             ? "TIMEOUT"
                         : reply ? reply->type
                                 : "none");
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&login);
    rfk_client_destroy (&client);
    return type;
}

/* Usage: admin's key is made once (0600), kept across a restart, and
   served on GET /bus_key; a client pinning it logs in. */
static void
test_usage (void **state)
{
    (void)state;
    s_env_t env = {.dir = rfk_test_tmpdir_new ("admin-curve")};
    s_start (&env);
    char path[600];
    struct stat info;
    snprintf (path, sizeof path, "%s/keys/bus.key", env.dir);
    assert_int_equal (stat (path, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);
    json_t *doc = s_get_bus_key (&env);
    assert_true (json_is_true (json_object_get (doc, "curve")));
    assert_string_equal (json_string_value (json_object_get (doc, "bus_key")), env.key);
    json_decref (doc);

    rfk_bus_opts_t opts;
    rfk_bus_opts_defaults (&opts);
    rfk_bus_opts_curve_client (&opts, NULL, env.key);
    char *type = s_login (env.command, &opts);
    assert_string_equal (type, "Token");
    free (type);

    char first[RFK_CURVE_KEY_LEN + 1];
    snprintf (first, sizeof first, "%s", env.key);
    s_stop (&env);
    s_start (&env);
    assert_string_equal (env.key, first);
    s_stop (&env);
    assert_int_equal (rfk_test_tmpdir_destroy (&env.dir), 0);
}

/* Refused at the handshake: plaintext, a client pinning another key on
   `command`; a key admin did not issue on `service`. A subscriber on
   `events` without a token gets nothing. */
static void
test_refused (void **state)
{
    (void)state;
    s_env_t env = {.dir = rfk_test_tmpdir_new ("admin-curve")};
    s_start (&env);
    rfk_bus_opts_t opts;
    rfk_bus_opts_defaults (&opts);
    char *type = s_login (env.command, &opts);
    assert_string_equal (type, "TIMEOUT");
    free (type);
    rfk_curve_pair_t other;
    assert_int_equal (rfk_curve_pair_new (&other), 0);
    rfk_bus_opts_curve_client (&opts, NULL, other.public_key);
    type = s_login (env.command, &opts);
    assert_string_equal (type, "TIMEOUT");
    free (type);

    //  The service socket: a fresh key pinning admin's key is not admitted.
    rfk_bus_opts_curve_client (&opts, &other, env.key);
    opts.request_timeout_ms = 1500;
    opts.request_retries = 0;
    rfk_client_t *rogue = rfk_client_new (env.service, &rfk_service_family, &opts);
    rfk_msg_t *hello = rfk_msg_new (&rfk_service_family, "Hello", 0);
    json_object_set_new (hello->body, "service_id", json_string ("svc-1"));
    json_object_set_new (hello->body, "secret", json_string ("guess"));
    rfk_msg_t *reply = rfk_client_call (rogue, hello);
    assert_non_null (reply);
    assert_string_equal (reply->type, "Error");
    assert_int_equal (rfk_envelope_error_code (reply), RFK_CODE_TIMEOUT);
    rfk_msg_destroy (&reply);
    rfk_msg_destroy (&hello);
    rfk_client_destroy (&rogue);

    //  The events socket: CURVE, but no token: nothing, ever.
    rfk_bus_opts_curve_client (&opts, NULL, env.key);
    zsock_t *sub = rfk_subscriber_new (env.events, &opts);
    rfk_subscriber_subscribe (sub, "");
    zsock_set_rcvtimeo (sub, 500);
    zmsg_t *nothing = zmsg_recv (sub);
    assert_null (nothing);
    zsock_destroy (&sub);
    s_stop (&env);
    assert_int_equal (rfk_test_tmpdir_destroy (&env.dir), 0);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    curl_global_init (CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_refused),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}
