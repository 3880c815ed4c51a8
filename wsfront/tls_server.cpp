// The gateway port's TLS context: see tls_server.hpp.
#include "tls_server.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ssl/context.hpp>

namespace clawgate::front {

namespace {

std::string openssl_error() {
  char buf[256];
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

ServerTls load_server_tls(const tls::TlsPaths& paths) {
  namespace ssl = boost::asio::ssl;
  ServerTls out;
  out.paths = paths;
  out.context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = out.context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  // Idle connections are most of them: their TLS read and write buffers go back to the heap.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // no client certificates
  if (SSL_CTX_use_certificate_chain_file(ctx, paths.cert.c_str()) != 1)
    throw ConfigError("gateway.tls.certPath: cannot load " + paths.cert + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(ctx, paths.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      throw ConfigError("gateway.tls.keyPath: " + paths.key +
                        " is not the key of the certificate in " + paths.cert);
    }
    throw ConfigError("gateway.tls.keyPath: cannot load " + paths.key + ": " + openssl_error());
  }
  if (!paths.ca.empty()) {
    // Trusted certificates from which OpenSSL completes the chain it sends when certPath holds
    // the leaf alone (Node's `ca` does the same on a server).
    if (SSL_CTX_load_verify_locations(ctx, paths.ca.c_str(), nullptr) != 1)
      throw ConfigError("gateway.tls.caPath: cannot load " + paths.ca + ": " + openssl_error());
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  unsigned char* der = nullptr;
  const int n = leaf ? i2d_X509(leaf, &der) : -1;
  if (n <= 0)
    throw ConfigError("gateway.tls.certPath: cannot encode the certificate in " + paths.cert);
  out.fingerprint = tls::der_fingerprint(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return out;
}

ServerTls prepare_server_tls(const GatewaySettings& s, const Environment& env, Logger& log) {
  const cfg::GatewayTls& c = s.config.gateway.tls;
  const tls::TlsPaths paths = tls::resolve_tls_paths(c, s.state_dir, env);
  if (tls::ensure_tls_pair(paths, c.auto_generate))
    log.info("front", "generated a self-signed TLS certificate at " + paths.cert + " (key " +
                          paths.key + ")");
  return load_server_tls(paths);
}

std::vector<std::string> tls_read_paths(const tls::TlsPaths& paths) {
  std::vector<std::string> out;
  for (const std::string* p : {&paths.cert, &paths.key, &paths.ca}) {
    if (p->empty()) continue;
    const auto slash = p->rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : p->substr(0, slash);
    if (std::find(out.begin(), out.end(), dir) == out.end()) out.push_back(dir);
  }
  return out;
}

TlsRenewal::TlsRenewal(boost::asio::io_context& io, Logger& log, tls::TlsPaths paths,
                       int64_t poll_ms, std::function<void(ServerTls)> on_renewed)
    : timer_(io),
      log_(log),
      paths_(std::move(paths)),
      poll_ms_(poll_ms),
      on_renewed_(std::move(on_renewed)) {
  served_ = pending_ = look();
}

void TlsRenewal::start() {
  timer_.expires_after(std::chrono::milliseconds(poll_ms_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    tick();
    start();
  });
}

TlsRenewal::Signature TlsRenewal::look() const {
  Signature s;
  const std::string* files[3] = {&paths_.cert, &paths_.key, &paths_.ca};
  for (size_t i = 0; i < 3; ++i) {
    struct stat st {};
    if (files[i]->empty() || ::stat(files[i]->c_str(), &st) != 0) continue;
    s[i] = {st.st_dev, st.st_ino, st.st_size,
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  }
  return s;
}

void TlsRenewal::tick() {
  const Signature now = look();
  if (now == served_) {
    pending_ = now;
    return;
  }
  // A writer may be midway (a key written, its certificate not yet): wait until the files have
  // stayed as they are for a whole period, and try each state of them once.
  if (now != pending_) {
    pending_ = now;
    return;
  }
  if (has_refused_ && now == refused_) return;
  try {
    ServerTls next = load_server_tls(paths_);
    served_ = now;
    has_refused_ = false;
    log_.info("front", "TLS certificate renewed from " + paths_.cert +
                           "; SHA-256 fingerprint now " + next.fingerprint +
                           " (new connections; open ones keep theirs)");
    on_renewed_(std::move(next));
  } catch (const std::exception& e) {
    refused_ = now;
    has_refused_ = true;
    log_.warn("front", std::string("TLS renewal refused, still serving the previous "
                                   "certificate: ") +
                           e.what());
  }
}

}  // namespace clawgate::front
