/* test_clone: the subscriber's Clone logic (lib/ro_clone) without sockets:
 * snapshots, numbered updates, gaps, topic chains, epochs, heartbeats. */
#include "ro_clone.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define EPOCH 1000

/* A scope with a kind, an id and a report count to tell versions apart. */
static ro_status_scope_t s_scope(const char *kind, const char *id, uint64_t reports)
{
    ro_status_scope_t s;
    memset(&s, 0, sizeof s);
    s.kind = (char *)kind;
    s.id = (char *)id;
    s.name = (char *)"name";
    s.reports = reports;
    return s;
}

/* A status reply of n scopes at seq, epoch. */
static ro_status_reply_t s_reply(ro_status_scope_t *scopes, size_t n, uint64_t seq, uint64_t epoch)
{
    ro_status_reply_t r;
    memset(&r, 0, sizeof r);
    r.scopes = scopes;
    r.n_scopes = n;
    r.feed_seq = seq;
    r.feed_epoch = epoch;
    r.as_of = 20181231;
    return r;
}

static ro_feed_update_t s_update(const ro_status_scope_t *s, uint64_t seq, uint64_t prev,
                                 uint64_t epoch)
{
    ro_feed_update_t u;
    memset(&u, 0, sizeof u);
    u.seq = seq;
    u.prev_seq = prev;
    u.epoch = epoch;
    u.time = 1500000000;
    u.scope = *s;
    u.has_scope = true;
    return u;
}

/* A clone synced on a snapshot of the province and division 469005 at seq. */
static ro_clone_t *s_synced(int full, uint64_t seq)
{
    ro_clone_t *c = ro_clone_new(full);
    assert_non_null(c);
    ro_clone_reset(c);
    ro_status_scope_t p = s_scope("province", "460000", 10), d = s_scope("division", "469005", 4);
    ro_status_scope_t ss[2] = {p, d};
    ro_status_reply_t r = s_reply(ss, 2, seq, EPOCH);
    assert_int_equal(ro_clone_snapshot(c, &r), 0);
    assert_int_equal(ro_clone_start(c, 0), 0);
    assert_true(ro_clone_synced(c));
    return c;
}

static uint64_t s_reports(const ro_clone_t *c, const char *topic)
{
    const ro_status_scope_t *s = ro_clone_scope(c, topic);
    assert_non_null(s);
    return s->reports;
}

static void test_topics(void **state)
{
    (void)state;
    char buf[RO_FEED_TOPIC_MAX];
    assert_int_equal(ro_feed_topic("province", "460000", buf, sizeof buf), 0);
    assert_string_equal(buf, "province");
    assert_int_equal(ro_feed_topic("division", "469005", buf, sizeof buf), 0);
    assert_string_equal(buf, "division/469005");
    assert_int_equal(ro_feed_topic("level", "township", buf, sizeof buf), 0);
    assert_string_equal(buf, "level/township");
    assert_int_equal(ro_feed_topic("unit", "469005-012", buf, sizeof buf), 0);
    assert_string_equal(buf, "unit/469005-012");
    assert_int_equal(ro_feed_topic("planet", "x", buf, sizeof buf), -1);
    assert_int_equal(ro_feed_topic("unit", "469005-012", buf, 8), -1);
}

static void test_updates_apply_in_order(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(1, 5);
    ro_status_scope_t p = s_scope("province", "460000", 11);
    /* published before the snapshot: already in it */
    ro_feed_update_t old = s_update(&p, 5, 1, EPOCH);
    assert_int_equal(ro_clone_update(c, "province", &old, 0), RO_CLONE_SKIPPED);
    assert_int_equal(s_reports(c, "province"), 10);
    ro_feed_update_t u = s_update(&p, 6, 5, EPOCH);
    assert_int_equal(ro_clone_update(c, "province", &u, 0), RO_CLONE_APPLIED);
    assert_int_equal(s_reports(c, "province"), 11);
    ro_status_scope_t unit = s_scope("unit", "469005-012", 3);
    ro_feed_update_t uu = s_update(&unit, 7, 0, EPOCH);
    assert_int_equal(ro_clone_update(c, "unit/469005-012", &uu, 0), RO_CLONE_APPLIED);
    assert_int_equal(s_reports(c, "unit/469005-012"), 3);
    assert_int_equal(ro_clone_seq(c), 7);
    assert_int_equal(ro_clone_applied(c), 2);
    ro_clone_destroy(&c);
    assert_null(c);
}

static void test_gap_asks_for_resync(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(1, 5);
    ro_status_scope_t p = s_scope("province", "460000", 12);
    ro_feed_update_t u = s_update(&p, 7, 5, EPOCH); /* 6 was lost */
    assert_int_equal(ro_clone_update(c, "province", &u, 0), RO_CLONE_RESYNC);
    assert_false(ro_clone_synced(c));
    assert_non_null(strstr(ro_clone_why(c), "gap"));
    /* nothing applies until a new snapshot */
    ro_feed_update_t next = s_update(&p, 8, 7, EPOCH);
    assert_int_equal(ro_clone_update(c, "province", &next, 0), RO_CLONE_RESYNC);
    assert_int_equal(s_reports(c, "province"), 10);
    ro_clone_reset(c);
    assert_null(ro_clone_scope(c, "province"));
    assert_int_equal(ro_clone_syncs(c), 2);
    ro_clone_destroy(&c);
}

/* Replies of one snapshot taken at different seqs: each topic from its own. */
static void test_snapshot_replies_at_different_seqs(void **state)
{
    (void)state;
    ro_clone_t *c = ro_clone_new(1);
    ro_clone_reset(c);
    ro_status_scope_t p = s_scope("province", "460000", 10), d = s_scope("division", "469005", 4);
    ro_status_scope_t pp[1] = {p}, dd[1] = {d};
    ro_status_reply_t r1 = s_reply(pp, 1, 5, EPOCH), r2 = s_reply(dd, 1, 7, EPOCH);
    assert_int_equal(ro_clone_snapshot(c, &r1), 0);
    assert_int_equal(ro_clone_snapshot(c, &r2), 0);
    assert_int_equal(ro_clone_start(c, 0), 0);
    ro_status_scope_t d6 = s_scope("division", "469005", 5), p7 = s_scope("province", "460000", 11);
    ro_status_scope_t d8 = s_scope("division", "469005", 6);
    ro_feed_update_t u6 = s_update(&d6, 6, 2, EPOCH); /* the division reply has it */
    ro_feed_update_t u7 = s_update(&p7, 7, 3, EPOCH); /* the province reply does not */
    ro_feed_update_t u8 = s_update(&d8, 8, 6, EPOCH);
    assert_int_equal(ro_clone_update(c, "division/469005", &u6, 0), RO_CLONE_SKIPPED);
    assert_int_equal(ro_clone_update(c, "province", &u7, 0), RO_CLONE_APPLIED);
    assert_int_equal(ro_clone_update(c, "division/469005", &u8, 0), RO_CLONE_APPLIED);
    assert_int_equal(s_reports(c, "division/469005"), 6);
    assert_int_equal(s_reports(c, "province"), 11);
    /* a reply from another epoch does not belong to this snapshot */
    ro_clone_reset(c);
    ro_status_reply_t r3 = s_reply(dd, 1, 9, EPOCH + 1);
    assert_int_equal(ro_clone_snapshot(c, &r1), 0);
    assert_int_equal(ro_clone_snapshot(c, &r3), -1);
    ro_clone_destroy(&c);
}

/* A subscriber of a few topics checks each topic's chain. */
static void test_filtered_chain(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(0, 5);
    ro_status_scope_t d = s_scope("division", "469005", 5);
    ro_feed_update_t a = s_update(&d, 9, 3, EPOCH); /* holes in the seqs are other topics */
    assert_int_equal(ro_clone_update(c, "division/469005", &a, 0), RO_CLONE_APPLIED);
    ro_feed_update_t b = s_update(&d, 14, 9, EPOCH);
    assert_int_equal(ro_clone_update(c, "division/469005", &b, 0), RO_CLONE_APPLIED);
    ro_feed_update_t lost = s_update(&d, 20, 17, EPOCH); /* 17 was this topic's */
    assert_int_equal(ro_clone_update(c, "division/469005", &lost, 0), RO_CLONE_RESYNC);
    ro_clone_destroy(&c);

    /* a topic not in the snapshot whose previous update came after it */
    c = s_synced(0, 5);
    ro_status_scope_t u = s_scope("unit", "469005-012", 1);
    ro_feed_update_t ok = s_update(&u, 8, 4, EPOCH);
    assert_int_equal(ro_clone_update(c, "unit/469005-012", &ok, 0), RO_CLONE_APPLIED);
    ro_status_scope_t v = s_scope("unit", "469005-013", 1);
    ro_feed_update_t missed = s_update(&v, 10, 6, EPOCH);
    assert_int_equal(ro_clone_update(c, "unit/469005-013", &missed, 0), RO_CLONE_RESYNC);
    ro_clone_destroy(&c);
}

static void test_epochs(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(1, 5);
    ro_status_scope_t p = s_scope("province", "460000", 1);
    ro_feed_update_t stale = s_update(&p, 6, 0, EPOCH - 1); /* queued before a restart */
    assert_int_equal(ro_clone_update(c, "province", &stale, 0), RO_CLONE_SKIPPED);
    ro_feed_heartbeat_t hb = {0};
    hb.epoch = EPOCH + 1;
    hb.seq = 1;
    assert_int_equal(ro_clone_heartbeat(c, &hb, 0), RO_CLONE_RESYNC);
    assert_non_null(strstr(ro_clone_why(c), "restarted"));
    ro_clone_destroy(&c);
}

static void test_heartbeats(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(1, 5);
    ro_feed_heartbeat_t hb = {0};
    hb.epoch = EPOCH;
    hb.seq = 5;
    hb.interval_ms = 1000;
    hb.as_of = 20190101;
    assert_int_equal(ro_clone_heartbeat(c, &hb, 2500), RO_CLONE_SKIPPED);
    assert_int_equal(ro_clone_as_of(c), 20190101);
    assert_int_equal(ro_clone_tick(c, 5500), RO_CLONE_SKIPPED);
    assert_int_equal(ro_clone_tick(c, 5501), RO_CLONE_RESYNC);
    assert_non_null(strstr(ro_clone_why(c), "no heartbeat"));
    ro_clone_destroy(&c);

    /* a heartbeat ahead of every update seen: the last ones were lost */
    c = s_synced(1, 5);
    hb.seq = 6;
    assert_int_equal(ro_clone_heartbeat(c, &hb, 100), RO_CLONE_RESYNC);
    ro_clone_destroy(&c);
    /* ...which a filtered subscriber cannot tell */
    c = s_synced(0, 5);
    assert_int_equal(ro_clone_heartbeat(c, &hb, 100), RO_CLONE_SKIPPED);
    assert_true(ro_clone_synced(c));
    ro_clone_destroy(&c);
}

static void test_events_newest_first(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(1, 0);
    char id[16];
    ro_status_scope_t u;
    for (int i = 1; i <= RO_CLONE_EVENTS + 3; i++) {
        snprintf(id, sizeof id, "469005-%03d", i);
        u = s_scope("unit", id, (uint64_t)i);
        u.grade = (char *)"中";
        ro_feed_update_t up = s_update(&u, (uint64_t)i, 0, EPOCH);
        char topic[RO_FEED_TOPIC_MAX];
        ro_feed_topic("unit", id, topic, sizeof topic);
        assert_int_equal(ro_clone_update(c, topic, &up, 0), RO_CLONE_APPLIED);
    }
    assert_int_equal(ro_clone_event_count(c), RO_CLONE_EVENTS);
    const ro_clone_event_t *e = ro_clone_event_at(c, 0);
    assert_string_equal(e->unit, "469005-067");
    assert_int_equal(e->seq, RO_CLONE_EVENTS + 3);
    assert_string_equal(e->grade, "中");
    e = ro_clone_event_at(c, RO_CLONE_EVENTS - 1);
    assert_string_equal(e->unit, "469005-004");
    assert_null(ro_clone_event_at(c, RO_CLONE_EVENTS));
    ro_clone_destroy(&c);
}

static void test_wire_messages(void **state)
{
    (void)state;
    ro_clone_t *c = s_synced(1, 5);
    ro_status_scope_t p = s_scope("province", "460000", 42);
    ro_feed_update_t u = s_update(&p, 6, 5, EPOCH);
    uint8_t buf[512];
    size_t len = (size_t)ro_feed_update_encode(&u, buf, sizeof buf);
    assert_int_equal(ro_clone_message(c, "province", 8, buf, len, 0), RO_CLONE_APPLIED);
    assert_int_equal(s_reports(c, "province"), 42);
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(ro_clone_message(c, "province", 8, junk, sizeof junk, 0), RO_CLONE_SKIPPED);
    assert_int_equal(ro_clone_bad(c), 1);
    ro_feed_heartbeat_t hb = {0};
    hb.epoch = EPOCH;
    hb.seq = 6;
    len = (size_t)ro_feed_heartbeat_encode(&hb, buf, sizeof buf);
    assert_int_equal(
        ro_clone_message(c, RO_FEED_HEARTBEAT, strlen(RO_FEED_HEARTBEAT), buf, len, 10),
        RO_CLONE_SKIPPED);
    assert_true(ro_clone_synced(c));
    ro_clone_destroy(&c);
}

/* Updates before the snapshot is complete do not apply; an unfinished sync
 * cannot start without a reply. */
static void test_not_started(void **state)
{
    (void)state;
    ro_clone_t *c = ro_clone_new(1);
    ro_status_scope_t p = s_scope("province", "460000", 1);
    ro_feed_update_t u = s_update(&p, 1, 0, EPOCH);
    assert_int_equal(ro_clone_update(c, "province", &u, 0), RO_CLONE_SKIPPED);
    assert_int_equal(ro_clone_start(c, 0), -1);
    ro_status_reply_t bad = s_reply(NULL, 0, 0, EPOCH);
    bad.status = 1;
    ro_clone_reset(c);
    assert_int_equal(ro_clone_snapshot(c, &bad), -1);
    assert_int_equal(ro_clone_start(c, 0), -1);
    ro_clone_destroy(&c);
    ro_clone_destroy(&c); /* NULL is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_updates_apply_in_order),
        cmocka_unit_test(test_gap_asks_for_resync),
        cmocka_unit_test(test_snapshot_replies_at_different_seqs),
        cmocka_unit_test(test_filtered_chain),
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_heartbeats),
        cmocka_unit_test(test_events_newest_first),
        cmocka_unit_test(test_wire_messages),
        cmocka_unit_test(test_not_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
