/* rolloutctl: the operator's client. Reads the global options and the
 * command, reaches the hub per ctl.ini and --hub, and runs the command
 * (status.c, report.c, watch.c, keys.c, review.c). */
#include "client.h"
#include "commands.h"
#include "ro_ini.h"
#include "ro_registry.h"
#include "ro_time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_HOST "127.0.0.1"

static void s_help(void)
{
    printf(
        "usage: rolloutctl [--config FILE] [--hub ENDPOINT|HOST[:PORT]] [--timeout SEC] COMMAND\n"
        "                  [OPTIONS]\n"
        "\n"
        "Ask a running rollout-hub over its status socket (never its database).\n"
        "\n"
        "commands:\n"
        "  status [WHAT] [--as-of YYYY-MM-DD] [--known-on YYYY-MM-DD] [--json]\n"
        "                      the province against its targets, or WHAT:\n"
        "      --unit ID             one unit\n"
        "      --division CODE       a division (460000: the provincial units)\n"
        "      --level L             provincial, municipal or township\n"
        "      --divisions           every division, one line each\n"
        "      --laggards [--indicator ID] [--limit N]\n"
        "                            units behind the next milestone (default: of the\n"
        "                            no-visit items share), biggest gap first (limit 20)\n"
        "      --silent [--limit N]  units not heard within the hub's silent_after\n"
        "      --problems [--limit N]\n"
        "                            every unit that cannot deliver or needs a look (a\n"
        "                            gap, refusals, held reports, silent), most urgent\n"
        "                            first, each with what to do (limit 50)\n"
        "      --history ID [--indicator ID] [--limit N]\n"
        "                            one unit's reports of an indicator over time (the\n"
        "                            last N), then all its corrections, newest first:\n"
        "                            when, amend or cancel, the report corrected, its\n"
        "                            figures before and after, by whom and why (JSON:\n"
        "                            \"trail\")\n"
        "      --series [--indicator ID] [--limit N]\n"
        "                            the province's value at each month end, from its\n"
        "                            first data to its last change or the targets' last\n"
        "                            milestone, whichever is later; with --as-of, to that\n"
        "                            date\n"
        "      --known-on DATE       as the hub knew it at the end of DATE: what came\n"
        "                            later left out, and its corrections counted\n"
        "  report [--as-of DATE] [--known-on DATE] [--format md|csv|html] [--out FILE] ...\n"
        "                      the year-end performance target table or score sheet\n"
        "                      (rolloutctl report --help)\n"
        "  watch [--once]      a live view that follows the hub's feed (rolloutctl watch\n"
        "                      --help)\n"
        "  review list|show|accept|reject ...\n"
        "                      reports the [review] rules flagged, and a reviewer's\n"
        "                      decision on one (rolloutctl review --help)\n"
        "  metrics [--json]    the hub's counters: reports stored, duplicates, refusals...\n"
        "  verify [--json]     recount every unit's aggregates and daily states from the\n"
        "                      raw reports and compare them with the stored ones\n"
        "  keys ...            make CURVE keys and keep the hub's allow-list, offline\n"
        "                      (rolloutctl keys --help)\n"
        "\n"
        "options:\n"
        "  --config FILE  ctl.ini: [ctl] hub, [security] curve, hub_public_key, public_key,\n"
        "                 secret_key (an operator key on the hub's allow-list); default\n"
        "                 $ROLLOUT_CTL_CONFIG, else " RO_ETC "/ctl.ini if it exists;\n"
        "                 without one rolloutctl speaks plain TCP\n"
        "  --hub H        the hub's status socket: a ZeroMQ endpoint (tcp://host:port), a\n"
        "                 HOST (port %d) or HOST:PORT; default tcp://%s:%d\n"
        "  --timeout SEC  how long to wait for an answer: 1 to 3600 (default 5)\n"
        "  --json         print one JSON document instead of a table\n"
        "  -h, --help     this help;  --version  the version\n"
        "\n"
        "examples:\n"
        "  rolloutctl status\n"
        "  rolloutctl --hub hub.example.org status --unit 460100-001\n"
        "  rolloutctl --hub tcp://127.0.0.1:7452 status --json | jq .scopes[0].reports\n"
        "  rolloutctl status --laggards --as-of 2018-06-30 --limit 10\n"
        "  rolloutctl report --as-of 2018-12-31 --format html --out report.html\n"
        "  rolloutctl metrics\n"
        "  rolloutctl verify\n"
        "\n"
        "exit status: 0 ok; 1 no answer, hub trouble, or verify found differences;\n"
        "2 bad usage or a request the hub refused (e.g. an unknown unit).\n",
        CTL_DEFAULT_PORT, DEFAULT_HOST, CTL_DEFAULT_PORT);
}

/* --unit ID, --history ID: a unit id, or a usage error. */
static int s_unit_arg(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *v = ctl_opt_value(argc, argv, i, name);
    if (!v)
        return ctl_usage_error("%s needs a unit id", name);
    if (!ro_unit_id_valid(v))
        return ctl_usage_error("%s '%s' is not a unit id DIVISION-NNN", name, v);
    *out = v;
    return 0;
}

/* One of status's options at argv[*i] (advancing *i past its value) into
 * *a: 0 when it is one, 1 when it is not, 2 after a usage error. */
static int s_status_option(int argc, char **argv, int *i, ctl_status_args_t *a)
{
    const char *arg = argv[*i], *v;
    if (ctl_opt_is(arg, "--unit")) {
        if (s_unit_arg(argc, argv, i, "--unit", &a->unit))
            return 2;
    } else if (ctl_opt_is(arg, "--history")) {
        if (s_unit_arg(argc, argv, i, "--history", &a->history))
            return 2;
    } else if (ctl_opt_is(arg, "--division")) {
        if (!(v = ctl_opt_value(argc, argv, i, "--division")))
            return ctl_usage_error("--division needs a division code");
        char *end;
        unsigned long code = strtoul(v, &end, 10);
        if (end == v || *end || code > UINT32_MAX || ro_division_index((uint32_t)code) < 0)
            return ctl_usage_error("--division '%s' is not one of Hainan's division codes", v);
        a->division = v;
    } else if (ctl_opt_is(arg, "--level")) {
        ro_level_t lv;
        if (!(v = ctl_opt_value(argc, argv, i, "--level")))
            return ctl_usage_error("--level needs provincial, municipal or township");
        if (ro_level_parse(v, &lv))
            return ctl_usage_error("--level '%s' is not provincial, municipal or township", v);
        a->level = v;
    } else if (ctl_opt_is(arg, "--indicator")) {
        if (!(v = ctl_opt_value(argc, argv, i, "--indicator")) || !ro_ini_id_valid(v))
            return ctl_usage_error("--indicator needs an indicator id such as items_no_visit");
        a->indicator = v;
    } else if (ctl_opt_is(arg, "--limit")) {
        char *end;
        if (!(v = ctl_opt_value(argc, argv, i, "--limit")))
            return ctl_usage_error("--limit needs a number");
        a->limit = strtol(v, &end, 10);
        if (end == v || *end || a->limit < 0 || a->limit > 1000000)
            return ctl_usage_error("--limit '%s' is not a number from 0 (all) to 1000000", v);
    } else if (ctl_opt_is(arg, "--as-of")) {
        if (!(v = ctl_opt_value(argc, argv, i, "--as-of")) || ro_date_parse(v, &a->as_of))
            return ctl_usage_error("--as-of needs a date YYYY-MM-DD");
    } else if (ctl_opt_is(arg, "--known-on")) {
        if (!(v = ctl_opt_value(argc, argv, i, "--known-on")) || ro_date_parse(v, &a->known_on))
            return ctl_usage_error("--known-on needs a date YYYY-MM-DD");
    } else if (!strcmp(arg, "--divisions")) {
        a->divisions = 1;
    } else if (!strcmp(arg, "--laggards")) {
        a->laggards = 1;
    } else if (!strcmp(arg, "--silent")) {
        a->silent = 1;
    } else if (!strcmp(arg, "--problems")) {
        a->problems = 1;
    } else if (!strcmp(arg, "--series")) {
        a->series = 1;
    } else if (!strcmp(arg, "--json")) {
        a->json = 1;
    } else {
        return 1;
    }
    return 0;
}

/* --known-on with a question that is known only now: a usage error. */
static int s_known_now(void)
{
    return ctl_usage_error("--known-on goes with the figures (the province, --unit, --division, "
                           "--level, --divisions, --laggards) and --series; --silent, --problems "
                           "and --history are known only now");
}

int main(int argc, char **argv)
{
    ctl_status_args_t a = {.hub = DEFAULT_HOST, .timeout = 5, .limit = -1};
    int help = 0, hub_given = 0, timeout_given = 0, rc;
    const char *config = NULL; /* ctl.ini: keys (ctl_config_load) */
    for (int i = 1;
         i < argc && !(a.command && (!strcmp(a.command, "report") || !strcmp(a.command, "watch") ||
                                     !strcmp(a.command, "review")));
         i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            help = 1;
        } else if (!strcmp(arg, "--version")) {
            printf("rolloutctl %s\n", RO_VERSION);
            return 0;
        } else if (ctl_opt_is(arg, "--hub")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--hub")) || !v[0])
                return ctl_usage_error("--hub needs an endpoint or a host");
            a.hub = v;
            hub_given = 1;
        } else if (ctl_opt_is(arg, "--config")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--config")) || !v[0])
                return ctl_usage_error("--config needs a ctl.ini file");
            config = v;
        } else if (ctl_opt_is(arg, "--timeout")) {
            char *end;
            if (!(v = ctl_opt_value(argc, argv, &i, "--timeout")))
                return ctl_usage_error("--timeout needs a number of seconds");
            a.timeout = strtod(v, &end);
            timeout_given = 1;
            /* the range of ctl.ini's [ctl] timeout */
            if (end == v || *end || !(a.timeout >= 1) || a.timeout > 3600)
                return ctl_usage_error("--timeout '%s' is not a number of seconds from 1 to 3600",
                                       v);
        } else if ((rc = s_status_option(argc, argv, &i, &a)) != 1) {
            if (rc)
                return rc;
        } else if (arg[0] == '-') {
            return ctl_usage_error("unknown option '%s'", arg);
        } else if (!a.command) {
            if (!strcmp(arg, "keys"))
                return ctl_keys_main(argc - i, argv + i);
            if (strcmp(arg, "status") && strcmp(arg, "metrics") && strcmp(arg, "verify") &&
                strcmp(arg, "report") && strcmp(arg, "watch") && strcmp(arg, "review"))
                return ctl_usage_error("unknown command '%s'", arg);
            a.command = arg;
            a.command_at = i;
        } else {
            return ctl_usage_error("unexpected argument '%s'", arg);
        }
    }
    if (help) {
        s_help();
        return 0;
    }
    if (!a.command)
        return ctl_usage_error(
            "which command: status, report, watch, review, metrics, verify or keys?");
    int is_status = !strcmp(a.command, "status");
    int what = (a.unit != NULL) + (a.division != NULL) + (a.level != NULL) + a.divisions +
               a.laggards + a.silent + a.problems + (a.history != NULL) + a.series;
    if (!is_status && (what || a.as_of || a.known_on || a.indicator || a.limit >= 0))
        return ctl_usage_error("%s takes none of status's options (--unit ... --as-of)", a.command);
    if (what > 1)
        return ctl_usage_error("give one of --unit, --division, --level, --divisions, --laggards, "
                               "--silent, --problems, --history and --series");
    if (a.known_on && (a.silent || a.problems || a.history))
        return s_known_now();
    if (a.indicator && !(a.laggards || a.history || a.series))
        return ctl_usage_error("--indicator goes with --laggards, --history or --series");
    if (a.limit >= 0 && !(a.laggards || a.silent || a.problems || a.history || a.series))
        return ctl_usage_error(
            "--limit goes with --laggards, --silent, --problems, --history or --series");
    ctl_hub_t hub = {.timeout = a.timeout};
    ro_ctl_config_t cc;
    char cerr[1024];
    if (ctl_config_load(config, &cc, cerr, sizeof cerr) < 0) {
        fprintf(stderr, "rolloutctl: %s\n", cerr);
        return 2;
    }
    hub.sec = cc.sec;
    if (!hub_given && cc.hub[0])
        a.hub = cc.hub;
    if (!timeout_given && cc.timeout_s)
        hub.timeout = cc.timeout_s;
    char why[256];
    if (ctl_endpoint(a.hub, hub.endpoint, sizeof hub.endpoint, why, sizeof why)) {
        if (!hub_given && cc.hub[0])
            return ctl_usage_error("ctl.ini: [ctl] hub = '%s' is not an endpoint or a host: %s",
                                   a.hub, why);
        return ctl_usage_error("--hub '%s' is not an endpoint or a host: %s", a.hub, why);
    }
    if (!strcmp(a.command, "report"))
        return ctl_report_main(&hub, argc - a.command_at - 1, argv + a.command_at + 1);
    if (!strcmp(a.command, "review"))
        return ctl_review_main(&hub, argc - a.command_at - 1, argv + a.command_at + 1);
    if (!strcmp(a.command, "watch"))
        return ctl_watch_main(&hub, argc - a.command_at - 1, argv + a.command_at + 1);
    return ctl_status_run(&a, &hub);
}
