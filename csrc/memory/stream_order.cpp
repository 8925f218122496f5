#include "memory/stream_order.hpp"

#include <cuda_runtime_api.h>

#include "common/cuda_check.hpp"
#include "memory/cuda_upstream.hpp"

namespace trtpipe::memory {
namespace {

StreamId canonical(StreamId stream) {
  return stream == 0 ? reinterpret_cast<StreamId>(cudaStreamLegacy) : stream;
}

class Event {
 public:
  Event() {
    TRTPIPE_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming),
                       "creating an event to order two streams");
  }
  ~Event() { static_cast<void>(cudaEventDestroy(event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace

void order_after(StreamId consumer, StreamId producer, int device) {
  if (canonical(consumer) == canonical(producer)) return;
  DeviceGuard guard(device);
  Event event;
  TRTPIPE_CUDA_CHECK(cudaEventRecord(event.get(), reinterpret_cast<cudaStream_t>(producer)),
                     "recording the producer stream of a pool buffer");
  TRTPIPE_CUDA_CHECK(
      cudaStreamWaitEvent(reinterpret_cast<cudaStream_t>(consumer), event.get(), 0),
      "making the consumer stream of a pool buffer wait for its producer");
}

}  // namespace trtpipe::memory
