/*  rfk_cli_keys.c: `rafiki keys create|list|revoke`, the serving keys of an
    inference job created with `auth: token` (issue 14).

    A key is shown once, by create; admin keeps its hash alone. Queries then
    carry it: `rafiki predict --key KEY` (or RAFIKI_SERVING_KEY), the SDK's
    rfk_sdk_set_serving_key, or `Authorization: Bearer KEY` over HTTP.
*/
#include "rfk_cli.h"
#include "rfk_cli_common.h"

#include <limits.h>
#include <stdio.h>

static const rfk_cli_column_t s_key_columns[] = {
    {"ID", "id", 36},
    {"LABEL", "label", 24},
    {"CREATED", "datetime_created", 24},
};
#define S_KEY_COLUMNS (sizeof s_key_columns / sizeof s_key_columns[0])

#define S_APP_HELP "  APP      the inference job's app"

/*  Parses a `rafiki keys` command: its operands, --version V (default -1:
    the latest) and, when label_p is not NULL, --label LABEL; checks V, then
    opens a session. NULL when the command should exit with *status_p
    (after --help, a usage error, or no session). */
static rfk_sdk_t *
s_open (rfk_cli_command_t *cmd, int argc, char **argv, const char **label_p, int *version_p,
        int *status_p)
{
    const char *version_text = NULL;
    const rfk_cli_option_t options[] = {
        {"label", 'l', "LABEL", "what you call the key (who or what uses it)", label_p, NULL},
        {"version", 'v', "VERSION", "the inference job's app_version (default -1: the latest)",
         &version_text, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    cmd->options = label_p ? options : options + 1;
    int parsed = rfk_cli_parse (cmd, argc, argv, stdout, stderr, status_p);
    cmd->options = NULL; /* the table lives here */
    if (parsed != 0)
        return NULL;
    long version = -1;
    if (version_text && rfk_cli_int ("--version", version_text, -1, INT_MAX, &version) != 0) {
        *status_p = RFK_CLI_USAGE;
        return NULL;
    }
    *version_p = (int)version;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd->common);
    if (!sdk)
        *status_p = RFK_CLI_FAILED;
    return sdk;
}

int
rfk_cli_keys_create (int argc, char **argv)
{
    rfk_cli_command_t cmd = {
        .usage = "rafiki keys create APP [--label LABEL] [--version V]",
        .about = "Issues a serving key for APP's inference job (created with auth: token).\n"
                 "The key is shown this once: keep it; admin keeps only its hash.",
        .min_operands = 1,
        .max_operands = 1,
        .operands_help = S_APP_HELP};
    const char *label = NULL;
    int status, version;
    rfk_sdk_t *sdk = s_open (&cmd, argc, argv, &label, &version, &status);
    if (!sdk)
        return status;
    json_t *key = rfk_sdk_serving_key_create (sdk, cmd.operands[0], version, label);
    if (key && !cmd.common.json)
        fprintf (stderr, "rafiki: this key is shown once; send it as `Authorization: Bearer "
                         "KEY` (HTTP) or with `rafiki predict --key KEY`\n");
    return rfk_cli_finish (&cmd, &sdk, key, NULL, NULL, 0);
}

int
rfk_cli_keys_list (int argc, char **argv)
{
    rfk_cli_command_t cmd = {.usage = "rafiki keys list APP [--version V]",
                             .about = "Lists the valid serving keys of APP's inference job "
                                      "(ids and labels; never the keys).",
                             .min_operands = 1,
                             .max_operands = 1,
                             .operands_help = S_APP_HELP};
    int status, version;
    rfk_sdk_t *sdk = s_open (&cmd, argc, argv, NULL, &version, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (&cmd, &sdk, rfk_sdk_serving_keys_list (sdk, cmd.operands[0], version),
                           "keys", s_key_columns, S_KEY_COLUMNS);
}

int
rfk_cli_keys_revoke (int argc, char **argv)
{
    rfk_cli_command_t cmd = {.usage = "rafiki keys revoke APP KEY_ID [--version V]",
                             .about = "Revokes a serving key: the predictor refuses it at once.",
                             .min_operands = 2,
                             .max_operands = 2,
                             .operands_help =
                                 S_APP_HELP "\n"
                                            "  KEY_ID   the key's id (rafiki keys list)"};
    int status, version;
    rfk_sdk_t *sdk = s_open (&cmd, argc, argv, NULL, &version, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (
        &cmd, &sdk, rfk_sdk_serving_key_revoke (sdk, cmd.operands[0], version, cmd.operands[1]),
        NULL, NULL, 0);
}
