// The native twin of decodeHeaderInto (src/wire/header.ts): checks and decodes
// the fixed 32-byte header of every datagram of a receive batch. Same checks in
// the same order, same Reject codes; checked against test/vectors/header.json by
// both test/native.test.ts and native/test_header.cc.
#ifndef BLIPCAST_NATIVE_HEADER_H
#define BLIPCAST_NATIVE_HEADER_H

#include <cstddef>
#include <cstdint>

namespace blipcast {

constexpr size_t kHeaderBytes = 32;
constexpr size_t kCrcOffset = 28;
constexpr uint16_t kMagic = 0xB1CA;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kMaxKnownType = 6;

// Reject numbers shared with Reject in src/wire/header.ts.
enum Reject : uint32_t {
  kOk = 0,
  kTruncated = 1,
  kBadMagic = 2,
  kBadVersion = 3,
  kBadLength = 4,
  kBadChecksum = 5,
  kUnknownType = 6,
  kBadSequence = 7,
};

// u32 words written per datagram by decode_header_batch:
//   [0] reject code   [1] type | flags << 8 | keyId << 16   [2] streamId
//   [3] sessionHi     [4] sessionLo   [5] sequence hi   [6] sequence lo
//   [7] payloadLength
// Words 1..7 are zero when the code is not kOk.
constexpr size_t kDecodedWords = 8;

// Decodes the datagram buf[offset, offset + length) of a buffer of buf_size
// bytes into out[0, kDecodedWords). Never reads outside buf; returns the code.
uint32_t decode_header(const uint8_t* buf, size_t buf_size, uint64_t offset, uint64_t length, uint32_t* out);

// Decodes `count` datagrams; out holds count * kDecodedWords words.
// Returns how many were kOk.
uint32_t decode_header_batch(const uint8_t* buf, size_t buf_size, const uint32_t* offsets, const uint32_t* lengths,
                             uint32_t count, uint32_t* out);

}  // namespace blipcast

#endif
