// Unit tests: device identity at connect (wsfront/device_auth). The vectors use the RFC 8032
// §7.1 TEST 1 key; every signature below was produced by OpenClaw's own
// buildDeviceAuthPayload[V3] + signEd25519Payload (dist of openclaw@2026.9.6), so these check
// byte-for-byte agreement, not only self-consistency.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>

#include "crypto.hpp"
#include "device_auth.hpp"

namespace clawgate::front {
namespace {

const std::string kPublicKey = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const std::string kDeviceId = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
const std::string kPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";
const std::string kV2Payload =
    "v2|21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9|cli|cli|operator|"
    "operator.admin,operator.read|1700000000000||nonce-abc";
const std::string kV2Signature =
    "p4ORHwIfZaS2QfsIparvhyUaJqGP2IhfbvnoQl8ioUN5uqyJJL-6xE-HyEFialEAlNmfGacO5VJTJUgm8upvAA";
const std::string kV2SignatureStd =
    "p4ORHwIfZaS2QfsIparvhyUaJqGP2IhfbvnoQl8ioUN5uqyJJL+6xE+HyEFialEAlNmfGacO5VJTJUgm8upvAA==";
const std::string kV3Payload =
    "v3|21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9|node-host|node|node||"
    "1700000000000|tok-123|nonce-abc|linux|linux";
const std::string kV3Signature =
    "Bz9g3fjMqJe_wl65Rt9wVVNnZhxCpzg6_2J88UPrA0QtPRW53ZWpkVcunxUcPzwuEjfbat-ub_ND7mk9bqrICw";
constexpr int64_t kSignedAt = 1'700'000'000'000;

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

// Signs with the RFC 8032 TEST 1 secret, for cases that have no upstream vector.
std::string sign(std::string_view payload) {
  const std::string seed =
      unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                   reinterpret_cast<const unsigned char*>(seed.data()),
                                   seed.size()),
      EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()), 1);
  std::string sig(64, '\0');
  size_t len = sig.size();
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(payload.data()), payload.size()),
            1);
  return base64url(sig);
}

DeviceAuthPayload v2_fields() {
  DeviceAuthPayload p;
  p.device_id = kDeviceId;
  p.client_id = "cli";
  p.client_mode = "cli";
  p.role = "operator";
  p.scopes = {"operator.admin", "operator.read"};
  p.signed_at_ms = kSignedAt;
  p.nonce = "nonce-abc";
  return p;
}

// A connect that signed kV2Payload, checked at kSignedAt against the challenge "nonce-abc".
DeviceProofInput v2_connect() {
  DeviceProofInput in;
  in.device_id = kDeviceId;
  in.public_key = kPublicKey;
  in.signature = kV2Signature;
  in.nonce = "nonce-abc";
  in.signed_at_ms = kSignedAt;
  in.client_id = "cli";
  in.client_mode = "cli";
  in.role = "operator";
  in.scopes = {"operator.admin", "operator.read"};
  in.challenge_nonce = "nonce-abc";
  in.now_ms = kSignedAt;
  return in;
}

DeviceProofInput v3_connect() {
  DeviceProofInput in;
  in.device_id = kDeviceId;
  in.public_key = kPublicKey;
  in.signature = kV3Signature;
  in.nonce = "nonce-abc";
  in.signed_at_ms = kSignedAt;
  in.client_id = "node-host";
  in.client_mode = "node";
  in.platform = " Linux ";
  in.device_family = "Linux";
  in.role = "node";
  in.signature_token = "tok-123";
  in.challenge_nonce = "nonce-abc";
  in.now_ms = kSignedAt;
  return in;
}

TEST(DeviceAuthPayload, MatchesTheProtocolReferenceStrings) {
  DeviceAuthPayload p = v2_fields();
  p.device_id = "dev-1";
  p.client_id = "openclaw-macos";
  p.client_mode = "ui";
  EXPECT_EQ(device_auth_payload_v2(p),
            "v2|dev-1|openclaw-macos|ui|operator|operator.admin,operator.read|1700000000000||"
            "nonce-abc");
  p.token = "tok-123";
  p.platform = "  IOS  ";
  p.device_family = "  iPhone  ";
  EXPECT_EQ(device_auth_payload_v3(p),
            "v3|dev-1|openclaw-macos|ui|operator|operator.admin,operator.read|1700000000000|"
            "tok-123|nonce-abc|ios|iphone");
}

TEST(DeviceAuthPayload, ScopesKeepTheirOrderAndAnEmptyListIsAnEmptyField) {
  DeviceAuthPayload p = v2_fields();
  EXPECT_EQ(device_auth_payload_v2(p), kV2Payload);
  p.scopes = {"operator.read", "operator.admin"};
  EXPECT_NE(device_auth_payload_v2(p), kV2Payload);
  p.scopes.clear();
  EXPECT_EQ(device_auth_payload_v2(p),
            "v2|" + kDeviceId + "|cli|cli|operator||1700000000000||nonce-abc");
}

TEST(DeviceAuthPayload, MetadataLowercasesAsciiOnly) {
  EXPECT_EQ(normalize_device_metadata("  Linux 中文 ÄÖ "), "linux 中文 ÄÖ");
  EXPECT_EQ(normalize_device_metadata("\u3000iPadOS\u00a0"), "ipados");  // JS trim
  EXPECT_EQ(normalize_device_metadata("   "), "");
  EXPECT_EQ(normalize_device_metadata(""), "");
}

TEST(DeviceKey, DerivesTheIdAndNormalizesEveryAcceptedSpelling) {
  EXPECT_EQ(derive_device_id(kPublicKey), kDeviceId);
  EXPECT_EQ(*device_public_key_raw(kPublicKey),
            unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  // Padded standard base64 and PEM SPKI name the same key.
  const std::string std_b64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  EXPECT_EQ(normalize_device_public_key(std_b64), kPublicKey);
  EXPECT_EQ(derive_device_id(std_b64), kDeviceId);
  EXPECT_EQ(normalize_device_public_key(kPem), kPublicKey);
  EXPECT_EQ(derive_device_id(kPem), kDeviceId);
  // Nothing decodes: no key, no id.
  EXPECT_FALSE(derive_device_id("!!!"));
  EXPECT_FALSE(derive_device_id("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n"));
  EXPECT_FALSE(derive_device_id(std::string(kMaxDeviceAuthInput + 1, 'A')));
}

TEST(Base64Lenient, BehavesLikeNodesDecoder) {
  // Expected bytes from Node 20's Buffer.from(s, "base64").
  EXPECT_EQ(*base64url_decode_lenient("AA=AA"), unhex("00"));
  EXPECT_EQ(*base64url_decode_lenient("A A A A"), unhex("000000"));
  EXPECT_EQ(*base64url_decode_lenient("A*AAA"), unhex("000000"));
  EXPECT_EQ(*base64url_decode_lenient("AAAAA"), unhex("000000"));
  EXPECT_EQ(*base64url_decode_lenient("ABC"), unhex("0010"));
  EXPECT_EQ(*base64url_decode_lenient("ab!cd"), unhex("69b71d"));
  EXPECT_EQ(*base64url_decode_lenient("_-"), *base64url_decode_lenient("/+"));
  EXPECT_EQ(*base64url_decode_lenient(""), "");
  EXPECT_TRUE(base64url_decode_lenient(std::string(kMaxDeviceAuthInput, 'A')));
  EXPECT_FALSE(base64url_decode_lenient(std::string(kMaxDeviceAuthInput + 1, 'A')));
}

TEST(DeviceSignature, UpstreamVectorsVerify) {
  EXPECT_TRUE(verify_device_signature(kPublicKey, kV2Payload, kV2Signature));
  EXPECT_TRUE(verify_device_signature(kPublicKey, kV3Payload, kV3Signature));
  EXPECT_TRUE(verify_device_signature(kPublicKey, kV2Payload, kV2SignatureStd));
  EXPECT_TRUE(verify_device_signature(kPem, kV2Payload, kV2Signature));
  EXPECT_EQ(sign(kV2Payload), kV2Signature);  // Ed25519 is deterministic: same bytes
}

TEST(DeviceSignature, AnyChangeFails) {
  std::string flipped = kV2Payload;
  flipped[flipped.size() - 1] = 'C';
  EXPECT_FALSE(verify_device_signature(kPublicKey, flipped, kV2Signature));
  std::string sig = kV2Signature;
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_device_signature(kPublicKey, kV2Payload, sig));
  EXPECT_FALSE(verify_device_signature(kPublicKey, kV3Payload, kV2Signature));
}

TEST(DeviceSignature, ExactKeyAndSignatureLengths) {
  // 31- and 33-byte keys, 63- and 65-byte signatures: never verified, never a crash.
  const std::string raw = *device_public_key_raw(kPublicKey);
  EXPECT_FALSE(verify_device_signature(base64url(raw.substr(0, 31)), kV2Payload, kV2Signature));
  EXPECT_FALSE(verify_device_signature(base64url(raw + "A"), kV2Payload, kV2Signature));
  const std::string sig = *base64url_decode_lenient(kV2Signature);
  EXPECT_FALSE(verify_device_signature(kPublicKey, kV2Payload, base64url(sig.substr(0, 63))));
  EXPECT_FALSE(verify_device_signature(kPublicKey, kV2Payload, base64url(sig + "x")));
  EXPECT_FALSE(verify_device_signature(kPublicKey, kV2Payload, ""));
  EXPECT_FALSE(verify_device_signature("", kV2Payload, kV2Signature));
}

TEST(DeviceProof, V2AndV3ConnectsVerify) {
  DeviceProof p = verify_device_proof(v2_connect());
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.version, 2);
  EXPECT_EQ(p.public_key, kPublicKey);
  EXPECT_EQ(p.device_id, kDeviceId);
  p = verify_device_proof(v3_connect());
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.version, 3);
}

TEST(DeviceProof, PaddedStandardBase64KeyAndSignatureVerify) {
  DeviceProofInput in = v2_connect();
  in.signature = kV2SignatureStd;
  in.public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  const DeviceProof p = verify_device_proof(in);
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.public_key, kPublicKey);  // stored normalized
}

TEST(DeviceProof, ChineseAndEmojiFieldsAreSignedAsUtf8) {
  // Upstream-made vectors: v3 with CJK/emoji in scopes, token, nonce, platform and family
  // (ASCII-only lowercasing), and v2 with a CJK client id.
  DeviceProofInput in = v2_connect();
  in.scopes = {"operator.read", "运营.写"};
  in.signature_token = "令牌🔑";
  in.nonce = in.challenge_nonce = "随机-nonce";
  in.platform = "  Linux 中文 ÄÖ ";
  in.device_family = "👩‍💻 Desktop";
  in.signature =
      "opsrPkPEdaukmC4yaj2vMn3vK6Hw2XPfaPc5VMikMAQmahcLugEnZ1jxJJOGDI6AIFpuUTkykV4sUmDYpBwrBw";
  DeviceProof p = verify_device_proof(in);
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.version, 3);
  in.device_family = "👩‍💻 desktop ";  // same after normalization
  EXPECT_TRUE(verify_device_proof(in).ok);
  in.device_family = "👩‍💻Desktop";
  EXPECT_EQ(verify_device_proof(in).code, "DEVICE_AUTH_SIGNATURE_INVALID");

  in = v2_connect();
  in.client_id = "客户端";
  in.scopes.clear();
  in.nonce = in.challenge_nonce = "n";
  in.signature =
      "8DY1kJxbsVLaul2yVP0AMJrNSdUcS0TfD5NLKifx2xU3oFjB8Em_77HortG4ELb2QZS9YindqnqtGJcipGBcDA";
  p = verify_device_proof(in);
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.version, 2);
}

TEST(DeviceProof, ReorderedScopesFail) {
  DeviceProofInput in = v2_connect();
  in.scopes = {"operator.read", "operator.admin"};
  const DeviceProof p = verify_device_proof(in);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.reason, "device-signature");
  EXPECT_EQ(p.message, "device signature invalid");
  EXPECT_EQ(p.code, "DEVICE_AUTH_SIGNATURE_INVALID");
}

TEST(DeviceProof, V1LayoutIsNotAccepted) {
  DeviceProofInput in = v2_connect();
  in.signature =
      sign("v1|" + kDeviceId + "|cli|cli|operator|operator.admin,operator.read|1700000000000|");
  EXPECT_EQ(verify_device_proof(in).code, "DEVICE_AUTH_SIGNATURE_INVALID");
  // The same key signing v2 fields is fine: only the layout was refused.
  in.signature = sign(kV2Payload);
  EXPECT_TRUE(verify_device_proof(in).ok);
}

TEST(DeviceProof, SkewIsTwoMinutesEitherWay) {
  for (const int64_t offset : {-120'000, 120'000}) {
    DeviceProofInput in = v2_connect();
    in.now_ms = kSignedAt + offset;
    EXPECT_TRUE(verify_device_proof(in).ok) << offset;
  }
  for (const int64_t offset : {-120'001, 120'001, 3'600'000}) {
    DeviceProofInput in = v2_connect();
    in.now_ms = kSignedAt + offset;
    const DeviceProof p = verify_device_proof(in);
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.reason, "device-signature-stale");
    EXPECT_EQ(p.message, "device signature expired");
    EXPECT_EQ(p.code, "DEVICE_AUTH_SIGNATURE_EXPIRED");
  }
  DeviceProofInput in = v2_connect();
  in.signed_at_ms = -1;
  EXPECT_EQ(verify_device_proof(in).code, "DEVICE_AUTH_SIGNATURE_EXPIRED");
  in = v2_connect();
  in.signed_at_ms = INT64_MAX;
  EXPECT_EQ(verify_device_proof(in).code, "DEVICE_AUTH_SIGNATURE_EXPIRED");
}

TEST(DeviceProof, NonceBlankOrMismatched) {
  DeviceProofInput in = v2_connect();
  in.nonce = "  ";
  DeviceProof p = verify_device_proof(in);
  EXPECT_EQ(p.reason, "device-nonce-missing");
  EXPECT_EQ(p.message, "device nonce required");
  EXPECT_EQ(p.code, "DEVICE_AUTH_NONCE_REQUIRED");
  in.nonce = "nonce-abd";
  p = verify_device_proof(in);
  EXPECT_EQ(p.reason, "device-nonce-mismatch");
  EXPECT_EQ(p.message, "device nonce mismatch");
  EXPECT_EQ(p.code, "DEVICE_AUTH_NONCE_MISMATCH");
  // Surrounding white space is trimmed before the comparison and before signing.
  in.nonce = " nonce-abc\t";
  EXPECT_TRUE(verify_device_proof(in).ok);
}

TEST(DeviceProof, IdMismatchComesFirst) {
  DeviceProofInput in = v2_connect();
  in.device_id = "dev-1";
  in.nonce = "";  // would also fail, later
  in.now_ms = 0;  // would also fail, later
  DeviceProof p = verify_device_proof(in);
  EXPECT_EQ(p.reason, "device-id-mismatch");
  EXPECT_EQ(p.message, "device identity mismatch");
  EXPECT_EQ(p.code, "DEVICE_AUTH_DEVICE_ID_MISMATCH");
  in = v2_connect();
  in.public_key = "%%%";  // decodes to nothing
  EXPECT_EQ(verify_device_proof(in).code, "DEVICE_AUTH_DEVICE_ID_MISMATCH");
  in = v2_connect();
  in.device_id = "21FE31DFA154A261626BF854046FD2271B7BED4B6ABE45AA58877EF47F9721B9";  // exact
  EXPECT_EQ(verify_device_proof(in).code, "DEVICE_AUTH_DEVICE_ID_MISMATCH");
}

TEST(DeviceProof, StaleBeforeNonce) {
  DeviceProofInput in = v2_connect();
  in.nonce = "other";
  in.now_ms += 10 * 60'000;
  EXPECT_EQ(verify_device_proof(in).reason, "device-signature-stale");
}

TEST(DeviceProof, DetailCodes) {
  EXPECT_STREQ(device_auth_detail_code("device-public-key"), "DEVICE_AUTH_PUBLIC_KEY_INVALID");
  EXPECT_STREQ(device_auth_detail_code("anything else"), "DEVICE_AUTH_INVALID");
}

}  // namespace
}  // namespace clawgate::front
