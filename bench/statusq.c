/* statusq: status query latency. One DEALER asks the hub's status socket one
 * question at a time (a unit, the province, the laggards) and times each
 * request from send to reply; the reply is decoded after the clock stops, to
 * count answers and refusals. It reads nothing else of the hub. */
#include "bench_util.h"
#include "ro_pb.h"
#include "ro_registry.h"

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
                 "               [--server-key FILE --public FILE --secret FILE]\n"
                 "\n"
                 "Asks the hub's status socket N times (200), one request at a time, for at most\n"
                 "S seconds (no bound by default); prints one\n"
                 "line: answered, not answered (status != 0, first error), p50/p99/max in us.\n"
                 "Unit queries pick units of the registry at random; laggards ask for the\n"
                 "worst N (20, as rolloutctl does; 0 = all).\n");
}

int main(int argc, char **argv)
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long limit = 20;
    const char *metric = NULL;
    double duration = 0;
    const char *endpoint = NULL, *query = NULL, *registry = NULL, *label = "status";
    const char *server_f = NULL, *public_f = NULL, *secret_f = NULL;
    long count = 200;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 'q': query = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'r': registry = optarg; break;
        case 'l': label = optarg; break;
        case 's': server_f = optarg; break;
        case 'p': public_f = optarg; break;
        case 'k': secret_f = optarg; break;
        case 'd': duration = atof(optarg); break;
        case 'L': limit = atol(optarg); break;
        case 'm':
            metric = optarg;
            query = "metrics";
            count = 1;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    Rollout__Query q = ROLLOUT__QUERY__QUERY_NONE;
    if (query && !strcmp(query, "unit"))
        q = ROLLOUT__QUERY__QUERY_UNIT;
    else if (query && !strcmp(query, "province"))
        q = ROLLOUT__QUERY__QUERY_PROVINCE;
    else if (query && !strcmp(query, "laggards"))
        q = ROLLOUT__QUERY__QUERY_LAGGARDS;
    else if (query && !strcmp(query, "metrics"))
        q = ROLLOUT__QUERY__QUERY_METRICS;
    if (!endpoint || q == ROLLOUT__QUERY__QUERY_NONE || count < 1 ||
        (q == ROLLOUT__QUERY__QUERY_UNIT && !registry) || (server_f && (!public_f || !secret_f))) {
        s_usage(stderr);
        return 2;
    }
    char err[512];
    ro_registry_t *reg = NULL;
    if (registry && !(reg = ro_registry_load(registry, err, sizeof err))) {
        fprintf(stderr, "statusq: %s\n", err);
        return 1;
    }

    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    int64_t maxmsg = -1;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (server_f) {
        char server[41], pub[41], sec[41];
        if (bench_key_file(server_f, server, err, sizeof err) ||
            bench_key_file(public_f, pub, err, sizeof err) ||
            bench_key_file(secret_f, sec, err, sizeof err) ||
            bench_curve_client(sock, server, pub, sec)) {
            fprintf(stderr, "statusq: %s\n", err);
            return 1;
        }
    }
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "statusq: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }

    bench_hist_t *hist = calloc(1, sizeof *hist);
    uint64_t answered = 0, refused = 0, lost = 0, bytes = 0;
    char first_error[160] = "";
    unsigned seed = 12345;
    size_t nunits = reg ? ro_registry_count(reg) : 0;
    /* a few requests first, so the connection and the hub's caches are warm */
    int64_t stop_ns = 0;
    for (long i = -5; i < count; i++) {
        if (i == 0 && duration > 0)
            stop_ns = bench_now_ns() + (int64_t)(duration * 1e9);
        if (stop_ns && bench_now_ns() >= stop_ns)
            break;
        Rollout__StatusRequest req = ROLLOUT__STATUS_REQUEST__INIT;
        req.version = 1;
        req.query = q;
        if (q == ROLLOUT__QUERY__QUERY_LAGGARDS)
            req.limit = (uint32_t)limit;
        if (q == ROLLOUT__QUERY__QUERY_UNIT)
            req.key = (char *)ro_registry_at(reg, (size_t)rand_r(&seed) % nunits)->id;
        uint8_t body[512];
        size_t len = rollout__status_request__pack(&req, body);
        int64_t t0 = bench_now_ns();
        if (zmq_send(sock, body, len, 0) < 0)
            break;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, REPLY_TIMEOUT_MS) <= 0) {
            lost++;
            break; /* a DEALER would mismatch replies from here on */
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, 0) < 0)
            break;
        int64_t t1 = bench_now_ns();
        Rollout__StatusReply *rep =
            rollout__status_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        if (metric && i == count - 1) {
            double v = -1;
            for (size_t k = 0; rep && k < rep->n_metrics; k++)
                if (rep->metrics[k]->name && !strcmp(rep->metrics[k]->name, metric))
                    v = rep->metrics[k]->value;
            printf("metric=%s value=%.0f\n", metric, v);
            rollout__status_reply__free_unpacked(rep, NULL);
            zmq_msg_close(&msg);
            break;
        }
        if (i >= 0) {
            bench_hist_add(hist, t1 - t0);
            bytes += zmq_msg_size(&msg);
            if (rep && rep->status == 0) {
                answered++;
            } else {
                refused++;
                if (!first_error[0])
                    snprintf(first_error, sizeof first_error, "%s",
                             rep && rep->error ? rep->error : "undecodable reply");
            }
        }
        if (rep)
            rollout__status_reply__free_unpacked(rep, NULL);
        zmq_msg_close(&msg);
    }
    if (metric) {
        zmq_close(sock);
        zmq_ctx_term(ctx);
        free(hist);
        ro_registry_destroy(&reg);
        return 0;
    }
    for (char *p = first_error; *p; p++)
        if (*p == ' ' || *p == '\n' || *p == '=')
            *p = '_';
    printf("label=%s query=%s count=%" PRIu64 " answered=%" PRIu64 " refused=%" PRIu64
           " lost=%" PRIu64 " reply_bytes=%" PRIu64 " p50_us=%.1f p99_us=%.1f max_us=%.1f"
           " error=%s\n",
           label, query, hist->count, answered, refused, lost,
           hist->count ? bytes / hist->count : 0, (double)bench_hist_quantile(hist, 0.50) / 1e3,
           (double)bench_hist_quantile(hist, 0.99) / 1e3, (double)hist->max_ns / 1e3,
           first_error[0] ? first_error : "-");
    free(hist);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    ro_registry_destroy(&reg);
    return lost ? 1 : 0;
}
