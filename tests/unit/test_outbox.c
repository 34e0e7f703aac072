/* test_outbox: the agent's outbox file: sequence numbers that never repeat,
 * acks and refusals that persist, the outbox_max bound, all-or-nothing
 * batches, and files that must be refused untouched (another unit's, garbage,
 * truncated). Real files in a private temporary folder; no mocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "outbox.h"
#include "ro_codec.h"
#include "ro_time.h"
#include "test_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One event as stored: its seq and its exact encoded bytes. */
typedef struct {
    uint64_t seq;
    size_t len;
    uint8_t body[RO_FRAME_MAX];
} agent_event_t;

typedef struct {
    agent_event_t *out;
    size_t n;
} s_read_t;

static int s_read_one(void *arg, uint64_t seq, const uint8_t *body, size_t len)
{
    s_read_t *r = arg;
    agent_event_t *ev = &r->out[r->n++];
    ev->seq = seq;
    ev->len = len;
    memcpy(ev->body, body, len);
    return 0;
}

/* Copies of up to max events after seq `after`, through agent_outbox_each. */
static int s_outbox_read(agent_outbox_t *self, uint64_t after, agent_event_t *out, size_t max)
{
    s_read_t r = {out, 0};
    return agent_outbox_each(self, after, max, s_read_one, &r);
}

#define UNIT "460000-001"
#define OTHER_UNIT "469005-012"

typedef struct {
    char dir[256];  /* this test's own folder */
    char path[300]; /* outbox.db in it */
    char err[600];  /* last error text */
} fixture_t;

static int s_setup(void **state)
{
    static int counter;
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/t%d", tu_dir(), ++counter);
    if (mkdir(f->dir, 0700) != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/outbox.db", f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    free(*state);
    return 0;
}

static ro_report_t s_staff(uint32_t total, uint32_t proficient)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.kind = RO_KIND_STAFF;
    r.date = 20180105;
    r.total = total;
    r.part = proficient;
    return r;
}

static agent_outbox_t *s_open(fixture_t *f, const char *unit)
{
    agent_outbox_t *ob =
        agent_outbox_open(f->path, unit, AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    if (!ob)
        print_error("open failed: %s\n", f->err);
    return ob;
}

static void s_append_n(fixture_t *f, agent_outbox_t *ob, int n)
{
    for (int i = 0; i < n; i++) {
        ro_report_t r = s_staff(40, (uint32_t)i % 40);
        assert_true(agent_outbox_append(ob, &r, ro_time_now(), f->err, sizeof f->err) > 0);
    }
}

static void s_stats(agent_outbox_t *ob, agent_outbox_stats_t *st)
{
    assert_int_equal(agent_outbox_stats(ob, st), 0);
}

/* Read a whole file; *len gets its size. Caller frees. */
static uint8_t *s_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void s_spill(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/* Opening path must fail, say "damaged", and leave the bytes as they were. */
static void s_assert_refused_untouched(fixture_t *f, const char *needle)
{
    size_t before_len, after_len;
    uint8_t *before = s_slurp(f->path, &before_len);
    agent_outbox_t *ob =
        agent_outbox_open(f->path, UNIT, AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    assert_null(ob);
    assert_non_null(strstr(f->err, "damaged"));
    assert_non_null(strstr(f->err, "keep a copy"));
    if (needle)
        assert_non_null(strstr(f->err, needle));
    uint8_t *after = s_slurp(f->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(before);
    free(after);
}

/* ---- sequence numbers -------------------------------------------------- */

static void test_append_assigns_1_2_3(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    int64_t now = ro_time_now();
    for (int64_t want = 1; want <= 3; want++) {
        ro_report_t r = s_staff(40, 31);
        assert_int_equal(agent_outbox_append(ob, &r, now, f->err, sizeof f->err), want);
        assert_int_equal(r.seq, (uint64_t)want);
        assert_string_equal(r.unit, UNIT);
        assert_int_equal(r.recorded_at, now);
        assert_int_equal(r.version, RO_PROTOCOL_VERSION);
    }
    agent_outbox_stats_t st;
    s_stats(ob, &st);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.next_seq, 4);
    assert_int_equal(st.last_ack, 0);
    assert_int_equal(st.refused, 0);
    assert_int_equal(agent_outbox_depth(ob), 3);
    agent_outbox_destroy(&ob);
    assert_null(ob);
    agent_outbox_destroy(&ob); /* NULL is fine */
}

static void test_seq_survives_reopen(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_append_n(f, ob, 2);
    agent_outbox_destroy(&ob);

    ob = s_open(f, UNIT);
    assert_non_null(ob);
    ro_report_t r = s_staff(40, 31);
    assert_int_equal(agent_outbox_append(ob, &r, ro_time_now(), f->err, sizeof f->err), 3);
    /* an empty outbox still remembers where the sequence is */
    assert_int_equal(agent_outbox_ack(ob, 3, ro_time_now()), 0);
    agent_outbox_destroy(&ob);

    ob = s_open(f, UNIT);
    assert_non_null(ob);
    assert_int_equal(agent_outbox_depth(ob), 0);
    r = s_staff(40, 31);
    assert_int_equal(agent_outbox_append(ob, &r, ro_time_now(), f->err, sizeof f->err), 4);
    agent_outbox_destroy(&ob);
}

/* ---- acks and refusals ------------------------------------------------- */

static void test_ack_deletes_and_persists(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_append_n(f, ob, 5);
    assert_int_equal(agent_outbox_ack(ob, 3, ro_time_now()), 0);
    agent_outbox_stats_t st;
    s_stats(ob, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.last_ack, 3);
    agent_outbox_destroy(&ob);

    ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_stats(ob, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.last_ack, 3);
    assert_int_equal(st.next_seq, 6);
    agent_event_t ev[8];
    assert_int_equal(s_outbox_read(ob, 0, ev, 8), 2);
    assert_int_equal(ev[0].seq, 4);
    assert_int_equal(ev[1].seq, 5);
    /* an older ack does not move last_ack back */
    assert_int_equal(agent_outbox_ack(ob, 1, ro_time_now()), 0);
    s_stats(ob, &st);
    assert_int_equal(st.last_ack, 3);
    assert_int_equal(st.depth, 2);
    agent_outbox_destroy(&ob);
}

static void test_refuse_moves_to_refused(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_append_n(f, ob, 3);
    agent_event_t before[3];
    assert_int_equal(s_outbox_read(ob, 0, before, 3), 3);

    assert_int_equal(
        agent_outbox_refuse(ob, 2, RO_REASON_INVALID, "date in the future", 1700000000), 0);
    agent_outbox_stats_t st;
    s_stats(ob, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.refused, 1);
    agent_event_t ev[3];
    assert_int_equal(s_outbox_read(ob, 0, ev, 3), 2);
    assert_int_equal(ev[0].seq, 1);
    assert_int_equal(ev[1].seq, 3);

    agent_refusal_t rf[4];
    assert_int_equal(agent_outbox_refused_last(ob, rf, 4), 1);
    assert_int_equal(rf[0].seq, 2);
    assert_int_equal(rf[0].reason, RO_REASON_INVALID);
    assert_int_equal(rf[0].at, 1700000000);
    assert_string_equal(rf[0].text, "date in the future");

    /* refusing again, or a seq never stored, changes nothing */
    assert_int_equal(agent_outbox_refuse(ob, 2, RO_REASON_CONFLICT, "again", 1700000001), 1);
    assert_int_equal(agent_outbox_refuse(ob, 99, RO_REASON_CONFLICT, "never", 1700000001), 1);
    assert_int_equal(agent_outbox_refuse(ob, 0, RO_REASON_VERSION, "heartbeat", 1700000001), 1);
    s_stats(ob, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.depth, 2);
    agent_outbox_destroy(&ob);

    /* it persists */
    ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_stats(ob, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(agent_outbox_refused_last(ob, rf, 4), 1);
    assert_string_equal(rf[0].text, "date in the future");
    agent_outbox_destroy(&ob);
}

/* ---- reading ----------------------------------------------------------- */

/* An older agent set aside events the hub refused for a reason its side can
 * fix (unknown unit, forbidden, version): they go back into the outbox, unless
 * the hub has acknowledged past them; final refusals stay aside. */
static void test_requeue_non_final_refusals(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_append_n(f, ob, 5);
    assert_int_equal(agent_outbox_ack(ob, 1, ro_time_now()), 0);
    assert_int_equal(agent_outbox_refuse(ob, 2, RO_REASON_UNKNOWN_UNIT, "not listed", 1), 0);
    assert_int_equal(agent_outbox_refuse(ob, 3, RO_REASON_INVALID, "bad date", 1), 0);
    assert_int_equal(agent_outbox_refuse(ob, 4, RO_REASON_FORBIDDEN, "key", 1), 0);
    assert_int_equal(agent_outbox_requeue(ob), 2);
    agent_event_t ev[5];
    assert_int_equal(s_outbox_read(ob, 0, ev, 5), 3);
    assert_int_equal(ev[0].seq, 2);
    assert_int_equal(ev[1].seq, 4);
    assert_int_equal(ev[2].seq, 5);
    agent_refusal_t rf[4];
    assert_int_equal(agent_outbox_refused_last(ob, rf, 4), 1);
    assert_int_equal(rf[0].seq, 3);
    assert_int_equal(agent_outbox_requeue(ob), 0); /* nothing left to move */
    agent_outbox_destroy(&ob);
}

static void test_read_after_in_order_with_limit(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    int64_t now = ro_time_now();
    for (uint32_t i = 1; i <= 10; i++) {
        ro_report_t r = s_staff(100, i);
        assert_int_equal(agent_outbox_append(ob, &r, now, f->err, sizeof f->err), (int64_t)i);
    }
    agent_event_t ev[10];
    assert_int_equal(s_outbox_read(ob, 3, ev, 4), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ev[i].seq, (uint64_t)(4 + i));
        ro_report_t back;
        char why[200];
        assert_int_equal(ro_report_decode(ev[i].body, ev[i].len, &back, why, sizeof why),
                         RO_REASON_NONE);
        assert_int_equal(back.seq, ev[i].seq);
        assert_string_equal(back.unit, UNIT);
        assert_int_equal(back.kind, RO_KIND_STAFF);
        assert_int_equal(back.part, 4 + i);
        assert_int_equal(back.recorded_at, now);
    }
    /* bodies are stored, not re-encoded: a second read is byte-identical */
    agent_event_t again[10];
    assert_int_equal(s_outbox_read(ob, 3, again, 4), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(again[i].len, ev[i].len);
        assert_memory_equal(again[i].body, ev[i].body, ev[i].len);
    }
    assert_int_equal(s_outbox_read(ob, 8, ev, 10), 2);
    assert_int_equal(ev[0].seq, 9);
    assert_int_equal(ev[1].seq, 10);
    assert_int_equal(s_outbox_read(ob, 10, ev, 10), 0);
    assert_int_equal(s_outbox_read(ob, 0, ev, 0), 0);
    agent_outbox_destroy(&ob);
}

/* agent_outbox_each's callback for the test below: takes `take` events,
 * then says stop; remembers what it saw. */
typedef struct {
    int take;
    int calls;
    uint64_t seqs[16];
    agent_event_t copies[16];
} each_t;

static int s_each_take(void *arg, uint64_t seq, const uint8_t *body, size_t len)
{
    each_t *e = arg;
    int i = e->calls++;
    e->seqs[i] = seq;
    e->copies[i].seq = seq;
    e->copies[i].len = len;
    memcpy(e->copies[i].body, body, len);
    return i >= e->take;
}

static void test_each_hands_rows_and_stops_when_told(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_append_n(f, ob, 6);
    assert_int_equal(agent_outbox_ack(ob, 1, ro_time_now()), 0);

    /* fn takes two and refuses the third: 2 taken, the third not counted */
    each_t e = {.take = 2};
    assert_int_equal(agent_outbox_each(ob, 1, 10, s_each_take, &e), 2);
    assert_int_equal(e.calls, 3);
    assert_int_equal(e.seqs[0], 2);
    assert_int_equal(e.seqs[1], 3);
    assert_int_equal(e.seqs[2], 4);

    /* the same bytes agent_outbox_read copies */
    agent_event_t ev[8];
    assert_int_equal(s_outbox_read(ob, 1, ev, 8), 5);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ev[i].seq, e.copies[i].seq);
        assert_int_equal(ev[i].len, e.copies[i].len);
        assert_memory_equal(ev[i].body, e.copies[i].body, ev[i].len);
    }

    /* max bounds it; nothing after the last; max 0 calls nothing */
    each_t all = {.take = 100};
    assert_int_equal(agent_outbox_each(ob, 1, 4, s_each_take, &all), 4);
    assert_int_equal(all.calls, 4);
    each_t none = {.take = 100};
    assert_int_equal(agent_outbox_each(ob, 6, 10, s_each_take, &none), 0);
    assert_int_equal(agent_outbox_each(ob, 0, 0, s_each_take, &none), 0);
    assert_int_equal(none.calls, 0);
    agent_outbox_destroy(&ob);
}

/* Releasing memory drops caches and cold statements, never data: every verb
 * works after it (the statements are prepared again) and sees the same rows. */
static void test_release_changes_nothing_visible(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    agent_outbox_release(ob); /* before anything was used */
    s_append_n(f, ob, 4);
    agent_outbox_release(ob);
    assert_int_equal(agent_outbox_ack(ob, 1, ro_time_now()), 0);
    agent_outbox_release(ob);
    assert_int_equal(agent_outbox_refuse(ob, 3, RO_REASON_INVALID, "bad", 1700000000), 0);
    agent_outbox_release(ob);
    agent_refusal_t rf[2];
    assert_int_equal(agent_outbox_refused_last(ob, rf, 2), 1);
    assert_int_equal(rf[0].seq, 3);
    agent_outbox_release(ob);
    s_append_n(f, ob, 1);
    agent_outbox_stats_t st;
    s_stats(ob, &st);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.next_seq, 6);
    assert_int_equal(st.last_ack, 1);
    assert_int_equal(st.refused, 1);
    agent_event_t ev[8];
    assert_int_equal(s_outbox_read(ob, 0, ev, 8), 3);
    assert_int_equal(ev[0].seq, 2);
    assert_int_equal(ev[1].seq, 4);
    assert_int_equal(ev[2].seq, 5);
    agent_outbox_destroy(&ob);
}

/* ---- bounds and batches ------------------------------------------------ */

static void test_outbox_max_refuses_and_keeps_earlier(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    agent_outbox_set_max(ob, 3);
    s_append_n(f, ob, 3);
    ro_report_t r = s_staff(40, 1);
    assert_int_equal(agent_outbox_append(ob, &r, ro_time_now(), f->err, sizeof f->err),
                     AGENT_OUTBOX_FULL);
    assert_non_null(strstr(f->err, "outbox full"));
    assert_non_null(strstr(f->err, "3 events waiting"));
    agent_outbox_stats_t st;
    s_stats(ob, &st);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.next_seq, 4);
    agent_event_t ev[4];
    assert_int_equal(s_outbox_read(ob, 0, ev, 4), 3);

    /* room for one after an ack, but not for a batch of two */
    assert_int_equal(agent_outbox_ack(ob, 1, ro_time_now()), 0);
    ro_report_t two[2] = {s_staff(40, 2), s_staff(40, 3)};
    assert_int_equal(
        agent_outbox_append_batch(ob, two, 2, ro_time_now(), NULL, NULL, f->err, sizeof f->err),
        AGENT_OUTBOX_FULL);
    s_stats(ob, &st);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.next_seq, 4);
    r = s_staff(40, 1);
    assert_int_equal(agent_outbox_append(ob, &r, ro_time_now(), f->err, sizeof f->err), 4);
    agent_outbox_destroy(&ob);
}

static void test_batch_is_all_or_nothing(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    ro_report_t rs[3] = {s_staff(40, 31), s_staff(40, 50) /* part above total */, s_staff(40, 2)};
    uint64_t first = 777;
    size_t bad = 99;
    assert_int_equal(
        agent_outbox_append_batch(ob, rs, 3, ro_time_now(), &first, &bad, f->err, sizeof f->err),
        AGENT_OUTBOX_INVALID);
    assert_int_equal(bad, 1);
    assert_int_equal(first, 777);
    assert_non_null(strstr(f->err, "above total"));
    agent_outbox_stats_t st;
    s_stats(ob, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.next_seq, 1);

    /* a date after today + 1 day is refused too (ro_report_ahead): the hub would hold it */
    ro_report_t fut = s_staff(40, 1);
    fut.date = ro_date_of(ro_time_now() + 40 * 86400);
    assert_int_equal(agent_outbox_append(ob, &fut, ro_time_now(), f->err, sizeof f->err),
                     AGENT_OUTBOX_INVALID);

    rs[1] = s_staff(40, 39);
    assert_int_equal(
        agent_outbox_append_batch(ob, rs, 3, ro_time_now(), &first, &bad, f->err, sizeof f->err),
        AGENT_OUTBOX_OK);
    assert_int_equal(first, 1);
    s_stats(ob, &st);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.next_seq, 4);
    agent_event_t ev[4];
    assert_int_equal(s_outbox_read(ob, 0, ev, 4), 3);
    assert_int_equal(ev[2].seq, 3);
    agent_outbox_destroy(&ob);
}

/* ---- files that must be refused ---------------------------------------- */

static void test_other_units_file_refused(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    s_append_n(f, ob, 2);
    agent_outbox_destroy(&ob);

    ob = agent_outbox_open(f->path, OTHER_UNIT, AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    assert_null(ob);
    assert_non_null(strstr(f->err, "belongs to unit " UNIT));
    assert_non_null(strstr(f->err, OTHER_UNIT));

    /* and the rightful unit still finds its events */
    ob = s_open(f, UNIT);
    assert_non_null(ob);
    assert_int_equal(agent_outbox_depth(ob), 2);
    assert_string_equal(agent_outbox_unit(ob), UNIT);
    agent_outbox_destroy(&ob);
}

static void test_garbage_file_refused_untouched(void **state)
{
    fixture_t *f = *state;
    uint8_t junk[8192];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        junk[i] = (uint8_t)x;
    }
    s_spill(f->path, junk, sizeof junk);
    s_assert_refused_untouched(f, "not a database");

    /* a real header over junk pages gets past the first look, not past SQLite */
    memcpy(junk, "SQLite format 3", 16);
    s_spill(f->path, junk, sizeof junk);
    s_assert_refused_untouched(f, NULL);
}

static void test_empty_file_refused_untouched(void **state)
{
    fixture_t *f = *state;
    s_spill(f->path, (const uint8_t *)"", 0);
    s_assert_refused_untouched(f, "empty");
}

static void test_truncated_outbox_refused_untouched(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob = s_open(f, UNIT);
    assert_non_null(ob);
    ro_report_t rs[400];
    for (int i = 0; i < 400; i++) {
        rs[i] = s_staff(1000, (uint32_t)i);
        rs[i].kind = RO_KIND_TRAINING;
        rs[i].total = 5;
        rs[i].part = 15;
        snprintf(rs[i].text, sizeof rs[i].text, "course %d: long enough to fill a few pages", i);
    }
    assert_int_equal(
        agent_outbox_append_batch(ob, rs, 400, ro_time_now(), NULL, NULL, f->err, sizeof f->err),
        AGENT_OUTBOX_OK);
    agent_outbox_destroy(&ob);

    size_t len;
    uint8_t *whole = s_slurp(f->path, &len);
    assert_true(len >= 8 * 4096); /* several pages, so half of it is a real loss */
    assert_int_equal(truncate(f->path, (off_t)(len / 2)), 0);
    s_assert_refused_untouched(f, NULL);

    /* cut mid-page as well */
    s_spill(f->path, whole, len / 2 + 1000);
    s_assert_refused_untouched(f, NULL);
    free(whole);
}

static void test_missing_file_and_folder(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *ob =
        agent_outbox_open(f->path, UNIT, AGENT_OUTBOX_EXISTING, f->err, sizeof f->err);
    assert_null(ob);
    assert_non_null(strstr(f->err, "no outbox"));
    assert_int_equal(access(f->path, F_OK), -1); /* not created */

    char deep[400];
    snprintf(deep, sizeof deep, "%s/no/such/folder/outbox.db", f->dir);
    ob = agent_outbox_open(deep, UNIT, AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    assert_null(ob);
    assert_non_null(strstr(f->err, "does not exist"));

    ob = agent_outbox_open(f->path, "not-a-unit", AGENT_OUTBOX_CREATE, f->err, sizeof f->err);
    assert_null(ob);

    /* created: the folder holds the outbox and no leftover temporary file */
    ob = s_open(f, UNIT);
    assert_non_null(ob);
    agent_outbox_destroy(&ob);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.new-%ld", f->path, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(f->path, F_OK), 0);
}

/* ---- the idle sender's cheap check ------------------------------------- */

static void test_data_version_sees_other_connection(void **state)
{
    fixture_t *f = *state;
    agent_outbox_t *a = s_open(f, UNIT);
    agent_outbox_t *b = s_open(f, UNIT);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(agent_outbox_changed(a), 0);

    ro_report_t r = s_staff(40, 31);
    assert_int_equal(agent_outbox_append(b, &r, ro_time_now(), f->err, sizeof f->err), 1);
    assert_int_equal(agent_outbox_changed(a), 1);
    assert_int_equal(agent_outbox_changed(a), 0);
    agent_event_t ev[2];
    assert_int_equal(s_outbox_read(a, 0, ev, 2), 1);

    /* a's own commits are not news to a */
    assert_int_equal(agent_outbox_ack(a, 1, ro_time_now()), 0);
    assert_int_equal(agent_outbox_changed(a), 0);
    assert_int_equal(agent_outbox_changed(b), 1);

    agent_outbox_destroy(&a);
    agent_outbox_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_assigns_1_2_3, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_survives_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ack_deletes_and_persists, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_moves_to_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_non_final_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_read_after_in_order_with_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_each_hands_rows_and_stops_when_told, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_release_changes_nothing_visible, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_max_refuses_and_keeps_earlier, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_is_all_or_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_other_units_file_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file_refused_untouched, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_refused_untouched, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_outbox_refused_untouched, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_folder, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_data_version_sees_other_connection, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
