/* test_config: hub.ini, agent.ini and ctl.ini: defaults, relative paths, and refusals
 * that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ro_config.h"
#include "test_util.h"

static void test_hub_defaults_and_values(void **state)
{
    (void)state;
    ro_hub_config_t cfg;
    char err[512] = "";
    const char *path =
        tu_write("hub.ini", "; a comment\n[hub]\ndata_dir = data\nbatch_max = 100\n"
                            "synchronous = extra\n[sockets]\ningest = tcp://127.0.0.1:*\n"
                            "[security]\ncurve = off\n");
    assert_int_equal(ro_hub_config_load(path, &cfg, err, sizeof err), 0);
    char expect[512];
    snprintf(expect, sizeof expect, "%s/data", tu_dir());
    assert_string_equal(cfg.data_dir, expect);
    assert_int_equal(cfg.batch_max, 100);
    assert_int_equal(cfg.synchronous, 3);
    assert_string_equal(cfg.ingest, "tcp://127.0.0.1:*");
    assert_string_equal(cfg.status, "tcp://*:7452");
    assert_int_equal(cfg.sec.curve, 0);
    assert_string_equal(cfg.registry, RO_ETC "/units.csv");
}

static void s_expect(const char *text, const char *needle, int agent)
{
    char err[512] = "";
    const char *path = tu_write("bad.ini", text);
    int rc;
    if (agent) {
        ro_agent_config_t cfg;
        rc = ro_agent_config_load(path, &cfg, err, sizeof err);
    } else {
        ro_hub_config_t cfg;
        rc = ro_hub_config_load(path, &cfg, err, sizeof err);
    }
    if (rc == 0 || !strstr(err, needle))
        fail_msg("expected error containing '%s', got '%s'", needle, err);
}

static void test_hub_refusals(void **state)
{
    (void)state;
    s_expect("[hub]\nbatch_max = 0\n", "bad.ini:2: batch_max = '0'", 0);
    s_expect("[hub]\n\nbatch_max = 12x\n", "bad.ini:3:", 0);
    s_expect("[hub]\nbatchmax = 1\n", ":2: unknown key 'batchmax' in [hub]", 0);
    s_expect("[hubs]\nx = 1\n", ":2: unknown section [hubs]", 0);
    s_expect("[hub]\nsynchronous = off\n", ":2: synchronous = off would", 0);
    s_expect("[security]\ncurve = maybe\n", ":2: curve = 'maybe'", 0);
    s_expect("[hub]\nthis line has no equals\n", ":2:", 0);
    s_expect("[hub]\nbatch_max = 0\nbatch_max = -1\n", ":2:", 0); /* the first error wins */
    char err[256];
    ro_hub_config_t cfg;
    assert_int_equal(ro_hub_config_load("/nonexistent.ini", &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

static void test_agent_config(void **state)
{
    (void)state;
    ro_agent_config_t cfg;
    char err[512] = "";
    const char *path =
        tu_write("agent.ini", "[agent]\nunit = 469005-012\nwindow = 64\noutbox = /var/x.db\n");
    assert_int_equal(ro_agent_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.unit, "469005-012");
    assert_int_equal(cfg.window, 64);
    assert_string_equal(cfg.outbox, "/var/x.db");
    assert_int_equal(cfg.sec.curve, 1);
    s_expect("[agent]\nwindow = 5\n", "unit is required", 1);
    s_expect("[agent]\nunit = hainan\n", ":2: unit 'hainan'", 1);
    s_expect("[agent]\nunit = 460000-001\nresend_ms = 5\n", ":3: resend_ms", 1);
    /* retention: 400 days and 64 MiB unless told; 0 keeps none; no negatives */
    assert_int_equal(cfg.retain_days, 400);
    assert_int_equal(cfg.retain_max_mb, 64);
    path = tu_write("agent.ini", "[agent]\nunit = 469005-012\nretain_days = 0\n"
                                 "retain_max_mb = 5\n");
    assert_int_equal(ro_agent_config_load(path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.retain_days, 0);
    assert_int_equal(cfg.retain_max_mb, 5);
    s_expect("[agent]\nunit = 460000-001\nretain_days = -1\n", ":3: retain_days", 1);
    s_expect("[agent]\nunit = 460000-001\n\nretain_max_mb = 64MB\n", ":4: retain_max_mb", 1);
}

/* rolloutctl's ctl.ini: CURVE on unless it says off, key paths relative to the file. */
static void test_ctl_config(void **state)
{
    (void)state;
    ro_ctl_config_t cfg;
    char err[512] = "";
    const char *path =
        tu_write("ctl.ini", "[ctl]\nhub = hub.example.org\ntimeout = 9\n[security]\n"
                            "hub_public_key = keys/hub.pub\nsecret_key = /k/op.key\n");
    assert_int_equal(ro_ctl_config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.hub, "hub.example.org");
    assert_int_equal(cfg.timeout_s, 9);
    assert_int_equal(cfg.sec.curve, 1);
    char expect[512];
    snprintf(expect, sizeof expect, "%s/keys/hub.pub", tu_dir());
    assert_string_equal(cfg.sec.hub_public, expect);
    assert_string_equal(cfg.sec.secret_key, "/k/op.key");
    assert_string_equal(cfg.sec.public_key, RO_ETC "/keys/operator.pub");
    path = tu_write("ctl.ini", "[security]\ncurve = off\n");
    assert_int_equal(ro_ctl_config_load(path, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.sec.curve, 0);
    path = tu_write("ctl.ini", "[security]\nallow_list = x\n");
    assert_int_equal(ro_ctl_config_load(path, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "ctl.ini:2: unknown key 'allow_list' in [security]"));
    path = tu_write("ctl.ini", "[ctl]\ntimeout = 0\n");
    assert_int_equal(ro_ctl_config_load(path, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "ctl.ini:2: timeout"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_defaults_and_values),
        cmocka_unit_test(test_hub_refusals),
        cmocka_unit_test(test_agent_config),
        cmocka_unit_test(test_ctl_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
