/*  rfk_role: what rafikid hands the actor of a role, and what it expects
    back on the actor's pipe; and the KEY=VALUE operands of a role run on
    its own (`rafikid predictor http=... query=...`).

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

#include <czmq.h>
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
    const char *curve;          //  service roles: the bus keys admin sent after the secret
                                //  (rfk_curve_keys_parse), else NULL: plaintext
    bool dev;                   //  --dev: development defaults allowed (admin, up)
} rfk_role_args_t;

//  Reads one command from the actor's pipe: the command (the caller frees
//  it), or NULL when the pipe said "$TERM" or closed (*terminated is then
//  set true) or the message was empty.
char *
rfk_role_command (zsock_t *pipe, bool *terminated);

//  Signals the pipe once setup is done (zactor_new waits for it); when self
//  is NULL (the actor's state could not be made) also says "FAILED" "out of
//  memory". Returns self.
void *
rfk_role_ready (zsock_t *pipe, void *self);

//  The start of a direct form (tests, benchmarks), which stays for its
//  pipe after a failure: rfk_role_ready, then "FAILED" <failure> when self
//  is not NULL and failure is not NULL. Returns self.
void *
rfk_role_started (zsock_t *pipe, void *self, const char *failure);

//  Tells rafikid how the actor ended: "FAILED" <failure> when failure is
//  not NULL, else "DONE" when done, else nothing (the actor was told
//  "$TERM").
void
rfk_role_end (zsock_t *pipe, const char *failure, bool done);

//  The value of the operand KEY=VALUE, or NULL when there is none. Borrowed.
const char *
rfk_role_operand (const rfk_role_args_t *role, const char *key);

//  The first operand that is not KEY=VALUE with a key in known (a
//  NULL-terminated list), or NULL when all are. Borrowed.
const char *
rfk_role_unknown_operand (const rfk_role_args_t *role, const char *const *known);

#ifdef __cplusplus
}
#endif

#endif
