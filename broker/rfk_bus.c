/*  rfk_bus.c: the bus options and the socket constructor every module uses.
 */
#define _GNU_SOURCE
#include "rfk_bus.h"

#include <string.h>

void
rfk_bus_opts_defaults (rfk_bus_opts_t *opts)
{
    assert (opts);
    opts->sndhwm = RFK_BUS_SNDHWM;
    opts->rcvhwm = RFK_BUS_RCVHWM;
    opts->linger_ms = RFK_BUS_LINGER_MS;
    opts->heartbeat_interval_ms = RFK_BUS_HEARTBEAT_INTERVAL_MS;
    opts->heartbeat_timeout_ms = RFK_BUS_HEARTBEAT_TIMEOUT_MS;
    opts->request_timeout_ms = RFK_BUS_REQUEST_TIMEOUT_MS;
    opts->request_retries = RFK_BUS_REQUEST_RETRIES;
    opts->max_frame_bytes = RFK_BUS_MAX_FRAME_BYTES;
    opts->malformed_limit = RFK_BUS_MALFORMED_LIMIT;
    opts->curve = false;
    opts->curve_public[0] = opts->curve_secret[0] = opts->curve_server[0] = '\0';
    opts->zap_domain[0] = '\0';
    opts->io = RFK_BUS_IO_DATA;
}

void
rfk_bus_opts_from_config (rfk_bus_opts_t *opts, const rfk_config_t *config)
{
    assert (opts);
    rfk_bus_opts_defaults (opts);
    if (!config)
        return;
    opts->sndhwm = (int)rfk_config_int (config, "bus", "sndhwm");
    opts->rcvhwm = (int)rfk_config_int (config, "bus", "rcvhwm");
    opts->heartbeat_interval_ms = (int)rfk_config_int (config, "bus", "heartbeat_interval_ms");
    opts->heartbeat_timeout_ms = (int)rfk_config_int (config, "bus", "heartbeat_timeout_ms");
    opts->request_timeout_ms = (int)rfk_config_int (config, "bus", "request_timeout_ms");
    opts->request_retries = (int)rfk_config_int (config, "bus", "request_retries");
    opts->max_frame_bytes = (size_t)rfk_config_size (config, "bus", "max_frame_bytes");
    opts->curve = rfk_config_bool (config, "bus", "curve");
}

void
rfk_bus_socket_apply (zsock_t *sock, const rfk_bus_opts_t *opts)
{
    assert (sock);
    rfk_bus_opts_t defaults;
    if (!opts) {
        rfk_bus_opts_defaults (&defaults);
        opts = &defaults;
    }
    zsock_set_sndhwm (sock, opts->sndhwm);
    zsock_set_rcvhwm (sock, opts->rcvhwm);
    /*  A bounded linger lets a last reply or ack queued just before close get
        out, without making shutdown wait forever on a peer that is gone. */
    zsock_set_linger (sock, opts->linger_ms);
    int64_t hard_cap = opts->max_frame_bytes > (size_t)(INT64_MAX - 1024) / 2
                           ? INT64_MAX
                           : (int64_t)opts->max_frame_bytes * 2 + 1024;
    zmq_setsockopt (zsock_resolve (sock), ZMQ_MAXMSGSIZE, &hard_cap, sizeof (hard_cap));
    /*  A peer that vanished without a word (a killed container: its address
        is gone, no RST ever comes) must not hold a connection open forever:
        ZMTP pings close a connection silent for heartbeat_timeout_ms, and a
        connect that hangs is given up after as long, so that the next
        attempt resolves the peer's name again (a service name under swarm
        names the new container). */
    int interval = opts->heartbeat_interval_ms > 0 ? opts->heartbeat_interval_ms : 0;
    int timeout = opts->heartbeat_timeout_ms > interval ? opts->heartbeat_timeout_ms : 0;
    //  The connections' I/O thread, where the context has enough of them.
    int io_threads = zmq_ctx_get (zsys_init (), ZMQ_IO_THREADS);
    if (io_threads >= RFK_BUS_IO_THREADS && opts->io >= 0 && opts->io < io_threads) {
        uint64_t affinity = (uint64_t)1 << opts->io;
        zmq_setsockopt (zsock_resolve (sock), ZMQ_AFFINITY, &affinity, sizeof affinity);
    }
    if (interval > 0 && timeout > 0) {
        zmq_setsockopt (zsock_resolve (sock), ZMQ_HEARTBEAT_IVL, &interval, sizeof interval);
        zmq_setsockopt (zsock_resolve (sock), ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
        zmq_setsockopt (zsock_resolve (sock), ZMQ_CONNECT_TIMEOUT, &timeout, sizeof timeout);
    }
}

/* CURVE options for a socket about to bind or connect; 0, or -1. */
static int
s_curve_apply (zsock_t *sock, const rfk_bus_opts_t *opts)
{
    if (opts->curve_server[0]) {
        char public_key[41], secret_key[41];
        if (opts->curve_secret[0]) {
            snprintf (public_key, sizeof public_key, "%s", opts->curve_public);
            snprintf (secret_key, sizeof secret_key, "%s", opts->curve_secret);
        } else if (zmq_curve_keypair (public_key, secret_key) != 0)
            return -1;
        zsock_set_curve_serverkey (sock, opts->curve_server);
        zsock_set_curve_publickey (sock, public_key);
        zsock_set_curve_secretkey (sock, secret_key);
        explicit_bzero (secret_key, sizeof secret_key);
    } else if (opts->curve_secret[0] && opts->zap_domain[0]) {
        zsock_set_curve_server (sock, 1);
        zsock_set_curve_secretkey (sock, opts->curve_secret);
        zsock_set_zap_domain (sock, opts->zap_domain);
    }
    return 0;
}

zsock_t *
rfk_bus_socket_new (int type, const char *endpoints, bool serverish, const rfk_bus_opts_t *opts)
{
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        zsys_error ("RFK-BUS: cannot create a socket of type %d: %s", type,
                    zmq_strerror (zmq_errno ()));
        return NULL;
    }
    /*  High-water marks only apply to pipes made after they are set, so they
        go on before any bind or connect. */
    rfk_bus_socket_apply (sock, opts);
    if (opts && s_curve_apply (sock, opts) != 0) {
        zsys_error ("RFK-BUS: cannot set CURVE keys: %s", zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    if (endpoints && zsock_attach (sock, endpoints, serverish) != 0) {
        zsys_warning ("RFK-BUS: cannot %s %s: %s", serverish ? "bind" : "connect", endpoints,
                      zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}
