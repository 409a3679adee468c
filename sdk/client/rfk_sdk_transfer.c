/*  rfk_sdk_transfer.c: files to and from admin, and jobs from manifests.

    An upload is UploadStart (kind, name, task, size, model fields) answered
    with UploadReady {upload_id, max_chunk_size}, then UploadChunk messages
    read from the file one at a time, each answered with UploadProgress, the
    last (last: true) with the Dataset or Model record. Only one chunk is in
    memory at any time. Downloads (model files, trial parameters) come in one
    FileData reply and are written to a temporary file renamed into place, so
    a failed download never leaves half a file under the name asked for.

    A train manifest names datasets and models as people know them; they are
    resolved to ids here before CreateTrainJob is sent (rfk_manifest.h).
*/
#define _GNU_SOURCE
#include "rfk_sdk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_manifest.h"

/* The chunk size when admin names none; also the most we send per chunk,
   whatever admin allows, minus room for the envelope. */
#define S_CHUNK_DEFAULT (1024u * 1024u)
#define S_ENVELOPE_ROOM 4096u

/*  Streams the file at path to admin after start (an UploadStart message,
    borrowed): the final reply's body, of type expected. */
static json_t *
s_upload (rfk_sdk_t *self, const char *path, rfk_msg_t *start, const char *expected,
          rfk_sdk_progress_fn *progress, void *arg)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rfk_sdk_fail (self, errno == ENOENT ? RFK_SDK_NOT_FOUND : RFK_SDK_IO, "%s: %s", path,
                      strerror (errno));
        return NULL;
    }
    struct stat info;
    if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
        rfk_sdk_fail (self, RFK_SDK_IO, "%s: not a regular file", path);
        close (fd);
        return NULL;
    }
    uint64_t total = (uint64_t)info.st_size;
    json_object_set_new (start->body, "size", json_integer ((json_int_t)total));
    rfk_msg_t *ready = rfk_sdk_call (self, start, "UploadReady");
    if (!ready) {
        close (fd);
        return NULL;
    }
    const char *upload_id = json_string_value (json_object_get (ready->body, "upload_id"));
    json_int_t max_chunk = json_integer_value (json_object_get (ready->body, "max_chunk_size"));
    size_t chunk = max_chunk > 0 ? (size_t)max_chunk : S_CHUNK_DEFAULT;
    if (chunk > S_CHUNK_DEFAULT * 8)
        chunk = S_CHUNK_DEFAULT * 8;
    if (self->bus.max_frame_bytes > S_ENVELOPE_ROOM * 2 &&
        chunk > self->bus.max_frame_bytes - S_ENVELOPE_ROOM)
        chunk = self->bus.max_frame_bytes - S_ENVELOPE_ROOM;
    char *buffer = upload_id ? (char *)malloc (chunk) : NULL;
    json_t *result = NULL;
    if (!upload_id)
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "admin's UploadReady has no upload_id");
    else if (!buffer)
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "out of memory for a %zu byte chunk", chunk);
    uint64_t sent = 0;
    while (buffer && !result && self->error.code == RFK_SDK_OK) {
        size_t want = total - sent < chunk ? (size_t)(total - sent) : chunk;
        size_t have = 0;
        while (have < want) {
            ssize_t n = read (fd, buffer + have, want - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rfk_sdk_fail (self, RFK_SDK_IO, "%s: %s", path, strerror (errno));
                break;
            }
            if (n == 0)
                break; /* the file shrank: send what there is */
            have += (size_t)n;
        }
        if (self->error.code != RFK_SDK_OK)
            break;
        bool last = have < want || sent + have >= total;
        rfk_msg_t *msg = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
        json_object_set_new (msg->body, "upload_id", json_string (upload_id));
        json_object_set_new (msg->body, "last", json_boolean (last));
        rfk_msg_set_data (msg, buffer, have);
        rfk_msg_t *reply = rfk_sdk_call (self, msg, last ? expected : "UploadProgress");
        rfk_msg_destroy (&msg);
        if (!reply)
            break;
        sent += have;
        if (last)
            result = json_incref (reply->body);
        rfk_msg_destroy (&reply);
        if (progress && progress (sent, total, arg) != 0 && !result)
            rfk_sdk_fail (self, RFK_SDK_INTERRUPTED, "upload of %s cancelled after %llu bytes",
                          path, (unsigned long long)sent);
    }
    free (buffer);
    rfk_msg_destroy (&ready);
    close (fd);
    return result;
}

json_t *
rfk_sdk_dataset_upload (rfk_sdk_t *self, const char *path, const char *name, const char *task,
                        rfk_sdk_progress_fn *progress, void *arg)
{
    assert (self);
    rfk_sdk_clear (self);
    if (!path || !*path || !name || !*name || !task || !*task) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                      "a dataset upload needs a file, a name and a task");
        return NULL;
    }
    rfk_msg_t *start = rfk_msg_new (&rfk_admin_family, "UploadStart", 0);
    json_object_set_new (start->body, "kind", json_string ("DATASET"));
    json_object_set_new (start->body, "name", json_string (name));
    json_object_set_new (start->body, "task", json_string (task));
    json_t *result = s_upload (self, path, start, "Dataset", progress, arg);
    rfk_msg_destroy (&start);
    return result;
}

json_t *
rfk_sdk_dataset_from_url (rfk_sdk_t *self, const char *url, const char *name, const char *task)
{
    assert (self);
    rfk_sdk_clear (self);
    if (!url || !*url || !name || !*name || !task || !*task) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "a dataset by URL needs a URL, a name and a task");
        return NULL;
    }
    //  An upload that carries no bytes: admin downloads the file, checks it
    //  as any dataset, and answers the last (empty) chunk with the record.
    rfk_msg_t *start = rfk_msg_new (&rfk_admin_family, "UploadStart", 0);
    json_object_set_new (start->body, "kind", json_string ("DATASET"));
    json_object_set_new (start->body, "name", json_string (name));
    json_object_set_new (start->body, "task", json_string (task));
    json_object_set_new (start->body, "dataset_url", json_string (url));
    rfk_msg_t *ready = rfk_sdk_call (self, start, "UploadReady");
    rfk_msg_destroy (&start);
    if (!ready)
        return NULL;
    json_t *result = NULL;
    const char *upload_id = json_string_value (json_object_get (ready->body, "upload_id"));
    if (!upload_id)
        rfk_sdk_fail (self, RFK_SDK_INTERNAL, "admin's UploadReady has no upload_id");
    else {
        rfk_msg_t *last = rfk_msg_new (&rfk_admin_family, "UploadChunk", 0);
        json_object_set_new (last->body, "upload_id", json_string (upload_id));
        json_object_set_new (last->body, "last", json_true ());
        rfk_msg_t *reply = rfk_sdk_call (self, last, "Dataset");
        rfk_msg_destroy (&last);
        if (reply)
            result = json_incref (reply->body);
        rfk_msg_destroy (&reply);
    }
    rfk_msg_destroy (&ready);
    return result;
}

json_t *
rfk_sdk_model_upload (rfk_sdk_t *self, const char *path, const rfk_sdk_model_info_t *info,
                      rfk_sdk_progress_fn *progress, void *arg)
{
    assert (self);
    rfk_sdk_clear (self);
    if (!path || !*path || !info || !info->name || !*info->name || !info->task || !*info->task) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "a model upload needs a file, a name and a task");
        return NULL;
    }
    if (info->dependencies && !json_is_object (info->dependencies)) {
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST,
                      "dependencies must be a JSON object ({\"package\": \"version\"})");
        return NULL;
    }
    rfk_msg_t *start = rfk_msg_new (&rfk_admin_family, "UploadStart", 0);
    json_object_set_new (start->body, "kind", json_string ("MODEL"));
    json_object_set_new (start->body, "name", json_string (info->name));
    json_object_set_new (start->body, "task", json_string (info->task));
    json_object_set_new (start->body, "model_class",
                         json_string (info->model_class ? info->model_class : info->name));
    if (info->dependencies)
        json_object_set (start->body, "dependencies", info->dependencies);
    if (info->docker_image)
        json_object_set_new (start->body, "docker_image", json_string (info->docker_image));
    json_object_set_new (start->body, "access_right",
                         json_string (info->access_right ? info->access_right : "PRIVATE"));
    char err[256];
    json_t *result = NULL;
    if (rfk_msg_check (start, err, sizeof err) != 0)
        rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "%s", err);
    else
        result = s_upload (self, path, start, "Model", progress, arg);
    rfk_msg_destroy (&start);
    return result;
}

/*  Writes size bytes to path through a temporary file in the same folder. */
static int
s_write_file (rfk_sdk_t *self, const char *path, const void *data, size_t size)
{
    char *tmp = NULL;
    if (asprintf (&tmp, "%s.part-XXXXXX", path) < 0)
        return rfk_sdk_fail (self, RFK_SDK_INTERNAL, "out of memory");
    int fd = mkostemp (tmp, O_CLOEXEC);
    if (fd < 0) {
        rfk_sdk_fail (self, RFK_SDK_IO, "%s: %s", path, strerror (errno));
        free (tmp);
        return -1;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = write (fd, (const char *)data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    int rc = 0;
    if (done < size || fchmod (fd, 0644) != 0 || close (fd) != 0) {
        rc = rfk_sdk_fail (self, RFK_SDK_IO, "%s: %s", path, strerror (errno));
        if (done < size)
            close (fd);
    } else if (rename (tmp, path) != 0)
        rc = rfk_sdk_fail (self, RFK_SDK_IO, "%s: %s", path, strerror (errno));
    if (rc)
        unlink (tmp);
    free (tmp);
    return rc;
}

/*  Asks for a file (GetModelFile, GetTrialParameters) and writes it. */
static int
s_download (rfk_sdk_t *self, const char *type, const char *id, const char *out_path)
{
    rfk_sdk_clear (self);
    if (!id || !*id || !out_path || !*out_path)
        return rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "a download needs an id and a file");
    rfk_msg_t *request = rfk_msg_new (&rfk_admin_family, type, 0);
    json_object_set_new (request->body, "id", json_string (id));
    rfk_msg_t *reply = rfk_sdk_call (self, request, "FileData");
    rfk_msg_destroy (&request);
    if (!reply)
        return -1;
    int rc = s_write_file (self, out_path, reply->data ? zchunk_data (reply->data) : NULL,
                           reply->data ? zchunk_size (reply->data) : 0);
    rfk_msg_destroy (&reply);
    return rc;
}

int
rfk_sdk_model_download (rfk_sdk_t *self, const char *id, const char *out_path)
{
    assert (self);
    return s_download (self, "GetModelFile", id, out_path);
}

int
rfk_sdk_trial_params_download (rfk_sdk_t *self, const char *id, const char *out_path)
{
    assert (self);
    return s_download (self, "GetTrialParameters", id, out_path);
}

/*  The newest record of a list (by datetime_created, ISO-8601 so text order
    is time order) whose `name` is name, or NULL. Borrowed. */
static json_t *
s_newest_named (json_t *records, const char *name)
{
    json_t *best = NULL, *record;
    size_t index;
    json_array_foreach (records, index, record)
    {
        const char *its = json_string_value (json_object_get (record, "name"));
        if (!its || strcmp (its, name) != 0)
            continue;
        const char *when = json_string_value (json_object_get (record, "datetime_created"));
        const char *best_when =
            best ? json_string_value (json_object_get (best, "datetime_created")) : NULL;
        if (!best || (when && (!best_when || strcmp (when, best_when) >= 0)))
            best = record;
    }
    return best;
}

/*  The dataset a manifest refers to ({name} or {file}) as an id under
    id_key in body. 0 or -1. */
static int
s_resolve_dataset (rfk_sdk_t *self, json_t *body, const char *key, const char *id_key,
                   const char *task, rfk_sdk_progress_fn *progress, void *arg)
{
    json_t *reference = json_object_get (body, key);
    if (!reference)
        return 0;
    const char *name = json_string_value (json_object_get (reference, "name"));
    const char *file = json_string_value (json_object_get (reference, "file"));
    const char *id = NULL;
    json_t *found = NULL;
    if (name) {
        found = rfk_sdk_datasets_list (self, task);
        if (!found)
            return -1;
        json_t *record = s_newest_named (json_object_get (found, "datasets"), name);
        id = record ? json_string_value (json_object_get (record, "id")) : NULL;
        if (!id) {
            json_decref (found);
            return rfk_sdk_fail (self, RFK_SDK_NOT_FOUND,
                                 "%s: no dataset named '%s' for task %s (`rafiki datasets list` "
                                 "shows yours)",
                                 key, name, task);
        }
    } else if (file) {
        /*  Named after the file, without its folder and extension. */
        char *copy = strdup (file);
        char *base = copy ? basename (copy) : NULL;
        char *dot = base ? strrchr (base, '.') : NULL;
        if (dot && dot != base)
            *dot = 0;
        found = base ? rfk_sdk_dataset_upload (self, file, base, task, progress, arg) : NULL;
        free (copy);
        if (!found) {
            if (self->error.code == RFK_SDK_OK)
                rfk_sdk_fail (self, RFK_SDK_INTERNAL, "out of memory");
            char message[sizeof self->error.message];
            snprintf (message, sizeof message, "%s", self->error.message);
            return rfk_sdk_fail (self, self->error.code, "%s: %s", key, message);
        }
        id = json_string_value (json_object_get (found, "id"));
    } else
        return rfk_sdk_fail (self, RFK_SDK_BAD_REQUEST, "%s: expected a name or a file", key);
    json_object_set_new (body, id_key, json_string (id ? id : ""));
    json_object_del (body, key);
    json_decref (found);
    return 0;
}

/*  Model names into model_ids, among the models available for the task. */
static int
s_resolve_models (rfk_sdk_t *self, json_t *body, const char *task)
{
    json_t *names = json_object_get (body, "models");
    if (!names)
        return 0;
    json_t *available = rfk_sdk_models_list (self, task);
    if (!available)
        return -1;
    json_t *ids = json_array ();
    json_t *name;
    size_t index;
    int rc = 0;
    json_array_foreach (names, index, name)
    {
        json_t *record =
            s_newest_named (json_object_get (available, "models"), json_string_value (name));
        const char *id = record ? json_string_value (json_object_get (record, "id")) : NULL;
        if (!id) {
            rc = rfk_sdk_fail (self, RFK_SDK_NOT_FOUND,
                               "models[%zu]: no model named '%s' is available for task %s "
                               "(`rafiki models list --task %s` shows them)",
                               index, json_string_value (name), task, task);
            break;
        }
        json_array_append_new (ids, json_string (id));
    }
    json_decref (available);
    if (rc == 0) {
        json_object_set_new (body, "model_ids", ids);
        json_object_del (body, "models");
    } else
        json_decref (ids);
    return rc;
}

json_t *
rfk_sdk_train_job_create_from_manifest (rfk_sdk_t *self, const char *path,
                                        rfk_sdk_progress_fn *progress, void *arg)
{
    assert (self);
    rfk_sdk_clear (self);
    char error[RFK_MANIFEST_ERROR_MAX];
    json_t *body = path ? rfk_manifest_load (path, RFK_MANIFEST_TRAIN, error, sizeof error) : NULL;
    if (!body) {
        rfk_sdk_fail (self,
                      path && access (path, R_OK) != 0 ? RFK_SDK_NOT_FOUND : RFK_SDK_BAD_REQUEST,
                      "%s", path ? error : "a manifest file is required");
        return NULL;
    }
    char task[128];
    snprintf (task, sizeof task, "%s", json_string_value (json_object_get (body, "task")));
    json_t *job = NULL;
    if (s_resolve_dataset (self, body, "train_dataset", "train_dataset_id", task, progress, arg) ==
            0 &&
        s_resolve_dataset (self, body, "val_dataset", "val_dataset_id", task, progress, arg) == 0 &&
        s_resolve_models (self, body, task) == 0)
        job = rfk_sdk_train_job_create (self, body);
    json_decref (body);
    return job;
}

json_t *
rfk_sdk_inference_job_create_from_manifest (rfk_sdk_t *self, const char *path)
{
    assert (self);
    rfk_sdk_clear (self);
    char error[RFK_MANIFEST_ERROR_MAX];
    json_t *body =
        path ? rfk_manifest_load (path, RFK_MANIFEST_INFERENCE, error, sizeof error) : NULL;
    if (!body) {
        rfk_sdk_fail (self,
                      path && access (path, R_OK) != 0 ? RFK_SDK_NOT_FOUND : RFK_SDK_BAD_REQUEST,
                      "%s", path ? error : "a manifest file is required");
        return NULL;
    }
    json_t *job = rfk_sdk_inference_job_create (self, body);
    json_decref (body);
    return job;
}
