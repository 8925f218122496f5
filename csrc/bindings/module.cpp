#include "bindings/bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "trtpipe's compiled core: CUDA preprocessing, memory pools and the TensorRT loop.";
  trtpipe::bindings::bind_errors(m);
  trtpipe::bindings::bind_info(m);
  trtpipe::bindings::bind_memory(m);
  trtpipe::bindings::bind_preprocess(m);
  trtpipe::bindings::bind_decode(m);
  trtpipe::bindings::bind_depth(m);
#if TRTPIPE_WITH_CUDA
  // the pipeline first: the engine's model step derives from its ModelStep
  trtpipe::bindings::bind_pipeline(m);
  trtpipe::bindings::bind_engine(m);
  trtpipe::bindings::bind_events(m);
#endif
}
