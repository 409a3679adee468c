/*  rfk_test.c: waits with deadlines, ports files, temporary directories and
    free endpoints for the tests; see rfk_test.h. */
#define _GNU_SOURCE
#include "rfk_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_STEP_MS 20 /* the longest wait between two checks of a condition */

int
rfk_test_left_ms (int64_t deadline)
{
    int64_t left = deadline - zclock_mono ();
    return left > 0 ? (int)left : 0;
}

bool
rfk_test_wait_until (rfk_test_cond_fn *cond, void *arg, zpoller_t *poller, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    bool holds = cond (arg);
    while (!holds && rfk_test_left_ms (deadline) > 0) {
        int step = rfk_test_left_ms (deadline);
        if (step > S_STEP_MS)
            step = S_STEP_MS;
        if (poller)
            zpoller_wait (poller, step);
        else
            zmq_poll (NULL, 0, step);
        holds = cond (arg);
    }
    return holds;
}

bool
rfk_test_wait_for (rfk_test_cond_fn *cond, void *arg, rfk_test_wake_fn *wake, void *wake_arg,
                   int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    bool holds = cond (arg);
    while (!holds && rfk_test_left_ms (deadline) > 0) {
        wake (wake_arg, rfk_test_left_ms (deadline));
        holds = cond (arg);
    }
    return holds;
}

bool
rfk_test_wait_locked (pthread_mutex_t *lock, pthread_cond_t *changed, rfk_test_cond_fn *cond,
                      void *arg, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock (lock);
    bool holds = cond (arg);
    int rc = 0;
    while (!holds && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait (changed, lock, &deadline);
        holds = cond (arg);
    }
    pthread_mutex_unlock (lock);
    return holds;
}

int
rfk_test_wait_child (pid_t pid, int timeout_ms)
{
    int status = 0;
    int fd = (int)syscall (SYS_pidfd_open, pid, 0);
    int ready = 1;
    if (fd >= 0) {
        struct pollfd item = {fd, POLLIN, 0};
        do
            ready = poll (&item, 1, timeout_ms);
        while (ready < 0 && errno == EINTR);
        close (fd);
    }
    if (ready <= 0) {
        kill (pid, SIGKILL);
        waitpid (pid, &status, 0);
        return -1;
    }
    if (waitpid (pid, &status, 0) != pid)
        return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

typedef struct {
    char path[4200];         /* the ports file */
    pid_t pid;               /* the process writing it, or 0 */
    bool ended;              /* it ended first */
    rfk_test_ports_t *ports; /* out */
    int rc;                  /* 0 read, -1 malformed */
} s_ports_wait_t;

/* Reads the ports file into wait->ports; -1 if it is not whole. */
static int
s_ports_read (s_ports_wait_t *wait, FILE *file)
{
    rfk_test_ports_t *p = wait->ports;
    memset (p, 0, sizeof *p);
    return fscanf (file, "http=%d\ncommand=%d\nservice=%d\nevents=%d\n", &p->http, &p->command,
                   &p->service, &p->events) == 4 &&
                   p->command > 0 && p->service > 0 && p->events > 0
               ? 0
               : -1;
}

static bool
s_ports_ready (void *arg)
{
    s_ports_wait_t *wait = arg;
    FILE *file = fopen (wait->path, "r");
    if (file) {
        wait->rc = s_ports_read (wait, file);
        fclose (file);
        return true;
    }
    int status;
    if (wait->pid > 0 && waitpid (wait->pid, &status, WNOHANG) == wait->pid) {
        wait->ended = true;
        return true;
    }
    return false;
}

int
rfk_test_wait_ports (const char *data_dir, pid_t pid, int timeout_ms, rfk_test_ports_t *ports)
{
    s_ports_wait_t wait = {.pid = pid, .ports = ports, .rc = -1};
    snprintf (wait.path, sizeof wait.path, "%s/rafikid.ports", data_dir);
    if (!rfk_test_wait_until (s_ports_ready, &wait, NULL, timeout_ms) || wait.ended)
        return -1;
    /*  Admin's public bus key, for this process's SDK and the CLIs it runs
        (as a user would after `rafiki login`). */
    char path[4200], key[64] = "";
    snprintf (path, sizeof path, "%s/keys/bus.pub", data_dir);
    FILE *file = fopen (path, "r");
    if (file && fgets (key, sizeof key, file)) {
        key[strcspn (key, "\r\n")] = 0;
        setenv ("RAFIKI_PINNED_KEY", key, 1);
    }
    if (file)
        fclose (file);
    return wait.rc;
}

extern char **environ;

/* Whether environment entry is NAME=... for a NAME set in vars. */
static bool
s_replaced (const char *entry, const char *const *vars)
{
    const char *equals = strchr (entry, '=');
    size_t length = equals ? (size_t)(equals - entry) + 1 : strlen (entry);
    for (; vars && *vars; vars++)
        if (strncmp (*vars, entry, length) == 0)
            return true;
    return false;
}

pid_t
rfk_test_rafikid_spawn (const char *const *args, const char *const *vars, bool own_session)
{
    size_t count = 0, extra = 0, argc = 0;
    while (environ[count])
        count++;
    while (vars && vars[extra])
        extra++;
    while (args && args[argc])
        argc++;
    const char **envp = calloc (count + extra + 1, sizeof (char *));
    const char **argv = calloc (argc + 2, sizeof (char *));
    size_t used = 0;
    for (size_t index = 0; envp && index < count; index++)
        if (strncmp (environ[index], "RAFIKI_", 7) != 0 && !s_replaced (environ[index], vars))
            envp[used++] = environ[index];
    for (size_t index = 0; envp && index < extra; index++)
        envp[used++] = vars[index];
    pid_t pid = -1;
    if (envp && argv) {
        argv[0] = RAFIKID;
        for (size_t index = 0; index < argc; index++)
            argv[index + 1] = args[index];
        posix_spawnattr_t attr;
        posix_spawnattr_init (&attr);
        sigset_t none;
        sigemptyset (&none);
        posix_spawnattr_setsigmask (&attr, &none);
        posix_spawnattr_setflags (&attr,
                                  POSIX_SPAWN_SETSIGMASK | (own_session ? POSIX_SPAWN_SETSID : 0));
        if (posix_spawn (&pid, RAFIKID, NULL, &attr, (char *const *)argv, (char *const *)envp))
            pid = -1;
        posix_spawnattr_destroy (&attr);
    }
    free (envp);
    free (argv);
    return pid;
}

pid_t
rfk_test_up_spawn (const rfk_test_up_t *up)
{
    char data_dir[4200], password[300];
    snprintf (data_dir, sizeof data_dir, "RAFIKI_DATA_DIR=%s", up->data_dir);
    snprintf (password, sizeof password, "RAFIKI_SUPERADMIN_PASSWORD=%s",
              up->password ? up->password : "");
    const char *vars[32] = {data_dir,
                            "RAFIKI_ADMIN_HTTP_PORT=0",
                            "RAFIKI_ADMIN_COMMAND_PORT=0",
                            "RAFIKI_ADMIN_SERVICE_PORT=0",
                            "RAFIKI_ADMIN_EVENTS_PORT=0",
                            "RAFIKI_LOG_STDERR=false",
                            up->password ? password : NULL};
    size_t count = up->password ? 7 : 6;
    for (size_t index = 0; up->vars && up->vars[index] && count < 31; index++)
        vars[count++] = up->vars[index];
    const char *args[32] = {"up"};
    size_t argc = 1;
    for (size_t index = 0; up->args && up->args[index] && argc < 31; index++)
        args[argc++] = up->args[index];
    return rfk_test_rafikid_spawn (args, vars, up->own_session);
}

char *
rfk_test_tmpdir_new (const char *name)
{
    char *dir = zsys_sprintf ("/tmp/rfk-%s-XXXXXX", name ? name : "test");
    if (dir && !mkdtemp (dir))
        zstr_free (&dir);
    return dir;
}

char *
rfk_test_tmpdir_under (const char *parent, const char *name)
{
    char *dir = zsys_sprintf ("%s/%s-XXXXXX", parent, name ? name : "test");
    if (dir && !mkdtemp (dir))
        zstr_free (&dir);
    return dir;
}

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove (path); /* go on: what is left is seen at the end */
    return 0;
}

int
rfk_test_tree_remove (const char *path)
{
    if (access (path, F_OK) != 0)
        return 0;
    nftw (path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    return access (path, F_OK) == 0 ? -1 : 0;
}

int
rfk_test_tmpdir_destroy (char **dir_p)
{
    if (!dir_p || !*dir_p)
        return 0;
    //  RAFIKI_TEST_KEEP=1 keeps every temporary folder, to read its logs.
    const char *keep = getenv ("RAFIKI_TEST_KEEP");
    if (keep && streq (keep, "1")) {
        fprintf (stderr, "# kept %s (RAFIKI_TEST_KEEP=1)\n", *dir_p);
        zstr_free (dir_p);
        return 0;
    }
    int rc = rfk_test_tree_remove (*dir_p);
    zstr_free (dir_p);
    return rc;
}

zsock_t *
rfk_test_bind (int type, char *endpoint, size_t size)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    if (zsock_bind (sock, "tcp://127.0.0.1:*") <= 0) {
        zsock_destroy (&sock);
        return NULL;
    }
    snprintf (endpoint, size, "%s", zsock_endpoint (sock));
    return sock;
}

int
rfk_test_listen (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen (fd, 64) != 0 || getsockname (fd, (struct sockaddr *)&address, &length) != 0) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    *port = ntohs (address.sin_port);
    return fd;
}

int
rfk_test_endpoint_port (const char *endpoint)
{
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    return colon ? atoi (colon + 1) : 0;
}

/* ---- a one-connection HTTP server ------------------------------------------- */

static void *
s_http_once_run (void *arg)
{
    rfk_test_http_once_t *server = (rfk_test_http_once_t *)arg;
    int conn = accept (server->listener, NULL, NULL);
    if (conn < 0)
        return NULL;
    char request[4096];
    size_t got = 0;
    while (got < sizeof request - 1) {
        ssize_t n = recv (conn, request + got, sizeof request - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        request[got] = 0;
        if (strstr (request, "\r\n\r\n"))
            break;
    }
    ssize_t sent = send (conn, server->response, strlen (server->response), MSG_NOSIGNAL);
    (void)sent; //  a client that went away is what some tests want
    if (server->hold) {
        struct pollfd item = {conn, POLLIN, 0};
        char byte;
        server->peer_closed = poll (&item, 1, 20000) == 1 && recv (conn, &byte, 1, 0) <= 0;
    }
    close (conn);
    return NULL;
}

int
rfk_test_http_once_start (rfk_test_http_once_t *server, const char *response, bool hold)
{
    *server = (rfk_test_http_once_t){.response = response, .hold = hold};
    server->listener = rfk_test_listen (&server->port);
    if (server->listener < 0)
        return -1;
    if (pthread_create (&server->thread, NULL, s_http_once_run, server) != 0) {
        close (server->listener);
        return -1;
    }
    return 0;
}

void
rfk_test_http_once_join (rfk_test_http_once_t *server)
{
    pthread_join (server->thread, NULL);
    close (server->listener);
}

int
rfk_test_machine_lock (const char *name, int timeout_ms)
{
    char path[256];
    snprintf (path, sizeof path, "/tmp/rafiki-test-%s.lock", name);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || rfk_test_left_ms (deadline) == 0) {
            int saved = errno == EWOULDBLOCK ? ETIMEDOUT : errno;
            close (fd);
            errno = saved;
            return -1;
        }
        zclock_sleep (200);
    }
    return 0; //  fd stays open: the lock ends with the process
}

json_t *
rfk_test_iris_queries (const char *path, int *labels, int max)
{
    FILE *file = fopen (path, "r");
    char line[512];
    if (!file || !fgets (line, sizeof line, file)) { /* the header */
        if (file)
            fclose (file);
        return NULL;
    }
    json_t *queries = json_array ();
    const char *names[] = {"sepal_length", "sepal_width", "petal_length", "petal_width"};
    while (fgets (line, sizeof line, file) && (int)json_array_size (queries) < max) {
        double values[4];
        int label;
        if (sscanf (line, "%lf,%lf,%lf,%lf,%d", &values[0], &values[1], &values[2], &values[3],
                    &label) != 5)
            continue;
        json_t *query = json_object ();
        for (int f = 0; f < 4; f++)
            json_object_set_new (query, names[f], json_real (values[f]));
        if (labels)
            labels[json_array_size (queries)] = label;
        json_array_append_new (queries, query);
    }
    fclose (file);
    return queries;
}
