/*  rafiki: the command-line client of Rafiki-C.

    `rafiki GROUP VERB [options]` (or `rafiki COMMAND` for a command without
    a verb) looks the command up in s_commands and runs it. `rafiki --help`
    lists the commands; `rafiki GROUP` lists a group's verbs; every command
    takes --help. A group may be named in the singular or the plural
    (`rafiki dataset create` runs `datasets create`); rows without a summary
    are aliases, left out of the lists. Options every admin command takes
    (--config FILE, --admin HOST[:PORT], --timeout SECONDS, --json) may also
    come before the command.
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_cli.h"

typedef struct {
    const char *group;   /* e.g. "model"; the command's name when verb is NULL */
    const char *verb;    /* e.g. "test"; NULL for a command without a verb */
    rfk_cli_fn *fn;      /* runs it */
    const char *summary; /* one line for `rafiki --help` */
} s_command_t;

static const s_command_t s_commands[] = {
    {"login", NULL, rfk_cli_login, "log in to admin and keep the token"},
    {"logout", NULL, rfk_cli_logout, "forget the saved token"},
    {"me", NULL, rfk_cli_me, "show who you are logged in as"},
    {"users", "list", rfk_cli_users_list, "list the users (admins)"},
    {"users", "create", rfk_cli_users_create, "create a user (admins)"},
    {"users", "ban", rfk_cli_users_ban, "ban a user (admins)"},
    {"datasets", "list", rfk_cli_datasets_list, "list your datasets"},
    {"datasets", "create", rfk_cli_datasets_create, "upload a dataset file"},
    {"datasets", "upload", rfk_cli_datasets_create, NULL},
    {"datasets", "get", rfk_cli_datasets_get, "show a dataset"},
    {"datasets", "delete", rfk_cli_datasets_delete, "delete a dataset"},
    {"models", "list", rfk_cli_models_list, "list the models available to you"},
    {"models", "upload", rfk_cli_models_upload, "upload a model template (.so)"},
    {"models", "create", rfk_cli_models_upload, NULL},
    {"models", "get", rfk_cli_models_get, "show a model"},
    {"models", "delete", rfk_cli_models_delete, "delete a model"},
    {"models", "download", rfk_cli_models_download, "download a model's template file"},
    {"model", "test", rfk_cli_model_test,
     "run a small tuning loop on a model template locally and check it"},
    {"train", "create", rfk_cli_train_create, "create a train job from a manifest (-f job.yaml)"},
    {"train", "list", rfk_cli_train_list, "list your train jobs"},
    {"train", "get", rfk_cli_train_get, "show a train job"},
    {"train", "stop", rfk_cli_train_stop, "stop a train job"},
    {"train", "trials", rfk_cli_train_trials, "list a train job's trials"},
    {"trials", "get", rfk_cli_trials_get, "show a trial"},
    {"trials", "logs", rfk_cli_trials_logs, "show a trial's logs, metrics and plots"},
    {"trials", "params", rfk_cli_trials_params, "download a trial's parameters"},
    {"infer", "create", rfk_cli_infer_create, "deploy a train job's best trials"},
    {"infer", "list", rfk_cli_infer_list, "list your inference jobs"},
    {"infer", "get", rfk_cli_infer_get, "show an inference job"},
    {"infer", "stop", rfk_cli_infer_stop, "stop an inference job"},
    {"keys", "create", rfk_cli_keys_create, "issue a serving key (auth: token jobs)"},
    {"keys", "list", rfk_cli_keys_list, "list an inference job's serving keys"},
    {"keys", "revoke", rfk_cli_keys_revoke, "revoke a serving key"},
    {"predict", NULL, rfk_cli_predict, "send queries to an app's predictor"},
    {"watch", NULL, rfk_cli_watch, "print admin's events as they happen, until Ctrl-C"},
    {"stop-all", NULL, rfk_cli_stop_all, "stop every job (superadmin)"},
};
#define S_N_COMMANDS (sizeof s_commands / sizeof s_commands[0])

static void
s_usage (FILE *out, const char *group)
{
    fprintf (out, "usage: rafiki COMMAND [options]    (rafiki COMMAND --help for its options)\n\n"
                  "commands:\n");
    for (size_t i = 0; i < S_N_COMMANDS; i++) {
        if (group && strcmp (group, s_commands[i].group) != 0)
            continue;
        if (!s_commands[i].summary)
            continue;
        char name[64];
        snprintf (name, sizeof name, "%s%s%s", s_commands[i].group, s_commands[i].verb ? " " : "",
                  s_commands[i].verb ? s_commands[i].verb : "");
        fprintf (out, "  %-22s %s\n", name, s_commands[i].summary);
    }
}

/* Built with AddressSanitizer (the tests), malloc returns NULL at a trial's
   memory limit as glibc's does, instead of aborting the trial with a report:
   the template then fails the way it would in production. */
const char *
__asan_default_options (void);
const char *
__asan_default_options (void)
{
    return "allocator_may_return_null=1";
}

/*  The row for group and verb (verb ignored for a command without one), or
    NULL. */
static const s_command_t *
s_find (const char *group, const char *verb)
{
    for (size_t i = 0; i < S_N_COMMANDS; i++) {
        const s_command_t *c = &s_commands[i];
        if (strcmp (group, c->group) == 0 && (!c->verb || (verb && strcmp (verb, c->verb) == 0)))
            return c;
    }
    return NULL;
}

/*  Moves the common options given before the command (rafiki --config F
    users list) after it, where the command's parser reads them. */
static void
s_move_leading_options (int argc, char **argv)
{
    static const char *const with_value[] = {"--config", "--admin", "--timeout", NULL};
    int moved = 1;
    while (moved < argc) {
        int width = 0;
        if (strcmp (argv[moved], "--json") == 0 || strncmp (argv[moved], "--config=", 9) == 0 ||
            strncmp (argv[moved], "--admin=", 8) == 0 ||
            strncmp (argv[moved], "--timeout=", 10) == 0)
            width = 1;
        for (int i = 0; with_value[i] && !width; i++)
            if (strcmp (argv[moved], with_value[i]) == 0 && moved + 1 < argc)
                width = 2;
        if (!width)
            break;
        moved += width;
    }
    if (moved == 1 || moved >= argc)
        return;
    /*  Rotate argv[1 .. moved) to the end. */
    int n = moved - 1;
    char **options = (char **)malloc ((size_t)n * sizeof (char *));
    if (!options)
        return;
    memcpy (options, argv + 1, (size_t)n * sizeof (char *));
    memmove (argv + 1, argv + moved, (size_t)(argc - moved) * sizeof (char *));
    memcpy (argv + 1 + (argc - moved), options, (size_t)n * sizeof (char *));
    free (options);
}

int
main (int argc, char **argv)
{
    s_move_leading_options (argc, argv);
    if (argc < 2) {
        s_usage (stderr, NULL);
        return 2;
    }
    if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
        strcmp (argv[1], "help") == 0) {
        s_usage (stdout, NULL);
        return 0;
    }
    /*  `rafiki dataset create` is `rafiki datasets create`, `rafiki model
        upload` is `rafiki models upload`. */
    if (!s_find (argv[1], argc >= 3 ? argv[2] : NULL)) {
        static char other[64];
        size_t length = strlen (argv[1]);
        if (length > 1 && length + 2 < sizeof other) {
            if (argv[1][length - 1] == 's')
                snprintf (other, sizeof other, "%.*s", (int)(length - 1), argv[1]);
            else
                snprintf (other, sizeof other, "%ss", argv[1]);
            if (s_find (other, argc >= 3 ? argv[2] : NULL) || (argc < 3 && s_find (other, "list")))
                argv[1] = other;
        }
    }
    bool known_group = false;
    for (size_t i = 0; i < S_N_COMMANDS; i++) {
        const s_command_t *c = &s_commands[i];
        if (strcmp (argv[1], c->group) != 0)
            continue;
        known_group = true;
        if (!c->verb)
            return c->fn (argc - 1, argv + 1);
        if (argc >= 3 && strcmp (argv[2], c->verb) == 0) {
            char name[64];
            snprintf (name, sizeof name, "%s %s", c->group, c->verb);
            argv[2] = name;
            return c->fn (argc - 2, argv + 2);
        }
    }
    if (known_group) {
        bool help = argc >= 3 && (strcmp (argv[2], "--help") == 0 || strcmp (argv[2], "-h") == 0);
        if (argc >= 3 && !help)
            fprintf (stderr, "rafiki: unknown command '%s %s'\n\n", argv[1], argv[2]);
        s_usage (help ? stdout : stderr, argv[1]);
        return help ? 0 : 2;
    }
    fprintf (stderr, "rafiki: unknown command '%s'\n\n", argv[1]);
    s_usage (stderr, NULL);
    return 2;
}
