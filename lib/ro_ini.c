/* ro_ini: inih through a line-counting reader, so that a check made at the
 * end of a section can still name the line at fault. */
#include "ro_ini.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ro_ini_fail(ro_ini_t *ini, int line, const char *fmt, ...)
{
    if (ini->why[0])
        return -1; /* the first failure is the one worth reading */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ini->why, sizeof ini->why, fmt, ap);
    va_end(ap);
    if (!ini->why[0])
        snprintf(ini->why, sizeof ini->why, "refused");
    ini->fail_line = line == 0 ? ini->line : line;
    ini->fail_at = ini->line;
    return -1;
}

int ro_ini_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

bool ro_ini_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= RO_INI_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* inih calls this once per line and handles that line before the next call,
 * so ini->line is the line of every callback it makes in between. */
static char *s_reader(char *str, int num, void *stream)
{
    ro_ini_t *ini = stream;
    FILE *f = ini->file_;
    if (ini->why[0] || !fgets(str, num, f))
        return NULL; /* stop at our first failure: later lines add only noise */
    ini->line++;
    size_t len = strlen(str);
    if (num > 1 && len == (size_t)num - 1 && str[len - 1] != '\n') {
        int c = fgetc(f);
        if (c != EOF && c != '\n') {
            ro_ini_fail(ini, 0, "line longer than %d bytes", num - 3);
            return NULL;
        }
    }
    const char *s = str;
    if (ini->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\n' || *p == '\r' || *p == ';' || *p == '#')
        return str;
    if (p != s) {
        /* inih would take it as the continuation of the previous value */
        ro_ini_fail(ini, 0, "indented line: write each key at the start of its own line");
        return NULL;
    }
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close)
            return str; /* inih refuses it and names the line */
        char name[128];
        size_t n = (size_t)(close - p - 1);
        if (n >= sizeof name) {
            ro_ini_fail(ini, 0, "section name longer than %zu bytes", sizeof name - 1);
            return NULL;
        }
        memcpy(name, p + 1, n);
        name[n] = '\0';
        if (ini->section && ini->section(ini, name, ini->line))
            return NULL;
    }
    return str;
}

static int s_handler(void *user, const char *section, const char *name, const char *value)
{
    ro_ini_t *ini = user;
    (void)section; /* the reader already told the callbacks which section */
    if (!ini->why[0] && ini->key)
        ini->key(ini, name, value, ini->line);
    return 1; /* our failures are reported through ini->why, with their line */
}

int ro_ini_parse(const char *path, ro_ini_t *ini, char *err, size_t errlen)
{
    ini->line = 0;
    ini->fail_line = 0;
    ini->fail_at = 0;
    ini->why[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    ini->file_ = f;
    int rc = ini_parse_stream(s_reader, ini, s_handler, ini);
    int read_error = ferror(f);
    fclose(f);
    ini->file_ = NULL;
    if (rc == 0 && !ini->why[0] && read_error) {
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    if (rc == 0 && !ini->why[0] && ini->section)
        ini->section(ini, NULL, ini->line);
    /* inih goes on after a syntax error; whichever was found first is reported */
    if (rc > 0 && (!ini->why[0] || rc <= ini->fail_at)) {
        snprintf(err, errlen, "%s:%d: not a 'key = value' or '[section]' line", path, rc);
        return -1;
    }
    if (rc < 0 && !ini->why[0]) {
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    if (!ini->why[0])
        return 0;
    if (ini->fail_line > 0)
        snprintf(err, errlen, "%s:%d: %s", path, ini->fail_line, ini->why);
    else
        snprintf(err, errlen, "%s: %s", path, ini->why);
    return -1;
}
