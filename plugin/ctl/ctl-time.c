/*
 * ctl-time.c — the TIME of restore --until: what administrators paste from logs and `date`:
 * RFC 3339 with sub-second precision and an offset ("2024-05-01T12:00:00.250+02:00", "...Z"),
 * the same with a blank for the T and no offset (local time, as `date -d` reads it), and
 * @EPOCH[.FRACTION] (as `date +@%s.%N` prints it).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl-int.h"

static const char *parse_frac(const char *s, uint64_t *usec);

bool ctl_parse_time(const char *s, uint64_t *usec)
{
    uint64_t frac = 0;
    if (s[0] == '@') {
        char *end;
        if (!isdigit((unsigned char)s[1]))
            return false;
        unsigned long long sec = strtoull(s + 1, &end, 10);
        const char *rest = parse_frac(end, &frac);
        if (!rest || *rest || sec > 253402300799ull)
            return false;
        *usec = sec * 1000000u + frac;
        return true;
    }
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p || (*p != 'T' && *p != 't' && *p != ' '))
        return false;
    p = strptime(p + 1, "%H:%M:%S", &tm);
    if (!p || !(p = parse_frac(p, &frac)))
        return false;
    time_t t;
    if (*p == '\0') {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else {
        long off = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int hh, mm;
            if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6 || hh > 23 || mm > 59)
                return false;
            off = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
            p += 6;
        }
        if (*p)
            return false;
        t = timegm(&tm) - off;
    }
    if (t < 0)
        return false;
    *usec = (uint64_t)t * 1000000u + frac;
    return true;
}

void ctl_format_time(uint64_t usec, char *out, size_t n)
{
    time_t t = (time_t)(usec / 1000000u);
    struct tm tm;
    char b[32];
    gmtime_r(&t, &tm);
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06lluZ", b, (unsigned long long)(usec % 1000000u));
}

/* ".123" -> 123000 usec; digits past the sixth are dropped. NULL on a '.' without digits. */
static const char *parse_frac(const char *s, uint64_t *usec)
{
    *usec = 0;
    if (*s != '.' && *s != ',')
        return s;
    s++;
    if (!isdigit((unsigned char)*s))
        return NULL;
    uint64_t scale = 100000;
    for (; isdigit((unsigned char)*s); s++) {
        *usec += (uint64_t)(*s - '0') * scale;
        scale /= 10;
    }
    return s;
}
