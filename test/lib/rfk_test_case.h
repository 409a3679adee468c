/*  rfk_test_case.h (test/lib): what a cmocka case of an end-to-end test
    fails with, written once. Header only, for it uses cmocka's fail_msg:
    include it after <cmocka.h> (and after <rafiki/client.h> for
    rfk_test_sdk_fail).
*/
#ifndef RFK_TEST_CASE_H_INCLUDED
#define RFK_TEST_CASE_H_INCLUDED

#include <stdlib.h>

/* The value of an environment variable meson sets (a built program's or a
   data folder's path); the case fails when it is not set. */
static inline const char *
rfk_test_env (const char *name)
{
    const char *value = getenv (name);
    if (!value || !*value)
        fail_msg ("%s is not set (meson sets it)", name);
    return value;
}

#ifdef RAFIKI_CLIENT_H_INCLUDED
/* Fails the case with what the SDK's last call answered: "doing: CODE: message". */
static inline void
rfk_test_sdk_fail (rfk_sdk_t *sdk, const char *doing)
{
    fail_msg ("%s: %s: %s", doing, rfk_sdk_code_name (rfk_sdk_error (sdk)->code),
              rfk_sdk_error (sdk)->message);
}
#endif

#endif
