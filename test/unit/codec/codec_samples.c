/*  codec_samples.c: one sample body for every message type of every family.

    Doubles are written with a fraction so that a decoded body compares equal
    (jansson tells 1 from 1.0). The codec test fails when a family has a type
    without a sample here, so a new message gets one.
*/
#include "codec_samples.h"

#include <string.h>

#define STRUCT_SAMPLE "{\"MODEL_TRIAL_COUNT\": 20, \"TIME_HOURS\": 0.5, \"GPU_COUNT\": 0}"
#define KNOBS                                                                                      \
    "{\"max_depth\": 6, \"learning_rate\": 0.125, \"kernel\": \"rbf\", \"shrink\": true, "         \
    "\"layers\": [64, 32], \"extra\": null, \"nested\": {\"a\": [1, 2.5, \"x\", false]}}"
#define USER                                                                                       \
    "{\"id\": \"u1\", \"email\": \"a@b.c\", \"user_type\": \"APP_DEVELOPER\", "                    \
    "\"banned\": false, \"datetime_created\": \"2024-01-02T03:04:05Z\"}"
#define DATASET                                                                                    \
    "{\"id\": \"d1\", \"name\": \"fashion\", \"task\": \"IMAGE_CLASSIFICATION\", "                 \
    "\"size_bytes\": 123456789012, \"owner_id\": \"u1\", "                                         \
    "\"datetime_created\": \"2024-01-02T03:04:05Z\"}"
#define MODEL                                                                                      \
    "{\"id\": \"m1\", \"user_id\": \"u1\", \"name\": \"xgb\", \"task\": "                          \
    "\"TABULAR_CLASSIFICATION\", \"model_class\": \"XgbClassifier\", "                             \
    "\"dependencies\": {\"xgboost\": \"1.7\"}, \"docker_image\": \"rafiki/xgb\", "                 \
    "\"access_right\": \"PUBLIC\", \"datetime_created\": \"2024-01-02T03:04:05Z\", "               \
    "\"size_bytes\": 4096}"
#define SUB_TRAIN_JOB                                                                              \
    "{\"id\": \"s1\", \"train_job_id\": \"t1\", \"model_id\": \"m1\", "                            \
    "\"model_name\": \"xgb\", \"status\": \"RUNNING\", "                                           \
    "\"datetime_started\": \"2024-01-02T03:04:05Z\"}"
#define TRAIN_JOB                                                                                  \
    "{\"id\": \"t1\", \"app\": \"fashion\", \"app_version\": 3, \"task\": "                        \
    "\"IMAGE_CLASSIFICATION\", \"user_id\": \"u1\", \"train_dataset_id\": \"d1\", "                \
    "\"val_dataset_id\": \"d2\", \"budget\": " STRUCT_SAMPLE ", \"train_args\": "                  \
    "{\"target\": \"y\"}, \"status\": \"STOPPED\", \"datetime_started\": "                         \
    "\"2024-01-02T03:04:05Z\", \"datetime_stopped\": \"2024-01-02T04:04:05Z\", "                   \
    "\"sub_train_jobs\": [" SUB_TRAIN_JOB ", " SUB_TRAIN_JOB "]}"
#define TRIAL                                                                                      \
    "{\"id\": \"r1\", \"sub_train_job_id\": \"s1\", \"trial_no\": 7, \"model_id\": "               \
    "\"m1\", \"model_name\": \"xgb\", \"status\": \"COMPLETED\", \"score\": 0.875, "               \
    "\"knobs\": " KNOBS ", \"worker_id\": \"w1\", \"has_params\": true, "                          \
    "\"no\": 7, \"proposal\": {\"knobs\": " KNOBS                                                  \
    ", \"trial_no\": 7}, \"is_params_saved\": true, "                                              \
    "\"datetime_started\": \"2024-01-02T03:04:05Z\", \"datetime_stopped\": "                       \
    "\"2024-01-02T03:05:05Z\", \"app\": \"fashion\", \"app_version\": -1}"
#define INFERENCE_JOB                                                                              \
    "{\"id\": \"i1\", \"train_job_id\": \"t1\", \"app\": \"fashion\", "                            \
    "\"app_version\": 1, \"user_id\": \"u1\", \"status\": \"RUNNING\", "                           \
    "\"predictor_host\": \"127.0.0.1:30001\", \"budget\": {\"GPU_COUNT\": 0}, "                    \
    "\"max_trials\": 2, \"replicas\": 1, \"datetime_started\": "                                   \
    "\"2024-01-02T03:04:05Z\", \"auth\": \"open\"}"
#define ERROR_BODY "{\"code\": \"NOT_FOUND\", \"message\": \"no train job `fashion` version 3\"}"

/* A data literal and its length (it may hold NUL bytes). */
#define D(s) s, sizeof (s) - 1

const codec_sample_t codec_samples[] = {
    // admin: requests
    {&rfk_admin_family, "Error", ERROR_BODY, NULL, 0},
    {&rfk_admin_family, "Heartbeat", "{}", NULL, 0},
    {&rfk_admin_family, "Login", "{\"email\": \"a@b.c\", \"password\": \"pässwörd\"}", NULL, 0},
    {&rfk_admin_family, "ListUsers", "{}", NULL, 0},
    {&rfk_admin_family, "CreateUser",
     "{\"email\": \"a@b.c\", \"password\": \"p\", \"user_type\": \"MODEL_DEVELOPER\"}", NULL, 0},
    {&rfk_admin_family, "BanUser", "{\"email\": \"a@b.c\"}", NULL, 0},
    {&rfk_admin_family, "GetMe", "{}", NULL, 0},
    {&rfk_admin_family, "UploadStart",
     "{\"kind\": \"MODEL\", \"name\": \"xgb\", \"task\": \"TABULAR_CLASSIFICATION\", \"size\": "
     "5000000000, \"model_class\": \"XgbClassifier\", \"dependencies\": {\"xgboost\": \"1.7\"}, "
     "\"docker_image\": \"rafiki/xgb\", \"access_right\": \"PRIVATE\"}",
     NULL, 0},
    {&rfk_admin_family, "UploadChunk", "{\"upload_id\": \"up1\", \"last\": true}",
     D ("\x7f"
        "ELF\x02\x00\x01")},
    {&rfk_admin_family, "ListDatasets", "{\"task\": \"IMAGE_CLASSIFICATION\"}", NULL, 0},
    {&rfk_admin_family, "GetDataset", "{\"id\": \"d1\"}", NULL, 0},
    {&rfk_admin_family, "DeleteDataset", "{\"id\": \"d1\"}", NULL, 0},
    {&rfk_admin_family, "ListAvailableModels", "{\"task\": \"POS_TAGGING\"}", NULL, 0},
    {&rfk_admin_family, "GetModel", "{\"id\": \"m1\"}", NULL, 0},
    {&rfk_admin_family, "DeleteModel", "{\"id\": \"m1\"}", NULL, 0},
    {&rfk_admin_family, "GetModelFile", "{\"id\": \"m1\"}", NULL, 0},
    {&rfk_admin_family, "CreateTrainJob",
     "{\"app\": \"fashion\", \"task\": \"IMAGE_CLASSIFICATION\", \"train_dataset_id\": \"d1\", "
     "\"val_dataset_id\": \"d2\", \"budget\": " STRUCT_SAMPLE ", \"model_ids\": [\"m1\", \"m2\"], "
     "\"train_args\": {\"epochs\": 3, \"target\": \"class\"}}",
     NULL, 0},
    {&rfk_admin_family, "ListTrainJobs", "{\"user_id\": \"u1\"}", NULL, 0},
    {&rfk_admin_family, "GetTrainJobsOfApp", "{\"app\": \"fashion\"}", NULL, 0},
    {&rfk_admin_family, "GetTrainJob", "{\"app\": \"fashion\", \"app_version\": -1}", NULL, 0},
    {&rfk_admin_family, "StopTrainJob", "{\"app\": \"fashion\", \"app_version\": 2}", NULL, 0},
    {&rfk_admin_family, "ListTrials",
     "{\"app\": \"fashion\", \"app_version\": 1, \"limit\": 10, \"offset\": 20, \"type\": "
     "\"best\", \"max_count\": 3}",
     NULL, 0},
    {&rfk_admin_family, "GetTrial", "{\"id\": \"r1\"}", NULL, 0},
    {&rfk_admin_family, "GetTrialLogs", "{\"id\": \"r1\"}", NULL, 0},
    {&rfk_admin_family, "GetTrialParameters", "{\"id\": \"r1\"}", NULL, 0},
    {&rfk_admin_family, "CreateInferenceJob",
     "{\"app\": \"fashion\", \"app_version\": -1, \"budget\": {\"GPU_COUNT\": 1}, "
     "\"max_trials\": 2, \"replicas\": 3, \"auth\": \"token\"}",
     NULL, 0},
    {&rfk_admin_family, "ListInferenceJobs", "{\"user_id\": \"u1\"}", NULL, 0},
    {&rfk_admin_family, "GetInferenceJobsOfApp", "{\"app\": \"fashion\"}", NULL, 0},
    {&rfk_admin_family, "GetInferenceJob", "{\"app\": \"fashion\", \"app_version\": 1}", NULL, 0},
    {&rfk_admin_family, "StopInferenceJob", "{\"app\": \"fashion\", \"app_version\": 1}", NULL, 0},
    {&rfk_admin_family, "CreateServingKey",
     "{\"app\": \"fashion\", \"app_version\": 1, \"label\": \"shop\"}", NULL, 0},
    {&rfk_admin_family, "ListServingKeys", "{\"app\": \"fashion\", \"app_version\": 1}", NULL, 0},
    {&rfk_admin_family, "RevokeServingKey",
     "{\"app\": \"fashion\", \"app_version\": 1, \"id\": \"k1\"}", NULL, 0},
    {&rfk_admin_family, "StopAllJobs", "{}", NULL, 0},
    // admin: replies
    {&rfk_admin_family, "Token",
     "{\"user_id\": \"u1\", \"user_type\": \"SUPERADMIN\", \"token\": \"eyJ.x.y\"}", NULL, 0},
    {&rfk_admin_family, "User", USER, NULL, 0},
    {&rfk_admin_family, "UserList", "{\"users\": [" USER ", " USER "]}", NULL, 0},
    {&rfk_admin_family, "UploadReady", "{\"upload_id\": \"up1\", \"max_chunk_size\": 1048576}",
     NULL, 0},
    {&rfk_admin_family, "UploadProgress", "{\"upload_id\": \"up1\", \"received\": 2097152}", NULL,
     0},
    {&rfk_admin_family, "Dataset", DATASET, NULL, 0},
    {&rfk_admin_family, "DatasetList", "{\"datasets\": [" DATASET "]}", NULL, 0},
    {&rfk_admin_family, "Model", MODEL, NULL, 0},
    {&rfk_admin_family, "ModelList", "{\"models\": [" MODEL ", " MODEL "]}", NULL, 0},
    {&rfk_admin_family, "TrainJob", TRAIN_JOB, NULL, 0},
    {&rfk_admin_family, "TrainJobList", "{\"train_jobs\": [" TRAIN_JOB "]}", NULL, 0},
    {&rfk_admin_family, "Trial", TRIAL, NULL, 0},
    {&rfk_admin_family, "TrialList", "{\"trials\": [" TRIAL ", " TRIAL "]}", NULL, 0},
    {&rfk_admin_family, "TrialLogs",
     "{\"plots\": [{\"title\": \"loss\", \"metrics\": [\"loss\", \"acc\"], \"x_axis\": "
     "\"epoch\"}], \"metrics\": [{\"time\": \"2024-01-02T03:04:05Z\", \"loss\": 0.25, \"epoch\": "
     "1}], \"messages\": [{\"time\": \"2024-01-02T03:04:05Z\", \"message\": \"hello\"}]}",
     NULL, 0},
    {&rfk_admin_family, "InferenceJob", INFERENCE_JOB, NULL, 0},
    {&rfk_admin_family, "InferenceJobList", "{\"inference_jobs\": [" INFERENCE_JOB "]}", NULL, 0},
    {&rfk_admin_family, "StoppedJobs",
     "{\"train_jobs\": [{\"id\": \"t1\"}, {\"id\": \"t2\"}], \"inference_jobs\": [{\"id\": "
     "\"i1\"}]}",
     NULL, 0},
    {&rfk_admin_family, "Deleted", "{\"id\": \"d1\"}", NULL, 0},
    {&rfk_admin_family, "ServingKey",
     "{\"id\": \"k1\", \"label\": \"shop\", \"datetime_created\": \"2024-01-02T03:04:05Z\", "
     "\"key\": \"rk_00ff\"}",
     NULL, 0},
    {&rfk_admin_family, "ServingKeyList",
     "{\"keys\": [{\"id\": \"k1\", \"label\": \"shop\", \"datetime_created\": "
     "\"2024-01-02T03:04:05Z\"}]}",
     NULL, 0},
    {&rfk_admin_family, "FileData",
     "{\"name\": \"params.msgpack\", \"content_type\": \"application/octet-stream\"}",
     D ("\x82\xa1"
        "a\x01\xa1"
        "b\x02")},

    // service
    {&rfk_service_family, "Error", ERROR_BODY, NULL, 0},
    {&rfk_service_family, "Heartbeat", "{}", NULL, 0},
    {&rfk_service_family, "Hello", "{\"service_id\": \"svc1\", \"secret\": \"s3cr3t\"}", NULL, 0},
    {&rfk_service_family, "ServiceConfig",
     "{\"service_id\": \"svc1\", \"service_type\": \"TRAIN\", \"task\": "
     "\"IMAGE_CLASSIFICATION\", \"train_job_id\": \"t1\", \"sub_train_job_id\": \"s1\", "
     "\"model_id\": \"m1\", \"model_name\": \"xgb\", \"model_path\": \"/data/models/m1.so\", "
     "\"train_dataset_path\": \"/data/datasets/d1.zip\", \"val_dataset_path\": "
     "\"/data/datasets/d2.zip\", \"train_args\": {\"epochs\": 3}, \"budget\": " STRUCT_SAMPLE
     ", \"advisor_endpoint\": \"tcp://127.0.0.1:4000\", \"worker_id\": \"w1\", "
     "\"inference_job_id\": \"i1\", \"predictor_endpoint\": \"tcp://127.0.0.1:4001\", "
     "\"bind_endpoints\": [\"tcp://*:4002\"], \"trials\": [{\"trial_id\": \"r1\", \"model_id\": "
     "\"m1\", \"model_name\": \"xgb\", \"model_path\": \"/data/models/m1.so\", \"params_path\": "
     "\"/data/params/r1.msgpack\", \"replicas\": 2}], \"config\": {\"heartbeat_ms\": 1000}}",
     NULL, 0},
    {&rfk_service_family, "StatusReport",
     "{\"service_id\": \"svc1\", \"status\": \"ERRORED\", \"message\": \"model failed to load\"}",
     NULL, 0},
    {&rfk_service_family, "TrialCreate",
     "{\"sub_train_job_id\": \"s1\", \"trial_no\": 4, \"knobs\": " KNOBS
     ", \"policies\": [\"EARLY_STOP\", \"SHARE_PARAMS\"]}",
     NULL, 0},
    {&rfk_service_family, "TrialCreated", "{\"trial_id\": \"r4\", \"trial_no\": 4}", NULL, 0},
    {&rfk_service_family, "TrialStarted", "{\"trial_id\": \"r4\", \"worker_id\": \"w1\"}", NULL, 0},
    {&rfk_service_family, "TrialFinished",
     "{\"trial_id\": \"r4\", \"status\": \"PRUNED\", \"score\": 0.5, \"params_path\": "
     "\"/data/params/r4.msgpack\", \"error\": \"\"}",
     NULL, 0},
    {&rfk_service_family, "TrialLog",
     "{\"trial_id\": \"r4\", \"time\": 1700000000.25, \"message\": \"epoch 1\"}", NULL, 0},
    {&rfk_service_family, "TrialMetrics",
     "{\"trial_id\": \"r4\", \"time\": 1700000000.5, \"metrics\": {\"loss\": 0.125, \"epoch\": "
     "1}}",
     NULL, 0},
    {&rfk_service_family, "TrialPlot",
     "{\"trial_id\": \"r4\", \"title\": \"loss\", \"metrics\": [\"loss\"], \"x_axis\": "
     "\"epoch\"}",
     NULL, 0},
    {&rfk_service_family, "SubTrainJobDone",
     "{\"sub_train_job_id\": \"s1\", \"reason\": \"MODEL_TRIAL_COUNT\"}", NULL, 0},
    {&rfk_service_family, "Ack", "{}", NULL, 0},
    {&rfk_service_family, "Stop", "{\"reason\": \"train job stopped\"}", NULL, 0},
    {&rfk_service_family, "ServingKeys",
     "{\"hashes\": [\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]}", NULL,
     0},

    // train
    {&rfk_train_family, "Error", ERROR_BODY, NULL, 0},
    {&rfk_train_family, "Heartbeat", "{}", NULL, 0},
    {&rfk_train_family, "Ready", "{\"worker_id\": \"w1\"}", NULL, 0},
    {&rfk_train_family, "Progress",
     "{\"trial_no\": 3, \"step\": 10, \"score\": 0.75, \"trial_id\": \"r3\"}", NULL, 0},
    {&rfk_train_family, "Continue", "{}", NULL, 0},
    {&rfk_train_family, "Prune", "{\"reason\": \"below the median\"}", NULL, 0},
    {&rfk_train_family, "Result",
     "{\"trial_no\": 3, \"score\": 0.8125, \"status\": \"COMPLETED\", \"params_path\": "
     "\"/data/params/r3.msgpack\", \"trial_id\": \"r3\"}",
     NULL, 0},
    {&rfk_train_family, "Proposal",
     "{\"trial_no\": 4, \"trial_id\": \"r4\", \"knobs\": " KNOBS
     ", \"policies\": [\"SHARE_PARAMS\"], \"params_source\": \"BEST\", \"params_path\": "
     "\"/data/params/r3.msgpack\"}",
     NULL, 0},
    {&rfk_train_family, "Done", "{\"reason\": \"budget spent\"}", NULL, 0},

    // infer
    {&rfk_infer_family, "Error", ERROR_BODY, NULL, 0},
    {&rfk_infer_family, "Heartbeat", "{}", NULL, 0},
    {&rfk_infer_family, "WorkerReady",
     "{\"service_id\": \"svc2\", \"trial_id\": \"r3\", \"model_name\": \"xgb\", \"task\": "
     "\"TABULAR_CLASSIFICATION\", \"capacity\": 64}",
     NULL, 0},
    {&rfk_infer_family, "QueryBatch", "{\"batch_id\": \"18446744073709551615\", \"n\": 2}",
     D ("\x92\x93\x01\x02\x03\x93\x04\x05\x06")},
    {&rfk_infer_family, "PredictionBatch", "{\"batch_id\": 12}",
     D ("\x92\x92\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00\xc0\x92\x00\x01")},
    {&rfk_infer_family, "PredictRequest", "{\"deadline_ms\": 250, \"key\": \"rk_00ff\"}",
     D ("\x91\xa3"
        "abc")},
    {&rfk_infer_family, "PredictReply", "{\"members\": 3, \"members_answered\": 2}",
     D ("\x91\x01")},

    // event
    {&rfk_event_family, "Error", ERROR_BODY, NULL, 0},
    {&rfk_event_family, "Heartbeat", "{}", NULL, 0},
    {&rfk_event_family, "JobStatus",
     "{\"kind\": \"TRAIN\", \"id\": \"t1\", \"app\": \"fashion\", \"app_version\": 1, "
     "\"status\": \"RUNNING\", \"sub_train_job_id\": \"s1\"}",
     NULL, 0},
    {&rfk_event_family, "ServiceStatus",
     "{\"service_id\": \"svc1\", \"service_type\": \"TRAIN\", \"job_id\": \"t1\", \"status\": "
     "\"DEPLOYING\", \"message\": \"\"}",
     NULL, 0},
    {&rfk_event_family, "TrialUpdate",
     "{\"trial_id\": \"r1\", \"job\": \"t1\", \"sub_train_job_id\": \"s1\", \"trial_no\": 1, "
     "\"model_name\": \"xgb\", \"status\": \"ERRORED\", \"score\": 0.0, \"error\": \"segfault\"}",
     NULL, 0},
    {&rfk_event_family, "LogLine",
     "{\"trial_id\": \"r1\", \"source\": \"trainer\", \"time\": \"2024-01-02T03:04:05Z\", "
     "\"message\": \"epoch 1\"}",
     NULL, 0},
    {NULL, NULL, NULL, NULL, 0},
};

const rfk_family_t *const codec_families[] = {&rfk_admin_family, &rfk_service_family,
                                              &rfk_train_family, &rfk_infer_family,
                                              &rfk_event_family, NULL};

const codec_sample_t *
codec_sample_find (const rfk_family_t *family, const char *type)
{
    for (const codec_sample_t *s = codec_samples; s->family; s++)
        if (s->family == family && strcmp (s->type, type) == 0)
            return s;
    return NULL;
}

rfk_msg_t *
codec_sample_msg (const codec_sample_t *sample, uint64_t correlation, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *body = json_loads (sample->json, 0, &jerr);
    if (!body) {
        snprintf (err, errlen, "%s: bad sample JSON: %s", sample->type, jerr.text);
        return NULL;
    }
    rfk_msg_t *msg =
        rfk_msg_new_from_json (sample->family, sample->type, correlation, body, err, errlen);
    json_decref (body);
    if (msg && sample->data)
        rfk_msg_set_data (msg, sample->data, sample->data_len);
    return msg;
}
