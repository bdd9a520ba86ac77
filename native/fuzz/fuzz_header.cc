// libFuzzer target for the native batch header decoder (native/header.cc) and
// CRC32C (native/crc32c.cc). Built by native/CMakeLists.txt with
// -DBLIPCAST_FUZZ=ON and clang; run through scripts/fuzz.sh (docs/fuzzing.md).
//
// The input is turned into one receive batch, as the addon's decodeHeaders
// gets it from JavaScript (one buffer, u32 offsets and lengths, a count):
//
//   byte 0        bits 0-5: datagram count - 1 (1..64, the ring's batch size)
//                 bit 6:    raw mode — each descriptor is u32 offset + u32
//                           length, taken as they are (JS may pass anything)
//                 bit 7:    fix the CRC32C of every in-bounds datagram first,
//                           so that the checks after the checksum get reached
//   descriptors   contiguous mode: u16 length per datagram, datagrams laid
//                 end to end from offset 0 (a length may run past the end);
//                 raw mode: u32 offset, u32 length per datagram (big-endian)
//   rest          the buffer, copied into an allocation of exactly its size
//                 so that any read past it hits AddressSanitizer's redzone
//
// Beyond "no crash, no sanitizer report", every decoded word is compared with
// a plain reference decoder written from docs/protocol.md, the SSE4.2 CRC32C
// with the table one (whole buffer, and continued from a split point), and the
// table one with a bitwise CRC32C (first 512 bytes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../crc32c.h"
#include "../header.h"

namespace {

using blipcast::kDecodedWords;

constexpr uint32_t kMaxBatch = 64;

uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

// Bitwise CRC32C: the slowest and most obviously right form, the oracle for both fast ones.
uint32_t crc32c_bitwise(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

// The header rules, in their documented order, independent of native/header.cc.
void reference_decode(const uint8_t* buf, size_t size, uint64_t off, uint64_t len, uint32_t* w) {
  std::memset(w, 0, kDecodedWords * sizeof(uint32_t));
  if (len < 32 || off + len > size) { w[0] = 1; return; }
  const uint8_t* p = buf + off;
  if (p[0] != 0xB1 || p[1] != 0xCA) { w[0] = 2; return; }
  if (p[2] != 1) { w[0] = 3; return; }
  if (be16(p + 24) != len - 32) { w[0] = 4; return; }
  // The table CRC, itself checked against the bitwise one below.
  uint32_t crc = blipcast::crc32c_update_table(0, p, 28);
  crc = blipcast::crc32c_update_table(crc, p + 32, len - 32);
  if (crc != be32(p + 28)) { w[0] = 5; return; }
  if (p[3] < 1 || p[3] > 6) { w[0] = 6; return; }
  if (be32(p + 16) >= (1u << 21)) { w[0] = 7; return; }
  w[1] = p[3] | p[4] << 8 | p[5] << 16;
  w[2] = be16(p + 6);
  w[3] = be32(p + 8);
  w[4] = be32(p + 12);
  w[5] = be32(p + 16);
  w[6] = be32(p + 20);
  w[7] = static_cast<uint32_t>(len - 32);
}

void fix_crc(uint8_t* buf, size_t size, uint64_t off, uint64_t len) {
  if (len < 32 || off + len > size) return;
  uint8_t* p = buf + off;
  uint32_t crc = blipcast::crc32c_update_table(0, p, 28);
  crc = blipcast::crc32c_update_table(crc, p + 32, len - 32);
  p[28] = crc >> 24;
  p[29] = crc >> 16;
  p[30] = crc >> 8;
  p[31] = crc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint32_t count = (data[0] & 63) + 1;
  const bool raw = (data[0] & 64) != 0;
  const bool fix = (data[0] & 128) != 0;
  const size_t desc_bytes = count * (raw ? 8 : 2);
  if (size < 1 + desc_bytes) return 0;
  const uint8_t* desc = data + 1;
  const size_t buf_size = size - 1 - desc_bytes;

  uint32_t offsets[kMaxBatch], lengths[kMaxBatch];
  uint64_t next = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (raw) {
      offsets[i] = be32(desc + 8 * i);
      lengths[i] = be32(desc + 8 * i + 4);
    } else {
      // Contiguous like a recvmmsg ring, but a u32 offset cannot go past 2^32.
      offsets[i] = static_cast<uint32_t>(next > 0xffffffffu ? 0xffffffffu : next);
      lengths[i] = be16(desc + 2 * i);
      next += lengths[i];
    }
  }

  // Exactly buf_size bytes (at least one, so the pointer is a real allocation).
  std::unique_ptr<uint8_t[]> buf(new uint8_t[buf_size > 0 ? buf_size : 1]);
  if (buf_size > 0) std::memcpy(buf.get(), data + 1 + desc_bytes, buf_size);
  if (fix) {
    for (uint32_t i = 0; i < count; i++) fix_crc(buf.get(), buf_size, offsets[i], lengths[i]);
  }

  // Poisoned with a pattern: the decoder must write every word of every datagram.
  uint32_t out[kMaxBatch * kDecodedWords];
  std::memset(out, 0xA5, sizeof out);
  const uint32_t ok = blipcast::decode_header_batch(buf.get(), buf_size, offsets, lengths, count, out);

  uint32_t expected_ok = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t want[kDecodedWords];
    reference_decode(buf.get(), buf_size, offsets[i], lengths[i], want);
    if (std::memcmp(want, out + i * kDecodedWords, sizeof want) != 0) std::abort();
    if (want[0] == 0) expected_ok++;
  }
  if (ok != expected_ok) std::abort();
  // Nothing written past the batch.
  for (size_t k = count * kDecodedWords; k < kMaxBatch * kDecodedWords; k++) {
    if (out[k] != 0xA5A5A5A5u) std::abort();
  }

  // CRC32C: the dispatching implementation (SSE4.2 here), the table and the
  // bitwise oracle agree, and continuing a CRC equals computing it at once.
  const uint8_t* b = buf.get();
  const size_t split = be16(desc) % (buf_size + 1);
  const uint32_t whole = blipcast::crc32c_update(0, b, buf_size);
  if (whole != blipcast::crc32c_update_table(0, b, buf_size)) std::abort();
  // Bitwise is slow: 512 bytes cover every path of slicing-by-8 and of the SSE4.2 loop.
  const size_t prefix = buf_size < 512 ? buf_size : 512;
  if (blipcast::crc32c_update_table(0, b, prefix) != crc32c_bitwise(0, b, prefix)) std::abort();
  if (whole != blipcast::crc32c_update(blipcast::crc32c_update(0, b, split), b + split, buf_size - split)) std::abort();
  if (whole != blipcast::crc32c_update_table(blipcast::crc32c_update_table(0, b, split), b + split, buf_size - split)) {
    std::abort();
  }
  return 0;
}
