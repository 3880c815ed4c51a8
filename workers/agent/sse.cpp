// SseParser: see sse.hpp.
#include "sse.hpp"

namespace clawgate::workers {

void SseParser::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (error_) return;
    if (c == '\n' && last_cr_) {  // the LF of a CRLF already ended the line
      last_cr_ = false;
      continue;
    }
    last_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      line(partial_);
      partial_.clear();
      continue;
    }
    partial_.push_back(c);
    if (partial_.size() + data_.size() > max_) error_ = true;
  }
}

void SseParser::line(std::string_view l) {
  if (l.empty()) {  // dispatch
    if (has_data_) handler_(event_.empty() ? "message" : event_, data_);
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (l.front() == ':') {
    ++comments_;
    return;
  }
  const size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon), value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    event_ = value;
  } else if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  }
  // id and retry are not needed by model streams.
}

}  // namespace clawgate::workers
