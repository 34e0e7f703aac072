/* ro_mem: see ro_mem.h. */
#include "ro_mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define S_HUGE ((uintptr_t)2 << 20) /* a huge page on x86-64 */

void *ro_calloc_big(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = calloc(n ? n : 1, size);
    if (!p || n * size < RO_MEM_BIG)
        return p;
    uintptr_t from = ((uintptr_t)p + S_HUGE - 1) & ~(S_HUGE - 1);
    uintptr_t to = ((uintptr_t)p + n * size) & ~(S_HUGE - 1);
    if (to > from) /* advice: refused or not, the memory is the same */
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE);
    return p;
}
