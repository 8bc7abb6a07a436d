#include "thread_pool.h"

#include <algorithm>

namespace p3d {

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
  stopping_ = false;
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { workerLoop(); });
  threads_ = n + 1;
}

void ThreadPool::stopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// Tasks are handed out one index at a time; which thread takes which index does not matter (see header).
void ThreadPool::runTasks() {
  for (;;) {
    int task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (nextTask_ >= jobCount_) return;
      task = nextTask_++;
    }
    (*job_)(task);
  }
}

void ThreadPool::workerLoop() {
  unsigned long long seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    runTasks();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pendingWorkers_ == 0) done_.notify_all();
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    jobCount_ = count;
    nextTask_ = 0;
    pendingWorkers_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  runTasks();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pendingWorkers_ == 0; });
  job_ = nullptr;
}

}  // namespace p3d
