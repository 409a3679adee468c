/*  rfk_http_route.c: the REST API's routing table (see rfk_http_route.h).

    One row per endpoint of API.md, matched segment by segment. "{name}"
    segments capture a path parameter; a literal segment beats a parameter at
    the same place, so rows are tried literal-first by a score rather than by
    their order in the table.
*/
#include "rfk_http_route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define R(m, p, t, k)                                                                              \
    {                                                                                              \
        m, p, t, k, m " " p                                                                        \
    }

static const rfk_http_route_t s_routes[] = {
    R ("POST", "/tokens", "Login", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/users", "ListUsers", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/users", "CreateUser", RFK_HTTP_ROUTE_REQUEST),
    R ("DELETE", "/users", "BanUser", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/me", "GetMe", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/datasets", "UploadStart", RFK_HTTP_ROUTE_UPLOAD_DATASET),
    R ("GET", "/datasets", "ListDatasets", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/datasets/{id}", "GetDataset", RFK_HTTP_ROUTE_REQUEST),
    R ("DELETE", "/datasets/{id}", "DeleteDataset", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/models", "UploadStart", RFK_HTTP_ROUTE_UPLOAD_MODEL),
    // The original Rafiki listed models at GET /models?task=; kept as an alias.
    R ("GET", "/models", "ListAvailableModels", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/models/available", "ListAvailableModels", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/models/{id}", "GetModel", RFK_HTTP_ROUTE_REQUEST),
    R ("DELETE", "/models/{id}", "DeleteModel", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/models/{id}/model_file", "GetModelFile", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/train_jobs", "CreateTrainJob", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/train_jobs", "ListTrainJobs", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/train_jobs/{app}", "GetTrainJobsOfApp", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/train_jobs/{app}/{app_version}", "GetTrainJob", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/train_jobs/{app}/{app_version}/stop", "StopTrainJob", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/train_jobs/{app}/{app_version}/trials", "ListTrials", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/trials/{id}", "GetTrial", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/trials/{id}/logs", "GetTrialLogs", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/trials/{id}/parameters", "GetTrialParameters", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/inference_jobs", "CreateInferenceJob", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/inference_jobs", "ListInferenceJobs", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/inference_jobs/{app}", "GetInferenceJobsOfApp", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/inference_jobs/{app}/{app_version}", "GetInferenceJob", RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/inference_jobs/{app}/{app_version}/stop", "StopInferenceJob",
       RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/inference_jobs/{app}/{app_version}/keys", "CreateServingKey",
       RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/inference_jobs/{app}/{app_version}/keys", "ListServingKeys",
       RFK_HTTP_ROUTE_REQUEST),
    R ("DELETE", "/inference_jobs/{app}/{app_version}/keys/{id}", "RevokeServingKey",
       RFK_HTTP_ROUTE_REQUEST),
    R ("POST", "/actions/stop_all_jobs", "StopAllJobs", RFK_HTTP_ROUTE_REQUEST),
    R ("GET", "/healthz", NULL, RFK_HTTP_ROUTE_HEALTHZ),
    R ("GET", "/metrics", NULL, RFK_HTTP_ROUTE_METRICS),
    R ("GET", "/events", NULL, RFK_HTTP_ROUTE_EVENTS),
    R ("GET", "/bus_key", NULL, RFK_HTTP_ROUTE_BUS_KEY),
};

#define S_NROUTES (sizeof s_routes / sizeof s_routes[0])
#define S_MAX_SEGMENTS 8
#define S_MAX_SEGMENT 1024

/* Resources whose paths are all API paths (never static files). */
static const char *s_resources[] = {
    "tokens",         "users",   "me",      "datasets", "models", "train_jobs", "trials",
    "inference_jobs", "actions", "healthz", "metrics",  "events", "bus_key"};

typedef struct {
    const char *start; /* first character of the segment */
    size_t len;        /* its length */
} s_segment_t;

/* Split path into its non-empty segments; -1 when there are too many or one
   is too long (no route has such a path). */
static int
s_split (const char *path, s_segment_t *segments, size_t *count)
{
    *count = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        if (*count == S_MAX_SEGMENTS || (size_t)(p - start) > S_MAX_SEGMENT)
            return -1;
        segments[*count].start = start;
        segments[*count].len = (size_t)(p - start);
        (*count)++;
    }
    return 0;
}

/* How well pattern matches the segments: -1 for no match, else a score
   where literal matches in earlier segments count more. Captures parameters
   into params when it is not NULL. */
static long
s_match (const char *pattern, const s_segment_t *segments, size_t count, json_t *params)
{
    s_segment_t pat[S_MAX_SEGMENTS];
    size_t npat;
    if (s_split (pattern, pat, &npat) || npat != count)
        return -1;
    long score = 0;
    for (size_t i = 0; i < count; i++) {
        score <<= 1;
        bool is_param = pat[i].len > 2 && pat[i].start[0] == '{';
        if (is_param)
            continue;
        if (pat[i].len != segments[i].len || memcmp (pat[i].start, segments[i].start, pat[i].len))
            return -1;
        score |= 1;
    }
    if (params) {
        for (size_t i = 0; i < count; i++) {
            if (!(pat[i].len > 2 && pat[i].start[0] == '{'))
                continue;
            char name[64];
            snprintf (name, sizeof name, "%.*s", (int)(pat[i].len - 2), pat[i].start + 1);
            json_object_set_new (params, name, json_stringn (segments[i].start, segments[i].len));
        }
    }
    return score;
}

rfk_http_route_result_t
rfk_http_route_find (const char *method, const char *path, const rfk_http_route_t **route_p,
                     json_t *params, char *allow, size_t allowlen)
{
    if (route_p)
        *route_p = NULL;
    if (allow && allowlen)
        allow[0] = 0;
    if (!method || !path)
        return RFK_HTTP_ROUTE_NOT_FOUND;
    if (strcmp (method, "HEAD") == 0)
        method = "GET";

    s_segment_t segments[S_MAX_SEGMENTS];
    size_t count;
    if (s_split (path, segments, &count) || count == 0)
        return RFK_HTTP_ROUTE_NOT_FOUND;

    //  The best match with this method, and any match at all (for 405).
    const rfk_http_route_t *best = NULL;
    long best_score = -1;
    long any_score = -1;
    for (size_t i = 0; i < S_NROUTES; i++) {
        long score = s_match (s_routes[i].pattern, segments, count, NULL);
        if (score < 0)
            continue;
        if (score > any_score)
            any_score = score;
        if (strcmp (s_routes[i].method, method) == 0 && score > best_score) {
            best = &s_routes[i];
            best_score = score;
        }
    }
    //  A better (more literal) match under another method means this path
    //  is that route's, not a parameter of ours: /models/available is not
    //  a model id for DELETE /models/{id}.
    if (best && best_score >= any_score) {
        if (params)
            s_match (best->pattern, segments, count, params);
        if (route_p)
            *route_p = best;
        return RFK_HTTP_ROUTE_FOUND;
    }
    if (any_score < 0)
        return RFK_HTTP_ROUTE_NOT_FOUND;

    //  405: list the methods of the routes with the best score.
    size_t used = 0;
    for (size_t i = 0; i < S_NROUTES && allow; i++) {
        if (s_match (s_routes[i].pattern, segments, count, NULL) != any_score)
            continue;
        const char *m = s_routes[i].method;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (strcmp (s_routes[j].method, m) == 0 &&
                s_match (s_routes[j].pattern, segments, count, NULL) == any_score)
                seen = true;
        if (seen)
            continue;
        int n = snprintf (allow + used, allowlen - used, "%s%s", used ? ", " : "", m);
        if (n < 0 || (size_t)n >= allowlen - used)
            break;
        used += (size_t)n;
    }
    return RFK_HTTP_ROUTE_NO_METHOD;
}

bool
rfk_http_route_is_api (const char *path)
{
    if (!path)
        return false;
    while (*path == '/')
        path++;
    size_t len = strcspn (path, "/");
    for (size_t i = 0; i < sizeof s_resources / sizeof s_resources[0]; i++)
        if (strlen (s_resources[i]) == len && memcmp (s_resources[i], path, len) == 0)
            return true;
    return false;
}

const rfk_http_route_t *
rfk_http_route_table (size_t *count)
{
    if (count)
        *count = S_NROUTES;
    return s_routes;
}

/* Fields whose value is free-form JSON (rfk.Struct in admin.proto). */
static const char *s_json_fields[] = {"budget", "train_args", "dependencies"};
/* Fields that are lists of strings. */
static const char *s_list_fields[] = {"model_ids"};

static bool
s_in (const char *key, const char **set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (key, set[i]) == 0)
            return true;
    return false;
}

int
rfk_http_route_add_text (json_t *fields, const char *key, const char *value, size_t len, char *err,
                         size_t errlen)
{
    if (!fields || !key || (!value && len)) {
        snprintf (err, errlen, "bad form field");
        return -1;
    }
    if (!value)
        value = "";
    bool is_list = s_in (key, s_list_fields, sizeof s_list_fields / sizeof s_list_fields[0]);
    bool is_json = s_in (key, s_json_fields, sizeof s_json_fields / sizeof s_json_fields[0]);
    json_t *old = json_object_get (fields, key);
    if (old && !is_list) {
        snprintf (err, errlen, "field `%s` is given twice", key);
        return -1;
    }
    json_t *item = NULL;
    if (is_json && len == 0)
        return 0; /* an empty JSON field is one left unset */
    if (is_json || (is_list && len && value[0] == '[')) {
        json_error_t jerr;
        item = json_loadb (value, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!item) {
            snprintf (err, errlen, "field `%s` is not valid JSON: %s (column %d)", key, jerr.text,
                      jerr.column);
            return -1;
        }
        if (is_json && json_is_null (item)) {
            //  The original client sends "null" for a field it leaves unset.
            json_decref (item);
            return 0;
        }
        if (is_json && !json_is_object (item)) {
            json_decref (item);
            snprintf (err, errlen, "field `%s` must be a JSON object", key);
            return -1;
        }
    } else {
        item = json_stringn (value, len);
        if (!item) {
            snprintf (err, errlen, "field `%s` is not valid UTF-8 text", key);
            return -1;
        }
    }
    if (!is_list) {
        json_object_set_new (fields, key, item);
        return 0;
    }
    if (!old) {
        old = json_array ();
        json_object_set_new (fields, key, old);
    }
    if (!json_is_array (old)) {
        json_decref (item);
        snprintf (err, errlen, "field `%s` must be a list", key);
        return -1;
    }
    if (json_is_array (item)) {
        json_array_extend (old, item);
        json_decref (item);
    } else
        json_array_append_new (old, item);
    return 0;
}
