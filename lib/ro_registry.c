/* ro_registry: parse units.csv into an array plus an open-addressing index. */
#include "ro_registry.h"

#include "ro_mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ro_registry {
    ro_unit_t *units;                     /* in file order (s_units_alloc) */
    size_t count;                         /* units loaded */
    size_t cap;                           /* units allocated */
    long *slots;                          /* hash index: unit index, or -1 */
    size_t nslots;                        /* a power of two, at least 2 x count */
    char goal_names[RO_GOAL_COLUMNS][48]; /* indicator id of each goal column */
    int goal_count;                       /* goal columns present */
};

static const struct {
    uint32_t code;
    const char *name;
} s_divisions[RO_DIVISION_COUNT] = {
    {460000, "海南省"},
    {460100, "海口市"},
    {460200, "三亚市"},
    {460400, "儋州市"},
    {469001, "五指山市"},
    {469002, "琼海市"},
    {469005, "文昌市"},
    {469006, "万宁市"},
    {469007, "东方市"},
    {469021, "定安县"},
    {469022, "屯昌县"},
    {469023, "澄迈县"},
    {469024, "临高县"},
    {469025, "白沙黎族自治县"},
    {469026, "昌江黎族自治县"},
    {469027, "乐东黎族自治县"},
    {469028, "陵水黎族自治县"},
    {469029, "保亭黎族苗族自治县"},
    {469030, "琼中黎族苗族自治县"},
};

uint32_t ro_division_code(size_t index)
{
    return index < RO_DIVISION_COUNT ? s_divisions[index].code : 0;
}

int ro_division_index(uint32_t code)
{
    for (int i = 0; i < RO_DIVISION_COUNT; i++)
        if (s_divisions[i].code == code)
            return i;
    return -1;
}

const char *ro_division_name(uint32_t code)
{
    int i = ro_division_index(code);
    return i < 0 ? NULL : s_divisions[i].name;
}

const char *ro_level_name(ro_level_t level)
{
    static const char *names[] = {"provincial", "municipal", "township"};
    return (unsigned)level < RO_LEVEL_COUNT ? names[level] : "?";
}

const char *ro_level_label(ro_level_t level)
{
    static const char *labels[] = {"省级", "市县级", "乡镇"};
    return (unsigned)level < RO_LEVEL_COUNT ? labels[level] : "?";
}

int ro_level_parse(const char *s, ro_level_t *out)
{
    for (int i = 0; i < RO_LEVEL_COUNT; i++) {
        if (strcmp(s, ro_level_name((ro_level_t)i)) == 0) {
            *out = (ro_level_t)i;
            return 0;
        }
    }
    return -1;
}

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

long ro_registry_find(const ro_registry_t *self, const char *id)
{
    if (!self->nslots)
        return -1;
    size_t mask = self->nslots - 1;
    for (size_t i = s_hash(id) & mask;; i = (i + 1) & mask) {
        long u = self->slots[i];
        if (u < 0)
            return -1;
        if (strcmp(self->units[u].id, id) == 0)
            return u;
    }
}

size_t ro_registry_count(const ro_registry_t *self)
{
    return self->count;
}

const ro_unit_t *ro_registry_at(const ro_registry_t *self, size_t index)
{
    return index < self->count ? &self->units[index] : NULL;
}

int ro_registry_goal_column(const ro_registry_t *self, const char *indicator)
{
    for (int i = 0; i < self->goal_count; i++)
        if (strcmp(self->goal_names[i], indicator) == 0)
            return i;
    return -1;
}

void ro_registry_destroy(ro_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->units);
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* Split a CSV line in place on commas (no quoting: names hold no commas).
 * Returns the number of fields, at most max. */
static int s_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    if (strchr(p, ','))
        return max + 1;
    return n;
}

/* Room for the units of the file f, one per line at most (f is read
 * once to count them, then rewound), allocated once (ro_calloc_big): the
 * province's 100,000 units are 20 MB, and faulting them in page by page
 * as a growing array did cost more than parsing the file. Returns 0 or -1. */
static int s_units_alloc(ro_registry_t *self, FILE *f)
{
    char buf[65536];
    size_t n, lines = 1;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
            lines++;
    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0)
        return -1;
    self->units = ro_calloc_big(lines, sizeof *self->units);
    if (!self->units)
        return -1;
    self->cap = lines;
    return 0;
}

/* Build the hash index. Returns 0, -1 when out of memory, or the 1-based
 * position of the first unit whose id was already taken. */
static long s_index(ro_registry_t *self)
{
    size_t n = 16;
    while (n < self->count * 2)
        n <<= 1;
    self->slots = ro_calloc_big(n, sizeof *self->slots);
    if (!self->slots)
        return -1;
    self->nslots = n;
    for (size_t i = 0; i < n; i++)
        self->slots[i] = -1;
    for (size_t u = 0; u < self->count; u++) {
        size_t i = s_hash(self->units[u].id) & (n - 1);
        for (; self->slots[i] >= 0; i = (i + 1) & (n - 1))
            if (strcmp(self->units[self->slots[i]].id, self->units[u].id) == 0)
                return (long)u + 1;
        self->slots[i] = (long)u;
    }
    return 0;
}

#define LFAIL(...)                                                                                 \
    do {                                                                                           \
        int o = snprintf(err, errlen, "%s:%d: ", path, lineno);                                    \
        if (o > 0 && (size_t)o < errlen)                                                           \
            snprintf(err + o, errlen - (size_t)o, __VA_ARGS__);                                    \
        goto fail;                                                                                 \
    } while (0)

/* Why a row is refused, into why; returns -1. */
__attribute__((format(printf, 3, 4))) static int s_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* One row's fields (id, level, division, name, the goal columns) into u.
 * Returns 0, or -1 with the reason in why. */
static int s_parse_unit(const ro_registry_t *reg, char **fields, ro_unit_t *u, char *why,
                        size_t len)
{
    if (!ro_unit_id_valid(fields[0]))
        return s_why(why, len, "unit id '%s' is not DIVISION-NNN (six digits, dash, three digits)",
                     fields[0]);
    strcpy(u->id, fields[0]);
    if (ro_level_parse(fields[1], &u->level))
        return s_why(why, len, "level '%s' is not provincial, municipal or township", fields[1]);
    char *end;
    errno = 0;
    unsigned long code = strtoul(fields[2], &end, 10);
    if (errno || *end || !ro_division_name((uint32_t)code))
        return s_why(why, len, "division '%s' is not one of the 19 known division codes",
                     fields[2]);
    u->division = (uint32_t)code;
    if ((u->level == RO_LEVEL_PROVINCIAL) != (u->division == RO_PROVINCE_CODE))
        return s_why(why, len, "a provincial unit belongs to 460000 and only it does");
    if (strncmp(u->id, fields[2], 6) != 0)
        return s_why(why, len, "unit id '%s' does not start with its division %s", u->id,
                     fields[2]);
    size_t nl = strlen(fields[3]);
    if (nl == 0 || nl > RO_NAME_MAX || !ro_utf8_valid(fields[3], nl))
        return s_why(why, len, "name must be 1 to %d bytes of UTF-8", RO_NAME_MAX);
    memcpy(u->name, fields[3], nl + 1);
    for (int i = 0; i < RO_GOAL_COLUMNS; i++)
        u->goal[i] = -1;
    for (int i = 0; i < reg->goal_count; i++) {
        if (!fields[4 + i][0])
            continue;
        errno = 0;
        double v = strtod(fields[4 + i], &end);
        if (errno || *end || v < 0 || v > 1e9)
            return s_why(why, len, "goal.%s '%s' is not a number from 0", reg->goal_names[i],
                         fields[4 + i]);
        u->goal[i] = v;
    }
    return 0;
}

ro_registry_t *ro_registry_load(const char *path, char *err, size_t errlen)
{
    int lineno = 0;
    ro_registry_t *self = calloc(1, sizeof *self);
    FILE *f = fopen(path, "r");
    if (!self || !f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        free(self);
        if (f)
            fclose(f);
        return NULL;
    }
    if (s_units_alloc(self, f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        fclose(f);
        free(self);
        return NULL;
    }
    char line[1024];
    int header = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n')
            LFAIL("line longer than %zu bytes", sizeof line - 2);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *fields[4 + RO_GOAL_COLUMNS] = {0};
        int n = s_split(line, fields, 4 + RO_GOAL_COLUMNS);
        if (!header) {
            if (n < 4 || n > 4 + RO_GOAL_COLUMNS || strcmp(fields[0], "id") ||
                strcmp(fields[1], "level") || strcmp(fields[2], "division") ||
                strcmp(fields[3], "name"))
                LFAIL("header must be id,level,division,name[,goal.<indicator>...]");
            for (int i = 4; i < n; i++) {
                if (strncmp(fields[i], "goal.", 5) ||
                    strlen(fields[i]) - 5 >= sizeof self->goal_names[0] || !fields[i][5])
                    LFAIL("column '%s' is not goal.<indicator>", fields[i]);
                strcpy(self->goal_names[self->goal_count++], fields[i] + 5);
            }
            header = 1;
            continue;
        }
        if (n != 4 + self->goal_count)
            LFAIL("expected %d fields, found %d", 4 + self->goal_count, n);
        if (self->count == self->cap) /* the file grew since it was counted */
            LFAIL("the file changed while it was read");
        ro_unit_t *u = &self->units[self->count];
        memset(u, 0, sizeof *u);
        char why[256];
        if (s_parse_unit(self, fields, u, why, sizeof why))
            LFAIL("%s", why);
        self->count++;
    }
    if (!header) {
        lineno = 0;
        LFAIL("no header line: the file is empty");
    }
    fclose(f);
    long dup = s_index(self);
    if (dup > 0)
        snprintf(err, errlen, "%s: unit id '%s' appears twice", path, self->units[dup - 1].id);
    else if (dup < 0)
        snprintf(err, errlen, "%s: out of memory", path);
    if (dup)
        ro_registry_destroy(&self);
    return self;
fail:
    fclose(f);
    ro_registry_destroy(&self);
    return NULL;
}
