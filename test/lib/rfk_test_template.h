/*  rfk_test_template.h (test/lib): the entries of the model ABI
    (sdk/include/rafiki/model.h) that the test templates (tpl_escape,
    tpl_good and its hostile copies, sleepy, the sandbox's hostile template)
    leave trivial, written once. Header only: a template is a shared module
    and links nothing of the test library. In meson: include_directories
    rfk_test_inc.
*/
#ifndef RFK_TEST_TEMPLATE_H_INCLUDED
#define RFK_TEST_TEMPLATE_H_INCLUDED

#include <rafiki/model.h>
#include <stdlib.h>

/* dump_params of a model with nothing to keep: nil. */
static inline int
rfk_test_tpl_dump_nil (void *model, msgpack_packer *out, char *err, size_t errlen)
{
    (void)model, (void)err, (void)errlen;
    return msgpack_pack_nil (out);
}

/* load_params that takes any parameters and keeps none. */
static inline int
rfk_test_tpl_load_nothing (void *model, const msgpack_object *params, char *err, size_t errlen)
{
    (void)model, (void)params, (void)err, (void)errlen;
    return 0;
}

/* destroy of a model that create allocated with malloc. */
static inline void
rfk_test_tpl_free (void *model)
{
    free (model);
}

/* destroy of a model that create did not allocate. */
static inline void
rfk_test_tpl_keep (void *model)
{
    (void)model;
}

#endif
