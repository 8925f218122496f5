#pragma once
// Checks every binding makes before C++ sees an argument: integers arrive as Python ints (or
// objects with __index__, e.g. NumPy integers) within range, real numbers as numbers, text as
// str, else InputError naming the field; and objects of a bound class refuse every method and
// property until their __init__ has run.
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace trtpipe::bindings {

// The largest byte count a size may give: 2**63 - 1, as trtpipe.memory checks in Python.
inline constexpr std::size_t kMaxBytes =
    static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());

// "float 10.7": the type of a given value and its repr, bounded, for the "given" of a message.
inline std::string given_text(pybind11::handle value) {
  std::string text = Py_TYPE(value.ptr())->tp_name;
  PyObject* repr = PyObject_Repr(value.ptr());
  const char* utf8 = repr == nullptr ? nullptr : PyUnicode_AsUTF8(repr);
  if (utf8 == nullptr) {
    PyErr_Clear();  // no repr (or an int too long to print): the type alone says enough
  } else {
    constexpr std::size_t kMaxRepr = 60;
    std::string shown(utf8);
    if (shown.size() > kMaxRepr) shown = shown.substr(0, kMaxRepr) + "...";
    text += " " + shown;
  }
  Py_XDECREF(repr);
  return text;
}

namespace checked_detail {

template <typename T>
bool fits(long long n, T lo, T hi) {
  if constexpr (std::is_signed_v<T>) {
    return n >= static_cast<long long>(lo) && n <= static_cast<long long>(hi);
  } else {
    return n >= 0 && static_cast<unsigned long long>(n) >= lo &&
           static_cast<unsigned long long>(n) <= hi;
  }
}

// The common case, inline: an exact int in range.
template <typename T>
bool exact_int(PyObject* obj, T lo, T hi, T& out) {
  if (!PyLong_CheckExact(obj)) return false;
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(obj, &overflow);
  if (overflow != 0 || !fits(n, lo, hi)) return false;
  out = static_cast<T>(n);
  return true;
}

template <typename T>
[[noreturn]] void out_of_range(pybind11::handle value, const char* field, T lo, T hi) {
  throw InputError(std::string(field) + ": expected " + std::to_string(lo) + " <= " + field +
                   " <= " + std::to_string(hi) + ", given " + given_text(value));
}

// Everything else: __index__ conversions, 2**63 and up, errors. Out of line and cold, so that
// the common case stays a few instructions: inlined whole, this cost alloc() 40 ns a call.
template <typename T>
[[gnu::cold, gnu::noinline]] T convert_slowly(pybind11::handle value, const char* field, T lo,
                                              T hi) {
  PyObject* obj = value.ptr();
  pybind11::object index;
  if (!PyLong_CheckExact(obj)) {
    // bool is an int to Python but never a count or an index here.
    if (PyBool_Check(obj) || !PyIndex_Check(obj)) {
      throw InputError(std::string(field) + ": expected an int, given " + given_text(value));
    }
    index = pybind11::reinterpret_steal<pybind11::object>(PyNumber_Index(obj));
    if (!index) throw pybind11::error_already_set();
    obj = index.ptr();
  }
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(obj, &overflow);
  if (overflow == 0) {
    if (fits(n, lo, hi)) return static_cast<T>(n);
  } else if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(unsigned long long)) {
    // 2**63 and up: only an unsigned 64-bit target (an address, a seed) can hold them.
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(obj);
      if (PyErr_Occurred() == nullptr) {
        if (u >= lo && u <= hi) return static_cast<T>(u);
      } else {
        PyErr_Clear();
      }
    }
  }
  out_of_range(pybind11::handle(obj), field, lo, hi);
}

}  // namespace checked_detail

// `value` as a T in [lo, hi], else InputError naming `field`. Only ints and types that declare
// themselves ints (__index__) pass: pybind11's own conversion truncates NumPy floats (and
// anything with __int__) and answers the rest with a TypeError listing every signature.
template <typename T>
T checked_int(pybind11::handle value, const char* field, T lo = std::numeric_limits<T>::min(),
              T hi = std::numeric_limits<T>::max()) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>, "checked_int: an int type");
  T out{};
  if (checked_detail::exact_int(value.ptr(), lo, hi, out)) return out;
  return checked_detail::convert_slowly(value, field, lo, hi);
}

// A byte count or buffer size: an int in [0, 2**63 - 1].
inline std::size_t checked_size(pybind11::handle value, const char* field) {
  return checked_int<std::size_t>(value, field, 0, kMaxBytes);
}

// A list or tuple of ints (shape, strides, sizes), each in [lo, hi]; items are named
// "field[i]" in errors.
template <typename T>
std::vector<T> checked_ints(pybind11::handle values, const char* field,
                            T lo = std::numeric_limits<T>::min(),
                            T hi = std::numeric_limits<T>::max()) {
  PyObject* obj = values.ptr();
  if (!PyList_Check(obj) && !PyTuple_Check(obj)) {
    throw InputError(std::string(field) + ": expected a list or tuple of ints, given " +
                     given_text(values));
  }
  std::vector<T> out(static_cast<std::size_t>(PySequence_Fast_GET_SIZE(obj)));
  for (std::size_t i = 0; i < out.size(); ++i) {
    // __index__ may run Python code that shrinks a list: its length is read again then.
    if (static_cast<std::size_t>(PySequence_Fast_GET_SIZE(obj)) <= i) {
      throw InputError(std::string(field) + ": changed size while being read");
    }
    PyObject* item = PySequence_Fast_GET_ITEM(obj, static_cast<Py_ssize_t>(i));
    if (checked_detail::exact_int(item, lo, hi, out[i])) continue;
    const auto held = pybind11::reinterpret_borrow<pybind11::object>(item);
    const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
    out[i] = checked_detail::convert_slowly(held, name.c_str(), lo, hi);
  }
  return out;
}

// A str, else InputError naming `field` (pybind11's own conversion answers with a TypeError
// listing every signature).
inline std::string text_field(pybind11::handle value, const char* field) {
  if (!PyUnicode_Check(value.ptr())) {
    throw InputError(std::string(field) + ": expected a str, given " + given_text(value));
  }
  return value.cast<std::string>();
}

// True or False, else InputError naming `field`.
inline bool flag_field(pybind11::handle value, const char* field) {
  if (!PyBool_Check(value.ptr())) {
    throw InputError(std::string(field) + ": expected True or False, given " + given_text(value));
  }
  return value.ptr() == Py_True;
}

// `value` as a real number of type T (float or double), else InputError naming `field`: a float,
// an int or a type that converts itself (__float__, __index__: NumPy scalars). A bool, a str or
// None is refused rather than counted, parsed or read as 0. NaN and inf pass: the rule that owns
// the field says whether they mean something.
template <typename T>
T checked_real(pybind11::handle value, const char* field) {
  static_assert(std::is_floating_point_v<T>, "checked_real: a floating-point type");
  PyObject* obj = value.ptr();
  if (PyFloat_CheckExact(obj)) {
    const double exact = PyFloat_AS_DOUBLE(obj);
    if (sizeof(T) == sizeof(double) || !std::isfinite(exact) ||
        std::isfinite(static_cast<T>(exact))) {
      return static_cast<T>(exact);
    }
  } else {
    const PyNumberMethods* number = Py_TYPE(obj)->tp_as_number;
    const bool real = !PyBool_Check(obj) && !PyComplex_Check(obj) &&
                      (PyFloat_Check(obj) || PyLong_Check(obj) || PyIndex_Check(obj) ||
                       (number != nullptr && number->nb_float != nullptr));
    if (!real) {
      throw InputError(std::string(field) + ": expected a real number, given " +
                       given_text(value));
    }
    const double converted = PyFloat_AsDouble(obj);
    if (converted == -1.0 && PyErr_Occurred() != nullptr) {
      PyErr_Clear();  // an int past float range, or a __float__ that failed: the message says
    } else if (!std::isfinite(converted) || std::isfinite(static_cast<T>(converted))) {
      return static_cast<T>(converted);
    }
  }
  throw InputError(std::string(field) + ": expected a real number within " +
                   (sizeof(T) == sizeof(float) ? "float32" : "float64") + " range, given " +
                   given_text(value));
}

// A list or tuple of real numbers (intrinsics, means); items are named "field[i]" in errors.
template <typename T>
std::vector<T> checked_reals(pybind11::handle values, const char* field) {
  PyObject* obj = values.ptr();
  if (!PyList_Check(obj) && !PyTuple_Check(obj)) {
    throw InputError(std::string(field) + ": expected a list or tuple of real numbers, given " +
                     given_text(values));
  }
  std::vector<T> out(static_cast<std::size_t>(PySequence_Fast_GET_SIZE(obj)));
  for (std::size_t i = 0; i < out.size(); ++i) {
    // __float__ may run Python code that shrinks a list: its length is read again then.
    if (static_cast<std::size_t>(PySequence_Fast_GET_SIZE(obj)) <= i) {
      throw InputError(std::string(field) + ": changed size while being read");
    }
    const auto item = pybind11::reinterpret_borrow<pybind11::object>(
        PySequence_Fast_GET_ITEM(obj, static_cast<Py_ssize_t>(i)));
    const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
    out[i] = checked_real<T>(item, name.c_str());
  }
  return out;
}

// The InputError for an object of a bound class whose __init__ did not run (made by
// Class.__new__(Class), or by a subclass whose __init__ skipped the base's).
inline InputError uninitialised_error(const char* type_name) {
  return InputError(std::string(type_name) +
                    ": expected an initialised object, given one whose __init__ did not run");
}

template <typename T>
[[noreturn]] void* refuse_uninitialised_value(std::size_t /*bytes*/) {
  const pybind11::detail::type_info* info = pybind11::detail::get_type_info(typeid(T));
  throw uninitialised_error(info != nullptr ? info->type->tp_name : typeid(T).name());
}

// Makes every method and property of `cls` raise InputError on an object whose __init__ did
// not run. With a std::unique_ptr or std::shared_ptr holder, pybind11 does not check for that:
// loading such a `self` "lazily allocates" raw, unconstructed storage for the C++ object
// (type_caster_generic::load_value, meant for old placement-new constructors) and runs the
// method on it: a crash, a hang on a garbage mutex, or garbage returned. The storage comes from
// the class's type_info::operator_new, which this points at a function that throws instead;
// nothing else calls it (py::init constructs through the holder). Call right after py::class_.
template <typename Class>
Class& refuse_uninitialised(Class& cls) {
  using T = typename Class::type;
  pybind11::detail::get_type_info(typeid(T), /*throw_if_missing=*/true)->operator_new =
      &refuse_uninitialised_value<T>;
  return cls;
}

// The same for a class being defined in one expression: refuse_uninitialised(py::class_<T>(...))
// .def(...).
template <typename Class, typename = std::enable_if_t<!std::is_lvalue_reference_v<Class>>>
Class refuse_uninitialised(Class&& cls) {
  refuse_uninitialised(cls);
  return std::move(cls);
}

}  // namespace trtpipe::bindings
