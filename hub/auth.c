/* hub_auth: the allow-list parser (two open-addressing indexes, by key and
 * by name) and a ZAP handler polled by the hub's single loop, so a reload
 * and the per-message checks never race. What a connection may then say
 * is ingest's and status's business. */
#include "auth.h"
#include "ro_log.h"
#include "ro_report.h"
#include "ro_sock.h"
#include "ro_time.h"

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

struct hub_allow {
    hub_allow_entry_t *entries; /* in file order */
    size_t n;
    uint32_t *by_key;  /* slots: entry index + 1, 0 = empty */
    uint32_t *by_name; /* same, keyed by role and name */
    size_t mask;       /* slots - 1 (a power of two minus one) */
};

struct hub_auth {
    void *zap;                 /* REP bound at HUB_AUTH_ZAP_ENDPOINT */
    char path[512];            /* the allow-list file */
    hub_allow_t *list;         /* NULL or empty: admit no one */
    uint64_t generation;       /* lists loaded */
    uint64_t admitted;         /* connections admitted */
    uint64_t denied[HUB_AUTH_DENY_COUNT];
    int selftest_seen;         /* the self-test's request reached us */
    ro_ratelimit_t rl_deny;    /* refusal log lines */
    ro_ratelimit_t rl_admit;   /* admission log lines */
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

hub_allow_t *hub_allow_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: contains a NUL byte: not an allow-list", name);
        return NULL;
    }
    /* entries <= lines; count them for the allocation */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    hub_allow_t *self = calloc(1, sizeof *self);
    size_t slots = 16;
    while (slots < 2 * lines)
        slots *= 2;
    if (self) {
        self->entries = calloc(lines, sizeof *self->entries);
        self->by_key = calloc(slots, sizeof *self->by_key);
        self->by_name = calloc(slots, sizeof *self->by_name);
        self->mask = slots - 1;
    }
    if (!self || !self->entries || !self->by_key || !self->by_name) {
        snprintf(err, errlen, "%s: out of memory", name);
        hub_allow_destroy(&self);
        return NULL;
    }
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char line[LINE_MAX_BYTES + 1];
        if (n > LINE_MAX_BYTES) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", name, lineno, LINE_MAX_BYTES);
            goto fail;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        char *w[4];
        int nw = s_words(line, w);
        if (nw == 0 || w[0][0] == '#')
            continue;
        if (nw != 3) {
            snprintf(err, errlen,
                     "%s:%d: expected 'unit UNIT-ID KEY' or 'operator NAME KEY' (3 words), got %d",
                     name, lineno, nw > 4 ? 5 : nw);
            goto fail;
        }
        hub_auth_role_t role;
        if (!strcmp(w[0], "unit"))
            role = HUB_AUTH_UNIT;
        else if (!strcmp(w[0], "operator"))
            role = HUB_AUTH_OPERATOR;
        else {
            snprintf(err, errlen, "%s:%d: '%.32s' is not 'unit' or 'operator'", name, lineno, w[0]);
            goto fail;
        }
        if (!hub_allow_name_valid(role, w[1])) {
            snprintf(err, errlen, "%s:%d: '%.40s' is not a valid %s", name, lineno, w[1],
                     role == HUB_AUTH_UNIT ? "unit id (DIVISION-NNN)"
                                           : "operator name (1-32 of A-Z a-z 0-9 . _ -)");
            goto fail;
        }
        if (!hub_allow_key_valid(w[2])) {
            snprintf(err, errlen, "%s:%d: '%.48s' is not a 40-character Z85 public key", name,
                     lineno, w[2]);
            goto fail;
        }
        size_t ns = s_slot(self, self->by_name, 0, role, w[1]);
        if (self->by_name[ns]) {
            snprintf(err, errlen, "%s:%d: %s %s is already listed on line %d", name, lineno, w[0],
                     w[1], self->entries[self->by_name[ns] - 1].line);
            goto fail;
        }
        size_t ks = s_slot(self, self->by_key, 1, 0, w[2]);
        if (self->by_key[ks]) {
            snprintf(err, errlen, "%s:%d: this key is already listed on line %d", name, lineno,
                     self->entries[self->by_key[ks] - 1].line);
            goto fail;
        }
        hub_allow_entry_t *e = &self->entries[self->n];
        e->role = role;
        snprintf(e->name, sizeof e->name, "%s", w[1]);
        snprintf(e->key, sizeof e->key, "%s", w[2]);
        e->line = lineno;
        self->n++;
        self->by_key[ks] = (uint32_t)self->n;
        self->by_name[ns] = (uint32_t)self->n;
    }
    return self;
fail:
    hub_allow_destroy(&self);
    return NULL;
}

hub_allow_t *hub_allow_load(const char *path, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_mode & 022) {
        snprintf(err, errlen, "%s: writable by group or others (mode %03o): chmod go-w it", path,
                 (unsigned)(st.st_mode & 0777));
        close(fd);
        return NULL;
    }
    if (st.st_size > (off_t)HUB_AUTH_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, HUB_AUTH_FILE_MAX);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
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
                return NULL;
            }
            char *more = realloc(buf, cap * 2);
            if (!more) {
                snprintf(err, errlen, "%s: out of memory", path);
                free(buf);
                close(fd);
                return NULL;
            }
            buf = more;
            cap *= 2;
        }
    }
    close(fd);
    hub_allow_t *self = hub_allow_parse(buf, used, path, err, errlen);
    free(buf);
    return self;
}

size_t hub_allow_count(const hub_allow_t *self)
{
    return self ? self->n : 0;
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
    hub_auth_reload(self);
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

int hub_auth_reload(hub_auth_t *self)
{
    char err[1024];
    hub_allow_t *list = hub_allow_load(self->path, err, sizeof err);
    size_t units = 0, ops = 0;
    for (size_t i = 0; i < hub_allow_count(list); i++) {
        if (hub_allow_at(list, i)->role == HUB_AUTH_UNIT)
            units++;
        else
            ops++;
    }
    /* replace, never merge: a key gone from the file is gone from the hub */
    hub_allow_destroy(&self->list);
    self->list = list;
    self->generation++;
    if (!list) {
        ro_log(LOG_ERR, "allow-list unusable, admitting no one: %s", err);
        return -1;
    }
    if (units + ops == 0) {
        ro_log(LOG_ERR, "allow-list %s lists no keys: admitting no one", self->path);
        return -1;
    }
    ro_log(LOG_NOTICE, "allow-list loaded from %s: %zu units, %zu operators (load %llu)",
           self->path, units, ops, (unsigned long long)self->generation);
    return (int)(units + ops);
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
        zmq_send(self->zap, reqid ? zmq_msg_data(reqid) : "", reqid ? zmq_msg_size(reqid) : 0, f) < 0 ||
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
            ro_log(LOG_WARNING, "refused a connection to %s from %s (key %s): %s", domain,
                   address, key[0] ? key : "-", text);
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
            s_deny(self, &f[1], HUB_AUTH_DENY_NO_LIST, "the hub's allow-list admits no one",
                   domain, address, key);
        } else if (!e) {
            s_deny(self, &f[1], HUB_AUTH_DENY_UNKNOWN, "key not on the allow-list", domain,
                   address, key);
        } else if (e->role != want) {
            s_deny(self, &f[1], HUB_AUTH_DENY_WRONG_SOCKET,
                   want == HUB_AUTH_UNIT ? "operator keys may not use the ingest socket"
                                         : "unit keys may use only the ingest socket",
                   domain, address, key);
        } else {
            char user[HUB_AUTH_USER_ID_MAX + 1];
            snprintf(user, sizeof user, "%s%s", e->role == HUB_AUTH_OPERATOR ? HUB_AUTH_OPERATOR_PREFIX : "",
                     e->name);
            self->admitted++;
            if (ro_log_allow(&self->rl_admit))
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
        zmq_socket_monitor(cli, mon_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) ||
        !(mon = zmq_socket(ctx, ZMQ_PAIR)) || zmq_connect(mon, mon_ep) ||
        zmq_connect(cli, ep)) {
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
