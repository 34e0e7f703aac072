/* hub: the hub service as one object (hub.h).
 *
 * Threads, and who owns what:
 * - the main thread (hub_run's loop) takes reports in (ingest), answers
 *   the ZAP handshakes, reads the feed's subscriptions, publishes the feed
 *   and ticks the HTTP side (view), and does SIGHUP's reloads;
 * - the status thread (s_status_main) answers queries on the status
 *   socket, so a long commit never makes an operator wait, and builds the
 *   dashboard's series between answers: every scan of the store is done
 *   here, with committed's lock let go, so none holds up ingest. It never
 *   writes the store: a reviewer's decision goes to the main thread over
 *   an inproc PAIR (s_decide), which applies it through ingest between
 *   batches and answers once it is committed (s_decide_serve);
 * - ZeroMQ's two I/O threads carry the connections: one the agents', the
 *   other the operators' (status and feed: IO_OPERATORS);
 * - hub_peers' watchdog measures the sockets' connections from outside and
 *   cuts those that stream without ending a message; it shares no state
 *   with the others but its own table, which ingest and the status gate
 *   mark;
 * - libmicrohttpd's thread serves HTTP from documents view hands it
 *   (http.c has its own locks); the verifier's thread recounts the store
 *   once after the start and reports through s_verified;
 * - during the start only, the check's thread (s_fast_check) reads the
 *   store through the status thread's connection, from hub_new until
 *   hub_start joins it, before the status thread exists.
 * Each of ours is named for top -H (hub-status, hub-peers, hub-check,
 * hub-verify, hub-http), as rollout-hub(8) lists them.
 * Locks: committed's lock (hub_committed: plain, not recursive) guards the
 * committed states, the rollups' sums, ingest's published counters, the
 * feed's seq, the registry/targets/engine in use and everything else the
 * status thread reads (the allow-list, the view's metrics). The main
 * thread holds it except while it polls and while ingest receives, stores
 * and acknowledges a batch: ingest touches only its own working states and
 * the store's writing connection then, and publishes a committed batch with
 * hub_committed_publish, which takes the lock itself. The status thread
 * holds it per answer, and lets it go for a scan of the store through its
 * own connection, holding the scan lock instead (s_scan_leave). No thread
 * waits for one lock while holding the other; a reload, which needs both,
 * only tries the scan lock.
 * What happens to a message is ingest's and status's business; attainment,
 * the feed's content and the CURVE allow-list come from their own modules. */
#include "hub.h"

#include "auth.h"
#include "committed.h"
#include "feed.h"
#include "ingest.h"
#include "peers.h"
#include "review.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_mem.h"
#include "ro_sock.h"
#include "ro_time.h"
#include "status.h"
#include "store.h"
#include "view.h"
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* ZeroMQ's I/O threads (ZMQ_AFFINITY bits): the agents' connections on one,
 * the operators' (status, feed) on the other, so that a question does not
 * wait behind the decryption of a stream of reports (laggards p99 under
 * full ingest at 100,000 units: 30-38 ms with one thread, 12 ms with two;
 * docs/PERFORMANCE.md) */
#define IO_INGEST 1u
#define IO_OPERATORS 2u
#define STATUS_POLL_MS 200     /* how often the status thread looks whether to stop */
#define WRITER_CACHE_KIB 65536 /* ingest's page cache: a batch touches a leaf per unit */
#define STATS_EVERY_MS 60000   /* how often a busy hub logs what it stored */
#define DAYS_IDLE_MS 50        /* ingest quiet: stale daily states re-derived this long at a */
                               /* time, between looks at the sockets */
#define CLOSE_LINGER_MS 2000   /* at a stop, how long queued acks may take to leave */
#define ACK_GRACE_MS 300       /* at a stop, time the agents get to read the last acks */
#define ZAP_PER_WAKE 256       /* handshakes answered per wake (893 agents reconnect at once) */
#define ZAP_SELFTEST_MS 5000   /* the ZAP self-test must pass within this at start */
#define HANDSHAKE_MS 10000     /* a connection that has not finished its handshake is dropped */
/* Connections the kernel may queue on the ingest socket before libzmq
 * accepts them. A hub restart has every agent reconnect at once; past
 * libzmq's default of 100 the kernel drops them, and each waits for TCP's
 * next try (1, 2, 4, 8... s). The kernel caps it at net.core.somaxconn
 * (docs/SCALING.md). */
#define INGEST_BACKLOG 4096
#define REVOKE_GRACE_MS 5000 /* a revoked key's ingest and status connections: see s_revoke */
#define STATUS_SNDHWM 1      /* replies queued per status connection: see s_bind */

/* Set from signal handlers (hub_request_stop, hub_request_reload), and by
 * the verifier's thread (s_store_damaged); one hub per process. */
static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload;
static atomic_int s_store_damaged; /* 1: the verify at start found hub.db damaged; 2: handled */

void hub_request_stop(void)
{
    s_stop = 1;
}

void hub_request_reload(void)
{
    s_reload = 1;
}

/* Write the bound endpoints to <dir>/endpoints atomically (temp + rename). */
static int s_write_endpoints(const char *dir, const char *eps[3], char *err, size_t errlen)
{
    static const char *names[3] = {"ingest", "status", "feed"};
    char tmp[RO_PATH_MAX + 32], final[RO_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/endpoints.tmp", dir);
    snprintf(final, sizeof final, "%s/endpoints", dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s %s\n", names[i], eps[i]);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, final) != 0) {
        snprintf(err, errlen, "%s: %s", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Create, configure and bind one socket, monitored by peers as which
 * from before it binds; fills bound with ZMQ_LAST_ENDPOINT. */
static void *s_bind(void *ctx, int type, const char *what, const char *endpoint, int64_t maxmsg,
                    const ro_hub_config_t *cfg, hub_peers_t *peers, hub_peers_socket_t which,
                    char *bound, size_t boundlen, char *err, size_t errlen)
{
    void *sock = zmq_socket(ctx, type);
    if (!sock) {
        snprintf(err, errlen, "%s socket: %s", what, zmq_strerror(zmq_errno()));
        return NULL;
    }
    /* A status client asks and reads the reply before it asks again
     * (rolloutctl, bench/statusq); one that never reads would leave every
     * answer queued in libzmq, up to SNDHWM of them per connection (1,000
     * by default: 1.2 GB of LAGGARDS for 893 units). With 1, a connection
     * holds at most the reply queued and the one being written, and the
     * status thread drops the rest (hub_status_serve: logged and counted
     * with the key). The bound this gives is in docs/SECURITY.md, "Memory". */
    int one = 1, handshake = HANDSHAKE_MS, status_hwm = STATUS_SNDHWM, backlog = INGEST_BACKLOG;
    uint64_t affinity = which == HUB_PEERS_INGEST ? IO_INGEST : IO_OPERATORS;
    if (ro_sock_harden(sock, maxmsg) || (which == HUB_PEERS_INGEST && ro_sock_keepalive(sock)) ||
        (which == HUB_PEERS_INGEST &&
         zmq_setsockopt(sock, ZMQ_BACKLOG, &backlog, sizeof backlog) != 0) ||
        zmq_setsockopt(sock, ZMQ_AFFINITY, &affinity, sizeof affinity) != 0 ||
        zmq_setsockopt(sock, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake) != 0 ||
        (type == ZMQ_ROUTER && zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0) ||
        (which == HUB_PEERS_STATUS &&
         zmq_setsockopt(sock, ZMQ_SNDHWM, &status_hwm, sizeof status_hwm) != 0) ||
        (type == ZMQ_XPUB && hub_feed_configure(sock, cfg->feed_hwm) != 0)) {
        snprintf(err, errlen, "%s socket options: %s", what, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    if (cfg->sec.curve) {
        char why[256];
        /* the ZAP domain tells the handler which socket asks: unit keys only on ingest */
        if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, what, strlen(what)) != 0)
            snprintf(why, sizeof why, "ZAP domain: %s", zmq_strerror(zmq_errno()));
        else if (ro_sock_curve_server(sock, cfg->sec.secret_key, why, sizeof why))
            ;
        else
            why[0] = '\0';
        if (why[0]) {
            snprintf(err, errlen, "%s socket: %s", what, why);
            zmq_close(sock);
            return NULL;
        }
    }
    if (hub_peers_monitor(peers, ctx, which, sock) != 0) {
        snprintf(err, errlen, "cannot monitor the %s socket: %s", what, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    if (zmq_bind(sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot bind the %s socket to %s: %s", what, endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    size_t len = boundlen;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &len) != 0)
        snprintf(bound, boundlen, "%s", endpoint);
    return sock;
}

/* The fast check at start (index seeks, no scan), run in a thread of its
 * own on the status thread's connection from hub_new on, while main loads
 * the model and hub_start the units' states. */
typedef struct {
    hub_store_t *store;           /* the connection it reads with */
    hub_store_diff_t diffs[8];    /* the first differences */
    long n;                       /* differences, or a negative code */
    uint64_t units;               /* units looked at */
    int64_t ms;                   /* how long it took */
    char err[RO_PATH_MAX + 1024]; /* why it failed, when n < 0 */
} s_fast_check_t;

/* The main loop's sockets (hub_wait): bits of what it watches and finds readable. */
enum { W_INGEST, W_FEED, W_DECIDE, W_ZAP, WAIT_SOCKETS };

struct hub {
    ro_hub_config_t cfg;            /* hub.ini */
    hub_model_t m;                  /* registry, targets and engine in use */
    hub_store_t *store;             /* hub.db: ingest's writing connection */
    hub_store_t *reader;            /* hub.db again: the status thread's connection */
    hub_unit_state_t *states;       /* one per registry unit: ingest's working copy */
    hub_committed_t *committed;     /* the same as committed, with the lock: what others read */
    hub_ingest_t *ingest;           /* reports in, acks out */
    hub_auth_t *auth;               /* ZAP handler and allow-list; NULL with curve off */
    hub_status_t *status;           /* queries */
    hub_view_t *view;               /* feed on sock[2], metrics, HTTP dashboard */
    hub_peers_t *peers;             /* the sockets' connections, and their watchdog */
    int64_t revoke_due_ms;          /* when to cut revoked keys' ingest, status links; 0: no */
    s_fast_check_t check;           /* the check at start... */
    pthread_t checker;              /* ...in this thread */
    int checking;                   /* checker runs: join it */
    hub_store_verifier_t *verifier; /* the recount of the raw reports after start */
    const char *config_path;        /* hub.ini, read again for max_store_bytes on SIGHUP */
    void *ctx;                      /* ZeroMQ context */
    void *sock[3];                  /* ingest, status, feed */
    void *decide[2]; /* inproc PAIR: [0] the main thread's, [1] the status thread's */
    int lock_fd;     /* flock on <data_dir>/hub.lock */
    char endpoints_path[RO_PATH_MAX + 32];
    pthread_mutex_t scan;    /* held while a status answer scans the store through reader */
    pthread_t status_thread; /* answers on sock[1] */
    int status_running;      /* status_thread was started */
    atomic_int status_stop;  /* asks it to end */
};

/* A status request: its connection delivered a complete message (the
 * watchdog's to know), and is answered only while its operator key is
 * listed (with curve on). Called by the status thread with committed's lock held. */
static int s_status_gate(void *arg, void *request)
{
    hub_t *h = arg;
    zmq_msg_t *m = request;
    const char *user = zmq_msg_gets(m, "User-Id"), *key = zmq_msg_gets(m, HUB_AUTH_KEY_PROPERTY);
    hub_peers_mark(h->peers, HUB_PEERS_STATUS, zmq_msg_get(m, ZMQ_SRCFD), user, key,
                   zmq_msg_size(m));
    return !h->auth || hub_auth_admits(h->auth, HUB_AUTH_OPERATOR, user, key);
}

/* hub_feed_peer_fn: what a subscriber sent shows its connection and key. */
static void s_feed_peer(void *arg, int fd, const char *user_id, const char *key, size_t bytes)
{
    hub_t *h = arg;
    hub_peers_mark(h->peers, HUB_PEERS_FEED, fd, user_id, key, bytes);
}

/* hub_peers_admit_fn: unit keys on ingest, operator keys on status and feed. */
static int s_admits(void *arg, hub_peers_socket_t which, const char *user_id, const char *key)
{
    hub_t *h = arg;
    return hub_auth_admits(h->auth, which == HUB_PEERS_INGEST ? HUB_AUTH_UNIT : HUB_AUTH_OPERATOR,
                           user_id, key);
}

/* After the allow-list was reloaded. ZAP runs only at a handshake, and a
 * PUB or ROUTER has no call that drops one peer, so the hub cuts the live
 * connections of keys the new list no longer admits from outside
 * (hub_peers).
 * The feed first, at once: nothing else stops a PUB sending to a revoked
 * subscriber. It is an XPUB with ZMQ_XPUB_VERBOSE for this: each
 * subscriber's subscription shows its connection and key, so only the
 * revoked subscriber is cut and the others keep their stream untouched,
 * where rebinding the socket would drop them all (they would come back
 * within a second and resync, the Clone way, but every revocation would
 * cost every dashboard a snapshot and a gap). A feed connection that has
 * not shown its key yet (its subscription not read) may be a revoked one:
 * it is cut too, and comes back through ZAP if it may. The subscriptions
 * are read first, so established subscribers have shown theirs.
 * Ingest and status refuse a revoked key's messages from now on, one by
 * one ("forbidden": the agent keeps the refused report, rolloutctl says
 * why), so the key gets nothing there either; their connections are cut
 * REVOKE_GRACE_MS later (s_run), once what was in flight has had its
 * answer, and the peer then meets the refusal at its next handshake.
 * Nothing is cut when the reload dropped no key. */
static void s_revoke(hub_t *h)
{
    size_t dropped = hub_auth_dropped(h->auth);
    if (!dropped)
        return;
    hub_feed_read(h->sock[2], 100000, s_feed_peer, h);
    size_t n = hub_peers_revoke(h->peers, 1u << HUB_PEERS_FEED, s_admits, h, 1);
    h->revoke_due_ms = ro_time_mono_ms() + REVOKE_GRACE_MS;
    ro_log(LOG_NOTICE,
           "SIGHUP: the allow-list no longer admits %zu key%s: cut %zu feed subscription%s that "
           "used %s or had not shown a key; their ingest and status connections are refused from "
           "now on and cut in %d s",
           dropped, ro_s(dropped), n, ro_s(n), dropped == 1 ? "it" : "them",
           REVOKE_GRACE_MS / 1000);
}

/* Ingest quiet for HUB_INGEST_QUIET_MS since last_ingest (nothing came,
 * nothing waits): the next batch starts afresh (hub_ingest_quiet), and
 * units whose daily states (unit_days) were left stale (a long back-dated
 * report, a unit's backlog in one batch: hub/store_db.h; a unit in batch
 * after batch; a review's decision) are re-derived for about DAYS_IDLE_MS,
 * so that as-of questions read rows again rather than fold their reports.
 * A hub under load leaves them for later. Returns 1 when it re-derived
 * some (more may wait: the main loop comes back at once rather than after
 * its wait), else 0. */
static int s_days_idle(hub_t *h, int64_t last_ingest)
{
    if (hub_ingest_pending(h->ingest) > 0 || ro_time_mono_ms() - last_ingest < HUB_INGEST_QUIET_MS)
        return 0;
    hub_ingest_quiet(h->ingest); /* its next batch writes the day rows of all it touches */
    char err[256];
    long n = hub_store_days_refresh(h->store, DAYS_IDLE_MS, err, sizeof err);
    if (n < 0)
        ro_log(LOG_WARNING, "cannot re-derive stale daily states: %s", err);
    else if (n > 0)
        ro_log(LOG_DEBUG, "re-derived the daily states of %ld units", n);
    return n > 0;
}

/* REVOKE_GRACE_MS after a reload that dropped keys: cut their ingest and
 * status connections (by the list in use now). */
static void s_revoke_late(hub_t *h, int64_t mono)
{
    if (!h->revoke_due_ms || mono < h->revoke_due_ms)
        return;
    h->revoke_due_ms = 0;
    unsigned mask = (1u << HUB_PEERS_INGEST) | (1u << HUB_PEERS_STATUS);
    size_t n = h->auth ? hub_peers_revoke(h->peers, mask, s_admits, h, 0) : 0;
    if (n)
        ro_log(LOG_NOTICE, "cut %zu ingest and status connection%s of keys no longer admitted", n,
               ro_s(n));
}

/* A status answer that scans the store lets go of committed's lock meanwhile,
 * holding the scan lock instead, so ingest carries on. No thread waits for
 * one while holding the other: the lock goes before the scan lock is taken
 * (status checks afterwards that no reload came between), and a registry
 * reload, which needs both, only tries the scan lock. */
static void s_scan_leave(void *arg)
{
    hub_t *h = arg;
    hub_committed_unlock(h->committed);
    pthread_mutex_lock(&h->scan);
}

static void s_scan_enter(void *arg)
{
    hub_t *h = arg;
    pthread_mutex_unlock(&h->scan);
    hub_committed_lock(h->committed);
}

/* A decision's answer from the main thread to the status thread. */
typedef struct {
    int rc;        /* as hub_ingest_decide */
    char why[512]; /* its text */
} s_decided_t;

#define DECIDE_ENDPOINT "inproc://rollout-decide"
#define DECIDE_WAIT_MS 100 /* the status thread looks at status_stop this often while it waits */

/* hub_status_decide_fn, on the status thread with committed's lock let go:
 * hand d to the main thread and wait for its answer (a commit away). */
static int s_decide(void *arg, const hub_decision_t *d, char *why, size_t whylen)
{
    hub_t *h = arg;
    if (zmq_send(h->decide[1], d, sizeof *d, 0) != (int)sizeof *d) {
        snprintf(why, whylen, "cannot hand the decision to ingest: %s", zmq_strerror(zmq_errno()));
        return HUB_STORE_EFAIL;
    }
    s_decided_t a;
    while (!atomic_load(&h->status_stop)) {
        zmq_pollitem_t item = {h->decide[1], 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, DECIDE_WAIT_MS) <= 0)
            continue;
        if (zmq_recv(h->decide[1], &a, sizeof a, 0) != (int)sizeof a)
            break;
        snprintf(why, whylen, "%s", a.why);
        return a.rc;
    }
    snprintf(why, whylen, "the hub is stopping: ask again once it is back");
    return HUB_STORE_EFAIL;
}

/* The main thread, committed's lock held: apply the decision waiting on
 * the PAIR through ingest (which publishes it), let the feed carry the
 * unit, and answer. */
static void s_decide_serve(hub_t *h, int64_t now)
{
    hub_decision_t d;
    if (zmq_recv(h->decide[0], &d, sizeof d, ZMQ_DONTWAIT) != (int)sizeof d)
        return;
    s_decided_t a = {0};
    hub_committed_unlock(h->committed); /* ingest publishes under it */
    a.rc = atomic_load(&s_store_damaged)
               ? (snprintf(a.why, sizeof a.why, "hub.db is damaged: nothing is written"),
                  HUB_STORE_EFAIL)
               : hub_ingest_decide(h->ingest, &d, now, a.why, sizeof a.why);
    hub_committed_lock(h->committed);
    if (a.rc == 0)
        hub_view_changed(h->view, h->ingest, now);
    zmq_send(h->decide[0], &a, sizeof a, 0);
}

/* The status thread: one answer per turn of the lock. */
static void *s_status_main(void *arg)
{
    hub_t *h = arg;
    pthread_setname_np(pthread_self(), "hub-status");
    while (!atomic_load(&h->status_stop)) {
        zmq_pollitem_t item = {h->sock[1], 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, STATUS_POLL_MS);
        if (rc < 0 && zmq_errno() != EINTR) {
            ro_log(LOG_ERR, "status poll: %s; trying again in a second", zmq_strerror(zmq_errno()));
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
            continue;
        }
        for (int more = rc > 0; more && !atomic_load(&h->status_stop);) {
            hub_committed_lock(h->committed);
            more = hub_status_serve(h->status, h->sock[1], ro_time_now()) > 0;
            hub_committed_unlock(h->committed);
        }
        /* the dashboard's series scans the store: here, not on the main thread */
        hub_committed_lock(h->committed);
        hub_view_status_tick(h->view, ro_time_now(), ro_time_mono_ms());
        hub_committed_unlock(h->committed);
    }
    return NULL;
}

static int s_status_start(hub_t *h, char *err, size_t errlen)
{
    h->decide[0] = zmq_socket(h->ctx, ZMQ_PAIR);
    h->decide[1] = zmq_socket(h->ctx, ZMQ_PAIR);
    if (!h->decide[0] || !h->decide[1] || zmq_bind(h->decide[0], DECIDE_ENDPOINT) ||
        zmq_connect(h->decide[1], DECIDE_ENDPOINT)) {
        snprintf(err, errlen, "cannot make the decisions' inproc socket: %s",
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    hub_status_set_decide(h->status, s_decide, h, h->auth != NULL);
    int rc = pthread_create(&h->status_thread, NULL, s_status_main, h);
    if (rc) {
        snprintf(err, errlen, "cannot start the status thread: %s", strerror(rc));
        return -1;
    }
    h->status_running = 1;
    return 0;
}

static void s_status_stop(hub_t *h)
{
    if (!h->status_running)
        return;
    atomic_store(&h->status_stop, 1);
    hub_store_interrupt(h->reader); /* a scan in progress (verify) ends at its next row */
    pthread_join(h->status_thread, NULL);
    h->status_running = 0;
}

static void s_hub_close(hub_t *h)
{
    s_status_stop(h);
    hub_store_verify_destroy(&h->verifier); /* a recount still running is stopped */
    hub_view_destroy(&h->view);
    hub_peers_destroy(&h->peers); /* its thread, and its monitor sockets before zmq_ctx_term */
    /* acks of the last committed batch may still sit in ZeroMQ's queue:
     * let them go out (a peer that is gone drops them), so a clean stop
     * leaves no agent resending what the hub stored */
    int linger = CLOSE_LINGER_MS;
    if (h->sock[0])
        zmq_setsockopt(h->sock[0], ZMQ_LINGER, &linger, sizeof linger);
    for (int i = 0; i < 3; i++)
        if (h->sock[i])
            zmq_close(h->sock[i]);
    for (int i = 0; i < 2; i++)
        if (h->decide[i])
            zmq_close(h->decide[i]);
    hub_auth_destroy(&h->auth);
    if (h->ctx)
        zmq_ctx_term(h->ctx);
    hub_status_destroy(&h->status);
    hub_ingest_destroy(&h->ingest);
    if (h->checking) /* hub_start was not reached: the check still reads with reader */
        pthread_join(h->checker, NULL);
    hub_store_destroy(&h->reader);
    hub_store_destroy(&h->store);
    hub_committed_destroy(&h->committed);
    free(h->states);
    hub_model_release(&h->m);
    if (h->endpoints_path[0])
        unlink(h->endpoints_path);
    if (h->lock_fd >= 0)
        close(h->lock_fd);
}

/* The targets file's text, read again (rolloutctl report asks for it), or
 * NULL with errno set. */
static char *s_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    char *text = NULL;
    if (size >= 0 && size < (1L << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (text = calloc(1, (size_t)size + 1)) && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (f)
        fclose(f);
    return text;
}

int hub_model_load(const ro_hub_config_t *cfg, hub_model_t *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->reg = ro_registry_load(cfg->registry, err, errlen);
    if (!m->reg)
        return -1;
    m->targets = ro_targets_load(cfg->targets, err, errlen);
    if (!m->targets) {
        hub_model_release(m);
        return -1;
    }
    char why[512];
    m->engine = hub_engine_new(m->reg, m->targets, why, sizeof why);
    if (!m->engine) {
        snprintf(err, errlen, "%s: %s", cfg->targets, why);
        hub_model_release(m);
        return -1;
    }
    m->review = hub_review_new(m->reg, m->targets, m->engine);
    m->targets_text = m->review ? s_read_text(cfg->targets) : NULL;
    if (!m->targets_text) {
        snprintf(err, errlen, "%s: cannot read it again: %s", cfg->targets, strerror(errno));
        hub_model_release(m);
        return -1;
    }
    return 0;
}

void hub_model_release(hub_model_t *m)
{
    hub_engine_destroy(&m->engine);
    hub_review_destroy(&m->review);
    ro_targets_destroy(&m->targets);
    free(m->targets_text);
    ro_registry_destroy(&m->reg);
    memset(m, 0, sizeof *m);
}

/* SIGHUP: reread the registry and the targets hub.ini names and switch to
 * them only when both load, an engine builds over them and the store has a
 * row for every unit; otherwise keep what runs and log why. The units'
 * states are indexed by the registry, so they are reloaded from the store
 * for the new one (the store is always in step after a commit). A unit
 * dropped from the registry keeps its rows; its reports are then refused as
 * unknown. hub.ini itself is read at start only. Returns 0 when done or
 * failed for good, 1 when it must wait (a batch is held for the store). */
static int s_reload_registry(hub_t *h)
{
    if (hub_ingest_held(h->ingest)) {
        ro_log(LOG_WARNING, "SIGHUP: the store is not writable; registry and targets reload "
                            "waits until the held batch is stored");
        return 1;
    }
    char err[2048] = "";
    hub_model_t next = {0};
    hub_unit_state_t *states = NULL, *pub = NULL;
    hub_unit_flags_t *flags = NULL;
    if (hub_model_load(&h->cfg, &next, err, sizeof err))
        goto fail;
    size_t n = ro_registry_count(next.reg);
    states = ro_calloc_big(n, sizeof *states);
    pub = ro_calloc_big(n, sizeof *pub);
    flags = ro_calloc_big(n, sizeof *flags);
    if (!states || !pub || !flags) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    /* from here the store's unit indices are the new registry's... */
    if (hub_store_load_states(h->store, next.reg, states, err, sizeof err))
        goto fail;
    if (hub_store_copy_map(h->reader, h->store, err, sizeof err) ||
        hub_ingest_set_registry(h->ingest, next.reg, states)) {
        /* ...so put them back (the live states equal the store's) */
        char again[256];
        if (hub_store_load_states(h->store, h->m.reg, h->states, again, sizeof again) ||
            hub_store_copy_map(h->reader, h->store, again, sizeof again))
            ro_log(LOG_ERR, "SIGHUP: cannot go back to the old registry in the store: %s", again);
        if (!err[0])
            snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    hub_ingest_set_review(h->ingest, next.review);
    size_t added = 0, dropped = 0, old_n = ro_registry_count(h->m.reg);
    for (size_t i = 0; i < n; i++)
        added += ro_registry_find(h->m.reg, ro_registry_at(next.reg, i)->id) < 0;
    for (size_t i = 0; i < old_n; i++)
        dropped += ro_registry_find(next.reg, ro_registry_at(h->m.reg, i)->id) < 0;
    ro_log(LOG_NOTICE,
           "SIGHUP: reloaded %zu units from %s (%zu new, %zu dropped) and %zu indicators "
           "from %s",
           n, h->cfg.registry, added, dropped, ro_targets_count(next.targets), h->cfg.targets);
    /* before the old goes: the feed compares them */
    int feed_failed = hub_view_reload(h->view, next.reg, next.engine, next.targets);
    if (feed_failed) { /* s_run stops before the feed's next turn */
        ro_log(LOG_ERR, "SIGHUP: out of memory for the feed's topics; stopping");
        s_stop = 1;
    }
    /* the one place the committed state changes registry (under its lock) */
    memcpy(pub, states, n * sizeof *pub);
    hub_unit_flags_carry(h->m.reg, hub_committed_flags(h->committed), next.reg, flags);
    for (size_t i = 0; i < n; i++) /* a unit added back brings its marks from the store */
        flags[i].marks = *hub_ingest_marks(h->ingest, i);
    hub_committed_swap(h->committed, next.reg, next.engine, pub, flags);
    hub_status_set_registry(h->status, next.reg, hub_committed_states(h->committed));
    if (hub_status_set_engine(h->status, next.engine, next.targets, next.targets_text))
        hub_status_set_engine(h->status, next.engine, next.targets, NULL); /* cannot fail */
    if (!feed_failed) { /* else the feed still holds the old registry: leave it be */
        free(h->states);
        hub_model_release(&h->m);
    }
    h->states = states;
    h->m = next;
    return 0;
fail:
    ro_log(LOG_ERR, "SIGHUP: %s; keeping the registry and targets in use", err);
    free(states);
    free(pub);
    free(flags);
    hub_model_release(&next);
    return 0;
}

/* data_dir, copied into path (RO_PATH_MAX + 1 bytes) without trailing
 * slashes. Returns 0, or -1 with the reason in err. */
static int s_data_dir_path(const char *dir, char *path, char *err, size_t errlen)
{
    size_t n = strlen(dir);
    if (n == 0 || n > RO_PATH_MAX) {
        snprintf(err, errlen, "data_dir '%.64s': empty or longer than %d bytes", dir, RO_PATH_MAX);
        return -1;
    }
    memcpy(path, dir, n + 1);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    return 0;
}

/* Make data_dir like mkdir -p: the folders above it that are missing with
 * 0755 (less the umask; others may need to pass through them, as with
 * mkdir -p), data_dir itself with 0750 (the store is nobody else's).
 * Returns 0, or -1 with the folder that could not be made in err. */
static int s_make_data_dir(const char *dir, char *err, size_t errlen)
{
    char path[RO_PATH_MAX + 1];
    if (s_data_dir_path(dir, path, err, errlen))
        return -1;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, c ? 0755 : 0750) != 0) {
            int e = errno;
            struct stat st;
            if (e != EEXIST || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
                if (e == EEXIST)
                    snprintf(err, errlen,
                             "cannot create data_dir %s: %s exists and is not a folder", dir, path);
                else
                    snprintf(err, errlen, "cannot create data_dir %s: %s: %s", dir, path,
                             strerror(e));
                return -1;
            }
        }
        if (!c)
            return 0;
        *p = c;
    }
}

/* What --check can know of data_dir without creating anything: data_dir,
 * or the nearest folder above it that exists (the start makes the rest),
 * must be a folder this user may write and enter, and a hub.db in it must
 * be writable. Sets *missing when the start would create data_dir.
 * Returns 0, or -1 with the reason in err. */
int hub_check_data_dir(const char *dir, int *missing, char *err, size_t errlen)
{
    char path[RO_PATH_MAX + 1];
    *missing = 0;
    if (s_data_dir_path(dir, path, err, errlen))
        return -1;
    for (;;) {
        struct stat st;
        if (stat(path, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                snprintf(err, errlen, "cannot create data_dir %s: %s exists and is not a folder",
                         dir, path);
                return -1;
            }
            /* the user who runs --check is the one asked: run it as the hub's */
            if (faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) != 0) {
                if (*missing)
                    snprintf(err, errlen, "cannot create data_dir %s: %s is not writable: %s", dir,
                             path, strerror(errno));
                else
                    snprintf(err, errlen, "data_dir %s is not writable: %s", dir, strerror(errno));
                return -1;
            }
            break;
        }
        /* ENOTDIR: a file stands where a folder should; the loop finds it */
        if (errno != ENOENT && errno != ENOTDIR) {
            snprintf(err, errlen, "cannot create data_dir %s: %s: %s", dir, path, strerror(errno));
            return -1;
        }
        *missing = 1;
        char *slash = strrchr(path, '/');
        if (!slash)
            snprintf(path, sizeof path, ".");
        else if (slash == path)
            path[1] = '\0';
        else
            *slash = '\0';
    }
    if (*missing)
        return 0;
    char db[RO_PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/hub.db", path);
    if (faccessat(AT_FDCWD, db, R_OK | W_OK, AT_EACCESS) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s is not writable: %s", db, strerror(errno));
        return -1;
    }
    return 0;
}

/* Make the data folder and take its lock: one hub per store. */
static int s_data_dir(hub_t *h, char *err, size_t errlen)
{
    const char *dir = h->cfg.data_dir;
    if (s_make_data_dir(dir, err, errlen))
        return -1;
    char path[RO_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/hub.lock", dir);
    h->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (h->lock_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "another rollout-hub is running on %s (%s is locked)", dir, path);
        return -1;
    }
    snprintf(h->endpoints_path, sizeof h->endpoints_path, "%s/endpoints", dir);
    unlink(h->endpoints_path); /* a stale file must not send anyone to old ports */
    return 0;
}

/* With curve off, warn about plain TCP: an error line per socket that
 * listens beyond loopback. The start and --check both call it, so they say
 * the same. Returns the sockets beyond loopback (0 with curve on). */
int hub_warn_plain(const ro_hub_config_t *cfg)
{
    if (cfg->sec.curve)
        return 0;
    const char *plain[3] = {cfg->ingest, cfg->status, cfg->feed};
    static const char *names[3] = {"ingest", "status", "feed"};
    int remote = 0;
    for (int i = 0; i < 3; i++) {
        if (!ro_endpoint_is_local(plain[i])) {
            remote++;
            ro_log(LOG_ERR,
                   "CURVE is OFF and the %s socket (%s) listens beyond loopback: anyone who "
                   "can reach it can read the traffic and speak for any unit; set [security] "
                   "curve = on",
                   names[i], plain[i]);
        }
    }
    if (!remote)
        ro_log(LOG_WARNING, "CURVE is off: plain TCP, for loopback development only");
    return remote;
}

/* Every agent, rolloutctl and feed subscriber holds a connection, and past
 * the open-file limit libzmq's listener retries a failing accept() without
 * pause (100% CPU) while no one new gets in. A shell's soft limit is 1024;
 * raise it to the hard limit (systemd's LimitNOFILE= sets both), and say so
 * when even that leaves little room beyond one connection per unit. */
static void s_raise_fd_limit(size_t units)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            ro_log(LOG_WARNING, "cannot raise the open-file limit from %llu to %llu: %s",
                   (unsigned long long)was, (unsigned long long)rl.rlim_max, strerror(errno));
            rl.rlim_cur = was;
        } else {
            ro_log(LOG_INFO, "open-file limit raised from %llu to %llu", (unsigned long long)was,
                   (unsigned long long)rl.rlim_cur);
        }
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * (rlim_t)units + 1024)
        ro_log(LOG_WARNING,
               "the open-file limit is %llu: %zu units, the operators and the feed's subscribers "
               "need more; raise the hard limit (LimitNOFILE= in the service, ulimit -Hn) to at "
               "least %zu",
               (unsigned long long)rl.rlim_cur, units, 2 * units + 1024);
}

static int s_open_sockets(hub_t *h, char *err, size_t errlen)
{
    const ro_hub_config_t *cfg = &h->cfg;
    static char bound[3][RO_ENDPOINT_MAX];
    const char *eps[3] = {bound[0], bound[1], bound[2]};
    if (ro_sock_seed_routing_ids() != 0)
        ro_log(LOG_WARNING, "no random bytes to seed routing ids: %s", strerror(errno));
    h->ctx = zmq_ctx_new();
    if (h->ctx && zmq_ctx_set(h->ctx, ZMQ_IO_THREADS, 2) != 0) {
        snprintf(err, errlen, "cannot give ZeroMQ two I/O threads: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (!h->ctx) {
        snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    /* a peer that streams a message that never ends is cut by the peers'
     * watchdog; it learns who delivers from ingest and the status gate */
    h->peers = hub_peers_new(NULL, NULL);
    if (!h->peers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    hub_ingest_set_peers(h->ingest, h->peers);
    hub_status_set_gate(h->status, s_status_gate, h);
    if (cfg->sec.curve) {
        /* ZAP first: a CURVE server bound before it admits every key */
        h->auth = hub_auth_new(h->ctx, cfg->allow_list, err, errlen);
        if (!h->auth || hub_auth_selftest(h->auth, h->ctx, ZAP_SELFTEST_MS, err, errlen)) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, "; refusing to start");
            return -1;
        }
        hub_ingest_set_auth(h->ingest, h->auth);
        ro_log(LOG_INFO, "ZAP handler answering at %s (self-test passed)", HUB_AUTH_ZAP_ENDPOINT);
    }
    /* the feed is an XPUB: its subscribers' connections and keys are seen (s_revoke) */
    h->sock[0] = s_bind(h->ctx, ZMQ_ROUTER, "ingest", cfg->ingest, RO_FRAME_MAX, cfg, h->peers,
                        HUB_PEERS_INGEST, bound[0], sizeof bound[0], err, errlen);
    if (h->sock[0])
        h->sock[1] = s_bind(h->ctx, ZMQ_ROUTER, "status", cfg->status, HUB_STATUS_FRAME_MAX, cfg,
                            h->peers, HUB_PEERS_STATUS, bound[1], sizeof bound[1], err, errlen);
    if (h->sock[1])
        h->sock[2] = s_bind(h->ctx, ZMQ_XPUB, "feed", cfg->feed, HUB_STATUS_FRAME_MAX, cfg,
                            h->peers, HUB_PEERS_FEED, bound[2], sizeof bound[2], err, errlen);
    if (!h->sock[2] || hub_peers_start(h->peers, err, errlen))
        return -1;
    hub_warn_plain(cfg);
    if (s_write_endpoints(cfg->data_dir, eps, err, errlen))
        return -1;
    ro_log(LOG_INFO, "listening: ingest %s, status %s, feed %s (curve %s)", eps[0], eps[1], eps[2],
           cfg->sec.curve ? "on" : "off");
    return 0;
}

/* An agent's socket drops acks it has not read yet when the connection
 * closes, and then resends what they covered. At a clean stop, give the
 * agents a moment to read the last acks before closing: status is still
 * answered (by its thread), no new report is taken. */
static void s_ack_grace(hub_t *h)
{
    if (hub_ingest_counters(h->ingest)->batches == 0)
        return;
    struct timespec ts = {ACK_GRACE_MS / 1000, (ACK_GRACE_MS % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The end of the recount started after the checks at start (its thread
 * calls this): the result goes to the log; a damaged file also stops
 * ingest (see s_run), so nothing more is acknowledged into it. */
static void s_verified(const hub_store_verify_result_t *r, void *arg)
{
    const char *path = arg;
    double secs = (double)r->ms / 1000.0;
    if (r->interrupted) {
        ro_log(LOG_INFO, "verify at start: stopped after %.1f s, the hub is stopping", secs);
    } else if (r->damaged) {
        ro_log(LOG_CRIT, "verify at start: %s", r->error);
        atomic_store(&s_store_damaged, 1);
    } else if (r->differences < 0) {
        ro_log(LOG_ERR, "verify at start: %s; try `rolloutctl verify`", r->error);
    } else if (r->differences == 0) {
        ro_log(LOG_INFO,
               "verify at start: the stored aggregates of %llu units equal the recount of %llu "
               "raw reports (%.1f s)",
               (unsigned long long)r->units, (unsigned long long)r->reports, secs);
    } else {
        ro_log(LOG_ERR,
               "verify at start: %ld stored aggregates in %s differ from the recount of %llu raw "
               "reports (%.1f s); the raw reports are the truth: see `rolloutctl verify`",
               r->differences, path, (unsigned long long)r->reports, secs);
        for (long i = 0; i < r->differences && i < HUB_STORE_VERIFY_SHOWN; i++)
            ro_log(LOG_ERR, "verify at start:   %s %s: stored %lld, recount %lld", r->diffs[i].unit,
                   r->diffs[i].field, (long long)r->diffs[i].stored,
                   (long long)r->diffs[i].recount);
    }
}

static void *s_fast_check(void *arg)
{
    s_fast_check_t *c = arg;
    pthread_setname_np(pthread_self(), "hub-check");
    int64_t t0 = ro_time_mono_ms();
    c->n = hub_store_check_fast(c->store, c->diffs, sizeof c->diffs / sizeof c->diffs[0], &c->units,
                                c->err, sizeof c->err);
    c->ms = ro_time_mono_ms() - t0;
    return NULL;
}

/* The checks at start. The fast one's outcome (c): a damaged store is
 * refused, differences are logged. The full recount runs in a thread after
 * start, logged when it ends, so a large store does not delay the hub.
 * Returns 0 or -1. */
static int s_check_store(hub_t *h, const char *dbpath, const s_fast_check_t *c, char *err,
                         size_t errlen)
{
    if (c->n < 0) {
        snprintf(err, errlen, "%s", c->err);
        return -1;
    }
    if (c->n == 0)
        ro_log(LOG_INFO,
               "check at start: last seq of %llu units in step with the raw reports (%lld ms)",
               (unsigned long long)c->units, (long long)c->ms);
    for (long i = 0; i < c->n && i < (long)(sizeof c->diffs / sizeof c->diffs[0]); i++)
        ro_log(LOG_ERR,
               "check at start: unit %s: %s is %lld, but the raw reports say %lld; see `rolloutctl "
               "verify`",
               c->diffs[i].unit, c->diffs[i].field, (long long)c->diffs[i].stored,
               (long long)c->diffs[i].recount);
    char why[1024];
    static char path[RO_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s", dbpath);
    if (strcmp(dbpath, ":memory:") != 0 &&
        !(h->verifier = hub_store_verify_start(path, s_verified, path, why, sizeof why)))
        ro_log(LOG_WARNING, "verify at start: not run: %s", why);
    return 0;
}

/* SIGHUP also reads [hub] max_store_bytes again (nothing else of hub.ini):
 * an operator gives a full store room without a restart, and the held
 * batch is stored at its next retry. */
static void s_reload_store_bound(hub_t *h)
{
    ro_hub_config_t cfg;
    char err[2048];
    if (ro_hub_config_load(h->config_path, &cfg, err, sizeof err)) {
        ro_log(LOG_ERR, "SIGHUP: %s; max_store_bytes stays %lld", err,
               (long long)h->cfg.max_store_bytes);
        return;
    }
    if (cfg.max_store_bytes == h->cfg.max_store_bytes)
        return;
    if (hub_store_set_max_bytes(h->store, cfg.max_store_bytes, err, sizeof err)) {
        ro_log(LOG_ERR, "SIGHUP: %s; max_store_bytes stays %lld", err,
               (long long)h->cfg.max_store_bytes);
        return;
    }
    ro_log(LOG_NOTICE, "SIGHUP: max_store_bytes %lld -> %lld (0: no bound)",
           (long long)h->cfg.max_store_bytes, (long long)cfg.max_store_bytes);
    h->cfg.max_store_bytes = cfg.max_store_bytes;
}

/* SIGHUP's first part, at once: max_store_bytes, then the allow-list and
 * the revocations it makes. The registry and targets follow in s_run,
 * when no status answer is scanning the store. */
static void s_reload_now(hub_t *h)
{
    s_reload_store_bound(h);
    if (h->auth) {
        hub_auth_reload(h->auth);
        s_revoke(h);
    } else {
        ro_log(LOG_NOTICE, "SIGHUP: curve is off, there is no allow-list to reload");
    }
}

/* Once a minute while reports flow: what was stored since *seen. */
static void s_log_stats(hub_t *h, hub_ingest_counters_t *seen)
{
    const hub_ingest_counters_t *c = hub_ingest_counters(h->ingest);
    if (c->batches != seen->batches)
        ro_log(LOG_INFO,
               "last minute: %llu reports stored, %llu duplicates, %llu "
               "conflicts, %llu heartbeats in %llu batches",
               (unsigned long long)(c->reports_stored - seen->reports_stored),
               (unsigned long long)(c->duplicates - seen->duplicates),
               (unsigned long long)(c->conflicts - seen->conflicts),
               (unsigned long long)(c->heartbeats - seen->heartbeats),
               (unsigned long long)(c->batches - seen->batches));
    *seen = *c;
}

/* The main loop's sockets for hub_wait: it uses ingest's and the feed's
 * every turn (a retry, a publication). */
static int s_wait_init(hub_t *h, hub_wait_t *w)
{
    void *socks[WAIT_SOCKETS] = {[W_INGEST] = h->sock[0],
                                 [W_FEED] = h->sock[2],
                                 [W_DECIDE] = h->decide[0],
                                 [W_ZAP] = h->auth ? hub_auth_socket(h->auth) : NULL};
    if (hub_wait_init(w, socks, WAIT_SOCKETS, 1u << W_INGEST | 1u << W_FEED) != 0) {
        ro_log(LOG_ERR, "poll: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* The main loop. It holds committed's lock but while it polls and while
 * ingest works (see the top of this file). */
static void s_run(hub_t *h)
{
    hub_wait_t w;
    if (s_wait_init(h, &w))
        return;
    hub_ingest_counters_t seen = *hub_ingest_counters(h->ingest);
    int64_t next_stats = ro_time_mono_ms() + STATS_EVERY_MS, last_ingest = 0;
    hub_committed_lock(h->committed);
    int reload_registry = 0; /* 1: SIGHUP asked for it; 2: waiting for the store */
    int days_more = 0;       /* the last idle step re-derived some: no wait before the next */
    while (!s_stop) {
        if (s_reload) {
            s_reload = 0;
            reload_registry = 1;
            s_reload_now(h);
        }
        if (reload_registry == 2 && !hub_ingest_held(h->ingest))
            reload_registry = 1; /* the held batch is stored: go ahead */
        /* only when no status answer is scanning through reader; else next turn */
        if (reload_registry == 1 && pthread_mutex_trylock(&h->scan) == 0) {
            reload_registry = s_reload_registry(h) ? 2 : 0;
            pthread_mutex_unlock(&h->scan);
            if (s_stop)
                break; /* the feed could not follow the new registry */
        }
        int64_t mono = ro_time_mono_ms();
        s_revoke_late(h, mono);
        long timeout = 1000;
        if (h->revoke_due_ms && h->revoke_due_ms - mono < timeout)
            timeout = (long)(h->revoke_due_ms - mono);
        long retry = hub_ingest_retry_in(h->ingest, mono);
        if (retry >= 0 && retry < timeout)
            timeout = retry;
        long beat = hub_view_tick(h->view, ro_time_now(), mono); /* feed heartbeat, HTTP */
        if (beat < timeout)
            timeout = beat;
        if (days_more)
            timeout = 0;
        /* while a batch is held, leave new reports queued in ZeroMQ (and the agents) */
        int held = hub_ingest_held(h->ingest) || atomic_load(&s_store_damaged);
        unsigned watch = (1u << WAIT_SOCKETS) - 1 - (held ? 1u << W_INGEST : 0);
        hub_committed_unlock(h->committed);
        if (atomic_load(&s_store_damaged) == 1) { /* ingest publishes it: not under the lock */
            atomic_store(&s_store_damaged, 2);
            hub_ingest_fail_store(h->ingest, "hub.db is damaged (found by the verify at start)");
            ro_log(LOG_CRIT, "ingest stopped: nothing more is stored or acknowledged; agents keep "
                             "their reports. Stop the hub, restore hub.db from a backup or move "
                             "it aside, and start it again");
        }
        int rc = hub_wait(&w, watch, timeout), e = errno;
        hub_committed_lock(h->committed);
        if (rc < 0) {
            if (e == EINTR)
                continue;
            ro_log(LOG_ERR, "poll: %s", zmq_strerror(e));
            break;
        }
        int64_t now = ro_time_now(), woke_us = ro_time_mono_us();
        uint64_t batches = hub_ingest_counters(h->ingest)->batches;
        /* handshakes wait for this loop: answer them first */
        if (rc & 1 << W_ZAP)
            for (int k = 0; k < ZAP_PER_WAKE; k++)
                if (hub_auth_serve(h->auth) <= 0)
                    break;
        /* the XPUB keeps what subscribers send until it is read */
        if (rc & 1 << W_FEED)
            hub_feed_read(h->sock[2], 10000, s_feed_peer, h);
        /* ingest publishes what it commits: hub_committed_publish takes the lock */
        hub_committed_unlock(h->committed);
        if (!held && (rc & 1 << W_INGEST)) {
            hub_ingest_drain(h->ingest, h->sock[0], now);
            last_ingest = ro_time_mono_ms();
            days_more = 0;
        } else if (rc == 0) { /* stale days once ingest is quiet; the status thread reads on */
            days_more = !held && s_days_idle(h, last_ingest);
        }
        mono = ro_time_mono_ms();
        hub_ingest_retry(h->ingest, h->sock[0], now, mono, 0);
        hub_committed_lock(h->committed);
        if (hub_ingest_counters(h->ingest)->batches != batches)
            hub_view_committed(h->view, h->ingest, now, woke_us); /* publish what it changed */
        /* between batches: a reviewer's decision (the held batch refuses it) */
        if (rc & 1 << W_DECIDE)
            s_decide_serve(h, now);

        if (mono >= next_stats) {
            s_log_stats(h, &seen);
            next_stats = mono + STATS_EVERY_MS;
        }
    }
    hub_committed_unlock(h->committed);
    if (hub_ingest_held(h->ingest)) {
        /* one last try, so a store that came back does not cost the agents a resend */
        if (hub_ingest_retry(h->ingest, h->sock[0], ro_time_now(), ro_time_mono_ms(), 1))
            ro_log(LOG_WARNING, "stopping with %zu messages not stored; their agents will resend",
                   hub_ingest_pending(h->ingest));
    }
}

/* The store under data_dir, opened twice (ingest's connection, the status
 * thread's), and the check at start begun on the second. */
static int s_open_store(hub_t *h, char *err, size_t errlen)
{
    char dbpath[RO_PATH_MAX + 16];
    snprintf(dbpath, sizeof dbpath, "%s/hub.db", h->cfg.data_dir);
    h->store = hub_store_open(dbpath, h->cfg.synchronous, h->cfg.max_store_bytes, err, errlen);
    if (!h->store)
        return -1;
    char why[1024];
    h->reader = hub_store_open_again(dbpath, h->cfg.synchronous, why, sizeof why);
    if (!h->reader) {
        snprintf(err, errlen, "%s: cannot open it for the status thread: %s", dbpath, why);
        return -1;
    }
    /* WAL: the check reads a snapshot of its own, before or after the
     * units the load of the states adds (hub_start); without a thread it
     * runs there */
    h->check.store = h->reader;
    h->checking = pthread_create(&h->checker, NULL, s_fast_check, &h->check) == 0;
    return 0;
}

/* The units' states, the check's outcome, the status connection's map. */
static int s_load_store(hub_t *h, char *err, size_t errlen)
{
    size_t n = ro_registry_count(h->m.reg);
    char dbpath[RO_PATH_MAX + 16];
    snprintf(dbpath, sizeof dbpath, "%s/hub.db", h->cfg.data_dir);
    char why[1024];
    h->states = ro_calloc_big(n, sizeof *h->states);
    int loaded =
        h->states && hub_store_load_states(h->store, h->m.reg, h->states, why, sizeof why) == 0;
    if (h->checking)
        pthread_join(h->checker, NULL);
    else if (loaded)
        s_fast_check(&h->check);
    h->checking = 0;
    if (!loaded) {
        snprintf(err, errlen, "%s: cannot load the units' state: %s", dbpath,
                 h->states ? why : "no memory");
        return -1;
    }
    if (hub_store_copy_map(h->reader, h->store, why, sizeof why)) {
        snprintf(err, errlen, "%s: cannot open it for the status thread: %s", dbpath, why);
        return -1;
    }
    if (s_check_store(h, dbpath, &h->check, err, errlen))
        return -1;
    if (hub_store_set_cache(h->store, WRITER_CACHE_KIB))
        ro_log(LOG_WARNING, "%s: cannot enlarge the page cache; ingest will be slower", dbpath);
    return 0;
}

/* Ingest and status over the store and the committed states. */
static int s_open_services(hub_t *h, char *err, size_t errlen)
{
    h->committed = hub_committed_new(h->m.reg, h->m.engine, h->states);
    h->ingest =
        h->committed ? hub_ingest_new(h->store, h->m.reg, h->states, h->cfg.batch_max) : NULL;
    if (h->ingest) {
        hub_ingest_set_committed(h->ingest, h->committed);
        hub_ingest_set_review(h->ingest, h->m.review);
    }
    h->status = h->ingest ? hub_status_new(h->m.reg, hub_committed_states(h->committed), h->reader,
                                           h->committed)
                          : NULL;
    if (h->status && hub_status_set_engine(h->status, h->m.engine, h->m.targets, h->m.targets_text))
        hub_status_destroy(&h->status);
    if (!h->status) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    hub_status_set_silent_after(h->status, h->cfg.silent_after);
    hub_status_set_store_hooks(h->status, s_scan_leave, s_scan_enter, h);
    return 0;
}

hub_t *hub_new(const ro_hub_config_t *cfg, const char *config_path, char *err, size_t errlen)
{
    hub_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->lock_fd = -1;
    h->cfg = *cfg;
    h->config_path = config_path;
    pthread_mutex_init(&h->scan, NULL);
    if (s_data_dir(h, err, errlen) || s_open_store(h, err, errlen)) {
        hub_destroy(&h);
        return NULL;
    }
    return h;
}

int hub_start(hub_t *h, hub_model_t *model, char *err, size_t errlen)
{
    h->m = *model;
    memset(model, 0, sizeof *model);
    size_t n = ro_registry_count(h->m.reg);
    s_raise_fd_limit(n);
    if (s_load_store(h, err, errlen) || s_open_services(h, err, errlen) ||
        s_open_sockets(h, err, errlen) ||
        !(h->view = hub_view_new(&h->cfg, h->sock[2], h->peers, h->status, h->committed, h->auth,
                                 h->m.reg, h->m.engine, h->m.targets, err, errlen)) ||
        s_status_start(h, err, errlen))
        return -1;
    uint64_t reports = 0, reporting = 0;
    for (size_t i = 0; i < n; i++) {
        reports += h->states[i].reports;
        reporting += h->states[i].reports > 0;
    }
    ro_log(LOG_INFO, "rollout-hub %s up: %zu units (%llu reporting, %llu reports) in %s/hub.db",
           RO_VERSION, n, (unsigned long long)reporting, (unsigned long long)reports,
           h->cfg.data_dir);
    return 0;
}

void hub_run(hub_t *h)
{
    s_run(h);
    s_ack_grace(h);
    ro_log(LOG_INFO, "stopped");
}

void hub_destroy(hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_t *h = *self_p;
    s_hub_close(h);
    pthread_mutex_destroy(&h->scan);
    free(h);
    *self_p = NULL;
}
