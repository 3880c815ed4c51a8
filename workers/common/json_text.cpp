// JSON text repair: see json_text.hpp.
#include "json_text.hpp"

#include "utf8.hpp"

namespace clawgate::workers {

namespace {

int hex4(const std::string& s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    const char c = s[k];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

}  // namespace

std::string repair_json_text(const std::string& raw) {
  const std::string body = utf8::repair(raw);
  if (body.find("\\u") == std::string::npos) return body;
  std::string out;
  out.reserve(body.size());
  // Outside strings a valid body has no backslashes, so escapes can be read without tracking
  // quotes; "\\" is copied as a pair so its second backslash never starts an escape.
  for (size_t i = 0; i < body.size();) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out += body[i++];
      continue;
    }
    const int cp = body[i + 1] == 'u' ? hex4(body, i + 2) : -1;
    if (cp < 0xD800 || cp > 0xDFFF) {
      out.append(body, i, cp < 0 ? 2 : 6);
      i += cp < 0 ? 2 : 6;
      continue;
    }
    const int low = cp <= 0xDBFF && i + 7 < body.size() && body[i + 6] == '\\' && body[i + 7] == 'u'
                        ? hex4(body, i + 8)
                        : -1;
    if (low >= 0xDC00 && low <= 0xDFFF) {  // a proper pair
      out.append(body, i, 12);
      i += 12;
    } else {
      out += "\\uFFFD";
      i += 6;
    }
  }
  return out;
}

}  // namespace clawgate::workers
