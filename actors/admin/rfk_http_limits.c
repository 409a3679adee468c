/*  rfk_http_limits.c: the HTTP front's per-user and per-client limits
    (issue 14): a user's requests in progress (admin.user_max_requests),
    known from the token at the headers, and the client's address for
    admin's per-address limits. The per-address connection cap and the
    slow-client timeout are http/rfk_http_daemon's.
*/
#define _GNU_SOURCE
#include "rfk_http_front_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The client's IP address as text, or "" when unknown. */
void
rfk_http_limits_address (rfk_http_req_t *req, char *out, size_t size)
{
    out[0] = 0;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *address = info ? info->client_addr : NULL;
    if (address && address->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *)address)->sin_addr, out, (socklen_t)size);
    else if (address && address->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *)address)->sin6_addr, out,
                   (socklen_t)size);
}

/* A request that may be held open (a body to come, an upload) counts
   against its user's admin.user_max_requests, the user known from its
   token (a GetMe request). true when it may go on (no token: it is
   refused later), else the 429 (or the token's 401) is queued in *rc. */
bool
rfk_http_limits_hold (rfk_http_req_t *req, enum MHD_Result *rc)
{
    rfk_http_front_t *front = req->front;
    if (!front->config.user_max_requests || !req->token || !front->held)
        return true;
    rfk_msg_t *me = rfk_msg_new (&rfk_admin_family, "GetMe", ++front->correlation);
    if (!me) {
        *rc = MHD_NO;
        return false;
    }
    rfk_msg_set_token (me, req->token);
    rfk_msg_t *reply = front->handlers.handle (front->handlers.ctx, me);
    rfk_msg_destroy (&me);
    const char *id = reply && rfk_msg_is (reply, "User")
                         ? json_string_value (json_object_get (reply->body, "id"))
                         : NULL;
    if (!id) {
        *rc = rfk_http_req_queue_reply (req, &reply);
        return false;
    }
    size_t held = (size_t)(uintptr_t)zhashx_lookup (front->held, id);
    if (held >= front->config.user_max_requests) {
        char message[256];
        snprintf (message, sizeof message,
                  "you have %zu requests in progress, the most one user may have "
                  "(admin.user_max_requests); wait for one to end",
                  held);
        rfk_msg_destroy (&reply);
        req->retry_after_s = 1;
        *rc = rfk_http_req_queue_error (req, 429, "RATE_LIMITED", message);
        return false;
    }
    req->held_user = strdup (id);
    rfk_msg_destroy (&reply);
    if (!req->held_user) {
        *rc = MHD_NO;
        return false;
    }
    zhashx_update (front->held, req->held_user, (void *)(uintptr_t)(held + 1));
    return true;
}

/* Give back the request's place among its user's (rfk_http_limits_hold). */
void
rfk_http_limits_release (rfk_http_req_t *req)
{
    rfk_http_front_t *front = req->front;
    if (!req->held_user || !front->held)
        return;
    size_t held = (size_t)(uintptr_t)zhashx_lookup (front->held, req->held_user);
    if (held > 1)
        zhashx_update (front->held, req->held_user, (void *)(uintptr_t)(held - 1));
    else
        zhashx_delete (front->held, req->held_user);
    zstr_free (&req->held_user);
}

/* True when the request has a body to come (a length or chunks). */
bool
rfk_http_limits_has_body (rfk_http_req_t *req)
{
    const char *length =
        MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (length && strtoull (length, NULL, 10) > 0) ||
           MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_TRANSFER_ENCODING);
}
