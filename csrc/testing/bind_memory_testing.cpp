// trtpipe._core_testing: the pools' self-check under threads and the allocate+release pairs timed
// in C++ against the system allocators (bench/pool.py).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/checked_args.hpp"
#include "memory/host_pool.hpp"
#include "testing/bind_testing.hpp"
#include "testing/host_bench.hpp"
#include "testing/pool_stress.hpp"
#if TRTPIPE_WITH_CUDA
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#include "testing/memory_bench.hpp"
#endif

namespace py = pybind11;

namespace trtpipe::testing {
namespace {

using bindings::checked_int;
using bindings::checked_ints;
using bindings::checked_size;
using bindings::kMaxBytes;

// The policy of any of _core's pools.
memory::BlockPolicy& policy_of(py::handle pool) {
  if (py::isinstance<memory::HostPool>(pool)) return pool.cast<memory::HostPool&>().policy();
#if TRTPIPE_WITH_CUDA
  if (py::isinstance<memory::DevicePool>(pool)) return pool.cast<memory::DevicePool&>().policy();
  if (py::isinstance<memory::PinnedPool>(pool)) return pool.cast<memory::PinnedPool&>().policy();
#endif
  throw InputError("pool: expected a trtpipe HostPool, DevicePool or PinnedPool, given " +
                   std::string(py::str(py::type::of(pool))));
}

// [(impl, bytes, ns samples)] from a C++ benchmark.
py::list bench_list(const std::vector<BenchSeries>& series) {
  py::list out;
  for (const auto& s : series) {
    out.append(py::make_tuple(
        s.impl, s.bytes, py::array_t<double>(static_cast<py::ssize_t>(s.ns.size()), s.ns.data())));
  }
  return out;
}

}  // namespace

void bind_memory_testing(py::module_& m) {
  m.def(
      "stress_pool",
      [](py::handle pool, py::handle threads, py::handle iterations, py::handle max_request,
         py::handle seed, bool write_patterns) {
        memory::BlockPolicy& policy = policy_of(pool);
        const int thread_count = checked_int<int>(threads, "threads");
        const int iteration_count = checked_int<int>(iterations, "iterations");
        const std::size_t max_bytes = checked_size(max_request, "max_request");
        const auto seed_value = checked_int<std::uint64_t>(seed, "seed");
        StressReport r;
        {
          py::gil_scoped_release unlocked;
          r = stress_pool(policy, thread_count, iteration_count, max_bytes, seed_value,
                          write_patterns);
        }
        return py::dict(py::arg("allocations") = r.allocations, py::arg("exhausted") = r.exhausted,
                        py::arg("overlaps") = r.overlaps, py::arg("corrupted") = r.corrupted);
      },
      py::arg("pool"), py::arg("threads"), py::arg("iterations"), py::arg("max_request"),
      py::arg("seed") = 0, py::arg("write_patterns") = false,
      "Self-check of a pool's locking: `threads` native threads allocate and release at once;\n"
      "counts overlapping live allocations and (host memory) clobbered blocks.");

  m.def(
      "host_memory_bench",
      [](py::handle sizes, py::handle iterations, py::handle warmup) {
        const std::vector<std::size_t> bytes = checked_ints<std::size_t>(sizes, "sizes", 0, kMaxBytes);
        const int iteration_count = checked_int<int>(iterations, "iterations");
        const int warmup_count = checked_int<int>(warmup, "warmup");
        std::vector<BenchSeries> series;
        {
          py::gil_scoped_release unlocked;
          series = host_memory_bench(bytes, iteration_count, warmup_count);
        }
        return bench_list(series);
      },
      py::arg("sizes"), py::arg("iterations") = 2000, py::arg("warmup") = 200,
      "Allocate+release pairs timed from C++ without a GPU: [(impl, bytes, ns samples)] for\n"
      "trtpipe's HostPool and aligned_alloc/free.");

#if TRTPIPE_WITH_CUDA
  m.def(
      "memory_bench",
      [](py::handle sizes, py::handle iterations, py::handle warmup, py::handle device) {
        const std::vector<std::size_t> bytes = checked_ints<std::size_t>(sizes, "sizes", 0, kMaxBytes);
        const int iteration_count = checked_int<int>(iterations, "iterations");
        const int warmup_count = checked_int<int>(warmup, "warmup");
        const int device_index = checked_int<int>(device, "device");
        std::vector<BenchSeries> series;
        {
          py::gil_scoped_release unlocked;
          series = memory_bench(bytes, iteration_count, warmup_count, device_index);
        }
        return bench_list(series);
      },
      py::arg("sizes"), py::arg("iterations") = 2000, py::arg("warmup") = 200,
      py::arg("device") = 0,
      "Allocate+release pairs timed from C++ on the GPU: [(impl, bytes, ns samples)] for\n"
      "trtpipe's pools and the CUDA allocators.");
#endif
}

}  // namespace trtpipe::testing
