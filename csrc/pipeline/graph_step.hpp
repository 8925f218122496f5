#pragma once
// A model step that launches an instantiated CUDA graph whose inputs and outputs are static
// device tensors, e.g. a torch.cuda.CUDAGraph's (PyTorch gives out its cudaGraphExec_t). The
// graph and its tensors belong to their capturer, which must outlive this step.
#include <vector>

#include "pipeline/model_step.hpp"

namespace trtpipe::pipeline {

class GraphStep final : public ModelStep {
 public:
  // InputError for a null graph, a null or dynamic tensor.
  GraphStep(cudaGraphExec_t graph, std::vector<StepTensor> inputs,
            std::vector<StepTensor> outputs, int device);

  const std::vector<StepTensor>& inputs() const noexcept override { return inputs_; }
  const std::vector<StepTensor>& outputs() const noexcept override { return outputs_; }
  int device() const noexcept override { return device_; }
  void enqueue(cudaStream_t stream) override;
  cudaGraphExec_t graph() const noexcept { return graph_; }

 private:
  cudaGraphExec_t graph_;
  std::vector<StepTensor> inputs_;
  std::vector<StepTensor> outputs_;
  int device_;
};

}  // namespace trtpipe::pipeline
