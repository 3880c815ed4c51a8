// Unit tests: each process kind's sandbox, proven from inside. A forked child applies the
// front's, a channel worker's or the agent's policy and tries what that process must and must
// not do (state files, another channel's state, the gateway token, execve, TCP connect,
// another process's environ); results come back through a pipe. Plus url_port and the agent's
// port list. Without Landlock in the kernel these tests skip, except under CI=true, where they
// fail.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "fs.hpp"
#include "providers.hpp"
#include "sandbox.hpp"

namespace clawgate::sandbox {
namespace {

using Results = std::map<std::string, std::string>;  // check name -> "ok" or the errno text

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

#define REQUIRE_LANDLOCK_ABI4()                                                                 \
  do {                                                                                          \
    if (sandbox::landlock_abi() < 4) {                                                          \
      if (in_ci()) FAIL() << "this kernel has no Landlock ABI 4; CI must run on one that does"; \
      GTEST_SKIP() << "kernel without Landlock ABI 4";                                          \
    }                                                                                           \
  } while (0)

std::string outcome(bool ok) {
  return ok ? "ok" : std::strerror(errno);
}

std::string try_read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return outcome(false);
  char c;
  const bool ok = ::read(fd, &c, 1) >= 0;
  const std::string r = outcome(ok);
  ::close(fd);
  return r;
}

std::string try_write(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return outcome(false);
  const bool ok = ::write(fd, "x\n", 2) == 2;
  const std::string r = outcome(ok);
  ::close(fd);
  return r;
}

std::string try_connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  const std::string r = outcome(ok);
  ::close(fd);
  return r;
}

std::string try_exec() {
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  char* envp[] = {nullptr};
  ::execve("/bin/true", argv, envp);
  return outcome(false);  // only reached when execve failed
}

// Applies `p` in a forked child, runs `checks` there and returns what they found, plus the
// report as "report.*" entries.
Results run_sandboxed(const Policy& p, const std::function<void(Results&)>& checks,
                      int landlock_abi_limit = 1 << 20) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    Results r;
    const Report rep = apply(p, landlock_abi_limit);
    r["report.noNewPrivs"] = rep.no_new_privs ? "true" : "false";
    r["report.seccomp"] = rep.seccomp ? "true" : "false";
    r["report.landlock"] = rep.landlock ? "true" : "false";
    r["report.landlockAbi"] = std::to_string(rep.landlock_abi);
    std::string missing;
    for (const auto& n : rep.not_applied) missing += n + "; ";
    r["report.notApplied"] = missing;
    checks(r);
    const std::string out = nlohmann::json(r).dump();
    size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::write(pipe_fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(0);  // no atexit handlers (or leak checks) in a forked copy of the test runner
  }
  ::close(pipe_fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "sandboxed child died: " << status;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_object() ? j.get<Results>() : Results{};
}

// A gateway state directory with the front's token, two channel accounts and a session.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/clawgate-sandbox-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    state_ = tmpl;
    atomic_write_file(state_ + "/gateway-token", "secret-gateway-token\n");
    make_dirs(state_ + "/sessions");
    atomic_write_file(state_ + "/sessions/sessions.json", "{}\n");
    make_dirs(channel_state_dir(state_, "telegram", "default"));
    atomic_write_file(channel_state_dir(state_, "telegram", "default") + "/offset", "7\n");
    make_dirs(channel_state_dir(state_, "telegram", "work"));
    atomic_write_file(channel_state_dir(state_, "telegram", "work") + "/offset", "9\n");
    allowed_ = listen_on_loopback(allowed_port_);
    other_ = listen_on_loopback(other_port_);
  }
  void TearDown() override {
    ::close(allowed_);
    ::close(other_);
    std::system(("rm -rf '" + state_ + "'").c_str());
  }
  static int listen_on_loopback(uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd, 16), 0);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
  }
  void expect_fully_applied(const Results& r) {
    EXPECT_EQ(r.at("report.noNewPrivs"), "true");
    EXPECT_EQ(r.at("report.seccomp"), "true");
    EXPECT_EQ(r.at("report.landlock"), "true");
    EXPECT_EQ(r.at("report.landlockAbi"), std::to_string(sandbox::landlock_abi()));
    const std::string expected_missing =
        sanitizer_build() ? "seccomp: ptrace allowed (sanitizer build: LeakSanitizer needs it); "
                          : "";
    EXPECT_EQ(r.at("report.notApplied"), expected_missing);
  }
  std::string state_;
  int allowed_ = -1, other_ = -1;
  uint16_t allowed_port_ = 0, other_port_ = 0;
};

TEST_F(SandboxTest, FrontKeepsItsStateDirButCannotConnectOutReadElsewhereOrExec) {
  REQUIRE_LANDLOCK_ABI4();
  const Results r = run_sandboxed(front_policy(state_), [&](Results& out) {
    out["read token"] = try_read(state_ + "/gateway-token");
    out["write session"] = try_write(state_ + "/sessions/new.jsonl");
    out["read session"] = try_read(state_ + "/sessions/new.jsonl");
    out["mkdir"] = outcome(::mkdir((state_ + "/cron").c_str(), 0700) == 0);
    out["rename"] = outcome(::rename((state_ + "/sessions/new.jsonl").c_str(),
                                     (state_ + "/sessions/moved.jsonl").c_str()) == 0);
    out["connect"] = try_connect(other_port_);
    out["read outside"] = try_read("/etc/passwd");
    out["environ of parent"] = try_read("/proc/" + std::to_string(::getppid()) + "/environ");
    out["read own statm"] = try_read("/proc/self/statm");
    out["ptrace parent"] = outcome(::ptrace(PTRACE_ATTACH, ::getppid(), nullptr, nullptr) == 0);
    out["execve"] = try_exec();
  });
  ASSERT_FALSE(r.empty());
  expect_fully_applied(r);
  EXPECT_EQ(r.at("read token"), "ok");
  EXPECT_EQ(r.at("write session"), "ok");
  EXPECT_EQ(r.at("read session"), "ok");
  EXPECT_EQ(r.at("mkdir"), "ok");
  EXPECT_EQ(r.at("rename"), "ok");
  EXPECT_EQ(r.at("read own statm"), "ok") << "RSS reporting reads /proc/self";
  EXPECT_EQ(r.at("connect"), std::strerror(EACCES)) << "the front makes no outgoing TCP";
  EXPECT_EQ(r.at("read outside"), std::strerror(EACCES));
  EXPECT_EQ(r.at("environ of parent"), std::strerror(EACCES));
  EXPECT_NE(r.at("ptrace parent"), "ok");
  EXPECT_EQ(r.at("execve"), std::strerror(EPERM));
}

TEST_F(SandboxTest, FrontAcceptsAConnectionMadeAfterItIsSandboxed) {
  REQUIRE_LANDLOCK_ABI4();
  // Connect first (the backlog holds it), then the sandboxed child accepts.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(allowed_port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const int listening = allowed_;
  const Results r = run_sandboxed(front_policy(state_), [&](Results& out) {
    const int conn = ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC);
    out["accept"] = outcome(conn >= 0);
    out["send"] = outcome(conn >= 0 && ::send(conn, "hi", 2, MSG_NOSIGNAL) == 2);
  });
  char buf[2];
  EXPECT_EQ(::recv(client, buf, 2, MSG_WAITALL), 2);
  ::close(client);
  EXPECT_EQ(r.at("accept"), "ok");
  EXPECT_EQ(r.at("send"), "ok");
}

TEST_F(SandboxTest, ChannelWorkerSeesOnlyItsOwnAccountAndItsApiPort) {
  REQUIRE_LANDLOCK_ABI4();
  const std::string own = channel_state_dir(state_, "telegram", "default");
  const Results r = run_sandboxed(
      channel_policy(state_, "telegram", "default", {allowed_port_}), [&](Results& out) {
        out["read own offset"] = try_read(own + "/offset");
        out["write own offset"] = try_write(own + "/offset.tmp");
        out["rename own offset"] =
            outcome(::rename((own + "/offset.tmp").c_str(), (own + "/offset").c_str()) == 0);
        out["read other account"] =
            try_read(channel_state_dir(state_, "telegram", "work") + "/offset");
        out["read gateway token"] = try_read(state_ + "/gateway-token");
        out["read sessions"] = try_read(state_ + "/sessions/sessions.json");
        out["write state root"] = try_write(state_ + "/planted");
        out["connect api port"] = try_connect(allowed_port_);
        out["connect other port"] = try_connect(other_port_);
        out["read CA bundle dir"] = outcome(::access("/etc/ssl/certs", R_OK) == 0);
        out["read CA bundle"] = ::access("/etc/ssl/certs/ca-certificates.crt", F_OK) != 0
                                    ? "ok"
                                    : try_read("/etc/ssl/certs/ca-certificates.crt");
        addrinfo* ai = nullptr;
        const int gai = ::getaddrinfo("localhost", "443", nullptr, &ai);
        out["resolve localhost"] = gai == 0 ? "ok" : ::gai_strerror(gai);
        if (ai) ::freeaddrinfo(ai);
        out["execve"] = try_exec();
      });
  ASSERT_FALSE(r.empty());
  expect_fully_applied(r);
  EXPECT_EQ(r.at("read own offset"), "ok");
  EXPECT_EQ(r.at("write own offset"), "ok");
  EXPECT_EQ(r.at("rename own offset"), "ok");
  EXPECT_EQ(r.at("connect api port"), "ok");
  EXPECT_EQ(r.at("read CA bundle dir"), "ok");
  EXPECT_EQ(r.at("read CA bundle"), "ok");
  EXPECT_EQ(r.at("resolve localhost"), "ok") << "getaddrinfo needs nsswitch, hosts, NSS modules";
  EXPECT_EQ(r.at("read other account"), std::strerror(EACCES));
  EXPECT_EQ(r.at("read gateway token"), std::strerror(EACCES));
  EXPECT_EQ(r.at("read sessions"), std::strerror(EACCES));
  EXPECT_EQ(r.at("write state root"), std::strerror(EACCES));
  EXPECT_EQ(r.at("connect other port"), std::strerror(EACCES));
  EXPECT_EQ(r.at("execve"), std::strerror(EPERM));
}

TEST_F(SandboxTest, AgentReadsNoStateAndConnectsOnlyToItsProviders) {
  REQUIRE_LANDLOCK_ABI4();
  const Results r = run_sandboxed(agent_policy({allowed_port_}), [&](Results& out) {
    out["read sessions"] = try_read(state_ + "/sessions/sessions.json");
    out["read gateway token"] = try_read(state_ + "/gateway-token");
    out["read channel offset"] =
        try_read(channel_state_dir(state_, "telegram", "default") + "/offset");
    out["connect provider"] = try_connect(allowed_port_);
    out["connect other port"] = try_connect(other_port_);
    out["read resolv.conf or absent"] =
        ::access("/etc/resolv.conf", F_OK) != 0 ? "ok" : try_read("/etc/resolv.conf");
    out["unshare"] = outcome(::unshare(CLONE_NEWUSER) == 0);
    out["execve"] = try_exec();
  });
  ASSERT_FALSE(r.empty());
  expect_fully_applied(r);
  EXPECT_EQ(r.at("connect provider"), "ok");
  EXPECT_EQ(r.at("read resolv.conf or absent"), "ok");
  EXPECT_EQ(r.at("read sessions"), std::strerror(EACCES));
  EXPECT_EQ(r.at("read gateway token"), std::strerror(EACCES));
  EXPECT_EQ(r.at("read channel offset"), std::strerror(EACCES));
  EXPECT_EQ(r.at("connect other port"), std::strerror(EACCES));
  EXPECT_EQ(r.at("unshare"), std::strerror(EPERM));
  EXPECT_EQ(r.at("execve"), std::strerror(EPERM));
}

TEST_F(SandboxTest, ThreadsStartedAfterTheSandboxInheritIt) {
  REQUIRE_LANDLOCK_ABI4();
  const Results r = run_sandboxed(agent_policy({}), [&](Results& out) {
    std::string seen;
    std::thread t([&] { seen = try_read(state_ + "/gateway-token"); });
    t.join();
    out["thread reads token"] = seen;
  });
  EXPECT_EQ(r.at("thread reads token"), std::strerror(EACCES));
}

TEST_F(SandboxTest, OnAKernelWithoutTcpRulesItRunsAndSaysWhatIsMissing) {
  REQUIRE_LANDLOCK_ABI4();
  // As on Linux 6.2-6.6 (Landlock ABI 3): files are confined, TCP is not, and the report says so.
  const Results r = run_sandboxed(
      front_policy(state_),
      [&](Results& out) {
        out["write session"] = try_write(state_ + "/sessions/x.jsonl");
        out["read outside"] = try_read("/etc/passwd");
        out["connect"] = try_connect(other_port_);
        out["execve"] = try_exec();
      },
      3);
  EXPECT_EQ(r.at("report.landlock"), "true");
  EXPECT_EQ(r.at("report.landlockAbi"), "3");
  EXPECT_NE(r.at("report.notApplied").find("TCP bind/connect rules need ABI 4"), std::string::npos)
      << r.at("report.notApplied");
  EXPECT_NE(r.at("report.notApplied").find("scoping need ABI 6"), std::string::npos);
  EXPECT_EQ(r.at("write session"), "ok");
  EXPECT_EQ(r.at("read outside"), std::strerror(EACCES));
  EXPECT_EQ(r.at("connect"), "ok") << "not enforceable there, and reported as such";
  EXPECT_EQ(r.at("execve"), std::strerror(EPERM));
}

TEST_F(SandboxTest, WithoutLandlockSeccompAndNoNewPrivsStillHold) {
  REQUIRE_LANDLOCK_ABI4();
  const Results r = run_sandboxed(
      channel_policy(state_, "telegram", "default", {allowed_port_}),
      [&](Results& out) {
        out["read gateway token"] = try_read(state_ + "/gateway-token");
        out["execve"] = try_exec();
      },
      0);
  EXPECT_EQ(r.at("report.noNewPrivs"), "true");
  EXPECT_EQ(r.at("report.seccomp"), "true");
  EXPECT_EQ(r.at("report.landlock"), "false");
  EXPECT_EQ(r.at("report.landlockAbi"), "0");
  EXPECT_NE(r.at("report.notApplied").find("landlock: not available"), std::string::npos);
  EXPECT_EQ(r.at("read gateway token"), "ok") << "files are not confined without Landlock";
  EXPECT_EQ(r.at("execve"), std::strerror(EPERM));
}

TEST(SandboxPolicy, PortsOfUrls) {
  EXPECT_EQ(url_port("https://api.telegram.org"), 443);
  EXPECT_EQ(url_port("http://127.0.0.1:8081/bot"), 8081);
  EXPECT_EQ(url_port("http://example.com/x"), 80);
  EXPECT_EQ(url_port("https://user@[::1]:8443/v1"), 8443);
  EXPECT_EQ(url_port("https://[::1]/v1"), 443);
  EXPECT_EQ(url_port("ftp://example.com"), 0);
  EXPECT_EQ(url_port("http://h:99999"), 0);
  EXPECT_EQ(url_port("no scheme"), 0);
}

TEST(SandboxPolicy, EachKindGetsOnlyItsDirectoriesAndPorts) {
  const Policy f = front_policy("/s");
  EXPECT_EQ(f.write_paths, std::vector<std::string>{"/s"});
  EXPECT_TRUE(f.connect_ports.empty());
  const Policy c = channel_policy("/s", "telegram", "work", {8081});
  EXPECT_EQ(c.write_paths, std::vector<std::string>{"/s/telegram/work"});
  EXPECT_EQ(c.connect_ports, std::vector<uint16_t>{8081});
  const Policy a = agent_policy({443, 11434});
  EXPECT_TRUE(a.write_paths.empty());
  EXPECT_EQ(a.connect_ports, (std::vector<uint16_t>{443, 11434}));
  for (const Policy* p : {&f, &c, &a}) {
    for (const auto& r : p->read_paths) {
      EXPECT_NE(r.rfind("/s", 0), 0u) << p->kind << " reads the state dir through " << r;
      EXPECT_NE(r, "/proc") << "all of /proc would show other processes' environments";
    }
  }
}

TEST(SandboxPolicy, AgentPortsComeFromTheDefaultModelAndEveryProvider) {
  using nlohmann::json;
  EXPECT_TRUE(workers::provider_ports(json::object()).empty()) << "offline agent: no TCP at all";
  const json cfg = {{"agents", {{"defaults", {{"model", "anthropic/claude"}}}}},
                    {"models",
                     {{"providers",
                       {{"anthropic", {{"apiKey", "${ANTHROPIC_API_KEY}"}}},
                        {"ollama", {{"baseUrl", "http://127.0.0.1:11434/v1"}}},
                        {"local", {{"baseUrl", "http://127.0.0.1:8080"}}}}}}}};
  auto ports = workers::provider_ports(cfg);
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(ports, (std::vector<uint16_t>{443, 8080, 11434}));
}

}  // namespace
}  // namespace clawgate::sandbox
