#include "preprocess/cpu_preprocessor.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "preprocess/half.hpp"
#include "preprocess/half_rows.hpp"
#include "preprocess/pixel.hpp"
#include "preprocess/sampling_plan.hpp"
#include "preprocess/worker_pool.hpp"

namespace trtpipe::preprocess {
namespace {

// Planar R, G, B floats of one resized row, in source channel order.
struct RowPlanes {
  float* c[3];
};

using Horizontal = void (*)(const std::uint8_t* row, const std::uint8_t* uv_row,
                            const AxisTaps& taps, RowPlanes out);

// The horizontal half of sample(): bx * a + ax * b per channel, for every resized column of
// one source row. With a zero weight everywhere (nearest, exact integer ratios) that is `a`.
template <Encoding E, bool kTwoTaps>
void horizontal(const std::uint8_t* row, const std::uint8_t* uv_row, const AxisTaps& taps,
                RowPlanes out) {
  const int n = static_cast<int>(taps.i0.size());
  const int* i0 = taps.i0.data();
  float* r = out.c[0];
  float* g = out.c[1];
  float* b = out.c[2];
  if constexpr (kTwoTaps) {
    const int* i1 = taps.i1.data();
    const float* w0 = taps.w0.data();
    const float* w1 = taps.w1.data();
    for (int i = 0; i < n; ++i) {
      const Rgb p0 = load_pixel<E>(row, uv_row, i0[i]);
      const Rgb p1 = load_pixel<E>(row, uv_row, i1[i]);
      r[i] = w0[i] * p0.r + w1[i] * p1.r;
      g[i] = w0[i] * p0.g + w1[i] * p1.g;
      b[i] = w0[i] * p0.b + w1[i] * p1.b;
    }
  } else {
    for (int i = 0; i < n; ++i) {
      const Rgb p0 = load_pixel<E>(row, uv_row, i0[i]);
      r[i] = p0.r;
      g[i] = p0.g;
      b[i] = p0.b;
    }
  }
}

Horizontal pick_horizontal(Encoding encoding, bool two_taps) {
  return visit_encoding(encoding, [two_taps](auto tag) -> Horizontal {
    constexpr Encoding kEncoding = decltype(tag)::value;
    return two_taps ? &horizontal<kEncoding, true> : &horizontal<kEncoding, false>;
  });
}

// normalise() for a run of values, written `kStride` floats apart.
template <int kStride>
void normalise_run(const float* v, int n, float scale, float mean, float std_dev, float* out) {
  for (int i = 0; i < n; ++i) out[i * kStride] = (v[i] * scale - mean) / std_dev;
}

template <typename T>
void fill_run(T* out, int begin, int end, const T (&pad)[3], bool nchw, std::int64_t plane) {
  if (begin >= end) return;
  if (nchw) {
    for (int c = 0; c < 3; ++c) std::fill(out + c * plane + begin, out + c * plane + end, pad[c]);
  } else {
    for (int x = begin; x < end; ++x) {
      T* px = out + 3 * static_cast<std::int64_t>(x);
      px[0] = pad[0];
      px[1] = pad[1];
      px[2] = pad[2];
    }
  }
}

// Writes output rows [begin, end) of one batch slot.
class RowWriter {
 public:
  RowWriter(const Options& options, const PixelParams& p, const SamplingPlan& plan, void* slot)
      : p_(p),
        plan_(plan),
        horizontal_(pick_horizontal(static_cast<Encoding>(p.encoding), plan.x.two_taps)),
        slot_(slot),
        nchw_(options.layout == Layout::kNCHW),
        half_(options.dtype == DType::kFloat16),
        plane_(static_cast<std::int64_t>(p.dst_w) * p.dst_h) {
    const Rgb pad{p.pad_value, p.pad_value, p.pad_value};
    for (int c = 0; c < 3; ++c) {
      pad_f_[c] = normalise(p, pad, c);
      pad_h_[c] = float_to_half_bits(pad_f_[c]);
      // Output channel c is this source channel (normalise's channel order).
      source_channel_[c] = c == 1 ? 1 : ((c == 0) != (p.bgr_out != 0) ? 0 : 2);
    }
  }

  void rows(int begin, int end) const {
    const auto n = static_cast<std::size_t>(p_.new_w);
    std::vector<float> scratch(9 * n);
    RowPlanes top{{scratch.data(), scratch.data() + n, scratch.data() + 2 * n}};
    RowPlanes bottom{{scratch.data() + 3 * n, scratch.data() + 4 * n, scratch.data() + 5 * n}};
    float* staged = scratch.data() + 6 * n;
    for (int y = begin; y < end; ++y) {
      if (y < p_.pad_y || y >= p_.pad_y + p_.new_h) {
        fill(y, 0, p_.dst_w);
        continue;
      }
      fill(y, 0, p_.pad_x);
      fill(y, p_.pad_x + p_.new_w, p_.dst_w);
      resized_row(y - p_.pad_y, top, bottom);
      store(y, top, staged);
    }
  }

 private:
  void fill(int y, int begin, int end) const {
    const std::int64_t row = static_cast<std::int64_t>(y) * p_.dst_w * (nchw_ ? 1 : 3);
    if (half_) {
      fill_run(static_cast<std::uint16_t*>(slot_) + row, begin, end, pad_h_, nchw_, plane_);
    } else {
      fill_run(static_cast<float*>(slot_) + row, begin, end, pad_f_, nchw_, plane_);
    }
  }

  const std::uint8_t* uv_for(int sy) const { return p_.uv != nullptr ? uv_row(p_, sy) : nullptr; }

  // The vertical half of sample(): by * top + ay * bottom, skipped where ay is 0 (the bottom
  // row's contribution is then exactly 0 and by exactly 1).
  void resized_row(int ry, RowPlanes top, RowPlanes bottom) const {
    const auto i = static_cast<std::size_t>(ry);
    const int sy0 = plan_.y.i0[i];
    horizontal_(source_row(p_, sy0), uv_for(sy0), plan_.x, top);
    const float ay = plan_.y.w1[i];
    if (ay == 0.0f) return;
    const int sy1 = plan_.y.i1[i];
    horizontal_(source_row(p_, sy1), uv_for(sy1), plan_.x, bottom);
    const float by = plan_.y.w0[i];
    for (int c = 0; c < 3; ++c) {
      float* t = top.c[c];
      const float* b = bottom.c[c];
      for (int x = 0; x < p_.new_w; ++x) t[x] = by * t[x] + ay * b[x];
    }
  }

  void store(int y, RowPlanes rgb, float* staged) const {
    const int n = p_.new_w;
    const std::int64_t first = static_cast<std::int64_t>(y) * p_.dst_w + p_.pad_x;
    for (int c = 0; c < 3; ++c) {
      const float* v = rgb.c[source_channel_[c]];
      if (!half_) {
        float* out = static_cast<float*>(slot_);
        if (nchw_) {
          normalise_run<1>(v, n, p_.scale, p_.mean[c], p_.std[c], out + c * plane_ + first);
        } else {
          normalise_run<3>(v, n, p_.scale, p_.mean[c], p_.std[c], out + 3 * first + c);
        }
      } else if (nchw_) {
        normalise_run<1>(v, n, p_.scale, p_.mean[c], p_.std[c], staged);
        floats_to_half_bits(staged, static_cast<std::uint16_t*>(slot_) + c * plane_ + first,
                            static_cast<std::size_t>(n));
      } else {
        normalise_run<3>(v, n, p_.scale, p_.mean[c], p_.std[c], staged + c);
      }
    }
    if (half_ && !nchw_) {
      floats_to_half_bits(staged, static_cast<std::uint16_t*>(slot_) + 3 * first,
                          3 * static_cast<std::size_t>(n));
    }
  }

  const PixelParams& p_;
  const SamplingPlan& plan_;
  Horizontal horizontal_;
  void* slot_;
  bool nchw_;
  bool half_;
  std::int64_t plane_;
  float pad_f_[3];
  std::uint16_t pad_h_[3];
  int source_channel_[3];
};

}  // namespace

struct CpuPreprocessor::Impl {
  Options options;
  WorkerPool pool;
  std::mutex plans_mutex;
  std::vector<std::shared_ptr<const SamplingPlan>> plans;  // most recent last

  Impl(const Options& o, int threads) : options(o), pool(threads) {}

  // The plan of a src_w x src_h frame (the options fix the rest of the geometry); a few
  // sizes are kept, for a Preprocessor that serves several cameras.
  std::shared_ptr<const SamplingPlan> plan_for(const PixelParams& p) {
    constexpr std::size_t kKept = 8;
    std::lock_guard<std::mutex> lock(plans_mutex);
    for (auto it = plans.begin(); it != plans.end(); ++it) {
      if ((*it)->src_w == p.src_w && (*it)->src_h == p.src_h) {
        std::shared_ptr<const SamplingPlan> found = *it;
        plans.erase(it);
        plans.push_back(found);
        return found;
      }
    }
    if (plans.size() == kKept) plans.erase(plans.begin());
    plans.push_back(std::make_shared<const SamplingPlan>(make_sampling_plan(p)));
    return plans.back();
  }
};

CpuPreprocessor::CpuPreprocessor(const Options& options, int threads)
    : impl_(std::make_unique<Impl>(options, threads)) {}

CpuPreprocessor::~CpuPreprocessor() = default;

int CpuPreprocessor::threads() const noexcept { return impl_->pool.threads(); }

Letterbox CpuPreprocessor::run(const Frame& frame_in, const Tensor& out) {
  const Options& options = impl_->options;
  const Frame frame = checked_frame(frame_in);
  check_tensor(out, options);
  const Letterbox lb =
      letterbox_params(frame.width, frame.height, options.dst_w, options.dst_h, options.resize);
  const PixelParams p = pixel_params(options, frame, lb);
  const std::shared_ptr<const SamplingPlan> plan = impl_->plan_for(p);
  void* slot = static_cast<std::uint8_t*>(out.data) +
               static_cast<std::size_t>(out.batch_index) * slot_bytes(options);
  const RowWriter writer(options, p, *plan, slot);
  // Chunks of ~16k output pixels: small frames stay on the calling thread.
  const int grain = std::max(1, 16384 / p.dst_w);
  impl_->pool.parallel_for(p.dst_h, grain, [&writer](int begin, int end) {
    writer.rows(begin, end);
  });
  return lb;
}

}  // namespace trtpipe::preprocess
