// The metadata record of one stored object: everything needed to find,
// verify and rebuild it. Encoded as a versioned binary record, byte for byte
// as in docs/zstor-metadata.md; encrypted and dispersed by MetaStore.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "zstor/crypto.h"

namespace zstor {

constexpr uint8_t kMetadataVersion = 1;

enum ChunkFlags : uint8_t {
  kChunkCompressed = 1,       // the sealed payload holds zstd output
  kChunkKeyedChecksums = 2,   // fragment checksums are HMACs keyed by FragmentNonce
  kChunkTagDigest = 4,        // hash-list entry is the GCM tag; zstd frames carry their content checksum
  kChunkKnownFlags = 7,       // a reader refuses chunks with other bits set
};

// Where one fragment lives and what it must hash to.
struct FragmentMeta {
  uint16_t backend = 0;  // index into ObjectMeta::backends
  std::string key;       // zdb key (8-byte sequential id)
  Digest checksum{};     // of the fragment bytes: see ChunkCodec::FragmentChecksum
};

// A proof-of-storage challenge: PROVE key nonce must answer `expected`.
struct Challenge {
  uint8_t fragment = 0;  // index in the chunk's fragments
  std::string nonce;     // 16 bytes
  Digest expected{};     // HMAC-SHA256(nonce, fragment bytes)
};

struct ChunkMeta {
  uint32_t plain_size = 0;   // bytes of the original object in this chunk
  uint32_t sealed_size = 0;  // bytes erasure-coded (ciphertext + tag)
  uint8_t flags = 0;
  std::string nonce;         // 12-byte AES-GCM nonce
  uint32_t shard_size = 0;   // bytes of each fragment
  std::vector<FragmentMeta> fragments;  // k + m, in shard order
  std::vector<Challenge> challenges;
};

struct BackendRef {
  std::string address;  // "host:port" or "unix:/path"
  std::string ns;
};

struct ObjectMeta {
  std::string object_id;  // 16 random bytes; bound into every chunk's AAD
  std::string path;
  uint64_t size = 0;
  Digest checksum{};      // SHA-256 of the chunks' hash-list entries, in order: ChunkCodec::ListEntry
  uint8_t k = 0, m = 0;
  uint32_t chunk_size = 0;
  uint8_t compression_level = 0;  // 0: compression off
  uint64_t created = 0;           // unix seconds
  std::vector<BackendRef> backends;
  std::vector<ChunkMeta> chunks;
};

std::string EncodeObjectMeta(const ObjectMeta& m);
qs::Status DecodeObjectMeta(std::string_view buf, ObjectMeta* m);

// Associated data bound to a chunk's encryption: object id || chunk index.
std::string ChunkAad(const std::string& object_id, uint32_t chunk_index);

}  // namespace zstor
