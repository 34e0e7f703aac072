/* rollout-agent: the unit's command line. It parses and validates what staff
 * record (one parser for the command line and for --file lines), shows status
 * and starts the service; storing is agent_outbox's job, delivery
 * agent_sender's, and the rules a report must meet are ro_report_check's. */
#include "outbox.h"
#include "ro_config.h"
#include "ro_json.h"
#include "ro_log.h"
#include "ro_report.h"
#include "ro_time.h"
#include "sender.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define DEFAULT_CONFIG RO_ETC "/agent.ini"
#define PROBE_MS 2000
#define FILE_WORDS_MAX 32
#define STATUS_REFUSALS 5
#define STATUS_EARLIER 16 /* earlier incarnations shown, lowest base first */

static const char *s_prog = "rollout-agent";

/* ---- help -------------------------------------------------------------- */

static void s_help(FILE *out)
{
    fprintf(
        out,
        "rollout-agent %s: records a unit's rollout progress and delivers it to the hub.\n"
        "\n"
        "Usage:\n"
        "  rollout-agent [--config FILE] record KIND OPTION...\n"
        "  rollout-agent [--config FILE] record --file FILE\n"
        "  rollout-agent [--config FILE] list [--last N | --all] [--json]\n"
        "  rollout-agent [--config FILE] amend SEQ --reason TEXT KIND OPTION...\n"
        "  rollout-agent [--config FILE] cancel SEQ --reason TEXT\n"
        "  rollout-agent [--config FILE] run\n"
        "  rollout-agent [--config FILE] status [--json] [--no-hub]\n"
        "  rollout-agent help [record|amend]\n"
        "  rollout-agent --version\n"
        "\n"
        "Commands:\n"
        "  record   append one event (or a file of events) to the unit's outbox. It is on\n"
        "           disk when the command returns, and `run` delivers it.\n"
        "  list     the events in the outbox, newest first: seq, whether delivered,\n"
        "           figures, corrections (--last N, default 20; --all; --json).\n"
        "  amend    correct an event recorded before (by its seq) with new figures;\n"
        "  cancel   or withdraw it. The hub keeps both, with the reason given\n"
        "           (details: rollout-agent amend --help).\n"
        "  run      the service: send waiting events to the hub, resend until the hub\n"
        "           acknowledges them, send heartbeats. Logs to stderr. SIGTERM or SIGINT\n"
        "           stop it cleanly; nothing recorded is lost by stopping.\n"
        "  status   the outbox's identity, events waiting in it, the next seq, the last\n"
        "           seq the hub acknowledged (and their wire seqs), the acknowledged\n"
        "           events kept to refill the hub (earlier identities' too), events the\n"
        "           hub refused, and whether the hub answers a heartbeat within 2 s (and\n"
        "           in which protocol version).\n"
        "           --json prints one JSON object; --no-hub skips the hub.\n"
        "\n"
        "Record kinds (details: rollout-agent record --help):\n"
        "  training --date YYYY-MM-DD --participants N --hours H [--course TEXT]\n"
        "  staff    --date YYYY-MM-DD --total N --proficient N\n"
        "  items    --date YYYY-MM-DD --total N --no-visit N\n"
        "  cases    --month YYYY-MM --total N --no-visit N\n"
        "\n"
        "Options:\n"
        "  --config FILE  the agent's configuration, naming the unit, the outbox file\n"
        "                 and the hub; put it before the command (default\n"
        "                 %s)\n"
        "  --help         this text\n"
        "  --version      the agent and protocol versions\n"
        "\n"
        "Examples:\n"
        "  rollout-agent --config agent.ini record staff --date 2018-01-05 --total 40 "
        "--proficient 31\n"
        "  rollout-agent --config agent.ini record training --date 2018-03-02 --participants "
        "25 \\\n"
        "      --hours 1.5 --course \"Platform basics\"\n"
        "  rollout-agent --config agent.ini record --file 2018-01.txt\n"
        "  rollout-agent --config agent.ini amend 12 --reason \"200 typed for 20\" training \\\n"
        "      --date 2018-03-02 --participants 20 --hours 1.5\n"
        "  rollout-agent --config agent.ini status\n"
        "\n"
        "Exit status:\n"
        "  0  success\n"
        "  1  failure: the outbox cannot be opened or is full, the service cannot start,\n"
        "     status finds the hub silent or refusing\n"
        "  2  bad usage, bad input or a bad config file, with a one-line reason on stderr\n",
        RO_VERSION, DEFAULT_CONFIG);
}

static void s_record_help(FILE *out)
{
    fprintf(
        out,
        "Usage:\n"
        "  rollout-agent [--config FILE] record KIND OPTION...\n"
        "  rollout-agent [--config FILE] record --file FILE\n"
        "\n"
        "Appends one event to the outbox with the unit's next sequence number. The\n"
        "unit comes from the config file. Options take their value as the next word\n"
        "or after '=' (--total=40).\n"
        "\n"
        "  training  a training session held by the unit\n"
        "      --date YYYY-MM-DD     the day of the session\n"
        "      --participants N      people trained (at least 1)\n"
        "      --hours H             length of the session: above 0, at most 240, with\n"
        "                            at most one decimal (1.5 is fine, 1.25 is not)\n"
        "      --course TEXT         optional name of the course, at most 200 bytes\n"
        "  staff     a snapshot of the unit's approval staff\n"
        "      --date YYYY-MM-DD     the day of the snapshot\n"
        "      --total N             approval staff at the unit\n"
        "      --proficient N        of whom can approve on the platform (<= total)\n"
        "  items     a snapshot of the government service items the unit handles\n"
        "      --date YYYY-MM-DD     the day of the snapshot\n"
        "      --total N             items the unit handles\n"
        "      --no-visit N          of which approvable with no visit (<= total)\n"
        "  cases     the case volume of one month\n"
        "      --month YYYY-MM       the month\n"
        "      --total N             cases handled in the month\n"
        "      --no-visit N          of which handled with no visit (<= total)\n"
        "\n"
        "Counts are whole numbers from 0 to %u. Dates run from 2017-01-01 to today.\n"
        "\n"
        "record --file FILE records many events at once (FILE '-' is standard input).\n"
        "Each line holds the words that would follow `record` for one event; blank\n"
        "lines and lines starting with # are skipped; a value with spaces goes in\n"
        "double quotes (\\\" and \\\\ inside them). Every line is checked first: if\n"
        "any is bad, nothing is recorded and the reason is given as FILE:LINE: reason.\n"
        "Otherwise all events are recorded in one transaction. Example file:\n"
        "\n"
        "  # unit 460000-001, January 2018\n"
        "  staff --date 2018-01-05 --total 40 --proficient 31\n"
        "  items --date 2018-01-05 --total 120 --no-visit 96\n"
        "  training --date 2018-01-12 --participants 25 --hours 2.5 --course \"Platform basics\"\n"
        "  cases --month 2018-01 --total 830 --no-visit 512\n"
        "\n"
        "Exit status: 0 recorded; 2 bad input (nothing recorded); 1 the outbox cannot\n"
        "be opened, or is full (outbox_max events wait for the hub).\n",
        RO_COUNT_MAX);
}

/* ---- small helpers ----------------------------------------------------- */

static int s_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(int code, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", s_prog, line);
    return code;
}

/* A whole number 0..RO_COUNT_MAX, digits only. */
static int s_count(const char *opt, const char *v, uint32_t *out, char *why, size_t len)
{
    if (v[0] == '-' && v[1] >= '0' && v[1] <= '9') {
        snprintf(why, len, "%s %s is negative", opt, v);
        return -1;
    }
    if (!v[0] || strspn(v, "0123456789") != strlen(v)) {
        snprintf(why, len, "%s '%s' is not a whole number", opt, v);
        return -1;
    }
    uint64_t n = 0;
    for (const char *p = v; *p; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > RO_COUNT_MAX) {
            snprintf(why, len, "%s %s is above %u", opt, v, RO_COUNT_MAX);
            return -1;
        }
    }
    *out = (uint32_t)n;
    return 0;
}

/* Hours with at most one decimal, as tenths. */
static int s_hours(const char *opt, const char *v, uint32_t *out, char *why, size_t len)
{
    if (v[0] == '-' && ((v[1] >= '0' && v[1] <= '9') || v[1] == '.')) {
        snprintf(why, len, "%s %s is negative", opt, v);
        return -1;
    }
    size_t whole = strspn(v, "0123456789");
    const char *rest = v + whole;
    size_t frac = 0;
    if (*rest == '.') {
        frac = strspn(rest + 1, "0123456789");
        if (rest[1 + frac] != '\0' || (frac == 0 && whole == 0))
            goto bad;
        if (frac > 1) {
            snprintf(why, len, "%s %s has more than one decimal (hours are kept in tenths)", opt,
                     v);
            return -1;
        }
    } else if (*rest != '\0' || whole == 0) {
        goto bad;
    }
    uint64_t tenths = 0;
    for (size_t i = 0; i < whole; i++) {
        tenths = tenths * 10 + (uint64_t)(v[i] - '0');
        if (tenths > RO_HOURS_TENTHS_MAX)
            break;
    }
    tenths *= 10;
    if (frac)
        tenths += (uint64_t)(rest[1] - '0');
    if (tenths > RO_HOURS_TENTHS_MAX) {
        snprintf(why, len, "%s %s is above %u (hours of one session)", opt, v,
                 RO_HOURS_TENTHS_MAX / 10);
        return -1;
    }
    if (tenths == 0) {
        snprintf(why, len, "%s must be above 0", opt);
        return -1;
    }
    *out = (uint32_t)tenths;
    return 0;
bad:
    snprintf(why, len, "%s '%s' is not a number of hours like 2 or 1.5", opt, v);
    return -1;
}

/* ---- the record parser, shared by the command line and --file ---------- */

typedef enum { F_DATE, F_MONTH, F_TOTAL, F_PART, F_HOURS, F_TEXT } field_t;

typedef struct {
    const char *name; /* option without the dashes */
    field_t field;    /* where its value goes */
    int required;     /* 1 unless optional */
} opt_spec_t;

typedef struct {
    ro_kind_t kind;
    const char *name;
    opt_spec_t opts[4];
} kind_spec_t;

static const kind_spec_t s_kinds[] = {
    {RO_KIND_TRAINING,
     "training",
     {{"date", F_DATE, 1},
      {"participants", F_TOTAL, 1},
      {"hours", F_HOURS, 1},
      {"course", F_TEXT, 0}}},
    {RO_KIND_STAFF,
     "staff",
     {{"date", F_DATE, 1}, {"total", F_TOTAL, 1}, {"proficient", F_PART, 1}, {NULL, F_DATE, 0}}},
    {RO_KIND_ITEMS,
     "items",
     {{"date", F_DATE, 1}, {"total", F_TOTAL, 1}, {"no-visit", F_PART, 1}, {NULL, F_DATE, 0}}},
    {RO_KIND_CASES,
     "cases",
     {{"month", F_MONTH, 1}, {"total", F_TOTAL, 1}, {"no-visit", F_PART, 1}, {NULL, F_DATE, 0}}},
};
#define KIND_COUNT (sizeof s_kinds / sizeof s_kinds[0])

static void s_opt_list(const kind_spec_t *k, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < 4 && k->opts[i].name; i++) {
        int n = snprintf(buf + used, len - used, "%s--%s", i ? ", " : "", k->opts[i].name);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

/* One option's value v into the field spec names (the text into r).
 * Returns 0, or -1 with the reason in msg. */
static int s_parse_value(const opt_spec_t *spec, const char *v, uint32_t *date, uint32_t *total,
                         uint32_t *part, ro_report_t *r, char *msg, size_t len)
{
    char opt[40];
    snprintf(opt, sizeof opt, "--%s", spec->name);
    int bad = 0;
    switch (spec->field) {
    case F_DATE:
        if (ro_date_parse(v, date)) {
            snprintf(msg, len, "%s '%s' is not a date (YYYY-MM-DD)", opt, v);
            bad = 1;
        }
        break;
    case F_MONTH:
        if (ro_month_parse(v, date)) {
            snprintf(msg, len, "%s '%s' is not a month (YYYY-MM)", opt, v);
            bad = 1;
        }
        break;
    case F_TOTAL: bad = s_count(opt, v, total, msg, len) != 0; break;
    case F_PART: bad = s_count(opt, v, part, msg, len) != 0; break;
    case F_HOURS: bad = s_hours(opt, v, part, msg, len) != 0; break;
    case F_TEXT:
        if (strlen(v) > RO_TEXT_MAX) {
            snprintf(msg, len, "%s is %zu bytes long, above %d", opt, strlen(v), RO_TEXT_MAX);
            bad = 1;
        } else if (!ro_utf8_valid(v, strlen(v))) {
            snprintf(msg, len, "%s is not valid UTF-8", opt);
            bad = 1;
        } else {
            snprintf(r->text, sizeof r->text, "%s", v);
        }
        break;
    }
    return bad ? -1 : 0;
}

/* The friendlier words for the common mistakes in a record's values
 * (date_word: the date or month as typed); ro_report_check decides the
 * rest. Returns 0, or -1 with the reason in why. */
static int s_check_values(const kind_spec_t *k, const char *date_word, uint32_t date,
                          uint32_t total, uint32_t part, int64_t now, const char *head, char *why,
                          size_t len)
{
    uint32_t latest = ro_date_of(now + RO_FUTURE_SKEW);
    if (k->kind == RO_KIND_CASES) {
        if (date < RO_DATE_MIN / 100 || date > latest / 100) {
            snprintf(why, len, "%s: --month %s is %s", head, date_word,
                     date < RO_DATE_MIN / 100 ? "before the rollout began (2017-01)"
                                              : "after today + 1 day by this computer's "
                                                "clock: check the month, and the clock");
            return -1;
        }
    } else if (date < RO_DATE_MIN || date > latest) {
        snprintf(why, len, "%s: --date %s is %s", head, date_word,
                 date < RO_DATE_MIN ? "before the rollout began (2017-01-01)"
                                    : "after today + 1 day by this computer's clock: check the "
                                      "date, and the clock");
        return -1;
    }
    if (k->kind != RO_KIND_TRAINING && part > total) {
        snprintf(why, len, "%s: --%s %u is above --total %u", head, k->opts[2].name, part, total);
        return -1;
    }
    if (k->kind == RO_KIND_TRAINING && total == 0) {
        snprintf(why, len, "%s: --participants must be at least 1", head);
        return -1;
    }
    return 0;
}

/* Parse the words after `record` (words[0] is the kind) into *r, checked
 * with ro_report_check as of now. Returns 0, or -1 with a one-line reason
 * ("record staff: ...") in why. */
static int s_parse_record(int n, char **words, const char *unit, int64_t now, ro_report_t *r,
                          char *why, size_t len)
{
    memset(r, 0, sizeof *r);
    if (n < 1) {
        snprintf(why, len,
                 "record: which kind? training, staff, items or cases "
                 "(see rollout-agent record --help)");
        return -1;
    }
    const kind_spec_t *k = NULL;
    for (size_t i = 0; i < KIND_COUNT; i++)
        if (!strcmp(words[0], s_kinds[i].name))
            k = &s_kinds[i];
    if (!k) {
        snprintf(why, len,
                 "record: unknown kind '%s': training, staff, items or cases "
                 "(see rollout-agent record --help)",
                 words[0]);
        return -1;
    }
    char head[32], msg[400], list[96];
    snprintf(head, sizeof head, "record %s", k->name);
    s_opt_list(k, list, sizeof list);
    const char *seen[4] = {NULL, NULL, NULL, NULL};
    uint32_t date = 0, total = 0, part = 0;

    for (int i = 1; i < n; i++) {
        const char *w = words[i];
        if (strncmp(w, "--", 2) != 0 || !w[2]) {
            snprintf(why, len, "%s: unexpected word '%s' (%s takes %s)", head, w, k->name, list);
            return -1;
        }
        char name[40];
        const char *eq = strchr(w + 2, '=');
        size_t nlen = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
        snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name ? nlen : sizeof name - 1),
                 w + 2);
        int o = -1;
        for (int j = 0; j < 4 && k->opts[j].name; j++)
            if (strlen(k->opts[j].name) == nlen && !strncmp(k->opts[j].name, w + 2, nlen))
                o = j;
        if (o < 0) {
            if (!strcmp(name, "config"))
                snprintf(why, len,
                         "%s: --config goes before the command: rollout-agent "
                         "--config FILE record ...",
                         head);
            else
                snprintf(why, len, "%s: unknown option --%s (%s takes %s)", head, name, k->name,
                         list);
            return -1;
        }
        const opt_spec_t *spec = &k->opts[o];
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < n) {
            v = words[++i];
        } else {
            snprintf(why, len, "%s: --%s needs a value", head, spec->name);
            return -1;
        }
        if (seen[o]) {
            snprintf(why, len, "%s: --%s is given twice", head, spec->name);
            return -1;
        }
        seen[o] = v;
        if (s_parse_value(spec, v, &date, &total, &part, r, msg, sizeof msg)) {
            snprintf(why, len, "%s: %s", head, msg);
            return -1;
        }
    }
    for (int j = 0; j < 4 && k->opts[j].name; j++) {
        if (k->opts[j].required && !seen[j]) {
            snprintf(why, len, "%s: --%s is missing (%s takes %s)", head, k->opts[j].name, k->name,
                     list);
            return -1;
        }
    }
    if (s_check_values(k, seen[0], date, total, part, now, head, why, len))
        return -1;
    r->version = RO_PROTOCOL_V1;
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->seq = 1; /* the outbox assigns the real one */
    r->recorded_at = now;
    r->kind = k->kind;
    r->date = date;
    r->total = total;
    r->part = part;
    if (ro_report_check(r, msg, sizeof msg) != RO_REASON_NONE) {
        snprintf(why, len, "%s: %s", head, msg);
        return -1;
    }
    return 0;
}

/* Split a --file line into words, in place: blanks separate words, double
 * quotes group (with \" and \\ inside). Returns the word count, or -1. */
static int s_split(char *line, char **words, int max, char *why, size_t len)
{
    int n = 0;
    char *src = line, *dst = line;
    for (;;) {
        while (*src == ' ' || *src == '\t')
            src++;
        if (!*src)
            break;
        if (n == max) {
            snprintf(why, len, "more than %d words", max);
            return -1;
        }
        words[n++] = dst;
        int quoted = 0;
        while (*src && (quoted || (*src != ' ' && *src != '\t'))) {
            if (*src == '"') {
                quoted = !quoted;
                src++;
            } else if (quoted && *src == '\\' && (src[1] == '"' || src[1] == '\\')) {
                *dst++ = src[1];
                src += 2;
            } else {
                *dst++ = *src++;
            }
        }
        if (quoted) {
            snprintf(why, len, "a double quote is not closed");
            return -1;
        }
        /* dst never passes src, so ending the word may overwrite a blank */
        int at_end = !*src;
        *dst++ = '\0';
        if (at_end)
            break;
        src++;
    }
    return n;
}

/* ---- configuration and outbox ------------------------------------------ */

static int s_load_config(const char *path, ro_agent_config_t *cfg)
{
    char err[600];
    if (ro_agent_config_load(path, cfg, err, sizeof err))
        return s_fail(EXIT_USAGE, "%s", err);
    return 0;
}

/* outbox_max and the retention, from agent.ini. */
static void s_outbox_limits(agent_outbox_t *ob, const ro_agent_config_t *cfg)
{
    agent_outbox_set_max(ob, cfg->outbox_max);
    agent_outbox_set_retention(ob, cfg->retain_days, (int64_t)cfg->retain_max_mb << 20);
}

static int s_outbox_full(const char *err, const ro_agent_config_t *cfg)
{
    (void)cfg;
    return s_fail(1, "%s; is `rollout-agent run` running and the hub reachable?", err);
}

/* ---- record ------------------------------------------------------------ */

static int s_record_file(const ro_agent_config_t *cfg, const char *file)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f)
        return s_fail(EXIT_USAGE, "record: cannot read %s: %s", file, strerror(errno));
    int64_t now = ro_time_now();
    ro_report_t *rs = NULL;
    int *lines = NULL;
    size_t count = 0, cap = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    char why[600];
    while ((got = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if ((size_t)got != strlen(line)) {
            rc = s_fail(EXIT_USAGE, "%s:%d: the line holds a NUL byte", file, lineno);
            goto done;
        }
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        char *words[FILE_WORDS_MAX];
        int n = s_split(line, words, FILE_WORDS_MAX, why, sizeof why);
        if (n < 0) {
            rc = s_fail(EXIT_USAGE, "%s:%d: %s", file, lineno, why);
            goto done;
        }
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            ro_report_t *nrs = realloc(rs, ncap * sizeof *rs);
            int *nl = nrs ? realloc(lines, ncap * sizeof *lines) : NULL;
            if (nrs)
                rs = nrs;
            if (!nrs || !nl) {
                rc = s_fail(1, "record: out of memory at %s:%d", file, lineno);
                goto done;
            }
            lines = nl;
            cap = ncap;
        }
        if (s_parse_record(n, words, cfg->unit, now, &rs[count], why, sizeof why)) {
            rc = s_fail(EXIT_USAGE, "%s:%d: %s", file, lineno, why);
            goto done;
        }
        lines[count++] = lineno;
    }
    if (ferror(f)) {
        rc = s_fail(EXIT_USAGE, "record: cannot read %s: %s", file, strerror(errno));
        goto done;
    }
    if (count == 0) {
        fprintf(stderr, "%s: record: %s holds no events; nothing recorded\n", s_prog, file);
        goto done;
    }
    char err[600];
    agent_outbox_t *ob =
        agent_outbox_open(cfg->outbox, cfg->unit, AGENT_OUTBOX_CREATE, err, sizeof err);
    if (!ob) {
        rc = s_fail(1, "%s", err);
        goto done;
    }
    s_outbox_limits(ob, cfg);
    uint64_t first = 0;
    size_t bad = count;
    int arc = agent_outbox_append_batch(ob, rs, count, now, &first, &bad, err, sizeof err);
    agent_outbox_destroy(&ob);
    if (arc == AGENT_OUTBOX_FULL)
        rc = s_outbox_full(err, cfg);
    else if (arc == AGENT_OUTBOX_INVALID && bad < count)
        rc = s_fail(EXIT_USAGE, "%s:%d: record %s: %s", file, lines[bad],
                    ro_kind_name(rs[bad].kind), err);
    else if (arc != AGENT_OUTBOX_OK)
        rc = s_fail(1, "record: %s; nothing recorded", err);
    else
        printf("recorded %zu events from %s as seq %" PRIu64 "..%" PRIu64 "\n", count, file, first,
               first + count - 1);
done:
    free(line);
    free(rs);
    free(lines);
    if (f != stdin)
        fclose(f);
    return rc;
}

static int s_cmd_record(const ro_agent_config_t *cfg, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_record_help(stdout);
            return 0;
        }
    }
    if (argc >= 1 && (!strcmp(argv[0], "--file") || !strncmp(argv[0], "--file=", 7))) {
        const char *file = argv[0][6] == '=' ? argv[0] + 7 : (argc >= 2 ? argv[1] : NULL);
        int used = argv[0][6] == '=' ? 1 : 2;
        if (!file || !file[0])
            return s_fail(EXIT_USAGE, "record: --file needs a file name");
        if (argc > used)
            return s_fail(EXIT_USAGE, "record: --file takes no other words (unexpected '%s')",
                          argv[used]);
        return s_record_file(cfg, file);
    }
    int64_t now = ro_time_now();
    ro_report_t r;
    char why[600];
    if (s_parse_record(argc, argv, cfg->unit, now, &r, why, sizeof why))
        return s_fail(EXIT_USAGE, "%s", why);
    char err[600];
    agent_outbox_t *ob =
        agent_outbox_open(cfg->outbox, cfg->unit, AGENT_OUTBOX_CREATE, err, sizeof err);
    if (!ob)
        return s_fail(1, "%s", err);
    s_outbox_limits(ob, cfg);
    int64_t seq = agent_outbox_append(ob, &r, now, err, sizeof err);
    agent_outbox_destroy(&ob);
    if (seq == AGENT_OUTBOX_FULL)
        return s_outbox_full(err, cfg);
    if (seq == AGENT_OUTBOX_INVALID)
        return s_fail(EXIT_USAGE, "record %s: %s", ro_kind_name(r.kind), err);
    if (seq < 0)
        return s_fail(1, "record: %s; nothing recorded", err);
    char day[16];
    ro_date_format(r.date, day);
    printf("recorded %s %s as seq %" PRId64 "\n", ro_kind_name(r.kind), day, seq);
    return 0;
}

/* ---- corrections ------------------------------------------------------- */

static void s_correct_help(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  rollout-agent [--config FILE] amend SEQ --reason TEXT KIND OPTION...\n"
            "  rollout-agent [--config FILE] cancel SEQ --reason TEXT\n"
            "\n"
            "Correct an event recorded before, by its seq (the one `record` printed):\n"
            "  amend   replaces it with the event given after the reason, of the same\n"
            "          kind, with the same options as `record` (rollout-agent record\n"
            "          --help): e.g. 20 participants where 200 were typed, or another date.\n"
            "  cancel  withdraws it: it was recorded twice, or never happened.\n"
            "--reason says why, in a few words (required, at most 200 bytes): the hub\n"
            "keeps it with the correction, for the province's audit trail.\n"
            "\n"
            "The correction is an event of its own (it prints its seq), delivered to the\n"
            "hub like any other; the hub keeps the first event and every correction, and\n"
            "counts the corrected figures. To correct a correction, amend or cancel its\n"
            "seq. An event that was refused, cancelled or corrected already, or that the\n"
            "outbox no longer keeps (retain_days), cannot be corrected here.\n"
            "\n"
            "Examples:\n"
            "  rollout-agent amend 12 --reason \"200 typed for 20\" training --date 2018-03-02 \\\n"
            "      --participants 20 --hours 1.5 --course \"Platform basics\"\n"
            "  rollout-agent cancel 13 --reason \"recorded twice\"\n"
            "\n"
            "Exit status: 0 recorded; 2 bad input, or an event that cannot be corrected\n"
            "(nothing recorded); 1 the outbox cannot be opened, or is full.\n");
}

/* Take --reason TEXT (or --reason=TEXT) out of words[0..*n), into reason.
 * Returns 0, or -1 with why. */
static int s_take_reason(const char *cmd, int *n, char **words, char *reason, size_t cap, char *why,
                         size_t len)
{
    int found = -1, used = 0;
    for (int i = 0; i < *n && found < 0; i++) {
        if (!strcmp(words[i], "--reason"))
            found = i, used = 2;
        else if (!strncmp(words[i], "--reason=", 9))
            found = i, used = 1;
    }
    const char *v = found < 0        ? NULL
                    : used == 1      ? words[found] + 9
                    : found + 1 < *n ? words[found + 1]
                                     : NULL;
    if (!v || !v[0]) {
        snprintf(why, len, "%s: --reason TEXT is required: why the event is corrected", cmd);
        return -1;
    }
    if (strlen(v) >= cap || !ro_utf8_valid(v, strlen(v))) {
        snprintf(why, len, "%s: --reason is at most %zu bytes of UTF-8", cmd, cap - 1);
        return -1;
    }
    snprintf(reason, cap, "%s", v);
    for (int i = found; i + used < *n; i++)
        words[i] = words[i + used];
    *n -= used;
    return 0;
}

/* amend and cancel: a correction of the event at seq SEQ. */
static int s_correct(const ro_agent_config_t *cfg, int argc, char **argv, ro_action_t action)
{
    const char *cmd = action == RO_ACTION_AMEND ? "amend" : "cancel";
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_correct_help(stdout);
            return 0;
        }
    char *end = NULL;
    unsigned long long target = argc > 0 ? strtoull(argv[0], &end, 10) : 0;
    if (argc < 1 || !end || *end || target == 0 || argv[0][0] == '-')
        return s_fail(EXIT_USAGE,
                      "%s: which seq? %s SEQ --reason TEXT%s (see rollout-agent %s "
                      "--help)",
                      cmd, cmd, action == RO_ACTION_AMEND ? " KIND OPTION..." : "", cmd);
    int n = argc - 1;
    char **words = argv + 1;
    char reason[RO_TEXT_MAX + 1], why[600], err[600];
    if (s_take_reason(cmd, &n, words, reason, sizeof reason, why, sizeof why))
        return s_fail(EXIT_USAGE, "%s", why);
    int64_t now = ro_time_now();
    ro_report_t r;
    memset(&r, 0, sizeof r);
    if (action == RO_ACTION_AMEND) {
        if (s_parse_record(n, words, cfg->unit, now, &r, why, sizeof why))
            return s_fail(EXIT_USAGE, "amend %llu: %s", target,
                          strncmp(why, "record ", 7) ? why : why + 7);
    } else if (n > 0) {
        return s_fail(EXIT_USAGE, "cancel: unexpected word '%s' (cancel takes SEQ --reason TEXT)",
                      words[0]);
    }
    r.action = action;
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    agent_outbox_t *ob =
        agent_outbox_open(cfg->outbox, cfg->unit, AGENT_OUTBOX_EXISTING, err, sizeof err);
    if (!ob)
        return s_fail(1, "%s", err);
    s_outbox_limits(ob, cfg);
    agent_target_t t;
    int64_t seq = agent_outbox_correct(ob, &r, target, now, &t, err, sizeof err);
    agent_outbox_destroy(&ob);
    if (seq == AGENT_OUTBOX_FULL)
        return s_outbox_full(err, cfg);
    if (seq == AGENT_OUTBOX_INVALID)
        return s_fail(EXIT_USAGE, "%s %llu: %s; nothing recorded", cmd, target, err);
    if (seq < 0)
        return s_fail(1, "%s: %s; nothing recorded", cmd, err);
    char day[16];
    ro_date_format(t.report.date, day);
    printf("recorded seq %" PRId64 ": %s seq %llu (%s %s)%s; the hub counts the corrected "
           "figures once it has seq %" PRId64 "\n",
           seq, action == RO_ACTION_AMEND ? "amends" : "cancels", target,
           ro_kind_name(t.report.kind), day, t.waiting ? ", which waits for the hub too" : "", seq);
    return 0;
}

/* ---- list ---------------------------------------------------------------- */

typedef struct {
    int json;
    int n;
} s_list_t;

static void s_json_string(FILE *out, const char *s);

/* An event's date and figures, as staff typed them. */
static void s_describe(const ro_report_t *r, char *day, size_t daylen, char *fig, size_t figlen)
{
    day[0] = fig[0] = '\0';
    if (r->kind == RO_KIND_NONE)
        return;
    if (r->kind == RO_KIND_CASES)
        snprintf(day, daylen, "%04u-%02u", r->date / 100, r->date % 100);
    else
        ro_date_format(r->date, day);
    if (r->kind == RO_KIND_TRAINING)
        snprintf(fig, figlen, "%u participants, %u.%u h%s%s", r->total, r->part / 10, r->part % 10,
                 r->text[0] ? ", " : "", r->text);
    else
        snprintf(fig, figlen, "%u of %u %s", r->part, r->total,
                 r->kind == RO_KIND_STAFF ? "proficient" : "no-visit");
}

/* agent_outbox_list's callback: one event as a line, or a JSON object. */
static void s_list_one(void *arg, const agent_listed_t *ev)
{
    s_list_t *l = arg;
    static const char *states[] = {"waiting", "delivered", "refused"};
    const char *state = ev->state >= 0 && ev->state <= 2 ? states[ev->state] : "?";
    ro_report_t r;
    if (ro_report_decode(ev->body, ev->len, &r, NULL, 0) != RO_REASON_NONE)
        memset(&r, 0, sizeof r); /* no append of ours stores one that does not decode */
    char day[16], fig[300];
    s_describe(&r, day, sizeof day, fig, sizeof fig);
    const char *kind = r.kind != RO_KIND_NONE ? ro_kind_name(r.kind) : "-";
    if (l->json) {
        printf("%s{\"seq\":%" PRIu64 ",\"state\":\"%s\",\"kind\":\"%s\",\"date\":\"%s\","
               "\"total\":%u,\"part\":%u,\"text\":",
               l->n++ ? "," : "", ev->seq, state, kind, day, r.total, r.part);
        s_json_string(stdout, r.text);
        printf(",\"action\":\"%s\",\"target\":%" PRIu64 ",\"reason\":", ro_action_name(r.action),
               ev->target);
        s_json_string(stdout, r.reason);
        printf(",\"corrected_by\":%" PRIu64 "}", ev->corrected_by);
        return;
    }
    l->n++;
    printf("%7" PRIu64 "  %-9s  %-8s  %-10s  %s", ev->seq, state, kind, day, fig);
    if (r.action != RO_ACTION_NONE)
        printf("%s%s seq %" PRIu64 ": %s", fig[0] ? "; " : "",
               r.action == RO_ACTION_AMEND ? "amends" : "cancels", ev->target, r.reason);
    if (ev->corrected_by)
        printf(" (corrected by seq %" PRIu64 ")", ev->corrected_by);
    printf("\n");
}

static int s_cmd_list(const ro_agent_config_t *cfg, int argc, char **argv)
{
    s_list_t l = {0, 0};
    long last = 20;
    for (int i = 0; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: rollout-agent [--config FILE] list [--last N | --all] [--json]\n"
                   "\n"
                   "The events in the outbox, newest first (the last 20 unless told): each\n"
                   "one's seq (what amend and cancel take), whether it waits for the hub, was\n"
                   "delivered (and is kept, retain_days) or was refused, its kind, date and\n"
                   "figures, and the corrections: what a correction amends or cancels, and\n"
                   "which seq corrected an event.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            l.json = 1;
        } else if (!strcmp(argv[i], "--all")) {
            last = 0;
        } else if (!strcmp(argv[i], "--last") && i + 1 < argc &&
                   (last = strtol(argv[++i], &end, 10)) > 0 && end && !*end) {
            continue;
        } else {
            return s_fail(EXIT_USAGE, "list: unexpected '%s' (list takes --last N, --all, --json)",
                          argv[i]);
        }
    }
    char err[600];
    agent_outbox_t *ob =
        agent_outbox_open(cfg->outbox, cfg->unit, AGENT_OUTBOX_EXISTING, err, sizeof err);
    if (!ob)
        return s_fail(1, "%s", err);
    if (l.json)
        printf("{\"unit\":\"%s\",\"events\":[", cfg->unit);
    else
        printf("%7s  %-9s  %-8s  %-10s  %s\n", "seq", "state", "kind", "date", "figures");
    int n = agent_outbox_list(ob, (size_t)last, s_list_one, &l);
    if (l.json)
        printf("]}\n");
    else if (n == 0)
        printf("(no events)\n");
    if (n < 0)
        snprintf(err, sizeof err, "%s", agent_outbox_errmsg(ob));
    agent_outbox_destroy(&ob);
    return n < 0 ? s_fail(1, "list: %s", err) : 0;
}

static int s_cmd_amend(const ro_agent_config_t *cfg, int argc, char **argv)
{
    return s_correct(cfg, argc, argv, RO_ACTION_AMEND);
}

static int s_cmd_cancel(const ro_agent_config_t *cfg, int argc, char **argv)
{
    return s_correct(cfg, argc, argv, RO_ACTION_CANCEL);
}

/* ---- status ------------------------------------------------------------ */

static void s_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* What `status` shows: the outbox's counters and latest refusals, and what
 * the hub said to a heartbeat. */
typedef struct {
    agent_outbox_stats_t st;                 /* the outbox's counters */
    agent_refusal_t recent[STATUS_REFUSALS]; /* the latest refusals */
    int nrecent;                             /* in recent */
    agent_earlier_t earlier[STATUS_EARLIER]; /* the earlier incarnations kept */
    int nearlier;                            /* in earlier */
    int exists;                              /* the outbox file exists */
    int probe;                               /* the hub was asked */
    int answered;                            /* and answered */
    int replaced;                            /* it holds more than this outbox recorded */
    int legacy;                              /* the outbox's incarnation is the legacy one */
    agent_probe_t pr;                        /* its answer */
    char perr[600];                          /* why it did not answer */
} status_view_t;

/* The outbox's incarnation is the legacy one (its sequence is the unit's
 * first, the same in both protocol versions). */
static int s_legacy(const agent_outbox_stats_t *st)
{
    static const uint8_t zero[AGENT_INCARNATION_LEN];
    return st->base == 0 && memcmp(st->incarnation, zero, sizeof zero) == 0;
}

/* Read the outbox and ask the hub (v->probe set). Returns 0, or the exit
 * status after saying why. */
static int s_status_gather(const ro_agent_config_t *cfg, status_view_t *v)
{
    char err[600];
    struct stat sb;
    v->st = (agent_outbox_stats_t){.next_seq = 1};
    v->exists = 1;
    if (stat(cfg->outbox, &sb) != 0 && errno == ENOENT) {
        v->exists = 0;
    } else {
        agent_outbox_t *ob =
            agent_outbox_open(cfg->outbox, cfg->unit, AGENT_OUTBOX_EXISTING, err, sizeof err);
        if (!ob)
            return s_fail(1, "%s", err);
        if (agent_outbox_stats(ob, &v->st) != 0) {
            s_fail(1, "status: cannot read outbox %s: %s", cfg->outbox, agent_outbox_errmsg(ob));
            agent_outbox_destroy(&ob);
            return 1;
        }
        v->nrecent = agent_outbox_refused_last(ob, v->recent, STATUS_REFUSALS);
        if (v->nrecent < 0)
            v->nrecent = 0;
        v->nearlier = agent_outbox_earlier(ob, 0, v->earlier, STATUS_EARLIER);
        if (v->nearlier < 0)
            v->nearlier = 0;
        agent_outbox_destroy(&ob);
    }
    if (v->probe)
        v->answered =
            agent_sender_probe(cfg, &v->st, PROBE_MS, &v->pr, v->perr, sizeof v->perr) == 0;
    /* version 2 answers in the incarnation's wire seqs; version 1 in the
     * unit's legacy sequence, which is this outbox's only when legacy */
    v->legacy = s_legacy(&v->st);
    if (v->answered && !v->pr.refused && v->pr.hub_version >= 2)
        v->replaced = v->pr.upto + v->st.base >= v->st.next_seq;
    else if (v->answered && !v->pr.refused)
        v->replaced = v->legacy && v->pr.upto >= v->st.next_seq;
    return 0;
}

/* An identity in hex: the first n bytes. */
static void s_hex(const uint8_t *id, int n, char *out)
{
    for (int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* The earlier incarnations the outbox keeps events of, as a JSON array. */
static void s_earlier_json(const status_view_t *v)
{
    printf(",\"earlier\":[");
    for (int i = 0; i < v->nearlier; i++) {
        const agent_earlier_t *e = &v->earlier[i];
        char hex[2 * AGENT_INCARNATION_LEN + 1];
        s_hex(e->incarnation, AGENT_INCARNATION_LEN, hex);
        printf("%s{\"incarnation\":\"%s\",\"base\":%" PRIu64 ",\"last_ack\":%" PRIu64
               ",\"wire_last_ack\":%" PRIu64 ",\"retained\":%" PRId64 ",\"retained_from\":%" PRIu64
               ",\"waiting\":%" PRId64 "}",
               i ? "," : "", hex, e->base, e->last_ack, e->last_ack - e->base, e->retained,
               e->retained_from, e->waiting);
    }
    printf("]");
}

static void s_status_json(const ro_agent_config_t *cfg, const status_view_t *v)
{
    printf("{\"json_version\":%d,\"unit\":", RO_JSON_VERSION);
    s_json_string(stdout, cfg->unit);
    printf(",\"outbox\":");
    s_json_string(stdout, cfg->outbox);
    printf(",\"outbox_exists\":%s,\"depth\":%" PRId64 ",\"next_seq\":%" PRIu64
           ",\"last_ack\":%" PRIu64 ",\"retained\":%" PRId64 ",\"retained_from\":%" PRIu64
           ",\"retained_bytes\":%" PRId64 ",\"refused\":%" PRId64,
           v->exists ? "true" : "false", v->st.depth, v->st.next_seq, v->st.last_ack,
           v->st.retained, v->st.retained_from, v->st.retained_bytes, v->st.refused);
    char hex[2 * AGENT_INCARNATION_LEN + 1];
    s_hex(v->st.incarnation, AGENT_INCARNATION_LEN, hex);
    printf(",\"incarnation\":\"%s\",\"legacy\":%s,\"base\":%" PRIu64 ",\"wire_next_seq\":%" PRIu64
           ",\"wire_last_ack\":%" PRIu64 ",\"recent_refusals\":[",
           hex, s_legacy(&v->st) ? "true" : "false", v->st.base, v->st.next_seq - v->st.base,
           v->st.last_ack - v->st.base);
    for (int i = 0; i < v->nrecent; i++) {
        printf(
            "%s{\"seq\":%" PRIu64 ",\"reason\":\"%s\",\"at\":%" PRId64 ",\"text\":", i ? "," : "",
            v->recent[i].seq, ro_reason_name(v->recent[i].reason), v->recent[i].at);
        s_json_string(stdout, v->recent[i].text);
        printf("}");
    }
    printf("]");
    s_earlier_json(v);
    printf(",\"hub\":{\"endpoint\":");
    s_json_string(stdout, cfg->hub);
    printf(",\"curve\":%s,\"probed\":%s,\"answered\":%s", cfg->sec.curve ? "true" : "false",
           v->probe ? "true" : "false", v->answered ? "true" : "false");
    if (v->answered && v->pr.refused) {
        printf(",\"refused\":true,\"reason\":\"%s\",\"text\":", ro_reason_name(v->pr.reason));
        s_json_string(stdout, v->pr.text);
    } else if (v->answered) {
        printf(",\"refused\":false,\"version\":%u,\"stored_upto\":%" PRIu64
               ",\"outbox_replaced\":%s,\"held_for_review\":%" PRIu64,
               v->pr.hub_version, v->pr.upto, v->replaced ? "true" : "false", v->pr.held);
    }
    if (v->answered)
        printf(",\"rtt_ms\":%" PRId64, v->pr.rtt_ms);
    else if (v->probe) {
        printf(",\"error\":");
        s_json_string(stdout, v->perr);
    }
    printf("}}\n");
}

static void s_status_text(const ro_agent_config_t *cfg, const status_view_t *v)
{
    printf("unit        %s\n", cfg->unit);
    printf("outbox      %s%s\n", cfg->outbox, v->exists ? "" : " (none yet: nothing recorded)");
    printf("waiting     %" PRId64 " event%s\n", v->st.depth, v->st.depth == 1 ? "" : "s");
    char hex[17];
    s_hex(v->st.incarnation, 8, hex);
    if (s_legacy(&v->st))
        printf("identity    legacy (the unit's first sequence, as revision 1 numbered it)\n");
    else
        printf("identity    incarnation %s..., wire seq = seq - %" PRIu64 "\n", hex, v->st.base);
    printf("next seq    %" PRIu64 " (wire %" PRIu64 ")\n", v->st.next_seq,
           v->st.next_seq - v->st.base);
    printf("last ack    %" PRIu64 " (wire %" PRIu64 ")\n", v->st.last_ack,
           v->st.last_ack - v->st.base);
    if (v->st.retained > 0)
        printf("retained    %" PRId64 " acknowledged event%s, seq %" PRIu64 "..%" PRIu64
               " (%" PRId64 " KiB), kept to refill the hub\n",
               v->st.retained, v->st.retained == 1 ? "" : "s", v->st.retained_from, v->st.last_ack,
               (v->st.retained_bytes + 1023) / 1024);
    else
        printf("retained    0\n");
    for (int i = 0; i < v->nearlier; i++) {
        const agent_earlier_t *e = &v->earlier[i];
        s_hex(e->incarnation, 8, hex);
        printf("earlier     incarnation %s..., wire seq = seq - %" PRIu64 ": %" PRId64
               " acknowledged event%s kept (seq %" PRIu64 "..%" PRIu64 ", last ack wire %" PRIu64
               "), %" PRId64 " waiting to refill the hub\n",
               hex, e->base, e->retained, e->retained == 1 ? "" : "s", e->retained_from,
               e->last_ack, e->last_ack - e->base, e->waiting);
    }
    printf("refused     %" PRId64 "\n", v->st.refused);
    for (int i = 0; i < v->nrecent; i++)
        printf("            seq %" PRIu64 " %s: %s\n", v->recent[i].seq,
               ro_reason_name(v->recent[i].reason), v->recent[i].text);
    if (!v->probe)
        printf("hub         %s (not asked)\n", cfg->hub);
    else if (!v->answered)
        printf("hub         %s: NOT ANSWERING: %s\n", cfg->hub, v->perr);
    else if (v->pr.refused)
        printf("hub         %s: answers, but REFUSES this unit (%s): %s\n", cfg->hub,
               ro_reason_name(v->pr.reason), v->pr.text);
    else if (v->pr.hub_version >= 2)
        printf("hub         %s: answers in %" PRId64 " ms; has stored up to wire seq %" PRIu64
               " of this identity\n",
               cfg->hub, v->pr.rtt_ms, v->pr.upto);
    else if (s_legacy(&v->st))
        printf("hub         %s: answers in %" PRId64 " ms (protocol version 1); has stored up "
               "to seq %" PRIu64 "\n",
               cfg->hub, v->pr.rtt_ms, v->pr.upto);
    else
        printf("hub         %s: answers in %" PRId64 " ms, but speaks protocol version 1 "
               "only: this outbox's events wait until the hub is upgraded to revision 2\n",
               cfg->hub, v->pr.rtt_ms);
    if (v->answered && !v->pr.refused && v->pr.held)
        printf("review      %" PRIu64 " of the unit's reports held for a reviewer at the hub: "
               "counted once accepted\n",
               v->pr.held);
    if (v->replaced && v->pr.hub_version >= 2)
        printf("NOTE        the hub holds more under this identity than this outbox ever "
               "numbered: another agent or an old copy uses it; `run` draws a new identity "
               "(nothing is lost)\n");
    else if (v->replaced)
        printf("WARNING     the hub has stored more than this outbox ever recorded (next seq "
               "%" PRIu64 "): the outbox was replaced; new events will be refused as "
               "conflicts\n",
               v->st.next_seq);
}

static int s_cmd_status(const ro_agent_config_t *cfg, int argc, char **argv)
{
    static status_view_t zero;
    status_view_t view = zero, *v = &view;
    int json = 0;
    v->probe = 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--no-hub"))
            v->probe = 0;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: rollout-agent [--config FILE] status [--json] [--no-hub]\n"
                   "Shows the outbox's identity (legacy, or its incarnation and base: wire\n"
                   "seq = seq - base), events waiting, next seq, last ack, retained\n"
                   "(acknowledged, kept to refill the hub), the earlier identities it keeps\n"
                   "events of (refilled under their own) and refused events, and whether the\n"
                   "hub answers a heartbeat within 2 s, asked in protocol version 2 and again\n"
                   "in 1 if refused (skipped with --no-hub). Exits 1 when the outbox cannot be\n"
                   "read or the hub is silent or refuses the unit.\n");
            return 0;
        } else
            return s_fail(EXIT_USAGE,
                          "status: unknown option '%s' (status takes --json, "
                          "--no-hub)",
                          argv[i]);
    }
    int rc = s_status_gather(cfg, v);
    if (rc)
        return rc;
    if (json)
        s_status_json(cfg, v);
    else
        s_status_text(cfg, v);
    return v->probe && (!v->answered || v->pr.refused) ? 1 : 0;
}

/* ---- run --------------------------------------------------------------- */

static int s_stop_pipe[2] = {-1, -1};

static void s_on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 1;
    if (write(s_stop_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a stop is already pending */
    }
    errno = saved;
}

/* One `run` per outbox: two senders of one outbox would race each other's
 * acks. An flock on OUTBOX-run.lock (not on the outbox, whose POSIX locks are
 * SQLite's) held for the life of the process; it holds the owner's pid for the
 * message. Returns the lock's fd, or -1 with err filled. */
static int s_run_lock(const char *outbox, char *err, size_t errlen)
{
    char path[RO_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s-run.lock", outbox);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen,
                 "another `rollout-agent run`%s%s%s is already sending from this outbox (%s "
                 "is locked); stop it first, or give this one an outbox of its own",
                 pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", path);
        close(fd);
        return -1;
    }
    char pid[24];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* the pid is only for the message above */
    }
    return fd;
}

static int s_cmd_run(const ro_agent_config_t *cfg, int argc, char **argv)
{
    if (argc > 0) {
        if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
            printf("Usage: rollout-agent [--config FILE] run\n"
                   "Runs the service in the foreground, logging to stderr, until SIGTERM or\n"
                   "SIGINT. Exits 0 when stopped, 1 when it cannot start.\n");
            return 0;
        }
        return s_fail(EXIT_USAGE, "run: unexpected argument '%s' (run takes none)", argv[0]);
    }
    ro_log_init("rollout-agent", cfg->log_level);
    char err[RO_PATH_MAX + 256];
    agent_outbox_t *ob =
        agent_outbox_open(cfg->outbox, cfg->unit, AGENT_OUTBOX_CREATE, err, sizeof err);
    if (!ob) {
        ro_log(LOG_ERR, "%s", err);
        return 1;
    }
    int lock_fd = s_run_lock(cfg->outbox, err, sizeof err);
    if (lock_fd < 0) {
        ro_log(LOG_ERR, "%s", err);
        agent_outbox_destroy(&ob);
        return 1;
    }
    s_outbox_limits(ob, cfg);
    int back = agent_outbox_requeue(ob);
    if (back > 0)
        ro_log(LOG_NOTICE,
               "%d events an older agent set aside (refused for a reason the hub's side can "
               "fix: unknown unit, forbidden key, version) are back in the outbox, to be sent "
               "again",
               back);
    if (pipe2(s_stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        ro_log(LOG_ERR, "cannot make a pipe: %s", strerror(errno));
        agent_outbox_destroy(&ob);
        close(lock_fd);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    agent_sender_t *sender = agent_sender_new(cfg, ob, err, sizeof err);
    if (!sender) {
        ro_log(LOG_ERR, "%s", err);
        agent_outbox_destroy(&ob);
        close(lock_fd);
        return 1;
    }
    int rc = agent_sender_run(sender, s_stop_pipe[0]);
    agent_sender_destroy(&sender);
    agent_outbox_destroy(&ob);
    close(lock_fd);
    return rc == 0 ? 0 : 1;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *config = DEFAULT_CONFIG;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_help(stdout);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("rollout-agent %s (protocol %d)\n", RO_VERSION, RO_PROTOCOL_VERSION);
            return 0;
        }
        if (!strcmp(a, "--config") || !strcmp(a, "-c")) {
            if (i + 1 >= argc)
                return s_fail(EXIT_USAGE, "--config needs a file name");
            config = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            config = a + 9;
        } else {
            return s_fail(EXIT_USAGE, "unknown option '%s' (try rollout-agent --help)", a);
        }
    }
    if (i >= argc)
        return s_fail(EXIT_USAGE, "which command? record, run or status (try rollout-agent "
                                  "--help)");
    const char *cmd = argv[i++];
    int rest = argc - i;
    char **args = argv + i;
    if (!strcmp(cmd, "help")) {
        if (rest > 0 && !strcmp(args[0], "record"))
            s_record_help(stdout);
        else if (rest > 0 && (!strcmp(args[0], "amend") || !strcmp(args[0], "cancel")))
            s_correct_help(stdout);
        else
            s_help(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version")) {
        printf("rollout-agent %s (protocol %d)\n", RO_VERSION, RO_PROTOCOL_VERSION);
        return 0;
    }
    int (*fn)(const ro_agent_config_t *, int, char **) = NULL;
    if (!strcmp(cmd, "record"))
        fn = s_cmd_record;
    else if (!strcmp(cmd, "run"))
        fn = s_cmd_run;
    else if (!strcmp(cmd, "status"))
        fn = s_cmd_status;
    else if (!strcmp(cmd, "list"))
        fn = s_cmd_list;
    else if (!strcmp(cmd, "amend"))
        fn = s_cmd_amend;
    else if (!strcmp(cmd, "cancel"))
        fn = s_cmd_cancel;
    else
        return s_fail(EXIT_USAGE,
                      "unknown command '%s': record, list, amend, cancel, run or status (try "
                      "rollout-agent --help)",
                      cmd);
    /* help needs no config file */
    for (int j = 0; j < rest; j++) {
        if (!strcmp(args[j], "--help") || !strcmp(args[j], "-h")) {
            if (fn == s_cmd_record)
                s_record_help(stdout);
            else
                fn(NULL, 1, &args[j]);
            return 0;
        }
    }
    ro_agent_config_t cfg;
    int rc = s_load_config(config, &cfg);
    if (rc)
        return rc;
    return fn(&cfg, rest, args);
}
