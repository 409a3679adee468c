/*  rfk_admin_endpoints.c: where the advisors and predictors listen, learnt
    from them, and the services that wait for it.

    Admin picks no port numbers for its services. An advisor is launched
    with the bind endpoint tcp://127.0.0.1:* and a predictor with
    [http://HOST:0, tcp://HOST:*, tcp://127.0.0.1:*] (its HTTP, `query` and
    `workers` sockets); each binds them and reports what the kernel gave in
    its RUNNING StatusReport (`endpoints`, in the order of bind_endpoints).
    Admin records them (the advisor's in its service row; the predictor's
    HTTP as the inference job's predictor_host, its `query` endpoint and its
    `workers` endpoint), and only then starts the services that connect to
    them: the sub train job's trainers, the inference job's workers (stored
    with the job, held until now). A provider that ends before it reported
    takes its job down the usual way (rfk_admin_rollup.c): its dependents
    were never started, and the held ones are marked STOPPED.

    A provider restarted by the launcher is given the endpoints it reported
    to bind again, so that its dependents, already connected, find it.

    Under swarm each service has its own network namespace: the same
    endpoints, with 0.0.0.0 to bind and the Docker service name to connect
    (rfk_admin_service_endpoint), except the predictor's HTTP and query
    ports, which are published on the node and so fixed: the lowest pair
    (HTTP, HTTP + 1) from swarm.predictor_port_base not held by a live
    predictor. Its predictor_host and query endpoint then name the node its
    task runs on (rfk_admin_predictor_host), learnt anew at each RUNNING.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

/* Split "scheme://HOST:PORT" into host and port; 0, or -1 when malformed
   or the port is not a real one (0 or *). */
static int
s_split_endpoint (const char *endpoint, char *host, size_t size, int *port)
{
    if (!endpoint)
        return -1;
    const char *start = strstr (endpoint, "://");
    start = start ? start + 3 : endpoint;
    const char *colon = strrchr (start, ':');
    if (!colon || colon == start || (size_t)(colon - start) >= size)
        return -1;
    char *end;
    long value = strtol (colon + 1, &end, 10);
    if (end == colon + 1 || *end || value <= 0 || value > 65535)
        return -1;
    memcpy (host, start, (size_t)(colon - start));
    host[colon - start] = 0;
    *port = (int)value;
    return 0;
}

bool
rfk_admin_endpoint_known (const char *endpoint)
{
    char host[256];
    int port;
    return s_split_endpoint (endpoint, host, sizeof host, &port) == 0;
}

static bool
s_wildcard (const char *host)
{
    return streq (host, "0.0.0.0") || streq (host, "*") || streq (host, "::") || !*host;
}

/* Under swarm: the lowest port from swarm.predictor_port_base that no live
   predictor publishes, or 0. */
static int
s_swarm_http_port (rfk_admin_t *self)
{
    int base = (int)rfk_config_int (self->config, "swarm", "predictor_port_base");
    zlistx_t *live = rfk_store_list_services (self->store, true, NULL);
    if (!live)
        return 0;
    //  Each predictor publishes two: HTTP on port, its ZeroMQ query on port + 1.
    int port = base;
    for (bool taken = true; taken && port < 65535;) {
        taken = false;
        for (rfk_service_t *service = (rfk_service_t *)zlistx_first (live); service && !taken;
             service = (rfk_service_t *)zlistx_next (live))
            taken = service->service_type && streq (service->service_type, "PREDICT") &&
                    service->ext_port >= port - 1 && service->ext_port <= port + 1;
        if (taken)
            port += 2;
    }
    zlistx_destroy (&live);
    return port < 65535 ? port : 0;
}

json_t *
rfk_admin_predictor_info (rfk_admin_t *self, const char *http_host, int *http_port)
{
    //  HTTP and `query` where admin listens (loopback, or every interface),
    //  `workers` on loopback (local services only).
    const char *bind = streq (http_host, "127.0.0.1") ? "127.0.0.1" : "0.0.0.0";
    *http_port = self->swarm ? s_swarm_http_port (self) : 0;
    if (self->swarm && *http_port == 0)
        return NULL;
    char http_bind[300], query_bind[64];
    snprintf (http_bind, sizeof http_bind, "http://%s:%d", bind, *http_port);
    //  Under swarm the query port is published too: the one after the HTTP port.
    if (self->swarm)
        snprintf (query_bind, sizeof query_bind, "tcp://%s:%d", bind, *http_port + 1);
    else
        snprintf (query_bind, sizeof query_bind, "tcp://%s:*", bind);
    json_t *info = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "role", "predictor", "http_bind",
                              http_bind, "query_bind", query_bind, "workers_endpoint",
                              "tcp://127.0.0.1:*", "http_host", http_host);
    if (info && self->swarm)
        json_object_set_new (info, "http_port", json_integer (*http_port));
    return info;
}

/* The advisor's RUNNING endpoints: [advice]. */
static int
s_advisor_running (rfk_service_t *advisor, const json_t *endpoints, char *err, size_t errlen)
{
    const char *advice = json_string_value (json_array_get (endpoints, 0));
    char host[256];
    int port = 0;
    if (s_split_endpoint (advice, host, sizeof host, &port) != 0) {
        snprintf (err, errlen,
                  "an advisor reports RUNNING with the endpoint it bound: endpoints [advice]");
        return -1;
    }
    if (!json_is_object (advisor->service_info)) {
        json_decref (advisor->service_info);
        advisor->service_info = json_object ();
    }
    json_object_set_new (advisor->service_info, "endpoint", json_string (advice));
    advisor->port = port;
    return 0;
}

/* The predictor's RUNNING endpoints: [http, query, workers]. A wildcard
   address is reached through node_host (under swarm: the node its task runs
   on) or else the host admin named at creation. */
static int
s_predictor_running (rfk_service_t *predictor, const json_t *endpoints, const char *node_host,
                     char *err, size_t errlen)
{
    const char *http = json_string_value (json_array_get (endpoints, 0));
    const char *query = json_string_value (json_array_get (endpoints, 1));
    const char *workers = json_string_value (json_array_get (endpoints, 2));
    char http_host[256], query_host[256], workers_host[256];
    int http_port = 0, query_port = 0, workers_port = 0;
    if (json_array_size (endpoints) != 3 ||
        s_split_endpoint (http, http_host, sizeof http_host, &http_port) != 0 ||
        s_split_endpoint (query, query_host, sizeof query_host, &query_port) != 0 ||
        s_split_endpoint (workers, workers_host, sizeof workers_host, &workers_port) != 0) {
        snprintf (err, errlen,
                  "a predictor reports RUNNING with the endpoints it bound: endpoints [http, "
                  "query, workers]");
        return -1;
    }
    if (!json_is_object (predictor->service_info)) {
        json_decref (predictor->service_info);
        predictor->service_info = json_object ();
    }
    json_t *info = predictor->service_info;
    const char *named = json_string_value (json_object_get (info, "http_host"));
    const char *public_host = s_wildcard (http_host) ? (node_host ? node_host
                                                        : named   ? named
                                                                  : "127.0.0.1")
                                                     : http_host;
    char public_query[300];
    snprintf (public_query, sizeof public_query, "tcp://%s:%d",
              s_wildcard (query_host) ? public_host : query_host, query_port);
    free (predictor->ext_hostname);
    predictor->ext_hostname = strdup (public_host);
    predictor->ext_port = http_port;
    predictor->port = query_port;
    //  A restart binds these again; the workers connect to `workers`.
    json_object_set_new (info, "http_bind", json_string (http));
    json_object_set_new (info, "query_bind", json_string (query));
    json_object_set_new (info, "workers_endpoint", json_string (workers));
    json_object_set_new (info, "query_endpoint", json_string (public_query));
    return predictor->ext_hostname ? 0 : -1;
}

int
rfk_admin_provider_running (rfk_admin_t *self, const char *service_id, const json_t *endpoints,
                            char *err, size_t errlen)
{
    rfk_service_t *stored = rfk_store_get_service (self->store, service_id);
    if (!stored || !stored->service_type) {
        snprintf (err, errlen, "this service's record is gone");
        rfk_service_destroy (&stored);
        return -1;
    }
    bool advisor = streq (stored->service_type, "ADVISOR");
    //  Asked at every RUNNING: a predictor swarm moved reports again from its new node.
    char node[256];
    const char *node_host =
        advisor ? NULL : rfk_admin_predictor_host (self, service_id, node, sizeof node);
    int rc = advisor ? s_advisor_running (stored, endpoints, err, errlen)
                     : s_predictor_running (stored, endpoints, node_host, err, errlen);
    if (rc == 0 && rfk_store_update_service (self->store, stored) != 0) {
        snprintf (err, errlen, "cannot record the endpoints: %s", rfk_store_message (self->store));
        rc = -1;
    }
    if (rc == 0 && advisor)
        rfk_log_info (RFK_ADMIN_LOG, "advisor-running id=%s endpoint=%s", service_id,
                      json_string_value (json_object_get (stored->service_info, "endpoint")));
    else if (rc == 0)
        rfk_log_info (
            RFK_ADMIN_LOG, "predictor-running id=%s predictor_host=%s:%lld query=%s workers=%s",
            service_id, stored->ext_hostname, (long long)stored->ext_port,
            json_string_value (json_object_get (stored->service_info, "query_endpoint")),
            json_string_value (json_object_get (stored->service_info, "workers_endpoint")));
    rfk_service_destroy (&stored);
    return rc;
}

/* An advisor is RUNNING: its sub train job's trainers (budget
   TRAINER_COUNT, default 1), unless the job ended meanwhile. */
static void
s_launch_trainers (rfk_admin_t *self, const char *train_job_id, const char *sub_id)
{
    rfk_train_job_t *job = rfk_store_get_train_job (self->store, train_job_id);
    if (!job || rfk_job_status_is_final (job->status)) {
        rfk_train_job_destroy (&job);
        return;
    }
    json_t *count = json_object_get (job->budget, "TRAINER_COUNT");
    int n_trainers = json_is_number (count) ? (int)json_number_value (count) : 1;
    for (int trainer = 0; trainer < n_trainers; trainer++)
        free (rfk_admin_launch_train_service (self, "trainer", job->id, sub_id));
    rfk_train_job_destroy (&job);
}

/* A predictor is RUNNING: the workers of its job, held until now. */
static void
s_launch_workers (rfk_admin_t *self, const char *inference_job_id)
{
    //  Launching may end a service at once (changing the table): ids first.
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (czmq_destructor *)zstr_free);
    for (rfk_admin_service_t *service = (rfk_admin_service_t *)zhashx_first (self->services);
         service; service = (rfk_admin_service_t *)zhashx_next (self->services))
        if (service->held && service->inference_job_id &&
            streq (service->inference_job_id, inference_job_id))
            zlistx_add_end (ids, strdup (service->id));
    for (char *id = (char *)zlistx_first (ids); id; id = (char *)zlistx_next (ids))
        rfk_admin_launch_held (self, id);
    zlistx_destroy (&ids);
}

void
rfk_admin_launch_dependents (rfk_admin_t *self, const char *service_id)
{
    rfk_admin_service_t *service =
        (rfk_admin_service_t *)zhashx_lookup (self->services, service_id);
    if (!service || service->deps_launched || rfk_service_status_is_final (service->status))
        return;
    service->deps_launched = true;
    char *job_id =
        strdup (service->train_job_id ? service->train_job_id : service->inference_job_id);
    char *sub_id = service->sub_train_job_id ? strdup (service->sub_train_job_id) : NULL;
    if (streq (service->role, "advisor") && sub_id)
        s_launch_trainers (self, job_id, sub_id);
    else if (streq (service->role, "predictor"))
        s_launch_workers (self, job_id);
    free (job_id);
    free (sub_id);
}
