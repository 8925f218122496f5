#include "engine/tensorrt_adapter.hpp"

#include <NvInferRuntime.h>

#include <fstream>
#include <iterator>
#include <mutex>
#include <vector>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"
#include "engine/library.hpp"

namespace trtpipe::engine {
namespace {

// Keeps the runtime library's warnings and errors, so a failed call can say why in the
// library's own words. The library calls it through one of the two logger front ends below.
class MessageLog {
 public:
  explicit MessageLog(std::string speaker) : speaker_(std::move(speaker)) {}

  void add(nvinfer1::ILogger::Severity severity, const char* msg) noexcept {
    if (severity > nvinfer1::ILogger::Severity::kWARNING || msg == nullptr) return;
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      if (messages_.size() >= 16) messages_.erase(messages_.begin());
      messages_.emplace_back(
          std::string(severity == nvinfer1::ILogger::Severity::kWARNING ? "warning: " : "error: ") +
          msg);
    } catch (...) {
      // Out of memory while logging: the message is lost, the call's failure is still reported.
    }
  }

  // "; TensorRT said: ..." with the messages since the last call, or a note that there were none.
  std::string drain() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string text;
    for (const std::string& message : messages_) text += (text.empty() ? "" : " | ") + message;
    messages_.clear();
    return text.empty() ? " (" + speaker_ + " logged nothing)" : "; " + speaker_ + " said: " + text;
  }

 private:
  std::string speaker_;
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

// The logger as the TensorRT headers _core was compiled with declare it.
class TensorRTLogger final : public nvinfer1::ILogger {
 public:
  explicit TensorRTLogger(MessageLog& messages) : messages_(messages) {}
  void log(Severity severity, const char* msg) noexcept override { messages_.add(severity, msg); }

 private:
  MessageLog& messages_;
};

// The logger as TensorRT-RTX 1.x declares it: a versioned interface ("ILogger" 1.0) whose log()
// follows the interface's own methods in the vtable, so a TensorRT 10 ILogger handed to
// TensorRT-RTX would have the wrong method called. Same severities, same message text.
class VersionedLogger final : public nvinfer1::IVersionedInterface {
 public:
  explicit VersionedLogger(MessageLog& messages) : messages_(messages) {}
  nvinfer1::InterfaceInfo getInterfaceInfo() const noexcept override { return {"ILogger", 1, 0}; }
  virtual void log(nvinfer1::ILogger::Severity severity, const char* msg) noexcept {
    messages_.add(severity, msg);
  }

 private:
  MessageLog& messages_;
};

// The messages of one runtime and the logger its library calls; outlives the runtime, its
// engine and their contexts.
class RuntimeLogger {
 public:
  explicit RuntimeLogger(const TensorRTLibrary& library)
      : messages_(flavour_title(library.flavour())),
        tensorrt_(messages_),
        versioned_(messages_),
        flavour_(library.flavour()) {}

  // What createInferRuntime_INTERNAL takes as the logger of this library's flavour.
  void* for_library() noexcept {
    if (flavour_ == RuntimeFlavour::kTensorRTRTX) return static_cast<void*>(&versioned_);
    return static_cast<void*>(static_cast<nvinfer1::ILogger*>(&tensorrt_));
  }
  std::string drain() { return messages_.drain(); }

 private:
  MessageLog messages_;
  TensorRTLogger tensorrt_;
  VersionedLogger versioned_;
  RuntimeFlavour flavour_;
};

DType to_dtype(nvinfer1::DataType type) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT: return DType::kFloat32;
    case nvinfer1::DataType::kHALF: return DType::kFloat16;
    case nvinfer1::DataType::kBF16: return DType::kBFloat16;
    case nvinfer1::DataType::kINT8: return DType::kInt8;
    case nvinfer1::DataType::kUINT8: return DType::kUInt8;
    case nvinfer1::DataType::kINT32: return DType::kInt32;
    case nvinfer1::DataType::kINT64: return DType::kInt64;
    case nvinfer1::DataType::kBOOL: return DType::kBool;
    default: return DType::kOther;  // kFP8, kINT4, kFP4, kE8M0
  }
}

Shape to_shape(const nvinfer1::Dims& dims) {
  if (dims.nbDims < 0) return {};
  return Shape(dims.d, dims.d + dims.nbDims);
}

nvinfer1::Dims to_dims(const std::string& name, const Shape& shape) {
  nvinfer1::Dims dims{};
  if (shape.size() > static_cast<std::size_t>(nvinfer1::Dims::MAX_DIMS)) {
    throw InputError("input '" + name + "': expected at most " +
                     std::to_string(nvinfer1::Dims::MAX_DIMS) + " dimensions, given " +
                     std::to_string(shape.size()));
  }
  dims.nbDims = static_cast<std::int32_t>(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i];
  return dims;
}

class TensorRTModel;

class TensorRTContext final : public EngineContext {
 public:
  TensorRTContext(std::shared_ptr<const TensorRTModel> model,
                  std::unique_ptr<nvinfer1::IExecutionContext> context,
                  std::shared_ptr<RuntimeLogger> logger)
      : model_(std::move(model)), context_(std::move(context)), logger_(std::move(logger)) {}

  void set_profile(int index, cudaStream_t stream) override {
    if (!context_->setOptimizationProfileAsync(index, stream)) {
      throw EngineError("setOptimizationProfileAsync(" + std::to_string(index) + ") failed" +
                        logger_->drain());
    }
  }
  void set_input_shape(const std::string& name, const Shape& shape) override {
    if (!context_->setInputShape(name.c_str(), to_dims(name, shape))) {
      throw EngineError("setInputShape('" + name + "', " + shape_text(shape) + ") failed" +
                        logger_->drain());
    }
  }
  void set_tensor_address(const std::string& name, void* address) override {
    if (!context_->setTensorAddress(name.c_str(), address)) {
      throw EngineError("setTensorAddress('" + name + "') failed" + logger_->drain());
    }
  }
  void enqueue(cudaStream_t stream) override {
    if (!context_->enqueueV3(stream)) throw EngineError("enqueueV3 failed" + logger_->drain());
  }
  Shape tensor_shape(const std::string& name) const override {
    const nvinfer1::Dims dims = context_->getTensorShape(name.c_str());
    if (dims.nbDims < 0) {
      throw EngineError("getTensorShape('" + name + "') failed" + logger_->drain());
    }
    return to_shape(dims);
  }

 private:
  std::shared_ptr<const TensorRTModel> model_;  // the engine outlives its contexts
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  std::shared_ptr<RuntimeLogger> logger_;
};

class TensorRTModel final : public EngineModel,
                            public std::enable_shared_from_this<TensorRTModel> {
 public:
  TensorRTModel(const void* data, std::size_t size, const std::string& origin,
                std::shared_ptr<TensorRTLibrary> library, int device)
      : library_(std::move(library)), logger_(std::make_shared<RuntimeLogger>(*library_)) {
    // What createInferRuntime() does inline in NvInferRuntime.h, through the dlopen'ed symbol.
    // TensorRT-RTX is told its own version: trtpipe asks of it only what that version has.
    const bool rtx = library_->flavour() == RuntimeFlavour::kTensorRTRTX;
    runtime_.reset(static_cast<nvinfer1::IRuntime*>(library_->create_runtime()(
        logger_->for_library(), rtx ? library_->version() : NV_TENSORRT_VERSION)));
    if (!runtime_) {
      throw EngineError("createInferRuntime failed for " + library_->path() + " (" +
                        library_->title() + ")" + logger_->drain());
    }
    const std::string selecting =
        "selecting GPU " + std::to_string(device) + " to deserialise the engine " + origin;
    const cudaError_t selected = cudaSetDevice(device);
    if (selected != cudaSuccess && !is_no_gpu_error(selected)) {
      throw_cuda_error(selected, "cudaSetDevice(device)", selecting, __FILE__, __LINE__);
    }
    // With no usable GPU at all the library is asked all the same (the engine cannot land on a
    // wrong GPU where there is none): its refusal says in its own words what it needed.
    engine_.reset(runtime_->deserializeCudaEngine(data, size));
    if (!engine_) {
      std::string text = "deserializing the engine " + origin + " (" + std::to_string(size) +
                         " bytes) with " + library_->title() + " (" + library_->path() +
                         ") failed" + logger_->drain();
      if (selected != cudaSuccess) {
        text += "; there is no usable GPU here (" + std::string(cudaGetErrorName(selected)) +
                ": " + cudaGetErrorString(selected) + ")";
      }
      throw EngineError(text);
    }
    if (selected != cudaSuccess) {
      throw_cuda_error(selected, "cudaSetDevice(device)", selecting, __FILE__, __LINE__);
    }
    if (rtx) {
      // Deserialising (and destroying the engine) is all trtpipe asks of TensorRT-RTX: its
      // engine and execution-context interfaces lack methods TensorRT 10 has, so their later
      // methods sit elsewhere in the vtable than TensorRT 10's headers, which this adapter was
      // compiled with, expect them.
      engine_.reset();
      throw BackendUnavailableError(
          library_->title() + " (" + library_->path() + ") deserialised the engine " + origin +
          ", but trtpipe cannot run it: its engine module was compiled against TensorRT " +
          tensorrt_version_text(TensorRTLibrary::compiled_version()) +
          " headers, and TensorRT-RTX's engine interface is laid out differently (methods " +
          "TensorRT 10 has are gone from it). Run the ONNX model with backend='torch' or " +
          "'onnxruntime', or build a full TensorRT engine for this GPU.");
    }
    const std::int32_t count = engine_->getNbIOTensors();
    for (std::int32_t i = 0; i < count; ++i) {
      const char* name = engine_->getIOTensorName(i);
      TensorDesc desc;
      desc.name = name;
      desc.is_input = engine_->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
      desc.dtype = to_dtype(engine_->getTensorDataType(name));
      desc.shape = to_shape(engine_->getTensorShape(name));
      if (engine_->isShapeInferenceIO(name) ||
          engine_->getTensorLocation(name) != nvinfer1::TensorLocation::kDEVICE) {
        throw EngineError("tensor '" + desc.name + "' of the engine " + origin +
                          " lives in host memory (a shape tensor): not supported by trtpipe");
      }
      io_.push_back(std::move(desc));
    }
  }

  std::vector<TensorDesc> io() const override { return io_; }
  int profile_count() const override { return engine_->getNbOptimizationProfiles(); }

  ProfileShapes profile(int index) const override {
    if (index < 0 || index >= profile_count()) {
      throw InputError("profile: expected 0.." + std::to_string(profile_count() - 1) +
                       ", given " + std::to_string(index));
    }
    ProfileShapes shapes;
    for (const TensorDesc& desc : io_) {
      if (!desc.is_input || element_count(desc.shape) >= 0) continue;
      const char* name = desc.name.c_str();
      using nvinfer1::OptProfileSelector;
      shapes.inputs.push_back(
          {desc.name, to_shape(engine_->getProfileShape(name, index, OptProfileSelector::kMIN)),
           to_shape(engine_->getProfileShape(name, index, OptProfileSelector::kOPT)),
           to_shape(engine_->getProfileShape(name, index, OptProfileSelector::kMAX))});
    }
    return shapes;
  }

  std::unique_ptr<EngineContext> create_context() override {
    std::unique_ptr<nvinfer1::IExecutionContext> context(engine_->createExecutionContext());
    if (!context) throw EngineError("createExecutionContext failed" + logger_->drain());
    return std::make_unique<TensorRTContext>(shared_from_this(), std::move(context), logger_);
  }

 private:
  // Declaration order is destruction order reversed: engine, runtime, logger, then the library.
  std::shared_ptr<TensorRTLibrary> library_;
  std::shared_ptr<RuntimeLogger> logger_;
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::vector<TensorDesc> io_;
};

}  // namespace

std::shared_ptr<EngineModel> load_tensorrt_engine(const void* data, std::size_t size,
                                                  const std::string& origin,
                                                  const std::string& library_path, int device,
                                                  RuntimeFlavour flavour) {
  if (data == nullptr || size == 0) {
    throw InputError("engine " + origin + ": expected a serialised TensorRT engine, given 0 bytes");
  }
  return std::make_shared<TensorRTModel>(data, size, origin,
                                         TensorRTLibrary::load(library_path, flavour), device);
}

std::shared_ptr<EngineModel> load_tensorrt_engine_file(const std::string& path,
                                                       const std::string& library_path,
                                                       int device, RuntimeFlavour flavour) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw EngineError("engine file '" + path + "': cannot be opened (missing or unreadable)");
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    throw EngineError("engine file '" + path + "': expected a serialised TensorRT engine, " +
                      "given an empty file");
  }
  return load_tensorrt_engine(bytes.data(), bytes.size(), "'" + path + "'", library_path, device,
                              flavour);
}

}  // namespace trtpipe::engine
