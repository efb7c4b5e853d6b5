/* SIGPIPE is ignored: a peer that drops a TLS connection cannot kill us. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_rapi.h"
#include "proc.h"
#include "test_tls.h"

#define EVENTS 3

static const char *root(void)
{
    const char *r = getenv("STREAMER_ROOT");
    return r && *r ? r : ".";
}

static const char *bootstrap_path(void)
{
    const char *p = getenv("STREAMER_BOOTSTRAP");
    return p && *p ? p : "build/release/bootstrap";
}

/* deploy/events/message.json: an echo from a connection that DynamoDB
 * (here the TLS server answering {}) does not know. */
static char *message_event(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/deploy/events/message.json", root());
    char *s = proc_read_file(path);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

/* The signals a process ignores: the SigIgn mask of /proc/<pid>/status. */
static unsigned long long ignored_signals(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    char *status = proc_read_file(path);
    ck_assert_ptr_nonnull(status);
    const char *line = strstr(status, "\nSigIgn:");
    ck_assert_ptr_nonnull(line);
    unsigned long long mask = strtoull(line + 8, NULL, 16);
    free(status);
    return mask;
}

/*
 * The bootstrap talks to "DynamoDB" over TLS; the server answers each
 * connection's first request, keep-alive, and then drops the connection
 * while it sits idle, without a close_notify. The next event's request
 * meets the dropped connection. The process ignores SIGPIPE
 * (handlers/main.c), besides sending with MSG_NOSIGNAL, so that a write
 * to the dead connection cannot kill it. The process must serve every
 * event, ignore SIGPIPE while it runs, and end by its own exit, not by a
 * signal.
 */
START_TEST(bootstrap_survives_a_dropped_tls_connection)
{
    struct test_tls *tls = test_tls_start(1, "{}");
    ck_assert_ptr_nonnull(tls);
    struct fake_rapi *f = fake_rapi_start();
    ck_assert_ptr_nonnull(f);
    char *body = message_event();
    for (int i = 0; i < EVENTS; i++) {
        struct fake_rapi_event ev = {.body = body};
        fake_rapi_push(f, &ev);
    }
    free(body);
    /* Time to look at the process once it has served every event. */
    fake_rapi_set_idle_wait(f, 1500);

    char vars[8][512];
    snprintf(vars[0], sizeof(vars[0]), "AWS_LAMBDA_RUNTIME_API=%s",
             fake_rapi_address(f));
    snprintf(vars[1], sizeof(vars[1]), "AWS_REGION=us-east-1");
    snprintf(vars[2], sizeof(vars[2]), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE");
    snprintf(vars[3], sizeof(vars[3]), "AWS_SECRET_ACCESS_KEY=secret");
    snprintf(vars[4], sizeof(vars[4]),
             "AWS_ENDPOINT_URL_DYNAMODB=https://127.0.0.1:%d",
             test_tls_port(tls));
    snprintf(vars[5], sizeof(vars[5]), "AWS_CA_BUNDLE=%s",
             test_tls_ca_file(tls));
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(vars[6], sizeof(vars[6]), "ASAN_OPTIONS=%s", asan ? asan : "");
    char *envp[] = {vars[0], vars[1], vars[2], vars[3],
                    vars[4], vars[5], vars[6], NULL};
    char *argv[] = {(char *)bootstrap_path(), NULL};
    pid_t pid = proc_spawn(argv, envp, "/dev/null");
    ck_assert_int_gt(pid, 0);

    ck_assert_uint_eq(fake_rapi_wait_posts(f, EVENTS, 20000), EVENTS);
    unsigned long long ignored = ignored_signals(pid);
    int status = proc_wait(pid, 20000);
    ck_assert_msg(status != 128 + SIGPIPE, "the bootstrap died of SIGPIPE");
    ck_assert_msg(status >= 0 && status < 128, "exit status %d", status);
    ck_assert_msg(ignored & (1ull << (SIGPIPE - 1)),
                  "SIGPIPE is not ignored (SigIgn %llx)", ignored);
    for (size_t i = 0; i < EVENTS; i++)
        ck_assert_str_eq(fake_rapi_post_at(f, i)->kind, "response");
    /* Every request after the first met a dropped connection and had to
     * open a new one. */
    ck_assert_int_ge(test_tls_requests(tls), EVENTS);
    ck_assert_int_eq(test_tls_connections(tls), test_tls_requests(tls));
    fake_rapi_stop(f);
    test_tls_stop(tls);
}
END_TEST

Suite *sigpipe_suite(void)
{
    Suite *s = suite_create("sigpipe");
    TCase *t = tcase_create("tls");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, bootstrap_survives_a_dropped_tls_connection);
    suite_add_tcase(s, t);
    return s;
}
