/* hub_auth: who may connect to the hub, and as whom. Reads the allow-list
 * that binds CURVE public keys to units and operators, answers libzmq's ZAP
 * requests (unit keys on the ingest socket only, operator keys on status and
 * feed only) and tells ingest, per message, whether a connection's key is
 * still listed. It owns no server socket and no thread: the hub's loop polls it.
 *
 * The allow-list file, one entry per line:
 *     # comment (a line whose first non-blank character is '#'); blank lines
 *     unit     UNIT-ID  PUBLIC-KEY     an agent: may send reports for UNIT-ID only
 *     operator NAME     PUBLIC-KEY     a reader: status and feed, never ingest
 * PUBLIC-KEY is the 40-character Z85 text of a CURVE public key. A unit id,
 * an operator name and a key each appear at most once. At start a missing,
 * empty, group/world-writable file, or one with any bad line, admits no one
 * (fail closed), with the reason in the log. A reload (SIGHUP) with bad
 * lines refines the list in use per identity (DESIGN.md, "Bad input"): the
 * valid lines apply, a bad line whose identity can be read keeps that
 * identity's key in use, a line that names no one admits no one, and an
 * identity the file no longer names is dropped; each bad line is logged with
 * its number. A reload of a file that cannot be read at all fails closed. */
#ifndef HUB_AUTH_H
#define HUB_AUTH_H

#include "ro_sock.h"

#include <stddef.h>
#include <stdint.h>

#define HUB_AUTH_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define HUB_AUTH_KEY_PROPERTY "X-Rollout-Key" /* ZAP metadata: the connection's key (Z85) */
#define HUB_AUTH_OPERATOR_PREFIX "operator:"  /* User-Id of operators: "operator:NAME" */
#define HUB_AUTH_NAME_MAX 32                  /* bytes of a unit id or operator name */
#define HUB_AUTH_USER_ID_MAX 48               /* bytes of a User-Id, NUL excluded */
#define HUB_AUTH_FILE_MAX (16u << 20)         /* a larger allow-list is refused */

typedef enum { HUB_AUTH_UNIT = 1, HUB_AUTH_OPERATOR = 2 } hub_auth_role_t;

typedef struct {
    hub_auth_role_t role;             /* unit or operator */
    char name[HUB_AUTH_NAME_MAX + 1]; /* unit id or operator name */
    char key[RO_KEY_Z85_LEN + 1];     /* Z85 public key */
    int line;                         /* line of the file it came from */
    int kept;                         /* 1: key kept from the list in use for a bad line */
} hub_allow_entry_t;

/* What happened to the identity of a bad line on a refined parse. */
typedef enum {
    HUB_ALLOW_BAD_NAMES_NO_ONE = 0, /* no identity can be read: the line admits no one */
    HUB_ALLOW_BAD_KEPT = 1,         /* the identity keeps its key from the list in use */
    HUB_ALLOW_BAD_NO_KEY = 2,       /* the list in use had no key for it: admitted nowhere */
    HUB_ALLOW_BAD_LISTED = 3,       /* a valid line (other_line) lists the identity */
    HUB_ALLOW_BAD_KEY_TAKEN = 4,    /* its key in use is now another's (other_line) */
} hub_allow_outcome_t;

/* One bad line, as reported to a hub_allow_bad_fn (all borrowed for the call). */
typedef struct {
    int line;                    /* its line number */
    const char *why;             /* what is wrong with it */
    hub_auth_role_t role;        /* the identity it names, or 0 when none can be read */
    const char *name;            /* unit id or operator name ("" when role is 0) */
    hub_allow_outcome_t outcome; /* what the identity got */
    int other_line;              /* the line of HUB_ALLOW_BAD_LISTED and _KEY_TAKEN */
} hub_allow_bad_t;

typedef void(hub_allow_bad_fn)(void *arg, const hub_allow_bad_t *bad);

/* ---- the allow-list, without sockets (rolloutctl keys uses it too) ---- */

typedef struct hub_allow hub_allow_t;

/* Parse an allow-list held in memory (len bytes; NULs are refused); name is
 * used in error messages. An empty list (comments only) parses, with count 0.
 * Returns NULL with "name:line: reason" in err on any bad line. */
hub_allow_t *hub_allow_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen);

/* Read and parse the file at path. Refuses (NULL, reason in err) a missing
 * or unreadable file, one above HUB_AUTH_FILE_MAX, and one writable by group
 * or others (anyone who can write it can admit himself). */
hub_allow_t *hub_allow_load(const char *path, char *err, size_t errlen);

/* Parse past bad lines, refined against prev (the list in use; NULL for
 * none): the valid lines apply (of two lines for one identity or one key,
 * the first); a bad line whose identity (role and name) can be read gives
 * that identity its key in prev, unless a valid line lists the identity or
 * claims that key; any other bad line admits no one; an identity no line
 * names is not in the result, whatever prev says. on_bad (may be NULL) is
 * called once per bad line, in file order. Returns the list (its bad lines
 * counted by hub_allow_bad_count; "name:line: reason" of the first in err),
 * or NULL when out of memory. prev is only read. */
hub_allow_t *hub_allow_parse_refined(const char *text, size_t len, const char *name,
                                     const hub_allow_t *prev, hub_allow_bad_fn *on_bad, void *arg,
                                     char *err, size_t errlen);
/* The same for the file at path; NULL (reason in err) for what
 * hub_allow_load refuses before parsing: missing, unreadable, too large,
 * writable by group or others. */
hub_allow_t *hub_allow_load_refined(const char *path, const hub_allow_t *prev,
                                    hub_allow_bad_fn *on_bad, void *arg, char *err, size_t errlen);
void hub_allow_destroy(hub_allow_t **self_p);

size_t hub_allow_count(const hub_allow_t *self);
/* Bad lines met by the parse that made self (0 for NULL), and entries
 * whose key was kept from prev. */
size_t hub_allow_bad_count(const hub_allow_t *self);
size_t hub_allow_kept_count(const hub_allow_t *self);
/* Entry i (borrowed), or NULL: the valid lines in file order, then the
 * keys a refined parse kept for bad lines. */
const hub_allow_entry_t *hub_allow_at(const hub_allow_t *self, size_t i);
/* The entry of a Z85 key, or NULL. O(1). */
const hub_allow_entry_t *hub_allow_find_key(const hub_allow_t *self, const char *key);
/* The entry of a unit id or operator name, or NULL. O(1). */
const hub_allow_entry_t *hub_allow_find_name(const hub_allow_t *self, hub_auth_role_t role,
                                             const char *name);

/* True when name is a valid name for role: a unit id (DIVISION-NNN), or an
 * operator name of 1-32 characters from [A-Za-z0-9._-]. */
int hub_allow_name_valid(hub_auth_role_t role, const char *name);
/* True when key is 40 characters of Z85 that decode to 32 bytes. */
int hub_allow_key_valid(const char *key);

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
 * refine the list in use (hub_allow_load_refined), each logged at error
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

/* Entries in use (0 when failing closed), and how many lists were loaded. */
size_t hub_auth_count(const hub_auth_t *self);
uint64_t hub_auth_generation(const hub_auth_t *self);
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
/* "no-list", "unknown-key", "wrong-socket", "bad-request". */
const char *hub_auth_deny_name(hub_auth_deny_t why);

#endif
