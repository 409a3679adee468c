/*  rfk_http_daemon.h: libmicrohttpd inside an actor's loop, the glue that
    admin's HTTP front and the predictor share.

    The daemon runs with MHD_USE_EPOLL and no thread of its own (DESIGN.md
    §7): the actor polls rfk_http_daemon_fd (libmicrohttpd's epoll
    descriptor, readable when a connection needs work), bounds its poll by
    rfk_http_daemon_timeout_ms, and calls rfk_http_daemon_run when the
    descriptor is readable or the timeout passed. Request handlers run
    inside rfk_http_daemon_run, in the actor's thread.

    It binds host:port (port 0: any free port; rfk_http_daemon_port reads
    back the port it got, so nothing picks a port and binds it later).
    Connections can be suspended while their answer is out
    (MHD_ALLOW_SUSPEND_RESUME): rfk_http_daemon_resume, called from anywhere
    in the actor's thread, also makes the timeout 0 until the next run, so
    the resumed connection is served at once.

    Slow clients (slowloris): libmicrohttpd's connection timeout (0.9.75,
    MHD_OPTION_CONNECTION_TIMEOUT) is an idle timeout, reset by every byte,
    so a client sending one header byte every few seconds holds its
    connection forever. With read_timeout_s set, the daemon times each
    request itself: its headers must be in within read_timeout_s of the
    connection's start (or of the previous request's end, on a kept-alive
    connection), and a body must then come at 1 KiB/s on average (after a
    read_timeout_s grace); a connection past its time is shut down within
    a second. A request whose body is in (answered, suspended, a stream)
    is not timed. max_per_address caps the connections of one IP address
    (MHD_OPTION_PER_IP_CONNECTION_LIMIT; more are refused at accept).

    Usage:

        rfk_http_daemon_opts_t opts = {.host = "127.0.0.1", .port = 0,
                                       .access = s_access, .cls = self};
        char err[256];
        rfk_http_daemon_t *http = rfk_http_daemon_new (&opts, err, sizeof err);
        zmq_pollitem_t items[] = {{pipe, 0, ZMQ_POLLIN, 0},
                                  {NULL, rfk_http_daemon_fd (http), ZMQ_POLLIN, 0}};
        while (!terminated) {
            zmq_poll (items, 2, rfk_http_daemon_timeout_ms (http));   // -1: none
            ...
            rfk_http_daemon_run (http);
        }
        rfk_http_daemon_destroy (&http);
*/
#ifndef RFK_HTTP_DAEMON_H_INCLUDED
#define RFK_HTTP_DAEMON_H_INCLUDED

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_http_daemon_t rfk_http_daemon_t;

/* Where and how to serve; strings are borrowed for the call. */
typedef struct {
    const char *host;                       /* numeric IPv4/IPv6 or a name; NULL, "" or "*": any */
    int port;                               /* 0: any free port */
    unsigned max_connections;               /* 0: libmicrohttpd's default */
    unsigned connection_timeout_s;          /* idle connections closed after it; 0: never */
    unsigned listen_backlog;                /* 0: libmicrohttpd's default */
    unsigned max_per_address;               /* connections from one IP address; 0: no cap */
    unsigned read_timeout_s;                /* a request's headers (and body, at 1 KiB/s at
                                               least) must come within it; 0: no timeout */
    bool turbo;                             /* MHD_USE_TURBO (no extra checks, for throughput) */
    MHD_AccessHandlerCallback access;       /* answers each request; required */
    MHD_RequestCompletedCallback completed; /* a request ended (may be NULL) */
    void *cls;                              /* the first argument of both */
    const char *log;                        /* rfk_log module for libmicrohttpd's messages */
    bool quiet;                             /* log them at debug level, not as warnings */
} rfk_http_daemon_opts_t;

/* A daemon listening on host:port, or NULL with the reason in err (port in
   use, an address that is not local, a bad name). */
rfk_http_daemon_t *
rfk_http_daemon_new (const rfk_http_daemon_opts_t *opts, char *err, size_t errlen);

/* Stops the daemon and closes its connections (resume suspended ones
   first: libmicrohttpd requires it). Safe twice. */
void
rfk_http_daemon_destroy (rfk_http_daemon_t **self_p);

/* The descriptor to poll for input (libmicrohttpd's epoll set). */
int
rfk_http_daemon_fd (rfk_http_daemon_t *self);

/* The port bound (the one the system chose for port 0). */
int
rfk_http_daemon_port (rfk_http_daemon_t *self);

/* Milliseconds until rfk_http_daemon_run must run even if the descriptor
   stays quiet: 0 when a connection was resumed since the last run, else
   libmicrohttpd's own timeout, or -1 for none. */
long
rfk_http_daemon_timeout_ms (rfk_http_daemon_t *self);

/* True when a connection was resumed since the last run. */
bool
rfk_http_daemon_due (rfk_http_daemon_t *self);

/* Does the work that is ready (accept, read, call the handlers, write);
   never blocks but inside handlers. 0, or -1 if libmicrohttpd failed. */
int
rfk_http_daemon_run (rfk_http_daemon_t *self);

/* Suspends a connection (from inside its handler) until resumed. */
void
rfk_http_daemon_suspend (rfk_http_daemon_t *self, struct MHD_Connection *connection);

/* Resumes a suspended connection and makes the daemon due to run. */
void
rfk_http_daemon_resume (rfk_http_daemon_t *self, struct MHD_Connection *connection);

/* Splits "[http://]HOST:PORT" (PORT "*": 0) into host and port; an
   address with no colon is a host with port 0. 0, or -1 with err. */
int
rfk_http_daemon_parse_address (const char *address, char *host, size_t hostlen, int *port,
                               char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
