/*  test_rfk_poll.c: a poll set of sockets and descriptors, through real
    sockets and a socketpair.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rfk_broker.h"

/*  The usage example: a socket and a descriptor registered once, each
    reported by its own handle when it has input, nothing when idle. */
static void
test_usage (void **state)
{
    (void)state;
    zsock_t *pull = zsock_new_pull ("inproc://poll-usage");
    zsock_t *push = zsock_new_push (">inproc://poll-usage");
    assert_non_null (pull);
    assert_non_null (push);
    int pair[2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, pair), 0);
    int trial = 0; /* any address serves as the descriptor's handle */

    rfk_poll_t *poll = rfk_poll_new (pull, NULL);
    assert_non_null (poll);
    assert_int_equal (rfk_poll_add_fd (poll, pair[0], &trial), 0);
    assert_null (rfk_poll_wait (poll, 20));
    assert_false (rfk_poll_terminated (poll));

    zstr_send (push, "hello");
    assert_ptr_equal (rfk_poll_wait (poll, 1000), pull);
    char *text = zstr_recv (pull);
    assert_string_equal (text, "hello");
    zstr_free (&text);

    assert_int_equal (write (pair[1], "x", 1), 1);
    assert_ptr_equal (rfk_poll_wait (poll, 1000), &trial);
    char byte;
    assert_int_equal (read (pair[0], &byte, 1), 1);
    assert_null (rfk_poll_wait (poll, 20));

    /*  Removed: its input no longer wakes the poll. */
    assert_int_equal (rfk_poll_remove (poll, &trial), 0);
    assert_int_equal (rfk_poll_remove (poll, &trial), -1);
    assert_int_equal (write (pair[1], "y", 1), 1);
    assert_null (rfk_poll_wait (poll, 20));

    rfk_poll_destroy (&poll);
    rfk_poll_destroy (&poll);
    close (pair[0]);
    close (pair[1]);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}

/*  Two ready handles take turns: neither is starved while both stay
    ready. */
static void
test_ready_take_turns (void **state)
{
    (void)state;
    int first[2], second[2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, first), 0);
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, second), 0);
    int a = 0, b = 0;
    rfk_poll_t *poll = rfk_poll_new (NULL);
    assert_non_null (poll);
    assert_int_equal (rfk_poll_add_fd (poll, first[0], &a), 0);
    assert_int_equal (rfk_poll_add_fd (poll, second[0], &b), 0);
    assert_int_equal (write (first[1], "x", 1), 1);
    assert_int_equal (write (second[1], "x", 1), 1);
    int seen_a = 0, seen_b = 0;
    for (int turn = 0; turn < 4; turn++) {
        void *which = rfk_poll_wait (poll, 1000);
        seen_a += which == &a;
        seen_b += which == &b;
    }
    assert_int_equal (seen_a, 2);
    assert_int_equal (seen_b, 2);
    /*  A closed peer counts as input (the reader sees the end). */
    close (second[1]);
    assert_int_equal (read (first[0], &(char){0}, 1), 1);
    assert_int_equal (read (second[0], &(char){0}, 1), 1);
    assert_ptr_equal (rfk_poll_wait (poll, 1000), &b);
    rfk_poll_destroy (&poll);
    close (first[0]);
    close (first[1]);
    close (second[0]);
}

/*  After one wait, rfk_poll_ready tells each handle that had input, so a
    loop serves every ready socket per wake; an add keeps what the wait saw
    for the others, a remove forgets it, and a timeout leaves none ready. */
static void
test_ready_after_one_wait (void **state)
{
    (void)state;
    zsock_t *pull = zsock_new_pull ("inproc://poll-ready");
    zsock_t *push = zsock_new_push (">inproc://poll-ready");
    assert_non_null (pull);
    assert_non_null (push);
    int first[2], second[2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, first), 0);
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, second), 0);
    int a = 0, b = 0, c = 0;
    rfk_poll_t *poll = rfk_poll_new (pull, NULL);
    assert_non_null (poll);
    assert_false (rfk_poll_ready (poll, pull)); /* no wait yet */
    assert_int_equal (rfk_poll_add_fd (poll, first[0], &a), 0);
    assert_int_equal (rfk_poll_add_fd (poll, second[0], &b), 0);

    zstr_send (push, "hello");
    assert_int_equal (write (second[1], "x", 1), 1);
    assert_non_null (rfk_poll_wait (poll, 1000));
    assert_true (rfk_poll_ready (poll, pull));
    assert_false (rfk_poll_ready (poll, &a));
    assert_true (rfk_poll_ready (poll, &b));
    assert_false (rfk_poll_ready (poll, &c)); /* not watched */

    assert_int_equal (rfk_poll_add_fd (poll, first[1], &c), 0);
    assert_true (rfk_poll_ready (poll, pull));
    assert_true (rfk_poll_ready (poll, &b));
    assert_false (rfk_poll_ready (poll, &c)); /* added after the wait */
    assert_int_equal (rfk_poll_remove (poll, &c), 0);
    assert_false (rfk_poll_ready (poll, pull));
    assert_false (rfk_poll_ready (poll, &b));

    /*  Served: the next wait times out and nothing is ready. */
    char *text = zstr_recv (pull);
    zstr_free (&text);
    assert_int_equal (read (second[0], &(char){0}, 1), 1);
    assert_null (rfk_poll_wait (poll, 20));
    assert_false (rfk_poll_ready (poll, pull));
    assert_false (rfk_poll_ready (poll, &b));

    rfk_poll_destroy (&poll);
    for (int i = 0; i < 2; i++) {
        close (first[i]);
        close (second[i]);
    }
    zsock_destroy (&push);
    zsock_destroy (&pull);
}

/*  What cannot be watched is refused, not asserted. */
static void
test_bad_handles (void **state)
{
    (void)state;
    rfk_poll_t *poll = rfk_poll_new (NULL);
    int handle = 0;
    assert_int_equal (rfk_poll_add_fd (poll, -1, &handle), -1);
    assert_int_equal (rfk_poll_add_fd (poll, 0, NULL), -1);
    assert_int_equal (rfk_poll_add (poll, NULL), -1);
    assert_int_equal (rfk_poll_remove (poll, &handle), -1);
    rfk_poll_destroy (&poll);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_ready_take_turns),
        cmocka_unit_test (test_ready_after_one_wait),
        cmocka_unit_test (test_bad_handles),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
