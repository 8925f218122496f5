#pragma once
// Every CUDA runtime call in csrc/ goes through TRTPIPE_CUDA_CHECK, which turns a failure into
// a CudaError (or NoGpuError) naming the call, CUDA's error name and string, and the context.
#include <cuda_runtime_api.h>

#include <string>

namespace trtpipe {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const std::string& context,
                                   const char* file, int line);

// True for the errors that mean "there is no GPU to use here", as opposed to a bug or a fault.
bool is_no_gpu_error(cudaError_t status) noexcept;

inline void check_cuda(cudaError_t status, const char* call, const std::string& context,
                       const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, context, file, line);
}

}  // namespace trtpipe

// `context` is evaluated only when the call failed, so a per-frame check builds no message.
#define TRTPIPE_CUDA_CHECK(call, context)                                                  \
  do {                                                                                     \
    const cudaError_t trtpipe_cuda_status_ = (call);                                       \
    if (trtpipe_cuda_status_ != cudaSuccess) {                                             \
      ::trtpipe::throw_cuda_error(trtpipe_cuda_status_, #call, (context), __FILE__, __LINE__); \
    }                                                                                      \
  } while (0)
