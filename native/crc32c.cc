#include "crc32c.h"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define BLIPCAST_HAVE_SSE42_PATH 1
#endif

namespace blipcast {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
      for (int s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};

const Tables& tables() {
  static const Tables instance;
  return instance;
}

#ifdef BLIPCAST_HAVE_SSE42_PATH
// Compiled for SSE4.2 on its own so that the rest of the addon runs on any x86-64.
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const uint8_t* data, size_t size) {
  uint64_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);  // unaligned-safe; the crc32 instruction wants little-endian, which x86 is
    c = _mm_crc32_u64(c, word);
    data += 8;
    size -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size > 0) {
    c32 = _mm_crc32_u8(c32, *data++);
    size--;
  }
  return ~c32;
}

bool cpu_has_sse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t crc32c_update_table(uint32_t crc, const uint8_t* data, size_t size) {
  const Tables& tb = tables();
  uint32_t c = ~crc;
  while (size >= 8) {
    uint32_t lo = c ^ (static_cast<uint32_t>(data[0]) | static_cast<uint32_t>(data[1]) << 8 |
                       static_cast<uint32_t>(data[2]) << 16 | static_cast<uint32_t>(data[3]) << 24);
    c = tb.t[7][lo & 0xff] ^ tb.t[6][(lo >> 8) & 0xff] ^ tb.t[5][(lo >> 16) & 0xff] ^ tb.t[4][lo >> 24] ^
        tb.t[3][data[4]] ^ tb.t[2][data[5]] ^ tb.t[1][data[6]] ^ tb.t[0][data[7]];
    data += 8;
    size -= 8;
  }
  while (size > 0) {
    c = tb.t[0][(c ^ *data++) & 0xff] ^ (c >> 8);
    size--;
  }
  return ~c;
}

uint32_t crc32c_update(uint32_t crc, const uint8_t* data, size_t size) {
#ifdef BLIPCAST_HAVE_SSE42_PATH
  if (cpu_has_sse42()) return crc32c_sse42(crc, data, size);
#endif
  return crc32c_update_table(crc, data, size);
}

const char* crc32c_implementation() {
#ifdef BLIPCAST_HAVE_SSE42_PATH
  if (cpu_has_sse42()) return "sse4.2";
#endif
  return "table";
}

}  // namespace blipcast
