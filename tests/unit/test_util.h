/* test_util: small helpers shared by the unit tests: a private temporary
 * folder per test program and writing a file in it. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh folder under /tmp for this test program; removed by the OS's tmp
 * cleaning, not by us, so a failed test leaves its evidence. */
static inline const char *tu_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/rollout-test-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

/* Write text to <tu_dir>/name and return the path (static buffer per call site pattern:
 * copy it if you need two at once). */
static inline const char *tu_write(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tu_dir(), name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    return path;
}

#endif
