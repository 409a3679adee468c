/*  rfk_bodies.c: typed views of ServiceConfig, Proposal and Result
    (rfk_bodies.h).

    Every key is spelled by S_KEY (Message, member): the member must exist
    in protoc-c's struct for the message, so renaming a field in the .proto
    breaks this file's build instead of leaving a reader with NULL. The
    generated structs are used only for that, never built or returned.
*/
#include "rfk_bodies.h"

#include "service.pb-c.h"
#include "train.pb-c.h"

#include <math.h>
#include <string.h>

/* The JSON key of a body field, checked against the generated struct. */
#define S_KEY(Message, member) ((void)sizeof (((Message *)0)->member), #member)

typedef Rfk__Service__ServiceConfig s_config_pb;
typedef Rfk__Service__TrialToLoad s_trial_to_load_pb;
typedef Rfk__Service__PastTrial s_past_trial_pb;
typedef Rfk__Train__Proposal s_proposal_pb;
typedef Rfk__Train__Result s_result_pb;

static const char *
s_text (const rfk_msg_t *msg, const char *key)
{
    return json_string_value (json_object_get (msg->body, key));
}

/* A member that must be an object (a Struct field), or NULL. */
static json_t *
s_object (const rfk_msg_t *msg, const char *key)
{
    json_t *value = json_object_get (msg->body, key);
    return json_is_object (value) ? value : NULL;
}

static json_t *
s_array (const rfk_msg_t *msg, const char *key)
{
    json_t *value = json_object_get (msg->body, key);
    return json_is_array (value) ? value : NULL;
}

static uint32_t
s_uint32 (const rfk_msg_t *msg, const char *key)
{
    json_int_t value = json_integer_value (json_object_get (msg->body, key));
    return value > 0 && value <= UINT32_MAX ? (uint32_t)value : 0;
}

static double
s_number (const rfk_msg_t *msg, const char *key)
{
    json_t *value = json_object_get (msg->body, key);
    return json_is_number (value) ? json_number_value (value) : NAN;
}

/* Whether msg is a body of `type` in `family`. */
static int
s_is (const rfk_msg_t *msg, const rfk_family_t *family, const char *type)
{
    return msg && msg->family == family && msg->type && strcmp (msg->type, type) == 0;
}

int
rfk_service_config_read (const rfk_msg_t *msg, rfk_service_config_t *view)
{
    memset (view, 0, sizeof *view);
    if (!s_is (msg, &rfk_service_family, "ServiceConfig"))
        return -1;
    view->service_id = s_text (msg, S_KEY (s_config_pb, service_id));
    view->service_type = s_text (msg, S_KEY (s_config_pb, service_type));
    view->task = s_text (msg, S_KEY (s_config_pb, task));
    view->train_job_id = s_text (msg, S_KEY (s_config_pb, train_job_id));
    view->sub_train_job_id = s_text (msg, S_KEY (s_config_pb, sub_train_job_id));
    view->model_id = s_text (msg, S_KEY (s_config_pb, model_id));
    view->model_name = s_text (msg, S_KEY (s_config_pb, model_name));
    view->model_path = s_text (msg, S_KEY (s_config_pb, model_path));
    view->train_dataset_path = s_text (msg, S_KEY (s_config_pb, train_dataset_path));
    view->val_dataset_path = s_text (msg, S_KEY (s_config_pb, val_dataset_path));
    view->train_args = s_object (msg, S_KEY (s_config_pb, train_args));
    view->budget = s_object (msg, S_KEY (s_config_pb, budget));
    view->advisor_endpoint = s_text (msg, S_KEY (s_config_pb, advisor_endpoint));
    view->worker_id = s_text (msg, S_KEY (s_config_pb, worker_id));
    view->inference_job_id = s_text (msg, S_KEY (s_config_pb, inference_job_id));
    view->predictor_endpoint = s_text (msg, S_KEY (s_config_pb, predictor_endpoint));
    view->trials = s_array (msg, S_KEY (s_config_pb, trials));
    view->config = s_object (msg, S_KEY (s_config_pb, config));
    view->knobs = s_array (msg, S_KEY (s_config_pb, knobs));
    view->past_trials = s_array (msg, S_KEY (s_config_pb, past_trials));
    view->last_trial_no = s_uint32 (msg, S_KEY (s_config_pb, last_trial_no));
    view->elapsed_s = s_number (msg, S_KEY (s_config_pb, elapsed_s));
    json_t *binds = s_array (msg, S_KEY (s_config_pb, bind_endpoints));
    if (json_array_size (binds) > RFK_SERVICE_CONFIG_BINDS)
        return -1;
    view->bind_endpoint_count = json_array_size (binds);
    for (size_t index = 0; index < view->bind_endpoint_count; index++)
        view->bind_endpoints[index] = json_string_value (json_array_get (binds, index));
    return 0;
}

int
rfk_trial_to_load_read (const rfk_service_config_t *config, size_t index, rfk_trial_to_load_t *view)
{
    memset (view, 0, sizeof *view);
    json_t *entry = json_array_get (config->trials, index);
    if (!json_is_object (entry))
        return -1;
    view->trial_id =
        json_string_value (json_object_get (entry, S_KEY (s_trial_to_load_pb, trial_id)));
    view->model_id =
        json_string_value (json_object_get (entry, S_KEY (s_trial_to_load_pb, model_id)));
    view->model_name =
        json_string_value (json_object_get (entry, S_KEY (s_trial_to_load_pb, model_name)));
    view->model_path =
        json_string_value (json_object_get (entry, S_KEY (s_trial_to_load_pb, model_path)));
    view->params_path =
        json_string_value (json_object_get (entry, S_KEY (s_trial_to_load_pb, params_path)));
    json_int_t replicas =
        json_integer_value (json_object_get (entry, S_KEY (s_trial_to_load_pb, replicas)));
    view->replicas = replicas > 0 && replicas <= UINT32_MAX ? (uint32_t)replicas : 0;
    return 0;
}

int
rfk_past_trial_read (const rfk_service_config_t *config, size_t index, rfk_past_trial_t *view)
{
    memset (view, 0, sizeof *view);
    view->score = NAN;
    json_t *entry = json_array_get (config->past_trials, index);
    if (!json_is_object (entry))
        return -1;
    json_int_t no = json_integer_value (json_object_get (entry, S_KEY (s_past_trial_pb, trial_no)));
    view->trial_no = no > 0 && no <= UINT32_MAX ? (uint32_t)no : 0;
    view->trial_id = json_string_value (json_object_get (entry, S_KEY (s_past_trial_pb, trial_id)));
    view->status = rfk_trial_status_from_name (
        json_string_value (json_object_get (entry, S_KEY (s_past_trial_pb, status))));
    json_t *knobs = json_object_get (entry, S_KEY (s_past_trial_pb, knobs));
    view->knobs = json_is_object (knobs) ? knobs : NULL;
    json_t *policies = json_object_get (entry, S_KEY (s_past_trial_pb, policies));
    view->policies = json_is_array (policies) ? policies : NULL;
    json_t *score = json_object_get (entry, S_KEY (s_past_trial_pb, score));
    view->score = json_is_number (score) ? json_number_value (score) : NAN;
    view->worker_id =
        json_string_value (json_object_get (entry, S_KEY (s_past_trial_pb, worker_id)));
    view->params_path =
        json_string_value (json_object_get (entry, S_KEY (s_past_trial_pb, params_path)));
    return 0;
}

int
rfk_proposal_read (const rfk_msg_t *msg, rfk_proposal_t *view)
{
    memset (view, 0, sizeof *view);
    if (!s_is (msg, &rfk_train_family, "Proposal"))
        return -1;
    view->trial_no = s_uint32 (msg, S_KEY (s_proposal_pb, trial_no));
    view->trial_id = s_text (msg, S_KEY (s_proposal_pb, trial_id));
    view->knobs = s_object (msg, S_KEY (s_proposal_pb, knobs));
    view->policies = s_array (msg, S_KEY (s_proposal_pb, policies));
    view->params_source =
        rfk_params_source_from_name (s_text (msg, S_KEY (s_proposal_pb, params_source)));
    view->params_path = s_text (msg, S_KEY (s_proposal_pb, params_path));
    return 0;
}

int
rfk_result_read (const rfk_msg_t *msg, rfk_result_t *view)
{
    memset (view, 0, sizeof *view);
    if (!s_is (msg, &rfk_train_family, "Result"))
        return -1;
    view->trial_no = s_uint32 (msg, S_KEY (s_result_pb, trial_no));
    view->trial_id = s_text (msg, S_KEY (s_result_pb, trial_id));
    view->status = rfk_trial_status_from_name (s_text (msg, S_KEY (s_result_pb, status)));
    view->score = s_number (msg, S_KEY (s_result_pb, score));
    view->error = s_text (msg, S_KEY (s_result_pb, error));
    view->params_path = s_text (msg, S_KEY (s_result_pb, params_path));
    return 0;
}

/* Sets key to a new value unless it is NULL; -1 when that failed. */
static int
s_set (rfk_msg_t *msg, const char *key, json_t *value)
{
    return value ? json_object_set_new (msg->body, key, value) : 0;
}

static json_t *
s_string_or_null (const char *text)
{
    return text ? json_string (text) : NULL;
}

rfk_msg_t *
rfk_proposal_new (const rfk_proposal_t *proposal, uint64_t correlation)
{
    rfk_msg_t *msg = rfk_msg_new (&rfk_train_family, "Proposal", correlation);
    const char *source = rfk_params_source_name (proposal->params_source);
    if (!msg || s_set (msg, S_KEY (s_proposal_pb, trial_no), json_integer (proposal->trial_no)) ||
        s_set (msg, S_KEY (s_proposal_pb, trial_id), s_string_or_null (proposal->trial_id)) ||
        s_set (msg, S_KEY (s_proposal_pb, knobs), json_incref (proposal->knobs)) ||
        s_set (msg, S_KEY (s_proposal_pb, policies), json_incref (proposal->policies)) ||
        s_set (msg, S_KEY (s_proposal_pb, params_source), s_string_or_null (source)) ||
        s_set (msg, S_KEY (s_proposal_pb, params_path), s_string_or_null (proposal->params_path)))
        rfk_msg_destroy (&msg);
    return msg;
}

rfk_msg_t *
rfk_result_new (const rfk_result_t *result, uint64_t correlation)
{
    rfk_msg_t *msg = rfk_msg_new (&rfk_train_family, "Result", correlation);
    const char *status = rfk_trial_status_name (result->status);
    if (!msg || s_set (msg, S_KEY (s_result_pb, trial_no), json_integer (result->trial_no)) ||
        s_set (msg, S_KEY (s_result_pb, trial_id), s_string_or_null (result->trial_id)) ||
        s_set (msg, S_KEY (s_result_pb, status), s_string_or_null (status)) ||
        s_set (msg, S_KEY (s_result_pb, score),
               isfinite (result->score) ? json_real (result->score) : NULL) ||
        s_set (msg, S_KEY (s_result_pb, error), s_string_or_null (result->error)) ||
        s_set (msg, S_KEY (s_result_pb, params_path), s_string_or_null (result->params_path)))
        rfk_msg_destroy (&msg);
    return msg;
}
