/*  rfk_admin_command.c: the ZeroMQ front, ROUTER `command` (admin family).

    Every request of admin.proto goes to rfk_admin_handle, the dispatcher
    both fronts share (rfk_server_set_default); the socket's own table names
    only the streamed uploads: UploadStart -> UploadReady {upload_id,
    max_chunk_size}, each UploadChunk -> UploadProgress, the chunk with
    `last` set -> the Dataset or Model record (for a model when its check in
    a child process ends, rfk_admin_checks.c). Uploads idle for
    S_UPLOAD_IDLE_MS are forgotten (rfk_admin_command_expire).

    A peer's frames are decoded up to admin.untrusted_frame_bytes until one
    of its requests carried a valid token (rfk_server_trust), up to
    bus.max_frame_bytes (upload chunks) after. Login and CreateUser are
    answered once their password was hashed off the loop
    (rfk_admin_handle_async), like a model upload's last chunk.

    Requests may be retried by clients with the same correlation id (see
    broker/README.md): answers are remembered per peer and correlation id
    (the last S_REPLIES_MAX of them), so a retried upload chunk or create is
    answered again, not done twice.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

#define S_REPLIES_MAX 512
#define S_REPLY_CACHE_BYTES (256 * 1024)
#define S_CHUNK_MAX (8u * 1024u * 1024u)
#define S_UPLOAD_IDLE_MS (10 * 60 * 1000)

/* A chunked upload on the ZeroMQ front. */
typedef struct {
    char *id;           /* upload_id */
    rfk_upload_t *up;   /* the upload itself */
    int64_t last_heard; /* zclock_mono () of the last chunk */
} s_zupload_t;

static void
s_zupload_destroy (s_zupload_t **self_p)
{
    s_zupload_t *self = *self_p;
    if (!self)
        return;
    rfk_admin_upload_abort (NULL, &self->up);
    free (self->id);
    free (self);
    *self_p = NULL;
}

/* ---- the reply cache ----------------------------------------------------- */

static char *
s_reply_key (zframe_t *peer, uint64_t correlation)
{
    char *hex = zframe_strhex (peer);
    char *key = hex ? zsys_sprintf ("%s/%llu", hex, (unsigned long long)correlation) : NULL;
    free (hex);
    return key;
}

/* Remember an answer so that a retry of the same request gets it again. */
static void
s_remember (rfk_admin_t *self, zframe_t *peer, const rfk_msg_t *reply)
{
    if (reply->correlation == 0 || (reply->data && zchunk_size (reply->data) > S_REPLY_CACHE_BYTES))
        return;
    char *key = s_reply_key (peer, reply->correlation);
    rfk_msg_t *copy = key ? rfk_msg_dup (reply) : NULL;
    if (!copy) {
        free (key);
        return;
    }
    if (zhashx_lookup (self->replies, key))
        zhashx_update (self->replies, key, copy);
    else {
        zhashx_insert (self->replies, key, copy);
        zlistx_add_end (self->reply_keys, key);
    }
    free (key);
    while (zlistx_size (self->reply_keys) > S_REPLIES_MAX) {
        char *oldest = (char *)zlistx_first (self->reply_keys);
        zhashx_delete (self->replies, oldest);
        zlistx_delete (self->reply_keys, zlistx_cursor (self->reply_keys));
    }
}

/* Send a reply and remember it; a reply that cannot be encoded is answered
   with an Error saying so. */
static int
s_answer (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, rfk_msg_t *reply)
{
    char err[256];
    if (rfk_msg_check (reply, err, sizeof err) != 0) {
        rfk_log_error (RFK_ADMIN_LOG, "RFK-BAD-REPLY type=%s reason=\"%s\"", reply->type, err);
        return rfk_server_send_error (server, peer, reply->correlation, RFK_CODE_INTERNAL,
                                      "admin built a reply it cannot send");
    }
    s_remember (self, peer, reply);
    if (rfk_server_send (server, peer, reply) != 0)
        return rfk_server_send_error (server, peer, reply->correlation, RFK_CODE_UNAVAILABLE,
                                      "the reply could not be sent (too large or queue full)");
    return 0;
}

/* A cached answer to a retried request, sent again: true if there was one. */
static bool
s_answered_before (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg)
{
    if (msg->correlation == 0)
        return false;
    char *key = s_reply_key (peer, msg->correlation);
    rfk_msg_t *cached = key ? (rfk_msg_t *)zhashx_lookup (self->replies, key) : NULL;
    //  A retry of a request whose answer is still coming (a model check):
    //  the answer will go out when it is ready.
    bool later = key && !cached && zhashx_lookup (self->answering, key);
    free (key);
    if (cached)
        rfk_server_send (server, peer, cached);
    return cached != NULL || later;
}

static rfk_msg_t *
s_upload_start (rfk_admin_t *self, zframe_t *peer, const rfk_msg_t *msg)
{
    (void)peer;
    rfk_msg_t *error = NULL;
    rfk_upload_t *up = rfk_admin_upload_begin (self, msg->token, msg->body, &error);
    if (!up) {
        error->correlation = msg->correlation;
        return error;
    }
    s_zupload_t *entry = (s_zupload_t *)calloc (1, sizeof *entry);
    char *id = rfk_admin_uuid ();
    if (!entry || !id) {
        free (entry);
        free (id);
        rfk_admin_upload_abort (self, &up);
        return rfk_admin_error (msg, RFK_CODE_INTERNAL, "out of memory");
    }
    entry->id = id;
    entry->up = up;
    entry->last_heard = zclock_mono ();
    zhashx_insert (self->uploads, id, entry);
    size_t chunk = self->bus.max_frame_bytes > 128 * 1024 ? self->bus.max_frame_bytes - 64 * 1024
                                                          : self->bus.max_frame_bytes / 2;
    if (chunk > S_CHUNK_MAX)
        chunk = S_CHUNK_MAX;
    rfk_msg_t *reply = rfk_admin_reply (msg, "UploadReady");
    json_object_set_new (reply->body, "upload_id", json_string (id));
    json_object_set_new (reply->body, "max_chunk_size", json_integer ((json_int_t)chunk));
    return reply;
}

/* The last chunk of a model upload, answered when its check ends. */
typedef struct {
    rfk_admin_t *self;    /* the admin */
    zframe_t *peer;       /* who sent it */
    uint64_t correlation; /* its correlation id */
    char *key;            /* its key in self->answering */
} s_later_t;

/* A model check ended: answer the last chunk (reply NULL: admin is
   stopping, nobody to answer). */
static void
s_upload_done (void *arg, uint64_t ticket, rfk_msg_t *reply)
{
    (void)ticket;
    s_later_t *later = (s_later_t *)arg;
    rfk_admin_t *self = later->self;
    if (later->key && self->answering)
        zhashx_delete (self->answering, later->key);
    if (reply) {
        reply->correlation = later->correlation;
        s_answer (self, self->command, later->peer, reply);
        rfk_msg_destroy (&reply);
    }
    zframe_destroy (&later->peer);
    free (later->key);
    free (later);
}

static rfk_msg_t *
s_upload_chunk (rfk_admin_t *self, zframe_t *peer, const rfk_msg_t *msg)
{
    rfk_msg_t *error = NULL;
    const char *id = rfk_admin_require (msg, "upload_id", &error);
    if (!id)
        return error;
    s_zupload_t *entry = (s_zupload_t *)zhashx_lookup (self->uploads, id);
    if (!entry)
        return rfk_admin_error (msg, RFK_CODE_NOT_FOUND,
                                "no upload %s in progress (finished, failed or idle too long)", id);
    rfk_auth_claims_t caller;
    if (rfk_admin_authenticate (self, msg, msg->token, &caller, &error) != 0) {
        zhashx_delete (self->uploads, id);
        return error;
    }
    if (!streq (caller.user_id, rfk_admin_upload_user (entry->up)))
        return rfk_admin_error (msg, RFK_CODE_FORBIDDEN, "upload %s is not yours", id);
    entry->last_heard = zclock_mono ();
    if (msg->data && rfk_admin_upload_write (entry->up, zchunk_data (msg->data),
                                             zchunk_size (msg->data), &error) != 0) {
        zhashx_delete (self->uploads, id);
        error->correlation = msg->correlation;
        return error;
    }
    if (!json_is_true (json_object_get (msg->body, "last"))) {
        rfk_msg_t *reply = rfk_admin_reply (msg, "UploadProgress");
        json_object_set_new (reply->body, "upload_id", json_string (id));
        json_object_set_new (reply->body, "received",
                             json_integer ((json_int_t)rfk_admin_upload_received (entry->up)));
        return reply;
    }
    //  The last chunk: a model is checked in a child while admin serves
    //  others; its answer goes out from s_upload_done.
    s_later_t *later = (s_later_t *)calloc (1, sizeof *later);
    if (later) {
        later->self = self;
        later->peer = zframe_dup (peer);
        later->correlation = msg->correlation;
        later->key = s_reply_key (peer, msg->correlation);
    }
    if (!later || !later->peer || !later->key) {
        if (later)
            zframe_destroy (&later->peer);
        free (later ? later->key : NULL);
        free (later);
        zhashx_delete (self->uploads, id);
        return rfk_admin_error (msg, RFK_CODE_INTERNAL, "out of memory");
    }
    rfk_msg_t *reply = rfk_admin_upload_finish_async (self, &entry->up, s_upload_done, later, 0);
    zhashx_delete (self->uploads, id);
    if (!reply) {
        zhashx_update (self->answering, later->key, later);
        return NULL;
    }
    zframe_destroy (&later->peer);
    free (later->key);
    free (later);
    reply->correlation = msg->correlation;
    return reply;
}

/* A request on `command`: answered again when it is a retry, else handed
   to rfk_admin_handle, the dispatcher both fronts share. */
/* What answers one kind of request on `command` (NULL: answered later). */
typedef rfk_msg_t *(s_command_fn)(rfk_admin_t *self, zframe_t *peer, const rfk_msg_t *msg);

/* Answer a request on `command` again when it is a retry, else with fn. */
static int
s_serve (rfk_admin_t *self, rfk_server_t *server, zframe_t *peer, const rfk_msg_t *msg,
         s_command_fn *fn)
{
    if (s_answered_before (self, server, peer, msg))
        return 0;
    //  A peer whose token was checked once may send frames up to
    //  bus.max_frame_bytes (upload chunks); before, admin.untrusted_frame_bytes.
    rfk_auth_claims_t claims;
    rfk_msg_t *refused = NULL;
    if (msg->token && !rfk_server_peer_trusted (server, peer) &&
        rfk_admin_authenticate (self, msg, msg->token, &claims, &refused) == 0)
        rfk_server_trust (server, peer);
    rfk_msg_destroy (&refused);
    rfk_msg_t *reply = fn (self, peer, msg);
    if (!reply)
        return 0; //  answered when the model check ends
    int rc = s_answer (self, server, peer, reply);
    rfk_msg_destroy (&reply);
    return rc;
}

/* Any request but the uploads: rfk_admin_handle_async, the dispatcher
   both fronts share; a Login or CreateUser is answered by s_upload_done
   once its password was hashed off the loop. */
static rfk_msg_t *
s_handle (rfk_admin_t *self, zframe_t *peer, const rfk_msg_t *msg)
{
    s_later_t *later = (s_later_t *)calloc (1, sizeof *later);
    if (later) {
        later->self = self;
        later->peer = zframe_dup (peer);
        later->correlation = msg->correlation;
        later->key = s_reply_key (peer, msg->correlation);
    }
    if (!later || !later->peer || !later->key) {
        if (later)
            s_upload_done (later, 0, NULL);
        return rfk_admin_error (msg, RFK_CODE_INTERNAL, "out of memory");
    }
    rfk_msg_t *reply = rfk_admin_handle_async (
        self, msg, rfk_server_peer_address (self->command, peer), s_upload_done, later, 0);
    if (reply) {
        s_upload_done (later, 0, NULL);
        return reply;
    }
    zhashx_update (self->answering, later->key, later);
    return NULL;
}

static int
s_on_request (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    return s_serve ((rfk_admin_t *)ctx, server, peer, *msg_p, s_handle);
}

static int
s_on_upload_start (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    return s_serve ((rfk_admin_t *)ctx, server, peer, *msg_p, s_upload_start);
}

static int
s_on_upload_chunk (rfk_server_t *server, zframe_t *peer, rfk_msg_t **msg_p, void *ctx)
{
    return s_serve ((rfk_admin_t *)ctx, server, peer, *msg_p, s_upload_chunk);
}

/* `command` takes the streamed uploads here; every other request goes to
   s_on_request (rfk_server_set_default). */
static const rfk_server_route_t s_command_routes[] = {
    {"UploadStart", s_on_upload_start},
    {"UploadChunk", s_on_upload_chunk},
    {NULL, NULL},
};

void
rfk_admin_command_expire (rfk_admin_t *self)
{
    int64_t now = zclock_mono ();
    zlistx_t *idle = zlistx_new ();
    zlistx_set_destructor (idle, (czmq_destructor *)zstr_free);
    for (s_zupload_t *entry = (s_zupload_t *)zhashx_first (self->uploads); entry;
         entry = (s_zupload_t *)zhashx_next (self->uploads))
        if (now - entry->last_heard > S_UPLOAD_IDLE_MS)
            zlistx_add_end (idle, strdup (entry->id));
    for (char *id = (char *)zlistx_first (idle); id; id = (char *)zlistx_next (idle)) {
        rfk_log_info (RFK_ADMIN_LOG, "upload-expired id=%s", id);
        zhashx_delete (self->uploads, id);
    }
    zlistx_destroy (&idle);
}

static void
s_msg_destructor (void **item)
{
    rfk_msg_destroy ((rfk_msg_t **)item);
}

static void
s_zupload_destructor (void **item)
{
    s_zupload_destroy ((s_zupload_t **)item);
}

rfk_server_t *
rfk_admin_command_new (rfk_admin_t *self, const char *endpoint)
{
    self->uploads = zhashx_new ();
    self->replies = zhashx_new ();
    self->answering = zhashx_new ();
    self->reply_keys = zlistx_new ();
    if (!self->uploads || !self->replies || !self->answering || !self->reply_keys)
        return NULL;
    zhashx_set_destructor (self->uploads, s_zupload_destructor);
    zhashx_set_destructor (self->replies, s_msg_destructor);
    zlistx_set_destructor (self->reply_keys, (czmq_destructor *)zstr_free);
    zlistx_set_duplicator (self->reply_keys, (czmq_duplicator *)strdup);
    rfk_bus_opts_t opts;
    rfk_admin_curve_opts (self, &opts, true);
    rfk_server_t *server =
        rfk_server_new (endpoint, &rfk_admin_family, s_command_routes, self, &opts);
    if (server) {
        rfk_server_set_default (server, s_on_request);
        rfk_server_set_untrusted_max (
            server, (size_t)rfk_config_size (self->config, "admin", "untrusted_frame_bytes"));
    }
    return server;
}
