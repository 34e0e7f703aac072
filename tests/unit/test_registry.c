/* test_registry: loading units.csv, lookups, and the refusal of bad lines
 * with their line numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ro_registry.h"
#include "test_util.h"

static void test_shipped_registry(void **state)
{
    (void)state;
    char err[512] = "";
    const char *root = getenv("RO_SOURCE_ROOT");
    assert_non_null(root);
    char path[512];
    snprintf(path, sizeof path, "%s/config/units.csv", root);
    ro_registry_t *reg = ro_registry_load(path, err, sizeof err);
    assert_non_null(reg);
    assert_int_equal(ro_registry_count(reg), 893);
    size_t per_level[RO_LEVEL_COUNT] = {0};
    size_t per_division[RO_DIVISION_COUNT] = {0};
    for (size_t i = 0; i < ro_registry_count(reg); i++) {
        const ro_unit_t *u = ro_registry_at(reg, i);
        per_level[u->level]++;
        int d = ro_division_index(u->division);
        assert_true(d >= 0);
        per_division[d]++;
        assert_int_equal(ro_registry_find(reg, u->id), (long)i);
    }
    assert_int_equal(per_level[RO_LEVEL_PROVINCIAL], 34);
    assert_int_equal(per_level[RO_LEVEL_MUNICIPAL], 660);
    assert_int_equal(per_level[RO_LEVEL_TOWNSHIP], 199);
    assert_int_equal(per_division[0], 34);
    for (int d = 1; d < RO_DIVISION_COUNT; d++)
        assert_true(per_division[d] > 0);
    assert_int_equal(ro_registry_find(reg, "469999-001"), -1);
    ro_registry_destroy(&reg);
    assert_null(reg);
    ro_registry_destroy(&reg); /* NULL is fine */
}

static void s_expect_error(const char *text, const char *needle)
{
    char err[512] = "";
    ro_registry_t *reg = ro_registry_load(tu_write("bad.csv", text), err, sizeof err);
    if (reg || !strstr(err, needle))
        fail_msg("expected error containing '%s', got '%s'", needle, err);
}

static void test_bad_lines_name_their_line(void **state)
{
    (void)state;
    const char *h = "# comment\nid,level,division,name\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s460000-001,provincial,460000,A\n460100-001,county,460100,B\n", h);
    s_expect_error(buf, "bad.csv:4: level 'county'");
    snprintf(buf, sizeof buf, "%s460100-001,municipal,460300,B\n", h);
    s_expect_error(buf, ":3: division '460300'");
    snprintf(buf, sizeof buf, "%s460100-01,municipal,460100,B\n", h);
    s_expect_error(buf, ":3: unit id");
    snprintf(buf, sizeof buf, "%s460100-001,municipal,460200,B\n", h);
    s_expect_error(buf, ":3: unit id '460100-001' does not start with its division");
    snprintf(buf, sizeof buf, "%s460100-001,provincial,460100,B\n", h);
    s_expect_error(buf, ":3: a provincial unit");
    snprintf(buf, sizeof buf, "%s460100-001,municipal,460100\n", h);
    s_expect_error(buf, ":3: expected 4 fields");
    snprintf(buf, sizeof buf, "%s460100-001,municipal,460100,B\n460100-001,municipal,460100,C\n",
             h);
    s_expect_error(buf, "appears twice");
    s_expect_error("", "empty");
    s_expect_error("unit,level,division,name\n", ":1: header");
    snprintf(buf, sizeof buf, "%s460100-001,municipal,460100,\xC3\x28\n", h);
    s_expect_error(buf, ":3: name");
    char err[256];
    assert_null(ro_registry_load("/nonexistent/units.csv", err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

static void test_goal_columns(void **state)
{
    (void)state;
    char err[512] = "";
    ro_registry_t *reg =
        ro_registry_load(tu_write("goals.csv", "id,level,division,name,goal.training_participants\n"
                                               "460000-001,provincial,460000,A,120\n"
                                               "460100-001,municipal,460100,B,\n"),
                         err, sizeof err);
    assert_non_null(reg);
    int col = ro_registry_goal_column(reg, "training_participants");
    assert_int_equal(col, 0);
    assert_int_equal(ro_registry_goal_column(reg, "training_hours"), -1);
    assert_true(ro_registry_at(reg, 0)->goal[col] == 120.0);
    assert_true(ro_registry_at(reg, 1)->goal[col] < 0);
    ro_registry_destroy(&reg);
    s_expect_error("id,level,division,name,goal.x\n460000-001,provincial,460000,A,-3\n",
                   ":2: goal.x");
    s_expect_error("id,level,division,name,target\n", ":1: column 'target'");
}

static void test_large_registry_index(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/big.csv", tu_dir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("id,level,division,name\n", f);
    for (int i = 1; i <= 50000; i++)
        fprintf(f, "460100-%06d,municipal,460100,U%d\n", i, i);
    fclose(f);
    char err[256];
    ro_registry_t *reg = ro_registry_load(path, err, sizeof err);
    assert_non_null(reg);
    assert_int_equal(ro_registry_count(reg), 50000);
    assert_int_equal(ro_registry_find(reg, "460100-049999"), 49998);
    assert_int_equal(ro_registry_find(reg, "460100-050001"), -1);
    ro_registry_destroy(&reg);
}

static void test_divisions_and_levels(void **state)
{
    (void)state;
    assert_string_equal(ro_division_name(469005), "文昌市");
    assert_null(ro_division_name(469003));
    assert_int_equal(ro_division_code(0), 460000);
    ro_level_t l;
    assert_int_equal(ro_level_parse("township", &l), 0);
    assert_int_equal(l, RO_LEVEL_TOWNSHIP);
    assert_int_equal(ro_level_parse("village", &l), -1);
    assert_string_equal(ro_level_label(RO_LEVEL_MUNICIPAL), "市县级");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_registry),
        cmocka_unit_test(test_bad_lines_name_their_line),
        cmocka_unit_test(test_goal_columns),
        cmocka_unit_test(test_large_registry_index),
        cmocka_unit_test(test_divisions_and_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
