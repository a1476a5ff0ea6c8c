// One chunk through the pipeline: zstd (skipped when it does not shrink) ->
// AES-256-GCM (fresh nonce, object id + chunk index as associated data) ->
// Reed-Solomon k+m -> a keyed checksum per fragment, plus proof-of-storage
// challenges. Decode runs the same steps backwards, trying the current key
// and then older ones (key rotation). Stateless and thread-safe; the coder
// must outlive the codec.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "zstor/crypto.h"
#include "zstor/erasure_coder.h"
#include "zstor/metadata.h"

namespace zstor {

class ChunkCodec {
 public:
  ChunkCodec(const ErasureCoder* coder, const Key* key, int compression_level, int challenges_per_chunk = 2)
      : ChunkCodec(coder, std::vector<Key>{*key}, compression_level, challenges_per_chunk) {}
  // keys[0] encrypts; Decode accepts any of keys. keys must not be empty.
  ChunkCodec(const ErasureCoder* coder, std::vector<Key> keys, int compression_level, int challenges_per_chunk = 2)
      : coder_(coder), keys_(std::move(keys)), level_(compression_level), challenges_(challenges_per_chunk) {}

  // Fills meta (everything but fragment locations) and the k + m shards.
  qs::Status Encode(const std::string& object_id, uint32_t index, std::string_view plain, ChunkMeta* meta,
                    std::vector<std::string>* shards) const;
  // The same into one buffer: *buf starts with the k + m shards one after
  // the other (Shard() views them), sealed and parity-coded in place, with
  // no copy of the payload. *buf grows when too small and is never shrunk,
  // so a reused buffer is not zeroed again; MaxEncodedSize bounds it.
  qs::Status EncodeInto(const std::string& object_id, uint32_t index, std::string_view plain, ChunkMeta* meta,
                        std::string* buf) const;
  size_t MaxEncodedSize(size_t plain_size) const {
    return static_cast<size_t>(coder_->k() + coder_->m()) * coder_->ShardSize(plain_size + kTagSize);
  }
  // Fragment i of a buffer EncodeInto filled for meta.
  static std::string_view Shard(const std::string& buf, const ChunkMeta& meta, size_t i) {
    return std::string_view(buf).substr(i * meta.shard_size, meta.shard_size);
  }

  // present[i]: shards[i] holds fragment i. Needs k of them; Corruption
  // when authentication or decompression fails (a fragment that was not
  // what was stored makes the chunk fail to authenticate).
  qs::Status Decode(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                    const std::vector<std::string>& shards, const std::vector<bool>& present,
                    std::string* plain) const;
  // Decode into out (room for meta.plain_size bytes), rebuilding missing
  // data shards in *shards in place: no copy of the payload on the way.
  // out's contents are unspecified (never unauthenticated plaintext) on
  // failure.
  qs::Status DecodeInto(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                        std::vector<std::string>* shards, const std::vector<bool>& present, char* out) const;

  // True when fragment bytes match the checksum recorded for fragment i.
  static bool FragmentValid(const ChunkMeta& meta, size_t i, std::string_view bytes);
  // The key of fragment i's checksum: the chunk nonce then the index byte,
  // so `PROVE key FragmentNonce` answers the recorded checksum and every
  // fragment is verifiable without a download. Empty for chunks written
  // before kChunkKeyedChecksums (their checksum is a plain SHA-256).
  static std::string FragmentNonce(const ChunkMeta& meta, size_t i);
  // The checksum of fragment bytes under `nonce` (empty: SHA-256).
  static Digest FragmentChecksum(std::string_view nonce, std::string_view bytes);
  // HMAC-SHA256(nonce, bytes): what zdb's PROVE answers (hex) for a fragment.
  static Digest Proof(std::string_view nonce, std::string_view bytes);

  // The chunk's entry in its object's hash list (ObjectMeta::checksum,
  // docs/zstor-metadata.md): with kChunkTagDigest its 16-byte GCM tag, the
  // last bytes of the sealed payload, which data fragments hold, else (older
  // writers) the SHA-256 of its plaintext. data_shard(i) views data fragment
  // i, as stored or rebuilt; plain is only read without the flag.
  template <typename ShardFn>
  static std::string ListEntry(const ChunkMeta& meta, ShardFn data_shard, std::string_view plain) {
    if (!(meta.flags & kChunkTagDigest)) {
      Digest d = Sha256(plain);
      return std::string(reinterpret_cast<const char*>(d.data()), d.size());
    }
    std::string tag;
    if (meta.sealed_size < kTagSize || meta.shard_size == 0) return tag;  // DecodeData refuses such a chunk
    for (size_t pos = meta.sealed_size - kTagSize; pos < meta.sealed_size;) {
      std::string_view shard = data_shard(pos / meta.shard_size);
      const size_t at = pos % meta.shard_size;
      const size_t n = std::min<size_t>(meta.sealed_size - pos, meta.shard_size - at);
      tag.append(shard.substr(at, n));
      pos += n;
    }
    return tag;
  }

  const ErasureCoder& coder() const { return *coder_; }

 private:
  // Opens and decompresses the sealed payload held by the k data shards.
  qs::Status DecodeData(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                        const std::vector<std::string>& shards, char* out) const;

  const ErasureCoder* coder_;
  std::vector<Key> keys_;
  int level_;
  int challenges_;
};

}  // namespace zstor
