/* hub_feed: the feed PUB socket. After each commit it publishes each
 * changed unit and the rollups it touches, as the status API answers for
 * them, with feed sequence numbers; a heartbeat every second. It never
 * blocks ingest; the subscriber's side is lib/ro_clone (docs/FEED.md). */
#ifndef HUB_FEED_H
#define HUB_FEED_H

#include "ro_pb.h"
#include "ro_registry.h"
#include "status.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_FEED_HEARTBEAT_MS 1000 /* heartbeat period */
#define HUB_FEED_SNDHWM                                                                            \
    4000 /* default messages queued per subscriber before PUB                                      \
            drops: four commits that touch every unit */

typedef struct hub_feed hub_feed_t;

/* Counters since start. */
typedef struct {
    uint64_t updates;    /* FeedUpdate messages published */
    uint64_t heartbeats; /* FeedHeartbeat messages published */
    uint64_t bytes;      /* body bytes published */
    uint64_t unchanged;  /* scopes a commit touched that had not changed (not sent) */
    uint64_t errors;     /* sends or status answers that failed */
} hub_feed_counters_t;

/* Set what a feed PUB socket needs before it binds: ZMQ_SNDHWM = hwm
 * (hub.ini feed_hwm; 0 = HUB_FEED_SNDHWM), since libzmq copies the options
 * into a listener at bind. Returns 0 or -1. */
int hub_feed_configure(void *sock, int hwm);

/* A feed on the bound PUB sock, publishing the scopes status answers for
 * the units of reg. epoch names this hub incarnation (0: pick one, the
 * wall clock in microseconds, which grows across restarts). Tells status
 * the epoch and, after each publish, the feed seq. Borrows sock, status and
 * reg. Returns NULL when out of memory. */
hub_feed_t *hub_feed_new(void *sock, hub_status_t *status, const ro_registry_t *reg,
                         uint64_t epoch);
void hub_feed_destroy(hub_feed_t **self_p);

/* The registry was reloaded (SIGHUP), reg (borrowed) replaces the old one,
 * which may be freed after this returns. If its units differ (other ids or
 * another order), indices mean other units now: starts a new epoch (every
 * subscriber resyncs) with seq 0. Returns 0, or -1 when out of memory (the
 * feed keeps the old table and epoch and must not be used with the new
 * indices then). */
int hub_feed_set_registry(hub_feed_t *self, const ro_registry_t *reg);

/* After a commit: units holds the registry indices whose state it touched
 * (n of them; indices out of range are ignored). Publishes each of those
 * units whose scope changed, then each touched division, level and the
 * province whose scope changed: at most one update per scope. now is the
 * hub's clock. Returns the updates published, or -1 if one failed. */
int hub_feed_commit(hub_feed_t *self, const uint32_t *units, size_t n, int64_t now);

/* Publish everything that changed since it was last published (a new day
 * changes milestone statuses without a commit). Returns as hub_feed_commit. */
int hub_feed_all(hub_feed_t *self, int64_t now);

/* Send the heartbeat if it is due by mono_ms (monotonic milliseconds), and
 * republish everything on a new date. Returns milliseconds until the next
 * heartbeat is due. */
long hub_feed_tick(hub_feed_t *self, int64_t now, int64_t mono_ms);

/* Ask status a question in process, as the feed does: query with key and
 * indicator (NULL: none), as of today. Returns the unpacked reply (free it
 * with rollout__status_reply__free_unpacked), or NULL when the answer is
 * not ok (status != 0) or out of memory. */
Rollout__StatusReply *hub_feed_ask(hub_status_t *status, Rollout__Query query, const char *key,
                                   const char *indicator, int64_t now);

uint64_t hub_feed_seq(const hub_feed_t *self);   /* latest seq published, 0 = none */
uint64_t hub_feed_epoch(const hub_feed_t *self); /* this incarnation */
const hub_feed_counters_t *hub_feed_counters(const hub_feed_t *self);

#endif
