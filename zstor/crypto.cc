#include "zstor/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common/hex.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

// OpenSSL's update functions take int lengths; longer inputs are fed in
// pieces of at most this many bytes.
constexpr size_t kMaxUpdate = size_t{1} << 30;

// For failures that cannot be reported through the API (the CSPRNG or the
// digest refusing to work): there is no safe way to continue.
[[noreturn]] void Fatal(const char* what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "no OpenSSL error queued";
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  std::fprintf(stderr, "zstor crypto: %s failed: %s\n", what, buf);
  std::abort();
}

// An OpenSSL call failed where it should not (allocation, provider trouble):
// reported as IOError with OpenSSL's reason, and the error queue drained so
// it cannot confuse a later call on this thread.
Status OpenSslError(const char* what) {
  unsigned long e = ERR_get_error();
  std::string msg = "OpenSSL ";
  msg += what;
  msg += " failed";
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return Status::IOError(msg);
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* U8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* U8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Sets up ctx for AES-256-GCM with key and a kNonceSize nonce, and feeds aad.
Status Init(EVP_CIPHER_CTX* ctx, bool encrypt, const Key& key, std::string_view nonce, std::string_view aad) {
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  if (init(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1) return OpenSslError("cipher init");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) != 1) {
    return OpenSslError("set GCM IV length");
  }
  if (init(ctx, nullptr, nullptr, key.bytes.data(), U8(nonce)) != 1) return OpenSslError("key/IV init");
  while (!aad.empty()) {
    size_t n = std::min(aad.size(), kMaxUpdate);
    int outl = 0;
    if (update(ctx, nullptr, &outl, U8(aad), static_cast<int>(n)) != 1) return OpenSslError("AAD update");
    aad.remove_prefix(n);
  }
  return Status::OK();
}

// Runs in through the (already initialised) cipher into out, which must have
// room for in.size() bytes; GCM is a stream mode, so output == input length.
Status Crypt(EVP_CIPHER_CTX* ctx, bool encrypt, std::string_view in, unsigned char* out) {
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  while (!in.empty()) {
    size_t n = std::min(in.size(), kMaxUpdate);
    int outl = 0;
    if (update(ctx, out, &outl, U8(in), static_cast<int>(n)) != 1) return OpenSslError("cipher update");
    if (static_cast<size_t>(outl) != n) return Status::IOError("OpenSSL GCM update returned an unexpected length");
    out += n;
    in.remove_prefix(n);
  }
  return Status::OK();
}

}  // namespace

Result<Key> Key::FromHex(std::string_view hex) {
  if (hex.size() != 2 * kKeySize) {
    return Status::InvalidArgument("encryption key must be 64 hex digits (32 bytes), got " +
                                   std::to_string(hex.size()) + " characters");
  }
  Key key;
  for (size_t i = 0; i < hex.size(); ++i) {
    int v = qs::HexDigitValue(hex[i]);
    // The offending character is not echoed: it is part of a secret.
    if (v < 0) {
      return Status::InvalidArgument("encryption key has a non-hex character at position " + std::to_string(i));
    }
    if (i % 2 == 0) {
      key.bytes[i / 2] = static_cast<uint8_t>(v << 4);
    } else {
      key.bytes[i / 2] |= static_cast<uint8_t>(v);
    }
  }
  return key;
}

Key Key::Random() {
  Key key;
  if (RAND_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1) Fatal("RAND_bytes");
  return key;
}

std::string Key::ToHex() const {
  return zstor::ToHex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Status SealInto(const Key& key, std::string_view nonce, std::string_view aad, std::string_view plaintext,
                char* out) {
  if (nonce.size() != kNonceSize) {
    return Status::InvalidArgument("nonce must be " + std::to_string(kNonceSize) + " bytes, got " +
                                   std::to_string(nonce.size()));
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  QS_RETURN_IF_ERROR(Init(ctx.get(), /*encrypt=*/true, key, nonce, aad));
  auto* dst = reinterpret_cast<unsigned char*>(out);
  QS_RETURN_IF_ERROR(Crypt(ctx.get(), /*encrypt=*/true, plaintext, dst));
  int outl = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), dst + plaintext.size(), &outl) != 1 || outl != 0) {
    return OpenSslError("encrypt final");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), dst + plaintext.size()) != 1) {
    return OpenSslError("get GCM tag");
  }
  return Status::OK();
}

Status Seal(const Key& key, std::string_view nonce, std::string_view aad, std::string_view plaintext,
            std::string* sealed) {
  // Built aside and moved in at the end, so plaintext may view *sealed.
  std::string out(plaintext.size() + kTagSize, '\0');
  QS_RETURN_IF_ERROR(SealInto(key, nonce, aad, plaintext, out.data()));
  *sealed = std::move(out);
  return Status::OK();
}

Status OpenInto(const Key& key, std::string_view nonce, std::string_view aad,
                const std::vector<std::string_view>& sealed, char* out) {
  if (nonce.size() != kNonceSize) {
    return Status::InvalidArgument("nonce must be " + std::to_string(kNonceSize) + " bytes, got " +
                                   std::to_string(nonce.size()));
  }
  size_t total = 0;
  for (std::string_view p : sealed) total += p.size();
  if (total < kTagSize) {
    return Status::Corruption("sealed data is " + std::to_string(total) + " bytes, shorter than the " +
                              std::to_string(kTagSize) + "-byte tag");
  }
  const size_t text_len = total - kTagSize;

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  QS_RETURN_IF_ERROR(Init(ctx.get(), /*encrypt=*/false, key, nonce, aad));
  // The ciphertext runs through the pieces; the tag (which OpenSSL wants in
  // a writable buffer) is their last kTagSize bytes, wherever they fall.
  unsigned char tag[kTagSize];
  size_t pos = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out);
  for (std::string_view p : sealed) {
    if (pos < text_len) {
      std::string_view text = p.substr(0, std::min(p.size(), text_len - pos));
      QS_RETURN_IF_ERROR(Crypt(ctx.get(), /*encrypt=*/false, text, dst + pos));
    }
    for (size_t i = 0; i < p.size(); ++i) {
      if (pos + i >= text_len) tag[pos + i - text_len] = static_cast<unsigned char>(p[i]);
      else i = text_len - pos - 1;  // skip to the tag
    }
    pos += p.size();
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    return OpenSslError("set GCM tag");
  }
  int outl = 0;
  unsigned char final_block[EVP_MAX_BLOCK_LENGTH];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &outl) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(out, text_len);
    return Status::Corruption("authentication failed: wrong key or tampered data");
  }
  return Status::OK();
}

Status Open(const Key& key, std::string_view nonce, std::string_view aad, std::string_view sealed,
            std::string* plaintext) {
  // Decrypted aside: nothing unauthenticated ever reaches *plaintext, and
  // sealed may view *plaintext.
  std::string out(sealed.size() >= kTagSize ? sealed.size() - kTagSize : 0, '\0');
  Status s = OpenInto(key, nonce, aad, {sealed}, out.data());
  if (!s.ok()) {
    plaintext->clear();
    return s;
  }
  *plaintext = std::move(out);
  return Status::OK();
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  unsigned char* p = U8(out);
  while (n > 0) {
    size_t k = std::min(n, kMaxUpdate);
    if (RAND_bytes(p, static_cast<int>(k)) != 1) Fatal("RAND_bytes");
    p += k;
    n -= k;
  }
  return out;
}

Digest Sha256(std::string_view data) {
  Digest d;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 || len != d.size()) {
    Fatal("EVP_Digest(SHA-256)");
  }
  return d;
}

std::string ToHex(std::string_view bytes) { return qs::HexEncode(bytes); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) Fatal("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) Fatal("EVP_DigestInit_ex");
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256Hasher::Update(std::string_view data) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1) Fatal("EVP_DigestUpdate");
}

// Returns the digest of everything passed to Update since construction (or
// the previous Finish) and starts over, so a hasher can be reused.
Digest Sha256Hasher::Finish() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  Digest d;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, d.data(), &len) != 1 || len != d.size()) Fatal("EVP_DigestFinal_ex");
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) Fatal("EVP_DigestInit_ex");
  return d;
}

}  // namespace zstor
