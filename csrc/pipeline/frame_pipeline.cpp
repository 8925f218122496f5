#include "pipeline/frame_pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"
#include "engine/pool_allocator.hpp"

namespace trtpipe::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
using engine::PoolAllocator;

[[noreturn]] void bad_input(const std::string& field, const std::string& expected,
                            const std::string& given) {
  throw InputError(field + ": expected " + expected + ", given " + given);
}

void record(cudaEvent_t event, cudaStream_t stream, const char* what) {
  if (event != nullptr) TRTPIPE_CUDA_CHECK(cudaEventRecord(event, stream), what);
}

}  // namespace

struct FramePipeline::Slot {
  Slot() : done("a frame slot's completion") {}
  Event done;
  // `done` was seen complete since the slot's last submit (by wait or ready, on any thread):
  // its staging is free without asking the driver again
  std::atomic<bool> finished{true};
  std::unique_ptr<FrameGraph> graph;  // this slot's frames as one graph, once captured
  std::vector<HostOutput> outputs;
  std::uint64_t shapes = 0;  // the step's shape generation `outputs` were last sized for
  std::vector<void*> staging;  // per step input: pinned memory for its host tensors, or null
  // the head scan's, `anchors` records then a count per batch row
  decode::CompactCandidate* records = nullptr;  // device address of the mapped records
  const decode::CompactCandidate* host_records = nullptr;
  unsigned* host_count = nullptr;
};

FramePipeline::FramePipeline(std::shared_ptr<ModelStep> step,
                             std::shared_ptr<preprocess::GpuPreprocessor> preprocessor,
                             PipelineOptions options, std::shared_ptr<memory::PinnedPool> pinned)
    : step_(std::move(step)),
      preprocessor_(std::move(preprocessor)),
      options_(options),
      pinned_(std::move(pinned)) {
  if (!step_) bad_input("step", "a model step", "None");
  if (pinned_ && pinned_->device() != step_->device()) {
    bad_input("pinned_pool", "a pool mapped to GPU " + std::to_string(step_->device()) +
                                 " (the model's)",
              "one mapped to GPU " + std::to_string(pinned_->device()));
  }
  if (options_.slots < 1 || options_.slots > 64) {
    bad_input("slots", "1..64 frames in flight", std::to_string(options_.slots));
  }
  if (preprocessor_ && preprocessor_->device() != step_->device()) {
    bad_input("preprocessor", "one on GPU " + std::to_string(step_->device()) + " (the model's)",
              "one on GPU " + std::to_string(preprocessor_->device()));
  }
  const auto& outputs = step_->outputs();
  if (options_.scan_output >= 0) {
    if (options_.scan_output >= static_cast<int>(outputs.size())) {
      bad_input("scan_output", "an output index in 0.." + std::to_string(outputs.size() - 1),
                std::to_string(options_.scan_output));
    }
    const StepTensor& head = outputs[static_cast<std::size_t>(options_.scan_output)];
    const engine::Shape& shape = head.shape;
    // YOLOv8: [batch, 4 + classes, anchors]; YOLOv5: [batch, anchors, 5 + classes]
    const bool rows = options_.scan_objectness;
    const std::int64_t batch = shape.empty() ? 0 : shape[0];
    const std::int64_t channels = rows ? shape.back() : (shape.size() > 1 ? shape[1] : 0);
    const std::int64_t anchors = rows ? (shape.size() > 1 ? shape[1] : 0) : shape.back();
    if (head.dtype != engine::DType::kFloat32 || shape.size() != 3 || batch < 1 ||
        batch > kMaxScanBatch || channels < (rows ? 6 : 5) || anchors < 1 ||
        anchors >= (std::int64_t{1} << 31)) {
      bad_input("scan_output '" + head.name + "'",
                std::string(rows ? "a float32 [batch, anchors, 5 + classes] head"
                                 : "a float32 [batch, 4 + classes, anchors] head") +
                    " of 1.." + std::to_string(kMaxScanBatch) + " rows",
                engine::shape_text(shape) + " " + engine::dtype_name(head.dtype));
    }
    scan_ = {static_cast<const float*>(head.device), static_cast<int>(channels - (rows ? 5 : 4)),
             static_cast<int>(anchors), options_.conf, rows, static_cast<int>(batch)};
  }
  DeviceGuard guard(step_->device());
  stream_.emplace("the frame pipeline");
  for (const StepTensor& input : step_->inputs()) {
    input_ready_.emplace_back("input '" + input.name + "' ready");
    preprocess::Tensor target;
    target.data = input.device;
    target.shape = input.shape;
    target.dtype = engine::dtype_name(input.dtype);
    image_targets_.push_back(std::move(target));
  }

  // Every pinned block of every slot from one pool sized for exactly them.
  const std::size_t records = scanning() ? sizeof(decode::CompactCandidate) *
                                               static_cast<std::size_t>(scan_.anchors) *
                                               static_cast<std::size_t>(scan_.batch)
                                         : 0;
  const std::size_t counts = scanning() ? sizeof(unsigned) * static_cast<std::size_t>(scan_.batch)
                                        : 0;
  std::size_t pinned_bytes = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (static_cast<int>(i) != options_.scan_output) {
      pinned_bytes += PoolAllocator::block_bytes(std::max<std::size_t>(outputs[i].capacity, 1));
    }
  }
  if (scanning()) {
    pinned_bytes += PoolAllocator::block_bytes(records) + PoolAllocator::block_bytes(counts);
  }
  if (!pinned_) {
    pinned_ = PoolAllocator::exact_pinned_pool(std::max<std::size_t>(pinned_bytes * options_.slots, 1),
                                               step_->device());
  }
  if (scanning()) device_ = PoolAllocator::exact_device_pool(counts, step_->device());
  PoolAllocator allocator(device_, pinned_);
  if (scanning()) {
    engine::Allocation count = allocator.device(counts, nullptr, "the scan's counts");
    device_count_ = static_cast<unsigned*>(count.data);
    buffers_.push_back(std::move(count));
  }
  for (int k = 0; k < options_.slots; ++k) {
    auto slot = std::make_unique<Slot>();
    slot->staging.assign(step_->inputs().size(), nullptr);
    const std::string where = " of frame slot " + std::to_string(k);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      HostOutput out{&outputs[i], nullptr, outputs[i].shape, outputs[i].bytes};
      if (static_cast<int>(i) != options_.scan_output) {
        engine::Allocation host = allocator.pinned(std::max<std::size_t>(outputs[i].capacity, 1),
                                                   nullptr, "output '" + outputs[i].name + "'" + where);
        out.host = host.data;
        buffers_.push_back(std::move(host));
      }
      slot->outputs.push_back(out);
    }
    if (scanning()) {
      engine::Allocation found = allocator.pinned(records, nullptr, "head scan records" + where);
      engine::Allocation count = allocator.pinned(counts, nullptr, "head scan counts" + where);
      if (found.mapped == nullptr) {
        throw EngineError("head scan records" + where + ": the pinned pool gave memory the GPU " +
                          "cannot map");
      }
      slot->records = static_cast<decode::CompactCandidate*>(found.mapped);
      slot->host_records = static_cast<const decode::CompactCandidate*>(found.data);
      slot->host_count = static_cast<unsigned*>(count.data);
      std::fill_n(slot->host_count, scan_.batch, 0u);
      buffers_.push_back(std::move(found));
      buffers_.push_back(std::move(count));
    }
    slots_.push_back(std::move(slot));
  }
  one_image_.resize(1);
}

FramePipeline::~FramePipeline() {
  // Frames may run on streams other than the pipeline's: wait for each slot's last one before
  // its buffers go back to their pools.
  for (const auto& slot : slots_) static_cast<void>(cudaEventSynchronize(slot->done.get()));
}

FramePipeline::Slot& FramePipeline::checked_slot(int slot) const {
  if (slot < 0 || slot >= slots()) {
    bad_input("slot", "0.." + std::to_string(slots() - 1), std::to_string(slot));
  }
  return *slots_[static_cast<std::size_t>(slot)];
}

void FramePipeline::require_every_input(const std::vector<TensorInput>& tensors,
                                        bool in_order) const {
  const auto& inputs = step_->inputs();
  if (in_order && tensors.size() != inputs.size() && !tensors.empty()) {
    std::string names;
    for (const StepTensor& input : inputs) {
      names += (names.empty() ? "'" : ", '") + input.name + "'";
    }
    throw InputError("inputs: expected " + std::to_string(inputs.size()) +
                     " tensors in the order of the model's inputs (" + names + "), given " +
                     std::to_string(tensors.size()));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    bool given = false;
    for (const TensorInput& tensor : tensors) {
      given = given || tensor.input == static_cast<int>(i) || tensor.name == inputs[i].name;
    }
    if (!given) {
      throw InputError("inputs: expected a tensor named '" + inputs[i].name + "', given none");
    }
  }
}

void FramePipeline::check_inputs(const std::vector<ImageInput>& images,
                                 const std::vector<TensorInput>& tensors) {
  const auto& inputs = step_->inputs();
  const auto names = [&] {
    std::string all;
    for (const StepTensor& input : inputs) all += (all.empty() ? "'" : ", '") + input.name + "'";
    return all;
  };
  tensor_inputs_.clear();
  for (const TensorInput& tensor : tensors) {
    int index = tensor.input;
    if (index < 0) {
      for (std::size_t i = 0; i < inputs.size() && index < 0; ++i) {
        if (inputs[i].name == tensor.name) index = static_cast<int>(i);
      }
      if (index < 0) {
        bad_input("inputs", "only " + names(), "an input named '" + tensor.name + "'");
      }
    } else if (index >= static_cast<int>(inputs.size())) {
      bad_input("tensor input", "an input index in 0.." + std::to_string(inputs.size() - 1),
                std::to_string(index));
    }
    for (int seen : tensor_inputs_) {
      if (seen == index) {
        bad_input("inputs", "each input once", "input '" + inputs[index].name + "' twice");
      }
    }
    const StepTensor& input = inputs[static_cast<std::size_t>(index)];
    if (tensor.dtype != input.dtype) {
      const bool labelled = tensor.dtype == engine::DType::kOther && !tensor.dtype_label.empty();
      bad_input("input '" + input.name + "'",
                std::string("dtype ") + engine::dtype_name(input.dtype),
                labelled ? tensor.dtype_label : engine::dtype_name(tensor.dtype));
    }
    if (tensor.data == nullptr) bad_input("input '" + input.name + "'", "data", "a null pointer");
    tensor_inputs_.push_back(index);
  }
  if (!images.empty() && !preprocessor_) {
    bad_input("images", "none (the pipeline has no preprocessor)", std::to_string(images.size()));
  }
  for (const ImageInput& image : images) {
    if (image.input < 0 || image.input >= static_cast<int>(inputs.size())) {
      bad_input("image input", "an input index in 0.." + std::to_string(inputs.size() - 1),
                std::to_string(image.input));
    }
  }
  reshape(tensors);
}

void FramePipeline::reshape(const std::vector<TensorInput>& tensors) {
  const auto& inputs = step_->inputs();
  bool changed = false;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    changed = changed || tensors[k].shape != inputs[static_cast<std::size_t>(tensor_inputs_[k])].shape;
  }
  if (!changed) return;
  if (scanning()) {
    const StepTensor& input = inputs[static_cast<std::size_t>(tensor_inputs_.front())];
    bad_input("input '" + input.name + "'", "shape " + engine::shape_text(input.shape) +
                                                " (the pipeline scans a head of fixed shape)",
              "another");
  }
  shapes_.clear();
  for (const StepTensor& input : inputs) shapes_.push_back(input.shape);
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    shapes_[static_cast<std::size_t>(tensor_inputs_[k])] = tensors[k].shape;
  }
  step_->set_input_shapes(shapes_);
  for (std::size_t i = 0; i < inputs.size(); ++i) image_targets_[i].shape = inputs[i].shape;
  ++shape_generation_;
  ++counters_.reshapes;
}

// Inputs past the 64th have no bit in the graph key: they are copied from where they are.
constexpr std::size_t kStagedInputs = 64;

void FramePipeline::copy_tensors(Slot& slot, const std::vector<TensorInput>& tensors,
                                 cudaStream_t stream) {
  const auto& inputs = step_->inputs();
  staged_ = 0;
  bool slot_free = false;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const TensorInput& tensor = tensors[k];
    const auto index = static_cast<std::size_t>(tensor_inputs_[k]);
    const StepTensor& input = inputs[index];
    if (!tensor.on_device && index < kStagedInputs) {
      if (!slot_free && !slot.finished.load(std::memory_order_acquire)) {
        // the slot's last frame may still read its staging
        TRTPIPE_CUDA_CHECK(cudaEventSynchronize(slot.done.get()),
                           "waiting for the frame slot's last frame");
      }
      slot_free = true;
      std::memcpy(staging(slot, index), tensor.data, input.bytes);
      staged_ |= std::uint64_t{1} << index;
      continue;
    }
    if (tensor.on_device && tensor.ready_stream != 0) {
      // ordered after the producer: a plain event wait, as PyTorch's own streams do
      cudaEvent_t ready = input_ready_[index].get();
      TRTPIPE_CUDA_CHECK(cudaEventRecord(ready,
                                         reinterpret_cast<cudaStream_t>(tensor.ready_stream)),
                         "recording when input '" + input.name + "' is ready");
      TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0),
                         "ordering the frame after input '" + input.name + "'");
    }
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(input.device, tensor.data, input.bytes,
                                       tensor.on_device ? cudaMemcpyDeviceToDevice
                                                        : cudaMemcpyHostToDevice,
                                       stream),
                       "copying input '" + input.name + "' into the model's binding");
  }
}

void* FramePipeline::staging(Slot& slot, std::size_t input) {
  if (slot.staging[input] != nullptr) return slot.staging[input];
  // Every slot's staging of this input at once, from a pool of exactly them, on first use: a
  // model's image inputs, filled by the preprocessor, never take any.
  const StepTensor& tensor = step_->inputs()[input];
  const std::size_t bytes = std::max<std::size_t>(tensor.capacity, tensor.bytes);
  PoolAllocator allocator(
      nullptr, PoolAllocator::exact_pinned_pool(PoolAllocator::block_bytes(bytes) * slots_.size(),
                                                step_->device()));
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    engine::Allocation block = allocator.pinned(
        bytes, nullptr, "staging of input '" + tensor.name + "' in frame slot " + std::to_string(k));
    slots_[k]->staging[input] = block.data;
    buffers_.push_back(std::move(block));
  }
  return slot.staging[input];
}

void FramePipeline::copy_staged(Slot& slot, cudaStream_t stream) {
  const auto& inputs = step_->inputs();
  for (std::uint64_t bits = staged_; bits != 0; bits &= bits - 1) {
    const auto index = static_cast<std::size_t>(__builtin_ctzll(bits));
    const StepTensor& input = inputs[index];
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(input.device, slot.staging[index], input.bytes,
                                       cudaMemcpyHostToDevice, stream),
                       "copying input '" + input.name + "' from pinned staging");
  }
}

bool FramePipeline::as_graph(const std::vector<ImageInput>& images) const noexcept {
  if (!options_.graphs || !counters_.stopped.empty()) return false;
  // The preprocessor's host staging is released once per frame, after the graph's launch:
  // enough for one staged image, not for several (they would share its buffers too early).
  int host_images = 0;
  for (const ImageInput& image : images) host_images += image.on_device ? 0 : 1;
  return host_images <= 1;
}

// Captures allowed per slot in each window of kWindowFrames frames: frames alternating between
// more geometries than that run step by step rather than capture on every change, and the
// allowance comes back with the next window (a camera that changes size now and then keeps
// its graphs).
constexpr std::uint64_t kCapturesPerSlot = 8;
constexpr std::uint64_t kWindowFrames = 1024;

void FramePipeline::run_steps(Slot& slot, cudaEvent_t between, cudaStream_t stream) {
  if (slot.graph && slot.graph->key().matches(launches_, between, shape_generation_, staged_)) {
    counters_.argument_updates += slot.graph->launch(launches_, between, stream);
    ++counters_.graph_frames;
    return;
  }
  // The first frame of a geometry runs step by step: it warms up the model step (TensorRT
  // finishes its setup on its first enqueue, outside any capture).
  if (!warm_.matches(launches_, between, shape_generation_, staged_)) {
    enqueue_steps(slot, between, stream);
    warm_.assign(launches_, between, shape_generation_, staged_);
    return;
  }
  if (counters_.frames - window_frames_ >= kWindowFrames) {
    window_frames_ = counters_.frames;
    window_captures_ = counters_.captures;
  }
  if (counters_.captures - window_captures_ >= kCapturesPerSlot * slots()) {
    ++counters_.uncaptured_frames;
    enqueue_steps(slot, between, stream);
    return;
  }
  try {
    slot.graph.reset();
    slot.graph = std::make_unique<FrameGraph>(
        launches_, between, shape_generation_, staged_,
        [&](cudaStream_t capturing) { model_and_post_step(slot, capturing); },
        stream_->get());
    ++counters_.captures;
  } catch (const std::exception& e) {
    // the model step cannot be captured (a PyTorch graph given without its cudaGraph_t, an
    // engine that synchronises): every frame runs step by step, as correctly
    counters_.stopped = e.what();
    enqueue_steps(slot, between, stream);
    return;
  }
  counters_.argument_updates += slot.graph->launch(launches_, between, stream);
  ++counters_.graph_frames;
}

void FramePipeline::enqueue_steps(Slot& slot, cudaEvent_t between, cudaStream_t stream) {
  for (preprocess::PreprocessLaunch& launch : launches_) {
    preprocess::enqueue_preprocess(launch, stream);
  }
  record(between, stream, "recording the end of preprocessing");
  model_and_post_step(slot, stream);
  ++counters_.step_frames;
}

void FramePipeline::model_and_post_step(Slot& slot, cudaStream_t stream) {
  copy_staged(slot, stream);
  step_->enqueue(stream);
  post_step(slot, stream);
}

void FramePipeline::post_step(Slot& slot, cudaStream_t stream) {
  if (scanning()) {
    launch_head_scan(scan_, slot.records, device_count_, stream);
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(slot.host_count, device_count_,
                                       sizeof(unsigned) * static_cast<std::size_t>(scan_.batch),
                                       cudaMemcpyDeviceToHost, stream),
                       "copying the head scan's candidate counts to pinned host memory");
  }
  for (const HostOutput& out : slot.outputs) {
    if (out.host == nullptr) continue;
    TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(out.host, out.tensor->device, out.bytes,
                                       cudaMemcpyDeviceToHost, stream),
                       "copying output '" + out.tensor->name + "' to pinned host memory");
  }
}

double FramePipeline::submit(const std::vector<ImageInput>& images,
                             const std::vector<TensorInput>& tensors, int slot_index,
                             preprocess::StreamHandle stream_handle, const StageMarks& marks) {
  Slot& slot = checked_slot(slot_index);
  check_inputs(images, tensors);
  const auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceGuard guard(step_->device());
  if (slot.shapes != shape_generation_) {  // the step was reshaped since this slot's last frame
    for (HostOutput& out : slot.outputs) {
      out.shape = out.tensor->shape;
      out.bytes = out.tensor->bytes;
    }
    slot.shapes = shape_generation_;
  }
  ++counters_.frames;
  record(marks.before, stream, "recording the start of preprocessing");
  copy_tensors(slot, tensors, stream);
  // The images' waits and staging copies are enqueued now; their kernels are described, to
  // run first in the frame's graph (or to be enqueued first, step by step).
  const bool graph = as_graph(images);
  launches_.resize(images.size());
  bool staged = false;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ImageInput& image = images[i];
    preprocess::Tensor& target = image_targets_[static_cast<std::size_t>(image.input)];
    target.batch_index = image.batch_index;
    preprocessor_->run(image.frame, image.on_device, target, stream_handle, image.frame_stream,
                       0, graph ? &launches_[i] : nullptr);
    staged = staged || (graph && launches_[i].staged);
  }
  if (!graph) launches_.clear();  // enqueued already, with their staging released
  const auto launched = Clock::now();
  if (graph) {
    run_steps(slot, marks.between, stream);
  } else {
    enqueue_steps(slot, marks.between, stream);
  }
  if (staged) preprocessor_->release_staging(stream_handle);
  record(marks.after, stream, "recording the end of inference");
  TRTPIPE_CUDA_CHECK(cudaEventRecord(slot.done.get(), stream), "recording a frame's completion");
  slot.finished.store(false, std::memory_order_release);
  return std::chrono::duration<double, std::micro>(Clock::now() - launched).count();
}

double FramePipeline::submit_image(const preprocess::Frame& frame, bool on_device,
                                   preprocess::StreamHandle frame_stream, int slot,
                                   preprocess::StreamHandle stream, const StageMarks& marks) {
  ImageInput& image = one_image_.front();
  image.frame = frame;
  image.on_device = on_device;
  image.frame_stream = frame_stream;
  static const std::vector<TensorInput> no_tensors;
  return submit(one_image_, no_tensors, slot, stream, marks);
}

void FramePipeline::wait(int slot_index, double timeout_ms) {
  Slot& slot = checked_slot(slot_index);
  if (slot.finished.load(std::memory_order_acquire)) return;
  cudaEvent_t done = slot.done.get();
  if (timeout_ms < 0) {
    TRTPIPE_CUDA_CHECK(cudaEventSynchronize(done), "waiting for a frame's model outputs");
    slot.finished.store(true, std::memory_order_release);
    return;
  }
  Clock::time_point start;  // read once the first query says the frame still runs
  // Spin briefly (a frame is often microseconds from done), then poll without burning a core.
  for (int polls = 0;; ++polls) {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaSuccess) {
      slot.finished.store(true, std::memory_order_release);
      return;
    }
    if (status != cudaErrorNotReady) {
      TRTPIPE_CUDA_CHECK(status, "waiting for a frame's model outputs");
    }
    if (polls == 0) start = Clock::now();
    if (std::chrono::duration<double, std::milli>(Clock::now() - start).count() >= timeout_ms) {
      ++timeouts_;
      std::ostringstream msg;
      msg << "the frame in slot " << slot_index << " did not finish within " << timeout_ms
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

bool FramePipeline::ready(int slot_index) const {
  Slot& slot = checked_slot(slot_index);
  if (slot.finished.load(std::memory_order_acquire)) return true;
  const cudaError_t status = cudaEventQuery(slot.done.get());
  if (status == cudaErrorNotReady) return false;
  TRTPIPE_CUDA_CHECK(status, "asking whether a frame has completed");
  slot.finished.store(true, std::memory_order_release);
  return true;
}

PipelineCounters FramePipeline::counters() const {
  PipelineCounters out = counters_;
  out.timeouts = timeouts_.load();
  return out;
}

const std::vector<HostOutput>& FramePipeline::host_outputs(int slot) const {
  return checked_slot(slot).outputs;
}

decode::Detected FramePipeline::scanned(int slot_index, const decode::DenseHeadOptions& options,
                                        const decode::SourceMapping& mapping, int row) const {
  if (!scanning()) bad_input("scanned", "a pipeline scanning its head (scan_output)", "none");
  const Slot& slot = checked_slot(slot_index);
  if (row < 0 || row >= scan_.batch) {
    bad_input("row", "a batch row of the scanned head in 0.." + std::to_string(scan_.batch - 1),
              std::to_string(row));
  }
  const unsigned count = slot.host_count[row];
  // the kernel counts every passing anchor once: more would be a broken scan, not a frame
  if (count > static_cast<unsigned>(scan_.anchors)) {
    throw EngineError("head scan: " + std::to_string(count) + " candidates of " +
                      std::to_string(scan_.anchors) + " anchors in batch row " +
                      std::to_string(row));
  }
  const std::size_t first = static_cast<std::size_t>(row) * static_cast<std::size_t>(scan_.anchors);
  return decode::decode_compact_candidates(slot.host_records + first, count, options, mapping);
}

}  // namespace trtpipe::pipeline
