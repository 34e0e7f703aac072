/* fuzz_report: the hub's report path on untrusted bytes. Each input is one
 * ingest frame: decoded and checked (a report that decodes must survive an
 * encode/decode round trip unchanged), then added three times to one ingest
 * batch (twice from two peers, once as a two-frame message) and flushed into
 * an in-memory store, with every reply encodable. The store is renewed every
 * STORE_RUNS inputs so memory stays bounded over millions of runs. */
#include "fuzz.h"
#include "ingest.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_registry.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_RUNS 4096

static ro_registry_t *s_reg;
static hub_store_t *s_store;
static hub_unit_state_t *s_states;
static hub_ingest_t *s_ingest;
static unsigned s_runs;

static void s_close(void)
{
    hub_ingest_destroy(&s_ingest);
    hub_store_destroy(&s_store);
    free(s_states);
    s_states = NULL;
}

static void s_cleanup(void)
{
    s_close();
    ro_registry_destroy(&s_reg);
}

static void s_open(void)
{
    char err[512];
    if (!s_reg) {
        ro_log_init("fuzz_report", LOG_CRIT);
        s_reg = ro_registry_load(FUZZ_REGISTRY, err, sizeof err);
        FUZZ_CHECK(s_reg, err);
        atexit(s_cleanup);
    }
    size_t n = ro_registry_count(s_reg);
    s_store = hub_store_open(":memory:", 1, 0, err, sizeof err);
    FUZZ_CHECK(s_store, err);
    s_states = calloc(n, sizeof *s_states);
    FUZZ_CHECK(s_states, "out of memory");
    FUZZ_CHECK(hub_store_load_states(s_store, s_reg, s_states, err, sizeof err) == 0, err);
    s_ingest = hub_ingest_new(s_store, s_reg, s_states, 16);
    FUZZ_CHECK(s_ingest, "hub_ingest_new");
}

static int s_same(const ro_report_t *a, const ro_report_t *b)
{
    return a->version == b->version && !strcmp(a->unit, b->unit) && a->seq == b->seq &&
           a->recorded_at == b->recorded_at && a->kind == b->kind && a->date == b->date &&
           a->total == b->total && a->part == b->part && a->depth == b->depth &&
           !strcmp(a->text, b->text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (s_runs++ % STORE_RUNS == 0) {
        s_close();
        s_open();
    }
    char why[256];
    ro_report_t r;
    if (ro_report_decode(data, size, &r, why, sizeof why) == RO_REASON_NONE) {
        FUZZ_CHECK(strlen(r.unit) <= RO_UNIT_MAX && strlen(r.text) <= RO_TEXT_MAX,
                   "decoded lengths");
        FUZZ_CHECK(ro_utf8_valid(r.unit, strlen(r.unit)) && ro_utf8_valid(r.text, strlen(r.text)),
                   "decoded strings are UTF-8");
        ro_report_check(&r, why, sizeof why);
        uint8_t buf[RO_FRAME_MAX];
        int n = ro_report_encode(&r, buf, sizeof buf);
        FUZZ_CHECK(n >= 0, "a decoded report encodes");
        ro_report_t again;
        FUZZ_CHECK(ro_report_decode(buf, (size_t)n, &again, why, sizeof why) == RO_REASON_NONE,
                   "an encoded report decodes");
        FUZZ_CHECK(s_same(&r, &again), "round trip");
    }

    FUZZ_CHECK(hub_ingest_add(s_ingest, "peer-a", 6, data, size, 1) == 0, "add");
    FUZZ_CHECK(hub_ingest_add(s_ingest, "peer-b", 6, data, size, 1) == 0, "add");
    FUZZ_CHECK(hub_ingest_add(s_ingest, "peer-a", 6, data, size, 2) == 0, "add");
    FUZZ_CHECK(hub_ingest_flush(s_ingest, FUZZ_NOW) == 0, "an in-memory store commits");
    size_t replies = hub_ingest_reply_count(s_ingest);
    FUZZ_CHECK(replies >= 1 && replies <= 6, "every message is answered");
    for (size_t i = 0; i < replies; i++) {
        const hub_ingest_reply_t *rp = hub_ingest_reply_at(s_ingest, i);
        uint8_t out[RO_FRAME_MAX];
        ro_hubmsg_t m;
        int n = ro_hubmsg_encode(&rp->msg, out, sizeof out);
        FUZZ_CHECK(n > 0, "a reply encodes");
        FUZZ_CHECK(ro_hubmsg_decode(out, (size_t)n, &m, why, sizeof why) == 0, "a reply decodes");
    }
    return 0;
}
