/* gen_corpus: writes the seed corpus of the fuzz targets (corpus/report,
 * corpus/status and corpus/feed): good messages of every kind and query,
 * and the bad ones the hub must refuse. Run once by hand when the protocol changes:
 *   build/tests/fuzz/gen-corpus tests/fuzz/corpus
 * The files it writes are committed; fuzzing adds its finds next to them. */
#include "fuzz.h"
#include "ro_codec.h"
#include "ro_status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_dir;
static int s_count;

static void s_write(const char *kind, const char *name, const uint8_t *buf, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", s_dir, kind);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%02d-%s", s_dir, kind, s_count++, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static ro_report_t s_report(const char *unit, uint64_t seq, ro_kind_t kind, uint32_t date,
                            uint32_t total, uint32_t part)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%s", unit);
    r.seq = seq;
    r.recorded_at = FUZZ_NOW - 3600;
    r.kind = kind;
    r.date = date;
    r.total = total;
    r.part = part;
    if (kind == RO_KIND_TRAINING)
        snprintf(r.text, sizeof r.text, "第3期 全程网办 培训");
    if (kind == RO_KIND_HEARTBEAT)
        snprintf(r.text, sizeof r.text, "0.1.0");
    return r;
}

/* Encode r, append extra (len bytes) and write it; truncate to cut if > 0. */
static void s_put(const char *name, const ro_report_t *r, const char *extra, size_t extra_len,
                  size_t cut)
{
    uint8_t buf[RO_FRAME_MAX * 2];
    int n = ro_report_encode(r, buf, RO_FRAME_MAX);
    if (n < 0) {
        fprintf(stderr, "gen_corpus: %s does not encode\n", name);
        exit(1);
    }
    memcpy(buf + n, extra, extra_len);
    size_t len = (size_t)n + extra_len;
    if (cut && cut < len)
        len = cut;
    s_write("report", name, buf, len);
}

static void s_reports(void)
{
    ro_report_t r;
    s_count = 0;
    s_put("training", (r = s_report("460100-001", 1, RO_KIND_TRAINING, 20180310, 25, 35), &r), "",
          0, 0);
    s_put("staff", (r = s_report("460100-001", 2, RO_KIND_STAFF, 20180311, 40, 31), &r), "", 0, 0);
    s_put("items", (r = s_report("460100-001", 3, RO_KIND_ITEMS, 20180312, 120, 90), &r), "", 0, 0);
    s_put("cases", (r = s_report("460100-001", 4, RO_KIND_CASES, 201803, 1000, 640), &r), "", 0, 0);
    r = s_report("460100-001", 0, RO_KIND_HEARTBEAT, 0, 0, 0);
    r.depth = 12;
    s_put("heartbeat", &r, "", 0, 0);
    s_put("gap", (r = s_report("460200-001", 7, RO_KIND_STAFF, 20180311, 40, 31), &r), "", 0, 0);
    s_put("seq0", (r = s_report("460100-002", 0, RO_KIND_STAFF, 20180311, 40, 31), &r), "", 0, 0);
    s_put("future", (r = s_report("460100-002", 1, RO_KIND_ITEMS, 20300101, 10, 1), &r), "", 0, 0);
    s_put("date-bad", (r = s_report("460100-002", 1, RO_KIND_ITEMS, 20180230, 10, 1), &r), "", 0,
          0);
    s_put("part-above", (r = s_report("460100-002", 1, RO_KIND_CASES, 201802, 10, 11), &r), "", 0,
          0);
    s_put("huge",
          (r = s_report("460100-002", 1, RO_KIND_TRAINING, 20180101, 4000000000u, 4000000000u), &r),
          "", 0, 0);
    s_put("unit-unknown", (r = s_report("469030-999", 1, RO_KIND_STAFF, 20180311, 4, 3), &r), "", 0,
          0);
    s_put("unit-bad", (r = s_report("46-01", 1, RO_KIND_STAFF, 20180311, 4, 3), &r), "", 0, 0);
    r = s_report("460100-002", 1, RO_KIND_TRAINING, 20180101, 3, 10);
    memset(r.text, 'x', RO_TEXT_MAX);
    r.text[RO_TEXT_MAX] = '\0';
    for (int i = 0; i + 3 <= 60; i += 3)
        memcpy(r.text + 140 + i, "\xe5\x9f\xb9", 3); /* 培, up to the last byte */
    s_put("text-max", &r, "", 0, 0);
    r = s_report("460100-002", 1, RO_KIND_STAFF, 20180311, 4, 3);
    r.version = 2;
    s_put("version", &r, "", 0, 0);
    r = s_report("460100-001", 5, RO_KIND_ITEMS, 20180312, 10, 3);
    s_put("unknown-field", &r, "\x98\x06\x01", 3, 0);
    s_put("unit-nul", &r,
          "\x12\x0b"
          "460100-0\x00"
          "01",
          13, 0);
    s_put("unit-utf8-bad", &r,
          "\x12\x0a"
          "460100-0\xff\xfe",
          12, 0);
    s_put("truncated", &r, "", 0, 9);
    s_put("trailing-junk", &r, "\xff\xff\xff", 3, 0);
    s_write("report", "empty", (const uint8_t *)"", 0);
    s_write("report", "junk", (const uint8_t *)"\x0a\xff\xff\xff\xff\x0f\x12\x80", 8);
}

static void s_req(const char *name, ro_query_t q, const char *key, uint32_t as_of,
                  const char *indicator, uint32_t limit, uint32_t version)
{
    ro_status_request_t req = ro_status_request(q);
    req.version = version;
    snprintf(req.key, sizeof req.key, "%s", key ? key : "");
    req.as_of = as_of;
    snprintf(req.indicator, sizeof req.indicator, "%s", indicator ? indicator : "");
    req.limit = limit;
    uint8_t buf[4096];
    int n = ro_status_request_encode(&req, buf, sizeof buf);
    if (n < 0)
        exit(1);
    s_write("status", name, buf, (size_t)n);
}

static void s_requests(void)
{
    s_count = 0;
    s_req("unit", RO_QUERY_UNIT, "460100-001", 0, NULL, 0, 1);
    s_req("unit-asof", RO_QUERY_UNIT, "460100-001", 20180401, NULL, 0, 1);
    s_req("unit-unknown", RO_QUERY_UNIT, "469030-999", 0, NULL, 0, 1);
    s_req("province", RO_QUERY_PROVINCE, NULL, 0, NULL, 0, 1);
    s_req("province-asof", RO_QUERY_PROVINCE, NULL, 20180228, NULL, 0, 1);
    s_req("division", RO_QUERY_DIVISION, "460100", 0, NULL, 0, 1);
    s_req("division-prov", RO_QUERY_DIVISION, "460000", 20180630, NULL, 0, 1);
    s_req("level", RO_QUERY_LEVEL, "township", 0, NULL, 0, 1);
    s_req("level-all", RO_QUERY_LEVEL, "", 0, NULL, 0, 1);
    s_req("laggards", RO_QUERY_LAGGARDS, NULL, 20180630, "items_no_visit", 5, 1);
    s_req("silent", RO_QUERY_SILENT, NULL, 0, NULL, 3, 1);
    s_req("history", RO_QUERY_HISTORY, "460100-001", 0, "training_participants", 2, 1);
    s_req("divisions", RO_QUERY_DIVISIONS, NULL, 0, NULL, 0, 1);
    s_req("metrics", RO_QUERY_METRICS, NULL, 0, NULL, 0, 1);
    s_req("verify", RO_QUERY_VERIFY, NULL, 0, NULL, 0, 1);
    s_req("series", RO_QUERY_SERIES, NULL, 20181231, "cases_no_visit", 0, 1);
    s_req("targets", RO_QUERY_TARGETS, NULL, 0, NULL, 0, 1);
    s_req("query-unknown", (ro_query_t)99, NULL, 0, NULL, 0, 1);
    s_req("version-0", RO_QUERY_PROVINCE, NULL, 0, NULL, 0, 0);
    s_req("asof-bad", RO_QUERY_PROVINCE, NULL, 20181332, NULL, 0, 1);
    s_req("asof-future", RO_QUERY_UNIT, "460100-001", 20991231, NULL, 0, 1);
    s_req("indicator-unknown", RO_QUERY_LAGGARDS, NULL, 0, "nope", 0, 1);
    s_req("limit-huge", RO_QUERY_HISTORY, "460100-002", 0, NULL, 4000000000u, 1);
    s_write("status", "empty", (const uint8_t *)"", 0);
    s_write("status", "unknown-field", (const uint8_t *)"\x08\x01\x10\x02\x98\x06\x01", 7);
}

/* What a feed subscriber sends: 0x01 or 0x00 and a topic (every topic of
 * README's feed, and prefixes), and what no SUB sends. */
static void s_sub(const char *name, int lead, const char *topic, size_t len)
{
    uint8_t buf[8192];
    buf[0] = (uint8_t)lead;
    memcpy(buf + 1, topic, len);
    s_write("feed", name, buf, len + 1);
}

static void s_feed(void)
{
    static const char *topics[][2] = {
        {"all", ""},
        {"province", "province"},
        {"level", "level/municipal"},
        {"division", "division/460100"},
        {"unit", "unit/460100-001"},
        {"division-units", "unit/460100-"},
        {"heartbeat", "heartbeat"},
    };
    char name[64];
    s_count = 0;
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        snprintf(name, sizeof name, "sub-%s", topics[i][0]);
        s_sub(name, 1, topics[i][1], strlen(topics[i][1]));
        snprintf(name, sizeof name, "cancel-%s", topics[i][0]);
        s_sub(name, 0, topics[i][1], strlen(topics[i][1]));
    }
    s_sub("sub-nul", 1, "unit/\0x", 7);
    s_sub("sub-utf8-bad", 1, "unit/\xc3\x28\xff", 8);
    char big[4096];
    memset(big, 'u', sizeof big);
    s_sub("sub-4k", 1, big, sizeof big);
    s_sub("cancel-4k", 0, big, sizeof big);
    s_write("feed", "empty", (const uint8_t *)"", 0);
    s_write("feed", "lead-2", (const uint8_t *)"\x02province", 9);
    s_write("feed", "lead-ff", (const uint8_t *)"\xff", 1);
    s_write("feed", "text", (const uint8_t *)"province", 8);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen-corpus DIR (writes DIR/report, DIR/status and DIR/feed)\n");
        return 2;
    }
    s_dir = argv[1];
    if (mkdir(s_dir, 0755) != 0 && errno != EEXIST) {
        perror(s_dir);
        return 1;
    }
    s_reports();
    s_requests();
    s_feed();
    return 0;
}
