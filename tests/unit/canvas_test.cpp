// Unit tests: the canvas host. Request targets and hostile paths (dot segments, encoded
// separators and NULs, symlinks out, over-long names, Chinese/Arabic/emoji file names), opening
// below a directory with and without openat2, capability lifetime in virtual time, the
// advertised base URL, and CanvasHost's HTTP answers and auth (loopback, Bearer, capability,
// 429) on a real temporary directory. The live-reload watch runs on a real io_context.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "canvas_host.hpp"
#include "canvas_paths.hpp"

namespace clawgate::front {
namespace {

namespace fs = std::filesystem;

// --- request targets ---------------------------------------------------------------------------

TEST(CanvasTarget, RoutesAndCapabilities) {
  auto t = parse_canvas_target("/__openclaw__/canvas/a/b.html?x=1");
  EXPECT_EQ(t.route, CanvasRoute::canvas);
  EXPECT_EQ(t.rest, "/a/b.html");
  EXPECT_EQ(t.query, "x=1");
  EXPECT_FALSE(t.capability);
  EXPECT_EQ(parse_canvas_target("/__openclaw__/canvas").route, CanvasRoute::canvas);
  EXPECT_EQ(parse_canvas_target("/__openclaw__/a2ui/a2ui.bundle.js").route, CanvasRoute::a2ui);
  EXPECT_EQ(parse_canvas_target("/__openclaw__/ws").route, CanvasRoute::reload);
  // Not ours: the WebChat page, lookalike prefixes, other upstream routes.
  for (const char* s : {"/", "/index.html", "/__openclaw__/canvasX/a", "/__openclaw__/wsx",
                        "/__openclaw__%2fcanvas/", "/__openclaw__/board/x", "/healthz"})
    EXPECT_EQ(parse_canvas_target(s).route, CanvasRoute::none) << s;

  t = parse_canvas_target("/__openclaw__/cap/AbC-_9/__openclaw__/canvas/x.html?oc_cap=other");
  EXPECT_EQ(t.route, CanvasRoute::canvas);
  EXPECT_EQ(t.capability, "AbC-_9");  // the path's wins, as upstream
  EXPECT_EQ(t.rest, "/x.html");
  EXPECT_EQ(t.prefix, "/__openclaw__/cap/AbC-_9/__openclaw__/canvas/x.html");
  t = parse_canvas_target("/__openclaw__/cap/tok/__openclaw__/ws");
  EXPECT_EQ(t.route, CanvasRoute::reload);
  EXPECT_EQ(t.capability, "tok");
  t = parse_canvas_target("/__openclaw__/canvas/?a=b&oc_cap=q1w2");
  EXPECT_EQ(t.capability, "q1w2");
  // A capability that can never be one (not base64url) is present and wrong.
  t = parse_canvas_target("/__openclaw__/canvas/?oc_cap=%3Cscript%3E");
  ASSERT_TRUE(t.capability);
  EXPECT_EQ(*t.capability, "");
  EXPECT_EQ(parse_canvas_target("/__openclaw__/cap/tok/elsewhere").route, CanvasRoute::other_cap);
}

TEST(CanvasTarget, MalformedOrOverlongTargetsAreRefused) {
  for (const char* s :
       {"/__openclaw__/cap/", "/__openclaw__/cap/tok", "/__openclaw__/cap//x",
        "/__openclaw__/cap/a%2Fb/__openclaw__/canvas/", "/__openclaw__/cap/%zz/x"}) {
    EXPECT_EQ(parse_canvas_target(s).error, 401) << s;
  }
  const std::string longcap =
      "/__openclaw__/cap/" + std::string(200, 'a') + "/__openclaw__/canvas/";
  EXPECT_EQ(parse_canvas_target(longcap).error, 401);
  const std::string huge = "/__openclaw__/canvas/" + std::string(5000, 'a');
  EXPECT_EQ(parse_canvas_target(huge).error, 400);
}

// --- paths ---------------------------------------------------------------------------------------

TEST(CanvasPath, HostilePathsAreRefused) {
  for (const char*
           s : {"/..",        "/../x",          "/a/../../x",  "/a/..",  "/%2e%2e/x", "/%2E%2E",
                "/.%2e/x",    "/a%2fb",         "/a%2F..%2Fb", "/a%5cb", "/a\\b",     "/%00",
                "/a%00.html", "/a\x01",         "/%zz",        "/%",     "/%2",       "/a%7f",
                "/%ff",       "/%c0%ae%c0%ae/x" /* overlong UTF-8 dots */}) {
    EXPECT_FALSE(decode_relative_path(s)) << s;
  }
  EXPECT_FALSE(decode_relative_path("/" + std::string(256, 'a')));  // > NAME_MAX
  std::string deep;
  for (int i = 0; i < 33; ++i) deep += "/d";
  EXPECT_FALSE(decode_relative_path(deep));
  std::string wide;
  for (int i = 0; i < 8; ++i) wide += "/" + std::string(200, 'w');
  EXPECT_FALSE(decode_relative_path(wide));                    // > 1024 bytes decoded
  EXPECT_FALSE(decode_relative_path(std::string(4000, '/')));  // bounded before decoding
}

TEST(CanvasPath, OrdinaryAndInternationalNamesDecode) {
  auto p = decode_relative_path("");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "");
  EXPECT_FALSE(p->trailing_slash);
  p = decode_relative_path("/");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "");
  EXPECT_TRUE(p->trailing_slash);
  p = decode_relative_path("//a/./b//c.html");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "a/b/c.html");
  // 中文/页面.html, تقرير.html, 🎨.html, a space, '+' kept as itself.
  p = decode_relative_path("/%E4%B8%AD%E6%96%87/%E9%A1%B5%E9%9D%A2.html");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "中文/页面.html");
  p = decode_relative_path("/%D8%AA%D9%82%D8%B1%D9%8A%D8%B1.html");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "تقرير.html");
  p = decode_relative_path("/%F0%9F%8E%A8.html");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "🎨.html");
  p = decode_relative_path("/my%20page+1.html");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "my page+1.html");
  p = decode_relative_path("/..a/b..");  // dots inside names are names
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rel, "..a/b..");
}

// A fresh directory tree: <tmp>/root (the canvas dir) and <tmp>/outside (must stay unreachable).
struct Tree {
  Tree() {
    char tmpl[] = "/tmp/clawgate-canvas-XXXXXX";
    base = ::mkdtemp(tmpl);
    root = base + "/root";
    fs::create_directories(root + "/sub");
    fs::create_directories(base + "/outside");
    write(root + "/index.html", "<html><body>home</body></html>");
    write(root + "/sub/page.html", "<p>sub</p>");
    write(root + "/中文.html", "zh");
    write(root + "/تقرير.txt", "ar");
    write(root + "/🎨.css", "emoji");
    write(base + "/outside/secret.txt", "SECRET");
    fs::create_symlink(base + "/outside/secret.txt", root + "/abs-link");
    fs::create_symlink("../outside/secret.txt", root + "/rel-link");
    fs::create_symlink("../outside", root + "/dir-link");
    fs::create_symlink("sub/page.html", root + "/inside-link");
    ::mkfifo((root + "/fifo").c_str(), 0600);
    fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  ~Tree() {
    ::close(fd);
    fs::remove_all(base);
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  std::string read_fd(int f) const {
    std::string out(64, '\0');
    const ssize_t n = ::read(f, out.data(), out.size());
    ::close(f);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
  }
  std::string base, root;
  int fd = -1;
};

TEST(CanvasOpen, NothingOutsideTheDirectoryOpens) {
  Tree t;
  for (auto open : {&open_beneath, &open_beneath_walking}) {
    EXPECT_LT(open(t.fd, "abs-link"), 0);
    EXPECT_LT(open(t.fd, "rel-link"), 0);
    EXPECT_LT(open(t.fd, "dir-link/secret.txt"), 0);
    EXPECT_LT(open(t.fd, "sub/../../outside/secret.txt"), 0);
    EXPECT_LT(open(t.fd, "/etc/passwd"), 0);
    EXPECT_LT(open(t.fd, "missing.html"), 0);
    EXPECT_EQ(t.read_fd(open(t.fd, "中文.html")), "zh");
    EXPECT_EQ(t.read_fd(open(t.fd, "تقرير.txt")), "ar");
    EXPECT_EQ(t.read_fd(open(t.fd, "🎨.css")), "emoji");
    EXPECT_EQ(t.read_fd(open(t.fd, "sub/page.html")), "<p>sub</p>");
    const int fifo = open(t.fd, "fifo");  // opens without blocking; the host then refuses it
    ASSERT_GE(fifo, 0);
    ::close(fifo);
  }
  // A symlink that stays inside is followed with openat2 and refused by the O_NOFOLLOW walk.
  EXPECT_EQ(t.read_fd(open_beneath(t.fd, "inside-link")), "<p>sub</p>");
  EXPECT_LT(open_beneath_walking(t.fd, "inside-link"), 0);
}

// --- capability tokens ---------------------------------------------------------------------------

TEST(Capability, LivesTenMinutesFromItsLastUseAndDiesWithItsConnection) {
  FakeClock clock;
  CapabilityStore caps(clock);
  const std::string a = caps.issue(1);
  EXPECT_EQ(a.size(), 24u);  // 18 bytes, base64url without padding
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_TRUE(caps.check(a));
  clock.advance(599'999);
  EXPECT_TRUE(caps.check(a));  // used: good for another 600 000 ms
  clock.advance(599'999);
  EXPECT_TRUE(caps.check(a));
  clock.advance(600'000);
  EXPECT_FALSE(caps.check(a));  // unused for exactly the TTL: expired
  EXPECT_FALSE(caps.check(""));
  EXPECT_FALSE(caps.check(a + "x"));

  const std::string b = caps.issue(2);
  const std::string b2 = caps.issue(2);  // a new one replaces the connection's old one
  EXPECT_NE(b, b2);
  EXPECT_FALSE(caps.check(b));
  EXPECT_TRUE(caps.check(b2));
  const std::string c = caps.issue(3);
  caps.revoke(2);
  EXPECT_FALSE(caps.check(b2));
  EXPECT_TRUE(caps.check(c));
  EXPECT_EQ(caps.size(), 1u);  // a's expired entry went when c was issued
}

// --- advertised base URL
// ---------------------------------------------------------------------------

TEST(SurfaceUrl, FollowsHostTrustedProxiesAndLocalAddress) {
  PeerInfo p;
  p.socket_ip = "127.0.0.1";
  p.local_ip = "127.0.0.1";
  p.local_port = 18789;
  p.host = "127.0.0.1:18789";
  EXPECT_EQ(surface_base_url(p, false, false), "http://127.0.0.1:18789");
  EXPECT_EQ(surface_base_url(p, false, true), "https://127.0.0.1:18789");
  p.host = "gateway.example";
  EXPECT_EQ(surface_base_url(p, false, false), "http://gateway.example:80");
  EXPECT_EQ(surface_base_url(p, false, true), "https://gateway.example:443");
  p.host = "[::1]:9000";
  EXPECT_EQ(surface_base_url(p, false, false), "http://[::1]:9000");
  // Forwarded headers count only from a trusted proxy.
  p.host = "10.0.0.2:18789";
  p.forwarded_host = "canvas.example.org, other";
  p.forwarded_proto = "https";
  EXPECT_EQ(surface_base_url(p, false, false), "http://10.0.0.2:18789");
  EXPECT_EQ(surface_base_url(p, true, false), "https://canvas.example.org:443");
  // A Host no browser would send is not believed: the local address is used.
  p.forwarded_host = p.forwarded_proto = "";
  for (const char* h : {"evil.example/<script>", "a b", "x:99999", "x:-1", "", "..", "[::1"}) {
    p.host = h;
    EXPECT_EQ(surface_base_url(p, false, false), "http://127.0.0.1:18789") << h;
  }
  p.local_ip = "::1";
  p.host = "";
  EXPECT_EQ(surface_base_url(p, false, false), "http://[::1]:18789");
  p.local_ip = "";
  EXPECT_EQ(surface_base_url(p, false, false), "");
}

TEST(CanvasContent, TypesScriptAndBearer) {
  EXPECT_EQ(content_type_for("a/INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("app.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("🎨.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("x.png"), "image/png");
  EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
  EXPECT_EQ(content_type_for(".html"), "application/octet-stream");
  const std::string page = inject_reload_script("<html><BODY>x</BODY></html>");
  const size_t script = page.find("<script>"), body = page.find("</BODY>");
  ASSERT_NE(script, std::string::npos);
  EXPECT_LT(script, body);
  EXPECT_NE(page.find("/__openclaw__/ws"), std::string::npos);
  EXPECT_EQ(inject_reload_script("<p>no body</p>").rfind("</script>"),
            inject_reload_script("<p>no body</p>").size() - 9);
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc  "), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
}

// --- CanvasHost over HTTP
// --------------------------------------------------------------------------

struct HostFixture : ::testing::Test {
  void make(bool loopback_bound) {
    CanvasSettings s;
    s.dir = tree.root;
    s.auth_mode = AuthMode::token;
    s.token = "gw-secret";
    s.loopback_bound = loopback_bound;
    host = std::make_unique<CanvasHost>(io, clock, log, s, limiter);
    host->open();
  }
  CanvasResponse get(const std::string& target, const std::string& auth = "",
                     const std::string& ip = "127.0.0.1", const std::string& method = "GET") {
    CanvasRequest r;
    r.method = method;
    r.target = target;
    r.peer.socket_ip = ip;
    r.peer.host = "127.0.0.1:18789";
    r.peer.local_ip = "127.0.0.1";
    r.peer.local_port = 18789;
    r.authorization = auth;
    auto res = host->handle_http(r);
    EXPECT_TRUE(res) << target;
    return res ? *res : CanvasResponse{};
  }
  static std::string header(const CanvasResponse& r, const std::string& k) {
    for (const auto& [name, v] : r.headers)
      if (name == k) return v;
    return "";
  }
  Tree tree;
  boost::asio::io_context io;
  FakeClock clock;
  Logger log{clock, nullptr, LogLevel::error};
  AuthRateLimiter limiter{clock, RateLimitSettings{}};
  std::unique_ptr<CanvasHost> host;
};

TEST_F(HostFixture, LocalRequestsToALoopbackGatewayAreServed) {
  make(true);
  auto r = get("/__openclaw__/canvas/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("home"), std::string::npos);
  EXPECT_NE(r.body.find("/__openclaw__/ws"), std::string::npos);  // the reload script
  EXPECT_EQ(header(r, "Content-Security-Policy").rfind("sandbox allow-scripts", 0), 0u);
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  r = get("/__openclaw__/canvas/%E4%B8%AD%E6%96%87.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.substr(0, 2), "zh");
  r = get("/__openclaw__/canvas/%F0%9F%8E%A8.css");
  EXPECT_EQ(r.body, "emoji");  // not HTML: nothing injected
  EXPECT_EQ(header(r, "Content-Type"), "text/css; charset=utf-8");
  // Directories: a redirect to the slash form (query kept), then their index.html.
  r = get("/__openclaw__/canvas?x=1");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(header(r, "Location"), "/__openclaw__/canvas/?x=1");
  EXPECT_EQ(get("/__openclaw__/canvas/sub").status, 302);
  EXPECT_EQ(get("/__openclaw__/canvas/sub/").status, 404);  // no index.html there
  EXPECT_EQ(get("/__openclaw__/canvas/sub/page.html/").status, 404);
  // ETag revalidation.
  r = get("/__openclaw__/canvas/sub/page.html");
  CanvasRequest again;
  again.method = "GET";
  again.target = "/__openclaw__/canvas/sub/page.html";
  again.peer.socket_ip = "127.0.0.1";
  again.peer.host = "localhost:18789";
  again.if_none_match = header(r, "ETag");
  EXPECT_EQ(host->handle_http(again)->status, 304);
  // HEAD, other methods.
  r = get("/__openclaw__/canvas/sub/page.html", "", "127.0.0.1", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.head);
  EXPECT_EQ(get("/__openclaw__/canvas/", "", "127.0.0.1", "POST").status, 405);
  // The renderer assets, and nothing else there.
  r = get("/__openclaw__/a2ui/a2ui.bundle.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(r.body.find("openclawA2UI"), std::string::npos);
  EXPECT_EQ(get("/__openclaw__/a2ui/a2ui-v0.9.bundle.js").body, r.body);
  EXPECT_EQ(get("/__openclaw__/a2ui/").status, 404);
  EXPECT_EQ(get("/__openclaw__/ws").status, 426);
  EXPECT_FALSE(host->handle_http(CanvasRequest{"GET", "/", {}, "", ""}));  // not ours
}

TEST_F(HostFixture, NoRequestReachesAFileOutside) {
  make(true);
  for (const char* t :
       {"/__openclaw__/canvas/abs-link", "/__openclaw__/canvas/rel-link",
        "/__openclaw__/canvas/dir-link/secret.txt", "/__openclaw__/canvas/../outside/secret.txt",
        "/__openclaw__/canvas/%2e%2e/outside/secret.txt",
        "/__openclaw__/canvas/sub%2f..%2f..%2foutside%2fsecret.txt",
        "/__openclaw__/canvas/..%5coutside%5csecret.txt", "/__openclaw__/canvas/secret.txt%00.html",
        "/__openclaw__/canvas/fifo", "/__openclaw__/a2ui/../canvas/index.html",
        "/__openclaw__/cap/x/__openclaw__/canvas/../../outside/secret.txt"}) {
    const auto r = get(t);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << t << " -> " << r.status;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << t;
  }
}

TEST_F(HostFixture, RemoteOrNonLoopbackNeedsTheSecretOrACapability) {
  make(false);  // bound to 0.0.0.0: even a local request must authenticate
  EXPECT_EQ(get("/__openclaw__/canvas/").status, 401);
  EXPECT_EQ(get("/__openclaw__/canvas/", "Bearer gw-secret").status, 200);
  PeerInfo peer;
  peer.host = "127.0.0.1:18789";
  const auto url = host->issue_surface_url(7, peer);
  ASSERT_TRUE(url);
  EXPECT_EQ(url->rfind("http://127.0.0.1:18789/__openclaw__/cap/", 0), 0u);
  const std::string cap = url->substr(url->rfind('/') + 1);
  EXPECT_EQ(get("/__openclaw__/cap/" + cap + "/__openclaw__/canvas/").status, 200);
  EXPECT_EQ(get("/__openclaw__/canvas/sub/page.html?oc_cap=" + cap).status, 200);
  host->revoke(7);  // its connection closed
  EXPECT_EQ(get("/__openclaw__/cap/" + cap + "/__openclaw__/canvas/").status, 401);
}

TEST_F(HostFixture, RepeatedFailuresAreLimitedWith429) {
  make(false);
  const std::string remote = "203.0.113.9";
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(get("/__openclaw__/cap/wrongwrongwrong/__openclaw__/canvas/", "", remote).status,
              401);
  auto r = get("/__openclaw__/canvas/", "Bearer gw-secret", remote);
  EXPECT_EQ(r.status, 429);  // locked out: even the right secret waits
  EXPECT_FALSE(header(r, "Retry-After").empty());
  EXPECT_EQ(get("/__openclaw__/canvas/", "Bearer gw-secret", "198.51.100.1").status, 200);
  clock.advance(RateLimitSettings{}.lockout_ms + 1);
  EXPECT_EQ(get("/__openclaw__/canvas/", "Bearer gw-secret", remote).status, 200);
  // A request offering no credential is refused without counting.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(get("/__openclaw__/canvas/", "", remote).status, 401);
  EXPECT_EQ(get("/__openclaw__/canvas/", "Bearer gw-secret", remote).status, 200);
}

TEST_F(HostFixture, AFileChangeSendsOneReloadToEverySocket) {
  make(true);
  std::vector<uint64_t> sent;
  host->set_reload_sender([&](uint64_t id) { sent.push_back(id); });
  host->reload_opened(11);
  host->reload_opened(12);
  fs::create_directories(tree.root + "/new-dir");
  io.run_for(std::chrono::milliseconds(300));
  sent.clear();
  // A write in a directory made after the watch began is seen too.
  Tree::write(tree.root + "/new-dir/p.html", "<p>1</p>");
  Tree::write(tree.root + "/index.html", "<p>2</p>");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (sent.size() < 2 && std::chrono::steady_clock::now() < deadline)
    io.run_for(std::chrono::milliseconds(20));
  io.run_for(std::chrono::milliseconds(200));
  // Writes 40 ms apart or closer are one reload; each reload reaches both sockets.
  const auto n11 = std::count(sent.begin(), sent.end(), 11u);
  EXPECT_GE(n11, 1);
  EXPECT_EQ(std::count(sent.begin(), sent.end(), 12u), n11);
  EXPECT_EQ(sent.size(), static_cast<size_t>(2 * n11));
  host->reload_closed(11);
  sent.clear();
  Tree::write(tree.root + "/new-dir/p.html", "<p>3</p>");
  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (sent.empty() && std::chrono::steady_clock::now() < deadline2)
    io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(sent, (std::vector<uint64_t>{12}));
}

}  // namespace
}  // namespace clawgate::front
