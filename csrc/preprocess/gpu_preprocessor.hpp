#pragma once
// The GPU path: one fused kernel per frame, reading the frame from device memory, from pinned
// host memory through its mapped pointer, or from pageable memory via one pinned staging copy,
// and writing one batch slot of a caller-given device tensor. No CUDA types in this header, so
// the CPU-only build provides the same class (which raises NoGpuError).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "preprocess/frame.hpp"
#include "preprocess/letterbox.hpp"
#include "preprocess/options.hpp"

namespace trtpipe::memory {
class DevicePool;
class PinnedPool;
}  // namespace trtpipe::memory

namespace trtpipe::preprocess {

struct PreprocessLaunch;  // preprocess/kernel.hpp

// How the kernel reads a frame in host memory: through the mapped pointer of pinned memory
// (zero-copy), or after an async copy into device memory. kAuto: mapped on integrated GPUs;
// on discrete GPUs the faster of the two, measured once per frame geometry.
enum class HostInput : int { kAuto = 0, kMapped = 1, kCopy = 2 };
HostInput parse_host_input(const std::string& name);
const char* host_input_name(HostInput mode) noexcept;

struct HostInputTiming {
  double mapped_us = 0.0;  // median GPU time, kernel reading pinned memory in place
  double copy_us = 0.0;    // median GPU time, async H2D copy then kernel reading device memory
  HostInput faster = HostInput::kMapped;
};

// A CUDA stream handle (cudaStream_t) as an integer; 0 is the legacy default stream.
using StreamHandle = std::uintptr_t;

class GpuPreprocessor {
 public:
  // Staging for host frames comes from `pinned_pool` (pinned host copies of pageable frames)
  // and `device_pool` (device copies on the copy path); a null pool means one of the
  // preprocessor's own. Throws InputError for a pool of another GPU.
  GpuPreprocessor(const Options& options, HostInput host_input, int device,
                  std::shared_ptr<memory::PinnedPool> pinned_pool = nullptr,
                  std::shared_ptr<memory::DevicePool> device_pool = nullptr);
  ~GpuPreprocessor();
  GpuPreprocessor(const GpuPreprocessor&) = delete;
  GpuPreprocessor& operator=(const GpuPreprocessor&) = delete;

  // Enqueues the frame's preprocessing on `stream`, writing slot out.batch_index of the device
  // tensor `out`. `frame_on_device`: frame.data is a device pointer; otherwise a host pointer
  // (pinned or pageable, found out here). A pageable frame is copied before this returns; device
  // and pinned frames must stay valid until the stream has run the kernel. `wait_streams`: the
  // streams of the arrays' producers (their __cuda_array_interface__ "stream"), waited on first.
  // With `deferred`, everything but the kernel is enqueued (waits, staging copies) and the
  // kernel's launch is described there instead, for the caller to enqueue or to give to a CUDA
  // graph; a staged frame's staging must then be released after it (release_staging).
  Letterbox run(const Frame& frame, bool frame_on_device, const Tensor& out, StreamHandle stream,
                StreamHandle frame_stream = 0, StreamHandle out_stream = 0,
                PreprocessLaunch* deferred = nullptr);
  // Marks the last frame's host staging busy until the work enqueued on `stream` so far is done.
  void release_staging(StreamHandle stream);

  // Times both host paths for this host frame (pinned or pageable) on `stream`, writing `out`.
  HostInputTiming measure_host_input(const Frame& frame, const Tensor& out, StreamHandle stream,
                                     int iterations);

  HostInput host_input() const noexcept;
  // The choice "auto" made for the last host frame, with its timing (mapped/copy 0 if not timed).
  HostInputTiming last_host_choice() const;
  bool integrated() const noexcept;
  int device() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trtpipe::preprocess
