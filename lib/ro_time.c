/* ro_time: calendar checks and conversions for YYYYMMDD dates. */
#include "ro_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t ro_time_now(void)
{
    return (int64_t)time(NULL);
}

int64_t ro_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ro_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool s_leap(uint32_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static uint32_t s_days_in_month(uint32_t y, uint32_t m)
{
    static const uint8_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_leap(y) ? 29 : days[m - 1];
}

bool ro_date_valid(uint32_t d)
{
    uint32_t y = d / 10000, m = d / 100 % 100, day = d % 100;
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || day < 1)
        return false;
    return day <= s_days_in_month(y, m);
}

bool ro_month_valid(uint32_t m)
{
    return m / 100 >= 1970 && m / 100 <= 9999 && m % 100 >= 1 && m % 100 <= 12;
}

/* Strict digits-only field of exactly n characters. */
static int s_digits(const char *s, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int ro_date_parse(const char *s, uint32_t *out)
{
    uint32_t y, m, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    if (s_digits(s, 4, &y) || s_digits(s + 5, 2, &m) || s_digits(s + 8, 2, &d))
        return -1;
    uint32_t v = y * 10000 + m * 100 + d;
    if (!ro_date_valid(v))
        return -1;
    *out = v;
    return 0;
}

int ro_month_parse(const char *s, uint32_t *out)
{
    uint32_t y, m;
    if (!s || strlen(s) != 7 || s[4] != '-')
        return -1;
    if (s_digits(s, 4, &y) || s_digits(s + 5, 2, &m))
        return -1;
    uint32_t v = y * 100 + m;
    if (!ro_month_valid(v))
        return -1;
    *out = v;
    return 0;
}

void ro_date_format(uint32_t d, char *buf)
{
    if (d >= 10000000u)
        snprintf(buf, 11, "%04u-%02u-%02u", d / 10000 % 10000, d / 100 % 100, d % 100);
    else
        snprintf(buf, 11, "%04u-%02u", d / 100 % 10000, d % 100);
}

uint32_t ro_date_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return (uint32_t)(tm.tm_year + 1900) * 10000 + (uint32_t)(tm.tm_mon + 1) * 100 +
           (uint32_t)tm.tm_mday;
}

int64_t ro_date_days(uint32_t d)
{
    /* days from civil, after H. Hinnant's well-known derivation */
    int64_t y = d / 10000, m = d / 100 % 100, day = d % 100;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t ro_date_end(uint32_t d)
{
    return (ro_date_days(d) + 1) * 86400 - 1;
}

uint32_t ro_month_end(uint32_t m)
{
    return m * 100 + s_days_in_month(m / 100, m % 100);
}
