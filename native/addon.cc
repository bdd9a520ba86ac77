// Module entry: the UdpSocket class, the batch header decoder, CRC32C and the
// AES-256-GCM batch keyring (AeadKeyring).
// See docs/native.md for the JavaScript-facing contract of each export.
#include <napi.h>

#include "aead.h"
#include "crc32c.h"
#include "header.h"
#include "socket.h"
#include "typed.h"
#include "udp_socket.h"

namespace blipcast {
namespace {

// decodeHeaders(buffer, offsets, lengths, count, out): validates and decodes the
// header of datagrams 0..count-1 (buffer[offsets[i], offsets[i] + lengths[i]))
// into out[8 * i .. 8 * i + 8) (layout in header.h). Returns how many were OK,
// or -EINVAL when an argument has the wrong type or is too short for `count`.
Napi::Value DecodeHeaders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BatchArgs a;
  if (!borrow_batch(info, kDecodedWords, &a)) return Napi::Number::New(env, -EINVAL);
  return Napi::Number::New(env, decode_header_batch(a.buf, a.buf_size, a.offsets, a.lengths, a.count, a.out));
}

// crc32c(bytes, crc = 0, portable = false): CRC32C continued from `crc`;
// `portable` forces the table implementation (for tests).
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t size;
  if (!borrow_bytes(info[0], &data, &size)) {
    Napi::TypeError::New(env, "crc32c expects a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint32_t crc = static_cast<uint32_t>(int_arg(info[1], 0x100000000LL, 0));
  const bool portable = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  return Napi::Number::New(env, portable ? crc32c_update_table(crc, data, size) : crc32c_update(crc, data, size));
}

// datagramChecksum(bytes, offset, payloadLength): the blipcast datagram
// checksum of the datagram at bytes[offset..]: CRC32C of header bytes [0, 28)
// continued over the payload (bytes 32 .. 32 + payloadLength). One call, no
// views made in JavaScript. -1 when the range does not fit `bytes`.
Napi::Value DatagramChecksum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t size;
  if (!borrow_bytes(info[0], &data, &size)) {
    Napi::TypeError::New(env, "datagramChecksum expects a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int64_t offset = int_arg(info[1], 0x100000000LL, -1);
  const int64_t payload = int_arg(info[2], 0x100000000LL, -1);
  if (offset < 0 || payload < 0 || static_cast<uint64_t>(offset) + 32 + static_cast<uint64_t>(payload) > size) {
    return Napi::Number::New(env, -1);
  }
  const uint8_t* d = data + offset;
  const uint32_t crc = crc32c_update(crc32c_update(0, d, 28), d + 32, static_cast<size_t>(payload));
  return Napi::Number::New(env, crc);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Define(env));
  exports.Set("AeadKeyring", DefineAeadKeyring(env));
  exports.Set("decodeHeaders", Napi::Function::New<DecodeHeaders>(env, "decodeHeaders"));
  exports.Set("crc32c", Napi::Function::New<Crc32c>(env, "crc32c"));
  exports.Set("datagramChecksum", Napi::Function::New<DatagramChecksum>(env, "datagramChecksum"));
  exports.Set("crc32cImplementation", Napi::String::New(env, crc32c_implementation()));
#if defined(__linux__)
  exports.Set("platformSupported", Napi::Boolean::New(env, true));
#else
  exports.Set("platformSupported", Napi::Boolean::New(env, false));
#endif
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("addrSlotBytes", Napi::Number::New(env, kAddrSlotBytes));
  layout.Set("addrSourceOffset", Napi::Number::New(env, kAddrSourceOffset));
  layout.Set("addrDestinationOffset", Napi::Number::New(env, kAddrDestinationOffset));
  layout.Set("flagHasDestination", Napi::Number::New(env, kFlagHasDestination));
  layout.Set("flagControlTruncated", Napi::Number::New(env, kFlagControlTruncated));
  layout.Set("decodedWords", Napi::Number::New(env, kDecodedWords));
  layout.Set("maxSlots", Napi::Number::New(env, 1024));
  layout.Set("maxGroSegments", Napi::Number::New(env, kMaxGroSegments));
  exports.Set("layout", layout);
  // 2: AeadKeyring added. 3: connect, localAddress, attachOwnFilter, setSegmentation, segmentation and
  // datagramChecksum required; UdpSocket send and dropMembership removed.
  exports.Set("abiVersion", Napi::Number::New(env, 4));
  return exports;
}

}  // namespace
}  // namespace blipcast

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return blipcast::Init(env, exports); }

NODE_API_MODULE(blipcast, InitModule)
