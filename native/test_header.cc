// Checks the native header decoder against the shared hex vectors in
// test/vectors/header.json (the same file test/header.test.ts and
// test/native.test.ts use). Built by native/CMakeLists.txt; run by ctest or as
//   ./test_header path/to/header.json
// Exit status 0 when every vector decodes as expected.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crc32c.h"
#include "header.h"

#ifndef BLIPCAST_VECTORS_PATH
#define BLIPCAST_VECTORS_PATH "test/vectors/header.json"
#endif

namespace {

const char* const kRejectNames[] = {"ok", "truncated", "bad-magic", "bad-version",
                                    "bad-length", "bad-checksum", "unknown-type", "bad-sequence"};

// The string value of "key": "..." at or after `from` and before `to`; empty when absent.
bool string_field(const std::string& text, size_t from, size_t to, const std::string& key, std::string* out) {
  size_t at = text.find("\"" + key + "\"", from);
  if (at == std::string::npos || at >= to) return false;
  size_t open = text.find('"', text.find(':', at) + 1);
  size_t close = text.find('"', open + 1);
  *out = text.substr(open + 1, close - open - 1);
  return true;
}

// The unsigned number value of "key": N between from and to.
bool number_field(const std::string& text, size_t from, size_t to, const std::string& key, uint64_t* out) {
  size_t at = text.find("\"" + key + "\"", from);
  if (at == std::string::npos || at >= to) return false;
  *out = std::strtoull(text.c_str() + text.find(':', at) + 1, nullptr, 10);
  return true;
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : BLIPCAST_VECTORS_PATH;
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "cannot read %s\n", path);
    return 2;
  }
  std::stringstream ss;
  ss << file.rdbuf();
  const std::string text = ss.str();
  int failures = 0;
  int checked = 0;

  std::string input, crc_hex;
  const size_t check_at = text.find("\"crc32cCheck\"");
  string_field(text, check_at, text.size(), "input", &input);
  string_field(text, check_at, text.size(), "crc", &crc_hex);
  const auto* in = reinterpret_cast<const uint8_t*>(input.data());
  const uint32_t want_crc = static_cast<uint32_t>(std::stoul(crc_hex, nullptr, 16));
  if (blipcast::crc32c_update(0, in, input.size()) != want_crc ||
      blipcast::crc32c_update_table(0, in, input.size()) != want_crc) {
    std::fprintf(stderr, "FAIL crc32c check value (%s)\n", blipcast::crc32c_implementation());
    failures++;
  }

  size_t at = text.find("\"vectors\"");
  while ((at = text.find("\"name\"", at)) != std::string::npos) {
    size_t next = text.find("\"name\"", at + 1);
    const size_t end = next == std::string::npos ? text.size() : next;
    std::string name, hex, expect;
    string_field(text, at, end, "name", &name);
    string_field(text, at, end, "hex", &hex);
    string_field(text, at, end, "expect", &expect);
    std::vector<uint8_t> bytes = from_hex(hex);
    // Decoded in the middle of a larger buffer, as in a receive batch.
    std::vector<uint8_t> buffer(bytes.size() + 16, 0xee);
    std::copy(bytes.begin(), bytes.end(), buffer.begin() + 8);
    uint32_t out[blipcast::kDecodedWords];
    const uint32_t code = blipcast::decode_header(buffer.data(), buffer.size(), 8, bytes.size(), out);
    bool ok = code < 8 && expect == kRejectNames[code];
    if (ok && code == blipcast::kOk) {
      uint64_t type = 0, flags = 0, key = 0, stream = 0, hi = 0, lo = 0, seq = 0, len = 0;
      number_field(text, at, end, "type", &type);
      number_field(text, at, end, "flags", &flags);
      number_field(text, at, end, "keyId", &key);
      number_field(text, at, end, "streamId", &stream);
      number_field(text, at, end, "sessionHi", &hi);
      number_field(text, at, end, "sessionLo", &lo);
      number_field(text, at, end, "sequence", &seq);
      number_field(text, at, end, "payloadLength", &len);
      ok = out[1] == (type | flags << 8 | key << 16) && out[2] == stream && out[3] == hi && out[4] == lo &&
           out[5] == (seq >> 32) && out[6] == (seq & 0xffffffffu) && out[7] == len;
    }
    std::printf("%s %s: %s (got %s)\n", ok ? "ok  " : "FAIL", name.c_str(), expect.c_str(),
                code < 8 ? kRejectNames[code] : "?");
    if (!ok) failures++;
    checked++;
    at = end;
  }
  std::printf("%d vectors, %d failures, crc32c %s\n", checked, failures, blipcast::crc32c_implementation());
  return failures == 0 && checked > 0 ? 0 : 1;
}
