/* What every handler shares for the life of the process. */
#ifndef STREAMER_APP_H
#define STREAMER_APP_H

#include <stdint.h>

#include "aws_env.h"
#include "config.h"
#include "ddb.h"
#include "fanout.h"
#include "jwt.h"
#include "mgmt.h"
#include "result.h"
#include "store.h"

/*
 * Built once at init and reused by every invocation: configuration, the
 * DynamoDB client (one keep-alive connection), the stores, the
 * Management API client and the JWT verifier. Nothing here connects
 * anywhere: the first request does, so init stays cheap.
 */
struct app {
    struct config cfg;
    struct aws_env_credentials creds;
    struct ddb *ddb;
    struct store store;
    struct mgmt *mgmt;
    struct fanout *fanout;    /* concurrent pushes (runtime/fanout.h) */
    struct jwt_verifier *jwt; /* NULL without JWT_PUBLIC_KEY */
    int64_t (*now_ms)(void);
};

/*
 * Reads the configuration and builds the clients through `get` (getenv
 * when NULL). RESULT_CONFIG naming the setting (err->field) when one is
 * missing or invalid; then nothing is left allocated.
 */
enum result app_init(struct app *a, config_get_fn get,
                     struct error_info *err) WARN_UNUSED;
/* Frees everything app_init() built (the credentials wiped); `a` may be
 * initialised again. Cannot fail. */
void app_cleanup(struct app *a);

#endif
