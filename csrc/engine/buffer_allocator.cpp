#include "engine/buffer_allocator.hpp"

#include "memory/device_buffer.hpp"
#include "memory/pinned_host_buffer.hpp"

namespace trtpipe::engine {
namespace {

class DirectAllocator final : public BufferAllocator {
 public:
  Allocation device(std::size_t bytes, const std::string& purpose) override {
    auto buffer = std::make_shared<DeviceBuffer>(bytes, purpose);
    return {buffer->data(), buffer->size(), buffer};
  }
  Allocation pinned(std::size_t bytes, const std::string& purpose) override {
    auto buffer = std::make_shared<PinnedHostBuffer>(bytes, purpose);
    return {buffer->data(), buffer->size(), buffer};
  }
};

}  // namespace

std::shared_ptr<BufferAllocator> make_direct_allocator() {
  return std::make_shared<DirectAllocator>();
}

}  // namespace trtpipe::engine
