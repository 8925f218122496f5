#include "preprocess/encoding.hpp"

#include <iterator>

#include "common/errors.hpp"

namespace trtpipe::preprocess {

const std::vector<EncodingInfo>& encoding_table() {
  static const std::vector<EncodingInfo> table(std::begin(kEncodingTable),
                                               std::end(kEncodingTable));
  return table;
}

const char* chroma_name(Chroma chroma) noexcept {
  switch (chroma) {
    case Chroma::k422: return "4:2:2";
    case Chroma::k420: return "4:2:0";
    case Chroma::kFull: break;
  }
  return "full";
}

const std::vector<std::string>& encoding_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const EncodingInfo& row : kEncodingTable) out.emplace_back(row.name);
    return out;
  }();
  return names;
}

std::optional<Encoding> find_encoding(const std::string& name) {
  for (const EncodingInfo& row : kEncodingTable) {
    if (name == row.name) return row.encoding;
  }
  return std::nullopt;
}

std::string unknown_encoding_message(const std::string& name, const std::string& field) {
  return unknown_choice_message(field, encoding_names(), name);
}

Encoding parse_encoding(const std::string& name, const std::string& field) {
  if (const std::optional<Encoding> encoding = find_encoding(name)) return *encoding;
  throw InputError(unknown_encoding_message(name, field));
}

}  // namespace trtpipe::preprocess
