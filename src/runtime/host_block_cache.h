// defines: a scoped cache of LibTorch's host (CPU) memory blocks. While a HostBlockCacheScope is
// alive, every CPU tensor allocated gets its block from a cache of freed blocks of the same size
// class, and a freed block goes back to that cache instead of to malloc/free (the classes used
// least recently make room when the cache is full); when the last scope ends the cached blocks
// are freed. The first scope makes the cache LibTorch's CPU allocator for the rest of the
// process; outside a scope it allocates and frees as LibTorch's default allocator does. The generator's decode loop runs inside one, so its steps,
// which allocate the same sizes every time, stop calling malloc, mmap and munmap after the first
// steps (and stop taking the page faults of fresh large blocks).
#pragma once

#include <cstddef>
#include <cstdint>

namespace acerl {

struct HostBlockCacheStats {
  int64_t hits = 0;           // allocations served from the cache (while a scope was alive)
  int64_t misses = 0;         // allocations that went to the system allocator (idem)
  int64_t cached_bytes = 0;   // bytes held in the cache now, free for reuse
};

// The size class a request of `bytes` is served from: multiples of 64 bytes up to 4 KiB, then
// eight classes per power of two (at most 1/8 wasted), so that a buffer that grows a little each
// step reuses the same block.
size_t host_block_size_class(size_t bytes);

class HostBlockCacheScope {
 public:
  // `max_cached_bytes`: the idle blocks the cache may hold (set by the outermost scope); blocks
  // bigger than that are never cached (nor rounded up to their size class).
  explicit HostBlockCacheScope(size_t max_cached_bytes = size_t{512} << 20);
  ~HostBlockCacheScope();
  HostBlockCacheScope(const HostBlockCacheScope&) = delete;
  HostBlockCacheScope& operator=(const HostBlockCacheScope&) = delete;
  // False when another allocator of higher priority owns LibTorch's CPU allocations (then the
  // scope changes nothing).
  bool active() const { return active_; }

 private:
  bool active_ = false;
};

// Counters since the process started (hits and misses count only while a scope is alive).
HostBlockCacheStats host_block_cache_stats();

}  // namespace acerl
