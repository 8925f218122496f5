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

void ModelStep::set_input_shapes(const std::vector<engine::Shape>& shapes) {
  const std::vector<StepTensor>& given = inputs();
  for (std::size_t i = 0; i < given.size() && i < shapes.size(); ++i) {
    if (shapes[i] != given[i].shape) {
      throw InputError("input '" + given[i].name + "': expected shape " +
                       engine::shape_text(given[i].shape) + " (the model step's shapes are " +
                       "static), given " + engine::shape_text(shapes[i]));
    }
  }
}

}  // namespace trtpipe::pipeline
