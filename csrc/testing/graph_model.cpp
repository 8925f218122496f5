#include "testing/graph_model.hpp"

#include <string>
#include <utility>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"

namespace trtpipe::testing {
namespace {

class GraphContext final : public EngineContext {
 public:
  GraphContext(cudaGraphExec_t exec, cudaGraph_t graph, const std::vector<GraphTensor>& tensors,
               std::shared_ptr<GraphModelCounters> counters)
      : exec_(exec), graph_(graph), tensors_(tensors), bound_(tensors.size()), counters_(std::move(counters)) {
    ++counters_->contexts;
  }

  void set_profile(int index, cudaStream_t /*stream*/) override {
    if (index != 0) throw EngineError("set_profile: the graph model has profile 0 only");
  }

  void set_input_shape(const std::string& name, const Shape& shape) override {
    const GraphTensor& tensor = find(name);
    if (shape != tensor.desc.shape) {
      throw EngineError("set_input_shape: '" + name + "' is static " +
                        shape_text(tensor.desc.shape) + ", given " + shape_text(shape));
    }
  }

  void set_tensor_address(const std::string& name, void* address) override {
    bound_[static_cast<std::size_t>(&find(name) - tensors_.data())] = address;
  }

  Shape tensor_shape(const std::string& name) const override { return find(name).desc.shape; }

  void enqueue(cudaStream_t stream) override {
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      if (bound_[i] == nullptr) {
        throw EngineError("enqueue: tensor '" + tensors_[i].desc.name + "' has no address");
      }
    }
    for (int pass = 0; pass < 2; ++pass) {  // inputs in, graph, outputs out
      // as TensorRT's enqueueV3, it can be captured into the frame pipeline's graph
      if (pass == 1) pipeline::enqueue_graph(exec_, graph_, stream);
      for (std::size_t i = 0; i < tensors_.size(); ++i) {
        const GraphTensor& tensor = tensors_[i];
        if (tensor.desc.is_input != (pass == 0) || bound_[i] == tensor.device) continue;
        const std::size_t bytes = static_cast<std::size_t>(element_count(tensor.desc.shape)) *
                                  dtype_size(tensor.desc.dtype);
        void* to = tensor.desc.is_input ? tensor.device : bound_[i];
        const void* from = tensor.desc.is_input ? bound_[i] : tensor.device;
        TRTPIPE_CUDA_CHECK(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream),
                           "copying '" + tensor.desc.name + "' of the graph model");
      }
    }
    ++counters_->enqueues;
  }

 private:
  const GraphTensor& find(const std::string& name) const {
    for (const GraphTensor& tensor : tensors_) {
      if (tensor.desc.name == name) return tensor;
    }
    throw EngineError("no tensor named '" + name + "' in the graph model");
  }

  cudaGraphExec_t exec_;
  cudaGraph_t graph_;
  std::vector<GraphTensor> tensors_;
  std::vector<void*> bound_;
  std::shared_ptr<GraphModelCounters> counters_;
};

}  // namespace

GraphModel::GraphModel(cudaGraphExec_t exec, cudaGraph_t graph, std::vector<GraphTensor> tensors)
    : exec_(exec), graph_(graph), tensors_(std::move(tensors)),
      counters_(std::make_shared<GraphModelCounters>()) {
  if (exec_ == nullptr) throw InputError("graph: expected an instantiated cudaGraphExec_t, given 0");
  for (const GraphTensor& tensor : tensors_) {
    if (tensor.device == nullptr || element_count(tensor.desc.shape) < 0 ||
        dtype_size(tensor.desc.dtype) == 0) {
      throw InputError("tensor '" + tensor.desc.name + "': expected a device address, a static " +
                       "shape and a sized dtype, given " + shape_text(tensor.desc.shape) + " " +
                       dtype_name(tensor.desc.dtype));
    }
  }
}

namespace {

std::vector<GraphTensor> tensors_of(const pipeline::GraphStep& step) {
  std::vector<GraphTensor> tensors;
  for (const auto* list : {&step.inputs(), &step.outputs()}) {
    for (const pipeline::StepTensor& t : *list) {
      tensors.push_back({TensorDesc{t.name, list == &step.inputs(), t.dtype, t.shape}, t.device});
    }
  }
  return tensors;
}

}  // namespace

GraphModel::GraphModel(std::shared_ptr<const pipeline::GraphStep> step)
    : GraphModel(step ? step->exec() : nullptr, step ? step->graph() : nullptr,
                 step ? tensors_of(*step) : std::vector<GraphTensor>{}) {
  step_ = std::move(step);
}

std::vector<TensorDesc> GraphModel::io() const {
  std::vector<TensorDesc> io;
  for (const GraphTensor& tensor : tensors_) io.push_back(tensor.desc);
  return io;
}

ProfileShapes GraphModel::profile(int /*index*/) const {
  throw EngineError("the graph model has no optimisation profiles (static shapes)");
}

std::unique_ptr<EngineContext> GraphModel::create_context() {
  return std::make_unique<GraphContext>(exec_, graph_, tensors_, counters_);
}

}  // namespace trtpipe::testing
