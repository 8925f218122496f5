// The self test in a CPU-only build: there is no kernel to run, so it says why.
#include <string>

#include "common/errors.hpp"
#include "common/self_test.hpp"

namespace trtpipe {

std::vector<float> gpu_self_test(std::int64_t count, int /*device*/) {
  if (count <= 0) {
    throw InputError("count: expected a positive number of elements, given " +
                     std::to_string(count));
  }
  throw NoGpuError("trtpipe._core was built without CUDA; rebuild with a CUDA compiler on PATH",
                   "gpu_self_test", 0);
}

}  // namespace trtpipe
