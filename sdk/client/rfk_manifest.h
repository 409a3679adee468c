/*  rfk_manifest.h: YAML job manifests, as `rafiki train create -f job.yaml` and
    `rafiki infer create -f job.yaml` read them.

    A manifest is parsed (libyaml) and checked field by field into a jansson object shaped like
    the API.md request body of POST /train_jobs or POST /inference_jobs. The first problem found
    is reported with the manifest's name, the line, the field's path and what was wrong:

        job.yaml:7: budget.MODEL_TRIAL_COUNT: expected an integer, got 'ten'
        job.yaml:1: missing field 'task'
        job.yaml:12: unknown field 'modles' (did you mean 'models'?)

    TRAIN manifest (every field but kind, val_dataset* and train_args is required):

        kind: train                     # optional; if given, must match
        app: iris                       # [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64: it is a URL part
        task: TABULAR_CLASSIFICATION    # upper case, checked against the models by admin
        train_dataset: iris-train       # a dataset you uploaded, by name, or
        train_dataset: {file: data/iris_train.csv}   # a file to upload (relative to the manifest),
   or train_dataset_id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427   # a dataset id val_dataset: ... # the
   same three forms (val_dataset_id) budget:                         # MODEL_TRIAL_COUNT and/or
   TIME_HOURS is required MODEL_TRIAL_COUNT: 20         #   integer >= 1 TIME_HOURS: 0.5 #   number
   > 0 GPU_COUNT: 0                  #   integer >= 0 models: [XgbClassifier, SkSvm]  # model names,
   or model_ids: [uuid, ...] (not both) train_args: {target: class}     # anything; passed to the
   models as JSON

    INFERENCE manifest (only app is required):

        kind: inference
        app: iris
        app_version: -1                 # integer, -1 (the default) means the latest
        max_trials: 2                   # integer >= 1: deploy the best N trials
        replicas: 1                     # integer >= 1: inference workers per trial
        budget: {GPU_COUNT: 0}

    THE RESULT. Fields given by id are passed through (train_dataset_id, val_dataset_id,
    model_ids). Fields given by name or file are left for the CLI to resolve, under their own
    keys, before it sends the request: "train_dataset" / "val_dataset" become
    {"name": "iris-train"} (look up the newest dataset of that name and the job's task:
    GET /datasets?task=) or {"file": "/absolute/path"} (upload it: POST /datasets with the
    job's task and the file's base name, then use the new id); "models" stays a list of names
    (look each up in GET /models/available?task=). train_args is always present ({} if not
    given); an inference manifest always has app_version. Scalars follow the YAML 1.2 core
    schema: unquoted 3 is an integer, "3" a string, true a boolean, ~ null.
*/
#ifndef RFK_MANIFEST_H_INCLUDED
#define RFK_MANIFEST_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Room for a manifest error message.
#define RFK_MANIFEST_ERROR_MAX 512
//  Largest manifest read, in bytes.
#define RFK_MANIFEST_SIZE_MAX (1024 * 1024)

typedef enum { RFK_MANIFEST_TRAIN = 1, RFK_MANIFEST_INFERENCE } rfk_manifest_kind_t;

//  Read and check the manifest at path. Relative dataset files are resolved against the
//  manifest's directory. Returns a new JSON object (json_decref it), or NULL with a message
//  in error (if not NULL; error_size should be RFK_MANIFEST_ERROR_MAX).
json_t *
rfk_manifest_load (const char *path, rfk_manifest_kind_t kind, char *error, size_t error_size);

//  Check a manifest held in memory; name is used in messages, base_dir (NULL: the current
//  directory) resolves relative dataset files. As rfk_manifest_load otherwise.
json_t *
rfk_manifest_parse (const char *text, size_t length, const char *name, const char *base_dir,
                    rfk_manifest_kind_t kind, char *error, size_t error_size);

//  "train" or "inference".
const char *
rfk_manifest_kind_name (rfk_manifest_kind_t kind);

#ifdef __cplusplus
}
#endif

#endif
