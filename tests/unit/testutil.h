/* testutil.h — small helpers shared by the Check suites. */
#ifndef JETSNAP_TESTUTIL_H
#define JETSNAP_TESTUTIL_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. Aborts on failure. */
char *tu_mkdtemp(const char *tag);
/* rm -rf of a directory made by tu_mkdtemp (no-op for NULL). */
void tu_rmtree(const char *path);
/* path = dir + "/" + name, into a static-free malloc'ed string. */
char *tu_path(const char *dir, const char *name);
/* Deterministic PRNG (xorshift64*), seeded per test so failures reproduce. */
unsigned long long tu_rand(unsigned long long *state);
/* Seed from $JETSNAP_TEST_SEED or a fixed default; prints the seed it uses. */
unsigned long long tu_seed(const char *test);

/* What every Check suite shares. These are macros, expanded only where <check.h> (and, for OK,
 * jet.h) is included, so the programs that use testutil.c without Check (crash, stress and load
 * tests) need neither the header nor libcheck. */

/* A JET call that must succeed. */
#define OK(call) ck_assert_int_eq((call), JET_errSuccess)

/* The main() of a Check executable: runs the suite that make_suite() builds (CK_RUN_SUITE and
 * CK_RUN_CASE select parts of it) and exits non-zero when a test failed. */
#define TU_CHECK_MAIN(make_suite)                        \
    int main(void)                                       \
    {                                                    \
        SRunner *sr_ = srunner_create(make_suite());     \
        srunner_run_all(sr_, CK_NORMAL);                 \
        int failed_ = srunner_ntests_failed(sr_);        \
        srunner_free(sr_);                               \
        return failed_ ? EXIT_FAILURE : EXIT_SUCCESS;    \
    }

#endif
