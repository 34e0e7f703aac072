/* ro_config: hub.ini, agent.ini and rolloutctl's ctl.ini, parsed by inih into plain structs.
 * Every key has a default; an unknown section or key, a bad value or a
 * missing required key refuses the file with "file:line: reason".
 * Relative paths in a file are taken relative to the file's folder. */
#ifndef RO_CONFIG_H
#define RO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define RO_PATH_MAX 512
#define RO_ENDPOINT_MAX 256
#define RO_AGENT_RETAIN_DAYS 400  /* [agent] retain_days: a year-end evaluation and its sign-off */
#define RO_AGENT_RETAIN_MAX_MB 64 /* [agent] retain_max_mb: MiB of retained events' bodies */

/* Transport security of the sockets: CURVE (default) or plain TCP. */
typedef struct {
    int curve;                    /* 1: CurveZMQ (default); 0: plain, must be asked for */
    char hub_public[RO_PATH_MAX]; /* hub's public key file (z85) */
    char secret_key[RO_PATH_MAX]; /* own secret key file (z85) */
    char public_key[RO_PATH_MAX]; /* own public key file (z85) */
} ro_security_t;

typedef struct {
    char data_dir[RO_PATH_MAX];         /* where hub.db lives */
    char registry[RO_PATH_MAX];         /* units.csv */
    char targets[RO_PATH_MAX];          /* targets.ini */
    char ingest[RO_ENDPOINT_MAX];       /* ROUTER bind, agents' reports */
    char feed[RO_ENDPOINT_MAX];         /* PUB bind, aggregate updates */
    char status[RO_ENDPOINT_MAX];       /* ROUTER bind, queries */
    char metrics_http[RO_ENDPOINT_MAX]; /* HOST:PORT for Prometheus text, "" = off */
    int feed_hwm;                       /* feed messages queued per subscriber before drops */
    char allow_list[RO_PATH_MAX];       /* CURVE: unit and operator keys */
    int synchronous;         /* SQLite synchronous: 1 normal, 2 full (default), 3 extra */
    int batch_max;           /* reports drained per transaction */
    int silent_after;        /* seconds without a word before a unit is silent */
    int64_t max_store_bytes; /* refuse to grow hub.db beyond this; 0 = no bound */
    int log_level;           /* syslog level */
    ro_security_t sec;       /* keys and mode */
} ro_hub_config_t;

typedef struct {
    char unit[40];             /* the unit this agent speaks for (required) */
    char hub[RO_ENDPOINT_MAX]; /* the hub's ingest endpoint */
    char outbox[RO_PATH_MAX];  /* the outbox SQLite file */
    int window;                /* reports in flight before an ack */
    int resend_ms;             /* resend from the last ack after this long without progress */
    int heartbeat_s;           /* application heartbeat period */
    int poll_ms;               /* how often an idle agent looks for new records */
    int64_t outbox_max;        /* events that may wait for the hub; record refuses beyond */
    int retain_days;           /* keep acknowledged events this many days; 0 = none */
    int retain_max_mb;         /* and their bodies up to this many MiB; 0 = none */
    int log_level;             /* syslog level */
    ro_security_t sec;         /* keys and mode */
} ro_agent_config_t;

/* rolloutctl's ctl.ini: where the hub's status socket is and the
 * operator's CURVE keys ([ctl] hub, timeout; [security] curve,
 * hub_public_key, secret_key, public_key). */
typedef struct {
    char hub[RO_ENDPOINT_MAX]; /* status endpoint or HOST[:PORT]; "" = rolloutctl's default */
    int timeout_s;             /* seconds to wait for an answer; 0 = rolloutctl's default */
    ro_security_t sec;         /* keys and mode; curve on unless the file says off */
} ro_ctl_config_t;

/* Fill *cfg with defaults, then read path over them. Returns 0, or -1 with
 * "path:line: reason" in err. */
int ro_hub_config_load(const char *path, ro_hub_config_t *cfg, char *err, size_t errlen);
int ro_agent_config_load(const char *path, ro_agent_config_t *cfg, char *err, size_t errlen);
/* Defaults: curve on, keys RO_ETC/keys/{hub.pub,operator.key,operator.pub}. */
int ro_ctl_config_load(const char *path, ro_ctl_config_t *cfg, char *err, size_t errlen);

void ro_hub_config_defaults(ro_hub_config_t *cfg);
void ro_agent_config_defaults(ro_agent_config_t *cfg);
void ro_ctl_config_defaults(ro_ctl_config_t *cfg);

#endif
