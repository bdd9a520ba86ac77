// The native twin of the header-decode contract of src/wire/decode.ts: checks
// and decodes the fixed 32-byte header of every datagram of a receive batch.
// Same checks in the same order, same Reject codes, same decoded words
// (kDecodedWords, exported to JavaScript as layout.decodedWords and checked
// there); checked against test/vectors/header.json by test/native.test.ts and
// native/test_header.cc. The sealed open (aead.cc) runs the same checks
// through check_preamble and write_decoded_fields.
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

// The first checks: the datagram fits in buf, magic, version. kOk or the code.
uint32_t check_preamble(const uint8_t* buf, size_t buf_size, uint64_t offset, uint64_t length);

// The last checks (type 1..max_type, sequence below 2^53) and the decoded words
// of the header at p with `payload_length` (the plaintext's, for a sealed
// datagram). Returns kOk or the code (then words 1..7 are zero).
uint32_t write_decoded_fields(const uint8_t* p, uint32_t payload_length, uint8_t max_type, uint32_t* out);

// Writes `code` and zeroes words 1..7; returns code.
uint32_t reject_decoded(uint32_t code, uint32_t* out);

// Decodes `count` datagrams; out holds count * kDecodedWords words.
// Returns how many were kOk.
uint32_t decode_header_batch(const uint8_t* buf, size_t buf_size, const uint32_t* offsets, const uint32_t* lengths,
                             uint32_t count, uint32_t* out);

}  // namespace blipcast

#endif
