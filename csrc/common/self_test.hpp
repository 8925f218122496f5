#pragma once
// A GPU smoke test: allocate, run a kernel compiled into _core, copy back. It proves that the
// driver works and that _core carries machine code (or PTX) the visible GPU can execute.
#include <cstdint>
#include <vector>

namespace trtpipe {

// Returns out[i] = 2 * i + 1 (as float) computed on `device` by a kernel. Throws InputError for
// count <= 0, NoGpuError when no GPU is usable, CudaError for any other CUDA failure.
std::vector<float> gpu_self_test(std::int64_t count, int device);

}  // namespace trtpipe
