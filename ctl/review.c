/* rolloutctl review: the reports the hub's [review] rules flagged, and a
 * reviewer's decision on one. list and show ask QUERY_REVIEWS (any operator
 * key); accept and reject send QUERY_DECIDE, which the hub takes from a
 * reviewer key only and answers once the decision is committed, so asking
 * again after a lost answer is safe: the same decision answers ok. */
#include "commands.h"
#include "ro_json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* t as "YYYY-MM-DD HH:MM:SS UTC" into buf. */
static void s_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: rolloutctl [--hub HOST] [--config CTL.INI] review COMMAND ...\n"
            "\n"
            "Reports a plausibility rule (targets.ini [review]) flagged: held, counted\n"
            "nowhere, until a reviewer accepts them.\n"
            "\n"
            "  review list [--unit ID] [--limit N] [--json]\n"
            "                  flagged reports, pending first: unit, seq, state, rule,\n"
            "                  what it saw, and who decided, when and why\n"
            "  review show UNIT SEQ [--json]\n"
            "                  one flagged report of UNIT (seq in its outbox: rollout-agent list)\n"
            "  review accept UNIT SEQ --reason TEXT [--incarnation HEX]\n"
            "  review reject UNIT SEQ --reason TEXT [--incarnation HEX]\n"
            "                  decide: accept counts it, reject keeps it out for good; a\n"
            "                  reviewer key only (rolloutctl keys reviewer). Asking again\n"
            "                  with the same decision answers ok; the other one is refused,\n"
            "                  naming who decided and when. --incarnation picks the outbox\n"
            "                  when two of the unit's outboxes have that seq flagged\n"
            "\n"
            "exit status: 0 ok; 2 bad usage or a request the hub refused (not a reviewer,\n"
            "no such flagged report, decided otherwise); 1 the hub could not answer.\n");
}

/* A flagged report's figures, as its kind reads them. */
static void s_figures(const ro_status_review_t *v, char *out, size_t cap)
{
    if (!strcmp(v->kind, "training"))
        snprintf(out, cap, "training %u: %" PRIu64 " people, %" PRIu64 ".%" PRIu64 " h", v->date,
                 v->total, v->part / 10, v->part % 10);
    else
        snprintf(out, cap, "%s %u: %" PRIu64 " of %" PRIu64, v->kind, v->date, v->part, v->total);
}

static void s_print(const ro_status_review_t *v, int detail)
{
    char fig[128], at[32] = "";
    s_figures(v, fig, sizeof fig);
    printf("%-12s seq %-6" PRIu64 " %-9s %-26s %s\n", v->unit, v->seq, v->state, v->rule, fig);
    printf("    %s\n", v->text);
    if (v->at) {
        s_time(v->at, at, sizeof at);
        printf("    %s by %s at %s: %s\n", v->state, v->by[0] ? v->by : "(no key)", at, v->reason);
    }
    if (detail) {
        s_time(v->flagged_at, at, sizeof at);
        printf("    flagged at %s; incarnation %s\n", at,
               v->incarnation[0] ? v->incarnation : "(legacy)");
    }
}

static void s_json(const ro_status_review_t *v, ro_buf_t *b)
{
    ro_buf_puts(b, "{\"unit\":");
    ro_json_str(b, v->unit);
    ro_buf_printf(b, ",\"seq\":%" PRIu64 ",\"incarnation\":", v->seq);
    ro_json_str(b, v->incarnation);
    ro_buf_puts(b, ",\"kind\":");
    ro_json_str(b, v->kind);
    ro_buf_printf(b, ",\"date\":%u,\"total\":%" PRIu64 ",\"part\":%" PRIu64 ",\"rule\":", v->date,
                  v->total, v->part);
    ro_json_str(b, v->rule);
    ro_buf_puts(b, ",\"text\":");
    ro_json_str(b, v->text);
    ro_buf_printf(b, ",\"flagged_at\":%" PRId64 ",\"state\":", v->flagged_at);
    ro_json_str(b, v->state);
    ro_buf_puts(b, ",\"by\":");
    ro_json_str(b, v->by);
    ro_buf_printf(b, ",\"at\":%" PRId64 ",\"reason\":", v->at);
    ro_json_str(b, v->reason);
    ro_buf_puts(b, "}");
}

/* list and show: seq 0 lists, else shows that seq of unit. */
static int s_list(const ctl_hub_t *hub, const char *unit, uint64_t seq, long limit, int json)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_REVIEWS);
    snprintf(req.key, sizeof req.key, "%s", unit ? unit : "");
    req.limit = limit > 0 ? (uint32_t)limit : 0;
    ro_status_reply_t *r = ctl_ask(hub, &req);
    if (!r)
        return 1;
    int rc = ctl_reply_failed(r);
    size_t shown = 0;
    ro_buf_t b;
    ro_buf_init(&b);
    ro_buf_puts(&b, seq ? "" : "{\"reviews\":[");
    for (size_t i = 0; rc == 0 && i < r->n_reviews; i++) {
        const ro_status_review_t *v = &r->reviews[i];
        if (seq && v->seq != seq)
            continue;
        if (json && (!seq || !shown)) {
            if (shown)
                ro_buf_puts(&b, ",");
            s_json(v, &b);
        } else if (!json) {
            s_print(v, seq != 0);
        }
        shown++;
    }
    if (rc == 0 && json) {
        if (!seq)
            ro_buf_printf(&b, "],\"total\":%u}", r->total);
        if (!seq || shown)
            printf("%s\n", b.data);
    } else if (rc == 0 && !seq) {
        printf("%zu of %u flagged report%s shown\n", shown, r->total, r->total == 1 ? "" : "s");
    }
    if (rc == 0 && seq && !shown) {
        fprintf(stderr, "rolloutctl: %s seq %" PRIu64 " is not a flagged report\n", unit, seq);
        rc = 2;
    }
    ro_buf_free(&b);
    ro_status_reply_free(&r);
    return rc;
}

static int s_decide(const ctl_hub_t *hub, const char *unit, uint64_t seq, int accept,
                    const char *reason, const char *inc)
{
    ro_status_request_t req = ro_status_request(RO_QUERY_DECIDE);
    req.has_decision = true;
    ro_status_decision_t *d = &req.decision;
    snprintf(d->unit, sizeof d->unit, "%s", unit);
    d->seq = seq;
    d->accept = accept;
    snprintf(d->reason, sizeof d->reason, "%s", reason);
    snprintf(d->incarnation, sizeof d->incarnation, "%s", inc ? inc : "");
    ro_status_reply_t *r = ctl_ask(hub, &req);
    if (!r)
        return 1;
    int rc = ctl_reply_failed(r);
    if (rc == 0)
        printf("%s\n", r->error && r->error[0] ? r->error : "decided");
    ro_status_reply_free(&r);
    return rc;
}

/* A seq from 1. Returns 0, or -1. */
static int s_seq(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v == 0)
        return -1;
    *out = v;
    return 0;
}

int ctl_review_main(const ctl_hub_t *hub, int argc, char **argv)
{
    const char *pos[3] = {0}, *unit = NULL, *reason = NULL, *inc = NULL, *v;
    int npos = 0, json = 0;
    long limit = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_help(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (ctl_opt_is(a, "--unit")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--unit")) || !v[0])
                return ctl_usage_error("--unit needs a unit id");
            unit = v;
        } else if (ctl_opt_is(a, "--reason")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--reason")))
                return ctl_usage_error("--reason needs a text");
            reason = v;
        } else if (ctl_opt_is(a, "--incarnation")) {
            if (!(v = ctl_opt_value(argc, argv, &i, "--incarnation")))
                return ctl_usage_error("--incarnation needs 32 hex digits");
            inc = v;
        } else if (ctl_opt_is(a, "--limit")) {
            char *end;
            if (!(v = ctl_opt_value(argc, argv, &i, "--limit")) ||
                (limit = strtol(v, &end, 10)) < 1 || *end || limit > 10000)
                return ctl_usage_error("--limit needs a number from 1 to 10000");
        } else if (a[0] == '-' && a[1]) {
            return ctl_usage_error("review: unknown option '%s'", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return ctl_usage_error("review: unexpected argument '%s'", a);
        }
    }
    const char *cmd = pos[0];
    if (!cmd)
        return ctl_usage_error("review: which command: list, show, accept or reject?");
    int list = !strcmp(cmd, "list"), show = !strcmp(cmd, "show");
    int accept = !strcmp(cmd, "accept"), reject = !strcmp(cmd, "reject");
    if (!list && !show && !accept && !reject)
        return ctl_usage_error("review: unknown command '%s'", cmd);
    if (list) {
        if (npos != 1 || reason || inc)
            return ctl_usage_error("usage: review list [--unit ID] [--limit N] [--json]");
        return s_list(hub, unit, 0, limit, json);
    }
    uint64_t seq = 0;
    if (npos != 3 || unit || limit >= 0)
        return ctl_usage_error("usage: review %s UNIT SEQ%s", cmd,
                               show ? " [--json]" : " --reason TEXT [--incarnation HEX]");
    if (s_seq(pos[2], &seq))
        return ctl_usage_error("review: seq '%s' is not a number from 1", pos[2]);
    if (show) {
        if (reason || inc)
            return ctl_usage_error("review show takes no --reason or --incarnation");
        return s_list(hub, pos[1], seq, 0, json);
    }
    if (json)
        return ctl_usage_error("review %s takes no --json", cmd);
    if (!reason || !reason[0])
        return ctl_usage_error("review %s needs --reason TEXT: why, for the trail", cmd);
    if (strlen(reason) > RO_TEXT_MAX)
        return ctl_usage_error("--reason is at most %d bytes", RO_TEXT_MAX);
    if (inc && strlen(inc) != 32)
        return ctl_usage_error("--incarnation needs 32 hex digits");
    return s_decide(hub, pos[1], seq, accept, reason, inc);
}
