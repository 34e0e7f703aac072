/* ro_mem: memory for the per-unit arrays. A province of 100,000 units
 * makes arrays of megabytes, and each 4 KiB page costs a fault when first
 * touched (on a virtual machine, microseconds each): the hub's start
 * touched some 20,000 of them. Such an array is offered to the kernel for
 * transparent huge pages, faulted in 2 MiB at a time. */
#ifndef RO_MEM_H
#define RO_MEM_H

#include <stddef.h>

/* Blocks of at least this many bytes are offered huge pages. */
#define RO_MEM_BIG (1u << 20)

/* As calloc(n, size) (n = 0 gives a block of one item); a block of
 * RO_MEM_BIG or more has its 2 MiB-aligned part advised MADV_HUGEPAGE.
 * Freed with free(). The advice helps only pages not yet touched: a block
 * that glibc mmaps (as it does the largest) is; one it reuses from its
 * heap was zeroed by calloc, and stays in 4 KiB pages. */
void *ro_calloc_big(size_t n, size_t size);

#endif
