/*  rfk_cli_data.c: rafiki datasets (list, create, get, delete) and models
    (list, upload, get, delete, download).

    Uploads stream the file to admin in chunks (librafiki) and draw a
    progress bar on stderr when stdout is a terminal (or with --progress).
*/
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "rfk_cli.h"
#include "rfk_cli_common.h"

static const rfk_cli_column_t s_dataset_columns[] = {
    {"ID", "id", 36},
    {"NAME", "name", 32},
    {"TASK", "task", 24},
    {"SIZE", "size_bytes", 14},
    {"CREATED", "datetime_created", 24},
};
#define S_DATASET_COLUMNS (sizeof s_dataset_columns / sizeof s_dataset_columns[0])

static const rfk_cli_column_t s_model_columns[] = {
    {"ID", "id", 36},
    {"NAME", "name", 32},
    {"TASK", "task", 24},
    {"CLASS", "model_class", 24},
    {"ACCESS", "access_right", 8},
    {"CREATED", "datetime_created", 24},
};
#define S_MODEL_COLUMNS (sizeof s_model_columns / sizeof s_model_columns[0])

int
rfk_cli_datasets_list (int argc, char **argv)
{
    const char *task = NULL;
    const rfk_cli_option_t options[] = {
        {"task", 't', "TASK", "only datasets of this task", &task, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {.usage = "rafiki datasets list [--task TASK]",
                             .about = "Lists your datasets.",
                             .options = options};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (&cmd, &sdk, rfk_sdk_datasets_list (sdk, task), "datasets",
                           s_dataset_columns, S_DATASET_COLUMNS);
}

int
rfk_cli_datasets_create (int argc, char **argv)
{
    bool progress = false;
    const rfk_cli_option_t options[] = {{"progress", 0, NULL,
                                         "draw the progress bar even when stdout is not a terminal",
                                         NULL, &progress},
                                        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki datasets create NAME TASK FILE|URL",
        .about = "Uploads a dataset file (streamed in chunks, with a progress bar on a terminal).\n"
                 "Formats: a CSV for TABULAR_CLASSIFICATION and TABULAR_REGRESSION, a zip with\n"
                 "images.csv for IMAGE_CLASSIFICATION, a zip with corpus.tsv for POS_TAGGING\n"
                 "(deploy/datasets/convert makes them).",
        .options = options,
        .min_operands = 3,
        .max_operands = 3,
        .operands_help = "  NAME    the dataset's name (a manifest may refer to it by name)\n"
                         "  TASK    IMAGE_CLASSIFICATION, TABULAR_CLASSIFICATION,\n"
                         "          TABULAR_REGRESSION or POS_TAGGING\n"
                         "  FILE    the file to upload, or an http://, https:// or file://\n"
                         "          URL that admin downloads (dataset_url)",
    };
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    bool draw = rfk_cli_progress_wanted (&cmd.common, progress);
    const char *source = cmd.operands[2];
    bool url = strncmp (source, "http://", 7) == 0 || strncmp (source, "https://", 8) == 0 ||
               strncmp (source, "file://", 7) == 0;
    json_t *dataset = url ? rfk_sdk_dataset_from_url (sdk, source, cmd.operands[0], cmd.operands[1])
                          : rfk_sdk_dataset_upload (sdk, source, cmd.operands[0], cmd.operands[1],
                                                    rfk_cli_progress, &draw);
    return rfk_cli_finish (&cmd, &sdk, dataset, NULL, NULL, 0);
}

int
rfk_cli_datasets_get (int argc, char **argv)
{
    return rfk_cli_call_one (argc, argv, "rafiki datasets get ID", "Shows a dataset.",
                             rfk_sdk_dataset_get);
}

int
rfk_cli_datasets_delete (int argc, char **argv)
{
    return rfk_cli_call_one (argc, argv, "rafiki datasets delete ID",
                             "Deletes a dataset and its file.", rfk_sdk_dataset_delete);
}

int
rfk_cli_models_list (int argc, char **argv)
{
    const char *task = NULL;
    const rfk_cli_option_t options[] = {
        {"task", 't', "TASK", "only models of this task", &task, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {.usage = "rafiki models list [--task TASK]",
                             .about = "Lists the models available to you: yours and the public "
                                      "ones.",
                             .options = options};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (&cmd, &sdk, rfk_sdk_models_list (sdk, task), "models", s_model_columns,
                           S_MODEL_COLUMNS);
}

int
rfk_cli_models_upload (int argc, char **argv)
{
    const char *model_class = NULL, *dependencies = NULL, *docker_image = NULL;
    bool public = false, progress = false;
    const rfk_cli_option_t options[] = {
        {"class", 'c', "CLASS", "the template's model class (default: NAME)", &model_class, NULL},
        {"dependencies", 0, "JSON", "what the template needs, e.g. '{\"xgboost\": \"1.7\"}'",
         &dependencies, NULL},
        {"docker-image", 0, "IMAGE", "the image its services run in (swarm)", &docker_image, NULL},
        {"public", 0, NULL, "let every user use it (default: private)", NULL, &public},
        {"progress", 0, NULL, "draw the progress bar even when stdout is not a terminal", NULL,
         &progress},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki models upload NAME TASK FILE.so [--class CLASS] [--public] "
                 "[--dependencies JSON] [--docker-image IMAGE]",
        .about = "Uploads a model template (a shared object exporting rafiki_model; admins and\n"
                 "model developers). Admin loads it in a child process and refuses it, saying\n"
                 "why, unless it exports the expected ABI and declares TASK.",
        .options = options,
        .min_operands = 3,
        .max_operands = 3,
        .operands_help = "  NAME    the model's name (a manifest's models: refer to it)\n"
                         "  TASK    the task the template declares\n"
                         "  FILE.so the template",
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    json_t *deps = NULL;
    if (dependencies) {
        json_error_t error;
        deps = json_loads (dependencies, 0, &error);
        if (!json_is_object (deps)) {
            json_decref (deps);
            fprintf (stderr, "rafiki models upload: --dependencies: expected a JSON object%s%s\n",
                     error.text[0] ? ": " : "", error.text);
            return RFK_CLI_USAGE;
        }
    }
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    if (!sdk) {
        json_decref (deps);
        return RFK_CLI_FAILED;
    }
    rfk_sdk_model_info_t info = {
        .name = cmd.operands[0],
        .task = cmd.operands[1],
        .model_class = model_class,
        .dependencies = deps,
        .docker_image = docker_image,
        .access_right = public ? "PUBLIC" : "PRIVATE",
    };
    bool draw = rfk_cli_progress_wanted (&cmd.common, progress);
    json_t *model = rfk_sdk_model_upload (sdk, cmd.operands[2], &info, rfk_cli_progress, &draw);
    json_decref (deps);
    return rfk_cli_finish (&cmd, &sdk, model, NULL, NULL, 0);
}

int
rfk_cli_models_get (int argc, char **argv)
{
    return rfk_cli_call_one (argc, argv, "rafiki models get ID", "Shows a model.",
                             rfk_sdk_model_get);
}

int
rfk_cli_models_delete (int argc, char **argv)
{
    return rfk_cli_call_one (argc, argv, "rafiki models delete ID",
                             "Deletes a model (refused while a job uses it).",
                             rfk_sdk_model_delete);
}

int
rfk_cli_models_download (int argc, char **argv)
{
    static const rfk_cli_download_t download = {.usage = "rafiki models download ID [-o FILE]",
                                                .about = "Downloads a model's template file.",
                                                .output_help =
                                                    "where to write the template (default ID.so)",
                                                .suffix = ".so",
                                                .download = rfk_sdk_model_download};
    return rfk_cli_download (argc, argv, &download);
}
