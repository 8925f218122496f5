#pragma once
// Where the model step's and pipeline's device and pinned-host buffers come from. Each asks for every buffer
// once, when it is built, and drops them only after the GPU work using them has finished; the
// per-frame path allocates nothing.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string>

namespace trtpipe::engine {

// A buffer and whatever keeps it alive (a pool block and its pool).
struct Allocation {
  void* data = nullptr;
  std::size_t size = 0;
  std::shared_ptr<void> owner;
  void* mapped = nullptr;  // pinned memory's device address, where the GPU can map it
};

class BufferAllocator {
 public:
  virtual ~BufferAllocator() = default;
  // Device memory aligned to 256 bytes (TensorRT's requirement for bound tensors), used in
  // stream order on `stream`.
  virtual Allocation device(std::size_t bytes, cudaStream_t stream,
                            const std::string& purpose) = 0;
  // Page-locked host memory, so copies to and from the GPU on `stream` run asynchronously.
  virtual Allocation pinned(std::size_t bytes, cudaStream_t stream,
                            const std::string& purpose) = 0;
};

}  // namespace trtpipe::engine
