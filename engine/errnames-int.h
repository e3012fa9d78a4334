/*
 * errnames-int.h — the names of JET_err/JET_wrn numbers (errnames.c), for JetGetSystemParameter's
 * JET_paramErrorToString.
 */
#ifndef ERRNAMES_INT_H
#define ERRNAMES_INT_H

#include "jet.h"

/* eng_err_name: the macro name of err as jet.h spells it ("JET_errFileNotFound"), and in *pdesc
 * (optional) its short description; NULL (and *pdesc untouched) for a number jet.h does not
 * define. The strings are static. */
const char *eng_err_name(long err, const char **pdesc);

/* eng_error_to_string: JET_paramErrorToString. In: *plParam the error number. Out: sz gets
 * "<name>, <description>" ("Unknown Error, Unknown Error" for a number jet.h does not define),
 * NUL-terminated. InvalidParameter (NULL plParam or sz), BufferTooSmall (cbMax cannot hold the
 * string and its NUL; nothing is written). */
long eng_error_to_string(JET_API_PTR *plParam, char *sz, unsigned long cbMax);

#endif
