#pragma once
// The internal interface between the frame pipeline's model step over an execution context
// (engine/context_step.hpp) and whatever executes the network. The TensorRT adapter is one
// implementation; the test models in testing/ are others, so every part of the TensorRT route
// runs on a GPU even where no TensorRT engine can.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trtpipe::engine {

enum class DType { kFloat32, kFloat16, kBFloat16, kInt8, kUInt8, kInt32, kInt64, kBool, kOther };

// NumPy's name for the type ("float32", ...); "bfloat16" and "other" have no NumPy equivalent.
const char* dtype_name(DType dtype) noexcept;
// The type NumPy calls `name` ("float32", ...); kOther for a name without a type here.
DType dtype_from_name(const std::string& name) noexcept;
// Bytes per element; 0 for kOther (sub-byte or exotic types trtpipe does not handle).
std::size_t dtype_size(DType dtype) noexcept;

using Shape = std::vector<std::int64_t>;  // -1 marks a dynamic axis

std::string shape_text(const Shape& shape);
// Number of elements; -1 when any axis is dynamic.
std::int64_t element_count(const Shape& shape) noexcept;

struct TensorDesc {
  std::string name;
  bool is_input = false;
  DType dtype = DType::kFloat32;
  Shape shape;  // as built; -1 for dynamic axes
};

// Per input that has dynamic axes: the shapes an optimisation profile accepts.
struct ProfileShapes {
  struct Range {
    std::string name;
    Shape min, opt, max;
  };
  std::vector<Range> inputs;

  // The range of input `name`, or null when the profile gives none (a static input).
  const Range* find(const std::string& name) const noexcept {
    for (const Range& range : inputs) {
      if (range.name == name) return &range;
    }
    return nullptr;
  }
};

// Whether `given` is a shape the engine accepts for input `desc`: its static axes equal, its
// dynamic axes within `range` (null: the input has none).
bool shape_fits(const TensorDesc& desc, const ProfileShapes::Range* range, const Shape& given);

// One execution context: its own bindings and scratch memory. Not thread-safe.
class EngineContext {
 public:
  virtual ~EngineContext() = default;
  // Each throws EngineError naming the tensor/profile and what the engine rejected.
  virtual void set_profile(int index, cudaStream_t stream) = 0;
  virtual void set_input_shape(const std::string& name, const Shape& shape) = 0;
  virtual void set_tensor_address(const std::string& name, void* address) = 0;
  virtual void enqueue(cudaStream_t stream) = 0;
  // After every input shape is set: the shape the engine infers (outputs) or was given (inputs).
  virtual Shape tensor_shape(const std::string& name) const = 0;
};

class EngineModel {
 public:
  virtual ~EngineModel() = default;
  virtual std::vector<TensorDesc> io() const = 0;
  virtual int profile_count() const = 0;
  virtual ProfileShapes profile(int index) const = 0;
  virtual std::unique_ptr<EngineContext> create_context() = 0;
};

}  // namespace trtpipe::engine
