/*  rfk_role.c: a role's pipe and operands (see rfk_role.h). */
#include "rfk_role.h"

#include <string.h>

char *
rfk_role_command (zsock_t *pipe, bool *terminated)
{
    zmsg_t *msg = zmsg_recv (pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    if (!msg || (command && streq (command, "$TERM"))) {
        *terminated = true;
        zstr_free (&command);
    }
    zmsg_destroy (&msg);
    return command;
}

void *
rfk_role_ready (zsock_t *pipe, void *self)
{
    zsock_signal (pipe, 0);
    if (!self)
        zstr_sendx (pipe, "FAILED", "out of memory", NULL);
    return self;
}

void *
rfk_role_started (zsock_t *pipe, void *self, const char *failure)
{
    if (rfk_role_ready (pipe, self))
        rfk_role_end (pipe, failure, false);
    return self;
}

void
rfk_role_end (zsock_t *pipe, const char *failure, bool done)
{
    if (failure)
        zstr_sendx (pipe, "FAILED", failure, NULL);
    else if (done)
        zstr_send (pipe, "DONE");
}

const char *
rfk_role_operand (const rfk_role_args_t *role, const char *key)
{
    size_t length = strlen (key);
    for (int i = 0; role && i < role->argc; i++)
        if (strncmp (role->argv[i], key, length) == 0 && role->argv[i][length] == '=')
            return role->argv[i] + length + 1;
    return NULL;
}

const char *
rfk_role_unknown_operand (const rfk_role_args_t *role, const char *const *known)
{
    for (int i = 0; role && i < role->argc; i++) {
        const char *equals = strchr (role->argv[i], '=');
        bool ok = false;
        for (int k = 0; equals && known[k]; k++)
            ok = ok || ((size_t)(equals - role->argv[i]) == strlen (known[k]) &&
                        strncmp (role->argv[i], known[k], strlen (known[k])) == 0);
        if (!ok)
            return role->argv[i];
    }
    return NULL;
}
