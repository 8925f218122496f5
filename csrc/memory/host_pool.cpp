#include "memory/host_pool.hpp"

#include <cstdlib>
#include <new>
#include <utility>

namespace trtpipe::memory {
namespace {

template <typename Clock>
class HostUpstream final : public Upstream {
 public:
  HostUpstream(bool deferred, std::shared_ptr<Clock> clock)
      : deferred_(deferred), clock_(std::move(clock)) {}

  Region allocate(std::size_t bytes) override {
    // Sizes reaching here are multiples of 256, as aligned_alloc requires.
    void* ptr = std::aligned_alloc(kBlockAlignment, bytes);
    return Region{ptr, nullptr};
  }
  void deallocate(const Region& region, std::size_t /*bytes*/) noexcept override {
    std::free(region.ptr);
  }
  Fence record_fence(StreamId /*stream*/) override {
    const Fence fence = ++clock_->recorded;
    if (!deferred_) clock_->completed.store(fence);
    return fence;
  }
  bool fence_done(Fence fence) override { return fence <= clock_->completed.load(); }
  bool wait_fence(Fence fence) override { return fence_done(fence); }
  void destroy_fence(Fence /*fence*/) noexcept override {}
  bool host_accessible() const noexcept override { return true; }
  const char* kind() const noexcept override { return "host memory"; }

 private:
  bool deferred_;
  std::shared_ptr<Clock> clock_;
};

}  // namespace

HostPool::HostPool(const PoolOptions& options, bool deferred_fences)
    : HostPool(options, deferred_fences, std::make_shared<FenceClock>()) {}

HostPool::HostPool(const PoolOptions& options, bool deferred, std::shared_ptr<FenceClock> clock)
    : clock_(clock),
      policy_(std::make_unique<HostUpstream<FenceClock>>(deferred, std::move(clock)), options) {}

void HostPool::complete_fences() noexcept { clock_->completed.store(clock_->recorded.load()); }

}  // namespace trtpipe::memory
