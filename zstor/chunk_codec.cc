#include "zstor/chunk_codec.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "zstor/compressor.h"

namespace zstor {

using qs::Status;

Digest ChunkCodec::Proof(std::string_view nonce, std::string_view bytes) {
  Digest d{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), nonce.data(), static_cast<int>(nonce.size()), reinterpret_cast<const unsigned char*>(bytes.data()),
       bytes.size(), d.data(), &len);
  return d;
}

std::string ChunkCodec::FragmentNonce(const ChunkMeta& meta, size_t i) {
  if (!(meta.flags & kChunkKeyedChecksums)) return "";
  std::string n = meta.nonce;
  n.push_back(static_cast<char>(static_cast<uint8_t>(i)));
  return n;
}

Digest ChunkCodec::FragmentChecksum(std::string_view nonce, std::string_view bytes) {
  return nonce.empty() ? Sha256(bytes) : Proof(nonce, bytes);
}

bool ChunkCodec::FragmentValid(const ChunkMeta& meta, size_t i, std::string_view bytes) {
  return i < meta.fragments.size() && bytes.size() == meta.shard_size &&
         FragmentChecksum(FragmentNonce(meta, i), bytes) == meta.fragments[i].checksum;
}

Status ChunkCodec::Encode(const std::string& object_id, uint32_t index, std::string_view plain, ChunkMeta* meta,
                          std::vector<std::string>* shards) const {
  std::string buf;
  QS_RETURN_IF_ERROR(EncodeInto(object_id, index, plain, meta, &buf));
  shards->clear();
  for (size_t i = 0; i < meta->fragments.size(); ++i) shards->emplace_back(Shard(buf, *meta, i));
  return Status::OK();
}

Status ChunkCodec::EncodeInto(const std::string& object_id, uint32_t index, std::string_view plain, ChunkMeta* meta,
                              std::string* buf) const {
  // The compressed payload lives in a buffer kept per thread.
  thread_local std::string compressed;
  std::string_view payload = plain;
  meta->flags = kChunkKeyedChecksums | kChunkTagDigest;
  size_t csize = 0;
  if (level_ > 0 && CompressInto(plain, level_, &compressed, &csize)) {
    payload = std::string_view(compressed.data(), csize);
    meta->flags |= kChunkCompressed;
  }
  meta->plain_size = static_cast<uint32_t>(plain.size());
  meta->nonce = RandomBytes(kNonceSize);
  const size_t k = static_cast<size_t>(coder_->k());
  const size_t n = k + static_cast<size_t>(coder_->m());
  const size_t sealed_size = payload.size() + kTagSize;
  const size_t shard = coder_->ShardSize(sealed_size);
  if (buf->size() < n * shard) buf->resize(n * shard);  // never shrunk: a kept buffer stays warm
  // Sealed straight into the data shards, then their padding zeroed and
  // the parity computed behind them.
  QS_RETURN_IF_ERROR(SealInto(keys_[0], meta->nonce, ChunkAad(object_id, index), payload, buf->data()));
  std::memset(buf->data() + sealed_size, 0, k * shard - sealed_size);
  coder_->EncodeParity(buf->data(), shard);
  meta->sealed_size = static_cast<uint32_t>(sealed_size);
  meta->shard_size = static_cast<uint32_t>(shard);
  meta->fragments.assign(n, FragmentMeta{});
  for (size_t i = 0; i < n; ++i)
    meta->fragments[i].checksum = FragmentChecksum(FragmentNonce(*meta, i), Shard(*buf, *meta, i));
  meta->challenges.clear();
  std::string pick = RandomBytes(static_cast<size_t>(challenges_));
  for (int c = 0; c < challenges_; ++c) {
    Challenge ch;
    ch.fragment = static_cast<uint8_t>(static_cast<uint8_t>(pick[static_cast<size_t>(c)]) % n);
    ch.nonce = RandomBytes(16);
    ch.expected = Proof(ch.nonce, Shard(*buf, *meta, ch.fragment));
    meta->challenges.push_back(std::move(ch));
  }
  return Status::OK();
}

Status ChunkCodec::Decode(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                          const std::vector<std::string>& shards, const std::vector<bool>& present,
                          std::string* plain) const {
  const size_t k = static_cast<size_t>(coder_->k());
  bool all_data = present.size() >= k;
  for (size_t i = 0; i < k && all_data; ++i) all_data = present[i];
  std::string out(meta.plain_size, '\0');
  Status s;
  if (all_data) {
    s = DecodeData(object_id, index, meta, shards, out.data());
  } else {
    std::vector<std::string> rebuilt = shards;
    s = DecodeInto(object_id, index, meta, &rebuilt, present, out.data());
  }
  if (!s.ok()) {
    plain->clear();
    return s;
  }
  *plain = std::move(out);
  return Status::OK();
}

Status ChunkCodec::DecodeInto(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                              std::vector<std::string>* shards, const std::vector<bool>& present, char* out) const {
  QS_RETURN_IF_ERROR(coder_->Reconstruct(shards, present, /*data_only=*/true));
  return DecodeData(object_id, index, meta, *shards, out);
}

Status ChunkCodec::DecodeData(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                              const std::vector<std::string>& shards, char* out) const {
  const size_t k = static_cast<size_t>(coder_->k());
  if (shards.size() < k) return Status::InvalidArgument("fewer shards than data fragments");
  // The sealed payload is the first sealed_size bytes of the data shards.
  std::vector<std::string_view> sealed;
  size_t left = meta.sealed_size;
  for (size_t i = 0; i < k && left > 0; ++i) {
    std::string_view piece = std::string_view(shards[i]).substr(0, left);
    sealed.push_back(piece);
    left -= piece.size();
  }
  if (left > 0) return Status::Corruption("data fragments hold fewer bytes than the sealed chunk");
  if (meta.sealed_size < kTagSize) return Status::Corruption("sealed chunk is shorter than its tag");
  const size_t payload_size = meta.sealed_size - kTagSize;
  const bool compressed = (meta.flags & kChunkCompressed) != 0;
  if (!compressed && payload_size != meta.plain_size)
    return Status::Corruption("chunk size does not match its metadata");
  // A compressed payload is decrypted into a buffer kept per thread, then
  // decompressed into out; a raw one straight into out.
  thread_local std::string scratch;
  char* dst = out;
  if (compressed) {
    if (scratch.size() < payload_size) scratch.resize(payload_size);
    dst = scratch.data();
  }
  const std::string aad = ChunkAad(object_id, index);
  // Older keys (rotation) only when the current one does not authenticate.
  Status opened = OpenInto(keys_[0], meta.nonce, aad, sealed, dst);
  for (size_t key = 1; !opened.ok() && opened.IsCorruption() && key < keys_.size(); ++key) {
    if (OpenInto(keys_[key], meta.nonce, aad, sealed, dst).ok()) opened = Status::OK();
  }
  QS_RETURN_IF_ERROR(opened);
  // With kChunkTagDigest the frame must carry zstd's content checksum: it
  // is what checks the decompressed bytes (the hash list holds the tag).
  if (compressed)
    return DecompressInto(std::string_view(scratch.data(), payload_size), meta.plain_size, out,
                          (meta.flags & kChunkTagDigest) != 0);
  return Status::OK();
}

}  // namespace zstor
