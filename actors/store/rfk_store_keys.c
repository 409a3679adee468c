/*  rfk_store_keys.c: the store's serving keys (issue 14).

    An inference job created with auth "token" is queried with one of its
    serving keys; the store keeps only each key's hash (rfk_serving_keys.h),
    with a label and its creation time. Revoking a key deletes its row.
*/
#include "rfk_store_private.h"

rfk_serving_key_t *
rfk_store_create_serving_key (rfk_store_t *self, const rfk_serving_key_t *key)
{
    S_ENTER (self);
    return (rfk_serving_key_t *)rfk_row_create (self, &rfk_serving_key_kind, key, 0, NULL,
                                                "serving key: inference job not found");
}

RFK_STORE_GETTER (serving_key, rfk_serving_key_t)

int
rfk_store_list_serving_keys (rfk_store_t *self, const char *inference_job_id,
                             rfk_serving_key_t **keys_p, size_t *count_p)
{
    S_ENTER (self);
    *keys_p = NULL;
    *count_p = 0;
    if (!inference_job_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "serving keys: no inference job given");
        return -1;
    }
    int rc =
        rfk_row_select_array (self, &rfk_serving_key_kind,
                              "WHERE x.inference_job_id = $1 ORDER BY x.datetime_created, x.id",
                              inference_job_id, (void **)keys_p, count_p);
    if (rc == 0)
        rfk_store_ok (self);
    return rc;
}

int
rfk_store_delete_serving_key (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return rfk_row_delete (self, &rfk_serving_key_kind, id, "nothing");
}

void
rfk_serving_keys_free (rfk_serving_key_t **keys_p, size_t count)
{
    if (!keys_p || !*keys_p)
        return;
    for (size_t index = 0; index < count; index++)
        rfk_row_clear (&rfk_serving_key_kind, &(*keys_p)[index]);
    free (*keys_p);
    *keys_p = NULL;
}
