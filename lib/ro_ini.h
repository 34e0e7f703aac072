/* ro_ini: the one INI reader of every rollout file (hub.ini, agent.ini,
 * ctl.ini, targets.ini, the score sheet and scores files). inih parses;
 * this module counts lines, refuses what inih would misread, and formats
 * every error as "path:line: reason". What the keys mean is the caller's. */
#ifndef RO_INI_H
#define RO_INI_H

#include <stdbool.h>
#include <stddef.h>

#define RO_INI_ID_MAX 40 /* bytes of an id (ro_ini_id_valid), with its NUL */

/* inih drives the parse; this reader counts lines so that every error, also
 * one found after a section ended, names its line; it refuses indented and
 * over-long lines, and hands each section header to `section` (also an empty
 * section, which inih itself never reports). Callbacks return 0, or -1
 * after ro_ini_fail. */
typedef struct ro_ini ro_ini_t;
typedef int(ro_ini_section_fn)(ro_ini_t *ini, const char *name, int line);
typedef int(ro_ini_key_fn)(ro_ini_t *ini, const char *name, const char *value, int line);

struct ro_ini {
    ro_ini_section_fn *section; /* a section header was read */
    ro_ini_key_fn *key;         /* a key = value line was read */
    void *user;                 /* the callbacks' own state */
    int line;                   /* line being read, from 1 */
    int fail_line;              /* line the first failure names; -1 = the whole file */
    int fail_at;                /* line being read when it was found */
    char why[256];              /* reason of the first failure */
    void *file_;                /* private: the FILE being read */
};

/* Parse path; 0, or -1 with "path:line: reason" (or "path: reason") in err.
 * After a failure the callbacks are not called again. */
int ro_ini_parse(const char *path, ro_ini_t *ini, char *err, size_t errlen);
/* Record the first failure, at line (0 = the line being read). Returns -1. */
int ro_ini_fail(ro_ini_t *ini, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A finite decimal number with nothing after it: 0 and *out, or -1. */
int ro_ini_number(const char *s, double *out);
/* An id: 1..39 bytes of [a-z0-9_]. */
bool ro_ini_id_valid(const char *s);

#endif
