/*  tpl_crash.c: a template that crashes while it loads (its rafiki_model ()
    dereferences NULL), for admin's upload tests: admin must reject it and
    keep serving. */
#include <rafiki/model.h>
#include <stddef.h>

const rafiki_model_api_t *
rafiki_model (void)
{
    volatile int *nothing = NULL;
    *nothing = 42;
    return NULL;
}
