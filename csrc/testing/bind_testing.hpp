#pragma once
// One registration function per area of trtpipe._core_testing; module.cpp calls them.
#include <pybind11/pybind11.h>

namespace trtpipe::testing {

void bind_memory_testing(pybind11::module_& m);
// Only in CUDA builds: the test engine models.
void bind_engine_testing(pybind11::module_& m);

}  // namespace trtpipe::testing
