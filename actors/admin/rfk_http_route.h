/*  rfk_http_route.h: the REST API's routing table, method + path to an admin
    request type (proto/admin.proto), and the path parameters it carries.

    Every endpoint of API.md has one row: "GET /train_jobs/{app}/{app_version}"
    routes to GetTrainJob with `app` and `app_version` taken from the path.
    Literal segments win over parameters ("/models/available" before
    "/models/{id}"), a trailing slash is ignored, and a path that exists
    under other methods is told apart from an unknown one (405 vs 404).
    Pure functions: no I/O, no state, tested on their own.
*/
#ifndef RFK_HTTP_ROUTE_H_INCLUDED
#define RFK_HTTP_ROUTE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What serves a route. */
typedef enum {
    RFK_HTTP_ROUTE_REQUEST = 0,    /* one admin request, answered by rfk_admin_handle */
    RFK_HTTP_ROUTE_UPLOAD_DATASET, /* multipart upload: UploadStart kind DATASET */
    RFK_HTTP_ROUTE_UPLOAD_MODEL,   /* multipart upload: UploadStart kind MODEL */
    RFK_HTTP_ROUTE_HEALTHZ,        /* served by the front itself */
    RFK_HTTP_ROUTE_METRICS,        /* served by the front itself */
    RFK_HTTP_ROUTE_EVENTS,         /* the front's server-sent event stream (GET /events) */
    RFK_HTTP_ROUTE_BUS_KEY         /* admin's public bus key, served by the front itself */
} rfk_http_route_kind_t;

typedef struct {
    const char *method;         /* "GET", "POST", "DELETE" */
    const char *pattern;        /* "/train_jobs/{app}/{app_version}" */
    const char *type;           /* admin request type ("GetTrainJob"), or NULL */
    rfk_http_route_kind_t kind; /* who serves it */
    const char *endpoint;       /* metrics label: "GET /train_jobs/{app}/{app_version}" */
} rfk_http_route_t;

/* How a lookup went. */
typedef enum {
    RFK_HTTP_ROUTE_FOUND = 0, /* *route_p is the row, params holds the path parameters */
    RFK_HTTP_ROUTE_NO_METHOD, /* the path exists, not with this method: 405 (allow says which) */
    RFK_HTTP_ROUTE_NOT_FOUND  /* no such path under an API resource: 404 */
} rfk_http_route_result_t;

/* Find the route of method and path (the path without query string, already
   percent-decoded). HEAD is looked up as GET. On FOUND, sets *route_p and, if
   params is not NULL, adds the path parameters to it as strings. On
   NO_METHOD, writes the methods the path takes ("GET, DELETE") into allow.
   Never fails on any input. */
rfk_http_route_result_t
rfk_http_route_find (const char *method, const char *path, const rfk_http_route_t **route_p,
                     json_t *params, char *allow, size_t allowlen);

/* True when path is under one of the API's resources (/tokens, /users, /me,
   /datasets, /models, /train_jobs, /trials, /inference_jobs, /actions,
   /healthz, /metrics, /events): such paths are never static files. */
bool
rfk_http_route_is_api (const char *path);

/* The routing table and its length, for the metrics endpoint list. */
const rfk_http_route_t *
rfk_http_route_table (size_t *count);

/* Turn a text value from a form field or the query string into the JSON the
   request's schema wants: fields holding free-form JSON (budget, train_args,
   dependencies) are parsed (an object), list fields (model_ids) take a JSON
   array or one id per occurrence; anything else stays a string, which
   rfk_msg_new_from_json converts to a number or a boolean where the schema
   says so. Adds the value to fields under key (appending to lists). Returns
   0, or -1 with a message naming the field in err. */
int
rfk_http_route_add_text (json_t *fields, const char *key, const char *value, size_t len, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
