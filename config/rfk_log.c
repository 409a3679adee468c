/*  rfk_log: zsys-style log lines to standard error and a per-service file.

    czmq formats and timestamps every line (zsys_error ... zsys_debug) and
    writes it to one stream; that stream is a FILE made with fopencookie ()
    whose writes go to the log file and, if asked, to standard error, each
    with write (2) on an O_APPEND descriptor so lines from several threads
    or processes never interleave within a line.
*/
#define _GNU_SOURCE
#include "rfk_log.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Where the tee stream writes.
typedef struct {
    int file_fd;    //  the log file, O_APPEND
    bool to_stderr; //  copy each write to fd 2
} s_tee_t;

static FILE *s_stream = NULL;             //  the tee stream while a log is open
static char s_path[4096] = "";            //  log file opened or tried last
static atomic_int s_level = RFK_LOG_INFO; //  lowest level written
static atomic_bool s_stream_set = false;  //  czmq's stream was pointed somewhere

static void
s_write_all (int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t written = write (fd, data, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return; //  a full disk or a closed stderr drops the line
        data += written;
        size -= (size_t)written;
    }
}

static ssize_t
s_tee_write (void *cookie, const char *data, size_t size)
{
    s_tee_t *tee = cookie;
    s_write_all (tee->file_fd, data, size);
    if (tee->to_stderr)
        s_write_all (STDERR_FILENO, data, size);
    return (ssize_t)size;
}

static int
s_tee_close (void *cookie)
{
    s_tee_t *tee = cookie;
    int rc = close (tee->file_fd);
    free (tee);
    return rc;
}

//  mkdir -p: 0 or -1 with errno.
static int
s_make_dirs (const char *path)
{
    char buffer[4096];
    if (snprintf (buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *slash = buffer + 1;; slash++) {
        bool end = *slash == 0;
        if (*slash == '/' || end) {
            *slash = 0;
            if (mkdir (buffer, 0755) != 0 && errno != EEXIST)
                return -1;
            struct stat info;
            if (stat (buffer, &info) != 0)
                return -1;
            if (!S_ISDIR (info.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
            if (end)
                return 0;
            *slash = '/';
        }
    }
}

static bool
s_valid_service (const char *service)
{
    size_t length = strlen (service);
    if (length == 0 || length > 128 || service[0] == '.')
        return false;
    for (const char *c = service; *c; c++)
        if (!isalnum ((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
            return false;
    return true;
}

int
rfk_log_open (const rfk_config_t *config, const char *service)
{
    assert (config);
    assert (service);
    s_path[0] = 0;
    if (!s_valid_service (service)) {
        errno = EINVAL;
        return -1;
    }
    char *dir = rfk_config_data_path (config, "logs");
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    snprintf (s_path, sizeof s_path, "%s/%s.log", dir, service);
    int rc = s_make_dirs (dir);
    free (dir);
    if (rc != 0)
        return -1;
    s_tee_t *tee = calloc (1, sizeof (s_tee_t));
    if (!tee) {
        errno = ENOMEM;
        return -1;
    }
    tee->to_stderr = rfk_config_bool (config, "", "log_stderr");
    tee->file_fd = open (s_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (tee->file_fd < 0) {
        free (tee);
        return -1;
    }
    cookie_io_functions_t functions = {.write = s_tee_write, .close = s_tee_close};
    FILE *stream = fopencookie (tee, "w", functions);
    if (!stream) {
        s_tee_close (tee);
        errno = ENOMEM;
        return -1;
    }
    setvbuf (stream, NULL, _IOLBF, 0);
    rfk_log_level_t level = RFK_LOG_INFO;
    rfk_log_level_parse (rfk_config_string (config, "", "log_level"), &level);
    rfk_log_close ();
    rfk_log_set_level (level);
    zsys_set_logident (service);
    zsys_set_logstream (stream);
    s_stream = stream;
    atomic_store (&s_stream_set, true);
    return 0;
}

void
rfk_log_close (void)
{
    zsys_set_logstream (stderr);
    atomic_store (&s_stream_set, true);
    if (s_stream) {
        fclose (s_stream);
        s_stream = NULL;
    }
}

const char *
rfk_log_file (void)
{
    return s_path;
}

void
rfk_log_set_level (rfk_log_level_t level)
{
    atomic_store (&s_level, (int)level);
}

int
rfk_log_level_parse (const char *name, rfk_log_level_t *level)
{
    static const char *names[] = {"debug", "info", "notice", "warning", "error"};
    for (int index = 0; name && index < 5; index++)
        if (strcmp (name, names[index]) == 0) {
            *level = (rfk_log_level_t)index;
            return 0;
        }
    return -1;
}

void
rfk_log (rfk_log_level_t level, const char *module, const char *format, ...)
{
    if ((int)level < atomic_load (&s_level))
        return;
    //  czmq logs to stdout by default; a library must not write there.
    if (!atomic_load (&s_stream_set)) {
        zsys_set_logstream (stderr);
        atomic_store (&s_stream_set, true);
    }
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    if (!text)
        return;
    switch (level) {
        case RFK_LOG_ERROR:
            zsys_error ("%s: %s", module, text);
            break;
        case RFK_LOG_WARNING:
            zsys_warning ("%s: %s", module, text);
            break;
        case RFK_LOG_NOTICE:
            zsys_notice ("%s: %s", module, text);
            break;
        case RFK_LOG_INFO:
            zsys_info ("%s: %s", module, text);
            break;
        case RFK_LOG_DEBUG:
            zsys_debug ("%s: %s", module, text);
            break;
    }
    zstr_free (&text);
}

void
rfk_log_failure (char **failure_p, const char *module, const char *format, ...)
{
    assert (failure_p);
    if (*failure_p)
        return;
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    /*  Out of memory still fails the module, with a reason that needs none. */
    *failure_p = text ? text : strdup ("out of memory");
    rfk_log (RFK_LOG_ERROR, module, "failed reason=\"%s\"", *failure_p ? *failure_p : "");
}
