/* test_peers: the connection table and its watchdog without sockets, through
 * fake system operations: bytes received, addresses and cuts are the test's.
 * A connection that streams past the bound without a complete message is
 * cut and counted under its identity (or "unknown"); marks reset the count;
 * fd reuse is never cut; one identity's connections share the bound; a
 * reload cuts revoked keys and, when asked, connections that showed none;
 * a feed subscriber that sends too much is cut; an identity's status
 * connections past HUB_PEERS_STATUS_PER_ID are cut; the watchdog's period
 * follows the connections it measured. One test over a real ROUTER checks
 * that ZMQ_SRCFD and a cut behave as the table assumes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "peers.h"
#include "ro_log.h"
#include "ro_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define FDS 3072
#define MIB (1u << 20)

/* The fake system: per fd, bytes taken, addresses, and whether it is a socket. */
typedef struct {
    uint64_t bytes[FDS];
    int gone[FDS]; /* 1: no socket on this fd any more */
    int ipc[FDS];  /* 1: a socket without TCP_INFO */
    char peer[FDS][HUB_PEERS_ADDR_MAX];
    int cuts[FDS]; /* cut() calls per fd */
    int trims;     /* trim() calls */
    /* called by consumed(), as the watchdog measures fd (NULL: none) */
    void (*hook)(void *ctx, int fd);
    void *hook_ctx;
} s_sys_t;

static int s_consumed(void *arg, int fd, uint64_t since, uint64_t *bytes)
{
    s_sys_t *s = arg;
    (void)since;
    if (fd >= FDS || s->gone[fd])
        return -1;
    if (s->ipc[fd])
        return 1;
    *bytes = s->bytes[fd];
    if (s->hook)
        s->hook(s->hook_ctx, fd);
    return 0;
}

static int s_where(void *arg, int fd, char *peer, char *local, size_t cap)
{
    s_sys_t *s = arg;
    if (fd >= FDS || s->gone[fd])
        return -1;
    snprintf(peer, cap, "%s", s->peer[fd][0] ? s->peer[fd] : "10.0.0.1:1000");
    snprintf(local, cap, "127.0.0.1:7450");
    return 0;
}

static int s_cut(void *arg, int fd)
{
    s_sys_t *s = arg;
    s->cuts[fd]++;
    return 0;
}

static void s_trim(void *arg)
{
    s_sys_t *s = arg;
    s->trims++;
}

static const hub_peers_ops_t s_ops = {s_consumed, s_where, s_cut, s_trim};

typedef struct {
    s_sys_t sys;
    hub_peers_t *p;
    int64_t now;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    f->p = hub_peers_new(&s_ops, &f->sys);
    f->now = 1000;
    assert_non_null(f->p);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    hub_peers_destroy(&f->p);
    assert_null(f->p);
    free(f);
    return 0;
}

static size_t s_tick(s_fix_t *f)
{
    f->now += HUB_PEERS_PERIOD_MS;
    return hub_peers_tick(f->p, f->now);
}

static void s_accept(s_fix_t *f, hub_peers_socket_t which, int fd, const char *peer)
{
    snprintf(f->sys.peer[fd], sizeof f->sys.peer[fd], "%s", peer);
    f->sys.bytes[fd] = 0;
    f->sys.gone[fd] = 0;
    hub_peers_event(f->p, which, ZMQ_EVENT_ACCEPTED, fd, f->now);
}

/* The count of identity id for why, 0 if it was never cut. */
static uint64_t s_cuts_of(s_fix_t *f, const char *id, hub_peers_cut_t why)
{
    hub_peers_identity_t ids[HUB_PEERS_IDENTITIES + 1];
    size_t n = hub_peers_identities(f->p, ids, HUB_PEERS_IDENTITIES + 1);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i].identity, id))
            return ids[i].cuts[why];
    return 0;
}

static void test_flood_cut_unknown(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_INGEST, 7, "10.0.0.7:5000");
    assert_int_equal(hub_peers_open(f->p, HUB_PEERS_INGEST), 1);
    f->sys.bytes[7] = HUB_PEERS_BOUND; /* at the bound: not over it */
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[7] = HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(f->sys.cuts[7], 1);
    assert_true(f->sys.trims > 0);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_FLOOD), 1);
    assert_int_equal(s_cuts_of(f, "unknown", HUB_PEERS_CUT_FLOOD), 1);
    /* once cut, it is not cut again while libzmq closes it */
    f->sys.bytes[7] += MIB;
    assert_int_equal(s_tick(f), 0);
    assert_int_equal(f->sys.cuts[7], 1);
    hub_peers_event(f->p, HUB_PEERS_INGEST, ZMQ_EVENT_DISCONNECTED, 7, f->now);
    assert_int_equal(hub_peers_open(f->p, HUB_PEERS_INGEST), 0);
    assert_int_equal(hub_peers_accepted(f->p, HUB_PEERS_INGEST), 1);
    /* trims stop a while after the last cut */
    for (int i = 0; i < 20; i++)
        s_tick(f);
    int trims = f->sys.trims;
    s_tick(f);
    assert_int_equal(f->sys.trims, trims);
}

static void test_marks_reset(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_INGEST, 5, "10.0.0.5:5000");
    /* a busy agent: 6 MiB a period, a complete message in each */
    for (int i = 0; i < 20; i++) {
        f->sys.bytes[5] += 6 * MIB;
        hub_peers_mark(f->p, HUB_PEERS_INGEST, 5, "460100-001", "KEY1", 100);
        assert_int_equal(s_tick(f), 0);
    }
    /* then a message that never ends: cut under its identity, with its key */
    f->sys.bytes[5] += 5 * MIB;
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[5] += 4 * MIB;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(f->sys.cuts[5], 1);
    assert_int_equal(s_cuts_of(f, "460100-001", HUB_PEERS_CUT_FLOOD), 1);
    assert_int_equal(s_cuts_of(f, "unknown", HUB_PEERS_CUT_FLOOD), 0);
    hub_peers_identity_t ids[4];
    assert_int_equal(hub_peers_identities(f->p, ids, 4), 1);
    assert_string_equal(ids[0].names[HUB_PEERS_CUT_FLOOD], "peer_cuts_flood:460100-001");
}

static void test_mark_before_accept(void **state)
{
    s_fix_t *f = *state;
    /* the reader got the first message before the monitor's event was read */
    snprintf(f->sys.peer[9], sizeof f->sys.peer[9], "10.0.0.9:5000");
    hub_peers_mark(f->p, HUB_PEERS_STATUS, 9, "operator:ops", "KEYO", 10);
    hub_peers_event(f->p, HUB_PEERS_STATUS, ZMQ_EVENT_ACCEPTED, 9, f->now);
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[9] = HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(s_cuts_of(f, "operator:ops", HUB_PEERS_CUT_FLOOD), 1);
}

static void test_fd_reuse_not_cut(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_INGEST, 11, "10.0.0.11:5000");
    /* its DISCONNECTED was lost; the number went to another connection */
    snprintf(f->sys.peer[11], sizeof f->sys.peer[11], "10.0.0.99:6000");
    f->sys.bytes[11] = HUB_PEERS_BOUND + MIB;
    assert_int_equal(s_tick(f), 0);
    assert_int_equal(f->sys.cuts[11], 0);
    /* closed, and a file took the number: dropped without a cut */
    s_accept(f, HUB_PEERS_FEED, 12, "10.0.0.12:5000");
    f->sys.gone[12] = 1;
    assert_int_equal(s_tick(f), 0);
    f->sys.gone[12] = 0;
    f->sys.bytes[12] = HUB_PEERS_BOUND + MIB;
    assert_int_equal(s_tick(f), 0);
    assert_int_equal(f->sys.cuts[12], 0);
    /* a late message of an older connection named the slot: the
     * connection's own message names it again, and counts */
    s_accept(f, HUB_PEERS_INGEST, 13, "10.0.0.13:5000");
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 13, "460100-001", "K1", 10);
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[13] = HUB_PEERS_BOUND - 1;
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 13, "460100-002", "K2", 10);
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[13] += HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(s_cuts_of(f, "460100-002", HUB_PEERS_CUT_FLOOD), 1);
    /* an event of another socket does not end this one's slot */
    s_accept(f, HUB_PEERS_INGEST, 14, "10.0.0.14:5000");
    hub_peers_event(f->p, HUB_PEERS_FEED, ZMQ_EVENT_DISCONNECTED, 14, f->now);
    f->sys.bytes[14] = HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(f->sys.cuts[14], 1);
}

/* What the hook of test_measured_without_the_lock does. */
typedef struct {
    s_fix_t *f;
    int marked; /* the other thread's mark returned while fd 9 was measured */
} s_unlocked_t;

static void *s_mark_thread(void *arg)
{
    s_fix_t *f = arg;
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 5, "460100-005", "K5", 100);
    return NULL;
}

static void s_while_measured(void *ctx, int fd)
{
    s_unlocked_t *u = ctx;
    if (fd != 9)
        return;
    u->f->sys.hook = NULL;
    /* a reader's mark, from its own thread, gets through */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_mark_thread, u->f), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    if (pthread_timedjoin_np(t, NULL, &until) != 0) {
        pthread_detach(t);
        return; /* the mark waits for the pass: the events below would too */
    }
    u->marked = 1;
    /* fd 7, measured flooding just before, closes; a new connection takes
     * its number */
    hub_peers_event(u->f->p, HUB_PEERS_INGEST, ZMQ_EVENT_DISCONNECTED, 7, u->f->now);
    s_accept(u->f, HUB_PEERS_INGEST, 7, "10.0.0.77:5000");
}

/* The watchdog measures with the table let go: a reader's mark meanwhile
 * does not wait for the pass, and a connection that took a number after
 * the pass began is not judged by the measure of the one before it. */
static void test_measured_without_the_lock(void **state)
{
    s_fix_t *f = *state;
    s_unlocked_t u = {f, 0};
    for (int fd = 5; fd <= 9; fd += 2)
        s_accept(f, HUB_PEERS_INGEST, fd, "10.0.0.5:5000");
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[7] = HUB_PEERS_BOUND + MIB; /* the old connection's last measure */
    f->sys.hook = s_while_measured;
    f->sys.hook_ctx = &u;
    assert_int_equal(s_tick(f), 0);
    assert_true(u.marked);
    assert_int_equal(f->sys.cuts[7], 0);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_FLOOD), 0);
    /* the new connection is measured from the next pass on, and cut on its own bytes */
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[7] += HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(f->sys.cuts[7], 1);
}

static void test_cut_then_back(void **state)
{
    s_fix_t *f = *state;
    /* a flooder cut, whose new connection gets the same fd and delivers its
     * first message before the monitor's events of both are read */
    s_accept(f, HUB_PEERS_INGEST, 15, "10.0.0.15:5000");
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 15, "460100-001", "K1", 10);
    s_tick(f);
    f->sys.bytes[15] = HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    snprintf(f->sys.peer[15], sizeof f->sys.peer[15], "10.0.0.15:5001");
    f->sys.bytes[15] = 0;
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 15, "460100-001", "K1", 10);
    hub_peers_event(f->p, HUB_PEERS_INGEST, ZMQ_EVENT_DISCONNECTED, 15, f->now);
    hub_peers_event(f->p, HUB_PEERS_INGEST, ZMQ_EVENT_ACCEPTED, 15, f->now);
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[15] = HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(f->sys.cuts[15], 2);
    assert_int_equal(s_cuts_of(f, "460100-001", HUB_PEERS_CUT_FLOOD), 2);
    assert_int_equal(s_cuts_of(f, "unknown", HUB_PEERS_CUT_FLOOD), 0);
    /* a late message of a cut connection (same addresses) changes nothing */
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 15, "460100-001", "K1", 10);
    f->sys.bytes[15] += MIB;
    assert_int_equal(s_tick(f), 0);
    assert_int_equal(f->sys.cuts[15], 2);
}

static void test_ipc_unmeasured(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_STATUS, 3, "ipc");
    f->sys.ipc[3] = 1;
    assert_int_equal(s_tick(f), 0);
    f->sys.ipc[3] = 0;
    f->sys.bytes[3] = HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 0);
    assert_int_equal(f->sys.cuts[3], 0);
}

static void test_identity_shares_bound(void **state)
{
    s_fix_t *f = *state;
    /* one key, three connections, each under the bound, together over it */
    for (int fd = 20; fd < 23; fd++) {
        char peer[32];
        snprintf(peer, sizeof peer, "10.0.0.1:%d", 5000 + fd);
        s_accept(f, HUB_PEERS_INGEST, fd, peer);
        hub_peers_mark(f->p, HUB_PEERS_INGEST, fd, "460100-003", "K3", 10);
    }
    /* another unit, alone under the bound, is left alone */
    s_accept(f, HUB_PEERS_INGEST, 23, "10.0.0.2:5023");
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 23, "460100-004", "K4", 10);
    assert_int_equal(s_tick(f), 0);
    f->sys.bytes[20] += 3 * MIB;
    f->sys.bytes[21] += 4 * MIB;
    f->sys.bytes[22] += 2 * MIB;
    f->sys.bytes[23] += 7 * MIB;
    /* 9 MiB for 460100-003: the largest (4 MiB) goes, 5 MiB stay */
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(f->sys.cuts[21], 1);
    assert_int_equal(f->sys.cuts[20] + f->sys.cuts[22] + f->sys.cuts[23], 0);
    assert_int_equal(s_cuts_of(f, "460100-003", HUB_PEERS_CUT_FLOOD), 1);
    /* connections that showed no key share "unknown" */
    for (int fd = 30; fd < 33; fd++) {
        char peer[32];
        snprintf(peer, sizeof peer, "10.0.0.3:%d", 5000 + fd);
        s_accept(f, HUB_PEERS_STATUS, fd, peer);
        f->sys.bytes[fd] = 3 * MIB;
    }
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(s_cuts_of(f, "unknown", HUB_PEERS_CUT_FLOOD), 1);
}

static void test_idle_recycled(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_FEED, 40, "10.0.0.40:5000");
    hub_peers_mark(f->p, HUB_PEERS_FEED, 40, "operator:ops", "KO", 1);
    assert_int_equal(s_tick(f), 0);
    /* heartbeats for about a week: slow, so "idle", not "flood" */
    f->now += 7LL * 24 * 3600 * 1000;
    f->sys.bytes[40] += HUB_PEERS_BOUND + 1;
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_IDLE), 1);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_FLOOD), 0);
}

static void test_feed_input(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_FEED, 41, "10.0.0.41:5000");
    for (int i = 0; i < 16; i++)
        hub_peers_mark(f->p, HUB_PEERS_FEED, 41, "operator:ops", "KO", 4096);
    assert_int_equal(s_tick(f), 0);
    hub_peers_mark(f->p, HUB_PEERS_FEED, 41, "operator:ops", "KO", 1);
    assert_int_equal(s_tick(f), 1);
    assert_int_equal(s_cuts_of(f, "operator:ops", HUB_PEERS_CUT_INPUT), 1);
    /* the same on ingest is no subscription: not counted */
    s_accept(f, HUB_PEERS_INGEST, 42, "10.0.0.42:5000");
    for (int i = 0; i < 100; i++)
        hub_peers_mark(f->p, HUB_PEERS_INGEST, 42, "460100-001", "K1", 4096);
    assert_int_equal(s_tick(f), 0);
}

/* Status connections past HUB_PEERS_STATUS_PER_ID per identity are cut
 * (the highest fds); another identity, connections that showed no key and
 * other sockets are not counted against it. */
static void test_status_crowd(void **state)
{
    s_fix_t *f = *state;
    int extra = 4, alice = HUB_PEERS_STATUS_PER_ID + extra;
    for (int fd = 1; fd <= alice; fd++) {
        s_accept(f, HUB_PEERS_STATUS, fd, "10.0.0.9:5000");
        hub_peers_mark(f->p, HUB_PEERS_STATUS, fd, "operator:alice", "KA", 40);
    }
    for (int fd = alice + 1; fd <= alice + 3; fd++) {
        s_accept(f, HUB_PEERS_STATUS, fd, "10.0.0.8:5000");
        hub_peers_mark(f->p, HUB_PEERS_STATUS, fd, "operator:bob", "KB", 40);
    }
    for (int fd = alice + 4; fd <= alice + 5; fd++)
        s_accept(f, HUB_PEERS_STATUS, fd, "10.0.0.7:5000"); /* no request yet */
    for (int fd = alice + 6; fd < FDS; fd++) {
        s_accept(f, HUB_PEERS_INGEST, fd, "10.0.0.6:5000");
        hub_peers_mark(f->p, HUB_PEERS_INGEST, fd, "460100-001", "KU", 100);
    }
    assert_int_equal(s_tick(f), (size_t)extra);
    for (int fd = 1; fd < FDS; fd++)
        assert_int_equal(f->sys.cuts[fd], fd > HUB_PEERS_STATUS_PER_ID && fd <= alice);
    assert_int_equal(s_cuts_of(f, "operator:alice", HUB_PEERS_CUT_CROWD), extra);
    assert_int_equal(s_cuts_of(f, "operator:bob", HUB_PEERS_CUT_CROWD), 0);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_CROWD), extra);
    /* cut once: the next pass leaves them (their DISCONNECTED is awaited) */
    assert_int_equal(s_tick(f), 0);
}

/* The period follows what the last full pass measured: the least for a
 * few connections (a flood is seen soon), HUB_PEERS_PERIOD_US each past
 * that, the most from 2,000 on; and back when they are gone. */
static void test_period(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(hub_peers_period_ms(f->p), HUB_PEERS_PERIOD_MIN_MS);
    for (int fd = 0; fd < 1000; fd++)
        s_accept(f, HUB_PEERS_INGEST, fd, "10.0.0.6:5000");
    s_tick(f);
    assert_int_equal(hub_peers_period_ms(f->p), 1000 * HUB_PEERS_PERIOD_US / 1000);
    for (int fd = 1000; fd < FDS; fd++)
        s_accept(f, HUB_PEERS_INGEST, fd, "10.0.0.6:5000");
    s_tick(f);
    assert_int_equal(hub_peers_period_ms(f->p), HUB_PEERS_PERIOD_MS);
    for (int fd = 0; fd < FDS; fd++)
        hub_peers_event(f->p, HUB_PEERS_INGEST, ZMQ_EVENT_DISCONNECTED, fd, f->now);
    s_tick(f);
    assert_int_equal(hub_peers_period_ms(f->p), HUB_PEERS_PERIOD_MIN_MS);
}

static int s_admit_calls;

static int s_admits(void *arg, hub_peers_socket_t which, const char *user_id, const char *key)
{
    (void)arg;
    (void)which;
    s_admit_calls++;
    return strcmp(user_id, "operator:gone") != 0 && key && strcmp(key, "OLDKEY") != 0;
}

static void test_revoke(void **state)
{
    s_fix_t *f = *state;
    s_accept(f, HUB_PEERS_FEED, 50, "10.0.0.50:5000");
    hub_peers_mark(f->p, HUB_PEERS_FEED, 50, "operator:gone", "KG", 1);
    s_accept(f, HUB_PEERS_FEED, 51, "10.0.0.51:5000");
    hub_peers_mark(f->p, HUB_PEERS_FEED, 51, "operator:stays", "KS", 1);
    s_accept(f, HUB_PEERS_INGEST, 52, "10.0.0.52:5000");
    hub_peers_mark(f->p, HUB_PEERS_INGEST, 52, "460100-001", "OLDKEY", 1);
    s_accept(f, HUB_PEERS_STATUS, 53, "10.0.0.53:5000"); /* has shown no key yet */
    s_admit_calls = 0;
    unsigned all = (1u << HUB_PEERS_SOCKETS) - 1;
    /* the feed alone first */
    assert_int_equal(hub_peers_revoke(f->p, 1u << HUB_PEERS_FEED, s_admits, NULL, 0), 1);
    assert_int_equal(f->sys.cuts[50], 1);
    assert_int_equal(f->sys.cuts[52], 0);
    s_admit_calls = 0;
    assert_int_equal(hub_peers_revoke(f->p, all, s_admits, NULL, 0), 1);
    assert_int_equal(s_admit_calls, 2);
    assert_int_equal(f->sys.cuts[50], 1);
    assert_int_equal(f->sys.cuts[51], 0);
    assert_int_equal(f->sys.cuts[52], 1);
    assert_int_equal(f->sys.cuts[53], 0);
    assert_int_equal(s_cuts_of(f, "operator:gone", HUB_PEERS_CUT_REVOKED), 1);
    assert_int_equal(s_cuts_of(f, "460100-001", HUB_PEERS_CUT_REVOKED), 1);
    /* with cut_unknown, the one that showed no key goes too; the cut ones are not asked again */
    s_admit_calls = 0;
    assert_int_equal(hub_peers_revoke(f->p, all, s_admits, NULL, 1), 1);
    assert_int_equal(s_admit_calls, 1);
    assert_int_equal(f->sys.cuts[53], 1);
    assert_int_equal(s_cuts_of(f, "unknown", HUB_PEERS_CUT_REVOKED), 1);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_REVOKED), 3);
}

static void test_identities_bounded(void **state)
{
    s_fix_t *f = *state;
    for (int i = 0; i < HUB_PEERS_IDENTITIES + 5; i++) {
        int fd = 60; /* one fd, reused by one connection after another */
        char peer[32], user[32];
        snprintf(peer, sizeof peer, "10.0.1.%d:5000", i);
        snprintf(user, sizeof user, "460100-%03d", i);
        s_accept(f, HUB_PEERS_INGEST, fd, peer);
        hub_peers_mark(f->p, HUB_PEERS_INGEST, fd, user, "K", 1);
        s_tick(f);
        f->sys.bytes[fd] = HUB_PEERS_BOUND + 1;
        assert_int_equal(s_tick(f), 1);
        hub_peers_event(f->p, HUB_PEERS_INGEST, ZMQ_EVENT_DISCONNECTED, fd, f->now);
    }
    hub_peers_identity_t ids[HUB_PEERS_IDENTITIES + 1];
    assert_int_equal(hub_peers_identities(f->p, ids, HUB_PEERS_IDENTITIES + 1),
                     HUB_PEERS_IDENTITIES + 1);
    assert_string_equal(ids[HUB_PEERS_IDENTITIES].identity, "other");
    assert_int_equal(ids[HUB_PEERS_IDENTITIES].cuts[HUB_PEERS_CUT_FLOOD], 5);
    assert_int_equal(hub_peers_cuts(f->p, HUB_PEERS_CUT_FLOOD), HUB_PEERS_IDENTITIES + 5);
}

/* The assumptions on libzmq 4.3: a ROUTER's body frames carry their
 * connection's fd, the monitor gives it at ACCEPTED, and a cut (the
 * system's operations) ends that connection only. */
static void test_real_router(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    hub_peers_t *p = hub_peers_new(NULL, NULL);
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(hub_peers_monitor(p, ctx, HUB_PEERS_INGEST, router), 0);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t len = sizeof ep;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
    void *a = zmq_socket(ctx, ZMQ_DEALER), *b = zmq_socket(ctx, ZMQ_DEALER);
    int never = -1; /* a cut a must stay cut for the count below */
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(a, ZMQ_RECONNECT_IVL, &never, sizeof never);
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(a, ep), 0);
    assert_int_equal(zmq_connect(b, ep), 0);
    zmq_send(a, "a", 1, 0);
    zmq_send(b, "b", 1, 0);
    int fds[2] = {-1, -1};
    for (int got = 0; got < 2;) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&rid, router, 0) >= 0);
        assert_true(zmq_msg_recv(&body, router, 0) >= 0);
        int fd = zmq_msg_get(&body, ZMQ_SRCFD);
        assert_true(fd >= 0);
        fds[*(char *)zmq_msg_data(&body) == 'b'] = fd;
        hub_peers_mark(p, HUB_PEERS_INGEST, fd, "", NULL, 1);
        got++;
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
    hub_peers_tick(p, ro_time_mono_ms());
    assert_int_equal(hub_peers_open(p, HUB_PEERS_INGEST), 2);
    /* cut a's connection the way the watchdog does */
    assert_int_equal(hub_peers_system_ops()->cut(NULL, fds[0]), 0);
    int64_t until = ro_time_mono_ms() + 5000;
    while (hub_peers_open(p, HUB_PEERS_INGEST) != 1 && ro_time_mono_ms() < until) {
        zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 20); /* the socket processes the pipe's end */
        hub_peers_tick(p, ro_time_mono_ms());
    }
    assert_int_equal(hub_peers_open(p, HUB_PEERS_INGEST), 1);
    /* b still speaks */
    zmq_send(b, "b2", 2, 0);
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&rid, router, 0) >= 0);
    assert_true(zmq_msg_recv(&body, router, 0) >= 0);
    assert_int_equal(zmq_msg_get(&body, ZMQ_SRCFD), fds[1]);
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
    uint64_t bytes = 0;
    assert_int_equal(hub_peers_system_ops()->consumed(NULL, fds[1], 0, &bytes), 0);
    assert_true(bytes > 0);
    hub_peers_destroy(&p);
    zmq_close(a);
    zmq_close(b);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

int main(void)
{
    ro_log_init("test_peers", LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flood_cut_unknown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_marks_reset, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mark_before_accept, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_measured_without_the_lock, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fd_reuse_not_cut, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cut_then_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ipc_unmeasured, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_identity_shares_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idle_recycled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_feed_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_status_crowd, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_period, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_revoke, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_identities_bounded, s_setup, s_teardown),
        cmocka_unit_test(test_real_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
