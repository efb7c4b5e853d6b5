/* Capped exponential backoff with full jitter, and what to retry. */
#include "retry.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "openssl_setup.h"

const char *retry_decision_str(enum retry_decision d)
{
    switch (d) {
    case RETRY_AGAIN:
        return "again";
    case RETRY_NOT_RETRYABLE:
        return "not retryable";
    case RETRY_EXHAUSTED:
        return "attempts exhausted";
    case RETRY_DEADLINE:
        return "deadline";
    }
    return "unknown decision";
}

void retry_policy_init(struct retry_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->base_ms = RETRY_DEFAULT_BASE_MS;
    p->cap_ms = RETRY_DEFAULT_CAP_MS;
    p->max_attempts = RETRY_DEFAULT_MAX_ATTEMPTS;
    p->margin_ms = RETRY_DEFAULT_MARGIN_MS;
}

void retry_policy_set(struct retry_policy *p, long base_ms, long cap_ms,
                      int max_attempts)
{
    p->base_ms = base_ms >= 0 ? base_ms : RETRY_DEFAULT_BASE_MS;
    p->cap_ms = cap_ms > 0 ? cap_ms : RETRY_DEFAULT_CAP_MS;
    p->max_attempts =
        max_attempts > 0 ? max_attempts : RETRY_DEFAULT_MAX_ATTEMPTS;
}

int64_t retry_clock_realtime_ms(void *ctx)
{
    (void)ctx;
    return clock_now_ms();
}

/*
 * Seeds the default PRNG once per thread from the kernel's CSPRNG (through
 * OpenSSL, else getrandom). Jitter needs no secrecy, only seeds that differ
 * between the many Lambda instances that a throttle hits at once; the
 * clock and pid are the last resort.
 */
static uint64_t seed(void)
{
    uint64_t s = 0;
    openssl_setup();
    if (RAND_bytes((unsigned char *)&s, sizeof(s)) == 1)
        return s;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
        return s;
    return (uint64_t)retry_clock_realtime_ms(NULL) ^ ((uint64_t)getpid() << 32);
}

/* SplitMix64 (Steele, Lea, Flood 2014): one add and a mix per value. */
uint64_t retry_random_default(void *ctx)
{
    static _Thread_local uint64_t state;
    static _Thread_local int seeded;
    (void)ctx;
    if (!seeded) {
        state = seed();
        seeded = 1;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void retry_sleep_real(void *ctx, int64_t ms)
{
    (void)ctx;
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int64_t retry_now_ms(const struct retry_policy *p)
{
    if (p->hooks.now_ms)
        return p->hooks.now_ms(p->hooks.ctx);
    return retry_clock_realtime_ms(NULL);
}

uint64_t retry_random(const struct retry_policy *p)
{
    if (p->hooks.random_u64)
        return p->hooks.random_u64(p->hooks.ctx);
    return retry_random_default(NULL);
}

void retry_sleep(const struct retry_policy *p, int64_t ms)
{
    /* A hook sees every backoff, a zero one included, so a test can count
     * retries by its calls. */
    if (ms < 0)
        ms = 0;
    if (p->hooks.sleep_ms)
        p->hooks.sleep_ms(p->hooks.ctx, ms);
    else
        retry_sleep_real(NULL, ms);
}

long retry_backoff_ms(const struct retry_policy *p, int retry_index)
{
    long cap = p->cap_ms > 0 ? p->cap_ms : 0;
    long ceiling = p->base_ms > 0 ? p->base_ms : 0;
    /* Doubling stops at the cap, so the shift can never overflow. */
    for (int i = 0; i < retry_index && ceiling < cap; i++)
        ceiling *= 2;
    if (ceiling > cap)
        ceiling = cap;
    uint64_t r = retry_random(p);
    return (long)(r % ((uint64_t)ceiling + 1));
}

enum retry_decision retry_decide(const struct retry_policy *p,
                                 int attempts_made, int retryable,
                                 int64_t deadline_ms, long *delay_ms)
{
    *delay_ms = 0;
    if (!retryable)
        return RETRY_NOT_RETRYABLE;
    if (attempts_made >= p->max_attempts)
        return RETRY_EXHAUSTED;
    long delay = retry_backoff_ms(p, attempts_made > 0 ? attempts_made - 1 : 0);
    /* The deadline clamp: after the sleep there must still be time for
     * the attempt itself, before the margin the caller keeps to report. */
    if (deadline_ms > 0 &&
        retry_now_ms(p) + delay + p->margin_ms >= deadline_ms)
        return RETRY_DEADLINE;
    *delay_ms = delay;
    return RETRY_AGAIN;
}

static int in_list(const char *type, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(type, list[i]) == 0)
            return 1;
    return 0;
}

/*
 * DynamoDB Developer Guide, "Error handling with DynamoDB": the 400 errors
 * marked "OK to retry? Yes" are throttling; the AWS SDKs' standard retry
 * mode treats the same names (and a few other services') as throttling.
 */
static const char *const throttling_types[] = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "BandwidthLimitExceeded",
    "SlowDown",
    NULL,
};

/*
 * Transient faults on the server's side (DynamoDB: InternalServerError and
 * ServiceUnavailable are 5xx, "OK to retry? Yes"); a transaction that met
 * another in flight (DynamoDB Developer Guide, "Transaction conflict
 * handling": TransactionConflictException, and TransactionInProgress for
 * an idempotent retry still running) may succeed if sent again.
 */
static const char *const transient_types[] = {
    "InternalServerError",
    "InternalServerErrorException",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionConflictException",
    "TransactionInProgressException",
    NULL,
};

/*
 * Errors that sending the same request again cannot fix (DynamoDB: "OK to
 * retry? No"). ItemCollectionSizeLimitExceededException is listed as
 * retryable there, but it only clears once items are deleted, so no
 * backoff of milliseconds helps; the SDKs do not retry it either.
 */
static const char *const final_types[] = {
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
    "ValidationException",
    "SerializationException",
    "ResourceNotFoundException",
    "ResourceInUseException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "ItemCollectionSizeLimitExceededException",
    "DuplicateItemException",
    "IdempotentParameterMismatchException",
    NULL,
};

int retry_is_throttling_type(const char *type)
{
    return type && in_list(type, throttling_types);
}

int retry_is_retryable(enum result r, int http_status, const char *type)
{
    if (r == RESULT_OK)
        return 0;
    if (type && *type) {
        if (in_list(type, final_types))
            return 0;
        if (in_list(type, throttling_types) || in_list(type, transient_types))
            return 1;
    }
    /* A response cut short or failing its checksum is a transport fault
     * even though a status line arrived. */
    if (r == RESULT_TRANSPORT || r == RESULT_TIMEOUT)
        return 1;
    return http_status == 429 || (http_status >= 500 && http_status <= 599);
}
