/* rolloutctl's shared parts: how a subcommand asks the hub's status socket
 * one question and reports a refused answer. ctl.c parses the global
 * options and runs a command; a larger command lives in its own
 * ctl_<command>.c (ctl_report.c) behind one ctl_<command>_main. */
#ifndef HUB_CTL_H
#define HUB_CTL_H

#include "report.h"
#include "ro_config.h"
#include "ro_pb.h"

#include <stdio.h>

/* Where and how to reach the hub; filled by ctl.c from --hub, --timeout. */
typedef struct {
    char endpoint[RO_ENDPOINT_MAX]; /* the status socket, e.g. tcp://127.0.0.1:7452 */
    double timeout;                 /* seconds to wait for each answer */
    ro_security_t sec;              /* CURVE keys from ctl.ini (ctl_keys_config); curve 0 = plain */
} ctl_hub_t;

/* A request with the protocol version set and the rest empty. */
Rollout__StatusRequest ctl_request(Rollout__Query query);

/* Send req to the hub and wait for one reply. Returns the unpacked reply
 * (the caller frees it with rollout__status_reply__free_unpacked), or NULL
 * after printing one line on stderr (no answer, not a reply). */
Rollout__StatusReply *ctl_ask(const ctl_hub_t *hub, const Rollout__StatusRequest *req);

/* For a reply whose status is not 0: print the hub's reason on stderr and
 * return the exit status (2 for a refused request, 1 for hub trouble).
 * Returns 0, printing nothing, for an ok reply. */
int ctl_reply_failed(const Rollout__StatusReply *r);

/* Print "rolloutctl: <message> (try --help)" on stderr; returns 2. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The value of an option given as "--opt VALUE" or "--opt=VALUE" at
 * argv[*i] (advancing *i past a separate value), or NULL if missing. */
const char *ctl_opt_value(int argc, char **argv, int *i, const char *name);
/* True when arg is the option name, alone or as "name=...". */
int ctl_opt_is(const char *arg, const char *name);

/* rolloutctl report: argv holds what follows the word "report". Prints
 * its own help for --help. Returns the exit status (0, 1, or 2). */
/* The milestone a row about indicator in shows beside its status: the one
 * missed, or else the next (hub_report_row_milestone, as the report's
 * laggards): the same in every table rolloutctl prints. */
hub_report_milestone_t ctl_row_milestone(const Rollout__Indicator *in);

int ctl_report_main(const ctl_hub_t *hub, int argc, char **argv);

/* rolloutctl watch (ctl_watch.c): argv holds what follows "watch". Runs
 * until Ctrl-C (or prints one frame with --once). Returns the exit status. */
int ctl_watch_main(const ctl_hub_t *hub, int argc, char **argv);

#endif
