/* hub_fixture: what the hub's unit tests share: a registry of three units,
 * a store opened or failing the test, a report built field by field, and
 * unit states compared field by field. */
#ifndef HUB_FIXTURE_H
#define HUB_FIXTURE_H

#include "ro_registry.h"
#include "ro_report.h"
#include "ro_targets.h"
#include "store.h"
#include "test_util.h"
#include "as_of_check.h"

#include <stdlib.h>
#include <unistd.h>

#define NOW 1546300800 /* 2019-01-01T00:00:00Z: every 2017-2018 date is valid */
#define NUNITS 3

static const char *hf_units_csv = "id,level,division,name\n"
                                  "460000-001,provincial,460000,省发展和改革委员会\n"
                                  "460100-001,municipal,460100,海口市教育局\n"
                                  "469002-003,municipal,469002,琼海市科学技术局\n";

static inline ro_registry_t *hf_registry(void)
{
    char err[256] = "";
    ro_registry_t *reg = ro_registry_load(tu_write("units.csv", hf_units_csv), err, sizeof err);
    if (!reg)
        fail_msg("registry: %s", err);
    return reg;
}

/* The project's own targets, config/targets.ini. */
static inline ro_targets_t *hf_targets(void)
{
    char err[512] = "", path[512];
    snprintf(path, sizeof path, "%s/config/targets.ini", getenv("RO_SOURCE_ROOT"));
    ro_targets_t *targets = ro_targets_load(path, err, sizeof err);
    if (!targets)
        fail_msg("targets: %s", err);
    return targets;
}

/* A targets file (its path): config/targets.ini's indicators without its
 * [review], then review (a [review] section of the test's, or ""). */
static inline const char *hf_targets_with(const char *review)
{
    static char text[16384];
    char path[512];
    snprintf(path, sizeof path, "%s/config/targets.ini", getenv("RO_SOURCE_ROOT"));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *cut = strstr(text, "\n[review]\n");
    if (cut)
        cut[1] = '\0';
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s", review);
    return tu_write("targets.ini", text);
}

static inline char *hf_path(const char *name)
{
    static char paths[8][300];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 300, "%s/%s", tu_dir(), name);
    return p;
}

static inline void hf_remove_db(const char *path)
{
    char buf[320];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
}

static inline hub_store_t *hf_open(const char *path, int64_t max_bytes)
{
    char err[512] = "";
    hub_store_t *st = hub_store_open(path, 2, max_bytes, err, sizeof err);
    if (!st)
        fail_msg("open %s: %s", path, err);
    return st;
}

/* The iid of unit i's legacy incarnation, which every version-1 report
 * belongs to (st must be a writer that loaded the unit's registry). */
static inline int64_t hf_iid(hub_store_t *st, size_t i)
{
    char err[256] = "";
    int64_t iid = hub_store_incarnation(st, i, NULL, NOW, err, sizeof err);
    if (iid <= 0)
        fail_msg("incarnation of unit %zu: %s", i, err);
    return iid;
}

/* Field by field: padding bytes are nobody's business. */
static inline void hf_assert_states_equal(const hub_unit_state_t *a, const hub_unit_state_t *b,
                                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
#define EQ(f) assert_int_equal(a[i].f, b[i].f)
        EQ(last_seq);
        EQ(last_heard);
        EQ(reports);
        EQ(participants);
        EQ(hours_tenths);
        EQ(sessions);
        EQ(staff_date);
        EQ(staff_total);
        EQ(staff_proficient);
        EQ(items_date);
        EQ(items_total);
        EQ(items_no_visit);
        EQ(cases_month);
        EQ(cases_total);
        EQ(cases_no_visit);
#undef EQ
    }
}

static inline ro_report_t hf_report(const char *unit, uint64_t seq, ro_kind_t kind, uint32_t date,
                                    uint32_t total, uint32_t part)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%s", unit);
    r.seq = seq;
    r.recorded_at = NOW - 3600;
    r.kind = kind;
    r.date = date;
    r.total = total;
    r.part = part;
    if (kind == RO_KIND_TRAINING)
        snprintf(r.text, sizeof r.text, "第1期 全程网办");
    return r;
}

#endif
