// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the twin of
// src/wire/crc32c.ts. Uses the SSE4.2 crc32 instruction when the CPU has it
// (checked once at runtime), else slicing-by-8 tables.
#ifndef BLIPCAST_NATIVE_CRC32C_H
#define BLIPCAST_NATIVE_CRC32C_H

#include <cstddef>
#include <cstdint>

namespace blipcast {

// Continues a CRC32C over data[0, size). Start with crc = 0; like the TS
// crc32cUpdate, crc32c_update(crc32c_update(0, a), b) == crc32c(a ++ b).
uint32_t crc32c_update(uint32_t crc, const uint8_t* data, size_t size);

// The portable table implementation, always available (tests compare both).
uint32_t crc32c_update_table(uint32_t crc, const uint8_t* data, size_t size);

// "sse4.2" or "table": what crc32c_update uses on this CPU.
const char* crc32c_implementation();

}  // namespace blipcast

#endif
