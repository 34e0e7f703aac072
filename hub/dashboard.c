/* hub_dashboard: the page is a byte array the build made from
 * dashboard.html; /api/status is assembled from in-process status answers
 * (PROVINCE, LEVEL, DIVISIONS, METRICS, SERIES, PROBLEMS) plus the targets'
 * milestones and the scope fields each indicator divides, and handed to
 * hub_http as a copy. What a problem is, and what to do about it, is
 * hub_problems' (through PROBLEMS); this only lists them. */
#include "dashboard.h"
#include "http.h"
#include "ro_json.h"
#include "ro_log.h"
#include "ro_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* hub/dashboard.html, made into C by hub/embed.py at build time */
extern const unsigned char hub_dashboard_page[];
extern const size_t hub_dashboard_page_len;

struct hub_dashboard {
    hub_http_t *http;             /* the server; owned */
    hub_status_t *status;         /* borrowed */
    const hub_feed_t *feed;       /* borrowed */
    const hub_metrics_t *metrics; /* borrowed */
    const ro_targets_t *targets;  /* borrowed, may be NULL */
    char address[300];            /* HOST:PORT bound */
    uint64_t built_seq;           /* feed seq of the last /api/status */
    int64_t built_ms;             /* when it was built; 0 = never */
    uint64_t series_seq;          /* feed seq the series was computed at (status thread) */
    int64_t series_ms;            /* when; 0 = never */
    uint64_t targets_gen;         /* counts hub_dashboard_set_targets */
    int64_t problems_ms;          /* when the problems were built; 0 = never (status thread) */
    pthread_mutex_t built_mu;     /* guards series and problems: the status thread builds
                                     them, the main thread reads them */
    ro_buf_t series;              /* the cached "series" JSON array */
    ro_buf_t problems;            /* the cached "problems" JSON object; empty: not yet */
    atomic_int fresh;             /* a new series or problems: /api/status is rebuilt */
    int64_t metrics_ms;           /* when /metrics was last rebuilt */
};

/* Add "http ADDRESS" to the endpoints file the hub wrote after binding. */
static void s_note_endpoint(const char *dir, const char *address)
{
    char path[1200], tmp[1210];
    snprintf(path, sizeof path, "%s/endpoints", dir);
    snprintf(tmp, sizeof tmp, "%s.http", path);
    FILE *in = fopen(path, "r");
    FILE *out = fopen(tmp, "w");
    if (!out) {
        if (in)
            fclose(in);
        ro_log(LOG_WARNING, "cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    char line[1024];
    while (in && fgets(line, sizeof line, in))
        if (strncmp(line, "http ", 5) != 0)
            fputs(line, out);
    if (in)
        fclose(in);
    fprintf(out, "http %s\n", address);
    int bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
    bad |= fclose(out) != 0;
    if (bad || rename(tmp, path) != 0) {
        ro_log(LOG_WARNING, "cannot update %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

hub_dashboard_t *hub_dashboard_new(const char *hostport, hub_status_t *status,
                                   const hub_feed_t *feed, const hub_metrics_t *metrics,
                                   const ro_targets_t *targets, const char *data_dir, char *err,
                                   size_t errlen)
{
    hub_dashboard_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->status = status;
    self->feed = feed;
    self->metrics = metrics;
    self->targets = targets;
    ro_buf_init(&self->series);
    ro_buf_init(&self->problems);
    pthread_mutex_init(&self->built_mu, NULL);
    self->http = hub_http_start(hostport, self->address, sizeof self->address, err, errlen);
    if (!self->http ||
        hub_http_put(self->http, "/", "text/html; charset=utf-8", hub_dashboard_page,
                     hub_dashboard_page_len) ||
        hub_http_put(self->http, "/index.html", "text/html; charset=utf-8", hub_dashboard_page,
                     hub_dashboard_page_len)) {
        if (self->http)
            snprintf(err, errlen, "out of memory");
        hub_dashboard_destroy(&self);
        return NULL;
    }
    if (data_dir)
        s_note_endpoint(data_dir, self->address);
    return self;
}

void hub_dashboard_destroy(hub_dashboard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_dashboard_t *self = *self_p;
    hub_http_stop(&self->http);
    ro_buf_free(&self->series);
    ro_buf_free(&self->problems);
    pthread_mutex_destroy(&self->built_mu);
    free(self);
    *self_p = NULL;
}

void hub_dashboard_set_targets(hub_dashboard_t *self, const ro_targets_t *targets)
{
    self->targets = targets;
    self->targets_gen++; /* a series being built over the old ones is dropped */
    self->series_ms = 0; /* the indicators may differ: ask again */
}

const char *hub_dashboard_address(const hub_dashboard_t *self)
{
    return self->address;
}

/* ---- /api/status ---------------------------------------------------------- */

static void s_scopes(ro_buf_t *b, const ro_status_reply_t *r)
{
    ro_buf_puts(b, "[");
    for (size_t i = 0; r && i < r->n_scopes; i++) {
        if (i)
            ro_buf_puts(b, ",");
        ro_json_scope(b, &r->scopes[i]);
    }
    ro_buf_puts(b, "]");
}

/* The fields of a scope's JSON (ro_json_scope) an indicator reads, by
 * ro_source_t: its part and, for a ratio, its total (NULL for a sum, which
 * is shared against its goal). The page prints every percent from these
 * counts, rounded half up on the exact ratio, never from a double. */
static const struct {
    const char *part;  /* numerator field */
    const char *total; /* denominator field, NULL for a sum */
} s_fields[] = {
    [RO_SOURCE_PARTICIPANTS] = {"participants", NULL},
    [RO_SOURCE_HOURS] = {"hours", NULL},
    [RO_SOURCE_STAFF] = {"staff_proficient", "staff_total"},
    [RO_SOURCE_ITEMS] = {"items_no_visit", "items_total"},
    [RO_SOURCE_CASES] = {"cases_no_visit", "cases_total"},
};

static void s_targets(ro_buf_t *b, const ro_targets_t *t)
{
    ro_buf_puts(b, "[");
    size_t n = t ? ro_targets_count(t) : 0;
    for (size_t i = 0; i < n; i++) {
        const ro_indicator_t *in = ro_targets_at(t, i);
        ro_buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        ro_json_str(b, in->id);
        ro_buf_puts(b, ",\"label_zh\":");
        ro_json_str(b, in->label_zh);
        ro_buf_puts(b, ",\"label_en\":");
        ro_json_str(b, in->label_en);
        ro_buf_printf(b, ",\"kind\":\"%s\",\"measure\":\"%s\",\"goal\":",
                      ro_indicator_kind_name(in->kind), ro_measure_name(in->measure));
        ro_json_num(b, in->goal);
        int known = (unsigned)in->source < sizeof s_fields / sizeof s_fields[0];
        const char *total = known ? s_fields[in->source].total : NULL;
        ro_buf_puts(b, ",\"part\":");
        if (known)
            ro_json_str(b, s_fields[in->source].part);
        else
            ro_buf_puts(b, "null");
        ro_buf_puts(b, ",\"total\":");
        if (total)
            ro_json_str(b, total);
        else
            ro_buf_puts(b, "null");
        ro_buf_puts(b, ",\"bands\":[");
        ro_json_num(b, in->excellent);
        ro_buf_puts(b, ",");
        ro_json_num(b, in->good);
        ro_buf_puts(b, ",");
        ro_json_num(b, in->fair);
        ro_buf_puts(b, "],\"milestones\":[");
        for (size_t k = 0; k < in->milestone_count; k++) {
            ro_buf_puts(b, k ? ",{\"date\":" : "{\"date\":");
            ro_json_date(b, in->milestones[k].date);
            ro_buf_puts(b, ",\"share\":");
            ro_json_num(b, in->milestones[k].share);
            ro_buf_puts(b, "}");
        }
        ro_buf_puts(b, "]}");
    }
    ro_buf_puts(b, "]");
}

/* Put b (taken over) in place of *slot, a document of the status thread's,
 * and have /api/status rebuilt with it. */
static void s_swap(hub_dashboard_t *self, ro_buf_t *slot, ro_buf_t *b)
{
    pthread_mutex_lock(&self->built_mu);
    ro_buf_t old = *slot;
    *slot = *b;
    pthread_mutex_unlock(&self->built_mu);
    ro_buf_free(&old);
    atomic_store(&self->fresh, 1);
}

/* The province's ratio indicators read from items and cases, over time. */
/* Build the series of the ratio indicators (a SERIES answer each: a scan
 * of the store, during which the status API lets committed's lock go) and
 * swap it in. Called with committed's lock held, from the status thread.
 * Returns 0, or -1 when the targets were reloaded meanwhile (nothing is
 * swapped in; the next tick asks again). */
static int s_series(hub_dashboard_t *self, int64_t now)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_buf_puts(&b, "[");
    uint64_t gen = self->targets_gen;
    size_t n = self->targets ? ro_targets_count(self->targets) : 0, k = 0;
    for (size_t i = 0; i < n && gen == self->targets_gen; i++) {
        const ro_indicator_t *in = ro_targets_at(self->targets, i);
        if (in->kind != RO_KIND_RATIO ||
            (in->source != RO_SOURCE_ITEMS && in->source != RO_SOURCE_CASES))
            continue;
        char id[sizeof in->id];
        snprintf(id, sizeof id, "%s", in->id); /* in may be gone after the scan */
        ro_status_reply_t *r = hub_feed_ask(self->status, RO_QUERY_SERIES, NULL, id, now);
        if (!r)
            continue;
        ro_buf_puts(&b, k++ ? ",{\"indicator\":" : "{\"indicator\":");
        ro_json_str(&b, id);
        ro_buf_puts(&b, ",\"points\":[");
        for (size_t p = 0; p < r->n_history; p++) {
            const ro_status_point_t *pt = &r->history[p];
            ro_buf_puts(&b, p ? ",{\"date\":" : "{\"date\":");
            ro_json_date(&b, pt->date);
            ro_buf_puts(&b, ",\"value\":");
            if (pt->no_data)
                ro_buf_puts(&b, "null");
            else
                ro_json_num(&b, pt->value);
            ro_buf_puts(&b, "}");
        }
        ro_buf_puts(&b, "]}");
        ro_status_reply_free(&r);
    }
    ro_buf_puts(&b, "]");
    if (gen != self->targets_gen || b.failed) {
        ro_buf_free(&b);
        return -1;
    }
    s_swap(self, &self->series, &b);
    return 0;
}

/* Ask PROBLEMS for the first HUB_DASHBOARD_PROBLEMS_SHOWN as the status
 * socket's clients do (the same answer: the store's part scanned with
 * committed's lock let go), and swap its JSON in: {"total", "list"}, or
 * {"total": null, "error"} when the hub could not say. Called with
 * committed's lock held, from the status thread. Returns 0, or -1 when out
 * of memory (nothing is swapped in). */
static int s_problems(hub_dashboard_t *self, int64_t now)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_PROBLEMS);
    req.limit = HUB_DASHBOARD_PROBLEMS_SHOWN;
    uint8_t rb[RO_STATUS_REQUEST_MAX];
    int rlen = ro_status_request_encode(&req, rb, sizeof rb);
    uint8_t *out = NULL;
    size_t out_len = 0;
    ro_status_reply_t *r = NULL;
    if (rlen >= 0 && hub_status_answer(self->status, rb, (size_t)rlen, now, &out, &out_len) == 0)
        r = ro_status_reply_decode(out, out_len, RO_DECODE_STRICT, NULL, 0);
    free(out);
    if (!r)
        return -1;
    ro_buf_t b;
    ro_buf_init(&b);
    if (r->status != 0) {
        ro_buf_puts(&b, "{\"total\":null,\"list\":[],\"error\":");
        ro_json_str(&b, r->error && r->error[0] ? r->error : "no answer");
        ro_buf_puts(&b, "}");
    } else {
        ro_buf_printf(&b, "{\"total\":%u,\"list\":[", (unsigned)r->total);
        for (size_t i = 0; i < r->n_problems; i++) {
            const ro_status_problem_t *p = &r->problems[i];
            ro_buf_puts(&b, i ? ",{\"unit\":" : "{\"unit\":");
            ro_json_str(&b, p->unit);
            ro_buf_puts(&b, ",\"kind\":");
            ro_json_str(&b, p->kind);
            ro_buf_printf(&b, ",\"since\":%lld,\"text\":", (long long)p->since);
            ro_json_str(&b, p->text);
            ro_buf_puts(&b, ",\"what_to_do\":");
            ro_json_str(&b, p->what_to_do);
            ro_buf_puts(&b, "}");
        }
        ro_buf_puts(&b, "]}");
    }
    ro_status_reply_free(&r);
    if (b.failed) {
        ro_buf_free(&b);
        return -1;
    }
    s_swap(self, &self->problems, &b);
    return 0;
}

void hub_dashboard_series_tick(hub_dashboard_t *self, int64_t now, int64_t mono_ms)
{
    uint64_t seq = hub_feed_seq(self->feed);
    if ((self->series_ms == 0 ||
         (seq != self->series_seq && mono_ms - self->series_ms >= HUB_DASHBOARD_SERIES_MS)) &&
        s_series(self, now) == 0) {
        self->series_seq = seq;
        self->series_ms = mono_ms;
    }
    if ((self->problems_ms == 0 || mono_ms - self->problems_ms >= HUB_DASHBOARD_PROBLEMS_MS) &&
        s_problems(self, now) == 0)
        self->problems_ms = mono_ms;
}

char *hub_dashboard_json(hub_dashboard_t *self, int64_t now)
{
    ro_status_reply_t *prov = hub_feed_ask(self->status, RO_QUERY_PROVINCE, NULL, NULL, now);
    ro_status_reply_t *levels = hub_feed_ask(self->status, RO_QUERY_LEVEL, "", NULL, now);
    ro_status_reply_t *divs = hub_feed_ask(self->status, RO_QUERY_DIVISIONS, NULL, NULL, now);
    ro_status_reply_t *mets = hub_feed_ask(self->status, RO_QUERY_METRICS, NULL, NULL, now);
    ro_buf_t b;
    ro_buf_init(&b);
    ro_buf_printf(&b, "{\"json_version\":%d,\"generated\":%lld,\"as_of\":", RO_JSON_VERSION,
                  (long long)now);
    ro_json_date(&b, prov ? prov->as_of : ro_date_of(now));
    ro_buf_printf(&b, ",\"feed_seq\":%llu,\"feed_epoch\":%llu,\"store_state\":",
                  (unsigned long long)(prov ? prov->feed_seq : hub_feed_seq(self->feed)),
                  (unsigned long long)hub_feed_epoch(self->feed));
    ro_json_str(&b, prov ? prov->store_state : "");
    ro_buf_puts(&b, ",\"province\":");
    if (prov && prov->n_scopes)
        ro_json_scope(&b, &prov->scopes[0]);
    else
        ro_buf_puts(&b, "null");
    ro_buf_puts(&b, ",\"levels\":");
    s_scopes(&b, levels);
    ro_buf_puts(&b, ",\"divisions\":");
    s_scopes(&b, divs);
    ro_buf_puts(&b, ",\"targets\":");
    s_targets(&b, self->targets);
    ro_buf_puts(&b, ",\"series\":");
    pthread_mutex_lock(&self->built_mu);
    if (self->series.len)
        ro_buf_put(&b, self->series.data, self->series.len);
    else
        ro_buf_puts(&b, "[]");
    ro_buf_puts(&b, ",\"problems\":");
    if (self->problems.len)
        ro_buf_put(&b, self->problems.data, self->problems.len);
    else
        ro_buf_puts(&b, "null");
    pthread_mutex_unlock(&self->built_mu);
    ro_buf_puts(&b, ",\"metrics\":{");
    for (size_t i = 0; mets && i < mets->n_metrics; i++) {
        if (i)
            ro_buf_puts(&b, ",");
        ro_json_str(&b, mets->metrics[i].name);
        ro_buf_puts(&b, ":");
        ro_json_num(&b, mets->metrics[i].value);
    }
    ro_buf_puts(&b, "}}\n");
    ro_status_reply_t *all[4] = {prov, levels, divs, mets};
    for (int i = 0; i < 4; i++)
        if (all[i])
            ro_status_reply_free(&all[i]);
    if (b.failed) {
        ro_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The HTTP port's own counters, after hub_metrics' families: they belong
 * to the server that answers /metrics, which hub_metrics does not know. */
static void s_prom_http(ro_buf_t *b, hub_http_t *http)
{
    hub_http_counters_t c;
    hub_http_counters(http, &c);
    ro_buf_printf(b,
                  "# HELP rollout_http_requests_total HTTP requests answered, any status.\n"
                  "# TYPE rollout_http_requests_total counter\n"
                  "rollout_http_requests_total %llu\n"
                  "# HELP rollout_http_refused_total HTTP requests refused, by reason.\n"
                  "# TYPE rollout_http_refused_total counter\n"
                  "rollout_http_refused_total{reason=\"host\"} %llu\n"
                  "# HELP rollout_http_cut_total HTTP connections the hub closed, by reason.\n"
                  "# TYPE rollout_http_cut_total counter\n"
                  "rollout_http_cut_total{reason=\"deadline\"} %llu\n"
                  "rollout_http_cut_total{reason=\"crowded\"} %llu\n"
                  "# HELP rollout_http_connections HTTP connections open.\n"
                  "# TYPE rollout_http_connections gauge\n"
                  "rollout_http_connections %llu\n",
                  (unsigned long long)c.requests, (unsigned long long)c.refused_host,
                  (unsigned long long)c.cut_deadline, (unsigned long long)c.cut_crowded,
                  (unsigned long long)c.open);
}

void hub_dashboard_tick(hub_dashboard_t *self, int64_t now, int64_t mono_ms)
{
    if (mono_ms - self->metrics_ms >= HUB_DASHBOARD_REFRESH_MS) {
        char *text = NULL;
        size_t len = 0;
        if (hub_metrics_prometheus(self->metrics, now, &text, &len) == 0) {
            ro_buf_t b;
            ro_buf_init(&b);
            ro_buf_put(&b, text, len);
            s_prom_http(&b, self->http);
            if (!b.failed)
                hub_http_put(self->http, "/metrics", "text/plain; version=0.0.4; charset=utf-8",
                             b.data, b.len);
            ro_buf_free(&b);
        }
        free(text);
        self->metrics_ms = mono_ms;
    }
    uint64_t seq = hub_feed_seq(self->feed);
    int moved = self->built_ms == 0 || seq != self->built_seq || atomic_exchange(&self->fresh, 0);
    /* the page shows silent units and metrics too: rebuild now and then anyway */
    if (!(moved && mono_ms - self->built_ms >= HUB_DASHBOARD_REFRESH_MS) &&
        mono_ms - self->built_ms < 5 * HUB_DASHBOARD_REFRESH_MS)
        return;
    char *json = hub_dashboard_json(self, now);
    if (json) {
        hub_http_put(self->http, "/api/status", "application/json", json, strlen(json));
        free(json);
    }
    self->built_seq = seq;
    self->built_ms = mono_ms;
}
