#include "preprocess/gpu_preprocessor.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"
#include "preprocess/kernel.hpp"
#include "preprocess/source_rows.hpp"
#include "preprocess/staging.hpp"

namespace trtpipe::preprocess {
namespace {

cudaStream_t as_stream(StreamHandle handle) { return reinterpret_cast<cudaStream_t>(handle); }

cudaPointerAttributes attributes(const void* ptr, const char* what) {
  cudaPointerAttributes attr{};
  TRTPIPE_CUDA_CHECK(cudaPointerGetAttributes(&attr, ptr),
                     std::string("finding out where the ") + what + " lives");
  return attr;
}

bool on_device(const cudaPointerAttributes& attr) {
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

// Where the kernel reads the frame from, and whether a staging buffer is involved.
struct Source {
  const void* device_ptr = nullptr;  // as the kernel sees it
  const void* pinned_host = nullptr;  // host frames: the pinned copy (user's or staging)
  const void* pinned_mapped = nullptr;  // the same memory's mapped device pointer
  bool host = false;
};

double median(std::vector<float> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : static_cast<double>(values[values.size() / 2]);
}

}  // namespace

struct GpuPreprocessor::Impl {
  Options options;
  HostInput mode = HostInput::kAuto;
  int device = 0;
  bool integrated = false;
  Staging staging;
  Event waiter{"ordering preprocessing after an input's producer stream"};
  HostInputTiming last;
  std::map<std::tuple<int, int, std::int64_t, int>, HostInputTiming> measured;
  std::optional<std::tuple<int, int, std::int64_t, int, int, int>> ranges_key;
  std::vector<ByteRange> ranges;
  bool ranges_worth = false;

  Impl(const Options& o, HostInput m, int d, std::shared_ptr<memory::PinnedPool> pinned,
       std::shared_ptr<memory::DevicePool> device_pool)
      : options(o), mode(m), device(d), staging(std::move(pinned), std::move(device_pool), d) {}

  void wait_for(StreamHandle producer, cudaStream_t stream) {
    if (producer == 0 || as_stream(producer) == stream) return;
    TRTPIPE_CUDA_CHECK(cudaEventRecord(waiter.get(), as_stream(producer)),
                       "marking the producer stream of an input array");
    TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(stream, waiter.get(), 0),
                       "waiting for the producer stream of an input array");
  }

  // The byte ranges of `frame` the kernel reads for `lb`, where that is well under the whole
  // frame (null: copy it all). Kept for the last geometry: a camera's frames share one.
  const std::vector<ByteRange>* ranges_read(const Frame& frame, const Letterbox& lb) {
    const std::size_t bytes = required_bytes(frame);
    const auto key = std::make_tuple(frame.width, frame.height, frame.step,
                                     static_cast<int>(frame.encoding), lb.new_w, lb.new_h);
    if (!ranges_key || *ranges_key != key) {
      ranges = bytes_read(pixel_params(options, frame, lb), bytes);
      std::size_t total = 0;
      for (const ByteRange& r : ranges) total += r.length;
      // close to the whole frame: one plain copy is as cheap
      ranges_worth = total * 4 < bytes * 3;
      ranges_key = key;
    }
    return ranges_worth ? &ranges : nullptr;
  }

  // Resolves where the frame is; a pageable host frame is copied into pinned staging here
  // (only what the kernel reads for `lb`, where given).
  Source locate(const Frame& frame, bool frame_on_device, cudaStream_t stream,
                const Letterbox* lb = nullptr) {
    const cudaPointerAttributes attr = attributes(frame.data, "input frame");
    Source src;
    if (on_device(attr)) {
      src.device_ptr = frame.data;
      return src;
    }
    if (frame_on_device && attr.type != cudaMemoryTypeHost) {
      throw InputError(
          "image: expected device memory for a GPU array (__cuda_array_interface__), given an "
          "address the GPU cannot read");
    }
    src.host = true;
    staging.next_frame();
    const std::size_t bytes = required_bytes(frame);
    if (attr.type == cudaMemoryTypeHost) {
      // Pinned already (a pinned-pool buffer, cudaHostAlloc or cudaHostRegister memory).
      src.pinned_host = frame.data;
      src.pinned_mapped = attr.devicePointer;
    } else {
      src.pinned_host = staging.host_copy(frame.data, bytes, stream,
                                          lb != nullptr ? ranges_read(frame, *lb) : nullptr);
      src.pinned_mapped = staging.host_mapped();
    }
    return src;
  }

  const void* device_copy(const void* pinned_host, std::size_t bytes, cudaStream_t stream) {
    return staging.device_copy(pinned_host, bytes, stream);
  }

  HostInputTiming time_paths(const Source& src, const Frame& frame, const Letterbox& lb,
                             void* slot, cudaStream_t stream, int iterations) {
    const std::size_t bytes = required_bytes(frame);
    Frame mapped = frame;
    mapped.data = src.pinned_mapped;
    const PixelParams mapped_params = pixel_params(options, mapped, lb);
    TimingEvent start("timing the ways a host frame reaches the kernel");
    TimingEvent stop("timing the ways a host frame reaches the kernel");
    std::vector<float> mapped_ms;
    std::vector<float> copy_ms;
    iterations = std::max(iterations, 1);
    for (int i = -1; i < iterations; ++i) {  // i = -1 warms up both paths
      TRTPIPE_CUDA_CHECK(cudaEventRecord(start.get(), stream), "timing the mapped read");
      launch_preprocess(mapped_params, slot, options.layout, options.dtype, stream);
      TRTPIPE_CUDA_CHECK(cudaEventRecord(stop.get(), stream), "timing the mapped read");
      TRTPIPE_CUDA_CHECK(cudaEventSynchronize(stop.get()), "timing the mapped read");
      float ms = 0.0f;
      TRTPIPE_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()), "timing");
      if (i >= 0) mapped_ms.push_back(ms);

      TRTPIPE_CUDA_CHECK(cudaEventRecord(start.get(), stream), "timing copy + kernel");
      Frame copied = frame;
      copied.data = device_copy(src.pinned_host, bytes, stream);
      launch_preprocess(pixel_params(options, copied, lb), slot, options.layout, options.dtype,
                        stream);
      staging.release_after(stream);
      TRTPIPE_CUDA_CHECK(cudaEventRecord(stop.get(), stream), "timing copy + kernel");
      TRTPIPE_CUDA_CHECK(cudaEventSynchronize(stop.get()), "timing copy + kernel");
      TRTPIPE_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()), "timing");
      if (i >= 0) copy_ms.push_back(ms);
    }
    HostInputTiming timing;
    timing.mapped_us = 1000.0 * median(mapped_ms);
    timing.copy_us = 1000.0 * median(copy_ms);
    timing.faster = timing.mapped_us <= timing.copy_us ? HostInput::kMapped : HostInput::kCopy;
    return timing;
  }

  void* checked_slot(const Tensor& out) const {
    check_tensor(out, options);
    if (!on_device(attributes(out.data, "output tensor"))) {
      throw InputError("out: expected device memory (a GPU array), given host memory");
    }
    return static_cast<std::uint8_t*>(out.data) +
           static_cast<std::size_t>(out.batch_index) * slot_bytes(options);
  }
};

namespace {

template <typename Pool>
void check_pool_device(const std::shared_ptr<Pool>& pool, const char* field, int device) {
  if (pool && pool->device() != device) {
    throw InputError(std::string(field) + ": expected a pool of GPU " + std::to_string(device) +
                     " (the preprocessor's), given one of GPU " + std::to_string(pool->device()));
  }
}

}  // namespace

GpuPreprocessor::GpuPreprocessor(const Options& options, HostInput host_input, int device,
                                 std::shared_ptr<memory::PinnedPool> pinned_pool,
                                 std::shared_ptr<memory::DevicePool> device_pool) {
  check_pool_device(pinned_pool, "pinned_pool", device);
  check_pool_device(device_pool, "device_pool", device);
  // The events and buffers belong to `device`: create them with it current.
  DeviceGuard scope(device);
  impl_ = std::make_unique<Impl>(options, host_input, device, std::move(pinned_pool),
                                 std::move(device_pool));
  int integrated = 0;
  TRTPIPE_CUDA_CHECK(cudaDeviceGetAttribute(&integrated, cudaDevAttrIntegrated, device),
                     "asking whether GPU " + std::to_string(device) + " is integrated");
  impl_->integrated = integrated != 0;
}

GpuPreprocessor::~GpuPreprocessor() = default;

Letterbox GpuPreprocessor::run(const Frame& frame_in, bool frame_on_device, const Tensor& out,
                               StreamHandle stream_handle, StreamHandle frame_stream,
                               StreamHandle out_stream, PreprocessLaunch* deferred) {
  Impl& s = *impl_;
  const Frame frame = checked_frame(frame_in);
  DeviceGuard scope(s.device);
  void* slot = s.checked_slot(out);
  const cudaStream_t stream = as_stream(stream_handle);
  const Letterbox lb =
      letterbox_params(frame.width, frame.height, s.options.dst_w, s.options.dst_h,
                       s.options.resize);
  s.wait_for(frame_stream, stream);
  s.wait_for(out_stream, stream);
  const Source src = s.locate(frame, frame_on_device, stream, &lb);
  Frame readable = frame;
  if (!src.host) {
    readable.data = src.device_ptr;
  } else {
    HostInput mode = s.mode;
    if (mode == HostInput::kAuto) {
      if (s.integrated) {
        mode = HostInput::kMapped;
        s.last = HostInputTiming{0.0, 0.0, mode};
      } else {
        const auto key = std::make_tuple(frame.width, frame.height, frame.step,
                                         static_cast<int>(frame.encoding));
        auto found = s.measured.find(key);
        if (found == s.measured.end() && src.pinned_mapped != nullptr) {
          found = s.measured.emplace(key, s.time_paths(src, frame, lb, slot, stream, 10)).first;
        }
        if (found != s.measured.end()) {
          s.last = found->second;
          mode = found->second.faster;
        } else {
          mode = HostInput::kCopy;
        }
      }
    }
    // Pinned memory without a device mapping (registered unmapped) can only be copied.
    if (src.pinned_mapped == nullptr) mode = HostInput::kCopy;
    readable.data = mode == HostInput::kMapped
                        ? src.pinned_mapped
                        : s.device_copy(src.pinned_host, required_bytes(frame), stream);
  }
  PreprocessLaunch launch =
      preprocess_launch(pixel_params(s.options, readable, lb), slot, s.options.layout,
                        s.options.dtype);
  launch.staged = src.host;
  if (deferred != nullptr) {
    *deferred = launch;
    return lb;
  }
  enqueue_preprocess(launch, stream);
  if (src.host) s.staging.release_after(stream);
  return lb;
}

void GpuPreprocessor::release_staging(StreamHandle stream) {
  DeviceGuard scope(impl_->device);
  impl_->staging.release_after(as_stream(stream));
}

HostInputTiming GpuPreprocessor::measure_host_input(const Frame& frame_in, const Tensor& out,
                                                    StreamHandle stream_handle, int iterations) {
  Impl& s = *impl_;
  const Frame frame = checked_frame(frame_in);
  DeviceGuard scope(s.device);
  void* slot = s.checked_slot(out);
  const cudaStream_t stream = as_stream(stream_handle);
  const Source src = s.locate(frame, false, stream);
  if (!src.host) {
    throw InputError("image: expected a frame in host memory, given device memory");
  }
  const Letterbox lb =
      letterbox_params(frame.width, frame.height, s.options.dst_w, s.options.dst_h,
                       s.options.resize);
  if (src.pinned_mapped == nullptr) {
    throw InputError("image: expected pageable or mapped pinned memory, given pinned memory "
                     "registered without a device mapping (only the copy path can read it)");
  }
  const HostInputTiming timing = s.time_paths(src, frame, lb, slot, stream, iterations);
  s.staging.release_after(stream);
  return timing;
}

HostInput GpuPreprocessor::host_input() const noexcept { return impl_->mode; }
HostInputTiming GpuPreprocessor::last_host_choice() const { return impl_->last; }
bool GpuPreprocessor::integrated() const noexcept { return impl_->integrated; }
int GpuPreprocessor::device() const noexcept { return impl_->device; }

}  // namespace trtpipe::preprocess
