/* hub_auth: who may connect to the hub, and as whom. Loads the allow-list
 * (ro_allow: its format, and how a reload with bad lines refines it), answers libzmq's ZAP
 * requests (unit keys on the ingest socket only, operator keys on status and
 * feed only) and tells ingest, per message, whether a connection's key is
 * still listed. It owns no server socket and no thread: the hub's loop polls it.
 */
#ifndef HUB_AUTH_H
#define HUB_AUTH_H

#include "ro_allow.h"
#include "ro_sock.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_AUTH_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define HUB_AUTH_KEY_PROPERTY "X-Rollout-Key" /* ZAP metadata: the connection's key (Z85) */
#define HUB_AUTH_USER_ID_MAX 48               /* bytes of a User-Id, NUL excluded */

/* The roles hub_auth_admits checks: the allow-list's (ro_allow). */
typedef ro_allow_role_t hub_auth_role_t;
#define HUB_AUTH_UNIT RO_ALLOW_UNIT
#define HUB_AUTH_OPERATOR RO_ALLOW_OPERATOR

/* ---- the ZAP handler ---- */

typedef struct hub_auth hub_auth_t;

/* Why ZAP refused a connection (the counters' index). */
typedef enum {
    HUB_AUTH_DENY_NO_LIST = 0,      /* the allow-list is missing, empty or bad */
    HUB_AUTH_DENY_UNKNOWN = 1,      /* the key is not listed */
    HUB_AUTH_DENY_WRONG_SOCKET = 2, /* a unit key on status/feed, an operator key on ingest */
    HUB_AUTH_DENY_BAD_REQUEST = 3,  /* not CURVE, not ZAP 1.0, unknown domain */
    HUB_AUTH_DENY_COUNT = 4,
} hub_auth_deny_t;

/* Bind a REP socket at HUB_AUTH_ZAP_ENDPOINT on ctx (call before binding any
 * CURVE server socket of ctx: until then libzmq admits every key that
 * knows the server's) and load the allow-list at allow_path. A list that
 * cannot be used is logged and admits no one; only a socket failure makes
 * this return NULL, with the reason in err. */
hub_auth_t *hub_auth_new(void *ctx, const char *allow_path, char *err, size_t errlen);
/* Close the ZAP socket. Accepts NULL and nulls the caller's pointer. */
void hub_auth_destroy(hub_auth_t **self_p);

/* Read the allow-list again and use it from now on, for new handshakes and
 * (through hub_auth_admits) for messages of live connections. Bad lines
 * refine the list in use (ro_allow_load_refined), each logged at error
 * level with its line number and what its identity keeps. Logs what it
 * loaded or why it now admits no one. Returns the entries admitted, or -1
 * when none is (a file that cannot be read, or no usable line). */
int hub_auth_reload(hub_auth_t *self);

/* The ZAP socket, for zmq_poll. */
void *hub_auth_socket(hub_auth_t *self);

/* Answer one waiting ZAP request without blocking. Admitted connections get
 * User-Id = the unit id or "operator:NAME", and their key as the
 * HUB_AUTH_KEY_PROPERTY metadata; refusals get 400 (libzmq 4.3 then stops
 * reconnecting that client: agents retry on their own). Returns 1 if one
 * was answered, 0 if none was waiting, -1 on a socket error. */
int hub_auth_serve(hub_auth_t *self);

/* Prove that libzmq asks this handler and that it refuses an unknown key:
 * a throwaway CURVE server on tcp://127.0.0.1:* and a client with a fresh,
 * unlisted key must fail their handshake with ZAP status 400 within
 * timeout_ms (this call serves the ZAP socket meanwhile). Returns 0, or -1
 * with the reason in err. */
int hub_auth_selftest(hub_auth_t *self, void *ctx, int timeout_ms, char *err, size_t errlen);

/* Per message: true when key (Z85, from HUB_AUTH_KEY_PROPERTY) is still
 * listed with role under user_id (the connection's User-Id). NULLs are false. */
int hub_auth_admits(const hub_auth_t *self, hub_auth_role_t role, const char *user_id,
                    const char *key);

/* Entries in use (0 when failing closed). */
size_t hub_auth_count(const hub_auth_t *self);
/* Entries of the list in use before the latest load that the new one no
 * longer admits (key gone, or bound to another identity): when not 0, live
 * connections may speak with a revoked key (hub_peers_revoke). */
size_t hub_auth_dropped(const hub_auth_t *self);
/* Bad lines in the allow-list as last read (0 when it was clean or could
 * not be read); bad lines over every read since start; entries admitted on
 * a key kept for a bad line. */
size_t hub_auth_bad_lines(const hub_auth_t *self);
uint64_t hub_auth_bad_lines_seen(const hub_auth_t *self);
size_t hub_auth_kept(const hub_auth_t *self);
/* Connections admitted, and refused by reason, since start. */
uint64_t hub_auth_admitted(const hub_auth_t *self);
uint64_t hub_auth_denied(const hub_auth_t *self, hub_auth_deny_t why);

#endif
