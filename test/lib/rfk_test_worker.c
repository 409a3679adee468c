/*  rfk_test_worker.c: fake inference workers and msgpack <-> JSON for the
    tests; see rfk_test_worker.h. */
#include "rfk_test_worker.h"

#include "rfk_envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
rfk_test_msgpack_pack_json (msgpack_packer *pk, const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (value));
            const char *key;
            json_t *member;
            json_object_foreach ((json_t *)value, key, member)
            {
                msgpack_pack_str (pk, strlen (key));
                msgpack_pack_str_body (pk, key, strlen (key));
                rfk_test_msgpack_pack_json (pk, member);
            }
            break;
        }
        case JSON_ARRAY: {
            msgpack_pack_array (pk, json_array_size (value));
            size_t i;
            json_t *item;
            json_array_foreach (value, i, item) rfk_test_msgpack_pack_json (pk, item);
            break;
        }
        case JSON_STRING:
            msgpack_pack_str (pk, json_string_length (value));
            msgpack_pack_str_body (pk, json_string_value (value), json_string_length (value));
            break;
        case JSON_INTEGER:
            msgpack_pack_int64 (pk, json_integer_value (value));
            break;
        case JSON_REAL:
            msgpack_pack_double (pk, json_real_value (value));
            break;
        case JSON_TRUE:
            msgpack_pack_true (pk);
            break;
        case JSON_FALSE:
            msgpack_pack_false (pk);
            break;
        default:
            msgpack_pack_nil (pk);
    }
}

char *
rfk_test_msgpack_of (const char *json_text, size_t *size)
{
    json_t *json = json_loads (json_text, JSON_DECODE_ANY, NULL);
    if (!json)
        return NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    rfk_test_msgpack_pack_json (&pk, json);
    json_decref (json);
    *size = buffer.size;
    return msgpack_sbuffer_release (&buffer);
}

/*  msgpack bytes as JSON (per-query errors as {"error": message}). */
json_t *
rfk_test_json_of_object (const msgpack_object *o)
{
    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null ();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean (o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return json_integer ((json_int_t)o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer (o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return json_real (o->via.f64);
        case MSGPACK_OBJECT_STR:
            return json_stringn (o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *array = json_array ();
            for (uint32_t i = 0; i < o->via.array.size; i++)
                json_array_append_new (array, rfk_test_json_of_object (&o->via.array.ptr[i]));
            return array;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *object = json_object ();
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                char *key =
                    strndup (o->via.map.ptr[i].key.via.str.ptr, o->via.map.ptr[i].key.via.str.size);
                json_object_set_new (object, key, rfk_test_json_of_object (&o->via.map.ptr[i].val));
                free (key);
            }
            return object;
        }
        case MSGPACK_OBJECT_EXT:
            return json_pack ("{s:s%}", "error", o->via.ext.ptr, (size_t)o->via.ext.size);
        default:
            return json_null ();
    }
}

json_t *
rfk_test_json_of (const void *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t off = 0;
    json_t *json = NULL;
    if (msgpack_unpack_next (&unpacked, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS)
        json = rfk_test_json_of_object (&unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
    return json;
}

rfk_test_worker_t *
rfk_test_worker_new (const char *endpoint, const char *trial, rfk_test_worker_mode_t mode,
                     const char *fixed_json)
{
    rfk_test_worker_t *self = (rfk_test_worker_t *)zmalloc (sizeof (rfk_test_worker_t));
    self->trial = trial;
    self->mode = mode;
    if (fixed_json)
        self->fixed = rfk_test_msgpack_of (fixed_json, &self->fixed_size);
    self->held = zlistx_new ();
    char connect[300];
    snprintf (connect, sizeof connect, ">%s", endpoint);
    self->sock = zsock_new_dealer (connect);
    rfk_msg_t *ready = rfk_msg_new (&rfk_infer_family, "WorkerReady", 0);
    json_object_set_new (ready->body, "trial_id", json_string (trial));
    json_object_set_new (ready->body, "service_id", json_string ("fake"));
    int rc = self->sock && (!fixed_json || self->fixed)
                 ? rfk_envelope_send (self->sock, ready, 1 << 24)
                 : -1;
    rfk_msg_destroy (&ready);
    if (rc != 0)
        rfk_test_worker_destroy (&self);
    return self;
}

void
rfk_test_worker_destroy (rfk_test_worker_t **self_p)
{
    rfk_test_worker_t *worker = *self_p;
    if (!worker)
        return;
    rfk_msg_t *msg;
    while ((msg = (rfk_msg_t *)zlistx_first (worker->held))) {
        zlistx_detach_cur (worker->held);
        rfk_msg_destroy (&msg);
    }
    zlistx_destroy (&worker->held);
    zsock_destroy (&worker->sock);
    free (worker->fixed);
    free (worker);
    *self_p = NULL;
}

/*  Answers one QueryBatch by the worker's rule. */
static void
s_answer (rfk_test_worker_t *worker, rfk_msg_t *batch)
{
    rfk_msg_t *reply = rfk_msg_new (&rfk_infer_family, "PredictionBatch", batch->correlation);
    json_object_set (reply->body, "batch_id", json_object_get (batch->body, "batch_id"));
    msgpack_unpacked queries;
    msgpack_unpacked_init (&queries);
    size_t off = 0;
    uint32_t n = 0;
    if (batch->data &&
        msgpack_unpack_next (&queries, (const char *)zchunk_data (batch->data),
                             zchunk_size (batch->data), &off) == MSGPACK_UNPACK_SUCCESS &&
        queries.data.type == MSGPACK_OBJECT_ARRAY)
        n = queries.data.via.array.size;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        if (worker->mode == RFK_TEST_WORKER_FIXED)
            msgpack_sbuffer_write (&buffer, worker->fixed, worker->fixed_size);
        else if (worker->mode == RFK_TEST_WORKER_BAD_FIRST && i == 0) {
            msgpack_pack_ext (&pk, 9, 1);
            msgpack_pack_ext_body (&pk, "bad query", 9);
        } else
            msgpack_pack_object (&pk, queries.data.via.array.ptr[i]);
    }
    if (worker->mode == RFK_TEST_WORKER_FAIL)
        json_object_set_new (reply->body, "error", json_string ("the model crashed"));
    else
        rfk_msg_set_data (reply, buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    msgpack_unpacked_destroy (&queries);
    if (rfk_envelope_send (worker->sock, reply, 1 << 24) != 0)
        fprintf (stderr, "fake worker %s: cannot answer\n", worker->trial);
    rfk_msg_destroy (&reply);
}

void
rfk_test_worker_recv (rfk_test_worker_t *worker)
{
    while (zsock_events (worker->sock) & ZMQ_POLLIN) {
        rfk_msg_t *msg = NULL;
        if (rfk_envelope_recv (worker->sock, &rfk_infer_family, 1 << 24, &msg, NULL) != 0)
            break;
        if (rfk_msg_is (msg, "QueryBatch")) {
            worker->batches++;
            worker->queries += (int)json_integer_value (json_object_get (msg->body, "n"));
            if (worker->mode == RFK_TEST_WORKER_HOLD) {
                zlistx_add_end (worker->held, msg);
                msg = NULL;
            } else if (worker->mode != RFK_TEST_WORKER_SILENT)
                s_answer (worker, msg);
        }
        rfk_msg_destroy (&msg);
    }
}

void
rfk_test_worker_release (rfk_test_worker_t *worker)
{
    rfk_msg_t *msg;
    while ((msg = (rfk_msg_t *)zlistx_first (worker->held))) {
        zlistx_detach_cur (worker->held);
        s_answer (worker, msg);
        rfk_msg_destroy (&msg);
    }
}

void
rfk_test_worker_ping (rfk_test_worker_t *self, int interval_ms)
{
    if (self->mode == RFK_TEST_WORKER_SILENT || zclock_mono () < self->next_ping)
        return;
    rfk_msg_t *ping = rfk_msg_new (&rfk_infer_family, "Heartbeat", 0);
    rfk_envelope_send (self->sock, ping, 1 << 20);
    rfk_msg_destroy (&ping);
    self->next_ping = zclock_mono () + interval_ms;
}
