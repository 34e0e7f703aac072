/* ro_config: one table of keys per file kind, read through ro_ini (the
 * reader of every rollout INI file). */
#include "ro_config.h"
#include "ro_ini.h"
#include "ro_report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

typedef enum { K_STR, K_PATH, K_INT, K_I64, K_BOOL, K_SYNC, K_LEVEL, K_UNIT } kind_t;

typedef struct {
    const char *section;
    const char *name;
    kind_t kind;
    size_t offset;
    size_t size;      /* strings: capacity */
    int64_t min, max; /* numbers */
} key_t_;

#define HUB(sec, name, kind, field, lo, hi)                                                        \
    {                                                                                              \
        sec, name, kind, offsetof(ro_hub_config_t, field), sizeof(((ro_hub_config_t *)0)->field),  \
            lo, hi                                                                                 \
    }
#define AGENT(sec, name, kind, field, lo, hi)                                                      \
    {                                                                                              \
        sec, name, kind, offsetof(ro_agent_config_t, field),                                       \
            sizeof(((ro_agent_config_t *)0)->field), lo, hi                                        \
    }

static const key_t_ s_hub_keys[] = {
    HUB("hub", "data_dir", K_PATH, data_dir, 0, 0),
    HUB("hub", "registry", K_PATH, registry, 0, 0),
    HUB("hub", "targets", K_PATH, targets, 0, 0),
    HUB("hub", "synchronous", K_SYNC, synchronous, 0, 0),
    HUB("hub", "batch_max", K_INT, batch_max, 1, 100000),
    HUB("hub", "silent_after", K_INT, silent_after, 1, 365 * 86400),
    HUB("hub", "max_store_bytes", K_I64, max_store_bytes, 0, INT64_MAX),
    HUB("hub", "log_level", K_LEVEL, log_level, 0, 0),
    HUB("sockets", "ingest", K_STR, ingest, 0, 0),
    HUB("sockets", "feed", K_STR, feed, 0, 0),
    HUB("sockets", "status", K_STR, status, 0, 0),
    HUB("sockets", "metrics_http", K_STR, metrics_http, 0, 0),
    HUB("sockets", "feed_hwm", K_INT, feed_hwm, 1, 1000000),
    HUB("security", "curve", K_BOOL, sec.curve, 0, 1),
    HUB("security", "secret_key", K_PATH, sec.secret_key, 0, 0),
    HUB("security", "public_key", K_PATH, sec.public_key, 0, 0),
    HUB("security", "allow_list", K_PATH, allow_list, 0, 0),
    {NULL, NULL, K_STR, 0, 0, 0, 0},
};

static const key_t_ s_agent_keys[] = {
    AGENT("agent", "unit", K_UNIT, unit, 0, 0),
    AGENT("agent", "hub", K_STR, hub, 0, 0),
    AGENT("agent", "outbox", K_PATH, outbox, 0, 0),
    AGENT("agent", "window", K_INT, window, 1, 100000),
    AGENT("agent", "resend_ms", K_INT, resend_ms, 100, 3600000),
    AGENT("agent", "heartbeat", K_INT, heartbeat_s, 1, 3600),
    AGENT("agent", "poll_ms", K_INT, poll_ms, 10, 60000),
    AGENT("agent", "outbox_max", K_I64, outbox_max, 1, INT64_MAX),
    AGENT("agent", "retain_days", K_INT, retain_days, 0, 36500),
    AGENT("agent", "retain_max_mb", K_INT, retain_max_mb, 0, 1048576),
    AGENT("agent", "log_level", K_LEVEL, log_level, 0, 0),
    AGENT("security", "curve", K_BOOL, sec.curve, 0, 1),
    AGENT("security", "hub_public_key", K_PATH, sec.hub_public, 0, 0),
    AGENT("security", "secret_key", K_PATH, sec.secret_key, 0, 0),
    AGENT("security", "public_key", K_PATH, sec.public_key, 0, 0),
    {NULL, NULL, K_STR, 0, 0, 0, 0},
};

#define CTL(sec, name, kind, field, lo, hi)                                                        \
    {                                                                                              \
        sec, name, kind, offsetof(ro_ctl_config_t, field), sizeof(((ro_ctl_config_t *)0)->field),  \
            lo, hi                                                                                 \
    }

static const key_t_ s_ctl_keys[] = {
    CTL("ctl", "hub", K_STR, hub, 0, 0),
    CTL("ctl", "timeout", K_INT, timeout_s, 1, 3600),
    CTL("security", "curve", K_BOOL, sec.curve, 0, 1),
    CTL("security", "hub_public_key", K_PATH, sec.hub_public, 0, 0),
    CTL("security", "secret_key", K_PATH, sec.secret_key, 0, 0),
    CTL("security", "public_key", K_PATH, sec.public_key, 0, 0),
    {NULL, NULL, K_STR, 0, 0, 0, 0},
};

void ro_hub_config_defaults(ro_hub_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->data_dir, "/var/lib/rollout");
    strcpy(cfg->registry, RO_ETC "/units.csv");
    strcpy(cfg->targets, RO_ETC "/targets.ini");
    strcpy(cfg->ingest, "tcp://*:7450");
    strcpy(cfg->feed, "tcp://*:7451");
    strcpy(cfg->status, "tcp://*:7452");
    strcpy(cfg->allow_list, RO_ETC "/keys/allow.list");
    strcpy(cfg->sec.secret_key, RO_ETC "/keys/hub.key");
    strcpy(cfg->sec.public_key, RO_ETC "/keys/hub.pub");
    cfg->synchronous = 2;
    cfg->batch_max = 65536;
    cfg->feed_hwm = 4000;
    cfg->silent_after = 3 * 86400;
    cfg->log_level = LOG_INFO;
    cfg->sec.curve = 1;
}

void ro_agent_config_defaults(ro_agent_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->hub, "tcp://127.0.0.1:7450");
    strcpy(cfg->outbox, "/var/lib/rollout/outbox.db");
    strcpy(cfg->sec.hub_public, RO_ETC "/keys/hub.pub");
    strcpy(cfg->sec.secret_key, RO_ETC "/keys/agent.key");
    strcpy(cfg->sec.public_key, RO_ETC "/keys/agent.pub");
    cfg->window = 1000;
    cfg->resend_ms = 5000;
    cfg->heartbeat_s = 30;
    cfg->poll_ms = 1000;
    cfg->outbox_max = 1000000;
    cfg->retain_days = RO_AGENT_RETAIN_DAYS;
    cfg->retain_max_mb = RO_AGENT_RETAIN_MAX_MB;
    cfg->log_level = LOG_INFO;
    cfg->sec.curve = 1;
}

void ro_ctl_config_defaults(ro_ctl_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->sec.hub_public, RO_ETC "/keys/hub.pub");
    strcpy(cfg->sec.secret_key, RO_ETC "/keys/operator.key");
    strcpy(cfg->sec.public_key, RO_ETC "/keys/operator.pub");
    cfg->sec.curve = 1;
}

typedef struct {
    const key_t_ *keys;    /* the table for this file kind */
    void *cfg;             /* the struct being filled */
    char dir[RO_PATH_MAX]; /* folder of the file, for relative paths */
    char section[128];     /* the section being read; "" before the first */
    char why[256];         /* reason of the first error */
} parse_t;

static int s_set(parse_t *p, const key_t_ *k, const char *value)
{
    char *dst = (char *)p->cfg + k->offset;
    char *end;
    switch (k->kind) {
    case K_UNIT:
        if (!ro_unit_id_valid(value)) {
            snprintf(p->why, sizeof p->why, "unit '%s' is not DIVISION-NNN", value);
            return 0;
        }
        /* fall through */
    case K_STR:
    case K_PATH: {
        int n;
        if (k->kind == K_PATH && value[0] && value[0] != '/')
            n = snprintf(dst, k->size, "%s/%s", p->dir, value);
        else
            n = snprintf(dst, k->size, "%s", value);
        if (n < 0 || (size_t)n >= k->size) {
            snprintf(p->why, sizeof p->why, "%s is longer than %zu bytes", k->name, k->size - 1);
            return 0;
        }
        return 1;
    }
    case K_INT:
    case K_I64: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < k->min || v > k->max) {
            snprintf(p->why, sizeof p->why, "%s = '%s' is not a whole number from %lld to %lld",
                     k->name, value, (long long)k->min, (long long)k->max);
            return 0;
        }
        if (k->kind == K_INT)
            *(int *)dst = (int)v;
        else
            *(int64_t *)dst = v;
        return 1;
    }
    case K_BOOL:
        if (!strcasecmp(value, "on") || !strcasecmp(value, "yes") || !strcasecmp(value, "true") ||
            !strcmp(value, "1"))
            *(int *)dst = 1;
        else if (!strcasecmp(value, "off") || !strcasecmp(value, "no") ||
                 !strcasecmp(value, "false") || !strcmp(value, "0"))
            *(int *)dst = 0;
        else {
            snprintf(p->why, sizeof p->why, "%s = '%s' is not on or off", k->name, value);
            return 0;
        }
        return 1;
    case K_SYNC: {
        static const char *names[] = {"off", "normal", "full", "extra"};
        for (int i = 0; i < 4; i++) {
            if (!strcasecmp(value, names[i])) {
                if (i == 0) {
                    snprintf(p->why, sizeof p->why,
                             "synchronous = off would acknowledge reports a power loss can erase; "
                             "use normal, full or extra");
                    return 0;
                }
                *(int *)dst = i;
                return 1;
            }
        }
        snprintf(p->why, sizeof p->why, "synchronous = '%s' is not normal, full or extra", value);
        return 0;
    }
    case K_LEVEL: {
        static const struct {
            const char *n;
            int v;
        } lv[] = {{"error", LOG_ERR},
                  {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE},
                  {"info", LOG_INFO},
                  {"debug", LOG_DEBUG}};
        for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
            if (!strcasecmp(value, lv[i].n)) {
                *(int *)dst = lv[i].v;
                return 1;
            }
        }
        snprintf(p->why, sizeof p->why,
                 "log_level = '%s' is not error, warning, notice, info or debug", value);
        return 0;
    }
    }
    return 0;
}

static int s_section(ro_ini_t *ini, const char *name, int line)
{
    parse_t *p = ini->user;
    (void)line; /* an unknown section is named at its first key, as before */
    snprintf(p->section, sizeof p->section, "%s", name ? name : "");
    return 0;
}

static int s_key(ro_ini_t *ini, const char *name, const char *value, int line)
{
    parse_t *p = ini->user;
    int known_section = 0;
    for (const key_t_ *k = p->keys; k->section; k++) {
        if (strcmp(k->section, p->section))
            continue;
        known_section = 1;
        if (!strcmp(k->name, name))
            return s_set(p, k, value) ? 0 : ro_ini_fail(ini, line, "%s", p->why);
    }
    if (known_section)
        return ro_ini_fail(ini, line, "unknown key '%s' in [%s]", name, p->section);
    return ro_ini_fail(ini, line, "unknown section [%s]", p->section);
}

static int s_load(const char *path, const key_t_ *keys, void *cfg, char *err, size_t errlen)
{
    parse_t p = {.keys = keys, .cfg = cfg};
    snprintf(p.dir, sizeof p.dir, "%s", path);
    char *slash = strrchr(p.dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(p.dir, ".");
    ro_ini_t ini = {.section = s_section, .key = s_key, .user = &p};
    return ro_ini_parse(path, &ini, err, errlen);
}

int ro_hub_config_load(const char *path, ro_hub_config_t *cfg, char *err, size_t errlen)
{
    ro_hub_config_defaults(cfg);
    return s_load(path, s_hub_keys, cfg, err, errlen);
}

int ro_agent_config_load(const char *path, ro_agent_config_t *cfg, char *err, size_t errlen)
{
    ro_agent_config_defaults(cfg);
    if (s_load(path, s_agent_keys, cfg, err, errlen))
        return -1;
    if (!cfg->unit[0]) {
        snprintf(err, errlen, "%s: [agent] unit is required: the unit id this agent speaks for",
                 path);
        return -1;
    }
    return 0;
}

int ro_ctl_config_load(const char *path, ro_ctl_config_t *cfg, char *err, size_t errlen)
{
    ro_ctl_config_defaults(cfg);
    return s_load(path, s_ctl_keys, cfg, err, errlen);
}
