// Unit tests: the front's half of Slack HTTP mode. The config's webhookPath checks (a plain path,
// not one of the front's own, one account per path); the channel hub relaying a request to the
// account's worker over the data link raw and the worker's answer back, and answering 503 itself
// when no worker is up, the worker goes away, or it stays silent past the deadline; an answer
// for a request that link was not given is garbage, and a live worker left without a link is
// restarted; X-Slack-Retry-Num read bounded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <capnp/message.h>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "channel_config.hpp"
#include "contract.hpp"
#include "core/channels.hpp"
#include "core/sessions.hpp"
#include "link.hpp"
#include "webhooks.hpp"

namespace clawgate {
namespace {

using namespace std::chrono_literals;
using Answer = core::ChannelHub::WebhookAnswer;

bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(2ms);
  }
  return true;
}

TEST(SlackWebhookConfig, PathsArePlainAndOnePerAccount) {
  EXPECT_EQ(webhook_path_problem("/slack/events"), "");
  EXPECT_EQ(webhook_path_problem("/hooks/slack-work_2.v1~x"), "");
  for (const char* bad :
       {"", "/", "slack/events", "/slack/events?x=1", "/slack/%65vents", "/slack events",
        "/slack/é", "/healthz", "/index.html", "/__openclaw__/canvas/x"})
    EXPECT_NE(webhook_path_problem(bad), "") << bad;

  std::vector<ChannelSettings> chans(3);
  for (size_t i = 0; i < chans.size(); ++i) {
    chans[i].name = "slack";
    chans[i].account_id = "a" + std::to_string(i);
    chans[i].webhook_path = "/slack/a" + std::to_string(i);
  }
  cfg::Issues is;
  check_webhook_paths(chans, is);
  EXPECT_TRUE(is.items().empty());
  chans[2].webhook_path = "/slack/a0";
  check_webhook_paths(chans, is);
  ASSERT_EQ(is.items().size(), 1u);
  EXPECT_EQ(is.items()[0].path, "channels.slack.accounts.a2.webhookPath");
  EXPECT_NE(is.items()[0].message.find("a0"), std::string::npos) << is.items()[0].message;
  // A disabled account takes no path.
  cfg::Issues quiet;
  chans[2].enabled = false;
  check_webhook_paths(chans, quiet);
  EXPECT_TRUE(quiet.items().empty());
}

TEST(SlackWebhookConfig, RetryNumbersAreReadBounded) {
  EXPECT_EQ(front::parse_retry_num("1"), 1);
  EXPECT_EQ(front::parse_retry_num("0"), 0);
  EXPECT_EQ(front::parse_retry_num("100"), 100);
  for (const char* bad : {"", "-1", "101", "1000", "1e3", " 1", "x"})
    EXPECT_EQ(front::parse_retry_num(bad), -1) << bad;
}

// The hub with one HTTP-mode Slack account; the test plays its worker.
class HubWebhookTest : public ::testing::Test {
 protected:
  HubWebhookTest() : dir_("/tmp/clawgate-webhook-test-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    settings_.state_dir = dir_;
    ChannelSettings slack;
    slack.name = "slack";
    slack.webhook_path = "/slack/events";
    settings_.channels.push_back(slack);
    ChannelSettings off = slack;
    off.account_id = "off";
    off.enabled = false;
    off.webhook_path = "/slack/off";
    settings_.channels.push_back(off);
    sessions_ = std::make_unique<core::SessionStore>(dir_);
    hub_ = std::make_unique<core::ChannelHub>(io_, clock_, log_, settings_, sessions_.get());
  }
  ~HubWebhookTest() override {
    if (worker_) worker_->close("test over");
    hub_.reset();
    sessions_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A worker generation for the default account; it records each request it is handed and
  // answers it when `answer` is set.
  void start_worker(uint32_t generation) {
    if (worker_) worker_->close("replaced");
    int fds[2];
    ipc::make_socketpair(fds);
    hub_->attach_worker(fds[0], "slack", "slack", "default", generation);
    worker_ = ipc::Link::create(io_, fds[1], ipc::contract::data_link("test-worker"));
    worker_->start(
        [this](capnp::MessageReader& r) {
          auto m = r.getRoot<ipc::Data>();
          if (!m.isHttpRequest()) return;
          auto q = m.getHttpRequest();
          const auto body = q.getBody();
          seen_.push_back({q.getRequestId(), q.getContentType(), q.getTimestamp(), q.getSignature(),
                           q.getRetryNum(),
                           std::string(reinterpret_cast<const char*>(body.begin()), body.size())});
          if (answer_status_) respond(q.getRequestId(), answer_status_, "the answer");
        },
        [](const std::string&) {});
    capnp::MallocMessageBuilder b;
    auto h = b.initRoot<ipc::Data>().initHello();
    h.setChannel("slack");
    h.setAccountId("default");
    h.setGeneration(generation);
    worker_->send(b);
    io_.restart();
    io_.run_for(20ms);  // the hello is read
  }
  void respond(uint64_t id, uint16_t status, const std::string& body) {
    capnp::MallocMessageBuilder b;
    auto r = b.initRoot<ipc::Data>().initHttpResponse();
    r.setRequestId(id);
    r.setStatus(status);
    r.setContentType("text/plain");
    r.setBody(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(body.data()), body.size()));
    worker_->send(b);
  }
  void post(const std::string& body = "{\"type\":\"event_callback\"}") {
    core::ChannelHub::WebhookRequest req;
    req.content_type = "application/json";
    req.timestamp = "1700000000";
    req.signature = "v0=abc";
    req.retry_num = 1;
    req.body = body;
    hub_->webhook("/slack/events", req, [this](Answer a) { answers_.push_back(a); });
  }

  struct Seen {
    uint64_t id;
    std::string content_type, timestamp, signature;
    int retry_num;
    std::string body;
  };
  std::string dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  Logger log_{clock_, nullptr, LogLevel::error};
  GatewaySettings settings_;
  std::unique_ptr<core::SessionStore> sessions_;
  std::unique_ptr<core::ChannelHub> hub_;
  std::shared_ptr<ipc::Link> worker_;
  std::vector<Seen> seen_;
  std::vector<Answer> answers_;
  uint16_t answer_status_ = 0;
};

TEST_F(HubWebhookTest, OnlyEnabledAccountsPathsAreServed) {
  EXPECT_TRUE(front::ChannelWebhooks::wanted(settings_));
  GatewaySettings none = settings_;
  none.channels[0].enabled = false;
  EXPECT_FALSE(front::ChannelWebhooks::wanted(none)) << "the transport is not even told";
  EXPECT_TRUE(hub_->serves_webhook("/slack/events"));
  EXPECT_FALSE(hub_->serves_webhook("/slack/off")) << "a disabled account";
  EXPECT_FALSE(hub_->serves_webhook("/slack/events/"));
  EXPECT_FALSE(hub_->serves_webhook("/"));
  EXPECT_FALSE(hub_->serves_webhook(""));
}

TEST_F(HubWebhookTest, TheRequestGoesToTheWorkerRawAndItsAnswerBack) {
  answer_status_ = 200;
  start_worker(1);
  const std::string body = "{\"type\":\"event_callback\",\"text\":\"héllo \\u0000 😀\"}";
  post(body);
  ASSERT_TRUE(run_until(io_, [&] { return !answers_.empty(); }));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].body, body);
  EXPECT_EQ(seen_[0].timestamp, "1700000000");
  EXPECT_EQ(seen_[0].signature, "v0=abc");
  EXPECT_EQ(seen_[0].retry_num, 1);
  EXPECT_EQ(seen_[0].content_type, "application/json");
  EXPECT_EQ(answers_[0].status, 200);
  EXPECT_EQ(answers_[0].body, "the answer");
  EXPECT_EQ(answers_[0].content_type, "text/plain");
  // The worker's own refusal (a bad signature) is passed on as it is.
  answer_status_ = 401;
  post();
  ASSERT_TRUE(run_until(io_, [&] { return answers_.size() == 2; }));
  EXPECT_EQ(answers_[1].status, 401);
}

TEST_F(HubWebhookTest, NoWorkerIsA503AtOnce) {
  post();
  ASSERT_EQ(answers_.size(), 1u) << "answered before the call returned";
  EXPECT_EQ(answers_[0].status, 503);
}

TEST_F(HubWebhookTest, AWorkerThatGoesAwayOrStaysSilentIsA503) {
  start_worker(1);  // answers nothing
  post();
  ASSERT_TRUE(run_until(io_, [&] { return seen_.size() == 1; }));
  worker_->close("killed");
  ASSERT_TRUE(run_until(
      io_, [&] { return answers_.size() == 1; }, 1000ms))
      << "the link's end answers at once, not at the deadline";
  EXPECT_EQ(answers_[0].status, 503);
  start_worker(2);
  const auto t0 = std::chrono::steady_clock::now();
  post();
  ASSERT_TRUE(run_until(io_, [&] { return answers_.size() == 2; }));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(answers_[1].status, 503);
  EXPECT_GE(waited, std::chrono::milliseconds(core::ChannelHub::kWebhookWaitMs - 50));
  EXPECT_LT(waited, 3000ms) << "under Slack's 3 s";
  // A late answer is dropped (the caller had its 503); the next request is answered normally.
  respond(seen_.back().id, 200, "late");
  answer_status_ = 200;
  post();
  ASSERT_TRUE(run_until(io_, [&] { return answers_.size() == 3; }));
  EXPECT_EQ(answers_[2].status, 200);
  EXPECT_EQ(answers_.size(), 3u);
}

TEST_F(HubWebhookTest, AnAnswerForARequestThisLinkWasNotGivenIsGarbage) {
  start_worker(1);
  post();
  ASSERT_TRUE(run_until(io_, [&] { return seen_.size() == 1; }));
  respond(seen_[0].id, 999, "bad status");  // out of range: the link is closed, 503 follows
  ASSERT_TRUE(run_until(
      io_, [&] { return answers_.size() == 1; }, 1000ms));
  EXPECT_EQ(answers_[0].status, 503);
}

// The front closed the link for garbage but the worker process lives on: without a new link in
// kOrphanGraceMs the hub asks the supervisor to restart it (its inbound must reach a front);
// a worker that reconnects in time, or one the supervisor is already restarting, is left alone.
TEST_F(HubWebhookTest, ALiveWorkerLeftWithoutALinkIsRestarted) {
  std::vector<std::string> restarts;
  hub_->restart_child = [&](const std::string& child, core::ReplyFn done) {
    restarts.push_back(child);
    done(core::Reply::ok(nlohmann::json::object()));
  };
  core::ChannelHub::ChildRow row;
  row.name = "slack";
  row.role = "channel";
  row.channel = "slack";
  row.account_id = "default";
  row.state = "running";
  row.generation = 1;
  hub_->set_children({row});
  start_worker(1);
  post();
  ASSERT_TRUE(run_until(io_, [&] { return seen_.size() == 1; }));
  respond(seen_[0].id, 999, "bad status");  // garbage: the front closes the link
  ASSERT_TRUE(run_until(
      io_, [&] { return !answers_.empty(); }, 1000ms));
  EXPECT_FALSE(run_until(
      io_, [&] { return !restarts.empty(); }, 3000ms))
      << "not before the grace";
  ASSERT_TRUE(run_until(
      io_, [&] { return !restarts.empty(); }, 4000ms));
  EXPECT_EQ(restarts, std::vector<std::string>{"slack"});

  // Garbage again, but the supervisor is restarting it already (another generation): nothing.
  row.generation = 2;
  hub_->set_children({row});
  start_worker(2);
  post();
  ASSERT_TRUE(run_until(io_, [&] { return seen_.size() == 2; }));
  respond(seen_[1].id, 999, "bad status");
  ASSERT_TRUE(run_until(
      io_, [&] { return answers_.size() == 2; }, 1000ms));
  row.state = "backoff";
  hub_->set_children({row});
  EXPECT_FALSE(run_until(
      io_, [&] { return restarts.size() > 1; }, 6000ms));
}

}  // namespace
}  // namespace clawgate
