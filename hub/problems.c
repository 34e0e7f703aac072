/* hub_problems: gather (compactly: a registry of 100,000 silent units is
 * 100,000 items), sort, then write text only for what is shown. */
#include "problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* most urgent first */
enum { K_GAP, K_BEHIND, K_REFUSED, K_TWO, K_SKEW, K_REVIEW, K_HELD, K_SILENT };

/* each kind's Scope.flags bit, which names it (0: not a flag) */
static const uint32_t s_kind_flag[] = {RO_SCOPE_FLAG_GAP,
                                       RO_SCOPE_FLAG_STORE_BEHIND,
                                       RO_SCOPE_FLAG_REFUSED,
                                       RO_SCOPE_FLAG_TWO_AGENTS,
                                       RO_SCOPE_FLAG_CLOCK_SKEW,
                                       0,
                                       0,
                                       0};

static const char *s_kind_name(int kind)
{
    uint32_t flag = s_kind_flag[kind];
    if (flag)
        return ro_scope_flag_name((unsigned)__builtin_ctz(flag));
    return kind == K_REVIEW ? "review" : kind == K_HELD ? "held" : "silent";
}

typedef struct {
    int kind;
    size_t unit;     /* registry index */
    int64_t since;   /* when it began; 0 never heard */
    uint64_t count;  /* held reports, refusals */
    uint64_t seq;    /* gap: the seq sent; refused: the latest seq refused; behind: the ack */
    uint64_t next;   /* gap: the seq expected; behind: what the store has */
    int64_t skew;    /* clock-skew: seconds, the agent's clock less the hub's */
    uint32_t date;   /* held: the earliest date */
    ro_reason_t why; /* refused: the latest reason */
    char *text;      /* refused: the hub's text (owned) */
} s_item_t;

struct hub_problems {
    const ro_registry_t *reg;
    s_item_t *items;
    size_t n, cap;
    ro_status_problem_t *out; /* rendered, their text and what_to_do owned */
    size_t nout;
};

hub_problems_t *hub_problems_new(const ro_registry_t *reg)
{
    hub_problems_t *self = calloc(1, sizeof *self);
    if (self)
        self->reg = reg;
    return self;
}

void hub_problems_destroy(hub_problems_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_problems_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free(self->items[i].text);
    for (size_t i = 0; i < self->nout; i++) {
        free(self->out[i].text);
        free(self->out[i].what_to_do);
    }
    free(self->items);
    free(self->out);
    free(self);
    *self_p = NULL;
}

static s_item_t *s_add(hub_problems_t *self, int kind, size_t unit, int64_t since)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 64;
        s_item_t *items = realloc(self->items, cap * sizeof *items);
        if (!items)
            return NULL;
        self->items = items;
        self->cap = cap;
    }
    s_item_t *it = &self->items[self->n++];
    memset(it, 0, sizeof *it);
    it->kind = kind, it->unit = unit, it->since = since;
    return it;
}

int hub_problems_store(void *arg, const hub_store_problem_t *p)
{
    hub_problems_t *self = arg;
    long unit = ro_registry_find(self->reg, p->unit);
    if (unit < 0)
        return 0; /* dropped from the registry: its reports are refused as unknown */
    s_item_t *it = s_add(self, p->held ? K_HELD : K_REFUSED, (size_t)unit, p->held ? 0 : p->at);
    if (!it)
        return -1;
    it->count = p->count;
    it->date = p->date;
    it->seq = p->seq;
    it->why = p->reason;
    if (!p->held && !(it->text = strdup(p->text ? p->text : ""))) {
        self->n--;
        return -1;
    }
    return 0;
}

/* The problems ingest flagged for unit u (fl). Returns 0 or -1. */
static int s_flags(hub_problems_t *self, const hub_unit_flags_t *fl, size_t u)
{
    s_item_t *it;
    if (fl->gap_since) {
        if (!(it = s_add(self, K_GAP, u, fl->gap_since)))
            return -1;
        it->seq = fl->gap_seq;
        it->next = fl->gap_next;
    }
    if (fl->behind_since) {
        if (!(it = s_add(self, K_BEHIND, u, fl->behind_since)))
            return -1;
        it->seq = fl->behind_ack;
        it->next = fl->behind_have;
    }
    if (fl->two_since && !s_add(self, K_TWO, u, fl->two_since))
        return -1;
    if (fl->skew_since) {
        if (!(it = s_add(self, K_SKEW, u, fl->skew_since)))
            return -1;
        it->skew = fl->skew;
    }
    if (hub_marks_held(&fl->marks)) {
        if (!(it = s_add(self, K_REVIEW, u, 0)))
            return -1;
        it->count = hub_marks_held(&fl->marks);
    }
    return 0;
}

static int s_order(const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->since != y->since)
        return x->since < y->since ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* A malloc'ed string, or NULL. */
static char *s_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_fmt(const char *fmt, ...)
{
    char buf[RO_STATUS_WHY_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* "3 h", "2 days": how long ago t was. */
static void s_ago(int64_t now, int64_t t, char *out, size_t cap)
{
    int64_t s = now - t;
    if (s < 3600)
        snprintf(out, cap, "%lld min", (long long)(s < 60 ? 1 : s / 60));
    else if (s < 2 * 86400)
        snprintf(out, cap, "%lld h", (long long)(s / 3600));
    else
        snprintf(out, cap, "%lld days", (long long)(s / 86400));
}

static int s_render(const s_item_t *it, int64_t now, ro_status_problem_t *p)
{
    char ago[32];
    switch (it->kind) {
    case K_GAP:
        p->text = s_fmt("sends seq %llu but the hub's next is seq %llu: nothing after seq %llu "
                        "is stored until it comes",
                        (unsigned long long)it->seq, (unsigned long long)it->next,
                        (unsigned long long)it->next - 1);
        p->what_to_do =
            s_fmt("nothing if it clears within minutes (the agent sends again from the hub's last "
                  "ack); if it lasts, the agent speaks version 1 (an agent of revision 1, or one "
                  "not yet upgraded) and the store lost what it acknowledged or the outbox was "
                  "replaced: upgrade the agent (docs/PROTOCOL.md, section 7), then "
                  "docs/OPERATING.md, section 6");
        break;
    case K_BEHIND:
        p->text = s_fmt("its agent holds an ack of seq %llu, the store has up to seq %llu: the "
                        "store lost acknowledged reports (restored from a backup, WAL lost?)",
                        (unsigned long long)it->seq, (unsigned long long)it->next);
        p->what_to_do = s_fmt("nothing: the agent sends again the events it keeps (retain_days), "
                              "and this clears when they are in; if it stays, see "
                              "docs/OPERATING.md, section 6");
        break;
    case K_TWO:
        p->text = s_fmt("two agents (two outbox identities) sent for this unit within %d min",
                        HUB_TWO_AGENTS_S / 60);
        p->what_to_do = s_fmt("if the unit runs a second PC on purpose, nothing: both are "
                              "counted, nothing is lost; else stop the copy (a copied agent "
                              "folder or cloned PC)");
        break;
    case K_SKEW:
        p->text = s_fmt("the agent's clock is %lld min %s the hub's",
                        (long long)((it->skew < 0 ? -it->skew : it->skew) / 60),
                        it->skew < 0 ? "behind" : "ahead of");
        p->what_to_do = s_fmt("set the unit PC's clock (NTP); nothing is refused for it, but its "
                              "recorded times are off. If many units show this, the hub's clock "
                              "is the one off: fix it");
        break;
    case K_REFUSED:
        p->text =
            s_fmt("%llu report%s refused in the last %d days; the latest, seq %llu: %s: %s",
                  (unsigned long long)it->count, it->count == 1 ? "" : "s", HUB_REFUSED_DAYS,
                  (unsigned long long)it->seq, ro_reason_name(it->why), it->text ? it->text : "");
        p->what_to_do =
            it->why == RO_REASON_NONE
                ? s_fmt("reports acknowledged once are lost for good (the store lost them and "
                        "the agent no longer keeps them): to get them back, restore a backup "
                        "of the store taken after them (docs/OPERATING.md, section 6)")
            : it->why == RO_REASON_CONFLICT
                ? s_fmt("two outboxes speak for this unit (a copied, restored or new agent "
                        "folder?): `rollout-agent status` at the unit; docs/OPERATING.md, "
                        "section 6")
                : s_fmt("the unit's staff record the event again with the right figures "
                        "(`rollout-agent status` at the unit lists what was set aside)");
        break;
    case K_REVIEW:
        p->text = s_fmt("%llu report%s held for review: a [review] rule found %s implausible; "
                        "counted once a reviewer accepts %s",
                        (unsigned long long)it->count, it->count == 1 ? "" : "s",
                        it->count == 1 ? "it" : "them", it->count == 1 ? "it" : "them");
        p->what_to_do = s_fmt("a reviewer decides: `rolloutctl review list --unit UNIT`, then "
                              "`review accept` or `review reject` with a reason");
        break;
    case K_HELD:
        p->text = s_fmt("%llu report%s dated after the hub's today + 1 day, held uncounted "
                        "until the date comes (the earliest: %u)",
                        (unsigned long long)it->count, it->count == 1 ? "" : "s", it->date);
        p->what_to_do = s_fmt("nothing if the dates are right; if many units show this, the "
                              "hub's clock is behind: fix it (NTP); else tell the unit its "
                              "date was typed wrong");
        break;
    default:
        if (!it->since) {
            p->text = s_fmt("never heard from");
            p->what_to_do = s_fmt("install and start rollout-agent at the unit, with its key on "
                                  "the hub's allow-list (docs/OPERATING.md, section 3)");
        } else {
            s_ago(now, it->since, ago, sizeof ago);
            p->text = s_fmt("not heard from for %s", ago);
            p->what_to_do = s_fmt("ask the unit whether its PC is on and rollout-agent runs "
                                  "(`rollout-agent status` there)");
        }
        break;
    }
    return p->text && p->what_to_do ? 0 : -1;
}

int hub_problems_list(hub_problems_t *self, const hub_unit_state_t *states,
                      const hub_unit_flags_t *flags, int64_t now, int64_t silent_after,
                      size_t limit, ro_status_problem_t **out, size_t *n, size_t *total)
{
    *out = NULL;
    *n = *total = 0;
    size_t units = ro_registry_count(self->reg);
    for (size_t u = 0; u < units; u++) {
        int64_t heard = states[u].last_heard;
        if ((heard == 0 || now - heard > silent_after) && !s_add(self, K_SILENT, u, heard))
            return -1;
        if (flags && s_flags(self, &flags[u], u))
            return -1;
    }
    qsort(self->items, self->n, sizeof *self->items, s_order);
    size_t shown = limit && limit < self->n ? limit : self->n;
    self->out = calloc(shown ? shown : 1, sizeof *self->out);
    if (!self->out)
        return -1;
    for (size_t i = 0; i < shown; i++, self->nout++) {
        const s_item_t *it = &self->items[i];
        ro_status_problem_t *p = &self->out[i];
        p->unit = (char *)ro_registry_at(self->reg, it->unit)->id;
        p->kind = (char *)s_kind_name(it->kind);
        p->since = it->since;
        if (s_render(it, now, p))
            return -1;
    }
    *out = self->out;
    *n = shown;
    *total = self->n;
    return 0;
}
