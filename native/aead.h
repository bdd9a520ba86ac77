// AES-256-GCM seal/open of whole datagram batches (docs/protocol.md,
// "Encryption"), with the OpenSSL that Node carries: the addon is not linked
// against libcrypto, the EVP_* symbols resolve against the node binary at load.
//
// Sealed datagram (all offsets from the datagram start):
//    0..25  the fixed header, key id (byte 5) != 0, payload length = ciphertext + 16
//   26..27  counter bits 47..32      28..31  counter bits 31..0   (replace reserved + CRC)
//   32..    ciphertext, then the 16-byte tag
// Associated data = the 32 header bytes as sent. Nonce (96 bits) =
//   (session id XOR (counter >> 32) << 48) || (counter & 0xffffffff), big-endian,
// i.e. header bytes 8..15 with bytes 8..9 XOR bytes 26..27, then bytes 28..31.
//
// The C++ side holds only key material (one EVP context pair per key id); which
// key is current, the counter and the replay window live in JavaScript
// (src/crypto/*). Functions return plain codes.
#ifndef BLIPCAST_NATIVE_AEAD_H
#define BLIPCAST_NATIVE_AEAD_H

#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "header.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace blipcast {

constexpr size_t kTagBytes = 16;
constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr uint64_t kMaxCounter = (uint64_t{1} << 48) - 1;
// Highest datagram type a sealed datagram may carry (7 = session announcement).
constexpr uint8_t kMaxSealedType = 7;

// Codes of open_datagram beyond the header Reject codes (shared with
// SealedReject in src/crypto/codes.ts). Far from the header codes so that new
// header reasons never collide.
enum SealedReject : uint32_t {
  kClearOnKeyed = 64,  // key id 0 on a keyed channel
  kUnknownKey = 65,    // a key id this keyring does not hold
  kAuthFailed = 66,    // the tag did not verify (tampered, forged, or another key)
};

// Key material by key id (1..255): an encrypting and a decrypting context each.
class Keyring {
 public:
  Keyring() = default;
  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // 0, or -EINVAL (id out of 1..255), -ENOMEM / -EIO (OpenSSL failed).
  int set_key(uint32_t id, const uint8_t* key);
  void remove_key(uint32_t id);
  bool has_key(uint32_t id) const { return id >= 1 && id <= 255 && enc_[id] != nullptr; }

  // Seals the clear datagram in[0, in_len) (header + payload) into out, which
  // has room for in_len + kTagBytes. 0, or -EINVAL (no such key, too short,
  // payload too long for the length field), -EIO.
  int seal(uint32_t key_id, uint64_t counter, const uint8_t* in, size_t in_len, uint8_t* out);

  // Opens the sealed datagram buf[offset, offset + length) in place and decodes
  // its header into out[0, kDecodedWords) like decode_header (payloadLength =
  // the plaintext length). Returns kOk, a header Reject code or a SealedReject.
  uint32_t open(uint8_t* buf, size_t buf_size, uint64_t offset, uint64_t length, uint32_t* out);

 private:
  EVP_CIPHER_CTX* enc_[256] = {};
  EVP_CIPHER_CTX* dec_[256] = {};
};

// The JavaScript class `AeadKeyring` (see src/addon/addon.ts for its contract).
Napi::Function DefineAeadKeyring(Napi::Env env);

}  // namespace blipcast

#endif
