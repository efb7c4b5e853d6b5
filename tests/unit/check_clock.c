/* Tests of clock_rfc3339() against the C library's calendar. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* What clock_rfc3339() wrote with gmtime_r() and printf: negative
 * clamped to 0, the year's last four digits. */
static void expected(int64_t ms, char out[64])
{
    if (ms < 0)
        ms = 0;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    ck_assert_ptr_nonnull(gmtime_r(&secs, &tm));
    char date[32];
    ck_assert_uint_eq(strftime(date, sizeof(date), "-%m-%dT%H:%M:%S", &tm), 15);
    snprintf(out, 64, "%04lld%s.%03dZ", ((long long)tm.tm_year + 1900) % 10000,
             date, (int)(ms % 1000));
}

static void same(int64_t ms)
{
    char got[CLOCK_RFC3339_SIZE], want[64];
    memset(got, 'x', sizeof(got));
    clock_rfc3339(ms, got);
    expected(ms, want);
    ck_assert_msg(strcmp(got, want) == 0, "%lld ms: got %.25s, want %s",
                  (long long)ms, got, want);
}

static void is(int64_t ms, const char *want)
{
    char got[CLOCK_RFC3339_SIZE];
    clock_rfc3339(ms, got);
    ck_assert_str_eq(got, want);
}

START_TEST(known_dates)
{
    is(0, "1970-01-01T00:00:00.000Z");
    is(-1, "1970-01-01T00:00:00.000Z");
    is(INT64_MIN, "1970-01-01T00:00:00.000Z");
    is(999, "1970-01-01T00:00:00.999Z");
    is(86399999, "1970-01-01T23:59:59.999Z");
    is(951782400000, "2000-02-29T00:00:00.000Z");
    is(951868799123, "2000-02-29T23:59:59.123Z");
    is(951868800000, "2000-03-01T00:00:00.000Z");
    is(1078012800000, "2004-02-29T00:00:00.000Z");
    is(4107456000000, "2100-02-28T00:00:00.000Z");
    is(4107542400000, "2100-03-01T00:00:00.000Z");
    is(1795515600123, "2026-11-24T10:20:00.123Z");
    is(253402300799999, "9999-12-31T23:59:59.999Z");
    /* Past 9999 the year keeps its last four digits. */
    is(253402300800000, "0000-01-01T00:00:00.000Z");
    same(INT64_MAX);
}
END_TEST

static void year_edges(int y)
{
    const int64_t day = 86400000;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = 2, .tm_mday = 1};
    int64_t march1 = (int64_t)timegm(&tm) * 1000;
    same(march1 - day);
    same(march1 - 1);
    same(march1);
    tm = (struct tm){.tm_year = y - 1900, .tm_mon = 0, .tm_mday = 1};
    int64_t jan1 = (int64_t)timegm(&tm) * 1000;
    same(jan1 - 1);
    same(jan1);
}

/* Every day from 1970 to 2040 at a moving time of day, every 31st day to
 * 2400 and every 997th to year 12000; the edges of leap days and years
 * for every year to 2500 and every century to 10100. */
START_TEST(matches_gmtime)
{
    const int64_t day = 86400000;
    for (int64_t d = 0; d < 25600; d++)
        same(d * day + (d * 7919 % day));
    for (int64_t d = 25600; d < 157000; d += 31)
        same(d * day + (d * 104729 % day));
    for (int64_t d = 157000; d < 3660000; d += 997)
        same(d * day + (d * 104729 % day));
    for (int y = 1970; y <= 2500; y++)
        year_edges(y);
    for (int y = 2600; y <= 10100; y += 100)
        year_edges(y);
}
END_TEST

Suite *clock_suite(void)
{
    Suite *s = suite_create("clock");
    TCase *t = tcase_create("rfc3339");
    tcase_add_test(t, known_dates);
    tcase_add_test(t, matches_gmtime);
    suite_add_tcase(s, t);
    return s;
}
