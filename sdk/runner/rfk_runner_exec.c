/*  rfk_runner_exec: the exec form, a trial in a fresh process.

    The parent packs the spec into a sealed memory file (msgpack map), then
    posix_spawns /proc/self/exe with RAFIKI_TRIAL_CHILD=<socket>:<spec>:<pid>
    in its environment. With spec->sandbox it runs the same program inside
    bubblewrap instead (rfk_sandbox.h), with pid 0 (its parent is bwrap's)
    and a minimal environment; the child writes its parameters into its
    work folder. Every program that links the runner carries the
    constructor at the end of this file: in such a process it reads the
    spec, opens the template and runs the child's side exactly as a forked
    child would (rfk_runner_child_main), before main () ever runs.

    The knob values travel typed, or as the JSON text of a proposal
    (spec->knobs_json) that the exec'd process converts with its own
    template's table once its limits are set: a trainer hands the trial its
    proposal without ever opening the template itself.

    What the exec'd process decodes and opens (the spec's bytes, knob and
    argument copies, the template) lives in one file-level record, freed
    on every way out: before _exit when the trial cannot start, and by an
    atexit handler when a template calls exit () in the middle of train.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "rfk_runner_private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <rafiki/template.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define RFK_EXEC_ENV "RAFIKI_TRIAL_CHILD"

/* ------------------------------------------------------------------------
   The parent's side: the spec in a memory file, and the spawn
   ------------------------------------------------------------------------ */

static void
s_pack_cstr (msgpack_packer *pk, const char *key, const char *value)
{
    rfk_runner_pack_str (pk, key, 64);
    if (value)
        rfk_runner_pack_str (pk, value, 65536);
    else
        msgpack_pack_nil (pk);
}

static void
s_pack_value (msgpack_packer *pk, const rafiki_value_t *value)
{
    switch (value->type) {
        case RAFIKI_VALUE_INT:
            msgpack_pack_int64 (pk, value->u.i);
            break;
        case RAFIKI_VALUE_FLOAT:
            msgpack_pack_double (pk, value->u.f);
            break;
        case RAFIKI_VALUE_STRING:
            rfk_runner_pack_str (pk, value->u.s, 65536);
            break;
        default:
            if (value->u.b)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
    }
}

/* The spec as a sealed memory file (close-on-exec), or -1 with err. */
/* The bytes in a sealed memory file (offset 0), or -1 with err. */
static int
s_sealed_memfd (const char *data, size_t size, char *err, size_t errlen)
{
    int fd = memfd_create ("rafiki-trial-spec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        snprintf (err, errlen, "cannot hand the trial its spec: memfd_create: %s",
                  strerror (errno));
        return -1;
    }
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write (fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf (err, errlen, "cannot hand the trial its spec: %s", strerror (errno));
            close (fd);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

static int
s_exec_spec_fd (const rfk_trial_spec_t *spec, char *err, size_t errlen)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 14);
    s_pack_cstr (&pk, "template", spec->template_path);
    s_pack_cstr (&pk, "task", spec->task);
    s_pack_cstr (&pk, "train", spec->train_path);
    s_pack_cstr (&pk, "val", spec->val_path);
    s_pack_cstr (&pk, "params", spec->params_path);
    s_pack_cstr (&pk, "output", spec->output_path);
    /* A sandboxed child sets its process, file size and descriptor limits
       itself, so that bwrap starts by posix_spawn (no fork of this process). */
    const rfk_sandbox_limits_t *box = spec->sandbox ? &spec->sandbox->limits : NULL;
    rfk_runner_pack_str (&pk, "box", 64);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_uint64 (&pk, box ? box->nproc : 0);
    msgpack_pack_uint64 (&pk, box ? box->fsize_mb : 0);
    msgpack_pack_uint64 (&pk, box ? box->nofile : 0);
    rfk_runner_pack_str (&pk, "confine", 64);
    spec->confine ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    rfk_runner_pack_str (&pk, "cpu_s", 64);
    msgpack_pack_double (&pk, spec->cpu_s);
    rfk_runner_pack_str (&pk, "memory_mb", 64);
    msgpack_pack_uint64 (&pk, spec->memory_mb);
    rfk_runner_pack_str (&pk, "knobs", 64);
    size_t n_knobs = spec->knobs ? spec->knobs->n : 0;
    msgpack_pack_array (&pk, n_knobs);
    for (size_t i = 0; i < n_knobs; i++) {
        const rafiki_knob_value_t *item = &spec->knobs->items[i];
        msgpack_pack_array (&pk, 3);
        rfk_runner_pack_str (&pk, item->name, 1024);
        msgpack_pack_int (&pk, (int)item->value.type);
        s_pack_value (&pk, &item->value);
    }
    /* Or the knobs as the proposal's JSON text, for the child to convert
       with its template's table: the caller never opens the template. */
    rfk_runner_pack_str (&pk, "knobs_json", 64);
    if (!spec->knobs && spec->knobs_json)
        rfk_runner_pack_str (&pk, spec->knobs_json, 1u << 24);
    else
        msgpack_pack_nil (&pk);
    rfk_runner_pack_str (&pk, "args", 64);
    size_t n_args = spec->args ? spec->args->n : 0;
    msgpack_pack_array (&pk, n_args);
    for (size_t i = 0; i < n_args; i++) {
        msgpack_pack_array (&pk, 2);
        rfk_runner_pack_str (&pk, spec->args->items[i].name, 65536);
        rfk_runner_pack_str (&pk, spec->args->items[i].value, 1u << 24);
    }
    rfk_runner_pack_str (&pk, "shared", 64);
    if (spec->shared_params && spec->shared_params_size > 0) {
        msgpack_pack_bin (&pk, spec->shared_params_size);
        msgpack_pack_bin_body (&pk, spec->shared_params, spec->shared_params_size);
    } else
        msgpack_pack_nil (&pk);

    int fd = s_sealed_memfd (sbuf.data, sbuf.size, err, errlen);
    msgpack_sbuffer_destroy (&sbuf);
    return fd;
}

/* Spawn this program as the trial's process; its pid, or -1 with err. */
static pid_t
s_exec_spawn_with (int sock, int spec_fd, char *err, size_t errlen)
{
    extern char **environ;
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = calloc (n_env + 2, sizeof *envp);
    char mine[96];
    if (!envp) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp (environ[i], RFK_EXEC_ENV "=", sizeof RFK_EXEC_ENV) != 0)
            envp[at++] = environ[i];
    snprintf (mine, sizeof mine, RFK_EXEC_ENV "=%d:%d:%d", sock, spec_fd, (int)getpid ());
    envp[at++] = mine;
    envp[at] = NULL;

    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_init (&attr);
    posix_spawn_file_actions_init (&actions);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    /* dup2 of a descriptor onto itself clears its close-on-exec flag. */
    posix_spawn_file_actions_adddup2 (&actions, sock, sock);
    posix_spawn_file_actions_adddup2 (&actions, spec_fd, spec_fd);
    char *argv[] = {(char *)"rafiki-trial", NULL};
    pid_t pid = -1;
    int rc = posix_spawn (&pid, "/proc/self/exe", &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    free (envp);
    if (rc != 0) {
        snprintf (err, errlen, "cannot start the trial's process: %s", strerror (rc));
        return -1;
    }
    return pid;
}

/* The environment a sandboxed trial gets: the sanitizers' options, the
   locale, a PATH, and its RAFIKI_TRIAL_CHILD; nothing of the caller's
   secrets. envp has room for n entries plus NULL. */
static void
s_sandbox_env (char **envp, size_t n, char *mine)
{
    extern char **environ;
    static const char *const kept[] = {
        "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "LANG=", "LC_ALL=", "TZ="};
    size_t at = 0;
    envp[at++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
    envp[at++] = (char *)"HOME=/tmp";
    for (size_t i = 0; environ && environ[i] && at + 2 < n; i++)
        for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++)
            if (strncmp (environ[i], kept[k], strlen (kept[k])) == 0)
                envp[at++] = environ[i];
    envp[at++] = mine;
    envp[at] = NULL;
}

/* Spawn this program inside the sandbox as the trial's process: its
   template, datasets and this program read-only, work_dir read-write. */
static pid_t
s_exec_spawn_sandboxed (const rfk_trial_spec_t *spec, int sock, int spec_fd, char *err,
                        size_t errlen)
{
    char exe[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf (err, errlen, "cannot find this program's file: %s", strerror (errno));
        return -1;
    }
    exe[n] = 0;
    const rfk_sandbox_spec_t *box = spec->sandbox;
    const char *ro[32];
    size_t n_ro = 0;
    const char *own[] = {spec->template_path, spec->train_path, spec->val_path};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (own[i])
            ro[n_ro++] = own[i];
    for (size_t i = 0; i < box->n_ro && n_ro < sizeof ro / sizeof ro[0]; i++)
        ro[n_ro++] = box->ro_paths[i];
    rfk_sandbox_spec_t mine = *box;
    mine.ro_paths = ro;
    mine.n_ro = n_ro;
    mine.rw_paths = &spec->work_dir;
    mine.n_rw = 1;
    mine.chdir = spec->work_dir;
    mine.share_net = false;
    /* The child sets its own limits (the memory one relative to what it
       maps): nothing to do between fork and exec, so bwrap starts by
       posix_spawn. */
    mine.limits = (rfk_sandbox_limits_t){0};
    /* As root the child leaves root itself (s_exec_entry), before it
       reads its spec: no setpriv to exec first. */
    bool drop = geteuid () == 0 && box->uid != 0;
    mine.self_drop = drop;
    const char *argv[] = {exe, NULL};
    rfk_sandbox_cmd_t *cmd = rfk_sandbox_cmd_new (&mine, argv, err, errlen);
    if (!cmd)
        return -1;
    char var[128];
    snprintf (var, sizeof var, RFK_EXEC_ENV "=%d:%d:0:%u:%u", sock, spec_fd,
              drop ? (unsigned)box->uid : 0u, drop ? (unsigned)box->gid : 0u);
    char *envp[16];
    s_sandbox_env (envp, sizeof envp / sizeof envp[0], var);
    int out =
        spec->output_path
            ? open (spec->output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)
            : -1;
    int keep[] = {sock, spec_fd};
    pid_t pid = rfk_sandbox_cmd_spawn (cmd, envp, keep, 2, out, true, err, errlen);
    if (out >= 0)
        close (out);
    rfk_sandbox_cmd_destroy (&cmd);
    return pid;
}

pid_t
rfk_runner_exec_spawn (const rfk_trial_spec_t *spec, int sock, char *err, size_t errlen)
{
    if (!spec->sandbox) {
        int spec_fd = s_exec_spec_fd (spec, err, errlen);
        if (spec_fd < 0)
            return -1;
        pid_t pid = s_exec_spawn_with (sock, spec_fd, err, errlen);
        close (spec_fd);
        return pid;
    }
    /* What the child sees: the same paths (bound where they are), its
       parameters written into its own folder, its output set up here. */
    char params[PATH_MAX];
    snprintf (params, sizeof params, "%s/" RFK_RUNNER_PARAMS_FILE, spec->work_dir);
    rfk_trial_spec_t view = *spec;
    view.params_path = spec->params_path ? params : NULL;
    view.output_path = NULL;
    int spec_fd = s_exec_spec_fd (&view, err, errlen);
    if (spec_fd < 0)
        return -1;
    pid_t pid = s_exec_spawn_sandboxed (spec, sock, spec_fd, err, errlen);
    close (spec_fd);
    return pid;
}

/* ------------------------------------------------------------------------
   The exec'd process's side: read the spec, open the template, run
   ------------------------------------------------------------------------ */

/* What the exec'd process owns. File-level, so that the atexit handler
   finds it when a template calls exit () in the middle of a trial. */
typedef struct {
    int sock;                  /* our end of the socket pair to the parent */
    char *data;                /* the spec file's bytes */
    msgpack_unpacked msg;      /* the spec, decoded from data */
    bool msg_ready;            /* msg was initialised */
    rafiki_knobs_t knobs;      /* knob values; items and their strings are ours */
    rafiki_knobs_t json_knobs; /* or the values made from the spec's knobs_json */
    rafiki_args_t args;        /* train args; items and their strings are ours */
    rfk_trial_spec_t spec;     /* the spec as the child's side takes it */
    rfk_template_t *tpl;       /* the template, opened here */
    rfk_sandbox_spec_t box;    /* a sandboxed trial's limits, to set here */
} s_exec_t;

static s_exec_t s_exec = {.sock = -1};

/* Free everything the exec'd process decoded and opened. Safe twice. */
static void
s_exec_release (void)
{
    rfk_knobs_free (&s_exec.json_knobs);
    rfk_template_close (&s_exec.tpl);
    for (size_t i = 0; s_exec.knobs.items && i < s_exec.knobs.n; i++) {
        const rafiki_knob_value_t *item = &s_exec.knobs.items[i];
        free ((char *)item->name);
        if (item->value.type == RAFIKI_VALUE_STRING)
            free ((char *)item->value.u.s);
    }
    free ((void *)s_exec.knobs.items);
    for (size_t i = 0; s_exec.args.items && i < s_exec.args.n; i++) {
        free ((char *)s_exec.args.items[i].name);
        free ((char *)s_exec.args.items[i].value);
    }
    free ((void *)s_exec.args.items);
    memset (&s_exec.knobs, 0, sizeof s_exec.knobs);
    memset (&s_exec.args, 0, sizeof s_exec.args);
    const char **paths[] = {&s_exec.spec.template_path, &s_exec.spec.task,
                            &s_exec.spec.train_path,    &s_exec.spec.val_path,
                            &s_exec.spec.params_path,   &s_exec.spec.output_path,
                            &s_exec.spec.knobs_json};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        free ((char *)*paths[i]);
        *paths[i] = NULL;
    }
    if (s_exec.msg_ready)
        msgpack_unpacked_destroy (&s_exec.msg);
    s_exec.msg_ready = false;
    free (s_exec.data);
    s_exec.data = NULL;
}

/* Fail the trial with a reason, free what we hold and leave. */
static void
s_exec_fail (const char *reason)
{
    rfk_runner_child_result (s_exec.sock, RFK_TRIAL_ERRORED, 0, reason);
    s_exec_release ();
    _exit (0);
}

/* A msgpack string as a new C string; NULL for nil or anything else. */
static char *
s_exec_str (const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_STR ? rfk_runner_obj_strdup (o) : NULL;
}

/* The value of key in a msgpack map, or NULL. */
static const msgpack_object *
s_exec_get (const msgpack_object *map, const char *key)
{
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp (k->via.str.ptr, key, len) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Reads one spec row into item; false when the row makes no sense. */
typedef bool (s_exec_row_fn) (const msgpack_object *row, void *item);

/* The spec's rows, read by row_fn into a zeroed array of n + 1 items of
   `size` bytes, with n in *n_p. *rc_p is 0, or -1 when the rows are no
   array, memory ran out or a row makes no sense. The array (NULL when there
   are no rows) is for s_exec_release to free, whatever *rc_p says. */
static void *
s_exec_rows (const msgpack_object *rows, size_t size, s_exec_row_fn *row_fn, size_t *n_p, int *rc_p)
{
    *n_p = 0;
    *rc_p = rows ? -1 : 0;
    if (!rows || rows->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    char *items = calloc (rows->via.array.size + 1, size);
    if (!items)
        return NULL;
    *n_p = rows->via.array.size;
    *rc_p = 0;
    for (size_t i = 0; i < *n_p && *rc_p == 0; i++)
        if (!row_fn (&rows->via.array.ptr[i], items + i * size))
            *rc_p = -1;
    return items;
}

/* A knob value from a [name, type, value] row, as copies freed by
   s_exec_release. */
static bool
s_exec_knob (const msgpack_object *row, void *item)
{
    rafiki_knob_value_t *knob = (rafiki_knob_value_t *)item;
    if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 3 ||
        row->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    const msgpack_object *value = &row->via.array.ptr[2];
    knob->name = s_exec_str (&row->via.array.ptr[0]);
    knob->value.type = (rafiki_value_type_t)row->via.array.ptr[1].via.u64;
    double number = 0;
    switch (knob->value.type) {
        case RAFIKI_VALUE_INT:
            if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                knob->value.u.i = (int64_t)value->via.u64;
            else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                knob->value.u.i = value->via.i64;
            else
                return false;
            break;
        case RAFIKI_VALUE_FLOAT:
            if (!rfk_runner_obj_number (value, &number))
                return false;
            knob->value.u.f = number;
            break;
        case RAFIKI_VALUE_STRING:
            knob->value.u.s = s_exec_str (value);
            if (!knob->value.u.s)
                return false;
            break;
        case RAFIKI_VALUE_BOOL:
            if (value->type != MSGPACK_OBJECT_BOOLEAN)
                return false;
            knob->value.u.b = value->via.boolean;
            break;
        default:
            return false;
    }
    return knob->name != NULL;
}

/* A train arg from a [name, value] row. */
static bool
s_exec_arg (const msgpack_object *row, void *item)
{
    rafiki_arg_t *arg = (rafiki_arg_t *)item;
    if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 2)
        return false;
    arg->name = s_exec_str (&row->via.array.ptr[0]);
    arg->value = s_exec_str (&row->via.array.ptr[1]);
    return arg->name && arg->value;
}

/* The spec file's bytes into s_exec.data, and decoded into s_exec.msg;
   -1 when it cannot be read or is not a msgpack map. Closes spec_fd. */
static int
s_exec_read_spec (int spec_fd)
{
    struct stat st;
    size_t size = 0;
    if (fstat (spec_fd, &st) == 0 && st.st_size > 0) {
        size = (size_t)st.st_size;
        s_exec.data = malloc (size);
        size_t got = 0;
        while (s_exec.data && got < size) {
            ssize_t n = pread (spec_fd, s_exec.data + got, size - got, (off_t)got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got != size) {
            free (s_exec.data);
            s_exec.data = NULL;
        }
    }
    close (spec_fd);
    msgpack_unpacked_init (&s_exec.msg);
    s_exec.msg_ready = true;
    size_t off = 0;
    if (!s_exec.data ||
        msgpack_unpack_next (&s_exec.msg, s_exec.data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
        s_exec.msg.data.type != MSGPACK_OBJECT_MAP)
        return -1;
    return 0;
}

/* The spec's knobs_json made into knob values with the opened template's
   table (here, inside the trial's limits and sandbox: the caller never
   opens the template); fails the trial when they do not fit. */
static void
s_exec_knobs_from_json (rfk_trial_spec_t *spec)
{
    json_error_t error;
    json_t *json = json_loads (spec->knobs_json, JSON_DECODE_ANY, &error);
    char err[512] = "";
    if (!json)
        snprintf (err, sizeof err, "they are not JSON: %s", error.text);
    const rafiki_model_api_t *api = spec->api;
    int rc = json ? rfk_knobs_from_json (api->knobs, api->n_knobs, json, true, &s_exec.json_knobs,
                                         err, sizeof err)
                  : -1;
    json_decref (json);
    if (rc != 0) {
        char reason[600];
        snprintf (reason, sizeof reason, "the proposal's knobs do not fit the template: %s", err);
        s_exec_fail (reason);
    }
    spec->knobs = &s_exec.json_knobs;
}

/* The spec from the decoded map into s_exec.spec, then the template
   opened; fails the trial (and never returns) on anything wrong. */
/* Where no bwrap holds the trial (a container), it holds itself: it reads
   its template and datasets, writes its parameters' folder and its output
   (rfk_sandbox_confine); not /tmp, which others share on a host. Ends the
   trial ERRORED when it cannot. */
static void
s_exec_confine (const rfk_trial_spec_t *spec)
{
    char *folder = spec->params_path ? strdup (spec->params_path) : NULL;
    char *slash = folder ? strrchr (folder, '/') : NULL;
    if (slash && slash != folder)
        *slash = '\0';
    const char *readable[] = {spec->template_path, spec->train_path, spec->val_path};
    const char *writable[] = {spec->output_path, slash ? folder : NULL, NULL};
    size_t n_read = 0, n_write = 0;
    for (size_t i = 0; i < 3; i++) {
        if (readable[i])
            readable[n_read++] = readable[i];
        if (writable[i])
            writable[n_write++] = writable[i];
    }
    char why[400] = "";
    int rc = rfk_sandbox_confine (readable, n_read, writable, n_write, why, sizeof why);
    free (folder);
    if (rc != 0) {
        char reason[512];
        snprintf (reason, sizeof reason, "cannot confine the trial: %s", why);
        s_exec_fail (reason);
    }
}

static void
s_exec_load_spec (void)
{
    const msgpack_object *map = &s_exec.msg.data;
    int rc;
    s_exec.knobs.items = s_exec_rows (s_exec_get (map, "knobs"), sizeof (rafiki_knob_value_t),
                                      s_exec_knob, &s_exec.knobs.n, &rc);
    if (rc == 0)
        s_exec.args.items = s_exec_rows (s_exec_get (map, "args"), sizeof (rafiki_arg_t),
                                         s_exec_arg, &s_exec.args.n, &rc);
    if (rc != 0)
        s_exec_fail ("the trial's process got malformed knobs or train args");
    rfk_trial_spec_t *spec = &s_exec.spec;
    spec->knobs = &s_exec.knobs;
    spec->args = &s_exec.args;
    spec->template_path = s_exec_str (s_exec_get (map, "template"));
    spec->task = s_exec_str (s_exec_get (map, "task"));
    spec->train_path = s_exec_str (s_exec_get (map, "train"));
    spec->val_path = s_exec_str (s_exec_get (map, "val"));
    spec->params_path = s_exec_str (s_exec_get (map, "params"));
    spec->output_path = s_exec_str (s_exec_get (map, "output"));
    spec->knobs_json = s_exec_str (s_exec_get (map, "knobs_json"));
    const msgpack_object *value = s_exec_get (map, "cpu_s");
    double number = 0;
    if (value && rfk_runner_obj_number (value, &number) && number > 0)
        spec->cpu_s = number;
    value = s_exec_get (map, "memory_mb");
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        spec->memory_mb = (size_t)value->via.u64;
    value = s_exec_get (map, "box");
    if (value && value->type == MSGPACK_OBJECT_ARRAY && value->via.array.size == 3 &&
        value->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        value->via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        value->via.array.ptr[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        s_exec.box.limits.nproc = (unsigned)value->via.array.ptr[0].via.u64;
        s_exec.box.limits.fsize_mb = (size_t)value->via.array.ptr[1].via.u64;
        s_exec.box.limits.nofile = (unsigned)value->via.array.ptr[2].via.u64;
        spec->sandbox = &s_exec.box;
    }
    value = s_exec_get (map, "shared");
    if (value && value->type == MSGPACK_OBJECT_BIN && value->via.bin.size > 0) {
        spec->shared_params = value->via.bin.ptr;
        spec->shared_params_size = value->via.bin.size;
    }
    if (!spec->template_path)
        s_exec_fail ("the trial's process got no template path");
    //  Limits first: a template's constructors run as it opens (the
    //  hostile suite's trial/allocate, /spin and /forkbomb did so unbounded).
    rfk_runner_child_limits (spec);
    value = s_exec_get (map, "confine");
    if (value && value->type == MSGPACK_OBJECT_BOOLEAN && value->via.boolean)
        s_exec_confine (spec);
    char err[512] = "";
    s_exec.tpl = rfk_template_open (spec->template_path, spec->task, err, sizeof err);
    if (!s_exec.tpl) {
        char reason[600];
        snprintf (reason, sizeof reason, "cannot open the template: %s", err);
        s_exec_fail (reason);
    }
    spec->api = rfk_template_api (s_exec.tpl);
    if (spec->knobs_json)
        s_exec_knobs_from_json (spec);
}

/* Runs before main () in every program that links the runner; acts only in
   a process spawned by rfk_runner_exec_spawn, which it never leaves. */
__attribute__ ((constructor)) static void
s_exec_entry (void)
{
    const char *env = getenv (RFK_EXEC_ENV);
    if (!env)
        return;
    int sock = -1, spec_fd = -1, parent = 0;
    unsigned uid = 0, gid = 0;
    int n = sscanf (env, "%d:%d:%d:%u:%u", &sock, &spec_fd, &parent, &uid, &gid);
    if (n < 3 || sock < 0 || spec_fd < 0)
        return; /* not ours to make sense of: carry on as the program */
    unsetenv (RFK_EXEC_ENV);
    /* A sandbox started as root (spec.self_drop): become the sandbox's uid
       before anything of the trial, or end here. */
    if (n == 5 && uid != 0 && rfk_sandbox_drop ((uid_t)uid, (gid_t)gid) != 0)
        _exit (3);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    /* parent 0: sandboxed, our parent is bwrap's, which dies with the runner */
    if (parent != 0 && getppid () != (pid_t)parent)
        _exit (3);
    s_exec.sock = sock;
    /* A template that calls exit () leaves through here, not through the
       child's _exit: free what we hold on that way out too. */
    atexit (s_exec_release);
    if (s_exec_read_spec (spec_fd) != 0)
        s_exec_fail ("the trial's process could not read its spec");
    s_exec_load_spec ();
    rfk_runner_child_main (&s_exec.spec, sock, (pid_t)parent); /* never returns */
}
