#pragma once
// The allocation policy shared by every trtpipe memory pool; it contains no CUDA.
//
// Memory comes from one or more arenas (from an Upstream), carved into blocks that are aligned
// to 256 bytes. A request takes the best-fitting free block (smallest that fits, O(log n)),
// split when larger; a released block coalesces with free neighbours of the same arena.
//
// Stream safety: a block released on stream S goes to S's own free set, with no CUDA call, so S
// reuses it at once (S's queue orders the new work after the old). Another stream gets it only
// after a fence recorded on S has completed: when a request on T misses, the policy records one
// fence per stream holding free blocks, moves those blocks to a pending batch and hands them to
// every stream once the fence is done. Fences are recorded lazily, only when another stream
// needs memory, so the common case (one stream per pipeline stage reusing its own buffers)
// pays nothing per release. A block is never given to another stream before its fence is done.
//
// A released block that would coalesce with its stream's cached neighbours is parked instead
// (kept whole, in the same per-stream best-fit set), so that a stream allocating and releasing
// the same size over and over takes back the exact block: no split, no merge. Parked blocks
// coalesce on demand: when the stream's lookup misses, when more than kParkedPerStream are
// parked on it, and when they are fenced (reclaim(), another stream's miss).
// The price: a stream must stay valid while the pool holds free blocks it released (fences are
// recorded on it later); reclaim() before destroying such a stream moves them off it.
//
// When nothing fits: grow by an arena (up to max_bytes); then, with fallback on, allocate
// directly from the upstream (counted as a fallback, freed back directly) rather than stall on
// another stream's work; with fallback off, wait for the pending fences and, if still nothing
// fits, throw PoolExhaustedError naming the request, the free bytes and the largest free block.
// Every public method is thread-safe (one mutex).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "memory/upstream.hpp"

namespace trtpipe::memory {

inline constexpr std::size_t kBlockAlignment = 256;
// Released blocks kept uncoalesced per stream for exact reuse, at most.
inline constexpr std::size_t kParkedPerStream = 16;

struct PoolOptions {
  std::size_t initial_bytes = 0;  // first arena, allocated at construction (0: none yet)
  std::size_t max_bytes = 0;      // total arena capacity allowed; 0 means initial_bytes (fixed)
  std::size_t grow_bytes = 0;     // size of each further arena; 0 means initial_bytes
  bool fallback = true;           // when full: direct upstream allocation instead of throwing
};

struct PoolStats {
  std::size_t capacity = 0;             // bytes in arenas
  std::size_t in_use = 0;               // bytes in live pool blocks (rounded to 256)
  std::size_t peak_in_use = 0;          // since construction or reset_peak()
  std::size_t free_bytes = 0;           // capacity - in_use
  std::size_t largest_free_block = 0;   // whichever stream may use it
  double fragmentation = 0.0;           // 1 - largest_free_block / free_bytes (0 when none free)
  std::size_t stream_cached_bytes = 0;  // free, reusable only by the stream that released them
  std::size_t pending_bytes = 0;        // free, waiting for a fence before any stream reuses them
  std::uint64_t allocations = 0;        // successful requests, pool blocks and fallbacks
  std::uint64_t releases = 0;
  std::uint64_t fallbacks = 0;          // requests served by a direct upstream allocation
  std::size_t fallback_bytes_in_use = 0;
  std::uint64_t fence_waits = 0;        // times a request blocked on another stream's work
  std::size_t live_blocks = 0;          // pool blocks handed out and not yet released
  std::size_t live_fallbacks = 0;
  std::size_t free_blocks = 0;
  std::size_t arenas = 0;
};

// One block as the policy sees it, for inspection and tests.
struct BlockInfo {
  // Parked: stream-cached, kept apart from cached neighbours for exact reuse.
  enum class State { Used, Free, StreamCached, Parked, Pending };
  std::uintptr_t address = 0;
  std::size_t size = 0;
  std::size_t arena = 0;
  State state = State::Free;
  StreamId stream = 0;  // the stream that may reuse a StreamCached or Parked block
};

struct ArenaInfo {
  std::uintptr_t address = 0;
  std::size_t size = 0;
};

// What allocate() hands out; release() takes it back.
struct Allocation {
  void* ptr = nullptr;
  void* mapped = nullptr;
  std::size_t size = 0;  // rounded up to kBlockAlignment
  StreamId stream = 0;
  bool fallback = false;
};

class BlockPolicy {
 public:
  BlockPolicy(std::unique_ptr<Upstream> upstream, PoolOptions options);
  ~BlockPolicy();
  BlockPolicy(const BlockPolicy&) = delete;
  BlockPolicy& operator=(const BlockPolicy&) = delete;

  // `bytes` is rounded up to 256 (0 gives one 256-byte block). Throws InputError for a size that
  // cannot be represented, PoolExhaustedError when full and fallback is off.
  Allocation allocate(std::size_t bytes, StreamId stream);
  // The part of allocate() that never blocks, grows or falls back: a block already free for
  // `stream`. False when there is none (then allocate() does the rest).
  bool try_allocate(std::size_t bytes, StreamId stream, Allocation& out);
  // Returns an allocation; work queued on `stream` may still use it. Throws InputError when the
  // allocation is not live in this pool (double release, foreign pointer).
  void release(const Allocation& allocation, StreamId stream);

  // Fences every stream's cached blocks and hands those whose work has finished to every stream,
  // coalesced. Never blocks. After the streams are idle, everything free becomes one block per
  // contiguous run.
  void reclaim();

  PoolStats stats() const;
  void reset_peak();
  std::vector<BlockInfo> blocks() const;
  std::vector<ArenaInfo> arenas() const;
  const PoolOptions& options() const noexcept { return options_; }
  bool host_accessible() const noexcept { return upstream_->host_accessible(); }
  const char* kind() const noexcept { return upstream_->kind(); }

 private:
  enum class State : std::uint8_t { Used, Free, StreamCached, Parked, Pending };
  struct Block {
    std::size_t size;
    std::size_t arena;
    State state;
    StreamId stream;
  };
  struct Arena {
    Region region;
    std::size_t size;
  };
  struct PendingBatch {
    Fence fence;
    std::vector<std::uintptr_t> blocks;
  };
  using FreeSet = std::set<std::pair<std::size_t, std::uintptr_t>>;
  using BlockMap = std::map<std::uintptr_t, Block>;
  // What one stream may reuse before any fence: cached and parked blocks, best fit by size.
  struct StreamCache {
    FreeSet set;
    std::size_t parked = 0;
  };

  bool add_arena(std::size_t bytes);
  bool take(FreeSet& set, std::size_t* parked, std::size_t size, StreamId stream,
            Allocation& out);
  bool take_own(std::size_t size, StreamId stream, Allocation& out);
  bool take_free(std::size_t size, StreamId stream, Allocation& out) {
    return take(free_, nullptr, size, stream, out);
  }
  bool would_merge(BlockMap::iterator it, StreamId stream) const;
  StreamCache& cache_of(StreamId stream);
  void unpark(StreamCache& cache, StreamId stream);
  void insert_free(BlockMap::iterator it, State state, StreamId stream);
  void settle_done_batches();
  void settle(PendingBatch& batch);
  void fence_stream(StreamId stream, StreamCache& cache);
  void fence_other_streams(StreamId requester);
  bool wait_for_pending(std::size_t size, StreamId stream, Allocation& out);
  Allocation fallback_allocate(std::size_t size, StreamId stream);
  void drain() noexcept;
  std::size_t largest_free_locked() const;
  std::size_t free_locked() const { return capacity_ - in_use_; }
  [[noreturn]] void throw_exhausted(std::size_t requested, const std::string& why) const;

  std::unique_ptr<Upstream> upstream_;
  PoolOptions options_;
  mutable std::mutex mutex_;
  std::vector<Arena> arenas_;
  BlockMap blocks_;
  FreeSet free_;  // usable by every stream
  std::unordered_map<StreamId, StreamCache> stream_cached_;  // entries are never erased
  StreamId last_stream_ = 0;
  StreamCache* last_cache_ = nullptr;  // stream_cached_[last_stream_]: most calls use one stream
  std::vector<PendingBatch> pending_;
  std::unordered_map<std::uintptr_t, Allocation> fallbacks_;
  std::size_t capacity_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;
  std::size_t stream_cached_bytes_ = 0;
  std::size_t pending_bytes_ = 0;
  std::size_t fallback_bytes_ = 0;
  std::size_t live_blocks_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t releases_ = 0;
  std::uint64_t fallback_count_ = 0;
  std::uint64_t fence_waits_ = 0;
};

}  // namespace trtpipe::memory
