#include "header.h"

#include <cstring>

#include "crc32c.h"

namespace blipcast {
namespace {

inline uint32_t read_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         static_cast<uint32_t>(p[3]);
}

inline uint32_t read_u16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }

}  // namespace

uint32_t reject_decoded(uint32_t code, uint32_t* out) {
  out[0] = code;
  std::memset(out + 1, 0, (kDecodedWords - 1) * sizeof(uint32_t));
  return code;
}

uint32_t check_preamble(const uint8_t* buf, size_t buf_size, uint64_t offset, uint64_t length) {
  // Offsets and lengths are u32, so the sum cannot overflow 64 bits.
  if (length < kHeaderBytes || offset + length > buf_size) return kTruncated;
  const uint8_t* p = buf + offset;
  if (read_u16(p) != kMagic) return kBadMagic;
  if (p[2] != kVersion) return kBadVersion;
  return kOk;
}

uint32_t write_decoded_fields(const uint8_t* p, uint32_t payload_length, uint8_t max_type, uint32_t* out) {
  const uint8_t type = p[3];
  if (type == 0 || type > max_type) return reject_decoded(kUnknownType, out);
  const uint32_t seq_hi = read_u32(p + 16);
  if (seq_hi >= 0x200000) return reject_decoded(kBadSequence, out);  // sequence must stay below 2^53
  out[0] = kOk;
  out[1] = static_cast<uint32_t>(type) | static_cast<uint32_t>(p[4]) << 8 | static_cast<uint32_t>(p[5]) << 16;
  out[2] = read_u16(p + 6);
  out[3] = read_u32(p + 8);
  out[4] = read_u32(p + 12);
  out[5] = seq_hi;
  out[6] = read_u32(p + 20);
  out[7] = payload_length;
  return kOk;
}

uint32_t decode_header(const uint8_t* buf, size_t buf_size, uint64_t offset, uint64_t length, uint32_t* out) {
  const uint32_t pre = check_preamble(buf, buf_size, offset, length);
  if (pre != kOk) return reject_decoded(pre, out);
  const uint8_t* p = buf + offset;
  const uint32_t payload_length = read_u16(p + 24);
  if (payload_length != length - kHeaderBytes) return reject_decoded(kBadLength, out);
  uint32_t crc = crc32c_update(0, p, kCrcOffset);
  crc = crc32c_update(crc, p + kHeaderBytes, payload_length);
  if (crc != read_u32(p + kCrcOffset)) return reject_decoded(kBadChecksum, out);
  return write_decoded_fields(p, payload_length, kMaxKnownType, out);
}

uint32_t decode_header_batch(const uint8_t* buf, size_t buf_size, const uint32_t* offsets, const uint32_t* lengths,
                             uint32_t count, uint32_t* out) {
  uint32_t ok = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (decode_header(buf, buf_size, offsets[i], lengths[i], out + static_cast<size_t>(i) * kDecodedWords) == kOk) ok++;
  }
  return ok;
}

}  // namespace blipcast
