/* ro_json: a growing text buffer and the JSON pieces rollout's programs
 * write (strings, numbers, dates, a status Scope). Output only: nothing
 * here parses JSON. A buffer that failed to grow remembers it, so a caller
 * writes a whole document and checks once. */
#ifndef RO_JSON_H
#define RO_JSON_H

#include "ro_status.h"

#include <stddef.h>
#include <stdint.h>

/* The version of every JSON document rollout prints (rolloutctl --json,
 * rollout-agent status --json, the hub's /api/status), its first key
 * "json_version". Keys may be added within a version; removing or renaming
 * one, or changing its meaning or unit, takes a new version
 * (docs/PROTOCOL.md, section 10). */
#define RO_JSON_VERSION 1

typedef struct {
    char *data; /* NUL-terminated text, malloc'ed; NULL until the first write */
    size_t len; /* bytes of text */
    size_t cap; /* bytes allocated */
    int failed; /* a write ran out of memory: the text is cut */
} ro_buf_t;

/* An empty buffer (no allocation yet). */
void ro_buf_init(ro_buf_t *b);
/* Free the text; the buffer is empty again. */
void ro_buf_free(ro_buf_t *b);
/* Append n bytes of s / formatted text. */
void ro_buf_put(ro_buf_t *b, const char *s, size_t n);
void ro_buf_puts(ro_buf_t *b, const char *s);
void ro_buf_printf(ro_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A JSON string (UTF-8 passes through, controls escaped); NULL is "". */
void ro_json_str(ro_buf_t *b, const char *s);
/* A number: integers without a fraction, null when not finite. */
void ro_json_num(ro_buf_t *b, double v);
/* "YYYY-MM-DD" (or "YYYY-MM" for YYYYMM), null for 0. */
void ro_json_date(ro_buf_t *b, uint32_t d);
/* A scope as one object: the fields of `rolloutctl status --json`
 * (hours as a decimal, dates as text, a no-data value as null). */
void ro_json_scope(ro_buf_t *b, const ro_status_scope_t *s);
/* A trail event (TRAIL) as one object: the fields of `rolloutctl status
 * --history ID --json`'s "trail" (docs/PROTOCOL.md 10.1); a cancel's new_*
 * are null. */
void ro_json_trail(ro_buf_t *b, const ro_status_trail_t *t);

#endif
