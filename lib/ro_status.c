/* ro_status: plain status messages <-> protobuf-c. Every string a decoded
 * (or made, or copied) scope or reply points to lives in one block of its
 * own (mem), so freeing is one call whatever the message holds. Decoding
 * refuses what ro_pb_check refuses, then any string or count over the
 * limits in ro_status.h. */
#include "ro_status.h"
#include "ro_status_pb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SCOPE_STRINGS (6 + 7 * RO_INDICATORS_MAX)

/* The fields a Scope and an ro_status_scope_t (an Indicator and an
 * ro_status_indicator_t) share by name: both directions copy these. */
/* clang-format off */
#define S_SCOPE_FIELDS(X)                                                                  \
    X(kind) X(id) X(name) X(level) X(division) X(units) X(units_reporting)                 \
    X(participants) X(hours_tenths) X(sessions) X(staff_total) X(staff_proficient)         \
    X(items_total) X(items_no_visit) X(cases_total) X(cases_no_visit) X(last_seq)          \
    X(last_heard) X(reports) X(grade) X(why) X(flags) X(corrected) X(held_review)     \
    X(rejected)
#define S_INDICATOR_FIELDS(X)                                                              \
    X(id) X(value) X(goal) X(share) X(grade) X(milestone) X(next_date) X(next_goal) X(gap) \
    X(no_data) X(label_zh) X(label_en) X(measure) X(due_date) X(due_goal) X(why)          \
    X(corrected) X(held_review) X(rejected)
/* clang-format on */

static void s_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", what);
}

/* Copy the n strings *f[i] (NULL: "") into one malloc'd block and point
 * each *f[i] at its copy. Returns the block, or NULL out of memory. */
static char *s_own(char **const *f, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (*f[i] ? strlen(*f[i]) : 0) + 1;
    char *mem = malloc(total ? total : 1);
    if (!mem)
        return NULL;
    char *p = mem;
    for (size_t i = 0; i < n; i++) {
        size_t len = *f[i] ? strlen(*f[i]) : 0;
        memcpy(p, *f[i] ? *f[i] : "", len);
        p[len] = '\0';
        *f[i] = p;
        p += len + 1;
    }
    return mem;
}

/* The string fields of s, into f (room for S_SCOPE_STRINGS). Returns how many. */
static size_t s_scope_strings(ro_status_scope_t *s, char **f[S_SCOPE_STRINGS])
{
    size_t n = 0;
    f[n++] = &s->kind, f[n++] = &s->id, f[n++] = &s->name;
    f[n++] = &s->level, f[n++] = &s->division, f[n++] = &s->grade;
    for (size_t i = 0; i < s->n_indicators && i < RO_INDICATORS_MAX; i++) {
        ro_status_indicator_t *in = &s->indicators[i];
        f[n++] = &in->id, f[n++] = &in->grade, f[n++] = &in->milestone;
        f[n++] = &in->label_zh, f[n++] = &in->label_en, f[n++] = &in->measure;
        f[n++] = &in->why;
    }
    return n;
}

/* Make s's strings its own (they point anywhere before). 0 or -1. */
static int s_scope_own(ro_status_scope_t *s)
{
    char **f[S_SCOPE_STRINGS];
    size_t n = s_scope_strings(s, f);
    s->mem = s_own(f, n);
    if (s->mem)
        return 0;
    memset(s, 0, sizeof *s);
    return -1;
}

/* ---- requests ------------------------------------------------------------ */

ro_status_request_t ro_status_request(ro_query_t query)
{
    ro_status_request_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_VERSION;
    r.query = query;
    return r;
}

int ro_status_request_encode(const ro_status_request_t *r, uint8_t *buf, size_t cap)
{
    Rollout__StatusRequest msg = ROLLOUT__STATUS_REQUEST__INIT;
    msg.version = r->version;
    msg.query = (Rollout__Query)r->query;
    msg.key = (char *)r->key;
    msg.as_of = r->as_of;
    msg.indicator = (char *)r->indicator;
    msg.limit = r->limit;
    msg.known_on = r->known_on;
    Rollout__Decision d = ROLLOUT__DECISION__INIT;
    if (r->has_decision) {
        d.unit = (char *)r->decision.unit, d.seq = r->decision.seq;
        d.incarnation = (char *)r->decision.incarnation, d.accept = r->decision.accept;
        d.reason = (char *)r->decision.reason;
        msg.decision = &d;
    }
    if (rollout__status_request__get_packed_size(&msg) > cap)
        return -1;
    return (int)rollout__status_request__pack(&msg, buf);
}

/* Copy src into dst[cap]: 0, or -1 when it does not fit. */
static int s_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return -1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    return 0;
}

int ro_status_request_decode(const uint8_t *buf, size_t len, ro_status_request_t *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > RO_STATUS_REQUEST_MAX) {
        if (err)
            snprintf(err, errlen, "a request is at most %d bytes, not %zu", RO_STATUS_REQUEST_MAX,
                     len);
        return -1;
    }
    Rollout__StatusRequest *req = rollout__status_request__unpack(NULL, len, buf);
    if (!req) {
        s_err(err, errlen, "not a protobuf StatusRequest");
        return -1;
    }
    int rc = -1;
    unsigned unknown = 0;
    if (!ro_pb_check(&rollout__status_request__descriptor, buf, len, 1, &unknown))
        s_err(err, errlen, "request with a NUL byte or bad UTF-8 in a string");
    else if (s_copy(out->key, sizeof out->key, req->key) ||
             s_copy(out->indicator, sizeof out->indicator, req->indicator))
        s_err(err, errlen, "request with a key or indicator longer than 255 bytes");
    else if (req->decision &&
             (s_copy(out->decision.unit, sizeof out->decision.unit, req->decision->unit) ||
              s_copy(out->decision.incarnation, sizeof out->decision.incarnation,
                     req->decision->incarnation) ||
              s_copy(out->decision.reason, sizeof out->decision.reason, req->decision->reason)))
        s_err(err, errlen,
              "decision with a unit, incarnation or reason longer than its limit (32, 32, 200 "
              "bytes)");
    else
        rc = 0;
    if (rc == 0) {
        out->version = req->version;
        out->query = (ro_query_t)req->query;
        out->as_of = req->as_of;
        out->limit = req->limit;
        out->known_on = req->known_on;
        out->unknown = unknown;
        if (req->decision) {
            out->has_decision = true;
            out->decision.seq = req->decision->seq;
            out->decision.accept = req->decision->accept;
        }
    } else {
        memset(out, 0, sizeof *out);
    }
    rollout__status_request__free_unpacked(req, NULL);
    return rc;
}

/* ---- scopes -------------------------------------------------------------- */

/* The indicators of s (made with targets) as the wire carries them, with
 * borrowed strings; why texts go to why[i] (512 bytes each). */
static void s_make_indicators(const ro_targets_t *targets, const ro_scope_t *s,
                              ro_status_scope_t *out, char (*why)[RO_STATUS_WHY_MAX + 1])
{
    out->n_indicators = targets ? s->indicator_count : 0;
    for (size_t i = 0; i < out->n_indicators; i++) {
        const ro_result_t *r = &s->indicators[i];
        const ro_indicator_t *ind = ro_targets_at(targets, r->index);
        ro_status_indicator_t *in = &out->indicators[i];
        in->id = (char *)r->id;
        /* NaN (no data) travels as 0 with the flag: not every client reads NaN */
        in->no_data = r->no_data;
        in->value = isnan(r->value) ? 0.0 : r->value;
        in->goal = r->goal;
        in->share = isnan(r->share) ? 0.0 : r->share;
        in->grade = (char *)ro_grade_label(r->grade);
        in->milestone = (char *)ro_milestone_status_name(r->milestone);
        in->next_date = r->next_date;
        in->next_goal = r->next_goal;
        in->gap = r->gap;
        in->due_date = r->due_date;
        in->due_goal = r->due_goal;
        in->corrected = r->corrected;
        in->held_review = r->held_review;
        in->rejected = r->rejected;
        if (ind) {
            in->label_zh = (char *)ind->label_zh;
            in->label_en = (char *)ind->label_en;
            in->measure = (char *)ro_measure_name(ind->measure);
        }
        why[i][0] = '\0';
        if (s->why & (1u << i))
            ro_scope_reason(targets, s, i, why[i], sizeof why[i]);
        in->why = why[i];
    }
}

int ro_status_scope_make(const ro_targets_t *targets, const ro_scope_t *s, ro_status_scope_t *out)
{
    char division[16] = "";
    char why[RO_INDICATORS_MAX][RO_STATUS_WHY_MAX + 1];
    memset(out, 0, sizeof *out);
    out->kind = (char *)ro_scope_kind_name(s->kind);
    out->id = (char *)s->id;
    out->name = (char *)s->name;
    out->level = s->level >= 0 ? (char *)ro_level_name((ro_level_t)s->level) : "";
    uint32_t code = s->kind == RO_SCOPE_PROVINCE ? RO_PROVINCE_CODE : s->division;
    if (code)
        snprintf(division, sizeof division, "%06u", (unsigned)code);
    out->division = division;
    out->units = s->units;
    out->units_reporting = s->units_reporting;
    out->participants = s->participants;
    out->hours_tenths = s->hours_tenths;
    out->sessions = s->sessions;
    out->staff_total = s->staff_total;
    out->staff_proficient = s->staff_proficient;
    out->items_total = s->items_total;
    out->items_no_visit = s->items_no_visit;
    out->cases_total = s->cases_total;
    out->cases_no_visit = s->cases_no_visit;
    out->last_seq = s->last_seq;
    out->last_heard = s->last_heard;
    out->reports = s->reports;
    out->flags = s->flags;
    out->corrected = s->corrected;
    out->held_review = s->held_review;
    out->rejected = s->rejected;
    out->grade = s->indicator_count ? (char *)ro_grade_label(s->grade) : "";
    out->why = s->why;
    if (s->indicator_count > RO_INDICATORS_MAX) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    s_make_indicators(targets, s, out, why);
    return s_scope_own(out);
}

int ro_status_scope_copy(ro_status_scope_t *dst, const ro_status_scope_t *src)
{
    *dst = *src;
    if (dst->n_indicators > RO_INDICATORS_MAX) {
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    return s_scope_own(dst);
}

void ro_status_scope_clear(ro_status_scope_t *s)
{
    if (!s)
        return;
    free(s->mem);
    memset(s, 0, sizeof *s);
}

int ro_status_scope_to_pb(const ro_status_scope_t *s, ro_status_pb_scope_t *pb)
{
    Rollout__Scope init = ROLLOUT__SCOPE__INIT;
    Rollout__Scope *p = &pb->scope;
    if (s->n_indicators > RO_INDICATORS_MAX)
        return -1;
    *p = init;
#define S_TO(f) p->f = s->f;
    S_SCOPE_FIELDS(S_TO)
#undef S_TO
    for (size_t i = 0; i < s->n_indicators; i++) {
        const ro_status_indicator_t *in = &s->indicators[i];
        Rollout__Indicator iinit = ROLLOUT__INDICATOR__INIT;
        Rollout__Indicator *q = &pb->inds[i];
        *q = iinit;
#define S_TO(f) q->f = in->f;
        S_INDICATOR_FIELDS(S_TO)
#undef S_TO
        pb->ip[i] = q;
    }
    p->indicators = pb->ip;
    p->n_indicators = s->n_indicators;
    return 0;
}

/* True when s (NULL: "") is at most max bytes. */
static int s_fits(const char *s, size_t max)
{
    return !s || strlen(s) <= max;
}

static int s_indicator_fits(const Rollout__Indicator *q)
{
    return s_fits(q->id, RO_ID_MAX - 1) && s_fits(q->grade, RO_STATUS_WORD_MAX) &&
           s_fits(q->milestone, RO_STATUS_WORD_MAX) && s_fits(q->label_zh, RO_LABEL_MAX - 1) &&
           s_fits(q->label_en, RO_LABEL_MAX - 1) && s_fits(q->measure, RO_STATUS_WORD_MAX) &&
           s_fits(q->why, RO_STATUS_WHY_MAX);
}

static int s_scope_fits(const Rollout__Scope *p)
{
    if (p->n_indicators > RO_INDICATORS_MAX ||
        !(s_fits(p->kind, RO_STATUS_WORD_MAX) && s_fits(p->id, RO_SCOPE_ID_MAX - 1) &&
          s_fits(p->name, RO_NAME_MAX) && s_fits(p->level, RO_STATUS_WORD_MAX) &&
          s_fits(p->division, RO_STATUS_WORD_MAX) && s_fits(p->grade, RO_STATUS_WORD_MAX)))
        return 0;
    for (size_t i = 0; i < p->n_indicators; i++)
        if (!s_indicator_fits(p->indicators[i]))
            return 0;
    return 1;
}

int ro_status_scope_from_pb(const Rollout__Scope *p, ro_status_scope_t *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_scope_fits(p)) {
        s_err(err, errlen, "a scope with a string or more indicators than its limit");
        return -1;
    }
#define S_FROM(f) out->f = p->f;
    S_SCOPE_FIELDS(S_FROM)
#undef S_FROM
    out->n_indicators = p->n_indicators;
    for (size_t i = 0; i < p->n_indicators; i++) {
        const Rollout__Indicator *q = p->indicators[i];
        ro_status_indicator_t *in = &out->indicators[i];
#define S_FROM(f) in->f = q->f;
        S_INDICATOR_FIELDS(S_FROM)
#undef S_FROM
    }
    if (s_scope_own(out) == 0)
        return 0;
    s_err(err, errlen, "out of memory");
    return -1;
}

size_t ro_status_scope_encode(const ro_status_scope_t *s, uint8_t *buf, size_t cap)
{
    ro_status_pb_scope_t pb;
    if (ro_status_scope_to_pb(s, &pb))
        return 0;
    size_t need = rollout__scope__get_packed_size(&pb.scope);
    if (need <= cap)
        rollout__scope__pack(&pb.scope, buf);
    return need;
}

/* ---- replies ------------------------------------------------------------- */

/* What encoding a reply needs besides the reply: the protobuf structs and
 * the pointer arrays into them. */
typedef struct {
    ro_status_pb_scope_t *scopes;
    Rollout__Scope **sp;
    Rollout__HistoryPoint *points;
    Rollout__HistoryPoint **hp;
    Rollout__Metric *metrics;
    Rollout__Metric **mp;
    Rollout__Problem *problems;
    Rollout__Problem **pp;
    Rollout__TrailEvent *trail;
    Rollout__TrailEvent **tp;
    Rollout__Review *reviews;
    Rollout__Review **rp;
} s_pack_t;

static void s_pack_free(s_pack_t *pk)
{
    free(pk->scopes);
    free(pk->sp);
    free(pk->points);
    free(pk->hp);
    free(pk->metrics);
    free(pk->mp);
    free(pk->problems);
    free(pk->pp);
    free(pk->trail);
    free(pk->tp);
    free(pk->reviews);
    free(pk->rp);
}

/* The fields a TrailEvent and an ro_status_trail_t share by name: both
 * directions copy these. */
/* clang-format off */
#define S_TRAIL_FIELDS(X)                                                                  \
    X(at) X(what) X(target_seq) X(target_incarnation) X(target_kind) X(target_date)        \
    X(target_total) X(target_part) X(seq) X(incarnation) X(new_date) X(new_total)          \
    X(new_part) X(by) X(reason)
/* clang-format on */
#define S_TRAIL_STRINGS 6

/* The string fields of t, into f (room for S_TRAIL_STRINGS). */
static void s_trail_strings(ro_status_trail_t *t, char **f[S_TRAIL_STRINGS])
{
    f[0] = &t->what, f[1] = &t->target_incarnation, f[2] = &t->target_kind;
    f[3] = &t->incarnation, f[4] = &t->by, f[5] = &t->reason;
}

/* r's trail into pk's room (msg's trail). Returns 0, or -1 out of memory. */
static int s_trail_to_pb(const ro_status_reply_t *r, s_pack_t *pk, Rollout__StatusReply *msg)
{
    size_t n = r->n_trail ? r->n_trail : 1;
    pk->trail = malloc(n * sizeof *pk->trail);
    pk->tp = malloc(n * sizeof *pk->tp);
    if (!pk->trail || !pk->tp)
        return -1;
    for (size_t i = 0; i < r->n_trail; i++) {
        const ro_status_trail_t *t = &r->trail[i];
        Rollout__TrailEvent init = ROLLOUT__TRAIL_EVENT__INIT;
        Rollout__TrailEvent *q = &pk->trail[i];
        *q = init;
#define S_TO(f) q->f = t->f;
        S_TRAIL_FIELDS(S_TO)
#undef S_TO
        pk->tp[i] = q;
    }
    msg->trail = pk->tp, msg->n_trail = r->n_trail;
    return 0;
}

/* The fields a Review and an ro_status_review_t share by name. */
/* clang-format off */
#define S_REVIEW_FIELDS(X)                                                                 \
    X(unit) X(seq) X(incarnation) X(kind) X(date) X(total) X(part) X(rule) X(text)         \
    X(flagged_at) X(state) X(by) X(at) X(reason)
/* clang-format on */
#define S_REVIEW_STRINGS 8

/* The string fields of v, into f (room for S_REVIEW_STRINGS). */
static void s_review_strings(ro_status_review_t *v, char **f[S_REVIEW_STRINGS])
{
    f[0] = &v->unit, f[1] = &v->incarnation, f[2] = &v->kind, f[3] = &v->rule;
    f[4] = &v->text, f[5] = &v->state, f[6] = &v->by, f[7] = &v->reason;
}

/* r's reviews into pk's room (msg's reviews). Returns 0, or -1 out of memory. */
static int s_reviews_to_pb(const ro_status_reply_t *r, s_pack_t *pk, Rollout__StatusReply *msg)
{
    size_t n = r->n_reviews ? r->n_reviews : 1;
    pk->reviews = malloc(n * sizeof *pk->reviews);
    pk->rp = malloc(n * sizeof *pk->rp);
    if (!pk->reviews || !pk->rp)
        return -1;
    for (size_t i = 0; i < r->n_reviews; i++) {
        const ro_status_review_t *v = &r->reviews[i];
        Rollout__Review init = ROLLOUT__REVIEW__INIT;
        Rollout__Review *q = &pk->reviews[i];
        *q = init;
#define S_TO(f) q->f = v->f;
        S_REVIEW_FIELDS(S_TO)
#undef S_TO
        pk->rp[i] = q;
    }
    msg->reviews = pk->rp, msg->n_reviews = r->n_reviews;
    return 0;
}

/* Fill msg from r with pk's room. Returns 0, or -1 (out of memory, a limit). */
static int s_reply_to_pb(const ro_status_reply_t *r, s_pack_t *pk, Rollout__StatusReply *msg)
{
    size_t ns = r->n_scopes ? r->n_scopes : 1, nh = r->n_history ? r->n_history : 1;
    size_t nm = r->n_metrics ? r->n_metrics : 1, np = r->n_problems ? r->n_problems : 1;
    pk->scopes = malloc(ns * sizeof *pk->scopes);
    pk->sp = malloc(ns * sizeof *pk->sp);
    pk->points = malloc(nh * sizeof *pk->points);
    pk->hp = malloc(nh * sizeof *pk->hp);
    pk->metrics = malloc(nm * sizeof *pk->metrics);
    pk->mp = malloc(nm * sizeof *pk->mp);
    pk->problems = malloc(np * sizeof *pk->problems);
    pk->pp = malloc(np * sizeof *pk->pp);
    if (!pk->scopes || !pk->sp || !pk->points || !pk->hp || !pk->metrics || !pk->mp ||
        !pk->problems || !pk->pp)
        return -1;
    for (size_t i = 0; i < r->n_scopes; i++) {
        if (ro_status_scope_to_pb(&r->scopes[i], &pk->scopes[i]))
            return -1;
        pk->sp[i] = &pk->scopes[i].scope;
    }
    for (size_t i = 0; i < r->n_history; i++) {
        const ro_status_point_t *p = &r->history[i];
        Rollout__HistoryPoint init = ROLLOUT__HISTORY_POINT__INIT;
        init.date = p->date, init.value = p->value, init.seq = p->seq;
        init.total = p->total, init.part = p->part, init.no_data = p->no_data;
        pk->points[i] = init;
        pk->hp[i] = &pk->points[i];
    }
    for (size_t i = 0; i < r->n_metrics; i++) {
        Rollout__Metric init = ROLLOUT__METRIC__INIT;
        init.name = r->metrics[i].name, init.value = r->metrics[i].value;
        pk->metrics[i] = init;
        pk->mp[i] = &pk->metrics[i];
    }
    for (size_t i = 0; i < r->n_problems; i++) {
        const ro_status_problem_t *p = &r->problems[i];
        Rollout__Problem init = ROLLOUT__PROBLEM__INIT;
        init.unit = p->unit, init.kind = p->kind, init.since = p->since;
        init.text = p->text, init.what_to_do = p->what_to_do;
        pk->problems[i] = init;
        pk->pp[i] = &pk->problems[i];
    }
    msg->problems = pk->pp, msg->n_problems = r->n_problems;
    if (s_trail_to_pb(r, pk, msg) || s_reviews_to_pb(r, pk, msg))
        return -1;
    msg->version = r->version, msg->status = r->status, msg->error = r->error;
    msg->feed_seq = r->feed_seq, msg->as_of = r->as_of;
    msg->scopes = pk->sp, msg->n_scopes = r->n_scopes;
    msg->history = pk->hp, msg->n_history = r->n_history;
    msg->metrics = pk->mp, msg->n_metrics = r->n_metrics;
    msg->store_state = r->store_state, msg->indicator = r->indicator;
    msg->total = r->total, msg->targets_ini = r->targets_ini;
    msg->feed_epoch = r->feed_epoch;
    msg->known_on = r->known_on, msg->corrections_after = r->corrections_after;
    return 0;
}

int ro_status_reply_encode(const ro_status_reply_t *r, uint8_t **out, size_t *out_len)
{
    Rollout__StatusReply msg = ROLLOUT__STATUS_REPLY__INIT;
    s_pack_t pk = {0};
    *out = NULL;
    *out_len = 0;
    int rc = -1;
    if (r->n_scopes <= RO_STATUS_SCOPES_MAX && r->n_problems <= RO_STATUS_SCOPES_MAX &&
        r->n_trail <= RO_STATUS_SCOPES_MAX && r->n_reviews <= RO_STATUS_SCOPES_MAX &&
        s_reply_to_pb(r, &pk, &msg) == 0) {
        size_t need = rollout__status_reply__get_packed_size(&msg);
        *out = need <= RO_STATUS_FRAME_MAX ? malloc(need ? need : 1) : NULL;
        if (*out) {
            *out_len = rollout__status_reply__pack(&msg, *out);
            rc = 0;
        }
    }
    s_pack_free(&pk);
    return rc;
}

static int s_reply_fits(const Rollout__StatusReply *m)
{
    if (m->n_scopes > RO_STATUS_SCOPES_MAX || !s_fits(m->error, RO_STATUS_ERROR_MAX) ||
        !s_fits(m->store_state, RO_STATUS_WORD_MAX) || !s_fits(m->indicator, RO_ID_MAX - 1))
        return 0;
    for (size_t i = 0; i < m->n_metrics; i++)
        if (!s_fits(m->metrics[i]->name, RO_STATUS_NAME_MAX))
            return 0;
    if (m->n_problems > RO_STATUS_SCOPES_MAX)
        return 0;
    for (size_t i = 0; i < m->n_problems; i++) {
        const Rollout__Problem *p = m->problems[i];
        if (!s_fits(p->unit, RO_UNIT_MAX) || !s_fits(p->kind, RO_STATUS_WORD_MAX) ||
            !s_fits(p->text, RO_STATUS_WHY_MAX) || !s_fits(p->what_to_do, RO_STATUS_WHY_MAX))
            return 0;
    }
    if (m->n_trail > RO_STATUS_SCOPES_MAX)
        return 0;
    for (size_t i = 0; i < m->n_trail; i++) {
        const Rollout__TrailEvent *t = m->trail[i];
        if (!s_fits(t->what, RO_STATUS_WORD_MAX) ||
            !s_fits(t->target_incarnation, RO_STATUS_HEX_MAX) ||
            !s_fits(t->target_kind, RO_STATUS_WORD_MAX) ||
            !s_fits(t->incarnation, RO_STATUS_HEX_MAX) || !s_fits(t->by, RO_STATUS_NAME_MAX) ||
            !s_fits(t->reason, RO_TEXT_MAX))
            return 0;
    }
    if (m->n_reviews > RO_STATUS_SCOPES_MAX)
        return 0;
    for (size_t i = 0; i < m->n_reviews; i++) {
        const Rollout__Review *v = m->reviews[i];
        if (!s_fits(v->unit, RO_UNIT_MAX) || !s_fits(v->incarnation, RO_STATUS_HEX_MAX) ||
            !s_fits(v->kind, RO_STATUS_WORD_MAX) || !s_fits(v->rule, RO_STATUS_NAME_MAX) ||
            !s_fits(v->text, RO_STATUS_WHY_MAX) || !s_fits(v->state, RO_STATUS_WORD_MAX) ||
            !s_fits(v->by, RO_STATUS_NAME_MAX) || !s_fits(v->reason, RO_TEXT_MAX))
            return 0;
    }
    return 1;
}

/* The reply's own strings (error, store_state, indicator, targets_ini, the
 * metrics' names, the problems' and the trail's strings) into its mem. 0 or -1. */
static int s_reply_own(ro_status_reply_t *r)
{
    size_t n = 4 + r->n_metrics + 4 * r->n_problems + S_TRAIL_STRINGS * r->n_trail +
               S_REVIEW_STRINGS * r->n_reviews;
    char ***f = malloc(n * sizeof *f);
    if (!f)
        return -1;
    f[0] = &r->error, f[1] = &r->store_state, f[2] = &r->indicator, f[3] = &r->targets_ini;
    for (size_t i = 0; i < r->n_metrics; i++)
        f[4 + i] = &r->metrics[i].name;
    for (size_t i = 0, k = 4 + r->n_metrics; i < r->n_problems; i++, k += 4) {
        ro_status_problem_t *p = &r->problems[i];
        f[k] = &p->unit, f[k + 1] = &p->kind, f[k + 2] = &p->text, f[k + 3] = &p->what_to_do;
    }
    for (size_t i = 0, k = 4 + r->n_metrics + 4 * r->n_problems; i < r->n_trail;
         i++, k += S_TRAIL_STRINGS)
        s_trail_strings(&r->trail[i], &f[k]);
    for (size_t i = 0, k = 4 + r->n_metrics + 4 * r->n_problems + S_TRAIL_STRINGS * r->n_trail;
         i < r->n_reviews; i++, k += S_REVIEW_STRINGS)
        s_review_strings(&r->reviews[i], &f[k]);
    r->mem = s_own((char **const *)f, n);
    free(f);
    return r->mem ? 0 : -1;
}

/* Copy m into a new plain reply; NULL with a reason in err. */
static ro_status_reply_t *s_reply_from_pb(const Rollout__StatusReply *m, char *err, size_t errlen)
{
    ro_status_reply_t *r = calloc(1, sizeof *r);
    if (!r || !(r->scopes = calloc(m->n_scopes ? m->n_scopes : 1, sizeof *r->scopes)) ||
        !(r->history = calloc(m->n_history ? m->n_history : 1, sizeof *r->history)) ||
        !(r->metrics = calloc(m->n_metrics ? m->n_metrics : 1, sizeof *r->metrics)) ||
        !(r->problems = calloc(m->n_problems ? m->n_problems : 1, sizeof *r->problems)) ||
        !(r->trail = calloc(m->n_trail ? m->n_trail : 1, sizeof *r->trail)) ||
        !(r->reviews = calloc(m->n_reviews ? m->n_reviews : 1, sizeof *r->reviews))) {
        ro_status_reply_free(&r);
        s_err(err, errlen, "out of memory");
        return NULL;
    }
    r->version = m->version, r->status = m->status, r->error = m->error;
    r->feed_seq = m->feed_seq, r->as_of = m->as_of;
    r->store_state = m->store_state, r->indicator = m->indicator;
    r->total = m->total, r->targets_ini = m->targets_ini, r->feed_epoch = m->feed_epoch;
    r->known_on = m->known_on, r->corrections_after = m->corrections_after;
    for (size_t i = 0; i < m->n_history; i++) {
        const Rollout__HistoryPoint *p = m->history[i];
        ro_status_point_t *q = &r->history[i];
        q->date = p->date, q->value = p->value, q->seq = p->seq;
        q->total = p->total, q->part = p->part, q->no_data = p->no_data;
    }
    r->n_history = m->n_history;
    for (size_t i = 0; i < m->n_metrics; i++)
        r->metrics[i].name = m->metrics[i]->name, r->metrics[i].value = m->metrics[i]->value;
    r->n_metrics = m->n_metrics;
    for (size_t i = 0; i < m->n_problems; i++) {
        const Rollout__Problem *p = m->problems[i];
        ro_status_problem_t *q = &r->problems[i];
        q->unit = p->unit, q->kind = p->kind, q->since = p->since;
        q->text = p->text, q->what_to_do = p->what_to_do;
    }
    r->n_problems = m->n_problems;
    for (size_t i = 0; i < m->n_trail; i++) {
        const Rollout__TrailEvent *t = m->trail[i];
        ro_status_trail_t *q = &r->trail[i];
#define S_FROM(f) q->f = t->f;
        S_TRAIL_FIELDS(S_FROM)
#undef S_FROM
    }
    r->n_trail = m->n_trail;
    for (size_t i = 0; i < m->n_reviews; i++) {
        const Rollout__Review *v = m->reviews[i];
        ro_status_review_t *q = &r->reviews[i];
#define S_FROM(f) q->f = v->f;
        S_REVIEW_FIELDS(S_FROM)
#undef S_FROM
    }
    r->n_reviews = m->n_reviews;
    if (s_reply_own(r)) {
        r->n_metrics = r->n_problems = r->n_trail = r->n_reviews = 0;
        ro_status_reply_free(&r);
        s_err(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < m->n_scopes; i++, r->n_scopes++)
        if (ro_status_scope_from_pb(m->scopes[i], &r->scopes[i], err, errlen)) {
            ro_status_reply_free(&r);
            return NULL;
        }
    return r;
}

ro_status_reply_t *ro_status_reply_decode(const uint8_t *buf, size_t len, ro_decode_mode_t mode,
                                          char *err, size_t errlen)
{
    if (len > RO_STATUS_FRAME_MAX) {
        if (err)
            snprintf(err, errlen, "a reply of %zu bytes is above the %u-byte limit", len,
                     (unsigned)RO_STATUS_FRAME_MAX);
        return NULL;
    }
    Rollout__StatusReply *m = rollout__status_reply__unpack(NULL, len, buf);
    if (!m) {
        s_err(err, errlen, "not a protobuf StatusReply");
        return NULL;
    }
    ro_status_reply_t *r = NULL;
    if (!ro_pb_check(&rollout__status_reply__descriptor, buf, len, mode == RO_DECODE_SKIP_UNKNOWN,
                     NULL))
        s_err(err, errlen, "reply with an unknown field, a NUL byte or bad UTF-8");
    else if (!s_reply_fits(m))
        s_err(err, errlen, "reply with a string or more scopes than its limit");
    else
        r = s_reply_from_pb(m, err, errlen);
    rollout__status_reply__free_unpacked(m, NULL);
    return r;
}

void ro_status_reply_free(ro_status_reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ro_status_reply_t *r = *self_p;
    if (r->scopes)
        for (size_t i = 0; i < r->n_scopes; i++)
            ro_status_scope_clear(&r->scopes[i]);
    free(r->scopes);
    free(r->history);
    free(r->metrics);
    free(r->problems);
    free(r->trail);
    free(r->reviews);
    free(r->mem);
    free(r);
    *self_p = NULL;
}

/* ---- the wire's scope back into the engine's form ---- */

static int s_grade_parse(const char *label, ro_grade_t *out)
{
    for (int g = RO_GRADE_EXCELLENT; g <= RO_GRADE_POOR; g++) {
        if (!strcmp(label, ro_grade_label((ro_grade_t)g))) {
            *out = (ro_grade_t)g;
            return 0;
        }
    }
    return -1;
}

int ro_status_scope_read(const ro_targets_t *t, const ro_status_scope_t *w, ro_scope_t *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    static const char *kinds[] = {"unit", "division", "level", "province"};
    int kind = -1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(w->kind, kinds[k]))
            kind = k;
    ro_level_t level;
    if (kind < 0 || s_grade_parse(w->grade, &out->grade)) {
        snprintf(err, errlen, "the hub sent a %s scope '%s' with grade '%s'", w->kind, w->id,
                 w->grade);
        return -1;
    }
    out->kind = (ro_scope_kind_t)kind;
    snprintf(out->id, sizeof out->id, "%s", w->id);
    snprintf(out->name, sizeof out->name, "%s", w->name);
    out->level = ro_level_parse(w->level, &level) ? -1 : (int)level;
    out->division = kind == RO_SCOPE_PROVINCE ? 0 : (uint32_t)strtoul(w->division, NULL, 10);
    out->units = w->units;
    out->units_reporting = w->units_reporting;
    out->participants = w->participants;
    out->hours_tenths = w->hours_tenths;
    out->sessions = w->sessions;
    out->staff_total = w->staff_total;
    out->staff_proficient = w->staff_proficient;
    out->items_total = w->items_total;
    out->items_no_visit = w->items_no_visit;
    out->cases_total = w->cases_total;
    out->cases_no_visit = w->cases_no_visit;
    out->last_seq = w->last_seq;
    out->last_heard = w->last_heard;
    out->reports = w->reports;
    out->flags = w->flags;
    out->corrected = w->corrected;
    out->held_review = w->held_review;
    out->rejected = w->rejected;
    out->why = w->why;
    size_t n = ro_targets_count(t);
    if (w->n_indicators != n) {
        snprintf(err, errlen, "the hub evaluates %zu indicators, the targets have %zu",
                 w->n_indicators, n);
        return -1;
    }
    out->indicator_count = n;
    for (size_t i = 0; i < n; i++) {
        const ro_status_indicator_t *in = &w->indicators[i];
        ro_result_t *r = &out->indicators[i];
        if (strcmp(in->id, ro_targets_at(t, i)->id) != 0) {
            snprintf(err, errlen, "the hub's indicator %zu is '%s', the targets' is '%s'", i + 1,
                     in->id, ro_targets_at(t, i)->id);
            return -1;
        }
        if (s_grade_parse(in->grade, &r->grade) ||
            ro_milestone_status_parse(in->milestone, &r->milestone)) {
            snprintf(err, errlen, "the hub sent indicator '%s' graded '%s', milestone '%s'", in->id,
                     in->grade, in->milestone);
            return -1;
        }
        r->index = i;
        snprintf(r->id, sizeof r->id, "%s", in->id);
        r->no_data = in->no_data;
        r->value = in->no_data ? NAN : in->value;
        r->share = in->no_data ? NAN : in->share;
        r->goal = in->goal;
        r->next_date = in->next_date;
        r->next_goal = in->next_goal;
        r->gap = in->gap;
        r->due_date = in->due_date;
        r->due_goal = in->due_goal;
        r->corrected = in->corrected;
        r->held_review = in->held_review;
        r->rejected = in->rejected;
    }
    return 0;
}
