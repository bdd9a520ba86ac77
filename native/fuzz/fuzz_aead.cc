// libFuzzer target for the AES-256-GCM batch open (native/aead.cc,
// Keyring::open, called once per datagram by AeadKeyring.openBatch). Built by
// native/CMakeLists.txt with -DBLIPCAST_FUZZ=ON and clang; run through
// scripts/fuzz.sh (docs/fuzzing.md).
//
// The keyring holds two fixed fuzz keys (id 1: bytes 0x00..0x1f, id 2: bytes
// 0x80..0x9f); id 3 is a key the sender has and the receiver does not. Each
// input becomes one receive batch:
//
//   byte 0        bits 0-5: datagram count - 1 (1..64)
//                 bits 6-7: 0 = contiguous raw bytes, u16 length each
//                           1 = raw descriptors, u32 offset + u32 length each
//                               (taken as they are: JS may pass anything)
//                           2, 3 = sealed: each datagram is built from clear
//                               bytes, sealed with a fuzz key, then mutated
//   descriptors   contiguous: u16 length; raw: u32 offset, u32 length;
//                 sealed: u16 clear length, u8 key choice, u8 mutation,
//                 u16 mutation argument, then (once) a u48 first counter
//   rest          the bytes: the buffer itself (contiguous, raw) or the clear
//                 datagrams one after the other (sealed)
//
// Sealed mode reaches what random bytes never do: a tag that verifies, and so
// the header checks after decryption (type, sequence), and the mutations of a
// valid datagram (a flipped bit anywhere, a cut, a changed key id or length).
// The batch buffer is an allocation of exactly its size, so a read past it in
// our code hits AddressSanitizer's redzone. libcrypto itself is not
// instrumented: what keeps OpenSSL inside the datagram is open()'s bounds
// check, and the oracle below checks its outcome.
//
// Oracle: a separate reference open written from docs/protocol.md
// ("Encryption"), with a fresh EVP context per datagram (the keyring reuses
// one per key, re-initialised with each nonce), run on a shadow copy of the
// buffer in batch order. Every code and decoded word must match, the whole
// buffer must match byte for byte afterwards (in-place decryption writes
// nowhere else, overlapping raw offsets included), nothing may be written past
// the batch's words, and an unmutated sealed datagram must open to exactly its
// clear header fields and payload.
//
// BLIPCAST_FUZZ_AEAD_CODES=1 in the environment prints, at exit, how many
// datagrams ended with each code: the evidence that every path was reached.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../aead.h"
#include "../header.h"

namespace {

using blipcast::kDecodedWords;
using blipcast::kHeaderBytes;
using blipcast::kTagBytes;

constexpr uint32_t kMaxBatch = 64;
constexpr uint32_t kInstalledKeys = 2;

uint8_t g_keys[4][32];  // index = key id; ids 1 and 2 are installed, 3 is the sender's only

uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

blipcast::Keyring* make_keyring(uint32_t ids) {
  auto* ring = new blipcast::Keyring();
  for (uint32_t id = 1; id <= ids; id++) {
    if (ring->set_key(id, g_keys[id]) != 0) std::abort();
  }
  return ring;
}

// The receiver's keyring (ids 1, 2) and the sender's (ids 1, 2, 3), kept
// across inputs like a channel's: context reuse after failures is under test too.
blipcast::Keyring* g_open_ring;
blipcast::Keyring* g_seal_ring;

// Datagrams by result code (0..7 header, 64..66 sealed), and unmutated sealed datagrams round-tripped.
uint64_t g_codes[72];
uint64_t g_round_trips;

void print_codes() {
  std::fprintf(stderr, "fuzz_aead codes:");
  for (int c = 0; c < 72; c++) {
    if (g_codes[c] > 0) std::fprintf(stderr, " %d=%llu", c, static_cast<unsigned long long>(g_codes[c]));
  }
  std::fprintf(stderr, " round-trips=%llu\n", static_cast<unsigned long long>(g_round_trips));
}

// One AES-256-GCM open with a fresh context: true when the tag verifies. The
// plaintext is written over the ciphertext whether or not it does (as
// Keyring::open leaves it), so the shadow buffer stays comparable.
bool reference_gcm_open(uint32_t key_id, const uint8_t* nonce, uint8_t* datagram, uint32_t plain) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) std::abort();
  int len = 0;
  uint8_t* body = datagram + kHeaderBytes;
  bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, g_keys[key_id], nonce) == 1 &&
            EVP_DecryptUpdate(ctx, nullptr, &len, datagram, static_cast<int>(kHeaderBytes)) == 1 &&
            (plain == 0 || EVP_DecryptUpdate(ctx, body, &len, body, static_cast<int>(plain)) == 1) &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), body + plain) == 1 &&
            EVP_DecryptFinal_ex(ctx, body + plain, &len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

// The rules of docs/protocol.md, "Encryption", in their documented order.
void reference_open(uint8_t* buf, size_t size, uint64_t off, uint64_t len, uint32_t* w) {
  std::memset(w, 0, kDecodedWords * sizeof(uint32_t));
  if (len < 32 || off + len > size) { w[0] = 1; return; }  // truncated
  uint8_t* p = buf + off;
  if (p[0] != 0xB1 || p[1] != 0xCA) { w[0] = 2; return; }  // bad-magic
  if (p[2] != 1) { w[0] = 3; return; }                     // bad-version
  const uint32_t key_id = p[5];
  if (key_id == 0) { w[0] = 64; return; }  // clear-on-keyed
  const uint32_t sealed = be16(p + 24);
  if (sealed != len - 32 || sealed < 16) { w[0] = 4; return; }  // bad-length
  if (key_id > kInstalledKeys) { w[0] = 65; return; }         // unknown-key
  // Nonce: session id with bytes 8..9 XOR the counter's top 16 bits (bytes 26..27), then counter bits 31..0.
  uint8_t nonce[12];
  for (int i = 0; i < 8; i++) nonce[i] = p[8 + i];
  nonce[0] ^= p[26];
  nonce[1] ^= p[27];
  for (int i = 0; i < 4; i++) nonce[8 + i] = p[28 + i];
  if (!reference_gcm_open(key_id, nonce, p, sealed - 16)) { w[0] = 66; return; }  // auth-failed
  if (p[3] < 1 || p[3] > 7) { w[0] = 6; return; }                               // unknown-type
  if (be32(p + 16) >= (1u << 21)) { w[0] = 7; return; }                         // bad-sequence
  w[1] = p[3] | p[4] << 8 | key_id << 16;
  w[2] = be16(p + 6);
  w[3] = be32(p + 8);
  w[4] = be32(p + 12);
  w[5] = be32(p + 16);
  w[6] = be32(p + 20);
  w[7] = sealed - 16;
}

// What an unmutated sealed datagram must open to: its clear header's fields and payload.
struct Expected {
  bool check = false;
  uint32_t key_id = 0;
  size_t clear_at = 0;  // in the fuzz input
  size_t clear_len = 0;
};

// Builds the sealed-mode batch into out (room for everything), returns its size.
size_t build_sealed(const uint8_t* desc, uint32_t count, uint64_t first_counter, const uint8_t* data, size_t data_size,
                    uint8_t* out, uint32_t* offsets, uint32_t* lengths, Expected* expected) {
  size_t at = 0, used = 0;
  uint8_t clear[65536];
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* d = desc + 6 * i;
    size_t n = be16(d);
    if (n > data_size - used) n = data_size - used;
    const uint8_t key_choice = d[2] & 3;
    const uint8_t mutation = d[3] & 7;
    const uint32_t arg = be16(d + 4);
    std::memcpy(clear, data + used, n);
    const size_t clear_at = used;
    used += n;
    offsets[i] = static_cast<uint32_t>(at);
    uint8_t* dg = out + at;
    size_t len;
    // Choices 0, 1: keys 1, 2 (the receiver has them); 2: key 3 (it does not); 3: key 2's datagram relabelled as key 1.
    const uint32_t seal_id = key_choice == 0 ? 1 : key_choice == 2 ? 3 : 2;
    if (n >= kHeaderBytes) {
      clear[0] = 0xB1;
      clear[1] = 0xCA;
      clear[2] = 1;
    }
    if (n >= kHeaderBytes && g_seal_ring->seal(seal_id, first_counter + i, clear, n, dg) == 0) {
      len = n + kTagBytes;
      if (key_choice == 3) dg[5] = 1;
      if (mutation == 0 && key_choice < 2) expected[i] = {true, seal_id, clear_at, n};
    } else {
      std::memcpy(dg, clear, n);  // too short, or counter past 2^48 - 1: the clear bytes as they are
      len = n;
    }
    switch (mutation) {
      case 1:  // flip one bit anywhere (header, ciphertext or tag)
        if (len > 0) dg[(arg / 8) % len] ^= static_cast<uint8_t>(1u << (arg % 8));
        break;
      case 2:  // cut the end off
        if (len > 0) len -= 1 + arg % len;
        break;
      case 3:  // cut the end off and make the length field agree
        if (len > kHeaderBytes) {
          len -= 1 + arg % (len - kHeaderBytes);
          dg[24] = static_cast<uint8_t>((len - kHeaderBytes) >> 8);
          dg[25] = static_cast<uint8_t>(len - kHeaderBytes);
        }
        break;
      case 4:  // overwrite one byte
        if (len > 0) dg[arg % len] = static_cast<uint8_t>(arg >> 8);
        break;
      case 5:  // append bytes
        std::memset(dg + len, static_cast<int>(arg >> 8), arg % 64);
        len += arg % 64;
        break;
      case 6:  // another key id
        if (len > 5) dg[5] = static_cast<uint8_t>(arg);
        break;
      default:
        break;
    }
    lengths[i] = static_cast<uint32_t>(len);
    at += len;
  }
  return at;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (int i = 0; i < 32; i++) {
    g_keys[1][i] = static_cast<uint8_t>(i);
    g_keys[2][i] = static_cast<uint8_t>(0x80 + i);
    g_keys[3][i] = static_cast<uint8_t>(0xF0 ^ i);
  }
  g_open_ring = make_keyring(kInstalledKeys);
  g_seal_ring = make_keyring(3);
  const char* codes = std::getenv("BLIPCAST_FUZZ_AEAD_CODES");
  if (codes != nullptr && codes[0] == '1') std::atexit(print_codes);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint32_t count = (data[0] & 63) + 1;
  const uint32_t mode = data[0] >> 6;
  const bool sealed = mode >= 2;
  const size_t desc_bytes = count * (mode == 0 ? 2 : mode == 1 ? 8 : 6) + (sealed ? 6 : 0);
  if (size < 1 + desc_bytes) return 0;
  const uint8_t* desc = data + 1;
  const uint8_t* rest = desc + desc_bytes;
  const size_t rest_size = size - 1 - desc_bytes;

  uint32_t offsets[kMaxBatch], lengths[kMaxBatch];
  Expected expected[kMaxBatch];
  std::unique_ptr<uint8_t[]> buf;
  size_t buf_size;
  if (sealed) {
    // Sealing adds 16 bytes, mutation 5 up to 63: room for both per datagram.
    std::unique_ptr<uint8_t[]> staging(new uint8_t[rest_size + count * (kTagBytes + 64) + 1]);
    const uint8_t* c = desc + 6 * count;
    const uint64_t first_counter = static_cast<uint64_t>(be16(c)) << 32 | be32(c + 2);
    buf_size = build_sealed(desc, count, first_counter, rest, rest_size, staging.get(), offsets, lengths, expected);
    buf.reset(new uint8_t[buf_size > 0 ? buf_size : 1]);
    std::memcpy(buf.get(), staging.get(), buf_size);
  } else {
    uint64_t next = 0;
    for (uint32_t i = 0; i < count; i++) {
      if (mode == 1) {
        offsets[i] = be32(desc + 8 * i);
        lengths[i] = be32(desc + 8 * i + 4);
      } else {
        offsets[i] = static_cast<uint32_t>(next > 0xffffffffu ? 0xffffffffu : next);
        lengths[i] = be16(desc + 2 * i);
        next += lengths[i];
      }
    }
    buf_size = rest_size;
    buf.reset(new uint8_t[buf_size > 0 ? buf_size : 1]);
    if (buf_size > 0) std::memcpy(buf.get(), rest, buf_size);
  }
  std::unique_ptr<uint8_t[]> shadow(new uint8_t[buf_size > 0 ? buf_size : 1]);
  std::memcpy(shadow.get(), buf.get(), buf_size);

  // openBatch's loop (native/aead.cc, AeadKeyring::OpenBatch), over a poisoned output.
  uint32_t out[kMaxBatch * kDecodedWords];
  std::memset(out, 0xA5, sizeof out);
  uint32_t ok = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (g_open_ring->open(buf.get(), buf_size, offsets[i], lengths[i], out + i * kDecodedWords) == blipcast::kOk) ok++;
  }

  uint32_t expected_ok = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t want[kDecodedWords];
    reference_open(shadow.get(), buf_size, offsets[i], lengths[i], want);
    const uint32_t* got = out + i * kDecodedWords;
    if (std::memcmp(want, got, sizeof want) != 0) std::abort();
    if (want[0] == 0) expected_ok++;
    if (want[0] < 72) g_codes[want[0]]++;
    if (!expected[i].check) continue;
    // An unmutated datagram sealed under a key the receiver holds: its own fields back, or the header check's verdict.
    const uint8_t* clear = rest + expected[i].clear_at;
    const uint32_t type = clear[3];
    const uint32_t code = type < 1 || type > 7 ? 6u : be32(clear + 16) >= (1u << 21) ? 7u : 0u;
    if (got[0] != code) std::abort();
    if (code != 0) continue;
    const uint32_t plain = static_cast<uint32_t>(expected[i].clear_len - kHeaderBytes);
    if (got[1] != (type | static_cast<uint32_t>(clear[4]) << 8 | expected[i].key_id << 16) || got[2] != be16(clear + 6) ||
        got[3] != be32(clear + 8) || got[4] != be32(clear + 12) || got[5] != be32(clear + 16) ||
        got[6] != be32(clear + 20) || got[7] != plain) {
      std::abort();
    }
    if (std::memcmp(buf.get() + offsets[i] + kHeaderBytes, clear + kHeaderBytes, plain) != 0) std::abort();
    g_round_trips++;
  }
  if (ok != expected_ok) std::abort();
  if (buf_size > 0 && std::memcmp(buf.get(), shadow.get(), buf_size) != 0) std::abort();
  for (size_t k = count * kDecodedWords; k < kMaxBatch * kDecodedWords; k++) {
    if (out[k] != 0xA5A5A5A5u) std::abort();
  }
  return 0;
}
