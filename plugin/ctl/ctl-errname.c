/*
 * ctl-errname.c — names for errors in messages: errno values by their symbol (ENOSPC), because a
 * translated strerror text alone is hard to search for, and JET_err numbers by the engine's own
 * table (JET_paramErrorToString), so the names always match include/jet.h.
 */
#include <stdio.h>
#include <string.h>

#include <jet.h>

#include "ctl-int.h"

const char *ctl_errno_name(int e, char *buf, size_t n)
{
    const char *s = strerrorname_np(e);
    if (s)
        return s;
    snprintf(buf, n, "errno %d", e);
    return buf;
}

const char *ctl_jet_err_name(long e, char *buf, size_t n)
{
    char text[256] = "";
    JET_API_PTR v = (JET_API_PTR)e;
    /* "JET_errFileNotFound, File not found": the name is up to the comma. */
    if (JetGetSystemParameter(0, 0, JET_paramErrorToString, &v, text, sizeof text) == JET_errSuccess) {
        char *comma = strchr(text, ',');
        if (comma)
            *comma = '\0';
    }
    if (!text[0] || strcmp(text, "Unknown Error") == 0)
        snprintf(buf, n, "JET error %ld", e);
    else
        snprintf(buf, n, "%s (%ld)", text, e);
    return buf;
}
