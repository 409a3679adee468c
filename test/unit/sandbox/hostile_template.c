/*  A model template for the sandbox's tests that tries one escape per
    trial, chosen by the train arg `attack` (its target in arg `target`):

        read      open `target` for reading (a file outside the trial's folder)
        write     create a file in folder `target`
        ptrace    PTRACE_ATTACH to its parent (the sandbox's, or the trainer)
        tcp       connect to 127.0.0.1:`target`
        unshare   make a new user namespace
        forkbomb  fork without end
        allocate  allocate and touch 8 GiB
        disk      write files of 64 MiB into its folder without end
        bigfile   write one file without end
        spin      burn CPU without end
        params    complete, writing parameters (the sandbox's happy path)

    When the attempt fails, train returns -1 with "<attack>: <strerror>",
    so the trial's reason says what the kernel answered; when it succeeds,
    train returns -1 with "<attack>: ESCAPED", which a test never accepts.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <rafiki/model.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rfk_test_template.h"

static const rafiki_knob_t s_knobs[] = {
    {.name = "alpha", .type = RAFIKI_KNOB_FLOAT, .min = 0.5, .max = 1},
};

static void *volatile s_sink; /* where allocate leaves its memory */

static void *
s_create (const rafiki_knobs_t *knobs, char *err, size_t errlen)
{
    (void)knobs;
    void *m = calloc (1, 8);
    if (!m)
        snprintf (err, errlen, "out of memory");
    return m;
}

/* The value of train arg name, or "". */
static const char *
s_arg (const rafiki_args_t *args, const char *name)
{
    for (size_t i = 0; args && i < args->n; i++)
        if (strcmp (args->items[i].name, name) == 0)
            return args->items[i].value;
    return "";
}

/* -1 with "<attack>: <strerror (e)>", or ESCAPED when e is 0. */
static int
s_answer (const char *attack, int e, char *err, size_t errlen)
{
    snprintf (err, errlen, "%s: %s", attack, e ? strerror (e) : "ESCAPED");
    return -1;
}

static int
s_tcp (const char *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)atoi (port))};
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = connect (fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno;
    close (fd);
    return rc;
}

static void
s_write_forever (const char *path_fmt, size_t chunk_mb)
{
    static char block[1 << 20];
    memset (block, 'x', sizeof block);
    for (int n = 0;; n++) {
        char path[64];
        snprintf (path, sizeof path, path_fmt, n);
        int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return;
        for (size_t i = 0; i < chunk_mb; i++)
            if (write (fd, block, sizeof block) != (ssize_t)sizeof block) {
                close (fd);
                return;
            }
        close (fd);
    }
}

static int
s_train (void *model, const char *dataset_path, const rafiki_args_t *args,
         const msgpack_object *shared_params, rafiki_context_t *ctx, char *err, size_t errlen)
{
    (void)model;
    (void)dataset_path;
    (void)shared_params;
    (void)ctx;
    const char *attack = s_arg (args, "attack");
    const char *target = s_arg (args, "target");
    if (strcmp (attack, "read") == 0) {
        int fd = open (target, O_RDONLY);
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close (fd);
        return s_answer (attack, e, err, errlen);
    }
    if (strcmp (attack, "write") == 0) {
        char path[1024];
        snprintf (path, sizeof path, "%s/planted", target);
        int fd = open (path, O_WRONLY | O_CREAT, 0600);
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close (fd);
        return s_answer (attack, e, err, errlen);
    }
    if (strcmp (attack, "ptrace") == 0)
        return s_answer (attack, ptrace (PTRACE_ATTACH, getppid (), 0, 0) == 0 ? 0 : errno, err,
                         errlen);
    if (strcmp (attack, "tcp") == 0)
        return s_answer (attack, s_tcp (target), err, errlen);
    if (strcmp (attack, "unshare") == 0)
        return s_answer (attack, unshare (CLONE_NEWUSER) == 0 ? 0 : errno, err, errlen);
    if (strcmp (attack, "forkbomb") == 0)
        for (;;)
            fork ();
    if (strcmp (attack, "allocate") == 0) {
        size_t size = (size_t)8 << 30;
        char *p = malloc (size);
        if (!p)
            return s_answer (attack, ENOMEM, err, errlen);
        for (size_t i = 0; i < size; i += 4096)
            p[i] = 1;
        s_sink = p;
        return s_answer (attack, 0, err, errlen);
    }
    if (strcmp (attack, "disk") == 0)
        s_write_forever ("fill-%d", 64);
    if (strcmp (attack, "bigfile") == 0)
        s_write_forever ("big", (size_t)1 << 20);
    if (strcmp (attack, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (strcmp (attack, "params") == 0)
        return 0;
    snprintf (err, errlen, "unknown attack '%s'", attack);
    return -1;
}

static int
s_evaluate (void *model, const char *dataset_path, double *score, char *err, size_t errlen)
{
    (void)model;
    (void)dataset_path;
    (void)err;
    (void)errlen;
    *score = 0.5;
    return 0;
}

static int
s_predict (void *model, const msgpack_object *queries, msgpack_packer *out, char *err,
           size_t errlen)
{
    (void)model;
    (void)queries;
    (void)err;
    (void)errlen;
    msgpack_pack_array (out, 0);
    return 0;
}

static int
s_dump_params (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    (void)model;
    (void)err;
    (void)errlen;
    msgpack_pack_map (out, 0);
    return 0;
}

static const rafiki_model_api_t s_api = {
    .abi_version = RAFIKI_MODEL_ABI_VERSION,
    .name = "Hostile",
    .task = RAFIKI_TASK_TABULAR_CLASSIFICATION,
    .knobs = s_knobs,
    .n_knobs = sizeof s_knobs / sizeof s_knobs[0],
    .create = s_create,
    .train = s_train,
    .evaluate = s_evaluate,
    .predict = s_predict,
    .dump_params = s_dump_params,
    .load_params = rfk_test_tpl_load_nothing,
    .destroy = rfk_test_tpl_free,
};

const rafiki_model_api_t *
rafiki_model (void);

const rafiki_model_api_t *
rafiki_model (void)
{
    return &s_api;
}
