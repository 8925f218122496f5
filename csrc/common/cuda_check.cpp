#include "common/cuda_check.hpp"

#include <cstring>
#include <sstream>

#include "common/errors.hpp"

namespace trtpipe {

bool is_no_gpu_error(cudaError_t status) noexcept {
  switch (status) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorStubLibrary:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
      return true;
    default:
      return false;
  }
}

void throw_cuda_error(cudaError_t status, const char* call, const std::string& context,
                      const char* file, int line) {
  // Clear the error so later, unrelated calls do not report it again (sticky errors stay).
  cudaGetLastError();
  const char* base = std::strrchr(file, '/');
  std::ostringstream msg;
  msg << call << " failed: " << cudaGetErrorString(status) << " (" << cudaGetErrorName(status)
      << ")";
  if (!context.empty()) msg << " while " << context;
  msg << " [" << (base ? base + 1 : file) << ":" << line << "]";
  if (is_no_gpu_error(status)) throw NoGpuError(msg.str(), call, static_cast<int>(status));
  throw CudaError(msg.str(), call, static_cast<int>(status));
}

}  // namespace trtpipe
