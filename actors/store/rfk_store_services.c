/*  rfk_store_services.c: the store's services, and the links that make a
    service an advisor or a trainer of a sub train job.

    A service is created on its own (rfk_store_create_service), with its
    link in one transaction (advisor, train job worker), or with its
    inference job (rfk_store_inference.c).
*/
#include "rfk_store_private.h"

rfk_service_t *
rfk_store_service_prepare (rfk_store_t *self, const rfk_service_t *service)
{
    rfk_service_t *copy =
        (rfk_service_t *)rfk_row_prepare (self, &rfk_service_kind, service, RFK_SERVICE_STARTED);
    if (copy && rfk_row_check (self, &rfk_service_kind, copy, true) != 0)
        rfk_service_destroy (&copy);
    if (copy && rfk_service_status_is_final (copy->status) && !copy->datetime_stopped)
        copy->datetime_stopped = strdup (copy->datetime_started);
    return copy;
}

RFK_STORE_GETTER (service, rfk_service_t)
RFK_STORE_SAVER (service, rfk_service_t)

rfk_service_t *
rfk_store_create_service (rfk_store_t *self, const rfk_service_t *service)
{
    S_ENTER (self);
    rfk_service_t *copy = rfk_store_service_prepare (self, service);
    if (!copy)
        return NULL;
    if (rfk_row_insert (self, &rfk_service_kind, copy, NULL, NULL) != 0) {
        rfk_service_destroy (&copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

int
rfk_store_update_service_status (rfk_store_t *self, const char *id, rfk_service_status_t status)
{
    S_ENTER (self);
    return rfk_row_set_status (self, &rfk_service_kind, id, (int)status);
}

int
rfk_store_touch_service (rfk_store_t *self, const char *id)
{
    S_ENTER (self);
    return rfk_row_stamp (self, &rfk_service_kind,
                          "UPDATE services SET datetime_heartbeat = $2 WHERE id = $1", id);
}

int
rfk_store_set_service_process (rfk_store_t *self, const char *id, int64_t pid, int64_t start_time)
{
    S_ENTER (self);
    if (!id || !*id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "service: id is required");
        return -1;
    }
    rfk_args_t args = {0};
    rfk_arg_text (&args, id);
    rfk_arg_int (&args, pid);
    rfk_arg_int (&args, start_time);
    int rc = rfk_store_run (self, "UPDATE services SET pid = $2, pid_start_time = $3 WHERE id = $1",
                            &args, NULL, NULL, NULL);
    if (rc == 0)
        rfk_store_fail (self, RFK_CODE_NOT_FOUND, "service '%.64s' not found", id);
    if (rc <= 0)
        return -1;
    rfk_store_ok (self);
    return 0;
}

zlistx_t *
rfk_store_list_services (rfk_store_t *self, bool active_only, const rfk_page_t *page)
{
    S_ENTER (self);
    rfk_args_t args = {0};
    if (rfk_arg_page (self, &args, page) != 0)
        return NULL;
    rfk_arg_int (&args, active_only ? 1 : 0);
    return rfk_row_select (self, &rfk_service_kind,
                           "WHERE ($3 = 0 OR x.status IN ('STARTED', 'DEPLOYING', 'RUNNING'))"
                           " ORDER BY x.datetime_started, x.id LIMIT $1 OFFSET $2",
                           &args);
}

/* ---- advisors and trainers ------------------------------------------- */

/* Inserts a service and then runs link_sql ($1 = sub train job id, $2 = the
   service id), in one transaction. */
static rfk_service_t *
s_create_linked_service (rfk_store_t *self, const char *sub_train_job_id,
                         const rfk_service_t *service, const char *link_sql)
{
    if (!sub_train_job_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "service: sub train job id is required");
        return NULL;
    }
    rfk_service_t *copy = rfk_store_service_prepare (self, service);
    if (!copy)
        return NULL;
    if (rfk_store_tx_begin (self) != 0) {
        rfk_service_destroy (&copy);
        return NULL;
    }
    char missing[160];
    snprintf (missing, sizeof missing, "sub train job '%.64s' not found", sub_train_job_id);
    rfk_args_t args = {0};
    rfk_arg_text (&args, sub_train_job_id);
    rfk_arg_text (&args, copy->id);
    int rc = -1;
    if (rfk_row_insert (self, &rfk_service_kind, copy, NULL, NULL) == 0)
        rc = rfk_store_run (self, link_sql, &args, NULL, NULL, missing);
    if (rc == 0)
        rfk_store_fail (self, RFK_CODE_NOT_FOUND, "%s", missing);
    if (rc <= 0 || rfk_store_tx_commit (self) != 0) {
        rfk_store_tx_rollback (self);
        rfk_service_destroy (&copy);
        return NULL;
    }
    rfk_store_ok (self);
    return copy;
}

rfk_service_t *
rfk_store_create_advisor (rfk_store_t *self, const char *sub_train_job_id,
                          const rfk_service_t *service)
{
    S_ENTER (self);
    return s_create_linked_service (
        self, sub_train_job_id, service,
        "UPDATE sub_train_jobs SET advisor_service_id = $2 WHERE id = $1");
}

rfk_service_t *
rfk_store_create_train_job_worker (rfk_store_t *self, const char *sub_train_job_id,
                                   const rfk_service_t *service)
{
    S_ENTER (self);
    return s_create_linked_service (
        self, sub_train_job_id, service,
        "INSERT INTO train_job_workers (sub_train_job_id, service_id) VALUES ($1, $2)");
}

rfk_train_job_worker_t *
rfk_store_get_train_job_worker (rfk_store_t *self, const char *service_id)
{
    S_ENTER (self);
    return (rfk_train_job_worker_t *)rfk_row_get_by (self, &rfk_train_job_worker_kind,
                                                     "WHERE x.service_id = $1", service_id,
                                                     "service id", "train job worker");
}

zlistx_t *
rfk_store_list_train_job_workers (rfk_store_t *self, const char *sub_train_job_id)
{
    S_ENTER (self);
    if (!sub_train_job_id) {
        rfk_store_fail (self, RFK_CODE_BAD_REQUEST,
                        "train job worker: sub train job id is required");
        return NULL;
    }
    rfk_args_t args = {0};
    rfk_arg_text (&args, sub_train_job_id);
    return rfk_row_select (self, &rfk_service_kind,
                           "JOIN train_job_workers w ON w.service_id = x.id"
                           " WHERE w.sub_train_job_id = $1 ORDER BY x.datetime_started, x.id",
                           &args);
}
