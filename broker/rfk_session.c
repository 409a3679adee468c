/*  rfk_session.c: a dynamic service's conversation with admin (see
    rfk_session.h). Sends admin: Hello, StatusReport and the service's own
    requests; takes: ServiceConfig, Ack, Error, Stop, and hands the
    service's own messages (a predictor's ServingKeys) to on_message, then
    answers Ack or Error. Also keeps what admin
    must not miss until it answered (rfk_session_send_kept), and stops the
    service once admin was away for service.orphan_timeout_s. What admin
    answered UNAVAILABLE (its store is down: a kept report, a Hello, the
    RUNNING report) goes again a second later.
*/
#include "rfk_session.h"

#include <string.h>

#include "rfk_config.h"
#include "rfk_curve.h"
#include "rfk_envelope.h"
#include "rfk_log.h"

#define S_FLUSH_MS 1000        /* rfk_session_end's default wait for admin's Acks */
#define S_ORPHAN_TIMEOUT_S 600 /* service.orphan_timeout_s when there is no config */
#define S_RETRY_MS 1000        /* the wait before sending again what admin could not take */

/* A report kept until admin answered it (rfk_session_send_kept). */
typedef struct {
    rfk_session_t *session; /* whose it is */
    rfk_msg_t *msg;         /* the report */
    uint64_t correlation;   /* its request while one waits for an answer, else 0 */
} s_kept_t;

struct _rfk_session_t {
    char *name;                         /* the service kind, for the log */
    char *service_id;                   /* who we are to admin */
    char *secret;                       /* the per-service secret (wiped on destroy) */
    rfk_client_t *client;               /* DEALER to admin `service` */
    int flush_ms;                       /* rfk_session_end's wait */
    rfk_session_config_fn *on_config;   /* the service configures itself */
    rfk_session_stop_fn *on_stop;       /* the service stops */
    rfk_session_failed_fn *on_failed;   /* the session cannot go on */
    rfk_session_message_fn *on_message; /* admin's messages of the service's own */
    void *ctx;                          /* for the callbacks */
    bool *stopped;                      /* the service's flag set on Stop, or NULL */
    char **failure;                     /* the service's failure, or NULL */
    bool configured;                    /* ServiceConfig arrived and on_config took it */
    bool refused;                       /* the Hello was refused or unanswered: admin ignores us */
    char *stop_reason;                  /* admin's Stop reason once it asked, else NULL */
    bool final_sent;                    /* STOPPED or ERRORED went out */
    bool admin_silent;                  /* admin went silent: say Hello again when it is back */
    uint64_t hello;                     /* the first Hello's correlation, until answered */
    uint64_t rehello;                   /* a re-Hello's correlation, until answered */
    rfk_msg_t *running;                 /* the RUNNING report sent, for a re-Hello */
    zlistx_t *kept;                     /* s_kept_t admin has not answered yet */
    int64_t orphan_timeout_ms;          /* service.orphan_timeout_s, in ms */
    int64_t silent_since;               /* when admin went silent (zclock_mono), 0: it is not */
    bool orphaned;                      /* admin was away for the orphan timeout */
    int64_t retry_at;   /* when to send again what admin could not take yet (its store was
                           down: UNAVAILABLE), zclock_mono; 0: nothing waits */
    bool hello_again;   /* the first Hello waits for retry_at */
    bool rehello_again; /* a re-Hello waits for retry_at */
    bool running_again; /* the RUNNING report waits for retry_at */
};

static void
s_rehello (rfk_session_t *self);

/* Admin could not take a request now (UNAVAILABLE: its store is down):
   send it again in a while. */
static void
s_retry_later (rfk_session_t *self)
{
    if (!self->retry_at)
        self->retry_at = zclock_mono () + S_RETRY_MS;
}

static bool
s_unavailable (const rfk_msg_t *reply)
{
    const char *code = rfk_msg_is (reply, "Error")
                           ? json_string_value (json_object_get (reply->body, "code"))
                           : NULL;
    return code && rfk_code_from_name (code) == RFK_CODE_UNAVAILABLE;
}

/* ---- sending ------------------------------------------------------------ */

/* admin's answer to one of our requests: an Ack, or an Error worth a line. */
static void
s_on_answer (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    rfk_session_t *self = (rfk_session_t *)arg;
    rfk_msg_t *reply = *reply_p;
    if (!rfk_msg_is (reply, "Error"))
        return;
    const char *code = json_string_value (json_object_get (reply->body, "code"));
    rfk_log_warning (self->name, "admin-refused code=%s message=\"%s\"", code,
                     json_string_value (json_object_get (reply->body, "message")));
    //  An admin that does not know us restarted faster than we noticed: say Hello again.
    if (code && rfk_code_from_name (code) == RFK_CODE_UNAUTHORIZED)
        s_rehello (self);
    //  admin's store is down: our RUNNING report (the one worth repeating) goes again.
    if (code && rfk_code_from_name (code) == RFK_CODE_UNAVAILABLE) {
        self->running_again = true;
        s_retry_later (self);
    }
}

/* admin's answer to a kept report: done with it, or keep it for when admin
   is back (no answer in time, admin did not know us yet). */
static void
s_on_kept_answer (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    s_kept_t *kept = (s_kept_t *)arg;
    rfk_session_t *self = kept->session;
    rfk_msg_t *reply = *reply_p;
    kept->correlation = 0;
    rfk_code_t code =
        rfk_msg_is (reply, "Error")
            ? rfk_code_from_name (json_string_value (json_object_get (reply->body, "code")))
            : RFK_CODE_OK;
    if (code == RFK_CODE_TIMEOUT || code == RFK_CODE_UNAVAILABLE || code == RFK_CODE_UNAUTHORIZED) {
        rfk_log_info (self->name, "kept-report-waits request=%s code=%s", kept->msg->type,
                      rfk_code_name (code));
        if (code == RFK_CODE_UNAUTHORIZED)
            s_rehello (self);
        else if (code == RFK_CODE_UNAVAILABLE)
            s_retry_later (self);
        return;
    }
    if (code != RFK_CODE_OK)
        s_on_answer (client, correlation, reply_p, self);
    void *handle = zlistx_find (self->kept, kept);
    if (handle)
        zlistx_delete (self->kept, handle);
}

/* Send a kept report unless it waits for an answer already. */
static void
s_send_kept (rfk_session_t *self, s_kept_t *kept)
{
    if (kept->correlation || self->refused)
        return;
    kept->correlation = rfk_client_send (self->client, kept->msg, s_on_kept_answer, kept);
    if (!kept->correlation)
        rfk_log_warning (self->name, "admin-send-failed request=%s error=\"%s\"", kept->msg->type,
                         rfk_client_error (self->client, NULL));
}

static void
s_kept_destroy (s_kept_t **kept_p)
{
    s_kept_t *kept = *kept_p;
    if (!kept)
        return;
    rfk_msg_destroy (&kept->msg);
    free (kept);
    *kept_p = NULL;
}

int
rfk_session_send_kept (rfk_session_t *self, rfk_msg_t *msg)
{
    assert (self);
    if (!msg || self->refused)
        return -1;
    s_kept_t *kept = (s_kept_t *)calloc (1, sizeof *kept);
    if (kept)
        kept->msg = rfk_msg_dup (msg);
    if (!kept || !kept->msg || !zlistx_add_end (self->kept, kept)) {
        s_kept_destroy (&kept);
        return -1;
    }
    kept->session = self;
    s_send_kept (self, kept);
    return 0;
}

size_t
rfk_session_kept (rfk_session_t *self)
{
    assert (self);
    return zlistx_size (self->kept);
}

int
rfk_session_send (rfk_session_t *self, rfk_msg_t *msg)
{
    assert (self);
    if (!msg)
        return -1;
    if (self->refused)
        return -1;
    if (rfk_client_send (self->client, msg, s_on_answer, self))
        return 0;
    rfk_log_warning (self->name, "admin-send-failed request=%s error=\"%s\"", msg->type,
                     rfk_client_error (self->client, NULL));
    return -1;
}

/* A StatusReport for us, or NULL when out of memory. */
static rfk_msg_t *
s_report_new (rfk_session_t *self, rfk_service_status_t status, const char *message)
{
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "StatusReport", 0);
    if (!msg)
        return NULL;
    json_object_set_new (msg->body, "service_id", json_string (self->service_id));
    json_object_set_new (msg->body, "status", json_string (rfk_service_status_name (status)));
    if (message)
        json_object_set_new (msg->body, "message", json_string (message));
    return msg;
}

int
rfk_session_running (rfk_session_t *self, const char *message, const char *const *endpoints)
{
    assert (self);
    if (self->final_sent)
        return 0;
    rfk_msg_t *msg = s_report_new (self, RFK_SERVICE_RUNNING, message);
    if (!msg)
        return -1;
    if (endpoints) {
        json_t *list = json_array ();
        for (size_t index = 0; endpoints[index]; index++)
            json_array_append_new (list, json_string (endpoints[index]));
        json_object_set_new (msg->body, "endpoints", list);
    }
    int rc = rfk_session_send (self, msg);
    rfk_msg_destroy (&self->running);
    self->running = msg;
    return rc;
}

int
rfk_session_final (rfk_session_t *self, rfk_service_status_t status, const char *message)
{
    assert (self);
    assert (rfk_service_status_is_final (status));
    if (self->final_sent)
        return 0;
    self->final_sent = true;
    if (self->refused)
        return 0;
    //  Kept: a service that ends while admin is away tells the admin that
    //  comes back (rfk_session_end waits for it, within the orphan timeout).
    rfk_msg_t *msg = s_report_new (self, status, message);
    int rc = msg ? rfk_session_send_kept (self, msg) : -1;
    rfk_msg_destroy (&msg);
    return rc;
}

bool
rfk_session_final_sent (rfk_session_t *self)
{
    assert (self);
    return self->final_sent || self->refused;
}

/* ---- Hello and ServiceConfig -------------------------------------------- */

/* The session cannot go on: tell the service. */
static void
s_failed (rfk_session_t *self, const char *reason)
{
    if (self->failure)
        rfk_log_failure (self->failure, self->name, "%s", reason);
    else
        rfk_log_error (self->name, "admin-session-failed reason=\"%s\"", reason);
    if (self->on_failed)
        self->on_failed (self, reason, self->ctx);
}

/* The answer to our first Hello: configure, or fail. */
static void
s_on_config (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    rfk_session_t *self = (rfk_session_t *)arg;
    rfk_msg_t *reply = *reply_p;
    self->hello = 0;
    char err[1024] = "";
    if (s_unavailable (reply)) {
        rfk_log_info (self->name, "hello-waits reason=\"admin's store is down\"");
        self->hello_again = true;
        s_retry_later (self);
        return;
    }
    if (!rfk_msg_is (reply, "ServiceConfig")) {
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        self->refused = true;
        snprintf (err, sizeof err, "admin refused our Hello: %s",
                  message && *message ? message : reply->type);
        s_failed (self, err);
        return;
    }
    self->configured = true;
    rfk_service_config_t config;
    if (rfk_service_config_read (reply, &config) != 0)
        snprintf (err, sizeof err, "the ServiceConfig cannot be read");
    if (*err || self->on_config (self, &config, self->ctx, err, sizeof err) != 0) {
        if (!*err)
            snprintf (err, sizeof err, "the ServiceConfig could not be applied");
        rfk_session_final (self, RFK_SERVICE_ERRORED, err);
        s_failed (self, err);
    }
}

/* The answer to a re-Hello: admin knows us again, or does not. */
static void
s_on_rehello (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    rfk_session_t *self = (rfk_session_t *)arg;
    rfk_msg_t *reply = *reply_p;
    self->rehello = 0;
    if (s_unavailable (reply)) {
        rfk_log_info (self->name, "rehello-waits reason=\"admin's store is down\"");
        self->rehello_again = true;
        s_retry_later (self);
        return;
    }
    if (!rfk_msg_is (reply, "ServiceConfig")) {
        const char *message = json_string_value (json_object_get (reply->body, "message"));
        const char *code = json_string_value (json_object_get (reply->body, "code"));
        rfk_log_warning (self->name, "RFK-REHELLO-REFUSED code=%s message=\"%s\"", code, message);
        //  CONFLICT: admin holds us ended, or our job gone; nobody wants this
        //  service any more, so it stops as if admin had asked.
        if (code && rfk_code_from_name (code) == RFK_CODE_CONFLICT && !self->stop_reason) {
            self->stop_reason = strdup (message && *message ? message : "admin refused our Hello");
            if (self->stopped)
                *self->stopped = true;
            if (self->on_stop && self->stop_reason)
                self->on_stop (self, self->stop_reason, self->ctx);
        }
        return;
    }
    rfk_log_info (self->name, "admin-rehello-accepted service=%s kept=%zu", self->service_id,
                  zlistx_size (self->kept));
    if (self->running && !self->final_sent)
        rfk_session_send (self, self->running);
    //  What admin missed while it was away, once each.
    for (s_kept_t *kept = (s_kept_t *)zlistx_first (self->kept); kept;
         kept = (s_kept_t *)zlistx_next (self->kept))
        s_send_kept (self, kept);
}

/* Says Hello with our id and secret; the answer goes to on_reply. Its
   correlation id, or 0 when it could not be sent. */
static uint64_t
s_hello (rfk_session_t *self, rfk_client_reply_fn *on_reply)
{
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "Hello", 0);
    if (!msg)
        return 0;
    json_object_set_new (msg->body, "service_id", json_string (self->service_id));
    json_object_set_new (msg->body, "secret", json_string (self->secret));
    uint64_t sent = rfk_client_send (self->client, msg, on_reply, self);
    rfk_msg_destroy (&msg);
    return sent;
}

/* Say Hello again (same id and secret), unless one is on its way or we
   were never configured. */
static void
s_rehello (rfk_session_t *self)
{
    if (self->rehello || self->hello || !self->configured || self->refused)
        return;
    self->rehello = s_hello (self, s_on_rehello);
    if (!self->rehello)
        rfk_log_warning (self->name, "admin-send-failed request=Hello error=\"%s\"",
                         rfk_client_error (self->client, NULL));
}

/* ---- admin's own messages and liveness ---------------------------------- */

/* A message of the service's own: the service takes it (Ack) or refuses it (Error). */
static void
s_service_message (rfk_session_t *self, rfk_client_t *client, const rfk_msg_t *msg)
{
    char err[300] = "";
    if (self->on_message (self, msg, self->ctx, err, sizeof err) == 0) {
        rfk_msg_t *ack = rfk_msg_new (&rfk_service_family, "Ack", msg->correlation);
        if (ack)
            rfk_client_post (client, ack);
        rfk_msg_destroy (&ack);
        return;
    }
    rfk_log_warning (self->name, "admin-message-refused type=%s reason=\"%s\"", msg->type, err);
    rfk_msg_t *error = rfk_msg_new_error (&rfk_service_family, msg->correlation,
                                          RFK_CODE_BAD_REQUEST, *err ? err : "refused");
    if (error)
        rfk_client_post (client, error);
    rfk_msg_destroy (&error);
}

/* admin's messages that answer none of ours: Stop, and the service's own. */
static void
s_on_message (rfk_client_t *client, rfk_msg_t **msg_p, void *ctx)
{
    rfk_session_t *self = (rfk_session_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    const char *code =
        rfk_msg_is (msg, "Error") ? json_string_value (json_object_get (msg->body, "code")) : NULL;
    if (code && rfk_code_from_name (code) == RFK_CODE_UNAUTHORIZED) {
        //  Our heartbeat reached an admin that restarted before we noticed.
        rfk_log_info (self->name, "admin-forgot-us: saying Hello again");
        s_rehello (self);
        return;
    }
    if (!rfk_msg_is (msg, "Stop") && self->on_message && !rfk_msg_is (msg, "Error")) {
        s_service_message (self, client, msg);
        return;
    }
    if (!rfk_msg_is (msg, "Stop")) {
        rfk_log_warning (self->name, "RFK-UNEXPECTED admin-message=%s", msg->type);
        return;
    }
    rfk_msg_t *ack = rfk_msg_new (&rfk_service_family, "Ack", msg->correlation);
    if (ack)
        rfk_client_post (client, ack);
    rfk_msg_destroy (&ack);
    const char *reason = json_string_value (json_object_get (msg->body, "reason"));
    rfk_log_info (self->name, "stop-asked reason=\"%s\"", reason ? reason : "");
    if (self->stop_reason)
        return;
    self->stop_reason = strdup (reason && *reason ? reason : "stopped by admin");
    if (self->stopped)
        *self->stopped = true;
    if (self->on_stop && self->stop_reason)
        self->on_stop (self, self->stop_reason, self->ctx);
}

/*  admin went silent, or came back. The re-Hello hook: a restarted admin
    does not know this peer, so say Hello again (same id and secret) once
    it answers; keys and adoption by admin build on this. */
static void
s_on_liveness (rfk_client_t *client, bool alive, void *ctx)
{
    (void)client;
    rfk_session_t *self = (rfk_session_t *)ctx;
    if (!alive) {
        rfk_log_warning (self->name, "admin-silent orphan_timeout_s=%lld",
                         (long long)(self->orphan_timeout_ms / 1000));
        self->admin_silent = true;
        if (!self->silent_since)
            self->silent_since = zclock_mono ();
        return;
    }
    bool rehello = self->admin_silent && self->configured && !self->refused;
    self->admin_silent = false;
    self->silent_since = 0;
    rfk_log_info (self->name, "admin-back%s", rehello ? " rehello=yes" : "");
    if (rehello) {
        //  A re-Hello to the admin that went away will never be answered.
        if (self->rehello)
            rfk_client_cancel (self->client, self->rehello);
        self->rehello = 0;
        s_rehello (self);
    }
}

/* admin has been away for service.orphan_timeout_s: nobody owns us any
   more, so stop as if admin had asked (the final report goes out as it
   can). */
static void
s_orphaned (rfk_session_t *self)
{
    char reason[160];
    snprintf (reason, sizeof reason,
              "admin unreachable for %lld s (service.orphan_timeout_s): stopping on our own",
              (long long)(self->orphan_timeout_ms / 1000));
    rfk_log_warning (self->name, "RFK-ORPHANED reason=\"%s\"", reason);
    self->silent_since = 0;
    self->orphaned = true;
    if (self->stop_reason)
        return;
    self->stop_reason = strdup (reason);
    if (self->stopped)
        *self->stopped = true;
    if (self->on_stop && self->stop_reason)
        self->on_stop (self, self->stop_reason, self->ctx);
}

/* ---- life cycle --------------------------------------------------------- */

const char *
rfk_session_admin_endpoint (const rfk_config_t *config, char *buf, size_t size)
{
    assert (config);
    assert (buf);
    const char *host = rfk_config_string (config, "admin", "host");
    if (!host || !*host || streq (host, "0.0.0.0") || streq (host, "*"))
        host = "127.0.0.1";
    snprintf (buf, size, "tcp://%s:%" PRId64, host,
              rfk_config_int (config, "admin", "service_port"));
    return buf;
}

/* The DEALER to admin: where CurveZMQ keys will be set. */
static int
s_connect (rfk_session_t *self, const rfk_session_args_t *args, char *err, size_t errlen)
{
    const rfk_config_t *config = args->role->config;
    rfk_bus_opts_t bus;
    if (args->bus)
        bus = *args->bus;
    else
        rfk_bus_opts_from_config (&bus, config);
    char endpoint[300];
    if (args->endpoint)
        snprintf (endpoint, sizeof endpoint, "%s", args->endpoint);
    else
        rfk_session_admin_endpoint (config, endpoint, sizeof endpoint);
    /*  Keys came from admin with the secret: this service's own pair, and
        admin's public key pinned; none (a test's fake admin): plaintext. */
    rfk_curve_keys_t keys;
    if (args->role->curve && rfk_curve_keys_parse (args->role->curve, &keys) != 0) {
        snprintf (err, errlen, "the bus keys from the launcher are malformed");
        return -1;
    }
    if (args->role->curve)
        rfk_bus_opts_curve_client (&bus, &keys.own, keys.admin_public);
    else
        rfk_bus_opts_curve_none (&bus);
    explicit_bzero (&keys, sizeof keys);
    //  Its own I/O thread: resolving admin's name may block it (rfk_bus.h).
    bus.io = RFK_BUS_IO_ADMIN;
    self->client = rfk_client_new (endpoint, &rfk_service_family, &bus);
    explicit_bzero (bus.curve_secret, sizeof bus.curve_secret);
    if (!self->client) {
        snprintf (err, errlen, "cannot connect to admin at %s", endpoint);
        return -1;
    }
    rfk_client_set_handlers (self->client, s_on_message, s_on_liveness, self);
    return 0;
}

/* 0 when args can start a session, else -1 with the reason in err. */
static int
s_args_check (const rfk_session_args_t *args, char *err, size_t errlen)
{
    const char *name = args && args->name ? args->name : "service";
    if (!args || !args->on_config)
        snprintf (err, errlen, "no session arguments");
    else if (!args->role || (!args->role->config && (!args->endpoint || !args->bus)))
        snprintf (err, errlen, "no configuration");
    else if (!args->role->service_id || !args->role->secret)
        snprintf (err, errlen,
                  "the %s runs as a service: rafikid %s --service-id ID, with its secret from "
                  "the launcher",
                  name, name);
    else
        return 0;
    return -1;
}

/* A session, or NULL with the reason in err. */
static rfk_session_t *
s_new (const rfk_session_args_t *args, char *err, size_t errlen)
{
    if (s_args_check (args, err, errlen) != 0)
        return NULL;
    rfk_session_t *self = (rfk_session_t *)calloc (1, sizeof (rfk_session_t));
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->name = strdup (args->name ? args->name : "service");
    self->service_id = strdup (args->role->service_id);
    self->secret = strdup (args->role->secret);
    self->flush_ms = args->flush_ms > 0 ? args->flush_ms : S_FLUSH_MS;
    self->on_config = args->on_config;
    self->on_stop = args->on_stop;
    self->on_failed = args->on_failed;
    self->on_message = args->on_message;
    self->ctx = args->ctx;
    self->stopped = args->stopped;
    self->failure = args->failure;
    self->orphan_timeout_ms =
        1000 * (args->role->config
                    ? rfk_config_int (args->role->config, "service", "orphan_timeout_s")
                    : S_ORPHAN_TIMEOUT_S);
    if (self->orphan_timeout_ms <= 0)
        self->orphan_timeout_ms = 1000 * S_ORPHAN_TIMEOUT_S;
    self->kept = zlistx_new ();
    if (self->kept)
        zlistx_set_destructor (self->kept, (czmq_destructor *)s_kept_destroy);
    if (!self->name || !self->service_id || !self->secret || !self->kept)
        snprintf (err, errlen, "out of memory");
    else if (s_connect (self, args, err, errlen) == 0 &&
             !(self->hello = s_hello (self, s_on_config)))
        snprintf (err, errlen, "cannot send Hello to admin: %s",
                  rfk_client_error (self->client, NULL));
    if (!self->client || *err) {
        rfk_session_destroy (&self);
        return NULL;
    }
    return self;
}

rfk_session_t *
rfk_session_new (const rfk_session_args_t *args, char *err, size_t errlen)
{
    char reason[512] = "";
    rfk_session_t *self = s_new (args, reason, sizeof reason);
    if (!self && err)
        snprintf (err, errlen, "%s", reason);
    if (!self && args && args->failure)
        rfk_log_failure (args->failure, args->name ? args->name : "service", "%s", reason);
    return self;
}

void
rfk_session_destroy (rfk_session_t **self_p)
{
    assert (self_p);
    rfk_session_t *self = *self_p;
    if (!self)
        return;
    rfk_client_destroy (&self->client);
    zlistx_destroy (&self->kept);
    rfk_msg_destroy (&self->running);
    free (self->stop_reason);
    if (self->secret)
        memset (self->secret, 0, strlen (self->secret));
    free (self->secret);
    free (self->service_id);
    free (self->name);
    free (self);
    *self_p = NULL;
}

/* ---- the loop ----------------------------------------------------------- */

rfk_client_t *
rfk_session_client (rfk_session_t *self)
{
    assert (self);
    return self->client;
}

const char *
rfk_session_service_id (rfk_session_t *self)
{
    assert (self);
    return self->service_id;
}

zsock_t *
rfk_session_sock (rfk_session_t *self)
{
    assert (self);
    return rfk_client_sock (self->client);
}

int64_t
rfk_session_deadline (rfk_session_t *self)
{
    assert (self);
    int64_t deadline = rfk_client_deadline (self->client);
    if (self->silent_since) {
        int64_t orphan_at = self->silent_since + self->orphan_timeout_ms;
        if (deadline < 0 || orphan_at < deadline)
            deadline = orphan_at;
    }
    if (self->retry_at && (deadline < 0 || self->retry_at < deadline))
        deadline = self->retry_at;
    return deadline;
}

int
rfk_session_recv (rfk_session_t *self)
{
    assert (self);
    return rfk_client_recv (self->client);
}

/* Send again what admin could not take when it was asked. */
static void
s_retry (rfk_session_t *self)
{
    self->retry_at = 0;
    if (self->hello_again && !self->hello && !self->refused) {
        self->hello_again = false;
        self->hello = s_hello (self, s_on_config);
    }
    if (self->rehello_again) {
        self->rehello_again = false;
        s_rehello (self);
    }
    if (self->running_again && self->running && !self->final_sent)
        rfk_session_send (self, self->running);
    self->running_again = false;
    for (s_kept_t *kept = (s_kept_t *)zlistx_first (self->kept); kept;
         kept = (s_kept_t *)zlistx_next (self->kept))
        s_send_kept (self, kept);
}

void
rfk_session_tick (rfk_session_t *self)
{
    assert (self);
    rfk_client_tick (self->client);
    if (self->silent_since && zclock_mono () >= self->silent_since + self->orphan_timeout_ms)
        s_orphaned (self);
    if (self->retry_at && zclock_mono () >= self->retry_at)
        s_retry (self);
}

size_t
rfk_session_pending (rfk_session_t *self)
{
    assert (self);
    return rfk_client_pending (self->client);
}

void
rfk_session_flush (rfk_session_t *self, int wait_ms)
{
    assert (self);
    int64_t until = zclock_mono () + wait_ms;
    zpoller_t *poller = zpoller_new (rfk_client_sock (self->client), NULL);
    while (poller && rfk_client_pending (self->client) > 0 && zclock_mono () < until) {
        if (zpoller_wait (poller, (int)(until - zclock_mono ())))
            rfk_client_recv (self->client);
        else if (zpoller_terminated (poller))
            break;
        rfk_client_tick (self->client);
    }
    zpoller_destroy (&poller);
}

bool
rfk_session_stop_asked (rfk_session_t *self)
{
    assert (self);
    return self->stop_reason != NULL;
}

/* Whether kept reports may still reach admin: some are kept, admin is
   away (it may come back) or they are on their way, and the orphan timeout
   has not passed. */
static bool
s_kept_may_go (rfk_session_t *self)
{
    if (zlistx_size (self->kept) == 0 || self->orphaned || self->refused)
        return false;
    if (self->admin_silent || self->rehello || self->retry_at)
        return true;
    for (s_kept_t *kept = (s_kept_t *)zlistx_first (self->kept); kept;
         kept = (s_kept_t *)zlistx_next (self->kept))
        if (kept->correlation)
            return true;
    return false;
}

/* At the end: what admin has not answered yet (a trial's result, the final
   report) waits for an admin that is away to come back, within the orphan
   timeout, so that a service ending meanwhile loses nothing. */
static void
s_wait_kept (rfk_session_t *self)
{
    if (!s_kept_may_go (self))
        return;
    rfk_log_info (self->name, "waiting-for-admin kept=%zu", zlistx_size (self->kept));
    zpoller_t *poller = zpoller_new (rfk_client_sock (self->client), NULL);
    while (poller && s_kept_may_go (self)) {
        int64_t deadline = rfk_session_deadline (self);
        int64_t wait = deadline < 0 ? 1000 : deadline - zclock_mono ();
        if (zpoller_wait (poller, (int)(wait < 0 ? 0 : wait > 1000 ? 1000 : wait)))
            rfk_client_recv (self->client);
        else if (zpoller_terminated (poller))
            break;
        rfk_session_tick (self);
    }
    zpoller_destroy (&poller);
}

bool
rfk_session_end (rfk_session_t *self, const char *failure, const char *reason)
{
    assert (self);
    /*  A ServiceConfig that comes now would configure a service that is
        going: forget the Hello. */
    if (self->hello)
        rfk_client_cancel (self->client, self->hello);
    self->hello = 0;
    if (failure)
        rfk_session_final (self, RFK_SERVICE_ERRORED, failure);
    else
        rfk_session_final (self, RFK_SERVICE_STOPPED,
                           self->stop_reason ? self->stop_reason
                           : reason          ? reason
                                             : "stopped");
    rfk_session_flush (self, self->flush_ms);
    s_wait_kept (self);
    return self->stop_reason != NULL;
}

void
rfk_session_leave (rfk_session_t *self, zsock_t *pipe, const char *failure, bool done)
{
    if (self && rfk_session_end (self, failure, "stopped (SIGTERM)"))
        done = true;
    rfk_role_end (pipe, failure, done);
}
