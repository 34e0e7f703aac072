/* loadgen: many simulated agents speaking rollout's ingest protocol over real
 * sockets: N DEALERs spread over P forked processes, each agent with its own
 * unit, a bounded window of reports in flight, and CURVE keys of its own.
 * It measures acknowledged reports per second and the send-to-ack time of
 * every report (from its first send). Like rollout-agent, each simulated
 * agent rewinds to its last ack and resends when acks stop progressing
 * (one report at first, then its window again), so a dropped connection
 * costs what it costs the real agent; the hub drops the duplicates. Against
 * bench/ceiling, which has no dedup, nothing is resent. */
#include "bench_util.h"
#include "ro_codec.h"
#include "ro_registry.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define PROCS_MAX 64
#define HELLO_TIMEOUT_NS (120 * 1000000000LL) /* connect and handshake every agent */
#define STALL_TIMEOUT_NS (60 * 1000000000LL)  /* no ack at all for this long: give up */
#define DRAIN_TIMEOUT_NS (120 * 1000000000LL) /* after a timed run, wait this long for acks */
#define RTO_NS (5 * 1000000000LL)             /* rollout-agent's default resend_ms */
#define RTO_CAP_NS (60 * 1000000000LL)        /* and its longest backoff */
#define SWEEP_NS 100000000                    /* how often resend timeouts are checked */
#define RECV_PER_SERVICE 256

typedef enum { A_HELLO = 0, A_RUN = 1, A_DONE = 2 } s_agent_state_t;

/* One simulated agent: a unit, a DEALER and the reports in flight. */
typedef struct {
    void *sock;            /* DEALER to the hub's (or ceiling's) ingest socket */
    const char *unit;      /* borrowed from the registry */
    s_agent_state_t state; /* hello sent / running / all acknowledged */
    uint64_t next;         /* seq of the next report to send */
    uint64_t high;         /* highest seq ever sent (next - 1 unless rewound) */
    uint64_t acked;        /* highest seq acknowledged */
    uint64_t limit;        /* in flight allowed: the window, or 1 after a timeout */
    int64_t progress_ns;   /* last ack progress, or the start of the flight */
    int64_t rto_ns;        /* resend timeout, doubled per timeout */
    uint64_t last;         /* last seq to send; UINT64_MAX in a timed run */
    uint64_t first;        /* first seq of this run (hub's last seq + 1) */
    int64_t *sent_ns;      /* send time by seq % window */
    uint8_t *pre;          /* pre-encoded bodies (backlog runs), NULL otherwise */
    uint32_t *pre_off;     /* offsets into pre, one per event and one past the end */
    uint64_t amend_every;  /* every Nth report amends the one before it; 0: none */
    uint64_t flag_every;   /* every Nth report breaks a [review] rule; 0: none */
} s_agent_t;

/* What one process measured; lives in a MAP_SHARED page. */
typedef struct {
    uint64_t sent;         /* reports sent */
    uint64_t acked;        /* reports acknowledged, in all */
    uint64_t acked_window; /* acknowledged inside the measured window */
    uint64_t refused;      /* refusals from the hub (there should be none) */
    uint64_t stalls;       /* paced sends skipped: every window was full */
    uint64_t rewinds;      /* resend timeouts (go back to the last ack) */
    int64_t last_ack_ns;   /* when the last report was acknowledged */
    int failed;            /* 1: the process gave up (message on stderr) */
    bench_hist_t hist;     /* ack latency of reports acknowledged in the window */
} s_result_t;

typedef struct {
    int64_t start_ns;          /* sending starts (set by the parent) */
    s_result_t res[PROCS_MAX]; /* one per process */
} s_shared_t;

typedef struct {
    const char *endpoint;   /* where the agents connect */
    const char *registry;   /* units.csv */
    const char *label;      /* first field of the result line */
    const char *server_key; /* CURVE: the server's public key file */
    const char *keys;       /* CURVE: the agents' keys file */
    long first;             /* registry index of agent 0's unit */
    long agents;            /* simulated agents */
    long procs;             /* processes */
    long window;            /* reports in flight per agent */
    long events;            /* per agent; 0: timed run */
    long total;             /* in all, spread over the agents; 0: see events */
    double duration;        /* timed run: measured seconds */
    double warmup;          /* timed run: seconds before the measurement */
    double rate;            /* offered reports/s over all agents; 0: as acks allow */
    int ceiling;            /* the peer is bench/ceiling: one ack per message */
    int curve;              /* CURVE on */
    long amend_every;       /* every Nth report amends the one before it; 0: none */
    long flag_every;        /* every Nth report breaks a [review] rule; 0: none */
    long per_day;           /* bench_calendar_per_day; 0: the default calendar */
} s_opts_t;

typedef struct {
    const s_opts_t *o;
    s_agent_t *a;             /* this process's agents */
    long n;                   /* how many */
    int ep;                   /* epoll */
    s_result_t *res;          /* this process's slot */
    int64_t start_ns;         /* sending starts */
    int64_t win_from, win_to; /* measured window (timed runs) */
    int64_t last_progress;    /* last ack seen */
    long done;                /* agents finished */
    long ready;               /* agents past hello */
    int started;              /* the parent said go: sending may begin */
    int stop_sending;         /* timed run over */
    int timed;                /* a timed run (no --events or --total) */
    int64_t next_sweep;       /* when resend timeouts are checked next */
    int64_t gap_ns;           /* paced runs: time between sends; 0: unpaced */
    int64_t next_send;        /* paced runs: when the next send is due */
    long rr;                  /* paced runs: the next agent to try */
} s_proc_t;

static void s_usage(FILE *out)
{
    fprintf(out, "usage: loadgen --endpoint EP --registry FILE [options]\n"
                 "       loadgen keygen --registry FILE --count N --out FILE [--first N]\n"
                 "       loadgen keypair --public FILE --secret FILE\n"
                 "\n"
                 "Simulated agents report over real DEALER sockets; prints one line of\n"
                 "key=value results (acked reports/s, ack latency p50/p99/max in us).\n"
                 "\n"
                 "  --endpoint EP     the hub's ingest endpoint, or bench/ceiling's\n"
                 "  --registry FILE   units.csv; agent i reports for unit first+i\n"
                 "  --first N         registry index of the first agent's unit (0)\n"
                 "  --agents N        simulated agents (1)\n"
                 "  --procs P         processes sharing them (min(agents, 2))\n"
                 "  --window W        reports in flight per agent (1000)\n"
                 "  --events N        backlog run: N pre-encoded events per agent\n"
                 "  --total N         backlog run: N events in all, spread over the agents\n"
                 "  --duration S      timed run: S measured seconds (5) after --warmup S (1)\n"
                 "  --rate R          offer R reports/s in all (0: as fast as acks allow)\n"
                 "  --ceiling         the peer is bench/ceiling (one ack per message, in order)\n"
                 "  --amend-every N   every Nth report (by seq) amends the report before it\n"
                 "  --flag-every N    every Nth report (by seq) is a training session with more\n"
                 "                    participants than the unit's staff: the shipped [review]\n"
                 "                    rules hold it for a reviewer\n"
                 "  --per-day N       reports dated a day further every N, 2020-2025, in date\n"
                 "                    order as a live unit's (default: a day a report through\n"
                 "                    2018-2019, wrapping every 672)\n"
                 "  --curve           CURVE on: needs --server-key FILE and --keys FILE\n"
                 "  --label TEXT      first field of the result line\n");
}

/* ---- per agent ------------------------------------------------------------ */

/* Agent a's report seq: bench_event_make's, or, every amend_every-th seq,
 * an amend of seq - 1 (a replacement of the same kind, one more in its
 * total), so the hub's correction path is measured; or, every
 * flag_every-th, a session the review rules flag (its review path). */
static void s_event(const s_agent_t *a, uint64_t seq, ro_report_t *r)
{
    if (!a->amend_every || seq < 2 || seq % a->amend_every != 0) {
        bench_event_make(a->unit, seq, r);
        if (a->flag_every && seq % a->flag_every == 0) {
            r->kind = RO_KIND_TRAINING;
            r->date = ro_date_of(r->recorded_at); /* a day, where cases had a month */
            r->total = bench_staff_total(a->unit) + 1 + (uint32_t)(seq % 20);
            r->part = 20; /* 2 hours */
        }
        return;
    }
    bench_event_make(a->unit, seq - 1, r);
    r->seq = seq;
    r->total += r->total < 60 ? 1 : 0; /* within every kind's limits */
    r->action = RO_ACTION_AMEND;
    r->target_seq = seq - 1;
    snprintf(r->reason, sizeof r->reason, "bench: mistyped figure");
}

/* The wire body of report seq: pre-encoded, or encoded into buf (cap bytes).
 * Sets *body and returns its length, or -1 if it does not encode. */
static int s_encode(const s_agent_t *a, uint64_t seq, uint8_t *buf, size_t cap,
                    const uint8_t **body)
{
    if (a->pre) {
        uint64_t i = seq - a->first;
        *body = a->pre + a->pre_off[i];
        return (int)(a->pre_off[i + 1] - a->pre_off[i]);
    }
    ro_report_t r;
    s_event(a, seq, &r);
    *body = buf;
    return ro_report_encode(&r, buf, cap);
}

/* Send one report. Returns 1 sent, 0 would block, -1 error. */
static int s_send_one(s_proc_t *p, s_agent_t *a)
{
    uint8_t buf[RO_FRAME_MAX];
    const uint8_t *body;
    int len = s_encode(a, a->next, buf, sizeof buf, &body);
    if (len < 0) {
        fprintf(stderr, "loadgen: cannot encode %s seq %" PRIu64 "\n", a->unit, a->next);
        return -1;
    }
    int64_t now = bench_now_ns();
    if (zmq_send(a->sock, body, (size_t)len, ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN ? 0 : -1;
    if (a->next > a->high) {
        a->sent_ns[a->next % (uint64_t)p->o->window] = now; /* latency counts from the first send */
        a->high = a->next;
    }
    if (a->next == a->acked + 1)
        a->progress_ns = now; /* a new flight starts its clock */
    a->next++;
    p->res->sent++;
    return 1;
}

/* May a send go now? After a timed run stops, only resends may. */
static int s_room(const s_proc_t *p, const s_agent_t *a)
{
    return a->state == A_RUN && p->started && (!p->stop_sending || a->next <= a->high) &&
           a->next <= a->last && a->next - a->acked - 1 < a->limit;
}

/* Reports acknowledged up to upto (inclusive), at now. */
static void s_acked(s_proc_t *p, s_agent_t *a, uint64_t upto, int64_t now)
{
    if (upto > a->high)
        upto = a->high; /* never count what was not sent */
    if (upto <= a->acked)
        return;
    if (a->next <= upto)
        a->next = upto + 1; /* a rewind resent what the hub already had */
    a->limit = (uint64_t)p->o->window;
    a->rto_ns = RTO_NS;
    a->progress_ns = now;
    int in_window = p->o->events || p->o->total ? 1 : (now >= p->win_from && now < p->win_to);
    for (uint64_t s = a->acked + 1; s <= upto; s++)
        if (in_window)
            bench_hist_add(&p->res->hist, now - a->sent_ns[s % (uint64_t)p->o->window]);
    uint64_t n = upto - a->acked;
    p->res->acked += n;
    if (in_window)
        p->res->acked_window += n;
    p->res->last_ack_ns = now;
    p->last_progress = now;
    a->acked = upto;
    if (a->acked >= a->last && a->state == A_RUN) {
        a->state = A_DONE;
        p->done++;
    }
}

static void s_on_message(s_proc_t *p, s_agent_t *a, const uint8_t *buf, int len, int64_t now)
{
    if (p->o->ceiling) {
        /* one ack per message, in order: this one is for the oldest in flight */
        if (a->state == A_HELLO) {
            a->acked = a->high = 0;
            a->first = a->next = 1;
            a->state = A_RUN;
            p->ready++;
            return;
        }
        s_acked(p, a, a->acked + 1, now);
        return;
    }
    ro_hubmsg_t m;
    char why[160];
    if (len > RO_FRAME_MAX || ro_hubmsg_decode(buf, (size_t)len, &m, why, sizeof why) != 0) {
        fprintf(stderr, "loadgen: %s: undecodable hub message\n", a->unit);
        p->res->refused++;
        return;
    }
    if (m.kind == RO_HUBMSG_REFUSAL) {
        if (p->res->refused++ == 0)
            fprintf(stderr, "loadgen: hub refused %s seq %" PRIu64 ": %s: %s\n", m.unit, m.seq,
                    ro_reason_name(m.reason), m.text);
        return;
    }
    if (a->state == A_HELLO) {
        /* the answer to our heartbeat: where this unit's sequence stands */
        a->acked = a->high = m.seq;
        a->first = a->next = m.seq + 1;
        a->state = A_RUN;
        p->ready++;
        return;
    }
    s_acked(p, a, m.seq, now);
}

/* Handle whatever the socket has, and send while the window allows, until
 * ZMQ_EVENTS shows nothing to do: then its ZMQ_FD signals the next change. */
static int s_service(s_proc_t *p, s_agent_t *a)
{
    uint8_t buf[RO_FRAME_MAX + 1];
    for (;;) {
        uint32_t ev = 0;
        size_t evlen = sizeof ev;
        if (zmq_getsockopt(a->sock, ZMQ_EVENTS, &ev, &evlen) != 0)
            return -1;
        int progress = 0;
        if (ev & ZMQ_POLLIN) {
            int64_t now = bench_now_ns();
            for (int i = 0; i < RECV_PER_SERVICE; i++) {
                int n = zmq_recv(a->sock, buf, sizeof buf, ZMQ_DONTWAIT);
                if (n < 0)
                    break;
                s_on_message(p, a, buf, n, now);
                progress = 1;
            }
        }
        if ((ev & ZMQ_POLLOUT) && p->o->rate <= 0) {
            while (s_room(p, a)) {
                int rc = s_send_one(p, a);
                if (rc < 0)
                    return -1;
                if (rc == 0)
                    break;
                progress = 1;
            }
        }
        if (!progress)
            return 0;
    }
}

/* ---- per process ------------------------------------------------------------ */

static void *s_socket(void *ctx, const s_opts_t *o, const char *unit, const bench_keys_t *keys,
                      const char *server)
{
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!sock)
        return NULL;
    int one = 1, hwm = (int)o->window + 16;
    /* the options rollout-agent's DEALER has: limits, ZMTP heartbeats, backoff */
    ro_sock_harden(sock, RO_FRAME_MAX);
    ro_sock_backoff(sock);
    zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (o->curve) {
        const char *pub, *sec;
        if (bench_keys_find(keys, unit, &pub, &sec) != 0) {
            fprintf(stderr, "loadgen: no key for unit %s in %s\n", unit, o->keys);
            zmq_close(sock);
            return NULL;
        }
        if (bench_curve_client(sock, server, pub, sec) != 0) {
            zmq_close(sock);
            return NULL;
        }
    }
    if (zmq_connect(sock, o->endpoint) != 0) {
        fprintf(stderr, "loadgen: connect %s: %s\n", o->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

/* Pre-encode an agent's whole backlog, so the run measures delivery only. */
static int s_pregen(s_agent_t *a)
{
    uint64_t n = a->last - a->first + 1;
    size_t cap = (size_t)n * 96 + 64;
    a->pre = malloc(cap);
    a->pre_off = malloc(((size_t)n + 1) * sizeof *a->pre_off);
    if (!a->pre || !a->pre_off)
        return -1;
    size_t used = 0;
    for (uint64_t i = 0; i < n; i++) {
        ro_report_t r;
        s_event(a, a->first + i, &r);
        if (cap - used < RO_FRAME_MAX) {
            cap *= 2;
            uint8_t *q = realloc(a->pre, cap);
            if (!q)
                return -1;
            a->pre = q;
        }
        int len = ro_report_encode(&r, a->pre + used, cap - used);
        if (len < 0)
            return -1;
        a->pre_off[i] = (uint32_t)used;
        used += (size_t)len;
    }
    a->pre_off[n] = (uint32_t)used;
    return 0;
}

/* Wait for socket events (or a deadline) and service the sockets. */
static int s_wait(s_proc_t *p, int64_t until_ns)
{
    struct epoll_event evs[256];
    int64_t left = until_ns - bench_now_ns();
    if (left < 0)
        left = 0;
    struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
    int n = epoll_pwait2(p->ep, evs, 256, &ts, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++)
        if (s_service(p, &p->a[evs[i].data.u32]) < 0)
            return -1;
    return 0;
}

/* Set up the process's count agents, for registry units first + from on:
 * a DEALER each, connected, its ZMQ_FD in epoll. Returns 0 or -1. */
static int s_open_agents(s_proc_t *p, void *ctx, const ro_registry_t *reg, const bench_keys_t *keys,
                         const char *server, long from)
{
    const s_opts_t *o = p->o;
    p->a = calloc((size_t)p->n, sizeof *p->a);
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!p->a || !ctx || p->ep < 0)
        return -1;
    int maxs = (int)p->n + 16;
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, maxs);
    for (long i = 0; i < p->n; i++) {
        s_agent_t *a = &p->a[i];
        a->unit = ro_registry_at(reg, (size_t)(o->first + from + i))->id;
        a->last = UINT64_MAX;
        a->limit = (uint64_t)o->window;
        a->rto_ns = RTO_NS;
        a->amend_every = (uint64_t)o->amend_every;
        a->flag_every = (uint64_t)o->flag_every;
        a->sent_ns = calloc((size_t)o->window, sizeof *a->sent_ns);
        a->sock = a->sent_ns ? s_socket(ctx, o, a->unit, keys, server) : NULL;
        if (!a->sock)
            return -1;
        int fd;
        size_t fdlen = sizeof fd;
        zmq_getsockopt(a->sock, ZMQ_FD, &fd, &fdlen);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            return -1;
    }
    return 0;
}

/* Hello: a heartbeat from each agent, whose ack says where the unit's seq
 * stands; wait until every agent is answered. Returns 0, or -1 with the
 * reason on stderr. */
static int s_hello(s_proc_t *p)
{
    int64_t deadline = bench_now_ns() + HELLO_TIMEOUT_NS;
    for (long i = 0; i < p->n; i++) {
        ro_report_t hb;
        uint8_t buf[RO_FRAME_MAX];
        bench_heartbeat_make(p->a[i].unit, &hb);
        int len = ro_report_encode(&hb, buf, sizeof buf);
        /* with ZMQ_IMMEDIATE, a blocking send waits for the handshake */
        int t = (int)((deadline - bench_now_ns()) / 1000000);
        zmq_setsockopt(p->a[i].sock, ZMQ_SNDTIMEO, &t, sizeof t);
        if (len < 0 || zmq_send(p->a[i].sock, buf, (size_t)len, 0) < 0) {
            fprintf(stderr, "loadgen: %s: no connection to %s: %s\n", p->a[i].unit, p->o->endpoint,
                    zmq_strerror(zmq_errno()));
            return -1;
        }
        s_service(p, &p->a[i]);
    }
    while (p->ready < p->n) {
        if (bench_now_ns() > deadline) {
            fprintf(stderr, "loadgen: only %ld of %ld agents were answered\n", p->ready, p->n);
            return -1;
        }
        if (s_wait(p, bench_now_ns() + 100000000) < 0)
            return -1;
    }
    return 0;
}

/* A backlog run: give each agent its share of the events (agent from + i
 * gets one more while the remainder of --total lasts) and pre-encode them.
 * Nothing to do in a timed run. Returns 0, or -1 with the reason on stderr. */
static int s_plan_backlog(s_proc_t *p, long from)
{
    const s_opts_t *o = p->o;
    long per = o->total ? o->total / o->agents : o->events;
    for (long i = 0; i < p->n; i++) {
        s_agent_t *a = &p->a[i];
        if (!o->events && !o->total)
            continue;
        long mine = per + (o->total && from + i < o->total % o->agents ? 1 : 0);
        a->last = a->first + (uint64_t)mine - 1;
        if (mine == 0) {
            a->state = A_DONE;
            p->done++;
        } else if (s_pregen(a) != 0) {
            fprintf(stderr, "loadgen: out of memory for the backlog\n");
            return -1;
        }
    }
    return 0;
}

/* Tell the parent this process is ready, wait for its go (EOF on the go
 * pipe), then set the clocks of the run from the start time it shared.
 * Returns 0 or -1. */
static int s_ready_go(s_proc_t *p, const s_shared_t *sh, int ready_fd, int go_fd)
{
    const s_opts_t *o = p->o;
    char c = 1;
    if (write(ready_fd, &c, 1) != 1)
        return -1;
    while (read(go_fd, &c, 1) > 0)
        ;
    p->start_ns = sh->start_ns;
    p->started = 1;
    p->win_from = p->start_ns + (int64_t)(o->warmup * 1e9);
    p->win_to = p->win_from + (int64_t)(o->duration * 1e9);
    p->last_progress = p->start_ns;
    for (long i = 0; i < p->n; i++)
        p->a[i].progress_ns = p->start_ns;
    p->timed = !o->events && !o->total;
    p->next_sweep = p->start_ns + SWEEP_NS;
    double per_proc_rate = o->rate / (double)o->procs;
    p->gap_ns = per_proc_rate > 0 ? (int64_t)(1e9 / per_proc_rate) : 0;
    p->next_send = p->start_ns;
    p->rr = 0;
    return 0;
}

/* Is the run over at now? Stops the sending when a timed run's window
 * ends. Returns 1 when every report is acknowledged, 0 to go on, -1 (with
 * the reason on stderr) when the acks are too late. */
static int s_run_over(s_proc_t *p, int64_t now)
{
    if (p->timed && !p->stop_sending && now >= p->win_to)
        p->stop_sending = 1;
    if (!p->timed && p->done >= p->n)
        return 1;
    if (p->timed && p->stop_sending) {
        int out = 0;
        for (long i = 0; i < p->n && !out; i++)
            out = p->a[i].high > p->a[i].acked;
        if (!out)
            return 1;
        if (now > p->win_to + DRAIN_TIMEOUT_NS) {
            fprintf(stderr, "loadgen: reports still unacknowledged %d s after the run\n",
                    (int)(DRAIN_TIMEOUT_NS / 1000000000));
            return -1;
        }
    }
    if (now - p->last_progress > STALL_TIMEOUT_NS) {
        fprintf(stderr, "loadgen: no ack for %d s; giving up\n",
                (int)(STALL_TIMEOUT_NS / 1000000000));
        return -1;
    }
    return 0;
}

/* rollout-agent's resend rule: an agent with no progress for its rto goes
 * back to its last ack, one report at a time, and doubles its rto. Returns
 * 0 or -1. */
static int s_sweep(s_proc_t *p, int64_t now)
{
    for (long i = 0; i < p->n; i++) {
        s_agent_t *a = &p->a[i];
        if (a->state != A_RUN || a->high <= a->acked || now - a->progress_ns < a->rto_ns)
            continue;
        a->next = a->acked + 1;
        a->limit = 1;
        a->rto_ns = a->rto_ns * 2 > RTO_CAP_NS ? RTO_CAP_NS : a->rto_ns * 2;
        a->progress_ns = now;
        p->res->rewinds++;
        if (s_service(p, a) < 0)
            return -1;
    }
    return 0;
}

/* A paced run: one report per gap, due up to now, each to the next agent
 * with room; a send with no agent able to take it counts as a stall.
 * Returns 0 or -1. */
static int s_pace(s_proc_t *p, int64_t now)
{
    if (now - p->next_send > 100000000) {
        p->res->stalls += (uint64_t)((now - p->next_send) / p->gap_ns);
        p->next_send = now;
    }
    while (p->next_send <= now) {
        long tried = 0;
        while (tried < p->n && !s_room(p, &p->a[p->rr])) {
            p->rr = (p->rr + 1) % p->n;
            tried++;
        }
        if (tried == p->n) {
            p->res->stalls++;
            p->next_send += p->gap_ns;
            continue;
        }
        s_agent_t *a = &p->a[p->rr];
        p->rr = (p->rr + 1) % p->n;
        int rc = s_send_one(p, a);
        if (rc < 0)
            return -1;
        if (rc == 0)
            p->res->stalls++;
        if (s_service(p, a) < 0)
            return -1;
        p->next_send += p->gap_ns;
    }
    return 0;
}

/* The measured run: send, receive acks, resend and pace until the run is
 * over. Returns 0, or -1 when the process must give up. */
static int s_run(s_proc_t *p)
{
    const s_opts_t *o = p->o;
    for (long i = 0; i < p->n; i++)
        if (s_service(p, &p->a[i]) < 0)
            return -1;
    for (;;) {
        int64_t now = bench_now_ns();
        int over = s_run_over(p, now);
        if (over != 0)
            return over < 0 ? -1 : 0;
        if (!o->ceiling && now >= p->next_sweep) {
            if (s_sweep(p, now) < 0)
                return -1;
            p->next_sweep = now + SWEEP_NS;
        }
        int64_t until = now + 100000000;
        if (p->next_sweep < until && !o->ceiling)
            until = p->next_sweep;
        if (p->gap_ns && !p->stop_sending) {
            if (s_pace(p, now) < 0)
                return -1;
            if (p->next_send < until)
                until = p->next_send;
        }
        if (s_wait(p, until) < 0)
            return -1;
    }
}

/* One process: count agents from registry index first + from, result slot
 * procno of sh. Returns 0; on failure marks its slot failed and _exits 1. */
static int s_child(const s_opts_t *o, const ro_registry_t *reg, const bench_keys_t *keys,
                   const char *server, long from, long count, long procno, s_shared_t *sh,
                   int ready_fd, int go_fd)
{
    s_proc_t p;
    memset(&p, 0, sizeof p);
    p.o = o;
    p.n = count;
    p.res = &sh->res[procno];
    void *ctx = zmq_ctx_new();
    if (s_open_agents(&p, ctx, reg, keys, server, from) != 0 || s_hello(&p) != 0 ||
        s_plan_backlog(&p, from) != 0 || s_ready_go(&p, sh, ready_fd, go_fd) != 0 ||
        s_run(&p) != 0) {
        p.res->failed = 1;
        _exit(1); /* sockets and context die with the process */
    }
    for (long i = 0; i < count; i++)
        zmq_close(p.a[i].sock);
    zmq_ctx_term(ctx);
    return 0;
}

/* ---- setup modes ------------------------------------------------------------ */

static int s_keygen(int argc, char **argv)
{
    const char *registry = NULL, *out = NULL;
    long count = 0, first = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--registry"))
            registry = argv[i + 1];
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            count = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--first"))
            first = atol(argv[i + 1]);
    }
    if (!registry || !out || count < 1) {
        fprintf(stderr, "loadgen keygen: needs --registry FILE --count N --out FILE\n");
        return 2;
    }
    char err[512];
    ro_registry_t *reg = ro_registry_load(registry, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 1;
    }
    if ((size_t)(first + count) > ro_registry_count(reg)) {
        fprintf(stderr, "loadgen keygen: the registry has %zu units\n", ro_registry_count(reg));
        ro_registry_destroy(&reg);
        return 1;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "loadgen: %s: %s\n", out, strerror(errno));
        ro_registry_destroy(&reg);
        return 1;
    }
    fprintf(f, "# UNIT PUBLIC SECRET (Z85), one CURVE key pair per unit; bench only\n");
    for (long i = first; i < first + count; i++) {
        char pub[41], sec[41];
        if (zmq_curve_keypair(pub, sec) != 0) {
            fprintf(stderr, "loadgen: zmq_curve_keypair: %s\n", zmq_strerror(zmq_errno()));
            fclose(f);
            ro_registry_destroy(&reg);
            return 1;
        }
        fprintf(f, "%s %s %s\n", ro_registry_at(reg, (size_t)i)->id, pub, sec);
    }
    ro_registry_destroy(&reg);
    return fclose(f) == 0 ? 0 : 1;
}

static int s_keypair(int argc, char **argv)
{
    const char *pubf = NULL, *secf = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--public"))
            pubf = argv[i + 1];
        else if (!strcmp(argv[i], "--secret"))
            secf = argv[i + 1];
    }
    if (!pubf || !secf) {
        fprintf(stderr, "loadgen keypair: needs --public FILE --secret FILE\n");
        return 2;
    }
    char pub[41], sec[41], err[512];
    if (zmq_curve_keypair(pub, sec) != 0 || ro_key_write(secf, sec, 0600, err, sizeof err) ||
        ro_key_write(pubf, pub, 0644, err, sizeof err)) {
        fprintf(stderr, "loadgen keypair: %s\n", err);
        return 1;
    }
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"registry", required_argument, NULL, 'r'},
        {"first", required_argument, NULL, 'f'},
        {"agents", required_argument, NULL, 'a'},
        {"procs", required_argument, NULL, 'p'},
        {"window", required_argument, NULL, 'w'},
        {"events", required_argument, NULL, 'n'},
        {"total", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'W'},
        {"rate", required_argument, NULL, 'R'},
        {"ceiling", no_argument, NULL, 'C'},
        {"curve", no_argument, NULL, 'c'},
        {"server-key", required_argument, NULL, 's'},
        {"keys", required_argument, NULL, 'k'},
        {"label", required_argument, NULL, 'l'},
        {"amend-every", required_argument, NULL, 'A'},
        {"flag-every", required_argument, NULL, 'F'},
        {"per-day", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->agents = 1;
    o->window = 1000;
    o->duration = 5;
    o->warmup = 1;
    o->label = "run";
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o->endpoint = optarg; break;
        case 'r': o->registry = optarg; break;
        case 'f': o->first = atol(optarg); break;
        case 'a': o->agents = atol(optarg); break;
        case 'p': o->procs = atol(optarg); break;
        case 'w': o->window = atol(optarg); break;
        case 'n': o->events = atol(optarg); break;
        case 't': o->total = atol(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'W': o->warmup = atof(optarg); break;
        case 'R': o->rate = atof(optarg); break;
        case 'C': o->ceiling = 1; break;
        case 'c': o->curve = 1; break;
        case 's': o->server_key = optarg; break;
        case 'k': o->keys = optarg; break;
        case 'l': o->label = optarg; break;
        case 'A': o->amend_every = atol(optarg); break;
        case 'F': o->flag_every = atol(optarg); break;
        case 'D': o->per_day = atol(optarg); break;
        case 'h': s_usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (!o->procs)
        o->procs = o->agents < 2 ? o->agents : 2;
    if (!o->endpoint || !o->registry || o->agents < 1 || o->procs < 1 || o->procs > PROCS_MAX ||
        o->procs > o->agents || o->window < 1 || o->duration <= 0 || o->warmup < 0 ||
        o->amend_every < 0 || o->amend_every == 1 || o->flag_every < 0 || o->per_day < 0 ||
        (o->curve && (!o->server_key || !o->keys)))
        return -1;
    return 0;
}

/* Load the registry and, with CURVE, the agents' keys and the server's
 * public key into server. Returns 0, or -1 with the reason on stderr. */
static int s_load(const s_opts_t *o, ro_registry_t **reg_p, bench_keys_t **keys_p, char server[41])
{
    char err[512] = "";
    ro_registry_t *reg = *reg_p = ro_registry_load(o->registry, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "loadgen: %s\n", err);
        return -1;
    }
    if ((size_t)(o->first + o->agents) > ro_registry_count(reg)) {
        fprintf(stderr, "loadgen: %ld agents from unit %ld, but %s has %zu units\n", o->agents,
                o->first, o->registry, ro_registry_count(reg));
        return -1;
    }
    if (o->curve) {
        *keys_p = bench_keys_load(o->keys, err, sizeof err);
        if (!*keys_p || bench_key_file(o->server_key, server, err, sizeof err)) {
            fprintf(stderr, "loadgen: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Raise the soft limit of open files to the hard one: a socket each. */
static void s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Fork the processes, each with its share of the agents; when all are
 * ready, set the start time in sh and let them go at once, then reap them.
 * Returns 1 if any process failed or was not ready, 0 if none, -1 (with the
 * reason on stderr) if a fork failed. */
static int s_run_procs(const s_opts_t *o, const ro_registry_t *reg, const bench_keys_t *keys,
                       const char *server, s_shared_t *sh, int ready[2], int go[2])
{
    pid_t pids[PROCS_MAX];
    for (long k = 0; k < o->procs; k++) {
        long from = o->agents * k / o->procs, to = o->agents * (k + 1) / o->procs;
        pids[k] = fork();
        if (pids[k] < 0) {
            perror("loadgen: fork");
            return -1;
        }
        if (pids[k] == 0) {
            close(ready[0]);
            close(go[1]);
            _exit(s_child(o, reg, keys, server, from, to - from, k, sh, ready[1], go[0]));
        }
    }
    close(ready[1]);
    close(go[0]);
    long got = 0;
    char c;
    while (got < o->procs && read(ready[0], &c, 1) == 1)
        got++;
    sh->start_ns = bench_now_ns();
    __sync_synchronize();
    close(go[1]); /* every child sees EOF at once: go */
    int failed = got < o->procs;
    for (long k = 0; k < o->procs; k++) {
        int st;
        if (got < o->procs)
            kill(pids[k], SIGTERM);
        waitpid(pids[k], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
    }
    return failed;
}

/* Sum what the processes measured and print the result line; ok=1 only
 * when no process failed and the hub refused nothing. */
static void s_report(const s_opts_t *o, const s_shared_t *sh, int failed)
{
    s_result_t all;
    memset(&all, 0, sizeof all);
    for (long k = 0; k < o->procs; k++) {
        const s_result_t *r = &sh->res[k];
        all.sent += r->sent;
        all.acked += r->acked;
        all.acked_window += r->acked_window;
        all.refused += r->refused;
        all.stalls += r->stalls;
        all.rewinds += r->rewinds;
        if (r->last_ack_ns > all.last_ack_ns)
            all.last_ack_ns = r->last_ack_ns;
        bench_hist_merge(&all.hist, &r->hist);
    }
    int timed = !o->events && !o->total;
    double secs = timed ? o->duration : (double)(all.last_ack_ns - sh->start_ns) / 1e9;
    uint64_t counted = timed ? all.acked_window : all.acked;
    printf("label=%s peer=%s curve=%s agents=%ld procs=%ld window=%ld offered=%.0f acked=%" PRIu64
           " seconds=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f refused=%" PRIu64
           " stalls=%" PRIu64 " rewinds=%" PRIu64 " ok=%d\n",
           o->label, o->ceiling ? "ceiling" : "hub", o->curve ? "on" : "off", o->agents, o->procs,
           o->window, o->rate, counted, secs, secs > 0 ? (double)counted / secs : 0,
           (double)bench_hist_quantile(&all.hist, 0.50) / 1e3,
           (double)bench_hist_quantile(&all.hist, 0.99) / 1e3, (double)all.hist.max_ns / 1e3,
           all.refused, all.stalls, all.rewinds, !failed && all.refused == 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "keygen"))
        return s_keygen(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "keypair"))
        return s_keypair(argc - 1, argv + 1);
    s_opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    bench_calendar_per_day((uint64_t)o.per_day);
    ro_registry_t *reg = NULL;
    bench_keys_t *keys = NULL;
    char server[41] = "";
    if (s_load(&o, &reg, &keys, server) != 0)
        return 1;
    s_raise_nofile();
    s_shared_t *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int ready[2], go[2];
    if (sh == MAP_FAILED || pipe(ready) || pipe(go)) {
        perror("loadgen");
        return 1;
    }
    memset(sh, 0, sizeof *sh);
    int failed = s_run_procs(&o, reg, keys, server, sh, ready, go);
    if (failed < 0)
        return 1;
    s_report(&o, sh, failed);
    bench_keys_destroy(&keys);
    ro_registry_destroy(&reg);
    return failed ? 1 : 0;
}
