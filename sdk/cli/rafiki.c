/*  rafiki: the command-line client of Rafiki-C.

    `rafiki GROUP VERB [options]` (or `rafiki COMMAND` for a command without
    a verb) looks the command up in s_commands and runs it. `rafiki --help`
    lists the commands; `rafiki GROUP` lists a group's verbs; every command
    takes --help.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rfk_cli.h"

typedef struct {
    const char *group;   /* e.g. "model"; the command's name when verb is NULL */
    const char *verb;    /* e.g. "test"; NULL for a command without a verb */
    rfk_cli_fn *fn;      /* runs it */
    const char *summary; /* one line for `rafiki --help` */
} s_command_t;

static const s_command_t s_commands[] = {
    {"model", "test", rfk_cli_model_test,
     "run a small tuning loop on a model template locally and check it"},
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

int
main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr, NULL);
        return 2;
    }
    if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
        strcmp (argv[1], "help") == 0) {
        s_usage (stdout, NULL);
        return 0;
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
