/* `make run` until the local gateway lands: sample events through bootstrap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_rapi.h"
#include "proc.h"

extern char **environ;

/*
 * Serves each event file to the bootstrap through the tests' Runtime API
 * server, one warm process as on Lambda, and prints what it answered.
 * Usage: sample_run BOOTSTRAP EVENT.json...
 */
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BOOTSTRAP EVENT.json...\n", argv[0]);
        return 2;
    }
    struct fake_rapi *f = fake_rapi_start();
    if (!f)
        return 1;
    for (int i = 2; i < argc; i++) {
        char *body = proc_read_file(argv[i]);
        if (!body) {
            fprintf(stderr, "sample_run: cannot read %s\n", argv[i]);
            fake_rapi_stop(f);
            return 1;
        }
        struct fake_rapi_event ev = {.body = body};
        fake_rapi_push(f, &ev);
        free(body);
    }
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof(char *));
    char api[64];
    snprintf(api, sizeof(api), "AWS_LAMBDA_RUNTIME_API=%s",
             fake_rapi_address(f));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "AWS_LAMBDA_RUNTIME_API=", 23) != 0)
            envp[k++] = environ[i];
    envp[k++] = api;
    char *child_argv[] = {argv[1], NULL};
    pid_t pid = proc_spawn(child_argv, envp, NULL);
    int status = proc_wait(pid, 60000);
    size_t posts = fake_rapi_post_count(f);
    for (size_t i = 0; i < posts; i++) {
        const struct fake_rapi_post *p = fake_rapi_post_at(f, i);
        printf("%-12s %s  %s%s%s\n", i + 2 < (size_t)argc ? argv[i + 2] : "",
               p->kind, p->error_type ? p->error_type : "",
               p->error_type ? "  " : "", p->body);
    }
    printf("bootstrap exited with status %d after %zu answer(s)\n", status,
           posts);
    free(envp);
    fake_rapi_stop(f);
    return posts == (size_t)(argc - 2) ? 0 : 1;
}
