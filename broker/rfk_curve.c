/*  rfk_curve.c: CurveZMQ keypairs, the keys a service gets with its secret,
    and the process's one ZAP handler with its per-socket policies.

    The handler is an actor bound at inproc://zeromq.zap.01. It looks a
    request's domain up among the live policies (under a lock: policies are
    made and changed from other actors' threads) and answers 200 or 400;
    an unknown domain is refused (fail closed). Making or ending the first
    or last policy starts or stops the actor under a second lock the
    handler never takes, so an ending never waits on a request in flight.
*/
#define _GNU_SOURCE
#include "rfk_curve.h"

#include <string.h>

#include <pthread.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct _rfk_zap_t {
    char domain[48];                      /* unique in the process, set on server sockets */
    char name[64];                        /* the sockets' name, for the log */
    bool allow_any;                       /* admit every client key */
    zhashx_t *allowed;                    /* Z85 public key -> (void *)1, when not allow_any */
    size_t refused;                       /* handshakes refused */
    char last_key[RFK_CURVE_KEY_LEN + 1]; /* the last key refused and logged */
    int64_t last_logged;                  /* when (a peer retrying is logged every 10 s) */
};

/* The process's handler and the live policies. */
static struct {
    pthread_mutex_t life;  /* making and ending policies (and the actor) */
    pthread_mutex_t table; /* the policies, read by the handler */
    zactor_t *actor;       /* the handler, while a policy lives */
    zhashx_t *domains;     /* domain -> rfk_zap_t, not owned */
    unsigned long next;    /* numbers domains */
} s_zap = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

int
rfk_curve_pair_new (rfk_curve_pair_t *pair)
{
    assert (pair);
    return zmq_curve_keypair (pair->public_key, pair->secret_key) == 0 ? 0 : -1;
}

bool
rfk_curve_key_valid (const char *text)
{
    uint8_t raw[32];
    return text && strlen (text) == RFK_CURVE_KEY_LEN && zmq_z85_decode (raw, text) != NULL;
}

int
rfk_curve_pair_from_secret (rfk_curve_pair_t *pair, const char *secret_z85)
{
    assert (pair);
    if (!rfk_curve_key_valid (secret_z85) || zmq_curve_public (pair->public_key, secret_z85) != 0)
        return -1;
    snprintf (pair->secret_key, sizeof pair->secret_key, "%s", secret_z85);
    return 0;
}

int
rfk_curve_keys_format (const rfk_curve_keys_t *keys, char *text, size_t size)
{
    assert (keys && text);
    int length = snprintf (text, size, "%s %s %s", keys->own.secret_key, keys->group.secret_key,
                           keys->admin_public);
    return length > 0 && (size_t)length < size ? 0 : -1;
}

int
rfk_curve_keys_parse (const char *text, rfk_curve_keys_t *keys)
{
    assert (keys);
    memset (keys, 0, sizeof *keys);
    char own[RFK_CURVE_KEY_LEN + 1], group[RFK_CURVE_KEY_LEN + 1], admin[RFK_CURVE_KEY_LEN + 1];
    int used = 0;
    if (!text || sscanf (text, "%40s %40s %40s%n", own, group, admin, &used) != 3 ||
        text[used] != '\0' || rfk_curve_pair_from_secret (&keys->own, own) != 0 ||
        rfk_curve_pair_from_secret (&keys->group, group) != 0 || !rfk_curve_key_valid (admin)) {
        memset (keys, 0, sizeof *keys);
        return -1;
    }
    snprintf (keys->admin_public, sizeof keys->admin_public, "%s", admin);
    return 0;
}

void
rfk_bus_opts_curve_client (rfk_bus_opts_t *opts, const rfk_curve_pair_t *own,
                           const char *server_public)
{
    assert (opts && server_public);
    rfk_bus_opts_curve_none (opts);
    opts->curve = true;
    snprintf (opts->curve_server, sizeof opts->curve_server, "%s", server_public);
    if (own) {
        snprintf (opts->curve_public, sizeof opts->curve_public, "%s", own->public_key);
        snprintf (opts->curve_secret, sizeof opts->curve_secret, "%s", own->secret_key);
    }
}

void
rfk_bus_opts_curve_server (rfk_bus_opts_t *opts, const rfk_curve_pair_t *pair, rfk_zap_t *zap)
{
    assert (opts && pair && zap);
    rfk_bus_opts_curve_none (opts);
    opts->curve = true;
    snprintf (opts->curve_public, sizeof opts->curve_public, "%s", pair->public_key);
    snprintf (opts->curve_secret, sizeof opts->curve_secret, "%s", pair->secret_key);
    snprintf (opts->zap_domain, sizeof opts->zap_domain, "%s", zap->domain);
}

void
rfk_bus_opts_curve_none (rfk_bus_opts_t *opts)
{
    assert (opts);
    opts->curve = false;
    opts->curve_public[0] = opts->curve_secret[0] = opts->curve_server[0] = '\0';
    opts->zap_domain[0] = '\0';
}

/* The verdict on one handshake: true to admit. Logs a refusal. */
static bool
s_zap_judge (const char *domain, const char *address, const char *mechanism, const char *client_key)
{
    pthread_mutex_lock (&s_zap.table);
    rfk_zap_t *zap = s_zap.domains ? (rfk_zap_t *)zhashx_lookup (s_zap.domains, domain) : NULL;
    bool curve = streq (mechanism, "CURVE");
    bool admit = zap && curve && (zap->allow_any || zhashx_lookup (zap->allowed, client_key));
    char name[64];
    snprintf (name, sizeof name, "%s", zap ? zap->name : domain);
    bool log = !admit;
    if (zap && !admit) {
        zap->refused++;
        //  A refused peer reconnects every 100 ms or so: log it once in a while.
        int64_t now = zclock_mono ();
        log = !streq (zap->last_key, client_key) || now - zap->last_logged >= 10000;
        if (log) {
            snprintf (zap->last_key, sizeof zap->last_key, "%s", client_key);
            zap->last_logged = now;
        }
    }
    pthread_mutex_unlock (&s_zap.table);
    if (log)
        zsys_warning ("RFK-CURVE-REFUSED socket=%s key=%s address=%s mechanism=%s", name,
                      client_key, address, mechanism);
    return admit;
}

/* Answers one ZAP request on rep (ZeroMQ RFC 27). */
static void
s_zap_answer (zsock_t *rep)
{
    zmsg_t *request = zmsg_recv (rep);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *identity = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credential = zmsg_pop (request);
    char key[RFK_CURVE_KEY_LEN + 1] = "-";
    if (credential && zframe_size (credential) == 32)
        zmq_z85_encode (key, zframe_data (credential), 32);
    bool admit = version && streq (version, "1.0") && domain && address && mechanism &&
                 s_zap_judge (domain, address, mechanism, key);
    zsock_send (rep, "ssssss", "1.0", sequence ? sequence : "", admit ? "200" : "400",
                admit ? "OK" : "key not admitted", admit ? key : "", "");
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&identity);
    zframe_destroy (&credential);
    zmsg_destroy (&request);
}

/* The handler actor: owns rep (args), answers until $TERM. */
static void
s_zap_actor (zsock_t *pipe, void *args)
{
    zsock_t *rep = (zsock_t *)args;
    zpoller_t *poller = zpoller_new (pipe, rep, NULL);
    zsock_signal (pipe, 0);
    while (poller) {
        void *which = zpoller_wait (poller, -1);
        if (which == rep)
            s_zap_answer (rep);
        else {
            char *command = which == pipe ? zstr_recv (pipe) : NULL;
            bool stop = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (stop)
                break;
        }
    }
    zpoller_destroy (&poller);
    /*  Unbound now, not when the socket is reaped: the next handler (a
        policy made after the last one ended) binds the same endpoint. */
    zsock_unbind (rep, S_ZAP_ENDPOINT);
    zsock_destroy (&rep);
}

/* Starts the handler when none runs; 0, or -1. Under s_zap.life. */
static int
s_zap_start (void)
{
    if (s_zap.actor)
        return 0;
    zsock_t *rep = zsock_new (ZMQ_REP);
    int rc = rep ? zsock_bind (rep, S_ZAP_ENDPOINT) : -1;
    //  A handler that just ended may still hold the endpoint for a moment.
    for (int tries = 0; rep && rc != 0 && zmq_errno () == EADDRINUSE && tries < 50; tries++) {
        zclock_sleep (10);
        rc = zsock_bind (rep, S_ZAP_ENDPOINT);
    }
    if (rc != 0) {
        zsys_error ("RFK-CURVE: cannot bind the ZAP handler at %s: %s", S_ZAP_ENDPOINT,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&rep);
        return -1;
    }
    zsock_set_linger (rep, 0);
    s_zap.actor = zactor_new (s_zap_actor, rep);
    if (!s_zap.actor) {
        zsock_destroy (&rep);
        return -1;
    }
    return 0;
}

rfk_zap_t *
rfk_zap_new (const char *name, bool allow_any)
{
    rfk_zap_t *self = (rfk_zap_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->name, sizeof self->name, "%s", name ? name : "bus");
    self->allow_any = allow_any;
    self->allowed = zhashx_new ();
    pthread_mutex_lock (&s_zap.life);
    int rc = self->allowed ? s_zap_start () : -1;
    pthread_mutex_lock (&s_zap.table);
    if (rc == 0 && !s_zap.domains)
        s_zap.domains = zhashx_new ();
    snprintf (self->domain, sizeof self->domain, "rfk.%lu", ++s_zap.next);
    if (rc == 0 && (!s_zap.domains || zhashx_insert (s_zap.domains, self->domain, self) != 0))
        rc = -1;
    pthread_mutex_unlock (&s_zap.table);
    pthread_mutex_unlock (&s_zap.life);
    if (rc != 0) {
        zhashx_destroy (&self->allowed);
        free (self);
        return NULL;
    }
    return self;
}

void
rfk_zap_allow (rfk_zap_t *self, const char *public_z85)
{
    assert (self);
    if (!rfk_curve_key_valid (public_z85))
        return;
    pthread_mutex_lock (&s_zap.table);
    zhashx_update (self->allowed, public_z85, (void *)1);
    pthread_mutex_unlock (&s_zap.table);
}

void
rfk_zap_forget (rfk_zap_t *self, const char *public_z85)
{
    assert (self);
    if (!public_z85)
        return;
    pthread_mutex_lock (&s_zap.table);
    zhashx_delete (self->allowed, public_z85);
    pthread_mutex_unlock (&s_zap.table);
}

const char *
rfk_zap_domain (rfk_zap_t *self)
{
    assert (self);
    return self->domain;
}

size_t
rfk_zap_refused (rfk_zap_t *self)
{
    assert (self);
    pthread_mutex_lock (&s_zap.table);
    size_t refused = self->refused;
    pthread_mutex_unlock (&s_zap.table);
    return refused;
}

void
rfk_zap_destroy (rfk_zap_t **self_p)
{
    assert (self_p);
    rfk_zap_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&s_zap.life);
    pthread_mutex_lock (&s_zap.table);
    zhashx_delete (s_zap.domains, self->domain);
    bool last = zhashx_size (s_zap.domains) == 0;
    if (last)
        zhashx_destroy (&s_zap.domains);
    pthread_mutex_unlock (&s_zap.table);
    if (last)
        zactor_destroy (&s_zap.actor);
    pthread_mutex_unlock (&s_zap.life);
    zhashx_destroy (&self->allowed);
    free (self);
    *self_p = NULL;
}

int
rfk_curve_group_server (rfk_bus_opts_t *opts, const char *keys, const char *name, bool any_client,
                        rfk_zap_t **zap_p)
{
    assert (opts && zap_p);
    *zap_p = NULL;
    rfk_bus_opts_curve_none (opts);
    if (!keys)
        return 0;
    rfk_curve_keys_t parsed;
    int rc = rfk_curve_keys_parse (keys, &parsed);
    if (rc == 0)
        *zap_p = rfk_zap_new (name, any_client);
    if (*zap_p) {
        rfk_zap_allow (*zap_p, parsed.group.public_key);
        rfk_bus_opts_curve_server (opts, &parsed.group, *zap_p);
    }
    explicit_bzero (&parsed, sizeof parsed);
    return *zap_p ? 0 : -1;
}

int
rfk_curve_group_client (rfk_bus_opts_t *opts, const char *keys)
{
    assert (opts);
    rfk_bus_opts_curve_none (opts);
    if (!keys)
        return 0;
    rfk_curve_keys_t parsed;
    int rc = rfk_curve_keys_parse (keys, &parsed);
    if (rc == 0)
        rfk_bus_opts_curve_client (opts, &parsed.group, parsed.group.public_key);
    explicit_bzero (&parsed, sizeof parsed);
    return rc;
}
