/*  rfk_poll.h: a poll set of ZeroMQ sockets and plain descriptors, each
    registered once and known by its handle.

    zpoller does this for sockets; an actor that must also watch a plain
    descriptor (a trial's socketpair, libmicrohttpd's epoll descriptor) uses
    this instead of rebuilding a zmq_pollitem_t array by index every turn:

        rfk_poll_t *poll = rfk_poll_new (pipe, rfk_session_sock (session), NULL);
        rfk_poll_add_fd (poll, rfk_trial_fd (trial), trial);  // when it starts
        void *which = rfk_poll_wait (poll, rfk_deadline_timeout (&deadline));
        if (which == pipe) ... else if (which == trial) ...
        rfk_poll_remove (poll, trial);                          // when it ends

    rfk_poll_wait returns one ready handle per call, taking turns among the
    ready ones so none is starved; a handle that was ready and still is comes
    back at the next call. A loop that serves several busy sockets (the
    predictor) asks rfk_poll_ready instead, after one wait, about each of its
    handles in its own order, so that one wake serves all that was ready:

        rfk_poll_wait (poll, timeout);
        if (rfk_poll_ready (poll, workers)) ...   // answers first,
        if (rfk_poll_ready (poll, query)) ...     // then new queries
*/
#ifndef RFK_POLL_H_INCLUDED
#define RFK_POLL_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_poll_t rfk_poll_t;

/* A poll set of the given readers (zsock_t, zactor_t or libzmq sockets),
   NULL-terminated; more may be added later. NULL when out of memory. */
rfk_poll_t *
rfk_poll_new (void *reader, ...);
/* Destroys the set (not what it watches); safe twice. */
void
rfk_poll_destroy (rfk_poll_t **self_p);

/* Watches a socket for input; wait returns reader itself. 0 or -1. */
int
rfk_poll_add (rfk_poll_t *self, void *reader);
/* Watches a plain descriptor for input (or an error or hang-up); wait
   returns handle. 0 or -1 (fd < 0, handle NULL, out of memory). */
int
rfk_poll_add_fd (rfk_poll_t *self, int fd, void *handle);
/* Stops watching what handle (a reader or an fd's handle) names. 0, or -1
   when it is not watched. */
int
rfk_poll_remove (rfk_poll_t *self, void *handle);
/* Waits up to timeout_ms (-1: for ever) for input; returns the handle of a
   ready reader or descriptor, or NULL on timeout, interruption or when the
   ZeroMQ context ends (see rfk_poll_terminated). */
void *
rfk_poll_wait (rfk_poll_t *self, int timeout_ms);
/* True when handle (a reader or an fd's handle) was ready in the last
   wait; false when it was not, is not watched, or nothing was ready. */
bool
rfk_poll_ready (rfk_poll_t *self, void *handle);
/* True when the last wait ended because the ZeroMQ context is ending. */
bool
rfk_poll_terminated (rfk_poll_t *self);

#ifdef __cplusplus
}
#endif

#endif
