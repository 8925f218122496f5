#include "pipeline/graph_step.hpp"

#include <string>
#include <utility>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"

namespace trtpipe::pipeline {

namespace {

void check_tensors(std::vector<StepTensor>& tensors, const char* kind) {
  for (StepTensor& tensor : tensors) {
    const std::string what = std::string(kind) + " '" + tensor.name + "'";
    if (tensor.device == nullptr) throw InputError(what + ": expected a device address, given 0");
    tensor.bytes = step_tensor_bytes(what, tensor.shape, tensor.dtype);
  }
}

}  // namespace

GraphStep::GraphStep(cudaGraphExec_t graph, std::vector<StepTensor> inputs,
                     std::vector<StepTensor> outputs, int device)
    : graph_(graph), inputs_(std::move(inputs)), outputs_(std::move(outputs)), device_(device) {
  if (graph_ == nullptr) throw InputError("graph: expected an instantiated cudaGraphExec_t, given 0");
  check_tensors(inputs_, "graph input");
  check_tensors(outputs_, "graph output");
}

void GraphStep::enqueue(cudaStream_t stream) {
  TRTPIPE_CUDA_CHECK(cudaGraphLaunch(graph_, stream), "launching the model's CUDA graph");
}

}  // namespace trtpipe::pipeline
