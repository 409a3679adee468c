/*  rfk_admin.h: the admin actor, Rafiki-C's centrepiece (DESIGN.md §1, §2, §7).

    One thread, one loop: it binds the ROUTER `command` (SDK and CLI, admin
    family), the ROUTER `service` (workers, service family), the events
    XPUB (through an rfk_proxy, event family) and the HTTP front, opens the
    metadata store, seeds the superadmin, and starts and stops the dynamic
    services through the launcher. Every request of API.md is answered by
    the handlers of rfk_admin_handlers.h, whichever front it came in on.

    Pipe protocol (rfk_role.h): the actor signals once setup is done; when
    setup failed it then sends "FAILED" <reason> and returns. It stops on
    "$TERM" (stopping every service it started first). Extra commands:
    - "ENDPOINTS" -> [command][service][events][http port]: the endpoints
      bound, with ports resolved ("tcp://127.0.0.1:3001"), and the HTTP port
      as a decimal string ("0" without an HTTP front).
*/
#ifndef RFK_ADMIN_H_INCLUDED
#define RFK_ADMIN_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "rfk_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How to run admin when it is not started by rafikid's role table (tests). */
typedef struct {
    const rfk_config_t *config; /* effective configuration (borrowed) */
    bool dev;                   /* --dev: default superadmin password allowed, loudly */
    bool embedded;              /* `rafikid up`: SQLite under data_dir, local launcher */
    const char *rafikid_path;   /* what services run; NULL: this executable */
    const char *check_path;     /* the rafikid that runs `check-template`; NULL: rafikid_path */
} rfk_admin_args_t;

/* The `admin` and `up` roles of rafikid: args is an rfk_role_args_t
   (role "admin" or "up"). */
void
rfk_admin_actor (zsock_t *pipe, void *args);

/* The same actor with explicit arguments: args is an rfk_admin_args_t. */
void
rfk_admin_actor_with (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
