/*  sse_client.c: a small server-sent events client for tests (see
    sse_client.h). */
#define _GNU_SOURCE
#include "sse_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sse {
    int fd;              /* the connection */
    char *raw;           /* bytes received and not yet decoded */
    size_t raw_len;      /* bytes in raw */
    char *body;          /* the decoded body, NUL-terminated */
    size_t body_len;     /* bytes in body */
    size_t consumed;     /* body bytes handed out as messages */
    char headers[8192];  /* the status line and headers */
    bool headers_done;   /* they are in */
    int status;          /* the status */
    bool chunked;        /* Transfer-Encoding: chunked */
    long long length;    /* Content-Length, or -1 */
    uint64_t chunk_left; /* bytes left in the current chunk */
    bool chunk_crlf;     /* the CRLF after a chunk is due */
    bool ended;          /* the body is complete or the connection closed */
};

static long long
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The allocation s_append keeps for len bytes and the NUL: a power of two. */
static size_t
s_capacity (size_t len)
{
    size_t cap = 64;
    while (cap < len + 1)
        cap *= 2;
    return cap;
}

/* Append n bytes, growing the buffer by doubling: a stream of small reads
   (a slow client drains MiBs 4 KiB at a time) stays linear, even under
   AddressSanitizer, whose realloc always copies. */
static void
s_append (char **buffer, size_t *len, const char *data, size_t n)
{
    char *grown = *buffer;
    if (!grown || s_capacity (*len + n) > s_capacity (*len)) {
        grown = realloc (*buffer, s_capacity (*len + n));
        if (!grown)
            abort ();
    }
    memcpy (grown + *len, data, n);
    *len += n;
    grown[*len] = 0;
    *buffer = grown;
}

sse_t *
sse_open (int port, const char *path, const char *authorization, int rcvbuf)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (rcvbuf > 0)
        setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *)&address, sizeof address)) {
        close (fd);
        return NULL;
    }
    char request[4096];
    int n = snprintf (request, sizeof request,
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n"
                      "%s%s%s\r\n",
                      path, port, authorization ? "Authorization: " : "",
                      authorization ? authorization : "", authorization ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof request || send (fd, request, (size_t)n, MSG_NOSIGNAL) != n) {
        close (fd);
        return NULL;
    }
    sse_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->fd = fd;
    self->length = -1;
    s_append (&self->body, &self->body_len, "", 0);
    return self;
}

void
sse_close (sse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sse_t *self = *self_p;
    if (self->fd >= 0)
        close (self->fd);
    free (self->raw);
    free (self->body);
    free (self);
    *self_p = NULL;
}

/* Move what raw holds into headers and body. */
static void
s_decode (sse_t *self)
{
    if (!self->headers_done) {
        char *end = self->raw ? memmem (self->raw, self->raw_len, "\r\n\r\n", 4) : NULL;
        if (!end)
            return;
        size_t size = (size_t)(end - self->raw) + 4;
        snprintf (self->headers, sizeof self->headers, "%.*s", (int)size, self->raw);
        self->headers_done = true;
        sscanf (self->headers, "HTTP/1.%*d %d", &self->status);
        const char *encoding = sse_header (self, "Transfer-Encoding");
        self->chunked = encoding && strcasestr (encoding, "chunked");
        const char *length = sse_header (self, "Content-Length");
        if (length)
            self->length = atoll (length);
        memmove (self->raw, self->raw + size, self->raw_len - size);
        self->raw_len -= size;
    }
    size_t at = 0;
    while (at < self->raw_len && !self->ended) {
        if (!self->chunked) {
            s_append (&self->body, &self->body_len, self->raw + at, self->raw_len - at);
            at = self->raw_len;
            if (self->length >= 0 && (long long)self->body_len >= self->length)
                self->ended = true;
        } else if (self->chunk_left) {
            size_t n = self->raw_len - at;
            if (n > self->chunk_left)
                n = (size_t)self->chunk_left;
            s_append (&self->body, &self->body_len, self->raw + at, n);
            at += n;
            self->chunk_left -= n;
            if (!self->chunk_left)
                self->chunk_crlf = true;
        } else if (self->chunk_crlf) {
            if (self->raw_len - at < 2)
                break;
            at += 2;
            self->chunk_crlf = false;
        } else {
            char *eol = memmem (self->raw + at, self->raw_len - at, "\r\n", 2);
            if (!eol)
                break;
            unsigned long long size = strtoull (self->raw + at, NULL, 16);
            at = (size_t)(eol - self->raw) + 2;
            if (size == 0)
                self->ended = true;
            self->chunk_left = size;
        }
    }
    memmove (self->raw, self->raw + at, self->raw_len - at);
    self->raw_len -= at;
    if (self->length == 0 && self->headers_done)
        self->ended = true;
}

/* Read what comes within timeout_ms (at least one read when data is
   there); false when nothing came. */
static bool
s_read (sse_t *self, int timeout_ms)
{
    if (self->fd < 0)
        return false;
    struct pollfd item = {.fd = self->fd, .events = POLLIN};
    if (poll (&item, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
        return false;
    char buffer[65536];
    ssize_t n = recv (self->fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
        close (self->fd);
        self->fd = -1;
        s_decode (self);
        self->ended = true;
        return n == 0;
    }
    s_append (&self->raw, &self->raw_len, buffer, (size_t)n);
    s_decode (self);
    return true;
}

int
sse_status (sse_t *self, int timeout_ms)
{
    long long deadline = s_now_ms () + timeout_ms;
    while (!self->headers_done && self->fd >= 0) {
        long long left = deadline - s_now_ms ();
        if (left <= 0)
            break;
        s_read (self, (int)left);
    }
    return self->headers_done ? self->status : -1;
}

const char *
sse_header (sse_t *self, const char *name)
{
    static char value[1024];
    size_t len = strlen (name);
    for (const char *line = strstr (self->headers, "\r\n"); line && line[2];
         line = strstr (line + 2, "\r\n")) {
        const char *start = line + 2;
        if (strncasecmp (start, name, len) == 0 && start[len] == ':') {
            start += len + 1;
            while (*start == ' ')
                start++;
            size_t n = strcspn (start, "\r\n");
            snprintf (value, sizeof value, "%.*s", (int)n, start);
            return value;
        }
    }
    return NULL;
}

char *
sse_next (sse_t *self, int timeout_ms)
{
    long long deadline = s_now_ms () + timeout_ms;
    while (true) {
        char *start = self->body + self->consumed;
        char *end = strstr (start, "\n\n");
        if (end) {
            char *message = strndup (start, (size_t)(end - start));
            self->consumed = (size_t)(end - self->body) + 2;
            return message;
        }
        long long left = deadline - s_now_ms ();
        if (self->ended || left <= 0)
            return NULL;
        s_read (self, (int)left);
    }
}

char *
sse_next_event (sse_t *self, int timeout_ms)
{
    long long deadline = s_now_ms () + timeout_ms;
    while (true) {
        long long left = deadline - s_now_ms ();
        char *message = sse_next (self, left < 0 ? 0 : (int)left);
        char *data = sse_field (message, "data");
        free (data);
        if (!message || data)
            return message;
        free (message); //  a comment, or only a retry time
    }
}

bool
sse_ended (sse_t *self)
{
    return self->ended;
}

const char *
sse_body (sse_t *self)
{
    return self->body;
}

bool
sse_wait_end (sse_t *self, int timeout_ms)
{
    long long deadline = s_now_ms () + timeout_ms;
    while (!self->ended) {
        long long left = deadline - s_now_ms ();
        if (left <= 0)
            break;
        s_read (self, (int)left);
    }
    return self->ended;
}

char *
sse_field (const char *message, const char *field)
{
    if (!message)
        return NULL;
    char *value = NULL;
    size_t value_len = 0;
    size_t len = strlen (field);
    const char *line = message;
    while (*line) {
        size_t n = strcspn (line, "\n");
        if (n > len && strncmp (line, field, len) == 0 && line[len] == ':') {
            const char *start = line + len + 1;
            if (*start == ' ')
                start++;
            if (value)
                s_append (&value, &value_len, "\n", 1);
            else
                s_append (&value, &value_len, "", 0);
            s_append (&value, &value_len, start, (size_t)(line + n - start));
        }
        line += n;
        if (*line)
            line++;
    }
    return value;
}
