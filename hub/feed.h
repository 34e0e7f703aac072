/* hub_feed: the feed (X)PUB socket. Commits only mark what they changed; at
 * most every HUB_FEED_INTERVAL_MS it publishes each changed unit once, then
 * the rollups it touches, as the status API answers for them, with feed
 * sequence numbers; a heartbeat every second. It never blocks ingest; the
 * subscriber's side is lib/ro_clone (docs/FEED.md). */
#ifndef HUB_FEED_H
#define HUB_FEED_H

#include "engine.h"
#include "ro_registry.h"
#include "ro_status.h"
#include "state.h"
#include "committed.h"
#include "status.h"
#include "ro_targets.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_FEED_HEARTBEAT_MS 1000 /* heartbeat period */
#define HUB_FEED_INTERVAL_MS 200   /* at most one publication per this long */
#define HUB_FEED_SNDHWM                                                                            \
    4000 /* default messages queued per subscriber before PUB                                      \
            drops: four publications that touch every unit */

typedef struct hub_feed hub_feed_t;

/* Counters since start. */
typedef struct {
    uint64_t updates;    /* FeedUpdate messages published */
    uint64_t heartbeats; /* FeedHeartbeat messages published */
    uint64_t bytes;      /* body bytes published */
    uint64_t unchanged;  /* scopes a publication evaluated that had not changed (not sent) */
    uint64_t errors;     /* evaluations, packs or sends that failed */
} hub_feed_counters_t;

/* Set what a feed socket needs before it binds: ZMQ_SNDHWM = hwm (hub.ini
 * feed_hwm; 0 = HUB_FEED_SNDHWM), since libzmq copies the options into a
 * listener at bind; on an XPUB (the hub's), ZMQ_XPUB_VERBOSE too, so that
 * every subscription reaches hub_feed_read with its connection's fd and
 * key. Returns 0 or -1. */
int hub_feed_configure(void *sock, int hwm);

/* One message a subscriber sent (a subscription, mostly): its connection's
 * fd (ZMQ_SRCFD; -1 when libzmq made it, as the unsubscriptions of a
 * subscriber that left), User-Id and key property (NULL when
 * unauthenticated), and its size. */
typedef void (*hub_feed_peer_fn)(void *arg, int fd, const char *user_id, const char *key,
                                 size_t bytes);

/* Read what subscribers sent the feed XPUB sock without blocking, at most
 * max messages, telling on() of each (may be NULL); nothing else is done
 * with them. An XPUB keeps what they sent until it is read: call this every
 * loop turn. Returns the messages read. */
int hub_feed_read(void *sock, int max, hub_feed_peer_fn on, void *arg);

/* A feed on the bound (X)PUB sock for the units of reg: it evaluates their
 * scopes with engine (built on reg and targets) over committed's states and
 * sums (the only states it reads) and packs them as the status API does.
 * epoch names this hub incarnation (0: pick one, the wall clock in
 * microseconds, which grows across restarts). Tells committed the epoch
 * and, after each publication, the feed seq. Borrows all but epoch.
 * Returns NULL when out of memory or a pointer is NULL. */
hub_feed_t *hub_feed_new(void *sock, hub_committed_t *committed, const ro_registry_t *reg,
                         const hub_engine_t *engine, const ro_targets_t *targets, uint64_t epoch);
void hub_feed_destroy(hub_feed_t **self_p);

/* The registry and targets were reloaded (SIGHUP): reg, engine and
 * targets (borrowed, as in hub_feed_new; committed swapped to reg first)
 * replace the old ones, which may be freed after this returns. With the
 * same units every scope is due again (names and goals may differ). If the
 * units differ (other ids or another order), indices mean other units now:
 * starts a new epoch (every subscriber resyncs) with seq 0 and nothing due.
 * Returns 0, or -1 when out of memory (the feed keeps the old registry,
 * engine and epoch, and must not be used with the new indices then). */
int hub_feed_set_registry(hub_feed_t *self, const ro_registry_t *reg, const hub_engine_t *engine,
                          const ro_targets_t *targets);
/* After a commit: units holds the registry indices whose state it touched
 * (n of them; indices out of range are ignored). Only marks them and their
 * division, level and the province as due: O(n), no allocation; the next
 * publication (hub_feed_tick) sends them. now is the hub's clock. Returns
 * how many units were not due yet. */
int hub_feed_commit(hub_feed_t *self, const uint32_t *units, size_t n, int64_t now);

/* Mark every scope due (a new day changes milestone statuses without a
 * commit); the next publication sends those whose content changed. Returns 0. */
int hub_feed_all(hub_feed_t *self, int64_t now);

/* Call every loop turn. Publishes what is due when mono_ms (monotonic
 * milliseconds) is HUB_FEED_INTERVAL_MS past the last publication (at once
 * after a quiet period): each due unit whose scope changed, then each due
 * division, level and the province whose scope changed, at most one update
 * per scope. Marks everything due on a new date, and sends the heartbeat
 * when due. Returns milliseconds until it wants to be called again (the
 * next heartbeat or the next publication). */
long hub_feed_tick(hub_feed_t *self, int64_t now, int64_t mono_ms);

/* Ask status a question in process (the dashboard does): query with key
 * and indicator (NULL: none), as of today. Returns the decoded reply (free
 * it with ro_status_reply_free), or NULL when the answer is not ok (status
 * != 0), a key or indicator is too long, or out of memory. */
ro_status_reply_t *hub_feed_ask(hub_status_t *status, ro_query_t query, const char *key,
                                const char *indicator, int64_t now);

uint64_t hub_feed_seq(const hub_feed_t *self);   /* latest seq published, 0 = none */
uint64_t hub_feed_epoch(const hub_feed_t *self); /* this incarnation */
const hub_feed_counters_t *hub_feed_counters(const hub_feed_t *self);

#endif
