// Discord text at the worker's edges, as pure functions: outbound replies cut into messages
// Discord accepts (textChunkLimit in UTF-16 code units, as upstream counts them, and
// maxLinesPerMessage), and the targets a delivery may name.
// Never throw except std::bad_alloc; bad input is repaired or cut, never passed on.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clawgate::workers::discord {

// Splits `text` into messages of at most `max_units` UTF-16 code units and `max_lines` lines,
// as upstream's Discord chunker does: at line breaks first (the break itself is dropped), a
// line longer than a message at its last space that fits, else at a code point, never inside
// one. A ``` code fence still open where a message ends is closed there and opened again (with
// its language) at the start of the next, so every message renders; this needs room for the
// fence (max_lines >= 3, max_units above twice the opener's length), else messages are cut
// without it. Messages that would be only white space are left out: Discord refuses them.
std::vector<std::string> chunk_text(std::string_view text, size_t max_units, size_t max_lines);

// A delivery's target: "channel:<id>" or a bare id (a channel: what inbound messages name),
// "user:<id>" or a mention <@id> / <@!id> (a DM to that user, through the DM channel Discord
// opens for it), "<#id>" (a channel). Ids must be snowflakes.
struct Target {
  enum Kind { channel, user } kind = channel;
  std::string id;
};
std::optional<Target> parse_target(std::string_view to);

}  // namespace clawgate::workers::discord
