/*  rfk_admin_serving_keys.c: serving keys of inference jobs with `auth: token`
    (issue 14).

    Takes CreateServingKey, ListServingKeys and RevokeServingKey from the
    owner of a live inference job (REST /inference_jobs/{app}/{app_version}/keys).
    A key is 256 random bits (rfk_serving_keys.h), answered once at creation;
    the store keeps its hash alone. Admin hands the predictor the hashes of
    the job's valid keys in its ServiceConfig (config.serving_keys) and sends
    it ServingKeys on its session after every issue or revoke, so a query is
    checked in the predictor without asking admin.
*/
#include "rfk_admin_internal.h"
#include "rfk_serving_keys.h"

#include <sodium.h>

/* True when the job takes queries with a serving key only. */
static bool
s_token_job (const rfk_inference_job_t *job)
{
    return job->auth && streq (job->auth, "token");
}

/* The hashes of the job's valid keys (a new array), or NULL (logged). */
static json_t *
s_hashes (rfk_admin_t *self, const rfk_inference_job_t *job)
{
    rfk_serving_key_t *keys = NULL;
    size_t count = 0;
    if (rfk_store_list_serving_keys (self->store, job->id, &keys, &count) != 0) {
        rfk_log_warning (RFK_ADMIN_LOG, "serving-keys-unreadable job=%s reason=\"%s\"", job->id,
                         rfk_store_message (self->store));
        return NULL;
    }
    json_t *hashes = json_array ();
    for (size_t index = 0; index < count; index++)
        json_array_append_new (hashes, json_string (keys[index].hash));
    rfk_serving_keys_free (&keys, count);
    return hashes;
}

void
rfk_admin_serving_keys_config (rfk_admin_t *self, const rfk_inference_job_t *job, json_t *config)
{
    bool token = s_token_job (job);
    json_object_set_new (config, "auth", json_string (token ? "token" : "open"));
    if (token) {
        /*  Unreadable keys: none are valid, so the job stays closed. */
        json_t *hashes = s_hashes (self, job);
        json_object_set_new (config, "serving_keys", hashes ? hashes : json_array ());
    }
}

void
rfk_admin_serving_keys_push (rfk_admin_t *self, const rfk_inference_job_t *job)
{
    if (!s_token_job (job) || !job->predictor_service_id)
        return;
    rfk_admin_service_t *predictor =
        (rfk_admin_service_t *)zhashx_lookup (self->services, job->predictor_service_id);
    json_t *hashes = predictor && predictor->peer ? s_hashes (self, job) : NULL;
    if (!hashes)
        return; /* not connected yet: its ServiceConfig will carry them */
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "ServingKeys", 0);
    if (msg) {
        json_object_set_new (msg->body, "hashes", hashes);
        hashes = NULL;
        if (rfk_server_send (self->service, predictor->peer, msg) != 0)
            rfk_log_warning (RFK_ADMIN_LOG, "serving-keys-unsent job=%s", job->id);
    }
    json_decref (hashes);
    rfk_msg_destroy (&msg);
}

/* The caller's live inference job of the request, if it takes serving
   keys; NULL with *error. */
static rfk_inference_job_t *
s_token_job_of (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
                rfk_msg_t **error)
{
    rfk_inference_job_t *job = rfk_admin_inference_job_of (self, req, caller, true, error);
    if (job && !s_token_job (job)) {
        *error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                  "this inference job is open (anyone who reaches its predictor "
                                  "may query it): serving keys are for jobs created with "
                                  "auth: token");
        rfk_inference_job_destroy (&job);
    }
    return job;
}

/* A key's record as answered (the key itself only when given). */
static json_t *
s_key_json (const rfk_serving_key_t *key, const char *text)
{
    json_t *body = json_pack ("{s:s}", "id", key->id);
    if (key->label)
        json_object_set_new (body, "label", json_string (key->label));
    if (key->datetime_created)
        json_object_set_new (body, "datetime_created", json_string (key->datetime_created));
    if (text)
        json_object_set_new (body, "key", json_string (text));
    return body;
}

/* Stores a new key of job; its record, or NULL with *error. */
static rfk_serving_key_t *
s_key_store (rfk_admin_t *self, const rfk_msg_t *req, const rfk_inference_job_t *job,
             const char *text, rfk_msg_t **error)
{
    rfk_serving_key_t *keys = NULL;
    size_t count = 0;
    if (rfk_store_list_serving_keys (self->store, job->id, &keys, &count) != 0) {
        *error = rfk_admin_store_error (self, req, "reading the serving keys");
        return NULL;
    }
    rfk_serving_keys_free (&keys, count);
    if (count >= RFK_SERVING_KEYS_MAX) {
        *error = rfk_admin_error (req, RFK_CODE_TOO_LARGE,
                                  "this inference job has %d serving keys already; revoke one",
                                  RFK_SERVING_KEYS_MAX);
        return NULL;
    }
    char hash[RFK_SERVING_KEY_HASH_LEN + 1];
    rfk_serving_key_hash (text, hash);
    const char *label = rfk_admin_field (req, "label");
    rfk_serving_key_t record = {
        .inference_job_id = job->id,
        .hash = hash,
        .label = (char *)(label && *label ? label : NULL),
    };
    rfk_serving_key_t *key = rfk_store_create_serving_key (self->store, &record);
    if (!key)
        *error = rfk_admin_store_error (self, req, "storing the serving key");
    return key;
}

rfk_msg_t *
rfk_admin_on_create_serving_key (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *label = rfk_admin_field (req, "label");
    if (label && strlen (label) > 200)
        return rfk_admin_error (req, RFK_CODE_BAD_REQUEST, "label is over 200 characters");
    rfk_inference_job_t *job = s_token_job_of (self, req, caller, &error);
    if (!job)
        return error;
    char text[RFK_SERVING_KEY_LEN + 1];
    rfk_serving_key_t *key = NULL;
    if (rfk_serving_key_new (text) != 0)
        error = rfk_admin_error (req, RFK_CODE_INTERNAL, "cannot make a random key");
    else
        key = s_key_store (self, req, job, text, &error);
    rfk_msg_t *reply = error;
    if (key) {
        rfk_log_info (RFK_ADMIN_LOG, "serving-key-issued job=%s key=%s", job->id, key->id);
        rfk_admin_serving_keys_push (self, job);
        reply = rfk_admin_reply_with (req, "ServingKey", s_key_json (key, text));
    }
    sodium_memzero (text, sizeof text);
    rfk_serving_key_destroy (&key);
    rfk_inference_job_destroy (&job);
    return reply;
}

rfk_msg_t *
rfk_admin_on_list_serving_keys (rfk_admin_t *self, const rfk_msg_t *req,
                                const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_inference_job_t *job = s_token_job_of (self, req, caller, &error);
    if (!job)
        return error;
    rfk_serving_key_t *keys = NULL;
    size_t count = 0;
    rfk_msg_t *reply = NULL;
    if (rfk_store_list_serving_keys (self->store, job->id, &keys, &count) != 0)
        reply = rfk_admin_store_error (self, req, "reading the serving keys");
    else {
        json_t *list = json_array ();
        for (size_t index = 0; index < count; index++)
            json_array_append_new (list, s_key_json (&keys[index], NULL));
        reply = rfk_admin_reply_with (req, "ServingKeyList", json_pack ("{s:o}", "keys", list));
    }
    rfk_serving_keys_free (&keys, count);
    rfk_inference_job_destroy (&job);
    return reply;
}

rfk_msg_t *
rfk_admin_on_revoke_serving_key (rfk_admin_t *self, const rfk_msg_t *req,
                                 const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    const char *id = rfk_admin_require (req, "id", &error);
    if (!id)
        return error;
    rfk_inference_job_t *job = s_token_job_of (self, req, caller, &error);
    if (!job)
        return error;
    rfk_serving_key_t *key = rfk_store_get_serving_key (self->store, id);
    rfk_msg_t *reply = NULL;
    if (!key || !key->inference_job_id || !streq (key->inference_job_id, job->id))
        reply = rfk_admin_error (req, RFK_CODE_NOT_FOUND, "this inference job has no key %s", id);
    else if (rfk_store_delete_serving_key (self->store, id) != 0)
        reply = rfk_admin_store_error (self, req, "revoking the serving key");
    else {
        rfk_log_info (RFK_ADMIN_LOG, "serving-key-revoked job=%s key=%s", job->id, id);
        rfk_admin_serving_keys_push (self, job);
        reply = rfk_admin_reply_with (req, "Deleted", json_pack ("{s:s}", "id", id));
    }
    rfk_serving_key_destroy (&key);
    rfk_inference_job_destroy (&job);
    return reply;
}
