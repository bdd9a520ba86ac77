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

}  // namespace blipcast

#endif
