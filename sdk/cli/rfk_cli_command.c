/*  rfk_cli_command.c: the shapes most `rafiki` subcommands take, written
    once (see rfk_cli_common.h): parse and connect, show one call's result
    or its error, a command that makes one call with one operand, and one
    that downloads a file. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "rfk_cli_common.h"

rfk_sdk_t *
rfk_cli_open (rfk_cli_command_t *cmd, int argc, char **argv, int *status_p)
{
    if (rfk_cli_parse (cmd, argc, argv, stdout, stderr, status_p) != 0)
        return NULL;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd->common);
    if (!sdk)
        *status_p = RFK_CLI_FAILED;
    return sdk;
}

int
rfk_cli_finish (const rfk_cli_command_t *cmd, rfk_sdk_t **sdk_p, json_t *result,
                const char *list_key, const rfk_cli_column_t *columns, size_t n_columns)
{
    int rc = RFK_CLI_OK;
    if (!result)
        rc = rfk_cli_fail (&cmd->common, rfk_sdk_error (*sdk_p));
    else
        rfk_cli_show (&cmd->common, result, list_key, columns, n_columns);
    json_decref (result);
    rfk_sdk_destroy (sdk_p);
    return rc;
}

int
rfk_cli_call_one (int argc, char **argv, const char *usage, const char *about,
                  json_t *(*call) (rfk_sdk_t *, const char *))
{
    rfk_cli_command_t cmd = {.usage = usage, .about = about, .min_operands = 1, .max_operands = 1};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (&cmd, &sdk, call (sdk, cmd.operands[0]), NULL, NULL, 0);
}

int
rfk_cli_download (int argc, char **argv, const rfk_cli_download_t *what)
{
    const char *out = NULL;
    const rfk_cli_option_t options[] = {{"output", 'o', "FILE", what->output_help, &out, NULL},
                                        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {.usage = what->usage,
                             .about = what->about,
                             .options = options,
                             .min_operands = 1,
                             .max_operands = 1};
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    char *path = NULL;
    if (!out && asprintf (&path, "%s%s", cmd.operands[0], what->suffix) < 0)
        return RFK_CLI_FAILED;
    const char *target = out ? out : path;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    int rc = RFK_CLI_OK;
    if (!sdk)
        rc = RFK_CLI_FAILED;
    else if (what->download (sdk, cmd.operands[0], target) != 0)
        rc = rfk_cli_fail (&cmd.common, rfk_sdk_error (sdk));
    else if (cmd.common.json) {
        json_t *doc = json_pack ("{s:s,s:s}", "id", cmd.operands[0], "file", target);
        rfk_cli_json (stdout, doc);
        json_decref (doc);
    } else
        printf ("Saved %s\n", target);
    rfk_sdk_destroy (&sdk);
    free (path);
    return rc;
}
