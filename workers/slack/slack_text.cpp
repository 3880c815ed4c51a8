// Slack text helpers: see slack_text.hpp.
#include "slack_text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "utf8.hpp"

namespace clawgate::workers::slack {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// Length of Slack markup starting at text[0] == '<' that passes through unescaped, or 0.
size_t markup_length(std::string_view text) {
  const size_t close = text.find('>', 1);
  if (close == std::string_view::npos || close > 2048) return 0;
  const std::string_view inner = text.substr(1, close - 1);
  if (inner.empty() || inner.find('<') != std::string_view::npos ||
      inner.find('\n') != std::string_view::npos)
    return 0;
  static const char* const kPrefixes[] = {"@U",      "@W",       "@B",        "#C",        "#G",
                                          "!here",   "!channel", "!everyone", "!subteam^", "!date^",
                                          "http://", "https://", "mailto:"};
  for (const char* p : kPrefixes)
    if (starts_with(inner, p)) return close + 1;
  return 0;
}

size_t entity_length(std::string_view text) {
  for (std::string_view e : {"&amp;", "&lt;", "&gt;"})
    if (starts_with(text, e)) return e.size();
  return 0;
}

// `at` moved back so that it does not fall inside an entity or a <…> token that starts after
// `from` (a token starting at or before `from` is longer than a chunk: cut through it). Looks
// back a bounded distance only (an entity is 5 bytes, a token at most 2 KiB).
size_t not_inside_token(std::string_view s, size_t from, size_t at) {
  if (at >= s.size() || at <= from) return at;
  for (size_t i = at - 1; i > from && at - i < 5; --i) {
    if (s[i] != '&') continue;
    if (const size_t n = entity_length(s.substr(i)); n && i + n > at) at = i;
    break;
  }
  const size_t floor = std::max(from + 1, at > 2048 ? at - 2048 : 0);
  for (size_t i = at; i-- > floor;) {
    if (s[i] == '>') break;  // a token closed before `at`
    if (s[i] != '<') continue;
    if (const size_t n = markup_length(s.substr(i)); n && i + n > at) at = i;
    break;
  }
  return at;
}

}  // namespace

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '<') {
      if (const size_t n = markup_length(text.substr(i))) {
        out.append(text.substr(i, n));
        i += n;
      } else {
        out += "&lt;";
        ++i;
      }
    } else if (c == '>') {
      out += "&gt;";
      ++i;
    } else if (c == '&') {
      const size_t n = entity_length(text.substr(i));
      out += n ? std::string(text.substr(i, n)) : std::string("&amp;");
      i += n ? n : 1;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::vector<std::string> chunk_text(const std::string& text, size_t limit) {
  std::vector<std::string> out;
  limit = std::max<size_t>(limit, 8);
  const std::string_view sv(text);
  size_t pos = 0;
  while (pos < sv.size()) {
    size_t end = pos + utf8::cut_utf16(sv.substr(pos), limit);
    if (end == pos) end = pos + std::max<size_t>(1, utf8::cut_utf16(sv.substr(pos), 2));
    size_t cut = end, next = end;
    if (end < sv.size()) {
      const size_t hard = not_inside_token(sv, pos, end);
      size_t brk = std::string_view::npos;
      // The last newline, else space, in (pos, hard] outside any token (a few tries: a long
      // token full of spaces falls back to the hard cut).
      const std::string_view window = sv.substr(pos, hard - pos + 1);  // hard itself counts
      for (const char sep : {'\n', ' '}) {
        size_t p = window.rfind(sep);
        for (int tries = 0; p != std::string_view::npos && p > 0 && tries < 16; ++tries) {
          if (not_inside_token(sv, pos, pos + p) == pos + p) {
            brk = pos + p;
            break;
          }
          p = window.rfind(sep, p - 1);
        }
        if (brk != std::string_view::npos) break;
      }
      if (brk != std::string_view::npos) {
        cut = brk;
        next = brk + 1;
      } else {
        cut = next = hard > pos ? hard : end;  // a token longer than a chunk: cut through it
      }
    }
    const std::string piece(sv.substr(pos, cut - pos));
    if (piece.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(piece);
    pos = next;
  }
  return out;
}

std::string sign_request(std::string_view secret, std::string_view timestamp,
                         std::string_view body) {
  std::string base = "v0:";
  base.append(timestamp).append(":").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(base.data()), base.size(), mac, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "v0=";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

SignatureCheck verify_signature(std::string_view secret, std::string_view timestamp,
                                std::string_view signature, std::string_view body, int64_t now_s,
                                int64_t window_s) {
  if (timestamp.empty() || signature.empty() || secret.empty()) return SignatureCheck::missing;
  if (timestamp.size() > 12 ||
      !std::all_of(timestamp.begin(), timestamp.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return SignatureCheck::stale;
  int64_t ts = 0;
  for (const char c : timestamp) ts = ts * 10 + (c - '0');
  if (ts < now_s - window_s || ts > now_s + window_s) return SignatureCheck::stale;
  const std::string want = sign_request(secret, timestamp, body);
  if (signature.size() != want.size() ||
      CRYPTO_memcmp(signature.data(), want.data(), want.size()) != 0)
    return SignatureCheck::mismatch;
  return SignatureCheck::ok;
}

const char* signature_check_name(SignatureCheck c) {
  switch (c) {
    case SignatureCheck::ok:
      return "ok";
    case SignatureCheck::missing:
      return "missing timestamp or signature";
    case SignatureCheck::stale:
      return "timestamp outside the 5-minute window";
    case SignatureCheck::mismatch:
      return "signature mismatch";
  }
  return "?";
}

}  // namespace clawgate::workers::slack
