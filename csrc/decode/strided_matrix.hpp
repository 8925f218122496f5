#pragma once
// A rows × cols matrix read in place through element strides (either may be 1), so a head's
// scores, its box rows and a list of boxes are read in whatever layout the model or the caller
// gives: element (r, c) is data[r * row_stride + c * col_stride]. No CUDA here.
#include <cstdint>

namespace trtpipe::decode {

template <typename T>
struct StridedMatrix {
  const T* data = nullptr;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t row_stride = 0;
  std::int64_t col_stride = 0;
};

}  // namespace trtpipe::decode
