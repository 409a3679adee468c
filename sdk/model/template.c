/*  template.c: opening a model template shared object and checking what it
    exports (ABI version, task, functions, knob table). */
#include "internal.h"
#include "rafiki/template.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rfk_template {
    void *handle;                  /* from dlopen */
    const rafiki_model_api_t *api; /* what rafiki_model () returned */
    char *path;                    /* where it was opened from */
};

static bool
s_known_task (const char *task)
{
    return strcmp (task, RAFIKI_TASK_IMAGE_CLASSIFICATION) == 0 ||
           strcmp (task, RAFIKI_TASK_TABULAR_CLASSIFICATION) == 0 ||
           strcmp (task, RAFIKI_TASK_TABULAR_REGRESSION) == 0 ||
           strcmp (task, RAFIKI_TASK_POS_TAGGING) == 0;
}

/* Checks one value of a FIXED or CATEGORICAL knob. */
static bool
s_value_ok (const rafiki_value_t *v)
{
    switch (v->type) {
        case RAFIKI_VALUE_INT:
        case RAFIKI_VALUE_BOOL:
            return true;
        case RAFIKI_VALUE_FLOAT:
            return isfinite (v->u.f);
        case RAFIKI_VALUE_STRING:
            return v->u.s != NULL;
        default:
            return false;
    }
}

int
rfk_knob_table_check (const rafiki_knob_t *knobs, size_t n_knobs, char *err, size_t errlen)
{
    if (n_knobs > 0 && !knobs) {
        rfk_model_errf (err, errlen, "the knob table is NULL but has %zu knobs", n_knobs);
        return -1;
    }
    for (size_t i = 0; i < n_knobs; i++) {
        const rafiki_knob_t *k = &knobs[i];
        if (!k->name || !k->name[0]) {
            rfk_model_errf (err, errlen, "knob %zu has no name", i);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (knobs[j].name, k->name) == 0) {
                rfk_model_errf (err, errlen, "knob '%s' is declared twice", k->name);
                return -1;
            }
        switch (k->type) {
            case RAFIKI_KNOB_FIXED:
                if (!s_value_ok (&k->value)) {
                    rfk_model_errf (err, errlen, "knob '%s': bad fixed value", k->name);
                    return -1;
                }
                break;
            case RAFIKI_KNOB_CATEGORICAL:
                if (k->n_values == 0 || !k->values) {
                    rfk_model_errf (err, errlen, "knob '%s': categorical with no values", k->name);
                    return -1;
                }
                for (size_t v = 0; v < k->n_values; v++)
                    if (!s_value_ok (&k->values[v])) {
                        rfk_model_errf (err, errlen, "knob '%s': bad value %zu", k->name, v);
                        return -1;
                    }
                break;
            case RAFIKI_KNOB_INTEGER:
            case RAFIKI_KNOB_FLOAT:
                if (!isfinite (k->min) || !isfinite (k->max) || k->min > k->max) {
                    rfk_model_errf (err, errlen, "knob '%s': bounds [%g, %g] are not a range",
                                    k->name, k->min, k->max);
                    return -1;
                }
                if (k->type == RAFIKI_KNOB_INTEGER &&
                    (k->min != floor (k->min) || k->max != floor (k->max) || k->min < -9e15 ||
                     k->max > 9e15)) {
                    rfk_model_errf (err, errlen,
                                    "knob '%s': integer bounds [%g, %g] are not "
                                    "whole numbers",
                                    k->name, k->min, k->max);
                    return -1;
                }
                if (k->type == RAFIKI_KNOB_INTEGER && k->log_scale && k->min < 1) {
                    rfk_model_errf (err, errlen,
                                    "knob '%s': a log-scale integer range must start at 1 or "
                                    "above, not [%g, %g]",
                                    k->name, k->min, k->max);
                    return -1;
                }
                if (k->type == RAFIKI_KNOB_FLOAT && k->log_scale && k->min <= 0) {
                    rfk_model_errf (err, errlen,
                                    "knob '%s': a log-scale range must be above 0, "
                                    "not [%g, %g]",
                                    k->name, k->min, k->max);
                    return -1;
                }
                break;
            case RAFIKI_KNOB_POLICY:
                if (k->policy < RAFIKI_POLICY_EARLY_STOP || k->policy > RAFIKI_POLICY_DOWNSCALE) {
                    rfk_model_errf (err, errlen, "knob '%s': unknown policy %d", k->name,
                                    (int)k->policy);
                    return -1;
                }
                break;
            default:
                rfk_model_errf (err, errlen, "knob '%s': unknown type %d", k->name, (int)k->type);
                return -1;
        }
    }
    return 0;
}

/* Checks the table a template returned. */
static int
s_check_api (const char *path, const rafiki_model_api_t *api, const char *expected_task, char *err,
             size_t errlen)
{
    if (!api) {
        rfk_model_errf (err, errlen, "%s: %s () returned NULL", path, RAFIKI_MODEL_SYMBOL);
        return -1;
    }
    if (api->abi_version != RAFIKI_MODEL_ABI_VERSION) {
        rfk_model_errf (err, errlen,
                        "%s: built for model ABI version %u, this platform has version %u; "
                        "rebuild it against this rafiki/model.h",
                        path, (unsigned)api->abi_version, (unsigned)RAFIKI_MODEL_ABI_VERSION);
        return -1;
    }
    if (!api->name || !api->name[0]) {
        rfk_model_errf (err, errlen, "%s: the model has no name", path);
        return -1;
    }
    if (!api->task || !s_known_task (api->task)) {
        rfk_model_errf (err, errlen, "%s: unknown task '%s'", path,
                        api->task ? api->task : "(null)");
        return -1;
    }
    if (expected_task && strcmp (api->task, expected_task) != 0) {
        rfk_model_errf (err, errlen, "%s: model %s is for task %s, not %s", path, api->name,
                        api->task, expected_task);
        return -1;
    }
    const char *missing = !api->create        ? "create"
                          : !api->train       ? "train"
                          : !api->evaluate    ? "evaluate"
                          : !api->predict     ? "predict"
                          : !api->dump_params ? "dump_params"
                          : !api->load_params ? "load_params"
                          : !api->destroy     ? "destroy"
                                              : NULL;
    if (missing) {
        rfk_model_errf (err, errlen, "%s: model %s has no %s function", path, api->name, missing);
        return -1;
    }
    char why[512];
    if (rfk_knob_table_check (api->knobs, api->n_knobs, why, sizeof why)) {
        rfk_model_errf (err, errlen, "%s: model %s: %s", path, api->name, why);
        return -1;
    }
    return 0;
}

/* dlopen the regular file at path, never through a symbolic link in its
   last part (a link planted in place of a template is refused): the file
   is checked with O_NOFOLLOW first. It is then loaded by path, not through
   /proc/self/fd: a template opened twice must stay one object to the
   dynamic loader, and its $ORIGIN must be its folder. NULL with err set
   when the file is refused, NULL with err empty when dlopen failed. */
static void *
s_dlopen_nofollow (const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    struct stat info;
    if (fd < 0 || fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
        int saved = fd < 0 ? errno : 0;
        if (fd >= 0)
            close (fd);
        rfk_model_errf (err, errlen, "%s: cannot load the template: %s", path,
                        saved == ELOOP ? "it is a symbolic link (refused)"
                        : saved != 0   ? strerror (saved)
                                       : "not a regular file");
        return NULL;
    }
    close (fd);
    return dlopen (path, RTLD_NOW | RTLD_LOCAL);
}

rfk_template_t *
rfk_template_open (const char *path, const char *expected_task, char *err, size_t errlen)
{
    if (!path || !path[0]) {
        rfk_model_errf (err, errlen, "no template path");
        return NULL;
    }
    /* A bare file name would be searched on the library path, not here. */
    char *where = malloc (strlen (path) + 3);
    if (where)
        sprintf (where, "%s%s", strchr (path, '/') ? "" : "./", path);
    if (!where) {
        rfk_model_errf (err, errlen, "%s: out of memory", path);
        return NULL;
    }
    dlerror ();
    void *handle = s_dlopen_nofollow (where, err, errlen);
    if (!handle && err && errlen && err[0]) {
        free (where);
        return NULL;
    }
    if (!handle) {
        const char *why = dlerror ();
        rfk_model_errf (err, errlen, "%s: cannot load the template: %s", path,
                        why ? why : "unknown error");
        free (where);
        return NULL;
    }
    dlerror ();
    void *sym = dlsym (handle, RAFIKI_MODEL_SYMBOL);
    if (!sym) {
        rfk_model_errf (err, errlen, "%s: not a model template: it exports no %s ()", path,
                        RAFIKI_MODEL_SYMBOL);
        dlclose (handle);
        free (where);
        return NULL;
    }
    rafiki_model_fn *fn;
    /* POSIX allows converting dlsym's void * to a function pointer. */
    memcpy (&fn, &sym, sizeof fn);
    const rafiki_model_api_t *api = fn ();
    if (s_check_api (path, api, expected_task, err, errlen)) {
        dlclose (handle);
        free (where);
        return NULL;
    }
    rfk_template_t *self = calloc (1, sizeof *self);
    if (!self) {
        rfk_model_errf (err, errlen, "%s: out of memory", path);
        dlclose (handle);
        free (where);
        return NULL;
    }
    self->handle = handle;
    self->api = api;
    self->path = where;
    return self;
}

const rafiki_model_api_t *
rfk_template_api (const rfk_template_t *self)
{
    return self ? self->api : NULL;
}

const char *
rfk_template_path (const rfk_template_t *self)
{
    return self ? self->path : NULL;
}

void
rfk_template_close (rfk_template_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_template_t *self = *self_p;
    if (self->handle)
        dlclose (self->handle);
    free (self->path);
    free (self);
    *self_p = NULL;
}
