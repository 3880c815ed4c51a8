// Test harness: see telegram_emulator.hpp.
#include "telegram_emulator.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <regex>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace clawgate::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using Json = nlohmann::json;

PyServer::PyServer(std::vector<std::string> script_args) {
  std::vector<std::string> args = {"python3"};
  args.insert(args.end(), script_args.begin(), script_args.end());
  args.insert(args.end(), {"--port", "0"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  // Not the test's stderr: a server outliving a killed test must not hold CTest's pipe open.
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
  const int rc = posix_spawnp(&pid_, "python3", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + script_args.at(0));
  out_fd_ = fds[0];
  std::string out;
  const std::regex re("listening on http://([0-9.]+):([0-9]+)");
  std::smatch m;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::regex_search(out, m, re)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(script_args.at(0) + " did not start: " + out);
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error(script_args.at(0) + " exited: " + out);
    out.append(buf, static_cast<size_t>(n));
  }
  host_ = m[1];
  port_ = std::stoi(m[2]);
  url_ = "http://" + host_ + ":" + std::to_string(port_);
}

PyServer::~PyServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

Json PyServer::request(const std::string& method, const std::string& target,
                       const std::string& body, int timeout_ms) {
  boost::asio::io_context io;
  beast::tcp_stream s(io);
  s.expires_after(std::chrono::milliseconds(timeout_ms));
  s.connect(tcp::endpoint(boost::asio::ip::make_address(host_), static_cast<uint16_t>(port_)));
  http::request<http::string_body> req(method == "GET" ? http::verb::get : http::verb::post, target,
                                       11);
  req.set(http::field::host, host_);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  Json j = Json::parse(res.body(), nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("emulator: not JSON: " + res.body());
  return j;
}

TelegramEmulator::TelegramEmulator(const std::string& token)
    : TelegramEmulator(std::vector<std::string>{token}) {}

TelegramEmulator::TelegramEmulator(const std::vector<std::string>& tokens)
    : token_(tokens.at(0)), server_([&] {
        std::vector<std::string> args = {TELEGRAM_EMULATOR};
        for (const auto& t : tokens) args.insert(args.end(), {"--token", t});
        return std::make_shared<PyServer>(args);
      }()) {}

Json FakeModels::config(const std::string& api) const {
  const std::string base = api == "anthropic-messages" ? url() : url() + "/v1";
  return {{"agents", {{"defaults", {{"model", "fake/fake-model"}}}}},
          {"models",
           {{"providers", {{"fake", {{"baseUrl", base}, {"apiKey", "test-key"}, {"api", api}}}}}}}};
}

int64_t TelegramEmulator::inject(int64_t from, const std::string& text,
                                 const std::string& username) {
  Json body = {{"token", token_}, {"chat_id", from}, {"from_id", from}, {"text", text}};
  if (!username.empty()) body["username"] = username;
  return request("POST", "/_emu/inject", body.dump()).at("update_id").get<int64_t>();
}

Json TelegramEmulator::inject(Json body) {
  body["token"] = token_;
  return request("POST", "/_emu/inject", body.dump());
}

std::string TelegramEmulator::bot_username() const {
  return "emu" + token_.substr(0, token_.find(':')) + "_bot";  // as emulator.py names it
}

Json TelegramEmulator::sent() {
  return request("GET", "/_emu/sent?token=" + token_, "");
}
Json TelegramEmulator::stats() {
  return request("GET", "/_emu/stats?token=" + token_, "");
}
void TelegramEmulator::faults(const Json& f) {
  request("POST", "/_emu/faults", f.dump());
}

Json TelegramEmulator::bot_call(const std::string& method, const Json& params, int timeout_ms) {
  return request("POST", "/bot" + token_ + "/" + method, params.dump(), timeout_ms);
}

Json TelegramEmulator::channel_config(int poll_timeout_s) const {
  return {{"botToken", token_},
          {"apiRoot", url()},
          {"dmPolicy", "open"},
          {"pollTimeoutSeconds", poll_timeout_s}};
}

}  // namespace clawgate::test
