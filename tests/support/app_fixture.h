/* A whole `struct app` against DynamoDB Local, for handler tests. */
#ifndef STREAMER_TEST_APP_FIXTURE_H
#define STREAMER_TEST_APP_FIXTURE_H

#include <stdint.h>

#include "app.h"

#define APP_FIXTURE_MAX_SETTINGS 16

/*
 * The settings the app is built from: table names unique to this test
 * (made by app_fixture_init), the DynamoDB Local endpoint, fake
 * credentials, and whatever the test adds with app_fixture_set() before
 * app_fixture_start().
 */
struct app_fixture {
    struct app app;
    char connections[96];
    char requests[96];
    char subscriptions[96];
    const char *names[APP_FIXTURE_MAX_SETTINGS];
    char *values[APP_FIXTURE_MAX_SETTINGS];
    int count;
    int started;
};

/* Names the tables and sets the defaults; creates nothing yet. */
void app_fixture_init(struct app_fixture *f);

/* Sets (or replaces) a setting; `value` is copied, NULL removes it. */
void app_fixture_set(struct app_fixture *f, const char *name,
                     const char *value);

/*
 * Builds the app through app_init() from the settings and creates the
 * three tables. Fails the test (ck_assert) when either does not work.
 */
void app_fixture_start(struct app_fixture *f);

/* Deletes the tables, cleans the app up, frees the settings. */
void app_fixture_stop(struct app_fixture *f);

/* now + 30 s, in epoch ms: a deadline for calls in tests. */
int64_t app_fixture_deadline(void);

#endif
