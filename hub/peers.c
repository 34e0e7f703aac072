/* hub_peers: a table of connections indexed by fd (an fd belongs to one
 * connection at a time; the socket it belongs to is in the slot), one mutex
 * around it, and a thread that reads the monitors and measures (with the
 * mutex let go: s_tick). The readers' marks take the mutex and touch one
 * slot: no system call per message. Cuts are guarded against fd reuse: the peer and local addresses
 * recorded when the connection was first seen must still be the fd's. */
#include "peers.h"
#include "ro_log.h"
#include "ro_time.h"

#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define IDLE_BYTES_PER_S                                                                           \
    1024                 /* slower than this since the last message: heartbeats, not a flood       \
                          */
#define TRIM_FOR_MS 1000 /* after a cut, trim each period this long (libzmq frees late) */
#define HOT_MS 10        /* a connection past half the bound is measured this often */

typedef struct {
    uint8_t live;                    /* the slot holds a connection */
    uint8_t sock;                    /* hub_peers_socket_t */
    uint8_t accepted;                /* its ACCEPTED was read (else a mark made the slot) */
    uint8_t delivered;               /* a complete message was read since the last tick */
    uint8_t shown;                   /* a complete message was ever read: user is known */
    uint8_t unmeasured;              /* a socket without TCP_INFO (ipc) */
    uint8_t cut;                     /* cut; its DISCONNECTED is awaited */
    uint8_t hot;                     /* past half the bound at the last measure */
    uint32_t gen;                    /* which connection the slot holds (s_open) */
    uint64_t base;                   /* consumed bytes at the last tick after a message */
    uint64_t pending;                /* consumed bytes since base, at the last tick */
    uint64_t input;                  /* bytes of the complete messages read */
    int64_t since_ms;                /* when base was taken (0: not yet) */
    int64_t cut_ms;                  /* when it was cut */
    char user[HUB_PEERS_ID_MAX + 1]; /* its User-Id; "" unknown or unauthenticated */
    char key[HUB_PEERS_KEY_MAX + 1]; /* its key (Z85), "" unknown */
    char peer[HUB_PEERS_ADDR_MAX];   /* remote "ip:port" when first seen */
    char local[HUB_PEERS_ADDR_MAX];  /* local "ip:port" when first seen */
} s_conn_t;

typedef struct {
    char id[HUB_PEERS_ID_MAX + 1];                          /* the identity */
    uint64_t cuts[HUB_PEERS_CUT_COUNT];                     /* by why */
    char names[HUB_PEERS_CUT_COUNT][HUB_PEERS_ID_MAX + 24]; /* metric names */
} s_ident_t;

/* One connection in the per-identity pass. */
typedef struct {
    const char *group; /* its identity */
    uint64_t pending;  /* its undelivered bytes */
    int fd;
} s_rank_t;

/* One connection's measure in a pass, taken without the lock. */
typedef struct {
    int fd;
    uint32_t gen;   /* the slot's when the pass began */
    uint64_t since; /* consumed()'s since */
    uint64_t bytes; /* what it found */
    int rc;         /* what it returned */
} s_probe_t;

struct hub_peers {
    const hub_peers_ops_t *ops;           /* the system's, or a test's */
    void *arg;                            /* their argument */
    pthread_mutex_t pass;                 /* one pass at a time (s_tick), taken before mu */
    s_probe_t *probe;                     /* the pass's measures (under pass) */
    size_t probe_cap;                     /* their slots */
    pthread_mutex_t mu;                   /* around everything below */
    uint32_t gens;                        /* the last slot gen given */
    s_conn_t *conns;                      /* indexed by fd */
    size_t cap;                           /* slots */
    s_rank_t *rank;                       /* scratch for the per-identity pass */
    size_t rank_cap;                      /* its slots */
    void *mon[HUB_PEERS_SOCKETS];         /* PAIR sockets reading the monitors; NULL if none */
    uint64_t open[HUB_PEERS_SOCKETS];     /* accepted minus disconnected */
    uint64_t accepted[HUB_PEERS_SOCKETS]; /* accepted since start */
    uint64_t cuts[HUB_PEERS_CUT_COUNT];   /* cuts since start, by why */
    s_ident_t idents[HUB_PEERS_IDENTITIES + 1]; /* identities cut; the last is "other" */
    size_t nidents;                             /* used, "other" not included */
    int64_t trim_until_ms;                      /* trim memory at each tick until then */
    size_t nhot;                                /* connections hot at the last tick */
    size_t nwatched;                            /* connections the last full tick measured */
    ro_ratelimit_t rl;                          /* cut log lines */
    pthread_t thread;                           /* the watchdog */
    int running;                                /* thread was started */
    atomic_int stop;                            /* asks it to end */
};

static const char *s_cut_names[HUB_PEERS_CUT_COUNT] = {"flood", "idle", "revoked", "input",
                                                       "crowd"};
static const char *s_sock_names[HUB_PEERS_SOCKETS] = {"ingest", "status", "feed"};

const char *hub_peers_cut_name(hub_peers_cut_t why)
{
    return (unsigned)why < HUB_PEERS_CUT_COUNT ? s_cut_names[why] : "?";
}

/* ---- the system's operations ---------------------------------------------- */

static int s_sys_consumed(void *arg, int fd, uint64_t since, uint64_t *bytes)
{
    (void)arg;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return errno == EBADF || errno == ENOTSOCK ? -1 : 1;
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return 1;
    uint64_t got = ti.tcpi_bytes_received;
    if (got >= since && got - since <= HUB_PEERS_QUEUE_SKIP) {
        *bytes = got; /* an idle connection: one system call, not two */
        return 0;
    }
    /* what waits in the kernel's queue costs the hub nothing: libzmq stops
     * reading a connection whose queue is full */
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0 || queued < 0)
        queued = 0;
    *bytes = got > (uint64_t)queued ? got - (uint64_t)queued : 0;
    return 0;
}

static void s_addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        snprintf(out, cap, "(family %d)", (int)ss->ss_family);
    }
}

static int s_sys_where(void *arg, int fd, char *peer, char *local, size_t cap)
{
    (void)arg;
    struct sockaddr_storage a, b;
    socklen_t la = sizeof a, lb = sizeof b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (getpeername(fd, (struct sockaddr *)&a, &la) != 0 ||
        getsockname(fd, (struct sockaddr *)&b, &lb) != 0)
        return -1;
    s_addr_text(&a, peer, cap);
    s_addr_text(&b, local, cap);
    return 0;
}

static int s_sys_cut(void *arg, int fd)
{
    (void)arg;
    /* RST when libzmq closes the fd: the peer learns at once */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    return shutdown(fd, SHUT_RDWR);
}

static void s_sys_trim(void *arg)
{
    (void)arg;
    malloc_trim(0); /* glibc keeps freed memory otherwise */
}

const hub_peers_ops_t *hub_peers_system_ops(void)
{
    static const hub_peers_ops_t ops = {s_sys_consumed, s_sys_where, s_sys_cut, s_sys_trim};
    return &ops;
}

/* ---- the table ------------------------------------------------------------ */

hub_peers_t *hub_peers_new(const hub_peers_ops_t *ops, void *arg)
{
    hub_peers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ops = ops ? ops : hub_peers_system_ops();
    self->arg = arg;
    pthread_mutex_init(&self->pass, NULL);
    pthread_mutex_init(&self->mu, NULL);
    ro_ratelimit_init(&self->rl, 20, 2);
    snprintf(self->idents[HUB_PEERS_IDENTITIES].id, sizeof self->idents[0].id, "other");
    for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
        snprintf(self->idents[HUB_PEERS_IDENTITIES].names[w], sizeof self->idents[0].names[w],
                 "peer_cuts_%s:other", s_cut_names[w]);
    return self;
}

void hub_peers_destroy(hub_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_peers_t *self = *self_p;
    if (self->running) {
        atomic_store(&self->stop, 1);
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; i < HUB_PEERS_SOCKETS; i++)
        if (self->mon[i])
            zmq_close(self->mon[i]);
    pthread_mutex_destroy(&self->mu);
    pthread_mutex_destroy(&self->pass);
    free(self->conns);
    free(self->rank);
    free(self->probe);
    free(self);
    *self_p = NULL;
}

/* The slot of fd, growing the table if need be; NULL when out of memory
 * or fd is negative. */
static s_conn_t *s_slot(hub_peers_t *self, int fd, int grow)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= self->cap) {
        if (!grow)
            return NULL;
        size_t cap = self->cap ? self->cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        s_conn_t *c = realloc(self->conns, cap * sizeof *c);
        if (!c)
            return NULL;
        memset(c + self->cap, 0, (cap - self->cap) * sizeof *c);
        self->conns = c;
        self->cap = cap;
    }
    return &self->conns[fd];
}

/* Start slot c as a new connection on which. */
static void s_open(hub_peers_t *self, s_conn_t *c, hub_peers_socket_t which, int fd)
{
    memset(c, 0, sizeof *c);
    c->live = 1;
    c->sock = (uint8_t)which;
    c->gen = ++self->gens;
    if (self->ops->where(self->arg, fd, c->peer, c->local, sizeof c->peer) != 0) {
        snprintf(c->peer, sizeof c->peer, "?");
        snprintf(c->local, sizeof c->local, "?");
    }
}

static void s_event(hub_peers_t *self, hub_peers_socket_t which, int event, int fd, int64_t now)
{
    if ((unsigned)which >= HUB_PEERS_SOCKETS)
        return;
    if (event == ZMQ_EVENT_ACCEPTED) {
        self->open[which]++;
        self->accepted[which]++;
        s_conn_t *c = s_slot(self, fd, 1);
        if (!c)
            return;
        /* a mark may have made the slot first: the monitor is read
         * every period, a reader may get the first message sooner */
        if (!(c->live && c->sock == which && !c->accepted && !c->cut))
            s_open(self, c, which, fd);
        c->accepted = 1;
        if (!c->since_ms)
            c->since_ms = now;
        return;
    }
    if (event != ZMQ_EVENT_DISCONNECTED && event != ZMQ_EVENT_CLOSED)
        return;
    if (event == ZMQ_EVENT_DISCONNECTED && self->open[which] > 0)
        self->open[which]--;
    s_conn_t *c = s_slot(self, fd, 0);
    /* a slot a mark made is a newer connection's: its ACCEPTED is still to
     * come (events come in order), so this ends an older one */
    if (!c || !c->live || c->sock != which || !c->accepted)
        return;
    if (c->cut)
        ro_log(LOG_DEBUG, "%s connection from %s closed %lld ms after the cut", s_sock_names[which],
               c->peer, (long long)(now - c->cut_ms));
    c->live = 0;
}

void hub_peers_event(hub_peers_t *self, hub_peers_socket_t which, int event, int fd, int64_t now_ms)
{
    pthread_mutex_lock(&self->mu);
    s_event(self, which, event, fd, now_ms);
    pthread_mutex_unlock(&self->mu);
}

/* True when fd still is the connection first seen in slot c: its peer
 * and local addresses are the ones recorded. Two system calls. */
static int s_same(hub_peers_t *self, const s_conn_t *c, int fd)
{
    char peer[HUB_PEERS_ADDR_MAX], local[HUB_PEERS_ADDR_MAX];
    return self->ops->where(self->arg, fd, peer, local, sizeof peer) == 0 &&
           !strcmp(peer, c->peer) && !strcmp(local, c->local);
}

void hub_peers_mark(hub_peers_t *self, hub_peers_socket_t which, int fd, const char *user_id,
                    const char *key, size_t bytes)
{
    if (!self || fd < 0 || (unsigned)which >= HUB_PEERS_SOCKETS)
        return;
    const char *u = user_id ? user_id : "";
    pthread_mutex_lock(&self->mu);
    s_conn_t *c = s_slot(self, fd, 1);
    if (c && c->live && c->sock == which &&
        (c->cut || (c->shown && strncmp(c->user, u, HUB_PEERS_ID_MAX) != 0))) {
        /* A slot cut, or of another identity: rare, so look. Other
         * addresses: the fd is already a new connection's whose events are
         * not read yet (a cut flooder back at once gets its number again):
         * start anew. The same: a message the reader got late from the cut
         * connection (libzmq hands over what a closed connection had
         * queued), ignored; or two identities on one connection, which
         * happens only when such a late message of an older connection set
         * the slot's: the newer message's is the connection's. */
        if (!s_same(self, c, fd))
            c->live = 0;
        else if (!c->cut)
            c->shown = 0;
    }
    if (c && (!c->live || c->sock != which))
        s_open(self, c, which, fd);
    if (c && !c->cut) {
        if (!c->shown) {
            snprintf(c->user, sizeof c->user, "%s", u);
            snprintf(c->key, sizeof c->key, "%s", key ? key : "");
            c->shown = 1;
        }
        c->delivered = 1;
        c->input += bytes;
    }
    pthread_mutex_unlock(&self->mu);
}

/* The identity record for c's identity: found, added, or "other". */
static s_ident_t *s_ident(hub_peers_t *self, const s_conn_t *c)
{
    const char *id = c->user[0] ? c->user : c->shown ? "unauthenticated" : "unknown";
    for (size_t i = 0; i < self->nidents; i++)
        if (!strcmp(self->idents[i].id, id))
            return &self->idents[i];
    if (self->nidents == HUB_PEERS_IDENTITIES)
        return &self->idents[HUB_PEERS_IDENTITIES];
    s_ident_t *d = &self->idents[self->nidents++];
    snprintf(d->id, sizeof d->id, "%s", id);
    for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
        snprintf(d->names[w], sizeof d->names[w], "peer_cuts_%s:%s", s_cut_names[w], id);
    return d;
}

/* Who c is, for a log line: "the ingest connection of 460100-001 (key K)
 * from ADDR" or "the ingest connection from ADDR, key unknown". */
static void s_who(const s_conn_t *c, char *out, size_t cap)
{
    const char *sock = s_sock_names[c->sock];
    if (c->user[0])
        snprintf(out, cap, "the %s connection of %s (key %s) from %s", sock, c->user,
                 c->key[0] ? c->key : "?", c->peer);
    else if (c->shown)
        snprintf(out, cap, "the %s connection from %s (unauthenticated)", sock, c->peer);
    else
        snprintf(out, cap,
                 "the %s connection from %s, key unknown (no complete message was read from it, "
                 "and only a message carries its key)",
                 sock, c->peer);
}

/* Cut the connection on fd (slot c) for why, if the fd still is the
 * connection first seen there; what says how much, for the log.
 * Returns 1 if cut, 0 if not. */
static int s_cut(hub_peers_t *self, s_conn_t *c, int fd, hub_peers_cut_t why, const char *what,
                 int64_t now)
{
    char peer[HUB_PEERS_ADDR_MAX], local[HUB_PEERS_ADDR_MAX], who[320];
    if (self->ops->where(self->arg, fd, peer, local, sizeof peer) != 0 ||
        strcmp(peer, c->peer) != 0 || strcmp(local, c->local) != 0) {
        /* closed, and the number is another socket's now: not ours to cut */
        ro_log(LOG_DEBUG, "%s connection from %s: fd %d is no longer it, not cut",
               s_sock_names[c->sock], c->peer, fd);
        c->live = 0;
        return 0;
    }
    s_who(c, who, sizeof who);
    c->cut = 1; /* whatever shutdown says (ENOTCONN: the peer is gone): not again */
    c->cut_ms = now;
    if (self->ops->cut(self->arg, fd) != 0) {
        ro_log(LOG_ERR, "cannot cut %s: %s", who, strerror(errno));
        return 0;
    }
    self->cuts[why]++;
    s_ident(self, c)->cuts[why]++;
    self->trim_until_ms = now + TRIM_FOR_MS;
    if (ro_log_allow(&self->rl))
        ro_log(why == HUB_PEERS_CUT_IDLE ? LOG_NOTICE : LOG_WARNING, "cut %s: %s", who, what);
    return 1;
}

/* Flood or idle: how fast the bytes came since the last message. */
static hub_peers_cut_t s_why(const s_conn_t *c, int64_t now)
{
    int64_t ms = now - c->since_ms;
    if (ms < 1)
        ms = 1;
    return c->pending * 1000 / (uint64_t)ms >= IDLE_BYTES_PER_S ? HUB_PEERS_CUT_FLOOD
                                                                : HUB_PEERS_CUT_IDLE;
}

/* Cut c for its undelivered bytes (flood or idle). Returns 1 if cut. */
static int s_cut_pending(hub_peers_t *self, s_conn_t *c, int fd, int64_t now, const char *extra)
{
    hub_peers_cut_t why = s_why(c, now);
    char what[256];
    double mib = (double)c->pending / (1 << 20), secs = (double)(now - c->since_ms) / 1000;
    if (why == HUB_PEERS_CUT_IDLE)
        snprintf(what, sizeof what,
                 "%.1f MiB received in %.1f h without a complete message (heartbeats of an idle "
                 "peer, or a slow unfinished one)%s; it may reconnect",
                 mib, secs / 3600, extra);
    else
        snprintf(what, sizeof what,
                 "%.1f MiB received in %.1f s without a complete message (an unfinished message, "
                 "or more than the hub reads)%s; bound %u MiB",
                 mib, secs, extra, HUB_PEERS_BOUND >> 20);
    return s_cut(self, c, fd, why, what, now);
}

static int s_rank_cmp(const void *a, const void *b)
{
    const s_rank_t *x = a, *y = b;
    int k = strcmp(x->group, y->group);
    if (k)
        return k;
    return x->pending < y->pending ? 1 : x->pending > y->pending ? -1 : 0;
}

/* Room in the rank scratch for entry n (grown by doubling). 0, or -1 when
 * out of memory (the pass then works on what it has). */
static int s_rank_room(hub_peers_t *self, size_t n)
{
    if (n < self->rank_cap)
        return 0;
    size_t cap = self->rank_cap ? 2 * self->rank_cap : 64;
    s_rank_t *r = realloc(self->rank, cap * sizeof *r);
    if (!r)
        return -1;
    self->rank = r;
    self->rank_cap = cap;
    return 0;
}

/* The connections of one identity share one bound: a key that opens many
 * connections holds no more than one connection may. Those that showed no
 * key share "unknown"; an unauthenticated one (curve off) is alone. */
static size_t s_per_identity(hub_peers_t *self, int64_t now)
{
    size_t n = 0;
    for (size_t fd = 0; fd < self->cap; fd++) {
        s_conn_t *c = &self->conns[fd];
        if (!c->live || c->cut || c->unmeasured || !c->pending || (c->shown && !c->user[0]))
            continue;
        if (s_rank_room(self, n))
            break;
        self->rank[n++] = (s_rank_t){c->shown ? c->user : "", c->pending, (int)fd};
    }
    if (n) /* rank is NULL until there was something to rank */
        qsort(self->rank, n, sizeof *self->rank, s_rank_cmp);
    size_t cut = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t sum = 0;
        while (j < n && !strcmp(self->rank[j].group, self->rank[i].group))
            sum += self->rank[j++].pending;
        char extra[96];
        snprintf(extra, sizeof extra, ", with %.1f MiB on its %zu connections in all",
                 (double)sum / (1 << 20), j - i);
        for (size_t k = i; k < j && sum > HUB_PEERS_BOUND; k++) {
            s_conn_t *c = &self->conns[self->rank[k].fd];
            sum -= self->rank[k].pending;
            cut += (size_t)s_cut_pending(self, c, self->rank[k].fd, now, extra);
        }
        i = j;
    }
    return cut;
}

static int s_fd_cmp(const void *a, const void *b)
{
    const s_rank_t *x = a, *y = b;
    int k = strcmp(x->group, y->group);
    return k ? k : (x->fd > y->fd) - (x->fd < y->fd);
}

/* Status connections past HUB_PEERS_STATUS_PER_ID per identity (those
 * that showed a key), the highest fds of each, are cut. */
static size_t s_status_crowd(hub_peers_t *self, int64_t now)
{
    size_t n = 0;
    for (size_t fd = 0; fd < self->cap; fd++) {
        s_conn_t *c = &self->conns[fd];
        if (!c->live || c->cut || c->sock != HUB_PEERS_STATUS || !c->shown || !c->user[0])
            continue;
        if (s_rank_room(self, n))
            break;
        self->rank[n++] = (s_rank_t){c->user, 0, (int)fd};
    }
    if (n <= HUB_PEERS_STATUS_PER_ID)
        return 0;
    qsort(self->rank, n, sizeof *self->rank, s_fd_cmp);
    size_t cut = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !strcmp(self->rank[j].group, self->rank[i].group))
            j++;
        char what[160];
        snprintf(what, sizeof what,
                 "its identity holds %zu status connections, more than %d (a client that does "
                 "not read its replies?); it may reconnect",
                 j - i, HUB_PEERS_STATUS_PER_ID);
        for (size_t k = i + HUB_PEERS_STATUS_PER_ID; k < j; k++)
            cut += (size_t)s_cut(self, &self->conns[self->rank[k].fd], self->rank[k].fd,
                                 HUB_PEERS_CUT_CROWD, what, now);
        i = j;
    }
    return cut;
}

/* Connection c on fd measured (consumed()'s rc and bytes): cut it if it
 * is over a bound alone. Returns 1 if cut, 0 if not, -1 if the slot no
 * longer counts (gone, unmeasured); sets c->pending and c->hot. */
static int s_measured(hub_peers_t *self, s_conn_t *c, int fd, int rc, uint64_t bytes, int64_t now)
{
    if (rc < 0 || (rc == 0 && bytes < c->base)) {
        /* closed (no socket now), or another connection has the number */
        c->live = 0;
        return -1;
    }
    if (rc > 0) {
        c->unmeasured = 1;
        return -1;
    }
    if (c->delivered || !c->since_ms) {
        /* a complete message since the last measure: what came before it
         * reached the reader. The bytes since then are forgiven once: a
         * period's traffic on top of HUB_PEERS_BOUND */
        c->base = c->delivered ? bytes : c->base;
        c->since_ms = now;
        c->delivered = 0;
    }
    c->pending = bytes - c->base;
    /* a fast stream gets within HOT_MS of the bound, not a whole period */
    c->hot = c->pending > HUB_PEERS_BOUND / 2;
    if (c->pending > HUB_PEERS_BOUND)
        return s_cut_pending(self, c, fd, now, "");
    if (c->sock == HUB_PEERS_FEED && c->input > HUB_PEERS_FEED_INPUT) {
        char what[128];
        snprintf(what, sizeof what,
                 "it sent %" PRIu64 " bytes of subscriptions and messages; bound %u KiB", c->input,
                 HUB_PEERS_FEED_INPUT >> 10);
        return s_cut(self, c, fd, HUB_PEERS_CUT_INPUT, what, now);
    }
    return 0;
}

/* One pass: every connection (full), or only the hot ones. Called with
 * pass and mu held. The measures (a system call or two each) are taken
 * with mu let go, so that a reader's mark never waits for a pass over
 * thousands of connections; a slot that holds another connection by then
 * (its gen) is left to the next pass. */
static size_t s_tick(hub_peers_t *self, int64_t now, int full)
{
    size_t n = 0;
    for (size_t i = 0; i < self->cap; i++) {
        const s_conn_t *c = &self->conns[i];
        if (!c->live || c->cut || c->unmeasured || (!full && !c->hot))
            continue;
        if (n == self->probe_cap) {
            size_t cap = self->probe_cap ? self->probe_cap * 2 : 256;
            s_probe_t *g = realloc(self->probe, cap * sizeof *g);
            if (!g)
                break; /* the rest wait for the next pass */
            self->probe = g, self->probe_cap = cap;
        }
        self->probe[n++] = (s_probe_t){(int)i, c->gen, c->delivered ? 0 : c->base, 0, 0};
    }
    pthread_mutex_unlock(&self->mu);
    for (size_t k = 0; k < n; k++)
        self->probe[k].rc = self->ops->consumed(self->arg, self->probe[k].fd, self->probe[k].since,
                                                &self->probe[k].bytes);
    pthread_mutex_lock(&self->mu);
    size_t cut = 0, hot = 0;
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        s_conn_t *c = &self->conns[self->probe[k].fd];
        if (!c->live || c->cut || c->unmeasured || c->gen != self->probe[k].gen)
            continue;
        int rc =
            s_measured(self, c, self->probe[k].fd, self->probe[k].rc, self->probe[k].bytes, now);
        cut += rc > 0;
        if (rc == 0) {
            total += c->pending;
            hot += c->hot;
        }
    }
    if (full && total > HUB_PEERS_BOUND) /* else no identity can be over it */
        cut += s_per_identity(self, now);
    if (full) {
        cut += s_status_crowd(self, now);
        self->nwatched = n;
    }
    self->nhot = hot;
    if (now < self->trim_until_ms)
        self->ops->trim(self->arg);
    return cut;
}

/* Read every waiting monitor event. */
static void s_drain(hub_peers_t *self, int64_t now)
{
    for (int i = 0; i < HUB_PEERS_SOCKETS; i++) {
        if (!self->mon[i])
            continue;
        for (int k = 0; k < 100000; k++) {
            zmq_msg_t ev;
            zmq_msg_init(&ev);
            if (zmq_msg_recv(&ev, self->mon[i], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&ev);
                break;
            }
            uint16_t event = 0;
            uint32_t value = 0;
            if (zmq_msg_size(&ev) >= 6) {
                const uint8_t *p = zmq_msg_data(&ev);
                memcpy(&event, p, sizeof event);
                memcpy(&value, p + 2, sizeof value);
            }
            /* the second frame names the endpoint: not needed */
            while (zmq_msg_more(&ev)) {
                zmq_msg_close(&ev);
                zmq_msg_init(&ev);
                if (zmq_msg_recv(&ev, self->mon[i], ZMQ_DONTWAIT) < 0)
                    break;
            }
            zmq_msg_close(&ev);
            s_event(self, (hub_peers_socket_t)i, event, (int)value, now);
        }
    }
}

size_t hub_peers_tick(hub_peers_t *self, int64_t now_ms)
{
    pthread_mutex_lock(&self->pass);
    pthread_mutex_lock(&self->mu);
    s_drain(self, now_ms);
    size_t n = s_tick(self, now_ms, 1);
    pthread_mutex_unlock(&self->mu);
    pthread_mutex_unlock(&self->pass);
    return n;
}

size_t hub_peers_revoke(hub_peers_t *self, unsigned mask, hub_peers_admit_fn admits, void *arg,
                        int cut_unknown)
{
    int64_t now = ro_time_mono_ms();
    size_t n = 0;
    pthread_mutex_lock(&self->mu);
    s_drain(self, now);
    for (size_t i = 0; i < self->cap; i++) {
        s_conn_t *c = &self->conns[i];
        if (!c->live || c->cut || !(mask & (1u << c->sock)))
            continue;
        if (c->shown && c->user[0] &&
            !admits(arg, (hub_peers_socket_t)c->sock, c->user, c->key[0] ? c->key : NULL))
            n += (size_t)s_cut(self, c, (int)i, HUB_PEERS_CUT_REVOKED,
                               "its key is no longer on the allow-list", now);
        else if (!c->shown && cut_unknown)
            n += (size_t)s_cut(self, c, (int)i, HUB_PEERS_CUT_REVOKED,
                               "the reload revoked keys, and this connection has not shown its "
                               "own yet; it may reconnect",
                               now);
    }
    pthread_mutex_unlock(&self->mu);
    return n;
}

/* ---- monitors and the thread ------------------------------------------------ */

int hub_peers_monitor(hub_peers_t *self, void *ctx, hub_peers_socket_t which, void *sock)
{
    if ((unsigned)which >= HUB_PEERS_SOCKETS || self->mon[which] || self->running) {
        errno = EINVAL;
        return -1;
    }
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://rollout-peers-%s-%p", s_sock_names[which], (void *)self);
    if (zmq_socket_monitor(sock, ep,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) != 0)
        return -1;
    void *pair = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0, hwm = 100000;
    if (!pair)
        return -1;
    zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(pair, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(pair, ep) != 0) {
        int e = zmq_errno();
        zmq_close(pair);
        errno = e;
        return -1;
    }
    self->mon[which] = pair;
    return 0;
}

/* The time to the next full pass (HUB_PEERS_PERIOD_US). */
static int64_t s_period_ms(const hub_peers_t *self)
{
    size_t ms = self->nwatched * HUB_PEERS_PERIOD_US / 1000;
    return ms < HUB_PEERS_PERIOD_MIN_MS ? HUB_PEERS_PERIOD_MIN_MS
           : ms > HUB_PEERS_PERIOD_MS   ? HUB_PEERS_PERIOD_MS
                                        : (int64_t)ms;
}

static void *s_main(void *arg)
{
    hub_peers_t *self = arg;
    pthread_setname_np(pthread_self(), "hub-peers");
    int64_t next_full = ro_time_mono_ms();
    while (!atomic_load(&self->stop)) {
        int64_t now = ro_time_mono_ms();
        pthread_mutex_lock(&self->pass);
        pthread_mutex_lock(&self->mu);
        if (now >= next_full) {
            s_drain(self, now);
            s_tick(self, now, 1);
            next_full = now + s_period_ms(self);
        } else if (self->nhot) {
            s_tick(self, now, 0);
        }
        int64_t left = next_full - ro_time_mono_ms();
        if (self->nhot && left > HOT_MS)
            left = HOT_MS;
        pthread_mutex_unlock(&self->mu);
        pthread_mutex_unlock(&self->pass);
        if (left > 0) {
            struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int hub_peers_start(hub_peers_t *self, char *err, size_t errlen)
{
    if (self->running)
        return 0;
    int rc = pthread_create(&self->thread, NULL, s_main, self);
    if (rc) {
        snprintf(err, errlen, "cannot start the connection watchdog: %s", strerror(rc));
        return -1;
    }
    self->running = 1;
    return 0;
}

/* ---- counts ----------------------------------------------------------------- */

long hub_peers_period_ms(const hub_peers_t *self)
{
    hub_peers_t *s = (hub_peers_t *)self; /* the mutex only */
    pthread_mutex_lock(&s->mu);
    long ms = (long)s_period_ms(s);
    pthread_mutex_unlock(&s->mu);
    return ms;
}

uint64_t hub_peers_open(const hub_peers_t *self, hub_peers_socket_t which)
{
    hub_peers_t *s = (hub_peers_t *)self; /* the mutex only */
    if (!s || (unsigned)which >= HUB_PEERS_SOCKETS)
        return 0;
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->open[which];
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t hub_peers_accepted(const hub_peers_t *self, hub_peers_socket_t which)
{
    hub_peers_t *s = (hub_peers_t *)self;
    if (!s || (unsigned)which >= HUB_PEERS_SOCKETS)
        return 0;
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->accepted[which];
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t hub_peers_cuts(const hub_peers_t *self, hub_peers_cut_t why)
{
    hub_peers_t *s = (hub_peers_t *)self;
    if (!s || (unsigned)why >= HUB_PEERS_CUT_COUNT)
        return 0;
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->cuts[why];
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t hub_peers_identities(const hub_peers_t *self, hub_peers_identity_t *out, size_t cap)
{
    hub_peers_t *s = (hub_peers_t *)self;
    if (!s)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i <= HUB_PEERS_IDENTITIES && n < cap; i++) {
        if (i < HUB_PEERS_IDENTITIES && i >= s->nidents)
            continue;
        const s_ident_t *d = &s->idents[i];
        uint64_t any = 0;
        for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
            any += d->cuts[w];
        if (!any)
            continue;
        out[n].identity = d->id;
        for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++) {
            out[n].cuts[w] = d->cuts[w];
            out[n].names[w] = d->names[w];
        }
        n++;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}
