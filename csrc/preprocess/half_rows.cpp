#include "preprocess/half_rows.hpp"

#include "preprocess/half.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TRTPIPE_F16C 1
#include <immintrin.h>
#else
#define TRTPIPE_F16C 0
#endif

namespace trtpipe::preprocess {
namespace {

void convert_portable(const float* in, std::uint16_t* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = float_to_half_bits(in[i]);
}

#if TRTPIPE_F16C
__attribute__((target("avx,f16c"))) void convert_f16c(const float* in, std::uint16_t* out,
                                                      std::size_t count) {
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 values = _mm256_loadu_ps(in + i);
    const __m128i halves = _mm256_cvtps_ph(values, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), halves);
  }
  convert_portable(in + i, out + i, count - i);
}

bool has_f16c() noexcept {
  static const bool supported = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return supported;
}
#endif

}  // namespace

bool half_conversion_in_hardware() noexcept {
#if TRTPIPE_F16C
  return has_f16c();
#else
  return false;
#endif
}

void floats_to_half_bits(const float* in, std::uint16_t* out, std::size_t count) {
#if TRTPIPE_F16C
  if (has_f16c()) {
    convert_f16c(in, out, count);
    return;
  }
#endif
  convert_portable(in, out, count);
}

}  // namespace trtpipe::preprocess
