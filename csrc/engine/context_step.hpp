#pragma once
// The frame pipeline's model step over an execution context of an EngineModel (a TensorRT
// engine, or the test models): one context whose bindings are device buffers taken once from a
// pool and bound once; each frame is one enqueue (enqueueV3 for TensorRT). Frames in flight
// share the bindings and are kept apart by stream order, as the pipeline enqueues them on one
// stream. A resizable step sizes its bindings for the profile's largest shapes, so frames may
// change the shapes of dynamic inputs (setInputShape) without new buffers.
#include <cstdint>
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
  // Bindings sized for the profile's max shapes: set_input_shapes() may take any shape of the
  // profile. Otherwise they hold exactly `shapes`, which no frame may change.
  bool resizable = false;
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
  void set_input_shapes(const std::vector<Shape>& shapes) override;
  // How many times an input's shape was set on the context (construction included).
  std::uint64_t shape_sets() const noexcept { return shape_sets_; }
  // The pool the bindings came from (given, or made for exactly them).
  const std::shared_ptr<memory::DevicePool>& device_pool() const noexcept { return pool_; }

 private:
  // InputError unless `shape` is one input `desc` accepts (within the step's profile).
  void check_shape(const TensorDesc& desc, const Shape& shape) const;
  // Sets `shape` on the context where it differs from the input's current one.
  void set_shape(pipeline::StepTensor& input, const Shape& shape);
  // The outputs' shapes the context infers from the inputs' current ones.
  void read_output_shapes();

  std::shared_ptr<EngineModel> model_;
  ContextStepOptions options_;
  std::unique_ptr<EngineContext> context_;
  std::vector<pipeline::StepTensor> inputs_;
  std::vector<pipeline::StepTensor> outputs_;
  std::vector<Allocation> buffers_;  // the bindings, released after the last frame's work
  std::vector<TensorDesc> io_;
  ProfileShapes profile_;
  std::shared_ptr<memory::DevicePool> pool_;
  std::uint64_t shape_sets_ = 0;
};

}  // namespace trtpipe::engine
