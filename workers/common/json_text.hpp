// JSON text from a platform made safe to parse: a body the parser refuses only because of bad
// characters (invalid UTF-8 bytes, \u escapes of unpaired UTF-16 surrogates) is repaired, so one
// bad character costs a U+FFFD, not the whole answer or event. Shared by the channel workers.
// Pure; never throws except std::bad_alloc.
#pragma once
#include <string>

namespace clawgate::workers {

// A response body the JSON parser accepts whenever the structure is sound: invalid UTF-8 bytes
// become U+FFFD, and \u escapes of unpaired UTF-16 surrogates become \uFFFD.
std::string repair_json_text(const std::string& body);

}  // namespace clawgate::workers
