/*  rfk_admin_hash.c: password hashing off admin's loop (issue 14).

    argon2id (rfk_auth_password_hash / _verify, about 0.1 s and 64 MiB
    each) runs on a few worker threads (admin.hash_workers) instead of
    admin's one loop thread. The loop hands a job over with
    rfk_admin_hash_submit and goes on serving; a worker runs it and writes
    to an eventfd that sits in the loop's poll set (rfk_admin_hash_fd);
    rfk_admin_hash_tick, on the loop, calls each finished job's done
    function, so everything but the hash itself stays on the loop (the
    store, the reply, the fronts).

    At most admin.hash_queue jobs wait for a worker; past that,
    rfk_admin_hash_submit refuses at once and the caller answers 503
    UNAVAILABLE with Retry-After. The workers run at a lower priority (nice
    +10) than the loop, so a flood of logins cannot take the CPU away from
    the requests around it. Stopping joins the workers and calls the done
    functions of the jobs left with rc RFK_ADMIN_HASH_CANCELLED.
*/
#define _GNU_SOURCE
#include "rfk_admin_hash.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rfk_auth.h"

#define S_WORKERS_MAX 64

/* One job: a hash to make or a password to check. */
typedef struct s_job {
    struct s_job *next;           /* next in its list */
    char *password;               /* the password (wiped when freed) */
    char hash[RFK_AUTH_HASH_MAX]; /* verify: the stored hash; hash: the result */
    bool verify;                  /* verify (else hash) */
    int rc;                       /* 0 ok, -1 wrong password or failure */
    rfk_admin_hash_done_fn *done; /* who hears the result, on the loop */
    void *arg;                    /* its argument */
} s_job_t;

struct rfk_admin_hash {
    pthread_mutex_t lock;             /* guards the lists and stopping */
    pthread_cond_t work;              /* a job was queued, or stop */
    s_job_t *queued;                  /* waiting for a worker, oldest first */
    s_job_t *queued_tail;             /* last of queued */
    size_t queued_count;              /* jobs in queued */
    size_t queue_max;                 /* admin.hash_queue */
    s_job_t *finished;                /* done, for the loop to deliver */
    size_t running;                   /* jobs a worker holds */
    bool stopping;                    /* workers end */
    int event_fd;                     /* eventfd: readable when finished is not empty */
    pthread_t workers[S_WORKERS_MAX]; /* the threads */
    size_t worker_count;              /* started */
};

static void
s_job_free (s_job_t **job_p)
{
    s_job_t *job = *job_p;
    if (!job)
        return;
    if (job->password) {
        sodium_memzero (job->password, strlen (job->password));
        free (job->password);
    }
    sodium_memzero (job->hash, sizeof job->hash);
    free (job);
    *job_p = NULL;
}

/* A worker: take the oldest job, run it, hand it back, wake the loop. */
static void *
s_worker (void *arg)
{
    rfk_admin_hash_t *self = (rfk_admin_hash_t *)arg;
    //  Below the loop: hashing waits when the loop has work (Linux nice is
    //  per thread).
    setpriority (PRIO_PROCESS, (id_t)gettid (), 10);
    pthread_mutex_lock (&self->lock);
    while (true) {
        while (!self->stopping && !self->queued)
            pthread_cond_wait (&self->work, &self->lock);
        if (self->stopping)
            break;
        s_job_t *job = self->queued;
        self->queued = job->next;
        if (!self->queued)
            self->queued_tail = NULL;
        self->queued_count--;
        self->running++;
        pthread_mutex_unlock (&self->lock);
        if (job->verify)
            job->rc = rfk_auth_password_verify (job->hash, job->password);
        else
            job->rc = rfk_auth_password_hash (job->password, job->hash);
        pthread_mutex_lock (&self->lock);
        self->running--;
        job->next = self->finished;
        self->finished = job;
        uint64_t one = 1;
        if (write (self->event_fd, &one, sizeof one) < 0 && errno != EAGAIN) {
            //  Nothing to do: the loop still ticks on its next turn.
        }
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

rfk_admin_hash_t *
rfk_admin_hash_new (size_t workers, size_t queue_max)
{
    if (workers < 1 || workers > S_WORKERS_MAX || queue_max < 1 || sodium_init () < 0)
        return NULL;
    rfk_admin_hash_t *self = (rfk_admin_hash_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->queue_max = queue_max;
    self->event_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->work, NULL);
    if (self->event_fd < 0) {
        rfk_admin_hash_destroy (&self);
        return NULL;
    }
    for (size_t index = 0; index < workers; index++) {
        if (pthread_create (&self->workers[index], NULL, s_worker, self) != 0)
            break;
        self->worker_count++;
    }
    if (self->worker_count == 0)
        rfk_admin_hash_destroy (&self);
    return self;
}

/* Call done for every job of a list (rc as given, or each job's own when
   rc is 1) and free them. */
static void
s_deliver (s_job_t *list, int rc)
{
    while (list) {
        s_job_t *job = list;
        list = job->next;
        int result = rc == 1 ? job->rc : rc;
        job->done (job->arg, result, result == 0 && !job->verify ? job->hash : NULL);
        s_job_free (&job);
    }
}

/* Reverse a list (finished jobs are pushed at the front). */
static s_job_t *
s_reverse (s_job_t *list)
{
    s_job_t *reversed = NULL;
    while (list) {
        s_job_t *job = list;
        list = job->next;
        job->next = reversed;
        reversed = job;
    }
    return reversed;
}

void
rfk_admin_hash_destroy (rfk_admin_hash_t **self_p)
{
    rfk_admin_hash_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->work);
    pthread_mutex_unlock (&self->lock);
    for (size_t index = 0; index < self->worker_count; index++)
        pthread_join (self->workers[index], NULL);
    s_deliver (s_reverse (self->finished), RFK_ADMIN_HASH_CANCELLED);
    s_deliver (self->queued, RFK_ADMIN_HASH_CANCELLED);
    if (self->event_fd >= 0)
        close (self->event_fd);
    pthread_cond_destroy (&self->work);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
rfk_admin_hash_fd (rfk_admin_hash_t *self)
{
    return self ? self->event_fd : -1;
}

int
rfk_admin_hash_submit (rfk_admin_hash_t *self, const char *password, const char *hash,
                       rfk_admin_hash_done_fn *done, void *arg)
{
    if (!self || !password || !done ||
        (hash && strnlen (hash, RFK_AUTH_HASH_MAX) >= RFK_AUTH_HASH_MAX))
        return -1;
    s_job_t *job = (s_job_t *)calloc (1, sizeof *job);
    if (!job || !(job->password = strdup (password))) {
        free (job);
        return -1;
    }
    job->verify = hash != NULL;
    if (hash)
        memcpy (job->hash, hash, strlen (hash) + 1);
    job->done = done;
    job->arg = arg;
    pthread_mutex_lock (&self->lock);
    bool full = self->queued_count >= self->queue_max;
    if (!full) {
        if (self->queued_tail)
            self->queued_tail->next = job;
        else
            self->queued = job;
        self->queued_tail = job;
        self->queued_count++;
        pthread_cond_signal (&self->work);
    }
    pthread_mutex_unlock (&self->lock);
    if (full) {
        s_job_free (&job);
        return -1;
    }
    return 0;
}

size_t
rfk_admin_hash_pending (rfk_admin_hash_t *self)
{
    if (!self)
        return 0;
    pthread_mutex_lock (&self->lock);
    size_t pending = self->queued_count + self->running;
    pthread_mutex_unlock (&self->lock);
    return pending;
}

void
rfk_admin_hash_tick (rfk_admin_hash_t *self)
{
    if (!self)
        return;
    uint64_t count;
    if (read (self->event_fd, &count, sizeof count) < 0 && errno != EAGAIN) {
        //  Nothing to do: the finished list is looked at anyway.
    }
    pthread_mutex_lock (&self->lock);
    s_job_t *finished = self->finished;
    self->finished = NULL;
    pthread_mutex_unlock (&self->lock);
    s_deliver (s_reverse (finished), 1);
}
