// clawgate-tls-bench: what TLS costs a gateway client, measured with the client the CLI uses
// (common/ws_client.hpp): connect latency (TCP connect, the TLS handshake on wss://, the
// WebSocket upgrade, connect.challenge, connect -> hello-ok) over sequential connections, and
// pipelined `health` round trips on one connection, and with --idle N --pid P the front's memory
// per idle connection (P's RSS before and after N connections past hello-ok). The same tool
// against a ws:// and a wss:// gateway (bench/tls.sh) gives the difference. One thread; prints
// one RESULT line per figure.
// Fails: exit 2 on bad arguments; exit 1 when a connection or a request fails.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ws_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  clawgate::ConnectOptions o;
  int connects = 200, seconds = 5, depth = 8, idle = 0, pid = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "clawgate-tls-bench: " << a << " needs a value\n";
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--url")
      o.url = v;
    else if (a == "--token")
      o.token = v;
    else if (a == "--tls-fingerprint")
      o.ws.tls_fingerprint = v;
    else if (a == "--connects")
      connects = std::atoi(v.c_str());
    else if (a == "--seconds")
      seconds = std::atoi(v.c_str());
    else if (a == "--depth")
      depth = std::atoi(v.c_str());
    else if (a == "--idle")
      idle = std::atoi(v.c_str());
    else if (a == "--pid")
      pid = std::atoi(v.c_str());
    else {
      std::cerr << "usage: clawgate-tls-bench --url URL --token T [--tls-fingerprint HEX] "
                   "[--connects N] [--seconds S] [--depth D] [--idle N --pid FRONT_PID]\n";
      return 2;
    }
  }
  if (idle < 0 || (idle > 0 && pid <= 0)) {
    std::cerr << "clawgate-tls-bench: --idle needs --pid (the front's)\n";
    return 2;
  }
  if (connects < 1 || seconds < 1 || depth < 1) {
    std::cerr << "clawgate-tls-bench: --connects, --seconds and --depth must be positive\n";
    return 2;
  }
  try {
    std::vector<double> lat;
    for (int i = 0; i < connects; ++i) {
      const auto t0 = Clock::now();
      clawgate::WsClient ws;
      clawgate::GatewayClient c(ws);
      c.connect(o);
      lat.push_back(ms_since(t0));
      ws.close();
    }
    std::printf("RESULT connect url=%s n=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", o.url.c_str(),
                connects, percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1.0));

    clawgate::WsClient ws;
    clawgate::GatewayClient c(ws);
    c.connect(o);
    std::deque<std::string> inflight;
    for (int i = 0; i < depth; ++i) inflight.push_back(c.send_request("health", {}));
    long done = 0;
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::seconds(seconds);
    while (Clock::now() < end) {
      const clawgate::Json r = c.wait_response(inflight.front(), 10000);
      inflight.pop_front();
      if (!r.value("ok", false)) throw std::runtime_error("health failed: " + r.dump());
      ++done;
      inflight.push_back(c.send_request("health", {}));
    }
    std::printf("RESULT rpc url=%s depth=%d seconds=%d rps=%.0f\n", o.url.c_str(), depth, seconds,
                static_cast<double>(done) / (ms_since(t0) / 1000.0));
    ws.close();

    if (idle > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      const long before = rss_kib(pid);
      std::vector<std::unique_ptr<clawgate::WsClient>> held;
      for (int i = 0; i < idle; ++i) {
        held.push_back(std::make_unique<clawgate::WsClient>());
        clawgate::GatewayClient g(*held.back());
        g.connect(o);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      const long after = rss_kib(pid);
      std::printf("RESULT idle url=%s n=%d front_rss_kib_before=%ld after=%ld per_conn_kib=%.1f\n",
                  o.url.c_str(), idle, before, after, static_cast<double>(after - before) / idle);
    }
  } catch (const std::exception& e) {
    std::cerr << "clawgate-tls-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
