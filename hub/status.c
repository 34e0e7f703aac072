/* hub_status: strict decode, a dispatch table by query, protobuf replies
 * built on the stack of each request. Scopes carry raw sums here; the
 * engine work adds indicators and the division/level/laggard queries. */
#include "status.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_pb.h"
#include "ro_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct hub_status {
    const ro_registry_t *reg;       /* borrowed */
    const hub_unit_state_t *states; /* borrowed, live */
    hub_store_t *store;             /* borrowed: as-of and verify */
    const hub_ingest_t *ingest;     /* borrowed, may be NULL */
    uint64_t feed_seq;              /* reported on every reply */
    ro_ratelimit_t rl;              /* bad-request log lines */
};

/* A scope and the strings it points to. */
typedef struct {
    Rollout__Scope pb;
    char id[48];
    char name[RO_NAME_MAX + 1];
    char division[16];
} s_scope_t;

/* A reply under construction. */
typedef struct {
    Rollout__StatusReply pb;
    s_scope_t *scopes; /* grows; pointers are taken at pack time */
    size_t nscopes, scap;
    Rollout__Metric *metrics;
    size_t nmetrics, mcap;
    char error[2048];               /* reply error text */
    uint32_t today;                 /* the hub's date */
    const hub_unit_state_t *states; /* the states this reply reads */
    hub_unit_state_t *as_of_states; /* owned when as_of is in the past */
} s_reply_t;

typedef int (*s_handler_fn)(hub_status_t *self, const Rollout__StatusRequest *req, s_reply_t *rep);

hub_status_t *hub_status_new(const ro_registry_t *reg, const hub_unit_state_t *states,
                             hub_store_t *store, const hub_ingest_t *ingest)
{
    if (!reg || !states)
        return NULL;
    hub_status_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->reg = reg;
    self->states = states;
    self->store = store;
    self->ingest = ingest;
    ro_ratelimit_init(&self->rl, 5, 0.2);
    return self;
}

void hub_status_destroy(hub_status_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void hub_status_set_feed_seq(hub_status_t *self, uint64_t feed_seq)
{
    self->feed_seq = feed_seq;
}

/* ---- reply building ---------------------------------------------------- */

static s_scope_t *s_scope_add(s_reply_t *rep, const char *kind)
{
    if (rep->nscopes == rep->scap) {
        size_t cap = rep->scap ? rep->scap * 2 : 4;
        s_scope_t *s = realloc(rep->scopes, cap * sizeof *s);
        if (!s)
            return NULL;
        rep->scopes = s;
        rep->scap = cap;
    }
    s_scope_t *sc = &rep->scopes[rep->nscopes++];
    memset(sc, 0, sizeof *sc);
    Rollout__Scope init = ROLLOUT__SCOPE__INIT;
    sc->pb = init;
    sc->pb.kind = (char *)kind;
    return sc;
}

static int s_metric_add(s_reply_t *rep, const char *name, double value)
{
    if (rep->nmetrics == rep->mcap) {
        size_t cap = rep->mcap ? rep->mcap * 2 : 32;
        Rollout__Metric *m = realloc(rep->metrics, cap * sizeof *m);
        if (!m)
            return -1;
        rep->metrics = m;
        rep->mcap = cap;
    }
    Rollout__Metric init = ROLLOUT__METRIC__INIT;
    init.name = (char *)name;
    init.value = value;
    rep->metrics[rep->nmetrics++] = init;
    return 0;
}

/* Add a unit's raw state to a scope's sums. */
static void s_scope_sum(Rollout__Scope *pb, const hub_unit_state_t *st)
{
    pb->units++;
    if (st->reports > 0)
        pb->units_reporting++;
    pb->reports += st->reports;
    pb->participants += st->participants;
    pb->hours_tenths += st->hours_tenths;
    pb->sessions += st->sessions;
    pb->staff_total += st->staff_total;
    pb->staff_proficient += st->staff_proficient;
    pb->items_total += st->items_total;
    pb->items_no_visit += st->items_no_visit;
    pb->cases_total += st->cases_total;
    pb->cases_no_visit += st->cases_no_visit;
    if (st->last_heard > pb->last_heard)
        pb->last_heard = st->last_heard;
}

/* The states the reply reads: live, or recomputed as of a past date. */
static const hub_unit_state_t *s_states(hub_status_t *self, s_reply_t *rep)
{
    if (rep->states)
        return rep->states;
    if (rep->pb.as_of >= rep->today) {
        rep->states = self->states;
        return rep->states;
    }
    size_t n = ro_registry_count(self->reg);
    rep->as_of_states = calloc(n ? n : 1, sizeof *rep->as_of_states);
    char err[256];
    if (!rep->as_of_states || !self->store ||
        hub_store_states_as_of(self->store, self->reg, rep->pb.as_of, rep->as_of_states, err,
                               sizeof err)) {
        snprintf(rep->error, sizeof rep->error, "cannot compute the state as of %u: %s",
                 rep->pb.as_of, rep->as_of_states && self->store ? err : "no store");
        return NULL;
    }
    rep->states = rep->as_of_states;
    return rep->states;
}

/* ---- queries ----------------------------------------------------------- */

static int s_query_unit(hub_status_t *self, const Rollout__StatusRequest *req, s_reply_t *rep)
{
    long i = req->key && req->key[0] ? ro_registry_find(self->reg, req->key) : -1;
    if (i < 0) {
        snprintf(rep->error, sizeof rep->error, "unknown unit '%.40s': not in the hub's registry",
                 req->key ? req->key : "");
        return 2;
    }
    const hub_unit_state_t *states = s_states(self, rep);
    if (!states)
        return 1;
    const ro_unit_t *u = ro_registry_at(self->reg, (size_t)i);
    const hub_unit_state_t *st = &states[i];
    s_scope_t *sc = s_scope_add(rep, "unit");
    if (!sc)
        return -1;
    snprintf(sc->id, sizeof sc->id, "%s", u->id);
    snprintf(sc->name, sizeof sc->name, "%s", u->name);
    snprintf(sc->division, sizeof sc->division, "%u", u->division);
    sc->pb.level = (char *)ro_level_name(u->level);
    s_scope_sum(&sc->pb, st);
    sc->pb.last_seq = st->last_seq;
    sc->pb.last_heard = st->last_heard;
    return 0;
}

static int s_query_province(hub_status_t *self, const Rollout__StatusRequest *req, s_reply_t *rep)
{
    (void)req;
    const hub_unit_state_t *states = s_states(self, rep);
    if (!states)
        return 1;
    s_scope_t *sc = s_scope_add(rep, "province");
    if (!sc)
        return -1;
    snprintf(sc->id, sizeof sc->id, "%u", RO_PROVINCE_CODE);
    snprintf(sc->name, sizeof sc->name, "%s", ro_division_name(RO_PROVINCE_CODE));
    snprintf(sc->division, sizeof sc->division, "%u", RO_PROVINCE_CODE);
    size_t n = ro_registry_count(self->reg);
    for (size_t i = 0; i < n; i++)
        s_scope_sum(&sc->pb, &states[i]);
    return 0;
}

static int s_query_metrics(hub_status_t *self, const Rollout__StatusRequest *req, s_reply_t *rep)
{
    (void)req;
    if (self->ingest) {
        hub_metric_t m[HUB_INGEST_METRICS_MAX];
        size_t n = hub_ingest_metrics(self->ingest, m, HUB_INGEST_METRICS_MAX);
        for (size_t i = 0; i < n; i++)
            if (s_metric_add(rep, m[i].name, m[i].value))
                return -1;
        const char *why = hub_ingest_last_error(self->ingest);
        if (why && why[0])
            snprintf(rep->error, sizeof rep->error, "store: %s", why);
    }
    size_t n = ro_registry_count(self->reg), reporting = 0;
    for (size_t i = 0; i < n; i++)
        reporting += self->states[i].reports > 0;
    if (s_metric_add(rep, "units", (double)n) ||
        s_metric_add(rep, "units_reporting", (double)reporting))
        return -1;
    return 0;
}

static int s_query_verify(hub_status_t *self, const Rollout__StatusRequest *req, s_reply_t *rep)
{
    (void)req;
    if (!self->store) {
        snprintf(rep->error, sizeof rep->error, "no store to verify");
        return 1;
    }
    enum { SHOWN = 20 };
    hub_store_diff_t diffs[SHOWN];
    uint64_t units = 0, reports = 0;
    char err[256];
    long n = hub_store_recount(self->store, diffs, SHOWN, &units, &reports, err, sizeof err);
    if (n < 0) {
        snprintf(rep->error, sizeof rep->error, "verify failed: %s", err);
        return 1;
    }
    if (s_metric_add(rep, "differences", (double)n) ||
        s_metric_add(rep, "units_checked", (double)units) ||
        s_metric_add(rep, "reports_checked", (double)reports))
        return -1;
    if (n > 0) {
        size_t used = 0;
        int k = snprintf(rep->error, sizeof rep->error,
                         "%ld stored aggregate%s differ%s from the recount of the raw reports:", n,
                         n == 1 ? "" : "s", n == 1 ? "s" : "");
        used = k > 0 ? (size_t)k : 0;
        for (long i = 0; i < n && i < SHOWN && used < sizeof rep->error; i++) {
            k = snprintf(rep->error + used, sizeof rep->error - used,
                         "\n  %s %s: stored %lld, recount %lld", diffs[i].unit, diffs[i].field,
                         (long long)diffs[i].stored, (long long)diffs[i].recount);
            used += k > 0 ? (size_t)k : 0;
        }
        if (n > SHOWN && used < sizeof rep->error)
            snprintf(rep->error + used, sizeof rep->error - used, "\n  ... and %ld more",
                     n - SHOWN);
    }
    return 0;
}

/* One row per query; the engine work fills in the rest. */
static const struct {
    Rollout__Query query;
    const char *name;
    s_handler_fn fn; /* NULL: not implemented yet */
} s_queries[] = {
    {ROLLOUT__QUERY__QUERY_UNIT, "unit", s_query_unit},
    {ROLLOUT__QUERY__QUERY_PROVINCE, "province", s_query_province},
    {ROLLOUT__QUERY__QUERY_DIVISION, "division", NULL},
    {ROLLOUT__QUERY__QUERY_LEVEL, "level", NULL},
    {ROLLOUT__QUERY__QUERY_LAGGARDS, "laggards", NULL},
    {ROLLOUT__QUERY__QUERY_SILENT, "silent", NULL},
    {ROLLOUT__QUERY__QUERY_HISTORY, "history", NULL},
    {ROLLOUT__QUERY__QUERY_DIVISIONS, "divisions", NULL},
    {ROLLOUT__QUERY__QUERY_METRICS, "metrics", s_query_metrics},
    {ROLLOUT__QUERY__QUERY_VERIFY, "verify", s_query_verify},
};

static int s_dispatch(hub_status_t *self, const uint8_t *buf, size_t len, s_reply_t *rep)
{
    if (len == 0 || len > HUB_STATUS_FRAME_MAX) {
        snprintf(rep->error, sizeof rep->error, "a request is 1 to %d bytes, not %zu",
                 HUB_STATUS_FRAME_MAX, len);
        return 2;
    }
    Rollout__StatusRequest *req = rollout__status_request__unpack(NULL, len, buf);
    if (!req) {
        snprintf(rep->error, sizeof rep->error, "not a protobuf StatusRequest");
        return 2;
    }
    int status = 2;
    if (!ro_pb_strict(&req->base, len)) {
        snprintf(rep->error, sizeof rep->error,
                 "request with an unknown field, bad UTF-8 or a non-canonical encoding");
    } else if (req->version != RO_PROTOCOL_VERSION) {
        snprintf(rep->error, sizeof rep->error, "protocol version %u, this hub speaks %d",
                 req->version, RO_PROTOCOL_VERSION);
    } else if (req->as_of != 0 && !ro_date_valid(req->as_of)) {
        snprintf(rep->error, sizeof rep->error, "as_of %u is not a date YYYYMMDD", req->as_of);
    } else {
        if (req->as_of)
            rep->pb.as_of = req->as_of;
        snprintf(rep->error, sizeof rep->error, "unknown query %d", (int)req->query);
        for (size_t i = 0; i < sizeof s_queries / sizeof s_queries[0]; i++) {
            if (s_queries[i].query != req->query)
                continue;
            if (s_queries[i].fn) {
                rep->error[0] = '\0';
                status = s_queries[i].fn(self, req, rep);
            } else {
                snprintf(rep->error, sizeof rep->error, "query '%s' is not implemented yet",
                         s_queries[i].name);
            }
            break;
        }
    }
    rollout__status_request__free_unpacked(req, NULL);
    return status;
}

/* Answer a request, or (when refusal is not NULL) refuse it with that reason. */
static int s_answer(hub_status_t *self, const uint8_t *req, size_t len, const char *refusal,
                    int64_t now, uint8_t **out, size_t *out_len)
{
    s_reply_t rep;
    memset(&rep, 0, sizeof rep);
    Rollout__StatusReply init = ROLLOUT__STATUS_REPLY__INIT;
    rep.pb = init;
    rep.today = ro_date_of(now);
    rep.pb.version = RO_PROTOCOL_VERSION;
    rep.pb.as_of = rep.today;
    rep.pb.feed_seq = self->feed_seq;
    rep.pb.store_state = (char *)hub_ingest_store_state_name(
        self->ingest ? hub_ingest_store_state(self->ingest) : HUB_STORE_STATE_OK);

    int rc = 0;
    int status = 2;
    if (refusal)
        snprintf(rep.error, sizeof rep.error, "%s", refusal);
    else
        status = s_dispatch(self, req, len, &rep);
    if (status < 0) {
        rc = -1;
        status = 1;
        rep.nscopes = rep.nmetrics = 0;
        snprintf(rep.error, sizeof rep.error, "out of memory");
    }
    if (status == 2 && ro_log_allow(&self->rl))
        ro_log(LOG_INFO, "status: bad request: %s", rep.error);
    rep.pb.status = status;
    rep.pb.error = rep.error;

    Rollout__Scope **sp = calloc(rep.nscopes ? rep.nscopes : 1, sizeof *sp);
    Rollout__Metric **mp = calloc(rep.nmetrics ? rep.nmetrics : 1, sizeof *mp);
    *out = NULL;
    *out_len = 0;
    if (sp && mp) {
        for (size_t i = 0; i < rep.nscopes; i++) {
            s_scope_t *sc = &rep.scopes[i];
            sc->pb.id = sc->id;
            sc->pb.name = sc->name;
            sc->pb.division = sc->division;
            sp[i] = &sc->pb;
        }
        for (size_t i = 0; i < rep.nmetrics; i++)
            mp[i] = &rep.metrics[i];
        rep.pb.scopes = sp;
        rep.pb.n_scopes = rep.nscopes;
        rep.pb.metrics = mp;
        rep.pb.n_metrics = rep.nmetrics;
        size_t need = rollout__status_reply__get_packed_size(&rep.pb);
        *out = malloc(need ? need : 1);
        if (*out)
            *out_len = rollout__status_reply__pack(&rep.pb, *out);
    }
    if (!*out)
        rc = -1;
    free(sp);
    free(mp);
    free(rep.scopes);
    free(rep.metrics);
    free(rep.as_of_states);
    return rc;
}

int hub_status_answer(hub_status_t *self, const uint8_t *req, size_t len, int64_t now,
                      uint8_t **out, size_t *out_len)
{
    return s_answer(self, req, len, NULL, now, out, out_len);
}

/* ---- socket -------------------------------------------------------------- */

int hub_status_serve(hub_status_t *self, void *sock, int64_t now)
{
    zmq_msg_t f[3];
    int kept = 0, total = 0, more = 1;
    while (more) {
        zmq_msg_t *m = kept < 3 ? &f[kept] : NULL;
        zmq_msg_t extra;
        if (!m)
            m = &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            zmq_msg_close(m);
            for (int i = 0; i < kept; i++)
                zmq_msg_close(&f[i]);
            if (total == 0 && (e == EAGAIN || e == EINTR))
                return 0;
            ro_log(LOG_ERR, "status receive: %s", zmq_strerror(e));
            return -1;
        }
        more = zmq_msg_more(m);
        total++;
        if (m == &extra)
            zmq_msg_close(&extra);
        else
            kept++;
    }
    /* envelope: the routing id, and an empty delimiter if the peer is REQ-like */
    int env = 1;
    if (total >= 3 && zmq_msg_size(&f[1]) == 0)
        env = 2;
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (total == env + 1) {
        s_answer(self, zmq_msg_data(&f[env]), zmq_msg_size(&f[env]), NULL, now, &out, &out_len);
    } else {
        char why[128];
        snprintf(why, sizeof why,
                 "a request is one frame after an optional empty delimiter; got %d frames",
                 total - 1);
        s_answer(self, NULL, 0, why, now, &out, &out_len);
    }
    int rc = 1;
    if (out) {
        int ok = 1;
        for (int i = 0; i < env && ok; i++)
            ok = zmq_send(sock, zmq_msg_data(&f[i]), zmq_msg_size(&f[i]),
                          ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        if (ok)
            ok = zmq_send(sock, out, out_len, ZMQ_DONTWAIT) >= 0;
        /* EHOSTUNREACH: the asker left; EAGAIN: it stopped reading. Either way, drop. */
        if (!ok && zmq_errno() != EHOSTUNREACH && zmq_errno() != EAGAIN)
            ro_log(LOG_WARNING, "status send: %s", zmq_strerror(zmq_errno()));
    }
    free(out);
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&f[i]);
    return rc;
}
