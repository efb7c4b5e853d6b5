/* Clocks in milliseconds (wall and monotonic) and RFC 3339 text. */
#include "clock.h"

#include <time.h>

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t clock_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* Writes `v` as `n` decimal digits (the low ones), zero-padded. */
static void put_digits(char *out, unsigned v, int n)
{
    while (n-- > 0) {
        out[n] = (char)('0' + v % 10u);
        v /= 10u;
    }
}

/* Days in a March-based year before each month: March is month 0, so
 * a leap day (29 February) is the year's last day and needs no entry. */
static const unsigned short days_before_month[12] = {
    0, 31, 61, 92, 122, 153, 184, 214, 245, 275, 306, 337};

/*
 * The proleptic Gregorian date of `days` (>= 0) since 1970-01-01,
 * without gmtime_r(). Counting from 0000-03-01, the calendar repeats
 * every 400 years (146097 days); inside that, the first three centuries
 * have 36524 days and the fourth one more, each 4-year block 1461 days
 * (the century's last block one fewer) and each year 365 days but the
 * block's last, which ends on 29 February. The day left over is the day
 * of the March-based year.
 */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month,
                            unsigned *day)
{
    int64_t n = days + 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t y = n / 146097 * 400;
    unsigned r = (unsigned)(n % 146097);
    unsigned c = r / 36524;
    if (c == 4) /* 29 February of a year divisible by 400 */
        c = 3;
    r -= c * 36524;
    unsigned q = r / 1461;
    r -= q * 1461;
    unsigned k = r / 365;
    if (k == 4) /* 29 February ending the 4-year block */
        k = 3;
    r -= k * 365;
    y += c * 100 + q * 4 + k;
    unsigned m = 11;
    while (days_before_month[m] > r)
        m--;
    *day = r - days_before_month[m] + 1;
    /* March-based months 10 and 11 are January and February of the
     * next calendar year. */
    *month = m < 10 ? m + 3 : m - 9;
    *year = m < 10 ? y : y + 1;
}

void clock_rfc3339(int64_t ms, char out[CLOCK_RFC3339_SIZE])
{
    if (ms < 0)
        ms = 0;
    int64_t secs = ms / 1000;
    unsigned sod = (unsigned)(secs % 86400);
    int64_t year;
    unsigned month, day;
    civil_from_days(secs / 86400, &year, &month, &day);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ"; a year past 9999 keeps its last four
     * digits, as this function always wrote it. */
    put_digits(out, (unsigned)(year % 10000), 4);
    out[4] = '-';
    put_digits(out + 5, month, 2);
    out[7] = '-';
    put_digits(out + 8, day, 2);
    out[10] = 'T';
    put_digits(out + 11, sod / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, sod / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, sod % 60, 2);
    out[19] = '.';
    put_digits(out + 20, (unsigned)(ms % 1000), 3);
    out[23] = 'Z';
    out[24] = '\0';
}
