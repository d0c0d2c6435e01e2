// SPDX-License-Identifier: GPL-2.0-or-later
#include "spool/dir_syncer.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kensa::spool {

void DirSyncer::SyncAfter(uint64_t created_epoch, Done done) {
  if (running_ && started_ > created_epoch) {
    on_running_.push_back(std::move(done));
    return;
  }
  on_next_.push_back(std::move(done));
  if (!running_) StartRound();
}

void DirSyncer::StartRound() {
  running_ = true;
  ++started_;
  on_running_.swap(on_next_);
  on_next_.clear();
  reactor_->Fsync(dir_fd_, false, [this](int res) {
    running_ = false;
    absl::Status s = res < 0 ? absl::InternalError(absl::StrCat("fsync of spool directory: ",
                                                                std::strerror(-res)))
                             : absl::OkStatus();
    std::vector<Done> done;
    done.swap(on_running_);
    if (!on_next_.empty()) StartRound();
    for (Done& d : done) d(s);
  });
}

}  // namespace kensa::spool
