// defines: ByteWriter / ByteReader, a flat binary encoding of numbers, vectors of numbers and
// strings (native byte order, exact bits: floats round-trip unchanged). For messages between
// the ranks of one job (acerl rl's split layout), never for files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/error.h"

namespace acerl::io {

class ByteWriter {
 public:
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <class T>
  void put(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>);
    put<uint64_t>(values.size());
    const auto* p = reinterpret_cast<const uint8_t*>(values.data());
    bytes_.insert(bytes_.end(), p, p + values.size() * sizeof(T));
  }
  void put(const std::string& text) {
    put<uint64_t>(text.size());
    bytes_.insert(bytes_.end(), text.begin(), text.end());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = get<uint64_t>();
    std::vector<T> values(n);
    if (n) std::memcpy(values.data(), take(n * sizeof(T)), n * sizeof(T));
    return values;
  }
  std::string get_string() {
    const auto n = get<uint64_t>();
    return std::string(reinterpret_cast<const char*>(take(n)), n);
  }
  bool done() const { return at_ == size_; }
  size_t position() const { return at_; }  // bytes read so far

 private:
  const uint8_t* take(size_t n) {
    ACERL_CHECK(at_ + n <= size_, "message ends after ", size_, " bytes, ", at_ + n, " needed");
    const uint8_t* p = data_ + at_;
    at_ += n;
    return p;
  }
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

}  // namespace acerl::io
