/*  rfk_predictor.c: the predictor actor (see rfk_predictor.h).

    One loop polls the pipe, the ROUTER `query`, the engine's ROUTER
    `workers`, libmicrohttpd's epoll descriptor and, in the service form, the
    session with admin (rfk_session), each registered once in a poll set
    (rfk_poll). Takes on `query`: PredictRequest; sends PredictReply, Error.
    The session takes admin's ServiceConfig and Stop and sends Hello and
    StatusReport (RUNNING with the endpoints bound). HTTP bodies are JSON, turned into msgpack once
   on the way in and back into JSON once on the way out (proto/rfk_mpjson);
    libmicrohttpd runs through http/rfk_http_daemon, as admin's front does.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "rfk_predictor.h"

#include <microhttpd.h>
#include <msgpack.h>

#include "rfk_bodies.h"
#include "rfk_client.h"
#include "rfk_config.h"
#include "rfk_curve.h"
#include "rfk_http_daemon.h"
#include "rfk_poll.h"
#include "rfk_session.h"
#include "rfk_log.h"
#include "rfk_mpjson.h"
#include "rfk_role.h"
#include "rfk_server.h"
#include "rfk_serving_keys.h"
#include "rfk_timer.h"

/*  A predictor started again binds the ports it had. Right after it died a
    port can still be taken for a moment: a client (a worker, an HTTP client)
    reconnecting to a port of the ephemeral range can be given that very
    port as its own and connect to itself (TCP simultaneous open), until it
    notices and closes. So a fixed port is tried again for a while; setup
    only, before the loop runs. */
#define S_REBIND_MS 10000     /* how long a fixed port is tried */
#define S_REBIND_PAUSE_MS 100 /* between tries */
#define S_LOG "predictor"
/* How deep a JSON query may nest. */
#define S_MAX_DEPTH 32
#define S_DEFAULT_BODY (16u * 1024u * 1024u)
#define S_HTTP_CONNECTIONS 4096

typedef struct s_http s_http_t;

typedef struct {
    zsock_t *pipe;               /* the actor's pipe */
    const rfk_role_args_t *role; /* role form: rafikid's arguments, else NULL */
    rfk_scatter_opts_t opts;     /* the engine's options */
    size_t max_body_bytes;       /* largest /predict body */
    int max_deadline_ms;         /* predictor.max_deadline_ms: longer deadlines are cut to it */
    unsigned http_per_address;   /* HTTP connections from one IP address (0: no cap) */
    unsigned http_timeout_s;     /* slow HTTP clients are cut after it (0: never) */
    rfk_scatter_t *scatter;      /* the engine, with the ROUTER `workers` */
    rfk_server_t *query;         /* the ROUTER `query`, or NULL */
    rfk_http_daemon_t *http;     /* the HTTP front, or NULL */
    char http_url[128];          /* "http://HOST:PORT" as bound */
    zlistx_t *suspended;         /* s_http_t waiting for the engine, not owned */
    zlistx_t *queries;           /* s_query_t waiting for the engine, owned */
    rfk_poll_t *poll;            /* the pipe, `query`, `workers`, HTTP, the session */
    rfk_session_t *session;      /* the conversation with admin, service form only */
    bool terminated;             /* $TERM or Stop */
    char *failure;               /* why we cannot serve, or NULL */
    uint64_t http_requests;      /* HTTP requests answered */
    uint64_t http_errors;        /* ... with a 4xx or 5xx */
    uint64_t zmq_requests;       /* PredictRequests answered */
    rfk_zap_t *workers_zap;      /* CURVE: `workers` admits its job's key only, or NULL */
    rfk_zap_t *query_zap;        /* CURVE: `query` admits any client key, or NULL */
    rfk_serving_keys_t *keys;    /* `auth: token`: the valid serving keys; else open */
} self_t;

/* An SDK request waiting for the engine. */
typedef struct {
    self_t *self;         /* the actor */
    zframe_t *routing_id; /* who asked, owned */
    uint64_t correlation; /* its request id */
    void *handle;         /* its place in self->queries */
} s_query_t;

typedef enum { S_ROUTE_PREDICT, S_ROUTE_HEALTHZ, S_ROUTE_METRICS, S_ROUTE_UNKNOWN } s_route_t;

/* One HTTP request, from its first byte to its response. */
struct s_http {
    self_t *self; /* the actor */
    struct MHD_Connection *connection;
    s_route_t route;               /* what was asked */
    bool method_ok;                /* the method fits the route */
    char *body;                    /* the body so far */
    size_t size, capacity;         /* its bytes, allocated */
    bool too_large;                /* the body went over max_body_bytes */
    bool unauthorized;             /* a /predict without a valid serving key: 401 */
    bool single;                   /* {"query": q} rather than {"queries": [...]} */
    uint64_t request;              /* the engine's request id while suspended, else 0 */
    void *handle;                  /* its place in self->suspended */
    struct MHD_Response *response; /* ready to queue once resumed */
    unsigned int status;           /* its status */
};

/* ---------------------------------------------------------------------- */
/* HTTP responses */

static struct MHD_Response *
s_json_response (json_t *json)
{
    char *text = json ? json_dumps (json, JSON_COMPACT) : NULL;
    json_decref (json);
    if (!text)
        return NULL;
    struct MHD_Response *response =
        MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return NULL;
    }
    MHD_add_response_header (response, "Content-Type", "application/json");
    return response;
}

static void
s_http_set (s_http_t *http, unsigned int status, struct MHD_Response *response)
{
    if (http->response)
        MHD_destroy_response (http->response);
    http->response = response;
    http->status = status;
}

/*  An error response: {"error": {"code", "message"}}. */
static void
s_http_error (s_http_t *http, rfk_code_t code, const char *format, ...)
{
    char message[600];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    /*  UNKNOWN_MESSAGE stands here for a method the path does not take:
        405, with the code BAD_REQUEST. */
    bool method = code == RFK_CODE_UNKNOWN_MESSAGE;
    json_t *json =
        json_pack ("{s:{s:s,s:s}}", "error", "code",
                   rfk_code_name (method ? RFK_CODE_BAD_REQUEST : code), "message", message);
    unsigned int status = method ? 405u : (unsigned int)rfk_code_http_status (code);
    s_http_set (http, status, s_json_response (json));
}

static enum MHD_Result
s_http_queue (s_http_t *http)
{
    self_t *self = http->self;
    self->http_requests++;
    if (http->status >= 400)
        self->http_errors++;
    if (!http->response)
        return MHD_NO; /* out of memory: close the connection */
    if (http->status == 405)
        MHD_add_response_header (http->response, "Allow",
                                 http->route == S_ROUTE_PREDICT ? "POST" : "GET");
    /*  The web admin's query box posts from admin's origin (CORS). */
    MHD_add_response_header (http->response, "Access-Control-Allow-Origin", "*");
    enum MHD_Result rc = MHD_queue_response (http->connection, http->status, http->response);
    MHD_destroy_response (http->response);
    http->response = NULL;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* the engine's answers */

/*  When the first prediction of data (a msgpack array) is a per-query error
    (an ext of type 1, RAFIKI_MSGPACK_EXT_ERROR, as templates write them),
    its text (to free); else NULL. A map that merely has an "error" key is a
    prediction like any other. */
static char *
s_first_error (const void *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char *why = NULL;
    if (msgpack_unpack_next (&unpacked, (const char *)data, size, NULL) == MSGPACK_UNPACK_SUCCESS &&
        unpacked.data.type == MSGPACK_OBJECT_ARRAY && unpacked.data.via.array.size > 0) {
        const msgpack_object *first = &unpacked.data.via.array.ptr[0];
        if (first->type == MSGPACK_OBJECT_EXT && first->via.ext.type == 1)
            why = strndup (first->via.ext.ptr,
                           first->via.ext.size < 1000 ? first->via.ext.size : 1000);
    }
    msgpack_unpacked_destroy (&unpacked);
    return why;
}

/*  The engine ended an HTTP request: make its response and resume it. A
    single query ({"query": q}) that the models refused is the request's own
    fault: 400 with their reason (504 when none answered in time); in a
    batch, each refused query keeps its {"error": why} in its place. */
static void
s_http_done (rfk_scatter_t *scatter, uint64_t request, const rfk_scatter_result_t *result,
             void *arg)
{
    (void)scatter;
    (void)request;
    s_http_t *http = (s_http_t *)arg;
    self_t *self = http->self;
    http->request = 0;
    char *refused = result->code == RFK_CODE_OK && http->single
                        ? s_first_error (result->data, result->size)
                        : NULL;
    if (result->code != RFK_CODE_OK)
        s_http_error (http, result->code, "%s", result->message ? result->message : "failed");
    else if (refused)
        s_http_error (http, result->members_answered ? RFK_CODE_BAD_REQUEST : RFK_CODE_TIMEOUT,
                      "the query %s: %s",
                      result->members_answered ? "was refused by the models"
                                               : "was not answered in time",
                      refused);
    else {
        json_t *json = NULL;
        json_t *list = rfk_mpjson_unpack (result->data, result->size);
        if (json_is_array (list)) {
            if (http->single)
                json = json_pack ("{s:o,s:[]}", "prediction",
                                  json_incref (json_array_get (list, 0)), "predictions");
            else
                json = json_pack ("{s:n,s:o}", "prediction", "predictions", json_incref (list));
        }
        json_decref (list);
        struct MHD_Response *response = s_json_response (json);
        if (response) {
            char number[16];
            snprintf (number, sizeof number, "%u", result->members);
            MHD_add_response_header (response, "X-Rafiki-Members", number);
            snprintf (number, sizeof number, "%u", result->members_answered);
            MHD_add_response_header (response, "X-Rafiki-Members-Answered", number);
        }
        s_http_set (http, MHD_HTTP_OK, response);
    }
    free (refused);
    if (http->handle) {
        zlistx_delete (self->suspended, http->handle);
        http->handle = NULL;
    }
    rfk_http_daemon_resume (self->http, http->connection);
}

static void
s_query_free (void **item_p)
{
    s_query_t *query = (s_query_t *)*item_p;
    if (query) {
        zframe_destroy (&query->routing_id);
        free (query);
        *item_p = NULL;
    }
}

/*  The engine ended an SDK request: answer it. */
static void
s_query_done (rfk_scatter_t *scatter, uint64_t request, const rfk_scatter_result_t *result,
              void *arg)
{
    (void)scatter;
    (void)request;
    s_query_t *query = (s_query_t *)arg;
    self_t *self = query->self;
    if (result->code != RFK_CODE_OK)
        rfk_server_send_error (self->query, query->routing_id, query->correlation, result->code,
                               result->message ? result->message : "failed");
    else {
        rfk_msg_t *reply = rfk_msg_new (&rfk_infer_family, "PredictReply", query->correlation);
        if (reply) {
            rfk_msg_set_data (reply, result->data, result->size);
            json_object_set_new (reply->body, "members", json_integer (result->members));
            json_object_set_new (reply->body, "members_answered",
                                 json_integer (result->members_answered));
            if (rfk_server_send (self->query, query->routing_id, reply) != 0)
                rfk_log_warning (S_LOG, "reply-dropped correlation=%" PRIu64, query->correlation);
        }
        rfk_msg_destroy (&reply);
    }
    self->zmq_requests++;
    zlistx_delete (self->queries, query->handle);
}

static int
s_handle_predict_request (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    self_t *self = (self_t *)ctx;
    rfk_msg_t *msg = *msg_p;
    if (!rfk_serving_keys_allow (self->keys,
                                 json_string_value (json_object_get (msg->body, "key")))) {
        rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_UNAUTHORIZED,
                               "this inference job takes queries with a serving key only "
                               "(PredictRequest.key); none or an invalid one was given");
        self->zmq_requests++;
        return 0;
    }
    json_t *deadline = json_object_get (msg->body, "deadline_ms");
    int deadline_ms = json_is_integer (deadline) ? (int)json_integer_value (deadline) : 0;
    if (deadline_ms < 0 || deadline_ms > 600000)
        deadline_ms = 0;
    if (deadline_ms > self->max_deadline_ms)
        deadline_ms = self->max_deadline_ms;
    s_query_t *query = (s_query_t *)zmalloc (sizeof (s_query_t));
    if (!query)
        return -1;
    query->self = self;
    query->routing_id = zframe_dup (peer);
    query->correlation = msg->correlation;
    char err[300];
    rfk_code_t code = RFK_CODE_INTERNAL;
    uint64_t id = 0;
    if (!msg->data)
        snprintf (err, sizeof err, "PredictRequest has no data (a msgpack array of queries)"),
            code = RFK_CODE_BAD_REQUEST;
    else
        id = rfk_scatter_submit (self->scatter, zchunk_data (msg->data), zchunk_size (msg->data),
                                 deadline_ms, s_query_done, query, &code, err, sizeof err);
    if (!id) {
        rfk_server_send_error (server, peer, msg->correlation, code, err);
        s_query_free ((void **)&query);
        self->zmq_requests++;
        return 0;
    }
    query->handle = zlistx_add_end (self->queries, query);
    return 0;
}

static const rfk_server_route_t s_query_routes[] = {
    {"PredictRequest", s_handle_predict_request},
    {NULL, NULL},
};

/* ---------------------------------------------------------------------- */
/* HTTP requests */

/*  A /predict's own deadline: ?deadline_ms=N, else "deadline_ms" in the
    body; 0 when neither, -1 when it is not an integer. */
static long
s_http_deadline (s_http_t *http, const json_t *body)
{
    const char *text =
        MHD_lookup_connection_value (http->connection, MHD_GET_ARGUMENT_KIND, "deadline_ms");
    json_t *deadline = json_object_get (body, "deadline_ms");
    if (text) {
        char *end = NULL;
        long deadline_ms = strtol (text, &end, 10);
        return !*text || *end ? -1 : deadline_ms;
    }
    if (deadline)
        return json_is_integer (deadline) ? (long)json_integer_value (deadline) : -1;
    return 0;
}

/*  Parses a /predict body into msgpack and submits it; on an error the
    response is set and 0 returned; 1 when the request is out. */
static int
s_http_submit (s_http_t *http)
{
    self_t *self = http->self;
    if (http->too_large) {
        s_http_error (http, RFK_CODE_TOO_LARGE, "the body is over the limit of %zu bytes",
                      self->max_body_bytes);
        return 0;
    }
    if (http->size == 0) {
        s_http_error (http, RFK_CODE_BAD_REQUEST,
                      "the body is empty; send {\"query\": q} or {\"queries\": [q, ...]}");
        return 0;
    }
    json_error_t error;
    json_t *body = json_loadb (http->body, http->size, JSON_REJECT_DUPLICATES, &error);
    if (!body) {
        s_http_error (http, RFK_CODE_BAD_REQUEST, "the body is not JSON: %s (line %d, column %d)",
                      error.text, error.line, error.column);
        return 0;
    }
    int rc = 0;
    json_t *query = json_object_get (body, "query");
    json_t *queries = json_object_get (body, "queries");
    long deadline_ms = s_http_deadline (http, body);
    if (deadline_ms > self->max_deadline_ms && deadline_ms <= 600000)
        deadline_ms = self->max_deadline_ms;
    const char *key;
    json_t *value;
    const char *unknown = NULL;
    if (json_is_object (body))
        json_object_foreach (body, key, value) if (!streq (key, "query") &&
                                                   !streq (key, "queries") &&
                                                   !streq (key, "deadline_ms")) unknown = key;
    if (!json_is_object (body))
        s_http_error (http, RFK_CODE_BAD_REQUEST,
                      "the body must be a JSON object: {\"query\": q} or {\"queries\": [q, ...]}");
    else if (unknown)
        s_http_error (http, RFK_CODE_BAD_REQUEST,
                      "unknown field `%s`; send {\"query\": q} or {\"queries\": [q, ...]}",
                      unknown);
    else if ((query != NULL) == (queries != NULL))
        s_http_error (http, RFK_CODE_BAD_REQUEST, "give exactly one of `query` and `queries`");
    else if (queries && (!json_is_array (queries) || json_array_size (queries) == 0))
        s_http_error (http, RFK_CODE_BAD_REQUEST, "`queries` must be a non-empty array");
    else if (query && json_is_null (query))
        s_http_error (http, RFK_CODE_BAD_REQUEST, "`query` must not be null");
    else if (deadline_ms < 0 || deadline_ms > 600000)
        s_http_error (http, RFK_CODE_BAD_REQUEST,
                      "`deadline_ms` must be an integer from 1 to 600000 (milliseconds)");
    else {
        /*  A single query is packed as an array of one. */
        json_t *wrapped = query ? json_pack ("[O]", query) : json_incref (queries);
        size_t size = 0;
        void *packed = wrapped ? rfk_mpjson_pack (wrapped, S_MAX_DEPTH, &size) : NULL;
        json_decref (wrapped);
        if (!packed)
            s_http_error (http, RFK_CODE_BAD_REQUEST, "a query nests deeper than %d levels",
                          S_MAX_DEPTH);
        else {
            char err[300];
            rfk_code_t code = RFK_CODE_INTERNAL;
            http->single = query != NULL;
            http->request = rfk_scatter_submit (self->scatter, packed, size, (int)deadline_ms,
                                                s_http_done, http, &code, err, sizeof err);
            if (http->request)
                rc = 1;
            else
                s_http_error (http, code, "%s", err);
        }
        free (packed);
    }
    json_decref (body);
    return rc;
}

static void
s_http_metrics (s_http_t *http)
{
    self_t *self = http->self;
    rfk_scatter_stats_t stats;
    rfk_scatter_stats (self->scatter, &stats);
    char *text = NULL;
    int length = asprintf (
        &text,
        "# HELP rafiki_predictor_requests_total Requests accepted by the engine.\n"
        "# TYPE rafiki_predictor_requests_total counter\n"
        "rafiki_predictor_requests_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_queries_total counter\n"
        "rafiki_predictor_queries_total %" PRIu64 "\n"
        "# HELP rafiki_predictor_refused_total Requests refused at once (overload, no worker).\n"
        "# TYPE rafiki_predictor_refused_total counter\n"
        "rafiki_predictor_refused_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_batches_total counter\n"
        "rafiki_predictor_batches_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_batches_resent_total counter\n"
        "rafiki_predictor_batches_resent_total %" PRIu64 "\n"
        "# HELP rafiki_predictor_late_answers_total Answers dropped after their deadline.\n"
        "# TYPE rafiki_predictor_late_answers_total counter\n"
        "rafiki_predictor_late_answers_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_member_errors_total counter\n"
        "rafiki_predictor_member_errors_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_deadline_expired_total counter\n"
        "rafiki_predictor_deadline_expired_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_workers_lost_total counter\n"
        "rafiki_predictor_workers_lost_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_inflight_queries gauge\n"
        "rafiki_predictor_inflight_queries %zu\n"
        "# TYPE rafiki_predictor_workers gauge\n"
        "rafiki_predictor_workers %zu\n"
        "# TYPE rafiki_predictor_trials gauge\n"
        "rafiki_predictor_trials %zu\n"
        "# TYPE rafiki_predictor_http_requests_total counter\n"
        "rafiki_predictor_http_requests_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_http_errors_total counter\n"
        "rafiki_predictor_http_errors_total %" PRIu64 "\n"
        "# TYPE rafiki_predictor_zmq_requests_total counter\n"
        "rafiki_predictor_zmq_requests_total %" PRIu64 "\n",
        stats.requests, stats.queries, stats.refused, stats.batches, stats.resent, stats.late,
        stats.member_errors, stats.timeouts, stats.workers_lost, stats.inflight, stats.workers,
        stats.trials, self->http_requests, self->http_errors, self->zmq_requests);
    struct MHD_Response *response =
        length >= 0 ? MHD_create_response_from_buffer ((size_t)length, text, MHD_RESPMEM_MUST_FREE)
                    : NULL;
    if (response)
        MHD_add_response_header (response, "Content-Type", "text/plain; version=0.0.4");
    else if (length >= 0)
        free (text);
    s_http_set (http, MHD_HTTP_OK, response);
}

/*  Keeps a piece of a /predict body; past max_body_bytes the rest is read
    and dropped, so memory stays flat. 0, or -1 out of memory. */
static int
s_http_append (s_http_t *http, const char *data, size_t more)
{
    self_t *self = http->self;
    if (http->route != S_ROUTE_PREDICT || !http->method_ok || http->too_large || http->unauthorized)
        return 0;
    if (http->size + more > self->max_body_bytes) {
        http->too_large = true;
        free (http->body);
        http->body = NULL;
        http->size = http->capacity = 0;
        return 0;
    }
    if (http->size + more > http->capacity) {
        size_t capacity = http->capacity ? http->capacity : 1024;
        while (capacity < http->size + more)
            capacity *= 2;
        char *body = (char *)realloc (http->body, capacity);
        if (!body)
            return -1;
        http->body = body;
        http->capacity = capacity;
    }
    memcpy (http->body + http->size, data, more);
    http->size += more;
    return 0;
}

static enum MHD_Result
s_http_handler (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                const char *version, const char *upload_data, size_t *upload_data_size,
                void **con_cls)
{
    (void)version;
    self_t *self = (self_t *)cls;
    s_http_t *http = (s_http_t *)*con_cls;
    if (!http) {
        http = (s_http_t *)zmalloc (sizeof (s_http_t));
        if (!http)
            return MHD_NO;
        http->self = self;
        http->connection = connection;
        if (streq (url, "/predict")) {
            http->route = S_ROUTE_PREDICT, http->method_ok = streq (method, "POST");
            http->unauthorized =
                http->method_ok &&
                !rfk_serving_keys_allow (self->keys,
                                         rfk_serving_key_from_bearer (MHD_lookup_connection_value (
                                             connection, MHD_HEADER_KIND, "Authorization")));
        } else if (streq (url, "/healthz"))
            http->route = S_ROUTE_HEALTHZ, http->method_ok = streq (method, "GET");
        else if (streq (url, "/metrics"))
            http->route = S_ROUTE_METRICS, http->method_ok = streq (method, "GET");
        else
            http->route = S_ROUTE_UNKNOWN;
        *con_cls = http;
        return MHD_YES;
    }
    if (http->response)
        return s_http_queue (http); /* resumed with its answer */
    if (*upload_data_size > 0) {
        if (s_http_append (http, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (http->request)
        return MHD_YES; /* still out (a spurious call while suspended) */
    if (http->route != S_ROUTE_UNKNOWN && streq (method, "OPTIONS")) {
        /*  A CORS preflight: say what the path takes. */
        struct MHD_Response *response =
            MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (response) {
            const char *allowed = http->route == S_ROUTE_PREDICT ? "POST, OPTIONS" : "GET, OPTIONS";
            MHD_add_response_header (response, "Allow", allowed);
            MHD_add_response_header (response, "Access-Control-Allow-Methods", allowed);
            MHD_add_response_header (response, "Access-Control-Allow-Headers",
                                     "Content-Type, Authorization");
            MHD_add_response_header (response, "Access-Control-Max-Age", "86400");
        }
        s_http_set (http, MHD_HTTP_NO_CONTENT, response);
    } else if (http->route == S_ROUTE_UNKNOWN)
        s_http_error (http, RFK_CODE_NOT_FOUND,
                      "no such path: %s (the predictor serves POST /predict, GET /healthz, "
                      "GET /metrics)",
                      url);
    else if (!http->method_ok)
        s_http_error (http, RFK_CODE_UNKNOWN_MESSAGE, "%s takes %s, not %s", url,
                      http->route == S_ROUTE_PREDICT ? "POST" : "GET", method);
    else if (http->route == S_ROUTE_HEALTHZ) {
        rfk_scatter_stats_t stats;
        rfk_scatter_stats (self->scatter, &stats);
        s_http_set (http, MHD_HTTP_OK,
                    s_json_response (json_pack ("{s:s,s:I,s:I}", "status", "ok", "workers",
                                                (json_int_t)stats.workers, "trials",
                                                (json_int_t)stats.trials)));
    } else if (http->route == S_ROUTE_METRICS)
        s_http_metrics (http);
    else if (http->unauthorized) {
        s_http_error (http, RFK_CODE_UNAUTHORIZED,
                      "this inference job takes queries with a serving key only: send the "
                      "header `Authorization: Bearer KEY` (none or an invalid one was given)");
        if (http->response)
            MHD_add_response_header (http->response, "WWW-Authenticate", "Bearer");
    } else if (s_http_submit (http) == 1) {
        http->handle = zlistx_add_end (self->suspended, http);
        rfk_http_daemon_suspend (self->http, connection);
        return MHD_YES;
    }
    return s_http_queue (http);
}

static void
s_http_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                  enum MHD_RequestTerminationCode code)
{
    (void)connection;
    (void)code;
    self_t *self = (self_t *)cls;
    s_http_t *http = (s_http_t *)*con_cls;
    if (!http)
        return;
    if (http->request)
        rfk_scatter_cancel (self->scatter, http->request);
    if (http->handle)
        zlistx_delete (self->suspended, http->handle);
    if (http->response)
        MHD_destroy_response (http->response);
    free (http->body);
    free (http);
    *con_cls = NULL;
}

/*  Starts the HTTP front on "[http://]HOST:PORT" (PORT 0 or *: any). 0, or
    -1 with err. */
static int
s_http_start (self_t *self, const char *address, char *err, size_t errlen)
{
    char host[64];
    int port = 0;
    if (rfk_http_daemon_parse_address (address, host, sizeof host, &port, err, errlen) != 0)
        return -1;
    rfk_http_daemon_opts_t opts = {.host = host,
                                   .port = port,
                                   .max_connections = S_HTTP_CONNECTIONS,
                                   .connection_timeout_s = 120,
                                   .listen_backlog = 1024,
                                   .turbo = true,
                                   .access = s_http_handler,
                                   .completed = s_http_completed,
                                   .cls = self,
                                   .log = S_LOG,
                                   .quiet = true,
                                   .max_per_address = self->http_per_address,
                                   .read_timeout_s = self->http_timeout_s};
    char why[256];
    int64_t until = zclock_mono () + (port ? S_REBIND_MS : 0);
    while (!(self->http = rfk_http_daemon_new (&opts, why, sizeof why)) && zclock_mono () < until)
        zclock_sleep (S_REBIND_PAUSE_MS); //  see S_REBIND_MS
    if (!self->http) {
        snprintf (err, errlen, "cannot serve HTTP on %s: %s", address, why);
        return -1;
    }
    snprintf (self->http_url, sizeof self->http_url, "http://%s:%d",
              !*host || streq (host, "*") ? "0.0.0.0" : host, rfk_http_daemon_port (self->http));
    return 0;
}

/*  Ends every suspended request with 503 and stops the HTTP front. */
static void
s_http_stop (self_t *self)
{
    if (!self->http)
        return;
    s_http_t *http;
    while ((http = (s_http_t *)zlistx_first (self->suspended))) {
        if (http->request)
            rfk_scatter_cancel (self->scatter, http->request);
        http->request = 0;
        s_http_error (http, RFK_CODE_UNAVAILABLE, "the predictor is stopping");
        zlistx_delete (self->suspended, http->handle);
        http->handle = NULL;
        rfk_http_daemon_resume (self->http, http->connection);
    }
    for (int turn = 0; turn < 3; turn++)
        rfk_http_daemon_run (self->http);
    rfk_http_daemon_destroy (&self->http);
}

/* ---------------------------------------------------------------------- */
/* setup */

/*  Leaving with SDK queries in flight (the job was stopped, or one of its
    workers failed): each is answered UNAVAILABLE now, rather than left to
    wait out its client's timeout for an answer that cannot come. The
    engine keeps no pointer to them once destroyed (it calls nobody). */
static void
s_refuse_pending (self_t *self)
{
    s_query_t *query;
    while (self->query && (query = (s_query_t *)zlistx_first (self->queries))) {
        rfk_server_send_error (self->query, query->routing_id, query->correlation,
                               RFK_CODE_UNAVAILABLE,
                               "the predictor stopped before the query was answered");
        self->zmq_requests++;
        zlistx_delete (self->queries, query->handle);
    }
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    s_refuse_pending (self);
    rfk_session_destroy (&self->session);
    s_http_stop (self);
    rfk_scatter_destroy (&self->scatter);
    rfk_server_destroy (&self->query);
    rfk_zap_destroy (&self->workers_zap);
    rfk_zap_destroy (&self->query_zap);
    rfk_serving_keys_destroy (&self->keys);
    rfk_poll_destroy (&self->poll);
    zlistx_destroy (&self->queries);
    zlistx_destroy (&self->suspended);
    free (self->failure);
    free (self);
    *self_p = NULL;
}

static self_t *
s_self_new (zsock_t *pipe, const rfk_role_args_t *role)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    if (!self)
        return NULL;
    *self = (self_t){.pipe = pipe,
                     .role = role,
                     .max_body_bytes = S_DEFAULT_BODY,
                     .max_deadline_ms = 600000,
                     .suspended = zlistx_new (),
                     .queries = zlistx_new (),
                     .keys = rfk_serving_keys_new (),
                     .poll = rfk_poll_new (pipe, NULL)};
    rfk_scatter_opts_defaults (&self->opts);
    if (!self->suspended || !self->queries || !self->poll || !self->keys)
        s_self_destroy (&self);
    else
        zlistx_set_destructor (self->queries, s_query_free);
    return self;
}

/*  Binds the three fronts and declares the trials. 0, or -1 with err. */
static int
s_bind (self_t *self, const char *http, const char *query, const char *workers,
        const json_t *trials, char *err, size_t errlen)
{
    if (!workers || !*workers) {
        snprintf (err, errlen, "no endpoint for the workers' socket");
        return -1;
    }
    /*  With the keys admin sent: both sockets serve with the job's keypair;
        `workers` admits only the job's inference workers, `query` any client
        (clients pin the job's public key from admin). */
    const char *keys = self->role ? self->role->curve : NULL;
    rfk_scatter_opts_t workers_opts = self->opts;
    rfk_bus_opts_t query_opts = self->opts.bus;
    if (rfk_curve_group_server (&workers_opts.bus, keys, "predictor-workers", false,
                                &self->workers_zap) != 0 ||
        rfk_curve_group_server (&query_opts, keys, "predictor-query", true, &self->query_zap) !=
            0) {
        snprintf (err, errlen, "the bus keys from the launcher are malformed");
        return -1;
    }
    int64_t until = zclock_mono () + (strchr (workers, '*') ? 0 : S_REBIND_MS);
    while (!(self->scatter = rfk_scatter_new (workers, &workers_opts)) && zclock_mono () < until)
        zclock_sleep (S_REBIND_PAUSE_MS); //  see S_REBIND_MS
    explicit_bzero (workers_opts.bus.curve_secret, sizeof workers_opts.bus.curve_secret);
    if (!self->scatter) {
        snprintf (err, errlen, "cannot bind the workers' socket to %s", workers);
        return -1;
    }
    size_t index;
    json_t *trial;
    json_array_foreach (trials, index, trial)
    {
        const char *id = json_is_string (trial)
                             ? json_string_value (trial)
                             : json_string_value (json_object_get (trial, "trial_id"));
        if (id && *id)
            rfk_scatter_expect_trial (self->scatter, id);
    }
    if (query && *query) {
        until = zclock_mono () + (strchr (query, '*') ? 0 : S_REBIND_MS);
        while (!(self->query = rfk_server_new (query, &rfk_infer_family, s_query_routes, self,
                                               &query_opts)) &&
               zclock_mono () < until)
            zclock_sleep (S_REBIND_PAUSE_MS); //  see S_REBIND_MS
        if (!self->query) {
            snprintf (err, errlen, "cannot bind the query socket to %s", query);
            return -1;
        }
    }
    explicit_bzero (query_opts.curve_secret, sizeof query_opts.curve_secret);
    if (http && *http && s_http_start (self, http, err, errlen) != 0)
        return -1;
    rfk_log_info (
        S_LOG,
        "serving http=%s query=%s workers=%s trials=%zu max_batch=%d "
        "batch_window_us=%d deadline_ms=%d max_inflight=%d",
        self->http ? self->http_url : "-", self->query ? rfk_server_endpoint (self->query) : "-",
        rfk_scatter_endpoint (self->scatter), json_array_size (trials), self->opts.max_batch,
        self->opts.batch_window_us, self->opts.deadline_ms, self->opts.max_inflight);
    return 0;
}

/*  Binds the fronts (s_bind) and registers what was bound in the poll
    set, once. 0, or -1 with err. */
static int
s_start (self_t *self, const char *http, const char *query, const char *workers,
         const json_t *trials, char *err, size_t errlen)
{
    int rc = s_bind (self, http, query, workers, trials, err, errlen);
    if (self->scatter)
        rfk_poll_add (self->poll, rfk_scatter_sock (self->scatter));
    if (self->query)
        rfk_poll_add (self->poll, rfk_server_sock (self->query));
    if (self->http)
        rfk_poll_add_fd (self->poll, rfk_http_daemon_fd (self->http), self->http);
    return rc;
}

/*  "http=... query=... workers=..." */
static void
s_endpoints_line (self_t *self, char *line, size_t size)
{
    snprintf (line, size, "http=%s query=%s workers=%s", self->http ? self->http_url : "-",
              self->query ? rfk_server_endpoint (self->query) : "-",
              self->scatter ? rfk_scatter_endpoint (self->scatter) : "-");
}

/* ---------------------------------------------------------------------- */
/* serving keys */

/*  Takes admin's word on the serving keys: whether they are required
    ("token" or "open", NULL: unchanged) and the valid hashes. 0, or -1 with
    err (nothing changed). */
static int
s_serving_keys_apply (self_t *self, const char *auth, const json_t *hashes, char *err,
                      size_t errlen)
{
    if (auth && !streq (auth, "token") && !streq (auth, "open")) {
        snprintf (err, errlen, "auth must be \"token\" or \"open\", not \"%s\"", auth);
        return -1;
    }
    if (rfk_serving_keys_set (self->keys, hashes) != 0) {
        snprintf (err, errlen, "serving_keys must be an array of at most %d key hashes",
                  RFK_SERVING_KEYS_MAX);
        return -1;
    }
    if (auth)
        rfk_serving_keys_require (self->keys, streq (auth, "token"));
    rfk_log_info (S_LOG, "serving-keys auth=%s keys=%zu",
                  rfk_serving_keys_required (self->keys) ? "token" : "open",
                  rfk_serving_keys_count (self->keys));
    return 0;
}

/*  The pipe's SERVING-KEYS, then a message AUTH HASH...: as admin's
    ServingKeys (the direct form's tests); answers "OK" or the reason. */
static void
s_handle_serving_keys_command (self_t *self)
{
    zmsg_t *rest = zmsg_recv (self->pipe);
    char *auth = rest ? zmsg_popstr (rest) : NULL;
    json_t *hashes = json_array ();
    char *hash;
    while (rest && (hash = zmsg_popstr (rest))) {
        json_array_append_new (hashes, json_string (hash));
        zstr_free (&hash);
    }
    char err[200] = "OK";
    s_serving_keys_apply (self, auth, hashes, err, sizeof err);
    zstr_send (self->pipe, err);
    json_decref (hashes);
    zstr_free (&auth);
    zmsg_destroy (&rest);
}

/* ---------------------------------------------------------------------- */
/* the loop */

static void
s_handle_pipe (self_t *self)
{
    char *command = rfk_role_command (self->pipe, &self->terminated);
    if (!command)
        return;
    if (streq (command, "ENDPOINTS"))
        zstr_sendx (self->pipe, self->http ? self->http_url : "",
                    self->query ? rfk_server_endpoint (self->query) : "",
                    self->scatter ? rfk_scatter_endpoint (self->scatter) : "", NULL);
    else if (streq (command, "SERVING-KEYS"))
        s_handle_serving_keys_command (self);
    else if (streq (command, "STATS")) {
        rfk_scatter_stats_t stats = {0};
        if (self->scatter)
            rfk_scatter_stats (self->scatter, &stats);
        char text[800];
        snprintf (text, sizeof text,
                  "{\"requests\": %" PRIu64 ", \"queries\": %" PRIu64 ", \"refused\": %" PRIu64
                  ", \"batches\": %" PRIu64 ", \"batch_sends\": %" PRIu64 ", \"resent\": %" PRIu64
                  ", \"answers\": %" PRIu64 ", \"late\": %" PRIu64 ", \"member_errors\": %" PRIu64
                  ", \"timeouts\": %" PRIu64 ", \"workers_lost\": %" PRIu64
                  ", \"inflight\": %zu, \"workers\": %zu"
                  ", \"trials\": %zu, \"http_requests\": %" PRIu64 ", \"suspended\": %zu"
                  ", \"zmq_requests\": %" PRIu64 "}",
                  stats.requests, stats.queries, stats.refused, stats.batches, stats.batch_sends,
                  stats.resent, stats.answers, stats.late, stats.member_errors, stats.timeouts,
                  stats.workers_lost, stats.inflight, stats.workers, stats.trials,
                  self->http_requests, zlistx_size (self->suspended), self->zmq_requests);
        zstr_send (self->pipe, text);
    } else
        rfk_log_warning (S_LOG, "RFK-MALFORMED pipe-command=%s", command);
    zstr_free (&command);
}

/*  The poll's timeout: the nearest of the engine's, the servers' and
    libmicrohttpd's deadlines (0 when a resumed connection waits). */
static int
s_timeout (self_t *self)
{
    rfk_deadline_t deadline;
    rfk_deadline_reset (&deadline);
    if (self->scatter)
        rfk_deadline_add (&deadline, rfk_scatter_deadline (self->scatter));
    if (self->query)
        rfk_deadline_add (&deadline, rfk_server_deadline (self->query));
    if (self->session)
        rfk_deadline_add (&deadline, rfk_session_deadline (self->session));
    long http_timeout = self->http ? rfk_http_daemon_timeout_ms (self->http) : -1;
    if (http_timeout >= 0)
        rfk_deadline_add (&deadline, zclock_mono () + http_timeout);
    return rfk_deadline_timeout (&deadline);
}

/*  One wake serves every socket that was ready, answers before new
    queries, and then ticks once: the engine sends the open batch (when its
    worker is idle again) with the queries that arrived beside the answers,
    and one zmq_poll serves both busy sockets. */
static void
s_run (self_t *self, bool stay_after_failure)
{
    while (!self->terminated && (!self->failure || stay_after_failure)) {
        void *which = rfk_poll_wait (self->poll, s_timeout (self));
        if (!which && rfk_poll_terminated (self->poll))
            break;
        if (rfk_poll_ready (self->poll, self->pipe))
            s_handle_pipe (self);
        if (self->scatter && rfk_poll_ready (self->poll, rfk_scatter_sock (self->scatter)))
            rfk_scatter_recv (self->scatter);
        if (self->query && rfk_poll_ready (self->poll, rfk_server_sock (self->query)))
            rfk_server_recv (self->query);
        if (self->session && rfk_poll_ready (self->poll, rfk_session_sock (self->session)))
            rfk_session_recv (self->session);
        if (self->http && (rfk_poll_ready (self->poll, self->http) ||
                           rfk_http_daemon_timeout_ms (self->http) == 0))
            rfk_http_daemon_run (self->http);
        if (self->scatter)
            rfk_scatter_tick (self->scatter);
        if (self->query)
            rfk_server_tick (self->query);
        if (self->session)
            rfk_session_tick (self->session);
        /*  Answers the tick completed resume connections: send them now. */
        if (self->http && rfk_http_daemon_due (self->http))
            rfk_http_daemon_run (self->http);
    }
}

/* ---------------------------------------------------------------------- */
/* the forms */

static void
s_opts_from_config (rfk_scatter_opts_t *opts, size_t *max_body, const rfk_config_t *config)
{
    rfk_scatter_opts_defaults (opts);
    opts->max_batch = (int)rfk_config_int (config, "predictor", "max_batch");
    opts->batch_window_us = (int)rfk_config_int (config, "predictor", "batch_window_us");
    opts->deadline_ms = (int)rfk_config_int (config, "predictor", "deadline_ms");
    opts->max_inflight = (int)rfk_config_int (config, "predictor", "max_inflight");
    *max_body = (size_t)rfk_config_size (config, "predictor", "max_body_bytes");
    rfk_bus_opts_from_config (&opts->bus, config);
}

/*  admin's ServiceConfig: bind [http, query, workers] and report RUNNING
    with what was bound. */
static int
s_on_config (rfk_session_t *session, const rfk_service_config_t *config, void *ctx, char *err,
             size_t errlen)
{
    self_t *self = (self_t *)ctx;
    if (config->bind_endpoint_count != 3) {
        snprintf (err, errlen, "the ServiceConfig must give bind_endpoints [http, query, workers]");
        return -1;
    }
    self->opts.ensemble = rfk_ensemble_of_task (config->task);
    const char *auth = json_string_value (json_object_get (config->config, "auth"));
    if (s_serving_keys_apply (self, auth ? auth : "open",
                              json_object_get (config->config, "serving_keys"), err, errlen) != 0)
        return -1;
    const char *const *binds = config->bind_endpoints;
    if (s_start (self, binds[0], binds[1], binds[2], config->trials, err, errlen) != 0)
        return -1;
    const char *endpoints[] = {self->http ? self->http_url : "",
                               self->query ? rfk_server_endpoint (self->query) : "",
                               rfk_scatter_endpoint (self->scatter), NULL};
    char line[600];
    s_endpoints_line (self, line, sizeof line);
    rfk_session_running (session, line, endpoints);
    return 0;
}

/*  admin's ServingKeys: the valid keys from now on. */
static int
s_on_admin_message (rfk_session_t *session, const rfk_msg_t *msg, void *ctx, char *err,
                    size_t errlen)
{
    (void)session;
    if (!rfk_msg_is (msg, "ServingKeys")) {
        snprintf (err, errlen, "the predictor does not take %s", msg->type);
        return -1;
    }
    json_t *hashes = json_object_get (msg->body, "hashes");
    return s_serving_keys_apply ((self_t *)ctx, NULL, hashes, err, errlen);
}

/*  The service form: the session with admin brings the ServiceConfig. */
static void
s_start_session (self_t *self)
{
    rfk_session_args_t args = {.name = S_LOG,
                               .role = self->role,
                               .bus = &self->opts.bus,
                               .on_config = s_on_config,
                               .on_message = s_on_admin_message,
                               .ctx = self,
                               .stopped = &self->terminated,
                               .failure = &self->failure};
    if ((self->session = rfk_session_new (&args, NULL, 0)))
        rfk_poll_add (self->poll, rfk_session_sock (self->session));
}

static void
s_start_standalone (self_t *self, const rfk_role_args_t *role)
{
    static const char *const known[] = {"http", "query", "workers", "task", "trials", NULL};
    const char *unknown = rfk_role_unknown_operand (role, known);
    if (unknown) {
        rfk_log_failure (&self->failure, S_LOG,
                         "unknown operand '%s' (predictor takes http=, query=, workers=, task=, "
                         "trials=)",
                         unknown);
        return;
    }
    const char *http = rfk_role_operand (role, "http");
    const char *query = rfk_role_operand (role, "query");
    const char *workers = rfk_role_operand (role, "workers");
    self->opts.ensemble = rfk_ensemble_of_task (rfk_role_operand (role, "task"));
    json_t *trials = json_array ();
    const char *list = rfk_role_operand (role, "trials");
    while (list && *list && trials) {
        const char *comma = strchr (list, ',');
        size_t length = comma ? (size_t)(comma - list) : strlen (list);
        if (length > 0)
            json_array_append_new (trials, json_stringn (list, length));
        list = comma ? comma + 1 : list + length;
    }
    char err[600] = "";
    s_start (self, http ? http : "127.0.0.1:0", query ? query : "tcp://127.0.0.1:*",
             workers ? workers : "tcp://127.0.0.1:*", trials, err, sizeof err);
    json_decref (trials);
    if (*err)
        rfk_log_failure (&self->failure, S_LOG, "%s", err);
    else {
        char line[600];
        s_endpoints_line (self, line, sizeof line);
        printf ("%s\n", line);
        fflush (stdout);
    }
}

/*  The direct form's state, set up from its arguments (borrowed until we
    signal); NULL when out of memory. */
static self_t *
s_direct_new (zsock_t *pipe, const rfk_predictor_args_t *direct)
{
    self_t *self = s_self_new (pipe, NULL);
    if (!self || !direct) {
        if (self)
            rfk_log_failure (&self->failure, S_LOG, "no arguments");
        return self;
    }
    self->opts = direct->scatter;
    if (direct->max_body_bytes)
        self->max_body_bytes = direct->max_body_bytes;
    self->http_per_address = direct->http_per_address;
    self->http_timeout_s = direct->http_read_timeout_s;
    rfk_serving_keys_require (self->keys, direct->auth_token);
    json_t *trials = json_array ();
    for (size_t t = 0; direct->trials && direct->trials[t]; t++)
        json_array_append_new (trials, json_string (direct->trials[t]));
    char err[600] = "";
    if (s_start (self, direct->http, direct->query_endpoint, direct->workers_endpoint, trials, err,
                 sizeof err) != 0)
        rfk_log_failure (&self->failure, S_LOG, "%s", err);
    json_decref (trials);
    return self;
}

void
rfk_predictor_direct_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_direct_new (pipe, (const rfk_predictor_args_t *)args);
    if (rfk_role_started (pipe, self, self ? self->failure : NULL))
        s_run (self, true); /* the direct form stays after a failure */
    s_self_destroy (&self);
}

void
rfk_predictor_actor (zsock_t *pipe, void *args)
{
    self_t *self = rfk_role_ready (pipe, s_self_new (pipe, (const rfk_role_args_t *)args));
    if (!self)
        return;
    const rfk_role_args_t *role = self->role;
    if (role && role->config)
        s_opts_from_config (&self->opts, &self->max_body_bytes, role->config);
    if (role && role->config) {
        self->max_deadline_ms = (int)rfk_config_int (role->config, "predictor", "max_deadline_ms");
        self->http_per_address =
            (unsigned)rfk_config_int (role->config, "predictor", "http_max_per_address");
        self->http_timeout_s =
            (unsigned)rfk_config_int (role->config, "predictor", "http_read_timeout_s");
    }
    if (role && role->config && !role->service_id)
        s_start_standalone (self, role); /* on its own, from operands */
    else
        s_start_session (self);
    s_run (self, false); /* returns at once after a failure */
    rfk_session_leave (self->session, pipe, self->failure, false);
    s_self_destroy (&self);
}
