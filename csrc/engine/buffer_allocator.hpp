#pragma once
// Where the runner's device and pinned-host buffers come from. The default allocator makes
// one-off allocations; a pool-backed allocator can replace it without touching the loop.
#include <cstddef>
#include <memory>
#include <string>

namespace trtpipe::engine {

// A buffer and whatever keeps it alive (a DeviceBuffer, a pool block, ...).
struct Allocation {
  void* data = nullptr;
  std::size_t size = 0;
  std::shared_ptr<void> owner;
};

class BufferAllocator {
 public:
  virtual ~BufferAllocator() = default;
  // Device memory aligned to 256 bytes (TensorRT's requirement for bound tensors).
  virtual Allocation device(std::size_t bytes, const std::string& purpose) = 0;
  // Page-locked host memory, so copies to and from the GPU run asynchronously.
  virtual Allocation pinned(std::size_t bytes, const std::string& purpose) = 0;
};

// cudaMalloc / cudaHostAlloc through memory/device_buffer.hpp and memory/pinned_host_buffer.hpp.
std::shared_ptr<BufferAllocator> make_direct_allocator();

}  // namespace trtpipe::engine
