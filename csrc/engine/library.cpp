#include "engine/library.hpp"

#include <NvInferVersion.h>
#include <dlfcn.h>

#include <cstdlib>

#include "common/errors.hpp"

namespace trtpipe::engine {
namespace {

// The TensorRT-RTX major whose runtime entry points and logger trtpipe knows (TensorRT-RTX
// numbers its releases 1.x; getInferLibVersion() says major*10000 + minor*100 + patch).
constexpr int kTensorRTRTXMajor = 1;

}  // namespace

std::string flavour_name(RuntimeFlavour flavour) {
  return flavour == RuntimeFlavour::kTensorRTRTX ? "tensorrt-rtx" : "tensorrt";
}

std::string flavour_title(RuntimeFlavour flavour) {
  return flavour == RuntimeFlavour::kTensorRTRTX ? "TensorRT-RTX" : "TensorRT";
}

RuntimeFlavour parse_flavour(const std::string& name) {
  if (name == "tensorrt") return RuntimeFlavour::kTensorRT;
  if (name == "tensorrt-rtx") return RuntimeFlavour::kTensorRTRTX;
  throw InputError(unknown_choice_message("flavour", {"tensorrt", "tensorrt-rtx"}, name));
}

std::string tensorrt_version_text(std::int32_t version) {
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

int TensorRTLibrary::compiled_major() noexcept { return NV_TENSORRT_MAJOR; }

std::int32_t TensorRTLibrary::compiled_version() noexcept {
  return NV_TENSORRT_MAJOR * 10000 + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
}

int TensorRTLibrary::expected_major(RuntimeFlavour flavour) noexcept {
  return flavour == RuntimeFlavour::kTensorRTRTX ? kTensorRTRTXMajor : NV_TENSORRT_MAJOR;
}

const char* TensorRTLibrary::environment_variable(RuntimeFlavour flavour) noexcept {
  return flavour == RuntimeFlavour::kTensorRTRTX ? "TRTPIPE_TENSORRT_RTX_LIBRARY"
                                                 : "TRTPIPE_TENSORRT_LIBRARY";
}

std::vector<std::string> TensorRTLibrary::default_candidates(RuntimeFlavour flavour) {
  const std::string major = std::to_string(expected_major(flavour));
  if (flavour == RuntimeFlavour::kTensorRTRTX) return {"libtensorrt_rtx.so." + major};
  return {"libnvinfer.so." + major, "libnvinfer_lean.so." + major};
}

std::string TensorRTLibrary::version_text() const { return tensorrt_version_text(version_); }

std::string TensorRTLibrary::title() const {
  return flavour_title(flavour_) + " " + version_text();
}

TensorRTLibrary::~TensorRTLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

namespace {

std::string install_hint(RuntimeFlavour flavour) {
  const std::string major = std::to_string(TensorRTLibrary::expected_major(flavour));
  if (flavour == RuntimeFlavour::kTensorRTRTX) {
    return "Install TensorRT-RTX " + major + ".x (`pip install trtpipe[tensorrt]` brings the " +
           "tensorrt-rtx-cu13-libs wheel, whose library trtpipe finds), or set " +
           "TRTPIPE_TENSORRT_RTX_LIBRARY to the path of libtensorrt_rtx.so." + major + ".";
  }
  return "Install TensorRT " + major + " (JetPack ships it; on x86 the TensorRT SDK or the " +
         "tensorrt-cu12-libs / tensorrt-cu13-libs wheel, version " + major + ".*, with its lib " +
         "folder on LD_LIBRARY_PATH), or set TRTPIPE_TENSORRT_LIBRARY to the path " +
         "of libnvinfer.so." + major + ".";
}

std::string version_mismatch(RuntimeFlavour flavour, const std::string& found) {
  if (flavour == RuntimeFlavour::kTensorRTRTX) {
    return "loaded " + found + ", but trtpipe drives TensorRT-RTX " +
           std::to_string(kTensorRTRTXMajor) + ".x";
  }
  return "loaded " + found + ", but trtpipe was compiled against TensorRT " +
         std::to_string(NV_TENSORRT_MAJOR) + ".x headers (" +
         tensorrt_version_text(TensorRTLibrary::compiled_version()) + ")";
}

}  // namespace

std::shared_ptr<TensorRTLibrary> TensorRTLibrary::load(const std::string& explicit_path,
                                                       RuntimeFlavour flavour) {
  std::vector<std::string> candidates;
  std::string origin;
  const char* variable = environment_variable(flavour);
  if (!explicit_path.empty()) {
    candidates.push_back(explicit_path);
    origin = "the path given";
  } else if (const char* env = std::getenv(variable); env && *env) {
    candidates.push_back(env);
    origin = variable;
  } else {
    candidates = default_candidates(flavour);
    origin = "the library search path (LD_LIBRARY_PATH, ldconfig cache)";
  }

  const std::string title = flavour_title(flavour);
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
    lib->flavour_ = flavour;
    lib->path_ = candidate;
    auto version = reinterpret_cast<VersionFn>(dlsym(handle, "getInferLibVersion"));
    auto create = reinterpret_cast<CreateRuntimeFn>(dlsym(handle, "createInferRuntime_INTERNAL"));
    if (version == nullptr || create == nullptr) {
      tried += "\n  " + candidate + ": loaded, but it lacks " +
               (version == nullptr ? "getInferLibVersion" : "createInferRuntime_INTERNAL") +
               " (not a " + title + " runtime library)";
      continue;
    }
    lib->version_ = version();
    if (lib->version_ / 10000 != expected_major(flavour)) {
      tried += "\n  " + candidate + ": " + version_mismatch(flavour, lib->title());
      continue;
    }
    lib->create_runtime_ = create;
    return lib;
  }
  const std::string major = std::to_string(expected_major(flavour));
  throw BackendUnavailableError("no usable " + title + " " + major + " runtime found; searched " +
                                origin + ":" + tried + "\n" + install_hint(flavour));
}

}  // namespace trtpipe::engine
