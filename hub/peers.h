/* hub_peers: the hub's live TCP connections on its ingest, status and feed
 * sockets, and the cuts it makes among them. libzmq queues the frames of a
 * message that has not ended whatever the high-water mark, and offers no
 * call that drops one peer of a ROUTER or an XPUB; so a watchdog measures
 * each connection from outside (TCP_INFO bytes received, less what is still
 * in the kernel's queue) against the last complete message the hub read
 * from it, and cuts the connection (SO_LINGER 0, shutdown; never close: the
 * fd is libzmq's) when too much arrived without one. A reload cuts the
 * connections whose key it revoked the same way. Who may connect is
 * hub_auth's; what a message says is ingest's, status's and the feed's.
 *
 * Connections come from a monitor on each socket (ACCEPTED, DISCONNECTED,
 * CLOSED); which key a connection speaks with is learned from its first
 * complete message (ZMQ_SRCFD, User-Id and the key property ride on it),
 * marked by whoever reads it. The table logic runs without sockets through
 * hub_peers_ops_t, which is how the tests drive it. */
#ifndef HUB_PEERS_H
#define HUB_PEERS_H

#include <stddef.h>
#include <stdint.h>

/* Undelivered bytes a connection, or all the connections of one identity,
 * may hold: bytes libzmq took from TCP since the hub last read a complete
 * message from it. A unit sends reports of at most RO_FRAME_MAX (4 KiB) in
 * one frame, and while the store is held the hub reads nothing: libzmq then
 * queues up to its receive HWM (1000 messages) of them per connection,
 * about 4 MiB with CURVE's 33 bytes a frame, and stops reading; the bound
 * is twice that, so a well-behaved peer never meets it. What the hub holds
 * for a flooding one is the bound, plus what arrives before the watchdog
 * looks again (its period, below; every 10 ms once past half the bound),
 * times libzmq's amplification (2x for 4 KiB frames, up to 4.5x for empty
 * CURVE frames, measured): 20-36 MiB measured (rollout-hub(8)). */
#define HUB_PEERS_BOUND (8u << 20)
/* The watchdog's period: HUB_PEERS_PERIOD_US for each connection its last
 * pass measured, within HUB_PEERS_PERIOD_MIN_MS..HUB_PEERS_PERIOD_MS. A
 * measure is a system call or two (about 1.4 us), so the passes cost a few
 * per cent of a core at most (docs/SECURITY.md, measured), and a hub with
 * few connections looks often: a flood over loopback reached 250 MB/s,
 * 25 MB in a 100 ms period, three times the bound. */
#define HUB_PEERS_PERIOD_US 50
#define HUB_PEERS_PERIOD_MIN_MS 10
#define HUB_PEERS_PERIOD_MS 100
#define HUB_PEERS_FEED_INPUT (64u << 10) /* bytes a feed subscriber may send, in all */
#define HUB_PEERS_QUEUE_SKIP (64u << 10) /* see hub_peers_ops_t.consumed */
#define HUB_PEERS_ID_MAX 48              /* bytes of an identity (User-Id), NUL excluded */
#define HUB_PEERS_KEY_MAX 40             /* bytes of a Z85 key */
#define HUB_PEERS_ADDR_MAX 64            /* bytes of "ip:port" */
#define HUB_PEERS_IDENTITIES 64          /* identities counted one by one; the rest as "other" */
/* Status connections one identity may hold. A status client asks, reads its
 * reply and asks again; the status socket queues at most one reply per
 * connection (and one more is being written), so what the hub holds for an
 * operator that never reads grows with its connections: past this many,
 * the watchdog cuts the extra ones (the highest fds, most likely the
 * newest). 16 connections hold at most 32 replies (38 MB of the largest,
 * LAGGARDS of 893 units: docs/SECURITY.md). */
#define HUB_PEERS_STATUS_PER_ID 16

/* The sockets watched. */
typedef enum {
    HUB_PEERS_INGEST = 0,
    HUB_PEERS_STATUS = 1,
    HUB_PEERS_FEED = 2,
    HUB_PEERS_SOCKETS = 3,
} hub_peers_socket_t;

/* Why a connection was cut. */
typedef enum {
    HUB_PEERS_CUT_FLOOD = 0,   /* too much without a complete message, fast */
    HUB_PEERS_CUT_IDLE = 1,    /* the same, slowly: heartbeats of a long-silent peer */
    HUB_PEERS_CUT_REVOKED = 2, /* its key is no longer admitted (a reload) */
    HUB_PEERS_CUT_INPUT = 3,   /* a feed subscriber sent more than HUB_PEERS_FEED_INPUT */
    HUB_PEERS_CUT_CROWD = 4,   /* its identity holds more than HUB_PEERS_STATUS_PER_ID */
    HUB_PEERS_CUT_COUNT = 5,
} hub_peers_cut_t;

/* What the table needs of the system; hub_peers_system_ops() gives the
 * real ones, tests give their own. */
typedef struct {
    /* Bytes the process has taken from the TCP connection on fd: TCP_INFO
     * bytes received less what waits in the kernel's receive queue. While
     * the bytes received are at most HUB_PEERS_QUEUE_SKIP past since, it
     * may leave the queue out (a second system call; it only lowers the
     * count). Returns 0, 1 when fd is a socket without TCP_INFO (ipc://:
     * not measured), or -1 when fd is no socket (it was closed; another
     * file has its number). */
    int (*consumed)(void *arg, int fd, uint64_t since, uint64_t *bytes);
    /* fd's peer and local address as "ip:port". Returns 0 or -1. */
    int (*where)(void *arg, int fd, char *peer, char *local, size_t cap);
    /* Drop the connection on fd: SO_LINGER {1, 0} and shutdown(SHUT_RDWR).
     * libzmq sees the end of the stream, frees what it held for it and
     * closes the fd itself. Returns 0 or -1. */
    int (*cut)(void *arg, int fd);
    /* Give memory freed since to the system (malloc_trim). */
    void (*trim)(void *arg);
} hub_peers_ops_t;

const hub_peers_ops_t *hub_peers_system_ops(void);

typedef struct hub_peers hub_peers_t;

/* An empty table using ops (NULL: the system's) with arg. Returns NULL
 * when out of memory. */
hub_peers_t *hub_peers_new(const hub_peers_ops_t *ops, void *arg);
/* Stop the watchdog, close the monitors (before zmq_ctx_term) and free.
 * Accepts NULL and nulls the caller's pointer. */
void hub_peers_destroy(hub_peers_t **self_p);

/* Monitor sock (a socket of ctx, before it binds, so that no connection
 * goes unseen) as which: this is the socket's only monitor (a second
 * zmq_socket_monitor would replace it). Returns 0, or -1 (zmq_errno). */
int hub_peers_monitor(hub_peers_t *self, void *ctx, hub_peers_socket_t which, void *sock);

/* Start the watchdog thread: every period (HUB_PEERS_PERIOD_US) it reads
 * the monitors and runs hub_peers_tick. Start it with the process's signals
 * blocked. Returns 0, or -1 with the reason in err. */
int hub_peers_start(hub_peers_t *self, char *err, size_t errlen);

/* ---- what the readers of the sockets tell it (any thread) ---- */

/* A complete message came from fd on which (ZMQ_SRCFD; negative: ignored)
 * with the connection's User-Id and key property (NULL or "" when
 * unauthenticated); bytes is its size, counted against
 * HUB_PEERS_FEED_INPUT on the feed. No system call: a mutex, a slot. */
void hub_peers_mark(hub_peers_t *self, hub_peers_socket_t which, int fd, const char *user_id,
                    const char *key, size_t bytes);

/* Per identity and key: may it still use which? (hub_auth_admits) */
typedef int (*hub_peers_admit_fn)(void *arg, hub_peers_socket_t which, const char *user_id,
                                  const char *key);

/* After the allow-list was reloaded: read the monitors, then cut every
 * connection on the sockets in mask (bits 1u << hub_peers_socket_t) whose
 * key admits() refuses, and with cut_unknown also every one there that has
 * not yet shown its key (no complete message read: it may speak with a
 * revoked one). Returns how many were cut; each is logged. Call from the
 * thread that may call admits. */
size_t hub_peers_revoke(hub_peers_t *self, unsigned mask, hub_peers_admit_fn admits, void *arg,
                        int cut_unknown);

/* ---- the table without sockets (the watchdog's thread calls these) ---- */

/* One monitor event (ZMQ_EVENT_ACCEPTED, _DISCONNECTED, _CLOSED; others
 * are ignored) whose value is fd, at monotonic now_ms. */
void hub_peers_event(hub_peers_t *self, hub_peers_socket_t which, int event, int fd,
                     int64_t now_ms);
/* One watchdog pass at monotonic now_ms: measure every connection, cut
 * those over the bounds (alone, or with the other connections of their
 * identity; status connections past HUB_PEERS_STATUS_PER_ID per identity),
 * trim memory after cuts. Returns how many it cut. */
size_t hub_peers_tick(hub_peers_t *self, int64_t now_ms);

/* ---- what it counts (any thread) ---- */

/* Connections open (accepted, not yet disconnected) and accepted since start. */
uint64_t hub_peers_open(const hub_peers_t *self, hub_peers_socket_t which);
uint64_t hub_peers_accepted(const hub_peers_t *self, hub_peers_socket_t which);
/* Connections cut since start for why. */
uint64_t hub_peers_cuts(const hub_peers_t *self, hub_peers_cut_t why);
/* The watchdog's period after its last full pass, ms (HUB_PEERS_PERIOD_US). */
long hub_peers_period_ms(const hub_peers_t *self);

/* One identity's cuts: a unit id, "operator:NAME", "unknown" (no complete
 * message was read) or "other" (past HUB_PEERS_IDENTITIES). */
typedef struct {
    const char *identity;                   /* owned by the table, lives as long */
    uint64_t cuts[HUB_PEERS_CUT_COUNT];     /* by why */
    const char *names[HUB_PEERS_CUT_COUNT]; /* "peer_cuts_<why>:<identity>", as long */
} hub_peers_identity_t;

/* Up to cap identities that were cut at least once, in the order first
 * cut. Returns how many were written. */
size_t hub_peers_identities(const hub_peers_t *self, hub_peers_identity_t *out, size_t cap);

/* "flood", "idle", "revoked", "input", "crowd". */
const char *hub_peers_cut_name(hub_peers_cut_t why);

#endif
