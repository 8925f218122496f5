#pragma once
// Where a block pool gets its arenas (and its over-the-limit direct allocations) from, and how it
// learns that work queued on a stream has finished. The policy knows nothing else about the
// memory it carves, so the same policy runs over device, pinned-host and plain host memory.
#include <cstddef>
#include <cstdint>

namespace trtpipe::memory {

// A stream as the policy sees it: an opaque id (a cudaStream_t's value for the CUDA resources).
using StreamId = std::uintptr_t;
// A marker recorded on a stream; it completes once the work queued before it has finished.
using Fence = std::uint64_t;

struct Region {
  void* ptr = nullptr;     // what the pool hands out (device pointer, or host pointer)
  void* mapped = nullptr;  // the device-side address of the same bytes; nullptr when none
};

class Upstream {
 public:
  virtual ~Upstream() = default;

  // A new region of `bytes` (256-byte aligned), or a null Region when the memory is exhausted.
  // Any other failure throws.
  virtual Region allocate(std::size_t bytes) = 0;
  // Frees a region from allocate(); never throws.
  virtual void deallocate(const Region& region, std::size_t bytes) noexcept = 0;

  virtual Fence record_fence(StreamId stream) = 0;
  virtual bool fence_done(Fence fence) = 0;
  // Blocks until the fence completes; false when it cannot complete by waiting alone.
  virtual bool wait_fence(Fence fence) = 0;
  virtual void destroy_fence(Fence fence) noexcept = 0;
  // Blocks until no queued work can still touch any region, naming no stream: used when the
  // pool goes away, by which time streams that released blocks may be gone.
  virtual void wait_idle() noexcept {}

  // Whether the host may dereference Region::ptr.
  virtual bool host_accessible() const noexcept = 0;
  // Names the memory in messages, e.g. "device memory on GPU 0".
  virtual const char* kind() const noexcept = 0;
};

}  // namespace trtpipe::memory
