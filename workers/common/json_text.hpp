// JSON text from a platform API made safe to parse, shared by the channel workers.
// Never throws except std::bad_alloc.
#pragma once
#include <string>

namespace clawgate::workers {

// A response body the JSON parser accepts whenever the structure is sound: invalid UTF-8 bytes
// become U+FFFD, and \u escapes of unpaired UTF-16 surrogates become \uFFFD.
std::string repair_json_text(const std::string& body);

}  // namespace clawgate::workers
