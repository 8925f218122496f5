#pragma once
// A test implementation of EngineModel around a captured CUDA graph (e.g. a real network that
// PyTorch captured): shaped like a TensorRT engine (static io table, contexts with bound
// addresses, enqueue on a stream), it copies the bound inputs into the graph's static inputs,
// launches the graph and copies its static outputs into the bound outputs. So a TensorRT-shaped
// engine with real outputs runs on GPUs where no TensorRT engine can.
#include <atomic>
#include <memory>
#include <vector>

#include "engine/engine_model.hpp"
#include "pipeline/graph_step.hpp"

namespace trtpipe::testing {

using namespace engine;  // the engine interfaces these test doubles implement

struct GraphTensor {
  TensorDesc desc;
  void* device = nullptr;  // the graph's static tensor
};

struct GraphModelCounters {
  std::atomic<std::uint64_t> contexts{0};
  std::atomic<std::uint64_t> enqueues{0};
};

class GraphModel final : public EngineModel {
 public:
  // The graph and its tensors belong to their capturer, which must outlive the model. `graph`
  // (may be null): what `exec` was instantiated from, for capturing the model's enqueue.
  GraphModel(cudaGraphExec_t exec, cudaGraph_t graph, std::vector<GraphTensor> tensors);
  // The graph of a model step (e.g. a PyTorch engine's), the step kept alive with the model.
  explicit GraphModel(std::shared_ptr<const pipeline::GraphStep> step);
  std::vector<TensorDesc> io() const override;
  int profile_count() const override { return 0; }
  ProfileShapes profile(int index) const override;
  std::unique_ptr<EngineContext> create_context() override;
  const GraphModelCounters& counters() const noexcept { return *counters_; }

 private:
  std::shared_ptr<const pipeline::GraphStep> step_;  // null when given a bare graph
  cudaGraphExec_t exec_;
  cudaGraph_t graph_;
  std::vector<GraphTensor> tensors_;
  std::shared_ptr<GraphModelCounters> counters_;
};

}  // namespace trtpipe::testing
