#include "decode/box_depth.hpp"

#include <algorithm>
#include <string>

#include "common/errors.hpp"

namespace trtpipe::decode {

void check_rule(const DepthRule& rule) {
  auto fail = [](const std::string& what, float given) {
    throw InputError(what + ", given " + std::to_string(given));
  };
  if (!(rule.inner > 0.0f && rule.inner <= 1.0f)) fail("inner: expected in (0, 1]", rule.inner);
  if (!(rule.tolerance >= 0.0f)) fail("tolerance: expected metres >= 0", rule.tolerance);
  if (!(rule.min_depth >= 0.0f)) fail("min_depth: expected metres >= 0", rule.min_depth);
  if (!(rule.max_depth > rule.min_depth)) {
    fail("max_depth: expected metres > min_depth (" + std::to_string(rule.min_depth) + ")",
         rule.max_depth);
  }
  if (rule.min_pixels < 1) fail("min_pixels: expected >= 1", static_cast<float>(rule.min_pixels));
  if (!(rule.near_quantile >= 0.0f && rule.near_quantile <= rule.far_quantile &&
        rule.far_quantile <= 1.0f)) {
    fail("near_quantile/far_quantile: expected 0 <= near <= far <= 1; near",
         rule.near_quantile);
  }
}

namespace {

// Exact rank selection in two linear passes: the values are counted into equal-width buckets
// between their minimum and maximum (the bucket of a value never decreases as the value grows, so
// a rank's value lies in the bucket where the counts pass the rank), and only that bucket's
// values are then ordered. A median by std::nth_element alone costs several times more.
class RankSelector {
 public:
  static constexpr int kBuckets = 4096;
  static constexpr int kMaxRanks = 3;

  // Values of `ranks` (0-based, each < values.size(); at most kMaxRanks) into `out`.
  void select(const std::vector<float>& values, float lo, float hi, const int* ranks, int k,
              float* out) {
    if (!(hi > lo)) {  // one distinct value
      for (int i = 0; i < k; ++i) out[i] = lo;
      return;
    }
    const float per_metre = static_cast<float>(kBuckets) / (hi - lo);
    counts_.assign(kBuckets, 0);
    for (float v : values) ++counts_[bucket(v, lo, per_metre)];
    int target[kMaxRanks], before[kMaxRanks];
    for (int i = 0; i < k; ++i) {
      int b = 0, sum = 0;
      while (sum + counts_[b] <= ranks[i]) sum += counts_[b++];
      target[i] = b;
      before[i] = sum;
      in_bucket_[i].clear();
    }
    for (float v : values) {  // one pass collects every rank's bucket
      const int b = bucket(v, lo, per_metre);
      for (int i = 0; i < k; ++i) {
        if (b == target[i]) in_bucket_[i].push_back(v);
      }
    }
    for (int i = 0; i < k; ++i) {
      std::vector<float>& mine = in_bucket_[i];
      const auto nth = mine.begin() + (ranks[i] - before[i]);
      std::nth_element(mine.begin(), nth, mine.end());
      out[i] = *nth;
    }
  }

 private:
  static int bucket(float v, float lo, float per_metre) {
    const int b = static_cast<int>((v - lo) * per_metre);
    return b < kBuckets ? b : kBuckets - 1;
  }

  std::vector<int> counts_;
  std::vector<float> in_bucket_[kMaxRanks];
};

struct Gathered {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
};

template <preprocess::DepthEncoding E>
Gathered gather_measured(const preprocess::DepthFrame& depth, const PixelWindow& w,
                         const DepthRule& rule, std::vector<float>& out) {
  Gathered range;
  const auto* bytes = static_cast<const unsigned char*>(depth.data);
  for (int y = w.y0; y < w.y1; ++y) {
    const unsigned char* row = bytes + static_cast<std::ptrdiff_t>(y) * depth.step;
    for (int x = w.x0; x < w.x1; ++x) {
      const float metres = preprocess::depth_metres(row, x, E, depth.scale);
      if (is_measured(metres, rule)) {
        out.push_back(metres);
        range.lo = std::min(range.lo, metres);
        range.hi = std::max(range.hi, metres);
      }
    }
  }
  return range;
}

BoxDepth one_box(const preprocess::DepthFrame& depth, const float* box, const DepthRule& rule,
                 std::vector<float>& measured, std::vector<float>& object,
                 RankSelector& selector) {
  BoxDepth out;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  out.depth = out.near = out.far = nan;
  const PixelWindow w = inner_window(box, rule.inner, depth.width, depth.height);
  measured.clear();
  if (w.x1 <= w.x0 || w.y1 <= w.y0) return out;
  measured.reserve(static_cast<std::size_t>(w.x1 - w.x0) * static_cast<std::size_t>(w.y1 - w.y0));
  const Gathered all =
      depth.encoding == preprocess::DepthEncoding::k16UC1
          ? gather_measured<preprocess::DepthEncoding::k16UC1>(depth, w, rule, measured)
          : gather_measured<preprocess::DepthEncoding::k32FC1>(depth, w, rule, measured);
  out.valid_pixels = static_cast<int>(measured.size());
  if (out.valid_pixels < rule.min_pixels) return out;
  const int median_of_all = median_rank(out.valid_pixels);
  float median = 0.0f;
  selector.select(measured, all.lo, all.hi, &median_of_all, 1, &median);
  object.clear();
  Gathered on;
  for (float metres : measured) {
    if (on_object(metres, median, rule)) {
      object.push_back(metres);
      on.lo = std::min(on.lo, metres);
      on.hi = std::max(on.hi, metres);
    }
  }
  const int n = static_cast<int>(object.size());  // >= 1: the median itself
  out.object_pixels = n;
  const int ranks[3] = {median_rank(n), quantile_rank(rule.near_quantile, n),
                        quantile_rank(rule.far_quantile, n)};
  float values[3];
  selector.select(object, on.lo, on.hi, ranks, 3, values);
  out.depth = values[0];
  out.near = values[1];
  out.far = values[2];
  return out;
}

}  // namespace

CpuBoxDepths::CpuBoxDepths(int threads) : workers_(threads) {}

std::vector<BoxDepth> CpuBoxDepths::run(const preprocess::DepthFrame& depth, const float* boxes,
                                        int count, const DepthRule& rule) {
  check_rule(rule);
  std::vector<BoxDepth> out(static_cast<std::size_t>(count));
  // chunks of a few boxes (box sizes differ: small chunks balance the threads), each with its
  // own scratch
  workers_.parallel_for(count, 4, [&](int begin, int end) {
    std::vector<float> measured, object;
    RankSelector selector;
    for (int k = begin; k < end; ++k) {
      out[k] = one_box(depth, boxes + 4 * k, rule, measured, object, selector);
    }
  });
  return out;
}

std::vector<BoxDepth> box_depths(const preprocess::DepthFrame& depth, const float* boxes,
                                 int count, const DepthRule& rule) {
  CpuBoxDepths one_thread(1);
  return one_thread.run(depth, boxes, count, rule);
}

}  // namespace trtpipe::decode
