/*  rfk_test_real_admin (test/lib): admin itself (rfk_admin_actor_with) in
    the test's process, on a fresh data dir with every port 0, for the
    tests of its fronts (test_abuse, test_events_admin).

    The configuration starts as: data_dir the new folder, every admin port
    0, log_stderr false, log_level warning, bus.curve false (plain clients;
    CURVE has tests of its own) and the superadmin's password; the test's
    rows are set after these, so any of them may be replaced. The endpoints
    admin bound are read back from its pipe (ENDPOINTS).
*/
#ifndef RFK_TEST_REAL_ADMIN_H_INCLUDED
#define RFK_TEST_REAL_ADMIN_H_INCLUDED

#include <czmq.h>

#include "rfk_admin.h"
#include "rfk_config.h"

/* One running admin. */
typedef struct {
    char *dir;             /* its data dir (rfk_test_tmpdir_new) */
    rfk_config_t *config;  /* its configuration */
    rfk_admin_args_t args; /* what the actor was started with (it keeps a pointer) */
    zactor_t *actor;       /* the actor */
    char *command;         /* the `command` endpoint, as bound */
    char *service;         /* the `service` endpoint */
    char *events;          /* the `events` endpoint */
    int http_port;         /* the HTTP front's port */
    char base[64];         /* http://127.0.0.1:PORT */
} rfk_test_real_admin_t;

/* Starts admin (name names the folder, /tmp/rfk-<name>-XXXXXX) with the
   superadmin's password, then the rows {section, key, value} (section NULL
   or "" for the top level; the list ends with a NULL key; NULL for none).
   args gives dev, embedded, rafikid_path and check_path (NULL: all unset);
   its config is the helper's. 0, or -1 with why in err (a setting refused,
   or admin's FAILED reason); self is then stopped. */
int
rfk_test_real_admin_start (rfk_test_real_admin_t *self, const char *name, const char *password,
                           const char *const (*settings)[3], const rfk_admin_args_t *args,
                           char *err, size_t errlen);
/* Stops admin ($TERM) and removes its folder. Safe twice, and on a zeroed
   self. */
void
rfk_test_real_admin_stop (rfk_test_real_admin_t *self);

#endif
