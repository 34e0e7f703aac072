/* hub_metrics: what the hub measures beyond ingest's counters (batch-size
 * and commit/ack latency histograms, connections, subscribers and the
 * connections cut, as hub_peers counts them from the sockets' monitors,
 * silent units, the feed), for the status API and as Prometheus text. Main
 * thread only: HTTP is handed the text. */
#ifndef HUB_METRICS_H
#define HUB_METRICS_H

#include "feed.h"
#include "auth.h"
#include "committed.h"
#include "peers.h"
#include "state.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_HIST_BOUNDS 14 /* finite bucket bounds of a histogram; +Inf is implied */

typedef struct {
    const char *name;                     /* e.g. "commit_seconds" */
    const char *help;                     /* one line for # HELP */
    double bounds[HUB_HIST_BOUNDS];       /* upper bounds, ascending */
    size_t nbounds;                       /* how many of bounds are used */
    uint64_t counts[HUB_HIST_BOUNDS + 1]; /* per bucket, not cumulative; last = above all */
    uint64_t count;                       /* observations */
    double sum;                           /* their sum */
} hub_histogram_t;

/* Record x in h. */
void hub_histogram_observe(hub_histogram_t *h, double x);
/* The upper bound of the bucket holding quantile q (0..1) of the
 * observations (+Inf above the last bound; 0 with none): a coarse,
 * never-understated estimate. */
double hub_histogram_quantile(const hub_histogram_t *h, double q);

typedef struct hub_metrics hub_metrics_t;

/* Metrics over committed (ingest's counters, the units' states: silent
 * when not heard within silent_after seconds), auth (the allow-list's
 * counters; may be NULL: curve off), feed (may be NULL) and peers
 * (connections and cuts; may be NULL: none), all borrowed. Returns NULL
 * when out of memory. */
hub_metrics_t *hub_metrics_new(const hub_committed_t *committed, const hub_auth_t *auth,
                               const hub_feed_t *feed, int64_t silent_after,
                               const hub_peers_t *peers);
/* Free; accepts NULL. */
void hub_metrics_destroy(hub_metrics_t **self_p);

/* Counters of another thread to show on /metrics too (each NAME as
 * rollout_NAME_total), read at each scrape by fn(arg, ...): the status
 * thread's, hub_status_counters. */
void hub_metrics_set_more(hub_metrics_t *self, size_t (*fn)(void *, hub_metric_t *, size_t),
                          void *arg);

/* The allow-list's counters as name/value pairs, at most cap
 * (HUB_METRICS_AUTH_MAX fits all; none when auth is NULL). */
#define HUB_METRICS_AUTH_MAX 9
size_t hub_metrics_auth(const hub_auth_t *auth, hub_metric_t *out, size_t cap);

/* One committed batch: its messages, its transaction and the time from the
 * wake that found it to its last ack queued, in seconds. */
void hub_metrics_batch(hub_metrics_t *self, uint64_t size, double commit_s, double ack_s);

/* Open ingest connections and feed subscribers, as hub_peers counts them. */
uint64_t hub_metrics_agents(const hub_metrics_t *self);
uint64_t hub_metrics_subscribers(const hub_metrics_t *self);
/* Units not heard within silent_after of now (never heard included). */
uint64_t hub_metrics_silent(const hub_metrics_t *self, int64_t now);

/* Name/value pairs for the status API (a hub_status_metrics_fn: self is a
 * hub_metrics_t *). Histograms give _count, _sum, _p50, _p90 and _p99
 * (bucket upper bounds); the connections cut, in all by reason
 * ("peer_cuts_flood") and per identity ("peer_cuts_flood:460100-001").
 * Returns how many were written, at most cap. */
size_t hub_metrics_list(void *self, hub_metric_t *out, size_t cap);

/* Prometheus text exposition (version 0.0.4) of ingest's counters and
 * everything here, as of now; *out is malloc'ed and the caller's to free.
 * Returns 0, or -1 when out of memory. */
int hub_metrics_prometheus(const hub_metrics_t *self, int64_t now, char **out, size_t *len);

#endif
