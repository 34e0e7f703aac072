/* ro_mem: zeroed like calloc, and a big block's aligned part advised for
 * transparent huge pages (VmFlags "hg" in /proc/self/smaps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ro_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The VmFlags of the mapping holding address a, into flags; 0 or -1. */
static int s_vmflags(uintptr_t a, char *flags, size_t len)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = a >= lo && a < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, len, "%s", line + 8);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Whether this kernel takes MADV_HUGEPAGE at all (built without
 * transparent huge pages it refuses it: EINVAL). */
static int s_kernel_advises(void)
{
    size_t len = 4u << 20;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    int ok = madvise(m, len, MADV_HUGEPAGE) == 0;
    munmap(m, len);
    return ok;
}

static int s_all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4093)
        if (p[i])
            return 0;
    return p[n - 1] == 0;
}

static void test_small_is_calloc(void **state)
{
    (void)state;
    unsigned char *p = ro_calloc_big(1000, 8);
    assert_non_null(p);
    assert_true(s_all_zero(p, 8000));
    free(p);
    p = ro_calloc_big(0, 8); /* no units: still a block */
    assert_non_null(p);
    free(p);
    assert_null(ro_calloc_big(SIZE_MAX / 4, 8)); /* n * size overflows */
}

static void test_big_is_advised(void **state)
{
    (void)state;
    size_t n = 8u << 20;
    unsigned char *p = ro_calloc_big(n, 1);
    assert_non_null(p);
    assert_true(s_all_zero(p, n));
    memset(p, 0xa5, n); /* all of it is ours */
    uintptr_t inner = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
    char flags[512] = "";
    if (!s_kernel_advises()) { /* a kernel without huge pages: the block is all there is */
        free(p);
        return;
    }
    assert_int_equal(s_vmflags(inner, flags, sizeof flags), 0);
    assert_non_null(strstr(flags, " hg"));
    free(p);
    /* below RO_MEM_BIG: left as calloc gives it */
    p = ro_calloc_big(RO_MEM_BIG / 2, 1);
    assert_non_null(p);
    assert_int_equal(s_vmflags((uintptr_t)p, flags, sizeof flags), 0);
    assert_null(strstr(flags, " hg"));
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_is_calloc),
        cmocka_unit_test(test_big_is_advised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
