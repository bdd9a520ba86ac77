#include "aead.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>

#include "typed.h"

namespace blipcast {
namespace {

inline uint32_t read_u16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }

inline void write_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// The nonce of a sealed header (see aead.h).
inline void nonce_of(const uint8_t* header, uint8_t* nonce) {
  std::memcpy(nonce, header + 8, 8);
  nonce[0] ^= header[26];
  nonce[1] ^= header[27];
  std::memcpy(nonce + 8, header + 28, 4);
}

EVP_CIPHER_CTX* new_ctx(const uint8_t* key, int enc) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return nullptr;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nullptr, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

Keyring::~Keyring() {
  for (uint32_t id = 0; id < 256; id++) remove_key(id);
}

int Keyring::set_key(uint32_t id, const uint8_t* key) {
  if (id < 1 || id > 255) return -EINVAL;
  EVP_CIPHER_CTX* enc = new_ctx(key, 1);
  EVP_CIPHER_CTX* dec = enc != nullptr ? new_ctx(key, 0) : nullptr;
  if (dec == nullptr) {
    if (enc != nullptr) EVP_CIPHER_CTX_free(enc);
    return -ENOMEM;
  }
  remove_key(id);
  enc_[id] = enc;
  dec_[id] = dec;
  return 0;
}

void Keyring::remove_key(uint32_t id) {
  if (id > 255) return;
  if (enc_[id] != nullptr) EVP_CIPHER_CTX_free(enc_[id]);
  if (dec_[id] != nullptr) EVP_CIPHER_CTX_free(dec_[id]);
  enc_[id] = nullptr;
  dec_[id] = nullptr;
}

int Keyring::seal(uint32_t key_id, uint64_t counter, const uint8_t* in, size_t in_len, uint8_t* out) {
  if (!has_key(key_id) || counter > kMaxCounter || in_len < kHeaderBytes) return -EINVAL;
  const size_t plain = in_len - kHeaderBytes;
  if (plain + kTagBytes > 0xffff) return -EINVAL;
  std::memcpy(out, in, kHeaderBytes);
  out[5] = static_cast<uint8_t>(key_id);
  const uint32_t sealed_length = static_cast<uint32_t>(plain + kTagBytes);
  out[24] = static_cast<uint8_t>(sealed_length >> 8);
  out[25] = static_cast<uint8_t>(sealed_length);
  out[26] = static_cast<uint8_t>(counter >> 40);
  out[27] = static_cast<uint8_t>(counter >> 32);
  write_u32(out + 28, static_cast<uint32_t>(counter));
  uint8_t nonce[kNonceBytes];
  nonce_of(out, nonce);
  EVP_CIPHER_CTX* ctx = enc_[key_id];
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1) return -EIO;
  if (EVP_EncryptUpdate(ctx, nullptr, &len, out, static_cast<int>(kHeaderBytes)) != 1) return -EIO;
  uint8_t* body = out + kHeaderBytes;
  if (plain > 0 && EVP_EncryptUpdate(ctx, body, &len, in + kHeaderBytes, static_cast<int>(plain)) != 1) return -EIO;
  if (EVP_EncryptFinal_ex(ctx, body + plain, &len) != 1) return -EIO;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), body + plain) != 1) return -EIO;
  return 0;
}

uint32_t Keyring::open(uint8_t* buf, size_t buf_size, uint64_t offset, uint64_t length, uint32_t* out) {
  // The cheap checks first, in decode_header's order, so that junk costs no AES.
  const uint32_t pre = check_preamble(buf, buf_size, offset, length);
  if (pre != kOk) return reject_decoded(pre, out);
  uint8_t* p = buf + offset;
  const uint32_t key_id = p[5];
  if (key_id == 0) return reject_decoded(kClearOnKeyed, out);
  const uint32_t sealed_length = read_u16(p + 24);
  if (sealed_length != length - kHeaderBytes || sealed_length < kTagBytes) return reject_decoded(kBadLength, out);
  if (!has_key(key_id)) return reject_decoded(kUnknownKey, out);
  const uint32_t plain = sealed_length - static_cast<uint32_t>(kTagBytes);
  uint8_t nonce[kNonceBytes];
  nonce_of(p, nonce);
  EVP_CIPHER_CTX* ctx = dec_[key_id];
  int len = 0;
  uint8_t* body = p + kHeaderBytes;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_DecryptUpdate(ctx, nullptr, &len, p, static_cast<int>(kHeaderBytes)) != 1 ||
      (plain > 0 && EVP_DecryptUpdate(ctx, body, &len, body, static_cast<int>(plain)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), body + plain) != 1 ||
      EVP_DecryptFinal_ex(ctx, body + plain, &len) != 1) {
    return reject_decoded(kAuthFailed, out);
  }
  // Authentic: the fields are what a key holder wrote; still check them like decode_header.
  return write_decoded_fields(p, plain, kMaxSealedType, out);
}

namespace {

// new AeadKeyring(): key material for one channel. Methods return plain codes.
class AeadKeyring : public Napi::ObjectWrap<AeadKeyring> {
 public:
  explicit AeadKeyring(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AeadKeyring>(info) {}

  // setKey(id, key32): 0 or -errno.
  Napi::Value SetKey(const Napi::CallbackInfo& info) {
    uint8_t* key;
    size_t size;
    const int64_t id = int_arg(info[0], 256, -1);
    if (id < 1 || !borrow_bytes(info[1], &key, &size) || size != kKeyBytes) return Napi::Number::New(info.Env(), -EINVAL);
    return Napi::Number::New(info.Env(), keyring_.set_key(static_cast<uint32_t>(id), key));
  }

  // removeKey(id): 0 (also for an id it did not hold).
  Napi::Value RemoveKey(const Napi::CallbackInfo& info) {
    const int64_t id = int_arg(info[0], 256, -1);
    if (id >= 1) keyring_.remove_key(static_cast<uint32_t>(id));
    return Napi::Number::New(info.Env(), 0);
  }

  // sealBatch(keyId, counter, datagrams, out): seals datagram i with counter + i
  // into out, one after the other (each input length + 16 bytes). Returns how
  // many were sealed (all), or -errno: -EINVAL for bad arguments or an `out`
  // too short (nothing meaningful written), -EIO when OpenSSL fails.
  Napi::Value SealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t key_id = int_arg(info[0], 256, -1);
    const int64_t counter = int_arg(info[1], static_cast<int64_t>(kMaxCounter) + 1, -1);
    uint8_t* out;
    size_t out_size;
    if (key_id < 1 || counter < 0 || !info[2].IsArray() || !borrow_bytes(info[3], &out, &out_size)) {
      return Napi::Number::New(env, -EINVAL);
    }
    Napi::Array list = info[2].As<Napi::Array>();
    const uint32_t count = list.Length();
    if (static_cast<uint64_t>(counter) + count > kMaxCounter + 1) return Napi::Number::New(env, -EINVAL);
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
      uint8_t* in;
      size_t in_len;
      if (!borrow_bytes(list.Get(i), &in, &in_len) || out_size - at < in_len + kTagBytes) return Napi::Number::New(env, -EINVAL);
      const int rc = keyring_.seal(static_cast<uint32_t>(key_id), static_cast<uint64_t>(counter) + i, in, in_len, out + at);
      if (rc < 0) return Napi::Number::New(env, rc);
      at += in_len + kTagBytes;
    }
    return Napi::Number::New(env, count);
  }

  // openBatch(buffer, offsets, lengths, count, out): opens datagrams 0..count-1
  // in place and writes 8 u32 per datagram (decodeHeaders' layout; code 0 or a
  // header Reject or a SealedReject). Returns how many were OK, or -EINVAL.
  Napi::Value OpenBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    BatchArgs a;
    if (!borrow_batch(info, kDecodedWords, &a)) return Napi::Number::New(env, -EINVAL);
    uint32_t ok = 0;
    for (uint32_t i = 0; i < a.count; i++) {
      if (keyring_.open(a.buf, a.buf_size, a.offsets[i], a.lengths[i], a.out + static_cast<size_t>(i) * kDecodedWords) == kOk) ok++;
    }
    return Napi::Number::New(env, ok);
  }

 private:
  Keyring keyring_;
};

}  // namespace

Napi::Function DefineAeadKeyring(Napi::Env env) {
  return AeadKeyring::DefineClass(env, "AeadKeyring",
                                  {
                                      AeadKeyring::InstanceMethod<&AeadKeyring::SetKey>("setKey"),
                                      AeadKeyring::InstanceMethod<&AeadKeyring::RemoveKey>("removeKey"),
                                      AeadKeyring::InstanceMethod<&AeadKeyring::SealBatch>("sealBatch"),
                                      AeadKeyring::InstanceMethod<&AeadKeyring::OpenBatch>("openBatch"),
                                  });
}

}  // namespace blipcast
