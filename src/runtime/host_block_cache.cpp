// The scoped host block cache (see host_block_cache.h): a c10::Allocator installed as LibTorch's
// CPU allocator while a scope is alive. Each block carries a header in front of the data (its size
// class), so the deleter, which LibTorch calls with the DataPtr's context, can file it without a
// lookup; blocks the cache holds are poisoned under AddressSanitizer.
#include "runtime/host_block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/alignment.h>
#include <c10/core/impl/alloc_cpu.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ACERL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ACERL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ACERL_POISON(p, n) ((void)(p), (void)(n))
#define ACERL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace acerl {
namespace {

// The header keeps the data aligned as LibTorch's own allocator does.
constexpr size_t kHeader = c10::gAlignment >= 16 ? c10::gAlignment : 16;

struct Header {
  size_t size_class;
};

char* data_of(Header* h) { return reinterpret_cast<char*>(h) + kHeader; }
Header* header_of(void* data) {
  return reinterpret_cast<Header*>(static_cast<char*>(data) - kHeader);
}

class CachingHostAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) override {
    if (bytes == 0) return {nullptr, nullptr, &release, c10::Device(c10::DeviceType::CPU)};
    const size_t size_class = host_block_size_class(bytes);
    Header* h = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (scopes_ > 0) {
        auto it = free_.find(size_class);
        if (it != free_.end() && !it->second.empty()) {
          h = it->second.back();
          it->second.pop_back();
          stats_.cached_bytes -= static_cast<int64_t>(size_class);
          stats_.hits += 1;
        } else {
          stats_.misses += 1;
        }
      }
    }
    if (h != nullptr) {
      ACERL_UNPOISON(data_of(h), size_class);
    } else {
      h = static_cast<Header*>(c10::alloc_cpu(kHeader + size_class));
      h->size_class = size_class;
    }
    return {data_of(h), data_of(h), &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  // Returns false (and changes nothing) when LibTorch keeps another CPU allocator.
  bool enter(size_t max_cached_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (scopes_ == 0) {
      c10::Allocator* current = c10::GetCPUAllocator();
      c10::SetCPUAllocator(this, 0);
      if (c10::GetCPUAllocator() != this) return false;
      previous_ = current;
      max_cached_bytes_ = max_cached_bytes;
    }
    scopes_ += 1;
    return true;
  }

  void leave() {
    std::vector<Header*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--scopes_ > 0) return;
      c10::SetCPUAllocator(previous_, 0);
      for (auto& [size_class, list] : free_) {
        for (Header* h : list) ACERL_UNPOISON(data_of(h), size_class);
        blocks.insert(blocks.end(), list.begin(), list.end());
      }
      free_.clear();
      stats_.cached_bytes = 0;
    }
    for (Header* h : blocks) c10::free_cpu(h);
  }

  HostBlockCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  static void release(void* data);

  std::mutex mutex_;
  int scopes_ = 0;
  size_t max_cached_bytes_ = 0;
  c10::Allocator* previous_ = nullptr;
  std::unordered_map<size_t, std::vector<Header*>> free_;
  HostBlockCacheStats stats_;
};

// Never destroyed: tensors allocated through it may outlive every static object.
CachingHostAllocator& instance() {
  static auto* allocator = new CachingHostAllocator();
  return *allocator;
}

void CachingHostAllocator::release(void* data) {
  if (data == nullptr) return;
  Header* h = header_of(data);
  CachingHostAllocator& self = instance();
  {
    std::lock_guard<std::mutex> lock(self.mutex_);
    const auto size = static_cast<int64_t>(h->size_class);
    if (self.scopes_ > 0 &&
        self.stats_.cached_bytes + size <= static_cast<int64_t>(self.max_cached_bytes_)) {
      ACERL_POISON(data_of(h), h->size_class);
      self.free_[h->size_class].push_back(h);
      self.stats_.cached_bytes += size;
      return;
    }
  }
  c10::free_cpu(h);
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
