/* ro_log: one logging function for every rollout program.
 * Lines go to stderr (the journal under systemd) with a UTC timestamp, the
 * program's tag and a syslog level. Rate limiting is the caller's business,
 * helped by ro_log_allow(). */
#ifndef RO_LOG_H
#define RO_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* Set the tag printed on every line and the most verbose level shown
 * (LOG_DEBUG .. LOG_ERR). The tag is borrowed and must outlive logging. */
void ro_log_init(const char *tag, int max_level);

/* Log one line at a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
void ro_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether a line at level is shown. Asked before a rate limiter of lines
 * at a level that may not be shown (info, at log level notice), so that
 * the limiter does not report lines "suppressed" that nobody would have
 * seen. */
bool ro_log_shown(int level);

/* A token bucket for noisy, peer-driven messages: at most `burst` lines,
 * refilled at `per_sec` a second. Returns true when a line may be logged;
 * then, if lines were dropped since the last one allowed, it first logs how
 * many. Dropped lines are counted in rl->suppressed until then. */
typedef struct {
    double tokens;       /* lines that may still be logged now */
    double burst;        /* bucket size */
    double per_sec;      /* refill rate */
    int64_t last_ms;     /* last refill, monotonic ms */
    uint64_t suppressed; /* lines dropped since the last one allowed */
} ro_ratelimit_t;

void ro_ratelimit_init(ro_ratelimit_t *rl, double burst, double per_sec);

/* "s" unless n is 1: "%" PRIu64 " event%s", n, ro_s(n). */
static inline const char *ro_s(uint64_t n)
{
    return n == 1 ? "" : "s";
}
bool ro_log_allow(ro_ratelimit_t *rl);

#endif
