#include "expert_parallel/replica.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <exception>

#include "expert_parallel/nccl_communicator.h"
#include "runtime/core/error.h"
#include "runtime/io/model_config.h"

namespace moe::ep {

ReplicaError::ReplicaError(int failed_rank, const std::string& message)
    : Error(fmt::format("rank {} of the replica failed: {}", failed_rank, message)),
      failed_rank_(failed_rank) {}

Replica Replica::split(const Communicator& world, const ReplicaOptions& options) {
  const int R = options.expert_parallel, N = world.size();
  if (R < 1 || N % R != 0)
    throw input_error(options.where,
                      "expected a number of ranks per replica that divides the {} ranks, found {}",
                      N, R);
  std::shared_ptr<Communicator> comm = world.split(world.rank() / R, world.rank());
  return Replica(std::move(comm), options, world.rank() / R, N / R);
}

Replica::Replica(std::shared_ptr<Communicator> comm, const ReplicaOptions& options, int index,
                 int count)
    : comm_(std::move(comm)), options_(options), index_(index), count_(count) {
  MOE_ASSERT(comm_ && comm_->device() == Device::CPU, "a replica needs a host communicator");
  if (options_.expert_parallel != comm_->size())
    throw input_error(options_.where,
                      "expected {} ranks per replica (the communicator's), found {}", comm_->size(),
                      options_.expert_parallel);
  if (const char* env = std::getenv("MOE_EP_TRANSPORT");
      env && options_.transport == Transport::kAuto)
    options_.transport = parse_transport(env, "environment variable MOE_EP_TRANSPORT");
}

ExpertPlacement Replica::placement_for(const io::ModelConfig& config) const {
  const int moe_layers = int(std::count(config.moe_layer.begin(), config.moe_layer.end(), true));
  return ExpertPlacement::parse(options_.placement, moe_layers, config.num_experts, size(),
                                options_.where);
}

std::shared_ptr<Model> Replica::build_model(const io::ModelConfig& config,
                                            const WeightSource& weights, ModelLoadOptions options) {
  if (size() == 1) return moe::build_model(config, weights, options);
  const ExpertPlacement placement = placement_for(config);
  options.hold_expert = placement.hold_fn(rank());
  return attach(moe::build_model(config, weights, options), placement);
}

std::shared_ptr<Model> Replica::attach(std::shared_ptr<Model> model,
                                       const ExpertPlacement& placement) {
  // Every rank must have loaded the same shape of model (same checkpoint).
  const io::ModelConfig& c = model->config();
  const std::array<int64_t, 5> mine{c.num_layers, model->num_moe_layers(), c.num_experts, c.top_k,
                                    c.hidden_size};
  std::vector<std::array<int64_t, 5>> all(static_cast<size_t>(size()));
  comm_->allgather(mine.data(), all.data(), sizeof(mine));
  for (int r = 0; r < size(); ++r)
    if (all[size_t(r)] != all[0])
      throw input_error(
          options_.where,
          "expected every rank of the replica to load the same model, found rank {} with "
          "(layers, MoE layers, experts, top-k, hidden) = ({}), rank 0 with ({})",
          r, fmt::join(all[size_t(r)], ", "), fmt::join(all[0], ", "));
  std::shared_ptr<Communicator> data = comm_;
  if (model->backend().device() == Device::CUDA)
    data = make_nccl_communicator(*comm_, /*cuda_device=*/-1);
  auto d =
      std::make_shared<Dispatcher>(comm_, std::move(data), placement, *model, options_.transport);
  model->set_expert_runner(d);
  if (rank() == 0)
    spdlog::debug("replica {}: {} ranks, expert-parallel transport {}", index_, size(),
                  transport_name(d->transport()));
  std::erase_if(installed_, [](const Installed& i) { return i.model.expired(); });
  installed_.push_back(Installed{model, model.get(), d});
  return model;
}

void Replica::cancel() {
  if (running_) running_->request_cancel();
}

bool Replica::cancelled() const {
  return running_ && running_->cancel_requested();
}

Dispatcher* Replica::dispatcher(const Model& model) const {
  for (const Installed& i : installed_)
    if (i.key == &model && !i.model.expired()) return i.dispatcher.get();
  return nullptr;
}

void Replica::run(Model& model, const std::function<void()>& fn) {
  if (size() == 1) {
    fn();
    return;
  }
  Dispatcher* d = dispatcher(model);
  MOE_ASSERT(d, "Replica::run with a model this replica did not load");
  d->clear_cancel();  // no exchange is under way between runs
  running_ = d;
  struct NotRunning {
    Dispatcher*& running;
    ~NotRunning() { running = nullptr; }
  } not_running{running_};
  enum : int32_t { kOk = 0, kFailed = 1, kInputError = 2 };
  int32_t state = kOk;
  std::exception_ptr error;
  std::string where, problem;
  try {
    fn();
  } catch (const InputError& e) {
    error = std::current_exception();
    state = kInputError;
    where = e.where();
    problem = e.problem();
  } catch (const std::exception& e) {
    error = std::current_exception();
    state = kFailed;
    problem = e.what();
  }
  d->serve_until_all_idle();

  // Every rank learns whether (and how) any rank failed.
  std::vector<int32_t> states(static_cast<size_t>(size()));
  comm_->allgather(&state, states.data(), sizeof(state));
  int failed = -1;
  for (int r = 0; r < size() && failed < 0; ++r)
    if (states[size_t(r)] != kOk) failed = r;
  if (failed < 0) return;
  std::array<int64_t, 2> len{int64_t(where.size()), int64_t(problem.size())};
  comm_->broadcast(len.data(), sizeof(len), failed);
  where.resize(size_t(len[0]));
  problem.resize(size_t(len[1]));
  comm_->broadcast(where.data(), where.size(), failed);
  comm_->broadcast(problem.data(), problem.size(), failed);
  if (error) std::rethrow_exception(error);
  if (states[size_t(failed)] == kInputError) throw InputError(where, problem);
  throw ReplicaError(failed, problem);
}

}  // namespace moe::ep
