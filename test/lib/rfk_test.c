/*  rfk_test.c: waits with deadlines, ports files, temporary directories and
    free endpoints for the tests; see rfk_test.h. */
#define _GNU_SOURCE
#include "rfk_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
    return wait.rc;
}

char *
rfk_test_tmpdir_new (const char *name)
{
    char *dir = zsys_sprintf ("/tmp/rfk-%s-XXXXXX", name ? name : "test");
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
    remove (path);
    return 0;
}

void
rfk_test_tmpdir_destroy (char **dir_p)
{
    if (!dir_p || !*dir_p)
        return;
    nftw (*dir_p, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    zstr_free (dir_p);
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
