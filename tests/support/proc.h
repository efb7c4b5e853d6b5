/* Child processes for tests: spawn with an environment, wait, kill. */
#ifndef STREAMER_TEST_PROC_H
#define STREAMER_TEST_PROC_H

#include <sys/types.h>

/*
 * Starts `argv[0]` with exactly the environment `envp` (NULL-terminated
 * "NAME=value" strings); stdout and stderr go to `out_path` when given.
 * The child is killed if the test process dies (PR_SET_PDEATHSIG).
 * Returns the pid, or -1.
 */
pid_t proc_spawn(char *const argv[], char *const envp[], const char *out_path);

/*
 * Waits up to `timeout_ms` for `pid`; kills it (SIGKILL) when the time
 * runs out. Returns its exit status (0-255), 128+signal when it was
 * killed by a signal, or -1 when it had to be killed for the timeout.
 */
int proc_wait(pid_t pid, int timeout_ms);

/* Reads a whole file into a malloc'd NUL-terminated string (NULL if none). */
char *proc_read_file(const char *path);

#endif
