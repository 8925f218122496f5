#include "decode/dense_head.hpp"

#include <algorithm>

#include "decode/nms.hpp"

namespace trtpipe::decode {

Detected decode_dense_head(const DenseHead& head, const DenseHeadOptions& options,
                           const SourceMapping& mapping) {
  return detections_of(best_class_candidates(head.scores, options.conf, head.objectness),
                       head.boxes, options, mapping);
}

Detected detections_of(const Candidates& found, const ScoreMatrix& boxes,
                       const DenseHeadOptions& options, const SourceMapping& mapping) {
  Detected out;
  const auto count = static_cast<std::int64_t>(found.anchor.size());
  if (count == 0 || options.max_output == 0) return out;
  std::vector<double> xyxy(static_cast<std::size_t>(4 * count));
  cxcywh_to_xyxy(boxes, found.anchor.data(), count, xyxy.data());
  const BoxView view{xyxy.data(), count, 4, 4, 1};
  const std::vector<std::int64_t> kept = greedy_nms(
      view, options.agnostic ? nullptr : found.class_id.data(), options.iou, options.max_output);
  out.boxes.reserve(4 * kept.size());
  out.scores.reserve(kept.size());
  out.class_ids.reserve(kept.size());
  for (std::int64_t k : kept) {
    const double* box = xyxy.data() + 4 * k;
    for (int j = 0; j < 4; ++j) out.boxes.push_back(static_cast<float>(to_source(mapping, j, box[j])));
    out.scores.push_back(found.score[static_cast<std::size_t>(k)]);
    out.class_ids.push_back(found.class_id[static_cast<std::size_t>(k)]);
  }
  return out;
}

}  // namespace trtpipe::decode
