/* test_feed_codec: lib/ro_feed, the feed's messages as plain data: round
 * trips, the hand-written head of a FeedUpdate giving the very bytes
 * protobuf-c packs (and that hub/feed.c wrote before the codec), and the
 * decoder refusing truncated frames, unknown fields, bad UTF-8, NUL bytes
 * and over-long strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ro_feed.h"

static ro_status_scope_t s_scope(void)
{
    ro_status_scope_t s;
    memset(&s, 0, sizeof s);
    s.kind = "division";
    s.id = "469005";
    s.name = "文昌市";
    s.division = "469005";
    s.units = 40, s.units_reporting = 38, s.reports = 1200, s.last_heard = 1514764800;
    s.grade = "良";
    s.n_indicators = 1;
    s.indicators[0] = (ro_status_indicator_t){.id = "staff_proficient",
                                              .value = 0.75,
                                              .goal = 0.8,
                                              .share = 0.9375,
                                              .grade = "良",
                                              .milestone = "at-risk",
                                              .next_date = 20181231,
                                              .label_zh = "会用人员",
                                              .measure = "percent"};
    return s;
}

/* hub/feed.c's FeedUpdate head before the codec, kept as the reference:
 * seq and epoch always, prev_seq and time when not 0, then the scope's tag
 * and length. */
static size_t s_old_uvarint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static size_t s_old_head(uint8_t *head, uint64_t seq, uint64_t epoch, uint64_t prev, int64_t now,
                         size_t n)
{
    size_t h = s_old_uvarint(head, 1 << 3);
    h += s_old_uvarint(head + h, seq);
    h += s_old_uvarint(head + h, 2 << 3);
    h += s_old_uvarint(head + h, epoch);
    if (prev) {
        h += s_old_uvarint(head + h, 3 << 3);
        h += s_old_uvarint(head + h, prev);
    }
    if (now) {
        h += s_old_uvarint(head + h, 4 << 3);
        h += s_old_uvarint(head + h, (uint64_t)now);
    }
    h += s_old_uvarint(head + h, 5 << 3 | 2);
    h += s_old_uvarint(head + h, n);
    return h;
}

static void test_head_same_bytes(void **state)
{
    (void)state;
    const struct {
        uint64_t seq, epoch, prev;
        int64_t time;
    } cases[] = {
        {1, 1764374400123456ull, 0, 1764374400},         {127, 1, 126, 0}, {128, 300, 0, -1},
        {UINT64_MAX, UINT64_MAX, UINT64_MAX, INT64_MIN}, {0, 0, 0, 0}, /* never sent by the hub:
                                                                          protobuf leaves zeros out
                                                                        */
    };
    ro_status_scope_t scopes[2] = {s_scope(), {0}};
    static uint8_t sbuf[200000];
    char big[RO_NAME_MAX + 1];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    scopes[1] = s_scope();
    scopes[1].name = big; /* a scope over 127 bytes: a two-byte length */
    for (size_t k = 0; k < 2; k++) {
        size_t n = ro_status_scope_encode(&scopes[k], sbuf, sizeof sbuf);
        assert_true(n > 0 && n < sizeof sbuf);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            ro_feed_update_t u = {.seq = cases[i].seq,
                                  .epoch = cases[i].epoch,
                                  .prev_seq = cases[i].prev,
                                  .time = cases[i].time,
                                  .has_scope = true,
                                  .scope = scopes[k]};
            uint8_t full[4096], head[RO_FEED_HEAD_MAX], old[RO_FEED_HEAD_MAX];
            int len = ro_feed_update_encode(&u, full, sizeof full);
            size_t h = ro_feed_update_head(head, &u, n);
            assert_int_equal((size_t)len, h + n);
            assert_memory_equal(full, head, h);
            assert_memory_equal(full + h, sbuf, n);
            if (cases[i].seq && cases[i].epoch) {
                size_t o =
                    s_old_head(old, cases[i].seq, cases[i].epoch, cases[i].prev, cases[i].time, n);
                assert_int_equal(o, h);
                assert_memory_equal(old, head, h);
            }
        }
    }
}

static void test_update_round_trip(void **state)
{
    (void)state;
    ro_feed_update_t u = {.seq = 9,
                          .epoch = 1ull << 50,
                          .prev_seq = 4,
                          .time = 1514764800,
                          .has_scope = true,
                          .scope = s_scope()},
                     back;
    uint8_t buf[4096];
    int n = ro_feed_update_encode(&u, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(ro_feed_update_encode(&u, buf, 10), -1);
    assert_int_equal(ro_feed_update_decode(buf, (size_t)n, RO_DECODE_STRICT, &back, NULL, 0), 0);
    assert_int_equal(back.seq, 9);
    assert_int_equal(back.epoch, 1ull << 50);
    assert_int_equal(back.prev_seq, 4);
    assert_int_equal(back.time, 1514764800);
    assert_true(back.has_scope);
    assert_string_equal(back.scope.name, "文昌市");
    assert_string_equal(back.scope.level, "");
    assert_string_equal(back.scope.indicators[0].milestone, "at-risk");
    assert_string_equal(back.scope.indicators[0].why, "");
    assert_int_equal(back.scope.units_reporting, 38);
    ro_feed_update_clear(&back);
    /* no scope */
    u.has_scope = false;
    n = ro_feed_update_encode(&u, buf, sizeof buf);
    assert_int_equal(ro_feed_update_decode(buf, (size_t)n, RO_DECODE_STRICT, &back, NULL, 0), 0);
    assert_false(back.has_scope);
    ro_feed_update_clear(&back);
    ro_feed_update_clear(NULL);
}

static void test_update_hostile(void **state)
{
    (void)state;
    ro_feed_update_t u = {.seq = 9, .epoch = 3, .has_scope = true, .scope = s_scope()}, back;
    uint8_t buf[4096];
    char err[160];
    int n = ro_feed_update_encode(&u, buf, sizeof buf);
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n - 1, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    assert_int_equal(ro_feed_update_decode(buf, 5, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    memcpy(buf + n, "\x98\x06\x01", 3);
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n + 3, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown field"));
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n + 3, RO_DECODE_SKIP_UNKNOWN, &back, err, sizeof err),
        0); /* a subscriber skips what a newer hub adds */
    ro_feed_update_clear(&back);
    uint8_t *at = NULL;
    for (int i = 0; i + 6 <= n && !at; i++)
        if (!memcmp(buf + i, "469005", 6))
            at = buf + i;
    assert_non_null(at);
    at[5] = 0xc0; /* bad UTF-8, refused either way */
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n, RO_DECODE_SKIP_UNKNOWN, &back, err, sizeof err), -1);
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    at[5] = 0; /* NUL */
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    /* an id over RO_SCOPE_ID_MAX */
    char id[RO_SCOPE_ID_MAX + 1];
    memset(id, '4', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    u.scope.id = id;
    n = ro_feed_update_encode(&u, buf, sizeof buf);
    assert_int_equal(
        ro_feed_update_decode(buf, (size_t)n, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    assert_false(back.has_scope);
    assert_null(back.scope.mem);
    static uint8_t huge[RO_FEED_FRAME_MAX + 1];
    assert_int_equal(
        ro_feed_update_decode(huge, sizeof huge, RO_DECODE_STRICT, &back, err, sizeof err), -1);
}

static void test_heartbeat(void **state)
{
    (void)state;
    ro_feed_heartbeat_t hb = {.seq = 41,
                              .epoch = 1ull << 52,
                              .time = 1514764800,
                              .interval_ms = 1000,
                              .as_of = 20180630},
                        back;
    uint8_t buf[128];
    char err[160];
    int n = ro_feed_heartbeat_encode(&hb, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(ro_feed_heartbeat_encode(&hb, buf, 4), -1);
    assert_int_equal(
        ro_feed_heartbeat_decode(buf, (size_t)n, RO_DECODE_STRICT, &back, err, sizeof err), 0);
    assert_memory_equal(&hb, &back, sizeof hb);
    assert_int_equal(
        ro_feed_heartbeat_decode(buf, (size_t)n - 1, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    memcpy(buf + n, "\x98\x06\x01", 3);
    assert_int_equal(
        ro_feed_heartbeat_decode(buf, (size_t)n + 3, RO_DECODE_STRICT, &back, err, sizeof err), -1);
    /* a field written twice: valid protobuf, the last one counts */
    memcpy(buf + n, "\x08\x29", 2);
    assert_int_equal(
        ro_feed_heartbeat_decode(buf, (size_t)n + 2, RO_DECODE_STRICT, &back, err, sizeof err), 0);
    assert_int_equal(back.seq, 41);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_same_bytes),
        cmocka_unit_test(test_update_round_trip),
        cmocka_unit_test(test_update_hostile),
        cmocka_unit_test(test_heartbeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
