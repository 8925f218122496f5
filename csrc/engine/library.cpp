#include "engine/library.hpp"

#include <NvInferVersion.h>
#include <dlfcn.h>

#include <cstdlib>

#include "common/errors.hpp"

namespace trtpipe::engine {

std::string tensorrt_version_text(std::int32_t version) {
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

int TensorRTLibrary::compiled_major() noexcept { return NV_TENSORRT_MAJOR; }

std::int32_t TensorRTLibrary::compiled_version() noexcept {
  return NV_TENSORRT_MAJOR * 10000 + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
}

std::vector<std::string> TensorRTLibrary::default_candidates() {
  const std::string major = std::to_string(NV_TENSORRT_MAJOR);
  return {"libnvinfer.so." + major, "libnvinfer_lean.so." + major};
}

std::string TensorRTLibrary::version_text() const { return tensorrt_version_text(version_); }

TensorRTLibrary::~TensorRTLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

std::shared_ptr<TensorRTLibrary> TensorRTLibrary::load(const std::string& explicit_path) {
  std::vector<std::string> candidates;
  std::string origin;
  if (!explicit_path.empty()) {
    candidates.push_back(explicit_path);
    origin = "the path given";
  } else if (const char* env = std::getenv("TRTPIPE_TENSORRT_LIBRARY"); env && *env) {
    candidates.push_back(env);
    origin = "TRTPIPE_TENSORRT_LIBRARY";
  } else {
    candidates = default_candidates();
    origin = "the library search path (LD_LIBRARY_PATH, ldconfig cache)";
  }

  std::string tried;
  for (const std::string& candidate : candidates) {
    dlerror();
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      tried += "\n  " + candidate + ": not loaded (" + (why ? why : "unknown reason") + ")";
      continue;
    }
    std::shared_ptr<TensorRTLibrary> lib(new TensorRTLibrary());
    lib->handle_ = handle;  // closed by the destructor on every path below
    lib->path_ = candidate;
    auto version = reinterpret_cast<VersionFn>(dlsym(handle, "getInferLibVersion"));
    auto create = reinterpret_cast<CreateRuntimeFn>(dlsym(handle, "createInferRuntime_INTERNAL"));
    if (version == nullptr || create == nullptr) {
      tried += "\n  " + candidate + ": loaded, but it lacks " +
               (version == nullptr ? "getInferLibVersion" : "createInferRuntime_INTERNAL") +
               " (not a TensorRT runtime library)";
      continue;
    }
    lib->version_ = version();
    if (lib->version_ / 10000 != NV_TENSORRT_MAJOR) {
      tried += "\n  " + candidate + ": loaded TensorRT " + lib->version_text() +
               ", but trtpipe was compiled against TensorRT " + std::to_string(NV_TENSORRT_MAJOR) +
               ".x headers (" + tensorrt_version_text(compiled_version()) + ")";
      continue;
    }
    lib->create_runtime_ = create;
    return lib;
  }
  const std::string major = std::to_string(NV_TENSORRT_MAJOR);
  throw BackendUnavailableError(
      "no usable TensorRT " + major + " runtime found; searched " + origin + ":" + tried +
      "\nInstall TensorRT " + major + " (JetPack ships it; on x86 the TensorRT SDK or the " +
      "tensorrt-cu12-libs / tensorrt-cu13-libs wheel, version " + major + ".*, with its lib " +
      "folder on LD_LIBRARY_PATH), or set TRTPIPE_TENSORRT_LIBRARY to the path " +
      "of libnvinfer.so." + major + ".");
}

}  // namespace trtpipe::engine
