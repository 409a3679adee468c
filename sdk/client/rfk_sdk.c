/*  rfk_sdk.c: librafiki's session (connect, call, errors, token) and the
    one-request wrappers over admin's command socket (users, datasets and
    models other than uploads, jobs, trials). Uploads, downloads and
    manifests are in rfk_sdk_transfer.c; events, predictions and msgpack in
    rfk_sdk_events.c.
*/
#define _GNU_SOURCE
#include "rfk_sdk_internal.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The error a NULL session reports. */
static const rfk_sdk_error_t s_no_session = {RFK_SDK_BAD_REQUEST, "no session with admin"};

const char *
rfk_sdk_code_name (rfk_sdk_code_t code)
{
    if (code == RFK_SDK_INTERRUPTED)
        return "INTERRUPTED";
    if (code == RFK_SDK_IO)
        return "IO";
    return rfk_code_name ((rfk_code_t)code);
}

void
rfk_sdk_options_init (rfk_sdk_options_t *opts)
{
    assert (opts);
    memset (opts, 0, sizeof *opts);
    opts->retries = -1;
}

void
rfk_sdk_clear (rfk_sdk_t *self)
{
    self->error.code = RFK_SDK_OK;
    self->error.message[0] = 0;
}

int
rfk_sdk_fail (rfk_sdk_t *self, rfk_sdk_code_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error.message, sizeof self->error.message, format, args);
    va_end (args);
    self->error.code = code;
    return -1;
}

/*  Splits "tcp://host:port", "host:port", "[v6]:port" or "host" into host
    and port (left as is when absent). 0, or -1 when it makes no sense. */
static int
s_parse_address (rfk_sdk_t *self, const char *text)
{
    if (strncmp (text, "tcp://", 6) == 0)
        text += 6;
    const char *host = text, *host_end = NULL, *port = NULL;
    if (*text == '[') {
        host = text + 1;
        host_end = strchr (host, ']');
        if (!host_end || (host_end[1] && host_end[1] != ':'))
            return -1;
        if (host_end[1] == ':')
            port = host_end + 2;
    } else {
        const char *colon = strrchr (text, ':');
        if (colon && strchr (text, ':') == colon) {
            host_end = colon;
            port = colon + 1;
        } else
            host_end = text + strlen (text);
    }
    if (host_end == host)
        return -1;
    if (port) {
        char *end;
        long value = strtol (port, &end, 10);
        if (!*port || *end || value < 1 || value > 65535)
            return -1;
        self->command_port = (int)value;
    }
    free (self->host);
    self->host = strndup (host, (size_t)(host_end - host));
    return self->host ? 0 : -1;
}

/*  Checks that something accepts TCP connections at the command port
    within the timeout, so that a missing admin is reported at once rather
    than after every retry. */
int
rfk_sdk_probe (rfk_sdk_t *self, const char *host, int port, const char *what)
{
    char address[300];
    snprintf (address, sizeof address, strchr (host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    struct addrinfo hints, *list = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    int rc = getaddrinfo (host, service, &hints, &list);
    if (rc != 0)
        return rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE, "%s isn't reachable at %s: %s", what,
                             address, gai_strerror (rc));
    int64_t deadline = zclock_mono () + self->timeout_ms;
    int error = ETIMEDOUT;
    bool connected = false;
    for (struct addrinfo *ai = list; ai && !connected; ai = ai->ai_next) {
        int fd =
            socket (ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            error = errno;
            continue;
        }
        if (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0)
            connected = true;
        else if (errno != EINPROGRESS)
            error = errno;
        else {
            struct pollfd item = {fd, POLLOUT, 0};
            int64_t left = deadline - zclock_mono ();
            int ready;
            do
                ready = poll (&item, 1, left > 0 ? (int)left : 0);
            while (ready < 0 && errno == EINTR && !zsys_interrupted);
            if (ready == 1) {
                int so_error = 0;
                socklen_t length = sizeof so_error;
                getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
                if (so_error == 0)
                    connected = true;
                else
                    error = so_error;
            } else
                error = ETIMEDOUT;
        }
        close (fd);
    }
    freeaddrinfo (list);
    if (connected)
        return 0;
    if (error == ETIMEDOUT)
        return rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE,
                             "%s isn't reachable at %s: no connection within %d ms", what, address,
                             self->timeout_ms);
    return rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE, "%s isn't reachable at %s: %s", what, address,
                         strerror (error));
}

/*  Copies the session's error out and destroys it (rfk_sdk_new failing). */
static rfk_sdk_t *
s_give_up (rfk_sdk_t **self_p, rfk_sdk_error_t *error)
{
    if (error)
        *error = (*self_p)->error;
    rfk_sdk_destroy (self_p);
    return NULL;
}

/*  The configuration (--config file, environment) and the bus options the
    caller's timeout and retries override. 0, or -1 with the error set. */
static int
s_load_config (rfk_sdk_t *self, const rfk_sdk_options_t *opts)
{
    self->config = rfk_config_new ();
    if (!self->config) {
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "out of memory");
        return -1;
    }
    if (rfk_config_load (self->config, opts->config_path) != 0) {
        const char *problems = rfk_config_error (self->config);
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "%s", problems ? problems : "bad configuration");
        /*  One line per problem: keep the message a single block without the
            trailing newline. */
        size_t length = strlen (self->error.message);
        if (length && self->error.message[length - 1] == '\n')
            self->error.message[length - 1] = 0;
        return -1;
    }
    rfk_bus_opts_from_config (&self->bus, self->config);
    if (opts->timeout_ms > 0)
        self->bus.request_timeout_ms = opts->timeout_ms;
    if (opts->retries >= 0)
        self->bus.request_retries = opts->retries;
    self->timeout_ms = self->bus.request_timeout_ms;
    self->retries = self->bus.request_retries;
    return 0;
}

/*  Where admin is: the options, RAFIKI_ADMIN, or admin.host and the
    configured ports. 0, or -1 with the error set. */
static int
s_locate_admin (rfk_sdk_t *self, const rfk_sdk_options_t *opts)
{
    self->command_port = opts->command_port > 0
                             ? opts->command_port
                             : (int)rfk_config_int (self->config, "admin", "command_port");
    self->events_port = opts->events_port > 0
                            ? opts->events_port
                            : (int)rfk_config_int (self->config, "admin", "events_port");
    const char *admin = opts->admin;
    if (!admin || !*admin)
        admin = getenv ("RAFIKI_ADMIN");
    if (!admin || !*admin) {
        /*  admin.host is where admin binds; every interface means here. */
        admin = rfk_config_string (self->config, "admin", "host");
        if (!admin || !*admin || !strcmp (admin, "0.0.0.0") || !strcmp (admin, "*"))
            admin = "127.0.0.1";
    }
    if (s_parse_address (self, admin) != 0) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                      "'%s' is not an admin address (HOST, HOST:PORT or tcp://HOST:PORT)", admin);
        return -1;
    }
    if (self->command_port == 0) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                      "admin's command port is 0 (any free port): give the port admin bound in "
                      "RAFIKI_ADMIN=HOST:PORT or RAFIKI_ADMIN_COMMAND_PORT");
        return -1;
    }
    bool v6 = strchr (self->host, ':') != NULL;
    snprintf (self->address, sizeof self->address, v6 ? "[%s]:%d" : "%s:%d", self->host,
              self->command_port);
    snprintf (self->events, sizeof self->events, v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", self->host,
              self->events_port);
    return 0;
}

/*  The text of a small file, whitespace trimmed, or NULL. */
static char *
s_read_key_file (const char *path)
{
    FILE *file = fopen (path, "r");
    char line[128] = "";
    bool read = file && fgets (line, sizeof line, file) != NULL;
    if (file)
        fclose (file);
    if (!read)
        return NULL;
    line[strcspn (line, " \t\r\n")] = 0;
    return strdup (line);
}

/*  Admin's public bus key to pin: the option, RAFIKI_PINNED_KEY, or the key a
    local admin keeps in <data_dir>/keys/bus.pub. None while bus.curve is on
    is an error (plaintext would be refused). 0, or -1 with the error set. */
static int
s_pin_admin (rfk_sdk_t *self, const rfk_sdk_options_t *opts)
{
    const char *given =
        opts->bus_key && *opts->bus_key ? opts->bus_key : getenv ("RAFIKI_PINNED_KEY");
    char *local = NULL;
    if ((!given || !*given) && self->bus.curve) {
        const char *data_dir = rfk_config_string (self->config, "", "data_dir");
        char *path = zsys_sprintf ("%s/keys/bus.pub", data_dir ? data_dir : ".");
        local = path ? s_read_key_file (path) : NULL;
        zstr_free (&path);
        given = local;
    }
    int rc = 0;
    if (given && *given && !rfk_curve_key_valid (given))
        rc = rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                           "'%s' is not a bus key (40 characters of Z85, as `rafikid up` prints)",
                           given);
    else if (given && *given)
        snprintf (self->bus_key, sizeof self->bus_key, "%s", given);
    else if (self->bus.curve)
        rc = rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                           "admin's bus key is unknown: `rafiki login` fetches and stores it, "
                           "or give it in RAFIKI_PINNED_KEY (`rafikid up` prints it; GET /bus_key "
                           "on admin's HTTP port)");
    free (local);
    return rc;
}

void
rfk_sdk_bus_opts (const rfk_sdk_t *self, rfk_bus_opts_t *opts, const char *server_key)
{
    *opts = self->bus;
    if (server_key && *server_key)
        rfk_bus_opts_curve_client (opts, NULL, server_key);
    else
        rfk_bus_opts_curve_none (opts);
}

const char *
rfk_sdk_bus_key (const rfk_sdk_t *self)
{
    assert (self);
    return self->bus_key[0] ? self->bus_key : NULL;
}

/*  Admin answers on its command port: connect the client. 0, or -1 with
    the error set. */
static int
s_connect_admin (rfk_sdk_t *self)
{
    if (rfk_sdk_probe (self, self->host, self->command_port, "admin") != 0) {
        if (self->error.code == RFK_SDK_UNAVAILABLE) {
            size_t length = strlen (self->error.message);
            snprintf (self->error.message + length, sizeof self->error.message - length,
                      " (is `rafikid up` running there? RAFIKI_ADMIN=HOST[:PORT] or "
                      "admin.command_port in --config FILE say where admin is)");
        }
        return -1;
    }
    char endpoint[320];
    snprintf (endpoint, sizeof endpoint, "tcp://%s", self->address);
    rfk_bus_opts_t bus;
    rfk_sdk_bus_opts (self, &bus, self->bus_key);
    self->client = rfk_client_new (endpoint, &rfk_admin_family, &bus);
    if (!self->client) {
        rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE, "cannot connect to admin at %s", self->address);
        return -1;
    }
    return 0;
}

rfk_sdk_t *
rfk_sdk_new (const rfk_sdk_options_t *opts, rfk_sdk_error_t *error)
{
    rfk_sdk_options_t defaults;
    if (!opts) {
        rfk_sdk_options_init (&defaults);
        opts = &defaults;
    }
    rfk_sdk_t *self = (rfk_sdk_t *)calloc (1, sizeof *self);
    if (!self) {
        if (error)
            *error = (rfk_sdk_error_t){RFK_SDK_INTERNAL, "out of memory"};
        return NULL;
    }
    if (s_load_config (self, opts) != 0 || s_locate_admin (self, opts) != 0 ||
        s_pin_admin (self, opts) != 0)
        return s_give_up (&self, error);
    if (opts->token && *opts->token)
        rfk_sdk_set_token (self, opts->token);
    if (s_connect_admin (self) != 0)
        return s_give_up (&self, error);
    if (error)
        *error = self->error;
    return self;
}

void
rfk_sdk_destroy (rfk_sdk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_sdk_t *self = *self_p;
    rfk_client_destroy (&self->client);
    rfk_client_destroy (&self->predictor);
    free (self->predictor_endpoint);
    free (self->predictor_key_for);
    if (self->serving_key) {
        explicit_bzero (self->serving_key, strlen (self->serving_key));
        free (self->serving_key);
    }
    rfk_config_destroy (&self->config);
    free (self->host);
    if (self->token) {
        explicit_bzero (self->token, strlen (self->token));
        free (self->token);
    }
    free (self);
    *self_p = NULL;
}

const rfk_sdk_error_t *
rfk_sdk_error (const rfk_sdk_t *self)
{
    return self ? &self->error : &s_no_session;
}

const char *
rfk_sdk_admin_address (const rfk_sdk_t *self)
{
    assert (self);
    return self->address;
}

const char *
rfk_sdk_events_endpoint (const rfk_sdk_t *self)
{
    assert (self);
    return self->events;
}

void
rfk_sdk_set_token (rfk_sdk_t *self, const char *token)
{
    assert (self);
    if (self->token) {
        explicit_bzero (self->token, strlen (self->token));
        free (self->token);
    }
    self->token = token && *token ? strdup (token) : NULL;
}

const char *
rfk_sdk_token (const rfk_sdk_t *self)
{
    assert (self);
    return self->token;
}

rfk_msg_t *
rfk_sdk_call_on (rfk_sdk_t *self, rfk_client_t *client, const char *what, const char *address,
                 rfk_msg_t *request, const char *expected)
{
    rfk_msg_t *reply = rfk_client_call_with (client, request, self->timeout_ms, self->retries);
    if (!reply) {
        rfk_sdk_fail (self, RFK_SDK_INTERRUPTED, "interrupted while waiting for %s", what);
        return NULL;
    }
    if (rfk_msg_is (reply, "Error")) {
        rfk_code_t code = rfk_envelope_error_code (reply);
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        if (!message || !*message)
            message = rfk_code_name (code);
        /*  rfk_client's own TIMEOUT (after every try) says "no reply from". */
        if (code == RFK_CODE_TIMEOUT && strncmp (message, "no reply from", 13) == 0)
            rfk_sdk_fail (self, rfk_client_alive (client) ? RFK_SDK_TIMEOUT : RFK_SDK_UNAVAILABLE,
                          "%s isn't reachable at %s: no reply to %s within %d ms (%d tries of %d "
                          "ms)",
                          what, address, request->type, self->timeout_ms * (self->retries + 1),
                          self->retries + 1, self->timeout_ms);
        else
            rfk_sdk_fail (self, (rfk_sdk_code_t)code, "%s", message);
        rfk_msg_destroy (&reply);
        return NULL;
    }
    if (expected && !rfk_msg_is (reply, expected)) {
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "%s answered %s to %s (expected %s)", what,
                      reply->type, request->type, expected);
        rfk_msg_destroy (&reply);
        return NULL;
    }
    return reply;
}

rfk_msg_t *
rfk_sdk_call (rfk_sdk_t *self, rfk_msg_t *request, const char *expected)
{
    rfk_msg_set_token (request, self->token);
    return rfk_sdk_call_on (self, self->client, "admin", self->address, request, expected);
}

json_t *
rfk_sdk_call_json (rfk_sdk_t *self, const char *type, json_t *body, const char *expected)
{
    char err[256];
    rfk_msg_t *request = rfk_msg_new_from_json (&rfk_admin_family, type, 0, body, err, sizeof err);
    if (!request) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "%s", err);
        return NULL;
    }
    rfk_msg_t *reply = rfk_sdk_call (self, request, expected);
    rfk_msg_destroy (&request);
    if (!reply)
        return NULL;
    json_t *result = json_incref (reply->body);
    rfk_msg_destroy (&reply);
    return result;
}

json_t *
rfk_sdk_request (rfk_sdk_t *self, const char *type, json_t *body)
{
    assert (self);
    rfk_sdk_clear (self);
    if (!type || !*type || rfk_admin_family.kind_of (type) < 0) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "'%s' is not an admin request",
                      type ? type : "(null)");
        return NULL;
    }
    return rfk_sdk_call_json (self, type, body, NULL);
}

/*  A request body of string fields given as name, value pairs ending with
    NULL; NULL values are left out. */
static json_t *
s_body (const char *name, ...)
{
    json_t *body = json_object ();
    va_list args;
    va_start (args, name);
    while (name) {
        const char *value = va_arg (args, const char *);
        if (value)
            json_object_set_new (body, name, json_string (value));
        name = va_arg (args, const char *);
    }
    va_end (args);
    return body;
}

/*  Calls type with body (consumed) and the expected reply. */
static json_t *
s_call (rfk_sdk_t *self, const char *type, json_t *body, const char *expected)
{
    assert (self);
    rfk_sdk_clear (self);
    json_t *result = rfk_sdk_call_json (self, type, body, expected);
    json_decref (body);
    return result;
}

/*  Checks a required string argument. */
static bool
s_missing (rfk_sdk_t *self, const char *what, const char *value)
{
    if (value && *value)
        return false;
    rfk_sdk_clear (self);
    rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "%s is required", what);
    return true;
}

/*  {app, app_version} */
static json_t *
s_app_body (const char *app, int app_version)
{
    json_t *body = json_object ();
    json_object_set_new (body, "app", json_string (app));
    json_object_set_new (body, "app_version", json_integer (app_version));
    return body;
}

/*  Calls type with one required string field (what names it when it is
    missing) and the expected reply. */
static json_t *
s_call_field (rfk_sdk_t *self, const char *type, const char *field, const char *value,
              const char *what, const char *expected)
{
    assert (self);
    if (s_missing (self, what, value))
        return NULL;
    return s_call (self, type, s_body (field, value, NULL), expected);
}

/*  Calls type about the job of app and app_version (-1: the latest). */
static json_t *
s_call_app (rfk_sdk_t *self, const char *type, const char *app, int app_version,
            const char *expected)
{
    assert (self);
    if (s_missing (self, "an app", app))
        return NULL;
    return s_call (self, type, s_app_body (app, app_version), expected);
}

/*  Calls type with a JSON object of fields (what says what it is when it is
    not an object); the caller keeps body. */
static json_t *
s_call_object (rfk_sdk_t *self, const char *type, json_t *body, const char *what,
               const char *expected)
{
    assert (self);
    if (!json_is_object (body)) {
        rfk_sdk_clear (self);
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "%s is a JSON object of fields", what);
        return NULL;
    }
    return s_call (self, type, json_incref (body), expected);
}

json_t *
rfk_sdk_login (rfk_sdk_t *self, const char *email, const char *password)
{
    assert (self);
    if (s_missing (self, "an e-mail", email) || s_missing (self, "a password", password))
        return NULL;
    json_t *body = s_body ("email", email, "password", password, NULL);
    /*  A token already held plays no part in logging in. */
    rfk_sdk_set_token (self, NULL);
    json_t *token = s_call (self, "Login", body, "Token");
    if (token)
        rfk_sdk_set_token (self, json_string_value (json_object_get (token, "token")));
    return token;
}

json_t *
rfk_sdk_users_list (rfk_sdk_t *self)
{
    return s_call (self, "ListUsers", NULL, "UserList");
}

json_t *
rfk_sdk_user_create (rfk_sdk_t *self, const char *email, const char *password,
                     const char *user_type)
{
    assert (self);
    if (s_missing (self, "an e-mail", email) || s_missing (self, "a password", password) ||
        s_missing (self, "a user type", user_type))
        return NULL;
    return s_call (self, "CreateUser",
                   s_body ("email", email, "password", password, "user_type", user_type, NULL),
                   "User");
}

json_t *
rfk_sdk_user_ban (rfk_sdk_t *self, const char *email)
{
    return s_call_field (self, "BanUser", "email", email, "an e-mail", "User");
}

json_t *
rfk_sdk_me (rfk_sdk_t *self)
{
    return s_call (self, "GetMe", NULL, "User");
}

json_t *
rfk_sdk_datasets_list (rfk_sdk_t *self, const char *task)
{
    return s_call (self, "ListDatasets", s_body ("task", task, NULL), "DatasetList");
}

json_t *
rfk_sdk_dataset_get (rfk_sdk_t *self, const char *id)
{
    return s_call_field (self, "GetDataset", "id", id, "a dataset id", "Dataset");
}

json_t *
rfk_sdk_dataset_delete (rfk_sdk_t *self, const char *id)
{
    return s_call_field (self, "DeleteDataset", "id", id, "a dataset id", "Deleted");
}

json_t *
rfk_sdk_models_list (rfk_sdk_t *self, const char *task)
{
    return s_call (self, "ListAvailableModels", s_body ("task", task, NULL), "ModelList");
}

json_t *
rfk_sdk_model_get (rfk_sdk_t *self, const char *id)
{
    return s_call_field (self, "GetModel", "id", id, "a model id", "Model");
}

json_t *
rfk_sdk_model_delete (rfk_sdk_t *self, const char *id)
{
    return s_call_field (self, "DeleteModel", "id", id, "a model id", "Deleted");
}

json_t *
rfk_sdk_train_job_create (rfk_sdk_t *self, json_t *body)
{
    return s_call_object (self, "CreateTrainJob", body, "a train job", "TrainJob");
}

json_t *
rfk_sdk_train_jobs_list (rfk_sdk_t *self, const char *user_id)
{
    return s_call (self, "ListTrainJobs", s_body ("user_id", user_id, NULL), "TrainJobList");
}

json_t *
rfk_sdk_train_jobs_of_app (rfk_sdk_t *self, const char *app)
{
    return s_call_field (self, "GetTrainJobsOfApp", "app", app, "an app", "TrainJobList");
}

json_t *
rfk_sdk_train_job_get (rfk_sdk_t *self, const char *app, int app_version)
{
    return s_call_app (self, "GetTrainJob", app, app_version, "TrainJob");
}

json_t *
rfk_sdk_train_job_stop (rfk_sdk_t *self, const char *app, int app_version)
{
    return s_call_app (self, "StopTrainJob", app, app_version, "TrainJob");
}

json_t *
rfk_sdk_train_job_trials (rfk_sdk_t *self, const char *app, int app_version, unsigned limit,
                          unsigned offset, bool best, unsigned max_count)
{
    assert (self);
    if (s_missing (self, "an app", app))
        return NULL;
    json_t *body = s_app_body (app, app_version);
    if (limit)
        json_object_set_new (body, "limit", json_integer (limit));
    if (offset)
        json_object_set_new (body, "offset", json_integer (offset));
    if (best)
        json_object_set_new (body, "type", json_string ("best"));
    if (max_count)
        json_object_set_new (body, "max_count", json_integer (max_count));
    return s_call (self, "ListTrials", body, "TrialList");
}

json_t *
rfk_sdk_trial_get (rfk_sdk_t *self, const char *id)
{
    return s_call_field (self, "GetTrial", "id", id, "a trial id", "Trial");
}

json_t *
rfk_sdk_trial_logs (rfk_sdk_t *self, const char *id)
{
    return s_call_field (self, "GetTrialLogs", "id", id, "a trial id", "TrialLogs");
}

json_t *
rfk_sdk_inference_job_create (rfk_sdk_t *self, json_t *body)
{
    return s_call_object (self, "CreateInferenceJob", body, "an inference job", "InferenceJob");
}

json_t *
rfk_sdk_inference_jobs_list (rfk_sdk_t *self, const char *user_id)
{
    return s_call (self, "ListInferenceJobs", s_body ("user_id", user_id, NULL),
                   "InferenceJobList");
}

json_t *
rfk_sdk_inference_jobs_of_app (rfk_sdk_t *self, const char *app)
{
    return s_call_field (self, "GetInferenceJobsOfApp", "app", app, "an app", "InferenceJobList");
}

json_t *
rfk_sdk_inference_job_get (rfk_sdk_t *self, const char *app, int app_version)
{
    return s_call_app (self, "GetInferenceJob", app, app_version, "InferenceJob");
}

json_t *
rfk_sdk_inference_job_stop (rfk_sdk_t *self, const char *app, int app_version)
{
    return s_call_app (self, "StopInferenceJob", app, app_version, "InferenceJob");
}

json_t *
rfk_sdk_serving_key_create (rfk_sdk_t *self, const char *app, int app_version, const char *label)
{
    if (s_missing (self, "an app", app))
        return NULL;
    json_t *body = s_app_body (app, app_version);
    if (label && *label)
        json_object_set_new (body, "label", json_string (label));
    return s_call (self, "CreateServingKey", body, "ServingKey");
}

json_t *
rfk_sdk_serving_keys_list (rfk_sdk_t *self, const char *app, int app_version)
{
    return s_call_app (self, "ListServingKeys", app, app_version, "ServingKeyList");
}

json_t *
rfk_sdk_serving_key_revoke (rfk_sdk_t *self, const char *app, int app_version, const char *id)
{
    if (s_missing (self, "an app", app) || s_missing (self, "a key id", id))
        return NULL;
    json_t *body = s_app_body (app, app_version);
    json_object_set_new (body, "id", json_string (id));
    return s_call (self, "RevokeServingKey", body, "Deleted");
}

int
rfk_sdk_set_serving_key (rfk_sdk_t *self, const char *key)
{
    assert (self);
    if (self->serving_key) {
        explicit_bzero (self->serving_key, strlen (self->serving_key));
        free (self->serving_key);
        self->serving_key = NULL;
    }
    if (key && *key && !(self->serving_key = strdup (key)))
        return -1;
    return 0;
}

json_t *
rfk_sdk_stop_all (rfk_sdk_t *self)
{
    return s_call (self, "StopAllJobs", NULL, "StoppedJobs");
}
