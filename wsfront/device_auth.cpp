// Device identity at connect: see device_auth.hpp. Byte-for-byte what OpenClaw's
// ed25519-signature / device-auth / connect-device-proof modules compute.
#include "device_auth.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::front {

namespace {

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;

// The raw key of an Ed25519 SPKI PEM; nullopt for anything else.
std::optional<std::string> raw_key_from_pem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return std::nullopt;
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) return std::nullopt;
  std::string raw(kEd25519KeyBytes, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) !=
          1 ||
      len != kEd25519KeyBytes)
    return std::nullopt;
  return raw;
}

std::string join_payload(std::string_view version, const DeviceAuthPayload& p) {
  std::string scopes;
  for (size_t i = 0; i < p.scopes.size(); ++i) {
    if (i) scopes += ',';
    scopes += p.scopes[i];
  }
  std::string out;
  for (std::string_view field :
       {version, std::string_view(p.device_id), std::string_view(p.client_id),
        std::string_view(p.client_mode), std::string_view(p.role), std::string_view(scopes)}) {
    out += field;
    out += '|';
  }
  out += std::to_string(p.signed_at_ms);
  out += '|';
  out += p.token;
  out += '|';
  out += p.nonce;
  return out;
}

DeviceProof refuse(const char* reason, const char* message) {
  DeviceProof r;
  r.reason = reason;
  r.message = message;
  r.code = device_auth_detail_code(reason);
  return r;
}

}  // namespace

std::optional<std::string> base64url_decode_lenient(std::string_view in) {
  if (in.size() > kMaxDeviceAuthInput) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    if (c == '=') break;
    const int v = base64_value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::optional<std::string> device_public_key_raw(std::string_view public_key) {
  if (public_key.size() > kMaxDeviceAuthInput) return std::nullopt;
  std::optional<std::string> raw = public_key.find("BEGIN") != std::string_view::npos
                                       ? raw_key_from_pem(public_key)
                                       : base64url_decode_lenient(public_key);
  if (!raw || raw->empty()) return std::nullopt;
  return raw;
}

std::optional<std::string> normalize_device_public_key(std::string_view public_key) {
  std::optional<std::string> raw = device_public_key_raw(public_key);
  if (!raw) return std::nullopt;
  return base64url(*raw);
}

std::optional<std::string> derive_device_id(std::string_view public_key) {
  std::optional<std::string> raw = device_public_key_raw(public_key);
  if (!raw) return std::nullopt;
  return sha256_hex(*raw);
}

std::string normalize_device_metadata(std::string_view value) {
  std::string out(utf8::trim(value));
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string device_auth_payload_v2(const DeviceAuthPayload& p) {
  return join_payload("v2", p);
}

std::string device_auth_payload_v3(const DeviceAuthPayload& p) {
  return join_payload("v3", p) + '|' + normalize_device_metadata(p.platform) + '|' +
         normalize_device_metadata(p.device_family);
}

bool verify_device_signature(std::string_view public_key, std::string_view payload,
                             std::string_view signature) {
  const std::optional<std::string> raw = device_public_key_raw(public_key);
  const std::optional<std::string> sig = base64url_decode_lenient(signature);
  if (!raw || !sig || raw->size() != kEd25519KeyBytes || sig->size() != kEd25519SignatureBytes)
    return false;
  Pkey key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw->data()), raw->size()));
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()),
                          sig->size(), reinterpret_cast<const unsigned char*>(payload.data()),
                          payload.size()) == 1;
}

const char* device_auth_detail_code(std::string_view reason) {
  if (reason == "device-id-mismatch") return "DEVICE_AUTH_DEVICE_ID_MISMATCH";
  if (reason == "device-signature-stale") return "DEVICE_AUTH_SIGNATURE_EXPIRED";
  if (reason == "device-nonce-missing") return "DEVICE_AUTH_NONCE_REQUIRED";
  if (reason == "device-nonce-mismatch") return "DEVICE_AUTH_NONCE_MISMATCH";
  if (reason == "device-signature") return "DEVICE_AUTH_SIGNATURE_INVALID";
  if (reason == "device-public-key") return "DEVICE_AUTH_PUBLIC_KEY_INVALID";
  return "DEVICE_AUTH_INVALID";
}

DeviceProof verify_device_proof(const DeviceProofInput& in) {
  const std::optional<std::string> derived = derive_device_id(in.public_key);
  if (!derived || *derived != in.device_id)
    return refuse("device-id-mismatch", "device identity mismatch");
  // Both are non-negative here (the schema says so; a negative signedAt is stale), so the
  // difference cannot overflow.
  const int64_t skew = in.signed_at_ms < 0            ? INT64_MAX
                       : in.now_ms >= in.signed_at_ms ? in.now_ms - in.signed_at_ms
                                                      : in.signed_at_ms - in.now_ms;
  if (in.now_ms < 0 || skew > kDeviceSignatureSkewMs)
    return refuse("device-signature-stale", "device signature expired");
  const std::string nonce(utf8::trim(in.nonce));
  if (nonce.empty()) return refuse("device-nonce-missing", "device nonce required");
  if (nonce != in.challenge_nonce) return refuse("device-nonce-mismatch", "device nonce mismatch");

  DeviceAuthPayload p;
  p.device_id = in.device_id;
  p.client_id = in.client_id;
  p.client_mode = in.client_mode;
  p.role = in.role;
  p.scopes = in.scopes;
  p.signed_at_ms = in.signed_at_ms;
  p.token = in.signature_token;
  p.nonce = nonce;
  p.platform = in.platform.value_or("");
  p.device_family = in.device_family.value_or("");
  int version = 0;
  if (verify_device_signature(in.public_key, device_auth_payload_v3(p), in.signature))
    version = 3;
  else if (verify_device_signature(in.public_key, device_auth_payload_v2(p), in.signature))
    version = 2;
  if (!version) return refuse("device-signature", "device signature invalid");

  const std::optional<std::string> key = normalize_device_public_key(in.public_key);
  if (!key) return refuse("device-public-key", "device public key invalid");
  DeviceProof ok;
  ok.ok = true;
  ok.version = version;
  ok.public_key = *key;
  ok.device_id = *derived;
  return ok;
}

}  // namespace clawgate::front
