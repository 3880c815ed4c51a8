// NodeTools: see node_tools.hpp.
#include "core/node_tools.hpp"

#include "contract.hpp"
#include "names.hpp"
#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {

std::string label(const NodeSession& s) {
  return s.display_name.empty() ? s.node_id : s.display_name;
}

std::string connected_list(const std::vector<const NodeSession*>& sessions) {
  std::string out;
  for (const NodeSession* s : sessions) {
    if (out.size() > 1024) return out + ", ...";
    out += (out.empty() ? "" : ", ") + label(*s) + " (" + s->node_id + ")";
  }
  return out;
}

// Strings too long for the model (media in base64, mostly) replaced by what they were.
void elide(Json& j) {
  if (j.is_string()) {
    const size_t n = j.get_ref<const std::string&>().size();
    if (n > NodeTools::kMaxStringBytes)
      j = "[" + std::to_string(n) +
          " bytes not shown: too long for the model (media is not passed on)]";
  } else if (j.is_array() || j.is_object()) {
    for (auto& v : j) elide(v);  // node payloads are parsed at most 64 deep
  }
}

AgentTools::Outcome outcome(const Reply& r, std::string meta) {
  if (r.error) return {true, r.error->message, std::move(meta)};
  return {false, NodeTools::model_text(r.payload.value_or(Json::object())), std::move(meta)};
}

}  // namespace

NodeCaller NodeTools::agent_caller() {
  NodeCaller c;
  c.protocol = 4;
  c.role = "operator";
  c.scopes = {"operator.read", "operator.write"};
  return c;
}

std::string NodeTools::model_text(const Json& result) {
  Json shown = result;
  // node.invoke answers with the payload twice (parsed and as text): the model needs one.
  if (shown.is_object() && shown.contains("payload")) shown.erase("payloadJSON");
  elide(shown);
  std::string text = dump_json(shown, 2);
  const size_t max = ipc::contract::tools::kMaxResultBytes;
  if (text.size() <= max) return text;
  const std::string note = "\n...[cut: the result was " + std::to_string(text.size()) + " bytes]";
  text.resize(utf8::cut_bytes(text, max - note.size()));
  return text + note;
}

std::vector<AgentLink::NodeOffer> NodeTools::node_offers() const {
  std::vector<AgentLink::NodeOffer> out;
  const NodeCaller c = agent_caller();
  for (const NodeSession* s : nodes_.registry().sessions()) {
    if (out.size() >= ipc::contract::lists::kNodeOffers) break;
    Strings commands = nodes_.invocable(c, *s);
    if (commands.empty()) continue;  // a node with nothing to run is no tool
    out.push_back({s->node_id, s->display_name, s->platform, std::move(commands)});
  }
  return out;
}

Result<const NodeSession*> NodeTools::resolve(const std::string& query) const {
  const auto sessions = nodes_.registry().sessions();
  if (sessions.empty()) return Error::unavailable("no node is connected");
  const std::string q(utf8::trim(query));
  if (q.empty()) {
    if (sessions.size() == 1) return sessions.front();
    return Error::invalid("node required: connected nodes are " + connected_list(sessions));
  }
  if (const NodeSession* s = nodes_.registry().by_node(q)) return s;
  std::vector<const NodeSession*> named;
  const std::string lower = utf8::lower(q);
  for (const NodeSession* s : sessions)
    if (utf8::lower(s->display_name) == lower || s->remote_ip == q) named.push_back(s);
  if (named.size() == 1) return named.front();
  const std::string shown = utf8::preview(q, 64);
  if (named.size() > 1)
    return Error::invalid("node \"" + shown + "\" names several nodes: " + connected_list(named) +
                          "; pass its id");
  return Error::invalid("unknown node \"" + shown + "\"; connected nodes are " +
                        connected_list(sessions));
}

void NodeTools::call_node(const AgentLink::NodeRequest& rq, const std::string& session_key,
                          Done done) {
  if (rq.action == ipc::NodeToolAction::STATUS)
    return done(outcome(nodes_.list(agent_caller()), "status"));
  auto s = resolve(rq.node);
  if (!s) return done({true, s.error().message, ipc::name_of(rq.action)});
  if (rq.action == ipc::NodeToolAction::DESCRIBE) {
    schema::params::NodeDescribe p;
    p.node_id = (*s)->node_id;
    return done(outcome(nodes_.describe(agent_caller(), p), "describe " + label(**s)));
  }
  invoke(rq, **s, session_key, std::move(done));
}

void NodeTools::invoke(const AgentLink::NodeRequest& rq, const NodeSession& s,
                       const std::string& session_key, Done done) {
  std::string meta = rq.command + " on " + label(s);
  schema::params::NodeInvoke p;
  p.node_id = s.node_id;
  p.command = rq.command;
  p.idempotency_key = new_id_();
  p.session_key = session_key;
  if (rq.timeout_ms) p.timeout_ms = rq.timeout_ms;
  if (!rq.params_json.empty()) {
    auto params = parse_node_json(rq.params_json);
    if (!params) return done({true, "the command's params are not JSON", std::move(meta)});
    p.params = std::move(*params);
  }
  nodes_.invoke(agent_caller(), p,
                [done = std::move(done), meta](Reply r) { done(outcome(r, meta)); });
}

}  // namespace clawgate::core
