#include "common/devices.hpp"

#if TRTPIPE_WITH_CUDA
#include <cuda_runtime_api.h>

#include <sstream>
#endif

namespace trtpipe {

#if TRTPIPE_WITH_CUDA

namespace {
std::string describe(cudaError_t status, const char* call) {
  std::ostringstream out;
  out << call << ": " << cudaGetErrorString(status) << " (" << cudaGetErrorName(status) << ")";
  if (status == cudaErrorInsufficientDriver) {
    out << "; no NVIDIA driver (libcuda.so) is loadable, or it is older than CUDA "
        << TRTPIPE_CUDA_VERSION;
  }
  return out.str();
}
}  // namespace

DeviceReport query_devices() {
  DeviceReport report;
  if (cudaDriverGetVersion(&report.driver_version) != cudaSuccess) report.driver_version = 0;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    report.reason = describe(status, "cudaGetDeviceCount");
    return report;
  }
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp prop{};
    const cudaError_t prop_status = cudaGetDeviceProperties(&prop, index);
    if (prop_status != cudaSuccess) {
      cudaGetLastError();
      report.reason = describe(prop_status, "cudaGetDeviceProperties");
      continue;
    }
    GpuInfo gpu;
    gpu.index = index;
    gpu.name = prop.name;
    gpu.compute_major = prop.major;
    gpu.compute_minor = prop.minor;
    gpu.total_memory = prop.totalGlobalMem;
    gpu.multiprocessors = prop.multiProcessorCount;
    gpu.integrated = prop.integrated != 0;
    report.gpus.push_back(gpu);
  }
  if (report.gpus.empty() && report.reason.empty()) report.reason = "no CUDA device is visible";
  return report;
}

#else

DeviceReport query_devices() {
  DeviceReport report;
  report.reason = "trtpipe._core was built without CUDA (no CUDA compiler at build time)";
  return report;
}

#endif

}  // namespace trtpipe
