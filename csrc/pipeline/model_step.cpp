#include "pipeline/model_step.hpp"

#include "common/errors.hpp"

namespace trtpipe::pipeline {

std::size_t step_tensor_bytes(const std::string& what, const engine::Shape& shape,
                              engine::DType dtype) {
  const std::int64_t count = engine::element_count(shape);
  if (count < 0) {
    throw InputError(what + ": expected a static shape, given " + engine::shape_text(shape));
  }
  const std::size_t size = engine::dtype_size(dtype);
  if (size == 0) {
    throw InputError(what + ": expected a dtype the pipeline can size, given " +
                     engine::dtype_name(dtype));
  }
  return static_cast<std::size_t>(count) * size;
}

}  // namespace trtpipe::pipeline
