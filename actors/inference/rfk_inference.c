/*  rfk_inference.c: the inference worker actor (see rfk_inference.h).

    One loop over the pipe, the DEALER to the predictor and, in the role
    form, the session with admin (rfk_session), each registered once in a
    zpoller. Takes from the predictor: QueryBatch, Error (we are unknown: say
    WorkerReady again). Sends: WorkerReady, PredictionBatch. The session
    takes admin's ServiceConfig and Stop and sends Hello and StatusReport.

    Every call into the template (loading, predict, destroy) is watched by
    rfk_watchdog, a thread the loop cannot block: a call that has not
    returned within its limit ends the process (s_limits says which).
*/
#include "rfk_inference.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <rafiki/template.h>

#include "rfk_bodies.h"
#include "rfk_client.h"
#include "rfk_config.h"
#include "rfk_curve.h"
#include "rfk_session.h"
#include "rfk_log.h"
#include "rfk_role.h"
#include "rfk_sandbox.h"
#include "rfk_timer.h"
#include "rfk_watchdog.h"

#define S_LOG "inference"
#define S_PREDICT_KNOB "inference.predict_timeout_s"
#define S_ORPHAN_KNOB "service.orphan_timeout_s"

typedef struct {
    zsock_t *pipe;                 /* the actor's pipe */
    const rfk_role_args_t *role;   /* role form: rafikid's arguments, else NULL */
    rfk_bus_opts_t bus;            /* socket options */
    zpoller_t *poller;             /* the pipe, the predictor, the session */
    rfk_session_t *session;        /* the conversation with admin, role form only */
    rfk_client_t *predictor;       /* DEALER to the predictor's `workers` */
    rfk_template_t *template_;     /* the opened template */
    const rafiki_model_api_t *api; /* its table */
    void *model;                   /* the trained model */
    char *trial_id;                /* the member we serve */
    char *service_id;              /* how we name ourselves */
    char *task;                    /* the template's task */
    int delay_ms;                  /* tests: answers wait this long */
    zlistx_t *delayed;             /* s_delayed_t answers waiting for delay_ms */
    int64_t next_ready;            /* when WorkerReady is repeated (mono ms) */
    bool terminated;               /* $TERM, or admin's Stop */
    char *failure;                 /* why we cannot work, or NULL */
    uint64_t batches;              /* batches answered */
    uint64_t queries;              /* queries answered */
    uint64_t failed_batches;       /* batches answered with an error */
    uint64_t query_errors;         /* queries answered with a per-query error */
    size_t memory_mb;              /* address space the template may add (0: no cap) */
    rfk_watchdog_t *watchdog;      /* ends us when a template call is stuck, or NULL */
    int64_t predict_ms;            /* limit of one predict (or destroy) call, 0: none */
    const char *predict_knob;      /* the setting predict_ms comes from (static) */
    int64_t load_ms;               /* limit of loading the template and model, 0: none */
} self_t;

typedef struct {
    int64_t due;    /* mono ms */
    rfk_msg_t *msg; /* the PredictionBatch */
} s_delayed_t;

static void
s_delayed_free (void **item_p)
{
    s_delayed_t *delayed = (s_delayed_t *)*item_p;
    if (delayed) {
        rfk_msg_destroy (&delayed->msg);
        free (delayed);
        *item_p = NULL;
    }
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    rfk_client_destroy (&self->predictor);
    zpoller_destroy (&self->poller);
    rfk_session_destroy (&self->session);
    //  destroy and the template's destructors are template code too.
    rfk_watchdog_arm (self->watchdog, self->predict_ms, "the template's destroy",
                      self->predict_knob);
    if (self->api && self->model)
        self->api->destroy (self->model);
    rfk_template_close (&self->template_);
    rfk_watchdog_destroy (&self->watchdog);
    zlistx_destroy (&self->delayed);
    free (self->trial_id);
    free (self->service_id);
    free (self->task);
    free (self->failure);
    free (self);
    *self_p = NULL;
}

/*  The limits of template calls in the role forms (issue 15: nothing runs
    forever unowned): a predict gets inference.predict_timeout_s, loading
    the model service.orphan_timeout_s. A predict never gets more than the
    orphan timeout either: a loop stuck that long cannot have heard admin,
    so no stuck worker outlives an admin that is gone. */
static void
s_limits (self_t *self, const rfk_config_t *config)
{
    int64_t orphan_s = rfk_config_int (config, "service", "orphan_timeout_s");
    int64_t predict_s = rfk_config_int (config, "inference", "predict_timeout_s");
    self->load_ms = orphan_s * 1000;
    self->predict_ms = (predict_s < orphan_s ? predict_s : orphan_s) * 1000;
    self->predict_knob = predict_s <= orphan_s ? S_PREDICT_KNOB : S_ORPHAN_KNOB;
}

/*  The actor's state with the bus options of the role's configuration
    (the defaults without one); predict_ms the direct form's limit of a
    predict call (0: none). NULL when out of memory or without a watchdog. */
static self_t *
s_self_new (zsock_t *pipe, const rfk_role_args_t *role, int64_t predict_ms)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    if (!self)
        return NULL;
    *self = (self_t){.pipe = pipe,
                     .role = role,
                     .delayed = zlistx_new (),
                     .poller = zpoller_new (pipe, NULL),
                     .predict_ms = predict_ms,
                     .predict_knob = "rfk_inference_args_t.predict_timeout_ms"};
    rfk_bus_opts_from_config (&self->bus, role ? role->config : NULL);
    if (role && role->config) {
        self->memory_mb = (size_t)rfk_config_int (role->config, "trainer", "memory_limit_mb");
        s_limits (self, role->config);
    }
    bool watched = self->predict_ms > 0 || self->load_ms > 0;
    if (watched) {
        //  The load limit is never the shorter one (s_limits), or is 0.
        int64_t shortest = self->predict_ms > 0 ? self->predict_ms : self->load_ms;
        self->watchdog = rfk_watchdog_new (S_LOG, rfk_watchdog_period_for (shortest));
    }
    if (!self->delayed || !self->poller || (watched && !self->watchdog))
        s_self_destroy (&self);
    else
        zlistx_set_destructor (self->delayed, s_delayed_free);
    return self;
}

/* ---------------------------------------------------------------------- */
/* the model */

/*  A knob value for a knob the trial did not give: the table's first
    choice, its lower bound; FIXED and POLICY knobs are filled in by
    rfk_knobs_from_json. */
static json_t *
s_knob_default (const rafiki_knob_t *knob)
{
    if (knob->type == RAFIKI_KNOB_CATEGORICAL && knob->n_values > 0) {
        const rafiki_value_t *value = &knob->values[0];
        switch (value->type) {
            case RAFIKI_VALUE_INT:
                return json_integer (value->u.i);
            case RAFIKI_VALUE_FLOAT:
                return json_real (value->u.f);
            case RAFIKI_VALUE_STRING:
                return json_string (value->u.s);
            case RAFIKI_VALUE_BOOL:
                return json_boolean (value->u.b);
        }
    }
    if (knob->type == RAFIKI_KNOB_INTEGER)
        return json_integer ((json_int_t)knob->min);
    if (knob->type == RAFIKI_KNOB_FLOAT)
        return json_real (knob->min);
    return NULL;
}

/*  Reads a whole file; NULL with err on failure. */
static char *
s_read_file (const char *path, size_t *size, char *err, size_t errlen)
{
    //  Never through a link planted in place of the parameters (issue 13).
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *file = fd >= 0 ? fdopen (fd, "rb") : NULL;
    if (!file) {
        snprintf (err, errlen, "cannot open the parameters %s: %s", path,
                  errno == ELOOP ? "it is a symbolic link (refused)" : strerror (errno));
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    char *data = NULL;
    long length = -1;
    if (fseek (file, 0, SEEK_END) == 0 && (length = ftell (file)) >= 0 &&
        fseek (file, 0, SEEK_SET) == 0)
        data = (char *)malloc ((size_t)length + 1);
    if (data && fread (data, 1, (size_t)length, file) != (size_t)length) {
        free (data);
        data = NULL;
    }
    fclose (file);
    if (!data)
        snprintf (err, errlen, "cannot read the parameters %s", path);
    *size = data ? (size_t)length : 0;
    return data;
}

/*  Opens the template, makes the model, loads its parameters. */
static int
s_load_unwatched (self_t *self, const char *model_path, const char *params_path,
                  const json_t *knobs, const char *task, char *err, size_t errlen)
{
    if (!model_path || !*model_path) {
        snprintf (err, errlen, "no template to load (model_path)");
        return -1;
    }
    //  Bound the template's memory before its code runs (constructors
    //  too): trainer.memory_limit_mb more than this process maps now.
    if (self->memory_mb > 0 && rfk_sandbox_memory_cap (self->memory_mb) != 0)
        rfk_log_warning (S_LOG, "memory-cap-failed mb=%zu errno=%d", self->memory_mb, errno);
    self->template_ = rfk_template_open (model_path, task && *task ? task : NULL, err, errlen);
    if (!self->template_)
        return -1;
    self->api = rfk_template_api (self->template_);
    self->task = strdup (self->api->task);
    json_t *values = json_is_object (knobs) ? json_deep_copy (knobs) : json_object ();
    for (size_t k = 0; values && k < self->api->n_knobs; k++) {
        const rafiki_knob_t *knob = &self->api->knobs[k];
        if (!json_object_get (values, knob->name)) {
            json_t *value = s_knob_default (knob);
            if (value)
                json_object_set_new (values, knob->name, value);
        }
    }
    rafiki_knobs_t chosen = {0};
    int rc = -1;
    if (!values)
        snprintf (err, errlen, "out of memory");
    else if (rfk_knobs_from_json (self->api->knobs, self->api->n_knobs, values, true, &chosen, err,
                                  errlen) == 0) {
        self->model = self->api->create (&chosen, err, errlen);
        rc = self->model ? 0 : -1;
    }
    rfk_knobs_free (&chosen);
    json_decref (values);
    if (rc != 0 || !params_path || !*params_path)
        return rc;
    size_t size = 0;
    char *data = s_read_file (params_path, &size, err, errlen);
    if (!data)
        return -1;
    msgpack_unpacked params;
    msgpack_unpacked_init (&params);
    size_t off = 0;
    if (msgpack_unpack_next (&params, data, size, &off) != MSGPACK_UNPACK_SUCCESS) {
        snprintf (err, errlen, "the parameters %s are not msgpack", params_path);
        rc = -1;
    } else {
        char why[512] = "";
        rc = self->api->load_params (self->model, &params.data, why, sizeof why);
        if (rc != 0)
            snprintf (err, errlen, "loading the parameters %s failed: %s", params_path, why);
    }
    msgpack_unpacked_destroy (&params);
    free (data);
    return rc;
}

/*  s_load_unwatched under the watchdog: the template's constructors,
    create and load_params are its code. */
static int
s_load_model (self_t *self, const char *model_path, const char *params_path, const json_t *knobs,
              const char *task, char *err, size_t errlen)
{
    rfk_watchdog_arm (self->watchdog, self->load_ms, "loading the template", S_ORPHAN_KNOB);
    int rc = s_load_unwatched (self, model_path, params_path, knobs, task, err, errlen);
    rfk_watchdog_disarm (self->watchdog);
    return rc;
}

/*  True when bytes start a msgpack array of n elements. */
static bool
s_is_array_of (const char *data, size_t size, uint32_t n)
{
    const unsigned char *bytes = (const unsigned char *)data;
    if (size < 1)
        return false;
    if (bytes[0] >= 0x90 && bytes[0] <= 0x9f)
        return (uint32_t)(bytes[0] & 0x0f) == n;
    if (bytes[0] == 0xdc && size >= 3)
        return (uint32_t)((bytes[1] << 8) | bytes[2]) == n;
    if (bytes[0] == 0xdd && size >= 5)
        return ((uint32_t)bytes[1] << 24 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 8 |
                bytes[4]) == n;
    return false;
}

/*  Predicts the queries one at a time, each failure an error in its place. */
static void
s_predict_each (self_t *self, const msgpack_object *queries, msgpack_sbuffer *out)
{
    msgpack_packer packer;
    msgpack_packer_init (&packer, out, msgpack_sbuffer_write);
    msgpack_pack_array (&packer, queries->via.array.size);
    for (uint32_t i = 0; i < queries->via.array.size; i++) {
        msgpack_object one = {.type = MSGPACK_OBJECT_ARRAY};
        one.via.array.size = 1;
        one.via.array.ptr = &queries->via.array.ptr[i];
        msgpack_sbuffer single;
        msgpack_sbuffer_init (&single);
        msgpack_packer single_packer;
        msgpack_packer_init (&single_packer, &single, msgpack_sbuffer_write);
        char err[512] = "";
        rfk_watchdog_arm (self->watchdog, self->predict_ms, "the template's predict",
                          self->predict_knob);
        int rc = self->api->predict (self->model, &one, &single_packer, err, sizeof err);
        rfk_watchdog_disarm (self->watchdog);
        if (rc == 0 && s_is_array_of (single.data, single.size, 1))
            msgpack_sbuffer_write (out, single.data + 1, single.size - 1);
        else {
            self->query_errors++;
            rafiki_pack_query_error (&packer, *err ? err : "the model could not answer this query");
        }
        msgpack_sbuffer_destroy (&single);
    }
}

/*  Answers one QueryBatch. */
static void
s_handle_query_batch (self_t *self, rfk_msg_t *msg)
{
    json_t *id = json_object_get (msg->body, "batch_id");
    rfk_msg_t *reply = rfk_msg_new (&rfk_infer_family, "PredictionBatch", msg->correlation);
    if (!reply)
        return;
    if (id)
        json_object_set (reply->body, "batch_id", id);
    const char *data = msg->data ? (const char *)zchunk_data (msg->data) : NULL;
    size_t size = msg->data ? zchunk_size (msg->data) : 0;
    msgpack_unpacked queries;
    msgpack_unpacked_init (&queries);
    size_t off = 0;
    char err[512] = "";
    if (!self->model)
        snprintf (err, sizeof err, "the worker has no model loaded");
    else if (!data || msgpack_unpack_next (&queries, data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
             queries.data.type != MSGPACK_OBJECT_ARRAY)
        snprintf (err, sizeof err, "the batch is not a msgpack array of queries");
    else {
        uint32_t n = queries.data.via.array.size;
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        msgpack_packer packer;
        msgpack_packer_init (&packer, &out, msgpack_sbuffer_write);
        char why[512] = "";
        rfk_watchdog_arm (self->watchdog, self->predict_ms, "the template's predict",
                          self->predict_knob);
        int rc = self->api->predict (self->model, &queries.data, &packer, why, sizeof why);
        rfk_watchdog_disarm (self->watchdog);
        if (rc != 0 || !s_is_array_of (out.data, out.size, n)) {
            /*  Let the bad queries alone carry the error. */
            if (*why)
                rfk_log_warning (S_LOG,
                                 "batch-failed batch=%" JSON_INTEGER_FORMAT
                                 " error=\"%s\"; predicting one by one",
                                 json_integer_value (id), why);
            msgpack_sbuffer_clear (&out);
            s_predict_each (self, &queries.data, &out);
        }
        rfk_msg_set_data (reply, out.data, out.size);
        msgpack_sbuffer_destroy (&out);
        self->queries += n;
    }
    msgpack_unpacked_destroy (&queries);
    if (*err) {
        json_object_set_new (reply->body, "error", json_string (err));
        self->failed_batches++;
    }
    self->batches++;
    if (self->delay_ms > 0) {
        s_delayed_t *delayed = (s_delayed_t *)zmalloc (sizeof (s_delayed_t));
        if (delayed) {
            delayed->due = zclock_mono () + self->delay_ms;
            delayed->msg = reply;
            zlistx_add_end (self->delayed, delayed);
            return;
        }
    }
    if (rfk_client_post (self->predictor, reply) != 0)
        rfk_log_warning (S_LOG, "answer-dropped batch=%" JSON_INTEGER_FORMAT " error=\"%s\"",
                         json_integer_value (id), rfk_client_error (self->predictor, NULL));
    rfk_msg_destroy (&reply);
}

static void
s_send_ready (self_t *self)
{
    rfk_msg_t *ready = rfk_msg_new (&rfk_infer_family, "WorkerReady", 0);
    if (!ready)
        return;
    json_object_set_new (ready->body, "service_id", json_string (self->service_id));
    json_object_set_new (ready->body, "trial_id", json_string (self->trial_id));
    json_object_set_new (ready->body, "model_name", json_string (self->api->name));
    json_object_set_new (ready->body, "task", json_string (self->api->task));
    json_object_set_new (ready->body, "capacity", json_integer (1));
    rfk_client_post (self->predictor, ready);
    rfk_msg_destroy (&ready);
    self->next_ready = zclock_mono () + self->bus.heartbeat_timeout_ms / 2;
}

static void
s_on_predictor_message (rfk_client_t *client, rfk_msg_t **msg_p, void *ctx)
{
    (void)client;
    self_t *self = (self_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    if (rfk_msg_is (msg, "QueryBatch"))
        s_handle_query_batch (self, msg);
    else if (rfk_msg_is (msg, "Error"))
        s_send_ready (self); /* the predictor does not know us (any more) */
    else
        rfk_log_warning (S_LOG, "RFK-UNEXPECTED predictor-message=%s", msg->type);
}

/*  Connects to the predictor once the model is loaded. */
static int
s_connect (self_t *self, const char *endpoint, char *err, size_t errlen)
{
    if (!endpoint || !*endpoint) {
        snprintf (err, errlen, "no predictor endpoint");
        return -1;
    }
    /*  With the keys admin sent: connect with the inference job's keypair,
        which its predictor alone admits on `workers`. */
    rfk_bus_opts_t bus = self->bus;
    if (rfk_curve_group_client (&bus, self->role ? self->role->curve : NULL) != 0) {
        snprintf (err, errlen, "the bus keys from the launcher are malformed");
        return -1;
    }
    self->predictor = rfk_client_new (endpoint, &rfk_infer_family, &bus);
    explicit_bzero (bus.curve_secret, sizeof bus.curve_secret);
    if (!self->predictor) {
        snprintf (err, errlen, "cannot connect to the predictor at %s", endpoint);
        return -1;
    }
    rfk_client_set_handlers (self->predictor, s_on_predictor_message, NULL, self);
    zpoller_add (self->poller, rfk_client_sock (self->predictor));
    s_send_ready (self);
    rfk_log_info (S_LOG, "ready trial=%s template=%s predictor=%s", self->trial_id, self->api->name,
                  endpoint);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* admin */

/*  admin's ServiceConfig: load the trial's model, connect to the
    predictor. */
static int
s_on_config (rfk_session_t *session, const rfk_service_config_t *config, void *ctx, char *err,
             size_t errlen)
{
    self_t *self = (self_t *)ctx;
    rfk_trial_to_load_t trial;
    if (rfk_trial_to_load_read (config, 0, &trial) != 0) {
        snprintf (err, errlen, "the ServiceConfig names no trial to load");
        return -1;
    }
    //  TrialToLoad has no knobs: admin puts the trial's in config.
    const json_t *knobs = json_object_get (config->config, "knobs");
    if (trial.trial_id && *trial.trial_id) {
        free (self->trial_id);
        self->trial_id = strdup (trial.trial_id);
    }
    if (s_load_model (self, trial.model_path, trial.params_path, knobs, config->task, err,
                      errlen) != 0 ||
        s_connect (self, config->predictor_endpoint, err, errlen) != 0)
        return -1;
    rfk_session_running (session, NULL, NULL);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* the loop */

static void
s_handle_pipe (self_t *self)
{
    char *command = rfk_role_command (self->pipe, &self->terminated);
    if (!command)
        return;
    if (streq (command, "STATS")) {
        char text[400];
        snprintf (text, sizeof text,
                  "{\"batches\": %" PRIu64 ", \"queries\": %" PRIu64
                  ", \"failed_batches\": %" PRIu64 ", \"query_errors\": %" PRIu64
                  ", \"ready\": %s}",
                  self->batches, self->queries, self->failed_batches, self->query_errors,
                  self->predictor ? "true" : "false");
        zstr_send (self->pipe, text);
    } else
        rfk_log_warning (S_LOG, "RFK-MALFORMED pipe-command=%s", command);
    zstr_free (&command);
}

static void
s_flush_delayed (self_t *self)
{
    s_delayed_t *delayed;
    int64_t now = zclock_mono ();
    while ((delayed = (s_delayed_t *)zlistx_first (self->delayed)) && delayed->due <= now) {
        if (self->predictor)
            rfk_client_post (self->predictor, delayed->msg);
        zlistx_delete (self->delayed, zlistx_cursor (self->delayed));
    }
}

/*  Runs until $TERM or Stop; with stay_after_failure (the direct form) a
    failure does not end the loop. */
static void
s_run (self_t *self, bool stay_after_failure)
{
    while (!self->terminated && (!self->failure || stay_after_failure)) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        if (self->predictor) {
            rfk_deadline_add (&deadline, rfk_client_deadline (self->predictor));
            rfk_deadline_add (&deadline, self->next_ready);
        }
        if (self->session)
            rfk_deadline_add (&deadline, rfk_session_deadline (self->session));
        s_delayed_t *delayed = (s_delayed_t *)zlistx_first (self->delayed);
        if (delayed)
            rfk_deadline_add (&deadline, delayed->due);
        void *which = zpoller_wait (self->poller, rfk_deadline_timeout (&deadline));
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (self->predictor && which == rfk_client_sock (self->predictor))
            rfk_client_recv (self->predictor);
        else if (self->session && which == rfk_session_sock (self->session))
            rfk_session_recv (self->session);
        else if (zpoller_terminated (self->poller))
            break;
        if (self->predictor) {
            rfk_client_tick (self->predictor);
            if (zclock_mono () >= self->next_ready)
                s_send_ready (self);
        }
        if (self->session)
            rfk_session_tick (self->session);
        s_flush_delayed (self);
    }
}

/*  The standalone role form: everything from KEY=VALUE operands. */
static void
s_start_standalone (self_t *self, const rfk_role_args_t *role)
{
    static const char *const known[] = {"predictor", "template", "params", "knobs",
                                        "trial",     "task",     NULL};
    const char *unknown = rfk_role_unknown_operand (role, known);
    if (unknown) {
        rfk_log_failure (&self->failure, S_LOG,
                         "unknown operand '%s' (inference takes predictor=, template=, params=, "
                         "knobs=, trial=, task=)",
                         unknown);
        return;
    }
    json_t *knobs = NULL;
    const char *knobs_text = rfk_role_operand (role, "knobs");
    if (knobs_text) {
        json_error_t error;
        knobs = json_loads (knobs_text, 0, &error);
        if (!json_is_object (knobs)) {
            json_decref (knobs);
            rfk_log_failure (&self->failure, S_LOG, "knobs= must be a JSON object: %s", error.text);
            return;
        }
    }
    const char *trial = rfk_role_operand (role, "trial");
    self->trial_id = strdup (trial ? trial : "default");
    self->service_id = strdup ("inference");
    char err[1024] = "";
    if (s_load_model (self, rfk_role_operand (role, "template"), rfk_role_operand (role, "params"),
                      knobs, rfk_role_operand (role, "task"), err, sizeof err) == 0)
        s_connect (self, rfk_role_operand (role, "predictor"), err, sizeof err);
    json_decref (knobs);
    if (*err)
        rfk_log_failure (&self->failure, S_LOG, "%s", err);
}

/*  The service form: the session with admin brings the ServiceConfig. */
static void
s_start_session (self_t *self)
{
    const rfk_role_args_t *role = self->role;
    self->service_id = strdup (role->service_id ? role->service_id : "inference");
    self->trial_id = strdup ("default");
    rfk_session_args_t args = {.name = S_LOG,
                               .role = role,
                               .bus = &self->bus,
                               .on_config = s_on_config,
                               .ctx = self,
                               .stopped = &self->terminated,
                               .failure = &self->failure};
    if ((self->session = rfk_session_new (&args, NULL, 0)))
        zpoller_add (self->poller, rfk_session_sock (self->session));
}

void
rfk_inference_actor (zsock_t *pipe, void *args)
{
    const rfk_role_args_t *role = (const rfk_role_args_t *)args;
    self_t *self = s_self_new (pipe, role, 0);
    /*  Without a service id the worker runs on its own, from operands. */
    if (self && role && role->config && !role->service_id)
        s_start_standalone (self, role);
    else if (self)
        s_start_session (self);
    if (!rfk_role_ready (pipe, self))
        return;
    s_run (self, false); /* returns at once after a failure */
    rfk_session_leave (self->session, pipe, self->failure, false);
    s_self_destroy (&self);
}

/*  The direct form's state, set up from its arguments (borrowed until we
    signal); NULL when out of memory. */
static self_t *
s_direct_new (zsock_t *pipe, const rfk_inference_args_t *direct)
{
    self_t *self = s_self_new (pipe, NULL, direct ? direct->predict_timeout_ms : 0);
    if (!self || !direct) {
        if (self)
            rfk_log_failure (&self->failure, S_LOG, "no arguments");
        return self;
    }
    if (direct->bus)
        self->bus = *direct->bus;
    self->trial_id = strdup (direct->trial_id ? direct->trial_id : "default");
    self->service_id = strdup (direct->service_id ? direct->service_id : "inference");
    self->delay_ms = direct->delay_ms;
    char err[1024] = "";
    if (s_load_model (self, direct->model_path, direct->params_path, direct->knobs, direct->task,
                      err, sizeof err) != 0 ||
        s_connect (self, direct->predictor_endpoint, err, sizeof err) != 0)
        rfk_log_failure (&self->failure, S_LOG, "%s", err);
    return self;
}

void
rfk_inference_direct_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_direct_new (pipe, (const rfk_inference_args_t *)args);
    if (rfk_role_started (pipe, self, self ? self->failure : NULL))
        s_run (self, true); /* the direct form stays after a failure */
    s_self_destroy (&self);
}
