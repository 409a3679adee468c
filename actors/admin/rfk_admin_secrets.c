/*  rfk_admin_secrets.c: admin's secrets leave its environment at start.

    The platform's secrets may come in as environment variables (the
    superadmin password, the JWT key, the store URL with its password, and
    libpq's PGPASSWORD). rafikid read them into the configuration before
    admin started; rfk_admin_secrets_take keeps the one admin reads from the
    environment itself (RAFIKI_SUPERADMIN_PASSWORD) and then clears them all,
    so that no process admin starts inherits them. unsetenv alone would
    leave /proc/<pid>/environ showing them: that file shows the block the
    process was started with, and the variables rafikid was given still
    point into it. So each value is overwritten in place with zeros first.

    Admin also makes itself non-dumpable (PR_SET_DUMPABLE 0): no core file
    with its heap (the JWT key), and a process of the same user cannot
    ptrace it or read its /proc/<pid>/mem or environ.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <sodium.h>
#include <string.h>
#include <sys/prctl.h>

/* The variables that may carry a secret; the RAFIKI_* ones are the
   environment forms of the configuration keys marked SECRET
   (config/rfk_config_keys.c). */
static const char *const s_secret_names[] = {"RAFIKI_SUPERADMIN_PASSWORD",
                                             "RAFIKI_ADMIN_SUPERADMIN_PASSWORD",
                                             "RAFIKI_ADMIN_JWT_SECRET",
                                             "RAFIKI_STORE_URL",
                                             "PGPASSWORD",
                                             NULL};

/* Overwrite the value of variable `name` where it lies, then remove it. */
static void
s_scrub (const char *name)
{
    extern char **environ;
    size_t length = strlen (name);
    for (char **entry = environ; entry && *entry; entry++)
        if (strncmp (*entry, name, length) == 0 && (*entry)[length] == '=')
            sodium_memzero (*entry + length + 1, strlen (*entry + length + 1));
    unsetenv (name);
}

int
rfk_admin_secrets_take (rfk_admin_t *self)
{
    if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        rfk_log_warning (RFK_ADMIN_LOG, "not-undumpable reason=\"%s\"", strerror (errno));
    const char *password = getenv ("RAFIKI_SUPERADMIN_PASSWORD");
    if (password && *password && !(self->env_password = strdup (password)))
        return -1;
    for (size_t index = 0; s_secret_names[index]; index++)
        s_scrub (s_secret_names[index]);
    return 0;
}

void
rfk_admin_secrets_forget (rfk_admin_t *self)
{
    if (self->env_password)
        sodium_memzero (self->env_password, strlen (self->env_password));
    free (self->env_password);
    self->env_password = NULL;
}
