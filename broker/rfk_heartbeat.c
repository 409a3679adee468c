/*  rfk_heartbeat.c: a table of peers ordered by when they were last heard.
 */
#include "rfk_heartbeat.h"

typedef struct {
    char *name;        /* the peer's key, owned */
    void *item;        /* the owner's data, freed with the table's destructor */
    int64_t last_seen; /* zclock_mono () ms of the last message heard */
    void *handle;      /* this peer's node in the table's order list */
} s_peer_t;

struct _rfk_heartbeat_t {
    zhashx_t *peers;                   /* name -> s_peer_t, owned */
    zlistx_t *order;                   /* s_peer_t, oldest first, not owned */
    rfk_heartbeat_free_fn *destructor; /* frees items, or NULL */
    int interval_ms;                   /* ping period */
    int timeout_ms;                    /* silence after which a peer expires */
    int64_t next_ping;                 /* when the next ping is due */
};

static void
s_peer_free (rfk_heartbeat_t *self, s_peer_t **peer_p)
{
    s_peer_t *peer = *peer_p;
    if (!peer)
        return;
    if (peer->item && self->destructor)
        self->destructor (&peer->item);
    free (peer->name);
    free (peer);
    *peer_p = NULL;
}

rfk_heartbeat_t *
rfk_heartbeat_new (int interval_ms, int timeout_ms)
{
    if (interval_ms <= 0 || timeout_ms <= 0)
        return NULL;
    rfk_heartbeat_t *self = (rfk_heartbeat_t *)zmalloc (sizeof (rfk_heartbeat_t));
    if (!self)
        return NULL;
    self->peers = zhashx_new ();
    self->order = zlistx_new ();
    if (!self->peers || !self->order) {
        zhashx_destroy (&self->peers);
        zlistx_destroy (&self->order);
        free (self);
        return NULL;
    }
    self->interval_ms = interval_ms;
    self->timeout_ms = timeout_ms;
    self->next_ping = zclock_mono () + interval_ms;
    return self;
}

void
rfk_heartbeat_destroy (rfk_heartbeat_t **self_p)
{
    assert (self_p);
    rfk_heartbeat_t *self = *self_p;
    if (!self)
        return;
    s_peer_t *peer = (s_peer_t *)zlistx_first (self->order);
    while (peer) {
        s_peer_free (self, &peer);
        peer = (s_peer_t *)zlistx_next (self->order);
    }
    zlistx_destroy (&self->order);
    zhashx_destroy (&self->peers);
    free (self);
    *self_p = NULL;
}

void
rfk_heartbeat_set_destructor (rfk_heartbeat_t *self, rfk_heartbeat_free_fn *destructor)
{
    assert (self);
    self->destructor = destructor;
}

int
rfk_heartbeat_seen (rfk_heartbeat_t *self, const char *name)
{
    assert (self);
    assert (name);
    s_peer_t *peer = (s_peer_t *)zhashx_lookup (self->peers, name);
    if (peer) {
        peer->last_seen = zclock_mono ();
        zlistx_move_end (self->order, peer->handle);
        return 0;
    }
    peer = (s_peer_t *)zmalloc (sizeof (s_peer_t));
    if (!peer)
        return -1;
    peer->name = strdup (name);
    peer->last_seen = zclock_mono ();
    peer->handle = peer->name ? zlistx_add_end (self->order, peer) : NULL;
    if (!peer->handle || zhashx_insert (self->peers, name, peer) != 0) {
        if (peer->handle)
            zlistx_delete (self->order, peer->handle);
        free (peer->name);
        free (peer);
        return -1;
    }
    return 1;
}

bool
rfk_heartbeat_known (rfk_heartbeat_t *self, const char *name)
{
    assert (self);
    return name && zhashx_lookup (self->peers, name) != NULL;
}

void *
rfk_heartbeat_item (rfk_heartbeat_t *self, const char *name)
{
    assert (self);
    s_peer_t *peer = name ? (s_peer_t *)zhashx_lookup (self->peers, name) : NULL;
    return peer ? peer->item : NULL;
}

int
rfk_heartbeat_set_item (rfk_heartbeat_t *self, const char *name, void *item)
{
    assert (self);
    s_peer_t *peer = name ? (s_peer_t *)zhashx_lookup (self->peers, name) : NULL;
    if (!peer)
        return -1;
    if (peer->item && peer->item != item && self->destructor)
        self->destructor (&peer->item);
    peer->item = item;
    return 0;
}

/*  Removes a peer from both the hash and the order list and frees it. */
static void
s_remove (rfk_heartbeat_t *self, s_peer_t *peer)
{
    zlistx_delete (self->order, peer->handle);
    zhashx_delete (self->peers, peer->name);
    s_peer_free (self, &peer);
}

int
rfk_heartbeat_forget (rfk_heartbeat_t *self, const char *name)
{
    assert (self);
    s_peer_t *peer = name ? (s_peer_t *)zhashx_lookup (self->peers, name) : NULL;
    if (!peer)
        return -1;
    s_remove (self, peer);
    return 0;
}

size_t
rfk_heartbeat_size (rfk_heartbeat_t *self)
{
    assert (self);
    return zhashx_size (self->peers);
}

int64_t
rfk_heartbeat_silence (rfk_heartbeat_t *self, const char *name)
{
    assert (self);
    s_peer_t *peer = name ? (s_peer_t *)zhashx_lookup (self->peers, name) : NULL;
    return peer ? zclock_mono () - peer->last_seen : -1;
}

int64_t
rfk_heartbeat_deadline (rfk_heartbeat_t *self)
{
    assert (self);
    s_peer_t *oldest = (s_peer_t *)zlistx_head (self->order);
    return oldest ? oldest->last_seen + self->timeout_ms : -1;
}

int
rfk_heartbeat_expire (rfk_heartbeat_t *self, rfk_heartbeat_expired_fn *fn, void *arg)
{
    assert (self);
    int expired = 0;
    int64_t now = zclock_mono ();
    s_peer_t *oldest;
    while ((oldest = (s_peer_t *)zlistx_head (self->order)) &&
           now - oldest->last_seen >= self->timeout_ms) {
        /*  Unlink first so the callback sees the peer as gone and may even
            add it back. */
        zlistx_delete (self->order, oldest->handle);
        zhashx_delete (self->peers, oldest->name);
        if (fn)
            fn (self, oldest->name, oldest->item, arg);
        s_peer_free (self, &oldest);
        expired++;
    }
    return expired;
}

int64_t
rfk_heartbeat_ping_deadline (rfk_heartbeat_t *self)
{
    assert (self);
    return self->next_ping;
}

bool
rfk_heartbeat_ping_due (rfk_heartbeat_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    if (now < self->next_ping)
        return false;
    self->next_ping = now + self->interval_ms;
    return true;
}

int
rfk_heartbeat_interval (rfk_heartbeat_t *self)
{
    assert (self);
    return self->interval_ms;
}

int
rfk_heartbeat_timeout (rfk_heartbeat_t *self)
{
    assert (self);
    return self->timeout_ms;
}
