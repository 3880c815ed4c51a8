// The TLS side of the gateway port: gateway.tls's certificate, key and CA bundle loaded into a
// server context (TLS 1.3 at least, as upstream's), after a self-signed pair was generated when
// both files were missing; and renewal: files replaced on disk are loaded for new connections
// without a restart, as upstream renews its listeners. The front alone calls this: no other
// process opens the key.
// Fails: ConfigError naming the gateway.tls key and the path (partial pair, unreadable or
// non-PEM file, a key that does not match the certificate), with OpenSSL's reason. A renewal
// that fails to load keeps the certificate being served and logs why, once per change.
#pragma once
#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "log.hpp"
#include "tls_files.hpp"

namespace boost::asio::ssl {
class context;
}

namespace clawgate::front {

struct ServerTls {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::string fingerprint;  // lowercase hex SHA-256 of the served leaf's DER
  tls::TlsPaths paths;
};

// Loads the files as they are now.
ServerTls load_server_tls(const tls::TlsPaths& paths);

// The front's start: resolves gateway.tls's paths, generates a pair when allowed (logged), loads.
ServerTls prepare_server_tls(const GatewaySettings& s, const Environment& env, Logger& log);

// What the front's sandbox must let it read for renewal: the directories holding the files
// (a renewal usually renames a new file into place, which a rule on the old file would miss).
std::vector<std::string> tls_read_paths(const tls::TlsPaths& paths);

// Polls the certificate, key and CA bundle (stat only: device, inode, size, mtime) and, once a
// change has held still for one period, loads the new material and hands it on. It never
// generates files; a missing or mismatched pair keeps the old one serving.
class TlsRenewal {
 public:
  TlsRenewal(boost::asio::io_context& io, Logger& log, tls::TlsPaths paths, int64_t poll_ms,
             std::function<void(ServerTls)> on_renewed);
  void start();

 private:
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;  // -1: missing
    int64_t mtime_ns = 0;
    bool operator==(const FileId& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
    bool operator!=(const FileId& o) const { return !(*this == o); }
  };
  using Signature = std::array<FileId, 3>;  // cert, key, ca
  Signature look() const;
  void tick();

  boost::asio::steady_timer timer_;
  Logger& log_;
  tls::TlsPaths paths_;
  int64_t poll_ms_;
  std::function<void(ServerTls)> on_renewed_;
  Signature served_{}, pending_{}, refused_{};
  bool has_refused_ = false;
};

}  // namespace clawgate::front
