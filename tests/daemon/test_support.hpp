// Small helpers shared by the process-level suites (daemon, faults): bounded polling, a
// connected protocol client for a running gateway, and reading a file whole.
#pragma once
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "gateway_process.hpp"
#include "ws_client.hpp"

namespace clawgate::test {

// Polls `pred` every poll_ms until it holds or timeout_ms passes; the last answer is returned.
inline bool eventually(const std::function<bool()>& pred, int timeout_ms = 10000,
                       int poll_ms = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return pred();
}

// CI=true: a missing dependency fails the test instead of skipping it.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// A client that has completed the handshake with `gw` (cli/cli, its token).
struct Client {
  explicit Client(const GatewayProcess& gw, int timeout_ms = 10000) : gc(ws) {
    ConnectOptions o;
    o.url = gw.url();
    o.token = gw.token();
    o.timeout_ms = timeout_ms;
    gc.connect(o);
  }
  WsClient ws;
  GatewayClient gc;
};

inline std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace clawgate::test
