/* Tests of full-jitter backoff, the deadline clamp and the classifier. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "retry.h"

/* A clock that moves only when told, and a PRNG that plays a script. */
struct fake {
    int64_t now_ms;
    uint64_t randoms[16];
    int random_count;
    int random_next;
    int64_t slept_ms;
    int sleep_calls;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now_ms;
}

static uint64_t fake_random(void *ctx)
{
    struct fake *f = ctx;
    uint64_t v = f->randoms[f->random_next % f->random_count];
    f->random_next++;
    return v;
}

static void fake_sleep(void *ctx, int64_t ms)
{
    struct fake *f = ctx;
    f->slept_ms += ms;
    f->now_ms += ms;
    f->sleep_calls++;
}

static void fake_policy(struct retry_policy *p, struct fake *f)
{
    retry_policy_init(p);
    p->hooks.now_ms = fake_now;
    p->hooks.random_u64 = fake_random;
    p->hooks.sleep_ms = fake_sleep;
    p->hooks.ctx = f;
}

START_TEST(defaults_are_the_sdks)
{
    struct retry_policy p;
    retry_policy_init(&p);
    ck_assert_int_eq(p.base_ms, 25);
    ck_assert_int_eq(p.max_attempts, 4);
    ck_assert_int_eq(p.cap_ms, 2000);
    ck_assert_int_eq(p.margin_ms, 100);
    ck_assert(p.hooks.now_ms == NULL && p.hooks.sleep_ms == NULL);

    retry_policy_set(&p, 50, 1000, 10);
    ck_assert_int_eq(p.base_ms, 50);
    ck_assert_int_eq(p.cap_ms, 1000);
    ck_assert_int_eq(p.max_attempts, 10);
    retry_policy_set(&p, -1, 0, 0);
    ck_assert_int_eq(p.base_ms, 25);
    ck_assert_int_eq(p.cap_ms, 2000);
    ck_assert_int_eq(p.max_attempts, 4);
    retry_policy_set(&p, 0, 0, 1);
    ck_assert_int_eq(p.base_ms, 0);
    ck_assert_int_eq(p.max_attempts, 1);
}
END_TEST

/* The largest random value reaches the ceiling, 0 gives 0. */
START_TEST(backoff_ceiling_doubles_to_cap)
{
    struct fake f = {.randoms = {UINT64_MAX}, .random_count = 1};
    struct retry_policy p;
    fake_policy(&p, &f);
    static const struct {
        int index;
        long ceiling;
    } rows[] = {
        {0, 25},    {1, 50},    {2, 100},     {3, 200},  {4, 400},
        {5, 800},   {6, 1600},  {7, 2000},    {8, 2000}, {40, 2000},
        {62, 2000}, {63, 2000}, {1000, 2000},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        f.randoms[0] = (uint64_t)rows[i].ceiling; /* r % (c+1) == c */
        f.random_next = 0;
        ck_assert_msg(retry_backoff_ms(&p, rows[i].index) == rows[i].ceiling,
                      "retry %d: want %ld", rows[i].index, rows[i].ceiling);
        f.randoms[0] = 0;
        f.random_next = 0;
        ck_assert_int_eq(retry_backoff_ms(&p, rows[i].index), 0);
        f.randoms[0] = (uint64_t)rows[i].ceiling + 1; /* wraps to 0 */
        f.random_next = 0;
        ck_assert_int_eq(retry_backoff_ms(&p, rows[i].index), 0);
    }
}
END_TEST

START_TEST(backoff_zero_base_never_sleeps)
{
    struct fake f = {.randoms = {12345}, .random_count = 1};
    struct retry_policy p;
    fake_policy(&p, &f);
    retry_policy_set(&p, 0, 0, 4);
    for (int i = 0; i < 70; i++)
        ck_assert_int_eq(retry_backoff_ms(&p, i), 0);
}
END_TEST

/* The real PRNG stays inside [0, ceiling] and is not constant. */
START_TEST(backoff_real_random_within_bounds)
{
    struct retry_policy p;
    retry_policy_init(&p);
    for (int idx = 0; idx < 10; idx++) {
        long ceiling = 25L << idx;
        if (ceiling > 2000)
            ceiling = 2000;
        long lo = ceiling, hi = 0;
        for (int i = 0; i < 2000; i++) {
            long d = retry_backoff_ms(&p, idx);
            ck_assert(d >= 0 && d <= ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* 2000 uniform draws cover the range's ends to within 10%. */
        ck_assert_int_le(lo, ceiling / 10);
        ck_assert_int_ge(hi, ceiling - ceiling / 10);
    }
    ck_assert(retry_random_default(NULL) != retry_random_default(NULL));
}
END_TEST

START_TEST(decide_not_retryable_and_exhausted)
{
    struct fake f = {.now_ms = 1000, .randoms = {7}, .random_count = 1};
    struct retry_policy p;
    fake_policy(&p, &f);
    long delay = -1;
    ck_assert_int_eq(retry_decide(&p, 1, 0, 0, &delay), RETRY_NOT_RETRYABLE);
    ck_assert_int_eq(delay, 0);
    ck_assert_int_eq(f.random_next, 0);
    ck_assert_int_eq(retry_decide(&p, 1, 1, 0, &delay), RETRY_AGAIN);
    ck_assert_int_eq(delay, 7);
    ck_assert_int_eq(retry_decide(&p, 3, 1, 0, &delay), RETRY_AGAIN);
    ck_assert_int_eq(retry_decide(&p, 4, 1, 0, &delay), RETRY_EXHAUSTED);
    ck_assert_int_eq(delay, 0);
    ck_assert_str_eq(retry_decision_str(RETRY_DEADLINE), "deadline");
    ck_assert_str_eq(retry_decision_str(RETRY_EXHAUSTED), "attempts exhausted");
}
END_TEST

/* Never sleep into deadline - margin: give up at once instead. */
START_TEST(decide_deadline_clamp)
{
    struct fake f = {.now_ms = 10000, .randoms = {0}, .random_count = 1};
    struct retry_policy p;
    fake_policy(&p, &f);
    retry_policy_set(&p, 1000, 5000, 10);
    p.margin_ms = 100;
    long delay = -1;

    f.randoms[0] = 500; /* delay 500: 10000 + 500 + 100 < 10700 */
    ck_assert_int_eq(retry_decide(&p, 1, 1, 10700, &delay), RETRY_AGAIN);
    ck_assert_int_eq(delay, 500);

    /* 10000 + 500 + 100 == 10600: nothing left for the attempt. */
    ck_assert_int_eq(retry_decide(&p, 1, 1, 10600, &delay), RETRY_DEADLINE);
    ck_assert_int_eq(delay, 0);

    /* Already past the deadline. */
    f.randoms[0] = 0;
    ck_assert_int_eq(retry_decide(&p, 1, 1, 9000, &delay), RETRY_DEADLINE);

    /* No deadline: any delay goes. */
    f.randoms[0] = 1000;
    ck_assert_int_eq(retry_decide(&p, 1, 1, 0, &delay), RETRY_AGAIN);
    ck_assert_int_eq(delay, 1000);
}
END_TEST

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/*
 * A whole loop on the fake clock with the longest sleeps full jitter can
 * draw (one less than a common multiple of every ceiling + 1): the sleeps
 * never pass deadline - margin, and the loop stops for the deadline.
 */
START_TEST(loop_total_sleep_respects_deadline)
{
    static const uint64_t ceilings[] = {100, 200, 400, 800, 1600, 2000};
    uint64_t m = 1;
    for (size_t i = 0; i < sizeof(ceilings) / sizeof(ceilings[0]); i++)
        m = m / gcd(m, ceilings[i] + 1) * (ceilings[i] + 1);
    struct fake f = {.now_ms = 50000, .randoms = {m - 1}, .random_count = 1};
    struct retry_policy p;
    fake_policy(&p, &f);
    retry_policy_set(&p, 100, 2000, 20);
    p.margin_ms = 200;
    int64_t deadline = f.now_ms + 3000;
    int attempts = 0;
    enum retry_decision d;
    long delay;
    for (;;) {
        attempts++;
        d = retry_decide(&p, attempts, 1, deadline, &delay);
        if (d != RETRY_AGAIN)
            break;
        retry_sleep(&p, delay);
        ck_assert_int_lt(f.now_ms, deadline - p.margin_ms);
    }
    ck_assert_int_eq(d, RETRY_DEADLINE);
    /* 100 + 200 + 400 + 800 = 1500 fit in 2800; 1600 more does not. */
    ck_assert_int_eq(attempts, 5);
    ck_assert_int_eq(f.slept_ms, 1500);
}
END_TEST

/* Every retry reaches the sleep hook, a zero or negative delay as 0. */
START_TEST(sleep_hook_sees_every_backoff)
{
    struct fake f = {.randoms = {0}, .random_count = 1};
    struct retry_policy p;
    fake_policy(&p, &f);
    retry_sleep(&p, 0);
    retry_sleep(&p, -7);
    retry_sleep(&p, 3);
    ck_assert_int_eq(f.sleep_calls, 3);
    ck_assert_int_eq(f.slept_ms, 3);
}
END_TEST

START_TEST(real_clock_and_sleep)
{
    struct retry_policy p;
    retry_policy_init(&p);
    int64_t t0 = retry_now_ms(&p);
    ck_assert_int_gt(t0, 1600000000000LL); /* after 2020: epoch ms */
    retry_sleep(&p, 20);
    retry_sleep(&p, -5);
    int64_t t1 = retry_now_ms(&p);
    ck_assert_int_ge(t1 - t0, 19);
    ck_assert_int_lt(t1 - t0, 2000);
}
END_TEST

struct class_row {
    const char *name;
    enum result r;
    int status;
    const char *type;
    int retryable;
};

static const struct class_row class_rows[] = {
    {"ok", RESULT_OK, 200, NULL, 0},
    {"refused", RESULT_TRANSPORT, 0, "HttpTransport", 1},
    {"timeout", RESULT_TIMEOUT, 0, NULL, 1},
    {"truncated 200", RESULT_TRANSPORT, 200, "", 1},
    {"crc mismatch", RESULT_TRANSPORT, 200, "CRC32Mismatch", 1},
    {"too large", RESULT_TOO_LARGE, 200, NULL, 0},
    {"500 bare", RESULT_SERVICE_ERROR, 500, "HttpError", 1},
    {"502 bare", RESULT_SERVICE_ERROR, 502, "", 1},
    {"503 bare", RESULT_SERVICE_ERROR, 503, NULL, 1},
    {"429 bare", RESULT_THROTTLED, 429, "HttpError", 1},
    {"400 bare", RESULT_SERVICE_ERROR, 400, "HttpError", 0},
    {"404 bare", RESULT_SERVICE_ERROR, 404, NULL, 0},
    {"InternalServerError", RESULT_SERVICE_ERROR, 500, "InternalServerError",
     1},
    {"ServiceUnavailable", RESULT_SERVICE_ERROR, 503, "ServiceUnavailable", 1},
    {"ProvisionedThroughputExceeded", RESULT_THROTTLED, 400,
     "ProvisionedThroughputExceededException", 1},
    {"ThrottlingException", RESULT_THROTTLED, 400, "ThrottlingException", 1},
    {"RequestLimitExceeded", RESULT_THROTTLED, 400, "RequestLimitExceeded", 1},
    {"TooManyRequests", RESULT_THROTTLED, 429, "TooManyRequestsException", 1},
    {"LimitExceeded", RESULT_THROTTLED, 400, "LimitExceededException", 1},
    {"TransactionConflict", RESULT_SERVICE_ERROR, 400,
     "TransactionConflictException", 1},
    {"TransactionInProgress", RESULT_SERVICE_ERROR, 400,
     "TransactionInProgressException", 1},
    {"ConditionalCheckFailed", RESULT_CONDITION_FAILED, 400,
     "ConditionalCheckFailedException", 0},
    {"TransactionCanceled", RESULT_CONDITION_FAILED, 400,
     "TransactionCanceledException", 0},
    {"Validation", RESULT_INVALID_INPUT, 400, "ValidationException", 0},
    {"Serialization", RESULT_INVALID_INPUT, 400, "SerializationException", 0},
    {"ResourceNotFound", RESULT_NOT_FOUND, 400, "ResourceNotFoundException", 0},
    {"ResourceInUse", RESULT_SERVICE_ERROR, 400, "ResourceInUseException", 0},
    {"AccessDenied", RESULT_SERVICE_ERROR, 400, "AccessDeniedException", 0},
    {"UnrecognizedClient", RESULT_SERVICE_ERROR, 400,
     "UnrecognizedClientException", 0},
    {"ItemCollectionSizeLimit", RESULT_SERVICE_ERROR, 400,
     "ItemCollectionSizeLimitExceededException", 0},
    {"MissingAuthToken", RESULT_SERVICE_ERROR, 403,
     "MissingAuthenticationTokenException", 0},
    {"final type wins over 5xx", RESULT_CONDITION_FAILED, 500,
     "ConditionalCheckFailedException", 0},
    {"unknown 400 type", RESULT_SERVICE_ERROR, 400, "SomethingNewException", 0},
    {"unknown 500 type", RESULT_SERVICE_ERROR, 500, "SomethingNewException", 1},
};

START_TEST(classifier_table)
{
    const struct class_row *row = &class_rows[_i];
    ck_assert_msg(retry_is_retryable(row->r, row->status, row->type) ==
                      row->retryable,
                  "%s: want retryable=%d", row->name, row->retryable);
}
END_TEST

START_TEST(throttling_types)
{
    ck_assert(
        retry_is_throttling_type("ProvisionedThroughputExceededException"));
    ck_assert(retry_is_throttling_type("ThrottlingException"));
    ck_assert(retry_is_throttling_type("RequestLimitExceeded"));
    ck_assert(!retry_is_throttling_type("InternalServerError"));
    ck_assert(!retry_is_throttling_type("ConditionalCheckFailedException"));
    ck_assert(!retry_is_throttling_type(""));
    ck_assert(!retry_is_throttling_type(NULL));
    /* Names are exact: the namespace must have been stripped already. */
    ck_assert(!retry_is_throttling_type(
        "com.amazon.coral.availability#ThrottlingException"));
}
END_TEST

Suite *retry_suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("backoff");
    tcase_add_test(tc, defaults_are_the_sdks);
    tcase_add_test(tc, backoff_ceiling_doubles_to_cap);
    tcase_add_test(tc, backoff_zero_base_never_sleeps);
    tcase_add_test(tc, backoff_real_random_within_bounds);
    tcase_add_test(tc, sleep_hook_sees_every_backoff);
    tcase_add_test(tc, real_clock_and_sleep);
    suite_add_tcase(s, tc);

    tc = tcase_create("decide");
    tcase_add_test(tc, decide_not_retryable_and_exhausted);
    tcase_add_test(tc, decide_deadline_clamp);
    tcase_add_test(tc, loop_total_sleep_respects_deadline);
    suite_add_tcase(s, tc);

    tc = tcase_create("classify");
    tcase_add_loop_test(tc, classifier_table, 0,
                        (int)(sizeof(class_rows) / sizeof(class_rows[0])));
    tcase_add_test(tc, throttling_types);
    suite_add_tcase(s, tc);
    return s;
}
