/*  rfk_train_args.h: reading a train job's train args, as users write them.

    Train args come from a user's job (JSON, the CLI, a YAML manifest), so a
    name may be in any case and a number or a flag may come as a string. The
    advisor reads its own (advisor, seed, EARLY_STOP, ...) through these.
*/
#ifndef RFK_TRAIN_ARGS_H_INCLUDED
#define RFK_TRAIN_ARGS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A number from JSON: an integer, a real or a numeric string; false when
   the value is none of those or not finite. */
bool
rfk_train_arg_number (const json_t *value, double *out);

/* A train arg by name, in any case ("advisor", "ADVISOR"), or NULL
   (borrowed). */
json_t *
rfk_train_arg (const json_t *train_args, const char *key);

/* A boolean train arg ("true", "1", "yes", "on", true, 1 ...), or dflt when
   absent or unclear. */
bool
rfk_train_arg_flag (const json_t *value, bool dflt);

#ifdef __cplusplus
}
#endif

#endif
