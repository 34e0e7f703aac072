/* test_ingest_property: hub_ingest over thousands of seeded runs. Each run
 * makes a few units' report streams and delivers them the way a bad network
 * and crashing agents would: duplicated, reordered, dropped, with lost acks
 * and go-back-N rewinds, or as pure shuffles where the hub drops what lies
 * past last_seq + 1 until it is resent. Whatever the path, the aggregates
 * must equal one in-order delivery, and the same unit and seq with another
 * body must be refused and counted as a conflict. In protocol version 2, two
 * outboxes (incarnations) per unit each deliver a stream of their own the
 * same way: each sequence complete, the unit's sums those of both, the
 * store's recount equal to the live aggregates (snapshots of one date from
 * two incarnations included), and some reports of each stream are
 * corrections of its earlier ones (amends, cancels, and targets the hub must
 * refuse), whose effect is that of the same corrections in order. No sockets, no files but the
 * registry: the store is :memory:. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "as_of_check.h"
#include "ingest.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_registry.h"
#include "store.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1546300800 /* 2019-01-01T00:00:00Z: every 2017-2018 date is valid */
#define NUNITS 4
#define SEQ_MAX 48       /* reports per unit and run, at most */
#define CHANNEL_MAX 4096 /* messages in flight in one round, at most */
#define ROUNDS_MAX 20000 /* a run that needs more has stopped converging */

#ifndef PROPERTY_SEEDS
#define PROPERTY_SEEDS 1500 /* seeds per property */
#endif

static const char *s_units_csv = "id,level,division,name\n"
                                 "460000-001,provincial,460000,省发展和改革委员会\n"
                                 "460100-001,municipal,460100,海口市教育局\n"
                                 "469002-003,municipal,469002,琼海市科学技术局\n"
                                 "469030-210,township,469030,琼中县营根镇\n";

/* ---- a small seeded generator (xorshift64*) -------------------------------- */

typedef struct {
    uint64_t s;
} rng_t;

static void s_seed(rng_t *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (!r->s)
        r->s = 1;
}

static uint64_t s_next(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n). */
static uint32_t s_below(rng_t *r, uint32_t n)
{
    return (uint32_t)((s_next(r) >> 32) % n);
}

/* True with probability pct / 100. */
static int s_chance(rng_t *r, uint32_t pct)
{
    return s_below(r, 100) < pct;
}

/* ---- one run's world ------------------------------------------------------ */

typedef struct {
    uint8_t body[512]; /* a report here encodes to well under 300 bytes */
    size_t len;
} wire_t;

typedef struct {
    size_t unit;  /* registry index */
    uint64_t seq; /* 0: heartbeat */
    int conflict; /* 1: a different body for a stored seq */
} msg_t;

typedef struct {
    ro_registry_t *reg;
    hub_store_t *store;
    hub_unit_state_t states[NUNITS];
    hub_ingest_t *ingest;
    rng_t rng;
    uint64_t n[NUNITS];                /* reports in each unit's stream */
    wire_t wire[NUNITS][SEQ_MAX + 1];  /* the bodies, seq 1..n */
    wire_t other[NUNITS][SEQ_MAX + 1]; /* another body for the same seq */
    wire_t heartbeat[NUNITS];          /* a heartbeat per unit */
    hub_unit_state_t expect[NUNITS];   /* one in-order delivery */
    uint64_t expect_stored;            /* valid reports (corrections applied too), all units */
    uint64_t expect_counted;           /* of them, those that count at the end */
    uint64_t acked[NUNITS];            /* the agent's last ack */
    uint64_t sent[NUNITS];             /* the agent's highest seq sent this pass */
    uint32_t incarnation[NUNITS];      /* the agent's connection, for routing ids */
    msg_t channel[CHANNEL_MAX];        /* what is on the wire this round */
    size_t nchannel;
    uint64_t conflicts_sent; /* conflicting bodies sent */
} world_t;

static ro_registry_t *s_reg;
static int s_v2;     /* the world speaks version 2: slot u is incarnation u of unit u / 2 */
static int s_narrow; /* every date in three weeks of June 2018: snapshots of one date, and
                        corrections, land on rows the store keeps in place (unit_days) */

/* The registry unit of stream slot u, and its incarnation's first byte. */
static size_t s_unit_of(size_t u)
{
    return s_v2 ? u / 2 : u;
}
#define INC_BYTE(u) ((uint8_t)(0xa0 + (u)))

static int s_group_setup(void **state)
{
    (void)state;
    ro_log_init("test_ingest_property", LOG_CRIT); /* thousands of refusals are the point */
    char err[256] = "";
    s_reg = ro_registry_load(tu_write("units.csv", s_units_csv), err, sizeof err);
    if (!s_reg) {
        fprintf(stderr, "registry: %s\n", err);
        return -1;
    }
    return ro_registry_count(s_reg) == NUNITS ? 0 : -1;
}

static int s_group_teardown(void **state)
{
    (void)state;
    ro_registry_destroy(&s_reg);
    return 0;
}

/* A random valid report of unit u at seq, or (1 in 20) one the hub must
 * refuse as invalid, which still takes its seq. */
static ro_report_t s_make(rng_t *rng, const char *unit, uint64_t seq)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = s_v2 ? 2 : RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%s", unit);
    r.seq = seq;
    r.recorded_at = NOW - 3600 - (int64_t)s_below(rng, 100000);
    r.kind = (ro_kind_t)(RO_KIND_TRAINING + s_below(rng, 4));
    uint32_t month = 1 + s_below(rng, 12), day = 1 + s_below(rng, 28);
    uint32_t year = 2017 + s_below(rng, 2);
    if (s_narrow)
        year = 2018, month = 6, day = 10 + s_below(rng, 20);
    r.date = r.kind == RO_KIND_CASES ? year * 100 + month : year * 10000 + month * 100 + day;
    r.total = 1 + s_below(rng, 5000);
    if (r.kind == RO_KIND_TRAINING) {
        r.part = 1 + s_below(rng, RO_HOURS_TENTHS_MAX);
        snprintf(r.text, sizeof r.text, "第%u期 全程网办", 1 + s_below(rng, 9));
    } else {
        r.part = s_below(rng, r.total + 1);
    }
    if (s_chance(rng, 5)) {
        if (r.kind == RO_KIND_TRAINING)
            r.part = 0; /* no hours */
        else
            r.part = r.total + 1; /* part above total */
    }
    return r;
}

/* What became of each seq of a stream, delivered in order. */
enum { SEQ_REFUSED, SEQ_COUNTED, SEQ_CORRECTED, SEQ_CANCEL };

/* Version 2: make r (seq q of stream u) a correction of an earlier seq
 * instead, now and then: an amend (of the target's kind, or 1 in 10 of
 * another) or a cancel; targets refused, corrected already or cancels
 * included, which the hub must refuse REASON_TARGET. */
static void s_maybe_correct(rng_t *rng, size_t u, uint64_t q, const ro_report_t *reps,
                            ro_report_t *r)
{
    if (!s_v2 || q < 2 || !s_chance(rng, 15))
        return;
    uint64_t p = 1 + s_below(rng, (uint32_t)(q - 1));
    memset(r->target_inc, INC_BYTE(u), sizeof r->target_inc);
    r->target_seq = p;
    snprintf(r->reason, sizeof r->reason, "seq %llu was wrong", (unsigned long long)p);
    if (s_chance(rng, 40)) {
        r->action = RO_ACTION_CANCEL;
        r->kind = RO_KIND_NONE, r->date = r->total = r->part = 0, r->text[0] = '\0';
        return;
    }
    r->action = RO_ACTION_AMEND;
    /* (a cancel's kind is none: any amend of it is refused) */
    if (!s_chance(rng, 10) && r->kind != reps[p].kind && reps[p].kind != RO_KIND_NONE) {
        ro_report_t again = *r;
        do /* a replacement of the target's kind */
            again = s_make(rng, r->unit, q);
        while (again.kind != reps[p].kind);
        again.action = r->action, again.target_seq = p;
        memcpy(again.target_inc, r->target_inc, sizeof again.target_inc);
        memcpy(again.reason, r->reason, sizeof again.reason);
        *r = again;
    }
}

/* What the hub must do with seq q (r) of a stream whose seqs before are
 * as fate says; fate[q] gets its own. Returns 1 when it is stored. */
static int s_fate(const ro_report_t *reps, int *fate, uint64_t q)
{
    const ro_report_t *r = &reps[q];
    fate[q] = SEQ_REFUSED;
    if (ro_report_check(r, NULL, 0) != RO_REASON_NONE)
        return 0;
    if (r->action == RO_ACTION_NONE) {
        fate[q] = SEQ_COUNTED;
        return 1;
    }
    uint64_t p = r->target_seq;
    if (fate[p] != SEQ_COUNTED || (r->action == RO_ACTION_AMEND && reps[p].kind != r->kind))
        return 0; /* REASON_TARGET */
    fate[p] = SEQ_CORRECTED;
    fate[q] = r->action == RO_ACTION_CANCEL ? SEQ_CANCEL : SEQ_COUNTED;
    return 1;
}

static void s_encode(const ro_report_t *r, wire_t *w)
{
    int n = ro_report_encode(r, w->body, sizeof w->body);
    assert_true(n > 0);
    w->len = (size_t)n;
}

static world_t *s_world_new(uint64_t seed, uint32_t max_per_unit)
{
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    s_seed(&w->rng, seed);
    w->reg = s_reg;
    char err[256] = "";
    w->store = hub_store_open(":memory:", 2, 0, err, sizeof err);
    assert_non_null(w->store);
    assert_int_equal(hub_store_load_states(w->store, w->reg, w->states, err, sizeof err), 0);
    w->ingest = hub_ingest_new(w->store, w->reg, w->states, 1 + (int)s_below(&w->rng, 64));
    assert_non_null(w->ingest);
    for (size_t u = 0; u < NUNITS; u++) {
        const char *id = ro_registry_at(w->reg, s_unit_of(u))->id;
        /* some units send nothing at all */
        w->n[u] = s_chance(&w->rng, 15) ? 0 : 1 + s_below(&w->rng, max_per_unit);
        ro_report_t reps[SEQ_MAX + 1];
        int fate[SEQ_MAX + 1];
        for (uint64_t q = 1; q <= w->n[u]; q++) {
            ro_report_t r = s_make(&w->rng, id, q);
            s_maybe_correct(&w->rng, u, q, reps, &r);
            if (s_v2)
                memset(r.incarnation, INC_BYTE(u), sizeof r.incarnation);
            reps[q] = r;
            s_encode(&r, &w->wire[u][q]);
            w->expect_stored += (uint64_t)s_fate(reps, fate, q);
            /* the same seq, another body: a replaced outbox, say */
            r.total = r.total == 0 ? 1 : r.total - 1 + 2 * s_below(&w->rng, 2);
            r.recorded_at++;
            s_encode(&r, &w->other[u][q]);
        }
        /* one in-order delivery counts what is left counted, in seq order */
        for (uint64_t q = 1; q <= w->n[u]; q++)
            if (fate[q] == SEQ_COUNTED) {
                hub_state_apply(&w->expect[u], &reps[q]);
                w->expect_counted++;
            }
        w->expect[u].last_seq = w->n[u];
        ro_report_t hb;
        memset(&hb, 0, sizeof hb);
        hb.version = s_v2 ? 2 : RO_PROTOCOL_V1;
        if (s_v2)
            memset(hb.incarnation, INC_BYTE(u), sizeof hb.incarnation);
        snprintf(hb.unit, sizeof hb.unit, "%s", id);
        hb.kind = RO_KIND_HEARTBEAT;
        hb.recorded_at = NOW;
        s_encode(&hb, &w->heartbeat[u]);
    }
    return w;
}

static void s_world_destroy(world_t **w_p)
{
    world_t *w = *w_p;
    hub_ingest_destroy(&w->ingest);
    hub_store_destroy(&w->store);
    free(w);
    *w_p = NULL;
}

static void s_put(world_t *w, size_t unit, uint64_t seq, int conflict)
{
    if (w->nchannel < CHANNEL_MAX)
        w->channel[w->nchannel++] = (msg_t){unit, seq, conflict};
}

static void s_shuffle(world_t *w)
{
    for (size_t i = w->nchannel; i > 1; i--) {
        size_t j = s_below(&w->rng, (uint32_t)i);
        msg_t t = w->channel[i - 1];
        w->channel[i - 1] = w->channel[j];
        w->channel[j] = t;
    }
}

/* Apply the replies of the last flush to the agents: each ack may be lost. */
static void s_replies(world_t *w, int ack_loss_pct)
{
    size_t n = hub_ingest_reply_count(w->ingest);
    for (size_t i = 0; i < n; i++) {
        const hub_ingest_reply_t *rp = hub_ingest_reply_at(w->ingest, i);
        long u = ro_registry_find(w->reg, rp->msg.unit);
        assert_true(u >= 0);
        if (s_v2) { /* the slot is the incarnation's: every answer names it */
            long unit = u;
            u = (long)rp->msg.incarnation[0] - 0xa0;
            assert_true(u >= 0 && u < NUNITS && s_unit_of((size_t)u) == (size_t)unit);
        }
        if (rp->msg.kind == RO_HUBMSG_REFUSAL) {
            /* a refusal names a seq the hub has taken (refused invalid, or a conflict) */
            assert_true(rp->msg.reason == RO_REASON_INVALID ||
                        rp->msg.reason == (s_v2 ? RO_REASON_IDENTITY : RO_REASON_CONFLICT) ||
                        (s_v2 && rp->msg.reason == RO_REASON_TARGET));
            continue;
        }
        assert_true(rp->msg.seq <= w->n[u]); /* never acks past what was sent */
        if (s_chance(&w->rng, (uint32_t)ack_loss_pct))
            continue;
        if (rp->msg.seq > w->acked[u])
            w->acked[u] = rp->msg.seq;
        if (w->sent[u] < w->acked[u])
            w->sent[u] = w->acked[u];
    }
}

/* Commit what ingest holds. With every date in three weeks (s_narrow), as
 * after a quiet moment each time: each unit's day rows are written in the
 * batch, not left for later (hub_ingest_quiet). */
static void s_flush(world_t *w, int ack_loss_pct)
{
    if (s_narrow)
        hub_ingest_quiet(w->ingest);
    assert_int_equal(hub_ingest_flush(w->ingest, NOW), 0);
    s_replies(w, ack_loss_pct);
}

/* Deliver the channel in batches of random size, flushing each. */
static void s_deliver(world_t *w, int ack_loss_pct)
{
    s_shuffle(w);
    for (size_t i = 0; i < w->nchannel; i++) {
        const msg_t *m = &w->channel[i];
        const wire_t *body = m->seq == 0   ? &w->heartbeat[m->unit]
                             : m->conflict ? &w->other[m->unit][m->seq]
                                           : &w->wire[m->unit][m->seq];
        char rid[32];
        snprintf(rid, sizeof rid, "peer-%zu-%u", m->unit, w->incarnation[m->unit]);
        if (hub_ingest_add(w->ingest, rid, strlen(rid), body->body, body->len, 1) != 0) {
            s_flush(w, ack_loss_pct);
            assert_int_equal(hub_ingest_add(w->ingest, rid, strlen(rid), body->body, body->len, 1),
                             0);
        }
        if (s_chance(&w->rng, 10))
            s_flush(w, ack_loss_pct);
    }
    s_flush(w, ack_loss_pct);
    w->nchannel = 0;
}

/* Now and then a conflicting body for a seq the hub has already taken. */
static void s_maybe_conflict(world_t *w, size_t u)
{
    /* (version 2: a conflict closes the identity, and these agents do not
     * draw new ones: the drills and test_sender cover that) */
    uint64_t taken = w->states[u].last_seq;
    if (!s_v2 && taken > 0 && s_chance(&w->rng, 3)) {
        s_put(w, u, 1 + s_below(&w->rng, (uint32_t)taken), 1);
        w->conflicts_sent++;
    }
}

static int s_done(const world_t *w)
{
    for (size_t u = 0; u < NUNITS; u++)
        if (w->acked[u] < w->n[u])
            return 0;
    return 1;
}

/* Version 2: each unit's sums are its two streams', each stream's sequence
 * is complete; the recount (below, in s_check) checks the snapshots. */
static void s_check_v2(world_t *w, uint64_t seed)
{
    for (size_t r = 0; r < NUNITS / 2; r++) {
        const hub_unit_state_t *a = &w->states[r], *e0 = &w->expect[2 * r],
                               *e1 = &w->expect[2 * r + 1];
        if (a->reports != e0->reports + e1->reports ||
            a->participants != e0->participants + e1->participants ||
            a->hours_tenths != e0->hours_tenths + e1->hours_tenths ||
            a->sessions != e0->sessions + e1->sessions || a->last_seq != 0)
            fail_msg("seed %llu unit %zu: sums differ from its two streams' (reports %llu/%llu)",
                     (unsigned long long)seed, r, (unsigned long long)a->reports,
                     (unsigned long long)(e0->reports + e1->reports));
    }
    for (size_t u = 0; u < NUNITS; u++) {
        uint8_t inc[RO_INCARNATION_LEN];
        memset(inc, INC_BYTE(u), sizeof inc);
        uint64_t last = 0;
        int64_t iid = hub_store_incarnation_find(w->store, s_unit_of(u), inc, &last, NULL, 0);
        if (w->n[u] ? iid <= 0 || last != w->n[u] : iid != 0)
            fail_msg("seed %llu stream %zu: last seq %llu, expected %llu", (unsigned long long)seed,
                     u, (unsigned long long)last, (unsigned long long)w->n[u]);
    }
}

static void s_check(world_t *w, uint64_t seed)
{
    for (size_t u = 0; u < NUNITS && !s_v2; u++) {
        const hub_unit_state_t *a = &w->states[u], *e = &w->expect[u];
        if (a->last_seq != e->last_seq || a->reports != e->reports ||
            a->participants != e->participants || a->hours_tenths != e->hours_tenths ||
            a->sessions != e->sessions || a->staff_date != e->staff_date ||
            a->staff_total != e->staff_total || a->staff_proficient != e->staff_proficient ||
            a->items_date != e->items_date || a->items_total != e->items_total ||
            a->items_no_visit != e->items_no_visit || a->cases_month != e->cases_month ||
            a->cases_total != e->cases_total || a->cases_no_visit != e->cases_no_visit)
            fail_msg("seed %llu unit %zu: aggregates differ from one in-order delivery "
                     "(last_seq %llu/%llu, reports %llu/%llu, participants %llu/%llu)",
                     (unsigned long long)seed, u, (unsigned long long)a->last_seq,
                     (unsigned long long)e->last_seq, (unsigned long long)a->reports,
                     (unsigned long long)e->reports, (unsigned long long)a->participants,
                     (unsigned long long)e->participants);
    }
    const hub_ingest_counters_t *c = hub_ingest_counters(w->ingest);
    if (c->reports_stored != w->expect_stored || c->conflicts != w->conflicts_sent)
        fail_msg("seed %llu: stored %llu (expected %llu), conflicts %llu (sent %llu)",
                 (unsigned long long)seed, (unsigned long long)c->reports_stored,
                 (unsigned long long)w->expect_stored, (unsigned long long)c->conflicts,
                 (unsigned long long)w->conflicts_sent);
    assert_int_equal(c->refused[s_v2 ? RO_REASON_IDENTITY : RO_REASON_CONFLICT], w->conflicts_sent);
    if (s_v2)
        s_check_v2(w, seed);
    /* its unit_days rows (and the reports of units whose rows were left
     * for later) answer every as-of question as the scan does: before any
     * report, amid them (the first of a month, when a month's cases count
     * from) and after them all; on every 8th seed, as each scan costs as
     * much as the run itself */
    static const uint32_t dates[] = {20161231, 20170301, 20170915, 20180101, 20180630, 20991231};
    if (seed % 8 == 0)
        hf_assert_as_of_recount(w->store, w->reg, dates, sizeof dates / sizeof dates[0]);
    /* ingest goes quiet: the rows left for later are written (none with
     * s_narrow: each correction and tie was applied in place) */
    char err[256] = "";
    long later = hub_store_days_refresh(w->store, 60000, err, sizeof err);
    if (later < 0 || (s_narrow && later != 0))
        fail_msg("seed %llu: %ld units' day rows left for later %s", (unsigned long long)seed,
                 later, err);
    /* the store says the same: its rows, every unit's day rows now among
     * them, recount to the aggregates */
    uint64_t units = 0, reports = 0;
    long diffs = hub_store_recount(w->store, NULL, 0, &units, &reports, err, sizeof err);
    if (diffs != 0 || reports != w->expect_counted)
        fail_msg("seed %llu: recount: %ld differences, %llu rows (expected %llu) %s",
                 (unsigned long long)seed, diffs, (unsigned long long)reports,
                 (unsigned long long)w->expect_counted, err);
    /* and a reload from the store (a hub restart) gives the same states */
    hub_unit_state_t again[NUNITS];
    assert_int_equal(hub_store_load_states(w->store, w->reg, again, err, sizeof err), 0);
    for (size_t u = 0; u < NUNITS; u++) {
        assert_int_equal(again[u].last_seq, w->states[u].last_seq);
        assert_int_equal(again[u].reports, w->states[u].reports);
        assert_int_equal(again[u].participants, w->states[u].participants);
        assert_int_equal(again[u].cases_total, w->states[u].cases_total);
    }
}

/* ---- the properties ------------------------------------------------------- */

/* Agents with a window, resending from their last ack on timeouts and
 * reconnects (go-back-N); the network duplicates, drops and reorders
 * messages and loses acks. */
static void s_go_back_n(uint64_t first_seed)
{
    for (uint64_t seed = first_seed; seed < first_seed + PROPERTY_SEEDS; seed++) {
        world_t *w = s_world_new(seed, SEQ_MAX);
        uint32_t window = 1 + s_below(&w->rng, 12);
        int drop = (int)s_below(&w->rng, 30), ack_loss = (int)s_below(&w->rng, 40);
        int rounds = 0;
        while (!s_done(w)) {
            assert_true(++rounds < ROUNDS_MAX);
            for (size_t u = 0; u < NUNITS; u++) {
                if (w->acked[u] >= w->n[u] && !s_chance(&w->rng, 5))
                    continue;
                if (s_chance(&w->rng, 15)) {
                    /* a timeout or a reconnect: go back to the last ack */
                    w->sent[u] = w->acked[u];
                    if (s_chance(&w->rng, 50))
                        w->incarnation[u]++;
                }
                if (s_chance(&w->rng, 10))
                    s_put(w, u, 0, 0);
                uint64_t upto = w->acked[u] + window;
                if (upto > w->n[u])
                    upto = w->n[u];
                for (uint64_t q = w->sent[u] + 1; q <= upto; q++) {
                    uint32_t copies =
                        s_chance(&w->rng, (uint32_t)drop) ? 0 : 1 + s_below(&w->rng, 3);
                    for (uint32_t k = 0; k < copies; k++)
                        s_put(w, u, q, 0);
                }
                if (upto > w->sent[u])
                    w->sent[u] = upto;
                s_maybe_conflict(w, u);
            }
            s_deliver(w, ack_loss);
            /* nothing acknowledged for a while: resend from the last ack */
            for (size_t u = 0; u < NUNITS; u++)
                if (w->sent[u] > w->acked[u] && s_chance(&w->rng, 30))
                    w->sent[u] = w->acked[u];
        }
        s_check(w, seed);
        s_world_destroy(&w);
    }
}

static void test_go_back_n_equals_in_order(void **state)
{
    (void)state;
    s_go_back_n(1);
}

/* The same in version 2, two outboxes per unit. */
static void test_v2_incarnations_go_back_n(void **state)
{
    (void)state;
    s_v2 = 1;
    s_go_back_n(2000000);
    s_v2 = 0;
}

/* The same with every date in three weeks: each correction and each tie
 * between snapshots of one date is applied to the unit's daily rows in
 * place, not left stale for a later re-derivation. */
static void test_v2_narrow_dates_go_back_n(void **state)
{
    (void)state;
    s_v2 = s_narrow = 1;
    s_go_back_n(3000000);
    s_v2 = s_narrow = 0;
}

/* Every report one to three times in one shuffled heap; the hub stores only
 * last_seq + 1 and drops the rest as gaps, so whatever is not stored is
 * resent, shuffled again, until everything is in. */
static void test_shuffled_resends_equal_in_order(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= PROPERTY_SEEDS; seed++) {
        world_t *w = s_world_new(seed + 1000000, 16);
        int rounds = 0;
        while (!s_done(w)) {
            assert_true(++rounds < ROUNDS_MAX);
            for (size_t u = 0; u < NUNITS; u++) {
                /* resend from the hub's own count, which the agent learns from acks */
                uint64_t from = w->states[u].last_seq + 1;
                for (uint64_t q = from; q <= w->n[u]; q++) {
                    uint32_t copies = 1 + s_below(&w->rng, 3);
                    for (uint32_t k = 0; k < copies; k++)
                        s_put(w, u, q, 0);
                }
                s_maybe_conflict(w, u);
            }
            s_deliver(w, 0);
        }
        s_check(w, seed);
        s_world_destroy(&w);
    }
}

/* Deliver unit u's stream once, in order, one flush per report. */
static void s_in_order(world_t *w, size_t u)
{
    for (uint64_t q = 1; q <= w->n[u]; q++) {
        const wire_t *b = &w->wire[u][q];
        assert_int_equal(hub_ingest_add(w->ingest, "A", 1, b->body, b->len, 1), 0);
        assert_int_equal(hub_ingest_flush(w->ingest, NOW), 0);
    }
    w->acked[u] = w->n[u];
}

/* The same unit and seq with another body is refused as a conflict, counted,
 * and changes nothing; the same body again is a duplicate and is acked. */
static void test_conflict_refused_and_counted(void **state)
{
    (void)state;
    uint64_t seed = 42;
    size_t u = 1;
    world_t *w = s_world_new(seed, 10);
    while (w->n[u] == 0) {
        s_world_destroy(&w);
        w = s_world_new(++seed, 10);
    }
    s_in_order(w, u);
    hub_unit_state_t before = w->states[u];
    assert_int_equal(before.last_seq, w->n[u]);

    const wire_t *b = &w->other[u][1];
    assert_int_equal(hub_ingest_add(w->ingest, "A", 1, b->body, b->len, 1), 0);
    b = &w->wire[u][1];
    assert_int_equal(hub_ingest_add(w->ingest, "A", 1, b->body, b->len, 1), 0);
    assert_int_equal(hub_ingest_flush(w->ingest, NOW), 0);
    const hub_ingest_counters_t *c = hub_ingest_counters(w->ingest);
    assert_int_equal(c->conflicts, 1);
    assert_int_equal(c->refused[RO_REASON_CONFLICT], 1);
    int refused = 0, acked = 0;
    for (size_t i = 0; i < hub_ingest_reply_count(w->ingest); i++) {
        const hub_ingest_reply_t *rp = hub_ingest_reply_at(w->ingest, i);
        if (rp->msg.kind == RO_HUBMSG_REFUSAL && rp->msg.reason == RO_REASON_CONFLICT &&
            rp->msg.seq == 1)
            refused++;
        if (rp->msg.kind == RO_HUBMSG_ACK && rp->msg.seq == w->n[u])
            acked++;
    }
    assert_int_equal(refused, 1);
    assert_true(acked >= 1);
    assert_memory_equal(&before, &w->states[u], sizeof before);
    w->conflicts_sent = 1;
    w->acked[u] = w->n[u];
    for (size_t k = 0; k < NUNITS; k++)
        if (k != u)
            s_in_order(w, k);
    s_check(w, seed);
    s_world_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conflict_refused_and_counted),
        cmocka_unit_test(test_go_back_n_equals_in_order),
        cmocka_unit_test(test_shuffled_resends_equal_in_order),
        cmocka_unit_test(test_v2_incarnations_go_back_n),
        cmocka_unit_test(test_v2_narrow_dates_go_back_n),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
