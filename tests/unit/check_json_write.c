/* json_write() against cJSON_PrintUnformatted(): the same bytes, always. */
#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_diff.h"
#include "json_write.h"

/* Both printers on `item`: equal text and length, or both NULL. */
static void same_as_cjson(const cJSON *item)
{
    char *want = cJSON_PrintUnformatted(item);
    size_t len = 12345;
    char *got = json_write(item, &len);
    if (!want) {
        ck_assert_ptr_null(got);
        return;
    }
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(len, strlen(want));
    free(got);
    cJSON_free(want);
}

START_TEST(every_byte_in_values_and_names)
{
    for (int b = 1; b < 256; b++) {
        char s[8] = {'a', (char)b, 'z', (char)b, (char)b, 0};
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, s, s);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "a"),
                             cJSON_CreateString(s + 1));
        same_as_cjson(o);
        cJSON_Delete(o);
    }
    cJSON *empty = cJSON_CreateString("");
    same_as_cjson(empty);
    cJSON_Delete(empty);
}
END_TEST

START_TEST(numbers)
{
    const double values[] = {0,
                             -0.0,
                             1,
                             -1,
                             42,
                             INT_MAX,
                             INT_MIN,
                             (double)INT_MAX + 1,
                             (double)INT_MIN - 1,
                             1e15,
                             123456789012345678.0,
                             9007199254740993.0,
                             0.1,
                             1.0 / 3,
                             -2.5,
                             1e300,
                             -1e-300,
                             5e-324,
                             DBL_MAX,
                             -DBL_MAX,
                             DBL_MIN,
                             NAN,
                             INFINITY,
                             -INFINITY};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        cJSON *n = cJSON_CreateNumber(values[i]);
        same_as_cjson(n);
        cJSON_Delete(n);
    }
}
END_TEST

START_TEST(literals_raw_references_and_odd_nodes)
{
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNull());
    cJSON_AddItemToArray(a, cJSON_CreateTrue());
    cJSON_AddItemToArray(a, cJSON_CreateFalse());
    cJSON_AddItemToArray(a, cJSON_CreateRaw("{\"raw\": [1, 2]}"));
    cJSON_AddItemToArray(a, cJSON_CreateStringReference("by \"ref\""));
    cJSON_AddItemToArray(a, cJSON_CreateObject());
    cJSON_AddItemToArray(a, cJSON_CreateArray());
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObjectCS(o, "const\tname", cJSON_CreateNumber(7));
    cJSON_AddItemToArray(a, o);
    cJSON_AddItemReferenceToArray(a, o); /* the same object twice */
    cJSON *nul = cJSON_CreateString("x");
    cJSON_free(nul->valuestring);
    nul->valuestring = NULL; /* both write "" */
    cJSON_AddItemToArray(a, nul);
    same_as_cjson(a);
    cJSON_Delete(a);

    cJSON *raw = cJSON_CreateRaw("1");
    cJSON_free(raw->valuestring);
    raw->valuestring = NULL; /* both fail */
    same_as_cjson(raw);
    cJSON_Delete(raw);
    cJSON *bad = cJSON_CreateNull();
    bad->type = cJSON_Invalid;
    same_as_cjson(bad);
    cJSON_Delete(bad);
    ck_assert_ptr_null(json_write(NULL, NULL));
}
END_TEST

/* A random tree: every node type, strings of any byte but NUL. */
static cJSON *random_tree(unsigned *seed, int depth)
{
    int kind = rand_r(seed) % (depth > 4 ? 6 : 8);
    char s[40];
    size_t n = (size_t)(rand_r(seed) % 39);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(1 + rand_r(seed) % 255);
    s[n] = '\0';
    switch (kind) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(rand_r(seed) & 1);
    case 2:
        return cJSON_CreateNumber((rand_r(seed) - RAND_MAX / 2) *
                                  (rand_r(seed) & 1 ? 1.0 : 0.001));
    case 3:
        return cJSON_CreateNumber(rand_r(seed) % 1000);
    case 4:
    case 5:
        return cJSON_CreateString(s);
    case 6: {
        cJSON *a = cJSON_CreateArray();
        for (int k = rand_r(seed) % 5; k > 0; k--)
            cJSON_AddItemToArray(a, random_tree(seed, depth + 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (int k = rand_r(seed) % 5; k > 0; k--)
            cJSON_AddItemToObject(o, s, random_tree(seed, depth + 1));
        return o;
    }
    }
}

START_TEST(random_trees)
{
    unsigned seed = 20261130;
    for (int i = 0; i < 3000; i++) {
        cJSON *t = random_tree(&seed, 0);
        same_as_cjson(t);
        cJSON_Delete(t);
    }
}
END_TEST

/* A sample event, parsed and written again. */
static void write_again(const char *text, size_t len)
{
    (void)len;
    cJSON *t = cJSON_Parse(text);
    ck_assert_msg(t != NULL, "a sample event does not parse");
    same_as_cjson(t);
    cJSON_Delete(t);
}

START_TEST(sample_events)
{
    ck_assert_int_gt(json_sample_events(write_again), 3);
}
END_TEST

Suite *json_write_suite(void)
{
    Suite *s = suite_create("json_write");
    TCase *tc = tcase_create("same_as_cjson");
    tcase_add_test(tc, every_byte_in_values_and_names);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, literals_raw_references_and_odd_nodes);
    tcase_add_test(tc, random_trees);
    tcase_add_test(tc, sample_events);
    suite_add_tcase(s, tc);
    return s;
}
