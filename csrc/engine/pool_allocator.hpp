#pragma once
// The model step's and frame pipeline's buffers as blocks of trtpipe's device and pinned block pools.
#include <cstddef>
#include <memory>

#include "engine/buffer_allocator.hpp"
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"

namespace trtpipe::engine {

class PoolAllocator final : public BufferAllocator {
 public:
  // Either pool may be null when that kind of memory is never asked for; each may be shared
  // with the rest of the pipeline.
  PoolAllocator(std::shared_ptr<memory::DevicePool> device,
                std::shared_ptr<memory::PinnedPool> pinned);

  // A pool holding exactly `bytes` of blocks (each rounded to the pool's block alignment), in
  // one arena; when a request still misses, a counted direct allocation serves it.
  static std::shared_ptr<memory::DevicePool> exact_device_pool(std::size_t bytes, int device);
  static std::shared_ptr<memory::PinnedPool> exact_pinned_pool(std::size_t bytes, int device);
  // What one request of `bytes` takes from a pool.
  static std::size_t block_bytes(std::size_t bytes);

  Allocation device(std::size_t bytes, cudaStream_t stream, const std::string& purpose) override;
  Allocation pinned(std::size_t bytes, cudaStream_t stream, const std::string& purpose) override;

 private:
  std::shared_ptr<memory::DevicePool> device_;
  std::shared_ptr<memory::PinnedPool> pinned_;
};

}  // namespace trtpipe::engine
