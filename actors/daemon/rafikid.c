/*  rafikid: the daemon that hosts Rafiki-C's actors by role.

    rafikid [--config FILE] ROLE [--service-id ID] [OPERAND...]
    rafikid check-template FILE TASK

    The second form is the template check admin runs (it loads the
    template, writes one JSON report to stdout and exits; see
    actors/template_check/rfk_check_template.h): a program of its own, so admin
    never runs template code, and rafikid is what every deployment already
    has where admin runs.

    It loads the configuration (built-in defaults, the --config file if
    given, RAFIKI_* variables), opens <data_dir>/logs/ROLE[-ID].log, starts
    the role's actor and waits for SIGTERM/SIGINT or for the actor to end
    (see rfk_role.h for the pipe protocol). On a signal it destroys the actor
    ("$TERM") and exits 0.

    SIGINT and SIGTERM are blocked in every thread from the first line of
    main and read through a signalfd in the main loop, so no thread is ever
    interrupted and no handler runs. Children made with fork () get them
    unblocked again (pthread_atfork), and SIGPIPE, ignored by rafikid, back
    to its default; a role that starts programs with posix_spawn () must pass
    POSIX_SPAWN_SETSIGMASK with an empty mask and POSIX_SPAWN_SETSIGDEF with
    SIGPIPE.

    Exit status: 0 after a clean stop, 1 for a configuration or runtime
    error, 2 for a usage error (unknown role or option).
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_admin.h"
#include "rfk_advisor.h"
#include "rfk_config.h"
#include "rfk_launcher.h"
#include "rfk_log.h"
#include "rfk_noop.h"
#include "rfk_role.h"
#include "rfk_check_template.h"
#include "rfk_trainer.h"
#include "rfk_predictor.h"
#include "rfk_inference.h"

#ifndef RFK_VERSION
#define RFK_VERSION "unknown"
#endif

//  One role: its name on the command line, its actor, one line of help.
typedef struct {
    const char *name;
    zactor_fn *actor;
    const char *help;
} s_role_t;

//  The roles rafikid can host; each later role is one line here.
static const s_role_t s_roles[] = {
    {"noop", rfk_noop_actor,
     "an actor that only answers its pipe (tests the daemon) [done|fail|stuck]"},
    {"admin", rfk_admin_actor, "admin: users, datasets, models, jobs; store.url and launcher.*"},
    {"up", rfk_admin_actor, "the embedded platform: admin, SQLite under data_dir, local services"},
    {"advisor", rfk_advisor_actor, "proposes the trials of one sub train job (ROUTER advice)"},
    {"trainer", rfk_trainer_actor, "runs the trials its advisor proposes, one at a time"},
    {"predictor", rfk_predictor_actor, "answers queries over HTTP and ZeroMQ (HTTP, ROUTER query)"},
    {"inference", rfk_inference_actor,
     "holds one trained model and predicts the predictor's batches"},
};

#define S_ROLES (sizeof (s_roles) / sizeof (s_roles[0]))

enum { S_EXIT_OK = 0, S_EXIT_ERROR = 1, S_EXIT_USAGE = 2 };
enum { S_OPT_PRINT_CONFIG = 256, S_OPT_DEV };

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: rafikid [OPTION...] ROLE [OPERAND...]\n"
                  "       rafikid check-template FILE TASK\n"
                  "Host one Rafiki-C role as a czmq actor until SIGTERM or SIGINT; or check a\n"
                  "model template and print its report as JSON (what admin runs on uploads).\n\n"
                  "Roles:\n");
    for (size_t index = 0; index < S_ROLES; index++)
        fprintf (out, "  %-12s %s\n", s_roles[index].name, s_roles[index].help);
    fprintf (out,
             "\nOptions:\n"
             "  -c, --config FILE      read this YAML configuration file; without it: the\n"
             "                         built-in defaults and RAFIKI_* variables only\n"
             "  -s, --service-id ID    the service this process runs (given by the launcher);\n"
             "                         letters, digits, '.', '_', '-'\n"
             "      --print-config     print the effective configuration and exit\n"
             "      --dev              admin, up: allow development defaults (a well-known\n"
             "                         superadmin password), loudly\n"
             "  -h, --help             print this help and exit\n"
             "  -V, --version          print the version and exit\n\n"
             "Configuration: defaults < --config FILE < RAFIKI_<SECTION>_<KEY> variables\n"
             "(see config/rafiki.yaml). Logs: <data_dir>/logs/ROLE[-ID].log and stderr.\n"
             "Exit status: 0 clean stop, 1 configuration or runtime error, 2 usage error.\n");
}

static const s_role_t *
s_role_find (const char *name)
{
    for (size_t index = 0; index < S_ROLES; index++)
        if (streq (s_roles[index].name, name))
            return &s_roles[index];
    return NULL;
}

//  Dynamic services get a per-service secret from the launcher (rfk_launcher.h).
static bool
s_is_service_role (const char *name)
{
    return streq (name, "advisor") || streq (name, "trainer") || streq (name, "predictor") ||
           streq (name, "inference");
}

static bool
s_valid_id (const char *id)
{
    size_t length = strlen (id);
    if (length == 0 || length > 100 || id[0] == '.')
        return false;
    for (const char *c = id; *c; c++)
        if (!isalnum ((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return true;
}

//  Each line of the configuration's error text, prefixed with the program.
static void
s_print_errors (const char *text)
{
    while (text && *text) {
        const char *newline = strchr (text, '\n');
        int length = newline ? (int)(newline - text) : (int)strlen (text);
        fprintf (stderr, "rafikid: %.*s\n", length, text);
        text = newline ? newline + 1 : text + length;
    }
}

//  In a forked child, SIGINT and SIGTERM act as usual again.
static void
s_unblock_in_child (void)
{
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_UNBLOCK, &stop_signals, NULL);
    signal (SIGPIPE, SIG_DFL);
}

//  Send $TERM and wait for the actor's end at most timeout_ms; an actor
//  that does not stop leaves the process no clean way out, so it ends
//  at once (its threads and sockets die with it). Returns the exit status.
static int
s_stop (zactor_t **actor_p, const char *role, int timeout_ms)
{
    zsock_t *pipe = zactor_sock (*actor_p);
    zsock_set_sndtimeo (pipe, timeout_ms);
    zsock_set_rcvtimeo (pipe, timeout_ms);
    if (zstr_send (pipe, "$TERM") != 0 || zsock_wait (pipe) < 0) {
        rfk_log_error ("rafikid", "stop-timeout role=%s waited_ms=%d", role, timeout_ms);
        rfk_log_close ();
        _exit (S_EXIT_ERROR);
    }
    //  The actor has ended: destroying it must not wait for another signal.
    zsock_set_sndtimeo (pipe, 0);
    zsock_set_rcvtimeo (pipe, 0);
    zactor_destroy (actor_p);
    rfk_log_info ("rafikid", "stopped role=%s", role);
    return S_EXIT_OK;
}

//  Wait for a stop signal or the actor's end; destroy the actor; return the
//  exit status.
static int
s_run (zactor_t **actor_p, const char *role, int signal_fd, int stop_timeout_ms)
{
    zactor_t *actor = *actor_p;
    bool done = false, failed = false;
    zmq_pollitem_t items[] = {
        {NULL, signal_fd, ZMQ_POLLIN, 0},
        {zsock_resolve (zactor_sock (actor)), 0, ZMQ_POLLIN, 0},
    };
    while (true) {
        if (zmq_poll (items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            rfk_log_error ("rafikid", "poll-failed role=%s error=\"%s\"", role,
                           zmq_strerror (errno));
            s_stop (actor_p, role, stop_timeout_ms);
            return S_EXIT_ERROR;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo info;
            ssize_t size = read (signal_fd, &info, sizeof info);
            if (size != (ssize_t)sizeof info)
                continue;
            rfk_log_info ("rafikid", "stopping role=%s signal=%s", role,
                          info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
            return s_stop (actor_p, role, stop_timeout_ms);
        }
        if (!(items[1].revents & ZMQ_POLLIN))
            continue;
        zmsg_t *msg = zmsg_recv (actor);
        if (!msg)
            continue;
        if (zmsg_signal (msg) >= 0) {
            //  The actor returned; its thread already signalled, so do not
            //  wait for another signal while destroying it.
            zmsg_destroy (&msg);
            zsock_set_sndtimeo (zactor_sock (actor), 0);
            zsock_set_rcvtimeo (zactor_sock (actor), 0);
            zactor_destroy (actor_p);
            if (done) {
                rfk_log_info ("rafikid", "finished role=%s", role);
                return S_EXIT_OK;
            }
            if (!failed)
                rfk_log_error ("rafikid", "ended role=%s reason=\"the actor returned by itself\"",
                               role);
            return S_EXIT_ERROR;
        }
        char *command = zmsg_popstr (msg);
        if (command && streq (command, "DONE"))
            done = true;
        else if (command && streq (command, "FAILED")) {
            char *reason = zmsg_popstr (msg);
            rfk_log_error ("rafikid", "failed role=%s reason=\"%s\"", role,
                           reason ? reason : "none given");
            zstr_free (&reason);
            failed = true;
        } else
            rfk_log_warning ("rafikid", "RFK-MALFORMED role=%s pipe-command=%s", role,
                             command ? command : "(none)");
        zstr_free (&command);
        zmsg_destroy (&msg);
    }
}

//  What the command line asks for.
typedef struct {
    const char *config_path; //  --config FILE, or NULL
    const char *service_id;  //  --service-id ID, or NULL
    bool print_config;       //  --print-config
    bool dev;                //  --dev
    const s_role_t *role;    //  the role named (NULL with --print-config)
} s_command_t;

//  Read the options into command. Returns -1 to go on, or the exit code (after --help,
//  --version, or a usage error, said on stderr).
static int
s_parse_options (int argc, char **argv, s_command_t *command)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"service-id", required_argument, NULL, 's'},
        {"print-config", no_argument, NULL, S_OPT_PRINT_CONFIG},
        {"dev", no_argument, NULL, S_OPT_DEV},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":c:s:hV", options, NULL)) != -1) {
        switch (option) {
            case 'c':
                command->config_path = optarg;
                break;
            case 's':
                command->service_id = optarg;
                break;
            case S_OPT_PRINT_CONFIG:
                command->print_config = true;
                break;
            case S_OPT_DEV:
                command->dev = true;
                break;
            case 'h':
                s_usage (stdout);
                return S_EXIT_OK;
            case 'V':
                printf ("rafikid %s\n", RFK_VERSION);
                return S_EXIT_OK;
            case ':':
                fprintf (stderr, "rafikid: option '%s' needs a value (see rafikid --help)\n",
                         argv[optind - 1]);
                return S_EXIT_USAGE;
            default:
                fprintf (stderr, "rafikid: unknown option '%s' (see rafikid --help)\n",
                         argv[optind - 1]);
                return S_EXIT_USAGE;
        }
    }
    return -1;
}

//  Find the role named after the options and check the service id. Returns -1 to go on, or
//  S_EXIT_USAGE (said on stderr).
static int
s_check_command (int argc, char **argv, s_command_t *command)
{
    if (!command->print_config) {
        if (optind >= argc) {
            fprintf (stderr, "rafikid: no role given (see rafikid --help)\n");
            return S_EXIT_USAGE;
        }
        command->role = s_role_find (argv[optind]);
        if (!command->role) {
            fprintf (stderr, "rafikid: unknown role '%s'; roles:", argv[optind]);
            for (size_t index = 0; index < S_ROLES; index++)
                fprintf (stderr, " %s", s_roles[index].name);
            fprintf (stderr, " (see rafikid --help)\n");
            return S_EXIT_USAGE;
        }
    }
    if (command->service_id && !s_valid_id (command->service_id)) {
        fprintf (stderr,
                 "rafikid: --service-id '%s': use 1 to 100 letters, digits, '.', '_' or '-', "
                 "not starting with '.'\n",
                 command->service_id);
        return S_EXIT_USAGE;
    }
    return -1;
}

//  Open the log, run the role's actor until a stop signal arrives on signal_fd (or the actor
//  ends) and close the log. Returns the exit status.
static int
s_serve (const s_command_t *command, rfk_config_t *config, char *secret, int signal_fd, int argc,
         char **argv)
{
    const char *role = command->role->name;
    const char *service_id = command->service_id;
    char service[256];
    if (service_id)
        snprintf (service, sizeof service, "%s-%s", role, service_id);
    else
        snprintf (service, sizeof service, "%s", role);
    //  Admin's files (its log, the store, keys, uploads) are its own alone
    //  (issue 13); the services it starts inherit the mask.
    if (streq (role, "admin") || streq (role, "up"))
        umask (077);
    if (rfk_log_open (config, service) != 0) {
        fprintf (stderr, "rafikid: cannot open the log file %s: %s\n", rfk_log_file (),
                 strerror (errno));
        return S_EXIT_ERROR;
    }
    rfk_log_info ("rafikid", "starting role=%s service-id=%s pid=%d version=%s config=%s", role,
                  service_id ? service_id : "-", (int)getpid (), RFK_VERSION,
                  command->config_path ? command->config_path : "(defaults)");
    rfk_role_args_t args = {
        .config = config,
        .role = role,
        .service_id = service_id,
        .argc = argc - optind - 1,
        .argv = argv + optind + 1,
        .secret = secret,
        .dev = command->dev,
    };
    //  Admin hands a service its bus keys after its secret, through the
    //  same channel: "SECRET KEYS" (rfk_curve_keys_parse reads KEYS).
    char *keys = secret ? strchr (secret, ' ') : NULL;
    if (keys) {
        *keys++ = '\0';
        args.curve = keys;
    }
    int status = S_EXIT_ERROR;
    zactor_t *actor = zactor_new (command->role->actor, &args);
    if (actor) {
        rfk_log_info ("rafikid", "started role=%s log=%s", role, rfk_log_file ());
        status =
            s_run (&actor, role, signal_fd, (int)rfk_config_int (config, "", "stop_timeout_ms"));
    } else
        rfk_log_error ("rafikid", "cannot start role=%s", role);
    if (keys)
        keys[-1] = ' '; //  whole again, so that s_secret_free wipes the keys too
    rfk_log_close ();
    return status;
}

//  Free a secret after wiping it.
static void
s_secret_free (char *secret)
{
    if (secret) {
        explicit_bzero (secret, strlen (secret));
        free (secret);
    }
}

int
main (int argc, char **argv)
{
    //  The template check (admin execs it; rfk_check_template.h) is a
    //  program of its own: no configuration, log, signal mask or actor.
    if (argc >= 2 && streq (argv[1], "check-template"))
        rfk_check_template_main (argc - 1, argv + 1);
    //  Before any thread exists, so that every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    pthread_atfork (NULL, NULL, s_unblock_in_child);
    //  A closed stderr or log reader must not kill the daemon.
    signal (SIGPIPE, SIG_IGN);

    s_command_t command = {NULL, NULL, false, false, NULL};
    int exit_code = s_parse_options (argc, argv, &command);
    if (exit_code < 0)
        exit_code = s_check_command (argc, argv, &command);
    if (exit_code >= 0)
        return exit_code;

    //  Before the first socket: the link to admin gets an I/O thread of its
    //  own, so that resolving admin's name stalls no other socket (rfk_bus.h).
    zsys_set_io_threads (RFK_BUS_IO_THREADS);
    rfk_config_t *config = rfk_config_new ();
    if (!config) {
        fprintf (stderr, "rafikid: out of memory\n");
        return S_EXIT_ERROR;
    }
    if (rfk_config_load (config, command.config_path) != 0) {
        s_print_errors (rfk_config_error (config));
        rfk_config_destroy (&config);
        return S_EXIT_ERROR;
    }
    if (command.print_config) {
        int rc = rfk_config_dump (config, stdout);
        rfk_config_destroy (&config);
        return rc == 0 ? S_EXIT_OK : S_EXIT_ERROR;
    }

    //  A service reads its secret once, before any thread starts (the launcher's contract).
    //  A standalone one (no --service-id) reads it only when one is handed over, for
    //  its bus keys (benches and debugging: "SECRET KEYS", rfk_curve_keys_format).
    char *secret = NULL;
    bool handed = getenv ("RAFIKI_SECRET_FD") || getenv ("RAFIKI_SECRET_FILE");
    if ((command.service_id || handed) && s_is_service_role (command.role->name)) {
        char secret_error[512];
        secret = rfk_launcher_read_secret (secret_error, sizeof secret_error);
        if (!secret) {
            fprintf (stderr, "rafikid: %s --service-id %s: %s\n", command.role->name,
                     command.service_id ? command.service_id : "-", secret_error);
            rfk_config_destroy (&config);
            return S_EXIT_ERROR;
        }
    }

    //  Signals stay blocked; the main loop reads them from this descriptor.
    int status = S_EXIT_ERROR;
    int signal_fd = signalfd (-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd < 0)
        fprintf (stderr, "rafikid: signalfd: %s\n", strerror (errno));
    else {
        zsys_handler_set (NULL); //  czmq must not install its own handlers
        status = s_serve (&command, config, secret, signal_fd, argc, argv);
        close (signal_fd);
    }
    rfk_config_destroy (&config);
    s_secret_free (secret);
    return status;
}
