#pragma once
// What this _core was built with: fixed at compile time, reported by trtpipe.info().
#include <string>
#include <vector>

namespace trtpipe {

struct BuildInfo {
  std::string version;
  std::string build_type;
  std::string cxx_compiler;
  bool with_cuda = false;
  std::string cuda_version;                 // empty without CUDA
  std::vector<std::string> cuda_architectures;  // CMake form, e.g. "90-real", "120"
  std::string tensorrt_headers_version;     // empty when compiled without TensorRT headers
  std::string tensorrt_include_dir;
  bool engine_module = false;  // the TensorRT adapter is compiled in (needs CUDA and the headers)
};

const BuildInfo& build_info();

}  // namespace trtpipe
