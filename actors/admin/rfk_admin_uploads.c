/*  rfk_admin_uploads.c: streaming uploads of datasets and models.

    An upload streams to <data_dir>/{datasets,models}/.part-<uuid> as it
    arrives (never whole in memory), with a running SHA-256 (libsodium) and
    the admin.upload_max_bytes cap (TOO_LARGE). When it finishes the file is
    checked (a dataset here, a model in a child process: rfk_admin_checks.c),
    then renamed to <uuid>.<zip|csv|so>, its digest written beside it as
    <file>.sha256 (sha256sum's format) and logged, and the record stored
    (rfk_admin_upload_conclude). The check does not block admin's loop: the
    upload's reply goes to the front that finished it when the check ends
    (rfk_admin_upload_finish_async).
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#define S_PART_PREFIX ".part-"

/* One upload in progress. */
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
    rfk_admin_limits_t *limits;   /* where it counts against its user's uploads, or NULL */
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

uint64_t
rfk_admin_upload_cap (const rfk_upload_t *up)
{
    return up->cap;
}

void
rfk_admin_upload_fetching (rfk_upload_t *up)
{
    json_object_del (up->fields, "dataset_url");
}

const char *
rfk_admin_upload_name (const rfk_upload_t *up)
{
    return up->name;
}

const char *
rfk_admin_upload_task (const rfk_upload_t *up)
{
    return up->task;
}

const char *
rfk_admin_upload_part_path (const rfk_upload_t *up)
{
    return up->part_path;
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

void
rfk_admin_upload_destroy (rfk_upload_t **up_p)
{
    rfk_upload_t *up = *up_p;
    if (!up)
        return;
    if (up->fd >= 0)
        close (up->fd);
    if (up->part_path)
        unlink (up->part_path);
    if (up->limits)
        rfk_admin_limits_give (up->limits, "uploads", up->user_id);
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

static const char *
s_str (json_t *fields, const char *key)
{
    const char *value = json_string_value (json_object_get (fields, key));
    return value && *value ? value : NULL;
}

/* Check the fields every upload needs (kind, name, task, size): 0, or -1
   with the reply in *error. */
static int
s_check_fields (rfk_admin_t *self, json_t *fields, rfk_msg_t **error)
{
    if (!json_is_object (fields)) {
        *error =
            rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "the upload's fields must be an object");
        return -1;
    }
    const char *kind = s_str (fields, "kind");
    const char *name = s_str (fields, "name");
    const char *task = s_str (fields, "task");
    if (!kind || (!streq (kind, "DATASET") && !streq (kind, "MODEL")))
        *error =
            rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "field `kind` must be DATASET or MODEL");
    else if (!name)
        *error = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "field `name` is missing");
    else if (strlen (name) > 200)
        *error = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST,
                                  "field `name` is longer than 200 characters");
    else if (!task)
        *error = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "field `task` is missing");
    else if (!rfk_admin_task_known (task))
        *error = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST,
                                  "field `task`: %s is not one of IMAGE_CLASSIFICATION, "
                                  "TABULAR_CLASSIFICATION, TABULAR_REGRESSION, POS_TAGGING",
                                  task);
    else if (s_str (fields, "dataset_url") && streq (kind, "MODEL"))
        *error = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST,
                                  "field `dataset_url` is for datasets; a model is uploaded");
    if (*error)
        return -1;
    json_t *size = json_object_get (fields, "size");
    if (json_is_integer (size) && (uint64_t)json_integer_value (size) > self->upload_max) {
        *error = rfk_admin_error (NULL, RFK_CODE_TOO_LARGE,
                                  "the file is %lld bytes; uploads are limited to %llu bytes "
                                  "(admin.upload_max_bytes)",
                                  (long long)json_integer_value (size),
                                  (unsigned long long)self->upload_max);
        return -1;
    }
    return 0;
}

/* The fields of a model upload, and whether the caller may upload it: 0,
   or -1 with *error. */
static int
s_check_model_fields (rfk_admin_t *self, json_t *fields, const rfk_auth_claims_t *caller,
                      rfk_msg_t **error)
{
    if (rfk_auth_can_upload_model (caller->user_type) != 0) {
        *error = rfk_admin_error (NULL, RFK_CODE_FORBIDDEN, "a %s may not upload models",
                                  rfk_auth_user_type_name (caller->user_type));
        return -1;
    }
    const char *access = s_str (fields, "access_right");
    if (access && !streq (access, "PRIVATE") && !streq (access, "PUBLIC")) {
        *error = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST,
                                  "field `access_right` must be PRIVATE or PUBLIC");
        return -1;
    }
    json_t *deps = json_object_get (fields, "dependencies");
    if (deps && !json_is_object (deps) && !json_is_null (deps)) {
        *error =
            rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST,
                             "field `dependencies` must be an object {\"package\": \"version\"}");
        return -1;
    }
    const char *name = s_str (fields, "name");
    rfk_model_t *existing = rfk_store_get_model_by_name (self->store, caller->user_id, name);
    if (existing) {
        rfk_model_destroy (&existing);
        *error =
            rfk_admin_error (NULL, RFK_CODE_CONFLICT, "you have a model named %s already", name);
        return -1;
    }
    return 0;
}

/* A new upload of checked fields, its partial file open; NULL with *error. */
static rfk_upload_t *
s_upload_new (rfk_admin_t *self, json_t *fields, const char *user_id, rfk_msg_t **error)
{
    rfk_upload_t *up = (rfk_upload_t *)calloc (1, sizeof *up);
    char *uuid = rfk_admin_uuid ();
    if (!up || !uuid) {
        free (up);
        free (uuid);
        *error = rfk_admin_error (NULL, RFK_CODE_INTERNAL, "out of memory");
        return NULL;
    }
    const char *task = s_str (fields, "task");
    up->fd = -1;
    up->is_model = streq (s_str (fields, "kind"), "MODEL");
    up->user_id = strdup (user_id);
    up->name = strdup (s_str (fields, "name"));
    up->task = strdup (task);
    up->fields = json_deep_copy (fields);
    up->cap = self->upload_max;
    const char *ext = up->is_model                                         ? "so"
                      : strncmp (task, "TABULAR", strlen ("TABULAR")) == 0 ? "csv"
                                                                           : "zip";
    up->file_name = zsys_sprintf ("%s.%s", uuid, ext);
    const char *dir = up->is_model ? self->models_dir : self->datasets_dir;
    up->part_path = zsys_sprintf ("%s/%s%s", dir, S_PART_PREFIX, uuid);
    up->final_path = zsys_sprintf ("%s/%s", dir, up->file_name);
    free (uuid);
    crypto_hash_sha256_init (&up->sha);
    if (up->part_path)
        up->fd = open (up->part_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (up->fd < 0) {
        *error = rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE, "cannot write under %s: %s", dir,
                                  strerror (errno));
        rfk_admin_upload_destroy (&up);
    }
    return up;
}

rfk_upload_t *
rfk_admin_upload_begin (rfk_admin_t *self, const char *token, json_t *fields, rfk_msg_t **error)
{
    assert (self);
    rfk_auth_claims_t caller;
    rfk_msg_t probe = {.family = &rfk_admin_family, .type = "UploadStart"};
    if (rfk_admin_authenticate (self, &probe, token, &caller, error) != 0)
        return NULL;
    *error = NULL;
    if (s_check_fields (self, fields, error) != 0)
        return NULL;
    bool is_model = streq (s_str (fields, "kind"), "MODEL");
    if (is_model && s_check_model_fields (self, fields, &caller, error) != 0)
        return NULL;
    if (rfk_admin_limits_take (self->limits, "uploads", caller.user_id, self->user_max_uploads) !=
        0) {
        *error = rfk_admin_error (NULL, RFK_CODE_RATE_LIMITED,
                                  "you have %zu uploads open, the most one user may have "
                                  "(admin.user_max_uploads); finish or abort one first",
                                  rfk_admin_limits_held (self->limits, "uploads", caller.user_id));
        json_object_set_new ((*error)->body, "retry_after_s", json_integer (5));
        return NULL;
    }
    rfk_upload_t *up = s_upload_new (self, fields, caller.user_id, error);
    if (!up)
        rfk_admin_limits_give (self->limits, "uploads", caller.user_id);
    else
        up->limits = self->limits;
    if (up)
        rfk_log_info (RFK_ADMIN_LOG, "upload-begin kind=%s name=%s user=%s",
                      is_model ? "MODEL" : "DATASET", up->name, up->user_id);
    return up;
}

int
rfk_admin_upload_write (rfk_upload_t *up, const void *data, size_t n, rfk_msg_t **error)
{
    assert (up);
    if (n == 0)
        return 0;
    if (up->received + n > up->cap) {
        *error = rfk_admin_error (NULL, RFK_CODE_TOO_LARGE,
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
            *error = rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE, "cannot write the upload: %s",
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
    rfk_admin_upload_destroy (up_p);
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

/* Store the record of a model whose file is in place; the reply. */
static rfk_msg_t *
s_store_model (rfk_admin_t *self, rfk_upload_t *up, json_t *verdict, const char *hex)
{
    const char *model_class = s_str (up->fields, "model_class");
    const char *access = s_str (up->fields, "access_right");
    json_t *deps = json_object_get (up->fields, "dependencies");
    const char *template_name = json_string_value (json_object_get (verdict, "name"));
    rfk_model_t record = {
        .user_id = up->user_id,
        .name = up->name,
        .task = up->task,
        .model_class = (char *)(model_class ? model_class : template_name),
        .model_file = up->file_name,
        .docker_image = (char *)s_str (up->fields, "docker_image"),
        .dependencies = json_is_object (deps) ? deps : NULL,
        .access_right = (char *)(access ? access : "PRIVATE"),
        .knobs = json_object_get (verdict, "knobs"),
    };
    rfk_model_t *model = rfk_store_create_model (self->store, &record);
    if (!model)
        return rfk_admin_error (NULL, rfk_store_code (self->store), "storing the model: %s",
                                rfk_store_message (self->store));
    rfk_msg_t *reply = rfk_admin_reply_with (NULL, "Model", rfk_admin_model_json (self, model));
    rfk_log_info (RFK_ADMIN_LOG,
                  "model-stored id=%s name=%s task=%s template=%s size=%llu sha256=%s", model->id,
                  model->name, model->task, template_name, (unsigned long long)up->received, hex);
    rfk_model_destroy (&model);
    return reply;
}

/* Store the record of a dataset whose file is in place; the reply. */
static rfk_msg_t *
s_store_dataset (rfk_admin_t *self, rfk_upload_t *up, const char *hex)
{
    rfk_dataset_t record = {
        .name = up->name,
        .task = up->task,
        .owner_id = up->user_id,
        .store_dataset_id = up->file_name,
        .size_bytes = (int64_t)up->received,
    };
    rfk_dataset_t *dataset = rfk_store_create_dataset (self->store, &record);
    if (!dataset)
        return rfk_admin_error (NULL, rfk_store_code (self->store), "storing the dataset: %s",
                                rfk_store_message (self->store));
    rfk_msg_t *reply = rfk_admin_reply_with (NULL, "Dataset", rfk_admin_dataset_json (dataset));
    rfk_log_info (RFK_ADMIN_LOG, "dataset-stored id=%s name=%s task=%s size=%llu sha256=%s",
                  dataset->id, dataset->name, dataset->task, (unsigned long long)up->received, hex);
    rfk_dataset_destroy (&dataset);
    return reply;
}

rfk_msg_t *
rfk_admin_upload_conclude (rfk_admin_t *self, rfk_upload_t *up, int rc, json_t *verdict, char *err,
                           size_t errlen)
{
    rfk_msg_t *reply = NULL;
    if (rc != 0) {
        s_scrub_path (err, errlen, up->part_path, "the uploaded file");
        rfk_log_info (RFK_ADMIN_LOG, "upload-rejected name=%s reason=\"%s\"", up->name, err);
        reply = rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "%s: %s",
                                 up->is_model ? "not a usable model template" : "bad dataset", err);
    } else if (rename (up->part_path, up->final_path) != 0)
        reply = rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE, "cannot store the file: %s",
                                 strerror (errno));
    else {
        zstr_free (&up->part_path);
        char hex[crypto_hash_sha256_BYTES * 2 + 1];
        s_write_digest (up, hex, sizeof hex);
        reply =
            up->is_model ? s_store_model (self, up, verdict, hex) : s_store_dataset (self, up, hex);
        if (rfk_msg_is (reply, "Error"))
            rfk_admin_unlink_with_digest (up->final_path);
    }
    json_decref (verdict);
    rfk_admin_upload_destroy (&up);
    return reply;
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
        return rfk_admin_error (NULL, RFK_CODE_BAD_REQUEST, "no upload in progress");
    const char *url = s_str (up->fields, "dataset_url");
    if (url && !up->is_model && up->received == 0)
        return rfk_admin_fetch_start (self, up_p, url, done, arg, ticket);
    *up_p = NULL;
    char err[1024] = "";
    if (url) {
        snprintf (err, sizeof err, "give the file or dataset_url, not both");
        return rfk_admin_upload_conclude (self, up, -1, NULL, err, sizeof err);
    }
    if (close (up->fd) != 0) {
        up->fd = -1;
        rfk_msg_t *reply = rfk_admin_error (NULL, RFK_CODE_UNAVAILABLE,
                                            "cannot write the upload: %s", strerror (errno));
        rfk_admin_upload_destroy (&up);
        return reply;
    }
    up->fd = -1;
    if (!up->is_model) {
        int rc = s_check_dataset (up, err, sizeof err);
        return rfk_admin_upload_conclude (self, up, rc, NULL, err, sizeof err);
    }
    if (up->received == 0) {
        snprintf (err, sizeof err, "the model file is empty");
        return rfk_admin_upload_conclude (self, up, -1, NULL, err, sizeof err);
    }
    if (rfk_admin_checks_add (self, &up, done, arg, ticket, err, sizeof err) != 0)
        return rfk_admin_upload_conclude (self, up, -1, NULL, err, sizeof err);
    return NULL;
}
