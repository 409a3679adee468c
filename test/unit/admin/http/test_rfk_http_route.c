/*  test_rfk_http_route.c: the REST API's routing table, method + path to an
    admin request type and its path parameters.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rfk_http_route.h"

/* Usage: find the route of a request and read its path parameters. */
static void
test_usage (void **state)
{
    (void)state;
    const rfk_http_route_t *route;
    json_t *params = json_object ();
    char allow[64];
    assert_int_equal (
        rfk_http_route_find ("GET", "/train_jobs/fashion/3", &route, params, allow, sizeof allow),
        RFK_HTTP_ROUTE_FOUND);
    assert_string_equal (route->type, "GetTrainJob");
    assert_string_equal (route->endpoint, "GET /train_jobs/{app}/{app_version}");
    assert_string_equal (json_string_value (json_object_get (params, "app")), "fashion");
    assert_string_equal (json_string_value (json_object_get (params, "app_version")), "3");
    json_decref (params);
}

/* Every endpoint of API.md routes to its request type. */
static void
test_every_endpoint (void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *type;
        rfk_http_route_kind_t kind;
    } cases[] = {
        {"POST", "/tokens", "Login", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/users", "ListUsers", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/users", "CreateUser", RFK_HTTP_ROUTE_REQUEST},
        {"DELETE", "/users", "BanUser", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/me", "GetMe", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/datasets", "UploadStart", RFK_HTTP_ROUTE_UPLOAD_DATASET},
        {"GET", "/datasets", "ListDatasets", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/datasets/d1", "GetDataset", RFK_HTTP_ROUTE_REQUEST},
        {"DELETE", "/datasets/d1", "DeleteDataset", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/models", "UploadStart", RFK_HTTP_ROUTE_UPLOAD_MODEL},
        {"GET", "/models", "ListAvailableModels", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/models/available", "ListAvailableModels", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/models/m1", "GetModel", RFK_HTTP_ROUTE_REQUEST},
        {"DELETE", "/models/m1", "DeleteModel", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/models/m1/model_file", "GetModelFile", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/train_jobs", "CreateTrainJob", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/train_jobs", "ListTrainJobs", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/train_jobs/app", "GetTrainJobsOfApp", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/train_jobs/app/1", "GetTrainJob", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/train_jobs/app/1/stop", "StopTrainJob", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/train_jobs/app/1/trials", "ListTrials", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/trials/t1", "GetTrial", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/trials/t1/logs", "GetTrialLogs", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/trials/t1/parameters", "GetTrialParameters", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/inference_jobs", "CreateInferenceJob", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/inference_jobs", "ListInferenceJobs", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/inference_jobs/app", "GetInferenceJobsOfApp", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/inference_jobs/app/-1", "GetInferenceJob", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/inference_jobs/app/-1/stop", "StopInferenceJob", RFK_HTTP_ROUTE_REQUEST},
        {"POST", "/actions/stop_all_jobs", "StopAllJobs", RFK_HTTP_ROUTE_REQUEST},
        {"GET", "/healthz", NULL, RFK_HTTP_ROUTE_HEALTHZ},
        {"GET", "/metrics", NULL, RFK_HTTP_ROUTE_METRICS},
        {"HEAD", "/healthz", NULL, RFK_HTTP_ROUTE_HEALTHZ},
        {"GET", "/datasets/", "ListDatasets", RFK_HTTP_ROUTE_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rfk_http_route_t *route = NULL;
        rfk_http_route_result_t rc =
            rfk_http_route_find (cases[i].method, cases[i].path, &route, NULL, NULL, 0);
        if (rc != RFK_HTTP_ROUTE_FOUND)
            fail_msg ("%s %s: not found", cases[i].method, cases[i].path);
        if (cases[i].type)
            assert_string_equal (route->type, cases[i].type);
        assert_int_equal (route->kind, cases[i].kind);
        assert_true (rfk_http_route_is_api (cases[i].path));
    }
}

/* Literal segments win over parameters, whatever the method. */
static void
test_literal_wins (void **state)
{
    (void)state;
    const rfk_http_route_t *route;
    char allow[64];
    assert_int_equal (
        rfk_http_route_find ("DELETE", "/models/available", &route, NULL, allow, sizeof allow),
        RFK_HTTP_ROUTE_NO_METHOD);
    assert_string_equal (allow, "GET");
    assert_int_equal (
        rfk_http_route_find ("GET", "/train_jobs/a/1/stop", &route, NULL, allow, sizeof allow),
        RFK_HTTP_ROUTE_NO_METHOD);
    assert_string_equal (allow, "POST");
}

/* Unknown paths and methods are told apart. */
static void
test_unknown (void **state)
{
    (void)state;
    const rfk_http_route_t *route;
    char allow[64];
    assert_int_equal (rfk_http_route_find ("GET", "/nope", &route, NULL, allow, sizeof allow),
                      RFK_HTTP_ROUTE_NOT_FOUND);
    assert_null (route);
    assert_int_equal (
        rfk_http_route_find ("GET", "/trials/t1/x/y", &route, NULL, allow, sizeof allow),
        RFK_HTTP_ROUTE_NOT_FOUND);
    assert_int_equal (
        rfk_http_route_find ("PUT", "/datasets/d1", &route, NULL, allow, sizeof allow),
        RFK_HTTP_ROUTE_NO_METHOD);
    assert_string_equal (allow, "GET, DELETE");
    assert_int_equal (rfk_http_route_find ("PATCH", "/users", &route, NULL, allow, sizeof allow),
                      RFK_HTTP_ROUTE_NO_METHOD);
    assert_string_equal (allow, "GET, POST, DELETE");
    assert_int_equal (rfk_http_route_find ("GET", "/", &route, NULL, allow, sizeof allow),
                      RFK_HTTP_ROUTE_NOT_FOUND);
    assert_int_equal (rfk_http_route_find (NULL, NULL, &route, NULL, allow, sizeof allow),
                      RFK_HTTP_ROUTE_NOT_FOUND);
    //  Very deep or very long paths are simply unknown.
    char deep[4096] = "";
    for (int i = 0; i < 200; i++)
        strcat (deep, "/x");
    assert_int_equal (rfk_http_route_find ("GET", deep, &route, NULL, allow, sizeof allow),
                      RFK_HTTP_ROUTE_NOT_FOUND);
    assert_false (rfk_http_route_is_api ("/index.html"));
    assert_false (rfk_http_route_is_api ("/"));
    assert_false (rfk_http_route_is_api ("/modelsx"));
    assert_true (rfk_http_route_is_api ("/models/x/y/z"));
}

/* Text values from forms and query strings become what the schema wants. */
static void
test_add_text (void **state)
{
    (void)state;
    json_t *fields = json_object ();
    char err[256];
    assert_int_equal (rfk_http_route_add_text (fields, "name", "iris", 4, err, sizeof err), 0);
    assert_int_equal (rfk_http_route_add_text (fields, "budget", "{\"MODEL_TRIAL_COUNT\": 5}", 24,
                                               err, sizeof err),
                      0);
    assert_int_equal (rfk_http_route_add_text (fields, "model_ids", "m1", 2, err, sizeof err), 0);
    assert_int_equal (
        rfk_http_route_add_text (fields, "model_ids", "[\"m2\",\"m3\"]", 11, err, sizeof err), 0);
    json_t *expected = json_loads ("{\"name\":\"iris\",\"budget\":{\"MODEL_TRIAL_COUNT\":5},"
                                   "\"model_ids\":[\"m1\",\"m2\",\"m3\"]}",
                                   0, NULL);
    assert_true (json_equal (fields, expected));
    json_decref (expected);

    assert_int_equal (rfk_http_route_add_text (fields, "name", "again", 5, err, sizeof err), -1);
    assert_string_equal (err, "field `name` is given twice");
    assert_int_equal (rfk_http_route_add_text (fields, "dependencies", "{oops", 5, err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "field `dependencies` is not valid JSON"));
    assert_int_equal (rfk_http_route_add_text (fields, "train_args", "[1]", 3, err, sizeof err),
                      -1);
    assert_string_equal (err, "field `train_args` must be a JSON object");
    assert_int_equal (rfk_http_route_add_text (fields, "task", "\xff\xfe", 2, err, sizeof err), -1);
    assert_non_null (strstr (err, "UTF-8"));
    json_decref (fields);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),        cmocka_unit_test (test_every_endpoint),
        cmocka_unit_test (test_literal_wins), cmocka_unit_test (test_unknown),
        cmocka_unit_test (test_add_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
