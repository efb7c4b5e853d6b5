/* Validation of AttributeValues and items received from the wire. */
#include "item_int.h"

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "text.h"
#include "xmalloc.h"

static size_t count_children(const cJSON *node)
{
    size_t n = 0;
    for (const cJSON *c = node->child; c; c = c->next)
        n++;
    return n;
}

static bool b64_valid(const char *s)
{
    size_t n = 0;
    unsigned char *bytes = base64_decode(s, strlen(s), BASE64_STD, &n);
    free(bytes);
    return bytes != NULL;
}

/* The name check for top-level attributes and (top_level false) map keys. */
enum result item_valid_name(const char *name, bool top_level,
                            const struct item_path *p, struct error_info *err)
{
    if (!name)
        return item_path_invalid(err, p, "a member has no name");
    size_t len = strlen(name);
    if (top_level && len == 0)
        return item_path_invalid(err, p, "an attribute name must not be empty");
    if (len > ITEM_MAX_NAME_BYTES)
        return item_path_invalid(err, p, "a name is longer than %d bytes",
                                 ITEM_MAX_NAME_BYTES);
    if (!utf8_valid(name, len))
        return item_path_invalid(err, p, "a name is not valid UTF-8");
    return RESULT_OK;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts `v` in place; returns a value found twice, or NULL. */
static const char *first_duplicate(const char **v, size_t n)
{
    if (n < 2)
        return NULL;
    qsort(v, n, sizeof(*v), str_ptr_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            return v[i];
    return NULL;
}

/* Returns a member name of `object` used twice, or NULL. */
const char *item_valid_duplicate_name(const cJSON *object)
{
    size_t n = count_children(object), i = 0;
    if (n < 2)
        return NULL;
    const char **names = xmalloc(n * sizeof(*names));
    for (const cJSON *c = object->child; c; c = c->next)
        names[i++] = c->string ? c->string : "";
    const char *dup = first_duplicate(names, n);
    free(names);
    return dup;
}

/* Checks one scalar of kind 'S', 'N' or 'B' (also set elements). */
enum result item_valid_scalar(char kind, const cJSON *v,
                              const struct item_path *p, struct error_info *err)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return item_path_invalid(err, p, "a %c value must be a JSON string",
                                 kind);
    const char *text = v->valuestring;
    if (kind == 'S' && !utf8_valid(text, strlen(text)))
        return item_path_invalid(err, p, "an S value is not valid UTF-8");
    if (kind == 'B' && !b64_valid(text))
        return item_path_invalid(err, p, "a B value is not valid base64");
    if (kind == 'N') {
        struct item_number n;
        enum item_number_status s = item_number_parse(text, &n);
        if (s != ITEM_NUMBER_OK)
            return item_path_invalid(err, p, "an N value %s",
                                     item_number_problem(s));
    }
    return RESULT_OK;
}

struct blob {
    unsigned char *bytes;
    size_t len;
};

static int blob_cmp(const void *a, const void *b)
{
    const struct blob *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->bytes, y->bytes, n) : 0;
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static bool numbers_unique(const char **texts, size_t n)
{
    struct item_number *v = xmalloc(n * sizeof(*v));
    bool unique = true;
    for (size_t i = 0; i < n; i++)
        (void)item_number_parse(texts[i], &v[i]);
    qsort(v, n, sizeof(*v), item_number_cmp);
    for (size_t i = 1; i < n && unique; i++)
        unique = item_number_cmp(&v[i - 1], &v[i]) != 0;
    free(v);
    return unique;
}

static bool blobs_unique(const char **texts, size_t n)
{
    struct blob *v = xmalloc(n * sizeof(*v));
    bool unique = true;
    for (size_t i = 0; i < n; i++)
        v[i].bytes =
            base64_decode(texts[i], strlen(texts[i]), BASE64_STD, &v[i].len);
    qsort(v, n, sizeof(*v), blob_cmp);
    for (size_t i = 1; i < n && unique; i++)
        unique = blob_cmp(&v[i - 1], &v[i]) != 0;
    for (size_t i = 0; i < n; i++)
        free(v[i].bytes);
    free(v);
    return unique;
}

/* Checks that the `n` valid set values `texts` are unique (sorts them). */
enum result item_valid_unique(char kind, const char **texts, size_t n,
                              const struct item_path *p, struct error_info *err)
{
    bool unique;
    if (kind == 'N')
        unique = numbers_unique(texts, n);
    else if (kind == 'B')
        unique = blobs_unique(texts, n);
    else
        unique = first_duplicate(texts, n) == NULL;
    if (!unique)
        return item_path_invalid(err, p, "a %cS holds the same value twice",
                                 kind);
    return RESULT_OK;
}

static enum result check_set(char kind, const cJSON *set, struct item_path *p,
                             struct error_info *err)
{
    enum result r = RESULT_OK;
    const char **texts = NULL;
    size_t n = 0;

    if (!cJSON_IsArray(set))
        return item_path_invalid(err, p, "a %cS value must be a JSON array",
                                 kind);
    n = count_children(set);
    if (n == 0)
        return item_path_invalid(err, p, "a %cS must not be empty", kind);
    texts = xmalloc(n * sizeof(*texts));
    size_t i = 0;
    for (const cJSON *e = set->child; e; e = e->next, i++) {
        size_t mark = item_path_push_index(p, i);
        r = item_valid_scalar(kind, e, p, err);
        item_path_pop(p, mark);
        if (r != RESULT_OK)
            goto done;
        texts[i] = e->valuestring;
    }
    r = item_valid_unique(kind, texts, n, p, err);
done:
    free(texts);
    return r;
}

static enum result check_av(const cJSON *av, int depth, struct item_path *p,
                            struct error_info *err);

static enum result check_container(const cJSON *v, bool is_map, int depth,
                                   struct item_path *p, struct error_info *err)
{
    if (is_map ? !cJSON_IsObject(v) : !cJSON_IsArray(v))
        return item_path_invalid(err, p, "an %s value must be a JSON %s",
                                 is_map ? "M" : "L",
                                 is_map ? "object" : "array");
    if (depth >= ITEM_MAX_DEPTH)
        return item_path_invalid(err, p, "nested deeper than %d levels",
                                 ITEM_MAX_DEPTH);
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        enum result r = RESULT_OK;
        if (is_map)
            r = item_valid_name(c->string, false, p, err);
        if (r != RESULT_OK)
            return r;
        size_t mark = is_map ? item_path_push_name(p, c->string)
                             : item_path_push_index(p, i);
        r = check_av(c, depth + 1, p, err);
        item_path_pop(p, mark);
        if (r != RESULT_OK)
            return r;
    }
    const char *dup = is_map ? item_valid_duplicate_name(v) : NULL;
    if (dup)
        return item_path_invalid(err, p, "the map has the name '%.64s' twice",
                                 dup);
    return RESULT_OK;
}

/* `depth` counts the M/L levels around `av`: 0 for an item's attribute. */
static enum result check_av(const cJSON *av, int depth, struct item_path *p,
                            struct error_info *err)
{
    if (!cJSON_IsObject(av))
        return item_path_invalid(err, p,
                                 "an AttributeValue must be a JSON object");
    const cJSON *v = av->child;
    if (!v)
        return item_path_invalid(err, p, "an AttributeValue has no type key");
    if (v->next)
        return item_path_invalid(err, p,
                                 "an AttributeValue has more than one key");
    const char *type = v->string ? v->string : "";

    if (!strcmp(type, "S") || !strcmp(type, "N") || !strcmp(type, "B"))
        return item_valid_scalar(type[0], v, p, err);
    if (!strcmp(type, "SS") || !strcmp(type, "NS") || !strcmp(type, "BS"))
        return check_set(type[0], v, p, err);
    if (!strcmp(type, "BOOL"))
        return cJSON_IsBool(v)
                   ? RESULT_OK
                   : item_path_invalid(err, p,
                                       "a BOOL value must be true or false");
    if (!strcmp(type, "NULL"))
        return cJSON_IsTrue(v)
                   ? RESULT_OK
                   : item_path_invalid(err, p, "a NULL value must be true");
    if (!strcmp(type, "M") || !strcmp(type, "L"))
        return check_container(v, type[0] == 'M', depth, p, err);
    return item_path_invalid(err, p, "unknown AttributeValue type '%.16s'",
                             type);
}

enum result item_av_validate(const cJSON *av, const char *field,
                             struct error_info *err)
{
    struct item_path p;
    item_path_init(&p, field);
    return check_av(av, 0, &p, err);
}

enum result item_validate(const cJSON *item, struct error_info *err)
{
    struct item_path p;
    item_path_init(&p, "");
    if (!cJSON_IsObject(item))
        return item_path_invalid(err, &p, "an item must be a JSON object");
    for (const cJSON *a = item->child; a; a = a->next) {
        enum result r = item_valid_name(a->string, true, &p, err);
        if (r != RESULT_OK)
            return r;
        size_t mark = item_path_push_name(&p, a->string);
        r = check_av(a, 0, &p, err);
        item_path_pop(&p, mark);
        if (r != RESULT_OK)
            return r;
    }
    const char *dup = item_valid_duplicate_name(item);
    if (dup)
        return error_field(err, dup, "attribute '%.64s' appears twice", dup);
    return RESULT_OK;
}
