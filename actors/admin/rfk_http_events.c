/*  rfk_http_events.c: GET /events, the server-sent event streams of admin's
    HTTP front (see rfk_http_front.h and HTTP.md).

    Once the token is checked, the response is a content reader over the
    request's own output buffer. When the buffer is empty the reader
    suspends the connection and returns 0; rfk_http_front_event appends to
    the buffers of the streams allowed to see an event and marks suspended
    ones to wake, and the next rfk_http_front_step resumes them (never from
    inside a libmicrohttpd callback) before running the daemon. A stream
    whose buffer would pass events_buffer_bytes is dropped: its buffer is
    freed, its socket shut down, and the reader ends it if it is called
    again.

    libmicrohttpd does not watch a suspended connection, so a client that
    goes away between events would hold its stream until the next
    keepalive. The descriptor the actor polls is therefore an epoll set of
    the front's own holding libmicrohttpd's epoll descriptor and each
    stream's socket (EPOLLRDHUP only): a stream whose client hung up is
    ended at the next step.
*/
#define _GNU_SOURCE
#include "rfk_http_front_internal.h"
#include "rfk_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define S_EVENTS_BLOCK (16 * 1024) /* the event stream's reader block */

/* What a new event stream says first: how long EventSource waits before it
   reconnects, and a comment so that the headers go out at once. */
static const char s_stream_hello[] = "retry: 3000\n: connected\n\n";
static const char s_stream_keepalive[] = ": keepalive\n\n";

/* Ask admin who holds token (a GetMe request): the User reply, or an Error;
   NULL only when out of memory. */
static rfk_msg_t *
s_who (rfk_http_front_t *front, const char *token)
{
    rfk_msg_t *me = rfk_msg_new (&rfk_admin_family, "GetMe", ++front->correlation);
    if (!me)
        return NULL;
    rfk_msg_set_token (me, token);
    rfk_msg_t *reply = front->handlers.handle (front->handlers.ctx, me);
    rfk_msg_destroy (&me);
    return reply;
}

/* Have the stream's connection resumed at the next step if it waits. */
static void
s_stream_wake (rfk_http_req_t *req)
{
    if (req->suspended && !req->wake) {
        req->wake = true;
        req->front->waking = true;
    }
}

/* Close a stream that fell behind: free its buffer, shut its socket down
   (libmicrohttpd then sees the end even if the client reads nothing), and
   let the reader end it if it is called again. */
static void
s_stream_drop (rfk_http_req_t *req, const char *reason)
{
    if (req->dropped)
        return;
    req->dropped = true;
    req->front->streams_dropped++;
    rfk_log_warning ("http", "event-stream-dropped user=%s reason=\"%s\" unsent=%zu", req->user_id,
                     reason, req->out_len - req->out_off);
    free (req->out);
    req->out = NULL;
    req->out_off = req->out_len = req->out_cap = 0;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        shutdown (info->connect_fd, SHUT_RDWR);
    s_stream_wake (req);
}

/* Append text to a stream's buffer, or drop the stream when it would hold
   more than events_buffer_bytes unsent. */
static void
s_stream_push (rfk_http_req_t *req, const char *text, size_t len)
{
    if (req->dropped || req->ended)
        return;
    size_t pending = req->out_len - req->out_off;
    if (pending + len > req->front->config.events_buffer_bytes) {
        s_stream_drop (req, "the client falls behind");
        return;
    }
    if (req->out_off && req->out_len + len > req->out_cap) {
        memmove (req->out, req->out + req->out_off, pending);
        req->out_off = 0;
        req->out_len = pending;
    }
    if (req->out_len + len > req->out_cap) {
        size_t cap = req->out_cap ? req->out_cap : 4096;
        while (cap < req->out_len + len)
            cap *= 2;
        char *grown = realloc (req->out, cap);
        if (!grown) {
            s_stream_drop (req, "out of memory");
            return;
        }
        req->out = grown;
        req->out_cap = cap;
    }
    memcpy (req->out + req->out_len, text, len);
    req->out_len += len;
    s_stream_wake (req);
}

/* libmicrohttpd asks for the stream's next bytes: what is buffered, else
   suspend the connection until an event (or the keepalive) comes. */
static ssize_t
s_stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    rfk_http_req_t *req = cls;
    if (req->dropped)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t pending = req->out_len - req->out_off;
    if (!pending) {
        if (req->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (req->out_cap > 64 * 1024) {
            //  After a burst: give the memory back.
            free (req->out);
            req->out = NULL;
            req->out_cap = 0;
        }
        req->out_off = req->out_len = 0;
        req->suspended = true;
        rfk_http_daemon_suspend (req->front->daemon, req->conn);
        return 0;
    }
    size_t n = pending < max ? pending : max;
    memcpy (buf, req->out + req->out_off, n);
    req->out_off += n;
    if (req->out_off == req->out_len)
        req->out_off = req->out_len = 0;
    return (ssize_t)n;
}

/* GET /events: check the token (from the query string or the header), then
   answer with the open stream. */
enum MHD_Result
rfk_http_events_open (rfk_http_req_t *req, const char *method)
{
    rfk_http_front_t *front = req->front;
    if (!req->token) {
        const char *token = MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, "token");
        if (token && *token) {
            req->token = strdup (token);
            if (!req->token)
                return MHD_NO;
        }
    }
    rfk_msg_t *reply = s_who (front, req->token);
    if (!reply || !rfk_msg_is (reply, "User"))
        return rfk_http_req_queue_reply (req, &reply);
    const char *id = json_string_value (json_object_get (reply->body, "id"));
    const char *type = json_string_value (json_object_get (reply->body, "user_type"));
    req->sees_all = rfk_events_sees_all (type);
    req->user_id = strdup (id ? id : "");
    rfk_msg_destroy (&reply);
    if (!req->user_id)
        return MHD_NO;
    if (zlist_size (front->streams) >= front->config.events_max_streams)
        return rfk_http_req_queue_error (req, 503, "UNAVAILABLE",
                                         "too many event streams are open; try again later");
    size_t mine = 0;
    for (rfk_http_req_t *other = zlist_first (front->streams); other;
         other = zlist_next (front->streams))
        if (other->user_id && strcmp (other->user_id, req->user_id) == 0)
            mine++;
    if (front->config.events_max_per_user && mine >= front->config.events_max_per_user) {
        char message[256];
        snprintf (message, sizeof message,
                  "you have %zu event streams open, the most one user may hold "
                  "(admin.user_max_event_streams); close one first",
                  mine);
        req->retry_after_s = 5;
        return rfk_http_req_queue_error (req, 429, "RATE_LIMITED", message);
    }
    bool head = strcmp (method, "HEAD") == 0;
    struct MHD_Response *response;
    if (head)
        response = MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else {
        s_stream_push (req, s_stream_hello, sizeof s_stream_hello - 1);
        response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, S_EVENTS_BLOCK,
                                                      s_stream_read, req, NULL);
    }
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header (response, "X-Accel-Buffering", "no");
    if (!head) {
        req->stream = true;
        if (zlist_append (front->streams, req)) {
            MHD_destroy_response (response);
            return MHD_NO;
        }
        if (!front->next_keepalive)
            front->next_keepalive = rfk_http_front_now_ms () + front->config.events_keepalive_ms;
        //  Watch for the client hanging up while the stream is suspended.
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct epoll_event watch = {.events = EPOLLRDHUP, .data.ptr = req};
        if (info && epoll_ctl (front->epoll_fd, EPOLL_CTL_ADD, info->connect_fd, &watch) == 0)
            req->stream_fd = info->connect_fd;
        rfk_log_info ("http", "event-stream-open user=%s all=%s streams=%zu", req->user_id,
                      req->sees_all ? "yes" : "no", zlist_size (front->streams));
    }
    return rfk_http_req_queue (req, 200, response);
}

/* Take a stream's socket out of the front's epoll set. */
void
rfk_http_events_unwatch (rfk_http_req_t *req)
{
    if (req->stream_fd >= 0)
        epoll_ctl (req->front->epoll_fd, EPOLL_CTL_DEL, req->stream_fd, NULL);
    req->stream_fd = -1;
}

/* End the streams whose clients hung up (reported by the front's epoll
   set; libmicrohttpd's own descriptor is there with a NULL pointer). */
static void
s_streams_gone (rfk_http_front_t *self)
{
    struct epoll_event events[64];
    int n;
    do {
        n = epoll_wait (self->epoll_fd, events, 64, 0);
        for (int i = 0; i < n; i++) {
            rfk_http_req_t *req = events[i].data.ptr;
            if (!req)
                continue;
            rfk_http_events_unwatch (req);
            if (!req->dropped) {
                req->dropped = true;
                s_stream_wake (req);
            }
        }
    } while (n == 64);
}

/* Between polls: the keepalive round (re-checking each stream's token; a
   stream whose token is no longer valid ends), then resume the streams
   that have something to send. */
void
rfk_http_events_step (rfk_http_front_t *self)
{
    if (zlist_size (self->streams))
        s_streams_gone (self);
    if (!zlist_size (self->streams))
        self->next_keepalive = 0;
    else if (self->next_keepalive && rfk_http_front_now_ms () >= self->next_keepalive) {
        for (rfk_http_req_t *req = zlist_first (self->streams); req;
             req = zlist_next (self->streams)) {
            if (req->dropped || req->ended)
                continue;
            rfk_msg_t *reply = s_who (self, req->token);
            if (reply && rfk_msg_is (reply, "User"))
                s_stream_push (req, s_stream_keepalive, sizeof s_stream_keepalive - 1);
            else {
                const char *message =
                    reply ? json_string_value (json_object_get (reply->body, "message")) : NULL;
                rfk_log_info ("http", "event-stream-end user=%s reason=\"%s\"", req->user_id,
                              message ? message : "the token was refused");
                req->ended = true;
                s_stream_wake (req);
            }
            rfk_msg_destroy (&reply);
        }
        self->next_keepalive = rfk_http_front_now_ms () + self->config.events_keepalive_ms;
    }
    if (!self->waking)
        return;
    self->waking = false;
    for (rfk_http_req_t *req = zlist_first (self->streams); req; req = zlist_next (self->streams))
        if (req->wake) {
            req->wake = false;
            req->suspended = false;
            rfk_http_daemon_resume (req->front->daemon, req->conn);
        }
}

bool
rfk_events_sees_all (const char *user_type)
{
    return user_type && (strcmp (user_type, "SUPERADMIN") == 0 || strcmp (user_type, "ADMIN") == 0);
}

bool
rfk_events_visible (const char *owner, const char *user_id, bool sees_all)
{
    return sees_all || (owner && user_id && strcmp (owner, user_id) == 0);
}

void
rfk_http_front_event (rfk_http_front_t *self, const char *owner, const char *name, const char *data)
{
    if (!self || !name || !data || !zlist_size (self->streams) || strpbrk (name, "\r\n"))
        return;
    //  "event: NAME\ndata: LINE\n" for each line of data, then a blank line.
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return;
    fprintf (out, "event: %s\n", name);
    const char *line = data;
    do {
        size_t len = strcspn (line, "\r\n");
        fprintf (out, "data: %.*s\n", (int)len, line);
        line += len;
        if (*line == '\r' && line[1] == '\n')
            line++;
        if (*line)
            line++;
    } while (*line);
    fputc ('\n', out);
    if (fclose (out)) {
        free (text);
        return;
    }
    for (rfk_http_req_t *req = zlist_first (self->streams); req; req = zlist_next (self->streams))
        if (rfk_events_visible (owner, req->user_id, req->sees_all))
            s_stream_push (req, text, size);
    free (text);
}

size_t
rfk_http_front_event_streams (rfk_http_front_t *self)
{
    return self ? zlist_size (self->streams) : 0;
}
