#include "testing/scale_model.hpp"

#include <string>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"

namespace trtpipe::testing {
namespace {

__device__ std::uint64_t global_time_ns() {
  std::uint64_t now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

__global__ void scale_rows_kernel(const float* in, float* scaled, float* row_sum,
                                  std::int64_t batch, std::int64_t channels, float scale,
                                  float bias, std::int64_t delay_ns) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (delay_ns > 0 && row == 0) {
    const std::uint64_t until = global_time_ns() + static_cast<std::uint64_t>(delay_ns);
    while (global_time_ns() < until) __nanosleep(1000);
  }
  if (row >= batch) return;
  float sum = 0.0f;
  for (std::int64_t c = 0; c < channels; ++c) {
    const float value = in[row * channels + c] * scale + bias;
    scaled[row * channels + c] = value;
    sum += value;
  }
  row_sum[row] = sum;
}

class ScaleContext final : public EngineContext {
 public:
  ScaleContext(const ScaleModelOptions& options, std::shared_ptr<ScaleModelCounters> counters,
               std::shared_ptr<std::atomic<std::int64_t>> delay_us)
      : options_(options), counters_(std::move(counters)), delay_us_(std::move(delay_us)) {
    ++counters_->contexts;
    if (options_.static_batch > 0) batch_ = options_.static_batch;
  }

  void set_profile(int index, cudaStream_t /*stream*/) override {
    ++counters_->set_profile;
    const int count = options_.static_batch > 0 ? 1 : static_cast<int>(options_.profiles.size());
    if (index < 0 || index >= count) {
      throw EngineError("set_profile: profile " + std::to_string(index) + " out of range 0.." +
                        std::to_string(count - 1));
    }
    profile_ = index;
    if (options_.static_batch <= 0) batch_ = -1;  // like TensorRT: shapes must be set again
  }

  void set_input_shape(const std::string& name, const Shape& shape) override {
    ++counters_->set_input_shape;
    if (name != "input") throw EngineError("set_input_shape: no input tensor '" + name + "'");
    const bool rank_ok = shape.size() == 2 && shape[1] == options_.channels;
    bool batch_ok = false;
    if (rank_ok && options_.static_batch > 0) {
      batch_ok = shape[0] == options_.static_batch;
    } else if (rank_ok) {
      const BatchProfile& p = options_.profiles[static_cast<std::size_t>(profile_)];
      batch_ok = shape[0] >= p.min && shape[0] <= p.max;
    }
    if (!batch_ok) {
      throw EngineError("set_input_shape: shape " + shape_text(shape) + " of 'input' is " +
                        "outside profile " + std::to_string(profile_));
    }
    batch_ = shape[0];
  }

  void set_tensor_address(const std::string& name, void* address) override {
    ++counters_->set_tensor_address;
    if (name == "input") {
      input_ = static_cast<const float*>(address);
    } else if (name == "scaled") {
      scaled_ = static_cast<float*>(address);
    } else if (name == "row_sum") {
      row_sum_ = static_cast<float*>(address);
    } else {
      throw EngineError("set_tensor_address: no tensor '" + name + "'");
    }
  }

  void enqueue(cudaStream_t stream) override {
    ++counters_->enqueues;
    if (batch_ < 0) throw EngineError("enqueue: the shape of 'input' is not set");
    if (!input_ || !scaled_ || !row_sum_) throw EngineError("enqueue: a tensor is not bound");
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    TRTPIPE_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture), "checking for stream capture");
    if (capture == cudaStreamCaptureStatusActive) {
      ++counters_->captured_enqueues;
      if (options_.fail_capture) {
        // Querying a capturing stream is illegal and invalidates the capture; then fail the way
        // TensorRT's enqueueV3 does (returning false) for an engine that cannot be captured.
        const cudaError_t query = cudaStreamQuery(stream);
        static_cast<void>(cudaGetLastError());
        throw EngineError(std::string("enqueue: this engine cannot run under stream capture (") +
                          cudaGetErrorName(query) + ")");
      }
    }
    constexpr int kThreads = 128;
    const auto blocks = static_cast<unsigned int>((batch_ + kThreads - 1) / kThreads);
    scale_rows_kernel<<<blocks, kThreads, 0, stream>>>(input_, scaled_, row_sum_, batch_,
                                                      options_.channels, options_.scale,
                                                      options_.bias, delay_us_->load() * 1000);
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess && capture != cudaStreamCaptureStatusActive) {
      TRTPIPE_CUDA_CHECK(launched, "launching the test model's kernel");
    }
  }

  Shape tensor_shape(const std::string& name) const override {
    if (name == "input" || name == "scaled") return {batch_, options_.channels};
    if (name == "row_sum") return {batch_};
    throw EngineError("tensor_shape: no tensor '" + name + "'");
  }

 private:
  ScaleModelOptions options_;
  std::shared_ptr<ScaleModelCounters> counters_;
  std::shared_ptr<std::atomic<std::int64_t>> delay_us_;
  int profile_ = 0;
  std::int64_t batch_ = -1;
  const float* input_ = nullptr;
  float* scaled_ = nullptr;
  float* row_sum_ = nullptr;
};

}  // namespace

ScaleModel::ScaleModel(ScaleModelOptions options)
    : options_(std::move(options)),
      counters_(std::make_shared<ScaleModelCounters>()),
      delay_us_(std::make_shared<std::atomic<std::int64_t>>(options_.delay_us)) {
  if (options_.channels < 1) {
    throw InputError("channels: expected >= 1, given " + std::to_string(options_.channels));
  }
  if (options_.static_batch <= 0) {
    if (options_.profiles.empty()) {
      throw InputError("profiles: expected at least one (min, opt, max) batch range, given none");
    }
    for (const BatchProfile& p : options_.profiles) {
      if (!(1 <= p.min && p.min <= p.opt && p.opt <= p.max)) {
        throw InputError("profiles: expected 1 <= min <= opt <= max, given (" +
                         std::to_string(p.min) + ", " + std::to_string(p.opt) + ", " +
                         std::to_string(p.max) + ")");
      }
    }
  }
}

std::vector<TensorDesc> ScaleModel::io() const {
  const std::int64_t batch = options_.static_batch > 0 ? options_.static_batch : -1;
  return {
      {"input", true, DType::kFloat32, {batch, options_.channels}},
      {"scaled", false, DType::kFloat32, {batch, options_.channels}},
      {"row_sum", false, DType::kFloat32, {batch}},
  };
}

int ScaleModel::profile_count() const {
  return options_.static_batch > 0 ? 1 : static_cast<int>(options_.profiles.size());
}

ProfileShapes ScaleModel::profile(int index) const {
  if (index < 0 || index >= profile_count()) {
    throw InputError("profile: expected 0.." + std::to_string(profile_count() - 1) + ", given " +
                     std::to_string(index));
  }
  ProfileShapes shapes;
  if (options_.static_batch > 0) return shapes;
  const BatchProfile& p = options_.profiles[static_cast<std::size_t>(index)];
  const std::int64_t c = options_.channels;
  shapes.inputs.push_back({"input", {p.min, c}, {p.opt, c}, {p.max, c}});
  return shapes;
}

std::unique_ptr<EngineContext> ScaleModel::create_context() {
  return std::make_unique<ScaleContext>(options_, counters_, delay_us_);
}

}  // namespace trtpipe::testing
