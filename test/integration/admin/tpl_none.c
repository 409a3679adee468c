/*  tpl_none.c: a shared object that is not a model template (no
    rafiki_model), for admin's upload tests. */
int
tpl_none_answer (void)
{
    return 42;
}
