#include "decode/compact_candidates.hpp"

#include <algorithm>
#include <vector>

namespace trtpipe::decode {

Detected decode_compact_candidates(const CompactCandidate* found, std::int64_t count,
                                   const DenseHeadOptions& options, const SourceMapping& mapping) {
  if (count <= 0) return {};
  std::vector<CompactCandidate> sorted(found, found + count);
  // a NaN score never passes a threshold and would break the ordering (detections_of skips
  // the other non-finite candidates)
  sorted.erase(std::remove_if(sorted.begin(), sorted.end(),
                              [](const CompactCandidate& c) { return c.score != c.score; }),
               sorted.end());
  if (sorted.empty()) return {};
  count = static_cast<std::int64_t>(sorted.size());
  // best_class_candidates' order: descending score, equal scores in anchor order
  std::sort(sorted.begin(), sorted.end(), [](const CompactCandidate& a, const CompactCandidate& b) {
    return a.score != b.score ? a.score > b.score : a.anchor < b.anchor;
  });
  Candidates candidates;
  candidates.anchor.reserve(sorted.size());
  candidates.score.reserve(sorted.size());
  candidates.class_id.reserve(sorted.size());
  for (std::size_t k = 0; k < sorted.size(); ++k) {
    candidates.anchor.push_back(static_cast<std::int64_t>(k));  // its position in `sorted`
    candidates.score.push_back(sorted[k].score);
    candidates.class_id.push_back(sorted[k].class_id);
  }
  // the records as a 4 × count matrix of cx, cy, w, h
  constexpr std::int64_t kFloatsPerRecord = sizeof(CompactCandidate) / sizeof(float);
  const ScoreMatrix boxes{&sorted[0].cx, 4, count, 1, kFloatsPerRecord};
  return detections_of(candidates, boxes, options, mapping);
}

}  // namespace trtpipe::decode
