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

struct _rfk_http_daemon_t {
    struct MHD_Daemon *mhd; /* the daemon, no threads of its own */
    int fd;                 /* its epoll descriptor */
    int port;               /* the port bound */
    bool due;               /* a connection was resumed: run at once */
    const char *log;        /* rfk_log module (a string literal or the caller's) */
    bool quiet;             /* libmicrohttpd's messages at debug level */
};

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
    struct MHD_OptionItem limits[4];
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
    limits[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    self->mhd =
        MHD_start_daemon (flags, (uint16_t)opts->port, NULL, NULL, opts->access, opts->cls,
                          MHD_OPTION_EXTERNAL_LOGGER, s_log, self, MHD_OPTION_SOCK_ADDR,
                          (struct sockaddr *)&address, MHD_OPTION_NOTIFY_COMPLETED, opts->completed,
                          opts->cls, MHD_OPTION_ARRAY, limits, MHD_OPTION_END);
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
    MHD_UNSIGNED_LONG_LONG timeout;
    if (MHD_get_timeout (self->mhd, &timeout) != MHD_YES)
        return -1;
    return timeout > LONG_MAX ? LONG_MAX : (long)timeout;
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
    return MHD_run (self->mhd) == MHD_YES ? 0 : -1;
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
