// UTF-8 helpers (see utf8.hpp). The decoder follows the Unicode standard's table of
// well-formed byte sequences (Table 3-7), so overlongs and surrogates are ill-formed.
#include "utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

namespace clawgate::utf8 {
namespace {

constexpr char32_t kBad = 0xFFFFFFFF;

// Decodes the code point at s[i]; `len` gets the bytes it spans, or for an ill-formed
// sequence the length of its maximal subpart (at least 1), with kBad returned.
char32_t decode(std::string_view s, size_t i, size_t& len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  len = 1;
  if (c < 0x80) return c;
  size_t need;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2, cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3, cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return kBad;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return kBad;
    const unsigned char t = b(k);
    if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF)) return kBad;
    cp = (cp << 6) | (t & 0x3F);
    len = k + 1;
  }
  return cp;
}

// Code points that continue the grapheme cluster before them: combining marks of the common
// scripts, joiners, variation selectors, emoji modifiers and tags, Hangul medial/final jamo.
// An approximation of UAX #29's Extend/SpacingMark/ZWJ classes, enough that a preview never
// ends with a letter stripped of its marks or a broken emoji.
bool extends(char32_t c) {
  static constexpr char32_t kRanges[][2] = {
      {0x0300, 0x036F}, {0x0483, 0x0489},   {0x0591, 0x05BD},   {0x05BF, 0x05BF},
      {0x05C1, 0x05C2}, {0x05C4, 0x05C5},   {0x05C7, 0x05C7},   {0x0610, 0x061A},
      {0x064B, 0x065F}, {0x0670, 0x0670},   {0x06D6, 0x06DC},   {0x06DF, 0x06E4},
      {0x06E7, 0x06E8}, {0x06EA, 0x06ED},   {0x0711, 0x0711},   {0x0730, 0x074A},
      {0x0900, 0x0903}, {0x093A, 0x094F},   {0x0951, 0x0957},   {0x0962, 0x0963},
      {0x0E31, 0x0E31}, {0x0E34, 0x0E3A},   {0x0E47, 0x0E4E},   {0x1160, 0x11FF},
      {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},   {0x200C, 0x200D},   {0x20D0, 0x20FF},
      {0x302A, 0x302F}, {0x3099, 0x309A},   {0xD7B0, 0xD7FF},   {0xFE00, 0xFE0F},
      {0xFE20, 0xFE2F}, {0x1F3FB, 0x1F3FF}, {0xE0020, 0xE007F}, {0xE0100, 0xE01EF},
  };
  for (const auto& r : kRanges)
    if (c >= r[0] && c <= r[1]) return true;
  return false;
}

bool regional_indicator(char32_t c) {
  return c >= 0x1F1E6 && c <= 0x1F1FF;
}

void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool js_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000 || c == 0xFEFF;
}

struct LowerRun {
  char32_t first, last;
  uint32_t stride;
  int32_t delta;
};
struct CaseClassRange {
  char32_t first, last;
  int cls;  // 1 cased, 2 case-ignorable
};
#include "utf8_case.inc"

char32_t lower_one(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  // The last run starting at or before c.
  const auto* end = std::end(kLowerRuns);
  const auto* it = std::upper_bound(std::begin(kLowerRuns), end, c,
                                    [](char32_t v, const LowerRun& r) { return v < r.first; });
  if (it == std::begin(kLowerRuns)) return c;
  --it;
  if (c > it->last || (c - it->first) % it->stride != 0) return c;
  return static_cast<char32_t>(static_cast<int64_t>(c) + it->delta);
}

int case_class(char32_t c) {
  const auto* it =
      std::upper_bound(std::begin(kCaseClasses), std::end(kCaseClasses), c,
                       [](char32_t v, const CaseClassRange& r) { return v < r.first; });
  if (it == std::begin(kCaseClasses)) return 0;
  --it;
  return c <= it->last ? it->cls : 0;
}

}  // namespace

bool valid(std::string_view s) {
  for (size_t i = 0, len; i < s.size(); i += len)
    if (decode(s, i, len) == kBad) return false;
  return true;
}

std::string repair(std::string_view s) {
  if (valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0, len; i < s.size(); i += len) {
    if (decode(s, i, len) == kBad)
      out += "\xEF\xBF\xBD";
    else
      out.append(s.substr(i, len));
  }
  return out;
}

size_t cut_bytes(std::string_view s, size_t max_bytes) {
  if (max_bytes >= s.size()) return s.size();
  size_t cut = max_bytes;
  // Step back over continuation bytes (at most three) to the start of the code point.
  for (int k = 0; k < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80; ++k)
    --cut;
  return cut;
}

std::string truncate_bytes(std::string_view s, size_t max_bytes, std::string_view ellipsis) {
  if (s.size() <= max_bytes) return std::string(s);
  if (ellipsis.size() > max_bytes) ellipsis = {};
  std::string out(s.substr(0, cut_bytes(s, max_bytes - ellipsis.size())));
  out += ellipsis;
  return out;
}

std::string preview(std::string_view s, size_t max_code_points) {
  const std::string text = repair(s);
  std::vector<size_t> starts;  // byte offset of each code point, up to one past the limit
  std::vector<char32_t> cps;
  size_t i = 0, len;
  while (i < text.size() && cps.size() <= max_code_points) {
    starts.push_back(i);
    cps.push_back(decode(text, i, len));
    i += len;
  }
  if (cps.size() <= max_code_points) return text;
  // cps[max_code_points] is the first code point left out; move the cut back while it would
  // leave a cluster split.
  size_t k = max_code_points;
  const auto splits = [&](size_t at) {
    if (at == 0) return false;
    if (extends(cps[at]) || cps[at - 1] == 0x200D) return true;
    if (regional_indicator(cps[at])) {
      size_t run = 0;
      while (run < at && regional_indicator(cps[at - 1 - run])) ++run;
      return run % 2 == 1;  // in the middle of a flag
    }
    return false;
  };
  while (k > 0 && splits(k)) --k;
  if (k == 0) k = max_code_points;  // one giant cluster: a code-point cut is the best we can do
  return text.substr(0, starts[k]) + "…";
}

size_t utf16_length(std::string_view s) {
  size_t units = 0;
  for (size_t i = 0, len; i < s.size(); i += len) {
    const char32_t c = decode(s, i, len);
    units += c != kBad && c > 0xFFFF ? 2 : 1;
  }
  return units;
}

size_t cut_utf16(std::string_view s, size_t max_units) {
  size_t units = 0, i = 0, len;
  while (i < s.size()) {
    const char32_t c = decode(s, i, len);
    const size_t u = c != kBad && c > 0xFFFF ? 2 : 1;
    if (units + u > max_units) break;
    units += u;
    i += len;
  }
  return i;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0, len; i < s.size(); i += len, ++n) decode(s, i, len);
  return n;
}

std::string_view trim(std::string_view s) {
  size_t begin = 0, end = s.size(), len;
  while (begin < end) {
    const char32_t c = decode(s, begin, len);
    if (c == kBad || !js_space(c)) break;
    begin += len;
  }
  while (end > begin) {
    size_t start = end - 1;  // back to the first byte of the last code point
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
           end - start < 4)
      --start;
    const char32_t c = decode(s, start, len);
    if (c == kBad || start + len != end || !js_space(c)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

std::string lower(std::string_view s) {
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0, len; i < s.size(); i += len) {
    const char32_t c = decode(s, i, len);
    cps.push_back(c == kBad ? 0xFFFD : c);
  }
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    if (c == 0x130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: "i" + COMBINING DOT ABOVE
      append(out, 'i');
      append(out, 0x307);
    } else if (c == 0x3A3) {
      // Final_Sigma: a cased letter before it and none after, case-ignorables skipped.
      size_t b = i;
      while (b > 0 && case_class(cps[b - 1]) == 2) --b;
      size_t a = i + 1;
      while (a < cps.size() && case_class(cps[a]) == 2) ++a;
      const bool final =
          b > 0 && case_class(cps[b - 1]) == 1 && !(a < cps.size() && case_class(cps[a]) == 1);
      append(out, final ? 0x3C2 : 0x3C3);
    } else {
      append(out, lower_one(c));
    }
  }
  return out;
}

}  // namespace clawgate::utf8

namespace clawgate {
std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace clawgate
