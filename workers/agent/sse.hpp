// SseParser: the text/event-stream format (WHATWG HTML "server-sent events") fed in arbitrary
// pieces as they come off the socket: lines split anywhere, CRLF or LF, comments (": ..."),
// multi-line data joined with "\n", an event dispatched at each blank line.
// Fails: an event growing past max_event_bytes sets error() and stops parsing.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace clawgate::workers {

class SseParser {
 public:
  using Handler = std::function<void(const std::string& event, const std::string& data)>;
  explicit SseParser(Handler h, size_t max_event_bytes = 1 << 20)
      : handler_(std::move(h)), max_(max_event_bytes) {}
  void feed(std::string_view bytes);
  bool error() const { return error_; }
  size_t comments() const { return comments_; }

 private:
  void line(std::string_view l);
  Handler handler_;
  size_t max_;
  std::string partial_, event_, data_;
  bool has_data_ = false, error_ = false, last_cr_ = false;
  size_t comments_ = 0;
};

}  // namespace clawgate::workers
