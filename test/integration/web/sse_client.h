/*  sse_client.h: a small server-sent events client for the GET /events
    tests, on a raw socket so a test can also be a client that never reads.

    It sends one GET, reads the status line and headers, undoes chunked
    transfer encoding, and hands back the stream's messages one at a time
    (the text between blank lines: "event: X\ndata: {...}" or a comment
    ": keepalive"). Every wait has a deadline; nothing sleeps.

        sse_t *sse = sse_open (port, "/events?token=T", NULL, 0);
        assert_int_equal (sse_status (sse, 5000), 200);
        char *message = sse_next (sse, 5000);   // NULL: deadline or end
        char *data = sse_field (message, "data");
        ...
        sse_close (&sse);
*/
#ifndef SSE_CLIENT_H_INCLUDED
#define SSE_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct sse sse_t;

/* Connect to 127.0.0.1:port and send GET path (with an Authorization
   header when authorization is not NULL). rcvbuf > 0 shrinks the socket's
   receive buffer first (a slow client). NULL when the connection failed. */
sse_t *
sse_open (int port, const char *path, const char *authorization, int rcvbuf);

/* Close and free. */
void
sse_close (sse_t **self_p);

/* The response's status, reading the headers if needed; -1 when they did
   not come within timeout_ms. */
int
sse_status (sse_t *self, int timeout_ms);

/* The value of a response header (case-insensitive name), or NULL. */
const char *
sse_header (sse_t *self, const char *name);

/* The next message of the stream (freed by the caller), or NULL when none
   came within timeout_ms or the stream ended (see sse_ended). */
char *
sse_next (sse_t *self, int timeout_ms);

/* The next message that is an event (one with data; comments and retry
   times skipped), or NULL. */
char *
sse_next_event (sse_t *self, int timeout_ms);

/* True once the server ended the stream (last chunk or connection closed). */
bool
sse_ended (sse_t *self);

/* The decoded body so far (for responses that are not streams). */
const char *
sse_body (sse_t *self);

/* Read until the stream ends or timeout_ms pass; true when it ended. */
bool
sse_wait_end (sse_t *self, int timeout_ms);

/* The value of field ("event", "data") of a message (freed by the caller;
   several `data:` lines are joined with '\n'), or NULL. */
char *
sse_field (const char *message, const char *field);

#endif
