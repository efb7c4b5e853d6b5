/* main(): init, configuration, then the runtime loop. */
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "dispatch.h"
#include "log.h"
#include "loop.h"
#include "runtime_api.h"

/*
 * "Building a custom runtime", initialization tasks: read settings, and
 * when initialization fails report it through /runtime/init/error and
 * exit. Nothing here opens a TLS connection (the Runtime API is plain
 * HTTP), so init stays within its budget.
 */
static int init_failed(struct runtime_api *api, const struct error_info *e)
{
    struct error_info perr;
    error_clear(&perr);
    log_kv(LOG_FATAL, "init failed", "errorType", "Runtime.InitError",
           "setting", e->field, "errorMessage", e->message, (char *)NULL);
    if (runtime_api_init_error(api, "Runtime.InitError", e->message, &perr) !=
        RESULT_OK)
        log_msg(LOG_ERROR, "reporting the init error failed: %s", perr.message);
    return EXIT_FAILURE;
}

int main(void)
{
    struct error_info err;
    struct app app;
    int status;

    error_clear(&err);
    struct runtime_api *api =
        runtime_api_new(getenv("AWS_LAMBDA_RUNTIME_API"), &err);
    if (!api) {
        /* Without the Runtime API there is no one to report to. */
        fprintf(stderr, "bootstrap: %s\n", err.message);
        return EXIT_FAILURE;
    }
    if (log_init(NULL, &err) != RESULT_OK) {
        snprintf(err.field, sizeof(err.field), "%s",
                 "AWS_LAMBDA_LOG_LEVEL/FORMAT");
        status = init_failed(api, &err);
        runtime_api_free(api);
        return status;
    }
    if (app_init(&app, NULL, &err) != RESULT_OK) {
        status = init_failed(api, &err);
        runtime_api_free(api);
        return status;
    }
    status = loop_run(api, dispatch_handle, &app, NULL);
    app_cleanup(&app);
    runtime_api_free(api);
    return status;
}
