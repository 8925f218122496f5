#pragma once
// A model step that launches an instantiated CUDA graph whose inputs and outputs are static
// device tensors, e.g. a torch.cuda.CUDAGraph's (PyTorch gives out its cudaGraphExec_t, and its
// cudaGraph_t where the graph was kept). The graph and its tensors belong to their capturer,
// which must outlive this step.
#include <vector>

#include "pipeline/model_step.hpp"

namespace trtpipe::pipeline {

// Launches `exec` on `stream`; on a stream being captured (a CUDA graph cannot be launched into
// another) adds `graph` to the capture as a child graph instead. EngineError when capturing
// without a graph, or when CUDA refuses either.
void enqueue_graph(cudaGraphExec_t exec, cudaGraph_t graph, cudaStream_t stream);

class GraphStep final : public ModelStep {
 public:
  // InputError for a null graph executable, a null or dynamic tensor. `graph` (may be null) is
  // the graph `exec` was instantiated from: with it, the step can be captured into the frame
  // pipeline's CUDA graph.
  GraphStep(cudaGraphExec_t exec, cudaGraph_t graph, std::vector<StepTensor> inputs,
            std::vector<StepTensor> outputs, int device);

  const std::vector<StepTensor>& inputs() const noexcept override { return inputs_; }
  const std::vector<StepTensor>& outputs() const noexcept override { return outputs_; }
  int device() const noexcept override { return device_; }
  void enqueue(cudaStream_t stream) override { enqueue_graph(exec_, graph_, stream); }
  cudaGraphExec_t exec() const noexcept { return exec_; }
  cudaGraph_t graph() const noexcept { return graph_; }

 private:
  cudaGraphExec_t exec_;
  cudaGraph_t graph_;
  std::vector<StepTensor> inputs_;
  std::vector<StepTensor> outputs_;
  int device_;
};

}  // namespace trtpipe::pipeline
