/*
 * jetsnap-check-config — check a jetsnap configuration file (jetsnapd --check-config does the same).
 *
 *   jetsnap-check-config FILE
 *
 * Prints every problem as "FILE:LINE: problem" to stderr, in file order, and exits 1; prints a
 * one-line summary to stdout and exits 0 when the file is valid. Exit 2: bad usage or out of memory.
 */
#include <stdio.h>
#include <string.h>

#include "conf-report.h"

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: %s FILE\nCheck a jetsnap configuration file (see jetsnap.conf(5)).\n", argv[0]);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    int r = conf_report_check(argv[1], stdout, stderr);
    return r == CONF_OK ? 0 : r == CONF_EINVALID || r == CONF_EIO ? 1 : 2;
}
