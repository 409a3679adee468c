/*  rfk_role: what rafikid hands the actor of a role, and what it expects
    back on the actor's pipe.

    `rafikid <role>` looks the role up in its table (actors/daemon/rafikid.c,
    one line per role), starts the role's actor with zactor_new (actor,
    &args) where args is an rfk_role_args_t, and waits for a signal or for
    the actor to end.

    The actor, on its pipe:
    - calls zsock_signal (pipe, 0) once, as every czmq actor must (zactor_new
      waits for it);
    - stops and returns when it receives "$TERM" (rafikid sends it on SIGTERM
      or SIGINT through zactor_destroy, then exits 0);
    - may send "FAILED" <reason> and return when it cannot go on (a failed
      bind, a lost store...): rafikid logs the reason and exits 1;
    - may send "DONE" and return when its work is finished: rafikid exits 0.
    An actor that returns without either makes rafikid exit 1. Once it has
    signalled, the actor sends nothing else up the pipe.
*/
#ifndef RFK_ROLE_H_INCLUDED
#define RFK_ROLE_H_INCLUDED

#include "rfk_config.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Arguments of a role's actor; all borrowed, valid until the actor returns.
typedef struct {
    const rfk_config_t *config; //  effective configuration
    const char *role;           //  the role's name
    const char *service_id;     //  --service-id, or NULL when not given
    int argc;                   //  operands after the role, e.g. a job id
    char **argv;                //  argc strings
    const char *secret;         //  service roles: the per-service secret rafikid read from
                                //  the launcher (rfk_launcher_read_secret), else NULL
    bool dev;                   //  --dev: development defaults allowed (admin, up)
} rfk_role_args_t;

#ifdef __cplusplus
}
#endif

#endif
