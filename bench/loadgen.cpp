// clawgate-bench: the client side of every benchmark in bench/run.sh (handshake latency,
// pipelined request throughput, broadcast fan-out, idle-connection memory, the echo ceiling and
// cold start; `handshake --device shared|token` signs a device identity into every connect),
// bench/channels.sh (pipelined channel sends) and bench/agent.sh (chat.send runs
// through the agent worker: first-token and final latency, runs/s). One thread, one io_context.
// Boost.Beast does the WebSocket upgrade and reads frames; on the hot path (rpc, echo, send)
// requests are hand-built masked frames, coalesced into one write(2) per burst of responses
// handled and written straight to the socket (Beast only writes control frames itself, which
// neither server solicits), and responses are matched by a string search for "id":"..."
// rather than a JSON parse, so the figures describe the server, not this tool.
// Fails: exit 2 on bad arguments or a target outside 127.0.0.0/8; connection failures, error
// responses, mismatched ids and timeouts are counted and printed (exit 1 when a run had any).
// Every wait has a deadline. Each subcommand ends with one machine-readable "RESULT" line.
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto.hpp"

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Frame = std::string_view;

double ms_between(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// Arguments, targets, small helpers

class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      const std::string k = argv[i];
      if (k.rfind("--", 0) != 0 || i + 1 >= argc) throw UsageError("expected --name value at " + k);
      kv_[k.substr(2)] = argv[++i];
    }
  }
  std::string str(const std::string& k, const std::string& def) const {
    used_.insert(k);
    auto it = kv_.find(k);
    return it == kv_.end() ? def : it->second;
  }
  std::string required(const std::string& k) const {
    used_.insert(k);
    auto it = kv_.find(k);
    if (it == kv_.end() || it->second.empty()) throw UsageError("--" + k + " is required");
    return it->second;
  }
  long num(const std::string& k, long def, long lo, long hi) const {
    const std::string v = str(k, "");
    if (v.empty()) return def;
    size_t end = 0;
    long n = 0;
    try {
      n = std::stol(v, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    if (end != v.size() || n < lo || n > hi)
      throw UsageError("--" + k + " must be an integer in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]");
    return n;
  }
  double real(const std::string& k, double def, double lo, double hi) const {
    const std::string v = str(k, "");
    if (v.empty()) return def;
    size_t end = 0;
    double d = 0;
    try {
      d = std::stod(v, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    if (end != v.size() || !(d >= lo && d <= hi))
      throw UsageError("--" + k + " must be a number in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]");
    return d;
  }
  // Unknown options are mistakes (a typo would silently run the default size).
  void check_all_used() const {
    for (const auto& [k, _] : kv_)
      if (!used_.count(k)) throw UsageError("unknown option --" + k);
  }

 private:
  std::map<std::string, std::string> kv_;
  mutable std::set<std::string> used_;
};

struct Target {
  tcp::endpoint ep;
  std::string host_header;  // host:port, sent in the upgrade request
  std::string path = "/";
};

// ws://127.x.y.z:port[/path] only: this tool never touches anything outside loopback.
Target parse_target(const std::string& url) {
  const std::string prefix = "ws://";
  if (url.rfind(prefix, 0) != 0) throw UsageError("only ws:// URLs are supported: " + url);
  std::string rest = url.substr(prefix.size());
  Target t;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) t.path = rest.substr(slash);
  const std::string hostport = rest.substr(0, slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) throw UsageError("URL needs a port: " + url);
  std::string host = hostport.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  const auto addr = asio::ip::make_address_v4(host, ec);
  if (ec || (addr.to_uint() >> 24) != 127)
    throw UsageError("target must be in 127.0.0.0/8: " + url);
  long port = 0;
  try {
    port = std::stol(hostport.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  if (port <= 0 || port > 65535) throw UsageError("bad port in " + url);
  t.ep = tcp::endpoint(addr, static_cast<unsigned short>(port));
  t.host_header = hostport;
  return t;
}

// Source addresses 127.0.0.1 .. 127.0.0.254 (the gateway limits pending handshakes per address).
asio::ip::address source_ip(size_t k) {
  return asio::ip::address_v4((127u << 24) | static_cast<unsigned>(1 + k % 254));
}

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

size_t nofile_limit() {
  rlimit rl{};
  return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<size_t>(rl.rlim_cur) : 1024;
}

std::string fmt(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// CPU time (user + system) of a process, in ms; -1 when unreadable. Tick resolution (10 ms).
double proc_cpu_ms(long pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto rp = stat.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream is(stat.substr(rp + 2));
  std::string field;
  double utime = -1, stime = -1;
  for (int i = 3; i <= 15 && is >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  if (utime < 0 || stime < 0) return -1;
  return (utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// Who was busy during a measurement: the server (with --pid) and this tool, as a share of one
// core, so a reader can tell a server-bound figure from a client-bound one.
struct CpuMeter {
  long pid = 0;
  double server0 = -1, self0 = 0;
  TimePoint t0{};
  void start(long p) {
    pid = p;
    server0 = proc_cpu_ms(pid);
    self0 = self_cpu_ms();
    t0 = SteadyClock::now();
  }
  // "server 97% of a core (6.4 us per request), clawgate-bench 81%"
  std::string report(double units, const char* unit) const {
    const double wall = ms_between(t0, SteadyClock::now());
    const double self = self_cpu_ms() - self0;
    std::string out;
    if (pid > 0 && server0 >= 0) {
      const double server = proc_cpu_ms(pid) - server0;
      out += "server CPU " + fmt(100 * server / wall, 0) + "% of a core";
      if (units > 0) out += " (" + fmt(server * 1000 / units, 1) + " us per " + unit + ")";
      out += ", ";
    }
    out += "clawgate-bench CPU " + fmt(100 * self / wall, 0) + "% of a core";
    if (units > 0) out += " (" + fmt(self * 1000 / units, 1) + " us per " + unit + ")";
    return out;
  }
};

// Nearest-rank percentile of an already sorted vector.
double pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  idx = std::clamp<size_t>(idx, 1, sorted.size()) - 1;
  return sorted[idx];
}

std::string clip(Frame f, size_t n = 160) {
  return std::string(f.substr(0, n)) + (f.size() > n ? "..." : "");
}

bool starts_with(Frame f, Frame p) {
  return f.size() >= p.size() && f.compare(0, p.size(), p) == 0;
}

std::string connect_request(const std::string& token) {
  // The token is the caller's own and simple; escape the two characters that would break JSON.
  std::string tok;
  for (char c : token) {
    if (c == '"' || c == '\\') tok += '\\';
    tok += c;
  }
  return R"({"type":"req","id":"c","method":"connect","params":{"minProtocol":4,"maxProtocol":4,)"
         R"("client":{"id":"cli","version":"1","platform":"linux","mode":"cli"},"role":"operator",)"
         R"("scopes":["operator.admin"],"auth":{"token":")" +
         tok + R"("}}})";
}

// A client frame: FIN + text, masked with `key`.
void append_masked_frame(std::string& out, Frame payload, uint32_t key) {
  const size_t n = payload.size();
  out.push_back(static_cast<char>(0x81));
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((uint64_t{n} >> s) & 0xff));
  }
  const char k[4] = {static_cast<char>(key >> 24), static_cast<char>(key >> 16),
                     static_cast<char>(key >> 8), static_cast<char>(key)};
  out.append(k, 4);
  const size_t base = out.size();
  out.append(payload);
  for (size_t i = 0; i < n; ++i) out[base + i] ^= k[i & 3];
}

// ---------------------------------------------------------------------------------------------
// Conn: one client connection

class Conn {
 public:
  using Done = std::function<void(const std::string& error)>;  // empty: success

  explicit Conn(asio::io_context& io) : io_(io), ws_(io), timer_(io) {
    ws_.auto_fragment(false);
    ws_.read_message_max(64 * 1024 * 1024);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // TCP connect (from `src` when given), WebSocket upgrade and, with a token, the gateway
  // handshake up to hello-ok. `done` runs exactly once, never from inside open().
  void open(const Target& t, const asio::ip::address* src, const std::string* token, int timeout_ms,
            Done done) {
    done_ = std::move(done);
    phase_ = "socket";
    auto& sock = ws_.next_layer();
    beast::error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec && src) {
#ifdef IP_BIND_ADDRESS_NO_PORT
      // Let connect() pick the port per destination: many more ports per source address.
      sock.set_option(
          asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true), ec);
#endif
      if (!ec) sock.bind(tcp::endpoint(*src, 0), ec);
    }
    if (ec) {
      asio::post(io_, [this, m = "socket: " + ec.message()] { finish(m); });
      return;
    }
    timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    timer_.async_wait([this](beast::error_code e) {
      if (e || finished_) return;
      timed_out_ = true;
      beast::error_code ig;
      ws_.next_layer().close(ig);  // the pending operation completes with an error
    });
    phase_ = "connect";
    sock.async_connect(t.ep, [this, &t, token](beast::error_code e) {
      if (e) return finish("connect: " + e.message());
      beast::error_code ig;
      ws_.next_layer().set_option(tcp::no_delay(true), ig);
      ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "clawgate-bench");
      }));
      phase_ = "upgrade";
      ws_.async_handshake(upgrade_res_, t.host_header, t.path, [this, token](beast::error_code e) {
        if (e) {
          std::string m = "upgrade: " + e.message();
          if (upgrade_res_.result_int() != 101 && upgrade_res_.result_int() != 0)
            m += " (HTTP " + std::to_string(upgrade_res_.result_int()) + ")";
          return finish(m);
        }
        if (!token) return finish("");
        phase_ = "challenge";
        ws_.async_read(buf_, [this, token](beast::error_code e, size_t) {
          if (e) return finish("challenge: " + e.message());
          if (view().find(R"("event":"connect.challenge")") == Frame::npos)
            return finish("expected connect.challenge, got " + clip(view()));
          out_ = make_connect ? make_connect(view()) : connect_request(*token);
          buf_.consume(buf_.size());
          ws_.text(true);
          phase_ = "connect request";
          ws_.async_write(asio::buffer(out_), [this](beast::error_code e, size_t) {
            if (e) return finish("send connect: " + e.message());
            phase_ = "hello-ok";
            read_hello();
          });
        });
      });
    });
  }

  // Reads frames until the connection ends; `on_error` runs once when it does (not after stop()).
  void read_loop(std::function<void(Frame)> on_frame,
                 std::function<void(const std::string&)> on_error) {
    on_frame_ = std::move(on_frame);
    on_error_ = std::move(on_error);
    read_next();
  }

  // Hot path: appends a masked frame and writes everything queued in one go when idle.
  void raw_send(Frame payload) {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    append_masked_frame(pending_, payload, rng_);
    if (!writing_ && !flush_scheduled_) schedule_flush();
  }

  // Beast writes, queued (one message per write). Not to be mixed with raw_send().
  void send_text(std::string text) {
    queue_.push_back(std::move(text));
    if (!writing_) write_next();
  }

  // Close handshake (bounded); `done` runs once.
  void close_gracefully(int timeout_ms, std::function<void()> done) {
    stopped_ = true;
    close_done_ = std::move(done);
    timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    timer_.async_wait([this](beast::error_code e) {
      if (e) return;
      beast::error_code ig;
      ws_.next_layer().close(ig);
    });
    ws_.async_close(websocket::close_code::normal, [this](beast::error_code) {
      timer_.cancel();
      beast::error_code ig;
      ws_.next_layer().close(ig);
      if (auto d = std::move(close_done_)) d();
    });
  }

  void close_now() {
    stopped_ = true;
    timer_.cancel();
    beast::error_code ig;
    ws_.next_layer().close(ig);
  }

  // Mode-specific per-connection state, owned by the benchmark driving this connection.
  uint64_t tag = 0;
  size_t index = 0;
  // When set, builds the connect request from the challenge frame (device signatures).
  std::function<std::string(Frame challenge)> make_connect;
  std::string hello;  // the hello-ok frame, kept when make_connect is set

 private:
  Frame view() const {
    return Frame(static_cast<const char*>(buf_.data().data()), buf_.data().size());
  }

  void read_hello() {
    ws_.async_read(buf_, [this](beast::error_code e, size_t) {
      if (e) return finish("hello: " + e.message());
      const Frame f = view();
      if (!starts_with(f, R"({"type":"res")")) {  // an event before the answer
        buf_.consume(buf_.size());
        return read_hello();
      }
      const bool ok = f.find(R"("id":"c")") != Frame::npos &&
                      f.find(R"("ok":true)") != Frame::npos &&
                      f.find(R"("type":"hello-ok")") != Frame::npos;
      std::string err = ok ? "" : "connect refused: " + clip(f);
      if (ok && make_connect) hello.assign(f);
      buf_.consume(buf_.size());
      finish(err);
    });
  }

  void finish(std::string err) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    if (timed_out_) err = "timeout during " + phase_;
    if (!err.empty()) {
      beast::error_code ig;
      ws_.next_layer().close(ig);
    }
    if (auto d = std::move(done_)) d(err);
  }

  void read_next() {
    ws_.async_read(buf_, [this](beast::error_code e, size_t) {
      if (e) {
        if (!stopped_ && on_error_) on_error_(e.message());
        return;
      }
      ++frames_;
      on_frame_(view());
      buf_.consume(buf_.size());
      if (!stopped_) read_next();
    });
  }

  // Beast hands over one buffered frame per (posted) read completion, so a write issued from
  // each would cost a syscall per request. Instead the flush waits, re-posting itself, until
  // the read loop stops making progress (it is blocked on the socket), then writes everything
  // the frames it just handled produced in one go.
  void schedule_flush() {
    flush_scheduled_ = true;
    flush_seen_ = frames_ - 1;  // the first check always yields once
    flush_spins_ = 0;
    asio::post(io_, [this] { flush_check(); });
  }

  void flush_check() {
    if (stopped_) {
      flush_scheduled_ = false;
      return;
    }
    if (frames_ != flush_seen_ && ++flush_spins_ < 1024) {
      flush_seen_ = frames_;
      asio::post(io_, [this] { flush_check(); });
      return;
    }
    flush_scheduled_ = false;
    if (!writing_ && !pending_.empty()) flush_raw();
  }

  void flush_raw() {
    std::swap(pending_, inflight_);
    pending_.clear();
    writing_ = true;
    asio::async_write(ws_.next_layer(), asio::buffer(inflight_),
                      [this](beast::error_code e, size_t) {
                        writing_ = false;
                        if (e) {
                          if (!stopped_ && on_error_) on_error_("write: " + e.message());
                          stopped_ = true;
                          return;
                        }
                        if (!pending_.empty() && !stopped_) flush_raw();
                      });
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()), [this](beast::error_code e, size_t) {
      writing_ = false;
      queue_.pop_front();
      if (e) {
        if (!stopped_ && on_error_) on_error_("write: " + e.message());
        stopped_ = true;
        return;
      }
      if (!queue_.empty() && !stopped_) write_next();
    });
  }

  asio::io_context& io_;
  websocket::stream<tcp::socket> ws_;
  asio::steady_timer timer_;
  beast::flat_buffer buf_;
  websocket::response_type upgrade_res_;
  std::string out_, pending_, inflight_;
  std::deque<std::string> queue_;
  Done done_;
  std::function<void()> close_done_;
  std::function<void(Frame)> on_frame_;
  std::function<void(const std::string&)> on_error_;
  std::string phase_;
  uint32_t rng_ = 0x9e3779b9u;
  uint64_t frames_ = 0, flush_seen_ = 0;
  int flush_spins_ = 0;
  bool finished_ = false, timed_out_ = false, writing_ = false, stopped_ = false;
  bool flush_scheduled_ = false;
};

// ---------------------------------------------------------------------------------------------
// Opener: many connections, paced so no source address ever has more than `per_ip_window`
// handshakes pending (the gateway refuses more than 32 unauthenticated ones per address).

struct OpenOptions {
  size_t n = 1;
  size_t per_ip_conns = 1000;  // connections per source address
  size_t per_ip_window = 16;   // pending handshakes per source address
  size_t window = 64;          // pending handshakes overall
  int timeout_ms = 10000;
  int attempts = 3;
};

class Opener {
 public:
  using OnReady = std::function<void(Conn&)>;

  Opener(asio::io_context& io, const Target& t, const std::string* token, OpenOptions o)
      : io_(io), t_(t), token_(token), o_(o) {
    nips_ = std::clamp<size_t>((o.n + o.per_ip_conns - 1) / o.per_ip_conns, 1, 254);
    queues_.resize(nips_);
    ip_inflight_.assign(nips_, 0);
    for (size_t i = 0; i < o.n; ++i) queues_[i % nips_].push_back(i);
    conns_.resize(o.n);
    attempts_.assign(o.n, 0);
  }

  // Runs the loop until every connection is open or has failed `attempts` times.
  void run(OnReady on_ready) {
    on_ready_ = std::move(on_ready);
    const auto t0 = SteadyClock::now();
    pump();
    while (settled_ < o_.n) io_.run_one();
    seconds_ = ms_between(t0, SteadyClock::now()) / 1000.0;
  }

  std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }
  size_t opened() const { return opened_; }
  size_t failed() const { return failed_; }
  size_t retries() const { return retries_; }
  size_t source_ips() const { return nips_; }
  double seconds() const { return seconds_; }
  const std::map<std::string, size_t>& errors() const { return errors_; }

  void print_errors(std::ostream& os) const {
    for (const auto& [m, c] : errors_) os << "  " << c << " x " << m << "\n";
  }

 private:
  void pump() {
    bool progress = true;
    while (progress && inflight_ < o_.window) {
      progress = false;
      for (size_t j = 0; j < nips_ && inflight_ < o_.window; ++j) {
        const size_t k = (rr_ + j) % nips_;
        if (queues_[k].empty() || ip_inflight_[k] >= o_.per_ip_window) continue;
        const size_t i = queues_[k].front();
        queues_[k].pop_front();
        launch(i, k);
        progress = true;
      }
      ++rr_;
    }
  }

  void launch(size_t i, size_t k) {
    ++inflight_;
    ++ip_inflight_[k];
    ++attempts_[i];
    conns_[i] = std::make_unique<Conn>(io_);
    Conn* c = conns_[i].get();
    c->index = i;
    const asio::ip::address src = source_ip(k);
    c->open(t_, &src, token_, o_.timeout_ms, [this, i, k](const std::string& err) {
      --inflight_;
      --ip_inflight_[k];
      if (err.empty()) {
        ++opened_;
        ++settled_;
        if (on_ready_) on_ready_(*conns_[i]);
        pump();
        return;
      }
      ++errors_[err];
      // The failed Conn may still be unwinding its callback: replace it only later.
      if (attempts_[i] < o_.attempts) {
        ++retries_;
        auto timer =
            std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(20 * attempts_[i]));
        timer->async_wait([this, timer, i, k](beast::error_code) {
          queues_[k].push_front(i);
          pump();
        });
      } else {
        ++failed_;
        ++settled_;
        asio::post(io_, [this, i] { conns_[i].reset(); });
      }
      pump();
    });
  }

  asio::io_context& io_;
  const Target& t_;
  const std::string* token_;
  OpenOptions o_;
  OnReady on_ready_;
  size_t nips_ = 1, rr_ = 0, inflight_ = 0, settled_ = 0, opened_ = 0, failed_ = 0, retries_ = 0;
  std::vector<std::deque<size_t>> queues_;
  std::vector<size_t> ip_inflight_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<int> attempts_;
  std::map<std::string, size_t> errors_;
  double seconds_ = 0;
};

// Runs the loop until `done()` or the deadline; returns done().
template <class Pred>
bool run_until(asio::io_context& io, Pred done, int timeout_ms) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (io.stopped()) io.restart();
    if (io.run_one_until(deadline) == 0 && SteadyClock::now() >= deadline) return done();
  }
  return true;
}

// Close handshakes on every connection (bounded), then drops whatever is left, so the servers
// see orderly goodbyes rather than resets with responses still in flight.
void close_all(asio::io_context& io, std::vector<std::unique_ptr<Conn>>& conns, int timeout_ms) {
  auto pending = std::make_shared<size_t>(0);
  for (auto& c : conns) {
    if (!c) continue;
    ++*pending;
    c->close_gracefully(timeout_ms, [pending] { --*pending; });
  }
  run_until(
      io, [&] { return *pending == 0; }, timeout_ms + 500);
  for (auto& c : conns)
    if (c) c->close_now();
  io.restart();
  io.poll();
}

// ---------------------------------------------------------------------------------------------
// A device identity for `handshake --device`: an Ed25519 key, and the signed connect request
// OpenClaw's clients send (v3 payload over the challenge's nonce, signedAt = its ts).

class BenchDevice {
 public:
  BenchDevice() : key_(nullptr, EVP_PKEY_free) {
    const std::string seed = clawgate::random_bytes(32);
    key_.reset(EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), 32));
    std::string raw(32, '\0');
    size_t len = raw.size();
    if (!key_ || EVP_PKEY_get_raw_public_key(
                     key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) != 1)
      throw std::runtime_error("cannot make an Ed25519 key");
    public_key_ = clawgate::base64url(raw);
    id_ = clawgate::sha256_hex(raw);
  }

  // `auth`: {"token": ...} or {"deviceToken": ...}.
  std::string connect(Frame challenge, const nlohmann::json& auth) {
    const auto t0 = SteadyClock::now();
    const nlohmann::json ch = nlohmann::json::parse(challenge, nullptr, false);
    const std::string nonce = ch.is_object() ? ch["payload"].value("nonce", "") : "";
    const int64_t ts = ch.is_object() ? ch["payload"].value("ts", int64_t{0}) : 0;
    const std::string token =
        auth.contains("token") ? auth["token"].get<std::string>() : auth.value("deviceToken", "");
    const std::string payload = "v3|" + id_ + "|cli|cli|operator|operator.admin|" +
                                std::to_string(ts) + "|" + token + "|" + nonce + "|linux|";
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string sig(64, '\0');
    size_t len = sig.size();
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) != 1)
      throw std::runtime_error("Ed25519 signing failed");
    const nlohmann::json req = {
        {"type", "req"},
        {"id", "c"},
        {"method", "connect"},
        {"params",
         {{"minProtocol", 4},
          {"maxProtocol", 4},
          {"client", {{"id", "cli"}, {"version", "1"}, {"platform", "linux"}, {"mode", "cli"}}},
          {"role", "operator"},
          {"scopes", {"operator.admin"}},
          {"auth", auth},
          {"device",
           {{"id", id_},
            {"publicKey", public_key_},
            {"signature", clawgate::base64url(sig)},
            {"signedAt", ts},
            {"nonce", nonce}}}}}};
    sign_ms_ += ms_between(t0, SteadyClock::now());
    ++signed_;
    return req.dump();
  }
  double mean_client_ms() const { return signed_ ? sign_ms_ / signed_ : 0; }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  std::string public_key_, id_;
  double sign_ms_ = 0;
  long signed_ = 0;
};

// ---------------------------------------------------------------------------------------------
// handshake: sequential connect + challenge + connect + hello-ok

// Without --token: the WebSocket upgrade only (a reference against the echo server).
// --device shared: every connect also carries a signed device block (the first one pairs the
// device, silently: loopback with the token); --device token: after that first connect, each
// connect authenticates with the device token alone.
int cmd_handshake(const Args& a) {
  const Target t = parse_target(a.required("url"));
  const std::string token = a.str("token", "");
  const std::string device_mode = a.str("device", "none");
  if (device_mode != "none" && device_mode != "shared" && device_mode != "token")
    throw UsageError("--device must be none, shared or token");
  if (device_mode != "none" && token.empty()) throw UsageError("--device needs --token");
  const long n = a.num("n", 2000, 1, 1'000'000);
  const long warmup = a.num("warmup", 50, 0, 100'000);
  const int timeout_ms = static_cast<int>(a.num("timeout-ms", 5000, 100, 600'000));
  const long pid = a.num("pid", 0, 0, 1L << 31);
  a.check_all_used();

  asio::io_context io(1);
  CpuMeter cpu;
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(n));
  std::map<std::string, size_t> errors;
  size_t failures = 0;
  const asio::ip::address src = source_ip(0);
  std::unique_ptr<BenchDevice> device;
  nlohmann::json device_auth = {{"token", token}};
  if (device_mode != "none") device = std::make_unique<BenchDevice>();
  const auto t_all = SteadyClock::now();
  for (long i = 0; i < warmup + n; ++i) {
    auto c = std::make_unique<Conn>(io);
    if (device) c->make_connect = [&](Frame ch) { return device->connect(ch, device_auth); };
    bool done = false;
    std::string err;
    const auto t0 = SteadyClock::now();
    c->open(t, &src, token.empty() ? nullptr : &token, timeout_ms, [&](const std::string& e) {
      err = e;
      done = true;
    });
    if (!run_until(
            io, [&] { return done; }, timeout_ms + 1000))
      err = "no completion";
    const auto t1 = SteadyClock::now();
    if (!err.empty()) {
      ++failures;
      ++errors[err];
      if (failures > 50 && failures > static_cast<size_t>(i) / 2) break;  // the server is gone
      continue;
    }
    if (i == warmup - 1 || (warmup == 0 && i == 0)) cpu.start(pid);
    if (i >= warmup) lat.push_back(ms_between(t0, t1));
    if (device_mode == "token" && device_auth.contains("token")) {
      // The first connect paired the device; from now on its token alone.
      const auto hello = nlohmann::json::parse(c->hello, nullptr, false);
      const std::string dt =
          hello.is_object() ? hello["payload"]["auth"].value("deviceToken", "") : "";
      if (dt.empty()) {
        std::cerr << "handshake: hello-ok carried no device token\n";
        return 1;
      }
      device_auth = {{"deviceToken", dt}};
    }
    bool closed = false;
    c->close_gracefully(1000, [&] { closed = true; });
    run_until(
        io, [&] { return closed; }, 2000);
    c.reset();
    io.poll();  // let the aborted operations of the closed connection unwind
  }
  const double total_s = ms_between(t_all, SteadyClock::now()) / 1000.0;
  const std::string cpu_text = cpu.report(static_cast<double>(lat.size()), "handshake");
  std::sort(lat.begin(), lat.end());
  std::cout << "handshake: " << lat.size() << " sequential "
            << (token.empty()             ? "TCP connect+WebSocket upgrade"
                : device_mode == "shared" ? "connect+challenge+signed connect (token)+hello-ok"
                : device_mode == "token"
                    ? "connect+challenge+signed connect (device token)+hello-ok"
                    : "connect+challenge+connect+hello-ok")
            << " (" << warmup << " warm-up not counted), " << failures << " failed, "
            << fmt(total_s, 1) << " s\n"
            << "  p50 " << fmt(pct(lat, 0.5)) << " ms   p90 " << fmt(pct(lat, 0.9)) << " ms   p99 "
            << fmt(pct(lat, 0.99)) << " ms   max " << fmt(lat.empty() ? 0 : lat.back()) << " ms\n"
            << "  " << cpu_text << " (includes each close handshake)\n";
  if (device)
    std::cout << "  client-side signing (included above): " << fmt(device->mean_client_ms(), 3)
              << " ms per connect\n";
  for (const auto& [m, c] : errors) std::cout << "  " << c << " x " << m << "\n";
  std::cout << "RESULT handshake n=" << lat.size() << " failures=" << failures
            << " p50_ms=" << fmt(pct(lat, 0.5)) << " p90_ms=" << fmt(pct(lat, 0.9))
            << " p99_ms=" << fmt(pct(lat, 0.99)) << " max_ms=" << fmt(lat.empty() ? 0 : lat.back())
            << "\n";
  return failures == 0 && !lat.empty() ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// rpc / echo: K connections, D requests in flight on each

struct PipeRun {
  bool measuring = false;
  bool running = true;
  uint64_t completed = 0, not_ok = 0, mismatched = 0, malformed = 0, conn_errors = 0;
  std::vector<float> lat_us;
  std::map<std::string, size_t> error_texts;
  std::string first_bad;
};

class PipeClient {
 public:
  PipeClient(Conn& c, PipeRun& run, size_t depth, bool gateway, bool beast_writes,
             const std::string& method)
      : c_(c),
        run_(run),
        depth_(depth),
        gateway_(gateway),
        beast_writes_(beast_writes),
        method_(method) {
    size_t cap = 1;
    while (cap < depth * 2) cap <<= 1;
    sent_.resize(cap);
    mask_ = cap - 1;
  }

  void start() {
    c_.read_loop([this](Frame f) { on_frame(f); },
                 [this](const std::string& e) {
                   dead_ = true;
                   if (!run_.running) return;
                   ++run_.conn_errors;
                   ++run_.error_texts["connection: " + e];
                 });
    for (size_t i = 0; i < depth_; ++i) send_one();
  }

  // Requests sent and not answered yet (0 for a connection that died).
  uint64_t outstanding() const { return dead_ ? 0 : next_id_ - expect_; }

 private:
  void send_one() {
    req_.clear();
    req_ += R"({"type":"req","id":")";
    char num[24];
    const int len =
        std::snprintf(num, sizeof num, "%llu", static_cast<unsigned long long>(next_id_));
    req_.append(num, static_cast<size_t>(len));
    req_ += R"(","method":")";
    req_ += method_;
    req_ += R"(","params":{}})";
    sent_[next_id_ & mask_] = SteadyClock::now();
    ++next_id_;
    if (beast_writes_)
      c_.send_text(req_);
    else
      c_.raw_send(req_);
  }

  void bad(uint64_t& counter, Frame f) {
    if (!run_.running) return;
    ++counter;
    if (run_.first_bad.empty()) run_.first_bad = clip(f, 300);
  }

  void on_frame(Frame f) {
    if (gateway_ && !starts_with(f, R"({"type":"res")")) return;  // tick/health/presence events
    const auto p = f.find(R"("id":")");
    if (p == Frame::npos) return bad(run_.malformed, f);
    size_t q = p + 6;
    uint64_t id = 0;
    bool digits = false;
    while (q < f.size() && f[q] >= '0' && f[q] <= '9') {
      id = id * 10 + static_cast<uint64_t>(f[q] - '0');
      ++q;
      digits = true;
    }
    if (!digits || q >= f.size() || f[q] != '"') return bad(run_.malformed, f);
    if (id != expect_) bad(run_.mismatched, f);  // the server answers a connection in order
    expect_ = id + 1;
    if (gateway_ && f.compare(q + 1, 10, R"(,"ok":true)") != 0) bad(run_.not_ok, f);
    if (run_.measuring) {
      ++run_.completed;
      if (id < next_id_ && next_id_ - id <= sent_.size()) {
        const auto d = SteadyClock::now() - sent_[id & mask_];
        run_.lat_us.push_back(std::chrono::duration<float, std::micro>(d).count());
      }
    }
    if (run_.running) send_one();
  }

  Conn& c_;
  PipeRun& run_;
  size_t depth_;
  bool gateway_, beast_writes_;
  std::string method_, req_;
  std::vector<TimePoint> sent_;
  uint64_t mask_ = 0, next_id_ = 0, expect_ = 0;
  bool dead_ = false;
};

int cmd_pipeline(const Args& a, bool gateway) {
  const Target t = parse_target(a.required("url"));
  const std::string token = gateway ? a.required("token") : "";
  const size_t clients = static_cast<size_t>(a.num("clients", 4, 1, 10'000));
  const size_t depth = static_cast<size_t>(a.num("depth", 32, 1, 100'000));
  const double seconds = a.real("seconds", 5, 0.1, 3600);
  const double warmup = a.real("warmup", 0.5, 0, 60);
  const std::string method = gateway ? a.str("method", "health") : "health";
  const std::string writes = a.str("writes", "raw");
  const long pid = a.num("pid", 0, 0, 1L << 31);
  a.check_all_used();
  for (char ch : method)
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20)
      throw UsageError("bad --method");
  if (writes != "raw" && writes != "beast") throw UsageError("--writes is raw or beast");
  if (clients + 64 > nofile_limit()) throw UsageError("too many clients for the open-file limit");

  asio::io_context io(1);
  OpenOptions oo;
  oo.n = clients;
  Opener opener(io, t, gateway ? &token : nullptr, oo);
  opener.run(nullptr);
  if (opener.failed() > 0) {
    std::cout << (gateway ? "rpc" : "echo") << ": " << opener.failed() << " of " << clients
              << " connections failed to open:\n";
    opener.print_errors(std::cout);
    std::cout << "RESULT " << (gateway ? "rpc" : "echo") << " open_failures=" << opener.failed()
              << "\n";
    return 1;
  }

  PipeRun run;
  run.lat_us.reserve(1 << 22);
  std::vector<std::unique_ptr<PipeClient>> pcs;
  for (auto& c : opener.conns())
    pcs.push_back(std::make_unique<PipeClient>(*c, run, depth, gateway, writes == "beast", method));
  for (auto& p : pcs) p->start();

  TimePoint t_start{}, t_end{};
  CpuMeter cpu;
  std::string cpu_text;
  asio::steady_timer warm(io), stop(io);
  warm.expires_after(std::chrono::microseconds(static_cast<long>(warmup * 1e6)));
  warm.async_wait([&](beast::error_code) {
    run.measuring = true;
    run.completed = run.not_ok = run.mismatched = run.malformed = 0;
    run.first_bad.clear();
    t_start = SteadyClock::now();
    cpu.start(pid);
    stop.expires_after(std::chrono::microseconds(static_cast<long>(seconds * 1e6)));
    stop.async_wait([&](beast::error_code) {
      t_end = SteadyClock::now();
      cpu_text = cpu.report(static_cast<double>(run.completed), gateway ? "request" : "message");
      run.measuring = false;
      run.running = false;
      io.stop();
    });
  });
  io.run();
  // Let the requests still in flight come back (bounded), then close cleanly.
  run_until(
      io,
      [&] {
        for (const auto& p : pcs)
          if (p->outstanding() > 0) return false;
        return true;
      },
      3000);
  close_all(io, opener.conns(), 1000);

  const double secs = ms_between(t_start, t_end) / 1000.0;
  const double rate = secs > 0 ? static_cast<double>(run.completed) / secs : 0;
  std::vector<double> lat(run.lat_us.begin(), run.lat_us.end());
  std::sort(lat.begin(), lat.end());
  for (auto& v : lat) v /= 1000.0;
  const uint64_t errors = run.not_ok + run.mismatched + run.malformed + run.conn_errors;
  const char* name = gateway ? "rpc" : "echo";
  std::cout << name << ": " << clients << " client(s) x " << depth << " in flight, "
            << (gateway ? "method " + method : std::string("echo")) << ", " << writes << " writes, "
            << fmt(secs, 2) << " s measured after " << fmt(warmup, 1) << " s warm-up\n"
            << "  " << fmt(rate, 0) << (gateway ? " req/s" : " msgs/s") << "   " << run.completed
            << " completed   errors " << errors << " (ok:false " << run.not_ok << ", mismatched id "
            << run.mismatched << ", malformed " << run.malformed << ", connection "
            << run.conn_errors << ")\n"
            << "  latency p50 " << fmt(pct(lat, 0.5)) << " ms   p99 " << fmt(pct(lat, 0.99))
            << " ms   max " << fmt(lat.empty() ? 0 : lat.back()) << " ms\n"
            << "  " << cpu_text << "\n";
  if (!run.first_bad.empty()) std::cout << "  first bad frame: " << run.first_bad << "\n";
  for (const auto& [m, c] : run.error_texts) std::cout << "  " << c << " x " << m << "\n";
  std::cout << "RESULT " << name << " clients=" << clients << " depth=" << depth
            << " rate=" << fmt(rate, 0) << " completed=" << run.completed << " errors=" << errors
            << " p50_ms=" << fmt(pct(lat, 0.5)) << " p99_ms=" << fmt(pct(lat, 0.99)) << "\n";
  return errors == 0 && run.completed > 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// send: N channel sends over one connection, D in flight. The gateway answers a send once the
// channel (the Bot API) has accepted the message, so the latency covers the whole channel path:
// front, durable queue, worker, Bot API and back.

// The value of the string field `key` in a frame ("" when absent); no unescaping.
std::string string_field(Frame f, Frame key) {
  std::string pat = "\"";
  pat.append(key);
  pat += "\":\"";
  const auto p = f.find(pat);
  if (p == Frame::npos) return "";
  const auto start = p + pat.size();
  size_t end = start;
  while (end < f.size() && f[end] != '"') end += f[end] == '\\' ? 2 : 1;
  return std::string(f.substr(start, std::min(end, f.size()) - start));
}

int cmd_send(const Args& a) {
  const Target t = parse_target(a.required("url"));
  const std::string token = a.required("token");
  const uint64_t n = static_cast<uint64_t>(a.num("n", 2000, 1, 1'000'000));
  const uint64_t depth = static_cast<uint64_t>(a.num("depth", 64, 1, 100'000));
  const std::string channel = a.str("channel", "telegram");
  const std::string to = a.str("to", "42");
  const int timeout_ms = static_cast<int>(a.num("timeout-ms", 120'000, 100, 3'600'000));
  const long pid = a.num("pid", 0, 0, 1L << 31);
  a.check_all_used();
  // Both go into the request verbatim: nothing that would need escaping.
  auto check = [](const char* name, const std::string& v) {
    if (v.empty()) throw UsageError(std::string("--") + name + " must not be empty");
    for (char ch : v)
      if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20)
        throw UsageError(std::string("bad --") + name);
  };
  check("channel", channel);
  check("to", to);
  // Unique per run, so the gateway's dedupe never answers from an earlier run's outcome.
  const std::string key_prefix =
      "bench-" + std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()) +
      "-";

  asio::io_context io(1);
  OpenOptions oo;
  oo.n = 1;
  Opener opener(io, t, &token, oo);
  opener.run(nullptr);
  if (opener.failed() > 0) {
    std::cout << "send: the connection failed to open:\n";
    opener.print_errors(std::cout);
    std::cout << "RESULT send open_failures=1\n";
    return 1;
  }
  Conn& c = *opener.conns()[0];

  std::vector<TimePoint> sent_at(n);
  std::vector<char> answered(n, 0);
  std::vector<double> lat;
  lat.reserve(n);
  uint64_t next = 0, received = 0, not_ok = 0, not_sent = 0, mismatched = 0;
  bool conn_lost = false, timed_out = false;
  std::string first_bad, conn_error, req;
  std::map<std::string, size_t> error_texts;
  TimePoint t_last{};
  auto bad = [&](uint64_t& counter, Frame f, std::string what) {
    ++counter;
    ++error_texts[std::move(what)];
    if (first_bad.empty()) first_bad = clip(f, 300);
  };
  auto send_next = [&] {
    const std::string i = std::to_string(next);
    req.clear();
    req += R"({"type":"req","id":")";
    req += i;
    req += R"(","method":"send","params":{"channel":")";
    req += channel;
    req += R"(","to":")";
    req += to;
    req += R"(","message":"bench )";
    req += i;
    req += R"(","idempotencyKey":")";
    req += key_prefix;
    req += i;
    req += R"("}})";
    sent_at[next++] = SteadyClock::now();
    c.raw_send(req);
  };

  asio::steady_timer deadline(io);
  c.read_loop(
      [&](Frame f) {
        if (!starts_with(f, R"({"type":"res")")) return;  // tick/health/presence events
        const auto p = f.find(R"("id":")");
        size_t q = p == Frame::npos ? f.size() : p + 6;
        uint64_t id = 0;
        bool digits = false;
        while (q < f.size() && f[q] >= '0' && f[q] <= '9') {
          id = id * 10 + static_cast<uint64_t>(f[q] - '0');
          ++q;
          digits = true;
        }
        if (!digits || q >= f.size() || f[q] != '"' || id >= next || answered[id])
          return bad(mismatched, f, "response to an unknown or already answered id");
        const auto now = SteadyClock::now();
        answered[id] = 1;
        ++received;
        t_last = now;
        lat.push_back(ms_between(sent_at[id], now));
        // Answers complete in any order (each waits for its own delivery).
        if (f.compare(q + 1, 10, R"(,"ok":true)") != 0) {
          const std::string code = string_field(f, "code"), msg = string_field(f, "message");
          bad(not_ok, f, "ok:false " + code + ": " + msg.substr(0, 120));
        } else if (const std::string status = string_field(f, "status"); status != "sent") {
          bad(not_sent, f, "status " + (status.empty() ? std::string("missing") : status));
        }
        if (next < n) send_next();
        if (received == n) io.stop();
      },
      [&](const std::string& e) {
        conn_lost = true;
        conn_error = e;
        io.stop();
      });

  CpuMeter cpu;
  cpu.start(pid);
  const TimePoint t0 = SteadyClock::now();
  deadline.expires_after(std::chrono::milliseconds(timeout_ms));
  deadline.async_wait([&](beast::error_code e) {
    if (e) return;
    timed_out = true;
    io.stop();
  });
  while (next < std::min(n, depth)) send_next();
  io.run();
  deadline.cancel();
  const std::string cpu_text = cpu.report(static_cast<double>(received), "send");
  close_all(io, opener.conns(), 1000);

  const double secs = received > 0 ? ms_between(t0, t_last) / 1000.0 : 0;
  const double rate = secs > 0 ? static_cast<double>(received) / secs : 0;
  const std::string rate_text = fmt(rate, rate < 100 ? 1 : 0);  // a slow channel is still visible
  std::sort(lat.begin(), lat.end());
  const uint64_t errors = not_ok + not_sent + mismatched;
  const uint64_t unanswered = n - received;
  std::cout << "send: " << n << " sends to " << channel << " chat " << to << " over 1 connection, "
            << depth << " in flight, " << received << " answered in " << fmt(secs, 2) << " s\n"
            << "  " << rate_text << " sends/s   errors " << errors << " (ok:false " << not_ok
            << ", status != sent " << not_sent << ", unexpected id " << mismatched
            << ")   unanswered " << unanswered << "\n"
            << "  latency (request -> response, after the channel accepted it) p50 "
            << fmt(pct(lat, 0.5)) << " ms   p99 " << fmt(pct(lat, 0.99)) << " ms   max "
            << fmt(lat.empty() ? 0 : lat.back()) << " ms\n"
            << "  " << cpu_text << "\n";
  if (timed_out) std::cout << "  TIMED OUT after " << timeout_ms << " ms\n";
  if (conn_lost) std::cout << "  connection lost: " << conn_error << "\n";
  if (!first_bad.empty()) std::cout << "  first bad frame: " << first_bad << "\n";
  for (const auto& [m, k] : error_texts) std::cout << "  " << k << " x " << m << "\n";
  std::cout << "RESULT send n=" << n << " depth=" << depth << " rate=" << rate_text
            << " completed=" << received << " errors=" << errors << " unanswered=" << unanswered
            << " p50_ms=" << fmt(pct(lat, 0.5)) << " p99_ms=" << fmt(pct(lat, 0.99))
            << " max_ms=" << fmt(lat.empty() ? 0 : lat.back()) << "\n";
  return errors == 0 && unanswered == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// chat: N chat.send runs over one connection, C in flight. chat.send answers at once; the run
// then streams `agent` events (assistant text as the model produces it) and ends with a `chat`
// event in state final / error / aborted, all on this connection. Per run: chat.send -> the
// first `agent` assistant event (first token) and -> the `chat` final.

int cmd_chat(const Args& a) {
  const Target t = parse_target(a.required("url"));
  const std::string token = a.required("token");
  const uint64_t n = static_cast<uint64_t>(a.num("runs", 500, 1, 1'000'000));
  const uint64_t conc = static_cast<uint64_t>(a.num("concurrency", 8, 1, 100'000));
  const uint64_t sessions = static_cast<uint64_t>(a.num("sessions", 1, 1, 1'000'000));
  const std::string session_prefix = a.str("session-prefix", "bench-");
  const std::string message = a.str("message", "bench");
  const int run_timeout_ms = static_cast<int>(a.num("run-timeout-ms", 30'000, 100, 3'600'000));
  const int timeout_ms = static_cast<int>(a.num("timeout-ms", 300'000, 100, 3'600'000));
  const long pid = a.num("pid", 0, 0, 1L << 31);
  a.check_all_used();
  // Both go into the request verbatim: nothing that would need escaping.
  for (const auto& [name, v] :
       {std::pair<const char*, const std::string&>{"session-prefix", session_prefix},
        {"message", message}}) {
    for (char ch : v)
      if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20)
        throw UsageError(std::string("bad --") + name);
  }
  if (message.find_first_not_of(' ') == std::string::npos)
    throw UsageError("--message must not be blank");
  // The runId is the idempotencyKey: unique per invocation, so events map back to run numbers
  // and the gateway's dedupe never answers from an earlier invocation's runs.
  const std::string key_prefix =
      "bench-" + std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()) +
      "-";

  asio::io_context io(1);
  OpenOptions oo;
  oo.n = 1;
  Opener opener(io, t, &token, oo);
  opener.run(nullptr);
  if (opener.failed() > 0) {
    std::cout << "chat: the connection failed to open:\n";
    opener.print_errors(std::cout);
    std::cout << "RESULT chat open_failures=1\n";
    return 1;
  }
  Conn& c = *opener.conns()[0];

  enum : char { kIdle, kFlight, kFinal, kFailed };
  std::vector<char> state(n, kIdle), accepted(n, 0);
  std::vector<TimePoint> sent_at(n), first_at(n);
  std::vector<char> has_first(n, 0);
  std::vector<double> first_lat, final_lat;
  first_lat.reserve(n);
  final_lat.reserve(n);
  std::set<uint64_t> inflight;  // sent, not ended
  uint64_t next = 0, ended = 0, finals = 0, st_error = 0, st_aborted = 0, refused = 0, missing = 0,
           no_first = 0, strays = 0;
  bool conn_lost = false, timed_out = false;
  std::string first_bad, conn_error, req;
  std::map<std::string, size_t> error_texts;
  TimePoint t_last{};

  auto session_of = [&](uint64_t i) {
    return "agent:main:" + session_prefix + std::to_string(i % sessions);
  };
  auto send_next = [&] {
    const uint64_t i = next++;
    const std::string is = std::to_string(i);
    req.clear();
    req += R"({"type":"req","id":")";
    req += is;
    req += R"(","method":"chat.send","params":{"sessionKey":")";
    req += session_of(i);
    req += R"(","message":")";
    req += message;
    req += R"(","idempotencyKey":")";
    req += key_prefix;
    req += is;
    req += R"("}})";
    state[i] = kFlight;
    inflight.insert(i);
    sent_at[i] = SteadyClock::now();
    c.raw_send(req);
  };
  // Ends run i (final or not) and keeps the pipeline full.
  auto end_run = [&](uint64_t i, bool ok, TimePoint now, Frame f, std::string what) {
    state[i] = ok ? kFinal : kFailed;
    inflight.erase(i);
    ++ended;
    t_last = now;
    if (ok) {
      ++finals;
      final_lat.push_back(ms_between(sent_at[i], now));
      if (has_first[i])
        first_lat.push_back(ms_between(sent_at[i], first_at[i]));
      else
        ++no_first;
    } else {
      ++error_texts[std::move(what)];
      if (first_bad.empty() && !f.empty()) first_bad = clip(f, 300);
    }
    if (next < n) send_next();
    if (ended == n) io.stop();
  };
  // The run number of an event's runId; n when it is not one of ours.
  auto run_of = [&](Frame f) -> uint64_t {
    const std::string id = string_field(f, "runId");
    if (id.size() <= key_prefix.size() || id.compare(0, key_prefix.size(), key_prefix) != 0)
      return n;
    uint64_t i = 0;
    for (size_t k = key_prefix.size(); k < id.size(); ++k) {
      if (id[k] < '0' || id[k] > '9') return n;
      i = i * 10 + static_cast<uint64_t>(id[k] - '0');
    }
    return i < next ? i : n;
  };

  asio::steady_timer deadline(io), sweep(io);
  c.read_loop(
      [&](Frame f) {
        const auto now = SteadyClock::now();
        if (starts_with(f, R"({"type":"event","event":"agent")")) {
          const uint64_t i = run_of(f);
          if (i == n) {  // not one of ours
            ++strays;
            return;
          }
          if (state[i] == kFlight && !has_first[i] &&
              f.find(R"("stream":"assistant")") != Frame::npos) {
            has_first[i] = 1;
            first_at[i] = now;
          }
          return;
        }
        if (starts_with(f, R"({"type":"event","event":"chat")")) {
          const uint64_t i = run_of(f);
          if (i == n) {  // not one of ours
            ++strays;
            return;
          }
          if (state[i] != kFlight) return;  // already ended (timed out)
          const std::string st = string_field(f, "state");
          if (st == "final") return end_run(i, true, now, f, "");
          if (st == "error") {
            ++st_error;
            return end_run(i, false, now, f,
                           "state error: " + string_field(f, "errorMessage").substr(0, 120));
          }
          if (st == "aborted") {
            ++st_aborted;
            return end_run(i, false, now, f, "state aborted");
          }
          return;  // delta
        }
        if (!starts_with(f, R"({"type":"res")")) return;  // tick/health/presence events
        if (f.find(R"("id":"a)") != Frame::npos) return;  // a chat.abort of a given-up run
        const auto p = f.find(R"("id":")");
        size_t q = p == Frame::npos ? f.size() : p + 6;
        uint64_t id = 0;
        bool digits = false;
        while (q < f.size() && f[q] >= '0' && f[q] <= '9') {
          id = id * 10 + static_cast<uint64_t>(f[q] - '0');
          ++q;
          digits = true;
        }
        if (!digits || q >= f.size() || f[q] != '"' || id >= next || accepted[id]) {
          ++strays;
          if (first_bad.empty()) first_bad = clip(f, 300);
          return;
        }
        accepted[id] = 1;
        if (f.compare(q + 1, 10, R"(,"ok":true)") != 0) {
          ++refused;
          if (state[id] == kFlight)
            end_run(id, false, now, f,
                    "chat.send ok:false " + string_field(f, "code") + ": " +
                        string_field(f, "message").substr(0, 120));
        } else if (const std::string s = string_field(f, "status"); s != "started") {
          ++refused;
          if (state[id] == kFlight)
            end_run(id, false, now, f, "chat.send status " + (s.empty() ? "missing" : s));
        }
      },
      [&](const std::string& e) {
        conn_lost = true;
        conn_error = e;
        io.stop();
      });

  // Runs without a final within --run-timeout-ms are given up (counted) and replaced.
  std::function<void()> arm_sweep = [&] {
    sweep.expires_after(std::chrono::milliseconds(std::min(run_timeout_ms, 100)));
    sweep.async_wait([&](beast::error_code e) {
      if (e) return;
      const auto now = SteadyClock::now();
      const auto limit = std::chrono::milliseconds(run_timeout_ms);
      std::vector<uint64_t> late;
      for (uint64_t i : inflight)
        if (now - sent_at[i] > limit) late.push_back(i);
      for (uint64_t i : late) {
        ++missing;
        // Given up: stop it in the gateway too (its answer, id "a<i>", is not waited for).
        c.raw_send(R"({"type":"req","id":"a)" + std::to_string(i) +
                   R"(","method":"chat.abort","params":{"sessionKey":")" + session_of(i) +
                   R"(","runId":")" + key_prefix + std::to_string(i) + R"("}})");
        end_run(i, false, now, Frame(),
                "no final within " + std::to_string(run_timeout_ms) + " ms (aborted)");
      }
      if (ended < n) arm_sweep();
    });
  };

  CpuMeter cpu;
  cpu.start(pid);
  const TimePoint t0 = SteadyClock::now();
  deadline.expires_after(std::chrono::milliseconds(timeout_ms));
  deadline.async_wait([&](beast::error_code e) {
    if (e) return;
    timed_out = true;
    io.stop();
  });
  arm_sweep();
  while (next < std::min(n, conc)) send_next();
  io.run();
  deadline.cancel();
  sweep.cancel();
  if (missing > 0) {  // let the last chat.abort frames go out before the close
    io.restart();
    run_until(
        io, [] { return false; }, 200);
  }
  const std::string cpu_text = cpu.report(static_cast<double>(finals), "run");
  close_all(io, opener.conns(), 1000);

  const double secs = ended > 0 ? ms_between(t0, t_last) / 1000.0 : 0;
  const double rate = secs > 0 ? static_cast<double>(finals) / secs : 0;
  const std::string rate_text = fmt(rate, rate < 100 ? 1 : 0);
  std::sort(first_lat.begin(), first_lat.end());
  std::sort(final_lat.begin(), final_lat.end());
  const uint64_t unended = n - ended;  // only after a lost connection or the overall timeout
  const uint64_t errors = st_error + st_aborted + refused + missing + unended;
  std::cout << "chat: " << n << " chat.send runs over 1 connection, " << conc << " in flight, "
            << std::min(n, sessions) << " session(s) (agent:main:" << session_prefix << "<i % "
            << sessions << ">), " << finals << " final in " << fmt(secs, 2) << " s\n"
            << "  " << rate_text << " runs/s   errors " << errors << " (state error " << st_error
            << ", aborted " << st_aborted << ", chat.send refused " << refused
            << ", no final within " << run_timeout_ms << " ms " << missing << ", never ended "
            << unended << ")\n"
            << "  first token (chat.send -> first agent assistant event) p50 "
            << fmt(pct(first_lat, 0.5)) << " ms   p99 " << fmt(pct(first_lat, 0.99)) << " ms   max "
            << fmt(first_lat.empty() ? 0 : first_lat.back()) << " ms"
            << (no_first ? "   (" + std::to_string(no_first) + " finals had none)" : "") << "\n"
            << "  final (chat.send -> chat final) p50 " << fmt(pct(final_lat, 0.5)) << " ms   p99 "
            << fmt(pct(final_lat, 0.99)) << " ms   max "
            << fmt(final_lat.empty() ? 0 : final_lat.back()) << " ms   min "
            << fmt(final_lat.empty() ? 0 : final_lat.front()) << " ms\n"
            << "  " << cpu_text << "\n";
  if (timed_out) std::cout << "  TIMED OUT after " << timeout_ms << " ms\n";
  if (conn_lost) std::cout << "  connection lost: " << conn_error << "\n";
  if (strays) std::cout << "  " << strays << " frames for unknown runs or ids (ignored)\n";
  if (!first_bad.empty()) std::cout << "  first bad frame: " << first_bad << "\n";
  for (const auto& [m, k] : error_texts) std::cout << "  " << k << " x " << m << "\n";
  std::cout << "RESULT chat runs=" << n << " concurrency=" << conc << " sessions=" << sessions
            << " rate=" << rate_text << " finals=" << finals << " errors=" << errors
            << " ft_p50_ms=" << fmt(pct(first_lat, 0.5))
            << " ft_p99_ms=" << fmt(pct(first_lat, 0.99))
            << " final_p50_ms=" << fmt(pct(final_lat, 0.5))
            << " final_p99_ms=" << fmt(pct(final_lat, 0.99))
            << " final_min_ms=" << fmt(final_lat.empty() ? 0 : final_lat.front())
            << " no_first=" << no_first << "\n";
  return errors == 0 && finals == n ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// fanout: M passive clients, one admin caller sending system-event

int cmd_fanout(const Args& a) {
  const Target t = parse_target(a.required("url"));
  const std::string token = a.required("token");
  const size_t m = static_cast<size_t>(a.num("clients", 1000, 1, 100'000));
  const long rounds = a.num("rounds", 200, 1, 1'000'000);
  const long warmup = a.num("warmup", 10, 0, 100'000);
  const int round_timeout_ms = static_cast<int>(a.num("round-timeout-ms", 5000, 10, 600'000));
  const int gap_ms = static_cast<int>(a.num("gap-ms", 2, 0, 10'000));
  const long pid = a.num("pid", 0, 0, 1L << 31);
  a.check_all_used();
  if (m + 64 > nofile_limit()) throw UsageError("too many clients for the open-file limit");

  asio::io_context io(1);
  OpenOptions oo;
  oo.n = m + 1;
  oo.per_ip_conns = 1000;
  Opener opener(io, t, &token, oo);
  opener.run(nullptr);
  if (opener.failed() > 0) {
    std::cout << "fanout: " << opener.failed() << " of " << m + 1
              << " connections failed to open:\n";
    opener.print_errors(std::cout);
    std::cout << "RESULT fanout open_failures=" << opener.failed() << "\n";
    return 1;
  }
  auto& conns = opener.conns();
  Conn& caller = *conns[m];

  long round = 0;  // 1-based; 0: none yet
  size_t received = 0;
  bool caller_done = false, all_received = false, failed = false;
  uint64_t conn_errors = 0, dup = 0;
  std::string fail_text;
  TimePoint t_send{}, t_all{};
  std::vector<double> lat;
  CpuMeter cpu;
  std::string cpu_text;
  asio::steady_timer round_timer(io), gap_timer(io);
  std::function<void()> start_round;

  auto round_complete = [&] {
    if (!(caller_done && all_received)) return;
    round_timer.cancel();
    if (round > warmup) lat.push_back(ms_between(t_send, t_all));
    if (round == warmup) cpu.start(pid);
    if (round >= warmup + rounds) {
      cpu_text = cpu.report(static_cast<double>(rounds), "round");
      io.stop();
      return;
    }
    gap_timer.expires_after(std::chrono::milliseconds(gap_ms));
    gap_timer.async_wait([&](beast::error_code e) {
      if (!e) start_round();
    });
  };

  for (size_t i = 0; i < m; ++i) {
    Conn* c = conns[i].get();
    c->read_loop(
        [&, c](Frame f) {
          if (f.find(R"("event":"presence")") == Frame::npos) return;
          if (c->tag == static_cast<uint64_t>(round)) {
            ++dup;
            return;
          }
          c->tag = static_cast<uint64_t>(round);
          if (++received == m) {
            t_all = SteadyClock::now();
            all_received = true;
            round_complete();
          }
        },
        [&](const std::string& e) {
          ++conn_errors;
          if (!failed) fail_text = "passive connection lost: " + e;
          failed = true;
          io.stop();
        });
  }
  std::string expect_id;
  caller.read_loop(
      [&](Frame f) {
        if (!starts_with(f, R"({"type":"res")")) return;
        if (f.find(expect_id) == Frame::npos || f.find(R"("ok":true)") == Frame::npos) {
          fail_text = "system-event failed: " + clip(f, 300);
          failed = true;
          io.stop();
          return;
        }
        caller_done = true;
        round_complete();
      },
      [&](const std::string& e) {
        ++conn_errors;
        fail_text = "caller connection lost: " + e;
        failed = true;
        io.stop();
      });

  start_round = [&] {
    ++round;
    received = 0;
    caller_done = all_received = false;
    const std::string id = "f" + std::to_string(round);
    expect_id = R"("id":")" + id + "\"";
    round_timer.expires_after(std::chrono::milliseconds(round_timeout_ms));
    round_timer.async_wait([&](beast::error_code e) {
      if (e) return;
      fail_text = "round " + std::to_string(round) + " timed out: " + std::to_string(received) +
                  "/" + std::to_string(m) +
                  " clients got presence, caller answered: " + (caller_done ? "yes" : "no");
      failed = true;
      io.stop();
    });
    t_send = SteadyClock::now();
    caller.send_text(R"({"type":"req","id":")" + id +
                     R"(","method":"system-event","params":{"text":"bench fanout"}})");
  };
  if (warmup == 0) cpu.start(pid);
  start_round();
  io.run();
  close_all(io, conns, 1000);

  std::sort(lat.begin(), lat.end());
  std::cout << "fanout: " << m << " passive clients + 1 admin caller, " << lat.size()
            << " rounds measured (" << warmup << " warm-up), opened in " << fmt(opener.seconds(), 2)
            << " s from " << opener.source_ips() << " source address(es)\n"
            << "  send -> all " << m << " got presence: p50 " << fmt(pct(lat, 0.5)) << " ms   p90 "
            << fmt(pct(lat, 0.9)) << " ms   p99 " << fmt(pct(lat, 0.99)) << " ms   max "
            << fmt(lat.empty() ? 0 : lat.back()) << " ms\n";
  if (!cpu_text.empty())
    std::cout << "  " << cpu_text << " (rounds back to back, " << gap_ms << " ms apart)\n";
  if (dup) std::cout << "  " << dup << " duplicate presence events within a round\n";
  if (failed) std::cout << "  FAILED: " << fail_text << "\n";
  std::cout << "RESULT fanout clients=" << m << " rounds=" << lat.size()
            << " failed=" << (failed ? 1 : 0) << " p50_ms=" << fmt(pct(lat, 0.5))
            << " p99_ms=" << fmt(pct(lat, 0.99)) << " max_ms=" << fmt(lat.empty() ? 0 : lat.back())
            << "\n";
  return failed || lat.empty() ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// idle: hold N handshaken connections, measure the server's RSS growth (--pid must be the
// process that holds the connections: the front, not the supervisor)

long read_rss_kb(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream is(line.substr(6));
      long kb = -1;
      is >> kb;
      return kb;
    }
  }
  return -1;
}

// Open file descriptors of a process (entries of /proc/PID/fd); -1 when unreadable.
long count_fds(long pid) {
  std::error_code ec;
  long n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec))
    ++n;
  return ec ? -1 : n;
}

int cmd_idle(const Args& a) {
  const Target t = parse_target(a.required("url"));
  const std::string token = a.required("token");
  const long pid = a.num("pid", 0, 1, 1L << 31);
  OpenOptions oo;
  oo.n = static_cast<size_t>(a.num("n", 10'000, 1, 200'000));
  oo.per_ip_conns = static_cast<size_t>(a.num("per-ip", 1000, 1, 60'000));
  oo.per_ip_window = static_cast<size_t>(a.num("per-ip-window", 16, 1, 31));
  oo.window = static_cast<size_t>(a.num("window", 64, 1, 10'000));
  const int settle_ms = static_cast<int>(a.num("settle-ms", 1000, 0, 600'000));
  const int hold_ms = static_cast<int>(a.num("hold-ms", 0, 0, 3'600'000));
  const int closed_settle_ms = static_cast<int>(a.num("closed-settle-ms", 0, 0, 600'000));
  a.check_all_used();
  if (oo.n + 64 > nofile_limit())
    throw UsageError("--n " + std::to_string(oo.n) + " needs more open files than the limit (" +
                     std::to_string(nofile_limit()) + ")");

  const long before = read_rss_kb(pid);
  if (before < 0) throw UsageError("cannot read VmRSS of pid " + std::to_string(pid));
  const long fds_before = count_fds(pid);
  asio::io_context io(1);
  Opener opener(io, t, &token, oo);
  uint64_t lost = 0;
  std::string lost_text;
  // RSS half-way: the second half's growth is the marginal cost of a connection once the
  // server's bounded structures (its log ring, allocator arenas) have filled during the first.
  const size_t half_n = oo.n / 2;
  size_t ready = 0;
  long half = -1;
  // Keep a read pending on each: the gateway's tick/health broadcasts must not pile up.
  opener.run([&](Conn& c) {
    if (++ready == half_n) half = read_rss_kb(pid);
    c.read_loop([](Frame) {},
                [&](const std::string& e) {
                  ++lost;
                  if (lost_text.empty()) lost_text = e;
                });
  });
  const size_t held_at_open = opener.opened();
  asio::steady_timer settle(io);
  settle.expires_after(std::chrono::milliseconds(settle_ms));
  settle.async_wait([&](beast::error_code) { io.stop(); });
  io.run();
  io.restart();
  const long after = read_rss_kb(pid);
  const long fds_after = count_fds(pid);
  const size_t held = held_at_open - std::min<size_t>(held_at_open, lost);
  if (hold_ms > 0) {
    settle.expires_after(std::chrono::milliseconds(hold_ms));
    settle.async_wait([&](beast::error_code) { io.stop(); });
    io.run();
    io.restart();
  }
  for (auto& c : opener.conns())
    if (c) c->close_now();
  io.poll();
  long closed = -1, fds_closed = -1;
  if (closed_settle_ms > 0) {  // what the server gives back once every connection is gone
    std::this_thread::sleep_for(std::chrono::milliseconds(closed_settle_ms));
    closed = read_rss_kb(pid);
    fds_closed = count_fds(pid);
  }

  const double per_conn =
      held > 0 ? static_cast<double>(after - before) / static_cast<double>(held) : 0;
  // Connections opened after the half-way reading (all but a few still held).
  const size_t second = held > half_n ? held - half_n : 0;
  const double per_conn_2nd =
      half >= 0 && second > 0 ? static_cast<double>(after - half) / static_cast<double>(second) : 0;
  std::cout << "idle: " << held << " of " << oo.n << " connections held (handshake complete) from "
            << opener.source_ips() << " source addresses; opened in " << fmt(opener.seconds(), 2)
            << " s ("
            << fmt(static_cast<double>(opener.opened()) / std::max(opener.seconds(), 1e-9), 0)
            << " handshakes/s), " << opener.failed() << " failed, " << opener.retries()
            << " retried, " << lost << " lost afterwards\n"
            << "  server (pid " << pid << ") RSS " << before << " KB -> " << after
            << " KB: " << fmt(per_conn, 2) << " KB per connection; open fds " << fds_before
            << " -> " << fds_after << "\n"
            << "  second half only (RSS " << half << " KB at " << half_n
            << " connections): " << fmt(per_conn_2nd, 2) << " KB per connection\n";
  if (closed >= 0)
    std::cout << "  " << fmt(closed_settle_ms / 1000.0, 1) << " s after closing them all: RSS "
              << closed << " KB (" << fmt(static_cast<double>(closed - before) / 1024, 1)
              << " MiB above the start), open fds " << fds_closed << "\n";
  opener.print_errors(std::cout);
  if (lost) std::cout << "  first loss: " << lost_text << "\n";
  std::cout << "RESULT idle n=" << held << " failed=" << opener.failed()
            << " retries=" << opener.retries() << " lost=" << lost << " rss_before_kb=" << before
            << " rss_half_kb=" << half << " rss_after_kb=" << after << " rss_closed_kb=" << closed
            << " fds_before=" << fds_before << " fds_after=" << fds_after
            << " fds_closed=" << fds_closed << " kb_per_conn=" << fmt(per_conn, 2)
            << " kb_per_conn_2nd_half=" << fmt(per_conn_2nd, 2) << "\n";
  return opener.failed() == 0 && lost == 0 && held == oo.n ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// startup: exec the gateway, time until a connect + hello-ok succeeds

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
};

Child spawn_gateway(const std::string& bin, const std::string& state_dir,
                    const std::string& token) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "CLAWGATE_STATE_DIR=", 19) != 0) env_store.emplace_back(*e);
  env_store.push_back("CLAWGATE_STATE_DIR=" + state_dir);
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string a0 = bin, a1 = "gateway", a2 = "--port", a3 = "0", a4 = "--token", a5 = token;
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data(), nullptr};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive this tool
    if (getppid() != parent) _exit(127);
    dup2(fds[1], 1);
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  close(fds[1]);
  return Child{pid, fds[0]};
}

// Reads the child's stdout until the "listening on ws://..." line; returns the URL or "".
std::string wait_listening(int fd, TimePoint deadline, std::string& seen) {
  char buf[4096];
  for (;;) {
    const auto p = seen.find("listening on ws://");
    if (p != std::string::npos) {
      const auto end = seen.find_first_of(" \n", p + 13);
      if (end != std::string::npos) return seen.substr(p + 13, end - (p + 13));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
            .count();
    if (left <= 0) return "";
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(std::min<long>(left, 100))) < 0 && errno != EINTR) return "";
    if (pfd.revents & (POLLIN | POLLHUP)) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return "";  // the child exited
      seen.append(buf, static_cast<size_t>(n));
    }
  }
}

// SIGTERM, drain its output, reap it; SIGKILL after `grace_ms`. Returns the wait status.
int stop_child(Child& c, int grace_ms) {
  if (c.pid <= 0) return 0;
  kill(c.pid, SIGTERM);
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(grace_ms);
  int status = 0;
  char buf[4096];
  for (;;) {
    const pid_t r = waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) break;
    if (SteadyClock::now() >= deadline) {
      kill(c.pid, SIGKILL);
      waitpid(c.pid, &status, 0);
      break;
    }
    pollfd pfd{c.out_fd, POLLIN, 0};
    if (c.out_fd >= 0 && poll(&pfd, 1, 10) > 0) {
      if (read(c.out_fd, buf, sizeof buf) <= 0) {
        close(c.out_fd);
        c.out_fd = -1;
      }
    } else if (c.out_fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  if (c.out_fd >= 0) close(c.out_fd);
  c.out_fd = -1;
  c.pid = -1;
  return status;
}

int cmd_startup(const Args& a) {
  const std::string bin = a.required("bin");
  const long n = a.num("n", 20, 1, 10'000);
  const int timeout_ms = static_cast<int>(a.num("timeout-ms", 10'000, 100, 600'000));
  a.check_all_used();
  if (access(bin.c_str(), X_OK) != 0) throw UsageError("not executable: " + bin);
  const std::string token = "x";

  std::vector<double> lat, to_listen;
  size_t failures = 0;
  std::map<std::string, size_t> errors;
  asio::io_context io(1);
  for (long i = 0; i < n; ++i) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "clawgate-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    const auto t0 = SteadyClock::now();
    Child child = spawn_gateway(bin, tmpl, token);
    const auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
    std::string seen, err;
    const std::string url = wait_listening(child.out_fd, deadline, seen);
    const auto t_listen = SteadyClock::now();
    bool ready = false;
    if (url.empty()) {
      err = "no 'listening on' line";
    } else {
      const Target t = parse_target(url);
      // Poll: connect + hello-ok, retried every millisecond until it works or the deadline.
      while (!ready && SteadyClock::now() < deadline) {
        Conn c(io);
        bool done = false;
        c.open(t, nullptr, &token, timeout_ms, [&](const std::string& e) {
          err = e;
          done = true;
        });
        run_until(
            io, [&] { return done; }, timeout_ms + 1000);
        if (done && err.empty()) {
          ready = true;
          lat.push_back(ms_between(t0, SteadyClock::now()));
          to_listen.push_back(ms_between(t0, t_listen));
        }
        c.close_now();
        io.restart();
        io.poll();
        if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    const int status = stop_child(child, 5000);
    if (!ready) {
      ++failures;
      ++errors[err.empty() ? "not ready before the deadline" : err];
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      ++errors["gateway did not exit 0 after SIGTERM (status " + std::to_string(status) + ")"];
      ++failures;
    }
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
  }
  std::sort(lat.begin(), lat.end());
  std::sort(to_listen.begin(), to_listen.end());
  std::cout << "startup: " << lat.size() << " of " << n << " cold starts ready (exec -> hello-ok), "
            << failures << " failed\n"
            << "  ready: p50 " << fmt(pct(lat, 0.5)) << " ms   max "
            << fmt(lat.empty() ? 0 : lat.back()) << " ms   (exec -> 'listening' line: p50 "
            << fmt(pct(to_listen, 0.5)) << " ms)\n";
  for (const auto& [m, c] : errors) std::cout << "  " << c << " x " << m << "\n";
  std::cout << "RESULT startup n=" << lat.size() << " failures=" << failures
            << " p50_ms=" << fmt(pct(lat, 0.5)) << " max_ms=" << fmt(lat.empty() ? 0 : lat.back())
            << "\n";
  return failures == 0 ? 0 : 1;
}

void usage(std::ostream& os) {
  os << "usage: clawgate-bench <command> [--option value ...]\n"
        "  handshake --url U [--token T] [--n 2000] [--warmup 50] [--pid P]   (no token: upgrade "
        "only)\n"
        "  rpc       --url U --token T [--clients 4] [--depth 32] [--seconds 5] [--method health]\n"
        "            [--warmup 0.5] [--writes raw|beast] [--pid P]\n"
        "  fanout    --url U --token T [--clients 1000] [--rounds 200] [--warmup 10] [--gap-ms 2]\n"
        "            [--pid P]\n"
        "  idle      --url U --token T --pid P [--n 10000] [--per-ip 1000] [--per-ip-window 16]\n"
        "            [--window 64] [--settle-ms 1000] [--hold-ms 0] [--closed-settle-ms 0]\n"
        "            (P: the process holding the connections, i.e. clawgate-front)\n"
        "  echo      --url U [--clients 4] [--depth 32] [--seconds 5] [--warmup 0.5] [--writes "
        "raw|beast]\n"
        "            [--pid P]\n"
        "  send      --url U --token T [--n 2000] [--depth 64] [--channel telegram] [--to 42]\n"
        "            [--timeout-ms 120000] [--pid P]\n"
        "  chat      --url U --token T [--runs 500] [--concurrency 8] [--sessions 1]\n"
        "            [--session-prefix bench-] [--message bench] [--run-timeout-ms 30000]\n"
        "            [--timeout-ms 300000] [--pid P]\n"
        "  startup   --bin PATH [--n 20]\n"
        "URLs must be ws://127.x.y.z:port. --pid P (the server's pid) adds its CPU use to the "
        "figures.\n"
        "Exit: 0 clean run, 1 errors observed, 2 usage.\n";
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    usage(std::cout);
    return 0;
  }
  try {
    const Args a(argc, argv, 2);
    if (cmd == "handshake") return cmd_handshake(a);
    if (cmd == "rpc") return cmd_pipeline(a, true);
    if (cmd == "echo") return cmd_pipeline(a, false);
    if (cmd == "fanout") return cmd_fanout(a);
    if (cmd == "idle") return cmd_idle(a);
    if (cmd == "send") return cmd_send(a);
    if (cmd == "chat") return cmd_chat(a);
    if (cmd == "startup") return cmd_startup(a);
    std::cerr << "clawgate-bench: unknown command " << cmd << "\n";
    usage(std::cerr);
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "clawgate-bench: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "clawgate-bench: " << e.what() << "\n";
    return 1;
  }
}
