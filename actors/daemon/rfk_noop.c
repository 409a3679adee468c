/*  rfk_noop: the `noop` role's actor (see rfk_noop.h).

    Messages in on the pipe: $TERM, PING. Out: PONG, and DONE or FAILED when
    asked to end by its operand.
*/
#include "rfk_noop.h"

#include "rfk_log.h"
#include "rfk_role.h"

void
rfk_noop_actor (zsock_t *pipe, void *args)
{
    const rfk_role_args_t *role = args;
    const char *operand = role && role->argc > 0 ? role->argv[0] : NULL;
    zsock_signal (pipe, 0);
    if (operand && streq (operand, "done")) {
        zstr_send (pipe, "DONE");
        return;
    }
    //  "stuck" ignores $TERM, to test rafikid's stop timeout.
    bool stuck = operand && streq (operand, "stuck");
    if (operand && !stuck) {
        if (streq (operand, "fail"))
            zstr_sendx (pipe, "FAILED", "asked to fail", NULL);
        else
            zstr_sendx (pipe, "FAILED", "unknown operand (noop takes done, fail or stuck)", NULL);
        return;
    }
    bool terminated = false;
    while (!terminated) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break; //  interrupted
        char *command = zmsg_popstr (msg);
        if (command && streq (command, "$TERM"))
            terminated = !stuck;
        else if (command && streq (command, "PING"))
            zstr_send (pipe, "PONG");
        else
            rfk_log_warning ("noop", "RFK-MALFORMED unknown pipe command=%s",
                             command ? command : "(none)");
        zstr_free (&command);
        zmsg_destroy (&msg);
    }
}
