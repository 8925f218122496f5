// The GPU path in a CPU-only build: constructing it says why it cannot run.
#include "common/errors.hpp"
#include "preprocess/gpu_preprocessor.hpp"

namespace trtpipe::preprocess {
namespace {

[[noreturn]] void no_cuda(const char* call) {
  throw NoGpuError("trtpipe._core was built without CUDA; rebuild with a CUDA compiler on PATH",
                   call, 0);
}

}  // namespace

struct GpuPreprocessor::Impl {};

GpuPreprocessor::GpuPreprocessor(const Options& /*options*/, HostInput /*host_input*/,
                                 int /*device*/,
                                 std::shared_ptr<memory::PinnedPool> /*pinned_pool*/,
                                 std::shared_ptr<memory::DevicePool> /*device_pool*/) {
  no_cuda("GpuPreprocessor");
}
GpuPreprocessor::~GpuPreprocessor() = default;

Letterbox GpuPreprocessor::run(const Frame& /*frame*/, bool /*frame_on_device*/,
                               const Tensor& /*out*/, StreamHandle /*stream*/,
                               StreamHandle /*frame_stream*/, StreamHandle /*out_stream*/,
                               PreprocessLaunch* /*deferred*/) {
  no_cuda("GpuPreprocessor.run");
}

void GpuPreprocessor::release_staging(StreamHandle /*stream*/) {
  no_cuda("GpuPreprocessor.release_staging");
}

HostInputTiming GpuPreprocessor::measure_host_input(const Frame& /*frame*/, const Tensor& /*out*/,
                                                    StreamHandle /*stream*/, int /*iterations*/) {
  no_cuda("GpuPreprocessor.measure_host_input");
}

HostInput GpuPreprocessor::host_input() const noexcept { return HostInput::kAuto; }
HostInputTiming GpuPreprocessor::last_host_choice() const { return {}; }
bool GpuPreprocessor::integrated() const noexcept { return false; }
int GpuPreprocessor::device() const noexcept { return 0; }

}  // namespace trtpipe::preprocess
