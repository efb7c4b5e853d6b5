/* A whole `struct app` against DynamoDB Local, for handler tests. */
#include "app_fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ddb_local.h"
#include "tables.h"

/* app_init() reads settings through a getenv-like function without a
 * context pointer, so the fixture being built is kept here. */
static struct app_fixture *current;

static const char *fixture_get(const char *name)
{
    for (int i = 0; current && i < current->count; i++)
        if (strcmp(current->names[i], name) == 0)
            return current->values[i];
    return NULL;
}

int64_t app_fixture_deadline(void)
{
    return clock_now_ms() + 30000;
}

void app_fixture_set(struct app_fixture *f, const char *name, const char *value)
{
    for (int i = 0; i < f->count; i++) {
        if (strcmp(f->names[i], name) == 0) {
            free(f->values[i]);
            if (value) {
                f->values[i] = strdup(value);
            } else {
                f->count--;
                f->names[i] = f->names[f->count];
                f->values[i] = f->values[f->count];
            }
            return;
        }
    }
    if (!value)
        return;
    ck_assert_int_lt(f->count, APP_FIXTURE_MAX_SETTINGS);
    f->names[f->count] = name;
    f->values[f->count] = strdup(value);
    f->count++;
}

void app_fixture_init(struct app_fixture *f)
{
    memset(f, 0, sizeof(*f));
    ddb_local_table_name(f->connections, sizeof(f->connections), "conn");
    ddb_local_table_name(f->requests, sizeof(f->requests), "req");
    ddb_local_table_name(f->subscriptions, sizeof(f->subscriptions), "subs");
    const char *endpoint = ddb_local_endpoint();
    ck_assert_msg(endpoint != NULL, "DynamoDB Local is not running");
    app_fixture_set(f, "CONNECTIONS_TABLE", f->connections);
    app_fixture_set(f, "REQUESTS_TABLE", f->requests);
    app_fixture_set(f, "SUBSCRIPTIONS_TABLE", f->subscriptions);
    app_fixture_set(f, "AWS_REGION", "us-east-1");
    app_fixture_set(f, "AWS_ACCESS_KEY_ID", "AKIDLOCAL");
    app_fixture_set(f, "AWS_SECRET_ACCESS_KEY", "local/secret");
    app_fixture_set(f, "AWS_ENDPOINT_URL_DYNAMODB", endpoint);
}

void app_fixture_start(struct app_fixture *f)
{
    struct error_info err;
    memset(&err, 0, sizeof(err));
    current = f;
    enum result r = app_init(&f->app, fixture_get, &err);
    current = NULL;
    ck_assert_msg(r == RESULT_OK, "app_init: %s: %s %s", result_str(r),
                  err.field, err.message);
    f->started = 1;
    r = tables_create_all(&f->app.store, app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "tables_create_all: %s: %s %s", result_str(r),
                  err.type, err.message);
}

void app_fixture_stop(struct app_fixture *f)
{
    if (f->started) {
        struct error_info err;
        enum result r =
            tables_delete_all(&f->app.store, app_fixture_deadline(), &err);
        app_cleanup(&f->app);
        f->started = 0;
        ck_assert_msg(r == RESULT_OK, "tables_delete_all: %s", err.message);
    }
    for (int i = 0; i < f->count; i++)
        free(f->values[i]);
    f->count = 0;
}
