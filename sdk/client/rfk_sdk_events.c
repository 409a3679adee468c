/*  rfk_sdk_events.c: watching admin's events, and asking a predictor for
    predictions (their JSON <-> msgpack conversion is proto/rfk_mpjson, which
    the predictor's HTTP front uses too).

    A watch is a SUB socket on admin's events port (the XPUB behind the bus
    proxy), subscribed to topic prefixes; each [topic][envelope] is decoded
    with the event family and handed out as JSON. A prediction is one
    PredictRequest on a predictor's ROUTER `query` socket (infer family): the
    queries travel as a msgpack array in the envelope's data, and so do the
    predictions coming back.
*/
#define _GNU_SOURCE
#include "rfk_sdk_internal.h"
#include "rfk_mpjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _rfk_sdk_watch_t {
    zsock_t *sub;           /* SUB on admin's events */
    size_t max_frame_bytes; /* what an event may weigh */
    char *token;            /* sent with each subscription: admin checks it */
};

/*  Admin applies a subscription only with a token it accepts, and then
    sends the events this user may see under "c.<channel>.<topic>". */
static void
s_subscribe (rfk_sdk_watch_t *self, const char *topic)
{
    char *text = zsys_sprintf ("auth %s %s", self->token, topic ? topic : "");
    if (text) {
        /*  "c." lets the channels' frames through this SUB (admin never
            applies it); the token's subscription opens a channel. */
        rfk_subscriber_subscribe (self->sub, "c.");
        rfk_subscriber_subscribe (self->sub, text);
        explicit_bzero (text, strlen (text));
    }
    zstr_free (&text);
}

rfk_sdk_watch_t *
rfk_sdk_watch_new (rfk_sdk_t *self, const char *topic)
{
    assert (self);
    rfk_sdk_clear (self);
    if (self->events_port <= 0) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                      "admin's events port is 0 (any free port): give the port admin bound in "
                      "RAFIKI_ADMIN_EVENTS_PORT");
        return NULL;
    }
    if (!self->token) {
        rfk_sdk_fail (self, RFK_SDK_UNAUTHORIZED, "events are for logged-in users: log in first");
        return NULL;
    }
    if (rfk_sdk_probe (self, self->host, self->events_port, "admin's events") != 0)
        return NULL;
    rfk_sdk_watch_t *watch = (rfk_sdk_watch_t *)calloc (1, sizeof *watch);
    if (!watch) {
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "out of memory");
        return NULL;
    }
    watch->max_frame_bytes = self->bus.max_frame_bytes;
    rfk_bus_opts_t bus;
    rfk_sdk_bus_opts (self, &bus, self->bus_key);
    watch->sub = rfk_subscriber_new (self->events, &bus);
    watch->token = strdup (self->token);
    if (!watch->sub || !watch->token) {
        rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE, "cannot subscribe to admin's events at %s",
                      self->events);
        rfk_sdk_watch_destroy (&watch);
        return NULL;
    }
    s_subscribe (watch, topic);
    return watch;
}

void
rfk_sdk_watch_subscribe (rfk_sdk_watch_t *self, const char *topic)
{
    assert (self);
    s_subscribe (self, topic);
}

json_t *
rfk_sdk_watch_next (rfk_sdk_watch_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = timeout_ms >= 0 ? zclock_mono () + timeout_ms : -1;
    while (!zsys_interrupted) {
        int64_t left = deadline < 0 ? -1 : deadline - zclock_mono ();
        if (deadline >= 0 && left < 0)
            left = 0;
        zmq_pollitem_t item = {zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll (&item, 1, (long)left);
        if (ready < 0) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            return NULL;
        }
        if (ready == 0)
            return NULL;
        char *topic = NULL;
        rfk_msg_t *event = NULL;
        rfk_code_t code;
        int rc = rfk_envelope_recv_topic (self->sub, &rfk_event_family, self->max_frame_bytes,
                                          &topic, &event, &code);
        /*  "c.<channel>.<topic>": the channel is admin's business. */
        const char *shown = topic ? topic : "";
        if (strncmp (shown, "c.", 2) == 0 && strchr (shown + 2, '.'))
            shown = strchr (shown + 2, '.') + 1;
        if (rc == 0 && event) {
            json_t *result = json_object ();
            json_object_set_new (result, "topic", json_string (shown));
            json_object_set_new (result, "type", json_string (event->type));
            json_object_set (result, "event", event->body);
            free (topic);
            rfk_msg_destroy (&event);
            return result;
        }
        /*  A malformed event is not the watcher's problem: skip it. */
        free (topic);
        rfk_msg_destroy (&event);
    }
    return NULL;
}

void
rfk_sdk_watch_destroy (rfk_sdk_watch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy (&(*self_p)->sub);
    if ((*self_p)->token) {
        explicit_bzero ((*self_p)->token, strlen ((*self_p)->token));
        free ((*self_p)->token);
    }
    free (*self_p);
    *self_p = NULL;
}

char *
rfk_sdk_predictor_endpoint (rfk_sdk_t *self, const char *app, int app_version)
{
    assert (self);
    json_t *job = rfk_sdk_inference_job_get (self, app, app_version);
    if (!job)
        return NULL;
    char *endpoint = NULL;
    const char *query = json_string_value (json_object_get (job, "query_endpoint"));
    const char *host = json_string_value (json_object_get (job, "predictor_host"));
    const char *status = json_string_value (json_object_get (job, "status"));
    const char *key = json_string_value (json_object_get (job, "query_key"));
    if (query && *query)
        endpoint = strdup (query);
    else if (host && *host) {
        const char *colon = strrchr (host, ':');
        char *end = NULL;
        long port = colon ? strtol (colon + 1, &end, 10) : 0;
        if (!colon || !end || *end || port < 1 || port >= 65535)
            rfk_sdk_fail (self, RFK_SDK_INTERNAL, "the predictor_host '%s' of %s is not HOST:PORT",
                          host, app);
        else if (asprintf (&endpoint, "tcp://%.*s:%ld", (int)(colon - host), host, port + 1) < 0)
            endpoint = NULL;
    } else
        rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE,
                      "the inference job of %s has no predictor yet (status %s)", app,
                      status ? status : "unknown");
    /*  Admin named the predictor's key: pin it for that endpoint. */
    if (endpoint && key && rfk_curve_key_valid (key)) {
        snprintf (self->predictor_key, sizeof self->predictor_key, "%s", key);
        free (self->predictor_key_for);
        self->predictor_key_for = strdup (endpoint);
    }
    json_decref (job);
    return endpoint;
}

/*  The session's DEALER on endpoint, made or re-made as needed. */
static rfk_client_t *
s_predictor (rfk_sdk_t *self, const char *endpoint)
{
    /*  The same endpoint may now be another job's predictor (a new job bound
        the port the last one had), serving with another key. */
    const char *pinned = self->predictor_key_for && strcmp (self->predictor_key_for, endpoint) == 0
                             ? self->predictor_key
                             : "";
    if (self->predictor && strcmp (self->predictor_endpoint, endpoint) == 0 &&
        strcmp (self->predictor_client_key, pinned) == 0)
        return self->predictor;
    rfk_client_destroy (&self->predictor);
    free (self->predictor_endpoint);
    self->predictor_endpoint = NULL;
    const char *address = strncmp (endpoint, "tcp://", 6) == 0 ? endpoint + 6 : NULL;
    if (address) {
        /*  As for admin: a predictor that is not there is said at once. */
        char host[256];
        const char *colon = strrchr (address, ':');
        int port = colon ? atoi (colon + 1) : 0;
        if (!colon || port <= 0 || (size_t)(colon - address) >= sizeof host) {
            rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "'%s' is not tcp://HOST:PORT", endpoint);
            return NULL;
        }
        snprintf (host, sizeof host, "%.*s", (int)(colon - address), address);
        if (host[0] == '[' && host[strlen (host) - 1] == ']') {
            memmove (host, host + 1, strlen (host));
            host[strlen (host) - 1] = 0;
        }
        if (rfk_sdk_probe (self, host, port, "the predictor") != 0)
            return NULL;
    }
    /*  CURVE with the key admin named for this endpoint (or
        RAFIKI_PINNED_PREDICTOR_KEY for one given by hand), while admin's is on. */
    const char *key = NULL;
    if (self->bus_key[0]) {
        key = self->predictor_key_for && strcmp (self->predictor_key_for, endpoint) == 0
                  ? self->predictor_key
                  : getenv ("RAFIKI_PINNED_PREDICTOR_KEY");
        if (!key || !rfk_curve_key_valid (key)) {
            rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                          "the predictor's bus key for %s is unknown: name the app (admin tells "
                          "its key) or give it in RAFIKI_PINNED_PREDICTOR_KEY",
                          endpoint);
            return NULL;
        }
    }
    rfk_bus_opts_t bus;
    rfk_sdk_bus_opts (self, &bus, key);
    self->predictor = rfk_client_new (endpoint, &rfk_infer_family, &bus);
    self->predictor_endpoint = self->predictor ? strdup (endpoint) : NULL;
    snprintf (self->predictor_client_key, sizeof self->predictor_client_key, "%s", pinned);
    if (!self->predictor)
        rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE, "cannot connect to the predictor at %s", endpoint);
    return self->predictor;
}

json_t *
rfk_sdk_predict (rfk_sdk_t *self, const char *endpoint, json_t *queries, unsigned deadline_ms)
{
    assert (self);
    rfk_sdk_clear (self);
    if (!endpoint || !*endpoint) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "a predictor endpoint is required");
        return NULL;
    }
    if (!json_is_array (queries) || json_array_size (queries) == 0) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "queries must be a non-empty JSON array");
        return NULL;
    }
    size_t size = 0;
    void *packed = rfk_sdk_json_to_msgpack (queries, &size);
    if (!packed) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "the queries cannot be packed (nested too deep)");
        return NULL;
    }
    rfk_client_t *client = s_predictor (self, endpoint);
    if (!client) {
        free (packed);
        return NULL;
    }
    rfk_msg_t *request = rfk_msg_new (&rfk_infer_family, "PredictRequest", 0);
    rfk_msg_set_data (request, packed, size);
    free (packed);
    if (deadline_ms)
        json_object_set_new (request->body, "deadline_ms", json_integer (deadline_ms));
    if (self->serving_key)
        json_object_set_new (request->body, "key", json_string (self->serving_key));
    rfk_msg_t *reply =
        rfk_sdk_call_on (self, client, "the predictor", endpoint, request, "PredictReply");
    rfk_msg_destroy (&request);
    if (!reply)
        return NULL;
    json_t *predictions =
        reply->data ? rfk_sdk_msgpack_to_json (zchunk_data (reply->data), zchunk_size (reply->data))
                    : NULL;
    json_t *result = NULL;
    if (!json_is_array (predictions))
        rfk_sdk_fail (self, RFK_SDK_INTERNAL,
                      "the predictor's reply holds no msgpack array of predictions");
    else {
        result = json_object ();
        json_object_set (result, "predictions", predictions);
        json_t *members = json_object_get (reply->body, "members");
        json_t *answered = json_object_get (reply->body, "members_answered");
        if (members)
            json_object_set (result, "members", members);
        if (answered)
            json_object_set (result, "members_answered", answered);
    }
    json_decref (predictions);
    rfk_msg_destroy (&reply);
    return result;
}

void *
rfk_sdk_json_to_msgpack (const json_t *value, size_t *size_p)
{
    assert (size_p);
    return rfk_mpjson_pack (value, 0, size_p);
}

json_t *
rfk_sdk_msgpack_to_json (const void *data, size_t size)
{
    return rfk_mpjson_unpack (data, size);
}
