/* agent_sender: one DEALER, one monitor, one poll loop. Delivery is made
 * reliable by the outbox and the hub's cumulative acks, not by libzmq: any
 * doubt (timeout, reconnect) rewinds to the last ack and sends again, and the
 * hub drops the duplicates. Storing and validating reports is not done here. */
#include "sender.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define DRAIN_MAX 1024            /* hub messages handled per wake */
#define DOWN_FIRST_NOTE_MS 60000  /* first "hub unreachable" note */
#define DOWN_NOTE_EVERY_MS 600000 /* and then this often */
#define RTO_CAP_MS 60000          /* longest resend timeout after backoff */
#define REAUTH_FIRST_MS 5000      /* libzmq 4.3 gives up on an endpoint after a failed */
#define REAUTH_MAX_MS 300000      /* handshake: connect again after this, doubling */
#define RELEASE_QUIET_MS 500      /* give memory back after this long without traffic */

struct agent_sender {
    ro_agent_config_t cfg;      /* copied at creation */
    agent_outbox_t *outbox;     /* borrowed */
    void *ctx;                  /* own ZeroMQ context */
    void *sock;                 /* DEALER to the hub's ingest ROUTER */
    void *monitor;              /* PAIR reading the DEALER's socket events */
    uint64_t acked;             /* last ack applied to the outbox */
    uint64_t sent_upto;         /* highest seq sent in this pass (>= acked) */
    uint64_t next_seq;          /* outbox next_seq as last read */
    uint64_t limit;             /* events allowed in flight: window, or 1 after a timeout */
    int64_t rto_ms;             /* current resend timeout: resend_ms, doubled per timeout */
    int connected;              /* handshake done, no disconnect since */
    int blocked;                /* last send hit EAGAIN: wait for POLLOUT */
    int dirty;                  /* the outbox may hold events after sent_upto */
    int stopping;               /* stop asked: send nothing new */
    int64_t progress_ms;        /* last ack progress, or start of the flight */
    int64_t next_hb_ms;         /* next heartbeat due */
    int64_t stop_by_ms;         /* stopping: give up waiting for acks */
    int64_t down_since_ms;      /* not connected since */
    int64_t down_note_ms;       /* next "still unreachable" note */
    int64_t reauth_ms;          /* after a key refusal: when to connect again; 0 = not refused */
    int64_t reauth_wait_ms;     /* wait before the next try; doubles to REAUTH_MAX_MS */
    int64_t key_refused_ms;     /* since when the hub refuses our key; 0 = it does not */
    int key_refused_at;         /* where: S_KEY_HANDSHAKE or S_KEY_REPORTS */
    int64_t release_ms;         /* when quiet until then, give memory back; 0 = nothing to give */
    ro_ratelimit_t rl_refusal;  /* refusals can come by the thousand */
    ro_ratelimit_t rl_trouble;  /* handshake failures, odd acks, errors */
    ro_ratelimit_t rl_resend;   /* timeout resends */
    agent_sender_stats_t stats; /* what this run did */
};

/* ---- sockets ----------------------------------------------------------- */

/* A DEALER with the options every agent socket needs; not yet connected. */
static void *s_dealer(void *ctx, const ro_agent_config_t *cfg, int hwm, char *err, size_t errlen)
{
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!sock) {
        snprintf(err, errlen, "cannot make a socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int one = 1;
    if (ro_sock_harden(sock, RO_FRAME_MAX) || ro_sock_backoff(sock) ||
        zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one) ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm)) {
        snprintf(err, errlen, "cannot set socket options: %s", zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    if (cfg->sec.curve && ro_sock_curve_client(sock, cfg->sec.hub_public, cfg->sec.public_key,
                                               cfg->sec.secret_key, err, errlen)) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

static int s_connect(void *sock, const char *endpoint, char *err, size_t errlen)
{
    if (zmq_connect(sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to hub endpoint '%s': %s", endpoint,
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* Encode a heartbeat for unit into buf; returns its length or -1. */
static int s_heartbeat_encode(const char *unit, uint64_t depth, uint8_t *buf, size_t cap)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%.*s", RO_UNIT_MAX, unit);
    r.seq = 0;
    r.recorded_at = ro_time_now();
    r.kind = RO_KIND_HEARTBEAT;
    r.depth = depth;
    snprintf(r.text, sizeof r.text, "%s", RO_VERSION);
    return ro_report_encode(&r, buf, cap);
}

agent_sender_t *agent_sender_new(const ro_agent_config_t *cfg, agent_outbox_t *outbox, char *err,
                                 size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    agent_sender_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->outbox = outbox;
    ro_ratelimit_init(&self->rl_refusal, 20, 1.0);
    ro_ratelimit_init(&self->rl_trouble, 3, 1.0 / 60);
    ro_ratelimit_init(&self->rl_resend, 3, 1.0 / 60);
    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        snprintf(err, errlen, "cannot make a ZeroMQ context: %s", zmq_strerror(errno));
        goto fail;
    }
    /* room for a full window plus heartbeats, so EAGAIN means "no hub" */
    self->sock = s_dealer(self->ctx, cfg, cfg->window + 16, err, errlen);
    if (!self->sock)
        goto fail;
    char monitor_ep[64];
    snprintf(monitor_ep, sizeof monitor_ep, "inproc://rollout-agent-monitor-%p", (void *)self);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_CONNECT_RETRIED;
    if (zmq_socket_monitor(self->sock, monitor_ep, events) != 0 ||
        !(self->monitor = zmq_socket(self->ctx, ZMQ_PAIR)) ||
        zmq_connect(self->monitor, monitor_ep) != 0) {
        snprintf(err, errlen, "cannot monitor the hub socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (s_connect(self->sock, cfg->hub, err, errlen))
        goto fail;
    if (!cfg->sec.curve) {
        if (ro_endpoint_is_local(cfg->hub))
            ro_log(LOG_WARNING,
                   "CURVE is off ([security] curve = off): reports go to %s in plain "
                   "text; fine on loopback, nowhere else",
                   cfg->hub);
        else
            ro_log(LOG_WARNING,
                   "CURVE is off ([security] curve = off): reports go to the remote "
                   "hub %s in plain text, readable and forgeable on the way",
                   cfg->hub);
    }
    return self;
fail:
    agent_sender_destroy(&self);
    return NULL;
}

void agent_sender_destroy(agent_sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_sender_t *self = *self_p;
    if (self->sock) {
        zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->sock);
    }
    if (self->monitor)
        zmq_close(self->monitor);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

/* ---- sending ----------------------------------------------------------- */

/* Go back to the last ack: everything after it is sent again. */
static void s_rewind(agent_sender_t *self, const char *why, int quiet)
{
    if (self->sent_upto > self->acked) {
        ro_log(quiet ? LOG_DEBUG : LOG_INFO,
               "%s: resending from seq %" PRIu64 " (%" PRIu64 " were in flight)", why,
               self->acked + 1, self->sent_upto - self->acked);
        self->stats.rewinds++;
    }
    self->sent_upto = self->acked;
    self->dirty = 1;
    self->blocked = 0;
}

/* Nothing acknowledged for rto_ms: the hub is slow, paused or lost something.
 * Resend one event and wait twice as long before the next try, so a paused
 * hub is not flooded with whole windows by every unit at once. */
static void s_timeout(agent_sender_t *self)
{
    char why[96];
    snprintf(why, sizeof why, "no ack for %" PRId64 " ms", self->rto_ms);
    s_rewind(self, why, !ro_log_allow(&self->rl_resend));
    self->limit = 1;
    int64_t cap = self->cfg.resend_ms > RTO_CAP_MS ? self->cfg.resend_ms : RTO_CAP_MS;
    self->rto_ms = self->rto_ms * 2 > cap ? cap : self->rto_ms * 2;
}

/* Progress or a fresh connection: full window, base timeout. */
static void s_open_window(agent_sender_t *self)
{
    self->limit = (uint64_t)self->cfg.window;
    self->rto_ms = self->cfg.resend_ms;
}

/* Traffic: give memory back once it has been quiet for a while. */
static void s_busy(agent_sender_t *self)
{
    self->release_ms = ro_time_mono_ms() + RELEASE_QUIET_MS;
}

/* Quiet, nothing in flight: return what a drain grew (SQLite's page cache,
 * cold statements, freed heap pages, libzmq's freed buffers) to the system. */
static void s_release(agent_sender_t *self)
{
    self->release_ms = 0;
    agent_outbox_release(self->outbox);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

typedef struct {
    agent_sender_t *self;
    int stopped; /* a send failed: stop the pass */
} s_pass_t;

/* agent_outbox_each's callback: one event onto the wire, straight from the
 * outbox's row (libzmq copies it). */
static int s_send_one(void *arg, uint64_t seq, const uint8_t *body, size_t len)
{
    s_pass_t *pass = arg;
    agent_sender_t *self = pass->self;
    if (self->sent_upto == self->acked)
        self->progress_ms = ro_time_mono_ms(); /* a new flight starts its clock */
    if (zmq_send(self->sock, body, len, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN)
            self->blocked = 1;
        else if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "send failed: %s", zmq_strerror(errno));
        pass->stopped = 1;
        return 1;
    }
    self->sent_upto = seq;
    self->stats.sent++;
    return 0;
}

/* Send what the window allows, oldest first. */
static void s_pump(agent_sender_t *self)
{
    while (self->dirty && !self->blocked && !self->stopping) {
        uint64_t inflight = self->sent_upto - self->acked;
        if (inflight >= self->limit)
            return; /* stays dirty: the next ack opens the window */
        uint64_t room = self->limit - inflight;
        if (room > AGENT_SEND_BATCH)
            room = AGENT_SEND_BATCH;
        s_pass_t pass = {self, 0};
        int n = agent_outbox_each(self->outbox, self->sent_upto, (size_t)room, s_send_one, &pass);
        if (n > 0)
            s_busy(self);
        if (n < 0) {
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_ERR, "cannot read the outbox: %s; will retry",
                       agent_outbox_errmsg(self->outbox));
            return;
        }
        if (pass.stopped)
            return;
        if ((uint64_t)n < room) {
            self->dirty = 0;
            return;
        }
    }
}

static void s_heartbeat(agent_sender_t *self)
{
    agent_outbox_stats_t st;
    uint64_t depth = 0;
    if (agent_outbox_stats(self->outbox, &st) == 0) {
        depth = (uint64_t)st.depth;
        self->next_seq = st.next_seq;
    }
    uint8_t buf[RO_FRAME_MAX];
    int len = s_heartbeat_encode(self->cfg.unit, depth, buf, sizeof buf);
    if (len > 0 && zmq_send(self->sock, buf, (size_t)len, ZMQ_DONTWAIT) < 0 && errno != EAGAIN &&
        ro_log_allow(&self->rl_trouble))
        ro_log(LOG_ERR, "heartbeat send failed: %s", zmq_strerror(errno));
    self->next_hb_ms = ro_time_mono_ms() + (int64_t)self->cfg.heartbeat_s * 1000;
}

/* ---- what the hub says ------------------------------------------------- */

/* Key trouble is loud when it starts (the callers log it) and when it ends,
 * so that staff who saw "refused" in the log also see that it is over. */
enum { S_KEY_HANDSHAKE = 1, S_KEY_REPORTS = 2 };

static void s_key_refused(agent_sender_t *self, int where)
{
    if (!self->key_refused_ms)
        self->key_refused_ms = ro_time_mono_ms();
    self->key_refused_at = where;
}

/* The hub has shown it takes our key again: at a handshake (only a refused
 * handshake is over then) or by an ack (a refused report is over too). */
static void s_key_accepted(agent_sender_t *self, int where)
{
    if (!self->key_refused_ms || (where == S_KEY_HANDSHAKE && self->key_refused_at != where))
        return;
    ro_log(LOG_NOTICE,
           "the hub accepts unit %s's key again, after %" PRId64
           " s of refusals; events waiting in the outbox are being sent",
           self->cfg.unit, (ro_time_mono_ms() - self->key_refused_ms) / 1000);
    self->key_refused_ms = 0;
    self->key_refused_at = 0;
}

static void s_on_ack(agent_sender_t *self, uint64_t upto)
{
    if (upto < self->acked) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_WARNING,
                   "the hub has stored only up to seq %" PRIu64 " but acknowledged %" PRIu64
                   " before: it lost reports %" PRIu64 "..%" PRIu64
                   " (restored from a backup?); they are no longer here to resend",
                   upto, self->acked, upto + 1, self->acked);
        return;
    }
    if (upto == self->acked)
        return;
    if (upto >= self->next_seq) {
        agent_outbox_stats_t st;
        if (agent_outbox_stats(self->outbox, &st) == 0)
            self->next_seq = st.next_seq;
        if (upto >= self->next_seq) {
            /* applying it would forget events the hub has never seen */
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_ERR,
                       "the hub has stored up to seq %" PRIu64 " for unit %s, but this outbox "
                       "has only reached seq %" PRIu64 ": the outbox was replaced or restored "
                       "from an old copy; the hub will refuse reused seqs as conflicts (they "
                       "are kept in the refused table). Ask the operator",
                       upto, self->cfg.unit, self->next_seq - 1);
            return;
        }
    }
    if (agent_outbox_ack(self->outbox, upto, ro_time_now()) != 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "cannot record the ack of seq %" PRIu64 ": %s; the next ack retries",
                   upto, agent_outbox_errmsg(self->outbox));
        return;
    }
    self->stats.acked += upto - self->acked;
    self->acked = upto;
    s_busy(self);
    if (self->sent_upto < upto)
        self->sent_upto = upto;
    self->progress_ms = ro_time_mono_ms();
    self->dirty = 1;
    s_open_window(self);
}

static void s_on_refusal(agent_sender_t *self, const ro_hubmsg_t *m)
{
    const char *why = ro_reason_name(m->reason);
    if (m->reason == RO_REASON_FORBIDDEN)
        s_key_refused(self, S_KEY_REPORTS);
    if (m->seq == 0 && m->reason == RO_REASON_MALFORMED) {
        /* nothing this agent encodes should fail to decode: say so loudly */
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "the hub could not read a message this agent sent (%s): %s", why,
                   m->text);
        return;
    }
    if (m->seq == 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_WARNING, "the hub refused our heartbeat (%s): %s", why, m->text);
        return;
    }
    if (!ro_reason_final(m->reason)) {
        /* the hub did not use the seq up: once its side is fixed (an upgrade,
         * the registry, the allow-list) the same event is taken */
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_WARNING,
                   "the hub refused seq %" PRIu64 " (%s): %s; it stays in the outbox and is "
                   "sent again until the hub takes it",
                   m->seq, why, m->text);
        return;
    }
    int rc = agent_outbox_refuse(self->outbox, m->seq, m->reason, m->text, ro_time_now());
    if (rc < 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "cannot set refused seq %" PRIu64 " aside: %s; it will be resent",
                   m->seq, agent_outbox_errmsg(self->outbox));
        return;
    }
    if (rc == 1) {
        ro_log(LOG_INFO,
               "the hub refused seq %" PRIu64 " (%s), which is no longer in the "
               "outbox: %s",
               m->seq, why, m->text);
        return;
    }
    self->stats.refused++;
    s_busy(self);
    if (ro_log_allow(&self->rl_refusal)) {
        ro_log(LOG_WARNING,
               "the hub refused seq %" PRIu64 " (%s): %s; kept in the refused "
               "table, never resent",
               m->seq, why, m->text);
        if (self->rl_refusal.suppressed) {
            ro_log(LOG_WARNING, "(%" PRIu64 " more refusals not logged)",
                   self->rl_refusal.suppressed);
            self->rl_refusal.suppressed = 0;
        }
    }
}

/* Handle what is waiting on the socket: refusals at once (before the ack
 * that covers them forgets the event), acks coalesced into one transaction. */
static void s_on_hub(agent_sender_t *self)
{
    uint64_t best = 0;
    int have_ack = 0;
    uint8_t buf[RO_FRAME_MAX + 1];
    for (int i = 0; i < DRAIN_MAX; i++) {
        int n = zmq_recv(self->sock, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        ro_hubmsg_t m;
        char why[160];
        if (n > RO_FRAME_MAX || ro_hubmsg_decode(buf, (size_t)n, &m, why, sizeof why) != 0) {
            if (n > RO_FRAME_MAX)
                snprintf(why, sizeof why, "frame above %d bytes", RO_FRAME_MAX);
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_WARNING, "ignoring a message from the hub: %s", why);
            continue;
        }
        if (m.unit[0] && strcmp(m.unit, self->cfg.unit) != 0) {
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_WARNING, "ignoring a hub message about unit %s (this agent is %s)",
                       m.unit, self->cfg.unit);
            continue;
        }
        if (m.kind == RO_HUBMSG_REFUSAL) {
            s_on_refusal(self, &m);
        } else if (!have_ack || m.seq > best) {
            best = m.seq;
            have_ack = 1;
        }
    }
    if (have_ack) {
        s_key_accepted(self, S_KEY_REPORTS);
        s_on_ack(self, best);
    }
}

/* After a failed handshake libzmq 4.3 may stop reconnecting (always after a
 * ZAP refusal): the key may be listed later (a SIGHUP on the hub), so connect
 * again ourselves, slowly. */
static void s_reauth_later(agent_sender_t *self, int64_t now)
{
    self->reauth_wait_ms = self->reauth_wait_ms ? self->reauth_wait_ms * 2 : REAUTH_FIRST_MS;
    if (self->reauth_wait_ms > REAUTH_MAX_MS)
        self->reauth_wait_ms = REAUTH_MAX_MS;
    self->reauth_ms = now + self->reauth_wait_ms;
}

static void s_on_monitor(agent_sender_t *self)
{
    for (;;) {
        zmq_msg_t head;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&head) >= 6) {
            const uint8_t *d = zmq_msg_data(&head);
            memcpy(&event, d, sizeof event);
            memcpy(&value, d + 2, sizeof value);
        }
        int more = zmq_msg_more(&head);
        zmq_msg_close(&head);
        while (more) { /* the endpoint frame: we know which hub it is */
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, self->monitor, 0) < 0) {
                zmq_msg_close(&part);
                break;
            }
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        int64_t now = ro_time_mono_ms();
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            self->stats.connects++;
            if (self->stats.connects == 1)
                ro_log(LOG_INFO, "connected to the hub at %s", self->cfg.hub);
            else
                ro_log(LOG_INFO, "reconnected to the hub at %s after %" PRId64 " s", self->cfg.hub,
                       (now - self->down_since_ms) / 1000);
            s_key_accepted(self, S_KEY_HANDSHAKE);
            self->connected = 1;
            self->reauth_ms = 0;
            self->reauth_wait_ms = 0;
            s_rewind(self, "connected", 1);
            s_open_window(self);
            s_heartbeat(self);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (self->connected) {
                ro_log(LOG_WARNING,
                       "lost the connection to the hub; %" PRIu64
                       " event%s unacknowledged; reconnecting",
                       self->sent_upto - self->acked, ro_s(self->sent_upto - self->acked));
                self->connected = 0;
                self->down_since_ms = now;
                self->down_note_ms = now + DOWN_FIRST_NOTE_MS;
            }
            s_rewind(self, "disconnected", 1);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            s_reauth_later(self, now);
            s_key_refused(self, S_KEY_HANDSHAKE);
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_ERR,
                       "the hub refused this agent's CURVE key (ZAP status %u): is "
                       "unit %s's public key on the hub's allow list? trying again in %" PRId64
                       " s",
                       value, self->cfg.unit, self->reauth_wait_ms / 1000);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            s_reauth_later(self, now);
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_ERR,
                       "handshake with the hub failed (ZMTP protocol error 0x%x): check "
                       "[security] keys, and that agent and hub agree on curve = on or off",
                       value);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            s_reauth_later(self, now);
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_ERR,
                       "handshake with the hub failed (%s): check [security] keys "
                       "(hub_public_key must be the hub's), and that agent and hub agree on "
                       "curve = on or off",
                       zmq_strerror((int)value));
            break;
        default: ro_log(LOG_DEBUG, "hub socket event 0x%x (value %u)", event, value); break;
        }
    }
}

/* ---- the loop ---------------------------------------------------------- */

static int64_t s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* How long the run loop may wait for the sockets: the next timer due, or
 * while stopping the time left to wait for acks. */
static int64_t s_poll_timeout(const agent_sender_t *self, int64_t now)
{
    int64_t timeout;
    if (self->stopping) {
        timeout = self->stop_by_ms - now;
    } else {
        timeout = s_min(self->cfg.poll_ms, self->next_hb_ms - now);
        if (self->sent_upto > self->acked)
            timeout = s_min(timeout, self->progress_ms + self->rto_ms - now);
        if (self->reauth_ms)
            timeout = s_min(timeout, self->reauth_ms - now);
        if (self->release_ms && self->sent_upto == self->acked)
            timeout = s_min(timeout, self->release_ms - now);
    }
    return timeout < 0 ? 0 : timeout;
}

/* stop_fd was written (SIGTERM): stop once the events in flight are
 * acknowledged, or AGENT_STOP_GRACE_MS from now. */
static void s_on_stop(agent_sender_t *self, int stop_fd)
{
    char sink[64];
    while (read(stop_fd, sink, sizeof sink) > 0)
        ;
    if (self->stopping)
        return;
    self->stopping = 1;
    self->stop_by_ms = ro_time_mono_ms() + AGENT_STOP_GRACE_MS;
    if (self->connected && self->sent_upto > self->acked)
        ro_log(LOG_INFO,
               "stopping: waiting up to %d ms for the hub to acknowledge %" PRIu64 " event%s",
               AGENT_STOP_GRACE_MS, self->sent_upto - self->acked,
               ro_s(self->sent_upto - self->acked));
}

/* The run loop's timers, after each wake: reconnect after a refusal,
 * heartbeat, resend timeout, new records, memory back, the outage note. */
static void s_on_timers(agent_sender_t *self, int64_t now)
{
    if (self->reauth_ms && now >= self->reauth_ms) {
        self->reauth_ms = 0;
        zmq_disconnect(self->sock, self->cfg.hub); /* whatever is left of the refused one */
        if (zmq_connect(self->sock, self->cfg.hub) != 0)
            ro_log(LOG_ERR, "cannot connect to %s again: %s", self->cfg.hub, zmq_strerror(errno));
    }
    if (now >= self->next_hb_ms)
        s_heartbeat(self);
    if (self->sent_upto > self->acked && now - self->progress_ms >= self->rto_ms)
        s_timeout(self);
    int changed = agent_outbox_changed(self->outbox);
    if (changed != 0)
        self->dirty = 1; /* new records, or a read error worth retrying */
    if (self->release_ms && now >= self->release_ms && self->sent_upto == self->acked)
        s_release(self);
    if (!self->connected && now >= self->down_note_ms) {
        int64_t depth = agent_outbox_depth(self->outbox);
        ro_log(LOG_NOTICE,
               "the hub at %s has not been reachable for %" PRId64 " min; %" PRId64
               " event%s waiting; still trying",
               self->cfg.hub, (now - self->down_since_ms) / 60000, depth, ro_s((uint64_t)depth));
        self->down_note_ms = now + DOWN_NOTE_EVERY_MS;
    }
}

int agent_sender_run(agent_sender_t *self, int stop_fd)
{
    agent_outbox_stats_t st;
    if (agent_outbox_stats(self->outbox, &st) != 0) {
        ro_log(LOG_ERR, "cannot read the outbox: %s", agent_outbox_errmsg(self->outbox));
        return -1;
    }
    int64_t now = ro_time_mono_ms();
    self->acked = self->sent_upto = st.last_ack;
    self->next_seq = st.next_seq;
    self->dirty = 1;
    s_open_window(self);
    self->down_since_ms = now;
    self->down_note_ms = now + DOWN_FIRST_NOTE_MS;
    self->next_hb_ms = now + (int64_t)self->cfg.heartbeat_s * 1000;
    agent_outbox_changed(self->outbox); /* baseline: what follows is news */
    /* give back, once quiet, what opening the outbox and connecting left behind */
    self->release_ms = now + RELEASE_QUIET_MS;
    ro_log(LOG_INFO,
           "unit %s: %" PRId64 " event%s waiting (next seq %" PRIu64 ", last ack %" PRIu64
           ", %" PRId64 " acknowledged kept for refill); sending to %s, window %d",
           self->cfg.unit, st.depth, ro_s((uint64_t)st.depth), st.next_seq, st.last_ack,
           st.retained, self->cfg.hub, self->cfg.window);

    int rc = 0;
    for (;;) {
        now = ro_time_mono_ms();
        if (self->stopping &&
            (self->sent_upto <= self->acked || !self->connected || now >= self->stop_by_ms))
            break;
        s_pump(self);

        int64_t timeout = s_poll_timeout(self, now);

        zmq_pollitem_t items[3] = {
            {self->sock, 0, ZMQ_POLLIN | (self->blocked ? ZMQ_POLLOUT : 0), 0},
            {self->monitor, 0, ZMQ_POLLIN, 0},
            {NULL, stop_fd, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 3, (long)timeout) < 0) {
            if (errno == EINTR)
                continue; /* the handler also wrote to stop_fd */
            ro_log(LOG_ERR, "poll failed: %s", zmq_strerror(errno));
            rc = -1;
            break;
        }
        if (items[2].revents & ZMQ_POLLIN)
            s_on_stop(self, stop_fd);
        if (items[1].revents & ZMQ_POLLIN)
            s_on_monitor(self);
        if (items[0].revents & ZMQ_POLLIN)
            s_on_hub(self);
        if (items[0].revents & ZMQ_POLLOUT)
            self->blocked = 0;

        if (!self->stopping)
            s_on_timers(self, ro_time_mono_ms());
    }
    int64_t depth = agent_outbox_depth(self->outbox);
    ro_log(LOG_INFO,
           "stopped: %" PRIu64 " sent, %" PRIu64 " acknowledged, %" PRIu64
           " refused this run; %" PRId64 " event%s wait%s in the outbox",
           self->stats.sent, self->stats.acked, self->stats.refused, depth, ro_s((uint64_t)depth),
           depth == 1 ? "s" : "");
    return rc;
}

/* ---- the probe --------------------------------------------------------- */

int agent_sender_probe(const ro_agent_config_t *cfg, uint64_t depth, int timeout_ms,
                       agent_probe_t *out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    memset(out, 0, sizeof *out);
    int rc = -1;
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        snprintf(err, errlen, "cannot make a ZeroMQ context: %s", zmq_strerror(errno));
        return -1;
    }
    void *sock = s_dealer(ctx, cfg, 16, err, errlen);
    if (!sock)
        goto done;
    int64_t start = ro_time_mono_ms(), deadline = start + timeout_ms;
    int t = timeout_ms;
    if (zmq_setsockopt(sock, ZMQ_SNDTIMEO, &t, sizeof t) || s_connect(sock, cfg->hub, err, errlen))
        goto done;
    uint8_t buf[RO_FRAME_MAX + 1];
    int len = s_heartbeat_encode(cfg->unit, depth, buf, sizeof buf);
    if (len < 0) {
        snprintf(err, errlen, "cannot encode a heartbeat");
        goto done;
    }
    /* with ZMQ_IMMEDIATE the send waits for a finished handshake */
    if (zmq_send(sock, buf, (size_t)len, 0) < 0) {
        if (errno == EAGAIN)
            snprintf(err, errlen,
                     "no connection to the hub at %s within %d ms (hub down, "
                     "unreachable, or refusing this agent's keys)",
                     cfg->hub, timeout_ms);
        else
            snprintf(err, errlen, "send to %s failed: %s", cfg->hub, zmq_strerror(errno));
        goto done;
    }
    snprintf(err, errlen, "connected to the hub at %s, but it did not answer within %d ms",
             cfg->hub, timeout_ms);
    for (;;) {
        int64_t left = deadline - ro_time_mono_ms();
        if (left <= 0)
            break;
        t = (int)left;
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &t, sizeof t);
        int n = zmq_recv(sock, buf, sizeof buf, 0);
        if (n < 0)
            break;
        ro_hubmsg_t m;
        if (n > RO_FRAME_MAX || ro_hubmsg_decode(buf, (size_t)n, &m, NULL, 0) != 0 ||
            (m.unit[0] && strcmp(m.unit, cfg->unit) != 0)) {
            snprintf(err, errlen, "the hub at %s answered with something this agent cannot read",
                     cfg->hub);
            continue;
        }
        if (m.kind == RO_HUBMSG_REFUSAL && m.seq != 0)
            continue; /* about an event, not our heartbeat */
        out->rtt_ms = ro_time_mono_ms() - start;
        if (m.kind == RO_HUBMSG_REFUSAL) {
            out->refused = 1;
            out->reason = m.reason;
            snprintf(out->text, sizeof out->text, "%s", m.text);
        } else {
            out->upto = m.seq;
        }
        err[0] = '\0';
        rc = 0;
        break;
    }
done:
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
