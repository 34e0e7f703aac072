/* ro_report: field checks shared by the agent's recording and the hub's ingest. */
#include "ro_report.h"
#include "ro_time.h"

#include <stdio.h>
#include <string.h>

const char *ro_kind_name(ro_kind_t kind)
{
    switch (kind) {
    case RO_KIND_TRAINING: return "training";
    case RO_KIND_STAFF: return "staff";
    case RO_KIND_ITEMS: return "items";
    case RO_KIND_CASES: return "cases";
    case RO_KIND_HEARTBEAT: return "heartbeat";
    default: return "?";
    }
}

const char *ro_action_name(ro_action_t action)
{
    switch (action) {
    case RO_ACTION_NONE: return "report";
    case RO_ACTION_AMEND: return "amend";
    case RO_ACTION_CANCEL: return "cancel";
    default: return "?";
    }
}

const char *ro_reason_name(ro_reason_t reason)
{
    static const char *names[RO_REASON_COUNT] = {
        "none",     "malformed", "version",  "unknown-unit", "invalid",
        "conflict", "forbidden", "identity", "target",
    };
    return (unsigned)reason < RO_REASON_COUNT ? names[reason] : "?";
}

int ro_unit_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n < 10 || n > 13 || id[6] != '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (i != 6 && (id[i] < '0' || id[i] > '9'))
            return 0;
    return 1;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (err)                                                                                   \
            snprintf(err, errlen, __VA_ARGS__);                                                    \
        return RO_REASON_INVALID;                                                                  \
    } while (0)

int ro_reason_final(ro_reason_t reason)
{
    return reason == RO_REASON_MALFORMED || reason == RO_REASON_INVALID ||
           reason == RO_REASON_CONFLICT || reason == RO_REASON_TARGET;
}

static uint64_t s_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t s_fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i)); /* little-endian on every host */
    return s_fnv(h, b, sizeof b);
}

uint64_t ro_report_hash(const ro_report_t *r)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a, 64 bits */
    h = s_fnv_u64(h, (uint64_t)r->kind);
    h = s_fnv_u64(h, r->date);
    h = s_fnv_u64(h, r->total);
    h = s_fnv_u64(h, r->part);
    h = s_fnv_u64(h, (uint64_t)r->recorded_at);
    size_t n = strlen(r->text);
    h = s_fnv_u64(h, n);
    h = s_fnv(h, r->text, n);
    if (r->action != RO_ACTION_NONE) { /* a report's hash is as it was before corrections */
        h = s_fnv_u64(h, (uint64_t)r->action);
        h = s_fnv(h, r->target_inc, sizeof r->target_inc);
        h = s_fnv_u64(h, r->target_seq);
        n = strlen(r->reason);
        h = s_fnv_u64(h, n);
        h = s_fnv(h, r->reason, n);
    }
    return h ? h : 1; /* 0 is the store's "content not known" */
}

/* recorded_at has a lower bound only: an agent whose clock is ahead
 * records the truth in every other field, and a refusal would be final */
static ro_reason_t s_check_recorded(const ro_report_t *r, char *err, size_t errlen)
{
    if (r->recorded_at < ro_date_days(RO_DATE_MIN) * 86400)
        FAIL("recorded-at time %lld is before 2017", (long long)r->recorded_at);
    return RO_REASON_NONE;
}

ro_reason_t ro_report_check(const ro_report_t *r, char *err, size_t errlen)
{
    if (!ro_unit_id_valid(r->unit))
        FAIL("unit id '%.40s' is not DIVISION-NNN", r->unit);
    if (r->kind == RO_KIND_HEARTBEAT) {
        if (r->seq != 0)
            FAIL("a heartbeat carries seq 0, not %llu", (unsigned long long)r->seq);
        return RO_REASON_NONE;
    }
    if (r->action != RO_ACTION_NONE) {
        if (r->action != RO_ACTION_AMEND && r->action != RO_ACTION_CANCEL)
            FAIL("correction action %d is neither amend nor cancel", (int)r->action);
        if (r->target_seq == 0)
            FAIL("a correction names the seq it corrects (1 or more)");
        if (!r->reason[0])
            FAIL("a correction says why (a reason)");
        if (r->action == RO_ACTION_CANCEL) {
            if (r->kind != RO_KIND_NONE)
                FAIL("a cancel carries no replacement");
            if (r->seq == 0)
                FAIL("seq must be 1 or more");
            return s_check_recorded(r, err, errlen);
        }
    }
    if (r->kind < RO_KIND_TRAINING || r->kind > RO_KIND_CASES)
        FAIL(r->action == RO_ACTION_AMEND ? "an amend carries its replacement report"
                                          : "report has no body");
    if (r->seq == 0)
        FAIL("seq must be 1 or more");
    if (s_check_recorded(r, err, errlen) != RO_REASON_NONE)
        return RO_REASON_INVALID;

    /* a date after the tolerance is ro_report_ahead's: the hub holds such a
     * report (its own clock may be the wrong one), the agent refuses it */
    if (r->kind == RO_KIND_CASES) {
        if (!ro_month_valid(r->date) || r->date < RO_DATE_MIN / 100)
            FAIL("month %u is not a month from 2017-01 on", r->date);
    } else if (!ro_date_valid(r->date) || r->date < RO_DATE_MIN) {
        FAIL("date %u is not a date from 2017-01-01 on", r->date);
    }
    if (r->total > RO_COUNT_MAX)
        FAIL("count %u is beyond %u", r->total, RO_COUNT_MAX);
    switch (r->kind) {
    case RO_KIND_TRAINING:
        if (r->total == 0)
            FAIL("a training session has at least one participant");
        if (r->part == 0 || r->part > RO_HOURS_TENTHS_MAX)
            FAIL("training hours must be above 0 and at most %u", RO_HOURS_TENTHS_MAX / 10);
        break;
    default:
        if (r->part > r->total)
            FAIL("%s: part %u is above total %u", ro_kind_name(r->kind), r->part, r->total);
    }
    return RO_REASON_NONE;
}

uint32_t ro_report_due(const ro_report_t *r)
{
    return r->kind == RO_KIND_CASES ? r->date * 100 + 1 : r->date; /* a month counts from its 1st */
}

int ro_report_ahead(const ro_report_t *r, int64_t now)
{
    if (r->kind < RO_KIND_TRAINING || r->kind > RO_KIND_CASES)
        return 0;
    return ro_report_due(r) > ro_date_of(now + RO_FUTURE_SKEW);
}

int ro_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if (i + n >= len) /* truncated sequence */
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (p[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}
