// The channel workers' common parts: the inbound journal (what survives a kill, what a tampered
// file cannot smuggle in) and the Outbox (results remembered for re-sends, repeats ignored,
// order kept through retries, a new front's share of the queue).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <capnp/serialize.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "channel_worker.hpp"
#include "clock.hpp"
#include "contract.hpp"
#include "fs.hpp"
#include "inbound_journal.hpp"
#include "utf8.hpp"

namespace clawgate::workers {
namespace {

using nlohmann::json;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/channel-worker-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

// One Data.inbound message.
struct Msg {
  explicit Msg(const std::string& id, const std::string& text) {
    auto in = b.initRoot<ipc::Data>().initInbound();
    in.setId(id);
    in.setChatId("C0CHAN");
    in.setChatType(ipc::ChatType::CHANNEL);
    in.setSenderId("U0USER");
    in.setText(text);
    in.setWasMentioned(true);
    auto roles = in.initSenderRoles(1);
    roles.set(0, "42");
  }
  ipc::Inbound::Reader get() { return b.getRoot<ipc::Data>().asReader().getInbound(); }
  capnp::MallocMessageBuilder b;
};

ipc::Inbound::Reader inbound_of(kj::Array<capnp::word>& words,
                                std::unique_ptr<capnp::FlatArrayMessageReader>& keep) {
  keep = std::make_unique<capnp::FlatArrayMessageReader>(words);
  return keep->getRoot<ipc::Data>().getInbound();
}

TEST(InboundJournal, WhatTheFrontDidNotAcknowledgeSurvivesARestart) {
  TempDir dir;
  const std::string path = dir.path + "/inbound.jsonl";
  {
    InboundJournal j(path, 10);
    EXPECT_TRUE(j.take_loaded().empty());
    Msg a("1", "first 你好"), b("2", "second"), c("3", "third");
    ASSERT_TRUE(j.add(a.get()));
    ASSERT_TRUE(j.add(b.get()));
    ASSERT_TRUE(j.add(c.get()));
    ASSERT_TRUE(j.ack("2", {a.get(), c.get()}));
  }
  // A torn last line and garbage from a tampered file are skipped.
  std::ofstream(path, std::ios::app) << "not json\n{\"add\": {\"id\": 5}}\n{\"add\":";
  {
    InboundJournal j(path, 10);
    auto loaded = j.take_loaded();
    ASSERT_EQ(loaded.size(), 2u);
    std::unique_ptr<capnp::FlatArrayMessageReader> k0, k1;
    const auto m0 = inbound_of(loaded[0], k0), m1 = inbound_of(loaded[1], k1);
    EXPECT_EQ(std::string(m0.getText().cStr()), "first 你好");
    EXPECT_EQ(std::string(m1.getId().cStr()), "3");
    EXPECT_TRUE(m1.getWasMentioned());
    EXPECT_EQ(m1.getChatType(), ipc::ChatType::CHANNEL);
    ASSERT_EQ(m1.getSenderRoles().size(), 1u);
    EXPECT_EQ(std::string(m1.getSenderRoles()[0].cStr()), "42");
    ASSERT_TRUE(j.ack("1", {m1}));
    ASSERT_TRUE(j.ack("3", {}));
  }
  EXPECT_EQ(read_file(path).value_or("x"), "") << "emptied once nothing waits";
  EXPECT_TRUE(InboundJournal(path, 10).take_loaded().empty());
  // At most `max`, the newest.
  {
    InboundJournal j(path, 2);
    for (int i = 1; i <= 5; ++i) j.add(Msg(std::to_string(i), "m").get());
  }
  auto newest = InboundJournal(path, 2).take_loaded();
  ASSERT_EQ(newest.size(), 2u);
  std::unique_ptr<capnp::FlatArrayMessageReader> k;
  EXPECT_EQ(std::string(inbound_of(newest[0], k).getId().cStr()), "4");
}

// Discord holds a guild message while it looks up the place; the lookup's answer (names, a
// thread's parent) is journaled again, and the later line replaces the first on load, so a
// worker killed before the front has it hands on what the lookup found. Old lines without the
// name fields still load.
TEST(InboundJournal, APlaceFilledInLaterReplacesTheHeldMessageAndNamesSurvive) {
  TempDir dir;
  const std::string path = dir.path + "/inbound.jsonl";
  {
    InboundJournal j(path, 10);
    Msg held("7", "in a thread 线程"), other("8", "next");
    ASSERT_TRUE(j.add(held.get()));
    ASSERT_TRUE(j.add(other.get()));
    Msg done("7", "in a thread 线程");
    auto in = done.b.getRoot<ipc::Data>().getInbound();
    in.setParentChatId("20");
    in.setThreadId("C0CHAN");
    in.setGroupName("My Server");
    in.setChatName("help");
    in.setParentChatName("support");
    ASSERT_TRUE(j.add(done.get()));
  }
  std::ofstream(path, std::ios::app)
      << R"({"add":{"id":"9","chatId":"1","senderId":"2","senderName":"","senderUsername":"",)"
      << R"("messageId":"9","groupId":"","threadId":"","parentChatId":"","text":"old",)"
      << R"("chatType":"direct"}})"
      << "\n";
  InboundJournal j(path, 10);
  auto loaded = j.take_loaded();
  ASSERT_EQ(loaded.size(), 3u) << "7 once, in its first place";
  std::unique_ptr<capnp::FlatArrayMessageReader> k0, k2;
  const auto m0 = inbound_of(loaded[0], k0);
  EXPECT_EQ(std::string(m0.getId().cStr()), "7");
  EXPECT_EQ(std::string(m0.getParentChatId().cStr()), "20");
  EXPECT_EQ(std::string(m0.getGroupName().cStr()), "My Server");
  EXPECT_EQ(std::string(m0.getChatName().cStr()), "help");
  EXPECT_EQ(std::string(m0.getParentChatName().cStr()), "support");
  EXPECT_EQ(std::string(inbound_of(loaded[2], k2).getText().cStr()), "old")
      << "a line from before the names existed";
}

// A disk that fills up mid-line (here: the file size limit) must not leave a fragment that the
// next line joins: the journal's log is cut back to its last whole line before the error.
TEST(InboundJournal, AWriteCutShortLeavesNoFragmentForTheNextLine) {
  TempDir dir;
  const std::string path = dir.path + "/log.jsonl";
  AppendLog log(path);
  log.append("{\"add\":\"first\"}");
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  struct rlimit cap = old;
  cap.rlim_cur = log.size() + 8;  // room for part of the next line only
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &cap), 0);
  EXPECT_THROW(log.append("{\"add\":\"second, cut short by the limit\"}"), std::system_error);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  log.append("{\"add\":\"third\"}");
  EXPECT_EQ(read_lines(path),
            (std::vector<std::string>{"{\"add\":\"first\"}", "{\"add\":\"third\"}"}));
}

TEST(InboundJournal, MessagesReadBackAreCheckedLikeAPeersInput) {
  Msg m("7", "hello");
  const json j = inbound_to_json(m.get());
  auto read = [](const json& x) {
    capnp::MallocMessageBuilder b;
    return inbound_from_json(x, b.initRoot<ipc::Data>().initInbound());
  };
  EXPECT_TRUE(read(j));
  for (const char* key : {"id", "chatId", "senderId", "text", "chatType"}) {
    json bad = j;
    bad[key] = 5;
    EXPECT_FALSE(read(bad)) << key;
  }
  json no_id = j;
  no_id["id"] = "";
  EXPECT_FALSE(read(no_id)) << "nothing to acknowledge it by";
  json weird = j;
  weird["chatType"] = "weird";
  EXPECT_FALSE(read(weird));
  json repaired = j;
  repaired["text"] = std::string("a\xff") + std::string(70'000, 'x');
  repaired["wasMentioned"] = "yes";
  capnp::MallocMessageBuilder b;
  auto in = b.initRoot<ipc::Data>().initInbound();
  ASSERT_TRUE(inbound_from_json(repaired, in));
  EXPECT_TRUE(utf8::valid(std::string(in.getText().cStr())));
  EXPECT_LE(in.getText().size(), 64u * 1024);
  EXPECT_FALSE(in.getWasMentioned()) << "a field of another type reads as unset";
}

// An Outbox whose platform records each step and answers when the test says.
struct OutboxRig {
  OutboxRig()
      : out(io, {[](Outbox::Delivery& d, std::string_view text) -> std::optional<Error> {
                   if (text == "bad target") return Error::invalid("no such chat");
                   for (char c : text) d.chunks.emplace_back(1, c);  // a chunk a character
                   return std::nullopt;
                 },
                 [this](Outbox::Delivery& d) { steps.push_back(d.id + ":" + d.chunks[d.next]); },
                 [this](const Outbox::Delivery& d, const std::optional<Error>& e) {
                   std::string ids;
                   for (const auto& id : d.message_ids) ids += id;
                   reports.push_back(d.id + (e ? " failed: " + e->message : " ok " + ids));
                 }}) {}
  void ok(const std::string& id) {
    ASSERT_NE(out.landed(), nullptr);
    out.sent(id);
  }
  boost::asio::io_context io;
  std::vector<std::string> steps, reports;
  Outbox out;
};

TEST(Outbox, DeliversInOrderAndAnswersARepeatWithItsResult) {
  OutboxRig r;
  r.out.offer("d1", "chat", "ab");
  r.out.offer("d2", "chat", "c");
  r.out.offer("d1", "chat", "ab");  // queued already: ignored
  EXPECT_EQ(r.steps, (std::vector<std::string>{"d1:a"})) << "one at a time";
  r.ok("m1");
  r.ok("m2");
  r.ok("m3");
  EXPECT_EQ(r.steps, (std::vector<std::string>{"d1:a", "d1:b", "d2:c"}));
  EXPECT_EQ(r.reports, (std::vector<std::string>{"d1 ok m1m2", "d2 ok m3"}));
  r.out.offer("d1", "chat", "ab");  // a front that never heard back sends it again
  EXPECT_EQ(r.reports.back(), "d1 ok m1m2");
  EXPECT_EQ(r.steps.size(), 3u) << "the result, not a second message";
  r.out.offer("d3", "chat", "bad target");
  r.out.offer("d4", "chat", "");
  EXPECT_EQ(r.reports[3], "d3 failed: no such chat");
  EXPECT_EQ(r.reports[4], "d4 failed: empty message");
}

TEST(Outbox, ARetryKeepsTheOrderAndANewFrontKeepsOnlyWhatIsInFlight) {
  OutboxRig r;
  r.out.offer("d1", "chat", "ab");
  r.out.offer("d2", "chat", "c");
  r.out.offer("d3", "chat", "d");
  ASSERT_NE(r.out.landed(), nullptr);
  r.out.retry_in(1);
  r.out.offer("d4", "chat", "e");  // waits behind the retry
  EXPECT_EQ(r.steps.size(), 1u);
  r.io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(r.steps, (std::vector<std::string>{"d1:a", "d1:a"}));
  r.ok("m1");  // d1 half sent
  r.out.on_new_front();
  r.ok("m2");
  EXPECT_EQ(r.reports, (std::vector<std::string>{"d1 ok m1m2"}))
      << "d2..d4 are the new front's to send again";
  EXPECT_EQ(r.steps.size(), 3u);
}

}  // namespace
}  // namespace clawgate::workers

namespace clawgate::workers {
namespace {

// A FrontLink and a fake front on a socketpair, one loop.
TEST(FrontLink, OffersWhatIsUnacknowledgedToEachFrontAndJournalsIt) {
  TempDir dir;
  boost::asio::io_context io;
  SystemClock clock;
  Logger log(clock, nullptr);
  std::vector<std::string> heard, acked;
  auto front_end = [&](std::shared_ptr<ipc::Link>& front, int fd) {
    front = ipc::Link::create(io, fd, ipc::contract::data_link("worker"));
    front->start(
        [&](capnp::MessageReader& r) {
          auto msg = r.getRoot<ipc::Data>();
          if (msg.isInbound()) heard.push_back(msg.getInbound().getId().cStr());
          if (msg.isHello()) heard.push_back("hello");
        },
        [](const std::string&) {});
  };
  std::string other;
  {
    FrontLink link(io, log, {"test", "default", dir.path + "/inbound.jsonl", 10},
                   {[](ipc::WorkerStatus::Builder s) { s.setConnected(true); },
                    {},
                    [&](const std::string& id) { acked.push_back(id); },
                    nullptr,
                    [&](ipc::Data::Reader m) {
                      other = m.isDelivery() ? "delivery" : "?";
                      return true;
                    }});
    int fds[2];
    ipc::make_socketpair(fds);
    std::shared_ptr<ipc::Link> front;
    front_end(front, fds[1]);
    link.attach(fds[0], 1);
    Msg a("a", "one"), b("b", "two"), c("c", "three");
    link.offer(a.b);
    link.offer(b.b, /*held=*/true);
    link.offer(c.b);
    io.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(heard, (std::vector<std::string>{"hello", "a"})) << "c waits behind the held b";
    link.release(b.b);
    io.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(heard, (std::vector<std::string>{"hello", "a", "b", "c"}));
    capnp::MallocMessageBuilder ack;
    ack.initRoot<ipc::Data>().setInboundAck("b");
    front->send(ack);
    capnp::MallocMessageBuilder odd;
    odd.initRoot<ipc::Data>().initDelivery();
    front->send(odd);
    io.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(acked, std::vector<std::string>{"b"});
    EXPECT_EQ(other, "delivery") << "a worker-specific message reaches its handler";
    EXPECT_EQ(link.pending_ids(), (std::vector<std::string>{"a", "c"}));
    // A new front hears everything unacknowledged again.
    heard.clear();
    ipc::make_socketpair(fds);
    front_end(front, fds[1]);
    link.attach(fds[0], 2);
    io.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(heard, (std::vector<std::string>{"hello", "a", "c"}));
  }
  // The next run (a killed worker's successor) starts with them.
  FrontLink next(io, log, {"test", "default", dir.path + "/inbound.jsonl", 10},
                 {[](ipc::WorkerStatus::Builder) {}, {}, nullptr, nullptr, nullptr});
  EXPECT_EQ(next.pending_ids(), (std::vector<std::string>{"a", "c"}));
}

}  // namespace
}  // namespace clawgate::workers
