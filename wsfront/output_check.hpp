// Output checks: checked builds (CLAWGATE_CHECK_OUTPUT: Debug, sanitizer and fuzz builds)
// stop at the first result or event that drifted from its schema definition, so tests fail
// where the drift is. Other builds evaluate nothing. Used by the front's .cpp files only.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include "protocol_gen.hpp"

#ifdef CLAWGATE_CHECK_OUTPUT
namespace clawgate::front::output_check {
inline void check_failed(const std::string& what, const std::string& why) {
  std::fprintf(stderr, "clawgate: %s does not match the protocol schema: %s\n", what.c_str(),
               why.c_str());
  std::abort();
}
inline void check_output(schema::Def d, const nlohmann::json& v, const std::string& what) {
  schema::Errors e;
  if (!schema::validate(d, v, e)) check_failed(what, e.text());
}
}  // namespace clawgate::front::output_check
#define CLAWGATE_CHECK(def, value, what) \
  ::clawgate::front::output_check::check_output(def, value, what)
#define CLAWGATE_CHECK_FAILED(what, why) ::clawgate::front::output_check::check_failed(what, why)
#else
#define CLAWGATE_CHECK(def, value, what) ((void)0)
#define CLAWGATE_CHECK_FAILED(what, why) ((void)0)
#endif
