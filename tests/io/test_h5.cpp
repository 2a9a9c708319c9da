// HDF5 layer: serial round trips checked in C++ and by h5py, SWMR reading while the writer
// runs, error messages; and (under mpiexec -n 2) collective hyperslab writes of a shared file.
#include "support/catch.h"

#include <torch/torch.h>

#include "io/h5.h"
#include "io/h5_tensor.h"
#include "support/process.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

TEST_CASE("serial round trip of tensors, attributes and growing series", "[h5]") {
  std::string path = scratch_dir("h5_serial") + "/round.h5";
  auto f32 = torch::arange(24, torch::kFloat32).reshape({2, 3, 4}) * 0.25 - 3;
  auto bf16 = ((torch::arange(12, torch::kFloat32).reshape({3, 4}) - 6) * 0.5).to(torch::kBFloat16);
  auto i64 = torch::arange(5, torch::kInt64) * (int64_t(1) << 40);
  {
    auto file = h5::File::create(path);
    auto tensors = file.create_group("tensors");
    h5::write_tensor(tensors, "f32", f32);
    h5::write_tensor(tensors, "bf16", bf16);
    h5::write_tensor(tensors, "i64", i64);
    file.set_attr("config", std::string("[run]\nname = x\n"));
    file.set_attr("step", int64_t(42));
    file.set_attr("lr", 1.5e-6);
    file.set_attr("shape", std::vector<int64_t>{3, 4});
    auto series = file.create_group("series");
    auto loss = h5::Dataset::create_extendible(series, "loss", h5::DType::f64, {});
    for (int i = 0; i < 1000; ++i) {
      double v = 1.0 / (i + 1.0);
      loss.append(&v, h5::DType::f64);
    }
    auto curve = h5::Dataset::create_extendible(series, "curve", h5::DType::f32, {3}, 2);
    for (int i = 0; i < 5; ++i) {
      float row[3] = {float(i), float(2 * i), float(3 * i)};
      curve.append(row, h5::DType::f32);
    }
  }
  auto file = h5::File::open(path);
  CHECK(torch::equal(h5::read_tensor(file, "tensors/f32"), f32));
  auto b = h5::read_tensor(file, "tensors/bf16");
  CHECK(b.scalar_type() == torch::kBFloat16);
  CHECK(torch::equal(b, bf16));
  CHECK(torch::equal(h5::read_tensor(file, "tensors/i64"), i64));
  CHECK(file.attr_string("config") == "[run]\nname = x\n");
  CHECK(file.attr_int("step") == 42);
  CHECK(file.attr_double("lr") == 1.5e-6);
  CHECK(file.attr_ints("shape") == std::vector<int64_t>{3, 4});
  CHECK(file.open_group("series").children() == std::vector<std::string>{"curve", "loss"});
  CHECK(h5::Dataset::open(file, "series/loss").shape() == h5::Shape{1000});
  CHECK(file.exists("series/curve"));
  CHECK_FALSE(file.exists("series/nope/deeper"));

  auto py = run_python(quote(source_path("tests/io/h5_reference.py")) + " serial " + quote(path));
  INFO(py.err);
  CHECK(py.out == "OK\n");
  auto dump = run_process("h5dump -a /tensors/bf16/dtype " + quote(path));
  CHECK_THAT(dump.out, Contains("\"bfloat16\""));
}

TEST_CASE("a SWMR file can be read by h5py while the writer keeps appending", "[h5]") {
  std::string path = scratch_dir("h5_swmr") + "/trace.h5";
  auto file = h5::File::create_swmr(path);
  auto step =
      h5::Dataset::create_extendible(file.create_group("series"), "step", h5::DType::i64, {}, 4);
  file.start_swmr();
  auto append = [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < to; ++i) step.append(&i, h5::DType::i64);
    step.flush();
  };
  auto rows = [&] {
    return run_python(quote(source_path("tests/io/h5_reference.py")) + " rows " + quote(path));
  };
  append(0, 10);
  auto first = rows();
  INFO(first.err);
  CHECK(first.out == "10\n");
  append(10, 25);
  CHECK(rows().out == "25\n");
}

TEST_CASE("HDF5 errors carry the HDF5 message and the object name", "[h5]") {
  CHECK_THROWS_WITH(h5::File::open("/nonexistent/dir/x.h5"),
                    Contains("/nonexistent/dir/x.h5") && Contains("unable to open file"));
  std::string path = scratch_dir("h5_errors") + "/e.h5";
  auto file = h5::File::create(path);
  CHECK_THROWS_WITH(h5::Dataset::open(file, "missing/tensor"), Contains("missing/tensor"));
  auto ds = h5::Dataset::create(file, "x", h5::DType::f32, {4});
  float data[8] = {};
  CHECK_THROWS_WITH(ds.write(data, h5::DType::f32, {2}, {4}),
                    Contains("outside dim 0") && Contains("/x"));
  CHECK_THROWS_WITH(ds.read(data, h5::DType::bf16, {0}, {4}), Contains("holds float32"));
  CHECK_THROWS_WITH(file.attr_int("absent"), Contains("absent"));
}

TEST_CASE("two ranks write hyperslabs of one file collectively; h5py reads it", "[h5-mpi]") {
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  REQUIRE(size == 2);
  std::string dir = std::string(ACERL_BINARY_DIR) + "/test-tmp/h5_parallel";
  if (rank == 0) scratch_dir("h5_parallel");
  MPI_Barrier(MPI_COMM_WORLD);
  std::string path = dir + "/shared.h5";
  auto value_w = [](int64_t r, int64_t c) { return float(r * 10 + c); };
  {
    auto file = h5::File::create(path, MPI_COMM_WORLD);
    file.set_attr("config", std::string("same on every rank"));
    // Row shards (data-parallel style): rank r owns rows [2r, 2r + 2).
    auto w = h5::Dataset::create(file, "w", h5::DType::f32, {4, 6});
    auto mine = torch::empty({2, 6});
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t c = 0; c < 6; ++c) mine[i][c] = value_w(2 * rank + i, c);
    h5::write_slab(w, mine, {2 * rank, 0});
    // Column shards of a bf16 matrix (tensor-parallel style), from a non-contiguous view.
    auto b = h5::Dataset::create(file, "b", h5::DType::bf16, {6, 4});
    auto rows = torch::arange(6, torch::kFloat32).unsqueeze(1),
         cols = torch::arange(4, torch::kFloat32);
    auto full = ((rows - cols) * 0.5).to(torch::kBFloat16);
    h5::write_slab(b, full.slice(1, 2 * rank, 2 * rank + 2), {0, 2 * rank});
    // Only rank 0 has data; rank 1 still takes part in the collective write.
    auto i = h5::Dataset::create(file, "i", h5::DType::i64, {5});
    auto values = torch::arange(7, 12, torch::kInt64);
    h5::write_slab(i, rank == 0 ? values : values.slice(0, 0, 0), {0});
  }
  MPI_Barrier(MPI_COMM_WORLD);
  {
    // Each rank reads the other rank's block back through MPI-IO.
    auto file = h5::File::open(path, false, MPI_COMM_WORLD);
    auto w = h5::Dataset::open(file, "w");
    int other = 1 - rank;
    auto block = h5::read_slab(w, {2 * other, 0}, {2, 6});
    bool same = true;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 6; ++c)
        same &= block[r][c].item<float>() == value_w(2 * other + r, c);
    CHECK(same);
    CHECK(file.attr_string("config") == "same on every rank");
  }
  int ok = 0;
  std::string report;
  if (rank == 0) {
    auto py =
        run_python(quote(source_path("tests/io/h5_reference.py")) + " parallel " + quote(path));
    report = py.out + py.err;
    ok = py.out == "OK\n";
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  INFO(report);
  CHECK(ok == 1);
}
