/* Commands from the environment split into argv vectors. */
#include "words.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define MAX_WORDS 31

char **words_split(const char *cmd)
{
    char **v = xcalloc(MAX_WORDS + 1, sizeof(char *));
    char *copy = xstrdup(cmd), *save = NULL;
    int n = 0;
    for (char *w = strtok_r(copy, " \t", &save); w && n < MAX_WORDS;
         w = strtok_r(NULL, " \t", &save))
        v[n++] = xstrdup(w);
    free(copy);
    return v;
}

void words_free(char **v)
{
    if (!v)
        return;
    for (int i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}
