/* ro_time: the calendar of the rollout. Dates are YYYYMMDD integers, months
 * YYYYMM; these helpers check and convert them. No time zones: dates are the
 * units' own calendar dates, times are Unix seconds. */
#ifndef RO_TIME_H
#define RO_TIME_H

#include <stdbool.h>
#include <stdint.h>

/* Earliest date any report may carry: the rollout began in 2017. */
#define RO_DATE_MIN 20170101u

int64_t ro_time_now(void);     /* Unix seconds, wall clock */
int64_t ro_time_mono_ms(void); /* monotonic milliseconds */
int64_t ro_time_mono_us(void); /* monotonic microseconds */

/* True when d is a real calendar date YYYYMMDD (leap years included). */
bool ro_date_valid(uint32_t d);
/* True when m is YYYYMM with a month 1..12. */
bool ro_month_valid(uint32_t m);

/* Parse "YYYY-MM-DD" into *out; 0 on success, -1 if not a real date. */
int ro_date_parse(const char *s, uint32_t *out);
/* Parse "YYYY-MM" into *out (YYYYMM); 0 on success, -1 otherwise. */
int ro_month_parse(const char *s, uint32_t *out);
/* Write "YYYY-MM-DD" (or "YYYY-MM" for a YYYYMM value) into buf (>= 11 bytes). */
void ro_date_format(uint32_t d, char *buf);

/* The UTC date of a Unix time, as YYYYMMDD. */
uint32_t ro_date_of(int64_t t);
/* Days since 1970-01-01 of a valid YYYYMMDD date. */
int64_t ro_date_days(uint32_t d);
/* The last second of a valid YYYYMMDD date (UTC, as ro_date_of): the end
 * of that day, for "as known on" it. */
int64_t ro_date_end(uint32_t d);
/* The last day of a YYYYMM month, as YYYYMMDD. */
uint32_t ro_month_end(uint32_t m);

#endif
