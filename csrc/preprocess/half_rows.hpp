#pragma once
// float -> IEEE binary16 for whole rows: the F16C instruction where the CPU has it (exact
// round-to-nearest-even, like float_to_half_bits), float_to_half_bits elsewhere.
#include <cstddef>
#include <cstdint>

namespace trtpipe::preprocess {

void floats_to_half_bits(const float* in, std::uint16_t* out, std::size_t count);

// Whether floats_to_half_bits uses the CPU's conversion instruction.
bool half_conversion_in_hardware() noexcept;

}  // namespace trtpipe::preprocess
