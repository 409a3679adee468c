/*  rafiki/template.h: opening model templates and handling knob values.

    Everyone who runs a template (trainer, inference worker, advisor,
    `rafiki model test`, admin's upload check) opens it with
    rfk_template_open, which dlopens the shared object, finds
    RAFIKI_MODEL_SYMBOL, and refuses it when the ABI version or the task is
    wrong or its knob table is broken.

    Knob values travel between advisor, admin and trainer as JSON objects,
    e.g. {"max_depth": 4, "eta": 0.1, "early_stop": true}; rfk_knobs_from_json
    turns one into the rafiki_knobs_t a template's create () takes, checking
    every value against the template's knob table.

    Functions return 0 / -1 (or NULL) and write a message naming what was
    wrong into err (at most errlen bytes, NUL-terminated).
*/
#ifndef RAFIKI_TEMPLATE_H_INCLUDED
#define RAFIKI_TEMPLATE_H_INCLUDED

#include <jansson.h>

#include "rafiki/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rfk_template rfk_template_t;

/* Opens the template at path: dlopen (RTLD_NOW | RTLD_LOCAL), find
   rafiki_model, check abi_version, the task (unless expected_task is NULL),
   the name, every function pointer and the knob table. NULL on failure. */
rfk_template_t *
rfk_template_open (const char *path, const char *expected_task, char *err, size_t errlen);

/* The template's table; valid until rfk_template_close. */
const rafiki_model_api_t *
rfk_template_api (const rfk_template_t *self);

/* The path it was opened from. */
const char *
rfk_template_path (const rfk_template_t *self);

/* Closes the template (dlclose). Every model it made must be destroyed
   first. NULL or *self_p NULL is a no-op. */
void
rfk_template_close (rfk_template_t **self_p);

/* Checks a knob table: names non-empty and unique, known types, FIXED and
   CATEGORICAL values of a known value type (strings non-NULL), CATEGORICAL
   with at least one value, INTEGER and FLOAT bounds finite with min <= max
   (INTEGER bounds whole numbers, log-scale FLOAT with min > 0, log-scale
   INTEGER with min >= 1), POLICY with
   a known policy. */
int
rfk_knob_table_check (const rafiki_knob_t *knobs, size_t n_knobs, char *err, size_t errlen);

/* Describes the knob table as a JSON array (new reference), one object per
   knob: {"name", "type": "FIXED"|"CATEGORICAL"|"INTEGER"|"FLOAT"|"POLICY",
   and "value" | "values" | "min","max","log_scale" | "policy": "EARLY_STOP"
   ...}. FLOAT always has "log_scale"; INTEGER has "log_scale": true only
   when set. NULL on allocation failure. */
json_t *
rfk_knob_table_to_json (const rafiki_knob_t *knobs, size_t n_knobs);

/* Makes knob values from a JSON object, checked against the table: an
   unknown knob, a value of the wrong type (INTEGER wants a JSON integer, or
   a real with no fraction; FLOAT a number; POLICY a boolean; CATEGORICAL one
   of its values; FIXED its value), or a value out of [min, max] is an error
   naming the knob. FIXED knobs missing from json get their value, POLICY
   knobs missing from json are false; a missing knob of another type is an
   error when require_all, else left out. Values
   come out in table order. On success out holds copies of every string;
   free it with rfk_knobs_free. */
int
rfk_knobs_from_json (const rafiki_knob_t *knobs, size_t n_knobs, const json_t *json,
                     bool require_all, rafiki_knobs_t *out, char *err, size_t errlen);

/* The knob values as a JSON object (new reference); NULL on allocation
   failure. */
json_t *
rfk_knobs_to_json (const rafiki_knobs_t *values);

/* Frees what rfk_knobs_from_json put in knobs and empties it. Safe twice. */
void
rfk_knobs_free (rafiki_knobs_t *knobs);

#ifdef __cplusplus
}
#endif

#endif
