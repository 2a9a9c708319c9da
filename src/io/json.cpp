// JSON parser and writer; see json.h.
#include "io/json.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/error.h"

namespace acerl::json {
namespace {

constexpr int kMaxDepth = 512;

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Value document() {
    skip_space();
    Value v = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw UsageError(str(source_, ":", line, ":", column, ": invalid JSON: ", what));
  }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void expect_word(const char* word) {
    size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) fail(str("expected '", word, "'"));
    pos_ += n;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 512 levels");
    switch (peek()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return Value(string());
      case 't': expect_word("true"); return Value(true);
      case 'f': expect_word("false"); return Value(false);
      case 'n': expect_word("null"); return Value();
      case '\0': fail("unexpected end of input");
      default: return number();
    }
  }

  Value object(int depth) {
    ++pos_;  // '{'
    Object members;
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(members));
    }
    while (true) {
      skip_space();
      if (peek() != '"') fail("expected a string key");
      std::string key = string();
      skip_space();
      if (peek() != ':') fail("expected ':' after a key");
      ++pos_;
      skip_space();
      members.emplace_back(std::move(key), value(depth + 1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Value(std::move(members));
      }
      fail("expected ',' or '}' in an object");
    }
  }

  Value array(int depth) {
    ++pos_;  // '['
    Array items;
    skip_space();
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(items));
    }
    while (true) {
      skip_space();
      items.push_back(value(depth + 1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value(std::move(items));
      }
      fail("expected ',' or ']' in an array");
    }
  }

  unsigned hex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') code |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') code |= unsigned(c - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\\' &&
             static_cast<unsigned char>(text_[pos_]) >= 0x20)
        ++pos_;
      out.append(text_.data() + start, pos_ - start);
      if (pos_ >= text_.size()) fail("unterminated string");
      char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        --pos_;
        fail("control character inside a string (escape it)");
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && text_.compare(pos_, 2, "\\u") == 0) {
            size_t save = pos_;
            pos_ += 2;
            unsigned low = hex4();
            if (low >= 0xDC00 && low < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = save;  // lone high surrogate followed by another escape
            }
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail(str("unknown escape '\\", e, "'"));
      }
    }
  }

  Value number() {
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a value");
    bool integral = true;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected digits after '.'");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected digits in the exponent");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    std::string literal(text_.substr(start, pos_ - start));
    if (integral) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(literal.c_str(), &end, 10);
      if (errno == 0) return Value(static_cast<int64_t>(v));
    }
    return Value(std::strtod(literal.c_str(), nullptr));
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

void dump_to(const Value& v, std::string& out) {
  switch (v.type()) {
    case Value::Type::null: out += "null"; return;
    case Value::Type::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Value::Type::number: {
      if (v.is_int()) {
        out += std::to_string(v.as_int());
        return;
      }
      double d = v.as_number();
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN/Inf
        return;
      }
      char buf[32];
      for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d) break;
      }
      out += buf;
      return;
    }
    case Value::Type::string: out += quote(v.as_string()); return;
    case Value::Type::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.as_array()) {
        if (!first) out += ',';
        first = false;
        dump_to(item, out);
      }
      out += ']';
      return;
    }
    case Value::Type::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.as_object()) {
        if (!first) out += ',';
        first = false;
        out += quote(key);
        out += ':';
        dump_to(item, out);
      }
      out += '}';
      return;
    }
  }
}

[[noreturn]] void type_error(Value::Type want, Value::Type got) {
  throw UsageError(str("expected a JSON ", Value::type_name(want), ", found ", Value::type_name(got)));
}

}  // namespace

const char* Value::type_name(Type type) {
  switch (type) {
    case Type::null: return "null";
    case Type::boolean: return "boolean";
    case Type::number: return "number";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

bool Value::as_bool() const {
  if (type_ != Type::boolean) type_error(Type::boolean, type_);
  return bool_;
}

double Value::as_number() const {
  if (type_ != Type::number) type_error(Type::number, type_);
  return number_;
}

int64_t Value::as_int() const {
  if (type_ != Type::number) type_error(Type::number, type_);
  if (!is_int_) {
    if (std::floor(number_) == number_ && std::fabs(number_) < 9.2e18) return static_cast<int64_t>(number_);
    throw UsageError(str("expected an integer, found ", number_));
  }
  return int_;
}

const std::string& Value::as_string() const {
  if (type_ != Type::string) type_error(Type::string, type_);
  return string_;
}

const Array& Value::as_array() const {
  if (type_ != Type::array) type_error(Type::array, type_);
  return array_;
}

const Object& Value::as_object() const {
  if (type_ != Type::object) type_error(Type::object, type_);
  return object_;
}

Array& Value::as_array() {
  if (type_ != Type::array) type_error(Type::array, type_);
  return array_;
}

Object& Value::as_object() {
  if (type_ != Type::object) type_error(Type::object, type_);
  return object_;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::object) return nullptr;
  for (const auto& [k, v] : object_)
    if (k == key) return &v;
  return nullptr;
}

const Value& Value::at(std::string_view key) const {
  if (type_ != Type::object) type_error(Type::object, type_);
  const Value* v = find(key);
  if (!v) throw UsageError(str("missing key \"", key, "\""));
  return *v;
}

Value& Value::set(const std::string& key, Value value) {
  if (type_ == Type::null) type_ = Type::object;
  if (type_ != Type::object) type_error(Type::object, type_);
  for (auto& [k, v] : object_) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  object_.emplace_back(key, std::move(value));
  return object_.back().second;
}

void Value::push_back(Value value) {
  if (type_ == Type::null) type_ = Type::array;
  if (type_ != Type::array) type_error(Type::array, type_);
  array_.push_back(std::move(value));
}

Value parse(std::string_view text, const std::string& source) { return Parser(text, source).document(); }

std::string dump(const Value& value) {
  std::string out;
  dump_to(value, out);
  return out;
}

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace acerl::json
