#pragma once
// float -> IEEE binary16 bits with round-to-nearest-even (what __float2half_rn does), for the
// CPU reference. Handles subnormals, overflow to infinity and NaN.
#include <cstdint>
#include <cstring>

namespace trtpipe::preprocess {

inline std::uint16_t float_to_half_bits(float value) {
  std::uint32_t f;
  std::memcpy(&f, &value, sizeof f);
  const std::uint32_t sign = f & 0x80000000u;
  f ^= sign;
  std::uint16_t out;
  constexpr std::uint32_t kInfinity = 255u << 23;
  constexpr std::uint32_t kOverflow = (127u + 16u) << 23;  // 65536: at or above rounds to inf
  if (f >= kOverflow) {
    out = f > kInfinity ? 0x7e00 : 0x7c00;
  } else if (f < (113u << 23)) {
    // Below the smallest normal half: let the FPU round the mantissa by adding a magic number.
    constexpr std::uint32_t kMagic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    float x;
    float magic;
    std::memcpy(&x, &f, sizeof x);
    std::memcpy(&magic, &kMagic, sizeof magic);
    x += magic;
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    out = static_cast<std::uint16_t>(bits - kMagic);
  } else {
    const std::uint32_t odd = (f >> 13) & 1u;
    f += (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + odd;
    out = static_cast<std::uint16_t>(f >> 13);
  }
  return static_cast<std::uint16_t>(out | (sign >> 16));
}

}  // namespace trtpipe::preprocess
