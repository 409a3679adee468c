/*  bare_http: a bare libmicrohttpd server, the yardstick for the
    predictor's HTTP front.

    bare_http PORT BODY

    One epoll thread (as the predictor's one loop) answering every request,
    after reading its body, with 200 and BODY as application/json. PORT 0
    takes any free port; the port bound is printed as `port=N`. Runs until
    SIGTERM or SIGINT.
*/
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *s_body;

static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    static int marker;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer (strlen (s_body), (void *)s_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header (response, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: bare_http PORT BODY\n");
        return 2;
    }
    s_body = argv[2];
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    sigprocmask (SIG_BLOCK, &signals, NULL);
    struct MHD_Daemon *daemon =
        MHD_start_daemon (MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, (uint16_t)atoi (argv[1]),
                          NULL, NULL, s_handler, NULL, MHD_OPTION_CONNECTION_LIMIT, 4096u,
                          MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!daemon) {
        fprintf (stderr, "bare_http: cannot listen on %s\n", argv[1]);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf ("port=%u\n", info ? (unsigned)info->port : 0u);
    fflush (stdout);
    int signal_number;
    sigwait (&signals, &signal_number);
    MHD_stop_daemon (daemon);
    return 0;
}
