/*  rfk_admin_placement.c: what a service needs of a node, and where a predictor is.

    - Resources (rfk_admin_placement_spec): every service's launcher spec carries the CPUs and
      memory of its role (swarm.<role>_cpus, swarm.<role>_memory_mb; a trainer adds
      swarm.trial_memory_mb, as it runs one trial at a time) and, for trainers and inference
      workers, the GPUs of the job's budget (GPU_COUNT, per trainer and per inference
      worker). The swarm launcher reserves them (the scheduler places by reservations),
      limits them (times swarm.cpu_limit_ratio, swarm.memory_limit_ratio) and reserves GPUs as
      the generic resource swarm.gpu_resource. The local launcher ignores them.
    - The parts of the data dir a swarm service mounts (in the spec's sandbox): a trainer its
      job's two datasets and its model's template read-only and params/ read-write; an
      inference worker its template and its trial's parameters read-only; advisors and
      predictors nothing. Never the data dir itself.
    - GPUs at creation (rfk_admin_check_gpus): a job whose GPU_COUNT is above what one node
      offers is refused (409) naming both numbers. Under swarm a node offers the gpu generic
      resources it advertises (daemon.json node-generic-resources); under the local launcher,
      launcher.gpus (0 by default: a local admin refuses GPU jobs unless told the machine has
      GPUs to give).
    - Where a predictor is (rfk_admin_predictor_host): under swarm the address of the node
      its task runs on (rfk_launcher_swarm_node_addr), asked each time it reports RUNNING,
      so a predictor moved to another node is found there.
*/
#define _GNU_SOURCE
#include "rfk_admin_internal.h"

#include <string.h>

#include "rfk_launcher_swarm.h"

int
rfk_admin_check_gpus (rfk_admin_t *self, const rfk_msg_t *req, const json_t *budget,
                      rfk_msg_t **error)
{
    json_t *count = json_object_get (budget, "GPU_COUNT");
    int wanted = json_is_number (count) ? (int)json_number_value (count) : 0;
    if (wanted <= 0)
        return 0;
    int most = 0;
    if (self->swarm) {
        char why[512] = "";
        if (rfk_launcher_swarm_max_gpus (self->launcher, &most, why, sizeof why) != 0) {
            *error = rfk_admin_error (req, RFK_CODE_UNAVAILABLE,
                                      "cannot tell whether a node has %d GPUs: %s", wanted, why);
            return -1;
        }
        if (wanted > most) {
            *error = rfk_admin_error (
                req, RFK_CODE_CONFLICT,
                "field `budget.GPU_COUNT`: %d GPUs asked, but the largest any node of the swarm "
                "advertises is %d (generic resource `%s` in its daemon.json)",
                wanted, most, rfk_config_string (self->config, "swarm", "gpu_resource"));
            return -1;
        }
        return 0;
    }
    most = (int)rfk_config_int (self->config, "launcher", "gpus");
    if (wanted > most) {
        *error = rfk_admin_error (req, RFK_CODE_CONFLICT,
                                  "field `budget.GPU_COUNT`: %d GPUs asked, but this machine gives "
                                  "jobs %d under the local launcher (launcher.gpus)",
                                  wanted, most);
        return -1;
    }
    return 0;
}

/* The budget of the job a service belongs to (a new reference), or NULL. */
static json_t *
s_budget_of (rfk_admin_t *self, const rfk_admin_service_t *service)
{
    json_t *budget = NULL;
    if (service->train_job_id) {
        rfk_train_job_t *job = rfk_store_get_train_job (self->store, service->train_job_id);
        budget = job ? json_incref (job->budget) : NULL;
        rfk_train_job_destroy (&job);
    } else if (service->inference_job_id) {
        rfk_inference_job_t *job =
            rfk_store_get_inference_job (self->store, service->inference_job_id);
        budget = job ? json_incref (job->budget) : NULL;
        rfk_inference_job_destroy (&job);
    }
    return budget;
}

/* A trainer's parts of the data dir: its datasets and template (ro), params/<sub train job>/
   (rw). */
static void
s_trainer_parts (rfk_admin_t *self, const rfk_admin_service_t *service,
                 rfk_admin_placement_t *placement)
{
    rfk_sub_train_job_t *sub =
        service->sub_train_job_id
            ? rfk_store_get_sub_train_job (self->store, service->sub_train_job_id)
            : NULL;
    rfk_train_job_t *job = sub ? rfk_store_get_train_job (self->store, sub->train_job_id) : NULL;
    rfk_model_t *model = sub ? rfk_store_get_model (self->store, sub->model_id) : NULL;
    rfk_dataset_t *train = job ? rfk_store_get_dataset (self->store, job->train_dataset_id) : NULL;
    rfk_dataset_t *val = job ? rfk_store_get_dataset (self->store, job->val_dataset_id) : NULL;
    size_t n = 0;
    if (model && (placement->paths[n] = rfk_admin_model_path (self, model)))
        n++;
    if (train && (placement->paths[n] = rfk_admin_dataset_path (self, train)))
        n++;
    if (val && (placement->paths[n] = rfk_admin_dataset_path (self, val)))
        n++;
    placement->box.n_ro = n;
    //  Its own job's folder of params/ (the trainer writes there), not params/ itself.
    if (sub && !strchr (sub->id, '/') && !strstr (sub->id, "..") &&
        (placement->paths[n] = zsys_sprintf ("%s/%s", self->params_dir, sub->id))) {
        placement->box.rw_paths = (const char *const *)&placement->paths[n];
        placement->box.n_rw = 1;
    }
    rfk_dataset_destroy (&val);
    rfk_dataset_destroy (&train);
    rfk_model_destroy (&model);
    rfk_train_job_destroy (&job);
    rfk_sub_train_job_destroy (&sub);
}

/* An inference worker's parts: its template and its trial's parameters (ro). */
static void
s_worker_parts (rfk_admin_t *self, const rfk_admin_service_t *service,
                rfk_admin_placement_t *placement)
{
    rfk_trial_t *trial =
        service->trial_id ? rfk_store_get_trial (self->store, service->trial_id) : NULL;
    rfk_model_t *model =
        trial && trial->model_id ? rfk_store_get_model (self->store, trial->model_id) : NULL;
    size_t n = 0;
    if (model && (placement->paths[n] = rfk_admin_model_path (self, model)))
        n++;
    if (trial && trial->store_params_id &&
        (placement->paths[n] =
             trial->store_params_id[0] == '/'
                 ? strdup (trial->store_params_id)
                 : zsys_sprintf ("%s/%s", self->params_dir, trial->store_params_id)))
        n++;
    placement->box.n_ro = n;
    rfk_model_destroy (&model);
    rfk_trial_destroy (&trial);
}

void
rfk_admin_placement_spec (rfk_admin_t *self, const rfk_admin_service_t *service,
                          rfk_launcher_spec_t *spec, rfk_admin_placement_t *placement)
{
    memset (placement, 0, sizeof *placement);
    const char *role = service->role;
    char key[64];
    snprintf (key, sizeof key, "%s_cpus", role);
    spec->cpus = rfk_config_float (self->config, "swarm", key);
    snprintf (key, sizeof key, "%s_memory_mb", role);
    int64_t memory_mb = rfk_config_int (self->config, "swarm", key);
    if (streq (role, "trainer"))
        memory_mb += rfk_config_int (self->config, "swarm", "trial_memory_mb");
    spec->memory_bytes = memory_mb * 1024 * 1024;
    if (streq (role, "trainer") || streq (role, "inference")) {
        json_t *budget = s_budget_of (self, service);
        json_t *count = json_object_get (budget, "GPU_COUNT");
        spec->gpus = json_is_number (count) ? (int)json_number_value (count) : 0;
        json_decref (budget);
    }
    if (!self->swarm)
        return;
    placement->box.ro_paths = (const char *const *)placement->paths;
    if (streq (role, "trainer"))
        s_trainer_parts (self, service, placement);
    else if (streq (role, "inference"))
        s_worker_parts (self, service, placement);
    //  Always a spec under swarm: no sandbox there means no part of the data dir at all.
    spec->sandbox = &placement->box;
}

void
rfk_admin_placement_free (rfk_admin_placement_t *placement)
{
    for (size_t i = 0; i < sizeof placement->paths / sizeof placement->paths[0]; i++)
        zstr_free (&placement->paths[i]);
}

const char *
rfk_admin_predictor_host (rfk_admin_t *self, const char *service_id, char *host, size_t size)
{
    if (!self->swarm || rfk_launcher_swarm_node_addr (self->launcher, service_id, host, size))
        return NULL;
    return host;
}
