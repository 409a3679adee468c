/*  rfk_admin_handlers.h: the admin handlers both fronts call.

    Admin answers the same commands on two fronts (API.md): `admin` envelopes
    on its ZeroMQ ROUTER `command` socket and JSON over HTTP. Both fronts turn
    a request into an admin-family rfk_msg_t and call rfk_admin_handle; the
    roles, ownership rules, validation and error codes are decided there and
    only there, so the fronts cannot disagree.

    Everything here runs in the admin actor's thread: the HTTP front
    (actors/admin/rfk_http*.c, libmicrohttpd with MHD_USE_EPOLL, no threads of
    its own) is created by the admin actor, its epoll fd sits in admin's poll
    set and its callbacks call these functions from MHD_run. None of these
    functions may be called from another thread.

    For the HTTP front (branch `http`):
    - Build the request with rfk_msg_new_from_json (&rfk_admin_family, type, 0,
      json, err, sizeof err) from the JSON body / form fields with the query
      string and path parameters merged on top (API.md), set the bearer token
      with rfk_msg_set_token, call rfk_admin_handle, and turn the reply into
      HTTP: an `Error` reply -> rfk_code_http_status (code) with
      {"error": {"code": rfk_code_name (code), "message": ...}}; a `FileData`
      reply -> application/octet-stream with reply->data as the body; any
      other reply -> 200 application/json with reply->body.
    - Multipart uploads (POST /datasets field `dataset`, POST /models field
      `model_file_bytes`): collect the other form fields first (the original's
      clients send them before the file; if the file comes first, buffer
      nothing and answer 400 naming the missing field), then
      rfk_admin_upload_begin with the UploadStart fields as JSON (kind
      "DATASET" or "MODEL", name, task, model_class, dependencies (object or
      JSON text), docker_image, access_right), rfk_admin_upload_write per
      chunk as it arrives, rfk_admin_upload_finish at the end;
      rfk_admin_upload_abort when the connection goes away. Size caps
      (admin.upload_max_bytes) are enforced by upload_write (TOO_LARGE).
    - GET /metrics: write the front's own lines, then call rfk_admin_metrics.
    - GET /healthz: the front answers {"status": "ok"} itself.

    The ZeroMQ front (in rfk_admin.c) does the same with UploadStart /
    UploadChunk envelopes: UploadStart -> UploadReady {upload_id,
    max_chunk_size}; each UploadChunk {upload_id, data} -> UploadProgress
    {upload_id, received}; the chunk with `last` set -> Dataset or Model.
*/
#ifndef RFK_ADMIN_HANDLERS_H_INCLUDED
#define RFK_ADMIN_HANDLERS_H_INCLUDED

#include "rfk_msg.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The admin actor's state (opaque; owned by the actor). */
typedef struct rfk_admin rfk_admin_t;
/* One upload in progress (opaque; owned by whoever began it until finish or
   abort). */
typedef struct rfk_upload rfk_upload_t;

/* Handle one admin request from either front; `request` is an admin-family
   message (type e.g. "CreateTrainJob", body JSON, token). Returns the reply
   message: a record/list type of admin.proto, FileData, or Error (its code
   tells the HTTP status). The reply carries the request's correlation id.
   Never NULL. UploadStart / UploadChunk are refused here (BAD_REQUEST): the
   HTTP front streams through the upload functions below. */
rfk_msg_t *
rfk_admin_handle (rfk_admin_t *self, const rfk_msg_t *request);

/* Begin a streaming upload (datasets, models) for the user of `token`, with
   the UploadStart fields in `fields` (borrowed): kind "DATASET" | "MODEL",
   name, task, and for models model_class, dependencies, docker_image,
   access_right; `size` when known up front (checked against the cap at once).
   Returns the upload, or NULL with *error set to an Error message (yours). */
rfk_upload_t *
rfk_admin_upload_begin (rfk_admin_t *self, const char *token, json_t *fields, rfk_msg_t **error);

/* Append n bytes to the file of the upload. Returns 0, or -1 with *error set
   to an Error message (yours), e.g. TOO_LARGE past admin.upload_max_bytes;
   after -1 the upload must still be aborted. */
int
rfk_admin_upload_write (rfk_upload_t *up, const void *data, size_t n, rfk_msg_t **error);

/* Hears the reply of an upload finished with rfk_admin_upload_finish_async
   (yours), from admin's loop; reply is NULL when admin stopped before the
   check ended (free what arg holds, answer nobody). */
typedef void (rfk_admin_upload_done_fn) (void *arg, uint64_t ticket, rfk_msg_t *reply);

/* rfk_admin_handle for the fronts: the same answers, but a request that
   hashes a password (Login, CreateUser: argon2id, ~0.1 s) is handed to
   admin's hashing threads and answered later, through done (arg, ticket,
   reply) from admin's loop (reply NULL: admin stopped; free what arg
   holds). Returns the reply now, or NULL when it comes later; done is never
   called from inside this function. address is the client's IP address
   (NULL or "": unknown), for the per-address limit on failed logins.
   Answers RATE_LIMITED (429, retry_after_s) past
   admin.login_failures_per_minute and UNAVAILABLE (503, retry_after_s)
   when admin.hash_queue logins wait already. */
rfk_msg_t *
rfk_admin_handle_async (rfk_admin_t *self, const rfk_msg_t *request, const char *address,
                        rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket);

/* Finish the upload: check it (a model in a short-lived child process), record
   it and answer the Dataset or Model record, or an Error (the file is then
   removed). Consumes the upload (*up_p becomes NULL). Returns the reply at
   once (datasets, refusals before the check), or NULL while a model is being
   checked: then done (arg, ticket, reply) is called from admin's loop when the
   check ends (at most 15 s later), and admin serves other requests
   meanwhile. done is never called from inside this function. */
rfk_msg_t *
rfk_admin_upload_finish_async (rfk_admin_t *self, rfk_upload_t **up_p,
                               rfk_admin_upload_done_fn *done, void *arg, uint64_t ticket);

/* The same, waiting for the check: blocks the caller (and admin's loop, when
   called from it) until the model check ends. For tools and tests; the
   fronts use rfk_admin_upload_finish_async. Never NULL. */
rfk_msg_t *
rfk_admin_upload_finish (rfk_admin_t *self, rfk_upload_t **up_p);

/* Drop the upload and its partial file. Safe with *up_p NULL. */
void
rfk_admin_upload_abort (rfk_admin_t *self, rfk_upload_t **up_p);

/* The request of ticket (an upload answered later) was dropped: stop the
   download behind it, if its dataset is fetched from dataset_url
   (rfk_admin_fetch.c). */
void
rfk_admin_fetch_cancel (rfk_admin_t *self, uint64_t ticket);

/* Write admin's own Prometheus lines (services by state, jobs by state) to
   `out`, with their # HELP and # TYPE lines. */
void
rfk_admin_metrics (rfk_admin_t *self, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
