/*  rfk_admin_files.c: datasets and models: their records, their files.

    The handlers of ListDatasets, GetDataset, DeleteDataset,
    ListAvailableModels, GetModel, DeleteModel and GetModelFile, where the
    stored files are (rfk_admin_dataset_path, rfk_admin_model_path) and a
    FileData reply with a whole file (rfk_admin_file_reply). Uploads are in
    rfk_admin_uploads.c, model checks in rfk_admin_checks.c.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rfk_io.h"

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
    rfk_msg_t *reply = rfk_admin_reply_with (req, "Dataset", rfk_admin_dataset_json (dataset));
    rfk_dataset_destroy (&dataset);
    return reply;
}

void
rfk_admin_unlink_with_digest (const char *path)
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
        rfk_admin_unlink_with_digest (path);
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
    rfk_msg_t *reply = rfk_admin_reply_with (req, "Model", rfk_admin_model_json (self, model));
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
        rfk_admin_unlink_with_digest (path);
        free (path);
        reply = rfk_admin_reply (req, "Deleted");
        json_object_set_new (reply->body, "id", json_string (model->id));
        rfk_log_info (RFK_ADMIN_LOG, "model-deleted id=%s by=%s", model->id, caller->user_id);
    }
    rfk_model_destroy (&model);
    return reply;
}

/* The error for a file that would not open: a link or a path out of its
   folder is refused (and logged: admin never writes either), else missing. */
static rfk_msg_t *
s_file_refused (const rfk_msg_t *req, const char *path, const char *name, int error)
{
    if (error != ELOOP && error != EXDEV)
        return rfk_admin_error (req, RFK_CODE_NOT_FOUND, "the file of %s is missing", name);
    const char *why = error == ELOOP ? "is a symbolic link" : "is outside its folder";
    rfk_log_warning (RFK_ADMIN_LOG, "RFK-FILE-REFUSED path=%s reason=\"%s\"", path, why);
    return rfk_admin_error (req, RFK_CODE_FORBIDDEN,
                            "the file of %s %s; admin serves only the files it wrote", name, why);
}

rfk_msg_t *
rfk_admin_file_reply (rfk_admin_t *self, const rfk_msg_t *req, const char *dir, const char *path,
                      const char *name)
{
    int fd = path ? rfk_io_open_beneath (dir, path) : -1;
    if (fd < 0)
        return s_file_refused (req, path ? path : "", name, path ? errno : ENOENT);
    struct stat info;
    if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
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
    size_t have = data ? rfk_io_read_at (fd, data, (size_t)info.st_size, 0) : 0;
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
    rfk_msg_t *reply = rfk_admin_file_reply (self, req, self->models_dir, path, name);
    free (path);
    rfk_model_destroy (&model);
    return reply;
}
