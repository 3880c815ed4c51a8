// Link: one Cap'n Proto message stream over a Unix stream socket, on a Boost.Asio loop.
// Messages use Cap'n Proto's standard stream framing (segment table + segments); a file
// descriptor may ride along with a message as SCM_RIGHTS and is taken by the handler of that
// message with take_fd(). Reads are bounded by `max_message_words` (checked from the segment
// table before anything is buffered) and parsed with tight ReaderOptions.
// Fails: a malformed or oversized message, a peer that stops reading (queue over
// `max_queued_bytes`), EOF or a socket error all end the link: on_closed runs once with the
// reason and no further callbacks arrive. A peer that died (EPIPE on write) is still read to
// EOF first, so messages it sent before dying are delivered. A peer that went away (EOF, or a
// reset: it exited with our message unread) is the reason "peer closed the connection...".
// Never throws out of the loop.
#pragma once
#include <capnp/message.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace clawgate::ipc {

// Makes a connected pair of SOCK_STREAM Unix sockets (close-on-exec); throws std::system_error.
void make_socketpair(int fds[2]);

class Link : public std::enable_shared_from_this<Link> {
 public:
  struct Options {
    size_t max_message_words = 128 * 1024;       // 1 MiB per message
    size_t max_queued_bytes = 16 * 1024 * 1024;  // unsent bytes before the peer counts as stuck
    std::string name = "link";                   // for error messages
  };
  using MessageHandler = std::function<void(capnp::MessageReader&)>;
  using CloseHandler = std::function<void(const std::string& reason)>;

  // Takes ownership of `fd`.
  static std::shared_ptr<Link> create(boost::asio::io_context& io, int fd, Options opts);
  static std::shared_ptr<Link> create(boost::asio::io_context& io, int fd) {
    return create(io, fd, Options{});
  }
  ~Link();

  void start(MessageHandler on_message, CloseHandler on_closed);
  // Queues a message; `fd` (>= 0) is duplicated and sent with it. Returns false when the link
  // is closed (the message is dropped; the caller learns of it through on_closed as well).
  bool send(capnp::MessageBuilder& msg, int fd = -1);
  // The oldest descriptor received and not yet taken, or -1. The caller owns it.
  int take_fd();
  void close(const std::string& reason = "closed locally");
  bool is_open() const { return open_; }
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  Link(boost::asio::io_context& io, int fd, Options opts);
  void arm_read();
  void on_readable();
  void parse_frames();
  void flush();
  void fail(const std::string& reason);

  struct Outgoing {
    std::string bytes;
    size_t offset = 0;
    int fd = -1;  // owned until sent
  };

  boost::asio::posix::stream_descriptor sock_;
  Options opts_;
  MessageHandler on_message_;
  CloseHandler on_closed_;
  std::string inbuf_;
  std::deque<int> fds_;
  std::deque<Outgoing> outq_;
  size_t queued_bytes_ = 0;
  std::string write_error_;  // set once the peer refused a write; reading goes on to EOF
  bool open_ = true, reading_ = false, writing_ = false;
};

}  // namespace clawgate::ipc
