// Small crypto helpers on OpenSSL: randomness, ids, base64url, constant-time secret compare.
// Fails: random_bytes throws std::runtime_error if the OS RNG fails (never silently weak).
#pragma once
#include <string>
#include <string_view>

namespace clawgate {

std::string random_bytes(size_t n);
std::string base64url(std::string_view bytes);  // no padding
std::string uuid_v4();
std::string random_token();  // 32 random bytes, base64url (43 chars)
// Compares two secrets in time independent of where they differ and of their lengths.
bool secrets_equal(std::string_view a, std::string_view b);
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes

}  // namespace clawgate
