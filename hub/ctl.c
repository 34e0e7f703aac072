/* rolloutctl: the operator's client. Asks the hub's status socket one
 * question and prints the answer as a table or as one JSON document. It
 * never opens hub.db: everything it knows comes over the socket. The
 * report command is ctl_report.c; the feed (watch) and CURVE client keys
 * are later additions. */
#include "ctl.h"
#include "ro_json.h"
#include "ctl_keys.h"
#include "report.h"
#include "ro_codec.h"
#include "ro_config.h"
#include "ro_pb.h"
#include "ro_registry.h"
#include "ro_sock.h"
#include "ro_time.h"
#include "ro_targets.h"

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
    printf(
        "usage: rolloutctl [--config FILE] [--hub ENDPOINT|HOST[:PORT]] [--timeout SEC] COMMAND\n"
        "                  [OPTIONS]\n"
        "\n"
        "Ask a running rollout-hub over its status socket (never its database).\n"
        "\n"
        "commands:\n"
        "  status [WHAT] [--as-of YYYY-MM-DD] [--json]\n"
        "                      the province against its targets, or WHAT:\n"
        "      --unit ID             one unit\n"
        "      --division CODE       a division (460000: the provincial units)\n"
        "      --level L             provincial, municipal or township\n"
        "      --divisions           every division, one line each\n"
        "      --laggards [--indicator ID] [--limit N]\n"
        "                            units behind the next milestone (default: of the\n"
        "                            no-visit items share), biggest gap first (limit 20)\n"
        "      --silent [--limit N]  units not heard within the hub's silent_after\n"
        "      --history ID [--indicator ID] [--limit N]\n"
        "                            one unit's reports of an indicator over time\n"
        "      --series [--indicator ID] [--limit N]\n"
        "                            the province's value at each month end, from its\n"
        "                            first data to its last change or the targets' last\n"
        "                            milestone, whichever is later; with --as-of, to that\n"
        "                            date\n"
        "  report [--as-of DATE] [--format md|csv|html] [--out FILE] [--score-sheet] ...\n"
        "                      the year-end performance target table or score sheet\n"
        "                      (rolloutctl report --help)\n"
        "  watch [--once]      a live view that follows the hub's feed (rolloutctl watch\n"
        "                      --help)\n"
        "  metrics [--json]    the hub's counters: reports stored, duplicates, refusals...\n"
        "  verify [--json]     recount every unit's aggregates from the raw reports and\n"
        "                      compare them with the stored ones\n"
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
        DEFAULT_PORT, DEFAULT_HOST, DEFAULT_PORT);
}

int ctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("rolloutctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try --help)\n", stderr);
    return 2;
}

/* A port: 1 to 65535, digits only. */
static int s_port_ok(const char *p)
{
    if (!p[0] || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
        return 0;
    long v = strtol(p, NULL, 10);
    return v >= 1 && v <= 65535;
}

/* A host name or IPv4 address (letters, digits, '.', '-', '_'), or an IPv6
 * address (hex digits, ':', '.', and '%' for a zone) of n bytes. */
static int s_host_ok(const char *h, size_t n, int ipv6)
{
    const char *ok = ipv6 ? "0123456789abcdefABCDEF:.%" : NULL;
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (ipv6 ? !strchr(ok, c) || c == '\0'
                 : !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* ENDPOINT stays as is; HOST becomes tcp://HOST:7452, HOST:PORT tcp://HOST:PORT.
 * A tcp endpoint, a host and a port are checked here, so that a typo is a
 * usage error rather than a failed connection. Returns 0, or -1 with the
 * reason in why. */
static int s_endpoint(const char *hub, char *out, size_t cap, char *why, size_t whylen)
{
    char host[RO_ENDPOINT_MAX];
    const char *rest = hub, *port = NULL;
    size_t hlen;
    int ipv6 = 0, tcp = 0, n;
    if (strstr(hub, "://")) {
        if (strncmp(hub, "tcp://", 6) != 0) {
            /* ipc:// and the like: ZeroMQ checks them when connecting */
            n = snprintf(out, cap, "%s", hub);
            snprintf(why, whylen, "too long");
            return n < 0 || (size_t)n >= cap ? -1 : 0;
        }
        rest = hub + 6;
        tcp = 1;
    }
    const char *colon = strchr(rest, ':');
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (!close || (close[1] && close[1] != ':')) {
            snprintf(why, whylen, "'[' opens an IPv6 address: [ADDRESS] or [ADDRESS]:PORT");
            return -1;
        }
        ipv6 = 1;
        rest++;
        hlen = (size_t)(close - rest);
        port = close[1] ? close + 2 : NULL;
    } else if (colon && colon != strrchr(rest, ':')) {
        ipv6 = 1; /* a bare IPv6 address: no port */
        hlen = strlen(rest);
    } else {
        hlen = colon ? (size_t)(colon - rest) : strlen(rest);
        port = colon ? colon + 1 : NULL;
    }
    if (hlen >= sizeof host) {
        snprintf(why, whylen, "the host is too long");
        return -1;
    }
    memcpy(host, rest, hlen);
    host[hlen] = '\0';
    if (!s_host_ok(host, hlen, ipv6)) {
        snprintf(why, whylen, "'%.64s' is not a host name or address", host);
        return -1;
    }
    if (tcp && !port) {
        snprintf(why, whylen, "a tcp:// endpoint needs a port: tcp://HOST:PORT");
        return -1;
    }
    if (port && !s_port_ok(port)) {
        snprintf(why, whylen, "port '%.16s' is not a number from 1 to 65535", port);
        return -1;
    }
    if (port)
        n = snprintf(out, cap, ipv6 ? "tcp://[%s]:%s" : "tcp://%s:%s", host, port);
    else
        n = snprintf(out, cap, ipv6 ? "tcp://[%s]:%d" : "tcp://%s:%d", host, DEFAULT_PORT);
    snprintf(why, whylen, "too long");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

Rollout__StatusRequest ctl_request(Rollout__Query query)
{
    Rollout__StatusRequest req = ROLLOUT__STATUS_REQUEST__INIT;
    req.version = RO_PROTOCOL_VERSION;
    req.query = query;
    return req;
}

Rollout__StatusReply *ctl_ask(const ctl_hub_t *hub, const Rollout__StatusRequest *req)
{
    const char *endpoint = hub->endpoint;
    double timeout_s = hub->timeout;
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
    char why[512];
    if (ctl_keys_client(sock, &hub->sec, why, sizeof why) != 0) {
        fprintf(stderr, "rolloutctl: %s\n", why);
        goto done;
    }
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
                    "running?%s\n",
                    endpoint, timeout_s,
                    hub->sec.curve ? " (or is this operator key not on its allow-list?)"
                                   : " (this was plain TCP: a CURVE hub answers only an operator key, see --config)");
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

/* The JSON pieces come from lib/ro_json, the one writer of the status JSON
 * (the hub's /api/status uses it too); these print them to stdout. */
static void s_json_print(ro_buf_t *b)
{
    if (b->data)
        fputs(b->data, stdout);
    ro_buf_free(b);
}

static void s_json_str(const char *s)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_str(&b, s);
    s_json_print(&b);
}

static void s_json_num(double v)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_num(&b, v);
    s_json_print(&b);
}

static void s_json_date(uint32_t d)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_date(&b, d);
    s_json_print(&b);
}

static void s_json_head(const Rollout__StatusReply *r)
{
    fputs("{\"as_of\":", stdout);
    s_json_date(r->as_of);
    printf(",\"feed_seq\":%llu,\"feed_epoch\":%llu,\"store_state\":",
           (unsigned long long)r->feed_seq, (unsigned long long)r->feed_epoch);
    s_json_str(r->store_state);
}

/* A number, or null when the indicator has no data. */
static void s_json_value(double v, int no_data)
{
    if (no_data)
        fputs("null", stdout);
    else
        s_json_num(v);
}

static void s_json_scope(const Rollout__Scope *s)
{
    ro_buf_t b;
    ro_buf_init(&b);
    ro_json_scope(&b, s);
    s_json_print(&b);
}

/* The points [from, to) of a history or series. */
static void s_json_points(const Rollout__StatusReply *r, size_t from, size_t to)
{
    fputs(",\"history\":[", stdout);
    for (size_t i = from; i < to; i++) {
        const Rollout__HistoryPoint *p = r->history[i];
        fputs(i > from ? ",{\"date\":" : "{\"date\":", stdout);
        s_json_date(p->date);
        fputs(",\"value\":", stdout);
        s_json_value(p->value, p->no_data);
        printf(",\"no_data\":%s,\"seq\":%llu,\"total\":%llu,\"part\":%llu}",
               p->no_data ? "true" : "false", (unsigned long long)p->seq,
               (unsigned long long)p->total, (unsigned long long)p->part);
    }
    putchar(']');
}

/* ---- tables ---------------------------------------------------------------- */

static void s_part_of(const char *label, uint64_t part, uint64_t total)
{
    char pct[32];
    if (total == 0)
        printf("  %-18s %llu / %llu\n", label, (unsigned long long)part, (unsigned long long)total);
    else
        printf("  %-18s %llu / %llu (%s)\n", label, (unsigned long long)part,
               (unsigned long long)total, ro_pct_format(part, total, pct, sizeof pct));
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

/* Format a value the way the hub's targets would ("55.0%", "1540", "270.0");
 * no data in ASCII, so that byte-padded columns line up. */
static const char *s_fmt(const char *measure, double v, int no_data, char *buf, size_t len)
{
    if (no_data) {
        snprintf(buf, len, "no data");
        return buf;
    }
    ro_indicator_t ind;
    memset(&ind, 0, sizeof ind);
    ind.measure = !strcmp(measure, "percent") ? RO_MEASURE_PERCENT
                  : !strcmp(measure, "hours") ? RO_MEASURE_HOURS
                                              : RO_MEASURE_PEOPLE;
    return ro_indicator_format(&ind, v, buf, len);
}

static const char *s_date_or(uint32_t d, const char *none, char *buf)
{
    if (!d)
        return none;
    ro_date_format(d, buf);
    return buf;
}

hub_report_milestone_t ctl_row_milestone(const Rollout__Indicator *in)
{
    ro_result_t res;
    memset(&res, 0, sizeof res);
    for (int m = RO_MILESTONE_NONE; m <= RO_MILESTONE_MISSED; m++)
        if (!strcmp(in->milestone, ro_milestone_status_name((ro_milestone_status_t)m)))
            res.milestone = (ro_milestone_status_t)m;
    res.no_data = in->no_data;
    res.value = in->value;
    res.next_date = in->next_date;
    res.next_goal = in->next_goal;
    res.gap = in->gap;
    res.due_date = in->due_date;
    res.due_goal = in->due_goal;
    return hub_report_row_milestone(&res);
}

/* The indicators of a scope: value, goal, share, grade, milestone status,
 * the milestone it is about (ctl_row_milestone: its due date, target and the
 * gap to it); then why each one that falls short does. */
static void s_table_indicators(const Rollout__Scope *s)
{
    if (!s->n_indicators)
        return;
    printf("  %-24s %9s %9s %7s %-5s %-9s %-10s %9s %9s\n", "indicator", "value", "goal", "share",
           "grade", "milestone", "due", "target", "gap");
    for (size_t i = 0; i < s->n_indicators; i++) {
        const Rollout__Indicator *in = s->indicators[i];
        hub_report_milestone_t m = ctl_row_milestone(in);
        char v[32], g[32], ng[32], gap[32], d[16], share[16] = "-";
        if (!in->no_data)
            ro_pct_format_ratio(in->share, share, sizeof share);
        /* the grade is one CJK character (3 bytes, 2 columns): pad by hand */
        printf("  %-24s %9s %9s %7s %s    %-9s %-10s %9s %9s\n", in->id,
               s_fmt(in->measure, in->value, in->no_data, v, sizeof v),
               s_fmt(in->measure, in->goal, 0, g, sizeof g), share, in->grade, in->milestone,
               s_date_or(m.date, "-", d), s_fmt(in->measure, m.goal, 0, ng, sizeof ng),
               s_fmt(in->measure, m.gap, 0, gap, sizeof gap));
    }
    int why = 0;
    for (size_t i = 0; i < s->n_indicators; i++) {
        if (!s->indicators[i]->why[0])
            continue;
        if (!why++)
            printf("  why:\n");
        printf("    - %s\n", s->indicators[i]->why);
    }
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
    s_table_indicators(s);
}

/* Divisions: one line each, every indicator's value and grade. */
static void s_table_divisions(const Rollout__StatusReply *r)
{
    char date[16];
    ro_date_format(r->as_of, date);
    printf("divisions as of %s", date);
    const Rollout__Scope *first = r->n_scopes ? r->scopes[0] : NULL;
    for (size_t i = 0; first && i < first->n_indicators; i++)
        printf("%s [%zu] %s", i ? "," : ";", i + 1, first->indicators[i]->id);
    printf("\n%-7s %5s %5s", "code", "units", "rep");
    for (size_t i = 0; first && i < first->n_indicators; i++) {
        char h[24];
        snprintf(h, sizeof h, "[%zu]", i + 1);
        printf(" %11s   ", h);
    }
    printf(" %-7s %s\n", "overall", "name");
    for (size_t k = 0; k < r->n_scopes; k++) {
        const Rollout__Scope *s = r->scopes[k];
        printf("%-7s %5u %5u", s->id, s->units, s->units_reporting);
        for (size_t i = 0; i < s->n_indicators; i++) {
            const Rollout__Indicator *in = s->indicators[i];
            char v[32];
            printf(" %11s %s", s_fmt(in->measure, in->value, in->no_data, v, sizeof v), in->grade);
        }
        printf(" %s      %s\n", s->grade, s->name);
    }
}

/* The indicator of a unit scope that a laggard list is about. */
static const Rollout__Indicator *s_find_indicator(const Rollout__Scope *s, const char *id)
{
    for (size_t i = 0; i < s->n_indicators; i++)
        if (!strcmp(s->indicators[i]->id, id))
            return s->indicators[i];
    return NULL;
}

static void s_table_laggards(const Rollout__StatusReply *r)
{
    char date[16];
    ro_date_format(r->as_of, date);
    const Rollout__Indicator *head = r->n_scopes ? s_find_indicator(r->scopes[0], r->indicator) : NULL;
    printf("laggards on %s%s%s as of %s: %u unit%s behind", r->indicator, head ? " " : "",
           head ? head->label_zh : "", date, r->total, r->total == 1 ? "" : "s");
    if (r->n_scopes < r->total)
        printf(", %zu shown", r->n_scopes);
    printf("\n");
    if (!r->n_scopes)
        return;
    printf("%4s  %-12s %8s %8s %-10s %8s  %-9s %-8s %s\n", "#", "unit", "value", "target", "due",
           "gap", "status", "division", "name");
    for (size_t k = 0; k < r->n_scopes; k++) {
        const Rollout__Scope *s = r->scopes[k];
        const Rollout__Indicator *in = s_find_indicator(s, r->indicator);
        if (!in)
            continue;
        hub_report_milestone_t m = ctl_row_milestone(in);
        char v[32], t[32], g[32], d[16];
        printf("%4zu  %-12s %8s %8s %-10s %8s  %-9s %-8s %s\n", k + 1, s->id,
               s_fmt(in->measure, in->value, in->no_data, v, sizeof v),
               s_fmt(in->measure, m.goal, 0, t, sizeof t), s_date_or(m.date, "-", d),
               s_fmt(in->measure, m.gap, 0, g, sizeof g), in->milestone, s->division, s->name);
    }
}

static void s_table_silent(const Rollout__StatusReply *r)
{
    double after = 0;
    for (size_t i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i]->name, "silent_after"))
            after = r->metrics[i]->value;
    printf("silent units (nothing heard for %.0f s or more): %u", after, r->total);
    if (r->n_scopes < r->total)
        printf(", %zu shown", r->n_scopes);
    printf("\n");
    if (!r->n_scopes)
        return;
    printf("%-12s %-8s %-40s %s\n", "unit", "division", "last heard", "name");
    int64_t now = ro_time_now();
    for (size_t k = 0; k < r->n_scopes; k++) {
        const Rollout__Scope *s = r->scopes[k];
        printf("%-12s %-8s ", s->id, s->division);
        char when[64] = "never";
        if (s->last_heard > 0) {
            time_t tt = (time_t)s->last_heard;
            struct tm tm;
            gmtime_r(&tt, &tm);
            char buf[32];
            strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
            snprintf(when, sizeof when, "%s (%lld h ago)", buf,
                     (long long)((now - s->last_heard) / 3600));
        }
        printf("%-40s %s\n", when, s->name);
    }
}

/* HISTORY (one unit) or SERIES (the province): date, value, and the counts
 * of the points [from, to); a series cut short of as_of says where it ends. */
static void s_table_points(const Rollout__StatusReply *r, int history, size_t from, size_t to)
{
    char date[16];
    ro_date_format(r->as_of, date);
    const Rollout__Scope *s = r->n_scopes ? r->scopes[0] : NULL;
    const Rollout__Indicator *in = s ? s_find_indicator(s, r->indicator) : NULL;
    const char *measure = in ? in->measure : "people";
    int ratio = !strcmp(measure, "percent");
    if (history && s) {
        printf("history of %s for %s %s, as of %s: %zu report%s\n", r->indicator, s->id, s->name,
               date, r->n_history, r->n_history == 1 ? "" : "s");
    } else if (to < r->n_history) {
        char end[16];
        ro_date_format(r->history[to - 1]->date, end);
        printf("the province's %s as of each month end, to %s (its last change or the targets' "
               "last milestone; unchanged to %s: --as-of DATE runs to DATE)\n",
               r->indicator, end, date);
    } else {
        printf("the province's %s as of each month end, to %s\n", r->indicator, date);
    }
    if (history)
        printf("%-10s %6s %9s  %s\n", "date", "seq", "value", ratio ? "part / total" : "this report");
    else
        printf("%-10s %9s  %s\n", "date", "value", ratio ? "part / total" : "");
    for (size_t i = from; i < to; i++) {
        const Rollout__HistoryPoint *p = r->history[i];
        char d[16], v[32];
        ro_date_format(p->date, d);
        s_fmt(measure, p->value, p->no_data, v, sizeof v);
        if (history)
            printf("%-10s %6llu %9s  ", d, (unsigned long long)p->seq, v);
        else
            printf("%-10s %9s  ", d, v);
        if (ratio)
            printf("%llu / %llu\n", (unsigned long long)p->part, (unsigned long long)p->total);
        else if (history)
            printf("+%llu people, +%llu.%llu h\n", (unsigned long long)p->total,
                   (unsigned long long)(p->part / 10), (unsigned long long)(p->part % 10));
        else
            putchar('\n');
    }
}

/* ---- commands -------------------------------------------------------------- */

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
    const char *history;   /* --history UNIT */
    int series;            /* --series */
    const char *indicator; /* --indicator */
    long limit;            /* --limit, -1 = not given */
    uint32_t as_of;        /* --as-of, 0 = today */
    int json;              /* --json */
} s_args_t;

int ctl_reply_failed(const Rollout__StatusReply *r)
{
    if (r->status == 0)
        return 0;
    fprintf(stderr, "rolloutctl: the hub says: %s\n", r->error[0] ? r->error : "request failed");
    return r->status == 2 ? 2 : 1;
}

/* Where a series without --as-of ends: it runs to today, long after the
 * rollout ended, so it stops where hub_report_series_end says (the later
 * of its last change and the targets' last milestone), as the report's
 * chart does. The province scope sent with it carries each indicator's
 * latest due milestone (due_date) and the next one (next_date); once every
 * milestone is due the latest of them is the last. Returns the number of
 * points to show, from the first (all of them if memory ran out). */
static size_t s_series_end(const Rollout__StatusReply *r)
{
    size_t n = r->n_history;
    hub_report_point_t *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return n;
    for (size_t i = 0; i < n; i++) {
        const Rollout__HistoryPoint *h = r->history[i];
        p[i].date = h->date;
        p[i].share = h->no_data ? NAN : h->value;
        p[i].part = h->part;
        p[i].total = h->total;
    }
    uint32_t last = 0;
    const Rollout__Scope *s = r->n_scopes ? r->scopes[0] : NULL;
    for (size_t i = 0; s && i < s->n_indicators; i++) {
        const Rollout__Indicator *in = s->indicators[i];
        last = in->due_date > last ? in->due_date : last;
        last = in->next_date > last ? in->next_date : last;
    }
    size_t to = hub_report_series_end(p, n, last);
    free(p);
    return to;
}

/* The request a status command asks. */
static Rollout__StatusRequest s_status_request(const s_args_t *a)
{
    Rollout__StatusRequest req = ctl_request(ROLLOUT__QUERY__QUERY_PROVINCE);
    if (a->unit) {
        req.query = ROLLOUT__QUERY__QUERY_UNIT;
        req.key = (char *)a->unit;
    } else if (a->division) {
        req.query = ROLLOUT__QUERY__QUERY_DIVISION;
        req.key = (char *)a->division;
    } else if (a->level) {
        req.query = ROLLOUT__QUERY__QUERY_LEVEL;
        req.key = (char *)a->level;
    } else if (a->divisions) {
        req.query = ROLLOUT__QUERY__QUERY_DIVISIONS;
    } else if (a->laggards) {
        req.query = ROLLOUT__QUERY__QUERY_LAGGARDS;
        req.limit = a->limit < 0 ? 20 : (uint32_t)a->limit;
    } else if (a->silent) {
        req.query = ROLLOUT__QUERY__QUERY_SILENT;
        req.limit = a->limit < 0 ? 50 : (uint32_t)a->limit;
    } else if (a->history) {
        req.query = ROLLOUT__QUERY__QUERY_HISTORY;
        req.key = (char *)a->history;
        req.limit = a->limit < 0 ? 0 : (uint32_t)a->limit;
    } else if (a->series) {
        req.query = ROLLOUT__QUERY__QUERY_SERIES;
        /* without --as-of the series is cut at its end first (s_series_end),
         * then --limit applies, here */
        req.limit = a->limit < 0 || !a->as_of ? 0 : (uint32_t)a->limit;
    }
    if (a->indicator)
        req.indicator = (char *)a->indicator;
    req.as_of = a->as_of;
    return req;
}

static void s_print_status(const s_args_t *a, const Rollout__StatusReply *r)
{
    int points = a->history || a->series;
    size_t from = 0, to = r->n_history;
    if (a->series && !a->as_of) {
        to = s_series_end(r);
        if (a->limit > 0 && to > (size_t)a->limit)
            from = to - (size_t)a->limit;
    }
    if (a->json) {
        s_json_head(r);
        if (r->indicator[0]) {
            fputs(",\"indicator\":", stdout);
            s_json_str(r->indicator);
        }
        if (a->laggards || a->silent)
            printf(",\"total\":%u", r->total);
        if (a->silent)
            for (size_t i = 0; i < r->n_metrics; i++)
                if (!strcmp(r->metrics[i]->name, "silent_after"))
                    printf(",\"silent_after\":%.0f", r->metrics[i]->value);
        fputs(",\"scopes\":[", stdout);
        for (size_t i = 0; i < r->n_scopes; i++) {
            if (i)
                putchar(',');
            s_json_scope(r->scopes[i]);
        }
        putchar(']');
        if (points)
            s_json_points(r, from, to);
        fputs("}\n", stdout);
        return;
    }
    if (a->divisions) {
        s_table_divisions(r);
    } else if (a->laggards) {
        s_table_laggards(r);
    } else if (a->silent) {
        s_table_silent(r);
    } else if (points) {
        s_table_points(r, a->history != NULL, from, to);
    } else {
        for (size_t i = 0; i < r->n_scopes; i++) {
            if (i)
                putchar('\n');
            s_table_scope(r->scopes[i], r);
        }
    }
    if (strcmp(r->store_state, "ok") != 0)
        printf("\nstore %s: ingest is paused until the hub can write again\n", r->store_state);
}

static int s_run(const s_args_t *a, const ctl_hub_t *hub)
{
    Rollout__StatusRequest req = ctl_request(ROLLOUT__QUERY__QUERY_VERIFY);
    if (!strcmp(a->command, "status"))
        req = s_status_request(a);
    else if (!strcmp(a->command, "metrics"))
        req.query = ROLLOUT__QUERY__QUERY_METRICS;
    Rollout__StatusReply *r = ctl_ask(hub, &req);
    if (!r)
        return 1;
    int code = ctl_reply_failed(r);
    if (code) {
        rollout__status_reply__free_unpacked(r, NULL);
        return code;
    }

    if (!strcmp(a->command, "status")) {
        s_print_status(a, r);
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

const char *ctl_opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int ctl_opt_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
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

int main(int argc, char **argv)
{
    s_args_t a = {.hub = DEFAULT_HOST, .timeout = 5, .limit = -1};
    int help = 0, hub_given = 0, timeout_given = 0;
    const char *config = NULL; /* ctl.ini: keys (ctl_keys_config) */
    for (int i = 1; i < argc && !(a.command && (!strcmp(a.command, "report") ||
                                                 !strcmp(a.command, "watch")));
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
        } else if (ctl_opt_is(arg, "--unit")) {
            if (s_unit_arg(argc, argv, &i, "--unit", &a.unit))
                return 2;
        } else if (ctl_opt_is(arg, "--history")) {
            if (s_unit_arg(argc, argv, &i, "--history", &a.history))
                return 2;
        } else if (ctl_opt_is(arg, "--division")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--division")))
                return ctl_usage_error("--division needs a division code");
            char *end;
            unsigned long code = strtoul(v, &end, 10);
            if (end == v || *end || code > UINT32_MAX || ro_division_index((uint32_t)code) < 0)
                return ctl_usage_error("--division '%s' is not one of Hainan's division codes", v);
            a.division = v;
        } else if (ctl_opt_is(arg, "--level")) {
            ro_level_t lv;
            if (!(v = ctl_opt_value(argc, argv, &i, "--level")))
                return ctl_usage_error("--level needs provincial, municipal or township");
            if (ro_level_parse(v, &lv))
                return ctl_usage_error("--level '%s' is not provincial, municipal or township", v);
            a.level = v;
        } else if (ctl_opt_is(arg, "--indicator")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--indicator")) || !ro_ini_id_valid(v))
                return ctl_usage_error("--indicator needs an indicator id such as items_no_visit");
            a.indicator = v;
        } else if (ctl_opt_is(arg, "--limit")) {
            char *end;
            if (!(v = ctl_opt_value(argc, argv, &i, "--limit")))
                return ctl_usage_error("--limit needs a number");
            a.limit = strtol(v, &end, 10);
            if (end == v || *end || a.limit < 0 || a.limit > 1000000)
                return ctl_usage_error("--limit '%s' is not a number from 0 (all) to 1000000", v);
        } else if (ctl_opt_is(arg, "--as-of")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--as-of")) || ro_date_parse(v, &a.as_of))
                return ctl_usage_error("--as-of needs a date YYYY-MM-DD");
        } else if (!strcmp(arg, "--divisions")) {
            a.divisions = 1;
        } else if (!strcmp(arg, "--laggards")) {
            a.laggards = 1;
        } else if (!strcmp(arg, "--silent")) {
            a.silent = 1;
        } else if (!strcmp(arg, "--series")) {
            a.series = 1;
        } else if (!strcmp(arg, "--json")) {
            a.json = 1;
        } else if (arg[0] == '-') {
            return ctl_usage_error("unknown option '%s'", arg);
        } else if (!a.command) {
            if (!strcmp(arg, "keys"))
                return ctl_keys_main(argc - i, argv + i);
            if (strcmp(arg, "status") && strcmp(arg, "metrics") && strcmp(arg, "verify") &&
                strcmp(arg, "report") && strcmp(arg, "watch"))
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
        return ctl_usage_error("which command: status, report, watch, metrics, verify or keys?");
    int is_status = !strcmp(a.command, "status");
    int what = (a.unit != NULL) + (a.division != NULL) + (a.level != NULL) + a.divisions +
               a.laggards + a.silent + (a.history != NULL) + a.series;
    if (!is_status && (what || a.as_of || a.indicator || a.limit >= 0))
        return ctl_usage_error("%s takes none of status's options (--unit ... --as-of)",
                               a.command);
    if (what > 1)
        return ctl_usage_error("give one of --unit, --division, --level, --divisions, --laggards, "
                               "--silent, --history and --series");
    if (a.indicator && !(a.laggards || a.history || a.series))
        return ctl_usage_error("--indicator goes with --laggards, --history or --series");
    if (a.limit >= 0 && !(a.laggards || a.silent || a.history || a.series))
        return ctl_usage_error("--limit goes with --laggards, --silent, --history or --series");
    ctl_hub_t hub = {.timeout = a.timeout};
    ro_ctl_config_t cc;
    char cerr[1024];
    if (ctl_keys_config(config, &cc, cerr, sizeof cerr) < 0) {
        fprintf(stderr, "rolloutctl: %s\n", cerr);
        return 2;
    }
    hub.sec = cc.sec;
    if (!hub_given && cc.hub[0])
        a.hub = cc.hub;
    if (!timeout_given && cc.timeout_s)
        hub.timeout = cc.timeout_s;
    char why[256];
    if (s_endpoint(a.hub, hub.endpoint, sizeof hub.endpoint, why, sizeof why)) {
        if (!hub_given && cc.hub[0])
            return ctl_usage_error("ctl.ini: [ctl] hub = '%s' is not an endpoint or a host: %s",
                                   a.hub, why);
        return ctl_usage_error("--hub '%s' is not an endpoint or a host: %s", a.hub, why);
    }
    if (!strcmp(a.command, "report"))
        return ctl_report_main(&hub, argc - a.command_at - 1, argv + a.command_at + 1);
    if (!strcmp(a.command, "watch"))
        return ctl_watch_main(&hub, argc - a.command_at - 1, argv + a.command_at + 1);
    return s_run(&a, &hub);
}
