// safetensors: files written by the reference library are read (single and sharded), written
// back byte for byte, and our files are read by the reference library; corrupt files are
// rejected with messages naming the file and the problem.
#include "support/catch.h"

#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "runtime/error.h"
#include "support/process.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string reference_files(const std::string& name) {
  std::string dir = scratch_dir(name);
  auto py =
      run_python(quote(source_path("tests/io/safetensors_reference.py")) + " write " + quote(dir));
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  return dir;
}

}  // namespace

TEST_CASE("reading a reference file and writing it back reproduces it byte for byte",
          "[safetensors]") {
  std::string dir = reference_files("st_roundtrip");
  io::SafetensorsReader reader(dir + "/hf.safetensors");
  CHECK(reader.names().size() == 6);
  CHECK(reader.entry("model.embed_tokens.weight").dtype == "BF16");
  CHECK(reader.get("steps")[1][2].item<int64_t>() == 5 * 1000003);
  CHECK(reader.get("scalar").dim() == 0);
  io::NamedTensors tensors;
  for (const auto& name : reader.names()) tensors.emplace_back(name, reader.get(name));
  io::write_safetensors(dir + "/ours.safetensors", tensors);
  CHECK(slurp(dir + "/ours.safetensors") == slurp(dir + "/hf.safetensors"));
  auto py = run_python(quote(source_path("tests/io/safetensors_reference.py")) + " check " +
                       quote(dir + "/ours.safetensors"));
  INFO(py.err);
  CHECK(py.out == "OK\n");
}

TEST_CASE("a sharded checkpoint is read through its index; ours is sharded the same way",
          "[safetensors]") {
  std::string dir = reference_files("st_sharded");
  io::SafetensorsReader sharded(dir + "/sharded");
  io::SafetensorsReader single(dir + "/hf.safetensors");
  REQUIRE(sharded.names() == single.names());
  io::NamedTensors tensors;
  for (const auto& name : single.names()) {
    CHECK(torch::equal(sharded.get(name), single.get(name)));
    tensors.emplace_back(name, single.get(name));
  }
  io::write_safetensors_checkpoint(dir + "/ours_sharded", tensors, 100);
  CHECK(std::filesystem::exists(dir + "/ours_sharded/model.safetensors.index.json"));
  io::SafetensorsReader ours(dir + "/ours_sharded");
  for (const auto& name : single.names()) CHECK(torch::equal(ours.get(name), single.get(name)));
}

TEST_CASE("corrupt safetensors files are rejected with the reason", "[safetensors]") {
  std::string dir = reference_files("st_corrupt");
  const std::string good = slurp(dir + "/hf.safetensors");
  const std::string bad = dir + "/bad.safetensors";
  auto header_length = [&](uint64_t n) {
    std::string bytes = good;
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return bytes;
  };
  spit(bad, good.substr(0, 5));
  CHECK_THROWS_WITH(io::SafetensorsFile(bad),
                    Contains("bad.safetensors") && Contains("shorter than"));
  spit(bad, header_length(uint64_t(1) << 40));
  CHECK_THROWS_WITH(io::SafetensorsFile(bad), Contains("header length"));
  spit(bad, good.substr(0, good.size() - 3));  // truncated data
  CHECK_THROWS_WITH(io::SafetensorsFile(bad), Contains("bad.safetensors"));
  std::string broken = good;
  broken[8] = '#';  // the opening brace of the JSON header
  spit(bad, broken);
  CHECK_THROWS_WITH(io::SafetensorsFile(bad), Contains("invalid JSON"));
  std::string dtype = good;
  size_t at = dtype.find("\"F16\"");
  REQUIRE(at != std::string::npos);
  dtype.replace(at, 5, "\"Q16\"");
  spit(bad, dtype);
  CHECK_THROWS_WITH(io::SafetensorsFile(bad),
                    Contains("tensor 'half'") && Contains("unsupported dtype 'Q16'"));
  std::string shape = good;
  at = shape.find("\"shape\":[3,5]");
  REQUIRE(at != std::string::npos);
  shape.replace(at, 13, "\"shape\":[5,3]");  // same bytes: still consistent
  spit(bad, shape);
  CHECK_NOTHROW(io::SafetensorsFile(bad));
  shape.replace(at, 13, "\"shape\":[3,4]");  // 12 elements for 15 elements' bytes
  spit(bad, shape);
  CHECK_THROWS_WITH(io::SafetensorsFile(bad),
                    Contains("tensor 'half'") && Contains("bytes for shape"));
  io::SafetensorsReader reader(dir + "/hf.safetensors");
  CHECK_THROWS_WITH(reader.get("nope"), Contains("'nope'") && Contains("hf.safetensors"));
  CHECK_THROWS_WITH(io::SafetensorsReader(dir + "/no_such_dir/"), Contains("no_such_dir"));
}
