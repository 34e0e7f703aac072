/* rolloutctl: the operator's client. Asks the hub's status socket one
 * question and prints the answer as a table or as one JSON document. It
 * never opens hub.db: everything it knows comes over the socket. The feed
 * (watch), reports and CURVE client keys are later additions. */
#include "ro_codec.h"
#include "ro_config.h"
#include "ro_pb.h"
#include "ro_registry.h"
#include "ro_sock.h"
#include "ro_time.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 7452

static void s_help(void)
{
    printf("usage: rolloutctl [--hub ENDPOINT|HOST[:PORT]] [--timeout SEC] COMMAND [OPTIONS]\n"
           "\n"
           "Ask a running rollout-hub over its status socket (never its database).\n"
           "\n"
           "commands:\n"
           "  status [--unit ID | --division CODE | --level L] [--as-of YYYY-MM-DD] [--json]\n"
           "                      the province's totals, or one unit's (division and level\n"
           "                      scopes need a hub with the attainment engine)\n"
           "  metrics [--json]    the hub's counters: reports stored, duplicates, refusals...\n"
           "  verify [--json]     recount every unit's aggregates from the raw reports and\n"
           "                      compare them with the stored ones\n"
           "\n"
           "options:\n"
           "  --hub H        the hub's status socket: a ZeroMQ endpoint (tcp://host:port), a\n"
           "                 HOST (port %d) or HOST:PORT; default tcp://%s:%d\n"
           "  --timeout SEC  how long to wait for an answer (default 5)\n"
           "  --json         print one JSON document instead of a table\n"
           "  -h, --help     this help;  --version  the version\n"
           "\n"
           "examples:\n"
           "  rolloutctl status\n"
           "  rolloutctl --hub hub.example.org status --unit 460100-001\n"
           "  rolloutctl --hub tcp://127.0.0.1:7452 status --json | jq .scopes[0].reports\n"
           "  rolloutctl metrics\n"
           "  rolloutctl verify\n"
           "\n"
           "exit status: 0 ok; 1 no answer, hub trouble, or verify found differences;\n"
           "2 bad usage or a request the hub refused (e.g. an unknown unit).\n",
           DEFAULT_PORT, DEFAULT_HOST, DEFAULT_PORT);
}

static int s_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("rolloutctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try --help)\n", stderr);
    return 2;
}

/* ENDPOINT stays as is; HOST becomes tcp://HOST:7452, HOST:PORT tcp://HOST:PORT. */
static int s_endpoint(const char *hub, char *out, size_t cap)
{
    int n;
    if (!hub[0])
        return -1;
    if (strstr(hub, "://"))
        n = snprintf(out, cap, "%s", hub);
    else if (hub[0] == '[')
        n = strstr(hub, "]:") ? snprintf(out, cap, "tcp://%s", hub)
                              : snprintf(out, cap, "tcp://%s:%d", hub, DEFAULT_PORT);
    else if (strchr(hub, ':') && strchr(hub, ':') != strrchr(hub, ':'))
        n = snprintf(out, cap, "tcp://[%s]:%d", hub, DEFAULT_PORT); /* bare IPv6 */
    else if (strchr(hub, ':'))
        n = snprintf(out, cap, "tcp://%s", hub);
    else
        n = snprintf(out, cap, "tcp://%s:%d", hub, DEFAULT_PORT);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Send one request and wait for the reply. Returns the unpacked reply (free
 * with rollout__status_reply__free_unpacked), or NULL with a line printed. */
static Rollout__StatusReply *s_ask(const char *endpoint, double timeout_s,
                                   const Rollout__StatusRequest *req)
{
    Rollout__StatusReply *reply = NULL;
    uint8_t body[4096];
    size_t len = rollout__status_request__get_packed_size(req);
    if (len > sizeof body) {
        fprintf(stderr, "rolloutctl: request too large\n");
        return NULL;
    }
    rollout__status_request__pack(req, body);

    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    if (!sock) {
        fprintf(stderr, "rolloutctl: cannot create a socket: %s\n", zmq_strerror(zmq_errno()));
        if (ctx)
            zmq_ctx_term(ctx);
        return NULL;
    }
    int linger = 0;
    int64_t maxmsg = RO_STATUS_FRAME_MAX;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "rolloutctl: cannot connect to %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        goto done;
    }
    if (zmq_send(sock, body, len, 0) < 0) {
        fprintf(stderr, "rolloutctl: cannot send to %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
    int64_t deadline = ro_time_mono_ms() + (int64_t)(timeout_s * 1000.0);
    for (;;) {
        int64_t left = deadline - ro_time_mono_ms();
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int rc = left > 0 ? zmq_poll(&item, 1, (long)left) : 0;
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc <= 0) {
            fprintf(stderr,
                    "rolloutctl: no answer from the hub at %s within %g s; is rollout-hub "
                    "running?\n",
                    endpoint, timeout_s);
            goto done;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            zmq_msg_close(&msg);
            fprintf(stderr, "rolloutctl: receive from %s: %s\n", endpoint,
                    zmq_strerror(zmq_errno()));
            goto done;
        }
        int more = zmq_msg_more(&msg);
        if (zmq_msg_size(&msg) == 0 && more) {
            zmq_msg_close(&msg); /* an empty delimiter: the body follows */
            continue;
        }
        /* An older rolloutctl reads a newer hub's replies, so unknown fields are
         * tolerated here, unlike on the hub's own sockets. */
        reply = rollout__status_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        if (!reply)
            fprintf(stderr, "rolloutctl: the hub at %s sent an answer that is not a StatusReply\n",
                    endpoint);
        break;
    }
done:
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return reply;
}

/* ---- JSON ------------------------------------------------------------------ */

static void s_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                printf("\\u%04x", *p);
            else
                putchar(*p); /* UTF-8 passes through */
        }
    }
    putchar('"');
}

static void s_json_num(double v)
{
    if (!isfinite(v))
        fputs("null", stdout);
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        printf("%.0f", v);
    else
        printf("%.10g", v);
}

static void s_json_date(uint32_t d)
{
    if (d == 0) {
        fputs("null", stdout);
        return;
    }
    char buf[16];
    ro_date_format(d, buf);
    printf("\"%s\"", buf);
}

static void s_json_head(const Rollout__StatusReply *r)
{
    fputs("{\"as_of\":", stdout);
    s_json_date(r->as_of);
    printf(",\"feed_seq\":%llu,\"store_state\":", (unsigned long long)r->feed_seq);
    s_json_str(r->store_state);
}

static void s_json_scope(const Rollout__Scope *s)
{
    fputs("{\"kind\":", stdout);
    s_json_str(s->kind);
    fputs(",\"id\":", stdout);
    s_json_str(s->id);
    fputs(",\"name\":", stdout);
    s_json_str(s->name);
    fputs(",\"level\":", stdout);
    s_json_str(s->level);
    fputs(",\"division\":", stdout);
    s_json_str(s->division);
    printf(",\"units\":%u,\"units_reporting\":%u,\"reports\":%llu,\"participants\":%llu"
           ",\"hours\":%llu.%llu,\"sessions\":%llu,\"staff_total\":%llu,\"staff_proficient\":%llu"
           ",\"items_total\":%llu,\"items_no_visit\":%llu,\"cases_total\":%llu"
           ",\"cases_no_visit\":%llu,\"last_seq\":%llu,\"last_heard\":%lld,\"grade\":",
           s->units, s->units_reporting, (unsigned long long)s->reports,
           (unsigned long long)s->participants, (unsigned long long)(s->hours_tenths / 10),
           (unsigned long long)(s->hours_tenths % 10), (unsigned long long)s->sessions,
           (unsigned long long)s->staff_total, (unsigned long long)s->staff_proficient,
           (unsigned long long)s->items_total, (unsigned long long)s->items_no_visit,
           (unsigned long long)s->cases_total, (unsigned long long)s->cases_no_visit,
           (unsigned long long)s->last_seq, (long long)s->last_heard);
    s_json_str(s->grade);
    fputs(",\"indicators\":[", stdout);
    for (size_t i = 0; i < s->n_indicators; i++) {
        const Rollout__Indicator *in = s->indicators[i];
        fputs(i ? ",{\"id\":" : "{\"id\":", stdout);
        s_json_str(in->id);
        fputs(",\"value\":", stdout);
        s_json_num(in->value);
        fputs(",\"goal\":", stdout);
        s_json_num(in->goal);
        fputs(",\"share\":", stdout);
        s_json_num(in->share);
        fputs(",\"grade\":", stdout);
        s_json_str(in->grade);
        fputs(",\"milestone\":", stdout);
        s_json_str(in->milestone);
        fputs(",\"next_date\":", stdout);
        s_json_date(in->next_date);
        fputs(",\"next_goal\":", stdout);
        s_json_num(in->next_goal);
        fputs(",\"gap\":", stdout);
        s_json_num(in->gap);
        putchar('}');
    }
    fputs("]}", stdout);
}

/* ---- tables ---------------------------------------------------------------- */

static void s_part_of(const char *label, uint64_t part, uint64_t total)
{
    if (total == 0)
        printf("  %-18s %llu / %llu\n", label, (unsigned long long)part, (unsigned long long)total);
    else
        printf("  %-18s %llu / %llu (%.1f%%)\n", label, (unsigned long long)part,
               (unsigned long long)total, 100.0 * (double)part / (double)total);
}

static void s_when(int64_t t, int64_t now)
{
    if (t <= 0) {
        puts("never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    int64_t ago = now - t;
    if (ago < 0)
        printf("%s\n", buf);
    else if (ago < 120)
        printf("%s (%llds ago)\n", buf, (long long)ago);
    else if (ago < 7200)
        printf("%s (%lld min ago)\n", buf, (long long)(ago / 60));
    else if (ago < 2 * 86400)
        printf("%s (%lld h ago)\n", buf, (long long)(ago / 3600));
    else
        printf("%s (%lld days ago)\n", buf, (long long)(ago / 86400));
}

static void s_table_scope(const Rollout__Scope *s, const Rollout__StatusReply *r)
{
    char date[16];
    ro_date_format(r->as_of, date);
    int unit = strcmp(s->kind, "unit") == 0;
    printf("%s %s %s", s->kind, s->id, s->name);
    if (unit)
        printf(" (%s, division %s)", s->level, s->division);
    else if (s->level[0])
        printf(" (%s)", s->level);
    printf("  as of %s, store %s, feed seq %llu\n", date, r->store_state,
           (unsigned long long)r->feed_seq);
    printf("  %-18s %llu\n", "participants", (unsigned long long)s->participants);
    printf("  %-18s %llu.%llu\n", "training hours", (unsigned long long)(s->hours_tenths / 10),
           (unsigned long long)(s->hours_tenths % 10));
    printf("  %-18s %llu\n", "sessions", (unsigned long long)s->sessions);
    s_part_of("staff proficient", s->staff_proficient, s->staff_total);
    s_part_of("no-visit items", s->items_no_visit, s->items_total);
    s_part_of("no-visit cases", s->cases_no_visit, s->cases_total);
    if (!unit)
        printf("  %-18s %u / %u\n", "units reporting", s->units_reporting, s->units);
    printf("  %-18s %llu\n", "reports", (unsigned long long)s->reports);
    if (unit)
        printf("  %-18s %llu\n", "last seq", (unsigned long long)s->last_seq);
    printf("  %-18s ", "last heard");
    s_when(s->last_heard, ro_time_now());
    if (s->grade[0])
        printf("  %-18s %s\n", "grade", s->grade);
    for (size_t i = 0; i < s->n_indicators; i++) {
        const Rollout__Indicator *in = s->indicators[i];
        char next[16] = "-";
        if (in->next_date)
            ro_date_format(in->next_date, next);
        printf("  %-18s value %.4g  goal %.4g  share %.1f%%  %s  %s  next %s %.4g  gap %.4g\n",
               in->id, in->value, in->goal, 100.0 * in->share, in->grade, in->milestone, next,
               in->next_goal, in->gap);
    }
}

/* ---- commands -------------------------------------------------------------- */

typedef struct {
    const char *hub;      /* --hub as given */
    double timeout;       /* --timeout seconds */
    const char *command;  /* status | metrics | verify */
    const char *unit;     /* --unit */
    const char *division; /* --division */
    const char *level;    /* --level */
    uint32_t as_of;       /* --as-of, 0 = today */
    int json;             /* --json */
} s_args_t;

/* Exit status for a reply that is not ok, after printing the hub's reason. */
static int s_reply_failed(const Rollout__StatusReply *r)
{
    if (r->status == 0)
        return 0;
    fprintf(stderr, "rolloutctl: the hub says: %s\n", r->error[0] ? r->error : "request failed");
    return r->status == 2 ? 2 : 1;
}

static int s_run(const s_args_t *a, const char *endpoint)
{
    Rollout__StatusRequest req = ROLLOUT__STATUS_REQUEST__INIT;
    req.version = RO_PROTOCOL_VERSION;
    req.as_of = a->as_of;
    if (!strcmp(a->command, "status")) {
        if (a->unit) {
            req.query = ROLLOUT__QUERY__QUERY_UNIT;
            req.key = (char *)a->unit;
        } else if (a->division) {
            req.query = ROLLOUT__QUERY__QUERY_DIVISION;
            req.key = (char *)a->division;
        } else if (a->level) {
            req.query = ROLLOUT__QUERY__QUERY_LEVEL;
            req.key = (char *)a->level;
        } else {
            req.query = ROLLOUT__QUERY__QUERY_PROVINCE;
        }
    } else if (!strcmp(a->command, "metrics")) {
        req.query = ROLLOUT__QUERY__QUERY_METRICS;
    } else {
        req.query = ROLLOUT__QUERY__QUERY_VERIFY;
    }
    Rollout__StatusReply *r = s_ask(endpoint, a->timeout, &req);
    if (!r)
        return 1;
    int code = s_reply_failed(r);
    if (code) {
        rollout__status_reply__free_unpacked(r, NULL);
        return code;
    }

    if (!strcmp(a->command, "status")) {
        if (a->json) {
            s_json_head(r);
            fputs(",\"scopes\":[", stdout);
            for (size_t i = 0; i < r->n_scopes; i++) {
                if (i)
                    putchar(',');
                s_json_scope(r->scopes[i]);
            }
            fputs("]}\n", stdout);
        } else {
            for (size_t i = 0; i < r->n_scopes; i++) {
                if (i)
                    putchar('\n');
                s_table_scope(r->scopes[i], r);
            }
            if (strcmp(r->store_state, "ok") != 0)
                printf("\nstore %s: ingest is paused until the hub can write again\n",
                       r->store_state);
        }
    } else if (!strcmp(a->command, "metrics")) {
        if (a->json) {
            s_json_head(r);
            fputs(",\"metrics\":[", stdout);
            for (size_t i = 0; i < r->n_metrics; i++) {
                fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
                s_json_str(r->metrics[i]->name);
                fputs(",\"value\":", stdout);
                s_json_num(r->metrics[i]->value);
                putchar('}');
            }
            fputs("]}\n", stdout);
        } else {
            printf("%-24s %s\n", "store", r->store_state);
            if (r->error[0])
                printf("%-24s %s\n", "store problem", r->error);
            for (size_t i = 0; i < r->n_metrics; i++) {
                printf("%-24s ", r->metrics[i]->name);
                s_json_num(r->metrics[i]->value);
                putchar('\n');
            }
        }
    } else {
        double diffs = -1, units = 0, reports = 0;
        for (size_t i = 0; i < r->n_metrics; i++) {
            const Rollout__Metric *m = r->metrics[i];
            if (!strcmp(m->name, "differences"))
                diffs = m->value;
            else if (!strcmp(m->name, "units_checked"))
                units = m->value;
            else if (!strcmp(m->name, "reports_checked"))
                reports = m->value;
        }
        if (diffs < 0) {
            fprintf(stderr, "rolloutctl: the hub's verify answer carries no result\n");
            code = 1;
        } else if (a->json) {
            printf("{\"differences\":%.0f,\"units_checked\":%.0f,\"reports_checked\":%.0f,"
                   "\"summary\":",
                   diffs, units, reports);
            s_json_str(r->error);
            fputs("}\n", stdout);
            code = diffs > 0 ? 1 : 0;
        } else if (diffs == 0) {
            printf("ok: the stored aggregates of %.0f units equal the recount of %.0f reports\n",
                   units, reports);
        } else {
            printf("MISMATCH: %s\n", r->error);
            printf("(%.0f units and %.0f reports checked; the raw reports are the truth)\n", units,
                   reports);
            code = 1;
        }
    }
    rollout__status_reply__free_unpacked(r, NULL);
    return code;
}

/* The value of an option given as "--opt VALUE" or "--opt=VALUE". */
static const char *s_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int s_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

int main(int argc, char **argv)
{
    s_args_t a = {.hub = DEFAULT_HOST, .timeout = 5};
    int help = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            help = 1;
        } else if (!strcmp(arg, "--version")) {
            printf("rolloutctl %s\n", RO_VERSION);
            return 0;
        } else if (s_is(arg, "--hub")) {
            if (!(v = s_value(argc, argv, &i, "--hub")) || !v[0])
                return s_usage_error("--hub needs an endpoint or a host");
            a.hub = v;
        } else if (s_is(arg, "--timeout")) {
            char *end;
            if (!(v = s_value(argc, argv, &i, "--timeout")))
                return s_usage_error("--timeout needs a number of seconds");
            a.timeout = strtod(v, &end);
            if (end == v || *end || !(a.timeout > 0) || a.timeout > 3600)
                return s_usage_error("--timeout '%s' is not a number of seconds from 0 to 3600", v);
        } else if (s_is(arg, "--unit")) {
            if (!(v = s_value(argc, argv, &i, "--unit")))
                return s_usage_error("--unit needs a unit id");
            if (!ro_unit_id_valid(v))
                return s_usage_error("--unit '%s' is not a unit id DIVISION-NNN", v);
            a.unit = v;
        } else if (s_is(arg, "--division")) {
            if (!(v = s_value(argc, argv, &i, "--division")))
                return s_usage_error("--division needs a division code");
            char *end;
            unsigned long code = strtoul(v, &end, 10);
            if (end == v || *end || ro_division_index((uint32_t)code) < 0)
                return s_usage_error("--division '%s' is not one of Hainan's division codes", v);
            a.division = v;
        } else if (s_is(arg, "--level")) {
            ro_level_t lv;
            if (!(v = s_value(argc, argv, &i, "--level")))
                return s_usage_error("--level needs provincial, municipal or township");
            if (ro_level_parse(v, &lv))
                return s_usage_error("--level '%s' is not provincial, municipal or township", v);
            a.level = v;
        } else if (s_is(arg, "--as-of")) {
            if (!(v = s_value(argc, argv, &i, "--as-of")) || ro_date_parse(v, &a.as_of))
                return s_usage_error("--as-of needs a date YYYY-MM-DD");
        } else if (!strcmp(arg, "--json")) {
            a.json = 1;
        } else if (arg[0] == '-') {
            return s_usage_error("unknown option '%s'", arg);
        } else if (!a.command) {
            if (strcmp(arg, "status") && strcmp(arg, "metrics") && strcmp(arg, "verify"))
                return s_usage_error("unknown command '%s'", arg);
            a.command = arg;
        } else {
            return s_usage_error("unexpected argument '%s'", arg);
        }
    }
    if (help) {
        s_help();
        return 0;
    }
    if (!a.command)
        return s_usage_error("which command: status, metrics or verify?");
    int is_status = !strcmp(a.command, "status");
    if (!is_status && (a.unit || a.division || a.level || a.as_of))
        return s_usage_error("--unit, --division, --level and --as-of go with status");
    if ((a.unit != NULL) + (a.division != NULL) + (a.level != NULL) > 1)
        return s_usage_error("give one of --unit, --division and --level");
    char endpoint[RO_ENDPOINT_MAX];
    if (s_endpoint(a.hub, endpoint, sizeof endpoint))
        return s_usage_error("--hub '%s' is not an endpoint or a host", a.hub);
    return s_run(&a, endpoint);
}
