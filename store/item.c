/* DynamoDB items: building AttributeValues, reading and setting attributes. */
#include "item_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "text.h"
#include "xmalloc.h"

cJSON *item_wrap(const char *type, cJSON *value)
{
    cJSON *av = xjson(cJSON_CreateObject());
    xjson_add(av, type, value);
    return av;
}

cJSON *item_av_s(const char *s)
{
    return item_wrap("S", xjson(cJSON_CreateString(s)));
}

cJSON *item_av_i64(int64_t v)
{
    char text[21];
    text_i64(text, v);
    return item_wrap("N", xjson(cJSON_CreateString(text)));
}

cJSON *item_av_bool(bool v)
{
    return item_wrap("BOOL", xjson(cJSON_CreateBool(v)));
}

cJSON *item_av_null(void)
{
    return item_wrap("NULL", xjson(cJSON_CreateTrue()));
}

cJSON *item_av_m(cJSON *map)
{
    return item_wrap("M", map ? map : xjson(cJSON_CreateObject()));
}

cJSON *item_av_l(cJSON *list)
{
    return item_wrap("L", list ? list : xjson(cJSON_CreateArray()));
}

cJSON *item_av_b(const void *bytes, size_t len)
{
    char *text = base64_encode(bytes, len, BASE64_STD, NULL);
    cJSON *av = item_wrap("B", xjson(cJSON_CreateString(text)));
    free(text);
    return av;
}

enum result item_av_n(const char *text, const char *field, cJSON **out,
                      struct error_info *err)
{
    struct item_path p;
    struct item_number n;
    item_path_init(&p, field);
    if (!text)
        return item_path_invalid(err, &p, "the number is missing");
    enum item_number_status s = item_number_parse(text, &n);
    if (s != ITEM_NUMBER_OK)
        return item_path_invalid(err, &p, "an N value %s",
                                 item_number_problem(s));
    *out = item_wrap("N", xjson(cJSON_CreateString(text)));
    return RESULT_OK;
}

/* Shared by item_av_ss() and item_av_ns(). */
static enum result make_set(char kind, const char *const *values, size_t count,
                            const char *field, cJSON **out,
                            struct error_info *err)
{
    enum result r = RESULT_OK;
    const char **sorted = NULL;
    cJSON *array = NULL;
    struct item_path p;
    char type[3] = {kind, 'S', '\0'};

    item_path_init(&p, field);
    if (count == 0 || !values)
        return item_path_invalid(err, &p, "a %s must not be empty", type);
    sorted = xmalloc(count * sizeof(*sorted));
    array = xjson(cJSON_CreateArray());
    for (size_t i = 0; i < count; i++) {
        size_t mark = item_path_push_index(&p, i);
        cJSON *e = values[i] ? xjson(cJSON_CreateString(values[i])) : NULL;
        r = e ? item_valid_scalar(kind, e, &p, err)
              : item_path_invalid(err, &p, "a %s value is NULL", type);
        item_path_pop(&p, mark);
        if (r != RESULT_OK) {
            cJSON_Delete(e);
            goto done;
        }
        xjson_append(array, e);
        sorted[i] = values[i];
    }
    r = item_valid_unique(kind, sorted, count, &p, err);
    if (r != RESULT_OK)
        goto done;
    *out = item_wrap(type, array);
    array = NULL;
done:
    cJSON_Delete(array);
    free(sorted);
    return r;
}

enum result item_av_ss(const char *const *values, size_t count,
                       const char *field, cJSON **out, struct error_info *err)
{
    return make_set('S', values, count, field, out, err);
}

enum result item_av_ns(const char *const *values, size_t count,
                       const char *field, cJSON **out, struct error_info *err)
{
    return make_set('N', values, count, field, out, err);
}

cJSON *item_new(void)
{
    return xjson(cJSON_CreateObject());
}

const cJSON *item_get_av(const cJSON *item, const char *name)
{
    if (!cJSON_IsObject(item) || !name)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(item, name);
}

/* The value under type key `type` of attribute `name`, or NULL. */
static const cJSON *typed(const cJSON *item, const char *name, const char *type)
{
    const cJSON *av = item_get_av(item, name);
    if (!cJSON_IsObject(av))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(av, type);
}

const char *item_get_s(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "S");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *item_get_n(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "N");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *item_get_m(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "M");
    return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *item_get_l(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "L");
    return cJSON_IsArray(v) ? v : NULL;
}

const cJSON *item_get_ss(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "SS");
    return cJSON_IsArray(v) ? v : NULL;
}

const cJSON *item_get_ns(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "NS");
    return cJSON_IsArray(v) ? v : NULL;
}

enum result item_get_i64(const cJSON *item, const char *name, int64_t *out)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    return item_number_i64(item_get_n(item, name), out);
}

enum result item_get_double(const cJSON *item, const char *name, double *out)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    const char *text = item_get_n(item, name);
    if (!item_number_valid(text))
        return RESULT_INVALID_INPUT;
    *out = strtod(text, NULL);
    return RESULT_OK;
}

enum result item_get_bool(const cJSON *item, const char *name, bool *out)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    const cJSON *v = typed(item, name, "BOOL");
    if (!cJSON_IsBool(v))
        return RESULT_INVALID_INPUT;
    *out = cJSON_IsTrue(v);
    return RESULT_OK;
}

enum result item_get_b(const cJSON *item, const char *name, unsigned char **out,
                       size_t *len)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    const cJSON *v = typed(item, name, "B");
    unsigned char *bytes =
        cJSON_IsString(v) && v->valuestring
            ? base64_decode(v->valuestring, strlen(v->valuestring), BASE64_STD,
                            len)
            : NULL;
    if (!bytes)
        return RESULT_INVALID_INPUT;
    *out = bytes;
    return RESULT_OK;
}

void item_set(cJSON *item, const char *name, cJSON *av)
{
    bool ok;
    if (cJSON_GetObjectItemCaseSensitive(item, name))
        ok = cJSON_ReplaceItemInObjectCaseSensitive(item, name, av);
    else
        ok = cJSON_AddItemToObject(item, name, av);
    if (!ok) {
        fprintf(stderr, "streamer: out of memory building JSON\n");
        abort();
    }
}

void item_set_s(cJSON *item, const char *name, const char *s)
{
    item_set(item, name, item_av_s(s));
}

void item_set_i64(cJSON *item, const char *name, int64_t v)
{
    item_set(item, name, item_av_i64(v));
}

void item_set_bool(cJSON *item, const char *name, bool v)
{
    item_set(item, name, item_av_bool(v));
}

void item_set_null(cJSON *item, const char *name)
{
    item_set(item, name, item_av_null());
}

void item_set_m(cJSON *item, const char *name, cJSON *map)
{
    item_set(item, name, item_av_m(map));
}

void item_set_l(cJSON *item, const char *name, cJSON *list)
{
    item_set(item, name, item_av_l(list));
}

void item_set_b(cJSON *item, const char *name, const void *bytes, size_t len)
{
    item_set(item, name, item_av_b(bytes, len));
}

enum result item_set_n(cJSON *item, const char *name, const char *text,
                       struct error_info *err)
{
    cJSON *av = NULL;
    enum result r = item_av_n(text, name, &av, err);
    if (r == RESULT_OK)
        item_set(item, name, av);
    return r;
}

enum result item_set_ss(cJSON *item, const char *name,
                        const char *const *values, size_t count,
                        struct error_info *err)
{
    cJSON *av = NULL;
    enum result r = item_av_ss(values, count, name, &av, err);
    if (r == RESULT_OK)
        item_set(item, name, av);
    return r;
}

enum result item_set_ns(cJSON *item, const char *name,
                        const char *const *values, size_t count,
                        struct error_info *err)
{
    cJSON *av = NULL;
    enum result r = item_av_ns(values, count, name, &av, err);
    if (r == RESULT_OK)
        item_set(item, name, av);
    return r;
}

void item_remove(cJSON *item, const char *name)
{
    cJSON_DeleteItemFromObjectCaseSensitive(item, name);
}
