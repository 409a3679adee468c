/*  models/common/zoo_params.c: the head every template's parameter map
    starts with (template, version, schema), written and checked in one
    place, and the "not trained" refusal (see zoo.h). */
#include "zoo.h"

#include <stdlib.h>
#include <string.h>

int
rfk_zoo_check_trained (bool trained, const char *name, char *err, size_t errlen)
{
    if (trained)
        return 0;
    rfk_zoo_err (err, errlen, "%s: the model is not trained or loaded", name);
    return -1;
}

int
rfk_zoo_params_pack_head (msgpack_packer *pk, size_t n_keys, const char *name, int64_t version,
                          const rfk_zoo_schema_t *schema)
{
    if (msgpack_pack_map (pk, (uint32_t)n_keys) != 0 ||
        rfk_zoo_pack_key_str (pk, "template", name) != 0)
        return -1;
    if (version >= 0 && rfk_zoo_pack_key_int (pk, "version", version) != 0)
        return -1;
    if (schema && (rfk_zoo_pack_str (pk, "schema") != 0 || rfk_zoo_schema_pack (schema, pk) != 0))
        return -1;
    return 0;
}

int
rfk_zoo_params_check (const msgpack_object *params, const char *name, int64_t version, char *err,
                      size_t errlen)
{
    char *theirs = NULL;
    if (rfk_zoo_get_str (params, "template", &theirs, err, errlen) != 0)
        return -1;
    bool ours = strcmp (theirs, name) == 0;
    if (!ours)
        rfk_zoo_err (err, errlen, "parameters are %s's, not %s's", theirs, name);
    free (theirs);
    if (!ours)
        return -1;
    if (version < 0)
        return 0;
    int64_t found;
    if (rfk_zoo_get_int (params, "version", &found, err, errlen) != 0)
        return -1;
    if (found != version) {
        rfk_zoo_err (err, errlen, "%s: parameters version %" PRId64 " is not %" PRId64, name, found,
                     version);
        return -1;
    }
    return 0;
}

int
rfk_zoo_pack_failed (char *err, size_t errlen)
{
    rfk_zoo_err (err, errlen, "packing parameters failed");
    return -1;
}

rfk_zoo_schema_t *
rfk_zoo_params_open (const msgpack_object *params, const char *name, int64_t version,
                     bool need_classes, char *err, size_t errlen)
{
    if (rfk_zoo_params_check (params, name, version, err, errlen) != 0)
        return NULL;
    rfk_zoo_schema_t *schema =
        rfk_zoo_schema_unpack (rfk_zoo_map_get (params, "schema"), err, errlen);
    if (schema && need_classes && schema->n_classes == 0) {
        rfk_zoo_err (err, errlen, "%s: parameters have no classes", name);
        rfk_zoo_schema_destroy (&schema);
    }
    return schema;
}
