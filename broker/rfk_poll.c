/*  rfk_poll.c: a poll set of sockets and descriptors (see rfk_poll.h). */
#include "rfk_poll.h"

#include <errno.h>

/* One watched socket or descriptor. */
typedef struct {
    void *handle; /* what wait returns for it */
    void *socket; /* the libzmq socket, or NULL for a descriptor */
    int fd;       /* the descriptor, when socket is NULL */
} s_entry_t;

struct _rfk_poll_t {
    s_entry_t *entries;     /* what is watched, in the order it was added */
    zmq_pollitem_t *items;  /* the same as poll items, rebuilt when entries change */
    size_t count, capacity; /* entries used, allocated */
    bool dirty;             /* items must be rebuilt */
    size_t next;            /* where the next look for a ready item starts */
    bool terminated;        /* the last wait saw ETERM */
    size_t polled;          /* items whose revents are the last wait's (0: none) */
};

/* Adds one entry; 0 or -1. */
static int
s_add (rfk_poll_t *self, void *handle, void *socket, int fd)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 4;
        s_entry_t *entries = (s_entry_t *)realloc (self->entries, capacity * sizeof (s_entry_t));
        if (!entries)
            return -1;
        self->entries = entries;
        zmq_pollitem_t *items =
            (zmq_pollitem_t *)realloc (self->items, capacity * sizeof (zmq_pollitem_t));
        if (!items)
            return -1; /* entries grew, capacity did not: the next add tries again */
        self->items = items;
        self->capacity = capacity;
    }
    self->entries[self->count++] = (s_entry_t){handle, socket, fd};
    self->dirty = true;
    return 0;
}

rfk_poll_t *
rfk_poll_new (void *reader, ...)
{
    rfk_poll_t *self = (rfk_poll_t *)calloc (1, sizeof (rfk_poll_t));
    if (!self)
        return NULL;
    va_list args;
    va_start (args, reader);
    for (; reader; reader = va_arg (args, void *))
        if (rfk_poll_add (self, reader) != 0) {
            rfk_poll_destroy (&self);
            break;
        }
    va_end (args);
    return self;
}

void
rfk_poll_destroy (rfk_poll_t **self_p)
{
    assert (self_p);
    rfk_poll_t *self = *self_p;
    if (!self)
        return;
    free (self->entries);
    free (self->items);
    free (self);
    *self_p = NULL;
}

int
rfk_poll_add (rfk_poll_t *self, void *reader)
{
    assert (self);
    void *socket = reader ? zsock_resolve (reader) : NULL;
    return socket ? s_add (self, reader, socket, -1) : -1;
}

int
rfk_poll_add_fd (rfk_poll_t *self, int fd, void *handle)
{
    assert (self);
    return fd >= 0 && handle ? s_add (self, handle, NULL, fd) : -1;
}

int
rfk_poll_remove (rfk_poll_t *self, void *handle)
{
    assert (self);
    for (size_t index = 0; index < self->count; index++)
        if (self->entries[index].handle == handle) {
            memmove (&self->entries[index], &self->entries[index + 1],
                     (self->count - index - 1) * sizeof (s_entry_t));
            self->count--;
            self->dirty = true;
            self->polled = 0; /* the places moved */
            return 0;
        }
    return -1;
}

void *
rfk_poll_wait (rfk_poll_t *self, int timeout_ms)
{
    assert (self);
    if (self->dirty) {
        for (size_t index = 0; index < self->count; index++) {
            const s_entry_t *entry = &self->entries[index];
            self->items[index] =
                (zmq_pollitem_t){entry->socket, entry->fd,
                                 (short)(entry->socket ? ZMQ_POLLIN : ZMQ_POLLIN | ZMQ_POLLERR), 0};
        }
        self->dirty = false;
    }
    self->terminated = false;
    int rc = zmq_poll (self->items, (int)self->count, timeout_ms);
    self->polled = rc > 0 ? self->count : 0;
    if (rc < 0)
        self->terminated = zmq_errno () == ETERM;
    if (rc <= 0)
        return NULL;
    for (size_t turn = 0; turn < self->count; turn++) {
        size_t index = (self->next + turn) % self->count;
        if (self->items[index].revents) {
            self->next = index + 1;
            return self->entries[index].handle;
        }
    }
    return NULL;
}

bool
rfk_poll_ready (rfk_poll_t *self, void *handle)
{
    assert (self);
    /*  An add since the wait appended after the items it polled, which
        keep their places; a remove forgot them all. */
    for (size_t index = 0; index < self->polled; index++)
        if (self->entries[index].handle == handle)
            return self->items[index].revents != 0;
    return false;
}

bool
rfk_poll_terminated (rfk_poll_t *self)
{
    assert (self);
    return self->terminated;
}
