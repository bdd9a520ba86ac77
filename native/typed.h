// Borrowing the memory of JavaScript typed arrays without copying. The pointer
// is valid while the array is reachable (a caller that keeps it longer holds a
// napi reference).
#ifndef BLIPCAST_NATIVE_TYPED_H
#define BLIPCAST_NATIVE_TYPED_H

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace blipcast {

// A Uint8Array (Buffer included) or Uint8ClampedArray: its bytes. False for anything else.
inline bool borrow_bytes(const Napi::Value& value, uint8_t** data, size_t* size) {
  if (!value.IsTypedArray()) return false;
  napi_typedarray_type type;
  size_t length;
  void* ptr;
  if (napi_get_typedarray_info(value.Env(), value, &type, &length, &ptr, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) return false;
  *data = static_cast<uint8_t*>(ptr);
  *size = length;
  return true;
}

// A Uint32Array: its elements. False for anything else.
inline bool borrow_u32(const Napi::Value& value, uint32_t** data, size_t* count) {
  if (!value.IsTypedArray()) return false;
  napi_typedarray_type type;
  size_t length;
  void* ptr;
  if (napi_get_typedarray_info(value.Env(), value, &type, &length, &ptr, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint32_array) return false;
  *data = static_cast<uint32_t*>(ptr);
  *count = length;
  return true;
}

// A non-negative integer argument below `limit`, else `fallback`.
inline int64_t int_arg(const Napi::Value& value, int64_t limit, int64_t fallback) {
  if (!value.IsNumber()) return fallback;
  double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < static_cast<double>(limit)) || d != static_cast<double>(static_cast<int64_t>(d))) return fallback;
  return static_cast<int64_t>(d);
}

// The arguments (buffer, offsets, lengths, count, out) of a batch call over
// datagrams buffer[offsets[i], offsets[i] + lengths[i]), i < count, writing
// `out_words` u32 per datagram to out. False when one has the wrong type or an
// array is too short for `count`.
struct BatchArgs {
  uint8_t* buf;
  size_t buf_size;
  uint32_t* offsets;
  uint32_t* lengths;
  uint32_t* out;
  uint32_t count;
};

inline bool borrow_batch(const Napi::CallbackInfo& info, size_t out_words, BatchArgs* a) {
  size_t n_offsets, n_lengths, n_out;
  const int64_t count = int_arg(info[3], 0x100000000LL, -1);
  if (!borrow_bytes(info[0], &a->buf, &a->buf_size) || !borrow_u32(info[1], &a->offsets, &n_offsets) ||
      !borrow_u32(info[2], &a->lengths, &n_lengths) || !borrow_u32(info[4], &a->out, &n_out) || count < 0 ||
      n_offsets < static_cast<size_t>(count) || n_lengths < static_cast<size_t>(count) ||
      n_out / out_words < static_cast<size_t>(count)) {
    return false;
  }
  a->count = static_cast<uint32_t>(count);
  return true;
}

}  // namespace blipcast

#endif
