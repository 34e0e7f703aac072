/* agent_outbox: the outbox file, its schema, its migrations and its
 * transactions. Every change is one BEGIN IMMEDIATE transaction with
 * synchronous=FULL, so what a command reports as recorded survives a crash; a
 * damaged file is refused, never repaired or recreated here (that is the
 * operator's decision). */
#include "outbox.h"
#include "ro_config.h"
#include "ro_log.h"
#include "ro_time.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    S_BEGIN,
    S_BEGIN_READ,
    S_COMMIT,
    S_ROLLBACK,
    S_META,
    S_COUNT,
    S_INSERT,
    S_SET_NEXT,
    S_AFTER,
    S_MARK_ACKED,
    S_SET_ACK,
    S_OLDEST,
    S_PRUNE,
    S_UNRETAIN,
    S_RETAINED_FROM,
    S_MOVE_REFUSED,
    S_DELETE_ONE,
    S_REFUSED_COUNT,
    S_REFUSED_LAST,
    S_INCARNATION,
    S_DATA_VERSION,
    S_FIND,
    S_FIND_REFUSED,
    S_COUNT_UPTO,
    S_RENUMBER,
    S_SWITCH_META,
    S_REFILL,
    S_REFILL_META,
    S_STORE_ID,
    S_SET_STORE_ID,
    S_COUNT_EARLIER_WAITING,
    S_EARLIER_ADD,
    S_EARLIER_FORGET,
    S_EARLIER_LIST,
    S_EARLIER_FIND,
    S_EARLIER_AT,
    S_EARLIER_COUNTS,
    S_EARLIER_WAITING,
    S_EARLIER_LOWEST,
    S_EARLIER_AFTER,
    S_EARLIER_FIND_ROW,
    S_EARLIER_SET_ACK,
    S_EARLIER_WALK,
    S_EARLIER_REFILL,
    S_EARLIER_REFILL_META,
    S_TARGET_ROW,
    S_TARGET_REFUSED,
    S_TARGET_BY,
    S_INSERT_CORRECTION,
    S_RETARGET,
    S_RETARGET_ROWS,
    S_SET_BODY,
    S_LIST,
    S_REFILL_REFUSED,
    S_REFILL_UNREFUSE,
    S_STMT_COUNT
};

/* Waiting events are those with acked_at NULL. Every waiting event of the
 * current incarnation has a seq above meta.last_ack (an ack marks all it
 * covers; appends and requeues add only above it); an earlier
 * incarnation's, waiting again for a refill, lies at or below base, above
 * that incarnation's earlier.last_ack. The partial index outbox_waiting
 * holds the waiting rows only: counting and marking them never reads the
 * retained ones. Each incarnation's events lie in one range of seqs, (base,
 * top] for an earlier one (a switch renumbers only above every seq handed
 * out), so an earlier incarnation's events are found by their keys. */
static const char *s_sql[S_STMT_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_BEGIN_READ] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_META] = "SELECT unit, next_seq, last_ack, retained, retained_bytes, base, incarnation "
               "FROM meta WHERE id = 1",
    [S_COUNT] = "SELECT count(*) FROM outbox INDEXED BY outbox_waiting WHERE acked_at IS NULL",
    [S_INSERT] = "INSERT INTO outbox(seq, body, incarnation, hash) "
                 "VALUES (?1, ?2, (SELECT incarnation FROM meta WHERE id = 1), ?3)",
    [S_SET_NEXT] = "UPDATE meta SET next_seq = ?1 WHERE id = 1",
    [S_AFTER] = "SELECT seq, body FROM outbox WHERE seq > ?1 AND acked_at IS NULL "
                "AND incarnation = (SELECT incarnation FROM meta WHERE id = 1) "
                "ORDER BY seq LIMIT ?2",
    [S_MARK_ACKED] = "UPDATE outbox INDEXED BY outbox_waiting SET acked_at = ?2 "
                     "WHERE acked_at IS NULL AND seq <= ?1 AND seq > ?3 RETURNING length(body)",
    [S_SET_ACK] = "UPDATE meta SET last_ack = max(last_ack, ?1), retained = retained + ?2, "
                  "retained_bytes = retained_bytes + ?3 WHERE id = 1",
    [S_OLDEST] = "SELECT seq, acked_at, length(body) FROM outbox WHERE seq <= ?1 ORDER BY seq",
    [S_PRUNE] = "DELETE FROM outbox WHERE seq <= ?1 AND acked_at IS NOT NULL",
    [S_UNRETAIN] = "UPDATE meta SET retained = retained - ?1, "
                   "retained_bytes = retained_bytes - ?2 WHERE id = 1",
    [S_RETAINED_FROM] = "SELECT seq FROM outbox WHERE seq > ?2 AND seq <= ?1 "
                        "AND acked_at IS NOT NULL ORDER BY seq LIMIT 1",
    [S_MOVE_REFUSED] = "INSERT OR REPLACE INTO refused(seq, body, reason, text, at, target) "
                       "SELECT seq, body, ?2, ?3, ?4, target FROM outbox "
                       "WHERE seq = ?1 AND acked_at IS NULL",
    [S_DELETE_ONE] = "DELETE FROM outbox WHERE seq = ?1 AND acked_at IS NULL",
    [S_REFUSED_COUNT] = "SELECT count(*) FROM refused",
    [S_REFUSED_LAST] = "SELECT seq, reason, text, at FROM refused ORDER BY seq DESC LIMIT ?1",
    [S_INCARNATION] = "SELECT incarnation FROM meta WHERE id = 1",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_FIND] = "SELECT hash, acked_at IS NULL FROM outbox WHERE seq = ?1 "
               "AND incarnation = (SELECT incarnation FROM meta WHERE id = 1)",
    [S_FIND_REFUSED] = "SELECT ro_body_hash(body) FROM refused WHERE seq = ?1",
    [S_COUNT_UPTO] = "SELECT count(*) FROM outbox WHERE seq <= ?1 AND acked_at IS NOT NULL",
    /* every waiting row of the current incarnation (an earlier one's, being
     * refilled, keeps its identity), densely from ?1 + 1 on in seq order:
     * all new seqs are above every old one, so no two rows ever hold one seq */
    [S_RENUMBER] = "UPDATE outbox SET seq = ?1 + r.n, incarnation = ?2 FROM "
                   "(SELECT seq AS old, row_number() OVER (ORDER BY seq) AS n FROM outbox "
                   "WHERE acked_at IS NULL AND incarnation = "
                   "(SELECT incarnation FROM meta WHERE id = 1)) AS r WHERE outbox.seq = r.old",
    [S_SWITCH_META] = "UPDATE meta SET incarnation = ?2, base = ?1, last_ack = ?1, "
                      "next_seq = ?1 + 1 + ?3 WHERE id = 1",
    [S_REFILL] = "UPDATE outbox SET acked_at = NULL WHERE seq > ?1 AND seq <= ?2 "
                 "AND acked_at IS NOT NULL "
                 "AND incarnation = (SELECT incarnation FROM meta WHERE id = 1) "
                 "RETURNING seq, length(body)",
    [S_REFILL_META] = "UPDATE meta SET last_ack = ?1, retained = retained - ?2, "
                      "retained_bytes = retained_bytes - ?3 WHERE id = 1",
    [S_STORE_ID] = "SELECT store_id FROM meta WHERE id = 1",
    [S_SET_STORE_ID] = "UPDATE meta SET store_id = ?1 WHERE id = 1",
    [S_COUNT_EARLIER_WAITING] = "SELECT count(*) FROM outbox INDEXED BY outbox_waiting "
                                "WHERE acked_at IS NULL AND seq <= ?1",
    /* the incarnation left by a switch, while any of its events is kept */
    [S_EARLIER_ADD] = "INSERT OR IGNORE INTO earlier(incarnation, base, top, last_ack) "
                      "SELECT ?1, ?2, ?3, ?3 WHERE EXISTS "
                      "(SELECT 1 FROM outbox WHERE seq > ?2 AND seq <= ?3)",
    [S_EARLIER_FORGET] = "DELETE FROM earlier WHERE NOT EXISTS "
                         "(SELECT 1 FROM outbox WHERE seq > earlier.base AND seq <= earlier.top)",
    [S_EARLIER_LIST] = "SELECT incarnation, base, top, last_ack FROM earlier WHERE base >= ?1 "
                       "ORDER BY base LIMIT ?2",
    [S_EARLIER_FIND] = "SELECT incarnation, base, top, last_ack FROM earlier "
                       "WHERE incarnation = ?1",
    [S_EARLIER_AT] = "SELECT incarnation, base, top, last_ack FROM earlier "
                     "WHERE base < ?1 AND top >= ?1",
    /* one walk of the incarnation's range: kept up to its last ack, waiting */
    [S_EARLIER_COUNTS] = "SELECT ifnull(sum(acked_at IS NOT NULL AND seq <= ?3), 0), "
                         "min(CASE WHEN acked_at IS NOT NULL AND seq <= ?3 THEN seq END), "
                         "ifnull(sum(acked_at IS NULL), 0), "
                         "min(CASE WHEN acked_at IS NULL THEN seq END) "
                         "FROM outbox WHERE seq > ?1 AND seq <= ?2",
    [S_EARLIER_WAITING] = "SELECT count(*), min(seq) FROM outbox INDEXED BY outbox_waiting "
                          "WHERE acked_at IS NULL AND seq > ?1 AND seq <= ?2",
    [S_EARLIER_LOWEST] = "SELECT seq FROM outbox INDEXED BY outbox_waiting WHERE acked_at IS NULL "
                         "AND seq <= (SELECT base FROM meta WHERE id = 1) ORDER BY seq LIMIT 1",
    [S_EARLIER_AFTER] = "SELECT seq, body FROM outbox WHERE seq > ?1 AND seq <= ?3 "
                        "AND acked_at IS NULL AND incarnation = ?4 ORDER BY seq LIMIT ?2",
    [S_EARLIER_FIND_ROW] = "SELECT hash, acked_at IS NULL FROM outbox WHERE seq = ?1 "
                           "AND incarnation = ?2",
    [S_EARLIER_SET_ACK] = "UPDATE earlier SET last_ack = max(last_ack, ?2) WHERE incarnation = ?1",
    [S_EARLIER_WALK] = "SELECT seq, acked_at IS NOT NULL FROM outbox WHERE seq > ?1 AND seq <= ?2 "
                       "ORDER BY seq",
    [S_EARLIER_REFILL] = "UPDATE outbox SET acked_at = NULL WHERE seq > ?1 AND seq <= ?2 "
                         "AND acked_at IS NOT NULL AND incarnation = ?3 RETURNING length(body)",
    [S_EARLIER_REFILL_META] = "UPDATE earlier SET last_ack = ?2 WHERE incarnation = ?1",
    /* corrections: the target's row, whether it was refused, whether an
     * event here corrects it already */
    [S_TARGET_ROW] = "SELECT body, incarnation, acked_at IS NULL FROM outbox WHERE seq = ?1",
    [S_TARGET_REFUSED] = "SELECT 1 FROM refused WHERE seq = ?1",
    [S_TARGET_BY] = "SELECT seq FROM outbox WHERE target = ?1 LIMIT 1",
    [S_INSERT_CORRECTION] = "INSERT INTO outbox(seq, body, incarnation, hash, target) "
                            "VALUES (?1, ?2, (SELECT incarnation FROM meta WHERE id = 1), ?3, ?4)",
    /* a switch: a correction of a waiting event of the current incarnation
     * follows it to its new seq (S_RENUMBER's numbering; run before it) */
    [S_RETARGET] = "UPDATE outbox SET target = ?1 + r.n FROM "
                   "(SELECT seq AS old, row_number() OVER (ORDER BY seq) AS n FROM outbox "
                   "WHERE acked_at IS NULL AND incarnation = "
                   "(SELECT incarnation FROM meta WHERE id = 1)) AS r WHERE outbox.target = r.old",
    [S_RETARGET_ROWS] = "SELECT seq, body, target FROM outbox "
                        "WHERE target IS NOT NULL AND target > ?1 AND acked_at IS NULL",
    [S_SET_BODY] = "UPDATE outbox SET body = ?2, hash = ?3 WHERE seq = ?1",
    /* a refill: the events the hub refused for good in the range are sent
     * again under their identity too (the store that refused them lost the
     * refusal with the rest), so the refill leaves no hole the hub would wait
     * at, and nothing is renumbered */
    [S_REFILL_REFUSED] = "INSERT INTO outbox(seq, body, incarnation, hash, target) "
                         "SELECT seq, body, (SELECT incarnation FROM meta WHERE id = 1), "
                         "ro_body_hash(body), target FROM refused WHERE seq > ?1 AND seq <= ?2 "
                         "RETURNING seq",
    [S_REFILL_UNREFUSE] = "DELETE FROM refused WHERE seq > ?1 AND seq <= ?2",
    [S_LIST] = "SELECT seq, body, state, target, (SELECT c.seq FROM outbox c "
               "WHERE c.target = e.seq LIMIT 1) FROM (SELECT seq, body, acked_at IS NOT NULL "
               "AS state, target FROM outbox UNION ALL SELECT seq, body, 2, target FROM refused) "
               "AS e ORDER BY seq DESC LIMIT ?1",
};

/* The statements an idle `run` uses (the heartbeat's counters, the poll for
 * new records, reading what to send) stay prepared; the others are prepared
 * when first needed and finalized again by agent_outbox_release. */
static const int s_hot[S_STMT_COUNT] = {
    [S_BEGIN_READ] = 1,    [S_COMMIT] = 1,
    [S_ROLLBACK] = 1,      [S_META] = 1,
    [S_COUNT] = 1,         [S_AFTER] = 1,
    [S_REFUSED_COUNT] = 1, [S_RETAINED_FROM] = 1,
    [S_DATA_VERSION] = 1,  [S_COUNT_EARLIER_WAITING] = 1,
};

/* The schema of version 1, as the first agents wrote it; a new outbox is
 * made with it and then migrated like an old one, so that both end up with
 * the same tables. The meta table has exactly one row. */
static const char s_schema[] = "CREATE TABLE meta ("
                               "  id INTEGER PRIMARY KEY CHECK (id = 1),"
                               "  unit TEXT NOT NULL," /* the unit this file belongs to, for ever */
                               "  next_seq INTEGER NOT NULL," /* seq of the next append */
                               "  last_ack INTEGER NOT NULL," /* highest seq the hub acknowledged */
                               "  created_at INTEGER NOT NULL);"
                               "CREATE TABLE outbox ("
                               "  seq INTEGER PRIMARY KEY,"
                               "  body BLOB NOT NULL);" /* encoded Report, resent byte for byte */
                               "CREATE TABLE refused ("
                               "  seq INTEGER PRIMARY KEY,"
                               "  body BLOB NOT NULL,"
                               "  reason INTEGER NOT NULL,"
                               "  text TEXT NOT NULL,"
                               "  at INTEGER NOT NULL);";

/* s_migrations[v] takes a file from schema v to v + 1, in the transaction
 * that also sets user_version. */
static const char *s_migrations[AGENT_OUTBOX_SCHEMA] = {
    [0] = NULL, /* 0 is not an outbox: refused by s_check_schema */
    /* 1 -> 2 (REVISION-2.md 4): the identity each event is sent under and
     * its content hash, for the acks of protocol version 2; acked_at, so
     * that acknowledged events are kept for refill instead of deleted, and
     * the counters of what is kept, so that neither an ack nor a heartbeat
     * ever counts the retained rows. Existing events are the legacy
     * incarnation's (16 zero bytes), as is the outbox until it learns of a
     * conflict; their hashes come from their decoded bodies. */
    [1] = "ALTER TABLE meta ADD COLUMN incarnation BLOB;"
          "ALTER TABLE meta ADD COLUMN store_id BLOB;"
          "ALTER TABLE meta ADD COLUMN retained INTEGER NOT NULL DEFAULT 0;"
          "ALTER TABLE meta ADD COLUMN retained_bytes INTEGER NOT NULL DEFAULT 0;"
          "ALTER TABLE outbox ADD COLUMN incarnation BLOB;"
          "ALTER TABLE outbox ADD COLUMN hash INTEGER;"
          "ALTER TABLE outbox ADD COLUMN acked_at INTEGER;"
          "UPDATE meta SET incarnation = zeroblob(16);"
          "UPDATE outbox SET incarnation = zeroblob(16), hash = ro_body_hash(body);"
          "CREATE INDEX outbox_waiting ON outbox (seq) WHERE acked_at IS NULL;",
    /* 2 -> 3 (protocol version 2): base, so that an incarnation drawn again
     * (agent_outbox_switch) numbers its wire seqs from 1 while the local
     * seqs, the rows' keys, go on from next_seq: wire = local - base. Every
     * outbox so far has one incarnation numbered from 1: base 0. */
    [2] = "ALTER TABLE meta ADD COLUMN base INTEGER NOT NULL DEFAULT 0;",
    /* 3 -> 4: the incarnations a switch left, for the refill of the events
     * they keep (agent_earlier_t). Of those left under schema 3 only the
     * legacy one is known for sure: its base is 0 and its events lie below
     * every other's; another's base was not recorded, and a wrong one would
     * speak for seqs it does not hold. */
    [3] = "CREATE TABLE earlier ("
          "  incarnation BLOB PRIMARY KEY," /* 16 bytes */
          "  base INTEGER NOT NULL,"        /* its wire seq = local seq - base */
          "  top INTEGER NOT NULL,"         /* its events lie in (base, top] */
          "  last_ack INTEGER NOT NULL);"   /* the highest seq the hub holds of it */
          "INSERT INTO earlier SELECT zeroblob(16), 0, top, top FROM "
          "(SELECT max(seq) AS top FROM outbox WHERE incarnation = zeroblob(16) "
          "AND acked_at IS NOT NULL AND (SELECT incarnation FROM meta WHERE id = 1) != "
          "zeroblob(16)) WHERE top IS NOT NULL;",
    /* 4 -> 5 (corrections, issue 16): the local seq an event corrects, so
     * that a switch renumbering a waiting target renumbers it in its
     * corrections, and a second correction of one event is caught here;
     * kept when the hub refuses it, and back when a refill sends it again. */
    [4] = "ALTER TABLE outbox ADD COLUMN target INTEGER;"
          "ALTER TABLE refused ADD COLUMN target INTEGER;"
          "CREATE INDEX outbox_targets ON outbox (target) WHERE target IS NOT NULL;",
};

struct agent_outbox {
    sqlite3 *db;                    /* the connection */
    sqlite3_stmt *st[S_STMT_COUNT]; /* prepared on first use (see s_hot), reset after each */
    char *path;                     /* the file, for messages */
    char unit[RO_UNIT_MAX + 1];     /* unit the file is bound to */
    int64_t max;                    /* outbox_max; 0 = no bound */
    int retain_days;                /* keep acknowledged events this long; 0 = none */
    int64_t retain_bytes;           /* and their bodies up to this many bytes; 0 = none */
    int full;                       /* the last failure was SQLITE_FULL (disk or cap) */
    int64_t reserve_retry;          /* no reserve file: make it at an ack from then; 0 = made */
    int64_t data_version;           /* last PRAGMA data_version seen */
};

static void s_reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Statement `which`, prepared now if it is not yet; NULL on failure (the
 * connection's error says why). */
static sqlite3_stmt *s_stmt(agent_outbox_t *self, int which)
{
    if (self->st[which])
        return self->st[which];
    int rc = sqlite3_prepare_v3(self->db, s_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                &self->st[which], NULL);
    if (rc != SQLITE_OK)
        self->st[which] = NULL;
    return self->st[which];
}

/* Once per process, before SQLite starts: no bulk page-cache allocation per
 * connection (SQLite's default is 20 pages, ~87 KB, whatever the file's
 * size); pages are allocated as they are read, up to AGENT_OUTBOX_CACHE_KIB.
 * This file is the agent's only SQLite user, and opens no connection from
 * more than one thread. After SQLite has started this is a no-op. */
static void s_configure_sqlite(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)NULL, 0, 0);
}

static void s_damaged(char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen,
             "outbox %s is damaged (%s); it may hold unsent reports: keep a copy, and ask the "
             "operator before moving it aside (nothing was changed)",
             path, why);
}

static int s_is_damage(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

/* Run a statement that returns no rows we need; SQLITE_ROW is drained. */
static int s_run(sqlite3_stmt *st)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    s_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void s_sqlfail(agent_outbox_t *self, char *err, size_t errlen, const char *what)
{
    self->full = (sqlite3_errcode(self->db) & 0xff) == SQLITE_FULL;
    if (err && self->full)
        snprintf(err, errlen, "outbox %s: %s: the disk is full; free space on it", self->path,
                 what);
    else if (err)
        snprintf(err, errlen, "outbox %s: %s: %s", self->path, what, sqlite3_errmsg(self->db));
}

/* ro_body_hash(body): ro_report_hash of an encoded report, for the migration
 * and the requeue, which hash bodies stored before. A body that does not
 * decode (no append of ours writes one) gets 0, "content not known", as the
 * hub's store has it; the hub refuses such a report as malformed. */
static void s_sql_body_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const uint8_t *body = sqlite3_value_blob(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    ro_report_t r;
    char why[8];
    if (!body || len <= 0 || len > RO_FRAME_MAX ||
        ro_report_decode(body, (size_t)len, &r, why, sizeof why) != RO_REASON_NONE) {
        sqlite3_result_int64(ctx, 0);
        return;
    }
    sqlite3_result_int64(ctx, (sqlite3_int64)ro_report_hash(&r));
}

static int s_register(sqlite3 *db)
{
    return sqlite3_create_function(db, "ro_body_hash", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                   s_sql_body_hash, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

/* Run the migrations from schema `from` to AGENT_OUTBOX_SCHEMA on db, inside
 * the caller's transaction (ro_body_hash registered). */
static int s_run_migrations(sqlite3 *db, int64_t from)
{
    for (int64_t v = from; v < AGENT_OUTBOX_SCHEMA; v++)
        if (sqlite3_exec(db, s_migrations[v], NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    char pragma[48];
    /* the constant is ours, not input: PRAGMA takes no bound parameter */
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", AGENT_OUTBOX_SCHEMA);
    return sqlite3_exec(db, pragma, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* A new outbox's incarnation: random, and never the legacy all-zero one. */
static int s_draw_incarnation(uint8_t out[AGENT_INCARNATION_LEN])
{
    static const uint8_t zero[AGENT_INCARNATION_LEN];
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n = getrandom(out, AGENT_INCARNATION_LEN, 0);
        if (n < 0 && errno == ENOSYS) { /* a kernel older than 3.17 */
            int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
            n = fd < 0 ? -1 : read(fd, out, AGENT_INCARNATION_LEN);
            if (fd >= 0)
                close(fd);
        }
        if (n != AGENT_INCARNATION_LEN)
            return -1;
        if (memcmp(out, zero, sizeof zero) != 0)
            return 0;
    }
    return -1;
}

/* ---- creation ---------------------------------------------------------- */

/* Build a fresh outbox at tmp: WAL mode, schema 1 and the meta row,
 * migrated to this schema, with an incarnation of its own. */
static int s_build(const char *tmp, const char *unit, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    uint8_t inc[AGENT_INCARNATION_LEN];
    if (s_draw_incarnation(inc)) {
        snprintf(err, errlen, "cannot create outbox %s: no random bytes for its incarnation: %s",
                 tmp, strerror(errno));
        return -1;
    }
    int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db, AGENT_OUTBOX_BUSY_MS);
    rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; BEGIN;", NULL,
                      NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_exec(db, s_schema, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO meta(id, unit, next_seq, last_ack, created_at) "
                            "VALUES (1, ?1, 1, 0, strftime('%s', 'now'))",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, unit, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    if (s_register(db) || s_run_migrations(db, 1))
        goto fail;
    rc = sqlite3_prepare_v2(db, "UPDATE meta SET incarnation = ?1 WHERE id = 1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_blob(st, 1, inc, sizeof inc, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    /* closing the only connection checkpoints and removes the WAL, so the
     * single file linked into place holds everything */
    if (sqlite3_close(db) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create outbox %s: close failed", tmp);
        return -1;
    }
    return 0;
fail:
    snprintf(err, errlen, "cannot create outbox %s: %s", tmp,
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return -1;
}

static void s_unlink_db(const char *base)
{
    char side[PATH_MAX + 8];
    unlink(base);
    snprintf(side, sizeof side, "%s-wal", base);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", base);
    unlink(side);
    snprintf(side, sizeof side, "%s-journal", base);
    unlink(side);
}

/* Create the outbox at path, atomically: build it under a temporary name,
 * then link it into place. If another process created it meanwhile, its file
 * wins and ours is discarded. */
static int s_create(const char *path, const char *unit, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            snprintf(err, errlen,
                     "cannot create outbox %s: folder %s does not exist (create it, writable by "
                     "the agent's user)",
                     path, dir);
        else
            snprintf(err, errlen, "cannot create outbox %s: folder %s: %s", path, dir,
                     strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot create outbox %s: %s is not a folder", path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "cannot create outbox %s: folder %s: %s", path, dir, strerror(errno));
        return -1;
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.new-%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "cannot create outbox %s: path too long", path);
        return -1;
    }
    s_unlink_db(tmp);
    if (s_build(tmp, unit, err, errlen)) {
        s_unlink_db(tmp);
        return -1;
    }
    int rc = link(tmp, path);
    if (rc != 0 && errno != EEXIST) {
        /* a file system without hard links: rename, still never over a file */
        rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    }
    int saved = errno;
    s_unlink_db(tmp);
    if (rc != 0 && saved != EEXIST) {
        snprintf(err, errlen, "cannot create outbox %s: %s", path, strerror(saved));
        return -1;
    }
    /* the new name must survive a crash as surely as the first record */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ---- the reserve for a full disk ---------------------------------------- */

static void s_reserve_path(const agent_outbox_t *self, char *buf, size_t len)
{
    snprintf(buf, len, "%s-reserve", self->path);
}

/* Make OUTBOX-reserve when it is missing: AGENT_OUTBOX_RESERVE_KIB of disk
 * allocated (posix_fallocate, not a sparse file). Without room, nothing is
 * left behind and the next ack from a minute on tries again. */
static void s_reserve_make(agent_outbox_t *self, int64_t now)
{
    char path[PATH_MAX + 16];
    s_reserve_path(self, path, sizeof path);
    off_t want = (off_t)AGENT_OUTBOX_RESERVE_KIB << 10;
    struct stat st;
    self->reserve_retry = 0;
    if (stat(path, &st) == 0 && st.st_size >= want)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    int ok = fd >= 0 && posix_fallocate(fd, 0, want) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        unlink(path);
        self->reserve_retry = now + 60;
    }
}

/* ---- opening ----------------------------------------------------------- */

/* Look at the file with plain reads before SQLite does anything to it. */
static int s_precheck(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open outbox %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot open outbox %s: not a regular file", path);
        close(fd);
        return -1;
    }
    unsigned char head[100];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n == 0) {
        s_damaged(err, errlen, path, "the file is empty, 0 bytes");
        return -1;
    }
    if (n < (ssize_t)sizeof head || memcmp(head, "SQLite format 3", 16) != 0) {
        s_damaged(err, errlen, path, "file is not a database");
        return -1;
    }
    return 0;
}

/* PRAGMA quick_check, telling damage apart from other trouble (busy, I/O). */
static int s_quick_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    /* main only: the check of the (empty) temp schema would open a temp
     * database and its page cache for nothing */
    int rc = sqlite3_prepare_v2(db, "PRAGMA main.quick_check", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);
        if (row && !strcmp(row, "ok")) {
            sqlite3_finalize(st);
            return 0;
        }
        char why[200];
        snprintf(why, sizeof why, "quick_check: %s", row ? row : "no answer");
        sqlite3_finalize(st);
        s_damaged(err, errlen, path, why);
        return -1;
    }
    if (s_is_damage(rc) || s_is_damage(sqlite3_errcode(db)))
        s_damaged(err, errlen, path, sqlite3_errmsg(db));
    else
        snprintf(err, errlen, "cannot read outbox %s: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
}

static int s_pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The file is a whole SQLite database with a schema version this agent
 * knows (ours, or an older one to migrate); *version gets it. */
static int s_check_schema(sqlite3 *db, const char *path, int64_t *version_out, char *err,
                          size_t errlen)
{
    if (s_quick_check(db, path, err, errlen))
        return -1;
    int64_t version = 0;
    if (s_pragma_int(db, "PRAGMA user_version", &version)) {
        snprintf(err, errlen, "cannot read outbox %s: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    if (version == 0) {
        snprintf(err, errlen,
                 "%s is a SQLite database but not a rollout outbox (user_version 0); point "
                 "[agent] outbox at another file",
                 path);
        return -1;
    }
    if (version > AGENT_OUTBOX_SCHEMA) {
        snprintf(err, errlen,
                 "outbox %s was written by a newer rollout-agent (schema %lld, this one knows "
                 "%d): run the newer agent (nothing was changed)",
                 path, (long long)version, AGENT_OUTBOX_SCHEMA);
        return -1;
    }
    *version_out = version;
    return 0;
}

/* WAL, synchronous FULL, the cache, and ro_body_hash. secure_delete FAST
 * (Debian builds SQLite with it on): pruning frees whole pages of retained
 * events, and zeroing each freed page would write it to the WAL, which on a
 * full disk has no room for it; what is deleted are reports the hub has. */
static int s_setup(agent_outbox_t *self, const char *path, char *err, size_t errlen)
{
    int64_t wal = 0;
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -%d; "
             "PRAGMA secure_delete = FAST;",
             AGENT_OUTBOX_CACHE_KIB);
    /* turning a rollback-journal outbox (schema 1) into WAL while another
     * process (`run` beside `record`) holds a lock of it may be refused at
     * once, without the busy timeout: SQLite's way out of a deadlock. Tried
     * again for as long as that timeout. */
    int rc;
    int64_t until = ro_time_mono_ms() + AGENT_OUTBOX_BUSY_MS;
    while ((rc = sqlite3_exec(self->db, pragmas, NULL, NULL, NULL)) != SQLITE_OK &&
           (rc & 0xff) == SQLITE_BUSY && ro_time_mono_ms() < until)
        usleep(10000);
    if (rc != SQLITE_OK || s_pragma_int(self->db, "PRAGMA synchronous", &wal) || wal != 2 ||
        s_register(self->db)) {
        snprintf(err, errlen, "cannot set up outbox %s: %s", path, sqlite3_errmsg(self->db));
        return -1;
    }
    return 0;
}

/* Bring an outbox of an older schema to ours, in one transaction: a
 * failure rolls all of it back. Another process (a `record` beside `run`)
 * may have migrated it meanwhile: the version is read again under the
 * write lock. */
static int s_migrate(agent_outbox_t *self, int64_t from, char *err, size_t errlen)
{
    if (from >= AGENT_OUTBOX_SCHEMA)
        return 0;
    int64_t now_version = from, waiting = 0;
    if (sqlite3_exec(self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        s_pragma_int(self->db, "PRAGMA user_version", &now_version) ||
        s_pragma_int(self->db, "SELECT count(*) FROM outbox", &waiting))
        goto fail;
    if (now_version < AGENT_OUTBOX_SCHEMA && s_run_migrations(self->db, now_version))
        goto fail;
    if (sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (now_version < AGENT_OUTBOX_SCHEMA)
        ro_log(LOG_NOTICE,
               "outbox %s: upgraded from schema %lld to %d; its %lld waiting event%s kept%s",
               self->path, (long long)now_version, AGENT_OUTBOX_SCHEMA, (long long)waiting,
               ro_s((uint64_t)waiting), now_version < 2 ? ", under the legacy incarnation" : "");
    return 0;
fail:
    snprintf(err, errlen,
             "cannot upgrade outbox %s from schema %lld to %d: %s; nothing was changed (it "
             "is still schema %lld, which the previous rollout-agent reads): free disk space "
             "if it is full, else keep the file and report this",
             self->path, (long long)now_version, AGENT_OUTBOX_SCHEMA, sqlite3_errmsg(self->db),
             (long long)now_version);
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Every statement prepared once, which checks the tables and columns they
 * use. A cold one is finalized at once: an idle agent's heap keeps the pages
 * of its largest moment, and all of them prepared together were that. */
static int s_prepare(agent_outbox_t *self, const char *path, char *err, size_t errlen)
{
    for (int i = 0; i < S_STMT_COUNT; i++) {
        if (s_stmt(self, i)) {
            if (!s_hot[i]) {
                sqlite3_finalize(self->st[i]);
                self->st[i] = NULL;
            }
        } else {
            int rc = sqlite3_errcode(self->db);
            if (s_is_damage(rc))
                s_damaged(err, errlen, path, sqlite3_errmsg(self->db));
            else
                snprintf(err, errlen, "outbox %s does not have the expected tables (%s)", path,
                         sqlite3_errmsg(self->db));
            return -1;
        }
    }
    return 0;
}

/* The outbox is bound to unit (its meta row). Read with a statement of its
 * own, which every schema answers, before any migration: another unit's
 * file is refused untouched. */
static int s_check_owner(agent_outbox_t *self, const char *path, const char *unit, char *err,
                         size_t errlen)
{
    sqlite3_stmt *meta = NULL;
    int rc = sqlite3_prepare_v2(self->db, "SELECT unit FROM meta WHERE id = 1", -1, &meta, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(meta);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            s_damaged(err, errlen, path, "its meta row is missing");
        else if (s_is_damage(rc))
            s_damaged(err, errlen, path, sqlite3_errmsg(self->db));
        else
            snprintf(err, errlen, "outbox %s does not have the expected tables (%s)", path,
                     sqlite3_errmsg(self->db));
        sqlite3_finalize(meta);
        return -1;
    }
    const char *bound = (const char *)sqlite3_column_text(meta, 0);
    snprintf(self->unit, sizeof self->unit, "%s", bound ? bound : "");
    sqlite3_finalize(meta);
    if (strcmp(self->unit, unit) != 0) {
        snprintf(err, errlen,
                 "outbox %s belongs to unit %s, not %s: each unit keeps its own outbox; check "
                 "[agent] unit and [agent] outbox in the config",
                 path, self->unit, unit);
        return -1;
    }
    return 0;
}

agent_outbox_t *agent_outbox_open(const char *path, const char *unit, agent_outbox_mode_t mode,
                                  char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    assert(path && unit);
    s_configure_sqlite();
    if (!ro_unit_id_valid(unit)) {
        snprintf(err, errlen, "outbox %s: '%s' is not a unit id", path, unit);
        return NULL;
    }
    struct stat fst;
    if (stat(path, &fst) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot open outbox %s: %s", path, strerror(errno));
            return NULL;
        }
        if (mode != AGENT_OUTBOX_CREATE) {
            snprintf(err, errlen, "no outbox at %s yet (nothing was ever recorded here)", path);
            return NULL;
        }
        if (s_create(path, unit, err, errlen))
            return NULL;
    }
    if (s_precheck(path, err, errlen))
        return NULL;

    agent_outbox_t *self = calloc(1, sizeof *self);
    if (self) {
        self->retain_days = RO_AGENT_RETAIN_DAYS;
        self->retain_bytes = (int64_t)RO_AGENT_RETAIN_MAX_MB << 20;
    }
    if (!self || !(self->path = strdup(path))) {
        free(self);
        snprintf(err, errlen, "outbox %s: out of memory", path);
        return NULL;
    }
    int rc = sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open outbox %s: %s", path,
                 self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
        goto fail;
    }
    /* until the file is known good, closing must not write to it */
    sqlite3_db_config(self->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    sqlite3_busy_timeout(self->db, AGENT_OUTBOX_BUSY_MS);
    sqlite3_extended_result_codes(self->db, 1);

    int64_t version = 0;
    if (s_check_schema(self->db, path, &version, err, errlen) ||
        s_check_owner(self, path, unit, err, errlen) || s_setup(self, path, err, errlen) ||
        s_migrate(self, version, err, errlen) || s_prepare(self, path, err, errlen))
        goto fail;
    if (agent_outbox_changed(self) < 0) {
        snprintf(err, errlen, "cannot read outbox %s: %s", path, sqlite3_errmsg(self->db));
        goto fail;
    }
    sqlite3_db_config(self->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, (int *)NULL);
    s_reserve_make(self, ro_time_now());
    agent_outbox_release(self);
    return self;
fail:
    agent_outbox_destroy(&self);
    return NULL;
}

void agent_outbox_destroy(agent_outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_outbox_t *self = *self_p;
    for (int i = 0; i < S_STMT_COUNT; i++)
        sqlite3_finalize(self->st[i]);
    sqlite3_close(self->db);
    free(self->path);
    free(self);
    *self_p = NULL;
}

void agent_outbox_set_max(agent_outbox_t *self, int64_t max)
{
    self->max = max > 0 ? max : 0;
}

void agent_outbox_set_retention(agent_outbox_t *self, int days, int64_t max_bytes)
{
    self->retain_days = days > 0 ? days : 0;
    self->retain_bytes = max_bytes > 0 ? max_bytes : 0;
}

void agent_outbox_set_max_bytes(agent_outbox_t *self, int64_t max_bytes)
{
    int64_t page = 4096;
    s_pragma_int(self->db, "PRAGMA page_size", &page);
    int64_t pages = max_bytes > 0 ? max_bytes / (page > 0 ? page : 4096) : 0xfffffffe;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)(pages > 0 ? pages : 1));
    int64_t got;
    s_pragma_int(self->db, sql, &got);
}

void agent_outbox_release(agent_outbox_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        return; /* a transaction is open: its statements and pages are in use */
    for (int i = 0; i < S_STMT_COUNT; i++) {
        if (!s_hot[i] && self->st[i]) {
            sqlite3_finalize(self->st[i]);
            self->st[i] = NULL;
        }
    }
    sqlite3_db_release_memory(self->db);
}

/* ---- transactions ------------------------------------------------------ */

static int s_begin(agent_outbox_t *self, char *err, size_t errlen)
{
    sqlite3_stmt *begin = s_stmt(self, S_BEGIN);
    if (!begin || s_run(begin)) {
        s_sqlfail(self, err, errlen, "cannot begin a transaction");
        return -1;
    }
    return 0;
}

static int s_commit(agent_outbox_t *self, char *err, size_t errlen)
{
    if (s_run(self->st[S_COMMIT])) {
        s_sqlfail(self, err, errlen, "commit failed");
        if (!sqlite3_get_autocommit(self->db))
            s_run(self->st[S_ROLLBACK]);
        return -1;
    }
    return 0;
}

static void s_rollback(agent_outbox_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        s_run(self->st[S_ROLLBACK]);
}

static int s_count(agent_outbox_t *self, int which, int64_t *out)
{
    sqlite3_stmt *st = self->st[which];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    s_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* The meta row's counters. */
typedef struct {
    uint64_t next_seq;                          /* seq of the next append */
    uint64_t last_ack;                          /* highest seq acknowledged */
    int64_t retained;                           /* acknowledged events kept */
    int64_t retained_bytes;                     /* their bodies' bytes */
    uint64_t base;                              /* the incarnation's wire seq = seq - base */
    uint8_t incarnation[AGENT_INCARNATION_LEN]; /* the outbox's */
} s_meta_t;

static int s_read_meta(agent_outbox_t *self, s_meta_t *m)
{
    sqlite3_stmt *st = self->st[S_META];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        m->next_seq = (uint64_t)sqlite3_column_int64(st, 1);
        m->last_ack = (uint64_t)sqlite3_column_int64(st, 2);
        m->retained = sqlite3_column_int64(st, 3);
        m->retained_bytes = sqlite3_column_int64(st, 4);
        m->base = (uint64_t)sqlite3_column_int64(st, 5);
        memset(m->incarnation, 0, sizeof m->incarnation);
        if (sqlite3_column_bytes(st, 6) == AGENT_INCARNATION_LEN)
            memcpy(m->incarnation, sqlite3_column_blob(st, 6), AGENT_INCARNATION_LEN);
    }
    s_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* What a prune deleted. */
typedef struct {
    int64_t n;      /* events */
    int64_t bytes;  /* their bodies */
    uint64_t first; /* lowest seq deleted */
    uint64_t last;  /* highest */
} s_pruned_t;

/* Inside a transaction: delete retained events from the oldest (lowest
 * seq) up, at most max_n, while each is acknowledged before `cutoff` or the
 * bytes kept pass keep_bytes; stop at the first that is neither. Deleting only from
 * the bottom keeps each incarnation's retained events one run of seqs
 * (retained_from .. last_ack, less the refused), which is what a heartbeat
 * announces. The walk reads one row past what it deletes (and an earlier
 * incarnation's events waiting for a refill, which it skips): its cost is
 * what it deletes, whatever is kept. A clock stepped back, or a refill of
 * an earlier incarnation acknowledged again, leaves a younger acked_at below
 * older ones; the walk stops there until it ages out (the bytes bound still
 * holds). An earlier incarnation none of whose events is left is
 * forgotten. */
static int s_prune(agent_outbox_t *self, int64_t cutoff, int64_t keep_bytes, int64_t max_n,
                   s_pruned_t *out)
{
    memset(out, 0, sizeof *out);
    s_meta_t m;
    sqlite3_stmt *walk = s_stmt(self, S_OLDEST), *del = s_stmt(self, S_PRUNE),
                 *dec = s_stmt(self, S_UNRETAIN);
    if (!walk || !del || !dec || s_read_meta(self, &m))
        return -1;
    if (m.retained <= 0)
        return 0;
    sqlite3_bind_int64(walk, 1, (sqlite3_int64)m.last_ack);
    int rc = SQLITE_DONE;
    while (out->n < max_n && (rc = sqlite3_step(walk)) == SQLITE_ROW) {
        if (sqlite3_column_type(walk, 1) == SQLITE_NULL)
            continue; /* an earlier incarnation's, waiting for a refill: never pruned */
        int64_t acked_at = sqlite3_column_int64(walk, 1);
        if (acked_at >= cutoff && m.retained_bytes - out->bytes <= keep_bytes)
            break;
        out->last = (uint64_t)sqlite3_column_int64(walk, 0);
        if (!out->n)
            out->first = out->last;
        out->n++;
        out->bytes += sqlite3_column_int64(walk, 2);
    }
    s_reset(walk);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (out->n == 0)
        return 0;
    sqlite3_bind_int64(del, 1, (sqlite3_int64)out->last);
    sqlite3_bind_int64(dec, 1, out->n);
    sqlite3_bind_int64(dec, 2, out->bytes);
    sqlite3_stmt *forget = s_stmt(self, S_EARLIER_FORGET);
    return !forget || s_run(del) || s_run(dec) || s_run(forget) ? -1 : 0;
}

/* The disk is full. In WAL mode a delete needs disk too (the pages it
 * changes go to the WAL, and the WAL starts over only once a checkpoint has
 * copied it into the file, which may have to grow), so the reserve goes
 * first and a checkpoint uses its room. Then the oldest retained events
 * holding at least need bytes are deleted, a few hundred KiB of pages per
 * transaction (a bigger one would spill its cache into a WAL that cannot
 * grow), each followed by a checkpoint, for the retry to reuse their pages.
 * Logged. Returns 1 when some room was made, 0 when there was none to make. */
static int s_make_room(agent_outbox_t *self, int64_t need)
{
    char reserve[PATH_MAX + 16];
    s_reserve_path(self, reserve, sizeof reserve);
    int released = unlink(reserve) == 0;
    if (released)
        self->reserve_retry = 1; /* at the next ack: there may be room by then */
    sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    s_pruned_t all = {0};
    while (all.bytes < need) {
        s_pruned_t p = {0};
        s_meta_t m;
        if (s_begin(self, NULL, 0) || s_read_meta(self, &m) ||
            s_prune(self, INT64_MIN, m.retained_bytes - (need - all.bytes), 1000, &p) ||
            s_commit(self, NULL, 0)) {
            s_rollback(self);
            break;
        }
        if (p.n == 0)
            break;
        if (!all.n)
            all.first = p.first;
        all.last = p.last;
        all.n += p.n;
        all.bytes += p.bytes;
        sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    if (!released && all.n == 0)
        return 0;
    char gave[64] = "";
    if (released)
        snprintf(gave, sizeof gave, "gave up its %d KiB reserve and ", AGENT_OUTBOX_RESERVE_KIB);
    if (all.n > 0)
        ro_log(LOG_WARNING,
               "outbox %s: the disk is full: %sdeleted %lld retained event%s (seq %llu..%llu, "
               "%lld bytes), which the hub has acknowledged and the outbox kept only to refill "
               "a hub that loses them, to make room for new records; free space on this disk",
               self->path, gave, (long long)all.n, ro_s((uint64_t)all.n),
               (unsigned long long)all.first, (unsigned long long)all.last, (long long)all.bytes);
    else
        ro_log(LOG_WARNING,
               "outbox %s: the disk is full: gave up its %d KiB reserve to make room for new "
               "records (no acknowledged event is kept to delete); free space on this disk now",
               self->path, AGENT_OUTBOX_RESERVE_KIB);
    return 1;
}

/* Fill in, check and encode rs[i] as the outbox stores it, into body;
 * returns its length, or AGENT_OUTBOX_INVALID with err filled. */
static int s_prepare_one(agent_outbox_t *self, ro_report_t *r, uint64_t seq, int64_t now,
                         uint8_t *body, char *err, size_t errlen)
{
    /* a correction is version 2's: a version-1 hub never takes one */
    r->version = r->action != RO_ACTION_NONE ? RO_PROTOCOL_VERSION : RO_PROTOCOL_V1;
    snprintf(r->unit, sizeof r->unit, "%s", self->unit);
    r->seq = seq;
    r->recorded_at = now;
    /* the body stays version 1: the wire identity is stamped at each send
     * (ro_report_stamp), so a renumbered event keeps its bytes */
    memset(r->incarnation, 0, sizeof r->incarnation);
    if (r->kind == RO_KIND_HEARTBEAT) {
        snprintf(err, errlen, "a heartbeat is never stored in the outbox");
        return AGENT_OUTBOX_INVALID;
    }
    if (ro_report_check(r, err, errlen) != RO_REASON_NONE ||
        !ro_utf8_valid(r->text, strlen(r->text)) || ro_report_ahead(r, now)) {
        int checked = ro_report_check(r, NULL, 0) == RO_REASON_NONE;
        if (checked && !ro_utf8_valid(r->text, strlen(r->text)))
            snprintf(err, errlen, "text is not valid UTF-8");
        else if (checked) /* the hub would only hold it: the mistake is caught here */
            snprintf(err, errlen,
                     "%s %u is after today + 1 day by this computer's clock; check the "
                     "date, and the clock",
                     r->kind == RO_KIND_CASES ? "month" : "date", r->date);
        return AGENT_OUTBOX_INVALID;
    }
    int len = ro_report_encode(r, body, RO_FRAME_MAX);
    if (len < 0) {
        snprintf(err, errlen, "report does not encode in %d bytes", RO_FRAME_MAX);
        return AGENT_OUTBOX_INVALID;
    }
    return len;
}

/* outbox_max counts the waiting events only: retained ones were delivered. */
static int s_check_room(agent_outbox_t *self, size_t n, char *err, size_t errlen)
{
    int64_t depth;
    if (s_count(self, S_COUNT, &depth)) {
        s_sqlfail(self, err, errlen, "cannot count events");
        return AGENT_OUTBOX_ERROR;
    }
    if (depth + (int64_t)n <= self->max)
        return AGENT_OUTBOX_OK;
    if (n == 1)
        snprintf(err, errlen, "outbox full: %lld events waiting for the hub (outbox_max)",
                 (long long)depth);
    else
        snprintf(err, errlen,
                 "outbox full: %lld events waiting for the hub, and %zu more would pass "
                 "outbox_max = %lld",
                 (long long)depth, n, (long long)self->max);
    return AGENT_OUTBOX_FULL;
}

/* One try of agent_outbox_append_batch; *bytes gets the bodies' size, so
 * that a retry after a full disk knows how much room to make. */
static int s_append(agent_outbox_t *self, ro_report_t *rs, size_t n, int64_t now,
                    uint64_t *first_seq, size_t *bad, int64_t *bytes, char *err, size_t errlen)
{
    *bad = n;
    *bytes = 0;
    self->full = 0;
    if (s_begin(self, err, errlen))
        return AGENT_OUTBOX_ERROR;
    int rc = AGENT_OUTBOX_ERROR;
    s_meta_t m;
    if (s_read_meta(self, &m)) {
        s_sqlfail(self, err, errlen, "cannot read the meta row");
        goto fail;
    }
    if (self->max > 0 && (rc = s_check_room(self, n, err, errlen)) != AGENT_OUTBOX_OK)
        goto fail;
    rc = AGENT_OUTBOX_ERROR;
    sqlite3_stmt *ins = s_stmt(self, S_INSERT), *set = s_stmt(self, S_SET_NEXT);
    if (!ins || !set) {
        s_sqlfail(self, err, errlen, "cannot prepare the append");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t body[RO_FRAME_MAX];
        int len = s_prepare_one(self, &rs[i], m.next_seq + i, now, body, err, errlen);
        if (len < 0) {
            rc = len;
            *bad = i;
            goto fail;
        }
        *bytes += len;
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)rs[i].seq);
        sqlite3_bind_blob(ins, 2, body, len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, (sqlite3_int64)ro_report_hash(&rs[i]));
        if (s_run(ins)) {
            s_sqlfail(self, err, errlen, "cannot store the event");
            goto fail;
        }
    }
    sqlite3_bind_int64(set, 1, (sqlite3_int64)(m.next_seq + n));
    if (s_run(set)) {
        s_sqlfail(self, err, errlen, "cannot advance the sequence");
        goto fail;
    }
    if (s_commit(self, err, errlen))
        return AGENT_OUTBOX_ERROR;
    if (first_seq)
        *first_seq = m.next_seq;
    return AGENT_OUTBOX_OK;
fail:
    s_rollback(self);
    return rc;
}

int agent_outbox_append_batch(agent_outbox_t *self, ro_report_t *rs, size_t n, int64_t now,
                              uint64_t *first_seq, size_t *bad, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    size_t bad_local;
    if (!bad)
        bad = &bad_local;
    int64_t bytes = 0;
    int rc = s_append(self, rs, n, now, first_seq, bad, &bytes, err, errlen);
    if (rc != AGENT_OUTBOX_ERROR || !self->full)
        return rc;
    /* a full disk must not stop the staff recording because of what is kept
     * for refill: make room (twice the batch, and 64 KiB for the pages and
     * the WAL) and try once more */
    int64_t need = bytes > (int64_t)n * 128 ? bytes : (int64_t)n * 128; /* failed midway */
    if (s_make_room(self, 2 * need + (64 << 10)) == 0)
        return rc;
    return s_append(self, rs, n, now, first_seq, bad, &bytes, err, errlen);
}

int64_t agent_outbox_append(agent_outbox_t *self, ro_report_t *r, int64_t now, char *err,
                            size_t errlen)
{
    uint64_t seq = 0;
    int rc = agent_outbox_append_batch(self, r, 1, now, &seq, NULL, err, errlen);
    return rc == AGENT_OUTBOX_OK ? (int64_t)seq : rc;
}

/* The wire identity of the event at local seq `seq`, stored under
 * incarnation inc: its incarnation's base (the current one's, or an earlier
 * one's). Returns 0, or -1 when its incarnation is not known here. */
static int s_wire_base(agent_outbox_t *self, const s_meta_t *m, const uint8_t *inc, uint64_t *base)
{
    if (memcmp(inc, m->incarnation, AGENT_INCARNATION_LEN) == 0) {
        *base = m->base;
        return 0;
    }
    sqlite3_stmt *st = s_stmt(self, S_EARLIER_FIND);
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, inc, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *base = (uint64_t)sqlite3_column_int64(st, 1);
    s_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Why local seq target may not be corrected by r (err), or 0 with *t and
 * r's target identity filled. In the open transaction. */
static int s_find_target(agent_outbox_t *self, const s_meta_t *m, ro_report_t *r, uint64_t target,
                         agent_target_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *row = s_stmt(self, S_TARGET_ROW), *by = s_stmt(self, S_TARGET_BY),
                 *ref = s_stmt(self, S_TARGET_REFUSED);
    if (!row || !by || !ref) {
        s_sqlfail(self, err, errlen, "cannot look up the event to correct");
        return AGENT_OUTBOX_ERROR;
    }
    uint8_t inc[AGENT_INCARNATION_LEN] = {0};
    int found = 0, bad_body = 0;
    sqlite3_bind_int64(row, 1, (sqlite3_int64)target);
    if (sqlite3_step(row) == SQLITE_ROW) {
        found = 1;
        const void *id = sqlite3_column_blob(row, 1);
        if (id && sqlite3_column_bytes(row, 1) == AGENT_INCARNATION_LEN)
            memcpy(inc, id, sizeof inc);
        t->waiting = sqlite3_column_int(row, 2);
        bad_body =
            ro_report_decode(sqlite3_column_blob(row, 0), (size_t)sqlite3_column_bytes(row, 0),
                             &t->report, NULL, 0) != RO_REASON_NONE;
    }
    s_reset(row);
    sqlite3_bind_int64(by, 1, (sqlite3_int64)target);
    int64_t by_seq = sqlite3_step(by) == SQLITE_ROW ? sqlite3_column_int64(by, 0) : 0;
    s_reset(by);
    sqlite3_bind_int64(ref, 1, (sqlite3_int64)target);
    int refused = sqlite3_step(ref) == SQLITE_ROW;
    s_reset(ref);
    uint64_t base = 0;
    if (refused)
        snprintf(err, errlen,
                 "seq %llu was refused by the hub (rollout-agent status lists it): "
                 "record the event again instead",
                 (unsigned long long)target);
    else if (!found || target >= m->next_seq)
        snprintf(err, errlen, "seq %llu is not in the outbox: %s", (unsigned long long)target,
                 target >= m->next_seq ? "no event has it yet"
                                       : "it is older than the events kept (retain_days)");
    else if (bad_body || t->report.kind == RO_KIND_HEARTBEAT)
        snprintf(err, errlen, "seq %llu is not an event that can be corrected",
                 (unsigned long long)target);
    else if (t->report.action == RO_ACTION_CANCEL)
        snprintf(err, errlen, "seq %llu is a cancel: record the event again instead",
                 (unsigned long long)target);
    else if (by_seq)
        snprintf(err, errlen, "seq %llu was corrected already by seq %lld: correct that one",
                 (unsigned long long)target, (long long)by_seq);
    else if (r->action == RO_ACTION_AMEND && r->kind != t->report.kind)
        snprintf(err, errlen, "seq %llu is a %s event: its amend is a %s one too",
                 (unsigned long long)target, ro_kind_name(t->report.kind),
                 ro_kind_name(t->report.kind));
    else if (s_wire_base(self, m, inc, &base))
        snprintf(err, errlen,
                 "seq %llu was sent under an identity this outbox no longer "
                 "speaks for: it cannot be corrected from here",
                 (unsigned long long)target);
    else {
        memcpy(r->target_inc, inc, sizeof inc);
        r->target_seq = target - base;
        return 0;
    }
    return AGENT_OUTBOX_INVALID;
}

int64_t agent_outbox_correct(agent_outbox_t *self, ro_report_t *r, uint64_t target, int64_t now,
                             agent_target_t *t, char *err, size_t errlen)
{
    agent_target_t local;
    if (!t)
        t = &local;
    memset(t, 0, sizeof *t);
    if (r->action != RO_ACTION_AMEND && r->action != RO_ACTION_CANCEL) {
        snprintf(err, errlen, "not a correction");
        return AGENT_OUTBOX_INVALID;
    }
    self->full = 0;
    if (s_begin(self, err, errlen))
        return AGENT_OUTBOX_ERROR;
    int rc = AGENT_OUTBOX_ERROR;
    s_meta_t m;
    uint8_t body[RO_FRAME_MAX];
    sqlite3_stmt *ins = s_stmt(self, S_INSERT_CORRECTION), *set = s_stmt(self, S_SET_NEXT);
    if (!ins || !set || s_read_meta(self, &m)) {
        s_sqlfail(self, err, errlen, "cannot read the meta row");
        goto fail;
    }
    if (self->max > 0 && (rc = s_check_room(self, 1, err, errlen)) != AGENT_OUTBOX_OK)
        goto fail;
    if ((rc = s_find_target(self, &m, r, target, t, err, errlen)))
        goto fail;
    int len = s_prepare_one(self, r, m.next_seq, now, body, err, errlen);
    if (len < 0) {
        rc = len;
        goto fail;
    }
    rc = AGENT_OUTBOX_ERROR;
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)m.next_seq);
    sqlite3_bind_blob(ins, 2, body, len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)ro_report_hash(r));
    sqlite3_bind_int64(ins, 4, (sqlite3_int64)target);
    sqlite3_bind_int64(set, 1, (sqlite3_int64)(m.next_seq + 1));
    if (s_run(ins) || s_run(set)) {
        s_sqlfail(self, err, errlen, "cannot store the correction");
        goto fail;
    }
    if (s_commit(self, err, errlen))
        return AGENT_OUTBOX_ERROR;
    return (int64_t)m.next_seq;
fail:
    s_rollback(self);
    return rc;
}

int agent_outbox_list(agent_outbox_t *self, size_t max,
                      void (*fn)(void *arg, const agent_listed_t *ev), void *arg)
{
    sqlite3_stmt *st = s_stmt(self, S_LIST);
    if (!st || s_run(self->st[S_BEGIN_READ]))
        return -1;
    sqlite3_bind_int64(st, 1, max ? (sqlite3_int64)max : -1);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        agent_listed_t ev = {.seq = (uint64_t)sqlite3_column_int64(st, 0),
                             .body = sqlite3_column_blob(st, 1),
                             .len = (size_t)sqlite3_column_bytes(st, 1),
                             .state = sqlite3_column_int(st, 2),
                             .target = (uint64_t)sqlite3_column_int64(st, 3),
                             .corrected_by = (uint64_t)sqlite3_column_int64(st, 4)};
        fn(arg, &ev);
        n++;
    }
    s_reset(st);
    if (s_run(self->st[S_COMMIT])) {
        s_rollback(self);
        return -1;
    }
    return rc == SQLITE_DONE ? n : -1;
}

/* After a switch to inc at base: each waiting correction whose target was
 * renumbered with it (S_RETARGET moved its target column) names the
 * target's new identity, and its hash follows. Returns 0 or -1. */
static int s_retarget_bodies(agent_outbox_t *self, const uint8_t *inc, uint64_t base)
{
    sqlite3_stmt *q = s_stmt(self, S_RETARGET_ROWS), *upd = s_stmt(self, S_SET_BODY);
    if (!q || !upd)
        return -1;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)base);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        ro_report_t r;
        uint8_t body[RO_FRAME_MAX];
        if (ro_report_decode(sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1), &r,
                             NULL, 0) != RO_REASON_NONE)
            continue; /* no append of ours writes one that does not decode */
        memcpy(r.target_inc, inc, sizeof r.target_inc);
        r.target_seq = (uint64_t)sqlite3_column_int64(q, 2) - base;
        int len = ro_report_encode(&r, body, sizeof body);
        if (len < 0)
            break;
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(q, 0));
        sqlite3_bind_blob(upd, 2, body, len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 3, (sqlite3_int64)ro_report_hash(&r));
        if (s_run(upd))
            break;
    }
    s_reset(q);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Hand the rows (seq, body) of bound statement st to fn, as
 * agent_outbox_each says. */
static int s_each(sqlite3_stmt *st, agent_outbox_each_fn fn, void *arg)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int len = sqlite3_column_bytes(st, 1);
        const uint8_t *body = sqlite3_column_blob(st, 1);
        if (len < 0 || len > RO_FRAME_MAX || (len > 0 && !body)) {
            rc = SQLITE_CORRUPT; /* no append of ours writes such a row */
            break;
        }
        static const uint8_t none[1];
        if (fn(arg, (uint64_t)sqlite3_column_int64(st, 0), len ? body : none, (size_t)len)) {
            rc = SQLITE_DONE; /* fn had enough */
            break;
        }
        n++;
    }
    s_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int agent_outbox_each(agent_outbox_t *self, uint64_t after, size_t max, agent_outbox_each_fn fn,
                      void *arg)
{
    if (max == 0 || after > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_stmt *st = s_stmt(self, S_AFTER);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(max > INT_MAX ? INT_MAX : max));
    return s_each(st, fn, arg);
}

/* Inside s_ack: e's last ack moves to upto (never back). */
static int s_earlier_set_ack(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto)
{
    sqlite3_stmt *st = s_stmt(self, S_EARLIER_SET_ACK);
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, e->incarnation, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)upto);
    return s_run(st);
}

/* One try of agent_outbox_ack (e NULL: the current incarnation, whose
 * events lie above base) or agent_outbox_ack_earlier (e's, in its range). */
static int s_ack(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto, int64_t now)
{
    self->full = 0;
    if (s_begin(self, NULL, 0))
        return -1;
    s_meta_t m;
    sqlite3_stmt *mark = s_stmt(self, S_MARK_ACKED), *set = s_stmt(self, S_SET_ACK);
    if (!mark || !set || s_read_meta(self, &m))
        goto fail;
    if (e && upto > e->top)
        upto = e->top;
    if (e && s_earlier_set_ack(self, e, upto))
        goto fail;
    sqlite3_bind_int64(mark, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(mark, 2, now);
    sqlite3_bind_int64(mark, 3, (sqlite3_int64)(e ? e->base : m.base));
    int64_t n = 0, bytes = 0;
    int rc;
    while ((rc = sqlite3_step(mark)) == SQLITE_ROW) {
        n++;
        bytes += sqlite3_column_int64(mark, 0);
    }
    s_reset(mark);
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_bind_int64(set, 1, e ? 0 : (sqlite3_int64)upto); /* an earlier one's: not ours */
    sqlite3_bind_int64(set, 2, n);
    sqlite3_bind_int64(set, 3, bytes);
    if (s_run(set))
        goto fail;
    /* keep none: every retained event is "too old" and "too much" */
    int none = self->retain_days == 0 || self->retain_bytes == 0;
    int64_t cutoff = none ? INT64_MAX : now - (int64_t)self->retain_days * 86400;
    s_pruned_t pruned;
    if (s_prune(self, cutoff, none ? 0 : self->retain_bytes, INT64_MAX, &pruned))
        goto fail;
    return s_commit(self, NULL, 0);
fail:
    s_sqlfail(self, NULL, 0, "ack");
    s_rollback(self);
    return -1;
}

static int s_ack_retry(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto, int64_t now)
{
    if (upto > (uint64_t)INT64_MAX)
        return -1;
    if (self->reserve_retry && now >= self->reserve_retry)
        s_reserve_make(self, now);
    if (s_ack(self, e, upto, now) == 0)
        return 0;
    /* marking rows acknowledged can need a page; on a full disk, the
     * retained events make way as they do for a record */
    if (!self->full || s_make_room(self, 64 << 10) == 0)
        return -1;
    return s_ack(self, e, upto, now);
}

int agent_outbox_ack(agent_outbox_t *self, uint64_t upto, int64_t now)
{
    return s_ack_retry(self, NULL, upto, now);
}

int agent_outbox_requeue(agent_outbox_t *self)
{
    char in[64] = "", sql[640];
    size_t used = 0;
    for (int r = 1; r < RO_REASON_COUNT; r++)
        if (!ro_reason_final((ro_reason_t)r))
            used += (size_t)snprintf(in + used, sizeof in - used, "%s%d", used ? "," : "", r);
    const char *which = "reason IN (%s) AND seq > (SELECT last_ack FROM meta WHERE id = 1)";
    char where[160];
    snprintf(where, sizeof where, which, in);
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO outbox(seq, body, incarnation, hash, target) "
             "SELECT seq, body, (SELECT incarnation FROM meta WHERE id = 1), ro_body_hash(body), "
             "target FROM refused WHERE %s;"
             "DELETE FROM refused WHERE %s",
             where, where);
    if (s_begin(self, NULL, 0))
        return -1;
    if (sqlite3_exec(self->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        s_rollback(self);
        return -1;
    }
    int n = sqlite3_changes(self->db); /* the DELETE's: as many as were moved */
    return s_commit(self, NULL, 0) ? -1 : n;
}

int agent_outbox_refuse(agent_outbox_t *self, uint64_t seq, ro_reason_t reason, const char *text,
                        int64_t at)
{
    if (seq == 0 || seq > (uint64_t)INT64_MAX)
        return 1;
    if (s_begin(self, NULL, 0))
        return -1;
    sqlite3_stmt *mv = s_stmt(self, S_MOVE_REFUSED), *del = s_stmt(self, S_DELETE_ONE);
    if (!mv || !del) {
        s_rollback(self);
        return -1;
    }
    sqlite3_bind_int64(mv, 1, (sqlite3_int64)seq);
    sqlite3_bind_int(mv, 2, (int)reason);
    sqlite3_bind_text(mv, 3, text ? text : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(mv, 4, at);
    if (s_run(mv)) {
        s_rollback(self);
        return -1;
    }
    if (sqlite3_changes(self->db) == 0) {
        s_rollback(self);
        return 1;
    }
    sqlite3_bind_int64(del, 1, (sqlite3_int64)seq);
    sqlite3_stmt *forget = s_stmt(self, S_EARLIER_FORGET);
    if (!forget || s_run(del) || s_run(forget)) {
        s_rollback(self);
        return -1;
    }
    return s_commit(self, NULL, 0);
}

/* ---- protocol version 2: identity, refill, the hub's store --------------- */

int agent_outbox_find(agent_outbox_t *self, uint64_t seq, agent_event_state_t *out)
{
    memset(out, 0, sizeof *out);
    if (seq == 0 || seq > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_stmt *st = s_stmt(self, S_FIND);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->hash = (uint64_t)sqlite3_column_int64(st, 0);
        out->waiting = sqlite3_column_int(st, 1);
    }
    s_reset(st);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? 1 : -1;
    s_meta_t m;
    if (s_read_meta(self, &m))
        return -1;
    if (seq <= m.base)
        return 0; /* a refused row this low is an earlier incarnation's */
    if (!(st = s_stmt(self, S_FIND_REFUSED)))
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->hash = (uint64_t)sqlite3_column_int64(st, 0);
        out->refused = 1;
    }
    s_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int agent_outbox_switch(agent_outbox_t *self, int64_t *renumbered)
{
    uint8_t inc[AGENT_INCARNATION_LEN];
    if (s_draw_incarnation(inc))
        return -1;
    if (s_begin(self, NULL, 0))
        return -1;
    s_meta_t m;
    sqlite3_stmt *ren = s_stmt(self, S_RENUMBER), *set = s_stmt(self, S_SWITCH_META),
                 *add = s_stmt(self, S_EARLIER_ADD);
    if (!ren || !set || !add || s_read_meta(self, &m))
        goto fail;
    /* the incarnation left behind keeps its acknowledged events in (base,
     * last_ack]: the agent speaks for them again if the hub loses them */
    sqlite3_bind_blob(add, 1, m.incarnation, sizeof m.incarnation, SQLITE_STATIC);
    sqlite3_bind_int64(add, 2, (sqlite3_int64)m.base);
    sqlite3_bind_int64(add, 3, (sqlite3_int64)m.last_ack);
    if (s_run(add))
        goto fail;
    sqlite3_int64 base = (sqlite3_int64)m.next_seq - 1;
    sqlite3_stmt *ret = s_stmt(self, S_RETARGET);
    if (!ret)
        goto fail;
    sqlite3_bind_int64(ret, 1, base); /* before the renumbering, which it follows */
    if (s_run(ret))
        goto fail;
    sqlite3_bind_int64(ren, 1, base);
    sqlite3_bind_blob(ren, 2, inc, sizeof inc, SQLITE_STATIC);
    if (s_run(ren))
        goto fail;
    int64_t moved = sqlite3_changes64(self->db);
    sqlite3_bind_int64(set, 1, base);
    sqlite3_bind_blob(set, 2, inc, sizeof inc, SQLITE_STATIC);
    sqlite3_bind_int64(set, 3, moved);
    if (s_run(set) || s_retarget_bodies(self, inc, (uint64_t)base) || s_commit(self, NULL, 0))
        goto fail;
    if (renumbered)
        *renumbered = moved;
    return 0;
fail:
    s_sqlfail(self, NULL, 0, "switch");
    s_rollback(self);
    return -1;
}

/* The refused events of (upto, last] wait again, counted into *out. In the
 * open transaction. Returns 0 or -1. */
static int s_refill_refused(agent_outbox_t *self, uint64_t upto, uint64_t last, agent_refill_t *out)
{
    sqlite3_stmt *ins = s_stmt(self, S_REFILL_REFUSED), *del = s_stmt(self, S_REFILL_UNREFUSE);
    if (!ins || !del)
        return -1;
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(ins, 2, (sqlite3_int64)last);
    int rc;
    while ((rc = sqlite3_step(ins)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(ins, 0);
        if (!out->n || seq < out->first)
            out->first = seq;
        if (seq > out->last)
            out->last = seq;
        out->n++;
    }
    s_reset(ins);
    if (rc != SQLITE_DONE)
        return -1;
    sqlite3_bind_int64(del, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(del, 2, (sqlite3_int64)last);
    return s_run(del);
}

int agent_outbox_refill(agent_outbox_t *self, uint64_t upto, agent_refill_t *out)
{
    memset(out, 0, sizeof *out);
    if (upto > (uint64_t)INT64_MAX || s_begin(self, NULL, 0))
        return -1;
    s_meta_t m;
    sqlite3_stmt *up = s_stmt(self, S_REFILL), *set = s_stmt(self, S_REFILL_META);
    if (!up || !set || s_read_meta(self, &m))
        goto fail;
    if (upto < m.base)
        upto = m.base; /* below base is another incarnation's */
    out->was_ack = m.last_ack;
    if (upto >= m.last_ack) {
        s_rollback(self);
        return 0;
    }
    sqlite3_bind_int64(up, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(up, 2, (sqlite3_int64)m.last_ack);
    int64_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(up)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(up, 0);
        if (!out->n || seq < out->first)
            out->first = seq;
        if (seq > out->last)
            out->last = seq;
        out->n++;
        bytes += sqlite3_column_int64(up, 1);
    }
    s_reset(up);
    if (rc != SQLITE_DONE)
        goto fail;
    int64_t kept = out->n;
    if (s_refill_refused(self, upto, m.last_ack, out))
        goto fail;
    sqlite3_bind_int64(set, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(set, 2, kept);
    sqlite3_bind_int64(set, 3, bytes);
    if (s_run(set) || s_commit(self, NULL, 0))
        goto fail;
    out->lost = m.last_ack - upto - (uint64_t)out->n;
    out->lost_from = upto + 1;
    out->lost_to = out->n ? out->first - 1 : m.last_ack;
    return 0;
fail:
    s_sqlfail(self, NULL, 0, "refill");
    s_rollback(self);
    memset(out, 0, sizeof *out);
    return -1;
}

/* ---- earlier incarnations (schema 4) ------------------------------------ */

/* e's counters: with kept, in one walk of its range (kept up to its last
 * ack, waiting); else only the waiting ones, from the waiting index, at a
 * cost that does not grow with what it keeps. */
static int s_earlier_counts(agent_outbox_t *self, agent_earlier_t *e, int kept)
{
    sqlite3_stmt *st = s_stmt(self, kept ? S_EARLIER_COUNTS : S_EARLIER_WAITING);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)e->base);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->top);
    if (kept)
        sqlite3_bind_int64(st, 3, (sqlite3_int64)e->last_ack);
    int rc = sqlite3_step(st), w = kept ? 2 : 0;
    if (rc == SQLITE_ROW && kept) {
        e->retained = sqlite3_column_int64(st, 0);
        e->retained_from = (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (rc == SQLITE_ROW) {
        e->waiting = sqlite3_column_int64(st, w);
        e->waiting_from = (uint64_t)sqlite3_column_int64(st, w + 1);
    }
    s_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* The next row of st (an earlier row: incarnation, base, top, last_ack)
 * into *e, with its counters (s_earlier_counts). Returns 1, 0 when there is
 * none, or -1; st is left as it is (the caller resets it). */
static int s_earlier_row(agent_outbox_t *self, sqlite3_stmt *st, agent_earlier_t *e, int kept)
{
    memset(e, 0, sizeof *e);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -1;
    if (sqlite3_column_bytes(st, 0) == AGENT_INCARNATION_LEN)
        memcpy(e->incarnation, sqlite3_column_blob(st, 0), AGENT_INCARNATION_LEN);
    e->base = (uint64_t)sqlite3_column_int64(st, 1);
    e->top = (uint64_t)sqlite3_column_int64(st, 2);
    e->last_ack = (uint64_t)sqlite3_column_int64(st, 3);
    return s_earlier_counts(self, e, kept) ? -1 : 1;
}

/* One earlier row of st (bound), in a read transaction of its own. */
static int s_earlier_one(agent_outbox_t *self, sqlite3_stmt *st, agent_earlier_t *out, int kept)
{
    if (s_run(self->st[S_BEGIN_READ])) {
        s_reset(st);
        return -1;
    }
    int rc = s_earlier_row(self, st, out, kept);
    s_reset(st);
    if (s_run(self->st[S_COMMIT])) {
        s_rollback(self);
        return -1;
    }
    return rc;
}

int agent_outbox_earlier(agent_outbox_t *self, uint64_t from_base, agent_earlier_t *out, size_t max)
{
    sqlite3_stmt *st = s_stmt(self, S_EARLIER_LIST);
    if (max == 0 || from_base > (uint64_t)INT64_MAX)
        return 0;
    if (!st || s_run(self->st[S_BEGIN_READ]))
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from_base);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(max > INT_MAX ? INT_MAX : max));
    int n = 0, rc = 0;
    /* LIMIT ?2 ends the rows; stop at max too, or the step that finds none
     * would clear out[max] */
    while ((size_t)n < max && (rc = s_earlier_row(self, st, &out[n], 1)) == 1)
        n++;
    s_reset(st);
    if (s_run(self->st[S_COMMIT])) {
        s_rollback(self);
        return -1;
    }
    return rc < 0 ? -1 : n;
}

int agent_outbox_earlier_find(agent_outbox_t *self, const uint8_t *inc, int kept,
                              agent_earlier_t *out)
{
    sqlite3_stmt *st = s_stmt(self, S_EARLIER_FIND);
    if (!st)
        return -1;
    /* copied: inc may be out's own incarnation, which s_earlier_one clears */
    sqlite3_bind_blob(st, 1, inc, AGENT_INCARNATION_LEN, SQLITE_TRANSIENT);
    return s_earlier_one(self, st, out, kept);
}

int agent_outbox_earlier_next(agent_outbox_t *self, agent_earlier_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *low = s_stmt(self, S_EARLIER_LOWEST), *at = s_stmt(self, S_EARLIER_AT);
    if (!low || !at)
        return -1;
    int rc = sqlite3_step(low);
    int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(low, 0) : 0;
    s_reset(low);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -1;
    sqlite3_bind_int64(at, 1, seq);
    return s_earlier_one(self, at, out, 0);
}

int agent_outbox_each_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t after,
                              size_t max, agent_outbox_each_fn fn, void *arg)
{
    if (max == 0 || after > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_stmt *st = s_stmt(self, S_EARLIER_AFTER);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(after > e->base ? after : e->base));
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(max > INT_MAX ? INT_MAX : max));
    sqlite3_bind_int64(st, 3, (sqlite3_int64)e->top);
    sqlite3_bind_blob(st, 4, e->incarnation, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    return s_each(st, fn, arg);
}

int agent_outbox_find_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t seq,
                              agent_event_state_t *out)
{
    memset(out, 0, sizeof *out);
    if (seq <= e->base || seq > e->top || seq > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_stmt *st = s_stmt(self, S_EARLIER_FIND_ROW);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    sqlite3_bind_blob(st, 2, e->incarnation, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->hash = (uint64_t)sqlite3_column_int64(st, 0);
        out->waiting = sqlite3_column_int(st, 1);
    }
    s_reset(st);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? 1 : -1;
    if (!(st = s_stmt(self, S_FIND_REFUSED)))
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq); /* in e's range: e's */
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->hash = (uint64_t)sqlite3_column_int64(st, 0);
        out->refused = 1;
    }
    s_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int agent_outbox_ack_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto,
                             int64_t now)
{
    return s_ack_retry(self, e, upto, now);
}

/* Inside the refill of e: the end of the run of kept events directly above
 * upto, up to was (the first seq not kept ends it). */
static int s_earlier_run(agent_outbox_t *self, uint64_t upto, uint64_t was, uint64_t *end)
{
    sqlite3_stmt *walk = s_stmt(self, S_EARLIER_WALK);
    if (!walk)
        return -1;
    sqlite3_bind_int64(walk, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(walk, 2, (sqlite3_int64)was);
    *end = upto;
    int rc;
    while ((rc = sqlite3_step(walk)) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(walk, 0) != *end + 1 || !sqlite3_column_int(walk, 1))
            break;
        ++*end;
    }
    s_reset(walk);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Inside the refill of e: make (upto, end] waiting, set e's last ack to
 * upto, and take them out of the retained counters. */
static int s_earlier_unkeep(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto,
                            uint64_t end, agent_refill_t *out)
{
    sqlite3_stmt *up = s_stmt(self, S_EARLIER_REFILL), *meta = s_stmt(self, S_EARLIER_REFILL_META),
                 *dec = s_stmt(self, S_UNRETAIN);
    if (!up || !meta || !dec)
        return -1;
    sqlite3_bind_int64(up, 1, (sqlite3_int64)upto);
    sqlite3_bind_int64(up, 2, (sqlite3_int64)end);
    sqlite3_bind_blob(up, 3, e->incarnation, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    int64_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(up)) == SQLITE_ROW) {
        out->n++;
        bytes += sqlite3_column_int64(up, 0);
    }
    s_reset(up);
    if (rc != SQLITE_DONE)
        return -1;
    sqlite3_bind_blob(meta, 1, e->incarnation, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(meta, 2, (sqlite3_int64)upto);
    sqlite3_bind_int64(dec, 1, out->n);
    sqlite3_bind_int64(dec, 2, bytes);
    return s_run(meta) || s_run(dec) ? -1 : 0;
}

int agent_outbox_refill_earlier(agent_outbox_t *self, const agent_earlier_t *e, uint64_t upto,
                                agent_refill_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *find = s_stmt(self, S_EARLIER_FIND);
    if (!find || upto > (uint64_t)INT64_MAX || s_begin(self, NULL, 0))
        return -1;
    agent_earlier_t now; /* its last ack as committed, not as the caller read it */
    sqlite3_bind_blob(find, 1, e->incarnation, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    int found = s_earlier_row(self, find, &now, 0);
    s_reset(find);
    if (found < 0)
        goto fail;
    if (upto < now.base)
        upto = now.base; /* below base is another incarnation's */
    out->was_ack = now.last_ack;
    if (found == 0 || upto >= now.last_ack) {
        s_rollback(self);
        return 0;
    }
    uint64_t end;
    if (s_earlier_run(self, upto, now.last_ack, &end) ||
        s_earlier_unkeep(self, &now, upto, end, out) || s_commit(self, NULL, 0))
        goto fail;
    out->first = out->n ? upto + 1 : 0;
    out->last = out->n ? end : 0;
    out->lost = now.last_ack - end;
    out->lost_from = out->lost ? end + 1 : 0;
    out->lost_to = out->lost ? now.last_ack : 0;
    return 0;
fail:
    s_sqlfail(self, NULL, 0, "refill");
    s_rollback(self);
    memset(out, 0, sizeof *out);
    return -1;
}

int agent_outbox_store_id(agent_outbox_t *self, const uint8_t id[AGENT_INCARNATION_LEN])
{
    sqlite3_stmt *get = s_stmt(self, S_STORE_ID), *set = s_stmt(self, S_SET_STORE_ID);
    if (!get || !set)
        return -1;
    int rc = sqlite3_step(get);
    int had = rc == SQLITE_ROW && sqlite3_column_bytes(get, 0) == AGENT_INCARNATION_LEN;
    int same = had && memcmp(sqlite3_column_blob(get, 0), id, AGENT_INCARNATION_LEN) == 0;
    s_reset(get);
    if (rc != SQLITE_ROW)
        return -1;
    if (same)
        return 0;
    sqlite3_bind_blob(set, 1, id, AGENT_INCARNATION_LEN, SQLITE_STATIC);
    if (s_run(set))
        return -1;
    return had ? 1 : 0;
}

/* ---- adjectives -------------------------------------------------------- */

/* The lowest retained seq above `above` (the counters say some are kept):
 * the first row in (above, last_ack], found by its key; 0 when none is. */
static int s_retained_from(agent_outbox_t *self, uint64_t last_ack, uint64_t above, uint64_t *out)
{
    sqlite3_stmt *st = self->st[S_RETAINED_FROM];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)last_ack);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)above);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    s_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Kept events of an earlier incarnation lie at or below base (a switch
 * renumbers only waiting events, above every kept one): counting them costs
 * what is kept of the old incarnation, which pruning only lessens. */
static int s_retained_now(agent_outbox_t *self, const s_meta_t *m, agent_outbox_stats_t *out)
{
    sqlite3_stmt *st = s_stmt(self, S_COUNT_UPTO);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)m->base);
    int64_t old = 0;
    if (s_count(self, S_COUNT_UPTO, &old))
        return -1;
    out->cur_retained = m->retained - old;
    out->cur_retained_from = 0;
    if (out->cur_retained > 0)
        return s_retained_from(self, m->last_ack, m->base, &out->cur_retained_from);
    return 0;
}

/* Of the waiting events, those at or below base are an earlier
 * incarnation's (a refill): few, and found by the waiting index. */
static int s_depth_now(agent_outbox_t *self, const s_meta_t *m, agent_outbox_stats_t *out)
{
    sqlite3_stmt *st = self->st[S_COUNT_EARLIER_WAITING];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)m->base);
    int64_t old = 0;
    if (s_count(self, S_COUNT_EARLIER_WAITING, &old))
        return -1;
    out->cur_depth = out->depth - old;
    return 0;
}

int agent_outbox_stats(agent_outbox_t *self, agent_outbox_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (s_run(self->st[S_BEGIN_READ]))
        return -1;
    s_meta_t m = {0};
    int rc = s_read_meta(self, &m) || s_count(self, S_COUNT, &out->depth) ||
             s_count(self, S_REFUSED_COUNT, &out->refused) ||
             (m.retained > 0 && s_retained_from(self, m.last_ack, 0, &out->retained_from));
    out->next_seq = m.next_seq;
    out->last_ack = m.last_ack;
    out->retained = m.retained;
    out->retained_bytes = m.retained_bytes;
    out->base = m.base;
    memcpy(out->incarnation, m.incarnation, sizeof out->incarnation);
    out->cur_retained = m.retained;
    out->cur_retained_from = out->retained_from;
    if (!rc && m.retained > 0 && out->retained_from <= m.base)
        rc = s_retained_now(self, &m, out);
    out->cur_depth = out->depth;
    if (!rc && m.base > 0 && out->depth > 0)
        rc = s_depth_now(self, &m, out);
    if (s_run(self->st[S_COMMIT])) {
        s_rollback(self);
        return -1;
    }
    return rc ? -1 : 0;
}

int64_t agent_outbox_depth(agent_outbox_t *self)
{
    int64_t depth;
    return s_count(self, S_COUNT, &depth) ? -1 : depth;
}

int agent_outbox_refused_last(agent_outbox_t *self, agent_refusal_t *out, size_t max)
{
    if (max == 0)
        return 0;
    if (max > INT_MAX)
        max = INT_MAX;
    sqlite3_stmt *st = s_stmt(self, S_REFUSED_LAST);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 2);
        out[n].seq = (uint64_t)sqlite3_column_int64(st, 0);
        out[n].reason = (ro_reason_t)sqlite3_column_int(st, 1);
        snprintf(out[n].text, sizeof out[n].text, "%s", text ? text : "");
        out[n].at = sqlite3_column_int64(st, 3);
        n++;
    }
    s_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int agent_outbox_changed(agent_outbox_t *self)
{
    int64_t v;
    if (s_count(self, S_DATA_VERSION, &v))
        return -1;
    int changed = v != self->data_version;
    self->data_version = v;
    return changed;
}

int agent_outbox_incarnation(agent_outbox_t *self, uint8_t out[AGENT_INCARNATION_LEN])
{
    sqlite3_stmt *st = s_stmt(self, S_INCARNATION);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    int ok = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == AGENT_INCARNATION_LEN;
    if (ok)
        memcpy(out, sqlite3_column_blob(st, 0), AGENT_INCARNATION_LEN);
    s_reset(st);
    return ok ? 0 : -1;
}

const char *agent_outbox_unit(const agent_outbox_t *self)
{
    return self->unit;
}

const char *agent_outbox_errmsg(const agent_outbox_t *self)
{
    return sqlite3_errmsg(self->db);
}
