/* bench_util: what the benchmark programs share: a monotonic clock, a
 * latency histogram that can live in shared memory, the synthetic event mix,
 * per-unit CURVE key files and /proc readings. Measuring only: nothing here
 * is used by rollout itself. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include "ro_report.h"

#include <stddef.h>
#include <stdint.h>

/* Nanoseconds of CLOCK_MONOTONIC: the same clock in every process. */
int64_t bench_now_ns(void);

/* ---- latency histogram -------------------------------------------------
 * Log-linear buckets of nanoseconds: exact below 128 ns, then 128 buckets
 * per power of two (under 1% error), up to 2^41 ns (36 minutes). Plain data
 * with no pointers, so it can sit in a MAP_SHARED page and be summed. */
#define BENCH_HIST_SUB 7
#define BENCH_HIST_BUCKETS ((41 - BENCH_HIST_SUB + 1) << BENCH_HIST_SUB)

typedef struct {
    uint64_t count;                      /* values recorded */
    uint64_t max_ns;                     /* largest value recorded */
    uint64_t bucket[BENCH_HIST_BUCKETS]; /* counts per bucket */
} bench_hist_t;

void bench_hist_add(bench_hist_t *h, int64_t ns);
/* Add every count of src to dst. */
void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src);
/* The value at quantile q (0..1) in ns: the lower edge of its bucket, or 0
 * for an empty histogram. */
int64_t bench_hist_quantile(const bench_hist_t *h, double q);

/* ---- the event mix -----------------------------------------------------
 * Report seq of unit as a unit's staff would record it: 40% training (with
 * a course name, ASCII or Chinese, 0-60 bytes), 30% cases, 15% staff and
 * 15% items snapshots, dated 2018-2019. The figures are plausible, as the
 * shipped [review] rules judge them: a session has no more participants
 * than the unit's approval staff (bench_staff_total, the same in every
 * staff snapshot) and at most 4 hours, and the shares climb slowly with the
 * calendar. The body is a pure function of (unit, seq), so a resent report
 * is byte-identical, as an agent's is. */
void bench_event_make(const char *unit, uint64_t seq, ro_report_t *out);

/* bench_event_make's calendar: 0 (the default) walks a day a report through
 * 2018-2019, wrapping to 2018-01-01 every 672 reports; n > 0 walks a day every
 * n reports through 2020-2025 (after every date of the default calendar, and
 * before the hub's today), wrapping every 2,190 x n, so that a unit's reports
 * come in date order as a live unit's do. A report dated more than 31 days
 * before its unit's latest day, or a batch of more than 16 reports of one
 * unit, has the hub derive the unit's day rows again later (stale). */
void bench_calendar_per_day(uint64_t n);

/* The approval staff of unit in its staff snapshots: 20 to 80. */
uint32_t bench_staff_total(const char *unit);

/* A heartbeat (seq 0) of unit, as an agent sends on connecting. */
void bench_heartbeat_make(const char *unit, ro_report_t *out);

/* ---- keys ----------------------------------------------------------------
 * A keys file has one line per unit: "UNIT PUBLIC SECRET" (Z85). */
typedef struct bench_keys bench_keys_t;

/* Load a keys file. Returns NULL with a reason in err. */
bench_keys_t *bench_keys_load(const char *path, char *err, size_t errlen);
void bench_keys_destroy(bench_keys_t **self_p);
/* The key pair of unit (borrowed), or -1 when the file has none. */
int bench_keys_find(const bench_keys_t *self, const char *unit, const char **public_z85,
                    const char **secret_z85);

/* Make sock a CURVE client of server_z85 with the given pair. Returns 0 or -1. */
int bench_curve_client(void *sock, const char *server_z85, const char *public_z85,
                       const char *secret_z85);

/* Read a Z85 key file (40 characters and an optional newline) into out.
 * Returns 0 or -1 with a reason in err. */
int bench_key_file(const char *path, char out[41], char *err, size_t errlen);

/* ---- output ------------------------------------------------------------ */

/* Write "ENDPOINT\n" to path atomically (temp file + rename). Returns 0 or -1. */
int bench_write_endpoint(const char *path, const char *endpoint);

#endif
