/* ro_feed: the feed's messages (FeedUpdate, FeedHeartbeat) as plain C data,
 * and the only door between them and the wire. A FeedUpdate carries a
 * Scope as ro_status does; ro_feed_update_head lets the hub send a scope it
 * already encoded without encoding it twice. Topics and the subscriber's
 * state machine are ro_clone's. */
#ifndef RO_FEED_H
#define RO_FEED_H

#include "ro_status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RO_FEED_FRAME_MAX (1u << 20) /* the largest feed message decoded */
#define RO_FEED_HEAD_MAX 64          /* bytes of a FeedUpdate before its scope */

/* A scope's new state after a commit (proto FeedUpdate). */
typedef struct {
    uint64_t seq;            /* this message's feed sequence number */
    uint64_t epoch;          /* the hub incarnation */
    uint64_t prev_seq;       /* seq of the previous update on this topic, 0 = none */
    int64_t time;            /* the hub's clock when published */
    bool has_scope;          /* scope holds one (a decoded update may lack it) */
    ro_status_scope_t scope; /* the whole scope; its strings owned when decoded */
} ro_feed_update_t;

/* The feed's heartbeat (proto FeedHeartbeat). */
typedef struct {
    uint64_t seq;         /* the latest FeedUpdate seq (0: none yet) */
    uint64_t epoch;       /* the hub incarnation */
    int64_t time;         /* the hub's clock */
    uint32_t interval_ms; /* the next heartbeat is due within this */
    uint32_t as_of;       /* YYYYMMDD the feed's scopes are evaluated as of */
} ro_feed_heartbeat_t;

/* Write into head (room for RO_FEED_HEAD_MAX) the bytes of a FeedUpdate
 * with u's numbers (u's scope is not read) that come before a scope of
 * scope_len encoded bytes (ro_status_scope_encode): head then the scope is
 * the FeedUpdate ro_feed_update_encode writes. Returns head's length. */
size_t ro_feed_update_head(uint8_t *head, const ro_feed_update_t *u, size_t scope_len);

/* Encode u into buf (capacity cap). Returns the length, or -1 if it does
 * not fit or the scope cannot be encoded. */
int ro_feed_update_encode(const ro_feed_update_t *u, uint8_t *buf, size_t cap);

/* Decode one FeedUpdate of at most RO_FEED_FRAME_MAX bytes into *out (its
 * scope's strings then its own: ro_feed_update_clear); mode: what to do
 * with unknown fields (a subscriber skips them). Returns 0, or -1 with a
 * reason in err (out is then empty). */
int ro_feed_update_decode(const uint8_t *buf, size_t len, ro_decode_mode_t mode,
                          ro_feed_update_t *out, char *err, size_t errlen);

/* Free a decoded update's scope and zero it. NULL is fine. */
void ro_feed_update_clear(ro_feed_update_t *u);

/* Encode hb into buf (capacity cap). Returns the length, or -1 if it does not fit. */
int ro_feed_heartbeat_encode(const ro_feed_heartbeat_t *hb, uint8_t *buf, size_t cap);

/* Decode one FeedHeartbeat into *out (mode as for an update). Returns 0,
 * or -1 with a reason in err. */
int ro_feed_heartbeat_decode(const uint8_t *buf, size_t len, ro_decode_mode_t mode,
                             ro_feed_heartbeat_t *out, char *err, size_t errlen);

#endif
