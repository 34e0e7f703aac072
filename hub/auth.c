/* hub_auth: a ZAP handler over the allow-list (lib/ro_allow), polled by the
 * hub's single loop, so a reload and the per-message checks never race. What a connection may then
 * say is ingest's and status's business. */
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
#define BAD_LOGGED_MAX 32 /* bad lines logged one by one per read; the rest are counted */

struct hub_auth {
    void *zap;               /* REP bound at HUB_AUTH_ZAP_ENDPOINT */
    char path[512];          /* the allow-list file */
    ro_allow_t *list;        /* NULL or empty: admit no one */
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
    ro_allow_destroy(&self->list);
    free(self);
    *self_p = NULL;
}

/* How one read of the allow-list logs its bad lines. */
typedef struct {
    const char *path; /* the file */
    int at_start;     /* 1: nothing is refined, the read admits no one */
    size_t logged;    /* bad lines logged so far */
} s_bad_log_t;

/* ro_allow_bad_fn: one error line per bad line, saying what it costs. */
static void s_log_bad(void *arg, const ro_allow_bad_t *b)
{
    s_bad_log_t *lg = arg;
    if (lg->logged >= BAD_LOGGED_MAX)
        return;
    lg->logged++;
    const char *role = ro_allow_role_name(b->role);
    if (lg->at_start) {
        ro_log(LOG_ERR, "allow-list %s:%d: %s", lg->path, b->line, b->why);
        return;
    }
    switch (b->outcome) {
    case RO_ALLOW_BAD_KEPT:
        ro_log(LOG_ERR,
               "allow-list %s:%d: %s; %s %s keeps its last good key until the line is fixed",
               lg->path, b->line, b->why, role, b->name);
        break;
    case RO_ALLOW_BAD_NO_KEY:
        ro_log(LOG_ERR,
               "allow-list %s:%d: %s; %s %s had no good key before: admitted nowhere until the "
               "line is fixed",
               lg->path, b->line, b->why, role, b->name);
        break;
    case RO_ALLOW_BAD_LISTED:
        ro_log(LOG_ERR, "allow-list %s:%d: %s; line %d lists %s %s and applies", lg->path, b->line,
               b->why, b->other_line, role, b->name);
        break;
    case RO_ALLOW_BAD_KEY_TAKEN:
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
 * refine the list in use (ro_allow_load_refined), so one typo cuts off no
 * one else, and a key the file no longer names is gone from the hub. */
static int s_load(hub_auth_t *self, int at_start)
{
    char err[1024];
    s_bad_log_t lg = {self->path, at_start, 0};
    ro_allow_t *list = ro_allow_load_refined(self->path, at_start ? NULL : self->list, s_log_bad,
                                             &lg, err, sizeof err);
    size_t bad = ro_allow_bad_count(list);
    if (bad > lg.logged)
        ro_log(LOG_ERR, "allow-list %s: %zu more bad lines, not shown", self->path,
               bad - lg.logged);
    self->bad_lines = bad;
    self->bad_lines_seen += bad;
    if (at_start && bad)
        ro_allow_destroy(&list);
    size_t units = 0, ops = 0;
    for (size_t i = 0; i < ro_allow_count(list); i++) {
        if (ro_allow_at(list, i)->role == HUB_AUTH_UNIT)
            units++;
        else
            ops++;
    }
    /* what the hub must now cut on live connections (hub_peers_revoke) */
    self->dropped = 0;
    for (size_t i = 0; i < ro_allow_count(self->list); i++) {
        const ro_allow_entry_t *old = ro_allow_at(self->list, i);
        const ro_allow_entry_t *now = ro_allow_find_key(list, old->key);
        self->dropped += !now || now->role != old->role || strcmp(now->name, old->name) != 0;
    }
    ro_allow_destroy(&self->list);
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
               self->path, bad, bad == 1 ? "" : "s", units, ops, ro_allow_kept_count(list),
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
        const ro_allow_entry_t *e = ro_allow_find_key(self->list, key);
        if (!want) {
            s_deny(self, &f[1], HUB_AUTH_DENY_BAD_REQUEST, "unknown ZAP domain", domain, address,
                   key);
        } else if (ro_allow_count(self->list) == 0) {
            s_deny(self, &f[1], HUB_AUTH_DENY_NO_LIST, "the hub's allow-list admits no one", domain,
                   address, key);
        } else if (!e) {
            s_deny(self, &f[1], HUB_AUTH_DENY_UNKNOWN, "key not on the allow-list", domain, address,
                   key);
        } else if (e->role != want &&
                   !(want == HUB_AUTH_OPERATOR && e->role == RO_ALLOW_REVIEWER)) {
            s_deny(self, &f[1], HUB_AUTH_DENY_WRONG_SOCKET,
                   want == HUB_AUTH_UNIT ? "operator keys may not use the ingest socket"
                                         : "unit keys may use only the ingest socket",
                   domain, address, key);
        } else {
            char user[HUB_AUTH_USER_ID_MAX + 1];
            snprintf(user, sizeof user, "%s%s", ro_allow_prefix(e->role), e->name);
            self->admitted++;
            /* An operator's handshake comes with every rolloutctl call and
             * tells nothing new (the key is listed, auth_admitted counts
             * it): debug. A unit's is rare (an agent keeps one connection
             * for days and reconnects only after a fault or a hub restart)
             * and is what the operator looks for after enrolling a unit:
             * info, bounded by the limiter. Refusals stay warnings. */
            if (e->role != HUB_AUTH_UNIT)
                ro_log(LOG_DEBUG, "admitted %s from %s on %s", user, address, domain);
            else if (ro_log_shown(LOG_INFO) && ro_log_allow(&self->rl_admit))
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
    const ro_allow_entry_t *e = ro_allow_find_key(self->list, key);
    /* a reviewer may ask everything an operator may */
    if (!e || (e->role != role && !(role == HUB_AUTH_OPERATOR && e->role == RO_ALLOW_REVIEWER)))
        return 0;
    const char *prefix = ro_allow_prefix(e->role);
    size_t n = strlen(prefix);
    return !strncmp(user_id, prefix, n) && !strcmp(user_id + n, e->name);
}

size_t hub_auth_count(const hub_auth_t *self)
{
    return ro_allow_count(self->list);
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
    return ro_allow_kept_count(self->list);
}

uint64_t hub_auth_admitted(const hub_auth_t *self)
{
    return self->admitted;
}

uint64_t hub_auth_denied(const hub_auth_t *self, hub_auth_deny_t why)
{
    return (unsigned)why < HUB_AUTH_DENY_COUNT ? self->denied[why] : 0;
}
