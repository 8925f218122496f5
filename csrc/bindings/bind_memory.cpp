// Memory pools and their buffers: HostPool everywhere, DevicePool/PinnedPool in CUDA builds.
// Buffers expose __cuda_array_interface__ v3 and DLPack (device) or the buffer protocol (host).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings/bindings.hpp"
#include "bindings/checked_args.hpp"
#include "bindings/dlpack.hpp"
#include "common/errors.hpp"
#include "memory/block_policy.hpp"
#include "memory/host_pool.hpp"
#include "memory/pool_block.hpp"

#if TRTPIPE_WITH_CUDA
#include "memory/device_pool.hpp"
#include "memory/pinned_pool.hpp"
#include "memory/stream_order.hpp"
#endif

namespace py = pybind11;

namespace trtpipe::bindings {
namespace {

using memory::BlockInfo;
using memory::PoolBlock;
using memory::PoolOptions;
using memory::PoolStats;
using memory::StreamId;

[[noreturn]] void raise_input_error(const std::string& message) {
  py::object cls = py::module_::import("trtpipe.errors").attr("InputError");
  PyErr_SetString(cls.ptr(), message.c_str());
  throw py::error_already_set();
}

std::string type_name(py::handle value) {
  return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

// None, an int CUDA stream handle, or an object with an int .cuda_stream (PyTorch) or .ptr
// (CuPy) -> the handle; else InputError.
StreamId to_stream(py::handle value) {
  if (value.is_none()) return 0;
  PyObject* obj = value.ptr();
  if (PyLong_Check(obj) && !PyBool_Check(obj)) {
    const unsigned long long handle = PyLong_AsUnsignedLongLong(obj);
    if (handle == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
      PyErr_Clear();
      raise_input_error("stream: expected a non-negative stream handle, given " +
                        py::str(value).cast<std::string>());
    }
    return static_cast<StreamId>(handle);
  }
  for (const char* attribute : {"cuda_stream", "ptr"}) {
    if (py::hasattr(value, attribute)) {
      py::object handle = value.attr(attribute);
      if (PyLong_Check(handle.ptr()) && !PyBool_Check(handle.ptr())) return to_stream(handle);
    }
  }
  raise_input_error(
      "stream: expected an int CUDA stream handle or an object with .cuda_stream or .ptr, "
      "given " + type_name(value));
}

// How the bytes of a buffer are viewed as an array (C-contiguous).
struct Layout {
  std::vector<py::ssize_t> shape;
  std::string typestr = "|u1";
  std::string format = "B";
  py::ssize_t itemsize = 1;
  std::uint8_t dl_code = dlpack::kUInt;

  std::vector<py::ssize_t> byte_strides() const {
    std::vector<py::ssize_t> strides(shape.size());
    py::ssize_t step = itemsize;
    for (std::size_t i = shape.size(); i-- > 0;) {
      strides[i] = step;
      step *= shape[i];
    }
    return strides;
  }
};

Layout bytes_layout(std::size_t nbytes) {
  Layout layout;
  layout.shape = {static_cast<py::ssize_t>(nbytes)};
  return layout;
}

// A pool block seen from Python: keeps its pool alive and knows its array layout.
struct BufferBase {
  py::object pool;  // the Python pool object (holding the C++ pool); destroyed last
  PoolBlock block;
  Layout layout;
  std::size_t nbytes = 0;  // as requested; block.size() is the rounded block
  int device = 0;
  StreamId stream = 0;
  bool fallback = false;
  bool mapped = false;

  void require_live(const char* what) const {
    if (!block) {
      raise_input_error(std::string(what) +
                        ": expected a live pool buffer, given one already released");
    }
  }
  std::uintptr_t ptr(const char* what) const {
    require_live(what);
    return reinterpret_cast<std::uintptr_t>(block.data());
  }
  void release() { release_on(stream); }
  void release_on(StreamId on) {
    require_live("release");
    if (!block.fallback()) {
      block.release(on);  // never blocks: keep the GIL, it costs more to drop than this takes
      return;
    }
    py::gil_scoped_release unlocked;  // a direct cudaFree may wait for the device
    block.release(on);
  }
};
struct DeviceBuffer : BufferBase {};
struct HostBuffer : BufferBase {};

template <typename Buffer>
std::unique_ptr<Buffer> make_buffer(py::handle pool, PoolBlock block, Layout layout,
                                    std::size_t nbytes, int device) {
  auto out = std::make_unique<Buffer>();
  out->stream = block.stream();
  out->fallback = block.fallback();
  out->mapped = block.device_data() != nullptr;
  out->pool = py::reinterpret_borrow<py::object>(pool);
  out->block = std::move(block);
  out->layout = std::move(layout);
  out->nbytes = nbytes;
  out->device = device;
  return out;
}

// Bytes of one element of a PEP 3118 format as trtpipe.memory writes it (a NumPy dtype's char;
// "Z" + that char for complex); 0 for any other format.
std::size_t format_bytes(const std::string& format) {
  const bool complex = format.size() == 2 && format[0] == 'Z';
  if (format.size() != (complex ? 2u : 1u)) return 0;
  std::size_t bytes = 0;
  switch (format.back()) {
    case '?': case 'b': case 'B': bytes = 1; break;
    case 'h': case 'H': case 'e': bytes = 2; break;
    case 'i': case 'I': case 'f': bytes = 4; break;
    case 'l': case 'L': bytes = sizeof(long); break;
    case 'q': case 'Q': case 'd': bytes = 8; break;
    case 'g': bytes = sizeof(long double); break;
    default: return 0;
  }
  return complex ? 2 * bytes : bytes;
}

// The layout allocate_array exports over a block of `nbytes`. The buffer protocol,
// __cuda_array_interface__ and DLPack trust it, so it must describe exactly those bytes: a
// shape, typestr or format that claims more lets a view read and write past the block.
Layout array_layout(std::size_t nbytes, py::handle shape, std::string typestr, std::string format,
                    py::handle itemsize, py::handle dl_code) {
  Layout layout;
  layout.shape = checked_ints<py::ssize_t>(shape, "shape", 0);
  layout.itemsize = checked_int<py::ssize_t>(itemsize, "itemsize", 1, 64);
  layout.dl_code = checked_int<std::uint8_t>(dl_code, "dl_code");
  const auto element = static_cast<std::size_t>(layout.itemsize);
  std::size_t total = element;
  bool overflow = false;
  for (py::ssize_t extent : layout.shape) {
    const auto n = static_cast<std::size_t>(extent);
    if (n != 0 && total > kMaxBytes / n) overflow = true;
    total *= n;
  }
  const bool empty = std::find(layout.shape.begin(), layout.shape.end(), 0) != layout.shape.end();
  if (empty) {
    total = 0;
    overflow = false;
  }
  if (overflow || total != nbytes) {
    throw InputError("nbytes: expected the product of shape and itemsize (" +
                     (overflow ? std::string("over 2**63-1") : std::to_string(total)) +
                     "), given " + std::to_string(nbytes));
  }
  if (format_bytes(format) != element) {
    throw InputError("format: expected a NumPy type character of " + std::to_string(element) +
                     " byte(s) (itemsize), given '" + format + "'");
  }
  const bool typestr_ok = typestr.size() > 2 &&
                          std::string("<>|=").find(typestr[0]) != std::string::npos &&
                          typestr.substr(2) == std::to_string(element);
  if (!typestr_ok) {
    throw InputError("typestr: expected an array-interface typestr of " +
                     std::to_string(element) + " byte(s) (itemsize) such as '<f" +
                     std::to_string(element) + "', given '" + typestr + "'");
  }
  layout.typestr = std::move(typestr);
  layout.format = std::move(format);
  return layout;
}

PoolOptions make_options(py::handle initial, py::handle max_bytes, py::handle grow,
                         bool fallback) {
  PoolOptions options;
  options.initial_bytes = checked_size(initial, "initial_bytes");
  options.max_bytes = checked_size(max_bytes, "max_bytes");
  options.grow_bytes = checked_size(grow, "grow_bytes");
  options.fallback = fallback;
  return options;
}

py::dict stats_dict(const PoolStats& s) {
  return py::dict(py::arg("capacity") = s.capacity, py::arg("in_use") = s.in_use,
                  py::arg("peak_in_use") = s.peak_in_use, py::arg("free_bytes") = s.free_bytes,
                  py::arg("largest_free_block") = s.largest_free_block,
                  py::arg("fragmentation") = s.fragmentation,
                  py::arg("stream_cached_bytes") = s.stream_cached_bytes,
                  py::arg("pending_bytes") = s.pending_bytes,
                  py::arg("allocations") = s.allocations, py::arg("releases") = s.releases,
                  py::arg("fallbacks") = s.fallbacks,
                  py::arg("fallback_bytes_in_use") = s.fallback_bytes_in_use,
                  py::arg("fence_waits") = s.fence_waits, py::arg("live_blocks") = s.live_blocks,
                  py::arg("live_fallbacks") = s.live_fallbacks,
                  py::arg("free_blocks") = s.free_blocks, py::arg("arenas") = s.arenas);
}

const char* state_name(BlockInfo::State state) {
  switch (state) {
    case BlockInfo::State::Used: return "used";
    case BlockInfo::State::Free: return "free";
    case BlockInfo::State::StreamCached: return "stream_cached";
    case BlockInfo::State::Parked: return "parked";
    case BlockInfo::State::Pending: return "pending";
  }
  return "unknown";
}

py::list blocks_list(const memory::BlockPolicy& policy) {
  py::list out;
  for (const BlockInfo& b : policy.blocks()) {
    out.append(py::make_tuple(b.address, b.size, b.arena, state_name(b.state), b.stream));
  }
  return out;
}

py::list arenas_list(const memory::BlockPolicy& policy) {
  py::list out;
  for (const auto& a : policy.arenas()) out.append(py::make_tuple(a.address, a.size));
  return out;
}

// Methods every pool class has; `allocate` differs only in how the stream is typed.
// A block for `nbytes` on `stream`: the non-blocking path keeps the GIL; only when the pool must
// wait for a stream, grow or fall back (CUDA calls that may block) are other threads let run.
template <typename Pool, typename Allocate>
PoolBlock allocate_block(Pool& pool, Allocate allocate, std::size_t nbytes, StreamId stream) {
  PoolBlock block = PoolBlock::try_allocate(pool.policy(), nbytes, stream);
  if (block) return block;
  py::gil_scoped_release unlocked;
  return allocate(pool, nbytes, stream);
}

// Converts a C++ exception escaping a raw CPython method into the Python error it maps to.
PyObject* raise_current() noexcept {
  try {
    throw;
  } catch (py::error_already_set& err) {
    err.restore();
  } catch (...) {
    try {
      py::detail::try_translate_exceptions();
    } catch (...) {
      PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception in a pool method");
    }
  }
  return nullptr;
}

// The `stream` argument of a vectorcall method, after its required arguments: keyword only, or
// also the one optional positional argument when `positional`.
py::handle stream_argument(PyObject* const* args, Py_ssize_t npos, PyObject* kwnames,
                           bool positional, const char* method) {
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  if (npos > (positional ? 1 : 0)) {
    raise_input_error(std::string(method) + ": expected " + (positional ? "at most one" : "no") +
                      " optional positional argument, given " + std::to_string(npos));
  }
  if (nkw == 0) return npos == 1 ? py::handle(args[0]) : py::handle(Py_None);
  if (nkw > 1 || PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "stream") != 0) {
    raise_input_error(std::string(method) + ": expected only the keyword argument stream, given " +
                      py::str(py::handle(kwnames)).cast<std::string>());
  }
  if (npos == 1) raise_input_error(std::string(method) + ": stream given twice");
  return py::handle(args[npos]);
}

// pybind11's record of a bound class, looked up once (a lookup hashes the type's name).
template <typename T>
const py::detail::type_info* registered_type() {
  static const py::detail::type_info* info = py::detail::get_type_info(typeid(T), true);
  return info;
}

// The C++ object behind `self`, an instance of T's Python class or of a subclass.
template <typename T>
T& cpp_self(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  // One bound base (the method's type check makes it T's class): the pointer is inline.
  if (inst->simple_layout && inst->simple_holder_constructed) {
    return *static_cast<T*>(inst->simple_value_holder[0]);
  }
  // Made by __new__ alone: no C++ object behind it (what pybind11's own methods are kept from
  // reaching by refuse_uninitialised).
  py::detail::value_and_holder vh = inst->get_value_and_holder(registered_type<T>(), false);
  if (!vh || !vh.holder_constructed()) throw uninitialised_error(Py_TYPE(self)->tp_name);
  return *vh.template value_ptr<T>();
}

// A new Python object owning `object` (the class's holder is std::unique_ptr<T>).
template <typename T>
PyObject* to_python(std::unique_ptr<T> object) {
  const void* ptr = object.get();
  return py::detail::type_caster_generic::cast(ptr, py::return_value_policy::take_ownership, {},
                                               registered_type<T>(), nullptr, nullptr, &object)
      .ptr();
}

// pool.alloc and buffer.release are raw vectorcall methods: CPython calls them without a bound
// method object, pybind11's overload dispatch or keyword parsing (a third of a pair's cost).
template <typename Pool, typename Buffer>
struct FastMethods {
  static inline PoolBlock (*allocate)(Pool&, std::size_t, StreamId) = nullptr;
  static inline int (*device_of)(const Pool&) = nullptr;

  static PyObject* alloc(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                         PyObject* kwnames) noexcept {
    try {
      if (nargs < 1) raise_input_error("nbytes: expected alloc(nbytes, *, stream=None)");
      const std::size_t nbytes = checked_size(args[0], "nbytes");
      const StreamId stream =
          to_stream(stream_argument(args + 1, nargs - 1, kwnames, false, "alloc"));
      Pool& pool = cpp_self<Pool>(self);
      return to_python(make_buffer<Buffer>(self, allocate_block(pool, allocate, nbytes, stream),
                                           bytes_layout(nbytes), nbytes, device_of(pool)));
    } catch (...) {
      return raise_current();
    }
  }

};

template <typename Buffer>
struct FastRelease {
  static PyObject* release(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) noexcept {
    try {
      py::handle stream = stream_argument(args, nargs, kwnames, true, "release");
      auto& buffer = cpp_self<Buffer>(self);
      if (stream.is_none() && nargs == 0 && kwnames == nullptr) {
        buffer.release();
      } else {
        buffer.release_on(to_stream(stream));
      }
      Py_RETURN_NONE;
    } catch (...) {
      return raise_current();
    }
  }
};

template <typename Buffer>
void def_fast_release(py::handle cls) {
  static PyMethodDef def{
      "release", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(
                     &FastRelease<Buffer>::release)),
      METH_FASTCALL | METH_KEYWORDS,
      "release($self, /, stream=None)\n--\n\nGives the memory back now. Work queued on the "
      "buffer's stream (or on `stream`, when given: the caller orders every use before it) may "
      "still be using it. Raises InputError when already released."};
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &def);
  if (descr == nullptr) throw py::error_already_set();
  py::setattr(cls, "release", py::reinterpret_steal<py::object>(descr));
}

template <typename Pool, typename Buffer, typename Class, typename Allocate>
void def_pool_methods(Class& cls, Allocate allocate, int (*device_of)(const Pool&)) {
  using Fast = FastMethods<Pool, Buffer>;
  Fast::allocate = allocate;  // captureless
  Fast::device_of = device_of;
  static PyMethodDef alloc_def{
      "alloc", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&Fast::alloc)),
      METH_FASTCALL | METH_KEYWORDS,
      "alloc($self, nbytes, /, *, stream=None)\n--\n\nA buffer of `nbytes` bytes (a uint8 "
      "vector) for use on `stream` (None: the default stream; an int handle, or an object with "
      ".cuda_stream or .ptr). Raises InputError for a bad size or stream, PoolExhaustedError "
      "when full and fallback is off."};
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &alloc_def);
  if (descr == nullptr) throw py::error_already_set();
  py::setattr(cls, "alloc", py::reinterpret_steal<py::object>(descr));
  cls.def(
         "allocate_array",
          [allocate, device_of](py::object self, py::handle nbytes_arg, py::handle shape,
                                py::handle typestr, py::handle format, py::handle itemsize,
                                py::handle dl_code, py::handle stream_arg) {
            Pool& pool = self.cast<Pool&>();
            const std::size_t nbytes = checked_size(nbytes_arg, "nbytes");
            Layout layout = array_layout(nbytes, shape, text_field(typestr, "typestr"),
                                         text_field(format, "format"), itemsize, dl_code);
            const StreamId stream = to_stream(stream_arg);
            return make_buffer<Buffer>(self, allocate_block(pool, allocate, nbytes, stream),
                                       std::move(layout), nbytes, device_of(pool));
          },
          py::arg("nbytes"), py::arg("shape"), py::arg("typestr"), py::arg("format"),
          py::arg("itemsize"), py::arg("dl_code"), py::arg("stream") = py::none())
      .def("stats_dict", [](const Pool& self) { return stats_dict(self.stats()); })
      .def("reset_peak", &Pool::reset_peak, "Starts peak_in_use again from the bytes in use now.")
      .def("reclaim", [](Pool& self) { self.policy().reclaim(); },
           py::call_guard<py::gil_scoped_release>(),
           "Hands free blocks whose streams finished with them to every stream, coalesced.")
      .def("block_table", [](const Pool& self) { return blocks_list(self.policy()); },
           "(address, size, arena, state, stream) for every block, in address order.")
      .def("arena_table", [](const Pool& self) { return arenas_list(self.policy()); })
      .def_property_readonly("options", [](const Pool& self) {
        const PoolOptions& o = self.policy().options();
        return py::dict(py::arg("initial_bytes") = o.initial_bytes,
                        py::arg("max_bytes") = o.max_bytes, py::arg("grow_bytes") = o.grow_bytes,
                        py::arg("fallback") = o.fallback);
      });
}

template <typename Buffer>
py::class_<Buffer> def_buffer_common(py::module_& m, const char* name, const char* doc) {
  py::class_<Buffer> cls(m, name, py::buffer_protocol(), doc);
  refuse_uninitialised(cls);
  cls.def_property_readonly("ptr", [](const Buffer& b) { return b.ptr("ptr"); })
      .def_property_readonly("nbytes", [](const Buffer& b) { return b.nbytes; })
      .def_property_readonly("block_size",
                             [](const Buffer& b) {
                               b.require_live("block_size");
                               return b.block.size();
                             })
      .def_property_readonly(
          "shape", [](const Buffer& b) { return py::tuple(py::cast(b.layout.shape)); })
      .def_property_readonly("typestr", [](const Buffer& b) { return b.layout.typestr; })
      .def_property_readonly("stream", [](const Buffer& b) { return b.stream; })
      .def_property_readonly("device", [](const Buffer& b) { return b.device; })
      .def_property_readonly("fallback", [](const Buffer& b) { return b.fallback; },
                             "True when the pool was full and this is a direct allocation.")
      .def_property_readonly("released", [](const Buffer& b) { return !b.block; });
  def_fast_release<Buffer>(cls);
  return cls;
}

void bind_host(py::module_& m) {
  auto host_buffer = def_buffer_common<HostBuffer>(
      m, "HostBuffer", "A block of a host-memory pool (HostPool, PinnedPool): buffer protocol.");
  host_buffer
      .def_buffer([](HostBuffer& b) {
        b.require_live("buffer");
        return py::buffer_info(b.block.data(), b.layout.itemsize, b.layout.format,
                               static_cast<py::ssize_t>(b.layout.shape.size()), b.layout.shape,
                               b.layout.byte_strides(), false);
      })
      .def(
          "__array__",
          [](const py::object& self, const py::object& dtype, const py::object& copy) {
            self.cast<const HostBuffer&>().require_live("__array__");
            py::object np = py::module_::import("numpy");
            py::object view = np.attr("asarray")(py::memoryview(self));
            if (!dtype.is_none()) view = view.attr("astype")(dtype, py::arg("copy") = false);
            if (!copy.is_none() && copy.cast<bool>()) view = view.attr("copy")();
            return view;
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def_property_readonly(
          "device_ptr",
          [](const HostBuffer& b) -> py::object {
            b.require_live("device_ptr");
            if (!b.mapped) return py::none();
            return py::int_(reinterpret_cast<std::uintptr_t>(b.block.device_data()));
          },
          "Device address of the same bytes (mapped pinned memory), None for plain host memory.");

  py::class_<memory::HostPool, std::shared_ptr<memory::HostPool>> host_pool(
      m, "HostPool",
      "Block pool over plain host memory, running the same policy as the GPU pools. Streams are "
      "plain integers; with deferred_fences, fences complete only on complete_fences().");
  refuse_uninitialised(host_pool);
  host_pool.def(py::init([](py::handle initial, py::handle max_bytes, py::handle grow,
                            bool fallback, bool deferred) {
                  return std::make_shared<memory::HostPool>(
                      make_options(initial, max_bytes, grow, fallback), deferred);
                }),
                py::arg("initial_bytes"), py::arg("max_bytes") = 0, py::arg("grow_bytes") = 0,
                py::arg("fallback") = true, py::arg("deferred_fences") = false)
      .def("complete_fences", &memory::HostPool::complete_fences,
           "Completes every fence recorded so far (only matters with deferred fences).");
  def_pool_methods<memory::HostPool, HostBuffer>(
      host_pool,
      [](memory::HostPool& pool, std::size_t nbytes, StreamId stream) {
        return pool.allocate(nbytes, stream);
      },
      [](const memory::HostPool&) { return -1; });
}

#if TRTPIPE_WITH_CUDA
py::object dlpack_capsule(const py::object& owner, const BufferBase& b, std::int32_t device_type) {
  struct Context {
    py::object owner;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;
    dlpack::ManagedTensor tensor;
  };
  auto ctx = std::make_unique<Context>();
  ctx->owner = owner;
  for (py::ssize_t extent : b.layout.shape) ctx->shape.push_back(extent);
  for (py::ssize_t stride : b.layout.byte_strides()) {
    ctx->strides.push_back(stride / b.layout.itemsize);
  }
  dlpack::Tensor& t = ctx->tensor.dl_tensor;
  t.data = b.block.data();
  t.device = {device_type, b.device};
  t.ndim = static_cast<std::int32_t>(ctx->shape.size());
  t.dtype = {b.layout.dl_code, static_cast<std::uint8_t>(b.layout.itemsize * 8), 1};
  t.shape = ctx->shape.data();
  t.strides = ctx->strides.data();
  t.byte_offset = 0;
  ctx->tensor.manager_ctx = ctx.get();
  ctx->tensor.deleter = [](dlpack::ManagedTensor* self) {
    // Consumers may call this from any thread, with or without the GIL.
    py::gil_scoped_acquire gil;
    delete static_cast<Context*>(self->manager_ctx);
  };
  dlpack::ManagedTensor* managed = &ctx->tensor;
  PyObject* capsule = PyCapsule_New(managed, "dltensor", [](PyObject* cap) {
    // Still named "dltensor": no consumer took it, so its deleter is ours to call.
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* tensor = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      tensor->deleter(tensor);
    }
  });
  if (capsule == nullptr) throw py::error_already_set();
  static_cast<void>(ctx.release());
  return py::reinterpret_steal<py::object>(capsule);
}

void bind_cuda(py::module_& m) {
  auto device_buffer = def_buffer_common<DeviceBuffer>(
      m, "DeviceBuffer",
      "A block of a DevicePool: __cuda_array_interface__ v3 and DLPack, zero-copy.");
  device_buffer
      .def_property_readonly(
          "__cuda_array_interface__",
          [](const DeviceBuffer& b) {
            py::dict d;
            d["shape"] = py::tuple(py::cast(b.layout.shape));
            d["typestr"] = b.layout.typestr;
            d["data"] = py::make_tuple(b.ptr("__cuda_array_interface__"), false);
            d["version"] = 3;
            d["strides"] = py::none();
            // 0 is ambiguous in the protocol; 1 names the legacy default stream.
            d["stream"] = b.stream == 0 ? StreamId{1} : b.stream;
            return d;
          })
      .def(
          "__dlpack__",
          [](const py::object& self, const py::object& stream, const py::object& /*max_version*/,
             const py::object& dl_device, const py::object& copy) {
            const auto& b = self.cast<const DeviceBuffer&>();
            b.require_live("__dlpack__");
            if (!copy.is_none() && copy.cast<bool>()) {
              raise_input_error("copy: expected None or False (pool buffers export in place), "
                                "given True");
            }
            if (!dl_device.is_none()) {
              const std::string want = "(2, " + std::to_string(b.device) + ")";
              if (!PyTuple_Check(dl_device.ptr()) || PyTuple_GET_SIZE(dl_device.ptr()) != 2) {
                raise_input_error("dl_device: expected " + want + ", given " +
                                  given_text(dl_device));
              }
              const auto wanted = py::reinterpret_borrow<py::tuple>(dl_device);
              const int type = checked_int<int>(wanted[0], "dl_device[0]");
              const int index = checked_int<int>(wanted[1], "dl_device[1]");
              if (type != dlpack::kCUDA || index != b.device) {
                raise_input_error("dl_device: expected " + want + ", given (" +
                                  std::to_string(type) + ", " + std::to_string(index) + ")");
              }
            }
            if (!stream.is_none()) {
              const auto consumer = checked_int<std::int64_t>(stream, "stream");
              if (consumer != -1) {
                memory::order_after(static_cast<StreamId>(consumer), b.stream, b.device);
              }
            }
            return dlpack_capsule(self, b, dlpack::kCUDA);
          },
          py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
          py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack_device__",
           [](const DeviceBuffer& b) { return py::make_tuple(int{dlpack::kCUDA}, b.device); });

  py::class_<memory::DevicePool, std::shared_ptr<memory::DevicePool>> device_pool(
      m, "DevicePool", "Block pool of device memory (cudaMalloc'd arenas) on one GPU.");
  refuse_uninitialised(device_pool);
  device_pool.def(py::init([](py::handle initial, py::handle max_bytes, py::handle grow,
                              bool fallback, py::handle device) {
                    return std::make_shared<memory::DevicePool>(
                        make_options(initial, max_bytes, grow, fallback),
                        checked_int<int>(device, "device"));
                  }),
                  py::arg("initial_bytes"), py::arg("max_bytes") = 0, py::arg("grow_bytes") = 0,
                  py::arg("fallback") = true, py::arg("device") = 0);
  def_pool_methods<memory::DevicePool, DeviceBuffer>(
      device_pool,
      [](memory::DevicePool& pool, std::size_t nbytes, StreamId stream) {
        return pool.allocate(nbytes, reinterpret_cast<cudaStream_t>(stream));
      },
      [](const memory::DevicePool& pool) { return pool.device(); });

  py::class_<memory::PinnedPool, std::shared_ptr<memory::PinnedPool>> pinned_pool(
      m, "PinnedPool", "Block pool of pinned host memory mapped into the GPU's address space.");
  refuse_uninitialised(pinned_pool);
  pinned_pool.def(py::init([](py::handle initial, py::handle max_bytes, py::handle grow,
                              bool fallback, py::handle device) {
                    return std::make_shared<memory::PinnedPool>(
                        make_options(initial, max_bytes, grow, fallback),
                        checked_int<int>(device, "device"));
                  }),
                  py::arg("initial_bytes"), py::arg("max_bytes") = 0, py::arg("grow_bytes") = 0,
                  py::arg("fallback") = true, py::arg("device") = 0);
  def_pool_methods<memory::PinnedPool, HostBuffer>(
      pinned_pool,
      [](memory::PinnedPool& pool, std::size_t nbytes, StreamId stream) {
        return pool.allocate(nbytes, reinterpret_cast<cudaStream_t>(stream));
      },
      [](const memory::PinnedPool& pool) { return pool.device(); });
}
#endif

}  // namespace

void bind_memory(py::module_& m) {
  bind_host(m);
#if TRTPIPE_WITH_CUDA
  bind_cuda(m);
#endif
}

}  // namespace trtpipe::bindings
