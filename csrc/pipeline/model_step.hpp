#pragma once
// The model step of the frame pipeline: one small interface whatever executes the network.
// A step owns (or is given) device tensors at fixed addresses for its whole life; enqueue()
// reads its inputs and writes its outputs in stream order. Implementations: a TensorRT (or test)
// execution context with its bindings (engine/context_step.hpp) and a captured CUDA graph, e.g.
// PyTorch's (pipeline/graph_step.hpp).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <vector>

#include "engine/engine_model.hpp"

namespace trtpipe::pipeline {

// One input or output of a step: contiguous device memory at a fixed address.
struct StepTensor {
  std::string name;
  void* device = nullptr;
  engine::Shape shape;  // the current one: every axis >= 0
  engine::DType dtype = engine::DType::kFloat32;
  std::size_t bytes = 0;     // of `shape`
  std::size_t capacity = 0;  // of the buffer at `device`: the most bytes any shape may take
};

class ModelStep {
 public:
  virtual ~ModelStep() = default;
  virtual const std::vector<StepTensor>& inputs() const noexcept = 0;
  virtual const std::vector<StepTensor>& outputs() const noexcept = 0;
  virtual int device() const noexcept = 0;
  // Enqueues the network on `stream`. Throws EngineError with what the executor reported.
  virtual void enqueue(cudaStream_t stream) = 0;
  // Gives the inputs the shapes of the frames enqueued from now on (one per input, in inputs()
  // order); the outputs' shapes follow, the tensors keep their addresses. Frames already
  // enqueued are not affected. InputError for a shape the step cannot take; a step of static
  // shapes (the default) takes only its own.
  virtual void set_input_shapes(const std::vector<engine::Shape>& shapes);
};

// Bytes of a tensor of `shape` and `dtype`; InputError naming `what` for a dynamic axis or a
// type the pipeline cannot size.
std::size_t step_tensor_bytes(const std::string& what, const engine::Shape& shape,
                              engine::DType dtype);

}  // namespace trtpipe::pipeline
