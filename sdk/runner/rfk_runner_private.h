/*  rfk_runner_private: what the runner's three parts share, and nobody else.

    rfk_runner.c is the parent (start, watch, reap), rfk_runner_child.c the
    child (limits, the template's calls, records to the parent) and
    rfk_runner_exec.c the exec form (the spec in a sealed memory file, the
    spawn, and the entry of the exec'd process). The wire between parent and
    child is described in rfk_runner.c.
*/
#ifndef RFK_RUNNER_PRIVATE_H_INCLUDED
#define RFK_RUNNER_PRIVATE_H_INCLUDED

#include "rfk_runner.h"

#include <msgpack.h>
#include <sys/types.h>

/* Record types on the wire. */
enum {
    RFK_REC_LOG = 1,
    RFK_REC_METRICS = 2,
    RFK_REC_PLOT = 3,
    RFK_REC_PROGRESS = 4,
    RFK_REC_RESULT = 5,
    RFK_REC_MEMORY = 6
};

#define RFK_RECORD_MAX (1u << 20) /* the largest record the parent accepts */
#define RFK_LOG_MAX (16u << 10)   /* the child truncates longer log lines */
#define RFK_METRICS_MAX 256       /* the child drops metrics beyond this many */
#define RFK_RUNNER_PARAMS_FILE                                                                     \
    "params.msgpack" /* a sandboxed trial's parameters, in its folder                              \
                      */

/* The child's side of a trial, in the forked or exec'd process: set up the
   limits, run the trial (or spec->body), send its records to the parent on
   fd, and _exit. Never returns. (rfk_runner_child.c) */
void
rfk_runner_child_main (const rfk_trial_spec_t *spec, int fd, pid_t parent)
    __attribute__ ((noreturn));

/* The trial's limits (memory relative to what the process maps now, CPU
   seconds, a sandboxed trial's processes, file size and descriptors), set
   once per process: the exec'd child sets them before it opens the
   template, so that its constructors run within them too.
   (rfk_runner_child.c) */
void
rfk_runner_child_limits (const rfk_trial_spec_t *spec);

/* Send the trial's RESULT record on fd (a child that cannot run the trial
   at all reports through this). (rfk_runner_child.c) */
void
rfk_runner_child_result (int fd, rfk_trial_status_t status, double score, const char *error);

/* Pack s as a msgpack string of at most max bytes ("" for NULL).
   (rfk_runner_child.c) */
void
rfk_runner_pack_str (msgpack_packer *pk, const char *s, size_t max);

/* A msgpack string as a new C string; NULL if it is not one. (rfk_runner.c) */
char *
rfk_runner_obj_strdup (const msgpack_object *o);

/* The exec form, parent side: hand the spec to a fresh process of this
   program that runs the child's side on sock. Its pid, or -1 with err.
   (rfk_runner_exec.c) */
pid_t
rfk_runner_exec_spawn (const rfk_trial_spec_t *spec, int sock, char *err, size_t errlen);

#endif
