// Unit tests: ipc::Link over a socketpair: ordered delivery (incl. large messages), fd passing,
// garbage and oversized input, EOF, a peer that never reads, and send() after close.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "control.capnp.h"
#include "data.capnp.h"
#include "error.hpp"
#include "link.hpp"

namespace clawgate::ipc {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string frame_bytes(capnp::MessageBuilder& b) {
  const kj::Array<capnp::word> flat = capnp::messageToFlatArray(b);
  const auto chars = flat.asChars();
  return std::string(chars.begin(), chars.size());
}

void write_all(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

// Records what a link received.
struct Inbox {
  std::vector<std::string> texts;  // "hb:<seq>:<rss>" or "reload:<text>"
  std::vector<std::string> closed;
  Link::MessageHandler on_message() {
    return [this](capnp::MessageReader& r) {
      const auto c = r.getRoot<Control>();
      switch (c.which()) {
        case Control::HEARTBEAT:
          texts.push_back("hb:" + std::to_string(c.getHeartbeat().getSeq()) + ":" +
                          std::to_string(c.getHeartbeat().getRssBytes()));
          break;
        case Control::RELOAD:
          texts.push_back("reload:" +
                          std::string(c.getReload().getFront().getConfigSnapshot().cStr()));
          break;
        default:
          texts.push_back("other");
      }
    };
  }
  Link::CloseHandler on_closed() {
    return [this](const std::string& why) { closed.push_back(why); };
  }
};

class LinkTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& l : links_) l->close("test over");
    settle();
    links_.clear();
    for (int fd : raw_)
      if (fd >= 0) ::close(fd);
  }

  // Runs the loop until `pred` holds; false when it did not within `limit`.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.restart();
      io_.run_for(5ms);
    }
    return true;
  }
  // Runs whatever is ready for a short while (to see that nothing more happens).
  void settle() {
    const auto until = std::chrono::steady_clock::now() + 50ms;
    while (std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(5ms);
    }
  }

  std::shared_ptr<Link> make(int fd, Link::Options opts = {}) {
    links_.push_back(Link::create(io_, fd, std::move(opts)));
    return links_.back();
  }
  // A connected pair of Links.
  std::pair<std::shared_ptr<Link>, std::shared_ptr<Link>> make_pair(Link::Options a = {},
                                                                    Link::Options b = {}) {
    int fds[2];
    make_socketpair(fds);
    return {make(fds[0], std::move(a)), make(fds[1], std::move(b))};
  }
  // A Link with a raw socket as its peer; returns the raw end (closed in TearDown).
  std::shared_ptr<Link> make_with_raw_peer(int& raw, Link::Options opts = {}) {
    int fds[2];
    make_socketpair(fds);
    raw = fds[0];
    raw_.push_back(fds[0]);
    return make(fds[1], std::move(opts));
  }
  void forget_raw(int fd) {
    for (int& r : raw_)
      if (r == fd) r = -1;
  }

  // Handler state lives in the fixture: TearDown's close() may still call on_closed.
  Inbox& inbox() { return inboxes_.emplace_back(); }

  boost::asio::io_context io_;  // declared first: outlives the links
  std::deque<Inbox> inboxes_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<int> raw_;
};

// A message carrying `text` (in the front's settings: any Text field would do).
void text_message(capnp::MallocMessageBuilder& b, const std::string& text) {
  b.initRoot<Control>().initReload().initFront().setConfigSnapshot(text);
}

void heartbeat(capnp::MallocMessageBuilder& b, uint64_t seq) {
  auto hb = b.initRoot<Control>().initHeartbeat();
  hb.setSeq(seq);
  hb.setRssBytes(seq * 3);
}

TEST_F(LinkTest, MessagesArriveInOrderWithTheirContents) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  Inbox& in_a = inbox();
  Inbox& in_b = inbox();
  a->start(in_a.on_message(), in_a.on_closed());
  b->start(in_b.on_message(), in_b.on_closed());

  std::vector<std::string> expected;
  for (uint64_t i = 0; i < 100; ++i) {
    capnp::MallocMessageBuilder m;
    if (i % 10 == 3) {  // every tenth is ~200 KB of text
      std::string text = std::to_string(i) + ":" + std::string(200 * 1024 + i, 'a' + i % 26);
      text_message(m, text);
      expected.push_back("reload:" + text);
    } else {
      heartbeat(m, i);
      expected.push_back("hb:" + std::to_string(i) + ":" + std::to_string(i * 3));
    }
    ASSERT_TRUE(a->send(m)) << i;
  }
  ASSERT_TRUE(run_until([&] { return in_b.texts.size() >= 100; }))
      << "received " << in_b.texts.size();
  ASSERT_EQ(in_b.texts.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(in_b.texts[i] == expected[i]) << "message " << i << " differs";
  EXPECT_TRUE(in_b.closed.empty());
  EXPECT_TRUE(a->is_open());
  EXPECT_TRUE(b->is_open());
  EXPECT_EQ(a->queued_bytes(), 0u);
}

TEST_F(LinkTest, DataMessagesCarryUtf8Text) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  std::string got;
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  b->start(
      [&](capnp::MessageReader& r) {
        const auto in = r.getRoot<Data>().getInbound();
        got = std::string(in.getId().cStr()) + "/" + in.getText().cStr();
      },
      [](const std::string&) {});
  capnp::MallocMessageBuilder m;
  auto inbound = m.initRoot<Data>().initInbound();
  inbound.setId("update-1");
  inbound.setText("h\u00e9llo \U0001F600");
  ASSERT_TRUE(a->send(m));
  ASSERT_TRUE(run_until([&] { return !got.empty(); }));
  EXPECT_EQ(got, "update-1/h\u00e9llo \U0001F600");
}

TEST_F(LinkTest, MessagesSentBeforeStartAreDeliveredOnceStarted) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  Inbox& in_b = inbox();
  b->start(in_b.on_message(), in_b.on_closed());
  for (uint64_t i = 1; i <= 3; ++i) {
    capnp::MallocMessageBuilder m;
    heartbeat(m, i);
    ASSERT_TRUE(a->send(m));
  }
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  ASSERT_TRUE(run_until([&] { return in_b.texts.size() >= 3; }));
  EXPECT_EQ(in_b.texts, (std::vector<std::string>{"hb:1:3", "hb:2:6", "hb:3:9"}));
}

TEST_F(LinkTest, FileDescriptorRidesWithItsMessage) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK), 0);
  raw_.push_back(pipe_fds[0]);

  int received = -2, second = -2;
  std::string name;
  uint32_t generation = 0;
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  b->start(
      [&](capnp::MessageReader& r) {
        const auto c = r.getRoot<Control>();
        if (c.which() != Control::PEER) return;
        name = c.getPeer().getName().cStr();
        generation = c.getPeer().getGeneration();
        received = b->take_fd();
        second = b->take_fd();
      },
      [](const std::string&) {});

  capnp::MallocMessageBuilder m;
  auto peer = m.initRoot<Control>().initPeer();
  peer.setName("telegram");
  peer.setGeneration(3);
  ASSERT_TRUE(a->send(m, pipe_fds[1]));
  ::close(pipe_fds[1]);  // send() duplicated it; ours is no longer needed

  ASSERT_TRUE(run_until([&] { return received != -2; }));
  EXPECT_EQ(name, "telegram");
  EXPECT_EQ(generation, 3u);
  ASSERT_GE(received, 0) << "no descriptor arrived with the message";
  EXPECT_EQ(second, -1) << "only one descriptor was sent";

  ASSERT_EQ(::write(received, "ping", 4), 4);
  ::close(received);
  char buf[16];
  ASSERT_EQ(::read(pipe_fds[0], buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  // Every write end is closed now (the sender closed its duplicate once sent): EOF, not EAGAIN.
  EXPECT_EQ(::read(pipe_fds[0], buf, sizeof buf), 0) << "a copy of the descriptor leaked";
}

TEST_F(LinkTest, EachDescriptorIsTakenByTheHandlerOfItsOwnMessage) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  // Three pipes, each sent with its own `peer` message (one of them large, so it spans several
  // reads), interleaved with messages that carry none.
  int pipes[3][2];
  for (auto& p : pipes) {
    ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    raw_.push_back(p[0]);
  }
  std::vector<std::pair<uint32_t, int>> taken;  // generation, fd
  int peers_seen = 0, others_seen = 0;
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  b->start(
      [&](capnp::MessageReader& r) {
        const auto c = r.getRoot<Control>();
        if (c.which() == Control::PEER) {
          ++peers_seen;
          taken.emplace_back(c.getPeer().getGeneration(), b->take_fd());
        } else {
          ++others_seen;
        }
      },
      [](const std::string&) {});
  for (uint32_t i = 0; i < 3; ++i) {
    capnp::MallocMessageBuilder before;
    heartbeat(before, i);
    ASSERT_TRUE(a->send(before));
    capnp::MallocMessageBuilder m;
    auto peer = m.initRoot<Control>().initPeer();
    peer.setGeneration(i);
    peer.setName(i == 1 ? std::string(300 * 1024, 'n') : std::string("w"));
    ASSERT_TRUE(a->send(m, pipes[i][1]));
    ::close(pipes[i][1]);
  }
  ASSERT_TRUE(run_until([&] { return peers_seen == 3 && others_seen == 3; }));
  ASSERT_EQ(taken.size(), 3u);
  for (const auto& [generation, fd] : taken) {
    ASSERT_GE(fd, 0) << "message " << generation << " came without its descriptor";
    const char tag = static_cast<char>('0' + generation);
    ASSERT_EQ(::write(fd, &tag, 1), 1);
    ::close(fd);
  }
  for (uint32_t i = 0; i < 3; ++i) {
    char got = 0;
    ASSERT_EQ(::read(pipes[i][0], &got, 1), 1) << "pipe " << i << " received nothing";
    EXPECT_EQ(got, static_cast<char>('0' + i)) << "pipe " << i << " went to another message";
  }
}

TEST_F(LinkTest, GarbageClosesTheLinkWithAReason) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"all 0xff", std::string(16, '\xff')});
  {
    std::string table(8, '\0');  // one segment of 1e9 words
    const uint32_t count = 0, words = 1'000'000'000;
    std::memcpy(&table[0], &count, 4);
    std::memcpy(&table[4], &words, 4);
    cases.push_back({"segment of 1e9 words", table});
  }
  {
    std::string table(8, '\0');  // 600 segments
    const uint32_t count = 599;
    std::memcpy(&table[0], &count, 4);
    cases.push_back({"600 segments", table});
  }
  {
    // Well framed, but the root is a far pointer into a segment that does not exist.
    std::string msg(16, '\0');
    const uint32_t count = 0, words = 1;
    const uint64_t far_pointer = (uint64_t{5} << 32) | 2;
    std::memcpy(&msg[0], &count, 4);
    std::memcpy(&msg[4], &words, 4);
    std::memcpy(&msg[8], &far_pointer, 8);
    cases.push_back({"far pointer to a missing segment", msg});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    int raw = -1;
    auto link = make_with_raw_peer(raw);
    Inbox& in = inbox();
    link->start(in.on_message(), in.on_closed());
    // A valid message first: it is delivered; nothing after the garbage is.
    capnp::MallocMessageBuilder ok1, ok2;
    heartbeat(ok1, 1);
    heartbeat(ok2, 2);
    write_all(raw, frame_bytes(ok1) + c.bytes + frame_bytes(ok2));
    ASSERT_TRUE(run_until([&] { return !in.closed.empty(); }));
    settle();
    ASSERT_EQ(in.closed.size(), 1u) << "on_closed runs once";
    EXPECT_TRUE(contains(in.closed[0], "garbage")) << in.closed[0];
    EXPECT_EQ(in.texts, std::vector<std::string>{"hb:1:3"});
    EXPECT_FALSE(link->is_open());
  }
}

TEST_F(LinkTest, MessageOverTheWordLimitClosesTheLink) {
  Link::Options small;
  small.max_message_words = 1024;
  const auto ab = make_pair({}, small);
  const auto a = ab.first, b = ab.second;
  Inbox& in_b = inbox();
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  b->start(in_b.on_message(), in_b.on_closed());

  capnp::MallocMessageBuilder fits, too_big;
  text_message(fits, std::string(4000, 'x'));  // ~500 words
  text_message(too_big, std::string(20'000, 'y'));
  ASSERT_TRUE(a->send(fits));
  ASSERT_TRUE(a->send(too_big));
  ASSERT_TRUE(run_until([&] { return !in_b.closed.empty(); }));
  EXPECT_TRUE(contains(in_b.closed[0], "larger than 1024 words")) << in_b.closed[0];
  ASSERT_EQ(in_b.texts.size(), 1u);
  EXPECT_EQ(in_b.texts[0], "reload:" + std::string(4000, 'x'));
  EXPECT_FALSE(b->is_open());
}

TEST_F(LinkTest, PeerEofAndLocalCloseBothReportOnce) {
  {
    int raw = -1;
    auto link = make_with_raw_peer(raw);
    Inbox& in = inbox();
    link->start(in.on_message(), in.on_closed());
    ::close(raw);
    forget_raw(raw);
    ASSERT_TRUE(run_until([&] { return !in.closed.empty(); }));
    settle();
    ASSERT_EQ(in.closed.size(), 1u);
    EXPECT_TRUE(contains(in.closed[0], "closed")) << in.closed[0];
    EXPECT_FALSE(link->is_open());
  }
  {
    const auto ab = make_pair();
    const auto a = ab.first, b = ab.second;
    Inbox& in_a = inbox();
    Inbox& in_b = inbox();
    a->start(in_a.on_message(), in_a.on_closed());
    b->start(in_b.on_message(), in_b.on_closed());
    a->close("shutting down");
    a->close("twice");
    ASSERT_TRUE(run_until([&] { return !in_b.closed.empty() && !in_a.closed.empty(); }));
    settle();
    EXPECT_EQ(in_a.closed, std::vector<std::string>{"shutting down"});
    EXPECT_EQ(in_b.closed.size(), 1u);
  }
}

TEST_F(LinkTest, PeerThatNeverReadsIsDroppedPastTheQueueBound) {
  Link::Options opts;
  opts.max_queued_bytes = 64 * 1024;
  int raw = -1;  // never read
  auto link = make_with_raw_peer(raw, opts);
  Inbox& in = inbox();
  link->start(in.on_message(), in.on_closed());

  int accepted = 0;
  bool refused = false;
  for (int i = 0; i < 10'000 && !refused; ++i) {  // 10 000 * 4 KB = 40 MB: far past any buffer
    capnp::MallocMessageBuilder m;
    text_message(m, std::string(4000, 'q'));
    if (link->send(m)) {
      ++accepted;
    } else {
      refused = true;
    }
  }
  ASSERT_TRUE(refused) << "the link kept queueing for a peer that never reads";
  EXPECT_GT(accepted, 0);
  EXPECT_FALSE(link->is_open());
  ASSERT_TRUE(run_until([&] { return !in.closed.empty(); }));
  EXPECT_TRUE(contains(in.closed[0], "not reading")) << in.closed[0];

  capnp::MallocMessageBuilder m;
  heartbeat(m, 1);
  EXPECT_FALSE(link->send(m)) << "send() after close must report the drop";
}

TEST_F(LinkTest, SendAfterCloseReturnsFalse) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  Inbox& in_b = inbox();
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  b->start(in_b.on_message(), in_b.on_closed());
  a->close();
  capnp::MallocMessageBuilder m;
  heartbeat(m, 9);
  EXPECT_FALSE(a->send(m));
  ASSERT_TRUE(run_until([&] { return !in_b.closed.empty(); }));
  EXPECT_TRUE(in_b.texts.empty()) << "a message sent after close must not arrive";
}

TEST_F(LinkTest, HandlerExceptionClosesTheLinkInsteadOfEscaping) {
  const auto ab = make_pair();
  const auto a = ab.first, b = ab.second;
  std::vector<std::string> closed;
  int calls = 0;
  a->start([](capnp::MessageReader&) {}, [](const std::string&) {});
  b->start(
      [&](capnp::MessageReader&) {
        ++calls;
        throw std::runtime_error("boom");
      },
      [&](const std::string& why) { closed.push_back(why); });
  for (uint64_t i = 0; i < 3; ++i) {
    capnp::MallocMessageBuilder m;
    heartbeat(m, i);
    ASSERT_TRUE(a->send(m));
  }
  ASSERT_TRUE(run_until([&] { return !closed.empty(); }));
  settle();
  EXPECT_EQ(calls, 1) << "no callbacks after the link ended";
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_TRUE(contains(closed[0], "boom")) << closed[0];
}

// Errors cross a link typed and come out as the protocol code a client is answered with.
TEST(IpcError, RoundTripsTypedAndMapsToTheProtocolCode) {
  capnp::MallocMessageBuilder b;
  auto d = b.initRoot<Data>().initDelivery();
  write_error(Error{ErrorCode::RATE_LIMITED, "слишком быстро 太快了 🐢", true, 7000}, d.initError());
  const Error e = read_error(d.getError());
  EXPECT_EQ(e.code, ErrorCode::RATE_LIMITED);
  EXPECT_EQ(e.message, "слишком быстро 太快了 🐢");
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.retry_after_ms, 7000);
  EXPECT_STREQ(error_name(e.code), "RATE_LIMITED");
  EXPECT_STREQ(protocol_code(ErrorCode::RATE_LIMITED), "UNAVAILABLE");
  EXPECT_STREQ(protocol_code(ErrorCode::NOT_FOUND), "INVALID_REQUEST");
  EXPECT_STREQ(protocol_code(ErrorCode::INVALID_REQUEST), "INVALID_REQUEST");
  EXPECT_STREQ(protocol_code(ErrorCode::TIMEOUT), "AGENT_TIMEOUT");
  // A retry delay past what the wire holds is clamped, not wrapped.
  write_error(Error{ErrorCode::UNAVAILABLE, "x", true, int64_t{1} << 40}, d.initError());
  EXPECT_EQ(read_error(d.getError()).retry_after_ms, int64_t{UINT32_MAX});
  // A code a newer peer knows and this build does not reads as UNAVAILABLE.
  d.getError().setCode(static_cast<ErrorCode>(200));
  EXPECT_EQ(read_error(d.getError()).code, ErrorCode::UNAVAILABLE);
}

}  // namespace
}  // namespace clawgate::ipc
