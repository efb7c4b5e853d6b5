/* The test runner: gathers every suite and runs them with Check. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_local.h"

/* The suite list is generated from tests/{unit,integration}/check_*.c. */
#define UNIT(n) Suite *n##_suite(void);
#define INTEG(n) Suite *n##_suite(void);
#include "suites.h"
#undef UNIT
#undef INTEG

struct entry {
    const char *name;
    Suite *(*make)(void);
    int needs_dynamodb;
};

static const struct entry entries[] = {
#define UNIT(n) {#n, n##_suite, 0},
#define INTEG(n) {#n, n##_suite, 1},
#include "suites.h"
#undef UNIT
#undef INTEG
};

static int selected(const struct entry *e)
{
    const char *only = getenv("CK_RUN_SUITE");
    return !only || !*only || strcmp(only, e->name) == 0;
}

int main(void)
{
    SRunner *sr = NULL;
    int want_ddb = 0;
    size_t count = sizeof(entries) / sizeof(entries[0]);

    for (size_t i = 0; i < count; i++) {
        if (!selected(&entries[i]))
            continue;
        Suite *s = entries[i].make();
        if (!sr)
            sr = srunner_create(s);
        else
            srunner_add_suite(sr, s);
        want_ddb |= entries[i].needs_dynamodb;
    }
    if (!sr) {
        fprintf(stderr, "run_tests: no suite named '%s'\n",
                getenv("CK_RUN_SUITE"));
        return EXIT_FAILURE;
    }

    /* Integration suites share one DynamoDB Local for the whole run; each
     * test uses tables of its own. It is stopped on every exit path. */
    if (want_ddb && ddb_local_start() != 0) {
        srunner_free(sr);
        return EXIT_FAILURE;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    ddb_local_stop();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
