#include "common/config.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <sstream>

#include <sys/stat.h>

namespace qs {

std::string TomlLocation(const toml::source_region& src) {
  if (src.begin.line == 0) return "";
  std::string out = " (at ";
  if (src.path && !src.path->empty()) out += *src.path + ":";
  out += std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column) + ")";
  return out;
}

const char* TomlTypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "an unknown type";
}

namespace {

std::string Quote(std::string_view s) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive)
  // on "'" + std::string(s) in optimised builds.
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  out.append(s);
  out.push_back('\'');
  return out;
}

const toml::table& EmptyTable() {
  static const toml::table* const kEmpty = new toml::table();
  return *kEmpty;
}

}  // namespace

Result<toml::table> ParseToml(std::string_view text, std::string_view source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return Status::InvalidArgument(std::string(source_name) + ":" + std::to_string(b.line) + ":" +
                                   std::to_string(b.column) + ": " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string(source_name) + ": " + e.what());
  }
}

Result<toml::table> LoadTomlFile(const std::string& path, uint32_t* mode) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("config file '" + path + "' does not exist");
    return Status::FromErrno(err, "cannot open config file '" + path + "'");
  }
  if (mode != nullptr) {
    // The mode of what was opened, not of the name (which may be replaced).
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
      int err = errno;
      std::fclose(f);
      return Status::FromErrno(err, "cannot stat config file '" + path + "'");
    }
    *mode = static_cast<uint32_t>(st.st_mode & 07777);
  }
  std::string text;
  char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) return Status::FromErrno(err, "cannot read config file '" + path + "'");
  return ParseToml(text, path);
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid size '" + std::string(text) + "': " + std::string(why));
  };
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') i++;
  size_t digits_start = i;
  uint64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return bad("too large");
    v = v * 10 + d;
    i++;
  }
  if (i == digits_start) return bad("expected a number optionally followed by K, M, G, T or P");
  while (i < text.size() && text[i] == ' ') i++;
  std::string suffix;
  for (; i < text.size(); i++) {
    if (text[i] == ' ') break;
    suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  }
  while (i < text.size() && text[i] == ' ') i++;
  if (i != text.size()) return bad("trailing characters");
  int shift = 0;
  if (!suffix.empty()) {
    static constexpr std::string_view kUnits = "KMGTP";
    size_t u = kUnits.find(suffix[0]);
    std::string_view rest = std::string_view(suffix).substr(1);
    if (suffix == "B") {
      shift = 0;
    } else if (u != std::string_view::npos && (rest.empty() || rest == "B" || rest == "IB")) {
      shift = 10 * static_cast<int>(u + 1);
    } else {
      return bad("unknown unit '" + suffix + "' (use K, M, G, T or P)");
    }
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return bad("too large");
  return v << shift;
}

// ---------------------------------------------------------------------------

TomlReader::TomlReader(const toml::table& table)
    : TomlReader(&table, "", std::make_shared<ReadSet>()) {}

TomlReader::TomlReader(const toml::table* table, std::string prefix, std::shared_ptr<ReadSet> read)
    : table_(table), prefix_(std::move(prefix)), read_(std::move(read)) {}

std::string TomlReader::KeyPath(std::string_view key) const {
  if (prefix_.empty()) return std::string(key);
  std::string out = prefix_;
  out += '.';
  out += key;
  return out;
}

bool TomlReader::Has(std::string_view key) const { return table_->get(key) != nullptr; }

std::vector<std::string> TomlReader::Keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : *table_) out.emplace_back(k.str());
  return out;
}

const toml::node* TomlReader::Lookup(std::string_view key, Kind kind) {
  const toml::node* node = table_->get(key);
  if (node != nullptr) (*read_)[KeyPath(key)] = kind;
  return node;
}

Status TomlReader::Missing(std::string_view key) const {
  return Status::InvalidArgument("missing required config key " + Quote(KeyPath(key)));
}

Status TomlReader::TypeError(std::string_view key, const toml::node& node,
                             std::string_view expected) const {
  return Status::InvalidArgument("config key " + Quote(KeyPath(key)) + ": expected " +
                                 std::string(expected) + ", got " + TomlTypeName(node.type()) +
                                 TomlLocation(node.source()));
}

Status TomlReader::ValueError(std::string_view key, const toml::node& node,
                              std::string_view what) const {
  return Status::InvalidArgument("config key " + Quote(KeyPath(key)) + ": " + std::string(what) +
                                 TomlLocation(node.source()));
}

Result<std::string> TomlReader::GetString(std::string_view key) {
  const toml::node* n = Lookup(key, Kind::kValue);
  if (n == nullptr) return Missing(key);
  const auto* s = n->as_string();
  if (s == nullptr) return TypeError(key, *n, "a string");
  return s->get();
}

Result<std::string> TomlReader::GetStringOr(std::string_view key, std::string_view def) {
  if (!Has(key)) return std::string(def);
  return GetString(key);
}

Result<int64_t> TomlReader::GetInt(std::string_view key, int64_t min, int64_t max) {
  const toml::node* n = Lookup(key, Kind::kValue);
  if (n == nullptr) return Missing(key);
  const auto* i = n->as_integer();
  if (i == nullptr) return TypeError(key, *n, "an integer");
  int64_t v = i->get();
  if (v < min || v > max) {
    return ValueError(key, *n,
                      "value " + std::to_string(v) + " out of range [" + std::to_string(min) + ", " +
                          std::to_string(max) + "]");
  }
  return v;
}

Result<int64_t> TomlReader::GetIntOr(std::string_view key, int64_t def, int64_t min, int64_t max) {
  if (!Has(key)) return def;
  return GetInt(key, min, max);
}

Result<double> TomlReader::GetDouble(std::string_view key, double min, double max) {
  const toml::node* n = Lookup(key, Kind::kValue);
  if (n == nullptr) return Missing(key);
  double v;
  if (const auto* i = n->as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = n->as_floating_point()) {
    v = f->get();
  } else {
    return TypeError(key, *n, "a number");
  }
  if (!(v >= min && v <= max)) {  // also rejects NaN
    std::ostringstream os;
    os << "value " << v << " out of range [" << min << ", " << max << "]";
    return ValueError(key, *n, os.str());
  }
  return v;
}

Result<double> TomlReader::GetDoubleOr(std::string_view key, double def, double min, double max) {
  if (!Has(key)) return def;
  return GetDouble(key, min, max);
}

Result<uint64_t> TomlReader::GetSize(std::string_view key, uint64_t min, uint64_t max, uint64_t integer_unit) {
  const toml::node* n = Lookup(key, Kind::kValue);
  if (n == nullptr) return Missing(key);
  uint64_t v;
  if (const auto* i = n->as_integer()) {
    if (i->get() < 0) return ValueError(key, *n, "size must not be negative");
    v = static_cast<uint64_t>(i->get());
    if (integer_unit > 1 && v > std::numeric_limits<uint64_t>::max() / integer_unit)
      return ValueError(key, *n, "size too large");
    v *= integer_unit;
  } else if (const auto* s = n->as_string()) {
    Result<uint64_t> r = ParseSize(s->get());
    if (!r.ok()) return ValueError(key, *n, r.status().message());
    v = r.value();
  } else {
    return TypeError(key, *n, "a size (integer bytes or a string like \"64M\")");
  }
  if (v < min || v > max) {
    return ValueError(key, *n,
                      "size " + std::to_string(v) + " out of range [" + std::to_string(min) + ", " +
                          std::to_string(max) + "]");
  }
  return v;
}

Result<uint64_t> TomlReader::GetSizeOr(std::string_view key, uint64_t def, uint64_t min, uint64_t max,
                                       uint64_t integer_unit) {
  if (!Has(key)) return def;
  return GetSize(key, min, max, integer_unit);
}

Result<bool> TomlReader::GetBool(std::string_view key) {
  const toml::node* n = Lookup(key, Kind::kValue);
  if (n == nullptr) return Missing(key);
  const auto* b = n->as_boolean();
  if (b == nullptr) return TypeError(key, *n, "a boolean");
  return b->get();
}

Result<bool> TomlReader::GetBoolOr(std::string_view key, bool def) {
  if (!Has(key)) return def;
  return GetBool(key);
}

Result<std::string> TomlReader::GetEnum(std::string_view key,
                                        std::initializer_list<std::string_view> allowed) {
  Result<std::string> s = GetString(key);
  if (!s.ok()) return s;
  for (std::string_view a : allowed) {
    if (a == s.value()) return s;
  }
  std::string list;
  for (std::string_view a : allowed) {
    if (!list.empty()) list += '|';
    list += a;
  }
  return ValueError(key, *table_->get(key),
                    "expected one of " + list + ", got " + Quote(s.value()));
}

Result<std::string> TomlReader::GetEnumOr(std::string_view key, std::string_view def,
                                          std::initializer_list<std::string_view> allowed) {
  if (!Has(key)) return std::string(def);
  return GetEnum(key, allowed);
}

Result<std::vector<std::string>> TomlReader::GetStringArray(std::string_view key) {
  const toml::node* n = Lookup(key, Kind::kValue);
  if (n == nullptr) return Missing(key);
  const auto* arr = n->as_array();
  if (arr == nullptr) return TypeError(key, *n, "an array of strings");
  std::vector<std::string> out;
  out.reserve(arr->size());
  for (size_t i = 0; i < arr->size(); i++) {
    const toml::node& e = *arr->get(i);
    const auto* s = e.as_string();
    if (s == nullptr) {
      return TypeError(std::string(key) + "[" + std::to_string(i) + "]", e, "a string");
    }
    out.push_back(s->get());
  }
  return out;
}

Result<std::vector<std::string>> TomlReader::GetStringArrayOr(std::string_view key,
                                                              std::vector<std::string> def) {
  if (!Has(key)) return def;
  return GetStringArray(key);
}

Result<TomlReader> TomlReader::Table(std::string_view key) {
  const toml::node* n = Lookup(key, Kind::kTable);
  if (n == nullptr) return Missing(key);
  const toml::table* t = n->as_table();
  if (t == nullptr) return TypeError(key, *n, "a table");
  return TomlReader(t, KeyPath(key), read_);
}

Result<TomlReader> TomlReader::OptionalTable(std::string_view key) {
  if (!Has(key)) return TomlReader(&EmptyTable(), KeyPath(key), read_);
  return Table(key);
}

Result<std::vector<TomlReader>> TomlReader::TableArray(std::string_view key) {
  const toml::node* n = Lookup(key, Kind::kTableArray);
  if (n == nullptr) return Missing(key);
  const auto* arr = n->as_array();
  if (arr == nullptr) return TypeError(key, *n, "an array of tables");
  std::vector<TomlReader> out;
  out.reserve(arr->size());
  for (size_t i = 0; i < arr->size(); i++) {
    std::string elem = std::string(key) + "[" + std::to_string(i) + "]";
    const toml::node& e = *arr->get(i);
    const toml::table* t = e.as_table();
    if (t == nullptr) return TypeError(elem, e, "a table");
    out.push_back(TomlReader(t, KeyPath(elem), read_));
  }
  return out;
}

Result<std::vector<TomlReader>> TomlReader::OptionalTableArray(std::string_view key) {
  if (!Has(key)) return std::vector<TomlReader>{};
  return TableArray(key);
}

void TomlReader::CollectUnknown(const toml::table& table, const std::string& prefix,
                                std::vector<std::string>* out) const {
  for (auto&& [k, node] : table) {
    std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    auto it = read_->find(path);
    if (it == read_->end()) {
      out->push_back("unknown config key " + Quote(path) + TomlLocation(k.source()));
      continue;
    }
    if (it->second == Kind::kTable) {
      if (const toml::table* t = node.as_table()) CollectUnknown(*t, path, out);
    } else if (it->second == Kind::kTableArray) {
      if (const toml::array* arr = node.as_array()) {
        for (size_t i = 0; i < arr->size(); i++) {
          if (const toml::table* t = arr->get(i)->as_table()) {
            CollectUnknown(*t, path + "[" + std::to_string(i) + "]", out);
          }
        }
      }
    }
  }
}

Status TomlReader::CheckNoUnknownKeys() const {
  std::vector<std::string> unknown;
  CollectUnknown(*table_, prefix_, &unknown);
  if (unknown.empty()) return Status::OK();
  std::string msg;
  for (const std::string& u : unknown) {
    if (!msg.empty()) msg += "; ";
    msg += u;
  }
  return Status::InvalidArgument(msg);
}

}  // namespace qs
