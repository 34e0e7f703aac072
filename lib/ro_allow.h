/* ro_allow: the allow-list that binds CURVE public keys to units and
 * operators, without sockets: the hub's ZAP handler (hub_auth) admits by it,
 * rolloutctl keys writes and checks it.
 *
 * The file, one entry per line:
 *     # comment (a line whose first non-blank character is '#'); blank lines
 *     unit     UNIT-ID  PUBLIC-KEY     an agent: may send reports for UNIT-ID only
 *     operator NAME     PUBLIC-KEY     a reader: status and feed, never ingest
 *     reviewer NAME     PUBLIC-KEY     an operator who also decides flagged reports
 * PUBLIC-KEY is the 40-character Z85 text of a CURVE public key. A unit id,
 * an operator name and a key each appear at most once. At start a missing,
 * empty, group/world-writable file, or one with any bad line, admits no one
 * (fail closed), with the reason in the log. A reload (SIGHUP) with bad
 * lines refines the list in use per identity (DESIGN.md, "Bad input"): the
 * valid lines apply, a bad line whose identity can be read keeps that
 * identity's key in use, a line that names no one admits no one, and an
 * identity the file no longer names is dropped; each bad line is logged with
 * its number. A reload of a file that cannot be read at all fails closed. */
#ifndef RO_ALLOW_H
#define RO_ALLOW_H

#include "ro_sock.h"

#include <stddef.h>
#include <stdint.h>

#define RO_ALLOW_NAME_MAX 32          /* bytes of a unit id or operator name */
#define RO_ALLOW_FILE_MAX (16u << 20) /* a larger allow-list is refused */
#define RO_ALLOW_OPERATOR_PREFIX                                                                   \
    "operator:" /* how an operator is named as a whole: "operator:NAME" */

#define RO_ALLOW_REVIEWER_PREFIX "reviewer:" /* a reviewer as a whole: "reviewer:NAME" */

typedef enum { RO_ALLOW_UNIT = 1, RO_ALLOW_OPERATOR = 2, RO_ALLOW_REVIEWER = 3 } ro_allow_role_t;

/* How a role's names are prefixed in a User-Id: "", "operator:", "reviewer:". */
const char *ro_allow_prefix(ro_allow_role_t role);
/* "unit", "operator", "reviewer". */
const char *ro_allow_role_name(ro_allow_role_t role);

typedef struct {
    ro_allow_role_t role;             /* unit or operator */
    char name[RO_ALLOW_NAME_MAX + 1]; /* unit id or operator name */
    char key[RO_KEY_Z85_LEN + 1];     /* Z85 public key */
    int line;                         /* line of the file it came from */
    int kept;                         /* 1: key kept from the list in use for a bad line */
} ro_allow_entry_t;

/* What happened to the identity of a bad line on a refined parse. */
typedef enum {
    RO_ALLOW_BAD_NAMES_NO_ONE = 0, /* no identity can be read: the line admits no one */
    RO_ALLOW_BAD_KEPT = 1,         /* the identity keeps its key from the list in use */
    RO_ALLOW_BAD_NO_KEY = 2,       /* the list in use had no key for it: admitted nowhere */
    RO_ALLOW_BAD_LISTED = 3,       /* a valid line (other_line) lists the identity */
    RO_ALLOW_BAD_KEY_TAKEN = 4,    /* its key in use is now another's (other_line) */
} ro_allow_outcome_t;

/* One bad line, as reported to a ro_allow_bad_fn (all borrowed for the call). */
typedef struct {
    int line;                   /* its line number */
    const char *why;            /* what is wrong with it */
    ro_allow_role_t role;       /* the identity it names, or 0 when none can be read */
    const char *name;           /* unit id or operator name ("" when role is 0) */
    ro_allow_outcome_t outcome; /* what the identity got */
    int other_line;             /* the line of RO_ALLOW_BAD_LISTED and _KEY_TAKEN */
} ro_allow_bad_t;

typedef void(ro_allow_bad_fn)(void *arg, const ro_allow_bad_t *bad);

typedef struct ro_allow ro_allow_t;

/* Parse an allow-list held in memory (len bytes; NULs are refused); name is
 * used in error messages. An empty list (comments only) parses, with count 0.
 * Returns NULL with "name:line: reason" in err on any bad line. */
ro_allow_t *ro_allow_parse(const char *text, size_t len, const char *name, char *err,
                           size_t errlen);

/* Read and parse the file at path. Refuses (NULL, reason in err) a missing
 * or unreadable file, one above RO_ALLOW_FILE_MAX, and one writable by group
 * or others (anyone who can write it can admit himself). */
ro_allow_t *ro_allow_load(const char *path, char *err, size_t errlen);

/* Parse past bad lines, refined against prev (the list in use; NULL for
 * none): the valid lines apply (of two lines for one identity or one key,
 * the first); a bad line whose identity (role and name) can be read gives
 * that identity its key in prev, unless a valid line lists the identity or
 * claims that key; any other bad line admits no one; an identity no line
 * names is not in the result, whatever prev says. on_bad (may be NULL) is
 * called once per bad line, in file order. Returns the list (its bad lines
 * counted by ro_allow_bad_count; "name:line: reason" of the first in err),
 * or NULL when out of memory. prev is only read. */
ro_allow_t *ro_allow_parse_refined(const char *text, size_t len, const char *name,
                                   const ro_allow_t *prev, ro_allow_bad_fn *on_bad, void *arg,
                                   char *err, size_t errlen);
/* The same for the file at path; NULL (reason in err) for what
 * ro_allow_load refuses before parsing: missing, unreadable, too large,
 * writable by group or others. */
ro_allow_t *ro_allow_load_refined(const char *path, const ro_allow_t *prev, ro_allow_bad_fn *on_bad,
                                  void *arg, char *err, size_t errlen);
void ro_allow_destroy(ro_allow_t **self_p);

size_t ro_allow_count(const ro_allow_t *self);
/* Bad lines met by the parse that made self (0 for NULL), and entries
 * whose key was kept from prev. */
size_t ro_allow_bad_count(const ro_allow_t *self);
size_t ro_allow_kept_count(const ro_allow_t *self);
/* Entry i (borrowed), or NULL: the valid lines in file order, then the
 * keys a refined parse kept for bad lines. */
const ro_allow_entry_t *ro_allow_at(const ro_allow_t *self, size_t i);
/* The entry of a Z85 key, or NULL. O(1). */
const ro_allow_entry_t *ro_allow_find_key(const ro_allow_t *self, const char *key);
/* The entry of a unit id or operator name, or NULL. O(1). */
const ro_allow_entry_t *ro_allow_find_name(const ro_allow_t *self, ro_allow_role_t role,
                                           const char *name);

/* True when name is a valid name for role: a unit id (DIVISION-NNN), or an
 * operator name of 1-32 characters from [A-Za-z0-9._-]. */
int ro_allow_name_valid(ro_allow_role_t role, const char *name);
/* True when key is 40 characters of Z85 that decode to 32 bytes. */
int ro_allow_key_valid(const char *key);

#endif
