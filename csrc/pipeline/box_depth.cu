#include "pipeline/box_depth.hpp"

#include <cub/block/block_scan.cuh>

#include <vector>

#include "common/cuda_check.hpp"
#include "common/cuda_handles.hpp"
#include "pipeline/register_depth.hpp"

namespace trtpipe::pipeline {
namespace {

using decode::BoxDepth;
using decode::DepthRule;
using decode::PixelWindow;
using preprocess::DepthFrame;

constexpr int kThreads = 256;
constexpr int kBins = 2048;  // 11-bit digits: bits [21, 32), [10, 21), then [0, 10)
constexpr int kBinsPerThread = kBins / kThreads;
constexpr int kMaxRanks = 3;
using BlockScan = cub::BlockScan<int, kThreads>;

struct SelectState {
  unsigned hist[kMaxRanks][kBins];
  BlockScan::TempStorage scan;
  int ranks[kMaxRanks];
  unsigned prefix[kMaxRanks];
};

__device__ __forceinline__ int pass_shift(int pass) { return pass == 0 ? 21 : (pass == 1 ? 10 : 0); }

// Finds the bin of histogram h holding rank `state.ranks[k]` (counted from the smallest), adds
// it to prefix[k] at `shift` and makes the rank relative to that bin.
__device__ void locate(SelectState& state, int h, int k, int shift) {
  const unsigned* hist = state.hist[h];
  int local[kBinsPerThread];
  int sum = 0;
  for (int i = 0; i < kBinsPerThread; ++i) {
    local[i] = static_cast<int>(hist[threadIdx.x * kBinsPerThread + i]);
    sum += local[i];
  }
  int start = 0, total = 0;
  BlockScan(state.scan).ExclusiveSum(sum, start, total);
  const int rank = state.ranks[k];
  __syncthreads();  // every thread has read the rank and the scan storage is free again
  if (rank >= start && rank < start + sum) {
    int before = start;
    for (int i = 0; i < kBinsPerThread; ++i) {
      if (rank < before + local[i]) {
        state.prefix[k] |= static_cast<unsigned>(threadIdx.x * kBinsPerThread + i) << shift;
        state.ranks[k] = rank - before;
        break;
      }
      before += local[i];
    }
  }
  __syncthreads();
}

// The values of ranks rank_of(n) (K of them) among the window's pixels that pass `keep`, n being
// how many pass; exact, by three radix passes. Returns n.
template <int K, typename Keep, typename RankOf>
__device__ int select_ranks(const DepthFrame& d, const PixelWindow& w, Keep keep, RankOf rank_of,
                            SelectState& state, float* values) {
  const int ww = w.x1 - w.x0, hh = w.y1 - w.y0;
  const int pixels = ww > 0 && hh > 0 ? ww * hh : 0;
  const auto* bytes = static_cast<const unsigned char*>(d.data);
  int n = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass_shift(pass);
    const int above = pass == 0 ? 32 : pass_shift(pass - 1);
    const int hists = pass == 0 ? 1 : K;  // the first pass's histogram is every rank's
    for (int i = threadIdx.x; i < hists * kBins; i += kThreads) state.hist[i / kBins][i % kBins] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < pixels; i += kThreads) {
      const int y = w.y0 + i / ww, x = w.x0 + i % ww;
      const float metres = preprocess::depth_metres(bytes + static_cast<long long>(y) * d.step,
                                                    x, d.encoding, d.scale);
      if (!keep(metres)) continue;
      const unsigned bits = __float_as_uint(metres);  // > 0: ordered as the floats are
      const unsigned digit = (bits >> shift) & (pass == 2 ? 0x3FFu : 0x7FFu);
      if (pass == 0) {
        atomicAdd(&state.hist[0][digit], 1u);
        continue;
      }
      for (int k = 0; k < K; ++k) {
        if ((bits >> above) == (state.prefix[k] >> above)) atomicAdd(&state.hist[k][digit], 1u);
      }
    }
    __syncthreads();
    if (pass == 0) {
      // how many pass, then the ranks wanted of them
      int sum = 0;
      for (int i = 0; i < kBinsPerThread; ++i) sum += state.hist[0][threadIdx.x * kBinsPerThread + i];
      int start = 0, total = 0;
      BlockScan(state.scan).ExclusiveSum(sum, start, total);
      __syncthreads();
      n = total;
      if (n == 0) return 0;
      if (threadIdx.x == 0) {
        int ranks[K];
        rank_of(n, ranks);
        for (int k = 0; k < K; ++k) {
          state.ranks[k] = ranks[k];
          state.prefix[k] = 0;
        }
      }
      __syncthreads();
    }
    for (int k = 0; k < K; ++k) locate(state, pass == 0 ? 0 : k, k, shift);
  }
  for (int k = 0; k < K; ++k) values[k] = __uint_as_float(state.prefix[k]);
  return n;
}

__global__ void box_depth_kernel(DepthFrame d, const float* boxes, int count, DepthRule rule,
                                 BoxDepth* out) {
  __shared__ SelectState state;
  const int b = blockIdx.x;
  if (b >= count) return;
  const PixelWindow w = decode::inner_window(boxes + 4 * b, rule.inner, d.width, d.height);
  BoxDepth result;
  result.depth = result.near = result.far = __int_as_float(0x7fc00000);  // NaN: no depth
  float median[1];
  const int valid = select_ranks<1>(
      d, w, [&](float m) { return decode::is_measured(m, rule); },
      [](int n, int* ranks) { ranks[0] = decode::median_rank(n); }, state, median);
  result.valid_pixels = valid;
  if (valid >= rule.min_pixels) {
    const float z0 = median[0];
    float stats[3];
    result.object_pixels = select_ranks<3>(
        d, w,
        [&](float m) { return decode::is_measured(m, rule) && decode::on_object(m, z0, rule); },
        [&](int n, int* ranks) {
          ranks[0] = decode::median_rank(n);
          ranks[1] = decode::quantile_rank(rule.near_quantile, n);
          ranks[2] = decode::quantile_rank(rule.far_quantile, n);
        },
        state, stats);
    result.depth = stats[0];
    result.near = stats[1];
    result.far = stats[2];
  }
  if (threadIdx.x == 0) out[b] = result;
}

}  // namespace

void launch_box_depths(const DepthFrame& depth, const float* boxes, int count,
                       const DepthRule& rule, BoxDepth* out, cudaStream_t stream) {
  if (count <= 0) return;
  box_depth_kernel<<<count, kThreads, 0, stream>>>(depth, boxes, count, rule, out);
  TRTPIPE_CUDA_CHECK(cudaGetLastError(), "launching the box depth kernel");
}

void GpuBoxDepths::grow(DeviceBuffer& buffer, std::size_t bytes, const char* purpose) {
  if (buffer.size() < bytes) buffer = DeviceBuffer(bytes, purpose);
}

std::vector<BoxDepth> GpuBoxDepths::run(const DepthFrame& depth, bool depth_on_device,
                                        cudaStream_t producer, const float* boxes, int count,
                                        const DepthRule& rule,
                                        const decode::Reprojection* registration) {
  decode::check_rule(rule);
  std::vector<BoxDepth> out(static_cast<std::size_t>(count));
  if (count == 0) return out;
  if (depth_on_device && producer != nullptr && producer != stream_) {
    TRTPIPE_CUDA_CHECK(cudaEventRecord(depth_ready_.get(), producer),
                       "recording where the depth image's producer is");
    TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(stream_, depth_ready_.get(), 0),
                       "waiting for the depth image's producer");
  }
  DepthFrame on_device = depth;
  if (!depth_on_device) {
    const std::size_t bytes = static_cast<std::size_t>(depth.step) * (depth.height - 1) +
                              static_cast<std::size_t>(depth.width) *
                                  preprocess::depth_encoding_info(depth.encoding).bytes_per_pixel;
    grow(depth_, bytes, "a depth image");
    TRTPIPE_CUDA_CHECK(
        cudaMemcpyAsync(depth_.data(), depth.data, bytes, cudaMemcpyHostToDevice, stream_),
        "copying a depth image to the GPU");
    on_device.data = depth_.data();
  }
  const std::size_t box_bytes = static_cast<std::size_t>(count) * 4 * sizeof(float);
  grow(boxes_, box_bytes, "depth boxes");
  grow(out_, static_cast<std::size_t>(count) * sizeof(BoxDepth), "box depth results");
  TRTPIPE_CUDA_CHECK(
      cudaMemcpyAsync(boxes_.data(), boxes, box_bytes, cudaMemcpyHostToDevice, stream_),
      "copying boxes to the GPU");
  TRTPIPE_CUDA_CHECK(cudaEventRecord(start_.get(), stream_), "recording the box depth start");
  if (registration != nullptr) {
    const std::size_t cells =
        static_cast<std::size_t>(registration->width) * registration->height;
    grow(registered_, cells * sizeof(float), "a registered depth image");
    launch_register_depth(on_device, *registration, rule, static_cast<float*>(registered_.data()),
                          stream_);
    on_device.data = registered_.data();
    on_device.size = cells * sizeof(float);
    on_device.width = registration->width;
    on_device.height = registration->height;
    on_device.step = static_cast<std::int64_t>(registration->width) * sizeof(float);
    on_device.encoding = preprocess::DepthEncoding::k32FC1;
    on_device.scale = 1.0f;
  }
  launch_box_depths(on_device, static_cast<const float*>(boxes_.data()), count, rule,
                    static_cast<BoxDepth*>(out_.data()), stream_);
  TRTPIPE_CUDA_CHECK(cudaEventRecord(stop_.get(), stream_), "recording the box depth end");
  TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(out.data(), out_.data(), count * sizeof(BoxDepth),
                                     cudaMemcpyDeviceToHost, stream_),
                     "copying box depths from the GPU");
  TRTPIPE_CUDA_CHECK(cudaStreamSynchronize(stream_), "waiting for the box depths");
  TRTPIPE_CUDA_CHECK(cudaEventElapsedTime(&last_kernel_ms_, start_.get(), stop_.get()),
                     "timing the box depth kernel");
  return out;
}

}  // namespace trtpipe::pipeline
