// TLS material for the gateway port (gateway.tls): where the certificate and key live (the
// state directory's defaults as upstream's), the self-signed pair made when both are missing,
// and SHA-256 certificate fingerprints: lowercase hex of the leaf's DER, read back from what
// people paste ("sha256:" prefix, upper case, colon-separated pairs) as upstream does.
// Only the public certificate is read here; the key is generated and written, never read (the
// front loads it into its TLS context, wsfront/tls_server.hpp).
// Fails: ConfigError naming the gateway.tls key and the path: a pair with one file of the two,
// none with autoGenerate off, a certificate that is not PEM, a file or directory that cannot be
// created (with the system's reason). Generation never overwrites a file.
#pragma once
#include <string>
#include <string_view>

#include "config.hpp"

namespace clawgate::tls {

struct TlsPaths {
  std::string cert, key;
  std::string ca;  // "" when no caPath is set
};

// "~/x" -> $HOME/x (the passwd entry's home without HOME); anything else unchanged.
std::string expand_home(const std::string& path, const Environment& env);

// gateway.tls's paths with the defaults filled in: <state>/gateway/tls/gateway-cert.pem and
// gateway-key.pem.
TlsPaths resolve_tls_paths(const cfg::GatewayTls& tls, const std::string& state_dir,
                           const Environment& env);

// Looks, reads nothing: true when both files are missing and a pair is to be generated, false
// when both exist. Throws ConfigError for one of the two, or for both missing without
// autoGenerate.
bool pair_needs_generating(const TlsPaths& p, bool auto_generate);

// Writes a fresh self-signed pair: ECDSA P-256, CN openclaw-gateway, SAN localhost, 127.0.0.1
// and ::1, valid 10 years. Files 0600 (the key first), directories created 0700. Published by
// hard link, so an existing file is never replaced and a crash leaves no half-written one.
void generate_self_signed(const TlsPaths& p);

// pair_needs_generating, then generate_self_signed when it says so. True when it generated.
bool ensure_tls_pair(const TlsPaths& p, bool auto_generate);

// The lowercase hex SHA-256 of `der` (a certificate's DER encoding).
std::string der_fingerprint(std::string_view der);
// The fingerprint of the first certificate in a PEM file (at most 1 MiB). Throws ConfigError
// naming `key` (e.g. "gateway.tls.certPath") and the path.
std::string pem_file_fingerprint(const std::string& path, const std::string& key);
// 64 lowercase hex digits, from 64 hex digits or 32 colon-separated pairs, each optionally
// after "sha256:" (any case) and surrounding whitespace; "" when `s` is neither.
std::string normalize_fingerprint(std::string_view s);

}  // namespace clawgate::tls
