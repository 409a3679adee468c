/*  rfk_http_uploads.c: POST /datasets and POST /models on admin's HTTP
    front (see rfk_http_front.h and HTTP.md).

    The multipart text fields are kept (they are small, capped by
    request_max_bytes); the file part goes to handlers->upload_write as it
    arrives when every field the upload can take came before it, otherwise
    to an unlinked spool file under <data_dir>/tmp/ that is copied into the
    upload once the body is complete, in slices between polls (the
    connection is suspended meanwhile) so that a large copy never stalls the
    actor. A handler may also answer later (upload_finish_later): the
    connection stays suspended until rfk_http_front_finished.
*/
#define _GNU_SOURCE //  POLLRDHUP
#include "rfk_http_front_internal.h"
#include "rfk_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The text fields an upload takes, by route kind; the file's field name. */
static const char *s_dataset_fields[] = {"name", "task", NULL};
static const char *s_model_fields[] = {
    "name", "task", "model_class", "dependencies", "docker_image", "access_right", NULL};

void
rfk_http_uploads_drop (rfk_http_req_t *req)
{
    if (req->upload && req->front->handlers.upload_abort)
        req->front->handlers.upload_abort (req->front->handlers.ctx, &req->upload);
    req->upload = NULL;
    if (req->spool_fd >= 0)
        close (req->spool_fd);
    req->spool_fd = -1;
}

/* Checks an upload's headers before its body (see the internal header). */
bool
rfk_http_uploads_accept (rfk_http_req_t *req, bool multipart, enum MHD_Result *rc)
{
    rfk_http_front_t *front = req->front;
    bool model = req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL;
    req->file_field = model ? "model_file_bytes" : "dataset";
    req->upload_fields = model ? s_model_fields : s_dataset_fields;
    if (!front->handlers.upload_begin || !front->handlers.upload_write ||
        !front->handlers.upload_finish) {
        *rc = rfk_http_req_queue_error (req, 503, "UNAVAILABLE", "uploads are not served here");
        return false;
    }
    if (!multipart) {
        char message[512];
        snprintf (message, sizeof message,
                  "%s takes multipart/form-data with the file in field `%s`", req->route->endpoint,
                  req->file_field);
        *rc = rfk_http_req_queue_error (req, 400, "BAD_REQUEST", message);
        return false;
    }
    //  Check the token before reading what may be gigabytes.
    rfk_msg_t *me = rfk_msg_new (&rfk_admin_family, "GetMe", ++front->correlation);
    if (!me) {
        *rc = MHD_NO;
        return false;
    }
    rfk_msg_set_token (me, req->token);
    rfk_msg_t *reply = front->handlers.handle (front->handlers.ctx, me);
    rfk_msg_destroy (&me);
    if (!reply || rfk_msg_is (reply, "Error")) {
        *rc = rfk_http_req_queue_reply (req, &reply);
        return false;
    }
    rfk_msg_destroy (&reply);
    return true;
}

/* The UploadStart message of an upload from its fields, or NULL after
   rfk_http_req_fail. */
static rfk_msg_t *
s_upload_start (rfk_http_req_t *req)
{
    json_t *body = json_object ();
    if (!body) {
        rfk_http_req_fail (req, 503, "UNAVAILABLE", "out of memory");
        return NULL;
    }
    json_object_update (body, req->fields);
    json_object_update (body, req->query);
    json_object_set_new (
        body, "kind",
        json_string (req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL ? "MODEL" : "DATASET"));
    char err[256];
    rfk_msg_t *start =
        rfk_http_front_request_new (req->front, "UploadStart", body, req->token, err, sizeof err);
    json_decref (body);
    if (!start)
        rfk_http_req_fail (req, 400, "BAD_REQUEST", "%s", err);
    return start;
}

/* Begin the handler's upload with the fields known now. */
static void
s_upload_begin (rfk_http_req_t *req)
{
    rfk_msg_t *start = s_upload_start (req);
    if (!start)
        return;
    rfk_msg_t *error = NULL;
    rfk_http_front_t *front = req->front;
    req->upload =
        front->handlers.upload_begin (front->handlers.ctx, req->token, start->body, &error);
    rfk_msg_destroy (&start);
    if (!req->upload) {
        if (!error)
            error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_INTERNAL,
                                       "the upload could not start");
        rfk_http_req_fail_msg (req, &error);
    } else
        rfk_msg_destroy (&error);
}

static bool
s_is_upload_field (rfk_http_req_t *req, const char *key)
{
    for (const char **f = req->upload_fields; f && *f; f++)
        if (strcmp (*f, key) == 0)
            return true;
    //  A dataset may be named by URL instead of sent (never waited for).
    return req->route->kind == RFK_HTTP_ROUTE_UPLOAD_DATASET && strcmp (key, "dataset_url") == 0;
}

/* Every text field the upload can take is known (from the body or the
   query string): the file can go straight to the upload. */
static bool
s_upload_ready (rfk_http_req_t *req)
{
    for (const char **f = req->upload_fields; f && *f; f++)
        if (!json_object_get (req->fields, *f) && !json_object_get (req->query, *f))
            return false;
    return true;
}

/* The current text part is complete: keep its value. */
static void
s_part_end (rfk_http_req_t *req)
{
    if (req->part_key && !req->part_is_file && !req->failed) {
        char err[256];
        if (req->file_field && !s_is_upload_field (req, req->part_key)) {
            if (req->route->kind == RFK_HTTP_ROUTE_UPLOAD_MODEL)
                rfk_http_req_fail (req, 400, "BAD_REQUEST",
                                   "unknown field `%.64s` in %s (it takes name, task, model_class, "
                                   "dependencies, docker_image, access_right and the file "
                                   "`model_file_bytes`)",
                                   req->part_key, req->route->endpoint);
            else
                rfk_http_req_fail (req, 400, "BAD_REQUEST",
                                   "unknown field `%.64s` in %s (it takes name, task and the file "
                                   "`dataset`, or dataset_url in its place)",
                                   req->part_key, req->route->endpoint);
        } else if (rfk_http_route_add_text (req->fields, req->part_key, req->text, req->text_len,
                                            err, sizeof err))
            rfk_http_req_fail (req, 400, "BAD_REQUEST", "%s", err);
    }
    free (req->part_key);
    req->part_key = NULL;
    req->part_is_file = false;
    req->part_bytes = 0;
    req->text_len = 0;
}

/* A new part begins. */
static void
s_part_start (rfk_http_req_t *req, const char *key, const char *filename)
{
    req->parts++;
    req->part_key = strdup (key);
    if (!req->part_key) {
        rfk_http_req_fail (req, 503, "UNAVAILABLE", "out of memory");
        return;
    }
    bool is_file = req->file_field && strcmp (key, req->file_field) == 0;
    if (!is_file && filename) {
        if (req->file_field)
            rfk_http_req_fail (req, 400, "BAD_REQUEST",
                               "unexpected file in field `%.64s`: the file goes in field `%s`", key,
                               req->file_field);
        else
            rfk_http_req_fail (req, 400, "BAD_REQUEST",
                               "unexpected file in field `%.64s`: %s takes none", key,
                               req->route->endpoint);
        return;
    }
    if (!is_file)
        return;
    req->part_is_file = true;
    if (req->file_seen) {
        rfk_http_req_fail (req, 400, "BAD_REQUEST", "field `%s` (the file) is given twice", key);
        return;
    }
    req->file_seen = true;
    bool ready = s_upload_ready (req);
    rfk_http_metrics_add_upload (req->front->metrics, !ready);
    if (ready) {
        s_upload_begin (req);
        return;
    }
    //  Some fields may still come after the file: spool it until they are in.
    char path[PATH_MAX];
    int n = snprintf (path, sizeof path, "%s/upload-XXXXXX", req->front->spool_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        rfk_http_req_fail (req, 503, "UNAVAILABLE", "the spool directory's path is too long");
        return;
    }
    mkdir (req->front->spool_dir, 0700);
    req->spool_fd = mkstemp (path);
    if (req->spool_fd >= 0)
        fcntl (req->spool_fd, F_SETFD, FD_CLOEXEC);
    if (req->spool_fd < 0) {
        rfk_http_req_fail (req, 503, "UNAVAILABLE", "cannot spool the upload under %s: %s",
                           req->front->spool_dir, strerror (errno));
        return;
    }
    unlink (path); //  the descriptor keeps it; nothing is left behind whatever happens
}

static void
s_file_data (rfk_http_req_t *req, const char *data, size_t size)
{
    req->file_bytes += size;
    rfk_http_metrics_add_upload_bytes (req->front->metrics, size);
    if (req->file_bytes > req->front->config.upload_max_bytes) {
        rfk_http_req_fail (req, 413, "TOO_LARGE", "the file is over the upload limit of %llu bytes",
                           (unsigned long long)req->front->config.upload_max_bytes);
        return;
    }
    if (!size)
        return;
    if (req->upload) {
        rfk_msg_t *error = NULL;
        if (req->front->handlers.upload_write (req->upload, data, size, &error)) {
            if (!error)
                error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_INTERNAL,
                                           "the upload failed");
            rfk_http_req_fail_msg (req, &error);
        } else
            rfk_msg_destroy (&error);
        return;
    }
    while (size) {
        ssize_t n = write (req->spool_fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rfk_http_req_fail (req, 503, "UNAVAILABLE", "cannot spool the upload: %s",
                               n < 0 ? strerror (errno) : "short write");
            return;
        }
        data += n;
        size -= (size_t)n;
    }
}

enum MHD_Result
rfk_http_uploads_iterate (void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                          const char *content_type, const char *transfer_encoding, const char *data,
                          uint64_t off, size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    rfk_http_req_t *req = cls;
    if (req->closing || req->failed)
        return MHD_NO;
    if (!key)
        key = "";
    bool new_part =
        !req->part_key || strcmp (key, req->part_key) || (off == 0 && req->part_bytes > 0);
    if (new_part) {
        s_part_end (req);
        if (!req->failed)
            s_part_start (req, key, filename);
    }
    if (req->failed)
        return MHD_NO;
    req->part_bytes += size;
    if (req->part_is_file)
        s_file_data (req, data, size);
    else if (size) {
        req->fields_bytes += size;
        if (req->fields_bytes > req->front->config.request_max_bytes) {
            rfk_http_req_fail (req, 413, "TOO_LARGE", "the form fields are over %llu bytes",
                               (unsigned long long)req->front->config.request_max_bytes);
            return MHD_NO;
        }
        if (req->text_len + size + 1 > req->text_cap) {
            size_t cap = req->text_cap ? req->text_cap : 256;
            while (cap < req->text_len + size + 1)
                cap *= 2;
            char *grown = realloc (req->text, cap);
            if (!grown) {
                rfk_http_req_fail (req, 503, "UNAVAILABLE", "out of memory");
                return MHD_NO;
            }
            req->text = grown;
            req->text_cap = cap;
        }
        memcpy (req->text + req->text_len, data, size);
        req->text_len += size;
    }
    return req->failed ? MHD_NO : MHD_YES;
}

/* Close the form parser: it may still hand over the last part. */
void
rfk_http_uploads_form_end (rfk_http_req_t *req)
{
    if (!req->pp)
        return;
    enum MHD_Result rc = MHD_destroy_post_processor (req->pp);
    req->pp = NULL;
    if (rc != MHD_YES && !req->failed)
        rfk_http_req_fail (req, 400, "BAD_REQUEST", "%s",
                           req->multipart ? "the multipart body ended early (no closing boundary)"
                                          : "the form body is malformed (expected name=value&...)");
    if (req->multipart && req->received && !req->parts && !req->failed)
        rfk_http_req_fail (
            req, 400, "BAD_REQUEST",
            "the multipart body has no part (is its boundary the one in Content-Type?)");
    s_part_end (req);
}

/* Finish the upload: its reply, or NULL when the handler answers later
   (req is then on the waiting list; the caller suspends it). */
static rfk_msg_t *
s_finish_upload (rfk_http_req_t *req)
{
    rfk_http_front_t *front = req->front;
    if (!front->handlers.upload_finish_later)
        return front->handlers.upload_finish (front->handlers.ctx, &req->upload);
    rfk_http_ticket_t ticket = ++front->tickets;
    rfk_msg_t *reply =
        front->handlers.upload_finish_later (front->handlers.ctx, &req->upload, front, ticket);
    req->upload = NULL;
    if (reply)
        return reply;
    if (zlist_append (front->waiting, req) != 0)
        return rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_UNAVAILABLE, "out of memory");
    req->ticket = ticket;
    return NULL;
}

/* The body is complete: answer an upload. */
enum MHD_Result
rfk_http_uploads_complete (rfk_http_req_t *req)
{
    rfk_http_front_t *front = req->front;
    if (req->failed)
        return rfk_http_req_queue_failure (req);
    if (!req->file_seen && json_object_get (req->fields, "dataset_url")) {
        //  Nothing was sent: admin downloads it, and answers later.
        s_upload_begin (req);
        if (req->failed)
            return rfk_http_req_queue_failure (req);
    } else if (!req->file_seen) {
        rfk_http_req_fail (req, 400, "BAD_REQUEST", "field `%s` (the file) is missing%s",
                           req->file_field,
                           req->route->kind == RFK_HTTP_ROUTE_UPLOAD_DATASET
                               ? " (or give dataset_url for admin to download it)"
                               : "");
        return rfk_http_req_queue_failure (req);
    }
    if (req->upload) {
        rfk_msg_t *reply = s_finish_upload (req);
        if (!reply) {
            rfk_http_daemon_suspend (req->front->daemon,
                                     req->conn); //  until rfk_http_front_finished
            return MHD_YES;
        }
        return rfk_http_req_queue_reply (req, &reply);
    }
    //  Spooled: start the upload now that every field is known, then copy
    //  the spool into it between polls, the connection suspended.
    s_upload_begin (req);
    if (req->failed)
        return rfk_http_req_queue_failure (req);
    req->copy_buffer = malloc (RFK_HTTP_COPY_BUFFER);
    if (!req->copy_buffer || zlist_append (front->copying, req)) {
        rfk_http_req_fail (req, 503, "UNAVAILABLE", "out of memory");
        return rfk_http_req_queue_failure (req);
    }
    rfk_http_daemon_suspend (req->front->daemon, req->conn);
    return MHD_YES;
}

/* Copy up to RFK_HTTP_COPY_SLICE bytes of a spool into its upload (req was taken
   off the copying list); at the end, or on error, finish and resume the
   connection, whose next call answers, else put req back on the list. */
void
rfk_http_uploads_copy_slice (rfk_http_req_t *req)
{
    rfk_http_front_t *front = req->front;
    uint64_t budget = RFK_HTTP_COPY_SLICE;
    while (!req->copy_done && budget) {
        ssize_t n =
            pread (req->spool_fd, req->copy_buffer, RFK_HTTP_COPY_BUFFER, (off_t)req->copied);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rfk_http_req_fail (req, 503, "UNAVAILABLE", "cannot read the spooled upload: %s",
                               strerror (errno));
            req->copy_done = true;
        } else if (n == 0) {
            close (req->spool_fd);
            req->spool_fd = -1;
            req->reply = s_finish_upload (req); //  NULL: stays suspended, waiting
            req->copy_done = true;
        } else {
            rfk_msg_t *error = NULL;
            if (front->handlers.upload_write (req->upload, req->copy_buffer, (size_t)n, &error)) {
                if (!error)
                    error = rfk_msg_new_error (&rfk_admin_family, 0, RFK_CODE_INTERNAL,
                                               "the upload failed");
                rfk_http_req_fail_msg (req, &error);
                req->copy_done = true;
            }
            rfk_msg_destroy (&error);
            req->copied += (uint64_t)n;
            budget = (uint64_t)n >= budget ? 0 : budget - (uint64_t)n;
        }
    }
    if (req->copy_done) {
        if (!req->ticket)
            rfk_http_daemon_resume (req->front->daemon, req->conn);
    } else
        zlist_append (front->copying, req);
}

void
rfk_http_uploads_watch_waiting (rfk_http_front_t *front)
{
    if (!front->handlers.upload_cancel)
        return;
    for (rfk_http_req_t *req = zlist_first (front->waiting); req;
         req = zlist_next (front->waiting)) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (req->cancel_sent || !info)
            continue;
        struct pollfd item = {info->connect_fd, POLLRDHUP, 0};
        if (poll (&item, 1, 0) == 1 && (item.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            req->cancel_sent = true;
            rfk_log_info ("http", "client-gone endpoint=%s: its deferred work is cancelled",
                          req->route ? req->route->endpoint : "?");
            front->handlers.upload_cancel (front->handlers.ctx, req->ticket);
        }
    }
}
