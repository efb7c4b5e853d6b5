/* Wall-clock time in epoch milliseconds and RFC 3339 text. */
#ifndef STREAMER_CLOCK_H
#define STREAMER_CLOCK_H

#include <stdint.h>

/* "2026-11-24T10:00:00.123Z": 24 characters and the NUL. */
#define CLOCK_RFC3339_SIZE 25

/* Epoch milliseconds from the real-time clock. */
int64_t clock_now_ms(void);

/*
 * Writes `ms` as RFC 3339 UTC with milliseconds, which sorts as text
 * (docs/data-model.md). `out` holds CLOCK_RFC3339_SIZE bytes.
 */
void clock_rfc3339(int64_t ms, char out[CLOCK_RFC3339_SIZE]);

#endif
