/* hub_view: the operator's view of a running hub, wired into its poll loop
 * in a few calls: the feed (hub_feed) on the bound XPUB socket, the metrics
 * (hub_metrics) and, when hub.ini sets metrics_http, the HTTP port with the
 * dashboard (hub_dashboard). What goes into a scope is the status API's;
 * when and how it is published is these modules'. */
#ifndef HUB_VIEW_H
#define HUB_VIEW_H

#include "auth.h"
#include "committed.h"
#include "engine.h"
#include "ingest.h"
#include "peers.h"
#include "ro_config.h"
#include "ro_registry.h"
#include "state.h"
#include "status.h"
#include "ro_targets.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hub_view hub_view_t;

/* Start the view over the hub's pieces (all borrowed, must outlive it):
 * the bound feed XPUB socket, peers (connections and cuts), status (asked
 * by the dashboard, and answering METRICS with the view's metrics),
 * committed (the units' states and sums the feed and metrics read, told
 * the feed's seq), auth (its counters on /metrics; NULL with curve off),
 * reg, and the engine and its targets (the feed evaluates scopes with
 * them), and cfg (metrics_http, silent_after, data_dir). Returns NULL with
 * a reason in err. */
hub_view_t *hub_view_new(const ro_hub_config_t *cfg, void *feed_sock, const hub_peers_t *peers,
                         hub_status_t *status, hub_committed_t *committed, const hub_auth_t *auth,
                         const ro_registry_t *reg, const hub_engine_t *engine,
                         const ro_targets_t *targets, char *err, size_t errlen);
/* Stop the HTTP thread and free; accepts NULL and nulls the pointer. */
void hub_view_destroy(hub_view_t **self_p);

/* After a loop turn in which ingest committed a batch: time it (woke_us,
 * ro_time_mono_us, is when the wake that found it began) and mark what it
 * changed for the feed's next publication (hub_view_tick sends it: at once
 * after a quiet period, else within HUB_FEED_INTERVAL_MS). now is the hub's
 * clock. */
void hub_view_committed(hub_view_t *self, const hub_ingest_t *ingest, int64_t now, int64_t woke_us);

/* After ingest committed something other than a batch (a reviewer's
 * decision, hub_ingest_decide): mark the units it changed for the feed,
 * as hub_view_committed does, without timing a batch. */
void hub_view_changed(hub_view_t *self, const hub_ingest_t *ingest, int64_t now);

/* Every loop turn: the feed's publication and heartbeat, HTTP documents
 * when due. Returns the milliseconds the loop may sleep
 * before the next is due. */
long hub_view_tick(hub_view_t *self, int64_t now, int64_t mono_ms);

/* The status thread's turn, between answers, with committed's lock held: the
 * dashboard's series (a scan of the store) when due. */
void hub_view_status_tick(hub_view_t *self, int64_t now, int64_t mono_ms);

/* The registry and targets were reloaded (SIGHUP), committed swapped to
 * reg: reg, the engine built on it and targets replace the old ones. Call
 * before the old registry is freed: the feed compares them. Returns 0, or
 * -1 when out of memory (the hub must stop at once: the feed cannot follow
 * the new indices). */
int hub_view_reload(hub_view_t *self, const ro_registry_t *reg, const hub_engine_t *engine,
                    const ro_targets_t *targets);

#endif
