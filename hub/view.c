/* hub_view: owns the feed, the metrics and the dashboard, and calls them
 * in the order the loop needs: measure the commit, then mark it for the
 * feed; every turn, the feed's publication and heartbeat, then the HTTP
 * documents. */
#include "view.h"
#include "dashboard.h"
#include "feed.h"
#include "metrics.h"
#include "ro_log.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <stdio.h>
#include <stdlib.h>

struct hub_view {
    hub_feed_t *feed;           /* publishes on the XPUB socket */
    hub_metrics_t *metrics;     /* histograms, connections */
    hub_dashboard_t *dashboard; /* HTTP; NULL when metrics_http is "" */
};

hub_view_t *hub_view_new(const ro_hub_config_t *cfg, void *feed_sock, const hub_peers_t *peers,
                         hub_status_t *status, hub_committed_t *committed, const hub_auth_t *auth,
                         const ro_registry_t *reg, const hub_engine_t *engine,
                         const ro_targets_t *targets, char *err, size_t errlen)
{
    hub_view_t *self = calloc(1, sizeof *self);
    if (self)
        self->feed = hub_feed_new(feed_sock, committed, reg, engine, targets, 0);
    if (self && self->feed)
        self->metrics = hub_metrics_new(committed, auth, self->feed, cfg->silent_after, peers);
    if (!self || !self->metrics) {
        snprintf(err, errlen, "cannot start the feed and its metrics");
        hub_view_destroy(&self);
        return NULL;
    }
    hub_status_set_metrics(status, hub_metrics_list, self->metrics);
    hub_metrics_set_more(self->metrics, hub_status_counters, status);
    if (!cfg->metrics_http[0])
        return self;
    self->dashboard = hub_dashboard_new(cfg->metrics_http, status, self->feed, self->metrics,
                                        targets, cfg->data_dir, err, errlen);
    if (!self->dashboard) {
        hub_status_set_metrics(status, NULL, NULL);
        hub_view_destroy(&self);
        return NULL;
    }
    const char *at = hub_dashboard_address(self->dashboard);
    char tcp[RO_ENDPOINT_MAX + 8];
    snprintf(tcp, sizeof tcp, "tcp://%s", cfg->metrics_http);
    int local = ro_endpoint_is_local(tcp);
    ro_log(local ? LOG_INFO : LOG_WARNING,
           "HTTP on %s: dashboard http://%s/, metrics http://%s/metrics%s", at, at, at,
           local ? "" : " (beyond loopback, and there is no login)");
    return self;
}

void hub_view_destroy(hub_view_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_view_t *self = *self_p;
    hub_dashboard_destroy(&self->dashboard);
    hub_metrics_destroy(&self->metrics);
    hub_feed_destroy(&self->feed);
    free(self);
    *self_p = NULL;
}

void hub_view_committed(hub_view_t *self, const hub_ingest_t *ingest, int64_t now, int64_t woke_us)
{
    const hub_ingest_counters_t *c = hub_ingest_counters(ingest);
    /* the acks are out: this is what an agent waited */
    hub_metrics_batch(self->metrics, c->last_batch_size, (double)c->last_commit_us / 1e6,
                      (double)(ro_time_mono_us() - woke_us) / 1e6);
    size_t n = 0;
    const uint32_t *units = hub_ingest_changed(ingest, &n);
    hub_feed_commit(self->feed, units, n, now);
}

void hub_view_changed(hub_view_t *self, const hub_ingest_t *ingest, int64_t now)
{
    size_t n = 0;
    const uint32_t *units = hub_ingest_changed(ingest, &n);
    hub_feed_commit(self->feed, units, n, now);
}

long hub_view_tick(hub_view_t *self, int64_t now, int64_t mono_ms)
{
    long next = hub_feed_tick(self->feed, now, mono_ms);
    if (self->dashboard)
        hub_dashboard_tick(self->dashboard, now, mono_ms);
    return next;
}

void hub_view_status_tick(hub_view_t *self, int64_t now, int64_t mono_ms)
{
    if (self->dashboard)
        hub_dashboard_series_tick(self->dashboard, now, mono_ms);
}

int hub_view_reload(hub_view_t *self, const ro_registry_t *reg, const hub_engine_t *engine,
                    const ro_targets_t *targets)
{
    if (self->dashboard)
        hub_dashboard_set_targets(self->dashboard, targets);
    return hub_feed_set_registry(self->feed, reg, engine, targets);
}
