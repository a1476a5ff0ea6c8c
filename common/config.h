// Thin helpers over toml++ for daemon configuration files. TomlReader reads
// typed keys with error messages naming the full dotted key and remembers
// what was read so that CheckNoUnknownKeys() can reject typos.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "common/status.h"

namespace qs {

// Parses the TOML file at `path`. NotFound when it does not exist,
// InvalidArgument "path:line:col: description" on syntax errors. With
// `mode`, sets *mode to the permission bits (07777) of the file read: the
// target's when `path` is a symlink.
Result<toml::table> LoadTomlFile(const std::string& path, uint32_t* mode = nullptr);

// Parses TOML text; `source_name` is used in error messages.
Result<toml::table> ParseToml(std::string_view text, std::string_view source_name = "config");

// " (at file:line:col)" for a node's source, "" when it has none: how every
// configuration error says where it is.
std::string TomlLocation(const toml::source_region& src);
// "a string", "an integer", ...: a TOML type in an error message.
const char* TomlTypeName(toml::node_type t);

// Parses a size: a non-negative integer optionally followed by K, M, G, T
// or P (powers of 1024, case-insensitive, optionally followed by "B" or
// "iB"), e.g. "4096", "64M", "1G", "512KiB". Returns InvalidArgument.
Result<uint64_t> ParseSize(std::string_view text);

// Reads keys of one TOML table. The table must outlive the reader and all
// readers derived from it (Table(), TableArray()). Copies share the record of
// read keys. All errors are InvalidArgument (missing required keys too), and
// a key whose value had the wrong type still counts as read.
class TomlReader {
 public:
  explicit TomlReader(const toml::table& table);

  // Full dotted name of `key` under this reader, e.g. "groups[2].backends".
  std::string KeyPath(std::string_view key) const;
  const std::string& prefix() const { return prefix_; }
  bool Has(std::string_view key) const;
  // Names of the keys of this table, in file order (for free-form tables
  // such as labels); listing does not mark them as read.
  std::vector<std::string> Keys() const;

  Result<std::string> GetString(std::string_view key);
  Result<std::string> GetStringOr(std::string_view key, std::string_view def);

  Result<int64_t> GetInt(std::string_view key, int64_t min = std::numeric_limits<int64_t>::min(),
                         int64_t max = std::numeric_limits<int64_t>::max());
  Result<int64_t> GetIntOr(std::string_view key, int64_t def,
                           int64_t min = std::numeric_limits<int64_t>::min(),
                           int64_t max = std::numeric_limits<int64_t>::max());

  // Accepts an integer or a float.
  Result<double> GetDouble(std::string_view key, double min = std::numeric_limits<double>::lowest(),
                           double max = std::numeric_limits<double>::max());
  Result<double> GetDoubleOr(std::string_view key, double def,
                             double min = std::numeric_limits<double>::lowest(),
                             double max = std::numeric_limits<double>::max());

  // Accepts an integer (counted in integer_unit bytes: 1, or 1 << 20 for
  // keys that other tools count in MiB) or a string for ParseSize ("64M").
  Result<uint64_t> GetSize(std::string_view key, uint64_t min = 0,
                           uint64_t max = std::numeric_limits<uint64_t>::max(), uint64_t integer_unit = 1);
  Result<uint64_t> GetSizeOr(std::string_view key, uint64_t def, uint64_t min = 0,
                             uint64_t max = std::numeric_limits<uint64_t>::max(), uint64_t integer_unit = 1);

  Result<bool> GetBool(std::string_view key);
  Result<bool> GetBoolOr(std::string_view key, bool def);

  // A string that must be one of `allowed` (compared exactly).
  Result<std::string> GetEnum(std::string_view key, std::initializer_list<std::string_view> allowed);
  Result<std::string> GetEnumOr(std::string_view key, std::string_view def,
                                std::initializer_list<std::string_view> allowed);

  // An array of strings.
  Result<std::vector<std::string>> GetStringArray(std::string_view key);
  Result<std::vector<std::string>> GetStringArrayOr(std::string_view key,
                                                    std::vector<std::string> def = {});

  // A sub-table ([section]); the Optional form gives a reader over an empty
  // table when the key is missing, so every key in it takes its default.
  Result<TomlReader> Table(std::string_view key);
  Result<TomlReader> OptionalTable(std::string_view key);

  // An array of tables ([[section]]); the Optional form gives an empty
  // vector when missing. Element i reads with prefix "key[i]".
  Result<std::vector<TomlReader>> TableArray(std::string_view key);
  Result<std::vector<TomlReader>> OptionalTableArray(std::string_view key);

  // Reports every key under this reader's table that no getter above asked
  // for: "unknown config key 'foo.bar' (at file:3:1)". Sub-tables and table
  // arrays that were read are checked recursively; unread ones are reported
  // as a whole.
  Status CheckNoUnknownKeys() const;

 private:
  enum class Kind { kValue, kTable, kTableArray };
  using ReadSet = std::map<std::string, Kind, std::less<>>;

  TomlReader(const toml::table* table, std::string prefix, std::shared_ptr<ReadSet> read);

  // Marks `key` read; returns its node or nullptr when missing.
  const toml::node* Lookup(std::string_view key, Kind kind);
  Status Missing(std::string_view key) const;
  Status TypeError(std::string_view key, const toml::node& node, std::string_view expected) const;
  Status ValueError(std::string_view key, const toml::node& node, std::string_view what) const;
  void CollectUnknown(const toml::table& table, const std::string& prefix,
                      std::vector<std::string>* out) const;

  const toml::table* table_;
  std::string prefix_;
  std::shared_ptr<ReadSet> read_;
};

}  // namespace qs
