#include "engine/context_step.hpp"

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
  const ProfileShapes profile = profiles > 0 ? model_->profile(options_.profile) : ProfileShapes{};
  const std::vector<TensorDesc> io = model_->io();
  for (const auto& [name, shape] : options_.shapes) {
    bool known = false;
    for (const TensorDesc& desc : io) known = known || (desc.is_input && desc.name == name);
    if (!known) throw InputError("shapes: expected engine input names, given '" + name + "'");
  }

  context_ = model_->create_context();
  {
    Stream setup("setting an execution context's optimisation profile");
    context_->set_profile(options_.profile, setup.get());
    TRTPIPE_CUDA_CHECK(cudaStreamSynchronize(setup.get()), "setting the optimisation profile");
  }
  for (const TensorDesc& desc : io) {
    if (!desc.is_input) continue;
    const ProfileShapes::Range* range = profile.find(desc.name);
    Shape shape = desc.shape;
    if (const auto given = options_.shapes.find(desc.name); given != options_.shapes.end()) {
      shape = given->second;
    } else if (element_count(shape) < 0 && range != nullptr) {
      shape = range->opt;
    }
    if (!shape_fits(desc, range, shape)) {
      std::string want = "shape " + shape_text(desc.shape);
      if (range != nullptr) {
        want += " within profile " + std::to_string(options_.profile) + " (min " +
                shape_text(range->min) + ", max " + shape_text(range->max) + ")";
      }
      throw InputError("input '" + desc.name + "': expected " + want + ", given " +
                       shape_text(shape));
    }
    if (element_count(desc.shape) < 0) context_->set_input_shape(desc.name, shape);
    const std::size_t bytes = pipeline::step_tensor_bytes("input '" + desc.name + "'", shape,
                                                          desc.dtype);
    inputs_.push_back({desc.name, nullptr, std::move(shape), desc.dtype, bytes});
  }
  for (const TensorDesc& desc : io) {
    if (desc.is_input) continue;
    Shape shape = context_->tensor_shape(desc.name);
    if (element_count(shape) < 0) {
      throw EngineError("output '" + desc.name + "' has shape " + shape_text(shape) +
                        " with every input shape set: data-dependent output shapes are not " +
                        "supported by the frame pipeline");
    }
    const std::size_t bytes = pipeline::step_tensor_bytes("output '" + desc.name + "'", shape,
                                                          desc.dtype);
    outputs_.push_back({desc.name, nullptr, std::move(shape), desc.dtype, bytes});
  }

  if (!pool) {
    std::size_t total = 0;
    for (const auto* tensors : {&inputs_, &outputs_}) {
      for (const pipeline::StepTensor& tensor : *tensors) total += binding_bytes(tensor.bytes);
    }
    pool = PoolAllocator::exact_device_pool(total, options_.device);
  }
  // Binding buffers only: the allocator's pinned pool is never asked for.
  PoolAllocator allocator(pool, nullptr);
  for (auto* tensors : {&inputs_, &outputs_}) {
    for (pipeline::StepTensor& tensor : *tensors) {
      Allocation buffer = allocator.device(std::max<std::size_t>(tensor.bytes, 1), nullptr,
                                           "binding '" + tensor.name + "' of the model step");
      tensor.device = buffer.data;
      context_->set_tensor_address(tensor.name, tensor.device);
      buffers_.push_back(std::move(buffer));
    }
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
