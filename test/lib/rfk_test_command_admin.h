/*  rfk_test_command_admin (test/lib): a small stand-in for admin's
    `command` side (the admin family), for the CLI and SDK tests. The fake
    of its `service` side, for services, is rfk_test_admin.h.

    An actor running an rfk_server (admin family) on a free tcp port, an XPUB
    for events on another, and a predictor `query` ROUTER (infer family) on a
    third. It keeps users, datasets, models, jobs and trials in memory and
    answers every request of admin.proto the way API.md says (roles, owners,
    versions, NOT_FOUND / CONFLICT / FORBIDDEN / UNAUTHORIZED with messages),
    streams uploads to files under a folder, publishes JobStatus events and
    echoes predictions (each prediction is its query). It is not admin: it
    exists so the CLI can be tested end to end before the real one is there.

    The superadmin is superadmin@rafiki with password "rafiki-test".
    Uploads come in chunks of at most RFK_TEST_COMMAND_ADMIN_CHUNK bytes; a model upload
    must start with the ELF magic. Each train job gets one COMPLETED trial.

    Pipe: after start "OK" <command port> <events port> <predictor port>;
    "WAIT-SUB" <n> <timeout ms> -> "OK" once n subscriptions reached the XPUB,
    "TIMEOUT" otherwise; "UPLOADS" -> the largest chunk received (decimal);
    "$TERM".
*/
#ifndef RFK_TEST_COMMAND_ADMIN_H_INCLUDED
#define RFK_TEST_COMMAND_ADMIN_H_INCLUDED

#include "rfk_broker.h"

#define RFK_TEST_COMMAND_ADMIN_PASSWORD "rafiki-test"
#define RFK_TEST_COMMAND_ADMIN_CHUNK 4096

typedef struct {
    int command_port;
    int events_port;
    int predictor_port;
} rfk_test_command_admin_ports_t;

/* Starts the fake admin storing uploads under dir; NULL if it did not
   start. */
zactor_t *
rfk_test_command_admin_new (const char *dir, rfk_test_command_admin_ports_t *ports);
/* Waits until n subscriptions reached the events socket: 0, or -1 on
   timeout. */
int
rfk_test_command_admin_wait_subscriptions (zactor_t *admin, int n, int timeout_ms);
/* The largest upload chunk received so far. */
long
rfk_test_command_admin_largest_chunk (zactor_t *admin);

#endif
