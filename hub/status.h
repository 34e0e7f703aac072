/* hub_status: the status API, request/reply over the status ROUTER. Decodes
 * a StatusRequest strictly, dispatches it by query through a table, and
 * answers with a StatusReply (store state, feed sequence and as-of date on
 * every reply). It reads states and counters; it never writes the store.
 * Attainment (indicators, grades, laggards) is the engine's; this module
 * maps its results to the wire. */
#ifndef HUB_STATUS_H
#define HUB_STATUS_H

#include "engine.h"
#include "ingest.h"
#include "committed.h"
#include "ro_registry.h"
#include "state.h"
#include "store.h"
#include "ro_targets.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_STATUS_FRAME_MAX 4096      /* the largest request accepted */
#define HUB_STATUS_SCOPES_MAX 10000    /* scopes in one reply; LAGGARDS/SILENT say the total */
#define HUB_STATUS_SILENT_AFTER 259200 /* default seconds before a unit is silent */

typedef struct hub_status hub_status_t;

/* A status API over the hub's registry, its units' committed states, the
 * store (for as-of and verify queries) and committed, whose states must be
 * the states given: its rollups' sums answer province, level and division
 * as of today without a pass over every unit, and its counters, store
 * state and feed seq go into replies (NULL: no sums, no ingest counters,
 * store state "ok", feed seq 0). All are borrowed and must outlive it.
 * Returns NULL on failure. */
hub_status_t *hub_status_new(const ro_registry_t *reg, const hub_unit_state_t *states,
                             hub_store_t *store, const hub_committed_t *committed);
void hub_status_destroy(hub_status_t **self_p);

/* Evaluate with engine and targets (both borrowed, must outlive self; the
 * engine built on the same registry). targets_text, copied, is what TARGETS
 * answers: the text of the file the targets came from (NULL: TARGETS says
 * it has none). Without an engine, UNIT and PROVINCE carry raw sums only
 * and the attainment queries answer status 1. Returns 0, or -1 out of memory. */
int hub_status_set_engine(hub_status_t *self, const hub_engine_t *engine,
                          const ro_targets_t *targets, const char *targets_text);

/* Seconds without a report or heartbeat after which SILENT lists a unit
 * (hub.ini silent_after; HUB_STATUS_SILENT_AFTER until set). */
void hub_status_set_silent_after(hub_status_t *self, int64_t seconds);

/* Answer for another registry and its live states (SIGHUP reload; both
 * borrowed as in hub_status_new). Drops the as-of cache. Set the engine
 * built on reg right after, with hub_status_set_engine. */
void hub_status_set_registry(hub_status_t *self, const ro_registry_t *reg,
                             const hub_unit_state_t *states);

/* More metrics for METRICS (hub_metrics): fn writes up to cap pairs whose
 * names outlive the reply, and returns how many. NULL: none. */
typedef size_t (*hub_status_metrics_fn)(void *arg, hub_metric_t *out, size_t cap);
void hub_status_set_metrics(hub_status_t *self, hub_status_metrics_fn fn, void *arg);
/* The status thread's own counters (status_refused, status_unknown_fields,
 * status_replies_dropped), safe to read from any thread: a
 * hub_status_metrics_fn with arg the hub_status_t, for /metrics. */
size_t hub_status_counters(void *arg, hub_metric_t *out, size_t cap);

/* Answer one request body (len bytes) as of the hub's clock now. Always
 * produces a reply: status 0 ok, 2 bad request (error says why), 1 hub
 * trouble. *out is malloc'd and the caller's to free. Queries:
 *   UNIT       key = unit id: one unit scope
 *   PROVINCE   the province scope
 *   DIVISION   key = division code (460000: the provincial units)
 *   LEVEL      key = provincial | municipal | township; "" = all three
 *   DIVISIONS  the 19 division scopes (460000 first), from one pass
 *   LAGGARDS   unit scopes whose gap on indicator (default the headline
 *              one) is above 0, biggest first; total = how many in all,
 *              limit (0 = up to HUB_STATUS_SCOPES_MAX) how many are sent
 *   SILENT     unit scopes not heard within silent_after of now, never-heard
 *              first; total and limit as for LAGGARDS; as_of must be today
 *              (heartbeats are not stored, so the past is not known)
 *   HISTORY    key = unit id, indicator (default headline): the unit scope
 *              and one history point per report of the indicator's kind
 *              (see HistoryPoint); limit keeps the latest points
 *   SERIES     indicator (default headline): the province scope, and its
 *              value at each month end from the first with data and at
 *              as_of; limit keeps the latest points. One pass over the
 *              reports, however many months.
 *   TARGETS    targets_ini: the text of the hub's targets file
 *   METRICS    ingest counters, then hub_status_set_metrics's (docs/FEED.md)
 *   PROBLEMS   every unit that cannot deliver or needs a look (hub_problems:
 *              gap, refused, held, silent), most urgent first, each with what
 *              to do; total and limit as for LAGGARDS; as of today only
 *   REVIEWS    key = unit id or "": the reports a [review] rule flagged and
 *              what became of them, pending first; total and limit as for
 *              LAGGARDS; as of today only
 *   DECIDE     decision: a reviewer key (with keys) accepts or rejects one
 *              flagged report; handed to ingest's thread (set_decide) and
 *              answered once committed: ok also when it was decided so
 *              already, 2 naming who decided otherwise and when
 *   VERIFY     metrics "differences", "units_checked", "reports_checked"; when
 *              differences > 0, error carries a readable summary and status
 *              stays 0.
 * Scopes carry indicators, grade and why when an engine is set. A
 * request's as_of (YYYYMMDD, 0 = today) before today is answered from the
 * raw reports (a scan of the store, kept until the next stored report, so
 * the queries of one report cost one scan). Returns 0, or -1 if out of
 * memory. */
int hub_status_answer(hub_status_t *self, const uint8_t *req, size_t len, int64_t now,
                      uint8_t **out, size_t *out_len);

/* Who may still ask (CURVE): gate(arg, request) gets each request's body
 * frame (a zmq_msg_t *, whose metadata carries the connection's ZAP
 * verdict) and returns true to answer it; false answers status 2
 * "forbidden" instead. For keys revoked while their connection is up.
 * NULL (the default): every request is answered. */
typedef int (*hub_status_gate_fn)(void *arg, void *request);
void hub_status_set_gate(hub_status_t *self, hub_status_gate_fn gate, void *arg);

/* How a decision reaches ingest's thread: fn(arg, d, why, whylen) returns
 * as hub_ingest_decide, called with committed's lock let go (the store
 * hooks' leave and enter). keys: CURVE is on, so only a connection whose
 * User-Id is "reviewer:NAME" may decide (without keys, anyone who may ask
 * may, recorded by ""). NULL fn: DECIDE answers status 1. */
typedef int (*hub_status_decide_fn)(void *arg, const hub_decision_t *d, char *why, size_t whylen);
void hub_status_set_decide(hub_status_t *self, hub_status_decide_fn fn, void *arg, int keys);
/* Reads that scan the store (a past date, history, series, verify: up to
 * seconds on a large store) run with the caller's lock let go: leave(arg)
 * before each, enter(arg) after it, in whichever thread answers. A query
 * during which the registry or targets were replaced (hub_status_set_registry
 * or _set_engine) is answered with status 1 and "ask again". NULL hooks:
 * nothing is let go. */
typedef void (*hub_status_hook_fn)(void *arg);

void hub_status_set_store_hooks(hub_status_t *self, hub_status_hook_fn leave,
                                hub_status_hook_fn enter, void *arg);

/* Serve one request waiting on the ROUTER sock without blocking: accepts
 * DEALER-style [id][body] and REQ-style [id][empty][body] envelopes and
 * echoes the envelope back. Returns 1 if one was answered, 0 if none was
 * waiting, -1 on a socket error. */
int hub_status_serve(hub_status_t *self, void *sock, int64_t now);

#endif
