// RAII HDF5 layer; see h5.h.
#include "io/h5.h"

#include <exception>

#include <algorithm>
#include <cstring>

namespace acerl::h5 {
namespace {

// HDF5 prints its error stack to stderr by default; acerl collects it into the exception.
void silence_hdf5_once() {
  static bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

herr_t collect_error(unsigned n, const H5E_error2_t* err, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (err->desc && *err->desc) *text += str(n ? "; " : "", err->desc, " (", err->func_name, ")");
  return 0;
}

[[noreturn]] void fail(const std::string& what, const std::string& object) {
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &stack);
  H5Eclear2(H5E_DEFAULT);
  throw H5Error(str(what, " '", object, "' failed", stack.empty() ? "" : ": " + stack));
}

hid_t check_id(hid_t id, const std::string& what, const std::string& object) {
  if (id < 0) fail(what, object);
  return id;
}

void check(herr_t status, const std::string& what, const std::string& object) {
  if (status < 0) fail(what, object);
}

std::vector<hsize_t> to_hsize(const Shape& shape) {
  std::vector<hsize_t> out;
  for (int64_t d : shape) {
    ACERL_CHECK(d >= 0, "negative extent ", d, " in an HDF5 shape");
    out.push_back(static_cast<hsize_t>(d));
  }
  return out;
}

int64_t element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Handle dataspace(const Shape& shape) {
  if (shape.empty()) return Handle(H5Screate(H5S_SCALAR), H5Sclose);
  auto dims = to_hsize(shape);
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
}

Handle access_list(MPI_Comm comm) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (comm != MPI_COMM_NULL) H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL);
  return fapl;
}

bool is_16bit_float(DType d) { return d == DType::bf16 || d == DType::f16; }

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::bf16:
      return "bfloat16";
    case DType::f16:
      return "float16";
    case DType::i64:
      return "int64";
    case DType::i32:
      return "int32";
    case DType::u8:
      return "uint8";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f64:
    case DType::i64:
      return 8;
    case DType::f32:
    case DType::i32:
      return 4;
    case DType::bf16:
    case DType::f16:
      return 2;
    case DType::u8:
      return 1;
  }
  return 0;
}

DType dtype_from_name(const std::string& name) {
  for (DType d :
       {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i64, DType::i32, DType::u8})
    if (name == dtype_name(d)) return d;
  throw H5Error(str("unknown dtype '", name,
                    "' (valid: float32 float64 bfloat16 float16 int64 int32 uint8)"));
}

// ---- Handle ----------------------------------------------------------------------------------

Handle::Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) {
  other.id_ = H5I_INVALID_HID;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

hid_t Handle::release() {
  hid_t id = id_;
  id_ = H5I_INVALID_HID;
  return id;
}

Object::~Object() {
  if (parallel_ && std::uncaught_exceptions() > 0) handle_.release();
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = H5I_INVALID_HID;
}

// ---- Object: attributes ----------------------------------------------------------------------

bool Object::has_attr(const std::string& attr) const {
  htri_t exists = H5Aexists(id(), attr.c_str());
  if (exists < 0) fail("H5Aexists " + attr, name_);
  return exists > 0;
}

namespace {
void write_attr(const Object& obj, const std::string& attr, hid_t type, const Handle& space,
                const void* data) {
  if (obj.has_attr(attr))
    check(H5Adelete(obj.id(), attr.c_str()), "delete attribute " + attr, obj.name());
  Handle a(check_id(H5Acreate2(obj.id(), attr.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                    "create attribute " + attr, obj.name()),
           H5Aclose);
  check(H5Awrite(a.id(), type, data), "write attribute " + attr, obj.name());
}

Handle open_attr(const Object& obj, const std::string& attr) {
  return Handle(
      check_id(H5Aopen(obj.id(), attr.c_str(), H5P_DEFAULT), "open attribute " + attr, obj.name()),
      H5Aclose);
}
}  // namespace

void Object::set_attr(const std::string& attr, const std::string& value) const {
  // Variable-length UTF-8: h5py hands it back as a Python str.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  const char* text = value.c_str();
  write_attr(*this, attr, type.id(), dataspace({}), &text);
}

void Object::set_attr(const std::string& attr, int64_t value) const {
  write_attr(*this, attr, H5T_NATIVE_INT64, dataspace({}), &value);
}

void Object::set_attr(const std::string& attr, double value) const {
  write_attr(*this, attr, H5T_NATIVE_DOUBLE, dataspace({}), &value);
}

void Object::set_attr(const std::string& attr, const std::vector<int64_t>& value) const {
  write_attr(*this, attr, H5T_NATIVE_INT64, dataspace({static_cast<int64_t>(value.size())}),
             value.data());
}

std::string Object::attr_string(const std::string& attr) const {
  Handle a = open_attr(*this, attr);
  Handle type(H5Aget_type(a.id()), H5Tclose);
  ACERL_CHECK(H5Tget_class(type.id()) == H5T_STRING, "attribute ", attr, " of ", name_,
              " is not a string");
  if (H5Tis_variable_str(type.id()) > 0) {
    char* text = nullptr;
    check(H5Aread(a.id(), type.id(), &text), "read attribute " + attr, name_);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  std::string out(H5Tget_size(type.id()), '\0');
  check(H5Aread(a.id(), type.id(), out.data()), "read attribute " + attr, name_);
  out.resize(std::strlen(out.c_str()));
  return out;
}

int64_t Object::attr_int(const std::string& attr) const {
  Handle a = open_attr(*this, attr);
  int64_t value = 0;
  check(H5Aread(a.id(), H5T_NATIVE_INT64, &value), "read attribute " + attr, name_);
  return value;
}

double Object::attr_double(const std::string& attr) const {
  Handle a = open_attr(*this, attr);
  double value = 0;
  check(H5Aread(a.id(), H5T_NATIVE_DOUBLE, &value), "read attribute " + attr, name_);
  return value;
}

std::vector<int64_t> Object::attr_ints(const std::string& attr) const {
  Handle a = open_attr(*this, attr);
  Handle space(H5Aget_space(a.id()), H5Sclose);
  std::vector<int64_t> values(static_cast<size_t>(H5Sget_simple_extent_npoints(space.id())));
  check(H5Aread(a.id(), H5T_NATIVE_INT64, values.data()), "read attribute " + attr, name_);
  return values;
}

// ---- Location --------------------------------------------------------------------------------

Group Location::create_group(const std::string& path) const {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  hid_t id = check_id(H5Gcreate2(this->id(), path.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT),
                      "create group", name_ + "/" + path);
  return Group(Handle(id, H5Gclose), name_ + "/" + path, parallel_);
}

Group Location::open_group(const std::string& path) const {
  hid_t id =
      check_id(H5Gopen2(this->id(), path.c_str(), H5P_DEFAULT), "open group", name_ + "/" + path);
  return Group(Handle(id, H5Gclose), name_ + "/" + path, parallel_);
}

Group Location::require_group(const std::string& path) const {
  return exists(path) ? open_group(path) : create_group(path);
}

bool Location::exists(const std::string& path) const {
  size_t pos = 0;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string prefix = path.substr(0, slash);
    htri_t present = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
    if (present < 0) fail("H5Lexists", name_ + "/" + prefix);
    if (present == 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

namespace {
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Location::children() const {
  std::vector<std::string> names;
  check(H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), "list", name_);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- File ------------------------------------------------------------------------------------

File File::create(const std::string& path, MPI_Comm comm) {
  silence_hdf5_once();
  Handle fapl = access_list(comm);
  hid_t id =
      check_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), "create file", path);
  File file(Handle(id, H5Fclose), path + ":", comm != MPI_COMM_NULL);
  file.path_ = path;
  return file;
}

File File::create_swmr(const std::string& path) {
  silence_hdf5_once();
  Handle fapl = access_list(MPI_COMM_NULL);
  check(H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "set libver", path);
  hid_t id =
      check_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), "create file", path);
  File file(Handle(id, H5Fclose), path + ":", false);
  file.path_ = path;
  return file;
}

File File::open(const std::string& path, bool writable, MPI_Comm comm) {
  silence_hdf5_once();
  Handle fapl = access_list(comm);
  unsigned flags = writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
  hid_t id = check_id(H5Fopen(path.c_str(), flags, fapl.id()), "open file", path);
  File file(Handle(id, H5Fclose), path + ":", comm != MPI_COMM_NULL);
  file.path_ = path;
  return file;
}

void File::start_swmr() const { check(H5Fstart_swmr_write(id()), "start SWMR writing", name_); }

void File::close() {
  if (!handle_) return;
  check(H5Fclose(handle_.release()), "close", name_);
}

void File::flush() const { check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "flush", name_); }

// ---- Dataset ---------------------------------------------------------------------------------

hid_t Dataset::memory_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return H5T_NATIVE_FLOAT;
    case DType::f64:
      return H5T_NATIVE_DOUBLE;
    case DType::bf16:
    case DType::f16:
      return H5T_NATIVE_UINT16;
    case DType::i64:
      return H5T_NATIVE_INT64;
    case DType::i32:
      return H5T_NATIVE_INT32;
    case DType::u8:
      return H5T_NATIVE_UINT8;
  }
  return H5I_INVALID_HID;
}

namespace {
// File types are little-endian IEEE / two's complement, whatever the writing machine.
hid_t file_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return H5T_IEEE_F32LE;
    case DType::f64:
      return H5T_IEEE_F64LE;
    case DType::bf16:
    case DType::f16:
      return H5T_STD_U16LE;
    case DType::i64:
      return H5T_STD_I64LE;
    case DType::i32:
      return H5T_STD_I32LE;
    case DType::u8:
      return H5T_STD_U8LE;
  }
  return H5I_INVALID_HID;
}
}  // namespace

Dataset Dataset::create(const Location& where, const std::string& name, DType dtype,
                        const Shape& shape) {
  Handle space = dataspace(shape);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  std::string full = where.name() + "/" + name;
  hid_t id = check_id(H5Dcreate2(where.id(), name.c_str(), file_type(dtype), space.id(), lcpl.id(),
                                 H5P_DEFAULT, H5P_DEFAULT),
                      "create dataset", full);
  Dataset ds(Handle(id, H5Dclose), full, where.parallel());
  if (is_16bit_float(dtype)) ds.set_attr("dtype", std::string(dtype_name(dtype)));
  return ds;
}

Dataset Dataset::create_extendible(const Location& where, const std::string& name, DType dtype,
                                   const Shape& row_shape, int64_t chunk_rows) {
  std::vector<hsize_t> dims{0}, max_dims{H5S_UNLIMITED}, chunk{static_cast<hsize_t>(chunk_rows)};
  for (int64_t d : row_shape) {
    dims.push_back(static_cast<hsize_t>(d));
    max_dims.push_back(static_cast<hsize_t>(d));
    chunk.push_back(static_cast<hsize_t>(d));
  }
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data()),
               H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data());
  std::string full = where.name() + "/" + name;
  hid_t id = check_id(H5Dcreate2(where.id(), name.c_str(), file_type(dtype), space.id(),
                                 H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                      "create extendible dataset", full);
  Dataset ds(Handle(id, H5Dclose), full, where.parallel());
  if (is_16bit_float(dtype)) ds.set_attr("dtype", std::string(dtype_name(dtype)));
  return ds;
}

Dataset Dataset::open(const Location& where, const std::string& name) {
  std::string full = where.name() + "/" + name;
  hid_t id = check_id(H5Dopen2(where.id(), name.c_str(), H5P_DEFAULT), "open dataset", full);
  return Dataset(Handle(id, H5Dclose), full, where.parallel());
}

Shape Dataset::shape() const {
  Handle space(check_id(H5Dget_space(id()), "get dataspace", name_), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

DType Dataset::dtype() const {
  if (has_attr("dtype")) return dtype_from_name(attr_string("dtype"));
  Handle type(check_id(H5Dget_type(id()), "get type", name_), H5Tclose);
  H5T_class_t cls = H5Tget_class(type.id());
  size_t size = H5Tget_size(type.id());
  if (cls == H5T_FLOAT && size == 4) return DType::f32;
  if (cls == H5T_FLOAT && size == 8) return DType::f64;
  if (cls == H5T_INTEGER && size == 8) return DType::i64;
  if (cls == H5T_INTEGER && size == 4) return DType::i32;
  if (cls == H5T_INTEGER && size == 1) return DType::u8;
  throw H5Error(str("dataset '", name_, "' has an HDF5 type acerl does not read (class ", cls, ", ",
                    size, " bytes)"));
}

void Dataset::transfer(bool write, void* data, DType dtype, const Shape& offset, const Shape& count,
                       Transfer mode) const {
  DType stored = this->dtype();
  ACERL_CHECK(!(is_16bit_float(stored) || is_16bit_float(dtype)) || stored == dtype, "dataset '",
              name_, "' holds ", dtype_name(stored), ", cannot ", write ? "write " : "read as ",
              dtype_name(dtype));
  Shape full = shape();
  ACERL_CHECK(offset.size() == full.size() && count.size() == full.size(), "dataset '", name_,
              "' has rank ", full.size(), ", the slab has rank ", count.size());
  for (size_t i = 0; i < full.size(); ++i)
    ACERL_CHECK(offset[i] >= 0 && count[i] >= 0 && offset[i] + count[i] <= full[i], "slab [",
                offset[i], ", ", offset[i] + count[i], ") is outside dim ", i, " (", full[i],
                ") of dataset '", name_, "'");
  Handle file_space(check_id(H5Dget_space(id()), "get dataspace", name_), H5Sclose);
  Handle mem_space;
  bool empty = element_count(count) == 0;
  if (empty) {
    // A rank with nothing to move still joins a collective call, with empty selections.
    H5Sselect_none(file_space.id());
    mem_space = dataspace({1});
    H5Sselect_none(mem_space.id());
  } else if (!full.empty()) {
    auto start = to_hsize(offset), size = to_hsize(count);
    check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, size.data(),
                              nullptr),
          "select hyperslab", name_);
    mem_space = dataspace(count);
  } else {
    mem_space = dataspace({});
  }
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (parallel_)
    H5Pset_dxpl_mpio(dxpl.id(),
                     mode == Transfer::collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
  if (empty && !parallel_) return;
  herr_t status =
      write ? H5Dwrite(id(), memory_type(dtype), mem_space.id(), file_space.id(), dxpl.id(), data)
            : H5Dread(id(), memory_type(dtype), mem_space.id(), file_space.id(), dxpl.id(), data);
  check(status, write ? "write" : "read", name_);
}

void Dataset::write(const void* data, DType dtype, const Shape& offset, const Shape& count,
                    Transfer mode) const {
  transfer(true, const_cast<void*>(data), dtype, offset, count, mode);
}

void Dataset::read(void* data, DType dtype, const Shape& offset, const Shape& count,
                   Transfer mode) const {
  transfer(false, data, dtype, offset, count, mode);
}

void Dataset::write_all(const void* data, DType dtype) const {
  Shape full = shape();
  write(data, dtype, Shape(full.size(), 0), full);
}

void Dataset::read_all(void* data, DType dtype) const {
  Shape full = shape();
  read(data, dtype, Shape(full.size(), 0), full);
}

void Dataset::append(const void* data, DType dtype, int64_t rows) const {
  ACERL_CHECK(!parallel_, "append to '", name_, "': extendible datasets are written by one rank");
  Shape full = shape();
  ACERL_CHECK(!full.empty(), "append to scalar dataset '", name_, "'");
  Shape grown = full;
  grown[0] += rows;
  auto dims = to_hsize(grown);
  check(H5Dset_extent(id(), dims.data()), "extend", name_);
  Shape offset(full.size(), 0), count = grown;
  offset[0] = full[0];
  count[0] = rows;
  write(data, dtype, offset, count, Transfer::independent);
}

void Dataset::flush() const { check(H5Dflush(id()), "flush", name_); }

}  // namespace acerl::h5
