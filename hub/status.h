/* hub_status: the status API, request/reply over the status ROUTER. Decodes
 * a StatusRequest strictly, dispatches it by query through a table, and
 * answers with a StatusReply (store state, feed sequence and as-of date on
 * every reply). It reads states and counters; it never writes the store.
 * Attainment (indicators, grades) is the engine's and slots into the table. */
#ifndef HUB_STATUS_H
#define HUB_STATUS_H

#include "ingest.h"
#include "ro_registry.h"
#include "state.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_STATUS_FRAME_MAX 4096 /* the largest request accepted */

typedef struct hub_status hub_status_t;

/* A status API over the hub's registry, live states, store (for as-of and
 * verify queries) and ingest (counters, store state; may be NULL). All are
 * borrowed and must outlive it. Returns NULL on failure. */
hub_status_t *hub_status_new(const ro_registry_t *reg, const hub_unit_state_t *states,
                             hub_store_t *store, const hub_ingest_t *ingest);
void hub_status_destroy(hub_status_t **self_p);

/* The feed sequence replies report (0 until the feed publishes). */
void hub_status_set_feed_seq(hub_status_t *self, uint64_t feed_seq);

/* Answer one request body (len bytes) as of the hub's clock now. Always
 * produces a reply: status 0 ok, 2 bad request (error says why), 1 hub
 * trouble. *out is malloc'd and the caller's to free. Queries answered:
 * UNIT (key = unit id), PROVINCE, METRICS, VERIFY (metrics "differences",
 * "units_checked", "reports_checked"; when differences > 0, error carries a
 * readable summary and status stays 0); others say "not implemented yet".
 * A request's as_of (YYYYMMDD, 0 = today) before today is answered from the
 * raw reports (a scan of the store). Returns 0, or -1 if out of memory. */
int hub_status_answer(hub_status_t *self, const uint8_t *req, size_t len, int64_t now,
                      uint8_t **out, size_t *out_len);

/* Serve one request waiting on the ROUTER sock without blocking: accepts
 * DEALER-style [id][body] and REQ-style [id][empty][body] envelopes and
 * echoes the envelope back. Returns 1 if one was answered, 0 if none was
 * waiting, -1 on a socket error. */
int hub_status_serve(hub_status_t *self, void *sock, int64_t now);

#endif
