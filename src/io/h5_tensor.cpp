// Tensor <-> HDF5; see h5_tensor.h.
#include "io/h5_tensor.h"

namespace acerl::h5 {

DType to_h5(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return DType::f32;
    case torch::kFloat64:
      return DType::f64;
    case torch::kBFloat16:
      return DType::bf16;
    case torch::kFloat16:
      return DType::f16;
    case torch::kInt64:
      return DType::i64;
    case torch::kInt32:
      return DType::i32;
    case torch::kUInt8:
      return DType::u8;
    default:
      throw H5Error(
          str("tensors of dtype ", c10::toString(type), " cannot be stored in HDF5 by acerl"));
  }
}

torch::ScalarType to_torch(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return torch::kFloat32;
    case DType::f64:
      return torch::kFloat64;
    case DType::bf16:
      return torch::kBFloat16;
    case DType::f16:
      return torch::kFloat16;
    case DType::i64:
      return torch::kInt64;
    case DType::i32:
      return torch::kInt32;
    case DType::u8:
      return torch::kUInt8;
  }
  return torch::kFloat32;
}

Shape shape_of(const torch::Tensor& tensor) {
  return Shape(tensor.sizes().begin(), tensor.sizes().end());
}

void write_tensor(const Location& where, const std::string& name, const torch::Tensor& tensor) {
  ACERL_CHECK(!where.parallel(), "write_tensor(", name, ") on a parallel file: use write_slab");
  torch::Tensor data = tensor.detach().to(torch::kCPU).contiguous();
  Dataset ds = Dataset::create(where, name, to_h5(data.scalar_type()), shape_of(data));
  ds.write_all(data.data_ptr(), to_h5(data.scalar_type()));
}

torch::Tensor read_tensor(const Location& where, const std::string& name) {
  Dataset ds = Dataset::open(where, name);
  DType dtype = ds.dtype();
  torch::Tensor out = torch::empty(ds.shape(), torch::TensorOptions().dtype(to_torch(dtype)));
  ds.read_all(out.data_ptr(), dtype);
  return out;
}

void write_slab(const Dataset& dataset, const torch::Tensor& shard, const Shape& offset,
                Transfer transfer) {
  torch::Tensor data = shard.detach().to(torch::kCPU).contiguous();
  dataset.write(data.data_ptr(), to_h5(data.scalar_type()), offset, shape_of(data), transfer);
}

torch::Tensor read_slab(const Dataset& dataset, const Shape& offset, const Shape& count,
                        Transfer transfer) {
  DType dtype = dataset.dtype();
  torch::Tensor out = torch::empty(count, torch::TensorOptions().dtype(to_torch(dtype)));
  dataset.read(out.data_ptr(), dtype, offset, count, transfer);
  return out;
}

}  // namespace acerl::h5
