/*  rfk_admin_curve.c: admin's CurveZMQ keys and who its sockets admit.

    Admin's keypair is <data_dir>/keys/bus.key (its secret, made once,
    0600, kept: clients pin the public key), with the public key beside it
    in bus.pub for local tools. Admin derives every other key from it
    (keyed BLAKE2b), so a restarted admin knows the keys it issued without
    storing them:
    - a service's own pair, from its id: admin's `service` and `events`
      sockets admit exactly the public keys of the services it tracks, from
      rfk_admin_track until the service is forgotten;
    - a job's group pair, from the sub train job (advisor and trainers) or
      the inference job (predictor and workers): the advisor or predictor
      serves with it and admits only it, so a worker of another job cannot
      connect there.
    The `command` socket admits any client key: clients are authenticated per
    message by their token, CURVE only encrypts (and pins admin's key).

    With bus.curve off nothing here runs, and admin warns at every start.
*/
#include "rfk_admin_internal.h"

#include "rfk_io.h"

#include <fcntl.h>
#include <sodium.h>

/* A derived keypair: BLAKE2b (master, "<kind>:<id>") as its secret key. */
static int
s_derive (const rfk_admin_t *self, const char *kind, const char *id, rfk_curve_pair_t *pair)
{
    char *input = zsys_sprintf ("%s:%s", kind, id ? id : "");
    uint8_t raw[32];
    char z85[RFK_CURVE_KEY_LEN + 1];
    int rc = input &&
                     crypto_generichash (raw, sizeof raw, (const uint8_t *)input, strlen (input),
                                         self->curve.master, sizeof self->curve.master) == 0 &&
                     zmq_z85_encode (z85, raw, sizeof raw) &&
                     rfk_curve_pair_from_secret (pair, z85) == 0
                 ? 0
                 : -1;
    sodium_memzero (raw, sizeof raw);
    sodium_memzero (z85, sizeof z85);
    zstr_free (&input);
    return rc;
}

/* Writes bus.pub for local tools (the SDK reads it when nothing is pinned). */
static void
s_write_public (rfk_admin_t *self)
{
    char *path = zsys_sprintf ("%s/keys", self->data_dir);
    int dir_fd = path ? open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    char line[RFK_CURVE_KEY_LEN + 2];
    snprintf (line, sizeof line, "%s\n", self->curve.pair.public_key);
    if (dir_fd < 0 || rfk_io_write_private (dir_fd, "bus.pub", line, strlen (line)) != 0)
        rfk_log_warning (RFK_ADMIN_LOG, "bus-key-public-unwritten path=%s/bus.pub", path);
    if (dir_fd >= 0)
        close (dir_fd);
    zstr_free (&path);
}

int
rfk_admin_curve_start (rfk_admin_t *self, char *err, size_t errlen)
{
    if (!self->bus.curve) {
        rfk_log_warning (RFK_ADMIN_LOG,
                         "RFK-BUS-PLAINTEXT bus.curve is off: the bus is neither encrypted nor "
                         "authenticated; anyone who reaches its ports can read and speak on it");
        return 0;
    }
    if (!zsys_has_curve ()) {
        snprintf (err, errlen, "bus.curve is on but libzmq has no CURVE (built without libsodium)");
        return -1;
    }
    uint8_t raw[32];
    bool created = false;
    if (rfk_admin_key_load (self->data_dir, "bus.key", raw, sizeof raw, &created, err, errlen) != 0)
        return -1;
    char z85[RFK_CURVE_KEY_LEN + 1];
    zmq_z85_encode (z85, raw, sizeof raw);
    int rc = rfk_curve_pair_from_secret (&self->curve.pair, z85);
    crypto_generichash (self->curve.master, sizeof self->curve.master,
                        (const uint8_t *)"rfk-bus-derive", 14, raw, sizeof raw);
    sodium_memzero (raw, sizeof raw);
    sodium_memzero (z85, sizeof z85);
    self->curve.clients = rfk_zap_new ("admin-command", true);
    self->curve.services = rfk_zap_new ("admin-service", false);
    if (rc != 0 || !self->curve.clients || !self->curve.services) {
        snprintf (err, errlen, "cannot start CURVE on the bus (ZAP handler)");
        return -1;
    }
    s_write_public (self);
    rfk_log_info (RFK_ADMIN_LOG, "bus-key %s public=%s", created ? "created" : "loaded",
                  self->curve.pair.public_key);
    return 0;
}

void
rfk_admin_curve_stop (rfk_admin_t *self)
{
    rfk_zap_destroy (&self->curve.clients);
    rfk_zap_destroy (&self->curve.services);
    sodium_memzero (&self->curve.pair, sizeof self->curve.pair);
    sodium_memzero (self->curve.master, sizeof self->curve.master);
}

void
rfk_admin_curve_opts (const rfk_admin_t *self, rfk_bus_opts_t *opts, bool any_client)
{
    *opts = self->bus;
    if (self->curve.services)
        rfk_bus_opts_curve_server (opts, &self->curve.pair,
                                   any_client ? self->curve.clients : self->curve.services);
    else
        rfk_bus_opts_curve_none (opts);
}

/* The group a service's job keys belong to. */
static const char *
s_group_of (const rfk_admin_service_t *service)
{
    return service->sub_train_job_id ? service->sub_train_job_id : service->inference_job_id;
}

int
rfk_admin_curve_issue (const rfk_admin_t *self, const rfk_admin_service_t *service,
                       const char *secret, char *text, size_t size)
{
    if (!self->curve.services) {
        snprintf (text, size, "%s", secret);
        return strlen (secret) < size ? 0 : -1;
    }
    rfk_curve_keys_t keys;
    memset (&keys, 0, sizeof keys);
    snprintf (keys.admin_public, sizeof keys.admin_public, "%s", self->curve.pair.public_key);
    char list[3 * (RFK_CURVE_KEY_LEN + 1)];
    int rc = s_derive (self, "service", service->id, &keys.own) == 0 &&
                     s_derive (self, "group", s_group_of (service), &keys.group) == 0 &&
                     rfk_curve_keys_format (&keys, list, sizeof list) == 0
                 ? 0
                 : -1;
    int length = rc == 0 ? snprintf (text, size, "%s %s", secret, list) : -1;
    sodium_memzero (&keys, sizeof keys);
    sodium_memzero (list, sizeof list);
    return length > 0 && (size_t)length < size ? 0 : -1;
}

void
rfk_admin_curve_admit (rfk_admin_t *self, const char *service_id, bool admit)
{
    rfk_curve_pair_t pair;
    if (!self->curve.services || s_derive (self, "service", service_id, &pair) != 0)
        return;
    if (admit)
        rfk_zap_allow (self->curve.services, pair.public_key);
    else
        rfk_zap_forget (self->curve.services, pair.public_key);
    sodium_memzero (&pair, sizeof pair);
}

int
rfk_admin_curve_group_public (const rfk_admin_t *self, const char *group_id,
                              char public_key[RFK_CURVE_KEY_LEN + 1])
{
    rfk_curve_pair_t pair;
    if (!self->curve.services || s_derive (self, "group", group_id, &pair) != 0)
        return -1;
    snprintf (public_key, RFK_CURVE_KEY_LEN + 1, "%s", pair.public_key);
    sodium_memzero (&pair, sizeof pair);
    return 0;
}
