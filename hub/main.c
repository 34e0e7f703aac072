/* rollout-hub: the hub service's command line. Reads hub.ini, the
 * registry, the secret key and the targets; with --check, says what the
 * start would refuse and exits; otherwise starts the hub (hub.c, which
 * draws its threads and locks), serves until SIGTERM/SIGINT, and passes
 * SIGHUP on as a reload. */
#include "auth.h"
#include "hub.h"
#include "ro_codec.h"
#include "ro_config.h"
#include "ro_log.h"
#include "ro_sock.h"
#include "store.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static void s_on_signal(int sig)
{
    (void)sig;
    hub_request_stop();
}

static void s_on_hup(int sig)
{
    (void)sig;
    hub_request_reload();
}

static void s_usage(FILE *out)
{
    fprintf(out, "usage: rollout-hub --config FILE [--check]\n"
                 "       rollout-hub --help | --version\n"
                 "\n"
                 "The rollout hub: receives the units' reports on the ingest socket, stores them\n"
                 "in <data_dir>/hub.db, answers status queries and publishes the feed. Runs in\n"
                 "the foreground and logs to stderr; SIGTERM or SIGINT stop it cleanly;\n"
                 "SIGHUP rereads the allow-list (revoking keys on live connections too), the\n"
                 "registry and the targets. With curve on (the default) it admits only the\n"
                 "keys on [security] allow_list, and will not start if its ZAP handler fails\n"
                 "its self-test.\n"
                 "\n"
                 "  -c, --config FILE  hub.ini (see config/hub.ini for every key)\n"
                 "      --check        check the config, registry, targets, keys and allow-list,\n"
                 "                     then exit\n"
                 "  -h, --help         this help\n"
                 "  -V, --version      print the version\n"
                 "\n"
                 "After binding, the hub writes the endpoints it got to <data_dir>/endpoints\n"
                 "(lines 'ingest ENDPOINT', 'status ENDPOINT', 'feed ENDPOINT').\n"
                 "\n"
                 "Exit status: 0 stopped cleanly or config ok; 2 bad usage or config;\n"
                 "1 any other start-up failure (store damaged, port taken, ...).\n");
}

/* ro_allow_bad_fn of --check: every bad line, not only the first. */
static void s_check_bad_line(void *arg, const ro_allow_bad_t *bad)
{
    const char *path = arg;
    fprintf(stderr, "%s:%d: %s\n", path, bad->line, bad->why);
}

/* --check, after the config, registry, secret key and targets loaded: what
 * else the start would refuse or regret, found without writing anything
 * (data_dir is not created) and without binding a socket. Returns the exit
 * status: 0, or 2 with the reasons on stderr. */
static int s_check(const ro_hub_config_t *cfg, const hub_model_t *m, const char *config)
{
    char err[2048];
    int rc = 0;
    if (cfg->sec.curve) {
        /* the hub starts with a bad list and admits no one; --check says so, every bad line */
        ro_allow_t *list = ro_allow_load_refined(cfg->allow_list, NULL, s_check_bad_line,
                                                 (void *)cfg->allow_list, err, sizeof err);
        size_t keys = ro_allow_count(list), bad = ro_allow_bad_count(list);
        if (list && !bad && keys == 0)
            snprintf(err, sizeof err, "%s lists no keys", cfg->allow_list);
        else if (bad)
            snprintf(err, sizeof err, "%zu bad line%s (above)", bad, bad == 1 ? "" : "s");
        ro_allow_destroy(&list);
        if (bad || keys == 0) {
            fprintf(stderr, "%s: [security] allow_list: %s: the hub would admit no one\n", config,
                    err);
            rc = 2;
        }
    }
    int missing = 0;
    if (hub_check_data_dir(cfg->data_dir, &missing, err, sizeof err)) {
        fprintf(stderr, "%s: [hub] data_dir: %s: the hub would not start\n", config, err);
        rc = 2;
    }
    int remote = hub_warn_plain(cfg);
    if (rc)
        return rc;
    const char *curve = cfg->sec.curve ? "on" : remote ? "OFF beyond loopback (see above)" : "off";
    printf("%s: ok: %zu units from %s, %zu indicators from %s, store %s/hub.db%s, curve %s\n",
           config, ro_registry_count(m->reg), cfg->registry, ro_targets_count(m->targets),
           cfg->targets, cfg->data_dir, missing ? " (data_dir to be created)" : "", curve);
    return 0;
}

/* The handlers of SIGTERM, SIGINT and SIGHUP, with the three blocked (the
 * caller's mask into *old): the threads the hub starts leave its signals
 * to the main thread, blocked until it runs, so one that comes meanwhile
 * lands then. SIGPIPE is ignored. */
static void s_signals(sigset_t *old)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: zmq_poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
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
        case 'V':
            printf("rollout-hub %s (protocol %d, store schema %d)\n", RO_VERSION,
                   RO_PROTOCOL_VERSION, HUB_STORE_SCHEMA);
            return 0;
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

    /* before SQLite starts: it keeps no memory statistics (nothing here
     * reads them), so that its allocations take no process-wide mutex */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    ro_hub_config_t cfg;
    char err[2048];
    if (ro_hub_config_load(config, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    ro_log_init("rollout-hub", cfg.log_level);
    if (cfg.sec.curve) {
        char key[RO_KEY_Z85_LEN + 1];
        if (ro_key_read(cfg.sec.secret_key, 1, key, err, sizeof err)) {
            fprintf(stderr, "%s: [security] secret_key: %s\n", config, err);
            return 2;
        }
    }
    hub_model_t model;
    if (check) {
        if (hub_model_load(&cfg, &model, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        int rc = s_check(&cfg, &model, config);
        hub_model_release(&model);
        return rc;
    }

    sigset_t old_mask;
    s_signals(&old_mask);
    /* the store opens and its check begins while the model loads */
    hub_t *hub = hub_new(&cfg, config, err, sizeof err);
    if (!hub) {
        ro_log(LOG_ERR, "%s", err);
        return 1;
    }
    if (hub_model_load(&cfg, &model, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        hub_destroy(&hub);
        return 2;
    }
    if (hub_start(hub, &model, err, sizeof err)) {
        ro_log(LOG_ERR, "%s", err);
        hub_destroy(&hub);
        return 1;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    hub_run(hub);
    hub_destroy(&hub);
    return 0;
}
