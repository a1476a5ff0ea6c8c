// Cryptographic primitives of zstor on OpenSSL: AES-256-GCM sealing with
// associated data, SHA-256, and random bytes. Nothing here is hand-rolled.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zstor {

constexpr size_t kKeySize = 32;    // AES-256
constexpr size_t kNonceSize = 12;  // GCM's 96-bit IV
constexpr size_t kTagSize = 16;    // GCM tag, appended to the ciphertext

struct Key {
  std::array<uint8_t, kKeySize> bytes{};
  // Exactly 64 hex digits; InvalidArgument naming what is wrong otherwise.
  static qs::Result<Key> FromHex(std::string_view hex);
  static Key Random();
  std::string ToHex() const;
};

// Encrypts plaintext; *sealed = ciphertext || 16-byte tag. nonce must be
// kNonceSize bytes and never reused with the same key.
qs::Status Seal(const Key& key, std::string_view nonce, std::string_view aad, std::string_view plaintext,
                std::string* sealed);
// Seal into out, which has room for plaintext.size() + kTagSize bytes
// (ciphertext, then the tag). out must not overlap plaintext.
qs::Status SealInto(const Key& key, std::string_view nonce, std::string_view aad, std::string_view plaintext,
                    char* out);
// Decrypts and authenticates; Corruption("authentication failed ...") when
// the key, nonce, aad or any byte of sealed is not what Seal used.
qs::Status Open(const Key& key, std::string_view nonce, std::string_view aad, std::string_view sealed,
                std::string* plaintext);
// Open for a sealed stream held in pieces (their concatenation is what Seal
// produced), decrypted straight into out, which has room for the total
// size minus kTagSize. On failure out is wiped: its bytes are never
// plaintext that did not authenticate.
qs::Status OpenInto(const Key& key, std::string_view nonce, std::string_view aad,
                    const std::vector<std::string_view>& sealed, char* out);

std::string RandomBytes(size_t n);  // from OpenSSL's CSPRNG

using Digest = std::array<uint8_t, 32>;
Digest Sha256(std::string_view data);
std::string ToHex(std::string_view bytes);

// Incremental SHA-256 (whole-object checksums over streamed chunks).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::string_view data);
  Digest Finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

}  // namespace zstor
