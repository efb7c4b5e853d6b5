/* main(): init, configuration, then the runtime loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dispatch.h"
#include "json_arena.h"
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

/*
 * A write to a connection its peer has closed raises SIGPIPE, whose
 * default action kills the process. runtime/http1.c, which carries every
 * exchange of the bootstrap (pushes included), sends with MSG_NOSIGNAL,
 * TLS included (its own socket BIO). The process still ignores SIGPIPE
 * itself, first of all, so that no other write can kill it: a dropped
 * keep-alive TLS connection to AWS, or any other socket, fails the write
 * with EPIPE, which the HTTP layer reports as a transport error and
 * retries.
 */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

int main(void)
{
    struct error_info err;
    struct app app;
    int status;

    ignore_sigpipe();
    /* One thread: the event's JSON may come from the arena. */
    json_arena_enable(1);
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
    json_arena_enable(0);
    return status;
}
