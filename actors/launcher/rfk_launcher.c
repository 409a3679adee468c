/*  rfk_launcher.c: the launcher's backend-independent part: dispatch to the backend, the
    event callback, the last error, spec checks and log tails shared by every backend, and the child
   side of the secret contract (rfk_launcher_read_secret). See rfk_launcher.h.
*/
#include "rfk_launcher.h"
#include "rfk_io.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct _rfk_launcher_t {
    const rfk_launcher_backend_t *backend; //  the operations of the backend
    void *impl;                            //  the backend's own state
    rfk_launcher_event_fn *on_event;       //  the owner's callback, may be NULL
    void *arg;                             //  the owner's argument to on_event
    char error[512];                       //  why the last call failed, "" if it did not
};

//  Names the environment must not take from a spec: the launcher sets them itself.
static const char *s_reserved_env[] = {"RAFIKI_SECRET_FD",  "RAFIKI_SECRET_FILE",
                                       "RAFIKI_SERVICE_ID", "RAFIKI_SERVICE_ROLE",
                                       "RAFIKI_DATA_DIR",   NULL};

int64_t
rfk_launcher_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rfk_launcher_t *
rfk_launcher_new (const rfk_launcher_backend_t *backend, void *impl,
                  rfk_launcher_event_fn *on_event, void *arg)
{
    assert (backend);
    rfk_launcher_t *self = calloc (1, sizeof *self);
    if (!self) {
        backend->destroy (impl);
        return NULL;
    }
    self->backend = backend;
    self->impl = impl;
    self->on_event = on_event;
    self->arg = arg;
    if (backend->attach)
        backend->attach (impl, self);
    return self;
}

void
rfk_launcher_destroy (rfk_launcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_launcher_t *self = *self_p;
    self->backend->destroy (self->impl);
    free (self);
    *self_p = NULL;
}

const char *
rfk_launcher_backend_name (rfk_launcher_t *self)
{
    assert (self);
    return self->backend->name;
}

void *
rfk_launcher_backend_impl (rfk_launcher_t *self, const rfk_launcher_backend_t *backend)
{
    assert (self);
    return self->backend == backend ? self->impl : NULL;
}

int
rfk_launcher_start (rfk_launcher_t *self, const rfk_launcher_spec_t *spec)
{
    assert (self);
    self->error[0] = '\0';
    if (!spec) {
        rfk_launcher_set_error (self, "no service spec given");
        return -1;
    }
    return self->backend->start (self->impl, spec);
}

//  Check a service id given to stop, status, logs or forget: it comes from outside.
static int
s_check_id (rfk_launcher_t *self, const char *service_id)
{
    self->error[0] = '\0';
    if (!service_id || !*service_id) {
        rfk_launcher_set_error (self, "no service id given");
        return -1;
    }
    return 0;
}

int
rfk_launcher_stop (rfk_launcher_t *self, const char *service_id)
{
    assert (self);
    if (s_check_id (self, service_id))
        return -1;
    return self->backend->stop (self->impl, service_id);
}

int
rfk_launcher_stop_all (rfk_launcher_t *self)
{
    assert (self);
    self->error[0] = '\0';
    return self->backend->stop_all (self->impl);
}

int
rfk_launcher_status (rfk_launcher_t *self, const char *service_id, rfk_launcher_status_t *status)
{
    assert (self);
    assert (status);
    if (s_check_id (self, service_id))
        return -1;
    return self->backend->status (self->impl, service_id, status);
}

char *
rfk_launcher_logs (rfk_launcher_t *self, const char *service_id, size_t max_lines)
{
    assert (self);
    if (s_check_id (self, service_id))
        return NULL;
    return self->backend->logs (self->impl, service_id, max_lines);
}

int
rfk_launcher_adopt (rfk_launcher_t *self, const char *service_id, const char *role, int pid,
                    int64_t start_time)
{
    assert (self);
    self->error[0] = '\0';
    if (s_check_id (self, service_id))
        return -1;
    if (!self->backend->adopt) {
        rfk_launcher_set_error (self, "the %s launcher cannot adopt a process",
                                self->backend->name);
        return -1;
    }
    if (pid <= 0 || start_time <= 0) {
        rfk_launcher_set_error (self, "service %s: no process recorded to adopt", service_id);
        return -1;
    }
    return self->backend->adopt (self->impl, service_id, role ? role : "", pid, start_time);
}

int64_t
rfk_launcher_pid_start_time (int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], text[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen (path, "re");
    if (!file)
        return -1;
    size_t got = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[got] = '\0';
    //  "pid (comm) state ...": comm may hold spaces and parentheses, so count fields from
    //  the last ')'; field 3 (state) follows it, field 22 is 19 fields further.
    const char *at = strrchr (text, ')');
    if (!at)
        return -1;
    //  A zombie (or dying) process is no longer that service: it only waits to be reaped
    //  (an adopted one by init, which may take its time on a loaded machine).
    if (at[1] == ' ' && (at[2] == 'Z' || at[2] == 'X' || at[2] == 'x'))
        return -1;
    for (int field = 2; field < 22 && at; field++)
        at = strchr (at + 1, ' ');
    if (!at)
        return -1;
    char *end;
    long long value = strtoll (at + 1, &end, 10);
    return end == at + 1 || value < 0 ? -1 : (int64_t)value;
}

int
rfk_launcher_forget (rfk_launcher_t *self, const char *service_id)
{
    assert (self);
    if (s_check_id (self, service_id))
        return -1;
    return self->backend->forget (self->impl, service_id);
}

int
rfk_launcher_live (rfk_launcher_t *self)
{
    assert (self);
    return self->backend->live (self->impl);
}

int
rfk_launcher_fd (rfk_launcher_t *self)
{
    assert (self);
    return self->backend->fd ? self->backend->fd (self->impl) : -1;
}

int64_t
rfk_launcher_next_deadline (rfk_launcher_t *self)
{
    assert (self);
    return self->backend->next_deadline (self->impl);
}

int
rfk_launcher_tick (rfk_launcher_t *self, int64_t now)
{
    assert (self);
    return self->backend->tick (self->impl, now);
}

const char *
rfk_launcher_error (rfk_launcher_t *self)
{
    assert (self);
    return self->error;
}

const char *
rfk_launcher_state_name (rfk_launcher_state_t state)
{
    switch (state) {
        case RFK_LAUNCHER_RUNNING:
            return "RUNNING";
        case RFK_LAUNCHER_RESTARTING:
            return "RESTARTING";
        case RFK_LAUNCHER_STOPPING:
            return "STOPPING";
        case RFK_LAUNCHER_STOPPED:
            return "STOPPED";
        case RFK_LAUNCHER_ERRORED:
            return "ERRORED";
    }
    return "UNKNOWN";
}

void
rfk_launcher_emit (rfk_launcher_t *self, const char *service_id, rfk_launcher_state_t state,
                   const char *reason)
{
    assert (self);
    if (self->on_event)
        self->on_event (self->arg, service_id, state, reason ? reason : "");
}

void
rfk_launcher_set_error (rfk_launcher_t *self, const char *format, ...)
{
    assert (self);
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

bool
rfk_launcher_state_live (rfk_launcher_state_t state)
{
    return state == RFK_LAUNCHER_RUNNING || state == RFK_LAUNCHER_RESTARTING ||
           state == RFK_LAUNCHER_STOPPING;
}

//  Where the last max_lines lines (all if 0) of text begin. cut: text starts inside a line
//  (it is the byte window of something longer), so that part line is dropped unless the lines
//  asked for begin after it.
static size_t
s_tail_start (const char *text, size_t length, size_t max_lines, bool cut)
{
    //  Walk back over max_lines line ends, not counting the text's final newline.
    if (max_lines > 0) {
        size_t lines = 0;
        size_t end = length && text[length - 1] == '\n' ? length - 1 : length;
        for (size_t i = end; i > 0; i--)
            if (text[i - 1] == '\n' && ++lines == max_lines)
                return i;
    }
    if (!cut)
        return 0;
    const char *newline = memchr (text, '\n', length);
    return newline ? (size_t)(newline - text) + 1 : 0;
}

char *
rfk_launcher_last_lines (const char *text, size_t length, size_t max_lines)
{
    size_t from = length > RFK_LAUNCHER_LOGS_MAX ? length - RFK_LAUNCHER_LOGS_MAX : 0;
    size_t start = from + s_tail_start (text + from, length - from, max_lines, from > 0);
    return strndup (text + start, length - start);
}

char *
rfk_launcher_tail_file (const char *path, size_t max_lines)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat info;
    if (fstat (fd, &info) || !S_ISREG (info.st_mode)) {
        close (fd);
        return NULL;
    }
    off_t size = info.st_size;
    off_t from = size > RFK_LAUNCHER_LOGS_MAX ? size - RFK_LAUNCHER_LOGS_MAX : 0;
    size_t want = (size_t)(size - from);
    char *buffer = malloc (want + 1);
    if (!buffer) {
        close (fd);
        return NULL;
    }
    size_t have = rfk_io_read_at (fd, buffer, want, from);
    close (fd);
    buffer[have] = '\0';
    size_t start = s_tail_start (buffer, have, max_lines, from > 0);
    memmove (buffer, buffer + start, have - start + 1);
    return buffer;
}

//  True if name is a valid environment variable name.
static bool
s_env_name_valid (const char *name, size_t length)
{
    if (length == 0 || !(isalpha ((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 1; i < length; i++)
        if (!(isalnum ((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

//  Check a service id: 1..RFK_LAUNCHER_ID_MAX of [A-Za-z0-9._-], not starting with '.'
//  (it names a file). 0, or -1 with the error set.
static int
s_check_id_chars (rfk_launcher_t *self, const char *id)
{
    if (!id || !*id) {
        rfk_launcher_set_error (self, "service spec has no id");
        return -1;
    }
    size_t id_length = strlen (id);
    if (id_length > RFK_LAUNCHER_ID_MAX) {
        rfk_launcher_set_error (self, "service id is %zu characters long, the most is %d",
                                id_length, RFK_LAUNCHER_ID_MAX);
        return -1;
    }
    for (size_t i = 0; i < id_length; i++)
        if (!(isalnum ((unsigned char)id[i]) || id[i] == '-' || id[i] == '_' || id[i] == '.')) {
            rfk_launcher_set_error (
                self, "service id '%.*s' may hold only letters, digits, '.', '_' and '-'",
                (int)id_length, id);
            return -1;
        }
    if (id[0] == '.') {
        rfk_launcher_set_error (self, "service id '%s' must not start with '.'", id);
        return -1;
    }
    return 0;
}

//  Check a spec's role and secret. 0, or -1 with the error set.
static int
s_check_role_secret (rfk_launcher_t *self, const rfk_launcher_spec_t *spec)
{
    const char *id = spec->id;
    const char *role = spec->role;
    if (!role || !*role) {
        rfk_launcher_set_error (self, "service %s: spec has no role", id);
        return -1;
    }
    if (strlen (role) > 32) {
        rfk_launcher_set_error (self, "service %s: role is longer than 32 characters", id);
        return -1;
    }
    for (const char *c = role; *c; c++)
        if (!(islower ((unsigned char)*c) || *c == '_' || *c == '-')) {
            rfk_launcher_set_error (
                self, "service %s: role '%s' may hold only lower-case letters, '_' and '-'", id,
                role);
            return -1;
        }
    if (!spec->secret || !*spec->secret) {
        rfk_launcher_set_error (self, "service %s: spec has no secret", id);
        return -1;
    }
    if (strlen (spec->secret) > RFK_LAUNCHER_SECRET_MAX) {
        rfk_launcher_set_error (self, "service %s: secret is longer than %d bytes", id,
                                RFK_LAUNCHER_SECRET_MAX);
        return -1;
    }
    return 0;
}

//  Check a spec's env entries: NAME=value, none of the names the launcher sets. 0, or -1 with
//  the error set.
static int
s_check_env (rfk_launcher_t *self, const rfk_launcher_spec_t *spec)
{
    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        const char *entry = spec->env[i];
        const char *equals = strchr (entry, '=');
        if (!equals || !s_env_name_valid (entry, (size_t)(equals - entry))) {
            rfk_launcher_set_error (self, "service %s: env entry '%s' is not NAME=value", spec->id,
                                    entry);
            return -1;
        }
        for (size_t r = 0; s_reserved_env[r]; r++)
            if (strlen (s_reserved_env[r]) == (size_t)(equals - entry) &&
                !strncmp (entry, s_reserved_env[r], (size_t)(equals - entry))) {
                rfk_launcher_set_error (self, "service %s: env entry %s is set by the launcher",
                                        spec->id, s_reserved_env[r]);
                return -1;
            }
    }
    return 0;
}

int
rfk_launcher_spec_check (rfk_launcher_t *self, const rfk_launcher_spec_t *spec)
{
    assert (self);
    assert (spec);
    if (s_check_id_chars (self, spec->id) || s_check_role_secret (self, spec))
        return -1;
    const char *id = spec->id;
    if (spec->config_path && !*spec->config_path) {
        rfk_launcher_set_error (self, "service %s: config path is empty", id);
        return -1;
    }
    if (spec->data_dir && !*spec->data_dir) {
        rfk_launcher_set_error (self, "service %s: data directory is empty", id);
        return -1;
    }
    if (s_check_env (self, spec))
        return -1;
    if (spec->published_port < 0 || spec->published_port > 65535) {
        rfk_launcher_set_error (self, "service %s: published port %d is not 0..65535", id,
                                spec->published_port);
        return -1;
    }
    if (spec->cpus < 0 || spec->memory_bytes < 0 || spec->gpus < 0) {
        rfk_launcher_set_error (self, "service %s: resource hints must not be negative", id);
        return -1;
    }
    return 0;
}

//  Write a message into the caller's error buffer, if it gave one.
static void
s_secret_error (char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static void
s_secret_error (char *error, size_t error_size, const char *format, ...)
{
    if (!error || error_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
}

//  Read a secret from fd to end of file (at most RFK_LAUNCHER_SECRET_MAX bytes) and close fd.
static char *
s_read_secret_fd (int fd, const char *source, char *error, size_t error_size)
{
    char *secret = malloc (RFK_LAUNCHER_SECRET_MAX + 2);
    if (!secret) {
        close (fd);
        s_secret_error (error, error_size, "out of memory reading the secret");
        return NULL;
    }
    size_t length = 0;
    //  Read one byte past the limit so that a longer secret is noticed, not cut.
    while (length < RFK_LAUNCHER_SECRET_MAX + 1) {
        ssize_t got = read (fd, secret + length, RFK_LAUNCHER_SECRET_MAX + 1 - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            s_secret_error (error, error_size, "reading the secret from %s: %s", source,
                            strerror (errno));
            close (fd);
            free (secret);
            return NULL;
        }
        if (got == 0)
            break;
        length += (size_t)got;
    }
    close (fd);
    secret[length] = '\0';
    const char *problem = NULL;
    if (length == 0)
        problem = "the secret is empty";
    else if (length > RFK_LAUNCHER_SECRET_MAX)
        problem = "the secret is longer than RFK_LAUNCHER_SECRET_MAX bytes";
    else if (strlen (secret) != length)
        problem = "the secret holds a NUL byte";
    if (problem) {
        s_secret_error (error, error_size, "%s", problem);
        explicit_bzero (secret, RFK_LAUNCHER_SECRET_MAX + 2);
        free (secret);
        return NULL;
    }
    return secret;
}

char *
rfk_launcher_read_secret (char *error, size_t error_size)
{
    const char *value = getenv ("RAFIKI_SECRET_FD");
    if (!value || !*value) {
        //  The swarm form: a file, such as a Docker secret under /run/secrets.
        const char *path = getenv ("RAFIKI_SECRET_FILE");
        if (!path || !*path) {
            s_secret_error (error, error_size,
                            "neither RAFIKI_SECRET_FD nor RAFIKI_SECRET_FILE is set: services get "
                            "their secret from the launcher");
            return NULL;
        }
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            s_secret_error (error, error_size, "cannot open RAFIKI_SECRET_FILE %s: %s", path,
                            strerror (errno));
            return NULL;
        }
        char *secret = s_read_secret_fd (fd, path, error, error_size);
        unsetenv ("RAFIKI_SECRET_FILE");
        return secret;
    }
    char *end = NULL;
    errno = 0;
    long fd = strtol (value, &end, 10);
    if (errno || *end || fd < 0 || fd > INT_MAX) {
        s_secret_error (error, error_size, "RAFIKI_SECRET_FD '%s' is not a descriptor number",
                        value);
        return NULL;
    }
    unsetenv ("RAFIKI_SECRET_FD");
    return s_read_secret_fd ((int)fd, "RAFIKI_SECRET_FD", error, error_size);
}
