/* ro_scope: names, the division label and the reason text; no I/O. */
#include "ro_scope.h"
#include "ro_time.h"

#include <stdio.h>
#include <string.h>

const char *ro_scope_division_name(uint32_t code)
{
    return code == RO_PROVINCE_CODE ? "省直属单位" : ro_division_name(code);
}

static const char *s_noun(ro_source_t source)
{
    switch (source) {
    case RO_SOURCE_STAFF: return "approval staff";
    case RO_SOURCE_ITEMS: return "service items";
    case RO_SOURCE_CASES: return "case volume";
    default: return "training";
    }
}

char *ro_scope_reason(const ro_targets_t *targets, const ro_scope_t *scope, size_t i, char *buf,
                      size_t len)
{
    if (len)
        buf[0] = '\0';
    if (i >= scope->indicator_count || !(scope->why & (1u << i)) || !len)
        return buf;
    const ro_result_t *r = &scope->indicators[i];
    const ro_indicator_t *ind = ro_targets_at(targets, r->index);
    if (!ind)
        return buf;
    char a[32], b[32];
    size_t o = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (o < len) {                                                                             \
            int w_ = snprintf(buf + o, len - o, __VA_ARGS__);                                      \
            o += w_ > 0 ? (size_t)w_ : 0;                                                          \
        }                                                                                          \
    } while (0)
    PUT("%s %s: ", ind->label_en, ind->label_zh);
    if (r->no_data) {
        PUT("no data (no %s reported)", s_noun(ind->source));
    } else {
        PUT("%s", ro_indicator_format(ind, r->value, a, sizeof a));
        if (r->grade >= RO_GRADE_FAIR) {
            double good = ind->kind == RO_KIND_RATIO ? ind->good : ind->good / ind->goal * r->goal;
            PUT(", grade %s (良 from %s)", ro_grade_label(r->grade),
                ro_indicator_format(ind, good, b, sizeof b));
        }
    }
    char date[16];
    if (r->milestone == RO_MILESTONE_MISSED) {
        ro_date_format(r->due_date, date);
        PUT("; missed %s due %s", ro_indicator_format(ind, r->due_goal, a, sizeof a), date);
    } else if (r->milestone == RO_MILESTONE_AT_RISK) {
        ro_date_format(r->next_date, date);
        PUT("; at risk: %s due %s, %s short", ro_indicator_format(ind, r->next_goal, a, sizeof a),
            date, ro_indicator_format(ind, r->gap, b, sizeof b));
    }
#undef PUT
    return buf;
}

const char *ro_scope_kind_name(ro_scope_kind_t kind)
{
    static const char *names[] = {"unit", "division", "level", "province"};
    return (unsigned)kind < 4 ? names[kind] : "?";
}

const char *ro_milestone_status_name(ro_milestone_status_t status)
{
    static const char *names[] = {"none", "met", "at-risk", "missed"};
    return (unsigned)status < 4 ? names[status] : "?";
}

int ro_milestone_status_parse(const char *name, ro_milestone_status_t *out)
{
    for (int m = RO_MILESTONE_NONE; m <= RO_MILESTONE_MISSED; m++) {
        if (!strcmp(name, ro_milestone_status_name((ro_milestone_status_t)m))) {
            *out = (ro_milestone_status_t)m;
            return 0;
        }
    }
    return -1;
}

const char *ro_scope_flag_name(unsigned bit)
{
    static const char *names[RO_SCOPE_FLAG_COUNT] = {"gap", "store-behind", "two-agents",
                                                     "clock-skew", "refused"};
    return bit < RO_SCOPE_FLAG_COUNT ? names[bit] : "?";
}
