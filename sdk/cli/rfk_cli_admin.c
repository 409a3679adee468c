/*  rfk_cli_admin.c: rafiki login, logout, me, users (list, create, ban) and
    stop-all.

    login keeps the token admin gives in the token file (rfk_cli_common.h)
    so that later commands are sent as that user; logout removes it. A
    password comes from --password, --password-stdin, $RAFIKI_PASSWORD or,
    on a terminal, a prompt that does not echo.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "rfk_cli.h"
#include "rfk_cli_common.h"
#include "rfk_config.h"

/* Longest password read from stdin or a prompt. */
#define S_PASSWORD_MAX 1024

static const rfk_cli_column_t s_user_columns[] = {
    {"EMAIL", "email", 40}, {"TYPE", "user_type", 16},           {"BANNED", "banned", 6},
    {"ID", "id", 36},       {"CREATED", "datetime_created", 24},
};

/*  Reads one line (the password) from fd into buffer, without its newline;
    with echo off when fd is a terminal and prompt is given. 0 or -1. */
static int
s_read_password (int fd, const char *prompt, char *buffer, size_t size)
{
    struct termios saved, quiet;
    bool terminal = prompt && tcgetattr (fd, &saved) == 0;
    if (terminal) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr (fd, TCSAFLUSH, &quiet);
        /*  A prompt that cannot be shown is not fatal. */
        ssize_t shown = write (fd, prompt, strlen (prompt));
        (void)shown;
    }
    size_t length = 0;
    int rc = 0;
    for (;;) {
        char c;
        ssize_t n = read (fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\n')
            break;
        if (length + 1 >= size) {
            rc = -1;
            break;
        }
        buffer[length++] = c;
    }
    if (length && buffer[length - 1] == '\r')
        length--;
    buffer[length] = 0;
    if (terminal) {
        tcsetattr (fd, TCSAFLUSH, &saved);
        ssize_t shown = write (fd, "\n", 1);
        (void)shown;
    }
    return rc;
}

/*  The password, from (in order) --password, --password-stdin,
    $RAFIKI_PASSWORD or a prompt on the terminal. Yours to free; NULL after
    printing why. */
static char *
s_password (const rfk_cli_common_t *common, const char *given, bool from_stdin, const char *prompt)
{
    if (given)
        return strdup (given);
    char buffer[S_PASSWORD_MAX];
    if (from_stdin) {
        if (s_read_password (STDIN_FILENO, NULL, buffer, sizeof buffer) != 0 || !buffer[0]) {
            rfk_cli_fail_text (common, RFK_SDK_BAD_REQUEST,
                               "--password-stdin: no password (one line) on standard input");
            return NULL;
        }
        char *password = strdup (buffer);
        explicit_bzero (buffer, sizeof buffer);
        return password;
    }
    const char *env = getenv ("RAFIKI_PASSWORD");
    if (env && *env)
        return strdup (env);
    int tty = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0 || !isatty (STDIN_FILENO)) {
        if (tty >= 0)
            close (tty);
        rfk_cli_fail_text (common, RFK_SDK_BAD_REQUEST,
                           "no password: give --password PASSWORD, --password-stdin or "
                           "RAFIKI_PASSWORD");
        return NULL;
    }
    int rc = s_read_password (tty, prompt, buffer, sizeof buffer);
    close (tty);
    if (rc != 0 || !buffer[0]) {
        rfk_cli_fail_text (common, RFK_SDK_BAD_REQUEST, "no password given");
        return NULL;
    }
    char *password = strdup (buffer);
    explicit_bzero (buffer, sizeof buffer);
    return password;
}

static void
s_free_password (char **password_p)
{
    if (*password_p) {
        explicit_bzero (*password_p, strlen (*password_p));
        free (*password_p);
        *password_p = NULL;
    }
}

/*  Where admin's HTTP front is: the host of --admin or RAFIKI_ADMIN (else
    admin.host, 127.0.0.1 for every interface) and admin.http_port. */
static int
s_http_address (const rfk_cli_common_t *common, char *host, size_t size, char *port, size_t psize,
                bool *curve)
{
    rfk_config_t *config = rfk_config_new ();
    if (!config || rfk_config_load (config, common->config_path) != 0) {
        rfk_config_destroy (&config);
        return -1;
    }
    const char *admin = common->admin ? common->admin : getenv ("RAFIKI_ADMIN");
    if (!admin || !*admin)
        admin = rfk_config_string (config, "admin", "host");
    if (!admin || !*admin || !strcmp (admin, "0.0.0.0") || !strcmp (admin, "*"))
        admin = "127.0.0.1";
    if (!strncmp (admin, "tcp://", 6))
        admin += 6;
    const char *colon = strrchr (admin, ':');
    size_t length = colon && !strchr (admin, ']') == !strchr (admin, '[') ? (size_t)(colon - admin)
                                                                          : strlen (admin);
    if (admin[0] == '[' && length > 2 && admin[length - 1] == ']')
        snprintf (host, size, "%.*s", (int)length - 2, admin + 1);
    else
        snprintf (host, size, "%.*s", (int)length, admin);
    snprintf (port, psize, "%lld", (long long)rfk_config_int (config, "admin", "http_port"));
    *curve = rfk_config_bool (config, "bus", "curve");
    rfk_config_destroy (&config);
    return 0;
}

/*  GET /bus_key from admin's HTTP front: the key (yours), "" when admin runs
    plaintext, or NULL with the reason in err. */
static char *
s_fetch_bus_key (const rfk_cli_common_t *common, char *err, size_t errlen)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found = NULL;
    bool curve = true;
    if (s_http_address (common, host, sizeof host, port, sizeof port, &curve) == 0 && !curve)
        return strdup (""); //  bus.curve off here: plaintext, nothing to pin
    if (s_http_address (common, host, sizeof host, port, sizeof port, &curve) != 0 ||
        getaddrinfo (host, port, &hints, &found) != 0 || !found) {
        snprintf (err, errlen, "cannot find admin's HTTP front");
        return NULL;
    }
    int fd = socket (found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval wait = {5, 0};
    char request[400], reply[8192];
    snprintf (request, sizeof request, "GET /bus_key HTTP/1.0\r\nHost: %s\r\n\r\n", host);
    size_t got = 0;
    if (fd >= 0 && setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) == 0 &&
        setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait) == 0 &&
        connect (fd, found->ai_addr, found->ai_addrlen) == 0 &&
        write (fd, request, strlen (request)) == (ssize_t)strlen (request)) {
        ssize_t n;
        while (got < sizeof reply - 1 && (n = read (fd, reply + got, sizeof reply - 1 - got)) > 0)
            got += (size_t)n;
    }
    reply[got] = 0;
    if (fd >= 0)
        close (fd);
    freeaddrinfo (found);
    const char *body = strstr (reply, "\r\n\r\n");
    json_t *doc = body && !strncmp (reply, "HTTP/1.", 7) && strstr (reply, " 200 ")
                      ? json_loads (body + 4, 0, NULL)
                      : NULL;
    const char *key = json_string_value (json_object_get (doc, "bus_key"));
    char *result = key                                              ? strdup (key)
                   : json_is_false (json_object_get (doc, "curve")) ? strdup ("")
                                                                    : NULL;
    if (!result)
        snprintf (err, errlen, "no answer from http://%.200s:%.10s/bus_key", host, port);
    json_decref (doc);
    return result;
}

/*  The key to pin for login: fetched over HTTP and compared with the one
    kept (as ssh does with host keys, a change is refused loudly). 0 with
    *key_p (NULL: let the SDK find one), or -1 when the key changed. */
static int
s_login_key (const rfk_cli_common_t *common, char **key_p)
{
    *key_p = NULL;
    const char *given = getenv ("RAFIKI_PINNED_KEY");
    if (given && *given)
        return 0; //  the key was given: nothing to fetch or compare
    char err[300];
    char *fetched = s_fetch_bus_key (common, err, sizeof err);
    char *kept = rfk_cli_bus_key_load ();
    char *path = rfk_cli_bus_key_path ();
    int rc = 0;
    if (!fetched)
        fprintf (stderr, "rafiki: %s; using the bus key already known\n", err);
    else if (kept && *fetched && strcmp (kept, fetched) != 0) {
        fprintf (stderr,
                 "rafiki: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "rafiki: @    WARNING: ADMIN'S BUS KEY HAS CHANGED!               @\n"
                 "rafiki: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
                 "rafiki: someone may be between you and admin (or admin got a new data\n"
                 "rafiki: folder). Kept: %s\nrafiki: Offered now: %s\n"
                 "rafiki: If you trust the change, remove %s and log in again.\n",
                 kept, fetched, path ? path : "the key file");
        rc = -1;
    } else if (*fetched) {
        if (!kept)
            fprintf (stderr, "rafiki: admin's bus key is %s (pinned from now on)\n", fetched);
        *key_p = fetched;
        fetched = NULL;
    }
    free (fetched);
    free (kept);
    free (path);
    return rc;
}

int
rfk_cli_login (int argc, char **argv)
{
    const char *password = NULL;
    bool from_stdin = false;
    const rfk_cli_option_t options[] = {{"password", 'p', "PASSWORD",
                                         "the password (visible to other users of this machine: "
                                         "prefer --password-stdin or RAFIKI_PASSWORD)",
                                         &password, NULL},
                                        {"password-stdin", 0, NULL,
                                         "read the password from the first line of standard input",
                                         NULL, &from_stdin},
                                        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki login [EMAIL] [--password PASSWORD | --password-stdin]",
        .about = "Logs in to admin and keeps the token in ~/.config/rafiki/token (or\n"
                 "$RAFIKI_TOKEN_FILE), readable by you only; later commands use it until it\n"
                 "expires or `rafiki logout`. Without a password option the password comes from\n"
                 "$RAFIKI_PASSWORD, else from a prompt on the terminal.",
        .options = options,
        .min_operands = 0,
        .max_operands = 1,
        .operands_help = "  EMAIL   the account (default $RAFIKI_EMAIL)",
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    const char *email = cmd.n_operands ? cmd.operands[0] : getenv ("RAFIKI_EMAIL");
    if (!email || !*email) {
        fprintf (stderr, "rafiki login: give the account's EMAIL (or set RAFIKI_EMAIL)\n");
        return RFK_CLI_USAGE;
    }
    char *secret = s_password (&cmd.common, password, from_stdin, "Password: ");
    if (!secret)
        return RFK_CLI_FAILED;
    char *bus_key = NULL;
    if (s_login_key (&cmd.common, &bus_key) != 0) {
        s_free_password (&secret);
        return RFK_CLI_FAILED;
    }
    cmd.common.bus_key = bus_key;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    if (!sdk) {
        s_free_password (&secret);
        free (bus_key);
        return RFK_CLI_FAILED;
    }
    json_t *token = rfk_sdk_login (sdk, email, secret);
    s_free_password (&secret);
    int rc = RFK_CLI_OK;
    if (!token)
        rc = rfk_cli_fail (&cmd.common, rfk_sdk_error (sdk));
    else {
        char err[512];
        char *path = rfk_cli_token_path ();
        const char *pinned = rfk_sdk_bus_key (sdk);
        if (rfk_cli_token_save (rfk_sdk_token (sdk), err, sizeof err) != 0 ||
            (pinned && rfk_cli_bus_key_save (pinned, err, sizeof err) != 0))
            rc = rfk_cli_fail_text (&cmd.common, RFK_SDK_IO, "logged in, but %s", err);
        else if (cmd.common.json)
            rfk_cli_json (stdout, token);
        else
            printf ("Logged in as %s (%s); token saved in %s\n", email,
                    json_string_value (json_object_get (token, "user_type")), path);
        free (path);
    }
    json_decref (token);
    rfk_sdk_destroy (&sdk);
    free (bus_key);
    return rc;
}

int
rfk_cli_logout (int argc, char **argv)
{
    rfk_cli_command_t cmd = {
        .usage = "rafiki logout",
        .about = "Forgets the saved token (removes the token file).",
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    char err[512];
    char *path = rfk_cli_token_path ();
    int rc = rfk_cli_token_remove (err, sizeof err);
    int status_out = RFK_CLI_OK;
    if (rc < 0)
        status_out = rfk_cli_fail_text (&cmd.common, RFK_SDK_IO, "%s", err);
    else if (cmd.common.json) {
        json_t *doc = json_pack ("{s:b}", "logged_out", rc == 1);
        rfk_cli_json (stdout, doc);
        json_decref (doc);
    } else
        printf (rc == 1 ? "Logged out (removed %s)\n" : "Not logged in (no %s)\n",
                path ? path : "token file");
    free (path);
    return status_out;
}

int
rfk_cli_me (int argc, char **argv)
{
    rfk_cli_command_t cmd = {.usage = "rafiki me", .about = "Shows who you are logged in as."};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (&cmd, &sdk, rfk_sdk_me (sdk), NULL, NULL, 0);
}

int
rfk_cli_users_list (int argc, char **argv)
{
    rfk_cli_command_t cmd = {.usage = "rafiki users list",
                             .about = "Lists the users (admins only)."};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    return rfk_cli_finish (&cmd, &sdk, rfk_sdk_users_list (sdk), "users", s_user_columns,
                           sizeof s_user_columns / sizeof s_user_columns[0]);
}

int
rfk_cli_users_create (int argc, char **argv)
{
    const char *password = NULL, *type = "APP_DEVELOPER";
    bool from_stdin = false;
    const rfk_cli_option_t options[] = {
        {"type", 't', "TYPE", "ADMIN, MODEL_DEVELOPER or APP_DEVELOPER (default APP_DEVELOPER)",
         &type, NULL},
        {"password", 'p', "PASSWORD", "the new user's password", &password, NULL},
        {"password-stdin", 0, NULL, "read the password from standard input", NULL, &from_stdin},
        {NULL, 0, NULL, NULL, NULL, NULL}};
    rfk_cli_command_t cmd = {
        .usage = "rafiki users create EMAIL [--type TYPE] [--password PASSWORD | "
                 "--password-stdin]",
        .about = "Creates a user (admins only; only the superadmin creates admins). Without a\n"
                 "password option the password comes from $RAFIKI_PASSWORD or a prompt.",
        .options = options,
        .min_operands = 1,
        .max_operands = 1,
        .operands_help = "  EMAIL   the new user's e-mail",
    };
    int status;
    if (rfk_cli_parse (&cmd, argc, argv, stdout, stderr, &status) != 0)
        return status;
    char *secret = s_password (&cmd.common, password, from_stdin, "New user's password: ");
    if (!secret)
        return RFK_CLI_FAILED;
    rfk_sdk_t *sdk = rfk_cli_connect (&cmd.common);
    json_t *user = sdk ? rfk_sdk_user_create (sdk, cmd.operands[0], secret, type) : NULL;
    s_free_password (&secret);
    if (!sdk)
        return RFK_CLI_FAILED;
    return rfk_cli_finish (&cmd, &sdk, user, NULL, NULL, 0);
}

int
rfk_cli_users_ban (int argc, char **argv)
{
    return rfk_cli_call_one (
        argc, argv, "rafiki users ban EMAIL",
        "Bans a user (admins only): they cannot log in, and their tokens stop working.",
        rfk_sdk_user_ban);
}

int
rfk_cli_stop_all (int argc, char **argv)
{
    rfk_cli_command_t cmd = {.usage = "rafiki stop-all",
                             .about = "Stops every train and inference job (superadmin only)."};
    int status;
    rfk_sdk_t *sdk = rfk_cli_open (&cmd, argc, argv, &status);
    if (!sdk)
        return status;
    json_t *stopped = rfk_sdk_stop_all (sdk);
    int rc = RFK_CLI_OK;
    if (!stopped)
        rc = rfk_cli_fail (&cmd.common, rfk_sdk_error (sdk));
    else if (cmd.common.json)
        rfk_cli_json (stdout, stopped);
    else
        printf ("Stopped %zu train job(s) and %zu inference job(s)\n",
                json_array_size (json_object_get (stopped, "train_jobs")),
                json_array_size (json_object_get (stopped, "inference_jobs")));
    json_decref (stopped);
    rfk_sdk_destroy (&sdk);
    return rc;
}
