/* test_auth: the allow-list parser (fail closed on every bad line), the ZAP
 * handler over real CURVE handshakes on loopback (unit keys on ingest only,
 * operator keys on status only, User-Id and key metadata), the self-test,
 * and ingest's per-message check: another unit's report and a revoked key
 * are refused with nothing stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"
#include "ingest.h"
#include "ro_codec.h"
#include "ro_log.h"
#include "ro_registry.h"
#include "ro_time.h"
#include "store.h"
#include "test_util.h"

#include <sys/stat.h>
#include <zmq.h>

#define NOW 1546300800 /* 2019-01-01 */
#define WHY_TEXT 200   /* bytes kept of a bad line's reason */

static char s_upub[41], s_usec[41], s_opub[41], s_osec[41], s_spub[41], s_ssec[41];
static char s_k[6][41]; /* public keys K0..K5 of the refinement tests */

static int s_setup(void **state)
{
    (void)state;
    ro_log_init("test_auth", LOG_ERR);
    zmq_curve_keypair(s_upub, s_usec);
    zmq_curve_keypair(s_opub, s_osec);
    zmq_curve_keypair(s_spub, s_ssec);
    for (int i = 0; i < 6; i++) {
        char sec[41];
        zmq_curve_keypair(s_k[i], sec);
    }
    return 0;
}

/* A list file with unit 460100-001 (s_upub) and operator ops (s_opub). */
static const char *s_list_file(const char *name, int with_unit)
{
    char text[1024];
    snprintf(text, sizeof text, "# test list\n\n%sunit 460100-001 %s\n  operator ops\t%s  \r\n", "",
             with_unit ? s_upub : s_spub, s_opub);
    const char *p = tu_write(name, text);
    chmod(p, 0644);
    return p;
}

static void test_parse_good(void **state)
{
    (void)state;
    char text[512], err[256] = "";
    snprintf(text, sizeof text,
             "# c\nunit 460100-001 %s\r\n\n   # indented comment\noperator a.b_c-1 %s", s_upub,
             s_opub);
    ro_allow_t *l = ro_allow_parse(text, strlen(text), "t", err, sizeof err);
    assert_non_null(l);
    assert_int_equal(ro_allow_count(l), 2);
    const ro_allow_entry_t *e = ro_allow_find_key(l, s_upub);
    assert_non_null(e);
    assert_int_equal(e->role, RO_ALLOW_UNIT);
    assert_string_equal(e->name, "460100-001");
    assert_int_equal(e->line, 2);
    e = ro_allow_find_name(l, RO_ALLOW_OPERATOR, "a.b_c-1");
    assert_non_null(e);
    assert_string_equal(e->key, s_opub);
    assert_null(ro_allow_find_name(l, RO_ALLOW_UNIT, "a.b_c-1"));
    assert_null(ro_allow_find_key(l, s_spub));
    ro_allow_destroy(&l);
    assert_null(l);

    l = ro_allow_parse("# nothing\n\n", 11, "t", err, sizeof err);
    assert_non_null(l);
    assert_int_equal(ro_allow_count(l), 0);
    ro_allow_destroy(&l);
}

static void s_bad(const char *text, size_t len, const char *needle)
{
    char err[512] = "";
    ro_allow_t *l = ro_allow_parse(text, len, "list", err, sizeof err);
    if (l)
        fail_msg("accepted: %s", text);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_parse_bad(void **state)
{
    (void)state;
    char t[1024];
    snprintf(t, sizeof t, "unit 460100-001\n");
    s_bad(t, strlen(t), "list:1: expected");
    snprintf(t, sizeof t, "# ok\nunit 460100-001 %s extra\n", s_upub);
    s_bad(t, strlen(t), "list:2: expected");
    snprintf(t, sizeof t, "agent 460100-001 %s\n", s_upub);
    s_bad(t, strlen(t), "not 'unit', 'operator' or 'reviewer'");
    snprintf(t, sizeof t, "unit 4601-001 %s\n", s_upub);
    s_bad(t, strlen(t), "not a valid unit id");
    snprintf(t, sizeof t, "operator bad/name %s\n", s_upub);
    s_bad(t, strlen(t), "not a valid operator name");
    snprintf(t, sizeof t, "unit 460100-001 %.39s\n", s_upub);
    s_bad(t, strlen(t), "Z85");
    snprintf(t, sizeof t, "unit 460100-001 %.39s\"\n", s_upub);
    s_bad(t, strlen(t), "Z85");
    snprintf(t, sizeof t, "unit 460100-001 %s\nunit 460100-001 %s\n", s_upub, s_opub);
    s_bad(t, strlen(t), "list:2: unit 460100-001 is already listed on line 1");
    snprintf(t, sizeof t, "unit 460100-001 %s\noperator x %s\n", s_upub, s_upub);
    s_bad(t, strlen(t), "list:2: this key is already listed on line 1");
    snprintf(t, sizeof t, "unit 460100-001 %s\n", s_upub);
    t[3] = '\0';
    s_bad(t, strlen(t + 4) + 4, "NUL");
    memset(t, 'a', 600);
    t[600] = '\0';
    s_bad(t, 600, "longer than");
}

static void test_load_refusals(void **state)
{
    (void)state;
    char err[512] = "";
    const char *p = s_list_file("writable.list", 1);
    chmod(p, 0666);
    assert_null(ro_allow_load(p, err, sizeof err));
    assert_non_null(strstr(err, "writable by group or others"));
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.list", tu_dir());
    assert_null(ro_allow_load(missing, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    p = s_list_file("good.list", 1);
    ro_allow_t *l = ro_allow_load(p, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(ro_allow_count(l), 2);
    ro_allow_destroy(&l);
}

/* ---- ZAP over real handshakes ---- */

typedef struct {
    void *ctx;
    hub_auth_t *auth;
    void *srv[2]; /* ingest, status */
    char ep[2][128];
} s_hub_t;

static void s_hub(s_hub_t *h, const char *list)
{
    char err[512] = "";
    memset(h, 0, sizeof *h);
    h->ctx = zmq_ctx_new();
    h->auth = hub_auth_new(h->ctx, list, err, sizeof err);
    if (!h->auth)
        fail_msg("%s", err);
    static const char *dom[2] = {"ingest", "status"};
    for (int i = 0; i < 2; i++) {
        int one = 1, linger = 0;
        size_t len = sizeof h->ep[i];
        h->srv[i] = zmq_socket(h->ctx, ZMQ_ROUTER);
        assert_int_equal(zmq_setsockopt(h->srv[i], ZMQ_LINGER, &linger, sizeof linger), 0);
        assert_int_equal(zmq_setsockopt(h->srv[i], ZMQ_ZAP_DOMAIN, dom[i], strlen(dom[i])), 0);
        assert_int_equal(zmq_setsockopt(h->srv[i], ZMQ_CURVE_SERVER, &one, sizeof one), 0);
        assert_int_equal(zmq_setsockopt(h->srv[i], ZMQ_CURVE_SECRETKEY, s_ssec, 40), 0);
        assert_int_equal(zmq_bind(h->srv[i], "tcp://127.0.0.1:*"), 0);
        assert_int_equal(zmq_getsockopt(h->srv[i], ZMQ_LAST_ENDPOINT, h->ep[i], &len), 0);
    }
}

static void s_hub_close(s_hub_t *h)
{
    for (int i = 0; i < 2; i++)
        zmq_close(h->srv[i]);
    hub_auth_destroy(&h->auth);
    assert_null(h->auth);
    zmq_ctx_term(h->ctx);
}

/* Connect a client with (pub, sec) to server i and send "hi". Serve ZAP
 * until the server receives it (returns 1, with User-Id and key copied) or
 * the client's handshake fails on ZAP's refusal (returns 0). */
static int s_try(s_hub_t *h, int i, const char *pub, const char *sec, char *user, char *key)
{
    void *c = zmq_socket(h->ctx, ZMQ_DEALER);
    int linger = 0, got = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, s_spub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec, 40);
    static int n;
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://test-auth-%d", n++);
    assert_int_equal(zmq_socket_monitor(c, mon_ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), 0);
    void *mon = zmq_socket(h->ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, mon_ep), 0);
    assert_int_equal(zmq_connect(c, h->ep[i]), 0);
    zmq_send(c, "hi", 2, ZMQ_DONTWAIT);
    int64_t until = ro_time_mono_ms() + 1500; /* a 300 refusal shows no event */
    while (!got && ro_time_mono_ms() < until) {
        zmq_pollitem_t it[3] = {{hub_auth_socket(h->auth), 0, ZMQ_POLLIN, 0},
                                {h->srv[i], 0, ZMQ_POLLIN, 0},
                                {mon, 0, ZMQ_POLLIN, 0}};
        zmq_poll(it, 3, 50);
        while (hub_auth_serve(h->auth) > 0) {
        }
        if (it[2].revents & ZMQ_POLLIN)
            break; /* refused by ZAP */
        if (it[1].revents & ZMQ_POLLIN) {
            zmq_msg_t rid, body;
            zmq_msg_init(&rid);
            zmq_msg_init(&body);
            zmq_msg_recv(&rid, h->srv[i], 0);
            zmq_msg_recv(&body, h->srv[i], 0);
            const char *u = zmq_msg_gets(&body, "User-Id");
            const char *k = zmq_msg_gets(&body, HUB_AUTH_KEY_PROPERTY);
            strcpy(user, u ? u : "");
            strcpy(key, k ? k : "");
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            got = 1;
        }
    }
    zmq_socket_monitor(c, NULL, 0);
    zmq_close(mon);
    zmq_close(c);
    return got;
}

static void test_zap(void **state)
{
    (void)state;
    s_hub_t h;
    char user[64], key[64];
    s_hub(&h, s_list_file("zap.list", 1));
    assert_int_equal(hub_auth_count(h.auth), 2);

    assert_int_equal(s_try(&h, 0, s_upub, s_usec, user, key), 1);
    assert_string_equal(user, "460100-001");
    assert_string_equal(key, s_upub);
    assert_true(hub_auth_admits(h.auth, RO_ALLOW_UNIT, user, key));
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-002", key));
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_OPERATOR, user, key));

    assert_int_equal(s_try(&h, 1, s_opub, s_osec, user, key), 1);
    assert_string_equal(user, "operator:ops");
    assert_true(hub_auth_admits(h.auth, RO_ALLOW_OPERATOR, user, key));

    /* unit keys stay off status, operator keys off ingest, strangers off both */
    assert_int_equal(s_try(&h, 1, s_upub, s_usec, user, key), 0);
    assert_int_equal(s_try(&h, 0, s_opub, s_osec, user, key), 0);
    assert_int_equal(s_try(&h, 0, s_spub, s_ssec, user, key), 0);
    assert_true(hub_auth_denied(h.auth, HUB_AUTH_DENY_WRONG_SOCKET) >= 2);
    assert_true(hub_auth_denied(h.auth, HUB_AUTH_DENY_UNKNOWN) >= 1);
    assert_int_equal(hub_auth_admitted(h.auth), 2);

    /* reload without the unit: its key is no longer admitted, even per message */
    s_list_file("zap.list", 0);
    assert_int_equal(hub_auth_reload(h.auth), 2);
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-001", s_upub));
    assert_int_equal(s_try(&h, 0, s_upub, s_usec, user, key), 0);

    /* a list of one bad line: the unit it names keeps its key in use (s_spub
     * since the last reload), the operator it no longer names is dropped */
    const char *p = tu_write("zap.list", "unit 460100-001 nonsense\n");
    chmod(p, 0644);
    assert_int_equal(hub_auth_reload(h.auth), 1);
    assert_int_equal(hub_auth_count(h.auth), 1);
    assert_int_equal(hub_auth_bad_lines(h.auth), 1);
    assert_int_equal(hub_auth_kept(h.auth), 1);
    assert_true(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-001", s_spub));
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_OPERATOR, "operator:ops", s_opub));
    assert_int_equal(s_try(&h, 1, s_opub, s_osec, user, key), 0);
    /* a list that names no one readable admits no one */
    p = tu_write("zap.list", "nonsense\n");
    chmod(p, 0644);
    assert_int_equal(hub_auth_reload(h.auth), -1);
    assert_int_equal(hub_auth_count(h.auth), 0);
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-001", s_spub));
    assert_int_equal(s_try(&h, 0, s_spub, s_ssec, user, key), 0);
    assert_true(hub_auth_denied(h.auth, HUB_AUTH_DENY_NO_LIST) >= 1);
    assert_int_equal(hub_auth_bad_lines_seen(h.auth), 2);
    s_hub_close(&h);
}

static void test_selftest(void **state)
{
    (void)state;
    s_hub_t h;
    char err[512] = "";
    s_hub(&h, s_list_file("self.list", 1));
    if (hub_auth_selftest(h.auth, h.ctx, 5000, err, sizeof err))
        fail_msg("%s", err);
    /* an empty list fails closed but the handler still answers */
    const char *p = tu_write("self.list", "# empty\n");
    chmod(p, 0644);
    assert_int_equal(hub_auth_reload(h.auth), -1);
    if (hub_auth_selftest(h.auth, h.ctx, 5000, err, sizeof err))
        fail_msg("%s", err);
    /* no time to answer: the self-test fails, and the hub would not start */
    assert_int_equal(hub_auth_selftest(h.auth, h.ctx, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "not answering"));
    /* a second handler on the same context cannot bind: the hub would not start */
    hub_auth_t *second = hub_auth_new(h.ctx, "/nonexistent", err, sizeof err);
    assert_null(second);
    assert_non_null(strstr(err, "cannot bind the ZAP handler"));
    s_hub_close(&h);
}

/* ---- bad lines on a reload: the list in use, refined per identity ---- */

typedef struct {
    int n;                         /* bad lines reported */
    int line[8];                   /* their numbers */
    ro_allow_outcome_t outcome[8]; /* what their identities got */
    int other[8];                  /* other_line */
    char why[8][WHY_TEXT];         /* reasons */
} s_bads_t;

static void s_collect(void *arg, const ro_allow_bad_t *b)
{
    s_bads_t *bs = arg;
    assert_true(bs->n < 8);
    bs->line[bs->n] = b->line;
    bs->outcome[bs->n] = b->outcome;
    bs->other[bs->n] = b->other_line;
    snprintf(bs->why[bs->n], sizeof bs->why[0], "%s", b->why);
    bs->n++;
}

/* The list in use before each reload: unit 460100-001 K0, unit 460100-002
 * K1, operator ops K2. */
static ro_allow_t *s_prev(void)
{
    char t[512], err[256] = "";
    snprintf(t, sizeof t, "unit 460100-001 %s\nunit 460100-002 %s\noperator ops %s\n", s_k[0],
             s_k[1], s_k[2]);
    ro_allow_t *l = ro_allow_parse(t, strlen(t), "prev", err, sizeof err);
    if (!l)
        fail_msg("%s", err);
    return l;
}

static ro_allow_t *s_refine(const char *text, const ro_allow_t *prev, s_bads_t *bs)
{
    char err[256] = "";
    memset(bs, 0, sizeof *bs);
    ro_allow_t *l =
        ro_allow_parse_refined(text, strlen(text), "new", prev, s_collect, bs, err, sizeof err);
    if (!l)
        fail_msg("refined parse failed: %s", err);
    assert_int_equal(ro_allow_bad_count(l), (size_t)bs->n);
    if (bs->n)
        assert_non_null(strstr(err, "new:"));
    return l;
}

/* The key an identity is admitted with now, or NULL. */
static const char *s_key_of(const ro_allow_t *l, ro_allow_role_t role, const char *name)
{
    const ro_allow_entry_t *e = ro_allow_find_name(l, role, name);
    if (e)
        assert_ptr_equal(ro_allow_find_key(l, e->key), e); /* both indexes agree */
    return e ? e->key : NULL;
}

/* The valid lines apply, including a changed key; a line whose identity
 * parses but whose key does not keeps that identity's last good key. */
static void test_refine_bad_key_keeps_last_good(void **state)
{
    (void)state;
    ro_allow_t *prev = s_prev(), *l;
    s_bads_t bs;
    char t[512];
    snprintf(t, sizeof t, "# edited\nunit 460100-001 %s\nunit 460100-002 %.39s\noperator ops %s\n",
             s_k[0], s_k[1], s_k[3]);
    l = s_refine(t, prev, &bs);
    assert_int_equal(bs.n, 1);
    assert_int_equal(bs.line[0], 3);
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_KEPT);
    assert_non_null(strstr(bs.why[0], "Z85"));
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-001"), s_k[0]);
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-002"), s_k[1]);
    assert_string_equal(s_key_of(l, RO_ALLOW_OPERATOR, "ops"), s_k[3]); /* the new key */
    assert_null(ro_allow_find_key(l, s_k[2]));                          /* the old one gone */
    assert_int_equal(ro_allow_count(l), 3);
    assert_int_equal(ro_allow_kept_count(l), 1);
    const ro_allow_entry_t *e = ro_allow_find_name(l, RO_ALLOW_UNIT, "460100-002");
    assert_int_equal(e->kept, 1);
    assert_int_equal(e->line, 3);
    ro_allow_destroy(&l);

    /* a missing key, extra words, and a key that another valid line holds:
     * the identity still parses, so it keeps its key */
    snprintf(t, sizeof t,
             "unit 460100-001\nunit 460100-002 %s %s\noperator ops %s\nunit 460100-003 %s\n",
             s_k[1], s_k[4], s_k[5], s_k[5]);
    l = s_refine(t, prev, &bs);
    assert_int_equal(bs.n, 3);
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_KEPT);
    assert_int_equal(bs.outcome[1], RO_ALLOW_BAD_KEPT);
    assert_int_equal(bs.line[2], 4);
    assert_non_null(strstr(bs.why[2], "this key is already listed on line 3"));
    assert_int_equal(bs.outcome[2], RO_ALLOW_BAD_NO_KEY); /* 460100-003 had none */
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-001"), s_k[0]);
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-002"), s_k[1]);
    assert_string_equal(s_key_of(l, RO_ALLOW_OPERATOR, "ops"), s_k[5]);
    assert_null(s_key_of(l, RO_ALLOW_UNIT, "460100-003"));
    assert_null(ro_allow_find_key(l, s_k[4]));
    ro_allow_destroy(&l);
    ro_allow_destroy(&prev);
}

/* A line that names nothing readable admits no one, and keeps no one's key:
 * the identity it may have meant is no longer listed, so it is dropped. */
static void test_refine_unreadable_line_admits_no_one(void **state)
{
    (void)state;
    ro_allow_t *prev = s_prev(), *l;
    s_bads_t bs;
    char t[2048];
    int n = snprintf(t, sizeof t, "uint 460100-001 %s\nunit 4601-002 %s\n%s\noperator ops %s\n",
                     s_k[0], s_k[1], s_k[0], s_k[2]);
    memset(t + n, 'x', 600); /* a line too long to read */
    snprintf(t + n + 600, sizeof t - (size_t)n - 600, "\n");
    l = s_refine(t, prev, &bs);
    assert_int_equal(bs.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(bs.outcome[i], RO_ALLOW_BAD_NAMES_NO_ONE);
    assert_non_null(strstr(bs.why[0], "not 'unit', 'operator' or 'reviewer'"));
    assert_non_null(strstr(bs.why[1], "not a valid unit id"));
    assert_non_null(strstr(bs.why[2], "3 words"));
    assert_int_equal(bs.line[3], 5);
    assert_non_null(strstr(bs.why[3], "longer than"));
    assert_int_equal(ro_allow_count(l), 1);
    assert_string_equal(s_key_of(l, RO_ALLOW_OPERATOR, "ops"), s_k[2]);
    assert_null(s_key_of(l, RO_ALLOW_UNIT, "460100-001"));
    assert_null(s_key_of(l, RO_ALLOW_UNIT, "460100-002"));
    assert_null(ro_allow_find_key(l, s_k[0]));
    assert_null(ro_allow_find_key(l, s_k[1]));
    ro_allow_destroy(&l);

    /* a NUL byte spoils its own line only */
    n = snprintf(t, sizeof t, "unit 460100-001 %s\nunit 460100-002 %s\n", s_k[0], s_k[1]);
    t[4] = '\0';
    char err[256] = "";
    memset(&bs, 0, sizeof bs);
    l = ro_allow_parse_refined(t, (size_t)n, "new", prev, s_collect, &bs, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(bs.n, 1);
    assert_non_null(strstr(err, "new:1: contains a NUL byte"));
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_NAMES_NO_ONE);
    assert_int_equal(ro_allow_count(l), 1);
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-002"), s_k[1]);
    ro_allow_destroy(&l);
    ro_allow_destroy(&prev);
}

/* An identity the new file no longer lists is dropped, bad lines or not:
 * a typo never keeps a key the operator removed. */
static void test_refine_unlisted_identity_dropped(void **state)
{
    (void)state;
    ro_allow_t *prev = s_prev(), *l;
    s_bads_t bs;
    char t[512];
    snprintf(t, sizeof t, "unit 460100-001 %s\noperator ops %.20s\n", s_k[0], s_k[2]);
    l = s_refine(t, prev, &bs);
    assert_int_equal(bs.n, 1);
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_KEPT);
    assert_int_equal(ro_allow_count(l), 2);
    assert_null(s_key_of(l, RO_ALLOW_UNIT, "460100-002")); /* revoked by removing its line */
    assert_null(ro_allow_find_key(l, s_k[1]));
    assert_string_equal(s_key_of(l, RO_ALLOW_OPERATOR, "ops"), s_k[2]);
    ro_allow_destroy(&l);

    /* no list in use (a bad file at start): a bad key has nothing to keep */
    l = s_refine(t, NULL, &bs);
    assert_int_equal(bs.n, 1);
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_NO_KEY);
    assert_int_equal(ro_allow_count(l), 1);
    assert_null(s_key_of(l, RO_ALLOW_OPERATOR, "ops"));
    ro_allow_destroy(&l);
    ro_allow_destroy(&prev);
}

/* Two lines for one identity: the first applies, wherever the valid one
 * is; a key in use that a valid line now gives another identity is not
 * kept (one key, one identity). */
static void test_refine_conflicts(void **state)
{
    (void)state;
    ro_allow_t *prev = s_prev(), *l;
    s_bads_t bs;
    char t[512];
    snprintf(t, sizeof t,
             "unit 460100-001 %s\nunit 460100-001 %s\nunit 460100-002 junk\n"
             "unit 460100-002 %s\n",
             s_k[0], s_k[4], s_k[3]);
    l = s_refine(t, prev, &bs);
    assert_int_equal(bs.n, 2);
    assert_int_equal(bs.line[0], 2);
    assert_non_null(strstr(bs.why[0], "unit 460100-001 is already listed on line 1"));
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_LISTED);
    assert_int_equal(bs.other[0], 1);
    assert_int_equal(bs.outcome[1], RO_ALLOW_BAD_LISTED); /* the valid line 4 wins */
    assert_int_equal(bs.other[1], 4);
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-001"), s_k[0]);
    assert_string_equal(s_key_of(l, RO_ALLOW_UNIT, "460100-002"), s_k[3]);
    assert_null(ro_allow_find_key(l, s_k[4]));
    assert_null(ro_allow_find_key(l, s_k[1]));
    assert_int_equal(ro_allow_kept_count(l), 0);
    ro_allow_destroy(&l);

    /* 460100-002's key in use moved to a new operator: 460100-002's bad line cannot keep it */
    snprintf(t, sizeof t, "unit 460100-002 junk\noperator ops %s\noperator new %s\n", s_k[2],
             s_k[1]);
    l = s_refine(t, prev, &bs);
    assert_int_equal(bs.n, 1);
    assert_int_equal(bs.outcome[0], RO_ALLOW_BAD_KEY_TAKEN);
    assert_int_equal(bs.other[0], 3);
    assert_null(s_key_of(l, RO_ALLOW_UNIT, "460100-002"));
    assert_string_equal(s_key_of(l, RO_ALLOW_OPERATOR, "new"), s_k[1]);
    ro_allow_destroy(&l);

    /* the strict parse (start, --check, rolloutctl keys) still refuses it all */
    char err[256] = "";
    assert_null(ro_allow_parse(t, strlen(t), "strict", err, sizeof err));
    assert_non_null(strstr(err, "strict:1: 'junk' is not a 40-character Z85 public key"));
    ro_allow_destroy(&prev);
}

/* The handler: a reload with one bad line for another identity leaves a
 * unit admitted, on its live connection and at a new handshake; a bad file
 * at start admits no one, and the same file on a reload admits its valid
 * lines. */
static void test_reload_one_typo_cuts_off_no_one_else(void **state)
{
    (void)state;
    s_hub_t h;
    char user[64], key[64], t[512];
    s_hub(&h, s_list_file("typo.list", 1));
    assert_int_equal(s_try(&h, 0, s_upub, s_usec, user, key), 1);
    snprintf(t, sizeof t, "unit 460100-001 %s\noperator ops %.30s\n", s_upub, s_opub);
    const char *p = tu_write("typo.list", t);
    chmod(p, 0644);
    assert_int_equal(hub_auth_reload(h.auth), 2);
    assert_int_equal(hub_auth_bad_lines(h.auth), 1);
    assert_int_equal(hub_auth_kept(h.auth), 1);
    assert_true(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-001", s_upub));
    assert_true(hub_auth_admits(h.auth, RO_ALLOW_OPERATOR, "operator:ops", s_opub));
    assert_int_equal(s_try(&h, 0, s_upub, s_usec, user, key), 1);
    assert_int_equal(s_try(&h, 1, s_opub, s_osec, user, key), 1);
    /* fixed: the count of bad lines goes back to 0, the running total stays */
    s_list_file("typo.list", 1);
    assert_int_equal(hub_auth_reload(h.auth), 2);
    assert_int_equal(hub_auth_bad_lines(h.auth), 0);
    assert_int_equal(hub_auth_kept(h.auth), 0);
    assert_int_equal(hub_auth_bad_lines_seen(h.auth), 1);
    s_hub_close(&h);

    /* at start the same bad file admits no one */
    p = tu_write("typo.list", t);
    chmod(p, 0644);
    s_hub(&h, p);
    assert_int_equal(hub_auth_count(h.auth), 0);
    assert_int_equal(hub_auth_bad_lines(h.auth), 1);
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-001", s_upub));
    assert_int_equal(s_try(&h, 0, s_upub, s_usec, user, key), 0);
    /* reloaded, its valid line applies; the operator had no good key to keep */
    assert_int_equal(hub_auth_reload(h.auth), 1);
    assert_true(hub_auth_admits(h.auth, RO_ALLOW_UNIT, "460100-001", s_upub));
    assert_false(hub_auth_admits(h.auth, RO_ALLOW_OPERATOR, "operator:ops", s_opub));
    assert_int_equal(s_try(&h, 0, s_upub, s_usec, user, key), 1);
    s_hub_close(&h);
}

/* ---- ingest's per-message check ---- */

static const char *s_units_csv = "id,level,division,name\n"
                                 "460000-001,provincial,460000,省发展和改革委员会\n"
                                 "460100-001,municipal,460100,海口市教育局\n";

/* Add one staff report of unit (seq) as sent by (user, key); flush; return the reply. */
static ro_hubmsg_t s_send(hub_ingest_t *in, const char *unit, uint64_t seq, const char *user,
                          const char *key)
{
    ro_report_t r;
    memset(&r, 0, sizeof r);
    r.version = RO_PROTOCOL_V1;
    snprintf(r.unit, sizeof r.unit, "%s", unit);
    r.seq = seq;
    r.recorded_at = NOW - 10;
    r.kind = RO_KIND_STAFF;
    r.date = 20180105;
    r.total = 10;
    r.part = 5;
    uint8_t buf[RO_FRAME_MAX];
    int n = ro_report_encode(&r, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hub_ingest_add_peer(in, "rid", 3, buf, (size_t)n, 1, user, key), 0);
    assert_int_equal(hub_ingest_flush(in, NOW), 0);
    assert_int_equal(hub_ingest_reply_count(in), 1);
    return hub_ingest_reply_at(in, 0)->msg;
}

static void test_ingest_forbidden(void **state)
{
    (void)state;
    char err[512] = "";
    ro_registry_t *reg = ro_registry_load(tu_write("units.csv", s_units_csv), err, sizeof err);
    assert_non_null(reg);
    hub_store_t *st = hub_store_open(":memory:", 1, 0, err, sizeof err);
    assert_non_null(st);
    hub_unit_state_t states[2];
    memset(states, 0, sizeof states);
    assert_int_equal(hub_store_load_states(st, reg, states, err, sizeof err), 0);
    hub_ingest_t *in = hub_ingest_new(st, reg, states, 16);
    assert_non_null(in);
    s_hub_t h;
    s_hub(&h, s_list_file("ingest.list", 1));
    hub_ingest_set_auth(in, h.auth);

    ro_hubmsg_t m = s_send(in, "460100-001", 1, "460100-001", s_upub);
    assert_int_equal(m.kind, RO_HUBMSG_ACK);
    assert_int_equal(m.seq, 1);
    /* unit 460100-001's key speaking for 460000-001 */
    m = s_send(in, "460000-001", 1, "460100-001", s_upub);
    assert_int_equal(m.kind, RO_HUBMSG_REFUSAL);
    assert_int_equal(m.reason, RO_REASON_FORBIDDEN);
    assert_int_equal(states[0].last_seq, 0);
    assert_int_equal(states[0].last_heard, 0);
    /* no ZAP verdict at all, and an operator */
    m = s_send(in, "460100-001", 2, NULL, NULL);
    assert_int_equal(m.reason, RO_REASON_FORBIDDEN);
    m = s_send(in, "460100-001", 2, "operator:ops", s_opub);
    assert_int_equal(m.reason, RO_REASON_FORBIDDEN);
    /* revoked while connected: the same User-Id and key no longer pass */
    s_list_file("ingest.list", 0);
    assert_int_equal(hub_auth_reload(h.auth), 2);
    m = s_send(in, "460100-001", 2, "460100-001", s_upub);
    assert_int_equal(m.kind, RO_HUBMSG_REFUSAL);
    assert_int_equal(m.reason, RO_REASON_FORBIDDEN);
    assert_int_equal(states[1].last_seq, 1);
    assert_int_equal(hub_ingest_counters(in)->reports_stored, 1);
    assert_int_equal(hub_ingest_counters(in)->refused[RO_REASON_FORBIDDEN], 4);

    hub_ingest_destroy(&in);
    s_hub_close(&h);
    hub_store_destroy(&st);
    ro_registry_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_zap),
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_ingest_forbidden),
        cmocka_unit_test(test_refine_bad_key_keeps_last_good),
        cmocka_unit_test(test_refine_unreadable_line_admits_no_one),
        cmocka_unit_test(test_refine_unlisted_identity_dropped),
        cmocka_unit_test(test_refine_conflicts),
        cmocka_unit_test(test_reload_one_typo_cuts_off_no_one_else),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
