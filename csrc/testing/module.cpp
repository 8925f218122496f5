// trtpipe._core_testing: test doubles and C++ benchmarks for the test suite and bench/, built only
// with TRTPIPE_TESTING=ON and never part of the shipped _core. Types it shares with _core (the
// engine model, the model step, the pools) are _core's own: import trtpipe._core first.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "testing/bind_testing.hpp"

PYBIND11_MODULE(_core_testing, m) {
  m.doc() = "trtpipe's test doubles and C++ benchmarks (test builds only).";
  pybind11::module_::import("trtpipe._core");  // the shared types are registered there
  trtpipe::testing::bind_memory_testing(m);
#if TRTPIPE_WITH_CUDA
  trtpipe::testing::bind_engine_testing(m);
#endif
}
