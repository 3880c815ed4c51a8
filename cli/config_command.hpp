// `clawgate config ...`: the configuration as the gateway would read it, without starting one.
//   config schema            the JSON Schema of openclaw.json as clawgate reads it
//   config validate [FILE]   every problem with its key path; exit 78 when there is one
//   config get [PATH]        the effective value (secrets redacted); the whole config without PATH
// Fails: exit 2 on a usage error, 78 when the file is invalid, 1 when `get` finds nothing at
// PATH; messages go to `err`, results to `out`. Nothing is thrown.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "config.hpp"

namespace clawgate::cli {

int run_config_command(const std::vector<std::string>& args, const Environment& env,
                       std::ostream& out, std::ostream& err);

}  // namespace clawgate::cli
