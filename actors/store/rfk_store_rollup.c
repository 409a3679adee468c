/*  rfk_store_rollup.c: what the store gives admin's roll-ups.

    A roll-up decides a job's status from its services'. It reads a job,
    its sub train jobs and the status of every service of it in one call
    (rfk_store_get_job_state), and writes several statuses in one
    transaction (rfk_store_set_statuses).
*/
#include "rfk_store_private.h"

/* The services of a train job (by sub train job) or an inference job. */
static int
s_load_job_services (rfk_store_t *self, rfk_job_state_t *state, const char *job_id, bool train)
{
    const char *sql =
        train ? "SELECT s.id, s.service_type, s.status, j.id FROM services s"
                " JOIN sub_train_jobs j ON j.advisor_service_id = s.id WHERE j.train_job_id = $1"
                " UNION ALL SELECT s.id, s.service_type, s.status, w.sub_train_job_id"
                " FROM services s JOIN train_job_workers w ON w.service_id = s.id"
                " JOIN sub_train_jobs j ON j.id = w.sub_train_job_id WHERE j.train_job_id = $1"
              : "SELECT s.id, s.service_type, s.status, CAST(NULL AS TEXT) FROM services s"
                " JOIN inference_jobs j ON j.predictor_service_id = s.id WHERE j.id = $1"
                " UNION ALL SELECT s.id, s.service_type, s.status, CAST(NULL AS TEXT)"
                " FROM services s JOIN inference_job_workers w ON w.service_id = s.id"
                " WHERE w.inference_job_id = $1";
    rfk_args_t args = {0};
    rfk_arg_text (&args, job_id);
    return rfk_row_load_array (self, &rfk_job_service_kind, sql, &args, (void **)&state->services,
                               &state->service_count);
}

rfk_job_state_t *
rfk_store_get_job_state (rfk_store_t *self, const char *train_job_id, const char *inference_job_id)
{
    S_ENTER (self);
    rfk_job_state_t *state = (rfk_job_state_t *)calloc (1, sizeof *state);
    if (!state) {
        rfk_store_fail (self, RFK_CODE_UNAVAILABLE, "out of memory");
        return NULL;
    }
    if (train_job_id)
        state->train_job = rfk_store_train_job_done (
            self, (rfk_train_job_t *)rfk_row_get (self, &rfk_train_job_kind, train_job_id));
    else
        state->inference_job = rfk_store_inference_job_done (
            self,
            (rfk_inference_job_t *)rfk_row_get (self, &rfk_inference_job_kind, inference_job_id));
    if ((!state->train_job && !state->inference_job) ||
        s_load_job_services (self, state, train_job_id ? train_job_id : inference_job_id,
                             train_job_id != NULL) != 0) {
        rfk_job_state_destroy (&state);
        return NULL;
    }
    rfk_store_ok (self);
    return state;
}

void
rfk_job_state_destroy (rfk_job_state_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rfk_job_state_t *self = *self_p;
    rfk_train_job_destroy (&self->train_job);
    rfk_inference_job_destroy (&self->inference_job);
    for (size_t index = 0; index < self->service_count; index++)
        rfk_row_clear (&rfk_job_service_kind, &self->services[index]);
    free (self->services);
    free (self);
    *self_p = NULL;
}

/* One status change of rfk_store_set_statuses. */
static int
s_status_change (rfk_store_t *self, const rfk_status_change_t *change)
{
    switch (change->of) {
        case RFK_STATUS_OF_SERVICE:
            return rfk_row_set_status (self, &rfk_service_kind, change->id,
                                       (int)change->status.service);
        case RFK_STATUS_OF_SUB_TRAIN_JOB:
            return rfk_row_set_status (self, &rfk_sub_train_job_kind, change->id,
                                       (int)change->status.job);
        case RFK_STATUS_OF_TRAIN_JOB:
            return rfk_row_set_status (self, &rfk_train_job_kind, change->id,
                                       (int)change->status.job);
        case RFK_STATUS_OF_INFERENCE_JOB:
            return rfk_store_inference_job_status (self, change->id, change->status.job);
    }
    rfk_store_fail (self, RFK_CODE_BAD_REQUEST, "status change: unknown record");
    return -1;
}

int
rfk_store_set_statuses (rfk_store_t *self, const rfk_status_change_t *changes, size_t count)
{
    S_ENTER (self);
    if (count == 0) {
        rfk_store_ok (self);
        return 0;
    }
    assert (changes);
    if (count == 1)
        return s_status_change (self, &changes[0]);
    if (rfk_store_tx_begin (self) != 0)
        return -1;
    int rc = 0;
    for (size_t index = 0; rc == 0 && index < count; index++)
        rc = s_status_change (self, &changes[index]);
    if (rfk_store_tx_end (self, rc) != 0)
        return -1;
    rfk_store_ok (self);
    return 0;
}
