// Unit tests: gateway.tls material (fingerprints as people paste them, the self-signed pair and
// its file modes, a partial pair refused by name), the front's server context (TLS 1.3, a key
// that is not the certificate's), and where the CLI's wss:// pin comes from.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config.hpp"
#include "sandbox.hpp"
#include "target.hpp"
#include "tls_files.hpp"
#include "tls_server.hpp"

namespace clawgate {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/clawgate-tls-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

X509* read_cert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return x;
}

tls::TlsPaths defaults(const std::string& state) {
  return tls::resolve_tls_paths(cfg::GatewayTls{}, state, {});
}

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(TlsFingerprint, AcceptsWhatUpstreamAccepts) {
  EXPECT_EQ(tls::normalize_fingerprint(kHex), kHex);
  std::string upper = kHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(tls::normalize_fingerprint(upper), kHex);
  EXPECT_EQ(tls::normalize_fingerprint("sha256:" + kHex), kHex);
  EXPECT_EQ(tls::normalize_fingerprint("  SHA256:" + upper + "\n"), kHex);
  std::string colons;
  for (size_t i = 0; i < kHex.size(); i += 2) colons += (i ? ":" : "") + upper.substr(i, 2);
  EXPECT_EQ(colons.size(), 95u);
  EXPECT_EQ(tls::normalize_fingerprint(colons), kHex);
  EXPECT_EQ(tls::normalize_fingerprint("sha256:" + colons), kHex);
}

TEST(TlsFingerprint, RefusesAnythingElse) {
  for (const std::string& bad :
       {std::string(), std::string("sha256:"), kHex.substr(1), kHex + "0", "sha1:" + kHex,
        "sha256: " + kHex, kHex.substr(0, 63) + "g", "sha256:sha256:" + kHex, std::string(95, ':'),
        "01:23" + std::string(90, '0')}) {
    EXPECT_EQ(tls::normalize_fingerprint(bad), "") << bad;
  }
  // A colon one place off.
  std::string colons;
  for (size_t i = 0; i < kHex.size(); i += 2) colons += (i ? ":" : "") + kHex.substr(i, 2);
  ASSERT_EQ(tls::normalize_fingerprint(colons), kHex);
  std::swap(colons[1], colons[2]);
  EXPECT_EQ(tls::normalize_fingerprint(colons), "");
}

TEST(TlsFiles, DefaultPathsAreInTheStateDirAndHomeIsExpanded) {
  const tls::TlsPaths p = defaults("/srv/state");
  EXPECT_EQ(p.cert, "/srv/state/gateway/tls/gateway-cert.pem");
  EXPECT_EQ(p.key, "/srv/state/gateway/tls/gateway-key.pem");
  EXPECT_EQ(p.ca, "");
  cfg::GatewayTls c;
  c.cert_path = "~/certs/gw.pem";
  c.key_path = "/etc/gw/key.pem";
  c.ca_path = "~/ca.pem";
  const tls::TlsPaths q = tls::resolve_tls_paths(c, "/srv/state", {{"HOME", "/home/op/"}});
  EXPECT_EQ(q.cert, "/home/op/certs/gw.pem");
  EXPECT_EQ(q.key, "/etc/gw/key.pem");
  EXPECT_EQ(q.ca, "/home/op/ca.pem");
  // Without HOME (the supervisor gives its children none): the passwd entry's home.
  EXPECT_EQ(tls::expand_home("~/x", {}).back(), 'x');
  EXPECT_EQ(tls::expand_home("~/x", {}).front(), '/');
}

TEST(TlsFiles, TheConfigRefusesARelativePath) {
  const ConfigFile f = check_config_text(
      R"({"gateway":{"tls":{"enabled":true,"certPath":"gw.pem","keyPath":"/k.pem"}}})", "t.json");
  ASSERT_TRUE(f.issues.has_errors());
  EXPECT_EQ(f.issues.items()[0].path, "gateway.tls.certPath");
  EXPECT_NE(f.issues.items()[0].message.find("absolute"), std::string::npos);
  const ConfigFile ok = check_config_text(
      R"({"gateway":{"tls":{"enabled":true,"autoGenerate":false,"caPath":"~/ca.pem"}}})", "t.json");
  EXPECT_FALSE(ok.issues.has_errors());
  EXPECT_TRUE(ok.config.gateway.tls.enabled);
  EXPECT_FALSE(ok.config.gateway.tls.auto_generate);
  EXPECT_TRUE(check_config_text("{}", "t.json").config.gateway.tls.auto_generate)
      << "upstream's default";
}

TEST(TlsFiles, GeneratesAPrivateSelfSignedPairOnce) {
  TempDir d;
  const tls::TlsPaths p = defaults(d.path + "/state");
  ASSERT_TRUE(tls::ensure_tls_pair(p, true));
  EXPECT_EQ(mode_of(p.cert), 0600u);
  EXPECT_EQ(mode_of(p.key), 0600u);
  EXPECT_EQ(mode_of(d.path + "/state/gateway"), 0700u);
  EXPECT_EQ(mode_of(d.path + "/state/gateway/tls"), 0700u);
  // Nothing left beside them (the temp files were linked into place and removed).
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(d.path + "/state/gateway/tls"))
    ++entries;
  EXPECT_EQ(entries, 2u);

  X509* cert = read_cert(p.cert);
  ASSERT_NE(cert, nullptr);
  FILE* kf = std::fopen(p.key.c_str(), "r");
  ASSERT_NE(kf, nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
  std::fclose(kf);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert, key), 1) << "the key is the certificate's";
  EXPECT_EQ(X509_verify(cert, key), 1) << "self-signed";
  char cn[64] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "openclaw-gateway");
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert)), 1);
  EXPECT_GE(days, 3649);
  EXPECT_LE(days, 3650);

  // The fingerprint is the SHA-256 of the DER, computed here the other way round.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  ASSERT_EQ(X509_digest(cert, EVP_sha256(), md, &md_len), 1);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < md_len; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    hex += two;
  }
  EXPECT_EQ(tls::pem_file_fingerprint(p.cert, "gateway.tls.certPath"), hex);

  // Trusted as an anchor (a client given this file as its CA), it is valid for the loopback
  // names it carries and for no other.
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, cert);
  for (const auto& [name, expect] :
       {std::pair{"127.0.0.1", 1}, std::pair{"localhost", 1}, std::pair{"gw.example", 0}}) {
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, cert, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (std::string(name) == "127.0.0.1")
      X509_VERIFY_PARAM_set1_ip_asc(param, name);
    else
      X509_VERIFY_PARAM_set1_host(param, name, 0);
    EXPECT_EQ(X509_verify_cert(ctx), expect)
        << name << ": " << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    X509_STORE_CTX_free(ctx);
  }
  X509_STORE_free(store);
  EVP_PKEY_free(key);
  X509_free(cert);

  // A second start keeps the pair.
  EXPECT_FALSE(tls::ensure_tls_pair(p, true));
  EXPECT_EQ(tls::pem_file_fingerprint(p.cert, "gateway.tls.certPath"), hex);
}

TEST(TlsFiles, APartialPairIsRefusedByNameAndLeftAlone) {
  TempDir d;
  const tls::TlsPaths p = defaults(d.path);
  ASSERT_TRUE(tls::ensure_tls_pair(p, true));
  const std::string fp = tls::pem_file_fingerprint(p.cert, "gateway.tls.certPath");

  ASSERT_EQ(std::rename(p.key.c_str(), (p.key + ".away").c_str()), 0);
  std::string e = error_of([&] { tls::ensure_tls_pair(p, true); });
  EXPECT_NE(e.find("gateway.tls.keyPath"), std::string::npos) << e;
  EXPECT_NE(e.find(p.key), std::string::npos) << e;
  EXPECT_FALSE(exists(p.key)) << "not completed";
  EXPECT_EQ(tls::pem_file_fingerprint(p.cert, "gateway.tls.certPath"), fp) << "not replaced";

  ASSERT_EQ(std::rename((p.key + ".away").c_str(), p.key.c_str()), 0);
  ASSERT_EQ(std::remove(p.cert.c_str()), 0);
  e = error_of([&] { tls::ensure_tls_pair(p, true); });
  EXPECT_NE(e.find("gateway.tls.certPath"), std::string::npos) << e;
  EXPECT_FALSE(exists(p.cert));

  ASSERT_EQ(std::remove(p.key.c_str()), 0);
  e = error_of([&] { tls::ensure_tls_pair(p, false); });
  EXPECT_NE(e.find("autoGenerate"), std::string::npos) << e;
  EXPECT_FALSE(exists(p.cert));
  EXPECT_FALSE(exists(p.key));
}

TEST(TlsFiles, NeverWritesThroughAFileThatAppearedMeanwhile) {
  TempDir d;
  const tls::TlsPaths p = defaults(d.path);
  std::filesystem::create_directories(d.path + "/gateway/tls");
  std::ofstream(p.cert) << "someone else's\n";
  // generate_self_signed alone (the check before it would refuse): the key is published, the
  // certificate's link fails on the existing file and leaves it as it was.
  const std::string e = error_of([&] { tls::generate_self_signed(p); });
  EXPECT_NE(e.find("certPath"), std::string::npos) << e;
  std::ifstream in(p.cert);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "someone else's");
}

TEST(TlsServer, LoadsTheServedCertificateWithTls13AtLeast) {
  TempDir d;
  const tls::TlsPaths p = defaults(d.path);
  ASSERT_TRUE(tls::ensure_tls_pair(p, true));
  const front::ServerTls s = front::load_server_tls(p);
  ASSERT_TRUE(s.context);
  EXPECT_EQ(s.fingerprint, tls::pem_file_fingerprint(p.cert, "gateway.tls.certPath"));
  EXPECT_EQ(SSL_CTX_get_min_proto_version(s.context->native_handle()), TLS1_3_VERSION);
}

TEST(TlsServer, RefusesAKeyThatIsNotTheCertificatesAndNamesTheKey) {
  TempDir d;
  const tls::TlsPaths a = defaults(d.path + "/a"), b = defaults(d.path + "/b");
  ASSERT_TRUE(tls::ensure_tls_pair(a, true));
  ASSERT_TRUE(tls::ensure_tls_pair(b, true));
  std::string e = error_of([&] { front::load_server_tls({a.cert, b.key, ""}); });
  EXPECT_NE(e.find("gateway.tls.keyPath"), std::string::npos) << e;
  std::ofstream(d.path + "/junk.pem") << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  e = error_of([&] { front::load_server_tls({d.path + "/junk.pem", a.key, ""}); });
  EXPECT_NE(e.find("gateway.tls.certPath"), std::string::npos) << e;
  e = error_of([&] { front::load_server_tls({a.cert, a.key, d.path + "/missing-ca.pem"}); });
  EXPECT_NE(e.find("gateway.tls.caPath"), std::string::npos) << e;
  EXPECT_NO_THROW(front::load_server_tls({a.cert, a.key, a.cert}));
}

TEST(TlsServer, TheFrontMayReadTheDirectoriesOfTheFilesAndWriteNoneOfThem) {
  const std::vector<std::string> dirs =
      front::tls_read_paths({"/etc/gw/cert.pem", "/etc/gw/key.pem", "/opt/ca/bundle.pem"});
  EXPECT_EQ(dirs, (std::vector<std::string>{"/etc/gw", "/opt/ca"}));
  const sandbox::Policy p = sandbox::front_policy("/s", dirs);
  for (const auto& d : dirs) {
    EXPECT_NE(std::find(p.read_paths.begin(), p.read_paths.end(), d), p.read_paths.end()) << d;
    EXPECT_EQ(std::find(p.write_paths.begin(), p.write_paths.end(), d), p.write_paths.end()) << d;
  }
  EXPECT_EQ(p.write_paths, std::vector<std::string>{"/s"});
}

}  // namespace

namespace cli {
namespace {

Target resolve(const TargetRequest& r, const LocalTls& local, const Environment& env = {}) {
  return resolve_target(
      r, env, [] { return std::optional<std::string>("saved"); }, [local] { return local; });
}

TEST(CliTargetTls, TheFingerprintFlagIsNormalizedAndNeedsWss) {
  const std::string hex(64, 'a');
  const Target t =
      resolve({"wss://gw.example:18789", "typed", "", false, "SHA256:" + std::string(64, 'A')}, {});
  EXPECT_EQ(t.tls_fingerprint, hex);
  EXPECT_EQ(t.tls_pin_source, "--tls-fingerprint");
  EXPECT_THROW(resolve({"wss://gw.example:1", "typed", "", false, "abc"}, {}), TargetError);
  EXPECT_THROW(resolve({"ws://127.0.0.1:1", "", "", false, hex}, {}), TargetError)
      << "a pin over plain ws:// would protect nothing";
  // wss:// to another host needs no dangerous flag.
  EXPECT_NO_THROW(resolve({"wss://gw.example:1", "typed", "", false, ""}, {}));
}

TEST(CliTargetTls, ALocalWssUrlPinsThisMachinesCertificateAndNoOtherDoes) {
  LocalTls local;
  local.cert_path = "/s/gateway/tls/gateway-cert.pem";
  local.fingerprint = std::string(64, 'b');
  Target t = resolve({"wss://127.0.0.1:18789", "", "", false, ""}, local);
  EXPECT_EQ(t.tls_fingerprint, local.fingerprint);
  EXPECT_EQ(t.tls_pin_source, local.cert_path);
  EXPECT_EQ(t.token, "saved");
  t = resolve({"wss://127.0.0.1:18789", "", "", false, std::string(64, 'c')}, local);
  EXPECT_EQ(t.tls_fingerprint, std::string(64, 'c')) << "the flag wins";
  t = resolve({"wss://gw.example:18789", "typed", "", false, ""}, local);
  EXPECT_EQ(t.tls_fingerprint, "") << "another host: the system CAs";
  t = resolve({"ws://127.0.0.1:18789", "", "", false, ""}, local);
  EXPECT_EQ(t.tls_fingerprint, "");
}

TEST(CliTargetTls, WithoutAUrlTheLocalConfigChoosesTheScheme) {
  LocalTls on;
  on.enabled = true;
  EXPECT_EQ(resolve({}, on, {{"OPENCLAW_GATEWAY_PORT", "1234"}}).url, "wss://127.0.0.1:1234");
  EXPECT_EQ(resolve({}, LocalTls{}).url, "ws://127.0.0.1:18789");
  EXPECT_EQ(resolve({}, on, {{"OPENCLAW_GATEWAY_URL", "ws://127.0.0.1:9"}}).url, "ws://127.0.0.1:9")
      << "an explicit URL is kept";
}

TEST(CliTargetTls, ReadsTheLocalCertificateFromTheConfigOrTheStateDir) {
  TempDir d;
  const tls::TlsPaths p = tls::resolve_tls_paths(cfg::GatewayTls{}, d.path, {});
  ASSERT_TRUE(tls::ensure_tls_pair(p, true));
  Environment env = {{"CLAWGATE_STATE_DIR", d.path}};
  LocalTls l = read_local_tls(env);
  EXPECT_FALSE(l.enabled) << "no config: TLS off";
  EXPECT_EQ(l.cert_path, p.cert);
  EXPECT_EQ(l.fingerprint, tls::pem_file_fingerprint(p.cert, "x"));
  std::ofstream(d.path + "/c.json")
      << R"({"gateway":{"tls":{"enabled":true,"certPath":")" << d.path << R"(/none.pem"}}})";
  env["CLAWGATE_CONFIG_PATH"] = d.path + "/c.json";
  l = read_local_tls(env);
  EXPECT_TRUE(l.enabled);
  EXPECT_EQ(l.cert_path, d.path + "/none.pem");
  EXPECT_EQ(l.fingerprint, "") << "no file, no pin";
}

}  // namespace
}  // namespace cli
}  // namespace clawgate
