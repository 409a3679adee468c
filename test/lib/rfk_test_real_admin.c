/*  rfk_test_real_admin.c: admin in the test's process on free ports (see
    rfk_test_real_admin.h).
*/
#include "rfk_test_real_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfk_test.h"

/* The settings every test's admin starts from, then the test's rows. */
static int
s_configure (rfk_test_real_admin_t *self, const char *password, const char *const (*settings)[3],
             char *err, size_t errlen)
{
    const char *defaults[][3] = {
        {NULL, "data_dir", self->dir},
        {NULL, "log_stderr", "false"},
        {NULL, "log_level", "warning"},
        {"admin", "http_port", "0"},
        {"admin", "command_port", "0"},
        {"admin", "service_port", "0"},
        {"admin", "events_port", "0"},
        {"bus", "curve", "false"},
        {"admin", "superadmin_password", password},
    };
    size_t n_defaults = sizeof defaults / sizeof defaults[0];
    for (size_t i = 0; i < n_defaults || (settings && settings[i - n_defaults][1]); i++) {
        const char *const *row = i < n_defaults ? defaults[i] : settings[i - n_defaults];
        if (rfk_config_set (self->config, row[0], row[1], row[2], "test") != 0)
            return snprintf (err, errlen, "config %s.%s: %s", row[0] ? row[0] : "", row[1],
                             rfk_config_error (self->config)),
                   -1;
    }
    return 0;
}

/* Reads [command][service][events][http port], or FAILED <reason>. */
static int
s_endpoints (rfk_test_real_admin_t *self, char *err, size_t errlen)
{
    //  An actor that failed has sent FAILED and returned: nobody takes a command.
    zsock_set_sndtimeo (zactor_sock (self->actor), 2000);
    zsock_set_rcvtimeo (zactor_sock (self->actor), 60000);
    zstr_send (self->actor, "ENDPOINTS");
    zmsg_t *reply = zmsg_recv (self->actor);
    //  FAILED <reason>: the reason stands where the service endpoint would.
    self->command = reply ? zmsg_popstr (reply) : NULL;
    self->service = reply ? zmsg_popstr (reply) : NULL;
    self->events = reply ? zmsg_popstr (reply) : NULL;
    char *port = reply ? zmsg_popstr (reply) : NULL;
    self->http_port = port ? atoi (port) : 0;
    bool started = port && self->command && !streq (self->command, "FAILED");
    zstr_free (&port);
    zmsg_destroy (&reply);
    if (started) {
        snprintf (self->base, sizeof self->base, "http://127.0.0.1:%d", self->http_port);
        zsock_set_sndtimeo (zactor_sock (self->actor), -1);
        zsock_set_rcvtimeo (zactor_sock (self->actor), -1);
        return 0;
    }
    snprintf (err, errlen, "admin did not start: %s", self->service ? self->service : "no answer");
    //  The actor returned: take its last signal; then nobody listens.
    if (self->command && streq (self->command, "FAILED"))
        zsock_wait (zactor_sock (self->actor));
    zsock_set_rcvtimeo (zactor_sock (self->actor), 0);
    zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    return -1;
}

int
rfk_test_real_admin_start (rfk_test_real_admin_t *self, const char *name, const char *password,
                           const char *const (*settings)[3], const rfk_admin_args_t *args,
                           char *err, size_t errlen)
{
    memset (self, 0, sizeof *self);
    self->dir = rfk_test_tmpdir_new (name);
    self->config = rfk_config_new ();
    if (!self->dir || !self->config) {
        snprintf (err, errlen, "no folder or configuration");
        rfk_test_real_admin_stop (self);
        return -1;
    }
    if (s_configure (self, password, settings, err, errlen) != 0) {
        rfk_test_real_admin_stop (self);
        return -1;
    }
    if (args)
        self->args = *args;
    self->args.config = self->config;
    self->actor = zactor_new (rfk_admin_actor_with, &self->args);
    if (!self->actor || s_endpoints (self, err, errlen) != 0) {
        rfk_test_real_admin_stop (self);
        return -1;
    }
    return 0;
}

void
rfk_test_real_admin_stop (rfk_test_real_admin_t *self)
{
    zactor_destroy (&self->actor);
    zstr_free (&self->command);
    zstr_free (&self->service);
    zstr_free (&self->events);
    rfk_config_destroy (&self->config);
    rfk_test_tmpdir_destroy (&self->dir);
}
