// The scoped host block cache: size classes worked out by hand, a freed block handed to the next
// tensor of its class, the idle-bytes cap, nesting, threads, and nothing counted or kept outside a
// scope.
#include "support/catch.h"

#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/host_block_cache.h"

using namespace acerl;

TEST_CASE("host block size classes: 64-byte steps to 4 KiB, then eight per power of two",
          "[runtime]") {
  CHECK(host_block_size_class(1) == 64);
  CHECK(host_block_size_class(64) == 64);
  CHECK(host_block_size_class(65) == 128);
  CHECK(host_block_size_class(4000) == 4032);
  CHECK(host_block_size_class(4096) == 4096);
  CHECK(host_block_size_class(4097) == 4608);    // 4096 + 4096 / 8
  CHECK(host_block_size_class(5000) == 5120);    // 4096 + 2 x 512
  CHECK(host_block_size_class(8192) == 8192);
  CHECK(host_block_size_class(8193) == 9216);    // 8192 + 8192 / 8
  CHECK(host_block_size_class(1000000) == 1048576);  // 983040 < 1e6: 524288 + 8 x 65536
  CHECK(host_block_size_class(1048577) == 1179648);
  for (size_t n = 1; n < 70000; n += 37) {
    const size_t c = host_block_size_class(n);
    REQUIRE(c >= n);
    REQUIRE(c * 8 <= n * 9 + 8 * 64);  // at most 1/8 wasted (64 bytes below 4 KiB)
  }
}

TEST_CASE("inside a scope a freed block serves the next tensor of its size class", "[runtime]") {
  const HostBlockCacheStats before = host_block_cache_stats();
  {
    HostBlockCacheScope scope;
    REQUIRE(scope.active());
    torch::Tensor a = torch::empty({1000}, torch::kFloat32);  // 4000 bytes: class 4032
    void* first = a.data_ptr();
    a.fill_(1.5f);
    HostBlockCacheStats s = host_block_cache_stats();
    CHECK(s.misses == before.misses + 1);
    CHECK(s.hits == before.hits);
    a.reset();
    CHECK(host_block_cache_stats().cached_bytes == 4032);
    torch::Tensor b = torch::empty({1001}, torch::kFloat32);  // 4004 bytes: the same class
    CHECK(b.data_ptr() == first);
    s = host_block_cache_stats();
    CHECK(s.hits == before.hits + 1);
    CHECK(s.misses == before.misses + 1);
    CHECK(s.cached_bytes == 0);
    b.fill_(2.0f);  // the reused block is writable (AddressSanitizer unpoisons it)
    CHECK(b.sum().item<float>() == 2002.0f);  // (its result is one more block)
    const int64_t misses = host_block_cache_stats().misses;
    torch::Tensor c = torch::empty({1100}, torch::kFloat32);  // 4400 bytes: class 4608, new
    CHECK(c.data_ptr() != b.data_ptr());
    CHECK(host_block_cache_stats().misses == misses + 1);
    // An operator's result comes from the cache too.
    b.reset();
    torch::Tensor d = c.narrow(0, 0, 1000) * 2;
    CHECK(d.data_ptr() == first);
  }
  const HostBlockCacheStats after = host_block_cache_stats();
  CHECK(after.cached_bytes == 0);  // the scope's end freed every cached block
  // It stays LibTorch's CPU allocator: some LibTorch code frees through the current one.
  CHECK(c10::GetCPUAllocator() != c10::GetDefaultCPUAllocator());
  // Outside a scope nothing is counted or kept.
  torch::Tensor e = torch::empty({1000}, torch::kFloat32);
  e.reset();
  const HostBlockCacheStats outside = host_block_cache_stats();
  CHECK(outside.hits == after.hits);
  CHECK(outside.misses == after.misses);
  CHECK(outside.cached_bytes == 0);
}

TEST_CASE("the host block cache keeps idle blocks up to its cap and outlives nested scopes",
          "[runtime]") {
  torch::Tensor tensor;
  {
  HostBlockCacheScope outer(6000);
  REQUIRE(outer.active());
  {
    HostBlockCacheScope inner;  // nested: the outer scope's cap holds
    torch::Tensor a = torch::empty({1000}, torch::kFloat32);  // class 4032
    torch::Tensor b = torch::empty({1000}, torch::kFloat32);
    tensor = torch::empty({16}, torch::kFloat32);  // lives past both scopes
    a.reset();
    CHECK(host_block_cache_stats().cached_bytes == 4032);
    b.reset();  // 8064 > 6000: freed, not kept
    CHECK(host_block_cache_stats().cached_bytes == 4032);
  }
  CHECK(host_block_cache_stats().cached_bytes == 4032);  // the inner scope's end keeps them
  torch::Tensor again = torch::empty({1000}, torch::kFloat32);
  CHECK(host_block_cache_stats().cached_bytes == 0);
  }
  // Allocated in the scope, used and freed after it.
  tensor.fill_(3.0f);
  CHECK(tensor.sum().item<float>() == 48.0f);
  tensor.reset();
  CHECK(host_block_cache_stats().cached_bytes == 0);
}

TEST_CASE("a full host block cache makes room by freeing the classes used least recently",
          "[runtime]") {
  HostBlockCacheScope scope(10000);
  REQUIRE(scope.active());
  torch::Tensor a = torch::empty({1000}, torch::kFloat32);  // class 4032
  torch::Tensor b = torch::empty({1100}, torch::kFloat32);  // class 4608
  torch::Tensor c = torch::empty({1250}, torch::kFloat32);  // 5000 bytes: class 5120
  a.reset();
  b.reset();
  CHECK(host_block_cache_stats().cached_bytes == 4032 + 4608);
  c.reset();  // 8640 + 5120 > 10000: the 4032 class, released first, goes
  CHECK(host_block_cache_stats().cached_bytes == 4608 + 5120);
  torch::Tensor big = torch::empty({3000}, torch::kFloat32);  // 12000 bytes: above the cap
  const int64_t misses = host_block_cache_stats().misses;
  big.reset();
  CHECK(host_block_cache_stats().cached_bytes == 4608 + 5120);  // not kept
  big = torch::empty({3000}, torch::kFloat32);
  CHECK(host_block_cache_stats().misses == misses + 1);
}

TEST_CASE("the host block cache frees blocks of LibTorch's default allocator as that does",
          "[runtime]") {
  HostBlockCacheScope scope;
  REQUIRE(scope.active());
  // A block from before the cache was installed, freed through the current allocator (as
  // ideep frees oneDNN's buffers): freed, not filed.
  void* p = c10::GetDefaultCPUAllocator()->raw_allocate(5000);
  REQUIRE(p != nullptr);
  const int64_t cached = host_block_cache_stats().cached_bytes;
  c10::GetCPUAllocator()->raw_deallocate(p);
  CHECK(host_block_cache_stats().cached_bytes == cached);
}

TEST_CASE("the host block cache serves threads that allocate and free at once", "[runtime]") {
  const HostBlockCacheStats before = host_block_cache_stats();
  constexpr int kThreads = 4, kRounds = 500;
  std::atomic<int> wrong{0};
  {
    HostBlockCacheScope scope;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t, &wrong] {
        for (int i = 0; i < kRounds; ++i) {
          torch::Tensor x = torch::full({64 + (i % 3) * 100}, static_cast<float>(t * 1000 + i));
          if (x.max().item<float>() != x.min().item<float>()) wrong += 1;
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  CHECK(wrong == 0);
  const HostBlockCacheStats after = host_block_cache_stats();
  // Every allocation went through the cache, one way or the other: the tensors from torch::full
  // and their max/min results (3 per round).
  CHECK(after.hits + after.misses - before.hits - before.misses >= kThreads * kRounds * 3);
  CHECK(after.hits - before.hits > kThreads * kRounds);  // most came back from the cache
  CHECK(after.cached_bytes == 0);
}

TEST_CASE("the host block cache serves LibTorch's raw allocations", "[runtime]") {
  HostBlockCacheScope scope;
  REQUIRE(scope.active());
  c10::Allocator* allocator = c10::GetCPUAllocator();
  void* p = allocator->raw_allocate(3000);  // requires the data pointer as the context
  REQUIRE(p != nullptr);
  static_cast<char*>(p)[2999] = 7;
  allocator->raw_deallocate(p);
  CHECK(host_block_cache_stats().cached_bytes == 3008);
  void* q = allocator->raw_allocate(2990);
  CHECK(q == p);
  allocator->raw_deallocate(q);
}
