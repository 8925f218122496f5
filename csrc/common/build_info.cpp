#include "common/build_info.hpp"

#include <sstream>

namespace trtpipe {
namespace {

#if TRTPIPE_WITH_CUDA
std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, sep)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}
#endif

BuildInfo make_build_info() {
  BuildInfo info;
  info.version = TRTPIPE_VERSION;
  info.build_type = TRTPIPE_BUILD_TYPE;
  info.cxx_compiler = TRTPIPE_CXX_COMPILER;
#if TRTPIPE_WITH_CUDA
  info.with_cuda = true;
  info.cuda_version = TRTPIPE_CUDA_VERSION;
  info.cuda_architectures = split(TRTPIPE_CUDA_ARCHITECTURES, ',');
#endif
#ifdef TRTPIPE_TENSORRT_HEADERS_VERSION
  info.tensorrt_headers_version = TRTPIPE_TENSORRT_HEADERS_VERSION;
  info.tensorrt_include_dir = TRTPIPE_TENSORRT_INCLUDE_DIR;
#endif
#if TRTPIPE_WITH_TENSORRT
  info.engine_module = true;
#endif
  return info;
}

}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo info = make_build_info();
  return info;
}

}  // namespace trtpipe
