/*  rfk_admin_hash.c: password hashing off admin's loop, in a child process
    (issue 14).

    argon2id (rfk_auth_password_hash / _verify, about 0.1 s and 64 MiB
    each) runs on a few threads (admin.hash_workers) of a child process
    forked when admin starts, instead of on admin's one loop thread. The
    loop sends a job over a socketpair (SOCK_SEQPACKET, one job a packet)
    and goes on serving; a worker thread of the child reads it, runs it and
    writes the result back; the parent's end of the socketpair sits in the
    loop's poll set (rfk_admin_hash_fd) and rfk_admin_hash_tick, on the
    loop, calls each finished job's done function. Everything but the hash
    stays on the loop (the store, the reply, the fronts).

    Why a process and not threads of admin's own: libsodium maps and unmaps
    64 MiB for every hash, and in a shared address space that contends with
    the loop (the mmap lock, page faults, TLB shootdowns): the login flood
    test measured the second user's p99 at 220-410 ms with hashing threads
    in admin against 40-80 ms with a CPU-only stand-in of the same length.
    The child runs at nice +10, so the loop also goes first for the CPU; it
    dies with admin's thread (PR_SET_PDEATHSIG) and is killed when admin
    stops. A child that died is forked again at once (its jobs answered
    503), its socket put on the same descriptor number. So is a child that
    answers nothing for S_JOB_TIMEOUT_MS while it has jobs (a queue that
    moves is never cut, however long): forked from a process with threads,
    it can hang on a lock another thread held at the fork (seen once in CI,
    under the sanitizers: the first login of a fresh admin never answered).

    At most admin.hash_queue jobs wait beyond the ones the workers hold;
    past that rfk_admin_hash_submit refuses at once and the caller answers
    503 UNAVAILABLE with Retry-After. Stopping closes the socket, reaps the
    child and calls the done functions of the jobs left with rc
    RFK_ADMIN_HASH_CANCELLED.
*/
#define _GNU_SOURCE
#include "rfk_admin_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rfk_auth.h"

#define S_WORKERS_MAX 64
#define S_JOB_TIMEOUT_MS 10000 /* a hash takes about 0.1 s: a child past this is stuck */

/* One packet each way: a job to the child, its result back. */
typedef struct {
    uint64_t id;                              /* the job's id */
    int32_t verify;                           /* 1: check password against hash, 0: hash it */
    int32_t rc;                               /* the result: 0 ok, -1 wrong or failed */
    char hash[RFK_AUTH_HASH_MAX];             /* verify: the stored hash; hash: the result */
    char password[RFK_AUTH_PASSWORD_MAX + 1]; /* the password (to the child only) */
} s_packet_t;

/* A job the child holds. */
typedef struct s_job {
    struct s_job *next;           /* next pending */
    uint64_t id;                  /* its id */
    bool verify;                  /* a check (else a hash) */
    rfk_admin_hash_done_fn *done; /* who hears the result, on the loop */
    void *arg;                    /* its argument */
} s_job_t;

struct rfk_admin_hash {
    size_t workers;   /* threads in the child */
    size_t queue_max; /* admin.hash_queue */
    int fd;           /* our end of the socketpair (the same number for every child) */
    int idle_fd;      /* without a child: the write end of a pipe whose read end is fd */
    pid_t pid;        /* the child, 0 when none */
    s_job_t *pending; /* jobs sent, not answered (newest first) */
    size_t count;     /* jobs in pending */
    uint64_t last_id; /* the last id given */
    int64_t busy_at;  /* monotonic ms of the child's last answer, or of the job that
                         found it idle: with jobs pending, stuck S_JOB_TIMEOUT_MS later */
};

/* ---- the child ------------------------------------------------------------ */

/* A worker thread of the child: a job in, its result out, until EOF. */
static void *
s_child_worker (void *arg)
{
    int fd = *(int *)arg;
    s_packet_t *packet = (s_packet_t *)malloc (sizeof *packet);
    while (packet) {
        ssize_t n = recv (fd, packet, sizeof *packet, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof *packet)
            break; //  EOF: admin closed its end
        packet->password[RFK_AUTH_PASSWORD_MAX] = 0;
        packet->hash[RFK_AUTH_HASH_MAX - 1] = 0;
        if (packet->verify)
            packet->rc = rfk_auth_password_verify (packet->hash, packet->password);
        else
            packet->rc = rfk_auth_password_hash (packet->password, packet->hash);
        sodium_memzero (packet->password, sizeof packet->password);
        if (send (fd, packet, sizeof *packet, MSG_NOSIGNAL) < 0)
            break;
    }
    free (packet);
    return NULL;
}

/* The child: only its end of the socketpair kept open, nice +10, its
   workers, then _exit (no atexit handlers of admin's). Never returns. */
static void
s_child (int fd, size_t workers, pid_t parent)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    //  Admin died before the signal was set. Not "getppid () == 1": in a
    //  container admin itself is pid 1, and then no login was ever answered.
    if (getppid () != parent)
        _exit (0);
    for (int other = 3; other < 4096; other++)
        if (other != fd)
            close (other);
    setpriority (PRIO_PROCESS, 0, 10);
    pthread_t threads[S_WORKERS_MAX];
    size_t started = 0;
    for (size_t index = 0; index < workers; index++)
        if (pthread_create (&threads[started], NULL, s_child_worker, &fd) == 0)
            started++;
    for (size_t index = 0; index < started; index++)
        pthread_join (threads[index], NULL);
    _exit (0);
}

/* ---- admin's side --------------------------------------------------------- */

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Put new on fd's number (admin's poll set registered that number once),
   or take it as fd when there is none yet. */
static void
s_install (rfk_admin_hash_t *self, int new_fd)
{
    if (self->fd < 0)
        self->fd = new_fd;
    else {
        dup3 (new_fd, self->fd, O_CLOEXEC);
        close (new_fd);
    }
}

/* Fork the child; 0, or -1 (no child). */
static int
s_spawn (rfk_admin_hash_t *self)
{
    int pair[2];
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        return -1;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        close (pair[0]);
        close (pair[1]);
        return -1;
    }
    if (pid == 0) {
        close (pair[0]);
        s_child (pair[1], self->workers, parent);
    }
    close (pair[1]);
    s_install (self, pair[0]);
    if (self->idle_fd >= 0)
        close (self->idle_fd);
    self->idle_fd = -1;
    self->pid = pid;
    return 0;
}

/* Without a child, fd is a pipe nothing writes to: never readable. */
static void
s_idle (rfk_admin_hash_t *self)
{
    int ends[2];
    if (self->idle_fd >= 0 || pipe2 (ends, O_CLOEXEC) != 0)
        return;
    s_install (self, ends[0]);
    self->idle_fd = ends[1];
}

/* Close our end and reap the child (it ends at EOF). */
static void
s_stop_child (rfk_admin_hash_t *self)
{
    if (self->pid > 0) {
        int status;
        if (waitpid (self->pid, &status, 0) < 0 && errno == EINTR)
            waitpid (self->pid, &status, 0);
    }
    self->pid = 0;
}

/* Call every pending job's done function with rc, and forget them. */
static void
s_cancel_all (rfk_admin_hash_t *self, int rc)
{
    while (self->pending) {
        s_job_t *job = self->pending;
        self->pending = job->next;
        self->count--;
        job->done (job->arg, rc, NULL);
        free (job);
    }
}

rfk_admin_hash_t *
rfk_admin_hash_new (size_t workers, size_t queue_max)
{
    if (workers < 1 || workers > S_WORKERS_MAX || queue_max < 1 || sodium_init () < 0)
        return NULL;
    rfk_admin_hash_t *self = (rfk_admin_hash_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->workers = workers;
    self->queue_max = queue_max;
    self->fd = -1;
    self->idle_fd = -1;
    if (s_spawn (self) != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void
rfk_admin_hash_destroy (rfk_admin_hash_t **self_p)
{
    rfk_admin_hash_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    if (self->fd >= 0)
        close (self->fd);
    //  Not only EOF: a model check's child (forked without exec) may hold a
    //  copy of our end, and nothing in a hash is worth waiting for.
    if (self->pid > 0)
        kill (self->pid, SIGKILL);
    s_stop_child (self);
    if (self->idle_fd >= 0)
        close (self->idle_fd);
    s_cancel_all (self, RFK_ADMIN_HASH_CANCELLED);
    free (self);
    *self_p = NULL;
}

int
rfk_admin_hash_fd (rfk_admin_hash_t *self)
{
    return self ? self->fd : -1;
}

int
rfk_admin_hash_submit (rfk_admin_hash_t *self, const char *password, const char *hash,
                       rfk_admin_hash_done_fn *done, void *arg)
{
    if (!self || !password || !done || strlen (password) > RFK_AUTH_PASSWORD_MAX ||
        (hash && strnlen (hash, RFK_AUTH_HASH_MAX) >= RFK_AUTH_HASH_MAX) ||
        self->count >= self->queue_max + self->workers)
        return -1;
    if (self->pid <= 0 && s_spawn (self) != 0)
        return -1;
    s_job_t *job = (s_job_t *)calloc (1, sizeof *job);
    s_packet_t *packet = (s_packet_t *)calloc (1, sizeof *packet);
    int rc = -1;
    if (job && packet) {
        packet->id = ++self->last_id;
        packet->verify = hash != NULL;
        if (hash)
            memcpy (packet->hash, hash, strlen (hash) + 1);
        memcpy (packet->password, password, strlen (password) + 1);
        rc = send (self->fd, packet, sizeof *packet, MSG_DONTWAIT | MSG_NOSIGNAL) ==
                     (ssize_t)sizeof *packet
                 ? 0
                 : -1;
        sodium_memzero (packet, sizeof *packet);
    }
    if (rc == 0) {
        *job = (s_job_t){.next = self->pending,
                         .id = self->last_id,
                         .verify = hash != NULL,
                         .done = done,
                         .arg = arg};
        if (self->count == 0)
            self->busy_at = s_now_ms ();
        self->pending = job;
        self->count++;
    } else
        free (job);
    free (packet);
    return rc;
}

size_t
rfk_admin_hash_pending (rfk_admin_hash_t *self)
{
    return self ? self->count : 0;
}

/* The pending job of id, taken off the list, or NULL. */
static s_job_t *
s_take (rfk_admin_hash_t *self, uint64_t id)
{
    for (s_job_t **link = &self->pending; *link; link = &(*link)->next)
        if ((*link)->id == id) {
            s_job_t *job = *link;
            *link = job->next;
            self->count--;
            return job;
        }
    return NULL;
}

int64_t
rfk_admin_hash_deadline (rfk_admin_hash_t *self)
{
    return self && self->count > 0 ? self->busy_at + S_JOB_TIMEOUT_MS : -1;
}

/* The child died or is stuck: its jobs fail (503); a new one now, or at
   the next job. */
static void
s_replace_child (rfk_admin_hash_t *self)
{
    kill (self->pid, SIGKILL);
    s_stop_child (self);
    s_cancel_all (self, RFK_ADMIN_HASH_FAILED);
    if (s_spawn (self) != 0)
        s_idle (self);
}

void
rfk_admin_hash_tick (rfk_admin_hash_t *self)
{
    if (!self || self->pid <= 0)
        return;
    int64_t deadline = rfk_admin_hash_deadline (self);
    if (deadline >= 0 && s_now_ms () > deadline) {
        s_replace_child (self);
        return;
    }
    s_packet_t *packet = (s_packet_t *)malloc (sizeof *packet);
    while (packet) {
        ssize_t n = recv (self->fd, packet, sizeof *packet, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n != (ssize_t)sizeof *packet) {
            s_replace_child (self);
            break;
        }
        s_job_t *job = s_take (self, packet->id);
        self->busy_at = s_now_ms ();
        packet->hash[RFK_AUTH_HASH_MAX - 1] = 0;
        if (job)
            job->done (job->arg, packet->rc == 0 ? 0 : -1,
                       packet->rc == 0 && !job->verify ? packet->hash : NULL);
        free (job);
    }
    if (packet)
        sodium_memzero (packet, sizeof *packet);
    free (packet);
}
