/*  rfk_config_internal.h: what the configuration module's files share
    (rfk_config.c: the table, values, environment, getters and dump;
    rfk_config_yaml.c: reading a YAML file). Not for callers: they use
    rfk_config.h.
*/
#ifndef RFK_CONFIG_INTERNAL_H_INCLUDED
#define RFK_CONFIG_INTERNAL_H_INCLUDED

#include "rfk_config.h"

#include <sys/types.h>

//  A parsed value; which member is live follows the key's type.
typedef union {
    int64_t i;  //  RFK_CONFIG_INT
    double f;   //  RFK_CONFIG_FLOAT
    bool b;     //  RFK_CONFIG_BOOL
    char *s;    //  RFK_CONFIG_STRING, owned
    uint64_t z; //  RFK_CONFIG_SIZE
} rfk_config_value_t;

//  The current value of one key.
typedef struct {
    rfk_config_value_t value; //  typed value
    char *origin;             //  "FILE:LINE" or env name, owned; NULL means default
    size_t line;              //  line that set it in the file being read, 0 if none
} rfk_config_slot_t;

struct _rfk_config_t {
    const rfk_config_key_t *table; //  declared keys, borrowed
    size_t count;                  //  entries in table
    rfk_config_slot_t *slots;      //  one per entry, same order
    char *error;                   //  problems so far, one per line, or NULL
    size_t error_len;              //  strlen (error)
};

//  Append one line to the error text; out of memory drops the line but the
//  caller still returns -1.
void
rfk_config_add_error (rfk_config_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  "bus.sndhwm", or "data_dir" for a top-level key, into buffer.
const char *
rfk_config_key_name (const rfk_config_key_t *entry, char *buffer, size_t size);

//  Index of a declared key, or -1.
ssize_t
rfk_config_find (const rfk_config_t *self, const char *section, const char *key);

//  True if some declared key lives in this (non-empty) section.
bool
rfk_config_is_section (const rfk_config_t *self, const char *name);

//  " (did you mean \"x\"?)" for the closest key of the section, or for the
//  closest top-level key or section name when section is "". Empty if no
//  name is close.
void
rfk_config_suggest (const rfk_config_t *self, const char *section, const char *name, char *buffer,
                    size_t size);

//  What a value of this type looks like, for messages ("an integer").
const char *
rfk_config_type_name (rfk_config_type_t type);

//  Parse, check and store a value for the entry at index. 0 or -1.
int
rfk_config_set_index (rfk_config_t *self, size_t index, const char *text, const char *origin);

#endif
