/* ceiling: the least work that keeps rollout's promise ("acknowledged means
 * on disk"): a raw libzmq ROUTER drains what is waiting, inserts every
 * message body into SQLite in one transaction with the hub's journal mode
 * (WAL) and synchronous level, commits, then sends one ack per message.
 * No decoding, validation, ordering, dedup or aggregates: that is what
 * rollout's hub adds, and what bench/run measures it against. */
#include "bench_util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ACK_LEN 20 /* about the size of an encoded HubMessage{Ack} */

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: ceiling --bind EP --db FILE [--synchronous normal|full|extra]\n"
            "               [--batch N (65536)] [--curve-secret FILE] [--endpoint-file FILE]\n"
            "\n"
            "The physical ceiling of rollout's ingest: ROUTER -> one SQLite transaction per\n"
            "drained batch (WAL, the given synchronous level, FULL by default) -> one ack per\n"
            "message. Runs until SIGTERM; prints what it stored on stderr.\n");
}

static int s_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "ceiling: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* What the command line asks for. */
typedef struct {
    const char *bind;   /* endpoint to bind the ROUTER to */
    const char *dbpath; /* the SQLite file the messages go to */
    const char *sync;   /* PRAGMA synchronous: normal, full or extra */
    const char *secret; /* CURVE server secret key file, or NULL: CURVE off */
    const char *epfile; /* where to write the bound endpoint, or NULL */
    long batch;         /* most messages per transaction */
} s_opts_t;

/* The ROUTER, the store and the counts of one run. */
typedef struct {
    void *ctx;                     /* ZeroMQ context */
    void *sock;                    /* the ROUTER the clients send to */
    sqlite3 *db;                   /* the store */
    sqlite3_stmt *ins;             /* INSERT one body */
    sqlite3_stmt *begin;           /* BEGIN IMMEDIATE */
    sqlite3_stmt *commit;          /* COMMIT */
    long batch;                    /* capacity of rid and body */
    zmq_msg_t *rid;                /* routing ids of the drained batch */
    zmq_msg_t *body;               /* bodies of the drained batch */
    unsigned long long stored;     /* messages committed */
    unsigned long long batches;    /* transactions committed */
    unsigned long long unroutable; /* acks that could not be sent */
} s_ceiling_t;

/* Parse the command line into o. Prints the usage and exits 0 on --help;
 * returns -1 when the options are wrong or missing. */
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"bind", required_argument, NULL, 'b'},
        {"db", required_argument, NULL, 'd'},
        {"synchronous", required_argument, NULL, 's'},
        {"batch", required_argument, NULL, 'n'},
        {"curve-secret", required_argument, NULL, 'k'},
        {"endpoint-file", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->sync = "full";
    o->batch = 65536; /* the hub's batch_max default */
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o->bind = optarg; break;
        case 'd': o->dbpath = optarg; break;
        case 's': o->sync = optarg; break;
        case 'n': o->batch = atol(optarg); break;
        case 'k': o->secret = optarg; break;
        case 'e': o->epfile = optarg; break;
        case 'h': s_usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (!o->bind || !o->dbpath || o->batch < 1 ||
        (strcmp(o->sync, "normal") && strcmp(o->sync, "full") && strcmp(o->sync, "extra")))
        return -1;
    return 0;
}

/* Open the store in WAL with the asked synchronous level, create its table
 * and prepare the statements. Returns 0, or -1 with the reason on stderr. */
static int s_db_open(s_ceiling_t *self, const s_opts_t *o)
{
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous = %s", o->sync);
    if (sqlite3_open(o->dbpath, &self->db) != SQLITE_OK ||
        s_exec(self->db, "PRAGMA journal_mode = WAL") || s_exec(self->db, pragma) ||
        s_exec(self->db, "CREATE TABLE IF NOT EXISTS msgs (body BLOB NOT NULL)") ||
        sqlite3_prepare_v2(self->db, "INSERT INTO msgs (body) VALUES (?1)", -1, &self->ins, NULL) ||
        sqlite3_prepare_v2(self->db, "BEGIN IMMEDIATE", -1, &self->begin, NULL) ||
        sqlite3_prepare_v2(self->db, "COMMIT", -1, &self->commit, NULL)) {
        fprintf(stderr, "ceiling: %s: %s\n", o->dbpath,
                self->db ? sqlite3_errmsg(self->db) : "cannot open");
        return -1;
    }
    return 0;
}

/* Make the ROUTER (a CURVE server when asked), bind it and write the bound
 * endpoint to the endpoint file. Returns 0, or -1 with the reason on stderr. */
static int s_sock_open(s_ceiling_t *self, const s_opts_t *o)
{
    self->ctx = zmq_ctx_new();
    self->sock = zmq_socket(self->ctx, ZMQ_ROUTER);
    int one = 1, linger = 0, unbounded = 0;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    /* one ack per message can exceed the default 1000 queued per peer; the
     * clients' windows bound them instead */
    zmq_setsockopt(self->sock, ZMQ_SNDHWM, &unbounded, sizeof unbounded);
    zmq_setsockopt(self->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (o->secret) {
        char key[41], err[512];
        if (bench_key_file(o->secret, key, err, sizeof err) ||
            zmq_setsockopt(self->sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, key, 40)) {
            fprintf(stderr, "ceiling: CURVE: %s\n", err);
            return -1;
        }
    }
    if (zmq_bind(self->sock, o->bind) != 0) {
        fprintf(stderr, "ceiling: bind %s: %s\n", o->bind, zmq_strerror(zmq_errno()));
        return -1;
    }
    char bound[256];
    size_t blen = sizeof bound;
    zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, bound, &blen);
    if (o->epfile && bench_write_endpoint(o->epfile, bound) != 0) {
        fprintf(stderr, "ceiling: cannot write %s\n", o->epfile);
        return -1;
    }
    return 0;
}

/* SIGTERM and SIGINT end the serve loop after the batch in hand. */
static void s_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Receive what is waiting, up to a batch, into rid and body without
 * blocking. Returns how many messages were received. */
static long s_drain(s_ceiling_t *self)
{
    zmq_msg_t *rid = self->rid, *body = self->body;
    long n = 0;
    while (n < self->batch) {
        zmq_msg_init(&rid[n]);
        if (zmq_msg_recv(&rid[n], self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid[n]);
            break;
        }
        zmq_msg_init(&body[n]);
        zmq_msg_recv(&body[n], self->sock, ZMQ_DONTWAIT); /* the rest of a message is here */
        while (zmq_msg_more(&body[n])) {                  /* none from loadgen; drop extras */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, self->sock, ZMQ_DONTWAIT);
            int more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more)
                break;
        }
        n++;
    }
    return n;
}

/* Insert the n drained bodies in one transaction and commit it. Returns 0,
 * or -1 with the reason on stderr. */
static int s_store(s_ceiling_t *self, long n)
{
    int ok = sqlite3_step(self->begin) == SQLITE_DONE;
    sqlite3_reset(self->begin);
    for (long i = 0; ok && i < n; i++) {
        sqlite3_bind_blob(self->ins, 1, zmq_msg_data(&self->body[i]),
                          (int)zmq_msg_size(&self->body[i]), SQLITE_STATIC);
        ok = sqlite3_step(self->ins) == SQLITE_DONE;
        sqlite3_reset(self->ins);
    }
    ok = ok && sqlite3_step(self->commit) == SQLITE_DONE;
    sqlite3_reset(self->commit);
    if (!ok) {
        fprintf(stderr, "ceiling: store failed: %s\n", sqlite3_errmsg(self->db));
        return -1;
    }
    return 0;
}

/* Send one ack to the sender of each of the n committed messages, counting
 * those that cannot be routed, and release the bodies. */
static void s_ack(s_ceiling_t *self, long n)
{
    static const uint8_t ack[ACK_LEN] = {0x0a, 0x12, 0x0a, 0x0d, '4', '6', '0', '0',  '0',  '0',
                                         '-',  '0',  '0',  '0',  '0', '0', '1', 0x10, 0x01, 0x00};
    for (long i = 0; i < n; i++) {
        if (zmq_msg_send(&self->rid[i], self->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&self->rid[i]);
            self->unroutable++;
        } else if (zmq_send(self->sock, ack, sizeof ack, ZMQ_DONTWAIT) < 0) {
            self->unroutable++;
        }
        zmq_msg_close(&self->body[i]);
    }
}

/* Drain, store and ack batches until a signal. Returns 0, or 1 when the
 * socket or the store failed. */
static int s_serve(s_ceiling_t *self)
{
    while (!s_stop) {
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return 1;
        }
        long n = s_drain(self);
        if (n == 0)
            continue;
        if (s_store(self, n) != 0)
            return 1;
        self->stored += (unsigned long long)n;
        self->batches++;
        s_ack(self, n);
    }
    return 0;
}

int main(int argc, char **argv)
{
    s_opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    s_ceiling_t self;
    memset(&self, 0, sizeof self);
    if (s_db_open(&self, &o) != 0 || s_sock_open(&self, &o) != 0)
        return 1;
    s_on_signals();
    self.batch = o.batch;
    self.rid = calloc((size_t)o.batch, sizeof *self.rid);
    self.body = calloc((size_t)o.batch, sizeof *self.body);
    if (!self.rid || !self.body)
        return 1;
    int rc = s_serve(&self);
    fprintf(stderr, "ceiling: stored %llu messages in %llu transactions (%llu acks unroutable)\n",
            self.stored, self.batches, self.unroutable);
    free(self.rid);
    free(self.body);
    zmq_close(self.sock);
    zmq_ctx_term(self.ctx);
    sqlite3_finalize(self.ins);
    sqlite3_finalize(self.begin);
    sqlite3_finalize(self.commit);
    sqlite3_close(self.db);
    return rc;
}
