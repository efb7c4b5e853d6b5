/* Commands from the environment split into argv vectors. */
#ifndef STREAMER_BENCH_WORDS_H
#define STREAMER_BENCH_WORDS_H

/*
 * Splits `cmd` on blanks (spaces, tabs) into a NULL-terminated vector of
 * new strings, at most 31 words. Never NULL (aborts on exhaustion); free
 * with words_free().
 */
char **words_split(const char *cmd);

/* Frees a words_split() vector and its strings; NULL is fine. */
void words_free(char **v);

#endif
