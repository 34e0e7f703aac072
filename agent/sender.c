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
/* earlier incarnations heartbeaten per round; the next round goes on with the others */
#define EARLIER_HB_MAX 16

struct agent_sender {
    ro_agent_config_t cfg;  /* copied at creation */
    agent_outbox_t *outbox; /* borrowed */
    void *ctx;              /* own ZeroMQ context */
    void *sock;             /* DEALER to the hub's ingest ROUTER */
    void *monitor;          /* PAIR reading the DEALER's socket events */
    uint64_t acked;         /* last ack applied to the outbox (local seq) */
    uint64_t sent_upto;     /* highest local seq sent in this pass (>= acked) */
    uint64_t next_seq;      /* outbox next_seq as last read */
    int proto;              /* spoken on this connection: 0 until the hub answers, 1 or 2 */
    uint8_t inc[AGENT_INCARNATION_LEN]; /* the outbox's incarnation, as last read */
    uint64_t base;                      /* and its base: wire seq = local seq - base */
    int legacy;                         /* inc is the legacy one: the same sequence in version 1 */
    uint8_t store_id[AGENT_INCARNATION_LEN]; /* the hub store that acknowledged last */
    int v1_noted;                            /* the fall back to version 1 was logged */
    int v1_correction_noted;                 /* that a correction waits for a version-2 hub */
    int v1_wait_noted;                       /* that this outbox waits for a version-2 hub was */
    /* the earlier incarnation whose kept events are sent again (a refill of
     * it: one at a time, the oldest first), within the same window */
    agent_earlier_t lane;       /* its identity and range */
    int lane_on;                /* lane names one */
    int lane_dirty;             /* it may hold waiting events after lane_sent */
    int lane_look;              /* an earlier incarnation may have events waiting: look */
    uint64_t lane_acked;        /* its events up to this local seq are settled */
    uint64_t lane_sent;         /* highest local seq of it sent in this pass (>= lane_acked) */
    uint64_t hb_from;           /* the next heartbeat round's first earlier base */
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

/* Encode a heartbeat for unit into buf; returns its length or -1. Version
 * 2 says, in wire seqs of the incarnation st names, what the outbox holds
 * acknowledged and keeps (st), and the agent's clock; an earlier
 * incarnation's says no clock (agent_time 0): no agent records in it, and
 * the hub does not take it for a second agent (PROTOCOL.md 5.9). */
static int s_heartbeat_encode(const char *unit, const agent_outbox_stats_t *st, int version,
                              int earlier, uint8_t *buf, size_t cap)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%.*s", RO_UNIT_MAX, unit);
    r.seq = 0;
    r.recorded_at = ro_time_now();
    r.kind = RO_KIND_HEARTBEAT;
    r.depth = st->depth > 0 ? (uint64_t)st->depth : 0;
    snprintf(r.text, sizeof r.text, "%s", RO_VERSION);
    if (version >= 2) {
        r.version = 2;
        memcpy(r.incarnation, st->incarnation, sizeof r.incarnation);
        r.last_ack = st->last_ack > st->base ? st->last_ack - st->base : 0;
        r.agent_time = earlier ? 0 : r.recorded_at;
        r.retained = st->cur_retained > 0 ? (uint64_t)st->cur_retained : 0;
        r.retained_from = st->cur_retained_from > st->base ? st->cur_retained_from - st->base : 0;
    }
    return ro_report_encode(&r, buf, cap);
}

/* The first 8 bytes of an identity in hex, for logs and status. */
static void s_hex8(const uint8_t *id, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
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

/* Events sent and not settled yet, of the current incarnation and of the
 * earlier one being refilled: they share the window. */
static uint64_t s_inflight(const agent_sender_t *self)
{
    return self->sent_upto - self->acked + (self->lane_on ? self->lane_sent - self->lane_acked : 0);
}

/* Go back to the last ack: everything after it is sent again. */
static void s_rewind(agent_sender_t *self, const char *why, int quiet)
{
    if (s_inflight(self) > 0) {
        ro_log(quiet ? LOG_DEBUG : LOG_INFO,
               "%s: resending from seq %" PRIu64 " (%" PRIu64 " were in flight)", why,
               self->lane_on && self->lane_sent > self->lane_acked ? self->lane_acked + 1
                                                                   : self->acked + 1,
               s_inflight(self));
        self->stats.rewinds++;
    }
    self->sent_upto = self->acked;
    self->dirty = 1;
    self->blocked = 0;
    self->lane_sent = self->lane_acked;
    self->lane_dirty = 1;
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
    int stopped;        /* a send failed: stop the pass */
    const uint8_t *inc; /* the incarnation the events are sent under */
    uint64_t base;      /* and its base */
    uint64_t *sent;     /* the highest local seq sent of it */
} s_pass_t;

/* True when the stored event is a correction, which a hub that speaks
 * only version 1 never takes: it waits in the outbox (logged once) until
 * the hub is upgraded. Decodes: only in version 1, a legacy outbox's. */
static int s_is_correction(agent_sender_t *self, const uint8_t *body, size_t len)
{
    ro_report_t r;
    if (ro_report_decode(body, len, &r, NULL, 0) != RO_REASON_NONE || !r.action)
        return 0;
    if (!self->v1_correction_noted)
        ro_log(LOG_WARNING,
               "seq %llu is a correction and the hub at %s speaks only protocol version 1, "
               "which has none: it and the events after it wait in the outbox, nothing is "
               "lost; upgrade the hub to revision 2 and they are sent",
               (unsigned long long)r.seq, self->cfg.hub);
    self->v1_correction_noted = 1;
    return 1;
}

/* agent_outbox_each's callback: one event onto the wire, straight from the
 * outbox's row (libzmq copies it). */
static int s_send_one(void *arg, uint64_t seq, const uint8_t *body, size_t len)
{
    s_pass_t *pass = arg;
    agent_sender_t *self = pass->self;
    uint8_t wire[RO_FRAME_MAX];
    if (self->proto < 2 && s_is_correction(self, body, len)) {
        pass->stopped = 1; /* it and what follows wait: the sequence has no holes */
        return 1;
    }
    if (self->proto >= 2) { /* the wire identity, its own incarnation's, on the stored body */
        int n = ro_report_stamp(body, len, seq - pass->base, pass->inc, wire, sizeof wire);
        if (n < 0) {
            if (ro_log_allow(&self->rl_trouble))
                ro_log(LOG_ERR, "seq %" PRIu64 " does not fit a frame with its identity", seq);
            pass->stopped = 1;
            return 1;
        }
        body = wire, len = (size_t)n;
    }
    if (s_inflight(self) == 0)
        self->progress_ms = ro_time_mono_ms(); /* a new flight starts its clock */
    if (zmq_send(self->sock, body, len, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN)
            self->blocked = 1;
        else if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "send failed: %s", zmq_strerror(errno));
        pass->stopped = 1;
        return 1;
    }
    *pass->sent = seq;
    self->stats.sent++;
    return 0;
}

/* Whether events may be sent on this connection: not before the hub has
 * answered a heartbeat (the version is not known yet), and in version 1
 * only from a legacy outbox, whose sequence is the same in both versions:
 * an outbox with an incarnation of its own would speak for the unit's
 * legacy sequence, which is not its own. */
static int s_may_send(agent_sender_t *self)
{
    if (self->proto == 0)
        return 0;
    if (self->proto >= 2 || (self->legacy && self->base == 0))
        return 1;
    if (!self->v1_wait_noted) {
        int64_t depth = agent_outbox_depth(self->outbox);
        ro_log(LOG_WARNING,
               "this outbox has an identity of its own (a new outbox, or one that drew a new "
               "incarnation) and the hub at %s speaks only protocol version 1, which knows only "
               "the unit's first sequence: its %" PRId64 " waiting event%s stay in the outbox, "
               "nothing is lost; upgrade the hub to revision 2 and they are sent",
               self->cfg.hub, depth, ro_s((uint64_t)(depth > 0 ? depth : 0)));
        self->v1_wait_noted = 1;
    }
    return 0;
}

static void s_read_failed(agent_sender_t *self)
{
    if (ro_log_allow(&self->rl_trouble))
        ro_log(LOG_ERR, "cannot read the outbox: %s; will retry",
               agent_outbox_errmsg(self->outbox));
}

/* Open a lane on the earlier incarnation holding the oldest event that
 * waits to be sent again, if any: from its lowest waiting event. */
static void s_lane_open(agent_sender_t *self)
{
    self->lane_look = 0; /* again after a refill, a drained lane, or at the next heartbeat */
    agent_earlier_t e;
    int rc = agent_outbox_earlier_next(self->outbox, &e);
    if (rc < 0)
        s_read_failed(self);
    if (rc != 1 || e.waiting_from == 0)
        return;
    self->lane = e;
    self->lane_on = 1;
    self->lane_dirty = 1;
    self->lane_acked = self->lane_sent = e.waiting_from - 1;
}

/* The lane's part of a pump: up to room of its waiting events (local
 * seqs, each stamped with the lane's identity). A drained and settled lane
 * makes way for the next one (opened at most once a pump: *opened).
 * Returns how many were sent, or -1 when the pass stopped. */
static int s_lane_pass(agent_sender_t *self, uint64_t room, int *opened)
{
    if (self->lane_on && !self->lane_dirty && self->lane_sent <= self->lane_acked) {
        self->lane_on = 0;
        self->lane_look = 1;
    }
    if (!self->lane_on && self->lane_look && !*opened) {
        *opened = 1;
        s_lane_open(self);
    }
    if (!self->lane_on || !self->lane_dirty)
        return 0;
    s_pass_t pass = {self, 0, self->lane.incarnation, self->lane.base, &self->lane_sent};
    int n = agent_outbox_each_earlier(self->outbox, &self->lane, self->lane_sent, (size_t)room,
                                      s_send_one, &pass);
    if (n < 0)
        s_read_failed(self);
    if (n < 0 || pass.stopped)
        return -1;
    if ((uint64_t)n < room)
        self->lane_dirty = 0;
    return n;
}

/* Send what the window allows, oldest first: an earlier incarnation's
 * refill, then the current one's events. */
static void s_pump(agent_sender_t *self)
{
    int opened = 0;
    while (!self->blocked && !self->stopping && s_may_send(self)) {
        uint64_t inflight = s_inflight(self);
        if (inflight >= self->limit)
            return; /* stays dirty: the next ack opens the window */
        uint64_t room = self->limit - inflight;
        if (room > AGENT_SEND_BATCH)
            room = AGENT_SEND_BATCH;
        int n = self->proto >= 2 ? s_lane_pass(self, room, &opened) : 0;
        if (n < 0)
            return;
        if (n > 0) {
            s_busy(self);
            continue; /* the lane first, while it has events to send */
        }
        if (!self->dirty)
            return;
        s_pass_t pass = {self, 0, self->inc, self->base, &self->sent_upto};
        n = agent_outbox_each(self->outbox, self->sent_upto, (size_t)room, s_send_one, &pass);
        if (n > 0)
            s_busy(self);
        if (n < 0)
            s_read_failed(self);
        if (n < 0 || pass.stopped)
            return;
        if ((uint64_t)n < room) {
            self->dirty = 0;
            return;
        }
    }
}

static void s_heartbeat_send(agent_sender_t *self, const agent_outbox_stats_t *st, int version,
                             int earlier)
{
    uint8_t buf[RO_FRAME_MAX];
    int len = s_heartbeat_encode(self->cfg.unit, st, version, earlier, buf, sizeof buf);
    if (len > 0 && zmq_send(self->sock, buf, (size_t)len, ZMQ_DONTWAIT) < 0 && errno != EAGAIN &&
        ro_log_allow(&self->rl_trouble))
        ro_log(LOG_ERR, "heartbeat send failed: %s", zmq_strerror(errno));
}

/* The agent is the second copy of what its earlier incarnations keep: one
 * heartbeat each (at most EARLIER_HB_MAX a round, the next round going on
 * with the others), in version 2 only, so that the hub answers where it
 * stands in each (its Ack; a refill when it holds less than their last
 * ack, s_on_earlier_ack). */
static void s_heartbeat_earlier(agent_sender_t *self)
{
    agent_earlier_t e[EARLIER_HB_MAX];
    int n = agent_outbox_earlier(self->outbox, self->hb_from, e, EARLIER_HB_MAX);
    if (n < 0) {
        s_read_failed(self);
        return;
    }
    self->hb_from = n == EARLIER_HB_MAX ? e[n - 1].base + 1 : 0;
    for (int i = 0; i < n; i++) {
        agent_outbox_stats_t st = {.depth = e[i].waiting,
                                   .last_ack = e[i].last_ack,
                                   .base = e[i].base,
                                   .cur_retained = e[i].retained,
                                   .cur_retained_from = e[i].retained_from};
        memcpy(st.incarnation, e[i].incarnation, sizeof st.incarnation);
        s_heartbeat_send(self, &st, 2, 1);
    }
    self->lane_look = 1; /* and look again for their waiting events (after a read error) */
}

/* The first heartbeat of a connection asks in version 2 (REVISION-2.md 6);
 * its answer settles the version until the next reconnect, and those of
 * the earlier incarnations follow it in version 2. */
static void s_heartbeat(agent_sender_t *self)
{
    agent_outbox_stats_t st;
    if (agent_outbox_stats(self->outbox, &st) == 0)
        self->next_seq = st.next_seq;
    else
        memset(&st, 0, sizeof st), memcpy(st.incarnation, self->inc, sizeof self->inc);
    s_heartbeat_send(self, &st, self->proto == 1 ? 1 : 2, 0);
    if (self->proto == 2)
        s_heartbeat_earlier(self);
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

/* ---- protocol version 2 ----------------------------------------------- */

/* Read the outbox's identity (incarnation, base) and counters again. */
static int s_load_identity(agent_sender_t *self, agent_outbox_stats_t *st)
{
    static const uint8_t zero[AGENT_INCARNATION_LEN];
    if (agent_outbox_stats(self->outbox, st) != 0)
        return -1;
    memcpy(self->inc, st->incarnation, sizeof self->inc);
    self->base = st->base;
    self->legacy = memcmp(self->inc, zero, sizeof zero) == 0;
    self->next_seq = st->next_seq;
    return 0;
}

/* Another holder speaks under this identity: draw a new one for the
 * waiting events (agent_outbox_switch) and send them from wire seq 1. */
static void s_switch(agent_sender_t *self, const char *why)
{
    int64_t moved = 0;
    agent_outbox_stats_t st;
    if (agent_outbox_switch(self->outbox, &moved) != 0 || s_load_identity(self, &st) != 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "%s, but this agent cannot draw a new identity: %s; will retry", why,
                   agent_outbox_errmsg(self->outbox));
        return;
    }
    char hex[17];
    s_hex8(self->inc, hex);
    ro_log(LOG_WARNING,
           "%s: another agent, or an old copy of this outbox (a copied folder, a cloned "
           "machine, a restored outbox), speaks for unit %s under the same identity. This agent "
           "now sends under a new one (incarnation %s..., its %" PRId64
           " waiting event%s renumbered from seq 1); nothing is lost. The hub's operator sees "
           "two agents for this unit: find the other one",
           why, self->cfg.unit, hex, moved, ro_s((uint64_t)moved));
    self->stats.switches++;
    self->next_hb_ms = ro_time_mono_ms(); /* say at once which incarnation this agent records in */
    self->acked = self->base;
    self->sent_upto = self->base; /* nothing of the new identity is in flight */
    s_rewind(self, "new identity", 1);
    s_open_window(self);
    s_busy(self);
}

/* The hub holds the current incarnation only up to local seq w, below what
 * it acknowledged before: its store was restored or lost writes. Send the
 * kept events above w again; where some are no longer kept, the hub would
 * wait for them for ever (a gap), so the rest goes under a new identity. */
static void s_refill(agent_sender_t *self, uint64_t w)
{
    agent_refill_t rf;
    if (agent_outbox_refill(self->outbox, w, &rf) != 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "cannot refill the hub's store: %s; the next ack retries",
                   agent_outbox_errmsg(self->outbox));
        return;
    }
    if (rf.was_ack <= w)
        return;
    uint64_t b = self->base;
    ro_log(LOG_ERR,
           "the hub's store is behind: it holds unit %s's events only up to seq %" PRIu64
           " of this identity but acknowledged up to %" PRIu64
           " before (its store restored from a backup, or its last writes lost); resending the "
           "%" PRId64 " kept event%s above it",
           self->cfg.unit, w - b, rf.was_ack - b, rf.n, ro_s((uint64_t)rf.n));
    self->stats.refills++;
    self->acked = w;
    s_rewind(self, "the hub's store is behind", 1);
    s_open_window(self);
    s_busy(self);
    if (rf.lost == 0)
        return;
    ro_log(LOG_ERR,
           "%" PRIu64 " of those events (seq %" PRIu64 "..%" PRIu64
           " of this identity) are no longer kept here (beyond retain_days or retain_max_mb) "
           "and cannot be refilled: restore the hub's store from a newer backup "
           "to get them back",
           rf.lost, rf.lost_from - b, rf.lost_to - b);
    s_switch(self, "the hub's store lost events this outbox no longer keeps, and would wait "
                   "for them before storing the next");
}

/* A resend the hub holds with the same content: acknowledged up to it. */
static void s_on_seen(agent_sender_t *self, uint64_t seen)
{
    uint64_t local = seen + self->base;
    agent_event_state_t es;
    if (seen == 0 || local <= self->acked || local >= self->next_seq)
        return;
    if (agent_outbox_find(self->outbox, local, &es) == 1 && es.waiting)
        s_on_ack(self, local); /* earlier ones were sent earlier and answered first */
}

/* A version-2 Ack of the current incarnation (REVISION-2.md 4). */
static void s_on_ack2(agent_sender_t *self, const ro_hubmsg_t *m, uint64_t seen)
{
    if (m->seq > (uint64_t)INT64_MAX - self->base || seen > (uint64_t)INT64_MAX - self->base)
        return; /* no sequence comes near: not an ack to believe */
    uint64_t w = m->seq + self->base;
    char why[200];
    if (w >= self->next_seq) {
        agent_outbox_stats_t st;
        if (s_load_identity(self, &st) != 0)
            return;
        if (w >= self->next_seq && st.cur_depth == 0) {
            snprintf(why, sizeof why,
                     "the hub holds seq %" PRIu64 " of this identity, beyond the %" PRIu64
                     " this outbox ever numbered",
                     m->seq, self->next_seq - 1 - self->base);
            s_switch(self, why);
            return;
        }
        if (w >= self->next_seq) { /* events wait: each is answered seen or IDENTITY */
            s_on_seen(self, seen);
            return;
        }
    }
    agent_event_state_t es;
    if (m->seq > 0 && agent_outbox_find(self->outbox, w, &es) == 1 && es.hash && m->upto_hash &&
        es.hash != m->upto_hash) {
        /* another outbox's report at upto. With events waiting, this one's
         * own below it may be in (the hub answers each: seen, or IDENTITY,
         * which switches after acknowledging what came before it); with
         * none waiting, draw a new identity now */
        agent_outbox_stats_t st;
        if (s_load_identity(self, &st) == 0 && st.cur_depth == 0) {
            snprintf(why, sizeof why,
                     "the hub holds other content under seq %" PRIu64 " of this identity than "
                     "this outbox",
                     m->seq);
            s_switch(self, why);
        } else {
            s_on_seen(self, seen);
        }
        return;
    }
    if (w < self->acked) {
        s_refill(self, w);
        return;
    }
    if (w > self->acked)
        s_on_ack(self, w);
    s_on_seen(self, seen);
}

/* ---- earlier incarnations: the second copy of what they keep ------------ */

/* The hub holds earlier incarnation e up to local seq upto, ours: its
 * waiting events up to there are acknowledged again. */
static void s_earlier_acked(agent_sender_t *self, agent_earlier_t *e, uint64_t upto)
{
    if (agent_outbox_ack_earlier(self->outbox, e, upto, ro_time_now()) != 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR,
                   "cannot record the ack of an earlier identity's seq %" PRIu64
                   ": %s; the next ack retries",
                   upto - e->base, agent_outbox_errmsg(self->outbox));
        return;
    }
    if (upto > e->last_ack) {
        self->stats.acked += upto - e->last_ack;
        e->last_ack = upto;
    }
    s_busy(self);
    if (!self->lane_on || memcmp(self->lane.incarnation, e->incarnation, sizeof e->incarnation) ||
        upto <= self->lane_acked)
        return;
    self->lane_acked = upto;
    if (self->lane_sent < upto)
        self->lane_sent = upto;
    self->lane_dirty = 1;
    self->progress_ms = ro_time_mono_ms();
    s_open_window(self);
}

/* The hub holds earlier incarnation e only up to local seq w, below what
 * it acknowledged before: its store was restored or lost writes. Its kept
 * events above w wait again and go out under their own identity. */
static void s_refill_earlier(agent_sender_t *self, agent_earlier_t *e, uint64_t w)
{
    agent_refill_t rf;
    if (agent_outbox_refill_earlier(self->outbox, e, w, &rf) != 0) {
        if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_ERR, "cannot refill the hub's store: %s; the next heartbeat retries",
                   agent_outbox_errmsg(self->outbox));
        return;
    }
    if (rf.was_ack <= w)
        return;
    char hex[17];
    s_hex8(e->incarnation, hex);
    uint64_t b = e->base;
    ro_log(LOG_ERR,
           "the hub's store is behind: it holds unit %s's events only up to seq %" PRIu64
           " of an earlier identity of this outbox (incarnation %s...) but acknowledged up to "
           "%" PRIu64 " before (its store restored from a backup, or its last writes lost); "
           "resending the %" PRId64 " kept event%s above it under that identity",
           self->cfg.unit, w - b, hex, rf.was_ack - b, rf.n, ro_s((uint64_t)rf.n));
    self->stats.refills++;
    if (self->lane_on && !memcmp(self->lane.incarnation, e->incarnation, sizeof e->incarnation))
        self->lane_on = 0; /* opened again from its lowest waiting event */
    self->lane_look = 1;
    s_busy(self);
    if (rf.lost > 0)
        ro_log(LOG_ERR,
               "%" PRIu64 " events of that identity (seq %" PRIu64 "..%" PRIu64
               ") cannot be refilled: seq %" PRIu64 " is no longer kept here (beyond "
               "retain_days or retain_max_mb, or refused), and the hub takes nothing of that "
               "identity beyond it; restore the hub's store from a newer backup to get them back",
               rf.lost, rf.lost_from - b, rf.lost_to - b, rf.lost_from - b);
}

/* A version-2 Ack of an earlier incarnation (s_heartbeat_earlier, or a
 * refill). upto below its last ack: the hub's store is behind, a refill.
 * Otherwise what it holds of ours is acknowledged again: up to upto when
 * the content there is ours (its hash), and up to `seen`. Nothing here
 * draws a new identity or renumbers: an earlier incarnation takes nothing
 * new, and the hub answers each of its events (seen, or REASON_IDENTITY). */
static void s_on_earlier_ack(agent_sender_t *self, const ro_hubmsg_t *m, uint64_t seen)
{
    agent_earlier_t e;
    agent_event_state_t es;
    if (agent_outbox_earlier_find(self->outbox, m->incarnation, 0, &e) != 1)
        return; /* nothing of it is kept (any more) */
    if (m->seq > (uint64_t)INT64_MAX - e.base || seen > (uint64_t)INT64_MAX - e.base)
        return; /* no sequence comes near: not an ack to believe */
    uint64_t w = m->seq + e.base;
    if (w < e.last_ack) {
        s_refill_earlier(self, &e, w);
        return;
    }
    if (e.waiting == 0)
        return;
    if (w > e.last_ack && agent_outbox_find_earlier(self->outbox, &e, w, &es) == 1) {
        if (!es.hash || !m->upto_hash || es.hash == m->upto_hash)
            s_earlier_acked(self, &e, w);
        else if (ro_log_allow(&self->rl_trouble))
            ro_log(LOG_WARNING,
                   "the hub holds other content under seq %" PRIu64 " of an earlier identity "
                   "of this outbox than it keeps: another holder's; its events there are sent "
                   "again and answered one by one",
                   m->seq);
    }
    if (seen > 0 && agent_outbox_find_earlier(self->outbox, &e, seen + e.base, &es) == 1 &&
        es.waiting)
        s_earlier_acked(self, &e, seen + e.base); /* earlier ones were answered first */
}

/* A version-2 refusal about seq m->seq of an earlier incarnation, mapped
 * to the local seq in *local. Of an event that waits to be sent again: a
 * final one is set aside as usual (returns 0), one that is not stays
 * (returns 0); REASON_IDENTITY (another holder's report under its seq, or
 * the hub takes nothing more under it) sets it aside too: it cannot be
 * stored under its identity, and a new identity for it could count it
 * twice (a copy of this outbox, which holds it too, would do the same).
 * Returns 1 when handled here (or about nothing waiting: ignored). */
static int s_earlier_refusal(agent_sender_t *self, const ro_hubmsg_t *m, uint64_t *local)
{
    agent_earlier_t e;
    agent_event_state_t es;
    if (agent_outbox_earlier_find(self->outbox, m->incarnation, 0, &e) != 1 ||
        m->seq > (uint64_t)INT64_MAX - e.base)
        return 1;
    *local = m->seq + e.base;
    if (agent_outbox_find_earlier(self->outbox, &e, *local, &es) != 1 || !es.waiting)
        return 1;
    if (m->reason != RO_REASON_IDENTITY)
        return 0;
    int lane =
        self->lane_on && !memcmp(self->lane.incarnation, e.incarnation, sizeof e.incarnation);
    if (lane && *local > self->lane_acked + 1)
        s_earlier_acked(self, &e, *local - 1); /* sent before it, and taken (as for ours) */
    if (agent_outbox_refuse(self->outbox, *local, m->reason, m->text, ro_time_now()) != 0)
        return 1; /* a read or write error: it stays, and comes back */
    self->stats.refused++;
    if (lane && self->lane_acked + 1 == *local) { /* settled: the lane goes on past it */
        self->lane_acked = *local;
        if (self->lane_sent < self->lane_acked)
            self->lane_sent = self->lane_acked;
    }
    if (ro_log_allow(&self->rl_refusal))
        ro_log(LOG_ERR,
               "the hub refused seq %" PRIu64 " of an earlier identity of this outbox "
               "(identity): %s; another holder's report is under that seq: this event, "
               "acknowledged before, is kept in the refused table (seq %" PRIu64
               "), never resent. Ask the hub's operator",
               m->seq, m->text, *local);
    return 1;
}

/* A heartbeat refused for its version: a revision-1 hub. Speak version 1
 * until the next reconnect. */
static void s_fall_back(agent_sender_t *self, const ro_hubmsg_t *m)
{
    self->proto = 1;
    if (!self->v1_noted)
        ro_log(LOG_NOTICE,
               "the hub at %s speaks protocol version 1 only (%s): this agent speaks version 1 "
               "to it until the next reconnect",
               self->cfg.hub, m->text);
    self->v1_noted = 1;
    self->dirty = 1;
    s_heartbeat(self); /* its ack says where the legacy sequence stands */
}

/* Whether an ack is ours to apply. The first one of a connection settles
 * the version (an Ack with hub_version >= 2); in version 2 it must count
 * in the current incarnation (an older one's answers are still in flight
 * after a switch); in version 1 it counts in the legacy sequence. */
static int s_ack_counts(agent_sender_t *self, const ro_hubmsg_t *m)
{
    static const uint8_t zero[AGENT_INCARNATION_LEN];
    if (self->proto == 0) {
        if (m->hub_version < 2)
            return 0; /* not the answer to this connection's heartbeat */
        self->proto = 2;
        self->dirty = 1;
        char hex[17];
        s_hex8(self->inc, hex);
        ro_log(LOG_INFO, "the hub speaks protocol version %u: sending under incarnation %s...",
               m->hub_version, hex);
        s_heartbeat_earlier(self); /* where the hub stands in each earlier one too */
    }
    if (self->proto == 1)
        return self->legacy && self->base == 0;
    if (memcmp(m->store_id, zero, sizeof zero) != 0 &&
        memcmp(m->store_id, self->store_id, sizeof zero) != 0) {
        int rc = agent_outbox_store_id(self->outbox, m->store_id);
        if (rc == 1)
            ro_log(LOG_NOTICE, "the hub's store changed (another store id): a new or restored hub "
                               "store; what it lacks of this outbox's is resent");
        if (rc >= 0)
            memcpy(self->store_id, m->store_id, sizeof self->store_id);
    }
    return memcmp(m->incarnation, self->inc, sizeof self->inc) == 0;
}

/* A version-2 refusal is about a wire seq of an incarnation: of an earlier
 * one, s_earlier_refusal says; of another (answers still in flight) it is
 * ignored; of ours it is mapped to the local seq in *local. REASON_IDENTITY
 * for a waiting event makes a new identity. Returns 1 when handled here. */
static int s_refusal_v2(agent_sender_t *self, const ro_hubmsg_t *m, uint64_t *local)
{
    *local = m->seq;
    if (m->seq == 0)
        return 0;
    if (self->proto == 0 || (self->proto == 1 && !(self->legacy && self->base == 0)))
        return 1; /* about nothing this connection sent */
    if (self->proto == 1)
        return 0;
    if (memcmp(m->incarnation, self->inc, sizeof self->inc) != 0)
        return s_earlier_refusal(self, m, local);
    *local = m->seq + self->base;
    if (m->reason != RO_REASON_IDENTITY)
        return 0;
    agent_event_state_t es;
    if (agent_outbox_find(self->outbox, *local, &es) == 1 && es.waiting) {
        /* the first identity refusal of this flight: every event sent before
         * it was taken as this outbox's (stored, or the same report again;
         * another report would have been refused first, and the hub takes
         * nothing more under a contested identity), so it is acknowledged
         * before the rest moves to a new identity: none is counted twice */
        if (*local > self->acked + 1)
            s_on_ack(self, *local - 1);
        char why[RO_TEXT_MAX + 64];
        snprintf(why, sizeof why, "the hub refused seq %" PRIu64 " (identity): %s", m->seq,
                 m->text);
        s_switch(self, why);
    }
    return 1;
}

static void s_on_refusal(agent_sender_t *self, const ro_hubmsg_t *in)
{
    if (in->seq == 0 && in->reason == RO_REASON_VERSION && self->proto == 0) {
        s_fall_back(self, in);
        return;
    }
    ro_hubmsg_t local = *in, *m = &local;
    if (s_refusal_v2(self, in, &local.seq))
        return;
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

/* Acks of one incarnation, coalesced: the highest, and the highest seen. */
typedef struct {
    int have;
    ro_hubmsg_t best;
    uint64_t seen;
} s_acks_t;

static void s_acks_add(s_acks_t *a, const ro_hubmsg_t *m)
{
    if (!a->have || m->seq > a->best.seq)
        a->best = *m;
    if (m->seen > a->seen)
        a->seen = m->seen;
    a->have = 1;
}

/* An ack of an earlier incarnation: coalesced with those of the same one
 * in *old; another one's applies those first. */
static void s_earlier_add(agent_sender_t *self, s_acks_t *old, const ro_hubmsg_t *m)
{
    if (old->have && memcmp(old->best.incarnation, m->incarnation, sizeof m->incarnation)) {
        s_on_earlier_ack(self, &old->best, old->seen);
        memset(old, 0, sizeof *old);
    }
    s_acks_add(old, m);
}

/* Handle what is waiting on the socket: refusals at once (before the ack
 * that covers them forgets the event), acks coalesced into one transaction
 * per incarnation. */
static void s_on_hub(agent_sender_t *self)
{
    s_acks_t cur = {0}, old = {0};
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
        if (m.kind == RO_HUBMSG_REFUSAL)
            s_on_refusal(self, &m);
        else if (s_ack_counts(self, &m))
            s_acks_add(&cur, &m);
        else if (self->proto == 2 && m.hub_version >= 2)
            s_earlier_add(self, &old, &m);
    }
    if (cur.have || old.have)
        s_key_accepted(self, S_KEY_REPORTS);
    if (old.have)
        s_on_earlier_ack(self, &old.best, old.seen);
    if (!cur.have)
        return;
    if (self->proto == 1)
        s_on_ack(self, cur.best.seq);
    else if (memcmp(cur.best.incarnation, self->inc, sizeof self->inc) == 0)
        s_on_ack2(self, &cur.best, cur.seen); /* unless a refusal above made a new identity */
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
            self->proto = 0; /* until the hub answers the heartbeat below */
            s_rewind(self, "connected", 1);
            s_open_window(self);
            s_heartbeat(self);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (self->connected) {
                ro_log(LOG_WARNING,
                       "lost the connection to the hub; %" PRIu64
                       " event%s unacknowledged; reconnecting",
                       s_inflight(self), ro_s(s_inflight(self)));
                self->connected = 0;
                self->proto = 0;
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
        if (s_inflight(self) > 0)
            timeout = s_min(timeout, self->progress_ms + self->rto_ms - now);
        if (self->reauth_ms)
            timeout = s_min(timeout, self->reauth_ms - now);
        if (self->release_ms && s_inflight(self) == 0)
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
    if (self->connected && s_inflight(self) > 0)
        ro_log(LOG_INFO,
               "stopping: waiting up to %d ms for the hub to acknowledge %" PRIu64 " event%s",
               AGENT_STOP_GRACE_MS, s_inflight(self), ro_s(s_inflight(self)));
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
    if (s_inflight(self) > 0 && now - self->progress_ms >= self->rto_ms)
        s_timeout(self);
    int changed = agent_outbox_changed(self->outbox);
    if (changed != 0)
        self->dirty = 1; /* new records, or a read error worth retrying */
    if (self->release_ms && now >= self->release_ms && s_inflight(self) == 0)
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
    if (s_load_identity(self, &st) != 0) {
        ro_log(LOG_ERR, "cannot read the outbox: %s", agent_outbox_errmsg(self->outbox));
        return -1;
    }
    int64_t now = ro_time_mono_ms();
    self->acked = self->sent_upto = st.last_ack;
    self->dirty = 1;
    self->lane_look = 1; /* a refill of an earlier incarnation a stop interrupted */
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
            (s_inflight(self) == 0 || !self->connected || now >= self->stop_by_ms))
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

/* Send one heartbeat of `version` on sock and wait until deadline for the
 * hub's answer to it (an Ack, or a Refusal of seq 0) into *m. Returns 0,
 * or -1 with err filled. */
static int s_probe_once(void *sock, const ro_agent_config_t *cfg, const agent_outbox_stats_t *st,
                        int version, int64_t deadline, ro_hubmsg_t *m, char *err, size_t errlen)
{
    uint8_t buf[RO_FRAME_MAX + 1];
    int len = s_heartbeat_encode(cfg->unit, st, version, 0, buf, sizeof buf);
    if (len < 0) {
        snprintf(err, errlen, "cannot encode a heartbeat");
        return -1;
    }
    /* with ZMQ_IMMEDIATE the send waits for a finished handshake */
    if (zmq_send(sock, buf, (size_t)len, 0) < 0) {
        if (errno == EAGAIN)
            snprintf(err, errlen,
                     "no connection to the hub at %s (hub down, unreachable, or refusing this "
                     "agent's keys)",
                     cfg->hub);
        else
            snprintf(err, errlen, "send to %s failed: %s", cfg->hub, zmq_strerror(errno));
        return -1;
    }
    snprintf(err, errlen, "connected to the hub at %s, but it did not answer in time", cfg->hub);
    for (;;) {
        int64_t left = deadline - ro_time_mono_ms();
        if (left <= 0)
            return -1;
        int t = (int)left;
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &t, sizeof t);
        int n = zmq_recv(sock, buf, sizeof buf, 0);
        if (n < 0)
            return -1;
        if (n > RO_FRAME_MAX || ro_hubmsg_decode(buf, (size_t)n, m, NULL, 0) != 0 ||
            (m->unit[0] && strcmp(m->unit, cfg->unit) != 0)) {
            snprintf(err, errlen, "the hub at %s answered with something this agent cannot read",
                     cfg->hub);
            continue;
        }
        if (m->kind == RO_HUBMSG_REFUSAL && m->seq != 0)
            continue; /* about an event, not our heartbeat */
        err[0] = '\0';
        return 0;
    }
}

int agent_sender_probe(const ro_agent_config_t *cfg, const agent_outbox_stats_t *st, int timeout_ms,
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
    ro_hubmsg_t m;
    out->hub_version = 2;
    if (s_probe_once(sock, cfg, st, 2, deadline, &m, err, errlen))
        goto done;
    if (m.kind == RO_HUBMSG_REFUSAL && m.reason == RO_REASON_VERSION) {
        out->hub_version = 1; /* a revision-1 hub: ask as it speaks */
        if (s_probe_once(sock, cfg, st, 1, deadline, &m, err, errlen))
            goto done;
    } else if (m.kind == RO_HUBMSG_ACK) {
        out->hub_version = m.hub_version;
    }
    out->rtt_ms = ro_time_mono_ms() - start;
    if (m.kind == RO_HUBMSG_REFUSAL) {
        out->refused = 1;
        out->reason = m.reason;
        snprintf(out->text, sizeof out->text, "%s", m.text);
    } else {
        out->upto = m.seq;
        out->held = m.held;
    }
    rc = 0;
done:
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
