// ToolCallCollector: see tool_calls.hpp.
#include "tool_calls.hpp"

#include <algorithm>

#include "utf8.hpp"

namespace clawgate::workers {

using Json = nlohmann::json;

namespace {

const Json* field(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

}  // namespace

ToolCall* ToolCallCollector::find(int64_t key) {
  const auto it = std::find(keys_.begin(), keys_.end(), key);
  return it == keys_.end() ? nullptr : &calls_[static_cast<size_t>(it - keys_.begin())];
}

ToolCall* ToolCallCollector::slot(int64_t key) {
  if (ToolCall* c = find(key)) return c;
  if (calls_.size() >= kMaxCalls) {
    overflow_ = true;
    return nullptr;
  }
  calls_.emplace_back();
  keys_.push_back(key);
  return &calls_.back();
}

void ToolCallCollector::set_once(std::string& out, const Json& j, const char* key) {
  const Json* v = field(j, key);
  if (!out.empty() || !v || !v->is_string()) return;
  const std::string& s = v->get_ref<const std::string&>();
  out = s.substr(0, utf8::cut_bytes(s, kMaxIdBytes));
}

void ToolCallCollector::append_arguments(ToolCall& c, const std::string& fragment) {
  if (c.oversized) return;
  if (c.arguments.size() + fragment.size() > kMaxArgumentsBytes) {
    c.oversized = true;  // a runaway call: answered with an error, its text not kept
    c.arguments.clear();
    return;
  }
  c.arguments += fragment;
}

void ToolCallCollector::openai_fragment(const Json& entry) {
  if (!entry.is_object()) return;
  int64_t key;
  const Json* index = field(entry, "index");
  const Json* id = field(entry, "id");
  if (index && index->is_number_integer()) {
    key = index->get<int64_t>();
  } else {
    // Servers that leave out the index: a new id starts a call, anything else continues the
    // last one.
    const bool new_id = id && id->is_string() && !id->get_ref<const std::string&>().empty() &&
                        (calls_.empty() || calls_.back().id != id->get_ref<const std::string&>());
    key = new_id || keys_.empty() ? next_synthetic_-- : keys_.back();
  }
  ToolCall* c = slot(key);
  if (!c) return;
  set_once(c->id, entry, "id");
  const Json* fn = field(entry, "function");
  if (!fn || !fn->is_object()) return;
  set_once(c->name, *fn, "name");
  const Json* args = field(*fn, "arguments");
  if (args && args->is_string()) append_arguments(*c, args->get_ref<const std::string&>());
}

void ToolCallCollector::anthropic_start(int64_t index, const Json& block) {
  const Json* type = field(block, "type");
  if (!type || !type->is_string() || type->get_ref<const std::string&>() != "tool_use") return;
  ToolCall* c = slot(index);
  if (!c) return;
  set_once(c->id, block, "id");
  set_once(c->name, block, "name");
  // The input streams as input_json_delta fragments after an empty {} here.
}

void ToolCallCollector::anthropic_delta(int64_t index, const std::string& partial_json) {
  ToolCall* c = find(index);
  if (c) append_arguments(*c, partial_json);  // else: no tool_use block (or past the bound)
}

bool nesting_within(std::string_view text, int max) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace clawgate::workers
