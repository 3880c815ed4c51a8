// Test harness: see gateway_process.hpp.
#include "gateway_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace clawgate::test {

GatewayProcess::GatewayProcess(std::map<std::string, std::string> extra_env,
                               const std::string& config_json, const std::string& token)
    : token_(token) {
  char dir[] = "/tmp/clawgate-test-XXXXXX";
  if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
  state_dir_ = dir;
  std::vector<std::string> args = {CLAWGATE_BIN, "gateway", "--port", "0"};
  if (!token.empty()) {
    args.push_back("--token");
    args.push_back(token);
  }
  if (!config_json.empty()) {
    const std::string path = state_dir_ + "/clawgate.json";
    std::ofstream(path) << config_json;
    args.push_back("--config");
    args.push_back(path);
  }
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  env.erase("OPENCLAW_GATEWAY_TOKEN");
  env.erase("CLAWGATE_GATEWAY_TOKEN");
  env["CLAWGATE_STATE_DIR"] = state_dir_;
  for (auto& [k, v] : extra_env) env[k] = v;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Output goes to a file, not a pipe: a chatty gateway must never block on a full pipe while
  // a test is busy elsewhere.
  const std::string out_path = state_dir_ + "/gateway.out";
  const int out_w = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_w < 0) throw std::runtime_error("cannot create " + out_path);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out_w, STDERR_FILENO);
  const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out_w);
  if (rc != 0) throw std::runtime_error("cannot spawn " + std::string(CLAWGATE_BIN));
  out_fd_ = open(out_path.c_str(), O_RDONLY | O_CLOEXEC);

  const std::regex re("listening on (wss?://[^ ]+)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::smatch m;
  while (!std::regex_search(out_, m, re)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("gateway did not start: " + out_);
    read_available(100);
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      read_available(0);
      throw std::runtime_error("gateway exited with " +
                               std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ": " +
                               out_);
    }
  }
  url_ = m[1];
}

void GatewayProcess::read_available(int timeout_ms) {
  char buf[8192];
  bool any = false;
  for (;;) {
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    out_.append(buf, static_cast<size_t>(n));
    any = true;
  }
  if (!any && timeout_ms > 0) usleep(static_cast<useconds_t>(std::min(timeout_ms, 20)) * 1000);
}

bool GatewayProcess::wait_output(const std::string& text, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out_.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    read_available(20);
  }
  return true;
}

std::string GatewayProcess::output() {
  read_available(0);
  return out_;
}

int GatewayProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      read_available(0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    read_available(20);
  }
  return -1;
}

GatewayProcess::~GatewayProcess() {
  // Stop it the way an operator would, so sanitizer builds get to report at exit.
  if (pid_ > 0 && terminate(3000) < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  const std::string out = output();
  if (out.find("ERROR: AddressSanitizer") != std::string::npos ||
      out.find("ERROR: LeakSanitizer") != std::string::npos ||
      out.find("runtime error:") != std::string::npos)
    ADD_FAILURE() << "the gateway reported a sanitizer error:\n" << out;
  if (::testing::Test::HasFailure()) {
    // The gateway's own account of a failed test is the first thing anyone needs.
    size_t start = out.size(), lines = 0;
    while (start > 0 && lines < 300)
      if (out[--start] == '\n') ++lines;
    std::fprintf(stderr, "---- gateway output (last %zu lines) ----\n%s\n----\n", lines,
                 out.substr(start).c_str());
  }
  if (out_fd_ >= 0) close(out_fd_);
  std::system(("rm -rf '" + state_dir_ + "'").c_str());
}

}  // namespace clawgate::test
