/*  rfk_test_command_admin.c: a small stand-in for admin's `command` side,
    for the CLI and SDK tests (see rfk_test_command_admin.h). One actor, one loop: the command
   ROUTER, the predictor's query ROUTER, the events XPUB and the pipe. State is JSON in memory; what
   replies must not show (passwords, file paths) is kept beside the records, since reply bodies are
   checked against admin.proto.
*/
#include "rfk_test_command_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    zsock_t *pipe;           /* the actor's pipe */
    rfk_server_t *server;    /* admin's command ROUTER */
    rfk_server_t *predictor; /* a predictor's query ROUTER */
    zsock_t *xpub;           /* events */
    char *dir;               /* where uploads land */
    json_t *users;           /* User records */
    json_t *passwords;       /* email -> password */
    json_t *tokens;          /* token -> user id */
    json_t *datasets;        /* Dataset records */
    json_t *models;          /* Model records */
    json_t *files;           /* dataset/model id -> path */
    json_t *uploads;         /* upload id -> {kind, name, task, size, received, path, start} */
    json_t *train_jobs;      /* TrainJob records */
    json_t *trials;          /* Trial records */
    json_t *inference_jobs;  /* InferenceJob records */
    int clock;               /* a counter making datetime_* increase */
    int predictor_port;      /* for predictor_host */
    int subscriptions;       /* subscriptions seen on the XPUB */
    int wait_for;            /* WAIT-SUB: how many, 0 when not waiting */
    int64_t wait_deadline;   /* WAIT-SUB's deadline */
    long largest_chunk;      /* the largest chunk received */
    bool terminated;
} self_t;

/* The peer and request being answered. */
typedef struct {
    self_t *self;
    rfk_server_t *server;
    zframe_t *peer;
    rfk_msg_t *msg;
    json_t *user; /* the caller, once authenticated (borrowed) */
} s_req_t;

static char *
s_uuid (void)
{
    zuuid_t *uuid = zuuid_new ();
    char *text = strdup (zuuid_str_canonical (uuid));
    zuuid_destroy (&uuid);
    return text;
}

static json_t *
s_now (self_t *self)
{
    int t = self->clock++;
    char text[64];
    snprintf (text, sizeof text, "2025-01-01T%02d:%02d:%02dZ", (t / 3600) % 24, (t / 60) % 60,
              t % 60);
    return json_string (text);
}

static int
s_error (s_req_t *r, rfk_code_t code, const char *format, ...)
{
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    rfk_server_send_error (r->server, r->peer, r->msg->correlation, code, text);
    return 0;
}

/*  Replies with type and body (consumed). */
static int
s_reply (s_req_t *r, const char *type, json_t *body)
{
    char err[256];
    rfk_msg_t *reply = rfk_msg_new_from_json (rfk_server_family (r->server), type,
                                              r->msg->correlation, body, err, sizeof err);
    json_decref (body);
    if (!reply) {
        zsys_error ("fake admin: bad %s reply: %s", type, err);
        return -1;
    }
    int rc = rfk_server_send (r->server, r->peer, reply);
    rfk_msg_destroy (&reply);
    return rc;
}

static const char *
s_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

static json_t *
s_find (json_t *records, const char *key, const char *value)
{
    size_t index;
    json_t *record;
    json_array_foreach (records, index, record)
    {
        if (value && s_str (record, key) && strcmp (s_str (record, key), value) == 0)
            return record;
    }
    return NULL;
}

static bool
s_is_admin (json_t *user)
{
    const char *type = s_str (user, "user_type");
    return !strcmp (type, "SUPERADMIN") || !strcmp (type, "ADMIN");
}

static bool
s_owns (s_req_t *r, json_t *record, const char *owner_key)
{
    return s_is_admin (r->user) || !strcmp (s_str (record, owner_key), s_str (r->user, "id"));
}

/*  A required string field of the request; NULL after answering. */
static const char *
s_need (s_req_t *r, const char *field)
{
    const char *value = s_str (r->msg->body, field);
    if (!value || !*value)
        s_error (r, RFK_CODE_BAD_REQUEST, "field `%s` is required", field);
    return value && *value ? value : NULL;
}

/*  Publishes a JobStatus on job.<id>. */
static void
s_publish_job (self_t *self, const char *kind, json_t *job)
{
    json_t *body =
        json_pack ("{s:s,s:s,s:s,s:O,s:O}", "kind", kind, "id", s_str (job, "id"), "app",
                   s_str (job, "app"), "app_version", json_object_get (job, "app_version"),
                   "status", json_object_get (job, "status"));
    char err[256];
    rfk_msg_t *event =
        rfk_msg_new_from_json (&rfk_event_family, "JobStatus", 0, body, err, sizeof err);
    json_decref (body);
    char *topic = rfk_topic_job (s_str (job, "id"));
    //  As admin: under a channel ("c.<channel>.<topic>"), which the SDK strips.
    char *channel = topic ? zsys_sprintf ("c.fake.%s", topic) : NULL;
    if (event && channel)
        rfk_envelope_publish (self->xpub, channel, event, RFK_MSG_MAX_SIZE_DEFAULT);
    zstr_free (&channel);
    free (topic);
    rfk_msg_destroy (&event);
}

/* ---- users ---------------------------------------------------------------- */

static int
s_login (s_req_t *r)
{
    const char *email = s_str (r->msg->body, "email");
    const char *password = s_str (r->msg->body, "password");
    json_t *user = s_find (r->self->users, "email", email);
    const char *expected = email ? s_str (r->self->passwords, email) : NULL;
    if (!user || !password || !expected || strcmp (password, expected))
        return s_error (r, RFK_CODE_UNAUTHORIZED, "wrong e-mail or password");
    if (json_is_true (json_object_get (user, "banned")))
        return s_error (r, RFK_CODE_UNAUTHORIZED, "user %s is banned", email);
    char *uuid = s_uuid ();
    char token[128];
    snprintf (token, sizeof token, "tok-%s", uuid);
    free (uuid);
    json_object_set_new (r->self->tokens, token, json_string (s_str (user, "id")));
    return s_reply (r, "Token",
                    json_pack ("{s:s,s:s,s:s}", "user_id", s_str (user, "id"), "user_type",
                               s_str (user, "user_type"), "token", token));
}

static json_t *
s_add_user (self_t *self, const char *email, const char *password, const char *type)
{
    char *id = s_uuid ();
    json_t *user = json_pack ("{s:s,s:s,s:s,s:b,s:o}", "id", id, "email", email, "user_type", type,
                              "banned", 0, "datetime_created", s_now (self));
    free (id);
    json_array_append_new (self->users, user);
    json_object_set_new (self->passwords, email, json_string (password));
    return user;
}

static int
s_list_users (s_req_t *r)
{
    if (!s_is_admin (r->user))
        return s_error (r, RFK_CODE_FORBIDDEN, "only admins list users");
    return s_reply (r, "UserList", json_pack ("{s:O}", "users", r->self->users));
}

static int
s_create_user (s_req_t *r)
{
    if (!s_is_admin (r->user))
        return s_error (r, RFK_CODE_FORBIDDEN, "only admins create users");
    const char *email = s_need (r, "email");
    const char *password = email ? s_need (r, "password") : NULL;
    const char *type = password ? s_need (r, "user_type") : NULL;
    if (!type)
        return 0;
    if (!strcmp (type, "SUPERADMIN") ||
        (!strcmp (type, "ADMIN") && strcmp (s_str (r->user, "user_type"), "SUPERADMIN")))
        return s_error (r, RFK_CODE_FORBIDDEN, "%s cannot create a user of type %s",
                        s_str (r->user, "user_type"), type);
    if (s_find (r->self->users, "email", email))
        return s_error (r, RFK_CODE_CONFLICT, "a user with e-mail %s exists", email);
    return s_reply (r, "User", json_incref (s_add_user (r->self, email, password, type)));
}

static int
s_ban_user (s_req_t *r)
{
    if (!s_is_admin (r->user))
        return s_error (r, RFK_CODE_FORBIDDEN, "only admins ban users");
    const char *email = s_need (r, "email");
    if (!email)
        return 0;
    json_t *user = s_find (r->self->users, "email", email);
    if (!user)
        return s_error (r, RFK_CODE_NOT_FOUND, "no user with e-mail %s", email);
    json_object_set_new (user, "banned", json_true ());
    return s_reply (r, "User", json_incref (user));
}

/* ---- uploads, datasets, models ------------------------------------------------- */

static int
s_upload_start (s_req_t *r)
{
    const char *kind = s_need (r, "kind");
    const char *name = kind ? s_need (r, "name") : NULL;
    const char *task = name ? s_need (r, "task") : NULL;
    if (!task)
        return 0;
    if (!strcmp (kind, "MODEL") && !strcmp (s_str (r->user, "user_type"), "APP_DEVELOPER"))
        return s_error (r, RFK_CODE_FORBIDDEN, "app developers cannot upload models");
    char *id = s_uuid ();
    char path[1024];
    snprintf (path, sizeof path, "%s/upload-%s", r->self->dir, id);
    FILE *file = fopen (path, "wb");
    if (file)
        fclose (file);
    json_object_set_new (
        r->self->uploads, id,
        json_pack ("{s:O,s:i,s:s}", "start", r->msg->body, "received", 0, "path", path));
    int rc = s_reply (
        r, "UploadReady",
        json_pack ("{s:s,s:i}", "upload_id", id, "max_chunk_size", RFK_TEST_COMMAND_ADMIN_CHUNK));
    free (id);
    return rc;
}

static int
s_upload_chunk (s_req_t *r)
{
    const char *id = s_need (r, "upload_id");
    if (!id)
        return 0;
    json_t *upload = json_object_get (r->self->uploads, id);
    if (!upload)
        return s_error (r, RFK_CODE_NOT_FOUND, "no upload %s", id);
    size_t size = r->msg->data ? zchunk_size (r->msg->data) : 0;
    if (size > RFK_TEST_COMMAND_ADMIN_CHUNK)
        return s_error (r, RFK_CODE_TOO_LARGE, "a chunk is at most %d bytes",
                        RFK_TEST_COMMAND_ADMIN_CHUNK);
    if ((long)size > r->self->largest_chunk)
        r->self->largest_chunk = (long)size;
    const char *path = s_str (upload, "path");
    FILE *file = fopen (path, "ab");
    if (file) {
        if (size)
            fwrite (zchunk_data (r->msg->data), 1, size, file);
        fclose (file);
    }
    json_int_t received =
        json_integer_value (json_object_get (upload, "received")) + (json_int_t)size;
    json_object_set_new (upload, "received", json_integer (received));
    if (!json_is_true (json_object_get (r->msg->body, "last")))
        return s_reply (r, "UploadProgress",
                        json_pack ("{s:s,s:I}", "upload_id", id, "received", received));
    json_t *start = json_object_get (upload, "start");
    json_int_t expected = json_integer_value (json_object_get (start, "size"));
    if (received != expected)
        return s_error (r, RFK_CODE_BAD_REQUEST, "expected %lld bytes, got %lld",
                        (long long)expected, (long long)received);
    char *record_id = s_uuid ();
    json_object_set_new (r->self->files, record_id, json_string (path));
    int rc;
    if (!strcmp (s_str (start, "kind"), "DATASET")) {
        json_t *dataset = json_pack (
            "{s:s,s:O,s:O,s:I,s:s,s:o}", "id", record_id, "name", json_object_get (start, "name"),
            "task", json_object_get (start, "task"), "size_bytes", received, "owner_id",
            s_str (r->user, "id"), "datetime_created", s_now (r->self));
        json_array_append_new (r->self->datasets, dataset);
        rc = s_reply (r, "Dataset", json_incref (dataset));
    } else {
        char magic[4] = {0};
        FILE *so = fopen (path, "rb");
        size_t n = so ? fread (magic, 1, 4, so) : 0;
        if (so)
            fclose (so);
        if (n < 4 || memcmp (magic, "\177ELF", 4) != 0) {
            free (record_id);
            return s_error (r, RFK_CODE_BAD_REQUEST,
                            "%s is not a model template: not a shared "
                            "object (no ELF header)",
                            s_str (start, "name"));
        }
        json_t *model = json_pack ("{s:s,s:s,s:O,s:O,s:O,s:O,s:I,s:o}", "id", record_id, "user_id",
                                   s_str (r->user, "id"), "name", json_object_get (start, "name"),
                                   "task", json_object_get (start, "task"), "model_class",
                                   json_object_get (start, "model_class"), "access_right",
                                   json_object_get (start, "access_right"), "size_bytes", received,
                                   "datetime_created", s_now (r->self));
        json_array_append_new (r->self->models, model);
        rc = s_reply (r, "Model", json_incref (model));
    }
    free (record_id);
    json_object_del (r->self->uploads, id);
    return rc;
}

static int
s_list_datasets (s_req_t *r)
{
    const char *task = s_str (r->msg->body, "task");
    json_t *list = json_array ();
    size_t index;
    json_t *dataset;
    json_array_foreach (r->self->datasets, index, dataset)
    {
        if (!strcmp (s_str (dataset, "owner_id"), s_str (r->user, "id")) &&
            (!task || !strcmp (task, s_str (dataset, "task"))))
            json_array_append (list, dataset);
    }
    return s_reply (r, "DatasetList", json_pack ("{s:o}", "datasets", list));
}

/*  The record of records with the request's id that the caller may see;
    NULL after answering. */
static json_t *
s_get_owned (s_req_t *r, json_t *records, const char *what, const char *owner_key)
{
    const char *id = s_need (r, "id");
    if (!id)
        return NULL;
    json_t *record = s_find (records, "id", id);
    if (!record) {
        s_error (r, RFK_CODE_NOT_FOUND, "%s %s not found", what, id);
        return NULL;
    }
    bool public =
        s_str (record, "access_right") && !strcmp (s_str (record, "access_right"), "PUBLIC");
    if (!public && !s_owns (r, record, owner_key)) {
        s_error (r, RFK_CODE_FORBIDDEN, "%s %s is not yours", what, id);
        return NULL;
    }
    return record;
}

static int
s_delete_from (s_req_t *r, json_t *records, json_t *record)
{
    char *id = strdup (s_str (record, "id"));
    size_t index;
    json_t *item;
    json_array_foreach (records, index, item)
    {
        if (item == record) {
            json_array_remove (records, index);
            break;
        }
    }
    int rc = s_reply (r, "Deleted", json_pack ("{s:s}", "id", id));
    free (id);
    return rc;
}

static int
s_list_models (s_req_t *r)
{
    const char *task = s_str (r->msg->body, "task");
    json_t *list = json_array ();
    size_t index;
    json_t *model;
    json_array_foreach (r->self->models, index, model)
    {
        bool visible = !strcmp (s_str (model, "user_id"), s_str (r->user, "id")) ||
                       !strcmp (s_str (model, "access_right"), "PUBLIC");
        if (visible && (!task || !strcmp (task, s_str (model, "task"))))
            json_array_append (list, model);
    }
    return s_reply (r, "ModelList", json_pack ("{s:o}", "models", list));
}

/*  A whole file as FileData. */
static int
s_send_file (s_req_t *r, const char *name, const char *path)
{
    zchunk_t *chunk = NULL;
    FILE *file = fopen (path, "rb");
    if (file) {
        chunk = zchunk_read (file, 64 * 1024 * 1024);
        fclose (file);
    }
    if (!chunk)
        return s_error (r, RFK_CODE_INTERNAL, "cannot read the file");
    rfk_msg_t *reply = rfk_msg_new (&rfk_admin_family, "FileData", r->msg->correlation);
    json_object_set_new (reply->body, "name", json_string (name));
    json_object_set_new (reply->body, "content_type", json_string ("application/octet-stream"));
    rfk_msg_set_data (reply, zchunk_data (chunk), zchunk_size (chunk));
    zchunk_destroy (&chunk);
    int rc = rfk_server_send (r->server, r->peer, reply);
    rfk_msg_destroy (&reply);
    return rc;
}

/* ---- train jobs and trials ----------------------------------------------------- */

/*  The caller's job of app at version (-1: latest); NULL after answering. */
static json_t *
s_job_of (s_req_t *r, json_t *jobs, const char *what)
{
    const char *app = s_need (r, "app");
    if (!app)
        return NULL;
    json_t *version_json = json_object_get (r->msg->body, "app_version");
    json_int_t version = version_json ? json_integer_value (version_json) : -1;
    json_t *found = NULL;
    size_t index;
    json_t *job;
    json_array_foreach (jobs, index, job)
    {
        if (strcmp (s_str (job, "app"), app) || !s_owns (r, job, "user_id"))
            continue;
        json_int_t its = json_integer_value (json_object_get (job, "app_version"));
        if (version == -1
                ? (!found || its > json_integer_value (json_object_get (found, "app_version")))
                : its == version)
            found = job;
    }
    if (!found) {
        if (version == -1)
            s_error (r, RFK_CODE_NOT_FOUND, "no %s of app '%s'", what, app);
        else
            s_error (r, RFK_CODE_NOT_FOUND, "no %s of app '%s' version %lld", what, app,
                     (long long)version);
    }
    return found;
}

static int
s_create_train_job (s_req_t *r)
{
    json_t *body = r->msg->body;
    const char *app = s_need (r, "app");
    const char *task = app ? s_need (r, "task") : NULL;
    const char *train_id = task ? s_need (r, "train_dataset_id") : NULL;
    if (!train_id)
        return 0;
    if (!json_is_object (json_object_get (body, "budget")))
        return s_error (r, RFK_CODE_BAD_REQUEST, "field `budget` is required");
    const char *keys[] = {"train_dataset_id", "val_dataset_id"};
    for (int i = 0; i < 2; i++) {
        const char *id = s_str (body, keys[i]);
        if (!id)
            continue;
        json_t *dataset = s_find (r->self->datasets, "id", id);
        if (!dataset || !s_owns (r, dataset, "owner_id"))
            return s_error (r, RFK_CODE_NOT_FOUND, "%s: dataset %s not found", keys[i], id);
        if (strcmp (s_str (dataset, "task"), task))
            return s_error (r, RFK_CODE_BAD_REQUEST, "%s: dataset %s is for %s, not %s", keys[i],
                            id, s_str (dataset, "task"), task);
    }
    json_t *model_ids = json_object_get (body, "model_ids");
    if (json_array_size (model_ids) == 0)
        return s_error (r, RFK_CODE_BAD_REQUEST, "field `model_ids` needs at least one model");
    json_int_t version = 0;
    size_t index;
    json_t *job;
    json_array_foreach (r->self->train_jobs, index, job)
    {
        if (strcmp (s_str (job, "app"), app))
            continue;
        if (!strcmp (s_str (job, "status"), "RUNNING"))
            return s_error (r, RFK_CODE_CONFLICT,
                            "app %s has a running train job (version %lld): stop it first", app,
                            (long long)json_integer_value (json_object_get (job, "app_version")));
        json_int_t its = json_integer_value (json_object_get (job, "app_version"));
        if (its > version)
            version = its;
    }
    char *id = s_uuid ();
    json_t *subs = json_array ();
    json_t *model_id;
    json_array_foreach (model_ids, index, model_id)
    {
        json_t *model = s_find (r->self->models, "id", json_string_value (model_id));
        if (!model || strcmp (s_str (model, "task"), task)) {
            json_decref (subs);
            free (id);
            return s_error (r, RFK_CODE_NOT_FOUND, "model_ids[%zu]: no model %s for task %s", index,
                            json_string_value (model_id), task);
        }
        char *sub_id = s_uuid ();
        json_array_append_new (
            subs, json_pack ("{s:s,s:s,s:O,s:O,s:s,s:o}", "id", sub_id, "train_job_id", id,
                             "model_id", model_id, "model_name", json_object_get (model, "name"),
                             "status", "RUNNING", "datetime_started", s_now (r->self)));
        char *trial_id = s_uuid ();
        json_array_append_new (
            r->self->trials,
            json_pack ("{s:s,s:s,s:i,s:O,s:O,s:s,s:f,s:{s:i},s:b,s:o,s:o,s:s,s:I}", "id", trial_id,
                       "sub_train_job_id", sub_id, "trial_no", 1, "model_id", model_id,
                       "model_name", json_object_get (model, "name"), "status", "COMPLETED",
                       "score", 0.9, "knobs", "max_depth", 3, "has_params", 1, "datetime_started",
                       s_now (r->self), "datetime_stopped", s_now (r->self), "app", app,
                       "app_version", version + 1));
        free (trial_id);
        free (sub_id);
    }
    job = json_pack (
        "{s:s,s:s,s:I,s:s,s:s,s:s,s:O,s:O,s:s,s:o,s:o}", "id", id, "app", app, "app_version",
        version + 1, "task", task, "user_id", s_str (r->user, "id"), "train_dataset_id", train_id,
        "budget", json_object_get (body, "budget"), "train_args",
        json_object_get (body, "train_args") ? json_object_get (body, "train_args")
                                             : json_object (),
        "status", "RUNNING", "datetime_started", s_now (r->self), "sub_train_jobs", subs);
    if (s_str (body, "val_dataset_id"))
        json_object_set (job, "val_dataset_id", json_object_get (body, "val_dataset_id"));
    free (id);
    json_array_append_new (r->self->train_jobs, job);
    s_publish_job (r->self, "TRAIN", job);
    return s_reply (r, "TrainJob", json_incref (job));
}

/*  The caller's jobs, of app when given. */
static json_t *
s_jobs (s_req_t *r, json_t *jobs, const char *app)
{
    const char *user_id = s_str (r->msg->body, "user_id");
    json_t *list = json_array ();
    size_t index;
    json_t *job;
    json_array_foreach (jobs, index, job)
    {
        const char *owner = s_str (job, "user_id");
        bool mine = user_id ? !strcmp (owner, user_id) : !strcmp (owner, s_str (r->user, "id"));
        if (mine && (!app || !strcmp (app, s_str (job, "app"))))
            json_array_append (list, job);
    }
    return list;
}

static void
s_stop_train_job (self_t *self, json_t *job)
{
    json_object_set_new (job, "status", json_string ("STOPPED"));
    json_object_set_new (job, "datetime_stopped", s_now (self));
    size_t index;
    json_t *sub;
    json_array_foreach (json_object_get (job, "sub_train_jobs"), index, sub)
    {
        json_object_set_new (sub, "status", json_string ("STOPPED"));
    }
    s_publish_job (self, "TRAIN", job);
}

static int
s_list_trials (s_req_t *r)
{
    json_t *job = s_job_of (r, r->self->train_jobs, "train job");
    if (!job)
        return 0;
    json_t *list = json_array ();
    size_t index, sub_index;
    json_t *trial, *sub;
    json_array_foreach (r->self->trials, index, trial)
    {
        json_array_foreach (json_object_get (job, "sub_train_jobs"), sub_index, sub)
        {
            if (!strcmp (s_str (sub, "id"), s_str (trial, "sub_train_job_id")))
                json_array_append (list, trial);
        }
    }
    return s_reply (r, "TrialList", json_pack ("{s:o}", "trials", list));
}

static json_t *
s_trial (s_req_t *r)
{
    const char *id = s_need (r, "id");
    if (!id)
        return NULL;
    json_t *trial = s_find (r->self->trials, "id", id);
    if (!trial) {
        s_error (r, RFK_CODE_NOT_FOUND, "trial %s not found", id);
        return NULL;
    }
    return trial;
}

/* ---- inference jobs ------------------------------------------------------------ */

static int
s_create_inference_job (s_req_t *r)
{
    json_t *train = s_job_of (r, r->self->train_jobs, "train job");
    if (!train)
        return 0;
    if (strcmp (s_str (train, "status"), "STOPPED"))
        return s_error (r, RFK_CODE_CONFLICT,
                        "the train job of app %s is %s: an inference job needs a stopped one",
                        s_str (train, "app"), s_str (train, "status"));
    if (s_find (r->self->inference_jobs, "train_job_id", s_str (train, "id")) &&
        !strcmp (
            s_str (s_find (r->self->inference_jobs, "train_job_id", s_str (train, "id")), "status"),
            "RUNNING"))
        return s_error (r, RFK_CODE_CONFLICT, "app %s already has a running inference job",
                        s_str (train, "app"));
    char *id = s_uuid ();
    char host[64];
    snprintf (host, sizeof host, "127.0.0.1:%d", r->self->predictor_port - 1);
    json_t *job = json_pack ("{s:s,s:s,s:O,s:O,s:s,s:s,s:s,s:o}", "id", id, "train_job_id",
                             s_str (train, "id"), "app", json_object_get (train, "app"),
                             "app_version", json_object_get (train, "app_version"), "user_id",
                             s_str (r->user, "id"), "status", "RUNNING", "predictor_host", host,
                             "datetime_started", s_now (r->self));
    free (id);
    const char *copied[] = {"budget", "max_trials", "replicas"};
    for (int i = 0; i < 3; i++)
        if (json_object_get (r->msg->body, copied[i]))
            json_object_set (job, copied[i], json_object_get (r->msg->body, copied[i]));
    json_array_append_new (r->self->inference_jobs, job);
    s_publish_job (r->self, "INFERENCE", job);
    return s_reply (r, "InferenceJob", json_incref (job));
}

static void
s_stop_inference_job (self_t *self, json_t *job)
{
    json_object_set_new (job, "status", json_string ("STOPPED"));
    json_object_set_new (job, "datetime_stopped", s_now (self));
    s_publish_job (self, "INFERENCE", job);
}

/* ---- dispatch -------------------------------------------------------------------- */

static int
s_handle (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    self_t *self = (self_t *)ctx;
    s_req_t req = {self, server, peer, *msg_p, NULL};
    s_req_t *r = &req;
    const char *type = r->msg->type;
    if (!strcmp (type, "Login"))
        return s_login (r);
    const char *user_id = r->msg->token ? s_str (self->tokens, r->msg->token) : NULL;
    if (!r->msg->token)
        return s_error (r, RFK_CODE_UNAUTHORIZED, "no token: log in first");
    r->user = s_find (self->users, "id", user_id);
    if (!r->user)
        return s_error (r, RFK_CODE_UNAUTHORIZED, "invalid or expired token");
    if (json_is_true (json_object_get (r->user, "banned")))
        return s_error (r, RFK_CODE_UNAUTHORIZED, "user %s is banned", s_str (r->user, "email"));
    json_t *record;
    if (!strcmp (type, "ListUsers"))
        return s_list_users (r);
    if (!strcmp (type, "CreateUser"))
        return s_create_user (r);
    if (!strcmp (type, "BanUser"))
        return s_ban_user (r);
    if (!strcmp (type, "GetMe"))
        return s_reply (r, "User", json_incref (r->user));
    if (!strcmp (type, "UploadStart"))
        return s_upload_start (r);
    if (!strcmp (type, "UploadChunk"))
        return s_upload_chunk (r);
    if (!strcmp (type, "ListDatasets"))
        return s_list_datasets (r);
    if (!strcmp (type, "GetDataset"))
        return (record = s_get_owned (r, self->datasets, "dataset", "owner_id"))
                   ? s_reply (r, "Dataset", json_incref (record))
                   : 0;
    if (!strcmp (type, "DeleteDataset"))
        return (record = s_get_owned (r, self->datasets, "dataset", "owner_id"))
                   ? s_delete_from (r, self->datasets, record)
                   : 0;
    if (!strcmp (type, "ListAvailableModels"))
        return s_list_models (r);
    if (!strcmp (type, "GetModel"))
        return (record = s_get_owned (r, self->models, "model", "user_id"))
                   ? s_reply (r, "Model", json_incref (record))
                   : 0;
    if (!strcmp (type, "DeleteModel"))
        return (record = s_get_owned (r, self->models, "model", "user_id"))
                   ? s_delete_from (r, self->models, record)
                   : 0;
    if (!strcmp (type, "GetModelFile")) {
        record = s_get_owned (r, self->models, "model", "user_id");
        return record ? s_send_file (r, s_str (record, "name"),
                                     s_str (self->files, s_str (record, "id")))
                      : 0;
    }
    if (!strcmp (type, "CreateTrainJob"))
        return s_create_train_job (r);
    if (!strcmp (type, "ListTrainJobs"))
        return s_reply (r, "TrainJobList",
                        json_pack ("{s:o}", "train_jobs", s_jobs (r, self->train_jobs, NULL)));
    if (!strcmp (type, "GetTrainJobsOfApp"))
        return s_need (r, "app")
                   ? s_reply (r, "TrainJobList",
                              json_pack ("{s:o}", "train_jobs",
                                         s_jobs (r, self->train_jobs, s_str (r->msg->body, "app"))))
                   : 0;
    if (!strcmp (type, "GetTrainJob"))
        return (record = s_job_of (r, self->train_jobs, "train job"))
                   ? s_reply (r, "TrainJob", json_incref (record))
                   : 0;
    if (!strcmp (type, "StopTrainJob")) {
        if (!(record = s_job_of (r, self->train_jobs, "train job")))
            return 0;
        s_stop_train_job (self, record);
        return s_reply (r, "TrainJob", json_incref (record));
    }
    if (!strcmp (type, "ListTrials"))
        return s_list_trials (r);
    if (!strcmp (type, "GetTrial"))
        return (record = s_trial (r)) ? s_reply (r, "Trial", json_incref (record)) : 0;
    if (!strcmp (type, "GetTrialLogs"))
        return s_trial (r)
                   ? s_reply (r, "TrialLogs",
                              json_pack ("{s:[{s:s,s:[s],s:s}],s:[{s:s,s:f,s:i}],s:[{s:s,"
                                         "s:s}]}",
                                         "plots", "title", "Loss", "metrics", "loss", "x_axis",
                                         "epoch", "metrics", "time", "2025-01-01T00:00:01Z", "loss",
                                         0.5, "epoch", 1, "messages", "time",
                                         "2025-01-01T00:00:01Z", "message", "trained 10 rounds"))
                   : 0;
    if (!strcmp (type, "GetTrialParameters")) {
        if (!s_trial (r))
            return 0;
        rfk_msg_t *reply = rfk_msg_new (&rfk_admin_family, "FileData", r->msg->correlation);
        json_object_set_new (reply->body, "name", json_string ("params"));
        rfk_msg_set_data (reply, "\x81\xa1\x61\x01", 4); /* msgpack {"a": 1} */
        int rc = rfk_server_send (server, peer, reply);
        rfk_msg_destroy (&reply);
        return rc;
    }
    if (!strcmp (type, "CreateInferenceJob"))
        return s_create_inference_job (r);
    if (!strcmp (type, "ListInferenceJobs"))
        return s_reply (
            r, "InferenceJobList",
            json_pack ("{s:o}", "inference_jobs", s_jobs (r, self->inference_jobs, NULL)));
    if (!strcmp (type, "GetInferenceJobsOfApp"))
        return s_need (r, "app") ? s_reply (r, "InferenceJobList",
                                            json_pack ("{s:o}", "inference_jobs",
                                                       s_jobs (r, self->inference_jobs,
                                                               s_str (r->msg->body, "app"))))
                                 : 0;
    if (!strcmp (type, "GetInferenceJob"))
        return (record = s_job_of (r, self->inference_jobs, "inference job"))
                   ? s_reply (r, "InferenceJob", json_incref (record))
                   : 0;
    if (!strcmp (type, "StopInferenceJob")) {
        if (!(record = s_job_of (r, self->inference_jobs, "inference job")))
            return 0;
        s_stop_inference_job (self, record);
        return s_reply (r, "InferenceJob", json_incref (record));
    }
    if (!strcmp (type, "StopAllJobs")) {
        if (strcmp (s_str (r->user, "user_type"), "SUPERADMIN"))
            return s_error (r, RFK_CODE_FORBIDDEN, "only the superadmin stops every job");
        json_t *stopped = json_pack ("{s:[],s:[]}", "train_jobs", "inference_jobs");
        size_t index;
        json_t *job;
        json_array_foreach (self->train_jobs, index, job)
        {
            if (!strcmp (s_str (job, "status"), "RUNNING")) {
                s_stop_train_job (self, job);
                json_array_append_new (json_object_get (stopped, "train_jobs"),
                                       json_pack ("{s:O}", "id", json_object_get (job, "id")));
            }
        }
        json_array_foreach (self->inference_jobs, index, job)
        {
            if (!strcmp (s_str (job, "status"), "RUNNING")) {
                s_stop_inference_job (self, job);
                json_array_append_new (json_object_get (stopped, "inference_jobs"),
                                       json_pack ("{s:O}", "id", json_object_get (job, "id")));
            }
        }
        return s_reply (r, "StoppedJobs", stopped);
    }
    return s_error (r, RFK_CODE_UNKNOWN_MESSAGE, "the fake admin does not take %s", type);
}

/*  The predictor: each prediction is its query. */
static int
s_handle_predict (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    (void)ctx;
    rfk_msg_t *msg = *msg_p;
    if (!msg->data || zchunk_size (msg->data) == 0)
        return rfk_server_send_error (server, peer, msg->correlation, RFK_CODE_BAD_REQUEST,
                                      "no queries");
    rfk_msg_t *reply = rfk_msg_new (&rfk_infer_family, "PredictReply", msg->correlation);
    rfk_msg_set_data (reply, zchunk_data (msg->data), zchunk_size (msg->data));
    json_object_set_new (reply->body, "members", json_integer (1));
    json_object_set_new (reply->body, "members_answered", json_integer (1));
    int rc = rfk_server_send (server, peer, reply);
    rfk_msg_destroy (&reply);
    return rc;
}

static const rfk_server_route_t s_routes[] = {{"Login", s_handle},
                                              {"ListUsers", s_handle},
                                              {"CreateUser", s_handle},
                                              {"BanUser", s_handle},
                                              {"GetMe", s_handle},
                                              {"UploadStart", s_handle},
                                              {"UploadChunk", s_handle},
                                              {"ListDatasets", s_handle},
                                              {"GetDataset", s_handle},
                                              {"DeleteDataset", s_handle},
                                              {"ListAvailableModels", s_handle},
                                              {"GetModel", s_handle},
                                              {"DeleteModel", s_handle},
                                              {"GetModelFile", s_handle},
                                              {"CreateTrainJob", s_handle},
                                              {"ListTrainJobs", s_handle},
                                              {"GetTrainJobsOfApp", s_handle},
                                              {"GetTrainJob", s_handle},
                                              {"StopTrainJob", s_handle},
                                              {"ListTrials", s_handle},
                                              {"GetTrial", s_handle},
                                              {"GetTrialLogs", s_handle},
                                              {"GetTrialParameters", s_handle},
                                              {"CreateInferenceJob", s_handle},
                                              {"ListInferenceJobs", s_handle},
                                              {"GetInferenceJobsOfApp", s_handle},
                                              {"GetInferenceJob", s_handle},
                                              {"StopInferenceJob", s_handle},
                                              {"StopAllJobs", s_handle},
                                              {NULL, NULL}};

static const rfk_server_route_t s_predict_routes[] = {{"PredictRequest", s_handle_predict},
                                                      {NULL, NULL}};

static int
s_port_of (const char *endpoint)
{
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    return colon ? atoi (colon + 1) : 0;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    self_t self_storage;
    self_t *self = &self_storage;
    memset (self, 0, sizeof *self);
    self->pipe = pipe;
    self->dir = strdup ((const char *)args);
    self->users = json_array ();
    self->passwords = json_object ();
    self->tokens = json_object ();
    self->datasets = json_array ();
    self->models = json_array ();
    self->files = json_object ();
    self->uploads = json_object ();
    self->train_jobs = json_array ();
    self->trials = json_array ();
    self->inference_jobs = json_array ();
    s_add_user (self, "superadmin@rafiki", RFK_TEST_COMMAND_ADMIN_PASSWORD, "SUPERADMIN");

    self->server = rfk_server_new ("tcp://127.0.0.1:*", &rfk_admin_family, s_routes, self, NULL);
    self->predictor =
        rfk_server_new ("tcp://127.0.0.1:*", &rfk_infer_family, s_predict_routes, self, NULL);
    self->xpub = zsock_new (ZMQ_XPUB);
    int events_port = self->xpub ? zsock_bind (self->xpub, "tcp://127.0.0.1:*") : -1;
    if (self->xpub)
        zsock_set_xpub_verbose (self->xpub, 1);
    if (!self->server || !self->predictor || events_port <= 0) {
        zsock_signal (pipe, 0);
        zstr_send (pipe, "FAILED");
    } else {
        self->predictor_port = s_port_of (rfk_server_endpoint (self->predictor));
        zsock_signal (pipe, 0);
        zstr_sendf (pipe, "%d %d %d", s_port_of (rfk_server_endpoint (self->server)), events_port,
                    self->predictor_port);
        zpoller_t *poller = zpoller_new (pipe, rfk_server_sock (self->server),
                                         rfk_server_sock (self->predictor), self->xpub, NULL);
        while (!self->terminated) {
            rfk_deadline_t deadline;
            rfk_deadline_reset (&deadline);
            rfk_deadline_add (&deadline, rfk_server_deadline (self->server));
            rfk_deadline_add (&deadline, rfk_server_deadline (self->predictor));
            if (self->wait_for)
                rfk_deadline_add (&deadline, self->wait_deadline);
            void *which = zpoller_wait (poller, rfk_deadline_timeout (&deadline));
            if (which == pipe) {
                zmsg_t *msg = zmsg_recv (pipe);
                char *command = msg ? zmsg_popstr (msg) : NULL;
                if (!command || !strcmp (command, "$TERM"))
                    self->terminated = true;
                else if (!strcmp (command, "WAIT-SUB")) {
                    char *n = zmsg_popstr (msg), *timeout = zmsg_popstr (msg);
                    self->wait_for = n ? atoi (n) : 1;
                    self->wait_deadline = zclock_mono () + (timeout ? atoi (timeout) : 1000);
                    free (n);
                    free (timeout);
                } else if (!strcmp (command, "UPLOADS"))
                    zstr_sendf (pipe, "%ld", self->largest_chunk);
                free (command);
                zmsg_destroy (&msg);
            } else if (which == rfk_server_sock (self->server))
                rfk_server_recv (self->server);
            else if (which == rfk_server_sock (self->predictor))
                rfk_server_recv (self->predictor);
            else if (which == self->xpub) {
                zframe_t *frame = zframe_recv (self->xpub);
                //  The subscriptions that carry a token, as admin counts channels.
                if (frame && zframe_size (frame) > 5 && zframe_data (frame)[0] == 1 &&
                    memcmp (zframe_data (frame) + 1, "auth ", 5) == 0)
                    self->subscriptions++;
                zframe_destroy (&frame);
            } else if (zpoller_terminated (poller))
                break;
            if (self->wait_for && self->subscriptions >= self->wait_for) {
                zstr_send (pipe, "OK");
                self->wait_for = 0;
            } else if (self->wait_for && zclock_mono () >= self->wait_deadline) {
                zstr_send (pipe, "TIMEOUT");
                self->wait_for = 0;
            }
            rfk_server_tick (self->server);
            rfk_server_tick (self->predictor);
        }
        zpoller_destroy (&poller);
    }
    rfk_server_destroy (&self->server);
    rfk_server_destroy (&self->predictor);
    zsock_destroy (&self->xpub);
    json_decref (self->users);
    json_decref (self->passwords);
    json_decref (self->tokens);
    json_decref (self->datasets);
    json_decref (self->models);
    json_decref (self->files);
    json_decref (self->uploads);
    json_decref (self->train_jobs);
    json_decref (self->trials);
    json_decref (self->inference_jobs);
    free (self->dir);
}

zactor_t *
rfk_test_command_admin_new (const char *dir, rfk_test_command_admin_ports_t *ports)
{
    zactor_t *actor = zactor_new (s_actor, (void *)dir);
    if (!actor)
        return NULL;
    char *text = zstr_recv (actor);
    if (!text || sscanf (text, "%d %d %d", &ports->command_port, &ports->events_port,
                         &ports->predictor_port) != 3) {
        free (text);
        zactor_destroy (&actor);
        return NULL;
    }
    free (text);
    return actor;
}

int
rfk_test_command_admin_wait_subscriptions (zactor_t *admin, int n, int timeout_ms)
{
    char count[16], timeout[16];
    snprintf (count, sizeof count, "%d", n);
    snprintf (timeout, sizeof timeout, "%d", timeout_ms);
    zstr_sendx (admin, "WAIT-SUB", count, timeout, NULL);
    char *answer = zstr_recv (admin);
    int rc = answer && !strcmp (answer, "OK") ? 0 : -1;
    free (answer);
    return rc;
}

long
rfk_test_command_admin_largest_chunk (zactor_t *admin)
{
    zstr_send (admin, "UPLOADS");
    char *text = zstr_recv (admin);
    long value = text ? atol (text) : -1;
    free (text);
    return value;
}
