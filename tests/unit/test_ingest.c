/* test_ingest: the socket-free half of hub_ingest (dedup, conflict, gap,
 * invalid, unknown unit, a batch held while the store is full) and the
 * status answers over what it stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"
#include "hub_fixture.h"
#include "ingest.h"
#include "ro_codec.h"
#include "ro_status.h"
#include "ro_time.h"
#include "status.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

/* ---- ingest without sockets ----------------------------------------------- */

typedef struct {
    ro_registry_t *reg;
    hub_store_t *store;
    hub_unit_state_t states[NUNITS];
    hub_ingest_t *ingest;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->reg = hf_registry();
    f->store = hf_open(":memory:", 0);
    if (hub_store_load_states(f->store, f->reg, f->states, NULL, 0))
        return -1;
    f->ingest = hub_ingest_new(f->store, f->reg, f->states, 64);
    *state = f;
    return f->ingest ? 0 : -1;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    hub_ingest_destroy(&f->ingest);
    hub_store_destroy(&f->store);
    ro_registry_destroy(&f->reg);
    free(f);
    return 0;
}

static void s_send(fixture_t *f, const char *peer, const ro_report_t *r)
{
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_ingest_add(f->ingest, peer, strlen(peer), buf, (size_t)n, 1), 0);
}

/* The replies of the last flush as lines "peer ack UNIT N" / "peer refusal UNIT N reason". */
static void s_replies(fixture_t *f, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < hub_ingest_reply_count(f->ingest); i++) {
        const hub_ingest_reply_t *r = hub_ingest_reply_at(f->ingest, i);
        int n;
        if (r->msg.kind == RO_HUBMSG_ACK)
            n = snprintf(out + used, cap - used, "%.*s ack %s %llu\n", (int)r->rid_len,
                         (const char *)r->rid, r->msg.unit, (unsigned long long)r->msg.seq);
        else
            n = snprintf(out + used, cap - used, "%.*s refusal %s %llu %s\n", (int)r->rid_len,
                         (const char *)r->rid, r->msg.unit, (unsigned long long)r->msg.seq,
                         ro_reason_name(r->msg.reason));
        used += (size_t)n;
    }
}

static void test_ingest_dedup_acks_each_resend(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t r = hf_report("469002-003", 1, RO_KIND_ITEMS, 20180105, 50, 20);
    for (int i = 0; i < 3; i++)
        s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    /* one ack for the stored report, one per resend */
    assert_string_equal(out, "A ack 469002-003 1\nA ack 469002-003 1\nA ack 469002-003 1\n");
    const hub_ingest_counters_t *c = hub_ingest_counters(f->ingest);
    assert_int_equal(c->reports_stored, 1);
    assert_int_equal(c->duplicates, 2);
    assert_int_equal(c->batches, 1);
    assert_int_equal(c->last_batch_size, 3);
    assert_int_equal(f->states[2].reports, 1);
    assert_int_equal(f->states[2].items_no_visit, 20);
    assert_int_equal(f->states[2].last_heard, NOW);

    /* again in a later batch: still stored once */
    s_send(f, "B", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "B ack 469002-003 1\n");
    assert_int_equal(f->states[2].reports, 1);
    assert_int_equal(c->duplicates, 3);

    /* two new reports from two peers: each peer hears one ack */
    ro_report_t r2 = hf_report("469002-003", 2, RO_KIND_STAFF, 20180105, 10, 5);
    ro_report_t r3 = hf_report("469002-003", 3, RO_KIND_STAFF, 20180106, 10, 6);
    s_send(f, "A", &r2);
    s_send(f, "A", &r3);
    s_send(f, "C", &r3);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A ack 469002-003 3\nC ack 469002-003 3\n");
    assert_int_equal(f->states[2].staff_proficient, 6);

    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(f->store, f->reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, f->states, NUNITS);
}

/* A unit in two batches in a row leaves its day rows for the quiet after
 * (hub_store_days_refresh then re-derives it); one that skipped a batch,
 * reports for the first time, or after ingest was quiet, has them written
 * with its reports. */
static void test_ingest_busy_unit_days_later(void **state)
{
    fixture_t *f = *state;
    const char *u = "469002-003", *v = "460100-001";
    uint64_t seq = 0;
    ro_report_t r = hf_report(u, ++seq, RO_KIND_TRAINING, 20180105, 10, 20);
    s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_store_days_refresh(f->store, 10000, NULL, 0), 0); /* none stale */
    r = hf_report(u, ++seq, RO_KIND_TRAINING, 20180106, 10, 20);
    s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_store_days_refresh(f->store, 10000, NULL, 0), 1); /* u, left */
    ro_report_t w = hf_report(v, 1, RO_KIND_TRAINING, 20180106, 5, 20);
    s_send(f, "B", &w);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    r = hf_report(u, ++seq, RO_KIND_TRAINING, 20180107, 10, 20);
    s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_store_days_refresh(f->store, 10000, NULL, 0), 0); /* u skipped one */
    r = hf_report(u, ++seq, RO_KIND_TRAINING, 20180108, 10, 20);
    s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_store_days_refresh(f->store, 10000, NULL, 0), 1); /* in a row again */
    hub_ingest_quiet(f->ingest);
    r = hf_report(u, ++seq, RO_KIND_TRAINING, 20180109, 10, 20);
    s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_store_days_refresh(f->store, 10000, NULL, 0), 0); /* a quiet between */
    assert_int_equal(hub_store_recount(f->store, NULL, 0, NULL, NULL, NULL, 0), 0);
}

static void test_ingest_conflict_gap_invalid(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t r1 = hf_report("460100-001", 1, RO_KIND_ITEMS, 20180105, 50, 20);
    s_send(f, "A", &r1);
    ro_report_t other = r1;
    other.part = 49; /* same seq, another body */
    s_send(f, "A", &other);
    ro_report_t gap = hf_report("460100-001", 3, RO_KIND_STAFF, 20180105, 10, 5);
    s_send(f, "A", &gap);
    hub_committed_t *committed = hub_committed_new(f->reg, NULL, f->states);
    assert_non_null(committed);
    hub_ingest_set_committed(f->ingest, committed);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 1 conflict\nA ack 460100-001 1\n");
    /* the gap is published for the problems list (the store does not keep it) */
    const hub_unit_flags_t *flags = hub_committed_flags(committed);
    assert_int_equal(flags[1].gap_since, NOW);
    assert_int_equal(flags[1].gap_seq, 3);
    const hub_ingest_counters_t *c = hub_ingest_counters(f->ingest);
    assert_int_equal(c->conflicts, 1);
    assert_int_equal(c->refused[RO_REASON_CONFLICT], 1);
    assert_int_equal(c->gaps, 1);
    assert_int_equal(f->states[1].items_no_visit, 20);
    assert_int_equal(f->states[1].reports, 1);

    /* seq 2 is invalid (part above total): refused, kept, and the stream moves on */
    ro_report_t bad = hf_report("460100-001", 2, RO_KIND_STAFF, 20180105, 10, 11);
    s_send(f, "A", &bad);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 2 invalid\nA ack 460100-001 2\n");
    assert_int_equal(f->states[1].last_seq, 2);
    assert_int_equal(f->states[1].reports, 1);
    assert_int_equal(c->refused[RO_REASON_INVALID], 1);
    assert_int_equal(flags[1].gap_since, 0); /* seq 2 handled: the unit moved on */
    uint64_t hash;
    assert_int_equal(hub_store_find(f->store, 1, hf_iid(f->store, 1), 2, &hash, NULL, NULL, 0), 2);

    /* the same invalid body again: a duplicate, and the refusal is said again */
    s_send(f, "A", &bad);
    s_send(f, "A", &gap); /* now seq 3 is next: stored */
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 2 invalid\nA ack 460100-001 3\n"
                             "A ack 460100-001 3\n");
    assert_int_equal(c->refused[RO_REASON_INVALID], 1);
    assert_int_equal(f->states[1].reports, 2);
    assert_int_equal(f->states[1].staff_total, 10);
    assert_int_equal(hub_store_recount(f->store, NULL, 0, NULL, NULL, NULL, 0), 0);
    hub_ingest_set_committed(f->ingest, NULL);
    hub_committed_destroy(&committed);
}

static void test_ingest_unknown_malformed_heartbeat(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t unknown = hf_report("469030-999", 1, RO_KIND_STAFF, 20180105, 10, 5);
    s_send(f, "A", &unknown);
    assert_int_equal(hub_ingest_add(f->ingest, "B", 1, "\x0a\x0b\x0c", 3, 1), 0);
    assert_int_equal(hub_ingest_add(f->ingest, "C", 1, "x", 1, 3), 0);
    ro_report_t old = hf_report("460000-001", 1, RO_KIND_STAFF, 20180105, 10, 5);
    old.version = 7;
    s_send(f, "D", &old);
    ro_report_t hb = hf_report("460000-001", 0, RO_KIND_HEARTBEAT, 0, 0, 0);
    snprintf(hb.text, sizeof hb.text, "agent 0.1");
    s_send(f, "E", &hb);
    ro_report_t zero = hf_report("460000-001", 0, RO_KIND_STAFF, 20180105, 10, 5);
    s_send(f, "E", &zero);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 5), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 469030-999 1 unknown-unit\n"
                             "B refusal  0 malformed\n"
                             "C refusal  0 malformed\n"
                             "D refusal 460000-001 1 version\n"
                             "E refusal 460000-001 0 invalid\n"
                             "E ack 460000-001 0\n");
    const hub_ingest_counters_t *c = hub_ingest_counters(f->ingest);
    assert_int_equal(c->refused[RO_REASON_UNKNOWN_UNIT], 1);
    assert_int_equal(c->refused[RO_REASON_MALFORMED], 2);
    assert_int_equal(c->refused[RO_REASON_VERSION], 1);
    assert_int_equal(c->refused[RO_REASON_INVALID], 1);
    assert_int_equal(c->heartbeats, 1);
    assert_int_equal(c->reports_stored, 0);
    /* the heartbeat's last_heard is persisted with the batch */
    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(f->store, f->reg, again, NULL, 0), 0);
    assert_int_equal(again[0].last_heard, NOW + 5);
    assert_int_equal(again[0].reports, 0);
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(f->store, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(reports, 0);

    hub_metric_t m[HUB_INGEST_METRICS_MAX];
    size_t n =
        hub_ingest_counters_metrics(hub_ingest_counters(f->ingest), m, HUB_INGEST_METRICS_MAX);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].name, "refused_unknown-unit") && m[i].value == 1.0)
            seen = 1;
    assert_true(seen);
}

/* A report that decodes but breaks a limit (a NUL byte in its course) is
 * refused by name and uses its seq up: the next one is stored, not a gap. A
 * resend in other bytes (an unknown field added) is the same report. */
static void test_ingest_refusal_uses_up_seq(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t one = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180105, 10, 20);
    ro_report_t two = hf_report("460100-001", 2, RO_KIND_TRAINING, 20180106, 10, 20);
    ro_report_t three = hf_report("460100-001", 3, RO_KIND_TRAINING, 20180107, 10, 20);
    snprintf(two.text, sizeof two.text, "course");
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&two, buf, sizeof buf);
    uint8_t *c = memmem(buf, (size_t)n, "course", 6);
    assert_non_null(c);
    c[2] = '\0';
    s_send(f, "A", &one);
    assert_int_equal(hub_ingest_add(f->ingest, "A", 1, buf, (size_t)n, 1), 0);
    s_send(f, "A", &three);
    n = ro_report_encode(&one, buf, sizeof buf);
    buf[n++] = 0x98, buf[n++] = 0x06, buf[n++] = 0x01; /* field 99 = 1 */
    assert_int_equal(hub_ingest_add(f->ingest, "B", 1, buf, (size_t)n, 1), 0);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 2 malformed\nA ack 460100-001 3\n"
                             "B ack 460100-001 3\n");
    const hub_ingest_counters_t *k = hub_ingest_counters(f->ingest);
    assert_int_equal(k->reports_stored, 2);
    assert_int_equal(k->duplicates, 1);
    assert_int_equal(k->conflicts, 0);
    assert_int_equal(k->gaps, 0);
    assert_int_equal(k->unknown_fields, 1);
    assert_int_equal(f->states[1].last_seq, 3);
    /* the refused seq sent again is the same refusal, not a conflict */
    n = ro_report_encode(&two, buf, sizeof buf);
    c = memmem(buf, (size_t)n, "course", 6);
    c[2] = '\0';
    assert_int_equal(hub_ingest_add(f->ingest, "A", 1, buf, (size_t)n, 1), 0);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A refusal 460100-001 2 malformed\nA ack 460100-001 3\n");
    assert_int_equal(k->conflicts, 0);
    /* another version: refused by name, nothing recorded, not even last_heard */
    ro_report_t v2 = hf_report("460000-001", 1, RO_KIND_TRAINING, 20180105, 10, 20);
    v2.version = RO_PROTOCOL_VERSION + 1;
    s_send(f, "C", &v2);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "C refusal 460000-001 1 version\n");
    assert_int_equal(f->states[0].last_seq, 0);
    assert_int_equal(f->states[0].last_heard, 0);
}

static void test_ingest_batch_full(void **state)
{
    fixture_t *f = *state;
    ro_report_t r = hf_report("460000-001", 1, RO_KIND_STAFF, 20180105, 10, 5);
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&r, buf, sizeof buf);
    for (int i = 0; i < 64; i++)
        assert_int_equal(hub_ingest_add(f->ingest, "A", 1, buf, (size_t)n, 1), 0);
    assert_int_equal(hub_ingest_add(f->ingest, "A", 1, buf, (size_t)n, 1), -1);
    assert_int_equal(hub_ingest_pending(f->ingest), 64);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_int_equal(hub_ingest_pending(f->ingest), 0);
    assert_int_equal(hub_ingest_reply_count(f->ingest), 64);
    assert_int_equal(hub_ingest_counters(f->ingest)->duplicates, 63);
}

static void test_ingest_holds_batch_while_full(void **state)
{
    (void)state;
    const char *path = hf_path("ingest-full.db");
    hf_remove_db(path);
    ro_registry_t *reg = hf_registry();
    hub_store_t *st = hf_open(path, 48 * 1024);
    hub_unit_state_t states[NUNITS] = {0};
    assert_int_equal(hub_store_load_states(st, reg, states, NULL, 0), 0);
    hub_ingest_t *ing = hub_ingest_new(st, reg, states, 1000);
    assert_non_null(ing);

    uint8_t buf[RO_FRAME_MAX];
    for (uint64_t seq = 1; seq <= 1000; seq++) {
        ro_report_t r = hf_report("460100-001", seq, RO_KIND_TRAINING, 20180401, 3, 10);
        memset(r.text, 'y', RO_TEXT_MAX);
        r.text[RO_TEXT_MAX] = '\0';
        int n = ro_report_encode(&r, buf, sizeof buf);
        assert_int_equal(hub_ingest_add(ing, "peer", 4, buf, (size_t)n, 1), 0);
    }
    assert_int_equal(hub_ingest_flush(ing, NOW), HUB_STORE_EFULL);
    assert_true(hub_ingest_held(ing));
    assert_int_equal(hub_ingest_store_state(ing), HUB_STORE_STATE_FULL);
    assert_string_equal(hub_store_state_name(hub_ingest_store_state(ing)), "full");
    assert_int_equal(hub_ingest_reply_count(ing), 0); /* no acks for what is not stored */
    assert_int_equal(states[1].reports, 0);           /* states reloaded from the store */
    assert_int_equal(states[1].last_seq, 0);
    assert_int_equal(hub_ingest_counters(ing)->commit_failures, 1);
    assert_int_equal(hub_ingest_counters(ing)->reports_stored, 0);
    assert_int_equal(hub_ingest_add(ing, "peer", 4, buf, 10, 1), -1); /* nothing more in */
    assert_int_equal(hub_ingest_pending(ing), 1000);
    assert_true(hub_ingest_retry_in(ing, 0) >= 0);
    /* a retry that is not due yet does nothing */
    assert_int_equal(hub_ingest_retry(ing, NULL, NOW, INT64_MIN / 2, 0), -1);
    assert_int_equal(hub_ingest_counters(ing)->commit_failures, 1);

    /* still full: still held */
    assert_int_equal(hub_ingest_retry(ing, NULL, NOW, 0, 1), -1);
    assert_int_equal(hub_ingest_counters(ing)->commit_failures, 2);

    assert_int_equal(hub_store_set_max_bytes(st, 0, NULL, 0), 0);
    assert_int_equal(hub_ingest_retry(ing, NULL, NOW, 0, 1), 0);
    assert_false(hub_ingest_held(ing));
    assert_int_equal(hub_ingest_store_state(ing), HUB_STORE_STATE_OK);
    assert_int_equal(hub_ingest_reply_count(ing), 1);
    assert_int_equal(hub_ingest_reply_at(ing, 0)->msg.seq, 1000);
    assert_int_equal(states[1].reports, 1000);
    assert_int_equal(hub_ingest_counters(ing)->reports_stored, 1000);
    assert_int_equal(hub_store_recount(st, NULL, 0, NULL, NULL, NULL, 0), 0);

    hub_ingest_destroy(&ing);
    assert_null(ing);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

static double s_metric(fixture_t *f, const char *name)
{
    hub_metric_t m[HUB_INGEST_METRICS_MAX];
    size_t n =
        hub_ingest_counters_metrics(hub_ingest_counters(f->ingest), m, HUB_INGEST_METRICS_MAX);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].name, name))
            return m[i].value;
    fail_msg("no metric %s", name);
    return -1;
}

/* A report dated after the hub's today + 1 day (the hub's clock may be the
 * one that is behind) is stored and acknowledged, but held: counted nowhere
 * until the hub's date reaches it. Then it counts as a recount says: a
 * later-seq snapshot of the same date, stored before the release, still
 * wins. A resend while held is a duplicate. */
static void test_ingest_holds_report_ahead_of_clock(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    uint32_t ahead = ro_date_of(NOW + 3 * 86400); /* 2019-01-04 */
    ro_report_t r1 = hf_report("460100-001", 1, RO_KIND_ITEMS, 20181220, 50, 20);
    ro_report_t r2 = hf_report("460100-001", 2, RO_KIND_ITEMS, ahead, 80, 60);
    ro_report_t r3 = hf_report("460100-001", 3, RO_KIND_TRAINING, ahead, 12, 30);
    s_send(f, "A", &r1);
    s_send(f, "A", &r2);
    s_send(f, "A", &r3);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A ack 460100-001 3\n");
    hub_unit_state_t *u = &f->states[1];
    assert_int_equal(u->last_seq, 3);
    assert_int_equal(u->reports, 1);
    assert_int_equal(u->items_no_visit, 20);
    assert_int_equal(u->sessions, 0);
    assert_int_equal(hub_ingest_counters(f->ingest)->refused[RO_REASON_INVALID], 0);
    assert_true(s_metric(f, "held_clock") == 2.0);
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(f->store, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(reports, 1);

    /* still held a day later (the 2nd + 1 day is before the 4th); a resend
     * is a duplicate, and seq 4, a later snapshot of the same date, too is
     * held */
    ro_report_t r4 = hf_report("460100-001", 4, RO_KIND_ITEMS, ahead, 90, 10);
    s_send(f, "A", &r2);
    s_send(f, "A", &r4);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 86400), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A ack 460100-001 4\nA ack 460100-001 4\n");
    assert_int_equal(hub_ingest_counters(f->ingest)->duplicates, 1);
    assert_int_equal(u->reports, 1);
    assert_true(s_metric(f, "held_clock") == 3.0);

    /* four days later any batch releases them: a heartbeat will do */
    ro_report_t hb = hf_report("460000-001", 0, RO_KIND_HEARTBEAT, 0, 0, 0);
    s_send(f, "B", &hb);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 4 * 86400), 0);
    assert_int_equal(u->reports, 4);
    assert_int_equal(u->sessions, 1);
    assert_int_equal(u->participants, 12);
    assert_int_equal(u->items_date, ahead);
    assert_int_equal(u->items_no_visit, 10); /* seq 4 beats seq 2 of the same date */
    assert_int_equal(u->last_seq, 4);
    assert_true(s_metric(f, "held_clock") == 0.0);
    size_t nchanged = 0;
    const uint32_t *changed = hub_ingest_changed(f->ingest, &nchanged);
    int published = 0;
    for (size_t i = 0; i < nchanged; i++)
        published |= changed[i] == 1;
    assert_true(published);
    assert_int_equal(hub_store_recount(f->store, NULL, 0, &units, &reports, NULL, 0), 0);
    assert_int_equal(reports, 4);
    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(f->store, f->reg, again, NULL, 0), 0);
    hf_assert_states_equal(again, f->states, NUNITS);
}

/* The held count and the earliest due day survive a restart (a new ingest
 * reads them from the store), and a month of cases is due on its 1st. */
static void test_ingest_held_survives_restart(void **state)
{
    fixture_t *f = *state;
    ro_report_t c = hf_report("469002-003", 1, RO_KIND_CASES, 201902, 100, 40);
    s_send(f, "A", &c);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    assert_true(s_metric(f, "held_clock") == 1.0);
    hub_ingest_destroy(&f->ingest);
    assert_int_equal(hub_store_load_states(f->store, f->reg, f->states, NULL, 0), 0);
    f->ingest = hub_ingest_new(f->store, f->reg, f->states, 64);
    assert_non_null(f->ingest);
    assert_true(s_metric(f, "held_clock") == 1.0);
    ro_report_t hb = hf_report("469002-003", 0, RO_KIND_HEARTBEAT, 0, 0, 0);
    s_send(f, "A", &hb);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 29 * 86400), 0); /* 01-30 + 1 day */
    assert_int_equal(f->states[2].reports, 0);
    s_send(f, "A", &hb);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 30 * 86400), 0); /* 01-31 + 1 day */
    assert_int_equal(f->states[2].reports, 1);
    assert_int_equal(f->states[2].cases_month, 201902);
    assert_true(s_metric(f, "held_clock") == 0.0);
    assert_int_equal(hub_store_recount(f->store, NULL, 0, NULL, NULL, NULL, 0), 0);
}

/* recorded_at is no reason to refuse: an agent whose clock is years ahead
 * has its report stored and counted (its date is what counts). */
static void test_ingest_recorded_at_ahead_stored(void **state)
{
    fixture_t *f = *state;
    char out[256];
    ro_report_t r = hf_report("460000-001", 1, RO_KIND_STAFF, 20181231, 10, 4);
    r.recorded_at = NOW + 5 * 365 * 86400;
    s_send(f, "A", &r);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "A ack 460000-001 1\n");
    assert_int_equal(f->states[0].reports, 1);
    assert_int_equal(f->states[0].staff_proficient, 4);
    assert_true(s_metric(f, "held_clock") == 0.0);
}

/* ---- status answers ------------------------------------------------------- */

/* The hub's answer to req, through the wire's bytes both ways. */
static ro_status_reply_t *s_answer(hub_status_t *status, const ro_status_request_t *req)
{
    uint8_t buf[512], *out = NULL;
    size_t n = (size_t)ro_status_request_encode(req, buf, sizeof buf), out_len = 0;
    assert_int_equal(hub_status_answer(status, buf, n, NOW, &out, &out_len), 0);
    ro_status_reply_t *r = ro_status_reply_decode(out, out_len, RO_DECODE_STRICT, NULL, 0);
    free(out);
    assert_non_null(r);
    return r;
}

static ro_status_reply_t *s_ask(hub_status_t *status, ro_query_t q, const char *key)
{
    ro_status_request_t req = ro_status_request(q);
    if (key)
        snprintf(req.key, sizeof req.key, "%s", key);
    return s_answer(status, &req);
}

/* ---- protocol version 2: a sequence per incarnation ------------------------ */

/* A version-2 report of 460100-001 under the incarnation of 16 bytes b. */
static ro_report_t s_v2(uint8_t b, uint64_t seq, uint32_t total)
{
    ro_report_t r = hf_report("460100-001", seq, RO_KIND_TRAINING, 20180105, total, 20);
    r.version = 2;
    memset(r.incarnation, b, sizeof r.incarnation);
    return r;
}

/* A version-2 heartbeat of 460100-001 under the incarnation of 16 bytes b:
 * the agent's clock agent_time (0: an earlier incarnation's, which no
 * agent records in), and last_ack acknowledged seqs, all of them kept. */
static ro_report_t s_hb2(uint8_t b, int64_t agent_time, uint64_t last_ack)
{
    ro_report_t hb = s_v2(b, 0, 0);
    hb.kind = RO_KIND_HEARTBEAT, hb.date = hb.total = hb.part = 0;
    strcpy(hb.text, "test");
    hb.agent_time = agent_time;
    hb.last_ack = hb.retained = last_ack;
    hb.retained_from = last_ack ? 1 : 0;
    return hb;
}

/* The replies of the last flush with the version-2 fields: "peer ack N
 * inc=XX hash=H seen=S v=V" / "peer refusal N reason inc=XX", where XX is
 * the incarnation's first byte and H the upto_hash, or "-" when zero. */
static void s_replies_v2(fixture_t *f, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < hub_ingest_reply_count(f->ingest); i++) {
        const ro_hubmsg_t *m = &hub_ingest_reply_at(f->ingest, i)->msg;
        const hub_ingest_reply_t *r = hub_ingest_reply_at(f->ingest, i);
        char hash[24] = "-";
        if (m->upto_hash)
            snprintf(hash, sizeof hash, "%llx", (unsigned long long)m->upto_hash);
        if (m->kind == RO_HUBMSG_ACK)
            used += (size_t)snprintf(out + used, cap - used,
                                     "%.*s ack %llu inc=%02x hash=%s "
                                     "seen=%llu v=%u\n",
                                     (int)r->rid_len, (const char *)r->rid,
                                     (unsigned long long)m->seq, m->incarnation[0], hash,
                                     (unsigned long long)m->seen, m->hub_version);
        else
            used +=
                (size_t)snprintf(out + used, cap - used, "%.*s refusal %llu %s inc=%02x\n",
                                 (int)r->rid_len, (const char *)r->rid, (unsigned long long)m->seq,
                                 ro_reason_name(m->reason), m->incarnation[0]);
    }
}

static void s_flush(fixture_t *f, char *out, size_t cap)
{
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies_v2(f, out, cap);
}

/* Two outboxes of one unit (a copied folder that drew a new incarnation,
 * or a replaced disk) and its legacy sequence count apart: each from seq 1,
 * acked per incarnation with the content hash at upto. Their agents'
 * heartbeats flag two agents. */
static void test_ingest_v2_incarnations(void **state)
{
    fixture_t *f = *state;
    char out[1024], want[512];
    ro_report_t a1 = s_v2(0xaa, 1, 10), a2 = s_v2(0xaa, 2, 11), b1 = s_v2(0xbb, 1, 12);
    ro_report_t l1 = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180105, 13, 20);
    ro_report_t ha = s_hb2(0xaa, NOW, 0), hb = s_hb2(0xbb, NOW, 0);
    s_send(f, "A", &a1);
    s_send(f, "A", &a2);
    s_send(f, "B", &b1);
    s_send(f, "L", &l1);
    s_send(f, "A", &ha); /* answered by A's ack above */
    s_send(f, "B", &hb);
    s_flush(f, out, sizeof out);
    snprintf(want, sizeof want,
             "A ack 2 inc=aa hash=%llx seen=0 v=2\nB ack 1 inc=bb hash=%llx seen=0 v=2\n"
             "L ack 1 inc=00 hash=- seen=0 v=0\n",
             (unsigned long long)ro_report_hash(&a2), (unsigned long long)ro_report_hash(&b1));
    assert_string_equal(out, want);
    assert_int_equal(f->states[1].reports, 4); /* a1, a2, b1, l1 */
    assert_int_equal(f->states[1].participants, 10 + 11 + 12 + 13);
    assert_int_equal(f->states[1].last_seq, 1); /* the legacy sequence's */
    assert_int_equal(hub_ingest_counters(f->ingest)->two_agent_units, 1);

    /* a resend is seen; the same seq with another report is an identity
     * conflict, answered to its incarnation, and from then on nothing new
     * is taken under it (a gap neither): both outboxes must move on */
    ro_report_t other = s_v2(0xaa, 2, 99), ahead = s_v2(0xaa, 5, 1), next = s_v2(0xaa, 3, 1);
    s_send(f, "A", &a1);
    s_send(f, "C", &other);
    s_send(f, "A", &ahead);
    s_send(f, "A", &next);
    s_flush(f, out, sizeof out);
    snprintf(
        want, sizeof want,
        "C refusal 2 identity inc=aa\nA refusal 5 identity inc=aa\nA refusal 3 identity inc=aa\n"
        "A ack 2 inc=aa hash=%llx seen=1 v=2\n"
        "C ack 2 inc=aa hash=%llx seen=0 v=2\nA ack 2 inc=aa hash=%llx seen=0 v=2\n",
        (unsigned long long)ro_report_hash(&a2), (unsigned long long)ro_report_hash(&a2),
        (unsigned long long)ro_report_hash(&a2));
    assert_string_equal(out, want);
    const hub_ingest_counters_t *k = hub_ingest_counters(f->ingest);
    assert_int_equal(k->refused[RO_REASON_IDENTITY], 3);
    assert_int_equal(k->gaps, 0);
    assert_int_equal(f->states[1].reports, 4);

    /* the sequences are in the store: a new ingest (a restarted hub, which
     * forgets the contest: the outboxes have moved on) goes on */
    uint64_t last = 0;
    uint8_t aa[RO_INCARNATION_LEN];
    memset(aa, 0xaa, sizeof aa);
    assert_true(hub_store_incarnation_find(f->store, 1, aa, &last, NULL, 0) > 0);
    assert_int_equal(last, 2);
    hub_ingest_destroy(&f->ingest);
    f->ingest = hub_ingest_new(f->store, f->reg, f->states, 64);
    ro_report_t a3 = s_v2(0xaa, 3, 1);
    s_send(f, "A", &a3);
    s_send(f, "A", &a1);
    s_flush(f, out, sizeof out);
    snprintf(want, sizeof want,
             "A ack 3 inc=aa hash=%llx seen=0 v=2\nA ack 3 inc=aa hash=%llx seen=1 v=2\n",
             (unsigned long long)ro_report_hash(&a3), (unsigned long long)ro_report_hash(&a3));
    assert_string_equal(out, want);
}

/* Heartbeats in version 2: an incarnation the store never stored under is
 * answered 0 and not added; an agent holding an ack the store lacks flags
 * the store behind until the store has it; a clock far off is flagged. */
static void test_ingest_v2_heartbeat_witness(void **state)
{
    fixture_t *f = *state;
    char out[512];
    ro_report_t a1 = s_v2(0xaa, 1, 10);
    s_send(f, "A", &a1);
    s_flush(f, out, sizeof out);

    ro_report_t hb = s_v2(0xcc, 0, 0);
    hb.kind = RO_KIND_HEARTBEAT, hb.date = hb.total = hb.part = 0;
    strcpy(hb.text, "test");
    hb.agent_time = NOW;
    s_send(f, "C", &hb);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "C ack 0 inc=cc hash=- seen=0 v=2\n");
    uint8_t cc[RO_INCARNATION_LEN];
    memset(cc, 0xcc, sizeof cc);
    assert_int_equal(hub_store_incarnation_find(f->store, 1, cc, NULL, NULL, 0), 0);

    const hub_ingest_counters_t *k = hub_ingest_counters(f->ingest);
    memset(hb.incarnation, 0xaa, sizeof hb.incarnation);
    hb.last_ack = 7; /* the store has 1: restored from an older backup */
    hb.retained = 7, hb.retained_from = 1;
    hb.agent_time = NOW + 2 * 3600; /* and this agent's clock is two hours ahead */
    s_send(f, "A", &hb);
    s_flush(f, out, sizeof out);
    assert_int_equal(k->behind_units, 1);
    assert_int_equal(k->skewed_agents, 1);
    ro_report_t hb_b = hb; /* another agent's heartbeat, not behind: the flag stays */
    memset(hb_b.incarnation, 0xcc, sizeof hb_b.incarnation);
    hb_b.last_ack = 0, hb_b.retained = 0, hb_b.retained_from = 0;
    s_send(f, "B", &hb_b);
    s_flush(f, out, sizeof out);
    assert_int_equal(k->behind_units, 1);
    for (uint64_t seq = 2; seq <= 7; seq++) { /* the agent refills */
        ro_report_t r = s_v2(0xaa, seq, 1);
        s_send(f, "A", &r);
    }
    hb.agent_time = NOW + 5;
    s_send(f, "A", &hb);
    s_flush(f, out, sizeof out);
    assert_int_equal(k->behind_units, 0);
    assert_int_equal(k->skewed_agents, 0);
    assert_int_equal(f->states[1].reports, 7);

    /* behind by more than the agent keeps (16..20 of its acks 1..20): 8..15
     * are lost for good, used up so that 16 on is not a gap */
    hb.last_ack = 20, hb.retained = 5, hb.retained_from = 16;
    s_send(f, "A", &hb);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "A ack 15 inc=aa hash=- seen=0 v=2\n");
    assert_int_equal(k->behind_units, 1);
    ro_report_t r16 = s_v2(0xaa, 16, 1);
    s_send(f, "A", &r16);
    s_flush(f, out, sizeof out);
    assert_int_equal(f->states[1].reports, 8);
    uint64_t hash = 0;
    ro_reason_t why = RO_REASON_INVALID;
    assert_int_equal(
        hub_store_find(f->store, 1,
                       hub_store_incarnation_find(f->store, 1, hb.incarnation, NULL, NULL, 0), 15,
                       &hash, &why, NULL, 0),
        2);
    assert_int_equal(why, RO_REASON_NONE);

    /* a witness beyond belief is not believed: nothing written off */
    hb.last_ack = UINT64_MAX, hb.retained = 0, hb.retained_from = 0;
    s_send(f, "A", &hb);
    s_flush(f, out, sizeof out);
    uint64_t last = 0;
    assert_true(hub_store_incarnation_find(f->store, 1, hb.incarnation, &last, NULL, 0) > 0);
    assert_int_equal(last, 16);

    /* the legacy sequence (a migrated outbox speaking version 2): what is
     * lost beyond its retention is written off under its own iid */
    ro_report_t l1 = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180105, 3, 20);
    s_send(f, "L", &l1);
    s_flush(f, out, sizeof out);
    memset(hb.incarnation, 0, sizeof hb.incarnation);
    hb.last_ack = 5;
    s_send(f, "L", &hb);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "L ack 5 inc=00 hash=- seen=0 v=2\n");
    int64_t liid = hub_store_incarnation(f->store, 1, NULL, NOW, NULL, 0);
    assert_int_equal(hub_store_find(f->store, 1, liid, 5, &hash, &why, NULL, 0), 2);
    char err[256] = "";
    assert_int_equal(hub_store_recount(f->store, NULL, 0, NULL, NULL, err, sizeof err), 0);
}

/* A correction of seq target (of incarnation 0xaa), sent as seq `seq`:
 * an amend carrying replacement rep, or (rep NULL) a cancel. */
static ro_report_t s_fix(uint64_t seq, uint64_t target, const ro_report_t *rep)
{
    ro_report_t c = rep ? *rep : s_v2(0xaa, seq, 1);
    c.seq = seq;
    c.action = rep ? RO_ACTION_AMEND : RO_ACTION_CANCEL;
    if (!rep)
        c.kind = RO_KIND_NONE, c.date = c.total = c.part = 0, c.text[0] = '\0';
    memset(c.target_inc, 0xaa, sizeof c.target_inc);
    c.target_seq = target;
    snprintf(c.reason, sizeof c.reason, "fix of seq %llu", (unsigned long long)target);
    return c;
}

/* The store's recount agrees with the live aggregates. */
static void s_recount_agrees(fixture_t *f)
{
    char err[256] = "";
    uint64_t units = 0, reports = 0;
    assert_int_equal(hub_store_recount(f->store, NULL, 0, &units, &reports, err, sizeof err), 0);
}

/* Corrections: an amend replaces its target in the totals, an amend of an
 * amend replaces that, a target corrected already or unknown or of another
 * kind is refused REASON_TARGET (final: the seq is used up), a cancel
 * withdraws a snapshot so the one before counts again, a correction of a
 * superseded snapshot changes nothing until the newer one goes, and a
 * resent correction is a duplicate, applied once. */
static void test_ingest_corrections(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t t1 = s_v2(0xaa, 1, 200); /* 200 typed for 20 */
    ro_report_t t20 = s_v2(0xaa, 0, 20), t25 = s_v2(0xaa, 0, 25);
    ro_report_t a2 = s_fix(2, 1, &t20), a3 = s_fix(3, 2, &t25), a4 = s_fix(4, 1, &t20);
    s_send(f, "A", &t1);
    s_send(f, "A", &a2);
    s_flush(f, out, sizeof out);
    assert_non_null(strstr(out, "A ack 2 inc=aa"));
    assert_int_equal(f->states[1].participants, 20);
    assert_int_equal(f->states[1].sessions, 1);
    assert_int_equal(f->states[1].reports, 1); /* the amend counts in its target's place */
    s_send(f, "A", &a3);                       /* an amend of the amend */
    s_send(f, "A", &a4);                       /* seq 1 again: corrected already */
    s_send(f, "A", &a2);                       /* a resend */
    s_flush(f, out, sizeof out);
    assert_non_null(strstr(out, "A refusal 4 target inc=aa"));
    assert_non_null(strstr(out, "seen=2"));
    assert_int_equal(f->states[1].participants, 25);
    assert_int_equal(f->states[1].sessions, 1);
    assert_int_equal(hub_ingest_counters(f->ingest)->corrections, 2);
    assert_int_equal(hub_ingest_counters(f->ingest)->refused[RO_REASON_TARGET], 1);

    /* snapshots: 10/5 on Jan 5, 12/6 on Feb 1 */
    ro_report_t s5 = hf_report("460100-001", 5, RO_KIND_STAFF, 20180105, 10, 5);
    ro_report_t s6 = hf_report("460100-001", 6, RO_KIND_STAFF, 20180201, 12, 6);
    s5.version = s6.version = 2;
    memset(s5.incarnation, 0xaa, RO_INCARNATION_LEN);
    memset(s6.incarnation, 0xaa, RO_INCARNATION_LEN);
    ro_report_t s5b = s5;
    s5b.part = 8;
    ro_report_t a7 = s_fix(7, 5, &s5b); /* amends the superseded snapshot */
    ro_report_t c8 = s_fix(8, 6, NULL); /* cancels the newer one */
    ro_report_t c9 = s_fix(9, 99, NULL), a10 = s_fix(10, 5, &t20); /* unknown; another kind */
    s_send(f, "A", &s5);
    s_send(f, "A", &s6);
    s_send(f, "A", &a7);
    s_flush(f, out, sizeof out);
    assert_int_equal(f->states[1].staff_total, 12); /* the newer one still counts */
    assert_int_equal(f->states[1].staff_proficient, 6);
    s_send(f, "A", &c8);
    s_send(f, "A", &c9);
    s_send(f, "A", &a10);
    s_flush(f, out, sizeof out);
    assert_non_null(strstr(out, "A refusal 9 target inc=aa"));
    assert_non_null(strstr(out, "A refusal 10 target inc=aa"));
    assert_non_null(strstr(out, "A ack 10 inc=aa"));
    assert_int_equal(f->states[1].staff_total, 10); /* the amended Jan 5 one, again */
    assert_int_equal(f->states[1].staff_proficient, 8);
    assert_int_equal(f->states[1].participants, 25);
    assert_int_equal(hub_ingest_counters(f->ingest)->corrections, 4);
    s_recount_agrees(f);
}

/* The store's recount, its units rows and unit_days rows (changed_at
 * included), agrees with the live aggregates: else the differences. */
static void s_recount_none(fixture_t *f)
{
    hub_store_diff_t d[8];
    char err[256] = "", msg[1024] = "";
    long n = hub_store_recount(f->store, d, 8, NULL, NULL, err, sizeof err);
    for (long k = 0; k < n && k < 8; k++)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "; %s %s stored %lld recount %lld",
                 d[k].unit, d[k].field, (long long)d[k].stored, (long long)d[k].recount);
    if (n != 0)
        fail_msg("the recount finds %ld differences%s %s", n, msg, err);
}

/* A version-2 staff snapshot of 460100-001 under incarnation b. */
static ro_report_t s_staff(uint8_t b, uint64_t seq, uint32_t date, uint32_t total, uint32_t part)
{
    ro_report_t r = hf_report("460100-001", seq, RO_KIND_STAFF, date, total, part);
    r.version = 2;
    memset(r.incarnation, b, sizeof r.incarnation);
    return r;
}

/* The hub's clock stepped back (NTP, a restored VM) between a held
 * report's receipt and its cancel: the held report enters its day's row
 * when corrected, with its receipt, as a re-derivation says (the row's
 * changed_at is what known-on answers trust), not only the cancel's
 * moment. (Found by review: DAY_TOUCHES logged the correction's time.) */
static void test_ingest_held_corrected_after_clock_back(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t h = s_v2(0xaa, 1, 12);
    h.date = ro_date_of(NOW + 5 * 86400); /* held for its date */
    s_send(f, "A", &h);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 60), 0);
    assert_int_equal(f->states[1].reports, 0);
    ro_report_t c = s_fix(2, 1, NULL);
    s_send(f, "A", &c);
    s_flush(f, out, sizeof out); /* at NOW: a minute before the receipt */
    assert_non_null(strstr(out, "A ack 2 inc=aa"));
    s_recount_none(f);
}

/* The hub's clock stepped back between two snapshots of one date from one
 * incarnation: the later received one counts by the recount's order
 * (received_at, then iid, then seq), whatever their seqs. An amend of the
 * one counted, of its date, received after the step back, is then older
 * than another incarnation's snapshot of that date: that one counts, in
 * the aggregates and in the daily rows. (Found by review: the amend was
 * taken as the newest of its incarnation's, so it replaced the one
 * withdrawn without asking the store.) */
static void test_ingest_amend_after_clock_back(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t c = s_staff(0xbb, 1, 20180105, 30, 3);
    s_send(f, "B", &c);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 100), 0);
    ro_report_t t = s_staff(0xaa, 1, 20180105, 10, 1);
    s_send(f, "A", &t);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW + 200), 0);
    assert_int_equal(f->states[1].staff_total, 10); /* received last */
    ro_report_t rep = s_staff(0xaa, 0, 20180105, 20, 2);
    ro_report_t a = s_fix(2, 1, &rep);
    s_send(f, "A", &a);
    s_flush(f, out, sizeof out); /* at NOW: before both */
    assert_non_null(strstr(out, "A ack 2 inc=aa"));
    s_recount_none(f);
    assert_int_equal(f->states[1].staff_total, 30); /* 0xbb's, received after the amend */
    assert_int_equal(f->states[1].staff_proficient, 3);
}

/* r sent over a connection whose User-Id is user (no allow-list here: the
 * trail records who it was). */
static void s_send_by(fixture_t *f, const char *user, const ro_report_t *r)
{
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_ingest_add_peer(f->ingest, "A", 1, buf, (size_t)n, 1, user, "key"), 0);
}

/* With an allow-list every message is checked, also in a batch that has
 * already taken its unit's: the unit's User-Id over a key the list does
 * not hold (another connection, "B") is refused, and the listed key's
 * messages around it are taken. */
static void test_ingest_auth_per_message(void **state)
{
    fixture_t *f = *state;
    char pub[41], sec[41], other[41], osec[41], list[128], out[1024], err[512] = "";
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(zmq_curve_keypair(other, osec), 0);
    snprintf(list, sizeof list, "unit 460100-001 %s\n", pub);
    const char *path = tu_write("ingest-allow.list", list);
    assert_int_equal(chmod(path, 0600), 0);
    void *ctx = zmq_ctx_new();
    hub_auth_t *auth = hub_auth_new(ctx, path, err, sizeof err);
    if (!auth)
        fail_msg("%s", err);
    hub_ingest_set_auth(f->ingest, auth);
    const char *who[] = {"A", "B", "A", "B"};
    const char *key[] = {pub, other, pub, other};
    uint64_t seq[] = {1, 2, 2, 3};
    for (int i = 0; i < 4; i++) {
        uint8_t buf[RO_FRAME_MAX];
        ro_report_t r = hf_report("460100-001", seq[i], RO_KIND_TRAINING, 20180105, 10, 20);
        int n = ro_report_encode(&r, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(
            hub_ingest_add_peer(f->ingest, who[i], 1, buf, (size_t)n, 1, "460100-001", key[i]), 0);
    }
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_string_equal(out, "B refusal 460100-001 2 forbidden\nB refusal 460100-001 3 forbidden\n"
                             "A ack 460100-001 2\n");
    assert_int_equal(f->states[1].participants, 20);
    hub_ingest_set_auth(f->ingest, NULL);
    hub_auth_destroy(&auth);
    zmq_ctx_term(ctx);
}

/* TRAIL for unit, at most limit of it, as of as_of (0: today). */
static ro_status_reply_t *s_trail(hub_status_t *status, const char *unit, uint32_t limit,
                                  uint32_t as_of)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_TRAIL);
    snprintf(req.key, sizeof req.key, "%s", unit);
    req.limit = limit;
    req.as_of = as_of;
    return s_answer(status, &req);
}

/* The trail (QUERY_TRAIL) lists a unit's corrections newest first, each
 * with its target as stored (an amend of an amend names the first amend's
 * figures), the replacement's figures (none for a cancel), both
 * identities, by whom and why; a refused correction is not in it; limit
 * keeps the newest and total counts them all; an unknown unit and another
 * date are bad requests. */
static void test_status_trail(void **state)
{
    fixture_t *f = *state;
    char out[2048];
    ro_report_t t1 = s_v2(0xaa, 1, 200), t20 = s_v2(0xaa, 0, 20), t25 = s_v2(0xaa, 0, 25);
    ro_report_t a2 = s_fix(2, 1, &t20), a3 = s_fix(3, 2, &t25), a6 = s_fix(6, 1, &t20);
    ro_report_t s4 = hf_report("460100-001", 4, RO_KIND_STAFF, 20180201, 12, 6);
    s4.version = 2;
    memset(s4.incarnation, 0xaa, RO_INCARNATION_LEN);
    ro_report_t c5 = s_fix(5, 4, NULL);
    snprintf(c5.reason, sizeof c5.reason, "录错了月份");
    s_send(f, "A", &t1);
    s_send_by(f, "460100-001", &a2);
    s_send_by(f, "460100-001", &a3);
    s_send(f, "A", &s4);
    s_send_by(f, "460100-001", &c5);
    s_send_by(f, "460100-001", &a6); /* seq 1 again: refused, so not in the trail */
    s_flush(f, out, sizeof out);
    assert_non_null(strstr(out, "A refusal 6 target inc=aa"));
    assert_int_equal(f->states[1].participants, 25);
    assert_int_equal(f->states[1].staff_total, 0);

    hub_status_t *status = hub_status_new(f->reg, f->states, f->store, NULL);
    assert_non_null(status);
    ro_status_reply_t *r = s_trail(status, "460100-001", 0, 0);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->total, 3);
    assert_int_equal(r->n_trail, 3);
    const ro_status_trail_t *c = &r->trail[0], *a = &r->trail[1], *first = &r->trail[2];
    assert_string_equal(c->what, "cancel");
    assert_int_equal(c->at, NOW);
    assert_int_equal(c->target_seq, 4);
    assert_string_equal(c->target_incarnation, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_string_equal(c->target_kind, "staff");
    assert_int_equal(c->target_date, 20180201);
    assert_int_equal(c->target_total, 12);
    assert_int_equal(c->target_part, 6);
    assert_int_equal(c->seq, 5);
    assert_int_equal(c->new_date + c->new_total + c->new_part, 0);
    assert_string_equal(c->by, "460100-001");
    assert_string_equal(c->reason, "录错了月份");
    assert_string_equal(a->what, "amend"); /* of the first amend, as it was stored */
    assert_int_equal(a->target_seq, 2);
    assert_string_equal(a->target_kind, "training");
    assert_int_equal(a->target_total, 20);
    assert_int_equal(a->seq, 3);
    assert_string_equal(a->incarnation, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(a->new_date, 20180105);
    assert_int_equal(a->new_total, 25);
    assert_int_equal(a->new_part, 20);
    assert_string_equal(a->reason, "fix of seq 2");
    assert_int_equal(first->target_seq, 1);
    assert_int_equal(first->target_total, 200);
    assert_int_equal(first->new_total, 20);
    ro_status_reply_free(&r);

    r = s_trail(status, "460100-001", 1, 0); /* the newest only */
    assert_int_equal(r->status, 0);
    assert_int_equal(r->total, 3);
    assert_int_equal(r->n_trail, 1);
    assert_int_equal(r->trail[0].seq, 5);
    ro_status_reply_free(&r);
    r = s_trail(status, "469002-003", 0, 0);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->total + r->n_trail, 0);
    ro_status_reply_free(&r);
    r = s_trail(status, "469030-999", 0, 0);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->error, "unknown unit"));
    ro_status_reply_free(&r);
    r = s_trail(status, "460100-001", 0, 20180630);
    assert_int_equal(r->status, 2);
    assert_int_equal(r->n_trail, 0);
    assert_non_null(strstr(r->error, "known only as of today"));
    ro_status_reply_free(&r);
    hub_status_destroy(&status);
}

/* A correction in a version-1 report is refused as malformed (final). */
static void test_ingest_correction_needs_version_2(void **state)
{
    fixture_t *f = *state;
    char out[1024];
    ro_report_t l1 = hf_report("460100-001", 1, RO_KIND_TRAINING, 20180105, 10, 20);
    ro_report_t fix = l1;
    fix.seq = 2, fix.action = RO_ACTION_AMEND, fix.target_seq = 1;
    strcpy(fix.reason, "typo");
    s_send(f, "L", &l1);
    s_send(f, "L", &fix);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    s_replies(f, out, sizeof out);
    assert_non_null(strstr(out, "L refusal 460100-001 2 malformed"));
    assert_int_equal(f->states[1].participants, 10);
}

/* One agent speaks for its current incarnation and, as the second copy of
 * what it keeps, for two earlier ones the store lost (restored from a
 * backup older than both): each heartbeat is answered in its own
 * incarnation (all three are ones the store never held), the refill is
 * taken, and none of it makes a second agent; another agent's heartbeat does. */
static void test_ingest_v2_earlier_incarnations_one_agent(void **state)
{
    fixture_t *f = *state;
    char out[512];
    const hub_ingest_counters_t *k = hub_ingest_counters(f->ingest);
    ro_report_t cur = s_hb2(0xaa, NOW, 0), e1 = s_hb2(0xbb, 0, 2), e2 = s_hb2(0xcc, 0, 1);
    s_send(f, "A", &cur);
    s_send(f, "A", &e1);
    s_send(f, "A", &e2);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "A ack 0 inc=aa hash=- seen=0 v=2\nA ack 0 inc=bb hash=- seen=0 v=2\n"
                             "A ack 0 inc=cc hash=- seen=0 v=2\n");
    assert_int_equal(k->behind_units, 1);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        ro_report_t r = s_v2(0xbb, seq, 1);
        s_send(f, "A", &r);
    }
    ro_report_t r = s_v2(0xcc, 1, 2);
    s_send(f, "A", &r);
    s_send(f, "A", &cur);
    s_send(f, "A", &e1);
    s_send(f, "A", &e2);
    s_flush(f, out, sizeof out);
    assert_int_equal(f->states[1].reports, 3);
    assert_int_equal(k->behind_units, 0);
    assert_int_equal(k->two_agent_units, 0);

    ro_report_t other = s_hb2(0xdd, NOW, 0); /* another agent, recording */
    s_send(f, "B", &other);
    s_flush(f, out, sizeof out);
    assert_int_equal(k->two_agent_units, 1);
}

/* An earlier incarnation (its heartbeat has no clock) that a restored store
 * never held, whose agent no longer keeps its seqs 1..10 but keeps 11..100:
 * the hub writes 1..10 off (learning the incarnation) and acknowledges 10,
 * so the agent refills 11..100; an earlier incarnation never draws a new
 * identity past what it lost. As for a known incarnation. (Found by review:
 * answered 0, the refill stopped at seq 1 and 90 kept events were never sent.) */
static void test_ingest_v2_earlier_unknown_written_off(void **state)
{
    fixture_t *f = *state;
    char out[512];
    ro_report_t a1 = s_v2(0xaa, 1, 10);
    s_send(f, "A", &a1);
    s_flush(f, out, sizeof out);
    ro_report_t known = s_hb2(0xaa, 0, 100), unknown = s_hb2(0xbb, 0, 100);
    known.retained = unknown.retained = 90;
    known.retained_from = unknown.retained_from = 11;
    s_send(f, "A", &known);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "A ack 10 inc=aa hash=- seen=0 v=2\n");
    s_send(f, "A", &unknown);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "A ack 10 inc=bb hash=- seen=0 v=2\n");
    for (uint64_t seq = 11; seq <= 12; seq++) { /* the refill is taken */
        ro_report_t r = s_v2(0xbb, seq, 1);
        s_send(f, "A", &r);
    }
    s_flush(f, out, sizeof out);
    assert_non_null(strstr(out, "A ack 12 inc=bb"));
    /* an agent's current incarnation the store never held: nothing written off */
    ro_report_t current = s_hb2(0xcc, NOW, 100);
    current.retained = 90, current.retained_from = 11;
    s_send(f, "B", &current);
    s_flush(f, out, sizeof out);
    assert_string_equal(out, "B ack 0 inc=cc hash=- seen=0 v=2\n");
}

/* After a store restore, an agent's refill may bring a correction before
 * its target (the target under an earlier identity, in a lane of its own):
 * while the unit's store is behind, such a correction is not refused but
 * answered with the last ack, nothing used up; sent again once the target
 * is in, it applies. (Found by review: refused for good, the amend lost.) */
static void test_ingest_correction_waits_for_its_target(void **state)
{
    fixture_t *f = *state;
    char out[1024];
    ro_report_t cur = s_hb2(0xaa, NOW, 1); /* the agent held seq 1 of 0xaa acknowledged */
    ro_report_t t1 = s_v2(0xbb, 1, 200), rep = s_v2(0xaa, 0, 20);
    ro_report_t c1 = rep;
    c1.seq = 1, c1.action = RO_ACTION_AMEND, c1.target_seq = 1;
    memset(c1.target_inc, 0xbb, sizeof c1.target_inc);
    strcpy(c1.reason, "200 typed for 20");
    s_send(f, "A", &cur);
    s_send(f, "A", &c1); /* before its target: the store never held 0xbb */
    s_flush(f, out, sizeof out);
    assert_null(strstr(out, "refusal"));
    assert_non_null(strstr(out, "A ack 0 inc=aa"));
    assert_int_equal(f->states[1].reports, 0);
    s_send(f, "A", &t1); /* the earlier identity's refill */
    s_send(f, "A", &c1); /* and the correction again */
    s_flush(f, out, sizeof out);
    assert_non_null(strstr(out, "A ack 1 inc=aa"));
    assert_non_null(strstr(out, "A ack 1 inc=bb"));
    assert_int_equal(f->states[1].participants, 20);
    assert_int_equal(hub_ingest_counters(f->ingest)->corrections, 1);
    s_recount_agrees(f);
}

static void test_status_answers(void **state)
{
    fixture_t *f = *state;
    ro_report_t r1 = hf_report("469002-003", 1, RO_KIND_TRAINING, 20180105, 12, 35);
    ro_report_t r2 = hf_report("460000-001", 1, RO_KIND_ITEMS, 20180105, 10, 4);
    s_send(f, "A", &r1);
    s_send(f, "B", &r2);
    assert_int_equal(hub_ingest_flush(f->ingest, NOW), 0);
    /* what the hub's status thread reads: the committed copy, as published */
    hub_committed_t *committed = hub_committed_new(f->reg, NULL, f->states);
    assert_non_null(committed);
    hub_ingest_set_committed(f->ingest, committed);
    hub_status_t *status =
        hub_status_new(f->reg, hub_committed_states(committed), f->store, committed);
    assert_non_null(status);

    ro_status_reply_t *r = s_ask(status, RO_QUERY_PROVINCE, NULL);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->store_state, "ok");
    assert_int_equal(r->as_of, 20190101);
    assert_int_equal(r->n_scopes, 1);
    assert_string_equal(r->scopes[0].kind, "province");
    assert_string_equal(r->scopes[0].name, "海南省");
    assert_int_equal(r->scopes[0].units, NUNITS);
    assert_int_equal(r->scopes[0].units_reporting, 2);
    assert_int_equal(r->scopes[0].participants, 12);
    assert_int_equal(r->scopes[0].hours_tenths, 35);
    assert_int_equal(r->scopes[0].items_no_visit, 4);
    ro_status_reply_free(&r);

    r = s_ask(status, RO_QUERY_UNIT, "469002-003");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->scopes[0].kind, "unit");
    assert_string_equal(r->scopes[0].level, "municipal");
    assert_string_equal(r->scopes[0].division, "469002");
    assert_int_equal(r->scopes[0].last_seq, 1);
    assert_int_equal(r->scopes[0].sessions, 1);
    ro_status_reply_free(&r);

    r = s_ask(status, RO_QUERY_UNIT, "469030-999");
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->error, "unknown unit"));
    ro_status_reply_free(&r);

    /* attainment queries need the engine (test_status covers them) */
    r = s_ask(status, RO_QUERY_LAGGARDS, NULL);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->error, "no targets"));
    ro_status_reply_free(&r);

    r = s_ask(status, RO_QUERY_VERIFY, NULL);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->metrics[0].name, "differences");
    assert_true(r->metrics[0].value == 0.0);
    ro_status_reply_free(&r);

    r = s_ask(status, RO_QUERY_METRICS, NULL);
    assert_int_equal(r->status, 0);
    assert_string_equal(r->metrics[0].name, "reports_stored");
    assert_true(r->metrics[0].value == 2.0);
    ro_status_reply_free(&r);

    /* junk and unknown fields are bad requests, not crashes */
    uint8_t *out = NULL;
    size_t out_len = 0;
    const uint8_t junk[] = {0x08, 0x01, 0xfa, 0x07, 0x01, 0x00}; /* field 127, unknown */
    assert_int_equal(hub_status_answer(status, junk, sizeof junk, NOW, &out, &out_len), 0);
    r = ro_status_reply_decode(out, out_len, RO_DECODE_STRICT, NULL, 0);
    free(out);
    assert_non_null(r);
    assert_int_equal(r->status, 2);
    ro_status_reply_free(&r);
    hub_status_destroy(&status);
    assert_null(status);
    hub_ingest_set_committed(f->ingest, NULL);
    hub_committed_destroy(&committed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_dedup_acks_each_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_busy_unit_days_later, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_conflict_gap_invalid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_unknown_malformed_heartbeat, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_refusal_uses_up_seq, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_batch_full, s_setup, s_teardown),
        cmocka_unit_test(test_ingest_holds_batch_while_full),
        cmocka_unit_test_setup_teardown(test_ingest_holds_report_ahead_of_clock, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_held_survives_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_recorded_at_ahead_stored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_v2_incarnations, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_v2_heartbeat_witness, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_corrections, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_held_corrected_after_clock_back, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_amend_after_clock_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_correction_needs_version_2, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_auth_per_message, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_status_trail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_v2_earlier_incarnations_one_agent, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_v2_earlier_unknown_written_off, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ingest_correction_waits_for_its_target, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_status_answers, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
