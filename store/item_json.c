/* Conversion between AttributeValues and plain JSON. */
#include "item_int.h"

#include <string.h>

#include "text.h"
#include "xmalloc.h"

static enum result from_plain(const cJSON *json, int depth, struct item_path *p,
                              cJSON **out, struct error_info *err);

/* Plain object -> M (or, for an item, the bare name -> AV object). */
static enum result from_plain_object(const cJSON *json, bool top_level,
                                     int depth, struct item_path *p,
                                     cJSON **out, struct error_info *err)
{
    enum result r = RESULT_OK;
    cJSON *map = NULL;
    const char *dup = item_valid_duplicate_name(json);

    if (dup && top_level)
        return error_field(err, dup, "attribute '%.64s' appears twice", dup);
    if (dup)
        return item_path_invalid(err, p, "the object has the key '%.64s' twice",
                                 dup);
    map = xjson(cJSON_CreateObject());
    for (const cJSON *c = json->child; c; c = c->next) {
        cJSON *av = NULL;
        r = item_valid_name(c->string, top_level, p, err);
        if (r != RESULT_OK)
            goto done;
        size_t mark = item_path_push_name(p, c->string);
        r = from_plain(c, top_level ? 0 : depth + 1, p, &av, err);
        item_path_pop(p, mark);
        if (r != RESULT_OK)
            goto done;
        xjson_add(map, c->string, av);
    }
    *out = top_level ? map : item_wrap("M", map);
    map = NULL;
done:
    cJSON_Delete(map);
    return r;
}

static enum result from_plain_array(const cJSON *json, int depth,
                                    struct item_path *p, cJSON **out,
                                    struct error_info *err)
{
    enum result r = RESULT_OK;
    cJSON *list = xjson(cJSON_CreateArray());
    size_t i = 0;

    for (const cJSON *c = json->child; c; c = c->next, i++) {
        cJSON *av = NULL;
        size_t mark = item_path_push_index(p, i);
        r = from_plain(c, depth + 1, p, &av, err);
        item_path_pop(p, mark);
        if (r != RESULT_OK)
            goto done;
        xjson_append(list, av);
    }
    *out = item_wrap("L", list);
    list = NULL;
done:
    cJSON_Delete(list);
    return r;
}

static enum result from_plain_number(const cJSON *json,
                                     const struct item_path *p, cJSON **out,
                                     struct error_info *err)
{
    char buf[64];
    const char *text = buf;
    struct item_number n;

    if (cJSON_IsRaw(json)) {
        if (!json->valuestring)
            return item_path_invalid(err, p,
                                     "a raw JSON value is not a number");
        text = json->valuestring;
    } else if (!item_number_from_double(json->valuedouble, buf, sizeof(buf))) {
        return item_path_invalid(err, p, "a number is not finite");
    }
    enum item_number_status s = item_number_parse(text, &n);
    if (s == ITEM_NUMBER_SYNTAX && cJSON_IsRaw(json))
        return item_path_invalid(err, p, "a raw JSON value is not a number");
    if (s != ITEM_NUMBER_OK)
        return item_path_invalid(err, p, "the number %s",
                                 item_number_problem(s));
    *out = item_wrap("N", xjson(cJSON_CreateString(text)));
    return RESULT_OK;
}

/* `depth` counts the M/L levels around `json`: 0 for an item's attribute. */
static enum result from_plain(const cJSON *json, int depth, struct item_path *p,
                              cJSON **out, struct error_info *err)
{
    if (cJSON_IsObject(json) || cJSON_IsArray(json)) {
        if (depth >= ITEM_MAX_DEPTH)
            return item_path_invalid(err, p, "nested deeper than %d levels",
                                     ITEM_MAX_DEPTH);
        return cJSON_IsObject(json)
                   ? from_plain_object(json, false, depth, p, out, err)
                   : from_plain_array(json, depth, p, out, err);
    }
    if (cJSON_IsString(json)) {
        if (!json->valuestring ||
            !utf8_valid(json->valuestring, strlen(json->valuestring)))
            return item_path_invalid(err, p, "a string is not valid UTF-8");
        *out = item_av_s(json->valuestring);
        return RESULT_OK;
    }
    if (cJSON_IsNumber(json) || cJSON_IsRaw(json))
        return from_plain_number(json, p, out, err);
    if (cJSON_IsBool(json)) {
        *out = item_av_bool(cJSON_IsTrue(json));
        return RESULT_OK;
    }
    if (cJSON_IsNull(json)) {
        *out = item_av_null();
        return RESULT_OK;
    }
    return item_path_invalid(err, p, "a JSON value has no type");
}

static cJSON *to_plain(const cJSON *av);

/* The elements of a valid set as strings ('S', 'B') or Raw numbers. */
static cJSON *set_to_plain(char kind, const cJSON *set)
{
    cJSON *array = xjson(cJSON_CreateArray());
    for (const cJSON *e = set->child; e; e = e->next)
        xjson_append(array, kind == 'N'
                                ? item_number_raw(e->valuestring)
                                : xjson(cJSON_CreateString(e->valuestring)));
    return array;
}

/* Converts a validated AV; cannot fail (bar memory exhaustion). */
static cJSON *to_plain(const cJSON *av)
{
    const cJSON *v = av->child;
    const char *type = v->string;

    if (!strcmp(type, "S") || !strcmp(type, "B"))
        return xjson(cJSON_CreateString(v->valuestring));
    if (!strcmp(type, "N"))
        return item_number_raw(v->valuestring);
    if (!strcmp(type, "BOOL"))
        return xjson(cJSON_CreateBool(cJSON_IsTrue(v)));
    if (!strcmp(type, "NULL"))
        return xjson(cJSON_CreateNull());
    if (!strcmp(type, "M")) {
        cJSON *object = xjson(cJSON_CreateObject());
        for (const cJSON *c = v->child; c; c = c->next)
            xjson_add(object, c->string, to_plain(c));
        return object;
    }
    if (!strcmp(type, "L")) {
        cJSON *array = xjson(cJSON_CreateArray());
        for (const cJSON *c = v->child; c; c = c->next)
            xjson_append(array, to_plain(c));
        return array;
    }
    return set_to_plain(type[0], v);
}

enum result item_av_from_json(const cJSON *json, const char *field, cJSON **out,
                              struct error_info *err)
{
    struct item_path p;
    item_path_init(&p, field);
    return from_plain(json, 0, &p, out, err);
}

enum result item_av_to_json(const cJSON *av, const char *field, cJSON **out,
                            struct error_info *err)
{
    enum result r = item_av_validate(av, field, err);
    if (r != RESULT_OK)
        return r;
    *out = to_plain(av);
    return RESULT_OK;
}

enum result item_from_json(const cJSON *json, cJSON **out,
                           struct error_info *err)
{
    struct item_path p;
    item_path_init(&p, "");
    if (!cJSON_IsObject(json))
        return item_path_invalid(err, &p, "an item must be a JSON object");
    return from_plain_object(json, true, 0, &p, out, err);
}

enum result item_to_json(const cJSON *item, cJSON **out, struct error_info *err)
{
    enum result r = item_validate(item, err);
    if (r != RESULT_OK)
        return r;
    cJSON *object = xjson(cJSON_CreateObject());
    for (const cJSON *a = item->child; a; a = a->next)
        xjson_add(object, a->string, to_plain(a));
    *out = object;
    return RESULT_OK;
}
