// safetensors reader (mmap + validation) and writer; see safetensors.h.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/json.h"
#include "runtime/error.h"

namespace acerl::io {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  int64_t size;
  int order;  // the reference writer sorts tensors by this, descending
};
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", torch::kBool, 1, 0},    {"U8", torch::kUInt8, 1, 4},
    {"I8", torch::kInt8, 1, 5},      {"I16", torch::kInt16, 2, 9},
    {"F16", torch::kFloat16, 2, 11}, {"BF16", torch::kBFloat16, 2, 12},
    {"I32", torch::kInt32, 4, 13},   {"F32", torch::kFloat32, 4, 15},
    {"F64", torch::kFloat64, 8, 16}, {"I64", torch::kInt64, 8, 17},
};

const DtypeInfo* dtype_info(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace

torch::ScalarType safetensors_to_torch(const std::string& dtype) {
  const DtypeInfo* info = dtype_info(dtype);
  ACERL_USAGE_CHECK(info, "safetensors dtype '", dtype,
                    "' is not supported (F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL)");
  return info->type;
}

std::string torch_to_safetensors(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw UsageError(str("cannot store dtype ", c10::toString(type), " in safetensors"));
}

// ---- reading -----------------------------------------------------------------------------

struct SafetensorsFile::Mapping {
  void* address = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (address != MAP_FAILED) munmap(address, size);
  }
};

SafetensorsFile::SafetensorsFile(const std::string& path)
    : path_(path), mapping_(std::make_shared<Mapping>()) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ACERL_USAGE_CHECK(fd >= 0, "cannot open safetensors file '", path, "': ", std::strerror(errno));
  struct stat st {};
  fstat(fd, &st);
  mapping_->size = static_cast<size_t>(st.st_size);
  if (mapping_->size > 0)
    mapping_->address = mmap(nullptr, mapping_->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ACERL_USAGE_CHECK(mapping_->size >= 8, path, ": not a safetensors file (", mapping_->size,
                    " bytes, shorter than the 8-byte header length)");
  ACERL_USAGE_CHECK(mapping_->address != MAP_FAILED, path, ": mmap failed: ", std::strerror(errno));
  const auto* bytes = static_cast<const uint8_t*>(mapping_->address);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian u64
  ACERL_USAGE_CHECK(header_len <= kMaxHeader && 8 + header_len <= mapping_->size, path,
                    ": header length ", header_len, " does not fit the file of ", mapping_->size,
                    " bytes (corrupt or truncated?)");
  data_ = bytes + 8 + header_len;
  const uint64_t data_size = mapping_->size - 8 - header_len;
  json::Value header = json::parse(
      std::string_view(reinterpret_cast<const char*>(bytes + 8), header_len), path + " (header)");
  ACERL_USAGE_CHECK(header.is_object(), path, ": the header is not a JSON object");
  for (const auto& [name, value] : header.as_object()) {
    if (name == "__metadata__") {
      ACERL_USAGE_CHECK(value.is_object(), path, ": __metadata__ must be an object of strings");
      for (const auto& [k, v] : value.as_object()) {
        ACERL_USAGE_CHECK(v.is_string(), path, ": __metadata__.", k, " must be a string");
        metadata_[k] = v.as_string();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    ACERL_USAGE_CHECK(value.is_object(), where, " is not described by an object");
    SafetensorsEntry e;
    e.name = name;
    const json::Value* dtype = value.find("dtype");
    ACERL_USAGE_CHECK(dtype && dtype->is_string(), where, " has no dtype");
    e.dtype = dtype->as_string();
    const DtypeInfo* info = dtype_info(e.dtype);
    ACERL_USAGE_CHECK(info, where, ": unsupported dtype '", e.dtype, "'");
    const json::Value* shape = value.find("shape");
    ACERL_USAGE_CHECK(shape && shape->is_array(), where, " has no shape");
    int64_t numel = 1;
    for (const auto& d : shape->as_array()) {
      ACERL_USAGE_CHECK(d.is_int() && d.as_int() >= 0, where,
                        ": shape entries must be non-negative integers");
      e.shape.push_back(d.as_int());
      ACERL_USAGE_CHECK(
          d.as_int() == 0 || numel <= (int64_t(1) << 50) / std::max<int64_t>(d.as_int(), 1), where,
          ": shape too large");
      numel *= d.as_int();
    }
    const json::Value* offsets = value.find("data_offsets");
    ACERL_USAGE_CHECK(offsets && offsets->is_array() && offsets->as_array().size() == 2 &&
                          offsets->as_array()[0].is_int() && offsets->as_array()[1].is_int(),
                      where, " needs data_offsets [begin, end]");
    int64_t begin = offsets->as_array()[0].as_int(), end = offsets->as_array()[1].as_int();
    ACERL_USAGE_CHECK(begin >= 0 && begin <= end && static_cast<uint64_t>(end) <= data_size, where,
                      ": data_offsets [", begin, ", ", end, "] outside the data section of ",
                      data_size, " bytes");
    ACERL_USAGE_CHECK(end - begin == numel * info->size, where, ": ", end - begin,
                      " bytes for shape and dtype ", e.dtype, " that need ", numel * info->size);
    e.begin = static_cast<uint64_t>(begin);
    e.end = static_cast<uint64_t>(end);
    entries_.push_back(std::move(e));
  }
  // The tensors must tile the data section exactly: no overlap, no hole, nothing after.
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  uint64_t expected = 0;
  for (const auto* e : sorted) {
    ACERL_USAGE_CHECK(e->begin == expected, path, ": tensor '", e->name, "' starts at byte ",
                      e->begin, " of the data section, expected ", expected,
                      " (overlapping or missing bytes)");
    expected = e->end;
  }
  ACERL_USAGE_CHECK(expected == data_size, path, ": the tensors cover ", expected, " of the ",
                    data_size, " data bytes");
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

torch::Tensor SafetensorsFile::tensor(const SafetensorsEntry& e) const {
  auto keep_alive = mapping_;
  void* address = const_cast<uint8_t*>(data_ + e.begin);
  return torch::from_blob(
      address, e.shape, [keep_alive](void*) {},
      torch::TensorOptions().dtype(safetensors_to_torch(e.dtype)));
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    fs::path index = fs::path(path) / "model.safetensors.index.json";
    fs::path single = fs::path(path) / "model.safetensors";
    if (fs::exists(index)) {
      std::ifstream in(index);
      std::ostringstream text;
      text << in.rdbuf();
      json::Value doc = json::parse(text.str(), index.string());
      const json::Value* map = doc.find("weight_map");
      ACERL_USAGE_CHECK(map && map->is_object(), index.string(), ": no \"weight_map\" object");
      for (const auto& [name, file] : map->as_object()) {
        ACERL_USAGE_CHECK(file.is_string(), index.string(), ": weight_map[\"", name,
                          "\"] is not a file name");
        std::string shard = (fs::path(path) / file.as_string()).string();
        if (std::find(files.begin(), files.end(), shard) == files.end()) files.push_back(shard);
      }
    } else {
      ACERL_USAGE_CHECK(fs::exists(single),
                        "no model.safetensors or model.safetensors.index.json in '", path, "'");
      files.push_back(single.string());
    }
  } else {
    files.push_back(path);
  }
  for (const auto& file : files) {
    files_.push_back(std::make_unique<SafetensorsFile>(file));
    for (const auto& e : files_.back()->entries()) {
      auto [it, inserted] = where_.emplace(e.name, std::make_pair(files_.size() - 1, &e));
      ACERL_USAGE_CHECK(inserted, "tensor '", e.name, "' appears in both ",
                        files_[it->second.first]->path(), " and ", file);
    }
  }
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> out;
  for (const auto& [name, where] : where_) out.push_back(name);
  return out;
}

const SafetensorsEntry& SafetensorsReader::entry(const std::string& name) const {
  auto it = where_.find(name);
  ACERL_USAGE_CHECK(it != where_.end(), "tensor '", name, "' is not in the checkpoint '", path_,
                    "'");
  return *it->second.second;
}

torch::Tensor SafetensorsReader::get(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  return files_[where_.at(name).first]->tensor(e);
}

// ---- writing -----------------------------------------------------------------------------

namespace {

int dtype_order(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.order;
  throw UsageError(str("cannot store dtype ", c10::toString(type), " in safetensors"));
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> sorted;
  for (const auto& [name, t] : tensors)
    sorted.emplace_back(name, t.detach().to(torch::kCPU).contiguous());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    int oa = dtype_order(a.second.scalar_type()), ob = dtype_order(b.second.scalar_type());
    return oa != ob ? oa > ob : a.first < b.first;
  });
  json::Value header;
  if (!metadata.empty()) {
    json::Value meta;
    for (const auto& [k, v] : metadata) meta.set(k, v);
    header.set("__metadata__", meta);
  }
  int64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    json::Value entry;
    entry.set("dtype", torch_to_safetensors(t.scalar_type()));
    json::Array shape;
    for (int64_t d : t.sizes()) shape.emplace_back(d);
    entry.set("shape", shape);
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    entry.set("data_offsets", json::Array{json::Value(offset), json::Value(offset + bytes)});
    header.set(name, entry);
    offset += bytes;
  }
  std::string text = json::dump(header);
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ACERL_USAGE_CHECK(out.good(), "cannot write '", tmp, "'");
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.close();
    ACERL_USAGE_CHECK(out.good(), "writing '", tmp, "' failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

void write_safetensors_checkpoint(const std::string& dir, const NamedTensors& tensors,
                                  int64_t max_shard_bytes) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<NamedTensors> shards(1);
  int64_t current = 0, total = 0;
  for (const auto& item : tensors) {
    const int64_t bytes = item.second.numel() * static_cast<int64_t>(item.second.element_size());
    if (current > 0 && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(item);
    current += bytes;
    total += bytes;
  }
  if (shards.size() == 1) {
    write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors);
    return;
  }
  json::Value weight_map;
  std::vector<std::pair<std::string, std::string>> entries;
  for (size_t i = 0; i < shards.size(); ++i) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_safetensors((fs::path(dir) / file).string(), shards[i]);
    for (const auto& item : shards[i]) entries.emplace_back(item.first, file);
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& [name, file] : entries) weight_map.set(name, file);
  json::Value index;
  json::Value meta;
  meta.set("total_size", total);
  index.set("metadata", meta);
  index.set("weight_map", weight_map);
  std::ofstream out(fs::path(dir) / "model.safetensors.index.json");
  out << json::dump(index) << "\n";
}

}  // namespace acerl::io
