// Link: see link.hpp.
#include "link.hpp"

#include <capnp/serialize.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace clawgate::ipc {

namespace {

constexpr uint32_t kMaxSegments = 512;
constexpr size_t kReadChunk = 64 * 1024;

uint32_t load_le32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // Cap'n Proto is little-endian, as is every host we build for
  return v;
}

}  // namespace

void make_socketpair(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair");
}

std::shared_ptr<Link> Link::create(boost::asio::io_context& io, int fd, Options opts) {
  return std::shared_ptr<Link>(new Link(io, fd, std::move(opts)));
}

Link::Link(boost::asio::io_context& io, int fd, Options opts)
    : sock_(io, fd), opts_(std::move(opts)) {
  sock_.native_non_blocking(true);
}

Link::~Link() {
  for (int fd : fds_) ::close(fd);
  for (auto& o : outq_)
    if (o.fd >= 0) ::close(o.fd);
}

void Link::start(MessageHandler on_message, CloseHandler on_closed) {
  on_message_ = std::move(on_message);
  on_closed_ = std::move(on_closed);
  arm_read();
  flush();
}

bool Link::send(capnp::MessageBuilder& msg, int fd) {
  if (!open_ || !write_error_.empty()) return false;
  const kj::Array<capnp::word> flat = capnp::messageToFlatArray(msg);
  const auto bytes = flat.asChars();
  Outgoing o;
  o.bytes.assign(bytes.begin(), bytes.size());
  if (fd >= 0) {
    o.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (o.fd < 0) {
      fail(std::string("dup: ") + std::strerror(errno));
      return false;
    }
  }
  queued_bytes_ += o.bytes.size();
  outq_.push_back(std::move(o));
  if (queued_bytes_ > opts_.max_queued_bytes) {
    fail("peer is not reading (" + std::to_string(queued_bytes_) + " bytes queued)");
    return false;
  }
  if (on_message_) flush();  // before start(): sent once started
  return true;
}

int Link::take_fd() {
  if (fds_.empty()) return -1;
  const int fd = fds_.front();
  fds_.pop_front();
  return fd;
}

void Link::close(const std::string& reason) {
  fail(reason);
}

void Link::fail(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ec;
  sock_.cancel(ec);
  sock_.close(ec);
  // Deferred so that an owner dropping the link in its handler never runs inside our frames.
  if (on_closed_)
    boost::asio::post(sock_.get_executor(),
                      [self = shared_from_this(), reason] { self->on_closed_(reason); });
}

void Link::arm_read() {
  if (!open_ || reading_) return;
  reading_ = true;
  sock_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     self->reading_ = false;
                     if (ec || !self->open_) return;
                     self->on_readable();
                   });
}

void Link::on_readable() {
  // Drain what is there (bounded per wakeup so one busy peer cannot starve the loop).
  for (int round = 0; round < 16 && open_; ++round) {
    char data[kReadChunk];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    iovec iov{data, sizeof data};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(sock_.native_handle(), &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // A reset is the peer going away with our last message unread: a close like EOF.
      if (errno == ECONNRESET) return fail("peer closed the connection (reset)");
      return fail(std::string("read: ") + std::strerror(errno));
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (fds_.size() < 64) {
          fds_.push_back(fd);
        } else {
          ::close(fd);  // a peer flooding us with descriptors gets none kept
        }
      }
    }
    if (mh.msg_flags & MSG_CTRUNC) return fail("garbage: too many descriptors in one message");
    if (n == 0)
      return fail("peer closed the connection" +
                  (write_error_.empty() ? std::string() : " (" + write_error_ + ")"));
    inbuf_.append(data, static_cast<size_t>(n));
    parse_frames();
  }
  arm_read();
}

void Link::parse_frames() {
  auto self = shared_from_this();  // a handler may drop its last reference to us
  size_t pos = 0;
  while (open_) {
    const size_t avail = inbuf_.size() - pos;
    if (avail < 4) break;
    const char* p = inbuf_.data() + pos;
    const uint32_t segments = load_le32(p) + 1;  // 0xffffffff wraps to 0: garbage
    if (segments == 0 || segments > kMaxSegments)
      return fail("garbage: bad segment count " + std::to_string(segments));
    const size_t header = ((4 * (1 + segments)) + 7) & ~size_t{7};
    if (avail < header) break;
    size_t words = 0;
    for (uint32_t i = 0; i < segments; ++i) {
      words += load_le32(p + 4 * (1 + i));
      if (words > opts_.max_message_words)
        return fail("garbage: message larger than " + std::to_string(opts_.max_message_words) +
                    " words");
    }
    const size_t total = header + words * sizeof(capnp::word);
    if (avail < total) break;
    kj::Array<capnp::word> aligned = kj::heapArray<capnp::word>(total / sizeof(capnp::word));
    std::memcpy(aligned.begin(), p, total);
    pos += total;
    capnp::ReaderOptions ro;
    ro.traversalLimitInWords = opts_.max_message_words;
    ro.nestingLimit = 16;
    try {
      capnp::FlatArrayMessageReader reader(aligned, ro);
      on_message_(reader);
    } catch (const kj::Exception& e) {
      return fail("garbage: " + std::string(e.getDescription().cStr()));
    } catch (const std::exception& e) {
      return fail(std::string("handler failed: ") + e.what());
    }
  }
  if (open_) inbuf_.erase(0, pos);
}

void Link::flush() {
  while (open_ && !outq_.empty()) {
    Outgoing& o = outq_.front();
    iovec iov{o.bytes.data() + o.offset, o.bytes.size() - o.offset};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (o.fd >= 0) {  // rides with the message's first byte
      mh.msg_control = control;
      mh.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &o.fd, sizeof(int));
    }
    const ssize_t n = ::sendmsg(sock_.native_handle(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EPIPE || errno == ECONNRESET) {
        // The peer is gone, but what it wrote before going is still ours to read (a worker's
        // last delivery results, say): stop writing and let the read side reach EOF.
        write_error_ = std::string("write: ") + std::strerror(errno);
        for (auto& x : outq_)
          if (x.fd >= 0) ::close(x.fd);
        outq_.clear();
        queued_bytes_ = 0;
        arm_read();
        return;
      }
      return fail(std::string("write: ") + std::strerror(errno));
    }
    if (o.fd >= 0) {
      ::close(o.fd);
      o.fd = -1;
    }
    o.offset += static_cast<size_t>(n);
    queued_bytes_ -= static_cast<size_t>(n);
    if (o.offset == o.bytes.size()) outq_.pop_front();
  }
  if (open_ && !outq_.empty() && !writing_) {
    writing_ = true;
    sock_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->writing_ = false;
                       if (!ec) self->flush();
                     });
  }
}

}  // namespace clawgate::ipc
