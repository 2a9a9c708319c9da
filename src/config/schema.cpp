// Schema: Boost.Program_options typing + acerl's validation and messages; see schema.h.
#include "config/schema.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "runtime/error.h"

namespace po = boost::program_options;

namespace acerl::config {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string last_part(const std::string& key) { return key.substr(key.rfind('.') + 1); }

bool parse_double(const std::string& text, double* out) {
  const char* begin = text.c_str();
  char* end = nullptr;
  *out = std::strtod(begin, &end);
  while (end && (*end == ' ' || *end == '\t')) ++end;
  return end != begin && end && *end == '\0';
}

}  // namespace

void validate(boost::any& out, const std::vector<std::string>& tokens, DoubleList*, int) {
  po::validators::check_first_occurrence(out);
  const std::string& text = po::validators::get_single_string(tokens);
  DoubleList list;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    double value = 0;
    if (!parse_double(item, &value) || !std::isfinite(value)) throw po::invalid_option_value(text);
    list.values.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  out = list;
}

namespace detail {

std::string KeyType<double>::text(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string KeyType<std::string>::text(const std::string& v) {
  bool plain = !v.empty() && v.front() != ' ' && v.back() != ' ' && v.front() != '"' &&
               v.find_first_of("#\n\t\\\r") == std::string::npos;
  if (plain) return v;
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string KeyType<DoubleList>::text(const DoubleList& v) {
  std::string out;
  for (size_t i = 0; i < v.values.size(); ++i)
    out += (i ? ", " : "") + KeyType<double>::text(v.values[i]);
  return out;
}

}  // namespace detail

// ---- KeySpec ---------------------------------------------------------------------------------

KeySpec& KeySpec::min(double lo, bool exclusive) {
  min_ = lo;
  min_exclusive_ = exclusive;
  return *this;
}

KeySpec& KeySpec::max(double hi, bool exclusive) {
  max_ = hi;
  max_exclusive_ = exclusive;
  return *this;
}

KeySpec& KeySpec::choices(std::vector<std::string> options) {
  choices_ = std::move(options);
  return *this;
}

KeySpec& KeySpec::required() {
  required_ = true;
  return *this;
}

KeySpec& KeySpec::check(std::function<std::string()> rule) {
  rules_.push_back(std::move(rule));
  return *this;
}

std::string KeySpec::constraint_text() const {
  using detail::KeyType;
  std::string out;
  if (min_ && max_) {
    out = str(min_exclusive_ ? "(" : "[", KeyType<double>::text(*min_), ", ",
              KeyType<double>::text(*max_), max_exclusive_ ? ")" : "]");
  } else if (min_) {
    out = str(min_exclusive_ ? "> " : ">= ", KeyType<double>::text(*min_));
  } else if (max_) {
    out = str(max_exclusive_ ? "< " : "<= ", KeyType<double>::text(*max_));
  }
  if (!choices_.empty()) {
    out += "one of {";
    for (size_t i = 0; i < choices_.size(); ++i) out += (i ? ", " : "") + choices_[i];
    out += "}";
  }
  if (required_) out += out.empty() ? "required" : ", required";
  return out;
}

std::string KeySpec::violation() const {
  if (auto value = numeric_value_()) {
    bool low = min_ && (min_exclusive_ ? *value <= *min_ : *value < *min_);
    bool high = max_ && (max_exclusive_ ? *value >= *max_ : *value > *max_);
    if (!std::isfinite(*value))
      return "must be a finite number" +
             (constraint_text().empty() ? "" : ", " + constraint_text());
    if (low || high) return "must be " + constraint_text();
  }
  if (!choices_.empty()) {
    std::string value = string_value_();
    if (std::find(choices_.begin(), choices_.end(), value) == choices_.end())
      return "must be " + constraint_text();
  }
  for (const auto& rule : rules_) {
    std::string problem = rule();
    if (!problem.empty()) return problem;
  }
  return "";
}

// ---- Schema ----------------------------------------------------------------------------------

void Schema::section(const std::string& name, const std::string& doc) {
  section_ = name;
  sections_.emplace_back(name, doc);
}

void Schema::allow_dynamic(const std::string& prefix, const std::string& doc) {
  dynamic_.emplace_back(prefix, doc);
}

void Schema::register_key(std::unique_ptr<KeySpec> spec, po::value_semantic* semantic) {
  ACERL_CHECK(!section_.empty(), "Schema::add(", spec->key_, ") before any section()");
  ACERL_CHECK(find(spec->key_) == nullptr, "config key ", spec->key_, " registered twice");
  options_.add(boost::shared_ptr<po::option_description>(
      new po::option_description(spec->key_.c_str(), semantic, spec->doc_.c_str())));
  keys_.push_back(std::move(spec));
}

const KeySpec* Schema::find(const std::string& key) const {
  for (const auto& spec : keys_)
    if (spec->key_ == key) return spec.get();
  return nullptr;
}

std::string Schema::origin(const std::string& key) const {
  auto it = origin_.find(key);
  return it == origin_.end() ? "default" : it->second;
}

std::string Schema::closest_key(const std::string& key) const {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& spec : keys_) {
    size_t d = edit_distance(key, spec->key_);
    if (d < best_distance) {
      best_distance = d;
      best = spec->key_;
    }
  }
  if (best_distance <= std::max<size_t>(2, key.size() / 4)) return best;
  // Right name, wrong section ("[sft] tp = 2"): suggest the key of that name elsewhere.
  for (const auto& spec : keys_)
    if (last_part(spec->key_) == last_part(key)) return spec->key_;
  return "";
}

std::vector<ConfigEntry> Schema::load(const std::vector<ConfigEntry>& entries) {
  std::vector<ConfigEntry> dynamic_entries;
  po::variables_map values;
  for (const auto& entry : entries) {
    bool dynamic = std::any_of(dynamic_.begin(), dynamic_.end(), [&](const auto& d) {
      return entry.key.rfind(d.first + ".", 0) == 0;
    });
    if (dynamic) {
      dynamic_entries.push_back(entry);
      continue;
    }
    const KeySpec* spec = find(entry.key);
    if (spec == nullptr) {
      std::string hint = closest_key(entry.key);
      throw UsageError(str(entry.origin, ": unknown key '", entry.key, "'",
                           hint.empty()
                               ? std::string("; `acerl <command> --help` lists the valid keys")
                               : str("; did you mean '", hint, "'?")));
    }
    if (origin_.count(entry.key)) continue;  // an earlier entry (command line) wins
    po::parsed_options parsed(&options_);
    parsed.options.emplace_back(entry.key, std::vector<std::string>{entry.value});
    try {
      po::store(parsed, values);
    } catch (const po::error&) {
      std::string constraint = spec->constraint_text();
      throw UsageError(str(entry.origin, ": ", entry.key, " = '", clip_text(entry.value),
                           "' is not ", spec->type_name_,
                           constraint.empty() ? "" : " " + constraint));
    }
    origin_[entry.key] = entry.origin;
  }
  po::store(po::parsed_options(&options_), values);  // the defaults of every unset key
  po::notify(values);
  for (const auto& spec : keys_) {
    if (spec->required_ && !was_set(spec->key_))
      throw UsageError(str("missing required key '", spec->key_, "' (", spec->doc_, "): set `",
                           last_part(spec->key_), " = ...` under [", spec->section_,
                           "] in the config file or pass --", spec->key_, "=..."));
  }
  for (const auto& spec : keys_) {
    std::string problem = spec->violation();
    if (!problem.empty())
      throw UsageError(str(origin(spec->key_), ": ", spec->key_, " = ",
                           clip_text(spec->current_text_()), ": ", problem));
  }
  return dynamic_entries;
}

std::string Schema::help() const {
  std::string out;
  for (const auto& [name, doc] : sections_) {
    out += str("\n[", name, "]  ", doc, "\n");
    for (const auto& spec : keys_) {
      if (spec->section_ != name) continue;
      std::string left = str("  ", last_part(spec->key_), " = ", spec->default_text_);
      std::string constraint = spec->constraint_text();
      std::string right = spec->doc_ + (constraint.empty() ? "" : "  " + constraint);
      if (left.size() < 34) {
        out += left + std::string(34 - left.size(), ' ') + right + "\n";
      } else {
        out += left + "\n" + std::string(34, ' ') + right + "\n";
      }
    }
  }
  for (const auto& [prefix, doc] : dynamic_) out += str("\n[", prefix, ".NAME]  ", doc, "\n");
  return out;
}

std::string Schema::resolved() const {
  std::string out;
  for (const auto& [name, doc] : sections_) {
    out += str("[", name, "]\n");
    for (const auto& spec : keys_)
      if (spec->section_ == name)
        out += str(last_part(spec->key_), " = ", spec->current_text_(), "\n");
  }
  return out;
}

}  // namespace acerl::config
