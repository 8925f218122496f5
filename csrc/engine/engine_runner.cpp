#include "engine/engine_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <utility>

#include "common/cuda_check.hpp"
#include "common/cuda_handles.hpp"
#include "common/errors.hpp"
#include "engine/pool_allocator.hpp"

namespace trtpipe::engine {

struct EngineRunner::SlotTensor {
  const TensorDesc* desc = nullptr;
  Allocation device;   // the slot's own buffer: host inputs are copied here; outputs land here
  Allocation staging;  // pinned: host inputs are staged here; outputs are copied here
  void* bound = nullptr;
  Shape shape;
  std::size_t bytes = 0;
  bool copy_in = false;                // this frame's input came from host memory
  const void* copy_from = nullptr;     // a device input too misaligned to bind: copied from here
};

struct EngineRunner::Slot {
  explicit Slot(const std::string& name)
      : stream("engine " + name), done("engine " + name), input_ready("engine " + name) {}
  // The buffers go back to their pools right after this, so no queued work may still use them.
  ~Slot() { static_cast<void>(cudaStreamSynchronize(stream.get())); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

  std::unique_ptr<EngineContext> context;
  Stream stream;
  Event done;
  Event input_ready;
  std::vector<SlotTensor> inputs;
  std::vector<SlotTensor> outputs;
  GraphExec graph;
  std::vector<std::int64_t> graph_key;  // bindings + shapes the graph was captured with
  std::vector<std::int64_t> last_key;   // bindings + shapes of the slot's previous frame
  std::vector<std::int64_t> next_key;   // this frame's, built in place: frames allocate nothing
  std::vector<OutputView> views;        // what take() hands out, pointing into `outputs`
  std::uint64_t ticket = 0;             // 0: free
  std::uint64_t last_used = 0;
  bool finished = false;  // `done` was seen complete for this ticket: no need to ask again
};

namespace {

// TensorRT requires every bound device address to be 256-byte aligned (setTensorAddress).
constexpr std::uintptr_t kBindingAlignment = 256;

bool binding_aligned(const void* address) {
  return reinterpret_cast<std::uintptr_t>(address) % kBindingAlignment == 0;
}

std::size_t byte_size(const TensorDesc& desc, const Shape& shape) {
  return static_cast<std::size_t>(element_count(shape)) * dtype_size(desc.dtype);
}

// The bytes a slot tensor's buffers hold (at least one, so every tensor has an address).
std::size_t buffer_bytes(std::size_t tensor_bytes) {
  return std::max<std::size_t>(tensor_bytes, 1);
}

void check_pool_device(const char* field, const memory::DevicePool* pool, int device) {
  if (pool != nullptr && pool->device() != device) {
    throw InputError(std::string(field) + ": expected a pool on GPU " + std::to_string(device) +
                     " (the engine's), given one on GPU " + std::to_string(pool->device()));
  }
}

void check_pool_device(const char* field, const memory::PinnedPool* pool, int device) {
  if (pool != nullptr && pool->device() != device) {
    throw InputError(std::string(field) + ": expected a pool mapped to GPU " +
                     std::to_string(device) + " (the engine's), given one mapped to GPU " +
                     std::to_string(pool->device()));
  }
}

void check_alignment(const Allocation& allocation, const std::string& what) {
  if (!binding_aligned(allocation.data)) {
    throw EngineError("the buffer allocator gave " + what + " an address that is not " +
                      std::to_string(kBindingAlignment) + "-byte aligned, as TensorRT requires");
  }
}

}  // namespace

EngineRunner::EngineRunner(std::shared_ptr<EngineModel> model, RunnerOptions options,
                           RunnerPools pools)
    : model_(std::move(model)), options_(options), pools_(std::move(pools)) {
  if (!model_) throw InputError("model: expected an engine model, given none");
  if (options_.slots < 1 || options_.slots > 64) {
    throw InputError("slots: expected 1..64 frames in flight, given " +
                     std::to_string(options_.slots));
  }
  const int profiles = model_->profile_count();
  if (options_.profile < 0 || options_.profile >= std::max(profiles, 1)) {
    throw InputError("profile: expected an optimisation profile index in 0.." +
                     std::to_string(std::max(profiles, 1) - 1) + ", given " +
                     std::to_string(options_.profile));
  }
  check_pool_device("device_pool", pools_.device.get(), options_.device);
  check_pool_device("pinned_pool", pools_.pinned.get(), options_.device);
  TRTPIPE_CUDA_CHECK(cudaSetDevice(options_.device),
                     "selecting GPU " + std::to_string(options_.device) + " for the engine");
  io_ = model_->io();  // never resized again: descriptions are pointed to from here on
  if (profiles > 0) profile_ = model_->profile(options_.profile);
  stats_.graphs_enabled = options_.cuda_graphs;

  for (const TensorDesc& desc : io_) {
    if (dtype_size(desc.dtype) == 0) {
      throw EngineError("tensor '" + desc.name + "': its data type is not one the runner handles " +
                        "(supported: float32, float16, bfloat16, int8, uint8, int32, int64, bool)");
    }
    if (desc.is_input && element_count(desc.shape) < 0 && !profile_.find(desc.name)) {
      throw EngineError("input '" + desc.name + "' has dynamic shape " + shape_text(desc.shape) +
                        " but profile " + std::to_string(options_.profile) + " gives no range");
    }
  }

  for (const TensorDesc& desc : io_) {
    if (!desc.is_input) continue;
    input_descs_.push_back(&desc);
    input_ranges_.push_back(profile_.find(desc.name));
  }
  ordered_.assign(input_descs_.size(), nullptr);

  // Shape every slot first, so that all buffer sizes are known before the pools are made.
  // Every buffer is sized for the largest shape of the profile: frames then never reallocate.
  std::size_t device_bytes = 0;
  std::size_t pinned_bytes = 0;
  for (int index = 0; index < options_.slots; ++index) {
    auto slot = std::make_unique<Slot>("slot " + std::to_string(index));
    slot->context = model_->create_context();
    slot->context->set_profile(options_.profile, slot->stream.get());
    for (const TensorDesc& desc : io_) {
      if (!desc.is_input) continue;
      SlotTensor tensor;
      tensor.desc = &desc;
      tensor.shape = desc.shape;
      if (const auto* range = profile_.find(desc.name); element_count(desc.shape) < 0) {
        tensor.shape = range->max;
        slot->context->set_input_shape(desc.name, tensor.shape);
        ++stats_.shape_sets;
      }
      tensor.bytes = byte_size(desc, tensor.shape);
      slot->inputs.push_back(std::move(tensor));
    }
    for (const TensorDesc& desc : io_) {
      if (desc.is_input) continue;
      SlotTensor tensor;
      tensor.desc = &desc;
      tensor.shape = slot->context->tensor_shape(desc.name);
      if (element_count(tensor.shape) < 0) {
        throw EngineError("output '" + desc.name + "' has shape " + shape_text(tensor.shape) +
                          " even with every input shape set: data-dependent output shapes are " +
                          "not supported by the runner");
      }
      tensor.bytes = byte_size(desc, tensor.shape);
      slot->outputs.push_back(std::move(tensor));
    }
    for (const auto* tensors : {&slot->inputs, &slot->outputs}) {
      for (const SlotTensor& tensor : *tensors) {
        device_bytes += PoolAllocator::block_bytes(buffer_bytes(tensor.bytes));
        pinned_bytes += PoolAllocator::block_bytes(buffer_bytes(tensor.bytes));
      }
    }
    slots_.push_back(std::move(slot));
  }

  if (!pools_.device) {
    pools_.device = PoolAllocator::exact_device_pool(device_bytes, options_.device);
  }
  if (!pools_.pinned) {
    pools_.pinned = PoolAllocator::exact_pinned_pool(pinned_bytes, options_.device);
  }
  allocator_ = std::make_unique<PoolAllocator>(pools_.device, pools_.pinned);

  for (std::size_t index = 0; index < slots_.size(); ++index) {
    Slot& slot = *slots_[index];
    const std::string where = " of pipeline slot " + std::to_string(index);
    for (SlotTensor& tensor : slot.inputs) {
      const std::string what = "input '" + tensor.desc->name + "'" + where;
      tensor.device = allocator_->device(buffer_bytes(tensor.bytes), slot.stream.get(), what);
      tensor.staging = allocator_->pinned(buffer_bytes(tensor.bytes), slot.stream.get(), what);
      check_alignment(tensor.device, what);
    }
    for (SlotTensor& tensor : slot.outputs) {
      const std::string what = "output '" + tensor.desc->name + "'" + where;
      tensor.device = allocator_->device(buffer_bytes(tensor.bytes), slot.stream.get(), what);
      tensor.staging = allocator_->pinned(buffer_bytes(tensor.bytes), slot.stream.get(), what);
      check_alignment(tensor.device, what);
      slot.context->set_tensor_address(tensor.desc->name, tensor.device.data);
      ++stats_.address_binds;
      tensor.bound = tensor.device.data;
    }
    for (const SlotTensor& tensor : slot.outputs) {
      slot.views.push_back({tensor.desc, &tensor.shape, tensor.staging.data, tensor.bytes});
    }
  }
}

EngineRunner::~EngineRunner() {
  // Buffers must outlive the work that uses them; a failing sync means the context is gone.
  // (Each slot also waits for its own stream when destroyed, which covers a failed constructor.)
  for (const auto& slot : slots_) static_cast<void>(cudaStreamSynchronize(slot->stream.get()));
}

void EngineRunner::check_inputs(const std::vector<InputView>& inputs) {
  const std::size_t count = input_descs_.size();
  const auto input_names = [&] {
    std::string names;
    for (const TensorDesc* desc : input_descs_) {
      names += (names.empty() ? "'" : ", '") + desc->name + "'";
    }
    return names;
  };
  if (!inputs.empty() && inputs.front().index >= 0 && inputs.size() != count) {
    throw InputError("inputs: expected " + std::to_string(count) + " tensors in the order of the " +
                     "engine's inputs (" + input_names() + "), given " +
                     std::to_string(inputs.size()));
  }
  std::fill(ordered_.begin(), ordered_.end(), nullptr);
  const InputView* unknown = nullptr;
  bool repeated = false;
  for (const InputView& view : inputs) {
    std::size_t index = count;
    if (view.index >= 0) {
      index = static_cast<std::size_t>(view.index);
    } else {
      for (std::size_t i = 0; i < count; ++i) {
        if (input_descs_[i]->name == view.name) {
          index = i;
          break;
        }
      }
    }
    if (index >= count) {
      if (unknown == nullptr) unknown = &view;
    } else if (ordered_[index] != nullptr) {
      repeated = true;
    } else {
      ordered_[index] = &view;
    }
  }
  for (std::size_t index = 0; index < count; ++index) {
    const TensorDesc& desc = *input_descs_[index];
    const InputView* found = ordered_[index];
    if (found == nullptr) {
      throw InputError("inputs: expected a tensor named '" + desc.name + "', given none");
    }
    if (found->dtype != desc.dtype) {
      const bool labelled = found->dtype == DType::kOther && !found->dtype_label.empty();
      throw InputError("input '" + desc.name + "': expected dtype " + dtype_name(desc.dtype) +
                       ", given " + (labelled ? found->dtype_label : dtype_name(found->dtype)));
    }
    if (found->data == nullptr) {
      throw InputError("input '" + desc.name + "': expected data, given a null pointer");
    }
    const Shape& shape = found->shape;
    const auto* range = input_ranges_[index];
    if (!shape_fits(desc, range, shape)) {
      std::string want = "shape " + shape_text(desc.shape);
      if (range) {
        want += " within profile " + std::to_string(options_.profile) + " (min " +
                shape_text(range->min) + ", max " + shape_text(range->max) + ")";
      }
      throw InputError("input '" + desc.name + "': expected " + want + ", given " +
                       shape_text(shape));
    }
  }
  if (unknown != nullptr) {
    if (unknown->index >= 0) {
      throw InputError("inputs: expected input indices 0.." + std::to_string(count - 1) +
                       ", given " + std::to_string(unknown->index));
    }
    throw InputError("inputs: expected only " + input_names() + ", given an input named '" +
                     unknown->name + "'");
  }
  if (repeated) {
    throw InputError("inputs: expected " + std::to_string(count) + " tensors, given " +
                     std::to_string(inputs.size()) + " (a name repeats)");
  }
}

void EngineRunner::prepare(Slot& slot, std::vector<std::int64_t>& key) {
  bool shapes_changed = false;
  for (std::size_t index = 0; index < slot.inputs.size(); ++index) {
    SlotTensor& tensor = slot.inputs[index];
    const InputView& view = *ordered_[index];  // check_inputs() found every one
    if (view.shape != tensor.shape) {
      slot.context->set_input_shape(tensor.desc->name, view.shape);
      ++stats_.shape_sets;
      tensor.shape = view.shape;
      tensor.bytes = byte_size(*tensor.desc, tensor.shape);
      shapes_changed = true;
    }
    tensor.copy_in = !view.on_device;
    const bool zero_copy = view.on_device && binding_aligned(view.data);
    tensor.copy_from = view.on_device && !zero_copy ? view.data : nullptr;
    void* address = zero_copy ? const_cast<void*>(view.data) : tensor.device.data;
    if (address != tensor.bound) {
      slot.context->set_tensor_address(tensor.desc->name, address);
      ++stats_.address_binds;
      tensor.bound = address;
    }
    if (tensor.copy_in) {
      // The slot is free, so nothing in flight reads the staging buffer.
      std::memcpy(tensor.staging.data, view.data, tensor.bytes);
    } else if (view.ready_stream != 0) {
      auto producer = reinterpret_cast<cudaStream_t>(view.ready_stream);
      TRTPIPE_CUDA_CHECK(cudaEventRecord(slot.input_ready.get(), producer),
                         "recording when input '" + tensor.desc->name + "' is ready");
      TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(slot.stream.get(), slot.input_ready.get(), 0),
                         "ordering the engine after input '" + tensor.desc->name + "'");
    }
    key.push_back(static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(address)));
    key.push_back(tensor.copy_in ? 1 : 0);
    key.push_back(static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(tensor.copy_from)));
    key.insert(key.end(), tensor.shape.begin(), tensor.shape.end());
  }
  if (shapes_changed) {
    try {
      for (SlotTensor& tensor : slot.outputs) {
        Shape shape = slot.context->tensor_shape(tensor.desc->name);
        const std::size_t bytes = element_count(shape) < 0 ? 0 : byte_size(*tensor.desc, shape);
        if (element_count(shape) < 0 || bytes > tensor.device.size) {
          throw EngineError("output '" + tensor.desc->name + "': the engine reports shape " +
                            shape_text(shape) + ", which the runner's " +
                            std::to_string(tensor.device.size) + "-byte buffer cannot hold");
        }
        tensor.shape = std::move(shape);
        tensor.bytes = bytes;
      }
    } catch (...) {
      // Forget the input shapes so the next frame sets them again and re-reads the outputs.
      for (SlotTensor& tensor : slot.inputs) tensor.shape.clear();
      throw;
    }
  }
}

void EngineRunner::enqueue_work(Slot& slot, const PreStep* pre) {
  cudaStream_t stream = slot.stream.get();
  for (const SlotTensor& tensor : slot.inputs) {
    if (tensor.copy_in) {
      TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(tensor.device.data, tensor.staging.data, tensor.bytes,
                                         cudaMemcpyHostToDevice, stream),
                         "copying input '" + tensor.desc->name + "' to the GPU");
    } else if (tensor.copy_from != nullptr) {
      TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(tensor.device.data, tensor.copy_from, tensor.bytes,
                                         cudaMemcpyDeviceToDevice, stream),
                         "copying misaligned device input '" + tensor.desc->name + "'");
    }
  }
  if (pre != nullptr && pre->run) {
    std::vector<BoundTensor> bound;
    for (const SlotTensor& tensor : slot.inputs) {
      bound.push_back({tensor.desc->name, tensor.bound, tensor.shape});
    }
    pre->run(stream, bound);
  }
  slot.context->enqueue(stream);
  for (const SlotTensor& tensor : slot.outputs) {
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(tensor.staging.data, tensor.device.data, tensor.bytes,
                                       cudaMemcpyDeviceToHost, stream),
                       "copying output '" + tensor.desc->name + "' to pinned host memory");
  }
}

bool EngineRunner::try_capture(Slot& slot, const PreStep* pre,
                               const std::vector<std::int64_t>& key) {
  cudaStream_t stream = slot.stream.get();
  slot.graph.reset();
  TRTPIPE_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
                     "starting to capture the engine's work into a CUDA graph");
  std::string failure;
  try {
    enqueue_work(slot, pre);
  } catch (const Error& error) {
    failure = error.what();
  }
  cudaGraph_t raw = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &raw);
  Graph graph(raw);
  if (failure.empty() && ended != cudaSuccess) {
    failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorName(ended) + ": " +
              cudaGetErrorString(ended);
  }
  if (failure.empty()) {
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, graph.get(), 0);
    if (made == cudaSuccess) {
      slot.graph = GraphExec(exec);
    } else {
      failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorName(made) + ": " +
                cudaGetErrorString(made);
    }
  }
  if (!failure.empty()) {
    static_cast<void>(cudaGetLastError());  // capture errors are not sticky; clear them
    ++stats_.graph_capture_failures;
    stats_.graphs_enabled = false;
    stats_.graph_fallback_reason = "CUDA graph capture failed, running plain enqueues: " + failure;
    return false;
  }
  ++stats_.graph_captures;
  slot.graph_key = key;
  return true;
}

std::uint64_t EngineRunner::submit(const std::vector<InputView>& inputs, const PreStep* pre) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_inputs(inputs);
  Slot* slot = nullptr;
  for (const auto& candidate : slots_) {
    if (candidate->ticket == 0 && (slot == nullptr || candidate->last_used < slot->last_used)) {
      slot = candidate.get();
    }
  }
  if (slot == nullptr) {
    std::string pending;
    for (const auto& s : slots_) {
      pending += (pending.empty() ? "" : ", ") + std::to_string(s->ticket);
    }
    throw InputError("submit: expected at most " + std::to_string(options_.slots) +
                     " frames in flight, given another while tickets " + pending +
                     " are not taken; take a result first or use more slots");
  }
  TRTPIPE_CUDA_CHECK(cudaSetDevice(options_.device), "selecting the engine's GPU");

  std::vector<std::int64_t>& key = slot->next_key;
  key.clear();
  prepare(*slot, key);
  const bool graphable = stats_.graphs_enabled && (pre == nullptr || !pre->run || pre->key != 0);
  key.push_back(pre != nullptr && pre->run ? static_cast<std::int64_t>(pre->key) : 0);

  bool launched = false;
  if (graphable && slot->graph && slot->graph_key == key) {
    launched = true;
  } else if (graphable && slot->last_key == key) {
    // Bindings and shapes repeat and the engine has run with them once: capture them.
    launched = try_capture(*slot, pre, key);
  }
  if (launched) {
    TRTPIPE_CUDA_CHECK(cudaGraphLaunch(slot->graph.get(), slot->stream.get()),
                       "replaying the engine's CUDA graph");
    ++stats_.graph_replays;
  } else {
    enqueue_work(*slot, pre);
    ++stats_.plain_enqueues;
  }
  std::swap(slot->last_key, slot->next_key);
  TRTPIPE_CUDA_CHECK(cudaEventRecord(slot->done.get(), slot->stream.get()),
                     "recording the end of a frame");
  slot->finished = false;
  slot->ticket = next_ticket_++;
  slot->last_used = slot->ticket;
  ++stats_.submitted;
  return slot->ticket;
}

EngineRunner::Slot& EngineRunner::slot_of(std::uint64_t ticket) const {
  for (const auto& slot : slots_) {
    if (ticket != 0 && slot->ticket == ticket) return *slot;
  }
  throw InputError("ticket: expected a frame in flight on this runner, given " +
                   std::to_string(ticket) + " (already taken, or never submitted here)");
}

void EngineRunner::mark_finished(std::uint64_t ticket) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& slot : slots_) {
    if (slot->ticket == ticket) slot->finished = true;  // (still in flight: not taken meanwhile)
  }
}

bool EngineRunner::ready(std::uint64_t ticket) const {
  cudaEvent_t done = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const Slot& slot = slot_of(ticket);
    if (slot.finished) return true;
    done = slot.done.get();
  }
  const cudaError_t status = cudaEventQuery(done);
  if (status == cudaErrorNotReady) return false;
  TRTPIPE_CUDA_CHECK(status, "checking whether frame " + std::to_string(ticket) + " is done");
  mark_finished(ticket);
  return true;
}

void EngineRunner::wait(std::uint64_t ticket, double timeout_ms) {
  using Clock = std::chrono::steady_clock;
  cudaEvent_t done = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const Slot& slot = slot_of(ticket);
    if (slot.finished) return;
    done = slot.done.get();
  }
  // The clock is read only once the first query says the frame is still running.
  Clock::time_point start;
  // Spin briefly (a frame is often microseconds from done), then poll without burning a core.
  for (int polls = 0;; ++polls) {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaSuccess) {
      mark_finished(ticket);
      return;
    }
    if (status != cudaErrorNotReady) {
      TRTPIPE_CUDA_CHECK(status, "waiting for frame " + std::to_string(ticket));
    }
    if (polls == 0) start = Clock::now();
    const double waited =
        std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (timeout_ms >= 0 && waited >= timeout_ms) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.timeouts;
      std::ostringstream msg;
      msg << "frame " << ticket << " did not finish within " << timeout_ms
          << " ms (the GPU is still running it; wait again, or look for a hung kernel)";
      throw EngineError(msg.str());
    }
    if (polls < 2000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

const std::vector<OutputView>& EngineRunner::take(std::uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slot_of(ticket);
  if (!slot.finished) {
    const cudaError_t status = cudaEventQuery(slot.done.get());
    if (status == cudaErrorNotReady) {
      throw InputError("ticket " + std::to_string(ticket) +
                       ": expected a finished frame, given one still running (wait for it first)");
    }
    TRTPIPE_CUDA_CHECK(status, "collecting frame " + std::to_string(ticket));
  }
  for (std::size_t index = 0; index < slot.outputs.size(); ++index) {
    slot.views[index].bytes = slot.outputs[index].bytes;
  }
  slot.ticket = 0;
  slot.finished = false;
  ++stats_.completed;
  return slot.views;
}

RunnerStats EngineRunner::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace trtpipe::engine
