#include "pipeline/register_depth.hpp"

#include "common/cuda_check.hpp"

namespace trtpipe::pipeline {
namespace {

constexpr unsigned kInfinityBits = 0x7F800000u;  // +inf: no measurement

__global__ void fill_infinity(unsigned* out, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) out[i] = kInfinityBits;
}

__global__ void splat_kernel(preprocess::DepthFrame d, decode::Reprojection r,
                             decode::DepthRule rule, unsigned* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= d.width || y >= d.height) return;
  const auto* row = static_cast<const unsigned char*>(d.data) + static_cast<long long>(y) * d.step;
  const float metres = preprocess::depth_metres(row, x, d.encoding, d.scale);
  if (!decode::is_measured(metres, rule)) return;
  int u = 0, v = 0;
  float z = 0.0f;
  if (!decode::reproject(r, x, y, metres, &u, &v, &z)) return;
  // positive floats order as their bits do: the nearest point wins, whatever the thread order
  atomicMin(out + static_cast<long long>(v) * r.width + u, __float_as_uint(z));
}

}  // namespace

void launch_register_depth(const preprocess::DepthFrame& depth, const decode::Reprojection& r,
                           const decode::DepthRule& rule, float* out, cudaStream_t stream) {
  const int cells = r.width * r.height;
  auto* bits = reinterpret_cast<unsigned*>(out);
  fill_infinity<<<(cells + 255) / 256, 256, 0, stream>>>(bits, cells);
  TRTPIPE_CUDA_CHECK(cudaGetLastError(), "launching the registered depth fill");
  const dim3 block(32, 8);
  const dim3 grid((depth.width + block.x - 1) / block.x, (depth.height + block.y - 1) / block.y);
  splat_kernel<<<grid, block, 0, stream>>>(depth, r, rule, bits);
  TRTPIPE_CUDA_CHECK(cudaGetLastError(), "launching the depth registration");
}

}  // namespace trtpipe::pipeline
