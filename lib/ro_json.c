/* ro_json: appends into a doubling buffer; the scope layout follows
 * rolloutctl status --json so a tool's output can be compared with it. */
#include "ro_json.h"
#include "ro_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ro_buf_init(ro_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void ro_buf_free(ro_buf_t *b)
{
    free(b->data);
    ro_buf_init(b);
}

static int s_grow(ro_buf_t *b, size_t more)
{
    if (b->failed)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void ro_buf_put(ro_buf_t *b, const char *s, size_t n)
{
    if (s_grow(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ro_buf_puts(ro_buf_t *b, const char *s)
{
    ro_buf_put(b, s, strlen(s));
}

void ro_buf_printf(ro_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        ro_buf_put(b, small, (size_t)n);
        return;
    }
    if (s_grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ro_json_str(ro_buf_t *b, const char *s)
{
    ro_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': ro_buf_put(b, "\\\"", 2); break;
        case '\\': ro_buf_put(b, "\\\\", 2); break;
        case '\n': ro_buf_put(b, "\\n", 2); break;
        case '\r': ro_buf_put(b, "\\r", 2); break;
        case '\t': ro_buf_put(b, "\\t", 2); break;
        case '<': ro_buf_put(b, "\\u003c", 6); break; /* safe inside an HTML page too */
        default:
            if (*p < 0x20 || *p == 0x7f)
                ro_buf_printf(b, "\\u%04x", *p);
            else
                ro_buf_put(b, (const char *)p, 1);
        }
    }
    ro_buf_put(b, "\"", 1);
}

void ro_json_num(ro_buf_t *b, double v)
{
    if (!isfinite(v))
        ro_buf_puts(b, "null");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        ro_buf_printf(b, "%.0f", v);
    else
        ro_buf_printf(b, "%.10g", v);
}

void ro_json_date(ro_buf_t *b, uint32_t d)
{
    if (d == 0) {
        ro_buf_puts(b, "null");
        return;
    }
    char buf[16];
    ro_date_format(d, buf);
    ro_buf_printf(b, "\"%s\"", buf);
}

static void s_value(ro_buf_t *b, double v, int no_data)
{
    if (no_data)
        ro_buf_puts(b, "null");
    else
        ro_json_num(b, v);
}

/* What a scope's or an indicator's figures rest on. */
static void s_marks(ro_buf_t *b, uint64_t corrected, uint64_t held_review, uint64_t rejected)
{
    ro_buf_printf(b, ",\"corrected\":%llu,\"held_review\":%llu,\"rejected\":%llu",
                  (unsigned long long)corrected, (unsigned long long)held_review,
                  (unsigned long long)rejected);
}

static void s_indicator(ro_buf_t *b, const ro_status_indicator_t *in)
{
    ro_buf_puts(b, "{\"id\":");
    ro_json_str(b, in->id);
    ro_buf_puts(b, ",\"label_zh\":");
    ro_json_str(b, in->label_zh);
    ro_buf_puts(b, ",\"label_en\":");
    ro_json_str(b, in->label_en);
    ro_buf_puts(b, ",\"measure\":");
    ro_json_str(b, in->measure);
    ro_buf_puts(b, ",\"value\":");
    s_value(b, in->value, in->no_data);
    ro_buf_puts(b, ",\"goal\":");
    ro_json_num(b, in->goal);
    ro_buf_puts(b, ",\"share\":");
    s_value(b, in->share, in->no_data);
    ro_buf_printf(b, ",\"no_data\":%s,\"grade\":", in->no_data ? "true" : "false");
    ro_json_str(b, in->grade);
    ro_buf_puts(b, ",\"milestone\":");
    ro_json_str(b, in->milestone);
    ro_buf_puts(b, ",\"next_date\":");
    ro_json_date(b, in->next_date);
    ro_buf_puts(b, ",\"next_goal\":");
    ro_json_num(b, in->next_goal);
    ro_buf_puts(b, ",\"gap\":");
    ro_json_num(b, in->gap);
    ro_buf_puts(b, ",\"due_date\":");
    ro_json_date(b, in->due_date);
    ro_buf_puts(b, ",\"due_goal\":");
    ro_json_num(b, in->due_goal);
    ro_buf_puts(b, ",\"why\":");
    if (in->why && in->why[0])
        ro_json_str(b, in->why);
    else
        ro_buf_puts(b, "null");
    s_marks(b, in->corrected, in->held_review, in->rejected);
    ro_buf_puts(b, "}");
}

void ro_json_scope(ro_buf_t *b, const ro_status_scope_t *s)
{
    ro_buf_puts(b, "{\"kind\":");
    ro_json_str(b, s->kind);
    ro_buf_puts(b, ",\"id\":");
    ro_json_str(b, s->id);
    ro_buf_puts(b, ",\"name\":");
    ro_json_str(b, s->name);
    ro_buf_puts(b, ",\"level\":");
    ro_json_str(b, s->level);
    ro_buf_puts(b, ",\"division\":");
    ro_json_str(b, s->division);
    ro_buf_printf(b, ",\"units\":%u,\"units_reporting\":%u,\"reports\":%llu,\"participants\":%llu",
                  s->units, s->units_reporting, (unsigned long long)s->reports,
                  (unsigned long long)s->participants);
    ro_buf_printf(b, ",\"hours\":%llu.%llu,\"sessions\":%llu,\"staff_total\":%llu",
                  (unsigned long long)(s->hours_tenths / 10),
                  (unsigned long long)(s->hours_tenths % 10), (unsigned long long)s->sessions,
                  (unsigned long long)s->staff_total);
    ro_buf_printf(b, ",\"staff_proficient\":%llu,\"items_total\":%llu,\"items_no_visit\":%llu",
                  (unsigned long long)s->staff_proficient, (unsigned long long)s->items_total,
                  (unsigned long long)s->items_no_visit);
    ro_buf_printf(b, ",\"cases_total\":%llu,\"cases_no_visit\":%llu,\"last_seq\":%llu",
                  (unsigned long long)s->cases_total, (unsigned long long)s->cases_no_visit,
                  (unsigned long long)s->last_seq);
    ro_buf_printf(b, ",\"last_heard\":%lld", (long long)s->last_heard);
    s_marks(b, s->corrected, s->held_review, s->rejected);
    ro_buf_puts(b, ",\"flags\":[");
    for (unsigned i = 0, n = 0; i < RO_SCOPE_FLAG_COUNT; i++)
        if (s->flags & (1u << i))
            ro_buf_printf(b, "%s\"%s\"", n++ ? "," : "", ro_scope_flag_name(i));
    ro_buf_puts(b, "],\"grade\":");
    ro_json_str(b, s->grade);
    ro_buf_puts(b, ",\"indicators\":[");
    for (size_t i = 0; i < s->n_indicators; i++) {
        if (i)
            ro_buf_puts(b, ",");
        s_indicator(b, &s->indicators[i]);
    }
    ro_buf_puts(b, "]}");
}

void ro_json_trail(ro_buf_t *b, const ro_status_trail_t *t)
{
    int amend = t->what && !strcmp(t->what, "amend");
    ro_buf_printf(b, "{\"at\":%lld,\"what\":", (long long)t->at);
    ro_json_str(b, t->what);
    ro_buf_printf(
        b, ",\"target_seq\":%llu,\"target_incarnation\":", (unsigned long long)t->target_seq);
    ro_json_str(b, t->target_incarnation);
    ro_buf_puts(b, ",\"target_kind\":");
    ro_json_str(b, t->target_kind);
    ro_buf_puts(b, ",\"target_date\":");
    ro_json_date(b, t->target_date);
    ro_buf_printf(b, ",\"target_total\":%llu,\"target_part\":%llu,\"seq\":%llu,\"incarnation\":",
                  (unsigned long long)t->target_total, (unsigned long long)t->target_part,
                  (unsigned long long)t->seq);
    ro_json_str(b, t->incarnation);
    ro_buf_puts(b, ",\"new_date\":");
    if (amend) {
        ro_json_date(b, t->new_date);
        ro_buf_printf(b, ",\"new_total\":%llu,\"new_part\":%llu", (unsigned long long)t->new_total,
                      (unsigned long long)t->new_part);
    } else {
        ro_buf_puts(b, "null,\"new_total\":null,\"new_part\":null");
    }
    ro_buf_puts(b, ",\"by\":");
    ro_json_str(b, t->by);
    ro_buf_puts(b, ",\"reason\":");
    ro_json_str(b, t->reason);
    ro_buf_puts(b, "}");
}
