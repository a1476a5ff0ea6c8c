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
  std::string compressed;
  std::string_view payload = plain;
  meta->flags = kChunkKeyedChecksums;
  if (level_ > 0 && Compress(plain, level_, &compressed)) {
    payload = compressed;
    meta->flags |= kChunkCompressed;
  }
  meta->plain_size = static_cast<uint32_t>(plain.size());
  meta->nonce = RandomBytes(kNonceSize);
  std::string sealed;
  QS_RETURN_IF_ERROR(Seal(keys_[0], meta->nonce, ChunkAad(object_id, index), payload, &sealed));
  meta->sealed_size = static_cast<uint32_t>(sealed.size());
  coder_->Encode(sealed, shards);
  meta->shard_size = static_cast<uint32_t>((*shards)[0].size());
  meta->fragments.assign(shards->size(), FragmentMeta{});
  for (size_t i = 0; i < shards->size(); ++i)
    meta->fragments[i].checksum = FragmentChecksum(FragmentNonce(*meta, i), (*shards)[i]);
  meta->challenges.clear();
  std::string pick = RandomBytes(static_cast<size_t>(challenges_));
  for (int c = 0; c < challenges_; ++c) {
    Challenge ch;
    ch.fragment = static_cast<uint8_t>(static_cast<uint8_t>(pick[static_cast<size_t>(c)]) % shards->size());
    ch.nonce = RandomBytes(16);
    ch.expected = Proof(ch.nonce, (*shards)[ch.fragment]);
    meta->challenges.push_back(std::move(ch));
  }
  return Status::OK();
}

Status ChunkCodec::Decode(const std::string& object_id, uint32_t index, const ChunkMeta& meta,
                          const std::vector<std::string>& shards, const std::vector<bool>& present,
                          std::string* plain) const {
  std::string sealed;
  QS_RETURN_IF_ERROR(coder_->Decode(shards, present, meta.sealed_size, &sealed));
  std::string payload;
  const std::string aad = ChunkAad(object_id, index);
  Status opened = Open(keys_[0], meta.nonce, aad, sealed, &payload);
  // Older keys (rotation) only when the current one does not authenticate.
  for (size_t k = 1; !opened.ok() && opened.IsCorruption() && k < keys_.size(); ++k) {
    if (Open(keys_[k], meta.nonce, aad, sealed, &payload).ok()) opened = Status::OK();
  }
  QS_RETURN_IF_ERROR(opened);
  if (meta.flags & kChunkCompressed) return Decompress(payload, meta.plain_size, plain);
  if (payload.size() != meta.plain_size) return Status::Corruption("chunk size does not match its metadata");
  *plain = std::move(payload);
  return Status::OK();
}

}  // namespace zstor
