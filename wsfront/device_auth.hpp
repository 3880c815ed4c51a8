// Device identity at connect, as OpenClaw 2026.9 checks it: the lenient base64url decoder,
// deviceId = lowercase hex SHA-256 of the raw Ed25519 public key, the v2 and v3 signature
// payloads (v1 is not accepted), Ed25519 verification through OpenSSL EVP, and the proof check
// in upstream's order (id, signedAt skew, nonce present, nonce equal, signature, key) with the
// DEVICE_AUTH_* detail code of the first that fails.
// Pure functions of their arguments (the caller passes the time); never throw except
// std::bad_alloc. Every decoded input is bounded (kMaxDeviceAuthInput).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clawgate::front {

// Longer base64 inputs are refused before decoding (upstream's bound).
inline constexpr size_t kMaxDeviceAuthInput = 4096;
// |now - signedAt| beyond this is a stale signature, in either direction.
inline constexpr int64_t kDeviceSignatureSkewMs = 120'000;

// Node's Buffer.from(s.replace(-→+, _→/), "base64"): characters outside the alphabet are
// skipped, the first '=' ends the input, a trailing partial byte is dropped. So standard
// base64, padded or not, decodes too. nullopt only when `in` is longer than
// kMaxDeviceAuthInput.
std::optional<std::string> base64url_decode_lenient(std::string_view in);

// The raw 32-byte key of a wire public key: unpadded base64url (or anything the lenient
// decoder reads), or an SPKI PEM when it contains "BEGIN". nullopt when it decodes to nothing,
// or the PEM is not an Ed25519 public key. A raw key of another length is returned as is (it
// then fails verification, as upstream's does).
std::optional<std::string> device_public_key_raw(std::string_view public_key);
// The stored form of a key: its raw bytes as unpadded base64url.
std::optional<std::string> normalize_device_public_key(std::string_view public_key);
// Lowercase hex SHA-256 of the raw key bytes (64 chars); nullopt when the key does not decode.
std::optional<std::string> derive_device_id(std::string_view public_key);

// client.platform / client.deviceFamily as signed in v3 and pinned by pairing: JavaScript
// trim, then only ASCII A-Z lowercased; absent or blank is "".
std::string normalize_device_metadata(std::string_view value);

struct DeviceAuthPayload {
  std::string device_id, client_id, client_mode, role;
  std::vector<std::string> scopes;  // joined with "," in the order sent
  int64_t signed_at_ms = 0;
  std::string token;  // auth.token ?? auth.deviceToken ?? auth.bootstrapToken ?? ""
  std::string nonce;  // already trimmed
  std::string platform, device_family;  // v3 only; normalized here
};
// v2|deviceId|clientId|clientMode|role|scopes|signedAtMs|token|nonce
std::string device_auth_payload_v2(const DeviceAuthPayload& p);
// v2's fields then |platform|deviceFamily, with "v3" first.
std::string device_auth_payload_v3(const DeviceAuthPayload& p);

// Ed25519 over the UTF-8 bytes of `payload`. `public_key` as device_public_key_raw reads it,
// `signature` through the lenient decoder. The key must be exactly 32 bytes and the signature
// exactly 64; anything else is false.
bool verify_device_signature(std::string_view public_key, std::string_view payload,
                             std::string_view signature);

// What the connect handler knows when a device block is present.
struct DeviceProofInput {
  std::string device_id, public_key, signature, nonce;  // the device block, as sent
  int64_t signed_at_ms = 0;
  std::string client_id, client_mode;
  std::optional<std::string> platform, device_family;  // client.platform / client.deviceFamily
  std::string role;                                    // resolved ("operator" when omitted)
  std::vector<std::string> scopes;                     // connect params.scopes, as sent
  std::string signature_token;                         // see DeviceAuthPayload::token
  std::string challenge_nonce;                         // this connection's connect.challenge
  int64_t now_ms = 0;
};

struct DeviceProof {
  bool ok = false;
  // On failure: upstream's reason (device-id-mismatch, ...), the message the client is
  // answered and closed with, and the details code (DEVICE_AUTH_*).
  std::string reason, message, code;
  // On success: 3 or 2, the payload version that verified; the normalized public key (what
  // pairing stores and compares) and the verified device id.
  int version = 0;
  std::string public_key, device_id;
};

// The checks in upstream's order (verifyGatewayConnectDeviceProof): derived id equals
// device.id; |now - signedAt| <= kDeviceSignatureSkewMs; trimmed nonce non-empty; equal to the
// challenge's; the v3 payload verifies, else the v2; the key normalizes.
DeviceProof verify_device_proof(const DeviceProofInput& in);

// DEVICE_AUTH_* for an upstream reason (DEVICE_AUTH_INVALID for any other).
const char* device_auth_detail_code(std::string_view reason);

}  // namespace clawgate::front
