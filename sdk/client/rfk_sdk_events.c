/*  rfk_sdk_events.c: watching admin's events, asking a predictor for
    predictions, and the JSON <-> msgpack conversion they need.

    A watch is a SUB socket on admin's events port (the XPUB behind the bus
    proxy), subscribed to topic prefixes; each [topic][envelope] is decoded
    with the event family and handed out as JSON. A prediction is one
    PredictRequest on a predictor's ROUTER `query` socket (infer family): the
    queries travel as a msgpack array in the envelope's data, and so do the
    predictions coming back.
*/
#define _GNU_SOURCE
#include "rfk_sdk_internal.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How deep JSON and msgpack values may nest when converted. */
#define S_DEPTH_MAX 128

struct _rfk_sdk_watch_t {
    zsock_t *sub;           /* SUB on admin's events */
    size_t max_frame_bytes; /* what an event may weigh */
};

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
    if (rfk_sdk_probe (self, self->host, self->events_port, "admin's events") != 0)
        return NULL;
    rfk_sdk_watch_t *watch = (rfk_sdk_watch_t *)calloc (1, sizeof *watch);
    if (!watch) {
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "out of memory");
        return NULL;
    }
    watch->max_frame_bytes = self->bus.max_frame_bytes;
    watch->sub = rfk_subscriber_new (self->events, &self->bus);
    if (!watch->sub) {
        rfk_sdk_fail (self, RFK_SDK_UNAVAILABLE, "cannot subscribe to admin's events at %s",
                      self->events);
        free (watch);
        return NULL;
    }
    rfk_subscriber_subscribe (watch->sub, topic ? topic : "");
    return watch;
}

void
rfk_sdk_watch_subscribe (rfk_sdk_watch_t *self, const char *topic)
{
    assert (self);
    rfk_subscriber_subscribe (self->sub, topic ? topic : "");
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
        if (rc == 0 && event) {
            json_t *result = json_object ();
            json_object_set_new (result, "topic", json_string (topic ? topic : ""));
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
    json_decref (job);
    return endpoint;
}

/*  The session's DEALER on endpoint, made or re-made as needed. */
static rfk_client_t *
s_predictor (rfk_sdk_t *self, const char *endpoint)
{
    if (self->predictor && strcmp (self->predictor_endpoint, endpoint) == 0)
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
    self->predictor = rfk_client_new (endpoint, &rfk_infer_family, &self->bus);
    self->predictor_endpoint = self->predictor ? strdup (endpoint) : NULL;
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

/*  Packs one JSON value. 0, or -1 when nested too deep. */
static int
s_pack (msgpack_packer *pk, const json_t *value, int depth)
{
    if (depth > S_DEPTH_MAX)
        return -1;
    switch (json_typeof (value)) {
        case JSON_NULL:
            return msgpack_pack_nil (pk);
        case JSON_TRUE:
            return msgpack_pack_true (pk);
        case JSON_FALSE:
            return msgpack_pack_false (pk);
        case JSON_INTEGER:
            return msgpack_pack_int64 (pk, (int64_t)json_integer_value (value));
        case JSON_REAL:
            return msgpack_pack_double (pk, json_real_value (value));
        case JSON_STRING: {
            size_t length = json_string_length (value);
            msgpack_pack_str (pk, length);
            return msgpack_pack_str_body (pk, json_string_value (value), length);
        }
        case JSON_ARRAY: {
            msgpack_pack_array (pk, json_array_size (value));
            size_t index;
            json_t *item;
            json_array_foreach (value, index, item)
            {
                if (s_pack (pk, item, depth + 1) != 0)
                    return -1;
            }
            return 0;
        }
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (value));
            const char *key;
            json_t *item;
            json_object_foreach ((json_t *)value, key, item)
            {
                size_t length = strlen (key);
                msgpack_pack_str (pk, length);
                msgpack_pack_str_body (pk, key, length);
                if (s_pack (pk, item, depth + 1) != 0)
                    return -1;
            }
            return 0;
        }
    }
    return -1;
}

void *
rfk_sdk_json_to_msgpack (const json_t *value, size_t *size_p)
{
    assert (size_p);
    if (!value)
        return NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    if (s_pack (&pk, value, 0) != 0) {
        msgpack_sbuffer_destroy (&buffer);
        return NULL;
    }
    *size_p = buffer.size;
    /*  The sbuffer's storage is malloc'd: hand it over. */
    char *data = msgpack_sbuffer_release (&buffer);
    if (!data)
        data = (char *)malloc (1);
    return data;
}

/*  A finite double as JSON, null otherwise (JSON has no NaN). */
static json_t *
s_real (double value)
{
    return isfinite (value) ? json_real (value) : json_null ();
}

static json_t *
s_unpack (const msgpack_object *object, int depth)
{
    if (depth > S_DEPTH_MAX)
        return NULL;
    switch (object->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null ();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean (object->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (object->via.u64 > (uint64_t)INT64_MAX)
                return json_real ((double)object->via.u64);
            return json_integer ((json_int_t)object->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer ((json_int_t)object->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return s_real (object->via.f64);
        case MSGPACK_OBJECT_STR: {
            /*  Text that is not UTF-8 cannot be JSON text. */
            json_t *text = object->via.str.size
                               ? json_stringn (object->via.str.ptr, object->via.str.size)
                               : json_string ("");
            return text ? text : json_null ();
        }
        case MSGPACK_OBJECT_ARRAY: {
            json_t *array = json_array ();
            for (uint32_t i = 0; i < object->via.array.size; i++) {
                json_t *item = s_unpack (&object->via.array.ptr[i], depth + 1);
                if (!item) {
                    json_decref (array);
                    return NULL;
                }
                json_array_append_new (array, item);
            }
            return array;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *map = json_object ();
            for (uint32_t i = 0; i < object->via.map.size; i++) {
                const msgpack_object *key = &object->via.map.ptr[i].key;
                json_t *item = s_unpack (&object->via.map.ptr[i].val, depth + 1);
                if (!item) {
                    json_decref (map);
                    return NULL;
                }
                if (key->type == MSGPACK_OBJECT_STR)
                    json_object_setn_new (map, key->via.str.ptr, key->via.str.size, item);
                else {
                    json_t *as_json = s_unpack (key, depth + 1);
                    char *text =
                        as_json ? json_dumps (as_json, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
                    json_object_set_new (map, text ? text : "?", item);
                    free (text);
                    json_decref (as_json);
                }
            }
            return map;
        }
        case MSGPACK_OBJECT_EXT:
            /*  A per-query error (ext type 1, RAFIKI_MSGPACK_EXT_ERROR, as
                templates and the predictor write it): {"error": "why"}, as
                the predictor's HTTP front says it. */
            if (object->via.ext.type == 1) {
                json_t *why = json_stringn (object->via.ext.ptr, object->via.ext.size);
                return json_pack ("{s:o}", "error", why ? why : json_string ("error"));
            }
            return json_null ();
        default:
            return json_null (); /* bin, other ext: nothing JSON can say */
    }
}

json_t *
rfk_sdk_msgpack_to_json (const void *data, size_t size)
{
    if (!data || size == 0)
        return NULL;
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t offset = 0;
    json_t *json = NULL;
    msgpack_unpack_return rc = msgpack_unpack_next (&result, (const char *)data, size, &offset);
    if (rc == MSGPACK_UNPACK_SUCCESS && offset == size)
        json = s_unpack (&result.data, 0);
    msgpack_unpacked_destroy (&result);
    return json;
}
