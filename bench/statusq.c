/* statusq: status query latency. One DEALER asks the hub's status socket one
 * question at a time (a unit, the province, the laggards) and times each
 * request from send to reply; the reply is decoded after the clock stops, to
 * count answers and refusals. It reads nothing else of the hub. */
#include "bench_util.h"
#include "ro_status.h"
#include "ro_registry.h"
#include "ro_time.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define REPLY_TIMEOUT_MS 10000

static void s_usage(FILE *out)
{
    fprintf(out, "usage: statusq --endpoint EP --query unit|province|laggards [--count N]\n"
                 "       statusq --endpoint EP --metric NAME   (prints one of the hub's metrics)\n"
                 "               [--duration S] [--limit N] [--registry FILE] [--label TEXT]\n"
                 "               [--as-of YYYYMMDD (then a day earlier each, 28 round)]\n"
                 "               [--known-on YYYYMMDD (each as known then)]\n"
                 "               [--server-key FILE --public FILE --secret FILE]\n"
                 "\n"
                 "Asks the hub's status socket N times (200), one request at a time, for at most\n"
                 "S seconds (no bound by default); prints one\n"
                 "line: answered, not answered (status != 0, first error), p50/p99/max in us.\n"
                 "Unit queries pick units of the registry at random; laggards ask for the\n"
                 "worst N (20, as rolloutctl does; 0 = all).\n");
}

/* What the command line asks for. */
typedef struct {
    const char *endpoint; /* the hub's status socket */
    const char *query;    /* unit, province, laggards, or metrics (--metric) */
    const char *registry; /* units.csv, for unit queries */
    const char *label;    /* first field of the result line */
    const char *server_f; /* CURVE: the hub's public key file, or NULL: CURVE off */
    const char *public_f; /* CURVE: our public key file */
    const char *secret_f; /* CURVE: our secret key file */
    const char *metric;   /* --metric: the metric to print, or NULL */
    double duration;      /* at most this many seconds of requests; 0: no bound */
    long count;           /* requests to time */
    long limit;           /* laggards: the worst N; 0: all */
    uint32_t as_of;       /* --as-of: YYYYMMDD, then each request a day earlier, 28
                             days round (the hub keeps the last date's answer: each
                             question is a new date); 0: today */
    uint32_t known_on;    /* --known-on: YYYYMMDD, every request; 0: now */
    ro_query_t q;         /* query as the wire's enum */
} s_opts_t;

/* What the timed requests came to. */
typedef struct {
    bench_hist_t *hist;    /* send-to-reply time of each timed request */
    uint64_t answered;     /* replies with status 0 */
    uint64_t refused;      /* replies with another status, or undecodable */
    uint64_t lost;         /* requests with no reply in REPLY_TIMEOUT_MS */
    uint64_t bytes;        /* reply bytes, in all */
    char first_error[160]; /* the first refusal's text, or "" */
} s_tally_t;

/* Parse the command line into o. Prints the usage and exits 0 on --help;
 * returns -1 when the options are wrong or missing. */
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"query", required_argument, NULL, 'q'},
        {"count", required_argument, NULL, 'n'},
        {"registry", required_argument, NULL, 'r'},
        {"label", required_argument, NULL, 'l'},
        {"server-key", required_argument, NULL, 's'},
        {"public", required_argument, NULL, 'p'},
        {"secret", required_argument, NULL, 'k'},
        {"duration", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'L'},
        {"metric", required_argument, NULL, 'm'},
        {"as-of", required_argument, NULL, 'a'},
        {"known-on", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->label = "status";
    o->count = 200;
    o->limit = 20;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o->endpoint = optarg; break;
        case 'q': o->query = optarg; break;
        case 'n': o->count = atol(optarg); break;
        case 'r': o->registry = optarg; break;
        case 'l': o->label = optarg; break;
        case 's': o->server_f = optarg; break;
        case 'p': o->public_f = optarg; break;
        case 'k': o->secret_f = optarg; break;
        case 'd': o->duration = atof(optarg); break;
        case 'L': o->limit = atol(optarg); break;
        case 'a': o->as_of = (uint32_t)atol(optarg); break;
        case 'K': o->known_on = (uint32_t)atol(optarg); break;
        case 'm':
            o->metric = optarg;
            o->query = "metrics";
            o->count = 1;
            break;
        case 'h': s_usage(stdout); exit(0);
        default: return -1;
        }
    }
    const char *query = o->query;
    o->q = RO_QUERY_NONE;
    if (query && !strcmp(query, "unit"))
        o->q = RO_QUERY_UNIT;
    else if (query && !strcmp(query, "province"))
        o->q = RO_QUERY_PROVINCE;
    else if (query && !strcmp(query, "laggards"))
        o->q = RO_QUERY_LAGGARDS;
    else if (query && !strcmp(query, "metrics"))
        o->q = RO_QUERY_METRICS;
    if (!o->endpoint || o->q == RO_QUERY_NONE || o->count < 1 ||
        (o->q == RO_QUERY_UNIT && !o->registry) || (o->server_f && (!o->public_f || !o->secret_f)))
        return -1;
    return 0;
}

/* A DEALER connected to the status socket, a CURVE client when asked.
 * Returns it, or NULL with the reason on stderr. */
static void *s_connect(void *ctx, const s_opts_t *o)
{
    char err[512];
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    int64_t maxmsg = -1;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (o->server_f) {
        char server[41], pub[41], sec[41];
        if (bench_key_file(o->server_f, server, err, sizeof err) ||
            bench_key_file(o->public_f, pub, err, sizeof err) ||
            bench_key_file(o->secret_f, sec, err, sizeof err) ||
            bench_curve_client(sock, server, pub, sec)) {
            fprintf(stderr, "statusq: %s\n", err);
            return NULL;
        }
    }
    if (zmq_connect(sock, o->endpoint) != 0) {
        fprintf(stderr, "statusq: %s: %s\n", o->endpoint, zmq_strerror(zmq_errno()));
        return NULL;
    }
    return sock;
}

/* Encode the next request into body (512 bytes); unit queries pick a unit
 * of reg at random from seed. Returns its length. */
static size_t s_request(const s_opts_t *o, const ro_registry_t *reg, unsigned *seed, uint8_t *body)
{
    ro_status_request_t req = ro_status_request(o->q);
    static unsigned asked;
    if (o->as_of)
        req.as_of = ro_date_of((ro_date_days(o->as_of) - (int64_t)(asked++ % 28)) * 86400);
    req.known_on = o->known_on;
    if (o->q == RO_QUERY_LAGGARDS)
        req.limit = (uint32_t)o->limit;
    if (o->q == RO_QUERY_UNIT)
        snprintf(req.key, sizeof req.key, "%s",
                 ro_registry_at(reg, (size_t)rand_r(seed) % ro_registry_count(reg))->id);
    return (size_t)ro_status_request_encode(&req, body, 512); /* a unit id fits */
}

/* Print the value of the metric o asked for in rep (-1 if it has none). */
static void s_print_metric(const s_opts_t *o, const ro_status_reply_t *rep)
{
    double v = -1;
    for (size_t k = 0; rep && k < rep->n_metrics; k++)
        if (rep->metrics[k].name && !strcmp(rep->metrics[k].name, o->metric))
            v = rep->metrics[k].value;
    printf("metric=%s value=%.0f\n", o->metric, v);
}

/* Count one timed reply (rep NULL if undecodable) of size bytes, ns after
 * its request was sent. */
static void s_tally_add(s_tally_t *t, const ro_status_reply_t *rep, size_t size, int64_t ns)
{
    bench_hist_add(t->hist, ns);
    t->bytes += size;
    if (rep && rep->status == 0) {
        t->answered++;
    } else {
        t->refused++;
        if (!t->first_error[0])
            snprintf(t->first_error, sizeof t->first_error, "%s",
                     rep && rep->error ? rep->error : "undecodable reply");
    }
}

/* Ask one question at a time: five to warm the connection and the hub's
 * caches, then o->count timed ones, for at most o->duration seconds. With
 * --metric, the last reply's metric is printed. Stops at the first send or
 * receive failure, or at the first reply that does not come (counted lost:
 * a DEALER would mismatch replies from there on). */
static void s_ask(void *sock, const s_opts_t *o, const ro_registry_t *reg, s_tally_t *t)
{
    unsigned seed = 12345;
    int64_t stop_ns = 0;
    for (long i = -5; i < o->count; i++) {
        if (i == 0 && o->duration > 0)
            stop_ns = bench_now_ns() + (int64_t)(o->duration * 1e9);
        if (stop_ns && bench_now_ns() >= stop_ns)
            break;
        uint8_t body[512];
        size_t len = s_request(o, reg, &seed, body);
        int64_t t0 = bench_now_ns();
        if (zmq_send(sock, body, len, 0) < 0)
            break;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, REPLY_TIMEOUT_MS) <= 0) {
            t->lost++;
            break;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, 0) < 0)
            break;
        int64_t t1 = bench_now_ns();
        ro_status_reply_t *rep = ro_status_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                                        RO_DECODE_SKIP_UNKNOWN, NULL, 0);
        int last_metric = o->metric && i == o->count - 1;
        if (last_metric)
            s_print_metric(o, rep);
        else if (i >= 0)
            s_tally_add(t, rep, zmq_msg_size(&msg), t1 - t0);
        ro_status_reply_free(&rep);
        zmq_msg_close(&msg);
        if (last_metric)
            break;
    }
}

/* Print the result line; spaces, newlines and '=' in the first error
 * become '_' so that it stays one key=value field. */
static void s_print_result(const s_opts_t *o, s_tally_t *t)
{
    const bench_hist_t *hist = t->hist;
    for (char *p = t->first_error; *p; p++)
        if (*p == ' ' || *p == '\n' || *p == '=')
            *p = '_';
    printf("label=%s query=%s count=%" PRIu64 " answered=%" PRIu64 " refused=%" PRIu64
           " lost=%" PRIu64 " reply_bytes=%" PRIu64 " p50_us=%.1f p99_us=%.1f max_us=%.1f"
           " error=%s\n",
           o->label, o->query, hist->count, t->answered, t->refused, t->lost,
           hist->count ? t->bytes / hist->count : 0, (double)bench_hist_quantile(hist, 0.50) / 1e3,
           (double)bench_hist_quantile(hist, 0.99) / 1e3, (double)hist->max_ns / 1e3,
           t->first_error[0] ? t->first_error : "-");
}

int main(int argc, char **argv)
{
    s_opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    char err[512];
    ro_registry_t *reg = NULL;
    if (o.registry && !(reg = ro_registry_load(o.registry, err, sizeof err))) {
        fprintf(stderr, "statusq: %s\n", err);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *sock = s_connect(ctx, &o);
    if (!sock)
        return 1;
    s_tally_t t;
    memset(&t, 0, sizeof t);
    t.hist = calloc(1, sizeof *t.hist);
    s_ask(sock, &o, reg, &t);
    if (!o.metric)
        s_print_result(&o, &t);
    free(t.hist);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    ro_registry_destroy(&reg);
    return o.metric || !t.lost ? 0 : 1;
}
