// CronService: scheduled agent work and the heartbeat, in the front.
// - Jobs (cron.list/add/update/remove/run/runs) as upstream shapes them: schedule `at` (an ISO
//   8601 time), `every` (everyMs from an anchor, at least 1 s) or `cron` (5-field expression,
//   local time or "UTC"); payload `agentTurn` (a run in the main session, the job's own
//   isolated session agent:main:cron:<id>, or sessionTarget "session:<key>", any key a client
//   may name, refused at cron.add/update when it is not one) or `systemEvent` (a line in the
//   main session). Jobs live in
//   cron/jobs.json (atomic writes); each run is appended to cron/runs/<job>.jsonl (kept to the
//   last 500). `cron` events: added / updated / removed / started / finished.
// - The heartbeat: every `agents.defaults.heartbeat.every` (default 30m, "0m" off) a run in the
//   main session with the heartbeat prompt; the answer "HEARTBEAT_OK" means nothing to report.
//   Each beat is a `heartbeat` event and what `last-heartbeat` returns.
// Fails: bad schedules are INVALID_REQUEST naming the field; a job whose previous run is still
// going is skipped (recorded as such), never stacked; disk errors are logged and answered
// UNAVAILABLE.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "clock.hpp"
#include "core/runs.hpp"
#include "duration.hpp"
#include "log.hpp"

namespace clawgate::core {

using clawgate::parse_duration_ms;  // common/duration.hpp: the config reads durations too
// ISO 8601 date-time ("2026-11-24T20:00:00Z", offsets, fractions) -> epoch ms.
std::optional<int64_t> parse_iso_time_ms(const std::string& s);
// The first minute strictly after `after_ms` matching a 5-field cron expression, in UTC or
// local time; nullopt when the expression is malformed or never matches within a year.
std::optional<int64_t> next_cron_ms(const std::string& expr, int64_t after_ms, bool utc);

class CronService {
 public:
  static constexpr int64_t kMinEveryMs = 1000;
  static constexpr int64_t kMaxHeartbeatEveryMs = 366LL * 86'400'000;
  static constexpr size_t kMaxJobs = 500;
  static constexpr size_t kRunsKept = 500;
  static constexpr const char* kHeartbeatPrompt =
      "Heartbeat: check whether anything needs the user's attention. If nothing does, reply "
      "exactly HEARTBEAT_OK.";

  CronService(boost::asio::io_context& io, const Clock& clock, Logger& log,
              const std::string& state_dir, RunManager& runs, RunManager::Emit emit,
              const std::string& agent_config_json);
  void start();
  bool call(schema::Method method, const Json& params,
            const ReplyFn& reply);                          // false: not its method
  std::function<void(const Json& heartbeat)> on_heartbeat;  // for last-heartbeat

 private:
  std::optional<int64_t> next_run(const Json& job, int64_t after_ms) const;
  void arm();
  void tick();
  void run_job(const std::string& id, const std::string& trigger);
  struct JobRun {  // a job's run in flight, for job_done
    std::string id, run_id, session, trigger;
    int64_t started_ms = 0;
  };
  void job_done(const JobRun& run, bool okay, const std::string& text, const std::string& error);
  void beat();
  void save();
  void record(const std::string& id, const Json& entry);
  // The session a job's agentTurn runs in (sessionTarget "main" or "current": the main session;
  // "isolated": the job's own; "session:<key>": that key), or nullopt with the reason.
  static std::optional<SessionKey> session_for(const Json& job, std::string* why);
  Json* find(const Json& params);
  // The cron.* methods; update, remove, run and runs are given the job call() found.
  Reply m_list(const Json& params) const;
  Reply m_add(const Json& params);
  Reply m_update(Json& job, const Json& params);
  Reply m_remove(const std::string& id);
  Reply m_run(const Json& job, const Json& params);
  Reply m_runs(const std::string& id, const Json& params) const;
  void event(const std::string& job_id, const std::string& action, Json extra = Json::object());

  const Clock& clock_;
  Logger& log_;
  std::string dir_;
  RunManager& runs_;
  RunManager::Emit emit_;
  Json jobs_ = Json::array();
  std::set<std::string> running_;
  boost::asio::steady_timer timer_, heartbeat_timer_;
  int64_t heartbeat_every_ms_ = 30 * 60 * 1000;
  std::string heartbeat_target_ = "none";
  bool heartbeat_running_ = false;
  uint64_t counter_ = 0;
};

}  // namespace clawgate::core
