/* hub_metrics: fixed-bucket histograms; connections and cuts as hub_peers
 * counts them (its monitors: ACCEPTED minus DISCONNECTED, a failed CURVE
 * handshake disconnecting too, is the connections open); Prometheus text
 * with one HELP/TYPE block per family. */
#include "metrics.h"
#include "ro_json.h"
#include "ro_log.h"
#include "ro_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_metrics {
    const hub_committed_t *committed; /* borrowed: ingest's counters, the units' states */
    const hub_auth_t *auth;           /* borrowed, may be NULL: the allow-list's counters */
    const hub_feed_t *feed;           /* borrowed, may be NULL */
    const hub_peers_t *peers;         /* borrowed, may be NULL: connections and cuts */
    int64_t silent_after;             /* seconds */
    hub_histogram_t batch;            /* messages per committed batch */
    hub_histogram_t commit;           /* seconds in the transaction */
    hub_histogram_t ack;              /* seconds from wake to last ack */
    /* more counters (the status thread's), read at each scrape; may be NULL */
    size_t (*more)(void *arg, hub_metric_t *out, size_t cap);
    void *more_arg;
};

void hub_metrics_set_more(hub_metrics_t *self, size_t (*fn)(void *, hub_metric_t *, size_t),
                          void *arg)
{
    self->more = fn;
    self->more_arg = arg;
}

static const double s_size_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
static const double s_time_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

static void s_hist_init(hub_histogram_t *h, const char *name, const char *help,
                        const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    h->name = name;
    h->help = help;
    h->nbounds = n < HUB_HIST_BOUNDS ? n : HUB_HIST_BOUNDS;
    memcpy(h->bounds, bounds, h->nbounds * sizeof *bounds);
}

void hub_histogram_observe(hub_histogram_t *h, double x)
{
    size_t i = 0;
    while (i < h->nbounds && x > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += x;
}

double hub_histogram_quantile(const hub_histogram_t *h, double q)
{
    if (h->count == 0)
        return 0;
    double want = q * (double)h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        seen += h->counts[i];
        if ((double)seen >= want)
            return h->bounds[i];
    }
    return INFINITY;
}

hub_metrics_t *hub_metrics_new(const hub_committed_t *committed, const hub_auth_t *auth,
                               const hub_feed_t *feed, int64_t silent_after,
                               const hub_peers_t *peers)
{
    hub_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->committed = committed;
    self->auth = auth;
    self->feed = feed;
    self->peers = peers;
    self->silent_after = silent_after;
    s_hist_init(&self->batch, "batch_size", "Messages in a committed ingest batch.", s_size_bounds,
                sizeof s_size_bounds / sizeof s_size_bounds[0]);
    s_hist_init(&self->commit, "commit_seconds",
                "Time a committed batch spent in its transaction, BEGIN to COMMIT.", s_time_bounds,
                sizeof s_time_bounds / sizeof s_time_bounds[0]);
    s_hist_init(&self->ack, "ack_seconds",
                "Time from the wake that found a batch to its last ack queued.", s_time_bounds,
                sizeof s_time_bounds / sizeof s_time_bounds[0]);
    return self;
}

void hub_metrics_destroy(hub_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void hub_metrics_batch(hub_metrics_t *self, uint64_t size, double commit_s, double ack_s)
{
    hub_histogram_observe(&self->batch, (double)size);
    hub_histogram_observe(&self->commit, commit_s);
    hub_histogram_observe(&self->ack, ack_s);
}

uint64_t hub_metrics_agents(const hub_metrics_t *self)
{
    return hub_peers_open(self->peers, HUB_PEERS_INGEST);
}

uint64_t hub_metrics_subscribers(const hub_metrics_t *self)
{
    return hub_peers_open(self->peers, HUB_PEERS_FEED);
}

uint64_t hub_metrics_silent(const hub_metrics_t *self, int64_t now)
{
    const hub_unit_state_t *states = hub_committed_states(self->committed);
    uint64_t n = 0;
    for (size_t i = 0, count = hub_committed_count(self->committed); i < count; i++) {
        int64_t t = states[i].last_heard;
        n += t == 0 || now - t > self->silent_after;
    }
    return n;
}

/* ---- the status API's list ----------------------------------------------- */

static size_t s_hist_list(const hub_histogram_t *h, hub_metric_t *out, size_t n, size_t cap,
                          const char *const names[5])
{
    double v[5] = {(double)h->count, h->sum, hub_histogram_quantile(h, 0.5),
                   hub_histogram_quantile(h, 0.9), hub_histogram_quantile(h, 0.99)};
    for (int i = 0; i < 5 && n < cap; i++)
        out[n++] = (hub_metric_t){names[i], v[i]};
    return n;
}

size_t hub_metrics_list(void *arg, hub_metric_t *out, size_t cap)
{
    const hub_metrics_t *self = arg;
    static const char *const batch_names[5] = {
        "batch_size_count", "batch_size_sum", "batch_size_p50", "batch_size_p90", "batch_size_p99"};
    static const char *const commit_names[5] = {"commit_seconds_count", "commit_seconds_sum",
                                                "commit_seconds_p50", "commit_seconds_p90",
                                                "commit_seconds_p99"};
    static const char *const ack_names[5] = {"ack_seconds_count", "ack_seconds_sum",
                                             "ack_seconds_p50", "ack_seconds_p90",
                                             "ack_seconds_p99"};
    size_t n = 0;
#define PUT(nm, v)                                                                                 \
    do {                                                                                           \
        if (n < cap)                                                                               \
            out[n++] = (hub_metric_t){(nm), (double)(v)};                                          \
    } while (0)
    PUT("connected_agents", hub_metrics_agents(self));
    PUT("ingest_connections_accepted", hub_peers_accepted(self->peers, HUB_PEERS_INGEST));
    PUT("feed_subscribers", hub_metrics_subscribers(self));
    PUT("units_silent", hub_metrics_silent(self, ro_time_now()));
    PUT("silent_after_seconds", self->silent_after);
    if (self->feed) {
        const hub_feed_counters_t *f = hub_feed_counters(self->feed);
        PUT("feed_seq", hub_feed_seq(self->feed));
        PUT("feed_epoch", hub_feed_epoch(self->feed));
        PUT("feed_updates", f->updates);
        PUT("feed_heartbeats", f->heartbeats);
        PUT("feed_bytes", f->bytes);
        PUT("feed_unchanged", f->unchanged);
        PUT("feed_errors", f->errors);
    }
    n = s_hist_list(&self->batch, out, n, cap, batch_names);
    n = s_hist_list(&self->commit, out, n, cap, commit_names);
    n = s_hist_list(&self->ack, out, n, cap, ack_names);
    /* connections the hub cut: in all, then per identity ("peer_cuts_flood:460100-001") */
    static const char *const cut_names[HUB_PEERS_CUT_COUNT] = {
        "peer_cuts_flood", "peer_cuts_idle", "peer_cuts_revoked", "peer_cuts_input",
        "peer_cuts_crowd"};
    for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
        PUT(cut_names[w], hub_peers_cuts(self->peers, (hub_peers_cut_t)w));
    hub_peers_identity_t ids[HUB_PEERS_IDENTITIES + 1];
    size_t k = hub_peers_identities(self->peers, ids, HUB_PEERS_IDENTITIES + 1);
    for (size_t i = 0; i < k; i++)
        for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
            if (ids[i].cuts[w])
                PUT(ids[i].names[w], ids[i].cuts[w]);
    hub_metric_t auth[HUB_METRICS_AUTH_MAX];
    for (size_t i = 0, na = hub_metrics_auth(self->auth, auth, HUB_METRICS_AUTH_MAX); i < na; i++)
        PUT(auth[i].name, auth[i].value);
#undef PUT
    return n;
}

/* ---- Prometheus text -------------------------------------------------------- */

/* Ingest's metrics that are levels, not running totals. */
static int s_is_gauge(const char *name)
{
    static const char *gauges[] = {"last_batch_size",     "held_messages",      "held_clock",
                                   "store_full",          "store_error",        "auth_keys_listed",
                                   "auth_list_bad_lines", "auth_list_kept_keys"};
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
        if (!strcmp(name, gauges[i]))
            return 1;
    return 0;
}

/* Family and label of an ingest metric: "refused_unknown-unit" is family
 * "refused" with reason "unknown-unit"; "auth_refused_no-list" family
 * "auth_refused". label is "" when there is none. */
static void s_family(const char *name, char *family, size_t flen, char *label, size_t llen)
{
    const char *r = strstr(name, "refused_");
    label[0] = '\0';
    if (r && strcmp(name, "heartbeats_refused") != 0) {
        size_t k = (size_t)(r - name) + strlen("refused");
        snprintf(family, flen, "%.*s", (int)k, name);
        snprintf(label, llen, "%s", r + strlen("refused_"));
    } else {
        snprintf(family, flen, "%s", name);
    }
    for (char *p = family; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
}

static void s_prom_hist(ro_buf_t *b, const hub_histogram_t *h)
{
    ro_buf_printf(b, "# HELP rollout_%s %s\n# TYPE rollout_%s histogram\n", h->name, h->help,
                  h->name);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->counts[i];
        ro_buf_printf(b, "rollout_%s_bucket{le=\"%g\"} %llu\n", h->name, h->bounds[i],
                      (unsigned long long)cum);
    }
    cum += h->counts[h->nbounds];
    ro_buf_printf(b, "rollout_%s_bucket{le=\"+Inf\"} %llu\n", h->name, (unsigned long long)cum);
    ro_buf_printf(b, "rollout_%s_sum %.9g\nrollout_%s_count %llu\n", h->name, h->sum, h->name,
                  (unsigned long long)h->count);
}

static void s_prom_one(ro_buf_t *b, const char *name, const char *type, const char *help, double v)
{
    ro_buf_printf(b, "# HELP rollout_%s %s\n# TYPE rollout_%s %s\nrollout_%s %.17g\n", name, help,
                  name, type, name, v);
}

/* What other parts of the hub count: the peers' cuts, the status thread's. */
static void s_prom_others(const hub_metrics_t *self, ro_buf_t *b)
{
    ro_buf_puts(b, "# HELP rollout_peer_cuts_total Connections the hub cut, by reason (flood, "
                   "idle, revoked, input, crowd).\n# TYPE rollout_peer_cuts_total counter\n");
    for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
        ro_buf_printf(b, "rollout_peer_cuts_total{reason=\"%s\"} %llu\n",
                      hub_peers_cut_name((hub_peers_cut_t)w),
                      (unsigned long long)hub_peers_cuts(self->peers, (hub_peers_cut_t)w));
    hub_peers_identity_t ids[HUB_PEERS_IDENTITIES + 1];
    size_t k = hub_peers_identities(self->peers, ids, HUB_PEERS_IDENTITIES + 1);
    if (k)
        ro_buf_puts(b, "# HELP rollout_peer_identity_cuts_total Connections the hub cut, by "
                       "identity (unit id, operator:NAME, unknown: it never finished a message) "
                       "and reason.\n# TYPE rollout_peer_identity_cuts_total counter\n");
    for (size_t i = 0; i < k; i++)
        for (int w = 0; w < HUB_PEERS_CUT_COUNT; w++)
            if (ids[i].cuts[w])
                ro_buf_printf(b,
                              "rollout_peer_identity_cuts_total{identity=\"%s\",reason=\"%s\"} "
                              "%llu\n",
                              ids[i].identity, hub_peers_cut_name((hub_peers_cut_t)w),
                              (unsigned long long)ids[i].cuts[w]);
    hub_metric_t more[8];
    size_t nmore = self->more ? self->more(self->more_arg, more, 8) : 0;
    for (size_t i = 0; i < nmore; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s_total", more[i].name);
        s_prom_one(b, name, "counter",
                   "Status socket: the counter rolloutctl metrics shows by this name.",
                   more[i].value);
    }
}

size_t hub_metrics_auth(const hub_auth_t *auth, hub_metric_t *out, size_t cap)
{
    if (!auth)
        return 0;
    hub_metric_t all[] = {
        {"auth_keys_listed", (double)hub_auth_count(auth)},
        {"auth_admitted", (double)hub_auth_admitted(auth)},
        {"auth_refused_no-list", (double)hub_auth_denied(auth, HUB_AUTH_DENY_NO_LIST)},
        {"auth_refused_unknown-key", (double)hub_auth_denied(auth, HUB_AUTH_DENY_UNKNOWN)},
        {"auth_refused_wrong-socket", (double)hub_auth_denied(auth, HUB_AUTH_DENY_WRONG_SOCKET)},
        {"auth_refused_bad-request", (double)hub_auth_denied(auth, HUB_AUTH_DENY_BAD_REQUEST)},
        {"auth_list_bad_lines", (double)hub_auth_bad_lines(auth)},
        {"auth_list_kept_keys", (double)hub_auth_kept(auth)},
        {"auth_list_bad_lines_seen", (double)hub_auth_bad_lines_seen(auth)},
    };
    size_t n = sizeof all / sizeof all[0] < cap ? sizeof all / sizeof all[0] : cap;
    memcpy(out, all, n * sizeof *out);
    return n;
}

int hub_metrics_prometheus(const hub_metrics_t *self, int64_t now, char **out, size_t *len)
{
    ro_buf_t b;
    ro_buf_init(&b);
    const hub_ingest_counters_t *c = hub_committed_counters(self->committed);
    hub_metric_t m[HUB_INGEST_METRICS_MAX + HUB_METRICS_AUTH_MAX];
    size_t n = hub_ingest_counters_metrics(c, m, HUB_INGEST_METRICS_MAX);
    n += hub_metrics_auth(self->auth, m + n, HUB_METRICS_AUTH_MAX);
    int done[HUB_INGEST_METRICS_MAX + HUB_METRICS_AUTH_MAX] = {0};
    /* one block per family, its labelled samples together */
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        char fam[96], label[64];
        s_family(m[i].name, fam, sizeof fam, label, sizeof label);
        int gauge = s_is_gauge(m[i].name);
        ro_buf_printf(&b, "# HELP rollout_%s%s Hub ingest: %s.\n# TYPE rollout_%s%s %s\n", fam,
                      gauge ? "" : "_total", fam, fam, gauge ? "" : "_total",
                      gauge ? "gauge" : "counter");
        for (size_t j = i; j < n; j++) {
            char f2[96], l2[64];
            s_family(m[j].name, f2, sizeof f2, l2, sizeof l2);
            if (strcmp(f2, fam) != 0)
                continue;
            done[j] = 1;
            if (l2[0])
                ro_buf_printf(&b, "rollout_%s%s{reason=\"%s\"} %.17g\n", fam, gauge ? "" : "_total",
                              l2, m[j].value);
            else
                ro_buf_printf(&b, "rollout_%s%s %.17g\n", fam, gauge ? "" : "_total", m[j].value);
        }
    }
    ro_buf_puts(&b, "# HELP rollout_store_state The store's state: 1 for the current one.\n"
                    "# TYPE rollout_store_state gauge\n");
    for (int s = HUB_STORE_STATE_OK; s <= HUB_STORE_STATE_ERROR; s++)
        ro_buf_printf(&b, "rollout_store_state{state=\"%s\"} %d\n",
                      hub_store_state_name((hub_store_state_t)s), (int)c->store_state == s);
    const hub_unit_state_t *states = hub_committed_states(self->committed);
    size_t reporting = 0, nunits = hub_committed_count(self->committed);
    for (size_t i = 0; i < nunits; i++)
        reporting += states[i].reports > 0;
    s_prom_one(&b, "units", "gauge", "Units in the registry.", (double)nunits);
    s_prom_one(&b, "units_reporting", "gauge", "Units that stored at least one report.",
               (double)reporting);
    s_prom_one(&b, "units_silent", "gauge", "Units not heard within silent_after.",
               (double)hub_metrics_silent(self, now));
    s_prom_one(&b, "connected_agents", "gauge", "Open connections on the ingest socket.",
               (double)hub_metrics_agents(self));
    s_prom_one(&b, "ingest_connections_accepted_total", "counter",
               "Connections accepted on the ingest socket.",
               (double)hub_peers_accepted(self->peers, HUB_PEERS_INGEST));
    s_prom_one(&b, "feed_subscribers", "gauge", "Open connections on the feed socket.",
               (double)hub_metrics_subscribers(self));
    if (self->feed) {
        const hub_feed_counters_t *f = hub_feed_counters(self->feed);
        s_prom_one(&b, "feed_seq", "gauge", "The latest feed sequence number published.",
                   (double)hub_feed_seq(self->feed));
        s_prom_one(&b, "feed_updates_total", "counter", "Feed updates published.",
                   (double)f->updates);
        s_prom_one(&b, "feed_heartbeats_total", "counter", "Feed heartbeats published.",
                   (double)f->heartbeats);
        s_prom_one(&b, "feed_bytes_total", "counter", "Feed body bytes published.",
                   (double)f->bytes);
        s_prom_one(&b, "feed_errors_total", "counter", "Feed sends or answers that failed.",
                   (double)f->errors);
    }
    s_prom_others(self, &b);
    s_prom_hist(&b, &self->batch);
    s_prom_hist(&b, &self->commit);
    s_prom_hist(&b, &self->ack);
    if (b.failed) {
        ro_buf_free(&b);
        return -1;
    }
    *out = b.data;
    *len = b.len;
    return 0;
}
