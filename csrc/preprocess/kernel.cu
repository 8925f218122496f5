// The fused kernel. Encoding and interpolation are runtime switches (uniform across a launch,
// so they cost no divergence); only the output dtype and layout are template parameters, which
// keeps this file at four instantiations per GPU architecture.
#include <cuda_fp16.h>

#include "common/cuda_check.hpp"
#include "preprocess/kernel.hpp"

namespace trtpipe::preprocess {
namespace {

template <typename T>
__device__ __forceinline__ T to_output(float value);

template <>
__device__ __forceinline__ float to_output<float>(float value) {
  return value;
}

template <>
__device__ __forceinline__ __half to_output<__half>(float value) {
  return __float2half_rn(value);
}

template <typename T, bool kNchw>
__global__ void __launch_bounds__(256) preprocess_kernel(const PixelParams p, T* __restrict__ out) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= p.dst_w || y >= p.dst_h) return;
  const Rgb rgb = sample(p, x, y);
  const std::int64_t pixel = static_cast<std::int64_t>(y) * p.dst_w + x;
  if constexpr (kNchw) {
    const std::int64_t plane = static_cast<std::int64_t>(p.dst_w) * p.dst_h;
    out[pixel] = to_output<T>(normalise(p, rgb, 0));
    out[plane + pixel] = to_output<T>(normalise(p, rgb, 1));
    out[2 * plane + pixel] = to_output<T>(normalise(p, rgb, 2));
  } else {
    T* px = out + 3 * pixel;
    px[0] = to_output<T>(normalise(p, rgb, 0));
    px[1] = to_output<T>(normalise(p, rgb, 1));
    px[2] = to_output<T>(normalise(p, rgb, 2));
  }
}

}  // namespace

PreprocessLaunch preprocess_launch(const PixelParams& p, void* slot, Layout layout, DType dtype) {
  PreprocessLaunch launch;
  const bool nchw = layout == Layout::kNCHW;
  if (dtype == DType::kFloat16) {
    launch.kernel = nchw ? reinterpret_cast<const void*>(&preprocess_kernel<__half, true>)
                         : reinterpret_cast<const void*>(&preprocess_kernel<__half, false>);
  } else {
    launch.kernel = nchw ? reinterpret_cast<const void*>(&preprocess_kernel<float, true>)
                         : reinterpret_cast<const void*>(&preprocess_kernel<float, false>);
  }
  launch.block = dim3(32, 8);
  launch.grid = dim3(static_cast<unsigned>((p.dst_w + launch.block.x - 1) / launch.block.x),
                     static_cast<unsigned>((p.dst_h + launch.block.y - 1) / launch.block.y));
  launch.params = p;
  launch.slot = slot;
  return launch;
}

void enqueue_preprocess(PreprocessLaunch& launch, cudaStream_t stream) {
  PreprocessArgs args(launch);
  TRTPIPE_CUDA_CHECK(cudaLaunchKernel(launch.kernel, launch.grid, launch.block, args.values, 0,
                                      stream),
                     "launching the preprocessing kernel");
}

}  // namespace trtpipe::preprocess
