#include "memory/block_policy.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <sstream>

#include "common/errors.hpp"

namespace trtpipe::memory {
namespace {

constexpr std::size_t kMaxRequest = std::numeric_limits<std::size_t>::max() - kBlockAlignment;

std::size_t round_up(std::size_t bytes) {
  if (bytes == 0) return kBlockAlignment;
  return (bytes + kBlockAlignment - 1) / kBlockAlignment * kBlockAlignment;
}

std::string hex(std::uintptr_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

std::uintptr_t address_of(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr); }

}  // namespace

BlockPolicy::BlockPolicy(std::unique_ptr<Upstream> upstream, PoolOptions options)
    : upstream_(std::move(upstream)), options_(options) {
  if (options_.max_bytes == 0) options_.max_bytes = options_.initial_bytes;
  if (options_.max_bytes < options_.initial_bytes) {
    throw InputError("max_bytes: expected at least initial_bytes (" +
                     std::to_string(options_.initial_bytes) + "), given " +
                     std::to_string(options_.max_bytes));
  }
  if (options_.initial_bytes > kMaxRequest || options_.max_bytes > kMaxRequest) {
    throw InputError("pool size: expected at most " + std::to_string(kMaxRequest) + " bytes");
  }
  if (options_.grow_bytes == 0) options_.grow_bytes = options_.initial_bytes;
  if (options_.initial_bytes > 0 && !add_arena(round_up(options_.initial_bytes))) {
    throw PoolExhaustedError(std::string("could not allocate the initial arena of ") +
                                 std::to_string(options_.initial_bytes) + " bytes of " +
                                 upstream_->kind(),
                             options_.initial_bytes, 0, 0);
  }
}

BlockPolicy::~BlockPolicy() { drain(); }

bool BlockPolicy::add_arena(std::size_t bytes) {
  const Region region = upstream_->allocate(bytes);
  if (region.ptr == nullptr) return false;
  const std::size_t index = arenas_.size();
  try {
    arenas_.push_back(Arena{region, bytes});
    auto it = blocks_.emplace(address_of(region.ptr), Block{bytes, index, State::Used, 0}).first;
    capacity_ += bytes;
    insert_free(it, State::Free, 0);
  } catch (...) {
    if (arenas_.size() > index) arenas_.pop_back();
    upstream_->deallocate(region, bytes);
    throw;
  }
  return true;
}

bool BlockPolicy::try_allocate(std::size_t bytes, StreamId stream, Allocation& out) {
  if (bytes > kMaxRequest) return false;
  const std::size_t size = round_up(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  return take_own(size, stream, out) || take_free(size, stream, out);
}

BlockPolicy::StreamCache& BlockPolicy::cache_of(StreamId stream) {
  if (last_cache_ == nullptr || last_stream_ != stream) {
    last_cache_ = &stream_cached_[stream];
    last_stream_ = stream;
  }
  return *last_cache_;
}

bool BlockPolicy::take_own(std::size_t size, StreamId stream, Allocation& out) {
  StreamCache& cache = cache_of(stream);
  if (take(cache.set, &cache.parked, size, stream, out)) return true;
  if (cache.parked == 0) return false;
  // Parked neighbours together may fit what none of them fits alone.
  unpark(cache, stream);
  return take(cache.set, &cache.parked, size, stream, out);
}

Allocation BlockPolicy::allocate(std::size_t bytes, StreamId stream) {
  if (bytes > kMaxRequest) {
    throw InputError("bytes: expected at most " + std::to_string(kMaxRequest) + ", given " +
                     std::to_string(bytes));
  }
  const std::size_t size = round_up(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  Allocation out;
  if (take_own(size, stream, out) || take_free(size, stream, out)) return out;

  // Blocks other streams released may be done with by now.
  settle_done_batches();
  fence_other_streams(stream);
  settle_done_batches();
  if (take_free(size, stream, out)) return out;

  if (capacity_ < options_.max_bytes) {
    const std::size_t room = options_.max_bytes - capacity_;
    const std::size_t want = std::max(round_up(options_.grow_bytes), size);
    if (size <= room && add_arena(std::min(want, room / kBlockAlignment * kBlockAlignment)) &&
        take_free(size, stream, out)) {
      return out;
    }
  }

  // With fallback on, a direct allocation (counted) beats stalling this thread on another
  // stream's queue; with it off, waiting is the only way to serve the request.
  if (options_.fallback) {
    // Without blocking: this stream's own cached blocks may merge with free neighbours.
    auto cached = stream_cached_.find(stream);
    if (cached != stream_cached_.end() && !cached->second.set.empty()) {
      fence_stream(stream, cached->second);
      settle_done_batches();
      if (take_free(size, stream, out)) return out;
    }
    return fallback_allocate(size, stream);
  }
  if (wait_for_pending(size, stream, out)) return out;
  throw_exhausted(bytes, "fallback to direct allocation is off");
}

bool BlockPolicy::take(FreeSet& set, std::size_t* parked, std::size_t size, StreamId stream,
                       Allocation& out) {
  auto best = set.lower_bound({size, 0});
  if (best == set.end()) return false;
  const std::uintptr_t address = best->second;
  auto it = blocks_.find(address);
  Block& block = it->second;
  if (block.size > size) {
    // The remainder stays where it was: same set, same state (a parked block's remainder
    // stays parked), same stream restriction.
    blocks_.emplace_hint(std::next(it), address + size,
                         Block{block.size - size, block.arena, block.state, block.stream});
    set.emplace_hint(best, block.size - size, address + size);
  } else if (block.state == State::Parked && parked != nullptr) {
    --*parked;
  }
  set.erase(best);
  if (block.state == State::StreamCached || block.state == State::Parked) {
    stream_cached_bytes_ -= size;
  }
  block.size = size;
  block.state = State::Used;
  block.stream = stream;

  const Arena& arena = arenas_[block.arena];
  const std::uintptr_t offset = address - address_of(arena.region.ptr);
  out.ptr = reinterpret_cast<void*>(address);
  out.mapped = arena.region.mapped == nullptr
                   ? nullptr
                   : reinterpret_cast<void*>(address_of(arena.region.mapped) + offset);
  out.size = size;
  out.stream = stream;
  out.fallback = false;
  in_use_ += size;
  peak_ = std::max(peak_, in_use_);
  ++live_blocks_;
  ++allocations_;
  return true;
}

void BlockPolicy::insert_free(BlockMap::iterator it, State state, StreamId stream) {
  it->second.state = state;
  it->second.stream = state == State::StreamCached ? stream : 0;
  if (state == State::StreamCached) stream_cached_bytes_ += it->second.size;
  if (state == State::Pending) return;
  FreeSet& set = state == State::Free ? free_ : cache_of(stream).set;
  auto mergeable = [&](const BlockMap::iterator& a, const BlockMap::iterator& b) {
    return a->first + a->second.size == b->first && a->second.arena == b->second.arena &&
           b->second.state == a->second.state && b->second.stream == a->second.stream;
  };
  auto next = std::next(it);
  if (next != blocks_.end() && mergeable(it, next)) {
    set.erase({next->second.size, next->first});
    it->second.size += next->second.size;
    blocks_.erase(next);
  }
  if (it != blocks_.begin()) {
    auto prev = std::prev(it);
    if (mergeable(prev, it)) {
      set.erase({prev->second.size, prev->first});
      prev->second.size += it->second.size;
      blocks_.erase(it);
      it = prev;
    }
  }
  set.emplace(it->second.size, it->first);
}

void BlockPolicy::release(const Allocation& allocation, StreamId stream) {
  const std::uintptr_t address = address_of(allocation.ptr);
  std::lock_guard<std::mutex> lock(mutex_);
  if (allocation.fallback) {
    auto it = fallbacks_.find(address);
    if (it == fallbacks_.end() || it->second.size != allocation.size) {
      throw InputError("release: expected a live fallback allocation of this pool, given " +
                       hex(address) + " (already released, or not from this pool)");
    }
    // The direct free (cudaFree / cudaFreeHost) waits for the device itself.
    upstream_->deallocate(Region{it->second.ptr, it->second.mapped}, it->second.size);
    fallback_bytes_ -= it->second.size;
    fallbacks_.erase(it);
    ++releases_;
    return;
  }
  auto it = blocks_.find(address);
  if (it == blocks_.end() || it->second.state != State::Used ||
      it->second.size != allocation.size) {
    throw InputError("release: expected a live block of this pool, given " + hex(address) +
                     " (already released, or not from this pool)");
  }
  in_use_ -= it->second.size;
  --live_blocks_;
  ++releases_;
  if (!would_merge(it, stream)) {
    insert_free(it, State::StreamCached, stream);
    return;
  }
  // Kept whole for the next request of this size on this stream (see the header).
  StreamCache& cache = cache_of(stream);
  if (cache.parked >= kParkedPerStream) unpark(cache, stream);
  Block& block = it->second;
  block.state = State::Parked;
  block.stream = stream;
  stream_cached_bytes_ += block.size;
  cache.set.emplace(block.size, address);
  ++cache.parked;
}

bool BlockPolicy::would_merge(BlockMap::iterator it, StreamId stream) const {
  auto cached_on_stream = [&](BlockMap::const_iterator other) {
    return other->second.state == State::StreamCached && other->second.stream == stream &&
           other->second.arena == it->second.arena;
  };
  auto next = std::next(it);
  if (next != blocks_.end() && it->first + it->second.size == next->first &&
      cached_on_stream(next)) {
    return true;
  }
  if (it == blocks_.begin()) return false;
  auto prev = std::prev(it);
  return prev->first + prev->second.size == it->first && cached_on_stream(prev);
}

void BlockPolicy::unpark(StreamCache& cache, StreamId stream) {
  std::vector<std::uintptr_t> parked;
  parked.reserve(cache.parked);
  for (const auto& [size, address] : cache.set) {
    if (blocks_.find(address)->second.state == State::Parked) parked.push_back(address);
  }
  // A parked block merges only when it is itself unparked, so each address is still a block.
  for (std::uintptr_t address : parked) {
    auto it = blocks_.find(address);
    cache.set.erase({it->second.size, address});
    stream_cached_bytes_ -= it->second.size;
    insert_free(it, State::StreamCached, stream);
  }
  cache.parked = 0;
}

void BlockPolicy::fence_stream(StreamId stream, StreamCache& cache) {
  PendingBatch batch{upstream_->record_fence(stream), {}};
  batch.blocks.reserve(cache.set.size());
  for (const auto& [size, address] : cache.set) {
    blocks_.find(address)->second.state = State::Pending;
    stream_cached_bytes_ -= size;
    pending_bytes_ += size;
    batch.blocks.push_back(address);
  }
  cache.set.clear();
  cache.parked = 0;
  pending_.push_back(std::move(batch));
}

void BlockPolicy::fence_other_streams(StreamId requester) {
  for (auto& [stream, cache] : stream_cached_) {
    if (stream != requester && !cache.set.empty()) fence_stream(stream, cache);
  }
}

void BlockPolicy::reclaim() {
  std::lock_guard<std::mutex> lock(mutex_);
  settle_done_batches();
  for (auto& [stream, cache] : stream_cached_) {
    if (!cache.set.empty()) fence_stream(stream, cache);
  }
  settle_done_batches();
}

void BlockPolicy::settle(PendingBatch& batch) {
  for (std::uintptr_t address : batch.blocks) {
    auto it = blocks_.find(address);
    pending_bytes_ -= it->second.size;
    insert_free(it, State::Free, 0);
  }
  upstream_->destroy_fence(batch.fence);
}

void BlockPolicy::settle_done_batches() {
  for (std::size_t i = 0; i < pending_.size();) {
    if (upstream_->fence_done(pending_[i].fence)) {
      settle(pending_[i]);
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

bool BlockPolicy::wait_for_pending(std::size_t size, StreamId stream, Allocation& out) {
  // The requester's own cached blocks join in, so that everything released can coalesce.
  auto own = stream_cached_.find(stream);
  if (own != stream_cached_.end() && !own->second.set.empty()) {
    fence_stream(stream, own->second);
  }
  for (std::size_t i = 0; i < pending_.size();) {
    const bool done = upstream_->fence_done(pending_[i].fence);
    if (!done && !upstream_->wait_fence(pending_[i].fence)) {
      ++i;  // cannot complete by waiting; leave it pending
      continue;
    }
    if (!done) ++fence_waits_;
    settle(pending_[i]);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    if (take_free(size, stream, out)) return true;
  }
  return false;
}

Allocation BlockPolicy::fallback_allocate(std::size_t size, StreamId stream) {
  const Region region = upstream_->allocate(size);
  if (region.ptr == nullptr) throw_exhausted(size, "the direct fallback allocation failed too");
  Allocation out{region.ptr, region.mapped, size, stream, true};
  try {
    fallbacks_.emplace(address_of(region.ptr), out);
  } catch (...) {
    upstream_->deallocate(region, size);
    throw;
  }
  fallback_bytes_ += size;
  ++fallback_count_;
  ++allocations_;
  return out;
}

std::size_t BlockPolicy::largest_free_locked() const {
  std::size_t largest = free_.empty() ? 0 : free_.rbegin()->first;
  for (const auto& [stream, cache] : stream_cached_) {
    if (!cache.set.empty()) largest = std::max(largest, cache.set.rbegin()->first);
  }
  for (const PendingBatch& batch : pending_) {
    for (std::uintptr_t address : batch.blocks) {
      largest = std::max(largest, blocks_.find(address)->second.size);
    }
  }
  return largest;
}

void BlockPolicy::throw_exhausted(std::size_t requested, const std::string& why) const {
  const std::size_t free_bytes = free_locked();
  const std::size_t largest = largest_free_locked();
  std::ostringstream msg;
  msg << "pool of " << upstream_->kind() << " exhausted: requested " << requested
      << " bytes, free " << free_bytes << " bytes, largest free block " << largest
      << " bytes, capacity " << capacity_ << " of at most " << options_.max_bytes << " bytes ("
      << why << ")";
  throw PoolExhaustedError(msg.str(), requested, free_bytes, largest);
}

PoolStats BlockPolicy::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  PoolStats s;
  s.capacity = capacity_;
  s.in_use = in_use_;
  s.peak_in_use = peak_;
  s.free_bytes = free_locked();
  s.largest_free_block = largest_free_locked();
  s.fragmentation =
      s.free_bytes == 0 ? 0.0
                        : 1.0 - static_cast<double>(s.largest_free_block) /
                                    static_cast<double>(s.free_bytes);
  s.stream_cached_bytes = stream_cached_bytes_;
  s.pending_bytes = pending_bytes_;
  s.allocations = allocations_;
  s.releases = releases_;
  s.fallbacks = fallback_count_;
  s.fallback_bytes_in_use = fallback_bytes_;
  s.fence_waits = fence_waits_;
  s.live_blocks = live_blocks_;
  s.live_fallbacks = fallbacks_.size();
  s.free_blocks = blocks_.size() - live_blocks_;
  s.arenas = arenas_.size();
  return s;
}

void BlockPolicy::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_ = in_use_;
}

std::vector<BlockInfo> BlockPolicy::blocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<BlockInfo> out;
  out.reserve(blocks_.size());
  for (const auto& [address, block] : blocks_) {
    BlockInfo info;
    info.address = address;
    info.size = block.size;
    info.arena = block.arena;
    info.stream = block.stream;
    switch (block.state) {
      case State::Used: info.state = BlockInfo::State::Used; break;
      case State::Free: info.state = BlockInfo::State::Free; break;
      case State::StreamCached: info.state = BlockInfo::State::StreamCached; break;
      case State::Parked: info.state = BlockInfo::State::Parked; break;
      case State::Pending: info.state = BlockInfo::State::Pending; break;
    }
    out.push_back(info);
  }
  return out;
}

std::vector<ArenaInfo> BlockPolicy::arenas() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ArenaInfo> out;
  for (const Arena& arena : arenas_) out.push_back({address_of(arena.region.ptr), arena.size});
  return out;
}

void BlockPolicy::drain() noexcept {
  // Arenas are freed only once no queued work can still touch a cached block.
  // No fence on the streams that cached blocks: they may have been destroyed before the pool,
  // and a destroyed stream's handle must not be used. Waiting for the whole device is safe.
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    bool cached = !pending_.empty();
    for (const auto& [stream, cache] : stream_cached_) cached = cached || !cache.set.empty();
    if (cached) upstream_->wait_idle();
    for (PendingBatch& batch : pending_) upstream_->destroy_fence(batch.fence);
  } catch (...) {
    // Locking failed at process exit; freeing below is still right.
  }
  pending_.clear();
  for (const auto& [address, allocation] : fallbacks_) {
    upstream_->deallocate(Region{allocation.ptr, allocation.mapped}, allocation.size);
  }
  fallbacks_.clear();
  for (const Arena& arena : arenas_) upstream_->deallocate(arena.region, arena.size);
  arenas_.clear();
}

}  // namespace trtpipe::memory
