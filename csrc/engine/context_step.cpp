#include "engine/context_step.hpp"

#include <algorithm>
#include <utility>

#include "common/cuda_check.hpp"
#include "common/cuda_handles.hpp"
#include "common/errors.hpp"
#include "engine/pool_allocator.hpp"

namespace trtpipe::engine {
namespace {

// TensorRT requires every bound device address to be 256-byte aligned (setTensorAddress); the
// pool's blocks are.
std::size_t binding_bytes(std::size_t bytes) { return PoolAllocator::block_bytes(bytes); }

}  // namespace

ContextStep::ContextStep(std::shared_ptr<EngineModel> model, ContextStepOptions options,
                         std::shared_ptr<memory::DevicePool> pool)
    : model_(std::move(model)), options_(std::move(options)) {
  if (!model_) throw InputError("model: expected an engine model, given none");
  if (pool && pool->device() != options_.device) {
    throw InputError("device_pool: expected a pool on GPU " + std::to_string(options_.device) +
                     " (the engine's), given one on GPU " + std::to_string(pool->device()));
  }
  const int profiles = model_->profile_count();
  if (options_.profile < 0 || options_.profile >= std::max(profiles, 1)) {
    throw InputError("profile: expected an optimisation profile index in 0.." +
                     std::to_string(std::max(profiles, 1) - 1) + ", given " +
                     std::to_string(options_.profile));
  }
  DeviceGuard guard(options_.device);
  if (profiles > 0) profile_ = model_->profile(options_.profile);
  io_ = model_->io();
  for (const auto& [name, shape] : options_.shapes) {
    bool known = false;
    for (const TensorDesc& desc : io_) known = known || (desc.is_input && desc.name == name);
    if (!known) throw InputError("shapes: expected engine input names, given '" + name + "'");
  }

  context_ = model_->create_context();
  {
    Stream setup("setting an execution context's optimisation profile");
    context_->set_profile(options_.profile, setup.get());
    TRTPIPE_CUDA_CHECK(cudaStreamSynchronize(setup.get()), "setting the optimisation profile");
  }
  // The shapes frames start with; a resizable step first sizes every tensor at the largest.
  std::vector<Shape> first;
  for (const TensorDesc& desc : io_) {
    if (!desc.is_input) continue;
    const ProfileShapes::Range* range = profile_.find(desc.name);
    Shape shape = desc.shape;
    if (const auto given = options_.shapes.find(desc.name); given != options_.shapes.end()) {
      shape = given->second;
    } else if (element_count(shape) < 0 && range != nullptr) {
      shape = range->opt;
    }
    check_shape(desc, shape);
    const bool dynamic = element_count(desc.shape) < 0;
    Shape largest = options_.resizable && dynamic && range != nullptr ? range->max : shape;
    pipeline::StepTensor input{desc.name, nullptr, {}, desc.dtype, 0, 0};
    if (dynamic) {
      set_shape(input, largest);
    } else {
      input.shape = largest;
    }
    input.bytes = pipeline::step_tensor_bytes("input '" + desc.name + "'", largest, desc.dtype);
    input.capacity = input.bytes;
    inputs_.push_back(std::move(input));
    first.push_back(std::move(shape));
  }
  for (const TensorDesc& desc : io_) {
    if (!desc.is_input) outputs_.push_back({desc.name, nullptr, {}, desc.dtype, 0, 0});
  }
  read_output_shapes();
  for (pipeline::StepTensor& output : outputs_) output.capacity = output.bytes;

  if (!pool) {
    std::size_t total = 0;
    for (const auto* tensors : {&inputs_, &outputs_}) {
      for (const pipeline::StepTensor& tensor : *tensors) total += binding_bytes(tensor.capacity);
    }
    pool = PoolAllocator::exact_device_pool(total, options_.device);
  }
  pool_ = pool;
  // Binding buffers only: the allocator's pinned pool is never asked for.
  PoolAllocator allocator(pool, nullptr);
  for (auto* tensors : {&inputs_, &outputs_}) {
    for (pipeline::StepTensor& tensor : *tensors) {
      Allocation buffer = allocator.device(std::max<std::size_t>(tensor.capacity, 1), nullptr,
                                           "binding '" + tensor.name + "' of the model step");
      tensor.device = buffer.data;
      context_->set_tensor_address(tensor.name, tensor.device);
      buffers_.push_back(std::move(buffer));
    }
  }
  set_input_shapes(first);
}

void ContextStep::check_shape(const TensorDesc& desc, const Shape& shape) const {
  const ProfileShapes::Range* range = profile_.find(desc.name);
  if (shape_fits(desc, range, shape)) return;
  std::string want = "shape " + shape_text(desc.shape);
  if (range != nullptr) {
    want += " within profile " + std::to_string(options_.profile) + " (min " +
            shape_text(range->min) + ", max " + shape_text(range->max) + ")";
  }
  throw InputError("input '" + desc.name + "': expected " + want + ", given " +
                   shape_text(shape));
}

void ContextStep::set_shape(pipeline::StepTensor& input, const Shape& shape) {
  if (input.shape == shape) return;
  context_->set_input_shape(input.name, shape);
  ++shape_sets_;
  input.shape = shape;
}

void ContextStep::read_output_shapes() {
  for (pipeline::StepTensor& output : outputs_) {
    Shape shape = context_->tensor_shape(output.name);
    if (element_count(shape) < 0) {
      throw EngineError("output '" + output.name + "' has shape " + shape_text(shape) +
                        " with every input shape set: data-dependent output shapes are not " +
                        "supported by the frame pipeline");
    }
    const std::size_t bytes =
        pipeline::step_tensor_bytes("output '" + output.name + "'", shape, output.dtype);
    if (output.device != nullptr && bytes > output.capacity) {
      throw EngineError("output '" + output.name + "': the engine reports shape " +
                        shape_text(shape) + ", more than its " +
                        std::to_string(output.capacity) + "-byte binding holds");
    }
    output.shape = std::move(shape);
    output.bytes = bytes;
  }
}

void ContextStep::set_input_shapes(const std::vector<Shape>& shapes) {
  if (shapes.size() != inputs_.size()) {
    throw InputError("shapes: expected " + std::to_string(inputs_.size()) + " input shapes, given " +
                     std::to_string(shapes.size()));
  }
  bool changed = false;
  std::size_t index = 0;
  for (const TensorDesc& desc : io_) {
    if (!desc.is_input) continue;
    pipeline::StepTensor& input = inputs_[index];
    const Shape& shape = shapes[index++];
    if (shape == input.shape) continue;
    check_shape(desc, shape);
    const std::size_t bytes =
        pipeline::step_tensor_bytes("input '" + desc.name + "'", shape, desc.dtype);
    if (bytes > input.capacity) {
      throw InputError("input '" + desc.name + "': expected at most " +
                       std::to_string(input.capacity) + " bytes (the shapes this model step was " +
                       "made for; make it resizable for the whole profile), given shape " +
                       shape_text(shape));
    }
    set_shape(input, shape);
    input.bytes = bytes;
    changed = true;
  }
  if (!changed) return;
  try {
    read_output_shapes();
  } catch (...) {
    // the next frame sets its shapes again, and reads the outputs' anew
    std::size_t i = 0;
    for (const TensorDesc& desc : io_) {
      if (!desc.is_input) continue;
      if (element_count(desc.shape) < 0) inputs_[i].shape.clear();
      ++i;
    }
    throw;
  }
}

ContextStep::~ContextStep() {
  // The bindings go back to their pool right after this: no frame's work may still use them,
  // on whatever stream it was enqueued.
  try {
    DeviceGuard guard(options_.device);
    static_cast<void>(cudaDeviceSynchronize());
  } catch (const Error&) {  // the device is gone: nothing can still run on it
  }
}

}  // namespace trtpipe::engine
