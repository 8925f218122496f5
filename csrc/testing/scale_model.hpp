#pragma once
// A test implementation of EngineModel that does real GPU work on the bound buffers, so the
// model step's binding, shape, profile, graph and pipelining logic runs on a GPU exactly as it would
// around TensorRT. Like a TensorRT engine it rejects what TensorRT rejects (unknown tensor,
// shape outside the profile, enqueue with a tensor unbound) and counts every call it receives.
//
//   input   "input"   float32 [B, C]   (B dynamic within the profile, or static)
//   output  "scaled"  float32 [B, C]   = input * scale + bias
//   output  "row_sum" float32 [B]      = sum over C of scaled
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/engine_model.hpp"

namespace trtpipe::testing {

using namespace engine;  // the engine interfaces these test doubles implement

struct BatchProfile {
  std::int64_t min = 1, opt = 1, max = 1;
};

struct ScaleModelOptions {
  std::int64_t channels = 4;
  std::vector<BatchProfile> profiles{{1, 1, 8}};
  std::int64_t static_batch = 0;  // > 0: the batch axis is fixed (profiles ignored)
  float scale = 2.0f;
  float bias = 1.0f;
  std::int64_t delay_us = 0;      // each enqueue's kernel runs at least this long
  bool fail_capture = false;      // enqueue breaks stream capture, as some engines do
};

struct ScaleModelCounters {
  std::atomic<std::uint64_t> contexts{0};
  std::atomic<std::uint64_t> set_profile{0};
  std::atomic<std::uint64_t> set_input_shape{0};
  std::atomic<std::uint64_t> set_tensor_address{0};
  std::atomic<std::uint64_t> enqueues{0};
  std::atomic<std::uint64_t> captured_enqueues{0};  // enqueues made while the stream was capturing
};

class ScaleModel final : public EngineModel {
 public:
  explicit ScaleModel(ScaleModelOptions options);
  std::vector<TensorDesc> io() const override;
  int profile_count() const override;
  ProfileShapes profile(int index) const override;
  std::unique_ptr<EngineContext> create_context() override;

  const ScaleModelOptions& options() const noexcept { return options_; }
  const ScaleModelCounters& counters() const noexcept { return *counters_; }
  // Delay of later enqueues; lets a test hold a frame on the GPU.
  void set_delay_us(std::int64_t delay_us) noexcept { delay_us_->store(delay_us); }

 private:
  ScaleModelOptions options_;
  std::shared_ptr<ScaleModelCounters> counters_;
  std::shared_ptr<std::atomic<std::int64_t>> delay_us_;
};

}  // namespace trtpipe::testing
