// defines: Schema, KeySpec, DoubleList: the typed side of the configuration. Every key is
// registered once, bound to a field of a config struct, with its doc and constraints; from that
// one definition come the Boost.Program_options parsing, the `--help` listing, the validation
// errors (naming file:line, key, value and what would be valid) and the resolved-config text.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/ini.h"

namespace acerl::config {

// A comma-separated list of numbers, e.g. `entropy_temperatures = 0.6, 0.8, 1.0`.
struct DoubleList {
  std::vector<double> values;
};
// Boost.Program_options hook (found by ADL) that parses a DoubleList.
void validate(boost::any& out, const std::vector<std::string>& tokens, DoubleList*, int);

class KeySpec {
 public:
  // Numeric bounds, inclusive unless `exclusive`.
  KeySpec& min(double lo, bool exclusive = false);
  KeySpec& max(double hi, bool exclusive = false);
  KeySpec& range(double lo, double hi) { return min(lo).max(hi); }
  // For string keys: the value must be one of `options`.
  KeySpec& choices(std::vector<std::string> options);
  // The key has no useful default: leaving it unset is an error.
  KeySpec& required();
  // Any other rule: returns an empty string when fine, else what is wrong ("must divide 8").
  KeySpec& check(std::function<std::string()> rule);

 private:
  friend class Schema;
  std::string key_, section_, doc_, type_name_, default_text_;
  std::function<std::string()> current_text_;
  std::function<std::optional<double>()> numeric_value_;
  std::function<std::string()> string_value_;  // set for string keys only
  std::optional<double> min_, max_;
  bool min_exclusive_ = false, max_exclusive_ = false, required_ = false;
  std::vector<std::string> choices_;
  std::vector<std::function<std::string()>> rules_;
  std::string constraint_text() const;
  std::string violation() const;
};

class Schema {
 public:
  // Keys added after this call belong to [name]; `doc` heads the section in --help.
  void section(const std::string& name, const std::string& doc);
  template <class T>
  KeySpec& add(const std::string& name, T* field, const std::string& doc);
  // Accepts every key of the sections `prefix.<anything>` (e.g. "stage": [stage.math_8k]);
  // load() returns those entries untouched for a second schema to parse.
  void allow_dynamic(const std::string& prefix, const std::string& doc);

  // Types, stores and validates. Entries earlier in the list win (pass command-line overrides
  // before the file's entries). Throws UsageError naming origin, key, value and what is valid.
  std::vector<ConfigEntry> load(const std::vector<ConfigEntry>& entries);

  std::string help() const;      // every key: section, key = default, doc, constraints
  std::string resolved() const;  // INI text of the current values; read_ini reads it back
  bool was_set(const std::string& key) const { return origin_.count(key) != 0; }
  std::string origin(const std::string& key) const;
  // The registered key closest to `key` (typo suggestion), or "" when nothing is close.
  std::string closest_key(const std::string& key) const;

 private:
  void register_key(std::unique_ptr<KeySpec> spec,
                    boost::program_options::value_semantic* semantic);
  const KeySpec* find(const std::string& key) const;

  std::string section_;
  std::vector<std::pair<std::string, std::string>> sections_;  // name, doc (in order)
  std::vector<std::pair<std::string, std::string>> dynamic_;   // prefix, doc
  std::vector<std::unique_ptr<KeySpec>> keys_;
  boost::program_options::options_description options_;
  std::map<std::string, std::string> origin_;  // key -> where its value came from
};

// ---- implementation of the template -------------------------------------------------------

namespace detail {
template <class T>
struct KeyType;
template <>
struct KeyType<bool> {
  static const char* name() { return "a boolean (true/false)"; }
  static std::string text(bool v) { return v ? "true" : "false"; }
};
template <>
struct KeyType<int64_t> {
  static const char* name() { return "an integer"; }
  static std::string text(int64_t v) { return std::to_string(v); }
};
template <>
struct KeyType<int> {
  static const char* name() { return "an integer"; }
  static std::string text(int v) { return std::to_string(v); }
};
template <>
struct KeyType<double> {
  static const char* name() { return "a number"; }
  static std::string text(double v);
};
template <>
struct KeyType<std::string> {
  static const char* name() { return "a string"; }
  static std::string text(const std::string& v);
};
template <>
struct KeyType<DoubleList> {
  static const char* name() { return "a comma-separated list of numbers"; }
  static std::string text(const DoubleList& v);
};
}  // namespace detail

template <class T>
KeySpec& Schema::add(const std::string& name, T* field, const std::string& doc) {
  auto spec = std::make_unique<KeySpec>();
  spec->key_ = section_ + "." + name;
  spec->section_ = section_;
  spec->doc_ = doc;
  spec->type_name_ = detail::KeyType<T>::name();
  spec->default_text_ = detail::KeyType<T>::text(*field);
  spec->current_text_ = [field] { return detail::KeyType<T>::text(*field); };
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    spec->numeric_value_ = [field]() -> std::optional<double> {
      return static_cast<double>(*field);
    };
  } else {
    spec->numeric_value_ = [] { return std::optional<double>(); };
  }
  if constexpr (std::is_same_v<T, std::string>) {
    spec->string_value_ = [field] { return *field; };
  }
  auto* semantic =
      boost::program_options::value<T>(field)->default_value(*field, spec->default_text_);
  KeySpec& ref = *spec;
  register_key(std::move(spec), semantic);
  return ref;
}

}  // namespace acerl::config
