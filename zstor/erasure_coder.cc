#include "zstor/erasure_coder.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <cstring>

namespace zstor {
namespace {

constexpr size_t kAlign = 64;     // isa-l SIMD width; shard sizes are multiples of it
constexpr size_t kTableBytes = 32;  // ec_init_tables emits 32 bytes per coefficient

// Common argument checks for Decode/Reconstruct. On success *shard_size is the
// size shared by every present shard and *present_count how many there are.
qs::Status CheckShards(int k, int m, const std::vector<std::string>& shards, const std::vector<bool>& present,
                       size_t* shard_size, int* present_count) {
  const size_t n = static_cast<size_t>(k + m);
  if (shards.size() != n || present.size() != n) {
    return qs::Status::InvalidArgument("expected " + std::to_string(n) + " shards and presence flags, got " +
                                       std::to_string(shards.size()) + " and " + std::to_string(present.size()));
  }
  int count = 0;
  size_t size = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!present[i]) continue;
    if (count == 0) {
      size = shards[i].size();
      if (size == 0) return qs::Status::InvalidArgument("shard " + std::to_string(i) + " is empty");
    } else if (shards[i].size() != size) {
      return qs::Status::InvalidArgument("shard " + std::to_string(i) + " has " + std::to_string(shards[i].size()) +
                                         " bytes, expected " + std::to_string(size));
    }
    ++count;
  }
  *shard_size = size;
  *present_count = count;
  return qs::Status::OK();
}

qs::Status NotEnough(int k, int have) {
  return qs::Status::Unavailable("need " + std::to_string(k) + " shards, have " + std::to_string(have));
}

// First k present indices, in index order. Caller ensures at least k exist.
std::vector<int> PickSources(int k, const std::vector<bool>& present) {
  std::vector<int> sources;
  sources.reserve(k);
  for (size_t i = 0; i < present.size() && static_cast<int>(sources.size()) < k; ++i) {
    if (present[i]) sources.push_back(static_cast<int>(i));
  }
  return sources;
}

unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
unsigned char* Bytes(const std::string& s) {
  // isa-l takes non-const source pointers but only reads through them.
  return reinterpret_cast<unsigned char*>(const_cast<char*>(s.data()));
}

// ec_encode_data takes an int length; feed it pieces so any size_t works.
void EncodeRows(size_t len, int k, int rows, const std::vector<uint8_t>& tables, std::vector<unsigned char*> src,
                std::vector<unsigned char*> dst) {
  constexpr size_t kPiece = size_t{1} << 30;
  unsigned char* gftbls = const_cast<unsigned char*>(tables.data());
  for (size_t off = 0; off < len; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, len - off));
    ec_encode_data(n, k, rows, gftbls, src.data(), dst.data());
    if (len - off <= kPiece) break;
    for (auto& p : src) p += kPiece;
    for (auto& p : dst) p += kPiece;
  }
}

}  // namespace

ErasureCoder::ErasureCoder(int k, int m) : k_(k), m_(m) {
  const int rows = k + m;
  matrix_.resize(static_cast<size_t>(rows) * k);
  // Top k x k is the identity; the m rows below are Cauchy, 1 / (i ^ j).
  gf_gen_cauchy1_matrix(matrix_.data(), rows, k);
  if (m > 0) {
    encode_tables_.resize(static_cast<size_t>(k) * m * kTableBytes);
    ec_init_tables(k, m, &matrix_[static_cast<size_t>(k) * k], encode_tables_.data());
  }
}

qs::Result<std::unique_ptr<ErasureCoder>> ErasureCoder::Create(int k, int m) {
  if (k < 1 || m < 0 || k + m > 255) {
    return qs::Status::InvalidArgument("invalid erasure coding parameters k=" + std::to_string(k) +
                                       " m=" + std::to_string(m) + " (need k >= 1, m >= 0, k + m <= 255)");
  }
  return std::unique_ptr<ErasureCoder>(new ErasureCoder(k, m));
}

size_t ErasureCoder::ShardSize(size_t payload_len) const {
  const size_t k = static_cast<size_t>(k_);
  size_t per = payload_len / k + (payload_len % k != 0 ? 1 : 0);
  per = (per + kAlign - 1) / kAlign * kAlign;
  return std::max(per, kAlign);
}

void ErasureCoder::Encode(std::string_view payload, std::vector<std::string>* shards) const {
  const size_t size = ShardSize(payload.size());
  const int n = k_ + m_;
  shards->resize(n);
  std::vector<unsigned char*> ptrs(n);
  for (int i = 0; i < n; ++i) {
    std::string& s = (*shards)[i];
    s.assign(size, '\0');
    if (i < k_) {
      const size_t off = static_cast<size_t>(i) * size;
      if (off < payload.size()) std::memcpy(s.data(), payload.data() + off, std::min(size, payload.size() - off));
    }
    ptrs[i] = Bytes(s);
  }
  if (m_ == 0) return;
  EncodeRows(size, k_, m_, encode_tables_, std::vector<unsigned char*>(ptrs.begin(), ptrs.begin() + k_),
             std::vector<unsigned char*>(ptrs.begin() + k_, ptrs.end()));
}

void ErasureCoder::EncodeParity(char* base, size_t shard_size) const {
  if (m_ == 0) return;
  std::vector<unsigned char*> src(static_cast<size_t>(k_)), dst(static_cast<size_t>(m_));
  auto* p = reinterpret_cast<unsigned char*>(base);
  for (int i = 0; i < k_; ++i) src[static_cast<size_t>(i)] = p + static_cast<size_t>(i) * shard_size;
  for (int j = 0; j < m_; ++j) dst[static_cast<size_t>(j)] = p + static_cast<size_t>(k_ + j) * shard_size;
  EncodeRows(shard_size, k_, m_, encode_tables_, std::move(src), std::move(dst));
}

qs::Result<std::shared_ptr<const std::vector<uint8_t>>> ErasureCoder::DecodeTables(
    const std::vector<int>& sources, const std::vector<int>& wanted) const {
  // Key: source indices, a separator that is never an index (255), wanted indices.
  std::string key;
  key.reserve(sources.size() + 1 + wanted.size());
  for (int s : sources) key.push_back(static_cast<char>(s));
  key.push_back(static_cast<char>(0xFF));
  for (int w : wanted) key.push_back(static_cast<char>(w));

  {
    qs::MutexLock lock(&mu_);
    auto it = decode_cache_.find(key);
    if (it != decode_cache_.end()) {
      ++decode_cache_hits_;
      return it->second;
    }
    ++decode_cache_misses_;
  }

  // Built outside the lock so concurrent decoders of other patterns don't wait.
  const int k = k_;
  std::vector<uint8_t> sub(static_cast<size_t>(k) * k);
  for (int r = 0; r < k; ++r) {
    std::memcpy(&sub[static_cast<size_t>(r) * k], &matrix_[static_cast<size_t>(sources[r]) * k], k);
  }
  std::vector<uint8_t> inv(static_cast<size_t>(k) * k);
  if (gf_invert_matrix(sub.data(), inv.data(), k) != 0) {
    // Cannot happen for a Cauchy generator with distinct source rows.
    return qs::Status::Corruption("erasure decode matrix is singular");
  }
  // data = inv * sources, so shard w = G[w] * data = (G[w] * inv) * sources.
  // For a data shard G[w] is a unit row and the product is just inv's row w.
  std::vector<uint8_t> rows(wanted.size() * k);
  for (size_t i = 0; i < wanted.size(); ++i) {
    uint8_t* out = &rows[i * k];
    const int w = wanted[i];
    if (w < k) {
      std::memcpy(out, &inv[static_cast<size_t>(w) * k], k);
      continue;
    }
    const uint8_t* g = &matrix_[static_cast<size_t>(w) * k];
    for (int j = 0; j < k; ++j) {
      uint8_t acc = 0;
      for (int l = 0; l < k; ++l) acc ^= gf_mul(g[l], inv[static_cast<size_t>(l) * k + j]);
      out[j] = acc;
    }
  }
  auto tables = std::make_shared<std::vector<uint8_t>>(wanted.size() * k * kTableBytes);
  ec_init_tables(k, static_cast<int>(wanted.size()), rows.data(), tables->data());

  qs::MutexLock lock(&mu_);
  auto it = decode_cache_.find(key);
  if (it != decode_cache_.end()) return it->second;  // another thread raced us
  if (decode_cache_.size() >= kMaxCachedDecodeTables) decode_cache_.erase(decode_cache_.begin());
  std::shared_ptr<const std::vector<uint8_t>> result = std::move(tables);
  decode_cache_.emplace(std::move(key), result);
  return result;
}

qs::Status ErasureCoder::Decode(const std::vector<std::string>& shards, const std::vector<bool>& present,
                                size_t payload_len, std::string* payload) const {
  size_t size = 0;
  int have = 0;
  QS_RETURN_IF_ERROR(CheckShards(k_, m_, shards, present, &size, &have));
  if (have < k_) return NotEnough(k_, have);
  const size_t k = static_cast<size_t>(k_);
  if (payload_len > size * k) {
    return qs::Status::InvalidArgument("payload length " + std::to_string(payload_len) + " exceeds " +
                                       std::to_string(k) + " shards of " + std::to_string(size) + " bytes");
  }

  bool all_data = true;
  for (size_t i = 0; i < k && all_data; ++i) all_data = present[i];
  if (all_data) {
    payload->clear();
    payload->reserve(payload_len);
    for (size_t i = 0; i < k && payload->size() < payload_len; ++i) {
      payload->append(shards[i], 0, std::min(size, payload_len - payload->size()));
    }
    return qs::Status::OK();
  }

  const std::vector<int> sources = PickSources(k_, present);
  std::vector<int> wanted;
  for (int i = 0; i < k_; ++i) {
    if (!present[i]) wanted.push_back(i);
  }
  auto tables = DecodeTables(sources, wanted);
  if (!tables.ok()) return tables.status();

  // Rebuild straight into the payload buffer: present data shards are copied
  // into place, missing ones are written there by isa-l.
  std::string out(size * k, '\0');
  std::vector<unsigned char*> src(k), dst(wanted.size());
  for (size_t i = 0; i < k; ++i) src[i] = Bytes(shards[sources[i]]);
  for (size_t i = 0; i < wanted.size(); ++i) dst[i] = Bytes(out) + static_cast<size_t>(wanted[i]) * size;
  for (size_t i = 0; i < k; ++i) {
    if (present[i]) std::memcpy(out.data() + i * size, shards[i].data(), size);
  }
  EncodeRows(size, k_, static_cast<int>(wanted.size()), **tables, std::move(src), std::move(dst));
  out.resize(payload_len);
  *payload = std::move(out);
  return qs::Status::OK();
}

qs::Status ErasureCoder::Reconstruct(std::vector<std::string>* shards, const std::vector<bool>& present,
                                     bool data_only) const {
  size_t size = 0;
  int have = 0;
  QS_RETURN_IF_ERROR(CheckShards(k_, m_, *shards, present, &size, &have));
  if (have < k_) return NotEnough(k_, have);
  std::vector<int> wanted;
  for (int i = 0; i < (data_only ? k_ : k_ + m_); ++i) {
    if (!present[i]) wanted.push_back(i);
  }
  if (wanted.empty()) return qs::Status::OK();

  const std::vector<int> sources = PickSources(k_, present);
  auto tables = DecodeTables(sources, wanted);
  if (!tables.ok()) return tables.status();

  std::vector<unsigned char*> src(k_), dst(wanted.size());
  for (int i = 0; i < k_; ++i) src[i] = Bytes((*shards)[sources[i]]);
  for (size_t i = 0; i < wanted.size(); ++i) {
    std::string& s = (*shards)[wanted[i]];
    s.assign(size, '\0');  // sources are present shards, so their buffers are untouched
    dst[i] = Bytes(s);
  }
  EncodeRows(size, k_, static_cast<int>(wanted.size()), **tables, std::move(src), std::move(dst));
  return qs::Status::OK();
}

}  // namespace zstor
