// UTF-8 text helpers: validation, repair of invalid bytes to U+FFFD, cuts that never split a
// code point (and, for previews, never split a user-perceived character), UTF-16 lengths for
// platforms that count in UTF-16 code units (Telegram), JavaScript's trim and toLowerCase (for
// keys that must match what OpenClaw computes), and JSON dumps that cannot throw.
// Every truncation in the code base goes through here. Pure functions; never throw except
// std::bad_alloc.
#pragma once
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace clawgate::utf8 {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid(std::string_view s);

// `s` with every ill-formed subsequence replaced by U+FFFD (maximal subparts, as the Unicode
// standard and WHATWG decoders do). Valid input comes back unchanged.
std::string repair(std::string_view s);

// The largest byte offset <= max_bytes that does not split a code point of `s`.
size_t cut_bytes(std::string_view s, size_t max_bytes);

// `s` cut to at most max_bytes bytes on a code-point boundary; when it was cut, `ellipsis` is
// appended within the budget (the result is never longer than max_bytes).
std::string truncate_bytes(std::string_view s, size_t max_bytes, std::string_view ellipsis = "");

// For previews a person reads: at most max_code_points code points, moved back so no
// grapheme cluster is split (combining marks, variation selectors, ZWJ emoji sequences, skin
// tones, tag sequences, flag pairs, Hangul jamo), plus "…" when anything was cut.
std::string preview(std::string_view s, size_t max_code_points);

// Number of UTF-16 code units `s` encodes to (code points above U+FFFF count two). Invalid
// bytes count one each (they become U+FFFD).
size_t utf16_length(std::string_view s);

// The largest byte offset such that s[0, offset) is at most max_units UTF-16 code units and
// splits no code point.
size_t cut_utf16(std::string_view s, size_t max_units);

// Number of code points (invalid bytes count one each).
size_t code_points(std::string_view s);

// `s` without the leading and trailing white space JavaScript's String.prototype.trim removes:
// tab, line feed, VT, FF, CR, space, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000, U+FEFF.
std::string_view trim(std::string_view s);

// `s` lowercased as JavaScript's String.prototype.toLowerCase lowercases it: Unicode's full
// default case mapping (U+0130 becomes "i" + U+0307), capital sigma final or not by context
// (Final_Sigma), no language rules. Tables from Node's own toLowerCase (utf8_case.inc). Invalid
// bytes become U+FFFD.
std::string lower(std::string_view s);

}  // namespace clawgate::utf8

namespace clawgate {
// Compact (indent < 0) or indented JSON text that never throws on invalid UTF-8 inside
// strings: such bytes are written as U+FFFD. Use this, not json::dump(), for anything built
// from outside input.
std::string dump_json(const nlohmann::json& j, int indent = -1);
}  // namespace clawgate
