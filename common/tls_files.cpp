// TLS material for the gateway port: see tls_files.hpp.
#include "tls_files.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>

#include "crypto.hpp"
#include "fs.hpp"

namespace clawgate::tls {

namespace {

constexpr size_t kMaxPemBytes = 1 << 20;
constexpr long kValidDays = 3650;  // upstream's `openssl req -days 3650`
// Clients whose clock is a little behind still accept a certificate made a moment ago.
constexpr long kBackdateSeconds = 300;
const char* const kCommonName = "openclaw-gateway";  // upstream's subject

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

std::string dirname_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// ENOENT and ENOTDIR mean missing; any other failure to look (EACCES) counts as present, so
// nothing is ever generated over a file we merely cannot see.
bool exists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  return errno != ENOENT && errno != ENOTDIR;
}

[[noreturn]] void fail(const std::string& what) {
  throw ConfigError("gateway.tls: " + what);
}

std::string openssl_error() {
  char buf[256];
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string pem_of(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) fail("cannot encode the generated pair: " + openssl_error());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

// Writes all of `data` and makes it durable; 0 or the errno that stopped it.
int write_durably(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    off += static_cast<size_t>(n);
  }
  return ::fsync(fd) == 0 ? 0 : errno;
}

// `data` into `path`, which must not exist: written to a temp file beside it, made durable, then
// hard-linked into place (link(2) never replaces). Filesystems without hard links get an
// exclusive create of the file itself instead.
void publish_new_file(const std::string& path, const std::string& data, const std::string& key) {
  const std::string dir = dirname_of(path);
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 8; ++attempt) {
    tmp = dir + "/.clawgate-tls-" + base64url(random_bytes(9));
    fd = ::open(tmp.c_str(), flags, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) fail(key + ": cannot create a file in " + dir + ": " + std::strerror(errno));
  int err = write_durably(fd, data);
  ::close(fd);
  if (err == 0 && ::link(tmp.c_str(), path.c_str()) != 0) err = errno;
  ::unlink(tmp.c_str());
  if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS) {
    fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) fail(key + ": cannot create " + path + ": " + std::strerror(errno));
    err = write_durably(fd, data);
    ::close(fd);
    if (err != 0) ::unlink(path.c_str());
  }
  if (err == EEXIST) fail(key + ": " + path + " appeared while the pair was generated");
  if (err != 0) fail(key + ": cannot write " + path + ": " + std::strerror(err));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

X509Ptr make_certificate(EVP_PKEY* pkey) {
  X509Ptr cert(X509_new());
  if (!cert) return nullptr;
  // A random positive 127-bit serial, as RFC 5280 wants from a CA that issues more than one.
  std::string serial = random_bytes(16);
  serial[0] = static_cast<char>(serial[0] & 0x7f);
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()),
                     static_cast<int>(serial.size()), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      bn && X509_set_version(cert.get(), 2) == 1 &&
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidDays, 0, nullptr) != nullptr &&
      X509_set_pubkey(cert.get(), pkey) == 1 &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(kCommonName), -1, -1,
                                 0) == 1 &&
      X509_set_issuer_name(cert.get(), name) == 1 &&
      add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
      add_extension(cert.get(), NID_key_usage, "critical,digitalSignature") &&
      add_extension(cert.get(), NID_ext_key_usage, "serverAuth") &&
      add_extension(cert.get(), NID_subject_key_identifier, "hash") &&
      // Names a client may check the certificate against when it trusts it as an anchor.
      add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") &&
      X509_sign(cert.get(), pkey, EVP_sha256()) > 0;
  return ok ? std::move(cert) : nullptr;
}

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

std::string expand_home(const std::string& path, const Environment& env) {
  if (path.rfind("~/", 0) != 0) return path;
  std::string home;
  if (auto it = env.find("HOME"); it != env.end()) home = it->second;
  if (home.empty()) {
    // The supervisor gives its children no HOME; the passwd entry is the same answer.
    if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  }
  if (home.empty()) throw ConfigError("cannot expand " + path + ": no home directory");
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  return home + path.substr(1);
}

TlsPaths resolve_tls_paths(const cfg::GatewayTls& tls, const std::string& state_dir,
                           const Environment& env) {
  const std::string dir = state_dir + "/gateway/tls";
  TlsPaths p;
  p.cert = tls.cert_path ? expand_home(*tls.cert_path, env) : dir + "/gateway-cert.pem";
  p.key = tls.key_path ? expand_home(*tls.key_path, env) : dir + "/gateway-key.pem";
  if (tls.ca_path) p.ca = expand_home(*tls.ca_path, env);
  return p;
}

bool pair_needs_generating(const TlsPaths& p, bool auto_generate) {
  const bool cert = exists(p.cert), key = exists(p.key);
  if (cert && key) return false;
  if (cert != key) {
    // Upstream leaves a partial pair alone too: completing it would pair a new key with a
    // certificate clients may have pinned, or a new certificate with a key of unknown origin.
    const std::string have = cert ? "certPath " + p.cert : "keyPath " + p.key;
    const std::string missing =
        cert ? "gateway.tls.keyPath (" + p.key + ")" : "gateway.tls.certPath (" + p.cert + ")";
    fail(missing + " does not exist but " + have +
         " does: a partial pair is never completed. Restore the missing file, or remove both "
         "to have a new self-signed pair generated");
  }
  if (!auto_generate)
    fail("neither gateway.tls.certPath (" + p.cert + ") nor gateway.tls.keyPath (" + p.key +
         ") exists and gateway.tls.autoGenerate is false");
  return true;
}

void generate_self_signed(const TlsPaths& p) {
  for (const auto& [path, key] : {std::pair{p.key, "keyPath"}, std::pair{p.cert, "certPath"}}) {
    try {
      make_dirs(dirname_of(path), 0700);
    } catch (const std::exception& e) {
      fail(std::string(key) + ": " + e.what());
    }
  }
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) fail("cannot generate a key: " + openssl_error());
  X509Ptr cert = make_certificate(pkey.get());
  if (!cert) fail("cannot make a certificate: " + openssl_error());
  const std::string key_pem = pem_of([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  const std::string cert_pem = pem_of([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  // The key first: a crash between the two leaves a key alone, which the next start refuses
  // by name, never a certificate without its key published to clients.
  publish_new_file(p.key, key_pem, "keyPath");
  publish_new_file(p.cert, cert_pem, "certPath");
}

bool ensure_tls_pair(const TlsPaths& p, bool auto_generate) {
  if (!pair_needs_generating(p, auto_generate)) return false;
  generate_self_signed(p);
  return true;
}

std::string der_fingerprint(std::string_view der) {
  return sha256_hex(der);
}

std::string pem_file_fingerprint(const std::string& path, const std::string& key) {
  std::optional<std::string> text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw ConfigError(key + ": " + e.what());
  }
  if (!text) throw ConfigError(key + ": " + path + " does not exist");
  if (text->size() > kMaxPemBytes) throw ConfigError(key + ": " + path + " is over 1 MiB");
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert)
    throw ConfigError(key + ": " + path + " holds no PEM certificate (" + openssl_error() + ")");
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert.get(), &der);
  if (n <= 0) throw ConfigError(key + ": cannot encode the certificate in " + path);
  std::string out = der_fingerprint(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return out;
}

std::string normalize_fingerprint(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() >= 7 && ::strncasecmp(s.data(), "sha256:", 7) == 0) s.remove_prefix(7);
  std::string out;
  if (s.size() == 64) {
    for (char c : s)
      if (!is_hex(c)) return "";
    out.assign(s);
  } else if (s.size() == 95) {  // 32 pairs and 31 colons
    for (size_t i = 0; i < s.size(); ++i) {
      if (i % 3 == 2 ? s[i] != ':' : !is_hex(s[i])) return "";
      if (i % 3 != 2) out.push_back(s[i]);
    }
  } else {
    return "";
  }
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace clawgate::tls
