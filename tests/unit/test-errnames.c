/*
 * test-errnames.c — JetGetSystemParameter(JET_paramErrorToString) against jet.h itself: the
 * header is read at run time (its path comes from the build) and every JET_err/JET_wrn macro in it
 * must be named by the engine's table, an alias by the name of the number it stands for. Links
 * only libjet.so and includes only jet.h, as a user's program does.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jet.h"

#ifndef JET_HEADER
#error "JET_HEADER must name include/jet.h"
#endif

/* ErrorToString of err into buf; the call's result. */
static JET_ERR err_to_string(long err, char *buf, unsigned long cb)
{
    JET_API_PTR l = (JET_API_PTR)err;
    return JetGetSystemParameter(0, 0, JET_paramErrorToString, &l, buf, cb);
}

struct macro {
    char name[128];
    char value[128]; /* a number, or the name of another macro */
};

/* Every "#define JET_err... / JET_wrn..." of the header, in order. */
static size_t read_macros(struct macro *out, size_t max)
{
    FILE *f = fopen(JET_HEADER, "r");
    ck_assert_msg(f != NULL, "cannot open %s", JET_HEADER);
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^#define[ \t]+(JET_(err|wrn)[A-Za-z0-9_]+)[ \t]+\\(?[ \t]*"
                             "(-?[0-9]+|JET_(err|wrn)[A-Za-z0-9_]+)[ \t]*\\)?[ \t]*$",
                             REG_EXTENDED),
                     0);
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        regmatch_t m[5];
        if (regexec(&re, line, 5, m, 0))
            continue;
        ck_assert_uint_lt(n, max);
        snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                 line + m[1].rm_so);
        snprintf(out[n].value, sizeof out[n].value, "%.*s", (int)(m[3].rm_eo - m[3].rm_so),
                 line + m[3].rm_so);
        n++;
    }
    regfree(&re);
    fclose(f);
    return n;
}

static const struct macro *find(const struct macro *ms, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ms[i].name, name))
            return &ms[i];
    return NULL;
}

START_TEST(every_header_error_is_named)
{
    static struct macro ms[1024];
    size_t n = read_macros(ms, sizeof ms / sizeof ms[0]);
    /* The header defines well over a hundred; a regex that matched nothing would pass vacuously. */
    ck_assert_uint_gt(n, 100);
    for (size_t i = 0; i < n; i++) {
        /* An alias is named after the macro it stands for. */
        const struct macro *canon = &ms[i];
        while (canon->value[0] == 'J') {
            canon = find(ms, n, canon->value);
            ck_assert_msg(canon != NULL, "%s aliases an unknown macro", ms[i].name);
        }
        long err = strtol(canon->value, NULL, 10);
        char buf[512];
        ck_assert_int_eq(err_to_string(err, buf, sizeof buf), JET_errSuccess);
        size_t len = strlen(canon->name);
        ck_assert_msg(!strncmp(buf, canon->name, len) && !strncmp(buf + len, ", ", 2) &&
                          buf[len + 2] != 0,
                      "%s (%ld): got \"%s\"", ms[i].name, err, buf);
    }
}
END_TEST

START_TEST(known_error)
{
    char buf[128];
    ck_assert_int_eq(err_to_string(JET_errFileNotFound, buf, sizeof buf), JET_errSuccess);
    ck_assert_str_eq(buf, "JET_errFileNotFound, File not found");
    ck_assert_int_eq(err_to_string(JET_wrnBufferTruncated, buf, sizeof buf), JET_errSuccess);
    ck_assert_str_eq(buf, "JET_wrnBufferTruncated, Buffer too small for data");
    ck_assert_int_eq(err_to_string(JET_errSuccess, buf, sizeof buf), JET_errSuccess);
    ck_assert_str_eq(buf, "JET_errSuccess, Successful operation");
}
END_TEST

START_TEST(unknown_number)
{
    char buf[128];
    ck_assert_int_eq(err_to_string(-424242, buf, sizeof buf), JET_errSuccess);
    ck_assert_str_eq(buf, "Unknown Error, Unknown Error");
    ck_assert_int_eq(err_to_string(1, buf, sizeof buf), JET_errSuccess);
    ck_assert_str_eq(buf, "Unknown Error, Unknown Error");
}
END_TEST

START_TEST(small_buffer)
{
    const char *want = "JET_errFileNotFound, File not found";
    char buf[64];
    memset(buf, 'x', sizeof buf);
    /* One byte short of the NUL: refused, nothing written. */
    ck_assert_int_eq(err_to_string(JET_errFileNotFound, buf, (unsigned long)strlen(want)),
                     JET_errBufferTooSmall);
    for (size_t i = 0; i < sizeof buf; i++)
        ck_assert_int_eq(buf[i], 'x');
    ck_assert_int_eq(err_to_string(JET_errFileNotFound, buf, 0), JET_errBufferTooSmall);
    ck_assert_int_eq(err_to_string(JET_errFileNotFound, buf, (unsigned long)strlen(want) + 1),
                     JET_errSuccess);
    ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(bad_arguments)
{
    char buf[64];
    JET_API_PTR l = (JET_API_PTR)(long)JET_errDiskFull;
    ck_assert_int_eq(JetGetSystemParameter(0, 0, JET_paramErrorToString, NULL, buf, sizeof buf),
                     JET_errInvalidParameter);
    ck_assert_int_eq(JetGetSystemParameter(0, 0, JET_paramErrorToString, &l, NULL, sizeof buf),
                     JET_errInvalidParameter);
    /* Read only: it cannot be set. */
    ck_assert_int_eq(JetSetSystemParameter(NULL, 0, JET_paramErrorToString, 0, "x"),
                     JET_errInvalidParameter);
    /* The number is input only: it comes back unchanged. */
    ck_assert_int_eq(JetGetSystemParameter(0, 0, JET_paramErrorToString, &l, buf, sizeof buf),
                     JET_errSuccess);
    ck_assert_int_eq((long)l, JET_errDiskFull);
    ck_assert_str_eq(buf, "JET_errDiskFull, No space left on disk");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errnames");
    TCase *tc = tcase_create("error-to-string");
    tcase_add_test(tc, every_header_error_is_named);
    tcase_add_test(tc, known_error);
    tcase_add_test(tc, unknown_number);
    tcase_add_test(tc, small_buffer);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
