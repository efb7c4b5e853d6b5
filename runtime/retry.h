/* Capped exponential backoff with full jitter, and what to retry. */
#ifndef STREAMER_RETRY_H
#define STREAMER_RETRY_H

#include <stdint.h>

#include "result.h"

/*
 * The backoff follows the AWS Architecture Blog, "Exponential Backoff And
 * Jitter" (Full Jitter): before retry n (0 for the first retry) sleep a
 * uniformly random time in [0, min(cap, base * 2^n)]. The defaults are the
 * AWS SDKs' for DynamoDB: a 25 ms base and 4 attempts in all.
 */
#define RETRY_DEFAULT_BASE_MS 25L
#define RETRY_DEFAULT_CAP_MS 2000L
#define RETRY_DEFAULT_MAX_ATTEMPTS 4
#define RETRY_DEFAULT_MARGIN_MS 100L

/* Milliseconds since the Unix epoch: the base of Lambda's deadline. */
typedef int64_t (*retry_clock_fn)(void *ctx);
/* 64 uniformly random bits. */
typedef uint64_t (*retry_random_fn)(void *ctx);
/* Blocks for `ms` milliseconds; called once per retry, even with 0. */
typedef void (*retry_sleep_fn)(void *ctx, int64_t ms);

/*
 * The outside world a retry loop touches, injectable so tests neither
 * sleep nor depend on chance. A NULL function means the real default
 * (retry_clock_realtime_ms, retry_random_default, retry_sleep_real); `ctx`
 * is passed to every non-default function and is borrowed.
 */
struct retry_hooks {
    retry_clock_fn now_ms;
    retry_random_fn random_u64;
    retry_sleep_fn sleep_ms;
    void *ctx;
};

/* A caller-owned policy; plain data, safe to copy. */
struct retry_policy {
    long base_ms;     /* ceiling of the first backoff; >= 0 */
    long cap_ms;      /* no backoff is longer than this; >= 0 */
    int max_attempts; /* attempts in all, the first included; >= 1 */
    long margin_ms;   /* time kept free before a deadline; >= 0 */
    struct retry_hooks hooks;
};

enum retry_decision {
    RETRY_AGAIN = 0,     /* sleep the returned delay, then try again */
    RETRY_NOT_RETRYABLE, /* the failure is final: report it now */
    RETRY_EXHAUSTED,     /* max_attempts were made */
    RETRY_DEADLINE,      /* the sleep would end past deadline - margin */
};

/* Returns a static name for `d`, e.g. "deadline"; never NULL. */
const char *retry_decision_str(enum retry_decision d);

/* Fills `p` with the defaults above and the real clock, PRNG and sleep. */
void retry_policy_init(struct retry_policy *p);

/*
 * Sets the policy's numbers; a value <= 0 selects its default, except
 * base_ms where 0 is kept (no backoff) and only < 0 selects the default.
 */
void retry_policy_set(struct retry_policy *p, long base_ms, long cap_ms,
                      int max_attempts);

/*
 * The policy's clock, PRNG and sleep (the hook, or the real default).
 * retry_sleep() treats a negative `ms` as 0 and still calls the hook.
 */
int64_t retry_now_ms(const struct retry_policy *p);
/* The policy's PRNG: 64 random bits. Cannot fail. */
uint64_t retry_random(const struct retry_policy *p);
/* The policy's sleep for `ms` (< 0 is 0). Cannot fail. */
void retry_sleep(const struct retry_policy *p, int64_t ms);

/*
 * Returns the full-jitter delay before retry `retry_index` (0 for the
 * first retry): uniform in [0, min(cap_ms, base_ms << retry_index)].
 * Draws one value from the policy's PRNG.
 */
long retry_backoff_ms(const struct retry_policy *p, int retry_index);

/*
 * Decides what follows a failed attempt, `attempts_made` (>= 1) being the
 * number made so far. On RETRY_AGAIN, `*delay_ms` is the time to sleep
 * first; otherwise it is 0. `deadline_ms` is an epoch-ms deadline, 0 for
 * none: RETRY_DEADLINE when now + delay would leave no time before
 * deadline - margin_ms, so a caller never sleeps into the time it needs to
 * report. Cannot fail.
 */
enum retry_decision retry_decide(const struct retry_policy *p,
                                 int attempts_made, int retryable,
                                 int64_t deadline_ms, long *delay_ms);

/*
 * Returns 1 when an AWS error type is throttling (the request was refused
 * for its rate and may succeed later), else 0. `type` is the part after
 * '#'; NULL is 0.
 */
int retry_is_throttling_type(const char *type);

/*
 * The classifier: returns 1 when a failed attempt may succeed if sent
 * again, else 0. `r` is the attempt's result; `http_status` is 0 when no
 * response arrived; `type` is the AWS error type or NULL/"".
 * Transport failures and timeouts, HTTP 5xx and 429, throttling types and
 * the transient types DynamoDB documents as retryable are; client errors
 * (ConditionalCheckFailedException, ValidationException, ...) are not.
 */
int retry_is_retryable(enum result r, int http_status, const char *type);

/* The real defaults, exported so a hook set may wrap them; `ctx` is
 * ignored and none can fail. clock_now_ms(), as a retry_clock_fn. */
int64_t retry_clock_realtime_ms(void *ctx);
/* A per-thread PRNG seeded from the kernel's CSPRNG. */
uint64_t retry_random_default(void *ctx);
/* nanosleep(), resumed after a signal until `ms` have passed. */
void retry_sleep_real(void *ctx, int64_t ms);

#endif
