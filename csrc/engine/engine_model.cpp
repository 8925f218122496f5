#include "engine/engine_model.hpp"

#include <sstream>

namespace trtpipe::engine {

const char* dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kOther: break;
  }
  return "other";
}

std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool: return 1;
    case DType::kInt64: return 8;
    case DType::kOther: break;
  }
  return 0;
}

std::string shape_text(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::int64_t element_count(const Shape& shape) noexcept {
  std::int64_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0) return -1;
    count *= d;
  }
  return count;
}

DType dtype_from_name(const std::string& name) noexcept {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt8,
                      DType::kUInt8, DType::kInt32, DType::kInt64, DType::kBool}) {
    if (name == dtype_name(dtype)) return dtype;
  }
  return DType::kOther;
}

bool shape_fits(const TensorDesc& desc, const ProfileShapes::Range* range, const Shape& given) {
  bool fits = given.size() == desc.shape.size();
  for (std::size_t i = 0; fits && i < given.size(); ++i) {
    if (desc.shape[i] >= 0) {
      fits = given[i] == desc.shape[i];
    } else {
      fits = range != nullptr && given[i] >= range->min[i] && given[i] <= range->max[i];
    }
  }
  return fits;
}

}  // namespace trtpipe::engine
