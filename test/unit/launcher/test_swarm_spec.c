/*  test_swarm_spec.c: the Docker service spec the swarm launcher sends for a Rafiki service,
    checked as JSON without an engine: resources (reservations, limits, a GPU as the generic
    resource `gpu`), placement constraints per role, both published ports of a predictor, the
    hardening (user, read-only root fs, no capabilities, no new privileges) and the mounts
    (only the listed parts of the data dir, never the data dir itself).
*/
#define _GNU_SOURCE
#include "rfk_launcher_swarm_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

//  A backend state as rfk_launcher_new_swarm fills it, without an engine.
static rfk_swarm_t *
s_swarm_new (void)
{
    rfk_swarm_t *self = calloc (1, sizeof *self);
    rfk_launcher_swarm_config_defaults (&self->config);
    self->image = strdup ("rafiki-c:latest");
    self->rafikid_path = strdup ("/usr/bin/rafikid");
    self->service_config = strdup ("");
    self->network = strdup ("rafiki");
    self->data_dir = strdup ("/var/lib/rafiki");
    self->data_source = strdup ("/srv/rafiki");
    self->data_target = strdup ("/var/lib/rafiki");
    self->admin_host = strdup ("rafiki-admin");
    self->name_prefix = strdup ("rafiki-");
    self->instance = strdup ("default");
    self->constraints = strdup ("node.labels.rafiki==yes");
    self->gpu_resource = strdup ("gpu");
    self->gpu_constraint = strdup ("");
    self->train_constraints = strdup ("node.labels.rafiki.role==training");
    self->serve_constraints = strdup (" node.labels.rafiki.role==serving , node.role==worker");
    self->service_user = strdup ("10001:10001");
    return self;
}

static void
s_swarm_destroy (rfk_swarm_t *self)
{
    char **strings[] = {&self->image,          &self->rafikid_path,      &self->service_config,
                        &self->network,        &self->data_dir,          &self->data_source,
                        &self->data_target,    &self->admin_host,        &self->name_prefix,
                        &self->instance,       &self->constraints,       &self->gpu_resource,
                        &self->gpu_constraint, &self->train_constraints, &self->serve_constraints,
                        &self->service_user};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free (*strings[i]);
    free (self);
}

//  A path inside the spec ("TaskTemplate.Resources.Limits"), or NULL.
static json_t *
s_at (json_t *spec, const char *path)
{
    char copy[256];
    snprintf (copy, sizeof copy, "%s", path);
    json_t *at = spec;
    char *saved = NULL;
    for (char *key = strtok_r (copy, ".", &saved); key && at; key = strtok_r (NULL, ".", &saved))
        at = json_object_get (at, key);
    return at;
}

static json_int_t
s_int (json_t *spec, const char *path)
{
    json_t *value = s_at (spec, path);
    assert_non_null (value);
    return json_integer_value (value);
}

//  Whether the container's environment holds an entry.
static bool
s_env_has (json_t *spec, const char *entry)
{
    size_t index;
    json_t *item;
    json_array_foreach (s_at (spec, "TaskTemplate.ContainerSpec.Env"), index,
                        item) if (!strcmp (json_string_value (item), entry)) return true;
    return false;
}

//  Usage: a trainer of a budget with GPU_COUNT 1 reserves one `gpu` generic resource, its
//  CPUs and memory, and is limited to ratio times them.
static void
test_trainer_with_a_gpu (void **state)
{
    (void)state;
    rfk_swarm_t *self = s_swarm_new ();
    const char *ro[] = {"/var/lib/rafiki/models/m.so", "/var/lib/rafiki/datasets/d.csv",
                        "/etc/passwd"};
    const char *rw[] = {"/var/lib/rafiki/params"};
    rfk_sandbox_spec_t parts = {.ro_paths = ro, .n_ro = 3, .rw_paths = rw, .n_rw = 1};
    rfk_launcher_spec_t spec = {.id = "t-1",
                                .role = "trainer",
                                .secret = "s",
                                .cpus = 0.25,
                                .memory_bytes = 768LL << 20,
                                .gpus = 1,
                                .sandbox = &parts};
    json_t *body = rfk_swarm_service_spec (self, &spec, "rafiki-t-1", "secret-id");
    assert_non_null (body);
    json_t *generic = s_at (body, "TaskTemplate.Resources.Reservations.GenericResources");
    assert_int_equal (json_array_size (generic), 1);
    json_t *gpu = json_object_get (json_array_get (generic, 0), "DiscreteResourceSpec");
    assert_string_equal (json_string_value (json_object_get (gpu, "Kind")), "gpu");
    assert_int_equal (json_integer_value (json_object_get (gpu, "Value")), 1);
    assert_int_equal (s_int (body, "TaskTemplate.Resources.Reservations.NanoCPUs"), 250000000);
    assert_int_equal (s_int (body, "TaskTemplate.Resources.Limits.NanoCPUs"), 1000000000);
    assert_int_equal (s_int (body, "TaskTemplate.Resources.Reservations.MemoryBytes"), 768LL << 20);
    assert_int_equal (s_int (body, "TaskTemplate.Resources.Limits.MemoryBytes"), 1536LL << 20);
    assert_true (s_env_has (body, "RAFIKI_GPU_COUNT=1"));
    //  Placement: every service's constraints, then the training side's.
    json_t *constraints = s_at (body, "TaskTemplate.Placement.Constraints");
    assert_int_equal (json_array_size (constraints), 2);
    assert_string_equal (json_string_value (json_array_get (constraints, 1)),
                         "node.labels.rafiki.role==training");
    //  Mounts: /tmp, its log folder, the two parts read-only and params/ read-write; the
    //  path outside the data dir is not mounted.
    json_t *mounts = s_at (body, "TaskTemplate.ContainerSpec.Mounts");
    assert_int_equal (json_array_size (mounts), 5);
    json_t *model = json_array_get (mounts, 2);
    assert_string_equal (json_string_value (json_object_get (model, "Source")),
                         "/srv/rafiki/models/m.so");
    assert_string_equal (json_string_value (json_object_get (model, "Target")),
                         "/var/lib/rafiki/models/m.so");
    assert_true (json_is_true (json_object_get (model, "ReadOnly")));
    json_t *params = json_array_get (mounts, 4);
    assert_string_equal (json_string_value (json_object_get (params, "Source")),
                         "/srv/rafiki/params");
    assert_true (json_is_false (json_object_get (params, "ReadOnly")));
    size_t index;
    json_t *mount;
    json_array_foreach (mounts, index, mount)
    {
        const char *source = json_string_value (json_object_get (mount, "Source"));
        assert_true (!source || strcmp (source, "/srv/rafiki"));
    }
    json_decref (body);
    s_swarm_destroy (self);
}

//  No GPU asked: no generic resource.
static void
test_no_gpu_no_generic_resource (void **state)
{
    (void)state;
    rfk_swarm_t *self = s_swarm_new ();
    rfk_launcher_spec_t spec = {.id = "a-1", .role = "advisor", .secret = "s", .cpus = 0.1};
    json_t *body = rfk_swarm_service_spec (self, &spec, "rafiki-a-1", "secret-id");
    assert_null (s_at (body, "TaskTemplate.Resources.Reservations.GenericResources"));
    assert_null (s_at (body, "TaskTemplate.Resources.Reservations.MemoryBytes"));
    //  Nothing of the data dir: /tmp and its own log folder only.
    json_t *mounts = s_at (body, "TaskTemplate.ContainerSpec.Mounts");
    assert_int_equal (json_array_size (mounts), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (mounts, 1), "Source")),
                         "/srv/rafiki/logs/a-1");
    assert_string_equal (json_string_value (json_object_get (json_array_get (mounts, 1), "Target")),
                         "/var/lib/rafiki/logs");
    json_decref (body);
    s_swarm_destroy (self);
}

//  A predictor publishes its HTTP and query ports in host mode and is placed by the serving
//  side's constraints.
static void
test_predictor_publishes_both_ports (void **state)
{
    (void)state;
    rfk_swarm_t *self = s_swarm_new ();
    rfk_launcher_spec_t spec = {.id = "p-1",
                                .role = "predictor",
                                .secret = "s",
                                .published_port = 31000,
                                .published_port2 = 31001};
    json_t *body = rfk_swarm_service_spec (self, &spec, "rafiki-p-1", "secret-id");
    json_t *ports = s_at (body, "EndpointSpec.Ports");
    assert_int_equal (json_array_size (ports), 2);
    for (int i = 0; i < 2; i++) {
        json_t *port = json_array_get (ports, (size_t)i);
        assert_int_equal (json_integer_value (json_object_get (port, "PublishedPort")), 31000 + i);
        assert_int_equal (json_integer_value (json_object_get (port, "TargetPort")), 31000 + i);
        assert_string_equal (json_string_value (json_object_get (port, "PublishMode")), "host");
    }
    assert_string_equal (json_string_value (s_at (body, "EndpointSpec.Mode")), "dnsrr");
    json_t *constraints = s_at (body, "TaskTemplate.Placement.Constraints");
    assert_int_equal (json_array_size (constraints), 3);
    assert_string_equal (json_string_value (json_array_get (constraints, 1)),
                         "node.labels.rafiki.role==serving");
    assert_string_equal (json_string_value (json_array_get (constraints, 2)), "node.role==worker");
    json_decref (body);
    s_swarm_destroy (self);
}

//  Every service: a non-root user (its secret file readable by it alone), a read-only root
//  fs, no capabilities, no new privileges, and no seccomp override (Docker's default).
static void
test_hardening (void **state)
{
    (void)state;
    rfk_swarm_t *self = s_swarm_new ();
    rfk_launcher_spec_t spec = {.id = "i-1", .role = "inference", .secret = "s"};
    json_t *body = rfk_swarm_service_spec (self, &spec, "rafiki-i-1", "secret-id");
    json_t *container = s_at (body, "TaskTemplate.ContainerSpec");
    assert_string_equal (json_string_value (json_object_get (container, "User")), "10001:10001");
    assert_true (json_is_true (json_object_get (container, "ReadOnly")));
    json_t *drop = json_object_get (container, "CapabilityDrop");
    assert_int_equal (json_array_size (drop), 1);
    assert_string_equal (json_string_value (json_array_get (drop, 0)), "ALL");
    assert_true (json_is_true (s_at (container, "Privileges.NoNewPrivileges")));
    assert_null (s_at (container, "Privileges.Seccomp"));
    json_t *file =
        json_object_get (json_array_get (json_object_get (container, "Secrets"), 0), "File");
    assert_string_equal (json_string_value (json_object_get (file, "UID")), "10001");
    assert_int_equal (json_integer_value (json_object_get (file, "Mode")), 0400);
    //  No secret of the platform in its environment.
    size_t index;
    json_t *entry;
    json_array_foreach (json_object_get (container, "Env"), index, entry)
    {
        assert_null (strstr (json_string_value (entry), "PASSWORD"));
        assert_null (strstr (json_string_value (entry), "JWT"));
        assert_null (strstr (json_string_value (entry), "STORE_URL"));
    }
    json_decref (body);
    s_swarm_destroy (self);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_trainer_with_a_gpu),
        cmocka_unit_test (test_no_gpu_no_generic_resource),
        cmocka_unit_test (test_predictor_publishes_both_ports),
        cmocka_unit_test (test_hardening),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
