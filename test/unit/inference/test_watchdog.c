/*  test_watchdog.c: the watchdog that ends an inference worker stuck in
    template code (actors/inference/rfk_watchdog.h).

    A stuck call is tried in a child process (the watchdog ends the whole
    process): the child arms, spins, and must end with status 1 and the
    RFK-STUCK line on its stderr, well before the spin would have ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rfk_watchdog.h"

/* The usage example: a call that returns in time is left alone. */
static void
test_call_in_time (void **state)
{
    (void)state;
    rfk_watchdog_t *dog = rfk_watchdog_new ("test", 20);
    assert_non_null (dog);
    rfk_watchdog_arm (dog, 200, "a quick call", "test.limit");
    zclock_sleep (50); /* the call */
    rfk_watchdog_disarm (dog);
    zclock_sleep (300); /* past the limit: disarmed, nothing happens */
    rfk_watchdog_arm (dog, 0, "an unwatched call", "test.limit"); /* 0: not watched */
    zclock_sleep (100);
    rfk_watchdog_destroy (&dog);
    rfk_watchdog_destroy (&dog);
    assert_null (dog);
    rfk_watchdog_arm (NULL, 100, "no watchdog", "test.limit");
    rfk_watchdog_disarm (NULL);
}

/* Runs a child that arms limit_ms and then spins for spin_ms; its exit
   status (or -1), its stderr into out. */
static int
s_stuck_child (int limit_ms, int spin_ms, char *out, size_t size)
{
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        dup2 (fds[1], STDERR_FILENO);
        close (fds[0]);
        rfk_watchdog_t *dog = rfk_watchdog_new ("test", rfk_watchdog_period_for (limit_ms));
        if (!dog)
            _exit (3);
        rfk_watchdog_arm (dog, limit_ms, "the test's spin", "test.spin_limit");
        for (int64_t until = zclock_mono () + spin_ms; zclock_mono () < until;)
            ;
        _exit (0); /* the watchdog did not end us */
    }
    close (fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = read (fds[0], out + got, size - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    close (fds[0]);
    int status = 0;
    while (waitpid (pid, &status, 0) < 0)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* A call stuck past its limit ends the process, saying which and why. */
static void
test_stuck_call_ends_the_process (void **state)
{
    (void)state;
    char said[2048];
    int64_t started = zclock_mono ();
    int status = s_stuck_child (200, 10000, said, sizeof said);
    int64_t took = zclock_mono () - started;
    print_message ("# ended after %lld ms: %s", (long long)took, said);
    assert_int_equal (status, 1);
    assert_non_null (strstr (said, "RFK-STUCK the test's spin did not return within 200 ms "
                                   "(test.spin_limit): ending the process"));
    assert_true (took < 5000); /* not the spin's end */
}

/* What arming and disarming cost the loop, per call (printed): a clock read
   and atomic stores, no system call. */
static void
test_cost (void **state)
{
    (void)state;
    rfk_watchdog_t *dog = rfk_watchdog_new ("test", 1000);
    assert_non_null (dog);
    const int rounds = 1000000;
    int64_t started = zclock_usecs ();
    for (int i = 0; i < rounds; i++) {
        rfk_watchdog_arm (dog, 60000, "a call", "test.limit");
        rfk_watchdog_disarm (dog);
    }
    double ns = (double)(zclock_usecs () - started) * 1000.0 / rounds;
    print_message ("# arm + disarm: %.1f ns per call\n", ns);
    rfk_watchdog_destroy (&dog);
    assert_true (ns < 5000); /* generous: sanitizers, a loaded machine */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_call_in_time),
        cmocka_unit_test (test_stuck_call_ends_the_process),
        cmocka_unit_test (test_cost),
    };
    return cmocka_run_group_tests_name ("watchdog", tests, NULL, NULL);
}
