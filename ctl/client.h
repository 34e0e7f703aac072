/* ctl_client: how a rolloutctl command reaches the hub: ctl.ini, the
 * endpoint, CURVE, and ask (one status request, one reply); option helpers
 * and the usage error. It knows no command (commands.h lists them). */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include "ro_config.h"
#include "ro_status.h"

#include <stdio.h>

#define CTL_DEFAULT_PORT 7452 /* the hub's status socket */
#define CTL_DEFAULT_CONFIG RO_ETC "/ctl.ini"
#define CTL_CONFIG_ENV "ROLLOUT_CTL_CONFIG"

/* Where and how to reach the hub; filled by ctl.c from --hub, --timeout. */
typedef struct {
    char endpoint[RO_ENDPOINT_MAX]; /* the status socket, e.g. tcp://127.0.0.1:7452 */
    double timeout;                 /* seconds to wait for each answer */
    ro_security_t sec;              /* CURVE keys from ctl.ini (ctl_config_load); curve 0 = plain */
} ctl_hub_t;

/* Send req to the hub and wait for one reply. Returns the decoded reply
 * (the caller frees it with ro_status_reply_free), or NULL after printing
 * one line on stderr (no answer, not a reply). */
ro_status_reply_t *ctl_ask(const ctl_hub_t *hub, const ro_status_request_t *req);

/* For a reply whose status is not 0: print the hub's reason on stderr and
 * return the exit status (2 for a refused request, 1 for hub trouble).
 * Returns 0, printing nothing, for an ok reply. */
int ctl_reply_failed(const ro_status_reply_t *r);

/* Print "rolloutctl: <message> (try --help)" on stderr; returns 2. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The value of an option given as "--opt VALUE" or "--opt=VALUE" at
 * argv[*i] (advancing *i past a separate value), or NULL if missing. */
const char *ctl_opt_value(int argc, char **argv, int *i, const char *name);
/* True when arg is the option name, alone or as "name=...". */
int ctl_opt_is(const char *arg, const char *name);

/* rolloutctl's ctl.ini: path if given, else $ROLLOUT_CTL_CONFIG, else
 * CTL_DEFAULT_CONFIG if that file exists. Fills *cfg; with no file at
 * all, curve is off (there are no keys to use). With curve on, the three
 * key files it names must be readable keys (the secret one mode 600).
 * Returns 1 if a file was read, 0 if none, -1 with "file:line: reason" or
 * "file: [security] key: reason" in err. */
int ctl_config_load(const char *path, ro_ctl_config_t *cfg, char *err, size_t errlen);

/* Make sock a CURVE client per cfg (nothing when curve is off), before it
 * connects. Returns 0, or -1 with the reason in err. */
int ctl_curve_client(void *sock, const ro_security_t *sec, char *err, size_t errlen);

/* The status endpoint of hub: a tcp:// or ipc:// endpoint as given, or
 * HOST[:PORT] (IPv6 in brackets; port 7452 by default). Returns 0, or -1
 * with why. */
int ctl_endpoint(const char *hub, char *out, size_t cap, char *why, size_t whylen);

#endif
