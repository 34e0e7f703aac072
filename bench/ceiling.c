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

int main(int argc, char **argv)
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
    const char *bind = NULL, *dbpath = NULL, *secret = NULL, *epfile = NULL, *sync = "full";
    long batch = 65536; /* the hub's batch_max default */
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': bind = optarg; break;
        case 'd': dbpath = optarg; break;
        case 's': sync = optarg; break;
        case 'n': batch = atol(optarg); break;
        case 'k': secret = optarg; break;
        case 'e': epfile = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!bind || !dbpath || batch < 1 ||
        (strcmp(sync, "normal") && strcmp(sync, "full") && strcmp(sync, "extra"))) {
        s_usage(stderr);
        return 2;
    }

    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous = %s", sync);
    if (sqlite3_open(dbpath, &db) != SQLITE_OK || s_exec(db, "PRAGMA journal_mode = WAL") ||
        s_exec(db, pragma) || s_exec(db, "CREATE TABLE IF NOT EXISTS msgs (body BLOB NOT NULL)") ||
        sqlite3_prepare_v2(db, "INSERT INTO msgs (body) VALUES (?1)", -1, &ins, NULL) ||
        sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL)) {
        fprintf(stderr, "ceiling: %s: %s\n", dbpath, db ? sqlite3_errmsg(db) : "cannot open");
        return 1;
    }

    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, linger = 0, unbounded = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    /* one ack per message can exceed the default 1000 queued per peer; the
     * clients' windows bound them instead */
    zmq_setsockopt(sock, ZMQ_SNDHWM, &unbounded, sizeof unbounded);
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (secret) {
        char key[41], err[512];
        if (bench_key_file(secret, key, err, sizeof err) ||
            zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, key, 40)) {
            fprintf(stderr, "ceiling: CURVE: %s\n", err);
            return 1;
        }
    }
    if (zmq_bind(sock, bind) != 0) {
        fprintf(stderr, "ceiling: bind %s: %s\n", bind, zmq_strerror(zmq_errno()));
        return 1;
    }
    char bound[256];
    size_t blen = sizeof bound;
    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &blen);
    if (epfile && bench_write_endpoint(epfile, bound) != 0) {
        fprintf(stderr, "ceiling: cannot write %s\n", epfile);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    zmq_msg_t *rid = calloc((size_t)batch, sizeof *rid);
    zmq_msg_t *body = calloc((size_t)batch, sizeof *body);
    if (!rid || !body)
        return 1;
    static const uint8_t ack[ACK_LEN] = {0x0a, 0x12, 0x0a, 0x0d, '4', '6', '0', '0',  '0',  '0',
                                         '-',  '0',  '0',  '0',  '0', '0', '1', 0x10, 0x01, 0x00};
    unsigned long long stored = 0, batches = 0, unroutable = 0;
    int rc = 0;
    while (!s_stop) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = 1;
            break;
        }
        long n = 0;
        while (n < batch) {
            zmq_msg_init(&rid[n]);
            if (zmq_msg_recv(&rid[n], sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid[n]);
                break;
            }
            zmq_msg_init(&body[n]);
            zmq_msg_recv(&body[n], sock, ZMQ_DONTWAIT); /* the rest of a message is here */
            while (zmq_msg_more(&body[n])) {            /* none from loadgen; drop extras */
                zmq_msg_t extra;
                zmq_msg_init(&extra);
                zmq_msg_recv(&extra, sock, ZMQ_DONTWAIT);
                int more = zmq_msg_more(&extra);
                zmq_msg_close(&extra);
                if (!more)
                    break;
            }
            n++;
        }
        if (n == 0)
            continue;
        int ok = sqlite3_step(begin) == SQLITE_DONE;
        sqlite3_reset(begin);
        for (long i = 0; ok && i < n; i++) {
            sqlite3_bind_blob(ins, 1, zmq_msg_data(&body[i]), (int)zmq_msg_size(&body[i]),
                              SQLITE_STATIC);
            ok = sqlite3_step(ins) == SQLITE_DONE;
            sqlite3_reset(ins);
        }
        ok = ok && sqlite3_step(commit) == SQLITE_DONE;
        sqlite3_reset(commit);
        if (!ok) {
            fprintf(stderr, "ceiling: store failed: %s\n", sqlite3_errmsg(db));
            rc = 1;
            break;
        }
        stored += (unsigned long long)n;
        batches++;
        for (long i = 0; i < n; i++) {
            if (zmq_msg_send(&rid[i], sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid[i]);
                unroutable++;
            } else if (zmq_send(sock, ack, sizeof ack, ZMQ_DONTWAIT) < 0) {
                unroutable++;
            }
            zmq_msg_close(&body[i]);
        }
    }
    fprintf(stderr, "ceiling: stored %llu messages in %llu transactions (%llu acks unroutable)\n",
            stored, batches, unroutable);
    free(rid);
    free(body);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    sqlite3_finalize(ins);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    return rc;
}
