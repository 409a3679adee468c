/*  rfk_http_admin.h: the HTTP front's handler table for the real admin.

    rfk_http_front.h takes its handlers as a table of function pointers with
    a void * context, so it can be tested with a fake; this header binds that
    table to rfk_admin_handlers.h. Model uploads are finished with
    rfk_admin_upload_finish_async: the front suspends the connection until
    the check in its child process ends and admin hands the reply back
    through rfk_http_front_finished. It is header-only (static functions) so
    that the front's library does not depend on the admin library: include
    it in the admin actor, which links both.

        rfk_http_handlers_t handlers = rfk_http_admin_handlers (admin);
        rfk_http_front_t *front = rfk_http_front_new (&config, &handlers, err, sizeof err);
*/
#ifndef RFK_HTTP_ADMIN_H_INCLUDED
#define RFK_HTTP_ADMIN_H_INCLUDED

#include "rfk_admin_handlers.h"
#include "rfk_http_front.h"

static inline rfk_msg_t *
s_rfk_http_admin_handle (void *ctx, const rfk_msg_t *request)
{
    return rfk_admin_handle ((rfk_admin_t *)ctx, request);
}

/* A Login or CreateUser answered later (rfk_admin_handle_async): hand its
   reply to the front (NULL: admin stopped). */
static inline void
s_rfk_http_admin_done (void *arg, uint64_t ticket, rfk_msg_t *reply)
{
    if (reply)
        rfk_http_front_finished ((rfk_http_front_t *)arg, ticket, &reply);
}

static inline rfk_msg_t *
s_rfk_http_admin_handle_later (void *ctx, const rfk_msg_t *request, const char *address,
                               rfk_http_front_t *front, rfk_http_ticket_t ticket)
{
    return rfk_admin_handle_async ((rfk_admin_t *)ctx, request, address, s_rfk_http_admin_done,
                                   front, ticket);
}

static inline void *
s_rfk_http_admin_upload_begin (void *ctx, const char *token, json_t *fields, rfk_msg_t **error)
{
    return rfk_admin_upload_begin ((rfk_admin_t *)ctx, token, fields, error);
}

static inline int
s_rfk_http_admin_upload_write (void *upload, const void *data, size_t n, rfk_msg_t **error)
{
    return rfk_admin_upload_write ((rfk_upload_t *)upload, data, n, error);
}

static inline rfk_msg_t *
s_rfk_http_admin_upload_finish (void *ctx, void **upload_p)
{
    rfk_upload_t *upload = (rfk_upload_t *)*upload_p;
    rfk_msg_t *reply = rfk_admin_upload_finish ((rfk_admin_t *)ctx, &upload);
    *upload_p = upload;
    return reply;
}

/* A model check ended: hand its reply to the front (NULL: admin stopped,
   and the front with it). */
static inline void
s_rfk_http_admin_upload_done (void *arg, uint64_t ticket, rfk_msg_t *reply)
{
    if (reply)
        rfk_http_front_finished ((rfk_http_front_t *)arg, ticket, &reply);
}

static inline rfk_msg_t *
s_rfk_http_admin_upload_finish_later (void *ctx, void **upload_p, rfk_http_front_t *front,
                                      rfk_http_ticket_t ticket)
{
    rfk_upload_t *upload = (rfk_upload_t *)*upload_p;
    rfk_msg_t *reply = rfk_admin_upload_finish_async ((rfk_admin_t *)ctx, &upload,
                                                      s_rfk_http_admin_upload_done, front, ticket);
    *upload_p = upload;
    return reply;
}

static inline void
s_rfk_http_admin_upload_abort (void *ctx, void **upload_p)
{
    rfk_upload_t *upload = (rfk_upload_t *)*upload_p;
    rfk_admin_upload_abort ((rfk_admin_t *)ctx, &upload);
    *upload_p = upload;
}

static inline void
s_rfk_http_admin_upload_cancel (void *ctx, rfk_http_ticket_t ticket)
{
    rfk_admin_fetch_cancel ((rfk_admin_t *)ctx, ticket);
}

static inline void
s_rfk_http_admin_metrics (void *ctx, FILE *out)
{
    rfk_admin_metrics ((rfk_admin_t *)ctx, out);
}

/* The handler table that serves the REST API with admin's handlers. */
static inline rfk_http_handlers_t
rfk_http_admin_handlers (rfk_admin_t *admin)
{
    rfk_http_handlers_t handlers = {.ctx = admin,
                                    .handle = s_rfk_http_admin_handle,
                                    .handle_later = s_rfk_http_admin_handle_later,
                                    .upload_begin = s_rfk_http_admin_upload_begin,
                                    .upload_write = s_rfk_http_admin_upload_write,
                                    .upload_finish = s_rfk_http_admin_upload_finish,
                                    .upload_finish_later = s_rfk_http_admin_upload_finish_later,
                                    .upload_abort = s_rfk_http_admin_upload_abort,
                                    .upload_cancel = s_rfk_http_admin_upload_cancel,
                                    .metrics = s_rfk_http_admin_metrics};
    return handlers;
}

#endif
