/*  rfk_store_users.c: the store's users, datasets and models.

    Each is a record with no children, written and read through its
    descriptor table (rfk_store_records.c) by the generic row binding.
*/
#include "rfk_store_private.h"

/* A page of a kind's records of one owner (or all when owner_id is NULL
   and the tail allows it), of one task when task is given: tail has the
   owner as $3 and the task as $4. */
static zlistx_t *
s_list_owned (rfk_store_t *self, const rfk_kind_t *kind, const char *owner_id, const char *task,
              const rfk_page_t *page, const char *tail)
{
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    rfk_arg_text (&args, owner_id);
    rfk_arg_text (&args, task);
    return rfk_row_select (self, kind, tail, &args);
}

/* ---- users ----------------------------------------------------------- */

rfk_user_t *
rfk_store_create_user (rfk_store_t *self, const rfk_user_t *user)
{
    S_ENTER (self);
    char duplicate[160];
    snprintf (duplicate, sizeof duplicate, "a user with email '%.64s' exists",
              user && user->email ? user->email : "");
    return (rfk_user_t *)rfk_row_create (self, &rfk_user_kind, user, 0, duplicate, NULL);
}

RFK_STORE_GETTER (user, rfk_user_t)

rfk_user_t *
rfk_store_get_user_by_email (rfk_store_t *self, const char *email)
{
    S_ENTER (self);
    return (rfk_user_t *)rfk_row_get_by (self, &rfk_user_kind, "WHERE x.email = $1", email, "email",
                                         "user with email");
}

zlistx_t *
rfk_store_list_users (rfk_store_t *self, const rfk_page_t *page)
{
    S_ENTER (self);
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    return rfk_row_select (self, &rfk_user_kind,
                           "ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2", &args);
}

int
rfk_store_ban_user (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return rfk_row_stamp (self, &rfk_user_kind,
                          "UPDATE users SET banned_date = COALESCE(banned_date, $2) WHERE id = $1",
                          id);
}

/* ---- datasets -------------------------------------------------------- */

rfk_dataset_t *
rfk_store_create_dataset (rfk_store_t *self, const rfk_dataset_t *dataset)
{
    S_ENTER (self);
    char missing[160];
    snprintf (missing, sizeof missing, "dataset: owner '%.64s' not found",
              dataset && dataset->owner_id ? dataset->owner_id : "");
    return (rfk_dataset_t *)rfk_row_create (self, &rfk_dataset_kind, dataset, 0, NULL, missing);
}

RFK_STORE_GETTER (dataset, rfk_dataset_t)

zlistx_t *
rfk_store_list_datasets (rfk_store_t *self, const char *owner_id, const char *task,
                         const rfk_page_t *page)
{
    S_ENTER (self);
    if (!owner_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "dataset: owner_id is required");
        return NULL;
    }
    return s_list_owned (self, &rfk_dataset_kind, owner_id, task, page,
                         "WHERE x.owner_id = $3"
                         " AND (CAST($4 AS TEXT) IS NULL OR x.task = $4)"
                         " ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2");
}

int
rfk_store_delete_dataset (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return rfk_row_delete (self, &rfk_dataset_kind, id, "a train job");
}

/* ---- models ---------------------------------------------------------- */

rfk_model_t *
rfk_store_create_model (rfk_store_t *self, const rfk_model_t *model)
{
    S_ENTER (self);
    char duplicate[160], missing[160];
    snprintf (duplicate, sizeof duplicate, "the user already has a model named '%.64s'",
              model && model->name ? model->name : "");
    snprintf (missing, sizeof missing, "model: user '%.64s' not found",
              model && model->user_id ? model->user_id : "");
    return (rfk_model_t *)rfk_row_create (self, &rfk_model_kind, model, 0, duplicate, missing);
}

RFK_STORE_GETTER (model, rfk_model_t)

rfk_model_t *
rfk_store_get_model_by_name (rfk_store_t *self, const char *user_id, const char *name)
{
    S_ENTER (self);
    if (!user_id || !name) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "model: user_id and name are required");
        return NULL;
    }
    char what[160];
    snprintf (what, sizeof what, "model '%.64s'", name);
    rfk_args_t args = {0};
    rfk_arg_text (&args, user_id);
    rfk_arg_text (&args, name);
    return (rfk_model_t *)rfk_row_select_one (self, &rfk_model_kind,
                                              "WHERE x.user_id = $1 AND x.name = $2", &args, what);
}

zlistx_t *
rfk_store_list_models (rfk_store_t *self, const char *user_id, const char *task,
                       const rfk_page_t *page)
{
    S_ENTER (self);
    return s_list_owned (self, &rfk_model_kind, user_id, task, page,
                         "WHERE (CAST($3 AS TEXT) IS NULL OR x.user_id = $3)"
                         " AND (CAST($4 AS TEXT) IS NULL OR x.task = $4)"
                         " ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2");
}

zlistx_t *
rfk_store_list_available_models (rfk_store_t *self, const char *user_id, const char *task,
                                 const rfk_page_t *page)
{
    S_ENTER (self);
    if (!user_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "model: user_id is required");
        return NULL;
    }
    return s_list_owned (self, &rfk_model_kind, user_id, task, page,
                         "WHERE (x.user_id = $3 OR x.access_right = 'PUBLIC')"
                         " AND (CAST($4 AS TEXT) IS NULL OR x.task = $4)"
                         " ORDER BY x.datetime_created, x.id LIMIT $1 OFFSET $2");
}

int
rfk_store_delete_model (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return rfk_row_delete (self, &rfk_model_kind, id, "a train job");
}
