#pragma once
// One frame of the pipeline as one CUDA graph: the pre-step's kernels, the mark between stages,
// the model step and the post-step, captured once for a frame slot and then launched with one
// call per frame. Between frames only the preprocessing kernels' arguments change (the frame's
// address, size and letterbox), and the event marking the stages: both are set on the graph's
// nodes before its launch. What else a frame could change — which kernels, their grids, whether
// a mark is recorded, the model step's shapes — is the graph's key; a frame of another key needs
// another capture.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "preprocess/kernel.hpp"

namespace trtpipe::pipeline {

using PreprocessLaunches = std::vector<preprocess::PreprocessLaunch>;

// What must be equal for a frame to run on a captured graph.
class FrameGraphKey {
 public:
  // `shapes`: which shapes of the model step's (a count of its changes); `staged`: which inputs
  // (a bit per input) the captured part copies from the slot's pinned staging
  bool matches(const PreprocessLaunches& pre, cudaEvent_t between, std::uint64_t shapes,
               std::uint64_t staged) const noexcept;
  void assign(const PreprocessLaunches& pre, cudaEvent_t between, std::uint64_t shapes,
              std::uint64_t staged);  // reuses its capacity
  bool empty() const noexcept { return !assigned_; }

 private:
  struct Kernel {
    const void* kernel;
    dim3 grid;
    dim3 block;
  };
  std::vector<Kernel> kernels_;
  bool between_ = false;
  std::uint64_t shapes_ = 0;
  std::uint64_t staged_ = 0;
  bool assigned_ = false;
};

class FrameGraph {
 public:
  // The launches `pre` in order, `between` recorded after them (if not null), then whatever
  // `rest` enqueues (the model step and the post-step, captured on `capture_stream`, the
  // pipeline's own: never the legacy default stream), as one instantiated graph. Throws the
  // error of the call that failed; the capture is then ended and nothing is kept.
  FrameGraph(const PreprocessLaunches& pre, cudaEvent_t between, std::uint64_t shapes,
             std::uint64_t staged, const std::function<void(cudaStream_t)>& rest, cudaStream_t capture_stream);
  ~FrameGraph();
  FrameGraph(const FrameGraph&) = delete;
  FrameGraph& operator=(const FrameGraph&) = delete;

  const FrameGraphKey& key() const noexcept { return key_; }
  // Gives the preprocessing kernels the arguments of `pre` (where they changed) and the stage
  // mark `between`, then launches the graph on `stream`; returns how many kernels were given
  // new arguments. `pre` must match key().
  std::size_t launch(PreprocessLaunches& pre, cudaEvent_t between, cudaStream_t stream);

 private:
  struct KernelNode {
    cudaGraphNode_t node = nullptr;
    preprocess::PixelParams params;  // as last set
    void* slot = nullptr;
  };
  // The graph: the preprocessing kernels and the mark as nodes of our own, then `captured`
  // as a child graph.
  void build(const PreprocessLaunches& pre, cudaGraph_t captured);

  FrameGraphKey key_;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  std::vector<KernelNode> kernels_;
  cudaGraphNode_t between_node_ = nullptr;
  cudaEvent_t between_ = nullptr;
};

}  // namespace trtpipe::pipeline
