/* test_time: the calendar helpers every date check rests on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ro_time.h"

static void test_dates(void **state)
{
    (void)state;
    uint32_t d;
    assert_int_equal(ro_date_parse("2018-06-30", &d), 0);
    assert_int_equal(d, 20180630);
    assert_int_equal(ro_date_parse("2020-02-29", &d), 0);
    assert_int_equal(ro_date_parse("2019-02-29", &d), -1);
    assert_int_equal(ro_date_parse("1900-02-29", &d), -1);
    assert_int_equal(ro_date_parse("2018-6-30", &d), -1);
    assert_int_equal(ro_date_parse("2018-06-31", &d), -1);
    assert_int_equal(ro_date_parse("2018-13-01", &d), -1);
    assert_int_equal(ro_date_parse("2018-06-3x", &d), -1);
    assert_int_equal(ro_date_parse("", &d), -1);
    assert_int_equal(ro_month_parse("2018-12", &d), 0);
    assert_int_equal(d, 201812);
    assert_int_equal(ro_month_parse("2018-00", &d), -1);
    assert_int_equal(ro_month_end(201802), 20180228);
    assert_int_equal(ro_month_end(202002), 20200229);
    char buf[16];
    ro_date_format(20171231, buf);
    assert_string_equal(buf, "2017-12-31");
    ro_date_format(201806, buf);
    assert_string_equal(buf, "2018-06");
}

static void test_days(void **state)
{
    (void)state;
    assert_int_equal(ro_date_days(19700101), 0);
    assert_int_equal(ro_date_days(20180101), 17532);
    assert_int_equal(ro_date_of(17532LL * 86400 + 3600), 20180101);
    for (int64_t day = 17000; day < 18000; day += 7)
        assert_int_equal(ro_date_days(ro_date_of(day * 86400)), day);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
