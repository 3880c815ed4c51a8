// TLS on the gateway port, with the real gateway: a self-signed pair generated into the state
// dir (0600) and its fingerprint logged; protocol clients over wss:// with the pin; the WebChat
// page and /healthz over https://; the `clawgate` CLI pinning by flag and by the local
// certificate file; refusals that leave the gateway serving: a wrong pin, no pin (the system
// CAs do not know a self-signed certificate), plain ws:// to the TLS port; and startup refused
// (exit 78, the key named) when one file of the pair is missing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>

#include "test_support.hpp"
#include "tls_files.hpp"
#include "ws_client.hpp"

extern char** environ;

namespace clawgate::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

const char* const kTlsConfig = R"({"gateway":{"tls":{"enabled":true}}})";

std::string cert_path(const GatewayProcess& gw) {
  return gw.state_dir() + "/gateway/tls/gateway-cert.pem";
}

std::string fingerprint_of(const GatewayProcess& gw) {
  return tls::pem_file_fingerprint(cert_path(gw), "gateway.tls.certPath");
}

ConnectOptions options(const GatewayProcess& gw, const std::string& pin) {
  ConnectOptions o;
  o.url = gw.url();
  o.token = gw.token();
  o.timeout_ms = 5000;
  o.ws.tls_fingerprint = pin;
  return o;
}

// The gateway still completes a pinned handshake and answers health.
void expect_serving(const GatewayProcess& gw) {
  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw, fingerprint_of(gw)));
  EXPECT_TRUE(c.call("health").value("ok", false));
}

std::string wsl_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

struct HttpsAnswer {
  int status = 0;
  std::string content_type, csp, body;
};

// GET `target` over https:// (no certificate check: the handshake and the HTTP are under test).
HttpsAnswer https_get(const GatewayProcess& gw, const std::string& target) {
  const WsUrl u = parse_ws_url(gw.url());
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> s(io, ctx);
  beast::get_lowest_layer(s).expires_after(std::chrono::seconds(5));
  beast::get_lowest_layer(s).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address(u.host), std::stoi(u.port)));
  s.handshake(ssl::stream_base::client);
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, u.host + ":" + u.port);
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
          std::string(res["Content-Security-Policy"]), res.body()};
}

struct CliRun {
  int exit_code = -1;
  std::string output;
};

// `exe <args>` with exactly `env` (and PATH); stdout and stderr together.
CliRun run(const std::string& exe, std::vector<std::string> args,
           std::map<std::string, std::string> env) {
  char dir[] = "/tmp/clawgate-tls-cli-XXXXXX";
  EXPECT_TRUE(mkdtemp(dir));
  env["PATH"] = "/usr/bin:/bin";
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  args.insert(args.begin(), exe);
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
  std::filesystem::remove_all(dir);
  return r;
}

CliRun run_cli(std::vector<std::string> args, std::map<std::string, std::string> env) {
  return run(CLAWGATE_BIN, std::move(args), std::move(env));
}

TEST(Tls, GeneratesAPairLogsItsFingerprintAndServesWssWithThePin) {
  GatewayProcess gw({}, kTlsConfig);
  ASSERT_EQ(gw.url().rfind("wss://127.0.0.1:", 0), 0u) << gw.url();
  const std::string fp = fingerprint_of(gw);
  ASSERT_EQ(fp.size(), 64u);
  EXPECT_TRUE(gw.wait_output("TLS certificate SHA-256 fingerprint: " + fp)) << gw.output();
  for (const char* f : {"gateway-cert.pem", "gateway-key.pem"}) {
    struct stat st {};
    ASSERT_EQ(::stat((gw.state_dir() + "/gateway/tls/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }

  WsClient ws;
  GatewayClient c(ws);
  const Json hello = c.connect(options(gw, fp));
  EXPECT_EQ(hello.value("type", ""), "hello-ok");
  EXPECT_EQ(ws.peer_fingerprint(), fp);
  const Json status = c.call("status");
  EXPECT_EQ(status["gateway"]["tls"], (Json{{"enabled", true}, {"fingerprintSha256", fp}}));
  // Requests and events flow as over ws://: a burst of pipelined calls all come back.
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(c.send_request("health", Json::object()));
  for (const auto& id : ids) EXPECT_TRUE(c.wait_response(id, 5000).value("ok", false)) << id;
  // The close ends at once: the server sends close_notify and closes TCP without waiting for
  // the client's (waiting, it sat out its 1 s shutdown timeout on every connection).
  const auto t0 = std::chrono::steady_clock::now();
  ws.close();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(700));
}

TEST(Tls, AWrongPinNoPinAndPlainWsAreRefusedAndTheGatewayServesOn) {
  GatewayProcess gw({}, kTlsConfig);
  const std::string fp = fingerprint_of(gw);
  std::string wrong = fp;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  std::string e = wsl_error([&] {
    WsClient ws;
    GatewayClient(ws).connect(options(gw, wrong));
  });
  EXPECT_NE(e.find("not the pinned " + wrong), std::string::npos) << e;
  EXPECT_NE(e.find(fp), std::string::npos) << "names what it got: " << e;

  e = wsl_error([&] {
    WsClient ws;
    GatewayClient(ws).connect(options(gw, ""));
  });
  EXPECT_NE(e.find("not trusted"), std::string::npos) << e;
  EXPECT_NE(e.find("--tls-fingerprint"), std::string::npos) << e;

  std::string plain_url = gw.url();
  plain_url.erase(2, 1);  // wss:// -> ws://
  e = wsl_error([&] {
    WsClient ws;
    ConnectOptions o = options(gw, "");
    o.url = plain_url;
    GatewayClient(ws).connect(o);
  });
  EXPECT_NE(e.find("use wss://"), std::string::npos) << e;
  // A peer that sends garbage where the ClientHello belongs is dropped: the server closes.
  {
    const WsUrl u = parse_ws_url(gw.url());
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.connect(asio::ip::tcp::endpoint(asio::ip::make_address(u.host), std::stoi(u.port)));
    const std::string junk = "\x16\x03\x01\xff\xffnot a client hello at all";
    asio::write(sock, asio::buffer(junk));
    std::array<char, 256> buf;
    boost::system::error_code ec;
    size_t total = 0;
    while (!ec && total < 4096) total += sock.read_some(asio::buffer(buf), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_LT(total, 64u) << "at most an alert came back";
  }
  expect_serving(gw);
}

TEST(Tls, TheWebChatPageAndHealthzAreServedOverHttps) {
  GatewayProcess gw({}, kTlsConfig);
  const HttpsAnswer page = https_get(gw, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.csp.find("connect-src 'self'"), std::string::npos);
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  const HttpsAnswer hz = https_get(gw, "/healthz");
  EXPECT_EQ(hz.status, 200);
  EXPECT_EQ(hz.body, "{\"ok\":true}\n");
  EXPECT_EQ(https_get(gw, "/nothing").status, 426);
}

TEST(Tls, TheCliPinsByFlagOrByTheLocalCertificateAndRefusesAMismatch) {
  GatewayProcess gw({}, kTlsConfig);
  const std::string fp = fingerprint_of(gw);
  std::string colons;
  for (size_t i = 0; i < fp.size(); i += 2) colons += (i ? ":" : "") + fp.substr(i, 2);
  // Elsewhere (another state dir): only the flag can pin, in any accepted spelling.
  const std::map<std::string, std::string> elsewhere = {{"CLAWGATE_STATE_DIR", "/nonexistent"}};
  CliRun r = run_cli(
      {"status", "--url", gw.url(), "--token", gw.token(), "--tls-fingerprint", "sha256:" + colons},
      elsewhere);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tls: on, certificate sha256 " + fp), std::string::npos) << r.output;

  std::string wrong = fp;
  wrong[63] = wrong[63] == 'a' ? 'b' : 'a';
  r = run_cli({"health", "--url", gw.url(), "--token", gw.token(), "--tls-fingerprint", wrong},
              elsewhere);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not the pinned " + wrong), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\"ok\""), std::string::npos) << "nothing was asked: " << r.output;

  r = run_cli({"health", "--url", gw.url(), "--token", gw.token()}, elsewhere);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not trusted"), std::string::npos) << r.output;

  // This machine's gateway (its state dir): its certificate file is the pin.
  r = run_cli({"status", "--url", gw.url(), "--token", gw.token()},
              {{"CLAWGATE_STATE_DIR", gw.state_dir()}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tls: on, certificate sha256 " + fp), std::string::npos) << r.output;
  // With no URL at all, the local config (TLS on) makes it wss://, and the pin follows.
  std::ofstream(gw.state_dir() + "/cli.json") << kTlsConfig;
  r = run_cli({"health", "--token", gw.token()},
              {{"CLAWGATE_STATE_DIR", gw.state_dir()},
               {"CLAWGATE_CONFIG_PATH", gw.state_dir() + "/cli.json"},
               {"OPENCLAW_GATEWAY_PORT", gw.url().substr(gw.url().rfind(':') + 1)}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_cli({"health", "--url", gw.url(), "--tls-fingerprint", "xyz"}, elsewhere);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("SHA-256"), std::string::npos) << r.output;
}

// Replaces `to`'s pair with `from`'s the way renewal tools do: new files renamed into place.
void install_pair(const tls::TlsPaths& from, const tls::TlsPaths& to) {
  std::filesystem::copy_file(from.key, to.key + ".new");
  std::filesystem::copy_file(from.cert, to.cert + ".new");
  std::filesystem::rename(to.key + ".new", to.key);
  std::filesystem::rename(to.cert + ".new", to.cert);
}

TEST(Tls, ARenewedCertificateServesNewConnectionsAndOpenOnesStay) {
  // Files outside the state dir: the front's sandbox lets it read their directory.
  char dir[] = "/tmp/clawgate-tls-renew-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string d = dir;
  const tls::TlsPaths live{d + "/live/cert.pem", d + "/live/key.pem", ""};
  const tls::TlsPaths next{d + "/next/cert.pem", d + "/next/key.pem", ""};
  const tls::TlsPaths other{d + "/other/cert.pem", d + "/other/key.pem", ""};
  for (const auto& p : {live, next, other}) ASSERT_TRUE(tls::ensure_tls_pair(p, true));
  const std::string fp_live = tls::pem_file_fingerprint(live.cert, "c");
  const std::string fp_next = tls::pem_file_fingerprint(next.cert, "c");
  GatewayProcess gw({{"CLAWGATE_TLS_POLL_MS", "50"}},
                    R"({"gateway":{"tls":{"enabled":true,"certPath":")" + live.cert +
                        R"(","keyPath":")" + live.key + R"("}}})");
  WsClient open_ws;
  GatewayClient open_client(open_ws);
  open_client.connect(options(gw, fp_live));

  install_pair(next, live);
  const bool renewed = eventually(
      [&] {
        try {
          WsClient ws;
          GatewayClient(ws).connect(options(gw, fp_next));
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      10000, 50);
  ASSERT_TRUE(renewed) << gw.output();
  EXPECT_TRUE(gw.wait_output("SHA-256 fingerprint now " + fp_next)) << gw.output();
  EXPECT_TRUE(open_client.call("health").value("ok", false)) << "the open connection stays";
  EXPECT_EQ(open_client.call("status")["gateway"]["tls"]["fingerprintSha256"], fp_next);

  // A key that is not the certificate's: refused, the renewed pair keeps serving.
  std::filesystem::copy_file(other.key, live.key + ".new");
  std::filesystem::rename(live.key + ".new", live.key);
  EXPECT_TRUE(gw.wait_output("TLS renewal refused", 10000)) << gw.output();
  WsClient ws;
  GatewayClient c(ws);
  EXPECT_NO_THROW(c.connect(options(gw, fp_next)));
  std::filesystem::remove_all(d);
}

TEST(Tls, OneFileOfThePairRefusesTheStartNamingTheKey) {
  char dir[] = "/tmp/clawgate-tls-pair-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string d = dir;
  const tls::TlsPaths p{d + "/cert.pem", d + "/key.pem", ""};
  ASSERT_TRUE(tls::ensure_tls_pair(p, true));
  ASSERT_EQ(std::remove(p.key.c_str()), 0);
  const std::string config = R"({"gateway":{"tls":{"enabled":true,"certPath":")" + p.cert +
                             R"(","keyPath":")" + p.key + R"("}}})";
  const std::string e = wsl_error([&] { GatewayProcess gw({}, config); });
  EXPECT_NE(e.find("exited with 78"), std::string::npos) << e;
  EXPECT_NE(e.find("gateway.tls.keyPath"), std::string::npos) << e;
  struct stat st {};
  EXPECT_NE(::stat(p.key.c_str(), &st), 0) << "the pair was not completed";
  std::filesystem::remove_all(d);
}

TEST(Tls, AKeyThatIsNotTheCertificatesStopsTheFrontNamingTheKey) {
  // Only the front reads the key, so only the front can find this: clawgate-front on its own
  // exits 78 (under the supervisor it stays stopped until the config changes).
  char dir[] = "/tmp/clawgate-tls-pair-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string d = dir;
  ASSERT_TRUE(tls::ensure_tls_pair({d + "/a-cert.pem", d + "/a-key.pem", ""}, true));
  ASSERT_TRUE(tls::ensure_tls_pair({d + "/b-cert.pem", d + "/b-key.pem", ""}, true));
  std::ofstream(d + "/config.json") << R"({"gateway":{"tls":{"enabled":true,"certPath":")" << d
                                    << R"(/a-cert.pem","keyPath":")" << d << R"(/b-key.pem"}}})";
  const std::string bin = std::string(CLAWGATE_BIN);
  const CliRun r = run(bin.substr(0, bin.rfind('/')) + "/clawgate-front",
                       {"--port", "0", "--token", "t", "--config", d + "/config.json"},
                       {{"CLAWGATE_STATE_DIR", d + "/state"}});
  EXPECT_EQ(r.exit_code, 78) << r.output;
  EXPECT_NE(r.output.find("gateway.tls.keyPath"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is not the key of the certificate"), std::string::npos) << r.output;
  std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace clawgate::test
