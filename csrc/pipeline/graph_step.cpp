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
    tensor.capacity = tensor.bytes;
  }
}

// Adds `graph` as a child graph after the work captured so far on `stream`, and makes it what
// the next captured work depends on.
void capture_child_graph(cudaGraph_t graph, cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  cudaGraph_t capturing = nullptr;
  const cudaGraphNode_t* dependencies = nullptr;
  std::size_t count = 0;
#if CUDART_VERSION >= 13000
  TRTPIPE_CUDA_CHECK(cudaStreamGetCaptureInfo(stream, &status, nullptr, &capturing, &dependencies,
                                              nullptr, &count),
                     "reading the capture of the frame's CUDA graph");
#else
  TRTPIPE_CUDA_CHECK(cudaStreamGetCaptureInfo(stream, &status, nullptr, &capturing, &dependencies,
                                              &count),
                     "reading the capture of the frame's CUDA graph");
#endif
  cudaGraphNode_t child = nullptr;
  TRTPIPE_CUDA_CHECK(cudaGraphAddChildGraphNode(&child, capturing, dependencies, count, graph),
                     "adding the model's CUDA graph to the frame's");
#if CUDART_VERSION >= 13000
  TRTPIPE_CUDA_CHECK(cudaStreamUpdateCaptureDependencies(stream, &child, nullptr, 1,
                                                         cudaStreamSetCaptureDependencies),
                     "ordering the frame's CUDA graph after the model's");
#else
  TRTPIPE_CUDA_CHECK(cudaStreamUpdateCaptureDependencies(stream, &child, 1,
                                                         cudaStreamSetCaptureDependencies),
                     "ordering the frame's CUDA graph after the model's");
#endif
}

}  // namespace

void enqueue_graph(cudaGraphExec_t exec, cudaGraph_t graph, cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  TRTPIPE_CUDA_CHECK(cudaStreamIsCapturing(stream, &status), "asking whether a stream captures");
  if (status == cudaStreamCaptureStatusNone) {
    TRTPIPE_CUDA_CHECK(cudaGraphLaunch(exec, stream), "launching the model's CUDA graph");
    return;
  }
  if (graph == nullptr) {
    throw EngineError("the model's CUDA graph cannot join a capture: only its executable was "
                      "given (PyTorch keeps the graph with CUDAGraph(keep_graph=True))");
  }
  capture_child_graph(graph, stream);
}

GraphStep::GraphStep(cudaGraphExec_t exec, cudaGraph_t graph, std::vector<StepTensor> inputs,
                     std::vector<StepTensor> outputs, int device)
    : exec_(exec),
      graph_(graph),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)),
      device_(device) {
  if (exec_ == nullptr) throw InputError("graph: expected an instantiated cudaGraphExec_t, given 0");
  check_tensors(inputs_, "graph input");
  check_tensors(outputs_, "graph output");
}

}  // namespace trtpipe::pipeline
