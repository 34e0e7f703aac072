/* ro-sub: a test subscriber of the hub's feed that keeps the Clone state
 * (lib/ro_clone) of the province, levels and divisions and prints it as
 * JSON at the end; --state FILE also writes it whenever a heartbeat finds
 * it caught up. Used by the feed tests; not installed. */
#include "ro_clone.h"
#include "ro_config.h"
#include "ro_json.h"
#include "ro_status.h"
#include "ro_registry.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(void)
{
    fprintf(stderr,
            "usage: ro-sub --feed ENDPOINT --status ENDPOINT [OPTIONS]\n"
            "  --topic PREFIX     subscribe to PREFIX only (repeatable; default: everything)\n"
            "  --for SEC          stop after SEC seconds (default: on SIGTERM/SIGINT)\n"
            "  --state FILE       write the state to FILE (atomically) when caught up\n"
            "  --rcvhwm N         the SUB socket's receive queue, in messages (default 1000)\n"
            "  --rcvbuf BYTES     the SUB socket's kernel receive buffer (default: the OS's)\n"
            "  --config FILE      rolloutctl's ctl.ini for CURVE keys (default:\n"
            "                     $ROLLOUT_CTL_CONFIG if set; else plain TCP)\n"
            "  --verbose          log every resync and its reason on stderr\n");
    exit(2);
}

typedef struct {
    void *ctx;            /* ZeroMQ context */
    const char *status;   /* status endpoint */
    const char *curve[3]; /* server public, own public, own secret; NULL = plain */
    int verbose;          /* log resyncs */
} s_sub_t;

static int s_curve(const s_sub_t *s, void *sock)
{
    char err[256];
    if (s->curve[0] &&
        ro_sock_curve_client(sock, s->curve[0], s->curve[1], s->curve[2], err, sizeof err)) {
        fprintf(stderr, "ro-sub: %s\n", err);
        return -1;
    }
    return 0;
}

/* One status request on a fresh DEALER; NULL on no answer within 2 s. */
static ro_status_reply_t *s_ask(const s_sub_t *s, ro_query_t q, const char *key)
{
    ro_status_request_t req = ro_status_request(q);
    snprintf(req.key, sizeof req.key, "%s", key ? key : "");
    uint8_t buf[RO_STATUS_REQUEST_MAX];
    size_t len = (size_t)ro_status_request_encode(&req, buf, sizeof buf);
    void *sock = zmq_socket(s->ctx, ZMQ_DEALER);
    int linger = 0;
    int64_t maxmsg = 64 << 20;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    ro_status_reply_t *r = NULL;
    if (s_curve(s, sock) == 0 && zmq_connect(sock, s->status) == 0 &&
        zmq_send(sock, buf, len, 0) >= 0) {
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 2000) == 1) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) >= 0)
                r = ro_status_reply_decode(zmq_msg_data(&m), zmq_msg_size(&m),
                                           RO_DECODE_SKIP_UNKNOWN, NULL, 0);
            zmq_msg_close(&m);
        }
    }
    zmq_close(sock);
    return r;
}

/* Drain what is queued (it predates the snapshot), then take the snapshot. */
static int s_sync(const s_sub_t *s, ro_clone_t *clone, void *sub)
{
    ro_clone_reset(clone);
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close(&m);
    struct {
        ro_query_t q;
        const char *key;
    } asks[] = {
        {RO_QUERY_PROVINCE, NULL},
        {RO_QUERY_LEVEL, ""},
        {RO_QUERY_DIVISIONS, NULL},
    };
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        ro_status_reply_t *r = s_ask(s, asks[i].q, asks[i].key);
        int rc = r ? ro_clone_snapshot(clone, r) : -1;
        if (r)
            ro_status_reply_free(&r);
        if (rc)
            return -1;
    }
    return ro_clone_start(clone, ro_time_mono_ms());
}

static char *s_state_json(const ro_clone_t *clone)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_buf_printf(
        &b, "{\"epoch\":%llu,\"seq\":%llu,\"syncs\":%llu,\"applied\":%llu,\"synced\":%s",
        (unsigned long long)ro_clone_epoch(clone), (unsigned long long)ro_clone_seq(clone),
        (unsigned long long)ro_clone_syncs(clone), (unsigned long long)ro_clone_applied(clone),
        ro_clone_synced(clone) ? "true" : "false");
    const ro_status_scope_t *p = ro_clone_scope(clone, "province");
    ro_buf_puts(&b, ",\"province\":");
    if (p)
        ro_json_scope(&b, p);
    else
        ro_buf_puts(&b, "null");
    ro_buf_puts(&b, ",\"levels\":[");
    for (int l = 0, k = 0; l < RO_LEVEL_COUNT; l++) {
        char topic[RO_FEED_TOPIC_MAX];
        ro_feed_topic("level", ro_level_name((ro_level_t)l), topic, sizeof topic);
        const ro_status_scope_t *s = ro_clone_scope(clone, topic);
        if (!s)
            continue;
        if (k++)
            ro_buf_puts(&b, ",");
        ro_json_scope(&b, s);
    }
    ro_buf_puts(&b, "],\"divisions\":[");
    for (size_t d = 0, k = 0; d < RO_DIVISION_COUNT; d++) {
        char id[16], topic[RO_FEED_TOPIC_MAX];
        snprintf(id, sizeof id, "%06u", (unsigned)ro_division_code(d));
        ro_feed_topic("division", id, topic, sizeof topic);
        const ro_status_scope_t *s = ro_clone_scope(clone, topic);
        if (!s)
            continue;
        if (k++)
            ro_buf_puts(&b, ",");
        ro_json_scope(&b, s);
    }
    ro_buf_puts(&b, "],\"events\":[");
    for (size_t i = 0; i < ro_clone_event_count(clone); i++) {
        const ro_clone_event_t *e = ro_clone_event_at(clone, i);
        ro_buf_printf(&b, "%s{\"unit\":", i ? "," : "");
        ro_json_str(&b, e->unit);
        ro_buf_printf(&b, ",\"seq\":%llu,\"reports\":%llu}", (unsigned long long)e->seq,
                      (unsigned long long)e->reports);
    }
    ro_buf_puts(&b, "]}\n");
    return b.data;
}

static void s_write_state(const char *path, const ro_clone_t *clone)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *json = s_state_json(clone);
    FILE *f = json ? fopen(tmp, "w") : NULL;
    if (f) {
        fputs(json, f);
        if (fclose(f) == 0)
            rename(tmp, path);
    }
    free(json);
}

int main(int argc, char **argv)
{
    s_sub_t s = {0};
    const char *feed = NULL, *state = NULL, *config = getenv("ROLLOUT_CTL_CONFIG");
    const char *topics[32];
    int ntopics = 0, rcvhwm = 1000, rcvbuf = -1;
    double run_for = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--feed") && i + 1 < argc)
            feed = argv[++i];
        else if (!strcmp(a, "--status") && i + 1 < argc)
            s.status = argv[++i];
        else if (!strcmp(a, "--topic") && i + 1 < argc && ntopics < 32)
            topics[ntopics++] = argv[++i];
        else if (!strcmp(a, "--for") && i + 1 < argc)
            run_for = atof(argv[++i]);
        else if (!strcmp(a, "--state") && i + 1 < argc)
            state = argv[++i];
        else if (!strcmp(a, "--rcvhwm") && i + 1 < argc)
            rcvhwm = atoi(argv[++i]);
        else if (!strcmp(a, "--rcvbuf") && i + 1 < argc)
            rcvbuf = atoi(argv[++i]);
        else if (!strcmp(a, "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(a, "--verbose"))
            s.verbose = 1;
        else
            s_usage();
    }
    if (!feed || !s.status)
        s_usage();
    ro_ctl_config_t cc;
    if (config && config[0]) {
        char err[1024];
        if (ro_ctl_config_load(config, &cc, err, sizeof err)) {
            fprintf(stderr, "ro-sub: %s\n", err);
            return 2;
        }
        if (cc.sec.curve) {
            s.curve[0] = cc.sec.hub_public;
            s.curve[1] = cc.sec.public_key;
            s.curve[2] = cc.sec.secret_key;
        }
    }
    signal(SIGTERM, s_on_signal);
    signal(SIGINT, s_on_signal);
    s.ctx = zmq_ctx_new();
    void *sub = zmq_socket(s.ctx, ZMQ_SUB);
    int linger = 0;
    int64_t maxmsg = 1 << 20;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(sub, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
    zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (s_curve(&s, sub))
        return 1;
    if (ntopics == 0)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    for (int i = 0; i < ntopics; i++)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topics[i], strlen(topics[i]));
    if (ntopics) /* a filtered subscriber still needs the heartbeat */
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, RO_FEED_HEARTBEAT, strlen(RO_FEED_HEARTBEAT));
    if (zmq_connect(sub, feed) != 0) {
        fprintf(stderr, "ro-sub: connect %s: %s\n", feed, zmq_strerror(zmq_errno()));
        return 1;
    }
    ro_clone_t *clone = ro_clone_new(ntopics == 0);
    int64_t end = run_for > 0 ? ro_time_mono_ms() + (int64_t)(run_for * 1000) : 0;
    while (!s_stop && (!end || ro_time_mono_ms() < end)) {
        if (!ro_clone_synced(clone)) {
            if (s_sync(&s, clone, sub) != 0) {
                usleep(300 * 1000); /* hub away: try again */
                continue;
            }
            if (s.verbose)
                fprintf(stderr, "ro-sub: synced at seq %llu epoch %llu (sync %llu)\n",
                        (unsigned long long)ro_clone_seq(clone),
                        (unsigned long long)ro_clone_epoch(clone),
                        (unsigned long long)ro_clone_syncs(clone));
        }
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        int drained = 1;
        for (int k = 0; rc > 0; k++) {
            if (k == 1000) {
                drained = 0; /* a backlog: we are behind, the hub is not silent */
                break;
            }
            zmq_msg_t t, b;
            zmq_msg_init(&t);
            zmq_msg_init(&b);
            if (zmq_msg_recv(&t, sub, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&t);
                zmq_msg_close(&b);
                break;
            }
            int two = zmq_msg_more(&t) && zmq_msg_recv(&b, sub, ZMQ_DONTWAIT) >= 0;
            int heartbeat = zmq_msg_size(&t) == strlen(RO_FEED_HEARTBEAT) &&
                            !memcmp(zmq_msg_data(&t), RO_FEED_HEARTBEAT, zmq_msg_size(&t));
            ro_clone_result_t r = RO_CLONE_SKIPPED;
            if (two)
                r = ro_clone_message(clone, zmq_msg_data(&t), zmq_msg_size(&t), zmq_msg_data(&b),
                                     zmq_msg_size(&b), ro_time_mono_ms());
            zmq_msg_close(&t);
            zmq_msg_close(&b);
            if (r == RO_CLONE_RESYNC) {
                if (s.verbose)
                    fprintf(stderr, "ro-sub: resync: %s\n", ro_clone_why(clone));
                break;
            }
            if (heartbeat && state && ro_clone_synced(clone))
                s_write_state(state, clone);
        }
        if (drained && ro_clone_tick(clone, ro_time_mono_ms()) == RO_CLONE_RESYNC && s.verbose)
            fprintf(stderr, "ro-sub: resync: %s\n", ro_clone_why(clone));
    }
    char *json = s_state_json(clone);
    if (json)
        fputs(json, stdout);
    free(json);
    ro_clone_destroy(&clone);
    zmq_close(sub);
    zmq_ctx_term(s.ctx);
    return 0;
}
