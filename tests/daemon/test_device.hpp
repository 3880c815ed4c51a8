// A device identity for tests: an Ed25519 key pair (OpenSSL), its OpenClaw device id, and the
// signed `device` block of a connect, built as @openclaw/gateway-client builds it (v3 payload,
// signedAt = the challenge's ts, the token field auth.token ?? auth.deviceToken). The payload is
// joined here, independently of the gateway's own builder (wsfront/device_auth), so a test
// signs what a real client signs, not what the code under test expects.
// Fails: a key OpenSSL cannot make or use fails the test that asked for it.
#pragma once
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto.hpp"

namespace clawgate::testing_support {

struct TestDevice {
  std::string seed;            // 32-byte Ed25519 secret
  std::string public_key, id;  // base64url raw key; hex sha256 of it

  static TestDevice make() {
    TestDevice d;
    d.seed = random_bytes(32);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(d.pkey(), EVP_PKEY_free);
    std::string raw(32, '\0');
    size_t len = raw.size();
    EXPECT_EQ(
        EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()), &len),
        1);
    d.public_key = base64url(raw);
    d.id = sha256_hex(raw);
    return d;
  }

  EVP_PKEY* pkey() const {
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(seed.data()), 32);
  }

  std::string sign(const std::string& payload) const {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(pkey(), EVP_PKEY_free);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()), 1);
    std::string sig(64, '\0');
    size_t len = sig.size();
    EXPECT_EQ(
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(payload.data()), payload.size()),
        1);
    return base64url(sig);
  }
};

// normalizeDeviceMetadataForAuth: trimmed (ASCII white space is enough here), A-Z lowered.
inline std::string auth_metadata(std::string v) {
  const auto b = v.find_first_not_of(" \t\n\r");
  const auto e = v.find_last_not_of(" \t\n\r");
  v = b == std::string::npos ? "" : v.substr(b, e - b + 1);
  for (char& ch : v)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return v;
}

// What a test connect says besides the device.
struct ConnectSpec {
  std::string client_id = "cli", client_mode = "cli", platform = "linux";
  std::string device_family;  // "" : not sent
  std::string display_name;   // "" : not sent
  std::string role = "operator";
  std::vector<std::string> scopes;
  nlohmann::json auth = nlohmann::json::object();
  bool sign_v2 = false;  // sign the v2 payload instead of v3
};

// The connect request frame for `d` answering the challenge {nonce, ts}.
inline nlohmann::json connect_frame(const TestDevice* d, const ConnectSpec& c,
                                    const std::string& nonce, int64_t ts,
                                    const std::string& id = "c1") {
  using Json = nlohmann::json;
  Json client = {{"id", c.client_id},
                 {"version", "2026.9.1"},
                 {"platform", c.platform},
                 {"mode", c.client_mode}};
  if (!c.device_family.empty()) client["deviceFamily"] = c.device_family;
  if (!c.display_name.empty()) client["displayName"] = c.display_name;
  Json params = {{"minProtocol", 3},
                 {"maxProtocol", 4},
                 {"client", client},
                 {"role", c.role},
                 {"scopes", c.scopes}};
  if (!c.auth.empty()) params["auth"] = c.auth;
  if (d) {
    std::string scopes;
    for (const auto& sc : c.scopes) scopes += (scopes.empty() ? "" : ",") + sc;
    const std::string token = c.auth.contains("token") ? c.auth["token"].get<std::string>()
                              : c.auth.contains("deviceToken")
                                  ? c.auth["deviceToken"].get<std::string>()
                                  : "";
    std::string payload = std::string(c.sign_v2 ? "v2" : "v3") + "|" + d->id + "|" + c.client_id +
                          "|" + c.client_mode + "|" + c.role + "|" + scopes + "|" +
                          std::to_string(ts) + "|" + token + "|" + nonce;
    if (!c.sign_v2)
      payload += "|" + auth_metadata(c.platform) + "|" + auth_metadata(c.device_family);
    params["device"] = {{"id", d->id},
                        {"publicKey", d->public_key},
                        {"signature", d->sign(payload)},
                        {"signedAt", ts},
                        {"nonce", nonce}};
  }
  return {{"type", "req"}, {"id", id}, {"method", "connect"}, {"params", params}};
}

}  // namespace clawgate::testing_support
