/*  rfk_test (test/lib): helpers every test may use instead of its own copy.

    - wait until a condition holds, with a deadline: the condition is checked,
      then the test waits on its sockets (or on nothing) for at most a short
      step, never longer than the deadline; no sleep to "let things settle";
    - wait for a child process to end, with a deadline (a pidfd in poll);
    - wait for `<data_dir>/rafikid.ports`, the ports a `rafikid up` started
      with every port 0 really bound (actors/admin/README.md);
    - start the built rafikid (a service role, or `rafikid up` with every
      port 0), its environment the test's plus the variables given;
    - a temporary data directory under /tmp, removed with all it holds;
    - free endpoints: a ZeroMQ socket or a TCP listener bound to port 0 on
      127.0.0.1, and the endpoint or port it got. A port is never chosen
      first and bound later.

    The fake admin (`service` family) is rfk_test_admin.h, the fake
    inference workers rfk_test_worker.h.
*/
#ifndef RFK_TEST_H_INCLUDED
#define RFK_TEST_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A condition to wait for; arg is the caller's. */
typedef bool (rfk_test_cond_fn) (void *arg);

/* Checks cond until it holds or timeout_ms passed, waiting between checks
   on poller (its sockets' input, which the condition is expected to
   consume) or, with poller NULL, on nothing, for at most 20 ms at a time.
   Returns cond's last answer. */
bool
rfk_test_wait_until (rfk_test_cond_fn *cond, void *arg, zpoller_t *poller, int timeout_ms);

/* Waits at most timeout_ms for something that may change a condition (the
   next event of an SDK watch, a launcher's next deadline); arg is the
   caller's. */
typedef void (rfk_test_wake_fn) (void *arg, int timeout_ms);

/* Checks cond until it holds or timeout_ms passed, calling wake (with
   the milliseconds left) between checks: for tests whose source of change
   is not a socket. Returns cond's last answer. */
bool
rfk_test_wait_for (rfk_test_cond_fn *cond, void *arg, rfk_test_wake_fn *wake, void *wake_arg,
                   int timeout_ms);

/* For a fake served by another thread: checks cond with lock held, waiting
   on changed (which the thread broadcasts, holding lock, when the state
   changes) until cond holds or timeout_ms passed. Returns cond's last
   answer. */
bool
rfk_test_wait_locked (pthread_mutex_t *lock, pthread_cond_t *changed, rfk_test_cond_fn *cond,
                      void *arg, int timeout_ms);

/* Milliseconds left until deadline (zclock_mono time), 0 once it passed. */
int
rfk_test_left_ms (int64_t deadline);

/* Waits at most timeout_ms for child pid to end. Its exit status (128 +
   signal when a signal ended it), or -1 on timeout, after killing it
   (SIGKILL) and reaping it. */
int
rfk_test_wait_child (pid_t pid, int timeout_ms);

/* The ports a `rafikid up` bound, from <data_dir>/rafikid.ports. */
typedef struct {
    int http;    /* admin's HTTP front; 0 without one */
    int command; /* the `command` ROUTER (SDK, CLI) */
    int service; /* the `service` ROUTER (workers) */
    int events;  /* the `events` XPUB */
} rfk_test_ports_t;

/* Waits at most timeout_ms for <data_dir>/rafikid.ports and reads it.
   0, or -1 when it did not come in time, or pid (when > 0) ended first,
   or the file is malformed. */
int
rfk_test_wait_ports (const char *data_dir, pid_t pid, int timeout_ms, rfk_test_ports_t *ports);

/* Starts the built rafikid with args (NULL-ended, after argv[0]). Its
   environment is the test's without any RAFIKI_* variable, plus vars
   (NAME=value, NULL-ended, replacing a variable of the same name, e.g.
   ASAN_OPTIONS). Its signal mask is cleared; with own_session it leads a
   session of its own, so nothing signalled to the test's process group
   reaches it. The pid, or -1. */
pid_t
rfk_test_rafikid_spawn (const char *const *args, const char *const *vars, bool own_session);

/* How to start `rafikid up` (rfk_test_up_spawn). */
typedef struct {
    const char *data_dir;    /* RAFIKI_DATA_DIR */
    const char *password;    /* RAFIKI_SUPERADMIN_PASSWORD, or NULL */
    const char *const *args; /* after "up" (e.g. "--dev"), NULL-ended, or NULL */
    const char *const *vars; /* more NAME=value, NULL-ended, or NULL */
    bool own_session;        /* a session of its own (rfk_test_rafikid_spawn) */
} rfk_test_up_t;

/* Starts `rafikid up` with every admin port 0 (wait for them with
   rfk_test_wait_ports), logs not on stderr. The pid, or -1. */
pid_t
rfk_test_up_spawn (const rfk_test_up_t *up);

/* Makes a new directory /tmp/rfk-<name>-XXXXXX; its path (free with
   rfk_test_tmpdir_destroy), or NULL. */
char *
rfk_test_tmpdir_new (const char *name);

/* The same under parent (e.g. the build folder, where a failed test's
   logs stay to be read): parent/<name>-XXXXXX. */
char *
rfk_test_tmpdir_under (const char *parent, const char *name);

/* Removes the directory and everything under it, frees the path and
   nulls it. Safe with NULL. 0, or -1 when something was left behind. */
int
rfk_test_tmpdir_destroy (char **dir_p);

/* Removes path and, for a directory, everything under it (links are
   removed, not followed). 0, or -1 when something could not be removed. */
int
rfk_test_tree_remove (const char *path);

/* A ZeroMQ socket of type (ZMQ_ROUTER, ...) bound to tcp://127.0.0.1:*; the
   endpoint it got is written to endpoint. NULL when it cannot bind. */
zsock_t *
rfk_test_bind (int type, char *endpoint, size_t size);

/* A TCP socket listening on 127.0.0.1 port 0; *port is the port it got.
   The descriptor, or -1. Hand the descriptor (not the number) on, or keep
   it open for as long as the port must stay yours. */
int
rfk_test_listen (int *port);

/* A one-connection HTTP server in a thread, on 127.0.0.1 and a port the
   kernel picked: it reads one request's headers and writes `response` as
   given (status line, headers, body); with hold it then keeps the
   connection and notes whether the client closed it within 20 s. */
typedef struct {
    int listener;         /* the listening socket */
    int port;             /* its port */
    const char *response; /* what it writes (borrowed; must outlive the server) */
    bool hold;            /* keep the connection open after writing */
    bool peer_closed;     /* hold: the client closed it (read after join) */
    pthread_t thread;     /* the server */
} rfk_test_http_once_t;

/* Start it; 0, or -1. */
int
rfk_test_http_once_start (rfk_test_http_once_t *server, const char *response, bool hold);
/* Wait for its one connection to end, and close it. */
void
rfk_test_http_once_join (rfk_test_http_once_t *server);

/* Takes the machine-wide lock /tmp/rafiki-test-<name>.lock, for a test
   that uses something one machine has once (the host's Docker engine and
   its fixed service names), waiting up to timeout_ms for another test
   process that holds it. The lock is held until this process exits (its
   descriptor stays open on purpose). 0, or -1 (with errno) when it was not
   free in time or could not be opened. */
int
rfk_test_machine_lock (const char *name, int timeout_ms);

/* The rows of an iris CSV (sepal_length, sepal_width, petal_length,
   petal_width, class; a header first) as queries, feature maps: at most max
   of them, and each row's class in labels[] when labels is not NULL (room
   for max). A new array, or NULL when the file cannot be read. */
json_t *
rfk_test_iris_queries (const char *path, int *labels, int max);

/* The port of "scheme://host:port", or 0. */
int
rfk_test_endpoint_port (const char *endpoint);

#endif
