/* fuzz_status: the status API on untrusted request bytes. A small registry
 * with the real targets and an in-memory store holding a few months of
 * reports (so as-of, history, series and verify have data) answers each
 * input; every answer must be a StatusReply that unpacks. Nothing an input
 * does is stored, so every run sees the same hub. */
#include "engine.h"
#include "fuzz.h"
#include "ingest.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_status.h"
#include "ro_registry.h"
#include "status.h"
#include "store.h"
#include "ro_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ro_registry_t *s_reg;
static ro_targets_t *s_targets;
static hub_engine_t *s_engine;
static hub_store_t *s_store;
static hub_unit_state_t *s_states;
static hub_ingest_t *s_ingest;
static hub_committed_t *s_committed;
static hub_status_t *s_status;

static void s_cleanup(void)
{
    hub_status_destroy(&s_status);
    hub_ingest_destroy(&s_ingest);
    hub_committed_destroy(&s_committed);
    hub_store_destroy(&s_store);
    free(s_states);
    hub_engine_destroy(&s_engine);
    ro_targets_destroy(&s_targets);
    ro_registry_destroy(&s_reg);
}

/* A few months of every kind of report for most units, stored through ingest. */
static void s_seed(void)
{
    size_t n = ro_registry_count(s_reg);
    uint64_t seq = 0;
    for (uint32_t month = 1; month <= 6; month++) {
        for (size_t u = 0; u + 1 < n; u++) { /* the last unit stays silent */
            ro_report_t r;
            memset(&r, 0, sizeof r);
            r.version = RO_PROTOCOL_V1;
            snprintf(r.unit, sizeof r.unit, "%s", ro_registry_at(s_reg, u)->id);
            r.recorded_at = FUZZ_NOW - 86400;
            seq = (month - 1) * 4;
            static const ro_kind_t kinds[4] = {RO_KIND_TRAINING, RO_KIND_STAFF, RO_KIND_ITEMS,
                                               RO_KIND_CASES};
            for (int k = 0; k < 4; k++) {
                r.seq = ++seq;
                r.kind = kinds[k];
                r.date = r.kind == RO_KIND_CASES ? 201800 + month : 20180000 + month * 100 + 10;
                r.total = (uint32_t)(20 + 7 * u + month);
                r.part = r.kind == RO_KIND_TRAINING ? 35 : (uint32_t)(u * month) % r.total;
                snprintf(r.text, sizeof r.text, "%s",
                         r.kind == RO_KIND_TRAINING ? "第1期 全程网办" : "");
                uint8_t buf[RO_FRAME_MAX];
                int len = ro_report_encode(&r, buf, sizeof buf);
                FUZZ_CHECK(len > 0, "seed encodes");
                FUZZ_CHECK(hub_ingest_add(s_ingest, "seed", 4, buf, (size_t)len, 1) == 0,
                           "seed add");
            }
        }
        FUZZ_CHECK(hub_ingest_flush(s_ingest, FUZZ_NOW - 86400) == 0, "seed flush");
    }
}

static void s_open(void)
{
    char err[512];
    ro_log_init("fuzz_status", LOG_CRIT);
    s_reg = ro_registry_load(FUZZ_REGISTRY, err, sizeof err);
    FUZZ_CHECK(s_reg, err);
    s_targets = ro_targets_load(FUZZ_TARGETS, err, sizeof err);
    FUZZ_CHECK(s_targets, err);
    s_engine = hub_engine_new(s_reg, s_targets, err, sizeof err);
    FUZZ_CHECK(s_engine, err);
    s_store = hub_store_open(":memory:", 1, 0, err, sizeof err);
    FUZZ_CHECK(s_store, err);
    s_states = calloc(ro_registry_count(s_reg), sizeof *s_states);
    FUZZ_CHECK(s_states, "out of memory");
    FUZZ_CHECK(hub_store_load_states(s_store, s_reg, s_states, err, sizeof err) == 0, err);
    s_ingest = hub_ingest_new(s_store, s_reg, s_states, 4096);
    FUZZ_CHECK(s_ingest, "hub_ingest_new");
    s_committed = hub_committed_new(s_reg, s_engine, s_states);
    FUZZ_CHECK(s_committed, "hub_committed_new");
    hub_ingest_set_committed(s_ingest, s_committed);
    s_seed();
    s_status = hub_status_new(s_reg, hub_committed_states(s_committed), s_store, s_committed);
    FUZZ_CHECK(s_status, "hub_status_new");
    FUZZ_CHECK(hub_status_set_engine(s_status, s_engine, s_targets, "[fuzz]\n") == 0, "engine");
    hub_committed_set_feed(s_committed, 42, 1);
    atexit(s_cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_status)
        s_open();
    uint8_t *out = NULL;
    size_t out_len = 0;
    FUZZ_CHECK(hub_status_answer(s_status, data, size, FUZZ_NOW, &out, &out_len) == 0,
               "an answer (out of memory?)");
    FUZZ_CHECK(out != NULL, "an answer");
    ro_status_reply_t *r = ro_status_reply_decode(out, out_len, RO_DECODE_STRICT, NULL, 0);
    FUZZ_CHECK(r != NULL, "the answer is a strict StatusReply");
    FUZZ_CHECK(r->status <= 2, "status is 0, 1 or 2");
    ro_status_reply_free(&r);
    free(out);
    return 0;
}
