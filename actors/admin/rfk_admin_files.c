/*  rfk_admin_files.c: datasets, models and their streaming uploads.

    An upload streams to <data_dir>/{datasets,models}/.part-<uuid> as it
    arrives (never whole in memory), with a running SHA-256 (libsodium) and
    the admin.upload_max_bytes cap (TOO_LARGE). When it finishes the file is
    renamed to <uuid>.<zip|csv|so>, its digest written beside it as
    <file>.sha256 (sha256sum's format) and logged, and the record stored.

    A model upload is a template .so (DESIGN.md §4). It is checked in a
    short-lived child process: the child dlopens it with rfk_template_open
    (ABI version, rafiki_model, the declared task, a sound knob table) and
    writes the verdict as JSON into a pipe. A template that crashes, hangs
    (S_CHECK_TIMEOUT_MS) or exits in its constructors is a clear rejection;
    admin's own process never loads user code. The check does not block
    admin's loop: the child's pipe and pidfd are in the loop's poll set
    (rfk_admin_checks_fd), its timeout is a deadline of the loop, and the
    upload's reply goes to the front that finished it when the child ends
    (rfk_admin_upload_finish_async).
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rafiki/model.h"
#include "rafiki/template.h"

#define S_CHECK_TIMEOUT_MS 15000
#define S_CHECK_OUTPUT_MAX (256 * 1024)
#define S_CHECKS_MAX 4      /* model checks running at once; more wait their turn */
#define S_CHECK_POLL_MS 100 /* how often a child without a pidfd is looked at */
#define S_PART_PREFIX ".part-"

struct rfk_upload {
    bool is_model;                /* MODEL, else DATASET */
    char *user_id;                /* who uploads */
    char *name;                   /* dataset or model name */
    char *task;                   /* declared task */
    json_t *fields;               /* the UploadStart fields (copy) */
    char *file_name;              /* <uuid>.<ext> once finished */
    char *part_path;              /* the partial file */
    char *final_path;             /* where it goes */
    int fd;                       /* open on part_path */
    uint64_t received;            /* bytes written */
    uint64_t cap;                 /* admin.upload_max_bytes */
    crypto_hash_sha256_state sha; /* running digest */
};

const char *
rfk_admin_upload_user (const rfk_upload_t *up)
{
    return up->user_id;
}

uint64_t
rfk_admin_upload_received (const rfk_upload_t *up)
{
    return up->received;
}

char *
rfk_admin_dataset_path (rfk_admin_t *self, const rfk_dataset_t *dataset)
{
    if (!dataset->store_dataset_id || strchr (dataset->store_dataset_id, '/'))
        return NULL;
    return zsys_sprintf ("%s/%s", self->datasets_dir, dataset->store_dataset_id);
}

char *
rfk_admin_model_path (rfk_admin_t *self, const rfk_model_t *model)
{
    if (!model->model_file || !*model->model_file)
        return NULL;
    if (model->model_file[0] == '/')
        return strdup (model->model_file);
    if (strstr (model->model_file, ".."))
        return NULL;
    return zsys_sprintf ("%s/%s", self->models_dir, model->model_file);
}

void
rfk_admin_clean_partial_uploads (rfk_admin_t *self)
{
    const char *dirs[] = {self->datasets_dir, self->models_dir};
    for (int index = 0; index < 2; index++) {
        DIR *dir = opendir (dirs[index]);
        if (!dir)
            continue;
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (strncmp (entry->d_name, S_PART_PREFIX, strlen (S_PART_PREFIX)) == 0) {
                char *path = zsys_sprintf ("%s/%s", dirs[index], entry->d_name);
                if (path && unlink (path) == 0)
                    rfk_log_info (RFK_ADMIN_LOG, "partial-upload-removed path=%s", path);
                zstr_free (&path);
            }
        closedir (dir);
    }
}

static void
s_upload_free (rfk_upload_t **up_p)
{
    rfk_upload_t *up = *up_p;
    if (!up)
        return;
    if (up->fd >= 0)
        close (up->fd);
    if (up->part_path)
        unlink (up->part_path);
    free (up->user_id);
    free (up->name);
    free (up->task);
    json_decref (up->fields);
    free (up->file_name);
    zstr_free (&up->part_path);
    zstr_free (&up->final_path);
    free (up);
    *up_p = NULL;
}

static rfk_msg_t *
s_error (rfk_code_t code, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static rfk_msg_t *
s_error (rfk_code_t code, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    return rfk_msg_new_error (&rfk_admin_family, 0, code, message);
}

static const char *
s_str (json_t *fields, const char *key)
{
    const char *value = json_string_value (json_object_get (fields, key));
    return value && *value ? value : NULL;
}

rfk_upload_t *
rfk_admin_upload_begin (rfk_admin_t *self, const char *token, json_t *fields, rfk_msg_t **error)
{
    assert (self);
    rfk_auth_claims_t caller;
    rfk_msg_t probe = {.family = &rfk_admin_family, .type = "UploadStart"};
    if (rfk_admin_authenticate (self, &probe, token, &caller, error) != 0)
        return NULL;
    if (!json_is_object (fields)) {
        *error = s_error (RFK_CODE_BAD_REQUEST, "the upload's fields must be an object");
        return NULL;
    }
    const char *kind = s_str (fields, "kind");
    const char *name = s_str (fields, "name");
    const char *task = s_str (fields, "task");
    if (!kind || (!streq (kind, "DATASET") && !streq (kind, "MODEL"))) {
        *error = s_error (RFK_CODE_BAD_REQUEST, "field `kind` must be DATASET or MODEL");
        return NULL;
    }
    bool is_model = streq (kind, "MODEL");
    if (!name) {
        *error = s_error (RFK_CODE_BAD_REQUEST, "field `name` is missing");
        return NULL;
    }
    if (strlen (name) > 200) {
        *error = s_error (RFK_CODE_BAD_REQUEST, "field `name` is longer than 200 characters");
        return NULL;
    }
    if (!task) {
        *error = s_error (RFK_CODE_BAD_REQUEST, "field `task` is missing");
        return NULL;
    }
    if (!rfk_admin_task_known (task)) {
        *error = s_error (RFK_CODE_BAD_REQUEST,
                          "field `task`: %s is not one of IMAGE_CLASSIFICATION, "
                          "TABULAR_CLASSIFICATION, TABULAR_REGRESSION, POS_TAGGING",
                          task);
        return NULL;
    }
    json_t *size = json_object_get (fields, "size");
    if (json_is_integer (size) && (uint64_t)json_integer_value (size) > self->upload_max) {
        *error =
            s_error (RFK_CODE_TOO_LARGE,
                     "the file is %lld bytes; uploads are limited to %llu bytes "
                     "(admin.upload_max_bytes)",
                     (long long)json_integer_value (size), (unsigned long long)self->upload_max);
        return NULL;
    }
    if (is_model) {
        if (rfk_auth_can_upload_model (caller.user_type) != 0) {
            *error = s_error (RFK_CODE_FORBIDDEN, "a %s may not upload models",
                              rfk_auth_user_type_name (caller.user_type));
            return NULL;
        }
        const char *access = s_str (fields, "access_right");
        if (access && !streq (access, "PRIVATE") && !streq (access, "PUBLIC")) {
            *error =
                s_error (RFK_CODE_BAD_REQUEST, "field `access_right` must be PRIVATE or PUBLIC");
            return NULL;
        }
        json_t *deps = json_object_get (fields, "dependencies");
        if (deps && !json_is_object (deps) && !json_is_null (deps)) {
            *error = s_error (RFK_CODE_BAD_REQUEST,
                              "field `dependencies` must be an object {\"package\": \"version\"}");
            return NULL;
        }
        rfk_model_t *existing = rfk_store_get_model_by_name (self->store, caller.user_id, name);
        if (existing) {
            rfk_model_destroy (&existing);
            *error = s_error (RFK_CODE_CONFLICT, "you have a model named %s already", name);
            return NULL;
        }
    }
    rfk_upload_t *up = (rfk_upload_t *)calloc (1, sizeof *up);
    char *uuid = rfk_admin_uuid ();
    if (!up || !uuid) {
        free (up);
        free (uuid);
        *error = s_error (RFK_CODE_INTERNAL, "out of memory");
        return NULL;
    }
    up->fd = -1;
    up->is_model = is_model;
    up->user_id = strdup (caller.user_id);
    up->name = strdup (name);
    up->task = strdup (task);
    up->fields = json_deep_copy (fields);
    up->cap = self->upload_max;
    const char *ext = is_model                                             ? "so"
                      : strncmp (task, "TABULAR", strlen ("TABULAR")) == 0 ? "csv"
                                                                           : "zip";
    up->file_name = zsys_sprintf ("%s.%s", uuid, ext);
    const char *dir = is_model ? self->models_dir : self->datasets_dir;
    up->part_path = zsys_sprintf ("%s/%s%s", dir, S_PART_PREFIX, uuid);
    up->final_path = zsys_sprintf ("%s/%s", dir, up->file_name);
    free (uuid);
    crypto_hash_sha256_init (&up->sha);
    if (up->part_path)
        up->fd = open (up->part_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (up->fd < 0) {
        *error = s_error (RFK_CODE_UNAVAILABLE, "cannot write under %s: %s", dir, strerror (errno));
        s_upload_free (&up);
        return NULL;
    }
    rfk_log_info (RFK_ADMIN_LOG, "upload-begin kind=%s name=%s user=%s", kind, name, up->user_id);
    return up;
}

int
rfk_admin_upload_write (rfk_upload_t *up, const void *data, size_t n, rfk_msg_t **error)
{
    assert (up);
    if (n == 0)
        return 0;
    if (up->received + n > up->cap) {
        *error = s_error (RFK_CODE_TOO_LARGE,
                          "the file is larger than %llu bytes (admin.upload_max_bytes)",
                          (unsigned long long)up->cap);
        return -1;
    }
    const char *bytes = (const char *)data;
    size_t done = 0;
    while (done < n) {
        ssize_t wrote = write (up->fd, bytes + done, n - done);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0) {
            *error = s_error (RFK_CODE_UNAVAILABLE, "cannot write the upload: %s",
                              wrote < 0 ? strerror (errno) : "disk full");
            return -1;
        }
        done += (size_t)wrote;
    }
    crypto_hash_sha256_update (&up->sha, (const unsigned char *)data, n);
    up->received += n;
    return 0;
}

void
rfk_admin_upload_abort (rfk_admin_t *self, rfk_upload_t **up_p)
{
    (void)self;
    if (up_p && *up_p)
        rfk_log_info (RFK_ADMIN_LOG, "upload-aborted name=%s received=%llu", (*up_p)->name,
                      (unsigned long long)(*up_p)->received);
    s_upload_free (up_p);
}

/* Write the digest beside the file, as sha256sum does. */
static void
s_write_digest (rfk_upload_t *up, char *hex, size_t hexlen)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&up->sha, digest);
    sodium_bin2hex (hex, hexlen, digest, sizeof digest);
    char *path = zsys_sprintf ("%s.sha256", up->final_path);
    FILE *file = path ? fopen (path, "w") : NULL;
    if (file) {
        fprintf (file, "%s  %s\n", hex, up->file_name);
        fclose (file);
    }
    zstr_free (&path);
}

/* The child side of the model check: load, report, exit. Never returns. */
static void
s_check_child (int fd, const char *path, const char *task)
{
    //  A crash kills the child by its signal, so admin can say which one
    //  (and a sanitizer's handler does not report the copy of admin's heap
    //  as leaked).
    const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    for (size_t index = 0; index < sizeof fatal / sizeof fatal[0]; index++)
        signal (fatal[index], SIG_DFL);
    //  Bound what a broken template can do to the machine while it loads.
    struct rlimit cpu = {10, 11};
    setrlimit (RLIMIT_CPU, &cpu);
    char err[512] = "";
    rfk_template_t *tpl = rfk_template_open (path, task, err, sizeof err);
    json_t *verdict = json_object ();
    if (!tpl) {
        json_object_set_new (verdict, "ok", json_false ());
        json_object_set_new (verdict, "error", json_string (err[0] ? err : "cannot load"));
    } else {
        const rafiki_model_api_t *api = rfk_template_api (tpl);
        json_object_set_new (verdict, "ok", json_true ());
        json_object_set_new (verdict, "name", json_string (api->name ? api->name : ""));
        json_object_set_new (verdict, "task", json_string (api->task ? api->task : ""));
        json_t *knobs = rfk_knob_table_to_json (api->knobs, api->n_knobs);
        json_object_set_new (verdict, "knobs", knobs ? knobs : json_null ());
    }
    char *text = json_dumps (verdict, JSON_COMPACT);
    if (text) {
        size_t length = strlen (text), done = 0;
        while (done < length) {
            ssize_t wrote = write (fd, text + done, length - done);
            if (wrote <= 0)
                break;
            done += (size_t)wrote;
        }
    }
    _exit (0);
}

static const char *
s_signal_name (int signo)
{
    const char *name = sigabbrev_np (signo);
    return name ? name : "?";
}

/* Replace every `path` in text by `name` (the user never saw our path). */
static void
s_scrub_path (char *text, size_t size, const char *path, const char *name)
{
    char out[1024];
    size_t at = 0, path_length = strlen (path), name_length = strlen (name);
    for (const char *c = text; *c && at + 1 < sizeof out;) {
        if (strncmp (c, path, path_length) == 0 && at + name_length + 1 < sizeof out) {
            memcpy (out + at, name, name_length);
            at += name_length;
            c += path_length;
        } else
            out[at++] = *c++;
    }
    out[at] = 0;
    snprintf (text, size, "%s", out);
}

/* A light check of a dataset file's format: zips start with PK. */
static int
s_check_dataset (rfk_upload_t *up, char *err, size_t errlen)
{
    if (up->received == 0) {
        snprintf (err, errlen, "the dataset file is empty");
        return -1;
    }
    if (strncmp (up->task, "TABULAR", strlen ("TABULAR")) == 0)
        return 0;
    unsigned char magic[4] = {0};
    int fd = open (up->part_path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read (fd, magic, sizeof magic) : -1;
    if (fd >= 0)
        close (fd);
    if (got != 4 || memcmp (magic, "PK\x03\x04", 4) != 0) {
        snprintf (err, errlen, "a %s dataset must be a zip file, and this file is not one",
                  up->task);
        return -1;
    }
    return 0;
}

/* The end of an upload once its file was checked (rc 0, with the template's
   verdict for a model, stolen) or refused (rc -1, the reason in err): the
   file renamed, its digest written and the record stored, or the file
   removed. Consumes the upload; the reply (never NULL). */
static rfk_msg_t *
s_conclude (rfk_admin_t *self, rfk_upload_t *up, int rc, json_t *verdict, char *err, size_t errlen)
{
    if (rc != 0) {
        json_decref (verdict);
        s_scrub_path (err, errlen, up->part_path, "the uploaded file");
        rfk_log_info (RFK_ADMIN_LOG, "upload-rejected name=%s reason=\"%s\"", up->name, err);
        rfk_msg_t *reply =
            s_error (RFK_CODE_BAD_REQUEST, "%s: %s",
                     up->is_model ? "not a usable model template" : "bad dataset", err);
        s_upload_free (&up);
        return reply;
    }
    if (rename (up->part_path, up->final_path) != 0) {
        json_decref (verdict);
        rfk_msg_t *reply =
            s_error (RFK_CODE_UNAVAILABLE, "cannot store the file: %s", strerror (errno));
        s_upload_free (&up);
        return reply;
    }
    zstr_free (&up->part_path);
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    s_write_digest (up, hex, sizeof hex);
    rfk_msg_t *reply = NULL;
    if (up->is_model) {
        const char *model_class = s_str (up->fields, "model_class");
        const char *access = s_str (up->fields, "access_right");
        json_t *deps = json_object_get (up->fields, "dependencies");
        rfk_model_t record = {
            .user_id = up->user_id,
            .name = up->name,
            .task = up->task,
            .model_class =
                (char *)(model_class ? model_class
                                     : json_string_value (json_object_get (verdict, "name"))),
            .model_file = up->file_name,
            .docker_image = (char *)s_str (up->fields, "docker_image"),
            .dependencies = json_is_object (deps) ? deps : NULL,
            .access_right = (char *)(access ? access : "PRIVATE"),
        };
        rfk_model_t *model = rfk_store_create_model (self->store, &record);
        if (!model)
            reply = s_error (rfk_store_code (self->store), "storing the model: %s",
                             rfk_store_message (self->store));
        else {
            reply = rfk_msg_new (&rfk_admin_family, "Model", 0);
            json_decref (reply->body);
            reply->body = rfk_admin_model_json (self, model);
            rfk_log_info (RFK_ADMIN_LOG,
                          "model-stored id=%s name=%s task=%s template=%s size=%llu sha256=%s",
                          model->id, model->name, model->task,
                          json_string_value (json_object_get (verdict, "name")),
                          (unsigned long long)up->received, hex);
            rfk_model_destroy (&model);
        }
    } else {
        rfk_dataset_t record = {
            .name = up->name,
            .task = up->task,
            .owner_id = up->user_id,
            .store_dataset_id = up->file_name,
            .size_bytes = (int64_t)up->received,
        };
        rfk_dataset_t *dataset = rfk_store_create_dataset (self->store, &record);
        if (!dataset)
            reply = s_error (rfk_store_code (self->store), "storing the dataset: %s",
                             rfk_store_message (self->store));
        else {
            reply = rfk_msg_new (&rfk_admin_family, "Dataset", 0);
            json_decref (reply->body);
            reply->body = rfk_admin_dataset_json (dataset);
            rfk_log_info (RFK_ADMIN_LOG, "dataset-stored id=%s name=%s task=%s size=%llu sha256=%s",
                          dataset->id, dataset->name, dataset->task,
                          (unsigned long long)up->received, hex);
            rfk_dataset_destroy (&dataset);
        }
    }
    json_decref (verdict);
    if (rfk_msg_is (reply, "Error")) {
        unlink (up->final_path);
        char *digest = zsys_sprintf ("%s.sha256", up->final_path);
        if (digest)
            unlink (digest);
        zstr_free (&digest);
    }
    s_upload_free (&up);
    return reply;
}

/* ---- model checks --------------------------------------------------------

   A check is a child process and two descriptors in admin's loop: the read
   end of the pipe it writes its verdict into (non-blocking), and its pidfd,
   readable once it exited (without pidfds, Linux < 5.3, the loop looks
   every S_CHECK_POLL_MS). Both sit in one epoll set (rfk_admin_checks_fd);
   rfk_admin_checks_tick reads what came, reaps children that ended, kills
   those past their deadline, concludes their uploads and hands each reply
   to whoever finished the upload. At most S_CHECKS_MAX run at once; the
   others wait their turn (their deadline counts from their start). */

typedef struct {
    rfk_upload_t *up;               /* the upload, closed, waiting for its verdict */
    rfk_admin_upload_done_fn *done; /* who hears the reply */
    void *arg;                      /* its argument */
    uint64_t ticket;                /* and ticket */
    pid_t pid;                      /* the child, 0 while waiting its turn */
    int out_fd;                     /* read end of the verdict pipe, -1 once closed */
    int pid_fd;                     /* the child's pidfd, -1 without one */
    int64_t deadline;               /* zclock_mono () when the child is killed */
    char *output;                   /* what the child wrote */
    size_t length;                  /* bytes in output */
} s_check_t;

/* Close one of a check's descriptors and take it out of the epoll set. */
static void
s_check_close_fd (rfk_admin_t *self, int *fd_p)
{
    if (*fd_p < 0)
        return;
    if (self->checks_fd >= 0)
        epoll_ctl (self->checks_fd, EPOLL_CTL_DEL, *fd_p, NULL);
    close (*fd_p);
    *fd_p = -1;
}

static void
s_check_destroy (rfk_admin_t *self, s_check_t **check_p)
{
    s_check_t *check = *check_p;
    if (!check)
        return;
    s_check_close_fd (self, &check->out_fd);
    s_check_close_fd (self, &check->pid_fd);
    s_upload_free (&check->up);
    free (check->output);
    free (check);
    *check_p = NULL;
}

static void
s_check_watch (rfk_admin_t *self, int fd)
{
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    if (self->checks_fd >= 0)
        epoll_ctl (self->checks_fd, EPOLL_CTL_ADD, fd, &event);
}

/* Fork the child that checks the template; 0, or -1 with the reason. */
static int
s_check_start (rfk_admin_t *self, s_check_t *check, char *err, size_t errlen)
{
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) != 0) {
        snprintf (err, errlen, "cannot check the model: %s", strerror (errno));
        return -1;
    }
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0) {
        close (fds[0]);
        close (fds[1]);
        snprintf (err, errlen, "cannot check the model: fork: %s", strerror (errno));
        return -1;
    }
    if (pid == 0) {
        close (fds[0]);
        s_check_child (fds[1], check->up->part_path, check->up->task);
    }
    close (fds[1]);
    fcntl (fds[0], F_SETFL, fcntl (fds[0], F_GETFL) | O_NONBLOCK);
    check->pid = pid;
    check->out_fd = fds[0];
    check->pid_fd = pidfd_open (pid, 0); //  close-on-exec by itself
    if (check->pid_fd < 0)
        check->pid_fd = -1;
    s_check_watch (self, check->out_fd);
    if (check->pid_fd >= 0)
        s_check_watch (self, check->pid_fd);
    check->deadline = zclock_mono () + S_CHECK_TIMEOUT_MS;
    rfk_log_debug (RFK_ADMIN_LOG, "model-check-started name=%s pid=%d", check->up->name, (int)pid);
    return 0;
}

/* Read what the child wrote so far; at the end of the pipe (or past
   S_CHECK_OUTPUT_MAX, which makes the child's write fail) close it. */
static void
s_check_read (rfk_admin_t *self, s_check_t *check)
{
    while (check->out_fd >= 0) {
        if (!check->output)
            check->output = (char *)malloc (S_CHECK_OUTPUT_MAX + 1);
        if (!check->output || check->length == S_CHECK_OUTPUT_MAX) {
            s_check_close_fd (self, &check->out_fd);
            break;
        }
        ssize_t got =
            read (check->out_fd, check->output + check->length, S_CHECK_OUTPUT_MAX - check->length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got <= 0) {
            s_check_close_fd (self, &check->out_fd);
            break;
        }
        check->length += (size_t)got;
    }
}

/* The verdict of an ended child: 0 with it in *verdict_p, or -1 with the
   reason in err. */
static int
s_check_verdict (s_check_t *check, int status, bool timed_out, json_t **verdict_p, char *err,
                 size_t errlen)
{
    if (timed_out)
        snprintf (err, errlen, "the template did not finish loading within %d s",
                  S_CHECK_TIMEOUT_MS / 1000);
    else if (WIFSIGNALED (status))
        snprintf (err, errlen, "the template crashed while loading (signal %d, SIG%s)",
                  WTERMSIG (status), s_signal_name (WTERMSIG (status)));
    else if (WIFEXITED (status) && WEXITSTATUS (status) != 0)
        //  Under a sanitizer a crash is an exit with its exit code.
        snprintf (err, errlen,
                  "the template crashed or ended the process while loading (exit "
                  "code %d)",
                  WEXITSTATUS (status));
    else if (!check->output || check->length == S_CHECK_OUTPUT_MAX)
        snprintf (err, errlen, "the template's check gave no usable answer");
    else {
        check->output[check->length] = 0;
        json_t *verdict = json_loads (check->output, 0, NULL);
        if (!json_is_object (verdict)) {
            snprintf (err, errlen, "the template's check gave no answer");
            json_decref (verdict);
        } else if (!json_is_true (json_object_get (verdict, "ok"))) {
            snprintf (err, errlen, "%s",
                      json_string_value (json_object_get (verdict, "error"))
                          ? json_string_value (json_object_get (verdict, "error"))
                          : "the template does not load");
            json_decref (verdict);
        } else {
            *verdict_p = verdict;
            return 0;
        }
    }
    return -1;
}

/* The check's child ended (or was killed): conclude its upload, forget the
   check and hand the reply over. */
static void
s_check_end (rfk_admin_t *self, s_check_t *check, int status, bool timed_out)
{
    s_check_read (self, check);
    char err[1024] = "";
    json_t *verdict = NULL;
    int rc = s_check_verdict (check, status, timed_out, &verdict, err, sizeof err);
    rfk_upload_t *up = check->up;
    check->up = NULL;
    rfk_msg_t *reply = s_conclude (self, up, rc, verdict, err, sizeof err);
    rfk_admin_upload_done_fn *done = check->done;
    void *arg = check->arg;
    uint64_t ticket = check->ticket;
    void *handle = zlistx_find (self->checks, check);
    if (handle)
        zlistx_delete (self->checks, handle);
    s_check_destroy (self, &check);
    done (arg, ticket, reply);
}

static size_t
s_checks_running (rfk_admin_t *self)
{
    size_t running = 0;
    for (s_check_t *check = (s_check_t *)zlistx_first (self->checks); check;
         check = (s_check_t *)zlistx_next (self->checks))
        if (check->pid > 0)
            running++;
    return running;
}

int
rfk_admin_checks_setup (rfk_admin_t *self)
{
    self->checks = zlistx_new ();
    self->checks_fd = epoll_create1 (EPOLL_CLOEXEC);
    return self->checks && self->checks_fd >= 0 ? 0 : -1;
}

void
rfk_admin_checks_destroy (rfk_admin_t *self)
{
    s_check_t *check;
    while (self->checks && (check = (s_check_t *)zlistx_first (self->checks))) {
        zlistx_delete (self->checks, zlistx_cursor (self->checks));
        if (check->pid > 0) {
            kill (check->pid, SIGKILL);
            while (waitpid (check->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        rfk_log_info (RFK_ADMIN_LOG, "model-check-cancelled name=%s", check->up->name);
        rfk_admin_upload_done_fn *done = check->done;
        void *arg = check->arg;
        uint64_t ticket = check->ticket;
        s_check_destroy (self, &check);
        done (arg, ticket, NULL);
    }
    zlistx_destroy (&self->checks);
    if (self->checks_fd >= 0)
        close (self->checks_fd);
    self->checks_fd = -1;
}

int
rfk_admin_checks_fd (rfk_admin_t *self)
{
    return self->checks_fd;
}

int64_t
rfk_admin_checks_deadline (rfk_admin_t *self)
{
    int64_t nearest = -1;
    for (s_check_t *check = self->checks ? (s_check_t *)zlistx_first (self->checks) : NULL; check;
         check = (s_check_t *)zlistx_next (self->checks)) {
        if (check->pid <= 0)
            continue;
        int64_t when = check->deadline;
        if (check->pid_fd < 0 && zclock_mono () + S_CHECK_POLL_MS < when)
            when = zclock_mono () + S_CHECK_POLL_MS;
        if (nearest < 0 || when < nearest)
            nearest = when;
    }
    return nearest;
}

void
rfk_admin_checks_tick (rfk_admin_t *self)
{
    if (!self->checks || zlistx_size (self->checks) == 0)
        return;
    //  Children that ended, or ran out of time. s_check_end takes the check
    //  off the list (and calls out), so start over after each.
    bool ended = true;
    while (ended) {
        ended = false;
        int64_t now = zclock_mono ();
        for (s_check_t *check = (s_check_t *)zlistx_first (self->checks); check;
             check = (s_check_t *)zlistx_next (self->checks)) {
            if (check->pid <= 0)
                continue;
            s_check_read (self, check);
            int status = 0;
            pid_t got = waitpid (check->pid, &status, WNOHANG);
            bool timed_out = got == 0 && now >= check->deadline;
            if (timed_out) {
                kill (check->pid, SIGKILL);
                while (waitpid (check->pid, &status, 0) < 0 && errno == EINTR)
                    ;
            }
            if (got == check->pid || got < 0 || timed_out) {
                //  got < 0: not our child any more (someone reaped it); no
                //  verdict can come.
                if (got < 0)
                    status = 0;
                s_check_end (self, check, status, timed_out);
                ended = true;
                break;
            }
        }
    }
    //  Start the checks waiting their turn.
    size_t running = s_checks_running (self);
    bool started = true;
    while (started && running < S_CHECKS_MAX) {
        started = false;
        for (s_check_t *check = (s_check_t *)zlistx_first (self->checks); check;
             check = (s_check_t *)zlistx_next (self->checks)) {
            if (check->pid > 0)
                continue;
            char err[512] = "";
            if (s_check_start (self, check, err, sizeof err) != 0) {
                rfk_upload_t *up = check->up;
                check->up = NULL;
                rfk_msg_t *reply = s_conclude (self, up, -1, NULL, err, sizeof err);
                rfk_admin_upload_done_fn *done = check->done;
                void *arg = check->arg;
                uint64_t ticket = check->ticket;
                zlistx_delete (self->checks, zlistx_cursor (self->checks));
                s_check_destroy (self, &check);
                done (arg, ticket, reply);
            } else
                running++;
            started = true;
            break;
        }
    }
}

rfk_msg_t *
rfk_admin_upload_finish_async (rfk_admin_t *self, rfk_upload_t **up_p,
                               rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket)
{
    assert (self);
    assert (up_p);
    assert (done);
    rfk_upload_t *up = *up_p;
    if (!up)
        return s_error (RFK_CODE_BAD_REQUEST, "no upload in progress");
    *up_p = NULL;
    char err[1024] = "";
    if (close (up->fd) != 0) {
        up->fd = -1;
        rfk_msg_t *reply =
            s_error (RFK_CODE_UNAVAILABLE, "cannot write the upload: %s", strerror (errno));
        s_upload_free (&up);
        return reply;
    }
    up->fd = -1;
    if (!up->is_model) {
        int rc = s_check_dataset (up, err, sizeof err);
        return s_conclude (self, up, rc, NULL, err, sizeof err);
    }
    if (up->received == 0) {
        snprintf (err, sizeof err, "the model file is empty");
        return s_conclude (self, up, -1, NULL, err, sizeof err);
    }
    s_check_t *check = (s_check_t *)calloc (1, sizeof *check);
    if (!check) {
        snprintf (err, sizeof err, "out of memory");
        return s_conclude (self, up, -1, NULL, err, sizeof err);
    }
    check->up = up;
    check->done = done;
    check->arg = arg;
    check->ticket = ticket;
    check->out_fd = -1;
    check->pid_fd = -1;
    if (s_checks_running (self) < S_CHECKS_MAX &&
        s_check_start (self, check, err, sizeof err) != 0) {
        check->up = NULL;
        s_check_destroy (self, &check);
        return s_conclude (self, up, -1, NULL, err, sizeof err);
    }
    if (check->pid == 0)
        rfk_log_info (RFK_ADMIN_LOG, "model-check-queued name=%s running=%d", up->name,
                      S_CHECKS_MAX);
    zlistx_add_end (self->checks, check);
    return NULL;
}

/* rfk_admin_upload_finish's callback: keep the reply. */
static void
s_finish_sync_done (void *arg, uint64_t ticket, rfk_msg_t *reply)
{
    (void)ticket;
    rfk_msg_t **reply_p = (rfk_msg_t **)arg;
    *reply_p =
        reply ? reply : s_error (RFK_CODE_UNAVAILABLE, "admin stopped before the check ended");
}

rfk_msg_t *
rfk_admin_upload_finish (rfk_admin_t *self, rfk_upload_t **up_p)
{
    rfk_msg_t *later = NULL;
    rfk_msg_t *reply = rfk_admin_upload_finish_async (self, up_p, s_finish_sync_done, &later, 0);
    while (!reply && !later) {
        int64_t deadline = rfk_admin_checks_deadline (self);
        int64_t timeout = deadline < 0 ? S_CHECK_POLL_MS : deadline - zclock_mono ();
        struct pollfd item = {self->checks_fd, POLLIN, 0};
        poll (&item, 1, timeout < 0 ? 0 : (int)timeout);
        rfk_admin_checks_tick (self);
    }
    return reply ? reply : later;
}

/* ---- datasets ------------------------------------------------------------ */

/* The dataset of field `id` if the caller may see it, else NULL and *error. */
static rfk_dataset_t *
s_dataset_of (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller,
              rfk_msg_t **error)
{
    const char *id = rfk_admin_require (req, "id", error);
    if (!id)
        return NULL;
    rfk_dataset_t *dataset = rfk_store_get_dataset (self->store, id);
    if (!dataset) {
        *error = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                     ? rfk_admin_store_error (self, req, "reading the dataset")
                     : rfk_admin_error (req, RFK_CODE_NOT_FOUND, "no dataset %s", id);
        return NULL;
    }
    if (rfk_auth_can_access (caller->user_id, caller->user_type, dataset->owner_id) != 0) {
        *error = rfk_admin_error (req, RFK_CODE_FORBIDDEN, "dataset %s is not yours", id);
        rfk_dataset_destroy (&dataset);
    }
    return dataset;
}

rfk_msg_t *
rfk_admin_on_list_datasets (rfk_admin_t *self, const rfk_msg_t *req,
                            const rfk_auth_claims_t *caller)
{
    const char *task = rfk_admin_field (req, "task");
    if (task && !*task)
        task = NULL;
    zlistx_t *list = rfk_store_list_datasets (self->store, caller->user_id, task, NULL);
    if (!list)
        return rfk_admin_store_error (self, req, "listing datasets");
    rfk_msg_t *reply = rfk_admin_reply (req, "DatasetList");
    json_t *array = json_array ();
    for (rfk_dataset_t *item = (rfk_dataset_t *)zlistx_first (list); item;
         item = (rfk_dataset_t *)zlistx_next (list))
        json_array_append_new (array, rfk_admin_dataset_json (item));
    json_object_set_new (reply->body, "datasets", array);
    zlistx_destroy (&list);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_dataset (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_dataset_t *dataset = s_dataset_of (self, req, caller, &error);
    if (!dataset)
        return error;
    rfk_msg_t *reply = rfk_admin_reply (req, "Dataset");
    json_decref (reply->body);
    reply->body = rfk_admin_dataset_json (dataset);
    rfk_dataset_destroy (&dataset);
    return reply;
}

static void
s_unlink_with_digest (const char *path)
{
    if (!path)
        return;
    unlink (path);
    char *digest = zsys_sprintf ("%s.sha256", path);
    if (digest)
        unlink (digest);
    zstr_free (&digest);
}

rfk_msg_t *
rfk_admin_on_delete_dataset (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_dataset_t *dataset = s_dataset_of (self, req, caller, &error);
    if (!dataset)
        return error;
    rfk_msg_t *reply;
    if (rfk_store_delete_dataset (self->store, dataset->id) != 0)
        reply = rfk_store_code (self->store) == RFK_CODE_CONFLICT
                    ? rfk_admin_error (req, RFK_CODE_CONFLICT,
                                       "dataset %s is used by a train job and cannot be deleted",
                                       dataset->id)
                    : rfk_admin_store_error (self, req, "deleting the dataset");
    else {
        char *path = rfk_admin_dataset_path (self, dataset);
        s_unlink_with_digest (path);
        free (path);
        reply = rfk_admin_reply (req, "Deleted");
        json_object_set_new (reply->body, "id", json_string (dataset->id));
        rfk_log_info (RFK_ADMIN_LOG, "dataset-deleted id=%s by=%s", dataset->id, caller->user_id);
    }
    rfk_dataset_destroy (&dataset);
    return reply;
}

/* ---- models -------------------------------------------------------------- */

/* The model of field `id`: 404 when unknown, 403 when the caller may not
   read it (or, with manage, download or delete it). */
static rfk_model_t *
s_model_of (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller, bool manage,
            rfk_msg_t **error)
{
    const char *id = rfk_admin_require (req, "id", error);
    if (!id)
        return NULL;
    rfk_model_t *model = rfk_store_get_model (self->store, id);
    if (!model) {
        *error = rfk_store_code (self->store) == RFK_CODE_UNAVAILABLE
                     ? rfk_admin_store_error (self, req, "reading the model")
                     : rfk_admin_error (req, RFK_CODE_NOT_FOUND, "no model %s", id);
        return NULL;
    }
    bool is_public = model->access_right && streq (model->access_right, "PUBLIC");
    int denied =
        manage ? rfk_auth_can_manage_model (caller->user_id, caller->user_type, model->user_id)
               : rfk_auth_can_read_model (caller->user_id, caller->user_type, model->user_id,
                                          is_public);
    if (denied) {
        *error = rfk_admin_error (req, RFK_CODE_FORBIDDEN, "model %s is not yours to %s", id,
                                  manage ? "download or delete" : "see");
        rfk_model_destroy (&model);
    }
    return model;
}

rfk_msg_t *
rfk_admin_on_list_available_models (rfk_admin_t *self, const rfk_msg_t *req,
                                    const rfk_auth_claims_t *caller)
{
    const char *task = rfk_admin_field (req, "task");
    if (task && !*task)
        task = NULL;
    zlistx_t *list = rfk_store_list_available_models (self->store, caller->user_id, task, NULL);
    if (!list)
        return rfk_admin_store_error (self, req, "listing models");
    rfk_msg_t *reply = rfk_admin_reply (req, "ModelList");
    json_t *array = json_array ();
    for (rfk_model_t *item = (rfk_model_t *)zlistx_first (list); item;
         item = (rfk_model_t *)zlistx_next (list))
        json_array_append_new (array, rfk_admin_model_json (self, item));
    json_object_set_new (reply->body, "models", array);
    zlistx_destroy (&list);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_model (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_model_t *model = s_model_of (self, req, caller, false, &error);
    if (!model)
        return error;
    rfk_msg_t *reply = rfk_admin_reply (req, "Model");
    json_decref (reply->body);
    reply->body = rfk_admin_model_json (self, model);
    rfk_model_destroy (&model);
    return reply;
}

rfk_msg_t *
rfk_admin_on_delete_model (rfk_admin_t *self, const rfk_msg_t *req, const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_model_t *model = s_model_of (self, req, caller, true, &error);
    if (!model)
        return error;
    rfk_msg_t *reply;
    if (rfk_store_delete_model (self->store, model->id) != 0)
        reply = rfk_store_code (self->store) == RFK_CODE_CONFLICT
                    ? rfk_admin_error (req, RFK_CODE_CONFLICT,
                                       "model %s is used by a train job and cannot be deleted",
                                       model->id)
                    : rfk_admin_store_error (self, req, "deleting the model");
    else {
        char *path = rfk_admin_model_path (self, model);
        s_unlink_with_digest (path);
        free (path);
        reply = rfk_admin_reply (req, "Deleted");
        json_object_set_new (reply->body, "id", json_string (model->id));
        rfk_log_info (RFK_ADMIN_LOG, "model-deleted id=%s by=%s", model->id, caller->user_id);
    }
    rfk_model_destroy (&model);
    return reply;
}

rfk_msg_t *
rfk_admin_file_reply (rfk_admin_t *self, const rfk_msg_t *req, const char *path, const char *name)
{
    int fd = path ? open (path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat info;
    if (fd < 0 || fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
        if (fd >= 0)
            close (fd);
        return rfk_admin_error (req, RFK_CODE_NOT_FOUND, "the file of %s is missing", name);
    }
    size_t room = self->bus.max_frame_bytes > 4096 ? self->bus.max_frame_bytes - 4096 : 0;
    if ((uint64_t)info.st_size > room) {
        close (fd);
        return rfk_admin_error (req, RFK_CODE_TOO_LARGE,
                                "the file of %s is %lld bytes, more than one message may carry "
                                "(bus.max_frame_bytes)",
                                name, (long long)info.st_size);
    }
    char *data = (char *)malloc ((size_t)info.st_size + 1);
    size_t have = 0;
    while (data && have < (size_t)info.st_size) {
        ssize_t got = read (fd, data + have, (size_t)info.st_size - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    close (fd);
    if (!data || have < (size_t)info.st_size) {
        free (data);
        return rfk_admin_error (req, RFK_CODE_UNAVAILABLE, "cannot read the file of %s", name);
    }
    rfk_msg_t *reply = rfk_admin_reply (req, "FileData");
    json_object_set_new (reply->body, "name", json_string (name));
    json_object_set_new (reply->body, "content_type", json_string ("application/octet-stream"));
    rfk_msg_set_data (reply, data, have);
    free (data);
    return reply;
}

rfk_msg_t *
rfk_admin_on_get_model_file (rfk_admin_t *self, const rfk_msg_t *req,
                             const rfk_auth_claims_t *caller)
{
    rfk_msg_t *error = NULL;
    rfk_model_t *model = s_model_of (self, req, caller, true, &error);
    if (!model)
        return error;
    char *path = rfk_admin_model_path (self, model);
    char name[300];
    snprintf (name, sizeof name, "%s.so", model->name);
    rfk_msg_t *reply = rfk_admin_file_reply (self, req, path, name);
    free (path);
    rfk_model_destroy (&model);
    return reply;
}
