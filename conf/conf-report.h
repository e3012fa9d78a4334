/*
 * conf-report.h — the text report of a configuration check, as a person reads it: shared by
 * jetsnap-check-config and jetsnapd --check-config, so the two print the same lines.
 */
#ifndef JETSNAP_CONF_REPORT_H
#define JETSNAP_CONF_REPORT_H

#include <stdio.h>

#include "conf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* conf_report_check: load and validate the file at path without acting on it. Every diagnostic
 * goes to errs, one "FILE:LINE: problem" a line, in file order. A valid file gets a one-line
 * summary on out ("FILE: OK: 2 instances, 3 databases, bus system, bus name org.jetsnap.Writer1");
 * a file with errors gets their count on errs after them ("FILE: 3 errors").
 * Returns conf_load_file()'s code: CONF_OK, CONF_EINVALID, CONF_EIO (one diagnostic says why),
 * CONF_ENOMEM, CONF_EARG (a NULL argument). */
int conf_report_check(const char *path, FILE *out, FILE *errs);

#ifdef __cplusplus
}
#endif
#endif /* JETSNAP_CONF_REPORT_H */
