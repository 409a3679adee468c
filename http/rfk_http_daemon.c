/*  rfk_http_daemon.c: libmicrohttpd inside an actor's loop (see
    rfk_http_daemon.h).
*/
#include "rfk_http_daemon.h"
#include "rfk_log.h"

#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Body bytes a timed request earns a second: a body slower than this on
   average is cut (after the read_timeout_s grace). */
#define S_MIN_BODY_RATE 1024

/* One connection, timed while its request is being read. */
typedef struct s_conn {
    struct s_conn *prev, *next; /* the daemon's list */
    int fd;                     /* its socket */
    int64_t deadline;           /* monotonic ms when it is cut; 0: not timed */
    bool cut;                   /* shut down for being too slow */
} s_conn_t;

struct _rfk_http_daemon_t {
    struct MHD_Daemon *mhd;                 /* the daemon, no threads of its own */
    int fd;                                 /* its epoll descriptor */
    int port;                               /* the port bound */
    bool due;                               /* a connection was resumed: run at once */
    const char *log;                        /* rfk_log module (a string literal or the caller's) */
    bool quiet;                             /* libmicrohttpd's messages at debug level */
    int64_t read_timeout_ms;                /* opts.read_timeout_s, 0: requests are not timed */
    MHD_AccessHandlerCallback access;       /* the caller's handler */
    MHD_RequestCompletedCallback completed; /* the caller's completion, or NULL */
    void *cls;                              /* their argument */
    s_conn_t *conns;                        /* connections, timed or not */
    int64_t next_check; /* monotonic ms of the next look for slow ones; 0: none */
    uint64_t cut;       /* connections cut for being too slow */
};

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Time a connection from now (its next request's headers, or a body). */
static void
s_conn_time (rfk_http_daemon_t *self, s_conn_t *conn, int64_t extra_ms)
{
    int64_t now = s_now_ms ();
    conn->deadline = now + self->read_timeout_ms + extra_ms;
    if (!self->next_check)
        self->next_check = now + 1000;
}

/* libmicrohttpd's connection notice: a connection starts (timed from now)
   or ends. */
static void
s_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
          enum MHD_ConnectionNotificationCode toe)
{
    rfk_http_daemon_t *self = (rfk_http_daemon_t *)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        s_conn_t *conn = (s_conn_t *)calloc (1, sizeof *conn);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!conn || !info) {
            free (conn);
            return;
        }
        conn->fd = info->connect_fd;
        conn->next = self->conns;
        if (self->conns)
            self->conns->prev = conn;
        self->conns = conn;
        s_conn_time (self, conn, 0);
        *socket_context = conn;
    } else if (*socket_context) {
        s_conn_t *conn = (s_conn_t *)*socket_context;
        if (conn->prev)
            conn->prev->next = conn->next;
        else
            self->conns = conn->next;
        if (conn->next)
            conn->next->prev = conn->prev;
        free (conn);
        *socket_context = NULL;
    }
}

/* The timing of the connection of a request, or NULL. */
static s_conn_t *
s_conn_of (struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? (s_conn_t *)info->socket_context : NULL;
}

/* The caller's handler, with the request timed: the headers are in (a body
   is timed at S_MIN_BODY_RATE, none stops the clock), body bytes earn
   time, the end of the body stops the clock. */
static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    rfk_http_daemon_t *self = (rfk_http_daemon_t *)cls;
    s_conn_t *conn = s_conn_of (connection);
    if (conn && !*con_cls) {
        bool body = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
        const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull (length, NULL, 10) > 0)
            body = true;
        if (body)
            s_conn_time (self, conn, 0);
        else
            conn->deadline = 0;
    } else if (conn && *upload_data_size && conn->deadline)
        conn->deadline += (int64_t)(*upload_data_size * 1000 / S_MIN_BODY_RATE);
    else if (conn)
        conn->deadline = 0;
    return self->access (self->cls, connection, url, method, version, upload_data, upload_data_size,
                         con_cls);
}

/* A request ended: a kept-alive connection's next one is timed from now. */
static void
s_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    rfk_http_daemon_t *self = (rfk_http_daemon_t *)cls;
    s_conn_t *conn = s_conn_of (connection);
    if (conn)
        s_conn_time (self, conn, 0);
    if (self->completed)
        self->completed (self->cls, connection, con_cls, toe);
}

/* Shut down the connections past their time (libmicrohttpd then sees the
   error and closes them), at most once a second. */
static void
s_cut_slow (rfk_http_daemon_t *self)
{
    int64_t now = s_now_ms ();
    if (!self->next_check || now < self->next_check)
        return;
    bool timed = false;
    for (s_conn_t *conn = self->conns; conn; conn = conn->next) {
        if (!conn->deadline || conn->cut)
            continue;
        if (conn->deadline <= now) {
            conn->cut = true;
            self->cut++;
            shutdown (conn->fd, SHUT_RDWR);
            rfk_log_info (self->log, "http-slow-client-cut fd=%d cut=%llu", conn->fd,
                          (unsigned long long)self->cut);
        } else
            timed = true;
    }
    self->next_check = timed ? now + 1000 : 0;
}

static void
s_log (void *cls, const char *format, va_list args)
{
    rfk_http_daemon_t *self = (rfk_http_daemon_t *)cls;
    char line[512];
    vsnprintf (line, sizeof line, format, args);
    size_t len = strlen (line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = 0;
    if (self->quiet)
        rfk_log_debug (self->log, "http %s", line);
    else
        rfk_log_warning (self->log, "RFK-HTTP %s", line);
}

/*  The address to bind for host:port: numeric IPv4 or IPv6, or a name. 0,
    or -1 with err. */
static int
s_resolve (const char *host, int port, struct sockaddr_storage *address, bool *ipv6, char *err,
           size_t errlen)
{
    if (!host || !*host || strcmp (host, "*") == 0)
        host = "0.0.0.0";
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *addresses = NULL;
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    int rc = getaddrinfo (host, service, &hints, &addresses);
    if (rc || !addresses) {
        snprintf (err, errlen, "cannot use address %s: %s", host,
                  rc ? gai_strerror (rc) : "no address");
        if (addresses)
            freeaddrinfo (addresses);
        return -1;
    }
    memset (address, 0, sizeof *address);
    memcpy (address, addresses->ai_addr, addresses->ai_addrlen);
    *ipv6 = addresses->ai_family == AF_INET6;
    freeaddrinfo (addresses);
    return 0;
}

rfk_http_daemon_t *
rfk_http_daemon_new (const rfk_http_daemon_opts_t *opts, char *err, size_t errlen)
{
    if (!opts || !opts->access || opts->port < 0 || opts->port > 65535) {
        snprintf (err, errlen, "the HTTP daemon needs a request handler and a port 0-65535");
        return NULL;
    }
    struct sockaddr_storage address;
    bool ipv6 = false;
    if (s_resolve (opts->host, opts->port, &address, &ipv6, err, errlen) != 0)
        return NULL;
    rfk_http_daemon_t *self = (rfk_http_daemon_t *)calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->log = opts->log ? opts->log : "http";
    self->quiet = opts->quiet;
    self->fd = -1;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    if (opts->turbo)
        flags |= MHD_USE_TURBO;
    struct MHD_OptionItem limits[5];
    size_t n = 0;
    if (opts->max_connections)
        limits[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                              (intptr_t)opts->max_connections, NULL};
    if (opts->connection_timeout_s)
        limits[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                              (intptr_t)opts->connection_timeout_s, NULL};
    if (opts->listen_backlog)
        limits[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE,
                                              (intptr_t)opts->listen_backlog, NULL};
    if (opts->max_per_address)
        limits[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                              (intptr_t)opts->max_per_address, NULL};
    limits[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    //  Timed requests go through s_access / s_completed, which call the
    //  caller's; untimed ones reach the caller's directly.
    self->read_timeout_ms = (int64_t)opts->read_timeout_s * 1000;
    self->access = opts->access;
    self->completed = opts->completed;
    self->cls = opts->cls;
    bool timed = self->read_timeout_ms > 0;
    self->mhd =
        MHD_start_daemon (flags, (uint16_t)opts->port, NULL, NULL, timed ? s_access : opts->access,
                          timed ? (void *)self : opts->cls, MHD_OPTION_EXTERNAL_LOGGER, s_log, self,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
                          MHD_OPTION_NOTIFY_COMPLETED, timed ? s_completed : opts->completed,
                          timed ? (void *)self : opts->cls, MHD_OPTION_NOTIFY_CONNECTION,
                          timed ? s_notify : NULL, self, MHD_OPTION_ARRAY, limits, MHD_OPTION_END);
    if (!self->mhd) {
        snprintf (err, errlen, "cannot listen on %s:%d (port in use or address not local?)",
                  opts->host && *opts->host ? opts->host : "*", opts->port);
        rfk_http_daemon_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->mhd, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : opts->port;
    info = MHD_get_daemon_info (self->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    self->fd = info ? info->epoll_fd : -1;
    if (self->fd < 0 || self->port <= 0) {
        snprintf (err, errlen, "libmicrohttpd gave no epoll descriptor or port");
        rfk_http_daemon_destroy (&self);
        return NULL;
    }
    return self;
}

void
rfk_http_daemon_destroy (rfk_http_daemon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_http_daemon_t *self = *self_p;
    if (self->mhd)
        MHD_stop_daemon (self->mhd);
    free (self);
    *self_p = NULL;
}

int
rfk_http_daemon_fd (rfk_http_daemon_t *self)
{
    return self ? self->fd : -1;
}

int
rfk_http_daemon_port (rfk_http_daemon_t *self)
{
    return self ? self->port : -1;
}

long
rfk_http_daemon_timeout_ms (rfk_http_daemon_t *self)
{
    if (!self)
        return -1;
    if (self->due)
        return 0;
    long result = -1;
    MHD_UNSIGNED_LONG_LONG timeout;
    if (MHD_get_timeout (self->mhd, &timeout) == MHD_YES)
        result = timeout > LONG_MAX ? LONG_MAX : (long)timeout;
    if (self->next_check) {
        int64_t left = self->next_check - s_now_ms ();
        long check = left < 0 ? 0 : (long)left;
        if (result < 0 || check < result)
            result = check;
    }
    return result;
}

bool
rfk_http_daemon_due (rfk_http_daemon_t *self)
{
    return self && self->due;
}

int
rfk_http_daemon_run (rfk_http_daemon_t *self)
{
    if (!self)
        return -1;
    self->due = false;
    int rc = MHD_run (self->mhd) == MHD_YES ? 0 : -1;
    s_cut_slow (self);
    return rc;
}

void
rfk_http_daemon_suspend (rfk_http_daemon_t *self, struct MHD_Connection *connection)
{
    (void)self;
    MHD_suspend_connection (connection);
}

void
rfk_http_daemon_resume (rfk_http_daemon_t *self, struct MHD_Connection *connection)
{
    MHD_resume_connection (connection);
    if (self)
        self->due = true;
}

int
rfk_http_daemon_parse_address (const char *address, char *host, size_t hostlen, int *port,
                               char *err, size_t errlen)
{
    if (!address) {
        snprintf (err, errlen, "no HTTP address");
        return -1;
    }
    if (strncmp (address, "http://", 7) == 0)
        address += 7;
    const char *colon = strrchr (address, ':');
    size_t length = colon ? (size_t)(colon - address) : strlen (address);
    if (length >= hostlen) {
        snprintf (err, errlen, "bad HTTP address %s", address);
        return -1;
    }
    memcpy (host, address, length);
    host[length] = 0;
    *port = 0;
    if (colon && strcmp (colon + 1, "*") != 0) {
        char *end;
        long value = strtol (colon + 1, &end, 10);
        if (!colon[1] || *end || value < 0 || value > 65535) {
            snprintf (err, errlen, "bad HTTP port in %s", address);
            return -1;
        }
        *port = (int)value;
    }
    return 0;
}
