// defines: json::Value (a JSON document tree), json::parse (errors name source:line:column),
// json::dump and json::quote. Every JSON acerl touches goes through it: HF config.json,
// tokenizer.json, the safetensors header, JSONL data and reports.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace acerl::json {

class Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // keys in document order

class Value {
 public:
  enum class Type { null, boolean, number, string, array, object };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::boolean), bool_(b) {}
  Value(int v) : Value(static_cast<int64_t>(v)) {}
  Value(int64_t v) : type_(Type::number), is_int_(true), int_(v), number_(static_cast<double>(v)) {}
  Value(double v) : type_(Type::number), number_(v) {}
  Value(const char* s) : type_(Type::string), string_(s) {}
  Value(std::string s) : type_(Type::string), string_(std::move(s)) {}
  Value(Array a) : type_(Type::array), array_(std::move(a)) {}
  Value(Object o) : type_(Type::object), object_(std::move(o)) {}

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_number() const { return type_ == Type::number; }
  bool is_int() const { return type_ == Type::number && is_int_; }  // integral and fits int64
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  // Typed access; throws UsageError naming what was expected and what was found.
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;
  Array& as_array();
  Object& as_object();

  // Object member lookup: find gives nullptr when absent, at throws UsageError naming the key.
  const Value* find(std::string_view key) const;
  const Value& at(std::string_view key) const;
  // Appends or replaces a member (the value becomes an object if it was null).
  Value& set(const std::string& key, Value value);
  void push_back(Value value);  // the value becomes an array if it was null

  static const char* type_name(Type type);

 private:
  Type type_ = Type::null;
  bool bool_ = false;
  bool is_int_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

// Parses one JSON text. `source` names it in errors ("data.jsonl:12"); errors are UsageError
// "source:line:column: what".
Value parse(std::string_view text, const std::string& source);
// Compact one-line serialisation (what JSONL needs); numbers round-trip exactly.
std::string dump(const Value& value);
// `text` as a JSON string literal with its quotes.
std::string quote(std::string_view text);

}  // namespace acerl::json
