/* rollout-hub: the hub service. Loads config and registry, opens the store,
 * binds the ingest, status and feed sockets, and runs one single-threaded
 * poll loop until SIGTERM/SIGINT. What happens to a message is ingest's and
 * status's business; attainment, the feed's content and the CURVE allow-list
 * come from their own modules. */
#include "ingest.h"
#include "ro_codec.h"
#include "ro_config.h"
#include "ro_log.h"
#include "ro_registry.h"
#include "ro_sock.h"
#include "ro_time.h"
#include "status.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define STATUS_PER_WAKE 64   /* status requests answered before ingest gets its turn */
#define STATS_EVERY_MS 60000 /* how often a busy hub logs what it stored */

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out, "usage: rollout-hub --config FILE [--check]\n"
                 "       rollout-hub --help | --version\n"
                 "\n"
                 "The rollout hub: receives the units' reports on the ingest socket, stores them\n"
                 "in <data_dir>/hub.db, answers status queries and publishes the feed. Runs in\n"
                 "the foreground and logs to stderr; SIGTERM or SIGINT stop it cleanly.\n"
                 "\n"
                 "  -c, --config FILE  hub.ini (see config/hub.ini for every key)\n"
                 "      --check        check the config, registry and keys, then exit\n"
                 "  -h, --help         this help\n"
                 "  -V, --version      print the version\n"
                 "\n"
                 "After binding, the hub writes the endpoints it got to <data_dir>/endpoints\n"
                 "(lines 'ingest ENDPOINT', 'status ENDPOINT', 'feed ENDPOINT').\n"
                 "\n"
                 "Exit status: 0 stopped cleanly or config ok; 2 bad usage or config;\n"
                 "1 any other start-up failure (store damaged, port taken, ...).\n");
}

/* Write the bound endpoints to <dir>/endpoints atomically (temp + rename). */
static int s_write_endpoints(const char *dir, const char *eps[3], char *err, size_t errlen)
{
    static const char *names[3] = {"ingest", "status", "feed"};
    char tmp[RO_PATH_MAX + 32], final[RO_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/endpoints.tmp", dir);
    snprintf(final, sizeof final, "%s/endpoints", dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    for (int i = 0; i < 3; i++)
        fprintf(f, "%s %s\n", names[i], eps[i]);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, final) != 0) {
        snprintf(err, errlen, "%s: %s", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Create, configure and bind one socket; fills bound with ZMQ_LAST_ENDPOINT. */
static void *s_bind(void *ctx, int type, const char *what, const char *endpoint, int64_t maxmsg,
                    const ro_hub_config_t *cfg, char *bound, size_t boundlen, char *err,
                    size_t errlen)
{
    void *sock = zmq_socket(ctx, type);
    if (!sock) {
        snprintf(err, errlen, "%s socket: %s", what, zmq_strerror(zmq_errno()));
        return NULL;
    }
    int one = 1;
    if (ro_sock_harden(sock, maxmsg) ||
        (type == ZMQ_ROUTER && zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)) {
        snprintf(err, errlen, "%s socket options: %s", what, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    if (cfg->sec.curve) {
        char why[256];
        if (ro_sock_curve_server(sock, cfg->sec.secret_key, why, sizeof why)) {
            snprintf(err, errlen, "%s socket: %s", what, why);
            zmq_close(sock);
            return NULL;
        }
    }
    if (zmq_bind(sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot bind the %s socket to %s: %s", what, endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    size_t len = boundlen;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &len) != 0)
        snprintf(bound, boundlen, "%s", endpoint);
    return sock;
}

typedef struct {
    ro_hub_config_t cfg;      /* hub.ini */
    ro_registry_t *reg;       /* units.csv */
    hub_store_t *store;       /* hub.db */
    hub_unit_state_t *states; /* one per registry unit */
    hub_ingest_t *ingest;     /* reports in, acks out */
    hub_status_t *status;     /* queries */
    void *ctx;                /* ZeroMQ context */
    void *sock[3];            /* ingest, status, feed */
    int lock_fd;              /* flock on <data_dir>/hub.lock */
    char endpoints_path[RO_PATH_MAX + 32];
} hub_t;

static void s_hub_close(hub_t *h)
{
    for (int i = 0; i < 3; i++)
        if (h->sock[i])
            zmq_close(h->sock[i]);
    if (h->ctx)
        zmq_ctx_term(h->ctx);
    hub_status_destroy(&h->status);
    hub_ingest_destroy(&h->ingest);
    hub_store_destroy(&h->store);
    free(h->states);
    ro_registry_destroy(&h->reg);
    if (h->endpoints_path[0])
        unlink(h->endpoints_path);
    if (h->lock_fd >= 0)
        close(h->lock_fd);
}

/* Make the data folder and take its lock: one hub per store. */
static int s_data_dir(hub_t *h, char *err, size_t errlen)
{
    const char *dir = h->cfg.data_dir;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[RO_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/hub.lock", dir);
    h->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (h->lock_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "another rollout-hub is running on %s (%s is locked)", dir, path);
        return -1;
    }
    snprintf(h->endpoints_path, sizeof h->endpoints_path, "%s/endpoints", dir);
    unlink(h->endpoints_path); /* a stale file must not send anyone to old ports */
    return 0;
}

static int s_open_sockets(hub_t *h, char *err, size_t errlen)
{
    const ro_hub_config_t *cfg = &h->cfg;
    static char bound[3][RO_ENDPOINT_MAX];
    const char *eps[3] = {bound[0], bound[1], bound[2]};
    h->ctx = zmq_ctx_new();
    if (!h->ctx) {
        snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    h->sock[0] = s_bind(h->ctx, ZMQ_ROUTER, "ingest", cfg->ingest, RO_FRAME_MAX, cfg, bound[0],
                        sizeof bound[0], err, errlen);
    if (h->sock[0])
        h->sock[1] = s_bind(h->ctx, ZMQ_ROUTER, "status", cfg->status, HUB_STATUS_FRAME_MAX, cfg,
                            bound[1], sizeof bound[1], err, errlen);
    if (h->sock[1])
        h->sock[2] = s_bind(h->ctx, ZMQ_PUB, "feed", cfg->feed, HUB_STATUS_FRAME_MAX, cfg, bound[2],
                            sizeof bound[2], err, errlen);
    if (!h->sock[2])
        return -1;
    if (!cfg->sec.curve) {
        const char *plain[3] = {cfg->ingest, cfg->status, cfg->feed};
        static const char *names[3] = {"ingest", "status", "feed"};
        int remote = 0;
        for (int i = 0; i < 3; i++) {
            if (!ro_endpoint_is_local(plain[i])) {
                remote = 1;
                ro_log(LOG_ERR,
                       "CURVE is OFF and the %s socket (%s) listens beyond loopback: anyone who "
                       "can reach it can read the traffic and speak for any unit; set [security] "
                       "curve = on",
                       names[i], plain[i]);
            }
        }
        if (!remote)
            ro_log(LOG_WARNING, "CURVE is off: plain TCP, for loopback development only");
    }
    if (s_write_endpoints(cfg->data_dir, eps, err, errlen))
        return -1;
    ro_log(LOG_INFO, "listening: ingest %s, status %s, feed %s (curve %s)", eps[0], eps[1], eps[2],
           cfg->sec.curve ? "on" : "off");
    return 0;
}

static void s_run(hub_t *h)
{
    hub_ingest_counters_t seen = *hub_ingest_counters(h->ingest);
    int64_t next_stats = ro_time_mono_ms() + STATS_EVERY_MS;
    while (!s_stop) {
        int64_t mono = ro_time_mono_ms();
        long timeout = 1000;
        long retry = hub_ingest_retry_in(h->ingest, mono);
        if (retry >= 0 && retry < timeout)
            timeout = retry;
        zmq_pollitem_t items[2] = {
            {h->sock[1], 0, ZMQ_POLLIN, 0},
            {h->sock[0], 0, ZMQ_POLLIN, 0},
        };
        /* while a batch is held, leave new reports queued in ZeroMQ (and the agents) */
        int nitems = hub_ingest_held(h->ingest) ? 1 : 2;
        int rc = zmq_poll(items, nitems, timeout);
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            ro_log(LOG_ERR, "poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        int64_t now = ro_time_now();
        if (items[0].revents & ZMQ_POLLIN)
            for (int k = 0; k < STATUS_PER_WAKE; k++)
                if (hub_status_serve(h->status, h->sock[1], now) <= 0)
                    break;
        if (nitems == 2 && (items[1].revents & ZMQ_POLLIN))
            hub_ingest_drain(h->ingest, h->sock[0], now);
        mono = ro_time_mono_ms();
        hub_ingest_retry(h->ingest, h->sock[0], now, mono, 0);

        if (mono >= next_stats) {
            const hub_ingest_counters_t *c = hub_ingest_counters(h->ingest);
            if (c->batches != seen.batches)
                ro_log(LOG_INFO,
                       "last minute: %llu reports stored, %llu duplicates, %llu "
                       "conflicts, %llu heartbeats in %llu batches",
                       (unsigned long long)(c->reports_stored - seen.reports_stored),
                       (unsigned long long)(c->duplicates - seen.duplicates),
                       (unsigned long long)(c->conflicts - seen.conflicts),
                       (unsigned long long)(c->heartbeats - seen.heartbeats),
                       (unsigned long long)(c->batches - seen.batches));
            seen = *c;
            next_stats = mono + STATS_EVERY_MS;
        }
    }
    if (hub_ingest_held(h->ingest)) {
        /* one last try, so a store that came back does not cost the agents a resend */
        if (hub_ingest_retry(h->ingest, h->sock[0], ro_time_now(), ro_time_mono_ms(), 1))
            ro_log(LOG_WARNING, "stopping with %zu messages not stored; their agents will resend",
                   hub_ingest_pending(h->ingest));
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int check = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'k': check = 1; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("rollout-hub %s\n", RO_VERSION); return 0;
        case ':':
            fprintf(stderr, "rollout-hub: %s needs a value (try --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "rollout-hub: unknown option '%s' (try --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rollout-hub: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }
    if (!config) {
        fprintf(stderr, "rollout-hub: --config FILE is required (try --help)\n");
        return 2;
    }

    hub_t h;
    memset(&h, 0, sizeof h);
    h.lock_fd = -1;
    char err[2048];
    if (ro_hub_config_load(config, &h.cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    ro_log_init("rollout-hub", h.cfg.log_level);
    h.reg = ro_registry_load(h.cfg.registry, err, sizeof err);
    if (!h.reg) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (h.cfg.sec.curve) {
        char key[RO_KEY_Z85_LEN + 1];
        if (ro_key_read(h.cfg.sec.secret_key, 1, key, err, sizeof err)) {
            fprintf(stderr, "%s: [security] secret_key: %s\n", config, err);
            ro_registry_destroy(&h.reg);
            return 2;
        }
    }
    if (check) {
        printf("%s: ok: %zu units from %s, store %s/hub.db, curve %s\n", config,
               ro_registry_count(h.reg), h.cfg.registry, h.cfg.data_dir,
               h.cfg.sec.curve ? "on" : "off");
        ro_registry_destroy(&h.reg);
        return 0;
    }

    int code = 1;
    size_t n = ro_registry_count(h.reg);
    char dbpath[RO_PATH_MAX + 16];
    snprintf(dbpath, sizeof dbpath, "%s/hub.db", h.cfg.data_dir);
    if (s_data_dir(&h, err, sizeof err)) {
        ro_log(LOG_ERR, "%s", err);
        goto done;
    }
    h.store = hub_store_open(dbpath, h.cfg.synchronous, h.cfg.max_store_bytes, err, sizeof err);
    if (!h.store) {
        ro_log(LOG_ERR, "%s", err);
        goto done;
    }
    h.states = calloc(n ? n : 1, sizeof *h.states);
    if (!h.states || hub_store_load_states(h.store, h.reg, h.states, err, sizeof err)) {
        ro_log(LOG_ERR, "%s: cannot load the units' state: %s", dbpath,
               h.states ? err : "no memory");
        goto done;
    }
    h.ingest = hub_ingest_new(h.store, h.reg, h.states, h.cfg.batch_max);
    h.status = h.ingest ? hub_status_new(h.reg, h.states, h.store, h.ingest) : NULL;
    if (!h.status) {
        ro_log(LOG_ERR, "out of memory");
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: zmq_poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (s_open_sockets(&h, err, sizeof err)) {
        ro_log(LOG_ERR, "%s", err);
        goto done;
    }
    uint64_t reports = 0, reporting = 0;
    for (size_t i = 0; i < n; i++) {
        reports += h.states[i].reports;
        reporting += h.states[i].reports > 0;
    }
    ro_log(LOG_INFO, "rollout-hub %s up: %zu units (%llu reporting, %llu reports) in %s",
           RO_VERSION, n, (unsigned long long)reporting, (unsigned long long)reports, dbpath);
    s_run(&h);
    ro_log(LOG_INFO, "stopped");
    code = 0;
done:
    s_hub_close(&h);
    return code;
}
