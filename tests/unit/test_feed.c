/* test_feed: the feed over an inproc PUB/SUB pair, without a hub. A commit
 * only marks; a publication goes out at once after a quiet period and at
 * most every HUB_FEED_INTERVAL_MS under load, sends each changed unit once
 * (however many commits touched it), then its division, level and the
 * province; seqs follow each other and prev_seq chains each topic; every
 * scope is the very bytes the status API answers for it; an unchanged scope
 * is not sent; a new date makes everything due; a registry with other units
 * starts a new epoch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "feed.h"
#include "ro_clone.h"
#include "ro_registry.h"
#include "ro_feed.h"
#include "ro_status.h"
#include "ro_time.h"
#include "status.h"
#include "ro_targets.h"
#include "test_util.h"

#include <zmq.h>

#define NOW 1546300800 /* 2019-01-01T00:00:00Z */
#define NUNITS 5
#define MSG_MAX 64

static const char *s_units_csv = "id,level,division,name\n"
                                 "460000-001,provincial,460000,省发展和改革委员会\n"
                                 "460000-002,provincial,460000,省教育厅\n"
                                 "460100-001,municipal,460100,海口市教育局\n"
                                 "460100-201,township,460100,海口市第1乡镇\n"
                                 "469002-003,municipal,469002,琼海市科学技术局\n";

typedef struct {
    ro_registry_t *reg;
    ro_targets_t *targets;
    hub_engine_t *engine;
    hub_unit_state_t states[NUNITS]; /* ingest's working copy: published to committed */
    hub_committed_t *committed;
    hub_status_t *status;
    void *ctx, *pub, *sub;
    hub_feed_t *feed;
    int64_t mono; /* the test's monotonic clock, ms */
} fixture_t;

/* One received update. */
typedef struct {
    char topic[RO_FEED_TOPIC_MAX];
    uint64_t seq, epoch, prev;
    uint8_t scope[16384]; /* the scope as packed in the update */
    size_t len;
} s_msg_t;

/* Receive what the SUB socket holds now: updates into out (at most max),
 * heartbeats counted in *beats (may be NULL). Returns the updates. */
static size_t s_drain(fixture_t *f, s_msg_t *out, size_t max, int *beats)
{
    size_t n = 0;
    for (;;) {
        char topic[RO_FEED_TOPIC_MAX];
        int tl = zmq_recv(f->sub, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (tl < 0)
            return n;
        topic[tl] = '\0';
        zmq_msg_t body;
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&body, f->sub, 0) >= 0);
        if (!strcmp(topic, RO_FEED_HEARTBEAT)) {
            if (beats)
                (*beats)++;
        } else {
            ro_feed_update_t u;
            assert_int_equal(ro_feed_update_decode(zmq_msg_data(&body), zmq_msg_size(&body),
                                                   RO_DECODE_STRICT, &u, NULL, 0),
                             0);
            assert_true(u.has_scope);
            char want[RO_FEED_TOPIC_MAX];
            assert_int_equal(ro_feed_topic(u.scope.kind, u.scope.id, want, sizeof want), 0);
            assert_string_equal(topic, want);
            if (out && n < max) {
                s_msg_t *m = &out[n];
                snprintf(m->topic, sizeof m->topic, "%s", topic);
                m->seq = u.seq;
                m->epoch = u.epoch;
                m->prev = u.prev_seq;
                m->len = ro_status_scope_encode(&u.scope, m->scope, sizeof m->scope);
                assert_true(m->len > 0 && m->len <= sizeof m->scope);
            }
            n++;
            ro_feed_update_clear(&u);
        }
        zmq_msg_close(&body);
    }
}

/* Tick at the fixture's clock advanced by ms; returns what tick returns. */
static long s_tick(fixture_t *f, int64_t ms)
{
    f->mono += ms;
    return hub_feed_tick(f->feed, NOW, f->mono);
}

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[512] = "", path[512];
    f->reg = ro_registry_load(tu_write("units.csv", s_units_csv), err, sizeof err);
    if (!f->reg)
        fail_msg("registry: %s", err);
    snprintf(path, sizeof path, "%s/config/targets.ini", getenv("RO_SOURCE_ROOT"));
    f->targets = ro_targets_load(path, err, sizeof err);
    if (!f->targets)
        fail_msg("targets: %s", err);
    f->engine = hub_engine_new(f->reg, f->targets, err, sizeof err);
    assert_non_null(f->engine);
    f->committed = hub_committed_new(f->reg, f->engine, f->states);
    assert_non_null(f->committed);
    f->status = hub_status_new(f->reg, hub_committed_states(f->committed), NULL, f->committed);
    assert_non_null(f->status);
    assert_int_equal(hub_status_set_engine(f->status, f->engine, f->targets, NULL), 0);
    f->ctx = zmq_ctx_new();
    f->pub = zmq_socket(f->ctx, ZMQ_PUB);
    f->sub = zmq_socket(f->ctx, ZMQ_SUB);
    int hwm = 0;
    assert_int_equal(hub_feed_configure(f->pub, 100000), 0);
    assert_int_equal(zmq_setsockopt(f->sub, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_bind(f->pub, "inproc://feed"), 0);
    assert_int_equal(zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(f->sub, "inproc://feed"), 0);
    f->feed = hub_feed_new(f->pub, f->committed, f->reg, f->engine, f->targets, 0);
    assert_non_null(f->feed);
    /* the first tick's date (NOW) is not today's: everything goes out once.
     * Then heartbeats until the subscription has surely arrived. */
    f->mono = ro_time_mono_ms(); /* the feed starts its heartbeat clock there */
    int beats = 0;
    for (int i = 0; i < 500 && !beats; i++) {
        s_tick(f, HUB_FEED_HEARTBEAT_MS);
        zmq_pollitem_t it = {f->sub, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 10);
        s_drain(f, NULL, 0, &beats);
    }
    assert_true(beats > 0);
    assert_int_equal(hub_feed_seq(f->feed), NUNITS + RO_DIVISION_COUNT + RO_LEVEL_COUNT + 1);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    hub_feed_destroy(&f->feed);
    assert_null(f->feed);
    zmq_close(f->sub);
    zmq_close(f->pub);
    zmq_ctx_term(f->ctx);
    hub_status_destroy(&f->status);
    hub_committed_destroy(&f->committed);
    hub_engine_destroy(&f->engine);
    ro_targets_destroy(&f->targets);
    ro_registry_destroy(&f->reg);
    free(f);
    return 0;
}

/* A report's worth of change to unit u. */
static void s_change(fixture_t *f, size_t u, uint32_t people)
{
    hub_unit_state_t *st = &f->states[u];
    st->last_seq++;
    st->reports++;
    st->last_heard = NOW - 60;
    st->participants += people;
    st->hours_tenths += 15;
    st->sessions++;
    st->items_total = 100;
    st->items_no_visit = 40 + people;
    uint32_t unit = (uint32_t)u;
    hub_committed_publish(f->committed, &unit, 1, f->states, NULL,
                          NULL); /* as ingest after COMMIT */
}

/* The status API's answer for the scope of a topic, packed. */
static size_t s_status_scope(fixture_t *f, const char *topic, uint8_t *out, size_t cap)
{
    ro_query_t q = RO_QUERY_PROVINCE;
    const char *key = NULL;
    if (!strncmp(topic, "unit/", 5)) {
        q = RO_QUERY_UNIT;
        key = topic + 5;
    } else if (!strncmp(topic, "division/", 9)) {
        q = RO_QUERY_DIVISION;
        key = topic + 9;
    } else if (!strncmp(topic, "level/", 6)) {
        q = RO_QUERY_LEVEL;
        key = topic + 6;
    } else {
        assert_string_equal(topic, "province");
    }
    ro_status_reply_t *r = hub_feed_ask(f->status, q, key, NULL, NOW);
    assert_non_null(r);
    assert_int_equal(r->n_scopes, 1);
    size_t n = ro_status_scope_encode(&r->scopes[0], out, cap);
    assert_true(n > 0 && n <= cap);
    ro_status_reply_free(&r);
    return n;
}

/* The updates are numbered from first without a hole, and each scope is
 * what the status API answers for it now. */
static void s_expect_updates(fixture_t *f, const s_msg_t *m, size_t n, uint64_t first)
{
    static uint8_t want[16384];
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(m[k].seq, first + k);
        assert_int_equal(m[k].epoch, hub_feed_epoch(f->feed));
        size_t len = s_status_scope(f, m[k].topic, want, sizeof want);
        assert_int_equal(m[k].len, len);
        assert_memory_equal(m[k].scope, want, len);
    }
}

static s_msg_t s_msgs[MSG_MAX];

/* Commits mark; one publication sends each unit once, then its rollups. */
static void test_commits_coalesce(void **state)
{
    fixture_t *f = *state;
    uint64_t seq = hub_feed_seq(f->feed);
    s_change(f, 2, 5);
    uint32_t a[] = {2};
    assert_int_equal(hub_feed_commit(f->feed, a, 1, NOW), 1);
    s_change(f, 0, 3);
    s_change(f, 2, 4);
    uint32_t b[] = {0, 2, 2, 99}; /* 2 again, and an index beyond the registry */
    assert_int_equal(hub_feed_commit(f->feed, b, 4, NOW), 1);
    assert_int_equal(hub_feed_seq(f->feed), seq); /* nothing sent by a commit */
    assert_int_equal(s_drain(f, s_msgs, MSG_MAX, NULL), 0);

    long wait = s_tick(f, HUB_FEED_HEARTBEAT_MS / 2); /* quiet for long: at once */
    size_t n = s_drain(f, s_msgs, MSG_MAX, NULL);
    const char *order[] = {"unit/460100-001", "unit/460000-001",  "division/460000",
                           "division/460100", "level/provincial", "level/municipal",
                           "province"};
    assert_int_equal(n, 7);
    for (size_t k = 0; k < n; k++)
        assert_string_equal(s_msgs[k].topic, order[k]);
    s_expect_updates(f, s_msgs, n, seq + 1);
    assert_int_equal(hub_feed_seq(f->feed), seq + 7);
    assert_true(wait > 0 && wait <= HUB_FEED_HEARTBEAT_MS); /* nothing due: the heartbeat */

    /* the next change waits for the interval, and chains to the last update */
    uint64_t unit_seq = s_msgs[0].seq, province_seq = s_msgs[6].seq;
    s_change(f, 2, 1);
    assert_int_equal(hub_feed_commit(f->feed, a, 1, NOW), 1);
    wait = s_tick(f, 50);
    assert_int_equal(s_drain(f, s_msgs, MSG_MAX, NULL), 0);
    assert_int_equal(wait, HUB_FEED_INTERVAL_MS - 50);
    assert_int_equal(s_tick(f, HUB_FEED_INTERVAL_MS - 51), 1);
    assert_int_equal(s_drain(f, s_msgs, MSG_MAX, NULL), 0);
    s_tick(f, 1);
    n = s_drain(f, s_msgs, MSG_MAX, NULL);
    assert_int_equal(n, 4); /* the unit, its division, its level, the province */
    assert_string_equal(s_msgs[0].topic, "unit/460100-001");
    assert_int_equal(s_msgs[0].prev, unit_seq);
    assert_string_equal(s_msgs[3].topic, "province");
    assert_int_equal(s_msgs[3].prev, province_seq);
    s_expect_updates(f, s_msgs, n, seq + 8);
}

/* A commit that changed nothing a scope shows sends nothing. */
static void test_unchanged_not_sent(void **state)
{
    fixture_t *f = *state;
    uint64_t seq = hub_feed_seq(f->feed), unchanged = hub_feed_counters(f->feed)->unchanged;
    uint32_t u[] = {4};
    assert_int_equal(hub_feed_commit(f->feed, u, 1, NOW), 1);
    s_tick(f, HUB_FEED_HEARTBEAT_MS / 2);
    assert_int_equal(s_drain(f, s_msgs, MSG_MAX, NULL), 0);
    assert_int_equal(hub_feed_seq(f->feed), seq);
    /* the unit, its division, its level and the province were evaluated */
    assert_int_equal(hub_feed_counters(f->feed)->unchanged, unchanged + 4);
}

/* Many commits within one interval: one publication, one update per scope. */
static void test_load(void **state)
{
    fixture_t *f = *state;
    s_tick(f, HUB_FEED_HEARTBEAT_MS / 2); /* quiet */
    uint64_t seq = hub_feed_seq(f->feed);
    uint32_t all[NUNITS] = {0, 1, 2, 3, 4};
    size_t sent = 0;
    for (int c = 0; c < 100; c++) {
        for (size_t u = 0; u < NUNITS; u++)
            s_change(f, u, 1);
        hub_feed_commit(f->feed, all, NUNITS, NOW);
        long wait = s_tick(f, 10); /* a commit every 10 ms */
        size_t n = s_drain(f, s_msgs, MSG_MAX, NULL);
        if (!n) /* held back: the tick asks to be called when it is due */
            assert_true(wait > 0 && wait < HUB_FEED_INTERVAL_MS);
        sent += n;
    }
    uint64_t last = hub_feed_seq(f->feed);
    s_tick(f, HUB_FEED_INTERVAL_MS);
    size_t n = s_drain(f, s_msgs, MSG_MAX, NULL);
    s_expect_updates(f, s_msgs, n, last + 1); /* every rollup from one pass */
    sent += n;
    /* 1 s of commits: at once, then every 200 ms: 6 publications of 5 units
     * and their 3 divisions, 3 levels and the province */
    assert_int_equal(sent, 6 * (NUNITS + 3 + 3 + 1));
    assert_int_equal(hub_feed_seq(f->feed), seq + sent);
}

/* A new date makes every scope due; a registry of other units a new epoch. */
static void test_date_and_registry(void **state)
{
    fixture_t *f = *state;
    const hub_feed_counters_t *c = hub_feed_counters(f->feed);
    uint64_t before = c->updates + c->unchanged;
    f->mono += HUB_FEED_HEARTBEAT_MS;
    hub_feed_tick(f->feed, NOW + 86400, f->mono);
    assert_int_equal(c->updates + c->unchanged - before,
                     NUNITS + RO_DIVISION_COUNT + RO_LEVEL_COUNT + 1);
    s_drain(f, NULL, 0, NULL);

    char err[256];
    ro_registry_t *other =
        ro_registry_load(tu_write("other.csv", "id,level,division,name\n"
                                               "460100-001,municipal,460100,海口市教育局\n"
                                               "460000-001,provincial,460000,省发展和改革委员会\n"),
                         err, sizeof err);
    assert_non_null(other);
    hub_engine_t *engine = hub_engine_new(other, f->targets, err, sizeof err);
    assert_non_null(engine);
    hub_unit_state_t st[2] = {f->states[2], f->states[0]};
    uint64_t epoch = hub_feed_epoch(f->feed);
    assert_int_equal(hub_feed_set_registry(f->feed, other, engine, f->targets), 0);
    hub_unit_state_t *copy = malloc(sizeof st);
    assert_non_null(copy);
    memcpy(copy, st, sizeof st);
    hub_committed_swap(f->committed, other, engine, copy, calloc(2, sizeof(hub_unit_flags_t)));
    assert_true(hub_feed_epoch(f->feed) > epoch);
    assert_int_equal(hub_feed_seq(f->feed), 0);
    assert_int_equal(hub_committed_feed_epoch(f->committed), hub_feed_epoch(f->feed));
    st[1].reports++;
    uint32_t u[] = {1};
    hub_committed_publish(f->committed, u, 1, st, NULL, NULL);
    hub_feed_commit(f->feed, u, 1, NOW);
    f->mono += HUB_FEED_HEARTBEAT_MS;
    hub_feed_tick(f->feed, NOW + 86400, f->mono);
    size_t n = s_drain(f, s_msgs, MSG_MAX, NULL);
    assert_int_equal(n, 4);
    assert_string_equal(s_msgs[0].topic, "unit/460000-001");
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(s_msgs[k].seq, k + 1);
        assert_int_equal(s_msgs[k].prev, 0);
        assert_int_equal(s_msgs[k].epoch, hub_feed_epoch(f->feed));
    }
    hub_feed_destroy(&f->feed); /* before what it borrows goes */
    hub_engine_destroy(&engine);
    ro_registry_destroy(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commits_coalesce, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_not_sent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_date_and_registry, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
