/*  rfk_admin_ports.c: the ports file, <data_dir>/rafikid.ports.

    Admin binds its four sockets on the configured ports, 0 meaning any free
    one. Once setup succeeded it writes the ports it really got, so that a
    program which started `rafikid up` with port 0 everywhere (tests,
    scripts) learns them without racing anyone for a port number:

        http=PORT
        command=PORT
        service=PORT
        events=PORT

    The file is written atomically (a temporary beside it, then rename),
    mode 0600; 0 stands for a socket admin did not open (no HTTP front).
    It is removed when admin stops cleanly. An admin that was killed leaves
    it: the next admin on the data dir binds `service` on the port it names
    again when admin.service_port is 0, because the services it left running
    (which it adopts) reach admin there (rfk_admin_ports_last_service).
*/
#include "rfk_admin_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RFK_ADMIN_PORTS_FILE "rafikid.ports"

/* The port of "scheme://host:port", 0 when there is none. */
static int
s_endpoint_port (const char *endpoint)
{
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    if (!colon)
        return 0;
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    return end && *end == 0 && port > 0 && port <= 65535 ? (int)port : 0;
}

int
rfk_admin_ports_write (const char *data_dir, int http_port, const char *command,
                       const char *service, const char *events, char *err, size_t errlen)
{
    char path[4096], tmp[4200], text[256];
    snprintf (path, sizeof path, "%s/" RFK_ADMIN_PORTS_FILE, data_dir);
    snprintf (tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid ());
    int len =
        snprintf (text, sizeof text, "http=%d\ncommand=%d\nservice=%d\nevents=%d\n", http_port,
                  s_endpoint_port (command), s_endpoint_port (service), s_endpoint_port (events));
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, errlen, "cannot write %s: %s", tmp, strerror (errno));
        return -1;
    }
    bool ok = write (fd, text, (size_t)len) == len;
    int saved = errno;
    ok = close (fd) == 0 && ok;
    if (!ok || rename (tmp, path) != 0) {
        snprintf (err, errlen, "cannot write %s: %s", path, strerror (ok ? errno : saved));
        unlink (tmp);
        return -1;
    }
    return 0;
}

int
rfk_admin_ports_last_service (const char *data_dir)
{
    char path[4096], line[128];
    snprintf (path, sizeof path, "%s/" RFK_ADMIN_PORTS_FILE, data_dir);
    FILE *file = fopen (path, "re");
    int port = 0;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "service=", 8) == 0) {
            char *end = NULL;
            long value = strtol (line + 8, &end, 10);
            port =
                end && (*end == '\n' || *end == 0) && value > 0 && value <= 65535 ? (int)value : 0;
        }
    if (file)
        fclose (file);
    return port;
}

void
rfk_admin_ports_remove (const char *data_dir)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/" RFK_ADMIN_PORTS_FILE, data_dir);
    unlink (path);
}
