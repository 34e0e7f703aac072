/* ro_log: timestamped, tagged lines on stderr; a token bucket for floods. */
#include "ro_log.h"
#include "ro_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *s_tag = "rollout";
static int s_max_level = LOG_INFO;

void ro_log_init(const char *tag, int max_level)
{
    s_tag = tag;
    s_max_level = max_level;
}

bool ro_log_shown(int level)
{
    return level <= s_max_level;
}

static const char *s_level_name(int level)
{
    switch (level) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT: return "crit";
    case LOG_ERR: return "error";
    case LOG_WARNING: return "warning";
    case LOG_NOTICE: return "notice";
    case LOG_INFO: return "info";
    default: return "debug";
    }
}

void ro_log(int level, const char *fmt, ...)
{
    if (level > s_max_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fprintf so concurrent processes' lines do not interleave */
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000L, s_tag,
            s_level_name(level), line);
}

void ro_ratelimit_init(ro_ratelimit_t *rl, double burst, double per_sec)
{
    rl->tokens = burst;
    rl->burst = burst;
    rl->per_sec = per_sec;
    rl->last_ms = ro_time_mono_ms();
    rl->suppressed = 0;
}

bool ro_log_allow(ro_ratelimit_t *rl)
{
    int64_t now = ro_time_mono_ms();
    rl->tokens += (double)(now - rl->last_ms) * rl->per_sec / 1000.0;
    if (rl->tokens > rl->burst)
        rl->tokens = rl->burst;
    rl->last_ms = now;
    if (rl->tokens >= 1.0) {
        rl->tokens -= 1.0;
        if (rl->suppressed)
            ro_log(LOG_NOTICE, "%llu similar lines suppressed", (unsigned long long)rl->suppressed);
        rl->suppressed = 0;
        return true;
    }
    rl->suppressed++;
    return false;
}
