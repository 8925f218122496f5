#include "pipeline/frame_graph.hpp"

#include <cstring>
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
                            std::uint64_t shapes) const noexcept {
  if (!assigned_ || pre.size() != kernels_.size() || (between != nullptr) != between_ ||
      shapes != shapes_) {
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
                           std::uint64_t shapes) {
  kernels_.clear();
  for (const auto& launch : pre) kernels_.push_back({launch.kernel, launch.grid, launch.block});
  between_ = between != nullptr;
  shapes_ = shapes;
  assigned_ = true;
}

FrameGraph::FrameGraph(const PreprocessLaunches& pre, cudaEvent_t between, std::uint64_t shapes,
                       const std::function<void(cudaStream_t)>& rest,
                       cudaStream_t capture_stream)
    : between_(between) {
  key_.assign(pre, between, shapes);
  TRTPIPE_CUDA_CHECK(cudaStreamBeginCapture(capture_stream, cudaStreamCaptureModeThreadLocal),
                     "starting the capture of a frame's CUDA graph");
  try {
    for (preprocess::PreprocessLaunch launch : pre) {
      preprocess::enqueue_preprocess(launch, capture_stream);
    }
    if (between != nullptr) {
      TRTPIPE_CUDA_CHECK(cudaEventRecord(between, capture_stream),
                         "capturing the end of preprocessing");
    }
    rest(capture_stream);
  } catch (...) {
    cudaGraph_t broken = nullptr;
    static_cast<void>(cudaStreamEndCapture(capture_stream, &broken));
    if (broken != nullptr) static_cast<void>(cudaGraphDestroy(broken));
    static_cast<void>(cudaGetLastError());  // the capture's error is the exception's
    throw;
  }
  TRTPIPE_CUDA_CHECK(cudaStreamEndCapture(capture_stream, &graph_),
                     "ending the capture of a frame's CUDA graph");
  try {
    find_nodes(pre);
    TRTPIPE_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0),
                       "instantiating a frame's CUDA graph");
  } catch (...) {
    static_cast<void>(cudaGraphDestroy(graph_));
    throw;
  }
}

FrameGraph::~FrameGraph() {
  if (exec_ != nullptr) static_cast<void>(cudaGraphExecDestroy(exec_));
  if (graph_ != nullptr) static_cast<void>(cudaGraphDestroy(graph_));
}

void FrameGraph::find_nodes(const PreprocessLaunches& pre) {
  std::size_t count = 0;
  TRTPIPE_CUDA_CHECK(cudaGraphGetNodes(graph_, nullptr, &count), "listing a frame graph's nodes");
  std::vector<cudaGraphNode_t> nodes(count);
  TRTPIPE_CUDA_CHECK(cudaGraphGetNodes(graph_, nodes.data(), &count),
                     "listing a frame graph's nodes");
  kernels_.assign(pre.size(), KernelNode{});
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    TRTPIPE_CUDA_CHECK(cudaGraphNodeGetType(node, &type), "reading a frame graph node's type");
    if (type == cudaGraphNodeTypeEventRecord && between_ != nullptr) {
      cudaEvent_t event = nullptr;
      TRTPIPE_CUDA_CHECK(cudaGraphEventRecordNodeGetEvent(node, &event),
                         "reading a frame graph's event node");
      if (event == between_) between_node_ = node;
      continue;
    }
    if (type != cudaGraphNodeTypeKernel) continue;
    cudaKernelNodeParams params{};
    TRTPIPE_CUDA_CHECK(cudaGraphKernelNodeGetParams(node, &params),
                       "reading a frame graph's kernel node");
    // a preprocessing kernel is told apart from the model's by its function and batch slot
    for (std::size_t i = 0; i < pre.size(); ++i) {
      if (params.func != pre[i].kernel || params.kernelParams == nullptr ||
          *static_cast<void**>(params.kernelParams[1]) != pre[i].slot) {
        continue;
      }
      kernels_[i] = {node, pre[i].params, pre[i].slot};
    }
  }
  for (const KernelNode& kernel : kernels_) {
    if (kernel.node == nullptr) {
      throw EngineError("a frame's CUDA graph: a preprocessing kernel is missing from it");
    }
  }
  if (between_ != nullptr && between_node_ == nullptr) {
    throw EngineError("a frame's CUDA graph: the stage mark is missing from it");
  }
}

void FrameGraph::launch(PreprocessLaunches& pre, cudaEvent_t between, cudaStream_t stream) {
  for (std::size_t i = 0; i < pre.size(); ++i) {
    KernelNode& kernel = kernels_[i];
    preprocess::PreprocessLaunch& launch = pre[i];
    // a camera whose frames arrive at one address (a ROS message's staging) changes nothing
    if (kernel.slot == launch.slot &&
        std::memcmp(&kernel.params, &launch.params, sizeof(launch.params)) == 0) {
      continue;
    }
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
}

}  // namespace trtpipe::pipeline
