// Slack text at the worker's edges, as pure functions: outbound text escaped as Slack's
// message format requires and cut into messages chat.postMessage accepts, and the v0 request
// signature of HTTP events mode (HMAC-SHA256 of "v0:<timestamp>:<body>", 5-minute window).
// Never throw except std::bad_alloc.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace clawgate::workers::slack {

// &, < and > escaped (&amp; &lt; &gt;) as Slack requires, except Slack's own markup the agent
// may write on purpose: <@U…>, <#C…>, <!here>, <!channel>, <!everyone>, <!subteam^…>,
// <!date^…>, <http(s)://…> and <mailto:…> pass through, as do entities already escaped.
std::string escape_text(std::string_view text);

// Splits text into messages of at most `limit` UTF-16 code units (textChunkLimit), never inside
// a code point, an entity (&amp;) or a <…> token shorter than the limit, preferring to break at
// a newline, then a space (the separator is dropped). Pieces that would be only white space are
// left out: Slack refuses them (no_text).
std::vector<std::string> chunk_text(const std::string& text, size_t limit);

// HTTP events mode: "v0=" + hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + body).
std::string sign_request(std::string_view secret, std::string_view timestamp,
                         std::string_view body);

enum class SignatureCheck { ok, missing, stale, mismatch };
// Checks X-Slack-Request-Timestamp and X-Slack-Signature of a request body: the timestamp must
// be decimal seconds within `window_s` of now_s (either way; replays of old requests fail), the
// signature must match in constant time.
SignatureCheck verify_signature(std::string_view secret, std::string_view timestamp,
                                std::string_view signature, std::string_view body, int64_t now_s,
                                int64_t window_s = 300);
const char* signature_check_name(SignatureCheck c);

}  // namespace clawgate::workers::slack
