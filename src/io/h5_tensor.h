// defines: tensor <-> HDF5 dataset I/O on top of h5.h: whole tensors for serial files, and
// hyperslab shards for parallel files (each rank writes or reads its block of a full-shape
// dataset). Used by checkpoints (io/checkpoint) and traces (io/trace).
#pragma once

#include <torch/torch.h>

#include <string>

#include "io/h5.h"

namespace acerl::h5 {

DType to_h5(torch::ScalarType type);  // float32, float64, bfloat16, float16, int64, int32, uint8
torch::ScalarType to_torch(DType dtype);
Shape shape_of(const torch::Tensor& tensor);

// Serial: creates `name` with the tensor's shape and dtype and writes it whole.
void write_tensor(const Location& where, const std::string& name, const torch::Tensor& tensor);
// Reads a whole dataset into a new CPU tensor of its stored dtype.
torch::Tensor read_tensor(const Location& where, const std::string& name);

// Writes `shard` (any strides; made contiguous) at `offset` of `dataset`.
void write_slab(const Dataset& dataset, const torch::Tensor& shard, const Shape& offset,
                Transfer transfer = Transfer::collective);
// Reads the block [offset, offset + count) into a new CPU tensor of the stored dtype.
torch::Tensor read_slab(const Dataset& dataset, const Shape& offset, const Shape& count,
                        Transfer transfer = Transfer::collective);

}  // namespace acerl::h5
