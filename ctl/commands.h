/* rolloutctl's commands, one file each: status.c (status, metrics,
 * verify), report.c, watch.c and keys.c (CURVE key pairs and the hub's
 * allow-list; it never talks to the hub, which reads the allow-list at
 * start and on SIGHUP). main.c picks one; client.h is how they reach the hub. */
#ifndef CTL_COMMANDS_H
#define CTL_COMMANDS_H

#include "client.h"
#include "document.h"

#include <stddef.h>

#define CTL_KEYS_DEFAULT_REGISTRY RO_ETC "/units.csv" /* what `keys unit` checks a unit in */

/* rolloutctl status / metrics / verify, as main.c parsed them. */
typedef struct {
    const char *hub;       /* --hub as given */
    double timeout;        /* --timeout seconds */
    const char *command;   /* status | metrics | verify | report */
    int command_at;        /* argv index of the command */
    const char *unit;      /* --unit */
    const char *division;  /* --division */
    const char *level;     /* --level */
    int divisions;         /* --divisions */
    int laggards;          /* --laggards */
    int silent;            /* --silent */
    int problems;          /* --problems */
    const char *history;   /* --history UNIT */
    int series;            /* --series */
    const char *indicator; /* --indicator */
    long limit;            /* --limit, -1 = not given */
    uint32_t as_of;        /* --as-of, 0 = today */
    uint32_t known_on;     /* --known-on, 0 = now */
    int json;              /* --json */
} ctl_status_args_t;

/* Ask the hub and print the answer. Returns the exit status (0, 1 or 2). */
int ctl_status_run(const ctl_status_args_t *a, const ctl_hub_t *hub);

/* The milestone a row about indicator in shows beside its status: the one
 * missed, or else the next (ctl_document_row_milestone, as the report's
 * laggards): the same in every table rolloutctl prints (status, watch). */
ctl_document_milestone_t ctl_row_milestone(const ro_status_indicator_t *in);

/* "as of D, as known on K: N corrections and review decisions came after
 * K" (or none) for a reply answered as known on K, into out; "" when r is
 * not. */
void ctl_known_on_line(const ro_status_reply_t *r, char *out, size_t cap);

/* rolloutctl report: argv holds what follows the word "report". Prints
 * its own help for --help. Returns the exit status (0, 1, or 2). */
int ctl_report_main(const ctl_hub_t *hub, int argc, char **argv);

/* rolloutctl watch: argv holds what follows "watch". Runs until Ctrl-C (or
 * prints one frame with --once). Returns the exit status. */
int ctl_watch_main(const ctl_hub_t *hub, int argc, char **argv);

/* rolloutctl review: argv holds what follows "review" (list, show,
 * accept, reject). Returns the exit status (0, 1 or 2). */
int ctl_review_main(const ctl_hub_t *hub, int argc, char **argv);

/* Run `rolloutctl keys ...`: argv[0] is "keys". Prints results on stdout
 * and reasons on stderr. Returns the exit status: 0 ok, 2 bad usage or bad
 * input (a unit not in the registry or in no known division, an id already
 * listed or not listed, an allow-list or registry that does not load), 1
 * any other failure (a key file exists, a file cannot be locked or written).
 * `keys unit` checks the unit in --registry, else in
 * CTL_KEYS_DEFAULT_REGISTRY when that file exists. */
int ctl_keys_main(int argc, char **argv);

#endif
