/* JSON trees that live for one event, allocated from an arena. */
#include "json_arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "json_parse.h"
#include "xmalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_PER_BLOCK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_PER_BLOCK 1
#endif
#endif
#ifndef ARENA_PER_BLOCK
#define ARENA_PER_BLOCK 0
#endif

/* One block: what is handed out is bytes[0 .. used). */
struct block {
    struct block *next;
    size_t size, used;
    alignas(max_align_t) unsigned char bytes[];
};

static int enabled;
static struct block *blocks; /* the newest first */

/* Sizes are rounded up to keep every value aligned as malloc's are. */
static size_t round_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

static struct block *new_block(size_t size)
{
    struct block *b = xmalloc(sizeof(*b) + size);
    b->size = size;
    b->used = 0;
    b->next = blocks;
    blocks = b;
    return b;
}

static void *arena_alloc(size_t n)
{
    n = round_up(n ? n : 1);
    if (ARENA_PER_BLOCK) /* a block of its own: ASan sees its bounds */
        return new_block(n)->bytes;
    struct block *b = blocks;
    if (!b || b->size - b->used < n)
        b = new_block(n > JSON_ARENA_BLOCK_BYTES ? n : JSON_ARENA_BLOCK_BYTES);
    void *p = b->bytes + b->used;
    b->used += n;
    return p;
}

/* cJSON frees a value it gave up on (a parse that failed half way):
 * the arena takes it back at the reset. */
static void arena_free(void *p)
{
    (void)p;
}

static void free_blocks(struct block *b)
{
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
}

void json_arena_enable(int on)
{
    if (!on) {
        free_blocks(blocks);
        blocks = NULL;
    }
    enabled = on;
}

cJSON *json_arena_parse(const char *text, size_t len, int require_end)
{
    if (!enabled)
        return json_parse(text, len, NULL, require_end);
    cJSON_Hooks hooks = {arena_alloc, arena_free};
    cJSON_InitHooks(&hooks);
    cJSON *tree = json_parse(text, len, NULL, require_end);
    cJSON_InitHooks(NULL); /* malloc, free and realloc again */
    return tree;
}

void json_arena_delete(cJSON *tree)
{
    if (!enabled)
        cJSON_Delete(tree);
}

void json_arena_reset(void)
{
    if (!blocks)
        return;
    /* Keep the newest block when it is an ordinary one (or a big one,
     * up to the cap): the next event most likely fits in it. */
    struct block *keep = blocks;
    if (ARENA_PER_BLOCK || keep->size > JSON_ARENA_KEEP_BYTES)
        keep = NULL;
    free_blocks(keep ? keep->next : blocks);
    blocks = keep;
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
}

size_t json_arena_held(void)
{
    size_t n = 0;
    for (const struct block *b = blocks; b; b = b->next)
        n += b->size;
    return n;
}
