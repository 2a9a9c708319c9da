// The scoped host block cache (see host_block_cache.h): a c10::Allocator that becomes LibTorch's
// CPU allocator at the first scope and stays so for the rest of the process. Swapping it back
// would be unsafe: some LibTorch code (ideep, for oneDNN) frees through whichever CPU allocator
// is current at the time of the free, so a block must be freeable by the allocator of any later
// moment. Blocks are plain c10::alloc_cpu blocks (what LibTorch's default allocator hands out),
// and the allocator keeps a table of its live blocks: a block it does not know (allocated before
// it was installed) is freed as the default allocator frees it. With no scope alive it caches
// nothing. Under AddressSanitizer cached blocks, and the unused tail of a live block's size
// class, are poisoned.
#include "runtime/host_block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdint>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "runtime/error.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACERL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ACERL_ASAN 1
#endif
#ifdef ACERL_ASAN
#include <sanitizer/asan_interface.h>
#define ACERL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ACERL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ACERL_POISON(p, n) ((void)(p), (void)(n))
#define ACERL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace acerl {
namespace {

class CachingHostAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) override {
    if (bytes == 0) return {nullptr, nullptr, &release, c10::Device(c10::DeviceType::CPU)};
    ACERL_CHECK(bytes <= std::numeric_limits<size_t>::max() / 4, "a host allocation of ", bytes,
                " bytes");
    void* data = nullptr;
    size_t size = host_block_size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Blocks that will never be cached (no scope, or above the cap) are not rounded up.
      if (scopes_ == 0 || size > max_cached_bytes_) size = bytes;
      if (scopes_ > 0) {
        auto it = free_.find(size);
        if (it != free_.end() && !it->second.blocks.empty()) {
          data = it->second.blocks.back();
          it->second.blocks.pop_back();
          it->second.last_use = ++clock_;
          stats_.cached_bytes -= static_cast<int64_t>(size);
          stats_.hits += 1;
        } else {
          stats_.misses += 1;
        }
      }
    }
    if (data == nullptr) {  // (a cached block is still in live_)
      data = c10::alloc_cpu(size);
      try {
        std::lock_guard<std::mutex> lock(mutex_);
        live_.emplace(data, size);
      } catch (...) {
        c10::free_cpu(data);
        throw;
      }
    }
    ACERL_UNPOISON(data, size);
    ACERL_POISON(static_cast<char*>(data) + bytes, size - bytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  // Returns false (and changes nothing) when LibTorch keeps another CPU allocator.
  bool enter(size_t max_cached_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (c10::GetCPUAllocator() != this) {
      c10::SetCPUAllocator(this, 0);  // once; see the top of this file
      if (c10::GetCPUAllocator() != this) return false;
    }
    if (scopes_ == 0) max_cached_bytes_ = max_cached_bytes;
    scopes_ += 1;
    return true;
  }

  void leave() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--scopes_ > 0) return;
      for (auto& [size, list] : free_) {
        for (void* data : list.blocks) {
          ACERL_UNPOISON(data, size);
          live_.erase(data);
        }
        blocks.insert(blocks.end(), list.blocks.begin(), list.blocks.end());
      }
      free_.clear();
      stats_.cached_bytes = 0;
      max_cached_bytes_ = 0;
    }
    for (void* data : blocks) c10::free_cpu(data);
  }

  HostBlockCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  struct SizeClass {
    std::vector<void*> blocks;
    uint64_t last_use = 0;  // clock_ at the class's last allocation or release
  };

  static void release(void* data);
  // Caches `data` (a live block of `size` bytes) if a scope is alive and it fits under the cap,
  // evicting the blocks of the classes used least recently to make room; otherwise, or when it
  // is bigger than the cap, returns false. Appends the evicted blocks to `evicted`.
  bool keep(void* data, size_t size, std::vector<std::pair<void*, size_t>>& evicted);

  std::mutex mutex_;
  int scopes_ = 0;
  size_t max_cached_bytes_ = 0;
  uint64_t clock_ = 0;
  std::unordered_map<void*, size_t> live_;  // this allocator's blocks, in use or cached, by size
  std::unordered_map<size_t, SizeClass> free_;
  HostBlockCacheStats stats_;
};

// Never destroyed: tensors allocated through it may outlive every static object.
CachingHostAllocator& instance() {
  static auto* allocator = new CachingHostAllocator();
  return *allocator;
}

bool CachingHostAllocator::keep(void* data, size_t size,
                                std::vector<std::pair<void*, size_t>>& evicted) {
  if (scopes_ == 0 || size > max_cached_bytes_) return false;
  while (static_cast<size_t>(stats_.cached_bytes) + size > max_cached_bytes_) {
    auto oldest = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (!it->second.blocks.empty() && it->first != size &&
          (oldest == free_.end() || it->second.last_use < oldest->second.last_use))
        oldest = it;
    if (oldest == free_.end()) return false;  // only this class is cached: keep what it has
    for (void* block : oldest->second.blocks) {
      evicted.emplace_back(block, oldest->first);
      stats_.cached_bytes -= static_cast<int64_t>(oldest->first);
    }
    oldest->second.blocks.clear();
  }
  SizeClass& cls = free_[size];
  cls.blocks.push_back(data);
  cls.last_use = ++clock_;
  stats_.cached_bytes += static_cast<int64_t>(size);
  return true;
}

void CachingHostAllocator::release(void* data) {
  if (data == nullptr) return;
  CachingHostAllocator& self = instance();
  std::vector<std::pair<void*, size_t>> evicted;
  bool freed_here = true;
  size_t size = 0;
  {
    std::lock_guard<std::mutex> lock(self.mutex_);
    auto it = self.live_.find(data);
    if (it != self.live_.end()) {
      size = it->second;
      bool kept = false;
      try {
        kept = self.keep(data, size, evicted);
      } catch (...) {  // no memory for the lists: free the block instead
        kept = false;
      }
      if (kept) {
        ACERL_POISON(data, size);
        freed_here = false;
      } else {
        self.live_.erase(it);
      }
      for (const auto& e : evicted) self.live_.erase(e.first);
    }
    // else: a block of LibTorch's default allocator, from before this one was installed.
  }
  for (const auto& [block, bytes] : evicted) {
    ACERL_UNPOISON(block, bytes);
    c10::free_cpu(block);
  }
  if (freed_here) {
    ACERL_UNPOISON(data, size);
    c10::free_cpu(data);
  }
}

}  // namespace

size_t host_block_size_class(size_t bytes) {
  if (bytes <= 4096) return (bytes + 63) / 64 * 64;
  size_t top = 1;
  while (top <= bytes / 2) top *= 2;  // the highest power of two <= bytes
  const size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

HostBlockCacheScope::HostBlockCacheScope(size_t max_cached_bytes)
    : active_(instance().enter(max_cached_bytes)) {}

HostBlockCacheScope::~HostBlockCacheScope() {
  if (active_) instance().leave();
}

HostBlockCacheStats host_block_cache_stats() { return instance().stats(); }

}  // namespace acerl
