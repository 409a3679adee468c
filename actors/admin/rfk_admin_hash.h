/*  rfk_admin_hash.h: password hashing in a child process's threads,
    results on the loop (rfk_admin_hash.c).

        rfk_admin_hash_t *pool = rfk_admin_hash_new (2, 64);
        // in the loop's poll set: rfk_admin_hash_fd (pool); every turn:
        rfk_admin_hash_tick (pool);      // calls the done functions
        if (rfk_admin_hash_submit (pool, password, stored_hash, s_done, arg) != 0)
            ...                          // queue full: answer 503
        rfk_admin_hash_destroy (&pool);  // joins; pending jobs: CANCELLED
*/
#ifndef RFK_ADMIN_HASH_H_INCLUDED
#define RFK_ADMIN_HASH_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/* The rc of a job that never ran or whose result was not delivered (the
   pool is being destroyed): free what arg holds, answer nobody. */
#define RFK_ADMIN_HASH_CANCELLED (-2)

/* The rc of a job whose hashing process died (answer 503). */
#define RFK_ADMIN_HASH_FAILED (-3)

typedef struct rfk_admin_hash rfk_admin_hash_t;

/* Hears a job's result on the thread that calls rfk_admin_hash_tick (or
   rfk_admin_hash_destroy): rc 0 (verify: the password matches; hash: hash
   is the new argon2id string, borrowed), -1 (wrong password, or hashing
   failed) or RFK_ADMIN_HASH_CANCELLED. */
typedef void (rfk_admin_hash_done_fn) (void *arg, int rc, const char *hash);

/* A child process of `workers` threads (1..64) with at most queue_max jobs
   waiting beyond the ones it holds; NULL when it cannot be forked. */
rfk_admin_hash_t *
rfk_admin_hash_new (size_t workers, size_t queue_max);
/* Join the workers; the done functions of jobs left get CANCELLED. Safe
   twice. */
void
rfk_admin_hash_destroy (rfk_admin_hash_t **self_p);
/* Readable when results wait for rfk_admin_hash_tick (the same number for
   the pool's life, also when its child is forked anew). */
int
rfk_admin_hash_fd (rfk_admin_hash_t *self);
/* Queue a job: verify password against hash, or (hash NULL) hash it. Both
   strings are copied. 0, or -1 when the queue is full (or no memory):
   done is then never called. */
int
rfk_admin_hash_submit (rfk_admin_hash_t *self, const char *password, const char *hash,
                       rfk_admin_hash_done_fn *done, void *arg);
/* Jobs queued or running. */
size_t
rfk_admin_hash_pending (rfk_admin_hash_t *self);
/* Deliver the finished jobs (call every turn of the loop). */
void
rfk_admin_hash_tick (rfk_admin_hash_t *self);
/* With jobs pending, the monotonic ms (zclock_mono's clock) by which the
   child must answer one (10 s after its last answer, or after the job that
   found it idle), else -1: the loop wakes by then, and a child that missed
   it is replaced (its jobs FAILED). */
int64_t
rfk_admin_hash_deadline (rfk_admin_hash_t *self);

#endif
