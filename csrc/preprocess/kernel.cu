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

template <typename T, bool kNchw>
void launch(const PixelParams& p, void* slot, cudaStream_t stream) {
  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((p.dst_w + block.x - 1) / block.x),
                  static_cast<unsigned>((p.dst_h + block.y - 1) / block.y));
  preprocess_kernel<T, kNchw><<<grid, block, 0, stream>>>(p, static_cast<T*>(slot));
}

}  // namespace

void launch_preprocess(const PixelParams& p, void* slot, Layout layout, DType dtype,
                       cudaStream_t stream) {
  const bool nchw = layout == Layout::kNCHW;
  if (dtype == DType::kFloat16) {
    nchw ? launch<__half, true>(p, slot, stream) : launch<__half, false>(p, slot, stream);
  } else {
    nchw ? launch<float, true>(p, slot, stream) : launch<float, false>(p, slot, stream);
  }
  TRTPIPE_CUDA_CHECK(cudaGetLastError(), "launching the preprocessing kernel");
}

}  // namespace trtpipe::preprocess
