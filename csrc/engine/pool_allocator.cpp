#include "engine/pool_allocator.hpp"

#include <utility>

#include "common/errors.hpp"

namespace trtpipe::engine {
namespace {

// Keeps a block and its pool alive together; the pool goes last.
template <typename Pool>
struct HeldBlock {
  std::shared_ptr<Pool> pool;
  memory::PoolBlock block;

  HeldBlock(std::shared_ptr<Pool> from, memory::PoolBlock taken)
      : pool(std::move(from)), block(std::move(taken)) {}
  HeldBlock(const HeldBlock&) = delete;
  HeldBlock& operator=(const HeldBlock&) = delete;
  ~HeldBlock() {
    // A buffer is dropped only once the GPU is done with it, and the stream it was used on may
    // be destroyed right after; the pool must not keep blocks cached on that stream (it records
    // fences on it later), so the block goes back on the default stream, which outlives it.
    try {
      block.release(memory::StreamId{0});
    } catch (...) {
      // Unreachable for a live block of this pool; a destructor must not throw.
    }
  }
};

template <typename Pool>
memory::PoolBlock take(Pool& pool, std::size_t bytes, cudaStream_t stream,
                       const std::string& purpose, const char* kind) {
  try {
    return pool.allocate(bytes, stream);
  } catch (const PoolExhaustedError& error) {
    throw PoolExhaustedError(std::string(kind) + " for " + purpose + ": " + error.what(),
                             error.requested(), error.free_bytes(), error.largest_free_block());
  }
}

memory::PoolOptions exact_options(std::size_t bytes) {
  memory::PoolOptions options;
  options.initial_bytes = bytes;
  options.max_bytes = bytes;
  options.grow_bytes = 0;
  options.fallback = true;
  return options;
}

}  // namespace

PoolAllocator::PoolAllocator(std::shared_ptr<memory::DevicePool> device,
                             std::shared_ptr<memory::PinnedPool> pinned)
    : device_(std::move(device)), pinned_(std::move(pinned)) {
  if (!device_ && !pinned_) throw InputError("pools: expected a DevicePool or a PinnedPool, given none");
}

std::size_t PoolAllocator::block_bytes(std::size_t bytes) {
  constexpr std::size_t align = memory::kBlockAlignment;
  return bytes == 0 ? align : (bytes + align - 1) / align * align;
}

std::shared_ptr<memory::DevicePool> PoolAllocator::exact_device_pool(std::size_t bytes,
                                                                     int device) {
  return std::make_shared<memory::DevicePool>(exact_options(bytes), device);
}

std::shared_ptr<memory::PinnedPool> PoolAllocator::exact_pinned_pool(std::size_t bytes,
                                                                     int device) {
  return std::make_shared<memory::PinnedPool>(exact_options(bytes), device);
}

Allocation PoolAllocator::device(std::size_t bytes, cudaStream_t stream,
                                 const std::string& purpose) {
  if (!device_) throw InputError(purpose + ": expected a device pool to take it from, given none");
  auto held = std::make_shared<HeldBlock<memory::DevicePool>>(
      device_, take(*device_, bytes, stream, purpose, "device memory"));
  return {held->block.data(), held->block.size(), held};
}

Allocation PoolAllocator::pinned(std::size_t bytes, cudaStream_t stream,
                                 const std::string& purpose) {
  if (!pinned_) throw InputError(purpose + ": expected a pinned pool to take it from, given none");
  auto held = std::make_shared<HeldBlock<memory::PinnedPool>>(
      pinned_, take(*pinned_, bytes, stream, purpose, "pinned host memory"));
  return {held->block.host_data(), held->block.size(), held, held->block.device_data()};
}

}  // namespace trtpipe::engine
