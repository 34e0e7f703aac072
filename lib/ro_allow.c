/* ro_allow: the allow-list that binds CURVE public keys to units and
 * operators, parsed into two open-addressing indexes (by key and by name).
 * The hub's ZAP handler (hub/auth.c) and rolloutctl keys both use it;
 * sockets and logging are theirs. */
#include "ro_allow.h"
#include "ro_report.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define LINE_MAX_BYTES 512
#define WHY_MAX 160 /* bytes of what is wrong with one line */

struct ro_allow {
    ro_allow_entry_t *entries; /* valid lines in file order, then keys kept for bad lines */
    size_t n;                  /* entries used */
    size_t cap;                /* entries allocated: one per line of the text */
    uint32_t *by_key;          /* slots: entry index + 1, 0 = empty */
    uint32_t *by_name;         /* same, keyed by role and name */
    size_t mask;               /* slots - 1 (a power of two minus one) */
    size_t bad;                /* bad lines the parse met */
    size_t kept;               /* entries with kept set */
};

static uint64_t s_hash(ro_allow_role_t role, const char *s)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)role;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ^ (h >> 29);
}

const char *ro_allow_prefix(ro_allow_role_t role)
{
    return role == RO_ALLOW_OPERATOR   ? RO_ALLOW_OPERATOR_PREFIX
           : role == RO_ALLOW_REVIEWER ? RO_ALLOW_REVIEWER_PREFIX
                                       : "";
}

const char *ro_allow_role_name(ro_allow_role_t role)
{
    return role == RO_ALLOW_OPERATOR ? "operator" : role == RO_ALLOW_REVIEWER ? "reviewer" : "unit";
}

int ro_allow_name_valid(ro_allow_role_t role, const char *name)
{
    if (role == RO_ALLOW_UNIT)
        return strlen(name) <= RO_ALLOW_NAME_MAX && ro_unit_id_valid(name);
    if (role != RO_ALLOW_OPERATOR && role != RO_ALLOW_REVIEWER)
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > RO_ALLOW_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int ro_allow_key_valid(const char *key)
{
    uint8_t bin[32];
    return strlen(key) == RO_KEY_Z85_LEN && zmq_z85_decode(bin, key) != NULL;
}

/* The slot of table for (role, s): its entry, or the empty slot to fill. */
static size_t s_slot(const ro_allow_t *self, const uint32_t *table, int by_key,
                     ro_allow_role_t role, const char *s)
{
    size_t i = (size_t)s_hash(by_key ? 0 : role, s) & self->mask;
    for (;;) {
        uint32_t e = table[i];
        if (e == 0)
            return i;
        const ro_allow_entry_t *en = &self->entries[e - 1];
        if (by_key ? !strcmp(en->key, s) : (en->role == role && !strcmp(en->name, s)))
            return i;
        i = (i + 1) & self->mask;
    }
}

void ro_allow_destroy(ro_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ro_allow_t *self = *self_p;
    free(self->entries);
    free(self->by_key);
    free(self->by_name);
    free(self);
    *self_p = NULL;
}

/* Split line into at most 4 blank-separated words (in place). */
static int s_words(char *line, char *w[4])
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return n;
        if (n == 4)
            return 5;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

enum { S_BLANK, S_GOOD, S_BAD };

/* One line of an allow-list, judged alone (not against the other lines). */
typedef struct {
    int lineno;                   /* its number, from 1 */
    int status;                   /* S_BLANK (comment, blank), S_GOOD or S_BAD */
    ro_allow_role_t role;         /* set when role and name can be read, even on S_BAD */
    const char *name;             /* into buf; "" without role */
    const char *key;              /* into buf; set on S_GOOD only */
    char why[WHY_MAX];            /* S_BAD: what is wrong */
    char buf[LINE_MAX_BYTES + 1]; /* the line, split into words */
} s_line_t;

/* Read the line at *pos of text into l (l->lineno counts) and judge it.
 * Returns 0 at the end of text, else 1. */
static int s_next_line(const char *text, size_t len, size_t *pos, s_line_t *l)
{
    if (*pos >= len)
        return 0;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    l->lineno++;
    l->status = S_BAD;
    l->role = 0;
    l->name = "";
    l->key = NULL;
    l->why[0] = '\0';
    if (n > LINE_MAX_BYTES) {
        snprintf(l->why, sizeof l->why, "line longer than %d bytes", LINE_MAX_BYTES);
        return 1;
    }
    if (memchr(start, '\0', n)) {
        snprintf(l->why, sizeof l->why, "contains a NUL byte: not an allow-list line");
        return 1;
    }
    memcpy(l->buf, start, n);
    l->buf[n] = '\0';
    if (n && l->buf[n - 1] == '\r')
        l->buf[n - 1] = '\0';
    char *w[4];
    int nw = s_words(l->buf, w);
    if (nw == 0 || w[0][0] == '#') {
        l->status = S_BLANK;
        return 1;
    }
    ro_allow_role_t role = !strcmp(w[0], "unit")       ? RO_ALLOW_UNIT
                           : !strcmp(w[0], "operator") ? RO_ALLOW_OPERATOR
                           : !strcmp(w[0], "reviewer") ? RO_ALLOW_REVIEWER
                                                       : 0;
    /* the identity is read even when the rest of the line is bad: a reload
     * then knows whose key the bad line was meant to be */
    if (role && nw >= 2 && ro_allow_name_valid(role, w[1])) {
        l->role = role;
        l->name = w[1];
    }
    if (nw != 3)
        snprintf(l->why, sizeof l->why,
                 "expected 'unit UNIT-ID KEY', 'operator NAME KEY' or 'reviewer NAME KEY' (3 "
                 "words), got %d",
                 nw > 4 ? 5 : nw);
    else if (!role)
        snprintf(l->why, sizeof l->why, "'%.32s' is not 'unit', 'operator' or 'reviewer'", w[0]);
    else if (!l->role)
        snprintf(l->why, sizeof l->why, "'%.40s' is not a valid %s", w[1],
                 role == RO_ALLOW_UNIT       ? "unit id (DIVISION-NNN)"
                 : role == RO_ALLOW_OPERATOR ? "operator name (1-32 of A-Z a-z 0-9 . _ -)"
                                             : "reviewer name (1-32 of A-Z a-z 0-9 . _ -)");
    else if (!ro_allow_key_valid(w[2]))
        snprintf(l->why, sizeof l->why, "'%.48s' is not a 40-character Z85 public key", w[2]);
    else {
        l->status = S_GOOD;
        l->key = w[2];
    }
    return 1;
}

/* The entry a good line l collides with (its identity, else its key), with
 * the reason in l->why; NULL when l can be added. Entries kept for bad
 * lines are only ever added for identities no valid line names, so an
 * identity held by one is no collision of a valid line. */
static const ro_allow_entry_t *s_conflict(const ro_allow_t *self, s_line_t *l)
{
    const ro_allow_entry_t *e = ro_allow_find_name(self, l->role, l->name);
    if (e && !e->kept) {
        snprintf(l->why, sizeof l->why, "%s %s is already listed on line %d",
                 ro_allow_role_name(l->role), l->name, e->line);
        return e;
    }
    e = ro_allow_find_key(self, l->key);
    if (e)
        snprintf(l->why, sizeof l->why, "this key is already listed on line %d", e->line);
    return e;
}

/* Append an entry; the caller has checked that neither its name nor its
 * key is taken, and the allocation has room for one per line. */
static void s_add(ro_allow_t *self, ro_allow_role_t role, const char *name, const char *key,
                  int line, int kept)
{
    assert(self->n < self->cap);
    size_t ns = s_slot(self, self->by_name, 0, role, name);
    size_t ks = s_slot(self, self->by_key, 1, 0, key);
    assert(!self->by_name[ns] && !self->by_key[ks]);
    ro_allow_entry_t *e = &self->entries[self->n];
    e->role = role;
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->line = line;
    e->kept = kept;
    self->n++;
    self->kept += (size_t)kept;
    self->by_key[ks] = (uint32_t)self->n;
    self->by_name[ns] = (uint32_t)self->n;
}

/* What the identity of bad line b gets, against the list in use (prev). */
static void s_refine(ro_allow_t *self, const ro_allow_t *prev, ro_allow_bad_t *b)
{
    const ro_allow_entry_t *e = ro_allow_find_name(self, b->role, b->name);
    if (e) {
        /* a valid line, or an earlier bad line that kept the key: it stands */
        b->outcome = e->kept ? RO_ALLOW_BAD_KEPT : RO_ALLOW_BAD_LISTED;
        b->other_line = e->line;
        return;
    }
    const ro_allow_entry_t *old = ro_allow_find_name(prev, b->role, b->name);
    if (!old) {
        b->outcome = RO_ALLOW_BAD_NO_KEY;
        return;
    }
    /* a key is bound to one identity: the file's valid lines win */
    const ro_allow_entry_t *taken = ro_allow_find_key(self, old->key);
    if (taken) {
        b->outcome = RO_ALLOW_BAD_KEY_TAKEN;
        b->other_line = taken->line;
        return;
    }
    s_add(self, b->role, b->name, old->key, b->line, 1);
    b->outcome = RO_ALLOW_BAD_KEPT;
}

/* Both parses: two passes over text, so that every valid line is in before
 * any bad line's identity is given its old key (a valid line anywhere in
 * the file beats a kept key). The first bad line's "name:line: reason" goes
 * to err. NULL only when out of memory. */
static ro_allow_t *s_parse(const char *text, size_t len, const char *name, const ro_allow_t *prev,
                           ro_allow_bad_fn *on_bad, void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    /* entries <= lines (one per valid or bad line); count them for the allocation */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    ro_allow_t *self = calloc(1, sizeof *self);
    size_t slots = 16;
    while (slots < 2 * lines)
        slots *= 2;
    if (self) {
        self->entries = calloc(lines, sizeof *self->entries);
        self->cap = lines;
        self->by_key = calloc(slots, sizeof *self->by_key);
        self->by_name = calloc(slots, sizeof *self->by_name);
        self->mask = slots - 1;
    }
    s_line_t *l = malloc(sizeof *l);
    if (!self || !self->entries || !self->by_key || !self->by_name || !l) {
        snprintf(err, errlen, "%s: out of memory", name);
        ro_allow_destroy(&self);
        free(l);
        return NULL;
    }
    size_t pos = 0;
    l->lineno = 0;
    while (s_next_line(text, len, &pos, l)) {
        if (l->status == S_BLANK)
            continue;
        if (l->status == S_GOOD && !s_conflict(self, l)) {
            s_add(self, l->role, l->name, l->key, l->lineno, 0);
            continue;
        }
        if (self->bad++ == 0)
            snprintf(err, errlen, "%s:%d: %s", name, l->lineno, l->why);
    }
    if (self->bad && (prev || on_bad)) {
        pos = 0;
        l->lineno = 0;
        while (s_next_line(text, len, &pos, l)) {
            if (l->status == S_BLANK)
                continue;
            if (l->status == S_GOOD) {
                const ro_allow_entry_t *e = ro_allow_find_key(self, l->key);
                if (e && e->line == l->lineno && !e->kept)
                    continue; /* went in on the first pass */
                s_conflict(self, l);
            }
            ro_allow_bad_t b = {l->lineno, l->why, l->role, l->name, RO_ALLOW_BAD_NAMES_NO_ONE, 0};
            if (b.role)
                s_refine(self, prev, &b);
            if (on_bad)
                on_bad(arg, &b);
        }
    }
    free(l);
    return self;
}

ro_allow_t *ro_allow_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    ro_allow_t *self = s_parse(text, len, name, NULL, NULL, NULL, err, errlen);
    if (self && self->bad)
        ro_allow_destroy(&self); /* err names the first bad line */
    return self;
}

ro_allow_t *ro_allow_parse_refined(const char *text, size_t len, const char *name,
                                   const ro_allow_t *prev, ro_allow_bad_fn *on_bad, void *arg,
                                   char *err, size_t errlen)
{
    return s_parse(text, len, name, prev, on_bad, arg, err, errlen);
}

/* The file at path, whole, in a malloc'd buffer (*len bytes); refuses
 * what no parse should read. Returns 0, or -1 with the reason in err. */
static int s_read(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & 022) {
        snprintf(err, errlen, "%s: writable by group or others (mode %03o): chmod go-w it", path,
                 (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    if (st.st_size > (off_t)RO_ALLOW_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, RO_ALLOW_FILE_MAX);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used == cap) {
            /* grew while we read: read what fits the limit, refuse the rest */
            if (cap > RO_ALLOW_FILE_MAX) {
                snprintf(err, errlen, "%s: larger than %u bytes", path, RO_ALLOW_FILE_MAX);
                free(buf);
                close(fd);
                return -1;
            }
            char *more = realloc(buf, cap * 2);
            if (!more) {
                snprintf(err, errlen, "%s: out of memory", path);
                free(buf);
                close(fd);
                return -1;
            }
            buf = more;
            cap *= 2;
        }
    }
    close(fd);
    *out = buf;
    *len = used;
    return 0;
}

ro_allow_t *ro_allow_load(const char *path, char *err, size_t errlen)
{
    ro_allow_t *self = ro_allow_load_refined(path, NULL, NULL, NULL, err, errlen);
    if (self && self->bad)
        ro_allow_destroy(&self); /* err names the first bad line */
    return self;
}

ro_allow_t *ro_allow_load_refined(const char *path, const ro_allow_t *prev, ro_allow_bad_fn *on_bad,
                                  void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    char *buf;
    size_t used;
    if (s_read(path, &buf, &used, err, errlen))
        return NULL;
    ro_allow_t *self = s_parse(buf, used, path, prev, on_bad, arg, err, errlen);
    free(buf);
    return self;
}

size_t ro_allow_count(const ro_allow_t *self)
{
    return self ? self->n : 0;
}

size_t ro_allow_bad_count(const ro_allow_t *self)
{
    return self ? self->bad : 0;
}

size_t ro_allow_kept_count(const ro_allow_t *self)
{
    return self ? self->kept : 0;
}

const ro_allow_entry_t *ro_allow_at(const ro_allow_t *self, size_t i)
{
    return self && i < self->n ? &self->entries[i] : NULL;
}

const ro_allow_entry_t *ro_allow_find_key(const ro_allow_t *self, const char *key)
{
    if (!self || !key)
        return NULL;
    uint32_t e = self->by_key[s_slot(self, self->by_key, 1, 0, key)];
    return e ? &self->entries[e - 1] : NULL;
}

const ro_allow_entry_t *ro_allow_find_name(const ro_allow_t *self, ro_allow_role_t role,
                                           const char *name)
{
    if (!self || !name)
        return NULL;
    uint32_t e = self->by_name[s_slot(self, self->by_name, 0, role, name)];
    return e ? &self->entries[e - 1] : NULL;
}
