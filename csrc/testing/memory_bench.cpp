#include "testing/memory_bench.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"
#include "memory/cuda_upstream.hpp"
#include "memory/device_pool.hpp"

namespace trtpipe::testing {

using namespace memory;  // the pools under test
namespace {

class Stream {
 public:
  Stream() {
    TRTPIPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                       "creating the benchmark stream");
  }
  ~Stream() { static_cast<void>(cudaStreamDestroy(stream_)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::vector<BenchSeries> memory_bench(const std::vector<std::size_t>& sizes, int iterations,
                                      int warmup, int device) {
  if (sizes.empty()) throw InputError("sizes: expected at least one size, given none");
  if (iterations <= 0) {
    throw InputError("iterations: expected > 0, given " + std::to_string(iterations));
  }
  if (warmup < 0) throw InputError("warmup: expected >= 0, given " + std::to_string(warmup));
  DeviceGuard guard(device);
  Stream stream;
  const std::size_t largest = *std::max_element(sizes.begin(), sizes.end());
  PoolOptions options;
  options.initial_bytes = 2 * largest + (1u << 20);
  options.fallback = false;
  DevicePool pool(options, device);

  std::vector<BenchSeries> out;
  for (std::size_t bytes : sizes) {
    out.push_back(time_pairs("trtpipe", bytes, iterations, warmup, [&] {
      PoolBlock block = pool.allocate(bytes, stream.get());
      block.release();
    }));
    out.push_back(time_pairs("cudaMalloc/cudaFree", bytes, iterations, warmup, [&] {
      void* ptr = nullptr;
      TRTPIPE_CUDA_CHECK(cudaMalloc(&ptr, bytes), "benchmarking cudaMalloc");
      TRTPIPE_CUDA_CHECK(cudaFree(ptr), "benchmarking cudaFree");
    }));
    out.push_back(time_pairs("cudaMallocAsync/cudaFreeAsync", bytes, iterations, warmup, [&] {
      void* ptr = nullptr;
      TRTPIPE_CUDA_CHECK(cudaMallocAsync(&ptr, bytes, stream.get()), "benchmarking cudaMallocAsync");
      TRTPIPE_CUDA_CHECK(cudaFreeAsync(ptr, stream.get()), "benchmarking cudaFreeAsync");
    }));
    TRTPIPE_CUDA_CHECK(cudaStreamSynchronize(stream.get()), "finishing a benchmark size");
  }
  return out;
}

}  // namespace trtpipe::testing
