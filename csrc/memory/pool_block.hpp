#pragma once
// A block handed out by a pool: move-only, released back to its pool on destruction.
// The pool must outlive its blocks.
#include <cstddef>
#include <utility>

#include "memory/block_policy.hpp"

namespace trtpipe::memory {

class PoolBlock {
 public:
  PoolBlock() = default;
  PoolBlock(BlockPolicy* policy, const Allocation& allocation) noexcept
      : policy_(policy), allocation_(allocation) {}
  ~PoolBlock() { reset_noexcept(); }

  PoolBlock(const PoolBlock&) = delete;
  PoolBlock& operator=(const PoolBlock&) = delete;
  PoolBlock(PoolBlock&& other) noexcept
      : policy_(std::exchange(other.policy_, nullptr)), allocation_(other.allocation_) {}
  PoolBlock& operator=(PoolBlock&& other) noexcept {
    if (this != &other) {
      reset_noexcept();
      policy_ = std::exchange(other.policy_, nullptr);
      allocation_ = other.allocation_;
    }
    return *this;
  }

  // A block, or an empty PoolBlock when only allocate()'s slow path could serve the request.
  static PoolBlock try_allocate(BlockPolicy& policy, std::size_t bytes, StreamId stream) {
    Allocation allocation;
    if (!policy.try_allocate(bytes, stream, allocation)) return PoolBlock();
    return PoolBlock(&policy, allocation);
  }

  explicit operator bool() const noexcept { return policy_ != nullptr; }
  // The pointer the pool hands out: device memory for DevicePool, host memory otherwise.
  void* data() const noexcept { return policy_ ? allocation_.ptr : nullptr; }
  // Host address, or nullptr when the host cannot dereference the block.
  void* host_data() const noexcept {
    return policy_ && policy_->host_accessible() ? allocation_.ptr : nullptr;
  }
  // Device address of the same bytes (mapped pinned memory), or nullptr when there is none.
  void* device_data() const noexcept { return policy_ ? allocation_.mapped : nullptr; }
  std::size_t size() const noexcept { return policy_ ? allocation_.size : 0; }
  StreamId stream() const noexcept { return allocation_.stream; }
  bool fallback() const noexcept { return allocation_.fallback; }

  // Gives the block back; work queued on the block's stream may still be using it.
  void release() { release(allocation_.stream); }
  // Gives the block back to be reused on `stream` first: the caller guarantees that every
  // use of the block is ordered before work queued later on `stream`.
  void release(StreamId stream) {
    if (policy_ == nullptr) return;
    BlockPolicy* policy = std::exchange(policy_, nullptr);
    policy->release(allocation_, stream);
  }

 private:
  void reset_noexcept() noexcept {
    try {
      release();
    } catch (...) {
      // Unreachable for a block this pool handed out; a destructor must not throw.
    }
  }

  BlockPolicy* policy_ = nullptr;
  Allocation allocation_{};
};

}  // namespace trtpipe::memory
