#include <string>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"
#include "common/self_test.hpp"
#include "memory/device_buffer.hpp"

namespace trtpipe {
namespace {

__global__ void odd_numbers_kernel(float* out, std::int64_t count) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = 2.0f * static_cast<float>(i) + 1.0f;
}

}  // namespace

std::vector<float> gpu_self_test(std::int64_t count, int device) {
  if (count <= 0) {
    throw InputError("count: expected a positive number of elements, given " +
                     std::to_string(count));
  }
  TRTPIPE_CUDA_CHECK(cudaSetDevice(device), "selecting GPU " + std::to_string(device));
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(float);
  DeviceBuffer buffer(bytes, "the GPU self test");

  constexpr int kThreads = 256;
  const auto blocks = static_cast<unsigned int>((count + kThreads - 1) / kThreads);
  odd_numbers_kernel<<<blocks, kThreads>>>(static_cast<float*>(buffer.data()), count);
  TRTPIPE_CUDA_CHECK(cudaGetLastError(), "launching the self-test kernel");

  std::vector<float> host(static_cast<std::size_t>(count));
  TRTPIPE_CUDA_CHECK(cudaMemcpy(host.data(), buffer.data(), bytes, cudaMemcpyDeviceToHost),
                     "copying the self-test result to the host");
  return host;
}

}  // namespace trtpipe
