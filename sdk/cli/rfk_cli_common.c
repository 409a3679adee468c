/*  rfk_cli_common.c: argument parsing, the session, output and the token
    file, shared by the `rafiki` subcommands that talk to admin (see
    rfk_cli_common.h).
*/
#define _GNU_SOURCE
#include "rfk_cli_common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

/* The options every command takes, after its own in the help. */
static const rfk_cli_option_t s_common_help[] = {
    {"config", 0, "FILE", "read this Rafiki config file (admin.command_port, bus.*)", NULL, NULL},
    {"admin", 0, "HOST[:PORT]", "admin's address (default $RAFIKI_ADMIN, else 127.0.0.1)", NULL,
     NULL},
    {"timeout", 0, "SECONDS", "wait this long for each try of a request", NULL, NULL},
    {"json", 0, NULL, "print JSON for scripts instead of tables", NULL, NULL},
    {"help", 'h', NULL, "show this help", NULL, NULL},
    {NULL, 0, NULL, NULL, NULL, NULL}};

static void
s_option_lines (FILE *out, const rfk_cli_option_t *options)
{
    for (const rfk_cli_option_t *o = options; o && o->name; o++) {
        char left[64];
        if (o->short_name)
            snprintf (left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                      o->metavar ? " " : "", o->metavar ? o->metavar : "");
        else
            snprintf (left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                      o->metavar ? o->metavar : "");
        if (strlen (left) > 24)
            fprintf (out, "  %s\n  %-24s  %s\n", left, "", o->help);
        else
            fprintf (out, "  %-24s  %s\n", left, o->help);
    }
}

void
rfk_cli_help (const rfk_cli_command_t *cmd, FILE *out)
{
    fprintf (out, "usage: %s\n", cmd->usage);
    if (cmd->about)
        fprintf (out, "\n%s\n", cmd->about);
    if (cmd->operands_help)
        fprintf (out, "\n%s\n", cmd->operands_help);
    fprintf (out, "\noptions:\n");
    s_option_lines (out, cmd->options);
    s_option_lines (out, s_common_help);
}

/*  A usage error: the message, the usage line, a hint. */
static int
s_usage_error (const rfk_cli_command_t *cmd, const char *name, FILE *err, int *status_p,
               const char *format, ...) __attribute__ ((format (printf, 5, 6)));
static int
s_usage_error (const rfk_cli_command_t *cmd, const char *name, FILE *err, int *status_p,
               const char *format, ...)
{
    fprintf (err, "%s: ", name);
    va_list args;
    va_start (args, format);
    vfprintf (err, format, args);
    va_end (args);
    fprintf (err, "\nusage: %s\n(%s --help shows every option)\n", cmd->usage, name);
    *status_p = RFK_CLI_USAGE;
    return -1;
}

/*  The option called name (long) or short_name, among the command's and the
    common ones: *common_index is set to 0..3 for the common ones (config,
    admin, timeout, json), -1 otherwise. */
static const rfk_cli_option_t *
s_find_option (const rfk_cli_command_t *cmd, const char *name, size_t length, char short_name,
               int *common_index)
{
    *common_index = -1;
    for (const rfk_cli_option_t *o = cmd->options; o && o->name; o++)
        if ((name && strlen (o->name) == length && strncmp (o->name, name, length) == 0) ||
            (!name && short_name && o->short_name == short_name))
            return o;
    for (int i = 0; s_common_help[i].name; i++) {
        const rfk_cli_option_t *o = &s_common_help[i];
        if ((name && strlen (o->name) == length && strncmp (o->name, name, length) == 0) ||
            (!name && short_name && o->short_name == short_name)) {
            *common_index = i;
            return o;
        }
    }
    return NULL;
}

/*  Stores an option's value (or sets its flag) where it belongs. */
static void
s_store_option (rfk_cli_command_t *cmd, const rfk_cli_option_t *option, int common_index,
                const char *value)
{
    if (!option->metavar) {
        if (common_index == 3)
            cmd->common.json = true;
        else if (option->flag)
            *option->flag = true;
    } else if (common_index == 0)
        cmd->common.config_path = value;
    else if (common_index == 1)
        cmd->common.admin = value;
    else if (common_index == 2)
        cmd->common.timeout = value;
    else if (option->value)
        *option->value = value;
}

/*  Reads the option at argv[*i] (and its value, which may be the next
    argument). 0 to go on, 1 after printing the help, -1 after a usage
    error. */
static int
s_parse_option (rfk_cli_command_t *cmd, const char *name, int argc, char **argv, int *i, FILE *out,
                FILE *err, int *status_p)
{
    const char *arg = argv[*i];
    const rfk_cli_option_t *option;
    int common_index;
    const char *value = NULL;
    char shown[64];
    if (arg[1] == '-') {
        const char *option_name = arg + 2;
        const char *equals = strchr (option_name, '=');
        size_t length = equals ? (size_t)(equals - option_name) : strlen (option_name);
        option = s_find_option (cmd, option_name, length, 0, &common_index);
        snprintf (shown, sizeof shown, "--%.*s", (int)length, option_name);
        if (equals)
            value = equals + 1;
    } else {
        if (arg[2] != 0)
            return s_usage_error (cmd, name, err, status_p,
                                  "unknown option '%s' (long options take two dashes)", arg);
        option = s_find_option (cmd, NULL, 0, arg[1], &common_index);
        snprintf (shown, sizeof shown, "-%c", arg[1]);
    }
    if (!option)
        return s_usage_error (cmd, name, err, status_p, "unknown option '%s'", shown);
    if (strcmp (option->name, "help") == 0) {
        rfk_cli_help (cmd, out);
        *status_p = RFK_CLI_OK;
        return 1;
    }
    if (!option->metavar && value)
        return s_usage_error (cmd, name, err, status_p, "%s takes no value", shown);
    if (option->metavar && !value) {
        if (*i + 1 >= argc)
            return s_usage_error (cmd, name, err, status_p, "%s needs a value (%s)", shown,
                                  option->metavar);
        value = argv[++*i];
    }
    s_store_option (cmd, option, common_index, value);
    return 0;
}

/*  What is checked once every argument is read: enough operands, and a
    timeout that is a number of seconds. 0, or -1 after a usage error. */
static int
s_check_parsed (rfk_cli_command_t *cmd, const char *name, FILE *err, int *status_p)
{
    if (cmd->n_operands < cmd->min_operands)
        return s_usage_error (cmd, name, err, status_p, "missing %s",
                              cmd->min_operands - cmd->n_operands == 1 ? "an argument"
                                                                       : "arguments");
    if (cmd->common.timeout) {
        char *end;
        errno = 0;
        double seconds = strtod (cmd->common.timeout, &end);
        if (errno || end == cmd->common.timeout || *end || !(seconds > 0) || seconds > 3600)
            return s_usage_error (cmd, name, err, status_p,
                                  "--timeout: '%s' is not a number of seconds in (0, 3600]",
                                  cmd->common.timeout);
    }
    return 0;
}

int
rfk_cli_parse (rfk_cli_command_t *cmd, int argc, char **argv, FILE *out, FILE *err, int *status_p)
{
    const char *name = argc > 0 && argv[0] ? argv[0] : "rafiki";
    memset (&cmd->common, 0, sizeof cmd->common);
    cmd->n_operands = 0;
    *status_p = RFK_CLI_OK;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == 0) {
            /*  An operand ("-" alone is one too: stdin). */
            if (cmd->n_operands >= cmd->max_operands || cmd->n_operands >= RFK_CLI_MAX_OPERANDS)
                return s_usage_error (cmd, name, err, status_p, "unexpected argument '%s'", arg);
            cmd->operands[cmd->n_operands++] = arg;
        } else if (strcmp (arg, "--") == 0)
            options_done = true;
        else {
            int rc = s_parse_option (cmd, name, argc, argv, &i, out, err, status_p);
            if (rc != 0)
                return rc;
        }
    }
    return s_check_parsed (cmd, name, err, status_p);
}

int
rfk_cli_int (const char *what, const char *text, long min, long max, long *value_p)
{
    char *end;
    errno = 0;
    long value = text ? strtol (text, &end, 10) : 0;
    if (!text || errno || end == text || *end || value < min || value > max) {
        fprintf (stderr, "rafiki: %s: '%s' is not an integer in [%ld, %ld]\n", what,
                 text ? text : "", min, max);
        return -1;
    }
    *value_p = value;
    return 0;
}

rfk_sdk_t *
rfk_cli_connect (const rfk_cli_common_t *common)
{
    /*  czmq logs to stdout, which is the command's output (and JSON for
        scripts): its lines go to stderr with RAFIKI_DEBUG set, else
        nowhere; what went wrong is said by the command itself. */
    zsys_init ();
    const char *debug = getenv ("RAFIKI_DEBUG");
    zsys_set_logstream (debug && *debug && strcmp (debug, "0") ? stderr : NULL);
    rfk_sdk_options_t opts;
    rfk_sdk_options_init (&opts);
    opts.config_path = common->config_path;
    opts.admin = common->admin;
    if (common->timeout)
        opts.timeout_ms = (int)(strtod (common->timeout, NULL) * 1000 + 0.5);
    if (opts.timeout_ms == 0 && common->timeout)
        opts.timeout_ms = 1;
    char *token = rfk_cli_token_load ();
    opts.token = token;
    /*  Admin's key as `rafiki login` pinned it (RAFIKI_PINNED_KEY wins). */
    const char *env_key = getenv ("RAFIKI_PINNED_KEY");
    char *bus_key = env_key && *env_key ? NULL : rfk_cli_bus_key_load ();
    opts.bus_key = common->bus_key ? common->bus_key : bus_key;
    rfk_sdk_error_t error;
    rfk_sdk_t *sdk = rfk_sdk_new (&opts, &error);
    free (bus_key);
    if (token) {
        explicit_bzero (token, strlen (token));
        free (token);
    }
    if (!sdk)
        rfk_cli_fail (common, &error);
    return sdk;
}

int
rfk_cli_fail (const rfk_cli_common_t *common, const rfk_sdk_error_t *error)
{
    const char *message = error->message[0] ? error->message : rfk_sdk_code_name (error->code);
    fprintf (stderr, "rafiki: %s\n", message);
    if (error->code == RFK_SDK_UNAUTHORIZED) {
        char *token = rfk_cli_token_load ();
        if (!token)
            fprintf (stderr, "rafiki: not logged in: run `rafiki login EMAIL` first\n");
        else
            fprintf (stderr, "rafiki: the saved token was refused: `rafiki login EMAIL` again\n");
        free (token);
    }
    if (common && common->json) {
        json_t *doc = json_pack ("{s:{s:s,s:s}}", "error", "code", rfk_sdk_code_name (error->code),
                                 "message", message);
        rfk_cli_json (stdout, doc);
        json_decref (doc);
    }
    return RFK_CLI_FAILED;
}

int
rfk_cli_fail_text (const rfk_cli_common_t *common, rfk_sdk_code_t code, const char *format, ...)
{
    rfk_sdk_error_t error = {code, ""};
    va_list args;
    va_start (args, format);
    vsnprintf (error.message, sizeof error.message, format, args);
    va_end (args);
    return rfk_cli_fail (common, &error);
}

/* ---- output ----------------------------------------------------------------- */

char *
rfk_cli_cell (const json_t *value)
{
    char *text = NULL;
    if (!value || json_is_null (value))
        return strdup ("-");
    switch (json_typeof (value)) {
        case JSON_STRING:
            return strdup (json_string_value (value));
        case JSON_INTEGER:
            if (asprintf (&text, "%" JSON_INTEGER_FORMAT, json_integer_value (value)) < 0)
                return NULL;
            return text;
        case JSON_REAL:
            if (asprintf (&text, "%.6g", json_real_value (value)) < 0)
                return NULL;
            return text;
        case JSON_TRUE:
            return strdup ("yes");
        case JSON_FALSE:
            return strdup ("no");
        default:
            return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (15));
    }
}

json_t *
rfk_cli_get_path (const json_t *object, const char *path)
{
    const json_t *at = object;
    const char *part = path;
    while (at && part) {
        const char *dot = strchr (part, '.');
        size_t length = dot ? (size_t)(dot - part) : strlen (part);
        char key[128];
        if (length >= sizeof key || !json_is_object (at))
            return NULL;
        memcpy (key, part, length);
        key[length] = 0;
        at = json_object_get (at, key);
        part = dot ? dot + 1 : NULL;
    }
    return (json_t *)at;
}

/*  Display width of UTF-8 text, counting code points (good enough for
    names and ids). */
static size_t
s_width (const char *text)
{
    size_t width = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if ((*c & 0xC0) != 0x80)
            width++;
    return width;
}

/*  Cuts text to max code points, ending in "..." when cut; control
    characters (newlines in messages) become spaces. */
static void
s_fit (char *text, size_t max)
{
    for (char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    if (s_width (text) <= max || max < 4)
        return;
    size_t kept = 0;
    char *c = text;
    for (; *c; c++) {
        if ((*c & 0xC0) != 0x80) {
            if (kept == max - 3)
                break;
            kept++;
        }
    }
    strcpy (c, "...");
}

void
rfk_cli_table (FILE *out, const json_t *rows, const rfk_cli_column_t *columns, size_t n_columns)
{
    size_t n_rows = json_array_size (rows);
    if (n_rows == 0) {
        fprintf (out, "(none)\n");
        return;
    }
    char **cells = (char **)calloc ((n_rows + 1) * n_columns, sizeof (char *));
    size_t *widths = (size_t *)calloc (n_columns, sizeof (size_t));
    if (!cells || !widths) {
        free (cells);
        free (widths);
        return;
    }
    for (size_t c = 0; c < n_columns; c++) {
        cells[c] = strdup (columns[c].header);
        widths[c] = s_width (columns[c].header);
    }
    for (size_t r = 0; r < n_rows; r++)
        for (size_t c = 0; c < n_columns; c++) {
            char *text = rfk_cli_cell (rfk_cli_get_path (json_array_get (rows, r), columns[c].key));
            if (text)
                s_fit (text, columns[c].max_width > 0 ? (size_t)columns[c].max_width : 40);
            cells[(r + 1) * n_columns + c] = text;
            if (text && s_width (text) > widths[c])
                widths[c] = s_width (text);
        }
    for (size_t r = 0; r <= n_rows; r++) {
        for (size_t c = 0; c < n_columns; c++) {
            const char *text = cells[r * n_columns + c] ? cells[r * n_columns + c] : "?";
            if (c + 1 == n_columns)
                fprintf (out, "%s", text);
            else
                fprintf (out, "%s%*s", text, (int)(widths[c] - s_width (text) + 2), "");
        }
        fprintf (out, "\n");
    }
    for (size_t i = 0; i < (n_rows + 1) * n_columns; i++)
        free (cells[i]);
    free (cells);
    free (widths);
}

/*  An array whose items are all objects (and that has some). */
static bool
s_is_table (const json_t *value)
{
    if (!json_is_array (value) || json_array_size (value) == 0)
        return false;
    size_t index;
    json_t *item;
    json_array_foreach (value, index, item)
    {
        if (!json_is_object (item))
            return false;
    }
    return true;
}

/*  Prints an array of objects as a table of the union of their keys (whose
    values are not tables themselves), in first-seen order. */
static void
s_sub_table (FILE *out, const json_t *rows)
{
    json_t *keys = json_object ();
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row)
    {
        const char *key;
        json_t *value;
        json_object_foreach (row, key, value)
        {
            if (!s_is_table (value))
                json_object_set_new (keys, key, json_true ());
        }
    }
    size_t n = json_object_size (keys);
    rfk_cli_column_t *columns = (rfk_cli_column_t *)calloc (n ? n : 1, sizeof *columns);
    size_t c = 0;
    const char *key;
    json_t *value;
    json_object_foreach (keys, key, value)
    {
        if (columns)
            columns[c++] = (rfk_cli_column_t){key, key, 40};
    }
    if (columns)
        rfk_cli_table (out, rows, columns, c);
    free (columns);
    json_decref (keys);
}

void
rfk_cli_record (FILE *out, const json_t *record)
{
    if (!json_is_object (record)) {
        char *text = rfk_cli_cell (record);
        fprintf (out, "%s\n", text ? text : "");
        free (text);
        return;
    }
    size_t width = 0;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)record, key, value)
    {
        if (!s_is_table (value) && strlen (key) > width)
            width = strlen (key);
    }
    json_object_foreach ((json_t *)record, key, value)
    {
        if (s_is_table (value))
            continue;
        char *text = rfk_cli_cell (value);
        fprintf (out, "%-*s  %s\n", (int)width, key, text ? text : "?");
        free (text);
    }
    json_object_foreach ((json_t *)record, key, value)
    {
        if (!s_is_table (value))
            continue;
        fprintf (out, "\n%s:\n", key);
        s_sub_table (out, value);
    }
}

void
rfk_cli_json (FILE *out, const json_t *value)
{
    char *text = json_dumps (value, JSON_INDENT (2) | JSON_ENCODE_ANY);
    if (text) {
        fprintf (out, "%s\n", text);
        free (text);
    }
}

void
rfk_cli_show (const rfk_cli_common_t *common, const json_t *result, const char *list_key,
              const rfk_cli_column_t *columns, size_t n_columns)
{
    if (common->json)
        rfk_cli_json (stdout, result);
    else if (list_key && columns && json_is_array (json_object_get (result, list_key)))
        rfk_cli_table (stdout, json_object_get (result, list_key), columns, n_columns);
    else
        rfk_cli_record (stdout, result);
}

void
rfk_cli_bytes (char *buffer, size_t size, uint64_t bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf (buffer, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf (buffer, size, "%.1f %s", value, units[unit]);
}

void
rfk_cli_progress_text (char *buffer, size_t size, uint64_t sent, uint64_t total, int width)
{
    if (width < 1)
        width = 1;
    if (width > 200)
        width = 200;
    double fraction = total ? (double)sent / (double)total : 1.0;
    if (fraction > 1)
        fraction = 1;
    int filled = (int)(fraction * width);
    char bar[201];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    char done[32], all[32];
    rfk_cli_bytes (done, sizeof done, sent);
    rfk_cli_bytes (all, sizeof all, total);
    snprintf (buffer, size, "[%s] %3d%%  %s / %s", bar, (int)(fraction * 100), done, all);
}

int
rfk_cli_progress (uint64_t sent, uint64_t total, void *arg)
{
    if (!arg || !*(bool *)arg)
        return 0;
    char line[300];
    rfk_cli_progress_text (line, sizeof line, sent, total, 30);
    fprintf (stderr, "\r%s", line);
    if (sent >= total)
        fprintf (stderr, "\n");
    fflush (stderr);
    return 0;
}

bool
rfk_cli_progress_wanted (const rfk_cli_common_t *common, bool force)
{
    if (force)
        return true;
    return !common->json && isatty (STDOUT_FILENO) && isatty (STDERR_FILENO);
}

/* ---- the token file ---------------------------------------------------------------- */

char *
rfk_cli_token_path (void)
{
    const char *file = getenv ("RAFIKI_TOKEN_FILE");
    if (file && *file)
        return strdup (file);
    char *path = NULL;
    const char *config = getenv ("XDG_CONFIG_HOME");
    const char *home = getenv ("HOME");
    if (config && *config && config[0] == '/') {
        if (asprintf (&path, "%s/rafiki/token", config) < 0)
            return NULL;
    } else if (home && *home) {
        if (asprintf (&path, "%s/.config/rafiki/token", home) < 0)
            return NULL;
    }
    return path;
}

char *
rfk_cli_token_load (void)
{
    char *path = rfk_cli_token_path ();
    if (!path)
        return NULL;
    FILE *file = fopen (path, "re");
    free (path);
    if (!file)
        return NULL;
    char buffer[8192];
    size_t n = fread (buffer, 1, sizeof buffer - 1, file);
    fclose (file);
    buffer[n] = 0;
    /*  One line: the token; surrounding space is not part of it. */
    char *start = buffer;
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    char *end = start + strlen (start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    *end = 0;
    char *token = *start ? strdup (start) : NULL;
    explicit_bzero (buffer, sizeof buffer);
    return token;
}

/*  mkdir -p for the folders above path, new ones with mode 0700. */
static int
s_make_parents (const char *path)
{
    char copy[PATH_MAX];
    if (snprintf (copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return -1;
    for (char *slash = strchr (copy + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (copy, 0700) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    return 0;
}

/*  Writes token and a newline to path atomically, 0600. 0, or -1 with err. */
static int
s_save_private (char *path, const char *token, char *err, size_t errlen)
{
    char *tmp = NULL;
    int rc = -1;
    if (s_make_parents (path) != 0)
        snprintf (err, errlen, "cannot make the folder of %s: %s", path, strerror (errno));
    else if (asprintf (&tmp, "%s.XXXXXX", path) < 0)
        snprintf (err, errlen, "out of memory");
    else {
        /*  mkstemp makes the file 0600 before anything is written to it. */
        int fd = mkostemp (tmp, O_CLOEXEC);
        if (fd < 0)
            snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
        else {
            size_t length = strlen (token);
            bool written = fchmod (fd, 0600) == 0 && write (fd, token, length) == (ssize_t)length &&
                           write (fd, "\n", 1) == 1;
            if (close (fd) != 0)
                written = false;
            if (!written || rename (tmp, path) != 0) {
                snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
                unlink (tmp);
            } else
                rc = 0;
        }
    }
    free (tmp);
    return rc;
}

int
rfk_cli_token_save (const char *token, char *err, size_t errlen)
{
    char *path = rfk_cli_token_path ();
    if (!path) {
        snprintf (err, errlen, "no place for the token: set HOME or RAFIKI_TOKEN_FILE");
        return -1;
    }
    int rc = s_save_private (path, token, err, errlen);
    free (path);
    return rc;
}

char *
rfk_cli_bus_key_path (void)
{
    char *token = rfk_cli_token_path ();
    char *path = token ? zsys_sprintf ("%s.bus_key", token) : NULL;
    free (token);
    return path;
}

char *
rfk_cli_bus_key_load (void)
{
    char *path = rfk_cli_bus_key_path ();
    FILE *file = path ? fopen (path, "re") : NULL;
    zstr_free (&path);
    char line[128] = "";
    bool read = file && fgets (line, sizeof line, file) != NULL;
    if (file)
        fclose (file);
    line[strcspn (line, " \t\r\n")] = 0;
    return read && *line ? strdup (line) : NULL;
}

int
rfk_cli_bus_key_save (const char *key, char *err, size_t errlen)
{
    char *path = rfk_cli_bus_key_path ();
    if (!path) {
        snprintf (err, errlen, "no place for admin's bus key: set HOME or RAFIKI_TOKEN_FILE");
        return -1;
    }
    int rc = s_save_private (path, key, err, errlen);
    zstr_free (&path);
    return rc;
}

int
rfk_cli_token_remove (char *err, size_t errlen)
{
    char *path = rfk_cli_token_path ();
    if (!path)
        return 0;
    int rc = 1;
    if (unlink (path) != 0) {
        rc = errno == ENOENT ? 0 : -1;
        if (rc < 0)
            snprintf (err, errlen, "cannot remove %s: %s", path, strerror (errno));
    }
    free (path);
    return rc;
}
