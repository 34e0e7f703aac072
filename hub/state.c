/* hub_state_apply: the rule that folds a stored report into a unit's
 * aggregates. The store's recount (RECOUNT_SQL) mirrors it in SQL. */
#include "state.h"

void hub_state_apply(hub_unit_state_t *s, const ro_report_t *r)
{
    switch (r->kind) {
    case RO_KIND_TRAINING:
        s->participants += r->total;
        s->hours_tenths += r->part;
        s->sessions++;
        break;
    case RO_KIND_STAFF:
        if (r->date >= s->staff_date) {
            s->staff_date = r->date;
            s->staff_total = r->total;
            s->staff_proficient = r->part;
        }
        break;
    case RO_KIND_ITEMS:
        if (r->date >= s->items_date) {
            s->items_date = r->date;
            s->items_total = r->total;
            s->items_no_visit = r->part;
        }
        break;
    case RO_KIND_CASES:
        if (r->date >= s->cases_month) {
            s->cases_month = r->date;
            s->cases_total = r->total;
            s->cases_no_visit = r->part;
        }
        break;
    default: return; /* heartbeats and empty reports change no aggregate */
    }
    s->reports++;
}

uint32_t hub_state_snapshot_date(const hub_unit_state_t *s, ro_kind_t kind)
{
    switch (kind) {
    case RO_KIND_STAFF: return s->staff_date;
    case RO_KIND_ITEMS: return s->items_date;
    case RO_KIND_CASES: return s->cases_month;
    default: return 0;
    }
}

uint32_t hub_state_snapshot(const hub_unit_state_t *s, ro_kind_t kind, uint32_t *total,
                            uint32_t *part)
{
    switch (kind) {
    case RO_KIND_STAFF: *total = s->staff_total, *part = s->staff_proficient; break;
    case RO_KIND_ITEMS: *total = s->items_total, *part = s->items_no_visit; break;
    case RO_KIND_CASES: *total = s->cases_total, *part = s->cases_no_visit; break;
    default: *total = *part = 0; return 0;
    }
    return hub_state_snapshot_date(s, kind);
}

void hub_state_put_snapshot(hub_unit_state_t *s, ro_kind_t kind, uint32_t date, uint32_t total,
                            uint32_t part)
{
    switch (kind) {
    case RO_KIND_STAFF:
        s->staff_date = date, s->staff_total = total, s->staff_proficient = part;
        break;
    case RO_KIND_ITEMS:
        s->items_date = date, s->items_total = total, s->items_no_visit = part;
        break;
    case RO_KIND_CASES:
        s->cases_month = date, s->cases_total = total, s->cases_no_visit = part;
        break;
    default: break;
    }
}

int hub_state_withdraw(hub_unit_state_t *s, const ro_report_t *r)
{
    if (r->kind < RO_KIND_TRAINING || r->kind > RO_KIND_CASES)
        return 0; /* never folded in */
    s->reports--;
    if (r->kind != RO_KIND_TRAINING)
        return hub_state_snapshot_date(s, r->kind) == r->date;
    s->participants -= r->total;
    s->hours_tenths -= r->part;
    s->sessions--;
    return 0;
}
