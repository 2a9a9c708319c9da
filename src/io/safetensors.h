// defines: reading and writing Hugging Face safetensors checkpoints. A file is memory-mapped and
// its header validated (size, JSON, dtypes, shapes, offsets tiling the data exactly) before any
// tensor is touched; tensors are zero-copy, read-only views into the mapping. A checkpoint is a
// single file, or shards listed by model.safetensors.index.json. Writing follows the layout of
// the reference implementation (tensors ordered by dtype then name, header padded to 8 bytes),
// so reading a file and writing it back reproduces it byte for byte.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace acerl::io {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", "F64", "I64", "I32", "U8", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range within the data section
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws UsageError naming path and problem
  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;
  // A read-only view into the mapping (keeps the mapping alive).
  torch::Tensor tensor(const SafetensorsEntry& entry) const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: `path` is a .safetensors file, or a directory holding model.safetensors or
// model.safetensors.index.json (+ its shards).
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  torch::Tensor get(const std::string& name) const;  // read-only view; throws naming the tensor

 private:
  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<size_t, const SafetensorsEntry*>> where_;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

torch::ScalarType safetensors_to_torch(const std::string& dtype);  // throws on unsupported
std::string torch_to_safetensors(torch::ScalarType type);

// One file. `metadata` goes to "__metadata__" (HF writes {"format": "pt"}).
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
// `dir`/model.safetensors when everything fits in `max_shard_bytes`, else
// model-0000i-of-0000n.safetensors shards plus model.safetensors.index.json, as HF does.
void write_safetensors_checkpoint(const std::string& dir, const NamedTensors& tensors,
                                  int64_t max_shard_bytes);

}  // namespace acerl::io
