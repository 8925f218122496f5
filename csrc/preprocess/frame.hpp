#pragma once
// Plain descriptions of a run's input frame and output tensor, and their validation. No CUDA:
// the CPU reference and the GPU path check their arguments with the same code.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "preprocess/encoding.hpp"
#include "preprocess/image_buffer.hpp"
#include "preprocess/letterbox.hpp"
#include "preprocess/options.hpp"
#include "preprocess/pixel.hpp"

namespace trtpipe::preprocess {

struct Frame : ImageBuffer {
  Encoding encoding = Encoding::kBgr8;
};

struct Tensor {
  void* data = nullptr;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;  // bytes; empty: C-contiguous
  std::string dtype;                  // NumPy dtype name, e.g. "float32"
  int batch_index = 0;
};

// Bytes a frame must provide: every row up to the last pixel of the last row (both planes).
std::size_t required_bytes(const Frame& frame);

// Why a frame cannot be read: a short reason for drop counters ("zero_size", "too_large",
// "odd_size", "bad_step", "no_data", "short_data") and a message naming the field, what was
// expected and what was given; a null reason when the frame is fine.
struct FrameProblem {
  const char* reason = nullptr;
  std::string message;
  explicit operator bool() const noexcept { return reason != nullptr; }
};

// The rule every image's size follows: each side in 1..32768 ("zero_size", "too_large").
FrameProblem size_problem(int width, int height);

// How an image's rows lie in its buffer, for the one row rule below.
struct RowLayout {
  const void* data = nullptr;
  std::size_t size = 0;  // bytes readable from data
  int width = 0;
  int height = 0;
  int rows = 0;  // rows in the buffer (more than height where a second plane follows)
  int bytes_per_pixel = 1;
  std::string encoding;  // for messages
};

// The one row rule (step at least a row, at most 1 MiB; a buffer; every row up to the last
// pixel of the last row present): "bad_step", "no_data", "short_data". Fills in a step of 0.
FrameProblem rows_problem(const RowLayout& layout, std::int64_t& step);

// The one frame rule of trtpipe (sizes, step, 4:2:2 and 4:2:0 parity, buffer size), for every
// frame source: arrays, camera bytes, ROS messages. Fills in a step of 0 (tightly packed).
FrameProblem frame_problem(Frame& frame);

// frame_problem as an InputError; returns the frame with its step filled in.
Frame checked_frame(Frame frame);

// Validates the output tensor against the options (rank, shape, dtype, contiguity, batch slot).
void check_tensor(const Tensor& tensor, const Options& options);

// Bytes of one batch slot of the output.
std::size_t slot_bytes(const Options& options);

PixelParams pixel_params(const Options& options, const Frame& frame, const Letterbox& lb);

}  // namespace trtpipe::preprocess
