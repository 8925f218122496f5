#pragma once
// The frame pipeline's model step over an execution context of an EngineModel (a TensorRT
// engine, or the test models): one context whose bindings are device buffers taken once from a
// pool and bound once, at one shape per input; each frame is one enqueue (enqueueV3 for
// TensorRT). Frames in flight share the bindings and are kept apart by stream order, as the
// pipeline enqueues them on one stream.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/buffer_allocator.hpp"
#include "engine/engine_model.hpp"
#include "memory/device_pool.hpp"
#include "pipeline/model_step.hpp"

namespace trtpipe::engine {

struct ContextStepOptions {
  int profile = 0;
  int device = 0;
  // Shapes of inputs with dynamic axes (else the profile's opt shape); every one must lie
  // within the profile.
  std::map<std::string, Shape> shapes;
};

class ContextStep final : public pipeline::ModelStep {
 public:
  // InputError for an unknown input, a shape outside the profile or a pool of another GPU;
  // EngineError when the engine rejects its shapes or bindings. A null pool: one of its own,
  // holding exactly the bindings.
  ContextStep(std::shared_ptr<EngineModel> model, ContextStepOptions options,
              std::shared_ptr<memory::DevicePool> pool = nullptr);
  ~ContextStep() override;
  ContextStep(const ContextStep&) = delete;
  ContextStep& operator=(const ContextStep&) = delete;

  const std::vector<pipeline::StepTensor>& inputs() const noexcept override { return inputs_; }
  const std::vector<pipeline::StepTensor>& outputs() const noexcept override { return outputs_; }
  int device() const noexcept override { return options_.device; }
  void enqueue(cudaStream_t stream) override { context_->enqueue(stream); }

 private:
  std::shared_ptr<EngineModel> model_;
  ContextStepOptions options_;
  std::unique_ptr<EngineContext> context_;
  std::vector<pipeline::StepTensor> inputs_;
  std::vector<pipeline::StepTensor> outputs_;
  std::vector<Allocation> buffers_;  // the bindings, released after the last frame's work
};

}  // namespace trtpipe::engine
