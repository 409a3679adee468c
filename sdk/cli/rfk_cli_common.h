/*  rfk_cli_common: what the `rafiki` subcommands that talk to admin share.

    - Argument parsing: a command is described by a usage line, a paragraph,
      a table of options and how many operands it takes; rfk_cli_parse reads
      argv against it (--name VALUE, --name=VALUE, -x VALUE, flags, `--`),
      adds the options every command takes (--config, --admin, --timeout,
      --json, --help) and prints the help or the usage error.
    - The session: rfk_cli_connect opens librafiki with those options and the
      saved token; rfk_cli_fail prints an error the same way everywhere.
    - Output: tables for people (rfk_cli_table), a record as aligned
      "field  value" lines (rfk_cli_record), JSON for scripts (rfk_cli_json),
      and a progress bar for uploads on a terminal.
    - The token file: $RAFIKI_TOKEN_FILE, else ~/.config/rafiki/token
      ($XDG_CONFIG_HOME honoured), mode 0600 in a 0700 folder.

    Exit statuses: 0 success, 1 failure (the message says what went wrong),
    2 bad usage.
*/
#ifndef RFK_CLI_COMMON_H_INCLUDED
#define RFK_CLI_COMMON_H_INCLUDED

#include <jansson.h>
#include <rafiki/client.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RFK_CLI_OK 0
#define RFK_CLI_FAILED 1
#define RFK_CLI_USAGE 2

/* Most operands a command takes. */
#define RFK_CLI_MAX_OPERANDS 8

/* One option of a command. Exactly one of value, flag and list is set. */
typedef struct {
    const char *name;    /* long name without "--", e.g. "task" */
    char short_name;     /* e.g. 'f', or 0 */
    const char *metavar; /* shown in the help: "TASK"; NULL for a flag */
    const char *help;    /* one line */
    const char **value;  /* receives the (last) value */
    bool *flag;          /* set true when given */
} rfk_cli_option_t;

/* The options every command takes, filled by rfk_cli_parse. */
typedef struct {
    const char *config_path; /* --config FILE */
    const char *admin;       /* --admin HOST[:PORT] */
    const char *timeout;     /* --timeout SECONDS (per try) */
    bool json;               /* --json */
    const char *bus_key;     /* admin's key to pin instead of the stored one (login) */
} rfk_cli_common_t;

/* A command: its help and what it takes. */
typedef struct {
    const char *usage;               /* "rafiki datasets list [--task TASK]" */
    const char *about;               /* a paragraph, may be NULL */
    const rfk_cli_option_t *options; /* ends with a row whose name is NULL; may be NULL */
    int min_operands, max_operands;  /* how many operands */
    const char *operands_help;       /* lines describing the operands, may be NULL */
    /* filled by rfk_cli_parse: */
    rfk_cli_common_t common;
    const char *operands[RFK_CLI_MAX_OPERANDS];
    int n_operands;
} rfk_cli_command_t;

/* Reads argv (argv[0] is the command's name) into cmd and its options.
   Returns RFK_CLI_OK to go on; otherwise the command should exit with
   *status_p: 0 after --help (printed on out), 2 after a usage error
   (printed on err with the usage line). */
int
rfk_cli_parse (rfk_cli_command_t *cmd, int argc, char **argv, FILE *out, FILE *err, int *status_p);
/* Prints the command's help. */
void
rfk_cli_help (const rfk_cli_command_t *cmd, FILE *out);

/* Parses an integer operand or option in [min, max]; 0, or -1 after
   printing a usage error naming what. */
int
rfk_cli_int (const char *what, const char *text, long min, long max, long *value_p);

/* Opens a session as the common options say, with the saved token. NULL
   after printing why (the caller exits 1). */
rfk_sdk_t *
rfk_cli_connect (const rfk_cli_common_t *common);
/* Prints a failed call's error ("rafiki: MESSAGE"; with --json also
   {"error": {"code", "message"}} on stdout) and returns RFK_CLI_FAILED. */
int
rfk_cli_fail (const rfk_cli_common_t *common, const rfk_sdk_error_t *error);
/* The same for a local problem (a file, an argument). */
int
rfk_cli_fail_text (const rfk_cli_common_t *common, rfk_sdk_code_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* ---- output ----------------------------------------------------------------- */

/* One column of a table: a header and the key of the value in each row
   ("budget.MODEL_TRIAL_COUNT" reaches into objects). */
typedef struct {
    const char *header;
    const char *key;
    int max_width; /* longer values are cut with "..."; 0: 40 */
} rfk_cli_column_t;

/* A JSON value as one line of text for a table cell or a record: strings as
   they are, numbers as numbers, null and absent as "-", arrays and objects
   as compact JSON. Yours to free. */
char *
rfk_cli_cell (const json_t *value);
/* The value at a dotted key path, or NULL. Borrowed. */
json_t *
rfk_cli_get_path (const json_t *object, const char *path);
/* Prints rows (an array of objects) as a table with a header line, columns
   separated by two spaces; "(none)" when there are no rows. */
void
rfk_cli_table (FILE *out, const json_t *rows, const rfk_cli_column_t *columns, size_t n_columns);
/* Prints an object as "field  value" lines in its key order; arrays of
   objects are printed after, as tables of their fields, under "field:". */
void
rfk_cli_record (FILE *out, const json_t *record);
/* Prints a value as indented JSON and a newline. */
void
rfk_cli_json (FILE *out, const json_t *value);
/* Prints result: as JSON with --json, else as the table (when columns and
   list_key are given and result holds an array under list_key) or as a
   record. */
void
rfk_cli_show (const rfk_cli_common_t *common, const json_t *result, const char *list_key,
              const rfk_cli_column_t *columns, size_t n_columns);

/* "[#########.........]  45%  1.2 MiB / 2.6 MiB" in width columns for the
   bar itself. */
void
rfk_cli_progress_text (char *buffer, size_t size, uint64_t sent, uint64_t total, int width);
/* A progress callback drawing that bar on stderr (arg: a bool *, true when
   the bar should be drawn). */
int
rfk_cli_progress (uint64_t sent, uint64_t total, void *arg);
/* Whether to draw progress bars: stdout and stderr are terminals and not
   --json, or force. */
bool
rfk_cli_progress_wanted (const rfk_cli_common_t *common, bool force);

/* A number of bytes as "1.2 MiB". */
void
rfk_cli_bytes (char *buffer, size_t size, uint64_t bytes);

/* ---- the shapes of a command (rfk_cli_command.c) ---------------------------- */

/* Parses argv for cmd, then opens a session. NULL when the command should
   exit with *status_p: after --help or a usage error (rfk_cli_parse), or
   when the session could not be opened (1). */
rfk_sdk_t *
rfk_cli_open (rfk_cli_command_t *cmd, int argc, char **argv, int *status_p);
/* Ends a command that made one call: shows result (rfk_cli_show), or the
   session's error when it is NULL; frees result and the session. Returns
   the exit status. */
int
rfk_cli_finish (const rfk_cli_command_t *cmd, rfk_sdk_t **sdk_p, json_t *result,
                const char *list_key, const rfk_cli_column_t *columns, size_t n_columns);
/* A whole command that takes one operand and makes one call with it
   (datasets get, models delete, users ban...). */
int
rfk_cli_call_one (int argc, char **argv, const char *usage, const char *about,
                  json_t *(*call) (rfk_sdk_t *, const char *));

/* A command that downloads the file of the thing its one operand (ID)
   names. */
typedef struct {
    const char *usage;       /* "rafiki models download ID [-o FILE]" */
    const char *about;       /* a paragraph */
    const char *output_help; /* the help of -o FILE */
    const char *suffix;      /* the default file is ID + suffix */
    int (*download) (rfk_sdk_t *sdk, const char *id, const char *path); /* 0 or -1 */
} rfk_cli_download_t;
/* Runs such a command: "Saved FILE" (with --json, {id, file}), or the
   error. */
int
rfk_cli_download (int argc, char **argv, const rfk_cli_download_t *what);

/* ---- the token file ---------------------------------------------------------------- */

/* The token file's path (yours to free), or NULL when neither
   RAFIKI_TOKEN_FILE nor HOME is set. */
char *
rfk_cli_token_path (void);
/* The saved token (yours to free), or NULL when there is none. */
char *
rfk_cli_token_load (void);
/* Saves the token with mode 0600 (the folder made 0700 if needed). 0, or -1
   with the reason in err. */
int
rfk_cli_token_save (const char *token, char *err, size_t errlen);
/* Removes the token file: 1 when it was there, 0 when it was not, -1 on
   error (err). */
int
rfk_cli_token_remove (char *err, size_t errlen);

/*  Admin's public bus key, pinned by `rafiki login` beside the token
    (<token file>.bus_key, 0600): its path, the key (NULL when none; yours
    to free), and saving it. */
char *
rfk_cli_bus_key_path (void);
char *
rfk_cli_bus_key_load (void);
int
rfk_cli_bus_key_save (const char *key, char *err, size_t errlen);

#endif
