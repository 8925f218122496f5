#include "decode/candidates.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

namespace trtpipe::decode {
namespace {

constexpr float kNoScore = -std::numeric_limits<float>::infinity();

// The scans are bound by memory reads: 256-bit loads where the CPU has them (chosen when the
// module loads), the baseline instructions elsewhere.
#if defined(__GNUC__) && defined(__x86_64__)
#define TRTPIPE_WIDE_LOADS __attribute__((target_clones("avx2", "default")))
#else
#define TRTPIPE_WIDE_LOADS
#endif

// `v > best ? v : best` is what x86's maxps computes, so this loop vectorises; a NaN `v` never
// replaces `best`.
inline float keep_greater(float v, float best) { return v > best ? v : best; }

// The first class of `anchor` whose score equals `best`.
std::int64_t first_class_of(const ScoreMatrix& s, std::int64_t anchor, float best) {
  const float* p = s.data + anchor * s.col_stride;
  for (std::int64_t c = 0; c < s.rows; ++c) {
    if (p[c * s.row_stride] == best) return c;
  }
  return 0;  // not reached: `best` is one of the anchor's scores
}

// Anchors next to each other in memory (a [classes, anchors] head such as YOLOv8's): the
// running maxima of all anchors are updated with eight class rows at a time, read in order
// (what the hardware prefetcher follows best; tiles of anchors were slower), which reads and
// writes the maxima an eighth as often as one row at a time. Each row is folded into the
// running maximum in turn, so a NaN score is passed over exactly. The first row of the block
// where an anchor's maximum last grew is kept too, so its class is then found in that block
// (searching whole columns, one row apart in memory each, cost as much as the scan).
template <int kRows>
inline void fold_rows(const float* rows, std::int64_t stride, std::int64_t n, float* best,
                      std::int32_t* block, std::int32_t first_row) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float before = best[i];
    float b = before;
    for (int r = 0; r < kRows; ++r) b = keep_greater(rows[r * stride + i], b);
    best[i] = b;
    block[i] = b > before ? first_row : block[i];
  }
}

TRTPIPE_WIDE_LOADS
void scan_contiguous_anchors(const ScoreMatrix& s, float conf, Candidates& out) {
  constexpr std::int64_t kRows = 8;
  const std::int64_t n = s.cols;
  const std::int64_t stride = s.row_stride;
  std::vector<float> running(static_cast<std::size_t>(n), kNoScore);
  std::vector<std::int32_t> grew_at(static_cast<std::size_t>(n), 0);
  float* best = running.data();
  std::int32_t* block = grew_at.data();
  for (std::int64_t c = 0; c < s.rows; c += kRows) {
    const float* rows = s.data + c * stride;
    const auto first = static_cast<std::int32_t>(c);
    // a row count known when compiling, so each case vectorises
    switch (std::min(kRows, s.rows - c)) {
      case 8: fold_rows<8>(rows, stride, n, best, block, first); break;
      case 7: fold_rows<7>(rows, stride, n, best, block, first); break;
      case 6: fold_rows<6>(rows, stride, n, best, block, first); break;
      case 5: fold_rows<5>(rows, stride, n, best, block, first); break;
      case 4: fold_rows<4>(rows, stride, n, best, block, first); break;
      case 3: fold_rows<3>(rows, stride, n, best, block, first); break;
      case 2: fold_rows<2>(rows, stride, n, best, block, first); break;
      default: fold_rows<1>(rows, stride, n, best, block, first); break;
    }
  }
  const auto take = [&](std::int64_t i) {
    const float* column = s.data + i;
    std::int64_t k = block[i];
    while (column[k * stride] != best[i]) ++k;  // in the block: the maximum is one of its rows
    out.anchor.push_back(i);
    out.score.push_back(best[i]);
    out.class_id.push_back(k);
  };
  // Most anchors fail the threshold: test eight at a time, a mask of compares, and look at
  // single anchors only where one passed.
  constexpr std::int64_t kGroup = 8;
  std::int64_t i = 0;
  for (; i + kGroup <= n; i += kGroup) {
    unsigned passed = 0;
    for (std::int64_t j = 0; j < kGroup; ++j) {
      passed |= static_cast<unsigned>(best[i + j] > conf) << j;
    }
    for (; passed != 0; passed &= passed - 1) take(i + __builtin_ctz(passed));
  }
  for (; i < n; ++i) {
    if (best[i] > conf) take(i);
  }
}

// Any other layout (a [anchors, classes] head, a transposed export): one anchor at a time, with
// independent lanes so the reduction is not one long dependency chain.
TRTPIPE_WIDE_LOADS
void scan_by_anchor(const ScoreMatrix& s, float conf, Candidates& out) {
  constexpr int kLanes = 8;
  for (std::int64_t a = 0; a < s.cols; ++a) {
    const float* p = s.data + a * s.col_stride;
    float lane[kLanes];
    std::fill(lane, lane + kLanes, kNoScore);
    std::int64_t c = 0;
    if (s.row_stride == 1) {
      for (; c + kLanes <= s.rows; c += kLanes) {
        for (int j = 0; j < kLanes; ++j) lane[j] = keep_greater(p[c + j], lane[j]);
      }
    }
    float best = kNoScore;
    for (; c < s.rows; ++c) best = keep_greater(p[c * s.row_stride], best);
    for (float v : lane) best = keep_greater(v, best);
    if (best > conf) {
      out.anchor.push_back(a);
      out.score.push_back(best);
    }
  }
}

// Objectness × class score, the product per class as NumPy forms it, so the best class and its
// score are those of `(cls * obj).argmax()`. Class scores are at most 1, so an anchor whose
// objectness does not pass `conf` cannot: only the rest are looked at.
void scan_with_objectness(const ScoreMatrix& s, float conf, const Objectness& obj,
                          Candidates& out) {
  for (std::int64_t a = 0; a < s.cols; ++a) {
    const float o = obj.data[a * obj.stride];
    if (!(o > conf)) continue;
    const float* p = s.data + a * s.col_stride;
    float best = kNoScore;
    std::int64_t best_class = 0;
    for (std::int64_t c = 0; c < s.rows; ++c) {
      const float v = p[c * s.row_stride] * o;
      if (v > best) {
        best = v;
        best_class = c;
      }
    }
    if (best > conf) {
      out.anchor.push_back(a);
      out.score.push_back(best);
      out.class_id.push_back(best_class);
    }
  }
}

// Best first, equal scores in anchor order (a stable sort by descending score).
void sort_best_first(Candidates& c) {
  const std::size_t n = c.anchor.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return c.score[a] != c.score[b] ? c.score[a] > c.score[b] : c.anchor[a] < c.anchor[b];
  });
  Candidates sorted;
  sorted.anchor.reserve(n);
  sorted.score.reserve(n);
  sorted.class_id.reserve(n);
  for (std::size_t i : order) {
    sorted.anchor.push_back(c.anchor[i]);
    sorted.score.push_back(c.score[i]);
    sorted.class_id.push_back(c.class_id[i]);
  }
  c = std::move(sorted);
}

}  // namespace

Candidates best_class_candidates(const ScoreMatrix& scores, float conf,
                                 const Objectness& objectness) {
  Candidates out;
  if (scores.rows <= 0 || scores.cols <= 0) return out;
  if (objectness.data != nullptr) {
    scan_with_objectness(scores, conf, objectness, out);
  } else {
    if (scores.col_stride == 1) {
      scan_contiguous_anchors(scores, conf, out);
    } else {
      scan_by_anchor(scores, conf, out);
      out.class_id.reserve(out.anchor.size());
      for (std::size_t i = 0; i < out.anchor.size(); ++i) {
        out.class_id.push_back(first_class_of(scores, out.anchor[i], out.score[i]));
      }
    }
  }
  sort_best_first(out);
  return out;
}

void cxcywh_to_xyxy(const ScoreMatrix& boxes, const std::int64_t* anchors, std::int64_t count,
                    double* out) {
  const std::int64_t cs = boxes.row_stride;
  for (std::int64_t k = 0; k < count; ++k) {
    const float* p = boxes.data + anchors[k] * boxes.col_stride;
    // the half sizes in float, as a float32 decode computes them, then widened
    const float half_w = p[2 * cs] * 0.5f;
    const float half_h = p[3 * cs] * 0.5f;
    double* box = out + 4 * k;
    box[0] = static_cast<double>(p[0] - half_w);
    box[1] = static_cast<double>(p[cs] - half_h);
    box[2] = static_cast<double>(p[0] + half_w);
    box[3] = static_cast<double>(p[cs] + half_h);
  }
}

}  // namespace trtpipe::decode
