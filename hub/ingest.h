/* hub_ingest: the agents' reports in, acks and refusals out. Drains the
 * ingest ROUTER into a bounded batch, applies the per-unit ordering rule
 * (next seq stored, older seq checked for duplicate or conflict, gaps
 * ignored), stores the batch in one transaction and acknowledges only after
 * COMMIT. The batching logic is usable without sockets (add / flush / replies),
 * which is how the tests drive it. SQL is hub_store's; targets are the engine's. */
#ifndef HUB_INGEST_H
#define HUB_INGEST_H

#include "committed.h"
#include "ro_codec.h"
#include "ro_registry.h"
#include "state.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_RID_MAX 255 /* bytes of a ZeroMQ routing id */

typedef struct hub_ingest hub_ingest_t;
typedef struct hub_auth hub_auth_t;
typedef struct hub_peers hub_peers_t;
typedef struct hub_review hub_review_t;

/* One answer to send after a commit: to the peer with routing id rid. */
typedef struct {
    const uint8_t *rid; /* borrowed from the batch; valid until the next add */
    size_t rid_len;     /* bytes of rid */
    ro_hubmsg_t msg;    /* the ack or refusal */
} hub_ingest_reply_t;

/* A new ingest over store and reg; states (one per registry unit, already
 * loaded with hub_store_load_states) is borrowed and updated in place.
 * batch_max bounds the messages held in memory. Returns NULL on failure. */
hub_ingest_t *hub_ingest_new(hub_store_t *store, const ro_registry_t *reg, hub_unit_state_t *states,
                             int batch_max);
void hub_ingest_destroy(hub_ingest_t **self_p);

/* Add one received message to the batch in hand: the routing id and the
 * first frame after it; frames is how many frames followed the routing id
 * (anything but 1 is refused as malformed). Bytes are copied. Returns 0, or
 * -1 when the batch is full or a failed batch is being held for retry. */
int hub_ingest_add(hub_ingest_t *self, const void *rid, size_t rid_len, const void *body,
                   size_t body_len, int frames);

/* Check every message's sender against auth (borrowed; NULL = no check, for
 * plain TCP): a message is stored only if it was added with a user_id equal
 * to its report's unit and a key auth still lists for that unit; otherwise
 * it is refused as forbidden, heartbeats included, and nothing is written. */
void hub_ingest_set_auth(hub_ingest_t *self, const hub_auth_t *auth);

/* Judge each report about to count by review's rules (borrowed; NULL: no
 * rules): a report a rule flags is stored in state HUB_STORE_HELD_REVIEW
 * with a flag row in the trail and acknowledged like any stored report,
 * counted nowhere until a reviewer accepts it (hub_ingest_decide); with
 * the rules' hold off it counts, flagged all the same. Only between
 * batches. */
void hub_ingest_set_review(hub_ingest_t *self, const hub_review_t *review);

/* Tell peers (borrowed; NULL: no one) which connection each message read
 * by hub_ingest_drain came from (ZMQ_SRCFD) and with which key, so that
 * its watchdog can tell a connection that delivers from one that streams a
 * message that never ends. */
void hub_ingest_set_peers(hub_ingest_t *self, hub_peers_t *peers);

/* Publish each committed batch to committed (borrowed, may be NULL: the
 * tests read ingest alone): its units' states, then the counters and the
 * store's state, which ingest also publishes when a commit fails. The
 * states given to hub_ingest_new are ingest's own working copy; readers in
 * another thread never see what is not yet on disk. Ingest takes
 * committed's lock only inside hub_committed_publish. */
void hub_ingest_set_committed(hub_ingest_t *self, hub_committed_t *committed);

/* Ingest has been quiet (HUB_INGEST_QUIET_MS without a message): the next
 * batch writes the day rows of every unit it touches, as if the batch
 * before had touched none. A unit whose messages come in batch after batch
 * with no quiet between leaves its day rows for the quiet after (stale,
 * HUB_STORE_DAYS_LATER), where hub_store_days_refresh writes them. */
#define HUB_INGEST_QUIET_MS 200
void hub_ingest_quiet(hub_ingest_t *self);

/* Switch to another registry (SIGHUP reload): reg and states (one per unit
 * of reg, loaded with hub_store_load_states, which must have been called
 * for reg last) are borrowed like hub_ingest_new's; swap committed's
 * registry with them in the same turn. Only between batches:
 * refused (-1) while a batch is held or pending, or when out of memory; the
 * old registry is then still in use. Counters carry on. Returns 0 or -1. */
int hub_ingest_set_registry(hub_ingest_t *self, const ro_registry_t *reg, hub_unit_state_t *states);

/* hub_ingest_add with the connection's ZAP verdict: user_id (its User-Id)
 * and key (its HUB_AUTH_KEY_PROPERTY); either NULL means unauthenticated.
 * Both are copied (user_id up to HUB_AUTH_USER_ID_MAX bytes). */
int hub_ingest_add_peer(hub_ingest_t *self, const void *rid, size_t rid_len, const void *body,
                        size_t body_len, int frames, const char *user_id, const char *key);

/* Apply the batch in hand in one transaction and commit it, with now as the
 * hub's clock. The transaction first releases the held reports now due
 * (their units' aggregates re-derived from the store, the units marked
 * changed), then stores each report, held when ro_report_ahead(now). Returns 0 with the replies
 * ready (hub_ingest_reply_*), or a HUB_STORE_E* code: then the transaction was rolled back, the
 * states were reloaded from the store, no reply is ready, and the batch is held: call flush again
 * later (hub_ingest_held is true until it succeeds). */
int hub_ingest_flush(hub_ingest_t *self, int64_t now);

/* A reviewer's decision on a flagged report (QUERY_DECIDE), as the status
 * thread checked it. */
typedef struct {
    char unit[RO_UNIT_MAX + 1];      /* the report's unit */
    uint64_t seq;                    /* its seq */
    uint8_t inc[RO_INCARNATION_LEN]; /* its incarnation, when has_inc */
    int has_inc;                     /* 0: whichever incarnation has it flagged */
    int accept;                      /* 1 accept (it counts), 0 reject */
    char by[64];                     /* the reviewer's User-Id */
    char reason[RO_TEXT_MAX + 1];    /* why, required */
} hub_decision_t;

/* Apply decision d in a write transaction of its own (hub_store_decide),
 * the unit folded again when the report's state moved, and commit; then
 * publish the unit (hub_ingest_changed names it, as after a batch). Only
 * between batches, on the thread that drives ingest: the states in memory
 * are ingest's. Returns 0 when decided now, 1 when it was decided the same
 * way before (why says by whom), HUB_STORE_ETARGET with why (no such
 * flagged report, decided the other way, corrected since), or a store
 * code with why (nothing changed; a held batch waiting for the store is
 * one: the reviewer asks again). */
int hub_ingest_decide(hub_ingest_t *self, const hub_decision_t *d, int64_t now, char *why,
                      size_t whylen);

/* Messages in hand (pending or held). */
size_t hub_ingest_pending(const hub_ingest_t *self);
/* True while a batch whose commit failed waits for a retry. */
int hub_ingest_held(const hub_ingest_t *self);

/* The replies of the latest successful flush: refusals first, then acks. */
size_t hub_ingest_reply_count(const hub_ingest_t *self);
const hub_ingest_reply_t *hub_ingest_reply_at(const hub_ingest_t *self, size_t i);

/* The registry indices of the units the latest committed batch touched
 * (stored, refused or heard from), *count of them; valid until the next
 * add or flush. The feed publishes their new state. */
const uint32_t *hub_ingest_changed(const hub_ingest_t *self, size_t *count);

/* Each unit's marks as ingest keeps them (one per unit of its registry,
 * loaded from the store by hub_ingest_set_registry; borrowed; the thread
 * that drives ingest only: others read the committed flags). */
const hub_unit_marks_t *hub_ingest_marks(const hub_ingest_t *self, size_t unit);

/* Ingest's counters and store state (borrowed; the thread that drives
 * ingest only: others read hub_committed_counters). */
const hub_ingest_counters_t *hub_ingest_counters(const hub_ingest_t *self);
hub_store_state_t hub_ingest_store_state(const hub_ingest_t *self);

/* Mark the store failing for a reason found outside ingest (the verify at
 * start found hub.db damaged): state "error" and why as the last error,
 * until a commit succeeds, published at once (so not with committed's lock
 * held). The caller stops feeding ingest meanwhile. */
void hub_ingest_fail_store(hub_ingest_t *self, const char *why);

/* ---- on a ZeroMQ ROUTER (ZMQ_ROUTER_MANDATORY set by the caller) ---- */

/* Read up to batch_max waiting messages without blocking, flush them and
 * send the replies. Does nothing while a batch is held. Returns 0, or the
 * flush's code (the batch is then held). */
int hub_ingest_drain(hub_ingest_t *self, void *sock, int64_t now);

/* Retry a held batch if one is due (about once a second, by mono_ms, a
 * monotonic clock in milliseconds) and send its replies when it commits;
 * force retries now regardless. Returns 0 if nothing is held afterwards. */
int hub_ingest_retry(hub_ingest_t *self, void *sock, int64_t now, int64_t mono_ms, int force);

/* Milliseconds until the next retry is due, or -1 when nothing is held. */
long hub_ingest_retry_in(const hub_ingest_t *self, int64_t mono_ms);

#endif
