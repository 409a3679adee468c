/*  rfk_noop: the `noop` role, an actor that does nothing but answer its
    pipe, so that rafikid's machinery (roles, configuration, logging,
    signals, exit statuses) can be run and tested before the real roles
    exist.

    Takes "$TERM" (stops), "PING" (answers "PONG"); anything else is logged
    and ignored. Operands: none (runs until $TERM), "done" (sends DONE and
    returns: rafikid exits 0), "fail" (sends FAILED and returns: rafikid
    exits 1), "stuck" (ignores $TERM: rafikid's stop timeout must end it).
*/
#ifndef RFK_NOOP_H_INCLUDED
#define RFK_NOOP_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The actor; args is an rfk_role_args_t * (or NULL: no operands).
void
rfk_noop_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
