/*  test_store_crash.c: a process killed while writing leaves only whole jobs.

    `test_store_crash sqlite` or `test_store_crash postgresql`. A child
    process creates train jobs (each with five sub train jobs) in a loop and
    reports each committed job on a pipe; the parent waits on a deadline
    until enough jobs exist, SIGKILLs the child, reopens the store and checks
    that every train job has all its sub train jobs, that no sub train job is
    left without its job, that app versions have no holes, and that the
    store still takes new jobs. One case kills the child while it is known to
    be half way through a job (a test hook stops it there); the other kills
    it wherever it happens to be.
*/
#define _GNU_SOURCE
#include "store_fixture.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SUB_JOBS 5
#define WHOLE_JOBS 25     /* committed before the kill */
#define DEADLINE_MS 60000 /* for the child to get there */

static bool s_postgres = false;

typedef struct {
    char *user_id;
    char *dataset_id;
    char *model_ids[SUB_JOBS];
} s_world_t;

/* What the child's hook needs: the pipe, and when to stop half way. */
typedef struct {
    int fd;        /* write end of the report pipe */
    int committed; /* jobs committed so far */
    int sub_jobs;  /* sub jobs written in the current job */
    bool stop_midway;
} s_child_t;

static int
s_setup (void **state)
{
    store_fixture_t *fixture = store_fixture_new (s_postgres);
    if (!fixture)
        return -1;
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    store_fixture_destroy (&fixture);
    return 0;
}

static void
s_world_new (rfk_store_t *store, s_world_t *world)
{
    rfk_user_t user_in = {.email = "crash@rafiki", .password_hash = "x", .user_type = "ADMIN"};
    rfk_user_t *user = rfk_store_create_user (store, &user_in);
    assert_non_null (user);
    rfk_dataset_t dataset_in = {
        .name = "d", .task = "T", .owner_id = user->id, .store_dataset_id = "d.zip"};
    rfk_dataset_t *dataset = rfk_store_create_dataset (store, &dataset_in);
    assert_non_null (dataset);
    for (int i = 0; i < SUB_JOBS; i++) {
        char name[16];
        snprintf (name, sizeof name, "model%d", i);
        rfk_model_t model_in = {.user_id = user->id,
                                .name = name,
                                .task = "T",
                                .model_class = "C",
                                .model_file = "m.so",
                                .access_right = "PRIVATE"};
        rfk_model_t *model = rfk_store_create_model (store, &model_in);
        assert_non_null (model);
        world->model_ids[i] = strdup (model->id);
        rfk_model_destroy (&model);
    }
    world->user_id = strdup (user->id);
    world->dataset_id = strdup (dataset->id);
    rfk_user_destroy (&user);
    rfk_dataset_destroy (&dataset);
}

static void
s_world_destroy (s_world_t *world)
{
    free (world->user_id);
    free (world->dataset_id);
    for (int i = 0; i < SUB_JOBS; i++)
        free (world->model_ids[i]);
}

static rfk_train_job_t *
s_create_job (rfk_store_t *store, const s_world_t *world)
{
    rfk_sub_train_job_t subs[SUB_JOBS];
    memset (subs, 0, sizeof subs);
    for (int i = 0; i < SUB_JOBS; i++)
        subs[i].model_id = world->model_ids[i];
    json_t *budget = json_pack ("{s:i}", "MODEL_TRIAL_COUNT", 3);
    rfk_train_job_t in = {.user_id = world->user_id,
                          .app = "crash",
                          .task = "T",
                          .budget = budget,
                          .train_dataset_id = world->dataset_id,
                          .val_dataset_id = world->dataset_id,
                          .sub_train_job_count = SUB_JOBS,
                          .sub_train_jobs = subs};
    rfk_train_job_t *job = rfk_store_create_train_job (store, &in);
    json_decref (budget);
    return job;
}

/* In the child, after each sub train job is written (inside the
   transaction): once enough jobs are whole, stop half way and say so. */
static void
s_hook (const char *step, void *arg)
{
    s_child_t *child = (s_child_t *)arg;
    if (strcmp (step, "sub_train_job") != 0)
        return;
    child->sub_jobs++;
    if (child->stop_midway && child->committed >= WHOLE_JOBS && child->sub_jobs == SUB_JOBS / 2) {
        if (write (child->fd, "M", 1) != 1)
            _exit (3);
        for (;;)
            pause (); /* the parent's SIGKILL ends this */
    }
}

/* The child: creates jobs until killed. Never returns. */
static void
s_child (const char *url, const s_world_t *world, int fd, bool stop_midway)
{
    rfk_store_error_t err;
    rfk_store_t *store = rfk_store_open (url, NULL, &err);
    if (!store) {
        fprintf (stderr, "child: open: %s\n", err.message);
        _exit (2);
    }
    s_child_t child = {.fd = fd, .stop_midway = stop_midway};
    rfk_store_set_hook (store, s_hook, &child);
    for (;;) {
        child.sub_jobs = 0;
        rfk_train_job_t *job = s_create_job (store, world);
        if (!job) {
            fprintf (stderr, "child: create: %s\n", rfk_store_message (store));
            _exit (2);
        }
        rfk_train_job_destroy (&job);
        child.committed++;
        if (write (fd, "J", 1) != 1)
            _exit (3);
    }
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs a child and kills it: after WHOLE_JOBS jobs, and (stop_midway) once
   it says it is inside the next one. Returns the jobs it reported. */
static int
s_run_and_kill (store_fixture_t *fixture, const s_world_t *world, bool stop_midway)
{
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (fds[0]);
        s_child (fixture->url, world, fds[1], stop_midway);
    }
    close (fds[1]);
    int reported = 0;
    bool midway = false;
    int64_t deadline = s_now_ms () + DEADLINE_MS;
    while (reported < WHOLE_JOBS || (stop_midway && !midway)) {
        int64_t left = deadline - s_now_ms ();
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int ready = left > 0 ? poll (&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break; /* deadline */
        char buf[64];
        ssize_t n = read (fds[0], buf, sizeof buf);
        if (n <= 0)
            break; /* the child died */
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == 'J')
                reported++;
            else if (buf[i] == 'M')
                midway = true;
        }
    }
    kill (pid, SIGKILL);
    int status = 0;
    waitpid (pid, &status, 0);
    close (fds[0]);
    if (reported < WHOLE_JOBS || (stop_midway && !midway))
        fail_msg ("the child reported %d jobs%s before the deadline (exit status %d)", reported,
                  midway ? " and stopped midway" : "", status);
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    return reported;
}

/* Reopens the store and checks it holds only whole jobs and still works. */
static void
s_check_whole (store_fixture_t *fixture, const s_world_t *world, int reported, bool midway)
{
    rfk_store_error_t err;
    fixture->store = rfk_store_open (fixture->url, NULL, &err);
    if (!fixture->store)
        fail_msg ("reopen after the crash: %s", err.message);
    rfk_store_t *store = fixture->store;
    zlistx_t *jobs = rfk_store_list_train_jobs (store, world->user_id, "crash", false, NULL);
    assert_non_null (jobs);
    int count = (int)zlistx_size (jobs);
    assert_true (count >= reported);
    if (midway)
        assert_int_equal (count, reported); /* the one it was writing is gone */
    int64_t version = 0;
    for (rfk_train_job_t *job = (rfk_train_job_t *)zlistx_first (jobs); job;
         job = (rfk_train_job_t *)zlistx_next (jobs)) {
        assert_int_equal (job->app_version, ++version); /* no holes */
        if (job->sub_train_job_count != SUB_JOBS)
            fail_msg ("train job version %lld has %zu of %d sub train jobs",
                      (long long)job->app_version, job->sub_train_job_count, SUB_JOBS);
    }
    zlistx_destroy (&jobs);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM sub_train_jobs"),
                      (long long)count * SUB_JOBS);
    assert_int_equal (store_fixture_count (fixture, "SELECT COUNT(*) FROM sub_train_jobs s"
                                                    " WHERE NOT EXISTS (SELECT 1 FROM train_jobs j"
                                                    " WHERE j.id = s.train_job_id)"),
                      0);
    /* Usable: the next job takes the next version, whole. */
    rfk_train_job_t *next = s_create_job (store, world);
    if (!next)
        fail_msg ("a job after the crash: %s", rfk_store_message (store));
    assert_int_equal (next->app_version, count + 1);
    assert_int_equal (next->sub_train_job_count, SUB_JOBS);
    rfk_train_job_destroy (&next);
    printf ("# %s: %d jobs reported, %d whole jobs found, none partial\n",
            s_postgres ? "postgresql" : "sqlite", reported, count);
}

static void
s_crash (void **state, bool stop_midway)
{
    store_fixture_t *fixture = (store_fixture_t *)*state;
    s_world_t world = {0};
    s_world_new (fixture->store, &world);
    rfk_store_destroy (&fixture->store); /* the parent holds nothing open */
    int reported = s_run_and_kill (fixture, &world, stop_midway);
    s_check_whole (fixture, &world, reported, stop_midway);
    s_world_destroy (&world);
}

/* Killed inside a job's transaction, half of its sub train jobs written. */
static void
test_kill_midway_leaves_whole_jobs (void **state)
{
    s_crash (state, true);
}

/* Killed wherever it happens to be. */
static void
test_kill_anywhere_leaves_whole_jobs (void **state)
{
    s_crash (state, false);
}

int
main (int argc, char **argv)
{
    if (store_fixture_backend (argc, argv, &s_postgres) != 0) {
        fprintf (stderr, "usage: %s [sqlite|postgresql]\n", argv[0]);
        return 2;
    }
    if (s_postgres && !store_fixture_pg_url ())
        return store_fixture_no_server ();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_kill_midway_leaves_whole_jobs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_kill_anywhere_leaves_whole_jobs, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name (
        s_postgres ? "store crash (postgresql)" : "store crash (sqlite)", tests, NULL, NULL);
}
