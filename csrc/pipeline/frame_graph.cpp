#include "pipeline/frame_graph.hpp"

#include <string>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"

namespace trtpipe::pipeline {
namespace {

bool same_dim(const dim3& a, const dim3& b) noexcept {
  return a.x == b.x && a.y == b.y && a.z == b.z;
}

cudaKernelNodeParams node_params(preprocess::PreprocessLaunch& launch,
                                 preprocess::PreprocessArgs& args) {
  cudaKernelNodeParams params{};
  params.func = const_cast<void*>(launch.kernel);
  params.gridDim = launch.grid;
  params.blockDim = launch.block;
  params.sharedMemBytes = 0;
  params.kernelParams = args.values;
  params.extra = nullptr;
  return params;
}

}  // namespace

bool FrameGraphKey::matches(const PreprocessLaunches& pre, cudaEvent_t between,
                            std::uint64_t shapes, std::uint64_t staged) const noexcept {
  if (!assigned_ || pre.size() != kernels_.size() || (between != nullptr) != between_ ||
      shapes != shapes_ || staged != staged_) {
    return false;
  }
  for (std::size_t i = 0; i < pre.size(); ++i) {
    const Kernel& k = kernels_[i];
    if (k.kernel != pre[i].kernel || !same_dim(k.grid, pre[i].grid) ||
        !same_dim(k.block, pre[i].block)) {
      return false;
    }
  }
  return true;
}

void FrameGraphKey::assign(const PreprocessLaunches& pre, cudaEvent_t between,
                           std::uint64_t shapes, std::uint64_t staged) {
  kernels_.clear();
  for (const auto& launch : pre) kernels_.push_back({launch.kernel, launch.grid, launch.block});
  between_ = between != nullptr;
  shapes_ = shapes;
  staged_ = staged;
  assigned_ = true;
}

FrameGraph::FrameGraph(const PreprocessLaunches& pre, cudaEvent_t between, std::uint64_t shapes,
                       std::uint64_t staged, const std::function<void(cudaStream_t)>& rest,
                       cudaStream_t capture_stream)
    : between_(between) {
  key_.assign(pre, between, shapes, staged);
  // The model step and the post-step are captured (what an engine enqueues is its own); the
  // preprocessing kernels and the mark are added as nodes of our own, so their handles are
  // known without reading back nodes an engine's runtime made.
  TRTPIPE_CUDA_CHECK(cudaStreamBeginCapture(capture_stream, cudaStreamCaptureModeThreadLocal),
                     "starting the capture of a frame's model step");
  try {
    rest(capture_stream);
  } catch (...) {
    cudaGraph_t broken = nullptr;
    static_cast<void>(cudaStreamEndCapture(capture_stream, &broken));
    if (broken != nullptr) static_cast<void>(cudaGraphDestroy(broken));
    static_cast<void>(cudaGetLastError());  // the capture's error is the exception's
    throw;
  }
  cudaGraph_t captured = nullptr;
  TRTPIPE_CUDA_CHECK(cudaStreamEndCapture(capture_stream, &captured),
                     "ending the capture of a frame's model step");
  try {
    build(pre, captured);
    TRTPIPE_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0),
                       "instantiating a frame's CUDA graph");
  } catch (...) {
    static_cast<void>(cudaGraphDestroy(captured));
    if (graph_ != nullptr) static_cast<void>(cudaGraphDestroy(graph_));
    graph_ = nullptr;
    throw;
  }
  static_cast<void>(cudaGraphDestroy(captured));  // the child node holds its own copy
}

FrameGraph::~FrameGraph() {
  if (exec_ != nullptr) static_cast<void>(cudaGraphExecDestroy(exec_));
  if (graph_ != nullptr) static_cast<void>(cudaGraphDestroy(graph_));
}

void FrameGraph::build(const PreprocessLaunches& pre, cudaGraph_t captured) {
  TRTPIPE_CUDA_CHECK(cudaGraphCreate(&graph_, 0), "creating a frame's CUDA graph");
  cudaGraphNode_t last = nullptr;  // each node runs after the one before, as on a stream
  const auto after_last = [&]() { return last == nullptr ? 0 : 1; };
  kernels_.clear();
  for (preprocess::PreprocessLaunch launch : pre) {
    preprocess::PreprocessArgs args(launch);
    const cudaKernelNodeParams params = node_params(launch, args);
    cudaGraphNode_t node = nullptr;
    TRTPIPE_CUDA_CHECK(cudaGraphAddKernelNode(&node, graph_, &last, after_last(), &params),
                       "adding a preprocessing kernel to a frame's CUDA graph");
    kernels_.push_back({node, launch.params, launch.slot});
    last = node;
  }
  if (between_ != nullptr) {
    TRTPIPE_CUDA_CHECK(
        cudaGraphAddEventRecordNode(&between_node_, graph_, &last, after_last(), between_),
        "adding the stage mark to a frame's CUDA graph");
    last = between_node_;
  }
  cudaGraphNode_t step = nullptr;
  TRTPIPE_CUDA_CHECK(cudaGraphAddChildGraphNode(&step, graph_, &last, after_last(), captured),
                     "adding the model step to a frame's CUDA graph");
}

std::size_t FrameGraph::launch(PreprocessLaunches& pre, cudaEvent_t between,
                               cudaStream_t stream) {
  std::size_t updated = 0;
  for (std::size_t i = 0; i < pre.size(); ++i) {
    KernelNode& kernel = kernels_[i];
    preprocess::PreprocessLaunch& launch = pre[i];
    // a camera whose frames arrive at one address (a ROS message's staging) changes nothing
    if (kernel.slot == launch.slot && kernel.params == launch.params) continue;
    ++updated;
    preprocess::PreprocessArgs args(launch);
    const cudaKernelNodeParams params = node_params(launch, args);
    TRTPIPE_CUDA_CHECK(cudaGraphExecKernelNodeSetParams(exec_, kernel.node, &params),
                       "giving a frame's CUDA graph this frame's preprocessing arguments");
    kernel.params = launch.params;
    kernel.slot = launch.slot;
  }
  if (between != between_) {
    TRTPIPE_CUDA_CHECK(cudaGraphExecEventRecordNodeSetEvent(exec_, between_node_, between),
                       "giving a frame's CUDA graph this frame's stage mark");
    between_ = between;
  }
  TRTPIPE_CUDA_CHECK(cudaGraphLaunch(exec_, stream), "launching a frame's CUDA graph");
  return updated;
}

}  // namespace trtpipe::pipeline
