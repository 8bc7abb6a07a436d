#include "thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define P3D_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define P3D_CPU_RELAX() asm volatile("yield")
#else
#define P3D_CPU_RELAX() ((void)0)
#endif

namespace p3d {

namespace {
// How long an idle thread polls before it sleeps. Long enough to bridge the gaps between the passes of one
// kernel and between the kernels of one tracker iteration (a few to a few hundred microseconds), short enough
// that an idle pool costs nothing measurable.
constexpr auto kSpinMicros = std::chrono::microseconds(300);
// The first part of the window polls with pause instructions only; after it each poll also yields the core, so
// that a thread we wait for which has no core of its own (more threads than cores, or a busy machine) gets one.
constexpr auto kPauseOnlyMicros = std::chrono::microseconds(5);
// jobState_ layout (see thread_pool.h): the low bits count the workers inside the call, one bit marks it closed.
constexpr int kStateShift = 16;
constexpr unsigned long long kClosed = 1ull << 15;
constexpr unsigned long long kInsideMask = kClosed - 1;

// Polls `ready` until it returns true or the window passes (at once when `spin` is false); returns the last
// result.
template <class Ready>
bool spinUntil(bool spin, Ready ready) {
  if (!spin) return ready();
  const auto start = std::chrono::steady_clock::now();
  const auto pauseUntil = start + kPauseOnlyMicros, deadline = start + kSpinMicros;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (ready()) return true;
      P3D_CPU_RELAX();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return ready();
    if (now >= pauseUntil) std::this_thread::yield();
  }
}
}  // namespace

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::ThreadPool() { startWorkers(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1); }

ThreadPool::~ThreadPool() { stopWorkers(); }

void ThreadPool::setThreadCount(int n) {
  std::lock_guard<std::mutex> call(callMutex_);
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n == static_cast<int>(workers_.size()) + 1) return;
  stopWorkers();
  startWorkers(n - 1);
}

void ThreadPool::startWorkers(int n) {
  stopping_.store(false);
  // Spinning only pays while every thread can have a core of its own.
  spin_ = n + 1 <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // A new worker has seen every generation so far: only a later parallelFor is work for it.
  const unsigned long long current = generation_.load();
  ranges_.reset(new HomeRange[n + 1]);
  rangeCount_ = n + 1;
  for (int i = 0; i < n; ++i) workers_.emplace_back([this, current, i] { workerLoop(current, i + 1); });
  threads_ = n + 1;
}

void ThreadPool::stopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// Tasks are handed out one index at a time, from the thread's home range first, then from the following ranges
// in turn; which thread takes which index does not matter for the results (see header).
void ThreadPool::runTasks(int home) {
  for (int k = 0; k < rangeCount_; ++k) {
    HomeRange& r = ranges_[(home + k) % rangeCount_];
    for (;;) {
      const int task = r.next.fetch_add(1, std::memory_order_relaxed);
      if (task >= r.end) break;
      (*job_)(task);
    }
  }
}

void ThreadPool::workerLoop(unsigned long long seen, int home) {
  for (;;) {
    auto fresh = [&] { return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    if (!spinUntil(spin_, fresh)) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleepingWorkers_;
      wake_.wait(lock, fresh);
      --sleepingWorkers_;
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    // Join the call of generation `seen` unless it is over (closed, or a later one already published): a worker
    // that woke late skips it and waits for the next.
    unsigned long long state = jobState_.load(std::memory_order_acquire);
    bool joined = false;
    while ((state >> kStateShift) == (seen & (~0ull >> kStateShift)) && !(state & kClosed)) {
      if (jobState_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    runTasks(home);
    if ((jobState_.fetch_sub(1, std::memory_order_acq_rel) & kInsideMask) == 1) {
      // Last worker out: wake the caller if it gave up spinning. Taking the mutex orders this check after the
      // caller's own check of the count, so the wake-up cannot be lost.
      std::lock_guard<std::mutex> lock(mutex_);
      if (callerSleeping_) done_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int count, const std::function<void(int)>& fn) {
  if (count <= 0) return;
  std::lock_guard<std::mutex> call(callMutex_);
  if (workers_.empty() || count == 1) {
    for (int i = 0; i < count; ++i) fn(i);
    return;
  }
  job_ = &fn;
  for (int j = 0; j < rangeCount_; ++j) {
    ranges_[j].next.store(static_cast<int>(static_cast<long long>(count) * j / rangeCount_), std::memory_order_relaxed);
    ranges_[j].end = static_cast<int>(static_cast<long long>(count) * (j + 1) / rangeCount_);
  }
  const unsigned long long generation = generation_.load(std::memory_order_relaxed) + 1;
  jobState_.store((generation & (~0ull >> kStateShift)) << kStateShift, std::memory_order_release);  // open, empty
  {
    // Publishing the generation under the mutex pairs with a worker's predicate check before it sleeps.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.store(generation, std::memory_order_release);
    if (sleepingWorkers_ > 0) wake_.notify_all();
  }
  runTasks(0);
  // Every task is taken: wait for the workers inside the call to finish theirs, then close it (a worker still
  // on its way in finds it closed and leaves it alone).
  auto empty = [&] { return (jobState_.load(std::memory_order_acquire) & kInsideMask) == 0; };
  for (;;) {
    unsigned long long state = jobState_.load(std::memory_order_acquire);
    if ((state & kInsideMask) == 0) {
      if (jobState_.compare_exchange_weak(state, state | kClosed, std::memory_order_acq_rel, std::memory_order_acquire)) break;
      continue;
    }
    if (!spinUntil(spin_, empty)) {
      std::unique_lock<std::mutex> lock(mutex_);
      callerSleeping_ = true;
      done_.wait(lock, empty);
      callerSleeping_ = false;
    }
  }
  job_ = nullptr;
}

}  // namespace p3d
