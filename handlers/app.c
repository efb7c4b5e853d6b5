/* What every handler shares for the life of the process. */
#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* getenv() returns char *, so calling it through a pointer to a function
 * returning const char * is undefined behaviour (C11 6.5.2.2p9); this
 * wrapper has exactly the type of the callback. */
static const char *env_get(const char *name)
{
    return getenv(name);
}

static enum result clients(struct app *a, config_get_fn get,
                           struct error_info *err)
{
    enum result r = aws_env_credentials_load(&a->creds, get, err);
    if (r != RESULT_OK)
        return r;
    struct aws_env_endpoint ep;
    r = aws_env_endpoint_resolve("dynamodb", a->cfg.region, NULL, get, &ep,
                                 err);
    if (r != RESULT_OK)
        return r;
    struct sigv4_credentials view;
    aws_env_credentials_view(&a->creds, &view);
    struct ddb_config dc = {ep.url, a->cfg.region, &view};
    if ((r = ddb_new(&dc, &a->ddb, err)) != RESULT_OK)
        return r;
    store_init(&a->store, a->ddb, a->cfg.connections_table,
               a->cfg.requests_table, a->cfg.subscriptions_table);
    a->mgmt = mgmt_new(a->cfg.region, &view);
    a->fanout = fanout_new(a->cfg.region, &view, a->cfg.push_concurrency);
    if (a->cfg.jwt_public_key &&
        (r = jwt_verifier_new(a->cfg.jwt_public_key, a->cfg.jwt_issuer,
                              a->cfg.jwt_audience, &a->jwt, err)) !=
            RESULT_OK) {
        if (err)
            snprintf(err->field, sizeof(err->field), "JWT_PUBLIC_KEY");
        return r;
    }
    return RESULT_OK;
}

enum result app_init(struct app *a, config_get_fn get, struct error_info *err)
{
    memset(a, 0, sizeof(*a));
    a->now_ms = clock_now_ms;
    if (!get)
        get = env_get;
    enum result r = config_load(&a->cfg, get, err);
    if (r == RESULT_OK)
        r = clients(a, get, err);
    if (r != RESULT_OK)
        app_cleanup(a);
    return r;
}

void app_cleanup(struct app *a)
{
    jwt_verifier_free(a->jwt);
    mgmt_free(a->mgmt);
    fanout_free(a->fanout);
    if (a->ddb)
        store_cleanup(&a->store);
    ddb_free(a->ddb);
    aws_env_credentials_cleanup(&a->creds);
    config_cleanup(&a->cfg);
    memset(a, 0, sizeof(*a));
}
