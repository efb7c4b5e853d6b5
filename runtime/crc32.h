/* CRC-32 (IEEE 802.3, as zlib computes it) for x-amz-crc32. */
#ifndef STREAMER_CRC32_H
#define STREAMER_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * DynamoDB Developer Guide, "DynamoDB low-level API", and the SDKs'
 * checksum handlers: the x-amz-crc32 response header carries the CRC-32
 * of the response body as an unsigned decimal integer. The checksum here is the
 * reflected polynomial 0xEDB88320 with initial value and final XOR
 * 0xFFFFFFFF, so crc32_compute("123456789", 9) == 0xCBF43926.
 */

/*
 * Continues a running checksum: pass 0 to start, then the previous result;
 * returns the checksum of everything passed so far. `p` may be NULL when
 * `n` is 0. Cannot fail.
 */
uint32_t crc32_update(uint32_t crc, const void *p, size_t n);

/* Returns the checksum of `n` bytes at `p`. Cannot fail. */
uint32_t crc32_compute(const void *p, size_t n);

#endif
