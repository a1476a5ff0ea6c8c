// In-process throughput of zstor::ChunkCodec, the ceiling of what
// `zstor store` / `zstor retrieve` can reach on this machine: zstd (--level,
// default 1) -> AES-256-GCM -> Reed-Solomon 16+4 -> keyed checksum per
// fragment, over --chunk (default 16 MiB) chunks of --bytes (default 1 GiB)
// of random data and of text-like data (words). Each row times exactly the
// CPU work zstor does per chunk, without I/O: encode = Encode + the chunk's
// hash-list entry (its share of the object checksum: the GCM tag);
// decode = Decode (which authenticates, and checks zstd's content checksum
// of a compressed chunk) + that entry (a retrieve checks fragments one by
// one only when a chunk fails to authenticate), with every data fragment
// there (decode: no RS work, as a healthy retrieve) or 4 of them lost
// (decode-4: every chunk needs the RS rebuild). Each on 1 thread and on 2 threads (std::thread;
// thread t handles chunks t, t + T, ...). Prints figures only; asserts no
// threshold.
//
// MB/s = plaintext bytes / 1e6 / seconds, where seconds is the longest time
// any thread spent in the timed part (the check that a decoded chunk equals
// its plaintext runs outside it). One pass per row.
//
//   zstor_codec_bench [--bytes N[K|M|G]] [--level L] [--chunk N[K|M|G]]
//   zstor_codec_bench --bytes N --write-random FILE   (write the data, exit)
//   zstor_codec_bench --bytes N --write-text FILE
// The --write-* forms produce exactly the bytes benchmarked in-process, so
// that tests/bench/zstor_bench.sh stores the same data end to end.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "zstor/chunk_codec.h"
#include "zstor/crypto.h"
#include "zstor/erasure_coder.h"
#include "zstor/metadata.h"

namespace {

constexpr int kK = 16, kM = 4;
constexpr int kMissing = 4;  // data fragments 0..3 lost for Decode

using Clock = std::chrono::steady_clock;

// splitmix64: fast, deterministic, good enough for benchmark data.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

std::string RandomData(size_t n) {
  std::string s(n, '\0');
  Rng rng(0x5eed0001);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng.Next();
    std::memcpy(&s[i], &v, 8);
  }
  uint64_t v = rng.Next();
  std::memcpy(&s[i], &v, n - i);
  return s;
}

// Text-like: words from a fixed 8192-word vocabulary of lowercase letters
// (2..11 letters), drawn with a heavy skew toward the first entries, as in
// natural language; a comma now and then, a sentence end every ~12 words,
// a newline every ~6 sentences.
std::string TextData(size_t n) {
  Rng rng(0x5eed0002);
  constexpr size_t kVocab = 8192;
  std::vector<std::string> vocab(kVocab);
  for (auto& w : vocab) {
    size_t len = 2 + rng.Next() % 10;
    for (size_t j = 0; j < len; ++j) w.push_back(static_cast<char>('a' + rng.Next() % 26));
  }
  std::string s;
  s.reserve(n + 64);
  bool capital = true;
  int sentences = 0;
  while (s.size() < n) {
    uint64_t r = rng.Next();
    double u = static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0);
    size_t idx = std::min(kVocab - 1, static_cast<size_t>(static_cast<double>(kVocab) * u * u * u));
    size_t start = s.size();
    s += vocab[idx];
    if (capital) {
      s[start] = static_cast<char>(s[start] - 'a' + 'A');
      capital = false;
    }
    uint64_t p = r & 0xff;  // low bits unused by u
    if (p < 21) {           // ~1 in 12: end of sentence
      s += '.';
      capital = true;
      if (++sentences % 6 == 0) s += '\n';
      else s += ' ';
    } else if (p < 40) {
      s += ", ";
    } else {
      s += ' ';
    }
  }
  s.resize(n);
  return s;
}

bool ParseSize(const char* arg, size_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(arg, &end, 10);
  if (end == arg) return false;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': v <<= 10; ++end; break;
    case 'm': case 'M': v <<= 20; ++end; break;
    case 'g': case 'G': v <<= 30; ++end; break;
    default: return false;
  }
  if (*end == 'i' && end[1] == 'B') end += 2;  // "16MiB"
  if (*end != '\0') return false;
  *out = static_cast<size_t>(v);
  return true;
}

int Usage() {
  std::fprintf(stderr,
               "usage: zstor_codec_bench [--bytes N[K|M|G]] [--level L] [--chunk N[K|M|G]]\n"
               "       zstor_codec_bench [--bytes N] --write-random FILE | --write-text FILE\n");
  return 2;
}

// Results folded in here are not optimised away.
volatile unsigned char benchmark_sink = 0;
void Consume(unsigned char v) { benchmark_sink = static_cast<unsigned char>(benchmark_sink ^ v); }

struct Encoded {
  zstor::ChunkMeta meta;
  std::vector<std::string> shards;
};

struct Bench {
  const zstor::ChunkCodec* codec;
  std::string object_id;
  const std::string* data;
  size_t chunk;
  size_t chunks;

  std::string_view Plain(size_t i) const {
    size_t off = i * chunk;
    return std::string_view(*data).substr(off, std::min(chunk, data->size() - off));
  }

  // Runs body(i) for every chunk on `threads` threads, chunk i on thread
  // i % threads; returns the longest per-thread time inside the timed part
  // (body returns the seconds it wants counted), or < 0 on failure.
  template <typename Body>
  double Run(int threads, Body body) const {
    std::vector<double> busy(static_cast<size_t>(threads), 0);
    std::vector<int> failed(static_cast<size_t>(threads), 0);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        for (size_t i = static_cast<size_t>(t); i < chunks; i += static_cast<size_t>(threads)) {
          double s = body(i);
          if (s < 0) {
            failed[static_cast<size_t>(t)] = 1;
            return;
          }
          busy[static_cast<size_t>(t)] += s;
        }
      });
    }
    for (auto& th : ts) th.join();
    for (int f : failed)
      if (f) return -1;
    return *std::max_element(busy.begin(), busy.end());
  }

  double Encode(int threads, std::vector<Encoded>* out) const {
    return Run(threads, [&](size_t i) -> double {
      Encoded e;
      thread_local std::string buf;  // as a store's pooled buffer: reused, warm
      auto t0 = Clock::now();
      qs::Status s = codec->EncodeInto(object_id, static_cast<uint32_t>(i), Plain(i), &e.meta, &buf);
      // The chunk's share of the object checksum.
      std::string entry = zstor::ChunkCodec::ListEntry(
          e.meta, [&](size_t j) { return zstor::ChunkCodec::Shard(buf, e.meta, j); }, Plain(i));
      Consume(entry.empty() ? 0 : static_cast<unsigned char>(entry[0]));
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      if (s.ok()) {  // split for the decode rows, untimed
        for (size_t j = 0; j < e.meta.fragments.size(); ++j) e.shards.emplace_back(zstor::ChunkCodec::Shard(buf, e.meta, j));
      }
      if (!s.ok()) {
        std::fprintf(stderr, "encode chunk %zu: %s\n", i, s.ToString().c_str());
        return -1;
      }
      (*out)[i] = std::move(e);  // the previous pass's result is freed here, untimed
      return secs;
    });
  }

  // Everything retrieve does to a chunk but I/O: decode (which
  // authenticates) into a buffer kept per thread, as retrieve's output
  // buffer, and hash the plaintext. missing data fragments (0..missing-1)
  // are replaced by the first parity fragments.
  double Decode(int threads, int missing, const std::vector<Encoded>& in) const {
    std::vector<bool> present(kK + kM, false);
    for (int j = missing; j < kK + missing; ++j) present[static_cast<size_t>(j)] = true;
    return Run(threads, [&](size_t i) -> double {
      thread_local std::string plain;
      plain.resize(in[i].meta.plain_size);
      std::vector<std::string> shards = in[i].shards;  // as fetched; untimed
      auto t0 = Clock::now();
      qs::Status s = codec->DecodeInto(object_id, static_cast<uint32_t>(i), in[i].meta, &shards, present, plain.data());
      std::string entry = zstor::ChunkCodec::ListEntry(
          in[i].meta, [&](size_t j) { return std::string_view(shards[j]); }, plain);
      Consume(entry.empty() ? 0 : static_cast<unsigned char>(entry[0]));
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!s.ok() || plain != Plain(i)) {
        std::fprintf(stderr, "decode chunk %zu: %s\n", i, s.ok() ? "plaintext differs" : s.ToString().c_str());
        return -1;
      }
      return secs;
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  size_t bytes = size_t{1} << 30, chunk = size_t{16} << 20;
  int level = 1;
  const char* write_random = nullptr;
  const char* write_text = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    const char* v = argv[++i];
    if (a == "--bytes") {
      if (!ParseSize(v, &bytes) || bytes == 0) return Usage();
    } else if (a == "--chunk") {
      if (!ParseSize(v, &chunk) || chunk == 0 || chunk > (size_t{1} << 30)) return Usage();
    } else if (a == "--level") {
      level = std::atoi(v);
      if (level < 0 || level > 19) return Usage();
    } else if (a == "--write-random") {
      write_random = v;
    } else if (a == "--write-text") {
      write_text = v;
    } else {
      return Usage();
    }
  }
  if (write_random || write_text) {
    for (auto [path, text] : {std::pair{write_random, false}, std::pair{write_text, true}}) {
      if (!path) continue;
      std::string d = text ? TextData(bytes) : RandomData(bytes);
      FILE* f = std::fopen(path, "wb");
      if (!f || std::fwrite(d.data(), 1, d.size(), f) != d.size() || std::fclose(f) != 0) {
        std::perror(path);
        return 1;
      }
    }
    return 0;
  }

  auto created = zstor::ErasureCoder::Create(kK, kM);
  if (!created.ok()) {
    std::fprintf(stderr, "erasure coder: %s\n", created.status().ToString().c_str());
    return 1;
  }
  zstor::Key key = zstor::Key::Random();
  zstor::ChunkCodec codec(created.value().get(), &key, level);

  std::printf("zstor codec: zstd level %d, AES-256-GCM, RS %d+%d, %zu MiB chunks, %.0f MiB per data set\n", level, kK,
              kM, chunk >> 20, static_cast<double>(bytes) / (1 << 20));
  std::printf("encode: + hash-list entry; decode: decode (authenticates) + hash-list entry, all data\n"
              "fragments there (decode) or %d lost (decode-%d); MB/s = plaintext MB (1e6 B) per second; %u cores online\n",
              kMissing, kMissing, std::thread::hardware_concurrency());
  std::printf("%-7s %-7s %7s %10s %12s\n", "data", "op", "threads", "MB/s", "stored/plain");
  std::fflush(stdout);

  for (bool text : {false, true}) {
    const char* name = text ? "text" : "random";
    std::string data = text ? TextData(bytes) : RandomData(bytes);
    Bench b{&codec, zstor::RandomBytes(16), &data, chunk, (bytes + chunk - 1) / chunk};
    std::vector<Encoded> enc(b.chunks);
    double mb = static_cast<double>(bytes) / 1e6;
    // Fragment bytes written per plaintext byte (RS overhead and compression).
    auto stored_ratio = [&] {
      double stored = 0;
      for (const auto& e : enc) stored += static_cast<double>(e.meta.shard_size) * (kK + kM);
      return stored / static_cast<double>(bytes);
    };
    for (int threads : {1, 2}) {
      double secs = b.Encode(threads, &enc);
      if (secs < 0) return 1;
      std::printf("%-7s %-7s %7d %10.1f %12.2f\n", name, "encode", threads, mb / secs, stored_ratio());
      std::fflush(stdout);
    }
    for (int missing : {0, kMissing}) {
      for (int threads : {1, 2}) {
        double secs = b.Decode(threads, missing, enc);
        if (secs < 0) return 1;
        std::printf("%-7s %-7s %7d %10.1f %12s\n", name, missing ? "decode-4" : "decode", threads, mb / secs, "");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
