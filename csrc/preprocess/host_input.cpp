#include "common/errors.hpp"
#include "preprocess/gpu_preprocessor.hpp"

namespace trtpipe::preprocess {

HostInput parse_host_input(const std::string& name) {
  if (name == "auto") return HostInput::kAuto;
  if (name == "mapped") return HostInput::kMapped;
  if (name == "copy") return HostInput::kCopy;
  throw InputError("host_input: expected one of auto, mapped, copy, given '" + name + "'");
}

const char* host_input_name(HostInput mode) noexcept {
  switch (mode) {
    case HostInput::kMapped:
      return "mapped";
    case HostInput::kCopy:
      return "copy";
    case HostInput::kAuto:
      break;
  }
  return "auto";
}

}  // namespace trtpipe::preprocess
