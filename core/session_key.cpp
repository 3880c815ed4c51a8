// SessionKey: see session_key.hpp. The case rules follow upstream's
// normalizeSessionKeyPreservingOpaquePeerIds, the agent and account ids its normalizeAgentId
// and normalizeAccountId, the kinds its sessionClassificationForRow.
#include "core/session_key.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "utf8.hpp"

namespace clawgate::core {

namespace {

constexpr std::string_view kHead = "agent:";

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Whether s[at...] starts with `word`, ASCII letters in any case (upstream's regexes are /i
// without the u flag: only ASCII letters fold to the patterns' letters).
bool starts_ci(std::string_view s, size_t at, std::string_view word) {
  return at <= s.size() && s.size() - at >= word.size() &&
         ascii_iequal(s.substr(at, word.size()), word);
}

size_t rfind_ci(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return std::string_view::npos;
  for (size_t at = s.size() - word.size() + 1; at-- > 0;)
    if (starts_ci(s, at, word)) return at;
  return std::string_view::npos;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The first control character (C0, DEL, C1) of valid UTF-8 `s`, if any.
std::optional<char32_t> control_in(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return c;
    // U+0080-U+009F are C2 80 - C2 9F.
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto n = static_cast<unsigned char>(s[i + 1]);
      if (n >= 0x80 && n <= 0x9F) return n;
    }
  }
  return std::nullopt;
}

// JavaScript's trim then toLowerCase, which upstream applies to every piece of a key it folds.
std::string lower_trimmed(std::string_view s) {
  return utf8::lower(utf8::trim(s));
}

struct Span {
  size_t start, end;
  bool trim;
};

// Where "matrix:channel:" / "matrix:group:" ends when the key starts with it, after any number
// of "agent:<id>:" heads (upstream's MATRIX_ROOM_KEY_PATTERN); 0 when it does not.
size_t matrix_room_prefix(std::string_view s) {
  size_t at = 0;
  bool heads = false;
  while (starts_ci(s, at, "agent:")) {
    const size_t colon = s.find(':', at + 6);
    if (colon == std::string_view::npos) break;
    at = colon + 1;
    heads = true;
  }
  if (heads)
    while (at < s.size() && s[at] == ':') ++at;
  else
    at = 0;
  if (!starts_ci(s, at, "matrix:")) return 0;
  at += 7;
  for (std::string_view kind : {"channel:", "group:"})
    if (starts_ci(s, at, kind)) return at + kind.size();
  return 0;
}

// Text whose case belongs to the peer's platform: Signal group ids (base64) and Matrix room
// ids with their thread ids.
std::vector<Span> case_preserved_spans(std::string_view s) {
  std::vector<Span> spans;
  constexpr std::string_view kSignal = "signal:group:";
  size_t searched = 0;  // /g: the next match starts where the last one ended
  for (size_t at = 0; at + kSignal.size() < s.size(); ++at) {
    const bool boundary = at == 0 ? searched == 0 : s[at - 1] == ':' && at - 1 >= searched;
    if (!boundary || !starts_ci(s, at, kSignal)) continue;
    const size_t begin = at + kSignal.size();
    const size_t end = std::min(s.find(':', begin), s.size());
    if (end == begin) continue;
    spans.push_back({begin, end, true});
    searched = end;
    at = end - 1;
  }
  const size_t tail = matrix_room_prefix(s);
  if (tail == 0 || tail >= s.size()) return spans;
  // Upstream finds the ":thread:" marker in the trimmed, lowercased tail and cuts the raw tail
  // at that index (UTF-16 units): after a U+0130, which lowercases to two units, the cut lands
  // one unit later. Done the same way, so the key is the one upstream stores.
  const std::string_view raw_tail = s.substr(tail);
  const std::string lowered = lower_trimmed(raw_tail);
  const size_t found = lowered.rfind(":thread:");
  if (found == std::string::npos) {
    spans.push_back({tail, s.size(), false});
    return spans;
  }
  const size_t marker = utf8::utf16_length(std::string_view(lowered).substr(0, found));
  spans.push_back({tail, tail + utf8::cut_utf16(raw_tail, marker), false});
  if (marker + 8 < utf8::utf16_length(raw_tail))
    spans.push_back({tail + utf8::cut_utf16(raw_tail, marker + 8), s.size(), false});
  return spans;
}

// Upstream's normalizeSessionKeyPreservingOpaquePeerIds on trimmed, valid `s`.
std::string fold(std::string_view s) {
  std::string folded = utf8::lower(s);
  if (folded.find("signal:") == std::string::npos && folded.find("matrix:") == std::string::npos)
    return folded;
  std::vector<Span> spans = case_preserved_spans(s);
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Span& a, const Span& b) { return a.start < b.start; });
  std::string out;
  size_t cursor = 0;
  for (const Span& sp : spans) {
    if (sp.end <= sp.start || sp.start < cursor) continue;
    out += lower_trimmed(s.substr(cursor, sp.start - cursor));
    const std::string_view kept = s.substr(sp.start, sp.end - sp.start);
    out += sp.trim ? utf8::trim(kept) : kept;
    cursor = sp.end;
  }
  out += lower_trimmed(s.substr(cursor));
  return out;
}

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Upstream's agent/account id canonical form: a valid id ([a-z0-9][a-z0-9_-]{0,63}, any case)
// lowercased; anything else lowercased with each run of other characters as one "-", no
// leading or trailing "-", cut to 64. "" when nothing is left.
std::string normalize_id(std::string_view raw) {
  const std::string lowered = lower_trimmed(raw);
  const bool valid = !lowered.empty() && lowered.size() <= 64 && lowered[0] != '_' &&
                     lowered[0] != '-' && std::all_of(lowered.begin(), lowered.end(), id_char) &&
                     // A non-ASCII letter lowercasing to ASCII (U+212A KELVIN SIGN) was not valid.
                     utf8::trim(raw).size() == lowered.size();
  if (valid) return lowered;
  std::string out;
  bool run = false;
  for (char c : lowered) {
    if (id_char(c)) {
      out.push_back(c);
      run = false;
    } else if (!run) {
      out.push_back('-');
      run = true;
    }
  }
  const size_t b = out.find_first_not_of('-');
  if (b == std::string::npos) return "";
  out = out.substr(b, out.find_last_not_of('-') + 1 - b);
  return out.substr(0, SessionKey::kMaxAgentIdChars);
}

std::string normalize_account_id(std::string_view raw) {
  std::string id = normalize_id(raw);
  // Upstream refuses the names JavaScript objects hold as prototype keys.
  if (id.empty() || id == "__proto__" || id == "constructor" || id == "prototype") return "default";
  return id;
}

std::string quoted(std::string_view s) {
  return "\"" + utf8::preview(s, 80) + "\"";
}

std::string u_plus(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

// Splits s on ':' (empty pieces kept, as JavaScript's split).
std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t at = 0;
  for (size_t colon; (colon = s.find(':', at)) != std::string_view::npos; at = colon + 1)
    parts.push_back(s.substr(at, colon - at));
  parts.push_back(s.substr(at));
  return parts;
}

// The peer kind of a complete external delivery shape (upstream's parseSessionDeliveryRoute):
// <channel>:<account>:direct|dm:<peer> or <channel>:channel|direct|dm|group:<peer>; "" if none.
std::string_view route_peer_kind(std::string_view rest) {
  const auto parts = split(rest);
  if (parts.size() < 3 || parts[0] == "agent" || utf8::trim(parts[0]).empty()) return "";
  if (parts.size() >= 4 && (parts[2] == "direct" || parts[2] == "dm"))
    return utf8::trim(parts[1]).empty() || utf8::trim(parts[3]).empty() ? "" : parts[2];
  const std::string_view kind = parts[1];
  if (kind != "channel" && kind != "direct" && kind != "dm" && kind != "group") return "";
  if (utf8::trim(parts[2]).empty()) return "";
  return kind;
}

}  // namespace

std::optional<SessionKey> SessionKey::parse(std::string_view raw, std::string* why) {
  const auto refuse = [why](std::string reason) -> std::optional<SessionKey> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (!utf8::valid(raw)) return refuse("session key is not valid UTF-8");
  const std::string_view s = utf8::trim(raw);
  if (s.empty()) return refuse("session key is empty");
  if (const auto c = control_in(s))
    return refuse("session key contains a control character (" + u_plus(*c) + ")");
  const auto too_long = [&](size_t n, std::string_view what) {
    return refuse("session key is too long: " + std::to_string(n) + " characters" +
                  std::string(what) + " (at most " + std::to_string(kMaxRestChars) +
                  " after \"agent:<id>:\", " + std::to_string(kMaxKeyChars) + " in all)");
  };
  // Bounds the work before any copy.
  if (const size_t n = utf8::code_points(s); n > kMaxKeyChars) return too_long(n, "");

  const std::string folded = fold(s);
  std::string text;
  size_t segment_len;
  std::string agent;
  if (starts_with(folded, kHead)) {
    const size_t colon = folded.find(':', kHead.size());
    if (colon == std::string::npos) return refuse("malformed session key " + quoted(s));
    const std::string_view segment = std::string_view(folded).substr(6, colon - 6);
    const std::string_view rest = std::string_view(folded).substr(colon + 1);
    if (utf8::trim(segment).empty() || rest.empty() || rest[0] == ':')
      return refuse("malformed session key " + quoted(s));
    if (const size_t n = utf8::code_points(rest); n > kMaxRestChars)
      return too_long(n, " after \"agent:" + std::string(segment) + ":\"");
    if (const size_t n = utf8::code_points(folded); n > kMaxKeyChars) return too_long(n, "");
    // Upstream stores the key with the agent segment as written (folded) and routes it to the
    // segment's normalized id, the default agent when nothing of it is usable.
    agent = normalize_id(segment);
    if (agent.empty()) agent = std::string(kDefaultAgent);
    segment_len = segment.size();
    text = folded;
  } else if (folded == "main" || folded == "global") {
    return main();
  } else {
    // Upstream makes "agent:main::x" of ":x", a key its own parser then calls malformed.
    if (folded[0] == ':') return refuse("malformed session key " + quoted(s));
    if (const size_t n = utf8::code_points(folded); n > kMaxRestChars)
      return too_long(n, " after \"agent:" + std::string(kDefaultAgent) + ":\"");
    agent = std::string(kDefaultAgent);
    segment_len = kDefaultAgent.size();
    text = std::string(kHead) + agent + ":" + folded;
  }
  return SessionKey(std::move(text), segment_len, std::move(agent));
}

SessionKey SessionKey::main() {
  return SessionKey(std::string(kHead) + std::string(kDefaultAgent) + ":main", kDefaultAgent.size(),
                    std::string(kDefaultAgent));
}

std::optional<SessionKey> SessionKey::for_peer(const Peer& p, std::string* why) {
  const std::string_view channel =
      utf8::trim(p.channel).empty() ? "unknown" : utf8::trim(p.channel);
  const std::string_view peer = utf8::trim(p.peer_id);
  std::string rest;
  if (p.direct) {
    if (peer.empty()) return main();
    if (p.dm_scope == "per-account-channel-peer") {
      rest = std::string(channel) + ":" + normalize_account_id(p.account_id) +
             ":direct:" + std::string(peer);
    } else if (p.dm_scope == "per-channel-peer") {
      rest = std::string(channel) + ":direct:" + std::string(peer);
    } else if (p.dm_scope == "per-peer") {
      rest = "direct:" + std::string(peer);
    } else {
      return main();  // "main", upstream's default
    }
  } else {
    const std::string_view kind = p.group_kind == "channel" ? "channel" : "group";
    rest = std::string(channel) + ":" + std::string(kind) + ":" +
           std::string(peer.empty() ? "unknown" : peer);
  }
  return parse(std::string(kHead) + std::string(kDefaultAgent) + ":" + rest, why);
}

std::optional<SessionKey> SessionKey::for_cron_job(std::string_view job_id, std::string* why) {
  return parse(std::string(kHead) + std::string(kDefaultAgent) + ":cron:" + std::string(job_id),
               why);
}

SessionKey::Kind SessionKey::kind() const {
  if (is_main()) return Kind::main;
  const std::string lowered = lower_trimmed(rest());
  if (starts_with(lowered, "subagent:")) return Kind::subagent;
  if (starts_with(lowered, "acp:")) return Kind::acp;
  if (starts_with(lowered, "cron:")) return Kind::cron;
  const std::string_view key = text_;
  const size_t marker = rfind_ci(key, ":thread:");
  if (marker != std::string_view::npos && !utf8::trim(key.substr(marker + 8)).empty())
    return Kind::thread;
  // The route of the key without its thread suffix, when that is still a whole key.
  const std::string_view base = marker == std::string_view::npos ? key : key.substr(0, marker);
  std::string_view base_rest;
  if (base.size() > kHead.size() + segment_len_ + 1 && base[kHead.size() + segment_len_ + 1] != ':')
    base_rest = base.substr(kHead.size() + segment_len_ + 1);
  const std::string_view peer_kind = route_peer_kind(base_rest);
  if (peer_kind == "group") return Kind::group;
  if (peer_kind == "channel") return Kind::channel;
  // Also per-peer keys: direct:<peer> (and the older dm:<peer>).
  const bool legacy_direct = (starts_ci(base_rest, 0, "direct:") && base_rest.size() > 7) ||
                             (starts_ci(base_rest, 0, "dm:") && base_rest.size() > 3);
  if (peer_kind == "direct" || peer_kind == "dm" || legacy_direct) return Kind::direct;
  if (starts_with(lowered, "dashboard:")) return Kind::dashboard;
  if (starts_with(lowered, "tui-")) return Kind::tui;
  if (starts_with(lowered, "explicit:")) return Kind::explicit_;
  if (starts_with(lowered, "hook:")) return Kind::hook;
  if (starts_with(lowered, "node-") || starts_with(lowered, "node:")) return Kind::node;
  if (starts_with(lowered, "harness:")) return Kind::harness;
  if (starts_with(lowered, "voice:")) return Kind::voice;
  if (starts_with(lowered, "dreaming-narrative-")) return Kind::dreaming;
  if (lowered == "boot" || starts_with(lowered, "boot:") ||
      starts_with(lowered, "internal-session-effects:"))
    return Kind::system;
  return Kind::custom;
}

std::string_view SessionKey::kind_name(Kind k) {
  switch (k) {
    case Kind::main:
      return "main";
    case Kind::subagent:
      return "subagent";
    case Kind::acp:
      return "acp";
    case Kind::cron:
      return "cron";
    case Kind::thread:
      return "thread";
    case Kind::group:
      return "group";
    case Kind::channel:
      return "channel";
    case Kind::direct:
      return "direct";
    case Kind::dashboard:
      return "dashboard";
    case Kind::tui:
      return "tui";
    case Kind::explicit_:
      return "explicit";
    case Kind::hook:
      return "hook";
    case Kind::node:
      return "node";
    case Kind::harness:
      return "harness";
    case Kind::voice:
      return "voice";
    case Kind::dreaming:
      return "dreaming";
    case Kind::system:
      return "system";
    case Kind::custom:
      return "custom";
  }
  return "custom";
}

bool SessionKey::background() const {
  switch (kind()) {
    case Kind::acp:
    case Kind::cron:
    case Kind::dreaming:
    case Kind::harness:
    case Kind::hook:
    case Kind::subagent:
    case Kind::system:
      return true;
    default:
      return false;
  }
}

std::string_view SessionKey::list_kind() const {
  if (starts_with(lower_trimmed(rest()), "cron:")) return "cron";
  if (text_.find(":group:") != std::string::npos || text_.find(":channel:") != std::string::npos)
    return "group";
  return "direct";
}

}  // namespace clawgate::core
