/*  rfk_config: Rafiki-C's configuration, read from one YAML file and the
    environment.

    Every key is declared once, in the table in rfk_config_keys.c, with its
    section, type, default, bounds and a one-line doc (as redis does). A
    configuration starts from those defaults; rfk_config_load_file () applies
    a YAML file, rfk_config_load_env () applies RAFIKI_<SECTION>_<KEY>
    environment variables (RAFIKI_<KEY> for top-level keys), and
    rfk_config_check () applies the rules that tie keys together.
    rfk_config_load () does all three in that order.

    Bad input never aborts: an unknown key, a wrong type or an out-of-range
    value makes the call return -1, and rfk_config_error () then holds one
    line per problem, each naming the key and where it came from
    ("FILE:LINE: bus.sndhwm: ..." or "RAFIKI_BUS_SNDHWM: bus.sndhwm: ...").
    A program prints that text and exits with status 1.

    Getters take the section ("" or NULL for top-level keys) and the key;
    asking for an undeclared key, or with the getter of another type, is a
    programmer error and asserts.

    A configuration is not changed after loading, so actors on other threads
    may read it concurrently.
*/
#ifndef RFK_CONFIG_H_INCLUDED
#define RFK_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RFK_CONFIG_INT,    //  64-bit signed integer, decimal
    RFK_CONFIG_FLOAT,  //  finite double
    RFK_CONFIG_BOOL,   //  true/false, yes/no, on/off, 1/0
    RFK_CONFIG_STRING, //  any text; `choices` may restrict it
    RFK_CONFIG_SIZE,   //  bytes: 1048576, 64MiB, 2 GiB, 512k, 10MB
} rfk_config_type_t;

//  The value is hidden in rfk_config_dump () (passwords, secrets).
#define RFK_CONFIG_SECRET 1u

//  One declared key. Default, min and max are written as in the YAML file
//  and parsed by the same code, so the table reads like the file.
typedef struct {
    const char *section;    //  "" for a top-level key
    const char *key;        //  lower case, [a-z0-9_]
    rfk_config_type_t type; //  how the value is parsed
    const char *value;      //  default
    const char *min;        //  lower bound (int, float, size), NULL: none
    const char *max;        //  upper bound (int, float, size), NULL: none
    const char *choices;    //  string: allowed values "a|b|c", NULL: any
    unsigned flags;         //  RFK_CONFIG_SECRET
    const char *doc;        //  one line: what the key does
} rfk_config_key_t;

typedef struct _rfk_config_t rfk_config_t;

//  The table of Rafiki-C's keys (rfk_config_keys.c) and its length.
extern const rfk_config_key_t rfk_config_keys[];
extern const size_t rfk_config_keys_count;

//  A configuration holding the defaults of Rafiki-C's table.
rfk_config_t *
rfk_config_new (void);

//  A configuration over another table (tests, tools); the table must
//  outlive the configuration. Returns NULL if a default in it is invalid.
rfk_config_t *
rfk_config_new_from (const rfk_config_key_t *table, size_t count);

//  Destroy; safe to call twice.
void
rfk_config_destroy (rfk_config_t **self_p);

//  Defaults, then the file at path (if not NULL), then the environment,
//  then the cross-key rules. 0, or -1 with every problem in
//  rfk_config_error (). A path that cannot be read is an error.
int
rfk_config_load (rfk_config_t *self, const char *path);

//  Apply one YAML file. 0 or -1.
int
rfk_config_load_file (rfk_config_t *self, const char *path);

//  Apply RAFIKI_* variables from envp (NULL: the process environment).
//  RAFIKI_<KEY> sets a top-level key, RAFIKI_<SECTION>_<KEY> a sectioned
//  one; a variable under a known section's prefix that names no key is an
//  error; other RAFIKI_* variables are left alone. 0 or -1.
int
rfk_config_load_env (rfk_config_t *self, char *const *envp);

//  Set one key from its text form; origin says where the text came from
//  (it prefixes error messages and shows in rfk_config_origin ()). 0 or -1.
int
rfk_config_set (rfk_config_t *self, const char *section, const char *key, const char *value,
                const char *origin);

//  Check the rules that tie keys together (e.g. heartbeat timeout above
//  the interval, distinct ports). 0 or -1.
int
rfk_config_check (rfk_config_t *self);

//  Every problem found so far, one per line, or NULL if none. Borrowed.
const char *
rfk_config_error (const rfk_config_t *self);

//  Typed getters. Section "" or NULL means top level.
int64_t
rfk_config_int (const rfk_config_t *self, const char *section, const char *key);
double
rfk_config_float (const rfk_config_t *self, const char *section, const char *key);
bool
rfk_config_bool (const rfk_config_t *self, const char *section, const char *key);
const char *
rfk_config_string (const rfk_config_t *self, const char *section, const char *key);
uint64_t
rfk_config_size (const rfk_config_t *self, const char *section, const char *key);

//  Where a key's value came from: "default", "FILE:LINE" or the
//  environment variable's name. Borrowed.
const char *
rfk_config_origin (const rfk_config_t *self, const char *section, const char *key);

//  "<data_dir>/<relative>" as a fresh string (the caller frees it), or
//  NULL if out of memory. relative NULL or "" gives data_dir itself.
char *
rfk_config_data_path (const rfk_config_t *self, const char *relative);

//  The edit (Levenshtein) distance between two names, for "did you mean" hints (case ignored
//  when fold_case). Names longer than 64 characters are 64 apart from anything.
size_t
rfk_config_edit_distance (const char *a, const char *b, bool fold_case);

//  Write the effective configuration as YAML that rfk_config_load_file ()
//  reads back, with each value's origin in a comment. Secrets that are set
//  are written as comments, so they never reach a log. 0 or -1 (write error).
int
rfk_config_dump (const rfk_config_t *self, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
