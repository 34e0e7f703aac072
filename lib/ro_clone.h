/* ro_clone: the subscriber's side of the hub's feed, the Clone pattern of
 * the ZeroMQ guide as a state machine: a snapshot, numbered updates, and a
 * "resync now" on a gap, a new hub epoch or a missed heartbeat. No sockets
 * and no clock: the caller does the I/O. Topic names are here too. */
#ifndef RO_CLONE_H
#define RO_CLONE_H

#include "ro_feed.h"

#include <stddef.h>
#include <stdint.h>

#define RO_FEED_TOPIC_MAX 64          /* bytes of a topic, with its NUL */
#define RO_FEED_HEARTBEAT "heartbeat" /* the heartbeat's topic */
#define RO_CLONE_TIMEOUT_MS 3000      /* resync when no heartbeat for this long */
#define RO_CLONE_EVENTS 64            /* latest unit updates kept */

/* The topic of a scope: "province", "level/<id>", "division/<id>",
 * "unit/<id>". kind is a scope's kind string. Returns 0, or -1 for an
 * unknown kind or an id that does not fit. */
int ro_feed_topic(const char *kind, const char *id, char *buf, size_t len);

typedef enum {
    RO_CLONE_SKIPPED = 0, /* older than what is held, or not syncing: ignored */
    RO_CLONE_APPLIED = 1, /* held state changed */
    RO_CLONE_RESYNC = -1, /* a gap, a new hub epoch, a missed heartbeat: resync */
} ro_clone_result_t;

/* One unit update, for a "latest events" list. */
typedef struct {
    char unit[40];     /* unit id */
    char name[128];    /* unit name (UTF-8, may be cut) */
    uint64_t seq;      /* feed seq of the update */
    int64_t time;      /* hub clock when published */
    uint64_t reports;  /* reports stored for the unit */
    uint64_t last_seq; /* the unit's last seq */
    char grade[8];     /* the unit's overall grade, "" if none */
} ro_clone_event_t;

typedef struct ro_clone ro_clone_t;

/* A clone. full: the caller subscribes to every topic (""), so feed seqs
 * must arrive without a hole and a heartbeat ahead of the last seq seen is
 * a loss; otherwise only each topic's own chain (prev_seq) is checked.
 * Starts out needing a sync. Returns NULL when out of memory. */
ro_clone_t *ro_clone_new(int full);
void ro_clone_destroy(ro_clone_t **self_p);

/* Begin a (re)sync: forget every topic and the epoch. Keeps the events
 * list (it is history) and counts syncs. The caller then drains the SUB
 * socket (what is queued predates the snapshot), asks for the snapshot and
 * passes each reply to ro_clone_snapshot, then calls ro_clone_start. */
void ro_clone_reset(ro_clone_t *self);

/* Apply one snapshot reply: each scope at the reply's feed_seq. Replies of
 * one snapshot must share feed_epoch. Borrows reply (scopes are copied).
 * Returns 0; -1 if the reply is not ok, its epoch differs from an earlier
 * reply of this snapshot (the hub restarted mid-snapshot: sync again), or
 * out of memory. */
int ro_clone_snapshot(ro_clone_t *self, const ro_status_reply_t *reply);

/* The snapshot is complete: updates apply from now; now_ms starts the
 * heartbeat clock. Returns 0, or -1 if no snapshot reply was applied. */
int ro_clone_start(ro_clone_t *self, int64_t now_ms);

/* An update heard on topic (NUL-terminated). Borrows u (its scope is copied). Updates at or
 * below the topic's snapshot seq, from an older epoch, or before start are
 * skipped. A newer epoch, a hole in the seq (full) or a broken topic chain
 * returns RO_CLONE_RESYNC, and so does everything after until a reset. */
ro_clone_result_t ro_clone_update(ro_clone_t *self, const char *topic, const ro_feed_update_t *u,
                                  int64_t now_ms);

/* A heartbeat: resets the heartbeat clock; RO_CLONE_RESYNC on a newer
 * epoch, or (full) when it names a seq this clone never saw. */
ro_clone_result_t ro_clone_heartbeat(ro_clone_t *self, const ro_feed_heartbeat_t *hb,
                                     int64_t now_ms);

/* RO_CLONE_RESYNC when started and no heartbeat came for the timeout
 * (RO_CLONE_TIMEOUT_MS, or three heartbeat intervals if longer). Call it
 * when the SUB queue is empty: with a backlog the subscriber is behind
 * (stopped, slow), and its heartbeats are still in the queue. */
ro_clone_result_t ro_clone_tick(ro_clone_t *self, int64_t now_ms);

/* Decode a feed message (topic frame, body frame) strictly (lib/ro_feed;
 * unknown fields skipped) and apply it. A body that does not decode, or an
 * update without a scope, is skipped (counted in ro_clone_bad). */
ro_clone_result_t ro_clone_message(ro_clone_t *self, const void *topic, size_t topic_len,
                                   const void *body, size_t body_len, int64_t now_ms);

/* True while the clone holds a started, consistent state. */
int ro_clone_synced(const ro_clone_t *self);
/* Why the last RO_CLONE_RESYNC was returned ("" if never). Borrowed. */
const char *ro_clone_why(const ro_clone_t *self);

/* The scope held for topic, or NULL. Borrowed until the next call that
 * changes the clone. */
const ro_status_scope_t *ro_clone_scope(const ro_clone_t *self, const char *topic);

uint64_t ro_clone_epoch(const ro_clone_t *self);   /* the hub epoch synced to */
uint64_t ro_clone_seq(const ro_clone_t *self);     /* the highest feed seq seen */
uint64_t ro_clone_syncs(const ro_clone_t *self);   /* resets so far */
uint64_t ro_clone_applied(const ro_clone_t *self); /* updates applied so far */
uint64_t ro_clone_bad(const ro_clone_t *self);     /* bodies that did not decode */
uint32_t ro_clone_as_of(const ro_clone_t *self);   /* as_of of the snapshot or heartbeat */

/* The latest unit updates, newest first (i < ro_clone_event_count). */
size_t ro_clone_event_count(const ro_clone_t *self);
const ro_clone_event_t *ro_clone_event_at(const ro_clone_t *self, size_t i);

#endif
