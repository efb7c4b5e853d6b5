/* The local gateway as a child process of a test: start, locate, stop. */
#include "test_gateway.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ddb_local.h"
#include "proc.h"

extern char **environ;

#define MAX_ENV 512
#define LINE_BYTES 512

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

/* `$name`, or `fallback`; a relative path is taken from $STREAMER_ROOT. */
static void resolve(const char *name, const char *fallback, char *out,
                    size_t size)
{
    const char *v = getenv(name);
    const char *root = getenv("STREAMER_ROOT");
    if (!v || !*v)
        v = fallback;
    if (v[0] != '/' && root && *root)
        snprintf(out, size, "%s/%s", root, v);
    else
        snprintf(out, size, "%s", v);
}

/* The children of this process now (of every thread), at most `max`. */
static int list_children(pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
        FILE *fp = fopen(path, "r");
        long pid;
        while (fp && n < max && fscanf(fp, "%ld", &pid) == 1)
            out[n++] = (pid_t)pid;
        if (fp)
            fclose(fp);
    }
    if (d)
        closedir(d);
    return n;
}

/* The children that were not there before the gateway started. */
static int new_children(const struct test_gateway *g, pid_t *out, int max)
{
    pid_t all[TEST_GATEWAY_MAX_CHILDREN];
    int n = list_children(all, TEST_GATEWAY_MAX_CHILDREN), k = 0;
    for (int i = 0; i < n && k < max; i++) {
        int old = 0;
        for (int j = 0; j < g->before_count; j++)
            old |= all[i] == g->before[j];
        if (!old)
            out[k++] = all[i];
    }
    return k;
}

/* This environment with `extra` "NAME=value" strings replacing or added. */
static char **make_env(const char *const *extra)
{
    char **env = calloc(MAX_ENV + 1, sizeof(*env));
    int n = 0;
    for (char **e = environ; env && *e && n < MAX_ENV; e++) {
        size_t len = strcspn(*e, "=");
        int replaced = 0;
        for (const char *const *x = extra; x && *x; x++)
            replaced |= strncmp(*x, *e, len) == 0 && (*x)[len] == '=';
        if (!replaced)
            env[n++] = *e;
    }
    for (const char *const *x = extra; env && x && *x && n < MAX_ENV; x++)
        env[n++] = (char *)*x;
    return env;
}

/* Forks and execs `argv` with stdout on `out_fd` and stderr on `log_fd`. */
static pid_t spawn(const char *const argv[], char *const envp[], int out_fd,
                   int log_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* Only async-signal-safe calls from here: the test may have threads. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    dup2(out_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execve(argv[0], (char *const *)argv, envp);
    _exit(127);
}

char *test_gateway_log_tail(const struct test_gateway *g, size_t max_bytes)
{
    char *all = proc_read_file(g->log_path);
    if (!all)
        return strdup("(no log)");
    size_t len = strlen(all);
    if (len > max_bytes)
        memmove(all, all + len - max_bytes, max_bytes + 1);
    return all;
}

/* Reads the first line of stdout into `line` within `timeout_ms`. */
static int read_ready_line(struct test_gateway *g, int timeout_ms, char *line,
                           char *err, size_t err_size)
{
    size_t len = 0;
    long until = now_ms() + timeout_ms;
    for (;;) {
        long left = until - now_ms();
        if (left <= 0) {
            say(err, err_size, "no READY line within %d ms", timeout_ms);
            return -1;
        }
        struct pollfd p = {g->stdout_fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read(g->stdout_fd, line + len, LINE_BYTES - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            say(err, err_size, "it closed stdout (exited?) before READY");
            return -1;
        }
        len += (size_t)n;
        line[len] = '\0';
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            return 0;
        }
        if (len == LINE_BYTES - 1) {
            say(err, err_size, "its first line is too long: %s", line);
            return -1;
        }
    }
}

/* "READY ws://HOST:PORT/PATH" into g->host, g->port, g->path. */
static int parse_ready(struct test_gateway *g, const char *line, char *err,
                       size_t err_size)
{
    if (sscanf(line, "READY ws://%63[^:/]:%d%127s", g->host, &g->port,
               g->path) != 3 ||
        g->path[0] != '/' || g->port <= 0 || g->port > 65535) {
        say(err, err_size, "not a READY line: '%s'", line);
        return -1;
    }
    return 0;
}

int test_gateway_start(struct test_gateway *g,
                       const struct test_gateway_options *o, char *err,
                       size_t err_size)
{
    static int started; /* numbers the logs of one process */
    char exe[1024], bootstrap[1024], build[512], timeout[32];
    const char *endpoint = ddb_local_endpoint();
    int pipe_fds[2] = {-1, -1}, log_fd = -1, rc = -1;
    char **env = NULL;

    memset(g, 0, sizeof(*g));
    g->stdout_fd = -1;
    if (!endpoint) {
        say(err, err_size, "DynamoDB Local is not running");
        return -1;
    }
    resolve("STREAMER_BUILD", "build/release", build, sizeof(build));
    snprintf(exe, sizeof(exe), "%s/gateway", build);
    resolve("STREAMER_BOOTSTRAP", "build/release/bootstrap", bootstrap,
            sizeof(bootstrap));
    if (access(exe, X_OK) != 0 || access(bootstrap, X_OK) != 0) {
        say(err, err_size, "%s or %s is not an executable (make them first)",
            exe, bootstrap);
        return -1;
    }
    snprintf(g->log_path, sizeof(g->log_path), "%s/e2e-logs", build);
    mkdir(g->log_path, 0700);
    snprintf(g->log_path, sizeof(g->log_path), "%s/e2e-logs/gateway-%ld-%d.log",
             build, (long)getpid(), ++started);
    snprintf(timeout, sizeof(timeout), "%d",
             o && o->timeout_ms ? o->timeout_ms : 30000);
    const char *stage = o && o->stage ? o->stage : "prod";
    const char *argv[32] = {
        exe,       "--port",         "0",      "--bootstrap",
        bootstrap, "--stage",        stage,    "--timeout-ms",
        timeout,   "--ddb-endpoint", endpoint, "--create-tables"};
    size_t argc = 12;
    if (o && o->no_stream)
        argv[argc++] = "--no-stream";
    for (size_t i = 0; o && o->args && o->args[i] && argc < 31; i++)
        argv[argc++] = o->args[i];

    log_fd = open(g->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    env = make_env(o ? o->env : NULL);
    if (log_fd < 0 || !env || pipe2(pipe_fds, O_CLOEXEC) != 0) {
        say(err, err_size, "cannot set up %s: %s", g->log_path,
            strerror(errno));
        goto done;
    }
    /* Orphans of the gateway (its bootstrap) become ours to reap. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    g->before_count = list_children(g->before, TEST_GATEWAY_MAX_CHILDREN);
    g->pid = spawn(argv, env, pipe_fds[1], log_fd);
    if (g->pid < 0) {
        g->pid = 0;
        say(err, err_size, "fork: %s", strerror(errno));
        goto done;
    }
    g->stdout_fd = pipe_fds[0];
    pipe_fds[0] = -1;
    char line[LINE_BYTES];
    int ready_ms = o && o->ready_timeout_ms ? o->ready_timeout_ms : 60000;
    if (read_ready_line(g, ready_ms, line, err, err_size) == 0 &&
        parse_ready(g, line, err, err_size) == 0)
        rc = 0;
done:
    if (pipe_fds[0] >= 0)
        close(pipe_fds[0]);
    if (pipe_fds[1] >= 0)
        close(pipe_fds[1]);
    if (log_fd >= 0)
        close(log_fd);
    free(env);
    if (rc != 0 && g->pid) {
        size_t used = strlen(err);
        char *tail = test_gateway_log_tail(g, 2000);
        snprintf(err + used, err_size - used, "\n--- %s ---\n%s", g->log_path,
                 tail);
        free(tail);
        test_gateway_stop(g, 5000, NULL);
    }
    return rc;
}

/* Waits up to `timeout_ms` for the gateway's leftovers, then kills them. */
static int reap_leftovers(struct test_gateway *g, int timeout_ms)
{
    pid_t kids[TEST_GATEWAY_MAX_CHILDREN];
    long until = now_ms() + timeout_ms;
    int n;
    while ((n = new_children(g, kids, TEST_GATEWAY_MAX_CHILDREN)) > 0) {
        int running = 0;
        for (int i = 0; i < n; i++)
            running += waitpid(kids[i], NULL, WNOHANG) == 0;
        if (running == 0)
            continue;
        if (now_ms() >= until) {
            for (int i = 0; i < n; i++)
                kill(kids[i], SIGKILL);
            for (int i = 0; i < n; i++)
                waitpid(kids[i], NULL, 0);
            return running;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int test_gateway_stop(struct test_gateway *g, int timeout_ms, int *left)
{
    if (left)
        *left = 0;
    if (!g->pid)
        return 0;
    kill(g->pid, SIGTERM);
    int status = proc_wait(g->pid, timeout_ms);
    g->pid = 0;
    int stayed = reap_leftovers(g, timeout_ms);
    if (left)
        *left = stayed;
    if (g->stdout_fd >= 0)
        close(g->stdout_fd);
    g->stdout_fd = -1;
    if (status == 0 && stayed == 0)
        unlink(g->log_path);
    return status;
}
