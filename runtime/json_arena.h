/* JSON trees that live for one event, allocated from an arena. */
#ifndef STREAMER_JSON_ARENA_H
#define STREAMER_JSON_ARENA_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * An event's own JSON (the event, a message's body) is parsed once,
 * read, and dropped when the event is done. cJSON gives every value and
 * string its own malloc() and free(): about a third of parsing and all
 * of deleting. With the arena on, such trees are parsed into one block
 * that is reused from event to event, and dropped all at once.
 *
 * The rules, for trees from json_arena_parse():
 * - they are read only: nothing is added to them, detached from them or
 *   kept from them past the event (cJSON_Duplicate() what must stay:
 *   duplicates are ordinary trees);
 * - they are released with json_arena_delete(), and every one of them
 *   is dead when json_arena_reset() is called, once per event.
 *
 * The arena is off unless json_arena_enable() turned it on: then the
 * functions below are cJSON_ParseWithLengthOpts() and cJSON_Delete().
 * It switches cJSON's allocator (cJSON_InitHooks) for the length of a
 * parse, so it is for single-threaded processes: the bootstrap turns it
 * on. In an AddressSanitizer build every block is its own malloc(),
 * freed at the reset, so a read past a value or after the reset is
 * still caught.
 */

/* Turns the arena on (1) or off (0); off frees its memory. */
void json_arena_enable(int on);

/*
 * cJSON_ParseWithLengthOpts(text, len, NULL, require_end), read by
 * json_parse(), into the arena when it is on: NULL when `text` is not
 * JSON (nothing is kept then).
 */
cJSON *json_arena_parse(const char *text, size_t len, int require_end);

/* Releases a tree json_arena_parse() made (NULL is a no-op): with the
 * arena on its memory goes at the next reset. */
void json_arena_delete(cJSON *tree);

/*
 * Drops every tree of the arena at once; keeps one block of up to
 * JSON_ARENA_KEEP_BYTES for the next event, so memory stays flat.
 */
void json_arena_reset(void);

#define JSON_ARENA_BLOCK_BYTES (32 * 1024)
#define JSON_ARENA_KEEP_BYTES (256 * 1024)

/* Bytes the arena holds now (its blocks), for tests. */
size_t json_arena_held(void);

#endif
