/*  test_limits.c: admin's abuse limits (rfk_admin_limits) and its password
    hashing child (rfk_admin_hash), on their own.

    - failed logins: N allowed per address and per e-mail in a sliding
      minute, then a wait that ends when the oldest failure is a minute old;
      the tables stay bounded (the least recently failed forgotten);
    - per-user counters with caps;
    - the hashing child: a hash and its check come back through the
      descriptor, a full queue refuses at once, stopping cancels what is
      left.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_admin_hash.h"
#include "rfk_admin_limits.h"

/* Usage: three failures a minute; the fourth try waits. */
static void
test_login_window (void **state)
{
    (void)state;
    rfk_admin_limits_t *limits = rfk_admin_limits_new (3, 100);
    assert_non_null (limits);
    int64_t now = 1000000;
    for (int i = 0; i < 3; i++) {
        assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.1", "a@b", now + i), 0);
        rfk_admin_limits_login_failed (limits, "10.0.0.1", "a@b", now + i * 1000);
    }
    //  The oldest failure is at now: a minute after it, tries may go on.
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.1", "a@b", now + 2500), 58);
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.1", "x@y", now + 2500), 58);
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.2", "a@b", now + 2500), 58);
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.2", "x@y", now + 2500), 0);
    assert_int_equal (rfk_admin_limits_login_wait (limits, NULL, "x@y", now + 2500), 0);
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.1", "a@b", now + 60000), 0);
    //  A failure then slides the window: the next oldest is at now + 1 s.
    rfk_admin_limits_login_failed (limits, "10.0.0.1", "a@b", now + 60000);
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.1", "a@b", now + 60000), 1);
    rfk_admin_limits_destroy (&limits);
    rfk_admin_limits_destroy (&limits);
    //  0: no limit.
    limits = rfk_admin_limits_new (0, 100);
    for (int i = 0; i < 100; i++)
        rfk_admin_limits_login_failed (limits, "10.0.0.1", "a@b", now);
    assert_int_equal (rfk_admin_limits_login_wait (limits, "10.0.0.1", "a@b", now), 0);
    rfk_admin_limits_destroy (&limits);
}

/* At most max_keys windows: the least recently failed is forgotten. */
static void
test_login_bounded (void **state)
{
    (void)state;
    rfk_admin_limits_t *limits = rfk_admin_limits_new (1, 16);
    int64_t now = 5000000;
    rfk_admin_limits_login_failed (limits, NULL, "first@x", now);
    assert_true (rfk_admin_limits_login_wait (limits, NULL, "first@x", now) > 0);
    char email[64];
    for (int i = 0; i < 1000; i++) {
        snprintf (email, sizeof email, "made-up-%d@x", i);
        rfk_admin_limits_login_failed (limits, NULL, email, now);
    }
    //  first@x was forgotten; the last ones are still known.
    assert_int_equal (rfk_admin_limits_login_wait (limits, NULL, "first@x", now), 0);
    assert_true (rfk_admin_limits_login_wait (limits, NULL, "made-up-999@x", now) > 0);
    rfk_admin_limits_destroy (&limits);
}

static void
test_counters (void **state)
{
    (void)state;
    rfk_admin_limits_t *limits = rfk_admin_limits_new (10, 100);
    for (int i = 0; i < 4; i++)
        assert_int_equal (rfk_admin_limits_take (limits, "uploads", "u1", 4), 0);
    assert_int_equal (rfk_admin_limits_take (limits, "uploads", "u1", 4), -1);
    assert_int_equal (rfk_admin_limits_take (limits, "uploads", "u2", 4), 0);
    assert_int_equal (rfk_admin_limits_held (limits, "uploads", "u1"), 4);
    rfk_admin_limits_give (limits, "uploads", "u1");
    assert_int_equal (rfk_admin_limits_take (limits, "uploads", "u1", 4), 0);
    assert_int_equal (rfk_admin_limits_take (limits, "uploads", "u3", 0), 0); //  no cap
    for (int i = 0; i < 10; i++)
        rfk_admin_limits_give (limits, "uploads", "u1");
    assert_int_equal (rfk_admin_limits_held (limits, "uploads", "u1"), 0);
    rfk_admin_limits_destroy (&limits); //  counters left are freed
}

/* What a job's done function heard. */
typedef struct {
    int calls;      /* how often */
    int rc;         /* the last rc */
    char hash[200]; /* the last hash, or "" */
} s_heard_t;

static void
s_done (void *arg, int rc, const char *hash)
{
    s_heard_t *heard = (s_heard_t *)arg;
    heard->calls++;
    heard->rc = rc;
    snprintf (heard->hash, sizeof heard->hash, "%s", hash ? hash : "");
}

/* Poll the pool's descriptor and tick until heard was called (10 s). */
static void
s_wait (rfk_admin_hash_t *pool, s_heard_t *heard)
{
    for (int round = 0; round < 100 && !heard->calls; round++) {
        struct pollfd item = {.fd = rfk_admin_hash_fd (pool), .events = POLLIN};
        poll (&item, 1, 100);
        rfk_admin_hash_tick (pool);
    }
    assert_int_equal (heard->calls, 1);
}

static void
test_hash_child (void **state)
{
    (void)state;
    rfk_admin_hash_t *pool = rfk_admin_hash_new (1, 1);
    assert_non_null (pool);
    int fd = rfk_admin_hash_fd (pool);
    s_heard_t made = {0}, right = {0}, wrong = {0};
    assert_int_equal (rfk_admin_hash_submit (pool, "a long password", NULL, s_done, &made), 0);
    s_wait (pool, &made);
    assert_int_equal (made.rc, 0);
    assert_true (strncmp (made.hash, "$argon2id$", 10) == 0);
    assert_int_equal (rfk_admin_hash_submit (pool, "a long password", made.hash, s_done, &right),
                      0);
    assert_int_equal (rfk_admin_hash_submit (pool, "not it", made.hash, s_done, &wrong), 0);
    //  One held by the worker, one queued: the next is refused at once.
    s_heard_t refused = {0};
    assert_int_equal (rfk_admin_hash_submit (pool, "more", made.hash, s_done, &refused), -1);
    assert_int_equal (rfk_admin_hash_pending (pool), 2);
    s_wait (pool, &right);
    s_wait (pool, &wrong);
    assert_int_equal (right.rc, 0);
    assert_int_equal (wrong.rc, -1);
    assert_string_equal (right.hash, ""); //  a check gives no hash
    assert_int_equal (refused.calls, 0);
    assert_int_equal (rfk_admin_hash_fd (pool), fd);
    //  Stopping with a job in flight: it hears CANCELLED.
    s_heard_t left = {0};
    assert_int_equal (rfk_admin_hash_submit (pool, "x", NULL, s_done, &left), 0);
    rfk_admin_hash_destroy (&pool);
    rfk_admin_hash_destroy (&pool);
    assert_int_equal (left.calls, 1);
    assert_int_equal (left.rc, RFK_ADMIN_HASH_CANCELLED);
}

/* The child of the pool: this process's only child (read from /proc). */
static pid_t
s_child_pid (void)
{
    char path[64], line[256] = "";
    snprintf (path, sizeof path, "/proc/%d/task/%d/children", (int)getpid (), (int)getpid ());
    FILE *file = fopen (path, "r");
    if (file) {
        if (!fgets (line, sizeof line, file))
            line[0] = 0;
        fclose (file);
    }
    return (pid_t)atoi (line);
}

/* A child that holds a job past its deadline (stopped here, hung on a lock
   in life) is replaced: the job hears FAILED (the login answers 503), and
   the next job is done by a new child. */
static void
test_hash_child_stuck (void **state)
{
    (void)state;
    rfk_admin_hash_t *pool = rfk_admin_hash_new (1, 1);
    assert_non_null (pool);
    pid_t stuck = s_child_pid ();
    assert_true (stuck > 0);
    assert_int_equal (kill (stuck, SIGSTOP), 0);
    s_heard_t lost = {0};
    assert_int_equal (rfk_admin_hash_submit (pool, "a long password", NULL, s_done, &lost), 0);
    int64_t deadline = rfk_admin_hash_deadline (pool);
    assert_true (deadline > zclock_mono ());
    int64_t started = zclock_mono ();
    for (int round = 0; round < 300 && !lost.calls; round++) {
        poll (NULL, 0, 100);
        rfk_admin_hash_tick (pool);
    }
    print_message ("# the stuck child's job failed after %lld ms\n",
                   (long long)(zclock_mono () - started));
    assert_int_equal (lost.calls, 1);
    assert_int_equal (lost.rc, RFK_ADMIN_HASH_FAILED);
    assert_int_equal (rfk_admin_hash_deadline (pool), -1);
    assert_int_not_equal (s_child_pid (), stuck);
    s_heard_t made = {0};
    assert_int_equal (rfk_admin_hash_submit (pool, "a long password", NULL, s_done, &made), 0);
    s_wait (pool, &made);
    assert_int_equal (made.rc, 0);
    rfk_admin_hash_destroy (&pool);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_login_window),     cmocka_unit_test (test_login_bounded),
        cmocka_unit_test (test_counters),         cmocka_unit_test (test_hash_child),
        cmocka_unit_test (test_hash_child_stuck),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
