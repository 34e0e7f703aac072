/* bench_util: clock, histogram, event mix, key files. The event mix is
 * deterministic so that hub and ceiling see byte-identical traffic. */
#include "bench_util.h"
#include "ro_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- histogram ---------------------------------------------------------- */

static size_t s_bucket_of(uint64_t v)
{
    const uint64_t sub = 1u << BENCH_HIST_SUB;
    if (v < sub)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v);
    size_t idx =
        (size_t)(e - BENCH_HIST_SUB + 1) * sub + (size_t)((v >> (e - BENCH_HIST_SUB)) - sub);
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

static uint64_t s_bucket_floor(size_t idx)
{
    const size_t sub = 1u << BENCH_HIST_SUB;
    if (idx < sub)
        return idx;
    int e = (int)(idx / sub) + BENCH_HIST_SUB - 1;
    uint64_t mant = (uint64_t)(idx % sub) + sub;
    return mant << (e - BENCH_HIST_SUB);
}

void bench_hist_add(bench_hist_t *h, int64_t ns)
{
    uint64_t v = ns > 0 ? (uint64_t)ns : 0;
    h->bucket[s_bucket_of(v)]++;
    h->count++;
    if (v > h->max_ns)
        h->max_ns = v;
}

void bench_hist_merge(bench_hist_t *dst, const bench_hist_t *src)
{
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

int64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen > rank)
            return (int64_t)s_bucket_floor(i);
    }
    return (int64_t)h->max_ns;
}

/* ---- the event mix -------------------------------------------------------- */

/* A 64-bit mix of (unit, seq): splitmix64 over an FNV-1a hash of the id. */
static uint64_t s_mix(const char *unit, uint64_t seq)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *p = unit; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    uint64_t z = h + seq * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *s_courses[] = {
    "",
    "Platform basics",
    "一窗受理平台操作培训",
    "不见面审批业务流程与电子证照应用专题培训班",
    "E-signature and online payment for approval staff",
    "网上办事大厅",
    "Case handling without a visit: the 2018 rules",
    "审批服务事项清单梳理",
};
#define COURSES (sizeof s_courses / sizeof s_courses[0])

uint32_t bench_staff_total(const char *unit)
{
    return 20 + (uint32_t)(s_mix(unit, 0) % 61);
}

static uint64_t s_per_day; /* bench_calendar_per_day */

void bench_calendar_per_day(uint64_t n)
{
    s_per_day = n;
}

void bench_event_make(const char *unit, uint64_t seq, ro_report_t *out)
{
    uint64_t x = s_mix(unit, seq), u = s_mix(unit, 0);
    memset(out, 0, sizeof *out);
    out->version = RO_PROTOCOL_VERSION;
    snprintf(out->unit, sizeof out->unit, "%.*s", RO_UNIT_MAX, unit);
    out->seq = seq;
    /* a 2018-2019 calendar walked by seq, so dates advance as a unit reports */
    uint32_t year = 2018 + (uint32_t)((seq / 336) % 2);
    uint32_t month = 1 + (uint32_t)((seq / 28) % 12);
    uint32_t day = 1 + (uint32_t)(seq % 28);
    uint32_t date = year * 10000 + month * 100 + day;
    if (s_per_day) { /* a day every s_per_day reports, in date order */
        date = ro_date_of((ro_date_days(20200101) + (int64_t)(seq / s_per_day % 2190)) * 86400);
        year = date / 10000, month = date / 100 % 100;
    }
    out->recorded_at = (ro_date_days(date) * 86400) + 9 * 3600 + (int64_t)(x % 28800);
    /* the no-visit and proficient shares climb with the calendar, 10% to 90% */
    uint32_t share = 10 + (uint32_t)(seq % 672) * 80 / 672;
    unsigned pick = (unsigned)(x % 100);
    if (pick < 40) {
        out->kind = RO_KIND_TRAINING;
        out->date = date;
        out->total = 1 + (uint32_t)((x >> 8) % bench_staff_total(unit)); /* participants */
        out->part = 5 + (uint32_t)((x >> 16) % 36); /* 0.5 to 4 hours, in tenths */
        snprintf(out->text, sizeof out->text, "%s", s_courses[(x >> 32) % COURSES]);
    } else if (pick < 70) {
        out->kind = RO_KIND_CASES;
        out->date = year * 100 + month;
        out->total = 10 * (100 + (uint32_t)((x >> 8) % 1900));
        out->part = out->total / 100 * share;
    } else if (pick < 85) {
        out->kind = RO_KIND_STAFF;
        out->date = date;
        out->total = bench_staff_total(unit);
        out->part = out->total * share / 100;
    } else {
        out->kind = RO_KIND_ITEMS;
        out->date = date;
        out->total = 50 + (uint32_t)((u >> 8) % 351);
        out->part = out->total * share / 100;
    }
}

void bench_heartbeat_make(const char *unit, ro_report_t *out)
{
    memset(out, 0, sizeof *out);
    out->version = RO_PROTOCOL_VERSION;
    snprintf(out->unit, sizeof out->unit, "%.*s", RO_UNIT_MAX, unit);
    out->recorded_at = ro_time_now();
    out->kind = RO_KIND_HEARTBEAT;
    snprintf(out->text, sizeof out->text, "loadgen");
}

/* ---- keys ----------------------------------------------------------------- */

typedef struct {
    char unit[RO_UNIT_MAX + 1]; /* unit id */
    char pub[41];               /* Z85 public key */
    char sec[41];               /* Z85 secret key */
} s_keypair_t;

struct bench_keys {
    s_keypair_t *pairs; /* sorted by unit */
    size_t n;           /* pairs */
};

static int s_pair_cmp(const void *a, const void *b)
{
    return strcmp(((const s_keypair_t *)a)->unit, ((const s_keypair_t *)b)->unit);
}

bench_keys_t *bench_keys_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    bench_keys_t *self = calloc(1, sizeof *self);
    size_t cap = 0;
    char line[256];
    int lineno = 0;
    while (self && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (self->n == cap) {
            cap = cap ? cap * 2 : 1024;
            s_keypair_t *p = realloc(self->pairs, cap * sizeof *p);
            if (!p) {
                snprintf(err, errlen, "out of memory");
                bench_keys_destroy(&self);
                break;
            }
            self->pairs = p;
        }
        s_keypair_t *k = &self->pairs[self->n];
        if (sscanf(line, "%32s %40s %40s", k->unit, k->pub, k->sec) != 3 || strlen(k->pub) != 40 ||
            strlen(k->sec) != 40) {
            snprintf(err, errlen, "%s:%d: expected UNIT PUBLIC SECRET", path, lineno);
            bench_keys_destroy(&self);
            break;
        }
        self->n++;
    }
    fclose(f);
    if (self)
        qsort(self->pairs, self->n, sizeof *self->pairs, s_pair_cmp);
    else if (!err[0])
        snprintf(err, errlen, "out of memory");
    return self;
}

void bench_keys_destroy(bench_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->pairs);
    free(*self_p);
    *self_p = NULL;
}

int bench_keys_find(const bench_keys_t *self, const char *unit, const char **public_z85,
                    const char **secret_z85)
{
    s_keypair_t key;
    snprintf(key.unit, sizeof key.unit, "%.*s", RO_UNIT_MAX, unit);
    const s_keypair_t *k = bsearch(&key, self->pairs, self->n, sizeof *self->pairs, s_pair_cmp);
    if (!k)
        return -1;
    *public_z85 = k->pub;
    *secret_z85 = k->sec;
    return 0;
}

int bench_curve_client(void *sock, const char *server_z85, const char *public_z85,
                       const char *secret_z85)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_z85, 40) ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, public_z85, 40) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret_z85, 40))
        return -1;
    return 0;
}

int bench_key_file(const char *path, char out[41], char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[64] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || strlen(line) != 40) {
        snprintf(err, errlen, "%s: not a 40-character Z85 key", path);
        return -1;
    }
    memcpy(out, line, 41);
    return 0;
}

int bench_write_endpoint(const char *path, const char *endpoint)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", endpoint);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
