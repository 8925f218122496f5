#pragma once
// One registration function per area; module.cpp calls them in order.
#include <pybind11/pybind11.h>

namespace trtpipe::bindings {

void bind_errors(pybind11::module_& m);
void bind_info(pybind11::module_& m);
void bind_memory(pybind11::module_& m);
void bind_preprocess(pybind11::module_& m);
void bind_decode(pybind11::module_& m);
void bind_depth(pybind11::module_& m);
// Only in CUDA builds: ModelStep, GraphStep and FramePipeline, trtpipe._core.engine (with
// ContextStep) and trtpipe._core._testing, TimingEvent.
void bind_engine(pybind11::module_& m);
void bind_events(pybind11::module_& m);
void bind_pipeline(pybind11::module_& m);

}  // namespace trtpipe::bindings
