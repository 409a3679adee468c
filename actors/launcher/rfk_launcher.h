/*  rfk_launcher.h: how admin runs the dynamic services (advisors, trainers, predictors,
    inference workers).

    One interface -- start a service from a spec, stop it, ask its status, read its logs --
    over backends: LOCAL (this file's rfk_launcher_new_local: child processes of admin) and,
    later, SWARM (Docker Swarm services). A service's handle is its id: admin already names
    every service by its store id, so the launcher keys everything on that string and no
    pointer into the launcher ever escapes.

    The launcher is driven by its owner's single-threaded loop, without threads or sleeps:

        rfk_launcher_t *launcher = rfk_launcher_new_local (&config, s_on_event, self);
        rfk_launcher_start (launcher, &spec);
        while (!terminated) {
            int64_t deadline = rfk_launcher_next_deadline (launcher);   // -1: none
            zmq_pollitem_t items [] = {{NULL, rfk_launcher_fd (launcher), ZMQ_POLLIN, 0}, ...};
            zmq_poll (items, n, deadline < 0 ? -1 : max (0, deadline - rfk_launcher_now ()));
            rfk_launcher_tick (launcher, rfk_launcher_now ());           // reports via s_on_event
        }
        rfk_launcher_stop_all (launcher);   // then keep ticking until rfk_launcher_live () == 0
        rfk_launcher_destroy (&launcher);   // kills and reaps whatever is left

    Calling tick when nothing happened is harmless, so an owner may also tick on every loop
    turn. Status changes are reported through the event callback from inside start, stop,
    stop_all and tick; the callback may call start and stop but never destroy.

    THE SECRET CONTRACT (what rafikid implements; rfk_launcher_read_secret does it):
    a service's per-service secret is never on its command line nor in its environment. The
    local backend writes it into a pipe before starting the child and hands the child the read
    end as an inherited descriptor whose number is in the environment variable
    RAFIKI_SECRET_FD (a decimal number, normally 3). The child reads the descriptor to end of
    file exactly once, early, before starting threads, closes it and uses the bytes read
    (no terminator, no newline, at most RFK_LAUNCHER_SECRET_MAX bytes) as its secret in HELLO.
    The pipe is readable only by the child (and by processes allowed to ptrace it). Where a
    descriptor cannot be inherited (the swarm backend: a Docker secret mounted under
    /run/secrets), RAFIKI_SECRET_FILE names a file holding the secret instead, read the same
    way; rfk_launcher_read_secret handles both, so rafikid needs no change between backends.

    Local services run in a session of their own (setsid), with nothing tying their life to
    admin's: when admin is killed (SIGKILL, a crash) they go on serving, and the next admin
    adopts them (rfk_launcher_adopt). Admin stops them itself when it stops cleanly.

    The child's command line is `<rafikid> <role> --service-id <id> [--config FILE]`. Its
    environment is built, not inherited, so that admin's own credentials (RAFIKI_* variables,
    database passwords) never reach a service: PATH, HOME, LANG, LC_ALL, TZ, TMPDIR,
    LD_LIBRARY_PATH and the sanitizer options are passed through when set, then
    RAFIKI_SERVICE_ID, RAFIKI_SERVICE_ROLE, RAFIKI_DATA_DIR and RAFIKI_SECRET_FD, then the
    spec's own env entries. Its stdin is /dev/null; stdout and stderr are appended to
    <data_dir>/logs/<service id>.log, where the launcher also writes one line per start and
    exit (prefixed "rafiki-launcher:").
*/
#ifndef RFK_LAUNCHER_H_INCLUDED
#define RFK_LAUNCHER_H_INCLUDED

#include "rfk_sandbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest secret the launcher hands over, in bytes.
#define RFK_LAUNCHER_SECRET_MAX 1024
//  Longest service id; ids may hold only A-Z a-z 0-9 . _ - (they name the log file).
#define RFK_LAUNCHER_ID_MAX 128
//  Most bytes rfk_launcher_logs reads from the end of a log file.
#define RFK_LAUNCHER_LOGS_MAX (1024 * 1024)

//  What the launcher knows about a service's process (admin rolls this into the service
//  status of API.md: RUNNING here means the process is up; the service itself says when it is
//  ready through its HELLO).
typedef enum {
    RFK_LAUNCHER_RUNNING = 1, //  the process is running
    RFK_LAUNCHER_RESTARTING,  //  it failed and will be started again after a backoff
    RFK_LAUNCHER_STOPPING,    //  it was asked to stop and has not exited yet
    RFK_LAUNCHER_STOPPED,     //  it exited with code 0, or after being asked to stop
    RFK_LAUNCHER_ERRORED      //  it failed more often than allowed, or cannot be started
} rfk_launcher_state_t;

//  What to run. Strings are borrowed for the duration of rfk_launcher_start only.
typedef struct {
    const char *id;          //  service id (store UUID); required, see RFK_LAUNCHER_ID_MAX
    const char *role;        //  rafikid role: advisor, trainer, predictor, inference; required
    const char *secret;      //  per-service secret, 1..RFK_LAUNCHER_SECRET_MAX bytes; required
    const char *config_path; //  passed as --config FILE when not NULL
    const char *data_dir;    //  overrides the launcher's data directory when not NULL
    const char *const *env;  //  NULL-terminated "NAME=value" entries added to the environment
    const char *image;       //  swarm: image to run; local: ignored
    double cpus;             //  resource hints (0: no limit): swarm reserves and limits them;
    int64_t memory_bytes;    //  local ignores them (a trainer bounds each trial's memory
    int gpus;                //  itself, and the sanitizers' address space defeats RLIMIT_AS)
    int published_port;      //  predictors: port published on the host (swarm: host mode)
    int published_port2;     //  predictors: a second one likewise (the ZeroMQ query port)
    //  local: run the service inside bubblewrap (rfk_sandbox.h) with the spec's read-only
    //  paths, uid and limits (rafikid and --config FILE are added; the network is kept);
    //  NULL: unsandboxed. swarm: only its ro_paths and rw_paths are used, as the parts of
    //  the data dir the container mounts (nothing else of it is mounted)
    const rfk_sandbox_spec_t *sandbox;
} rfk_launcher_spec_t;

//  A service's status as the launcher sees it.
typedef struct {
    rfk_launcher_state_t state; //  see above
    int pid;                    //  local: current process id, 0 when not running
    int64_t start_time;         //  local: pid's start time (field 22 of /proc/<pid>/stat), 0
                                //  when not running; with pid it names the process for good
    bool adopted;               //  local: a process a previous admin started (see adopt)
    int restarts;               //  restarts after failures since the last stable run
    int exit_code;              //  last exit code, -1 if none or killed by a signal
    int signal;                 //  last fatal signal, 0 if none
    char reason[256];           //  why it stopped or failed, "" while running
} rfk_launcher_status_t;

//  Receives every state change: the service id, its new state and a sentence saying why
//  ("exited with code 3; restarting in 200 ms (restart 1 of 3)").
typedef void (rfk_launcher_event_fn) (void *arg, const char *service_id, rfk_launcher_state_t state,
                                      const char *reason);

//  Settings of the local backend. Fill with rfk_launcher_local_config_defaults, then set
//  rafikid_path and data_dir.
typedef struct {
    const char *rafikid_path; //  the rafikid executable (absolute path); required
    const char *data_dir;     //  logs go to <data_dir>/logs/; required
    int max_restarts;         //  restarts after failures before ERRORED (default 3; 0: never)
    int backoff_ms;           //  delay before the first restart, doubled each time (200)
    int backoff_max_ms;       //  longest delay between restarts (10000)
    int grace_ms;             //  SIGTERM to SIGKILL on stop (5000)
    int stable_ms;            //  a run this long resets the restart count (60000)
    bool use_polling;         //  reap by asking for a tick every 100 ms instead of using
                              //  pidfds (automatic for a child whose pidfd_open fails)
} rfk_launcher_local_config_t;

typedef struct _rfk_launcher_t rfk_launcher_t;

//  Backend operations, for the swarm backend and for test doubles. `impl` is the backend's
//  own state; a backend reports changes through rfk_launcher_emit.
typedef struct {
    const char *name;
    void (*attach) (void *impl, rfk_launcher_t *launcher); //  called once by rfk_launcher_new
    int (*start) (void *impl, const rfk_launcher_spec_t *spec);
    int (*stop) (void *impl, const char *service_id);
    int (*stop_all) (void *impl);
    int (*status) (void *impl, const char *service_id, rfk_launcher_status_t *status);
    char *(*logs) (void *impl, const char *service_id, size_t max_lines);
    int (*forget) (void *impl, const char *service_id);
    int (*live) (void *impl);
    int (*fd) (void *impl);
    int64_t (*next_deadline) (void *impl);
    int (*tick) (void *impl, int64_t now);
    void (*destroy) (void *impl);
    //  take over a running process (rfk_launcher_adopt); NULL when the backend cannot
    int (*adopt) (void *impl, const char *service_id, const char *role, int pid,
                  int64_t start_time);
} rfk_launcher_backend_t;

//  The current time on the clock all launcher deadlines use (CLOCK_MONOTONIC, milliseconds;
//  the same clock as czmq's zclock_mono).
int64_t
rfk_launcher_now (void);

//  Fill a local backend configuration with the defaults above.
void
rfk_launcher_local_config_defaults (rfk_launcher_local_config_t *config);

//  Create a launcher with the local backend. Returns NULL when the configuration is invalid
//  (a message is printed to stderr). on_event may be NULL.
rfk_launcher_t *
rfk_launcher_new_local (const rfk_launcher_local_config_t *config, rfk_launcher_event_fn *on_event,
                        void *arg);

//  Create a launcher over any backend; the launcher owns impl from then on (also when this
//  fails) and calls backend->destroy on it. backend->attach tells the backend which launcher
//  to report its events to (rfk_launcher_emit). backend must outlive the launcher.
rfk_launcher_t *
rfk_launcher_new (const rfk_launcher_backend_t *backend, void *impl,
                  rfk_launcher_event_fn *on_event, void *arg);

//  Stop nothing gracefully: kill every live service (SIGKILL for local ones), reap them and
//  free the launcher. Safe with NULL and twice.
void
rfk_launcher_destroy (rfk_launcher_t **self_p);

//  The backend's name ("local", "swarm").
const char *
rfk_launcher_backend_name (rfk_launcher_t *self);

//  The backend's own state when the launcher runs that backend, else NULL (for a backend's
//  own extra calls, e.g. rfk_launcher_swarm_node_addr).
void *
rfk_launcher_backend_impl (rfk_launcher_t *self, const rfk_launcher_backend_t *backend);

//  Start a service. Returns 0 when it was started (its RUNNING event has been reported), -1
//  when the spec is invalid, the id is already live, or the process cannot be started at all
//  (see rfk_launcher_error).
int
rfk_launcher_start (rfk_launcher_t *self, const rfk_launcher_spec_t *spec);

//  Take over a service a previous admin started and that outlived it (local backend: a
//  process in a session of its own). The process must be alive and its start time (field 22
//  of /proc/<pid>/stat, see rfk_launcher_pid_start_time) equal start_time, so that a pid the
//  kernel gave to another process since is never mistaken for the service. An adopted process
//  is not our child: the launcher watches it through a pidfd (pidfd_open works on any process)
//  or, without one, kill (pid, 0) plus its start time, and cannot learn its exit status
//  (waitpid is for children only). It is stopped like the others (SIGTERM, SIGKILL after the
//  grace), is never restarted (its secret is not kept), and ends STOPPED when it was asked to
//  stop, else ERRORED. Returns 0 when adopted (it is RUNNING, no event is reported), -1 with
//  the error set when the process is gone or not that service, or the backend cannot adopt.
int
rfk_launcher_adopt (rfk_launcher_t *self, const char *service_id, const char *role, int pid,
                    int64_t start_time);

//  The start time of process pid in clock ticks since boot (field 22 of /proc/<pid>/stat), or
//  -1 when there is no such process, it is a zombie (exited, not yet reaped), or /proc cannot be
//  read.
int64_t
rfk_launcher_pid_start_time (int pid);

//  Ask a service to stop: SIGTERM now, SIGKILL after grace_ms; it is STOPPED once it exited.
//  Stopping a service that is not live does nothing. Returns -1 for an unknown id.
int
rfk_launcher_stop (rfk_launcher_t *self, const char *service_id);

//  Ask every live service to stop (admin does this when it stops). Returns 0.
int
rfk_launcher_stop_all (rfk_launcher_t *self);

//  Fill status for a service. Returns -1 for an unknown id.
int
rfk_launcher_status (rfk_launcher_t *self, const char *service_id, rfk_launcher_status_t *status);

//  Return the last max_lines lines of a service's log (at most RFK_LAUNCHER_LOGS_MAX bytes),
//  "" for an empty log; NULL when there is no log. The string is the caller's to free.
char *
rfk_launcher_logs (rfk_launcher_t *self, const char *service_id, size_t max_lines);

//  Drop a service that is no longer live from the launcher's table. Returns -1 if unknown
//  or still live.
int
rfk_launcher_forget (rfk_launcher_t *self, const char *service_id);

//  How many services are live (RUNNING, RESTARTING or STOPPING).
int
rfk_launcher_live (rfk_launcher_t *self);

//  A file descriptor that becomes readable when a service's process changed state; poll it
//  for input and call rfk_launcher_tick. -1 if the backend has none (then deadlines suffice).
int
rfk_launcher_fd (rfk_launcher_t *self);

//  The earliest time (rfk_launcher_now clock) at which rfk_launcher_tick has work to do:
//  a restart, a SIGKILL after grace. -1 when there is none.
int64_t
rfk_launcher_next_deadline (rfk_launcher_t *self);

//  Reap exited services, restart failed ones whose backoff ended, kill those past their
//  grace, and report every change. Returns 0.
int
rfk_launcher_tick (rfk_launcher_t *self, int64_t now);

//  Why the last call on this launcher failed, "" when it did not.
const char *
rfk_launcher_error (rfk_launcher_t *self);

//  The name of a state: "RUNNING", "RESTARTING", "STOPPING", "STOPPED", "ERRORED".
const char *
rfk_launcher_state_name (rfk_launcher_state_t state);

//  For backends: report a state change to the launcher's owner.
void
rfk_launcher_emit (rfk_launcher_t *self, const char *service_id, rfk_launcher_state_t state,
                   const char *reason);

//  For backends: record why a call failed (printf format).
void
rfk_launcher_set_error (rfk_launcher_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  For backends: true while a service in this state is live (RUNNING, RESTARTING, STOPPING).
bool
rfk_launcher_state_live (rfk_launcher_state_t state);

//  For backends: the last max_lines lines (all if 0) of text, within its last
//  RFK_LAUNCHER_LOGS_MAX bytes (a line cut by that limit is dropped), as a new string; NULL
//  when out of memory.
char *
rfk_launcher_last_lines (const char *text, size_t length, size_t max_lines);

//  For backends: the same of a regular file (a service's log); NULL when it cannot be read.
char *
rfk_launcher_tail_file (const char *path, size_t max_lines);

//  For backends: check a spec's fields every backend needs. Returns 0, or -1 with the error set.
int
rfk_launcher_spec_check (rfk_launcher_t *self, const rfk_launcher_spec_t *spec);

//  The child side of the secret contract: read the secret from the descriptor named by
//  RAFIKI_SECRET_FD (or else the file named by RAFIKI_SECRET_FILE), close it and unset the
//  variable. Returns a new string (the caller frees
//  it, ideally after sodium_memzero), or NULL with a message in error (if not NULL) when the
//  variable is missing or malformed, the read fails, or the secret is empty or too long.
char *
rfk_launcher_read_secret (char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
