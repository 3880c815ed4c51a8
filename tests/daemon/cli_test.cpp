// CLI tests with the real `clawgate` binary. Credentials: pointed at a small fake gateway that
// records what each connect request carried, the saved token and the environment's token reach
// a gateway on this machine, never one on another host; another host gets only what --token
// names, and plain ws:// to it needs --dangerously-allow-insecure-ws. `clawgate config`: exit
// codes (0, 1 nothing at a path, 2 usage, 78 invalid) and messages naming each key path.
// `clawgate devices`: list, approve, reject and remove against a real gateway.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/wait.h>
#include <cstdlib>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "test_device.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Accepts WebSocket connections on `address`, sends a challenge, records the connect request's
// params and answers it with an error (the CLI then exits 1).
class FakeGateway {
 public:
  explicit FakeGateway(const std::string& address)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address(address), 0)) {
    url_ = "ws://" + address + ":" + std::to_string(acceptor_.local_endpoint().port());
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeGateway() {
    io_.stop();
    thread_.join();
  }
  const std::string& url() const { return url_; }
  int tcp_connections() const {
    std::lock_guard<std::mutex> l(mu_);
    return tcp_connections_;
  }
  std::vector<Json> connects() const {
    std::lock_guard<std::mutex> l(mu_);
    return connects_;
  }

 private:
  using Ws = websocket::stream<tcp::socket>;
  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      {
        std::lock_guard<std::mutex> l(mu_);
        ++tcp_connections_;
      }
      serve(std::make_shared<Ws>(std::move(s)));
      accept();
    });
  }
  void serve(std::shared_ptr<Ws> ws) {
    ws->async_accept([this, ws](beast::error_code ec) {
      if (ec) return;
      auto challenge = std::make_shared<std::string>(
          R"({"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":1}})");
      ws->async_write(
          asio::buffer(*challenge), [this, ws, challenge](beast::error_code ec, size_t) {
            if (ec) return;
            auto buf = std::make_shared<beast::flat_buffer>();
            ws->async_read(*buf, [this, ws, buf](beast::error_code ec, size_t) {
              if (ec) return;
              const Json frame = Json::parse(beast::buffers_to_string(buf->data()), nullptr, false);
              {
                std::lock_guard<std::mutex> l(mu_);
                connects_.push_back(frame.is_object() ? frame.value("params", Json()) : Json());
              }
              auto res = std::make_shared<std::string>(
                  Json{{"type", "res"},
                       {"id", frame.is_object() ? frame.value("id", "x") : "x"},
                       {"ok", false},
                       {"error", {{"code", "INVALID_REQUEST"}, {"message", "fake gateway"}}}}
                      .dump());
              ws->async_write(asio::buffer(*res), [ws, res](beast::error_code, size_t) {
                ws->async_close(websocket::close_code::policy_error, [ws](beast::error_code) {});
              });
            });
          });
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::string url_;
  mutable std::mutex mu_;
  int tcp_connections_ = 0;
  std::vector<Json> connects_;
};

// An IPv4 address of this machine that is not loopback; "" when it has none.
std::string non_loopback_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string out;
  for (ifaddrs* i = list; i && out.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    out = buf;
  }
  freeifaddrs(list);
  return out;
}

struct CliRun {
  int exit_code = -1;
  std::string output;
};

// Runs `clawgate <args>` with a state directory holding a saved token, plus `env`.
CliRun run_cli(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  char dir[] = "/tmp/clawgate-cli-XXXXXX";
  EXPECT_TRUE(mkdtemp(dir));
  std::ofstream(std::string(dir) + "/gateway-token") << "saved-secret\n";
  env["CLAWGATE_STATE_DIR"] = dir;
  env["PATH"] = "/usr/bin:/bin";
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  args.insert(args.begin(), CLAWGATE_BIN);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out = std::string(dir) + "/out";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  CliRun r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  r.output = read_text(out);
  return r;
}

std::string sent_token(const Json& params) {
  return params.value("auth", Json::object()).value("token", "");
}

TEST(Cli, AGatewayOnThisMachineGetsTheSavedOrEnvironmentToken) {
  FakeGateway local("127.0.0.2");  // loopback, though not 127.0.0.1
  CliRun r = run_cli({"health", "--url", local.url(), "--timeout", "3000"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = run_cli({"health", "--url", local.url(), "--timeout", "3000"},
              {{"OPENCLAW_GATEWAY_TOKEN", "env-secret"}});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const auto c = local.connects();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(sent_token(c[0]), "saved-secret");
  EXPECT_EQ(sent_token(c[1]), "env-secret");
}

TEST(Cli, AnotherHostGetsOnlyAnExplicitTokenAndPlainWsNeedsTheDangerousFlag) {
  const std::string address = non_loopback_address();
  if (address.empty()) {
    if (in_ci()) FAIL() << "this machine has no non-loopback IPv4 address; CI must have one";
    GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
  }
  FakeGateway remote(address);
  const std::map<std::string, std::string> env = {{"OPENCLAW_GATEWAY_TOKEN", "env-secret"}};

  CliRun r = run_cli({"health", "--url", remote.url(), "--token", "typed"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--dangerously-allow-insecure-ws"), std::string::npos) << r.output;

  r = run_cli({"health", "--url", remote.url(), "--dangerously-allow-insecure-ws"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--token"), std::string::npos) << r.output;
  EXPECT_EQ(remote.tcp_connections(), 0) << "refused before connecting";

  r = run_cli({"health", "--url", remote.url(), "--dangerously-allow-insecure-ws", "--token",
               "typed", "--timeout", "3000"},
              env);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const auto c = remote.connects();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(sent_token(c[0]), "typed");
  const std::string frame = c[0].dump();
  EXPECT_EQ(frame.find("env-secret"), std::string::npos);
  EXPECT_EQ(frame.find("saved-secret"), std::string::npos);
}

// A file in a fresh directory; returns its path.
std::string write_config(const std::string& text) {
  char dir[] = "/tmp/clawgate-cli-cfg-XXXXXX";
  EXPECT_TRUE(mkdtemp(dir));
  const std::string path = std::string(dir) + "/openclaw.json";
  std::ofstream(path) << text;
  return path;
}

bool has(const CliRun& r, const std::string& part) {
  return r.output.find(part) != std::string::npos;
}

TEST(CliConfig, ValidateNamesEveryProblemsKeyPathAndExits78) {
  const std::string bad = write_config(R"({
    // comments are fine
    "gateway": {"port": 70000, "auth": {"rateLimit": {"maxAttempts": "ten"}}},
    "channels": {"telegram": {"groups": {"-100.5": {"requireMention": "yes"}}}},
    "gatway": {}
  })");
  CliRun r = run_cli({"config", "validate", bad});
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_TRUE(has(r, bad + ": gateway.port: must be an integer from 0 to 65535 (got 70000)"))
      << r.output;
  EXPECT_TRUE(has(r, "gateway.auth.rateLimit.maxAttempts: must be an integer")) << r.output;
  EXPECT_TRUE(has(r, R"(channels.telegram.groups["-100.5"].requireMention: must be true or false)"))
      << r.output;
  EXPECT_TRUE(has(r, "gatway: unknown key")) << "OpenClaw refuses unknown keys:\n" << r.output;
  EXPECT_TRUE(has(r, "invalid (4 problems)")) << r.output;

  // Only an unknown key: still invalid, as OpenClaw would refuse to start with it.
  r = run_cli({"config", "validate", write_config(R"({"gatway": {}})")});
  EXPECT_EQ(r.exit_code, 78) << r.output;

  const std::string good = write_config(R"({"gateway": {"port": 19000},
    "channels": {"telegram": {"allowFrom": ["@alice"]}, "slack": {}},
    "agents": {"defaults": {"workspace": "~/工作区 🦞"}}})");
  r = run_cli({"config", "validate", good});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, good + ": valid (2 warnings)")) << r.output;
  EXPECT_TRUE(has(r, "warning: channels.telegram.allowFrom")) << r.output;

  r = run_cli({"config", "validate", bad, "--json"});
  EXPECT_EQ(r.exit_code, 78);
  const Json report = Json::parse(r.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << r.output;
  EXPECT_EQ(report["valid"], false);
  EXPECT_EQ(report["issues"].size(), 4u) << report.dump(2);

  r = run_cli({"config", "validate", "/nonexistent/openclaw.json"});
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_TRUE(has(r, "config file not found")) << r.output;
  r = run_cli({"config", "validate"});
  EXPECT_EQ(r.exit_code, 2) << "no file named anywhere";
  r = run_cli({"config", "validate"}, {{"OPENCLAW_CONFIG_PATH", good}});
  EXPECT_EQ(r.exit_code, 0) << "the gateway's own file" << r.output;
}

TEST(CliConfig, ValidateNamesTheAccountWithABadIdOrValue) {
  const std::string bad = write_config(R"({"channels": {"telegram": {
    "apiRoot": "http://127.0.0.1:9",
    "accounts": {
      "alpha": {"botToken": "1:a", "dmPolicy": "sometimes"},
      "bad id!": {"botToken": "2:b"},
      "阿尔法": {"botToken": "3:c"},
      "ok_2": {"botToken": "4:d", "historyLimit": -1}
    }}}})");
  CliRun r = run_cli({"config", "validate", bad});
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_TRUE(has(r, R"(channels.telegram.accounts["bad id!"]: account id must be 1 to 64)"))
      << r.output;
  EXPECT_TRUE(has(r, "channels.telegram.accounts.阿尔法: account id must be")) << r.output;
  EXPECT_TRUE(has(r, "channels.telegram.accounts.alpha.dmPolicy: must be one of")) << r.output;
  EXPECT_TRUE(has(r, "channels.telegram.accounts.ok_2.historyLimit: must be an integer"))
      << r.output;
  EXPECT_TRUE(has(r, "invalid (4 problems)")) << r.output;

  // Two accounts, each inheriting the root; no default named: a warning, not an error.
  const std::string good = write_config(R"({"channels": {"telegram": {
    "apiRoot": "http://127.0.0.1:9", "dmPolicy": "allowlist", "allowFrom": [42],
    "accounts": {"Alpha": {"botToken": "1:a"}, "beta": {"botToken": "2:b"}}}}})");
  r = run_cli({"config", "validate", good});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "warning: channels.telegram.defaultAccount: is unset with 2 accounts"))
      << r.output;
}

TEST(CliConfig, GetPrintsTheEffectiveValueWithSecretsRedacted) {
  const std::string path = write_config(R"({"gateway": {"auth": {"token": "file-secret"}},
    "agents": {"defaults": {"workspace": "~/工作区 🦞"}},
    "channels": {"telegram": {"groups": {"-100.5": {"allowFrom": [42]}}}}})");
  auto get = [&](std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"config", "get"});
    args.insert(args.end(), {"--config", path});
    return run_cli(args, env);
  };
  CliRun r = get({"gateway.port"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "18789\n") << "the default";
  r = get({"gateway.port"}, {{"OPENCLAW_GATEWAY_PORT", "19001"}});
  EXPECT_EQ(r.output, "19001\n") << "the environment's override is what runs";
  r = get({"agents.defaults.workspace"});
  EXPECT_EQ(r.output, "~/工作区 🦞\n") << "a key clawgate ignores, as written";
  r = get({R"(channels.telegram.groups["-100.5"].allowFrom[0])"});
  EXPECT_EQ(r.output, "42\n");
  r = get({"gateway.auth.token"});
  EXPECT_EQ(r.output, "__OPENCLAW_REDACTED__\n");
  r = get({});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(has(r, "file-secret")) << r.output;
  EXPECT_TRUE(Json::parse(r.output, nullptr, false).is_object()) << r.output;

  r = get({"channels.telegram.tokenFile"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r, "channels.telegram.tokenFile is not set")) << r.output;
  r = get({"gateway.nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r, "not a key clawgate knows")) << r.output;
  r = get({"gateway..port"});
  EXPECT_EQ(r.exit_code, 2) << r.output;

  r = run_cli({"config", "get", "gateway.port", "--config",
               write_config(R"({"gateway": {"port": "eighty"}})")});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_TRUE(has(r, "gateway.port: must be an integer")) << r.output;
}

TEST(CliConfig, SchemaPrintsTheJsonSchema) {
  const CliRun r = run_cli({"config", "schema"});
  EXPECT_EQ(r.exit_code, 0);
  const Json schema = Json::parse(r.output, nullptr, false);
  ASSERT_TRUE(schema.is_object()) << r.output.substr(0, 200);
  EXPECT_EQ(schema["$schema"], "http://json-schema.org/draft-07/schema#");
  EXPECT_EQ(schema["properties"]["gateway"]["properties"]["port"]["default"], 18789);
  EXPECT_EQ(run_cli({"config", "frobnicate"}).exit_code, 2);
}

// A device connects over a raw socket (autoApproveLocal off, so it waits); the CLI lists,
// approves and removes it. Returns the connect's response and keeps the socket in `ws`.
Json connect_device(const GatewayProcess& gw, WsClient& ws, const testing_support::TestDevice& d,
                    const std::string& display_name) {
  ws.connect(gw.url());
  const Json challenge = Json::parse(ws.read(10000).data);
  testing_support::ConnectSpec spec;
  spec.scopes = {"operator.read"};
  spec.auth = {{"token", gw.token()}};
  spec.display_name = display_name;
  ws.send_text(testing_support::connect_frame(&d, spec, challenge["payload"]["nonce"],
                                              challenge["payload"]["ts"])
                   .dump());
  for (;;) {
    const Json f = Json::parse(ws.read(10000).data);
    if (f.value("type", "") == "res") return f;
  }
}

TEST(CliDevices, ListApproveRejectRemove) {
  GatewayProcess gw({}, R"({"gateway":{"nodes":{"pairing":{"autoApproveLocal":false}}}})");
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--url", gw.url(), "--token", gw.token()});
    return run_cli(args);
  };
  const testing_support::TestDevice d = testing_support::TestDevice::make();
  WsClient first;
  const Json refused = connect_device(gw, first, d, "阿里的笔记本 💻");
  ASSERT_EQ(refused["error"]["details"]["code"], "PAIRING_REQUIRED") << refused.dump();
  const std::string request_id = refused["error"]["details"]["requestId"];

  CliRun r = cli({"devices", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "pending: 1")) << r.output;
  EXPECT_TRUE(has(r, request_id)) << r.output;
  EXPECT_TRUE(has(r, "阿里的笔记本 💻")) << r.output;
  EXPECT_TRUE(has(r, d.id.substr(0, 12))) << r.output;
  r = cli({"devices", "list", "--json"});
  EXPECT_EQ(Json::parse(r.output)["pending"][0]["requestId"], request_id) << r.output;

  r = cli({"devices", "approve", "no-such-request"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r, "unknown requestId")) << r.output;
  r = cli({"devices", "approve", request_id});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "approved device " + d.id)) << r.output;

  WsClient second;
  const Json hello = connect_device(gw, second, d, "阿里的笔记本 💻");
  ASSERT_TRUE(hello.value("ok", false)) << hello.dump();
  EXPECT_TRUE(hello["payload"]["auth"].contains("deviceToken"));
  r = cli({"devices", "list"});
  EXPECT_TRUE(has(r, "paired: 1")) << r.output;
  EXPECT_TRUE(has(r, "connected")) << r.output;

  // Another device asks and is refused.
  const testing_support::TestDevice other = testing_support::TestDevice::make();
  WsClient third;
  const std::string other_request =
      connect_device(gw, third, other, "x")["error"]["details"]["requestId"];
  r = cli({"devices", "reject", other_request});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "rejected request " + other_request)) << r.output;

  r = cli({"devices", "remove", d.id});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r, "removed device " + d.id)) << r.output;
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    const WsMessage m = second.read(10000);
    if (m.closed) {
      closed = true;
      EXPECT_EQ(m.close_code, 4001);
      EXPECT_EQ(m.close_reason, "device removed");
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ(cli({"devices", "frobnicate"}).exit_code, 2);
}

}  // namespace
}  // namespace clawgate::test
