// defines: the RAII layer over the HDF5 C API that checkpoints and traces are built on:
// Handle (one hid_t), Object (attributes), Location (file or group), File (serial or MPI-IO),
// Dataset (N-d, hyperslab reads/writes, collective or independent, extendible along dim 0).
// 16-bit floats are stored as uint16 with a `dtype` attribute ("bfloat16", "float16"), since
// HDF5 1.10 and numpy have no bfloat16; every other dtype is a native HDF5 type.
// Every failure throws H5Error carrying the HDF5 error stack and the object's name.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace acerl::h5 {

class H5Error : public Error {
 public:
  using Error::Error;
};

enum class DType { f32, f64, bf16, f16, i64, i32, u8 };
const char* dtype_name(DType dtype);  // "float32", "bfloat16", ... (numpy spelling)
size_t dtype_size(DType dtype);
DType dtype_from_name(const std::string& name);  // inverse of dtype_name; throws on unknown

using Shape = std::vector<int64_t>;

// Owns one HDF5 identifier and releases it with the matching close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset();
  // Gives up ownership without closing (the caller closes, or deliberately leaks).
  hid_t release();

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Something with attributes: a file (its root group), a group or a dataset.
// An object of a parallel (MPI-IO) file that is destroyed while an exception unwinds is not
// closed: closing can be collective, and the other ranks, which did not throw, would never join
// it. The process is about to abort the job (runtime/mpi_runtime.h), so nothing is lost but the
// incomplete file, which was never published.
class Object {
 public:
  Object(Object&&) noexcept = default;
  Object& operator=(Object&&) noexcept = default;
  ~Object();
  hid_t id() const { return handle_.id(); }
  const std::string& name() const { return name_; }  // "file.h5:/group/dataset", for messages
  bool parallel() const { return parallel_; }
  bool has_attr(const std::string& attr) const;
  void set_attr(const std::string& attr, const std::string& value) const;
  void set_attr(const std::string& attr, int64_t value) const;
  void set_attr(const std::string& attr, double value) const;
  void set_attr(const std::string& attr, const std::vector<int64_t>& value) const;
  std::string attr_string(const std::string& attr) const;
  int64_t attr_int(const std::string& attr) const;
  double attr_double(const std::string& attr) const;
  std::vector<int64_t> attr_ints(const std::string& attr) const;

 protected:
  Object() = default;
  Object(Handle handle, std::string name, bool parallel)
      : handle_(std::move(handle)), name_(std::move(name)), parallel_(parallel) {}
  Handle handle_;
  std::string name_;
  bool parallel_ = false;  // opened through MPI-IO: creation calls are collective
};

class Group;

// A file or a group: holds groups and datasets. In a parallel file, creating groups and
// datasets is collective (every rank calls it with the same arguments).
class Location : public Object {
 public:
  Group create_group(const std::string& path) const;
  Group open_group(const std::string& path) const;
  Group require_group(const std::string& path) const;  // open, or create when absent
  bool exists(const std::string& path) const;          // "a/b/c" checks every level
  std::vector<std::string> children() const;           // names of direct members, sorted

 protected:
  using Object::Object;
};

class Group : public Location {
 public:
  Group() = default;

 private:
  friend class Location;
  using Location::Location;
};

class File : public Location {
 public:
  File() = default;
  // Creates (truncating) `path`. With a communicator other than MPI_COMM_NULL the file is opened
  // with MPI-IO on that communicator and the call is collective.
  static File create(const std::string& path, MPI_Comm comm = MPI_COMM_NULL);
  // Creates `path` for single-writer/multi-reader use (latest file format): call start_swmr()
  // once the datasets exist, after which readers may open it while it grows.
  static File create_swmr(const std::string& path);
  static File open(const std::string& path, bool writable = false, MPI_Comm comm = MPI_COMM_NULL);
  void start_swmr() const;
  void flush() const;
  // Closes the file and throws H5Error when HDF5 reports a failure (a full disk shows here, as
  // the last metadata is written). Every other object of the file must be closed first.
  // Collective for a parallel file. The destructor closes without checking.
  void close();
  const std::string& path() const { return path_; }

 private:
  using Location::Location;
  std::string path_;
};

// Transfer mode of a read or write in a parallel file. Collective calls must be made by every
// rank of the file's communicator (a rank with nothing to move passes an empty count).
enum class Transfer { collective, independent };

class Dataset : public Object {
 public:
  Dataset() = default;
  // Fixed-shape dataset. 16-bit float dtypes get their `dtype` attribute.
  static Dataset create(const Location& where, const std::string& name, DType dtype,
                        const Shape& shape);
  // Dataset with unlimited dim 0 starting at 0 rows, chunked `chunk_rows` rows at a time;
  // `row_shape` is the shape of one row ({} for a 1-d series).
  static Dataset create_extendible(const Location& where, const std::string& name, DType dtype,
                                   const Shape& row_shape, int64_t chunk_rows = 256);
  static Dataset open(const Location& where, const std::string& name);

  Shape shape() const;
  DType dtype() const;  // the logical dtype (bf16 for uint16 + dtype="bfloat16")

  // Hyperslab I/O; `data` is contiguous, row-major, of shape `count`, in `dtype` (which must be
  // the dataset's dtype, or any numeric dtype convertible by HDF5 for non-16-bit floats).
  void write(const void* data, DType dtype, const Shape& offset, const Shape& count,
             Transfer transfer = Transfer::collective) const;
  void read(void* data, DType dtype, const Shape& offset, const Shape& count,
            Transfer transfer = Transfer::collective) const;
  void write_all(const void* data, DType dtype) const;  // the whole dataset
  void read_all(void* data, DType dtype) const;
  // Grows dim 0 by `rows` and writes them (extendible datasets; not in parallel files).
  void append(const void* data, DType dtype, int64_t rows = 1) const;
  // Refreshes the metadata a SWMR reader sees for this dataset.
  void flush() const;

 private:
  using Object::Object;
  static hid_t memory_type(DType dtype);
  void transfer(bool write, void* data, DType dtype, const Shape& offset, const Shape& count,
                Transfer mode) const;
};

}  // namespace acerl::h5
