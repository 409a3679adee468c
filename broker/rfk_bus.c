/*  rfk_bus.c: the bus options and the socket constructor every module uses.
 */
#include "rfk_bus.h"

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
    if (endpoints && zsock_attach (sock, endpoints, serverish) != 0) {
        zsys_warning ("RFK-BUS: cannot %s %s: %s", serverish ? "bind" : "connect", endpoints,
                      zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}
