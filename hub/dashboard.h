/* hub_dashboard: what the hub's HTTP port shows: the page at / (embedded
 * at build time, no network beyond the hub), its data at /api/status and
 * Prometheus text at /metrics, rebuilt on the main thread from the status
 * API's own answers, except the series and the problems (PROBLEMS, the
 * status socket's own answer), which scan the store: the status thread
 * builds those (it lets committed's lock go while it scans, so ingest
 * never waits for it). hub_http only serves copies of them. */
#ifndef HUB_DASHBOARD_H
#define HUB_DASHBOARD_H

#include "feed.h"
#include "metrics.h"
#include "status.h"
#include "ro_targets.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_DASHBOARD_REFRESH_MS 1000    /* rebuild /api/status at most this often */
#define HUB_DASHBOARD_SERIES_MS 5000     /* and its series (a scan of the store) */
#define HUB_DASHBOARD_PROBLEMS_MS 5000   /* and its problems (a scan of the store too) */
#define HUB_DASHBOARD_PROBLEMS_SHOWN 100 /* problems listed; "total" counts them all */

typedef struct hub_dashboard hub_dashboard_t;

/* Serve on hostport ("HOST:PORT", port 0 picks one), reading status, feed,
 * metrics and targets (borrowed; targets may be NULL: no milestones drawn).
 * Appends "http HOST:PORT" to <data_dir>/endpoints (rewritten atomically)
 * when data_dir is not NULL. Returns NULL with a reason in err. */
hub_dashboard_t *hub_dashboard_new(const char *hostport, hub_status_t *status,
                                   const hub_feed_t *feed, const hub_metrics_t *metrics,
                                   const ro_targets_t *targets, const char *data_dir, char *err,
                                   size_t errlen);
/* Stop the HTTP thread and free; accepts NULL. */
void hub_dashboard_destroy(hub_dashboard_t **self_p);

/* The targets were reloaded: draw these milestones (borrowed) from now on. */
void hub_dashboard_set_targets(hub_dashboard_t *self, const ro_targets_t *targets);

/* Rebuild the documents that are due, as of now (the hub's clock) and
 * mono_ms (monotonic milliseconds). The main thread's. */
void hub_dashboard_tick(hub_dashboard_t *self, int64_t now, int64_t mono_ms);

/* Rebuild the series when due (never built, or the feed moved and
 * HUB_DASHBOARD_SERIES_MS passed), and the problems when due (never
 * built, or HUB_DASHBOARD_PROBLEMS_MS passed: silent units come with time,
 * not with the feed). The status thread's, called with the committed's
 * lock held, like an answer. */
void hub_dashboard_series_tick(hub_dashboard_t *self, int64_t now, int64_t mono_ms);

/* The JSON of /api/status as it would be built now, with the last series
 * and problems built; malloc'ed, the caller's to free; NULL when out of memory. */
char *hub_dashboard_json(hub_dashboard_t *self, int64_t now);

/* The address served, "HOST:PORT". */
const char *hub_dashboard_address(const hub_dashboard_t *self);

#endif
