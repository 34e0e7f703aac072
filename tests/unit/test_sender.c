/* test_sender: the agent's sender against a fake hub, a ROUTER on ipc://
 * in this process that answers as docs/REVISION-2.md's revision-2 hub does
 * (or refuses version 2 as a revision-1 hub): version negotiation and the
 * fall back, a non-legacy outbox that never speaks version 1, a new identity
 * on REASON_IDENTITY and on an Ack whose hash is not ours, the refill of
 * a hub whose store is behind, of the current incarnation and of earlier
 * ones (each under its own identity). The sender runs in a thread of its
 * own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "outbox.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_time.h"
#include "sender.h"
#include "test_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define UNIT "460000-001"
#define MAX_INC 4
#define MAX_SEQ 64

/* One incarnation as the fake hub holds it: the hash stored at each seq. */
typedef struct {
    uint8_t id[RO_INCARNATION_LEN];
    uint64_t last;
    uint64_t hash[MAX_SEQ + 1];
    int contested;  /* an identity refusal was sent: nothing new is taken */
    int heartbeats; /* heartbeats of it received */
    int clockless;  /* of which without the agent's clock (an earlier incarnation's) */
} fake_inc_t;

typedef struct {
    int speaks;                 /* 1: a revision-1 hub; 2: revision 2 */
    fake_inc_t inc[MAX_INC];    /* [0] is the legacy one */
    int ninc;                   /* in use */
    int reports_v1, reports_v2; /* report frames received, by version */
    int heartbeats;             /* heartbeat frames received */
    int first_was_heartbeat;    /* the first frame of the run was a heartbeat */
    int frames;                 /* every frame received */
    uint8_t store_id[RO_INCARNATION_LEN];
} fake_hub_t;

typedef struct {
    char dir[256];
    char path[300];
    char ep[200];
    char err[600];
    fake_hub_t hub;
} fixture_t;

static int s_setup(void **state)
{
    static int counter;
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%.100s/s%d", tu_dir(), ++counter);
    if (mkdir(f->dir, 0700) != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/outbox.db", f->dir);
    snprintf(f->ep, sizeof f->ep, "ipc://%.180s/h", f->dir);
    f->hub.speaks = 2;
    f->hub.ninc = 1; /* the legacy incarnation, all zero */
    memset(f->hub.store_id, 0x5e, sizeof f->hub.store_id);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    free(*state);
    return 0;
}

static fake_inc_t *s_inc(fake_hub_t *h, const uint8_t *id)
{
    for (int i = 0; i < h->ninc; i++)
        if (!memcmp(h->inc[i].id, id, RO_INCARNATION_LEN))
            return &h->inc[i];
    assert_true(h->ninc < MAX_INC);
    fake_inc_t *in = &h->inc[h->ninc++];
    memset(in, 0, sizeof *in);
    memcpy(in->id, id, RO_INCARNATION_LEN);
    return in;
}

static void s_reply(void *sock, zmq_msg_t *id, const ro_hubmsg_t *m)
{
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_hubmsg_encode(m, buf, sizeof buf);
    assert_true(n > 0);
    zmq_send(sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
    zmq_send(sock, buf, (size_t)n, 0);
}

/* The answer of a revision-2 hub to a version-2 report or heartbeat. */
static void s_answer_v2(fake_hub_t *h, const ro_report_t *r, ro_hubmsg_t *m)
{
    fake_inc_t *in = s_inc(h, r->incarnation);
    memcpy(m->incarnation, r->incarnation, RO_INCARNATION_LEN);
    if (r->kind == RO_KIND_HEARTBEAT) {
        in->heartbeats++;
        in->clockless += r->agent_time == 0;
    } else {
        uint64_t hash = ro_report_hash(r);
        assert_true(r->seq <= MAX_SEQ);
        if (r->seq == in->last + 1 && !in->contested) {
            in->hash[++in->last] = hash;
        } else if (r->seq <= in->last && in->hash[r->seq] == hash) {
            m->seen = r->seq;
        } else if (r->seq <= in->last || in->contested) {
            in->contested = 1; /* as the hub does: both outboxes must move on */
            m->kind = RO_HUBMSG_REFUSAL, m->seq = r->seq, m->reason = RO_REASON_IDENTITY;
            snprintf(m->text, sizeof m->text, "other content under this identity");
            return;
        }
    }
    m->kind = RO_HUBMSG_ACK;
    m->seq = in->last;
    m->upto_hash = in->last ? in->hash[in->last] : 0;
    m->hub_version = 2;
    memcpy(m->store_id, h->store_id, RO_INCARNATION_LEN);
}

/* Read and answer what waits on the ROUTER, for up to ms. */
static void s_hub_serve(fake_hub_t *h, void *sock, int ms)
{
    int64_t until = ro_time_mono_ms() + ms;
    for (;;) {
        int64_t left = until - ro_time_mono_ms();
        if (left <= 0)
            return;
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&id, sock, 0) >= 0);
        assert_true(zmq_msg_recv(&body, sock, 0) >= 0);
        ro_report_t r;
        ro_reason_t rc = ro_report_decode(zmq_msg_data(&body), zmq_msg_size(&body), &r, NULL, 0);
        assert_true(rc == RO_REASON_NONE || (rc == RO_REASON_VERSION && r.version == 2));
        if (h->frames++ == 0)
            h->first_was_heartbeat = r.kind == RO_KIND_HEARTBEAT;
        if (r.kind == RO_KIND_HEARTBEAT)
            h->heartbeats++;
        else if (r.version == 2)
            h->reports_v2++;
        else
            h->reports_v1++;
        ro_hubmsg_t m;
        memset(&m, 0, sizeof m);
        snprintf(m.unit, sizeof m.unit, "%s", UNIT);
        if (r.version == 2 && h->speaks == 2) {
            s_answer_v2(h, &r, &m);
        } else if (r.version == 2) {
            m.kind = RO_HUBMSG_REFUSAL, m.seq = r.seq, m.reason = RO_REASON_VERSION;
            snprintf(m.text, sizeof m.text, "protocol version 2, this hub speaks 1");
        } else { /* version 1: the legacy sequence, answered in version 1 */
            fake_inc_t *in = &h->inc[0];
            if (r.kind != RO_KIND_HEARTBEAT && r.seq == in->last + 1)
                in->hash[++in->last] = ro_report_hash(&r);
            m.kind = RO_HUBMSG_ACK, m.seq = in->last;
        }
        s_reply(sock, &id, &m);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

typedef struct {
    agent_sender_t *sender;
    int stop_fd;
    int rc;
} s_run_t;

static void *s_thread(void *arg)
{
    s_run_t *run = arg;
    run->rc = agent_sender_run(run->sender, run->stop_fd);
    return NULL;
}

/* Run a sender over the outbox at f->path against the fake hub for ms,
 * then stop it. */
static void s_run(fixture_t *f, int ms)
{
    ro_agent_config_t cfg;
    ro_agent_config_defaults(&cfg);
    snprintf(cfg.unit, sizeof cfg.unit, "%s", UNIT);
    snprintf(cfg.hub, sizeof cfg.hub, "%s", f->ep);
    snprintf(cfg.outbox, sizeof cfg.outbox, "%s", f->path);
    cfg.sec.curve = 0;
    cfg.poll_ms = 50;
    cfg.resend_ms = 500;
    cfg.heartbeat_s = 1;
    cfg.window = 100;
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(router, f->ep), 0);
    agent_outbox_t *ob =
        agent_outbox_open(f->path, UNIT, AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    assert_non_null(ob);
    agent_sender_t *sender = agent_sender_new(&cfg, ob, f->err, sizeof f->err);
    assert_non_null(sender);
    int fds[2];
    assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    s_run_t run = {sender, fds[0], -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_thread, &run), 0);
    s_hub_serve(&f->hub, router, ms);
    assert_int_equal(write(fds[1], "x", 1), 1);
    s_hub_serve(&f->hub, router, 300); /* answers for the stop's grace */
    pthread_join(t, NULL);
    assert_int_equal(run.rc, 0);
    close(fds[0]);
    close(fds[1]);
    agent_sender_destroy(&sender);
    agent_outbox_destroy(&ob);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

static agent_outbox_t *s_open(fixture_t *f)
{
    agent_outbox_t *ob =
        agent_outbox_open(f->path, UNIT, AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    assert_non_null(ob);
    return ob;
}

/* n staff snapshots, proficient from `from` on. */
static void s_record(fixture_t *f, agent_outbox_t *ob, int n, uint32_t from, ro_report_t *out)
{
    for (int i = 0; i < n; i++) {
        ro_report_t r;
        memset(&r, 0, sizeof r);
        r.kind = RO_KIND_STAFF, r.date = 20180105, r.total = 100, r.part = from + (uint32_t)i;
        assert_true(agent_outbox_append(ob, &r, ro_time_now(), f->err, sizeof f->err) > 0);
        if (out)
            out[i] = r;
    }
}

static void s_stats(fixture_t *f, agent_outbox_stats_t *st)
{
    agent_outbox_t *ob = s_open(f);
    assert_int_equal(agent_outbox_stats(ob, st), 0);
    agent_outbox_destroy(&ob);
}

/* The outbox as the schema-1 migration leaves it: the legacy incarnation. */
static void s_make_legacy(fixture_t *f)
{
    agent_outbox_t *ob = s_open(f);
    agent_outbox_destroy(&ob);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE meta SET incarnation = zeroblob(16)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

/* ---- tests --------------------------------------------------------------- */

static void test_v2_hub_gets_the_incarnation(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 5, 1, NULL);
    agent_outbox_destroy(&ob);
    s_run(f, 1500);
    agent_outbox_stats_t st;
    s_stats(f, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.last_ack, 5);
    assert_true(f->hub.first_was_heartbeat); /* nothing before the version is known */
    assert_int_equal(f->hub.reports_v1, 0);
    fake_inc_t *in = s_inc(&f->hub, st.incarnation);
    assert_int_equal(in->last, 5);
    assert_int_equal(f->hub.inc[0].last, 0);
    assert_true(f->hub.ninc == 2);
}

static void test_v1_hub_legacy_outbox_falls_back(void **state)
{
    fixture_t *f = *state;
    s_make_legacy(f);
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 5, 1, NULL);
    agent_outbox_destroy(&ob);
    f->hub.speaks = 1;
    s_run(f, 1500);
    agent_outbox_stats_t st;
    s_stats(f, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.last_ack, 5);
    assert_int_equal(f->hub.inc[0].last, 5);
    assert_int_equal(f->hub.reports_v2, 0);
    assert_true(f->hub.reports_v1 >= 5);
}

static void test_v1_hub_own_outbox_waits(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 5, 1, NULL);
    agent_outbox_destroy(&ob);
    f->hub.speaks = 1;
    s_run(f, 1500);
    agent_outbox_stats_t st;
    s_stats(f, &st);
    assert_int_equal(st.depth, 5);
    assert_int_equal(st.last_ack, 0);
    assert_int_equal(f->hub.reports_v1 + f->hub.reports_v2, 0);
    assert_true(f->hub.heartbeats >= 2); /* asked, refused, then version 1 */
    assert_int_equal(f->hub.inc[0].last, 0);
}

/* Another holder ran ahead under our identity: the hub answers our
 * waiting events with REASON_IDENTITY, and they go under a new one. */
static void test_identity_refusal_switches(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 3, 1, NULL);
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    agent_outbox_destroy(&ob);
    fake_inc_t *other = s_inc(&f->hub, st0.incarnation);
    other->last = 6;
    for (int i = 1; i <= 6; i++)
        other->hash[i] = 1000 + (uint64_t)i; /* other content */
    s_run(f, 2000);
    s_stats(f, &st);
    assert_memory_not_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(st.base, 3);
    assert_int_equal(st.next_seq, 7);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.last_ack, 6);
    assert_int_equal(s_inc(&f->hub, st.incarnation)->last, 3); /* wire seqs 1..3 */
    assert_int_equal(s_inc(&f->hub, st0.incarnation)->last, 6);
}

/* The hub's Ack names content at upto that is not ours: a new identity. */
static void test_hash_mismatch_switches(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 5, 1, NULL);
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    agent_outbox_destroy(&ob);
    fake_inc_t *other = s_inc(&f->hub, st0.incarnation);
    other->last = 2;
    other->hash[1] = 77, other->hash[2] = 78;
    s_run(f, 2000);
    s_stats(f, &st);
    assert_memory_not_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(st.base, 5);
    assert_int_equal(st.depth, 0);
    assert_int_equal(s_inc(&f->hub, st.incarnation)->last, 5);
    assert_int_equal(s_inc(&f->hub, st0.incarnation)->last, 2);
}

/* A restored copy of this outbox: the hub already holds its first two
 * events (the same reports) and, at seq 3, another outbox's. The resends
 * of 1 and 2 are seen, 3 is refused identity, and so are 4 and 5 (the hub
 * takes nothing more under a contested identity). The identity refusal
 * arrives before the acks of 1 and 2 are applied (refusals first): 1 and 2
 * must be acknowledged under the old identity, not renumbered and counted
 * again; only 3 to 5 move to the new one. */
static void test_identity_keeps_what_came_before(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 5, 1, NULL);
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    fake_inc_t *old = s_inc(&f->hub, st0.incarnation);
    for (uint64_t i = 1; i <= 2; i++) {
        agent_event_state_t es;
        assert_int_equal(agent_outbox_find(ob, i, &es), 1);
        old->hash[i] = es.hash;
    }
    agent_outbox_destroy(&ob);
    old->hash[3] = 77, old->last = 3;
    s_run(f, 2000);
    s_stats(f, &st);
    assert_memory_not_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(st.depth, 0);
    assert_int_equal(s_inc(&f->hub, st.incarnation)->last, 3); /* 3, 4 and 5, once */
    assert_int_equal(s_inc(&f->hub, st0.incarnation)->last, 3);
}

/* The hub acknowledges less than before (a restored store): the kept events
 * above its upto are sent again and kept again. */
static void test_store_behind_refilled(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 5, 1, NULL);
    assert_int_equal(agent_outbox_ack(ob, 5, ro_time_now()), 0); /* delivered before */
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    agent_outbox_destroy(&ob);
    fake_inc_t *in = s_inc(&f->hub, st0.incarnation);
    in->last = 2; /* restored from a backup of then: it holds our first two */
    ob = s_open(f);
    for (int i = 1; i <= 2; i++) {
        agent_event_state_t es;
        assert_int_equal(agent_outbox_find(ob, (uint64_t)i, &es), 1);
        in->hash[i] = es.hash;
    }
    agent_outbox_destroy(&ob);
    s_run(f, 1500);
    s_stats(f, &st);
    assert_memory_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(in->last, 5);
    assert_int_equal(st.last_ack, 5);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.retained, 5);
    assert_int_equal(f->hub.reports_v2, 3);
}

/* Another holder ran ahead and nothing waits here: a new identity at once,
 * so that the next record cannot collide. */
static void test_ran_ahead_nothing_waiting_switches(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 2, 1, NULL);
    assert_int_equal(agent_outbox_ack(ob, 2, ro_time_now()), 0);
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    agent_outbox_destroy(&ob);
    fake_inc_t *in = s_inc(&f->hub, st0.incarnation);
    in->last = 4;
    for (int i = 1; i <= 4; i++)
        in->hash[i] = 500 + (uint64_t)i;
    s_run(f, 1000);
    s_stats(f, &st);
    assert_memory_not_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(st.base, 2);
    assert_int_equal(st.retained, 2); /* kept under the old identity */
    assert_int_equal(f->hub.reports_v1 + f->hub.reports_v2, 0);
}

/* The hash of local seq `seq` of earlier incarnation e, as the outbox has it. */
static uint64_t s_earlier_hash(agent_outbox_t *ob, const agent_earlier_t *e, uint64_t seq)
{
    agent_event_state_t es;
    assert_int_equal(agent_outbox_find_earlier(ob, e, seq, &es), 1);
    return es.hash;
}

/* Two switches leave two earlier incarnations, X (base 0: seqs 1, 2) and Y
 * (base 2: seqs 3..5, wire 1..3), all acknowledged, and a current one Z
 * (seq 6, waiting). The hub's store was restored: it holds X whole but Y
 * only up to wire 1. The agent heartbeats each earlier incarnation (without
 * its clock: no agent records in them) and refills Y under Y's own identity
 * and wire seqs; Y's acks acknowledge Y's events again and nothing else's;
 * X is left as it is, and Z's event goes out under Z. */
static void test_earlier_refilled_under_its_identity(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 2, 1, NULL);
    assert_int_equal(agent_outbox_ack(ob, 2, ro_time_now()), 0);
    assert_int_equal(agent_outbox_switch(ob, NULL), 0);
    s_record(f, ob, 3, 10, NULL);
    assert_int_equal(agent_outbox_ack(ob, 5, ro_time_now()), 0);
    assert_int_equal(agent_outbox_switch(ob, NULL), 0);
    s_record(f, ob, 1, 20, NULL);
    agent_earlier_t e[4];
    assert_int_equal(agent_outbox_earlier(ob, 0, e, 4), 2);
    assert_int_equal(e[1].base, 2);
    fake_inc_t *x = s_inc(&f->hub, e[0].incarnation), *y = s_inc(&f->hub, e[1].incarnation);
    uint64_t want[6];
    for (uint64_t seq = 1; seq <= 5; seq++)
        want[seq] = s_earlier_hash(ob, &e[seq <= 2 ? 0 : 1], seq);
    x->last = 2, x->hash[1] = want[1], x->hash[2] = want[2];
    y->last = 1, y->hash[1] = want[3];
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    agent_outbox_destroy(&ob);

    s_run(f, 2000);
    assert_int_equal(y->last, 3); /* wire 2 and 3: local 4 and 5, under Y */
    assert_true(y->hash[2] == want[4] && y->hash[3] == want[5]);
    assert_int_equal(x->last, 2);
    assert_int_equal(s_inc(&f->hub, st0.incarnation)->last, 1);
    assert_int_equal(f->hub.reports_v2, 3);
    assert_true(x->heartbeats > 0 && x->clockless == x->heartbeats);
    assert_true(y->heartbeats > 0 && y->clockless == y->heartbeats);
    fake_inc_t *z = s_inc(&f->hub, st0.incarnation);
    assert_true(z->heartbeats > 0 && z->clockless == 0);
    s_stats(f, &st);
    assert_memory_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(st.base, 5);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.last_ack, 6);
    assert_int_equal(st.retained, 6);
    ob = s_open(f);
    assert_int_equal(agent_outbox_earlier(ob, 0, e, 4), 2);
    assert_int_equal(e[0].last_ack, 2);
    assert_int_equal(e[1].last_ack, 5);
    assert_int_equal(e[1].waiting, 0);
    assert_int_equal(e[1].retained, 3);
    agent_outbox_destroy(&ob);
}

/* The hub takes nothing more under an earlier incarnation (contested in
 * this run of the hub: another holder's report under one of its seqs): its
 * refill is refused REASON_IDENTITY. The refused events are set aside, and
 * nothing draws a new identity or renumbers: the current incarnation and
 * its events go on as they were. */
static void test_earlier_identity_sets_aside(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f);
    s_record(f, ob, 4, 1, NULL);
    assert_int_equal(agent_outbox_ack(ob, 4, ro_time_now()), 0);
    assert_int_equal(agent_outbox_switch(ob, NULL), 0); /* base 4 */
    s_record(f, ob, 2, 10, NULL);
    agent_earlier_t e;
    assert_int_equal(agent_outbox_earlier(ob, 0, &e, 1), 1);
    fake_inc_t *x = s_inc(&f->hub, e.incarnation);
    x->last = 2, x->hash[1] = s_earlier_hash(ob, &e, 1), x->hash[2] = s_earlier_hash(ob, &e, 2);
    x->contested = 1;
    agent_outbox_stats_t st0, st;
    assert_int_equal(agent_outbox_stats(ob, &st0), 0);
    agent_outbox_destroy(&ob);

    s_run(f, 2000);
    s_stats(f, &st);
    assert_memory_equal(st.incarnation, st0.incarnation, RO_INCARNATION_LEN);
    assert_int_equal(st.base, 4);
    assert_int_equal(st.next_seq, 7);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.refused, 2); /* 3 and 4 */
    assert_int_equal(s_inc(&f->hub, st0.incarnation)->last, 2);
    assert_int_equal(x->last, 2);
    ob = s_open(f);
    assert_int_equal(agent_outbox_earlier_find(ob, e.incarnation, 1, &e), 1);
    assert_int_equal(e.last_ack, 2);
    assert_int_equal(e.waiting, 0);
    agent_refusal_t rs[4];
    assert_int_equal(agent_outbox_refused_last(ob, rs, 4), 2);
    assert_int_equal(rs[0].seq, 4);
    assert_int_equal(rs[0].reason, RO_REASON_IDENTITY);
    agent_outbox_destroy(&ob);
}

int main(void)
{
    ro_log_init("test_sender", LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v2_hub_gets_the_incarnation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_v1_hub_legacy_outbox_falls_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_v1_hub_own_outbox_waits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_identity_refusal_switches, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hash_mismatch_switches, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_identity_keeps_what_came_before, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_behind_refilled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ran_ahead_nothing_waiting_switches, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_earlier_refilled_under_its_identity, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_earlier_identity_sets_aside, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
