/* json_parse() against cJSON's own parser, for tests and the fuzzer. */
#include "json_diff.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"

static const cJSON *last_of(const cJSON *n)
{
    while (n->next)
        n = n->next;
    return n;
}

/* Two trees node for node; the path of the first difference in `why`. */
static int same_tree(const cJSON *a, const cJSON *b, const char *path,
                     char *why, size_t why_len)
{
    char sub[256];
    size_t i = 0;
    for (; a && b; a = a->next, b = b->next, i++) {
        snprintf(sub, sizeof(sub), "%.200s/%zu", path, i);
        const char *bad = NULL;
        if (a->type != b->type)
            bad = "type";
        else if (!a->string != !b->string ||
                 (a->string && strcmp(a->string, b->string) != 0))
            bad = "name";
        else if (!a->valuestring != !b->valuestring ||
                 (a->valuestring && strcmp(a->valuestring, b->valuestring)))
            bad = "string value";
        else if (a->valueint != b->valueint)
            bad = "valueint";
        else if (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) &&
                 !(isnan(a->valuedouble) && isnan(b->valuedouble)))
            bad = "valuedouble";
        else if (!a->child != !b->child)
            bad = "children";
        else if (a->child && (a->child->prev != last_of(a->child) ||
                              b->child->prev != last_of(b->child)))
            bad = "a first child's prev link (cJSON's: the last child)";
        if (bad) {
            snprintf(why, why_len, "%s differs at %s", bad, sub);
            return 0;
        }
        if (a->child && !same_tree(a->child, b->child, sub, why, why_len))
            return 0;
        if (a->next && a->next->prev != a) {
            snprintf(why, why_len, "a broken prev link after %s", sub);
            return 0;
        }
    }
    if (a || b) {
        snprintf(why, why_len, "a different count of nodes in %s", path);
        return 0;
    }
    return 1;
}

int json_diff(const char *text, size_t len, int require_null_terminated,
              char *why, size_t why_len)
{
    const char *end_ours = NULL, *end_cjson = NULL;
    cJSON *ours = json_parse(text, len, &end_ours, require_null_terminated);
    cJSON *theirs = cJSON_ParseWithLengthOpts(text, len, &end_cjson,
                                              require_null_terminated);
    int rc = 0;
    if (!ours != !theirs) {
        snprintf(why, why_len, "json_parse %s what cJSON %s",
                 ours ? "accepts" : "refuses", theirs ? "accepts" : "refuses");
        rc = -1;
    } else if (ours && end_ours != end_cjson) {
        snprintf(why, why_len, "the end: json_parse at %td, cJSON at %td",
                 end_ours - text, end_cjson - text);
        rc = -1;
    } else if (ours && !same_tree(ours, theirs, "", why, why_len)) {
        rc = -1;
    }
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    return rc;
}

int json_sample_events(void (*each)(const char *text, size_t len))
{
    const char *root = getenv("STREAMER_ROOT");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/deploy/events", root ? root : ".");
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int seen = 0;
    struct dirent *e;
    while (seen >= 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        static char text[65536];
        FILE *f = fopen(path, "rb");
        size_t len = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
        if (!f || ferror(f) || !feof(f)) {
            seen = -1; /* unreadable, or too big for the buffer */
        } else {
            text[len] = '\0';
            each(text, len);
            seen++;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    return seen;
}
