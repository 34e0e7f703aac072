/* hub_auth: the allow-list parser (two open-addressing indexes, by key and
 * by name) and a ZAP handler polled by the hub's single loop, so a reload
 * and the per-message checks never race. What a connection may then say
 * is ingest's and status's business. */
#include "auth.h"
#include "ro_log.h"
#include "ro_report.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define SELFTEST_DOMAIN "rollout-selftest"
#define ZAP_FRAMES_MAX 16 /* a ZAP request has 7 for CURVE */
#define LINE_MAX_BYTES 512
#define WHY_MAX 160       /* bytes of what is wrong with one line */
#define BAD_LOGGED_MAX 32 /* bad lines logged one by one per read; the rest are counted */

struct hub_allow {
    hub_allow_entry_t *entries; /* valid lines in file order, then keys kept for bad lines */
    size_t n;                   /* entries used */
    size_t cap;                 /* entries allocated: one per line of the text */
    uint32_t *by_key;           /* slots: entry index + 1, 0 = empty */
    uint32_t *by_name;          /* same, keyed by role and name */
    size_t mask;                /* slots - 1 (a power of two minus one) */
    size_t bad;                 /* bad lines the parse met */
    size_t kept;                /* entries with kept set */
};

struct hub_auth {
    void *zap;               /* REP bound at HUB_AUTH_ZAP_ENDPOINT */
    char path[512];          /* the allow-list file */
    hub_allow_t *list;       /* NULL or empty: admit no one */
    uint64_t generation;     /* lists loaded */
    size_t dropped;          /* entries of the list before the latest load it no longer admits */
    size_t bad_lines;        /* bad lines in the allow-list as last read */
    uint64_t bad_lines_seen; /* bad lines over every read since start */
    uint64_t admitted;       /* connections admitted */
    uint64_t denied[HUB_AUTH_DENY_COUNT];
    int selftest_seen;       /* the self-test's request reached us */
    ro_ratelimit_t rl_deny;  /* refusal log lines */
    ro_ratelimit_t rl_admit; /* units' admission log lines */
};

/* ---- the allow-list ----------------------------------------------------- */

static uint64_t s_hash(hub_auth_role_t role, const char *s)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)role;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ^ (h >> 29);
}

int hub_allow_name_valid(hub_auth_role_t role, const char *name)
{
    if (role == HUB_AUTH_UNIT)
        return strlen(name) <= HUB_AUTH_NAME_MAX && ro_unit_id_valid(name);
    if (role != HUB_AUTH_OPERATOR)
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > HUB_AUTH_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int hub_allow_key_valid(const char *key)
{
    uint8_t bin[32];
    return strlen(key) == RO_KEY_Z85_LEN && zmq_z85_decode(bin, key) != NULL;
}

/* The slot of table for (role, s): its entry, or the empty slot to fill. */
static size_t s_slot(const hub_allow_t *self, const uint32_t *table, int by_key,
                     hub_auth_role_t role, const char *s)
{
    size_t i = (size_t)s_hash(by_key ? 0 : role, s) & self->mask;
    for (;;) {
        uint32_t e = table[i];
        if (e == 0)
            return i;
        const hub_allow_entry_t *en = &self->entries[e - 1];
        if (by_key ? !strcmp(en->key, s) : (en->role == role && !strcmp(en->name, s)))
            return i;
        i = (i + 1) & self->mask;
    }
}

void hub_allow_destroy(hub_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_allow_t *self = *self_p;
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
    hub_auth_role_t role;         /* set when role and name can be read, even on S_BAD */
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
    hub_auth_role_t role = !strcmp(w[0], "unit")       ? HUB_AUTH_UNIT
                           : !strcmp(w[0], "operator") ? HUB_AUTH_OPERATOR
                                                       : 0;
    /* the identity is read even when the rest of the line is bad: a reload
     * then knows whose key the bad line was meant to be */
    if (role && nw >= 2 && hub_allow_name_valid(role, w[1])) {
        l->role = role;
        l->name = w[1];
    }
    if (nw != 3)
        snprintf(l->why, sizeof l->why,
                 "expected 'unit UNIT-ID KEY' or 'operator NAME KEY' (3 words), got %d",
                 nw > 4 ? 5 : nw);
    else if (!role)
        snprintf(l->why, sizeof l->why, "'%.32s' is not 'unit' or 'operator'", w[0]);
    else if (!l->role)
        snprintf(l->why, sizeof l->why, "'%.40s' is not a valid %s", w[1],
                 role == HUB_AUTH_UNIT ? "unit id (DIVISION-NNN)"
                                       : "operator name (1-32 of A-Z a-z 0-9 . _ -)");
    else if (!hub_allow_key_valid(w[2]))
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
static const hub_allow_entry_t *s_conflict(const hub_allow_t *self, s_line_t *l)
{
    const hub_allow_entry_t *e = hub_allow_find_name(self, l->role, l->name);
    if (e && !e->kept) {
        snprintf(l->why, sizeof l->why, "%s %s is already listed on line %d",
                 l->role == HUB_AUTH_UNIT ? "unit" : "operator", l->name, e->line);
        return e;
    }
    e = hub_allow_find_key(self, l->key);
    if (e)
        snprintf(l->why, sizeof l->why, "this key is already listed on line %d", e->line);
    return e;
}

/* Append an entry; the caller has checked that neither its name nor its
 * key is taken, and the allocation has room for one per line. */
static void s_add(hub_allow_t *self, hub_auth_role_t role, const char *name, const char *key,
                  int line, int kept)
{
    assert(self->n < self->cap);
    size_t ns = s_slot(self, self->by_name, 0, role, name);
    size_t ks = s_slot(self, self->by_key, 1, 0, key);
    assert(!self->by_name[ns] && !self->by_key[ks]);
    hub_allow_entry_t *e = &self->entries[self->n];
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
static void s_refine(hub_allow_t *self, const hub_allow_t *prev, hub_allow_bad_t *b)
{
    const hub_allow_entry_t *e = hub_allow_find_name(self, b->role, b->name);
    if (e) {
        /* a valid line, or an earlier bad line that kept the key: it stands */
        b->outcome = e->kept ? HUB_ALLOW_BAD_KEPT : HUB_ALLOW_BAD_LISTED;
        b->other_line = e->line;
        return;
    }
    const hub_allow_entry_t *old = hub_allow_find_name(prev, b->role, b->name);
    if (!old) {
        b->outcome = HUB_ALLOW_BAD_NO_KEY;
        return;
    }
    /* a key is bound to one identity: the file's valid lines win */
    const hub_allow_entry_t *taken = hub_allow_find_key(self, old->key);
    if (taken) {
        b->outcome = HUB_ALLOW_BAD_KEY_TAKEN;
        b->other_line = taken->line;
        return;
    }
    s_add(self, b->role, b->name, old->key, b->line, 1);
    b->outcome = HUB_ALLOW_BAD_KEPT;
}

/* Both parses: two passes over text, so that every valid line is in before
 * any bad line's identity is given its old key (a valid line anywhere in
 * the file beats a kept key). The first bad line's "name:line: reason" goes
 * to err. NULL only when out of memory. */
static hub_allow_t *s_parse(const char *text, size_t len, const char *name, const hub_allow_t *prev,
                            hub_allow_bad_fn *on_bad, void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    /* entries <= lines (one per valid or bad line); count them for the allocation */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    hub_allow_t *self = calloc(1, sizeof *self);
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
        hub_allow_destroy(&self);
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
                const hub_allow_entry_t *e = hub_allow_find_key(self, l->key);
                if (e && e->line == l->lineno && !e->kept)
                    continue; /* went in on the first pass */
                s_conflict(self, l);
            }
            hub_allow_bad_t b = {l->lineno, l->why, l->role, l->name, HUB_ALLOW_BAD_NAMES_NO_ONE,
                                 0};
            if (b.role)
                s_refine(self, prev, &b);
            if (on_bad)
                on_bad(arg, &b);
        }
    }
    free(l);
    return self;
}

hub_allow_t *hub_allow_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen)
{
    hub_allow_t *self = s_parse(text, len, name, NULL, NULL, NULL, err, errlen);
    if (self && self->bad)
        hub_allow_destroy(&self); /* err names the first bad line */
    return self;
}

hub_allow_t *hub_allow_parse_refined(const char *text, size_t len, const char *name,
                                     const hub_allow_t *prev, hub_allow_bad_fn *on_bad, void *arg,
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
    if (st.st_size > (off_t)HUB_AUTH_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, HUB_AUTH_FILE_MAX);
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
            if (cap > HUB_AUTH_FILE_MAX) {
                snprintf(err, errlen, "%s: larger than %u bytes", path, HUB_AUTH_FILE_MAX);
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

hub_allow_t *hub_allow_load(const char *path, char *err, size_t errlen)
{
    hub_allow_t *self = hub_allow_load_refined(path, NULL, NULL, NULL, err, errlen);
    if (self && self->bad)
        hub_allow_destroy(&self); /* err names the first bad line */
    return self;
}

hub_allow_t *hub_allow_load_refined(const char *path, const hub_allow_t *prev,
                                    hub_allow_bad_fn *on_bad, void *arg, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    char *buf;
    size_t used;
    if (s_read(path, &buf, &used, err, errlen))
        return NULL;
    hub_allow_t *self = s_parse(buf, used, path, prev, on_bad, arg, err, errlen);
    free(buf);
    return self;
}

size_t hub_allow_count(const hub_allow_t *self)
{
    return self ? self->n : 0;
}

size_t hub_allow_bad_count(const hub_allow_t *self)
{
    return self ? self->bad : 0;
}

size_t hub_allow_kept_count(const hub_allow_t *self)
{
    return self ? self->kept : 0;
}

const hub_allow_entry_t *hub_allow_at(const hub_allow_t *self, size_t i)
{
    return self && i < self->n ? &self->entries[i] : NULL;
}

const hub_allow_entry_t *hub_allow_find_key(const hub_allow_t *self, const char *key)
{
    if (!self || !key)
        return NULL;
    uint32_t e = self->by_key[s_slot(self, self->by_key, 1, 0, key)];
    return e ? &self->entries[e - 1] : NULL;
}

const hub_allow_entry_t *hub_allow_find_name(const hub_allow_t *self, hub_auth_role_t role,
                                             const char *name)
{
    if (!self || !name)
        return NULL;
    uint32_t e = self->by_name[s_slot(self, self->by_name, 0, role, name)];
    return e ? &self->entries[e - 1] : NULL;
}

/* ---- the ZAP handler ----------------------------------------------------- */

static int s_load(hub_auth_t *self, int at_start);

hub_auth_t *hub_auth_new(void *ctx, const char *allow_path, char *err, size_t errlen)
{
    hub_auth_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(self->path, sizeof self->path, "%s", allow_path);
    ro_ratelimit_init(&self->rl_deny, 10, 1);
    ro_ratelimit_init(&self->rl_admit, 20, 2);
    int linger = 0;
    self->zap = zmq_socket(ctx, ZMQ_REP);
    if (!self->zap || zmq_setsockopt(self->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(self->zap, HUB_AUTH_ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot bind the ZAP handler at %s: %s", HUB_AUTH_ZAP_ENDPOINT,
                 zmq_strerror(zmq_errno()));
        hub_auth_destroy(&self);
        return NULL;
    }
    s_load(self, 1);
    return self;
}

void hub_auth_destroy(hub_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_auth_t *self = *self_p;
    if (self->zap)
        zmq_close(self->zap);
    hub_allow_destroy(&self->list);
    free(self);
    *self_p = NULL;
}

/* How one read of the allow-list logs its bad lines. */
typedef struct {
    const char *path; /* the file */
    int at_start;     /* 1: nothing is refined, the read admits no one */
    size_t logged;    /* bad lines logged so far */
} s_bad_log_t;

/* hub_allow_bad_fn: one error line per bad line, saying what it costs. */
static void s_log_bad(void *arg, const hub_allow_bad_t *b)
{
    s_bad_log_t *lg = arg;
    if (lg->logged >= BAD_LOGGED_MAX)
        return;
    lg->logged++;
    const char *role = b->role == HUB_AUTH_UNIT ? "unit" : "operator";
    if (lg->at_start) {
        ro_log(LOG_ERR, "allow-list %s:%d: %s", lg->path, b->line, b->why);
        return;
    }
    switch (b->outcome) {
    case HUB_ALLOW_BAD_KEPT:
        ro_log(LOG_ERR,
               "allow-list %s:%d: %s; %s %s keeps its last good key until the line is fixed",
               lg->path, b->line, b->why, role, b->name);
        break;
    case HUB_ALLOW_BAD_NO_KEY:
        ro_log(LOG_ERR,
               "allow-list %s:%d: %s; %s %s had no good key before: admitted nowhere until the "
               "line is fixed",
               lg->path, b->line, b->why, role, b->name);
        break;
    case HUB_ALLOW_BAD_LISTED:
        ro_log(LOG_ERR, "allow-list %s:%d: %s; line %d lists %s %s and applies", lg->path, b->line,
               b->why, b->other_line, role, b->name);
        break;
    case HUB_ALLOW_BAD_KEY_TAKEN:
        ro_log(LOG_ERR,
               "allow-list %s:%d: %s; the last good key of %s %s is now listed on line %d: %s "
               "%s is admitted nowhere until the line is fixed",
               lg->path, b->line, b->why, role, b->name, b->other_line, role, b->name);
        break;
    default:
        ro_log(LOG_ERR,
               "allow-list %s:%d: %s; the line names no unit or operator: it admits no one",
               lg->path, b->line, b->why);
        break;
    }
}

/* Read the allow-list and use it from now on. At start there is no list in
 * use to fall back on, and a bad file is the operator's to fix before
 * anyone connects: any bad line admits no one. On a reload, bad lines
 * refine the list in use (hub_allow_load_refined), so one typo cuts off no
 * one else, and a key the file no longer names is gone from the hub. */
static int s_load(hub_auth_t *self, int at_start)
{
    char err[1024];
    s_bad_log_t lg = {self->path, at_start, 0};
    hub_allow_t *list = hub_allow_load_refined(self->path, at_start ? NULL : self->list, s_log_bad,
                                               &lg, err, sizeof err);
    size_t bad = hub_allow_bad_count(list);
    if (bad > lg.logged)
        ro_log(LOG_ERR, "allow-list %s: %zu more bad lines, not shown", self->path,
               bad - lg.logged);
    self->bad_lines = bad;
    self->bad_lines_seen += bad;
    if (at_start && bad)
        hub_allow_destroy(&list);
    size_t units = 0, ops = 0;
    for (size_t i = 0; i < hub_allow_count(list); i++) {
        if (hub_allow_at(list, i)->role == HUB_AUTH_UNIT)
            units++;
        else
            ops++;
    }
    /* what the hub must now cut on live connections (hub_peers_revoke) */
    self->dropped = 0;
    for (size_t i = 0; i < hub_allow_count(self->list); i++) {
        const hub_allow_entry_t *old = hub_allow_at(self->list, i);
        const hub_allow_entry_t *now = hub_allow_find_key(list, old->key);
        self->dropped += !now || now->role != old->role || strcmp(now->name, old->name) != 0;
    }
    hub_allow_destroy(&self->list);
    self->list = list;
    self->generation++;
    if (!list && bad) {
        ro_log(LOG_ERR,
               "allow-list unusable, admitting no one: %s (%zu bad line%s in all; a bad "
               "allow-list at start admits no one: fix it and send SIGHUP)",
               err, bad, bad == 1 ? "" : "s");
        return -1;
    }
    if (!list) {
        ro_log(LOG_ERR, "allow-list unusable, admitting no one: %s", err);
        return -1;
    }
    if (units + ops == 0) {
        if (bad)
            ro_log(LOG_ERR,
                   "allow-list unusable, admitting no one: %s has %zu bad line%s and no usable one",
                   self->path, bad, bad == 1 ? "" : "s");
        else
            ro_log(LOG_ERR, "allow-list %s lists no keys: admitting no one", self->path);
        return -1;
    }
    if (bad)
        ro_log(LOG_WARNING,
               "allow-list loaded from %s with %zu bad line%s (logged above): %zu units, %zu "
               "operators, %zu of them on their last good key (load %llu)",
               self->path, bad, bad == 1 ? "" : "s", units, ops, hub_allow_kept_count(list),
               (unsigned long long)self->generation);
    else
        ro_log(LOG_NOTICE, "allow-list loaded from %s: %zu units, %zu operators (load %llu)",
               self->path, units, ops, (unsigned long long)self->generation);
    return (int)(units + ops);
}

int hub_auth_reload(hub_auth_t *self)
{
    return s_load(self, 0);
}

void *hub_auth_socket(hub_auth_t *self)
{
    return self->zap;
}

static int s_frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* A frame as a C string (truncated, non-printables replaced) for the log. */
static void s_frame_text(zmq_msg_t *m, char *out, size_t cap)
{
    size_t n = zmq_msg_size(m) < cap - 1 ? zmq_msg_size(m) : cap - 1;
    const uint8_t *p = zmq_msg_data(m);
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[n] = '\0';
}

static void s_reply(hub_auth_t *self, zmq_msg_t *reqid, const char *code, const char *text,
                    const char *user_id, const char *key)
{
    uint8_t meta[64];
    size_t mlen = 0;
    if (key) {
        size_t nlen = strlen(HUB_AUTH_KEY_PROPERTY);
        meta[mlen++] = (uint8_t)nlen;
        memcpy(meta + mlen, HUB_AUTH_KEY_PROPERTY, nlen);
        mlen += nlen;
        meta[mlen++] = 0;
        meta[mlen++] = 0;
        meta[mlen++] = 0;
        meta[mlen++] = RO_KEY_Z85_LEN;
        memcpy(meta + mlen, key, RO_KEY_Z85_LEN);
        mlen += RO_KEY_Z85_LEN;
    }
    const int f = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    if (zmq_send(self->zap, "1.0", 3, f) < 0 ||
        zmq_send(self->zap, reqid ? zmq_msg_data(reqid) : "", reqid ? zmq_msg_size(reqid) : 0, f) <
            0 ||
        zmq_send(self->zap, code, strlen(code), f) < 0 ||
        zmq_send(self->zap, text, strlen(text), f) < 0 ||
        zmq_send(self->zap, user_id, strlen(user_id), f) < 0 ||
        zmq_send(self->zap, meta, mlen, ZMQ_DONTWAIT) < 0)
        ro_log(LOG_ERR, "ZAP reply: %s", zmq_strerror(zmq_errno()));
}

static void s_deny(hub_auth_t *self, zmq_msg_t *reqid, hub_auth_deny_t why, const char *text,
                   const char *domain, const char *address, const char *key)
{
    /* the self-test's refusal is expected: neither counted nor logged */
    if (strcmp(domain, SELFTEST_DOMAIN) != 0) {
        self->denied[why]++;
        if (ro_log_allow(&self->rl_deny))
            ro_log(LOG_WARNING, "refused a connection to %s from %s (key %s): %s", domain, address,
                   key[0] ? key : "-", text);
    }
    /* a libzmq 4.3 client gives up on an endpoint after a refused handshake
     * (400 and, often, 300 alike): agents reconnect on their own schedule */
    s_reply(self, reqid, why == HUB_AUTH_DENY_BAD_REQUEST && !reqid ? "500" : "400", text, "",
            NULL);
}

int hub_auth_serve(hub_auth_t *self)
{
    zmq_msg_t f[ZAP_FRAMES_MAX];
    int kept;
    int total = ro_sock_recv_frames(self->zap, f, ZAP_FRAMES_MAX, &kept);
    if (total <= 0) {
        if (total < 0)
            ro_log(LOG_ERR, "ZAP receive: %s", zmq_strerror(zmq_errno()));
        return total;
    }
    char domain[64] = "?", address[64] = "?", key[RO_KEY_Z85_LEN + 1] = "";
    if (kept >= 3)
        s_frame_text(&f[2], domain, sizeof domain);
    if (kept >= 4)
        s_frame_text(&f[3], address, sizeof address);
    if (kept >= 7 && zmq_msg_size(&f[6]) == 32)
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);

    if (kept < 6 || total > ZAP_FRAMES_MAX || !s_frame_is(&f[0], "1.0")) {
        s_deny(self, kept >= 2 ? &f[1] : NULL, HUB_AUTH_DENY_BAD_REQUEST, "not a ZAP 1.0 request",
               domain, address, key);
    } else if (!strcmp(domain, SELFTEST_DOMAIN)) {
        self->selftest_seen = 1;
        s_deny(self, &f[1], HUB_AUTH_DENY_BAD_REQUEST, "self-test", domain, address, key);
    } else if (!s_frame_is(&f[5], "CURVE") || kept != 7 || !key[0]) {
        s_deny(self, &f[1], HUB_AUTH_DENY_BAD_REQUEST, "CURVE only", domain, address, key);
    } else {
        hub_auth_role_t want;
        if (!strcmp(domain, "ingest"))
            want = HUB_AUTH_UNIT;
        else if (!strcmp(domain, "status") || !strcmp(domain, "feed"))
            want = HUB_AUTH_OPERATOR;
        else
            want = 0;
        const hub_allow_entry_t *e = hub_allow_find_key(self->list, key);
        if (!want) {
            s_deny(self, &f[1], HUB_AUTH_DENY_BAD_REQUEST, "unknown ZAP domain", domain, address,
                   key);
        } else if (hub_allow_count(self->list) == 0) {
            s_deny(self, &f[1], HUB_AUTH_DENY_NO_LIST, "the hub's allow-list admits no one", domain,
                   address, key);
        } else if (!e) {
            s_deny(self, &f[1], HUB_AUTH_DENY_UNKNOWN, "key not on the allow-list", domain, address,
                   key);
        } else if (e->role != want) {
            s_deny(self, &f[1], HUB_AUTH_DENY_WRONG_SOCKET,
                   want == HUB_AUTH_UNIT ? "operator keys may not use the ingest socket"
                                         : "unit keys may use only the ingest socket",
                   domain, address, key);
        } else {
            char user[HUB_AUTH_USER_ID_MAX + 1];
            snprintf(user, sizeof user, "%s%s",
                     e->role == HUB_AUTH_OPERATOR ? HUB_AUTH_OPERATOR_PREFIX : "", e->name);
            self->admitted++;
            /* An operator's handshake comes with every rolloutctl call and
             * tells nothing new (the key is listed, auth_admitted counts
             * it): debug. A unit's is rare (an agent keeps one connection
             * for days and reconnects only after a fault or a hub restart)
             * and is what the operator looks for after enrolling a unit:
             * info, bounded by the limiter. Refusals stay warnings. */
            if (e->role == HUB_AUTH_OPERATOR)
                ro_log(LOG_DEBUG, "admitted %s from %s on %s", user, address, domain);
            else if (ro_log_allow(&self->rl_admit))
                ro_log(LOG_INFO, "admitted %s from %s on %s", user, address, domain);
            s_reply(self, &f[1], "200", "OK", user, e->key);
        }
    }
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&f[i]);
    return 1;
}

/* One monitor event: its number and value, or -1 if none is waiting. */
static int s_monitor_event(void *mon, uint32_t *value)
{
    zmq_msg_t a, b;
    zmq_msg_init(&a);
    if (zmq_msg_recv(&a, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&a);
        return -1;
    }
    int event = -1;
    if (zmq_msg_size(&a) >= 6) {
        const uint8_t *p = zmq_msg_data(&a);
        uint16_t ev;
        memcpy(&ev, p, 2);
        memcpy(value, p + 2, 4);
        event = ev;
    }
    if (zmq_msg_more(&a)) {
        zmq_msg_init(&b);
        zmq_msg_recv(&b, mon, 0);
        zmq_msg_close(&b);
    }
    zmq_msg_close(&a);
    return event;
}

int hub_auth_selftest(hub_auth_t *self, void *ctx, int timeout_ms, char *err, size_t errlen)
{
    char spub[RO_KEY_Z85_LEN + 1], ssec[RO_KEY_Z85_LEN + 1];
    char cpub[RO_KEY_Z85_LEN + 1], csec[RO_KEY_Z85_LEN + 1];
    char ep[256], mon_ep[64];
    size_t eplen = sizeof ep;
    int one = 1, linger = 0, rc = -1;
    void *srv = zmq_socket(ctx, ZMQ_ROUTER), *cli = zmq_socket(ctx, ZMQ_DEALER), *mon = NULL;
    static unsigned runs; /* a monitor endpoint is released late: never reuse one */
    snprintf(mon_ep, sizeof mon_ep, "inproc://rollout-zap-selftest-%p-%u", (void *)self, runs++);
    if (!srv || !cli || zmq_curve_keypair(spub, ssec) || zmq_curve_keypair(cpub, csec) ||
        zmq_setsockopt(srv, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(cli, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(srv, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(srv, ZMQ_CURVE_SECRETKEY, ssec, RO_KEY_Z85_LEN) ||
        zmq_setsockopt(srv, ZMQ_ZAP_DOMAIN, SELFTEST_DOMAIN, strlen(SELFTEST_DOMAIN)) ||
        zmq_bind(srv, "tcp://127.0.0.1:*") || zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen) ||
        zmq_setsockopt(cli, ZMQ_CURVE_SERVERKEY, spub, RO_KEY_Z85_LEN) ||
        zmq_setsockopt(cli, ZMQ_CURVE_PUBLICKEY, cpub, RO_KEY_Z85_LEN) ||
        zmq_setsockopt(cli, ZMQ_CURVE_SECRETKEY, csec, RO_KEY_Z85_LEN) ||
        zmq_socket_monitor(cli, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) ||
        !(mon = zmq_socket(ctx, ZMQ_PAIR)) || zmq_connect(mon, mon_ep) || zmq_connect(cli, ep)) {
        snprintf(err, errlen, "ZAP self-test: cannot set up: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    self->selftest_seen = 0;
    snprintf(err, errlen,
             "ZAP self-test: no handshake within %d ms: the ZAP handler at %s is not answering",
             timeout_ms, HUB_AUTH_ZAP_ENDPOINT);
    int64_t deadline = ro_time_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - ro_time_mono_ms();
        if (left <= 0)
            break;
        zmq_pollitem_t items[2] = {{self->zap, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)left) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            snprintf(err, errlen, "ZAP self-test: poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            while (hub_auth_serve(self) > 0) {
            }
        uint32_t value = 0;
        int ev = (items[1].revents & ZMQ_POLLIN) ? s_monitor_event(mon, &value) : -1;
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && value == 400 && self->selftest_seen) {
            rc = 0;
            break;
        }
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            snprintf(err, errlen,
                     "ZAP self-test: an unlisted key was admitted: libzmq is not asking the "
                     "ZAP handler at %s",
                     HUB_AUTH_ZAP_ENDPOINT);
            break;
        }
        if (ev >= 0) {
            snprintf(err, errlen, "ZAP self-test: handshake failed unexpectedly (event 0x%x, %u)",
                     (unsigned)ev, value);
            break;
        }
    }
done:
    if (cli) {
        zmq_socket_monitor(cli, NULL, 0);
        zmq_close(cli);
    }
    if (mon)
        zmq_close(mon);
    if (srv)
        zmq_close(srv);
    /* the client may have retried meanwhile: answer what is left, never block */
    while (hub_auth_serve(self) > 0) {
    }
    return rc;
}

int hub_auth_admits(const hub_auth_t *self, hub_auth_role_t role, const char *user_id,
                    const char *key)
{
    if (!self || !user_id || !key)
        return 0;
    const hub_allow_entry_t *e = hub_allow_find_key(self->list, key);
    if (!e || e->role != role)
        return 0;
    if (role == HUB_AUTH_OPERATOR) {
        size_t n = strlen(HUB_AUTH_OPERATOR_PREFIX);
        return !strncmp(user_id, HUB_AUTH_OPERATOR_PREFIX, n) && !strcmp(user_id + n, e->name);
    }
    return !strcmp(user_id, e->name);
}

size_t hub_auth_count(const hub_auth_t *self)
{
    return hub_allow_count(self->list);
}

uint64_t hub_auth_generation(const hub_auth_t *self)
{
    return self->generation;
}

size_t hub_auth_dropped(const hub_auth_t *self)
{
    return self->dropped;
}

size_t hub_auth_bad_lines(const hub_auth_t *self)
{
    return self->bad_lines;
}

uint64_t hub_auth_bad_lines_seen(const hub_auth_t *self)
{
    return self->bad_lines_seen;
}

size_t hub_auth_kept(const hub_auth_t *self)
{
    return hub_allow_kept_count(self->list);
}

uint64_t hub_auth_admitted(const hub_auth_t *self)
{
    return self->admitted;
}

uint64_t hub_auth_denied(const hub_auth_t *self, hub_auth_deny_t why)
{
    return (unsigned)why < HUB_AUTH_DENY_COUNT ? self->denied[why] : 0;
}

const char *hub_auth_deny_name(hub_auth_deny_t why)
{
    static const char *names[HUB_AUTH_DENY_COUNT] = {"no-list", "unknown-key", "wrong-socket",
                                                     "bad-request"};
    return (unsigned)why < HUB_AUTH_DENY_COUNT ? names[why] : "?";
}
