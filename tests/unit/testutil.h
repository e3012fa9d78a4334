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

#endif
