/* fuzz: what the fuzz targets share: the libFuzzer entry point every
 * fuzz_<name>.c defines, and the fixed clock and registry they run with.
 * replay.c calls the entry point on a corpus; libFuzzer calls it otherwise. */
#ifndef RO_FUZZ_H
#define RO_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_NOW 1546300800 /* 2019-01-01T00:00:00Z: every 2017-2018 date is valid */

/* The registry and targets the targets load (paths compiled in by meson). */
#ifndef FUZZ_REGISTRY
#define FUZZ_REGISTRY "tests/fuzz/units.csv"
#endif
#ifndef FUZZ_TARGETS
#define FUZZ_TARGETS "config/targets.ini"
#endif

/* Run one input. Always returns 0; a bug aborts (or trips a sanitizer). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message when a property the target checks does not hold. */
#define FUZZ_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, (what));                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
